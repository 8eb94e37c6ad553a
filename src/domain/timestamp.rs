//! The one form of a timestamp in what the service answers: RFC 3339 in UTC with exactly six
//! fraction digits, `2026-11-28T10:15:00.123456Z`.
//!
//! chrono's own serialization writes as many fraction digits as the value has (none, 3, 6 or
//! 9), so the same field read back from PostgreSQL (microseconds) and from SQLite or the clock
//! (nanoseconds) came out in different shapes. Microseconds are what both databases keep, so
//! six digits lose nothing that is stored. Use it on a field with
//! `#[serde(with = "crate::domain::timestamp")]` (or `timestamp::option` for an
//! `Option<DateTime<Utc>>`); the OpenAPI schema stays `format: date-time`. Reading accepts
//! any RFC 3339 timestamp.
//!
//! What was stored before (submitted snapshots, amendments, audit records) is answered as it
//! was stored: rewriting it would change what was hashed or recorded.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// `YYYY-MM-DDThh:mm:ss.ffffffZ`: the fraction truncated to microseconds, as the databases
/// keep it.
pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(t))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    DateTime::<Utc>::deserialize(d)
}

/// The same for an optional timestamp (`null` when absent).
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<DateTime<Utc>>::deserialize(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[derive(serde::Serialize, serde::Deserialize)]
    struct View {
        #[serde(with = "super")]
        at: DateTime<Utc>,
        #[serde(with = "super::option")]
        maybe: Option<DateTime<Utc>>,
    }

    #[test]
    fn every_timestamp_has_six_fraction_digits_and_a_z() {
        let whole = Utc.with_ymd_and_hms(2026, 11, 28, 10, 15, 0).unwrap();
        let nanos = whole + chrono::TimeDelta::nanoseconds(123_456_789);
        let json = serde_json::to_value(View {
            at: whole,
            maybe: Some(nanos),
        })
        .unwrap();
        assert_eq!(json["at"], "2026-11-28T10:15:00.000000Z");
        assert_eq!(json["maybe"], "2026-11-28T10:15:00.123456Z");
        let none = serde_json::to_value(View {
            at: whole,
            maybe: None,
        })
        .unwrap();
        assert!(none["maybe"].is_null());
    }

    #[test]
    fn any_rfc_3339_timestamp_reads_back() {
        let v: View = serde_json::from_value(serde_json::json!({
            "at": "2026-11-28T11:15:00+01:00", "maybe": null
        }))
        .unwrap();
        assert_eq!(v.at, Utc.with_ymd_and_hms(2026, 11, 28, 10, 15, 0).unwrap());
        assert_eq!(v.maybe, None);
    }
}
