//! Partnerships for a call: create, read, add and remove members, delete, and the
//! eligibility report that explains every composition rule.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::Json;
use super::{PageParams, with_etag};
use crate::auth::AuthUser;
use crate::domain::organization::{Category, Subtype};
use crate::domain::partnership::{
    Access, EligibilityRule, MembershipStatus, ParticipationRole, is_eligible,
};
use crate::domain::size::SizeClass;
use crate::error::{ApiError, Problem};
use crate::service::partnerships::{self as service, Seen};
use crate::state::AppState;

/// A new partnership for a published call, led by an organization the caller represents.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "name": "Rete Valtellina per la conciliazione", "lead_organization_id": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"}))]
pub struct NewPartnership {
    /// A published call whose window is open: an `id` from `GET /api/v1/calls`.
    pub call_id: Uuid,
    #[schema(max_length = 300)]
    pub name: String,
    /// An organization the caller represents: an `id` from `GET /api/v1/organizations`.
    pub lead_organization_id: Uuid,
}

/// A member to add: by organization id or by tax code (exactly one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tax_code": "01234560157", "role": "full_partner"}))]
pub struct NewMember {
    /// A registered organization: an `id` from `GET /api/v1/organizations` (or give its
    /// `tax_code` instead).
    pub organization_id: Option<Uuid>,
    pub tax_code: Option<String>,
    /// `full_partner`, or `adhering_partner` for a public body.
    pub role: ParticipationRole,
}

/// A member of a partnership, or an organization invited to become one.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"organization_id": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", "legal_name": "Comune di Sondrio (demo)", "tax_code": "00000010143",
    "category": "public_body", "subtype": "municipality", "size_class": null, "role": "lead", "status": "accepted", "added_at": "2026-11-28T09:00:00.000000Z", "answered_at": null}))]
pub struct MemberView {
    pub organization_id: Uuid,
    pub legal_name: String,
    /// Masked when it is a personal tax code and the caller does not represent the member.
    pub tax_code: String,
    /// Null for an invited organization that has not accepted, unless the caller represents it.
    pub category: Option<Category>,
    /// Null for an invited organization that has not accepted, unless the caller represents it.
    pub subtype: Option<Subtype>,
    pub size_class: Option<SizeClass>,
    pub role: ParticipationRole,
    /// `accepted`: a member. `pending`: invited, it counts for no rule and reads nothing of
    /// its partners until one of its representatives accepts. `declined`: the lead removes it.
    pub status: MembershipStatus,
    #[serde(with = "crate::domain::timestamp")]
    pub added_at: DateTime<Utc>,
    /// When the invitation was accepted or declined.
    #[serde(with = "crate::domain::timestamp::option")]
    pub answered_at: Option<DateTime<Utc>>,
}

/// A partnership and its members.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c", "call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65",
    "name": "Rete Valtellina per la conciliazione", "lead_organization_id": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", "can_manage": true,
    "members": [], "created_at": "2026-11-28T09:00:00.000000Z", "updated_at": "2026-11-28T09:00:00.000000Z"}))]
pub struct PartnershipView {
    pub id: Uuid,
    pub call_id: Uuid,
    pub name: String,
    pub lead_organization_id: Option<Uuid>,
    /// Whether the caller represents the lead (and so may change the partnership).
    pub can_manage: bool,
    pub members: Vec<MemberView>,
    #[serde(with = "crate::domain::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// A page of partnerships.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"items": [], "total": 0, "page": 1, "per_page": 20}))]
pub struct PartnershipList {
    pub items: Vec<PartnershipView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// Filters of the partnership list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PartnershipQuery {
    pub call_id: Option<Uuid>,
    /// `true`: instead of the partnerships the caller's organizations belong to, those that
    /// invited one of them and wait for its answer (or that it declined). Administrators: the
    /// partnerships with any invitation not accepted.
    pub invited: Option<bool>,
}

/// One composition rule, passed or failed, with its reason.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"rule": "min_micro_small_enterprises", "passed": false,
    "reason_en": "The partnership has 1 micro or small enterprise(s) with an operating office in Lombardy (their employees are the beneficiaries); at least 2 are required.",
    "reason_it": "Il partenariato ha 1 micro o piccole imprese con sede operativa in Lombardia (i cui dipendenti sono i destinatari); ne servono almeno 2.",
    "organizations": []}))]
pub struct RuleView {
    pub rule: EligibilityRule,
    pub passed: bool,
    pub reason_en: String,
    pub reason_it: String,
    /// The members that break the rule, when it concerns particular members.
    pub organizations: Vec<Uuid>,
}

/// Whether a partnership may apply to its call, rule by rule.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "partnership_id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c", "call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "eligible": false,
    "rules": [
        {"rule": "min_members", "passed": true, "reason_en": "The partnership has 4 counted member(s) (adhering partners count); at least 4 are required.",
         "reason_it": "Il partenariato ha 4 membri conteggiati (i partner aderenti contano); ne servono almeno 4.", "organizations": []},
        {"rule": "min_public_bodies", "passed": true, "reason_en": "The partnership has 1 public body(ies), adhering ones included; at least 1 are required.",
         "reason_it": "Il partenariato ha 1 enti pubblici, aderenti compresi; ne servono almeno 1.", "organizations": []},
        {"rule": "min_micro_small_enterprises", "passed": false,
         "reason_en": "The partnership has 1 micro or small enterprise(s) with an operating office in Lombardy (their employees are the beneficiaries); at least 2 are required.",
         "reason_it": "Il partenariato ha 1 micro o piccole imprese con sede operativa in Lombardia (i cui dipendenti sono i destinatari); ne servono almeno 2.", "organizations": []},
        {"rule": "allowed_categories", "passed": false,
         "reason_en": "These members belong to a category the call does not admit: Beta Industrie S.p.A. (medium or large enterprise).",
         "reason_it": "Questi membri appartengono a una categoria non ammessa dall'avviso: Beta Industrie S.p.A. (medium or large enterprise).",
         "organizations": ["9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"]},
        {"rule": "lead_seat", "passed": true, "reason_en": "The lead partner has its registered office and an operating office in Lombardy.",
         "reason_it": "Il capofila ha sede legale e una sede operativa in Lombardia.", "organizations": []}
    ]}))]
pub struct EligibilityView {
    pub partnership_id: Uuid,
    pub call_id: Uuid,
    /// True when every rule passed.
    pub eligible: bool,
    pub rules: Vec<RuleView>,
}

/// The view of a partnership as the caller sees it.
fn view(caller: &AuthUser, seen: &Seen) -> PartnershipView {
    let p = &seen.partnership;
    let members = p
        .members
        .iter()
        .filter_map(|m| {
            let o = seen
                .organizations
                .iter()
                .find(|o| o.id == m.organization_id)?;
            let privileged = caller.is_admin() || seen.represented.contains(&o.id);
            // Until it accepts, an invited organization shows its partners its name and
            // (masked) tax code only.
            let shown = privileged || m.status == MembershipStatus::Accepted;
            Some(MemberView {
                organization_id: o.id,
                legal_name: o.facts.legal_name.clone(),
                tax_code: if privileged {
                    o.facts.tax_code.as_str().to_owned()
                } else {
                    o.facts.tax_code.masked()
                },
                category: shown.then(|| o.facts.category()),
                subtype: shown.then_some(o.facts.subtype),
                size_class: if shown { o.facts.size_class() } else { None },
                role: m.role,
                status: m.status,
                added_at: m.added_at,
                answered_at: m.answered_at,
            })
        })
        .collect();
    PartnershipView {
        id: p.id,
        call_id: p.call_id,
        name: p.name.clone(),
        lead_organization_id: p.lead(),
        can_manage: seen.access == Access::Manage,
        members,
        created_at: p.created_at,
        updated_at: p.updated_at,
    }
}

fn partnership_response(caller: &AuthUser, status: StatusCode, seen: &Seen) -> HttpResponse {
    with_etag(status, seen.partnership.version, &view(caller, seen))
}

/// Create a partnership for a call.
///
/// For a published call whose window has not closed, led by an organization the caller represents.
/// Then add members (`POST .../members`) until the call's composition rules are met (`GET
/// .../eligibility`).
#[utoipa::path(
    operation_id = "createPartnership",
    tag = "partnerships",
    request_body = NewPartnership,
    responses(
        (status = 201, description = "Created with its lead", body = PartnershipView, headers(("Location" = String, description = "The new resource's path"), ("ETag" = String, description = "Its version, for If-Match"))),
        (status = 403, description = "Only applicants form partnerships", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such published call, a closed call, a lead the caller does not represent, a blank name", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:validation_failed", "title": "Validation failed", "status": 422, "code": "validation_failed",
                "detail": "The request breaks 1 rule(s); see violations.",
                "violations": [{"field": "call_id", "code": "call_closed", "message": "The call's submission window has closed: its partnerships can no longer change."}]})),
    ),
    security(("bearer" = []))
)]
#[post("/partnerships")]
pub async fn create_partnership(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: Json<NewPartnership>,
) -> Result<HttpResponse, ApiError> {
    let seen = service::create(&state.db, &caller, state.now(), || {
        let body = body.parse()?;
        Ok(service::NewPartnership {
            call_id: body.call_id,
            name: body.name,
            lead: body.lead_organization_id,
        })
    })
    .await?;
    Ok(super::created(
        format!("/api/v1/partnerships/{}", seen.partnership.id),
        seen.partnership.version,
        &view(&caller, &seen),
    ))
}

/// List the caller's partnerships.
///
/// The partnerships the caller's organizations belong to; administrators see all. Paged.
#[utoipa::path(
    operation_id = "listPartnerships",
    tag = "partnerships",
    params(PageParams, PartnershipQuery),
    responses(
        (status = 200, description = "A page of partnerships", body = PartnershipList),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/partnerships")]
pub async fn list_partnerships(
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<PartnershipQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let (items, total) = service::list(
        &state.db,
        &caller,
        query.call_id,
        query.invited.unwrap_or(false),
        page,
    )
    .await?;
    Ok(HttpResponse::Ok().json(PartnershipList {
        items: items.iter().map(|seen| view(&caller, seen)).collect(),
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Read a partnership.
///
/// Its call, its lead, its members and invitations with their status. Visible to its members'
/// representatives and to administrators; an invited organization sees its partners only once it
/// accepts.
#[utoipa::path(
    operation_id = "getPartnership",
    tag = "partnerships",
    params(("partnership_id" = Uuid, Path, description = "The partnership's id")),
    responses(
        (status = 200, description = "The partnership", body = PartnershipView),
        (status = 404, description = "No such partnership that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/partnerships/{partnership_id}")]
pub async fn get_partnership(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let seen = service::read(&state.db, &caller, path.into_inner()).await?;
    Ok(partnership_response(&caller, StatusCode::OK, &seen))
}

/// Delete a partnership.
///
/// By its lead's representatives, while the call is open and the partnership has no application
/// (delete the draft first).
#[utoipa::path(
    operation_id = "deletePartnership",
    tag = "partnerships",
    params(("partnership_id" = Uuid, Path, description = "The partnership's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Only applicants delete partnerships", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such partnership that the caller leads", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The partnership has an application: delete the draft first", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:partnership_has_application", "title": "Conflict", "status": 409, "code": "partnership_has_application",
                "detail": "The partnership has an application: delete the draft first (a submitted one can only be withdrawn)."})),
        (status = 422, description = "The call has closed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/partnerships/{partnership_id}")]
pub async fn delete_partnership(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    service::delete(&state.db, &caller, state.now(), path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Add a member to a partnership, or invite one.
///
/// By organization id or tax code, by the lead's representatives. An organization that the caller
/// represents joins at once; any other is **invited**: it is listed with `status: pending`, counts
/// for no rule and sees nothing of its partners (nor they of it) until one of its representatives
/// accepts (`.../accept`).
#[utoipa::path(
    operation_id = "addPartnershipMember",
    tag = "partnerships",
    params(("partnership_id" = Uuid, Path, description = "The partnership's id")),
    request_body = NewMember,
    responses(
        (status = 201, description = "Added, or invited; the partnership now", body = PartnershipView),
        (status = 403, description = "Only applicants change partnerships", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such partnership that the caller leads", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member or invited, or the partnership's application has been submitted", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:member_already_present", "title": "Conflict", "status": 409, "code": "member_already_present",
                "detail": "This organization is already a member of the partnership, or invited to be."})),
        (status = 422, description = "Unknown organization, both or neither of id and tax code, a lead role, an adhering partner that is no public body, an ATS, a closed call", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/partnerships/{partnership_id}/members")]
pub async fn add_member(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<NewMember>,
) -> Result<HttpResponse, ApiError> {
    let seen = service::add_member(&state.db, &caller, state.now(), path.into_inner(), || {
        let body = body.parse()?;
        let who = match (body.organization_id, body.tax_code) {
            (Some(id), None) => service::NewMember::Id(id),
            (None, Some(tc)) => service::NewMember::TaxCode(tc),
            _ => service::NewMember::Ambiguous,
        };
        Ok((who, body.role))
    })
    .await?;
    Ok(partnership_response(&caller, StatusCode::CREATED, &seen))
}

/// Remove a member from a partnership.
///
/// A member, or an invited organization (pending or declined), by the lead's representatives, until
/// the application is submitted; the lead itself cannot be removed. The removed organization's
/// representatives are told in their inbox.
#[utoipa::path(
    operation_id = "removePartnershipMember",
    tag = "partnerships",
    params(
        ("partnership_id" = Uuid, Path, description = "The partnership's id"),
        ("organization_id" = Uuid, Path, description = "The member to remove"),
    ),
    responses(
        (status = 200, description = "Removed; the partnership now", body = PartnershipView),
        (status = 403, description = "Only applicants change partnerships", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such partnership that the caller leads, or no such member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The partnership's application has been submitted: its members no longer change", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:partnership_frozen", "title": "Conflict", "status": 409, "code": "partnership_frozen",
                "detail": "The partnership's application has been submitted: its members can no longer change."})),
        (status = 422, description = "The lead cannot be removed; the call has closed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/partnerships/{partnership_id}/members/{organization_id}")]
pub async fn remove_member(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, org_id) = path.into_inner();
    let seen = service::remove_member(&state.db, &caller, state.now(), pid, org_id).await?;
    Ok(partnership_response(&caller, StatusCode::OK, &seen))
}

/// Accept a partnership's invitation.
///
/// For an organization the caller represents: it becomes a member, counts for the composition
/// rules, and its partners read its data (and it theirs).
#[utoipa::path(
    operation_id = "acceptPartnershipInvitation",
    tag = "partnerships",
    params(
        ("partnership_id" = Uuid, Path, description = "The partnership's id"),
        ("organization_id" = Uuid, Path, description = "The invited organization, which the caller represents"),
    ),
    responses(
        (status = 200, description = "Accepted; the partnership now", body = PartnershipView),
        (status = 403, description = "Only applicants answer invitations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No invitation of an organization the caller represents in this partnership", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:invitation_not_found", "title": "Not found", "status": 404, "code": "invitation_not_found",
                "detail": "There is no invitation of an organization you represent in this partnership."})),
        (status = 409, description = "Already answered, or the partnership's application has been submitted", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:invitation_already_answered", "title": "Conflict", "status": 409, "code": "invitation_already_answered",
                "detail": "The organization has already accepted: it is a member. To leave, ask the lead to remove it."})),
        (status = 422, description = "The call's window has closed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/partnerships/{partnership_id}/members/{organization_id}/accept")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, org_id) = path.into_inner();
    let seen = service::answer(&state.db, &caller, state.now(), pid, org_id, true).await?;
    Ok(partnership_response(&caller, StatusCode::OK, &seen))
}

/// Decline a partnership's invitation.
///
/// For an organization the caller represents: it stays listed as declined, counting for nothing,
/// until the lead removes it.
#[utoipa::path(
    operation_id = "declinePartnershipInvitation",
    tag = "partnerships",
    params(
        ("partnership_id" = Uuid, Path, description = "The partnership's id"),
        ("organization_id" = Uuid, Path, description = "The invited organization, which the caller represents"),
    ),
    responses(
        (status = 200, description = "Declined; the partnership now", body = PartnershipView),
        (status = 403, description = "Only applicants answer invitations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No invitation of an organization the caller represents in this partnership", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already answered, or the partnership's application has been submitted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The call's window has closed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/partnerships/{partnership_id}/members/{organization_id}/decline")]
pub async fn decline_invitation(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, org_id) = path.into_inner();
    let seen = service::answer(&state.db, &caller, state.now(), pid, org_id, false).await?;
    Ok(partnership_response(&caller, StatusCode::OK, &seen))
}

/// Check a partnership against its call's composition rules.
///
/// Every composition rule of the call, passed or failed, with its reason in English and Italian and
/// the members that break it. An application is submitted only when every rule passes.
#[utoipa::path(
    operation_id = "getPartnershipEligibility",
    tag = "partnerships",
    params(("partnership_id" = Uuid, Path, description = "The partnership's id")),
    responses(
        (status = 200, description = "The eligibility report (here: a failing one)", body = EligibilityView),
        (status = 404, description = "No such partnership that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/partnerships/{partnership_id}/eligibility")]
pub async fn eligibility(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (p, outcomes) = service::eligibility(&state.db, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(EligibilityView {
        partnership_id: p.id,
        call_id: p.call_id,
        eligible: is_eligible(&outcomes),
        rules: outcomes
            .into_iter()
            .map(|o| RuleView {
                rule: o.rule,
                passed: o.passed,
                reason_en: o.reason.en.into_owned(),
                reason_it: o.reason.it.into_owned(),
                organizations: o.organizations,
            })
            .collect(),
    }))
}
