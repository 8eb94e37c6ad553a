//! Grants: read them, and accept (with the project's CUP) or decline an offer.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageParams;
use super::extract::Json;
use crate::auth::AuthUser;
use crate::domain::agency::AgencyCode;
use crate::domain::award::{Act, ActInput, RevocationCause};
use crate::domain::grant::GrantStatus;
use crate::domain::money::Money;
use crate::error::{ApiError, Problem};
use crate::service::grants::{self as service, Viewed};
use crate::state::AppState;

/// A grant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d", "call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "agency_code": "MONTAGNA",
    "application_id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "amount": "43580.00", "requested": "50000.00", "status": "offered",
    "offered_at": "2027-03-05T09:00:00.000000Z", "deadline": "2027-04-04T21:59:59.000000Z", "cup": null, "answered_at": null, "reason": null, "ranking_version": 2,
    "start_deadline": null, "start_date": null, "end_date": null, "started_at": null, "overdue": false, "report_deadline": null, "report_overdue": false,
    "revocation_cause": null, "revocation_act": null, "ended_at": null, "final_grant": null}))]
pub struct GrantView {
    pub id: Uuid,
    pub call_id: Uuid,
    pub agency_code: AgencyCode,
    pub application_id: Uuid,
    pub amount: Money,
    pub requested: Money,
    pub status: GrantStatus,
    #[serde(with = "crate::domain::timestamp")]
    pub offered_at: DateTime<Utc>,
    /// Accept or decline by then (23:59:59 Europe/Rome of the call's last day).
    #[serde(with = "crate::domain::timestamp")]
    pub deadline: DateTime<Utc>,
    /// The project's CUP, once accepted.
    pub cup: Option<String>,
    #[serde(with = "crate::domain::timestamp::option")]
    pub answered_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    /// The ranking version that made the offer.
    pub ranking_version: i32,
    /// Once accepted: the lead communicates the project's start by then (23:59:59
    /// Europe/Rome of the `start_deadline_days`-th day after the acceptance).
    #[serde(with = "crate::domain::timestamp::option")]
    pub start_deadline: Option<DateTime<Utc>>,
    /// The project's start, as its lead communicated it.
    pub start_date: Option<NaiveDate>,
    /// The project's last day: the start plus the call's `project_duration_months`, less a day.
    pub end_date: Option<NaiveDate>,
    /// When the start was communicated.
    #[serde(with = "crate::domain::timestamp::option")]
    pub started_at: Option<DateTime<Utc>>,
    /// Started after the start deadline, or still not started past it: flagged for the ATS
    /// (revocation is always an explicit act).
    pub overdue: bool,
    /// Once started: the last day to submit the final report (the end date plus the call's
    /// `report_deadline_days`, Europe/Rome).
    pub report_deadline: Option<NaiveDate>,
    /// The final report was submitted after its deadline, or, while the project is live, is
    /// still not submitted past it: flagged for the ATS.
    pub report_overdue: bool,
    /// Why it was revoked, when a cause was given.
    pub revocation_cause: Option<RevocationCause>,
    /// The act that revoked it, when given.
    pub revocation_act: Option<Act>,
    /// When it ended: revoked, renounced, or closed (its final grant paid, nothing left to
    /// recover).
    #[serde(with = "crate::domain::timestamp::option")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Once the final report is verified: the final grant, what the project commits and is
    /// paid in all (`GET .../final-report` shows how it was reached).
    pub final_grant: Option<Money>,
}

impl From<&Viewed> for GrantView {
    fn from(v: &Viewed) -> GrantView {
        let g = &v.grant;
        GrantView {
            id: g.id,
            call_id: g.call_id,
            agency_code: g.agency,
            application_id: g.application_id,
            amount: g.amount,
            requested: g.requested,
            status: g.status,
            offered_at: g.offered_at,
            deadline: g.deadline,
            cup: g.cup.clone(),
            answered_at: g.answered_at,
            reason: g.reason.clone(),
            ranking_version: g.ranking_version,
            start_deadline: v.start_deadline,
            start_date: g.start_date,
            end_date: g.end_date,
            started_at: g.started_at,
            overdue: v.overdue,
            report_deadline: v.report_deadline,
            report_overdue: v.report_overdue,
            revocation_cause: g.revocation_cause,
            revocation_act: g.revocation_act.clone(),
            ended_at: g.ended_at,
            final_grant: g.final_amount,
        }
    }
}

/// A page of grants.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"items": [], "total": 0, "page": 1, "per_page": 20}))]
pub struct GrantList {
    pub items: Vec<GrantView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// Filters of the grant list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GrantQuery {
    pub call_id: Option<Uuid>,
    pub agency_code: Option<AgencyCode>,
    pub status: Option<GrantStatus>,
}

/// The acceptance of an offer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"cup": "J51B22000120002"}))]
pub struct AcceptRequest {
    /// The project's Codice Unico di Progetto.
    pub cup: String,
}

/// The decline of an offer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Il partenariato non può garantire il cofinanziamento."}))]
pub struct DeclineRequest {
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

/// List the grants the caller may see.
///
/// Applicants see their partnerships' grants; evaluators, their agency's; administrators, all.
/// Paged.
#[utoipa::path(
    operation_id = "listGrants",
    tag = "grants",
    params(PageParams, GrantQuery),
    responses(
        (status = 200, description = "A page of grants", body = GrantList),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/grants")]
pub async fn list_grants(
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<GrantQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let query = service::Query {
        call_id: query.call_id,
        agency: query.agency_code,
        status: query.status,
    };
    let (items, total) = service::list(&state.db, &caller, state.now(), query, page).await?;
    Ok(HttpResponse::Ok().json(GrantList {
        items: items.iter().map(GrantView::from).collect(),
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Read a grant.
///
/// Its amount and the amount requested, its status, its acceptance deadline and, once answered,
/// when (with the CUP of an acceptance). Visible to whoever may list it.
#[utoipa::path(
    operation_id = "getGrant",
    tag = "grants",
    params(("grant_id" = Uuid, Path, description = "The grant's id")),
    responses(
        (status = 200, description = "The grant", body = GrantView),
        (status = 404, description = "No such grant that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/grants/{grant_id}")]
pub async fn get_grant(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let g = service::read(&state.db, &caller, state.now(), path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(GrantView::from(&g)))
}

/// Accept a grant offer.
///
/// By the lead's representatives, before the acceptance deadline, with the project's CUP (Codice
/// Unico di Progetto). The grant becomes accepted; the CUP shows on it from then on.
#[utoipa::path(
    operation_id = "acceptGrant",
    tag = "grants",
    params(("grant_id" = Uuid, Path, description = "The grant's id")),
    request_body = AcceptRequest,
    responses(
        (status = 200, description = "Accepted", body = GrantView),
        (status = 403, description = "Only applicants accept grants", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant that the caller's organization leads", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already answered, or the deadline has passed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No valid CUP", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/grants/{grant_id}/accept")]
pub async fn accept(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<AcceptRequest>,
) -> Result<HttpResponse, ApiError> {
    let g = service::accept(
        &state.db,
        &caller,
        state.clock.as_ref(),
        path.into_inner(),
        || Ok(body.parse()?.cup),
    )
    .await?;
    Ok(HttpResponse::Ok().json(GrantView::from(&g)))
}

/// Decline a grant offer.
///
/// By the lead's representatives, before the acceptance deadline, with an optional reason. The
/// money goes down the agency's reserve list at once, as a new published ranking version.
#[utoipa::path(
    operation_id = "declineGrant",
    tag = "grants",
    params(("grant_id" = Uuid, Path, description = "The grant's id")),
    request_body = DeclineRequest,
    responses(
        (status = 200, description = "Declined", body = GrantView),
        (status = 403, description = "Only applicants decline grants", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant that the caller's organization leads", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already answered, or the deadline has passed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/grants/{grant_id}/decline")]
pub async fn decline(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<DeclineRequest>,
) -> Result<HttpResponse, ApiError> {
    let g = service::decline(
        &state.db,
        &caller,
        state.clock.as_ref(),
        path.into_inner(),
        || Ok(body.parse()?.reason),
    )
    .await?;
    Ok(HttpResponse::Ok().json(GrantView::from(&g)))
}

/// A revocation: its reason (the act, in words) and, optionally, its cause.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Il progetto non è stato avviato entro i termini.", "cause": "no_start",
    "act": {"number": "decreto ATS della Montagna n. 77", "date": "2027-06-01"}}))]
pub struct RevokeRequest {
    #[schema(max_length = 2000)]
    pub reason: String,
    pub cause: Option<RevocationCause>,
    /// The act that revokes it: when given, its number and date (not after today) are both
    /// required.
    pub act: Option<super::payments::ActRequest>,
}

/// Revoke a grant.
///
/// By an administrator or an evaluator of the grant's ATS, with a reason and an optional cause
/// code, for an offered or accepted grant. Its payments not yet made are cancelled; what it
/// already paid becomes a recovery order (due in the call's `recovery_due_days`). Its money goes
/// down the reserve list as a new published ranking version while the ranking's scorrimento is
/// open (`scorrimento_months` after its approval); after that it stays in the envelope, unused.
#[utoipa::path(
    operation_id = "revokeGrant",
    tag = "grants",
    params(("grant_id" = Uuid, Path, description = "The grant's id")),
    request_body = RevokeRequest,
    responses(
        (status = 200, description = "Revoked", body = GrantView),
        (status = 403, description = "Neither an administrator nor an evaluator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant that the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not offered or accepted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/grants/{grant_id}/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<RevokeRequest>,
) -> Result<HttpResponse, ApiError> {
    let g = service::revoke(&state.db, &caller, state.now(), path.into_inner(), || {
        let body = body.parse()?;
        Ok(service::Revocation {
            reason: body.reason,
            cause: body.cause,
            act: body.act.map(|a| ActInput::from(Some(a))),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(GrantView::from(&g)))
}

/// Renounce an accepted grant.
///
/// By the lead's representatives, with an optional reason. Its payments not yet made are
/// cancelled; what it already paid becomes a recovery order. Its money goes down the reserve
/// list while the ranking's scorrimento is open, otherwise it stays in the envelope, unused.
#[utoipa::path(
    operation_id = "renounceGrant",
    tag = "grants",
    params(("grant_id" = Uuid, Path, description = "The grant's id")),
    request_body = DeclineRequest,
    responses(
        (status = 200, description = "Renounced", body = GrantView),
        (status = 403, description = "Not the lead's representative", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant that the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not accepted", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/grants/{grant_id}/renounce")]
pub async fn renounce(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<DeclineRequest>,
) -> Result<HttpResponse, ApiError> {
    let g = service::renounce(&state.db, &caller, state.now(), path.into_inner(), || {
        Ok(body.parse()?.reason)
    })
    .await?;
    Ok(HttpResponse::Ok().json(GrantView::from(&g)))
}

/// The project's start, as the lead communicates it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"start_date": "2027-04-01"}))]
pub struct StartRequest {
    /// The first day of the project (not before the acceptance, in Europe/Rome).
    pub start_date: NaiveDate,
}

/// Communicate the project's start.
///
/// By the lead's representatives, once, for an accepted grant, with a start date not before the
/// acceptance. The end date follows from the call's `project_duration_months`. A start
/// communicated after the call's `start_deadline_days` is accepted and flagged `overdue`. The
/// tranches of the payment plan paid at the start (by default the 70% advance) become payments
/// `due`, for the ATS to authorize.
#[utoipa::path(
    operation_id = "startGrant",
    tag = "grants",
    params(("grant_id" = Uuid, Path, description = "The grant's id")),
    request_body = StartRequest,
    responses(
        (status = 200, description = "Started: the grant with its start and end dates", body = GrantView),
        (status = 403, description = "Not the lead's representative", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant that the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not accepted, or already started", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A start before the acceptance", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/grants/{grant_id}/start")]
pub async fn start(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<StartRequest>,
) -> Result<HttpResponse, ApiError> {
    let g = service::start(
        &state.db,
        &caller,
        state.clock.as_ref(),
        path.into_inner(),
        || Ok(body.parse()?.start_date),
    )
    .await?;
    Ok(HttpResponse::Ok().json(GrantView::from(&g)))
}
