//! Applications: drafts, annexes, submission with its gap-free protocol number, history.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, DurationRound, Utc};
use futures_util::TryStreamExt;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DbErr, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Set, Statement,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::audit::{self, Actor, Change};
use super::{Page, begin_write, calls, partnerships};
use crate::clock::Clock;
use crate::domain::agency::AgencyCode;
use crate::domain::application::{
    AnnexFacts, ApplicationContent, ApplicationStatus, protocol_number, submission_problems, totals,
};
use crate::domain::review::ReviewStatus;
use crate::entity::{application, application_document, application_history, conflict_declaration};
use crate::error::ApiError;

/// An application as stored.
#[derive(Debug, Clone)]
pub struct Application {
    pub id: Uuid,
    pub call_id: Uuid,
    pub partnership_id: Uuid,
    pub status: ApplicationStatus,
    pub content: ApplicationContent,
    pub protocol_number: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub snapshot: Option<String>,
    pub snapshot_sha256: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The agency's review, once submitted.
    pub review_status: Option<ReviewStatus>,
    /// The deadline of an open request for integration.
    pub integration_deadline: Option<DateTime<Utc>>,
}

/// An annex as recorded.
#[derive(Debug, Clone)]
pub struct Document {
    pub id: Uuid,
    pub kind: String,
    pub file_name: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub organization_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// One status change.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    pub from_status: Option<String>,
    pub to_status: String,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<String>,
    pub reason: Option<String>,
}

fn to_application(m: application::Model) -> Result<Application, DbErr> {
    Ok(Application {
        id: m.id,
        call_id: m.call_id,
        partnership_id: m.partnership_id,
        status: ApplicationStatus::parse(&m.status)
            .ok_or_else(|| DbErr::Custom(format!("application {} has an invalid status", m.id)))?,
        content: serde_json::from_str(&m.content)
            .map_err(|e| DbErr::Custom(format!("application {} has invalid content: {e}", m.id)))?,
        protocol_number: m.protocol_number,
        submitted_at: m.submitted_at,
        snapshot: m.snapshot,
        snapshot_sha256: m.snapshot_sha256,
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
        review_status: m
            .review_status
            .as_deref()
            .map(|r| {
                ReviewStatus::parse(r).ok_or_else(|| {
                    DbErr::Custom(format!("application {} has an invalid review status", m.id))
                })
            })
            .transpose()?,
        integration_deadline: m.integration_deadline,
    })
}

pub fn application_not_found() -> ApiError {
    ApiError::not_found(
        "application_not_found",
        "There is no such application that you may see.",
        "Non esiste una domanda con questo identificativo visibile a lei.",
    )
}

fn frozen() -> ApiError {
    ApiError::conflict(
        "application_not_draft",
        "The application has been submitted: its content is frozen.",
        "La domanda è stata presentata: il suo contenuto è congelato.",
    )
}

/// Record a status change (of the application, or of its review) in its history.
pub async fn record_history<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    from: Option<&str>,
    to: &str,
    actor: &Actor,
    at: DateTime<Utc>,
    reason: Option<String>,
) -> Result<(), DbErr> {
    application_history::ActiveModel {
        id: Set(Uuid::new_v4()),
        application_id: Set(id),
        from_status: Set(from.map(str::to_owned)),
        to_status: Set(to.to_owned()),
        at: Set(at),
        actor_id: Set(actor.user_id),
        actor_role: Set(actor.role.map(|r| r.as_str().to_owned())),
        reason: Set(reason),
    }
    .insert(conn)
    .await
    .map(|_| ())
}

/// The denormalised columns a list filters and sorts on.
fn money_columns(
    content: &ApplicationContent,
    rules: &crate::domain::call::CallRules,
) -> (Option<rust_decimal::Decimal>, Option<rust_decimal::Decimal>) {
    (
        totals(&content.budget, rules).map(|t| t.total_cost.as_decimal()),
        content.budget.requested_grant.map(|g| g.as_decimal()),
    )
}

/// Create a draft for a partnership; a partnership has at most one application per call.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    call: &crate::domain::call::Call,
    partnership_id: Uuid,
    content: &ApplicationContent,
) -> Result<Application, ApiError> {
    let exists_error = || {
        ApiError::conflict(
            "application_exists",
            "This partnership already has an application for the call.",
            "Questo partenariato ha già una domanda per l'avviso.",
        )
    };
    let tx = begin_write(db).await?;
    let exists = application::Entity::find()
        .filter(application::Column::CallId.eq(call.id))
        .filter(application::Column::PartnershipId.eq(partnership_id))
        .count(&tx)
        .await?
        > 0;
    if exists {
        return Err(exists_error());
    }
    let id = Uuid::new_v4();
    let (total_cost, requested_grant) = money_columns(content, &call.rules);
    application::ActiveModel {
        id: Set(id),
        call_id: Set(call.id),
        partnership_id: Set(partnership_id),
        agency_code: Set(content.agency_code.map(|a| a.as_str().to_owned())),
        status: Set(ApplicationStatus::Draft.as_str().to_owned()),
        content: Set(serde_json::to_string(content).map_err(anyhow::Error::from)?),
        total_cost: Set(total_cost),
        requested_grant: Set(requested_grant),
        protocol_number: Set(None),
        submitted_at: Set(None),
        snapshot: Set(None),
        snapshot_sha256: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        created_by: Set(actor.user_id),
        review_status: Set(None),
        integration_deadline: Set(None),
    }
    .insert(&tx)
    .await
    .map_err(|e| {
        if super::is_unique_violation(&e) {
            exists_error()
        } else {
            e.into()
        }
    })?;
    record_history(
        &tx,
        id,
        None,
        ApplicationStatus::Draft.as_str(),
        actor,
        now,
        None,
    )
    .await?;
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "application.created",
            entity_type: "application",
            entity_id: id.to_string(),
            before: None,
            after: Some(json!({"content": content})),
        },
    )
    .await?;
    tx.commit().await?;
    get(db, id).await?.ok_or_else(application_not_found)
}

pub async fn get<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<Application>, DbErr> {
    application::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(to_application)
        .transpose()
}

/// An application with its call and, for an applicant (`reader`), the facts that decide its
/// access (empty for anyone else), in one statement: what every read of one needs.
pub async fn get_for_reader<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    reader: Option<Uuid>,
) -> Result<
    Option<(
        Application,
        crate::domain::call::Call,
        partnerships::AccessFacts,
    )>,
    DbErr,
> {
    let mut q = application::Entity::find_by_id(id).find_also_related(crate::entity::call::Entity);
    if let Some(user) = reader {
        for (expr, alias) in partnerships::access_columns(user) {
            q = q.expr_as(expr, alias);
        }
    }
    let Some(row) = db.query_one_raw(q.build(db.get_database_backend())).await? else {
        return Ok(None);
    };
    let app = application::Model::from_query_result(&row, "A_")?;
    let Some(call) = crate::entity::call::Model::from_query_result_optional(&row, "B_")? else {
        return Ok(None);
    };
    let facts = match reader {
        Some(_) => partnerships::access_facts_of(&row)?,
        None => partnerships::AccessFacts::default(),
    };
    Ok(Some((
        to_application(app)?,
        super::rows::to_call(call)?,
        facts,
    )))
}

/// The application of a partnership, if it has one (any status).
pub async fn for_partnership<C: ConnectionTrait>(
    db: &C,
    partnership_id: Uuid,
) -> Result<Option<Application>, DbErr> {
    application::Entity::find()
        .filter(application::Column::PartnershipId.eq(partnership_id))
        .one(db)
        .await?
        .map(to_application)
        .transpose()
}

/// Filters of the application list; `member_of` and `agency_submitted` scope it by role.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub call_id: Option<Uuid>,
    pub agency: Option<AgencyCode>,
    pub status: Option<ApplicationStatus>,
    pub area: Option<String>,
    /// Applicants: only the applications of partnerships with one of these organizations (the
    /// ones the caller represents) as a member; the partnerships are found by a subquery, so
    /// that no list of them is bound.
    pub member_of: Option<BTreeSet<Uuid>>,
    /// Evaluators: only applications submitted (or withdrawn after submission) to this agency.
    pub agency_submitted: Option<AgencyCode>,
    /// Evaluators' exports: only the applications this evaluator declared no conflict with.
    pub declared_no_conflict_by: Option<Uuid>,
}

/// The SQL part of a filter (the area is only narrowed here; Rust decides).
fn condition(f: &Filter) -> Condition {
    let mut c = Condition::all();
    if let Some(id) = f.call_id {
        c = c.add(application::Column::CallId.eq(id));
    }
    if let Some(a) = f.agency {
        c = c.add(application::Column::AgencyCode.eq(a.as_str()));
    }
    if let Some(s) = f.status {
        c = c.add(application::Column::Status.eq(s.as_str()));
    }
    if let Some(orgs) = &f.member_of {
        c = c.add(application::Column::PartnershipId.in_subquery(partnerships::with_member(orgs)));
    }
    if let Some(a) = f.agency_submitted {
        c = c
            .add(application::Column::AgencyCode.eq(a.as_str()))
            .add(application::Column::Status.ne(ApplicationStatus::Draft.as_str()));
    }
    if let Some(evaluator) = f.declared_no_conflict_by {
        c = c.add(
            application::Column::Id.in_subquery(
                Query::select()
                    .column(conflict_declaration::Column::ApplicationId)
                    .from(conflict_declaration::Entity)
                    .and_where(conflict_declaration::Column::EvaluatorId.eq(evaluator))
                    .and_where(conflict_declaration::Column::HasConflict.eq(false))
                    .to_owned(),
            ),
        );
    }
    if let Some(area) = &f.area {
        // Areas live in the content document; match the quoted code, then confirm in Rust.
        c = c.add(application::Column::Content.contains(format!("\"{area}\"")));
    }
    c
}

/// A page of applications, by protocol number then creation (stable).
///
/// Without an area, the page query orders by `protocol_number, created_at, id` exactly (the
/// index `applications (call_id, agency_code, protocol_number, created_at, id)` lets it stop
/// after the page), and the total is counted by a query that selects only the count and has no
/// `ORDER BY`; a short page tells the total without counting.
pub async fn list(
    db: &DatabaseConnection,
    f: &Filter,
    page: Option<Page>,
) -> Result<(Vec<Application>, u64), DbErr> {
    let cond = condition(f);
    let q = in_list_order(cond.clone());
    if let Some(area) = &f.area {
        // The areas live in the content document: the SQL filter narrows, Rust decides, and
        // the total and the page are taken after it.
        let mut items: Vec<Application> = q
            .all(db)
            .await?
            .into_iter()
            .map(to_application)
            .collect::<Result<_, _>>()?;
        items.retain(|a| in_area(a, area));
        let total = items.len() as u64;
        if let Some(p) = page {
            items = items
                .into_iter()
                .skip(p.offset() as usize)
                .take(p.per_page as usize)
                .collect();
        }
        return Ok((items, total));
    }
    let (rows, total) = match page {
        Some(p) => {
            let rows = q.offset(p.offset()).limit(p.per_page).all(db).await?;
            let n = rows.len() as u64;
            // A page that is neither empty nor full is the last one: it tells the total.
            let total = if n > 0 && n < p.per_page {
                p.offset() + n
            } else {
                count(db, cond).await?
            };
            (rows, total)
        }
        None => {
            let rows = q.all(db).await?;
            let n = rows.len() as u64;
            (rows, n)
        }
    };
    let items: Vec<Application> = rows
        .into_iter()
        .map(to_application)
        .collect::<Result<_, _>>()?;
    Ok((items, total))
}

fn in_list_order(cond: Condition) -> sea_orm::Select<application::Entity> {
    application::Entity::find()
        .filter(cond)
        .order_by_asc(application::Column::ProtocolNumber)
        .order_by_asc(application::Column::CreatedAt)
        .order_by_asc(application::Column::Id)
}

fn in_area(a: &Application, area: &str) -> bool {
    a.content.intervention_areas.iter().any(|x| x == area)
}

/// Every matching application in list order, handed to `each` one at a time as its row
/// arrives: one query, and the matches are never all in memory at once (exports).
pub async fn for_each<F>(db: &DatabaseConnection, f: &Filter, mut each: F) -> Result<(), ApiError>
where
    F: FnMut(Application) -> Result<(), ApiError>,
{
    let mut rows = in_list_order(condition(f)).stream(db).await?;
    while let Some(row) = rows.try_next().await? {
        let a = to_application(row)?;
        if f.area.as_deref().is_none_or(|area| in_area(&a, area)) {
            each(a)?;
        }
    }
    Ok(())
}

/// The calls of the matching applications, in one query.
pub async fn calls_of(
    db: &DatabaseConnection,
    f: &Filter,
) -> Result<BTreeMap<Uuid, crate::domain::call::Call>, DbErr> {
    let ids = Query::select()
        .column(application::Column::CallId)
        .from(application::Entity)
        .cond_where(condition(f))
        .to_owned();
    crate::entity::call::Entity::find()
        .filter(crate::entity::call::Column::Id.in_subquery(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|m| super::rows::to_call(m).map(|c| (c.id, c)))
        .collect()
}

/// How many applications match: `SELECT COUNT(*)` with the filter alone (no `ORDER BY`), so
/// that PostgreSQL can answer from an index without visiting the rows.
async fn count(db: &DatabaseConnection, cond: Condition) -> Result<u64, DbErr> {
    let n = application::Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(cond)
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Change a draft's content under optimistic concurrency.
pub async fn update_draft<F>(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    id: Uuid,
    expected_version: i32,
    rules: &crate::domain::call::CallRules,
    decide: F,
) -> Result<Application, ApiError>
where
    F: FnOnce(&Application) -> Result<ApplicationContent, ApiError>,
{
    let tx = begin_write(db).await?;
    let current = get(&tx, id).await?.ok_or_else(application_not_found)?;
    if current.version != expected_version {
        return Err(ApiError::PreconditionFailed);
    }
    if current.status != ApplicationStatus::Draft {
        return Err(frozen());
    }
    let content = decide(&current)?;
    let (total_cost, requested_grant) = money_columns(&content, rules);
    let result = application::Entity::update_many()
        .set(application::ActiveModel {
            agency_code: Set(content.agency_code.map(|a| a.as_str().to_owned())),
            content: Set(serde_json::to_string(&content).map_err(anyhow::Error::from)?),
            total_cost: Set(total_cost),
            requested_grant: Set(requested_grant),
            version: Set(current.version + 1),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(application::Column::Id.eq(id))
        .filter(application::Column::Version.eq(current.version))
        .filter(application::Column::Status.eq(ApplicationStatus::Draft.as_str()))
        .exec(&tx)
        .await?;
    if result.rows_affected != 1 {
        return Err(ApiError::PreconditionFailed);
    }
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "application.changed",
            entity_type: "application",
            entity_id: id.to_string(),
            before: Some(json!({"content": current.content})),
            after: Some(json!({"content": content})),
        },
    )
    .await?;
    tx.commit().await?;
    get(db, id).await?.ok_or_else(application_not_found)
}

/// Delete a draft.
pub async fn delete_draft(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<(), ApiError> {
    let tx = begin_write(db).await?;
    let current = get(&tx, id).await?.ok_or_else(application_not_found)?;
    if current.status != ApplicationStatus::Draft {
        return Err(frozen());
    }
    application_history::Entity::delete_many()
        .filter(application_history::Column::ApplicationId.eq(id))
        .exec(&tx)
        .await?;
    application_document::Entity::delete_many()
        .filter(application_document::Column::ApplicationId.eq(id))
        .exec(&tx)
        .await?;
    application::Entity::delete_by_id(id).exec(&tx).await?;
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "application.deleted",
            entity_type: "application",
            entity_id: id.to_string(),
            before: Some(json!({"content": current.content})),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn to_document(m: application_document::Model) -> Document {
    Document {
        id: m.id,
        kind: m.kind,
        file_name: m.file_name,
        size_bytes: m.size_bytes,
        sha256: m.sha256,
        organization_id: m.organization_id,
        created_at: m.created_at,
    }
}

pub async fn documents<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Vec<Document>, DbErr> {
    Ok(application_document::Entity::find()
        .filter(application_document::Column::ApplicationId.eq(id))
        .order_by_asc(application_document::Column::CreatedAt)
        .order_by_asc(application_document::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_document)
        .collect())
}

/// The annexes of several applications, each in the order of [`documents`], in one query.
pub async fn documents_of<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> Result<BTreeMap<Uuid, Vec<Document>>, DbErr> {
    let mut out: BTreeMap<Uuid, Vec<Document>> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = application_document::Entity::find()
        .filter(application_document::Column::ApplicationId.is_in(ids.iter().copied()))
        .order_by_asc(application_document::Column::CreatedAt)
        .order_by_asc(application_document::Column::Id)
        .all(db)
        .await?;
    for r in rows {
        out.entry(r.application_id)
            .or_default()
            .push(to_document(r));
    }
    Ok(out)
}

/// The metadata of a new annex.
pub struct NewDocument {
    pub kind: String,
    pub file_name: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub organization_id: Option<Uuid>,
}

/// Record an annex of a draft.
pub async fn add_document(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    id: Uuid,
    d: NewDocument,
) -> Result<Document, ApiError> {
    let tx = begin_write(db).await?;
    let current = get(&tx, id).await?.ok_or_else(application_not_found)?;
    if current.status != ApplicationStatus::Draft {
        return Err(frozen());
    }
    let doc_id = Uuid::new_v4();
    let model = application_document::ActiveModel {
        id: Set(doc_id),
        application_id: Set(id),
        kind: Set(d.kind),
        file_name: Set(d.file_name),
        size_bytes: Set(d.size_bytes),
        sha256: Set(d.sha256),
        organization_id: Set(d.organization_id),
        created_at: Set(now),
        created_by: Set(actor.user_id),
    }
    .insert(&tx)
    .await?;
    application::Entity::update_many()
        .col_expr(
            application::Column::Version,
            Expr::col(application::Column::Version).add(Expr::val(1)),
        )
        .col_expr(application::Column::UpdatedAt, Expr::value(now))
        .filter(application::Column::Id.eq(id))
        .exec(&tx)
        .await?;
    let doc = to_document(model);
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "application.document_added",
            entity_type: "application",
            entity_id: id.to_string(),
            before: None,
            after: Some(json!({"document_id": doc.id, "kind": doc.kind, "file_name": doc.file_name, "sha256": doc.sha256, "size_bytes": doc.size_bytes})),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(doc)
}

/// Delete an annex of a draft.
pub async fn delete_document(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    id: Uuid,
    document_id: Uuid,
) -> Result<(), ApiError> {
    let tx = begin_write(db).await?;
    let current = get(&tx, id).await?.ok_or_else(application_not_found)?;
    if current.status != ApplicationStatus::Draft {
        return Err(frozen());
    }
    let deleted = application_document::Entity::delete_many()
        .filter(application_document::Column::Id.eq(document_id))
        .filter(application_document::Column::ApplicationId.eq(id))
        .exec(&tx)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(ApiError::not_found(
            "document_not_found",
            "The application has no such document.",
            "La domanda non ha questo documento.",
        ));
    }
    application::Entity::update_many()
        .col_expr(
            application::Column::Version,
            Expr::col(application::Column::Version).add(Expr::val(1)),
        )
        .col_expr(application::Column::UpdatedAt, Expr::value(now))
        .filter(application::Column::Id.eq(id))
        .exec(&tx)
        .await?;
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "application.document_deleted",
            entity_type: "application",
            entity_id: id.to_string(),
            before: Some(json!({"document_id": document_id})),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn history(db: &DatabaseConnection, id: Uuid) -> Result<Vec<HistoryEntry>, DbErr> {
    Ok(application_history::Entity::find()
        .filter(application_history::Column::ApplicationId.eq(id))
        .order_by_asc(application_history::Column::At)
        .order_by_asc(application_history::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|h| HistoryEntry {
            from_status: h.from_status,
            to_status: h.to_status,
            at: h.at,
            actor_id: h.actor_id,
            actor_role: h.actor_role,
            reason: h.reason,
        })
        .collect())
}

/// The next protocol number of a call: a counter row incremented inside the submitting
/// transaction, so numbers are unique and without gaps (a rollback gives the number back).
async fn next_protocol<C: ConnectionTrait>(conn: &C, call_id: Uuid) -> Result<i64, DbErr> {
    let backend = conn.get_database_backend();
    let sql = "INSERT INTO protocol_counters (call_id, last_value) VALUES ($1, 1) \
               ON CONFLICT (call_id) DO UPDATE SET last_value = protocol_counters.last_value + 1 \
               RETURNING last_value";
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [call_id.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("the protocol counter returned nothing".into()))?;
    row.try_get_by_index::<i64>(0)
}

/// Lock an application's row until the end of the transaction (PostgreSQL; SQLite's
/// `BEGIN IMMEDIATE` already serialises writers).
pub async fn lock<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Option<Application>, DbErr> {
    let q = application::Entity::find_by_id(id);
    let row = match conn.get_database_backend() {
        DatabaseBackend::Postgres => q.lock_exclusive().one(conn).await?,
        _ => q.one(conn).await?,
    };
    row.map(to_application).transpose()
}

/// Submit a draft: in one transaction, lock it, read the clock, check the window, every
/// content and money rule, the annexes and the partnership's eligibility, take the next
/// protocol number, and store the canonical snapshot with its SHA-256.
///
/// `respond` builds the answer from the submitted application before the commit; the
/// answer it returns for an `Idempotency-Key` is recorded in the same transaction. Nothing
/// is read after the commit, so a committed submission is never answered with an error.
///
/// The protocol counter's row stays locked from the number's taking to the commit, and
/// every submission of the call waits for it: everything that does not need the number is
/// read before it is taken.
pub async fn submit<F>(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &Arc<dyn Clock>,
    id: Uuid,
    respond: F,
) -> Result<Application, ApiError>
where
    F: FnOnce(&Application) -> Result<Option<super::idempotency::Answer>, ApiError>,
{
    let tx = begin_write(db).await?;
    let app = lock(&tx, id).await?.ok_or_else(application_not_found)?;
    if app.status != ApplicationStatus::Draft {
        return Err(ApiError::conflict(
            "already_submitted",
            "The application has already been submitted; an application is submitted once.",
            "La domanda è già stata presentata; una domanda si presenta una sola volta.",
        ));
    }
    partnerships::lock(&tx, app.partnership_id).await?;
    // Microseconds: what both databases store, so that the receipt and its snapshot agree.
    let now = clock.now();
    let now = now
        .duration_trunc(chrono::TimeDelta::microseconds(1))
        .unwrap_or(now);
    let call = calls::get(&tx, app.call_id)
        .await?
        .ok_or_else(crate::service::calls::call_not_found)?;
    let partnership = partnerships::get(&tx, app.partnership_id)
        .await?
        .ok_or_else(crate::service::partnerships::partnership_not_found)?;
    let members = partnerships::members_for_rules(&tx, &partnership).await?;
    let docs = documents(&tx, id).await?;
    let facts: Vec<_> = members.iter().map(|(m, _)| m.clone()).collect();
    let annexes: Vec<AnnexFacts> = docs
        .iter()
        .map(|d| AnnexFacts {
            kind: d.kind.clone(),
            organization_id: d.organization_id,
        })
        .collect();
    let problems = submission_problems(
        &app.content,
        &call.rules,
        &call.window,
        now,
        &facts,
        &annexes,
    );
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let evaluators = match app.content.agency_code {
        Some(agency) => super::notifications::evaluators_of(&tx, agency).await?,
        None => vec![],
    };
    let n = next_protocol(&tx, call.id).await?;
    let protocol = protocol_number(&call.code, n);
    let snapshot = json!({
        "application_id": app.id,
        "protocol_number": protocol,
        "submitted_at": now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "call": {"id": call.id, "code": call.code},
        "partnership": {"id": partnership.id, "name": partnership.name},
        "content": app.content,
        "members": members.iter().map(|(m, o)| json!({
            "organization_id": m.organization_id,
            "role": m.role,
            "tax_code": o.facts.tax_code.as_str(),
            "vat_number": o.facts.vat_number.as_ref().map(|v| v.as_str()),
            "legal_name": o.facts.legal_name,
            "category": o.facts.category(),
            "subtype": o.facts.subtype,
            "chamber_registration": o.facts.chamber_registration,
            "seats": o.facts.seats,
            "staff": o.facts.figures.as_ref().map(|f| f.staff.to_string()),
            "turnover": o.facts.figures.as_ref().and_then(|f| f.turnover),
            "balance_sheet_total": o.facts.figures.as_ref().and_then(|f| f.balance_sheet_total),
            "reference_year": o.facts.reference_year,
            "size_class": o.facts.size_class(),
        })).collect::<Vec<_>>(),
        "documents": docs.iter().map(|d| json!({"kind": d.kind, "file_name": d.file_name, "size_bytes": d.size_bytes, "sha256": d.sha256, "organization_id": d.organization_id})).collect::<Vec<_>>(),
    });
    let canonical = serde_json_canonicalizer::to_string(&snapshot).map_err(anyhow::Error::from)?;
    let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
    let result = application::Entity::update_many()
        .set(application::ActiveModel {
            status: Set(ApplicationStatus::Submitted.as_str().to_owned()),
            protocol_number: Set(Some(protocol.clone())),
            submitted_at: Set(Some(now)),
            snapshot: Set(Some(canonical.clone())),
            snapshot_sha256: Set(Some(hash.clone())),
            review_status: Set(Some(ReviewStatus::Pending.as_str().to_owned())),
            version: Set(app.version + 1),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(application::Column::Id.eq(id))
        .filter(application::Column::Status.eq(ApplicationStatus::Draft.as_str()))
        .exec(&tx)
        .await?;
    if result.rows_affected != 1 {
        return Err(ApiError::conflict(
            "already_submitted",
            "The application has already been submitted.",
            "La domanda è già stata presentata.",
        ));
    }
    record_history(
        &tx,
        id,
        Some(ApplicationStatus::Draft.as_str()),
        ApplicationStatus::Submitted.as_str(),
        actor,
        now,
        Some(format!("protocol {protocol}")),
    )
    .await?;
    if app.content.agency_code.is_some() {
        let title = app.content.title.clone().unwrap_or_default();
        super::notifications::notify(
            &tx,
            &evaluators,
            "application_submitted",
            crate::domain::violation::Msg::new(
                format!("New application {protocol} submitted to your agency: \"{title}\"."),
                format!("Nuova domanda {protocol} presentata alla sua ATS: \"{title}\"."),
            ),
            json!({"application_id": id, "protocol_number": protocol}),
            now,
        )
        .await?;
    }
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "application.submitted",
            entity_type: "application",
            entity_id: id.to_string(),
            before: None,
            after: Some(json!({"protocol_number": protocol, "snapshot_sha256": hash})),
        },
    )
    .await?;
    let submitted = Application {
        status: ApplicationStatus::Submitted,
        protocol_number: Some(protocol),
        submitted_at: Some(now),
        snapshot: Some(canonical),
        snapshot_sha256: Some(hash),
        review_status: Some(ReviewStatus::Pending),
        version: app.version + 1,
        updated_at: now,
        ..app
    };
    if let Some(answer) = respond(&submitted)? {
        super::idempotency::record(&tx, &answer).await?;
    }
    tx.commit().await?;
    Ok(submitted)
}

/// Withdraw a submitted application, with a reason.
pub async fn withdraw(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    id: Uuid,
    reason: &str,
) -> Result<Application, ApiError> {
    let tx = begin_write(db).await?;
    let app = lock(&tx, id).await?.ok_or_else(application_not_found)?;
    crate::service::rankings::ensure_not_approved(&tx, &app).await?;
    if app.status != ApplicationStatus::Submitted {
        return Err(ApiError::conflict(
            "not_submitted",
            "Only a submitted application can be withdrawn (a draft is deleted instead).",
            "Solo una domanda presentata può essere ritirata (una bozza si elimina).",
        ));
    }
    application::Entity::update_many()
        .set(application::ActiveModel {
            status: Set(ApplicationStatus::Withdrawn.as_str().to_owned()),
            version: Set(app.version + 1),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(application::Column::Id.eq(id))
        .exec(&tx)
        .await?;
    record_history(
        &tx,
        id,
        Some(ApplicationStatus::Submitted.as_str()),
        ApplicationStatus::Withdrawn.as_str(),
        actor,
        now,
        Some(reason.to_owned()),
    )
    .await?;
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "application.withdrawn",
            entity_type: "application",
            entity_id: id.to_string(),
            before: None,
            after: Some(json!({"reason": reason})),
        },
    )
    .await?;
    tx.commit().await?;
    get(db, id).await?.ok_or_else(application_not_found)
}
