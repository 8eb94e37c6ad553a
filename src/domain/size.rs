//! Enterprise size class under EU Recommendation 2003/361/EC, always computed
//! from the declared figures, never declared by the applicant.
//!
//! | class  | staff (AWU) | turnover         | balance-sheet total |
//! |--------|-------------|------------------|---------------------|
//! | micro  | < 10        | ≤ 2,000,000.00   | ≤ 2,000,000.00      |
//! | small  | < 50        | ≤ 10,000,000.00  | ≤ 10,000,000.00     |
//! | medium | < 250       | ≤ 50,000,000.00  | ≤ 43,000,000.00     |
//! | large  | otherwise   |                  |                     |
//!
//! A class applies when the staff is below its ceiling and EITHER declared
//! financial figure is within its ceiling; an undeclared figure never is.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error_code::ErrorCode;
use super::money::Money;
use super::violation::Violation;

/// Size class of an enterprise, from the smallest to the largest.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[schema(example = "small")]
pub enum SizeClass {
    Micro,
    Small,
    Medium,
    Large,
}

impl SizeClass {
    /// Every class, from the smallest to the largest.
    pub const ALL: [SizeClass; 4] = [
        SizeClass::Micro,
        SizeClass::Small,
        SizeClass::Medium,
        SizeClass::Large,
    ];

    /// Micro and small enterprises (often favoured by calls).
    pub fn is_micro_or_small(&self) -> bool {
        matches!(self, SizeClass::Micro | SizeClass::Small)
    }

    /// The snake_case name used on the wire and in storage: `"micro"`, `"small"`, ...
    pub fn as_str(&self) -> &'static str {
        match self {
            SizeClass::Micro => "micro",
            SizeClass::Small => "small",
            SizeClass::Medium => "medium",
            SizeClass::Large => "large",
        }
    }

    /// The class named exactly `s` (as returned by [`SizeClass::as_str`]).
    pub fn parse(s: &str) -> Option<SizeClass> {
        SizeClass::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for SizeClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The figures from which the size class is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnterpriseFigures {
    /// Staff headcount in annual work units (AWU), at most two decimals.
    pub staff: Decimal,
    /// Annual turnover, when declared.
    pub turnover: Option<Money>,
    /// Annual balance-sheet total, when declared.
    pub balance_sheet_total: Option<Money>,
}

/// Why the size class cannot be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SizeError {
    /// The staff is below zero.
    StaffNegative,
    /// The staff has more than two decimals.
    StaffPrecision,
    /// The staff is above 10,000,000 annual work units.
    StaffOutOfRange,
    /// Neither the turnover nor the balance-sheet total is declared.
    Undeterminable,
}

impl SizeError {
    /// Stable machine-readable code, safe to expose in API error bodies.
    pub fn code(&self) -> ErrorCode {
        match self {
            SizeError::StaffNegative => ErrorCode::StaffNegative,
            SizeError::StaffPrecision => ErrorCode::StaffPrecision,
            SizeError::StaffOutOfRange => ErrorCode::StaffOutOfRange,
            SizeError::Undeterminable => ErrorCode::SizeUndeterminable,
        }
    }

    /// Human-readable explanation in English.
    pub fn message_en(&self) -> &'static str {
        self.code().en()
    }

    /// Human-readable explanation in Italian.
    pub fn message_it(&self) -> &'static str {
        self.code().it()
    }

    /// This error as a violation of `field`.
    pub fn violation(&self, field: &str) -> Violation {
        Violation::new(field, self.code())
    }
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message_en())
    }
}

impl std::error::Error for SizeError {}

/// Largest accepted staff, in annual work units.
const MAX_STAFF: i64 = 10_000_000;

/// Ceilings of one class: staff strictly below, figures at most (in cents).
struct Ceiling {
    class: SizeClass,
    staff_below: i64,
    turnover_cents: i64,
    balance_cents: i64,
}

const CEILINGS: [Ceiling; 3] = [
    Ceiling {
        class: SizeClass::Micro,
        staff_below: 10,
        turnover_cents: 200_000_000,
        balance_cents: 200_000_000,
    },
    Ceiling {
        class: SizeClass::Small,
        staff_below: 50,
        turnover_cents: 1_000_000_000,
        balance_cents: 1_000_000_000,
    },
    Ceiling {
        class: SizeClass::Medium,
        staff_below: 250,
        turnover_cents: 5_000_000_000,
        balance_cents: 4_300_000_000,
    },
];

/// The size class of an enterprise with figures `f`.
///
/// The staff is checked first (negative, then precision, then range); then at
/// least one financial figure must be declared. Only the first error is returned.
pub fn size_class(f: &EnterpriseFigures) -> Result<SizeClass, SizeError> {
    let staff = f.staff;
    if staff.is_sign_negative() && !staff.is_zero() {
        return Err(SizeError::StaffNegative);
    }
    if staff.round_dp(2) != staff {
        return Err(SizeError::StaffPrecision);
    }
    if staff > Decimal::from(MAX_STAFF) {
        return Err(SizeError::StaffOutOfRange);
    }
    if f.turnover.is_none() && f.balance_sheet_total.is_none() {
        return Err(SizeError::Undeterminable);
    }
    let within = |figure: Option<Money>, cap: i64| figure.is_some_and(|m| m.cents() <= cap);
    let class = CEILINGS
        .iter()
        .find(|c| {
            staff < Decimal::from(c.staff_below)
                && (within(f.turnover, c.turnover_cents)
                    || within(f.balance_sheet_total, c.balance_cents))
        })
        .map_or(SizeClass::Large, |c| c.class);
    Ok(class)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn money(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn figures(staff: &str, turnover: Option<&str>, balance: Option<&str>) -> EnterpriseFigures {
        EnterpriseFigures {
            staff: Decimal::from_str(staff).unwrap(),
            turnover: turnover.map(money),
            balance_sheet_total: balance.map(money),
        }
    }

    fn class(staff: &str, turnover: Option<&str>, balance: Option<&str>) -> SizeClass {
        size_class(&figures(staff, turnover, balance)).unwrap()
    }

    use SizeClass::*;

    #[test]
    fn staff_boundaries() {
        let t = Some("1.00");
        assert_eq!(class("0", t, None), Micro);
        assert_eq!(class("9.99", t, None), Micro);
        assert_eq!(class("10", t, None), Small);
        assert_eq!(class("10.00", t, None), Small);
        assert_eq!(class("49.99", t, None), Small);
        assert_eq!(class("50", t, None), Medium);
        assert_eq!(class("249.99", t, None), Medium);
        assert_eq!(class("250", t, None), Large);
        assert_eq!(class("10000000", t, None), Large);
        // Same with only the balance-sheet total declared.
        let b = Some("1.00");
        assert_eq!(class("9.99", None, b), Micro);
        assert_eq!(class("10", None, b), Small);
        assert_eq!(class("49.99", None, b), Small);
        assert_eq!(class("50", None, b), Medium);
        assert_eq!(class("249.99", None, b), Medium);
        assert_eq!(class("250", None, b), Large);
    }

    #[test]
    fn turnover_boundaries_with_balance_undeclared() {
        assert_eq!(class("5", Some("2000000.00"), None), Micro);
        assert_eq!(class("5", Some("2000000.01"), None), Small);
        assert_eq!(class("5", Some("10000000.00"), None), Small);
        assert_eq!(class("5", Some("10000000.01"), None), Medium);
        assert_eq!(class("5", Some("50000000.00"), None), Medium);
        assert_eq!(class("5", Some("50000000.01"), None), Large);
        assert_eq!(class("100", Some("50000000.00"), None), Medium);
        assert_eq!(class("100", Some("50000000.01"), None), Large);
    }

    #[test]
    fn balance_boundaries_with_turnover_undeclared() {
        assert_eq!(class("5", None, Some("2000000.00")), Micro);
        assert_eq!(class("5", None, Some("2000000.01")), Small);
        assert_eq!(class("5", None, Some("10000000.00")), Small);
        assert_eq!(class("5", None, Some("10000000.01")), Medium);
        assert_eq!(class("100", None, Some("43000000.00")), Medium);
        assert_eq!(class("100", None, Some("43000000.01")), Large);
        // The medium balance ceiling is lower than the turnover one.
        assert_eq!(class("100", None, Some("50000000.00")), Large);
    }

    #[test]
    fn balance_meets_the_ceiling_when_turnover_does_not() {
        assert_eq!(class("5", Some("5000000.00"), Some("2000000.00")), Micro);
        assert_eq!(class("5", Some("5000000.00"), Some("2000000.01")), Small);
        assert_eq!(class("30", Some("80000000.00"), Some("9000000.00")), Small);
        assert_eq!(
            class("100", Some("60000000.00"), Some("43000000.00")),
            Medium
        );
        // And the turnover when the balance does not.
        assert_eq!(class("5", Some("2000000.00"), Some("9000000.00")), Micro);
        assert_eq!(
            class("100", Some("50000000.00"), Some("43000000.01")),
            Medium
        );
    }

    #[test]
    fn both_declared_and_both_above() {
        assert_eq!(class("5", Some("2000000.01"), Some("2000000.01")), Small);
        assert_eq!(class("5", Some("10000000.01"), Some("10000000.01")), Medium);
        assert_eq!(
            class("100", Some("50000000.01"), Some("43000000.01")),
            Large
        );
        assert_eq!(class("5", Some("0.00"), Some("0.00")), Micro);
        // Staff decides even when both figures are tiny.
        assert_eq!(class("250", Some("0.00"), Some("0.00")), Large);
    }

    #[test]
    fn staff_errors() {
        let err = |staff: &str| size_class(&figures(staff, Some("1.00"), None)).unwrap_err();
        assert_eq!(err("-0.01"), SizeError::StaffNegative);
        assert_eq!(err("-1"), SizeError::StaffNegative);
        assert_eq!(err("-0.001"), SizeError::StaffNegative);
        assert_eq!(err("9.999"), SizeError::StaffPrecision);
        assert_eq!(err("0.001"), SizeError::StaffPrecision);
        assert_eq!(err("10000000.01"), SizeError::StaffOutOfRange);
        assert_eq!(err("99999999999"), SizeError::StaffOutOfRange);
        // Trailing zeros and negative zero are fine.
        assert_eq!(class("9.9900", Some("1.00"), None), Micro);
        assert_eq!(class("-0.00", Some("1.00"), None), Micro);
    }

    #[test]
    fn undeclared_figures_make_the_size_undeterminable() {
        assert_eq!(
            size_class(&figures("5", None, None)),
            Err(SizeError::Undeterminable)
        );
        // Staff errors come first.
        assert_eq!(
            size_class(&figures("-1", None, None)),
            Err(SizeError::StaffNegative)
        );
    }

    #[test]
    fn error_codes_messages_and_violations() {
        let all = [
            (SizeError::StaffNegative, "staff_negative"),
            (SizeError::StaffPrecision, "staff_precision"),
            (SizeError::StaffOutOfRange, "staff_out_of_range"),
            (SizeError::Undeterminable, "size_undeterminable"),
        ];
        for (err, code) in all {
            assert_eq!(err.code(), code);
            assert!(err.message_en().ends_with('.'));
            assert!(err.message_it().ends_with('.'));
            assert_eq!(err.to_string(), err.message_en());
            let v = err.violation("enterprise.staff");
            assert_eq!(v.field, "enterprise.staff");
            assert_eq!(v.code, code);
            assert_eq!(v.message.en, err.message_en());
            assert_eq!(v.message.it, err.message_it());
        }
        assert!(
            SizeError::Undeterminable
                .message_en()
                .contains("turnover or its balance-sheet total")
        );
    }

    #[test]
    fn size_class_names() {
        for c in SizeClass::ALL {
            assert_eq!(SizeClass::parse(c.as_str()), Some(c));
            assert_eq!(c.to_string(), c.as_str());
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
            let back: SizeClass = serde_json::from_str(&format!("\"{c}\"")).unwrap();
            assert_eq!(back, c);
        }
        assert_eq!(SizeClass::parse("Small"), None);
        assert_eq!(SizeClass::parse(" small"), None);
        assert_eq!(SizeClass::parse(""), None);
        assert!(serde_json::from_str::<SizeClass>("\"Small\"").is_err());
        assert!(Micro.is_micro_or_small());
        assert!(Small.is_micro_or_small());
        assert!(!Medium.is_micro_or_small());
        assert!(!Large.is_micro_or_small());
        assert!(Micro < Small && Small < Medium && Medium < Large);
    }

    #[test]
    fn size_class_schema() {
        use utoipa::PartialSchema;
        assert_eq!(<SizeClass as ToSchema>::name(), "SizeClass");
        let s = serde_json::to_value(SizeClass::schema()).unwrap();
        assert_eq!(s["type"], "string");
        assert_eq!(
            s["enum"],
            serde_json::json!(["micro", "small", "medium", "large"])
        );
        assert_eq!(s["example"], "small");
    }

    /// Staff in hundredths of an AWU, 0..=10,000,000.00.
    const MAX_STAFF_HUNDREDTHS: i64 = MAX_STAFF * 100;
    /// Figures up to 100 million euros, in cents.
    const MAX_FIGURE_CENTS: i64 = 10_000_000_000;

    fn figures_from(staff: i64, turnover: Option<i64>, balance: Option<i64>) -> EnterpriseFigures {
        EnterpriseFigures {
            staff: Decimal::new(staff, 2),
            turnover: turnover.map(|c| Money::from_cents(c).unwrap()),
            balance_sheet_total: balance.map(|c| Money::from_cents(c).unwrap()),
        }
    }

    proptest! {
        #[test]
        fn class_is_monotone(
            staff in 0..=MAX_STAFF_HUNDREDTHS,
            turnover in prop::option::of(0..=MAX_FIGURE_CENTS),
            balance in prop::option::of(0..=MAX_FIGURE_CENTS),
            more_staff in 0..=MAX_STAFF_HUNDREDTHS,
            more_turnover in 0..=MAX_FIGURE_CENTS,
            more_balance in 0..=MAX_FIGURE_CENTS,
        ) {
            // At least one figure must be declared.
            let turnover = if balance.is_none() { turnover.or(Some(0)) } else { turnover };
            let base = size_class(&figures_from(staff, turnover, balance)).unwrap();

            let raised_staff = (staff + more_staff).min(MAX_STAFF_HUNDREDTHS);
            let c = size_class(&figures_from(raised_staff, turnover, balance)).unwrap();
            prop_assert!(c >= base, "staff {} -> {}: {:?} -> {:?}", staff, raised_staff, base, c);

            let raised_turnover = turnover.map(|t| t + more_turnover);
            let c = size_class(&figures_from(staff, raised_turnover, balance)).unwrap();
            prop_assert!(c >= base, "turnover {:?} -> {:?}: {:?} -> {:?}", turnover, raised_turnover, base, c);

            let raised_balance = balance.map(|b| b + more_balance);
            let c = size_class(&figures_from(staff, turnover, raised_balance)).unwrap();
            prop_assert!(c >= base, "balance {:?} -> {:?}: {:?} -> {:?}", balance, raised_balance, base, c);

            let c = size_class(&figures_from(raised_staff, raised_turnover, raised_balance)).unwrap();
            prop_assert!(c >= base, "all raised: {:?} -> {:?}", base, c);
        }

        #[test]
        fn staff_always_caps_the_class(staff in 0..=MAX_STAFF_HUNDREDTHS) {
            // With tiny figures the class depends on staff alone.
            let c = size_class(&figures_from(staff, Some(0), Some(0))).unwrap();
            let expected = match staff {
                s if s < 1_000 => Micro,
                s if s < 5_000 => Small,
                s if s < 25_000 => Medium,
                _ => Large,
            };
            prop_assert_eq!(c, expected);
        }
    }
}
