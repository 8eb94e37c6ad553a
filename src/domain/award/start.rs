//! The project's start: communicated by the lead within the start deadline, never before the
//! acceptance; the end date follows from the duration. A late start is accepted and flagged.

use chrono::{DateTime, Months, NaiveDate, Utc};

use crate::domain::call::rome_day;
use crate::domain::error_code::ErrorCode;
use crate::domain::grant::GrantStatus;
use crate::domain::review::deadline_after;
use crate::domain::violation::Violations;

use super::rules::PostAwardRules;
use super::{Refused, step};

/// A project's start as the rules accept it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    pub start_date: NaiveDate,
    /// The last day of the project: the day before the same date `duration_months`
    /// later (a 12-month project starting on 1 March 2027 ends on 29 February 2028).
    pub end_date: NaiveDate,
    /// 23:59:59 Europe/Rome of the last day to start.
    pub start_deadline: DateTime<Utc>,
    /// Communicated after the deadline, or starting after its day: the ATS sees it flagged.
    pub overdue: bool,
}

/// The end of the start deadline for a grant accepted at `accepted_at`.
pub fn start_deadline(rules: &PostAwardRules, accepted_at: DateTime<Utc>) -> DateTime<Utc> {
    deadline_after(accepted_at, rules.start_deadline_days)
}

/// The last day of a project of `months` starting on `start`; `None` beyond the calendar.
pub fn end_date(start: NaiveDate, months: u32) -> Option<NaiveDate> {
    start.checked_add_months(Months::new(months))?.pred_opt()
}

/// Whether an accepted grant that has not started is overdue at `now` (revocation is always
/// an explicit act, never automatic).
pub fn start_overdue(
    rules: &PostAwardRules,
    accepted_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    now > start_deadline(rules, accepted_at)
}

/// The lead communicates the start of an accepted grant at `now`, once, on a date not before
/// the acceptance (in Europe/Rome). That the caller leads the partnership is the caller's
/// check.
pub fn start(
    rules: &PostAwardRules,
    duration_months: u32,
    status: GrantStatus,
    accepted_at: DateTime<Utc>,
    started_on: Option<NaiveDate>,
    start_date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Started, Refused> {
    if status != GrantStatus::Accepted {
        return Err(step(ErrorCode::GrantNotAccepted));
    }
    if let Some(d) = started_on {
        return Err(step(ErrorCode::AlreadyStarted.with(&[("start_date", &d)])));
    }
    let mut v = Violations::new();
    let accepted_on = rome_day(accepted_at);
    if start_date < accepted_on {
        v.add(
            "start_date",
            ErrorCode::StartBeforeAcceptance.with(&[("accepted_on", &accepted_on)]),
        );
    }
    let end = end_date(start_date, duration_months);
    if end.is_none() {
        v.add(
            "start_date",
            ErrorCode::InvalidValue.worded(
                "The project would end beyond the calendar.",
                "Il progetto terminerebbe oltre il calendario.",
            ),
        );
    }
    let end_date = v.finish(end).map_err(Refused::Invalid)?;
    let deadline = start_deadline(rules, accepted_at);
    let deadline_day = rome_day(deadline);
    Ok(Started {
        start_date,
        end_date: end_date.unwrap_or(start_date),
        start_deadline: deadline,
        overdue: now > deadline || start_date > deadline_day,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::call::rome;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_start_in_time_computes_the_end_date() {
        let rules = PostAwardRules::default();
        let accepted = rome(2027, 1, 15, 10, 0);
        let s = start(
            &rules,
            12,
            GrantStatus::Accepted,
            accepted,
            None,
            d(2027, 3, 1),
            rome(2027, 2, 20, 9, 0),
        )
        .unwrap();
        assert_eq!(s.end_date, d(2028, 2, 29));
        assert!(!s.overdue);
        assert_eq!(
            s.start_deadline,
            rome(2027, 3, 16, 23, 59) + chrono::Duration::seconds(59)
        );
    }

    #[test]
    fn the_acceptance_day_itself_may_be_the_start() {
        let accepted = rome(2027, 1, 15, 23, 30);
        let s = start(
            &PostAwardRules::default(),
            12,
            GrantStatus::Accepted,
            accepted,
            None,
            d(2027, 1, 15),
            accepted,
        )
        .unwrap();
        assert_eq!(s.end_date, d(2028, 1, 14));
    }

    #[test]
    fn a_start_before_the_acceptance_is_refused() {
        // 00:30 in Rome is still the 14th in UTC: the Rome date counts.
        let accepted = rome(2027, 1, 15, 0, 30);
        let err = start(
            &PostAwardRules::default(),
            12,
            GrantStatus::Accepted,
            accepted,
            None,
            d(2027, 1, 14),
            accepted,
        )
        .unwrap_err();
        let Refused::Invalid(v) = err else {
            panic!("{err:?}")
        };
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].field, "start_date");
        assert_eq!(v[0].code.as_str(), "start_before_acceptance");
        assert!(
            v[0].message.en.contains("2027-01-15"),
            "{}",
            v[0].message.en
        );
    }

    #[test]
    fn a_late_start_is_accepted_and_flagged() {
        let rules = PostAwardRules::default();
        let accepted = rome(2027, 1, 15, 10, 0);
        let late_communication = start(
            &rules,
            12,
            GrantStatus::Accepted,
            accepted,
            None,
            d(2027, 3, 1),
            rome(2027, 3, 17, 0, 0),
        )
        .unwrap();
        assert!(late_communication.overdue);
        let late_date = start(
            &rules,
            12,
            GrantStatus::Accepted,
            accepted,
            None,
            d(2027, 3, 17),
            rome(2027, 2, 1, 9, 0),
        )
        .unwrap();
        assert!(late_date.overdue);
        let last_day = start(
            &rules,
            12,
            GrantStatus::Accepted,
            accepted,
            None,
            d(2027, 3, 16),
            rome(2027, 3, 16, 23, 59),
        )
        .unwrap();
        assert!(!last_day.overdue);
        assert!(!start_overdue(&rules, accepted, rome(2027, 3, 16, 23, 59)));
        assert!(start_overdue(&rules, accepted, rome(2027, 3, 17, 0, 0)));
    }

    #[test]
    fn only_an_accepted_grant_starts_and_only_once() {
        let rules = PostAwardRules::default();
        let accepted = rome(2027, 1, 15, 10, 0);
        for status in [
            GrantStatus::Offered,
            GrantStatus::Declined,
            GrantStatus::Expired,
            GrantStatus::Revoked,
        ] {
            let err =
                start(&rules, 12, status, accepted, None, d(2027, 2, 1), accepted).unwrap_err();
            assert_eq!(err.codes(), vec![ErrorCode::GrantNotAccepted], "{status:?}");
        }
        let err = start(
            &rules,
            12,
            GrantStatus::Accepted,
            accepted,
            Some(d(2027, 2, 1)),
            d(2027, 2, 2),
            accepted,
        )
        .unwrap_err();
        assert_eq!(err.codes()[0].as_str(), "already_started");
        let Refused::Step(r) = err else { panic!() };
        assert!(!r.forbidden);
        assert!(r.message.en.contains("2027-02-01"));
    }

    #[test]
    fn the_duration_is_the_calls() {
        let rules = PostAwardRules::default();
        let accepted = rome(2027, 1, 15, 10, 0);
        let s = start(
            &rules,
            18,
            GrantStatus::Accepted,
            accepted,
            None,
            d(2027, 1, 31),
            accepted,
        )
        .unwrap();
        assert_eq!(s.end_date, d(2028, 7, 30));
        assert_eq!(end_date(NaiveDate::MAX, 1), None);
    }
}
