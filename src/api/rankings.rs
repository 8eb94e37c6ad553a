//! An agency's ranking and allocation: compute a draft, read it and its versions, simulate,
//! approve.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::csv::{Cell, CsvWriter};
use super::extract::Json;
use crate::auth::AuthUser;
use crate::domain::agency::AgencyCode;
use crate::domain::call::AllocationMode;
use crate::domain::money::Money;
use crate::domain::points::Points;
use crate::domain::ranking::{Entry, approval_warning};
use crate::error::{ApiError, Problem};
use crate::service::rankings::{self as service, Ranked, Version};
use crate::state::AppState;

/// A version of an agency's ranking with its allocation and explanation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "agency_code": "MONTAGNA", "version": 1, "status": "draft", "reason": "computed",
    "envelope": "293580.00", "allocated": "293580.00", "remaining": "0.00", "entries": [], "inputs_sha256": "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
    "act_number": null, "act_date": null, "created_at": "2027-03-01T09:00:00Z", "approved_at": null, "approval_target_date": "2027-05-27", "warning": null}))]
pub struct RankingView {
    pub call_id: Uuid,
    pub agency_code: AgencyCode,
    pub version: i32,
    /// `draft` or `approved` (frozen and published).
    pub status: String,
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
    pub created_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
    /// Rankings should be approved within the call's target (90 days from the close).
    pub approval_target_date: NaiveDate,
    /// Set when the target date has passed without an approval.
    pub warning: Option<String>,
}

/// A version, in the list of versions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"version": 1, "status": "approved", "reason": "computed", "allocated": "293580.00", "act_number": "decreto ATS n. 123", "created_at": "2027-03-01T09:00:00Z", "approved_at": "2027-03-05T09:00:00Z"}))]
pub struct VersionSummary {
    pub version: i32,
    pub status: String,
    pub reason: String,
    pub allocated: Money,
    pub act_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
}

/// The approval act.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"act_number": "decreto ATS della Montagna n. 123", "act_date": "2027-03-05"}))]
pub struct ApprovalRequest {
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

fn view(r: &Ranked<Version>, now: DateTime<Utc>) -> RankingView {
    let (call, agency, v) = (&r.call, r.agency, &r.ranking);
    let target = call
        .window
        .ranking_target_date(call.rules.ranking.approval_target_days);
    let warning = approval_warning(call, v.approved, now);
    RankingView {
        call_id: call.id,
        agency_code: agency,
        version: v.version,
        status: if v.approved {
            "approved".into()
        } else {
            "draft".into()
        },
        reason: v.reason.clone(),
        envelope: v.allocation.envelope,
        allocated: v.allocation.allocated,
        remaining: v.allocation.remaining,
        entries: v.allocation.entries.clone(),
        inputs_sha256: v.inputs_sha256.clone(),
        act_number: v.act_number.clone(),
        act_date: v.act_date,
        created_at: v.created_at,
        approved_at: v.approved_at,
        approval_target_date: target,
        warning,
    }
}

/// Compute the agency's ranking and allocation from the current scores and envelope, and
/// store it as a draft version (with a hash of its inputs). Every application must be
/// decided and, when admitted, scored.
#[utoipa::path(
    tag = "rankings",
    params(
        ("call_id" = Uuid, Path, description = "The call's id"),
        ("agency_code" = AgencyCode, Path, description = "The agency"),
    ),
    responses(
        (status = 201, description = "The draft", body = RankingView),
        (status = 403, description = "Only evaluators compute rankings (administrators read and simulate them)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call, or another agency", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The window is open, evaluations are missing, or the ranking is already approved", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:evaluations_missing", "title": "Conflict", "status": 409, "code": "evaluations_missing",
                "detail": "The ranking needs every application decided and scored: RLD-DEMO-CONCILIAZIONE-000002 has 1 of the 2 final evaluations required."})),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/calls/{call_id}/agencies/{agency_code}/ranking")]
pub async fn compute(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, AgencyCode)>,
) -> Result<HttpResponse, ApiError> {
    let (call_id, agency) = path.into_inner();
    let now = state.now();
    let r = service::compute(&state.db, &caller, now, call_id, agency).await?;
    Ok(HttpResponse::Created().json(view(&r, now)))
}

/// The current version of the agency's ranking (the latest), with its entries and totals.
#[utoipa::path(
    tag = "rankings",
    params(
        ("call_id" = Uuid, Path, description = "The call's id"),
        ("agency_code" = AgencyCode, Path, description = "The agency"),
    ),
    responses(
        (status = 200, description = "The current version", body = RankingView),
        (status = 403, description = "Only evaluators and administrators read rankings", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No ranking yet, or another agency", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/calls/{call_id}/agencies/{agency_code}/ranking")]
pub async fn current(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, AgencyCode)>,
) -> Result<HttpResponse, ApiError> {
    let (call_id, agency) = path.into_inner();
    let r = service::current(&state.db, &caller, call_id, agency).await?;
    Ok(HttpResponse::Ok().json(view(&r, state.now())))
}

/// Every version of the agency's ranking, oldest first, with its reason.
#[utoipa::path(
    tag = "rankings",
    params(
        ("call_id" = Uuid, Path, description = "The call's id"),
        ("agency_code" = AgencyCode, Path, description = "The agency"),
    ),
    responses(
        (status = 200, description = "The versions", body = Vec<VersionSummary>),
        (status = 403, description = "Only evaluators and administrators read rankings", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call, or another agency", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/calls/{call_id}/agencies/{agency_code}/ranking/versions")]
pub async fn list_versions(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, AgencyCode)>,
) -> Result<HttpResponse, ApiError> {
    let (call_id, agency) = path.into_inner();
    let items: Vec<VersionSummary> = service::versions(&state.db, &caller, call_id, agency)
        .await?
        .into_iter()
        .map(|v| VersionSummary {
            version: v.version,
            status: if v.approved {
                "approved".into()
            } else {
                "draft".into()
            },
            reason: v.reason,
            allocated: v.allocation.allocated,
            act_number: v.act_number,
            created_at: v.created_at,
            approved_at: v.approved_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

/// Approve the draft with the act's number and date: it is frozen and its results are
/// published (every lead is told its outcome). Refused when the inputs changed since.
#[utoipa::path(
    tag = "rankings",
    params(
        ("call_id" = Uuid, Path, description = "The call's id"),
        ("agency_code" = AgencyCode, Path, description = "The agency"),
    ),
    request_body = ApprovalRequest,
    responses(
        (status = 200, description = "Approved", body = RankingView),
        (status = 403, description = "Only evaluators approve rankings (administrators read and simulate them)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call, or another agency", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already approved, no draft, an empty draft, or a stale one", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:ranking_stale", "title": "Conflict", "status": 409, "code": "ranking_stale",
                "detail": "The inputs changed since the draft was computed (scores, withdrawals, envelope): compute it again."})),
        (status = 422, description = "No act number", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/calls/{call_id}/agencies/{agency_code}/ranking/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, AgencyCode)>,
    body: Json<ApprovalRequest>,
) -> Result<HttpResponse, ApiError> {
    let (call_id, agency) = path.into_inner();
    let now = state.now();
    let approved = service::approve(&state.db, &caller, now, call_id, agency, || {
        let body = body.parse()?;
        Ok(service::Approval {
            act_number: body.act_number,
            act_date: body.act_date,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view(&approved, now)))
}

/// The same computation with another envelope, threshold or allocation mode; nothing is
/// stored.
#[utoipa::path(
    tag = "rankings",
    params(
        ("call_id" = Uuid, Path, description = "The call's id"),
        ("agency_code" = AgencyCode, Path, description = "The agency"),
    ),
    request_body = SimulationRequest,
    responses(
        (status = 200, description = "The simulated allocation", body = SimulationView),
        (status = 403, description = "Only evaluators and administrators simulate rankings", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call, or another agency", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Evaluations are missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/calls/{call_id}/agencies/{agency_code}/ranking/simulate")]
pub async fn simulate(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, AgencyCode)>,
    body: Json<SimulationRequest>,
) -> Result<HttpResponse, ApiError> {
    let (call_id, agency) = path.into_inner();
    let a = service::simulate(&state.db, &caller, call_id, agency, || {
        let body = body.parse()?;
        Ok(service::Simulation {
            envelope: body.envelope,
            threshold: body.threshold,
            mode: body.mode,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(SimulationView {
        envelope: a.envelope,
        allocated: a.allocated,
        remaining: a.remaining,
        entries: a.entries,
    }))
}

/// An agency's progress through the call.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "agency_code": "MONTAGNA", "received": 7, "under_review": 0, "admitted": 7,
    "inadmissible": 0, "scored": 7, "eligible": 6, "envelope": "293580.00", "committed": "293580.00", "free": "0.00",
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
    pub free: Money,
    /// `none`, `draft` or `approved`.
    pub ranking_status: String,
    pub approval_target_date: NaiveDate,
    pub warning: Option<String>,
}

/// Received, admitted, scored and eligible applications, and the committed and free money
/// of an agency in a call.
#[utoipa::path(
    tag = "rankings",
    params(
        ("call_id" = Uuid, Path, description = "The call's id"),
        ("agency_code" = AgencyCode, Path, description = "The agency"),
    ),
    responses(
        (status = 200, description = "The dashboard", body = DashboardView),
        (status = 403, description = "Not an evaluator or administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call, or another agency", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/calls/{call_id}/agencies/{agency_code}/dashboard")]
pub async fn dashboard(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, AgencyCode)>,
) -> Result<HttpResponse, ApiError> {
    let (call_id, agency) = path.into_inner();
    let d = service::dashboard(&state.db, &caller, state.now(), call_id, agency).await?;
    let p = d.progress;
    Ok(HttpResponse::Ok().json(DashboardView {
        call_id: d.call.id,
        agency_code: d.agency,
        received: p.received,
        under_review: p.under_review,
        admitted: p.admitted,
        inadmissible: p.inadmissible,
        scored: p.scored,
        eligible: p.eligible,
        envelope: d.envelope,
        committed: d.committed,
        free: d.free,
        ranking_status: d.ranking_status.as_str().into(),
        approval_target_date: d.approval_target_date,
        warning: d.warning,
    }))
}

/// One published result: an application of an approved ranking (no personal data).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"agency_code": "MONTAGNA", "rank": 1, "protocol_number": "RLD-DEMO-CONCILIAZIONE-000001", "title": "Valtellina concilia",
    "recipient": "Comune di Sondrio (demo)", "score": "90.00", "outcome": "funded", "amount": "50000.00", "act_number": "decreto ATS n. 123", "act_date": "2027-03-05"}))]
pub struct ResultView {
    pub agency_code: AgencyCode,
    pub rank: Option<u32>,
    pub protocol_number: String,
    pub title: Option<String>,
    /// The lead organization (a natural person's name is never shown).
    pub recipient: String,
    #[schema(value_type = Option<String>)]
    pub score: Option<rust_decimal::Decimal>,
    pub outcome: crate::domain::ranking::Outcome,
    pub amount: Money,
    pub act_number: Option<String>,
    pub act_date: Option<NaiveDate>,
}

/// The results in the 360Giving data standard.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"grants": [{"id": "IT-RL-RLD-DEMO-CONCILIAZIONE-000001", "title": "Valtellina concilia", "currency": "EUR",
    "amountAwarded": 50000.0, "awardDate": "2027-03-05",
    "recipientOrganization": [{"id": "IT-CF-00000010143", "name": "Comune di Sondrio (demo)"}],
    "fundingOrganization": [{"id": "IT-ATS-MONTAGNA", "name": "ATS della Montagna"}]}]}))]
pub struct GivingGrants {
    pub grants: Vec<GivingGrant>,
}

/// One funded application, as a 360Giving grant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"id": "IT-RL-RLD-DEMO-CONCILIAZIONE-000001", "title": "Valtellina concilia", "currency": "EUR",
    "amountAwarded": 50000.0, "awardDate": "2027-03-05",
    "recipientOrganization": [{"id": "IT-CF-00000010143", "name": "Comune di Sondrio (demo)"}],
    "fundingOrganization": [{"id": "IT-ATS-MONTAGNA", "name": "ATS della Montagna"}]}))]
pub struct GivingGrant {
    /// `IT-RL-` and the protocol number.
    pub id: String,
    pub title: Option<String>,
    /// Always `EUR`.
    pub currency: String,
    /// A number, as the standard wants (the JSON and CSV results carry the exact string).
    pub amount_awarded: f64,
    pub award_date: Option<NaiveDate>,
    pub recipient_organization: Vec<GivingOrganization>,
    pub funding_organization: Vec<GivingOrganization>,
}

/// An organization of a 360Giving grant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "IT-ATS-MONTAGNA", "name": "ATS della Montagna"}))]
pub struct GivingOrganization {
    /// `IT-CF-` and the tax code of an organization (null for a natural person), or `IT-ATS-`
    /// and the agency's code.
    pub id: Option<String>,
    pub name: String,
}

/// The JSON of the results: the list by default, an object with `grants` for `format=360giving`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(example = json!([{"agency_code": "MONTAGNA", "rank": 1, "protocol_number": "RLD-DEMO-CONCILIAZIONE-000001", "title": "Valtellina concilia",
    "recipient": "Comune di Sondrio (demo)", "score": "90.00", "outcome": "funded", "amount": "50000.00", "act_number": "decreto ATS n. 123", "act_date": "2027-03-05"}]))]
pub enum ResultsDocument {
    Results(Vec<ResultView>),
    ThreeSixtyGiving(GivingGrants),
}

/// The format of the results.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResultsQuery {
    /// `json` (default), `csv` or `360giving`.
    #[param(value_type = Option<ResultsFormat>, inline)]
    pub format: Option<String>,
}

// For the document only, like `applications::ExportFormat`.
/// The format of the results.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub enum ResultsFormat {
    #[serde(rename = "json")]
    Json,
    #[serde(rename = "csv")]
    Csv,
    /// The 360Giving data standard, as JSON.
    #[serde(rename = "360giving")]
    ThreeSixtyGiving,
}

/// The approved rankings of a call, as published: JSON, CSV, or the 360Giving data standard.
/// Public; no personal data.
#[utoipa::path(
    tag = "rankings",
    params(("call_id" = Uuid, Path, description = "The call's id"), ResultsQuery),
    responses(
        (status = 200, description = "The published results", content((ResultsDocument = "application/json"), (String = "text/csv"))),
        (status = 404, description = "No such published call", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown format", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/calls/{call_id}/results")]
pub async fn results(
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    query: web::Query<ResultsQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = query.format.as_deref().unwrap_or("json");
    if !["json", "csv", "360giving"].contains(&format) {
        return Err(ApiError::invalid(
            "format",
            "unknown_format",
            "format is json, csv or 360giving.",
            "format è json, csv o 360giving.",
        ));
    }
    let rows: Vec<(ResultView, Option<String>)> = service::results(&state.db, path.into_inner())
        .await?
        .into_iter()
        .map(|r| {
            (
                ResultView {
                    agency_code: r.agency,
                    rank: r.rank,
                    protocol_number: r.protocol_number,
                    title: r.title,
                    recipient: r.recipient,
                    score: r.score,
                    outcome: r.outcome,
                    amount: r.amount,
                    act_number: r.act_number,
                    act_date: r.act_date,
                },
                r.tax_code,
            )
        })
        .collect();
    match format {
        "csv" => {
            let mut out = CsvWriter::new();
            out.write_text_record([
                "agency_code",
                "rank",
                "protocol_number",
                "title",
                "recipient",
                "score",
                "outcome",
                "amount",
                "act_number",
                "act_date",
            ])?;
            for (r, _) in &rows {
                out.write_record([
                    Cell::text(r.agency_code.as_str()),
                    Cell::number_or_empty(r.rank),
                    Cell::text(r.protocol_number.clone()),
                    Cell::text_or_empty(r.title.clone()),
                    Cell::text(r.recipient.clone()),
                    Cell::number_or_empty(r.score),
                    Cell::text_or_empty(
                        serde_json::to_value(r.outcome)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from)),
                    ),
                    Cell::number(r.amount),
                    Cell::text_or_empty(r.act_number.clone()),
                    Cell::text_or_empty(r.act_date.map(|d| d.to_string())),
                ])?;
            }
            out.into_response(None)
        }
        "360giving" => {
            let grants: Vec<GivingGrant> = rows
                .iter()
                .filter(|(r, _)| r.amount > Money::ZERO)
                .map(|(r, tax_code)| GivingGrant {
                    id: format!("IT-RL-{}", r.protocol_number),
                    title: r.title.clone(),
                    currency: "EUR".into(),
                    amount_awarded: r.amount.to_string().parse::<f64>().unwrap_or(0.0),
                    award_date: r.act_date,
                    recipient_organization: vec![GivingOrganization {
                        id: tax_code.as_ref().map(|t| format!("IT-CF-{t}")),
                        name: r.recipient.clone(),
                    }],
                    funding_organization: vec![GivingOrganization {
                        id: Some(format!("IT-ATS-{}", r.agency_code)),
                        name: r.agency_code.name().to_owned(),
                    }],
                })
                .collect();
            Ok(HttpResponse::Ok().json(GivingGrants { grants }))
        }
        _ => Ok(HttpResponse::Ok().json(rows.into_iter().map(|(r, _)| r).collect::<Vec<_>>())),
    }
}
