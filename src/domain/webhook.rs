//! Webhooks: which events other systems may subscribe to, how a subscription is checked,
//! how a delivery is signed and when a failed one is tried again.
//!
//! Signatures follow the Standard Webhooks scheme, so that its published verifiers work:
//! the headers `webhook-id` (the event id, the same on every retry: de-duplicate on it),
//! `webhook-timestamp` (Unix seconds of this attempt) and
//! `webhook-signature: v1,<base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, where the
//! key is the base64 part of the subscription's secret `whsec_<base64>`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine;
use hmac::{Hmac, Mac};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

use super::error_code::ErrorCode;
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
    /// An accepted grant was given up by its lead.
    #[serde(rename = "grant.renounced")]
    GrantRenounced,
    /// An offer lapsed: its acceptance deadline passed without an answer.
    #[serde(rename = "grant.expired")]
    GrantExpired,
    /// The lead communicated the project's start: the first tranches are due.
    #[serde(rename = "grant.started")]
    GrantStarted,
    /// The ATS authorized a payment with its liquidation act.
    #[serde(rename = "payment.authorized")]
    PaymentAuthorized,
    /// The Region recorded a payment as paid, with its payment order.
    #[serde(rename = "payment.paid")]
    PaymentPaid,
    /// The Region recorded that a payment order failed; it can be authorized again.
    #[serde(rename = "payment.failed")]
    PaymentFailed,
    /// A payment not yet paid was cancelled.
    #[serde(rename = "payment.cancelled")]
    PaymentCancelled,
    /// A grant paid more than it now allows: a recovery order was issued.
    #[serde(rename = "recovery.issued")]
    RecoveryIssued,
    /// A recovery order was paid back.
    #[serde(rename = "recovery.settled")]
    RecoverySettled,
    /// A recovery order was cancelled.
    #[serde(rename = "recovery.cancelled")]
    RecoveryCancelled,
    /// The lead submitted a project's final report.
    #[serde(rename = "final_report.submitted")]
    FinalReportSubmitted,
    /// The ATS asked for an integration of a final report.
    #[serde(rename = "final_report.integration_requested")]
    FinalReportIntegrationRequested,
    /// The lead answered a request for integration of a final report.
    #[serde(rename = "final_report.integration_answered")]
    FinalReportIntegrationAnswered,
    /// The ATS verified a final report: the final grant is known.
    #[serde(rename = "final_report.verified")]
    FinalReportVerified,
    /// A project is over: its final grant paid, every recovery order settled.
    #[serde(rename = "grant.closed")]
    GrantClosed,
    /// A live project missed a deadline (its start not communicated, its final report not
    /// submitted, in time): the grant is flagged overdue. Nothing is revoked by it.
    #[serde(rename = "grant.deadline_missed")]
    GrantDeadlineMissed,
    /// A project's lead asked for a variation (a budget shift, a partner change, an extension).
    #[serde(rename = "variation.requested")]
    VariationRequested,
    /// A variation was approved (by the ATS, or at once within the tolerance) or rejected.
    #[serde(rename = "variation.decided")]
    VariationDecided,
    /// A call's envelopes were set, split or reallocated.
    #[serde(rename = "envelope.changed")]
    EnvelopeChanged,
    /// A partnership invited an organization that none of the lead's users represents.
    #[serde(rename = "partnership.member_invited")]
    MemberInvited,
    /// An invited organization accepted: it is a member.
    #[serde(rename = "partnership.invitation_accepted")]
    InvitationAccepted,
    /// An invited organization declined.
    #[serde(rename = "partnership.invitation_declined")]
    InvitationDeclined,
    /// The lead removed a member or an invited organization.
    #[serde(rename = "partnership.member_removed")]
    MemberRemoved,
}

impl EventType {
    pub const ALL: [EventType; 31] = [
        EventType::ApplicationSubmitted,
        EventType::AdmissibilityDecided,
        EventType::RankingChanged,
        EventType::RankingApproved,
        EventType::GrantOffered,
        EventType::GrantAccepted,
        EventType::GrantDeclined,
        EventType::GrantRevoked,
        EventType::GrantRenounced,
        EventType::GrantExpired,
        EventType::GrantStarted,
        EventType::GrantClosed,
        EventType::GrantDeadlineMissed,
        EventType::PaymentAuthorized,
        EventType::PaymentPaid,
        EventType::PaymentFailed,
        EventType::PaymentCancelled,
        EventType::RecoveryIssued,
        EventType::RecoverySettled,
        EventType::RecoveryCancelled,
        EventType::FinalReportSubmitted,
        EventType::FinalReportIntegrationRequested,
        EventType::FinalReportIntegrationAnswered,
        EventType::FinalReportVerified,
        EventType::VariationRequested,
        EventType::VariationDecided,
        EventType::EnvelopeChanged,
        EventType::MemberInvited,
        EventType::InvitationAccepted,
        EventType::InvitationDeclined,
        EventType::MemberRemoved,
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
            EventType::GrantRenounced => "grant.renounced",
            EventType::GrantExpired => "grant.expired",
            EventType::GrantStarted => "grant.started",
            EventType::GrantClosed => "grant.closed",
            EventType::GrantDeadlineMissed => "grant.deadline_missed",
            EventType::PaymentAuthorized => "payment.authorized",
            EventType::PaymentPaid => "payment.paid",
            EventType::PaymentFailed => "payment.failed",
            EventType::PaymentCancelled => "payment.cancelled",
            EventType::RecoveryIssued => "recovery.issued",
            EventType::RecoverySettled => "recovery.settled",
            EventType::RecoveryCancelled => "recovery.cancelled",
            EventType::FinalReportSubmitted => "final_report.submitted",
            EventType::FinalReportIntegrationRequested => "final_report.integration_requested",
            EventType::FinalReportIntegrationAnswered => "final_report.integration_answered",
            EventType::FinalReportVerified => "final_report.verified",
            EventType::VariationRequested => "variation.requested",
            EventType::VariationDecided => "variation.decided",
            EventType::EnvelopeChanged => "envelope.changed",
            EventType::MemberInvited => "partnership.member_invited",
            EventType::InvitationAccepted => "partnership.invitation_accepted",
            EventType::InvitationDeclined => "partnership.invitation_declined",
            EventType::MemberRemoved => "partnership.member_removed",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// The longest accepted subscription URL.
pub const MAX_URL_LEN: usize = 2000;

/// What the settings allow a subscription URL to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlRules {
    /// `http://` besides `https://` (local receivers, tests).
    pub allow_http: bool,
    /// Hosts on loopback, private, link-local and other non-public addresses (local
    /// receivers, tests). Otherwise the service never calls them: a subscription must not
    /// become a way to reach the service's own network.
    pub allow_private_networks: bool,
}

/// Check a new subscription: an absolute `https` URL (`http` only where the settings allow
/// it) without credentials or control characters, whose host is no IP literal of a
/// non-public address (unless the settings allow it), at least one event type, each named
/// once, and a description of at most 200 characters.
///
/// A host name is checked by [`check_resolved`] once it is resolved.
pub fn check_subscription(
    url: &str,
    event_types: &[String],
    description: Option<&str>,
    rules: UrlRules,
) -> Violations {
    let allow_http = rules.allow_http;
    let mut v = Violations::new();
    if let Some(problem) = description.and_then(|d| super::call::check_text("description", d, 200))
    {
        v.push(problem);
    }
    // The URL parser would silently drop line breaks and tabs: what is stored would not be
    // what is called.
    if url.chars().any(char::is_control) {
        v.add("url", ErrorCode::ControlCharacter);
    }
    match url::Url::parse(url) {
        Ok(u) => {
            if !rules.allow_private_networks
                && let Some((host, kind)) = literal_non_public_host(&u)
            {
                v.push(private_address_violation(
                    format!("The URL's host {host} is {}", kind.en()),
                    format!("L'host dell'URL {host} è {}", kind.it()),
                ));
            }
            let scheme_ok = u.scheme() == "https" || (allow_http && u.scheme() == "http");
            if !scheme_ok {
                v.add(
                    "url",
                    ErrorCode::InsecureUrl.worded(
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
                    ),
                );
            }
            if u.host_str().is_none_or(str::is_empty) {
                v.add("url", ErrorCode::MissingHost);
            }
            if !u.username().is_empty() || u.password().is_some() {
                v.add("url", ErrorCode::CredentialsInUrl);
            }
            if u.fragment().is_some() {
                v.add("url", ErrorCode::FragmentInUrl);
            }
        }
        Err(_) => v.add("url", ErrorCode::InvalidUrl),
    }
    if url.len() > MAX_URL_LEN {
        v.add("url", ErrorCode::TooLong.with(&[("max", &MAX_URL_LEN)]));
    }
    if event_types.is_empty() {
        v.add("event_types", ErrorCode::Required);
    }
    for (i, t) in event_types.iter().enumerate() {
        if EventType::parse(t).is_none() {
            v.add(
                format!("event_types[{i}]"),
                ErrorCode::UnknownEventType.with(&[
                    ("event_type", &format!("{t:?}")),
                    ("list", &EventType::ALL.map(|e| e.as_str()).join(", ")),
                ]),
            );
        } else if event_types[..i].contains(t) {
            v.add(format!("event_types[{i}]"), ErrorCode::Duplicate);
        }
    }
    v
}

/// Why an address is no place to send a webhook to: it is not reachable on the public
/// internet, so calling it could only reach the service's own host or network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonPublic {
    Unspecified,
    Loopback,
    /// 10/8, 172.16/12, 192.168/16; site-local and local-use NAT64 in IPv6.
    Private,
    /// 100.64/10, carrier-grade NAT.
    SharedNat,
    LinkLocal,
    /// fc00::/7.
    UniqueLocal,
    Multicast,
    Broadcast,
    Documentation,
    /// Everything else that the IANA special-purpose registries keep out of the public
    /// internet: "this network", benchmarking, future use, IPv6 outside global unicast...
    Reserved,
}

impl NonPublic {
    /// "a loopback address", to follow "is" or a resolved address.
    pub fn en(self) -> &'static str {
        match self {
            NonPublic::Unspecified => "an unspecified address",
            NonPublic::Loopback => "a loopback address",
            NonPublic::Private => "a private address",
            NonPublic::SharedNat => "a carrier-grade NAT address",
            NonPublic::LinkLocal => "a link-local address",
            NonPublic::UniqueLocal => "a unique-local address",
            NonPublic::Multicast => "a multicast address",
            NonPublic::Broadcast => "a broadcast address",
            NonPublic::Documentation => "a documentation address",
            NonPublic::Reserved => "a reserved address",
        }
    }

    /// "un indirizzo di loopback".
    pub fn it(self) -> &'static str {
        match self {
            NonPublic::Unspecified => "un indirizzo non specificato",
            NonPublic::Loopback => "un indirizzo di loopback",
            NonPublic::Private => "un indirizzo privato",
            NonPublic::SharedNat => "un indirizzo di carrier-grade NAT",
            NonPublic::LinkLocal => "un indirizzo link-local",
            NonPublic::UniqueLocal => "un indirizzo unique-local",
            NonPublic::Multicast => "un indirizzo multicast",
            NonPublic::Broadcast => "un indirizzo di broadcast",
            NonPublic::Documentation => "un indirizzo di documentazione",
            NonPublic::Reserved => "un indirizzo riservato",
        }
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(segments: [u16; 8], len: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len)
}

/// The IPv4 special-purpose ranges (IANA registry, RFC 6890 and successors); the first
/// match names the kind.
const V4_RANGES: [(Ipv4Net, NonPublic); 17] = [
    (v4(0, 0, 0, 0, 32), NonPublic::Unspecified),
    (v4(0, 0, 0, 0, 8), NonPublic::Reserved), // "this network"
    (v4(10, 0, 0, 0, 8), NonPublic::Private),
    (v4(100, 64, 0, 0, 10), NonPublic::SharedNat),
    (v4(127, 0, 0, 0, 8), NonPublic::Loopback),
    (v4(169, 254, 0, 0, 16), NonPublic::LinkLocal),
    (v4(172, 16, 0, 0, 12), NonPublic::Private),
    (v4(192, 0, 0, 0, 24), NonPublic::Reserved), // IETF protocol assignments
    (v4(192, 0, 2, 0, 24), NonPublic::Documentation),
    (v4(192, 88, 99, 0, 24), NonPublic::Reserved), // 6to4 relay anycast, deprecated
    (v4(192, 168, 0, 0, 16), NonPublic::Private),
    (v4(198, 18, 0, 0, 15), NonPublic::Reserved), // benchmarking
    (v4(198, 51, 100, 0, 24), NonPublic::Documentation),
    (v4(203, 0, 113, 0, 24), NonPublic::Documentation),
    (v4(224, 0, 0, 0, 4), NonPublic::Multicast),
    (v4(255, 255, 255, 255, 32), NonPublic::Broadcast),
    (v4(240, 0, 0, 0, 4), NonPublic::Reserved), // future use
];

/// The IPv6 special-purpose ranges inside global unicast (2000::/3), and the few outside it
/// that deserve their own name; anything else outside 2000::/3 is reserved.
const V6_RANGES: [(Ipv6Net, NonPublic); 9] = [
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), NonPublic::Unspecified),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), NonPublic::Loopback),
    (v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), NonPublic::Private), // local-use NAT64
    (v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), NonPublic::Reserved), // IETF protocol assignments, Teredo
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        NonPublic::Documentation,
    ),
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        NonPublic::Documentation,
    ),
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), NonPublic::UniqueLocal),
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), NonPublic::LinkLocal),
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), NonPublic::Private), // site-local, deprecated
];

/// Whether an address is not public, and why. IPv6 forms that carry an IPv4 address
/// (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`,
/// 6to4 `2002:aabb:ccdd::`) are judged by the IPv4 address they reach.
pub fn non_public(ip: IpAddr) -> Option<NonPublic> {
    match ip {
        IpAddr::V4(ip) => V4_RANGES
            .iter()
            .find(|(net, _)| net.contains(&ip))
            .map(|&(_, kind)| kind),
        IpAddr::V6(ip) => non_public_v6(ip),
    }
}

fn non_public_v6(ip: Ipv6Addr) -> Option<NonPublic> {
    let s = ip.segments();
    let bits = u128::from(ip);
    let low_v4 = Ipv4Addr::from(bits as u32);
    if ip.is_unspecified() {
        return Some(NonPublic::Unspecified);
    }
    if ip.is_loopback() {
        return Some(NonPublic::Loopback);
    }
    // IPv4-mapped: the socket connects to the IPv4 address.
    if let Some(mapped) = ip.to_ipv4_mapped() {
        return non_public(mapped.into());
    }
    // IPv4-compatible (deprecated): never public, but name the IPv4 kind when it has one.
    if bits >> 32 == 0 {
        return Some(non_public(low_v4.into()).unwrap_or(NonPublic::Reserved));
    }
    // NAT64 with the well-known prefix: a translator connects to the IPv4 address.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return non_public(low_v4.into());
    }
    // 6to4: the IPv4 address of the tunnel's end is in bits 16 to 48.
    if s[0] == 0x2002 {
        let embedded = Ipv4Addr::from((bits >> 80) as u32);
        if let Some(kind) = non_public(embedded.into()) {
            return Some(kind);
        }
    }
    if let Some(&(_, kind)) = V6_RANGES.iter().find(|(net, _)| net.contains(&ip)) {
        return Some(kind);
    }
    if ip.is_multicast() {
        return Some(NonPublic::Multicast);
    }
    // Only global unicast is public.
    (s[0] & 0xe000 != 0x2000).then_some(NonPublic::Reserved)
}

/// `localhost` and the names under it resolve to loopback by definition (RFC 6761).
fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// The URL's host when it is an IP literal (in any spelling the URL standard accepts:
/// `2130706433` and `0x7f.0.0.1` are 127.0.0.1) or a `localhost` name, and not public.
fn literal_non_public_host(u: &url::Url) -> Option<(String, NonPublic)> {
    let kind = match u.host()? {
        url::Host::Ipv4(ip) => non_public(ip.into())?,
        url::Host::Ipv6(ip) => non_public(ip.into())?,
        url::Host::Domain(name) if is_localhost(name) => NonPublic::Loopback,
        url::Host::Domain(_) => return None,
    };
    Some((u.host_str().unwrap_or_default().to_owned(), kind))
}

fn private_address_violation(en: String, it: String) -> super::violation::Violation {
    super::violation::Violation::new(
        "url",
        ErrorCode::PrivateAddress.with(&[("reason_en", &en), ("reason_it", &it)]),
    )
}

/// The host name of a subscription URL and its port, when the host is a name to resolve
/// (not an IP literal).
pub fn host_to_resolve(url: &str) -> Option<(String, u16)> {
    let u = url::Url::parse(url).ok()?;
    match u.host()? {
        url::Host::Domain(name) if !is_localhost(name) => {
            Some((name.to_owned(), u.port_or_known_default()?))
        }
        _ => None,
    }
}

/// Check the addresses a subscription's host name resolves to: every one must be public.
pub fn check_resolved(host: &str, addrs: &[IpAddr]) -> Violations {
    let mut v = Violations::new();
    let mut seen = Vec::new();
    for &ip in addrs {
        if seen.contains(&ip) {
            continue;
        }
        seen.push(ip);
        if let Some(kind) = non_public(ip) {
            v.push(private_address_violation(
                format!("The host {host} resolves to {ip}, {}", kind.en()),
                format!("L'host {host} corrisponde a {ip}, {}", kind.it()),
            ));
        }
    }
    v
}

/// Why the delivery worker does not call the URL's host itself, when it is an IP literal
/// (or `localhost`) that is not public: the attempt's error text.
pub fn literal_refusal(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    literal_non_public_host(&u).map(|(host, kind)| format!("refused: {host} is {}", kind.en()))
}

/// Why the delivery worker does not connect to an address a host name resolved to: the
/// attempt's error text.
pub fn resolved_refusal(host: &str, ip: IpAddr, kind: NonPublic) -> String {
    format!("refused: {host} resolves to {ip}, {}", kind.en())
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
    use proptest::prelude::*;
    use std::time::Duration;

    const HTTPS_PUBLIC: UrlRules = UrlRules {
        allow_http: false,
        allow_private_networks: false,
    };
    const LOCAL: UrlRules = UrlRules {
        allow_http: true,
        allow_private_networks: true,
    };

    #[test]
    fn every_event_type_round_trips_through_its_name() {
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.as_str()), Some(e));
            assert_eq!(
                serde_json::to_value(e).unwrap(),
                serde_json::Value::String(e.as_str().into())
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
            HTTPS_PUBLIC,
        )
        .into_vec();
        let codes: Vec<_> = v
            .iter()
            .map(|v| (v.field.as_str(), v.code.as_str()))
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
                HTTPS_PUBLIC
            )
            .is_empty()
        );
        assert!(
            check_subscription(
                "http://127.0.0.1:9/x",
                &["grant.offered".into()],
                None,
                LOCAL
            )
            .is_empty()
        );
        assert_eq!(
            check_subscription("not a url", &[], None, LOCAL)
                .into_vec()
                .len(),
            2
        );
    }

    fn url_codes(url: &str, rules: UrlRules) -> Vec<(String, String)> {
        check_subscription(url, &["grant.offered".into()], None, rules)
            .into_vec()
            .into_iter()
            .map(|v| (v.field, v.code.as_str().to_owned()))
            .collect()
    }

    #[test]
    fn every_spelling_of_a_non_public_address_is_refused() {
        use NonPublic::*;
        for (url, kind) in [
            ("https://127.0.0.1/", Loopback),
            ("https://127.1/", Loopback),
            ("https://2130706433/", Loopback),
            ("https://0x7f.0.0.1/", Loopback),
            ("https://0x7f000001/", Loopback),
            ("https://0177.0.0.1/", Loopback),
            ("https://127.0.0.1.:8443/hook", Loopback),
            ("https://[::1]/", Loopback),
            ("https://[0:0:0:0:0:0:0:1]/", Loopback),
            ("https://[::ffff:127.0.0.1]/", Loopback),
            ("https://[::ffff:7f00:1]/", Loopback),
            ("https://[::127.0.0.1]/", Loopback),
            ("https://[64:ff9b::127.0.0.1]/", Loopback),
            ("https://[2002:7f00:1::]/", Loopback),
            ("https://localhost/", Loopback),
            ("https://LOCALHOST:8443/x", Loopback),
            ("https://hooks.localhost./", Loopback),
            ("https://169.254.169.254/latest/meta-data/", LinkLocal),
            ("https://[::ffff:169.254.169.254]/", LinkLocal),
            ("https://[fe80::1]/", LinkLocal),
            ("https://[febf::1]/", LinkLocal),
            ("https://10.0.0.1/", Private),
            ("https://167772161/", Private),
            ("https://172.16.0.1/", Private),
            ("https://172.31.255.255/", Private),
            ("https://192.168.1.1/", Private),
            ("https://[::ffff:10.0.0.1]/", Private),
            ("https://[64:ff9b:1::a00:1]/", Private),
            ("https://[fec0::1]/", Private),
            ("https://100.64.0.1/", SharedNat),
            ("https://100.127.255.254/", SharedNat),
            ("https://[fc00::1]/", UniqueLocal),
            ("https://[fd12:3456::1]/", UniqueLocal),
            ("https://0.0.0.0/", Unspecified),
            ("https://0/", Unspecified),
            ("https://[::]/", Unspecified),
            ("https://224.0.0.1/", Multicast),
            ("https://[ff02::1]/", Multicast),
            ("https://255.255.255.255/", Broadcast),
            ("https://192.0.2.1/", Documentation),
            ("https://198.51.100.7/", Documentation),
            ("https://203.0.113.9/", Documentation),
            ("https://[2001:db8::1]/", Documentation),
            ("https://0.1.2.3/", Reserved),
            ("https://198.18.0.1/", Reserved),
            ("https://240.0.0.1/", Reserved),
            ("https://[::8.8.8.8]/", Reserved),
            ("https://[100::1]/", Reserved),
            ("https://[2001::1]/", Reserved),
        ] {
            let v =
                check_subscription(url, &["grant.offered".into()], None, HTTPS_PUBLIC).into_vec();
            assert_eq!(v.len(), 1, "{url}: {v:?}");
            assert_eq!(
                (v[0].field.as_str(), v[0].code.as_str()),
                ("url", "private_address")
            );
            assert!(v[0].message.en.contains(kind.en()), "{url}: {v:?}");
            assert!(v[0].message.it.contains(kind.it()), "{url}: {v:?}");
            // The same, again, when the worker is about to deliver.
            let refusal = literal_refusal(url).unwrap_or_else(|| panic!("{url}"));
            assert!(refusal.starts_with("refused: "), "{refusal}");
            assert!(refusal.ends_with(kind.en()), "{refusal}");
            // Where the settings allow private networks, it passes.
            let local = UrlRules {
                allow_http: false,
                allow_private_networks: true,
            };
            assert!(url_codes(url, local).is_empty(), "{url}");
        }
    }

    #[test]
    fn public_addresses_and_names_pass() {
        for url in [
            "https://93.184.216.34/",
            "https://8.8.8.8:8443/hook",
            "https://172.32.0.1/",
            "https://100.128.0.1/",
            "https://192.169.0.1/",
            "https://[2606:4700:4700::1111]/",
            "https://[::ffff:8.8.8.8]/",
            "https://[64:ff9b::808:808]/",
            "https://[2002:808:808::1]/",
            "https://hooks.example.test/x",
            "https://localhost.example.test/x",
        ] {
            assert!(url_codes(url, HTTPS_PUBLIC).is_empty(), "{url}");
            assert_eq!(literal_refusal(url), None, "{url}");
        }
    }

    #[test]
    fn a_url_with_a_control_character_is_refused() {
        for url in [
            "https://hooks.example.test/a\r\nX-Injected: 1",
            "https://hooks.example.test/\n",
            "https://hooks.exa\rmple.test/",
            "\thttps://hooks.example.test/",
            "https://hooks.example.test/\u{0}",
            "https://hooks.example.test/\u{7f}",
            "https://hooks.example.test/\u{85}",
        ] {
            assert!(
                url_codes(url, LOCAL).contains(&("url".into(), "control_character".into())),
                "{url:?}"
            );
        }
        assert!(url_codes("https://hooks.example.test/a%0D%0Ab", LOCAL).is_empty());
    }

    #[test]
    fn a_name_is_checked_by_every_address_it_resolves_to() {
        assert_eq!(
            host_to_resolve("https://Hooks.Example.test/x"),
            Some(("hooks.example.test".into(), 443))
        );
        assert_eq!(
            host_to_resolve("http://hooks.example.test:8080/x"),
            Some(("hooks.example.test".into(), 8080))
        );
        for literal in [
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://[::1]/",
            "https://localhost/",
            "nope",
        ] {
            assert_eq!(host_to_resolve(literal), None, "{literal}");
        }
        let public: IpAddr = "93.184.216.34".parse().unwrap();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert!(check_resolved("hooks.example.test", &[public]).is_empty());
        let v =
            check_resolved("hooks.example.test", &[public, loopback, loopback, mapped]).into_vec();
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(
            v.iter()
                .all(|v| v.field == "url" && v.code == "private_address")
        );
        assert_eq!(
            v[0].message.en,
            "The host hooks.example.test resolves to 127.0.0.1, a loopback address: \
             webhooks are sent to public addresses only."
        );
        assert!(v[1].message.it.contains("un indirizzo privato"), "{v:?}");
        assert_eq!(
            resolved_refusal("hooks.example.test", loopback, NonPublic::Loopback),
            "refused: hooks.example.test resolves to 127.0.0.1, a loopback address"
        );
    }

    fn v6_forms(ip: Ipv4Addr) -> [Ipv6Addr; 3] {
        let [a, b, c, d] = ip.octets();
        let hi = u16::from_be_bytes([a, b]);
        let lo = u16::from_be_bytes([c, d]);
        [
            ip.to_ipv6_mapped(),
            Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo),
            Ipv6Addr::new(0x2002, hi, lo, 0, 0, 0, 0, 1),
        ]
    }

    proptest! {
        #[test]
        fn what_std_knows_is_not_public_is_refused(bits: u32, bits6: u128) {
            let ip = Ipv4Addr::from(bits);
            if ip.is_private() || ip.is_loopback() || ip.is_link_local() || ip.is_broadcast()
                || ip.is_documentation() || ip.is_unspecified() || ip.is_multicast()
            {
                prop_assert!(non_public(ip.into()).is_some(), "{}", ip);
            }
            let ip6 = Ipv6Addr::from(bits6);
            if ip6.is_loopback() || ip6.is_unspecified() || ip6.is_multicast()
                || ip6.is_unique_local() || ip6.is_unicast_link_local()
            {
                prop_assert!(non_public(ip6.into()).is_some(), "{}", ip6);
            }
        }

        #[test]
        fn the_private_ranges_are_refused_whole(host: u32) {
            use NonPublic::*;
            for (net, len, kind) in [
                ([10, 0, 0, 0], 8, Private),
                ([172, 16, 0, 0], 12, Private),
                ([192, 168, 0, 0], 16, Private),
                ([127, 0, 0, 0], 8, Loopback),
                ([169, 254, 0, 0], 16, LinkLocal),
                ([100, 64, 0, 0], 10, SharedNat),
            ] {
                let ip = Ipv4Addr::from(u32::from(Ipv4Addr::from(net)) | (host >> len));
                prop_assert_eq!(non_public(ip.into()), Some(kind), "{}", ip);
                // And in every IPv6 form that reaches it.
                for form in v6_forms(ip) {
                    prop_assert_eq!(non_public(form.into()), Some(kind), "{}", form);
                }
            }
            let link_local = Ipv6Addr::from((0xfe80u128 << 112) | (u128::from(host) << 40 >> 10));
            prop_assert_eq!(non_public(link_local.into()), Some(LinkLocal), "{}", link_local);
            let unique_local = Ipv6Addr::from((0xfc00u128 << 112) | (u128::from(host) << 89));
            prop_assert_eq!(non_public(unique_local.into()), Some(UniqueLocal), "{}", unique_local);
        }

        #[test]
        fn an_ipv6_form_of_an_ipv4_address_is_judged_as_that_address(bits: u32) {
            let ip = Ipv4Addr::from(bits);
            let kind = non_public(ip.into());
            let [mapped, nat64, six_to_four] = v6_forms(ip);
            prop_assert_eq!(non_public(mapped.into()), kind);
            prop_assert_eq!(non_public(nat64.into()), kind);
            if kind.is_some() {
                prop_assert_eq!(non_public(six_to_four.into()), kind);
            }
            // IPv4-compatible addresses are deprecated: never public.
            let compatible = Ipv6Addr::from(u128::from(bits));
            prop_assert!(non_public(compatible.into()).is_some());
        }

        #[test]
        fn ipv6_outside_global_unicast_is_never_public(bits: u128) {
            let ip = Ipv6Addr::from(bits);
            let global_unicast = bits >> 125 == 0b001;
            let reaches_ipv4 = ip.to_ipv4_mapped().is_some() || bits >> 32 == 0x64_ff9b << 64;
            if !global_unicast && !reaches_ipv4 {
                prop_assert!(non_public(ip.into()).is_some(), "{}", ip);
            }
        }

        #[test]
        fn every_spelling_of_an_ipv4_host_is_judged_the_same(bits: u32) {
            let ip = Ipv4Addr::from(bits);
            let [a, b, c, d] = ip.octets();
            let refused = non_public(ip.into()).is_some();
            for host in [
                ip.to_string(),
                bits.to_string(),
                format!("{bits:#x}"),
                format!("{a:#x}.{b:#x}.{c:#x}.{d:#x}"),
                format!("0{a:o}.0{b:o}.0{c:o}.0{d:o}"),
                format!("{a}.{}", (u32::from(b) << 16) | (u32::from(c) << 8) | u32::from(d)),
                format!("[::ffff:{ip}]"),
            ] {
                let url = format!("https://{host}/hook");
                let codes = url_codes(&url, HTTPS_PUBLIC);
                prop_assert_eq!(
                    codes.contains(&("url".into(), "private_address".into())),
                    refused,
                    "{} {:?}", url, codes
                );
            }
        }
    }
}
