//! The audit log: every state change, who made it, when, and what it changed.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageParams;
use super::csv::{CsvWriter, Dialect};
use crate::auth::AuthUser;
use crate::domain::ErrorCode;
use crate::error::{ApiError, Problem};
use crate::service::operations::{self, AuditFilter as Filter};
use crate::state::AppState;

/// One audit event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b", "occurred_at": "2026-11-28T10:15:00.000000Z", "actor_id": "0b6f4d1e-3c9a-4a57-9a51-6c1f0e2d8b11",
    "actor_role": "applicant", "action": "application.submitted", "entity_type": "application", "entity_id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
    "before": null, "after": {"protocol_number": "RLD-DEMO-CONCILIAZIONE-000001"}, "request_id": "5f0c8a1e-7d3b-4c55-9d8e-3b2f4a6c1d20"}))]
pub struct AuditEventView {
    pub id: Uuid,
    #[serde(with = "crate::domain::timestamp")]
    pub occurred_at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    /// The entity as it was: an object, or a list (a call's envelopes); null for a creation.
    #[schema(schema_with = snapshot_schema)]
    pub before: Option<serde_json::Value>,
    /// The entity as it became: an object, or a list (a call's envelopes); null for a deletion.
    #[schema(schema_with = snapshot_schema)]
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
}

/// What the store records of an entity before and after a change: an object, a list of
/// objects, or null. Written as a `oneOf` so that every branch is complete (an `array` type
/// needs its `items`, or client generators drop the operation). (utoipa's "any value" schema
/// does not survive `openapi::finish`, which reads the document back.)
fn snapshot_schema() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
    let object = || ObjectBuilder::new().schema_type(Type::Object);
    let one_of = OneOfBuilder::new()
        .item(object())
        .item(ArrayBuilder::new().items(object()))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(
            "The entity as the change found it (`before`) or left it (`after`): an object, or a \
             list such as a call's envelopes; null before a creation and after a deletion.",
        ))
        .build();
    Schema::OneOf(one_of)
}

/// A page of the audit log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"items": [], "total": 0, "page": 1, "per_page": 20}))]
pub struct AuditEventList {
    pub items: Vec<AuditEventView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// Filters of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// e.g. `call`, `application`, `grant`.
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub actor_id: Option<Uuid>,
    /// e.g. `application.submitted`.
    pub action: Option<String>,
    /// From this instant (included), RFC 3339.
    #[param(value_type = Option<String>)]
    pub from: Option<DateTime<FixedOffset>>,
    /// To this instant (excluded), RFC 3339.
    #[param(value_type = Option<String>)]
    pub to: Option<DateTime<FixedOffset>>,
    /// `json` (default) or `csv` (every match, no paging).
    #[param(value_type = Option<super::applications::ExportFormat>, inline)]
    pub format: Option<String>,
    /// With `format=csv`: `rfc4180` (default) or `excel-it` (a UTF-8 byte-order mark, `;`
    /// between cells, decimal commas: what Excel set to Italian opens right).
    #[param(value_type = Option<crate::api::csv::CsvDialect>, inline)]
    pub dialect: Option<String>,
}

fn view(m: crate::service::operations::AuditEvent) -> AuditEventView {
    AuditEventView {
        id: m.id,
        occurred_at: m.occurred_at,
        actor_id: m.actor_id,
        actor_role: m.actor_role,
        action: m.action,
        entity_type: m.entity_type,
        entity_id: m.entity_id,
        before: m.before.and_then(|b| serde_json::from_str(&b).ok()),
        after: m.after.and_then(|a| serde_json::from_str(&a).ok()),
        request_id: m.request_id,
    }
}

/// List the audit log.
///
/// Administrators only. Every state change, oldest first, with who made it, when, and the entity
/// before and after; filtered by entity, actor, action and time range. `format=csv` exports every
/// match instead of a page.
#[utoipa::path(
    operation_id = "listAuditEvents",
    tag = "audit",
    params(PageParams, AuditQuery),
    responses(
        (status = 200, description = "A page of audit events (or a CSV file)", content((AuditEventList = "application/json"), (String = "text/csv"))),
        (status = 400, description = "Bad filter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An empty time range or an unknown format", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/audit-events")]
pub async fn list_audit_events(
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let page = paging.page()?;
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::invalid("format", ErrorCode::UnknownFormat));
        }
    };
    let dialect = Dialect::parse(query.dialect.as_deref())?;
    if let (Some(from), Some(to)) = (query.from, query.to)
        && to <= from
    {
        return Err(ApiError::invalid("to", ErrorCode::EmptyRange));
    }
    let filter = Filter {
        entity_type: query.entity_type.clone(),
        entity_id: query.entity_id.clone(),
        actor_id: query.actor_id,
        action: query.action.clone(),
        from: query.from.map(|t| t.with_timezone(&Utc)),
        to: query.to.map(|t| t.with_timezone(&Utc)),
    };
    let (rows, total) =
        operations::audit_log(&state.db, &caller, &filter, (!csv).then_some(page)).await?;
    if csv {
        let mut out = CsvWriter::with(dialect);
        out.write_text_record([
            "id",
            "occurred_at",
            "actor_id",
            "actor_role",
            "action",
            "entity_type",
            "entity_id",
            "before",
            "after",
            "request_id",
        ])?;
        for m in rows {
            out.write_text_record([
                m.id.to_string(),
                crate::domain::timestamp::format(&m.occurred_at),
                m.actor_id.map(|a| a.to_string()).unwrap_or_default(),
                m.actor_role.unwrap_or_default(),
                m.action,
                m.entity_type,
                m.entity_id,
                m.before.unwrap_or_default(),
                m.after.unwrap_or_default(),
                m.request_id.unwrap_or_default(),
            ])?;
        }
        return out.into_response("audit-events.csv");
    }
    Ok(HttpResponse::Ok().json(AuditEventList {
        items: rows.into_iter().map(view).collect(),
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}
