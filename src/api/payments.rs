//! Payments of grants: the plan of a grant and its payments, the list, and the steps of a
//! payment (authorize, record, cancel).

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::PageParams;
use super::extract::Json;
use crate::auth::AuthUser;
use crate::domain::agency::AgencyCode;
use crate::domain::award::{Act, ActInput, PaymentStatus, Recording, TrancheTrigger};
use crate::domain::money::Money;
use crate::domain::percent::Percent;
use crate::error::{ApiError, Problem};
use crate::service::payments::{self as service, StoredPayment};
use crate::state::AppState;

/// A payment of a grant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "grant_id": "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d",
    "call_id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "agency_code": "MONTAGNA", "tranche": "advance", "amount": "35000.00",
    "status": "authorized", "due_at": "2027-04-01T08:00:00.000000Z",
    "authorized_by": "7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a", "authorized_at": "2027-04-10T09:30:00.000000Z",
    "liquidation": {"number": "DDG 1234/2027", "date": "2027-04-10"},
    "recorded_by": null, "recorded_at": null, "order": null, "failure_reason": null,
    "cancelled_by": null, "cancelled_at": null, "cancel_reason": null, "updated_at": "2027-04-10T09:30:00.000000Z"}))]
pub struct PaymentView {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub call_id: Uuid,
    pub agency_code: AgencyCode,
    /// The code of the payment plan's tranche it pays.
    pub tranche: String,
    pub amount: Money,
    pub status: PaymentStatus,
    /// When its tranche's trigger made it due.
    #[serde(with = "crate::domain::timestamp")]
    pub due_at: DateTime<Utc>,
    /// The evaluator of the ATS who authorized it last, with the liquidation act.
    pub authorized_by: Option<Uuid>,
    #[serde(with = "crate::domain::timestamp::option")]
    pub authorized_at: Option<DateTime<Utc>>,
    pub liquidation: Option<Act>,
    /// The administrator who recorded it paid or failed (never its authorizer).
    pub recorded_by: Option<Uuid>,
    #[serde(with = "crate::domain::timestamp::option")]
    pub recorded_at: Option<DateTime<Utc>>,
    /// The payment order, once paid.
    pub order: Option<Act>,
    /// Why the last payment order failed.
    pub failure_reason: Option<String>,
    pub cancelled_by: Option<Uuid>,
    #[serde(with = "crate::domain::timestamp::option")]
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    #[serde(with = "crate::domain::timestamp")]
    pub updated_at: DateTime<Utc>,
}

impl From<&StoredPayment> for PaymentView {
    fn from(s: &StoredPayment) -> PaymentView {
        let p = &s.payment;
        PaymentView {
            id: p.id,
            grant_id: p.grant_id,
            call_id: s.call_id,
            agency_code: p.agency,
            tranche: p.tranche.clone(),
            amount: p.amount,
            status: p.status,
            due_at: s.due_at,
            authorized_by: p.authorized_by,
            authorized_at: s.authorized_at,
            liquidation: p.liquidation.clone(),
            recorded_by: p.recorded_by,
            recorded_at: s.recorded_at,
            order: p.order.clone(),
            failure_reason: p.failure_reason.clone(),
            cancelled_by: p.cancelled_by,
            cancelled_at: s.cancelled_at,
            cancel_reason: p.cancel_reason.clone(),
            updated_at: s.updated_at,
        }
    }
}

/// A page of payments.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"items": [], "total": 0, "page": 1, "per_page": 20}))]
pub struct PaymentList {
    pub items: Vec<PaymentView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// A tranche of the grant's payment plan, with its amount for this grant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"code": "advance", "share": "70.00", "trigger": "start_communicated", "amount": "35000.00"}))]
pub struct PlannedTranche {
    pub code: String,
    pub share: Percent,
    pub trigger: TrancheTrigger,
    /// The share of the grant rounded down to the cent; the last tranche takes the remainder
    /// (the balance: at the final report, the final grant less everything paid).
    pub amount: Money,
}

/// A grant's payment plan and its payments.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"grant_id": "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d", "grant_amount": "50000.00", "paid": "0.00", "to_pay": "50000.00",
    "plan": [{"code": "advance", "share": "70.00", "trigger": "start_communicated", "amount": "35000.00"},
             {"code": "balance", "share": "30.00", "trigger": "final_report_approved", "amount": "15000.00"}],
    "payments": []}))]
pub struct GrantPayments {
    pub grant_id: Uuid,
    /// The grant: the most its payments may pay in all.
    pub grant_amount: Money,
    /// Everything paid so far.
    pub paid: Money,
    /// The grant less what was paid, while the grant is accepted (0.00 once it ended).
    pub to_pay: Money,
    pub plan: Vec<PlannedTranche>,
    /// The payments its tranches became, in the plan's order.
    pub payments: Vec<PaymentView>,
}

/// Filters of the payment list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PaymentQuery {
    pub call_id: Option<Uuid>,
    pub agency_code: Option<AgencyCode>,
    pub status: Option<PaymentStatus>,
    pub grant_id: Option<Uuid>,
}

/// An act as a request gives it: its number and its date.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"number": "DDG 1234/2027", "date": "2027-04-10"}))]
pub struct ActRequest {
    /// 1 to 100 characters.
    #[schema(max_length = 100)]
    pub number: Option<String>,
    /// Not after today (Europe/Rome).
    pub date: Option<NaiveDate>,
}

impl From<Option<ActRequest>> for ActInput {
    fn from(a: Option<ActRequest>) -> ActInput {
        let a = a.unwrap_or_default();
        ActInput {
            number: a.number,
            date: a.date,
        }
    }
}

/// The authorization of a payment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"liquidation": {"number": "DDG 1234/2027", "date": "2027-04-10"}}))]
pub struct AuthorizeRequest {
    /// The ATS's liquidation act: number and date, both required.
    pub liquidation: Option<ActRequest>,
}

/// What happened to an authorized payment.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentOutcome {
    Paid,
    Failed,
}

/// The recording of a payment: paid with the payment order, or failed with a reason.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"outcome": "paid", "order": {"number": "MP 2027/00077", "date": "2027-04-15"}}))]
pub struct RecordRequest {
    pub outcome: PaymentOutcome,
    /// Paid: the payment order's number and date (not before the liquidation act).
    pub order: Option<ActRequest>,
    /// Failed: why (up to 2000 characters).
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

/// The cancellation of a payment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Liquidazione disposta per errore: la quota non è dovuta."}))]
pub struct CancelRequest {
    /// Required, up to 2000 characters.
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

/// Read a grant's payment plan and payments.
///
/// The plan's tranches with their amounts for this grant, what was paid and what is left, and
/// each payment with its acts. For whoever may read the grant.
#[utoipa::path(
    operation_id = "getGrantPayments",
    tag = "payments",
    params(("grant_id" = Uuid, Path, description = "The grant's id")),
    responses(
        (status = 200, description = "The plan and the payments", body = GrantPayments),
        (status = 404, description = "No such grant that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/grants/{grant_id}/payments")]
pub async fn grant_payments(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (g, standing, payments) =
        crate::service::grants::payments_of(&state.db, &caller, state.now(), path.into_inner())
            .await?;
    Ok(HttpResponse::Ok().json(GrantPayments {
        grant_id: g.id,
        grant_amount: g.amount,
        paid: standing.paid,
        to_pay: standing.to_pay,
        plan: standing
            .tranches
            .into_iter()
            .map(|(t, amount)| PlannedTranche {
                code: t.code,
                share: t.share,
                trigger: t.trigger,
                amount,
            })
            .collect(),
        payments: payments.iter().map(PaymentView::from).collect(),
    }))
}

/// List the payments the caller may see.
///
/// Evaluators see their agency's; administrators, all; applicants, their partnerships' grants'.
/// Oldest due first. Paged.
#[utoipa::path(
    operation_id = "listPayments",
    tag = "payments",
    params(PageParams, PaymentQuery),
    responses(
        (status = 200, description = "A page of payments", body = PaymentList),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/payments")]
pub async fn list_payments(
    state: web::Data<AppState>,
    caller: AuthUser,
    paging: web::Query<PageParams>,
    query: web::Query<PaymentQuery>,
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
    Ok(HttpResponse::Ok().json(PaymentList {
        items: items.iter().map(PaymentView::from).collect(),
        total,
        page: page.page,
        per_page: page.per_page,
    }))
}

/// Read a payment.
///
/// Its tranche, amount and status, and the acts of each step: the liquidation act that
/// authorized it, the payment order that paid it, or why it failed or was cancelled. Visible to
/// whoever may read its grant.
#[utoipa::path(
    operation_id = "getPayment",
    tag = "payments",
    params(("payment_id" = Uuid, Path, description = "The payment's id")),
    responses(
        (status = 200, description = "The payment", body = PaymentView),
        (status = 404, description = "No such payment that the caller may see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/payments/{payment_id}")]
pub async fn get_payment(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let p = service::read(&state.db, &caller, state.now(), path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(PaymentView::from(&p)))
}

/// Authorize a payment.
///
/// By an evaluator of the grant's ATS, with the liquidation act's number and date (not after
/// today), for a payment `due` or `failed` of an accepted grant; never when it would bring the
/// total paid above the grant. Every broken rule is listed. The Region's administrators are told
/// to record it.
#[utoipa::path(
    operation_id = "authorizePayment",
    tag = "payments",
    params(("payment_id" = Uuid, Path, description = "The payment's id")),
    request_body = AuthorizeRequest,
    responses(
        (status = 200, description = "Authorized", body = PaymentView),
        (status = 403, description = "Not an evaluator of the grant's ATS", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment that the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already authorized, paid or cancelled; or the grant is no longer accepted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The act's number or date missing or invalid, or the payment above the grant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/payments/{payment_id}/authorize")]
pub async fn authorize(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<AuthorizeRequest>,
) -> Result<HttpResponse, ApiError> {
    let p = service::authorize(&state.db, &caller, state.now(), path.into_inner(), || {
        Ok(ActInput::from(body.parse()?.liquidation))
    })
    .await?;
    Ok(HttpResponse::Ok().json(PaymentView::from(&p)))
}

/// Record a payment paid or failed.
///
/// By an administrator of the Region who did not authorize it (four eyes), for an authorized
/// payment: `paid` with the payment order's number and date (between the liquidation act and
/// today), never above the grant; or `failed` with a reason, after which the ATS may authorize
/// it again. The lead is told.
#[utoipa::path(
    operation_id = "recordPayment",
    tag = "payments",
    params(("payment_id" = Uuid, Path, description = "The payment's id")),
    request_body = RecordRequest,
    responses(
        (status = 200, description = "Recorded", body = PaymentView),
        (status = 403, description = "Not an administrator, or the administrator who authorized it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not authorized, or already paid or cancelled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The order's number or date missing or invalid, no reason for a failure, or the payment above the grant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/payments/{payment_id}/record")]
pub async fn record(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<RecordRequest>,
) -> Result<HttpResponse, ApiError> {
    let p = service::record(&state.db, &caller, state.now(), path.into_inner(), || {
        let body = body.parse()?;
        let paid = matches!(body.outcome, PaymentOutcome::Paid);
        let order = body.order.map(|o| ActInput::from(Some(o)));
        Recording::of_request(paid, order, body.reason).map_err(|v| ApiError::Validation(vec![v]))
    })
    .await?;
    Ok(HttpResponse::Ok().json(PaymentView::from(&p)))
}

/// Cancel a payment.
///
/// By an evaluator of the grant's ATS or an administrator, with a reason, while not paid. The
/// lead and the ATS are told. A cancelled payment is final: its tranche is not due again (a
/// payment order that did not go through is recorded `failed` and authorized again instead).
#[utoipa::path(
    operation_id = "cancelPayment",
    tag = "payments",
    params(("payment_id" = Uuid, Path, description = "The payment's id")),
    request_body = CancelRequest,
    responses(
        (status = 200, description = "Cancelled", body = PaymentView),
        (status = 403, description = "Neither an evaluator of the grant's ATS nor an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment that the caller may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already paid or cancelled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/payments/{payment_id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<Uuid>,
    body: Json<CancelRequest>,
) -> Result<HttpResponse, ApiError> {
    let p = service::cancel(&state.db, &caller, state.now(), path.into_inner(), || {
        Ok(body.parse()?.reason)
    })
    .await?;
    Ok(HttpResponse::Ok().json(PaymentView::from(&p)))
}
