//! sea-orm entities: the shape of the tables, no logic.

pub mod agency;
pub mod audit_event;
pub mod call;
pub mod call_amendment;
pub mod envelope;
pub mod organization;
pub mod organization_representative;
pub mod partnership;
pub mod partnership_member;
pub mod user;
