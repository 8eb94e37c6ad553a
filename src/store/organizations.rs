//! The shared registry of organizations and their representatives.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::Page;
pub use super::rows::Organization;
use super::rows::to_organization;
use crate::domain::identifiers::TaxCode;
use crate::domain::organization::OrganizationFacts;
use crate::entity::{organization, organization_representative, partnership_member, user};

/// A representative of an organization.
#[derive(Debug, Clone)]
pub struct Representative {
    pub user_id: Uuid,
    pub username: String,
    pub full_name: String,
    pub added_at: DateTime<Utc>,
}

fn active(
    id: Uuid,
    f: &OrganizationFacts,
    version: i32,
    now: DateTime<Utc>,
) -> organization::ActiveModel {
    organization::ActiveModel {
        id: Set(id),
        tax_code: Set(f.tax_code.as_str().to_owned()),
        vat_number: Set(f.vat_number.as_ref().map(|v| v.as_str().to_owned())),
        legal_name: Set(f.legal_name.clone()),
        category: Set(f.category().as_str().to_owned()),
        subtype: Set(f.subtype.as_str().to_owned()),
        chamber_registration: Set(f.chamber_registration.clone()),
        seats: Set(serde_json::to_string(&f.seats).unwrap_or_else(|_| "[]".into())),
        staff: Set(f.figures.as_ref().map(|x| x.staff)),
        turnover: Set(f
            .figures
            .as_ref()
            .and_then(|x| x.turnover)
            .map(|m| m.as_decimal())),
        balance_sheet_total: Set(f
            .figures
            .as_ref()
            .and_then(|x| x.balance_sheet_total)
            .map(|m| m.as_decimal())),
        reference_year: Set(f.reference_year),
        legal_representative_name: Set(f
            .legal_representative
            .as_ref()
            .map(|r| r.full_name.clone())),
        legal_representative_tax_code: Set(f
            .legal_representative
            .as_ref()
            .map(|r| r.tax_code.as_str().to_owned())),
        version: Set(version),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// What the audit log keeps of an organization.
pub fn facts_json(f: &OrganizationFacts) -> serde_json::Value {
    json!({
        "tax_code": f.tax_code.as_str(), "vat_number": f.vat_number.as_ref().map(|v| v.as_str()),
        "legal_name": f.legal_name, "subtype": f.subtype.as_str(), "chamber_registration": f.chamber_registration,
        "seats": f.seats, "staff": f.figures.as_ref().map(|x| x.staff.to_string()),
        "turnover": f.figures.as_ref().and_then(|x| x.turnover), "balance_sheet_total": f.figures.as_ref().and_then(|x| x.balance_sheet_total),
        "reference_year": f.reference_year,
        "legal_representative": f.legal_representative.as_ref().map(|r| json!({"full_name": r.full_name, "tax_code": r.tax_code.as_str()})),
    })
}

/// Whether an organization with this tax code is registered.
pub async fn tax_code_exists<C: ConnectionTrait>(
    conn: &C,
    tax_code: &TaxCode,
) -> Result<bool, DbErr> {
    Ok(organization::Entity::find()
        .filter(organization::Column::TaxCode.eq(tax_code.as_str()))
        .count(conn)
        .await?
        > 0)
}

/// Store a new organization (a unique-key violation when its tax code is taken).
pub async fn insert<C: ConnectionTrait>(conn: &C, o: &Organization) -> Result<(), DbErr> {
    active(o.id, &o.facts, o.version, o.created_at)
        .insert(conn)
        .await
        .map(|_| ())
}

/// Whether a user already represents an organization.
pub async fn is_representative<C: ConnectionTrait>(
    conn: &C,
    org_id: Uuid,
    user_id: Uuid,
) -> Result<bool, DbErr> {
    Ok(
        organization_representative::Entity::find_by_id((org_id, user_id))
            .one(conn)
            .await?
            .is_some(),
    )
}

/// Make a user a representative of an organization.
pub async fn insert_representative<C: ConnectionTrait>(
    conn: &C,
    org_id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
    added_by: Option<Uuid>,
) -> Result<(), DbErr> {
    organization_representative::ActiveModel {
        organization_id: Set(org_id),
        user_id: Set(user_id),
        added_at: Set(now),
        added_by: Set(added_by),
    }
    .insert(conn)
    .await
    .map(|_| ())
}

/// Write an organization's new facts if it is still at `expected_version`; false when it
/// changed meanwhile.
pub async fn update_at_version<C: ConnectionTrait>(
    conn: &C,
    new: &Organization,
    expected_version: i32,
) -> Result<bool, DbErr> {
    let mut model = active(new.id, &new.facts, new.version, new.updated_at);
    model.id = sea_orm::ActiveValue::Unchanged(new.id);
    model.created_at = sea_orm::ActiveValue::NotSet;
    let result = organization::Entity::update_many()
        .set(model)
        .filter(organization::Column::Id.eq(new.id))
        .filter(organization::Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn get<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<Organization>, DbErr> {
    organization::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(to_organization)
        .transpose()
}

pub async fn get_by_tax_code<C: ConnectionTrait>(
    db: &C,
    tax_code: &str,
) -> Result<Option<Organization>, DbErr> {
    organization::Entity::find()
        .filter(organization::Column::TaxCode.eq(tax_code))
        .one(db)
        .await?
        .map(to_organization)
        .transpose()
}

/// Several organizations by id, in id order.
pub async fn get_many<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> Result<Vec<Organization>, DbErr> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(organization::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_organization)
        .collect()
}

/// The organizations a user represents.
pub async fn represented_by<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> Result<BTreeSet<Uuid>, DbErr> {
    Ok(organization_representative::Entity::find()
        .filter(organization_representative::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.organization_id)
        .collect())
}

/// The organizations that share a partnership with one of `orgs`.
pub async fn partners_of<C: ConnectionTrait>(
    db: &C,
    orgs: &BTreeSet<Uuid>,
) -> Result<BTreeSet<Uuid>, DbErr> {
    if orgs.is_empty() {
        return Ok(BTreeSet::new());
    }
    // Accepted memberships on both sides: an invitation shows nothing of either party.
    let accepted = crate::domain::partnership::MembershipStatus::Accepted.as_str();
    let partnerships: Vec<Uuid> = partnership_member::Entity::find()
        .filter(partnership_member::Column::OrganizationId.is_in(orgs.iter().copied()))
        .filter(partnership_member::Column::Status.eq(accepted))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.partnership_id)
        .collect();
    if partnerships.is_empty() {
        return Ok(BTreeSet::new());
    }
    Ok(partnership_member::Entity::find()
        .filter(partnership_member::Column::PartnershipId.is_in(partnerships))
        .filter(partnership_member::Column::Status.eq(accepted))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.organization_id)
        .collect())
}

pub async fn representatives(
    db: &DatabaseConnection,
    org_id: Uuid,
) -> Result<Vec<Representative>, DbErr> {
    let links = organization_representative::Entity::find()
        .filter(organization_representative::Column::OrganizationId.eq(org_id))
        .all(db)
        .await?;
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(links.iter().map(|l| l.user_id)))
        .all(db)
        .await?;
    let mut out: Vec<Representative> = links
        .iter()
        .filter_map(|l| {
            let u = users.iter().find(|u| u.id == l.user_id)?;
            Some(Representative {
                user_id: u.id,
                username: u.username.clone(),
                full_name: u.full_name.clone(),
                added_at: l.added_at,
            })
        })
        .collect();
    out.sort_by(|a, b| a.username.cmp(&b.username));
    Ok(out)
}

/// A page of organizations, by legal name; `only` restricts to a set of ids.
pub async fn list(
    db: &DatabaseConnection,
    only: Option<&BTreeSet<Uuid>>,
    tax_code: Option<&str>,
    page: Page,
) -> Result<(Vec<Organization>, u64), DbErr> {
    let mut q = organization::Entity::find();
    if let Some(ids) = only {
        q = q.filter(organization::Column::Id.is_in(ids.iter().copied()));
    }
    if let Some(tc) = tax_code {
        q = q.filter(organization::Column::TaxCode.eq(tc));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_asc(organization::Column::LegalName)
        .order_by_asc(organization::Column::Id)
        .offset(page.offset())
        .limit(page.per_page)
        .all(db)
        .await?;
    Ok((
        rows.into_iter()
            .map(to_organization)
            .collect::<Result<_, _>>()?,
        total,
    ))
}
