//! Grants: created by an approved ranking, answered by the applicants.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use super::Page;
use super::rows::money;
use crate::domain::agency::AgencyCode;
use crate::domain::grant::{GrantStatus, Offer};
use crate::domain::money::Money;
use crate::entity::grant;

/// A grant as stored.
#[derive(Debug, Clone)]
pub struct Grant {
    pub id: Uuid,
    pub call_id: Uuid,
    pub agency: AgencyCode,
    pub application_id: Uuid,
    pub amount: Money,
    pub requested: Money,
    pub status: GrantStatus,
    pub offered_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub cup: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub ranking_version: i32,
    /// The project's start as its lead communicated it, the end date it computes, and when.
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub started_at: Option<DateTime<Utc>>,
    /// The start was communicated after the start deadline.
    pub start_overdue: bool,
    /// Why it was revoked.
    pub revocation_cause: Option<crate::domain::award::RevocationCause>,
    /// The act that revoked it, when given.
    pub revocation_act: Option<crate::domain::award::Act>,
    /// When it was revoked or renounced.
    pub ended_at: Option<DateTime<Utc>>,
    /// The final grant once its final report is verified: what it commits from then on.
    pub final_amount: Option<Money>,
}

fn to_grant(m: grant::Model) -> Result<Grant, DbErr> {
    let bad = |what: &str| DbErr::Custom(format!("grant {} has an invalid {what}", m.id));
    Ok(Grant {
        agency: AgencyCode::parse(&m.agency_code).ok_or_else(|| bad("agency"))?,
        status: GrantStatus::parse(&m.status).ok_or_else(|| bad("status"))?,
        amount: money(m.amount)?,
        requested: money(m.requested)?,
        id: m.id,
        call_id: m.call_id,
        application_id: m.application_id,
        offered_at: m.offered_at,
        deadline: m.deadline,
        cup: m.cup,
        answered_at: m.answered_at,
        reason: m.reason,
        ranking_version: m.ranking_version,
        start_date: m.start_date,
        end_date: m.end_date,
        started_at: m.started_at,
        start_overdue: m.start_overdue,
        revocation_cause: m
            .revocation_cause
            .as_deref()
            .map(|c| {
                crate::domain::award::RevocationCause::parse(c)
                    .ok_or_else(|| bad("revocation cause"))
            })
            .transpose()?,
        revocation_act: match (m.revocation_act_number, m.revocation_act_date) {
            (Some(number), Some(date)) => Some(crate::domain::award::Act { number, date }),
            _ => None,
        },
        ended_at: m.ended_at,
        final_amount: m.final_amount.map(money).transpose()?,
    })
}

impl Grant {
    /// The money a set of grants commits: offered and accepted ones, a verified project its
    /// final grant.
    pub fn committed(grants: &[Grant]) -> Money {
        crate::domain::grant::committed(grants.iter().map(|g| (g.status, g.commits())))
    }

    /// What this grant commits while live: its final grant once verified, its amount before.
    pub fn commits(&self) -> Money {
        self.final_amount.unwrap_or(self.amount)
    }
}

fn offered(o: &Offer) -> grant::ActiveModel {
    grant::ActiveModel {
        id: Set(o.id),
        call_id: Set(o.call_id),
        agency_code: Set(o.agency.as_str().to_owned()),
        application_id: Set(o.application_id),
        amount: Set(o.amount.as_decimal()),
        requested: Set(o.requested.as_decimal()),
        status: Set(GrantStatus::Offered.as_str().to_owned()),
        offered_at: Set(o.offered_at),
        deadline: Set(o.deadline),
        cup: Set(None),
        answered_at: Set(None),
        reason: Set(None),
        ranking_version: Set(o.ranking_version),
        version: Set(1),
        start_date: Set(None),
        end_date: Set(None),
        started_at: Set(None),
        start_overdue: Set(false),
        revocation_cause: Set(None),
        revocation_act_number: Set(None),
        revocation_act_date: Set(None),
        ended_at: Set(None),
        final_amount: Set(None),
    }
}

/// Insert offers, a thousand at a time.
pub async fn insert_offers<C: ConnectionTrait>(conn: &C, offers: &[Offer]) -> Result<(), DbErr> {
    // 22 columns a row: well under the databases' bind limits.
    for chunk in offers.chunks(1000) {
        grant::Entity::insert_many(chunk.iter().map(offered))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// Insert one offer.
pub async fn insert_offer<C: ConnectionTrait>(conn: &C, offer: &Offer) -> Result<(), DbErr> {
    offered(offer).insert(conn).await.map(|_| ())
}

/// Raise the amount of a grant (a partial grant topped up by scorrimento).
pub async fn top_up<C: ConnectionTrait>(conn: &C, id: Uuid, amount: Money) -> Result<(), DbErr> {
    grant::Entity::update_many()
        .col_expr(
            grant::Column::Amount,
            sea_orm::sea_query::Expr::value(amount.as_decimal()),
        )
        .filter(grant::Column::Id.eq(id))
        .exec(conn)
        .await
        .map(|_| ())
}

pub async fn get<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<Grant>, DbErr> {
    grant::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(to_grant)
        .transpose()
}

/// The grants of a call, every agency's.
pub async fn of_call<C: ConnectionTrait>(conn: &C, call_id: Uuid) -> Result<Vec<Grant>, DbErr> {
    grant::Entity::find()
        .filter(grant::Column::CallId.eq(call_id))
        .all(conn)
        .await?
        .into_iter()
        .map(to_grant)
        .collect()
}

/// The grants of a call's agency.
pub async fn of_agency<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<Vec<Grant>, DbErr> {
    grant::Entity::find()
        .filter(grant::Column::CallId.eq(call_id))
        .filter(grant::Column::AgencyCode.eq(agency.as_str()))
        .order_by_asc(grant::Column::OfferedAt)
        .order_by_asc(grant::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(to_grant)
        .collect()
}

/// The ids of the grants of these applications.
pub async fn ids_of_applications<C: ConnectionTrait>(
    conn: &C,
    applications: &[Uuid],
) -> Result<Vec<Uuid>, DbErr> {
    let mut ids = Vec::new();
    // A thousand at a time: well under the databases' bind limits.
    for chunk in applications.chunks(1000) {
        ids.extend(
            grant::Entity::find()
                .select_only()
                .column(grant::Column::Id)
                .filter(grant::Column::ApplicationId.is_in(chunk.iter().copied()))
                .into_tuple::<Uuid>()
                .all(conn)
                .await?,
        );
    }
    Ok(ids)
}

/// Filters of the grant list; the scope comes from the caller's role.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub call_id: Option<Uuid>,
    pub agency: Option<AgencyCode>,
    pub status: Option<GrantStatus>,
    /// Applicants: only these applications' grants.
    pub applications: Option<BTreeSet<Uuid>>,
}

pub async fn list(
    db: &DatabaseConnection,
    f: &Filter,
    page: Page,
) -> Result<(Vec<Grant>, u64), DbErr> {
    let mut q = grant::Entity::find();
    if let Some(c) = f.call_id {
        q = q.filter(grant::Column::CallId.eq(c));
    }
    if let Some(a) = f.agency {
        q = q.filter(grant::Column::AgencyCode.eq(a.as_str()));
    }
    if let Some(s) = f.status {
        q = q.filter(grant::Column::Status.eq(s.as_str()));
    }
    if let Some(apps) = &f.applications {
        q = q.filter(grant::Column::ApplicationId.is_in(apps.iter().copied()));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(grant::Column::OfferedAt)
        .order_by_asc(grant::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok((
        rows.into_iter().map(to_grant).collect::<Result<_, _>>()?,
        total,
    ))
}

/// A grant, locked until the end of the transaction (PostgreSQL; SQLite's `BEGIN
/// IMMEDIATE` already serialises writers).
pub async fn get_for_update<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> Result<Option<Grant>, DbErr> {
    let q = grant::Entity::find_by_id(id);
    let row = match conn.get_database_backend() {
        DatabaseBackend::Postgres => q.lock_exclusive().one(conn).await?,
        _ => q.one(conn).await?,
    };
    row.map(to_grant).transpose()
}

/// Record the answer to an offer, if it is still offered: whether it was.
pub async fn answer<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    next: GrantStatus,
    cup: Option<&str>,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let updated = grant::Entity::update_many()
        .set(grant::ActiveModel {
            status: Set(next.as_str().to_owned()),
            cup: Set(cup.map(str::to_owned)),
            answered_at: Set(Some(now)),
            reason: Set(reason.map(str::to_owned)),
            ..Default::default()
        })
        .filter(grant::Column::Id.eq(id))
        .filter(grant::Column::Status.eq(GrantStatus::Offered.as_str()))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// The calls' agencies with an offer whose acceptance deadline has passed.
pub async fn agencies_with_due_offers(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<Vec<(Uuid, AgencyCode)>, DbErr> {
    let due = grant::Entity::find()
        .filter(grant::Column::Status.eq(GrantStatus::Offered.as_str()))
        .filter(grant::Column::Deadline.lt(now))
        .all(db)
        .await?;
    let mut agencies: Vec<(Uuid, String)> = due
        .iter()
        .map(|g| (g.call_id, g.agency_code.clone()))
        .collect();
    agencies.sort();
    agencies.dedup();
    Ok(agencies
        .into_iter()
        .filter_map(|(call_id, agency)| Some((call_id, AgencyCode::parse(&agency)?)))
        .collect())
}

/// Lapse the offers of a call's agency whose deadline has passed: how many.
pub async fn expire<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    agency: AgencyCode,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let result = grant::Entity::update_many()
        .set(grant::ActiveModel {
            status: Set(GrantStatus::Expired.as_str().to_owned()),
            answered_at: Set(Some(now)),
            ..Default::default()
        })
        .filter(grant::Column::CallId.eq(call_id))
        .filter(grant::Column::AgencyCode.eq(agency.as_str()))
        .filter(grant::Column::Status.eq(GrantStatus::Offered.as_str()))
        .filter(grant::Column::Deadline.lt(now))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// How a grant ended before its time.
#[derive(Debug, Clone)]
pub struct Ending<'a> {
    /// Revoked or renounced.
    pub status: GrantStatus,
    pub cause: Option<crate::domain::award::RevocationCause>,
    pub act: Option<&'a crate::domain::award::Act>,
    pub reason: &'a str,
}

/// End a live grant before its time: revoked (with its cause and act) or renounced, with a
/// reason.
pub async fn end<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    e: &Ending<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    grant::Entity::update_many()
        .set(grant::ActiveModel {
            status: Set(e.status.as_str().to_owned()),
            reason: Set(Some(e.reason.to_owned())),
            revocation_cause: Set(e.cause.map(|c| c.as_str().to_owned())),
            revocation_act_number: Set(e.act.map(|a| a.number.clone())),
            revocation_act_date: Set(e.act.map(|a| a.date)),
            ended_at: Set(Some(now)),
            ..Default::default()
        })
        .filter(grant::Column::Id.eq(id))
        .exec(conn)
        .await
        .map(|_| ())
}

/// The grant's version plus one: every change of a grant's row bumps it.
fn next_version() -> sea_orm::sea_query::SimpleExpr {
    sea_orm::sea_query::ExprTrait::add(
        sea_orm::sea_query::Expr::col(grant::Column::Version),
        sea_orm::sea_query::Expr::val(1),
    )
}

/// Record the start of an accepted grant that has not started: whether it had not.
pub async fn start<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    started: &crate::domain::award::Started,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let updated = grant::Entity::update_many()
        .set(grant::ActiveModel {
            start_date: Set(Some(started.start_date)),
            end_date: Set(Some(started.end_date)),
            started_at: Set(Some(now)),
            start_overdue: Set(started.overdue),
            ..Default::default()
        })
        .col_expr(grant::Column::Version, next_version())
        .filter(grant::Column::Id.eq(id))
        .filter(grant::Column::Status.eq(GrantStatus::Accepted.as_str()))
        .filter(grant::Column::StartDate.is_null())
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Record the final grant of a verified project.
pub async fn set_final_amount<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    amount: Money,
) -> Result<(), DbErr> {
    set(
        conn,
        id,
        grant::ActiveModel {
            final_amount: Set(Some(amount.as_decimal())),
            ..Default::default()
        },
    )
    .await
}

/// Change the columns set in `change` of a grant, at its next version.
async fn set<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    change: grant::ActiveModel,
) -> Result<(), DbErr> {
    grant::Entity::update_many()
        .set(change)
        .col_expr(grant::Column::Version, next_version())
        .filter(grant::Column::Id.eq(id))
        .exec(conn)
        .await
        .map(|_| ())
}

/// Close an accepted project whose money is settled: whether it was still accepted.
pub async fn close<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let updated = grant::Entity::update_many()
        .set(grant::ActiveModel {
            status: Set(GrantStatus::Closed.as_str().to_owned()),
            ended_at: Set(Some(now)),
            ..Default::default()
        })
        .col_expr(grant::Column::Version, next_version())
        .filter(grant::Column::Id.eq(id))
        .filter(grant::Column::Status.eq(GrantStatus::Accepted.as_str()))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Move a project's end date (an approved extension).
pub async fn set_end_date<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    end_date: NaiveDate,
) -> Result<(), DbErr> {
    set(
        conn,
        id,
        grant::ActiveModel {
            end_date: Set(Some(end_date)),
            ..Default::default()
        },
    )
    .await
}

/// Live projects (accepted) still owed a notice of one of their deadlines: not started, and
/// not yet told the ATS that the start was missed (`Deadline::Start`); started, their final
/// report not submitted, and not yet told it was missed (`Deadline::Report`).
pub async fn awaiting<C: ConnectionTrait>(
    conn: &C,
    deadline: crate::domain::award::Deadline,
) -> Result<Vec<Grant>, DbErr> {
    use crate::domain::award::{Deadline, DeadlineNotice};
    use crate::entity::{deadline_notice, final_report};
    use sea_orm::sea_query::{Expr, ExprTrait, Query};

    let missed = match deadline {
        Deadline::Start => DeadlineNotice::StartMissed,
        Deadline::Report => DeadlineNotice::ReportMissed,
    };
    let told = Query::select()
        .expr(Expr::val(1))
        .from(deadline_notice::Entity)
        .and_where(
            Expr::col((deadline_notice::Entity, deadline_notice::Column::GrantId))
                .equals((grant::Entity, grant::Column::Id)),
        )
        .and_where(
            Expr::col((deadline_notice::Entity, deadline_notice::Column::Kind)).eq(missed.as_str()),
        )
        .to_owned();
    let mut q = grant::Entity::find()
        .filter(grant::Column::Status.eq(GrantStatus::Accepted.as_str()))
        .filter(Expr::exists(told).not());
    q = match deadline {
        Deadline::Start => q.filter(grant::Column::StartDate.is_null()),
        Deadline::Report => {
            let submitted = Query::select()
                .expr(Expr::val(1))
                .from(final_report::Entity)
                .and_where(
                    Expr::col((final_report::Entity, final_report::Column::GrantId))
                        .equals((grant::Entity, grant::Column::Id)),
                )
                .and_where(
                    Expr::col((final_report::Entity, final_report::Column::SubmittedAt))
                        .is_not_null(),
                )
                .to_owned();
            q.filter(grant::Column::EndDate.is_not_null())
                .filter(Expr::exists(submitted).not())
        }
    };
    q.order_by_asc(grant::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(to_grant)
        .collect()
}
