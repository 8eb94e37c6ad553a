//! Calls for proposals: list, read, create, clone, publish, change (with amendments), and
//! the per-agency envelopes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, put, web};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, decode_json};
use super::{PageParams, if_match, merge_patch, with_etag};
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::domain::agency::AgencyCode;
use crate::domain::call::{
    AmendmentAct, CALL_TIME_ZONE, Call, CallEdit, CallRules, CallStatus, Envelope, EnvelopeSource,
    FieldChange, PinnedEnvelope, WindowState, apply_edit, check_call_code, check_content,
    check_envelopes, envelopes_by_split,
};
use crate::domain::money::Money;
use crate::domain::percent::Percent;
use crate::domain::{Violation, Violations};
use crate::error::{ApiError, Problem};
use crate::service::calls::call_not_found;
use crate::state::AppState;
use crate::store::calls::{self as store, Amendment, CallUpdate};

/// A call for proposals with every rule it sets.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = examples::call_view)]
pub struct CallView {
    pub id: Uuid,
    /// The call's code, e.g. the Bandi Online code `RLD12022024943`.
    #[schema(example = "RLD12022024943")]
    pub code: String,
    pub title: String,
    pub description: String,
    /// The acts the call rests on.
    #[schema(example = "D.G.R. n. 5755/2021; decreto n. 4683 del 06/04/2022")]
    pub legal_basis: String,
    pub status: CallStatus,
    /// Submissions are in time from this instant (included)...
    #[schema(example = "2022-05-04T10:00:00Z")]
    pub opens_at: DateTime<Utc>,
    /// ...to this one (excluded), as amended.
    #[schema(example = "2022-07-15T10:00:00Z")]
    pub closes_at: DateTime<Utc>,
    /// `opens_at` in the call's time zone.
    #[schema(value_type = String, example = "2022-05-04T12:00:00+02:00")]
    pub opens_at_local: DateTime<FixedOffset>,
    /// `closes_at` in the call's time zone.
    #[schema(value_type = String, example = "2022-07-15T12:00:00+02:00")]
    pub closes_at_local: DateTime<FixedOffset>,
    #[schema(example = "Europe/Rome")]
    pub time_zone: String,
    /// Where the window stands now.
    pub window_state: WindowState,
    /// Whether the rules can no longer change (published and opened).
    pub rules_locked: bool,
    pub total_budget: Money,
    /// Rankings should be approved by this date (a target, not a block).
    #[schema(example = "2022-10-13")]
    pub ranking_target_date: NaiveDate,
    pub rules: CallRules,
    /// The call this edition was cloned from.
    pub cloned_from: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

impl CallView {
    fn new(c: &Call, now: DateTime<Utc>) -> CallView {
        let local = |t: DateTime<Utc>| t.with_timezone(&CALL_TIME_ZONE).fixed_offset();
        CallView {
            id: c.id,
            code: c.code.clone(),
            title: c.title.clone(),
            description: c.description.clone(),
            legal_basis: c.legal_basis.clone(),
            status: c.status,
            opens_at: c.window.opens_at(),
            closes_at: c.window.closes_at(),
            opens_at_local: local(c.window.opens_at()),
            closes_at_local: local(c.window.closes_at()),
            time_zone: CALL_TIME_ZONE.name().to_owned(),
            window_state: c.window.state(now),
            rules_locked: c.rules_locked(now),
            total_budget: c.total_budget,
            ranking_target_date: c
                .window
                .ranking_target_date(c.rules.ranking.approval_target_days),
            rules: c.rules.clone(),
            cloned_from: c.cloned_from,
            created_at: c.created_at,
            updated_at: c.updated_at,
            published_at: c.published_at,
        }
    }
}

/// Examples of the OpenAPI document.
mod examples {
    use serde_json::{Value, json};

    pub fn call_view() -> Value {
        json!({
            "id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "code": "RLD12022024943",
            "title": "Avviso interventi di conciliazione e welfare aziendale 2022",
            "description": "Interventi di conciliazione vita-lavoro e welfare aziendale...",
            "legal_basis": "D.G.R. n. 5755/2021; decreto n. 4683 del 06/04/2022", "status": "published",
            "opens_at": "2022-05-04T10:00:00Z", "closes_at": "2022-07-15T10:00:00Z",
            "opens_at_local": "2022-05-04T12:00:00+02:00", "closes_at_local": "2022-07-15T12:00:00+02:00",
            "time_zone": "Europe/Rome", "window_state": "closed", "rules_locked": true, "total_budget": "5050000.00",
            "ranking_target_date": "2022-10-13", "rules": crate::domain::call::examples::rules(), "cloned_from": null,
            "created_at": "2022-04-06T10:00:00Z", "updated_at": "2022-06-14T15:00:00Z", "published_at": "2022-04-06T10:00:00Z"
        })
    }

    pub fn call_list() -> Value {
        json!({"items": [call_view()], "total": 1, "page": 1, "per_page": 20})
    }

    pub fn new_call() -> Value {
        json!({
            "code": "RLD-CONCILIAZIONE-2027", "title": "Avviso interventi di conciliazione e welfare aziendale 2027",
            "description": "", "legal_basis": "D.G.R. n. .../2027",
            "opens_at": "2027-05-04T12:00:00+02:00", "closes_at": "2027-07-15T12:00:00+02:00",
            "total_budget": "6000000.00", "rules": crate::domain::call::examples::rules()
        })
    }
}

/// A page of calls.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = examples::call_list)]
pub struct CallList {
    pub items: Vec<CallView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// An envelope as given by an administrator.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"agency_code": "MONTAGNA", "amount": "293580.00", "source": "official", "note": "Avviso ATS Montagna"}))]
pub struct EnvelopeInput {
    pub agency_code: AgencyCode,
    pub amount: Money,
    pub source: EnvelopeSource,
    /// Where the figure comes from, e.g. the act that set it.
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

/// A new call. Without `envelopes`, the total is split 30/70 over the agencies' populations.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = examples::new_call)]
pub struct NewCall {
    #[schema(example = "RLD-CONCILIAZIONE-2027")]
    pub code: String,
    #[schema(example = "Avviso interventi di conciliazione e welfare aziendale 2027")]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub legal_basis: String,
    /// RFC 3339 with an offset, e.g. `2027-05-04T12:00:00+02:00`.
    #[schema(value_type = String, example = "2027-05-04T12:00:00+02:00")]
    pub opens_at: DateTime<FixedOffset>,
    #[schema(value_type = String, example = "2027-07-15T12:00:00+02:00")]
    pub closes_at: DateTime<FixedOffset>,
    pub total_budget: Money,
    pub rules: CallRules,
    pub envelopes: Option<Vec<EnvelopeInput>>,
}

/// The act that amends a published call's dates.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"act_number": "decreto n. 8343", "act_date": "2022-06-14", "reason": "Proroga del termine di presentazione"}))]
pub struct AmendmentInput {
    pub act_number: String,
    pub act_date: NaiveDate,
    pub reason: Option<String>,
}

impl From<&AmendmentInput> for AmendmentAct {
    fn from(a: &AmendmentInput) -> AmendmentAct {
        AmendmentAct {
            act_number: a.act_number.trim().to_owned(),
            act_date: a.act_date,
            reason: a.reason.clone(),
        }
    }
}

/// A JSON Merge Patch of a call. Rules and budget are locked once a published call's window
/// opens; a published call's dates change only with an `amendment`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "closes_at": "2022-07-15T12:00:00+02:00",
    "amendment": {"act_number": "decreto n. 8343", "act_date": "2022-06-14", "reason": "Proroga del termine"}
}))]
pub struct CallPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub legal_basis: Option<String>,
    #[schema(value_type = Option<String>)]
    pub opens_at: Option<DateTime<FixedOffset>>,
    #[schema(value_type = Option<String>)]
    pub closes_at: Option<DateTime<FixedOffset>>,
    pub total_budget: Option<Money>,
    /// Merged into the rules (arrays are replaced whole).
    #[schema(value_type = Option<Object>)]
    pub rules: Option<serde_json::Value>,
    pub amendment: Option<AmendmentInput>,
}

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

/// A next edition, cloned from a call as a draft with the same rules.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "RLD-CONCILIAZIONE-2027", "title": "Avviso conciliazione e welfare aziendale 2027",
    "opens_at": "2027-05-04T12:00:00+02:00", "closes_at": "2027-07-15T12:00:00+02:00", "total_budget": "6000000.00"}))]
pub struct CloneRequest {
    pub code: String,
    /// Defaults to the source's title.
    pub title: Option<String>,
    #[schema(value_type = String)]
    pub opens_at: DateTime<FixedOffset>,
    #[schema(value_type = String)]
    pub closes_at: DateTime<FixedOffset>,
    /// Defaults to the source's total; the envelopes are copied when it is the same and
    /// split 30/70 otherwise.
    pub total_budget: Option<Money>,
}

/// An amendment of a call's dates.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "6d0f3b8e-2a41-4c1e-9f57-0c2b7a9e4d13", "act_number": "decreto n. 8343", "act_date": "2022-06-14", "reason": "Proroga del termine di presentazione delle domande", "changes": [{"field": "closes_at", "old_value": "2022-06-15T10:00:00Z", "new_value": "2022-07-15T10:00:00Z"}], "created_at": "2022-06-14T15:00:00Z"}))]
pub struct AmendmentView {
    pub id: Uuid,
    #[schema(example = "decreto n. 8343")]
    pub act_number: String,
    #[schema(example = "2022-06-14")]
    pub act_date: NaiveDate,
    pub reason: Option<String>,
    pub changes: Vec<FieldChange>,
    pub created_at: DateTime<Utc>,
}

impl From<&Amendment> for AmendmentView {
    fn from(a: &Amendment) -> AmendmentView {
        AmendmentView {
            id: a.id,
            act_number: a.act_number.clone(),
            act_date: a.act_date,
            reason: a.reason.clone(),
            changes: a.changes.clone(),
            created_at: a.created_at,
        }
    }
}

/// One agency's envelope.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"agency_code": "MONTAGNA", "agency_name": "ATS della Montagna", "amount": "293580.00", "source": "official", "note": "Avviso ATS Montagna"}))]
pub struct EnvelopeView {
    pub agency_code: AgencyCode,
    pub agency_name: String,
    pub amount: Money,
    pub source: EnvelopeSource,
    pub note: Option<String>,
}

/// The envelopes of a call and how they add up.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "total_budget": "5050000.00", "sum": "5050000.00", "items": [{"agency_code": "MONTAGNA", "agency_name": "ATS della Montagna", "amount": "293580.00", "source": "official", "note": "Avviso ATS Montagna"}, {"agency_code": "MILANO", "agency_name": "ATS della Città Metropolitana di Milano", "amount": "1417010.23", "source": "estimated", "note": null}]}))]
pub struct EnvelopesView {
    pub call_id: Uuid,
    pub total_budget: Money,
    /// The sum of the envelopes; equal to `total_budget` once they are set right.
    pub sum: Money,
    pub items: Vec<EnvelopeView>,
}

fn envelopes_view(call: &Call, envelopes: &[Envelope]) -> EnvelopesView {
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

/// Filters of the call list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallQuery {
    /// `draft` (administrators only) or `published`.
    pub status: Option<CallStatus>,
}

fn visible(call: Call, caller: &MaybeAuthUser) -> Result<Call, ApiError> {
    if call.status == CallStatus::Draft && !caller.is_admin() {
        return Err(call_not_found());
    }
    Ok(call)
}

async fn load_visible(
    state: &AppState,
    id: Uuid,
    caller: &MaybeAuthUser,
) -> Result<Call, ApiError> {
    let call = store::get(&state.db, id)
        .await?
        .ok_or_else(call_not_found)?;
    visible(call, caller)
}

async fn populations(state: &AppState) -> Result<Vec<(AgencyCode, u64)>, ApiError> {
    Ok(store::agencies(&state.db)
        .await?
        .into_iter()
        .filter_map(|a| {
            Some((
                AgencyCode::parse(&a.code)?,
                u64::try_from(a.population).ok()?,
            ))
        })
        .collect())
}

fn default_equal_share() -> Percent {
    Percent::from_basis_points(3000).expect("30.00 is a valid percent")
}

fn call_response(state: &AppState, call: &Call, status: StatusCode) -> HttpResponse {
    with_etag(status, call.version, &CallView::new(call, state.now()))
}

/// List the calls, newest window first. Drafts are listed for administrators only.
#[utoipa::path(
    tag = "calls",
    params(PageParams, CallQuery),
    responses(
        (status = 200, description = "A page of calls", body = CallList),
        (status = 400, description = "Bad query parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("oauth2" = []))
)]
#[get("/calls")]
pub async fn list_calls(
    state: web::Data<AppState>,
    caller: MaybeAuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<CallQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let (calls, total) = store::list(&state.db, caller.is_admin(), query.status, page).await?;
    let now = state.now();
    Ok(HttpResponse::Ok().json(CallList {
        items: calls.iter().map(|c| CallView::new(c, now)).collect(),
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Read a call with all its rules. Its `ETag` is needed to change it.
#[utoipa::path(
    tag = "calls",
    params(("call_id" = Uuid, Path, description = "The call's id")),
    responses(
        (status = 200, description = "The call", body = CallView),
        (status = 404, description = "No such call (drafts are visible to administrators only)", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("oauth2" = []))
)]
#[get("/calls/{call_id}")]
pub async fn get_call(
    state: web::Data<AppState>,
    caller: MaybeAuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let call = load_visible(&state, path.into_inner(), &caller).await?;
    Ok(call_response(&state, &call, StatusCode::OK))
}

/// Create a call as a draft. Without `envelopes`, the total is split 30/70 over the
/// agencies' populations.
#[utoipa::path(
    tag = "calls",
    request_body = NewCall,
    responses(
        (status = 201, description = "Created as a draft", body = CallView),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Code taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rules broken; every violation is listed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/calls")]
pub async fn create_call(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: Json<NewCall>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let body = body.parse()?;
    let edit = CallEdit {
        title: body.title.trim().to_owned(),
        description: body.description,
        legal_basis: body.legal_basis,
        opens_at: body.opens_at.with_timezone(&Utc),
        closes_at: body.closes_at.with_timezone(&Utc),
        total_budget: body.total_budget,
        rules: body.rules,
    };
    let mut v = Violations::new();
    v.extend(check_call_code(&body.code));
    let window = check_content(&edit).map_err(|e| v.extend(e)).ok();
    let envelopes = match &body.envelopes {
        Some(list) => {
            let es: Vec<Envelope> = list.iter().map(Envelope::from).collect();
            v.extend(check_envelopes(edit.total_budget, &es, "envelopes"));
            es
        }
        None => envelopes_by_split(
            edit.total_budget,
            default_equal_share(),
            &populations(&state).await?,
            &[],
        )
        .map_err(|e| ApiError::Validation(vec![e]))?,
    };
    let window = match window {
        Some(w) if v.is_empty() => w,
        _ => return Err(ApiError::Validation(v.into_vec())),
    };
    let now = state.now();
    let call = Call {
        id: Uuid::new_v4(),
        code: body.code,
        title: edit.title,
        description: edit.description,
        legal_basis: edit.legal_basis,
        status: CallStatus::Draft,
        window,
        total_budget: edit.total_budget,
        rules: edit.rules,
        cloned_from: None,
        version: 1,
        created_at: now,
        updated_at: now,
        published_at: None,
    };
    store::create(&state.db, &caller.actor(), now, &call, &envelopes, &[]).await?;
    Ok(call_response(&state, &call, StatusCode::CREATED))
}

/// Change a call (JSON Merge Patch with `If-Match`). A published call's dates change only
/// with an `amendment` (act number and date), which is recorded with the old and new values;
/// its rules and total are locked once its window has opened.
#[utoipa::path(
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
    security(("bearer" = []), ("oauth2" = []))
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
    let current = store::get(&state.db, id)
        .await?
        .ok_or_else(call_not_found)?;
    let mut doc = serde_json::to_value(editable(&current)).map_err(anyhow::Error::from)?;
    merge_patch(&mut doc, &patch)?;
    let edited: CallEditable = decode_json(doc.to_string().as_bytes())?;
    let act = amendment.as_ref().map(AmendmentAct::from);
    let now = state.now();
    let pops = populations(&state).await?;
    let call = store::update(
        &state.db,
        &caller.actor(),
        now,
        id,
        Some(version),
        |current, current_envelopes| {
            let edit = CallEdit {
                title: edited.title,
                description: edited.description,
                legal_basis: edited.legal_basis,
                opens_at: edited.opens_at.with_timezone(&Utc),
                closes_at: edited.closes_at.with_timezone(&Utc),
                total_budget: edited.total_budget,
                rules: edited.rules,
            };
            let (call, changes) =
                apply_edit(current, edit, act.as_ref(), now).map_err(ApiError::Validation)?;
            let amendment = act.filter(|_| !changes.is_empty()).map(|a| (a, changes));
            let action = if amendment.is_some() {
                "call.amended"
            } else {
                "call.changed"
            };
            // A new total re-splits the envelopes 30/70, keeping the official ones, so that
            // they always add up to the total.
            let envelopes = if call.total_budget != current.total_budget {
                let pinned: Vec<PinnedEnvelope> = current_envelopes
                    .iter()
                    .filter(|e| e.source == EnvelopeSource::Official)
                    .map(|e| PinnedEnvelope {
                        agency: e.agency,
                        amount: e.amount,
                        source: e.source,
                        note: e.note.clone(),
                    })
                    .collect();
                let mut split =
                    envelopes_by_split(call.total_budget, default_equal_share(), &pops, &pinned)
                        .map_err(|mut v| {
                            v.field = "total_budget".into();
                            ApiError::Validation(vec![v])
                        })?;
                split.sort_by_key(|e| e.agency.as_str());
                Some(split)
            } else {
                None
            };
            Ok(CallUpdate {
                call,
                amendment,
                envelopes,
                action,
            })
        },
    )
    .await?;
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

/// Create the next edition as a draft with the same rules (and envelopes, when the total
/// is the same; otherwise they are split 30/70).
#[utoipa::path(
    tag = "calls",
    params(("call_id" = Uuid, Path, description = "The call to clone")),
    request_body = CloneRequest,
    responses(
        (status = 201, description = "The new draft", body = CallView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Code taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rules broken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/calls/{call_id}/clone")]
pub async fn clone_call(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<CloneRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let body = body.parse()?;
    let source = store::get(&state.db, path.into_inner())
        .await?
        .ok_or_else(call_not_found)?;
    let total = body.total_budget.unwrap_or(source.total_budget);
    let edit = CallEdit {
        title: body.title.unwrap_or_else(|| source.title.clone()),
        description: source.description.clone(),
        legal_basis: String::new(),
        opens_at: body.opens_at.with_timezone(&Utc),
        closes_at: body.closes_at.with_timezone(&Utc),
        total_budget: total,
        rules: source.rules.clone(),
    };
    let mut v = Violations::new();
    v.extend(check_call_code(&body.code));
    let window = check_content(&edit).map_err(|e| v.extend(e)).ok();
    let window = match window {
        Some(w) if v.is_empty() => w,
        _ => return Err(ApiError::Validation(v.into_vec())),
    };
    let envelopes = if total == source.total_budget {
        store::envelopes(&state.db, source.id).await?
    } else {
        envelopes_by_split(
            total,
            default_equal_share(),
            &populations(&state).await?,
            &[],
        )
        .map_err(|e| ApiError::Validation(vec![e]))?
    };
    let now = state.now();
    let call = Call {
        id: Uuid::new_v4(),
        code: body.code,
        title: edit.title.trim().to_owned(),
        description: edit.description,
        legal_basis: edit.legal_basis,
        status: CallStatus::Draft,
        window,
        total_budget: total,
        rules: edit.rules,
        cloned_from: Some(source.id),
        version: 1,
        created_at: now,
        updated_at: now,
        published_at: None,
    };
    store::create(&state.db, &caller.actor(), now, &call, &envelopes, &[]).await?;
    Ok(call_response(&state, &call, StatusCode::CREATED))
}

/// Publish a draft: from now on everybody sees it. Its envelopes must add up to its total.
#[utoipa::path(
    tag = "calls",
    params(("call_id" = Uuid, Path, description = "The call's id")),
    responses(
        (status = 200, description = "Published", body = CallView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already published", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The envelopes do not add up to the total", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/calls/{call_id}/publish")]
pub async fn publish_call(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let now = state.now();
    let call = store::update(
        &state.db,
        &caller.actor(),
        now,
        path.into_inner(),
        None,
        |current, envelopes| {
            if current.status == CallStatus::Published {
                return Err(ApiError::conflict(
                    "call_already_published",
                    "The call is already published.",
                    "L'avviso è già pubblicato.",
                ));
            }
            ApiError::check(check_envelopes(
                current.total_budget,
                envelopes,
                "envelopes",
            ))?;
            let call = Call {
                status: CallStatus::Published,
                published_at: Some(now),
                ..current.clone()
            };
            Ok(CallUpdate {
                call,
                amendment: None,
                envelopes: None,
                action: "call.published",
            })
        },
    )
    .await?;
    Ok(call_response(&state, &call, StatusCode::OK))
}

/// Every amendment of a call's dates, oldest first.
#[utoipa::path(
    tag = "calls",
    params(("call_id" = Uuid, Path, description = "The call's id")),
    responses(
        (status = 200, description = "The amendments", body = Vec<AmendmentView>),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("oauth2" = []))
)]
#[get("/calls/{call_id}/amendments")]
pub async fn list_amendments(
    state: web::Data<AppState>,
    caller: MaybeAuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let call = load_visible(&state, path.into_inner(), &caller).await?;
    let items: Vec<AmendmentView> = store::amendments(&state.db, call.id)
        .await?
        .iter()
        .map(AmendmentView::from)
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

/// The envelope of each agency, its source, and their sum.
#[utoipa::path(
    tag = "calls",
    params(("call_id" = Uuid, Path, description = "The call's id")),
    responses(
        (status = 200, description = "The envelopes", body = EnvelopesView),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []), ("oauth2" = []))
)]
#[get("/calls/{call_id}/envelopes")]
pub async fn get_envelopes(
    state: web::Data<AppState>,
    caller: MaybeAuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let call = load_visible(&state, path.into_inner(), &caller).await?;
    let envelopes = store::envelopes(&state.db, call.id).await?;
    Ok(HttpResponse::Ok().json(envelopes_view(&call, &envelopes)))
}

/// Set every agency's envelope at once; they must add up to the call's total.
#[utoipa::path(
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
    security(("bearer" = []), ("oauth2" = []))
)]
#[put("/calls/{call_id}/envelopes")]
pub async fn put_envelopes(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<EnvelopesRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let envelopes: Vec<Envelope> = body.parse()?.envelopes.iter().map(Envelope::from).collect();
    let id = path.into_inner();
    let stored = store::replace_envelopes(
        &state.db,
        &caller.actor(),
        state.now(),
        id,
        "call.envelopes_set",
        |call, _| {
            ApiError::check(check_envelopes(call.total_budget, &envelopes, "envelopes"))?;
            let mut sorted = envelopes.clone();
            sorted.sort_by_key(|e| e.agency.as_str());
            Ok(sorted)
        },
    )
    .await?;
    let call = store::get(&state.db, id)
        .await?
        .ok_or_else(call_not_found)?;
    Ok(HttpResponse::Ok().json(envelopes_view(&call, &stored)))
}

/// Compute the envelopes from the call's total: a share (default 30%) in equal parts among
/// the eight agencies, the rest by population, exact to the cent (largest remainder, ties
/// by agency code). Pinned envelopes keep their amount. Stored unless `dry_run`.
#[utoipa::path(
    tag = "calls",
    params(("call_id" = Uuid, Path, description = "The call's id")),
    request_body = SplitRequest,
    responses(
        (status = 200, description = "The computed envelopes (stored unless dry_run)", body = EnvelopesView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Pinned envelopes exceed the total, or populations are missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/calls/{call_id}/envelopes/split")]
pub async fn split_envelopes(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<SplitRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let body = body.parse()?;
    let id = path.into_inner();
    let mut pops = populations(&state).await?;
    let mut v = Violations::new();
    for (i, p) in body.populations.iter().enumerate() {
        match pops.iter_mut().find(|(a, _)| *a == p.agency_code) {
            Some(entry) => entry.1 = p.population,
            None => v.add(
                format!("populations[{i}].agency_code"),
                "unknown_agency",
                "No such agency.",
                "ATS inesistente.",
            ),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, p) in body.pinned.iter().enumerate() {
        if !seen.insert(p.agency_code) {
            v.add(
                format!("pinned[{i}].agency_code"),
                "duplicate_agency",
                "An agency is pinned twice.",
                "Un'ATS è fissata due volte.",
            );
        }
    }
    ApiError::check(v.into_vec())?;
    let pinned: Vec<PinnedEnvelope> = body
        .pinned
        .iter()
        .map(|p| PinnedEnvelope {
            agency: p.agency_code,
            amount: p.amount,
            source: p.source,
            note: p.note.clone(),
        })
        .collect();
    let share = body.equal_share.unwrap_or_else(default_equal_share);
    let compute = |call: &Call| {
        envelopes_by_split(call.total_budget, share, &pops, &pinned)
            .map_err(|e| ApiError::Validation(vec![e]))
    };
    if body.dry_run {
        let call = store::get(&state.db, id)
            .await?
            .ok_or_else(call_not_found)?;
        let envelopes = compute(&call)?;
        return Ok(HttpResponse::Ok().json(envelopes_view(&call, &envelopes)));
    }
    let stored = store::replace_envelopes(
        &state.db,
        &caller.actor(),
        state.now(),
        id,
        "call.envelopes_set",
        |call, _| compute(call),
    )
    .await?;
    let call = store::get(&state.db, id)
        .await?
        .ok_or_else(call_not_found)?;
    Ok(HttpResponse::Ok().json(envelopes_view(&call, &stored)))
}

/// Move unused money from one agency's envelope to another's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from_agency_code": "PAVIA", "to_agency_code": "MONTAGNA", "amount": "50000.00", "reason": "Risorse non utilizzate da ATS Pavia (decreto n. 77)."}))]
pub struct ReallocationRequest {
    pub from_agency_code: AgencyCode,
    pub to_agency_code: AgencyCode,
    pub amount: Money,
    pub reason: String,
}

/// Move money an agency has not committed to another agency's envelope (administrators).
/// The call's total does not change; money arriving in an agency whose ranking is approved
/// goes down its reserve list at once, as a new published version.
#[utoipa::path(
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
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/calls/{call_id}/reallocations")]
pub async fn reallocate(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<ReallocationRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let id = path.into_inner();
    let body = body.parse()?;
    let call = store::get(&state.db, id)
        .await?
        .ok_or_else(call_not_found)?;
    let mut v = Violations::new();
    v.extend(crate::domain::call::check_text(
        "reason",
        &body.reason,
        2000,
    ));
    if body.from_agency_code == body.to_agency_code {
        v.add(
            "to_agency_code",
            "same_agency",
            "Money moves between two different agencies.",
            "Le risorse si spostano tra due ATS diverse.",
        );
    }
    if body.amount == Money::ZERO {
        v.add(
            "amount",
            "amount_zero",
            "The amount must be above 0.00.",
            "L'importo deve essere maggiore di 0.00.",
        );
    }
    let committed = crate::store::grants::committed(
        &crate::store::grants::of_agency(&state.db, id, body.from_agency_code).await?,
    );
    let from_amount = store::envelope_of(&state.db, id, body.from_agency_code).await?;
    let unused = from_amount.checked_sub(committed).unwrap_or(Money::ZERO);
    if body.amount > unused {
        v.add(
            "amount",
            "more_than_unused",
            format!(
                "{} has {unused} unused: no more can be moved.",
                body.from_agency_code
            ),
            format!(
                "{} ha {unused} non utilizzati: non si può spostare di più.",
                body.from_agency_code
            ),
        );
    }
    ApiError::check(v.into_vec())?;
    let note = format!(
        "{} {} from {} to {}: {}",
        "reallocation",
        body.amount,
        body.from_agency_code,
        body.to_agency_code,
        body.reason.trim()
    );
    let stored = store::replace_envelopes(
        &state.db,
        &caller.actor(),
        state.now(),
        id,
        "call.reallocated",
        |_, envelopes| {
            let mut next = envelopes.to_vec();
            for e in &mut next {
                if e.agency == body.from_agency_code {
                    e.amount = e.amount.checked_sub(body.amount).ok_or_else(|| {
                        ApiError::invalid(
                            "amount",
                            "more_than_unused",
                            "The agency has not that much unused.",
                            "L'ATS non ha tanto non utilizzato.",
                        )
                    })?;
                } else if e.agency == body.to_agency_code {
                    e.amount = e.amount.checked_add(body.amount).ok_or_else(|| {
                        ApiError::invalid(
                            "amount",
                            "amount_overflow",
                            "Too large.",
                            "Troppo grande.",
                        )
                    })?;
                    e.note = Some(note.clone());
                }
            }
            Ok(next)
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(envelopes_view(&call, &stored)))
}
