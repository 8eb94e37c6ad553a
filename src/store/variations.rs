//! Variations of projects: each with the project's version before and after it.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};
use uuid::Uuid;

use super::rows::{corrupt, from_json, to_json};
use crate::domain::agency::AgencyCode;
use crate::domain::award::{ProjectVersion, VariationKind, VariationStatus};
use crate::entity::variation;

/// A variation as stored.
#[derive(Debug, Clone)]
pub struct StoredVariation {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub call_id: Uuid,
    pub agency: AgencyCode,
    pub kind: VariationKind,
    pub status: VariationStatus,
    pub reasons: String,
    /// The request as the lead made it.
    pub request: serde_json::Value,
    /// The project's version it starts from, and the one it makes once approved.
    pub before: ProjectVersion,
    pub after: ProjectVersion,
    /// Approved at once, within the call's tolerance.
    pub automatic: bool,
    /// The project's version it made, once approved.
    pub project_version: Option<i32>,
    pub requested_by: Uuid,
    pub requested_at: DateTime<Utc>,
    /// The added organizations that have consented to join.
    pub consents: Vec<Uuid>,
    /// Who answered last for an added organization, and when.
    pub consent_by: Option<Uuid>,
    pub consent_at: Option<DateTime<Utc>>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    pub version: i32,
}

fn to_variation(m: variation::Model) -> Result<StoredVariation, DbErr> {
    let id = m.id;
    Ok(StoredVariation {
        id,
        grant_id: m.grant_id,
        call_id: m.call_id,
        agency: AgencyCode::parse(&m.agency_code).ok_or_else(|| corrupt("variation agency", id))?,
        kind: VariationKind::parse(&m.kind).ok_or_else(|| corrupt("variation kind", id))?,
        status: VariationStatus::parse(&m.status).ok_or_else(|| corrupt("variation status", id))?,
        reasons: m.reasons,
        request: from_json("variation request", id, &m.request)?,
        before: from_json("variation before", id, &m.before)?,
        after: from_json("variation after", id, &m.after)?,
        automatic: m.automatic,
        project_version: m.project_version,
        requested_by: m.requested_by,
        requested_at: m.requested_at,
        consents: from_json("variation consents", id, &m.consents)?,
        consent_by: m.consent_by,
        consent_at: m.consent_at,
        decided_by: m.decided_by,
        decided_at: m.decided_at,
        decision_note: m.decision_note,
        version: m.version,
    })
}

fn to_model(v: &StoredVariation) -> Result<variation::ActiveModel, DbErr> {
    Ok(variation::ActiveModel {
        id: Set(v.id),
        grant_id: Set(v.grant_id),
        call_id: Set(v.call_id),
        agency_code: Set(v.agency.as_str().to_owned()),
        kind: Set(v.kind.as_str().to_owned()),
        status: Set(v.status.as_str().to_owned()),
        reasons: Set(v.reasons.clone()),
        request: Set(to_json(&v.request)?),
        before: Set(to_json(&v.before)?),
        after: Set(to_json(&v.after)?),
        automatic: Set(v.automatic),
        project_version: Set(v.project_version),
        requested_by: Set(v.requested_by),
        requested_at: Set(v.requested_at),
        consents: Set(to_json(&v.consents)?),
        consent_by: Set(v.consent_by),
        consent_at: Set(v.consent_at),
        decided_by: Set(v.decided_by),
        decided_at: Set(v.decided_at),
        decision_note: Set(v.decision_note.clone()),
        version: Set(v.version),
    })
}

pub async fn insert<C: ConnectionTrait>(conn: &C, v: &StoredVariation) -> Result<(), DbErr> {
    to_model(v)?.insert(conn).await.map(|_| ())
}

/// Store a variation's new state over the version `expected`: whether it was stored.
pub async fn update<C: ConnectionTrait>(
    conn: &C,
    v: &StoredVariation,
    expected: i32,
) -> Result<bool, DbErr> {
    let updated = variation::Entity::update_many()
        .set(to_model(v)?)
        .filter(variation::Column::Id.eq(v.id))
        .filter(variation::Column::Version.eq(expected))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Every variation of a project, oldest first.
pub async fn of_grant<C: ConnectionTrait>(
    conn: &C,
    grant_id: Uuid,
) -> Result<Vec<StoredVariation>, DbErr> {
    variation::Entity::find()
        .filter(variation::Column::GrantId.eq(grant_id))
        .order_by_asc(variation::Column::RequestedAt)
        .order_by_asc(variation::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(to_variation)
        .collect()
}

pub async fn get<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<StoredVariation>, DbErr> {
    variation::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(to_variation)
        .transpose()
}
