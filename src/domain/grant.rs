//! Grants: offered by an approved ranking, accepted with a CUP or declined before the
//! acceptance deadline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use uuid::Uuid;

use super::agency::AgencyCode;
use super::error_code::{Coded, ErrorCode};
use super::money::Money;
use super::ranking::{Allocation, Outcome};
use super::review::{Refusal, deadline_after};
use super::violation::Violation;

/// Where a grant stands. Committed money is what is offered or accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    Offered,
    Accepted,
    Declined,
    /// The acceptance deadline passed without an answer.
    Expired,
    /// Revoked by the ATS or the Region.
    Revoked,
    /// Given up by its lead after the acceptance.
    Renounced,
    /// The project is over: its final report verified, its final grant paid and every
    /// recovery order settled (or cancelled).
    Closed,
}

impl GrantStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            GrantStatus::Offered => "offered",
            GrantStatus::Accepted => "accepted",
            GrantStatus::Declined => "declined",
            GrantStatus::Expired => "expired",
            GrantStatus::Revoked => "revoked",
            GrantStatus::Renounced => "renounced",
            GrantStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<GrantStatus> {
        [
            GrantStatus::Offered,
            GrantStatus::Accepted,
            GrantStatus::Declined,
            GrantStatus::Expired,
            GrantStatus::Revoked,
            GrantStatus::Renounced,
            GrantStatus::Closed,
        ]
        .into_iter()
        .find(|g| g.as_str() == s)
    }

    /// Whether the grant's money is committed (a closed project's final grant stays so).
    pub fn commits(&self) -> bool {
        matches!(
            self,
            GrantStatus::Offered | GrantStatus::Accepted | GrantStatus::Closed
        )
    }
}

/// A grant offered to an application of an agency's ranking, answerable until its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub id: Uuid,
    pub call_id: Uuid,
    pub agency: AgencyCode,
    pub application_id: Uuid,
    pub amount: Money,
    pub requested: Money,
    pub deadline: DateTime<Utc>,
    /// The ranking version that made the offer.
    pub ranking_version: i32,
    pub offered_at: DateTime<Utc>,
}

impl Offer {
    /// An offer made now, to be answered within `acceptance_days` (until 23:59:59 Europe/Rome
    /// of the last day).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        call_id: Uuid,
        agency: AgencyCode,
        application_id: Uuid,
        amount: Money,
        requested: Money,
        ranking_version: i32,
        acceptance_days: u32,
        now: DateTime<Utc>,
    ) -> Offer {
        Offer {
            id: Uuid::new_v4(),
            call_id,
            agency,
            application_id,
            amount,
            requested,
            deadline: deadline_after(now, acceptance_days),
            ranking_version,
            offered_at: now,
        }
    }

    /// The offers of an approved ranking: one for every funded entry, in their order.
    pub fn of_allocation(
        call_id: Uuid,
        agency: AgencyCode,
        allocation: &Allocation,
        ranking_version: i32,
        acceptance_days: u32,
        now: DateTime<Utc>,
    ) -> Vec<Offer> {
        allocation
            .entries
            .iter()
            .filter(|e| matches!(e.outcome, Outcome::Funded | Outcome::PartiallyFunded))
            .map(|e| {
                Offer::new(
                    call_id,
                    agency,
                    e.application_id,
                    e.amount,
                    e.requested,
                    ranking_version,
                    acceptance_days,
                    now,
                )
            })
            .collect()
    }
}

/// The money committed by grants in these states and amounts: offered and accepted ones,
/// added exactly.
pub fn committed(grants: impl IntoIterator<Item = (GrantStatus, Money)>) -> Money {
    Money::sum(
        grants
            .into_iter()
            .filter(|(s, _)| s.commits())
            .map(|(_, amount)| amount),
    )
    .unwrap_or(Money::ZERO)
}

/// A CUP (Codice Unico di Progetto): 15 capital letters and digits.
pub fn check_cup(cup: &str) -> Option<Violation> {
    let ok = cup.len() == 15
        && cup
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    (!ok).then(|| Violation::new("cup", ErrorCode::InvalidCup))
}

fn refusal(coded: impl Into<Coded>) -> Refusal {
    Refusal::from(coded.into())
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
        GrantStatus::Offered | GrantStatus::Expired => Err(refusal(ErrorCode::OfferExpired)),
        _ => Err(refusal(ErrorCode::OfferAnswered)),
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
