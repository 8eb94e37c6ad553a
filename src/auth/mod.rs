//! Authentication: JWT issue and verification, the `AuthUser` extractor, password hashing,
//! sessions with rotating refresh tokens, and the wait after wrong passwords.

pub mod extractor;
pub mod jwt;
pub mod password;

use extractor::session_ended;
pub use extractor::{AuthUser, Caller, MaybeAuthUser};
pub use jwt::{Keys, TokenKind};

use chrono::Utc;
use uuid::Uuid;

use crate::domain::ErrorCode;
use crate::error::ApiError;
use crate::service::sessions::{self as session_service, RotateError};
use crate::state::AppState;
use crate::store::sessions;
use crate::store::users::{self, User};

fn invalid_credentials() -> ApiError {
    ApiError::from(ErrorCode::InvalidCredentials)
}

/// The longest user name (the column's size): a longer one belongs to nobody.
const MAX_USERNAME: usize = 254;

/// Check a user name and password. An unknown user, a wrong password and a disabled
/// account answer alike, after about the same time (a hash is always verified).
///
/// Wrong passwords are counted per user name in the database, known or not (so that the
/// answer tells nothing of which names exist): past `auth.lockout.max_failures` the name
/// waits, and during the wait even the right password answers 429 `account_rate_limited`,
/// before any hash is computed. A try is counted before its hash is checked, and forgotten
/// only when it logs in, so that concurrent guesses cannot all slip in before the first one
/// is counted, and a disabled account's right password cannot be told from a wrong one.
pub async fn authenticate(
    state: &AppState,
    username: &str,
    password: &str,
) -> Result<User, ApiError> {
    let username = username.trim().to_lowercase();
    let counted = username.len() <= MAX_USERNAME;
    let mut starts_a_wait = false;
    if counted {
        let policy = state.settings.auth.lockout.policy();
        match session_service::take_try(&state.db, &username, state.now(), &policy).await? {
            Err(retry_after) => return Err(ApiError::AccountRateLimited { retry_after }),
            Ok(after) => starts_a_wait = after.wait_secs(state.now()).is_some(),
        }
    }
    let user =
        crate::store::first(&state.db, || users::get_by_username(&state.db, &username)).await?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::DUMMY_HASH.to_owned());
    let matches = password::verify(password.to_owned(), hash).await?;
    match user {
        Some(u) if matches && !u.disabled => {
            if counted {
                sessions::forget_failures(&state.db, &username).await?;
            }
            Ok(u)
        }
        _ => {
            if starts_a_wait {
                tracing::warn!("a user name waits after wrong passwords");
            }
            Err(invalid_credentials())
        }
    }
}

/// Start a session for a user and issue its first pair of tokens. Tokens live in real time
/// (the system clock), whatever the service clock says: their verification reads it.
pub async fn start_session(state: &AppState, user: &User) -> Result<jwt::IssuedTokens, ApiError> {
    let now = Utc::now();
    let session_id = Uuid::new_v4();
    let tokens = state.keys.issue(&subject(user, session_id), now)?;
    sessions::start(
        &state.db,
        session_id,
        user.id,
        tokens.refresh_id,
        now,
        tokens.refresh_expires_at,
    )
    .await?;
    Ok(tokens)
}

fn subject(user: &User, session_id: Uuid) -> jwt::TokenSubject {
    jwt::TokenSubject {
        user_id: user.id,
        role: user.role,
        agency: user.agency,
        token_version: user.token_version,
        session_id,
    }
}

fn refresh_token_reused() -> ApiError {
    ApiError::from(ErrorCode::RefreshTokenReused)
}

/// Exchange a refresh token for a new pair: the presented one is retired. Presenting a
/// retired one again ends its session, whoever presents it.
pub async fn refresh(state: &AppState, refresh_token: &str) -> Result<jwt::IssuedTokens, ApiError> {
    let caller = AuthUser::from_token(state, refresh_token, TokenKind::Refresh).await?;
    let (Some(session_id), Some(presented)) = (caller.session_id, caller.token_id) else {
        // Tokens issued before sessions existed: they cannot be rotated.
        return Err(session_ended());
    };
    let user = users::get(&state.db, caller.id)
        .await?
        .ok_or_else(crate::service::users::user_not_found)?;
    let now = Utc::now();
    let tokens = state.keys.issue(&subject(&user, session_id), now)?;
    match session_service::rotate(
        &state.db,
        session_id,
        user.id,
        presented,
        tokens.refresh_id,
        now,
        tokens.refresh_expires_at,
    )
    .await
    {
        Ok(()) => Ok(tokens),
        Err(RotateError::Reused) => {
            tracing::warn!(user = %user.id, session = %session_id, "a retired refresh token was presented again: the session is ended");
            Err(refresh_token_reused())
        }
        Err(RotateError::Ended) => Err(session_ended()),
        Err(RotateError::Db(e)) => Err(e.into()),
    }
}

/// End the caller's session: its access and refresh tokens stop working at once.
pub async fn logout(state: &AppState, caller: &AuthUser) -> Result<(), ApiError> {
    if let Some(session_id) = caller.session_id {
        sessions::revoke(&state.db, session_id, caller.id, "logout", Utc::now()).await?;
    }
    Ok(())
}
