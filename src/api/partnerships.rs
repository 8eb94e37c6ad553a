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
use crate::domain::call::{Call, CallStatus, WindowState, check_text};
use crate::domain::organization::{Category, Subtype};
use crate::domain::partnership::{
    Access, EligibilityRule, MembershipStatus, ParticipationRole, check_eligibility, is_eligible,
    partnership_access,
};
use crate::domain::size::SizeClass;
use crate::domain::user::Role;
use crate::error::{ApiError, Problem};
use crate::startup::AppState;
use crate::store::calls::{self as calls_store, call_not_found};
use crate::store::organizations::{self as orgs_store, organization_not_found};
use crate::store::partnerships::{
    self as store, MemberChange, Partnership, already_member, partnership_not_found,
};

/// A new partnership for a published call, led by an organization the caller represents.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "name": "Rete Valtellina per la conciliazione", "lead_organization_id": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"}))]
pub struct NewPartnership {
    pub call_id: Uuid,
    pub name: String,
    pub lead_organization_id: Uuid,
}

/// A member to add: by organization id or by tax code (exactly one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tax_code": "01234560157", "role": "full_partner"}))]
pub struct NewMember {
    pub organization_id: Option<Uuid>,
    pub tax_code: Option<String>,
    /// `full_partner`, or `adhering_partner` for a public body.
    pub role: ParticipationRole,
}

/// A member of a partnership, or an organization invited to become one.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"organization_id": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", "legal_name": "Comune di Sondrio (demo)", "tax_code": "00000010143",
    "category": "public_body", "subtype": "municipality", "size_class": null, "role": "lead", "status": "accepted", "added_at": "2026-11-28T09:00:00Z", "answered_at": null}))]
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
    pub added_at: DateTime<Utc>,
    /// When the invitation was accepted or declined.
    pub answered_at: Option<DateTime<Utc>>,
}

/// A partnership and its members.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c", "call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65",
    "name": "Rete Valtellina per la conciliazione", "lead_organization_id": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", "can_manage": true,
    "members": [], "created_at": "2026-11-28T09:00:00Z", "updated_at": "2026-11-28T09:00:00Z"}))]
pub struct PartnershipView {
    pub id: Uuid,
    pub call_id: Uuid,
    pub name: String,
    pub lead_organization_id: Option<Uuid>,
    /// Whether the caller represents the lead (and so may change the partnership).
    pub can_manage: bool,
    pub members: Vec<MemberView>,
    pub created_at: DateTime<Utc>,
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

struct Visible {
    partnership: Partnership,
    access: Access,
}

async fn visible(state: &AppState, caller: &AuthUser, id: Uuid) -> Result<Visible, ApiError> {
    let partnership = store::get(&state.db, id)
        .await?
        .ok_or_else(partnership_not_found)?;
    let represented = orgs_store::represented_by(&state.db, caller.id).await?;
    let access = partnership_access(
        caller.role,
        &represented,
        partnership.lead(),
        &partnership.member_ids(),
    )
    .or_else(|| invitee_access(caller, &represented, &partnership))
    .ok_or_else(partnership_not_found)?;
    Ok(Visible {
        partnership,
        access,
    })
}

/// An invited organization's representatives read the partnership that invited it, to
/// decide: its members' names, not their data.
fn invitee_access(
    caller: &AuthUser,
    represented: &std::collections::BTreeSet<Uuid>,
    p: &Partnership,
) -> Option<Access> {
    (caller.role == Role::Applicant && !represented.is_disjoint(&p.invited_ids()))
        .then_some(Access::Read)
}

async fn managed(state: &AppState, caller: &AuthUser, id: Uuid) -> Result<Partnership, ApiError> {
    caller.require(&[Role::Applicant])?;
    let v = visible(state, caller, id).await?;
    if v.access != Access::Manage {
        // Members read it, but only the lead's representatives write: to the others it is not there.
        return Err(partnership_not_found());
    }
    Ok(v.partnership)
}

async fn view(
    state: &AppState,
    caller: &AuthUser,
    p: &Partnership,
    access: Access,
) -> Result<PartnershipView, ApiError> {
    let ids: Vec<Uuid> = p.members.iter().map(|m| m.organization_id).collect();
    let orgs = orgs_store::get_many(&state.db, &ids).await?;
    let represented = orgs_store::represented_by(&state.db, caller.id).await?;
    let members = p
        .members
        .iter()
        .filter_map(|m| {
            let o = orgs.iter().find(|o| o.id == m.organization_id)?;
            let privileged = caller.is_admin() || represented.contains(&o.id);
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
    Ok(PartnershipView {
        id: p.id,
        call_id: p.call_id,
        name: p.name.clone(),
        lead_organization_id: p.lead(),
        can_manage: access == Access::Manage,
        members,
        created_at: p.created_at,
        updated_at: p.updated_at,
    })
}

/// A partnership may be formed or changed only for a published call whose window has not
/// closed.
fn check_call_open(call: &Call, now: DateTime<Utc>) -> Result<(), ApiError> {
    if call.window.state(now) == WindowState::Closed {
        return Err(ApiError::invalid(
            "call_id",
            "call_closed",
            "The call's submission window has closed: its partnerships can no longer change.",
            "La finestra di presentazione dell'avviso è chiusa: i suoi partenariati non possono più cambiare.",
        ));
    }
    Ok(())
}

async fn open_call(state: &AppState, call_id: Uuid, now: DateTime<Utc>) -> Result<Call, ApiError> {
    let call = calls_store::get(&state.db, call_id)
        .await?
        .filter(|c| c.status == CallStatus::Published);
    let call = call.ok_or_else(|| {
        ApiError::invalid(
            "call_id",
            "call_not_found",
            "There is no published call with this id.",
            "Non esiste un avviso pubblicato con questo identificativo.",
        )
    })?;
    check_call_open(&call, now)?;
    Ok(call)
}

fn partnership_response(
    status: StatusCode,
    p: &Partnership,
    view: &PartnershipView,
) -> HttpResponse {
    with_etag(status, p.version, view)
}

/// Create a partnership for a published call whose window has not closed, led by an
/// organization the caller represents.
#[utoipa::path(
    tag = "partnerships",
    request_body = NewPartnership,
    responses(
        (status = 201, description = "Created with its lead", body = PartnershipView),
        (status = 403, description = "Only applicants form partnerships", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such published call, a closed call, a lead the caller does not represent, a blank name", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:validation_failed", "title": "Validation failed", "status": 422, "code": "validation_failed",
                "detail": "The request breaks 1 rule(s); see violations.",
                "violations": [{"field": "call_id", "code": "call_closed", "message": "The call's submission window has closed: its partnerships can no longer change."}]})),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/partnerships")]
pub async fn create_partnership(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: Json<NewPartnership>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Applicant])?;
    let body = body.parse()?;
    let now = state.now();
    let mut v = crate::domain::Violations::new();
    v.extend(check_text("name", &body.name, 300));
    let represented = orgs_store::represented_by(&state.db, caller.id).await?;
    if !represented.contains(&body.lead_organization_id) {
        v.add(
            "lead_organization_id",
            "not_represented",
            "The lead must be an organization you represent.",
            "Il capofila deve essere un ente che lei rappresenta.",
        );
    }
    if let Err(e) = open_call(&state, body.call_id, now).await {
        match e {
            ApiError::Validation(more) => v.extend(more),
            other => return Err(other),
        }
    }
    ApiError::check(v.into_vec())?;
    let p = store::create(
        &state.db,
        &caller.actor(),
        now,
        body.call_id,
        body.name.trim(),
        body.lead_organization_id,
    )
    .await?;
    let view = view(&state, &caller, &p, Access::Manage).await?;
    Ok(partnership_response(StatusCode::CREATED, &p, &view))
}

/// The partnerships the caller's organizations belong to (administrators: all).
#[utoipa::path(
    tag = "partnerships",
    params(PageParams, PartnershipQuery),
    responses(
        (status = 200, description = "A page of partnerships", body = PartnershipList),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/partnerships")]
pub async fn list_partnerships(
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<PartnershipQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let represented = orgs_store::represented_by(&state.db, caller.id).await?;
    let admin = caller.role == Role::Admin;
    let (members_of, inviting) = match (query.invited.unwrap_or(false), admin) {
        (false, true) => (None, None),
        (false, false) => (Some(&represented), None),
        (true, true) => (None, Some(None)),
        (true, false) => (None, Some(Some(&represented))),
    };
    let (items, total) = store::list(&state.db, members_of, inviting, query.call_id, page).await?;
    let mut views = Vec::with_capacity(items.len());
    for p in &items {
        let access = partnership_access(caller.role, &represented, p.lead(), &p.member_ids())
            .unwrap_or(Access::Read);
        views.push(view(&state, &caller, p, access).await?);
    }
    Ok(HttpResponse::Ok().json(PartnershipList {
        items: views,
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Read a partnership: its members' representatives and administrators may.
#[utoipa::path(
    tag = "partnerships",
    params(("partnership_id" = Uuid, Path, description = "The partnership's id")),
    responses(
        (status = 200, description = "The partnership", body = PartnershipView),
        (status = 404, description = "No such partnership that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/partnerships/{partnership_id}")]
pub async fn get_partnership(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let v = visible(&state, &caller, path.into_inner()).await?;
    let body = view(&state, &caller, &v.partnership, v.access).await?;
    Ok(partnership_response(StatusCode::OK, &v.partnership, &body))
}

/// Delete a partnership (its lead's representatives, while the call is open).
#[utoipa::path(
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
    security(("bearer" = []), ("oauth2" = []))
)]
#[delete("/partnerships/{partnership_id}")]
pub async fn delete_partnership(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let p = managed(&state, &caller, path.into_inner()).await?;
    let now = state.now();
    let call = calls_store::get(&state.db, p.call_id)
        .await?
        .ok_or_else(call_not_found)?;
    store::delete(&state.db, &caller.actor(), now, p.id, |_| {
        check_call_open(&call, now)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Add a member, by organization id or tax code (the lead's representatives). An
/// organization that the caller represents joins at once; any other is **invited**: it is
/// listed with `status: pending`, counts for no rule and sees nothing of its partners (nor
/// they of it) until one of its representatives accepts (`.../accept`).
#[utoipa::path(
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
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/partnerships/{partnership_id}/members")]
pub async fn add_member(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<NewMember>,
) -> Result<HttpResponse, ApiError> {
    let p = managed(&state, &caller, path.into_inner()).await?;
    let body = body.parse()?;
    let now = state.now();
    let mut v = crate::domain::Violations::new();
    let org = match (&body.organization_id, &body.tax_code) {
        (Some(id), None) => orgs_store::get(&state.db, *id).await?,
        (None, Some(tc)) => {
            orgs_store::get_by_tax_code(&state.db, &tc.trim().to_uppercase()).await?
        }
        _ => {
            v.add(
                "organization_id",
                "one_of_id_or_tax_code",
                "Give exactly one of organization_id and tax_code.",
                "Indicare esattamente uno tra organization_id e tax_code.",
            );
            None
        }
    };
    if org.is_none() && v.is_empty() {
        let field = if body.organization_id.is_some() {
            "organization_id"
        } else {
            "tax_code"
        };
        v.add(
            field,
            "unknown_organization",
            "No organization of the registry has this identifier: it must be registered first.",
            "Nessun ente del registro ha questo identificativo: deve prima essere registrato.",
        );
    }
    match body.role {
        ParticipationRole::Lead => v.add(
            "role",
            "one_lead",
            "A partnership has exactly one lead, set when it is created.",
            "Un partenariato ha esattamente un capofila, indicato alla creazione.",
        ),
        ParticipationRole::AdheringPartner
            if org
                .as_ref()
                .is_some_and(|o| o.facts.category() != Category::PublicBody) =>
        {
            v.add(
                "role",
                "adhering_partner_not_public",
                "Only a public body may join as an adhering partner.",
                "Solo un ente pubblico può partecipare come partner aderente.",
            )
        }
        _ => {}
    }
    if org
        .as_ref()
        .is_some_and(|o| o.facts.subtype == Subtype::HealthProtectionAgency)
    {
        v.add(
            "organization_id",
            "ats_not_allowed",
            "An ATS manages the call: it can never be a partner.",
            "Un'ATS gestisce l'avviso: non può mai essere partner.",
        );
    }
    let call = calls_store::get(&state.db, p.call_id)
        .await?
        .ok_or_else(call_not_found)?;
    if let Err(ApiError::Validation(more)) = check_call_open(&call, now) {
        v.extend(more);
    }
    ApiError::check(v.into_vec())?;
    let org = org.ok_or_else(organization_not_found)?;
    let role = body.role;
    // Joining commits the organization: without one of its representatives, only an
    // invitation.
    let status = if orgs_store::represented_by(&state.db, caller.id)
        .await?
        .contains(&org.id)
    {
        MembershipStatus::Accepted
    } else {
        MembershipStatus::Pending
    };
    let p = store::change_members(&state.db, &caller.actor(), now, p.id, |current| {
        if current.member(org.id).is_some() {
            return Err(already_member());
        }
        Ok(MemberChange::Add {
            organization_id: org.id,
            role,
            status,
        })
    })
    .await?;
    let body = view(&state, &caller, &p, Access::Manage).await?;
    Ok(partnership_response(StatusCode::CREATED, &p, &body))
}

/// Remove a member, or an invited organization (pending or declined), by the lead's
/// representatives; the lead itself cannot be removed. The removed organization's
/// representatives are told in their inbox.
#[utoipa::path(
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
    security(("bearer" = []), ("oauth2" = []))
)]
#[delete("/partnerships/{partnership_id}/members/{organization_id}")]
pub async fn remove_member(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, org_id) = path.into_inner();
    let p = managed(&state, &caller, pid).await?;
    let now = state.now();
    let call = calls_store::get(&state.db, p.call_id)
        .await?
        .ok_or_else(call_not_found)?;
    check_call_open(&call, now)?;
    let p = store::change_members(
        &state.db,
        &caller.actor(),
        now,
        p.id,
        |current| match current.members.iter().find(|m| m.organization_id == org_id) {
            None => Err(ApiError::not_found(
                "member_not_found",
                "This organization is not a member of the partnership.",
                "Questo ente non è membro del partenariato.",
            )),
            Some(m) if m.role == ParticipationRole::Lead => Err(ApiError::invalid(
                "organization_id",
                "cannot_remove_lead",
                "The lead cannot be removed: delete the partnership instead.",
                "Il capofila non può essere rimosso: eliminare invece il partenariato.",
            )),
            Some(_) => Ok(MemberChange::Remove {
                organization_id: org_id,
            }),
        },
    )
    .await?;
    let body = view(&state, &caller, &p, Access::Manage).await?;
    Ok(partnership_response(StatusCode::OK, &p, &body))
}

fn invitation_not_found() -> ApiError {
    ApiError::not_found(
        "invitation_not_found",
        "There is no invitation of an organization you represent in this partnership.",
        "Non esiste un invito di un ente da lei rappresentato in questo partenariato.",
    )
}

/// Accept or decline, for an organization the caller represents, the partnership's invitation.
async fn answer(
    state: &AppState,
    caller: &AuthUser,
    pid: Uuid,
    org_id: Uuid,
    accept: bool,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Applicant])?;
    let represented = orgs_store::represented_by(&state.db, caller.id).await?;
    if !represented.contains(&org_id) {
        return Err(invitation_not_found());
    }
    let p = store::get(&state.db, pid)
        .await?
        .filter(|p| p.member(org_id).is_some())
        .ok_or_else(invitation_not_found)?;
    let now = state.now();
    let call = calls_store::get(&state.db, p.call_id)
        .await?
        .ok_or_else(call_not_found)?;
    check_call_open(&call, now)?;
    let p = store::change_members(&state.db, &caller.actor(), now, p.id, |current| {
        match current.member(org_id).map(|m| m.status) {
            None => Err(invitation_not_found()),
            Some(MembershipStatus::Pending) => Ok(MemberChange::Answer {
                organization_id: org_id,
                accept,
            }),
            Some(MembershipStatus::Accepted) => Err(ApiError::conflict(
                "invitation_already_answered",
                "The organization has already accepted: it is a member. To leave, ask the lead to remove it.",
                "L'ente ha già accettato: è membro. Per uscire, chiedere al capofila di rimuoverlo.",
            )),
            Some(MembershipStatus::Declined) => Err(ApiError::conflict(
                "invitation_already_answered",
                "The organization has already declined this invitation: the lead may invite it again after removing it.",
                "L'ente ha già rifiutato questo invito: il capofila può invitarlo di nuovo dopo averlo rimosso.",
            )),
        }
    })
    .await?;
    let access = partnership_access(caller.role, &represented, p.lead(), &p.member_ids())
        .or_else(|| invitee_access(caller, &represented, &p))
        .unwrap_or(Access::Read);
    let body = view(state, caller, &p, access).await?;
    Ok(partnership_response(StatusCode::OK, &p, &body))
}

/// Accept the partnership's invitation, for an organization the caller represents: it
/// becomes a member, counts for the composition rules, and its partners read its data (and it
/// theirs).
#[utoipa::path(
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
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/partnerships/{partnership_id}/members/{organization_id}/accept")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, org_id) = path.into_inner();
    answer(&state, &caller, pid, org_id, true).await
}

/// Decline the partnership's invitation, for an organization the caller represents: it stays
/// listed as declined, counting for nothing, until the lead removes it.
#[utoipa::path(
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
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/partnerships/{partnership_id}/members/{organization_id}/decline")]
pub async fn decline_invitation(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (pid, org_id) = path.into_inner();
    answer(&state, &caller, pid, org_id, false).await
}

/// Every composition rule of the call, passed or failed, with its reason in English and
/// Italian and the members that break it.
#[utoipa::path(
    tag = "partnerships",
    params(("partnership_id" = Uuid, Path, description = "The partnership's id")),
    responses(
        (status = 200, description = "The eligibility report (here: a failing one)", body = EligibilityView),
        (status = 404, description = "No such partnership that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/partnerships/{partnership_id}/eligibility")]
pub async fn eligibility(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let v = visible(&state, &caller, path.into_inner()).await?;
    let p = v.partnership;
    let call = calls_store::get(&state.db, p.call_id)
        .await?
        .ok_or_else(call_not_found)?;
    let members: Vec<_> = store::members_for_rules(&state.db, &p)
        .await?
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    let outcomes = check_eligibility(&call.rules.partnership, &members);
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
