//! Users and their credentials.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::Page;
use crate::domain::agency::AgencyCode;
use crate::domain::user::Role;
use crate::entity::user;

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
pub fn snapshot(u: &User) -> serde_json::Value {
    json!({
        "username": u.username, "full_name": u.full_name, "role": u.role,
        "agency_code": u.agency, "disabled": u.disabled, "version": u.version,
    })
}

pub async fn get<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<User>, DbErr> {
    user::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(to_user)
        .transpose()
}

pub async fn get_by_username<C: ConnectionTrait>(
    db: &C,
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

/// Store a new user (a unique-key violation when its user name is taken).
pub async fn insert<C: ConnectionTrait>(conn: &C, user: &User) -> Result<(), DbErr> {
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
    .insert(conn)
    .await
    .map(|_| ())
}

/// Whether a user name is taken.
pub async fn username_exists<C: ConnectionTrait>(conn: &C, username: &str) -> Result<bool, DbErr> {
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .count(conn)
        .await?
        > 0)
}

/// Write a user's new state if it is still at `expected_version`; false when it changed
/// meanwhile.
pub async fn update_at_version<C: ConnectionTrait>(
    conn: &C,
    new: &User,
    expected_version: i32,
) -> Result<bool, DbErr> {
    let result = user::Entity::update_many()
        .set(user::ActiveModel {
            full_name: Set(new.full_name.clone()),
            password_hash: Set(new.password_hash.clone()),
            role: Set(new.role.as_str().to_owned()),
            agency_code: Set(new.agency.map(|a| a.as_str().to_owned())),
            disabled: Set(new.disabled),
            token_version: Set(new.token_version),
            version: Set(new.version),
            updated_at: Set(new.updated_at),
            ..Default::default()
        })
        .filter(user::Column::Id.eq(new.id))
        .filter(user::Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}
