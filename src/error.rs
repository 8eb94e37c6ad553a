//! One error type for the whole API, rendered as RFC 9457 `application/problem+json`.
//!
//! Every problem carries a stable snake_case `code` (part of the contract), a message in
//! English or Italian (chosen per request from `Accept-Language`), the request id, and for
//! validation failures the list of every violated rule.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

/// The language of the messages of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    It,
}

impl Lang {
    /// The first language of an `Accept-Language` header that we speak, by quality order.
    pub fn from_accept_language(value: Option<&str>) -> Lang {
        let Some(value) = value else { return Lang::En };
        let mut best: Option<(f32, Lang)> = None;
        for part in value.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = if tag == "it" || tag.starts_with("it-") {
                Some(Lang::It)
            } else if tag == "en" || tag.starts_with("en-") || tag == "*" {
                Some(Lang::En)
            } else {
                None
            };
            if let Some(lang) = lang
                && q > 0.0
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::En)
    }
}

/// What the error renderer needs to know about the request it answers.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub lang: Lang,
    pub request_id: Option<String>,
}

tokio::task_local! {
    /// Set by the request-context middleware around every request.
    pub static REQUEST_CONTEXT: RequestContext;
}

pub fn current_context() -> RequestContext {
    REQUEST_CONTEXT.try_with(|c| c.clone()).unwrap_or_default()
}

/// The id of the request being served, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_CONTEXT
        .try_with(|c| c.request_id.clone())
        .ok()
        .flatten()
}

pub use crate::domain::error_code::{Coded, ErrorCode};
pub use crate::domain::violation::{Msg, Violation};

impl Msg {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::It => &self.it,
        }
    }
}

/// The title of a problem: one per HTTP status.
pub fn title(status: StatusCode, lang: Lang) -> &'static str {
    let (en, it) = match status {
        StatusCode::BAD_REQUEST => ("Bad request", "Richiesta non valida"),
        StatusCode::UNPROCESSABLE_ENTITY => ("Validation failed", "Validazione non superata"),
        StatusCode::UNAUTHORIZED => ("Unauthorized", "Non autenticato"),
        StatusCode::FORBIDDEN => ("Forbidden", "Operazione non consentita"),
        StatusCode::NOT_FOUND => ("Not found", "Non trovato"),
        StatusCode::METHOD_NOT_ALLOWED => ("Method not allowed", "Metodo non consentito"),
        StatusCode::CONFLICT => ("Conflict", "Conflitto"),
        StatusCode::PRECONDITION_FAILED => ("Precondition failed", "Precondizione non soddisfatta"),
        StatusCode::PRECONDITION_REQUIRED => ("Precondition required", "Precondizione richiesta"),
        StatusCode::PAYLOAD_TOO_LARGE => ("Payload too large", "Richiesta troppo grande"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("Unsupported media type", "Tipo di contenuto non supportato")
        }
        StatusCode::TOO_MANY_REQUESTS => ("Too many requests", "Troppe richieste"),
        StatusCode::SERVICE_UNAVAILABLE => ("Service unavailable", "Servizio non disponibile"),
        _ => ("Internal server error", "Errore interno"),
    };
    match lang {
        Lang::En => en,
        Lang::It => it,
    }
}

/// Every error an API call can answer with.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the request cannot be read (malformed JSON, unknown field, bad parameter).
    BadRequest {
        code: ErrorCode,
        message: Msg,
        violations: Vec<Violation>,
    },
    /// 422: the request was read but breaks one or more rules; every violation is listed.
    Validation(Vec<Violation>),
    /// 401: no token, or a token that is invalid, expired or no longer honoured.
    Unauthorized { code: ErrorCode, message: Msg },
    /// 403: the caller's role may never do this.
    Forbidden { code: ErrorCode, message: Msg },
    /// 404: nothing the caller may see is there.
    NotFound { code: ErrorCode, message: Msg },
    /// 405: the path exists but does not take this method; `allow` lists those it takes.
    MethodNotAllowed { allow: Vec<&'static str> },
    /// 409: the request conflicts with the state of the resource.
    Conflict { code: ErrorCode, message: Msg },
    /// 412: `If-Match` names a version that is no longer current.
    PreconditionFailed,
    /// 428: `If-Match` is required and missing.
    PreconditionRequired,
    /// 413: the body is larger than the configured limit.
    PayloadTooLarge { limit: usize },
    /// 415: the body is not in a media type the operation reads.
    UnsupportedMediaType { expected: &'static str },
    /// 413, 415 or 416 about a file (too large, of a type not kept, a range outside it): the
    /// status is its code's.
    File { code: ErrorCode, message: Msg },
    /// 429: this client address made too many such requests; try again after `retry_after`
    /// seconds.
    TooManyRequests { retry_after: u32 },
    /// 429: too many wrong passwords for this account (from any address); even the right one
    /// waits `retry_after` seconds.
    AccountRateLimited { retry_after: u32 },
    /// 503: a dependency (the database) is unavailable; try again after `retry_after` seconds.
    Unavailable {
        code: ErrorCode,
        message: Msg,
        retry_after: u32,
    },
    /// 500: a bug or an infrastructure failure; the cause is logged, never shown.
    Internal(anyhow::Error),
}

impl ApiError {
    /// A 400 whose violations say what could not be read.
    pub fn bad_request(coded: impl Into<Coded>, violations: Vec<Violation>) -> ApiError {
        match ApiError::from(coded.into()) {
            ApiError::BadRequest { code, message, .. } => ApiError::BadRequest {
                code,
                message,
                violations,
            },
            other => other,
        }
    }

    /// A single violation as a 422.
    pub fn invalid(field: impl Into<String>, coded: impl Into<Coded>) -> ApiError {
        ApiError::Validation(vec![Violation::new(field, coded)])
    }

    /// Turn a list of violations into `Ok(())` when empty, a 422 otherwise.
    pub fn check(violations: Vec<Violation>) -> Result<(), ApiError> {
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(violations))
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Unauthorized { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::NotFound { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::File { code, .. }
            | ApiError::Unavailable { code, .. } => *code,
            ApiError::Validation(_) => ErrorCode::ValidationFailed,
            ApiError::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
            ApiError::PreconditionFailed => ErrorCode::PreconditionFailed,
            ApiError::PreconditionRequired => ErrorCode::PreconditionRequired,
            ApiError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ApiError::UnsupportedMediaType { .. } => ErrorCode::UnsupportedMediaType,
            ApiError::TooManyRequests { .. } => ErrorCode::RateLimited,
            ApiError::AccountRateLimited { .. } => ErrorCode::AccountRateLimited,
            ApiError::Internal(_) => ErrorCode::InternalError,
        }
    }

    fn title(&self, lang: Lang) -> &'static str {
        title(self.status_code(), lang)
    }

    fn detail(&self, lang: Lang) -> Cow<'static, str> {
        let message = match self {
            ApiError::BadRequest { message, .. }
            | ApiError::Unauthorized { message, .. }
            | ApiError::Forbidden { message, .. }
            | ApiError::NotFound { message, .. }
            | ApiError::Conflict { message, .. }
            | ApiError::File { message, .. }
            | ApiError::Unavailable { message, .. } => {
                return Cow::Owned(message.get(lang).to_owned());
            }
            ApiError::Validation(v) => ErrorCode::ValidationFailed.with(&[("count", &v.len())]),
            ApiError::TooManyRequests { retry_after }
            | ApiError::AccountRateLimited { retry_after } => {
                self.code().with(&[("retry_after", retry_after)])
            }
            ApiError::MethodNotAllowed { allow } => {
                ErrorCode::MethodNotAllowed.with(&[("allow", &allow.join(", "))])
            }
            ApiError::PayloadTooLarge { limit } => {
                ErrorCode::PayloadTooLarge.with(&[("limit", limit)])
            }
            ApiError::UnsupportedMediaType { expected } => {
                ErrorCode::UnsupportedMediaType.with(&[("expected", expected)])
            }
            ApiError::PreconditionFailed
            | ApiError::PreconditionRequired
            | ApiError::Internal(_) => Coded::from(self.code()),
        };
        match lang {
            Lang::En => message.message.en,
            Lang::It => message.message.it,
        }
    }

    fn violations(&self) -> &[Violation] {
        match self {
            ApiError::Validation(v) => v,
            ApiError::BadRequest { violations, .. } => violations,
            _ => &[],
        }
    }

    /// Render the problem document in a language.
    pub fn problem(&self, ctx: &RequestContext) -> Problem {
        let lang = ctx.lang;
        let violations = self.violations();
        Problem {
            problem_type: format!("urn:welfare-grants:problem:{}", self.code()),
            title: self.title(lang).to_owned(),
            status: self.status_code().as_u16(),
            detail: self.detail(lang).into_owned(),
            code: self.code().as_str().to_owned(),
            request_id: ctx.request_id.clone(),
            violations: (!violations.is_empty()).then(|| {
                violations
                    .iter()
                    .map(|v| ProblemViolation {
                        field: v.field.clone(),
                        code: v.code.as_str().to_owned(),
                        message: v.message.get(lang).to_owned(),
                    })
                    .collect()
            }),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Internal(e) => write!(f, "internal error: {e:#}"),
            other => write!(f, "{}: {}", other.code(), other.detail(Lang::En)),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::File { code, .. } => {
                StatusCode::from_u16(code.status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ApiError::TooManyRequests { .. } | ApiError::AccountRateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let ctx = current_context();
        if let ApiError::Internal(e) = self {
            tracing::error!(error.cause_chain = ?e, request_id = ?ctx.request_id, "internal error");
        }
        let mut builder = HttpResponse::build(self.status_code());
        builder.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        builder.insert_header((
            header::CONTENT_LANGUAGE,
            if ctx.lang == Lang::It { "it" } else { "en" },
        ));
        if let ApiError::Unavailable { retry_after, .. }
        | ApiError::TooManyRequests { retry_after }
        | ApiError::AccountRateLimited { retry_after } = self
        {
            builder.insert_header((header::RETRY_AFTER, HeaderValue::from(*retry_after)));
        }
        if let ApiError::MethodNotAllowed { allow } = self {
            builder.insert_header((header::ALLOW, allow.join(", ")));
        }
        if let ApiError::Unauthorized { .. } = self {
            builder.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        builder.body(serde_json::to_vec(&self.problem(&ctx)).unwrap_or_default())
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> ApiError {
        if crate::store::is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            crate::store::suspect_idle_connections();
            return ApiError::Unavailable {
                code: ErrorCode::DatabaseUnavailable,
                message: ErrorCode::DatabaseUnavailable.message(),
                retry_after: 5,
            };
        }
        ApiError::Internal(err.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> ApiError {
        ApiError::Internal(err)
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:welfare-grants:problem:validation_failed",
    "title": "Validation failed",
    "status": 422,
    "detail": "The request breaks 1 rule(s); see violations.",
    "code": "validation_failed",
    "request_id": "5f0c8a1e-7d3b-4c55-9d8e-3b2f4a6c1d20",
    "violations": [{"field": "closes_at", "code": "window_close_not_after_open", "message": "The window must close after it opens."}]
}))]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:welfare-grants:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable snake_case code; it never changes between releases or languages.
    pub code: String,
    /// The id of the request, also in the `X-Request-Id` header and in the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Every broken rule, for validation problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violations: Option<Vec<ProblemViolation>>,
}

/// One broken rule of a request.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({"field": "closes_at", "code": "window_close_not_after_open", "message": "The window must close after it opens."}))]
pub struct ProblemViolation {
    /// Path of the field, e.g. `rules.scoring.criteria[2].max`.
    pub field: String,
    /// Stable snake_case code of the rule.
    pub code: String,
    pub message: String,
}

/// A review step refused by the rules: 403 when the caller may not take it, 409 when the
/// application is not in a state that allows it.
impl From<crate::domain::review::Refusal> for ApiError {
    fn from(r: crate::domain::review::Refusal) -> ApiError {
        ApiError::from(Coded {
            code: r.code,
            message: r.message,
        })
    }
}

/// A post-award step refused: the step itself (403 or 409), or every rule the request broke
/// (422).
impl From<crate::domain::award::Refused> for ApiError {
    fn from(r: crate::domain::award::Refused) -> ApiError {
        match r {
            crate::domain::award::Refused::Step(r) => ApiError::from(r),
            crate::domain::award::Refused::Invalid(v) => ApiError::Validation(v),
        }
    }
}

/// A problem with the status of its code in the catalogue.
impl From<Coded> for ApiError {
    fn from(Coded { code, message }: Coded) -> ApiError {
        match code.status() {
            400 => ApiError::BadRequest {
                code,
                message,
                violations: vec![],
            },
            401 => ApiError::Unauthorized { code, message },
            403 => ApiError::Forbidden { code, message },
            404 => ApiError::NotFound { code, message },
            409 => ApiError::Conflict { code, message },
            413 | 415 | 416 => ApiError::File { code, message },
            503 => ApiError::Unavailable {
                code,
                message,
                retry_after: 5,
            },
            status => ApiError::Internal(anyhow::anyhow!(
                "{code} ({status}) is not a problem raised on its own"
            )),
        }
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> ApiError {
        ApiError::from(Coded::from(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A problem is answered with the status its code has in the catalogue, whichever way it
    /// is built: from a code, or as one of the problems of their own.
    #[test]
    fn every_problem_has_the_status_of_its_code() {
        for code in ErrorCode::ALL {
            if code.placeholders().is_empty()
                && matches!(code.status(), 400 | 401 | 403 | 404 | 409 | 503)
            {
                let e = ApiError::from(*code);
                assert_eq!(e.code(), *code);
                assert_eq!(e.status_code().as_u16(), code.status(), "{code}");
            }
        }
        let own = [
            ApiError::Validation(vec![]),
            ApiError::MethodNotAllowed { allow: vec!["GET"] },
            ApiError::PreconditionFailed,
            ApiError::PreconditionRequired,
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::UnsupportedMediaType {
                expected: "application/json",
            },
            ApiError::TooManyRequests { retry_after: 1 },
            ApiError::AccountRateLimited { retry_after: 1 },
            ApiError::Internal(anyhow::anyhow!("x")),
        ];
        for e in own {
            assert_eq!(e.status_code().as_u16(), e.code().status(), "{}", e.code());
        }
    }

    /// A code that is not a problem of its own (a rule of a body) cannot be raised alone.
    #[test]
    fn a_rule_alone_is_an_internal_error() {
        let e = ApiError::from(ErrorCode::WindowCloseNotAfterOpen);
        assert_eq!(e.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_bad_request_lists_its_violations_under_a_code_of_400() {
        let v = vec![Violation::new("x", ErrorCode::InvalidCode)];
        let e = ApiError::bad_request(ErrorCode::InvalidBody, v.clone());
        assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
        assert_eq!(e.violations(), v.as_slice());
        let e = ApiError::bad_request(ErrorCode::CallNotFound, v);
        assert_eq!(e.status_code(), StatusCode::NOT_FOUND);
    }
}
