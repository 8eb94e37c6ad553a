//! The final report of a project: the lead's draft and its evidence files, the submission with
//! its receipt, the ATS's request for integration or verification, the lead's answer.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::applications::documents::FileContent;
use super::applications::{DocumentUpload, DocumentView};
use super::extract::Json;
use super::{if_match, patched, with_etag};
use crate::api::applications::documents::{describe, receive_form, send_file};
use crate::api::applications::views::localise;
use crate::auth::AuthUser;
use crate::domain::ErrorCode;
use crate::domain::Violations;
use crate::domain::award::{
    DecisionInput, IntegrationRequest, ReductionReason, ReportContent, ReportStatus,
};
use crate::domain::money::Money;
use crate::error::{ApiError, Problem, ProblemViolation};
use crate::service::documents as documents_service;
use crate::service::reports::{self as service, Decision, Shown};
use crate::state::AppState;

/// The receipt of a submitted final report.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"protocol_number": "RLD-DEMO-CONCILIAZIONE-CHIUSO-000001-RF", "submitted_at": "2028-01-20T10:15:00.000000Z",
    "snapshot_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "snapshot": {"protocol_number": "RLD-DEMO-CONCILIAZIONE-CHIUSO-000001-RF", "content": {"lines": [], "reached": [], "narrative": "..."}, "evidence": [], "overdue": false}}))]
pub struct ReportReceipt {
    /// `<application's protocol number>-RF`.
    #[schema(example = "RLD-DEMO-CONCILIAZIONE-CHIUSO-000001-RF")]
    pub protocol_number: String,
    #[serde(with = "crate::domain::timestamp")]
    pub submitted_at: DateTime<Utc>,
    /// Lower-case hex SHA-256 of the canonical JSON (RFC 8785) of `snapshot`.
    pub snapshot_sha256: String,
    /// What was submitted, as hashed: the content, the evidence files' names and SHA-256, the
    /// protocol number, the time, the deadline and whether it was late.
    #[schema(value_type = Object)]
    pub snapshot: serde_json::Value,
}

/// The decision on one line, as verified.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"line_id": "0b7f6a52-3f7e-4d0c-9a55-2f4c8e1d6a10", "decision": "reduced", "accepted_amount": "25000.00",
    "reason": "missing_evidence", "text": "Fatture di marzo mancanti."}))]
pub struct LineOutcome {
    pub line_id: Uuid,
    /// `accepted` or `reduced`.
    #[schema(example = "reduced")]
    pub decision: String,
    /// What the line counts for, before the caps.
    pub accepted_amount: Money,
    pub reason: Option<ReductionReason>,
    pub text: Option<String>,
}

/// A category after the caps.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"category": "COORDINATION", "accepted": "9000.00", "cap": "8925.20", "cut": "74.80"}))]
pub struct CategoryOutcome {
    pub category: String,
    /// What its lines count for.
    pub accepted: Money,
    /// Its cap: its share of the accepted total; `null` for a category without one.
    pub cap: Option<Money>,
    /// What the cap cut.
    pub cut: Money,
}

/// The ATS's verification of a final report and the money it settled.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"lines": [{"line_id": "0b7f6a52-3f7e-4d0c-9a55-2f4c8e1d6a10", "decision": "reduced", "accepted_amount": "25000.00",
    "reason": "missing_evidence", "text": "Fatture di marzo mancanti."}],
    "categories": [{"category": "EMPLOYEE_SERVICES", "accepted": "25000.00", "cap": null, "cut": "0.00"}],
    "accepted_cost": "55000.00", "eligible_cost": "53250.00", "approved_cost": "60000.00", "final_grant": "37275.00",
    "under_realised": false, "paid_before": "29400.00", "balance": "7875.00", "to_recover": "0.00",
    "balance_payment_id": "4e3d2c1b-0a9f-4e8d-b7c6-5a4b3c2d1e0f", "recovery_id": null, "cancelled_payments": []}))]
pub struct VerificationView {
    pub lines: Vec<LineOutcome>,
    pub categories: Vec<CategoryOutcome>,
    /// The lines' accepted amounts, before the caps.
    pub accepted_cost: Money,
    /// E: the approved eligible cost, after the reductions and the caps.
    pub eligible_cost: Money,
    /// C: the total cost of the approved budget.
    pub approved_cost: Money,
    /// G × min(E, C) / C, rounded down to the cent.
    pub final_grant: Money,
    /// E is below the call's `min_realisation_share` of C: nothing was settled, the ATS
    /// decides on the revocation (`POST /grants/{id}/revoke` with `under_realisation`).
    pub under_realised: bool,
    /// What the project had been paid; `null` when under-realised.
    pub paid_before: Option<Money>,
    /// The balance made due: final grant − paid.
    pub balance: Option<Money>,
    /// What was paid beyond the final grant: a recovery order.
    pub to_recover: Option<Money>,
    pub balance_payment_id: Option<Uuid>,
    pub recovery_id: Option<Uuid>,
    /// Payments not yet made when it was verified, folded into the balance.
    pub cancelled_payments: Vec<Uuid>,
}

/// A project's final report.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"grant_id": "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d", "status": "draft", "version": 2,
    "content": {"lines": [{"id": "0b7f6a52-3f7e-4d0c-9a55-2f4c8e1d6a10", "category": "EMPLOYEE_SERVICES", "description": "Baby-sitting aziendale",
        "amount": "30000.00", "borne_by": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", "evidence": []}], "reached": [], "narrative": null},
    "blocking": [{"field": "lines[0].evidence", "code": "evidence_required", "message": "Each cost line of a final report needs at least one evidence file."}],
    "deadline": "2028-03-01", "overdue": false, "receipt": null, "integration": null, "verification": null, "evidence": [],
    "updated_at": "2027-12-10T09:00:00.000000Z"}))]
pub struct FinalReportView {
    pub grant_id: Uuid,
    pub status: ReportStatus,
    /// Its `ETag`, for the `If-Match` of a `PATCH`.
    pub version: i32,
    pub content: ReportContent,
    /// For a draft, every rule that still stops its submission (empty: it can be submitted).
    pub blocking: Vec<ProblemViolation>,
    /// The last day to submit it: the project's end date plus the call's
    /// `report_deadline_days`.
    pub deadline: Option<NaiveDate>,
    /// Submitted after the deadline, or not yet submitted past it.
    pub overdue: bool,
    pub receipt: Option<ReportReceipt>,
    /// The ATS's request for integration and the lead's answer.
    pub integration: Option<IntegrationRequest>,
    pub verification: Option<VerificationView>,
    /// The evidence files uploaded to this report.
    pub evidence: Vec<DocumentView>,
    #[serde(with = "crate::domain::timestamp")]
    pub updated_at: DateTime<Utc>,
}

fn view_of(s: Shown) -> Result<FinalReportView, ApiError> {
    let r = s.report;
    let receipt = match (
        r.protocol_number,
        r.submitted_at,
        r.snapshot_sha256,
        r.snapshot,
    ) {
        (Some(protocol_number), Some(submitted_at), Some(snapshot_sha256), Some(snapshot)) => {
            Some(ReportReceipt {
                protocol_number,
                submitted_at,
                snapshot_sha256,
                snapshot: serde_json::from_str(&snapshot).map_err(anyhow::Error::from)?,
            })
        }
        _ => None,
    };
    let verification = r
        .verification
        .map(serde_json::from_value)
        .transpose()
        .map_err(anyhow::Error::from)?;
    Ok(FinalReportView {
        grant_id: r.grant_id,
        status: r.status,
        version: r.version,
        content: r.content,
        blocking: localise(s.blocking, crate::error::current_context().lang),
        deadline: s.deadline,
        overdue: s.overdue,
        receipt,
        integration: r.integration,
        verification,
        evidence: s.evidence.iter().map(DocumentView::from).collect(),
        updated_at: r.updated_at,
    })
}

fn answer(s: Shown) -> Result<HttpResponse, ApiError> {
    let version = s.report.version;
    Ok(with_etag(StatusCode::OK, version, &view_of(s)?))
}

/// Read a project's final report.
///
/// For whoever may read the grant: the partnership's members, the evaluators of its ATS,
/// administrators. Before the lead writes it, a started project's report is an empty draft
/// (version 1). `blocking` lists what still stops a draft's submission; its `ETag` goes in the
/// `If-Match` of a `PATCH`.
#[utoipa::path(
    operation_id = "getFinalReport",
    tag = "reports",
    params(("grant_id" = Uuid, Path, description = "The grant's id")),
    responses(
        (status = 200, description = "The report; its ETag is needed to change it", body = FinalReportView,
            headers(("ETag" = String, description = "Its version, for If-Match"))),
        (status = 404, description = "No such grant that the caller may see, or a project not started", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/grants/{grant_id}/final-report")]
pub async fn get_report(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    answer(service::read(&state.db, &caller, state.now(), path.into_inner()).await?)
}

/// Change the draft of a final report.
///
/// A JSON Merge Patch of the content (RFC 7396: an array such as `lines` is replaced whole),
/// with `If-Match` set to the report's `ETag`, by the lead's representatives, while it is a
/// draft. A line without an `id` gets one: send it back to keep the line. Every rule is checked
/// and listed: known categories and areas, costs borne by members, evidence files of this
/// report (`POST .../final-report/documents`); `blocking` lists what still stops the
/// submission.
#[utoipa::path(
    operation_id = "updateFinalReport",
    tag = "reports",
    params(
        ("grant_id" = Uuid, Path, description = "The grant's id"),
        ("If-Match" = String, Header, description = "The ETag of the report as last read"),
    ),
    request_body(content = ReportContent, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Changed", body = FinalReportView),
        (status = 403, description = "Not the lead's representative", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant that the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already submitted, or a project not started or ended", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:report_submitted", "title": "Conflict", "status": 409, "code": "report_submitted",
                "detail": "The final report has already been submitted; it is submitted once and is then frozen."})),
        (status = 412, description = "Changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown category, a cost borne by a non-member, evidence from elsewhere", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:validation_failed", "title": "Validation failed", "status": 422, "code": "validation_failed",
                "detail": "The request breaks 2 rule(s); see violations.",
                "violations": [{"field": "lines[0].category", "code": "unknown_category", "message": "NOPE is not an expense category of the call."},
                    {"field": "lines[0].evidence[0]", "code": "unknown_evidence", "message": "8d7c6b5a-4f3e-4d2c-9b1a-0f9e8d7c6b5a is not an evidence file of this project's final report."}]})),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/grants/{grant_id}/final-report")]
pub async fn patch_report(
    state: web::Data<AppState>,
    caller: AuthUser,
    req: HttpRequest,
    path: web::Path<Uuid>,
    body: Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let s = service::update(&state.db, &caller, state.now(), path.into_inner(), || {
        let version = if_match(&req)?;
        let patch = body.parse()?;
        Ok((version, move |current: &ReportContent| {
            patched(current, &patch)
        }))
    })
    .await?;
    answer(s)
}

/// Submit a final report.
///
/// Once, by the lead's representatives: every rule of the content and everything in `blocking`
/// is checked and listed. The answer carries the receipt: the report's protocol number, the
/// time, and the SHA-256 of its canonical snapshot. A report after its deadline is accepted
/// and flagged `overdue`. The ATS's evaluators are told.
#[utoipa::path(
    operation_id = "submitFinalReport",
    tag = "reports",
    params(("grant_id" = Uuid, Path, description = "The grant's id")),
    responses(
        (status = 200, description = "Submitted, with its receipt", body = FinalReportView),
        (status = 403, description = "Not the lead's representative", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant that the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already submitted, or a project not started or ended", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "What stops its submission, every rule listed", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:validation_failed", "title": "Validation failed", "status": 422, "code": "validation_failed",
                "detail": "The request breaks 1 rule(s); see violations.",
                "violations": [{"field": "lines[0].evidence", "code": "evidence_required", "message": "Each cost line of a final report needs at least one evidence file."}]})),
    ),
    security(("bearer" = []))
)]
#[post("/grants/{grant_id}/final-report/submit")]
pub async fn submit_report(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    answer(service::submit(&state.db, &caller, state.clock.as_ref(), path.into_inner()).await?)
}

/// `accepted` or `reduced`.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineVerdict {
    Accepted,
    Reduced,
}

/// The decision on one cost line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"line_id": "0b7f6a52-3f7e-4d0c-9a55-2f4c8e1d6a10", "decision": "reduced", "amount": "25000.00",
    "reason": "missing_evidence", "text": "Fatture di marzo mancanti."}))]
pub struct LineDecisionRequest {
    /// The `id` of a line of the report's `content.lines` (`GET /api/v1/grants/{grant_id}/final-report`).
    pub line_id: Uuid,
    pub decision: LineVerdict,
    /// For `reduced`: what the line counts for, from 0.00 to its amount.
    pub amount: Option<Money>,
    /// For `reduced`: why.
    pub reason: Option<ReductionReason>,
    /// For `reduced`: the reason in words.
    pub text: Option<String>,
}

/// `approved` (with a decision on every line) or `integration_requested` (with a text).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationOutcome {
    Approved,
    IntegrationRequested,
}

/// The ATS's decision on a submitted final report.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"outcome": "approved", "lines": [
    {"line_id": "0b7f6a52-3f7e-4d0c-9a55-2f4c8e1d6a10", "decision": "accepted"},
    {"line_id": "1c8e7b63-4a8f-4e1d-8b66-3a5d9f2e7b21", "decision": "reduced", "amount": "25000.00", "reason": "missing_evidence", "text": "Fatture di marzo mancanti."}]}))]
pub struct VerificationRequest {
    pub outcome: VerificationOutcome,
    /// For `approved`: one decision per cost line of the report.
    pub lines: Option<Vec<LineDecisionRequest>>,
    /// For `integration_requested`: what is asked of the lead.
    pub text: Option<String>,
}

impl VerificationRequest {
    fn decision(self) -> Result<Decision, ApiError> {
        let mut v = Violations::new();
        let decision = match self.outcome {
            VerificationOutcome::IntegrationRequested => {
                if self.lines.is_some() {
                    v.add(
                        "lines",
                        ErrorCode::InvalidValue.worded(
                            "A request for integration decides no line.",
                            "Una richiesta di integrazione non decide alcuna voce.",
                        ),
                    );
                }
                Decision::Integration { text: self.text }
            }
            VerificationOutcome::Approved => {
                if self.text.is_some() {
                    v.add(
                        "text",
                        ErrorCode::InvalidValue.worded(
                            "A verification gives its reasons line by line (`lines[].text`).",
                            "Una verifica motiva voce per voce (`lines[].text`).",
                        ),
                    );
                }
                let Some(lines) = self.lines else {
                    v.add("lines", ErrorCode::MissingField);
                    ApiError::check(v.into_vec())?;
                    return Err(ApiError::invalid("lines", ErrorCode::MissingField));
                };
                let mut inputs = Vec::with_capacity(lines.len());
                for (i, l) in lines.into_iter().enumerate() {
                    let reduced_to = match (l.decision, l.amount) {
                        (LineVerdict::Accepted, None) => None,
                        (LineVerdict::Accepted, Some(_)) => {
                            v.add(
                                format!("lines[{i}].amount"),
                                ErrorCode::InvalidValue.worded(
                                    "An accepted line counts for its whole amount: give an amount only to reduce it.",
                                    "Una voce accettata vale per intero: indicare un importo solo per ridurla.",
                                ),
                            );
                            None
                        }
                        (LineVerdict::Reduced, None) => {
                            v.add(format!("lines[{i}].amount"), ErrorCode::MissingField);
                            Some(Money::ZERO)
                        }
                        (LineVerdict::Reduced, Some(a)) => Some(a),
                    };
                    inputs.push(DecisionInput {
                        line_id: l.line_id,
                        reduced_to,
                        reason: l.reason,
                        text: l.text,
                    });
                }
                Decision::Approve { lines: inputs }
            }
        };
        ApiError::check(v.into_vec())?;
        Ok(decision)
    }
}

/// Verify a final report, or ask for its integration.
///
/// By an evaluator of the project's ATS, for a submitted report. `integration_requested` asks
/// the lead for more (a text; answered within the call's `integration_days`, once). `approved`
/// decides every line: accepted, or reduced (never above its amount) with a reason code and its
/// text; the category caps apply to the accepted costs (the cut is shown); E, the approved
/// eligible cost, gives the final grant G × min(E, C) / C rounded down to the cent.
///
/// In the same transaction the money is settled: payments not yet made are folded into the
/// balance; the balance of exactly final grant − paid becomes due, or what was paid beyond the
/// final grant becomes a recovery order; what the final grant leaves of the award returns to
/// the envelope (down the reserve list while the scorrimento is open). A project whose E is
/// below the call's `min_realisation_share` of C is flagged `under_realised` instead and
/// settles nothing: the ATS decides on its revocation. A report is verified once.
#[utoipa::path(
    operation_id = "verifyFinalReport",
    tag = "reports",
    params(("grant_id" = Uuid, Path, description = "The grant's id")),
    request_body = VerificationRequest,
    responses(
        (status = 200, description = "Verified, or asked for integration", body = FinalReportView),
        (status = 403, description = "Not an evaluator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant of the caller's ATS", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not submitted, already verified, or an integration still awaited", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:report_verified", "title": "Conflict", "status": 409, "code": "report_verified",
                "detail": "The final report has already been verified; it is verified once."})),
        (status = 422, description = "A line missing or decided twice, a reduction above the line or without a reason", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:validation_failed", "title": "Validation failed", "status": 422, "code": "validation_failed",
                "detail": "The request breaks 2 rule(s); see violations.",
                "violations": [{"field": "lines[1].reason", "code": "missing_field", "message": "This field is required."},
                    {"field": "lines[1].amount", "code": "invalid_value", "message": "A reduction leaves at most the line's amount, 30000.00."}]})),
    ),
    security(("bearer" = []))
)]
#[post("/grants/{grant_id}/final-report/verification")]
pub async fn verify_report(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<VerificationRequest>,
) -> Result<HttpResponse, ApiError> {
    let s = service::decide(&state.db, &caller, state.now(), path.into_inner(), || {
        body.parse()?.decision()
    })
    .await?;
    answer(s)
}

/// Evidence files added to one line by an answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"line_id": "0b7f6a52-3f7e-4d0c-9a55-2f4c8e1d6a10", "documents": ["5d0c1b2a-3e4f-4a5b-8c6d-7e8f9a0b1c2d"]}))]
pub struct AddedEvidence {
    /// The `id` of a line of the report's `content.lines` (`GET /api/v1/grants/{grant_id}/final-report`).
    pub line_id: Uuid,
    /// Evidence files of this report, uploaded since the request: the `id`s that
    /// `POST .../final-report/documents` answered (`GET /api/v1/grants/{grant_id}/final-report`
    /// lists them in `evidence`).
    pub documents: Vec<Uuid>,
}

/// The lead's answer to a request for integration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "Allegate le fatture di marzo.", "evidence": [
    {"line_id": "0b7f6a52-3f7e-4d0c-9a55-2f4c8e1d6a10", "documents": ["5d0c1b2a-3e4f-4a5b-8c6d-7e8f9a0b1c2d"]}]}))]
pub struct IntegrationAnswerRequest {
    pub text: Option<String>,
    #[serde(default)]
    pub evidence: Vec<AddedEvidence>,
}

/// Answer a request for integration of a final report.
///
/// By the lead's representatives, once, before the request's deadline: a text, and evidence
/// files (uploaded with `POST .../final-report/documents` meanwhile) added to the report's
/// lines. The report goes back to the ATS (`submitted`), which is told.
#[utoipa::path(
    operation_id = "answerFinalReportIntegration",
    tag = "reports",
    params(("grant_id" = Uuid, Path, description = "The grant's id")),
    request_body = IntegrationAnswerRequest,
    responses(
        (status = 200, description = "Answered", body = FinalReportView),
        (status = 403, description = "Not the lead's representative", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant that the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No open request for integration, or its deadline passed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No text, an unknown line, evidence from elsewhere", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/grants/{grant_id}/final-report/integration")]
pub async fn answer_integration(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<IntegrationAnswerRequest>,
) -> Result<HttpResponse, ApiError> {
    let s = service::answer_integration(&state.db, &caller, state.now(), path.into_inner(), || {
        let b = body.parse()?;
        Ok((
            b.text,
            b.evidence
                .into_iter()
                .map(|e| (e.line_id, e.documents))
                .collect(),
        ))
    })
    .await?;
    answer(s)
}

fn evidence_location(grant_id: Uuid, document_id: Uuid) -> String {
    format!("/api/v1/grants/{grant_id}/final-report/documents/{document_id}")
}

/// Upload an evidence file of a final report.
///
/// By the lead's representatives, while the report is a draft or asked for integration. The
/// form is an annex's (`metadata` with `kind: "report_evidence"`, optional `organization_id`,
/// and `file`), streamed and checked the same way (PDF, `.p7m`, PNG, JPEG; at most the call's
/// largest annex size). A line lists the answer's `id` in its `evidence`.
#[utoipa::path(
    operation_id = "addFinalReportDocument",
    tag = "reports",
    params(
        ("grant_id" = Uuid, Path, description = "The grant's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key, e.g. a UUID: a repeat of the same upload answers the first result"),
    ),
    request_body(
        description = "The form: a `metadata` part (JSON, `{\"kind\": \"report_evidence\"}`) and a `file` part.",
        content((DocumentUpload = "multipart/form-data"))
    ),
    responses(
        (status = 201, description = "Kept; `Location` is the file, `ETag` its SHA-256", body = DocumentView,
            headers(("Location" = String, description = "The evidence file"), ("ETag" = String, description = "The file's SHA-256, quoted"))),
        (status = 400, description = "Not a readable form", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the lead's representative", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant that the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The report no longer takes evidence, or the project has not started", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than the call's largest annex", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "A type the service does not keep, or not a form", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or repeated part, an empty file, another kind than `report_evidence`, not a member", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The file storage is unavailable; nothing was kept", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[post("/grants/{grant_id}/final-report/documents")]
pub async fn add_evidence(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let upload =
        documents_service::begin_evidence_upload(&state.db, &caller, state.now(), id).await?;
    if !crate::api::deadline::is_multipart(req.headers()) {
        let expected = "multipart/form-data";
        return Err(ApiError::from(
            ErrorCode::UnsupportedMediaType.with(&[("expected", &expected)]),
        ));
    }
    receive_form(&req, &state, upload, payload, |doc| {
        evidence_location(id, doc)
    })
    .await
}

/// Describe an evidence file of a final report.
///
/// For whoever may read the report; `ETag` is the file's SHA-256.
#[utoipa::path(
    operation_id = "getFinalReportDocument",
    tag = "reports",
    params(
        ("grant_id" = Uuid, Path, description = "The grant's id"),
        ("document_id" = Uuid, Path, description = "The evidence file's id"),
    ),
    responses(
        (status = 200, description = "The evidence file", body = DocumentView,
            headers(("ETag" = String, description = "The file's SHA-256, quoted"))),
        (status = 404, description = "No such grant that the caller may see, or no such evidence file", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/grants/{grant_id}/final-report/documents/{document_id}")]
pub async fn get_evidence(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, document_id) = path.into_inner();
    let doc = service::evidence(&state.db, &caller, state.now(), id, document_id).await?;
    Ok(describe(&doc))
}

/// Download an evidence file of a final report.
///
/// Exactly the bytes uploaded, as an annex's download: `ETag` is their SHA-256,
/// `If-None-Match` answers 304, `Range` answers 206.
#[utoipa::path(
    operation_id = "getFinalReportDocumentContent",
    tag = "reports",
    params(
        ("grant_id" = Uuid, Path, description = "The grant's id"),
        ("document_id" = Uuid, Path, description = "The evidence file's id"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` the client holds: 304 when it is current"),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023`"),
        ("If-Range" = Option<String>, Header, description = "The `ETag` a range is asked of"),
    ),
    responses(
        (status = 200, description = "The file, of the type read from its bytes",
            content(
                (FileContent = "application/pdf"),
                (FileContent = "application/pkcs7-mime"),
                (FileContent = "image/png"),
                (FileContent = "image/jpeg"),
            ),
            headers(
                ("Content-Disposition" = String, description = "attachment, with the original name"),
                ("ETag" = String, description = "The file's SHA-256, quoted"),
            )),
        (status = 206, description = "The bytes of the range",
            content(
                (FileContent = "application/pdf"),
                (FileContent = "application/pkcs7-mime"),
                (FileContent = "image/png"),
                (FileContent = "image/jpeg"),
            ),
            headers(("Content-Range" = String, description = "e.g. bytes 0-1023/482113"))),
        (status = 304, description = "The client's copy is current"),
        (status = 404, description = "No such grant that the caller may see, or no such evidence file", body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "The range is outside the file", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The file storage is unavailable", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ),
    security(("bearer" = []))
)]
#[get("/grants/{grant_id}/final-report/documents/{document_id}/content")]
pub async fn download_evidence(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, document_id) = path.into_inner();
    let doc = service::evidence(&state.db, &caller, state.now(), id, document_id).await?;
    send_file(&req, &state, doc).await
}
