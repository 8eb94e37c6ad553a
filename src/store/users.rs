//! Users and their credentials.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, Actor, Change};
use super::{Page, begin_write};
use crate::domain::agency::AgencyCode;
use crate::domain::user::Role;
use crate::entity::user;
use crate::error::ApiError;

/// A user as the service sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub full_name: String,
    pub role: Role,
    pub agency: Option<AgencyCode>,
    pub disabled: bool,
    pub token_version: i32,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A user from its row, as read by another statement.
pub fn from_model(m: user::Model) -> Result<User, DbErr> {
    to_user(m)
}

fn to_user(m: user::Model) -> Result<User, DbErr> {
    let bad = |what: &str| DbErr::Custom(format!("stored user {} has an invalid {what}", m.id));
    Ok(User {
        role: Role::parse(&m.role).ok_or_else(|| bad("role"))?,
        agency: match &m.agency_code {
            Some(code) => Some(AgencyCode::parse(code).ok_or_else(|| bad("agency"))?),
            None => None,
        },
        id: m.id,
        username: m.username,
        password_hash: m.password_hash,
        full_name: m.full_name,
        disabled: m.disabled,
        token_version: m.token_version,
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// What the audit log keeps of a user: never the password hash.
fn user_json(u: &User) -> serde_json::Value {
    json!({
        "username": u.username, "full_name": u.full_name, "role": u.role,
        "agency_code": u.agency, "disabled": u.disabled, "version": u.version,
    })
}

pub async fn get(db: &DatabaseConnection, id: Uuid) -> Result<Option<User>, DbErr> {
    user::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(to_user)
        .transpose()
}

pub async fn get_by_username(
    db: &DatabaseConnection,
    username: &str,
) -> Result<Option<User>, DbErr> {
    user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(db)
        .await?
        .map(to_user)
        .transpose()
}

/// Filters of the user list.
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub agency: Option<AgencyCode>,
    pub disabled: Option<bool>,
}

pub async fn list(
    db: &DatabaseConnection,
    filter: &UserFilter,
    page: Page,
) -> Result<(Vec<User>, u64), DbErr> {
    let mut q = user::Entity::find();
    if let Some(r) = filter.role {
        q = q.filter(user::Column::Role.eq(r.as_str()));
    }
    if let Some(a) = filter.agency {
        q = q.filter(user::Column::AgencyCode.eq(a.as_str()));
    }
    if let Some(d) = filter.disabled {
        q = q.filter(user::Column::Disabled.eq(d));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(user::Column::Username)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok((
        rows.into_iter().map(to_user).collect::<Result<_, _>>()?,
        total,
    ))
}

fn username_taken(username: &str) -> ApiError {
    ApiError::conflict(
        "username_taken",
        format!("The user name {username} is already registered."),
        format!("Il nome utente {username} è già registrato."),
    )
}

/// Store a new user with its audit event.
pub async fn create(db: &DatabaseConnection, actor: &Actor, user: &User) -> Result<(), ApiError> {
    let tx = begin_write(db).await?;
    let exists = user::Entity::find()
        .filter(user::Column::Username.eq(&user.username))
        .count(&tx)
        .await?
        > 0;
    if exists {
        return Err(username_taken(&user.username));
    }
    user::ActiveModel {
        id: Set(user.id),
        username: Set(user.username.clone()),
        password_hash: Set(user.password_hash.clone()),
        full_name: Set(user.full_name.clone()),
        role: Set(user.role.as_str().to_owned()),
        agency_code: Set(user.agency.map(|a| a.as_str().to_owned())),
        disabled: Set(user.disabled),
        token_version: Set(user.token_version),
        version: Set(user.version),
        created_at: Set(user.created_at),
        updated_at: Set(user.updated_at),
    }
    .insert(&tx)
    .await
    .map_err(|e| {
        if super::is_unique_violation(&e) {
            username_taken(&user.username)
        } else {
            e.into()
        }
    })?;
    audit::record(
        &tx,
        actor,
        user.created_at,
        Change {
            action: "user.created",
            entity_type: "user",
            entity_id: user.id.to_string(),
            before: None,
            after: Some(user_json(user)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Change a user under optimistic concurrency; `decide` returns the new state.
pub async fn update<F>(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    id: Uuid,
    expected_version: Option<i32>,
    action: &'static str,
    decide: F,
) -> Result<User, ApiError>
where
    F: FnOnce(&User) -> Result<User, ApiError>,
{
    let tx = begin_write(db).await?;
    let current = user::Entity::find_by_id(id)
        .one(&tx)
        .await?
        .map(to_user)
        .transpose()?
        .ok_or_else(user_not_found)?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(ApiError::PreconditionFailed);
    }
    let mut new = decide(&current)?;
    new.id = current.id;
    new.version = current.version + 1;
    new.updated_at = now;
    let result = user::Entity::update_many()
        .set(user::ActiveModel {
            full_name: Set(new.full_name.clone()),
            password_hash: Set(new.password_hash.clone()),
            role: Set(new.role.as_str().to_owned()),
            agency_code: Set(new.agency.map(|a| a.as_str().to_owned())),
            disabled: Set(new.disabled),
            token_version: Set(new.token_version),
            version: Set(new.version),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(user::Column::Id.eq(id))
        .filter(user::Column::Version.eq(current.version))
        .exec(&tx)
        .await?;
    if result.rows_affected != 1 {
        return Err(ApiError::PreconditionFailed);
    }
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action,
            entity_type: "user",
            entity_id: id.to_string(),
            before: Some(user_json(&current)),
            after: Some(user_json(&new)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

pub fn user_not_found() -> ApiError {
    ApiError::not_found(
        "user_not_found",
        "There is no such user.",
        "Questo utente non esiste.",
    )
}
