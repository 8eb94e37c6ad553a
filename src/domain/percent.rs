//! Percentages between 0.00 and 100.00 with exactly two decimals. On the wire
//! a percentage is always a JSON string such as `"70.00"`, never a JSON number.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use super::error_code::ErrorCode;

/// Regular expression (also published in the OpenAPI schema) that a textual
/// percentage must match; the value must also be at most 100.00.
pub const PERCENT_PATTERN: &str = r"^[0-9]{1,3}\.[0-9]{2}$";

/// 100.00 % in basis points.
const MAX_BASIS_POINTS: u32 = 10_000;

/// A percentage from 0.00 to 100.00 with exactly two decimals.
///
/// Invariant: the inner decimal has scale 2 and lies in 0.00..=100.00.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Percent(Decimal);

/// Why a value is not a valid [`Percent`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PercentError {
    /// A JSON value other than a string arrived where a percentage was expected.
    NotAString,
    /// The text does not look like `"70.00"`, or has fractions of a hundredth.
    Format,
    /// The value is below 0.00 or above 100.00.
    OutOfRange,
}

impl PercentError {
    /// Stable machine-readable code, safe to expose in API error bodies.
    pub fn code(&self) -> ErrorCode {
        match self {
            PercentError::NotAString => ErrorCode::PercentNotAString,
            PercentError::Format => ErrorCode::PercentFormat,
            PercentError::OutOfRange => ErrorCode::PercentOutOfRange,
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

impl fmt::Display for PercentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message_en())
    }
}

impl std::error::Error for PercentError {}

impl Percent {
    /// 0.00 %.
    pub const ZERO: Percent = Percent(Decimal::from_parts(0, 0, 0, false, 2));
    /// 100.00 %.
    pub const HUNDRED: Percent = Percent(Decimal::from_parts(MAX_BASIS_POINTS, 0, 0, false, 2));

    /// Builds a percentage from hundredths of a percent (7000 → 70.00).
    pub fn from_basis_points(bp: u32) -> Result<Percent, PercentError> {
        if bp > MAX_BASIS_POINTS {
            return Err(PercentError::OutOfRange);
        }
        Ok(Percent(Decimal::new(i64::from(bp), 2)))
    }

    /// Hundredths of a percent (70.00 → 7000).
    pub fn basis_points(&self) -> u32 {
        debug_assert_eq!(self.0.scale(), 2);
        // The invariant (scale 2, 0..=10000) makes the mantissa the basis points.
        self.0.mantissa() as u32
    }

    /// The percentage as a decimal with scale 2 (70.00, not 0.70).
    pub fn as_decimal(&self) -> Decimal {
        self.0
    }

    /// Builds a percentage from a decimal such as 70.00 (not 0.70), e.g. one
    /// read from the database. Trailing zeros are fine; more than two
    /// significant decimals are a `Format` error.
    pub fn from_decimal(value: Decimal) -> Result<Percent, PercentError> {
        if (value.is_sign_negative() && !value.is_zero()) || value > Percent::HUNDRED.0 {
            return Err(PercentError::OutOfRange);
        }
        if value != value.round_dp(2) {
            return Err(PercentError::Format);
        }
        let mut normalised = value;
        normalised.set_sign_positive(true); // turns a "-0" into "0"
        normalised.rescale(2);
        Percent::from_basis_points(normalised.mantissa() as u32)
    }

    /// Parses the only accepted textual form, `^[0-9]{1,3}\.[0-9]{2}$` with a
    /// value of at most 100.00 and no leading zeros (only "0.xx" may start
    /// with 0). A well-formed but negative or too large value ("-5.00",
    /// "100.01", "250.00", "1000.00") is `OutOfRange`; anything else is `Format`.
    pub fn parse(s: &str) -> Result<Percent, PercentError> {
        let (negative, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = body.split_once('.').ok_or(PercentError::Format)?;
        let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int) || !all_digits(frac) || frac.len() != 2 {
            return Err(PercentError::Format);
        }
        if int.len() > 1 && int.starts_with('0') {
            return Err(PercentError::Format);
        }
        if negative || int.len() > 3 {
            return Err(PercentError::OutOfRange);
        }
        // At most 3 + 2 digits: both parses fit a u32.
        let whole: u32 = int.parse().map_err(|_| PercentError::Format)?;
        let hundredths: u32 = frac.parse().map_err(|_| PercentError::Format)?;
        Percent::from_basis_points(whole * 100 + hundredths)
    }
}

impl Default for Percent {
    /// 0.00 %, with scale 2.
    fn default() -> Self {
        Percent::ZERO
    }
}

impl fmt::Display for Percent {
    /// Always two decimals, no percent sign: "70.00".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bp = self.basis_points();
        write!(f, "{}.{:02}", bp / 100, bp % 100)
    }
}

impl FromStr for Percent {
    type Err = PercentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Percent::parse(s)
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Accepts only strings; every other JSON type fails with `invalid_type`.
struct PercentVisitor;

impl Visitor<'_> for PercentVisitor {
    type Value = Percent;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a percentage as a string with exactly two decimals, such as \"70.00\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Percent, E> {
        Percent::parse(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(PercentVisitor)
    }
}

impl utoipa::PartialSchema for Percent {
    fn schema() -> RefOr<Schema> {
        #[allow(deprecated)] // `example` is what the utoipa derive emits too
        let builder = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(PERCENT_PATTERN))
            .description(Some(
                "Percentage from 0.00 to 100.00 as a string with exactly two decimals",
            ))
            .example(Some(serde_json::json!("70.00")))
            .examples([serde_json::json!("70.00")]);
        builder.build().into()
    }
}

impl utoipa::ToSchema for Percent {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Percent")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_accepts_canonical_percentages() {
        assert_eq!(Percent::parse("70.00").unwrap().basis_points(), 7000);
        assert_eq!(Percent::parse("0.00").unwrap(), Percent::ZERO);
        assert_eq!(Percent::parse("0.05").unwrap().basis_points(), 5);
        assert_eq!(Percent::parse("100.00").unwrap(), Percent::HUNDRED);
        assert_eq!(Percent::from_str("30.00").unwrap().to_string(), "30.00");
    }

    #[test]
    fn parse_rejects_everything_else() {
        use PercentError::*;
        let cases = [
            ("70", Format),
            ("70.0", Format),
            ("70.000", Format),
            ("70.001", Format),
            ("070.00", Format),
            ("00.00", Format),
            (" 70.00", Format),
            ("+70.00", Format),
            ("7e1", Format),
            ("70,00", Format),
            ("", Format),
            ("-5.00", OutOfRange),
            ("100.01", OutOfRange),
            ("999.99", OutOfRange),
            ("1000.00", OutOfRange),
        ];
        for (input, expected) in cases {
            assert_eq!(Percent::parse(input), Err(expected), "input {input:?}");
        }
    }

    #[test]
    fn basis_points_round_trip_and_bounds() {
        assert_eq!(
            Percent::from_basis_points(7000).unwrap().to_string(),
            "70.00"
        );
        assert_eq!(Percent::from_basis_points(1).unwrap().to_string(), "0.01");
        assert_eq!(
            Percent::from_basis_points(10_001),
            Err(PercentError::OutOfRange)
        );
        assert_eq!(Percent::HUNDRED.basis_points(), 10_000);
        assert_eq!(Percent::default(), Percent::ZERO);
        assert_eq!(Percent::ZERO.as_decimal().scale(), 2);
    }

    #[test]
    fn from_decimal_validates_and_normalises() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        let p = Percent::from_decimal(d("70")).unwrap();
        assert_eq!(p.basis_points(), 7000);
        assert_eq!(p.as_decimal().scale(), 2);
        assert_eq!(Percent::from_decimal(d("-0")).unwrap(), Percent::ZERO);
        assert_eq!(
            Percent::from_decimal(d("30.5000")).unwrap().to_string(),
            "30.50"
        );
        assert_eq!(
            Percent::from_decimal(d("-0.01")),
            Err(PercentError::OutOfRange)
        );
        assert_eq!(
            Percent::from_decimal(d("100.01")),
            Err(PercentError::OutOfRange)
        );
        assert_eq!(
            Percent::from_decimal(d("12.345")),
            Err(PercentError::Format)
        );
    }

    #[test]
    fn error_codes_and_messages() {
        let all = [
            (PercentError::NotAString, "percent_not_a_string"),
            (PercentError::Format, "percent_format"),
            (PercentError::OutOfRange, "percent_out_of_range"),
        ];
        for (err, code) in all {
            assert_eq!(err.code(), code);
            assert!(!err.message_en().is_empty());
            assert!(!err.message_it().is_empty());
            assert_eq!(err.to_string(), err.message_en());
        }
    }

    #[test]
    fn serde_uses_strings_only() {
        let p = Percent::parse("70.00").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"70.00\"");
        assert_eq!(serde_json::from_str::<Percent>("\"70.00\"").unwrap(), p);
        for bad in ["70", "70.0", "70.00", "true", "null", "[]"] {
            let err = serde_json::from_str::<Percent>(bad)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("expected a percentage as a string"),
                "{bad}: {err}"
            );
        }
        let err = serde_json::from_str::<Percent>("\"100.50\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains(PercentError::OutOfRange.message_en()), "{err}");
    }

    #[test]
    fn openapi_schema() {
        use utoipa::{PartialSchema, ToSchema};
        assert_eq!(Percent::name(), "Percent");
        let json = serde_json::to_value(Percent::schema()).unwrap();
        assert_eq!(json["type"], "string");
        assert_eq!(json["pattern"], PERCENT_PATTERN);
        assert_eq!(json["example"], "70.00");
        assert_eq!(json["examples"][0], "70.00");
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(bp in 0u32..=MAX_BASIS_POINTS) {
            let p = Percent::from_basis_points(bp).unwrap();
            prop_assert_eq!(Percent::parse(&p.to_string()), Ok(p));
            let json = serde_json::to_string(&p).unwrap();
            prop_assert_eq!(serde_json::from_str::<Percent>(&json).unwrap(), p);
            prop_assert_eq!(Percent::from_decimal(p.as_decimal()), Ok(p));
        }

        #[test]
        fn parse_agrees_with_the_pattern(s in "-?[0-9]{0,4}(\\.[0-9]{0,3})?") {
            let int = s.split('.').next().unwrap();
            let shape = !s.starts_with('-')
                && (1..=3).contains(&int.len())
                && !(int.len() > 1 && int.starts_with('0'))
                && s.split_once('.').is_some_and(|(_, f)| f.len() == 2);
            let in_range = shape && Decimal::from_str(&s).unwrap() <= Decimal::from(100);
            prop_assert_eq!(Percent::parse(&s).is_ok(), in_range);
        }
    }
}
