//! The final report of a project: the lead drafts it (`PATCH` with `If-Match`, evidence files
//! uploaded through `documents`), submits it once with a receipt; the ATS asks for integration
//! or verifies it line by line, and the verification settles the money: the balance payment
//! of exactly final grant − paid, or a recovery order for what was paid beyond it, and what the
//! final grant leaves of the award goes back to the envelope (down the reserve list while the
//! scorrimento is open). Every step locks the grant's row, as the payments do.

use std::collections::BTreeSet;

use chrono::{DateTime, DurationRound, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::events;
use super::grants::{grant_not_found, led, seen};
use super::rankings::scorrimento_after;
use crate::auth::AuthUser;
use crate::clock::Clock;
use crate::domain::ErrorCode;
use crate::domain::award::{
    self, DecisionInput, EVIDENCE_KIND, LineDecision, ReportContent, ReportStatus, Verification,
    check_report, report_blocking, report_deadline, report_flagged, report_overdue,
    report_protocol,
};
use crate::domain::call::{Call, rome_day};
use crate::domain::event::report::{self as event, ReportEvent, ReportStep};
use crate::domain::grant::GrantStatus;
use crate::domain::money::Money;
use crate::domain::partnership::Access;
use crate::domain::user::Role;
use crate::domain::version::Expected;
use crate::domain::violation::Violation;
use crate::error::ApiError;
use crate::store::applications::{self as app_store, Document};
use crate::store::{begin_write, calls, grants, payments, recoveries, reports};

pub use crate::store::grants::Grant;
pub use crate::store::reports::StoredReport;

/// A project's final report as its reader sees it.
#[derive(Debug, Clone)]
pub struct Shown {
    pub grant: Grant,
    pub report: StoredReport,
    /// For a draft, what still stops its submission.
    pub blocking: Vec<Violation>,
    /// The last day to submit it.
    pub deadline: Option<NaiveDate>,
    /// Submitted late, or still not submitted past its deadline.
    pub overdue: bool,
    /// Its evidence files.
    pub evidence: Vec<Document>,
}

fn project_not_started() -> ApiError {
    ApiError::from(ErrorCode::ProjectNotStarted)
}

/// The report of a project that has none stored yet: an empty draft, version 1.
fn empty(g: &Grant, now: DateTime<Utc>) -> StoredReport {
    let at = g.started_at.unwrap_or(now);
    StoredReport {
        id: Uuid::new_v4(),
        grant_id: g.id,
        call_id: g.call_id,
        agency: g.agency,
        status: ReportStatus::Draft,
        version: 1,
        content: ReportContent::default(),
        created_at: at,
        updated_at: at,
        protocol_number: None,
        submitted_at: None,
        snapshot: None,
        snapshot_sha256: None,
        overdue: false,
        integration: None,
        verification: None,
        verified_at: None,
        verified_by: None,
        eligible_cost: None,
        final_grant: None,
        under_realised: None,
    }
}

/// The report of a project, stored or the empty draft, and whether it is stored.
async fn report_of<C: ConnectionTrait>(
    conn: &C,
    g: &Grant,
    now: DateTime<Utc>,
) -> Result<(StoredReport, bool), ApiError> {
    Ok(match reports::of_grant(conn, g.id).await? {
        Some(r) => (r, true),
        None => (empty(g, now), false),
    })
}

/// The evidence files of a project's report: its application's documents of that kind.
async fn evidence_of<C: ConnectionTrait>(conn: &C, g: &Grant) -> Result<Vec<Document>, ApiError> {
    Ok(app_store::documents(conn, g.application_id)
        .await?
        .into_iter()
        .filter(|d| d.kind == EVIDENCE_KIND)
        .collect())
}

fn ids(docs: &[Document]) -> BTreeSet<Uuid> {
    docs.iter().map(|d| d.id).collect()
}

async fn call_of<C: ConnectionTrait>(conn: &C, g: &Grant) -> Result<Call, ApiError> {
    calls::get(conn, g.call_id)
        .await?
        .ok_or_else(grant_not_found)
}

/// The report as `caller` (with `access` to the project's application) sees it: the signers'
/// tax codes of its evidence masked as an annex's are.
async fn shown(
    conn: &DatabaseConnection,
    caller: &AuthUser,
    access: Access,
    g: Grant,
    report: StoredReport,
    now: DateTime<Utc>,
) -> Result<Shown, ApiError> {
    let call = call_of(conn, &g).await?;
    let deadline = g
        .end_date
        .map(|end| report_deadline(&call.rules.post_award, end));
    let live = g.status == GrantStatus::Accepted;
    let submitted_late = report.submitted_at.map(|_| report.overdue);
    let overdue = report_flagged(deadline, submitted_late, live, now);
    let mut evidence = evidence_of(conn, &g).await?;
    super::signers::mask(conn, caller, access, &mut evidence).await?;
    let blocking = if report.status == ReportStatus::Draft {
        let mut b = check_report(
            &report.content,
            &call.rules,
            &members(conn, &g).await?,
            &ids(&evidence),
        );
        b.extend(report_blocking(&report.content));
        b
    } else {
        vec![]
    };
    Ok(Shown {
        grant: g,
        report,
        blocking,
        deadline,
        overdue,
        evidence,
    })
}

/// The project's members in its current version (after any approved partner change).
async fn members<C: ConnectionTrait>(conn: &C, g: &Grant) -> Result<BTreeSet<Uuid>, ApiError> {
    Ok(super::variations::current_version(conn, g)
        .await?
        .member_ids())
}

/// A project whose report can be written: accepted, started, not ended.
fn started(g: &Grant) -> Result<(), ApiError> {
    if g.status != GrantStatus::Accepted || g.start_date.is_none() {
        return Err(project_not_started());
    }
    Ok(())
}

/// Read the final report of a project the caller may see (an empty draft before the lead
/// writes it); 404 for a project that never started.
pub async fn read(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<Shown, ApiError> {
    let (g, access) = seen(db, caller, now, id).await?;
    let (report, stored) = report_of(db, &g, now).await?;
    if !stored && g.start_date.is_none() {
        return Err(ApiError::from(ErrorCode::ReportNotFound));
    }
    shown(db, caller, access, g, report, now).await
}

/// One evidence file of a project's report, for whoever may read the report.
pub async fn evidence(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    document_id: Uuid,
) -> Result<Document, ApiError> {
    let (g, access) = seen(db, caller, now, id).await?;
    let doc = app_store::document(db, g.application_id, document_id)
        .await?
        .filter(|d| d.kind == EVIDENCE_KIND)
        .ok_or_else(|| ApiError::from(ErrorCode::DocumentNotFound))?;
    let mut docs = [doc];
    super::signers::mask(db, caller, access, &mut docs).await?;
    let [doc] = docs;
    Ok(doc)
}

/// What an evidence upload needs to know once the caller may upload: the project's
/// application, its call's rules.
pub struct EvidenceTarget {
    pub grant_id: Uuid,
    pub application_id: Uuid,
    pub call: Call,
}

/// Whether the report still takes evidence: a draft, or an open request for integration.
fn takes_evidence(r: &StoredReport) -> Result<(), ApiError> {
    match r.status {
        ReportStatus::Draft => Ok(()),
        ReportStatus::IntegrationRequested
            if r.integration.as_ref().is_some_and(|i| i.answer.is_none()) =>
        {
            Ok(())
        }
        _ => Err(ApiError::from(ErrorCode::ReportSubmitted)),
    }
}

/// The lead may upload evidence to its started project's report while it is a draft or asked
/// for integration.
pub async fn evidence_target(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<EvidenceTarget, ApiError> {
    let g = led(db, caller, now, id).await?;
    started(&g)?;
    let (report, _) = report_of(db, &g, now).await?;
    takes_evidence(&report)?;
    let call = call_of(db, &g).await?;
    Ok(EvidenceTarget {
        grant_id: g.id,
        application_id: g.application_id,
        call,
    })
}

/// Inside an upload's transaction: lock the project and find its report still taking
/// evidence.
pub async fn lock_for_evidence<C: ConnectionTrait>(
    conn: &C,
    grant_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let g = grants::get_for_update(conn, grant_id)
        .await?
        .ok_or_else(grant_not_found)?;
    started(&g)?;
    let (report, _) = report_of(conn, &g, now).await?;
    takes_evidence(&report)
}

/// The audit's view of a report's state.
fn facts(r: &StoredReport) -> Value {
    json!({"status": r.status, "version": r.version, "content": r.content,
        "protocol_number": r.protocol_number, "snapshot_sha256": r.snapshot_sha256})
}

/// Change the draft under optimistic concurrency: `parse` (called once the caller is known to
/// lead the project) gives the version the change is based on and the change. Lines without
/// an id get one; every rule of the content is checked and listed.
pub async fn update<M>(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<(Expected, M), ApiError>,
) -> Result<Shown, ApiError>
where
    M: FnOnce(&ReportContent) -> Result<ReportContent, ApiError>,
{
    let g = led(db, caller, now, id).await?;
    let (expected, change) = parse()?;
    let tx = begin_write(db).await?;
    let g = grants::get_for_update(&tx, g.id)
        .await?
        .ok_or_else(grant_not_found)?;
    started(&g)?;
    let (current, stored) = report_of(&tx, &g, now).await?;
    if !expected.matches(current.version) {
        return Err(ApiError::PreconditionFailed);
    }
    award::may_edit(current.status)?;
    let mut content = change(&current.content)?;
    content.assign_ids(Uuid::new_v4);
    let call = call_of(&tx, &g).await?;
    let evidence = evidence_of(&tx, &g).await?;
    ApiError::check(check_report(
        &content,
        &call.rules,
        &members(&tx, &g).await?,
        &ids(&evidence),
    ))?;
    let next = StoredReport {
        content,
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    };
    if !reports::save(&tx, &next, stored.then_some(current.version)).await? {
        return Err(ApiError::PreconditionFailed);
    }
    let changed = ReportEvent {
        grant_id: g.id,
        application_id: g.application_id,
        agency: g.agency,
        step: ReportStep::Changed,
    };
    events::record(
        &tx,
        &caller.actor(),
        now,
        event::step(next.id, changed, Some(facts(&current)), facts(&next)),
    )
    .await?;
    tx.commit().await?;
    shown(db, caller, Access::Manage, g, next, now).await
}

/// Submit the draft, once: every rule of the content and what blocks it are checked and
/// listed; the receipt's snapshot (the content, the evidence files' names and SHA-256, the
/// protocol number, the time) is hashed; a report after its deadline is accepted and flagged.
pub async fn submit(
    db: &DatabaseConnection,
    caller: &AuthUser,
    clock: &dyn Clock,
    id: Uuid,
) -> Result<Shown, ApiError> {
    let g = led(db, caller, clock.now(), id).await?;
    let tx = begin_write(db).await?;
    let g = grants::get_for_update(&tx, g.id)
        .await?
        .ok_or_else(grant_not_found)?;
    started(&g)?;
    // Microseconds: what both databases store, so that the receipt and its snapshot agree.
    let now = clock.now();
    let now = now
        .duration_trunc(chrono::TimeDelta::microseconds(1))
        .unwrap_or(now);
    let (current, stored) = report_of(&tx, &g, now).await?;
    award::may_edit(current.status)?;
    let call = call_of(&tx, &g).await?;
    let evidence = evidence_of(&tx, &g).await?;
    let mut problems = check_report(
        &current.content,
        &call.rules,
        &members(&tx, &g).await?,
        &ids(&evidence),
    );
    problems.extend(report_blocking(&current.content));
    ApiError::check(problems)?;
    let app = app_store::get(&tx, g.application_id)
        .await?
        .ok_or_else(grant_not_found)?;
    let protocol = report_protocol(app.protocol_number.as_deref().unwrap_or_default());
    let deadline = g
        .end_date
        .map(|end| report_deadline(&call.rules.post_award, end));
    let overdue = deadline.is_some_and(|d| report_overdue(d, Some(now), now));
    let used = current.content.evidence();
    let snapshot = json!({
        "report_id": current.id,
        "grant_id": g.id,
        "application_id": g.application_id,
        "protocol_number": protocol,
        "submitted_at": now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "call": {"id": call.id, "code": call.code},
        "content": current.content,
        "evidence": evidence.iter().filter(|d| used.contains(&d.id)).map(|d| json!({
            "id": d.id, "file_name": d.file_name, "size_bytes": d.size_bytes, "sha256": d.sha256,
        })).collect::<Vec<_>>(),
        "deadline": deadline,
        "overdue": overdue,
    });
    let canonical = serde_json_canonicalizer::to_string(&snapshot).map_err(anyhow::Error::from)?;
    let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
    let next = StoredReport {
        status: ReportStatus::Submitted,
        version: current.version + 1,
        updated_at: now,
        protocol_number: Some(protocol.clone()),
        submitted_at: Some(now),
        snapshot: Some(canonical),
        snapshot_sha256: Some(hash),
        overdue,
        ..current.clone()
    };
    if !reports::save(&tx, &next, stored.then_some(current.version)).await? {
        return Err(ApiError::from(ErrorCode::ReportSubmitted));
    }
    let submitted = ReportEvent {
        grant_id: g.id,
        application_id: g.application_id,
        agency: g.agency,
        step: ReportStep::Submitted {
            protocol_number: protocol,
            overdue,
        },
    };
    events::record(
        &tx,
        &caller.actor(),
        now,
        event::step(next.id, submitted, Some(facts(&current)), facts(&next)),
    )
    .await?;
    tx.commit().await?;
    shown(db, caller, Access::Manage, g, next, now).await
}

/// What the ATS decides on a submitted report.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Ask the lead for more evidence, within the call's integration days.
    Integration { text: Option<String> },
    /// Verify it: a decision on every line.
    Approve { lines: Vec<DecisionInput> },
}

/// An evaluator of the project's ATS decides on its submitted report (`parse` gives the
/// decision, read once the caller may decide): a request for integration, or the
/// verification, which settles the money in the same transaction.
pub async fn decide(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<Decision, ApiError>,
) -> Result<Shown, ApiError> {
    caller.require(&[Role::Evaluator])?;
    let (known, _) = seen(db, caller, now, id).await?;
    if caller.agency != Some(known.agency) {
        return Err(grant_not_found());
    }
    let decision = parse()?;
    let actor = caller.award_actor();
    let tx = begin_write(db).await?;
    // Money the final grant frees may go down the reserve list: the envelopes first.
    calls::lock_envelopes(&tx, known.call_id).await?;
    let g = grants::get_for_update(&tx, known.id)
        .await?
        .ok_or_else(grant_not_found)?;
    started(&g)?;
    let (current, stored) = report_of(&tx, &g, now).await?;
    if !stored {
        return Err(ApiError::from(ErrorCode::ReportNotSubmitted));
    }
    let call = call_of(&tx, &g).await?;
    let (next, step) = match decision {
        Decision::Integration { text } => {
            let request = award::request_integration(
                &actor,
                g.agency,
                current.status,
                current.integration.as_ref(),
                text.as_deref(),
                call.rules.deadlines.integration_days,
                now,
            )?;
            let due_at = request.due_at;
            let next = StoredReport {
                status: ReportStatus::IntegrationRequested,
                integration: Some(request),
                version: current.version + 1,
                updated_at: now,
                ..current.clone()
            };
            (next, ReportStep::IntegrationRequested { due_at })
        }
        Decision::Approve { lines } => {
            // C: the total of the project's current budget (a shift keeps it).
            let approved_cost = super::variations::current_version(&tx, &g)
                .await?
                .total()
                .ok_or_else(|| anyhow::anyhow!("the budget of grant {} overflows", g.id))?;
            let v = award::verify_report(
                &actor,
                g.agency,
                current.status,
                current.integration.as_ref(),
                &current.content,
                &lines,
                &call.rules,
                g.amount,
                approved_cost,
                now,
            )?;
            // An under-realised project settles nothing and pays nothing more: its payments not
            // yet made are cancelled, and the ATS decides on its revocation.
            let settled = if v.under_realised {
                let why = "The project spent less than the call requires: flagged for revocation";
                let (paid, cancelled) = fold_open_payments(&tx, caller, &g, why, now).await?;
                Outcome::Flagged { paid, cancelled }
            } else {
                Outcome::Settled(settle(&tx, caller, &call, &g, v.final_grant, now).await?)
            };
            let next = StoredReport {
                status: ReportStatus::Verified,
                version: current.version + 1,
                updated_at: now,
                verification: Some(verification_json(&v, &settled)),
                verified_at: Some(now),
                verified_by: Some(caller.id),
                eligible_cost: Some(v.verified.eligible),
                final_grant: Some(v.final_grant),
                under_realised: Some(v.under_realised),
                ..current.clone()
            };
            let step = ReportStep::Verified {
                final_grant: v.final_grant,
                eligible_cost: v.verified.eligible,
                under_realised: v.under_realised,
            };
            (next, step)
        }
    };
    if !reports::save(&tx, &next, Some(current.version)).await? {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "the report of grant {} changed while its grant was locked",
            g.id
        )));
    }
    let e = ReportEvent {
        grant_id: g.id,
        application_id: g.application_id,
        agency: g.agency,
        step,
    };
    events::record(
        &tx,
        &caller.actor(),
        now,
        event::step(next.id, e, Some(facts(&current)), facts(&next)),
    )
    .await?;
    // Nothing left to pay or recover: the project is over at once.
    super::grants::close_if_over(&tx, &caller.actor(), g.id, now).await?;
    tx.commit().await?;
    let g = grants::get(db, g.id).await?.ok_or_else(grant_not_found)?;
    shown(db, caller, Access::Manage, g, next, now).await
}

/// What a verification did with the money: settled it, or (an under-realised project) only
/// stopped the payments not yet made.
#[derive(Debug, Clone)]
enum Outcome {
    Settled(Settled),
    Flagged { paid: Money, cancelled: Vec<Uuid> },
}

/// What a verification settled.
#[derive(Debug, Clone)]
struct Settled {
    paid_before: Money,
    balance: award::Balance,
    balance_payment: Option<Uuid>,
    recovery: Option<Uuid>,
    cancelled: Vec<Uuid>,
}

/// Cancel a verified project's payments not yet made, each with its event (a verification
/// settles the money anew): what it had paid, and the payments cancelled.
async fn fold_open_payments<C: ConnectionTrait>(
    tx: &C,
    caller: &AuthUser,
    g: &Grant,
    why: &str,
    now: DateTime<Utc>,
) -> Result<(Money, Vec<Uuid>), ApiError> {
    let actor = caller.actor();
    let held = payments::of_grant(tx, g.id).await?;
    let mut cancelled = vec![];
    for p in &held {
        let Some(next) = award::cancelled_by_end(&p.payment, caller.id, why) else {
            continue;
        };
        if !payments::update(tx, &next, p.version, payments::Step::Cancelled, now).await? {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "payment {} changed while its grant was locked",
                p.payment.id
            )));
        }
        if let Some(e) = crate::domain::event::payment::changed(&p.payment, &next, g.application_id)
        {
            events::record(tx, &actor, now, e).await?;
        }
        cancelled.push(p.payment.id);
    }
    Ok((
        award::total_paid(held.iter().map(|p| &p.payment)),
        cancelled,
    ))
}

/// Settle a verified project's money: its payments not yet made are folded into the balance
/// (cancelled, each with its event), the balance of exactly final grant − paid becomes due,
/// or what was paid beyond the final grant becomes a recovery order; the final grant is what
/// the project commits from now on, and what it frees goes down the reserve list while the
/// scorrimento is open.
async fn settle<C: ConnectionTrait>(
    tx: &C,
    caller: &AuthUser,
    call: &Call,
    g: &Grant,
    final_grant: Money,
    now: DateTime<Utc>,
) -> Result<Settled, ApiError> {
    let actor = caller.actor();
    let (paid, cancelled) = fold_open_payments(
        tx,
        caller,
        g,
        "Folded into the balance of the verified final report",
        now,
    )
    .await?;
    let b = award::balance(final_grant, paid);
    let plan = &call.rules.post_award.payment_plan;
    let mut balance_payment = None;
    if b.to_pay > Money::ZERO {
        let (position, tranche) = plan
            .iter()
            .enumerate()
            .rfind(|(_, t)| t.trigger == award::TrancheTrigger::FinalReportApproved)
            .map(|(i, t)| (i, t.code.clone()))
            .unwrap_or((plan.len(), "balance".to_owned()));
        let due = award::Payment::due(g.id, g.agency, tranche, b.to_pay);
        balance_payment = Some(due.id);
        let position = i32::try_from(position).unwrap_or(i32::MAX);
        payments::insert_due(tx, g.call_id, &[(position, due)], now).await?;
    }
    let mut recovery = None;
    if let Some(r) = award::recovery_due(
        g.id,
        g.agency,
        paid,
        final_grant,
        call.rules.post_award.recovery_due_days,
        rome_day(now),
        format!(
            "Paid beyond the final grant of {final_grant} after the verification of the final report"
        ),
    ) {
        recoveries::insert(tx, g.call_id, &r, now).await?;
        let issued = crate::domain::event::recovery::changed(None, &r, g.application_id);
        events::record(tx, &actor, now, issued).await?;
        recovery = Some(r.id);
    }
    grants::set_final_amount(tx, g.id, final_grant).await?;
    if final_grant < g.amount {
        scorrimento_after(
            tx,
            &actor,
            g.call_id,
            g.agency,
            &format!(
                "scorrimento after the final grant of grant {} was set to {final_grant}",
                g.id
            ),
            now,
        )
        .await?;
    }
    Ok(Settled {
        paid_before: paid,
        balance: b,
        balance_payment,
        recovery,
        cancelled,
    })
}

/// The verification as shown: every line's decision, the categories after the caps, the
/// figures and what they settled.
fn verification_json(v: &Verification, o: &Outcome) -> Value {
    let (paid_before, cancelled, s) = match o {
        Outcome::Settled(s) => (s.paid_before, s.cancelled.clone(), Some(s)),
        Outcome::Flagged { paid, cancelled } => (*paid, cancelled.clone(), None),
    };
    let lines: Vec<Value> = v
        .decisions
        .iter()
        .map(|(id, d)| {
            let accepted = v.verified.lines.get(id).copied();
            match d {
                LineDecision::Accepted => json!({"line_id": id, "decision": "accepted",
                    "accepted_amount": accepted, "reason": null, "text": null}),
                LineDecision::Reduced { reason, text, .. } => json!({"line_id": id,
                    "decision": "reduced", "accepted_amount": accepted, "reason": reason,
                    "text": text}),
            }
        })
        .collect();
    let categories: Vec<Value> = v
        .verified
        .categories
        .iter()
        .map(|(code, c)| json!({"category": code, "accepted": c.accepted, "cap": c.cap, "cut": c.cut}))
        .collect();
    json!({
        "lines": lines,
        "categories": categories,
        "accepted_cost": v.verified.accepted,
        "eligible_cost": v.verified.eligible,
        "approved_cost": v.approved_cost,
        "final_grant": v.final_grant,
        "under_realised": v.under_realised,
        "paid_before": paid_before,
        "balance": s.map(|s| s.balance.to_pay),
        "to_recover": s.map(|s| s.balance.to_recover),
        "balance_payment_id": s.and_then(|s| s.balance_payment),
        "recovery_id": s.and_then(|s| s.recovery),
        "cancelled_payments": cancelled,
    })
}

/// The lead answers an open request for integration before its deadline: a text, and
/// evidence files (uploaded to the report meanwhile) added to its lines.
pub async fn answer_integration(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<(Option<String>, Vec<(Uuid, Vec<Uuid>)>), ApiError>,
) -> Result<Shown, ApiError> {
    let g = led(db, caller, now, id).await?;
    let (text, added) = parse()?;
    let tx = begin_write(db).await?;
    let g = grants::get_for_update(&tx, g.id)
        .await?
        .ok_or_else(grant_not_found)?;
    started(&g)?;
    let (current, _) = report_of(&tx, &g, now).await?;
    let evidence = evidence_of(&tx, &g).await?;
    let (content, answer) = award::answer_integration(
        current.status,
        current.integration.as_ref(),
        &current.content,
        text.as_deref(),
        &added,
        &ids(&evidence),
        now,
    )?;
    let next = StoredReport {
        status: ReportStatus::Submitted,
        content,
        integration: current.integration.clone().map(|mut r| {
            r.answer = Some(answer);
            r
        }),
        version: current.version + 1,
        updated_at: now,
        ..current.clone()
    };
    if !reports::save(&tx, &next, Some(current.version)).await? {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "the report of grant {} changed while its grant was locked",
            g.id
        )));
    }
    let answered = ReportEvent {
        grant_id: g.id,
        application_id: g.application_id,
        agency: g.agency,
        step: ReportStep::IntegrationAnswered,
    };
    events::record(
        &tx,
        &caller.actor(),
        now,
        event::step(next.id, answered, Some(facts(&current)), facts(&next)),
    )
    .await?;
    tx.commit().await?;
    shown(db, caller, Access::Manage, g, next, now).await
}
