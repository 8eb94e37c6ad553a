//! The annexes of an application: their metadata and SHA-256 (the files are kept elsewhere).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::handlers::{answer, to_json};
use crate::api::extract::Json;
use crate::auth::AuthUser;
use crate::error::{ApiError, Problem};
use crate::service::applications::{self as service, Document, NewDocument};
use crate::state::AppState;

/// The metadata of an annex kept elsewhere.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "partnership_agreement", "file_name": "accordo-partenariato.pdf", "size_bytes": 482113,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "organization_id": null}))]
pub struct DocumentInput {
    /// One of the call's annex kinds (e.g. `partnership_agreement`, `letter_of_adhesion`) or `other`.
    pub kind: String,
    pub file_name: String,
    pub size_bytes: i64,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    /// The member an annex is about (e.g. the adhering partner of a letter of adhesion).
    pub organization_id: Option<Uuid>,
}

/// An annex.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "8d7c6b5a-4f3e-4d2c-9b1a-0f9e8d7c6b5a", "kind": "partnership_agreement", "file_name": "accordo-partenariato.pdf", "size_bytes": 482113,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "organization_id": null, "created_at": "2026-11-28T09:00:00Z"}))]
pub struct DocumentView {
    pub id: Uuid,
    pub kind: String,
    pub file_name: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub organization_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<&Document> for DocumentView {
    fn from(d: &Document) -> DocumentView {
        DocumentView {
            id: d.id,
            kind: d.kind.clone(),
            file_name: d.file_name.clone(),
            size_bytes: d.size_bytes,
            sha256: d.sha256.clone(),
            organization_id: d.organization_id,
            created_at: d.created_at,
        }
    }
}

/// Record an annex (its metadata and SHA-256; the file is kept elsewhere) while a draft.
#[utoipa::path(
    operation_id = "addApplicationDocument",
    tag = "applications",
    params(
        ("application_id" = Uuid, Path, description = "The application's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key, e.g. a UUID"),
    ),
    request_body = DocumentInput,
    responses(
        (status = 201, description = "Recorded", body = DocumentView),
        (status = 403, description = "Only applicants record annexes", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application that the caller leads", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already submitted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown kind, bad hash, size or file name, not a member", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[post("/applications/{application_id}/documents")]
pub async fn add_document(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<DocumentInput>,
) -> Result<HttpResponse, ApiError> {
    let doc = service::add_document(&state.db, &caller, state.now(), path.into_inner(), || {
        let d = body.parse()?;
        Ok(NewDocument {
            kind: d.kind,
            file_name: d.file_name,
            size_bytes: d.size_bytes,
            sha256: d.sha256,
            organization_id: d.organization_id,
        })
    })
    .await?;
    Ok(answer(
        StatusCode::CREATED,
        to_json(&DocumentView::from(&doc))?,
    ))
}

/// The annexes of an application.
#[utoipa::path(
    operation_id = "listApplicationDocuments",
    tag = "applications",
    params(("application_id" = Uuid, Path, description = "The application's id")),
    responses(
        (status = 200, description = "The annexes", body = Vec<DocumentView>),
        (status = 403, description = "An evaluator who has not declared on its conflict of interest, or declared one", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:welfare-grants:problem:conflict_declaration_required", "title": "Forbidden", "status": 403, "code": "conflict_declaration_required",
                "detail": "Declare whether you have a conflict of interest with the partnership's members first (POST .../conflict-of-interest)."})),
        (status = 404, description = "No such application that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[get("/applications/{application_id}/documents")]
pub async fn list_documents(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let docs: Vec<DocumentView> = service::documents(&state.db, &caller, path.into_inner())
        .await?
        .iter()
        .map(DocumentView::from)
        .collect();
    Ok(HttpResponse::Ok().json(docs))
}

/// Delete an annex while the application is a draft.
#[utoipa::path(
    operation_id = "deleteApplicationDocument",
    tag = "applications",
    params(
        ("application_id" = Uuid, Path, description = "The application's id"),
        ("document_id" = Uuid, Path, description = "The annex's id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Only applicants delete annexes", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application or annex", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already submitted", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("oauth2" = []))
)]
#[delete("/applications/{application_id}/documents/{document_id}")]
pub async fn delete_document(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, document_id) = path.into_inner();
    service::delete_document(&state.db, &caller, state.now(), id, document_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
