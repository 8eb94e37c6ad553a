//! Rankings: the applications they read, and every stored version.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::domain::agency::AgencyCode;
use crate::domain::application::ApplicationStatus;
use crate::domain::money::Money;
use crate::domain::ranking::{Allocation, RankingVersionStatus};
use crate::entity::{application, ranking_version};
use crate::store::rows::corrupt;

/// What a ranking reads of an application: id, protocol number, review status, requested grant.
pub type CandidateRow = (Uuid, Option<String>, Option<String>, Option<Decimal>);

/// The submitted applications of a call for an agency, by protocol number: only what a
/// candidate needs, not the content nor the snapshot.
pub async fn candidate_rows<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<Vec<CandidateRow>, DbErr> {
    application::Entity::find()
        .select_only()
        .columns([
            application::Column::Id,
            application::Column::ProtocolNumber,
            application::Column::ReviewStatus,
            application::Column::RequestedGrant,
        ])
        .filter(application::Column::CallId.eq(call_id))
        .filter(application::Column::AgencyCode.eq(agency.as_str()))
        .filter(application::Column::Status.eq(ApplicationStatus::Submitted.as_str()))
        .order_by_asc(application::Column::ProtocolNumber)
        .into_tuple()
        .all(conn)
        .await
}

/// A stored version of a ranking.
#[derive(Debug, Clone)]
pub struct Version {
    pub id: Uuid,
    pub version: i32,
    pub status: RankingVersionStatus,
    pub reason: String,
    pub inputs_sha256: String,
    pub allocation: Allocation,
    pub act_number: Option<String>,
    pub act_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
}

fn version_status(s: &str) -> Result<RankingVersionStatus, DbErr> {
    RankingVersionStatus::parse(s).ok_or_else(|| corrupt("ranking status", s))
}

fn to_version(m: ranking_version::Model) -> Result<Version, DbErr> {
    Ok(Version {
        id: m.id,
        version: m.version,
        status: version_status(&m.status)?,
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
        q = q.filter(ranking_version::Column::Status.eq(RankingVersionStatus::Approved.as_str()));
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
) -> Result<Vec<(Uuid, i32, RankingVersionStatus)>, DbErr> {
    let rows: Vec<(Uuid, i32, String)> = ranking_version::Entity::find()
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
        .await?;
    rows.into_iter()
        .map(|(id, version, status)| Ok((id, version, version_status(&status)?)))
        .collect()
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
        .any(|(_, _, status)| status.is_approved()))
}

/// When an agency's ranking of a call was first approved, if it was.
pub async fn first_approval<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let first: Option<Option<DateTime<Utc>>> = ranking_version::Entity::find()
        .select_only()
        .column(ranking_version::Column::ApprovedAt)
        .filter(ranking_version::Column::CallId.eq(call_id))
        .filter(ranking_version::Column::AgencyCode.eq(agency.as_str()))
        .filter(ranking_version::Column::ApprovedAt.is_not_null())
        .order_by_asc(ranking_version::Column::Version)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(first.flatten())
}

/// A time as the database gives it back: PostgreSQL keeps microseconds (and the driver
/// truncates), SQLite keeps the text of all of it.
pub fn as_stored<C: ConnectionTrait>(conn: &C, t: DateTime<Utc>) -> DateTime<Utc> {
    match conn.get_database_backend() {
        DatabaseBackend::Postgres => t.trunc_subsecs(6),
        _ => t,
    }
}

/// A version to store.
pub struct NewVersion<'a> {
    pub id: Uuid,
    pub call_id: Uuid,
    pub agency: AgencyCode,
    pub version: i32,
    pub status: RankingVersionStatus,
    pub reason: &'a str,
    pub inputs_sha256: &'a str,
    pub envelope: Money,
    pub allocation: &'a Allocation,
    pub act_number: Option<&'a str>,
    pub act_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

/// Store a version (a unique violation when another one took its number).
pub async fn insert<C: ConnectionTrait>(conn: &C, v: NewVersion<'_>) -> Result<(), DbErr> {
    ranking_version::ActiveModel {
        id: Set(v.id),
        call_id: Set(v.call_id),
        agency_code: Set(v.agency.as_str().to_owned()),
        version: Set(v.version),
        status: Set(v.status.as_str().to_owned()),
        reason: Set(v.reason.to_owned()),
        inputs_sha256: Set(v.inputs_sha256.to_owned()),
        envelope: Set(v.envelope.as_decimal()),
        allocation: Set(
            serde_json::to_string(v.allocation).map_err(|e| DbErr::Custom(e.to_string()))?
        ),
        act_number: Set(v.act_number.map(str::to_owned)),
        act_date: Set(v.act_date),
        created_at: Set(v.created_at),
        created_by: Set(v.created_by),
        approved_at: Set(v.status.is_approved().then_some(v.created_at)),
        approved_by: Set(if v.status.is_approved() {
            v.created_by
        } else {
            None
        }),
    }
    .insert(conn)
    .await
    .map(|_| ())
}

/// One version by id.
pub async fn get<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<Version>, DbErr> {
    ranking_version::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(to_version)
        .transpose()
}

/// Approve a draft with its act, if it is still a draft: whether it was.
pub async fn approve<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    act_number: &str,
    act_date: NaiveDate,
    now: DateTime<Utc>,
    by: Option<Uuid>,
) -> Result<bool, DbErr> {
    let updated = ranking_version::Entity::update_many()
        .set(ranking_version::ActiveModel {
            status: Set(RankingVersionStatus::Approved.as_str().to_owned()),
            act_number: Set(Some(act_number.to_owned())),
            act_date: Set(Some(act_date)),
            approved_at: Set(Some(now)),
            approved_by: Set(by),
            ..Default::default()
        })
        .filter(ranking_version::Column::Id.eq(id))
        .filter(ranking_version::Column::Status.eq(RankingVersionStatus::Draft.as_str()))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}
