//! Calls, their amendments and their envelopes.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, Actor, Change};
use super::rows::{corrupt, money, to_call};
use super::{Page, begin_write};
use crate::domain::agency::AgencyCode;
use crate::domain::call::{AmendmentAct, Call, CallStatus, Envelope, EnvelopeSource, FieldChange};
use crate::domain::money::Money;
use crate::entity::{agency, call, call_amendment, envelope};
use crate::error::ApiError;

fn to_envelope(m: envelope::Model) -> Result<Envelope, DbErr> {
    Ok(Envelope {
        agency: AgencyCode::parse(&m.agency_code)
            .ok_or_else(|| corrupt("agency", &m.agency_code))?,
        amount: money(m.amount)?,
        source: EnvelopeSource::parse(&m.source).ok_or_else(|| corrupt("source", &m.source))?,
        note: m.note,
    })
}

/// An amendment of a call, as stored.
#[derive(Debug, Clone)]
pub struct Amendment {
    pub id: Uuid,
    pub act_number: String,
    pub act_date: NaiveDate,
    pub reason: Option<String>,
    pub changes: Vec<FieldChange>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

/// An agency with its population, as the split uses it.
pub async fn agencies(db: &DatabaseConnection) -> Result<Vec<agency::Model>, DbErr> {
    agency::Entity::find()
        .order_by_asc(agency::Column::Code)
        .all(db)
        .await
}

/// A page of calls, newest window first; drafts only when asked for.
pub async fn list(
    db: &DatabaseConnection,
    include_drafts: bool,
    status: Option<CallStatus>,
    page: Page,
) -> Result<(Vec<Call>, u64), DbErr> {
    let mut q = call::Entity::find();
    if !include_drafts {
        q = q.filter(call::Column::Status.eq(CallStatus::Published.as_str()));
    }
    if let Some(s) = status {
        q = q.filter(call::Column::Status.eq(s.as_str()));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(call::Column::OpensAt)
        .order_by_asc(call::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    let calls = rows
        .into_iter()
        .map(to_call)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((calls, total))
}

pub async fn get<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<Call>, DbErr> {
    call::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(to_call)
        .transpose()
}

/// Several calls by id, in one query.
pub async fn get_many<C: ConnectionTrait>(
    db: &C,
    ids: &BTreeSet<Uuid>,
) -> Result<BTreeMap<Uuid, Call>, DbErr> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    call::Entity::find()
        .filter(call::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|m| to_call(m).map(|c| (c.id, c)))
        .collect()
}

pub async fn get_by_code<C: ConnectionTrait>(db: &C, code: &str) -> Result<Option<Call>, DbErr> {
    call::Entity::find()
        .filter(call::Column::Code.eq(code))
        .one(db)
        .await?
        .map(to_call)
        .transpose()
}

pub async fn envelopes<C: ConnectionTrait>(db: &C, call_id: Uuid) -> Result<Vec<Envelope>, DbErr> {
    envelope::Entity::find()
        .filter(envelope::Column::CallId.eq(call_id))
        .order_by_asc(envelope::Column::AgencyCode)
        .all(db)
        .await?
        .into_iter()
        .map(to_envelope)
        .collect()
}

/// One agency's envelope in a call (0.00 when it has none).
pub async fn envelope_of<C: ConnectionTrait>(
    db: &C,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<Money, DbErr> {
    Ok(envelopes(db, call_id)
        .await?
        .into_iter()
        .find(|e| e.agency == agency)
        .map(|e| e.amount)
        .unwrap_or(Money::ZERO))
}

pub async fn amendments(db: &DatabaseConnection, call_id: Uuid) -> Result<Vec<Amendment>, DbErr> {
    call_amendment::Entity::find()
        .filter(call_amendment::Column::CallId.eq(call_id))
        .order_by_asc(call_amendment::Column::CreatedAt)
        .order_by_asc(call_amendment::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|m| {
            Ok(Amendment {
                id: m.id,
                act_number: m.act_number,
                act_date: m.act_date,
                reason: m.reason,
                changes: serde_json::from_str(&m.changes).map_err(|e| corrupt("changes", e))?,
                created_at: m.created_at,
                created_by: m.created_by,
            })
        })
        .collect()
}

fn call_json(c: &Call) -> serde_json::Value {
    json!({
        "code": c.code, "title": c.title, "status": c.status.as_str(),
        "opens_at": c.window.opens_at(), "closes_at": c.window.closes_at(),
        "total_budget": c.total_budget, "rules": c.rules, "version": c.version,
    })
}

fn envelopes_json(es: &[Envelope]) -> serde_json::Value {
    es.iter()
        .map(|e| json!({"agency_code": e.agency, "amount": e.amount, "source": e.source.as_str()}))
        .collect()
}

fn call_active(c: &Call) -> call::ActiveModel {
    call::ActiveModel {
        id: Set(c.id),
        code: Set(c.code.clone()),
        title: Set(c.title.clone()),
        description: Set(c.description.clone()),
        legal_basis: Set(c.legal_basis.clone()),
        status: Set(c.status.as_str().to_owned()),
        opens_at: Set(c.window.opens_at()),
        closes_at: Set(c.window.closes_at()),
        total_budget: Set(c.total_budget.as_decimal()),
        rules: Set(serde_json::to_string(&c.rules).unwrap_or_default()),
        cloned_from: Set(c.cloned_from),
        version: Set(c.version),
        created_at: Set(c.created_at),
        updated_at: Set(c.updated_at),
        published_at: Set(c.published_at),
    }
}

async fn write_envelopes<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    envelopes: &[Envelope],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    envelope::Entity::delete_many()
        .filter(envelope::Column::CallId.eq(call_id))
        .exec(conn)
        .await?;
    for e in envelopes {
        envelope::ActiveModel {
            id: Set(Uuid::new_v4()),
            call_id: Set(call_id),
            agency_code: Set(e.agency.as_str().to_owned()),
            amount: Set(e.amount.as_decimal()),
            source: Set(e.source.as_str().to_owned()),
            note: Set(e.note.clone()),
            updated_at: Set(now),
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

async fn write_amendment<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    act: &AmendmentAct,
    changes: &[FieldChange],
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    call_amendment::ActiveModel {
        id: Set(Uuid::new_v4()),
        call_id: Set(call_id),
        act_number: Set(act.act_number.clone()),
        act_date: Set(act.act_date),
        reason: Set(act.reason.clone()),
        changes: Set(serde_json::to_string(changes).unwrap_or_default()),
        created_at: Set(now),
        created_by: Set(actor.user_id),
    }
    .insert(conn)
    .await
    .map(|_| ())
}

fn duplicate_code(code: &str) -> ApiError {
    ApiError::conflict(
        "call_code_taken",
        format!("A call with code {code} already exists."),
        format!("Esiste già un avviso con codice {code}."),
    )
}

/// Store a new call with its envelopes (and, for seeds, its past amendments), in one
/// transaction with its audit event.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    call: &Call,
    envelopes: &[Envelope],
    past_amendments: &[(AmendmentAct, Vec<FieldChange>)],
) -> Result<(), ApiError> {
    let tx = begin_write(db).await?;
    if get_by_code(&tx, &call.code).await?.is_some() {
        return Err(duplicate_code(&call.code));
    }
    call_active(call).insert(&tx).await.map_err(|e| {
        if super::is_unique_violation(&e) {
            duplicate_code(&call.code)
        } else {
            e.into()
        }
    })?;
    write_envelopes(&tx, call.id, envelopes, now).await?;
    for (act, changes) in past_amendments {
        write_amendment(&tx, call.id, act, changes, actor, now).await?;
    }
    let mut after = call_json(call);
    after["envelopes"] = envelopes_json(envelopes);
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "call.created",
            entity_type: "call",
            entity_id: call.id.to_string(),
            before: None,
            after: Some(after),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What an update of a call decided.
pub struct CallUpdate {
    pub call: Call,
    pub amendment: Option<(AmendmentAct, Vec<FieldChange>)>,
    /// Replace the envelopes too (e.g. a draft whose total changed).
    pub envelopes: Option<Vec<Envelope>>,
    pub action: &'static str,
}

/// Change a call under optimistic concurrency: `decide` sees the current call and its
/// envelopes and returns the new state; nothing is written when it fails, and the write
/// fails with 412 when somebody else changed the call in between.
pub async fn update<F>(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    id: Uuid,
    expected_version: Option<i32>,
    decide: F,
) -> Result<Call, ApiError>
where
    F: FnOnce(&Call, &[Envelope]) -> Result<CallUpdate, ApiError>,
{
    let tx = begin_write(db).await?;
    let current = get(&tx, id)
        .await?
        .ok_or_else(crate::service::calls::call_not_found)?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(ApiError::PreconditionFailed);
    }
    let current_envelopes = envelopes(&tx, id).await?;
    let CallUpdate {
        mut call,
        amendment,
        envelopes: new_envelopes,
        action,
    } = decide(&current, &current_envelopes)?;
    call.version = current.version + 1;
    call.updated_at = now;
    let mut active = call_active(&call);
    active.id = sea_orm::ActiveValue::Unchanged(id);
    active.created_at = sea_orm::ActiveValue::NotSet;
    let result = call::Entity::update_many()
        .set(active)
        .filter(call::Column::Id.eq(id))
        .filter(call::Column::Version.eq(current.version))
        .exec(&tx)
        .await
        .map_err(|e| {
            if super::is_unique_violation(&e) {
                duplicate_code(&call.code)
            } else {
                e.into()
            }
        })?;
    if result.rows_affected != 1 {
        return Err(ApiError::PreconditionFailed);
    }
    let mut before = call_json(&current);
    let mut after = call_json(&call);
    if let Some(es) = &new_envelopes {
        write_envelopes(&tx, id, es, now).await?;
        before["envelopes"] = envelopes_json(&current_envelopes);
        after["envelopes"] = envelopes_json(es);
    }
    if let Some((act, changes)) = &amendment {
        write_amendment(&tx, id, act, changes, actor, now).await?;
        after["amendment"] =
            json!({"act_number": act.act_number, "act_date": act.act_date, "changes": changes});
    }
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action,
            entity_type: "call",
            entity_id: id.to_string(),
            before: Some(before),
            after: Some(after),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(call)
}

/// Replace a call's envelopes, checked by `decide` against the current call, in one
/// transaction with its audit event.
pub async fn replace_envelopes<F>(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    id: Uuid,
    action: &'static str,
    decide: F,
) -> Result<Vec<Envelope>, ApiError>
where
    F: FnOnce(&Call, &[Envelope]) -> Result<Vec<Envelope>, ApiError>,
{
    let tx = begin_write(db).await?;
    lock_envelopes(&tx, id).await?;
    let current = get(&tx, id)
        .await?
        .ok_or_else(crate::service::calls::call_not_found)?;
    let before = envelopes(&tx, id).await?;
    let new = decide(&current, &before)?;
    // Never below what an agency has committed.
    let mut v = crate::domain::Violations::new();
    for (i, e) in new.iter().enumerate() {
        let committed =
            super::grants::committed(&super::grants::of_agency(&tx, id, e.agency).await?);
        if e.amount < committed {
            v.add(
                format!("envelopes[{i}].amount"),
                "below_committed",
                format!("{} has committed {committed} in grants: its envelope cannot be lower.", e.agency),
                format!("{} ha impegnato {committed} in contributi: la sua dotazione non può essere inferiore.", e.agency),
            );
        }
    }
    ApiError::check(v.into_vec())?;
    write_envelopes(&tx, id, &new, now).await?;
    // Money arriving in an agency whose ranking is approved goes down its reserve list at once.
    for e in &new {
        if before
            .iter()
            .find(|b| b.agency == e.agency)
            .is_some_and(|b| e.amount > b.amount)
        {
            super::rankings::scorrimento_after(
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
    // Bump the call's version so that a stale ETag of the call is noticed.
    call::Entity::update_many()
        .col_expr(
            call::Column::Version,
            Expr::col(call::Column::Version).add(Expr::val(1)),
        )
        .col_expr(call::Column::UpdatedAt, Expr::value(now))
        .filter(call::Column::Id.eq(id))
        .exec(&tx)
        .await?;
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action,
            entity_type: "call",
            entity_id: id.to_string(),
            before: Some(envelopes_json(&before)),
            after: Some(envelopes_json(&new)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

/// Whether any call exists with this code (used by the idempotent seed).
pub async fn code_exists(db: &DatabaseConnection, code: &str) -> Result<bool, DbErr> {
    Ok(call::Entity::find()
        .filter(call::Column::Code.eq(code))
        .count(db)
        .await?
        > 0)
}

/// Lock a call's envelopes until the end of the transaction (PostgreSQL; SQLite's
/// `BEGIN IMMEDIATE` already serialises writers): every change of an agency's money
/// (approval, answers to offers, scorrimento, envelopes, reallocations) takes it first, so
/// that two service processes never commit the same euro twice.
pub async fn lock_envelopes<C: ConnectionTrait>(conn: &C, call_id: Uuid) -> Result<(), DbErr> {
    // The call's row is the lock: it is never deleted, unlike envelope rows, which are
    // replaced when they are set.
    if conn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        call::Entity::find_by_id(call_id)
            .lock_exclusive()
            .one(conn)
            .await?;
    }
    Ok(())
}

/// Run `f` in a read transaction (a consistent view on both databases).
pub async fn read<T, F>(db: &DatabaseConnection, f: F) -> Result<T, ApiError>
where
    F: AsyncFnOnce(&sea_orm::DatabaseTransaction) -> Result<T, ApiError>,
{
    let tx = db.begin().await?;
    let out = f(&tx).await?;
    tx.commit().await?;
    Ok(out)
}
