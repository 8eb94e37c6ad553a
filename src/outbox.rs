//! The webhook delivery worker: it claims due deliveries from the outbox, sends each with
//! its signature, records the attempt and schedules the next one with a doubling backoff.
//! Delivery is at least once: a receiver de-duplicates on the `webhook-id` header.
//!
//! Unless `webhooks.allow_private_networks` is on, the worker calls public addresses only: an
//! IP-literal host is checked before sending, and a host name is resolved once, by
//! [`CheckedResolver`], which hands the HTTP client only the addresses that passed, so that
//! the connection goes to a checked address and a second DNS answer cannot change it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::DatabaseConnection;

use crate::clock::Clock;
use crate::config::WebhookSettings;
use crate::domain::webhook::{literal_refusal, non_public, resolved_refusal, retry_delay, sign};
use crate::resolver::Resolver;
use crate::store::webhooks::{self as store, Attempt, Claimed};

/// How many deliveries one pass claims.
const BATCH: u64 = 32;
/// The longest error text kept with an attempt.
const MAX_ERROR_LEN: usize = 500;

/// Start the worker on the current runtime.
pub fn spawn(
    db: DatabaseConnection,
    settings: WebhookSettings,
    clock: Arc<dyn Clock>,
    resolver: Arc<dyn Resolver>,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_millis(settings.request_timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
        // A proxy from the environment would make the connection, to addresses unchecked.
        .no_proxy()
        .dns_resolver(Arc::new(CheckedResolver {
            resolver,
            allow_private_networks: settings.allow_private_networks,
        }))
        .user_agent(concat!(
            "welfare-grants-webhooks/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client: webhooks are not delivered");
            return;
        }
    };
    tokio::spawn(async move {
        let every = Duration::from_millis(settings.poll_interval_ms);
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // Drain what is due, then wait for the next tick.
            loop {
                match pass(&db, &client, &settings, clock.as_ref()).await {
                    Ok(n) if n as u64 == BATCH => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook delivery pass failed");
                        break;
                    }
                }
            }
        }
    });
}

/// One pass: claim, send concurrently, record. Returns how many were claimed.
async fn pass(
    db: &DatabaseConnection,
    client: &reqwest::Client,
    settings: &WebhookSettings,
    clock: &dyn Clock,
) -> Result<usize, sea_orm::DbErr> {
    // The lease outlives the attempt's timeout, so that nobody else sends it meanwhile.
    let lease = Duration::from_millis(settings.request_timeout_ms) * 2 + Duration::from_secs(5);
    let claimed = store::claim_due(db, clock.now(), lease, BATCH).await?;
    let n = claimed.len();
    let sends = claimed.into_iter().map(|c| async move {
        let attempt = send(client, &c, clock, settings.allow_private_networks).await;
        let retry_at = (!attempt.succeeded()
            && u32::try_from(c.attempts + 1).unwrap_or(u32::MAX) < settings.max_attempts)
            .then(|| {
                let wait = retry_delay(
                    u32::try_from(c.attempts + 1).unwrap_or(u32::MAX),
                    Duration::from_millis(settings.retry_base_ms),
                    Duration::from_millis(settings.retry_max_ms),
                );
                attempt.at + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1))
            });
        match &attempt {
            a if a.succeeded() => {
                tracing::info!(delivery = %c.delivery_id, event = %c.event_id, status = a.status_code, "webhook delivered")
            }
            a => tracing::warn!(delivery = %c.delivery_id, event = %c.event_id, status = a.status_code, error = a.error.as_deref(), retry = retry_at.is_some(), "webhook attempt failed"),
        }
        store::record_attempt(db, &c, &attempt, retry_at).await
    });
    for result in futures_util::future::join_all(sends).await {
        result?;
    }
    Ok(n)
}

/// Send one delivery, signed.
async fn send(
    client: &reqwest::Client,
    c: &Claimed,
    clock: &dyn Clock,
    allow_private_networks: bool,
) -> Attempt {
    let at = clock.now();
    // The client resolves names through `CheckedResolver`, but connects to IP literals
    // directly: check those here.
    if let Some(refused) = (!allow_private_networks)
        .then(|| literal_refusal(&c.url))
        .flatten()
    {
        return Attempt {
            at,
            duration: Duration::ZERO,
            status_code: None,
            error: Some(refused),
        };
    }
    // The timestamp is the real time of sending: receivers compare it with their own clock.
    let timestamp = Utc::now().timestamp();
    let id = c.event_id.to_string();
    let signature = sign(&c.secret, &id, timestamp, c.body.as_bytes());
    let started = Instant::now();
    let result = client
        .post(&c.url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(c.body.clone())
        .send()
        .await;
    let duration = started.elapsed();
    match result {
        Ok(res) => {
            let status = res.status();
            let error = (!status.is_success()).then(|| format!("the receiver answered {status}"));
            Attempt {
                at,
                duration,
                status_code: Some(status.as_u16()),
                error,
            }
        }
        Err(e) => {
            let mut text = if let Some(refused) = refusal(&e) {
                refused
            } else if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                format!("cannot connect: {e}")
            } else {
                e.to_string()
            };
            if text.chars().count() > MAX_ERROR_LEN {
                text = text.chars().take(MAX_ERROR_LEN).collect();
            }
            Attempt {
                at,
                duration,
                status_code: None,
                error: Some(text),
            }
        }
    }
}

/// A host name that resolved to no address the worker may call; its text is the attempt's
/// error.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The refusal among the causes of a failed request, if that is why it failed.
fn refusal(e: &reqwest::Error) -> Option<String> {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<Refused>() {
            return Some(r.0.clone());
        }
        cause = c.source();
    }
    None
}

/// The delivery client's resolver: it resolves through the service's [`Resolver`] and
/// gives the client only the addresses it may connect to (all of them where private
/// networks are allowed); none is an error.
#[derive(Clone)]
struct CheckedResolver {
    resolver: Arc<dyn Resolver>,
    allow_private_networks: bool,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl CheckedResolver {
    async fn allowed(&self, host: &str) -> Result<Vec<SocketAddr>, BoxError> {
        // Port 0: the client puts the URL's port on the addresses.
        let addrs = self.resolver.resolve(host, 0).await?;
        if self.allow_private_networks {
            return Ok(addrs);
        }
        let mut refused = None;
        let allowed: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| match non_public(a.ip()) {
                None => true,
                Some(kind) => {
                    refused.get_or_insert((a.ip(), kind));
                    false
                }
            })
            .collect();
        match refused {
            Some((ip, kind)) if allowed.is_empty() => {
                Err(Box::new(Refused(resolved_refusal(host, ip, kind))))
            }
            _ if allowed.is_empty() => Err(format!("{host} resolves to no address").into()),
            Some((ip, kind)) => {
                tracing::warn!(host, %ip, "webhook host also resolves to {}: skipped", kind.en());
                Ok(allowed)
            }
            None => Ok(allowed),
        }
    }
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        Box::pin(async move {
            let addrs = this.allowed(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolver::Resolving;

    /// Every name resolves to the same addresses.
    struct Fixed(Vec<&'static str>);

    impl Resolver for Fixed {
        fn resolve<'a>(&'a self, _host: &'a str, port: u16) -> Resolving<'a> {
            let addrs = self
                .0
                .iter()
                .map(|ip| SocketAddr::new(ip.parse().unwrap(), port))
                .collect();
            Box::pin(async move { Ok(addrs) })
        }
    }

    fn checked(addrs: Vec<&'static str>, allow_private_networks: bool) -> CheckedResolver {
        CheckedResolver {
            resolver: Arc::new(Fixed(addrs)),
            allow_private_networks,
        }
    }

    #[tokio::test]
    async fn the_client_is_given_only_the_public_addresses_of_a_name() {
        let r = checked(vec!["127.0.0.1", "93.184.216.34", "::ffff:10.0.0.1"], false);
        let got = r.allowed("hooks.example.test").await.unwrap();
        assert_eq!(got, [SocketAddr::new("93.184.216.34".parse().unwrap(), 0)]);

        let r = checked(vec!["169.254.169.254", "::1"], false);
        let e = r.allowed("hooks.example.test").await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "refused: hooks.example.test resolves to 169.254.169.254, a link-local address"
        );
        assert!(e.downcast_ref::<Refused>().is_some());

        let r = checked(vec![], false);
        assert!(r.allowed("hooks.example.test").await.is_err());

        let r = checked(vec!["127.0.0.1"], true);
        assert_eq!(r.allowed("hooks.example.test").await.unwrap().len(), 1);
    }
}
