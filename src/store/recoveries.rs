//! Recovery orders: what a grant paid beyond what it now allows, and whether it came back.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::Page;
use super::rows::{GrantMoney, corrupt, money};
use crate::domain::agency::AgencyCode;
use crate::domain::award::{Recovery, RecoveryStatus};
use crate::domain::money::Money;
use crate::entity::recovery;

/// A recovery order as stored: the domain's, its call, and when each step happened.
#[derive(Debug, Clone)]
pub struct StoredRecovery {
    pub recovery: Recovery,
    pub call_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub version: i32,
}

fn to_recovery(m: recovery::Model) -> Result<StoredRecovery, DbErr> {
    let id = m.id;
    Ok(StoredRecovery {
        recovery: Recovery {
            id: m.id,
            grant_id: m.grant_id,
            agency: AgencyCode::parse(&m.agency_code)
                .ok_or_else(|| corrupt("recovery agency", id))?,
            amount: money(m.amount)?,
            status: RecoveryStatus::parse(&m.status)
                .ok_or_else(|| corrupt("recovery status", id))?,
            due_date: m.due_date,
            reason: m.reason,
            settled_by: m.settled_by,
            payment_reference: m.payment_reference,
            cancelled_by: m.cancelled_by,
            cancel_reason: m.cancel_reason,
        },
        call_id: m.call_id,
        issued_at: m.issued_at,
        settled_at: m.settled_at,
        cancelled_at: m.cancelled_at,
        version: m.version,
    })
}

pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    r: &Recovery,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    recovery::ActiveModel {
        id: Set(r.id),
        grant_id: Set(r.grant_id),
        call_id: Set(call_id),
        agency_code: Set(r.agency.as_str().to_owned()),
        amount: Set(r.amount.as_decimal()),
        status: Set(r.status.as_str().to_owned()),
        due_date: Set(r.due_date),
        reason: Set(r.reason.clone()),
        issued_at: Set(now),
        settled_by: Set(None),
        settled_at: Set(None),
        payment_reference: Set(None),
        cancelled_by: Set(None),
        cancelled_at: Set(None),
        cancel_reason: Set(None),
        version: Set(1),
    }
    .insert(conn)
    .await
    .map(|_| ())
}

pub async fn get<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<StoredRecovery>, DbErr> {
    recovery::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(to_recovery)
        .transpose()
}

/// Write a recovery's new state (settled or cancelled), if nobody changed it since
/// `version` was read: whether the write took.
pub async fn update<C: ConnectionTrait>(
    conn: &C,
    r: &Recovery,
    version: i32,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let settled = r.status == RecoveryStatus::Settled;
    let updated = recovery::Entity::update_many()
        .set(recovery::ActiveModel {
            status: Set(r.status.as_str().to_owned()),
            settled_by: Set(r.settled_by),
            settled_at: Set(settled.then_some(now)),
            payment_reference: Set(r.payment_reference.clone()),
            cancelled_by: Set(r.cancelled_by),
            cancelled_at: Set((r.status == RecoveryStatus::Cancelled).then_some(now)),
            cancel_reason: Set(r.cancel_reason.clone()),
            version: Set(version + 1),
            ..Default::default()
        })
        .filter(recovery::Column::Id.eq(r.id))
        .filter(recovery::Column::Version.eq(version))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Filters of the recovery list; the scope comes from the caller's role.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub call_id: Option<Uuid>,
    pub agency: Option<AgencyCode>,
    pub status: Option<RecoveryStatus>,
    pub grant_id: Option<Uuid>,
    /// Applicants: only these grants' recoveries.
    pub grants: Option<Vec<Uuid>>,
}

/// Every recovery order of a grant.
pub async fn of_grant<C: ConnectionTrait>(
    conn: &C,
    grant_id: Uuid,
) -> Result<Vec<StoredRecovery>, DbErr> {
    recovery::Entity::find()
        .filter(recovery::Column::GrantId.eq(grant_id))
        .order_by_asc(recovery::Column::IssuedAt)
        .all(conn)
        .await?
        .into_iter()
        .map(to_recovery)
        .collect()
}

pub async fn list(
    db: &DatabaseConnection,
    f: &Filter,
    page: Page,
) -> Result<(Vec<StoredRecovery>, u64), DbErr> {
    let mut q = recovery::Entity::find();
    if let Some(c) = f.call_id {
        q = q.filter(recovery::Column::CallId.eq(c));
    }
    if let Some(a) = f.agency {
        q = q.filter(recovery::Column::AgencyCode.eq(a.as_str()));
    }
    if let Some(s) = f.status {
        q = q.filter(recovery::Column::Status.eq(s.as_str()));
    }
    if let Some(g) = f.grant_id {
        q = q.filter(recovery::Column::GrantId.eq(g));
    }
    if let Some(grants) = &f.grants {
        q = q.filter(recovery::Column::GrantId.is_in(grants.iter().copied()));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(recovery::Column::IssuedAt)
        .order_by_asc(recovery::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok((
        rows.into_iter()
            .map(to_recovery)
            .collect::<Result<_, _>>()?,
        total,
    ))
}

/// What is still to be recovered: a row for each issued order (of one call, or of all), with
/// its grant, for the caller to add up in Rust.
pub async fn to_recover<C: ConnectionTrait>(
    conn: &C,
    call_id: Option<Uuid>,
) -> Result<Vec<GrantMoney>, DbErr> {
    amounts(conn, call_id, RecoveryStatus::Issued).await
}

/// What came back: a row for each settled order of a call, with its grant, for the caller to
/// add up in Rust.
pub async fn settled<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
) -> Result<Vec<GrantMoney>, DbErr> {
    amounts(conn, Some(call_id), RecoveryStatus::Settled).await
}

/// The orders in `status` (of one call, or of all), one row each.
async fn amounts<C: ConnectionTrait>(
    conn: &C,
    call_id: Option<Uuid>,
    status: RecoveryStatus,
) -> Result<Vec<GrantMoney>, DbErr> {
    let mut q = recovery::Entity::find()
        .select_only()
        .column(recovery::Column::CallId)
        .column(recovery::Column::AgencyCode)
        .column(recovery::Column::GrantId)
        .column(recovery::Column::Amount)
        .filter(recovery::Column::Status.eq(status.as_str()));
    if let Some(c) = call_id {
        q = q.filter(recovery::Column::CallId.eq(c));
    }
    q.into_tuple::<(Uuid, String, Uuid, rust_decimal::Decimal)>()
        .all(conn)
        .await?
        .into_iter()
        .map(|(call_id, agency, grant_id, amount)| {
            let agency =
                AgencyCode::parse(&agency).ok_or_else(|| corrupt("recovery agency", &agency))?;
            Ok(GrantMoney {
                call_id,
                agency,
                grant_id,
                amount: money(amount)?,
            })
        })
        .collect()
}

/// What an agency's ended grants paid and did not get back: the recovery orders still
/// issued and those cancelled (given up), which its envelope cannot lend again.
pub async fn held<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<Money, DbErr> {
    let amounts: Vec<rust_decimal::Decimal> = recovery::Entity::find()
        .select_only()
        .column(recovery::Column::Amount)
        .filter(recovery::Column::CallId.eq(call_id))
        .filter(recovery::Column::AgencyCode.eq(agency.as_str()))
        .filter(recovery::Column::Status.is_in([
            RecoveryStatus::Issued.as_str(),
            RecoveryStatus::Cancelled.as_str(),
        ]))
        .into_tuple()
        .all(conn)
        .await?;
    let amounts = amounts
        .into_iter()
        .map(money)
        .collect::<Result<Vec<_>, _>>()?;
    Money::sum(amounts).ok_or_else(|| corrupt("recovery amounts", call_id))
}
