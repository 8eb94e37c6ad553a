//! The amounts of a payment plan for a grant, and the balance against the final grant.

use crate::domain::money::Money;

use super::rules::{Tranche, TrancheTrigger};

/// The amount of each tranche of `plan` for `grant`, in the plan's order: each share rounded
/// down to the cent, the last tranche taking the remainder, so they add up to the grant
/// exactly. The last tranche's own share is not used: it is whatever the others leave.
/// `None` for an empty plan, or when the shares before the last add up to more than 100.00
/// (plans that [`check_plan`](super::check_plan) refuses).
pub fn tranche_amounts(plan: &[Tranche], grant: Money) -> Option<Vec<Money>> {
    let (_, before_last) = plan.split_last()?;
    let mut amounts: Vec<Money> = before_last
        .iter()
        .map(|t| grant.percent_floor(t.share))
        .collect();
    let allotted = Money::sum(amounts.iter().copied())?;
    amounts.push(grant.checked_sub(allotted)?);
    Some(amounts)
}

/// The tranches of `plan` (index, tranche, amount) that become payments due at `trigger`.
pub fn tranches_due<'a>(
    plan: &'a [Tranche],
    amounts: &'a [Money],
    trigger: TrancheTrigger,
) -> impl Iterator<Item = (usize, &'a Tranche, Money)> + 'a {
    plan.iter()
        .zip(amounts.iter().copied())
        .enumerate()
        .filter(move |(_, (t, _))| t.trigger == trigger)
        .map(|(i, (t, amount))| (i, t, amount))
}

/// What the balance settles once the final grant is known: what is still to pay, or what
/// was paid beyond it and becomes a recovery order. At most one of the two is above 0.00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    pub to_pay: Money,
    pub to_recover: Money,
}

/// The balance is always the final grant minus everything already paid, so the payments add
/// up to the final grant exactly.
pub fn balance(final_grant: Money, paid: Money) -> Balance {
    match final_grant.checked_sub(paid) {
        Some(to_pay) => Balance {
            to_pay,
            to_recover: Money::ZERO,
        },
        None => Balance {
            to_pay: Money::ZERO,
            to_recover: paid.checked_sub(final_grant).unwrap_or(Money::ZERO),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::award::{PostAwardRules, check_plan};
    use crate::domain::percent::Percent;
    use proptest::prelude::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn plan(shares: &[u32]) -> Vec<Tranche> {
        shares
            .iter()
            .enumerate()
            .map(|(i, bp)| Tranche {
                code: format!("t{i}"),
                share: Percent::from_basis_points(*bp).unwrap(),
                trigger: if i + 1 == shares.len() {
                    TrancheTrigger::FinalReportApproved
                } else {
                    TrancheTrigger::StartCommunicated
                },
            })
            .collect()
    }

    #[test]
    fn the_default_plan_pays_seventy_percent_rounded_down_and_the_rest() {
        let p = PostAwardRules::default().payment_plan;
        assert_eq!(
            tranche_amounts(&p, m("33333.33")).unwrap(),
            vec![m("23333.33"), m("10000.00")]
        );
        assert_eq!(
            tranche_amounts(&p, m("0.01")).unwrap(),
            vec![m("0.00"), m("0.01")]
        );
        assert_eq!(
            tranche_amounts(&p, m("49999.99")).unwrap(),
            vec![m("34999.99"), m("15000.00")]
        );
        let amounts = tranche_amounts(&p, m("1000.00")).unwrap();
        let due: Vec<_> = tranches_due(&p, &amounts, TrancheTrigger::StartCommunicated)
            .map(|(i, t, a)| (i, t.code.as_str(), a))
            .collect();
        assert_eq!(due, vec![(0, "advance", m("700.00"))]);
    }

    #[test]
    fn three_thirds_leave_the_lost_cents_to_the_last() {
        let p = plan(&[3333, 3333, 3334]);
        assert_eq!(
            tranche_amounts(&p, m("100.01")).unwrap(),
            vec![m("33.33"), m("33.33"), m("33.35")]
        );
    }

    #[test]
    fn shares_above_a_hundred_before_the_last_have_no_amounts() {
        assert_eq!(
            tranche_amounts(&plan(&[7000, 4000, 1000]), m("100.00")),
            None
        );
        assert_eq!(tranche_amounts(&[], m("100.00")), None);
    }

    #[test]
    fn the_balance_is_the_final_grant_minus_what_was_paid() {
        assert_eq!(
            balance(m("900.00"), m("700.00")),
            Balance {
                to_pay: m("200.00"),
                to_recover: Money::ZERO
            }
        );
        assert_eq!(
            balance(m("500.00"), m("700.00")),
            Balance {
                to_pay: Money::ZERO,
                to_recover: m("200.00")
            }
        );
    }

    /// A valid plan: 1 to 10 shares above 0.00 adding up to 100.00.
    fn valid_plan() -> impl Strategy<Value = Vec<Tranche>> {
        (1usize..=10)
            .prop_flat_map(|n| {
                proptest::sample::subsequence((1u32..10_000).collect::<Vec<_>>(), n - 1)
            })
            .prop_map(|mut cuts| {
                cuts.sort_unstable();
                let mut shares = vec![];
                let mut prev = 0;
                for c in cuts.into_iter().chain([10_000]) {
                    shares.push(c - prev);
                    prev = c;
                }
                plan(&shares)
            })
    }

    proptest! {
        /// For any valid plan and grant, the tranches add up to the grant exactly, none is
        /// negative, every tranche but the last is its share rounded down (within a cent
        /// below), and the last is at least its share and above it by less than a cent per
        /// other tranche (the cents the others lost).
        #[test]
        fn the_tranches_add_up_to_the_grant(p in valid_plan(), cents in 0i64..=99_999_999_999_999) {
            prop_assert_eq!(check_plan(&p, "plan"), vec![]);
            let grant = Money::from_cents(cents).unwrap();
            let amounts = tranche_amounts(&p, grant).unwrap();
            prop_assert_eq!(amounts.len(), p.len());
            prop_assert_eq!(Money::sum(amounts.iter().copied()), Some(grant));
            let n = p.len() as i128;
            for (i, (t, a)) in p.iter().zip(&amounts).enumerate() {
                prop_assert!(a.cents() >= 0);
                // In ten-thousandths of a cent: the exact share is grant × bp / 10000.
                let exact = i128::from(cents) * i128::from(t.share.basis_points());
                let got = i128::from(a.cents()) * 10_000;
                if i + 1 < p.len() {
                    prop_assert!(got <= exact && exact - got < 10_000, "tranche {i}: {a} for {exact}");
                } else {
                    prop_assert!(got >= exact && got - exact < 10_000 * (n - 1).max(1), "last: {a} for {exact}");
                }
            }
        }

        /// Two tranches (the default's shape): each within a cent of its share.
        #[test]
        fn two_tranches_are_each_within_a_cent(bp in 1u32..10_000, cents in 0i64..=99_999_999_999_999) {
            let p = plan(&[bp, 10_000 - bp]);
            let amounts = tranche_amounts(&p, Money::from_cents(cents).unwrap()).unwrap();
            for (t, a) in p.iter().zip(&amounts) {
                let exact = i128::from(cents) * i128::from(t.share.basis_points());
                prop_assert!((i128::from(a.cents()) * 10_000 - exact).abs() < 10_000);
            }
        }
    }
}
