//! Calls for proposals: list, read, create, clone, publish, change (with amendments). The
//! per-agency envelopes are in `envelopes`.

mod views;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::extract::{Json, decode_json};
use super::{PageParams, if_match, merge_patch, with_etag};
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::domain::Violation;
use crate::domain::call::{AmendmentAct, Call, CallEdit, CallRules, Envelope};
use crate::domain::money::Money;
use crate::error::{ApiError, Problem};
use crate::service::calls as service;
use crate::state::AppState;

pub use views::*;

/// The editable state of a call: the document a merge patch applies to.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallEditable {
    title: String,
    description: String,
    legal_basis: String,
    opens_at: DateTime<FixedOffset>,
    closes_at: DateTime<FixedOffset>,
    total_budget: Money,
    rules: CallRules,
}

fn call_response(state: &AppState, call: &Call, status: StatusCode) -> HttpResponse {
    with_etag(status, call.version, &CallView::new(call, state.now()))
}

/// List the calls, newest window first.
///
/// Public: anyone sees the published calls. Drafts are listed for administrators only, so an
/// administrator's answer is never cached by a shared cache.
#[utoipa::path(
    operation_id = "listCalls",
    tag = "calls",
    params(PageParams, CallQuery),
    responses(
        (status = 200, description = "A page of calls", body = CallList),
        (status = 400, description = "Bad query parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/calls")]
pub async fn list_calls(
    state: web::Data<AppState>,
    caller: MaybeAuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<CallQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let (calls, total) = service::list(&state.db, caller.is_admin(), query.status, page).await?;
    let now = state.now();
    Ok(HttpResponse::Ok().json(CallList {
        items: calls.iter().map(|c| CallView::new(c, now)).collect(),
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Read a call with all its rules.
///
/// Public once published; a draft only for administrators. Its `ETag` goes in the `If-Match` of a
/// `PATCH`.
#[utoipa::path(
    operation_id = "getCall",
    tag = "calls",
    params(("call_id" = Uuid, Path, description = "The call's id")),
    responses(
        (status = 200, description = "The call", body = CallView),
        (status = 404, description = "No such call (drafts are visible to administrators only)", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/calls/{call_id}")]
pub async fn get_call(
    state: web::Data<AppState>,
    caller: MaybeAuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let call = service::read(&state.db, caller.is_admin(), path.into_inner()).await?;
    Ok(call_response(&state, &call, StatusCode::OK))
}

/// Create a call, as a draft.
///
/// Administrators only. Every rule of the call (window, amounts, grid, composition rules) is
/// checked at once and every violation listed. Without `envelopes`, the total is split over the
/// agencies: 30% in equal parts, 70% by population. Publish it with `POST .../publish`.
#[utoipa::path(
    operation_id = "createCall",
    tag = "calls",
    request_body = NewCall,
    responses(
        (status = 201, description = "Created as a draft", body = CallView, headers(("Location" = String, description = "The new resource's path"), ("ETag" = String, description = "Its version, for If-Match"))),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Code taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rules broken; every violation is listed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/calls")]
pub async fn create_call(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: Json<NewCall>,
) -> Result<HttpResponse, ApiError> {
    let call = service::create_draft(&state.db, &caller, state.now(), || {
        let body = body.parse()?;
        Ok(service::NewCall {
            code: body.code,
            edit: CallEdit {
                title: body.title.trim().to_owned(),
                description: body.description,
                legal_basis: body.legal_basis,
                opens_at: body.opens_at.with_timezone(&Utc),
                closes_at: body.closes_at.with_timezone(&Utc),
                total_budget: body.total_budget,
                rules: body.rules,
            },
            envelopes: body
                .envelopes
                .map(|list| list.iter().map(Envelope::from).collect()),
        })
    })
    .await?;
    Ok(super::created(
        format!("/api/v1/calls/{}", call.id),
        call.version,
        &CallView::new(&call, state.now()),
    ))
}

/// Change a call.
///
/// Administrators only: a JSON Merge Patch with `If-Match`. A published call's dates change only
/// with an `amendment` (act number and date), which is recorded with the old and new values; its
/// rules and total are locked once its window has opened.
#[utoipa::path(
    operation_id = "updateCall",
    tag = "calls",
    params(
        ("call_id" = Uuid, Path, description = "The call's id"),
        ("If-Match" = String, Header, description = "The ETag of the call as last read"),
    ),
    request_body(content = CallPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Changed", body = CallView),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The call changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rules broken, e.g. a locked rule changed; every violation is listed", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:validation_failed", "title": "Validation failed", "status": 422,
                "detail": "The request breaks 1 rule(s); see violations.", "code": "validation_failed",
                "violations": [{"field": "rules.grant_rate", "code": "locked_after_opening", "message": "The rules of a call cannot change once its window has opened."}]})),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/calls/{call_id}")]
pub async fn patch_call(
    state: web::Data<AppState>,
    caller: AuthUser,
    req: HttpRequest,
    path: web::Path<Uuid>,
    body: Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let id = path.into_inner();
    let version = if_match(&req)?;
    let mut patch = body.parse()?;
    let amendment: Option<AmendmentInput> =
        match patch.as_object_mut().and_then(|o| o.remove("amendment")) {
            None | Some(serde_json::Value::Null) => None,
            Some(a) => Some(
                decode_json::<AmendmentInput>(a.to_string().as_bytes())
                    .map_err(|e| prefix(e, "amendment"))?,
            ),
        };
    let act = amendment.as_ref().map(AmendmentAct::from);
    let edit = |current: &Call| {
        let mut doc = serde_json::to_value(editable(current)).map_err(anyhow::Error::from)?;
        merge_patch(&mut doc, &patch)?;
        let edited: CallEditable = decode_json(doc.to_string().as_bytes())?;
        Ok(CallEdit {
            title: edited.title,
            description: edited.description,
            legal_basis: edited.legal_basis,
            opens_at: edited.opens_at.with_timezone(&Utc),
            closes_at: edited.closes_at.with_timezone(&Utc),
            total_budget: edited.total_budget,
            rules: edited.rules,
        })
    };
    let call = service::patch(&state.db, &caller, state.now(), id, version, act, edit).await?;
    Ok(call_response(&state, &call, StatusCode::OK))
}

/// Put a field prefix on the violations of a nested document.
fn prefix(err: ApiError, field: &str) -> ApiError {
    let fix = |mut v: Vec<Violation>| {
        for x in &mut v {
            x.field = if x.field.is_empty() {
                field.to_owned()
            } else {
                format!("{field}.{}", x.field)
            };
        }
        v
    };
    match err {
        ApiError::Validation(v) => ApiError::Validation(fix(v)),
        ApiError::BadRequest {
            code,
            message,
            violations,
        } => ApiError::BadRequest {
            code,
            message,
            violations: fix(violations),
        },
        other => other,
    }
}

fn editable(c: &Call) -> CallEditable {
    CallEditable {
        title: c.title.clone(),
        description: c.description.clone(),
        legal_basis: c.legal_basis.clone(),
        opens_at: c.window.opens_at().fixed_offset(),
        closes_at: c.window.closes_at().fixed_offset(),
        total_budget: c.total_budget,
        rules: c.rules.clone(),
    }
}

/// Create the next edition of a call.
///
/// Administrators only: a new draft, under a new code, with the same rules. The envelopes are
/// copied when the total is the same; otherwise they are split 30/70 again.
#[utoipa::path(
    operation_id = "cloneCall",
    tag = "calls",
    params(("call_id" = Uuid, Path, description = "The call to clone")),
    request_body = CloneRequest,
    responses(
        (status = 201, description = "The new draft", body = CallView, headers(("Location" = String, description = "The new resource's path"), ("ETag" = String, description = "Its version, for If-Match"))),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Code taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rules broken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/calls/{call_id}/clone")]
pub async fn clone_call(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<CloneRequest>,
) -> Result<HttpResponse, ApiError> {
    let call = service::clone(&state.db, &caller, state.now(), path.into_inner(), || {
        let body = body.parse()?;
        Ok(service::CloneInput {
            code: body.code,
            title: body.title,
            opens_at: body.opens_at.with_timezone(&Utc),
            closes_at: body.closes_at.with_timezone(&Utc),
            total_budget: body.total_budget,
        })
    })
    .await?;
    Ok(super::created(
        format!("/api/v1/calls/{}", call.id),
        call.version,
        &CallView::new(&call, state.now()),
    ))
}

/// Publish a draft call.
///
/// Administrators only: from now on everybody sees it, and partnerships may form for it. Its
/// envelopes must add up to its total.
#[utoipa::path(
    operation_id = "publishCall",
    tag = "calls",
    params(("call_id" = Uuid, Path, description = "The call's id")),
    responses(
        (status = 200, description = "Published", body = CallView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already published", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The envelopes do not add up to the total", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/calls/{call_id}/publish")]
pub async fn publish_call(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let call = service::publish(&state.db, &caller, state.now(), path.into_inner()).await?;
    Ok(call_response(&state, &call, StatusCode::OK))
}

/// List the amendments of a call's dates.
///
/// Every amendment, oldest first, with its act number and date and the old and new values. Public
/// for a published call.
#[utoipa::path(
    operation_id = "listCallAmendments",
    tag = "calls",
    params(("call_id" = Uuid, Path, description = "The call's id")),
    responses(
        (status = 200, description = "The amendments", body = Vec<AmendmentView>),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
#[get("/calls/{call_id}/amendments")]
pub async fn list_amendments(
    state: web::Data<AppState>,
    caller: MaybeAuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let items: Vec<AmendmentView> =
        service::amendments(&state.db, caller.is_admin(), path.into_inner())
            .await?
            .iter()
            .map(AmendmentView::from)
            .collect();
    Ok(HttpResponse::Ok().json(items))
}
