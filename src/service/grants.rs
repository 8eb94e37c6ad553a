//! Grants: reading them, the lead's answer to an offer, revocation, and the lapse of the
//! offers past their deadline. Every change that frees money lets it go down the list
//! (`rankings::scorrimento_after`) in the same transaction.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::events;
use super::rankings::scorrimento_after;
use crate::auth::AuthUser;
use crate::clock::Clock;
use crate::domain::ErrorCode;
use crate::domain::Violations;
use crate::domain::agency::AgencyCode;
use crate::domain::application::application_access;
use crate::domain::call::check_text;
use crate::domain::event::Actor;
use crate::domain::event::grant as event;
use crate::domain::grant::{GrantStatus, answer as answer_rule, check_cup};
use crate::domain::partnership::Access;
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::store::{Page, applications, begin_write, calls, grants, organizations, partnerships};

pub use crate::store::grants::Grant;

pub fn grant_not_found() -> ApiError {
    ApiError::from(ErrorCode::GrantNotFound)
}

/// Lapse every offer whose acceptance deadline has passed, and let its money go down the
/// list; each agency in a transaction of its own. Run lazily before grants are read or
/// answered, and by the periodic task.
pub async fn expire_due(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let mut expired = 0;
    for (call_id, agency) in grants::agencies_with_due_offers(db, now).await? {
        let tx = begin_write(db).await?;
        calls::lock_envelopes(&tx, call_id).await?;
        let n = grants::expire(&tx, call_id, agency, now).await?;
        if n > 0 {
            expired += n as usize;
            scorrimento_after(
                &tx,
                actor,
                call_id,
                agency,
                "scorrimento after offers expired unanswered",
                now,
            )
            .await?;
            events::record(&tx, actor, now, event::expired(call_id, agency, n)).await?;
        }
        tx.commit().await?;
    }
    Ok(expired)
}

/// A grant and what the caller may do with it; 404 when nothing.
async fn seen(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<(Grant, Access), ApiError> {
    expire_due(db, &Actor::system(), now).await?;
    let g = grants::get(db, id).await?.ok_or_else(grant_not_found)?;
    let app = applications::get(db, g.application_id)
        .await?
        .ok_or_else(grant_not_found)?;
    let p = partnerships::get(db, app.partnership_id)
        .await?
        .ok_or_else(grant_not_found)?;
    let represented = organizations::represented_by(db, caller.id).await?;
    let access = application_access(
        caller.role,
        caller.agency,
        &represented,
        p.lead(),
        &p.member_ids(),
        app.status,
        app.content.agency_code,
    )
    .ok_or_else(grant_not_found)?;
    Ok((g, access))
}

/// Read a grant the caller may see.
pub async fn read(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<Grant, ApiError> {
    Ok(seen(db, caller, now, id).await?.0)
}

/// What the caller asks of the grant list.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pub call_id: Option<Uuid>,
    pub agency: Option<AgencyCode>,
    pub status: Option<GrantStatus>,
}

/// The grants the caller may see: its partnerships' (applicants), its agency's
/// (evaluators), all (administrators).
pub async fn list(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    query: Query,
    page: Page,
) -> Result<(Vec<Grant>, u64), ApiError> {
    expire_due(db, &Actor::system(), now).await?;
    let mut filter = grants::Filter {
        call_id: query.call_id,
        agency: query.agency,
        status: query.status,
        applications: None,
    };
    match caller.role {
        Role::Admin => {}
        Role::Evaluator => {
            if query.agency.is_some_and(|a| Some(a) != caller.agency) {
                filter.applications = Some(BTreeSet::new());
            }
            filter.agency = caller.agency;
        }
        Role::Applicant => {
            let represented = organizations::represented_by(db, caller.id).await?;
            let (apps, _) = applications::list(
                db,
                &applications::Filter {
                    member_of: Some(represented),
                    ..Default::default()
                },
                None,
            )
            .await?;
            filter.applications = Some(apps.iter().map(|a| a.id).collect());
        }
    }
    Ok(grants::list(db, &filter, page).await?)
}

/// A grant whose offer the caller's organization may answer: it leads the application.
async fn answerable(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<Grant, ApiError> {
    caller.require(&[Role::Applicant])?;
    let (g, access) = seen(db, caller, now, id).await?;
    if access != Access::Manage {
        return Err(grant_not_found());
    }
    Ok(g)
}

/// Accept an offer with the project's CUP (`parse`), before the acceptance deadline (the
/// lead's representatives).
pub async fn accept(
    db: &DatabaseConnection,
    caller: &AuthUser,
    clock: &dyn Clock,
    id: Uuid,
    parse: impl FnOnce() -> Result<String, ApiError>,
) -> Result<Grant, ApiError> {
    let g = answerable(db, caller, clock.now(), id).await?;
    let cup = parse()?.trim().to_owned();
    ApiError::check(check_cup(&cup).into_iter().collect())?;
    answer_offer(db, &caller.actor(), clock, g.id, true, Some(&cup), None).await
}

/// Decline an offer, with an optional reason (`parse`), before the acceptance deadline (the
/// lead's representatives).
pub async fn decline(
    db: &DatabaseConnection,
    caller: &AuthUser,
    clock: &dyn Clock,
    id: Uuid,
    parse: impl FnOnce() -> Result<Option<String>, ApiError>,
) -> Result<Grant, ApiError> {
    let g = answerable(db, caller, clock.now(), id).await?;
    let reason = parse()?;
    let mut v = Violations::new();
    if let Some(r) = &reason {
        v.extend(check_text("reason", r, 2000));
    }
    ApiError::check(v.into_vec())?;
    let reason = reason.as_deref().map(str::trim);
    answer_offer(db, &caller.actor(), clock, g.id, false, None, reason).await
}

/// Answer an offer: accept with a CUP, or decline; a decline lets its money go down the list.
async fn answer_offer(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: Uuid,
    accept: bool,
    cup: Option<&str>,
    reason: Option<&str>,
) -> Result<Grant, ApiError> {
    let tx = begin_write(db).await?;
    if let Some(g) = grants::get(&tx, id).await? {
        calls::lock_envelopes(&tx, g.call_id).await?;
    }
    let current = grants::get_for_update(&tx, id)
        .await?
        .ok_or_else(grant_not_found)?;
    let now = clock.now();
    let next = answer_rule(current.status, current.deadline, now, accept)?;
    if !grants::answer(&tx, id, next, cup, reason, now).await? {
        return Err(ApiError::from(ErrorCode::OfferAnswered));
    }
    if !accept {
        let reason = format!("scorrimento after the decline of grant {id}");
        scorrimento_after(&tx, actor, current.call_id, current.agency, &reason, now).await?;
    }
    let answered = event::answered(
        id,
        current.agency,
        current.application_id,
        current.amount,
        current.status,
        next,
        cup,
        reason,
    );
    events::record(&tx, actor, now, answered).await?;
    tx.commit().await?;
    grants::get(db, id).await?.ok_or_else(grant_not_found)
}

/// Revoke an offered or accepted grant (administrators), with a reason (`parse`); its money
/// goes down the list.
pub async fn revoke(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<String, ApiError>,
) -> Result<Grant, ApiError> {
    caller.require_admin()?;
    let (g, _) = seen(db, caller, now, id).await?;
    let reason = parse()?;
    ApiError::check(check_text("reason", &reason, 2000).into_iter().collect())?;
    let reason = reason.trim();
    let actor = caller.actor();
    let id = g.id;
    let tx = begin_write(db).await?;
    let current = grants::get(&tx, id).await?.ok_or_else(grant_not_found)?;
    calls::lock_envelopes(&tx, current.call_id).await?;
    let current = grants::get(&tx, id).await?.ok_or_else(grant_not_found)?;
    if !current.status.commits() {
        return Err(ApiError::from(ErrorCode::GrantNotLive));
    }
    grants::revoke(&tx, id, reason, now).await?;
    scorrimento_after(
        &tx,
        &actor,
        current.call_id,
        current.agency,
        &format!("scorrimento after the revocation of grant {id}: {reason}"),
        now,
    )
    .await?;
    let revoked = event::revoked(
        id,
        current.application_id,
        current.amount,
        current.status,
        reason,
    );
    events::record(&tx, &actor, now, revoked).await?;
    tx.commit().await?;
    grants::get(db, id).await?.ok_or_else(grant_not_found)
}
