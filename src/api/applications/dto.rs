//! The request and response documents of applications.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::agency::AgencyCode;
use crate::domain::application::{ApplicationContent, ApplicationStatus};
use crate::domain::money::Money;
use crate::domain::review::ReviewStatus;
use crate::error::ProblemViolation;

/// A new application of a partnership, as a draft; the content may be incomplete.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "partnership_id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c",
    "content": {"agency_code": "MONTAGNA", "title": "Valtellina concilia", "summary": "Servizi di conciliazione per i dipendenti delle micro e piccole imprese della rete.",
        "intervention_areas": ["SERVIZI_CURA", "TIME_SAVING"], "start_date": "2027-01-01", "end_date": "2027-12-31",
        "employees_reached": 120, "enterprises_reached": 2,
        "budget": {"lines": [{"category": "EMPLOYEE_SERVICES", "description": "Servizi di baby-sitting e assistenza", "amount": "30000.00", "borne_by": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"},
                             {"category": "COORDINATION", "description": "Coordinamento del progetto", "amount": "5000.00", "borne_by": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"}],
                   "requested_grant": "24500.00", "co_financing": "10500.00"}}
}))]
pub struct NewApplication {
    /// A partnership whose lead the caller represents: an `id` from `GET /api/v1/partnerships`.
    pub partnership_id: Uuid,
    #[serde(default)]
    pub content: ApplicationContent,
}

/// The computed totals of the budget.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"total_cost": "35000.00", "max_grant": "24500.00"}))]
pub struct TotalsView {
    /// The sum of the cost lines.
    pub total_cost: Money,
    /// The largest grant the call allows for this total: the grant rate rounded down to the
    /// cent, and no more than the cap.
    pub max_grant: Money,
}

/// An application.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "partnership_id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c",
    "status": "draft", "content": {"agency_code": "MONTAGNA", "title": "Valtellina concilia", "summary": null, "intervention_areas": ["SERVIZI_CURA"],
        "start_date": null, "end_date": null, "employees_reached": null, "enterprises_reached": null, "budget": {"lines": [], "requested_grant": null, "co_financing": null}},
    "totals": {"total_cost": "0.00", "max_grant": "0.00"},
    "blocking": [{"field": "content.summary", "code": "missing_field", "message": "Required before submission."}],
    "protocol_number": null, "submitted_at": null, "snapshot_sha256": null, "can_manage": true,
    "review_status": null, "integration_deadline": null, "restricted": false,
    "created_at": "2026-11-28T09:00:00.000000Z", "updated_at": "2026-11-28T09:00:00.000000Z"
}))]
pub struct ApplicationView {
    pub id: Uuid,
    pub call_id: Uuid,
    pub partnership_id: Uuid,
    pub status: ApplicationStatus,
    pub content: ApplicationContent,
    pub totals: Option<TotalsView>,
    /// For a draft: everything that still blocks its submission now (empty when it can be
    /// submitted), each named by its path in this document (`content.budget.requested_grant`);
    /// what is not in it by its own name (`documents`, `partnership`, `submitted_at`).
    pub blocking: Vec<ProblemViolation>,
    /// `<call code>-<6 digits>`, once submitted.
    pub protocol_number: Option<String>,
    #[serde(with = "crate::domain::timestamp::option")]
    pub submitted_at: Option<DateTime<Utc>>,
    /// SHA-256 of the canonical JSON (RFC 8785) of the submitted snapshot.
    pub snapshot_sha256: Option<String>,
    /// Whether the caller represents the lead (and so may edit, submit, withdraw).
    pub can_manage: bool,
    /// The agency's review, once submitted.
    pub review_status: Option<ReviewStatus>,
    /// End of the answer period of an open request for integration (23:59:59 Europe/Rome).
    #[serde(with = "crate::domain::timestamp::option")]
    pub integration_deadline: Option<DateTime<Utc>>,
    /// For an evaluator who has not declared on its conflict of interest (or declared one):
    /// only the protocol number and the title are shown.
    pub restricted: bool,
    #[serde(with = "crate::domain::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// A page of applications.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"items": [], "total": 0, "page": 1, "per_page": 20}))]
pub struct ApplicationList {
    pub items: Vec<ApplicationView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// Filters of the application list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApplicationQuery {
    pub call_id: Option<Uuid>,
    pub agency_code: Option<AgencyCode>,
    pub status: Option<ApplicationStatus>,
    /// An intervention area code.
    pub area: Option<String>,
    /// `json` (default) or `csv` (RFC 4180, UTF-8, dot decimals; every match, no paging).
    #[param(value_type = Option<ExportFormat>, inline)]
    pub format: Option<String>,
    /// With `format=csv`: `rfc4180` (default) or `excel-it` (a UTF-8 byte-order mark, `;`
    /// between cells, decimal commas: what Excel set to Italian opens right).
    #[param(value_type = Option<crate::api::csv::CsvDialect>, inline)]
    pub dialect: Option<String>,
}

// For the document only: the handlers read `format` as text, so that another value is a 422
// naming the field.
/// The format of an export.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Csv,
}

/// The receipt of a submission: nobody can alter it afterwards.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"application_id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "call_code": "RLD-DEMO-CONCILIAZIONE",
    "protocol_number": "RLD-DEMO-CONCILIAZIONE-000001", "submitted_at": "2026-11-28T10:15:00.123456Z",
    "snapshot_sha256": "4c1f0b8e2f6f2d5c9d1a7e3b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d",
    "hash_algorithm": "SHA-256 of the RFC 8785 canonical JSON of snapshot", "snapshot": {"protocol_number": "RLD-DEMO-CONCILIAZIONE-000001"}}))]
pub struct Receipt {
    pub application_id: Uuid,
    pub call_code: String,
    pub protocol_number: String,
    #[serde(with = "crate::domain::timestamp")]
    pub submitted_at: DateTime<Utc>,
    pub snapshot_sha256: String,
    pub hash_algorithm: String,
    /// What was submitted, members and their organization data included, as hashed; the
    /// personal tax codes of members the caller does not represent are masked.
    #[schema(value_type = Object)]
    pub snapshot: serde_json::Value,
}

/// Why an application is withdrawn.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Il partenariato ha rinunciato al progetto."}))]
pub struct WithdrawRequest {
    #[schema(max_length = 2000)]
    pub reason: String,
}

/// One status change.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"from_status": "draft", "to_status": "submitted", "at": "2026-11-28T10:15:00.000000Z",
    "actor_id": "0b6f4d1e-3c9a-4a57-9a51-6c1f0e2d8b11", "actor_role": "applicant", "reason": "protocol RLD-DEMO-CONCILIAZIONE-000001"}))]
pub struct HistoryView {
    pub from_status: Option<String>,
    pub to_status: String,
    #[serde(with = "crate::domain::timestamp")]
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<String>,
    pub reason: Option<String>,
}
