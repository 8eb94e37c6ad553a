//! The steps of a final report: submitted by the lead, asked for integration and verified by
//! the ATS, the integration answered by the lead.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{DomainEvent, EventKind, Notice, Recipients};
use crate::domain::agency::AgencyCode;
use crate::domain::money::Money;
use crate::domain::violation::Msg;
use crate::domain::webhook::EventType;

/// What happened to a final report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportStep {
    /// The lead changed the draft (audited only).
    Changed,
    Submitted {
        protocol_number: String,
        overdue: bool,
    },
    IntegrationRequested {
        due_at: DateTime<Utc>,
    },
    IntegrationAnswered,
    Verified {
        final_grant: Money,
        eligible_cost: Money,
        under_realised: bool,
    },
}

/// A step of a project's final report, with what its notices need.
#[derive(Debug, Clone)]
pub struct ReportEvent {
    pub grant_id: Uuid,
    pub application_id: Uuid,
    pub agency: AgencyCode,
    pub step: ReportStep,
}

impl ReportEvent {
    pub fn action(&self) -> &'static str {
        match self.step {
            ReportStep::Changed => "final_report.changed",
            ReportStep::Submitted { .. } => "final_report.submitted",
            ReportStep::IntegrationRequested { .. } => "final_report.integration_requested",
            ReportStep::IntegrationAnswered => "final_report.integration_answered",
            ReportStep::Verified { .. } => "final_report.verified",
        }
    }

    pub fn webhook(&self) -> Option<EventType> {
        Some(match self.step {
            ReportStep::Changed => return None,
            ReportStep::Submitted { .. } => EventType::FinalReportSubmitted,
            ReportStep::IntegrationRequested { .. } => EventType::FinalReportIntegrationRequested,
            ReportStep::IntegrationAnswered => EventType::FinalReportIntegrationAnswered,
            ReportStep::Verified { .. } => EventType::FinalReportVerified,
        })
    }

    /// The ATS hears of a submission and of an answer; the lead of a request and of the
    /// verification.
    pub fn notices(&self) -> Vec<Notice> {
        let kind = match self.step {
            ReportStep::Changed => return vec![],
            ReportStep::Submitted { .. } => "final_report_submitted",
            ReportStep::IntegrationRequested { .. } => "final_report_integration_requested",
            ReportStep::IntegrationAnswered => "final_report_integration_answered",
            ReportStep::Verified { .. } => "final_report_verified",
        };
        let data = json!({"grant_id": self.grant_id, "application_id": self.application_id});
        let (to, en, it) = match &self.step {
            ReportStep::Changed => return vec![],
            ReportStep::Submitted {
                protocol_number,
                overdue,
            } => (
                Recipients::Evaluators(self.agency),
                format!(
                    "A final report was submitted ({protocol_number}{}): verify it.",
                    if *overdue { ", late" } else { "" }
                ),
                format!(
                    "È stato presentato un rendiconto ({protocol_number}{}): verificarlo.",
                    if *overdue { ", in ritardo" } else { "" }
                ),
            ),
            ReportStep::IntegrationRequested { due_at } => (
                Recipients::LeadOf(self.application_id),
                format!(
                    "The ATS asks for an integration of your final report: answer by {due_at}."
                ),
                format!(
                    "L'ATS chiede un'integrazione del rendiconto: rispondere entro il {due_at}."
                ),
            ),
            ReportStep::IntegrationAnswered => (
                Recipients::Evaluators(self.agency),
                "The lead answered the request for integration of a final report.".to_owned(),
                "Il capofila ha risposto alla richiesta di integrazione di un rendiconto."
                    .to_owned(),
            ),
            ReportStep::Verified {
                final_grant,
                under_realised,
                ..
            } => (
                Recipients::LeadOf(self.application_id),
                if *under_realised {
                    "Your final report was verified: the project spent less than the share of its approved cost the call requires, and the ATS decides on its revocation.".to_owned()
                } else {
                    format!("Your final report was verified: the final grant is {final_grant}.")
                },
                if *under_realised {
                    "Il rendiconto è stato verificato: il progetto ha speso meno della quota del costo approvato richiesta dall'avviso, e l'ATS decide sulla revoca.".to_owned()
                } else {
                    format!(
                        "Il rendiconto è stato verificato: il contributo finale è {final_grant}."
                    )
                },
            ),
        };
        vec![Notice {
            to,
            kind,
            message: Msg::new(en, it),
            data,
        }]
    }
}

/// A step of the final report of grant `grant_id`, with the report's state before and after.
pub fn step(
    report_id: Uuid,
    e: ReportEvent,
    before: Option<serde_json::Value>,
    after: serde_json::Value,
) -> DomainEvent {
    DomainEvent {
        kind: EventKind::Report(e),
        entity_type: "final_report",
        entity_id: report_id,
        before,
        after: Some(after),
    }
}
