//! Partnerships for a call and their members.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    JoinType, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::Page;
use super::rows::{Organization, to_organization};
use super::scopes::{lead_organizations_of, leads_of, of_agency, with_invitation, with_member};
use crate::domain::agency::AgencyCode;
use crate::domain::partnership::{Member, MembershipStatus, ParticipationRole};
use crate::entity::{organization, partnership, partnership_member};

/// A member as stored.
#[derive(Debug, Clone)]
pub struct MemberRecord {
    pub organization_id: Uuid,
    pub role: ParticipationRole,
    pub added_at: DateTime<Utc>,
    pub status: MembershipStatus,
    /// When the invitation was accepted or declined.
    pub answered_at: Option<DateTime<Utc>>,
}

/// A partnership as stored.
#[derive(Debug, Clone)]
pub struct Partnership {
    pub id: Uuid,
    pub call_id: Uuid,
    pub name: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub members: Vec<MemberRecord>,
}

impl Partnership {
    pub fn lead(&self) -> Option<Uuid> {
        self.members
            .iter()
            .find(|m| m.role == ParticipationRole::Lead)
            .map(|m| m.organization_id)
    }

    /// The accepted members: those that count, and read each other's data.
    pub fn member_ids(&self) -> BTreeSet<Uuid> {
        self.members
            .iter()
            .filter(|m| m.status == MembershipStatus::Accepted)
            .map(|m| m.organization_id)
            .collect()
    }

    /// The invited organizations that have not accepted (pending or declined).
    pub fn invited_ids(&self) -> BTreeSet<Uuid> {
        self.members
            .iter()
            .filter(|m| m.status != MembershipStatus::Accepted)
            .map(|m| m.organization_id)
            .collect()
    }

    pub fn member(&self, organization_id: Uuid) -> Option<&MemberRecord> {
        self.members
            .iter()
            .find(|m| m.organization_id == organization_id)
    }
}

async fn members_of<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> Result<BTreeMap<Uuid, Vec<MemberRecord>>, DbErr> {
    let mut out: BTreeMap<Uuid, Vec<MemberRecord>> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = partnership_member::Entity::find()
        .filter(partnership_member::Column::PartnershipId.is_in(ids.iter().copied()))
        .order_by_asc(partnership_member::Column::AddedAt)
        .order_by_asc(partnership_member::Column::OrganizationId)
        .all(db)
        .await?;
    for r in rows {
        let role = ParticipationRole::parse(&r.role).ok_or_else(|| {
            DbErr::Custom(format!(
                "stored member of {} has an invalid role",
                r.partnership_id
            ))
        })?;
        let status = MembershipStatus::parse(&r.status).ok_or_else(|| {
            DbErr::Custom(format!(
                "stored member of {} has an invalid status",
                r.partnership_id
            ))
        })?;
        out.entry(r.partnership_id).or_default().push(MemberRecord {
            organization_id: r.organization_id,
            role,
            added_at: r.added_at,
            status,
            answered_at: r.answered_at,
        });
    }
    Ok(out)
}

fn assemble(p: partnership::Model, members: Vec<MemberRecord>) -> Partnership {
    Partnership {
        id: p.id,
        call_id: p.call_id,
        name: p.name,
        version: p.version,
        created_at: p.created_at,
        updated_at: p.updated_at,
        members,
    }
}

/// A partnership's row, locked until the end of the transaction on PostgreSQL when `locked`
/// (SQLite's `BEGIN IMMEDIATE` already serialises writers).
fn find<C: ConnectionTrait>(conn: &C, id: Uuid, locked: bool) -> Select<partnership::Entity> {
    let q = partnership::Entity::find_by_id(id);
    if locked && conn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        q.lock_exclusive()
    } else {
        q
    }
}

/// The partnership of a row query, with its members.
async fn with_members<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    q: Select<partnership::Entity>,
) -> Result<Option<Partnership>, DbErr> {
    let Some(p) = q.one(conn).await? else {
        return Ok(None);
    };
    let mut members = members_of(conn, &[id]).await?;
    Ok(Some(assemble(p, members.remove(&id).unwrap_or_default())))
}

/// Lock a partnership's row until the end of the transaction, so that its members cannot
/// change while an application of it is being submitted.
pub async fn lock<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<(), DbErr> {
    if conn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        find(conn, id, true).one(conn).await?;
    }
    Ok(())
}

/// [`lock`] and [`get`] at once: the partnership as read under its lock, in two statements.
pub async fn get_locked<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> Result<Option<Partnership>, DbErr> {
    with_members(conn, id, find(conn, id, true)).await
}

pub async fn get<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<Partnership>, DbErr> {
    with_members(db, id, find(db, id, false)).await
}

/// The partnerships of several ids with their members, in two queries.
pub async fn get_many<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> Result<BTreeMap<Uuid, Partnership>, DbErr> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows = partnership::Entity::find()
        .filter(partnership::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    let mut members = members_of(db, ids).await?;
    Ok(rows
        .into_iter()
        .map(|p| {
            let m = members.remove(&p.id).unwrap_or_default();
            (p.id, assemble(p, m))
        })
        .collect())
}

/// The lead organization of every partnership with an application of a call to an agency,
/// by partnership: two statements, whatever their number.
pub async fn leads_for_agency<C: ConnectionTrait>(
    db: &C,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<HashMap<Uuid, Organization>, DbErr> {
    let leads = leads_of(db, of_agency(call_id, agency)).await?;
    let orgs: HashMap<Uuid, Organization> = organization::Entity::find()
        .filter(
            organization::Column::Id.in_subquery(lead_organizations_of(of_agency(call_id, agency))),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|m| to_organization(m).map(|o| (o.id, o)))
        .collect::<Result<_, _>>()?;
    Ok(leads
        .into_iter()
        .filter_map(|(p, o)| orgs.get(&o).map(|org| (p, org.clone())))
        .collect())
}

/// A page of partnerships, newest first; `having_member` restricts to those with one of
/// these organizations as a member.
pub async fn list(
    db: &DatabaseConnection,
    having_member: Option<&BTreeSet<Uuid>>,
    inviting: Option<Option<&BTreeSet<Uuid>>>,
    call_id: Option<Uuid>,
    page: Page,
) -> Result<(Vec<Partnership>, u64), DbErr> {
    let mut q = partnership::Entity::find();
    if let Some(orgs) = having_member {
        q = q.filter(partnership::Column::Id.in_subquery(with_member(orgs)));
    }
    if let Some(orgs) = inviting {
        q = q.filter(partnership::Column::Id.in_subquery(with_invitation(orgs)));
    }
    if let Some(c) = call_id {
        q = q.filter(partnership::Column::CallId.eq(c));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(partnership::Column::CreatedAt)
        .order_by_asc(partnership::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|p| p.id).collect();
    let mut members = members_of(db, &ids).await?;
    Ok((
        rows.into_iter()
            .map(|p| {
                let m = members.remove(&p.id).unwrap_or_default();
                assemble(p, m)
            })
            .collect(),
        total,
    ))
}

/// What the audit log keeps of a partnership.
pub fn snapshot(p: &Partnership) -> serde_json::Value {
    json!({
        "call_id": p.call_id, "name": p.name,
        "members": p.members.iter().map(|m| json!({"organization_id": m.organization_id, "role": m.role.as_str(), "status": m.status.as_str()})).collect::<Vec<_>>(),
    })
}

/// Store a new partnership with its members.
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    p: &Partnership,
    created_by: Option<Uuid>,
) -> Result<(), DbErr> {
    partnership::ActiveModel {
        id: Set(p.id),
        call_id: Set(p.call_id),
        name: Set(p.name.clone()),
        version: Set(p.version),
        created_at: Set(p.created_at),
        updated_at: Set(p.updated_at),
        created_by: Set(created_by),
    }
    .insert(conn)
    .await?;
    for m in &p.members {
        insert_member(conn, p.id, m).await?;
    }
    Ok(())
}

/// Add a member (a unique-key violation when it is there already).
pub async fn insert_member<C: ConnectionTrait>(
    conn: &C,
    partnership_id: Uuid,
    m: &MemberRecord,
) -> Result<(), DbErr> {
    partnership_member::ActiveModel {
        partnership_id: Set(partnership_id),
        organization_id: Set(m.organization_id),
        role: Set(m.role.as_str().to_owned()),
        added_at: Set(m.added_at),
        status: Set(m.status.as_str().to_owned()),
        answered_at: Set(m.answered_at),
    }
    .insert(conn)
    .await
    .map(|_| ())
}

/// An invited organization's answer.
pub async fn set_member_status<C: ConnectionTrait>(
    conn: &C,
    partnership_id: Uuid,
    organization_id: Uuid,
    status: MembershipStatus,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    partnership_member::Entity::update_many()
        .set(partnership_member::ActiveModel {
            status: Set(status.as_str().to_owned()),
            answered_at: Set(Some(at)),
            ..Default::default()
        })
        .filter(partnership_member::Column::PartnershipId.eq(partnership_id))
        .filter(partnership_member::Column::OrganizationId.eq(organization_id))
        .exec(conn)
        .await
        .map(|_| ())
}

pub async fn delete_member<C: ConnectionTrait>(
    conn: &C,
    partnership_id: Uuid,
    organization_id: Uuid,
) -> Result<(), DbErr> {
    partnership_member::Entity::delete_by_id((partnership_id, organization_id))
        .exec(conn)
        .await
        .map(|_| ())
}

/// A new version of the partnership (its members changed).
pub async fn touch<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    partnership::Entity::update_many()
        .col_expr(
            partnership::Column::Version,
            Expr::col(partnership::Column::Version).add(Expr::val(1)),
        )
        .col_expr(partnership::Column::UpdatedAt, Expr::value(now))
        .filter(partnership::Column::Id.eq(id))
        .exec(conn)
        .await
        .map(|_| ())
}

/// Delete a partnership and its members.
pub async fn delete<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<(), DbErr> {
    partnership_member::Entity::delete_many()
        .filter(partnership_member::Column::PartnershipId.eq(id))
        .exec(conn)
        .await?;
    partnership::Entity::delete_by_id(id).exec(conn).await?;
    Ok(())
}

/// The members with everything the eligibility rules read: their registry facts and how many
/// partnerships of the same call they join and lead.
pub async fn members_for_rules<C: ConnectionTrait>(
    db: &C,
    p: &Partnership,
) -> Result<Vec<(Member, Organization)>, DbErr> {
    Ok(members_for_rules_of(db, &[p])
        .await?
        .remove(&p.id)
        .unwrap_or_default())
}

/// [`members_for_rules`] for several partnerships at once (e.g. the drafts of a page), with the
/// same answer for each, in two queries whatever their number: the members' organizations, and
/// per organization, call and role how many partnerships it joins.
pub async fn members_for_rules_of<C: ConnectionTrait>(
    db: &C,
    ps: &[&Partnership],
) -> Result<BTreeMap<Uuid, Vec<(Member, Organization)>>, DbErr> {
    let ids: Vec<Uuid> = ps
        .iter()
        .flat_map(|p| p.members.iter().map(|m| m.organization_id))
        .collect::<BTreeSet<Uuid>>()
        .into_iter()
        .collect();
    let mut out: BTreeMap<Uuid, Vec<(Member, Organization)>> =
        ps.iter().map(|p| (p.id, Vec::new())).collect();
    if ids.is_empty() {
        return Ok(out);
    }
    let calls: BTreeSet<Uuid> = ps.iter().map(|p| p.call_id).collect();
    let orgs: BTreeMap<Uuid, Organization> = organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|m| to_organization(m).map(|o| (o.id, o)))
        .collect::<Result<_, _>>()?;
    let rows: Vec<(Uuid, Uuid, String, i64)> = partnership_member::Entity::find()
        .select_only()
        .column(partnership_member::Column::OrganizationId)
        .column(partnership::Column::CallId)
        .column(partnership_member::Column::Role)
        .column_as(
            Expr::expr(Func::count(Expr::col((
                partnership_member::Entity,
                partnership_member::Column::PartnershipId,
            )))),
            "n",
        )
        .join(
            JoinType::InnerJoin,
            partnership_member::Entity::belongs_to(partnership::Entity)
                .from(partnership_member::Column::PartnershipId)
                .to(partnership::Column::Id)
                .into(),
        )
        // No condition on the call in SQL: the members' memberships are found through their
        // organization's index and the partnerships by key, whatever the planner believes of
        // the call's size (with a condition on call_id, PostgreSQL, its statistics behind a
        // call that grew fast, walked every partnership of the call: 0.2 s a submission at
        // 10,000). The other calls' counts are a few rows more, dropped below.
        .filter(partnership_member::Column::OrganizationId.is_in(ids.iter().copied()))
        // Only accepted memberships count: an invitation commits nobody yet.
        .filter(partnership_member::Column::Status.eq(MembershipStatus::Accepted.as_str()))
        .group_by(partnership_member::Column::OrganizationId)
        .group_by(partnership::Column::CallId)
        .group_by(partnership_member::Column::Role)
        .into_tuple()
        .all(db)
        .await?;
    // (organization, call) → (partnerships joined, partnerships led)
    let mut counts: BTreeMap<(Uuid, Uuid), (u32, u32)> = BTreeMap::new();
    for (org, call, role, n) in rows.into_iter().filter(|r| calls.contains(&r.1)) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        let c = counts.entry((org, call)).or_default();
        c.0 = c.0.saturating_add(n);
        if role == ParticipationRole::Lead.as_str() {
            c.1 = c.1.saturating_add(n);
        }
    }
    for p in ps {
        let list = out.entry(p.id).or_default();
        for m in &p.members {
            let Some(org) = orgs.get(&m.organization_id) else {
                continue;
            };
            let (partnerships_in_call, leads_in_call) = counts
                .get(&(m.organization_id, p.call_id))
                .copied()
                .unwrap_or_default();
            list.push((
                Member {
                    organization_id: m.organization_id,
                    role: m.role,
                    status: m.status,
                    facts: org.facts.clone(),
                    partnerships_in_call,
                    leads_in_call,
                },
                org.clone(),
            ));
        }
    }
    Ok(out)
}
