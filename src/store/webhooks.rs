//! Webhook subscriptions, the outbox and the deliveries.
//!
//! An event is enqueued by [`enqueue`] inside the transaction of the change that caused it
//! (the audit log calls it for the audited actions that publish an event): its row and one
//! pending delivery per interested subscription commit or roll back with the change. The
//! delivery worker claims due deliveries with a lease stored in the row, so that several
//! replicas never send the same attempt twice and a crashed worker's claim runs out by itself.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Page;
use super::writes::Writes;
use crate::domain::webhook::EventType;
use crate::entity::{webhook, webhook_attempt, webhook_delivery, webhook_event};

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";
pub const CANCELLED: &str = "cancelled";

/// The event types a stored subscription asked for.
pub fn event_types(m: &webhook::Model) -> Vec<EventType> {
    serde_json::from_str::<Vec<String>>(&m.event_types)
        .unwrap_or_default()
        .iter()
        .filter_map(|t| EventType::parse(t))
        .collect()
}

/// Store a new subscription.
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    m: webhook::Model,
) -> Result<webhook::Model, DbErr> {
    webhook::ActiveModel::from(m).insert(conn).await
}

/// The live subscriptions, oldest first.
pub async fn list(
    db: &DatabaseConnection,
    page: Page,
) -> Result<(Vec<webhook::Model>, u64), DbErr> {
    let q = webhook::Entity::find().filter(webhook::Column::DeletedAt.is_null());
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(webhook::Column::CreatedAt)
        .order_by_asc(webhook::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// A live subscription.
pub async fn get<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<webhook::Model>, DbErr> {
    webhook::Entity::find_by_id(id)
        .filter(webhook::Column::DeletedAt.is_null())
        .one(conn)
        .await
}

/// Whether a subscription exists or existed (its deliveries stay readable).
pub async fn ever_existed<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<bool, DbErr> {
    Ok(webhook::Entity::find_by_id(id).count(conn).await? > 0)
}

/// Unsubscribe: nothing more is sent, pending deliveries are cancelled (how many is
/// answered), the history stays.
pub async fn mark_deleted<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    webhook::Entity::update_many()
        .col_expr(webhook::Column::DeletedAt, Expr::value(now))
        .filter(webhook::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(CANCELLED))
        .col_expr(
            webhook_delivery::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(webhook_delivery::Column::WebhookId.eq(id))
        .filter(webhook_delivery::Column::Status.eq(PENDING))
        .exec(conn)
        .await?
        .rows_affected)
}

/// A delivery with its event and its attempts, newest attempt last.
pub struct DeliveryRecord {
    pub delivery: webhook_delivery::Model,
    pub event_type: String,
    pub attempts: Vec<webhook_attempt::Model>,
}

/// The deliveries of a subscription (deleted ones included), newest first.
pub async fn deliveries(
    db: &DatabaseConnection,
    webhook_id: Uuid,
    status: Option<&str>,
    page: Page,
) -> Result<(Vec<DeliveryRecord>, u64), DbErr> {
    let mut q =
        webhook_delivery::Entity::find().filter(webhook_delivery::Column::WebhookId.eq(webhook_id));
    if let Some(s) = status {
        q = q.filter(webhook_delivery::Column::Status.eq(s));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(webhook_delivery::Column::CreatedAt)
        .order_by_asc(webhook_delivery::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    let delivery_ids: Vec<Uuid> = rows.iter().map(|d| d.id).collect();
    let event_ids: Vec<Uuid> = rows.iter().map(|d| d.event_id).collect();
    let events = webhook_event::Entity::find()
        .select_only()
        .column(webhook_event::Column::Id)
        .column(webhook_event::Column::EventType)
        .filter(webhook_event::Column::Id.is_in(event_ids))
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?;
    let mut attempts = webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::DeliveryId.is_in(delivery_ids))
        .order_by_asc(webhook_attempt::Column::Attempt)
        .all(db)
        .await?;
    let records = rows
        .into_iter()
        .map(|d| {
            let event_type = events
                .iter()
                .find(|(id, _)| *id == d.event_id)
                .map(|(_, t)| t.clone())
                .unwrap_or_default();
            let (mine, rest): (Vec<_>, Vec<_>) =
                attempts.drain(..).partition(|a| a.delivery_id == d.id);
            attempts = rest;
            DeliveryRecord {
                delivery: d,
                event_type,
                attempts: mine,
            }
        })
        .collect();
    Ok((records, total))
}

/// The live subscriptions that asked for a type of event.
pub async fn subscribers<C: ConnectionTrait>(
    conn: &C,
    event: EventType,
) -> Result<Vec<Uuid>, DbErr> {
    Ok(webhook::Entity::find()
        .filter(webhook::Column::DeletedAt.is_null())
        .all(conn)
        .await?
        .into_iter()
        .filter(|w| event_types(w).contains(&event))
        .map(|w| w.id)
        .collect())
}

/// Add an event's outbox row, with a pending delivery for each of `subscribers` (the live
/// subscriptions that asked for its type, read before), to a unit of work. Without
/// subscribers nothing is written: an event is kept only while somebody is to receive it.
pub fn enqueue_in(
    w: &mut Writes,
    at: DateTime<Utc>,
    event: EventType,
    data: Value,
    subscribers: &[Uuid],
) {
    if subscribers.is_empty() {
        return;
    }
    let id = Uuid::new_v4();
    let payload = json!({
        "id": id,
        "type": event.as_str(),
        "occurred_at": crate::domain::timestamp::format(&at),
        "data": data,
    });
    w.insert(webhook_event::ActiveModel {
        id: Set(id),
        event_type: Set(event.as_str().to_owned()),
        occurred_at: Set(at),
        payload: Set(payload.to_string()),
    });
    w.insert_many(
        subscribers
            .iter()
            .map(|&webhook_id| webhook_delivery::ActiveModel {
                id: Set(Uuid::new_v4()),
                webhook_id: Set(webhook_id),
                event_id: Set(id),
                status: Set(PENDING.to_owned()),
                attempts: Set(0),
                next_attempt_at: Set(at),
                lease_until: Set(None),
                last_status_code: Set(None),
                last_error: Set(None),
                delivered_at: Set(None),
                created_at: Set(at),
            }),
    );
}

/// A delivery this worker holds, with what it needs to send it.
pub struct Claimed {
    pub delivery_id: Uuid,
    pub attempts: i32,
    pub event_id: Uuid,
    pub url: String,
    pub secret: String,
    pub body: String,
}

/// Claim up to `limit` due deliveries until `now + lease`.
pub async fn claim_due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> Result<Vec<Claimed>, DbErr> {
    let free = Condition::any()
        .add(webhook_delivery::Column::LeaseUntil.is_null())
        .add(webhook_delivery::Column::LeaseUntil.lt(now));
    let due = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(PENDING))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .filter(free.clone())
        .order_by_asc(webhook_delivery::Column::NextAttemptAt)
        .limit(limit)
        .all(db)
        .await?;
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
    let mut claimed = Vec::new();
    for d in due {
        let won = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::LeaseUntil, Expr::value(until))
            .filter(webhook_delivery::Column::Id.eq(d.id))
            .filter(webhook_delivery::Column::Status.eq(PENDING))
            .filter(free.clone())
            .exec(db)
            .await?
            .rows_affected
            == 1;
        if !won {
            continue;
        }
        let (Some(hook), Some(event)) = (
            webhook::Entity::find_by_id(d.webhook_id).one(db).await?,
            webhook_event::Entity::find_by_id(d.event_id)
                .one(db)
                .await?,
        ) else {
            continue;
        };
        claimed.push(Claimed {
            delivery_id: d.id,
            attempts: d.attempts,
            event_id: event.id,
            url: hook.url,
            secret: hook.secret,
            body: event.payload,
        });
    }
    Ok(claimed)
}

/// What one attempt came to.
pub struct Attempt {
    pub at: DateTime<Utc>,
    pub duration: Duration,
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

impl Attempt {
    /// A 2xx answer.
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Record an attempt and release the claim: delivered, retried at `retry_at`, or given up
/// (`retry_at` none after a failure).
pub async fn record_attempt(
    db: &DatabaseConnection,
    claimed: &Claimed,
    attempt: &Attempt,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    let number = claimed.attempts + 1;
    let tx = db.begin().await?;
    webhook_attempt::ActiveModel {
        id: Set(Uuid::new_v4()),
        delivery_id: Set(claimed.delivery_id),
        attempt: Set(number),
        attempted_at: Set(attempt.at),
        duration_ms: Set(i32::try_from(attempt.duration.as_millis()).unwrap_or(i32::MAX)),
        status_code: Set(attempt.status_code.map(i32::from)),
        error: Set(attempt.error.clone()),
    }
    .insert(&tx)
    .await?;
    let mut update = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Attempts, Expr::value(number))
        .col_expr(
            webhook_delivery::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            webhook_delivery::Column::LastStatusCode,
            Expr::value(attempt.status_code.map(i32::from)),
        )
        .col_expr(
            webhook_delivery::Column::LastError,
            Expr::value(attempt.error.clone()),
        );
    update = if attempt.succeeded() {
        update
            .col_expr(webhook_delivery::Column::Status, Expr::value(DELIVERED))
            .col_expr(
                webhook_delivery::Column::DeliveredAt,
                Expr::value(Some(attempt.at)),
            )
    } else if let Some(at) = retry_at {
        update.col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(at))
    } else {
        update.col_expr(webhook_delivery::Column::Status, Expr::value(FAILED))
    };
    // A subscription deleted meanwhile has cancelled the delivery: keep it cancelled.
    update
        .filter(webhook_delivery::Column::Id.eq(claimed.delivery_id))
        .filter(webhook_delivery::Column::Status.eq(PENDING))
        .exec(&tx)
        .await?;
    tx.commit().await
}
