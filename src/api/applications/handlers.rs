//! The handlers of applications: drafts, submission with its receipt, withdrawal, history,
//! and the list with its export.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::Serialize;
use uuid::Uuid;

use super::dto::{
    ApplicationList, ApplicationQuery, ApplicationView, HistoryView, NewApplication, Receipt,
    WithdrawRequest,
};
use super::views::{restricted_view, view_of};
use crate::api::csv::{Cell, CsvWriter, Dialect};
use crate::api::extract::Json;
use crate::api::idempotency::{Claim, Recorded};
use crate::api::{PageParams, created, if_match, patched, with_etag};
use crate::auth::{AuthUser, Caller};
use crate::domain::ErrorCode;
use crate::domain::application::{ApplicationContent, totals};
use crate::error::{ApiError, Problem};
use crate::service::applications::{self as service, Listed};
use crate::state::AppState;

/// Answer what an operation returns (a repeated `Idempotency-Key` is the middleware's).
pub(super) fn answer(status: StatusCode, value: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status).json(value)
}

pub(super) fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, ApiError> {
    Ok(serde_json::to_value(value).map_err(anyhow::Error::from)?)
}

/// Start an application, as a draft.
///
/// The caller must represent the lead of the partnership, and a partnership has at most one
/// application per call. The content may be incomplete: the answer's `blocking` lists what still
/// stops its submission, each entry with the path of its field. Change the draft with `PATCH` and
/// the answer's `ETag`, then submit it.
#[utoipa::path(
    operation_id = "createApplication",
    tag = "applications",
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key, e.g. a UUID")),
    request_body = NewApplication,
    responses(
        (status = 201, description = "Created as a draft", body = ApplicationView, headers(("Location" = String, description = "The new resource's path"), ("ETag" = String, description = "Its version, for If-Match"))),
        (status = 403, description = "Only applicants write applications", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such partnership that the caller leads", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The partnership already has an application for the call", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown area or category, a cost borne by a non-member, dates out of order", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/applications")]
pub async fn create_application(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: Json<NewApplication>,
) -> Result<HttpResponse, ApiError> {
    let s = service::create(&state.db, &caller, state.now(), || {
        let body = body.parse()?;
        Ok(service::NewApplication {
            partnership_id: body.partnership_id,
            content: body.content,
        })
    })
    .await?;
    let (location, version) = (format!("/api/v1/applications/{}", s.app.id), s.app.version);
    Ok(created(location, version, &view_of(s)))
}

/// List the applications the caller may see.
///
/// Applicants see the applications of the partnerships their organizations belong to; evaluators,
/// those submitted to their agency; administrators, all. Paged, and filtered by the query
/// parameters; `format=csv` exports every match instead (with `dialect=excel-it` for Excel set to
/// Italian).
#[utoipa::path(
    operation_id = "listApplications",
    tag = "applications",
    params(PageParams, ApplicationQuery),
    responses(
        (status = 200, description = "A page of applications (or a CSV file)",
            content((ApplicationList = "application/json"), (String = "text/csv"))),
        (status = 400, description = "Bad filter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/applications")]
pub async fn list_applications(
    state: web::Data<AppState>,
    caller: Caller,
    paging: web::Query<PageParams>,
    query: web::Query<ApplicationQuery>,
) -> Result<HttpResponse, ApiError> {
    let (csv, dialect, page) = match list_options(&query, &paging) {
        Ok(parsed) => parsed,
        Err(e) => {
            // A caller no longer valid learns that before what is wrong with its query, as
            // from every other operation.
            caller.confirm(&state.db, None).await?;
            return Err(e);
        }
    };
    let query = query.into_inner();
    let q = service::ListQuery {
        call_id: query.call_id,
        agency: query.agency_code,
        status: query.status,
        area: query.area,
    };
    if csv {
        let caller = caller.confirm(&state.db, None).await?;
        return csv_export(&state, &caller, q, dialect).await;
    }
    let (items, total) = service::list(&state.db, caller, state.now(), q, page).await?;
    let items = items
        .into_iter()
        .map(|l| match l {
            Listed::Shown(s) => view_of(*s),
            Listed::Restricted(app) => restricted_view(&app),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ApplicationList {
        items,
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// What a list's query asks beyond its filter: CSV or not, the CSV's dialect, the page.
fn list_options(
    query: &ApplicationQuery,
    paging: &PageParams,
) -> Result<(bool, Dialect, crate::service::Page), ApiError> {
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid("format", ErrorCode::UnknownFormat)),
    };
    Ok((
        csv,
        Dialect::parse(query.dialect.as_deref())?,
        paging.page()?,
    ))
}

/// Every match as CSV, written row by row as the applications are read.
async fn csv_export(
    state: &AppState,
    caller: &AuthUser,
    q: service::ListQuery,
    dialect: Dialect,
) -> Result<HttpResponse, ApiError> {
    let mut out = CsvWriter::with(dialect);
    out.write_text_record([
        "id",
        "call_code",
        "protocol_number",
        "status",
        "agency_code",
        "title",
        "intervention_areas",
        "total_cost",
        "requested_grant",
        "co_financing",
        "submitted_at",
    ])?;
    service::export(&state.db, caller, q, |a, call| {
        let t = call.and_then(|c| totals(&a.content.budget, &c.rules));
        out.write_record([
            Cell::text(a.id.to_string()),
            Cell::text_or_empty(call.map(|c| c.code.clone())),
            Cell::text_or_empty(a.protocol_number.clone()),
            Cell::text(a.status.as_str()),
            Cell::text_or_empty(a.content.agency_code.map(|x| x.as_str())),
            Cell::text_or_empty(a.content.title.clone()),
            Cell::text(a.content.intervention_areas.join(";")),
            Cell::number_or_empty(t.map(|t| t.total_cost)),
            Cell::number_or_empty(a.content.budget.requested_grant),
            Cell::number_or_empty(a.content.budget.co_financing),
            Cell::text_or_empty(
                a.submitted_at
                    .as_ref()
                    .map(crate::domain::timestamp::format),
            ),
        ])
    })
    .await?;
    out.into_response("applications.csv")
}

/// Read an application.
///
/// For a draft, `blocking` lists what still stops its submission. Its `ETag` goes in the `If-Match`
/// of a `PATCH`. An evaluator reads the content only after declaring no conflict of interest (`POST
/// .../conflict-of-interest`).
#[utoipa::path(
    operation_id = "getApplication",
    tag = "applications",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    responses(
        (status = 200, description = "The application; its ETag is needed to change it", body = ApplicationView),
        (status = 403, description = "An evaluator who has not declared on its conflict of interest, or declared one", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:conflict_declaration_required", "title": "Forbidden", "status": 403, "code": "conflict_declaration_required",
                "detail": "Declare whether you have a conflict of interest with the partnership's members first (POST .../conflict-of-interest)."})),
        (status = 404, description = "No such application that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/applications/{application_id}")]
pub async fn get_application(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = service::read(&state.db, caller, state.now(), path.into_inner()).await?;
    let version = s.app.version;
    Ok(with_etag(StatusCode::OK, version, &view_of(s)))
}

/// Change a draft's content.
///
/// A JSON Merge Patch of `content` (RFC 7396: a member set to null is removed), with `If-Match` set
/// to the draft's `ETag`, by the lead's representatives. Every rule of the content is checked and
/// listed in `violations`; `blocking` in the answer lists what still stops its submission. A
/// submitted application's content is frozen.
#[utoipa::path(
    operation_id = "updateApplication",
    tag = "applications",
    params(
        ("application_id" = Uuid, Path, description = "The application's id"),
        ("If-Match" = String, Header, description = "The ETag of the application as last read"),
    ),
    request_body(content = ApplicationContent, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Changed", body = ApplicationView),
        (status = 403, description = "Only applicants edit applications", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application that the caller leads", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already submitted: the content is frozen", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown area or category, a cost borne by a non-member, dates out of order", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/applications/{application_id}")]
pub async fn patch_application(
    state: web::Data<AppState>,
    caller: AuthUser,
    req: HttpRequest,
    path: web::Path<Uuid>,
    body: Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let s = service::update(&state.db, &caller, state.now(), path.into_inner(), || {
        let version = if_match(&req)?;
        let patch = body.parse()?;
        Ok((version, move |current: &ApplicationContent| {
            patched(current, &patch)
        }))
    })
    .await?;
    let version = s.app.version;
    Ok(with_etag(StatusCode::OK, version, &view_of(s)))
}

/// Delete a draft application.
///
/// Only the lead's representatives may, and only while it is a draft: a submitted application is
/// withdrawn instead (`POST .../withdraw`). The partnership may then start another.
#[utoipa::path(
    operation_id = "deleteApplication",
    tag = "applications",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Only applicants delete applications", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application that the caller leads", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already submitted: withdraw it instead", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/applications/{application_id}")]
pub async fn delete_application(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    service::delete(&state.db, &caller, state.now(), path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Submit an application.
///
/// In time when `opens_at ≤ now < closes_at` (the server's clock, read inside the committing
/// transaction), with every rule met and the partnership eligible; otherwise every reason is
/// listed. It gets a protocol number, unique and gap-free in its call, and a receipt with the
/// SHA-256 of the canonical JSON of what was submitted. Send an `Idempotency-Key`: a repeat answers
/// the same receipt.
#[utoipa::path(
    operation_id = "submitApplication",
    tag = "applications",
    params(
        ("application_id" = Uuid, Path, description = "The application's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key, e.g. a UUID"),
    ),
    responses(
        (status = 200, description = "Submitted: the receipt", body = Receipt),
        (status = 403, description = "Only applicants submit applications", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application that the caller leads", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already submitted (or the same key is still running)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Outside the window, a rule broken, or the partnership not eligible: every reason listed", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:validation_failed", "title": "Validation failed", "status": 422, "code": "validation_failed",
                "detail": "The request breaks 2 rule(s); see violations.",
                "violations": [{"field": "submitted_at", "code": "outside_window", "message": "The submission window has closed."},
                               {"field": "content.budget.requested_grant", "code": "grant_above_rate", "message": "The grant may be at most 70.00% of the eligible total 71428.57, rounded down: 49999.99."}]})),
    ),
    security(("bearer" = []))
)]
#[post("/applications/{application_id}/submit")]
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    // Submissions wait here, in order and holding nothing yet, rather than on the pool: see
    // `database.submit_concurrency`.
    let _permit = state
        .submissions
        .acquire()
        .await
        .map_err(anyhow::Error::from)?;
    // On the heap, and only once the permit is held: a submission that waits keeps a small
    // future, not room for every query below (at a deadline a thousand of them wait).
    Box::pin(submit_now(&req, &state, &caller, path.into_inner())).await
}

async fn submit_now(
    req: &HttpRequest,
    state: &AppState,
    caller: &AuthUser,
    id: Uuid,
) -> Result<HttpResponse, ApiError> {
    let claim = Claim::of(req);
    let mut answer = None;
    service::submit(&state.db, caller, &state.clock, id, |receipt| {
        let value = to_json(&Receipt::from(receipt))?;
        let recorded = claim.as_ref().map(|c| c.answer(StatusCode::OK, &value));
        answer = Some(value);
        Ok(recorded)
    })
    .await?;
    let mut res = HttpResponse::Ok().json(answer);
    if claim.is_some() {
        res.extensions_mut().insert(Recorded);
    }
    Ok(res)
}

/// Read the receipt of a submitted application.
///
/// Exactly as it was issued at submission: the protocol number, the submission time and the SHA-256
/// of the canonical JSON of what was submitted, with that content as its snapshot. Nothing in it
/// changes afterwards.
#[utoipa::path(
    operation_id = "getApplicationReceipt",
    tag = "applications",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    responses(
        (status = 200, description = "The receipt", body = Receipt),
        (status = 403, description = "An evaluator who has not declared on its conflict of interest, or declared one", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:conflict_declaration_required", "title": "Forbidden", "status": 403, "code": "conflict_declaration_required",
                "detail": "Declare whether you have a conflict of interest with the partnership's members first (POST .../conflict-of-interest)."})),
        (status = 404, description = "No such application, or not submitted", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/applications/{application_id}/receipt")]
pub async fn get_receipt(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let receipt = service::receipt(&state.db, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(Receipt::from(&receipt)))
}

/// Withdraw a submitted application.
///
/// By the lead's representatives, with a reason, until the agency's ranking is approved; the
/// withdrawal shows in the application's history.
#[utoipa::path(
    operation_id = "withdrawApplication",
    tag = "applications",
    params(
        ("application_id" = Uuid, Path, description = "The application's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key, e.g. a UUID"),
    ),
    request_body = WithdrawRequest,
    responses(
        (status = 200, description = "Withdrawn", body = ApplicationView),
        (status = 403, description = "Only applicants withdraw applications", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application that the caller leads", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not submitted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/applications/{application_id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<WithdrawRequest>,
) -> Result<HttpResponse, ApiError> {
    let s = service::withdraw(&state.db, &caller, state.now(), path.into_inner(), || {
        Ok(body.parse()?.reason)
    })
    .await?;
    Ok(answer(StatusCode::OK, to_json(&view_of(s))?))
}

/// List an application's status changes.
///
/// Every status change, oldest first: from which status to which, who made it, when and why.
/// Visible to whoever may read the application.
#[utoipa::path(
    operation_id = "listApplicationHistory",
    tag = "applications",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    responses(
        (status = 200, description = "The history, oldest first", body = Vec<HistoryView>),
        (status = 403, description = "An evaluator who has not declared on its conflict of interest, or declared one", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:conflict_declaration_required", "title": "Forbidden", "status": 403, "code": "conflict_declaration_required",
                "detail": "Declare whether you have a conflict of interest with the partnership's members first (POST .../conflict-of-interest)."})),
        (status = 404, description = "No such application that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/applications/{application_id}/history")]
pub async fn history(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let items: Vec<HistoryView> = service::history(&state.db, &caller, path.into_inner())
        .await?
        .into_iter()
        .map(HistoryView::from)
        .collect();
    Ok(HttpResponse::Ok().json(items))
}
