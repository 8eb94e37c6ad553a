//! User management by the Region's administrators.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::extract::{Json, decode_json};
use super::{PageParams, if_match, merge_patch, with_etag};
use crate::auth::AuthUser;
use crate::domain::agency::AgencyCode;
use crate::domain::user::Role;
use crate::error::{ApiError, Problem};
use crate::service::users::{self as service, User, UserFilter};
use crate::state::AppState;

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0b6f4d1e-3c9a-4a57-9a51-6c1f0e2d8b11", "username": "valutatore.montagna@demo.welfare-grants.test",
    "full_name": "Valutatore ATS Montagna", "role": "evaluator", "agency_code": "MONTAGNA", "disabled": false,
    "created_at": "2026-11-28T09:00:00.000000Z", "updated_at": "2026-11-28T09:00:00.000000Z"
}))]
pub struct UserView {
    pub id: Uuid,
    pub username: String,
    pub full_name: String,
    pub role: Role,
    /// Only for evaluators: the agency they work for.
    pub agency_code: Option<AgencyCode>,
    pub disabled: bool,
    #[serde(with = "crate::domain::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp")]
    pub updated_at: DateTime<Utc>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> UserView {
        UserView {
            id: u.id,
            username: u.username.clone(),
            full_name: u.full_name.clone(),
            role: u.role,
            agency_code: u.agency,
            disabled: u.disabled,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// A page of users.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"items": [{"id": "0b6f4d1e-3c9a-4a57-9a51-6c1f0e2d8b11", "username": "valutatore.montagna@demo.welfare-grants.test", "full_name": "Valutatore ATS Montagna", "role": "evaluator", "agency_code": "MONTAGNA", "disabled": false, "created_at": "2026-11-28T09:00:00.000000Z", "updated_at": "2026-11-28T09:00:00.000000Z"}], "total": 1, "page": 1, "per_page": 20}))]
pub struct UserList {
    pub items: Vec<UserView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// A new user, created by an administrator.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "username": "valutatore2.brescia@ats-brescia.example", "password": "a long and private passphrase",
    "full_name": "Giulia Bianchi", "role": "evaluator", "agency_code": "BRESCIA"
}))]
pub struct NewUser {
    pub username: String,
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
    #[schema(max_length = 200)]
    pub full_name: String,
    pub role: Role,
    /// Required for evaluators, forbidden for the other roles.
    pub agency_code: Option<AgencyCode>,
}

/// The fields of a user an administrator may change (JSON Merge Patch).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"disabled": true}))]
pub struct UserPatch {
    #[schema(max_length = 200)]
    pub full_name: Option<String>,
    pub role: Option<Role>,
    /// `null` removes the agency (when the role is no longer evaluator).
    pub agency_code: Option<AgencyCode>,
    /// A disabled user cannot log in and its tokens stop working at once.
    pub disabled: Option<bool>,
    /// Set a new password; every token of the user stops working.
    #[schema(min_length = 12, max_length = 128)]
    pub password: Option<String>,
}

/// The editable state of a user, the document the merge patch applies to.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEditable {
    full_name: String,
    role: Role,
    agency_code: Option<AgencyCode>,
    disabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

/// Filters of the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    pub role: Option<Role>,
    pub agency_code: Option<AgencyCode>,
    pub disabled: Option<bool>,
}

fn user_id_param(path: web::Path<Uuid>) -> Uuid {
    path.into_inner()
}

/// Create a user of any role.
///
/// Administrators only: applicants, evaluators (with their agency) and administrators. The password
/// must meet the password rules, every broken one listed.
#[utoipa::path(
    operation_id = "createUser",
    tag = "users",
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = UserView, headers(("Location" = String, description = "The new resource's path"), ("ETag" = String, description = "Its version, for If-Match"))),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "User name taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: Json<NewUser>,
) -> Result<HttpResponse, ApiError> {
    let user = service::create(
        &state.db,
        &caller,
        state.now(),
        &state.settings.auth.password_hash,
        || {
            let body = body.parse()?;
            Ok(service::NewUser {
                username: body.username,
                password: body.password,
                full_name: body.full_name,
                role: body.role,
                agency: body.agency_code,
            })
        },
    )
    .await?;
    Ok(super::created(
        format!("/api/v1/users/{}", user.id),
        user.version,
        &UserView::from(&user),
    ))
}

/// List users, by user name.
///
/// Administrators only; paged, and filtered by role, agency and whether disabled.
#[utoipa::path(
    operation_id = "listUsers",
    tag = "users",
    params(PageParams, UserQuery),
    responses(
        (status = 200, description = "A page of users", body = UserList),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<UserQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let page = paging.page()?;
    let filter = UserFilter {
        role: query.role,
        agency: query.agency_code,
        disabled: query.disabled,
    };
    let (items, total) = service::list(&state.db, &caller, &filter, page).await?;
    Ok(HttpResponse::Ok().json(UserList {
        items: items.iter().map(UserView::from).collect(),
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Read a user.
///
/// Administrators only. Its `ETag` goes in the `If-Match` of a `PATCH`.
#[utoipa::path(
    operation_id = "getUser",
    tag = "users",
    params(("user_id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user; its ETag is needed to change it", body = UserView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/users/{user_id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let user = service::read(&state.db, &caller, user_id_param(path)).await?;
    Ok(with_etag(
        StatusCode::OK,
        user.version,
        &UserView::from(&user),
    ))
}

/// Change a user.
///
/// Administrators only: disable or enable it, change its role or agency, reset its password. A JSON
/// Merge Patch, with `If-Match` set to the user's `ETag`. Disabling a user or resetting its
/// password ends its sessions; an administrator cannot disable or demote itself.
#[utoipa::path(
    operation_id = "updateUser",
    tag = "users",
    params(
        ("user_id" = Uuid, Path, description = "The user's id"),
        ("If-Match" = String, Header, description = "The ETag of the user as last read"),
    ),
    request_body(content = UserPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "Changed", body = UserView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The user changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/users/{user_id}")]
pub async fn patch_user(
    state: web::Data<AppState>,
    caller: AuthUser,
    req: HttpRequest,
    path: web::Path<Uuid>,
    body: Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let id = user_id_param(path);
    let version = if_match(&req)?;
    let user = service::patch(
        &state.db,
        &caller,
        state.now(),
        &state.settings.auth.password_hash,
        id,
        version,
        |current| {
            let mut doc = serde_json::to_value(UserEditable {
                full_name: current.full_name.clone(),
                role: current.role,
                agency_code: current.agency,
                disabled: current.disabled,
                password: None,
            })
            .map_err(anyhow::Error::from)?;
            merge_patch(&mut doc, &body.parse()?)?;
            let edited: UserEditable = decode_json(doc.to_string().as_bytes())?;
            Ok(service::UserEdit {
                full_name: edited.full_name,
                role: edited.role,
                agency: edited.agency_code,
                disabled: edited.disabled,
                password: edited.password,
            })
        },
    )
    .await?;
    Ok(with_etag(
        StatusCode::OK,
        user.version,
        &UserView::from(&user),
    ))
}
