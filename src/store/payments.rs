//! Payments of grants: the tranches that became due, and what the ATS and the Region did
//! with them.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::Page;
use super::rows::{GrantMoney, corrupt, money};
use crate::domain::agency::AgencyCode;
use crate::domain::award::{Act, Payment, PaymentStatus};
use crate::entity::payment;

/// A payment as stored: the domain's payment, the call it belongs to, its place in the plan
/// and when each step happened.
#[derive(Debug, Clone)]
pub struct StoredPayment {
    pub payment: Payment,
    pub call_id: Uuid,
    /// The tranche's index in the call's payment plan.
    pub position: i32,
    pub due_at: DateTime<Utc>,
    pub authorized_at: Option<DateTime<Utc>>,
    pub recorded_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

fn act(number: Option<String>, date: Option<chrono::NaiveDate>) -> Option<Act> {
    Some(Act {
        number: number?,
        date: date?,
    })
}

fn to_payment(m: payment::Model) -> Result<StoredPayment, DbErr> {
    let id = m.id;
    Ok(StoredPayment {
        payment: Payment {
            id: m.id,
            grant_id: m.grant_id,
            agency: AgencyCode::parse(&m.agency_code)
                .ok_or_else(|| corrupt("payment agency", id))?,
            tranche: m.tranche,
            amount: money(m.amount)?,
            status: PaymentStatus::parse(&m.status).ok_or_else(|| corrupt("payment status", id))?,
            authorized_by: m.authorized_by,
            liquidation: act(m.liquidation_number, m.liquidation_date),
            recorded_by: m.recorded_by,
            order: act(m.order_number, m.order_date),
            failure_reason: m.failure_reason,
            cancelled_by: m.cancelled_by,
            cancel_reason: m.cancel_reason,
        },
        call_id: m.call_id,
        position: m.position,
        due_at: m.due_at,
        authorized_at: m.authorized_at,
        recorded_at: m.recorded_at,
        cancelled_at: m.cancelled_at,
        version: m.version,
        updated_at: m.updated_at,
    })
}

/// Insert the payments a trigger made due, with their place in the plan.
pub async fn insert_due<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    due: &[(i32, Payment)],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    for (position, p) in due {
        payment::ActiveModel {
            id: Set(p.id),
            grant_id: Set(p.grant_id),
            call_id: Set(call_id),
            agency_code: Set(p.agency.as_str().to_owned()),
            tranche: Set(p.tranche.clone()),
            position: Set(*position),
            amount: Set(p.amount.as_decimal()),
            status: Set(p.status.as_str().to_owned()),
            due_at: Set(now),
            authorized_by: Set(None),
            authorized_at: Set(None),
            liquidation_number: Set(None),
            liquidation_date: Set(None),
            recorded_by: Set(None),
            recorded_at: Set(None),
            order_number: Set(None),
            order_date: Set(None),
            failure_reason: Set(None),
            cancelled_by: Set(None),
            cancelled_at: Set(None),
            cancel_reason: Set(None),
            version: Set(1),
            updated_at: Set(now),
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

pub async fn get<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<StoredPayment>, DbErr> {
    payment::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(to_payment)
        .transpose()
}

/// The payments of a grant, in the plan's order.
pub async fn of_grant<C: ConnectionTrait>(
    conn: &C,
    grant_id: Uuid,
) -> Result<Vec<StoredPayment>, DbErr> {
    payment::Entity::find()
        .filter(payment::Column::GrantId.eq(grant_id))
        .order_by_asc(payment::Column::Position)
        .order_by_asc(payment::Column::DueAt)
        .all(conn)
        .await?
        .into_iter()
        .map(to_payment)
        .collect()
}

/// The step a payment's change took, to stamp its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Authorized,
    Recorded,
    Cancelled,
}

/// Write a payment's new state after `step`, if nobody changed it since `version` was read:
/// whether the write took.
pub async fn update<C: ConnectionTrait>(
    conn: &C,
    p: &Payment,
    version: i32,
    step: Step,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let mut model = payment::ActiveModel {
        status: Set(p.status.as_str().to_owned()),
        authorized_by: Set(p.authorized_by),
        liquidation_number: Set(p.liquidation.as_ref().map(|a| a.number.clone())),
        liquidation_date: Set(p.liquidation.as_ref().map(|a| a.date)),
        recorded_by: Set(p.recorded_by),
        order_number: Set(p.order.as_ref().map(|a| a.number.clone())),
        order_date: Set(p.order.as_ref().map(|a| a.date)),
        failure_reason: Set(p.failure_reason.clone()),
        cancelled_by: Set(p.cancelled_by),
        cancel_reason: Set(p.cancel_reason.clone()),
        version: Set(version + 1),
        updated_at: Set(now),
        ..Default::default()
    };
    match step {
        // A new authorization starts a new attempt: the last recording is history.
        Step::Authorized => {
            model.authorized_at = Set(Some(now));
            model.recorded_at = Set(None);
        }
        Step::Recorded => model.recorded_at = Set(Some(now)),
        Step::Cancelled => model.cancelled_at = Set(Some(now)),
    }
    let updated = payment::Entity::update_many()
        .set(model)
        .filter(payment::Column::Id.eq(p.id))
        .filter(payment::Column::Version.eq(version))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Filters of the payment list; the scope comes from the caller's role.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub call_id: Option<Uuid>,
    pub agency: Option<AgencyCode>,
    pub status: Option<PaymentStatus>,
    pub grant_id: Option<Uuid>,
    /// Applicants: only these grants' payments.
    pub grants: Option<Vec<Uuid>>,
}

pub async fn list(
    db: &DatabaseConnection,
    f: &Filter,
    page: Page,
) -> Result<(Vec<StoredPayment>, u64), DbErr> {
    let mut q = payment::Entity::find();
    if let Some(c) = f.call_id {
        q = q.filter(payment::Column::CallId.eq(c));
    }
    if let Some(a) = f.agency {
        q = q.filter(payment::Column::AgencyCode.eq(a.as_str()));
    }
    if let Some(s) = f.status {
        q = q.filter(payment::Column::Status.eq(s.as_str()));
    }
    if let Some(g) = f.grant_id {
        q = q.filter(payment::Column::GrantId.eq(g));
    }
    if let Some(grants) = &f.grants {
        q = q.filter(payment::Column::GrantId.is_in(grants.iter().copied()));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(payment::Column::DueAt)
        .order_by_asc(payment::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok((
        rows.into_iter().map(to_payment).collect::<Result<_, _>>()?,
        total,
    ))
}

/// What was paid: a row for each paid payment (of one call, or of all), with its grant, for
/// the caller to add up in Rust.
pub async fn paid_amounts<C: ConnectionTrait>(
    conn: &C,
    call_id: Option<Uuid>,
) -> Result<Vec<GrantMoney>, DbErr> {
    let mut q = payment::Entity::find()
        .select_only()
        .column(payment::Column::CallId)
        .column(payment::Column::AgencyCode)
        .column(payment::Column::GrantId)
        .column(payment::Column::Amount)
        .filter(payment::Column::Status.eq(PaymentStatus::Paid.as_str()));
    if let Some(c) = call_id {
        q = q.filter(payment::Column::CallId.eq(c));
    }
    q.into_tuple::<(Uuid, String, Uuid, rust_decimal::Decimal)>()
        .all(conn)
        .await?
        .into_iter()
        .map(|(call_id, agency, grant_id, amount)| {
            let agency =
                AgencyCode::parse(&agency).ok_or_else(|| corrupt("payment agency", &agency))?;
            Ok(GrantMoney {
                call_id,
                agency,
                grant_id,
                amount: money(amount)?,
            })
        })
        .collect()
}
