//! Calls: drafting, publishing, amending, cloning, and their envelopes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

use super::events;
use super::rankings::scorrimento_after;
use super::rankings::used;
use crate::auth::AuthUser;
use crate::domain::ErrorCode;
use crate::domain::Violations;
use crate::domain::agency::AgencyCode;
use crate::domain::call::{
    AmendmentAct, Call, CallEdit, CallStatus, Envelope, FieldChange, PinnedEnvelope, Reallocation,
    apply_edit, check_call_code, check_content, check_envelopes, default_equal_share,
    envelopes_by_split, resplit_for_total, split_populations,
};
use crate::domain::event::Actor;
use crate::domain::event::call::{self as event, CallEvent};
use crate::domain::money::Money;
use crate::domain::percent::Percent;
use crate::domain::version::Expected;
use crate::error::ApiError;
use crate::store::{Page, begin_write, calls, grants, is_unique_violation, payments, recoveries};

pub use crate::store::calls::Amendment;

pub fn call_not_found() -> ApiError {
    ApiError::from(ErrorCode::CallNotFound)
}

fn duplicate_code(code: &str) -> ApiError {
    ApiError::from(ErrorCode::CallCodeTaken.with(&[("code", &code)]))
}

/// A write refused because the code is taken, or failed.
fn or_duplicate(e: DbErr, code: &str) -> ApiError {
    if is_unique_violation(&e) {
        duplicate_code(code)
    } else {
        e.into()
    }
}

/// A page of calls, newest window first; drafts for administrators only.
pub async fn list(
    db: &DatabaseConnection,
    admin: bool,
    status: Option<CallStatus>,
    page: Page,
) -> Result<(Vec<Call>, u64), ApiError> {
    Ok(calls::list(db, admin, status, page).await?)
}

/// A call as a caller sees it: drafts are visible to administrators only.
pub async fn read(db: &DatabaseConnection, admin: bool, id: Uuid) -> Result<Call, ApiError> {
    let call = calls::get(db, id).await?.ok_or_else(call_not_found)?;
    if call.status == CallStatus::Draft && !admin {
        return Err(call_not_found());
    }
    Ok(call)
}

/// Every amendment of a call's dates, oldest first.
pub async fn amendments(
    db: &DatabaseConnection,
    admin: bool,
    id: Uuid,
) -> Result<Vec<Amendment>, ApiError> {
    let call = read(db, admin, id).await?;
    Ok(calls::amendments(db, call.id).await?)
}

/// A call and its envelopes.
pub async fn envelopes(
    db: &DatabaseConnection,
    admin: bool,
    id: Uuid,
) -> Result<Envelopes, ApiError> {
    let call = read(db, admin, id).await?;
    let envelopes = calls::envelopes(db, call.id).await?;
    book(db, call, envelopes).await
}

/// What an agency has done with its envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spent {
    /// In offered and accepted grants.
    pub committed: Money,
    /// Paid out to the projects.
    pub paid: Money,
    /// Paid beyond what revoked, renounced or reduced grants allow, and not yet paid back.
    pub to_recover: Money,
}

/// A call's envelopes, with what each agency committed and paid.
#[derive(Debug, Clone)]
pub struct Envelopes {
    pub call: Call,
    pub items: Vec<Envelope>,
    pub spent: BTreeMap<AgencyCode, Spent>,
}

/// The envelopes with what each agency committed and paid (money is added in Rust).
async fn book(
    db: &DatabaseConnection,
    call: Call,
    items: Vec<Envelope>,
) -> Result<Envelopes, ApiError> {
    let zero = Spent {
        committed: Money::ZERO,
        paid: Money::ZERO,
        to_recover: Money::ZERO,
    };
    let mut spent: BTreeMap<AgencyCode, Spent> = items.iter().map(|e| (e.agency, zero)).collect();
    for g in grants::of_call(db, call.id).await? {
        if g.status.commits() {
            let s = spent.entry(g.agency).or_insert(zero);
            s.committed = s.committed.checked_add(g.commits()).unwrap_or(s.committed);
        }
    }
    for p in payments::paid_amounts(db, Some(call.id)).await? {
        let s = spent.entry(p.agency).or_insert(zero);
        s.paid = s.paid.checked_add(p.amount).unwrap_or(s.paid);
    }
    for r in recoveries::to_recover(db, Some(call.id)).await? {
        let s = spent.entry(r.agency).or_insert(zero);
        s.to_recover = s.to_recover.checked_add(r.amount).unwrap_or(s.to_recover);
    }
    Ok(Envelopes { call, items, spent })
}

/// The stored population of every agency, as the split uses it.
async fn populations(db: &DatabaseConnection) -> Result<Vec<(AgencyCode, u64)>, ApiError> {
    Ok(calls::agencies(db)
        .await?
        .into_iter()
        .filter_map(|a| {
            Some((
                AgencyCode::parse(&a.code)?,
                u64::try_from(a.population).ok()?,
            ))
        })
        .collect())
}

/// Store a new call with its envelopes (and, for seeds, its past amendments), in one
/// transaction with its event.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    call: &Call,
    envelopes: &[Envelope],
    past_amendments: &[(AmendmentAct, Vec<FieldChange>)],
) -> Result<(), ApiError> {
    let tx = begin_write(db).await?;
    if calls::get_by_code(&tx, &call.code).await?.is_some() {
        return Err(duplicate_code(&call.code));
    }
    calls::insert(&tx, call)
        .await
        .map_err(|e| or_duplicate(e, &call.code))?;
    calls::write_envelopes(&tx, call.id, envelopes, now).await?;
    for (act, changes) in past_amendments {
        calls::write_amendment(&tx, call.id, act, changes, actor.user_id, now).await?;
    }
    events::record(&tx, actor, now, event::created(call, envelopes)).await?;
    tx.commit().await?;
    Ok(())
}

/// A new call as an administrator gives it; without envelopes, the total is split 30/70
/// over the agencies' populations.
pub struct NewCall {
    pub code: String,
    pub edit: CallEdit,
    pub envelopes: Option<Vec<Envelope>>,
}

/// Create a call as a draft (administrators; the request is read by `parse` once the
/// caller may).
pub async fn create_draft(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    parse: impl FnOnce() -> Result<NewCall, ApiError>,
) -> Result<Call, ApiError> {
    caller.require_admin()?;
    let NewCall {
        code,
        edit,
        envelopes,
    } = parse()?;
    let mut v = Violations::new();
    v.extend(check_call_code(&code));
    let window = check_content(&edit).map_err(|e| v.extend(e)).ok();
    let envelopes = match envelopes {
        Some(es) => {
            v.extend(check_envelopes(edit.total_budget, &es, "envelopes"));
            es
        }
        None => envelopes_by_split(
            edit.total_budget,
            default_equal_share(),
            &populations(db).await?,
            &[],
        )
        .map_err(|e| ApiError::Validation(vec![e]))?,
    };
    let window = match window {
        Some(w) if v.is_empty() => w,
        _ => return Err(ApiError::Validation(v.into_vec())),
    };
    let call = Call {
        id: Uuid::new_v4(),
        code,
        title: edit.title,
        description: edit.description,
        legal_basis: edit.legal_basis,
        status: CallStatus::Draft,
        window,
        total_budget: edit.total_budget,
        rules: edit.rules,
        cloned_from: None,
        version: 1,
        created_at: now,
        updated_at: now,
        published_at: None,
    };
    create(db, &caller.actor(), now, &call, &envelopes, &[]).await?;
    Ok(call)
}

/// What a next edition changes of the call it is cloned from.
pub struct CloneInput {
    pub code: String,
    /// Defaults to the source's title.
    pub title: Option<String>,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    /// Defaults to the source's total.
    pub total_budget: Option<Money>,
}

/// Create the next edition as a draft with the same rules (and envelopes, when the total
/// is the same; otherwise they are split 30/70).
pub async fn clone(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    source_id: Uuid,
    parse: impl FnOnce() -> Result<CloneInput, ApiError>,
) -> Result<Call, ApiError> {
    caller.require_admin()?;
    let input = parse()?;
    let source = calls::get(db, source_id)
        .await?
        .ok_or_else(call_not_found)?;
    let total = input.total_budget.unwrap_or(source.total_budget);
    let edit = CallEdit {
        title: input.title.unwrap_or_else(|| source.title.clone()),
        description: source.description.clone(),
        legal_basis: String::new(),
        opens_at: input.opens_at,
        closes_at: input.closes_at,
        total_budget: total,
        rules: source.rules.clone(),
    };
    let mut v = Violations::new();
    v.extend(check_call_code(&input.code));
    let window = check_content(&edit).map_err(|e| v.extend(e)).ok();
    let window = match window {
        Some(w) if v.is_empty() => w,
        _ => return Err(ApiError::Validation(v.into_vec())),
    };
    let envelopes = if total == source.total_budget {
        calls::envelopes(db, source.id).await?
    } else {
        envelopes_by_split(total, default_equal_share(), &populations(db).await?, &[])
            .map_err(|e| ApiError::Validation(vec![e]))?
    };
    let call = Call {
        id: Uuid::new_v4(),
        code: input.code,
        title: edit.title.trim().to_owned(),
        description: edit.description,
        legal_basis: edit.legal_basis,
        status: CallStatus::Draft,
        window,
        total_budget: total,
        rules: edit.rules,
        cloned_from: Some(source.id),
        version: 1,
        created_at: now,
        updated_at: now,
        published_at: None,
    };
    create(db, &caller.actor(), now, &call, &envelopes, &[]).await?;
    Ok(call)
}

/// What an update of a call decided.
struct CallUpdate {
    call: Call,
    published: bool,
    amendment: Option<(AmendmentAct, Vec<FieldChange>)>,
    /// Replace the envelopes too (e.g. a draft whose total changed).
    envelopes: Option<Vec<Envelope>>,
}

/// Change a call under optimistic concurrency: `decide` sees the current call and its
/// envelopes and returns the new state; nothing is written when it fails, and the write
/// fails with 412 when somebody else changed the call in between.
async fn update<F>(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    id: Uuid,
    expected_version: Option<Expected>,
    decide: F,
) -> Result<Call, ApiError>
where
    F: FnOnce(&Call, &[Envelope]) -> Result<CallUpdate, ApiError>,
{
    let tx = begin_write(db).await?;
    let current = calls::get(&tx, id).await?.ok_or_else(call_not_found)?;
    if expected_version
        .as_ref()
        .is_some_and(|v| !v.matches(current.version))
    {
        return Err(ApiError::PreconditionFailed);
    }
    let current_envelopes = calls::envelopes(&tx, id).await?;
    let CallUpdate {
        mut call,
        published,
        amendment,
        envelopes: new_envelopes,
    } = decide(&current, &current_envelopes)?;
    call.id = id;
    call.version = current.version + 1;
    call.updated_at = now;
    if !calls::update_if_version(&tx, &call, current.version)
        .await
        .map_err(|e| or_duplicate(e, &call.code))?
    {
        return Err(ApiError::PreconditionFailed);
    }
    if let Some(es) = &new_envelopes {
        calls::write_envelopes(&tx, id, es, now).await?;
    }
    if let Some((act, changes)) = &amendment {
        calls::write_amendment(&tx, id, act, changes, actor.user_id, now).await?;
    }
    let changed = event::changed(
        &current,
        &call,
        published,
        new_envelopes
            .as_deref()
            .map(|es| (current_envelopes.as_slice(), es)),
        amendment.as_ref().map(|(a, c)| (a, c.as_slice())),
    );
    events::record(&tx, actor, now, changed).await?;
    tx.commit().await?;
    Ok(call)
}

/// Publish a draft (administrators): from now on everybody sees it. Its envelopes must add
/// up to its total.
pub async fn publish(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<Call, ApiError> {
    caller.require_admin()?;
    update(db, &caller.actor(), now, id, None, |current, envelopes| {
        if current.status == CallStatus::Published {
            return Err(ApiError::from(ErrorCode::CallAlreadyPublished));
        }
        ApiError::check(check_envelopes(
            current.total_budget,
            envelopes,
            "envelopes",
        ))?;
        let call = Call {
            status: CallStatus::Published,
            published_at: Some(now),
            ..current.clone()
        };
        Ok(CallUpdate {
            call,
            published: true,
            amendment: None,
            envelopes: None,
        })
    })
    .await
}

/// Change a call at `version` (administrators): `edit` turns the call as it is into the
/// edited content. A published call's dates change only with an amendment `act`; a new
/// total splits the envelopes again.
pub async fn patch(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    version: Expected,
    act: Option<AmendmentAct>,
    edit: impl FnOnce(&Call) -> Result<CallEdit, ApiError>,
) -> Result<Call, ApiError> {
    caller.require_admin()?;
    let current = calls::get(db, id).await?.ok_or_else(call_not_found)?;
    let edit = edit(&current)?;
    let pops = populations(db).await?;
    update(
        db,
        &caller.actor(),
        now,
        id,
        Some(version),
        |current, current_envelopes| {
            let (call, changes) =
                apply_edit(current, edit, act.as_ref(), now).map_err(ApiError::Validation)?;
            let amendment = act.filter(|_| !changes.is_empty()).map(|a| (a, changes));
            let envelopes = if call.total_budget != current.total_budget {
                let split = resplit_for_total(call.total_budget, current_envelopes, &pops)
                    .map_err(|v| ApiError::Validation(vec![v]))?;
                Some(split)
            } else {
                None
            };
            Ok(CallUpdate {
                call,
                published: false,
                amendment,
                envelopes,
            })
        },
    )
    .await
}

/// Replace a call's envelopes, checked by `decide` against the current call, in one
/// transaction with its event: never below what an agency has committed; money arriving
/// in an agency whose ranking is approved goes down its reserve list at once.
async fn replace_envelopes<F>(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    id: Uuid,
    kind: CallEvent,
    decide: F,
) -> Result<(Call, Vec<Envelope>), ApiError>
where
    F: FnOnce(&Call, &[Envelope]) -> Result<Vec<Envelope>, ApiError>,
{
    let tx = begin_write(db).await?;
    calls::lock_envelopes(&tx, id).await?;
    let current = calls::get(&tx, id).await?.ok_or_else(call_not_found)?;
    let before = calls::envelopes(&tx, id).await?;
    let new = decide(&current, &before)?;
    let mut v = Violations::new();
    for (i, e) in new.iter().enumerate() {
        let committed = used(
            &tx,
            id,
            e.agency,
            &grants::of_agency(&tx, id, e.agency).await?,
        )
        .await?;
        if e.amount < committed {
            v.add(
                format!("envelopes[{i}].amount"),
                ErrorCode::BelowCommitted.with(&[("agency", &e.agency), ("committed", &committed)]),
            );
        }
    }
    ApiError::check(v.into_vec())?;
    calls::write_envelopes(&tx, id, &new, now).await?;
    for e in &new {
        if before
            .iter()
            .find(|b| b.agency == e.agency)
            .is_some_and(|b| e.amount > b.amount)
        {
            scorrimento_after(
                &tx,
                actor,
                id,
                e.agency,
                "scorrimento after an increase of the envelope",
                now,
            )
            .await?;
        }
    }
    calls::bump_version(&tx, id, now).await?;
    let changed = event::envelopes_changed(kind, &current, &before, &new);
    events::record(&tx, actor, now, changed).await?;
    tx.commit().await?;
    Ok((current, new))
}

/// Set every agency's envelope at once (administrators); they must add up to the call's
/// total.
pub async fn set_envelopes(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<Vec<Envelope>, ApiError>,
) -> Result<Envelopes, ApiError> {
    caller.require_admin()?;
    let envelopes = parse()?;
    let (call, stored) = replace_envelopes(
        db,
        &caller.actor(),
        now,
        id,
        CallEvent::EnvelopesSet,
        |call, _| {
            ApiError::check(check_envelopes(call.total_budget, &envelopes, "envelopes"))?;
            let mut sorted = envelopes.clone();
            sorted.sort_by_key(|e| e.agency.as_str());
            Ok(sorted)
        },
    )
    .await?;
    book(db, call, stored).await
}

/// How to split a call's total into envelopes.
pub struct Split {
    /// The share of the total split in equal parts (default 30.00).
    pub equal_share: Option<Percent>,
    /// Populations to use instead of the stored ones.
    pub populations: Vec<(AgencyCode, u64)>,
    /// Envelopes that keep a fixed amount; the others share the rest.
    pub pinned: Vec<PinnedEnvelope>,
    /// Compute without storing.
    pub dry_run: bool,
}

/// Compute the envelopes from the call's total (administrators), and store them unless
/// `dry_run`.
pub async fn split(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<Split, ApiError>,
) -> Result<Envelopes, ApiError> {
    caller.require_admin()?;
    let split = parse()?;
    let pops = split_populations(populations(db).await?, &split.populations, &split.pinned)
        .map_err(ApiError::Validation)?;
    let share = split.equal_share.unwrap_or_else(default_equal_share);
    let compute = |call: &Call| {
        envelopes_by_split(call.total_budget, share, &pops, &split.pinned)
            .map_err(|e| ApiError::Validation(vec![e]))
    };
    if split.dry_run {
        let call = calls::get(db, id).await?.ok_or_else(call_not_found)?;
        let envelopes = compute(&call)?;
        return book(db, call, envelopes).await;
    }
    let (call, stored) = replace_envelopes(
        db,
        &caller.actor(),
        now,
        id,
        CallEvent::EnvelopesSet,
        |call, _| compute(call),
    )
    .await?;
    book(db, call, stored).await
}

/// Move money an agency has not committed to another agency's envelope (administrators).
pub async fn reallocate(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<Reallocation, ApiError>,
) -> Result<Envelopes, ApiError> {
    caller.require_admin()?;
    let r = parse()?;
    let call = calls::get(db, id).await?.ok_or_else(call_not_found)?;
    let committed = used(db, id, r.from, &grants::of_agency(db, id, r.from).await?).await?;
    let from_amount = calls::envelope_of(db, id, r.from).await?;
    let unused = from_amount.checked_sub(committed).unwrap_or(Money::ZERO);
    ApiError::check(r.check(unused))?;
    let (_, stored) = replace_envelopes(
        db,
        &caller.actor(),
        now,
        id,
        CallEvent::Reallocated,
        |_, envelopes| {
            r.apply(envelopes)
                .map_err(|v| ApiError::Validation(vec![v]))
        },
    )
    .await?;
    book(db, call, stored).await
}
