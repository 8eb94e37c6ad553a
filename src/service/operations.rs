//! What the service says of itself and of its reference data: whether the database answers,
//! the figures the metrics read, the eight agencies, the audit log.

use sea_orm::{DatabaseConnection, DbErr};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::store::{self, Page, audit, calls, stats};

pub use crate::entity::agency::Model as Agency;
pub use crate::entity::audit_event::Model as AuditEvent;
pub use crate::store::audit::Filter as AuditFilter;
pub use crate::store::stats::Stats;

/// Check that the database answers within `limit`; why not, otherwise. A database that does
/// not answer makes the pool ping its idle connections before their next use.
pub async fn ping_within(
    db: &DatabaseConnection,
    limit: std::time::Duration,
) -> Result<(), String> {
    let cause = match tokio::time::timeout(limit, store::ping(db)).await {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer within {} ms", limit.as_millis()),
    };
    store::suspect_idle_connections();
    Err(cause)
}

/// The business figures of the metrics, read from the database at each scrape.
pub async fn stats(db: &DatabaseConnection) -> Result<Stats, DbErr> {
    stats::read(db).await
}

/// The eight agencies, by code.
pub async fn agencies(db: &DatabaseConnection) -> Result<Vec<Agency>, ApiError> {
    Ok(calls::agencies(db).await?)
}

/// The audit log, oldest first, for administrators (`page` none: every match).
pub async fn audit_log(
    db: &DatabaseConnection,
    caller: &AuthUser,
    filter: &AuditFilter,
    page: Option<Page>,
) -> Result<(Vec<AuditEvent>, u64), ApiError> {
    caller.require_admin()?;
    Ok(audit::list(db, filter, page).await?)
}
