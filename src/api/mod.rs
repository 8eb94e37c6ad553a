//! HTTP handlers and their request/response types, one module per resource.
//! A handler extracts, parses into domain types, makes one service call and answers a DTO.

pub mod agencies;
pub mod applications;
pub mod audit;
pub mod auth;
pub mod caching;
pub mod calls;
pub mod csv;
pub mod deadline;
pub mod envelopes;
pub mod extract;
pub mod grants;
pub mod idempotency;
pub mod limits;
pub mod methods;
pub mod metrics;
pub mod notifications;
pub mod organizations;
pub mod partnerships;
pub mod payments;
pub mod rankings;
pub mod recoveries;
pub mod reports;
pub mod results;
pub mod review;
pub mod security;
pub mod status;
pub mod users;
pub mod variations;
pub mod webhooks;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::domain::ErrorCode;
use crate::domain::version::Expected;
use crate::error::ApiError;
use crate::service::Page;

/// Register every route (used by the server and by the OpenAPI export alike).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(status::status);
    cfg.service(
        scope::scope("/api/v1")
            .service(auth::login)
            .service(auth::token)
            .service(auth::refresh)
            .service(auth::logout)
            .service(auth::me)
            .service(auth::change_password)
            .service(auth::register)
            .service(users::create_user)
            .service(users::list_users)
            .service(users::get_user)
            .service(users::patch_user)
            .service(agencies::list_agencies)
            .service(calls::list_calls)
            .service(calls::create_call)
            .service(calls::get_call)
            .service(calls::patch_call)
            .service(calls::clone_call)
            .service(calls::publish_call)
            .service(calls::list_amendments)
            .service(envelopes::get_envelopes)
            .service(envelopes::put_envelopes)
            .service(envelopes::split_envelopes)
            .service(envelopes::reallocate)
            .service(organizations::create_organization)
            .service(organizations::list_organizations)
            .service(organizations::get_organization)
            .service(organizations::patch_organization)
            .service(organizations::add_representative)
            .service(partnerships::create_partnership)
            .service(partnerships::list_partnerships)
            .service(partnerships::get_partnership)
            .service(partnerships::delete_partnership)
            .service(partnerships::add_member)
            .service(partnerships::remove_member)
            .service(partnerships::accept_invitation)
            .service(partnerships::decline_invitation)
            .service(partnerships::eligibility)
            .service(applications::create_application)
            .service(applications::list_applications)
            .service(applications::get_application)
            .service(applications::patch_application)
            .service(applications::delete_application)
            .service(applications::add_document)
            .service(applications::list_documents)
            .service(applications::get_document)
            .service(applications::download_document)
            .service(applications::delete_document)
            .service(applications::submit)
            .service(applications::get_receipt)
            .service(applications::withdraw)
            .service(applications::history)
            .service(review::conflict_summary)
            .service(review::declare)
            .service(review::admissibility)
            .service(review::integration)
            .service(review::save_evaluation)
            .service(review::list_evaluations)
            .service(review::reopen)
            .service(review::put_consensus)
            .service(notifications::list_notifications)
            .service(notifications::read_notification)
            .service(rankings::compute)
            .service(rankings::current)
            .service(rankings::list_versions)
            .service(rankings::approve)
            .service(rankings::simulate)
            .service(rankings::dashboard)
            .service(results::results)
            .service(grants::list_grants)
            .service(grants::get_grant)
            .service(grants::accept)
            .service(grants::decline)
            .service(grants::revoke)
            .service(grants::start)
            .service(grants::renounce)
            .service(reports::get_report)
            .service(reports::patch_report)
            .service(reports::submit_report)
            .service(reports::verify_report)
            .service(reports::answer_integration)
            .service(reports::add_evidence)
            .service(reports::get_evidence)
            .service(reports::download_evidence)
            .service(variations::request_variation)
            .service(variations::list_variations)
            .service(variations::get_variation)
            .service(variations::decide_variation)
            .service(variations::consent)
            .service(recoveries::list_recoveries)
            .service(recoveries::get_recovery)
            .service(recoveries::settle)
            .service(recoveries::cancel)
            .service(payments::grant_payments)
            .service(payments::list_payments)
            .service(payments::get_payment)
            .service(payments::authorize)
            .service(payments::record)
            .service(payments::cancel)
            .service(audit::list_audit_events)
            .service(webhooks::create_webhook)
            .service(webhooks::list_webhooks)
            .service(webhooks::get_webhook)
            .service(webhooks::delete_webhook)
            .service(webhooks::list_deliveries),
    );
}

/// Unknown routes answer problem+json too.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::from(ErrorCode::RouteNotFound))
}

/// Paging of every list: `?page=` (from 1) and `?per_page=` (1 to 100, default 20).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page number, from 1.
    #[param(minimum = 1, example = 1)]
    pub page: Option<u64>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100, example = 20)]
    pub per_page: Option<u64>,
}

impl PageParams {
    pub fn page(&self) -> Result<Page, ApiError> {
        let mut v = crate::domain::Violations::new();
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(20);
        if page == 0 || page > 1_000_000 {
            v.add(
                "page",
                ErrorCode::OutOfRange.with(&[
                    ("subject_en", &"page"),
                    ("subject_it", &"page"),
                    ("min", &1),
                    ("max", &1000000),
                ]),
            );
        }
        if !(1..=100).contains(&per_page) {
            v.add(
                "per_page",
                ErrorCode::OutOfRange.with(&[
                    ("subject_en", &"per_page"),
                    ("subject_it", &"per_page"),
                    ("min", &1),
                    ("max", &100),
                ]),
            );
        }
        ApiError::check(v.into_vec())?;
        Ok(Page { page, per_page })
    }
}

/// The strong ETag of a resource version.
pub fn etag(version: i32) -> String {
    format!("\"v{version}\"")
}

/// What `If-Match` asks (428 when it is missing): `*` for any current version, or the
/// versions its strong tags name (a public read's `"v3-…"` names version 3). The comparison
/// is strong (RFC 9110): a weak tag (`W/"v3"`) or a tag we never issue names no version, and
/// a header that names none answers 412.
pub fn if_match(req: &HttpRequest) -> Result<Expected, ApiError> {
    let value = req
        .headers()
        .get(header::IF_MATCH)
        .ok_or(ApiError::PreconditionRequired)?
        .to_str()
        .map_err(|_| ApiError::PreconditionFailed)?
        .trim();
    if value == "*" {
        return Ok(Expected::Any);
    }
    let versions: Vec<i32> = value
        .split(',')
        .filter_map(|tag| {
            tag.trim()
                .strip_prefix("\"v")
                .and_then(|v| v.strip_suffix('"'))
                // A public read tags its bytes after the version (`"v3-…"`, see `caching`).
                .map(|v| v.split_once('-').map_or(v, |(version, _)| version))
                .and_then(|v| v.parse::<i32>().ok())
        })
        .collect();
    if versions.is_empty() {
        return Err(ApiError::PreconditionFailed);
    }
    Ok(Expected::OneOf(versions))
}

/// A JSON answer with the resource's ETag.
pub fn with_etag<T: serde::Serialize>(
    status: actix_web::http::StatusCode,
    version: i32,
    body: &T,
) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// A 201 answer: the new resource, its `Location` and its `ETag`, so that a client can change
/// it without reading it first.
pub fn created<T: serde::Serialize>(location: String, version: i32, body: &T) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::CREATED)
        .insert_header((header::LOCATION, location))
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// The content `current` with a JSON Merge Patch applied, read back as its type (every rule of
/// its shape checked, as for a body).
pub fn patched<T>(current: &T, patch: &serde_json::Value) -> Result<T, ApiError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut doc = serde_json::to_value(current).map_err(anyhow::Error::from)?;
    merge_patch(&mut doc, patch)?;
    extract::decode_json::<T>(doc.to_string().as_bytes())
}

/// Apply a JSON Merge Patch (RFC 7396) to a document.
pub fn merge_patch(doc: &mut serde_json::Value, patch: &serde_json::Value) -> Result<(), ApiError> {
    if !patch.is_object() {
        return Err(ApiError::from(ErrorCode::InvalidMergePatch));
    }
    json_patch::merge(doc, patch);
    Ok(())
}
