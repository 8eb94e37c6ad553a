//! Idempotency keys: a repeated state-changing request with the same key and body gets the
//! first answer again; the same key with another request is refused (422); a repeat while the
//! first is still running is told when to retry.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::domain::ErrorCode;
use crate::error::ApiError;
use crate::store::idempotency::{self, Begin};
use crate::store::users;

pub use crate::store::idempotency::Answer;

/// What to do with a request that carries a key.
pub enum Claimed {
    /// The first time: run it, then `finish`.
    Fresh,
    /// Seen and finished: answer this again.
    Replay { status: u16, body: String },
    /// Seen and still running: a retry may run after `retry_after_secs` (at least 1).
    InProgress { retry_after_secs: u32 },
}

/// Claim a key for a request (`scope` is method and path, `request_hash` covers the body).
pub async fn begin(
    db: &DatabaseConnection,
    user_id: Uuid,
    key: &str,
    scope: &str,
    request_hash: &str,
    now: DateTime<Utc>,
) -> Result<Claimed, ApiError> {
    Ok(
        match idempotency::begin(db, user_id, key, scope, request_hash, now).await? {
            Begin::Fresh => Claimed::Fresh,
            Begin::Replay { status, body } => Claimed::Replay { status, body },
            Begin::InProgress { retry_after_secs } => Claimed::InProgress { retry_after_secs },
            Begin::Reused => {
                return Err(ApiError::invalid(
                    "Idempotency-Key",
                    ErrorCode::IdempotencyKeyReused,
                ));
            }
        },
    )
}

/// Record the answer of a finished request.
pub async fn finish(
    db: &DatabaseConnection,
    user_id: Uuid,
    key: &str,
    status: u16,
    body: &str,
) -> Result<(), ApiError> {
    Ok(idempotency::finish(db, user_id, key, status, body).await?)
}

/// Forget a key whose request failed for a transient reason, so that a retry runs again.
pub async fn abandon(db: &DatabaseConnection, user_id: Uuid, key: &str) -> Result<(), ApiError> {
    Ok(idempotency::abandon(db, user_id, key).await?)
}

/// The user of an external identity's username, if it has an account.
pub async fn user_named(db: &DatabaseConnection, username: &str) -> Result<Option<Uuid>, ApiError> {
    Ok(users::get_by_username(db, username).await?.map(|u| u.id))
}
