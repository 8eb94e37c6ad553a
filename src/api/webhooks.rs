//! Webhook subscriptions of other systems (administrators), and what was delivered to them.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageParams;
use super::extract::Json;
use crate::auth::AuthUser;
use crate::domain::webhook::EventType;
use crate::error::{ApiError, Problem};
use crate::service::webhooks::{self as service, DeliveryRecord, Subscription};
use crate::state::AppState;

/// A new subscription. The service generates its signing secret and shows it once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://protocollo.regione.lombardia.example/hooks/welfare-grants",
    "event_types": ["application.submitted", "grant.accepted"], "description": "Protocollo regionale"}))]
pub struct WebhookInput {
    /// Where events are POSTed: `https://` (or `http://` where the settings allow it), to a
    /// public address: a host that is, or resolves to, a loopback, private, link-local,
    /// unique-local, carrier-grade NAT, multicast, documentation or reserved address is
    /// refused (`private_address`), unless the settings allow private networks. No control
    /// characters (`control_character`).
    #[schema(max_length = 2000)]
    pub url: String,
    /// Which events to receive; see `EventType`.
    pub event_types: Vec<String>,
    /// A note for administrators, up to 200 characters.
    #[schema(max_length = 200)]
    pub description: Option<String>,
}

/// A subscription.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b",
    "url": "https://protocollo.regione.lombardia.example/hooks/welfare-grants",
    "event_types": ["application.submitted", "grant.accepted"], "description": "Protocollo regionale",
    "created_at": "2026-11-28T09:00:00.000000Z", "secret": null}))]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    pub event_types: Vec<EventType>,
    pub description: Option<String>,
    #[serde(with = "crate::domain::timestamp")]
    pub created_at: DateTime<Utc>,
    /// The signing secret (`whsec_` and base64): only in the answer that created the
    /// subscription. Keep it; it is never shown again.
    pub secret: Option<String>,
}

fn view(m: Subscription, with_secret: bool) -> WebhookView {
    WebhookView {
        id: m.id,
        event_types: service::event_types(&m),
        url: m.url,
        description: m.description,
        created_at: m.created_at,
        secret: with_secret.then_some(m.secret),
    }
}

/// A page of subscriptions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"items": [], "total": 0, "page": 1, "per_page": 20}))]
pub struct WebhookList {
    pub items: Vec<WebhookView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not yet delivered; tried again at `next_attempt_at`.
    Pending,
    Delivered,
    /// Given up after the last allowed attempt.
    Failed,
    /// The subscription was deleted before it was delivered.
    Cancelled,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => service::PENDING,
            DeliveryStatus::Delivered => service::DELIVERED,
            DeliveryStatus::Failed => service::FAILED,
            DeliveryStatus::Cancelled => service::CANCELLED,
        }
    }

    fn parse(s: &str) -> DeliveryStatus {
        match s {
            service::DELIVERED => DeliveryStatus::Delivered,
            service::FAILED => DeliveryStatus::Failed,
            service::CANCELLED => DeliveryStatus::Cancelled,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// One attempt at a delivery.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"attempt": 1, "attempted_at": "2026-11-28T09:00:01.000000Z", "duration_ms": 48, "status_code": 503,
    "error": "the receiver answered 503 Service Unavailable"}))]
pub struct AttemptView {
    pub attempt: i32,
    #[serde(with = "crate::domain::timestamp")]
    pub attempted_at: DateTime<Utc>,
    pub duration_ms: i32,
    /// The receiver's HTTP status; none when it could not be reached.
    pub status_code: Option<i32>,
    pub error: Option<String>,
}

/// One event for one subscription, with every attempt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "7c6b5a49-3827-4615-9a4b-3c2d1e0f9a8b", "event_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "event_type": "application.submitted", "status": "delivered", "attempts": 2, "next_attempt_at": "2026-11-28T09:00:11.000000Z",
    "last_status_code": 204, "last_error": null, "delivered_at": "2026-11-28T09:00:11.000000Z", "created_at": "2026-11-28T09:00:00.000000Z",
    "attempt_log": [
        {"attempt": 1, "attempted_at": "2026-11-28T09:00:01.000000Z", "duration_ms": 48, "status_code": 503, "error": "the receiver answered 503 Service Unavailable"},
        {"attempt": 2, "attempted_at": "2026-11-28T09:00:11.000000Z", "duration_ms": 12, "status_code": 204, "error": null}]}))]
pub struct DeliveryView {
    pub id: Uuid,
    /// The event's id, sent as `webhook-id`: the same on every attempt.
    pub event_id: Uuid,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    #[serde(with = "crate::domain::timestamp")]
    pub next_attempt_at: DateTime<Utc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    #[serde(with = "crate::domain::timestamp::option")]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::domain::timestamp")]
    pub created_at: DateTime<Utc>,
    pub attempt_log: Vec<AttemptView>,
}

fn delivery_view(r: DeliveryRecord) -> DeliveryView {
    let d = r.delivery;
    DeliveryView {
        id: d.id,
        event_id: d.event_id,
        event_type: r.event_type,
        status: DeliveryStatus::parse(&d.status),
        attempts: d.attempts,
        next_attempt_at: d.next_attempt_at,
        last_status_code: d.last_status_code,
        last_error: d.last_error,
        delivered_at: d.delivered_at,
        created_at: d.created_at,
        attempt_log: r
            .attempts
            .into_iter()
            .map(|a| AttemptView {
                attempt: a.attempt,
                attempted_at: a.attempted_at,
                duration_ms: a.duration_ms,
                status_code: a.status_code,
                error: a.error,
            })
            .collect(),
    }
}

/// A page of deliveries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"items": [], "total": 0, "page": 1, "per_page": 20}))]
pub struct DeliveryList {
    pub items: Vec<DeliveryView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// Filters of the delivery list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    pub status: Option<DeliveryStatus>,
}

/// Subscribe a system to events.
///
/// Administrators only. Each event is POSTed as JSON with the headers `webhook-id` (the event id:
/// de-duplicate on it, delivery is at least once), `webhook-timestamp` (Unix seconds) and
/// `webhook-signature` (`v1,` + base64 of HMAC-SHA256 over
/// `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the base64-decoded part of the secret
/// after `whsec_`: the Standard Webhooks scheme). A 2xx answer is a delivery; anything else is
/// tried again with a doubling wait. The secret is shown once, in this answer.
#[utoipa::path(
    operation_id = "createWebhook",
    tag = "webhooks",
    request_body = WebhookInput,
    responses(
        (status = 201, description = "Subscribed; the answer carries the secret, shown only now", body = WebhookView, headers(("Location" = String, description = "The new subscription's path")),
            example = json!({"id": "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b", "url": "https://protocollo.regione.lombardia.example/hooks/welfare-grants",
                "event_types": ["application.submitted", "grant.accepted"], "description": "Protocollo regionale", "created_at": "2026-11-28T09:00:00.000000Z",
                "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo="})),
        (status = 400, description = "Malformed body or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Every broken rule: URL (scheme, credentials, a non-public address, control characters), event types, description", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:validation_failed", "title": "Validation failed", "status": 422, "code": "validation_failed",
                "detail": "The request breaks 3 rule(s); see violations.",
                "violations": [{"field": "url", "code": "private_address", "message": "The URL's host 169.254.169.254 is a link-local address: webhooks are sent to public addresses only."},
                               {"field": "url", "code": "insecure_url", "message": "The URL must use https."},
                               {"field": "event_types[0]", "code": "unknown_event_type", "message": "Unknown event type \"grant.created\"; known: application.submitted, ..."}]})),
    ),
    security(("bearer" = []))
)]
#[post("/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: Json<WebhookInput>,
) -> Result<HttpResponse, ApiError> {
    let hook = service::subscribe(&state, &caller, || {
        let input = body.parse()?;
        Ok(service::NewSubscription {
            url: input.url,
            event_types: input.event_types,
            description: input.description,
        })
    })
    .await?;
    Ok(HttpResponse::build(StatusCode::CREATED)
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/webhooks/{}", hook.id),
        ))
        .json(view(hook, true)))
}

/// List the webhook subscriptions.
///
/// Administrators only: the live subscriptions, oldest first, with their URL and event types;
/// secrets are not shown.
#[utoipa::path(
    operation_id = "listWebhooks",
    tag = "webhooks",
    params(PageParams),
    responses(
        (status = 200, description = "A page of subscriptions", body = WebhookList),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad paging", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let page = paging.page()?;
    let (rows, total) = service::list(&state.db, &caller, page).await?;
    Ok(HttpResponse::Ok().json(WebhookList {
        items: rows.into_iter().map(|m| view(m, false)).collect(),
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Read a webhook subscription.
///
/// Administrators only: one live subscription, with its URL and event types; its secret is not
/// shown.
#[utoipa::path(
    operation_id = "getWebhook",
    tag = "webhooks",
    params(("webhook_id" = Uuid, Path, description = "The subscription")),
    responses(
        (status = 200, description = "The subscription", body = WebhookView),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/webhooks/{webhook_id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let hook = service::read(&state.db, &caller, *id).await?;
    Ok(HttpResponse::Ok().json(view(hook, false)))
}

/// Delete a webhook subscription.
///
/// Administrators only: nothing more is sent and pending deliveries are cancelled; the delivery
/// history stays readable (`GET .../deliveries`).
#[utoipa::path(
    operation_id = "deleteWebhook",
    tag = "webhooks",
    params(("webhook_id" = Uuid, Path, description = "The subscription")),
    responses(
        (status = 204, description = "Unsubscribed"),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/webhooks/{webhook_id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    service::unsubscribe(&state.db, &caller, state.now(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List a webhook subscription's deliveries.
///
/// Administrators only: what was sent to a subscription (deleted ones too), newest first, with
/// every attempt. Paged.
#[utoipa::path(
    operation_id = "listWebhookDeliveries",
    tag = "webhooks",
    params(("webhook_id" = Uuid, Path, description = "The subscription"), PageParams, DeliveryQuery),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryList),
        (status = 400, description = "Bad filter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad paging", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/webhooks/{webhook_id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
    paging: web::Query<PageParams>,
    query: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let page = paging.page()?;
    let (rows, total) = service::deliveries(
        &state.db,
        &caller,
        *id,
        query.status.map(DeliveryStatus::as_str),
        page,
    )
    .await?;
    Ok(HttpResponse::Ok().json(DeliveryList {
        items: rows.into_iter().map(delivery_view).collect(),
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}
