//! Calls, their amendments and their envelopes.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::Page;
use super::rows::{corrupt, money, to_call};
use crate::domain::agency::AgencyCode;
use crate::domain::call::{AmendmentAct, Call, CallStatus, Envelope, EnvelopeSource, FieldChange};
use crate::domain::money::Money;
use crate::entity::{agency, call, call_amendment, envelope};

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

/// Replace a call's envelopes.
pub async fn write_envelopes<C: ConnectionTrait>(
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

/// Record an amendment of a call.
pub async fn write_amendment<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    act: &AmendmentAct,
    changes: &[FieldChange],
    by: Option<Uuid>,
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
        created_by: Set(by),
    }
    .insert(conn)
    .await
    .map(|_| ())
}

/// Insert a new call (a unique violation when its code is taken).
pub async fn insert<C: ConnectionTrait>(conn: &C, c: &Call) -> Result<(), DbErr> {
    call_active(c).insert(conn).await.map(|_| ())
}

/// Write a call's new state if it is still at `expected_version`: whether it was (a unique
/// violation when its new code is taken).
pub async fn update_if_version<C: ConnectionTrait>(
    conn: &C,
    c: &Call,
    expected_version: i32,
) -> Result<bool, DbErr> {
    let mut active = call_active(c);
    active.id = sea_orm::ActiveValue::Unchanged(c.id);
    active.created_at = sea_orm::ActiveValue::NotSet;
    let result = call::Entity::update_many()
        .set(active)
        .filter(call::Column::Id.eq(c.id))
        .filter(call::Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Bump a call's version (its envelopes changed), so that a stale ETag of it is noticed.
pub async fn bump_version<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    call::Entity::update_many()
        .col_expr(
            call::Column::Version,
            Expr::col(call::Column::Version).add(Expr::val(1)),
        )
        .col_expr(call::Column::UpdatedAt, Expr::value(now))
        .filter(call::Column::Id.eq(id))
        .exec(conn)
        .await
        .map(|_| ())
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
