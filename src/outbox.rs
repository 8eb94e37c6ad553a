//! The webhook delivery worker: it claims due deliveries from the outbox, sends each with
//! its signature, records the attempt and schedules the next one with a doubling backoff.
//! Delivery is at least once: a receiver de-duplicates on the `webhook-id` header.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::DatabaseConnection;

use crate::clock::Clock;
use crate::config::WebhookSettings;
use crate::domain::webhook::{retry_delay, sign};
use crate::store::webhooks::{self as store, Attempt, Claimed};

/// How many deliveries one pass claims.
const BATCH: u64 = 32;
/// The longest error text kept with an attempt.
const MAX_ERROR_LEN: usize = 500;

/// Start the worker on the current runtime.
pub fn spawn(db: DatabaseConnection, settings: WebhookSettings, clock: Arc<dyn Clock>) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_millis(settings.request_timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
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
        let attempt = send(client, &c, clock).await;
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
async fn send(client: &reqwest::Client, c: &Claimed, clock: &dyn Clock) -> Attempt {
    let at = clock.now();
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
            let mut text = if e.is_timeout() {
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
