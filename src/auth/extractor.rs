//! The `AuthUser` extractor: a verified bearer token of a user who is still enabled.
//!
//! The user's state is read on every request, so a disabled user's tokens stop working at
//! once, and a password change (which bumps the token generation) ends older sessions.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use uuid::Uuid;

use super::jwt::{Subject, TokenKind};
use crate::domain::ErrorCode;
use crate::domain::agency::AgencyCode;
use crate::domain::event::Actor;
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::scopes::CallerKey;
use crate::store::{FirstStatement, sessions, users};

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: Uuid,
    pub username: String,
    pub role: Role,
    pub agency: Option<AgencyCode>,
    /// The session of the token (tokens of this service; none for an external provider's).
    pub session_id: Option<Uuid>,
    /// The token's own id (`jti`), for the refresh-token rotation.
    pub token_id: Option<Uuid>,
}

fn no_longer_valid() -> ApiError {
    ApiError::from(ErrorCode::TokenRevoked)
}

pub(crate) fn session_ended() -> ApiError {
    ApiError::from(ErrorCode::SessionEnded)
}

fn missing_token() -> ApiError {
    ApiError::from(ErrorCode::MissingToken)
}

impl AuthUser {
    /// Resolve a token of the given kind into the user it speaks for, checking the user's
    /// current state.
    pub async fn from_token(
        state: &AppState,
        token: &str,
        kind: TokenKind,
    ) -> Result<AuthUser, ApiError> {
        let subject = state.keys.verify(token, kind)?;
        AuthUser::resolve(&state.db, subject).await
    }

    /// The user a verified token speaks for, checked against the user's current state.
    async fn resolve<C: FirstStatement>(db: &C, subject: Subject) -> Result<AuthUser, ApiError> {
        match subject {
            Subject::Local { user_id, claims } => {
                // The user and, for a token of a session, whether the session is still open,
                // in one statement.
                let user = match claims.sid {
                    Some(sid) => {
                        let (user, open) = db
                            .first(|| sessions::user_in_session(db, user_id, sid))
                            .await?
                            .ok_or_else(no_longer_valid)?;
                        if !open {
                            return Err(session_ended());
                        }
                        users::from_model(user)?
                    }
                    None => db
                        .first(|| users::get(db, user_id))
                        .await?
                        .ok_or_else(no_longer_valid)?,
                };
                let current = !user.disabled
                    && claims.ver == Some(user.token_version)
                    && claims.role == Some(user.role)
                    && claims.agency == user.agency;
                if !current {
                    return Err(no_longer_valid());
                }
                Ok(AuthUser {
                    id: user.id,
                    username: user.username,
                    role: user.role,
                    agency: user.agency,
                    session_id: claims.sid,
                    token_id: Uuid::parse_str(&claims.jti).ok(),
                })
            }
            Subject::External { username } => {
                // The identity provider authenticates; this service's user record authorises.
                let user = db
                    .first(|| users::get_by_username(db, &username))
                    .await?
                    .ok_or_else(no_longer_valid)?;
                if user.disabled {
                    return Err(no_longer_valid());
                }
                Ok(AuthUser {
                    id: user.id,
                    username: user.username,
                    role: user.role,
                    agency: user.agency,
                    session_id: None,
                    token_id: None,
                })
            }
        }
    }

    /// Fail with 403 unless the caller has one of these roles.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::from(ErrorCode::RoleNotAllowed))
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        self.require(&[Role::Admin])
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The caller as the post-award rules see it (who, which role, which ATS).
    pub fn award_actor(&self) -> crate::domain::award::Actor {
        crate::domain::award::Actor {
            user_id: self.id,
            role: self.role,
            agency: self.agency,
        }
    }

    /// The caller as the audit log records it.
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.id),
            role: Some(self.role),
            request_id: crate::error::current_request_id(),
        }
    }
}

/// The bearer token of a request, if any.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<AuthUser, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no application state")))?;
            let token = token.ok_or_else(missing_token)?;
            AuthUser::from_token(&state, &token, TokenKind::Access).await
        })
    }
}

/// A caller whose token is verified but whose user is not yet checked against the database:
/// for a read that checks it in its own first statement ([`Caller::key`]), so that the request
/// makes one round trip instead of two, or on the connection of its own transaction.
/// [`Caller::confirm`] makes it an [`AuthUser`] with exactly the checks and errors of the
/// `AuthUser` extractor.
pub struct Caller {
    subject: Subject,
}

impl Caller {
    /// What a statement needs to check this caller: `None` when the token cannot be checked
    /// that way (an external provider's, or one without role or generation).
    pub fn key(&self) -> Option<CallerKey> {
        match &self.subject {
            Subject::Local { user_id, claims } => Some(CallerKey {
                user_id: *user_id,
                session_id: claims.sid,
                token_version: claims.ver?,
                role: claims.role?,
                agency: claims.agency,
            }),
            Subject::External { .. } => None,
        }
    }

    /// The caller, given the user name that the statement checking [`Caller::key`] returned:
    /// `Some` when the user is current. Otherwise (or when it was not checked that way) the
    /// user is checked in a statement of its own, which also tells which error applies.
    pub async fn confirm<C: FirstStatement>(
        self,
        db: &C,
        checked: Option<String>,
    ) -> Result<AuthUser, ApiError> {
        if let (Some(key), Some(username)) = (self.key(), checked)
            && let Subject::Local { claims, .. } = &self.subject
        {
            return Ok(AuthUser {
                id: key.user_id,
                username,
                role: key.role,
                agency: key.agency,
                session_id: key.session_id,
                token_id: Uuid::parse_str(&claims.jti).ok(),
            });
        }
        AuthUser::resolve(db, self.subject).await
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready((|| {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no application state")))?;
            let token = bearer(req).ok_or_else(missing_token)?;
            let subject = state.keys.verify(&token, TokenKind::Access)?;
            Ok(Caller { subject })
        })())
    }
}

/// The caller when a token is sent, nobody when none is: for operations open to the public
/// that show more to some roles. A token that is sent but invalid is still a 401.
#[derive(Debug, Clone)]
pub struct MaybeAuthUser(pub Option<AuthUser>);

impl MaybeAuthUser {
    pub fn is_admin(&self) -> bool {
        self.0.as_ref().is_some_and(AuthUser::is_admin)
    }
}

impl FromRequest for MaybeAuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<MaybeAuthUser, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if req.headers().get(header::AUTHORIZATION).is_none() {
            return Box::pin(async { Ok(MaybeAuthUser(None)) });
        }
        let fut = AuthUser::from_request(req, payload);
        Box::pin(async move { fut.await.map(|u| MaybeAuthUser(Some(u))) })
    }
}
