//! The agencies' review: conflict declarations, admissibility steps, evaluations, consensus.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, StreamTrait, sea_query::Query,
};
use serde_json::json;
use uuid::Uuid;

use crate::domain::agency::AgencyCode;
use crate::domain::application::ApplicationStatus;
use crate::domain::call::ScoringRules;
use crate::domain::review::{self, CriterionScore, ReviewStatus};
use crate::entity::{application, conflict_declaration, consensus_score, evaluation, review_step};

/// A conflict-of-interest declaration.
#[derive(Debug, Clone)]
pub struct Declaration {
    pub has_conflict: bool,
    pub statement: Option<String>,
    pub declared_at: DateTime<Utc>,
}

pub async fn declaration<C: ConnectionTrait>(
    db: &C,
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
pub async fn declarations_of<C: ConnectionTrait>(
    db: &C,
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

/// Store an evaluator's declaration (a second one is a unique violation).
pub async fn insert_declaration<C: ConnectionTrait>(
    conn: &C,
    application_id: Uuid,
    evaluator_id: Uuid,
    declaration: &Declaration,
) -> Result<(), DbErr> {
    conflict_declaration::ActiveModel {
        application_id: Set(application_id),
        evaluator_id: Set(evaluator_id),
        has_conflict: Set(declaration.has_conflict),
        statement: Set(declaration.statement.clone()),
        declared_at: Set(declaration.declared_at),
    }
    .insert(conn)
    .await
    .map(|_| ())
}

/// A new step of an application's review.
pub struct NewStep<'a> {
    pub application_id: Uuid,
    /// A review status, or `integration_answered`.
    pub step: &'a str,
    pub reasons: &'a [String],
    pub note: Option<String>,
    pub question: Option<String>,
    pub deadline: Option<DateTime<Utc>>,
    pub answer: Option<String>,
    pub documents: Option<serde_json::Value>,
    pub actor_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

/// Store a step of an application's review.
pub async fn insert_step<C: ConnectionTrait>(conn: &C, s: NewStep<'_>) -> Result<(), DbErr> {
    review_step::ActiveModel {
        id: Set(Uuid::new_v4()),
        application_id: Set(s.application_id),
        step: Set(s.step.to_owned()),
        reasons: Set((!s.reasons.is_empty()).then(|| json!(s.reasons).to_string())),
        note: Set(s.note),
        question: Set(s.question),
        deadline: Set(s.deadline),
        answer: Set(s.answer),
        documents: Set(s.documents.map(|d| d.to_string())),
        actor_id: Set(s.actor_id),
        at: Set(s.at),
    }
    .insert(conn)
    .await
    .map(|_| ())
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

/// An evaluation as a change starts from: its revision, and what the audit log keeps of it.
#[derive(Debug, Clone)]
pub struct Revision {
    pub id: Uuid,
    pub is_final: bool,
    pub version: i32,
    /// Its scores as stored and its status.
    pub snapshot: serde_json::Value,
}

fn to_revision(e: evaluation::Model) -> Revision {
    Revision {
        id: e.id,
        is_final: e.status == "final",
        version: e.version,
        snapshot: json!({"scores": serde_json::from_str::<serde_json::Value>(&e.scores).unwrap_or_default(), "status": e.status}),
    }
}

/// An evaluator's evaluation of an application, if it has one.
pub async fn revision_of<C: ConnectionTrait>(
    conn: &C,
    application_id: Uuid,
    evaluator_id: Uuid,
) -> Result<Option<Revision>, DbErr> {
    Ok(evaluation::Entity::find()
        .filter(evaluation::Column::ApplicationId.eq(application_id))
        .filter(evaluation::Column::EvaluatorId.eq(evaluator_id))
        .one(conn)
        .await?
        .map(to_revision))
}

/// One evaluation of an application, by its id.
pub async fn revision<C: ConnectionTrait>(
    conn: &C,
    application_id: Uuid,
    evaluation_id: Uuid,
) -> Result<Option<Revision>, DbErr> {
    Ok(evaluation::Entity::find_by_id(evaluation_id)
        .filter(evaluation::Column::ApplicationId.eq(application_id))
        .one(conn)
        .await?
        .map(to_revision))
}

/// An evaluation by its id.
pub async fn evaluation<C: ConnectionTrait>(
    conn: &C,
    evaluation_id: Uuid,
) -> Result<Option<Evaluation>, DbErr> {
    evaluation::Entity::find_by_id(evaluation_id)
        .one(conn)
        .await?
        .map(to_evaluation)
        .transpose()
}

fn scores_json(scores: &[CriterionScore]) -> Result<String, DbErr> {
    serde_json::to_string(scores).map_err(|e| DbErr::Custom(format!("scores: {e}")))
}

/// Store a new evaluation, draft or final.
pub async fn insert_evaluation<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    application_id: Uuid,
    evaluator_id: Uuid,
    scores: &[CriterionScore],
    make_final: bool,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    evaluation::ActiveModel {
        id: Set(id),
        application_id: Set(application_id),
        evaluator_id: Set(evaluator_id),
        scores: Set(scores_json(scores)?),
        status: Set(status_of(make_final).into()),
        finalized_at: Set(make_final.then_some(now)),
        reopened_reason: Set(None),
        version: Set(1),
        updated_at: Set(now),
    }
    .insert(conn)
    .await
    .map(|_| ())
}

/// The stored status of a draft or final evaluation.
pub fn status_of(make_final: bool) -> &'static str {
    if make_final { "final" } else { "draft" }
}

/// Replace the scores of an evaluation (a draft), draft or final.
pub async fn update_evaluation<C: ConnectionTrait>(
    conn: &C,
    from: &Revision,
    scores: &[CriterionScore],
    make_final: bool,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    evaluation::Entity::update_many()
        .set(evaluation::ActiveModel {
            scores: Set(scores_json(scores)?),
            status: Set(status_of(make_final).into()),
            finalized_at: Set(make_final.then_some(now)),
            version: Set(from.version + 1),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(evaluation::Column::Id.eq(from.id))
        .exec(conn)
        .await
        .map(|_| ())
}

/// Make a final evaluation a draft again, with the reason.
pub async fn reopen<C: ConnectionTrait>(
    conn: &C,
    from: &Revision,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    evaluation::Entity::update_many()
        .set(evaluation::ActiveModel {
            status: Set("draft".into()),
            finalized_at: Set(None),
            reopened_reason: Set(Some(reason.to_owned())),
            version: Set(from.version + 1),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(evaluation::Column::Id.eq(from.id))
        .exec(conn)
        .await
        .map(|_| ())
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

/// Store the agency's consensus score of an application, in place of any earlier one.
pub async fn replace_consensus<C: ConnectionTrait>(
    conn: &C,
    application_id: Uuid,
    c: &Consensus,
) -> Result<(), DbErr> {
    consensus_score::Entity::delete_by_id(application_id)
        .exec(conn)
        .await?;
    consensus_score::ActiveModel {
        application_id: Set(application_id),
        scores: Set(scores_json(&c.scores)?),
        reasons: Set(c.reasons.clone()),
        decided_by: Set(c.decided_by),
        decided_at: Set(c.decided_at),
    }
    .insert(conn)
    .await
    .map(|_| ())
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

/// The scores of a call's admitted applications for an agency, each computed (as `score_of`
/// would) while their final evaluations stream past, in two queries whatever their number.
pub struct AgencyScoring {
    grid: ScoringRules,
    scored: HashMap<Uuid, (review::ScoreOutcome, usize)>,
    consensus: HashMap<Uuid, Consensus>,
}

impl AgencyScoring {
    /// An application's score and how many final evaluations it had, as `score_of` gives them.
    pub fn score(&mut self, application_id: Uuid) -> (review::ScoreOutcome, usize) {
        self.scored
            .remove(&application_id)
            .unwrap_or_else(|| score_of(&self.grid, vec![], self.consensus.get(&application_id)))
    }
}

/// A criterion's score as the ranking reads it from an evaluation: the justification is
/// skipped by the parser, never copied.
#[derive(serde::Deserialize)]
struct Scored {
    criterion: String,
    score: crate::domain::points::Points,
}

/// Read the `AgencyScoring` of a call's admitted applications for an agency under `grid`.
pub async fn agency_scoring<C: ConnectionTrait + StreamTrait>(
    conn: &C,
    call_id: Uuid,
    agency: AgencyCode,
    grid: &ScoringRules,
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
    // Only the final evaluations count, in the order `evaluations` reads them within each
    // application. Streamed by application: only one application's scores are held at a
    // time, never the agency's tens of thousands of evaluations.
    let mut scored = HashMap::new();
    {
        let mut rows = evaluation::Entity::find()
            .select_only()
            .columns([
                evaluation::Column::ApplicationId,
                evaluation::Column::Id,
                evaluation::Column::Scores,
            ])
            .filter(evaluation::Column::ApplicationId.in_subquery(admitted()))
            .filter(evaluation::Column::Status.eq("final"))
            .order_by_asc(evaluation::Column::ApplicationId)
            .order_by_asc(evaluation::Column::UpdatedAt)
            .order_by_asc(evaluation::Column::Id)
            .into_tuple::<(Uuid, Uuid, String)>()
            .stream(conn)
            .await?;
        let mut current: Option<(Uuid, Vec<Vec<CriterionScore>>)> = None;
        let mut close = |(id, finals): (Uuid, Vec<Vec<CriterionScore>>)| {
            let outcome = review::application_score(
                grid,
                &finals,
                consensus.get(&id).map(|c: &Consensus| c.scores.as_slice()),
            );
            scored.insert(id, (outcome, finals.len()));
        };
        while let Some((application_id, id, scores)) = rows.try_next().await? {
            let scores: Vec<Scored> = serde_json::from_str(&scores)
                .map_err(|e| DbErr::Custom(format!("evaluation {id} has invalid scores: {e}")))?;
            let scores = scores
                .into_iter()
                .map(|s| CriterionScore {
                    criterion: s.criterion,
                    score: s.score,
                    justification: String::new(),
                })
                .collect();
            match &mut current {
                Some((app, finals)) if *app == application_id => finals.push(scores),
                _ => {
                    if let Some(done) = current.replace((application_id, vec![scores])) {
                        close(done);
                    }
                }
            }
        }
        if let Some(done) = current {
            close(done);
        }
    }
    Ok(AgencyScoring {
        grid: grid.clone(),
        scored,
        consensus,
    })
}
