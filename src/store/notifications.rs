//! Every user's inbox.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::Value;
use uuid::Uuid;

use super::Page;
use crate::domain::agency::AgencyCode;
use crate::domain::user::Role;
use crate::domain::violation::Msg;
use crate::entity::{notification, organization_representative, user};
use crate::error::ApiError;

/// Leave the same notice in several inboxes.
pub async fn notify<C: ConnectionTrait>(
    conn: &C,
    users: &[Uuid],
    kind: &str,
    message: Msg,
    data: Value,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let data = data.to_string();
    // One statement per chunk (8 columns a row stays far below every parameter limit).
    for chunk in users.chunks(1000) {
        let rows = chunk.iter().map(|u| notification::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(*u),
            kind: Set(kind.to_owned()),
            message_en: Set(message.en.to_string()),
            message_it: Set(message.it.to_string()),
            data: Set(data.clone()),
            created_at: Set(now),
            read_at: Set(None),
        });
        notification::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// The enabled evaluators of an agency.
pub async fn evaluators_of<C: ConnectionTrait>(
    conn: &C,
    agency: AgencyCode,
) -> Result<Vec<Uuid>, DbErr> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq(Role::Evaluator.as_str()))
        .filter(user::Column::AgencyCode.eq(agency.as_str()))
        .filter(user::Column::Disabled.eq(false))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect())
}

/// The representatives of an organization.
pub async fn representatives_of<C: ConnectionTrait>(
    conn: &C,
    organization: Uuid,
) -> Result<Vec<Uuid>, DbErr> {
    Ok(organization_representative::Entity::find()
        .filter(organization_representative::Column::OrganizationId.eq(organization))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.user_id)
        .collect())
}

/// The representatives of an application's lead partner: who hears of its fate.
pub async fn lead_representatives<C: ConnectionTrait>(
    conn: &C,
    application_id: Uuid,
) -> Result<Vec<Uuid>, DbErr> {
    let Some(app) = super::applications::get(conn, application_id).await? else {
        return Ok(vec![]);
    };
    let Some(lead) = super::partnerships::get(conn, app.partnership_id)
        .await?
        .and_then(|p| p.lead())
    else {
        return Ok(vec![]);
    };
    representatives_of(conn, lead).await
}

/// A notice as stored.
pub struct Notice {
    pub id: Uuid,
    pub kind: String,
    pub message: Msg,
    pub data: Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// A user's notices, newest first.
pub async fn list(
    db: &DatabaseConnection,
    user_id: Uuid,
    unread_only: bool,
    page: Page,
) -> Result<(Vec<Notice>, u64), DbErr> {
    let mut q = notification::Entity::find().filter(notification::Column::UserId.eq(user_id));
    if unread_only {
        q = q.filter(notification::Column::ReadAt.is_null());
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(notification::Column::CreatedAt)
        .order_by_asc(notification::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok((
        rows.into_iter()
            .map(|n| Notice {
                id: n.id,
                kind: n.kind,
                message: Msg::new(n.message_en, n.message_it),
                data: serde_json::from_str(&n.data).unwrap_or(Value::Null),
                created_at: n.created_at,
                read_at: n.read_at,
            })
            .collect(),
        total,
    ))
}

/// Mark one of the user's notices read (idempotent).
pub async fn mark_read(
    db: &DatabaseConnection,
    user_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let found = notification::Entity::find_by_id(id)
        .filter(notification::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "notification_not_found",
                "There is no such notice in your inbox.",
                "Questo avviso non è nella sua casella.",
            )
        })?;
    if found.read_at.is_none() {
        notification::Entity::update_many()
            .col_expr(
                notification::Column::ReadAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(notification::Column::Id.eq(id))
            .exec(db)
            .await?;
    }
    Ok(())
}
