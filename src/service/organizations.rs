//! The shared registry of organizations: registration, reading by who may, changes by their
//! representatives, new representatives.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde_json::json;
use uuid::Uuid;

use super::events;
use crate::auth::AuthUser;
use crate::domain::ErrorCode;
use crate::domain::event::Actor;
use crate::domain::event::{DomainEvent, EventKind, OrganizationEvent};
use crate::domain::identifiers::TaxCode;
use crate::domain::organization::OrganizationFacts;
use crate::domain::partnership::{Access, organization_access};
use crate::domain::user::Role;
use crate::domain::version::Expected;
use crate::error::ApiError;
use crate::store::{self, Page, organizations, users};

pub use crate::store::organizations::{Organization, Representative};

pub fn organization_not_found() -> ApiError {
    ApiError::from(ErrorCode::OrganizationNotFound)
}

fn tax_code_taken(tax_code: &TaxCode) -> ApiError {
    ApiError::from(ErrorCode::TaxCodeTaken.with(&[("tax_code", &tax_code.masked())]))
}

/// An organization as one caller sees it: with its representatives for those who manage it
/// and for administrators.
pub struct Seen {
    pub organization: Organization,
    pub access: Access,
    pub representatives: Option<Vec<Representative>>,
}

async fn seen(
    db: &DatabaseConnection,
    caller: &AuthUser,
    organization: Organization,
    access: Access,
) -> Result<Seen, ApiError> {
    let privileged = access == Access::Manage || caller.is_admin();
    let representatives = if privileged {
        Some(organizations::representatives(db, organization.id).await?)
    } else {
        None
    };
    Ok(Seen {
        organization,
        access,
        representatives,
    })
}

/// What the caller may do with one organization; 404 when nothing.
pub async fn access_to(
    db: &DatabaseConnection,
    caller: &AuthUser,
    org: Uuid,
) -> Result<Access, ApiError> {
    let represented = organizations::represented_by(db, caller.id).await?;
    let partners = if represented.contains(&org) || caller.role != Role::Applicant {
        BTreeSet::new()
    } else {
        organizations::partners_of(db, &represented).await?
    };
    organization_access(caller.role, &represented, &partners, org)
        .ok_or_else(organization_not_found)
}

/// Register an organization; its registering user becomes its first representative. The
/// request is read (`parse`) once the caller's role may register one.
pub async fn register(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    parse: impl FnOnce() -> Result<OrganizationFacts, ApiError>,
) -> Result<Seen, ApiError> {
    caller.require(&[Role::Applicant])?;
    let facts = parse()?;
    let org = add(db, &caller.actor(), now, facts, caller.id).await?;
    seen(db, caller, org, Access::Manage).await
}

/// Store an organization with its first representative and its event; the caller checked
/// who may (the demo data uses it directly).
pub async fn add(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    facts: OrganizationFacts,
    representative: Uuid,
) -> Result<Organization, ApiError> {
    let org = Organization {
        id: Uuid::new_v4(),
        facts,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let tx = store::begin_write(db).await?;
    if organizations::tax_code_exists(&tx, &org.facts.tax_code).await? {
        return Err(tax_code_taken(&org.facts.tax_code));
    }
    organizations::insert(&tx, &org).await.map_err(|e| {
        if store::is_unique_violation(&e) {
            tax_code_taken(&org.facts.tax_code)
        } else {
            e.into()
        }
    })?;
    organizations::insert_representative(&tx, org.id, representative, now, actor.user_id).await?;
    events::record(
        &tx,
        actor,
        now,
        DomainEvent {
            kind: EventKind::Organization(OrganizationEvent::Registered),
            entity_type: "organization",
            entity_id: org.id,
            before: None,
            after: Some(organizations::facts_json(&org.facts)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(org)
}

/// The organizations the caller may see: its own and its accepted partners' (administrators:
/// all; evaluators: none), optionally by exact tax code.
pub async fn list(
    db: &DatabaseConnection,
    caller: &AuthUser,
    tax_code: Option<&str>,
    page: Page,
) -> Result<(Vec<Seen>, u64), ApiError> {
    let (represented, visible) = match caller.role {
        Role::Admin => (BTreeSet::new(), None),
        Role::Applicant => {
            let represented = organizations::represented_by(db, caller.id).await?;
            let mut visible = organizations::partners_of(db, &represented).await?;
            visible.extend(represented.iter().copied());
            (represented, Some(visible))
        }
        Role::Evaluator => (BTreeSet::new(), Some(BTreeSet::new())),
    };
    let (orgs, total) = organizations::list(db, visible.as_ref(), tax_code, page).await?;
    let mut items = Vec::with_capacity(orgs.len());
    for o in orgs {
        let access = if represented.contains(&o.id) {
            Access::Manage
        } else {
            Access::Read
        };
        items.push(seen(db, caller, o, access).await?);
    }
    Ok((items, total))
}

/// Read an organization: its representatives, its accepted partners' and administrators.
pub async fn read(db: &DatabaseConnection, caller: &AuthUser, id: Uuid) -> Result<Seen, ApiError> {
    let access = access_to(db, caller, id).await?;
    let org = organizations::get(db, id)
        .await?
        .ok_or_else(organization_not_found)?;
    seen(db, caller, org, access).await
}

async fn managed(db: &DatabaseConnection, caller: &AuthUser, id: Uuid) -> Result<(), ApiError> {
    caller.require(&[Role::Applicant])?;
    if access_to(db, caller, id).await? != Access::Manage {
        return Err(organization_not_found());
    }
    Ok(())
}

/// Change an organization (its representatives), under optimistic concurrency: `request`
/// reads the version the change was decided on and the request itself, once the caller is
/// known to represent it; `decide` returns the new facts.
pub async fn patch<P>(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    request: impl FnOnce() -> Result<(Expected, P), ApiError>,
    decide: impl FnOnce(&Organization, P) -> Result<OrganizationFacts, ApiError>,
) -> Result<Seen, ApiError> {
    managed(db, caller, id).await?;
    let (expected_version, request) = request()?;
    let tx = store::begin_write(db).await?;
    let current = organizations::get(&tx, id)
        .await?
        .ok_or_else(organization_not_found)?;
    if !expected_version.matches(current.version) {
        return Err(ApiError::PreconditionFailed);
    }
    let facts = decide(&current, request)?;
    let new = Organization {
        id,
        facts,
        version: current.version + 1,
        created_at: current.created_at,
        updated_at: now,
    };
    if !organizations::update_at_version(&tx, &new, current.version).await? {
        return Err(ApiError::PreconditionFailed);
    }
    events::record(
        &tx,
        &caller.actor(),
        now,
        DomainEvent {
            kind: EventKind::Organization(OrganizationEvent::Changed),
            entity_type: "organization",
            entity_id: id,
            before: Some(organizations::facts_json(&current.facts)),
            after: Some(organizations::facts_json(&new.facts)),
        },
    )
    .await?;
    tx.commit().await?;
    seen(db, caller, new, Access::Manage).await
}

/// Make an active applicant a representative of an organization the caller represents;
/// answers the representatives now.
pub async fn add_representative(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<String, ApiError>,
) -> Result<Vec<Representative>, ApiError> {
    managed(db, caller, id).await?;
    let username = parse()?;
    let user = match users::get_by_username(db, username.trim()).await? {
        Some(u) if u.role == Role::Applicant && !u.disabled => u,
        _ => {
            return Err(ApiError::invalid("username", ErrorCode::UnknownApplicant));
        }
    };
    let tx = store::begin_write(db).await?;
    if organizations::is_representative(&tx, id, user.id).await? {
        return Err(ApiError::from(ErrorCode::AlreadyRepresentative));
    }
    organizations::insert_representative(&tx, id, user.id, now, caller.id.into()).await?;
    events::record(
        &tx,
        &caller.actor(),
        now,
        DomainEvent {
            kind: EventKind::Organization(OrganizationEvent::RepresentativeAdded),
            entity_type: "organization",
            entity_id: id,
            before: None,
            after: Some(json!({"user_id": user.id})),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(organizations::representatives(db, id).await?)
}
