//! An agency's ranking and allocation: compute a draft, read it and its versions, simulate,
//! approve; and the agency's dashboard. The published results are in `results`.

mod views;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::extract::Json;
use crate::auth::AuthUser;
use crate::domain::agency::AgencyCode;
use crate::domain::ranking::approval_warning;
use crate::error::{ApiError, Problem};
use crate::service::rankings::{self as service, Ranked, Version};
use crate::state::AppState;

pub use views::*;

fn view(r: Ranked<Version>, now: DateTime<Utc>) -> RankingView {
    let Ranked {
        call,
        agency,
        ranking: v,
    } = r;
    let target = call
        .window
        .ranking_target_date(call.rules.ranking.approval_target_days);
    let warning = approval_warning(&call, v.status.is_approved(), now);
    RankingView {
        call_id: call.id,
        agency_code: agency,
        version: v.version,
        status: v.status,
        reason: v.reason,
        envelope: v.allocation.envelope,
        allocated: v.allocation.allocated,
        remaining: v.allocation.remaining,
        entries: v.allocation.entries,
        inputs_sha256: v.inputs_sha256,
        act_number: v.act_number,
        act_date: v.act_date,
        created_at: v.created_at,
        approved_at: v.approved_at,
        approval_target_date: target,
        warning,
    }
}

/// Compute the agency's ranking.
///
/// By an evaluator of the agency, after the call's window has closed: the ranking and allocation
/// from the current scores and envelope, stored as a draft version with a hash of its inputs. Every
/// application must be decided and, when admitted, scored with the call's number of final
/// evaluations. Approve it with `POST .../ranking/approve`.
#[utoipa::path(
    operation_id = "computeRanking",
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
    security(("bearer" = []))
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
    Ok(HttpResponse::Created().json(view(r, now)))
}

/// Read the agency's current ranking.
///
/// The latest version, draft or approved, with its entries and totals. For the agency's evaluators
/// and for administrators; the approved results are public at `GET
/// /api/v1/calls/{call_id}/results`.
#[utoipa::path(
    operation_id = "getRanking",
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
    security(("bearer" = []))
)]
#[get("/calls/{call_id}/agencies/{agency_code}/ranking")]
pub async fn current(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, AgencyCode)>,
) -> Result<HttpResponse, ApiError> {
    let (call_id, agency) = path.into_inner();
    let r = service::current(&state.db, &caller, call_id, agency).await?;
    Ok(HttpResponse::Ok().json(view(r, state.now())))
}

/// List the versions of the agency's ranking.
///
/// Every version, oldest first, with the reason it was made: the history of who was funded and why,
/// reserve list moves included.
#[utoipa::path(
    operation_id = "listRankingVersions",
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
    security(("bearer" = []))
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
            status: v.status,
            reason: v.reason,
            allocated: v.allocation.allocated,
            act_number: v.act_number,
            created_at: v.created_at,
            approved_at: v.approved_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

/// Approve the agency's draft ranking.
///
/// By an evaluator of the agency, with the act's number and date: the draft is frozen, its results
/// are published, its funded applications are offered their grants and every lead is told its
/// outcome. Refused when the inputs changed since it was computed: compute it again.
#[utoipa::path(
    operation_id = "approveRanking",
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
    security(("bearer" = []))
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
    Ok(HttpResponse::Ok().json(view(approved, now)))
}

/// Simulate the agency's ranking.
///
/// The same computation as `POST .../ranking`, with another envelope, threshold or allocation mode;
/// nothing is stored. For the agency's evaluators and for administrators.
#[utoipa::path(
    operation_id = "simulateRanking",
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
    security(("bearer" = []))
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

/// Read an agency's dashboard for a call.
///
/// Received, admitted, scored and eligible applications, and the committed and free money of the
/// agency's envelope. For the agency's evaluators and for administrators.
#[utoipa::path(
    operation_id = "getAgencyDashboard",
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
    security(("bearer" = []))
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
        paid: d.paid,
        to_recover: d.to_recover,
        free: d.free,
        ranking_status: d.ranking_status,
        approval_target_date: d.approval_target_date,
        warning: d.warning,
    }))
}
