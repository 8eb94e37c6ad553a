//! Points of the scoring grid: non-negative decimals with at most one decimal place.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error_code::ErrorCode;

/// A number of points, `0.0`..=`1000.0`, with one decimal place; JSON string such as `"25.0"`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Points(Decimal);

/// Why a text is not a number of points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointsError {
    Format,
    OutOfRange,
}

impl PointsError {
    pub fn code(&self) -> ErrorCode {
        match self {
            PointsError::Format => ErrorCode::PointsFormat,
            PointsError::OutOfRange => ErrorCode::PointsOutOfRange,
        }
    }

    pub fn message_en(&self) -> &'static str {
        self.code().en()
    }

    pub fn message_it(&self) -> &'static str {
        self.code().it()
    }
}

impl fmt::Display for PointsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message_en())
    }
}

impl std::error::Error for PointsError {}

impl Points {
    pub const ZERO: Points = Points(Decimal::ZERO);

    /// Parse `"25"`, `"25.0"` or `"7.5"`; never a sign, an exponent or two decimals.
    pub fn parse(s: &str) -> Result<Points, PointsError> {
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || int.len() > 4 || frac.is_some_and(|f| f.len() != 1 || !digits(f)) {
            return Err(PointsError::Format);
        }
        let d = Decimal::from_str(s).map_err(|_| PointsError::Format)?;
        Points::from_decimal(d)
    }

    /// From a decimal with at most one decimal place.
    pub fn from_decimal(d: Decimal) -> Result<Points, PointsError> {
        if d.round_dp(1) != d {
            return Err(PointsError::Format);
        }
        if d.is_sign_negative() && !d.is_zero() || d > Decimal::from(1000) {
            return Err(PointsError::OutOfRange);
        }
        let mut d = d;
        d.rescale(1);
        Ok(Points(d))
    }

    pub fn from_tenths(tenths: u32) -> Result<Points, PointsError> {
        Points::from_decimal(Decimal::new(i64::from(tenths), 1))
    }

    pub fn as_decimal(&self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Points {
    type Err = PointsError;
    fn from_str(s: &str) -> Result<Points, PointsError> {
        Points::parse(s)
    }
}

impl Serialize for Points {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Points {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Points, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Points;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("points as a string with at most one decimal place, such as \"25.0\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Points, E> {
                Points::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl utoipa::PartialSchema for Points {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^[0-9]{1,4}(\.[0-9])?$"))
            .description(Some("Points with at most one decimal place, as a string"))
            .examples([serde_json::json!("25.0")])
            .into()
    }
}

impl utoipa::ToSchema for Points {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_take_at_most_one_decimal() {
        assert_eq!(Points::parse("25").unwrap().to_string(), "25.0");
        assert_eq!(Points::parse("7.5").unwrap().to_string(), "7.5");
        assert_eq!(Points::parse("7.25"), Err(PointsError::Format));
        assert_eq!(Points::parse("-1"), Err(PointsError::Format));
        assert_eq!(Points::parse("1e2"), Err(PointsError::Format));
        assert_eq!(Points::parse("1000.1"), Err(PointsError::OutOfRange));
        assert_eq!(Points::parse(""), Err(PointsError::Format));
    }

    #[test]
    fn points_are_json_strings() {
        let p: Points = serde_json::from_str("\"60.0\"").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"60.0\"");
        assert!(serde_json::from_str::<Points>("60").is_err());
    }
}
