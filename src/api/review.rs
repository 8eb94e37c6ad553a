//! The agencies' review: conflict of interest, admissibility, integration, scores, consensus;
//! and every user's inbox.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageParams;
use super::applications::DocumentInput;
use super::extract::Json;
use crate::auth::AuthUser;
use crate::domain::Violations;
use crate::domain::application::application_access;
use crate::domain::call::{Call, check_text};
use crate::domain::review::{
    CriterionScore, Decision, ReviewStatus, ScoreMethod, application_score, check_scores, total,
};
use crate::domain::user::Role;
use crate::error::{ApiError, Problem};
use crate::service::applications::application_not_found;
use crate::state::AppState;
use crate::store::applications::{self as apps_store, Application};
use crate::store::review::{self as store, AdmissibilityInput, Declaration};
use crate::store::{
    calls as calls_store, notifications, organizations as orgs_store,
    partnerships as partnerships_store,
};

/// A conflict-of-interest declaration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"has_conflict": false, "statement": "Non ho rapporti con i membri del partenariato."}))]
pub struct DeclarationInput {
    /// True bars the evaluator from this application.
    pub has_conflict: bool,
    pub statement: Option<String>,
}

/// A member, as an evaluator sees it before declaring.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"organization_id": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", "legal_name": "Comune di Sondrio (demo)", "tax_code": "90000000019"}))]
pub struct MemberSummary {
    pub organization_id: Uuid,
    pub legal_name: String,
    pub tax_code: String,
}

/// What an evaluator sees before declaring: protocol, title, members; hints of conflicts
/// the service can see; its declaration, once made.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"application_id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "protocol_number": "RLD-DEMO-CONCILIAZIONE-000001",
    "title": "Valtellina concilia", "members": [{"organization_id": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", "legal_name": "Comune di Sondrio (demo)", "tax_code": "90000000019"}],
    "hints": [], "declaration": null}))]
pub struct ConflictView {
    pub application_id: Uuid,
    pub protocol_number: Option<String>,
    pub title: Option<String>,
    pub members: Vec<MemberSummary>,
    /// Conflicts the service can see, e.g. the evaluator represents one of the members.
    pub hints: Vec<String>,
    pub declaration: Option<DeclarationView>,
}

/// A stored declaration.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"has_conflict": false, "statement": null, "declared_at": "2026-11-28T10:00:00Z"}))]
pub struct DeclarationView {
    pub has_conflict: bool,
    pub statement: Option<String>,
    pub declared_at: DateTime<Utc>,
}

impl From<Declaration> for DeclarationView {
    fn from(d: Declaration) -> DeclarationView {
        DeclarationView {
            has_conflict: d.has_conflict,
            statement: d.statement,
            declared_at: d.declared_at,
        }
    }
}

/// An admissibility decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision": "integration_requested", "question": "Allegare l'accordo di partenariato firmato da tutti i membri."}))]
pub struct AdmissibilityRequest {
    pub decision: Decision,
    /// For `inadmissible`: codes from the call's checklist.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Free text; required with the reason `other`.
    pub note: Option<String>,
    /// For `integration_requested`: what the applicant must provide.
    pub question: Option<String>,
}

/// The applicant's answer to a request for integration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"answer": "Alleghiamo l'accordo firmato.", "documents": [{"kind": "partnership_agreement", "file_name": "accordo-firmato.pdf", "size_bytes": 512000,
    "sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", "organization_id": null}]}))]
pub struct IntegrationAnswer {
    pub answer: String,
    #[serde(default)]
    pub documents: Vec<DocumentInput>,
}

/// The review state of an application.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"application_id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "review_status": "integration_requested", "integration_deadline": "2026-12-08T22:59:59Z"}))]
pub struct ReviewView {
    pub application_id: Uuid,
    pub review_status: Option<ReviewStatus>,
    /// End of the answer period of an open request for integration (23:59:59 Europe/Rome).
    pub integration_deadline: Option<DateTime<Utc>>,
}

impl From<&Application> for ReviewView {
    fn from(a: &Application) -> ReviewView {
        ReviewView {
            application_id: a.id,
            review_status: a.review_status,
            integration_deadline: a.integration_deadline,
        }
    }
}

/// The caller's scores.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"scores": [{"criterion": "QUALITY", "score": "21.5", "justification": "Proposta chiara e coerente."}], "final": false}))]
pub struct EvaluationInput {
    pub scores: Vec<CriterionScore>,
    /// Final evaluations score every criterion and are immutable.
    #[serde(default)]
    pub r#final: bool,
}

/// An evaluation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "1f2e3d4c-5b6a-4978-8c7d-6e5f4a3b2c1d", "evaluator_id": "0b6f4d1e-3c9a-4a57-9a51-6c1f0e2d8b11",
    "scores": [{"criterion": "QUALITY", "score": "21.5", "justification": "Proposta chiara e coerente."}], "total": "21.5", "final": false,
    "finalized_at": null, "reopened_reason": null, "updated_at": "2026-11-28T10:00:00Z"}))]
pub struct EvaluationView {
    pub id: Uuid,
    pub evaluator_id: Uuid,
    pub scores: Vec<CriterionScore>,
    #[schema(value_type = String)]
    pub total: Decimal,
    pub r#final: bool,
    pub finalized_at: Option<DateTime<Utc>>,
    pub reopened_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::Evaluation> for EvaluationView {
    fn from(e: store::Evaluation) -> EvaluationView {
        EvaluationView {
            id: e.id,
            evaluator_id: e.evaluator_id,
            total: total(&e.scores),
            scores: e.scores,
            r#final: e.is_final,
            finalized_at: e.finalized_at,
            reopened_reason: e.reopened_reason,
            updated_at: e.updated_at,
        }
    }
}

/// A consensus score with its reasons.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"scores": [{"criterion": "QUALITY", "score": "20.0", "justification": "Valutazione condivisa."}], "reasons": "Sintesi concordata dopo il confronto tra i valutatori."}))]
pub struct ConsensusInput {
    pub scores: Vec<CriterionScore>,
    pub reasons: String,
}

/// The application's score and what follows.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"method": "average", "score": "72.25", "threshold": "60.0", "eligible": true, "gap_flag": false,
    "final_evaluations": 2, "evaluators_required": 2}))]
pub struct ScoreView {
    pub method: ScoreMethod,
    /// Rounded half-up to two decimals.
    #[schema(value_type = Option<String>)]
    pub score: Option<Decimal>,
    pub threshold: crate::domain::points::Points,
    pub eligible: Option<bool>,
    /// The evaluators' totals differ by more than the call allows: to be discussed.
    pub gap_flag: bool,
    pub final_evaluations: u32,
    pub evaluators_required: u32,
}

/// The evaluations of an application and its score.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"evaluations": [], "consensus": null, "outcome": {"method": "pending", "score": null, "threshold": "60.0", "eligible": null,
    "gap_flag": false, "final_evaluations": 0, "evaluators_required": 2}}))]
pub struct EvaluationsView {
    pub evaluations: Vec<EvaluationView>,
    pub consensus: Option<ConsensusView>,
    pub outcome: ScoreView,
}

/// A recorded consensus.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"scores": [], "reasons": "Sintesi concordata.", "decided_by": null, "decided_at": "2026-11-28T10:00:00Z"}))]
pub struct ConsensusView {
    pub scores: Vec<CriterionScore>,
    pub reasons: String,
    pub decided_by: Option<Uuid>,
    pub decided_at: DateTime<Utc>,
}

/// A reason, for reopening an evaluation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Punteggio del criterio QUALITY trascritto in modo errato."}))]
pub struct ReopenRequest {
    pub reason: String,
}

/// A notice of the caller's inbox.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8", "kind": "admissibility_integration_requested",
    "message": "The agency asks you to complete application RLD-DEMO-CONCILIAZIONE-000001: ... Answer by 08/12/2026 23:59:59 (Europe/Rome).",
    "data": {"application_id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "deadline": "2026-12-08T22:59:59Z"}, "created_at": "2026-11-28T10:00:00Z", "read_at": null}))]
pub struct NotificationView {
    pub id: Uuid,
    pub kind: String,
    /// In the language of `Accept-Language`.
    pub message: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// A page of notices.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"items": [], "total": 0, "page": 1, "per_page": 20}))]
pub struct NotificationList {
    pub items: Vec<NotificationView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// Filters of the inbox.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Only the notices not yet read.
    pub unread: Option<bool>,
}

/// An application the caller may see at all, with its call; 404 otherwise.
async fn visible(
    state: &AppState,
    caller: &AuthUser,
    id: Uuid,
) -> Result<(Application, Call, partnerships_store::Partnership), ApiError> {
    let app = apps_store::get(&state.db, id)
        .await?
        .ok_or_else(application_not_found)?;
    let partnership = partnerships_store::get(&state.db, app.partnership_id)
        .await?
        .ok_or_else(application_not_found)?;
    let represented = orgs_store::represented_by(&state.db, caller.id).await?;
    application_access(
        caller.role,
        caller.agency,
        &represented,
        partnership.lead(),
        &partnership.member_ids(),
        app.status,
        app.content.agency_code,
    )
    .ok_or_else(application_not_found)?;
    let call = calls_store::get(&state.db, app.call_id)
        .await?
        .ok_or_else(application_not_found)?;
    Ok((app, call, partnership))
}

/// For evaluators: the declaration must exist and declare no conflict.
pub async fn require_no_conflict(
    state: &AppState,
    caller: &AuthUser,
    application_id: Uuid,
) -> Result<(), ApiError> {
    if caller.role != Role::Evaluator {
        return Ok(());
    }
    no_conflict(
        store::declaration(&state.db, application_id, caller.id)
            .await?
            .as_ref(),
    )
}

/// An evaluator's declaration on an application allows working on it: it exists and declares
/// no conflict.
pub fn no_conflict(declaration: Option<&store::Declaration>) -> Result<(), ApiError> {
    match declaration {
        None => Err(ApiError::forbidden(
            "conflict_declaration_required",
            "Declare whether you have a conflict of interest with the partnership's members first (POST .../conflict-of-interest).",
            "Dichiarare prima l'eventuale conflitto di interessi con i membri del partenariato (POST .../conflict-of-interest).",
        )),
        Some(d) if d.has_conflict => Err(ApiError::forbidden(
            "conflict_declared",
            "You declared a conflict of interest: you may not work on this application.",
            "Ha dichiarato un conflitto di interessi: non può lavorare su questa domanda.",
        )),
        Some(_) => Ok(()),
    }
}

/// Before declaring, an evaluator sees the protocol number, the title and the members' names
/// and tax codes, with the conflicts the service can see.
#[utoipa::path(
    tag = "review",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    responses(
        (status = 200, description = "What the declaration is about", body = ConflictView),
        (status = 403, description = "Only evaluators declare", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application submitted to the caller's agency", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/applications/{application_id}/conflict-of-interest")]
pub async fn conflict_summary(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Evaluator, Role::Admin])?;
    let (app, _, partnership) = visible(&state, &caller, path.into_inner()).await?;
    let orgs = orgs_store::get_many(
        &state.db,
        &partnership.member_ids().into_iter().collect::<Vec<_>>(),
    )
    .await?;
    let represented: BTreeSet<Uuid> = orgs_store::represented_by(&state.db, caller.id).await?;
    let hints = orgs
        .iter()
        .filter(|o| represented.contains(&o.id))
        .map(|o| {
            format!(
                "You represent {}, a member of this partnership.",
                o.facts.legal_name
            )
        })
        .collect();
    let declaration = store::declaration(&state.db, app.id, caller.id)
        .await?
        .map(DeclarationView::from);
    Ok(HttpResponse::Ok().json(ConflictView {
        application_id: app.id,
        protocol_number: app.protocol_number.clone(),
        title: app.content.title.clone(),
        members: orgs
            .iter()
            .map(|o| MemberSummary {
                organization_id: o.id,
                legal_name: o.facts.legal_name.clone(),
                tax_code: o.facts.tax_code.as_str().to_owned(),
            })
            .collect(),
        hints,
        declaration,
    }))
}

/// Declare whether the caller has a conflict of interest with the partnership's members.
/// Required before reading the content, deciding admissibility or scoring; a conflict bars
/// the evaluator from the application. Made once.
#[utoipa::path(
    tag = "review",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    request_body = DeclarationInput,
    responses(
        (status = 201, description = "Declared", body = DeclarationView),
        (status = 403, description = "Only evaluators declare", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application submitted to the caller's agency", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already declared", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/applications/{application_id}/conflict-of-interest")]
pub async fn declare(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<DeclarationInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Evaluator])?;
    let (app, _, _) = visible(&state, &caller, path.into_inner()).await?;
    let body = body.parse()?;
    if let Some(s) = &body.statement {
        ApiError::check(check_text("statement", s, 2000).into_iter().collect())?;
    }
    let d = store::declare(
        &state.db,
        &caller.actor(),
        state.now(),
        app.id,
        caller.id,
        body.has_conflict,
        body.statement,
    )
    .await?;
    Ok(HttpResponse::Created().json(DeclarationView::from(d)))
}

/// Decide admissibility: `admitted`; `inadmissible` with reasons from the call's checklist;
/// or `integration_requested` with a question, which gives the applicant the call's number
/// of calendar days, until 23:59:59 Europe/Rome, to answer. Once that deadline has passed
/// unanswered, the case can be closed as inadmissible.
#[utoipa::path(
    tag = "review",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    request_body = AdmissibilityRequest,
    responses(
        (status = 200, description = "Decided", body = ReviewView),
        (status = 403, description = "Not an evaluator (administrators never decide), or no conflict declaration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application submitted to the caller's agency", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided, or an integration is pending", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Reasons missing or not in the checklist, a question missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/applications/{application_id}/admissibility")]
pub async fn admissibility(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<AdmissibilityRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Evaluator, Role::Admin])?;
    let (app, call, _) = visible(&state, &caller, path.into_inner()).await?;
    if caller.role == Role::Admin {
        return Err(crate::domain::review::decide(
            Role::Admin,
            crate::domain::review::ReviewStatus::Pending,
            Decision::Admitted,
            None,
            state.now(),
        )
        .unwrap_err()
        .into());
    }
    require_no_conflict(&state, &caller, app.id).await?;
    let body = body.parse()?;
    let mut v = Violations::new();
    match body.decision {
        Decision::Inadmissible => {
            if body.reasons.is_empty() {
                v.add(
                    "reasons",
                    "reasons_required",
                    "Give at least one reason from the call's checklist.",
                    "Indicare almeno un motivo dalla lista dell'avviso.",
                );
            }
            for (i, r) in body.reasons.iter().enumerate() {
                if !call.rules.inadmissibility_reasons.contains(r) {
                    v.add(
                        format!("reasons[{i}]"),
                        "unknown_reason",
                        format!(
                            "{r} is not in the call's checklist: {}.",
                            call.rules.inadmissibility_reasons.join(", ")
                        ),
                        format!(
                            "{r} non è nella lista dell'avviso: {}.",
                            call.rules.inadmissibility_reasons.join(", ")
                        ),
                    );
                }
            }
            if body.reasons.iter().any(|r| r == "other")
                && body.note.as_deref().is_none_or(|n| n.trim().is_empty())
            {
                v.add(
                    "note",
                    "note_required",
                    "The reason `other` needs a note.",
                    "Il motivo `other` richiede una nota.",
                );
            }
        }
        Decision::IntegrationRequested => {
            if body.question.as_deref().is_none_or(|q| q.trim().is_empty()) {
                v.add(
                    "question",
                    "question_required",
                    "Say what the applicant must provide.",
                    "Indicare cosa deve fornire il richiedente.",
                );
            }
        }
        Decision::Admitted => {}
    }
    for (field, value) in [("note", &body.note), ("question", &body.question)] {
        if let Some(text) = value
            && text.chars().count() > 5000
        {
            v.add(
                field,
                "invalid_text",
                "At most 5000 characters.",
                "Al massimo 5000 caratteri.",
            );
        }
    }
    ApiError::check(v.into_vec())?;
    let app = store::decide_admissibility(
        &state.db,
        &caller.actor(),
        &state.clock,
        app.id,
        AdmissibilityInput {
            decision: body.decision,
            reasons: body.reasons,
            note: body.note,
            question: body.question,
            integration_days: call.rules.deadlines.integration_days,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(ReviewView::from(&app)))
}

/// Answer a request for integration (the lead's representatives), before its deadline: the
/// text and the metadata of the annexes; the case goes back to the agency.
#[utoipa::path(
    tag = "review",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    request_body = IntegrationAnswer,
    responses(
        (status = 200, description = "Answered: the case is open again", body = ReviewView),
        (status = 403, description = "Only applicants answer requests for integration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application that the caller leads", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No open request, or its deadline has passed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No answer, bad annex metadata", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/applications/{application_id}/integration")]
pub async fn integration(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<IntegrationAnswer>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Applicant])?;
    let (app, call, partnership) = visible(&state, &caller, path.into_inner()).await?;
    let represented = orgs_store::represented_by(&state.db, caller.id).await?;
    if !partnership.lead().is_some_and(|l| represented.contains(&l)) {
        return Err(application_not_found());
    }
    let body = body.parse()?;
    let mut v = Violations::new();
    v.extend(check_text("answer", &body.answer, 10_000));
    for (i, d) in body.documents.iter().enumerate() {
        v.extend(crate::domain::application::check_annex(
            &format!("documents[{i}]"),
            &call.rules,
            &d.kind,
            &d.file_name,
            d.size_bytes,
            &d.sha256,
        ));
    }
    ApiError::check(v.into_vec())?;
    let documents = serde_json::json!(body.documents.iter().map(|d| serde_json::json!({"kind": d.kind, "file_name": d.file_name, "size_bytes": d.size_bytes, "sha256": d.sha256, "organization_id": d.organization_id})).collect::<Vec<_>>());
    let app = store::answer_integration(
        &state.db,
        &caller.actor(),
        &state.clock,
        app.id,
        body.answer.trim(),
        documents,
    )
    .await?;
    Ok(HttpResponse::Ok().json(ReviewView::from(&app)))
}

/// Save the caller's scores, as a draft or final: one per criterion of the grid, one
/// decimal at most, within the criterion's bounds, each with a justification. A final
/// evaluation scores every criterion and is immutable (an administrator may reopen it).
#[utoipa::path(
    tag = "review",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    request_body = EvaluationInput,
    responses(
        (status = 200, description = "Saved", body = EvaluationView),
        (status = 403, description = "Not an evaluator (administrators never score), or no conflict declaration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application submitted to the caller's agency", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not admitted, or already final", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A criterion not in the grid, out of bounds, two decimals, no justification", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[put("/applications/{application_id}/evaluations/mine")]
pub async fn save_evaluation(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<EvaluationInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Evaluator, Role::Admin])?;
    let (app, call, _) = visible(&state, &caller, path.into_inner()).await?;
    if caller.role == Role::Admin {
        return Err(
            crate::domain::review::may_score(Role::Admin, ReviewStatus::Admitted)
                .unwrap_err()
                .into(),
        );
    }
    require_no_conflict(&state, &caller, app.id).await?;
    let body = body.parse()?;
    ApiError::check(check_scores(
        &call.rules.scoring,
        &body.scores,
        body.r#final,
    ))?;
    let e = store::save_mine(
        &state.db,
        &caller.actor(),
        state.now(),
        app.id,
        caller.id,
        &body.scores,
        body.r#final,
    )
    .await?;
    Ok(HttpResponse::Ok().json(EvaluationView::from(e)))
}

async fn score_view(
    state: &AppState,
    app: &Application,
    call: &Call,
) -> Result<EvaluationsView, ApiError> {
    let evaluations = store::evaluations(&state.db, app.id).await?;
    let consensus = store::consensus(&state.db, app.id).await?;
    let finals: Vec<Vec<CriterionScore>> = evaluations
        .iter()
        .filter(|e| e.is_final)
        .map(|e| e.scores.clone())
        .collect();
    let outcome = application_score(
        &call.rules.scoring,
        &finals,
        consensus.as_ref().map(|c| c.scores.as_slice()),
    );
    Ok(EvaluationsView {
        outcome: ScoreView {
            method: outcome.method,
            score: outcome.score,
            threshold: call.rules.scoring.threshold,
            eligible: outcome.eligible,
            gap_flag: outcome.gap_flag,
            final_evaluations: finals.len() as u32,
            evaluators_required: call.rules.scoring.evaluators_required,
        },
        evaluations: evaluations.into_iter().map(EvaluationView::from).collect(),
        consensus: consensus.map(|c| ConsensusView {
            scores: c.scores,
            reasons: c.reasons,
            decided_by: c.decided_by,
            decided_at: c.decided_at,
        }),
    })
}

/// The evaluations of an application, its consensus if any, and its score: the average of
/// the final evaluations (at least the call's number) rounded half-up to two decimals, or
/// the consensus; eligible when it reaches the threshold. Applicants see them once the
/// ranking is approved.
#[utoipa::path(
    tag = "review",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    responses(
        (status = 200, description = "Evaluations and score", body = EvaluationsView),
        (status = 403, description = "No conflict declaration, or results not yet published to applicants", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/applications/{application_id}/evaluations")]
pub async fn list_evaluations(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (app, call, _) = visible(&state, &caller, path.into_inner()).await?;
    let published = match app.content.agency_code {
        Some(agency) => crate::store::rankings::approved(&state.db, app.call_id, agency).await?,
        None => false,
    };
    if caller.role == Role::Applicant && !published {
        return Err(ApiError::forbidden(
            "results_not_published",
            "Scores are shown to applicants once the agency's ranking is approved.",
            "I punteggi sono visibili ai richiedenti dopo l'approvazione della graduatoria dell'ATS.",
        ));
    }
    require_no_conflict(&state, &caller, app.id).await?;
    Ok(HttpResponse::Ok().json(score_view(&state, &app, &call).await?))
}

/// Reopen a final evaluation (administrators), with a reason; it becomes a draft again.
#[utoipa::path(
    tag = "review",
    params(
        ("application_id" = Uuid, Path, description = "The application's id"),
        ("evaluation_id" = Uuid, Path, description = "The evaluation's id"),
    ),
    request_body = ReopenRequest,
    responses(
        (status = 200, description = "Reopened", body = EvaluationView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such evaluation", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not final", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/applications/{application_id}/evaluations/{evaluation_id}/reopen")]
pub async fn reopen(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<ReopenRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let (id, evaluation_id) = path.into_inner();
    let (app, _, _) = visible(&state, &caller, id).await?;
    let body = body.parse()?;
    ApiError::check(
        check_text("reason", &body.reason, 2000)
            .into_iter()
            .collect(),
    )?;
    let e = store::reopen(
        &state.db,
        &caller.actor(),
        state.now(),
        app.id,
        evaluation_id,
        body.reason.trim(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(EvaluationView::from(e)))
}

/// Record the agency's consensus score, with its reasons: it replaces the average.
#[utoipa::path(
    tag = "review",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    request_body = ConsensusInput,
    responses(
        (status = 200, description = "Recorded; the evaluations and the score now", body = EvaluationsView),
        (status = 403, description = "Not an evaluator, or no conflict declaration", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application submitted to the caller's agency", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not admitted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Scores break the grid, or no reasons", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[put("/applications/{application_id}/consensus")]
pub async fn put_consensus(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<ConsensusInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Evaluator, Role::Admin])?;
    let (app, call, _) = visible(&state, &caller, path.into_inner()).await?;
    if caller.role == Role::Admin {
        return Err(
            crate::domain::review::may_score(Role::Admin, ReviewStatus::Admitted)
                .unwrap_err()
                .into(),
        );
    }
    require_no_conflict(&state, &caller, app.id).await?;
    let body = body.parse()?;
    let mut v = Violations::new();
    v.extend(check_scores(&call.rules.scoring, &body.scores, true));
    v.extend(check_text("reasons", &body.reasons, 5000));
    ApiError::check(v.into_vec())?;
    store::set_consensus(
        &state.db,
        &caller.actor(),
        state.now(),
        app.id,
        &body.scores,
        body.reasons.trim(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(score_view(&state, &app, &call).await?))
}

/// The caller's inbox, newest first.
#[utoipa::path(
    tag = "notifications",
    params(PageParams, NotificationQuery),
    responses(
        (status = 200, description = "A page of notices", body = NotificationList),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/notifications")]
pub async fn list_notifications(
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<NotificationQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let lang = crate::error::current_context().lang;
    let (items, total) =
        notifications::list(&state.db, caller.id, query.unread.unwrap_or(false), page).await?;
    Ok(HttpResponse::Ok().json(NotificationList {
        items: items
            .into_iter()
            .map(|n| NotificationView {
                id: n.id,
                kind: n.kind,
                message: n.message.get(lang).to_owned(),
                data: n.data,
                created_at: n.created_at,
                read_at: n.read_at,
            })
            .collect(),
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Mark a notice of the caller's inbox as read.
#[utoipa::path(
    tag = "notifications",
    params(("notification_id" = Uuid, Path, description = "The notice's id")),
    responses(
        (status = 204, description = "Marked read"),
        (status = 404, description = "No such notice in the caller's inbox", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/notifications/{notification_id}/read")]
pub async fn read_notification(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    notifications::mark_read(&state.db, caller.id, path.into_inner(), state.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}
