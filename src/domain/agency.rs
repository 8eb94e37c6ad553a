//! The eight health protection agencies (ATS) of Lombardy.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The code of an ATS.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgencyCode {
    Milano,
    Insubria,
    Brianza,
    Bergamo,
    Brescia,
    ValPadana,
    Pavia,
    Montagna,
}

impl AgencyCode {
    pub const ALL: [AgencyCode; 8] = [
        AgencyCode::Milano,
        AgencyCode::Insubria,
        AgencyCode::Brianza,
        AgencyCode::Bergamo,
        AgencyCode::Brescia,
        AgencyCode::ValPadana,
        AgencyCode::Pavia,
        AgencyCode::Montagna,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            AgencyCode::Milano => "MILANO",
            AgencyCode::Insubria => "INSUBRIA",
            AgencyCode::Brianza => "BRIANZA",
            AgencyCode::Bergamo => "BERGAMO",
            AgencyCode::Brescia => "BRESCIA",
            AgencyCode::ValPadana => "VAL_PADANA",
            AgencyCode::Pavia => "PAVIA",
            AgencyCode::Montagna => "MONTAGNA",
        }
    }

    pub fn parse(s: &str) -> Option<AgencyCode> {
        AgencyCode::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The agency's official name.
    pub fn name(&self) -> &'static str {
        match self {
            AgencyCode::Milano => "ATS della Città Metropolitana di Milano",
            AgencyCode::Insubria => "ATS dell'Insubria",
            AgencyCode::Brianza => "ATS della Brianza",
            AgencyCode::Bergamo => "ATS di Bergamo",
            AgencyCode::Brescia => "ATS di Brescia",
            AgencyCode::ValPadana => "ATS della Val Padana",
            AgencyCode::Pavia => "ATS di Pavia",
            AgencyCode::Montagna => "ATS della Montagna",
        }
    }

    /// Approximate residents (ISTAT, 1 January 2021, aggregated by ATS territory), used by
    /// the 30/70 split until the official annex replaces them.
    pub fn approximate_population(&self) -> u64 {
        match self {
            AgencyCode::Milano => 3_469_225,
            AgencyCode::Insubria => 1_463_000,
            AgencyCode::Brianza => 1_205_000,
            AgencyCode::Bergamo => 1_108_000,
            AgencyCode::Brescia => 1_155_000,
            AgencyCode::ValPadana => 758_000,
            AgencyCode::Pavia => 537_000,
            AgencyCode::Montagna => 292_241,
        }
    }
}

impl std::fmt::Display for AgencyCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for a in AgencyCode::ALL {
            assert_eq!(AgencyCode::parse(a.as_str()), Some(a));
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                serde_json::json!(a.as_str())
            );
        }
        assert_eq!(AgencyCode::parse("ROMA"), None);
    }
}
