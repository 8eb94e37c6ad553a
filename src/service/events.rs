//! The one recorder of domain events: in the transaction of the change, the audit row, the
//! webhook outbox row (for subscribers of its type) and the inbox notices of the
//! representatives concerned.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::json;

use crate::domain::event::{DomainEvent, Recipients};
use crate::store::audit::{self, Actor, Change};
use crate::store::{notifications, webhooks};

/// Record an event of a change made in the transaction `conn`.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    at: DateTime<Utc>,
    event: DomainEvent,
) -> Result<(), DbErr> {
    if let Some(kind) = event.webhook() {
        let data = json!({
            "entity_type": event.entity_type,
            "entity_id": event.entity_id.to_string(),
            "change": event.after,
        });
        webhooks::enqueue(conn, at, kind, data).await?;
    }
    for notice in event.notices() {
        let users = match notice.to {
            Recipients::Representatives(organization) => {
                notifications::representatives_of(conn, organization).await?
            }
            Recipients::LeadOf(application) => {
                notifications::lead_representatives(conn, application).await?
            }
            Recipients::Evaluators(agency) => notifications::evaluators_of(conn, agency).await?,
            Recipients::Users(users) => users,
        };
        notifications::notify(conn, &users, notice.kind, notice.message, notice.data, at).await?;
    }
    audit::insert(
        conn,
        actor,
        at,
        Change {
            action: event.action(),
            entity_type: event.entity_type,
            entity_id: event.entity_id.to_string(),
            before: event.before,
            after: event.after,
        },
    )
    .await
}
