//! Applications: drafts, annexes, submission with its gap-free protocol number, history. The
//! queries and writes of the application aggregate; the workflows are `service::applications`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DbErr, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Set, Statement,
};
use uuid::Uuid;

use super::writes::Writes;
use super::{Page, scopes};
use crate::domain::agency::AgencyCode;
use crate::domain::application::{ApplicationContent, ApplicationStatus, totals};
use crate::domain::call::{Call, CallRules};
use crate::domain::event::Actor;
use crate::domain::review::ReviewStatus;
use crate::domain::signature::SignatureReport;
use crate::entity::{application, application_document, application_history, conflict_declaration};

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
    /// Read from the file's bytes; `None` for a file registered as kept elsewhere.
    pub media_type: Option<String>,
    /// The signatures of a `.p7m`; `None` for any other file.
    pub signature_report: Option<SignatureReport>,
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
    let mut w = Writes::new();
    record_history_in(&mut w, id, from, to, actor, at, reason);
    w.run(conn).await.map(|_| ())
}

/// Add a status change to a unit of work.
pub fn record_history_in(
    w: &mut Writes,
    id: Uuid,
    from: Option<&str>,
    to: &str,
    actor: &Actor,
    at: DateTime<Utc>,
    reason: Option<String>,
) {
    w.insert(application_history::ActiveModel {
        id: Set(Uuid::new_v4()),
        application_id: Set(id),
        from_status: Set(from.map(str::to_owned)),
        to_status: Set(to.to_owned()),
        at: Set(at),
        actor_id: Set(actor.user_id),
        actor_role: Set(actor.role.map(|r| r.as_str().to_owned())),
        reason: Set(reason),
    });
}

/// The denormalised columns a list filters and sorts on.
fn money_columns(
    content: &ApplicationContent,
    rules: &CallRules,
) -> (Option<rust_decimal::Decimal>, Option<rust_decimal::Decimal>) {
    (
        totals(&content.budget, rules).map(|t| t.total_cost.as_decimal()),
        content.budget.requested_grant.map(|g| g.as_decimal()),
    )
}

fn content_text(content: &ApplicationContent) -> Result<String, DbErr> {
    serde_json::to_string(content).map_err(|e| DbErr::Custom(format!("content: {e}")))
}

/// Whether a partnership already has an application for a call.
pub async fn exists_for<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    partnership_id: Uuid,
) -> Result<bool, DbErr> {
    Ok(application::Entity::find()
        .filter(application::Column::CallId.eq(call_id))
        .filter(application::Column::PartnershipId.eq(partnership_id))
        .count(conn)
        .await?
        > 0)
}

/// Store a new draft (a unique-key violation when the partnership already has an
/// application for the call).
pub async fn insert_draft<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    call: &Call,
    partnership_id: Uuid,
    content: &ApplicationContent,
    created_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let (total_cost, requested_grant) = money_columns(content, &call.rules);
    application::ActiveModel {
        id: Set(id),
        call_id: Set(call.id),
        partnership_id: Set(partnership_id),
        agency_code: Set(content.agency_code.map(|a| a.as_str().to_owned())),
        status: Set(ApplicationStatus::Draft.as_str().to_owned()),
        content: Set(content_text(content)?),
        total_cost: Set(total_cost),
        requested_grant: Set(requested_grant),
        protocol_number: Set(None),
        submitted_at: Set(None),
        snapshot: Set(None),
        snapshot_sha256: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        created_by: Set(created_by),
        review_status: Set(None),
        integration_deadline: Set(None),
    }
    .insert(conn)
    .await
    .map(|_| ())
}

/// Write a draft's new content if it is still a draft at `expected_version`; false when it
/// changed meanwhile.
pub async fn update_draft<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    expected_version: i32,
    content: &ApplicationContent,
    rules: &CallRules,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let (total_cost, requested_grant) = money_columns(content, rules);
    let result = application::Entity::update_many()
        .set(application::ActiveModel {
            agency_code: Set(content.agency_code.map(|a| a.as_str().to_owned())),
            content: Set(content_text(content)?),
            total_cost: Set(total_cost),
            requested_grant: Set(requested_grant),
            version: Set(expected_version + 1),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(application::Column::Id.eq(id))
        .filter(application::Column::Version.eq(expected_version))
        .filter(application::Column::Status.eq(ApplicationStatus::Draft.as_str()))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Delete a draft with its history and annexes.
pub async fn delete<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<(), DbErr> {
    application_history::Entity::delete_many()
        .filter(application_history::Column::ApplicationId.eq(id))
        .exec(conn)
        .await?;
    application_document::Entity::delete_many()
        .filter(application_document::Column::ApplicationId.eq(id))
        .exec(conn)
        .await?;
    application::Entity::delete_by_id(id).exec(conn).await?;
    Ok(())
}

/// A new version of the application (its annexes changed).
pub async fn touch<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    application::Entity::update_many()
        .col_expr(
            application::Column::Version,
            Expr::col(application::Column::Version).add(Expr::val(1)),
        )
        .col_expr(application::Column::UpdatedAt, Expr::value(now))
        .filter(application::Column::Id.eq(id))
        .exec(conn)
        .await
        .map(|_| ())
}

/// The metadata of a new annex.
pub struct NewDocument {
    pub kind: String,
    pub file_name: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub organization_id: Option<Uuid>,
    pub media_type: Option<String>,
    pub signature_report: Option<SignatureReport>,
}

/// Record an annex.
pub async fn insert_document<C: ConnectionTrait>(
    conn: &C,
    application_id: Uuid,
    d: NewDocument,
    created_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Document, DbErr> {
    let model = application_document::ActiveModel {
        id: Set(Uuid::new_v4()),
        application_id: Set(application_id),
        kind: Set(d.kind),
        file_name: Set(d.file_name),
        size_bytes: Set(d.size_bytes),
        sha256: Set(d.sha256),
        organization_id: Set(d.organization_id),
        media_type: Set(d.media_type),
        signature_report: Set(d
            .signature_report
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| DbErr::Custom(format!("a signature report as JSON: {e}")))?),
        created_at: Set(now),
        created_by: Set(created_by),
    }
    .insert(conn)
    .await?;
    to_document(model)
}

/// Delete an annex of an application; false when it has no such annex.
pub async fn delete_document<C: ConnectionTrait>(
    conn: &C,
    application_id: Uuid,
    document_id: Uuid,
) -> Result<bool, DbErr> {
    let deleted = application_document::Entity::delete_many()
        .filter(application_document::Column::Id.eq(document_id))
        .filter(application_document::Column::ApplicationId.eq(application_id))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// What a submission stores.
pub struct Submission<'a> {
    pub protocol_number: &'a str,
    pub submitted_at: DateTime<Utc>,
    /// The canonical JSON of the snapshot, and its SHA-256.
    pub snapshot: &'a str,
    pub snapshot_sha256: &'a str,
}

/// Add the marking of a draft submitted, its review pending, to a unit of work: the write
/// touches no row when the application is no longer a draft.
pub fn mark_submitted_in(w: &mut Writes, id: Uuid, version: i32, s: &Submission<'_>) {
    w.update(
        application::Entity::update_many()
            .set(application::ActiveModel {
                status: Set(ApplicationStatus::Submitted.as_str().to_owned()),
                protocol_number: Set(Some(s.protocol_number.to_owned())),
                submitted_at: Set(Some(s.submitted_at)),
                snapshot: Set(Some(s.snapshot.to_owned())),
                snapshot_sha256: Set(Some(s.snapshot_sha256.to_owned())),
                review_status: Set(Some(ReviewStatus::Pending.as_str().to_owned())),
                version: Set(version),
                updated_at: Set(s.submitted_at),
                ..Default::default()
            })
            .filter(application::Column::Id.eq(id))
            .filter(application::Column::Status.eq(ApplicationStatus::Draft.as_str()))
            .into_query(),
    );
}

/// Mark an application withdrawn, at a new version.
pub async fn mark_withdrawn<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    version: i32,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    application::Entity::update_many()
        .set(application::ActiveModel {
            status: Set(ApplicationStatus::Withdrawn.as_str().to_owned()),
            version: Set(version),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(application::Column::Id.eq(id))
        .exec(conn)
        .await
        .map(|_| ())
}

pub async fn get<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<Application>, DbErr> {
    application::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(to_application)
        .transpose()
}

/// What reading one application (with [`get_for_reader`]) also reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOf {
    /// For an applicant: the facts that decide its access (empty for anyone else).
    pub reader: Option<Uuid>,
    /// The caller to check in the same statement ([`scopes::caller_column`]).
    pub caller: Option<scopes::CallerKey>,
    /// The submission's snapshot (a few KB that only the receipt shows): NULL otherwise.
    pub snapshot: bool,
}

/// An application with its call, the facts of `of.reader`'s access and the check of
/// `of.caller` (its user name when current), in one statement: what every read of one needs.
pub async fn get_for_reader<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    of: ReadOf,
) -> Result<Option<(Application, Call, scopes::AccessFacts, Option<String>)>, DbErr> {
    use sea_orm::{IdenStatic, Iterable};
    let mut q = Query::select();
    q.from(application::Entity).inner_join(
        crate::entity::call::Entity,
        Expr::col((crate::entity::call::Entity, crate::entity::call::Column::Id))
            .equals((application::Entity, application::Column::CallId)),
    );
    for c in application::Column::iter() {
        let alias = format!("A_{}", c.as_str());
        if matches!(c, application::Column::Snapshot) && !of.snapshot {
            q.expr_as(Expr::cust("CAST(NULL AS TEXT)"), alias);
        } else {
            q.expr_as(Expr::col((application::Entity, c)), alias);
        }
    }
    for c in crate::entity::call::Column::iter() {
        q.expr_as(
            Expr::col((crate::entity::call::Entity, c)),
            format!("B_{}", c.as_str()),
        );
    }
    if let Some(user) = of.reader {
        for (expr, alias) in scopes::access_columns(user) {
            q.expr_as(expr, alias);
        }
    }
    if let Some(key) = &of.caller {
        let (expr, alias) = scopes::caller_column(key);
        q.expr_as(expr, alias);
    }
    q.and_where(Expr::col((application::Entity, application::Column::Id)).eq(id));
    let Some(row) = db.query_one(&q).await? else {
        return Ok(None);
    };
    let app = application::Model::from_query_result(&row, "A_")?;
    let call = crate::entity::call::Model::from_query_result(&row, "B_")?;
    let facts = match of.reader {
        Some(_) => scopes::access_facts_of(&row)?,
        None => scopes::AccessFacts::default(),
    };
    let caller = match of.caller {
        Some(_) => scopes::caller_of(&row)?,
        None => None,
    };
    Ok(Some((
        to_application(app)?,
        super::rows::to_call(call)?,
        facts,
        caller,
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
        c = c.add(application::Column::PartnershipId.in_subquery(scopes::with_member(orgs)));
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
pub async fn list<C: ConnectionTrait>(
    db: &C,
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

/// The applications of a condition in list order, without their snapshots: a few KB each
/// that no list shows (only the receipt does), which the database would have to decompress.
fn in_list_order(cond: Condition) -> sea_orm::Select<application::Entity> {
    use sea_orm::Iterable;
    let mut q = application::Entity::find().select_only();
    for c in application::Column::iter() {
        q = match c {
            application::Column::Snapshot => {
                q.column_as(Expr::cust("CAST(NULL AS TEXT)"), "snapshot")
            }
            c => q.column(c),
        };
    }
    q.filter(cond)
        .order_by_asc(application::Column::ProtocolNumber)
        .order_by_asc(application::Column::CreatedAt)
        .order_by_asc(application::Column::Id)
}

fn in_area(a: &Application, area: &str) -> bool {
    a.content.intervention_areas.iter().any(|x| x == area)
}

/// Every matching application in list order, handed to `each` one at a time as its row
/// arrives: one query, and the matches are never all in memory at once (exports).
pub async fn for_each<F>(db: &DatabaseConnection, f: &Filter, each: F) -> Result<(), DbErr>
where
    F: FnMut(Application) -> Result<(), DbErr>,
{
    try_for_each(db, f, each).await
}

/// [`for_each`] with a handler that may fail with its own error, which stops the reading.
pub async fn try_for_each<F, E>(db: &DatabaseConnection, f: &Filter, mut each: F) -> Result<(), E>
where
    F: FnMut(Application) -> Result<(), E>,
    E: From<DbErr>,
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
pub async fn calls_of(db: &DatabaseConnection, f: &Filter) -> Result<BTreeMap<Uuid, Call>, DbErr> {
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
async fn count<C: ConnectionTrait>(db: &C, cond: Condition) -> Result<u64, DbErr> {
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

fn to_document(m: application_document::Model) -> Result<Document, DbErr> {
    let signature_report = m
        .signature_report
        .as_deref()
        .map(serde_json::from_str::<SignatureReport>)
        .transpose()
        .map_err(|e| super::rows::corrupt("signature report", e))?;
    Ok(Document {
        id: m.id,
        kind: m.kind,
        file_name: m.file_name,
        size_bytes: m.size_bytes,
        sha256: m.sha256,
        organization_id: m.organization_id,
        media_type: m.media_type,
        signature_report,
        created_at: m.created_at,
    })
}

pub async fn documents<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Vec<Document>, DbErr> {
    application_document::Entity::find()
        .filter(application_document::Column::ApplicationId.eq(id))
        .order_by_asc(application_document::Column::CreatedAt)
        .order_by_asc(application_document::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_document)
        .collect()
}

/// Set an application's review status and the deadline of its open request for integration
/// (the review's columns of the application).
pub async fn set_review_status<C: ConnectionTrait>(
    conn: &C,
    application_id: Uuid,
    status: ReviewStatus,
    integration_deadline: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    application::Entity::update_many()
        .set(application::ActiveModel {
            review_status: Set(Some(status.as_str().to_owned())),
            integration_deadline: Set(integration_deadline),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(application::Column::Id.eq(application_id))
        .exec(conn)
        .await
        .map(|_| ())
}

/// Which of these SHA-256s an annex refers to (of any application, draft or submitted: a
/// submitted application's receipt names its annexes by them). A few hundred keys a query.
pub async fn referenced_files<C: ConnectionTrait>(
    db: &C,
    sha256s: &[String],
) -> Result<BTreeSet<String>, DbErr> {
    let mut found = BTreeSet::new();
    for chunk in sha256s.chunks(500) {
        let rows: Vec<String> = application_document::Entity::find()
            .select_only()
            .column(application_document::Column::Sha256)
            .filter(application_document::Column::Sha256.is_in(chunk.iter().cloned()))
            .distinct()
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows);
    }
    Ok(found)
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
            .push(to_document(r)?);
    }
    Ok(out)
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
pub async fn next_protocol<C: ConnectionTrait>(conn: &C, call_id: Uuid) -> Result<i64, DbErr> {
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

/// One annex of an application.
pub async fn document<C: ConnectionTrait>(
    db: &C,
    application_id: Uuid,
    document_id: Uuid,
) -> Result<Option<Document>, DbErr> {
    application_document::Entity::find_by_id(document_id)
        .filter(application_document::Column::ApplicationId.eq(application_id))
        .one(db)
        .await?
        .map(to_document)
        .transpose()
}
