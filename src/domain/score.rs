//! Scores: what the scoring grid's points add up to. An evaluation's total, the score of a
//! criterion behind an application's score, the application's score (average or consensus)
//! and a ranking entry's score. Exact decimals, compared and added as such.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A score, exact, with the scale it was computed at: an evaluation's total keeps the one
/// decimal place of its points, an application's score (average or consensus) is rounded
/// half-up to two. JSON string such as `"72.25"`, as a decimal is written.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Score(Decimal);

impl Score {
    pub const ZERO: Score = Score(Decimal::ZERO);

    pub fn new(d: Decimal) -> Score {
        Score(d)
    }

    pub fn as_decimal(&self) -> Decimal {
        self.0
    }
}

impl From<Decimal> for Score {
    fn from(d: Decimal) -> Score {
        Score(d)
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Score {
    type Err = rust_decimal::Error;
    fn from_str(s: &str) -> Result<Score, rust_decimal::Error> {
        Decimal::from_str(s).map(Score)
    }
}

impl utoipa::PartialSchema for Score {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A score, exact, as a string: an application's score has two decimals, an evaluation's total one",
            ))
            .examples([serde_json::json!("72.25")])
            .into()
    }
}

impl utoipa::ToSchema for Score {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_json_strings_with_their_scale() {
        for s in ["\"72.25\"", "\"21.5\"", "\"60.00\"", "\"0\""] {
            let score: Score = serde_json::from_str(s).unwrap();
            assert_eq!(serde_json::to_string(&score).unwrap(), s);
            let d: Decimal = serde_json::from_str(s).unwrap();
            assert_eq!(serde_json::to_string(&d).unwrap(), s);
        }
        assert_eq!("59.95".parse::<Score>().unwrap().to_string(), "59.95");
        assert_eq!(
            serde_json::to_string(&Some(Score::new(Decimal::new(7735, 2)))).unwrap(),
            "\"77.35\""
        );
    }
}
