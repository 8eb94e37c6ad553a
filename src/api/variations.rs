//! Variations of a project: requested by the lead, consented to by an organization a partner
//! change adds, decided by the ATS; every version of the project stays readable.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::Json;
use crate::auth::AuthUser;
use crate::domain::application::CostLine;
use crate::domain::award::{ProjectMember, ProjectVersion, VariationKind, VariationStatus};
use crate::error::{ApiError, Problem};
use crate::service::variations::{self as service, Request, StoredVariation};
use crate::state::AppState;

/// A budget shift's new lines.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"category": "EMPLOYEE_SERVICES", "description": "Baby-sitting e centri estivi", "amount": "42000.00",
    "borne_by": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"}]}))]
pub struct ShiftedBudget {
    /// Every line of the new budget (the total stays the approved one).
    pub lines: Vec<CostLine>,
}

/// What the lead asks. A `budget_shift` gives `budget.lines`; a `partner_change` gives `add`
/// and/or `remove`; an `extension` gives `end_date`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "extension", "reasons": "I centri estivi si chiudono a settembre.", "end_date": "2028-03-31"}))]
pub struct VariationRequest {
    pub kind: VariationKind,
    /// Why the project needs it.
    #[schema(max_length = 4000)]
    pub reasons: Option<String>,
    pub budget: Option<ShiftedBudget>,
    /// Organizations of the registry to add as partners (`GET /api/v1/organizations`); each
    /// one's representatives consent before the ATS decides.
    #[serde(default)]
    pub add: Vec<ProjectMember>,
    /// Members to remove: `organization_id`s of the project's current `members`
    /// (`GET /api/v1/grants/{grant_id}/variations`).
    #[serde(default)]
    pub remove: Vec<Uuid>,
    /// The new end date: later than the current one, at most the call's
    /// `max_extension_months` after the original one.
    pub end_date: Option<NaiveDate>,
}

/// A variation of a project.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c", "grant_id": "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d",
    "kind": "extension", "status": "pending", "reasons": "I centri estivi si chiudono a settembre.",
    "request": {"kind": "extension", "end_date": "2028-03-31"},
    "before": {"version": 1, "lines": [], "members": [], "end_date": "2027-12-31"},
    "after": {"version": 2, "lines": [], "members": [], "end_date": "2028-03-31"},
    "automatic": false, "project_version": null, "requested_by": "9c8b7a6f-5e4d-4c3b-a2f1-0e9d8c7b6a5f",
    "requested_at": "2027-09-01T09:00:00.000000Z", "consents": [], "consent_by": null, "consent_at": null,
    "decided_by": null, "decided_at": null, "decision_note": null}))]
pub struct VariationView {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub kind: VariationKind,
    pub status: VariationStatus,
    pub reasons: String,
    /// What the lead asked, as it asked it.
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    /// The project's version it starts from.
    pub before: ProjectVersion,
    /// The version it makes once approved.
    pub after: ProjectVersion,
    /// Approved at once: a budget shift within the call's tolerance.
    pub automatic: bool,
    /// The project's version it made, once approved.
    pub project_version: Option<i32>,
    pub requested_by: Uuid,
    #[serde(with = "crate::domain::timestamp")]
    pub requested_at: DateTime<Utc>,
    /// The added organizations that have consented to join.
    pub consents: Vec<Uuid>,
    /// Who answered last for an added organization.
    pub consent_by: Option<Uuid>,
    #[serde(with = "crate::domain::timestamp::option")]
    pub consent_at: Option<DateTime<Utc>>,
    pub decided_by: Option<Uuid>,
    #[serde(with = "crate::domain::timestamp::option")]
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
}

impl From<StoredVariation> for VariationView {
    fn from(v: StoredVariation) -> VariationView {
        VariationView {
            id: v.id,
            grant_id: v.grant_id,
            kind: v.kind,
            status: v.status,
            reasons: v.reasons,
            request: v.request,
            before: v.before,
            after: v.after,
            automatic: v.automatic,
            project_version: v.project_version,
            requested_by: v.requested_by,
            requested_at: v.requested_at,
            consents: v.consents,
            consent_by: v.consent_by,
            consent_at: v.consent_at,
            decided_by: v.decided_by,
            decided_at: v.decided_at,
            decision_note: v.decision_note,
        }
    }
}

/// A project's current version and its variations, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"current": {"version": 2, "lines": [], "members": [], "end_date": "2028-03-31"}, "items": []}))]
pub struct VariationList {
    pub current: ProjectVersion,
    pub items: Vec<VariationView>,
}

/// Request a variation of a project.
///
/// By the lead's representatives, for a started project still live, one open variation at a
/// time, with `reasons`. A `budget_shift` gives every line of the new budget: the total stays the
/// approved one and the category caps hold (422 otherwise); when each category moves by at
/// most the call's `variation_tolerance` of its approved amount it is approved at once
/// (`automatic`), otherwise the ATS decides. A `partner_change` adds and/or removes members: the
/// composition rules must hold on the result (each broken one listed, as in the eligibility
/// report), the lead stays, and a removed member bears no cost line; an added organization's
/// representatives consent first (`POST .../consent`) unless the lead's representative also
/// represents it. An `extension` moves the end date, at most the call's
/// `max_extension_months` after the original one. An approved variation is the project's new
/// version, which the final report and its verification use.
#[utoipa::path(
    operation_id = "requestVariation",
    tag = "variations",
    params(("grant_id" = Uuid, Path, description = "The grant's id")),
    request_body = VariationRequest,
    responses(
        (status = 201, description = "Requested (or approved at once: `status` says)", body = VariationView),
        (status = 403, description = "Not the lead's representative", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant that the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A project not started, closed, revoked or renounced; another variation open", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:project_not_live", "title": "Conflict", "status": 409, "code": "project_not_live",
                "detail": "Only a started project that is still live (not closed, revoked or renounced) changes."})),
        (status = 422, description = "A broken cap, a changed total, a broken composition rule, an extension beyond the maximum", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:validation_failed", "title": "Validation failed", "status": 422, "code": "validation_failed",
                "detail": "The request breaks 1 rule(s); see violations.",
                "violations": [{"field": "end_date", "code": "extension_too_long", "message": "The end date can be extended to 2028-03-31 at the latest (3 months after the original end date)."}]})),
    ),
    security(("bearer" = []))
)]
#[post("/grants/{grant_id}/variations")]
pub async fn request_variation(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<VariationRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let v = service::request(&state.db, &caller, state.now(), id, || {
        let b = body.parse()?;
        Ok(Request {
            kind: b.kind,
            reasons: b.reasons,
            lines: b.budget.map(|b| b.lines),
            add: b.add,
            remove: b.remove,
            end_date: b.end_date,
        })
    })
    .await?;
    let location = format!("/api/v1/grants/{id}/variations/{}", v.id);
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, location))
        .json(VariationView::from(v)))
}

/// List a project's variations.
///
/// With its current version (budget lines, members, end date); each variation keeps the version
/// it started from and the one it made, so every version stays readable. For whoever may read
/// the grant.
#[utoipa::path(
    operation_id = "listVariations",
    tag = "variations",
    params(("grant_id" = Uuid, Path, description = "The grant's id")),
    responses(
        (status = 200, description = "The current version and the variations", body = VariationList),
        (status = 404, description = "No such grant that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/grants/{grant_id}/variations")]
pub async fn list_variations(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (current, items) =
        service::list(&state.db, &caller, state.now(), path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(VariationList {
        current,
        items: items.into_iter().map(VariationView::from).collect(),
    }))
}

/// Read a variation.
///
/// What the lead asked and why, the project's version it started from and the one it makes, and
/// where it stands (awaiting consent, pending, approved, rejected), for whoever may read the
/// grant.
#[utoipa::path(
    operation_id = "getVariation",
    tag = "variations",
    params(
        ("grant_id" = Uuid, Path, description = "The grant's id"),
        ("variation_id" = Uuid, Path, description = "The variation's id"),
    ),
    responses(
        (status = 200, description = "The variation", body = VariationView),
        (status = 404, description = "No such grant that the caller may see, or no such variation of it", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/grants/{grant_id}/variations/{variation_id}")]
pub async fn get_variation(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, variation_id) = path.into_inner();
    let v = service::read(&state.db, &caller, state.now(), id, variation_id).await?;
    Ok(HttpResponse::Ok().json(VariationView::from(v)))
}

/// `approved` or `rejected`.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VariationOutcome {
    Approved,
    Rejected,
}

/// The ATS's decision on a variation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"outcome": "rejected", "note": "La proroga non è motivata da eventi esterni."}))]
pub struct VariationDecision {
    pub outcome: VariationOutcome,
    /// Why: required to reject.
    #[schema(max_length = 4000)]
    pub note: Option<String>,
}

/// Decide on a variation.
///
/// By an evaluator of the project's ATS, once, for a pending variation of a live project. An
/// approved one is the project's new version at once (an extension moves the grant's
/// `end_date`, and so the report's deadline); a rejection needs a `note`. The lead is told.
#[utoipa::path(
    operation_id = "decideVariation",
    tag = "variations",
    params(
        ("grant_id" = Uuid, Path, description = "The grant's id"),
        ("variation_id" = Uuid, Path, description = "The variation's id"),
    ),
    request_body = VariationDecision,
    responses(
        (status = 200, description = "Decided", body = VariationView),
        (status = 403, description = "Not an evaluator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such grant of the caller's ATS, or no such variation of it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided, waiting for consent, or a project no longer live", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:variation_decided", "title": "Conflict", "status": 409, "code": "variation_decided",
                "detail": "The variation has already been decided; a variation is decided once."})),
        (status = 422, description = "A rejection without a note", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/grants/{grant_id}/variations/{variation_id}/decision")]
pub async fn decide_variation(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<VariationDecision>,
) -> Result<HttpResponse, ApiError> {
    let (id, variation_id) = path.into_inner();
    let v = service::decide(&state.db, &caller, state.now(), id, variation_id, || {
        let b = body.parse()?;
        Ok((matches!(b.outcome, VariationOutcome::Approved), b.note))
    })
    .await?;
    Ok(HttpResponse::Ok().json(VariationView::from(v)))
}

/// An added organization's answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"accept": true}))]
pub struct ConsentRequest {
    /// Whether the organization consents to join the project.
    pub accept: bool,
}

/// Consent to join a project.
///
/// By a representative of an organization that a partner change adds, while the change awaits
/// consent: accepted, it goes to the ATS for its decision; refused, it is rejected. To anybody
/// else the variation is not there.
#[utoipa::path(
    operation_id = "consentToVariation",
    tag = "variations",
    params(
        ("grant_id" = Uuid, Path, description = "The grant's id"),
        ("variation_id" = Uuid, Path, description = "The variation's id"),
    ),
    request_body = ConsentRequest,
    responses(
        (status = 200, description = "Answered", body = VariationView),
        (status = 403, description = "Not an applicant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such variation adding an organization the caller represents", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not awaiting consent, or a project no longer live", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/grants/{grant_id}/variations/{variation_id}/consent")]
pub async fn consent(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<ConsentRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, variation_id) = path.into_inner();
    let v = service::consent(&state.db, &caller, state.now(), id, variation_id, || {
        Ok(body.parse()?.accept)
    })
    .await?;
    Ok(HttpResponse::Ok().json(VariationView::from(v)))
}
