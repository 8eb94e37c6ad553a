//! Rankings: computing, approving, scorrimento, and the offers that follow; the agency's
//! dashboard and the published results.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, StreamTrait};
use uuid::Uuid;

use super::calls::call_not_found;
use super::events;
use crate::auth::AuthUser;
use crate::domain::ErrorCode;
use crate::domain::Violations;
use crate::domain::agency::AgencyCode;
use crate::domain::application::ApplicationStatus;
use crate::domain::award::scorrimento_open;
use crate::domain::call::{AllocationMode, Call, CallStatus, WindowState, check_text};
use crate::domain::event::Actor;
use crate::domain::event::grant as grant_event;
use crate::domain::event::ranking::{self as event, Published};
use crate::domain::grant::{GrantStatus, Offer};
use crate::domain::money::Money;
use crate::domain::points::Points;
use crate::domain::ranking::{
    Allocation, Candidate, Inputs, Outcome, Progress, RankingStatus, RankingVersionStatus,
    Reviewed, approval_warning, inputs_hash, not_ready, policy, rank_and_allocate, scorrimento,
};
use crate::domain::review::{ReviewStatus, ScoreMethod};
use crate::domain::score::Score;
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::store::applications::Application;
use crate::store::rankings::{NewVersion, approved};
use crate::store::rows::money;
use crate::store::{
    applications, begin_write, calls, grants, is_unique_violation, notifications, partnerships,
    payments, rankings, recoveries, review,
};

pub use crate::store::rankings::Version;

/// Refuse a change of an application once its agency's ranking is approved: from then on
/// it changes only through new ranking versions.
pub async fn ensure_not_approved<C: ConnectionTrait>(
    conn: &C,
    app: &Application,
) -> Result<(), ApiError> {
    if let Some(agency) = app.content.agency_code
        && approved(conn, app.call_id, agency).await?
    {
        return Err(ApiError::from(ErrorCode::RankingApproved));
    }
    Ok(())
}

fn ranking_not_found() -> ApiError {
    ApiError::from(ErrorCode::RankingNotFound)
}

fn already_approved() -> ApiError {
    ApiError::from(ErrorCode::RankingAlreadyApproved)
}

/// The call, checked for a caller acting for an agency: its evaluators or an administrator.
async fn for_agency(
    db: &DatabaseConnection,
    caller: &AuthUser,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<Call, ApiError> {
    caller.require(&[Role::Evaluator, Role::Admin])?;
    if caller.role == Role::Evaluator && caller.agency != Some(agency) {
        return Err(ranking_not_found());
    }
    let call = calls::get(db, call_id).await?.ok_or_else(call_not_found)?;
    if call.status != CallStatus::Published {
        return Err(call_not_found());
    }
    Ok(call)
}

fn closed(call: &Call, now: DateTime<Utc>) -> Result<(), ApiError> {
    if call.window.state(now) != WindowState::Closed {
        return Err(ApiError::from(ErrorCode::WindowOpen));
    }
    Ok(())
}

/// Read a ranking's inputs: the agency's envelope and every submitted application of the
/// call for it, with its score.
pub async fn inputs<C: ConnectionTrait + StreamTrait>(
    conn: &C,
    call: &Call,
    agency: AgencyCode,
) -> Result<Inputs, DbErr> {
    let envelope = calls::envelope_of(conn, call.id, agency).await?;
    let rows = rankings::candidate_rows(conn, call.id, agency).await?;
    let mut scoring = review::agency_scoring(conn, call.id, agency, &call.rules.scoring).await?;
    let mut candidates = Vec::new();
    let mut missing = Vec::new();
    for (id, protocol_number, review_status, requested_grant) in rows {
        let protocol = protocol_number.unwrap_or_default();
        match review_status.as_deref().and_then(ReviewStatus::parse) {
            Some(ReviewStatus::Inadmissible) => continue,
            Some(ReviewStatus::Admitted) => {}
            _ => {
                missing.push(not_ready(&protocol, None));
                continue;
            }
        }
        let (outcome, finals) = scoring.score(id);
        if outcome.method == ScoreMethod::Pending {
            let required = call.rules.scoring.evaluators_required;
            missing.push(not_ready(&protocol, Some((finals, required))));
            continue;
        }
        candidates.push(Candidate {
            application_id: id,
            protocol_number: protocol,
            score: outcome.score,
            criteria: outcome.criteria,
            requested: requested_grant
                .map(money)
                .transpose()?
                .unwrap_or(Money::ZERO),
        });
    }
    Ok(Inputs {
        candidates,
        envelope,
        missing,
    })
}

/// A version of a call's agency ranking, with its call.
pub struct Ranked<T> {
    pub call: Call,
    pub agency: AgencyCode,
    pub ranking: T,
}

/// Compute the agency's ranking and allocation from the current scores and envelope, and
/// store it as a draft version (its evaluators, once the window has closed).
pub async fn compute(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<Ranked<Version>, ApiError> {
    // Computing and approving are the agency's acts: administrators read and simulate.
    caller.require(&[Role::Evaluator])?;
    let call = for_agency(db, caller, call_id, agency).await?;
    closed(&call, now)?;
    let actor = caller.actor();
    let tx = begin_write(db).await?;
    let existing = rankings::heads(&tx, call.id, agency).await?;
    if existing.iter().any(|(_, _, status)| status.is_approved()) {
        return Err(already_approved());
    }
    let inputs = inputs(&tx, &call, agency).await?;
    if !inputs.missing.is_empty() {
        let (en, it) = inputs.missing_message();
        return Err(ApiError::from(ErrorCode::EvaluationsMissing.worded(
            format!("The ranking needs every application decided and scored: {en}"),
            format!("La graduatoria richiede che ogni domanda sia decisa e valutata: {it}"),
        )));
    }
    let policy = policy(&call);
    let allocation = rank_and_allocate(&inputs.candidates, inputs.envelope, &policy);
    let hash = inputs_hash(&inputs, &policy);
    let envelope = inputs.envelope;
    // The candidates are no longer needed while the version is written.
    drop(inputs);
    let version = existing.last().map(|(_, v, _)| v + 1).unwrap_or(1);
    let id = Uuid::new_v4();
    rankings::insert(
        &tx,
        NewVersion {
            id,
            call_id: call.id,
            agency,
            version,
            status: RankingVersionStatus::Draft,
            reason: "computed",
            inputs_sha256: &hash,
            envelope,
            allocation: &allocation,
            act_number: None,
            act_date: None,
            created_at: now,
            created_by: actor.user_id,
        },
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            ApiError::from(ErrorCode::RankingInProgress)
        } else {
            e.into()
        }
    })?;
    let computed = event::computed(id, call.id, agency, version, allocation.allocated);
    events::record(&tx, &actor, now, computed).await?;
    tx.commit().await?;
    // The version just written, as reading it back would give it.
    let ranking = Version {
        id,
        version,
        status: RankingVersionStatus::Draft,
        reason: "computed".into(),
        inputs_sha256: hash,
        allocation,
        act_number: None,
        act_date: None,
        created_at: rankings::as_stored(db, now),
        approved_at: None,
    };
    Ok(Ranked {
        call,
        agency,
        ranking,
    })
}

/// The current version of the agency's ranking (the latest).
pub async fn current(
    db: &DatabaseConnection,
    caller: &AuthUser,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<Ranked<Version>, ApiError> {
    let call = for_agency(db, caller, call_id, agency).await?;
    let ranking = rankings::latest(db, call.id, agency, false)
        .await?
        .ok_or_else(ranking_not_found)?;
    Ok(Ranked {
        call,
        agency,
        ranking,
    })
}

/// Every version of the agency's ranking, oldest first.
pub async fn versions(
    db: &DatabaseConnection,
    caller: &AuthUser,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<Vec<Version>, ApiError> {
    let call = for_agency(db, caller, call_id, agency).await?;
    Ok(rankings::versions(db, call.id, agency).await?)
}

/// The act that approves a ranking.
pub struct Approval {
    pub act_number: String,
    pub act_date: NaiveDate,
}

/// Approve the latest draft with its act (`parse`), unless its inputs changed since it was
/// computed: it is frozen, its funded applications are offered their grants and every lead
/// is told its outcome.
pub async fn approve(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    call_id: Uuid,
    agency: AgencyCode,
    parse: impl FnOnce() -> Result<Approval, ApiError>,
) -> Result<Ranked<Version>, ApiError> {
    caller.require(&[Role::Evaluator])?;
    let call = for_agency(db, caller, call_id, agency).await?;
    let Approval {
        act_number,
        act_date,
    } = parse()?;
    let mut v = Violations::new();
    v.extend(check_text("act_number", &act_number, 100));
    ApiError::check(v.into_vec())?;
    let act_number = act_number.trim();
    let actor = caller.actor();
    let tx = begin_write(db).await?;
    calls::lock_envelopes(&tx, call.id).await?;
    let all = rankings::heads(&tx, call.id, agency).await?;
    if all.iter().any(|(_, _, status)| status.is_approved()) {
        return Err(already_approved());
    }
    let (draft_id, _, _) = all
        .last()
        .ok_or_else(|| ApiError::from(ErrorCode::NoDraftRanking))?;
    let draft = rankings::get(&tx, *draft_id)
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the draft ranking vanished")))?;
    if draft.allocation.entries.is_empty() {
        return Err(ApiError::from(ErrorCode::RankingEmpty));
    }
    let inputs = inputs(&tx, &call, agency).await?;
    if !inputs.missing.is_empty() || inputs_hash(&inputs, &policy(&call)) != draft.inputs_sha256 {
        return Err(ApiError::from(ErrorCode::RankingStale));
    }
    if !rankings::approve(&tx, draft.id, act_number, act_date, now, actor.user_id).await? {
        return Err(already_approved());
    }
    let offers = Offer::of_allocation(
        call.id,
        agency,
        &draft.allocation,
        draft.version,
        call.rules.deadlines.acceptance_days,
        now,
    );
    grants::insert_offers(&tx, &offers).await?;
    // The results are published: every lead is told its outcome.
    let mut leads = notifications::lead_representatives_of_agency(&tx, call.id, agency).await?;
    let results = draft
        .allocation
        .entries
        .iter()
        .map(|e| Published {
            entry: e.clone(),
            leads: leads.remove(&e.application_id).unwrap_or_default(),
        })
        .collect();
    let mut recorded: Vec<_> = offers
        .into_iter()
        .map(|o| grant_event::offered(o, None))
        .collect();
    recorded.push(event::approved(draft.id, act_number, act_date, results));
    events::record_all(&tx, &actor, now, recorded).await?;
    tx.commit().await?;
    // The version just approved, as reading it back would give it.
    let ranking = Version {
        status: RankingVersionStatus::Approved,
        act_number: Some(act_number.to_owned()),
        act_date: Some(act_date),
        approved_at: Some(rankings::as_stored(db, now)),
        ..draft
    };
    Ok(Ranked {
        call,
        agency,
        ranking,
    })
}

/// A what-if: the same computation with another envelope, threshold or mode.
pub struct Simulation {
    pub envelope: Option<Money>,
    pub threshold: Option<Points>,
    pub mode: Option<AllocationMode>,
}

/// The same computation with another envelope, threshold or allocation mode (`parse`);
/// nothing is stored.
pub async fn simulate(
    db: &DatabaseConnection,
    caller: &AuthUser,
    call_id: Uuid,
    agency: AgencyCode,
    parse: impl FnOnce() -> Result<Simulation, ApiError>,
) -> Result<Allocation, ApiError> {
    let call = for_agency(db, caller, call_id, agency).await?;
    let what_if = parse()?;
    let inputs = inputs(db, &call, agency).await?;
    if !inputs.missing.is_empty() {
        let (en, it) = inputs.missing_message();
        return Err(ApiError::from(ErrorCode::EvaluationsMissing.worded(
            format!("Some applications are not decided or scored yet: {en}"),
            format!("Alcune domande non sono ancora decise o valutate: {it}"),
        )));
    }
    let mut policy = policy(&call);
    if let Some(t) = what_if.threshold {
        policy.threshold = t;
    }
    if let Some(m) = what_if.mode {
        policy.mode = m;
    }
    Ok(rank_and_allocate(
        &inputs.candidates,
        what_if.envelope.unwrap_or(inputs.envelope),
        &policy,
    ))
}

/// An agency's progress through a call.
pub struct Dashboard {
    pub call: Call,
    pub agency: AgencyCode,
    pub progress: Progress,
    pub envelope: Money,
    /// Offered and accepted grants.
    pub committed: Money,
    /// Paid out to the agency's projects.
    pub paid: Money,
    /// Paid beyond what its revoked or renounced grants allow, not yet paid back.
    pub to_recover: Money,
    pub free: Money,
    pub ranking_status: RankingStatus,
    pub approval_target_date: NaiveDate,
    pub warning: Option<String>,
}

/// Received, admitted, scored and eligible applications, and the committed and free money
/// of an agency in a call.
pub async fn dashboard(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<Dashboard, ApiError> {
    let call = for_agency(db, caller, call_id, agency).await?;
    let filter = applications::Filter {
        call_id: Some(call.id),
        agency: Some(agency),
        status: Some(ApplicationStatus::Submitted),
        ..Default::default()
    };
    let (apps, _) = applications::list(db, &filter, None).await?;
    let mut scoring = review::agency_scoring(db, call.id, agency, &call.rules.scoring).await?;
    let progress = Progress::count(apps.iter().map(|a| match a.review_status {
        Some(ReviewStatus::Admitted) => {
            let (outcome, _) = scoring.score(a.id);
            Reviewed::Admitted {
                scored: outcome.method != ScoreMethod::Pending,
                eligible: outcome.eligible == Some(true),
            }
        }
        Some(ReviewStatus::Inadmissible) => Reviewed::Inadmissible,
        _ => Reviewed::Pending,
    }));
    let envelope = calls::envelope_of(db, call.id, agency).await?;
    let agency_grants = grants::of_agency(db, call.id, agency).await?;
    let committed = grants::Grant::committed(&agency_grants);
    let used = used(db, call.id, agency, &agency_grants).await?;
    let paid = Money::sum(
        payments::paid_amounts(db, Some(call.id))
            .await?
            .into_iter()
            .filter(|m| m.agency == agency)
            .map(|m| m.amount),
    )
    .ok_or_else(|| anyhow::anyhow!("the payments of call {} overflow", call.id))?;
    let to_recover = Money::sum(
        recoveries::to_recover(db, Some(call.id))
            .await?
            .into_iter()
            .filter(|m| m.agency == agency)
            .map(|m| m.amount),
    )
    .ok_or_else(|| anyhow::anyhow!("the recoveries of call {} overflow", call.id))?;
    // From the versions' numbers and statuses alone: no allocation is read.
    let heads = rankings::heads(db, call.id, agency).await?;
    let ranking_status = RankingStatus::of(heads.iter().map(|(_, _, s)| *s));
    let approval_target_date = call
        .window
        .ranking_target_date(call.rules.ranking.approval_target_days);
    let warning = approval_warning(&call, ranking_status == RankingStatus::Approved, now);
    Ok(Dashboard {
        agency,
        progress,
        envelope,
        committed,
        paid,
        to_recover,
        free: envelope.checked_sub(used).unwrap_or(Money::ZERO),
        ranking_status,
        approval_target_date,
        warning,
        call,
    })
}

/// One published result: an application of an approved ranking (no personal data).
pub struct ResultRow {
    pub agency: AgencyCode,
    pub rank: Option<u32>,
    pub protocol_number: String,
    pub title: Option<String>,
    /// The lead organization (a natural person's name is never shown).
    pub recipient: String,
    pub score: Option<Score>,
    pub outcome: Outcome,
    pub amount: Money,
    pub act_number: Option<String>,
    pub act_date: Option<NaiveDate>,
    /// The lead organization's tax code, unless it is a natural person's.
    pub tax_code: Option<String>,
    /// The project's summary, as submitted.
    pub summary: Option<String>,
    /// The application's grant, once it has one.
    pub grant: Option<ResultGrant>,
}

/// What a published result shows of its grant: where it stands and the money it paid.
#[derive(Debug, Clone)]
pub struct ResultGrant {
    pub status: GrantStatus,
    /// The final grant, once the final report is verified.
    pub final_amount: Option<Money>,
    /// What was paid less what came back by settled recovery orders.
    pub disbursed: Money,
    /// The project's actual start and end, once it started.
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
}

/// The approved rankings of a published call, agency by agency, ranked entries only, each
/// with its grant (where it stands, what it paid).
pub async fn results(db: &DatabaseConnection, call_id: Uuid) -> Result<Vec<ResultRow>, ApiError> {
    let call = calls::get(db, call_id)
        .await?
        .filter(|c| c.status == CallStatus::Published)
        .ok_or_else(call_not_found)?;
    // The grants and their money, in three statements for the whole call.
    let paid = payments::paid_amounts(db, Some(call.id)).await?;
    let settled = recoveries::settled(db, call.id).await?;
    let disbursed = crate::domain::award::disbursed(
        paid.into_iter().map(|p| (p.grant_id, p.amount)),
        settled.into_iter().map(|r| (r.grant_id, r.amount)),
    )
    .ok_or_else(|| anyhow::anyhow!("the payments of call {} do not add up", call.id))?;
    let mut grant_of: HashMap<Uuid, ResultGrant> = grants::of_call(db, call.id)
        .await?
        .into_iter()
        .map(|g| {
            (
                g.application_id,
                ResultGrant {
                    status: g.status,
                    final_amount: g.final_amount,
                    disbursed: disbursed.get(&g.id).copied().unwrap_or(Money::ZERO),
                    start_date: g.start_date,
                    end_date: g.end_date,
                },
            )
        })
        .collect();
    let mut rows = Vec::new();
    for agency in AgencyCode::ALL {
        let Some(v) = rankings::latest(db, call.id, agency, true).await? else {
            continue;
        };
        // What the rows show of each application, in three statements per agency (the
        // applications' titles, streamed; the partnerships' leads; their organizations),
        // not three per ranked entry.
        let filter = applications::Filter {
            call_id: Some(call.id),
            agency_submitted: Some(agency),
            ..Default::default()
        };
        let mut apps = HashMap::new();
        applications::for_each(db, &filter, |a| {
            apps.insert(a.id, (a.content.title, a.content.summary, a.partnership_id));
            Ok(())
        })
        .await?;
        let leads = partnerships::leads_for_agency(db, call.id, agency).await?;
        for e in v.allocation.entries.iter().filter(|e| e.rank.is_some()) {
            let app = apps.get(&e.application_id);
            let lead = app.and_then(|(_, _, partnership)| leads.get(partnership));
            let recipient = match &lead {
                Some(o) if o.facts.tax_code.is_personal() => "(natural person)".to_owned(),
                Some(o) => o.facts.legal_name.clone(),
                None => String::new(),
            };
            rows.push(ResultRow {
                agency,
                rank: e.rank,
                protocol_number: e.protocol_number.clone(),
                title: app.and_then(|(title, _, _)| title.clone()),
                recipient,
                score: e.score,
                outcome: e.outcome,
                amount: e.amount,
                act_number: v.act_number.clone(),
                act_date: v.act_date,
                tax_code: lead
                    .filter(|o| !o.facts.tax_code.is_personal())
                    .map(|o| o.facts.tax_code.as_str().to_owned()),
                summary: app.and_then(|(_, summary, _)| summary.clone()),
                grant: grant_of.remove(&e.application_id),
            });
        }
    }
    Ok(rows)
}

/// What an agency's envelope cannot lend again: its offered and accepted grants, and what
/// its ended grants paid and did not get back (recovery orders issued or given up).
pub(super) async fn used<C: sea_orm::ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    agency: AgencyCode,
    grants: &[grants::Grant],
) -> Result<Money, ApiError> {
    let held = recoveries::held(conn, call_id, agency).await?;
    grants::Grant::committed(grants)
        .checked_add(held)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the money of call {call_id} overflows")))
}

/// After money is freed in an approved ranking (a decline, a lapse, a revocation, a larger
/// envelope), publish a new version in which it went down the list, inside the freeing
/// transaction: top up the partial grant, offer the next ones, and tell their leads.
pub async fn scorrimento_after<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    call_id: Uuid,
    agency: AgencyCode,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let call = calls::get(conn, call_id)
        .await?
        .ok_or_else(call_not_found)?;
    let latest = rankings::latest(conn, call_id, agency, false).await?;
    let Some(latest) = latest.as_ref().filter(|v| v.status.is_approved()) else {
        return Ok(());
    };
    // Past the call's scorrimento months, freed money stays in the envelope, unused.
    let first = rankings::first_approval(conn, call_id, agency).await?;
    if !scorrimento_open(&call.rules.post_award, first, now) {
        return Ok(());
    }
    let grants = grants::of_agency(conn, call_id, agency).await?;
    let lapsed: BTreeSet<Uuid> = grants
        .iter()
        .filter(|g| {
            matches!(
                g.status,
                GrantStatus::Declined
                    | GrantStatus::Expired
                    | GrantStatus::Revoked
                    | GrantStatus::Renounced
            )
        })
        .map(|g| g.application_id)
        .collect();
    let envelope = calls::envelope_of(conn, call_id, agency).await?;
    let free = envelope
        .checked_sub(used(conn, call_id, agency, &grants).await?)
        .unwrap_or(Money::ZERO);
    // Verified projects: their final grant is settled, never raised.
    let settled: std::collections::BTreeMap<Uuid, Money> = grants
        .iter()
        .filter(|g| g.status.commits())
        .filter_map(|g| Some((g.application_id, g.final_amount?)))
        .collect();
    let next = scorrimento(
        &latest.allocation,
        envelope,
        free,
        &lapsed,
        &settled,
        &policy(&call),
    );
    let version = latest.version + 1;
    rankings::insert(
        conn,
        NewVersion {
            id: Uuid::new_v4(),
            call_id,
            agency,
            version,
            status: RankingVersionStatus::Approved,
            reason,
            inputs_sha256: &latest.inputs_sha256,
            envelope: next.envelope,
            allocation: &next,
            act_number: latest.act_number.as_deref(),
            act_date: latest.act_date,
            created_at: now,
            created_by: actor.user_id,
        },
    )
    .await?;
    for e in next
        .entries
        .iter()
        .filter(|e| matches!(e.outcome, Outcome::Funded | Outcome::PartiallyFunded))
    {
        let existing = grants
            .iter()
            .find(|g| g.application_id == e.application_id && g.status.commits());
        let happened = match existing {
            Some(g) if g.amount == e.amount => continue,
            // A verified project's grant is final: never topped up.
            Some(g) if g.final_amount.is_some() => continue,
            Some(g) => {
                grants::top_up(conn, g.id, e.amount).await?;
                grant_event::topped_up(g.id, e.application_id, e.protocol_number.clone(), e.amount)
            }
            None => {
                let offer = Offer::new(
                    call_id,
                    agency,
                    e.application_id,
                    e.amount,
                    e.requested,
                    version,
                    call.rules.deadlines.acceptance_days,
                    now,
                );
                grants::insert_offer(conn, &offer).await?;
                grant_event::offered(offer, Some(e.protocol_number.clone()))
            }
        };
        events::record(conn, actor, now, happened).await?;
    }
    let published = event::scorrimento(call_id, agency, version, reason, next.allocated);
    events::record(conn, actor, now, published).await?;
    Ok(())
}
