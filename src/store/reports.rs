//! Final reports: one per project, drafted, submitted with its receipt, asked for
//! integration and verified. The content, the integration request and the verification are
//! kept as JSON; the figures the envelopes need are columns.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
    Set,
};
use uuid::Uuid;

use super::rows::{corrupt, from_json, money, to_json};
use crate::domain::agency::AgencyCode;
use crate::domain::award::{IntegrationRequest, ReportContent, ReportStatus};
use crate::domain::money::Money;
use crate::entity::final_report;

/// A final report as stored.
#[derive(Debug, Clone)]
pub struct StoredReport {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub call_id: Uuid,
    pub agency: AgencyCode,
    pub status: ReportStatus,
    pub version: i32,
    pub content: ReportContent,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub protocol_number: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// The canonical JSON hashed by the receipt.
    pub snapshot: Option<String>,
    pub snapshot_sha256: Option<String>,
    /// Submitted after its deadline.
    pub overdue: bool,
    pub integration: Option<IntegrationRequest>,
    /// The verification as shown (its decisions and figures).
    pub verification: Option<serde_json::Value>,
    pub verified_at: Option<DateTime<Utc>>,
    pub verified_by: Option<Uuid>,
    pub eligible_cost: Option<Money>,
    pub final_grant: Option<Money>,
    pub under_realised: Option<bool>,
}

fn to_report(m: final_report::Model) -> Result<StoredReport, DbErr> {
    let id = m.id;
    Ok(StoredReport {
        id,
        grant_id: m.grant_id,
        call_id: m.call_id,
        agency: AgencyCode::parse(&m.agency_code).ok_or_else(|| corrupt("report agency", id))?,
        status: ReportStatus::parse(&m.status).ok_or_else(|| corrupt("report status", id))?,
        version: m.version,
        content: from_json("report content", id, &m.content)?,
        created_at: m.created_at,
        updated_at: m.updated_at,
        protocol_number: m.protocol_number,
        submitted_at: m.submitted_at,
        snapshot: m.snapshot,
        snapshot_sha256: m.snapshot_sha256,
        overdue: m.overdue,
        integration: m
            .integration
            .as_deref()
            .map(|s| from_json("report integration", id, s))
            .transpose()?,
        verification: m
            .verification
            .as_deref()
            .map(|s| from_json("report verification", id, s))
            .transpose()?,
        verified_at: m.verified_at,
        verified_by: m.verified_by,
        eligible_cost: m.eligible_cost.map(money).transpose()?,
        final_grant: m.final_grant.map(money).transpose()?,
        under_realised: m.under_realised,
    })
}

fn to_model(r: &StoredReport) -> Result<final_report::ActiveModel, DbErr> {
    Ok(final_report::ActiveModel {
        id: Set(r.id),
        grant_id: Set(r.grant_id),
        call_id: Set(r.call_id),
        agency_code: Set(r.agency.as_str().to_owned()),
        status: Set(r.status.as_str().to_owned()),
        version: Set(r.version),
        content: Set(to_json(&r.content)?),
        created_at: Set(r.created_at),
        updated_at: Set(r.updated_at),
        protocol_number: Set(r.protocol_number.clone()),
        submitted_at: Set(r.submitted_at),
        snapshot: Set(r.snapshot.clone()),
        snapshot_sha256: Set(r.snapshot_sha256.clone()),
        overdue: Set(r.overdue),
        integration: Set(r.integration.as_ref().map(to_json).transpose()?),
        verification: Set(r.verification.as_ref().map(to_json).transpose()?),
        verified_at: Set(r.verified_at),
        verified_by: Set(r.verified_by),
        eligible_cost: Set(r.eligible_cost.map(|m| m.as_decimal())),
        final_grant: Set(r.final_grant.map(|m| m.as_decimal())),
        under_realised: Set(r.under_realised),
    })
}

/// The final report of a project, if the lead has written one.
pub async fn of_grant<C: ConnectionTrait>(
    conn: &C,
    grant_id: Uuid,
) -> Result<Option<StoredReport>, DbErr> {
    final_report::Entity::find()
        .filter(final_report::Column::GrantId.eq(grant_id))
        .one(conn)
        .await?
        .map(to_report)
        .transpose()
}

/// Whether a project's final report was submitted, and late, as a grant list shows it.
#[derive(Debug, Clone, Copy)]
pub struct Submission {
    pub submitted_at: Option<DateTime<Utc>>,
    /// Submitted after its deadline.
    pub overdue: bool,
}

/// The submissions of these projects' final reports (those with one), in one query per
/// thousand projects.
pub async fn submissions<C: ConnectionTrait>(
    conn: &C,
    grants: &[Uuid],
) -> Result<BTreeMap<Uuid, Submission>, DbErr> {
    let mut found = BTreeMap::new();
    // A thousand at a time: well under the databases' bind limits.
    for chunk in grants.chunks(1000) {
        let rows: Vec<(Uuid, Option<DateTime<Utc>>, bool)> = final_report::Entity::find()
            .select_only()
            .column(final_report::Column::GrantId)
            .column(final_report::Column::SubmittedAt)
            .column(final_report::Column::Overdue)
            .filter(final_report::Column::GrantId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        for (grant_id, submitted_at, overdue) in rows {
            found.insert(
                grant_id,
                Submission {
                    submitted_at,
                    overdue,
                },
            );
        }
    }
    Ok(found)
}

/// Store a report's new state: inserted when `expected` is `None` (its first change), else
/// only over the version `expected`. Whether it was stored.
pub async fn save<C: ConnectionTrait>(
    conn: &C,
    r: &StoredReport,
    expected: Option<i32>,
) -> Result<bool, DbErr> {
    let model = to_model(r)?;
    match expected {
        None => model.insert(conn).await.map(|_| true),
        Some(version) => {
            let updated = final_report::Entity::update_many()
                .set(model)
                .filter(final_report::Column::Id.eq(r.id))
                .filter(final_report::Column::Version.eq(version))
                .exec(conn)
                .await?;
            Ok(updated.rows_affected == 1)
        }
    }
}
