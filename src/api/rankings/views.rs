//! What the ranking endpoints read and answer.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::agency::AgencyCode;
use crate::domain::call::AllocationMode;
use crate::domain::money::Money;
use crate::domain::points::Points;
use crate::domain::ranking::{Entry, RankingStatus, RankingVersionStatus};

/// A version of an agency's ranking with its allocation and explanation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "agency_code": "MONTAGNA", "version": 1, "status": "draft", "reason": "computed",
    "envelope": "293580.00", "allocated": "293580.00", "remaining": "0.00", "entries": [], "inputs_sha256": "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
    "act_number": null, "act_date": null, "created_at": "2027-03-01T09:00:00.000000Z", "approved_at": null, "approval_target_date": "2027-05-27", "warning": null}))]
pub struct RankingView {
    pub call_id: Uuid,
    pub agency_code: AgencyCode,
    pub version: i32,
    /// `draft` or `approved` (frozen and published).
    pub status: RankingVersionStatus,
    pub reason: String,
    pub envelope: Money,
    pub allocated: Money,
    pub remaining: Money,
    /// Ranked entries first (by rank), then those not eligible; each explained.
    pub entries: Vec<Entry>,
    /// Hash of the inputs the draft was computed from; approval refuses a stale draft.
    pub inputs_sha256: String,
    pub act_number: Option<String>,
    pub act_date: Option<NaiveDate>,
    #[serde(with = "crate::domain::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::option")]
    pub approved_at: Option<DateTime<Utc>>,
    /// Rankings should be approved within the call's target (90 days from the close).
    pub approval_target_date: NaiveDate,
    /// Set when the target date has passed without an approval.
    pub warning: Option<String>,
}

/// A version, in the list of versions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"version": 1, "status": "approved", "reason": "computed", "allocated": "293580.00", "act_number": "decreto ATS n. 123", "created_at": "2027-03-01T09:00:00.000000Z", "approved_at": "2027-03-05T09:00:00.000000Z"}))]
pub struct VersionSummary {
    pub version: i32,
    pub status: RankingVersionStatus,
    pub reason: String,
    pub allocated: Money,
    pub act_number: Option<String>,
    #[serde(with = "crate::domain::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::option")]
    pub approved_at: Option<DateTime<Utc>>,
}

/// The approval act.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"act_number": "decreto ATS della Montagna n. 123", "act_date": "2027-03-05"}))]
pub struct ApprovalRequest {
    #[schema(max_length = 100)]
    pub act_number: String,
    pub act_date: NaiveDate,
}

/// A what-if: the same computation with another envelope, threshold or mode.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"envelope": "350000.00", "threshold": "65.0", "mode": "skip_to_fit"}))]
pub struct SimulationRequest {
    pub envelope: Option<Money>,
    pub threshold: Option<Points>,
    pub mode: Option<AllocationMode>,
}

/// The result of a simulation: nothing is stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"envelope": "350000.00", "allocated": "349000.00", "remaining": "1000.00", "entries": []}))]
pub struct SimulationView {
    pub envelope: Money,
    pub allocated: Money,
    pub remaining: Money,
    pub entries: Vec<Entry>,
}

/// An agency's progress through the call.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "agency_code": "MONTAGNA", "received": 7, "under_review": 0, "admitted": 7,
    "inadmissible": 0, "scored": 7, "eligible": 6, "envelope": "293580.00", "committed": "293580.00", "paid": "35000.00", "to_recover": "0.00", "free": "0.00",
    "ranking_status": "approved", "approval_target_date": "2027-05-27", "warning": null}))]
pub struct DashboardView {
    pub call_id: Uuid,
    pub agency_code: AgencyCode,
    /// Submitted applications (withdrawn ones excluded).
    pub received: u32,
    /// Waiting for an admissibility decision or an integration.
    pub under_review: u32,
    pub admitted: u32,
    pub inadmissible: u32,
    /// Admitted with a score (enough final evaluations, or a consensus).
    pub scored: u32,
    /// Scored at or above the threshold.
    pub eligible: u32,
    pub envelope: Money,
    /// Offered and accepted grants.
    pub committed: Money,
    /// Paid out to the agency's projects so far.
    pub paid: Money,
    /// Paid beyond what its revoked or renounced grants allow, not yet paid back.
    pub to_recover: Money,
    pub free: Money,
    /// `none`, `draft` or `approved`.
    pub ranking_status: RankingStatus,
    pub approval_target_date: NaiveDate,
    pub warning: Option<String>,
}
