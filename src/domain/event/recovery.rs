//! The changes of a recovery order: issued when a grant paid more than it now allows,
//! settled or cancelled by the Region.

use serde_json::json;
use uuid::Uuid;

use super::{DomainEvent, EventKind, Notice, Recipients};
use crate::domain::award::{Recovery, RecoveryStatus};
use crate::domain::violation::Msg;
use crate::domain::webhook::EventType;

/// The changes of a recovery order, with what their notices need.
#[derive(Debug, Clone)]
pub struct RecoveryEvent {
    pub recovery: Recovery,
    pub application_id: Uuid,
}

impl RecoveryEvent {
    pub fn action(&self) -> &'static str {
        match self.recovery.status {
            RecoveryStatus::Issued => "recovery.issued",
            RecoveryStatus::Settled => "recovery.settled",
            RecoveryStatus::Cancelled => "recovery.cancelled",
        }
    }

    pub fn webhook(&self) -> EventType {
        match self.recovery.status {
            RecoveryStatus::Issued => EventType::RecoveryIssued,
            RecoveryStatus::Settled => EventType::RecoverySettled,
            RecoveryStatus::Cancelled => EventType::RecoveryCancelled,
        }
    }

    /// The lead hears of an order issued against its grant, and of its end; so does the ATS.
    pub fn notices(&self, recovery_id: Uuid) -> Vec<Notice> {
        let r = &self.recovery;
        let (amount, due) = (r.amount, r.due_date);
        let (en, it) = match r.status {
            RecoveryStatus::Issued => (
                format!(
                    "A recovery order of {amount} was issued on your grant: pay it back by {due}. {}",
                    r.reason
                ),
                format!(
                    "È stato emesso un ordine di recupero di {amount} sul contributo: restituire entro il {due}. {}",
                    r.reason
                ),
            ),
            RecoveryStatus::Settled => (
                format!("The recovery order of {amount} is settled."),
                format!("L'ordine di recupero di {amount} è saldato."),
            ),
            RecoveryStatus::Cancelled => (
                format!("The recovery order of {amount} was cancelled."),
                format!("L'ordine di recupero di {amount} è stato annullato."),
            ),
        };
        let kind = self.action();
        let data = json!({"recovery_id": recovery_id, "grant_id": r.grant_id, "amount": amount, "due_date": due});
        vec![
            Notice {
                to: Recipients::LeadOf(self.application_id),
                kind,
                message: Msg::new(en.clone(), it.clone()),
                data: data.clone(),
            },
            Notice {
                to: Recipients::Evaluators(r.agency),
                kind,
                message: Msg::new(en, it),
                data,
            },
        ]
    }
}

/// A recovery order changed from `was` (none when just issued) to `now`.
pub fn changed(was: Option<&Recovery>, now: &Recovery, application_id: Uuid) -> DomainEvent {
    DomainEvent {
        kind: EventKind::Recovery(RecoveryEvent {
            recovery: now.clone(),
            application_id,
        }),
        entity_type: "recovery",
        entity_id: now.id,
        before: was.map(|w| json!({"status": w.status})),
        after: Some(json!({
            "status": now.status,
            "grant_id": now.grant_id,
            "amount": now.amount,
            "due_date": now.due_date,
            "reason": now.reason,
            "payment_reference": now.payment_reference,
            "cancel_reason": now.cancel_reason,
        })),
    }
}
