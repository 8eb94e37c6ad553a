//! The project's deadlines as the periodic job watches them (§5.1, §5.4): a week before the
//! start or the final report is due, the lead is reminded; once the day has passed without
//! it, the ATS hears of it and the grant is flagged. Nothing is revoked: revocation is always
//! an explicit act.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::call::rome_day;

/// How many days before a deadline its lead is reminded.
pub const REMINDER_DAYS: u64 = 7;

/// A deadline of a live project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Deadline {
    /// The start, communicated within `start_deadline_days` of the acceptance.
    Start,
    /// The final report, submitted within `report_deadline_days` of the end date.
    Report,
}

impl Deadline {
    pub fn as_str(&self) -> &'static str {
        match self {
            Deadline::Start => "start",
            Deadline::Report => "report",
        }
    }
}

/// A notice of a deadline, sent at most once per project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineNotice {
    StartReminder,
    StartMissed,
    ReportReminder,
    ReportMissed,
}

impl DeadlineNotice {
    pub const ALL: [DeadlineNotice; 4] = [
        DeadlineNotice::StartReminder,
        DeadlineNotice::StartMissed,
        DeadlineNotice::ReportReminder,
        DeadlineNotice::ReportMissed,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            DeadlineNotice::StartReminder => "start_reminder",
            DeadlineNotice::StartMissed => "start_missed",
            DeadlineNotice::ReportReminder => "report_reminder",
            DeadlineNotice::ReportMissed => "report_missed",
        }
    }

    pub fn parse(s: &str) -> Option<DeadlineNotice> {
        DeadlineNotice::ALL.into_iter().find(|n| n.as_str() == s)
    }

    /// The deadline it is about.
    pub fn deadline(&self) -> Deadline {
        match self {
            DeadlineNotice::StartReminder | DeadlineNotice::StartMissed => Deadline::Start,
            DeadlineNotice::ReportReminder | DeadlineNotice::ReportMissed => Deadline::Report,
        }
    }

    /// Whether it says the deadline was missed (to the ATS), not that it is near (to the lead).
    pub fn missed(&self) -> bool {
        matches!(
            self,
            DeadlineNotice::StartMissed | DeadlineNotice::ReportMissed
        )
    }
}

/// The notice a deadline whose last day (Europe/Rome) is `last_day` calls for at `now`, while
/// what it awaits has not come: missed once that day is over, a reminder from `REMINDER_DAYS`
/// before it, nothing earlier. A reminder is never sent once the deadline is missed.
pub fn notice_due(
    deadline: Deadline,
    last_day: NaiveDate,
    now: DateTime<Utc>,
) -> Option<DeadlineNotice> {
    let today = rome_day(now);
    let reminded_from = last_day
        .checked_sub_days(Days::new(REMINDER_DAYS))
        .unwrap_or(NaiveDate::MIN);
    Some(match deadline {
        Deadline::Start if today > last_day => DeadlineNotice::StartMissed,
        Deadline::Report if today > last_day => DeadlineNotice::ReportMissed,
        _ if today < reminded_from => return None,
        Deadline::Start => DeadlineNotice::StartReminder,
        Deadline::Report => DeadlineNotice::ReportReminder,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::call::rome;

    #[test]
    fn the_lead_is_reminded_a_week_before_the_last_day_and_the_ats_told_the_day_after() {
        let last = NaiveDate::from_ymd_opt(2027, 3, 31).unwrap();
        let due =
            |day: u32, hour: u32| notice_due(Deadline::Start, last, rome(2027, 3, day, hour, 0));
        assert_eq!(due(23, 23), None);
        assert_eq!(due(24, 0), Some(DeadlineNotice::StartReminder));
        assert_eq!(due(31, 23), Some(DeadlineNotice::StartReminder));
        let after = notice_due(Deadline::Report, last, rome(2027, 4, 1, 0, 0));
        assert_eq!(after, Some(DeadlineNotice::ReportMissed));
        let before = notice_due(Deadline::Report, last, rome(2027, 3, 24, 0, 0));
        assert_eq!(before, Some(DeadlineNotice::ReportReminder));
    }

    #[test]
    fn every_notice_reads_back_from_its_name() {
        for n in DeadlineNotice::ALL {
            assert_eq!(DeadlineNotice::parse(n.as_str()), Some(n));
            assert_eq!(n.missed(), n.as_str().ends_with("_missed"));
            assert!(n.as_str().starts_with(n.deadline().as_str()));
        }
    }
}
