//! Variations of a project (DOMAIN.md §5.8): requested by its lead with reasons; a budget shift
//! within the call's tolerance is approved at once, anything else waits for the ATS (and a
//! partner change that adds an organization, first, for that organization's consent). An
//! approved variation is a new version of the project: its budget lines, members or end date.
//! The final report and its verification use the current version.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;
use uuid::Uuid;

use super::events;
use super::grants::{grant_not_found, led, seen};
use crate::auth::AuthUser;
use crate::domain::ErrorCode;
use crate::domain::Violations;
use crate::domain::application::{ApplicationContent, Budget, CostLine, check_money, check_shape};
use crate::domain::award::{
    self, ProjectMember, ProjectVersion, VariationKind, VariationStatus, changed_members,
    check_extension, check_total, lines_of_removed, within_tolerance,
};
use crate::domain::call::check_text;
use crate::domain::event::variation::{self as event, VariationStep};
use crate::domain::event::{DomainEvent, EventKind};
use crate::domain::grant::GrantStatus;
use crate::domain::partnership::{MembershipStatus, check_eligibility};
use crate::domain::user::Role;
use crate::domain::violation::Violation;
use crate::error::ApiError;
use crate::store::partnerships::MemberRecord;
use crate::store::{
    applications, begin_write, calls, deadlines, grants, organizations, partnerships, variations,
};

pub use crate::store::variations::StoredVariation;

pub fn variation_not_found() -> ApiError {
    ApiError::from(ErrorCode::VariationNotFound)
}

/// The project as approved, before any variation: the application's budget lines, the
/// partnership's members, the end date its start computed.
async fn original<C: ConnectionTrait>(
    conn: &C,
    g: &grants::Grant,
) -> Result<ProjectVersion, ApiError> {
    let app = applications::get(conn, g.application_id)
        .await?
        .ok_or_else(grant_not_found)?;
    let p = partnerships::get(conn, app.partnership_id)
        .await?
        .ok_or_else(grant_not_found)?;
    let call = calls::get(conn, g.call_id)
        .await?
        .ok_or_else(grant_not_found)?;
    Ok(ProjectVersion {
        version: 1,
        lines: app.content.budget.lines,
        members: p
            .members
            .iter()
            .filter(|m| m.status == MembershipStatus::Accepted)
            .map(|m| ProjectMember {
                organization_id: m.organization_id,
                role: m.role,
            })
            .collect(),
        end_date: g
            .start_date
            .and_then(|s| award::end_date(s, call.rules.project_duration_months)),
    })
}

/// The project's current version: the one its last approved variation made, or the original.
pub async fn current_version<C: ConnectionTrait>(
    conn: &C,
    g: &grants::Grant,
) -> Result<ProjectVersion, ApiError> {
    let last = variations::of_grant(conn, g.id)
        .await?
        .into_iter()
        .filter(|v| v.status == VariationStatus::Approved)
        .max_by_key(|v| v.project_version);
    match last {
        Some(v) => Ok(v.after),
        None => original(conn, g).await,
    }
}

/// The budget of the last shift the ATS itself approved, if any.
async fn last_decided_budget<C: ConnectionTrait>(
    conn: &C,
    grant_id: Uuid,
) -> Result<Option<Vec<CostLine>>, ApiError> {
    Ok(variations::of_grant(conn, grant_id)
        .await?
        .into_iter()
        .filter(|v| {
            v.kind == VariationKind::BudgetShift
                && v.status == VariationStatus::Approved
                && !v.automatic
        })
        .max_by_key(|v| v.project_version)
        .map(|v| v.after.lines))
}

/// What the lead asks.
#[derive(Debug, Clone)]
pub struct Request {
    pub kind: VariationKind,
    pub reasons: Option<String>,
    /// A budget shift: the new lines.
    pub lines: Option<Vec<CostLine>>,
    /// A partner change.
    pub add: Vec<ProjectMember>,
    pub remove: Vec<Uuid>,
    /// An extension: the new end date.
    pub end_date: Option<chrono::NaiveDate>,
}

/// A started project that is still live.
fn live(g: &grants::Grant) -> Result<(), ApiError> {
    if g.status != GrantStatus::Accepted || g.start_date.is_none() {
        return Err(ApiError::from(ErrorCode::ProjectNotLive));
    }
    Ok(())
}

/// The composition rules on the members after a partner change, each broken one a violation.
async fn composition<C: ConnectionTrait>(
    conn: &C,
    g: &grants::Grant,
    rules: &crate::domain::call::PartnershipRules,
    next: &[ProjectMember],
    added: &BTreeSet<Uuid>,
) -> Result<Vec<Violation>, ApiError> {
    let app = applications::get(conn, g.application_id)
        .await?
        .ok_or_else(grant_not_found)?;
    let mut p = partnerships::get(conn, app.partnership_id)
        .await?
        .ok_or_else(grant_not_found)?;
    let at = p.created_at;
    p.members = next
        .iter()
        .map(|m| MemberRecord {
            organization_id: m.organization_id,
            role: m.role,
            added_at: at,
            status: MembershipStatus::Accepted,
            answered_at: None,
        })
        .collect();
    let mut members: Vec<_> = partnerships::members_for_rules(conn, &p)
        .await?
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    // An added organization joins one more partnership of the call.
    for m in &mut members {
        if added.contains(&m.organization_id) {
            m.partnerships_in_call = m.partnerships_in_call.saturating_add(1);
        }
    }
    Ok(check_eligibility(rules, &members)
        .into_iter()
        .filter(|o| !o.passed)
        .map(|o| {
            Violation::new(
                "members",
                o.rule.error_code().worded(o.reason.en, o.reason.it),
            )
        })
        .collect())
}

/// The lead requests a variation (`parse`, read once the caller is known to lead the
/// project). Every rule is checked and listed; a budget shift within the tolerance is applied
/// at once.
pub async fn request(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<Request, ApiError>,
) -> Result<StoredVariation, ApiError> {
    let g = led(db, caller, now, id).await?;
    let req = parse()?;
    let tx = begin_write(db).await?;
    let g = grants::get_for_update(&tx, g.id)
        .await?
        .ok_or_else(grant_not_found)?;
    live(&g)?;
    if variations::of_grant(&tx, g.id)
        .await?
        .iter()
        .any(|v| v.status.open())
    {
        return Err(ApiError::from(ErrorCode::VariationOpen));
    }
    let call = calls::get(&tx, g.call_id)
        .await?
        .ok_or_else(grant_not_found)?;
    let rules = &call.rules;
    let current = current_version(&tx, &g).await?;
    let mut v = Violations::new();
    let reasons = match req.reasons.as_deref() {
        None => {
            v.add("reasons", ErrorCode::MissingField);
            String::new()
        }
        Some(r) => {
            if let Some(e) = check_text("reasons", r, 4000) {
                v.push(e);
            }
            r.trim().to_owned()
        }
    };
    let mut after = ProjectVersion {
        version: current.version + 1,
        ..current.clone()
    };
    let mut automatic = false;
    let mut awaiting_consent = false;
    let mut added = BTreeSet::new();
    let mut consents: Vec<Uuid> = vec![];
    match req.kind {
        VariationKind::BudgetShift => match &req.lines {
            None => v.add("budget.lines", ErrorCode::MissingField),
            Some(lines) => {
                let app = applications::get(&tx, g.application_id)
                    .await?
                    .ok_or_else(grant_not_found)?;
                let budget = Budget {
                    lines: lines.clone(),
                    ..app.content.budget.clone()
                };
                let content = ApplicationContent {
                    budget: budget.clone(),
                    ..app.content.clone()
                };
                v.extend(
                    check_shape(&content, rules, &current.member_ids())
                        .into_iter()
                        .filter(|x| x.field.starts_with("budget")),
                );
                // The requested grant and the co-financing are not the shift's: a changed
                // total is said once, below.
                v.extend(
                    check_money(&budget, rules)
                        .into_iter()
                        .filter(|x| x.field.starts_with("budget.lines")),
                );
                check_total(&current.lines, lines, &mut v);
                // Measured against the budget the ATS approved last (the original one, or
                // its last decided shift), so that automatic shifts do not add up.
                let approved = match last_decided_budget(&tx, g.id).await? {
                    Some(lines) => lines,
                    None => original(&tx, &g).await?.lines,
                };
                automatic =
                    within_tolerance(&approved, lines, rules.post_award.variation_tolerance);
                after.lines = lines.clone();
            }
        },
        VariationKind::PartnerChange => {
            for (i, a) in req.add.iter().enumerate() {
                if organizations::get(&tx, a.organization_id).await?.is_none() {
                    v.add(
                        format!("add[{i}].organization_id"),
                        ErrorCode::UnknownOrganization,
                    );
                }
            }
            v.extend(lines_of_removed(&current.lines, &req.remove));
            match changed_members(&current.members, &req.add, &req.remove) {
                Err(e) => v.extend(e),
                Ok(next) if v.is_empty() => {
                    added = req.add.iter().map(|a| a.organization_id).collect();
                    v.extend(composition(&tx, &g, &rules.partnership, &next, &added).await?);
                    after.members = next;
                    let represented = organizations::represented_by(&tx, caller.id).await?;
                    // The requester consents for the organizations it represents.
                    consents = added.intersection(&represented).copied().collect();
                    awaiting_consent = consents.len() < added.len();
                }
                Ok(_) => {}
            }
        }
        VariationKind::Extension => {
            let (Some(start), Some(end)) = (g.start_date, current.end_date) else {
                return Err(ApiError::from(ErrorCode::ProjectNotLive));
            };
            let original_end = award::end_date(start, rules.project_duration_months).unwrap_or(end);
            v.extend(check_extension(
                original_end,
                end,
                req.end_date,
                rules.post_award.max_extension_months,
            ));
            after.end_date = req.end_date;
        }
    }
    ApiError::check(v.into_vec())?;
    let status = if automatic {
        VariationStatus::Approved
    } else if awaiting_consent {
        VariationStatus::AwaitingConsent
    } else {
        VariationStatus::Pending
    };
    let stored = StoredVariation {
        id: Uuid::new_v4(),
        grant_id: g.id,
        call_id: g.call_id,
        agency: g.agency,
        kind: req.kind,
        status,
        reasons,
        request: request_json(&req),
        before: current,
        after,
        automatic,
        project_version: automatic.then_some(0),
        requested_by: caller.id,
        requested_at: now,
        consents,
        consent_by: None,
        consent_at: None,
        decided_by: None,
        decided_at: automatic.then_some(now),
        decision_note: None,
        version: 1,
    };
    let stored = StoredVariation {
        project_version: automatic.then_some(stored.after.version),
        ..stored
    };
    variations::insert(&tx, &stored).await?;
    let actor = caller.actor();
    let step = VariationStep::Requested {
        awaiting: added.iter().copied().filter(|_| awaiting_consent).collect(),
    };
    events::record(&tx, &actor, now, changed(&stored, g.application_id, step)).await?;
    if automatic {
        apply(&tx, &stored, now).await?;
        let decided = VariationStep::Decided { approved: true };
        events::record(
            &tx,
            &actor,
            now,
            changed(&stored, g.application_id, decided),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(stored)
}

fn request_json(r: &Request) -> serde_json::Value {
    match r.kind {
        VariationKind::BudgetShift => json!({"kind": r.kind, "budget": {"lines": r.lines}}),
        VariationKind::PartnerChange => json!({"kind": r.kind, "add": r.add, "remove": r.remove}),
        VariationKind::Extension => json!({"kind": r.kind, "end_date": r.end_date}),
    }
}

/// What an approved variation changes outside its own row: the project's end date (and the
/// report's deadline notices, due again), or the partnership's members (who may see the
/// project follows them).
async fn apply<C: ConnectionTrait>(
    conn: &C,
    v: &StoredVariation,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    match v.kind {
        VariationKind::Extension => {
            if let Some(end) = v.after.end_date {
                grants::set_end_date(conn, v.grant_id, end).await?;
                // The report's deadline moved: its reminder and its missed notice are due again.
                let report = [
                    award::DeadlineNotice::ReportReminder,
                    award::DeadlineNotice::ReportMissed,
                ];
                deadlines::forget(conn, v.grant_id, &report).await?;
            }
        }
        VariationKind::PartnerChange => {
            let g = grants::get(conn, v.grant_id)
                .await?
                .ok_or_else(grant_not_found)?;
            let app = applications::get(conn, g.application_id)
                .await?
                .ok_or_else(grant_not_found)?;
            let (before, after) = (v.before.member_ids(), v.after.member_ids());
            for gone in before.difference(&after) {
                partnerships::delete_member(conn, app.partnership_id, *gone).await?;
            }
            for m in v
                .after
                .members
                .iter()
                .filter(|m| !before.contains(&m.organization_id))
            {
                let joined = MemberRecord {
                    organization_id: m.organization_id,
                    role: m.role,
                    added_at: now,
                    status: MembershipStatus::Accepted,
                    answered_at: Some(now),
                };
                partnerships::insert_member(conn, app.partnership_id, &joined).await?;
            }
            partnerships::touch(conn, app.partnership_id, now).await?;
        }
        VariationKind::BudgetShift => {}
    }
    Ok(())
}

/// The variations of a project the caller may see, and its current version.
pub async fn list(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<(ProjectVersion, Vec<StoredVariation>), ApiError> {
    let (g, _) = seen(db, caller, now, id).await?;
    let current = current_version(db, &g).await?;
    Ok((current, variations::of_grant(db, g.id).await?))
}

/// One variation of a project the caller may see.
pub async fn read(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    variation_id: Uuid,
) -> Result<StoredVariation, ApiError> {
    let (g, _) = seen(db, caller, now, id).await?;
    variations::get(db, variation_id)
        .await?
        .filter(|v| v.grant_id == g.id)
        .ok_or_else(variation_not_found)
}

/// An evaluator of the project's ATS approves or rejects a pending variation (`parse` gives
/// whether it approves and the note, required to reject).
pub async fn decide(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    variation_id: Uuid,
    parse: impl FnOnce() -> Result<(bool, Option<String>), ApiError>,
) -> Result<StoredVariation, ApiError> {
    caller.require(&[Role::Evaluator])?;
    let (known, _) = seen(db, caller, now, id).await?;
    if caller.agency != Some(known.agency) {
        return Err(grant_not_found());
    }
    let (approve, note) = parse()?;
    let tx = begin_write(db).await?;
    let g = grants::get_for_update(&tx, known.id)
        .await?
        .ok_or_else(grant_not_found)?;
    let current = variations::get(&tx, variation_id)
        .await?
        .filter(|v| v.grant_id == g.id)
        .ok_or_else(variation_not_found)?;
    award::may_decide(&caller.award_actor(), g.agency, current.status)?;
    live(&g)?;
    let mut v = Violations::new();
    let note = match (approve, note.as_deref()) {
        (false, None) => {
            v.add(
                "note",
                ErrorCode::MissingField.worded(
                    "Say why the variation is rejected.",
                    "Indicare perché la variazione è respinta.",
                ),
            );
            None
        }
        (_, Some(n)) => {
            if let Some(e) = check_text("note", n, 4000) {
                v.push(e);
            }
            Some(n.trim().to_owned())
        }
        (true, None) => None,
    };
    ApiError::check(v.into_vec())?;
    let next = StoredVariation {
        status: if approve {
            VariationStatus::Approved
        } else {
            VariationStatus::Rejected
        },
        project_version: approve.then_some(current.after.version),
        decided_by: Some(caller.id),
        decided_at: Some(now),
        decision_note: note,
        version: current.version + 1,
        ..current.clone()
    };
    if !variations::update(&tx, &next, current.version).await? {
        return Err(ApiError::from(ErrorCode::VariationDecided));
    }
    if approve {
        apply(&tx, &next, now).await?;
    }
    let step = VariationStep::Decided { approved: approve };
    events::record(
        &tx,
        &caller.actor(),
        now,
        changed(&next, g.application_id, step),
    )
    .await?;
    tx.commit().await?;
    Ok(next)
}

/// A representative of an organization a partner change adds consents (or not) to join, for
/// each added organization it represents: once every one has consented, the change waits for
/// the ATS; a refusal rejects it. 404 for whoever represents none of them.
pub async fn consent(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    variation_id: Uuid,
    parse: impl FnOnce() -> Result<bool, ApiError>,
) -> Result<StoredVariation, ApiError> {
    caller.require(&[Role::Applicant])?;
    let represented = organizations::represented_by(db, caller.id).await?;
    let added_by = |v: &StoredVariation| -> BTreeSet<Uuid> {
        v.after
            .member_ids()
            .difference(&v.before.member_ids())
            .filter(|o| represented.contains(o))
            .copied()
            .collect()
    };
    let known = variations::get(db, variation_id)
        .await?
        .filter(|v| v.grant_id == id && !added_by(v).is_empty())
        .ok_or_else(variation_not_found)?;
    let accept = parse()?;
    let tx = begin_write(db).await?;
    let g = grants::get_for_update(&tx, known.grant_id)
        .await?
        .ok_or_else(grant_not_found)?;
    let current = variations::get(&tx, variation_id)
        .await?
        .ok_or_else(variation_not_found)?;
    award::may_consent(current.status)?;
    let mine = added_by(&current);
    if mine.iter().all(|o| current.consents.contains(o)) {
        return Err(ApiError::from(ErrorCode::VariationDecided.worded(
            "The organizations you represent have already consented to this variation.",
            "Gli enti che rappresenta hanno già acconsentito a questa variazione.",
        )));
    }
    live(&g)?;
    let mut consents = current.consents.clone();
    consents.extend(mine.iter().filter(|o| !current.consents.contains(o)));
    let all = current
        .after
        .member_ids()
        .difference(&current.before.member_ids())
        .all(|o| consents.contains(o));
    let status = match (accept, all) {
        (false, _) => VariationStatus::Rejected,
        (true, true) => VariationStatus::Pending,
        (true, false) => VariationStatus::AwaitingConsent,
    };
    let next = StoredVariation {
        status,
        consents: if accept {
            consents
        } else {
            current.consents.clone()
        },
        consent_by: Some(caller.id),
        consent_at: Some(now),
        decided_at: (!accept).then_some(now),
        version: current.version + 1,
        ..current.clone()
    };
    if !variations::update(&tx, &next, current.version).await? {
        return Err(ApiError::from(ErrorCode::VariationDecided));
    }
    let step = VariationStep::Consented {
        accepted: accept,
        complete: status != VariationStatus::AwaitingConsent,
    };
    events::record(
        &tx,
        &caller.actor(),
        now,
        changed(&next, g.application_id, step),
    )
    .await?;
    tx.commit().await?;
    Ok(next)
}

/// A step of variation `v` of the project of application `application_id`.
fn changed(v: &StoredVariation, application_id: Uuid, step: VariationStep) -> DomainEvent {
    DomainEvent {
        kind: EventKind::Variation(event::VariationEvent {
            grant_id: v.grant_id,
            application_id,
            agency: v.agency,
            kind: v.kind,
            status: v.status,
            automatic: v.automatic,
            step,
        }),
        entity_type: "variation",
        entity_id: v.id,
        before: None,
        after: Some(json!({
            "grant_id": v.grant_id,
            "kind": v.kind,
            "status": v.status,
            "automatic": v.automatic,
            "request": v.request,
            "project_version": v.project_version,
            "decision_note": v.decision_note,
        })),
    }
}
