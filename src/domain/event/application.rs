//! The changes of an application: its draft, its annexes, its submission and withdrawal.

use serde_json::json;

use super::{Notice, Recipients};
use crate::domain::agency::AgencyCode;
use crate::domain::violation::Msg;
use crate::domain::webhook::EventType;

/// The changes of an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplicationEvent {
    /// A draft was started.
    Created,
    /// A draft's content changed.
    Changed,
    /// A draft was deleted.
    Deleted,
    /// An annex was recorded on a draft.
    DocumentAdded,
    /// An annex of a draft was deleted.
    DocumentDeleted,
    /// Submitted with its protocol number: the evaluators of its agency hear of it.
    Submitted {
        agency: Option<AgencyCode>,
        /// Its agency's evaluators, looked up before the call's protocol counter is locked,
        /// so that the lock is held no longer than the numbering needs.
        evaluators: Vec<uuid::Uuid>,
        protocol_number: String,
        title: String,
    },
    /// A submitted application was withdrawn.
    Withdrawn,
}

impl ApplicationEvent {
    /// The audit log's name of the change.
    pub fn action(&self) -> &'static str {
        match self {
            ApplicationEvent::Created => "application.created",
            ApplicationEvent::Changed => "application.changed",
            ApplicationEvent::Deleted => "application.deleted",
            ApplicationEvent::DocumentAdded => "application.document_added",
            ApplicationEvent::DocumentDeleted => "application.document_deleted",
            ApplicationEvent::Submitted { .. } => "application.submitted",
            ApplicationEvent::Withdrawn => "application.withdrawn",
        }
    }

    /// The webhook event other systems subscribe to, if any.
    pub fn webhook(&self) -> Option<EventType> {
        match self {
            ApplicationEvent::Submitted { .. } => Some(EventType::ApplicationSubmitted),
            _ => None,
        }
    }

    /// The inbox notices of the change, about the application `id`.
    pub fn notices(&self, id: uuid::Uuid) -> Vec<Notice> {
        match self {
            ApplicationEvent::Submitted {
                agency: Some(_),
                evaluators,
                protocol_number: protocol,
                title,
            } => vec![Notice {
                to: Recipients::Users(evaluators.clone()),
                kind: "application_submitted",
                message: Msg::new(
                    format!("New application {protocol} submitted to your agency: \"{title}\"."),
                    format!("Nuova domanda {protocol} presentata alla sua ATS: \"{title}\"."),
                ),
                data: json!({"application_id": id, "protocol_number": protocol}),
            }],
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<ApplicationEvent> {
        vec![
            ApplicationEvent::Created,
            ApplicationEvent::Changed,
            ApplicationEvent::Deleted,
            ApplicationEvent::DocumentAdded,
            ApplicationEvent::DocumentDeleted,
            ApplicationEvent::Submitted {
                agency: Some(AgencyCode::parse("MONTAGNA").unwrap()),
                evaluators: vec![uuid::Uuid::nil()],
                protocol_number: "RLD-1-000001".into(),
                title: "T".into(),
            },
            ApplicationEvent::Withdrawn,
        ]
    }

    #[test]
    fn the_webhook_of_each_change_is_the_one_its_action_had() {
        for e in all() {
            assert_eq!(
                e.webhook(),
                crate::domain::event::expected_webhook(e.action(), false),
                "{}",
                e.action()
            );
        }
    }

    #[test]
    fn a_submission_to_an_agency_tells_its_evaluators_and_nothing_else_tells_anybody() {
        let id = uuid::Uuid::new_v4();
        for e in all() {
            let notices = e.notices(id);
            match e {
                ApplicationEvent::Submitted { evaluators, .. } => {
                    assert_eq!(notices.len(), 1);
                    let n = &notices[0];
                    assert_eq!(n.to, Recipients::Users(evaluators));
                    assert_eq!(n.kind, "application_submitted");
                    assert_eq!(
                        n.message.en,
                        "New application RLD-1-000001 submitted to your agency: \"T\"."
                    );
                    assert_eq!(
                        n.message.it,
                        "Nuova domanda RLD-1-000001 presentata alla sua ATS: \"T\"."
                    );
                    assert_eq!(
                        n.data,
                        json!({"application_id": id, "protocol_number": "RLD-1-000001"})
                    );
                }
                _ => assert!(notices.is_empty()),
            }
        }
        let without_agency = ApplicationEvent::Submitted {
            agency: None,
            evaluators: vec![],
            protocol_number: "RLD-1-000002".into(),
            title: String::new(),
        };
        assert!(without_agency.notices(id).is_empty());
    }
}
