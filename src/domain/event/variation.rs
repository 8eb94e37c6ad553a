//! The steps of a project's variation: requested by the lead, consented to by an organization
//! it adds, decided by the ATS (or approved at once).

use serde_json::json;
use uuid::Uuid;

use super::{Notice, Recipients};
use crate::domain::agency::AgencyCode;
use crate::domain::award::{VariationKind, VariationStatus};
use crate::domain::violation::Msg;
use crate::domain::webhook::EventType;

/// What happened to a variation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariationStep {
    /// Requested; `awaiting` are the added organizations whose consent it waits for.
    Requested {
        awaiting: Vec<Uuid>,
    },
    /// An added organization answered; `complete`: nobody's consent is awaited any more.
    Consented {
        accepted: bool,
        complete: bool,
    },
    Decided {
        approved: bool,
    },
}

/// A step of a variation, with what its notices need.
#[derive(Debug, Clone)]
pub struct VariationEvent {
    pub grant_id: Uuid,
    pub application_id: Uuid,
    pub agency: AgencyCode,
    pub kind: VariationKind,
    pub status: VariationStatus,
    pub automatic: bool,
    pub step: VariationStep,
}

fn kind_words(k: VariationKind) -> (&'static str, &'static str) {
    match k {
        VariationKind::BudgetShift => ("budget shift", "variazione di budget"),
        VariationKind::PartnerChange => ("partner change", "variazione del partenariato"),
        VariationKind::Extension => ("extension", "proroga"),
    }
}

impl VariationEvent {
    pub fn action(&self) -> &'static str {
        match self.step {
            VariationStep::Requested { .. } => "variation.requested",
            VariationStep::Consented { .. } => "variation.consented",
            VariationStep::Decided { .. } => "variation.decided",
        }
    }

    pub fn webhook(&self) -> Option<EventType> {
        match self.step {
            VariationStep::Requested { .. } => Some(EventType::VariationRequested),
            VariationStep::Consented { .. } => None,
            VariationStep::Decided { .. } => Some(EventType::VariationDecided),
        }
    }

    /// The ATS hears of a variation that waits for it; an added organization of one that waits
    /// for its consent; the lead of the decision (not of its own automatic approval).
    pub fn notices(&self, variation_id: Uuid) -> Vec<Notice> {
        let (en_kind, it_kind) = kind_words(self.kind);
        let data =
            json!({"variation_id": variation_id, "grant_id": self.grant_id, "kind": self.kind});
        let ats = |en: String, it: String| Notice {
            to: Recipients::Evaluators(self.agency),
            kind: "variation_requested",
            message: Msg::new(en, it),
            data: data.clone(),
        };
        match &self.step {
            VariationStep::Requested { awaiting } if !awaiting.is_empty() => awaiting
                .iter()
                .map(|org| Notice {
                    to: Recipients::Representatives(*org),
                    kind: "variation_consent_requested",
                    message: Msg::new(
                        "A project asks your organization to join it as a partner: consent or refuse (POST .../variations/{id}/consent).",
                        "Un progetto chiede al suo ente di entrarvi come partner: acconsentire o rifiutare (POST .../variations/{id}/consent).",
                    ),
                    data: data.clone(),
                })
                .collect(),
            VariationStep::Requested { .. } if self.status == VariationStatus::Pending => {
                vec![ats(
                    format!("A project asks for a {en_kind}: decide on it."),
                    format!("Un progetto chiede una {it_kind}: decidere."),
                )]
            }
            VariationStep::Consented {
                accepted: true,
                complete: false,
            } => vec![],
            VariationStep::Consented { accepted: true, .. } => vec![ats(
                format!("A {en_kind} has the consent of the organization it adds: decide on it."),
                format!("Una {it_kind} ha il consenso dell'ente che aggiunge: decidere."),
            )],
            VariationStep::Consented {
                accepted: false, ..
            }
            | VariationStep::Decided { .. }
                if !self.automatic =>
            {
                let approved = matches!(
                    self.step,
                    VariationStep::Decided { approved: true }
                );
                let (en, it) = if approved {
                    (
                        format!("Your {en_kind} was approved: the project has a new version."),
                        format!("La {it_kind} è stata approvata: il progetto ha una nuova versione."),
                    )
                } else {
                    (
                        format!("Your {en_kind} was rejected."),
                        format!("La {it_kind} è stata respinta."),
                    )
                };
                vec![Notice {
                    to: Recipients::LeadOf(self.application_id),
                    kind: "variation_decided",
                    message: Msg::new(en, it),
                    data,
                }]
            }
            _ => vec![],
        }
    }
}
