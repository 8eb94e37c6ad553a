//! Audit events, written in the same transaction as the change they record.

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, Set};
use serde_json::Value;
use uuid::Uuid;

use super::writes::Writes;
use crate::domain::event::Actor;
use crate::entity::audit_event;

/// What changed.
pub struct Change<'a> {
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Add one audit row to a unit of work.
pub fn insert_in(w: &mut Writes, actor: &Actor, at: DateTime<Utc>, change: Change<'_>) {
    w.insert(audit_event::ActiveModel {
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
    });
}

/// Filters of the audit log.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub actor_id: Option<Uuid>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// A page of the audit log, oldest first (`page` none: every match).
pub async fn list(
    db: &sea_orm::DatabaseConnection,
    f: &Filter,
    page: Option<super::Page>,
) -> Result<(Vec<audit_event::Model>, u64), DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
    let mut q = audit_event::Entity::find();
    if let Some(v) = &f.entity_type {
        q = q.filter(audit_event::Column::EntityType.eq(v.as_str()));
    }
    if let Some(v) = &f.entity_id {
        q = q.filter(audit_event::Column::EntityId.eq(v.as_str()));
    }
    if let Some(v) = f.actor_id {
        q = q.filter(audit_event::Column::ActorId.eq(v));
    }
    if let Some(v) = &f.action {
        q = q.filter(audit_event::Column::Action.eq(v.as_str()));
    }
    if let Some(v) = f.from {
        q = q.filter(audit_event::Column::OccurredAt.gte(v));
    }
    if let Some(v) = f.to {
        q = q.filter(audit_event::Column::OccurredAt.lt(v));
    }
    let total = q.clone().count(db).await?;
    let q = q
        .order_by_asc(audit_event::Column::OccurredAt)
        .order_by_asc(audit_event::Column::Id);
    let rows = match page {
        Some(p) => q.offset(p.offset()).limit(p.per_page).all(db).await?,
        None => q.all(db).await?,
    };
    Ok((rows, total))
}
