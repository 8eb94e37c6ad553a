//! Applications: drafts and their annexes, submission with its protocol number and receipt,
//! withdrawal, history, and the list with its export.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, DurationRound, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::calls::call_not_found;
use super::events;
use super::partnerships::partnership_not_found;
use super::rankings::ensure_not_approved;
use crate::auth::{AuthUser, Caller};
use crate::clock::Clock;
use crate::domain::ErrorCode;
use crate::domain::agency::AgencyCode;
use crate::domain::application::{
    AnnexFacts, ApplicationContent, ApplicationStatus, application_access, check_shape,
    is_area_code, mask_snapshot, protocol_number, submission_problems,
};
use crate::domain::call::{Call, CallStatus, check_text};
use crate::domain::event::Actor;
use crate::domain::event::application::ApplicationEvent;
use crate::domain::event::{DomainEvent, EventKind};
use crate::domain::partnership::{Access, Member};
use crate::domain::user::Role;
use crate::domain::version::Expected;
use crate::domain::violation::Violation;
use crate::error::ApiError;
use crate::store::applications::{self as store, Filter, Submission};
use crate::store::idempotency::Answer;
use crate::store::submission::Submitted;
use crate::store::writes::Writes;
use crate::store::{self as db_store, Page, calls, organizations, partnerships};

pub use crate::store::applications::{Application, Document, HistoryEntry, NewDocument};

pub fn application_not_found() -> ApiError {
    ApiError::from(ErrorCode::ApplicationNotFound)
}

/// The application, read inside a write transaction, if it is still a draft: 409 otherwise.
pub(super) async fn draft_in(tx: &DatabaseTransaction, id: Uuid) -> Result<Application, ApiError> {
    let current = store::get(tx, id)
        .await?
        .ok_or_else(application_not_found)?;
    if current.status != ApplicationStatus::Draft {
        return Err(frozen());
    }
    Ok(current)
}

pub(super) fn frozen() -> ApiError {
    ApiError::from(ErrorCode::ApplicationNotDraft)
}

fn application_exists() -> ApiError {
    ApiError::from(ErrorCode::ApplicationExists)
}

/// An application the caller may see, with its call and the caller's access.
pub struct Seen {
    pub app: Application,
    pub call: Call,
    pub access: Access,
}

/// An application as shown: for a draft, everything that blocks its submission now.
pub struct Shown {
    pub app: Application,
    pub call: Call,
    pub access: Access,
    pub blocking: Vec<Violation>,
}

/// An application the caller may see, with its call. One statement for the application, its
/// call and an applicant's representation of the members, then one for an evaluator's
/// conflict declaration. The snapshot is left out.
pub(super) async fn seen(
    db: &DatabaseConnection,
    caller: &AuthUser,
    id: Uuid,
) -> Result<Seen, ApiError> {
    seen_reading(db, caller, id, false).await
}

async fn seen_reading(
    db: &DatabaseConnection,
    caller: &AuthUser,
    id: Uuid,
    snapshot: bool,
) -> Result<Seen, ApiError> {
    // Only an applicant's access depends on the members (evaluators' on the agency).
    let of = store::ReadOf {
        reader: (caller.role == Role::Applicant).then_some(caller.id),
        caller: None,
        snapshot,
    };
    let (app, call, facts, _) = store::get_for_reader(db, id, of)
        .await?
        .ok_or_else(application_not_found)?;
    decide_access(db, caller, app, call, &facts).await
}

/// Who may see an application read with the facts of the caller's access.
async fn decide_access(
    db: &DatabaseConnection,
    caller: &AuthUser,
    app: Application,
    call: Call,
    facts: &crate::store::scopes::AccessFacts,
) -> Result<Seen, ApiError> {
    let access = application_access(
        caller.role,
        caller.agency,
        &facts.represented,
        facts.lead,
        &facts.members,
        app.status,
        app.content.agency_code,
    )
    .ok_or_else(application_not_found)?;
    if caller.role == Role::Evaluator {
        let declared = crate::store::review::declaration(db, app.id, caller.id)
            .await?
            .map(|d| d.has_conflict);
        crate::domain::review::may_work(declared)?;
    }
    Ok(Seen { app, call, access })
}

/// An application the caller manages (the lead's representatives); 404 for anyone else who
/// may not, 403 for roles that never may.
pub(super) async fn managed(
    db: &DatabaseConnection,
    caller: &AuthUser,
    id: Uuid,
) -> Result<Seen, ApiError> {
    caller.require(&[Role::Applicant])?;
    let s = seen(db, caller, id).await?;
    if s.access != Access::Manage {
        return Err(application_not_found());
    }
    Ok(s)
}

fn annex_facts(d: &Document) -> AnnexFacts {
    AnnexFacts {
        kind: d.kind.clone(),
        organization_id: d.organization_id,
        valid_signers: d
            .signature_report
            .iter()
            .flat_map(|r| r.valid_signers())
            .filter_map(|s| s.tax_code.clone())
            .collect(),
    }
}

/// The application with what blocks its submission at `now`, if it is a draft.
async fn shown(db: &DatabaseConnection, now: DateTime<Utc>, s: Seen) -> Result<Shown, ApiError> {
    let blocking = if s.app.status == ApplicationStatus::Draft {
        let partnership = partnerships::get(db, s.app.partnership_id)
            .await?
            .ok_or_else(application_not_found)?;
        let members: Vec<Member> = partnerships::members_for_rules(db, &partnership)
            .await?
            .into_iter()
            .map(|(m, _)| m)
            .collect();
        let annexes: Vec<AnnexFacts> = store::documents(db, s.app.id)
            .await?
            .iter()
            .map(annex_facts)
            .collect();
        submission_problems(
            &s.app.content,
            &s.call.rules,
            &s.call.window,
            now,
            &members,
            &annexes,
        )
    } else {
        vec![]
    };
    Ok(Shown {
        app: s.app,
        call: s.call,
        access: s.access,
        blocking,
    })
}

/// Read an application the caller may see. The caller's token is checked in the statement
/// that reads the application, so that a read makes one round trip (two for an evaluator,
/// more for a draft, whose blocking rules are read too).
pub async fn read(
    db: &DatabaseConnection,
    caller: Caller,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<Shown, ApiError> {
    let Some(key) = caller.key() else {
        let caller = caller.confirm(db, None).await?;
        let s = seen(db, &caller, id).await?;
        return shown(db, now, s).await;
    };
    let of = store::ReadOf {
        reader: (key.role == Role::Applicant).then_some(key.user_id),
        caller: Some(key),
        snapshot: false,
    };
    let read = db_store::first(db, || store::get_for_reader(db, id, of)).await?;
    let Some((app, call, facts, checked)) = read else {
        // Nothing read, the caller unchecked: a caller no longer valid learns that first.
        caller.confirm(db, None).await?;
        return Err(application_not_found());
    };
    let caller = caller.confirm(db, checked).await?;
    let s = decide_access(db, &caller, app, call, &facts).await?;
    shown(db, now, s).await
}

/// A new draft: the partnership it is of and its (maybe incomplete) content.
pub struct NewApplication {
    pub partnership_id: Uuid,
    pub content: ApplicationContent,
}

/// Start an application of a partnership whose lead the caller represents, for its published
/// call, as a draft. The request is read (`parse`) once the caller's role may write one.
pub async fn create(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    parse: impl FnOnce() -> Result<NewApplication, ApiError>,
) -> Result<Shown, ApiError> {
    caller.require(&[Role::Applicant])?;
    let NewApplication {
        partnership_id,
        content,
    } = parse()?;
    let partnership = partnerships::get(db, partnership_id)
        .await?
        .ok_or_else(partnership_not_found)?;
    let represented = organizations::represented_by(db, caller.id).await?;
    if !partnership.lead().is_some_and(|l| represented.contains(&l)) {
        return Err(partnership_not_found());
    }
    let call = calls::get(db, partnership.call_id)
        .await?
        .ok_or_else(call_not_found)?;
    if call.status != CallStatus::Published {
        return Err(call_not_found());
    }
    // The body is `{partnership_id, content}`: its paths start at its root.
    ApiError::check(
        check_shape(&content, &call.rules, &partnership.member_ids())
            .into_iter()
            .map(|v| v.under("content"))
            .collect(),
    )?;
    let actor = caller.actor();
    let tx = db_store::begin_write(db).await?;
    if store::exists_for(&tx, call.id, partnership.id).await? {
        return Err(application_exists());
    }
    let id = Uuid::new_v4();
    store::insert_draft(&tx, id, &call, partnership.id, &content, actor.user_id, now)
        .await
        .map_err(|e| {
            if db_store::is_unique_violation(&e) {
                application_exists()
            } else {
                e.into()
            }
        })?;
    store::record_history(
        &tx,
        id,
        None,
        ApplicationStatus::Draft.as_str(),
        &actor,
        now,
        None,
    )
    .await?;
    record(
        &tx,
        &actor,
        now,
        ApplicationEvent::Created,
        id,
        None,
        Some(json!({"content": content})),
    )
    .await?;
    tx.commit().await?;
    let app = store::get(db, id)
        .await?
        .ok_or_else(application_not_found)?;
    let s = Seen {
        app,
        call,
        access: Access::Manage,
    };
    shown(db, now, s).await
}

/// Record an event of an application.
pub(super) async fn record(
    tx: &DatabaseTransaction,
    actor: &Actor,
    at: DateTime<Utc>,
    event: ApplicationEvent,
    id: Uuid,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<(), ApiError> {
    events::record(
        tx,
        actor,
        at,
        DomainEvent {
            kind: EventKind::Application(event),
            entity_type: "application",
            entity_id: id,
            before,
            after,
        },
    )
    .await?;
    Ok(())
}

/// Change a draft's content under optimistic concurrency. `parse` is called once the caller
/// is known to lead the application: it gives the version the change is based on and the
/// change, which makes the new content from the current one.
pub async fn update<M>(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<(Expected, M), ApiError>,
) -> Result<Shown, ApiError>
where
    M: FnOnce(&ApplicationContent) -> Result<ApplicationContent, ApiError>,
{
    let s = managed(db, caller, id).await?;
    let (expected_version, change) = parse()?;
    let partnership = partnerships::get(db, s.app.partnership_id)
        .await?
        .ok_or_else(application_not_found)?;
    let tx = db_store::begin_write(db).await?;
    let current = store::get(&tx, id)
        .await?
        .ok_or_else(application_not_found)?;
    if !expected_version.matches(current.version) {
        return Err(ApiError::PreconditionFailed);
    }
    if current.status != ApplicationStatus::Draft {
        return Err(frozen());
    }
    let content = change(&current.content)?;
    ApiError::check(check_shape(
        &content,
        &s.call.rules,
        &partnership.member_ids(),
    ))?;
    if !store::update_draft(&tx, id, current.version, &content, &s.call.rules, now).await? {
        return Err(ApiError::PreconditionFailed);
    }
    record(
        &tx,
        &caller.actor(),
        now,
        ApplicationEvent::Changed,
        id,
        Some(json!({"content": current.content})),
        Some(json!({"content": content})),
    )
    .await?;
    tx.commit().await?;
    let app = store::get(db, id)
        .await?
        .ok_or_else(application_not_found)?;
    shown(db, now, Seen { app, ..s }).await
}

/// Delete a draft.
pub async fn delete(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<(), ApiError> {
    let s = managed(db, caller, id).await?;
    let id = s.app.id;
    let tx = db_store::begin_write(db).await?;
    let current = draft_in(&tx, id).await?;
    store::delete(&tx, id).await?;
    record(
        &tx,
        &caller.actor(),
        now,
        ApplicationEvent::Deleted,
        id,
        Some(json!({"content": current.content})),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The receipt of a submission, as a caller may see it.
pub struct Receipt {
    pub application_id: Uuid,
    pub call_code: String,
    pub protocol_number: String,
    pub submitted_at: DateTime<Utc>,
    pub snapshot_sha256: String,
    /// What was submitted, as hashed; the personal tax codes of members the caller does not
    /// represent are masked.
    pub snapshot: Value,
}

/// The receipt, as a caller may see it: the personal (16-character) tax codes of members it
/// does not represent are masked, unless it is an administrator or an evaluator.
fn receipt_of(
    app: &Application,
    call: &Call,
    reveal: &dyn Fn(Uuid) -> bool,
) -> Result<Receipt, ApiError> {
    let (Some(protocol), Some(at), Some(hash), Some(snapshot)) = (
        &app.protocol_number,
        app.submitted_at,
        &app.snapshot_sha256,
        &app.snapshot,
    ) else {
        return Err(ApiError::from(ErrorCode::ReceiptNotFound));
    };
    let mut value: Value = serde_json::from_str(snapshot).map_err(anyhow::Error::from)?;
    mask_snapshot(&mut value, reveal);
    Ok(Receipt {
        application_id: app.id,
        call_code: call.code.clone(),
        protocol_number: protocol.clone(),
        submitted_at: at,
        snapshot_sha256: hash.clone(),
        snapshot: value,
    })
}

/// Which members' personal data a caller may see in full.
async fn revealer(
    db: &DatabaseConnection,
    caller: &AuthUser,
) -> Result<Box<dyn Fn(Uuid) -> bool>, ApiError> {
    if caller.role != Role::Applicant {
        return Ok(Box::new(|_| true));
    }
    let represented = organizations::represented_by(db, caller.id).await?;
    Ok(Box::new(move |id| represented.contains(&id)))
}

/// The receipt of a submitted application the caller may see, again, exactly as issued.
pub async fn receipt(
    db: &DatabaseConnection,
    caller: &AuthUser,
    id: Uuid,
) -> Result<Receipt, ApiError> {
    let s = seen_reading(db, caller, id, true).await?;
    let reveal = revealer(db, caller).await?;
    receipt_of(&s.app, &s.call, &*reveal)
}

/// Submit a draft the caller leads: in one transaction, lock it, read the clock, check the
/// window, every content and money rule, the annexes and the partnership's eligibility, take
/// the next protocol number, and store the canonical snapshot with its SHA-256.
///
/// `respond` builds the answer from the receipt before the commit; the answer it returns for
/// an `Idempotency-Key` is recorded in the same transaction. Nothing is read after the
/// commit, so a committed submission is never answered with an error.
///
/// The protocol counter's row stays locked from the number's taking to the commit, and
/// every submission of the call waits for it: everything that does not need the number is
/// read before it is taken, the agency's evaluators to tell included.
pub async fn submit<F>(
    db: &DatabaseConnection,
    caller: &AuthUser,
    clock: &Arc<dyn Clock>,
    id: Uuid,
    respond: F,
) -> Result<(), ApiError>
where
    F: FnOnce(&Receipt) -> Result<Option<Answer>, ApiError>,
{
    let s = managed(db, caller, id).await?;
    let reveal = revealer(db, caller).await?;
    let id = s.app.id;
    let actor = caller.actor();
    let tx = db_store::begin_write(db).await?;
    let app = store::lock(&tx, id)
        .await?
        .ok_or_else(application_not_found)?;
    if app.status != ApplicationStatus::Draft {
        return Err(ApiError::from(ErrorCode::AlreadySubmitted));
    }
    let partnership = partnerships::get_locked(&tx, app.partnership_id)
        .await?
        .ok_or_else(partnership_not_found)?;
    // Microseconds: what both databases store, so that the receipt and its snapshot agree.
    let now = clock.now();
    let now = now
        .duration_trunc(chrono::TimeDelta::microseconds(1))
        .unwrap_or(now);
    let call = calls::get(&tx, app.call_id)
        .await?
        .ok_or_else(call_not_found)?;
    let members = partnerships::members_for_rules(&tx, &partnership).await?;
    let docs = store::documents(&tx, id).await?;
    let facts: Vec<Member> = members.iter().map(|(m, _)| m.clone()).collect();
    let annexes: Vec<AnnexFacts> = docs.iter().map(annex_facts).collect();
    let problems = submission_problems(
        &app.content,
        &call.rules,
        &call.window,
        now,
        &facts,
        &annexes,
    );
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    // Everything that does not need the protocol number is read before the counter is
    // taken: the evaluators to tell, and who the event reaches (its webhook subscribers and
    // the users of its notices depend on whom it concerns, not on the number).
    let evaluators = match app.content.agency_code {
        Some(agency) => crate::store::notifications::evaluators_of(&tx, agency).await?,
        None => vec![],
    };
    let submitted_event = |protocol_number: String, hash: Option<&str>| DomainEvent {
        kind: EventKind::Application(ApplicationEvent::Submitted {
            agency: app.content.agency_code,
            evaluators: evaluators.clone(),
            protocol_number: protocol_number.clone(),
            title: app.content.title.clone().unwrap_or_default(),
        }),
        entity_type: "application",
        entity_id: id,
        before: None,
        after: hash.map(|h| json!({"protocol_number": protocol_number, "snapshot_sha256": h})),
    };
    let audience = events::audience(&tx, &submitted_event(String::new(), None)).await?;
    // From here to COMMIT the call's counter row is locked: take the number, compute the
    // snapshot and its hash, and send every write in one unit of work.
    let n = store::next_protocol(&tx, call.id).await?;
    let protocol = protocol_number(&call.code, n);
    let snapshot = json!({
        "application_id": app.id,
        "protocol_number": protocol,
        "submitted_at": now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "call": {"id": call.id, "code": call.code},
        "partnership": {"id": partnership.id, "name": partnership.name},
        "content": app.content,
        "members": members.iter().map(|(m, o)| json!({
            "organization_id": m.organization_id,
            "role": m.role,
            "tax_code": o.facts.tax_code.as_str(),
            "vat_number": o.facts.vat_number.as_ref().map(|v| v.as_str()),
            "legal_name": o.facts.legal_name,
            "category": o.facts.category(),
            "subtype": o.facts.subtype,
            "chamber_registration": o.facts.chamber_registration,
            "seats": o.facts.seats,
            "staff": o.facts.figures.as_ref().map(|f| f.staff.to_string()),
            "turnover": o.facts.figures.as_ref().and_then(|f| f.turnover),
            "balance_sheet_total": o.facts.figures.as_ref().and_then(|f| f.balance_sheet_total),
            "reference_year": o.facts.reference_year,
            "size_class": o.facts.size_class(),
        })).collect::<Vec<_>>(),
        "documents": docs.iter().map(|d| json!({"kind": d.kind, "file_name": d.file_name, "size_bytes": d.size_bytes, "sha256": d.sha256, "organization_id": d.organization_id})).collect::<Vec<_>>(),
    });
    let canonical = serde_json_canonicalizer::to_string(&snapshot).map_err(anyhow::Error::from)?;
    let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
    let mut event_rows = Writes::new();
    events::plan(
        &mut event_rows,
        &actor,
        now,
        submitted_event(protocol.clone(), Some(&hash)),
        &audience,
    )?;
    let submission = Submission {
        protocol_number: &protocol,
        submitted_at: now,
        snapshot: &canonical,
        snapshot_sha256: &hash,
    };
    let submitted = Application {
        status: ApplicationStatus::Submitted,
        protocol_number: Some(protocol.clone()),
        submitted_at: Some(now),
        snapshot: Some(canonical.clone()),
        snapshot_sha256: Some(hash.clone()),
        review_status: Some(crate::domain::review::ReviewStatus::Pending),
        version: app.version + 1,
        updated_at: now,
        ..app
    };
    let receipt = receipt_of(&submitted, &s.call, &*reveal)?;
    let answer = respond(&receipt)?;
    // The application was locked as a draft: its update touches it, or nothing is kept.
    let stored = db_store::submission::write(
        &tx,
        &Submitted {
            id,
            version: submitted.version,
            submission,
            actor: &actor,
            at: now,
        },
        event_rows,
        answer.as_ref(),
    )
    .await?;
    if !stored {
        return Err(ApiError::from(ErrorCode::AlreadySubmitted.worded(
            "The application has already been submitted.",
            "La domanda è già stata presentata.",
        )));
    }
    tx.commit().await?;
    Ok(())
}

/// Withdraw a submitted application the caller leads, with a reason (possible until its
/// ranking is approved). The reason is read (`parse`) once the caller is known to lead it.
pub async fn withdraw(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<String, ApiError>,
) -> Result<Shown, ApiError> {
    let s = managed(db, caller, id).await?;
    let reason = parse()?;
    ApiError::check(check_text("reason", &reason, 2000).into_iter().collect())?;
    let reason = reason.trim();
    let id = s.app.id;
    let actor = caller.actor();
    let tx = db_store::begin_write(db).await?;
    let app = store::lock(&tx, id)
        .await?
        .ok_or_else(application_not_found)?;
    ensure_not_approved(&tx, &app).await?;
    if app.status != ApplicationStatus::Submitted {
        return Err(ApiError::from(ErrorCode::NotSubmitted));
    }
    store::mark_withdrawn(&tx, id, app.version + 1, now).await?;
    store::record_history(
        &tx,
        id,
        Some(ApplicationStatus::Submitted.as_str()),
        ApplicationStatus::Withdrawn.as_str(),
        &actor,
        now,
        Some(reason.to_owned()),
    )
    .await?;
    record(
        &tx,
        &actor,
        now,
        ApplicationEvent::Withdrawn,
        id,
        None,
        Some(json!({"reason": reason})),
    )
    .await?;
    tx.commit().await?;
    let app = store::get(db, id)
        .await?
        .ok_or_else(application_not_found)?;
    shown(db, now, Seen { app, ..s }).await
}

/// Every status change of an application the caller may see, oldest first.
pub async fn history(
    db: &DatabaseConnection,
    caller: &AuthUser,
    id: Uuid,
) -> Result<Vec<HistoryEntry>, ApiError> {
    let s = seen(db, caller, id).await?;
    Ok(store::history(db, s.app.id).await?)
}

/// Filters of the application list.
#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    pub call_id: Option<Uuid>,
    pub agency: Option<AgencyCode>,
    pub status: Option<ApplicationStatus>,
    /// An intervention area code.
    pub area: Option<String>,
}

/// An application of a list: in full, or (for an evaluator who has not declared no conflict)
/// only its protocol number and title.
pub enum Listed {
    Shown(Box<Shown>),
    Restricted(Box<Application>),
}

/// The filter of what the caller may see, with the organizations it represents (applicants).
async fn scope<C: ConnectionTrait>(
    db: &C,
    caller: &AuthUser,
    q: ListQuery,
    export: bool,
) -> Result<(Filter, BTreeSet<Uuid>), ApiError> {
    if let Some(area) = &q.area
        && !is_area_code(area)
    {
        return Err(ApiError::invalid(
            "area",
            ErrorCode::InvalidCode.worded(
                "An area is a code such as TIME_SAVING.",
                "Un'area è un codice come TIME_SAVING.",
            ),
        ));
    }
    let mut filter = Filter {
        call_id: q.call_id,
        agency: q.agency,
        status: q.status,
        area: q.area,
        ..Default::default()
    };
    // Only an applicant's access depends on the organizations it represents.
    let represented = if caller.role == Role::Applicant {
        organizations::represented_by(db, caller.id).await?
    } else {
        BTreeSet::new()
    };
    match caller.role {
        Role::Admin => {}
        Role::Evaluator => {
            filter.agency_submitted = Some(caller.agency.ok_or_else(application_not_found)?);
            if export {
                // An evaluator exports only what it may read: after declaring no conflict.
                filter.declared_no_conflict_by = Some(caller.id);
            }
        }
        Role::Applicant => filter.member_of = Some(represented.clone()),
    }
    Ok((filter, represented))
}

/// The applications the caller may see: of the partnerships its organizations belong to;
/// for evaluators, those submitted to their agency; for administrators, all. A page, with
/// the total.
///
/// Its statements share one pool connection, in a transaction that only reads: the caller's
/// check is the first statement after its `BEGIN`.
pub async fn list(
    db: &DatabaseConnection,
    caller: Caller,
    now: DateTime<Utc>,
    q: ListQuery,
    page: Page,
) -> Result<(Vec<Listed>, u64), ApiError> {
    let tx = db_store::begin_read(db).await?;
    let caller = &caller.confirm(&tx, None).await?;
    let db = &tx;
    let (filter, represented) = scope(db, caller, q, false).await?;
    let (apps, total) = store::list(db, &filter, Some(page)).await?;
    // What the page needs, in a fixed number of queries whatever its size: the caller's
    // declarations (evaluators), the partnerships with their members (an applicant's access,
    // a draft's blocking problems), each call once, and for drafts the members' facts and the
    // annexes.
    let declarations = if caller.role == Role::Evaluator {
        let ids: Vec<Uuid> = apps.iter().map(|a| a.id).collect();
        crate::store::review::declarations_of(db, &ids, caller.id)
            .await?
            .into_iter()
            .map(|(id, d)| (id, d.has_conflict))
            .collect()
    } else {
        BTreeMap::new()
    };
    let readable = |a: &Application| {
        caller.role != Role::Evaluator
            || crate::domain::review::may_work(declarations.get(&a.id).copied()).is_ok()
    };
    let shown: Vec<&Application> = apps.iter().filter(|a| readable(a)).collect();
    // For others than applicants the access is `Read` whatever the partnership.
    let wanted: Vec<Uuid> = shown
        .iter()
        .filter(|a| caller.role == Role::Applicant || a.status == ApplicationStatus::Draft)
        .map(|a| a.partnership_id)
        .collect::<BTreeSet<Uuid>>()
        .into_iter()
        .collect();
    let partnerships = partnerships::get_many(db, &wanted).await?;
    let call_ids: BTreeSet<Uuid> = shown.iter().map(|a| a.call_id).collect();
    let calls = calls::get_many(db, &call_ids).await?;
    let drafts: Vec<&Application> = shown
        .iter()
        .copied()
        .filter(|a| a.status == ApplicationStatus::Draft)
        .collect();
    let draft_partnerships: Vec<&partnerships::Partnership> = drafts
        .iter()
        .filter_map(|a| partnerships.get(&a.partnership_id))
        .collect();
    let members = partnerships::members_for_rules_of(db, &draft_partnerships).await?;
    let draft_ids: Vec<Uuid> = drafts.iter().map(|a| a.id).collect();
    let annexes = store::documents_of(db, &draft_ids).await?;
    // Everything is read: the connection goes back before the page is built.
    tx.commit().await?;
    let mut items = Vec::with_capacity(apps.len());
    for app in apps.iter() {
        if !readable(app) {
            items.push(Listed::Restricted(Box::new(app.clone())));
            continue;
        }
        let partnership = partnerships.get(&app.partnership_id);
        let access = partnership
            .and_then(|p| {
                application_access(
                    caller.role,
                    caller.agency,
                    &represented,
                    p.lead(),
                    &p.member_ids(),
                    app.status,
                    app.content.agency_code,
                )
            })
            .unwrap_or(Access::Read);
        let call = calls.get(&app.call_id).ok_or_else(application_not_found)?;
        let blocking = if app.status == ApplicationStatus::Draft {
            let p = partnership.ok_or_else(application_not_found)?;
            let members: Vec<Member> = members
                .get(&p.id)
                .map(|ms| ms.iter().map(|(m, _)| m.clone()).collect())
                .unwrap_or_default();
            let annexes: Vec<AnnexFacts> = annexes
                .get(&app.id)
                .map(|ds| ds.iter().map(annex_facts).collect())
                .unwrap_or_default();
            submission_problems(
                &app.content,
                &call.rules,
                &call.window,
                now,
                &members,
                &annexes,
            )
        } else {
            vec![]
        };
        items.push(Listed::Shown(Box::new(Shown {
            app: app.clone(),
            call: call.clone(),
            access,
            blocking,
        })));
    }
    Ok((items, total))
}

/// Every application the caller may export, handed to `each` with its call one at a time as
/// its row arrives (one query for their calls, one for them), so that an export of a whole
/// call is never held in memory.
pub async fn export<F>(
    db: &DatabaseConnection,
    caller: &AuthUser,
    q: ListQuery,
    mut each: F,
) -> Result<(), ApiError>
where
    F: FnMut(&Application, Option<&Call>) -> Result<(), ApiError>,
{
    let (filter, _) = scope(db, caller, q, true).await?;
    let calls = store::calls_of(db, &filter).await?;
    store::try_for_each(db, &filter, |a| each(&a, calls.get(&a.call_id))).await
}
