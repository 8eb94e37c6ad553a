//! The rules of the call, in pure Rust: no web framework, no database, no clock reads.

pub mod agency;
pub mod call;
pub mod money;
pub mod percent;
pub mod points;
pub mod split;
pub mod user;
pub mod violation;

pub use violation::{Msg, Violation, Violations};
