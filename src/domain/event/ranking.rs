//! The changes of an agency's ranking: computed as a draft, approved, and the new versions
//! of scorrimento.

use chrono::NaiveDate;
use serde_json::json;
use uuid::Uuid;

use super::{DomainEvent, EventKind, Notice, Recipients};
use crate::domain::agency::AgencyCode;
use crate::domain::money::Money;
use crate::domain::ranking::{Entry, Outcome};
use crate::domain::violation::Msg;
use crate::domain::webhook::EventType;

/// One published result and the users who hear of it (its lead's representatives).
#[derive(Debug, Clone)]
pub struct Published {
    pub entry: Entry,
    pub leads: Vec<Uuid>,
}

/// The changes of a ranking.
#[derive(Debug, Clone)]
pub enum RankingEvent {
    /// A draft version computed.
    Computed,
    /// The draft approved: its results are published and every lead is told its outcome.
    Approved { results: Vec<Published> },
    /// Freed money went down the list as a new approved version.
    Scorrimento {
        call_id: Uuid,
        agency: AgencyCode,
        version: i32,
    },
}

impl RankingEvent {
    pub fn action(&self) -> &'static str {
        match self {
            RankingEvent::Computed => "ranking.computed",
            RankingEvent::Approved { .. } => "ranking.approved",
            RankingEvent::Scorrimento { .. } => "ranking.scorrimento",
        }
    }

    pub fn webhook(&self) -> Option<EventType> {
        Some(match self {
            RankingEvent::Computed | RankingEvent::Scorrimento { .. } => EventType::RankingChanged,
            RankingEvent::Approved { .. } => EventType::RankingApproved,
        })
    }

    /// A version of scorrimento is recorded by its call, agency and number.
    pub fn entity_key(&self) -> Option<String> {
        match self {
            RankingEvent::Scorrimento {
                call_id,
                agency,
                version,
            } => Some(format!("{call_id}:{agency}:{version}")),
            _ => None,
        }
    }

    pub fn notices(&self) -> Vec<Notice> {
        let RankingEvent::Approved { results } = self else {
            return vec![];
        };
        results
            .iter()
            .filter_map(|Published { entry: e, leads }| {
                let (en, it) = match e.outcome {
                    Outcome::Funded => (
                        format!("Application {} is funded: {}.", e.protocol_number, e.amount),
                        format!(
                            "La domanda {} è finanziata: {}.",
                            e.protocol_number, e.amount
                        ),
                    ),
                    Outcome::PartiallyFunded => (
                        format!(
                            "Application {} is partially funded: {} of {}.",
                            e.protocol_number, e.amount, e.requested
                        ),
                        format!(
                            "La domanda {} è finanziata parzialmente: {} su {}.",
                            e.protocol_number, e.amount, e.requested
                        ),
                    ),
                    Outcome::Reserve => (
                        format!(
                            "Application {} is eligible and in the reserve list.",
                            e.protocol_number
                        ),
                        format!(
                            "La domanda {} è idonea e in graduatoria di riserva.",
                            e.protocol_number
                        ),
                    ),
                    Outcome::Lapsed => return None,
                    Outcome::NotEligible => (
                        format!(
                            "Application {} did not reach the threshold.",
                            e.protocol_number
                        ),
                        format!(
                            "La domanda {} non ha raggiunto la soglia.",
                            e.protocol_number
                        ),
                    ),
                };
                Some(Notice {
                    to: Recipients::Users(leads.clone()),
                    kind: "ranking_approved",
                    message: Msg::new(en, it),
                    data: json!({"application_id": e.application_id, "outcome": e.outcome, "amount": e.amount}),
                })
            })
            .collect()
    }
}

/// A draft version computed.
pub fn computed(
    id: Uuid,
    call_id: Uuid,
    agency: AgencyCode,
    version: i32,
    allocated: Money,
) -> DomainEvent {
    DomainEvent {
        kind: EventKind::Ranking(RankingEvent::Computed),
        entity_type: "ranking",
        entity_id: id,
        before: None,
        after: Some(
            json!({"call_id": call_id, "agency": agency, "version": version, "allocated": allocated}),
        ),
    }
}

/// The draft `id` approved with its act; `results` tell every lead its outcome.
pub fn approved(
    id: Uuid,
    act_number: &str,
    act_date: NaiveDate,
    results: Vec<Published>,
) -> DomainEvent {
    DomainEvent {
        kind: EventKind::Ranking(RankingEvent::Approved { results }),
        entity_type: "ranking",
        entity_id: id,
        before: Some(json!({"status": "draft"})),
        after: Some(json!({"status": "approved", "act_number": act_number, "act_date": act_date})),
    }
}

/// Version `version` of an agency's ranking, published by scorrimento for `reason`.
pub fn scorrimento(
    call_id: Uuid,
    agency: AgencyCode,
    version: i32,
    reason: &str,
    allocated: Money,
) -> DomainEvent {
    DomainEvent {
        kind: EventKind::Ranking(RankingEvent::Scorrimento {
            call_id,
            agency,
            version,
        }),
        entity_type: "ranking",
        // Kept by the composite key of `entity_key`.
        entity_id: call_id,
        before: None,
        after: Some(json!({"reason": reason, "allocated": allocated})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_changes_publish_what_their_action_published() {
        let all = [
            RankingEvent::Computed,
            RankingEvent::Approved { results: vec![] },
            RankingEvent::Scorrimento {
                call_id: Uuid::nil(),
                agency: AgencyCode::ALL[0],
                version: 2,
            },
        ];
        for e in all {
            assert_eq!(
                e.webhook(),
                crate::domain::event::expected_webhook(e.action(), false),
                "{e:?}"
            );
        }
    }
}
