//! The changes of a call and of its envelopes.

use serde_json::{Value, json};

use super::{DomainEvent, EventKind};
use crate::domain::call::{AmendmentAct, Call, Envelope, FieldChange};
use crate::domain::webhook::EventType;

/// The changes of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEvent {
    /// Created as a draft, or cloned from another edition, with its envelopes.
    Created,
    /// Its content changed without an amendment act; `envelopes` when its envelopes were
    /// split again with it (a new total).
    Changed {
        envelopes: bool,
    },
    /// A published call's dates changed by an amendment act.
    Amended {
        envelopes: bool,
    },
    Published,
    /// Every envelope set at once (given, or split from the total).
    EnvelopesSet,
    /// Unused money moved from one agency's envelope to another's.
    Reallocated,
}

impl CallEvent {
    pub fn action(&self) -> &'static str {
        match self {
            CallEvent::Created => "call.created",
            CallEvent::Changed { .. } => "call.changed",
            CallEvent::Amended { .. } => "call.amended",
            CallEvent::Published => "call.published",
            CallEvent::EnvelopesSet => "call.envelopes_set",
            CallEvent::Reallocated => "call.reallocated",
        }
    }

    /// Subscribers hear of every change of the envelopes.
    pub fn webhook(&self) -> Option<EventType> {
        match self {
            CallEvent::Changed { envelopes } | CallEvent::Amended { envelopes } => {
                envelopes.then_some(EventType::EnvelopeChanged)
            }
            CallEvent::EnvelopesSet | CallEvent::Reallocated => Some(EventType::EnvelopeChanged),
            CallEvent::Created | CallEvent::Published => None,
        }
    }
}

/// A call as the audit log keeps it.
fn call_json(c: &Call) -> Value {
    json!({
        "code": c.code, "title": c.title, "status": c.status.as_str(),
        "opens_at": c.window.opens_at(), "closes_at": c.window.closes_at(),
        "total_budget": c.total_budget, "rules": c.rules, "version": c.version,
    })
}

/// Envelopes as the audit log keeps them.
fn envelopes_json(es: &[Envelope]) -> Value {
    es.iter()
        .map(|e| json!({"agency_code": e.agency, "amount": e.amount, "source": e.source.as_str()}))
        .collect()
}

fn event(kind: CallEvent, call: &Call, before: Option<Value>, after: Value) -> DomainEvent {
    DomainEvent {
        kind: EventKind::Call(kind),
        entity_type: "call",
        entity_id: call.id,
        before,
        after: Some(after),
    }
}

/// A call created (or cloned) with its envelopes.
pub fn created(call: &Call, envelopes: &[Envelope]) -> DomainEvent {
    let mut after = call_json(call);
    after["envelopes"] = envelopes_json(envelopes);
    event(CallEvent::Created, call, None, after)
}

/// A call changed from `before` to `after`: published, edited or amended by `amendment`,
/// with its envelopes when they changed with it (`(before, after)`).
pub fn changed(
    before: &Call,
    after: &Call,
    published: bool,
    envelopes: Option<(&[Envelope], &[Envelope])>,
    amendment: Option<(&AmendmentAct, &[FieldChange])>,
) -> DomainEvent {
    let with_envelopes = envelopes.is_some();
    let kind = if published {
        CallEvent::Published
    } else if amendment.is_some() {
        CallEvent::Amended {
            envelopes: with_envelopes,
        }
    } else {
        CallEvent::Changed {
            envelopes: with_envelopes,
        }
    };
    let mut old = call_json(before);
    let mut new = call_json(after);
    if let Some((was, now)) = envelopes {
        old["envelopes"] = envelopes_json(was);
        new["envelopes"] = envelopes_json(now);
    }
    if let Some((act, changes)) = amendment {
        new["amendment"] =
            json!({"act_number": act.act_number, "act_date": act.act_date, "changes": changes});
    }
    event(kind, after, Some(old), new)
}

/// A call's envelopes set (`EnvelopesSet`) or reallocated (`Reallocated`).
pub fn envelopes_changed(
    kind: CallEvent,
    call: &Call,
    before: &[Envelope],
    after: &[Envelope],
) -> DomainEvent {
    event(
        kind,
        call,
        Some(envelopes_json(before)),
        envelopes_json(after),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_webhook_is_decided_as_the_action_and_document_decided_it() {
        let all = [
            CallEvent::Created,
            CallEvent::Changed { envelopes: false },
            CallEvent::Changed { envelopes: true },
            CallEvent::Amended { envelopes: false },
            CallEvent::Amended { envelopes: true },
            CallEvent::Published,
            CallEvent::EnvelopesSet,
            CallEvent::Reallocated,
        ];
        for e in all {
            let with = matches!(
                e,
                CallEvent::Changed { envelopes: true } | CallEvent::Amended { envelopes: true }
            );
            assert_eq!(
                e.webhook(),
                crate::domain::event::expected_webhook(e.action(), with),
                "{e:?}"
            );
        }
    }
}
