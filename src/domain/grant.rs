//! Grants: offered by an approved ranking, accepted with a CUP or declined before the
//! acceptance deadline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::review::Refusal;
use super::violation::{Msg, Violation};

/// Where a grant stands. Committed money is what is offered or accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    Offered,
    Accepted,
    Declined,
    /// The acceptance deadline passed without an answer.
    Expired,
    Revoked,
}

impl GrantStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            GrantStatus::Offered => "offered",
            GrantStatus::Accepted => "accepted",
            GrantStatus::Declined => "declined",
            GrantStatus::Expired => "expired",
            GrantStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<GrantStatus> {
        [
            GrantStatus::Offered,
            GrantStatus::Accepted,
            GrantStatus::Declined,
            GrantStatus::Expired,
            GrantStatus::Revoked,
        ]
        .into_iter()
        .find(|g| g.as_str() == s)
    }

    /// Whether the grant's money is committed.
    pub fn commits(&self) -> bool {
        matches!(self, GrantStatus::Offered | GrantStatus::Accepted)
    }
}

/// A CUP (Codice Unico di Progetto): 15 capital letters and digits.
pub fn check_cup(cup: &str) -> Option<Violation> {
    let ok = cup.len() == 15
        && cup
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    (!ok).then(|| {
        Violation::new(
            "cup",
            "invalid_cup",
            "The CUP has 15 capital letters and digits, e.g. J51B22000120002.",
            "Il CUP ha 15 lettere maiuscole e cifre, ad esempio J51B22000120002.",
        )
    })
}

fn refusal(code: &'static str, en: &'static str, it: &'static str) -> Refusal {
    Refusal {
        forbidden: false,
        code,
        message: Msg::new(en, it),
    }
}

/// An answer to an offer: possible while it is offered and its deadline has not passed.
pub fn answer(
    status: GrantStatus,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
    accept: bool,
) -> Result<GrantStatus, Refusal> {
    match status {
        GrantStatus::Offered if now <= deadline => Ok(if accept {
            GrantStatus::Accepted
        } else {
            GrantStatus::Declined
        }),
        GrantStatus::Offered | GrantStatus::Expired => Err(refusal(
            "offer_expired",
            "The acceptance deadline has passed: the offer has lapsed.",
            "Il termine per l'accettazione è scaduto: l'offerta è decaduta.",
        )),
        _ => Err(refusal(
            "offer_answered",
            "The offer has already been answered.",
            "All'offerta è già stata data risposta.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn an_offer_is_answered_once_before_its_deadline() {
        let deadline = t("2027-04-04T21:59:59Z");
        let all = [
            GrantStatus::Offered,
            GrantStatus::Accepted,
            GrantStatus::Declined,
            GrantStatus::Expired,
            GrantStatus::Revoked,
        ];
        for status in all {
            for now in [deadline, t("2027-04-04T22:00:00Z")] {
                for accept in [true, false] {
                    let ok = status == GrantStatus::Offered && now <= deadline;
                    assert_eq!(
                        answer(status, deadline, now, accept).is_ok(),
                        ok,
                        "{status:?} {now} {accept}"
                    );
                }
            }
        }
        assert_eq!(
            answer(GrantStatus::Offered, deadline, deadline, true).unwrap(),
            GrantStatus::Accepted
        );
    }

    #[test]
    fn a_cup_has_fifteen_characters() {
        assert!(check_cup("J51B22000120002").is_none());
        assert!(check_cup("j51b22000120002").is_some());
        assert!(check_cup("J51B2200012000").is_some());
    }
}
