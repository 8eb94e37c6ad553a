//! The rules of the call, in pure Rust: no web framework, no database, no clock reads.

pub mod agency;
pub mod application;
pub mod award;
pub mod call;
pub mod error_code;
pub mod event;
pub mod giving;
pub mod grant;
pub mod identifiers;
pub mod login;
pub mod media;
pub mod money;
pub mod organization;
pub mod partnership;
pub mod percent;
pub mod points;
pub mod ranking;
pub mod review;
pub mod score;
pub mod signature;
pub mod size;
pub mod split;
pub mod spreadsheet;
pub mod timestamp;
pub mod user;
pub mod version;
pub mod violation;
pub mod webhook;

pub use error_code::{Coded, ErrorCode};
pub use violation::{Msg, Violation, Violations};
