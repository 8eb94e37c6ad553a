//! Every user's inbox: reading it, marking its notices read.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::domain::ErrorCode;
use crate::error::ApiError;
use crate::store::{Page, notifications};

pub use crate::store::notifications::Notice;

fn notification_not_found() -> ApiError {
    ApiError::from(ErrorCode::NotificationNotFound)
}

/// The caller's notices (`unread_only`: those not yet read), newest first, and their number.
pub async fn list(
    db: &DatabaseConnection,
    caller: &AuthUser,
    unread_only: bool,
    page: Page,
) -> Result<(Vec<Notice>, u64), ApiError> {
    Ok(notifications::list(db, caller.id, unread_only, page).await?)
}

/// Mark one of the caller's notices read (idempotent); 404 for a notice not in its inbox.
pub async fn mark_read(
    db: &DatabaseConnection,
    caller: &AuthUser,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if notifications::mark_read(db, caller.id, id, now).await? {
        Ok(())
    } else {
        Err(notification_not_found())
    }
}
