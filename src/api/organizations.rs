//! The shared registry of organizations: register, read, change, add representatives.

use std::str::FromStr;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, Datelike, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, decode_json};
use super::{PageParams, if_match, merge_patch, with_etag};
use crate::auth::AuthUser;
use crate::domain::ErrorCode;
use crate::domain::Violation;
use crate::domain::call::OrganizationCategory;
use crate::domain::money::Money;
use crate::domain::organization::{
    Category, LegalRepresentativeDraft, OrganizationDraft, OrganizationFacts, SeatDraft, SeatKind,
    Subtype, check_organization,
};
use crate::domain::size::SizeClass;
use crate::error::{ApiError, Problem};
use crate::service::organizations::{self as service, Organization, Representative, Seen};
use crate::state::AppState;

/// An office as declared.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "registered", "address": "Piazza Campello 1", "municipality": "Sondrio", "province": "SO"}))]
pub struct SeatInput {
    pub kind: SeatKind,
    #[schema(max_length = 300)]
    pub address: String,
    #[schema(max_length = 100)]
    pub municipality: String,
    /// Province code (sigla), e.g. `SO`; Lombardy's are BG, BS, CO, CR, LC, LO, MB, MI, MN, PV, SO, VA.
    pub province: String,
}

/// The person who legally represents an organization (legale rappresentante), whose signature
/// a call may require on the annexes that concern it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"full_name": "Mario Rossi", "tax_code": "RSSMRA85T10A562S"}))]
pub struct LegalRepresentativeInput {
    #[schema(max_length = 200)]
    pub full_name: String,
    /// A person's codice fiscale (16 characters, its check character checked): what the
    /// `serialNumber` (`TINIT-...`) of their signature certificate carries.
    pub tax_code: String,
}

/// An organization as its representative declares it. The size class of an enterprise is
/// computed from staff, turnover and balance-sheet total, never declared.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "tax_code": "01234560157", "vat_number": "01234560157", "legal_name": "Alfa Servizi S.r.l.",
    "category": "enterprise", "subtype": "company", "chamber_registration": "SO-123456",
    "seats": [{"kind": "registered", "address": "Via Trieste 10", "municipality": "Sondrio", "province": "SO"},
              {"kind": "operating", "address": "Via Trieste 10", "municipality": "Sondrio", "province": "SO"}],
    "staff": "7.50", "turnover": "850000.00", "balance_sheet_total": null, "reference_year": 2025,
    "legal_representative": {"full_name": "Mario Rossi", "tax_code": "RSSMRA85T10A562S"}
}))]
pub struct OrganizationInput {
    /// Codice fiscale: 11 digits for legal entities, 16 characters for sole traders.
    pub tax_code: String,
    /// Partita IVA, 11 digits; required for enterprises.
    pub vat_number: Option<String>,
    #[schema(max_length = 300)]
    pub legal_name: String,
    pub category: Category,
    pub subtype: Subtype,
    /// Enterprises: the REA number as PROVINCE-NUMBER, e.g. `SO-123456`.
    pub chamber_registration: Option<String>,
    pub seats: Vec<SeatInput>,
    /// Enterprises: staff in annual work units, a decimal string such as `"7.50"`.
    pub staff: Option<String>,
    /// Enterprises: annual turnover (at least one of turnover and balance-sheet total).
    pub turnover: Option<Money>,
    /// Enterprises: balance-sheet total.
    pub balance_sheet_total: Option<Money>,
    /// Enterprises: the year the figures refer to.
    pub reference_year: Option<i32>,
    /// Who signs for it; a call may require their signature on its annexes.
    #[serde(default)]
    pub legal_representative: Option<LegalRepresentativeInput>,
}

impl OrganizationInput {
    fn draft(&self) -> Result<OrganizationDraft, Vec<Violation>> {
        let staff = match &self.staff {
            None => None,
            Some(s) => Some(
                Decimal::from_str(s.trim())
                    .map_err(|_| vec![Violation::new("staff", ErrorCode::InvalidDecimal)])?,
            ),
        };
        Ok(OrganizationDraft {
            tax_code: self.tax_code.clone(),
            vat_number: self.vat_number.clone(),
            legal_name: self.legal_name.clone(),
            category: Some(self.category),
            subtype: Some(self.subtype),
            chamber_registration: self.chamber_registration.clone(),
            seats: self
                .seats
                .iter()
                .map(|s| SeatDraft {
                    kind: Some(s.kind),
                    address: s.address.clone(),
                    municipality: s.municipality.clone(),
                    province: s.province.clone(),
                })
                .collect(),
            staff,
            turnover: self.turnover,
            balance_sheet_total: self.balance_sheet_total,
            reference_year: self.reference_year,
            legal_representative: self.legal_representative.as_ref().map(|r| {
                LegalRepresentativeDraft {
                    full_name: r.full_name.clone(),
                    tax_code: r.tax_code.clone(),
                }
            }),
        })
    }

    fn of(f: &OrganizationFacts) -> OrganizationInput {
        OrganizationInput {
            tax_code: f.tax_code.as_str().to_owned(),
            vat_number: f.vat_number.as_ref().map(|v| v.as_str().to_owned()),
            legal_name: f.legal_name.clone(),
            category: f.category(),
            subtype: f.subtype,
            chamber_registration: f.chamber_registration.clone(),
            seats: f
                .seats
                .iter()
                .map(|s| SeatInput {
                    kind: s.kind,
                    address: s.address.clone(),
                    municipality: s.municipality.clone(),
                    province: s.province.as_str().to_owned(),
                })
                .collect(),
            staff: f.figures.as_ref().map(|x| x.staff.to_string()),
            turnover: f.figures.as_ref().and_then(|x| x.turnover),
            balance_sheet_total: f.figures.as_ref().and_then(|x| x.balance_sheet_total),
            reference_year: f.reference_year,
            legal_representative: f.legal_representative.as_ref().map(|r| {
                LegalRepresentativeInput {
                    full_name: r.full_name.clone(),
                    tax_code: r.tax_code.as_str().to_owned(),
                }
            }),
        }
    }

    fn facts(&self, current_year: i32) -> Result<OrganizationFacts, ApiError> {
        let draft = self.draft().map_err(ApiError::Validation)?;
        check_organization(&draft, current_year).map_err(ApiError::Validation)
    }
}

/// A representative, as other representatives and administrators see them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"user_id": "0b6f4d1e-3c9a-4a57-9a51-6c1f0e2d8b11", "username": "richiedente1@demo.welfare-grants.test", "full_name": "Richiedente Uno (demo)"}))]
pub struct RepresentativeView {
    pub user_id: Uuid,
    pub username: String,
    pub full_name: String,
}

/// An organization of the registry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", "tax_code": "01234560157", "vat_number": "01234560157",
    "legal_name": "Alfa Servizi S.r.l.", "category": "enterprise", "subtype": "company", "chamber_registration": "SO-123456",
    "seats": [{"kind": "registered", "address": "Via Trieste 10", "municipality": "Sondrio", "province": "SO"}],
    "staff": "7.50", "turnover": "850000.00", "balance_sheet_total": null, "reference_year": 2025,
    "size_class": "micro", "call_category": "micro_small_enterprise",
    "legal_representative": {"full_name": "Mario Rossi", "tax_code": "RSS************S"},
    "representatives": [{"user_id": "0b6f4d1e-3c9a-4a57-9a51-6c1f0e2d8b11", "username": "richiedente1@demo.welfare-grants.test", "full_name": "Richiedente Uno (demo)"}],
    "created_at": "2026-11-28T09:00:00.000000Z", "updated_at": "2026-11-28T09:00:00.000000Z"
}))]
pub struct OrganizationView {
    pub id: Uuid,
    /// A personal (16-character) tax code is masked for everyone but the representatives and
    /// the administrators.
    pub tax_code: String,
    pub vat_number: Option<String>,
    pub legal_name: String,
    pub category: Category,
    pub subtype: Subtype,
    pub chamber_registration: Option<String>,
    pub seats: Vec<SeatInput>,
    pub staff: Option<String>,
    pub turnover: Option<Money>,
    pub balance_sheet_total: Option<Money>,
    pub reference_year: Option<i32>,
    /// Computed from the figures (EU Recommendation 2003/361); null for bodies that are not
    /// enterprises.
    pub size_class: Option<SizeClass>,
    /// The category a call's rules count it in; null for a medium or large enterprise, which
    /// no call admits.
    pub call_category: Option<OrganizationCategory>,
    /// Who signs for it; `null` until its representatives name them. Their tax code is masked
    /// for everyone but the representatives and the administrators.
    pub legal_representative: Option<LegalRepresentativeInput>,
    /// Only for its representatives and the administrators.
    pub representatives: Option<Vec<RepresentativeView>>,
    #[serde(with = "crate::domain::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// Build the view of an organization for a caller with the given access.
pub fn organization_view(
    o: &Organization,
    privileged: bool,
    representatives: Option<Vec<RepresentativeView>>,
) -> OrganizationView {
    let input = OrganizationInput::of(&o.facts);
    OrganizationView {
        id: o.id,
        tax_code: if privileged {
            o.facts.tax_code.as_str().to_owned()
        } else {
            o.facts.tax_code.masked()
        },
        vat_number: input.vat_number,
        legal_name: input.legal_name,
        category: input.category,
        subtype: input.subtype,
        chamber_registration: input.chamber_registration,
        seats: input.seats,
        staff: input.staff,
        turnover: input.turnover,
        balance_sheet_total: input.balance_sheet_total,
        reference_year: input.reference_year,
        size_class: o.facts.size_class(),
        call_category: o.facts.call_category(),
        legal_representative: o.facts.legal_representative.as_ref().map(|r| {
            LegalRepresentativeInput {
                full_name: r.full_name.clone(),
                tax_code: if privileged {
                    r.tax_code.as_str().to_owned()
                } else {
                    r.tax_code.masked()
                },
            }
        }),
        representatives,
        created_at: o.created_at,
        updated_at: o.updated_at,
    }
}

/// A page of organizations.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"items": [], "total": 0, "page": 1, "per_page": 20}))]
pub struct OrganizationList {
    pub items: Vec<OrganizationView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// Filters of the organization list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrganizationQuery {
    /// Exact tax code.
    pub tax_code: Option<String>,
}

/// A user to add as representative.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "richiedente2@demo.welfare-grants.test"}))]
pub struct NewRepresentative {
    /// The user name of an applicant.
    pub username: String,
}

fn representative_views(reps: Vec<Representative>) -> Vec<RepresentativeView> {
    reps.into_iter()
        .map(|r| RepresentativeView {
            user_id: r.user_id,
            username: r.username,
            full_name: r.full_name,
        })
        .collect()
}

fn view_of(seen: Seen) -> OrganizationView {
    let privileged = seen.representatives.is_some();
    organization_view(
        &seen.organization,
        privileged,
        seen.representatives.map(representative_views),
    )
}

fn response(status: StatusCode, seen: Seen) -> HttpResponse {
    let version = seen.organization.version;
    with_etag(status, version, &view_of(seen))
}

/// Register an organization.
///
/// The caller, an applicant, becomes its first representative. Every rule of the registry is
/// checked at once (tax code and its check characters, province, seats, enterprise figures) and
/// every violation listed; a tax code is registered once.
#[utoipa::path(
    operation_id = "createOrganization",
    tag = "organizations",
    request_body = OrganizationInput,
    responses(
        (status = 201, description = "Registered", body = OrganizationView, headers(("Location" = String, description = "The new resource's path"), ("ETag" = String, description = "Its version, for If-Match"))),
        (status = 400, description = "Malformed body or unknown field (a declared size class, for one)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only applicants register organizations", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The tax code is already registered", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:tax_code_taken", "title": "Conflict", "status": 409, "code": "tax_code_taken",
                "detail": "An organization with tax code 01234560157 is already registered: ask one of its representatives to add you."})),
        (status = 422, description = "Rules broken: check characters, province, seats, enterprise figures", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:validation_failed", "title": "Validation failed", "status": 422, "code": "validation_failed",
                "detail": "The request breaks 2 rule(s); see violations.",
                "violations": [{"field": "tax_code", "code": "tax_code_check", "message": "The tax code's check character is wrong."},
                               {"field": "turnover", "code": "size_undeterminable", "message": "An enterprise must declare its turnover or its balance-sheet total."}]})),
    ),
    security(("bearer" = []))
)]
#[post("/organizations")]
pub async fn create_organization(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: Json<OrganizationInput>,
) -> Result<HttpResponse, ApiError> {
    let now = state.now();
    let seen =
        service::register(&state.db, &caller, now, || body.parse()?.facts(now.year())).await?;
    let location = format!("/api/v1/organizations/{}", seen.organization.id);
    let version = seen.organization.version;
    Ok(super::created(location, version, &view_of(seen)))
}

/// List the organizations the caller may see.
///
/// Those it represents and their partners in any partnership; administrators see all. Paged.
#[utoipa::path(
    operation_id = "listOrganizations",
    tag = "organizations",
    params(PageParams, OrganizationQuery),
    responses(
        (status = 200, description = "A page of organizations", body = OrganizationList),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/organizations")]
pub async fn list_organizations(
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<OrganizationQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let tax_code = query.tax_code.as_ref().map(|t| t.trim().to_uppercase());
    let (items, total) = service::list(&state.db, &caller, tax_code.as_deref(), page).await?;
    Ok(HttpResponse::Ok().json(OrganizationList {
        items: items.into_iter().map(view_of).collect(),
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Read an organization.
///
/// For its representatives, its accepted partners and administrators. Its representatives are
/// listed for them and for administrators only. Its `ETag` goes in the `If-Match` of a `PATCH`.
#[utoipa::path(
    operation_id = "getOrganization",
    tag = "organizations",
    params(("organization_id" = Uuid, Path, description = "The organization's id")),
    responses(
        (status = 200, description = "The organization", body = OrganizationView),
        (status = 404, description = "No such organization that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/organizations/{organization_id}")]
pub async fn get_organization(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let seen = service::read(&state.db, &caller, path.into_inner()).await?;
    Ok(response(StatusCode::OK, seen))
}

/// Change an organization.
///
/// A JSON Merge Patch with `If-Match`, by its representatives only; every rule of the registry is
/// checked again. The tax code never changes.
#[utoipa::path(
    operation_id = "updateOrganization",
    tag = "organizations",
    params(
        ("organization_id" = Uuid, Path, description = "The organization's id"),
        ("If-Match" = String, Header, description = "The ETag of the organization as last read"),
    ),
    request_body(content = OrganizationInput, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Changed", body = OrganizationView),
        (status = 403, description = "Only applicants edit organizations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not an organization the caller represents", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rules broken", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/organizations/{organization_id}")]
pub async fn patch_organization(
    state: web::Data<AppState>,
    caller: AuthUser,
    req: HttpRequest,
    path: web::Path<Uuid>,
    body: Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let year = state.now().year();
    let seen = service::patch(
        &state.db,
        &caller,
        state.now(),
        path.into_inner(),
        || Ok((if_match(&req)?, body.parse()?)),
        |current, patch| {
            let mut doc = serde_json::to_value(OrganizationInput::of(&current.facts))
                .map_err(anyhow::Error::from)?;
            merge_patch(&mut doc, &patch)?;
            let edited: OrganizationInput = decode_json(doc.to_string().as_bytes())?;
            let facts = edited.facts(year)?;
            if facts.tax_code != current.facts.tax_code {
                return Err(ApiError::invalid("tax_code", ErrorCode::ImmutableField));
            }
            Ok(facts)
        },
    )
    .await?;
    Ok(response(StatusCode::OK, seen))
}

/// Add a representative to an organization.
///
/// Another registered applicant, by user name, for an organization the caller represents: the new
/// representative may then act for it in partnerships and applications.
#[utoipa::path(
    operation_id = "addOrganizationRepresentative",
    tag = "organizations",
    params(("organization_id" = Uuid, Path, description = "The organization's id")),
    request_body = NewRepresentative,
    responses(
        (status = 201, description = "Added; the representatives now", body = Vec<RepresentativeView>),
        (status = 403, description = "Only applicants represent organizations", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not an organization the caller represents", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a representative", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No applicant with that user name", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/organizations/{organization_id}/representatives")]
pub async fn add_representative(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<NewRepresentative>,
) -> Result<HttpResponse, ApiError> {
    let reps =
        service::add_representative(&state.db, &caller, state.now(), path.into_inner(), || {
            Ok(body.parse()?.username)
        })
        .await?;
    Ok(HttpResponse::Created().json(representative_views(reps)))
}
