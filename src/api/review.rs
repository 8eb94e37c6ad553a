//! The agencies' review: conflict of interest, admissibility, integration, scores, consensus.

use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::applications::DocumentInput;
use super::extract::Json;
use crate::auth::AuthUser;
use crate::domain::review::{CriterionScore, Decision, ReviewStatus, ScoreMethod, total};
use crate::domain::score::Score;
use crate::error::{ApiError, Problem};
use crate::service::review::{
    self as service, AdmissibilityInput, Annex, Application, Declaration, Evaluation,
    IntegrationInput, NewConsensus, NewDeclaration, NewEvaluation, Scores,
};
use crate::state::AppState;

/// A conflict-of-interest declaration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"has_conflict": false, "statement": "Non ho rapporti con i membri del partenariato."}))]
pub struct DeclarationInput {
    /// True bars the evaluator from this application.
    pub has_conflict: bool,
    #[schema(max_length = 2000)]
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
#[schema(example = json!({"has_conflict": false, "statement": null, "declared_at": "2026-11-28T10:00:00.000000Z"}))]
pub struct DeclarationView {
    pub has_conflict: bool,
    pub statement: Option<String>,
    #[serde(with = "crate::domain::timestamp")]
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
    #[schema(max_length = 5000)]
    pub note: Option<String>,
    /// For `integration_requested`: what the applicant must provide.
    #[schema(max_length = 5000)]
    pub question: Option<String>,
}

/// The applicant's answer to a request for integration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"answer": "Alleghiamo l'accordo firmato.", "documents": [{"kind": "partnership_agreement", "file_name": "accordo-firmato.pdf", "size_bytes": 512000,
    "sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", "organization_id": null}]}))]
pub struct IntegrationAnswer {
    #[schema(max_length = 10000)]
    pub answer: String,
    #[serde(default)]
    pub documents: Vec<DocumentInput>,
}

/// The review state of an application.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"application_id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "review_status": "integration_requested", "integration_deadline": "2026-12-08T22:59:59.000000Z"}))]
pub struct ReviewView {
    pub application_id: Uuid,
    pub review_status: Option<ReviewStatus>,
    /// End of the answer period of an open request for integration (23:59:59 Europe/Rome).
    #[serde(with = "crate::domain::timestamp::option")]
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
    "finalized_at": null, "reopened_reason": null, "updated_at": "2026-11-28T10:00:00.000000Z"}))]
pub struct EvaluationView {
    pub id: Uuid,
    pub evaluator_id: Uuid,
    pub scores: Vec<CriterionScore>,
    pub total: Score,
    pub r#final: bool,
    #[serde(with = "crate::domain::timestamp::option")]
    pub finalized_at: Option<DateTime<Utc>>,
    pub reopened_reason: Option<String>,
    #[serde(with = "crate::domain::timestamp")]
    pub updated_at: DateTime<Utc>,
}

impl From<Evaluation> for EvaluationView {
    fn from(e: Evaluation) -> EvaluationView {
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
    #[schema(max_length = 5000)]
    pub reasons: String,
}

/// The application's score and what follows.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"method": "average", "score": "72.25", "threshold": "60.0", "eligible": true, "gap_flag": false,
    "final_evaluations": 2, "evaluators_required": 2}))]
pub struct ScoreView {
    pub method: ScoreMethod,
    /// Rounded half-up to two decimals.
    pub score: Option<Score>,
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
#[schema(example = json!({"scores": [], "reasons": "Sintesi concordata.", "decided_by": null, "decided_at": "2026-11-28T10:00:00.000000Z"}))]
pub struct ConsensusView {
    pub scores: Vec<CriterionScore>,
    pub reasons: String,
    pub decided_by: Option<Uuid>,
    #[serde(with = "crate::domain::timestamp")]
    pub decided_at: DateTime<Utc>,
}

/// A reason, for reopening an evaluation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Punteggio del criterio QUALITY trascritto in modo errato."}))]
pub struct ReopenRequest {
    #[schema(max_length = 2000)]
    pub reason: String,
}

/// Show what a conflict-of-interest declaration is about.
///
/// Before declaring, an evaluator of the application's agency sees its protocol number, its title
/// and the members' names and tax codes, with the conflicts the service can see. Nothing else of
/// the content is shown until the declaration.
#[utoipa::path(
    operation_id = "getConflictOfInterest",
    tag = "review",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    responses(
        (status = 200, description = "What the declaration is about", body = ConflictView),
        (status = 403, description = "Only evaluators declare", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application submitted to the caller's agency", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/applications/{application_id}/conflict-of-interest")]
pub async fn conflict_summary(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let summary = service::conflict_summary(&state.db, &caller, path.into_inner()).await?;
    let app = summary.application;
    Ok(HttpResponse::Ok().json(ConflictView {
        application_id: app.id,
        protocol_number: app.protocol_number.clone(),
        title: app.content.title.clone(),
        members: summary
            .members
            .iter()
            .map(|o| MemberSummary {
                organization_id: o.id,
                legal_name: o.facts.legal_name.clone(),
                tax_code: o.facts.tax_code.as_str().to_owned(),
            })
            .collect(),
        hints: summary.hints,
        declaration: summary.declaration.map(DeclarationView::from),
    }))
}

/// Declare on a conflict of interest with an application.
///
/// Whether the caller, an evaluator of the application's agency, has a conflict of interest with
/// the partnership's members. The declaration is required before reading the content, deciding
/// admissibility or scoring; a conflict bars the evaluator from the application. It is made once
/// and cannot be changed.
#[utoipa::path(
    operation_id = "declareConflictOfInterest",
    tag = "review",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    request_body = DeclarationInput,
    responses(
        (status = 201, description = "Declared", body = DeclarationView),
        (status = 403, description = "Only evaluators declare", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application submitted to the caller's agency", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already declared", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/applications/{application_id}/conflict-of-interest")]
pub async fn declare(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<DeclarationInput>,
) -> Result<HttpResponse, ApiError> {
    let d = service::declare(&state.db, &caller, state.now(), path.into_inner(), || {
        let body = body.parse()?;
        Ok(NewDeclaration {
            has_conflict: body.has_conflict,
            statement: body.statement,
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(DeclarationView::from(d)))
}

/// Decide an application's admissibility.
///
/// By an evaluator of the application's agency who has declared no conflict of interest. `admitted`
/// opens the scoring; `inadmissible` needs reasons from the call's checklist;
/// `integration_requested` needs a question, and gives the applicant the call's number of calendar
/// days, until 23:59:59 Europe/Rome, to answer. Once that deadline has passed unanswered, the case
/// can be closed as inadmissible.
#[utoipa::path(
    operation_id = "decideAdmissibility",
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
    security(("bearer" = []))
)]
#[post("/applications/{application_id}/admissibility")]
pub async fn admissibility(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<AdmissibilityRequest>,
) -> Result<HttpResponse, ApiError> {
    let app =
        service::decide_admissibility(&state.db, &caller, &state.clock, path.into_inner(), || {
            let body = body.parse()?;
            Ok(AdmissibilityInput {
                decision: body.decision,
                reasons: body.reasons,
                note: body.note,
                question: body.question,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(ReviewView::from(&app)))
}

/// Answer a request for integration.
///
/// By the lead's representatives, before the request's deadline: the answer's text and the metadata
/// of the annexes it adds. The case goes back to the agency, which then decides admissibility.
#[utoipa::path(
    operation_id = "answerIntegrationRequest",
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
    security(("bearer" = []))
)]
#[post("/applications/{application_id}/integration")]
pub async fn integration(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<IntegrationAnswer>,
) -> Result<HttpResponse, ApiError> {
    let app =
        service::answer_integration(&state.db, &caller, &state.clock, path.into_inner(), || {
            let body = body.parse()?;
            Ok(IntegrationInput {
                answer: body.answer,
                documents: body
                    .documents
                    .into_iter()
                    .map(|d| Annex {
                        kind: d.kind,
                        file_name: d.file_name,
                        size_bytes: d.size_bytes,
                        sha256: d.sha256,
                        organization_id: d.organization_id,
                    })
                    .collect(),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(ReviewView::from(&app)))
}

/// Save the caller's evaluation of an application.
///
/// As a draft or final: one score per criterion of the grid, with one decimal at most, within the
/// criterion's bounds, each with a justification. A final evaluation scores every criterion and is
/// immutable; only an administrator may reopen it. Only for an admitted application, by an
/// evaluator of its agency who has declared no conflict of interest.
#[utoipa::path(
    operation_id = "saveMyEvaluation",
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
    security(("bearer" = []))
)]
#[put("/applications/{application_id}/evaluations/mine")]
pub async fn save_evaluation(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<EvaluationInput>,
) -> Result<HttpResponse, ApiError> {
    let e = service::save_evaluation(&state.db, &caller, state.now(), path.into_inner(), || {
        let body = body.parse()?;
        Ok(NewEvaluation {
            scores: body.scores,
            make_final: body.r#final,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(EvaluationView::from(e)))
}

impl From<Scores> for EvaluationsView {
    fn from(s: Scores) -> EvaluationsView {
        EvaluationsView {
            outcome: ScoreView {
                method: s.outcome.method,
                score: s.outcome.score,
                threshold: s.threshold,
                eligible: s.outcome.eligible,
                gap_flag: s.outcome.gap_flag,
                final_evaluations: s.final_evaluations as u32,
                evaluators_required: s.evaluators_required,
            },
            evaluations: s
                .evaluations
                .into_iter()
                .map(EvaluationView::from)
                .collect(),
            consensus: s.consensus.map(|c| ConsensusView {
                scores: c.scores,
                reasons: c.reasons,
                decided_by: c.decided_by,
                decided_at: c.decided_at,
            }),
        }
    }
}

/// List an application's evaluations and its score.
///
/// The evaluations, the consensus if any, and the score: the average of the final evaluations (at
/// least the call's number of them) rounded half-up to two decimals, or the consensus; the
/// application is eligible when its score reaches the call's threshold. Evaluators of its agency
/// see them after their conflict declaration; applicants, once the ranking is approved.
#[utoipa::path(
    operation_id = "listEvaluations",
    tag = "review",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    responses(
        (status = 200, description = "Evaluations and score", body = EvaluationsView),
        (status = 403, description = "No conflict declaration, or results not yet published to applicants", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/applications/{application_id}/evaluations")]
pub async fn list_evaluations(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let scores = service::evaluations(&state.db, &caller, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(EvaluationsView::from(scores)))
}

/// Reopen a final evaluation.
///
/// Administrators only, with a reason: the evaluation becomes a draft again, and its evaluator may
/// change it and make it final anew.
#[utoipa::path(
    operation_id = "reopenEvaluation",
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
    security(("bearer" = []))
)]
#[post("/applications/{application_id}/evaluations/{evaluation_id}/reopen")]
pub async fn reopen(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<ReopenRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, evaluation_id) = path.into_inner();
    let e = service::reopen(&state.db, &caller, state.now(), id, evaluation_id, || {
        Ok(body.parse()?.reason)
    })
    .await?;
    Ok(HttpResponse::Ok().json(EvaluationView::from(e)))
}

/// Record the agency's consensus score.
///
/// One score per criterion of the call's grid, with the reasons for it: the consensus replaces the
/// average of the final evaluations as the application's score. Only for an admitted application,
/// by an evaluator of its agency who has declared no conflict of interest.
#[utoipa::path(
    operation_id = "setConsensus",
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
    security(("bearer" = []))
)]
#[put("/applications/{application_id}/consensus")]
pub async fn put_consensus(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<ConsensusInput>,
) -> Result<HttpResponse, ApiError> {
    let scores = service::set_consensus(&state.db, &caller, state.now(), path.into_inner(), || {
        let body = body.parse()?;
        Ok(NewConsensus {
            scores: body.scores,
            reasons: body.reasons,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(EvaluationsView::from(scores)))
}
