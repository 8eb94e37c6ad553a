//! The changes of a grant's payments: authorized by the ATS, paid or failed as the Region
//! records it, cancelled.

use serde_json::json;
use uuid::Uuid;

use super::{DomainEvent, EventKind, Notice, Recipients};
use crate::domain::agency::AgencyCode;
use crate::domain::award::{Payment, PaymentStatus};
use crate::domain::money::Money;
use crate::domain::violation::Msg;
use crate::domain::webhook::EventType;

/// What a payment's notices say of it.
#[derive(Debug, Clone)]
pub struct Paying {
    pub grant_id: Uuid,
    pub application_id: Uuid,
    pub agency: AgencyCode,
    pub tranche: String,
    pub amount: Money,
}

/// The changes of a payment.
#[derive(Debug, Clone)]
pub enum PaymentEvent {
    /// The ATS liquidated it: the Region's administrators record the payment order.
    Authorized(Paying),
    /// Paid: the lead hears of it.
    Paid(Paying),
    /// The payment order failed: the ATS may authorize it again; the lead hears of it too.
    Failed { paying: Paying, reason: String },
    /// Cancelled while not paid: the lead and the ATS hear of it.
    Cancelled { paying: Paying, reason: String },
}

impl PaymentEvent {
    fn paying(&self) -> &Paying {
        match self {
            PaymentEvent::Authorized(p) | PaymentEvent::Paid(p) => p,
            PaymentEvent::Failed { paying, .. } | PaymentEvent::Cancelled { paying, .. } => paying,
        }
    }

    pub fn action(&self) -> &'static str {
        match self {
            PaymentEvent::Authorized(_) => "payment.authorized",
            PaymentEvent::Paid(_) => "payment.paid",
            PaymentEvent::Failed { .. } => "payment.failed",
            PaymentEvent::Cancelled { .. } => "payment.cancelled",
        }
    }

    pub fn webhook(&self) -> EventType {
        match self {
            PaymentEvent::Authorized(_) => EventType::PaymentAuthorized,
            PaymentEvent::Paid(_) => EventType::PaymentPaid,
            PaymentEvent::Failed { .. } => EventType::PaymentFailed,
            PaymentEvent::Cancelled { .. } => EventType::PaymentCancelled,
        }
    }

    pub fn notices(&self, payment_id: Uuid) -> Vec<Notice> {
        let p = self.paying();
        let data = json!({"payment_id": payment_id, "grant_id": p.grant_id, "application_id": p.application_id,
            "tranche": p.tranche, "amount": p.amount});
        let notice = |to: Recipients, kind: &'static str, en: String, it: String| Notice {
            to,
            kind,
            message: Msg::new(en, it),
            data: data.clone(),
        };
        let (tranche, amount) = (&p.tranche, p.amount);
        match self {
            PaymentEvent::Authorized(_) => vec![notice(
                Recipients::Administrators,
                "payment_authorized",
                format!(
                    "A payment of {amount} ({tranche}) was authorized by ATS {}: record its payment order.",
                    p.agency
                ),
                format!(
                    "Un pagamento di {amount} ({tranche}) è stato liquidato dall'ATS {}: registrarne il mandato.",
                    p.agency
                ),
            )],
            PaymentEvent::Paid(_) => vec![notice(
                Recipients::LeadOf(p.application_id),
                "payment_paid",
                format!("The payment of {amount} ({tranche}) of your grant was made."),
                format!("Il pagamento di {amount} ({tranche}) del contributo è stato effettuato."),
            )],
            PaymentEvent::Failed { reason, .. } => vec![
                notice(
                    Recipients::Evaluators(p.agency),
                    "payment_failed",
                    format!(
                        "The payment order of {amount} ({tranche}) failed: {reason}. It can be authorized again."
                    ),
                    format!(
                        "Il mandato di pagamento di {amount} ({tranche}) non è andato a buon fine: {reason}. Può essere liquidato di nuovo."
                    ),
                ),
                notice(
                    Recipients::LeadOf(p.application_id),
                    "payment_failed",
                    format!(
                        "The payment of {amount} ({tranche}) of your grant did not go through: {reason}."
                    ),
                    format!(
                        "Il pagamento di {amount} ({tranche}) del contributo non è andato a buon fine: {reason}."
                    ),
                ),
            ],
            PaymentEvent::Cancelled { reason, .. } => vec![
                notice(
                    Recipients::LeadOf(p.application_id),
                    "payment_cancelled",
                    format!(
                        "The payment of {amount} ({tranche}) of your grant was cancelled: {reason}"
                    ),
                    format!(
                        "Il pagamento di {amount} ({tranche}) del contributo è stato annullato: {reason}"
                    ),
                ),
                notice(
                    Recipients::Evaluators(p.agency),
                    "payment_cancelled",
                    format!("The payment of {amount} ({tranche}) was cancelled: {reason}"),
                    format!("Il pagamento di {amount} ({tranche}) è stato annullato: {reason}"),
                ),
            ],
        }
    }
}

/// A payment changed from `was` to `now`; the event follows from its new status.
pub fn changed(was: &Payment, now: &Payment, application_id: Uuid) -> Option<DomainEvent> {
    let paying = Paying {
        grant_id: now.grant_id,
        application_id,
        agency: now.agency,
        tranche: now.tranche.clone(),
        amount: now.amount,
    };
    let kind = match now.status {
        PaymentStatus::Authorized => PaymentEvent::Authorized(paying),
        PaymentStatus::Paid => PaymentEvent::Paid(paying),
        PaymentStatus::Failed => PaymentEvent::Failed {
            paying,
            reason: now.failure_reason.clone().unwrap_or_default(),
        },
        PaymentStatus::Cancelled => PaymentEvent::Cancelled {
            paying,
            reason: now.cancel_reason.clone().unwrap_or_default(),
        },
        PaymentStatus::Due => return None,
    };
    Some(DomainEvent {
        kind: EventKind::Payment(kind),
        entity_type: "payment",
        entity_id: now.id,
        before: Some(json!({"status": was.status})),
        after: Some(json!({
            "status": now.status,
            "grant_id": now.grant_id,
            "tranche": now.tranche,
            "amount": now.amount,
            "liquidation": now.liquidation,
            "order": now.order,
            "failure_reason": now.failure_reason,
            "cancel_reason": now.cancel_reason,
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::award::Payment;

    #[test]
    fn each_change_publishes_its_webhook_and_tells_the_next_actor() {
        let due = Payment::due(Uuid::nil(), AgencyCode::Montagna, "advance", Money::ZERO);
        let app = Uuid::from_u128(7);
        let authorized = Payment {
            status: PaymentStatus::Authorized,
            ..due.clone()
        };
        let e = changed(&due, &authorized, app).unwrap();
        assert_eq!(e.action(), "payment.authorized");
        assert_eq!(
            e.webhook(),
            crate::domain::event::expected_webhook(e.action(), false)
        );
        assert_eq!(e.notices()[0].to, Recipients::Administrators);
        let paid = Payment {
            status: PaymentStatus::Paid,
            ..due.clone()
        };
        let e = changed(&authorized, &paid, app).unwrap();
        assert_eq!(e.notices()[0].to, Recipients::LeadOf(app));
        for (status, action) in [
            (PaymentStatus::Failed, "payment.failed"),
            (PaymentStatus::Cancelled, "payment.cancelled"),
        ] {
            let p = Payment {
                status,
                ..due.clone()
            };
            let e = changed(&authorized, &p, app).unwrap();
            assert_eq!(e.action(), action);
            assert_eq!(
                e.webhook(),
                crate::domain::event::expected_webhook(action, false)
            );
            assert_eq!(e.notices().len(), 2);
        }
        assert!(changed(&due, &due, app).is_none());
    }
}
