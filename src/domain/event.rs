//! What happened, as a typed fact. A service records each event once, in the transaction of
//! the change; one recorder (`service::events`) turns it into the audit row, the webhook
//! outbox row and the inbox notices, so that none of them is derived from an action string or
//! the shape of a JSON document.

pub mod application;
pub mod call;
pub mod grant;
pub mod payment;
pub mod ranking;
pub mod recovery;
pub mod report;
pub mod review;
pub mod variation;

use serde_json::Value;
use uuid::Uuid;

use self::application::ApplicationEvent;
use super::agency::AgencyCode;
use super::user::Role;
use super::violation::Msg;
use super::webhook::EventType;
use call::CallEvent;
use grant::GrantEvent;
use payment::PaymentEvent;
use ranking::RankingEvent;
use recovery::RecoveryEvent;

/// Who made a change, and in which request.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    pub role: Option<Role>,
    pub request_id: Option<String>,
}

impl Actor {
    /// The service itself (migrations, demo data, periodic tasks).
    pub fn system() -> Actor {
        Actor::default()
    }
}

/// One change, with what the audit log keeps of it.
#[derive(Debug, Clone)]
pub struct DomainEvent {
    pub kind: EventKind,
    /// The kind of the changed entity (`partnership`, ...).
    pub entity_type: &'static str,
    pub entity_id: Uuid,
    /// The entity before and after, as the audit log keeps it.
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// The kinds of change, with what their notices need.
#[derive(Debug, Clone)]
pub enum EventKind {
    PartnershipCreated,
    PartnershipDeleted,
    /// An organization that the lead's user represents joined at once.
    MemberAdded {
        organization: Uuid,
    },
    /// An organization that none of the lead's users represents was invited.
    MemberInvited {
        organization: Uuid,
        partnership_name: String,
        call_id: Uuid,
    },
    /// An invited organization answered; its lead hears of it.
    InvitationAnswered {
        organization: Uuid,
        accepted: bool,
        lead: Option<Uuid>,
        partnership_name: String,
        call_id: Uuid,
    },
    /// The lead removed a member or an invited organization, which hears of it.
    MemberRemoved {
        organization: Uuid,
        partnership_name: String,
        call_id: Uuid,
    },
    /// A user account changed.
    User(UserEvent),
    /// An organization of the registry changed.
    Organization(OrganizationEvent),
    /// A webhook subscription was created or ended.
    Webhook(WebhookEvent),
    /// A retired refresh token was presented again: its session is ended.
    RefreshTokenReused,
    /// A step of the agencies' review of an application.
    Review(review::ReviewEvent),
    /// An application changed.
    Application(ApplicationEvent),
    /// A call or its envelopes changed.
    Call(CallEvent),
    /// A grant changed.
    Grant(GrantEvent),
    /// A payment of a grant changed.
    Payment(PaymentEvent),
    /// A recovery order was issued, settled or cancelled.
    Recovery(RecoveryEvent),
    /// A step of a project's final report.
    Report(report::ReportEvent),
    /// A step of a project's variation.
    Variation(variation::VariationEvent),
    /// An agency's ranking changed.
    Ranking(RankingEvent),
}

/// The changes of a webhook subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookEvent {
    Created,
    /// Ended: its pending deliveries are cancelled.
    Deleted,
}

/// The changes of an organization of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrganizationEvent {
    /// Registered; its registering user is its first representative.
    Registered,
    /// Its facts changed.
    Changed,
    /// A user became one of its representatives.
    RepresentativeAdded,
}

/// The changes of a user account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserEvent {
    /// Created by an administrator, by self-registration, by `create-admin` or the demo data.
    Created,
    /// Changed by an administrator (name, role, agency, disabled, password reset).
    Changed,
    /// Its own password changed by the user.
    PasswordChanged,
    /// A demo account disabled because the demo is off.
    DemoDisabled,
    /// A demo account enabled again because the demo is on again.
    DemoEnabled,
}

/// Who receives a notice in their inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// The representatives of an organization.
    Representatives(Uuid),
    /// The representatives of an application's lead partner.
    LeadOf(Uuid),
    /// The enabled evaluators of an agency.
    Evaluators(AgencyCode),
    /// The enabled administrators of the Region.
    Administrators,
    /// Users already looked up (a service that notifies many at once reads them in one query).
    Users(Vec<Uuid>),
}

/// A notice for the inboxes of some users.
#[derive(Debug, Clone)]
pub struct Notice {
    pub to: Recipients,
    pub kind: &'static str,
    pub message: Msg,
    pub data: Value,
}

impl DomainEvent {
    /// The audit log's name of the change.
    pub fn action(&self) -> &'static str {
        match &self.kind {
            EventKind::PartnershipCreated => "partnership.created",
            EventKind::PartnershipDeleted => "partnership.deleted",
            EventKind::MemberAdded { .. } => "partnership.member_added",
            EventKind::MemberInvited { .. } => "partnership.member_invited",
            EventKind::InvitationAnswered { accepted: true, .. } => {
                "partnership.invitation_accepted"
            }
            EventKind::InvitationAnswered {
                accepted: false, ..
            } => "partnership.invitation_declined",
            EventKind::MemberRemoved { .. } => "partnership.member_removed",
            EventKind::User(UserEvent::Created) => "user.created",
            EventKind::User(UserEvent::Changed) => "user.changed",
            EventKind::User(UserEvent::PasswordChanged) => "user.password_changed",
            EventKind::User(UserEvent::DemoDisabled) => "user.demo_disabled",
            EventKind::User(UserEvent::DemoEnabled) => "user.demo_enabled",
            EventKind::Organization(OrganizationEvent::Registered) => "organization.registered",
            EventKind::Organization(OrganizationEvent::Changed) => "organization.changed",
            EventKind::Organization(OrganizationEvent::RepresentativeAdded) => {
                "organization.representative_added"
            }
            EventKind::Webhook(WebhookEvent::Created) => "webhook.created",
            EventKind::Webhook(WebhookEvent::Deleted) => "webhook.deleted",
            EventKind::RefreshTokenReused => "session.refresh_token_reused",
            EventKind::Review(e) => e.action(),
            EventKind::Application(e) => e.action(),
            EventKind::Call(e) => e.action(),
            EventKind::Grant(e) => e.action(),
            EventKind::Payment(e) => e.action(),
            EventKind::Recovery(e) => e.action(),
            EventKind::Report(e) => e.action(),
            EventKind::Variation(e) => e.action(),
            EventKind::Ranking(e) => e.action(),
        }
    }

    /// Whether the audit log keeps the change (a grant's offer is kept as the ranking
    /// version that made it).
    pub fn audited(&self) -> bool {
        match &self.kind {
            EventKind::Grant(e) => e.audited(),
            _ => true,
        }
    }

    /// The changed entity's id as the audit log and the webhook tell it: its id, or the
    /// composite key of an entity without one of its own.
    pub fn entity_key(&self) -> String {
        let key = match &self.kind {
            EventKind::Grant(e) => e.entity_key(),
            EventKind::Ranking(e) => e.entity_key(),
            _ => None,
        };
        key.unwrap_or_else(|| self.entity_id.to_string())
    }

    /// The webhook event other systems subscribe to, if any.
    pub fn webhook(&self) -> Option<EventType> {
        match &self.kind {
            EventKind::PartnershipCreated
            | EventKind::PartnershipDeleted
            | EventKind::MemberAdded { .. }
            | EventKind::User(_)
            | EventKind::Organization(_)
            | EventKind::Webhook(_)
            | EventKind::RefreshTokenReused => None,
            EventKind::MemberInvited { .. } => Some(EventType::MemberInvited),
            EventKind::InvitationAnswered { accepted: true, .. } => {
                Some(EventType::InvitationAccepted)
            }
            EventKind::InvitationAnswered {
                accepted: false, ..
            } => Some(EventType::InvitationDeclined),
            EventKind::MemberRemoved { .. } => Some(EventType::MemberRemoved),
            EventKind::Review(e) => e.webhook(),
            EventKind::Application(e) => e.webhook(),
            EventKind::Call(e) => e.webhook(),
            EventKind::Grant(e) => e.webhook(),
            EventKind::Payment(e) => Some(e.webhook()),
            EventKind::Recovery(e) => Some(e.webhook()),
            EventKind::Report(e) => e.webhook(),
            EventKind::Variation(e) => e.webhook(),
            EventKind::Ranking(e) => e.webhook(),
        }
    }

    /// The inbox notices of the change.
    pub fn notices(&self) -> Vec<Notice> {
        let data = |partnership: Uuid, call_id: Uuid, organization: Uuid| serde_json::json!({"partnership_id": partnership, "call_id": call_id, "organization_id": organization});
        match &self.kind {
            EventKind::PartnershipCreated
            | EventKind::PartnershipDeleted
            | EventKind::MemberAdded { .. }
            | EventKind::User(_)
            | EventKind::Organization(_)
            | EventKind::Webhook(_)
            | EventKind::RefreshTokenReused => vec![],
            EventKind::Review(e) => e.notices(self.entity_id),
            EventKind::Call(_) => vec![],
            EventKind::Grant(e) => e.notices(self.entity_id),
            EventKind::Payment(e) => e.notices(self.entity_id),
            EventKind::Recovery(e) => e.notices(self.entity_id),
            EventKind::Report(e) => e.notices(),
            EventKind::Variation(e) => e.notices(self.entity_id),
            EventKind::Ranking(e) => e.notices(),
            EventKind::MemberInvited {
                organization,
                partnership_name: name,
                call_id,
            } => vec![Notice {
                to: Recipients::Representatives(*organization),
                kind: "partnership.member_invited",
                message: Msg::new(
                    format!(
                        "Your organization is invited to join the partnership \"{name}\": accept or decline the invitation."
                    ),
                    format!(
                        "Il suo ente è invitato a far parte del partenariato \"{name}\": accettare o rifiutare l'invito."
                    ),
                ),
                data: data(self.entity_id, *call_id, *organization),
            }],
            EventKind::InvitationAnswered {
                organization,
                accepted,
                lead,
                partnership_name: name,
                call_id,
            } => {
                let Some(lead) = lead else { return vec![] };
                let who = organization;
                let (kind, en, it) = if *accepted {
                    (
                        "partnership.invitation_accepted",
                        format!(
                            "An invited organization ({who}) accepted to join the partnership \"{name}\"."
                        ),
                        format!(
                            "Un ente invitato ({who}) ha accettato di far parte del partenariato \"{name}\"."
                        ),
                    )
                } else {
                    (
                        "partnership.invitation_declined",
                        format!(
                            "An invited organization ({who}) declined to join the partnership \"{name}\": remove it."
                        ),
                        format!(
                            "Un ente invitato ({who}) ha rifiutato di far parte del partenariato \"{name}\": rimuoverlo."
                        ),
                    )
                };
                vec![Notice {
                    to: Recipients::Representatives(*lead),
                    kind,
                    message: Msg::new(en, it),
                    data: data(self.entity_id, *call_id, *organization),
                }]
            }
            EventKind::MemberRemoved {
                organization,
                partnership_name: name,
                call_id,
            } => vec![Notice {
                to: Recipients::Representatives(*organization),
                kind: "partnership.member_removed",
                message: Msg::new(
                    format!(
                        "Your organization is no longer in the partnership \"{name}\": its lead removed it."
                    ),
                    format!(
                        "Il suo ente non fa più parte del partenariato \"{name}\": il capofila lo ha rimosso."
                    ),
                ),
                data: data(self.entity_id, *call_id, *organization),
            }],
            EventKind::Application(e) => e.notices(self.entity_id),
        }
    }
}

/// The webhook each audited action published when webhooks were derived from action strings:
/// the typed events must publish the same (`envelopes`: the change carried new envelopes).
#[cfg(test)]
pub(crate) fn expected_webhook(action: &str, envelopes: bool) -> Option<EventType> {
    Some(match action {
        "application.submitted" => EventType::ApplicationSubmitted,
        "application.admissibility" => EventType::AdmissibilityDecided,
        "ranking.computed" | "ranking.scorrimento" => EventType::RankingChanged,
        "ranking.approved" => EventType::RankingApproved,
        "grant.accepted" => EventType::GrantAccepted,
        "grant.declined" => EventType::GrantDeclined,
        "grant.revoked" => EventType::GrantRevoked,
        "grant.expired" => EventType::GrantExpired,
        "grant.started" => EventType::GrantStarted,
        "payment.authorized" => EventType::PaymentAuthorized,
        "payment.paid" => EventType::PaymentPaid,
        "payment.failed" => EventType::PaymentFailed,
        "payment.cancelled" => EventType::PaymentCancelled,
        "grant.renounced" => EventType::GrantRenounced,
        "recovery.issued" => EventType::RecoveryIssued,
        "recovery.settled" => EventType::RecoverySettled,
        "recovery.cancelled" => EventType::RecoveryCancelled,
        "call.envelopes_set" | "call.reallocated" => EventType::EnvelopeChanged,
        "call.changed" | "call.amended" if envelopes => EventType::EnvelopeChanged,
        _ => return None,
    })
}
