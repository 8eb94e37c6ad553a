//! Payments of grants: the ATS authorizes a due payment with its liquidation act, the Region
//! records it paid (with the payment order) or failed, never by the user who authorized it;
//! either may cancel it while not paid. Each step holds the grant's row, so that the total
//! paid is read and checked against the grant by one writer at a time.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::events;
use super::grants::{grant_not_found, scope, sees_part_of};
use crate::auth::AuthUser;
use crate::domain::ErrorCode;
use crate::domain::agency::AgencyCode;
use crate::domain::award::{
    self, ActInput, Actor as PaymentActor, Ledger, Payment, PaymentStatus, Recording,
};
use crate::domain::call::rome_day;
use crate::domain::event::payment as event;
use crate::domain::grant::GrantStatus;
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::store::payments::{self, Step};

pub use crate::store::payments::StoredPayment;
use crate::store::{Page, begin_write, grants};

pub fn payment_not_found() -> ApiError {
    ApiError::from(ErrorCode::PaymentNotFound)
}

/// A payment the caller may see: administrators all, evaluators their agency's, applicants
/// those of the grants of their partnerships; 404 otherwise.
pub async fn read(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<StoredPayment, ApiError> {
    let p = payments::get(db, id).await?.ok_or_else(payment_not_found)?;
    let of = (p.payment.grant_id, p.payment.agency);
    sees_part_of(db, caller, now, of, payment_not_found).await?;
    Ok(p)
}

/// Apply a step to a payment under its grant's lock, and record it with its event. The
/// caller's role comes first (403 for roles that never take this step), then whether it may
/// see the payment (404), then the body (`parse` gives what the step does to the payment,
/// given the grant's ledger and today's date in Rome).
async fn change<F>(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    (step, roles): (Step, &[Role]),
    parse: impl FnOnce() -> Result<F, ApiError>,
) -> Result<StoredPayment, ApiError>
where
    F: FnOnce(
        &Payment,
        &PaymentActor,
        Ledger,
        chrono::NaiveDate,
    ) -> Result<Payment, award::Refused>,
{
    caller.require(roles)?;
    let known = read(db, caller, now, id).await?;
    let apply = parse()?;
    let actor = caller.award_actor();
    let tx = begin_write(db).await?;
    let grant = grants::get_for_update(&tx, known.payment.grant_id)
        .await?
        .ok_or_else(grant_not_found)?;
    let current = payments::get(&tx, id)
        .await?
        .ok_or_else(payment_not_found)?;
    let others = payments::of_grant(&tx, grant.id).await?;
    let ledger = Ledger {
        paid: award::total_paid(
            others
                .iter()
                .map(|o| &o.payment)
                .filter(|o| o.id != current.payment.id),
        ),
        ceiling: grant.commits(),
    };
    let today = rome_day(now);
    let next = apply(&current.payment, &actor, ledger, today)?;
    // A grant revoked or renounced since its payment became due pays nothing more.
    if step == Step::Authorized && grant.status != GrantStatus::Accepted {
        return Err(ApiError::from(ErrorCode::GrantNotAccepted));
    }
    if !payments::update(&tx, &next, current.version, step, now).await? {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "payment {id} changed while its grant was locked"
        )));
    }
    if let Some(e) = event::changed(&current.payment, &next, grant.application_id) {
        events::record(&tx, &caller.actor(), now, e).await?;
    }
    if next.status == award::PaymentStatus::Paid {
        super::grants::close_if_over(&tx, &caller.actor(), grant.id, now).await?;
    }
    tx.commit().await?;
    payments::get(db, id).await?.ok_or_else(payment_not_found)
}

/// An evaluator of the grant's ATS authorizes a due (or failed) payment with the
/// liquidation act (`parse`).
pub async fn authorize(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<ActInput, ApiError>,
) -> Result<StoredPayment, ApiError> {
    change(
        db,
        caller,
        now,
        id,
        (Step::Authorized, &[Role::Evaluator]),
        || {
            let act = parse()?;
            Ok(move |p: &Payment, actor: &PaymentActor, ledger, today| {
                award::authorize(p, actor, &act, ledger, today)
            })
        },
    )
    .await
}

/// An administrator who did not authorize it records an authorized payment as paid or
/// failed (`parse`).
pub async fn record(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<Recording, ApiError>,
) -> Result<StoredPayment, ApiError> {
    change(
        db,
        caller,
        now,
        id,
        (Step::Recorded, &[Role::Admin]),
        || {
            let recording = parse()?;
            Ok(move |p: &Payment, actor: &PaymentActor, ledger, today| {
                award::record(p, actor, &recording, ledger, today)
            })
        },
    )
    .await
}

/// An evaluator of the grant's ATS or an administrator cancels a payment not yet paid, with
/// a reason (`parse`).
pub async fn cancel(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<Option<String>, ApiError>,
) -> Result<StoredPayment, ApiError> {
    let roles = [Role::Evaluator, Role::Admin];
    change(db, caller, now, id, (Step::Cancelled, &roles), || {
        let reason = parse()?;
        Ok(move |p: &Payment, actor: &PaymentActor, _, _| {
            award::cancel(p, actor, reason.as_deref())
        })
    })
    .await
}

/// What the caller asks of the payment list.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pub call_id: Option<Uuid>,
    pub agency: Option<AgencyCode>,
    pub status: Option<PaymentStatus>,
    pub grant_id: Option<Uuid>,
}

/// The payments the caller may see: its agency's (evaluators), all (administrators), its
/// partnerships' grants' (applicants).
pub async fn list(
    db: &DatabaseConnection,
    caller: &AuthUser,
    query: Query,
    page: Page,
) -> Result<(Vec<StoredPayment>, u64), ApiError> {
    let scope = scope(db, caller, query.agency).await?;
    let filter = payments::Filter {
        call_id: query.call_id,
        agency: scope.agency,
        status: query.status,
        grant_id: query.grant_id,
        grants: scope.grants,
    };
    Ok(payments::list(db, &filter, page).await?)
}
