//! The per-agency envelopes of a call: read them, set them, split the total, and move
//! unused money between agencies.

use actix_web::{HttpResponse, get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::Json;
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::domain::agency::AgencyCode;
use crate::domain::call::{Envelope, EnvelopeSource, PinnedEnvelope, Reallocation};
use crate::domain::money::Money;
use crate::domain::percent::Percent;
use crate::error::{ApiError, Problem};
use crate::service::calls as service;
use crate::state::AppState;

/// An envelope as given by an administrator.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"agency_code": "MONTAGNA", "amount": "293580.00", "source": "official", "note": "Avviso ATS Montagna"}))]
pub struct EnvelopeInput {
    pub agency_code: AgencyCode,
    pub amount: Money,
    pub source: EnvelopeSource,
    /// Where the figure comes from, e.g. the act that set it.
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

impl From<&EnvelopeInput> for Envelope {
    fn from(e: &EnvelopeInput) -> Envelope {
        Envelope {
            agency: e.agency_code,
            amount: e.amount,
            source: e.source,
            note: e.note.clone(),
        }
    }
}

/// One agency's envelope.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"agency_code": "MONTAGNA", "agency_name": "ATS della Montagna", "amount": "293580.00", "source": "official", "note": "Avviso ATS Montagna",
    "committed": "293580.00", "paid": "35000.00", "to_recover": "0.00"}))]
pub struct EnvelopeView {
    pub agency_code: AgencyCode,
    pub agency_name: String,
    pub amount: Money,
    pub source: EnvelopeSource,
    pub note: Option<String>,
    /// In offered and accepted grants.
    pub committed: Money,
    /// Paid out to the projects so far.
    pub paid: Money,
    /// Paid beyond what revoked or renounced grants allow, not yet paid back.
    pub to_recover: Money,
}

/// The envelopes of a call and how they add up.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "total_budget": "5050000.00", "sum": "5050000.00", "items": [{"agency_code": "MONTAGNA", "agency_name": "ATS della Montagna", "amount": "293580.00", "source": "official", "note": "Avviso ATS Montagna", "committed": "293580.00", "paid": "35000.00", "to_recover": "0.00"}, {"agency_code": "MILANO", "agency_name": "ATS della Città Metropolitana di Milano", "amount": "1417010.23", "source": "estimated", "note": null, "committed": "0.00", "paid": "0.00", "to_recover": "0.00"}]}))]
pub struct EnvelopesView {
    pub call_id: Uuid,
    pub total_budget: Money,
    /// The sum of the envelopes; equal to `total_budget` once they are set right.
    pub sum: Money,
    pub items: Vec<EnvelopeView>,
}

fn envelopes_view(book: &service::Envelopes) -> EnvelopesView {
    let (call, envelopes) = (&book.call, &book.items);
    let spent = |a: &AgencyCode| book.spent.get(a).copied();
    EnvelopesView {
        call_id: call.id,
        total_budget: call.total_budget,
        sum: Money::sum(envelopes.iter().map(|e| e.amount)).unwrap_or(Money::ZERO),
        items: envelopes
            .iter()
            .map(|e| EnvelopeView {
                agency_code: e.agency,
                agency_name: e.agency.name().to_owned(),
                amount: e.amount,
                source: e.source,
                note: e.note.clone(),
                committed: spent(&e.agency).map_or(Money::ZERO, |s| s.committed),
                paid: spent(&e.agency).map_or(Money::ZERO, |s| s.paid),
                to_recover: spent(&e.agency).map_or(Money::ZERO, |s| s.to_recover),
            })
            .collect(),
    }
}

/// The envelopes of every agency at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"envelopes": [
    {"agency_code": "MILANO", "amount": "1417010.23", "source": "estimated", "note": null},
    {"agency_code": "MONTAGNA", "amount": "293580.00", "source": "official", "note": "Avviso ATS Montagna"}
]}))]
pub struct EnvelopesRequest {
    /// One per agency, adding up to the call's total.
    pub envelopes: Vec<EnvelopeInput>,
}

/// A population to use instead of the stored one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"agency_code": "MONTAGNA", "population": 292241}))]
pub struct PopulationInput {
    pub agency_code: AgencyCode,
    #[schema(example = 292241)]
    pub population: u64,
}

/// Compute the envelopes: a share in equal parts, the rest by population, exact to the cent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"equal_share": "30.00", "pinned": [{"agency_code": "MONTAGNA", "amount": "293580.00", "source": "official", "note": "Avviso ATS Montagna"}], "dry_run": true}))]
pub struct SplitRequest {
    /// The share of the total split in equal parts (default `"30.00"`).
    pub equal_share: Option<Percent>,
    /// Populations to use instead of the stored ones.
    #[serde(default)]
    pub populations: Vec<PopulationInput>,
    /// Envelopes that keep a fixed amount; the others share the rest.
    #[serde(default)]
    pub pinned: Vec<EnvelopeInput>,
    /// Compute and answer without storing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Read the envelopes of a call.
///
/// Each agency's envelope with its source (`official`, published in an act, or `estimated`, e.g. by
/// the 30/70 split on approximate populations), and their sum, which equals the call's total once
/// it is published. Public for a published call.
#[utoipa::path(
    operation_id = "getCallEnvelopes",
    tag = "calls",
    params(("call_id" = Uuid, Path, description = "The call's id")),
    responses(
        (status = 200, description = "The envelopes", body = EnvelopesView),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/calls/{call_id}/envelopes")]
pub async fn get_envelopes(
    state: web::Data<AppState>,
    caller: MaybeAuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let book = service::envelopes(&state.db, caller.is_admin(), path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(envelopes_view(&book)))
}

/// Set every agency's envelope at once.
///
/// Administrators only: one amount for each of the eight agencies, none missing and none twice,
/// adding up to the call's total to the cent.
#[utoipa::path(
    operation_id = "setCallEnvelopes",
    tag = "calls",
    params(("call_id" = Uuid, Path, description = "The call's id")),
    request_body = EnvelopesRequest,
    responses(
        (status = 200, description = "The new envelopes", body = EnvelopesView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or repeated agency, or a sum different from the total", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:validation_failed", "title": "Validation failed", "status": 422,
                "detail": "The request breaks 1 rule(s); see violations.", "code": "validation_failed",
                "violations": [{"field": "envelopes", "code": "envelopes_sum_mismatch", "message": "The envelopes add up to 5049999.99, but the call's total is 5050000.00."}]})),
    ),
    security(("bearer" = []))
)]
#[put("/calls/{call_id}/envelopes")]
pub async fn put_envelopes(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<EnvelopesRequest>,
) -> Result<HttpResponse, ApiError> {
    let book = service::set_envelopes(&state.db, &caller, state.now(), path.into_inner(), || {
        Ok(body.parse()?.envelopes.iter().map(Envelope::from).collect())
    })
    .await?;
    Ok(HttpResponse::Ok().json(envelopes_view(&book)))
}

/// Split a call's total into envelopes.
///
/// A share (default 30%) in equal parts among the eight agencies, the rest by population, exact to
/// the cent (largest remainder, ties by agency code). Pinned envelopes keep their amount. Stored
/// unless `dry_run`; administrators only.
#[utoipa::path(
    operation_id = "splitCallEnvelopes",
    tag = "calls",
    params(("call_id" = Uuid, Path, description = "The call's id")),
    request_body = SplitRequest,
    responses(
        (status = 200, description = "The computed envelopes (stored unless dry_run)", body = EnvelopesView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Pinned envelopes exceed the total, or populations are missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/calls/{call_id}/envelopes/split")]
pub async fn split_envelopes(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<SplitRequest>,
) -> Result<HttpResponse, ApiError> {
    let book = service::split(&state.db, &caller, state.now(), path.into_inner(), || {
        let body = body.parse()?;
        Ok(service::Split {
            equal_share: body.equal_share,
            populations: body
                .populations
                .iter()
                .map(|p| (p.agency_code, p.population))
                .collect(),
            pinned: body
                .pinned
                .iter()
                .map(|p| PinnedEnvelope {
                    agency: p.agency_code,
                    amount: p.amount,
                    source: p.source,
                    note: p.note.clone(),
                })
                .collect(),
            dry_run: body.dry_run,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(envelopes_view(&book)))
}

/// Move unused money from one agency's envelope to another's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from_agency_code": "PAVIA", "to_agency_code": "MONTAGNA", "amount": "50000.00", "reason": "Risorse non utilizzate da ATS Pavia (decreto n. 77)."}))]
pub struct ReallocationRequest {
    pub from_agency_code: AgencyCode,
    pub to_agency_code: AgencyCode,
    pub amount: Money,
    #[schema(max_length = 2000)]
    pub reason: String,
}

/// Move money between agencies' envelopes.
///
/// Administrators only, with a reason: money an agency has not committed goes to another agency's
/// envelope; the call's total does not change. Money arriving in an agency whose ranking is
/// approved goes down its reserve list at once, as a new published version.
#[utoipa::path(
    operation_id = "reallocateEnvelopes",
    tag = "calls",
    params(("call_id" = Uuid, Path, description = "The call's id")),
    request_body = ReallocationRequest,
    responses(
        (status = 201, description = "Moved; the envelopes now", body = EnvelopesView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "More than the agency has unused, the same agency twice, no reason", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:validation_failed", "title": "Validation failed", "status": 422, "code": "validation_failed",
                "detail": "The request breaks 1 rule(s); see violations.",
                "violations": [{"field": "amount", "code": "more_than_unused", "message": "PAVIA has 12000.00 unused: no more can be moved."}]})),
    ),
    security(("bearer" = []))
)]
#[post("/calls/{call_id}/reallocations")]
pub async fn reallocate(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<ReallocationRequest>,
) -> Result<HttpResponse, ApiError> {
    let book = service::reallocate(&state.db, &caller, state.now(), path.into_inner(), || {
        let body = body.parse()?;
        Ok(Reallocation {
            from: body.from_agency_code,
            to: body.to_agency_code,
            amount: body.amount,
            reason: body.reason,
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(envelopes_view(&book)))
}
