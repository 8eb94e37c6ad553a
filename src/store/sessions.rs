//! Sessions (one per login, renewed by rotating refresh tokens) and the wrong-password
//! counts of the log-in throttle. Both live in the database so that every replica sees the
//! same: a refresh token retired on one replica is refused on the others, and the guesses
//! of an account add up whichever replica answers them.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, FromQueryResult, QueryFilter, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, Actor, Change};
use super::begin_write;
use crate::domain::login::{LockoutPolicy, Throttle};
use crate::entity::{auth_session, login_throttle, user};

/// Start a session whose first refresh token is `refresh_id`, valid until `expires_at`.
pub async fn start(
    db: &DatabaseConnection,
    session_id: Uuid,
    user_id: Uuid,
    refresh_id: Uuid,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    auth_session::ActiveModel {
        id: Set(session_id),
        user_id: Set(user_id),
        current_refresh_id: Set(refresh_id),
        generation: Set(0),
        created_at: Set(now),
        refreshed_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        revoked_reason: Set(None),
    }
    .insert(db)
    .await
    .map(|_| ())
}

/// Why a refresh token was not exchanged.
#[derive(Debug)]
pub enum RotateError {
    /// No such session, another user's, or already ended (logout, reuse, expiry).
    Ended,
    /// The token was already exchanged: somebody replays it. The session is now ended.
    Reused,
    Db(DbErr),
}

impl From<DbErr> for RotateError {
    fn from(e: DbErr) -> RotateError {
        RotateError::Db(e)
    }
}

/// Exchange the session's current refresh token `presented` for `next`. A retired token
/// presented again ends the whole session (and is recorded in the audit log): whoever holds
/// it, the legitimate client or a thief, has to log in again.
pub async fn rotate(
    db: &DatabaseConnection,
    session_id: Uuid,
    user_id: Uuid,
    presented: Uuid,
    next: Uuid,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), RotateError> {
    let tx = begin_write(db).await?;
    let q = auth_session::Entity::find_by_id(session_id);
    let session = match db.get_database_backend() {
        DatabaseBackend::Postgres => q.lock_exclusive().one(&tx).await?,
        _ => q.one(&tx).await?,
    };
    let Some(session) = session.filter(|s| s.user_id == user_id && s.revoked_at.is_none()) else {
        return Err(RotateError::Ended);
    };
    if session.current_refresh_id != presented {
        revoke_in(&tx, &session, "refresh_token_reused", now).await?;
        audit::record(
            &tx,
            &Actor {
                user_id: Some(user_id),
                role: None,
                request_id: crate::error::current_request_id(),
            },
            now,
            Change {
                action: "session.refresh_token_reused",
                entity_type: "user",
                entity_id: user_id.to_string(),
                before: None,
                after: Some(json!({"session_id": session_id, "generation": session.generation})),
            },
        )
        .await?;
        tx.commit().await?;
        return Err(RotateError::Reused);
    }
    auth_session::Entity::update_many()
        .set(auth_session::ActiveModel {
            current_refresh_id: Set(next),
            generation: Set(session.generation + 1),
            refreshed_at: Set(now),
            expires_at: Set(expires_at),
            ..Default::default()
        })
        .filter(auth_session::Column::Id.eq(session_id))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn revoke_in<C: ConnectionTrait>(
    conn: &C,
    session: &auth_session::Model,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    auth_session::Entity::update_many()
        .set(auth_session::ActiveModel {
            revoked_at: Set(Some(now)),
            revoked_reason: Set(Some(reason.to_owned())),
            ..Default::default()
        })
        .filter(auth_session::Column::Id.eq(session.id))
        .filter(auth_session::Column::RevokedAt.is_null())
        .exec(conn)
        .await
        .map(|_| ())
}

/// End a session of a user (log out). Ending one that is already over changes nothing.
pub async fn revoke(
    db: &DatabaseConnection,
    session_id: Uuid,
    user_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    auth_session::Entity::update_many()
        .set(auth_session::ActiveModel {
            revoked_at: Set(Some(now)),
            revoked_reason: Set(Some(reason.to_owned())),
            ..Default::default()
        })
        .filter(auth_session::Column::Id.eq(session_id))
        .filter(auth_session::Column::UserId.eq(user_id))
        .filter(auth_session::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .map(|_| ())
}

/// A user row with whether one of its sessions is still open, read in one statement.
#[derive(Debug, FromQueryResult)]
struct UserInSession {
    id: Uuid,
    username: String,
    password_hash: String,
    full_name: String,
    role: String,
    agency_code: Option<String>,
    disabled: bool,
    token_version: i32,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    session_open: bool,
}

/// The user and whether its session `session_id` is open (not ended, not forgotten), in one
/// statement: every request with a token reads this.
pub async fn user_in_session(
    db: &DatabaseConnection,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<Option<(user::Model, bool)>, DbErr> {
    let open = Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(auth_session::Entity)
            .and_where(auth_session::Column::Id.eq(session_id))
            .and_where(auth_session::Column::UserId.eq(user_id))
            .and_where(auth_session::Column::RevokedAt.is_null())
            .to_owned(),
    );
    let row = user::Entity::find_by_id(user_id)
        .expr_as(open, "session_open")
        .into_model::<UserInSession>()
        .one(db)
        .await?;
    Ok(row.map(|r| {
        (
            user::Model {
                id: r.id,
                username: r.username,
                password_hash: r.password_hash,
                full_name: r.full_name,
                role: r.role,
                agency_code: r.agency_code,
                disabled: r.disabled,
                token_version: r.token_version,
                version: r.version,
                created_at: r.created_at,
                updated_at: r.updated_at,
            },
            r.session_open,
        )
    }))
}

fn to_throttle(m: login_throttle::Model) -> Throttle {
    Throttle {
        failures: u32::try_from(m.failures).unwrap_or(0),
        lockouts: u32::try_from(m.lockouts).unwrap_or(0),
        locked_until: m.locked_until,
    }
}

/// Take a try for a user name before its password is checked: refused with the seconds to
/// wait while the name waits; otherwise counted at once as a wrong password (a right one is
/// forgotten by [`forget_failures`] right after). Counting before checking, in one
/// transaction holding the name's row, means that a burst of concurrent guesses, on one
/// replica or several, gets no more checks than the policy allows: each one sees the others.
pub async fn take_try(
    db: &DatabaseConnection,
    username: &str,
    now: DateTime<Utc>,
    policy: &LockoutPolicy,
) -> Result<Result<Throttle, u32>, DbErr> {
    let tx = begin_write(db).await?;
    // Insert or lock the row first: concurrent tries then queue on it.
    login_throttle::Entity::insert(login_throttle::ActiveModel {
        username: Set(username.to_owned()),
        failures: Set(0),
        lockouts: Set(0),
        locked_until: Set(None),
        last_failure_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(login_throttle::Column::Username)
            .update_column(login_throttle::Column::LastFailureAt)
            .to_owned(),
    )
    .exec_without_returning(&tx)
    .await?;
    let q = login_throttle::Entity::find_by_id(username.to_owned());
    let current = match db.get_database_backend() {
        DatabaseBackend::Postgres => q.lock_exclusive().one(&tx).await?,
        _ => q.one(&tx).await?,
    }
    .map(to_throttle)
    .unwrap_or_default();
    if let Some(wait) = current.wait_secs(now) {
        tx.commit().await?;
        return Ok(Err(wait));
    }
    let next = current.after_failure(now, policy);
    login_throttle::Entity::update_many()
        .set(login_throttle::ActiveModel {
            failures: Set(i32::try_from(next.failures).unwrap_or(i32::MAX)),
            lockouts: Set(i32::try_from(next.lockouts).unwrap_or(i32::MAX)),
            locked_until: Set(next.locked_until),
            last_failure_at: Set(now),
            ..Default::default()
        })
        .filter(login_throttle::Column::Username.eq(username))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    Ok(Ok(next))
}

/// A success forgets the user name's wrong passwords.
pub async fn forget_failures(db: &DatabaseConnection, username: &str) -> Result<(), DbErr> {
    login_throttle::Entity::delete_by_id(username.to_owned())
        .exec(db)
        .await
        .map(|_| ())
}

/// Forget sessions whose last refresh token has expired, and wrong passwords older than a
/// day whose wait is over.
pub async fn purge(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let sessions = auth_session::Entity::delete_many()
        .filter(auth_session::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?
        .rows_affected;
    let day_ago = now - chrono::Duration::days(1);
    let throttles = login_throttle::Entity::delete_many()
        .filter(login_throttle::Column::LastFailureAt.lt(day_ago))
        .filter(
            sea_orm::Condition::any()
                .add(login_throttle::Column::LockedUntil.is_null())
                .add(login_throttle::Column::LockedUntil.lt(now)),
        )
        .exec(db)
        .await?
        .rows_affected;
    Ok(sessions + throttles)
}
