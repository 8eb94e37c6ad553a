//! A deadline for every request: a request stuck on the database (a connection that froze
//! in the middle of a transaction) answers 503 with `Retry-After` instead of holding its
//! client, its worker and its locks forever. Dropping the handler drops its transaction,
//! which the database rolls back: nothing is half-written.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};

use crate::domain::ErrorCode;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn layer(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // An upload streams its file while it runs: it has a deadline of its own.
    let upload = is_multipart(req.headers());
    let secs = req.app_data::<web::Data<AppState>>().map_or(0, |s| {
        if upload {
            s.settings.server.upload_timeout_secs
        } else {
            s.settings.server.request_timeout_secs
        }
    });
    if secs == 0 {
        return next.call(req).await;
    }
    // No clone of the request may be held while the router runs (it needs it unshared), so
    // the late answer travels as an error carrying its ready-made response.
    let path = req.path().to_owned();
    match tokio::time::timeout(Duration::from_secs(secs), next.call(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(
                path,
                deadline_secs = secs,
                "request abandoned at its deadline"
            );
            let err = ApiError::Unavailable {
                code: ErrorCode::RequestTimeout,
                message: ErrorCode::RequestTimeout.message(),
                retry_after: 5,
            };
            let res = err.error_response();
            Err(actix_web::error::InternalError::from_response("request deadline", res).into())
        }
    }
}

/// Whether a request's body is a `multipart/form-data` form (a file upload).
pub fn is_multipart(headers: &actix_web::http::header::HeaderMap) -> bool {
    headers
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("multipart/form-data")
        })
}
