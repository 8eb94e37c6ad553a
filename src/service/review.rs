//! The agencies' review: conflict-of-interest declarations, admissibility decisions and the
//! applicants' answers to requests for integration, evaluations, consensus scores.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde_json::json;
use uuid::Uuid;

use super::events;
use crate::auth::AuthUser;
use crate::clock::Clock;
use crate::domain::ErrorCode;
use crate::domain::Violations;
use crate::domain::application::{ApplicationStatus, application_access, check_annex};
use crate::domain::call::{Call, check_text};
use crate::domain::event::Actor;
use crate::domain::event::review::ReviewEvent;
use crate::domain::event::{DomainEvent, EventKind};
use crate::domain::points::Points;
use crate::domain::review::{
    self, CriterionScore, Decision, ReviewStatus, ScoreOutcome, check_scores, deadline_after,
};
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::service::applications::application_not_found;
use crate::store::partnerships::Partnership;
use crate::store::review::NewStep;
use crate::store::{self, applications, calls, organizations, partnerships};

pub use crate::store::applications::Application;
pub use crate::store::organizations::Organization;
pub use crate::store::review::{Consensus, Declaration, Evaluation};

/// An application the caller may see at all, with its call and partnership; 404 otherwise.
async fn visible(
    db: &DatabaseConnection,
    caller: &AuthUser,
    id: Uuid,
) -> Result<(Application, Call, Partnership), ApiError> {
    let app = applications::get(db, id)
        .await?
        .ok_or_else(application_not_found)?;
    let partnership = partnerships::get(db, app.partnership_id)
        .await?
        .ok_or_else(application_not_found)?;
    let represented = organizations::represented_by(db, caller.id).await?;
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
    let call = calls::get(db, app.call_id)
        .await?
        .ok_or_else(application_not_found)?;
    Ok((app, call, partnership))
}

/// For evaluators: the declaration must exist and declare no conflict.
pub async fn require_no_conflict(
    db: &DatabaseConnection,
    caller: &AuthUser,
    application_id: Uuid,
) -> Result<(), ApiError> {
    if caller.role != Role::Evaluator {
        return Ok(());
    }
    no_conflict(
        store::review::declaration(db, application_id, caller.id)
            .await?
            .as_ref(),
    )
}

/// An evaluator's declaration on an application allows working on it: it exists and declares
/// no conflict.
fn no_conflict(declaration: Option<&Declaration>) -> Result<(), ApiError> {
    Ok(review::may_work(declaration.map(|d| d.has_conflict))?)
}

/// What an evaluator sees before declaring.
pub struct ConflictSummary {
    pub application: Application,
    /// The partnership's members.
    pub members: Vec<Organization>,
    /// Conflicts the service can see.
    pub hints: Vec<String>,
    /// The caller's declaration, once made.
    pub declaration: Option<Declaration>,
}

/// Before declaring, an evaluator (or an administrator) sees the application's protocol
/// number, title and members, with the conflicts the service can see.
pub async fn conflict_summary(
    db: &DatabaseConnection,
    caller: &AuthUser,
    id: Uuid,
) -> Result<ConflictSummary, ApiError> {
    caller.require(&[Role::Evaluator, Role::Admin])?;
    let (app, _, partnership) = visible(db, caller, id).await?;
    let members = organizations::get_many(
        db,
        &partnership.member_ids().into_iter().collect::<Vec<_>>(),
    )
    .await?;
    let represented = organizations::represented_by(db, caller.id).await?;
    let hints = review::conflict_hints(
        &represented,
        members.iter().map(|o| (o.id, o.facts.legal_name.as_str())),
    );
    let declaration = store::review::declaration(db, app.id, caller.id).await?;
    Ok(ConflictSummary {
        application: app,
        members,
        hints,
        declaration,
    })
}

/// A conflict-of-interest declaration as an evaluator makes it.
pub struct NewDeclaration {
    pub has_conflict: bool,
    pub statement: Option<String>,
}

fn already_declared() -> ApiError {
    ApiError::from(ErrorCode::AlreadyDeclared)
}

/// Record the caller's (an evaluator's) declaration on an application, once. The request is
/// read (`parse`) once the caller may declare on it.
pub async fn declare(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<NewDeclaration, ApiError>,
) -> Result<Declaration, ApiError> {
    caller.require(&[Role::Evaluator])?;
    let (app, _, _) = visible(db, caller, id).await?;
    let NewDeclaration {
        has_conflict,
        statement,
    } = parse()?;
    if let Some(s) = &statement {
        ApiError::check(check_text("statement", s, 2000).into_iter().collect())?;
    }
    let declaration = Declaration {
        has_conflict,
        statement,
        declared_at: now,
    };
    let tx = store::begin_write(db).await?;
    if store::review::declaration(&tx, app.id, caller.id)
        .await?
        .is_some()
    {
        return Err(already_declared());
    }
    store::review::insert_declaration(&tx, app.id, caller.id, &declaration)
        .await
        .map_err(|e| {
            if store::is_unique_violation(&e) {
                ApiError::from(ErrorCode::AlreadyDeclared.worded(
                    "You have already declared on this application.",
                    "Ha già reso la dichiarazione su questa domanda.",
                ))
            } else {
                e.into()
            }
        })?;
    events::record(
        &tx,
        &caller.actor(),
        now,
        DomainEvent {
            kind: EventKind::Review(ReviewEvent::ConflictDeclared),
            entity_type: "application",
            entity_id: app.id,
            before: None,
            after: Some(
                json!({"evaluator_id": caller.id, "has_conflict": declaration.has_conflict, "statement": declaration.statement}),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(declaration)
}

fn require_submitted(app: &Application) -> Result<ReviewStatus, ApiError> {
    match (app.status, app.review_status) {
        (ApplicationStatus::Submitted, Some(r)) => Ok(r),
        _ => Err(ApiError::from(ErrorCode::NotUnderReview)),
    }
}

/// An admissibility decision with what goes with it.
pub struct AdmissibilityInput {
    pub decision: Decision,
    pub reasons: Vec<String>,
    pub note: Option<String>,
    pub question: Option<String>,
}

/// Decide an application's admissibility (or ask for an integration), in one transaction
/// with its history, its event and the applicant's notice. Evaluators of its agency decide,
/// once they have declared no conflict; the request is read (`parse`) after those checks.
pub async fn decide_admissibility(
    db: &DatabaseConnection,
    caller: &AuthUser,
    clock: &Arc<dyn Clock>,
    id: Uuid,
    parse: impl FnOnce() -> Result<AdmissibilityInput, ApiError>,
) -> Result<Application, ApiError> {
    caller.require(&[Role::Evaluator, Role::Admin])?;
    let (app, call, _) = visible(db, caller, id).await?;
    if caller.role == Role::Admin {
        return Err(review::decide(
            Role::Admin,
            ReviewStatus::Pending,
            Decision::Admitted,
            None,
            clock.now(),
        )
        .unwrap_err()
        .into());
    }
    require_no_conflict(db, caller, app.id).await?;
    let input = parse()?;
    ApiError::check(review::check_admissibility(
        input.decision,
        &input.reasons,
        input.note.as_deref(),
        input.question.as_deref(),
        &call.rules.inadmissibility_reasons,
    ))?;
    let integration_days = call.rules.deadlines.integration_days;
    let actor = caller.actor();
    let application_id = app.id;
    let tx = store::begin_write(db).await?;
    let app = applications::lock(&tx, application_id)
        .await?
        .ok_or_else(application_not_found)?;
    let current = require_submitted(&app)?;
    let now = clock.now();
    let role = actor.role.unwrap_or(Role::Applicant);
    let next = review::decide(role, current, input.decision, app.integration_deadline, now)?;
    let deadline =
        (next == ReviewStatus::IntegrationRequested).then(|| deadline_after(now, integration_days));
    store::applications::set_review_status(&tx, application_id, next, deadline, now).await?;
    store::review::insert_step(
        &tx,
        NewStep {
            application_id,
            step: next.as_str(),
            reasons: &input.reasons,
            note: input.note.clone(),
            question: input.question.clone(),
            deadline,
            answer: None,
            documents: None,
            actor_id: actor.user_id,
            at: now,
        },
    )
    .await?;
    let why = match next {
        ReviewStatus::Inadmissible => Some(
            format!(
                "{} {}",
                input.reasons.join(", "),
                input.note.clone().unwrap_or_default()
            )
            .trim()
            .to_owned(),
        ),
        ReviewStatus::IntegrationRequested => input.question.clone(),
        _ => input.note.clone(),
    };
    applications::record_history(
        &tx,
        application_id,
        Some(current.as_str()),
        next.as_str(),
        &actor,
        now,
        why.clone(),
    )
    .await?;
    let after = json!({"review_status": next, "reasons": input.reasons, "note": input.note, "question": input.question, "deadline": deadline.as_ref().map(crate::domain::timestamp::format)});
    events::record(
        &tx,
        &actor,
        now,
        DomainEvent {
            kind: EventKind::Review(ReviewEvent::AdmissibilityDecided {
                next,
                protocol: app.protocol_number.clone().unwrap_or_default(),
                question: input.question,
                deadline,
                why,
            }),
            entity_type: "application",
            entity_id: application_id,
            before: Some(json!({"review_status": current})),
            after: Some(after),
        },
    )
    .await?;
    tx.commit().await?;
    applications::get(db, application_id)
        .await?
        .ok_or_else(application_not_found)
}

/// The metadata of an annex of an answer, kept elsewhere.
pub struct Annex {
    pub kind: String,
    pub file_name: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub organization_id: Option<Uuid>,
}

/// The applicant's answer to a request for integration.
pub struct IntegrationInput {
    pub answer: String,
    pub documents: Vec<Annex>,
}

/// The applicant's answer to a request for integration (the lead's representatives), before
/// its deadline: it reopens the case, and the agency's evaluators hear of it.
pub async fn answer_integration(
    db: &DatabaseConnection,
    caller: &AuthUser,
    clock: &Arc<dyn Clock>,
    id: Uuid,
    parse: impl FnOnce() -> Result<IntegrationInput, ApiError>,
) -> Result<Application, ApiError> {
    caller.require(&[Role::Applicant])?;
    let (app, call, partnership) = visible(db, caller, id).await?;
    let represented = organizations::represented_by(db, caller.id).await?;
    if !partnership.lead().is_some_and(|l| represented.contains(&l)) {
        return Err(application_not_found());
    }
    let input = parse()?;
    let mut v = Violations::new();
    v.extend(check_text("answer", &input.answer, 10_000));
    for (i, d) in input.documents.iter().enumerate() {
        v.extend(check_annex(
            &format!("documents[{i}]"),
            &call.rules,
            &d.kind,
            &d.file_name,
            d.size_bytes,
            &d.sha256,
        ));
    }
    ApiError::check(v.into_vec())?;
    let documents = json!(input.documents.iter().map(|d| json!({"kind": d.kind, "file_name": d.file_name, "size_bytes": d.size_bytes, "sha256": d.sha256, "organization_id": d.organization_id})).collect::<Vec<_>>());
    let answer = input.answer.trim();
    let actor = caller.actor();
    let application_id = app.id;
    let tx = store::begin_write(db).await?;
    let app = applications::lock(&tx, application_id)
        .await?
        .ok_or_else(application_not_found)?;
    let current =
        require_submitted(&app).map_err(|_| ApiError::from(ErrorCode::IntegrationClosed))?;
    let now = clock.now();
    let next = review::answer_integration(Role::Applicant, current, app.integration_deadline, now)?;
    store::applications::set_review_status(&tx, application_id, next, None, now).await?;
    store::review::insert_step(
        &tx,
        NewStep {
            application_id,
            step: "integration_answered",
            reasons: &[],
            note: None,
            question: None,
            deadline: None,
            answer: Some(answer.to_owned()),
            documents: Some(documents.clone()),
            actor_id: actor.user_id,
            at: now,
        },
    )
    .await?;
    applications::record_history(
        &tx,
        application_id,
        Some(current.as_str()),
        next.as_str(),
        &actor,
        now,
        Some("integration answered".into()),
    )
    .await?;
    events::record(
        &tx,
        &actor,
        now,
        DomainEvent {
            kind: EventKind::Review(ReviewEvent::IntegrationAnswered {
                agency: app.content.agency_code,
                protocol: app.protocol_number.clone().unwrap_or_default(),
            }),
            entity_type: "application",
            entity_id: application_id,
            before: Some(json!({"review_status": current})),
            after: Some(json!({"review_status": next, "answer": answer, "documents": documents})),
        },
    )
    .await?;
    tx.commit().await?;
    applications::get(db, application_id)
        .await?
        .ok_or_else(application_not_found)
}

/// An evaluator's scores, draft or final.
pub struct NewEvaluation {
    pub scores: Vec<CriterionScore>,
    pub make_final: bool,
}

/// Refuse an administrator a scoring step: administrators watch but never score.
fn admins_never_score() -> ApiError {
    review::may_score(Role::Admin, ReviewStatus::Admitted)
        .unwrap_err()
        .into()
}

/// Save the caller's (an evaluator's) evaluation, draft or final; a final one is immutable.
/// The request is read (`parse`) once the caller may score the application.
pub async fn save_evaluation(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<NewEvaluation, ApiError>,
) -> Result<Evaluation, ApiError> {
    caller.require(&[Role::Evaluator, Role::Admin])?;
    let (app, call, _) = visible(db, caller, id).await?;
    if caller.role == Role::Admin {
        return Err(admins_never_score());
    }
    require_no_conflict(db, caller, app.id).await?;
    let NewEvaluation { scores, make_final } = parse()?;
    ApiError::check(check_scores(&call.rules.scoring, &scores, make_final))?;
    let actor = caller.actor();
    let application_id = app.id;
    let tx = store::begin_write(db).await?;
    let app = applications::lock(&tx, application_id)
        .await?
        .ok_or_else(application_not_found)?;
    let current = require_submitted(&app)?;
    review::may_score(actor.role.unwrap_or(Role::Applicant), current)?;
    super::rankings::ensure_not_approved(&tx, &app).await?;
    let (evaluation_id, before) =
        match store::review::revision_of(&tx, application_id, caller.id).await? {
            Some(e) if e.is_final => {
                return Err(ApiError::from(ErrorCode::EvaluationFinal));
            }
            Some(e) => {
                store::review::update_evaluation(&tx, &e, &scores, make_final, now).await?;
                (e.id, Some(e.snapshot))
            }
            None => {
                let evaluation_id = Uuid::new_v4();
                store::review::insert_evaluation(
                    &tx,
                    evaluation_id,
                    application_id,
                    caller.id,
                    &scores,
                    make_final,
                    now,
                )
                .await?;
                (evaluation_id, None)
            }
        };
    events::record(
        &tx,
        &actor,
        now,
        DomainEvent {
            kind: EventKind::Review(ReviewEvent::EvaluationSaved),
            entity_type: "evaluation",
            entity_id: evaluation_id,
            before,
            after: Some(
                json!({"application_id": application_id, "scores": scores, "status": store::review::status_of(make_final)}),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    store::review::evaluation(db, evaluation_id)
        .await?
        .ok_or_else(application_not_found)
}

/// The evaluations of an application, its consensus and its score.
pub struct Scores {
    pub evaluations: Vec<Evaluation>,
    pub consensus: Option<Consensus>,
    pub outcome: ScoreOutcome,
    pub final_evaluations: usize,
    /// The call's threshold.
    pub threshold: Points,
    /// The call's number of final evaluations the average needs.
    pub evaluators_required: u32,
}

async fn scores(
    db: &DatabaseConnection,
    application_id: Uuid,
    call: &Call,
) -> Result<Scores, ApiError> {
    let evaluations = store::review::evaluations(db, application_id).await?;
    let consensus = store::review::consensus(db, application_id).await?;
    let finals: Vec<Vec<CriterionScore>> = evaluations
        .iter()
        .filter(|e| e.is_final)
        .map(|e| e.scores.clone())
        .collect();
    let outcome = review::application_score(
        &call.rules.scoring,
        &finals,
        consensus.as_ref().map(|c| c.scores.as_slice()),
    );
    Ok(Scores {
        evaluations,
        consensus,
        outcome,
        final_evaluations: finals.len(),
        threshold: call.rules.scoring.threshold,
        evaluators_required: call.rules.scoring.evaluators_required,
    })
}

/// The evaluations of an application, its consensus and its score: for whoever may see the
/// application (evaluators once they declared no conflict), applicants once the agency's
/// ranking is approved.
pub async fn evaluations(
    db: &DatabaseConnection,
    caller: &AuthUser,
    id: Uuid,
) -> Result<Scores, ApiError> {
    let (app, call, _) = visible(db, caller, id).await?;
    let published = match app.content.agency_code {
        Some(agency) => store::rankings::approved(db, app.call_id, agency).await?,
        None => false,
    };
    if caller.role == Role::Applicant && !published {
        return Err(ApiError::from(ErrorCode::ResultsNotPublished));
    }
    require_no_conflict(db, caller, app.id).await?;
    scores(db, app.id, &call).await
}

/// Reopen a final evaluation (administrators), with a reason: it becomes a draft again. The
/// request (`parse`: the reason) is read once the caller may.
pub async fn reopen(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    application_id: Uuid,
    evaluation_id: Uuid,
    parse: impl FnOnce() -> Result<String, ApiError>,
) -> Result<Evaluation, ApiError> {
    caller.require_admin()?;
    let (app, _, _) = visible(db, caller, application_id).await?;
    let reason = parse()?;
    ApiError::check(check_text("reason", &reason, 2000).into_iter().collect())?;
    let reason = reason.trim();
    let application_id = app.id;
    let tx = store::begin_write(db).await?;
    let app = applications::get(&tx, application_id)
        .await?
        .ok_or_else(application_not_found)?;
    super::rankings::ensure_not_approved(&tx, &app).await?;
    let e = store::review::revision(&tx, application_id, evaluation_id)
        .await?
        .ok_or_else(|| ApiError::from(ErrorCode::EvaluationNotFound))?;
    if !e.is_final {
        return Err(ApiError::from(ErrorCode::EvaluationNotFinal));
    }
    store::review::reopen(&tx, &e, reason, now).await?;
    events::record(
        &tx,
        &caller.actor(),
        now,
        DomainEvent {
            kind: EventKind::Review(ReviewEvent::EvaluationReopened),
            entity_type: "evaluation",
            entity_id: evaluation_id,
            before: Some(json!({"status": "final"})),
            after: Some(json!({"status": "draft", "reason": reason})),
        },
    )
    .await?;
    tx.commit().await?;
    store::review::evaluation(db, evaluation_id)
        .await?
        .ok_or_else(application_not_found)
}

/// The agency's consensus score with its reasons.
pub struct NewConsensus {
    pub scores: Vec<CriterionScore>,
    pub reasons: String,
}

/// Record (or replace) the agency's consensus score of an application (its evaluators, once
/// they declared no conflict): it replaces the average. Answers the scores now.
pub async fn set_consensus(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<NewConsensus, ApiError>,
) -> Result<Scores, ApiError> {
    caller.require(&[Role::Evaluator, Role::Admin])?;
    let (app, call, _) = visible(db, caller, id).await?;
    if caller.role == Role::Admin {
        return Err(admins_never_score());
    }
    require_no_conflict(db, caller, app.id).await?;
    let NewConsensus { scores: s, reasons } = parse()?;
    let mut v = Violations::new();
    v.extend(check_scores(&call.rules.scoring, &s, true));
    v.extend(check_text("reasons", &reasons, 5000));
    ApiError::check(v.into_vec())?;
    let actor = caller.actor();
    let application_id = app.id;
    record_consensus(db, &actor, now, application_id, s, reasons.trim()).await?;
    scores(db, application_id, &call).await
}

async fn record_consensus(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    application_id: Uuid,
    scores: Vec<CriterionScore>,
    reasons: &str,
) -> Result<(), ApiError> {
    let tx = store::begin_write(db).await?;
    let app = applications::lock(&tx, application_id)
        .await?
        .ok_or_else(application_not_found)?;
    let current = require_submitted(&app)?;
    review::may_score(actor.role.unwrap_or(Role::Applicant), current)?;
    super::rankings::ensure_not_approved(&tx, &app).await?;
    let before = store::review::consensus(&tx, application_id).await?;
    let after = json!({"scores": scores, "reasons": reasons});
    store::review::replace_consensus(
        &tx,
        application_id,
        &Consensus {
            scores,
            reasons: reasons.to_owned(),
            decided_by: actor.user_id,
            decided_at: now,
        },
    )
    .await?;
    events::record(
        &tx,
        actor,
        now,
        DomainEvent {
            kind: EventKind::Review(ReviewEvent::ConsensusSet),
            entity_type: "application",
            entity_id: application_id,
            before: before.map(|b| json!({"scores": b.scores, "reasons": b.reasons})),
            after: Some(after),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
