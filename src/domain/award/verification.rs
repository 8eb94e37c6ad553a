//! The ATS's verification of a final report and the final grant (DOMAIN.md §5.5–5.7): each
//! cost line accepted or reduced with a reason, the category caps applied to what was
//! accepted, the approved eligible cost E, the final grant G × min(E, C) / C rounded down to
//! the cent, the under-realisation flag, and what the balance settles.
//!
//! The caps are shares of the accepted total before any cap is applied, in one pass: a cut
//! does not lower the others' caps (a recomputed base would cut again and again).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::call::ExpenseCategory;
use crate::domain::error_code::ErrorCode;
use crate::domain::money::Money;
use crate::domain::percent::Percent;
use crate::domain::violation::{Violation, Violations};

use super::required_text;

/// Why a cost line is reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "missing_evidence")]
pub enum ReductionReason {
    IneligibleCost,
    MissingEvidence,
    OutsidePeriod,
    OverCategoryCap,
    Other,
}

/// A cost line of a final report, as submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostLine {
    pub id: Uuid,
    pub category: String,
    pub amount: Money,
}

/// The ATS's decision on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineDecision {
    Accepted,
    /// Reduced to `amount` (0.00 to the line's amount), with a reason code and its text.
    Reduced {
        amount: Money,
        reason: ReductionReason,
        text: Option<String>,
    },
}

/// A category after the caps: what its lines accepted, its cap, and what the cap cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryOutcome {
    pub accepted: Money,
    /// None for a category without a cap.
    pub cap: Option<Money>,
    pub cut: Money,
}

/// A verification's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Each line's accepted amount, by line id.
    pub lines: BTreeMap<Uuid, Money>,
    pub categories: BTreeMap<String, CategoryOutcome>,
    /// Accepted before the caps.
    pub accepted: Money,
    /// The approved eligible cost E: accepted less what the caps cut.
    pub eligible: Money,
}

/// Check the decisions on a report's lines (one per line, reductions within the line with a
/// reason text) and compute the figures. Every violation is listed; fields are
/// `lines[i]...` in the order of `decisions`.
pub fn verify(
    lines: &[CostLine],
    decisions: &[(Uuid, LineDecision)],
    categories: &[ExpenseCategory],
) -> Result<Verified, Vec<Violation>> {
    let mut v = Violations::new();
    let by_id: BTreeMap<Uuid, &CostLine> = lines.iter().map(|l| (l.id, l)).collect();
    let mut seen = BTreeSet::new();
    let mut accepted_lines = BTreeMap::new();
    for (i, (id, decision)) in decisions.iter().enumerate() {
        let field = format!("lines[{i}]");
        let Some(line) = by_id.get(id) else {
            v.add(
                format!("{field}.line_id"),
                ErrorCode::InvalidValue.worded(
                    "There is no such cost line in the report.",
                    "Non esiste questa voce di costo nel rendiconto.",
                ),
            );
            continue;
        };
        if !seen.insert(*id) {
            v.add(
                format!("{field}.line_id"),
                ErrorCode::InvalidValue.worded(
                    "Each cost line is decided once.",
                    "Ogni voce di costo si decide una sola volta.",
                ),
            );
            continue;
        }
        match decision {
            LineDecision::Accepted => {
                accepted_lines.insert(*id, line.amount);
            }
            LineDecision::Reduced { amount, text, .. } => {
                if *amount > line.amount {
                    v.add(
                        format!("{field}.amount"),
                        ErrorCode::InvalidValue.worded(
                            format!(
                                "A reduction leaves at most the line's amount, {}.",
                                line.amount
                            ),
                            format!(
                                "Una riduzione lascia al più l'importo della voce, {}.",
                                line.amount
                            ),
                        ),
                    );
                }
                required_text(&format!("{field}.text"), text.as_deref(), 2000, &mut v);
                accepted_lines.insert(*id, (*amount).min(line.amount));
            }
        }
    }
    for (i, l) in lines.iter().enumerate() {
        if !seen.contains(&l.id) {
            v.add(
                format!("report.lines[{i}]"),
                ErrorCode::MissingField.worded(
                    "Every cost line needs a decision: accepted or reduced.",
                    "Ogni voce di costo richiede una decisione: accettata o ridotta.",
                ),
            );
        }
    }
    let figures = v.finish(accepted_lines)?;
    Ok(figures_of(lines, figures, categories))
}

/// The categories' totals, their caps and the eligible cost, from each line's accepted
/// amount.
fn figures_of(
    lines: &[CostLine],
    accepted_lines: BTreeMap<Uuid, Money>,
    categories: &[ExpenseCategory],
) -> Verified {
    let mut by_category: BTreeMap<String, Money> = BTreeMap::new();
    for l in lines {
        let a = accepted_lines.get(&l.id).copied().unwrap_or(Money::ZERO);
        let sum = by_category.entry(l.category.clone()).or_insert(Money::ZERO);
        *sum = sum.checked_add(a).unwrap_or(*sum);
    }
    let accepted = Money::sum(by_category.values().copied()).unwrap_or(Money::ZERO);
    let caps: BTreeMap<&str, Percent> = categories
        .iter()
        .filter_map(|c| Some((c.code.as_str(), c.cap_percent?)))
        .collect();
    let mut cut_total = Money::ZERO;
    let outcomes = by_category
        .into_iter()
        .map(|(code, sum)| {
            let cap = caps.get(code.as_str()).map(|p| accepted.percent_floor(*p));
            let cut = cap.and_then(|c| sum.checked_sub(c)).unwrap_or(Money::ZERO);
            cut_total = cut_total.checked_add(cut).unwrap_or(cut_total);
            (
                code,
                CategoryOutcome {
                    accepted: sum,
                    cap,
                    cut,
                },
            )
        })
        .collect();
    Verified {
        lines: accepted_lines,
        categories: outcomes,
        accepted,
        eligible: accepted.checked_sub(cut_total).unwrap_or(Money::ZERO),
    }
}

/// The final grant: the awarded grant `g` in proportion to the approved eligible cost `e`
/// over the approved budget's total cost `c`, never above `g`, rounded down to the cent.
pub fn final_grant(g: Money, c: Money, e: Money) -> Money {
    if c == Money::ZERO {
        return Money::ZERO;
    }
    let spent = i128::from(e.min(c).cents());
    let cents = i128::from(g.cents()) * spent / i128::from(c.cents());
    // Between 0 and g: always a valid amount.
    Money::from_cents(cents as i64).unwrap_or(Money::ZERO)
}

/// Whether the eligible cost `e` falls below `share` of the approved total cost `c`: the
/// project is flagged for revocation for under-realisation (the ATS decides).
pub fn under_realised(c: Money, e: Money, share: Percent) -> bool {
    i128::from(e.cents()) * 10_000 < i128::from(c.cents()) * i128::from(share.basis_points())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::award::balance;
    use proptest::prelude::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn category(code: &str, cap: Option<u32>) -> ExpenseCategory {
        ExpenseCategory {
            code: code.into(),
            name_it: code.into(),
            name_en: code.into(),
            cap_percent: cap.map(|bp| Percent::from_basis_points(bp).unwrap()),
        }
    }

    fn line(n: u128, category: &str, amount: &str) -> CostLine {
        CostLine {
            id: Uuid::from_u128(n),
            category: category.into(),
            amount: m(amount),
        }
    }

    #[test]
    fn a_reduced_line_and_a_cap_make_the_eligible_cost_and_the_final_grant() {
        let lines = [
            line(1, "SERVICES", "50000.00"),
            line(2, "COORDINATION", "12000.00"),
            line(3, "SERVICES", "8000.00"),
        ];
        let decisions = [
            (Uuid::from_u128(1), LineDecision::Accepted),
            (Uuid::from_u128(2), LineDecision::Accepted),
            (
                Uuid::from_u128(3),
                LineDecision::Reduced {
                    amount: m("5000.00"),
                    reason: ReductionReason::MissingEvidence,
                    text: Some("Fatture mancanti per 3.000,00.".into()),
                },
            ),
        ];
        let cats = [
            category("SERVICES", None),
            category("COORDINATION", Some(1500)),
        ];
        let v = verify(&lines, &decisions, &cats).unwrap();
        // Accepted 67,000.00; coordination capped at 15% of it, 10,050.00: 1,950.00 cut.
        assert_eq!(v.accepted, m("67000.00"));
        let coordination = v.categories["COORDINATION"];
        assert_eq!(
            (coordination.cap, coordination.cut),
            (Some(m("10050.00")), m("1950.00"))
        );
        assert_eq!(v.eligible, m("65050.00"));
        // A grant of 50,000.00 on an approved cost of 71,428.58.
        assert_eq!(
            final_grant(m("50000.00"), m("71428.58"), v.eligible),
            m("45534.99")
        );
        assert!(!under_realised(
            m("71428.58"),
            v.eligible,
            Percent::from_basis_points(6000).unwrap()
        ));
    }

    #[test]
    fn every_bad_decision_is_listed() {
        let lines = [line(1, "SERVICES", "100.00"), line(2, "SERVICES", "100.00")];
        let decisions = [
            (
                Uuid::from_u128(1),
                LineDecision::Reduced {
                    amount: m("150.00"),
                    reason: ReductionReason::Other,
                    text: None,
                },
            ),
            (Uuid::from_u128(1), LineDecision::Accepted),
            (Uuid::from_u128(9), LineDecision::Accepted),
        ];
        let fields: Vec<String> = verify(&lines, &decisions, &[])
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            vec![
                "lines[0].amount",
                "lines[0].text",
                "lines[1].line_id",
                "lines[2].line_id",
                "report.lines[1]"
            ]
        );
    }

    #[test]
    fn the_final_grant_never_rises_and_is_proportional_below_the_approved_cost() {
        assert_eq!(
            final_grant(m("50000.00"), m("71428.58"), m("80000.00")),
            m("50000.00")
        );
        assert_eq!(
            final_grant(m("50000.00"), m("100000.00"), m("50000.00")),
            m("25000.00")
        );
        assert_eq!(final_grant(m("10.00"), m("3.00"), m("1.00")), m("3.33"));
        assert_eq!(final_grant(m("10.00"), Money::ZERO, m("1.00")), Money::ZERO);
        let share = Percent::from_basis_points(6000).unwrap();
        assert!(under_realised(m("100.00"), m("59.99"), share));
        assert!(!under_realised(m("100.00"), m("60.00"), share));
    }

    proptest! {
        /// For any award, approved cost, eligible cost and amount already paid: the final
        /// grant is never above the award, and what was paid, plus the balance to pay, less
        /// what is to be recovered, is the final grant exactly.
        #[test]
        fn paid_plus_balance_less_recovery_is_the_final_grant(
            g in 0i64..=5_000_000,
            c in 1i64..=10_000_000,
            e in 0i64..=20_000_000,
            paid_share in 0u32..=10_000,
        ) {
            let (g, c, e) = (Money::from_cents(g).unwrap(), Money::from_cents(c).unwrap(), Money::from_cents(e).unwrap());
            let f = final_grant(g, c, e);
            prop_assert!(f <= g);
            let paid = g.percent_floor(Percent::from_basis_points(paid_share).unwrap());
            let b = balance(f, paid);
            prop_assert!(b.to_pay == Money::ZERO || b.to_recover == Money::ZERO);
            let settled = paid.cents() + b.to_pay.cents() - b.to_recover.cents();
            prop_assert_eq!(settled, f.cents());
        }
    }
}
