//! Grants: created by an approved ranking, answered by the applicants.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, Actor, Change};
use super::rows::money;
use super::{Page, begin_write, notifications};
use crate::clock::Clock;
use crate::domain::agency::AgencyCode;
use crate::domain::grant::{GrantStatus, answer};
use crate::domain::money::Money;
use crate::domain::ranking::{Allocation, Outcome};
use crate::domain::review::deadline_after;
use crate::domain::violation::Msg;
use crate::entity::grant;
use crate::error::ApiError;

/// A grant as stored.
#[derive(Debug, Clone)]
pub struct Grant {
    pub id: Uuid,
    pub call_id: Uuid,
    pub agency: AgencyCode,
    pub application_id: Uuid,
    pub amount: Money,
    pub requested: Money,
    pub status: GrantStatus,
    pub offered_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub cup: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub ranking_version: i32,
}

fn to_grant(m: grant::Model) -> Result<Grant, DbErr> {
    let bad = |what: &str| DbErr::Custom(format!("grant {} has an invalid {what}", m.id));
    Ok(Grant {
        agency: AgencyCode::parse(&m.agency_code).ok_or_else(|| bad("agency"))?,
        status: GrantStatus::parse(&m.status).ok_or_else(|| bad("status"))?,
        amount: money(m.amount)?,
        requested: money(m.requested)?,
        id: m.id,
        call_id: m.call_id,
        application_id: m.application_id,
        offered_at: m.offered_at,
        deadline: m.deadline,
        cup: m.cup,
        answered_at: m.answered_at,
        reason: m.reason,
        ranking_version: m.ranking_version,
    })
}

pub fn grant_not_found() -> ApiError {
    ApiError::not_found(
        "grant_not_found",
        "There is no such grant that you may see.",
        "Non esiste un contributo con questo identificativo visibile a lei.",
    )
}

/// Offer a grant to every funded entry of an approved ranking, inside its transaction: the
/// grants are inserted a thousand at a time.
pub async fn offer_all<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    agency: AgencyCode,
    allocation: &Allocation,
    ranking_version: i32,
    acceptance_days: u32,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let offers: Vec<(grant::ActiveModel, serde_json::Value)> = allocation
        .entries
        .iter()
        .filter(|e| matches!(e.outcome, Outcome::Funded | Outcome::PartiallyFunded))
        .map(|e| {
            offered(
                call_id,
                agency,
                e.application_id,
                e.amount,
                e.requested,
                ranking_version,
                acceptance_days,
                now,
            )
        })
        .collect();
    // 14 columns a row: well under the databases' bind limits.
    for chunk in offers.chunks(1000) {
        grant::Entity::insert_many(chunk.iter().map(|(row, _)| row.clone()))
            .exec(conn)
            .await?;
    }
    for (_, event) in offers {
        super::webhooks::enqueue(
            conn,
            now,
            crate::domain::webhook::EventType::GrantOffered,
            event,
        )
        .await?;
    }
    Ok(())
}

/// Offer one grant, with a deadline counted from now.
#[allow(clippy::too_many_arguments)]
pub async fn offer<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    agency: AgencyCode,
    application_id: Uuid,
    amount: Money,
    requested: Money,
    ranking_version: i32,
    acceptance_days: u32,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let (row, event) = offered(
        call_id,
        agency,
        application_id,
        amount,
        requested,
        ranking_version,
        acceptance_days,
        now,
    );
    row.insert(conn).await?;
    super::webhooks::enqueue(
        conn,
        now,
        crate::domain::webhook::EventType::GrantOffered,
        event,
    )
    .await
}

/// A grant offered now, and the data of its webhook event.
#[allow(clippy::too_many_arguments)]
fn offered(
    call_id: Uuid,
    agency: AgencyCode,
    application_id: Uuid,
    amount: Money,
    requested: Money,
    ranking_version: i32,
    acceptance_days: u32,
    now: DateTime<Utc>,
) -> (grant::ActiveModel, serde_json::Value) {
    let id = Uuid::new_v4();
    let deadline = deadline_after(now, acceptance_days);
    let row = grant::ActiveModel {
        id: Set(id),
        call_id: Set(call_id),
        agency_code: Set(agency.as_str().to_owned()),
        application_id: Set(application_id),
        amount: Set(amount.as_decimal()),
        requested: Set(requested.as_decimal()),
        status: Set(GrantStatus::Offered.as_str().to_owned()),
        offered_at: Set(now),
        deadline: Set(deadline),
        cup: Set(None),
        answered_at: Set(None),
        reason: Set(None),
        ranking_version: Set(ranking_version),
        version: Set(1),
    };
    let event = serde_json::json!({
        "entity_type": "grant",
        "entity_id": id,
        "change": {
            "status": GrantStatus::Offered,
            "call_id": call_id,
            "agency_code": agency,
            "application_id": application_id,
            "amount": amount,
            "requested": requested,
            "deadline": deadline,
            "ranking_version": ranking_version,
        },
    });
    (row, event)
}

/// Raise the amount of a grant (a partial grant topped up by scorrimento).
pub async fn top_up<C: ConnectionTrait>(conn: &C, id: Uuid, amount: Money) -> Result<(), DbErr> {
    grant::Entity::update_many()
        .col_expr(
            grant::Column::Amount,
            sea_orm::sea_query::Expr::value(amount.as_decimal()),
        )
        .filter(grant::Column::Id.eq(id))
        .exec(conn)
        .await
        .map(|_| ())
}

pub async fn get<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<Grant>, DbErr> {
    grant::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(to_grant)
        .transpose()
}

/// The grants of a call's agency.
pub async fn of_agency<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<Vec<Grant>, DbErr> {
    grant::Entity::find()
        .filter(grant::Column::CallId.eq(call_id))
        .filter(grant::Column::AgencyCode.eq(agency.as_str()))
        .order_by_asc(grant::Column::OfferedAt)
        .order_by_asc(grant::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(to_grant)
        .collect()
}

/// The money an agency has committed: offered and accepted grants, added in Rust.
pub fn committed(grants: &[Grant]) -> Money {
    Money::sum(
        grants
            .iter()
            .filter(|g| g.status.commits())
            .map(|g| g.amount),
    )
    .unwrap_or(Money::ZERO)
}

/// Filters of the grant list; the scope comes from the caller's role.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub call_id: Option<Uuid>,
    pub agency: Option<AgencyCode>,
    pub status: Option<GrantStatus>,
    /// Applicants: only these applications' grants.
    pub applications: Option<BTreeSet<Uuid>>,
}

pub async fn list(
    db: &DatabaseConnection,
    f: &Filter,
    page: Page,
) -> Result<(Vec<Grant>, u64), DbErr> {
    let mut q = grant::Entity::find();
    if let Some(c) = f.call_id {
        q = q.filter(grant::Column::CallId.eq(c));
    }
    if let Some(a) = f.agency {
        q = q.filter(grant::Column::AgencyCode.eq(a.as_str()));
    }
    if let Some(s) = f.status {
        q = q.filter(grant::Column::Status.eq(s.as_str()));
    }
    if let Some(apps) = &f.applications {
        q = q.filter(grant::Column::ApplicationId.is_in(apps.iter().copied()));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(grant::Column::OfferedAt)
        .order_by_asc(grant::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok((
        rows.into_iter().map(to_grant).collect::<Result<_, _>>()?,
        total,
    ))
}

/// Answer an offer (the lead's representatives): accept with a CUP, or decline.
pub async fn answer_offer(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &Arc<dyn Clock>,
    id: Uuid,
    accept: bool,
    cup: Option<&str>,
    reason: Option<&str>,
) -> Result<Grant, ApiError> {
    let tx = begin_write(db).await?;
    if let Some(g) = get(&tx, id).await? {
        super::calls::lock_envelopes(&tx, g.call_id).await?;
    }
    let q = grant::Entity::find_by_id(id);
    let row = match tx.get_database_backend() {
        DatabaseBackend::Postgres => q.lock_exclusive().one(&tx).await?,
        _ => q.one(&tx).await?,
    };
    let current = row.map(to_grant).transpose()?.ok_or_else(grant_not_found)?;
    let now = clock.now();
    let next = answer(current.status, current.deadline, now, accept)?;
    let updated = grant::Entity::update_many()
        .set(grant::ActiveModel {
            status: Set(next.as_str().to_owned()),
            cup: Set(cup.map(str::to_owned)),
            answered_at: Set(Some(now)),
            reason: Set(reason.map(str::to_owned)),
            ..Default::default()
        })
        .filter(grant::Column::Id.eq(id))
        .filter(grant::Column::Status.eq(GrantStatus::Offered.as_str()))
        .exec(&tx)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ApiError::conflict(
            "offer_answered",
            "The offer has already been answered.",
            "All'offerta è già stata data risposta.",
        ));
    }
    if !accept {
        let reason = format!("scorrimento after the decline of grant {id}");
        super::rankings::scorrimento_after(
            &tx,
            actor,
            current.call_id,
            current.agency,
            &reason,
            now,
        )
        .await?;
    }
    if let Some(agency_users) = Some(notifications::evaluators_of(&tx, current.agency).await?) {
        let verb_en = if accept { "accepted" } else { "declined" };
        let verb_it = if accept { "accettato" } else { "rifiutato" };
        notifications::notify(
            &tx,
            &agency_users,
            &format!("grant_{verb_en}"),
            Msg::new(
                format!("A grant of {} has been {verb_en}.", current.amount),
                format!("Un contributo di {} è stato {verb_it}.", current.amount),
            ),
            json!({"grant_id": id, "application_id": current.application_id}),
            now,
        )
        .await?;
    }
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: if accept {
                "grant.accepted"
            } else {
                "grant.declined"
            },
            entity_type: "grant",
            entity_id: id.to_string(),
            before: Some(json!({"status": current.status})),
            after: Some(json!({"status": next, "cup": cup, "reason": reason})),
        },
    )
    .await?;
    tx.commit().await?;
    get(db, id).await?.ok_or_else(grant_not_found)
}

/// Lapse every offer whose acceptance deadline has passed, and let its money go down the
/// list; each agency in a transaction of its own. Run lazily before grants are read or
/// answered, and by the periodic task.
pub async fn expire_due(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let due = grant::Entity::find()
        .filter(grant::Column::Status.eq(GrantStatus::Offered.as_str()))
        .filter(grant::Column::Deadline.lt(now))
        .all(db)
        .await?;
    let mut agencies: Vec<(Uuid, String)> = due
        .iter()
        .map(|g| (g.call_id, g.agency_code.clone()))
        .collect();
    agencies.sort();
    agencies.dedup();
    let mut expired = 0;
    for (call_id, agency) in agencies {
        let Some(agency) = AgencyCode::parse(&agency) else {
            continue;
        };
        let tx = begin_write(db).await?;
        super::calls::lock_envelopes(&tx, call_id).await?;
        let result = grant::Entity::update_many()
            .set(grant::ActiveModel {
                status: Set(GrantStatus::Expired.as_str().to_owned()),
                answered_at: Set(Some(now)),
                ..Default::default()
            })
            .filter(grant::Column::CallId.eq(call_id))
            .filter(grant::Column::AgencyCode.eq(agency.as_str()))
            .filter(grant::Column::Status.eq(GrantStatus::Offered.as_str()))
            .filter(grant::Column::Deadline.lt(now))
            .exec(&tx)
            .await?;
        if result.rows_affected > 0 {
            expired += result.rows_affected as usize;
            super::rankings::scorrimento_after(
                &tx,
                actor,
                call_id,
                agency,
                "scorrimento after offers expired unanswered",
                now,
            )
            .await?;
            audit::record(
                &tx,
                actor,
                now,
                Change {
                    action: "grant.expired",
                    entity_type: "agency",
                    entity_id: format!("{call_id}:{agency}"),
                    before: None,
                    after: Some(json!({"expired": result.rows_affected})),
                },
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(expired)
}

/// Revoke a grant (administrators), with a reason; its money goes down the list.
pub async fn revoke(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    id: Uuid,
    reason: &str,
) -> Result<Grant, ApiError> {
    let tx = begin_write(db).await?;
    let current = get(&tx, id).await?.ok_or_else(grant_not_found)?;
    super::calls::lock_envelopes(&tx, current.call_id).await?;
    let current = get(&tx, id).await?.ok_or_else(grant_not_found)?;
    if !current.status.commits() {
        return Err(ApiError::conflict(
            "grant_not_live",
            "Only an offered or accepted grant can be revoked.",
            "Si revoca solo un contributo offerto o accettato.",
        ));
    }
    grant::Entity::update_many()
        .set(grant::ActiveModel {
            status: Set(GrantStatus::Revoked.as_str().to_owned()),
            reason: Set(Some(reason.to_owned())),
            answered_at: Set(Some(now)),
            ..Default::default()
        })
        .filter(grant::Column::Id.eq(id))
        .exec(&tx)
        .await?;
    super::rankings::scorrimento_after(
        &tx,
        actor,
        current.call_id,
        current.agency,
        &format!("scorrimento after the revocation of grant {id}: {reason}"),
        now,
    )
    .await?;
    let recipients = notifications::lead_representatives(&tx, current.application_id).await?;
    notifications::notify(
        &tx,
        &recipients,
        "grant_revoked",
        Msg::new(
            format!("The grant of {} has been revoked: {reason}", current.amount),
            format!(
                "Il contributo di {} è stato revocato: {reason}",
                current.amount
            ),
        ),
        json!({"grant_id": id}),
        now,
    )
    .await?;
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "grant.revoked",
            entity_type: "grant",
            entity_id: id.to_string(),
            before: Some(json!({"status": current.status})),
            after: Some(json!({"status": "revoked", "reason": reason})),
        },
    )
    .await?;
    tx.commit().await?;
    get(db, id).await?.ok_or_else(grant_not_found)
}
