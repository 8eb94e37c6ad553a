//! Webhook subscriptions of other systems: subscribing (every address checked), listing,
//! ending, and their deliveries. The delivery itself is the worker's (`crate::outbox`).

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde_json::json;
use uuid::Uuid;

use super::events;
use crate::auth::AuthUser;
use crate::domain::ErrorCode;
use crate::domain::event::{DomainEvent, EventKind, WebhookEvent};
use crate::domain::violation::Violations;
use crate::domain::webhook::{
    EventType, UrlRules, check_resolved, check_subscription, host_to_resolve, new_secret,
};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{self, Page, webhooks};

pub use crate::entity::webhook::Model as Subscription;
pub use crate::store::webhooks::{
    CANCELLED, DELIVERED, DeliveryRecord, FAILED, PENDING, event_types,
};

pub fn webhook_not_found() -> ApiError {
    ApiError::from(ErrorCode::WebhookNotFound)
}

/// A subscription, as asked.
pub struct NewSubscription {
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
}

/// Resolve a subscription's host name, when it has one, and check every address it resolves
/// to. A name that does not resolve (in time) passes: the worker checks it again at every
/// delivery.
async fn check_host_addresses(state: &AppState, url: &str) -> Violations {
    let Some((host, port)) = host_to_resolve(url) else {
        return Violations::new();
    };
    let wait = std::time::Duration::from_millis(state.settings.webhooks.request_timeout_ms);
    match tokio::time::timeout(wait, state.resolver.resolve(&host, port)).await {
        Ok(Ok(addrs)) => {
            let ips: Vec<_> = addrs.iter().map(std::net::SocketAddr::ip).collect();
            check_resolved(&host, &ips)
        }
        _ => Violations::new(),
    }
}

/// An administrator subscribes a system; every broken rule of the request is listed.
pub async fn subscribe(
    state: &AppState,
    caller: &AuthUser,
    parse: impl FnOnce() -> Result<NewSubscription, ApiError>,
) -> Result<Subscription, ApiError> {
    caller.require_admin()?;
    let input = parse()?;
    // Only spaces: a line break or a tab is refused, not trimmed.
    let url = input.url.trim_matches(' ').to_owned();
    let description = input
        .description
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty());
    let rules = UrlRules {
        allow_http: state.settings.webhooks.allow_http,
        allow_private_networks: state.settings.webhooks.allow_private_networks,
    };
    let mut violations =
        check_subscription(&url, &input.event_types, description.as_deref(), rules).into_vec();
    if !rules.allow_private_networks {
        violations.extend(check_host_addresses(state, &url).await.into_vec());
    }
    ApiError::check(violations)?;
    let types: Vec<EventType> = input
        .event_types
        .iter()
        .filter_map(|t| EventType::parse(t))
        .collect();
    let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    let now = state.now();
    let actor = caller.actor();
    let tx = store::begin_write(&state.db).await?;
    let hook = webhooks::insert(
        &tx,
        Subscription {
            id: Uuid::new_v4(),
            url: url.clone(),
            secret: new_secret(rand::random()),
            event_types: json!(names).to_string(),
            description: description.clone(),
            created_at: now,
            created_by: actor.user_id,
            deleted_at: None,
        },
    )
    .await?;
    events::record(
        &tx,
        &actor,
        now,
        DomainEvent {
            kind: EventKind::Webhook(WebhookEvent::Created),
            entity_type: "webhook",
            entity_id: hook.id,
            before: None,
            after: Some(json!({"url": url, "event_types": names, "description": description})),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(hook)
}

/// The live subscriptions, oldest first.
pub async fn list(
    db: &DatabaseConnection,
    caller: &AuthUser,
    page: Page,
) -> Result<(Vec<Subscription>, u64), ApiError> {
    caller.require_admin()?;
    Ok(webhooks::list(db, page).await?)
}

/// One live subscription.
pub async fn read(
    db: &DatabaseConnection,
    caller: &AuthUser,
    id: Uuid,
) -> Result<Subscription, ApiError> {
    caller.require_admin()?;
    webhooks::get(db, id).await?.ok_or_else(webhook_not_found)
}

/// Unsubscribe: nothing more is sent, pending deliveries are cancelled, the history stays.
pub async fn unsubscribe(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<(), ApiError> {
    caller.require_admin()?;
    let tx = store::begin_write(db).await?;
    let current = webhooks::get(&tx, id)
        .await?
        .ok_or_else(webhook_not_found)?;
    let cancelled = webhooks::mark_deleted(&tx, id, now).await?;
    events::record(
        &tx,
        &caller.actor(),
        now,
        DomainEvent {
            kind: EventKind::Webhook(WebhookEvent::Deleted),
            entity_type: "webhook",
            entity_id: id,
            before: Some(json!({"url": current.url, "event_types": event_types(&current)})),
            after: Some(json!({"cancelled_deliveries": cancelled})),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What was sent to a subscription (ended ones too), newest first, with every attempt.
pub async fn deliveries(
    db: &DatabaseConnection,
    caller: &AuthUser,
    id: Uuid,
    status: Option<&str>,
    page: Page,
) -> Result<(Vec<DeliveryRecord>, u64), ApiError> {
    caller.require_admin()?;
    if !webhooks::ever_existed(db, id).await? {
        return Err(webhook_not_found());
    }
    Ok(webhooks::deliveries(db, id, status, page).await?)
}
