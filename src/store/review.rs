//! The agencies' review: conflict declarations, admissibility steps, evaluations, consensus.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set, StreamTrait, sea_query::Query,
};
use serde_json::json;
use uuid::Uuid;

use super::applications::{self, Application, record_history};
use super::audit::{self, Actor, Change};
use super::{begin_write, notifications};
use crate::clock::Clock;
use crate::domain::agency::AgencyCode;
use crate::domain::application::ApplicationStatus;
use crate::domain::review::{
    self, CriterionScore, Decision, Refusal, ReviewStatus, deadline_after,
};
use crate::domain::user::Role;
use crate::domain::violation::Msg;
use crate::entity::{application, conflict_declaration, consensus_score, evaluation, review_step};
use crate::error::ApiError;
use crate::service::applications::application_not_found;

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        if r.forbidden {
            ApiError::Forbidden {
                code: r.code,
                message: r.message,
            }
        } else {
            ApiError::Conflict {
                code: r.code,
                message: r.message,
            }
        }
    }
}

/// A conflict-of-interest declaration.
#[derive(Debug, Clone)]
pub struct Declaration {
    pub has_conflict: bool,
    pub statement: Option<String>,
    pub declared_at: DateTime<Utc>,
}

pub async fn declaration(
    db: &DatabaseConnection,
    application_id: Uuid,
    evaluator_id: Uuid,
) -> Result<Option<Declaration>, DbErr> {
    Ok(
        conflict_declaration::Entity::find_by_id((application_id, evaluator_id))
            .one(db)
            .await?
            .map(|d| Declaration {
                has_conflict: d.has_conflict,
                statement: d.statement,
                declared_at: d.declared_at,
            }),
    )
}

/// An evaluator's declarations on several applications (e.g. a page of the list), in one query.
pub async fn declarations_of(
    db: &DatabaseConnection,
    application_ids: &[Uuid],
    evaluator_id: Uuid,
) -> Result<BTreeMap<Uuid, Declaration>, DbErr> {
    if application_ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    Ok(conflict_declaration::Entity::find()
        .filter(conflict_declaration::Column::EvaluatorId.eq(evaluator_id))
        .filter(conflict_declaration::Column::ApplicationId.is_in(application_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|d| {
            (
                d.application_id,
                Declaration {
                    has_conflict: d.has_conflict,
                    statement: d.statement,
                    declared_at: d.declared_at,
                },
            )
        })
        .collect())
}

/// Record an evaluator's declaration, once.
pub async fn declare(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    application_id: Uuid,
    evaluator_id: Uuid,
    has_conflict: bool,
    statement: Option<String>,
) -> Result<Declaration, ApiError> {
    let tx = begin_write(db).await?;
    if conflict_declaration::Entity::find_by_id((application_id, evaluator_id))
        .one(&tx)
        .await?
        .is_some()
    {
        return Err(ApiError::conflict(
            "already_declared",
            "You have already declared on this application; a declaration is not changed.",
            "Ha già reso la dichiarazione su questa domanda; una dichiarazione non si modifica.",
        ));
    }
    conflict_declaration::ActiveModel {
        application_id: Set(application_id),
        evaluator_id: Set(evaluator_id),
        has_conflict: Set(has_conflict),
        statement: Set(statement.clone()),
        declared_at: Set(now),
    }
    .insert(&tx)
    .await
    .map_err(|e| {
        if super::is_unique_violation(&e) {
            ApiError::conflict(
                "already_declared",
                "You have already declared on this application.",
                "Ha già reso la dichiarazione su questa domanda.",
            )
        } else {
            e.into()
        }
    })?;
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "application.conflict_declared",
            entity_type: "application",
            entity_id: application_id.to_string(),
            before: None,
            after: Some(json!({"evaluator_id": evaluator_id, "has_conflict": has_conflict, "statement": statement})),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Declaration {
        has_conflict,
        statement,
        declared_at: now,
    })
}

/// An admissibility decision with what goes with it.
pub struct AdmissibilityInput {
    pub decision: Decision,
    pub reasons: Vec<String>,
    pub note: Option<String>,
    pub question: Option<String>,
    pub integration_days: u32,
}

fn require_submitted(app: &Application) -> Result<ReviewStatus, ApiError> {
    match (app.status, app.review_status) {
        (ApplicationStatus::Submitted, Some(r)) => Ok(r),
        _ => Err(ApiError::conflict(
            "not_under_review",
            "Only a submitted application is reviewed.",
            "Si istruiscono solo le domande presentate.",
        )),
    }
}

/// Decide an application's admissibility (or ask for an integration), in one transaction
/// with its history, audit event and the applicant's notice.
pub async fn decide_admissibility(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &Arc<dyn Clock>,
    application_id: Uuid,
    input: AdmissibilityInput,
) -> Result<Application, ApiError> {
    let tx = begin_write(db).await?;
    let app = applications::lock(&tx, application_id)
        .await?
        .ok_or_else(application_not_found)?;
    let current = require_submitted(&app)?;
    let now = clock.now();
    let role = actor.role.unwrap_or(Role::Applicant);
    let next = review::decide(role, current, input.decision, app.integration_deadline, now)?;
    let deadline = (next == ReviewStatus::IntegrationRequested)
        .then(|| deadline_after(now, input.integration_days));
    application::Entity::update_many()
        .set(application::ActiveModel {
            review_status: Set(Some(next.as_str().to_owned())),
            integration_deadline: Set(deadline),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(application::Column::Id.eq(application_id))
        .exec(&tx)
        .await?;
    review_step::ActiveModel {
        id: Set(Uuid::new_v4()),
        application_id: Set(application_id),
        step: Set(next.as_str().to_owned()),
        reasons: Set((!input.reasons.is_empty()).then(|| json!(input.reasons).to_string())),
        note: Set(input.note.clone()),
        question: Set(input.question.clone()),
        deadline: Set(deadline),
        answer: Set(None),
        documents: Set(None),
        actor_id: Set(actor.user_id),
        at: Set(now),
    }
    .insert(&tx)
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
    record_history(
        &tx,
        application_id,
        Some(current.as_str()),
        next.as_str(),
        actor,
        now,
        why.clone(),
    )
    .await?;
    let protocol = app.protocol_number.clone().unwrap_or_default();
    let message = match next {
        ReviewStatus::IntegrationRequested => {
            let local = deadline
                .map(|d| {
                    d.with_timezone(&crate::domain::call::CALL_TIME_ZONE)
                        .format("%d/%m/%Y %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default();
            Msg::new(
                format!(
                    "The agency asks you to complete application {protocol}: {}. Answer by {local} (Europe/Rome).",
                    input.question.clone().unwrap_or_default()
                ),
                format!(
                    "L'ATS chiede di integrare la domanda {protocol}: {}. Rispondere entro il {local}.",
                    input.question.clone().unwrap_or_default()
                ),
            )
        }
        ReviewStatus::Admitted => Msg::new(
            format!("Application {protocol} has been admitted."),
            format!("La domanda {protocol} è stata ammessa."),
        ),
        ReviewStatus::Inadmissible => Msg::new(
            format!(
                "Application {protocol} has been found inadmissible: {}.",
                why.clone().unwrap_or_default()
            ),
            format!(
                "La domanda {protocol} è stata dichiarata inammissibile: {}.",
                why.clone().unwrap_or_default()
            ),
        ),
        ReviewStatus::Pending => Msg::new(
            format!("Application {protocol} is under review."),
            format!("La domanda {protocol} è in istruttoria."),
        ),
    };
    let recipients = notifications::lead_representatives(&tx, app.id).await?;
    notifications::notify(
        &tx,
        &recipients,
        &format!("admissibility_{}", next.as_str()),
        message,
        json!({"application_id": application_id, "deadline": deadline}),
        now,
    )
    .await?;
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "application.admissibility",
            entity_type: "application",
            entity_id: application_id.to_string(),
            before: Some(json!({"review_status": current})),
            after: Some(json!({"review_status": next, "reasons": input.reasons, "note": input.note, "question": input.question, "deadline": deadline})),
        },
    )
    .await?;
    tx.commit().await?;
    applications::get(db, application_id)
        .await?
        .ok_or_else(application_not_found)
}

/// The applicant's answer to a request for integration: it reopens the case.
pub async fn answer_integration(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &Arc<dyn Clock>,
    application_id: Uuid,
    answer: &str,
    documents: serde_json::Value,
) -> Result<Application, ApiError> {
    let tx = begin_write(db).await?;
    let app = applications::lock(&tx, application_id)
        .await?
        .ok_or_else(application_not_found)?;
    let current = require_submitted(&app).map_err(|_| {
        ApiError::conflict(
            "integration_closed",
            "No request for integration is open on this application.",
            "Nessuna richiesta di integrazione è aperta su questa domanda.",
        )
    })?;
    let now = clock.now();
    let next = review::answer_integration(Role::Applicant, current, app.integration_deadline, now)?;
    application::Entity::update_many()
        .set(application::ActiveModel {
            review_status: Set(Some(next.as_str().to_owned())),
            integration_deadline: Set(None),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(application::Column::Id.eq(application_id))
        .exec(&tx)
        .await?;
    review_step::ActiveModel {
        id: Set(Uuid::new_v4()),
        application_id: Set(application_id),
        step: Set("integration_answered".into()),
        reasons: Set(None),
        note: Set(None),
        question: Set(None),
        deadline: Set(None),
        answer: Set(Some(answer.to_owned())),
        documents: Set(Some(documents.to_string())),
        actor_id: Set(actor.user_id),
        at: Set(now),
    }
    .insert(&tx)
    .await?;
    record_history(
        &tx,
        application_id,
        Some(current.as_str()),
        next.as_str(),
        actor,
        now,
        Some("integration answered".into()),
    )
    .await?;
    if let Some(agency) = app.content.agency_code {
        let evaluators = notifications::evaluators_of(&tx, agency).await?;
        let protocol = app.protocol_number.clone().unwrap_or_default();
        notifications::notify(
            &tx,
            &evaluators,
            "integration_answered",
            Msg::new(format!("The applicant answered the request for integration of {protocol}."), format!("Il richiedente ha risposto alla richiesta di integrazione della domanda {protocol}.")),
            json!({"application_id": application_id}),
            now,
        )
        .await?;
    }
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "application.integration_answered",
            entity_type: "application",
            entity_id: application_id.to_string(),
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

/// A review step, as the history of the review shows it.
#[derive(Debug, Clone)]
pub struct Step {
    pub step: String,
    pub reasons: Vec<String>,
    pub note: Option<String>,
    pub question: Option<String>,
    pub deadline: Option<DateTime<Utc>>,
    pub answer: Option<String>,
    pub documents: serde_json::Value,
    pub actor_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

pub async fn steps(db: &DatabaseConnection, application_id: Uuid) -> Result<Vec<Step>, DbErr> {
    Ok(review_step::Entity::find()
        .filter(review_step::Column::ApplicationId.eq(application_id))
        .order_by_asc(review_step::Column::At)
        .order_by_asc(review_step::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|s| Step {
            step: s.step,
            reasons: s
                .reasons
                .and_then(|r| serde_json::from_str(&r).ok())
                .unwrap_or_default(),
            note: s.note,
            question: s.question,
            deadline: s.deadline,
            answer: s.answer,
            documents: s
                .documents
                .and_then(|d| serde_json::from_str(&d).ok())
                .unwrap_or(serde_json::Value::Null),
            actor_id: s.actor_id,
            at: s.at,
        })
        .collect())
}

/// An evaluation as stored.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub id: Uuid,
    pub evaluator_id: Uuid,
    pub scores: Vec<CriterionScore>,
    pub is_final: bool,
    pub finalized_at: Option<DateTime<Utc>>,
    pub reopened_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

fn to_evaluation(m: evaluation::Model) -> Result<Evaluation, DbErr> {
    Ok(Evaluation {
        id: m.id,
        evaluator_id: m.evaluator_id,
        scores: serde_json::from_str(&m.scores)
            .map_err(|e| DbErr::Custom(format!("evaluation {} has invalid scores: {e}", m.id)))?,
        is_final: m.status == "final",
        finalized_at: m.finalized_at,
        reopened_reason: m.reopened_reason,
        updated_at: m.updated_at,
    })
}

pub async fn evaluations<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
) -> Result<Vec<Evaluation>, DbErr> {
    evaluation::Entity::find()
        .filter(evaluation::Column::ApplicationId.eq(application_id))
        .order_by_asc(evaluation::Column::UpdatedAt)
        .order_by_asc(evaluation::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_evaluation)
        .collect()
}

/// Save the caller's evaluation (draft or final); a final one is immutable.
pub async fn save_mine(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    application_id: Uuid,
    evaluator_id: Uuid,
    scores: &[CriterionScore],
    make_final: bool,
) -> Result<Evaluation, ApiError> {
    let tx = begin_write(db).await?;
    let app = applications::lock(&tx, application_id)
        .await?
        .ok_or_else(application_not_found)?;
    let current = require_submitted(&app)?;
    review::may_score(actor.role.unwrap_or(Role::Applicant), current)?;
    crate::service::rankings::ensure_not_approved(&tx, &app).await?;
    let existing = evaluation::Entity::find()
        .filter(evaluation::Column::ApplicationId.eq(application_id))
        .filter(evaluation::Column::EvaluatorId.eq(evaluator_id))
        .one(&tx)
        .await?;
    let scores_json = serde_json::to_string(scores).map_err(anyhow::Error::from)?;
    let status = if make_final { "final" } else { "draft" };
    let finalized_at = make_final.then_some(now);
    let (id, before) = match existing {
        Some(e) if e.status == "final" => {
            return Err(ApiError::conflict(
                "evaluation_final",
                "Your evaluation is final: only an administrator can reopen it, with a reason.",
                "La sua valutazione è definitiva: solo un amministratore può riaprirla, motivando.",
            ));
        }
        Some(e) => {
            evaluation::Entity::update_many()
                .set(evaluation::ActiveModel {
                    scores: Set(scores_json),
                    status: Set(status.into()),
                    finalized_at: Set(finalized_at),
                    version: Set(e.version + 1),
                    updated_at: Set(now),
                    ..Default::default()
                })
                .filter(evaluation::Column::Id.eq(e.id))
                .exec(&tx)
                .await?;
            (
                e.id,
                Some(
                    json!({"scores": serde_json::from_str::<serde_json::Value>(&e.scores).unwrap_or_default(), "status": e.status}),
                ),
            )
        }
        None => {
            let id = Uuid::new_v4();
            evaluation::ActiveModel {
                id: Set(id),
                application_id: Set(application_id),
                evaluator_id: Set(evaluator_id),
                scores: Set(scores_json),
                status: Set(status.into()),
                finalized_at: Set(finalized_at),
                reopened_reason: Set(None),
                version: Set(1),
                updated_at: Set(now),
            }
            .insert(&tx)
            .await?;
            (id, None)
        }
    };
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "evaluation.saved",
            entity_type: "evaluation",
            entity_id: id.to_string(),
            before,
            after: Some(
                json!({"application_id": application_id, "scores": scores, "status": status}),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    let saved = evaluation::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(application_not_found)?;
    Ok(to_evaluation(saved)?)
}

/// Reopen a final evaluation (administrators), with a reason.
pub async fn reopen(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    application_id: Uuid,
    evaluation_id: Uuid,
    reason: &str,
) -> Result<Evaluation, ApiError> {
    let tx = begin_write(db).await?;
    let app = applications::get(&tx, application_id)
        .await?
        .ok_or_else(application_not_found)?;
    crate::service::rankings::ensure_not_approved(&tx, &app).await?;
    let e = evaluation::Entity::find_by_id(evaluation_id)
        .filter(evaluation::Column::ApplicationId.eq(application_id))
        .one(&tx)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "evaluation_not_found",
                "The application has no such evaluation.",
                "La domanda non ha questa valutazione.",
            )
        })?;
    if e.status != "final" {
        return Err(ApiError::conflict(
            "evaluation_not_final",
            "Only a final evaluation is reopened.",
            "Si riapre solo una valutazione definitiva.",
        ));
    }
    evaluation::Entity::update_many()
        .set(evaluation::ActiveModel {
            status: Set("draft".into()),
            finalized_at: Set(None),
            reopened_reason: Set(Some(reason.to_owned())),
            version: Set(e.version + 1),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(evaluation::Column::Id.eq(evaluation_id))
        .exec(&tx)
        .await?;
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "evaluation.reopened",
            entity_type: "evaluation",
            entity_id: evaluation_id.to_string(),
            before: Some(json!({"status": "final"})),
            after: Some(json!({"status": "draft", "reason": reason})),
        },
    )
    .await?;
    tx.commit().await?;
    let saved = evaluation::Entity::find_by_id(evaluation_id)
        .one(db)
        .await?
        .ok_or_else(application_not_found)?;
    Ok(to_evaluation(saved)?)
}

/// A consensus score.
#[derive(Debug, Clone)]
pub struct Consensus {
    pub scores: Vec<CriterionScore>,
    pub reasons: String,
    pub decided_by: Option<Uuid>,
    pub decided_at: DateTime<Utc>,
}

fn to_consensus(c: consensus_score::Model) -> Result<Consensus, DbErr> {
    Ok(Consensus {
        scores: serde_json::from_str(&c.scores).map_err(|e| {
            DbErr::Custom(format!("consensus of {} is invalid: {e}", c.application_id))
        })?,
        reasons: c.reasons,
        decided_by: c.decided_by,
        decided_at: c.decided_at,
    })
}

pub async fn consensus<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
) -> Result<Option<Consensus>, DbErr> {
    consensus_score::Entity::find_by_id(application_id)
        .one(db)
        .await?
        .map(to_consensus)
        .transpose()
}

/// Record (or replace) the agency's consensus score.
pub async fn set_consensus(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    application_id: Uuid,
    scores: &[CriterionScore],
    reasons: &str,
) -> Result<Consensus, ApiError> {
    let tx = begin_write(db).await?;
    let app = applications::lock(&tx, application_id)
        .await?
        .ok_or_else(application_not_found)?;
    let current = require_submitted(&app)?;
    review::may_score(actor.role.unwrap_or(Role::Applicant), current)?;
    crate::service::rankings::ensure_not_approved(&tx, &app).await?;
    let before = consensus(&tx, application_id).await?;
    consensus_score::Entity::delete_by_id(application_id)
        .exec(&tx)
        .await?;
    consensus_score::ActiveModel {
        application_id: Set(application_id),
        scores: Set(serde_json::to_string(scores).map_err(anyhow::Error::from)?),
        reasons: Set(reasons.to_owned()),
        decided_by: Set(actor.user_id),
        decided_at: Set(now),
    }
    .insert(&tx)
    .await?;
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "application.consensus",
            entity_type: "application",
            entity_id: application_id.to_string(),
            before: before.map(|b| json!({"scores": b.scores, "reasons": b.reasons})),
            after: Some(json!({"scores": scores, "reasons": reasons})),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Consensus {
        scores: scores.to_vec(),
        reasons: reasons.to_owned(),
        decided_by: actor.user_id,
        decided_at: now,
    })
}

/// An application's score now: from its final evaluations, or its consensus; and how many
/// final evaluations it has.
pub async fn score<C: ConnectionTrait>(
    conn: &C,
    application_id: Uuid,
    grid: &crate::domain::call::ScoringRules,
) -> Result<(review::ScoreOutcome, usize), DbErr> {
    let evaluations = evaluations(conn, application_id).await?;
    let consensus = consensus(conn, application_id).await?;
    Ok(score_of(grid, evaluations, consensus.as_ref()))
}

/// An application's score from its evaluations (only the final ones count) and its
/// consensus, as read; and how many final evaluations it has.
pub fn score_of(
    grid: &crate::domain::call::ScoringRules,
    evaluations: Vec<Evaluation>,
    consensus: Option<&Consensus>,
) -> (review::ScoreOutcome, usize) {
    let finals: Vec<Vec<CriterionScore>> = evaluations
        .into_iter()
        .filter(|e| e.is_final)
        .map(|e| e.scores)
        .collect();
    let outcome = review::application_score(grid, &finals, consensus.map(|c| c.scores.as_slice()));
    (outcome, finals.len())
}

/// What scores the admitted applications of a call for an agency: their evaluations (in
/// the order `evaluations` reads them) and their consensus scores, by application, in two
/// queries whatever their number.
pub struct AgencyScoring {
    pub evaluations: HashMap<Uuid, Vec<Evaluation>>,
    pub consensus: HashMap<Uuid, Consensus>,
}

impl AgencyScoring {
    /// An application's score, as `score` computes it.
    pub fn score(
        &mut self,
        application_id: Uuid,
        grid: &crate::domain::call::ScoringRules,
    ) -> (review::ScoreOutcome, usize) {
        score_of(
            grid,
            self.evaluations.remove(&application_id).unwrap_or_default(),
            self.consensus.get(&application_id),
        )
    }
}

/// Read the `AgencyScoring` of a call's admitted applications for an agency.
pub async fn agency_scoring<C: ConnectionTrait + StreamTrait>(
    conn: &C,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<AgencyScoring, DbErr> {
    // A subquery, not a list of ids: a list would outgrow the databases' bind limits.
    let admitted = || {
        Query::select()
            .column(application::Column::Id)
            .from(application::Entity)
            .and_where(application::Column::CallId.eq(call_id))
            .and_where(application::Column::AgencyCode.eq(agency.as_str()))
            .and_where(application::Column::Status.eq(ApplicationStatus::Submitted.as_str()))
            .and_where(application::Column::ReviewStatus.eq(ReviewStatus::Admitted.as_str()))
            .to_owned()
    };
    // Streamed: each row is converted as it arrives, so that the raw rows of an agency's
    // tens of thousands of evaluations are never all in memory next to their conversions.
    let mut evaluations: HashMap<Uuid, Vec<Evaluation>> = HashMap::new();
    {
        let mut rows = evaluation::Entity::find()
            .filter(evaluation::Column::ApplicationId.in_subquery(admitted()))
            .order_by_asc(evaluation::Column::UpdatedAt)
            .order_by_asc(evaluation::Column::Id)
            .stream(conn)
            .await?;
        while let Some(m) = rows.try_next().await? {
            let application_id = m.application_id;
            evaluations
                .entry(application_id)
                .or_default()
                .push(to_evaluation(m)?);
        }
    }
    let mut consensus = HashMap::new();
    {
        let mut rows = consensus_score::Entity::find()
            .filter(consensus_score::Column::ApplicationId.in_subquery(admitted()))
            .stream(conn)
            .await?;
        while let Some(c) = rows.try_next().await? {
            consensus.insert(c.application_id, to_consensus(c)?);
        }
    }
    Ok(AgencyScoring {
        evaluations,
        consensus,
    })
}
