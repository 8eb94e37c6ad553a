//! How long an account waits after wrong passwords: a few mistakes are free, then each wrong
//! password makes the account wait, the wait doubling up to a ceiling; a success forgets it
//! all. Only passwords that were checked and wrong count: a try during the wait is refused
//! before any check.

use chrono::{DateTime, Duration, Utc};

/// The rule, from the settings (`auth.lockout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Wrong passwords allowed before the first wait.
    pub max_failures: u32,
    /// The first wait; each further wrong password doubles it.
    pub first_wait: Duration,
    /// The longest wait.
    pub max_wait: Duration,
}

/// What is remembered of an account's (or an unknown user name's) wrong passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Throttle {
    /// Wrong passwords since the last success.
    pub failures: u32,
    /// Waits imposed since the last success.
    pub lockouts: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

impl Throttle {
    /// Whole seconds still to wait at `now` (at least 1), or `None` when a try is allowed.
    pub fn wait_secs(&self, now: DateTime<Utc>) -> Option<u32> {
        let until = self.locked_until?;
        let left = until - now;
        if left <= Duration::zero() {
            return None;
        }
        let secs = left.num_seconds() + i64::from(left.subsec_nanos() > 0);
        Some(u32::try_from(secs).unwrap_or(u32::MAX).max(1))
    }

    /// The state after one more wrong password at `now`.
    pub fn after_failure(self, now: DateTime<Utc>, policy: &LockoutPolicy) -> Throttle {
        let failures = self.failures.saturating_add(1);
        if failures < policy.max_failures {
            return Throttle { failures, ..self };
        }
        let lockouts = self.lockouts.saturating_add(1);
        let doublings = lockouts.saturating_sub(1).min(30);
        let wait = policy
            .first_wait
            .checked_mul(1_i32 << doublings)
            .unwrap_or(policy.max_wait)
            .min(policy.max_wait);
        Throttle {
            failures,
            lockouts,
            locked_until: Some(now + wait),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> LockoutPolicy {
        LockoutPolicy {
            max_failures: 5,
            first_wait: Duration::seconds(60),
            max_wait: Duration::minutes(15),
        }
    }

    fn t0() -> DateTime<Utc> {
        "2026-12-04T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn five_wrong_passwords_then_the_wait_doubles_up_to_fifteen_minutes() {
        let mut t = Throttle::default();
        let now = t0();
        for _ in 0..4 {
            t = t.after_failure(now, &policy());
            assert_eq!(t.wait_secs(now), None);
        }
        let mut waits = vec![];
        let mut now = now;
        for _ in 0..7 {
            t = t.after_failure(now, &policy());
            let w = t.wait_secs(now).unwrap();
            waits.push(w);
            now += Duration::seconds(i64::from(w));
            assert_eq!(t.wait_secs(now), None, "the wait is over");
        }
        assert_eq!(waits, [60, 120, 240, 480, 900, 900, 900]);
    }

    #[test]
    fn a_part_of_a_second_counts_as_a_whole_one() {
        let t = Throttle {
            locked_until: Some(t0() + Duration::milliseconds(1500)),
            ..Throttle::default()
        };
        assert_eq!(t.wait_secs(t0()), Some(2));
    }

    proptest! {
        #[test]
        fn the_wait_never_exceeds_the_ceiling(failures in 0u32..10_000, lockouts in 0u32..10_000) {
            let t = Throttle { failures, lockouts, locked_until: None }.after_failure(t0(), &policy());
            if let Some(w) = t.wait_secs(t0()) {
                prop_assert!(i64::from(w) <= policy().max_wait.num_seconds());
            }
        }
    }
}
