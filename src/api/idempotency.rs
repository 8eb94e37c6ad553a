//! `Idempotency-Key` for every state-changing POST: a repeat with the same key and body
//! answers the first result again (with `Idempotent-Replayed: true`), the same key with
//! another body is 422, a repeat while the first still runs is 409. Keys belong to the
//! authenticated user; failures of the service itself (5xx) release the key.
//!
//! A file upload (`multipart/form-data`) is not buffered here: its body may be 20 MiB. Its key
//! is claimed by the operation once it has streamed the file ([`claim_deferred`]), with a
//! fingerprint of the form's metadata and of the file's SHA-256 instead of the body's hash.

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::auth::TokenKind;
use crate::auth::extractor::bearer;
use crate::auth::jwt::Subject;
use crate::domain::ErrorCode;
use crate::error::ApiError;
use crate::service::idempotency::{self as service, Answer, Claimed};
use crate::state::AppState;

/// What is kept of a first answer to replay it.
#[derive(Serialize, Deserialize)]
struct Stored {
    content_type: Option<String>,
    etag: Option<String>,
    location: Option<String>,
    body: String,
}

/// The key a request runs under. An operation that can record its answer in the same
/// transaction as its change takes it from the request ([`Claim::of`]), records
/// [`Claim::answer`] before committing, and marks its response [`Recorded`]: then no failure
/// after the commit can leave a committed change without its answer.
#[derive(Debug, Clone)]
pub struct Claim {
    pub user_id: Uuid,
    pub key: String,
}

/// Marks a response whose answer was recorded with its change.
#[derive(Debug, Clone, Copy)]
pub struct Recorded;

impl Claim {
    /// The key of this request, when it carries a valid one.
    pub fn of(req: &actix_web::HttpRequest) -> Option<Claim> {
        req.extensions().get::<Claim>().cloned()
    }

    /// What is kept of a JSON answer to replay it, exactly as the middleware keeps it.
    pub fn answer(&self, status: StatusCode, body: &serde_json::Value) -> Answer {
        self.answer_with(status, body, None, None)
    }

    /// [`Claim::answer`] of an answer with `Location` and `ETag`.
    pub fn answer_with(
        &self,
        status: StatusCode,
        body: &serde_json::Value,
        location: Option<&str>,
        etag: Option<&str>,
    ) -> Answer {
        let stored = Stored {
            content_type: Some("application/json".to_owned()),
            etag: etag.map(str::to_owned),
            location: location.map(str::to_owned),
            body: body.to_string(),
        };
        Answer {
            user_id: self.user_id,
            key: self.key.clone(),
            status: status.as_u16(),
            stored: serde_json::to_string(&stored).unwrap_or_default(),
        }
    }
}

/// The key of an upload, which the middleware leaves to the operation to claim.
#[derive(Debug, Clone)]
struct Deferred {
    user_id: Uuid,
    key: String,
    scope: String,
}

/// What became of an upload's key.
pub enum Deferral {
    /// Run the operation; with a key, record its answer under `Claim`.
    Run(Option<Claim>),
    /// Answer this instead: the first answer again, or 409 while the first still runs.
    Answered(HttpResponse),
}

/// Claim the key of an upload, if it carries one, once its `fingerprint` is known (the form's
/// metadata and the file's SHA-256): a repeat of the same upload answers the first result, the
/// same key with another upload is refused (422).
pub async fn claim_deferred(
    req: &actix_web::HttpRequest,
    state: &AppState,
    fingerprint: &str,
) -> Result<Deferral, ApiError> {
    let Some(d) = req.extensions().get::<Deferred>().cloned() else {
        return Ok(Deferral::Run(None));
    };
    match service::begin(
        &state.db,
        d.user_id,
        &d.key,
        &d.scope,
        fingerprint,
        state.now(),
    )
    .await?
    {
        Claimed::Replay { status, body } => Ok(Deferral::Answered(replay(status, &body))),
        Claimed::InProgress { retry_after_secs } => {
            Ok(Deferral::Answered(in_progress(retry_after_secs)))
        }
        Claimed::Fresh => {
            let claim = Claim {
                user_id: d.user_id,
                key: d.key,
            };
            req.extensions_mut().insert(claim.clone());
            Ok(Deferral::Run(Some(claim)))
        }
    }
}

/// The user a bearer token speaks for, when it is valid.
async fn user_of(state: &AppState, token: &str) -> Option<Uuid> {
    match state.keys.verify(token, TokenKind::Access).ok()? {
        Subject::Local { user_id, .. } => Some(user_id),
        Subject::External { username } => service::user_named(&state.db, &username).await.ok()?,
    }
}

fn replay(status: u16, stored: &str) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    res.insert_header(("Idempotent-Replayed", "true"));
    match serde_json::from_str::<Stored>(stored) {
        Ok(s) => {
            for (name, value) in [
                (header::CONTENT_TYPE, s.content_type),
                (header::ETAG, s.etag),
                (header::LOCATION, s.location),
            ] {
                if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                    res.insert_header((name, v));
                }
            }
            res.body(s.body)
        }
        Err(_) => res.body(stored.to_owned()),
    }
}

/// 409 for a key whose first request still runs, with `Retry-After`: the seconds until that
/// request's lease ends, when a repeat runs (or replays its answer, if it finished meanwhile).
fn in_progress(retry_after_secs: u32) -> HttpResponse {
    let mut res = ApiError::from(ErrorCode::IdempotencyInProgress).error_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    res
}

/// The middleware.
pub async fn layer(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = req.headers().get("idempotency-key").cloned();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let token = bearer(req.request());
    let (Some(key), Some(state), Some(token), true) =
        (key, state, token, req.method() == Method::POST)
    else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let Some(user_id) = user_of(&state, &token).await else {
        // An invalid token: the operation itself answers 401.
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let key = match key
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
    {
        Some(k) => k.to_owned(),
        None => {
            let e = ApiError::from(ErrorCode::InvalidIdempotencyKey);
            return Ok(req.into_response(e.error_response()));
        }
    };
    let scope = format!("{} {}", req.method(), req.path());
    if crate::api::deadline::is_multipart(req.headers()) {
        req.extensions_mut().insert(Deferred {
            user_id,
            key: key.clone(),
            scope,
        });
        let res = next.call(req).await?;
        // Claimed by the operation (or never, when it refused the upload before).
        if res.request().extensions().get::<Claim>().is_none() {
            return Ok(res.map_into_boxed_body());
        }
        return settle(res, &state, user_id, &key).await;
    }
    let body: Bytes = req.extract::<Bytes>().await?;
    req.set_payload(actix_web::dev::Payload::from(body.clone()));
    let hash = hex::encode(Sha256::digest(&body));
    match service::begin(&state.db, user_id, &key, &scope, &hash, state.now()).await {
        Err(e) => return Ok(req.into_response(e.error_response())),
        Ok(Claimed::Replay { status, body }) => {
            return Ok(req.into_response(replay(status, &body)));
        }
        Ok(Claimed::InProgress { retry_after_secs }) => {
            return Ok(req.into_response(in_progress(retry_after_secs)));
        }
        Ok(Claimed::Fresh) => {}
    }
    req.extensions_mut().insert(Claim {
        user_id,
        key: key.clone(),
    });
    let res = next.call(req).await?;
    settle(res, &state, user_id, &key).await
}

/// Record the answer of a request that ran under a key (unless the operation recorded it with
/// its change), or release the key when the service failed.
async fn settle(
    res: ServiceResponse<impl MessageBody + 'static>,
    state: &AppState,
    user_id: Uuid,
    key: &str,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if res.response().extensions().get::<Recorded>().is_some() {
        return Ok(res.map_into_boxed_body());
    }
    let status = res.status();
    if status.is_server_error() {
        service::abandon(&state.db, user_id, key).await.ok();
        return Ok(res.map_into_boxed_body());
    }
    let header_of = |res: &ServiceResponse<_>, name: header::HeaderName| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header_of(&res, header::CONTENT_TYPE);
    let etag = header_of(&res, header::ETAG);
    let location = header_of(&res, header::LOCATION);
    let (request, response) = res.into_parts();
    let (head, body) = response.into_parts();
    let bytes = to_bytes(body)
        .await
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("cannot read the response body")))?;
    let stored = Stored {
        content_type,
        etag,
        location,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    let serialized = serde_json::to_string(&stored).unwrap_or_default();
    if let Err(e) = service::finish(&state.db, user_id, key, status.as_u16(), &serialized).await {
        tracing::warn!(error = %e, "cannot record an idempotent answer");
    }
    let response = head.set_body(BoxBody::new(bytes));
    Ok(ServiceResponse::new(request, response))
}
