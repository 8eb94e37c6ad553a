//! Every user's inbox: its notices, and marking them read.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageParams;
use crate::auth::AuthUser;
use crate::error::{ApiError, Problem};
use crate::service::notifications as service;
use crate::state::AppState;

/// A notice of the caller's inbox.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8", "kind": "admissibility_integration_requested",
    "message": "The agency asks you to complete application RLD-DEMO-CONCILIAZIONE-000001: ... Answer by 08/12/2026 23:59:59 (Europe/Rome).",
    "data": {"application_id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "deadline": "2026-12-08T22:59:59.000000Z"}, "created_at": "2026-11-28T10:00:00.000000Z", "read_at": null}))]
pub struct NotificationView {
    pub id: Uuid,
    pub kind: String,
    /// In the language of `Accept-Language`.
    pub message: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    #[serde(with = "crate::domain::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::option")]
    pub read_at: Option<DateTime<Utc>>,
}

/// A page of notices.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"items": [], "total": 0, "page": 1, "per_page": 20}))]
pub struct NotificationList {
    pub items: Vec<NotificationView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// Filters of the inbox.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Only the notices not yet read.
    pub unread: Option<bool>,
}

/// List the caller's inbox, newest first.
///
/// The notices the service left for the caller about its partnerships, applications, reviews and
/// grants, each saying whether it has been read. Paged.
#[utoipa::path(
    operation_id = "listNotifications",
    tag = "notifications",
    params(PageParams, NotificationQuery),
    responses(
        (status = 200, description = "A page of notices", body = NotificationList),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/notifications")]
pub async fn list_notifications(
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<NotificationQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let lang = crate::error::current_context().lang;
    let (items, total) =
        service::list(&state.db, &caller, query.unread.unwrap_or(false), page).await?;
    Ok(HttpResponse::Ok().json(NotificationList {
        items: items
            .into_iter()
            .map(|n| NotificationView {
                id: n.id,
                kind: n.kind,
                message: n.message.get(lang).to_owned(),
                data: n.data,
                created_at: n.created_at,
                read_at: n.read_at,
            })
            .collect(),
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Mark a notice as read.
///
/// Only a notice of the caller's own inbox; marking it again changes nothing (idempotent).
#[utoipa::path(
    operation_id = "readNotification",
    tag = "notifications",
    params(("notification_id" = Uuid, Path, description = "The notice's id")),
    responses(
        (status = 204, description = "Marked read"),
        (status = 404, description = "No such notice in the caller's inbox", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/notifications/{notification_id}/read")]
pub async fn read_notification(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    service::mark_read(&state.db, &caller, path.into_inner(), state.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}
