//! Rankings: their inputs read from the review, and every stored version.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::audit::{self, Actor, Change};
use super::calls;
use super::rows::money;
use super::{begin_write, notifications, review};
use crate::domain::agency::AgencyCode;
use crate::domain::application::ApplicationStatus;
use crate::domain::call::Call;
use crate::domain::money::Money;
use crate::domain::ranking::{Allocation, Candidate, Outcome, Policy, rank_and_allocate};
use crate::domain::review::{ReviewStatus, ScoreMethod};
use crate::domain::violation::{Msg, Violation};
use crate::entity::{application, ranking_version};
use crate::error::ApiError;

/// What a ranking is computed from, and what still stands in its way.
pub struct Inputs {
    pub candidates: Vec<Candidate>,
    pub envelope: Money,
    /// Applications still under review, or admitted without enough final evaluations.
    pub missing: Vec<Violation>,
}

/// What a ranking reads of an application: id, protocol number, review status, requested grant.
type CandidateRow = (Uuid, Option<String>, Option<String>, Option<Decimal>);

/// Read a ranking's inputs: the agency's envelope and every submitted application of the
/// call for it, with its score.
pub async fn inputs<C: ConnectionTrait + sea_orm::StreamTrait>(
    conn: &C,
    call: &Call,
    agency: AgencyCode,
) -> Result<Inputs, ApiError> {
    let envelope = calls::envelope_of(conn, call.id, agency).await?;
    // Only what a candidate needs: not the content nor the snapshot.
    let rows: Vec<CandidateRow> = application::Entity::find()
        .select_only()
        .columns([
            application::Column::Id,
            application::Column::ProtocolNumber,
            application::Column::ReviewStatus,
            application::Column::RequestedGrant,
        ])
        .filter(application::Column::CallId.eq(call.id))
        .filter(application::Column::AgencyCode.eq(agency.as_str()))
        .filter(application::Column::Status.eq(ApplicationStatus::Submitted.as_str()))
        .order_by_asc(application::Column::ProtocolNumber)
        .into_tuple()
        .all(conn)
        .await?;
    let mut scoring = review::agency_scoring(conn, call.id, agency).await?;
    let mut candidates = Vec::new();
    let mut missing = Vec::new();
    for (id, protocol_number, review_status, requested_grant) in rows {
        let protocol = protocol_number.unwrap_or_default();
        match review_status.as_deref().and_then(ReviewStatus::parse) {
            Some(ReviewStatus::Inadmissible) => continue,
            Some(ReviewStatus::Admitted) => {}
            _ => {
                missing.push(Violation::new(
                    "applications",
                    "review_pending",
                    format!("{protocol} has no admissibility decision yet."),
                    format!("{protocol} non ha ancora una decisione di ammissibilità."),
                ));
                continue;
            }
        }
        let (outcome, finals) = scoring.score(id, &call.rules.scoring);
        if outcome.method == ScoreMethod::Pending {
            missing.push(Violation::new(
                "applications",
                "evaluations_missing",
                format!(
                    "{protocol} has {finals} of the {} final evaluations required.",
                    call.rules.scoring.evaluators_required
                ),
                format!(
                    "{protocol} ha {finals} delle {} valutazioni definitive richieste.",
                    call.rules.scoring.evaluators_required
                ),
            ));
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

/// The policy of a call's rankings.
pub fn policy(call: &Call) -> Policy {
    Policy {
        threshold: call.rules.scoring.threshold,
        tie_breaks: call.rules.ranking.tie_breaks.clone(),
        mode: call.rules.ranking.allocation_mode,
        partial: call.rules.ranking.partial_funding.clone(),
    }
}

/// A hash of everything a ranking depends on, to tell a stale draft.
pub fn inputs_hash(inputs: &Inputs, policy: &Policy) -> String {
    let doc = json!({
        "envelope": inputs.envelope,
        "threshold": policy.threshold,
        "tie_breaks": policy.tie_breaks,
        "mode": policy.mode,
        "partial": policy.partial,
        "candidates": inputs.candidates.iter().map(|c| json!({
            "application_id": c.application_id, "protocol_number": c.protocol_number, "score": c.score.map(|s| s.to_string()),
            "criteria": c.criteria.iter().map(|(k, v)| json!([k, v.to_string()])).collect::<Vec<_>>(), "requested": c.requested,
        })).collect::<Vec<_>>(),
    });
    let canonical = serde_json_canonicalizer::to_string(&doc).unwrap_or_default();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// A stored version of a ranking.
#[derive(Debug, Clone)]
pub struct Version {
    pub id: Uuid,
    pub version: i32,
    pub approved: bool,
    pub reason: String,
    pub inputs_sha256: String,
    pub allocation: Allocation,
    pub act_number: Option<String>,
    pub act_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
}

fn to_version(m: ranking_version::Model) -> Result<Version, DbErr> {
    Ok(Version {
        id: m.id,
        version: m.version,
        approved: m.status == "approved",
        reason: m.reason,
        inputs_sha256: m.inputs_sha256,
        allocation: serde_json::from_str(&m.allocation)
            .map_err(|e| DbErr::Custom(format!("ranking {} is invalid: {e}", m.id)))?,
        act_number: m.act_number,
        act_date: m.act_date,
        created_at: m.created_at,
        approved_at: m.approved_at,
    })
}

/// Every version of an agency's ranking, oldest first.
pub async fn versions<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<Vec<Version>, DbErr> {
    ranking_version::Entity::find()
        .filter(ranking_version::Column::CallId.eq(call_id))
        .filter(ranking_version::Column::AgencyCode.eq(agency.as_str()))
        .order_by_asc(ranking_version::Column::Version)
        .all(conn)
        .await?
        .into_iter()
        .map(to_version)
        .collect()
}

/// The latest version of an agency's ranking (the latest approved one with `approved_only`):
/// one row, however many versions there are.
pub async fn latest<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    agency: AgencyCode,
    approved_only: bool,
) -> Result<Option<Version>, DbErr> {
    let mut q = ranking_version::Entity::find()
        .filter(ranking_version::Column::CallId.eq(call_id))
        .filter(ranking_version::Column::AgencyCode.eq(agency.as_str()));
    if approved_only {
        q = q.filter(ranking_version::Column::Status.eq("approved"));
    }
    q.order_by_desc(ranking_version::Column::Version)
        .one(conn)
        .await?
        .map(to_version)
        .transpose()
}

/// The id, number and status of every version of an agency's ranking, oldest first: what
/// deciding the next version needs, without reading the allocations.
pub async fn heads<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<Vec<(Uuid, i32, String)>, DbErr> {
    ranking_version::Entity::find()
        .select_only()
        .columns([
            ranking_version::Column::Id,
            ranking_version::Column::Version,
            ranking_version::Column::Status,
        ])
        .filter(ranking_version::Column::CallId.eq(call_id))
        .filter(ranking_version::Column::AgencyCode.eq(agency.as_str()))
        .order_by_asc(ranking_version::Column::Version)
        .into_tuple()
        .all(conn)
        .await
}

/// Whether an agency's ranking of a call has been approved (its results are published).
pub async fn approved<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<bool, DbErr> {
    Ok(heads(conn, call_id, agency)
        .await?
        .iter()
        .any(|(_, _, status)| status == "approved"))
}

/// A time as the database gives it back: PostgreSQL keeps microseconds (and the driver
/// truncates), SQLite keeps the text of all of it.
fn as_stored<C: ConnectionTrait>(conn: &C, t: DateTime<Utc>) -> DateTime<Utc> {
    match conn.get_database_backend() {
        DatabaseBackend::Postgres => t.trunc_subsecs(6),
        _ => t,
    }
}

fn already_approved() -> ApiError {
    ApiError::conflict(
        "ranking_already_approved",
        "The agency's ranking is approved: it changes only through new published versions (freed money, reallocations).",
        "La graduatoria dell'ATS è approvata: cambia solo con nuove versioni pubblicate (risorse liberate, riassegnazioni).",
    )
}

/// Compute and store a draft version of the ranking.
pub async fn compute_draft(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    call: &Call,
    agency: AgencyCode,
) -> Result<Version, ApiError> {
    let tx = begin_write(db).await?;
    let existing = heads(&tx, call.id, agency).await?;
    if existing.iter().any(|(_, _, status)| status == "approved") {
        return Err(already_approved());
    }
    let inputs = inputs(&tx, call, agency).await?;
    if !inputs.missing.is_empty() {
        return Err(ApiError::Conflict {
            code: "evaluations_missing",
            message: Msg::new(
                format!(
                    "The ranking needs every application decided and scored: {}",
                    inputs
                        .missing
                        .iter()
                        .map(|v| v.message.en.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                format!(
                    "La graduatoria richiede che ogni domanda sia decisa e valutata: {}",
                    inputs
                        .missing
                        .iter()
                        .map(|v| v.message.it.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            ),
        });
    }
    let policy = policy(call);
    let allocation = rank_and_allocate(&inputs.candidates, inputs.envelope, &policy);
    let hash = inputs_hash(&inputs, &policy);
    let version = existing.last().map(|(_, v, _)| v + 1).unwrap_or(1);
    let id = Uuid::new_v4();
    ranking_version::ActiveModel {
        id: Set(id),
        call_id: Set(call.id),
        agency_code: Set(agency.as_str().to_owned()),
        version: Set(version),
        status: Set("draft".into()),
        reason: Set("computed".into()),
        inputs_sha256: Set(hash.clone()),
        envelope: Set(inputs.envelope.as_decimal()),
        allocation: Set(serde_json::to_string(&allocation).map_err(anyhow::Error::from)?),
        act_number: Set(None),
        act_date: Set(None),
        created_at: Set(now),
        created_by: Set(actor.user_id),
        approved_at: Set(None),
        approved_by: Set(None),
    }
    .insert(&tx)
    .await
    .map_err(|e| {
        if super::is_unique_violation(&e) {
            ApiError::conflict("ranking_in_progress", "Another computation of this ranking ran at the same time: read the current version.", "Un altro calcolo di questa graduatoria è avvenuto nello stesso momento: leggere la versione corrente.")
        } else {
            e.into()
        }
    })?;
    audit::record(
        &tx,
        actor,
        now,
        Change { action: "ranking.computed", entity_type: "ranking", entity_id: id.to_string(), before: None, after: Some(json!({"call_id": call.id, "agency": agency, "version": version, "allocated": allocation.allocated})) },
    )
    .await?;
    tx.commit().await?;
    // The version just written, as reading it back would give it.
    Ok(Version {
        id,
        version,
        approved: false,
        reason: "computed".into(),
        inputs_sha256: hash,
        allocation,
        act_number: None,
        act_date: None,
        created_at: as_stored(db, now),
        approved_at: None,
    })
}

/// Approve the latest draft with its act, unless its inputs changed since it was computed.
pub async fn approve(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    call: &Call,
    agency: AgencyCode,
    act_number: &str,
    act_date: NaiveDate,
) -> Result<Version, ApiError> {
    let tx = begin_write(db).await?;
    calls::lock_envelopes(&tx, call.id).await?;
    let all = heads(&tx, call.id, agency).await?;
    if all.iter().any(|(_, _, status)| status == "approved") {
        return Err(already_approved());
    }
    let (draft_id, _, _) = all.last().ok_or_else(|| {
        ApiError::conflict(
            "no_draft_ranking",
            "There is no draft ranking to approve: compute one first.",
            "Non c'è una graduatoria in bozza da approvare: calcolarne prima una.",
        )
    })?;
    let draft = ranking_version::Entity::find_by_id(*draft_id)
        .one(&tx)
        .await?
        .map(to_version)
        .transpose()?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the draft ranking vanished")))?;
    if draft.allocation.entries.is_empty() {
        return Err(ApiError::conflict(
            "ranking_empty",
            "The draft ranking has no application: there is nothing to approve.",
            "La graduatoria in bozza non ha domande: non c'è nulla da approvare.",
        ));
    }
    let inputs = inputs(&tx, call, agency).await?;
    if !inputs.missing.is_empty() || inputs_hash(&inputs, &policy(call)) != draft.inputs_sha256 {
        return Err(ApiError::conflict(
            "ranking_stale",
            "The inputs changed since the draft was computed (scores, withdrawals, envelope): compute it again.",
            "I dati sono cambiati dal calcolo della bozza (punteggi, ritiri, dotazione): ricalcolarla.",
        ));
    }
    let updated = ranking_version::Entity::update_many()
        .set(ranking_version::ActiveModel {
            status: Set("approved".into()),
            act_number: Set(Some(act_number.to_owned())),
            act_date: Set(Some(act_date)),
            approved_at: Set(Some(now)),
            approved_by: Set(actor.user_id),
            ..Default::default()
        })
        .filter(ranking_version::Column::Id.eq(draft.id))
        .filter(ranking_version::Column::Status.eq("draft"))
        .exec(&tx)
        .await?;
    if updated.rows_affected != 1 {
        return Err(already_approved());
    }
    super::grants::offer_all(
        &tx,
        call.id,
        agency,
        &draft.allocation,
        draft.version,
        call.rules.deadlines.acceptance_days,
        now,
    )
    .await?;
    // The results are published: every lead is told its outcome.
    let leads = notifications::lead_representatives_of_agency(&tx, call.id, agency).await?;
    let mut notices = Vec::with_capacity(draft.allocation.entries.len());
    for e in &draft.allocation.entries {
        let (en, it) = match e.outcome {
            Outcome::Funded => (
                format!("Application {} is funded: {}.", e.protocol_number, e.amount),
                format!(
                    "La domanda {} è finanziata: {}.",
                    e.protocol_number, e.amount
                ),
            ),
            Outcome::PartiallyFunded => (
                format!(
                    "Application {} is partially funded: {} of {}.",
                    e.protocol_number, e.amount, e.requested
                ),
                format!(
                    "La domanda {} è finanziata parzialmente: {} su {}.",
                    e.protocol_number, e.amount, e.requested
                ),
            ),
            Outcome::Reserve => (
                format!(
                    "Application {} is eligible and in the reserve list.",
                    e.protocol_number
                ),
                format!(
                    "La domanda {} è idonea e in graduatoria di riserva.",
                    e.protocol_number
                ),
            ),
            Outcome::Lapsed => continue,
            Outcome::NotEligible => (
                format!(
                    "Application {} did not reach the threshold.",
                    e.protocol_number
                ),
                format!(
                    "La domanda {} non ha raggiunto la soglia.",
                    e.protocol_number
                ),
            ),
        };
        notices.push(notifications::Outgoing {
            users: leads
                .get(&e.application_id)
                .map(Vec::as_slice)
                .unwrap_or_default(),
            kind: "ranking_approved",
            message: Msg::new(en, it),
            data: json!({"application_id": e.application_id, "outcome": e.outcome, "amount": e.amount}),
        });
    }
    notifications::notify_all(&tx, notices, now).await?;
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "ranking.approved",
            entity_type: "ranking",
            entity_id: draft.id.to_string(),
            before: Some(json!({"status": "draft"})),
            after: Some(
                json!({"status": "approved", "act_number": act_number, "act_date": act_date}),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    // The version just approved, as reading it back would give it.
    Ok(Version {
        approved: true,
        act_number: Some(act_number.to_owned()),
        act_date: Some(act_date),
        approved_at: Some(as_stored(db, now)),
        ..draft
    })
}

/// After money is freed in an approved ranking (a decline), publish a new version in which
/// it went down the list, inside the freeing transaction: top up the partial grant, offer
/// the next ones, and tell their leads.
pub async fn scorrimento_after<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    call_id: Uuid,
    agency: AgencyCode,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    use crate::domain::grant::GrantStatus;
    let call = calls::get(conn, call_id)
        .await?
        .ok_or_else(crate::service::calls::call_not_found)?;
    let latest = latest(conn, call_id, agency, false).await?;
    let Some(latest) = latest.as_ref().filter(|v| v.approved) else {
        return Ok(());
    };
    let grants = super::grants::of_agency(conn, call_id, agency).await?;
    let lapsed: std::collections::BTreeSet<Uuid> = grants
        .iter()
        .filter(|g| {
            matches!(
                g.status,
                GrantStatus::Declined | GrantStatus::Expired | GrantStatus::Revoked
            )
        })
        .map(|g| g.application_id)
        .collect();
    let envelope = calls::envelope_of(conn, call_id, agency).await?;
    let free = envelope
        .checked_sub(super::grants::committed(&grants))
        .unwrap_or(Money::ZERO);
    let next = crate::domain::ranking::scorrimento(
        &latest.allocation,
        envelope,
        free,
        &lapsed,
        &policy(&call),
    );
    let version = latest.version + 1;
    ranking_version::ActiveModel {
        id: Set(Uuid::new_v4()),
        call_id: Set(call_id),
        agency_code: Set(agency.as_str().to_owned()),
        version: Set(version),
        status: Set("approved".into()),
        reason: Set(reason.to_owned()),
        inputs_sha256: Set(latest.inputs_sha256.clone()),
        envelope: Set(next.envelope.as_decimal()),
        allocation: Set(serde_json::to_string(&next).map_err(anyhow::Error::from)?),
        act_number: Set(latest.act_number.clone()),
        act_date: Set(latest.act_date),
        created_at: Set(now),
        created_by: Set(actor.user_id),
        approved_at: Set(Some(now)),
        approved_by: Set(actor.user_id),
    }
    .insert(conn)
    .await?;
    for e in next
        .entries
        .iter()
        .filter(|e| matches!(e.outcome, Outcome::Funded | Outcome::PartiallyFunded))
    {
        let existing = grants
            .iter()
            .find(|g| g.application_id == e.application_id && g.status.commits());
        let message = match existing {
            Some(g) if g.amount == e.amount => continue,
            Some(g) => {
                super::grants::top_up(conn, g.id, e.amount).await?;
                Msg::new(
                    format!(
                        "The grant of {} rises to {} (scorrimento).",
                        e.protocol_number, e.amount
                    ),
                    format!(
                        "Il contributo della domanda {} sale a {} (scorrimento).",
                        e.protocol_number, e.amount
                    ),
                )
            }
            None => {
                super::grants::offer(
                    conn,
                    call_id,
                    agency,
                    e.application_id,
                    e.amount,
                    e.requested,
                    version,
                    call.rules.deadlines.acceptance_days,
                    now,
                )
                .await?;
                Msg::new(
                    format!(
                        "Application {} is now funded: {} (scorrimento). Accept or decline by the deadline.",
                        e.protocol_number, e.amount
                    ),
                    format!(
                        "La domanda {} è ora finanziata: {} (scorrimento). Accettare o rinunciare entro il termine.",
                        e.protocol_number, e.amount
                    ),
                )
            }
        };
        let recipients = notifications::lead_representatives(conn, e.application_id).await?;
        notifications::notify(
            conn,
            &recipients,
            "grant_offered",
            message,
            json!({"application_id": e.application_id, "amount": e.amount}),
            now,
        )
        .await?;
    }
    audit::record(
        conn,
        actor,
        now,
        Change {
            action: "ranking.scorrimento",
            entity_type: "ranking",
            entity_id: format!("{call_id}:{agency}:{version}"),
            before: None,
            after: Some(json!({"reason": reason, "allocated": next.allocated})),
        },
    )
    .await?;
    Ok(())
}
