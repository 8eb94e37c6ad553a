//! User accounts: creation (by an administrator, by self-registration, by `create-admin`, by
//! the demo data), changes under optimistic concurrency, one's own password.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::events;
use crate::auth::AuthUser;
use crate::auth::password;
use crate::config::PasswordHashSettings;
use crate::domain::ErrorCode;
use crate::domain::Violations;
use crate::domain::agency::AgencyCode;
use crate::domain::call::check_text;
use crate::domain::event::Actor;
use crate::domain::event::{DomainEvent, EventKind, UserEvent};
use crate::domain::user::{Role, check_password, check_role_agency, check_username};
use crate::domain::version::Expected;
use crate::error::ApiError;
use crate::store::{self, Page, users};

pub use crate::store::users::{User, UserFilter};

pub fn user_not_found() -> ApiError {
    ApiError::from(ErrorCode::UserNotFound)
}

fn username_taken(username: &str) -> ApiError {
    ApiError::from(ErrorCode::UsernameTaken.with(&[("username", &username)]))
}

fn event(kind: UserEvent, before: Option<&User>, after: &User) -> DomainEvent {
    DomainEvent {
        kind: EventKind::User(kind),
        entity_type: "user",
        entity_id: after.id,
        before: before.map(users::snapshot),
        after: Some(users::snapshot(after)),
    }
}

/// Store a new user with its event; the caller checked its rules.
pub async fn add(db: &DatabaseConnection, actor: &Actor, user: &User) -> Result<(), ApiError> {
    let tx = store::begin_write(db).await?;
    if users::username_exists(&tx, &user.username).await? {
        return Err(username_taken(&user.username));
    }
    users::insert(&tx, user).await.map_err(|e| {
        if store::is_unique_violation(&e) {
            username_taken(&user.username)
        } else {
            e.into()
        }
    })?;
    events::record(
        &tx,
        actor,
        user.created_at,
        event(UserEvent::Created, None, user),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A new account, as asked.
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub full_name: String,
    pub role: Role,
    pub agency: Option<AgencyCode>,
}

/// Check a new account's rules, every broken one listed, and hash its password.
async fn new_account(
    new: NewUser,
    now: DateTime<Utc>,
    hashing: &PasswordHashSettings,
) -> Result<User, ApiError> {
    let mut v = Violations::new();
    v.extend(check_username(&new.username));
    v.extend(check_password("password", &new.password, &new.username));
    v.extend(check_text("full_name", &new.full_name, 200));
    v.extend(check_role_agency(new.role, new.agency));
    ApiError::check(v.into_vec())?;
    Ok(User {
        id: Uuid::new_v4(),
        password_hash: password::hash(new.password, hashing.clone()).await?,
        username: new.username,
        full_name: new.full_name.trim().to_owned(),
        role: new.role,
        agency: new.agency,
        disabled: false,
        token_version: 0,
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

/// An administrator creates a user of any role.
pub async fn create(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    hashing: &PasswordHashSettings,
    parse: impl FnOnce() -> Result<NewUser, ApiError>,
) -> Result<User, ApiError> {
    caller.require_admin()?;
    let user = new_account(parse()?, now, hashing).await?;
    add(db, &caller.actor(), &user).await?;
    Ok(user)
}

/// An applicant registers; it is its own actor.
pub async fn register(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    hashing: &PasswordHashSettings,
    new: NewUser,
) -> Result<User, ApiError> {
    let user = new_account(new, now, hashing).await?;
    let actor = Actor {
        user_id: Some(user.id),
        role: Some(Role::Applicant),
        request_id: crate::error::current_request_id(),
    };
    add(db, &actor, &user).await?;
    Ok(user)
}

pub async fn get(db: &DatabaseConnection, id: Uuid) -> Result<User, ApiError> {
    users::get(db, id).await?.ok_or_else(user_not_found)
}

/// An administrator reads a user.
pub async fn read(db: &DatabaseConnection, caller: &AuthUser, id: Uuid) -> Result<User, ApiError> {
    caller.require_admin()?;
    get(db, id).await
}

/// An administrator lists users, by user name.
pub async fn list(
    db: &DatabaseConnection,
    caller: &AuthUser,
    filter: &UserFilter,
    page: Page,
) -> Result<(Vec<User>, u64), ApiError> {
    caller.require_admin()?;
    Ok(users::list(db, filter, page).await?)
}

/// Change a user under optimistic concurrency (`expected_version`: the version the change
/// was decided on, when the client named one): `decide` returns the new state.
pub async fn change<F>(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    id: Uuid,
    expected_version: Option<Expected>,
    kind: UserEvent,
    decide: F,
) -> Result<User, ApiError>
where
    F: FnOnce(&User) -> Result<User, ApiError>,
{
    let tx = store::begin_write(db).await?;
    let current = users::get(&tx, id).await?.ok_or_else(user_not_found)?;
    if expected_version
        .as_ref()
        .is_some_and(|v| !v.matches(current.version))
    {
        return Err(ApiError::PreconditionFailed);
    }
    let mut new = decide(&current)?;
    new.id = current.id;
    new.version = current.version + 1;
    new.updated_at = now;
    if !users::update_at_version(&tx, &new, current.version).await? {
        return Err(ApiError::PreconditionFailed);
    }
    events::record(&tx, actor, now, event(kind, Some(&current), &new)).await?;
    tx.commit().await?;
    Ok(new)
}

/// What an administrator's merge patch makes of a user.
pub struct UserEdit {
    pub full_name: String,
    pub role: Role,
    pub agency: Option<AgencyCode>,
    pub disabled: bool,
    /// A new password, when it is reset.
    pub password: Option<String>,
}

/// An administrator changes a user (`edit` applies the request to the current state); a
/// password reset or a disable ends every token of the user.
pub async fn patch(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    hashing: &PasswordHashSettings,
    id: Uuid,
    version: Expected,
    edit: impl FnOnce(&User) -> Result<UserEdit, ApiError>,
) -> Result<User, ApiError> {
    caller.require_admin()?;
    let current = get(db, id).await?;
    let edited = edit(&current)?;
    let mut v = Violations::new();
    v.extend(check_text("full_name", &edited.full_name, 200));
    v.extend(check_role_agency(edited.role, edited.agency));
    if let Some(p) = &edited.password {
        v.extend(check_password("password", p, &current.username));
    }
    if id == caller.id && (edited.disabled || edited.role != Role::Admin) {
        v.add("disabled", ErrorCode::CannotDemoteSelf);
    }
    ApiError::check(v.into_vec())?;
    let new_hash = match edited.password.clone() {
        Some(p) => Some(password::hash(p, hashing.clone()).await?),
        None => None,
    };
    change(
        db,
        &caller.actor(),
        now,
        id,
        Some(version),
        UserEvent::Changed,
        |u| {
            let revoke = new_hash.is_some() || edited.disabled != u.disabled;
            Ok(User {
                full_name: edited.full_name.trim().to_owned(),
                role: edited.role,
                agency: edited.agency,
                disabled: edited.disabled,
                password_hash: new_hash.clone().unwrap_or_else(|| u.password_hash.clone()),
                token_version: u.token_version + i32::from(revoke),
                ..u.clone()
            })
        },
    )
    .await
}

/// A user changes its own password (the current one checked first, and counted like a login
/// when wrong); every older token stops working.
pub async fn change_password(
    state: &crate::state::AppState,
    caller: &AuthUser,
    current_password: &str,
    new_password: String,
) -> Result<User, ApiError> {
    ApiError::check(check_password(
        "new_password",
        &new_password,
        &caller.username,
    ))?;
    crate::auth::authenticate(state, &caller.username, current_password)
        .await
        .map_err(|e| match e {
            ApiError::Unauthorized { .. } => ApiError::from(ErrorCode::InvalidCredentials.worded(
                "The current password is wrong.",
                "La password attuale è errata.",
            )),
            other => other,
        })?;
    let hash = password::hash(new_password, state.settings.auth.password_hash.clone()).await?;
    change(
        &state.db,
        &caller.actor(),
        state.now(),
        caller.id,
        None,
        UserEvent::PasswordChanged,
        |u| {
            Ok(User {
                password_hash: hash,
                token_version: u.token_version + 1,
                ..u.clone()
            })
        },
    )
    .await
}
