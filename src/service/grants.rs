//! Grants: reading them, the lead's answer to an offer, revocation, and the lapse of the
//! offers past their deadline. Every change that frees money lets it go down the list
//! (`rankings::scorrimento_after`) in the same transaction.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
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
use crate::domain::award::{self, PostAwardRules};
use crate::domain::call::check_text;
use crate::domain::event::Actor;
use crate::domain::event::grant as event;
use crate::domain::grant::{GrantStatus, answer as answer_rule, check_cup};
use crate::domain::money::Money;
use crate::domain::partnership::Access;
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::store::{
    Page, applications, begin_write, calls, grants, organizations, partnerships, payments,
    recoveries, reports,
};

pub use crate::store::grants::Grant;

pub fn grant_not_found() -> ApiError {
    ApiError::from(ErrorCode::GrantNotFound)
}

/// A grant with what its call's post-award rules say of it now.
#[derive(Debug, Clone)]
pub struct Viewed {
    pub grant: Grant,
    /// An accepted grant's last moment to communicate the start.
    pub start_deadline: Option<DateTime<Utc>>,
    /// Started late, or not started and past the start deadline: the ATS sees it flagged.
    pub overdue: bool,
    /// A started project's last day to submit its final report.
    pub report_deadline: Option<NaiveDate>,
    /// Its final report submitted late, or, while live, still not submitted past the deadline.
    pub report_overdue: bool,
}

/// The post-award rules of the calls of these grants (the accepted and the started ones), each
/// call read once.
async fn post_award_rules<C: sea_orm::ConnectionTrait>(
    conn: &C,
    grants: &[Grant],
) -> Result<BTreeMap<Uuid, PostAwardRules>, ApiError> {
    let mut rules = BTreeMap::new();
    for g in grants {
        let dated = g.status == GrantStatus::Accepted || g.end_date.is_some();
        if dated && !rules.contains_key(&g.call_id) {
            let call = calls::get(conn, g.call_id)
                .await?
                .ok_or_else(grant_not_found)?;
            rules.insert(g.call_id, call.rules.post_award);
        }
    }
    Ok(rules)
}

/// The grants as the caller sees them at `now`.
async fn view_all<C: sea_orm::ConnectionTrait>(
    conn: &C,
    grants: Vec<Grant>,
    now: DateTime<Utc>,
) -> Result<Vec<Viewed>, ApiError> {
    let rules = post_award_rules(conn, &grants).await?;
    let started: Vec<Uuid> = grants
        .iter()
        .filter(|g| g.end_date.is_some())
        .map(|g| g.id)
        .collect();
    let submissions = if started.is_empty() {
        BTreeMap::new()
    } else {
        reports::submissions(conn, &started).await?
    };
    Ok(grants
        .into_iter()
        .map(|grant| {
            let deadline = match (grant.status, grant.answered_at, rules.get(&grant.call_id)) {
                (GrantStatus::Accepted, Some(accepted), Some(r)) => {
                    Some(award::start_deadline(r, accepted))
                }
                _ => None,
            };
            let overdue = match (grant.start_date, deadline) {
                (Some(_), _) => grant.start_overdue,
                (None, Some(d)) => now > d,
                (None, None) => false,
            };
            let report_deadline = grant
                .end_date
                .zip(rules.get(&grant.call_id))
                .map(|(end, r)| award::report_deadline(r, end));
            let submitted_late = submissions
                .get(&grant.id)
                .and_then(|s| s.submitted_at.map(|_| s.overdue));
            let live = grant.status == GrantStatus::Accepted;
            let report_overdue = award::report_flagged(report_deadline, submitted_late, live, now);
            Viewed {
                grant,
                start_deadline: deadline,
                overdue,
                report_deadline,
                report_overdue,
            }
        })
        .collect())
}

async fn view<C: sea_orm::ConnectionTrait>(
    conn: &C,
    grant: Grant,
    now: DateTime<Utc>,
) -> Result<Viewed, ApiError> {
    let mut all = view_all(conn, vec![grant], now).await?;
    all.pop().ok_or_else(grant_not_found)
}

/// Read a grant again after a change.
async fn reread(db: &DatabaseConnection, id: Uuid, now: DateTime<Utc>) -> Result<Viewed, ApiError> {
    let g = grants::get(db, id).await?.ok_or_else(grant_not_found)?;
    view(db, g, now).await
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
pub(super) async fn seen(
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
) -> Result<Viewed, ApiError> {
    let g = seen(db, caller, now, id).await?.0;
    view(db, g, now).await
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
) -> Result<(Vec<Viewed>, u64), ApiError> {
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
        Role::Applicant => filter.applications = Some(member_applications(db, caller).await?),
    }
    let (items, total) = grants::list(db, &filter, page).await?;
    Ok((view_all(db, items, now).await?, total))
}

/// The applications of the partnerships the caller's organizations are members of.
pub(super) async fn member_applications(
    db: &DatabaseConnection,
    caller: &AuthUser,
) -> Result<BTreeSet<Uuid>, ApiError> {
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
    Ok(apps.iter().map(|a| a.id).collect())
}

/// Whether the caller sees something of a grant of `agency` (a payment, a recovery order):
/// administrators all, evaluators their agency's, applicants their partnerships' grants';
/// `hidden` otherwise.
pub(super) async fn sees_part_of(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    (grant_id, agency): (Uuid, AgencyCode),
    hidden: fn() -> ApiError,
) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Evaluator if caller.agency == Some(agency) => Ok(()),
        Role::Evaluator => Err(hidden()),
        Role::Applicant => match seen(db, caller, now, grant_id).await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == ErrorCode::GrantNotFound => Err(hidden()),
            Err(e) => Err(e),
        },
    }
}

/// What a list of what belongs to grants (payments, recovery orders) may show the caller:
/// the agency to keep to, and for applicants the grants of their partnerships.
pub(super) struct Scope {
    pub agency: Option<AgencyCode>,
    pub grants: Option<Vec<Uuid>>,
}

/// The scope of such a list: administrators all, evaluators their agency's (nothing when
/// they ask for another), applicants their partnerships' grants'.
pub(super) async fn scope(
    db: &DatabaseConnection,
    caller: &AuthUser,
    agency: Option<AgencyCode>,
) -> Result<Scope, ApiError> {
    Ok(match caller.role {
        Role::Admin => Scope {
            agency,
            grants: None,
        },
        Role::Evaluator => Scope {
            agency: caller.agency,
            grants: agency
                .is_some_and(|a| Some(a) != caller.agency)
                .then(Vec::new),
        },
        Role::Applicant => {
            let apps: Vec<Uuid> = member_applications(db, caller).await?.into_iter().collect();
            Scope {
                agency,
                grants: Some(grants::ids_of_applications(db, &apps).await?),
            }
        }
    })
}

/// A grant whose offer the caller's organization may answer: it leads the application (the
/// other members learn nothing of the offer's answer: 404).
async fn answerable(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<Grant, ApiError> {
    led(db, caller, now, id).await.map_err(|e| {
        if e.code() == ErrorCode::LeadOnly {
            grant_not_found()
        } else {
            e
        }
    })
}

/// Accept an offer with the project's CUP (`parse`), before the acceptance deadline (the
/// lead's representatives).
pub async fn accept(
    db: &DatabaseConnection,
    caller: &AuthUser,
    clock: &dyn Clock,
    id: Uuid,
    parse: impl FnOnce() -> Result<String, ApiError>,
) -> Result<Viewed, ApiError> {
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
) -> Result<Viewed, ApiError> {
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
) -> Result<Viewed, ApiError> {
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
    reread(db, id, now).await
}

/// What a revocation says: its reason, and optionally its cause and its act.
pub struct Revocation {
    pub reason: String,
    pub cause: Option<award::RevocationCause>,
    pub act: Option<award::ActInput>,
}

/// Revoke an offered or accepted grant (administrators, or evaluators of its ATS), with a
/// reason, an optional cause and an optional act (number and date, both then required)
/// (`parse`).
pub async fn revoke(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<Revocation, ApiError>,
) -> Result<Viewed, ApiError> {
    caller.require(&[Role::Admin, Role::Evaluator])?;
    let (g, _) = seen(db, caller, now, id).await?;
    let r = parse()?;
    let mut v = Violations::new();
    v.extend(check_text("reason", &r.reason, 2000));
    let today = crate::domain::call::rome_day(now);
    let act = r.act.as_ref().map(|a| a.check("act", today, &mut v));
    let act = v.finish(act.flatten()).map_err(ApiError::Validation)?;
    let actor = caller.award_actor();
    let ending = grants::Ending {
        status: GrantStatus::Revoked,
        cause: r.cause,
        act: act.as_ref(),
        reason: r.reason.trim(),
    };
    end(db, caller, now, g.id, &ending, |current| {
        Ok(award::may_revoke(&actor, current.agency, current.status)?)
    })
    .await
}

/// Renounce an accepted grant (the lead's representatives), with an optional reason
/// (`parse`).
pub async fn renounce(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<Option<String>, ApiError>,
) -> Result<Viewed, ApiError> {
    let g = led(db, caller, now, id).await?;
    let reason = parse()?;
    if let Some(r) = &reason {
        ApiError::check(check_text("reason", r, 2000).into_iter().collect())?;
    }
    let ending = grants::Ending {
        status: GrantStatus::Renounced,
        cause: None,
        act: None,
        reason: reason.as_deref().map_or("renounced by the lead", str::trim),
    };
    end(db, caller, now, g.id, &ending, |current| {
        Ok(award::may_renounce(current.status)?)
    })
    .await
}

/// End a live grant before its time, in one transaction: its open payments are cancelled,
/// what it already paid becomes a recovery order, and its money goes down the reserve list
/// while the ranking's scorrimento is open (otherwise it stays in the envelope, unused).
async fn end(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    ending: &grants::Ending<'_>,
    allowed: impl FnOnce(&Grant) -> Result<(), ApiError>,
) -> Result<Viewed, ApiError> {
    let (status, cause, reason) = (ending.status, ending.cause, ending.reason);
    let actor = caller.actor();
    let tx = begin_write(db).await?;
    let known = grants::get(&tx, id).await?.ok_or_else(grant_not_found)?;
    calls::lock_envelopes(&tx, known.call_id).await?;
    let current = grants::get_for_update(&tx, id)
        .await?
        .ok_or_else(grant_not_found)?;
    allowed(&current)?;
    let call = calls::get(&tx, current.call_id)
        .await?
        .ok_or_else(grant_not_found)?;
    grants::end(&tx, id, ending, now).await?;
    // Its payments not yet made are cancelled, each with its event.
    let held = payments::of_grant(&tx, id).await?;
    let why = format!("Grant {}: {reason}", status.as_str());
    for p in &held {
        let Some(cancelled) = award::cancelled_by_end(&p.payment, caller.id, &why) else {
            continue;
        };
        if !payments::update(&tx, &cancelled, p.version, payments::Step::Cancelled, now).await? {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "payment {} changed while its grant was locked",
                p.payment.id
            )));
        }
        let changed =
            crate::domain::event::payment::changed(&p.payment, &cancelled, current.application_id);
        if let Some(e) = changed {
            events::record(&tx, &actor, now, e).await?;
        }
    }
    let paid = award::total_paid(held.iter().map(|p| &p.payment));
    // What earlier orders already claim (a verified project's recovery, paid back, pending or
    // written off) is not claimed again.
    let claimed = Money::sum(
        recoveries::of_grant(&tx, id)
            .await?
            .iter()
            .map(|r| r.recovery.amount),
    )
    .unwrap_or(Money::ZERO);
    let today = crate::domain::call::rome_day(now);
    if let Some(r) = award::recovery_due(
        id,
        current.agency,
        paid,
        claimed,
        call.rules.post_award.recovery_due_days,
        today,
        why,
    ) {
        recoveries::insert(&tx, current.call_id, &r, now).await?;
        let issued = crate::domain::event::recovery::changed(None, &r, current.application_id);
        events::record(&tx, &actor, now, issued).await?;
    }
    scorrimento_after(
        &tx,
        &actor,
        current.call_id,
        current.agency,
        &format!(
            "scorrimento after the {} of grant {id}: {reason}",
            if status == GrantStatus::Renounced {
                "renunciation"
            } else {
                "revocation"
            }
        ),
        now,
    )
    .await?;
    let ended = if status == GrantStatus::Renounced {
        event::renounced(
            id,
            current.agency,
            current.application_id,
            current.amount,
            reason,
        )
    } else {
        event::revoked(
            id,
            current.application_id,
            current.amount,
            current.status,
            reason,
            cause,
        )
    };
    events::record(&tx, &actor, now, ended).await?;
    tx.commit().await?;
    reread(db, id, now).await
}

/// A grant the caller's organization leads (its representatives): 404 for whoever may not
/// see it, 403 for the other members and for roles that never may.
pub(super) async fn led(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<Grant, ApiError> {
    caller.require(&[Role::Applicant])?;
    let (g, access) = seen(db, caller, now, id).await?;
    if access != Access::Manage {
        return Err(ApiError::from(ErrorCode::LeadOnly));
    }
    Ok(g)
}

/// The lead communicates the start of an accepted grant (`parse` gives its date): the end
/// date follows from the call's project duration, a start after the deadline is flagged
/// `overdue`, and the tranches paid at the start become payments due, in one transaction
/// with the event.
pub async fn start(
    db: &DatabaseConnection,
    caller: &AuthUser,
    clock: &dyn Clock,
    id: Uuid,
    parse: impl FnOnce() -> Result<NaiveDate, ApiError>,
) -> Result<Viewed, ApiError> {
    let g = led(db, caller, clock.now(), id).await?;
    let start_date = parse()?;
    let tx = begin_write(db).await?;
    let current = grants::get_for_update(&tx, g.id)
        .await?
        .ok_or_else(grant_not_found)?;
    let call = calls::get(&tx, current.call_id)
        .await?
        .ok_or_else(grant_not_found)?;
    let rules = &call.rules;
    let now = clock.now();
    let accepted_at = current.answered_at.unwrap_or(current.offered_at);
    let started = award::start(
        &rules.post_award,
        rules.project_duration_months,
        current.status,
        accepted_at,
        current.start_date,
        start_date,
        now,
    )?;
    let plan = &rules.post_award.payment_plan;
    let due = award::payments_due_at_start(current.id, current.agency, plan, current.amount)
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "the payment plan of call {} has no amounts",
                call.id
            ))
        })?;
    if !grants::start(&tx, current.id, &started, now).await? {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "grant {} changed while it was locked",
            current.id
        )));
    }
    let placed: Vec<(i32, award::Payment)> = due
        .iter()
        .map(|p| {
            let position = plan.iter().position(|t| t.code == p.tranche).unwrap_or(0);
            (i32::try_from(position).unwrap_or(i32::MAX), p.clone())
        })
        .collect();
    payments::insert_due(&tx, current.call_id, &placed, now).await?;
    let event = event::started(
        current.id,
        current.agency,
        current.application_id,
        &started,
        &due,
    );
    events::record(&tx, &caller.actor(), now, event).await?;
    tx.commit().await?;
    reread(db, current.id, now).await
}

/// Close a verified project, inside the transaction of the step that settled its last money
/// (a payment recorded paid, a recovery settled or cancelled, a verification that leaves
/// nothing to pay): once no payment is open, no recovery issued, and what it kept is its final
/// grant. Whether it closed.
pub(super) async fn close_if_over<C: sea_orm::ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let g = grants::get(conn, id).await?.ok_or_else(grant_not_found)?;
    if g.status != GrantStatus::Accepted {
        return Ok(false);
    }
    let made = payments::of_grant(conn, id).await?;
    let orders = recoveries::of_grant(conn, id).await?;
    let over = award::is_over(
        g.final_amount,
        &made.iter().map(|p| &p.payment).collect::<Vec<_>>(),
        &orders.iter().map(|r| &r.recovery).collect::<Vec<_>>(),
    );
    if !over || !grants::close(conn, id, now).await? {
        return Ok(false);
    }
    let final_grant = g.final_amount.unwrap_or(g.amount);
    events::record(
        conn,
        actor,
        now,
        event::closed(id, g.agency, g.application_id, final_grant),
    )
    .await?;
    Ok(true)
}

/// A grant the caller may see, where its payment plan stands, and its payments.
pub async fn payments_of(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<(Grant, award::PlanStanding, Vec<payments::StoredPayment>), ApiError> {
    let (g, _) = seen(db, caller, now, id).await?;
    let call = calls::get(db, g.call_id)
        .await?
        .ok_or_else(grant_not_found)?;
    let made = payments::of_grant(db, g.id).await?;
    let live = g.status == GrantStatus::Accepted;
    let mut standing = award::plan_standing(
        &call.rules.post_award.payment_plan,
        g.amount,
        live,
        made.iter().map(|p| &p.payment),
    );
    // A verified project's payments add up to its final grant.
    if let (Some(f), true) = (g.final_amount, live) {
        standing.to_pay = f.checked_sub(standing.paid).unwrap_or(Money::ZERO);
    }
    Ok((g, standing, made))
}
