//! Liveness and database readiness.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Msg};
use crate::service::operations;
use crate::state::AppState;

/// The service is up and its database answers.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ok", "database": "ok", "version": "0.1.0"}))]
pub struct Status {
    pub status: &'static str,
    pub database: &'static str,
    pub version: &'static str,
}

/// Check the service's liveness and readiness.
///
/// 200 when the database answers, 503 problem+json with `Retry-After` when it does not: what load
/// balancers and container health checks probe. Public, and never rate limited.
#[utoipa::path(
    operation_id = "getStatus",
    tag = "operations",
    responses(
        (status = 200, description = "Up, database reachable", body = Status),
        (status = 503, description = "Database unreachable", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/status")]
pub async fn status(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    // The pool's acquire timeout bounds waiting for a connection (and the ping of a pooled
    // one); this bounds the query too, on a connection that stopped answering.
    let limit = state.settings.database.acquire_timeout_ms.max(500);
    let Err(cause) =
        operations::ping_within(&state.db, std::time::Duration::from_millis(limit)).await
    else {
        return Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(Status {
                status: "ok",
                database: "ok",
                version: env!("CARGO_PKG_VERSION"),
            }));
    };
    tracing::warn!(error = %cause, "status: the database does not answer");
    Err(ApiError::Unavailable {
        code: crate::domain::ErrorCode::DatabaseUnavailable,
        message: Msg::new(
            "The service is up but its database does not answer.",
            "Il servizio è attivo ma il database non risponde.",
        ),
        retry_after: 5,
    })
}
