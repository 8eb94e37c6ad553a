//! The headers every answer carries, put on by the outermost layer of the application so that
//! no answer it gives goes without them: the handlers' and the middleware's, those that travel
//! as errors (a request abandoned at its deadline), and the refusals of the CORS middleware,
//! which this layer also turns into problem+json.
//!
//! - `X-Request-Id`, `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
//!   `Referrer-Policy: no-referrer`;
//! - `Content-Security-Policy`: for Swagger UI (`/docs/`) its own scripts and styles, inline
//!   styles (it sets `style` attributes) and `data:` images (its icons); for everything else,
//!   which is data and never a page, nothing at all (`default-src 'none'`);
//! - `Strict-Transport-Security` when `server.hsts_max_age_secs` is set (behind TLS only).
//!
//! What the framework answers before any layer runs is out of reach: actix-http's HTTP/1
//! dispatcher writes these itself while parsing the request head, before the application (and
//! so any middleware) is called, and offers no hook to change them:
//! - `431 Request Header Fields Too Large`: a head over 128 KiB, or more than 96 headers;
//! - `400 Bad Request`: a request line or header that does not parse, an HTTP/1.1 request
//!   without `Host`;
//! - `408 Request Timeout`: a head not complete within the client request timeout (5 s).
//!
//! Each is the status line with `content-length: 0`, `connection: close` and `date`, no body and
//! none of the headers above; the connection is closed. In production the proxy in front
//! (`deploy/nginx.conf`) meets such requests first and answers them with its own pages.

use actix_cors::CorsError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use tracing_actix_web::RequestId;

use crate::domain::ErrorCode;
use crate::error::{ApiError, Lang, REQUEST_CONTEXT, RequestContext};
use crate::state::AppState;

/// Swagger UI: its own files, inline styles, `data:` images, and calls to this service only.
pub const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Every other answer is data, never a page to render.
pub const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// The headers of one answer, decided from its request.
#[derive(Clone)]
struct Headers {
    request_id: Option<HeaderValue>,
    policy: &'static str,
    hsts: Option<HeaderValue>,
}

impl Headers {
    fn apply(&self, headers: &mut HeaderMap) {
        if let Some(id) = &self.request_id {
            headers.insert(HeaderName::from_static("x-request-id"), id.clone());
        }
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(self.policy),
            );
        }
        if let Some(hsts) = &self.hsts {
            headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
    }
}

/// The problem that stands for a refusal of the CORS middleware.
fn cors_problem(err: &CorsError) -> ApiError {
    match err {
        CorsError::OriginNotAllowed => ApiError::from(ErrorCode::CorsOriginNotAllowed),
        CorsError::MethodNotAllowed => ApiError::from(ErrorCode::CorsMethodNotAllowed),
        CorsError::HeadersNotAllowed => ApiError::from(ErrorCode::CorsHeadersNotAllowed),
        other => ApiError::from(ErrorCode::CorsRequestInvalid.with(&[("reason", &other)])),
    }
}

/// The layer (outside the CORS middleware, inside the request span that names the request).
pub async fn layer(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = req.extensions().get::<RequestId>().map(|id| id.to_string());
    let ctx = RequestContext {
        lang: Lang::from_accept_language(
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        ),
        request_id: request_id.clone(),
    };
    let hsts_secs = req
        .app_data::<web::Data<AppState>>()
        .map_or(0, |s| s.settings.server.hsts_max_age_secs);
    let headers = Headers {
        request_id: request_id.and_then(|id| HeaderValue::from_str(&id).ok()),
        policy: if req.path().starts_with("/docs/") {
            DOCS_POLICY
        } else {
            API_POLICY
        },
        hsts: (hsts_secs > 0)
            .then(|| HeaderValue::from_str(&format!("max-age={hsts_secs}")).ok())
            .flatten(),
    };
    match next.call(req).await {
        Ok(res) => {
            let cors = res
                .response()
                .error()
                .and_then(|e| e.as_error::<CorsError>())
                .map(cors_problem);
            let mut res = match cors {
                Some(problem) => {
                    let (req, refused) = res.into_parts();
                    let mut answer = REQUEST_CONTEXT.sync_scope(ctx, || problem.error_response());
                    // Keep what the CORS middleware said besides its body (e.g. `Vary`).
                    for (name, value) in refused.headers() {
                        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                            answer.headers_mut().insert(name.clone(), value.clone());
                        }
                    }
                    ServiceResponse::new(req, answer)
                }
                None => res.map_into_boxed_body(),
            };
            headers.apply(res.headers_mut());
            Ok(res)
        }
        // An answer that travels as an error is rendered past this layer: give it the headers
        // when it is.
        Err(mut err) => {
            err.add_response_mapper(move |mut res| {
                headers.apply(res.headers_mut());
                res
            });
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policies_are_valid_header_values() {
        for p in [DOCS_POLICY, API_POLICY] {
            assert!(HeaderValue::from_str(p).is_ok());
        }
        // Swagger UI's index loads scripts from its own files only: no inline script.
        assert!(!DOCS_POLICY.contains("unsafe-eval"));
        assert!(!DOCS_POLICY.contains("script-src 'self' 'unsafe-inline'"));
    }
}
