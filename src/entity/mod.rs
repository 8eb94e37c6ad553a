//! sea-orm entities: the shape of the tables, no logic.

pub mod agency;
pub mod application;
pub mod application_document;
pub mod application_history;
pub mod audit_event;
pub mod call;
pub mod call_amendment;
pub mod conflict_declaration;
pub mod consensus_score;
pub mod envelope;
pub mod evaluation;
pub mod grant;
pub mod idempotency_key;
pub mod notification;
pub mod organization;
pub mod organization_representative;
pub mod partnership;
pub mod partnership_member;
pub mod ranking_version;
pub mod review_step;
pub mod user;
pub mod webhook;
pub mod webhook_attempt;
pub mod webhook_delivery;
pub mod webhook_event;
