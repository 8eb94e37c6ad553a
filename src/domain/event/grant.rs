//! The changes of a grant: offered by a ranking, topped up, answered, revoked, lapsed,
//! started, closed, and the notices of its project's deadlines.

use chrono::NaiveDate;
use serde_json::json;
use uuid::Uuid;

use super::{DomainEvent, EventKind, Notice, Recipients};
use crate::domain::agency::AgencyCode;
use crate::domain::award::{Deadline, DeadlineNotice};
use crate::domain::grant::{GrantStatus, Offer};
use crate::domain::money::Money;
use crate::domain::violation::Msg;
use crate::domain::webhook::EventType;

/// The changes of a grant.
#[derive(Debug, Clone)]
pub enum GrantEvent {
    /// Offered by an approved ranking version. The audit log keeps the version, not each
    /// offer. `scorrimento`: the protocol number of an application funded by money going
    /// down the list, whose lead hears of it now (those of an approval hear of it with the
    /// ranking's results).
    Offered {
        offer: Offer,
        scorrimento: Option<String>,
    },
    /// A partial grant raised by scorrimento: its lead hears of it.
    ToppedUp {
        application_id: Uuid,
        protocol_number: String,
        amount: Money,
    },
    /// Accepted or declined by the lead; the agency's evaluators hear of it.
    Answered {
        accepted: bool,
        agency: AgencyCode,
        application_id: Uuid,
        amount: Money,
    },
    /// Revoked by the ATS or the Region (with a cause, if given); the lead hears of it.
    Revoked {
        application_id: Uuid,
        amount: Money,
        reason: String,
    },
    /// Renounced by its lead; the agency's evaluators hear of it.
    Renounced {
        agency: AgencyCode,
        application_id: Uuid,
        amount: Money,
    },
    /// Offers of an agency lapsed unanswered at their deadline.
    Expired { call_id: Uuid, agency: AgencyCode },
    /// The lead communicated the project's start; the ATS's evaluators hear of it, and of
    /// the payments it made due (tranche and amount), which they authorize.
    Started {
        agency: AgencyCode,
        application_id: Uuid,
        start_date: chrono::NaiveDate,
        overdue: bool,
        due: Vec<(String, Money)>,
    },
    /// The project is over (final grant paid, recoveries settled); its lead and its ATS hear
    /// of it.
    Closed {
        agency: AgencyCode,
        application_id: Uuid,
        final_grant: Money,
    },
    /// A deadline of a live project is a week away and what it awaits has not come (the
    /// start, the final report): its lead hears of it, once.
    DeadlineApproaching {
        kind: Deadline,
        /// The last day (Europe/Rome).
        deadline: NaiveDate,
        application_id: Uuid,
    },
    /// A deadline of a live project passed without what it awaited: the ATS's evaluators hear
    /// of it, once, and the grant is flagged overdue (revocation stays their explicit act).
    DeadlineMissed {
        kind: Deadline,
        /// The last day (Europe/Rome).
        deadline: NaiveDate,
        agency: AgencyCode,
        application_id: Uuid,
    },
}

impl GrantEvent {
    pub fn action(&self) -> &'static str {
        match self {
            GrantEvent::Offered { .. } => "grant.offered",
            GrantEvent::ToppedUp { .. } => "grant.topped_up",
            GrantEvent::Answered { accepted: true, .. } => "grant.accepted",
            GrantEvent::Answered {
                accepted: false, ..
            } => "grant.declined",
            GrantEvent::Revoked { .. } => "grant.revoked",
            GrantEvent::Renounced { .. } => "grant.renounced",
            GrantEvent::Expired { .. } => "grant.expired",
            GrantEvent::Started { .. } => "grant.started",
            GrantEvent::Closed { .. } => "grant.closed",
            GrantEvent::DeadlineApproaching { .. } => "grant.deadline_approaching",
            GrantEvent::DeadlineMissed { .. } => "grant.deadline_missed",
        }
    }

    /// Offers and top-ups are kept as the ranking version that made them.
    pub fn audited(&self) -> bool {
        !matches!(
            self,
            GrantEvent::Offered { .. } | GrantEvent::ToppedUp { .. }
        )
    }

    /// The expired offers are recorded against their call's agency.
    pub fn entity_key(&self) -> Option<String> {
        match self {
            GrantEvent::Expired { call_id, agency } => Some(format!("{call_id}:{agency}")),
            _ => None,
        }
    }

    pub fn webhook(&self) -> Option<EventType> {
        Some(match self {
            GrantEvent::Offered { .. } => EventType::GrantOffered,
            GrantEvent::ToppedUp { .. } | GrantEvent::DeadlineApproaching { .. } => return None,
            GrantEvent::Answered { accepted: true, .. } => EventType::GrantAccepted,
            GrantEvent::Answered {
                accepted: false, ..
            } => EventType::GrantDeclined,
            GrantEvent::Revoked { .. } => EventType::GrantRevoked,
            GrantEvent::Renounced { .. } => EventType::GrantRenounced,
            GrantEvent::Expired { .. } => EventType::GrantExpired,
            GrantEvent::Started { .. } => EventType::GrantStarted,
            GrantEvent::Closed { .. } => EventType::GrantClosed,
            GrantEvent::DeadlineMissed { .. } => EventType::GrantDeadlineMissed,
        })
    }

    pub fn notices(&self, grant_id: Uuid) -> Vec<Notice> {
        match self {
            GrantEvent::Offered {
                offer,
                scorrimento: Some(protocol),
            } => vec![Notice {
                to: Recipients::LeadOf(offer.application_id),
                kind: "grant_offered",
                message: Msg::new(
                    format!(
                        "Application {protocol} is now funded: {} (scorrimento). Accept or decline by the deadline.",
                        offer.amount
                    ),
                    format!(
                        "La domanda {protocol} è ora finanziata: {} (scorrimento). Accettare o rinunciare entro il termine.",
                        offer.amount
                    ),
                ),
                data: json!({"application_id": offer.application_id, "amount": offer.amount}),
            }],
            GrantEvent::Offered {
                scorrimento: None, ..
            }
            | GrantEvent::Expired { .. } => vec![],
            GrantEvent::ToppedUp {
                application_id,
                protocol_number,
                amount,
            } => vec![Notice {
                to: Recipients::LeadOf(*application_id),
                kind: "grant_offered",
                message: Msg::new(
                    format!("The grant of {protocol_number} rises to {amount} (scorrimento)."),
                    format!(
                        "Il contributo della domanda {protocol_number} sale a {amount} (scorrimento)."
                    ),
                ),
                data: json!({"application_id": application_id, "amount": amount}),
            }],
            GrantEvent::Answered {
                accepted,
                agency,
                application_id,
                amount,
            } => {
                let (kind, en, it) = if *accepted {
                    ("grant_accepted", "accepted", "accettato")
                } else {
                    ("grant_declined", "declined", "rifiutato")
                };
                vec![Notice {
                    to: Recipients::Evaluators(*agency),
                    kind,
                    message: Msg::new(
                        format!("A grant of {amount} has been {en}."),
                        format!("Un contributo di {amount} è stato {it}."),
                    ),
                    data: json!({"grant_id": grant_id, "application_id": application_id}),
                }]
            }
            GrantEvent::Revoked {
                application_id,
                amount,
                reason,
            } => vec![Notice {
                to: Recipients::LeadOf(*application_id),
                kind: "grant_revoked",
                message: Msg::new(
                    format!("The grant of {amount} has been revoked: {reason}"),
                    format!("Il contributo di {amount} è stato revocato: {reason}"),
                ),
                data: json!({"grant_id": grant_id}),
            }],
            GrantEvent::Renounced {
                agency,
                application_id,
                amount,
            } => vec![Notice {
                to: Recipients::Evaluators(*agency),
                kind: "grant_renounced",
                message: Msg::new(
                    format!("A grant of {amount} has been renounced by its lead."),
                    format!("Un contributo di {amount} è stato rinunciato dal capofila."),
                ),
                data: json!({"grant_id": grant_id, "application_id": application_id}),
            }],
            GrantEvent::Started {
                agency,
                application_id,
                start_date,
                overdue,
                due,
            } => {
                let late = if *overdue {
                    (
                        " It was communicated late.",
                        " È stato comunicato in ritardo.",
                    )
                } else {
                    ("", "")
                };
                let listed: Vec<String> = due.iter().map(|(t, a)| format!("{t} {a}")).collect();
                let (en_due, it_due) = if listed.is_empty() {
                    (String::new(), String::new())
                } else {
                    (
                        format!(" Due for authorization: {}.", listed.join(", ")),
                        format!(" Da liquidare: {}.", listed.join(", ")),
                    )
                };
                vec![Notice {
                    to: Recipients::Evaluators(*agency),
                    kind: "grant_started",
                    message: Msg::new(
                        format!("A project started on {start_date}.{}{en_due}", late.0),
                        format!(
                            "Un progetto è stato avviato il {start_date}.{}{it_due}",
                            late.1
                        ),
                    ),
                    data: json!({"grant_id": grant_id, "application_id": application_id}),
                }]
            }
            GrantEvent::Closed {
                agency,
                application_id,
                final_grant,
            } => {
                let message = Msg::new(
                    format!(
                        "The project is closed: its final grant of {final_grant} is paid and nothing is left to recover."
                    ),
                    format!(
                        "Il progetto è chiuso: il contributo finale di {final_grant} è liquidato e non resta nulla da recuperare."
                    ),
                );
                let data = json!({"grant_id": grant_id, "application_id": application_id, "final_grant": final_grant});
                vec![
                    Notice {
                        to: Recipients::LeadOf(*application_id),
                        kind: "grant_closed",
                        message: message.clone(),
                        data: data.clone(),
                    },
                    Notice {
                        to: Recipients::Evaluators(*agency),
                        kind: "grant_closed",
                        message,
                        data,
                    },
                ]
            }
            GrantEvent::DeadlineApproaching {
                kind,
                deadline,
                application_id,
            } => {
                let message = match kind {
                    Deadline::Start => Msg::new(
                        format!(
                            "Communicate the project's start by {deadline}: after that day it is flagged overdue to the ATS."
                        ),
                        format!(
                            "Comunicare l'avvio del progetto entro il {deadline}: dopo quel giorno è segnalato in ritardo all'ATS."
                        ),
                    ),
                    Deadline::Report => Msg::new(
                        format!(
                            "Submit the project's final report by {deadline}: after that day it is flagged overdue to the ATS."
                        ),
                        format!(
                            "Presentare il rendiconto finale del progetto entro il {deadline}: dopo quel giorno è segnalato in ritardo all'ATS."
                        ),
                    ),
                };
                vec![Notice {
                    to: Recipients::LeadOf(*application_id),
                    kind: "grant_deadline_approaching",
                    message,
                    data: json!({"grant_id": grant_id, "application_id": application_id, "deadline_kind": kind, "deadline": deadline}),
                }]
            }
            GrantEvent::DeadlineMissed {
                kind,
                deadline,
                agency,
                application_id,
            } => {
                let message = match kind {
                    Deadline::Start => Msg::new(
                        format!(
                            "A project's start was not communicated by {deadline}: the grant is flagged overdue."
                        ),
                        format!(
                            "L'avvio di un progetto non è stato comunicato entro il {deadline}: il contributo è segnalato in ritardo."
                        ),
                    ),
                    Deadline::Report => Msg::new(
                        format!(
                            "A project's final report was not submitted by {deadline}: the grant is flagged overdue."
                        ),
                        format!(
                            "Il rendiconto finale di un progetto non è stato presentato entro il {deadline}: il contributo è segnalato in ritardo."
                        ),
                    ),
                };
                vec![Notice {
                    to: Recipients::Evaluators(*agency),
                    kind: "grant_deadline_missed",
                    message,
                    data: json!({"grant_id": grant_id, "application_id": application_id, "deadline_kind": kind, "deadline": deadline}),
                }]
            }
        }
    }
}

/// A notice of a live project's deadline (`notice`), whose last day is `deadline`: a reminder
/// to its lead, or the ATS told it was missed.
pub fn deadline_notice(
    grant: Uuid,
    agency: AgencyCode,
    application_id: Uuid,
    notice: DeadlineNotice,
    deadline: NaiveDate,
) -> DomainEvent {
    let kind = notice.deadline();
    let event = if notice.missed() {
        GrantEvent::DeadlineMissed {
            kind,
            deadline,
            agency,
            application_id,
        }
    } else {
        GrantEvent::DeadlineApproaching {
            kind,
            deadline,
            application_id,
        }
    };
    DomainEvent {
        kind: EventKind::Grant(event),
        entity_type: "grant",
        entity_id: grant,
        before: None,
        after: Some(json!({"deadline_notice": notice, "deadline": deadline})),
    }
}

/// The project is over: its final grant paid, every recovery settled.
pub fn closed(
    grant: Uuid,
    agency: AgencyCode,
    application_id: Uuid,
    final_grant: Money,
) -> DomainEvent {
    DomainEvent {
        kind: EventKind::Grant(GrantEvent::Closed {
            agency,
            application_id,
            final_grant,
        }),
        entity_type: "grant",
        entity_id: grant,
        before: Some(json!({"status": GrantStatus::Accepted})),
        after: Some(json!({"status": GrantStatus::Closed, "final_grant": final_grant})),
    }
}

/// The lead communicated the project's start: its dates, and the payments it made due.
pub fn started(
    grant: Uuid,
    agency: AgencyCode,
    application_id: Uuid,
    s: &crate::domain::award::Started,
    due: &[crate::domain::award::Payment],
) -> DomainEvent {
    let due: Vec<(String, Money)> = due.iter().map(|p| (p.tranche.clone(), p.amount)).collect();
    let after = json!({
        "start_date": s.start_date,
        "end_date": s.end_date,
        "overdue": s.overdue,
        "payments_due": due.iter().map(|(t, a)| json!({"tranche": t, "amount": a})).collect::<Vec<_>>(),
    });
    DomainEvent {
        kind: EventKind::Grant(GrantEvent::Started {
            agency,
            application_id,
            start_date: s.start_date,
            overdue: s.overdue,
            due,
        }),
        entity_type: "grant",
        entity_id: grant,
        before: Some(json!({"start_date": null})),
        after: Some(after),
    }
}

/// A grant offered; with `scorrimento` (the application's protocol number), its lead hears
/// of it now.
pub fn offered(offer: Offer, scorrimento: Option<String>) -> DomainEvent {
    let after = json!({
        "status": GrantStatus::Offered,
        "call_id": offer.call_id,
        "agency_code": offer.agency,
        "application_id": offer.application_id,
        "amount": offer.amount,
        "requested": offer.requested,
        "deadline": crate::domain::timestamp::format(&offer.deadline),
        "ranking_version": offer.ranking_version,
    });
    DomainEvent {
        entity_type: "grant",
        entity_id: offer.id,
        before: None,
        after: Some(after),
        kind: EventKind::Grant(GrantEvent::Offered { offer, scorrimento }),
    }
}

/// A partial grant raised to `amount` by scorrimento.
pub fn topped_up(
    grant_id: Uuid,
    application_id: Uuid,
    protocol_number: String,
    amount: Money,
) -> DomainEvent {
    DomainEvent {
        kind: EventKind::Grant(GrantEvent::ToppedUp {
            application_id,
            protocol_number,
            amount,
        }),
        entity_type: "grant",
        entity_id: grant_id,
        before: None,
        after: Some(json!({"amount": amount})),
    }
}

/// An offer answered by its lead: `next` is `accepted` or `declined`.
#[allow(clippy::too_many_arguments)]
pub fn answered(
    grant_id: Uuid,
    agency: AgencyCode,
    application_id: Uuid,
    amount: Money,
    was: GrantStatus,
    next: GrantStatus,
    cup: Option<&str>,
    reason: Option<&str>,
) -> DomainEvent {
    DomainEvent {
        kind: EventKind::Grant(GrantEvent::Answered {
            accepted: next == GrantStatus::Accepted,
            agency,
            application_id,
            amount,
        }),
        entity_type: "grant",
        entity_id: grant_id,
        before: Some(json!({"status": was})),
        after: Some(json!({"status": next, "cup": cup, "reason": reason})),
    }
}

/// A grant revoked by the ATS or the Region, with its cause if given.
pub fn revoked(
    grant_id: Uuid,
    application_id: Uuid,
    amount: Money,
    was: GrantStatus,
    reason: &str,
    cause: Option<crate::domain::award::RevocationCause>,
) -> DomainEvent {
    DomainEvent {
        kind: EventKind::Grant(GrantEvent::Revoked {
            application_id,
            amount,
            reason: reason.to_owned(),
        }),
        entity_type: "grant",
        entity_id: grant_id,
        before: Some(json!({"status": was})),
        after: Some(json!({"status": "revoked", "reason": reason, "cause": cause})),
    }
}

/// An accepted grant renounced by its lead.
pub fn renounced(
    grant_id: Uuid,
    agency: AgencyCode,
    application_id: Uuid,
    amount: Money,
    reason: &str,
) -> DomainEvent {
    DomainEvent {
        kind: EventKind::Grant(GrantEvent::Renounced {
            agency,
            application_id,
            amount,
        }),
        entity_type: "grant",
        entity_id: grant_id,
        before: Some(json!({"status": GrantStatus::Accepted})),
        after: Some(json!({"status": GrantStatus::Renounced, "reason": reason})),
    }
}

/// `count` offers of an agency lapsed unanswered.
pub fn expired(call_id: Uuid, agency: AgencyCode, count: u64) -> DomainEvent {
    DomainEvent {
        kind: EventKind::Grant(GrantEvent::Expired { call_id, agency }),
        entity_type: "agency",
        // Kept by the composite key of `entity_key`.
        entity_id: call_id,
        before: None,
        after: Some(json!({"expired": count})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audited_changes_publish_what_their_action_published() {
        let app = Uuid::nil();
        let all = [
            GrantEvent::Answered {
                accepted: true,
                agency: AgencyCode::ALL[0],
                application_id: app,
                amount: Money::ZERO,
            },
            GrantEvent::Answered {
                accepted: false,
                agency: AgencyCode::ALL[0],
                application_id: app,
                amount: Money::ZERO,
            },
            GrantEvent::Revoked {
                application_id: app,
                amount: Money::ZERO,
                reason: "r".into(),
            },
            GrantEvent::Expired {
                call_id: app,
                agency: AgencyCode::ALL[0],
            },
            GrantEvent::Renounced {
                agency: AgencyCode::ALL[0],
                application_id: app,
                amount: Money::ZERO,
            },
            GrantEvent::Started {
                agency: AgencyCode::ALL[0],
                application_id: app,
                start_date: chrono::NaiveDate::MIN,
                overdue: false,
                due: vec![],
            },
        ];
        for e in all {
            assert!(e.audited());
            assert_eq!(
                e.webhook(),
                crate::domain::event::expected_webhook(e.action(), false),
                "{e:?}"
            );
        }
    }

    #[test]
    fn a_reminder_goes_to_the_lead_alone_and_a_missed_deadline_to_the_ats_and_its_webhook() {
        let (grant, app, agency) = (Uuid::nil(), Uuid::max(), AgencyCode::ALL[0]);
        let day = chrono::NaiveDate::MIN;
        let reminder = deadline_notice(grant, agency, app, DeadlineNotice::StartReminder, day);
        assert!(reminder.audited());
        assert_eq!(reminder.action(), "grant.deadline_approaching");
        assert_eq!(reminder.webhook(), None);
        let to: Vec<Recipients> = reminder.notices().into_iter().map(|n| n.to).collect();
        assert_eq!(to, vec![Recipients::LeadOf(app)]);
        let missed = deadline_notice(grant, agency, app, DeadlineNotice::ReportMissed, day);
        assert_eq!(missed.action(), "grant.deadline_missed");
        assert_eq!(missed.webhook(), Some(EventType::GrantDeadlineMissed));
        let notices = missed.notices();
        assert_eq!(notices.len(), 1);
        assert_eq!(
            (notices[0].to.clone(), notices[0].kind),
            (Recipients::Evaluators(agency), "grant_deadline_missed")
        );
        assert_eq!(notices[0].data["deadline_kind"], "report");
    }

    #[test]
    fn an_offer_publishes_its_webhook_without_an_audit_row() {
        let offer = Offer::new(
            Uuid::nil(),
            AgencyCode::ALL[0],
            Uuid::nil(),
            Money::ZERO,
            Money::ZERO,
            1,
            30,
            chrono::Utc::now(),
        );
        let event = offered(offer, None);
        assert!(!event.audited());
        assert_eq!(event.webhook(), Some(EventType::GrantOffered));
        assert!(event.notices().is_empty());
        let event = expired(Uuid::nil(), AgencyCode::ALL[0], 2);
        assert_eq!(
            event.entity_key(),
            format!("{}:{}", Uuid::nil(), AgencyCode::ALL[0])
        );
    }
}
