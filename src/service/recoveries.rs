//! Recovery orders: issued when a grant paid more than it now allows (see `grants::end`),
//! settled with the payment's reference or cancelled with a reason by the Region.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::events;
use super::grants::{grant_not_found, scope, sees_part_of};
use super::rankings::scorrimento_after;
use crate::auth::AuthUser;
use crate::domain::ErrorCode;
use crate::domain::agency::AgencyCode;
use crate::domain::award::{self, Actor as AwardActor, Recovery, RecoveryStatus};
use crate::domain::event::recovery as event;
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::store::recoveries;

pub use crate::store::recoveries::StoredRecovery;
use crate::store::{Page, begin_write, calls, grants};

pub fn recovery_not_found() -> ApiError {
    ApiError::from(ErrorCode::RecoveryNotFound)
}

/// A recovery order the caller may see: administrators all, evaluators their agency's,
/// applicants those of their partnerships' grants; 404 otherwise.
pub async fn read(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<StoredRecovery, ApiError> {
    let r = recoveries::get(db, id)
        .await?
        .ok_or_else(recovery_not_found)?;
    let of = (r.recovery.grant_id, r.recovery.agency);
    sees_part_of(db, caller, now, of, recovery_not_found).await?;
    Ok(r)
}

/// An administrator settles (with the payment's reference) or cancels (with a reason) an
/// issued recovery order.
async fn close(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    apply: impl FnOnce(&Recovery, &AwardActor) -> Result<Recovery, award::Refused>,
) -> Result<StoredRecovery, ApiError> {
    caller.require(&[Role::Admin])?;
    read(db, caller, now, id).await?;
    let actor = caller.award_actor();
    let tx = begin_write(db).await?;
    let known = recoveries::get(&tx, id)
        .await?
        .ok_or_else(recovery_not_found)?;
    // Money paid back may go down the reserve list: the envelopes first, as everywhere.
    calls::lock_envelopes(&tx, known.call_id).await?;
    // The grant's row orders the steps on its money, one writer at a time.
    let grant = grants::get_for_update(&tx, known.recovery.grant_id)
        .await?
        .ok_or_else(grant_not_found)?;
    let current = recoveries::get(&tx, id)
        .await?
        .ok_or_else(recovery_not_found)?;
    let next = apply(&current.recovery, &actor)?;
    if !recoveries::update(&tx, &next, current.version, now).await? {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "recovery {id} changed while its grant was locked"
        )));
    }
    let changed = event::changed(Some(&current.recovery), &next, grant.application_id);
    events::record(&tx, &caller.actor(), now, changed).await?;
    super::grants::close_if_over(&tx, &caller.actor(), grant.id, now).await?;
    if next.status == RecoveryStatus::Settled {
        scorrimento_after(
            &tx,
            &caller.actor(),
            known.call_id,
            next.agency,
            &format!(
                "scorrimento after recovery {id} of grant {} was paid back",
                grant.id
            ),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    recoveries::get(db, id)
        .await?
        .ok_or_else(recovery_not_found)
}

/// Settle an issued recovery order with the payment's reference (`parse`).
pub async fn settle(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<Option<String>, ApiError>,
) -> Result<StoredRecovery, ApiError> {
    caller.require(&[Role::Admin])?;
    let reference = parse()?;
    close(db, caller, now, id, |r, actor| {
        award::settle(r, actor, reference.as_deref())
    })
    .await
}

/// Cancel an issued recovery order with a reason (`parse`).
pub async fn cancel(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<Option<String>, ApiError>,
) -> Result<StoredRecovery, ApiError> {
    caller.require(&[Role::Admin])?;
    let reason = parse()?;
    close(db, caller, now, id, |r, actor| {
        award::cancel_recovery(r, actor, reason.as_deref())
    })
    .await
}

/// What the caller asks of the recovery list.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pub call_id: Option<Uuid>,
    pub agency: Option<AgencyCode>,
    pub status: Option<RecoveryStatus>,
    pub grant_id: Option<Uuid>,
}

/// The recovery orders the caller may see.
pub async fn list(
    db: &DatabaseConnection,
    caller: &AuthUser,
    query: Query,
    page: Page,
) -> Result<(Vec<StoredRecovery>, u64), ApiError> {
    let scope = scope(db, caller, query.agency).await?;
    let filter = recoveries::Filter {
        call_id: query.call_id,
        agency: scope.agency,
        status: query.status,
        grant_id: query.grant_id,
        grants: scope.grants,
    };
    Ok(recoveries::list(db, &filter, page).await?)
}
