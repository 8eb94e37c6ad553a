//! The post-award parameters of a call (DOMAIN.md §5), every one configurable, with the
//! defaults of Regione Lombardia's standard call template.

use std::collections::BTreeSet;

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::error_code::ErrorCode;
use crate::domain::percent::Percent;
use crate::domain::violation::{Violation, Violations};

/// When a tranche of the payment plan becomes a payment due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "start_communicated")]
pub enum TrancheTrigger {
    /// The lead communicates the project's start.
    StartCommunicated,
    /// The ATS approves the final report: the balance, final grant minus everything paid.
    FinalReportApproved,
}

impl TrancheTrigger {
    pub fn as_str(&self) -> &'static str {
        match self {
            TrancheTrigger::StartCommunicated => "start_communicated",
            TrancheTrigger::FinalReportApproved => "final_report_approved",
        }
    }

    pub fn parse(s: &str) -> Option<TrancheTrigger> {
        [
            TrancheTrigger::StartCommunicated,
            TrancheTrigger::FinalReportApproved,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// One tranche of the payment plan: a share of the grant paid at a trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "advance", "share": "70.00", "trigger": "start_communicated"}))]
pub struct Tranche {
    #[schema(example = "advance")]
    pub code: String,
    /// Share of the grant, rounded down to the cent; the last tranche takes the remainder.
    pub share: Percent,
    pub trigger: TrancheTrigger,
}

/// What happens after a grant is accepted: start, duration, payments, report, variations,
/// recovery and how long the reserve list stays open. Locked like the other rules once the
/// call's window opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = example)]
pub struct PostAwardRules {
    /// Calendar days after the acceptance within which the lead communicates the start;
    /// a later start is accepted and flagged `overdue`.
    #[schema(example = 60)]
    pub start_deadline_days: u32,
    /// Ordered tranches whose shares add up to 100.00; the last, and only it, is the balance
    /// paid when the final report is approved.
    pub payment_plan: Vec<Tranche>,
    /// Calendar days after the end date within which the final report is submitted; a later
    /// report is accepted and flagged `overdue`.
    #[schema(example = 60)]
    pub report_deadline_days: u32,
    /// Below this share of the approved cost actually spent, the project is flagged for
    /// revocation for under-realisation.
    pub min_realisation_share: Percent,
    /// A budget shift is approved automatically when each category moves by at most this
    /// share of its approved amount.
    pub variation_tolerance: Percent,
    /// The longest extension of the end date a variation may ask for (0: none).
    #[schema(example = 3)]
    pub max_extension_months: u32,
    /// Calendar days a recovery order gives to pay back.
    #[schema(example = 30)]
    pub recovery_due_days: u32,
    /// Months after a ranking's approval during which freed money goes down its reserve list
    /// (scorrimento); after that it returns to the envelope as unused (0: never).
    #[schema(example = 12)]
    pub scorrimento_months: u32,
}

/// The OpenAPI example: the defaults.
pub fn example() -> serde_json::Value {
    serde_json::to_value(PostAwardRules::default()).unwrap_or_default()
}

impl Default for PostAwardRules {
    /// DOMAIN.md §5's defaults (the duration is the call's `project_duration_months`): start
    /// within 60 days, 70% advance at the start and
    /// the balance on the final report, report within 60 days, 60% realisation, 20% tolerance,
    /// 3 months of extension, 30 days to pay back, scorrimento for 12 months.
    fn default() -> PostAwardRules {
        let pct = |bp| Percent::from_basis_points(bp).expect("a percent");
        PostAwardRules {
            start_deadline_days: 60,
            payment_plan: vec![
                Tranche {
                    code: "advance".into(),
                    share: pct(7000),
                    trigger: TrancheTrigger::StartCommunicated,
                },
                Tranche {
                    code: "balance".into(),
                    share: pct(3000),
                    trigger: TrancheTrigger::FinalReportApproved,
                },
            ],
            report_deadline_days: 60,
            min_realisation_share: pct(6000),
            variation_tolerance: pct(2000),
            max_extension_months: 3,
            recovery_due_days: 30,
            scorrimento_months: 12,
        }
    }
}

/// The most tranches a plan may have.
pub const MAX_TRANCHES: usize = 10;

fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl PostAwardRules {
    /// Every rule the post-award parameters must satisfy, all reported at once, with field
    /// paths under `field` (e.g. `rules.post_award.payment_plan[1].share`).
    pub fn check(&self, field: &str) -> Vec<Violation> {
        let mut v = Violations::new();
        let f = |name: &str| format!("{field}.{name}");
        let ranges: [(&str, u32, u32, u32, &str, &str); 5] = [
            (
                "start_deadline_days",
                self.start_deadline_days,
                1,
                365,
                "The start deadline in days",
                "Il termine di avvio in giorni",
            ),
            (
                "report_deadline_days",
                self.report_deadline_days,
                1,
                365,
                "The final report's deadline in days",
                "Il termine della rendicontazione in giorni",
            ),
            (
                "max_extension_months",
                self.max_extension_months,
                0,
                24,
                "The longest extension in months",
                "La proroga massima in mesi",
            ),
            (
                "recovery_due_days",
                self.recovery_due_days,
                1,
                365,
                "The days to pay back a recovery",
                "Il termine di restituzione in giorni",
            ),
            (
                "scorrimento_months",
                self.scorrimento_months,
                0,
                60,
                "The months of scorrimento",
                "La durata dello scorrimento in mesi",
            ),
        ];
        for (name, value, min, max, subject_en, subject_it) in ranges {
            if !(min..=max).contains(&value) {
                v.add(
                    f(name),
                    ErrorCode::OutOfRange.with(&[
                        ("subject_en", &subject_en),
                        ("subject_it", &subject_it),
                        ("min", &min),
                        ("max", &max),
                    ]),
                );
            }
        }
        v.extend(check_plan(&self.payment_plan, &f("payment_plan")));
        v.into_vec()
    }

    /// The date by which freed money of a ranking approved on `approved_on` still goes down
    /// its reserve list; `None` when the call has no scorrimento.
    pub fn scorrimento_until(&self, approved_on: NaiveDate) -> Option<NaiveDate> {
        (self.scorrimento_months > 0)
            .then(|| approved_on.checked_add_months(Months::new(self.scorrimento_months)))
            .flatten()
    }
}

/// A payment plan: 1 to 10 tranches with distinct codes, each share above 0.00, the shares
/// adding up to 100.00; the last tranche, and only it, paid when the final report is
/// approved (the balance).
pub fn check_plan(plan: &[Tranche], field: &str) -> Vec<Violation> {
    let mut v = Violations::new();
    if plan.is_empty() {
        v.add(
            field,
            ErrorCode::EmptyList.worded(
                "A payment plan has at least one tranche.",
                "Un piano di erogazione ha almeno una tranche.",
            ),
        );
        return v.into_vec();
    }
    if plan.len() > MAX_TRANCHES {
        v.add(
            field,
            ErrorCode::OutOfRange.with(&[
                ("subject_en", &"The number of tranches"),
                ("subject_it", &"Il numero di tranche"),
                ("min", &1),
                ("max", &MAX_TRANCHES),
            ]),
        );
    }
    let mut seen = BTreeSet::new();
    let mut total: u32 = 0;
    for (i, t) in plan.iter().enumerate() {
        if !is_code(&t.code) {
            v.add(format!("{field}[{i}].code"), ErrorCode::InvalidCode);
        } else if !seen.insert(t.code.as_str()) {
            v.add(
                format!("{field}[{i}].code"),
                ErrorCode::DuplicateCode.with(&[("code", &t.code)]),
            );
        }
        if t.share == Percent::ZERO {
            v.add(
                format!("{field}[{i}].share"),
                ErrorCode::RateZero.worded(
                    "A tranche's share is above 0.00.",
                    "La quota di una tranche è maggiore di 0.00.",
                ),
            );
        }
        total += t.share.basis_points();
        let last = i + 1 == plan.len();
        if last != (t.trigger == TrancheTrigger::FinalReportApproved) {
            v.add(
                format!("{field}[{i}].trigger"),
                ErrorCode::BalanceTrancheLast,
            );
        }
    }
    if total != Percent::HUNDRED.basis_points() {
        let sum = rust_decimal::Decimal::new(i64::from(total), 2);
        v.add(field, ErrorCode::TrancheSharesSum.with(&[("sum", &sum)]));
    }
    v.into_vec()
}

/// Whether money freed now still goes down the reserve list of a ranking first approved at
/// `approved`: through the day `scorrimento_months` after the approval's day, in Europe/Rome
/// (never when the call has no scorrimento).
pub fn scorrimento_open(
    rules: &PostAwardRules,
    approved: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    use crate::domain::call::rome_day as rome;
    approved
        .and_then(|a| rules.scorrimento_until(rome(a)))
        .is_some_and(|until| rome(now) <= until)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(r: &PostAwardRules) -> Vec<(String, &'static str)> {
        r.check("post_award")
            .into_iter()
            .map(|v| (v.field, v.code.as_str()))
            .collect()
    }

    #[test]
    fn the_defaults_are_those_of_the_domain_and_valid() {
        let r = PostAwardRules::default();
        assert_eq!(codes(&r), vec![]);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "start_deadline_days": 60,
                "payment_plan": [
                    {"code": "advance", "share": "70.00", "trigger": "start_communicated"},
                    {"code": "balance", "share": "30.00", "trigger": "final_report_approved"}
                ],
                "report_deadline_days": 60,
                "min_realisation_share": "60.00",
                "variation_tolerance": "20.00",
                "max_extension_months": 3,
                "recovery_due_days": 30,
                "scorrimento_months": 12
            })
        );
        assert_eq!(serde_json::from_value::<PostAwardRules>(json).unwrap(), r);
        assert_eq!(example(), serde_json::to_value(&r).unwrap());
    }

    #[test]
    fn an_unknown_field_is_refused() {
        let mut json = example();
        json["interest_rate"] = serde_json::json!("2.00");
        assert!(serde_json::from_value::<PostAwardRules>(json).is_err());
        let mut json = example();
        json["payment_plan"][0]["amount"] = serde_json::json!("1.00");
        assert!(serde_json::from_value::<PostAwardRules>(json).is_err());
    }

    #[test]
    fn every_broken_rule_is_reported_with_its_field() {
        let r = PostAwardRules {
            start_deadline_days: 0,
            report_deadline_days: 366,
            max_extension_months: 25,
            recovery_due_days: 0,
            scorrimento_months: 61,
            payment_plan: vec![
                Tranche {
                    code: "advance".into(),
                    share: Percent::parse("50.00").unwrap(),
                    trigger: TrancheTrigger::FinalReportApproved,
                },
                Tranche {
                    code: "advance".into(),
                    share: Percent::ZERO,
                    trigger: TrancheTrigger::StartCommunicated,
                },
                Tranche {
                    code: "bad code".into(),
                    share: Percent::parse("40.00").unwrap(),
                    trigger: TrancheTrigger::StartCommunicated,
                },
            ],
            ..PostAwardRules::default()
        };
        assert_eq!(
            codes(&r),
            vec![
                ("post_award.start_deadline_days".into(), "out_of_range"),
                ("post_award.report_deadline_days".into(), "out_of_range"),
                ("post_award.max_extension_months".into(), "out_of_range"),
                ("post_award.recovery_due_days".into(), "out_of_range"),
                ("post_award.scorrimento_months".into(), "out_of_range"),
                (
                    "post_award.payment_plan[0].trigger".into(),
                    "balance_tranche_last"
                ),
                ("post_award.payment_plan[1].code".into(), "duplicate_code"),
                ("post_award.payment_plan[1].share".into(), "rate_zero"),
                ("post_award.payment_plan[2].code".into(), "invalid_code"),
                (
                    "post_award.payment_plan[2].trigger".into(),
                    "balance_tranche_last"
                ),
                ("post_award.payment_plan".into(), "tranche_shares_sum"),
            ]
        );
        let sum = r
            .check("post_award")
            .into_iter()
            .find(|v| v.code.as_str() == "tranche_shares_sum")
            .unwrap();
        assert!(sum.message.en.contains("90.00%"), "{}", sum.message.en);
    }

    #[test]
    fn a_plan_has_one_to_ten_tranches() {
        assert_eq!(
            check_plan(&[], "plan")
                .into_iter()
                .map(|v| v.code.as_str())
                .collect::<Vec<_>>(),
            vec!["empty_list"]
        );
        let mut plan: Vec<Tranche> = (0..11)
            .map(|i| Tranche {
                code: format!("t{i}"),
                share: Percent::from_basis_points(if i == 0 { 10000 - 10 * 900 } else { 900 })
                    .unwrap(),
                trigger: TrancheTrigger::StartCommunicated,
            })
            .collect();
        plan[10].trigger = TrancheTrigger::FinalReportApproved;
        let codes: Vec<_> = check_plan(&plan, "plan")
            .into_iter()
            .map(|v| v.code.as_str())
            .collect();
        assert_eq!(codes, vec!["out_of_range"]);
        assert_eq!(check_plan(&plan[9..], "plan").len(), 1, "shares 9% + 9%");
    }

    #[test]
    fn the_whole_grant_may_be_paid_as_a_balance() {
        let plan = [Tranche {
            code: "balance".into(),
            share: Percent::HUNDRED,
            trigger: TrancheTrigger::FinalReportApproved,
        }];
        assert_eq!(check_plan(&plan, "plan"), vec![]);
    }

    #[test]
    fn scorrimento_ends_months_after_the_approval() {
        let mut r = PostAwardRules::default();
        let approved = NaiveDate::from_ymd_opt(2027, 1, 31).unwrap();
        assert_eq!(
            r.scorrimento_until(approved),
            NaiveDate::from_ymd_opt(2028, 1, 31)
        );
        r.scorrimento_months = 1;
        assert_eq!(
            r.scorrimento_until(approved),
            NaiveDate::from_ymd_opt(2027, 2, 28)
        );
        r.scorrimento_months = 0;
        assert_eq!(r.scorrimento_until(approved), None);
    }

    #[test]
    fn the_reserve_list_stays_open_for_the_scorrimento_months_after_the_approval() {
        use crate::domain::call::rome;
        let rules = PostAwardRules::default();
        let approved = Some(rome(2027, 3, 5, 10, 0));
        assert!(scorrimento_open(&rules, approved, rome(2028, 3, 5, 23, 59)));
        assert!(!scorrimento_open(&rules, approved, rome(2028, 3, 6, 0, 0)));
        assert!(!scorrimento_open(&rules, None, rome(2027, 3, 6, 0, 0)));
        let never = PostAwardRules {
            scorrimento_months: 0,
            ..PostAwardRules::default()
        };
        assert!(!scorrimento_open(&never, approved, rome(2027, 3, 5, 10, 0)));
    }
}
