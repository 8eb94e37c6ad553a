//! Webhooks: which events other systems may subscribe to, how a subscription is checked,
//! how a delivery is signed and when a failed one is tried again.
//!
//! Signatures follow the Standard Webhooks scheme, so that its published verifiers work:
//! the headers `webhook-id` (the event id, the same on every retry: de-duplicate on it),
//! `webhook-timestamp` (Unix seconds of this attempt) and
//! `webhook-signature: v1,<base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, where the
//! key is the base64 part of the subscription's secret `whsec_<base64>`.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use utoipa::ToSchema;

use super::violation::Violations;

/// What happened, as other systems see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    /// An application was submitted and got its protocol number.
    #[serde(rename = "application.submitted")]
    ApplicationSubmitted,
    /// An ATS decided on an application's admissibility (admitted, not admitted, or an
    /// integration request).
    #[serde(rename = "application.admissibility_decided")]
    AdmissibilityDecided,
    /// A new version of an agency's ranking: a draft computed, or a scorrimento.
    #[serde(rename = "ranking.changed")]
    RankingChanged,
    /// An agency's ranking was approved (frozen, with its act).
    #[serde(rename = "ranking.approved")]
    RankingApproved,
    #[serde(rename = "grant.offered")]
    GrantOffered,
    #[serde(rename = "grant.accepted")]
    GrantAccepted,
    #[serde(rename = "grant.declined")]
    GrantDeclined,
    #[serde(rename = "grant.revoked")]
    GrantRevoked,
    /// An offer lapsed: its acceptance deadline passed without an answer.
    #[serde(rename = "grant.expired")]
    GrantExpired,
    /// A call's envelopes were set, split or reallocated.
    #[serde(rename = "envelope.changed")]
    EnvelopeChanged,
}

impl EventType {
    pub const ALL: [EventType; 10] = [
        EventType::ApplicationSubmitted,
        EventType::AdmissibilityDecided,
        EventType::RankingChanged,
        EventType::RankingApproved,
        EventType::GrantOffered,
        EventType::GrantAccepted,
        EventType::GrantDeclined,
        EventType::GrantRevoked,
        EventType::GrantExpired,
        EventType::EnvelopeChanged,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EventType::ApplicationSubmitted => "application.submitted",
            EventType::AdmissibilityDecided => "application.admissibility_decided",
            EventType::RankingChanged => "ranking.changed",
            EventType::RankingApproved => "ranking.approved",
            EventType::GrantOffered => "grant.offered",
            EventType::GrantAccepted => "grant.accepted",
            EventType::GrantDeclined => "grant.declined",
            EventType::GrantRevoked => "grant.revoked",
            EventType::GrantExpired => "grant.expired",
            EventType::EnvelopeChanged => "envelope.changed",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// The event an audited change publishes, if any (`after` is the audit's new state).
    pub fn for_audit_action(action: &str, after: Option<&Value>) -> Option<EventType> {
        Some(match action {
            "application.submitted" => EventType::ApplicationSubmitted,
            "application.admissibility" => EventType::AdmissibilityDecided,
            "ranking.computed" | "ranking.scorrimento" => EventType::RankingChanged,
            "ranking.approved" => EventType::RankingApproved,
            "grant.accepted" => EventType::GrantAccepted,
            "grant.declined" => EventType::GrantDeclined,
            "grant.revoked" => EventType::GrantRevoked,
            "grant.expired" => EventType::GrantExpired,
            "call.envelopes_set" | "call.reallocated" => EventType::EnvelopeChanged,
            // A draft call whose total changed gets new envelopes with it.
            "call.changed" | "call.amended"
                if after.is_some_and(|a| a.get("envelopes").is_some()) =>
            {
                EventType::EnvelopeChanged
            }
            _ => return None,
        })
    }
}

/// The longest accepted subscription URL.
pub const MAX_URL_LEN: usize = 2000;

/// Check a new subscription: an absolute `https` URL (`http` only where the settings allow
/// it) without credentials, at least one event type, each named once, and a description of
/// at most 200 characters.
pub fn check_subscription(
    url: &str,
    event_types: &[String],
    description: Option<&str>,
    allow_http: bool,
) -> Violations {
    let mut v = Violations::new();
    if let Some(problem) = description.and_then(|d| super::call::check_text("description", d, 200))
    {
        v.push(problem);
    }
    match url::Url::parse(url) {
        Ok(u) => {
            let scheme_ok = u.scheme() == "https" || (allow_http && u.scheme() == "http");
            if !scheme_ok {
                v.add(
                    "url",
                    "insecure_url",
                    if allow_http {
                        "The URL must use https or http."
                    } else {
                        "The URL must use https."
                    },
                    if allow_http {
                        "L'URL deve usare https o http."
                    } else {
                        "L'URL deve usare https."
                    },
                );
            }
            if u.host_str().is_none_or(str::is_empty) {
                v.add(
                    "url",
                    "missing_host",
                    "The URL must name a host.",
                    "L'URL deve indicare un host.",
                );
            }
            if !u.username().is_empty() || u.password().is_some() {
                v.add(
                    "url",
                    "credentials_in_url",
                    "The URL must not carry credentials: the signature authenticates the service.",
                    "L'URL non deve contenere credenziali: la firma autentica il servizio.",
                );
            }
            if u.fragment().is_some() {
                v.add(
                    "url",
                    "fragment_in_url",
                    "The URL must not have a fragment.",
                    "L'URL non deve avere un frammento.",
                );
            }
        }
        Err(_) => v.add(
            "url",
            "invalid_url",
            "Not an absolute URL.",
            "Non è un URL assoluto.",
        ),
    }
    if url.len() > MAX_URL_LEN {
        v.add(
            "url",
            "too_long",
            format!("At most {MAX_URL_LEN} characters."),
            format!("Al massimo {MAX_URL_LEN} caratteri."),
        );
    }
    if event_types.is_empty() {
        v.add(
            "event_types",
            "required",
            "Subscribe to at least one event type.",
            "Sottoscrivere almeno un tipo di evento.",
        );
    }
    for (i, t) in event_types.iter().enumerate() {
        if EventType::parse(t).is_none() {
            v.add(
                format!("event_types[{i}]"),
                "unknown_event_type",
                format!(
                    "Unknown event type {t:?}; known: {}.",
                    EventType::ALL.map(|e| e.as_str()).join(", ")
                ),
                format!(
                    "Tipo di evento sconosciuto {t:?}; noti: {}.",
                    EventType::ALL.map(|e| e.as_str()).join(", ")
                ),
            );
        } else if event_types[..i].contains(t) {
            v.add(
                format!("event_types[{i}]"),
                "duplicate",
                "Each event type once.",
                "Ogni tipo di evento una sola volta.",
            );
        }
    }
    v
}

/// A new signing secret, `whsec_` and 32 random bytes in base64.
pub fn new_secret(random: [u8; 32]) -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(random)
    )
}

/// The `webhook-signature` header value of one attempt.
pub fn sign(secret: &str, event_id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(event_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// How long to wait after the `attempts`-th failed attempt: doubling from `base`, at most
/// `max`.
pub fn retry_delay(
    attempts: u32,
    base: std::time::Duration,
    max: std::time::Duration,
) -> std::time::Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(30));
    base.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_event_type_round_trips_through_its_name() {
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.as_str()), Some(e));
            assert_eq!(
                serde_json::to_value(e).unwrap(),
                Value::String(e.as_str().into())
            );
        }
    }

    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn retries_back_off_doubling_up_to_the_maximum() {
        let base = Duration::from_secs(10);
        let max = Duration::from_secs(3600);
        assert_eq!(retry_delay(1, base, max), Duration::from_secs(10));
        assert_eq!(retry_delay(2, base, max), Duration::from_secs(20));
        assert_eq!(retry_delay(4, base, max), Duration::from_secs(80));
        assert_eq!(retry_delay(20, base, max), max);
        assert_eq!(retry_delay(u32::MAX, base, max), max);
    }

    #[test]
    fn a_subscription_lists_every_broken_rule() {
        let v = check_subscription(
            "http://user:pw@example.test/hook#x",
            &[
                "grant.offered".into(),
                "nope".into(),
                "grant.offered".into(),
            ],
            None,
            false,
        )
        .into_vec();
        let codes: Vec<_> = v
            .iter()
            .map(|v| (v.field.as_str(), v.code.as_ref()))
            .collect();
        assert_eq!(
            codes,
            [
                ("url", "insecure_url"),
                ("url", "credentials_in_url"),
                ("url", "fragment_in_url"),
                ("event_types[1]", "unknown_event_type"),
                ("event_types[2]", "duplicate"),
            ]
        );
        assert!(
            check_subscription(
                "https://hooks.example.test/x",
                &["grant.offered".into()],
                None,
                false
            )
            .is_empty()
        );
        assert!(
            check_subscription(
                "http://127.0.0.1:9/x",
                &["grant.offered".into()],
                None,
                true
            )
            .is_empty()
        );
        assert_eq!(
            check_subscription("not a url", &[], None, true)
                .into_vec()
                .len(),
            2
        );
    }
}
