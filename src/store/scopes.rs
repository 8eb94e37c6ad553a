//! Subqueries that several repositories share: which partnerships have a member, an
//! invitation or an application to an agency, the columns that decide an applicant's access
//! to an application, and the check of a request's caller (its user and session) that a read
//! carries in its own statement. A leaf: it uses no other store module, only entities.

use std::collections::BTreeSet;

use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use uuid::Uuid;

use crate::domain::agency::AgencyCode;
use crate::domain::partnership::{MembershipStatus, ParticipationRole};
use crate::domain::user::Role;
use crate::entity::{
    application, auth_session, organization_representative, partnership_member, user,
};

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
pub fn access_columns(user_id: Uuid) -> [(Expr, &'static str); 2] {
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

/// What a statement needs to check the caller of a request in passing: its token's claims.
#[derive(Debug, Clone, Copy)]
pub struct CallerKey {
    pub user_id: Uuid,
    /// The session of the token, if it has one.
    pub session_id: Option<Uuid>,
    pub token_version: i32,
    pub role: Role,
    pub agency: Option<AgencyCode>,
}

/// A scalar subquery to add to any statement (alias `caller_username`): the caller's user name
/// when the user is enabled, still at the token's generation, role and agency, and the token's
/// session is open; NULL otherwise. So the read a request makes also checks its caller.
pub fn caller_column(key: &CallerKey) -> (Expr, &'static str) {
    let mut q = Query::select()
        .column((user::Entity, user::Column::Username))
        .from(user::Entity)
        .and_where(Expr::col((user::Entity, user::Column::Id)).eq(key.user_id))
        .and_where(Expr::col((user::Entity, user::Column::Disabled)).eq(false))
        .and_where(Expr::col((user::Entity, user::Column::TokenVersion)).eq(key.token_version))
        .and_where(Expr::col((user::Entity, user::Column::Role)).eq(key.role.as_str()))
        .to_owned();
    let agency = Expr::col((user::Entity, user::Column::AgencyCode));
    q.and_where(match key.agency {
        Some(a) => agency.eq(a.as_str()),
        None => agency.is_null(),
    });
    if let Some(sid) = key.session_id {
        q.and_where(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(auth_session::Entity)
                .and_where(Expr::col((auth_session::Entity, auth_session::Column::Id)).eq(sid))
                .and_where(
                    Expr::col((auth_session::Entity, auth_session::Column::UserId)).eq(key.user_id),
                )
                .and_where(
                    Expr::col((auth_session::Entity, auth_session::Column::RevokedAt)).is_null(),
                )
                .to_owned(),
        ));
    }
    (Expr::SubQuery(None, Box::new(q.into())), "caller_username")
}

/// The caller's user name from a row with [`caller_column`]: `None` when not current.
pub fn caller_of(row: &sea_orm::QueryResult) -> Result<Option<String>, DbErr> {
    row.try_get("", "caller_username")
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
pub fn access_facts_of(row: &sea_orm::QueryResult) -> Result<AccessFacts, DbErr> {
    let lead: Option<Uuid> = row.try_get("", "access_lead")?;
    let represented: Option<Uuid> = row.try_get("", "access_represented")?;
    Ok(AccessFacts {
        lead,
        members: lead.into_iter().chain(represented).collect(),
        represented: represented.into_iter().collect(),
    })
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
pub fn of_agency(call_id: Uuid, agency: AgencyCode) -> SelectStatement {
    Query::select()
        .column(application::Column::PartnershipId)
        .from(application::Entity)
        .and_where(application::Column::CallId.eq(call_id))
        .and_where(application::Column::AgencyCode.eq(agency.as_str()))
        .to_owned()
}

/// The lead organizations of the partnerships a subquery selects, as a subquery.
pub fn lead_organizations_of(partnerships: SelectStatement) -> SelectStatement {
    Query::select()
        .column(partnership_member::Column::OrganizationId)
        .from(partnership_member::Entity)
        .and_where(partnership_member::Column::Role.eq(ParticipationRole::Lead.as_str()))
        .and_where(partnership_member::Column::PartnershipId.in_subquery(partnerships))
        .to_owned()
}

/// The lead organization of each partnership a subquery selects, by partnership: its first
/// lead member, as `Partnership::lead` finds it. One statement, whatever their number.
pub async fn leads_of<C: ConnectionTrait>(
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
