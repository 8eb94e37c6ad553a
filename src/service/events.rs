//! The one recorder of domain events: in the transaction of the change, the audit row, the
//! webhook outbox row (for subscribers of its type) and the inbox notices of the
//! representatives concerned.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::json;

use crate::domain::event::Actor;
use crate::domain::event::{DomainEvent, Recipients};
use crate::store::audit::{self, Change};
use crate::store::{notifications, webhooks};

/// Record an event of a change made in the transaction `conn`.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    at: DateTime<Utc>,
    event: DomainEvent,
) -> Result<(), DbErr> {
    publish(conn, at, &event).await?;
    for notice in event.notices() {
        let users = recipients(conn, notice.to).await?;
        notifications::notify(conn, &users, notice.kind, notice.message, notice.data, at).await?;
    }
    keep(conn, actor, at, event).await
}

/// Record the events of one change made in the transaction `conn`, in their order, with
/// all their notices left in one batch of inserts however many there are (the results
/// of an approved ranking, one notice per lead).
pub async fn record_all<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    at: DateTime<Utc>,
    events: Vec<DomainEvent>,
) -> Result<(), DbErr> {
    for event in &events {
        publish(conn, at, event).await?;
    }
    let mut notices = Vec::new();
    for notice in events.iter().flat_map(DomainEvent::notices) {
        notices.push((recipients(conn, notice.to.clone()).await?, notice));
    }
    let outgoing = notices
        .iter()
        .map(|(users, n)| notifications::Outgoing {
            users,
            kind: n.kind,
            message: n.message.clone(),
            data: n.data.clone(),
        })
        .collect();
    notifications::notify_all(conn, outgoing, at).await?;
    for event in events {
        keep(conn, actor, at, event).await?;
    }
    Ok(())
}

/// The webhook outbox row of an event, for the subscribers of its type.
async fn publish<C: ConnectionTrait>(
    conn: &C,
    at: DateTime<Utc>,
    event: &DomainEvent,
) -> Result<(), DbErr> {
    if let Some(kind) = event.webhook() {
        let data = json!({
            "entity_type": event.entity_type,
            "entity_id": event.entity_key(),
            "change": event.after,
        });
        webhooks::enqueue(conn, at, kind, data).await?;
    }
    Ok(())
}

async fn recipients<C: ConnectionTrait>(
    conn: &C,
    to: Recipients,
) -> Result<Vec<uuid::Uuid>, DbErr> {
    Ok(match to {
        Recipients::Representatives(organization) => {
            notifications::representatives_of(conn, organization).await?
        }
        Recipients::LeadOf(application) => {
            notifications::lead_representatives(conn, application).await?
        }
        Recipients::Evaluators(agency) => notifications::evaluators_of(conn, agency).await?,
        Recipients::Administrators => notifications::administrators(conn).await?,
        Recipients::Users(users) => users,
    })
}

/// The audit row of an event, unless the audit log keeps the change otherwise.
async fn keep<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    at: DateTime<Utc>,
    event: DomainEvent,
) -> Result<(), DbErr> {
    if !event.audited() {
        return Ok(());
    }
    audit::insert(
        conn,
        actor,
        at,
        Change {
            action: event.action(),
            entity_type: event.entity_type,
            entity_id: event.entity_key(),
            before: event.before,
            after: event.after,
        },
    )
    .await
}
