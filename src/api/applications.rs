//! Applications: drafts, annexes, submission with a receipt, withdrawal, history.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::csv::{Cell, CsvWriter};
use super::extract::{Json, decode_json};
use super::idempotency::{Claim, Recorded};
use super::{PageParams, if_match, merge_patch, with_etag};
use crate::auth::AuthUser;
use crate::domain::agency::AgencyCode;
use crate::domain::application::{
    AnnexFacts, ApplicationContent, ApplicationStatus, application_access, check_annex,
    check_shape, submission_problems, totals,
};
use crate::domain::call::{Call, CallStatus};
use crate::domain::money::Money;
use crate::domain::partnership::{Access, Member};
use crate::domain::review::ReviewStatus;
use crate::domain::user::Role;
use crate::domain::{Violation, Violations};
use crate::error::{ApiError, Lang, Problem, ProblemViolation};
use crate::state::AppState;
use crate::store::applications::{
    self as store, Application, Document, NewDocument, application_not_found,
};
use crate::store::{
    calls as calls_store, organizations as orgs_store, partnerships as partnerships_store,
    review as review_store,
};

/// A new application of a partnership, as a draft; the content may be incomplete.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "partnership_id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c",
    "content": {"agency_code": "MONTAGNA", "title": "Valtellina concilia", "summary": "Servizi di conciliazione per i dipendenti delle micro e piccole imprese della rete.",
        "intervention_areas": ["SERVIZI_CURA", "TIME_SAVING"], "start_date": "2027-01-01", "end_date": "2027-12-31",
        "employees_reached": 120, "enterprises_reached": 2,
        "budget": {"lines": [{"category": "EMPLOYEE_SERVICES", "description": "Servizi di baby-sitting e assistenza", "amount": "30000.00", "borne_by": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"},
                             {"category": "COORDINATION", "description": "Coordinamento del progetto", "amount": "5000.00", "borne_by": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"}],
                   "requested_grant": "24500.00", "co_financing": "10500.00"}}
}))]
pub struct NewApplication {
    pub partnership_id: Uuid,
    #[serde(default)]
    pub content: ApplicationContent,
}

/// The computed totals of the budget.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"total_cost": "35000.00", "max_grant": "24500.00"}))]
pub struct TotalsView {
    /// The sum of the cost lines.
    pub total_cost: Money,
    /// The largest grant the call allows for this total: the grant rate rounded down to the
    /// cent, and no more than the cap.
    pub max_grant: Money,
}

/// An application.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "partnership_id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c",
    "status": "draft", "content": {"agency_code": "MONTAGNA", "title": "Valtellina concilia", "summary": null, "intervention_areas": ["SERVIZI_CURA"],
        "start_date": null, "end_date": null, "employees_reached": null, "enterprises_reached": null, "budget": {"lines": [], "requested_grant": null, "co_financing": null}},
    "totals": {"total_cost": "0.00", "max_grant": "0.00"},
    "blocking": [{"field": "summary", "code": "missing_field", "message": "Required before submission."}],
    "protocol_number": null, "submitted_at": null, "snapshot_sha256": null, "can_manage": true,
    "review_status": null, "integration_deadline": null, "restricted": false,
    "created_at": "2026-11-28T09:00:00Z", "updated_at": "2026-11-28T09:00:00Z"
}))]
pub struct ApplicationView {
    pub id: Uuid,
    pub call_id: Uuid,
    pub partnership_id: Uuid,
    pub status: ApplicationStatus,
    pub content: ApplicationContent,
    pub totals: Option<TotalsView>,
    /// For a draft: everything that still blocks its submission now (empty when it can be
    /// submitted).
    pub blocking: Vec<ProblemViolation>,
    /// `<call code>-<6 digits>`, once submitted.
    pub protocol_number: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// SHA-256 of the canonical JSON (RFC 8785) of the submitted snapshot.
    pub snapshot_sha256: Option<String>,
    /// Whether the caller represents the lead (and so may edit, submit, withdraw).
    pub can_manage: bool,
    /// The agency's review, once submitted.
    pub review_status: Option<ReviewStatus>,
    /// End of the answer period of an open request for integration (23:59:59 Europe/Rome).
    pub integration_deadline: Option<DateTime<Utc>>,
    /// For an evaluator who has not declared on its conflict of interest (or declared one):
    /// only the protocol number and the title are shown.
    pub restricted: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A page of applications.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"items": [], "total": 0, "page": 1, "per_page": 20}))]
pub struct ApplicationList {
    pub items: Vec<ApplicationView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// Filters of the application list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApplicationQuery {
    pub call_id: Option<Uuid>,
    pub agency_code: Option<AgencyCode>,
    pub status: Option<ApplicationStatus>,
    /// An intervention area code.
    pub area: Option<String>,
    /// `json` (default) or `csv` (RFC 4180, UTF-8, dot decimals; every match, no paging).
    #[param(value_type = Option<ExportFormat>, inline)]
    pub format: Option<String>,
}

// For the document only: the handlers read `format` as text, so that another value is a 422
// naming the field.
/// The format of an export.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Csv,
}

/// The metadata of an annex kept elsewhere.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "partnership_agreement", "file_name": "accordo-partenariato.pdf", "size_bytes": 482113,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "organization_id": null}))]
pub struct DocumentInput {
    /// One of the call's annex kinds (e.g. `partnership_agreement`, `letter_of_adhesion`) or `other`.
    pub kind: String,
    pub file_name: String,
    pub size_bytes: i64,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    /// The member an annex is about (e.g. the adhering partner of a letter of adhesion).
    pub organization_id: Option<Uuid>,
}

/// An annex.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "8d7c6b5a-4f3e-4d2c-9b1a-0f9e8d7c6b5a", "kind": "partnership_agreement", "file_name": "accordo-partenariato.pdf", "size_bytes": 482113,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "organization_id": null, "created_at": "2026-11-28T09:00:00Z"}))]
pub struct DocumentView {
    pub id: Uuid,
    pub kind: String,
    pub file_name: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub organization_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<&Document> for DocumentView {
    fn from(d: &Document) -> DocumentView {
        DocumentView {
            id: d.id,
            kind: d.kind.clone(),
            file_name: d.file_name.clone(),
            size_bytes: d.size_bytes,
            sha256: d.sha256.clone(),
            organization_id: d.organization_id,
            created_at: d.created_at,
        }
    }
}

/// The receipt of a submission: nobody can alter it afterwards.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"application_id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "call_code": "RLD-DEMO-CONCILIAZIONE",
    "protocol_number": "RLD-DEMO-CONCILIAZIONE-000001", "submitted_at": "2026-11-28T10:15:00.123456Z",
    "snapshot_sha256": "4c1f0b8e2f6f2d5c9d1a7e3b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d",
    "hash_algorithm": "SHA-256 of the RFC 8785 canonical JSON of snapshot", "snapshot": {"protocol_number": "RLD-DEMO-CONCILIAZIONE-000001"}}))]
pub struct Receipt {
    pub application_id: Uuid,
    pub call_code: String,
    pub protocol_number: String,
    pub submitted_at: DateTime<Utc>,
    pub snapshot_sha256: String,
    pub hash_algorithm: String,
    /// What was submitted, members and their organization data included, as hashed; the
    /// personal tax codes of members the caller does not represent are masked.
    #[schema(value_type = Object)]
    pub snapshot: serde_json::Value,
}

/// Why an application is withdrawn.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Il partenariato ha rinunciato al progetto."}))]
pub struct WithdrawRequest {
    pub reason: String,
}

/// One status change.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"from_status": "draft", "to_status": "submitted", "at": "2026-11-28T10:15:00Z",
    "actor_id": "0b6f4d1e-3c9a-4a57-9a51-6c1f0e2d8b11", "actor_role": "applicant", "reason": "protocol RLD-DEMO-CONCILIAZIONE-000001"}))]
pub struct HistoryView {
    pub from_status: Option<String>,
    pub to_status: String,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<String>,
    pub reason: Option<String>,
}

/// An application the caller may see, with what it needs to show it.
struct Seen {
    app: Application,
    call: Call,
    access: Access,
}

/// An application the caller may see, with its call. One statement for the application
/// and its call, then one for an applicant's representation of the members, or one for an
/// evaluator's conflict declaration.
async fn seen(state: &AppState, caller: &AuthUser, id: Uuid) -> Result<Seen, ApiError> {
    // Only an applicant's access depends on the members (evaluators' on the agency).
    let reader = (caller.role == Role::Applicant).then_some(caller.id);
    let (app, call, facts) = store::get_for_reader(&state.db, id, reader)
        .await?
        .ok_or_else(application_not_found)?;
    let access = application_access(
        caller.role,
        caller.agency,
        &facts.represented,
        facts.lead,
        &facts.members,
        app.status,
        app.content.agency_code,
    )
    .ok_or_else(application_not_found)?;
    super::review::require_no_conflict(state, caller, app.id).await?;
    Ok(Seen { app, call, access })
}

/// An application the caller manages (the lead's representatives); 404 for anyone else who
/// may not, 403 for roles that never may.
async fn managed(state: &AppState, caller: &AuthUser, id: Uuid) -> Result<Seen, ApiError> {
    caller.require(&[Role::Applicant])?;
    let s = seen(state, caller, id).await?;
    if s.access != Access::Manage {
        return Err(application_not_found());
    }
    Ok(s)
}

fn localise(v: Vec<Violation>, lang: Lang) -> Vec<ProblemViolation> {
    v.into_iter()
        .map(|x| ProblemViolation {
            field: x.field,
            code: x.code.into_owned(),
            message: x.message.get(lang).to_owned(),
        })
        .collect()
}

async fn view(state: &AppState, s: &Seen) -> Result<ApplicationView, ApiError> {
    let blocking = if s.app.status == ApplicationStatus::Draft {
        let partnership = partnerships_store::get(&state.db, s.app.partnership_id)
            .await?
            .ok_or_else(application_not_found)?;
        let members: Vec<_> = partnerships_store::members_for_rules(&state.db, &partnership)
            .await?
            .into_iter()
            .map(|(m, _)| m)
            .collect();
        let annexes: Vec<AnnexFacts> = store::documents(&state.db, s.app.id)
            .await?
            .iter()
            .map(annex_facts)
            .collect();
        blocking_of(state, &s.app, &s.call, &members, &annexes)
    } else {
        vec![]
    };
    Ok(view_of(&s.app, &s.call, s.access, blocking))
}

fn annex_facts(d: &Document) -> AnnexFacts {
    AnnexFacts {
        kind: d.kind.clone(),
        organization_id: d.organization_id,
    }
}

/// Everything that blocks a draft's submission now, in the caller's language.
fn blocking_of(
    state: &AppState,
    app: &Application,
    call: &Call,
    members: &[Member],
    annexes: &[AnnexFacts],
) -> Vec<ProblemViolation> {
    localise(
        submission_problems(
            &app.content,
            &call.rules,
            &call.window,
            state.now(),
            members,
            annexes,
        ),
        crate::error::current_context().lang,
    )
}

fn view_of(
    app: &Application,
    call: &Call,
    access: Access,
    blocking: Vec<ProblemViolation>,
) -> ApplicationView {
    ApplicationView {
        id: app.id,
        call_id: app.call_id,
        partnership_id: app.partnership_id,
        status: app.status,
        content: app.content.clone(),
        totals: totals(&app.content.budget, &call.rules).map(|t| TotalsView {
            total_cost: t.total_cost,
            max_grant: t.max_grant,
        }),
        blocking,
        protocol_number: app.protocol_number.clone(),
        submitted_at: app.submitted_at,
        snapshot_sha256: app.snapshot_sha256.clone(),
        can_manage: access == Access::Manage,
        review_status: app.review_status,
        integration_deadline: app.integration_deadline,
        restricted: false,
        created_at: app.created_at,
        updated_at: app.updated_at,
    }
}

/// What an evaluator sees of an application before a declaration of no conflict.
fn restricted_view(app: &Application) -> ApplicationView {
    ApplicationView {
        id: app.id,
        call_id: app.call_id,
        partnership_id: app.partnership_id,
        status: app.status,
        content: ApplicationContent {
            title: app.content.title.clone(),
            agency_code: app.content.agency_code,
            ..Default::default()
        },
        totals: None,
        blocking: vec![],
        protocol_number: app.protocol_number.clone(),
        submitted_at: app.submitted_at,
        snapshot_sha256: None,
        can_manage: false,
        review_status: app.review_status,
        integration_deadline: app.integration_deadline,
        restricted: true,
        created_at: app.created_at,
        updated_at: app.updated_at,
    }
}

/// The receipt, as a caller may see it: the personal (16-character) tax codes of members it
/// does not represent are masked, unless it is an administrator or an evaluator.
fn receipt(
    app: &Application,
    call: &Call,
    reveal: &dyn Fn(Uuid) -> bool,
) -> Result<Receipt, ApiError> {
    let (Some(protocol), Some(at), Some(hash), Some(snapshot)) = (
        &app.protocol_number,
        app.submitted_at,
        &app.snapshot_sha256,
        &app.snapshot,
    ) else {
        return Err(ApiError::not_found(
            "receipt_not_found",
            "The application has not been submitted: it has no receipt.",
            "La domanda non è stata presentata: non ha una ricevuta.",
        ));
    };
    Ok(Receipt {
        application_id: app.id,
        call_code: call.code.clone(),
        protocol_number: protocol.clone(),
        submitted_at: at,
        snapshot_sha256: hash.clone(),
        hash_algorithm: "SHA-256 of the RFC 8785 canonical JSON of snapshot".into(),
        snapshot: {
            let mut value: serde_json::Value =
                serde_json::from_str(snapshot).map_err(anyhow::Error::from)?;
            if let Some(members) = value.get_mut("members").and_then(|m| m.as_array_mut()) {
                for m in members {
                    let id = m["organization_id"]
                        .as_str()
                        .and_then(|s| Uuid::parse_str(s).ok());
                    let code = m["tax_code"]
                        .as_str()
                        .map(crate::domain::identifiers::TaxCode::parse);
                    if let (Some(id), Some(Ok(code))) = (id, code)
                        && !reveal(id)
                    {
                        m["tax_code"] = serde_json::Value::String(code.masked());
                    }
                }
            }
            value
        },
    })
}

/// Which members' personal data a caller may see in full.
async fn revealer(
    state: &AppState,
    caller: &AuthUser,
) -> Result<Box<dyn Fn(Uuid) -> bool>, ApiError> {
    if caller.role != Role::Applicant {
        return Ok(Box::new(|_| true));
    }
    let represented = orgs_store::represented_by(&state.db, caller.id).await?;
    Ok(Box::new(move |id| represented.contains(&id)))
}

/// Answer what an operation returns (a repeated `Idempotency-Key` is the middleware's).
async fn answer<F, Fut>(run: F) -> Result<HttpResponse, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(StatusCode, serde_json::Value), ApiError>>,
{
    let (status, value) = run().await?;
    Ok(HttpResponse::build(status).json(value))
}

fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, ApiError> {
    Ok(serde_json::to_value(value).map_err(anyhow::Error::from)?)
}

/// Start an application of a partnership whose lead the caller represents, as a draft. The
/// content may be incomplete; `blocking` in the answer lists what still stops its submission.
#[utoipa::path(
    tag = "applications",
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key, e.g. a UUID")),
    request_body = NewApplication,
    responses(
        (status = 201, description = "Created as a draft", body = ApplicationView),
        (status = 403, description = "Only applicants write applications", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such partnership that the caller leads", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The partnership already has an application for the call", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown area or category, a cost borne by a non-member, dates out of order", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/applications")]
pub async fn create_application(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: Json<NewApplication>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Applicant])?;
    let body = body.parse()?;
    answer(|| async {
        let partnership = partnerships_store::get(&state.db, body.partnership_id)
            .await?
            .ok_or_else(crate::service::partnerships::partnership_not_found)?;
        let represented = orgs_store::represented_by(&state.db, caller.id).await?;
        if !partnership.lead().is_some_and(|l| represented.contains(&l)) {
            return Err(crate::service::partnerships::partnership_not_found());
        }
        let call = calls_store::get(&state.db, partnership.call_id)
            .await?
            .ok_or_else(crate::service::calls::call_not_found)?;
        if call.status != CallStatus::Published {
            return Err(crate::service::calls::call_not_found());
        }
        ApiError::check(check_shape(
            &body.content,
            &call.rules,
            &partnership.member_ids(),
        ))?;
        let app = store::create(
            &state.db,
            &caller.actor(),
            state.now(),
            &call,
            partnership.id,
            &body.content,
        )
        .await?;
        let s = Seen {
            app,
            call,
            access: Access::Manage,
        };
        Ok((StatusCode::CREATED, to_json(&view(&state, &s).await?)?))
    })
    .await
}

/// The applications the caller may see: of the partnerships its organizations belong to;
/// for evaluators, those submitted to their agency; for administrators, all. `format=csv`
/// exports every match.
#[utoipa::path(
    tag = "applications",
    params(PageParams, ApplicationQuery),
    responses(
        (status = 200, description = "A page of applications (or a CSV file)",
            content((ApplicationList = "application/json"), (String = "text/csv"))),
        (status = 400, description = "Bad filter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/applications")]
pub async fn list_applications(
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<ApplicationQuery>,
) -> Result<HttpResponse, ApiError> {
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "format",
                "unknown_format",
                "format is json or csv.",
                "format è json o csv.",
            ));
        }
    };
    let page = paging.page()?;
    if let Some(area) = &query.area
        && (!(1..=40).contains(&area.len())
            || !area
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    {
        return Err(ApiError::invalid(
            "area",
            "invalid_code",
            "An area is a code such as TIME_SAVING.",
            "Un'area è un codice come TIME_SAVING.",
        ));
    }
    let mut filter = store::Filter {
        call_id: query.call_id,
        agency: query.agency_code,
        status: query.status,
        area: query.area.clone(),
        ..Default::default()
    };
    // Only an applicant's access depends on the organizations it represents.
    let represented = if caller.role == Role::Applicant {
        orgs_store::represented_by(&state.db, caller.id).await?
    } else {
        BTreeSet::new()
    };
    match caller.role {
        Role::Admin => {}
        Role::Evaluator => {
            filter.agency_submitted = Some(caller.agency.ok_or_else(application_not_found)?);
            if csv {
                // An evaluator exports only what it may read: after declaring no conflict.
                filter.declared_no_conflict_by = Some(caller.id);
            }
        }
        Role::Applicant => filter.member_of = Some(represented.clone()),
    }
    if csv {
        return csv_export(&state, &filter).await;
    }
    let (apps, total) = store::list(&state.db, &filter, Some(page)).await?;
    // What the page needs, in a fixed number of queries whatever its size: the caller's
    // declarations (evaluators), the partnerships with their members (an applicant's access,
    // a draft's blocking problems), each call once, and for drafts the members' facts and the
    // annexes.
    let declarations = if caller.role == Role::Evaluator {
        let ids: Vec<Uuid> = apps.iter().map(|a| a.id).collect();
        review_store::declarations_of(&state.db, &ids, caller.id).await?
    } else {
        BTreeMap::new()
    };
    let readable = |a: &Application| {
        caller.role != Role::Evaluator
            || super::review::no_conflict(declarations.get(&a.id)).is_ok()
    };
    let shown: Vec<&Application> = apps.iter().filter(|a| readable(a)).collect();
    // For others than applicants the access is `Read` whatever the partnership.
    let wanted: Vec<Uuid> = shown
        .iter()
        .filter(|a| caller.role == Role::Applicant || a.status == ApplicationStatus::Draft)
        .map(|a| a.partnership_id)
        .collect::<BTreeSet<Uuid>>()
        .into_iter()
        .collect();
    let partnerships = partnerships_store::get_many(&state.db, &wanted).await?;
    let call_ids: BTreeSet<Uuid> = shown.iter().map(|a| a.call_id).collect();
    let calls = calls_store::get_many(&state.db, &call_ids).await?;
    let drafts: Vec<&Application> = shown
        .iter()
        .copied()
        .filter(|a| a.status == ApplicationStatus::Draft)
        .collect();
    let draft_partnerships: Vec<&partnerships_store::Partnership> = drafts
        .iter()
        .filter_map(|a| partnerships.get(&a.partnership_id))
        .collect();
    let members = partnerships_store::members_for_rules_of(&state.db, &draft_partnerships).await?;
    let draft_ids: Vec<Uuid> = drafts.iter().map(|a| a.id).collect();
    let annexes = store::documents_of(&state.db, &draft_ids).await?;
    let mut items = Vec::with_capacity(apps.len());
    for app in &apps {
        if !readable(app) {
            items.push(restricted_view(app));
            continue;
        }
        let partnership = partnerships.get(&app.partnership_id);
        let access = partnership
            .and_then(|p| {
                application_access(
                    caller.role,
                    caller.agency,
                    &represented,
                    p.lead(),
                    &p.member_ids(),
                    app.status,
                    app.content.agency_code,
                )
            })
            .unwrap_or(Access::Read);
        let call = calls.get(&app.call_id).ok_or_else(application_not_found)?;
        let blocking = if app.status == ApplicationStatus::Draft {
            let p = partnership.ok_or_else(application_not_found)?;
            let members: Vec<Member> = members
                .get(&p.id)
                .map(|ms| ms.iter().map(|(m, _)| m.clone()).collect())
                .unwrap_or_default();
            let annexes: Vec<AnnexFacts> = annexes
                .get(&app.id)
                .map(|ds| ds.iter().map(annex_facts).collect())
                .unwrap_or_default();
            blocking_of(&state, app, call, &members, &annexes)
        } else {
            vec![]
        };
        items.push(view_of(app, call, access, blocking));
    }
    Ok(HttpResponse::Ok().json(ApplicationList {
        items,
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Every match as CSV, written row by row as the applications are read (one query for their
/// calls, one for them), so that an export of a whole call does not hold it in memory.
async fn csv_export(state: &AppState, filter: &store::Filter) -> Result<HttpResponse, ApiError> {
    let mut out = CsvWriter::new();
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
    let calls = store::calls_of(&state.db, filter).await?;
    store::for_each(&state.db, filter, |a| {
        let call = calls.get(&a.call_id);
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
            Cell::text_or_empty(a.submitted_at.map(|t| t.to_rfc3339())),
        ])
    })
    .await?;
    out.into_response(Some("applications.csv"))
}

/// Read an application. For a draft, `blocking` lists what still stops its submission.
#[utoipa::path(
    tag = "applications",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    responses(
        (status = 200, description = "The application; its ETag is needed to change it", body = ApplicationView),
        (status = 403, description = "An evaluator who has not declared on its conflict of interest, or declared one", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:conflict_declaration_required", "title": "Forbidden", "status": 403, "code": "conflict_declaration_required",
                "detail": "Declare whether you have a conflict of interest with the partnership's members first (POST .../conflict-of-interest)."})),
        (status = 404, description = "No such application that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/applications/{application_id}")]
pub async fn get_application(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = seen(&state, &caller, path.into_inner()).await?;
    let body = view(&state, &s).await?;
    Ok(with_etag(StatusCode::OK, s.app.version, &body))
}

/// Change a draft's content (a JSON Merge Patch of `content`, with `If-Match`).
#[utoipa::path(
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
    security(("bearer" = []), ("oauth2" = []))
)]
#[patch("/applications/{application_id}")]
pub async fn patch_application(
    state: web::Data<AppState>,
    caller: AuthUser,
    req: HttpRequest,
    path: web::Path<Uuid>,
    body: Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let s = managed(&state, &caller, path.into_inner()).await?;
    let version = if_match(&req)?;
    let patch = body.parse()?;
    let partnership = partnerships_store::get(&state.db, s.app.partnership_id)
        .await?
        .ok_or_else(application_not_found)?;
    let app = store::update_draft(
        &state.db,
        &caller.actor(),
        state.now(),
        s.app.id,
        version,
        &s.call.rules,
        |current| {
            let mut doc = to_json(&current.content)?;
            merge_patch(&mut doc, &patch)?;
            let content: ApplicationContent = decode_json(doc.to_string().as_bytes())?;
            ApiError::check(check_shape(
                &content,
                &s.call.rules,
                &partnership.member_ids(),
            ))?;
            Ok(content)
        },
    )
    .await?;
    let s = Seen { app, ..s };
    let body = view(&state, &s).await?;
    Ok(with_etag(StatusCode::OK, s.app.version, &body))
}

/// Delete a draft.
#[utoipa::path(
    tag = "applications",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Only applicants delete applications", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application that the caller leads", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already submitted: withdraw it instead", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[delete("/applications/{application_id}")]
pub async fn delete_application(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = managed(&state, &caller, path.into_inner()).await?;
    store::delete_draft(&state.db, &caller.actor(), state.now(), s.app.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Record an annex (its metadata and SHA-256; the file is kept elsewhere) while a draft.
#[utoipa::path(
    tag = "applications",
    params(
        ("application_id" = Uuid, Path, description = "The application's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key, e.g. a UUID"),
    ),
    request_body = DocumentInput,
    responses(
        (status = 201, description = "Recorded", body = DocumentView),
        (status = 403, description = "Only applicants record annexes", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application that the caller leads", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already submitted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown kind, bad hash, size or file name, not a member", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/applications/{application_id}/documents")]
pub async fn add_document(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<DocumentInput>,
) -> Result<HttpResponse, ApiError> {
    let s = managed(&state, &caller, path.into_inner()).await?;
    let d = body.parse()?;
    let partnership = partnerships_store::get(&state.db, s.app.partnership_id)
        .await?
        .ok_or_else(application_not_found)?;
    let mut v = Violations::new();
    v.extend(check_annex(
        "",
        &s.call.rules,
        &d.kind,
        &d.file_name,
        d.size_bytes,
        &d.sha256,
    ));
    let name = d.file_name.trim();
    if d.organization_id
        .is_some_and(|o| !partnership.member_ids().contains(&o))
    {
        v.add(
            "organization_id",
            "not_a_member",
            "The annex is about a member of the partnership.",
            "L'allegato riguarda un membro del partenariato.",
        );
    }
    ApiError::check(v.into_vec())?;
    answer(|| async {
        let doc = store::add_document(
            &state.db,
            &caller.actor(),
            state.now(),
            s.app.id,
            NewDocument {
                kind: d.kind.clone(),
                file_name: name.to_owned(),
                size_bytes: d.size_bytes,
                sha256: d.sha256.clone(),
                organization_id: d.organization_id,
            },
        )
        .await?;
        Ok((StatusCode::CREATED, to_json(&DocumentView::from(&doc))?))
    })
    .await
}

/// The annexes of an application.
#[utoipa::path(
    tag = "applications",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    responses(
        (status = 200, description = "The annexes", body = Vec<DocumentView>),
        (status = 403, description = "An evaluator who has not declared on its conflict of interest, or declared one", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:conflict_declaration_required", "title": "Forbidden", "status": 403, "code": "conflict_declaration_required",
                "detail": "Declare whether you have a conflict of interest with the partnership's members first (POST .../conflict-of-interest)."})),
        (status = 404, description = "No such application that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/applications/{application_id}/documents")]
pub async fn list_documents(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = seen(&state, &caller, path.into_inner()).await?;
    let docs: Vec<DocumentView> = store::documents(&state.db, s.app.id)
        .await?
        .iter()
        .map(DocumentView::from)
        .collect();
    Ok(HttpResponse::Ok().json(docs))
}

/// Delete an annex while the application is a draft.
#[utoipa::path(
    tag = "applications",
    params(
        ("application_id" = Uuid, Path, description = "The application's id"),
        ("document_id" = Uuid, Path, description = "The annex's id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Only applicants delete annexes", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application or annex", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already submitted", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[delete("/applications/{application_id}/documents/{document_id}")]
pub async fn delete_document(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, document_id) = path.into_inner();
    let s = managed(&state, &caller, id).await?;
    store::delete_document(
        &state.db,
        &caller.actor(),
        state.now(),
        s.app.id,
        document_id,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Submit the application: in time when `opens_at ≤ now < closes_at` (the server's clock,
/// read inside the committing transaction), with every rule met and the partnership
/// eligible. It gets a protocol number, unique and gap-free in its call, and a receipt with
/// the SHA-256 of the canonical JSON of what was submitted. Send an `Idempotency-Key`: a
/// repeat answers the same receipt.
#[utoipa::path(
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
                               {"field": "budget.requested_grant", "code": "grant_above_rate", "message": "The grant may be at most 70.00% of the eligible total 71428.57, rounded down: 49999.99."}]})),
    ),
    security(("bearer" = []), ("oauth2" = []))
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
    let s = managed(state, caller, id).await?;
    let reveal = revealer(state, caller).await?;
    let claim = Claim::of(req);
    let mut answer = None;
    store::submit(&state.db, &caller.actor(), &state.clock, s.app.id, |app| {
        let value = to_json(&receipt(app, &s.call, &*reveal)?)?;
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

/// The receipt of a submitted application, again, exactly as issued.
#[utoipa::path(
    tag = "applications",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    responses(
        (status = 200, description = "The receipt", body = Receipt),
        (status = 403, description = "An evaluator who has not declared on its conflict of interest, or declared one", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:conflict_declaration_required", "title": "Forbidden", "status": 403, "code": "conflict_declaration_required",
                "detail": "Declare whether you have a conflict of interest with the partnership's members first (POST .../conflict-of-interest)."})),
        (status = 404, description = "No such application, or not submitted", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/applications/{application_id}/receipt")]
pub async fn get_receipt(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = seen(&state, &caller, path.into_inner()).await?;
    let reveal = revealer(&state, &caller).await?;
    Ok(HttpResponse::Ok().json(receipt(&s.app, &s.call, &*reveal)?))
}

/// Withdraw a submitted application, with a reason (possible until its ranking is approved).
#[utoipa::path(
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
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/applications/{application_id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<WithdrawRequest>,
) -> Result<HttpResponse, ApiError> {
    let s = managed(&state, &caller, path.into_inner()).await?;
    let body = body.parse()?;
    ApiError::check(
        crate::domain::call::check_text("reason", &body.reason, 2000)
            .into_iter()
            .collect(),
    )?;
    answer(|| async {
        let app = store::withdraw(
            &state.db,
            &caller.actor(),
            state.now(),
            s.app.id,
            body.reason.trim(),
        )
        .await?;
        let s = Seen { app, ..s };
        Ok((StatusCode::OK, to_json(&view(&state, &s).await?)?))
    })
    .await
}

/// Every status change of an application: who, when and why.
#[utoipa::path(
    tag = "applications",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    responses(
        (status = 200, description = "The history, oldest first", body = Vec<HistoryView>),
        (status = 403, description = "An evaluator who has not declared on its conflict of interest, or declared one", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:conflict_declaration_required", "title": "Forbidden", "status": 403, "code": "conflict_declaration_required",
                "detail": "Declare whether you have a conflict of interest with the partnership's members first (POST .../conflict-of-interest)."})),
        (status = 404, description = "No such application that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/applications/{application_id}/history")]
pub async fn history(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let s = seen(&state, &caller, path.into_inner()).await?;
    let items: Vec<HistoryView> = store::history(&state.db, s.app.id)
        .await?
        .into_iter()
        .map(|h| HistoryView {
            from_status: h.from_status,
            to_status: h.to_status,
            at: h.at,
            actor_id: h.actor_id,
            actor_role: h.actor_role,
            reason: h.reason,
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}
