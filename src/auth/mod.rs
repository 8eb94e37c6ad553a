//! Authentication: JWT issue and verification, the `AuthUser` extractor, password hashing.

pub mod extractor;
pub mod jwt;
pub mod password;

pub use extractor::{AuthUser, MaybeAuthUser};
pub use jwt::{Keys, TokenKind};

use chrono::{DateTime, Utc};

use crate::error::ApiError;
use crate::startup::AppState;
use crate::store::users::{self, User};

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized(
        "invalid_credentials",
        "The user name or the password is wrong, or the account is disabled.",
        "Nome utente o password errati, oppure l'account è disabilitato.",
    )
}

/// Check a user name and password. An unknown user, a wrong password and a disabled
/// account answer alike, after about the same time (a hash is always verified).
pub async fn authenticate(
    state: &AppState,
    username: &str,
    password: &str,
) -> Result<User, ApiError> {
    let user = users::get_by_username(&state.db, &username.trim().to_lowercase()).await?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::DUMMY_HASH.to_owned());
    let matches = password::verify(password.to_owned(), hash).await?;
    match user {
        Some(u) if matches && !u.disabled => Ok(u),
        _ => Err(invalid_credentials()),
    }
}

/// Issue a fresh pair of tokens for a user. Tokens live in real time (`now` is the system
/// clock), whatever the service clock says: their verification reads the system clock.
pub fn issue_for(
    state: &AppState,
    user: &User,
    now: DateTime<Utc>,
) -> Result<jwt::IssuedTokens, ApiError> {
    Ok(state
        .keys
        .issue(user.id, user.role, user.agency, user.token_version, now)?)
}
