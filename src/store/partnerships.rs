//! Partnerships for a call and their members.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    JoinType, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, Actor, Change};
use super::organizations::{self, Organization};
use super::{Page, begin_write};
use crate::domain::agency::AgencyCode;
use crate::domain::partnership::{Member, MembershipStatus, ParticipationRole};
use crate::domain::violation::Msg;
use crate::entity::{application, organization_representative, partnership, partnership_member};
use crate::error::ApiError;

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

/// What deciding an applicant's access to a partnership (or its application) needs.
#[derive(Debug, Clone, Default)]
pub struct AccessFacts {
    pub lead: Option<Uuid>,
    pub members: BTreeSet<Uuid>,
    /// The members the user represents.
    pub represented: BTreeSet<Uuid>,
}

/// Two scalar subqueries for a statement over `applications`: the lead of the application's
/// partnership (`access_lead`), and the member `user_id` represents (`access_represented`),
/// the lead first when it represents it. They are all that deciding an applicant's access
/// needs, so that reading an application and deciding who may see it is one statement.
pub(super) fn access_columns(user_id: Uuid) -> [(Expr, &'static str); 2] {
    let of_application = || {
        Expr::col((
            partnership_member::Entity,
            partnership_member::Column::PartnershipId,
        ))
        .equals((application::Entity, application::Column::PartnershipId))
    };
    let lead = Query::select()
        .column((
            partnership_member::Entity,
            partnership_member::Column::OrganizationId,
        ))
        .from(partnership_member::Entity)
        .and_where(of_application())
        .and_where(
            Expr::col((partnership_member::Entity, partnership_member::Column::Role))
                .eq(ParticipationRole::Lead.as_str()),
        )
        .and_where(accepted())
        .order_by(
            (
                partnership_member::Entity,
                partnership_member::Column::AddedAt,
            ),
            sea_orm::Order::Asc,
        )
        .order_by(
            (
                partnership_member::Entity,
                partnership_member::Column::OrganizationId,
            ),
            sea_orm::Order::Asc,
        )
        .limit(1)
        .to_owned();
    let represented = Query::select()
        .column((
            partnership_member::Entity,
            partnership_member::Column::OrganizationId,
        ))
        .from(partnership_member::Entity)
        .inner_join(
            organization_representative::Entity,
            Expr::col((
                organization_representative::Entity,
                organization_representative::Column::OrganizationId,
            ))
            .equals((
                partnership_member::Entity,
                partnership_member::Column::OrganizationId,
            )),
        )
        .and_where(of_application())
        .and_where(accepted())
        .and_where(
            Expr::col((
                organization_representative::Entity,
                organization_representative::Column::UserId,
            ))
            .eq(user_id),
        )
        .order_by_expr(
            Expr::case(
                Expr::col((partnership_member::Entity, partnership_member::Column::Role))
                    .eq(ParticipationRole::Lead.as_str()),
                0,
            )
            .finally(1)
            .into(),
            sea_orm::Order::Asc,
        )
        .limit(1)
        .to_owned();
    [
        (Expr::SubQuery(None, Box::new(lead.into())), "access_lead"),
        (
            Expr::SubQuery(None, Box::new(represented.into())),
            "access_represented",
        ),
    ]
}

/// Only accepted members count, read and are read.
fn accepted() -> Expr {
    Expr::col((
        partnership_member::Entity,
        partnership_member::Column::Status,
    ))
    .eq(MembershipStatus::Accepted.as_str())
}

/// The facts of [`access_columns`] from a row: the lead, and the member the user represents
/// (the lead when it does), which decide access as the whole sets would.
pub(super) fn access_facts_of(row: &sea_orm::QueryResult) -> Result<AccessFacts, DbErr> {
    let lead: Option<Uuid> = row.try_get("", "access_lead")?;
    let represented: Option<Uuid> = row.try_get("", "access_represented")?;
    Ok(AccessFacts {
        lead,
        members: lead.into_iter().chain(represented).collect(),
        represented: represented.into_iter().collect(),
    })
}

pub fn partnership_not_found() -> ApiError {
    ApiError::not_found(
        "partnership_not_found",
        "There is no such partnership that you may see.",
        "Non esiste un partenariato con questo identificativo visibile a lei.",
    )
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

/// Lock a partnership's row until the end of the transaction (PostgreSQL; SQLite's
/// `BEGIN IMMEDIATE` already serialises writers), so that its members cannot change while
/// an application of it is being submitted.
pub async fn lock<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<(), DbErr> {
    if conn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        partnership::Entity::find_by_id(id)
            .lock_exclusive()
            .one(conn)
            .await?;
    }
    Ok(())
}

pub async fn get<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<Partnership>, DbErr> {
    let Some(p) = partnership::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let mut members = members_of(db, &[id]).await?;
    Ok(Some(assemble(p, members.remove(&id).unwrap_or_default())))
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

/// `SELECT partnership_id FROM partnership_members WHERE organization_id IN (orgs)`: the
/// partnerships with one of these organizations as an accepted member, for an
/// `IN (subquery)`, so that no list of partnerships is bound.
pub fn with_member(orgs: &BTreeSet<Uuid>) -> SelectStatement {
    with_status(Some(orgs), &[MembershipStatus::Accepted])
}

/// The partnerships that invited one of these organizations, answered or not (declined
/// invitations stay listed until the lead removes them).
/// `None`: any organization.
pub fn with_invitation(orgs: Option<&BTreeSet<Uuid>>) -> SelectStatement {
    with_status(
        orgs,
        &[MembershipStatus::Pending, MembershipStatus::Declined],
    )
}

fn with_status(orgs: Option<&BTreeSet<Uuid>>, statuses: &[MembershipStatus]) -> SelectStatement {
    let mut q = Query::select()
        .column(partnership_member::Column::PartnershipId)
        .from(partnership_member::Entity)
        .and_where(partnership_member::Column::Status.is_in(statuses.iter().map(|s| s.as_str())))
        .to_owned();
    if let Some(orgs) = orgs {
        q.and_where(partnership_member::Column::OrganizationId.is_in(orgs.iter().copied()));
    }
    q
}

/// The partnerships with an application of a call to an agency (any status), as a subquery:
/// no list of ids, which would outgrow the databases' bind limits.
pub(super) fn of_agency(call_id: Uuid, agency: AgencyCode) -> SelectStatement {
    Query::select()
        .column(application::Column::PartnershipId)
        .from(application::Entity)
        .and_where(application::Column::CallId.eq(call_id))
        .and_where(application::Column::AgencyCode.eq(agency.as_str()))
        .to_owned()
}

/// The lead organizations of the partnerships a subquery selects, as a subquery.
pub(super) fn lead_organizations_of(partnerships: SelectStatement) -> SelectStatement {
    Query::select()
        .column(partnership_member::Column::OrganizationId)
        .from(partnership_member::Entity)
        .and_where(partnership_member::Column::Role.eq(ParticipationRole::Lead.as_str()))
        .and_where(partnership_member::Column::PartnershipId.in_subquery(partnerships))
        .to_owned()
}

/// The lead organization of each partnership a subquery selects, by partnership: its first
/// lead member, as `Partnership::lead` finds it. One statement, whatever their number.
pub(super) async fn leads_of<C: ConnectionTrait>(
    conn: &C,
    partnerships: SelectStatement,
) -> Result<HashMap<Uuid, Uuid>, DbErr> {
    let mut leads = HashMap::new();
    for m in partnership_member::Entity::find()
        .filter(partnership_member::Column::Role.eq(ParticipationRole::Lead.as_str()))
        .filter(partnership_member::Column::PartnershipId.in_subquery(partnerships))
        .order_by_asc(partnership_member::Column::AddedAt)
        .order_by_asc(partnership_member::Column::OrganizationId)
        .all(conn)
        .await?
    {
        leads.entry(m.partnership_id).or_insert(m.organization_id);
    }
    Ok(leads)
}

/// The lead organization of every partnership with an application of a call to an agency,
/// by partnership: two statements, whatever their number.
pub async fn leads_for_agency<C: ConnectionTrait>(
    db: &C,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<HashMap<Uuid, Organization>, DbErr> {
    let leads = leads_of(db, of_agency(call_id, agency)).await?;
    let orgs: HashMap<Uuid, Organization> =
        organizations::selected_by(db, lead_organizations_of(of_agency(call_id, agency)))
            .await?
            .into_iter()
            .map(|o| (o.id, o))
            .collect();
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

fn snapshot(p: &Partnership) -> serde_json::Value {
    json!({
        "call_id": p.call_id, "name": p.name,
        "members": p.members.iter().map(|m| json!({"organization_id": m.organization_id, "role": m.role.as_str(), "status": m.status.as_str()})).collect::<Vec<_>>(),
    })
}

/// Create a partnership with its lead.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    call_id: Uuid,
    name: &str,
    lead: Uuid,
) -> Result<Partnership, ApiError> {
    let tx = begin_write(db).await?;
    let id = Uuid::new_v4();
    partnership::ActiveModel {
        id: Set(id),
        call_id: Set(call_id),
        name: Set(name.to_owned()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        created_by: Set(actor.user_id),
    }
    .insert(&tx)
    .await?;
    partnership_member::ActiveModel {
        partnership_id: Set(id),
        organization_id: Set(lead),
        role: Set(ParticipationRole::Lead.as_str().to_owned()),
        added_at: Set(now),
        status: Set(MembershipStatus::Accepted.as_str().to_owned()),
        answered_at: Set(None),
    }
    .insert(&tx)
    .await?;
    let p = Partnership {
        id,
        call_id,
        name: name.to_owned(),
        version: 1,
        created_at: now,
        updated_at: now,
        members: vec![MemberRecord {
            organization_id: lead,
            role: ParticipationRole::Lead,
            added_at: now,
            status: MembershipStatus::Accepted,
            answered_at: None,
        }],
    };
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "partnership.created",
            entity_type: "partnership",
            entity_id: id.to_string(),
            before: None,
            after: Some(snapshot(&p)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

/// Change the members of a partnership in one transaction: `decide` sees the current
/// partnership and returns the member to add or the one to remove.
pub async fn change_members<F>(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    id: Uuid,
    decide: F,
) -> Result<Partnership, ApiError>
where
    F: FnOnce(&Partnership) -> Result<MemberChange, ApiError>,
{
    let tx = begin_write(db).await?;
    lock(&tx, id).await?;
    let current = get(&tx, id).await?.ok_or_else(partnership_not_found)?;
    if super::applications::for_partnership(&tx, id)
        .await?
        .is_some_and(|a| a.status != crate::domain::application::ApplicationStatus::Draft)
    {
        return Err(ApiError::conflict(
            "partnership_frozen",
            "The partnership's application has been submitted: its members can no longer change.",
            "La domanda del partenariato è stata presentata: i suoi membri non possono più cambiare.",
        ));
    }
    let change = decide(&current)?;
    let action = match &change {
        MemberChange::Add {
            organization_id,
            role,
            status,
        } => {
            partnership_member::ActiveModel {
                partnership_id: Set(id),
                organization_id: Set(*organization_id),
                role: Set(role.as_str().to_owned()),
                added_at: Set(now),
                status: Set(status.as_str().to_owned()),
                answered_at: Set(None),
            }
            .insert(&tx)
            .await
            .map_err(|e| {
                if super::is_unique_violation(&e) {
                    already_member()
                } else {
                    e.into()
                }
            })?;
            if *status == MembershipStatus::Pending {
                "partnership.member_invited"
            } else {
                "partnership.member_added"
            }
        }
        MemberChange::Answer {
            organization_id,
            accept,
        } => {
            let status = if *accept {
                MembershipStatus::Accepted
            } else {
                MembershipStatus::Declined
            };
            partnership_member::Entity::update_many()
                .set(partnership_member::ActiveModel {
                    status: Set(status.as_str().to_owned()),
                    answered_at: Set(Some(now)),
                    ..Default::default()
                })
                .filter(partnership_member::Column::PartnershipId.eq(id))
                .filter(partnership_member::Column::OrganizationId.eq(*organization_id))
                .filter(partnership_member::Column::Status.eq(MembershipStatus::Pending.as_str()))
                .exec(&tx)
                .await?;
            if *accept {
                "partnership.invitation_accepted"
            } else {
                "partnership.invitation_declined"
            }
        }
        MemberChange::Remove { organization_id } => {
            partnership_member::Entity::delete_by_id((id, *organization_id))
                .exec(&tx)
                .await?;
            "partnership.member_removed"
        }
    };
    partnership::Entity::update_many()
        .col_expr(
            partnership::Column::Version,
            Expr::col(partnership::Column::Version).add(Expr::val(1)),
        )
        .col_expr(partnership::Column::UpdatedAt, Expr::value(now))
        .filter(partnership::Column::Id.eq(id))
        .exec(&tx)
        .await?;
    let after = get(&tx, id).await?.ok_or_else(partnership_not_found)?;
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action,
            entity_type: "partnership",
            entity_id: id.to_string(),
            before: Some(snapshot(&current)),
            after: Some(snapshot(&after)),
        },
    )
    .await?;
    notify_change(&tx, &after, &change, now).await?;
    tx.commit().await?;
    Ok(after)
}

/// Who hears of a change of members, in their inbox: the invited organization's
/// representatives of their invitation and of their removal, the lead's of an answer.
async fn notify_change<C: ConnectionTrait>(
    conn: &C,
    after: &Partnership,
    change: &MemberChange,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let name = &after.name;
    let (organization, kind, message) = match change {
        MemberChange::Add {
            organization_id,
            status: MembershipStatus::Pending,
            ..
        } => (
            *organization_id,
            "partnership.member_invited",
            Msg::new(
                format!(
                    "Your organization is invited to join the partnership \"{name}\": accept or decline the invitation."
                ),
                format!(
                    "Il suo ente è invitato a far parte del partenariato \"{name}\": accettare o rifiutare l'invito."
                ),
            ),
        ),
        MemberChange::Add { .. } => return Ok(()),
        MemberChange::Answer {
            organization_id,
            accept,
        } => {
            let Some(lead) = after.lead() else {
                return Ok(());
            };
            let who = organization_id;
            let (kind, en, it) = if *accept {
                (
                    "partnership.invitation_accepted",
                    format!(
                        "An invited organization ({who}) accepted to join the partnership \"{name}\"."
                    ),
                    format!(
                        "Un ente invitato ({who}) ha accettato di far parte del partenariato \"{name}\"."
                    ),
                )
            } else {
                (
                    "partnership.invitation_declined",
                    format!(
                        "An invited organization ({who}) declined to join the partnership \"{name}\": remove it."
                    ),
                    format!(
                        "Un ente invitato ({who}) ha rifiutato di far parte del partenariato \"{name}\": rimuoverlo."
                    ),
                )
            };
            (lead, kind, Msg::new(en, it))
        }
        MemberChange::Remove { organization_id } => (
            *organization_id,
            "partnership.member_removed",
            Msg::new(
                format!(
                    "Your organization is no longer in the partnership \"{name}\": its lead removed it."
                ),
                format!(
                    "Il suo ente non fa più parte del partenariato \"{name}\": il capofila lo ha rimosso."
                ),
            ),
        ),
    };
    let users: Vec<Uuid> = organization_representative::Entity::find()
        .filter(organization_representative::Column::OrganizationId.eq(organization))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.user_id)
        .collect();
    let data = json!({
        "partnership_id": after.id,
        "call_id": after.call_id,
        "organization_id": match change {
            MemberChange::Add { organization_id, .. }
            | MemberChange::Answer { organization_id, .. }
            | MemberChange::Remove { organization_id } => organization_id,
        },
    });
    super::notifications::notify(conn, &users, kind, message, data, now).await
}

/// One change of a partnership's members.
pub enum MemberChange {
    /// Add a member: `Accepted` when the lead's user represents it, `Pending` (an
    /// invitation) otherwise.
    Add {
        organization_id: Uuid,
        role: ParticipationRole,
        status: MembershipStatus,
    },
    /// An invited organization's answer.
    Answer {
        organization_id: Uuid,
        accept: bool,
    },
    Remove {
        organization_id: Uuid,
    },
}

pub fn already_member() -> ApiError {
    ApiError::conflict(
        "member_already_present",
        "This organization is already a member of the partnership, or invited to be.",
        "Questo ente è già membro del partenariato, o invitato a esserlo.",
    )
}

/// Delete a partnership after `check` has allowed it.
pub async fn delete<F>(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    id: Uuid,
    check: F,
) -> Result<(), ApiError>
where
    F: FnOnce(&Partnership) -> Result<(), ApiError>,
{
    let tx = begin_write(db).await?;
    lock(&tx, id).await?;
    let current = get(&tx, id).await?.ok_or_else(partnership_not_found)?;
    check(&current)?;
    if super::applications::for_partnership(&tx, id)
        .await?
        .is_some()
    {
        return Err(ApiError::conflict(
            "partnership_has_application",
            "The partnership has an application: delete the draft first (a submitted one can only be withdrawn).",
            "Il partenariato ha una domanda: eliminare prima la bozza (una domanda presentata si può solo ritirare).",
        ));
    }
    partnership_member::Entity::delete_many()
        .filter(partnership_member::Column::PartnershipId.eq(id))
        .exec(&tx)
        .await?;
    partnership::Entity::delete_by_id(id).exec(&tx).await?;
    audit::record(
        &tx,
        actor,
        now,
        Change {
            action: "partnership.deleted",
            entity_type: "partnership",
            entity_id: id.to_string(),
            before: Some(snapshot(&current)),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
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
    let orgs: BTreeMap<Uuid, Organization> = organizations::get_many(db, &ids)
        .await?
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
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
