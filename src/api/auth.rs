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
    #[schema(min_length = 12, max_length = 128)]
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
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
    #[schema(max_length = 200)]
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
///
/// Answers an access token (a JWT to send as `Authorization: Bearer ...`), its lifetime, and a
/// refresh token for `POST /api/v1/auth/refresh`. Wrong passwords are limited per address and per
/// account (429 with `Retry-After`).
#[utoipa::path(
    operation_id = "logIn",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse, headers(("Cache-Control" = String, description = "`no-store`: tokens are never kept by a cache"))),
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

/// An error of the OAuth2 token endpoint, in the shape OAuth2 clients read (RFC 6749 §5.2),
/// with the service's own `code` beside it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"error": "invalid_grant", "error_description": "The user name or the password is wrong, or the account is disabled.",
    "code": "invalid_credentials", "request_id": "5f0c8a1e-7d3b-4c55-9d8e-3b2f4a6c1d20"}))]
pub struct TokenError {
    /// `invalid_request` (a field missing, or a form that cannot be read),
    /// `unsupported_grant_type`, or `invalid_grant` (wrong user name or password, a disabled
    /// account, a refresh token that is invalid, expired, already exchanged or of an ended
    /// session).
    #[schema(max_length = 32)]
    pub error: String,
    /// Why, in English or Italian (`Accept-Language`): what Swagger UI shows under its login
    /// form.
    #[schema(max_length = 1024)]
    pub error_description: String,
    /// The service's error code, as in its problem documents (e.g. `invalid_credentials`,
    /// `refresh_token_reused`, `session_ended`).
    #[schema(max_length = 64)]
    pub code: String,
    /// The request's id, also in `X-Request-Id`.
    #[schema(max_length = 64)]
    pub request_id: Option<String>,
}

/// The token endpoint's answer to a request it cannot read or whose grant fails: RFC 6749
/// §5.2 (always 400) instead of problem+json. `None` for the rest (a 413, a 415, a 429, a
/// 503), which stay problem+json like everywhere else.
fn token_error(err: &ApiError) -> Option<HttpResponse> {
    let error = match err {
        ApiError::BadRequest {
            code: ErrorCode::UnsupportedGrantType,
            ..
        } => "unsupported_grant_type",
        ApiError::BadRequest { .. } => "invalid_request",
        ApiError::Unauthorized { .. } => "invalid_grant",
        _ => return None,
    };
    let ctx = crate::error::current_context();
    let problem = err.problem(&ctx);
    Some(
        HttpResponse::BadRequest()
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Pragma", "no-cache"))
            .insert_header((
                actix_web::http::header::CONTENT_LANGUAGE,
                if ctx.lang == crate::error::Lang::It {
                    "it"
                } else {
                    "en"
                },
            ))
            .json(TokenError {
                error: error.to_owned(),
                error_description: problem.detail,
                code: problem.code,
                request_id: problem.request_id,
            }),
    )
}

/// Get tokens: the OAuth2 token endpoint.
///
/// The password grant (what Swagger UI's login uses) and the refresh grant, as
/// `application/x-www-form-urlencoded`. Unlike every other operation, it answers a request it
/// cannot read or a grant that fails in the OAuth2 shape (RFC 6749 §5.2: 400 with `error` and
/// `error_description`, and the service's `code`), so that OAuth2 clients, Swagger UI among them,
/// show why; its other errors are problem+json.
#[utoipa::path(
    operation_id = "requestToken",
    tag = "auth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens issued", body = TokenResponse, headers(("Cache-Control" = String, description = "`no-store`: tokens are never kept by a cache"))),
        (status = 400, description = "The OAuth2 error (RFC 6749 §5.2), not problem+json: `invalid_request` (a missing field, every one named, or a form that cannot be read), `unsupported_grant_type`, or `invalid_grant`: wrong user name or password or a disabled account (`code` `invalid_credentials`), a refresh token that is invalid (`invalid_token`), already exchanged (`refresh_token_reused`: its session is ended) or of an ended session (`session_ended`)", body = TokenError,
            extensions(("x-noqa" = json!("RFC 6749 §5.2: OAuth2 clients read the token endpoint's errors in this shape")))),
        (status = 429, description = "Too many tries from this address (`rate_limited`), or too many wrong passwords for this account (`account_rate_limited`, whatever the address; even the right password waits): retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[post("/auth/token")]
pub async fn token(
    state: web::Data<AppState>,
    form: Result<web::Form<TokenForm>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let tokens = match form {
        Ok(form) => grant(&state, form.into_inner()).await.map_err(Into::into),
        Err(unreadable) => Err(unreadable),
    };
    match tokens {
        Ok(tokens) => Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(tokens)),
        Err(e) => match e.as_error::<ApiError>().and_then(token_error) {
            Some(answer) => Ok(answer),
            None => Err(e),
        },
    }
}

/// The tokens of a grant.
async fn grant(state: &AppState, form: TokenForm) -> Result<TokenResponse, ApiError> {
    match form.grant_type.as_str() {
        "password" => match (form.username, form.password) {
            (Some(username), Some(password)) => tokens_for(state, &username, &password).await,
            (username, password) => Err(missing(&[
                ("username", username.is_none()),
                ("password", password.is_none()),
            ])),
        },
        "refresh_token" => match form.refresh_token {
            Some(refresh_token) => refreshed(state, &refresh_token).await,
            None => Err(missing(&[("refresh_token", true)])),
        },
        _ => Err(ApiError::from(ErrorCode::UnsupportedGrantType)),
    }
}

/// The 400 naming every field the grant needs and the form lacks.
fn missing(fields: &[(&'static str, bool)]) -> ApiError {
    let missing: Vec<&str> = fields
        .iter()
        .filter(|(_, absent)| *absent)
        .map(|(field, _)| *field)
        .collect();
    ApiError::bad_request(
        ErrorCode::InvalidRequest.with(&[("field", &missing.join(", "))]),
        missing
            .iter()
            .map(|field| crate::domain::Violation::new(*field, ErrorCode::MissingField))
            .collect(),
    )
}

async fn refreshed(state: &AppState, refresh_token: &str) -> Result<TokenResponse, ApiError> {
    Ok(auth::refresh(state, refresh_token).await?.into())
}

/// Exchange a refresh token for new tokens.
///
/// A refresh token is used once: the answer carries the next one, and the one sent is retired. A
/// retired refresh token sent again ends its whole session (`refresh_token_reused`): either it was
/// copied, or the client kept an old one; in both cases its holder logs in again.
#[utoipa::path(
    operation_id = "refreshTokens",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "Tokens renewed", body = TokenResponse, headers(("Cache-Control" = String, description = "`no-store`: tokens are never kept by a cache"))),
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

/// Log out: end the caller's session.
///
/// Its access token and its refresh tokens stop working at once, on every replica; the user's other
/// sessions (other devices) go on.
#[utoipa::path(
    operation_id = "logOut",
    tag = "auth",
    responses(
        (status = 204, description = "The session is ended"),
        (status = 401, description = "Not logged in, or the session already ended", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    caller: AuthUser,
) -> Result<HttpResponse, ApiError> {
    auth::logout(&state, &caller).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Read the caller's own account.
///
/// The user name, full name, role and, for evaluators, agency of the token's user: what a client
/// needs to show who is logged in and what they may do.
#[utoipa::path(
    operation_id = "getCurrentUser",
    tag = "auth",
    responses(
        (status = 200, description = "The caller", body = UserView),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
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

/// Change one's own password.
///
/// With the current password and a new one that meets the password rules (each broken rule is
/// listed). Every token issued before stops working, on every device; the answer carries new ones.
#[utoipa::path(
    operation_id = "changePassword",
    tag = "auth",
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Password changed; new tokens", body = TokenResponse, headers(("Cache-Control" = String, description = "`no-store`: tokens are never kept by a cache"))),
        (status = 401, description = "Not logged in, or wrong current password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The new password breaks a rule", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords for this account (`account_rate_limited`; a wrong current password counts like a wrong password at login): retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
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
///
/// Creates an applicant account (the other roles are created by administrators); then log in to get
/// a token. The user name is an e-mail address; the password must meet the password rules, every
/// broken one listed. Limited per address (429 with `Retry-After`).
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
