//! Log in (JSON or the OAuth2 password grant), refresh, own account, self-registration.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::Json;
use super::users::UserView;
use crate::auth::{self, AuthUser};
use crate::domain::ErrorCode;
use crate::domain::user::Role;
use crate::error::{ApiError, Problem};
use crate::service::users;
use crate::state::AppState;

/// A user name and a password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "admin@demo.welfare-grants.test", "password": "demo-admin-2022!"}))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Tokens in the shape OAuth2 clients expect.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9...", "token_type": "bearer", "expires_in": 900, "refresh_token": "eyJhbGciOiJIUzI1NiJ9..."}))]
pub struct TokenResponse {
    /// Send it as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Renews the access token at `/api/v1/auth/refresh`.
    pub refresh_token: String,
}

impl From<crate::auth::jwt::IssuedTokens> for TokenResponse {
    fn from(t: crate::auth::jwt::IssuedTokens) -> TokenResponse {
        TokenResponse {
            access_token: t.access_token,
            token_type: "bearer".into(),
            expires_in: t.expires_in,
            refresh_token: t.refresh_token,
        }
    }
}

/// The OAuth2 token request (RFC 6749 §4.3 password grant, or §6 refresh).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"grant_type": "password", "username": "admin@demo.welfare-grants.test", "password": "demo-admin-password", "client_id": "swagger-ui"}))]
pub struct TokenForm {
    /// `password` or `refresh_token`.
    #[schema(example = "password")]
    pub grant_type: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub refresh_token: Option<String>,
    /// Accepted and ignored (Swagger UI sends it).
    pub client_id: Option<String>,
    /// Accepted and ignored.
    pub client_secret: Option<String>,
    /// Accepted and ignored: roles come from the user's account.
    pub scope: Option<String>,
}

/// A refresh token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"refresh_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9..."}))]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// A password change of one's own account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"current_password": "demo-admin-2022!", "new_password": "a much longer passphrase"}))]
pub struct PasswordChange {
    pub current_password: String,
    /// 12 to 128 characters, not on the list of common passwords, not containing the user
    /// name nor the part of it before the @ (when that has at least 4 characters).
    pub new_password: String,
}

/// Self-registration of an applicant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "maria.rossi@example.org", "password": "a long and private passphrase", "full_name": "Maria Rossi"}))]
pub struct RegisterRequest {
    /// A lower-case e-mail address.
    pub username: String,
    /// 12 to 128 characters, not on the list of common passwords, not containing the user
    /// name nor the part of it before the @ (when that has at least 4 characters).
    pub password: String,
    pub full_name: String,
}

async fn tokens_for(
    state: &AppState,
    username: &str,
    password: &str,
) -> Result<TokenResponse, ApiError> {
    let user = auth::authenticate(state, username, password).await?;
    Ok(auth::start_session(state, &user).await?.into())
}

/// Log in with a user name and password.
#[utoipa::path(
    operation_id = "logIn",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, description = "Wrong user name or password, or disabled account", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many tries from this address (`rate_limited`), or too many wrong passwords for this account (`account_rate_limited`, whatever the address; even the right password waits): retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.parse()?;
    let tokens = tokens_for(&state, &body.username, &body.password).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(tokens))
}

/// The OAuth2 token endpoint: the password grant (what Swagger UI's Authorize dialog uses)
/// and the refresh grant.
#[utoipa::path(
    operation_id = "requestToken",
    tag = "auth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens issued", body = TokenResponse),
        (status = 400, description = "Unsupported grant type or missing field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong credentials, or a refresh token that is invalid, already exchanged (`refresh_token_reused`: its session is ended) or of an ended session (`session_ended`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many tries from this address (`rate_limited`), or too many wrong passwords for this account (`account_rate_limited`, whatever the address; even the right password waits): retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/token")]
pub async fn token(
    state: web::Data<AppState>,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let missing = |field: &'static str| {
        ApiError::bad_request(
            ErrorCode::InvalidRequest.with(&[("field", &field)]),
            vec![crate::domain::Violation::new(
                field,
                ErrorCode::MissingField,
            )],
        )
    };
    let tokens = match form.grant_type.as_str() {
        "password" => {
            let username = form.username.ok_or_else(|| missing("username"))?;
            let password = form.password.ok_or_else(|| missing("password"))?;
            tokens_for(&state, &username, &password).await?
        }
        "refresh_token" => {
            let refresh_token = form.refresh_token.ok_or_else(|| missing("refresh_token"))?;
            refreshed(&state, &refresh_token).await?
        }
        _ => {
            return Err(ApiError::from(ErrorCode::UnsupportedGrantType));
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(tokens))
}

async fn refreshed(state: &AppState, refresh_token: &str) -> Result<TokenResponse, ApiError> {
    Ok(auth::refresh(state, refresh_token).await?.into())
}

/// Exchange a refresh token for a new pair of tokens. A refresh token is used once: the
/// answer carries the next one, and the one sent is retired. A retired refresh token sent
/// again ends its whole session (`refresh_token_reused`): either it was copied, or the
/// client kept an old one; in both cases its holder logs in again.
#[utoipa::path(
    operation_id = "refreshTokens",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "Tokens renewed", body = TokenResponse),
        (status = 401, description = "Invalid or expired refresh token; already exchanged (`refresh_token_reused`: its session is now ended); of an ended session (`session_ended`); or of a disabled user (`token_revoked`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let tokens = refreshed(&state, &body.parse()?.refresh_token).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(tokens))
}

/// Log out: end the caller's session. Its access token and its refresh tokens stop working
/// at once, on every replica; the user's other sessions (other devices) go on.
#[utoipa::path(
    operation_id = "logOut",
    tag = "auth",
    responses(
        (status = 204, description = "The session is ended"),
        (status = 401, description = "Not logged in, or the session already ended", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    caller: AuthUser,
) -> Result<HttpResponse, ApiError> {
    auth::logout(&state, &caller).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's own account.
#[utoipa::path(
    operation_id = "getCurrentUser",
    tag = "auth",
    responses(
        (status = 200, description = "The caller", body = UserView),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/auth/me")]
pub async fn me(state: web::Data<AppState>, caller: AuthUser) -> Result<HttpResponse, ApiError> {
    let user = users::get(&state.db, caller.id).await?;
    Ok(super::with_etag(
        StatusCode::OK,
        user.version,
        &UserView::from(&user),
    ))
}

/// Change one's own password. Every token issued before stops working; the answer carries
/// new ones.
#[utoipa::path(
    operation_id = "changePassword",
    tag = "auth",
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Password changed; new tokens", body = TokenResponse),
        (status = 401, description = "Not logged in, or wrong current password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The new password breaks a rule", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords for this account (`account_rate_limited`; a wrong current password counts like a wrong password at login): retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/auth/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let body = body.parse()?;
    let user =
        users::change_password(&state, &caller, &body.current_password, body.new_password).await?;
    let tokens: TokenResponse = auth::start_session(&state, &user).await?.into();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(tokens))
}

/// Register as an applicant.
#[utoipa::path(
    operation_id = "registerApplicant",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered; log in to get a token", body = UserView, headers(("Location" = String, description = "The new resource's path"), ("ETag" = String, description = "Its version, for If-Match"))),
        (status = 409, description = "User name taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/register")]
pub async fn register(
    state: web::Data<AppState>,
    body: Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.parse()?;
    let user = users::register(
        &state.db,
        state.now(),
        &state.settings.auth.password_hash,
        users::NewUser {
            username: body.username,
            password: body.password,
            full_name: body.full_name,
            role: Role::Applicant,
            agency: None,
        },
    )
    .await?;
    Ok(super::created(
        format!("/api/v1/users/{}", user.id),
        user.version,
        &UserView::from(&user),
    ))
}
