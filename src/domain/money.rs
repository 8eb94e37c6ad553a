//! Euro amounts: exactly two decimals, never negative, at most twelve integer
//! digits (fits `NUMERIC(14,2)`). On the wire an amount is always a JSON
//! string such as `"50000.00"`, never a JSON number.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use super::error_code::ErrorCode;
use super::percent::Percent;

/// Regular expression (also published in the OpenAPI schema) that a textual amount must match.
pub const MONEY_PATTERN: &str = r"^[0-9]{1,12}\.[0-9]{2}$";

/// Largest representable amount in cents: 999999999999.99 euros.
const MAX_CENTS: i64 = 99_999_999_999_999;

/// Most digits allowed before the decimal point.
const MAX_INTEGER_DIGITS: usize = 12;

/// A non-negative amount in euros with exactly two decimals.
///
/// Invariant: the inner decimal has scale 2, is not negative and is at most
/// 999999999999.99, so `cents()` always fits an `i64`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Money(Decimal);

/// Why a value is not a valid [`Money`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum MoneyError {
    /// A JSON value other than a string arrived where an amount was expected.
    NotAString,
    /// The text does not look like `"50000.00"`.
    Format,
    /// The amount is below zero.
    Negative,
    /// The amount has fractions of a cent.
    TooManyDecimals,
    /// The amount has more than twelve integer digits.
    TooLarge,
}

impl MoneyError {
    /// Stable machine-readable code, safe to expose in API error bodies.
    pub fn code(&self) -> ErrorCode {
        match self {
            MoneyError::NotAString => ErrorCode::MoneyNotAString,
            MoneyError::Format => ErrorCode::MoneyFormat,
            MoneyError::Negative => ErrorCode::MoneyNegative,
            MoneyError::TooManyDecimals => ErrorCode::MoneyTooManyDecimals,
            MoneyError::TooLarge => ErrorCode::MoneyTooLarge,
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
}

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message_en())
    }
}

impl std::error::Error for MoneyError {}

impl Money {
    /// Zero euros ("0.00").
    pub const ZERO: Money = Money(Decimal::from_parts(0, 0, 0, false, 2));

    /// Builds an amount from a number of cents.
    pub fn from_cents(cents: i64) -> Result<Money, MoneyError> {
        if cents < 0 {
            return Err(MoneyError::Negative);
        }
        if cents > MAX_CENTS {
            return Err(MoneyError::TooLarge);
        }
        Ok(Money(Decimal::new(cents, 2)))
    }

    /// The amount in cents.
    pub fn cents(&self) -> i64 {
        debug_assert_eq!(self.0.scale(), 2);
        // The invariant (scale 2, 0..=MAX_CENTS) makes the mantissa the cents.
        self.0.mantissa() as i64
    }

    /// The amount as a decimal with scale 2 (for storage in `NUMERIC(14,2)`).
    pub fn as_decimal(&self) -> Decimal {
        self.0
    }

    /// Builds an amount from a decimal, e.g. one read from the database.
    ///
    /// Rejects negative values, fractions of a cent and values above
    /// 999999999999.99; trailing zeros are fine ("5.000" is 5.00). The
    /// result always has scale 2.
    pub fn from_decimal(value: Decimal) -> Result<Money, MoneyError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::Negative);
        }
        if value != value.round_dp(2) {
            return Err(MoneyError::TooManyDecimals);
        }
        if value > Money::max_value().0 {
            return Err(MoneyError::TooLarge);
        }
        let mut normalised = value;
        normalised.set_sign_positive(true); // turns a "-0" into "0"
        normalised.rescale(2);
        Money::from_cents(normalised.mantissa() as i64)
    }

    /// Parses the only accepted textual form, `^[0-9]{1,12}\.[0-9]{2}$`
    /// without leading zeros (only "0.xx" may start with 0).
    pub fn parse(s: &str) -> Result<Money, MoneyError> {
        let (negative, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = body.split_once('.').ok_or(MoneyError::Format)?;
        let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int) || !all_digits(frac) || frac.len() < 2 {
            return Err(MoneyError::Format);
        }
        if int.len() > 1 && int.starts_with('0') {
            return Err(MoneyError::Format);
        }
        if negative {
            return Err(MoneyError::Negative);
        }
        if frac.len() > 2 {
            return Err(MoneyError::TooManyDecimals);
        }
        if int.len() > MAX_INTEGER_DIGITS {
            return Err(MoneyError::TooLarge);
        }
        // At most 12 + 2 digits: both parses fit an i64.
        let euros: i64 = int.parse().map_err(|_| MoneyError::Format)?;
        let cents: i64 = frac.parse().map_err(|_| MoneyError::Format)?;
        Money::from_cents(euros * 100 + cents)
    }

    /// `self + other`, or `None` above 999999999999.99.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        Money::from_cents(self.cents().checked_add(other.cents())?).ok()
    }

    /// `self - other`, or `None` when the result would be negative.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        Money::from_cents(self.cents().checked_sub(other.cents())?).ok()
    }

    /// Sum of all amounts, or `None` above 999999999999.99.
    pub fn sum<I: IntoIterator<Item = Money>>(amounts: I) -> Option<Money> {
        amounts
            .into_iter()
            .try_fold(Money::ZERO, |acc, m| acc.checked_add(m))
    }

    /// `self × rate / 100`, rounded down to the cent
    /// (71428.57 at 70.00 → 49999.99; 71428.58 at 70.00 → 50000.00).
    pub fn percent_floor(&self, rate: Percent) -> Money {
        let product = i128::from(self.cents()) * i128::from(rate.basis_points());
        // rate ≤ 100.00, so the result is between 0 and self: always valid.
        Money(Decimal::new((product / 10_000) as i64, 2))
    }

    fn max_value() -> Money {
        Money(Decimal::new(MAX_CENTS, 2))
    }
}

impl Default for Money {
    /// Zero euros, with scale 2 (a derived default would have scale 0).
    fn default() -> Self {
        Money::ZERO
    }
}

impl fmt::Display for Money {
    /// Always two decimals, no thousands separator: "1234.50".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cents = self.cents();
        write!(f, "{}.{:02}", cents / 100, cents % 100)
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Accepts only strings; every other JSON type fails with `invalid_type`.
struct MoneyVisitor;

impl Visitor<'_> for MoneyVisitor {
    type Value = Money;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an amount as a string with exactly two decimals, such as \"50000.00\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Money, E> {
        Money::parse(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(MoneyVisitor)
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> RefOr<Schema> {
        #[allow(deprecated)] // `example` is what the utoipa derive emits too
        let builder = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(MONEY_PATTERN))
            .description(Some(
                "Amount in euros as a string with exactly two decimals",
            ))
            .example(Some(serde_json::json!("50000.00")))
            .examples([serde_json::json!("50000.00")]);
        builder.build().into()
    }
}

impl utoipa::ToSchema for Money {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Money")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn parse_accepts_canonical_amounts() {
        assert_eq!(m("50000.00").cents(), 5_000_000);
        assert_eq!(m("0.00"), Money::ZERO);
        assert_eq!(m("0.07").cents(), 7);
        assert_eq!(m("999999999999.99").cents(), MAX_CENTS);
        assert_eq!(Money::from_str("1234.50").unwrap().cents(), 123_450);
    }

    #[test]
    fn parse_rejects_everything_else() {
        use MoneyError::*;
        let cases = [
            ("50000", Format),
            ("50000.0", Format),
            ("50000.", Format),
            (".50", Format),
            ("", Format),
            ("1e3", Format),
            (" 1.00", Format),
            ("1.00 ", Format),
            ("+1.00", Format),
            ("007.00", Format),
            ("00.00", Format),
            ("1,00", Format),
            ("1..00", Format),
            ("1.0a", Format),
            ("١.٠٠", Format),
            ("--1.00", Format),
            ("-1.00", Negative),
            ("50000.001", TooManyDecimals),
            ("50000.000", TooManyDecimals),
            ("1000000000000.00", TooLarge),
        ];
        for (input, expected) in cases {
            assert_eq!(Money::parse(input), Err(expected), "input {input:?}");
        }
    }

    #[test]
    fn error_codes_and_messages() {
        let all = [
            (MoneyError::NotAString, "money_not_a_string"),
            (MoneyError::Format, "money_format"),
            (MoneyError::Negative, "money_negative"),
            (MoneyError::TooManyDecimals, "money_too_many_decimals"),
            (MoneyError::TooLarge, "money_too_large"),
        ];
        for (err, code) in all {
            assert_eq!(err.code(), code);
            assert!(!err.message_en().is_empty());
            assert!(!err.message_it().is_empty());
            assert_eq!(err.to_string(), err.message_en());
        }
        assert_eq!(
            MoneyError::Format.message_it(),
            "un importo è una stringa con esattamente due decimali, ad esempio \"50000.00\""
        );
    }

    #[test]
    fn from_cents_bounds() {
        assert_eq!(Money::from_cents(-1), Err(MoneyError::Negative));
        assert_eq!(Money::from_cents(MAX_CENTS + 1), Err(MoneyError::TooLarge));
        assert_eq!(
            Money::from_cents(MAX_CENTS).unwrap().to_string(),
            "999999999999.99"
        );
        assert_eq!(Money::from_cents(0).unwrap(), Money::ZERO);
    }

    #[test]
    fn from_decimal_validates_and_normalises() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        let five = Money::from_decimal(d("5")).unwrap();
        assert_eq!(five.as_decimal().scale(), 2);
        assert_eq!(five.to_string(), "5.00");
        assert_eq!(Money::from_decimal(d("5.1000")).unwrap().cents(), 510);
        assert_eq!(Money::from_decimal(d("-0.00")).unwrap(), Money::ZERO);
        assert!(
            !Money::from_decimal(d("-0.00"))
                .unwrap()
                .as_decimal()
                .is_sign_negative()
        );
        assert_eq!(Money::from_decimal(d("-0.01")), Err(MoneyError::Negative));
        assert_eq!(
            Money::from_decimal(d("1.001")),
            Err(MoneyError::TooManyDecimals)
        );
        assert_eq!(
            Money::from_decimal(d("1000000000000")),
            Err(MoneyError::TooLarge)
        );
        assert_eq!(
            Money::from_decimal(d("999999999999.99")).unwrap().cents(),
            MAX_CENTS
        );
    }

    #[test]
    fn default_and_zero_have_scale_two() {
        assert_eq!(Money::default(), Money::ZERO);
        assert_eq!(Money::ZERO.as_decimal().scale(), 2);
        assert_eq!(Money::ZERO.to_string(), "0.00");
        assert_eq!(m("1.00").as_decimal().scale(), 2);
    }

    #[test]
    fn display_always_two_decimals() {
        assert_eq!(Money::from_cents(123_450).unwrap().to_string(), "1234.50");
        assert_eq!(Money::from_cents(5).unwrap().to_string(), "0.05");
        assert_eq!(Money::from_cents(100).unwrap().to_string(), "1.00");
    }

    #[test]
    fn checked_arithmetic() {
        assert_eq!(m("1.50").checked_add(m("2.75")), Some(m("4.25")));
        assert_eq!(m("999999999999.99").checked_add(m("0.01")), None);
        assert_eq!(m("5.00").checked_sub(m("5.00")), Some(Money::ZERO));
        assert_eq!(m("5.00").checked_sub(m("5.01")), None);
        assert_eq!(
            Money::sum([m("1.00"), m("2.00"), m("0.50")]),
            Some(m("3.50"))
        );
        assert_eq!(Money::sum(Vec::new()), Some(Money::ZERO));
        assert_eq!(Money::sum([m("999999999999.99"), m("0.01")]), None);
    }

    #[test]
    fn percent_floor_rounds_down() {
        let seventy = Percent::parse("70.00").unwrap();
        assert_eq!(m("71428.57").percent_floor(seventy), m("49999.99"));
        assert_eq!(m("71428.58").percent_floor(seventy), m("50000.00"));
        assert_eq!(m("0.01").percent_floor(seventy), Money::ZERO);
        let hundred = Percent::parse("100.00").unwrap();
        assert_eq!(
            m("999999999999.99").percent_floor(hundred),
            m("999999999999.99")
        );
        assert_eq!(
            m("123.45").percent_floor(Percent::parse("0.00").unwrap()),
            Money::ZERO
        );
    }

    #[test]
    fn serde_uses_strings_only() {
        assert_eq!(serde_json::to_string(&m("1234.50")).unwrap(), "\"1234.50\"");
        let back: Money = serde_json::from_str("\"1234.50\"").unwrap();
        assert_eq!(back, m("1234.50"));

        for bad in [
            "50000", "50000.0", "50000.00", "-1", "true", "null", "[]", "{}",
        ] {
            let err = serde_json::from_str::<Money>(bad).unwrap_err().to_string();
            assert!(
                err.contains("expected an amount as a string with exactly two decimals"),
                "{bad}: {err}"
            );
        }
        let err = serde_json::from_str::<Money>("\"50000.0\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains(MoneyError::Format.message_en()), "{err}");
        let err = serde_json::from_str::<Money>("\"-3.00\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains(MoneyError::Negative.message_en()), "{err}");
    }

    #[test]
    fn openapi_schema() {
        use utoipa::{PartialSchema, ToSchema};
        assert_eq!(Money::name(), "Money");
        let json = serde_json::to_value(Money::schema()).unwrap();
        assert_eq!(json["type"], "string");
        assert_eq!(json["pattern"], MONEY_PATTERN);
        assert_eq!(json["example"], "50000.00");
        assert_eq!(json["examples"][0], "50000.00");
        assert_eq!(
            json["description"],
            "Amount in euros as a string with exactly two decimals"
        );
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(cents in 0..=MAX_CENTS) {
            let money = Money::from_cents(cents).unwrap();
            let text = money.to_string();
            prop_assert_eq!(Money::parse(&text), Ok(money));
            let json = serde_json::to_string(&money).unwrap();
            prop_assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), money);
            prop_assert_eq!(Money::from_decimal(money.as_decimal()), Ok(money));
        }

        #[test]
        fn parse_agrees_with_the_pattern(s in "-?[0-9]{0,14}(\\.[0-9]{0,4})?") {
            let int = s.split('.').next().unwrap();
            let matches = !s.starts_with('-')
                && (1..=12).contains(&int.len())
                && !(int.len() > 1 && int.starts_with('0'))
                && s.split_once('.').is_some_and(|(_, f)| f.len() == 2);
            prop_assert_eq!(Money::parse(&s).is_ok(), matches);
        }

        #[test]
        fn percent_floor_is_exact_floor(cents in 0..=MAX_CENTS, bp in 0u32..=10_000) {
            let rate = Percent::from_basis_points(bp).unwrap();
            let got = Money::from_cents(cents).unwrap().percent_floor(rate);
            // Independent check with decimals: floor(cents * bp / 10000).
            let exact = Decimal::from(cents) * Decimal::from(bp) / Decimal::from(10_000);
            prop_assert_eq!(Decimal::from(got.cents()), exact.floor());
        }

        #[test]
        fn checked_sub_inverts_checked_add(a in 0..=MAX_CENTS / 2, b in 0..=MAX_CENTS / 2) {
            let (a, b) = (Money::from_cents(a).unwrap(), Money::from_cents(b).unwrap());
            let s = a.checked_add(b).unwrap();
            prop_assert_eq!(s.checked_sub(b), Some(a));
            prop_assert_eq!(a.checked_sub(b).is_some(), a >= b);
        }
    }
}
