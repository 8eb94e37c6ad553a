//! Grants: read them, and accept (with the project's CUP) or decline an offer.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageParams;
use super::extract::Json;
use crate::auth::AuthUser;
use crate::domain::Violations;
use crate::domain::agency::AgencyCode;
use crate::domain::application::application_access;
use crate::domain::call::check_text;
use crate::domain::grant::{GrantStatus, check_cup};
use crate::domain::money::Money;
use crate::domain::partnership::Access;
use crate::domain::user::Role;
use crate::error::{ApiError, Problem};
use crate::state::AppState;
use crate::store::grants::{self as store, Grant, grant_not_found};
use crate::store::{
    applications as apps_store, organizations as orgs_store, partnerships as partnerships_store,
};

/// A grant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d", "call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "agency_code": "MONTAGNA",
    "application_id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "amount": "43580.00", "requested": "50000.00", "status": "offered",
    "offered_at": "2027-03-05T09:00:00Z", "deadline": "2027-04-04T21:59:59Z", "cup": null, "answered_at": null, "reason": null, "ranking_version": 2}))]
pub struct GrantView {
    pub id: Uuid,
    pub call_id: Uuid,
    pub agency_code: AgencyCode,
    pub application_id: Uuid,
    pub amount: Money,
    pub requested: Money,
    pub status: GrantStatus,
    pub offered_at: DateTime<Utc>,
    /// Accept or decline by then (23:59:59 Europe/Rome of the call's last day).
    pub deadline: DateTime<Utc>,
    /// The project's CUP, once accepted.
    pub cup: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    /// The ranking version that made the offer.
    pub ranking_version: i32,
}

impl From<&Grant> for GrantView {
    fn from(g: &Grant) -> GrantView {
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
    pub reason: Option<String>,
}

/// A grant and what the caller may do with it; 404 when nothing.
async fn seen(state: &AppState, caller: &AuthUser, id: Uuid) -> Result<(Grant, Access), ApiError> {
    store::expire_due(
        &state.db,
        &crate::store::audit::Actor::system(),
        state.now(),
    )
    .await?;
    let g = store::get(&state.db, id)
        .await?
        .ok_or_else(grant_not_found)?;
    let app = apps_store::get(&state.db, g.application_id)
        .await?
        .ok_or_else(grant_not_found)?;
    let p = partnerships_store::get(&state.db, app.partnership_id)
        .await?
        .ok_or_else(grant_not_found)?;
    let represented = orgs_store::represented_by(&state.db, caller.id).await?;
    let access = application_access(
        caller.role,
        caller.agency,
        &represented,
        p.lead(),
        &p.member_ids(),
        app.status,
        app.content.agency_code,
    )
    .ok_or_else(grant_not_found)?;
    Ok((g, access))
}

/// The grants the caller may see: its partnerships' (applicants), its agency's
/// (evaluators), all (administrators).
#[utoipa::path(
    tag = "grants",
    params(PageParams, GrantQuery),
    responses(
        (status = 200, description = "A page of grants", body = GrantList),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/grants")]
pub async fn list_grants(
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<GrantQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    store::expire_due(
        &state.db,
        &crate::store::audit::Actor::system(),
        state.now(),
    )
    .await?;
    let mut filter = store::Filter {
        call_id: query.call_id,
        agency: query.agency_code,
        status: query.status,
        applications: None,
    };
    match caller.role {
        Role::Admin => {}
        Role::Evaluator => {
            if query.agency_code.is_some_and(|a| Some(a) != caller.agency) {
                filter.applications = Some(BTreeSet::new());
            }
            filter.agency = caller.agency;
        }
        Role::Applicant => {
            let represented = orgs_store::represented_by(&state.db, caller.id).await?;
            let (apps, _) = apps_store::list(
                &state.db,
                &apps_store::Filter {
                    member_of: Some(represented),
                    ..Default::default()
                },
                None,
            )
            .await?;
            filter.applications = Some(apps.iter().map(|a| a.id).collect());
        }
    }
    let (items, total) = store::list(&state.db, &filter, page).await?;
    Ok(HttpResponse::Ok().json(GrantList {
        items: items.iter().map(GrantView::from).collect(),
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Read a grant.
#[utoipa::path(
    tag = "grants",
    params(("grant_id" = Uuid, Path, description = "The grant's id")),
    responses(
        (status = 200, description = "The grant", body = GrantView),
        (status = 404, description = "No such grant that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/grants/{grant_id}")]
pub async fn get_grant(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (g, _) = seen(&state, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(GrantView::from(&g)))
}

/// Accept an offer with the project's CUP, before the acceptance deadline (the lead's
/// representatives).
#[utoipa::path(
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
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/grants/{grant_id}/accept")]
pub async fn accept(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<AcceptRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Applicant])?;
    let (g, access) = seen(&state, &caller, path.into_inner()).await?;
    if access != Access::Manage {
        return Err(grant_not_found());
    }
    let body = body.parse()?;
    let cup = body.cup.trim().to_owned();
    ApiError::check(check_cup(&cup).into_iter().collect())?;
    let g = store::answer_offer(
        &state.db,
        &caller.actor(),
        &state.clock,
        g.id,
        true,
        Some(&cup),
        None,
    )
    .await?;
    Ok(HttpResponse::Ok().json(GrantView::from(&g)))
}

/// Decline an offer, before the acceptance deadline (the lead's representatives).
#[utoipa::path(
    tag = "grants",
    params(("grant_id" = Uuid, Path, description = "The grant's id")),
    request_body = DeclineRequest,
    responses(
        (status = 200, description = "Declined", body = GrantView),
        (status = 403, description = "Only applicants decline grants", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant that the caller's organization leads", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already answered, or the deadline has passed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/grants/{grant_id}/decline")]
pub async fn decline(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<DeclineRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Applicant])?;
    let (g, access) = seen(&state, &caller, path.into_inner()).await?;
    if access != Access::Manage {
        return Err(grant_not_found());
    }
    let body = body.parse()?;
    let mut v = Violations::new();
    if let Some(r) = &body.reason {
        v.extend(check_text("reason", r, 2000));
    }
    ApiError::check(v.into_vec())?;
    let g = store::answer_offer(
        &state.db,
        &caller.actor(),
        &state.clock,
        g.id,
        false,
        None,
        body.reason.as_deref().map(str::trim),
    )
    .await?;
    Ok(HttpResponse::Ok().json(GrantView::from(&g)))
}

/// A reason, for a revocation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Il progetto non è stato avviato entro i termini."}))]
pub struct RevokeRequest {
    pub reason: String,
}

/// Revoke an offered or accepted grant (administrators), with a reason: its money goes down
/// the reserve list as a new published ranking version.
#[utoipa::path(
    tag = "grants",
    params(("grant_id" = Uuid, Path, description = "The grant's id")),
    request_body = RevokeRequest,
    responses(
        (status = 200, description = "Revoked", body = GrantView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not offered or accepted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/grants/{grant_id}/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<RevokeRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let (g, _) = seen(&state, &caller, path.into_inner()).await?;
    let body = body.parse()?;
    ApiError::check(
        check_text("reason", &body.reason, 2000)
            .into_iter()
            .collect(),
    )?;
    let g = store::revoke(
        &state.db,
        &caller.actor(),
        state.now(),
        g.id,
        body.reason.trim(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(GrantView::from(&g)))
}
