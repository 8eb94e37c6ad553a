//! The workflows: one function per use case. A service function owns its transaction: it
//! locks, reads through `store`, asks `domain` to decide, writes through `store`, records
//! its `DomainEvent` (`events`), and commits. Handlers in `api` call one of them.

pub mod applications;
pub mod calls;
pub mod deadlines;
pub mod documents;
pub mod events;
pub mod files;
pub mod grants;
pub mod idempotency;
pub mod notifications;
pub mod operations;
pub mod organizations;
pub mod partnerships;
pub mod payments;
pub mod rankings;
pub mod recoveries;
pub mod reports;
pub mod review;
pub mod sessions;
pub mod signers;
pub mod users;
pub mod variations;
pub mod webhooks;

/// A page of a list, as every list operation takes it.
pub use crate::store::Page;
