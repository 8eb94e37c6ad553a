//! Sessions: a refresh token is exchanged once; a retired one presented again ends its
//! session, whoever holds it (the legitimate client or a thief), and is recorded. And the
//! tries of a log-in, counted before the password is checked.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use serde_json::json;
use uuid::Uuid;

use super::events;
use crate::domain::event::Actor;
use crate::domain::event::{DomainEvent, EventKind};
use crate::domain::login::{LockoutPolicy, Throttle};
use crate::store::{self, sessions};

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

/// Exchange the session's current refresh token `presented` for `next`.
pub async fn rotate(
    db: &DatabaseConnection,
    session_id: Uuid,
    user_id: Uuid,
    presented: Uuid,
    next: Uuid,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), RotateError> {
    let tx = store::begin_write(db).await?;
    let Some(session) = sessions::lock(&tx, session_id)
        .await?
        .filter(|s| s.user_id == user_id && s.revoked_at.is_none())
    else {
        return Err(RotateError::Ended);
    };
    if session.current_refresh_id != presented {
        sessions::revoke(&tx, session_id, user_id, "refresh_token_reused", now).await?;
        let actor = Actor {
            user_id: Some(user_id),
            role: None,
            request_id: crate::error::current_request_id(),
        };
        events::record(
            &tx,
            &actor,
            now,
            DomainEvent {
                kind: EventKind::RefreshTokenReused,
                entity_type: "user",
                entity_id: user_id,
                before: None,
                after: Some(json!({"session_id": session_id, "generation": session.generation})),
            },
        )
        .await?;
        tx.commit().await?;
        return Err(RotateError::Reused);
    }
    sessions::set_current(&tx, &session, next, now, expires_at).await?;
    tx.commit().await?;
    Ok(())
}

/// Take a try for a user name before its password is checked: refused with the seconds to
/// wait while the name waits; otherwise counted at once as a wrong password (a right one is
/// forgotten by `store::sessions::forget_failures` right after). Counting before checking,
/// in one transaction holding the name's row, means that a burst of concurrent guesses, on
/// one replica or several, gets no more checks than the policy allows: each one sees the
/// others.
pub async fn take_try(
    db: &DatabaseConnection,
    username: &str,
    now: DateTime<Utc>,
    policy: &LockoutPolicy,
) -> Result<Result<Throttle, u32>, DbErr> {
    let tx = store::begin_write(db).await?;
    let current = sessions::lock_throttle(&tx, username, now).await?;
    if let Some(wait) = current.wait_secs(now) {
        tx.commit().await?;
        return Ok(Err(wait));
    }
    let next = current.after_failure(now, policy);
    sessions::save_throttle(&tx, username, &next, now).await?;
    tx.commit().await?;
    Ok(Ok(next))
}
