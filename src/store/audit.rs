//! Audit events, written in the same transaction as the change they record.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};
use serde_json::Value;
use uuid::Uuid;

use crate::domain::user::Role;
use crate::entity::audit_event;

/// Who made a change, and in which request.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    pub role: Option<Role>,
    pub request_id: Option<String>,
}

impl Actor {
    /// The service itself (migrations, demo data, periodic tasks).
    pub fn system() -> Actor {
        Actor::default()
    }
}

/// What changed.
pub struct Change<'a> {
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Record one change.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    at: DateTime<Utc>,
    change: Change<'_>,
) -> Result<(), DbErr> {
    audit_event::ActiveModel {
        id: Set(Uuid::new_v4()),
        occurred_at: Set(at),
        actor_id: Set(actor.user_id),
        actor_role: Set(actor.role.map(|r| r.as_str().to_owned())),
        action: Set(change.action.to_owned()),
        entity_type: Set(change.entity_type.to_owned()),
        entity_id: Set(change.entity_id),
        before: Set(change.before.map(|v| v.to_string())),
        after: Set(change.after.map(|v| v.to_string())),
        request_id: Set(actor.request_id.clone()),
    }
    .insert(conn)
    .await
    .map(|_| ())
}
