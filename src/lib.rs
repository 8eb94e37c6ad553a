//! welfare-grants: the call engine of a regional grant for work–life balance and company
//! welfare, from the call's rules to the agencies' rankings and grants.

pub mod api; // HTTP handlers and DTOs
pub mod auth; // tokens, the caller extractor, password hashing
pub mod clock; // the injectable clock
pub mod config; // typed settings
pub mod domain; // the rules, in pure Rust
pub mod entity; // sea-orm entities
pub mod error; // ApiError -> problem+json
pub mod openapi; // the OpenAPI document's header
pub mod outbox; // the webhook delivery worker
pub mod resolver; // the injectable name resolver of webhook hosts
pub mod seed; // demo data
pub mod service; // the workflows: one function per use case, owning its transaction
pub mod startup; // build and run the application
pub mod state; // AppState: what every handler can reach
pub mod storage; // the files the service keeps: one trait, the filesystem backend
pub mod store; // persistence
pub mod telemetry; // logging
