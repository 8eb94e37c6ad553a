//! The events of the agencies' review: conflict declarations, admissibility decisions and
//! the applicants' answers, evaluations and consensus scores.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{Notice, Recipients};
use crate::domain::agency::AgencyCode;
use crate::domain::call::CALL_TIME_ZONE;
use crate::domain::review::ReviewStatus;
use crate::domain::violation::Msg;
use crate::domain::webhook::EventType;

/// A change of an application's review (the entity is the application, or the evaluation
/// for the evaluation events).
#[derive(Debug, Clone)]
pub enum ReviewEvent {
    /// An evaluator declared whether it has a conflict of interest with the partnership.
    ConflictDeclared,
    /// The agency decided the admissibility (or asked for an integration); the lead's
    /// representatives hear of it.
    AdmissibilityDecided {
        next: ReviewStatus,
        /// The application's protocol number (empty when it has none).
        protocol: String,
        /// What the applicant must provide (an integration).
        question: Option<String>,
        /// The end of the answer period (an integration).
        deadline: Option<DateTime<Utc>>,
        /// Why, as the application's history keeps it.
        why: Option<String>,
    },
    /// The applicant answered a request for integration; the agency's evaluators hear of it.
    IntegrationAnswered {
        agency: Option<AgencyCode>,
        protocol: String,
    },
    /// An evaluator saved its evaluation (draft or final).
    EvaluationSaved,
    /// An administrator reopened a final evaluation.
    EvaluationReopened,
    /// The agency recorded (or replaced) its consensus score.
    ConsensusSet,
}

impl ReviewEvent {
    /// The audit log's name of the change.
    pub fn action(&self) -> &'static str {
        match self {
            ReviewEvent::ConflictDeclared => "application.conflict_declared",
            ReviewEvent::AdmissibilityDecided { .. } => "application.admissibility",
            ReviewEvent::IntegrationAnswered { .. } => "application.integration_answered",
            ReviewEvent::EvaluationSaved => "evaluation.saved",
            ReviewEvent::EvaluationReopened => "evaluation.reopened",
            ReviewEvent::ConsensusSet => "application.consensus",
        }
    }

    /// The webhook event other systems subscribe to, if any.
    pub fn webhook(&self) -> Option<EventType> {
        match self {
            ReviewEvent::AdmissibilityDecided { .. } => Some(EventType::AdmissibilityDecided),
            ReviewEvent::ConflictDeclared
            | ReviewEvent::IntegrationAnswered { .. }
            | ReviewEvent::EvaluationSaved
            | ReviewEvent::EvaluationReopened
            | ReviewEvent::ConsensusSet => None,
        }
    }

    /// The inbox notices of the change of the application `application_id`.
    pub fn notices(&self, application_id: Uuid) -> Vec<Notice> {
        match self {
            ReviewEvent::AdmissibilityDecided {
                next,
                protocol,
                question,
                deadline,
                why,
            } => vec![Notice {
                to: Recipients::LeadOf(application_id),
                kind: admissibility_kind(*next),
                message: admissibility_message(*next, protocol, question, *deadline, why),
                data: json!({"application_id": application_id, "deadline": deadline.as_ref().map(crate::domain::timestamp::format)}),
            }],
            ReviewEvent::IntegrationAnswered {
                agency: Some(agency),
                protocol,
            } => vec![Notice {
                to: Recipients::Evaluators(*agency),
                kind: "integration_answered",
                message: Msg::new(
                    format!("The applicant answered the request for integration of {protocol}."),
                    format!(
                        "Il richiedente ha risposto alla richiesta di integrazione della domanda {protocol}."
                    ),
                ),
                data: json!({"application_id": application_id}),
            }],
            ReviewEvent::IntegrationAnswered { agency: None, .. }
            | ReviewEvent::ConflictDeclared
            | ReviewEvent::EvaluationSaved
            | ReviewEvent::EvaluationReopened
            | ReviewEvent::ConsensusSet => vec![],
        }
    }
}

/// The kind of the notice of an admissibility step: `admissibility_<status>`.
fn admissibility_kind(next: ReviewStatus) -> &'static str {
    match next {
        ReviewStatus::Pending => "admissibility_pending",
        ReviewStatus::IntegrationRequested => "admissibility_integration_requested",
        ReviewStatus::Admitted => "admissibility_admitted",
        ReviewStatus::Inadmissible => "admissibility_inadmissible",
    }
}

fn admissibility_message(
    next: ReviewStatus,
    protocol: &str,
    question: &Option<String>,
    deadline: Option<DateTime<Utc>>,
    why: &Option<String>,
) -> Msg {
    match next {
        ReviewStatus::IntegrationRequested => {
            let local = deadline
                .map(|d| {
                    d.with_timezone(&CALL_TIME_ZONE)
                        .format("%d/%m/%Y %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default();
            let question = question.clone().unwrap_or_default();
            Msg::new(
                format!(
                    "The agency asks you to complete application {protocol}: {question}. Answer by {local} (Europe/Rome)."
                ),
                format!(
                    "L'ATS chiede di integrare la domanda {protocol}: {question}. Rispondere entro il {local}."
                ),
            )
        }
        ReviewStatus::Admitted => Msg::new(
            format!("Application {protocol} has been admitted."),
            format!("La domanda {protocol} è stata ammessa."),
        ),
        ReviewStatus::Inadmissible => {
            let why = why.clone().unwrap_or_default();
            Msg::new(
                format!("Application {protocol} has been found inadmissible: {why}."),
                format!("La domanda {protocol} è stata dichiarata inammissibile: {why}."),
            )
        }
        ReviewStatus::Pending => Msg::new(
            format!("Application {protocol} is under review."),
            format!("La domanda {protocol} è in istruttoria."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_of_an_admissibility_notice_names_the_status() {
        for s in [
            ReviewStatus::Pending,
            ReviewStatus::IntegrationRequested,
            ReviewStatus::Admitted,
            ReviewStatus::Inadmissible,
        ] {
            assert_eq!(
                admissibility_kind(s),
                format!("admissibility_{}", s.as_str())
            );
        }
    }
}
