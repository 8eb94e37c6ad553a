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
use uuid::Uuid;

use crate::domain::login::Throttle;
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

/// A session, locked until the end of the transaction (PostgreSQL; SQLite's
/// `BEGIN IMMEDIATE` already serialises writers), so that a refresh token is exchanged once.
pub async fn lock<C: ConnectionTrait>(
    conn: &C,
    session_id: Uuid,
) -> Result<Option<auth_session::Model>, DbErr> {
    let q = auth_session::Entity::find_by_id(session_id);
    match conn.get_database_backend() {
        DatabaseBackend::Postgres => q.lock_exclusive().one(conn).await,
        _ => q.one(conn).await,
    }
}

/// The session's next refresh token (`next`), honoured until `expires_at`.
pub async fn set_current<C: ConnectionTrait>(
    conn: &C,
    session: &auth_session::Model,
    next: Uuid,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    auth_session::Entity::update_many()
        .set(auth_session::ActiveModel {
            current_refresh_id: Set(next),
            generation: Set(session.generation + 1),
            refreshed_at: Set(now),
            expires_at: Set(expires_at),
            ..Default::default()
        })
        .filter(auth_session::Column::Id.eq(session.id))
        .exec(conn)
        .await
        .map(|_| ())
}

/// End a session of a user (log out, a replayed refresh token). Ending one that is already
/// over changes nothing.
pub async fn revoke<C: ConnectionTrait>(
    conn: &C,
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
        .exec(conn)
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
pub async fn user_in_session<C: ConnectionTrait>(
    db: &C,
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

/// The wrong-password state of a user name, its row created if needed and locked until the
/// end of the transaction (the upsert locks it on PostgreSQL; SQLite's `BEGIN IMMEDIATE`
/// serialises writers), so that concurrent tries queue on it.
pub async fn lock_throttle<C: ConnectionTrait>(
    conn: &C,
    username: &str,
    now: DateTime<Utc>,
) -> Result<Throttle, DbErr> {
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
    .exec_without_returning(conn)
    .await?;
    let q = login_throttle::Entity::find_by_id(username.to_owned());
    Ok(match conn.get_database_backend() {
        DatabaseBackend::Postgres => q.lock_exclusive().one(conn).await?,
        _ => q.one(conn).await?,
    }
    .map(to_throttle)
    .unwrap_or_default())
}

/// Write a user name's wrong-password state.
pub async fn save_throttle<C: ConnectionTrait>(
    conn: &C,
    username: &str,
    t: &Throttle,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    login_throttle::Entity::update_many()
        .set(login_throttle::ActiveModel {
            failures: Set(i32::try_from(t.failures).unwrap_or(i32::MAX)),
            lockouts: Set(i32::try_from(t.lockouts).unwrap_or(i32::MAX)),
            locked_until: Set(t.locked_until),
            last_failure_at: Set(now),
            ..Default::default()
        })
        .filter(login_throttle::Column::Username.eq(username))
        .exec(conn)
        .await
        .map(|_| ())
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
