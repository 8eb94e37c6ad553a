//! Every user's inbox.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::Value;
use uuid::Uuid;

use super::Page;
use super::scopes::{lead_organizations_of, leads_of, of_agency};
use super::writes::Writes;
use crate::domain::agency::AgencyCode;
use crate::domain::partnership::ParticipationRole;
use crate::domain::user::Role;
use crate::domain::violation::Msg;
use crate::entity::{
    application, notification, organization_representative, partnership_member, user,
};

/// A notice to leave in several inboxes.
pub struct Outgoing<'a> {
    pub users: &'a [Uuid],
    pub kind: &'a str,
    pub message: Msg,
    pub data: Value,
}

/// Add the rows of several notices to a unit of work: a thousand rows an insert.
pub fn notify_all_in(w: &mut Writes, notices: Vec<Outgoing<'_>>, now: DateTime<Utc>) {
    let rows: Vec<notification::ActiveModel> = notices
        .iter()
        .flat_map(|n| {
            let (en, it, data) = (
                n.message.en.to_string(),
                n.message.it.to_string(),
                n.data.to_string(),
            );
            n.users.iter().map(move |u| notification::ActiveModel {
                id: Set(Uuid::new_v4()),
                user_id: Set(*u),
                kind: Set(n.kind.to_owned()),
                message_en: Set(en.clone()),
                message_it: Set(it.clone()),
                data: Set(data.clone()),
                created_at: Set(now),
                read_at: Set(None),
            })
        })
        .collect();
    // 8 columns a row: well under the databases' bind limits.
    for chunk in rows.chunks(1000) {
        w.insert_many(chunk.iter().cloned());
    }
}

/// The enabled evaluators of an agency.
pub async fn evaluators_of<C: ConnectionTrait>(
    conn: &C,
    agency: AgencyCode,
) -> Result<Vec<Uuid>, DbErr> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq(Role::Evaluator.as_str()))
        .filter(user::Column::AgencyCode.eq(agency.as_str()))
        .filter(user::Column::Disabled.eq(false))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect())
}

/// The enabled administrators of the Region.
pub async fn administrators<C: ConnectionTrait>(conn: &C) -> Result<Vec<Uuid>, DbErr> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .filter(user::Column::Disabled.eq(false))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect())
}

/// The representatives of an organization.
pub async fn representatives_of<C: ConnectionTrait>(
    conn: &C,
    organization: Uuid,
) -> Result<Vec<Uuid>, DbErr> {
    Ok(organization_representative::Entity::find()
        .filter(organization_representative::Column::OrganizationId.eq(organization))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.user_id)
        .collect())
}

/// The representatives of an application's lead partner: who hears of its fate.
pub async fn lead_representatives<C: ConnectionTrait>(
    conn: &C,
    application_id: Uuid,
) -> Result<Vec<Uuid>, DbErr> {
    let Some(partnership) = application::Entity::find_by_id(application_id)
        .select_only()
        .column(application::Column::PartnershipId)
        .into_tuple::<Uuid>()
        .one(conn)
        .await?
    else {
        return Ok(vec![]);
    };
    // Its first lead member, as a partnership's lead is read.
    let Some(lead) = partnership_member::Entity::find()
        .select_only()
        .column(partnership_member::Column::OrganizationId)
        .filter(partnership_member::Column::PartnershipId.eq(partnership))
        .filter(partnership_member::Column::Role.eq(ParticipationRole::Lead.as_str()))
        .order_by_asc(partnership_member::Column::AddedAt)
        .order_by_asc(partnership_member::Column::OrganizationId)
        .into_tuple::<Uuid>()
        .one(conn)
        .await?
    else {
        return Ok(vec![]);
    };
    representatives_of(conn, lead).await
}

/// The representatives of the lead partner of each application of a call for an agency,
/// by application: `lead_representatives` of them all, in three queries whatever their
/// number.
pub async fn lead_representatives_of_agency<C: ConnectionTrait>(
    conn: &C,
    call_id: Uuid,
    agency: AgencyCode,
) -> Result<HashMap<Uuid, Vec<Uuid>>, DbErr> {
    let applications: Vec<(Uuid, Uuid)> = application::Entity::find()
        .select_only()
        .columns([application::Column::Id, application::Column::PartnershipId])
        .filter(application::Column::CallId.eq(call_id))
        .filter(application::Column::AgencyCode.eq(agency.as_str()))
        .into_tuple()
        .all(conn)
        .await?;
    let leads = leads_of(conn, of_agency(call_id, agency)).await?;
    let mut representatives: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for r in organization_representative::Entity::find()
        .filter(
            organization_representative::Column::OrganizationId
                .in_subquery(lead_organizations_of(of_agency(call_id, agency))),
        )
        .all(conn)
        .await?
    {
        representatives
            .entry(r.organization_id)
            .or_default()
            .push(r.user_id);
    }
    Ok(applications
        .into_iter()
        .map(|(id, partnership)| {
            let users = leads
                .get(&partnership)
                .and_then(|o| representatives.get(o))
                .cloned()
                .unwrap_or_default();
            (id, users)
        })
        .collect())
}

/// A notice as stored.
pub struct Notice {
    pub id: Uuid,
    pub kind: String,
    pub message: Msg,
    pub data: Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// A user's notices, newest first.
pub async fn list(
    db: &DatabaseConnection,
    user_id: Uuid,
    unread_only: bool,
    page: Page,
) -> Result<(Vec<Notice>, u64), DbErr> {
    let mut q = notification::Entity::find().filter(notification::Column::UserId.eq(user_id));
    if unread_only {
        q = q.filter(notification::Column::ReadAt.is_null());
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(notification::Column::CreatedAt)
        .order_by_asc(notification::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok((
        rows.into_iter()
            .map(|n| Notice {
                id: n.id,
                kind: n.kind,
                message: Msg::new(n.message_en, n.message_it),
                data: serde_json::from_str(&n.data).unwrap_or(Value::Null),
                created_at: n.created_at,
                read_at: n.read_at,
            })
            .collect(),
        total,
    ))
}

/// Mark one of the user's notices read (idempotent): false when the user has no such notice.
pub async fn mark_read(
    db: &DatabaseConnection,
    user_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let Some(found) = notification::Entity::find_by_id(id)
        .filter(notification::Column::UserId.eq(user_id))
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    if found.read_at.is_none() {
        notification::Entity::update_many()
            .col_expr(
                notification::Column::ReadAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(notification::Column::Id.eq(id))
            .exec(db)
            .await?;
    }
    Ok(true)
}
