//! After the offer: the accepted grant is the project. Its post-award rules, the start that
//! computes its end date, the payment plan's tranches and the payments with four eyes.
//!
//! Pure functions only: time, the actor and what the grant has already paid are parameters.

use super::error_code::ErrorCode;
use super::review::Refusal;
use super::violation::Violation;

mod deadline;
mod payment;
mod recovery;
mod report;
mod rules;
mod start;
mod tranche;
mod variation;
mod verification;

pub use deadline::*;
pub use payment::*;
pub use recovery::*;
pub use report::*;
pub use rules::*;
pub use start::*;
pub use tranche::*;
pub use variation::*;
pub use verification::*;

/// Why a post-award step is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The step itself may not be taken: 403 (this caller never may) or 409 (not in this
    /// state), as the code's status in the catalogue says.
    Step(Refusal),
    /// The request breaks one or more rules (422): every violation is listed.
    Invalid(Vec<Violation>),
}

impl Refused {
    /// The codes of the refusal, for tests and logs.
    pub fn codes(&self) -> Vec<ErrorCode> {
        match self {
            Refused::Step(r) => vec![r.code],
            Refused::Invalid(v) => v.iter().map(|v| v.code).collect(),
        }
    }
}

impl From<Refusal> for Refused {
    fn from(r: Refusal) -> Refused {
        Refused::Step(r)
    }
}

/// A required text of 1 to `max` characters, trimmed; its violation otherwise.
fn required_text(
    field: &str,
    value: Option<&str>,
    max: usize,
    v: &mut super::violation::Violations,
) -> Option<String> {
    let Some(t) = value else {
        v.add(field, ErrorCode::MissingField);
        return None;
    };
    match super::call::check_text(field, t, max) {
        Some(e) => {
            v.push(e);
            None
        }
        None => Some(t.trim().to_owned()),
    }
}

fn step(coded: impl Into<super::error_code::Coded>) -> Refused {
    let r = Refusal::from(coded.into());
    debug_assert!(matches!(r.code.status(), 403 | 409), "{}", r.code);
    Refused::Step(r)
}
