//! Recovery orders: what grants paid beyond what they now allow, and their settlement.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageParams;
use super::extract::Json;
use crate::auth::AuthUser;
use crate::domain::agency::AgencyCode;
use crate::domain::award::RecoveryStatus;
use crate::domain::money::Money;
use crate::error::{ApiError, Problem};
use crate::service::recoveries::{self as service, StoredRecovery};
use crate::state::AppState;

/// A recovery order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "grant_id": "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d",
    "call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "agency_code": "MONTAGNA", "amount": "35000.00", "status": "issued",
    "due_date": "2027-06-09", "reason": "Grant revoked: progetto non avviato.", "issued_at": "2027-05-10T09:00:00.000000Z",
    "settled_by": null, "settled_at": null, "payment_reference": null, "cancelled_by": null, "cancelled_at": null, "cancel_reason": null}))]
pub struct RecoveryView {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub call_id: Uuid,
    pub agency_code: AgencyCode,
    /// What the grant paid beyond what it now allows.
    pub amount: Money,
    pub status: RecoveryStatus,
    /// Pay back by this day (the call's `recovery_due_days` after the issue).
    pub due_date: NaiveDate,
    /// Why it was issued.
    pub reason: String,
    #[serde(with = "crate::domain::timestamp")]
    pub issued_at: DateTime<Utc>,
    pub settled_by: Option<Uuid>,
    #[serde(with = "crate::domain::timestamp::option")]
    pub settled_at: Option<DateTime<Utc>>,
    /// The reference of the payment that settled it.
    pub payment_reference: Option<String>,
    pub cancelled_by: Option<Uuid>,
    #[serde(with = "crate::domain::timestamp::option")]
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
}

impl From<&StoredRecovery> for RecoveryView {
    fn from(s: &StoredRecovery) -> RecoveryView {
        let r = &s.recovery;
        RecoveryView {
            id: r.id,
            grant_id: r.grant_id,
            call_id: s.call_id,
            agency_code: r.agency,
            amount: r.amount,
            status: r.status,
            due_date: r.due_date,
            reason: r.reason.clone(),
            issued_at: s.issued_at,
            settled_by: r.settled_by,
            settled_at: s.settled_at,
            payment_reference: r.payment_reference.clone(),
            cancelled_by: r.cancelled_by,
            cancelled_at: s.cancelled_at,
            cancel_reason: r.cancel_reason.clone(),
        }
    }
}

/// A page of recovery orders.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"items": [], "total": 0, "page": 1, "per_page": 20}))]
pub struct RecoveryList {
    pub items: Vec<RecoveryView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// Filters of the recovery list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecoveryQuery {
    pub call_id: Option<Uuid>,
    pub agency_code: Option<AgencyCode>,
    pub status: Option<RecoveryStatus>,
    pub grant_id: Option<Uuid>,
}

/// The settlement of a recovery order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"payment_reference": "CRO 0123456789"}))]
pub struct SettleRequest {
    /// The reference of the payment that paid it back: required, up to 100 characters.
    #[schema(max_length = 100)]
    pub payment_reference: Option<String>,
}

/// The cancellation of a recovery order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Revoca annullata in autotutela (decreto n. 91)."}))]
pub struct CancelRecoveryRequest {
    /// Required, up to 2000 characters.
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

/// List the recovery orders the caller may see.
///
/// Evaluators see their agency's; administrators, all; applicants, their partnerships' grants'.
/// Oldest first. Paged.
#[utoipa::path(
    operation_id = "listRecoveries",
    tag = "recoveries",
    params(PageParams, RecoveryQuery),
    responses(
        (status = 200, description = "A page of recovery orders", body = RecoveryList),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/recoveries")]
pub async fn list_recoveries(
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<RecoveryQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = paging.page()?;
    let q = query.into_inner();
    let query = service::Query {
        call_id: q.call_id,
        agency: q.agency_code,
        status: q.status,
        grant_id: q.grant_id,
    };
    let (items, total) = service::list(&state.db, &caller, query, page).await?;
    Ok(HttpResponse::Ok().json(RecoveryList {
        items: items.iter().map(RecoveryView::from).collect(),
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Read a recovery order.
///
/// Its amount, due date and why it was issued, and how it ended. Visible to whoever may read its
/// grant.
#[utoipa::path(
    operation_id = "getRecovery",
    tag = "recoveries",
    params(("recovery_id" = Uuid, Path, description = "The recovery order's id")),
    responses(
        (status = 200, description = "The recovery order", body = RecoveryView),
        (status = 404, description = "No such recovery order that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/recoveries/{recovery_id}")]
pub async fn get_recovery(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let r = service::read(&state.db, &caller, state.now(), path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(RecoveryView::from(&r)))
}

/// Settle a recovery order.
///
/// By an administrator of the Region, with the reference of the payment that paid it back, for an
/// issued order. The lead and the ATS are told.
#[utoipa::path(
    operation_id = "settleRecovery",
    tag = "recoveries",
    params(("recovery_id" = Uuid, Path, description = "The recovery order's id")),
    request_body = SettleRequest,
    responses(
        (status = 200, description = "Settled", body = RecoveryView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such recovery order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already settled or cancelled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No payment reference", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/recoveries/{recovery_id}/settle")]
pub async fn settle(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<SettleRequest>,
) -> Result<HttpResponse, ApiError> {
    let r = service::settle(&state.db, &caller, state.now(), path.into_inner(), || {
        Ok(body.parse()?.payment_reference)
    })
    .await?;
    Ok(HttpResponse::Ok().json(RecoveryView::from(&r)))
}

/// Cancel a recovery order.
///
/// By an administrator of the Region, with a reason, for an issued order. The lead and the ATS
/// are told.
#[utoipa::path(
    operation_id = "cancelRecovery",
    tag = "recoveries",
    params(("recovery_id" = Uuid, Path, description = "The recovery order's id")),
    request_body = CancelRecoveryRequest,
    responses(
        (status = 200, description = "Cancelled", body = RecoveryView),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such recovery order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already settled or cancelled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/recoveries/{recovery_id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<CancelRecoveryRequest>,
) -> Result<HttpResponse, ApiError> {
    let r = service::cancel(&state.db, &caller, state.now(), path.into_inner(), || {
        Ok(body.parse()?.reason)
    })
    .await?;
    Ok(HttpResponse::Ok().json(RecoveryView::from(&r)))
}
