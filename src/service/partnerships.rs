//! Partnerships: forming them, inviting members and their answers, removing members, and
//! the eligibility report.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use super::calls::call_not_found;
use super::events;
use crate::auth::AuthUser;
use crate::domain::ErrorCode;
use crate::domain::Violations;
use crate::domain::application::ApplicationStatus;
use crate::domain::call::{Call, CallStatus, WindowState, check_text};
use crate::domain::event::Actor;
use crate::domain::event::{DomainEvent, EventKind};
use crate::domain::organization::{Category, Subtype};
use crate::domain::partnership::{
    Access, MembershipStatus, ParticipationRole, RuleOutcome, check_eligibility, partnership_access,
};
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::store::{self, Page, applications, calls, organizations, partnerships};

pub use crate::store::organizations::Organization;
pub use crate::store::partnerships::{MemberRecord, Partnership};

pub fn partnership_not_found() -> ApiError {
    ApiError::from(ErrorCode::PartnershipNotFound)
}

fn already_member() -> ApiError {
    ApiError::from(ErrorCode::MemberAlreadyPresent)
}

fn invitation_not_found() -> ApiError {
    ApiError::from(ErrorCode::InvitationNotFound)
}

/// A partnership as one caller sees it, with what its view needs.
pub struct Seen {
    pub partnership: Partnership,
    pub access: Access,
    /// The organizations of its members.
    pub organizations: Vec<Organization>,
    /// The organizations the caller represents.
    pub represented: BTreeSet<Uuid>,
}

/// An invited organization's representatives read the partnership that invited it, to
/// decide: its members' names, not their data.
fn invitee_access(
    caller: &AuthUser,
    represented: &BTreeSet<Uuid>,
    p: &Partnership,
) -> Option<Access> {
    (caller.role == Role::Applicant && !represented.is_disjoint(&p.invited_ids()))
        .then_some(Access::Read)
}

fn access_of(caller: &AuthUser, represented: &BTreeSet<Uuid>, p: &Partnership) -> Option<Access> {
    partnership_access(caller.role, represented, p.lead(), &p.member_ids())
        .or_else(|| invitee_access(caller, represented, p))
}

async fn seen(
    db: &DatabaseConnection,
    partnership: Partnership,
    access: Access,
    represented: BTreeSet<Uuid>,
) -> Result<Seen, ApiError> {
    let ids: Vec<Uuid> = partnership
        .members
        .iter()
        .map(|m| m.organization_id)
        .collect();
    Ok(Seen {
        organizations: organizations::get_many(db, &ids).await?,
        partnership,
        access,
        represented,
    })
}

/// Read a partnership: its members' representatives, the invited organizations' and
/// administrators may; to anybody else it is not there.
pub async fn read(db: &DatabaseConnection, caller: &AuthUser, id: Uuid) -> Result<Seen, ApiError> {
    let partnership = partnerships::get(db, id)
        .await?
        .ok_or_else(partnership_not_found)?;
    let represented = organizations::represented_by(db, caller.id).await?;
    let access = access_of(caller, &represented, &partnership).ok_or_else(partnership_not_found)?;
    seen(db, partnership, access, represented).await
}

/// A partnership that the caller's organization leads; to the others it is not there.
async fn managed(db: &DatabaseConnection, caller: &AuthUser, id: Uuid) -> Result<Seen, ApiError> {
    caller.require(&[Role::Applicant])?;
    let v = read(db, caller, id).await?;
    if v.access != Access::Manage {
        // Members read it, but only the lead's representatives write.
        return Err(partnership_not_found());
    }
    Ok(v)
}

/// A partnership may be formed or changed only for a published call whose window has not
/// closed.
fn check_call_open(call: &Call, now: DateTime<Utc>) -> Result<(), ApiError> {
    if call.window.state(now) == WindowState::Closed {
        return Err(ApiError::invalid("call_id", ErrorCode::CallClosed));
    }
    Ok(())
}

async fn open_call(
    db: &DatabaseConnection,
    call_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Call, ApiError> {
    let call = calls::get(db, call_id)
        .await?
        .filter(|c| c.status == CallStatus::Published);
    let call = call.ok_or_else(|| {
        ApiError::invalid(
            "call_id",
            ErrorCode::CallNotFound.worded(
                "There is no published call with this id.",
                "Non esiste un avviso pubblicato con questo identificativo.",
            ),
        )
    })?;
    check_call_open(&call, now)?;
    Ok(call)
}

async fn call_of(db: &DatabaseConnection, p: &Partnership) -> Result<Call, ApiError> {
    calls::get(db, p.call_id).await?.ok_or_else(call_not_found)
}

/// What a new partnership is: its call, its name and its lead.
pub struct NewPartnership {
    pub call_id: Uuid,
    pub name: String,
    pub lead: Uuid,
}

/// Create a partnership for a published call whose window has not closed, led by an
/// organization the caller represents. The request is read (`parse`) once the caller's role
/// may create one: a caller who may never hears 403 whatever it sent.
pub async fn create(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    parse: impl FnOnce() -> Result<NewPartnership, ApiError>,
) -> Result<Seen, ApiError> {
    caller.require(&[Role::Applicant])?;
    let NewPartnership {
        call_id,
        name,
        lead,
    } = parse()?;
    let name = name.as_str();
    let mut v = Violations::new();
    v.extend(check_text("name", name, 300));
    let represented = organizations::represented_by(db, caller.id).await?;
    if !represented.contains(&lead) {
        v.add("lead_organization_id", ErrorCode::NotRepresented);
    }
    if let Err(e) = open_call(db, call_id, now).await {
        match e {
            ApiError::Validation(more) => v.extend(more),
            other => return Err(other),
        }
    }
    ApiError::check(v.into_vec())?;
    let p = form(db, &caller.actor(), now, call_id, name.trim(), lead, &[]).await?;
    seen(db, p, Access::Manage, represented).await
}

/// Store a partnership with its lead and accepted members, in one transaction with its
/// events (the caller checked who may; the demo data uses it directly).
pub async fn form(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    call_id: Uuid,
    name: &str,
    lead: Uuid,
    members: &[(Uuid, ParticipationRole)],
) -> Result<Partnership, ApiError> {
    let member = |organization_id, role| MemberRecord {
        organization_id,
        role,
        added_at: now,
        status: MembershipStatus::Accepted,
        answered_at: None,
    };
    let p = Partnership {
        id: Uuid::new_v4(),
        call_id,
        name: name.to_owned(),
        version: 1,
        created_at: now,
        updated_at: now,
        members: vec![member(lead, ParticipationRole::Lead)],
    };
    let tx = store::begin_write(db).await?;
    partnerships::insert(&tx, &p, actor.user_id).await?;
    events::record(
        &tx,
        actor,
        now,
        DomainEvent {
            kind: EventKind::PartnershipCreated,
            entity_type: "partnership",
            entity_id: p.id,
            before: None,
            after: Some(partnerships::snapshot(&p)),
        },
    )
    .await?;
    let mut current = p;
    for (organization, role) in members {
        let mut after = current.clone();
        after.members.push(member(*organization, *role));
        after.version += 1;
        partnerships::insert_member(&tx, after.id, after.members.last().expect("pushed")).await?;
        partnerships::touch(&tx, after.id, now).await?;
        events::record(
            &tx,
            actor,
            now,
            DomainEvent {
                kind: EventKind::MemberAdded {
                    organization: *organization,
                },
                entity_type: "partnership",
                entity_id: after.id,
                before: Some(partnerships::snapshot(&current)),
                after: Some(partnerships::snapshot(&after)),
            },
        )
        .await?;
        current = after;
    }
    tx.commit().await?;
    Ok(current)
}

/// The partnerships the caller's organizations belong to (administrators: all), or with
/// `invited`, those that invited one of them (administrators: those with any invitation not
/// accepted).
pub async fn list(
    db: &DatabaseConnection,
    caller: &AuthUser,
    call_id: Option<Uuid>,
    invited: bool,
    page: Page,
) -> Result<(Vec<Seen>, u64), ApiError> {
    let represented = organizations::represented_by(db, caller.id).await?;
    let admin = caller.role == Role::Admin;
    let (members_of, inviting) = match (invited, admin) {
        (false, true) => (None, None),
        (false, false) => (Some(&represented), None),
        (true, true) => (None, Some(None)),
        (true, false) => (None, Some(Some(&represented))),
    };
    let (items, total) = partnerships::list(db, members_of, inviting, call_id, page).await?;
    let mut out = Vec::with_capacity(items.len());
    for p in items {
        let access = partnership_access(caller.role, &represented, p.lead(), &p.member_ids())
            .unwrap_or(Access::Read);
        out.push(seen(db, p, access, represented.clone()).await?);
    }
    Ok((out, total))
}

/// Delete a partnership (its lead's representatives, while the call is open, without an
/// application).
pub async fn delete(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
) -> Result<(), ApiError> {
    let p = managed(db, caller, id).await?.partnership;
    let call = call_of(db, &p).await?;
    let tx = store::begin_write(db).await?;
    partnerships::lock(&tx, id).await?;
    let current = partnerships::get(&tx, id)
        .await?
        .ok_or_else(partnership_not_found)?;
    check_call_open(&call, now)?;
    if applications::for_partnership(&tx, id).await?.is_some() {
        return Err(ApiError::from(ErrorCode::PartnershipHasApplication));
    }
    partnerships::delete(&tx, id).await?;
    events::record(
        &tx,
        &caller.actor(),
        now,
        DomainEvent {
            kind: EventKind::PartnershipDeleted,
            entity_type: "partnership",
            entity_id: id,
            before: Some(partnerships::snapshot(&current)),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One change of a partnership's members.
enum Change {
    Add(MemberRecord),
    Answer { organization: Uuid, accept: bool },
    Remove { organization: Uuid },
}

/// Change the members of a partnership in one transaction, under its lock, unless its
/// application has been submitted: `decide` sees the current partnership and returns the
/// change.
async fn change_members<F>(
    db: &DatabaseConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    id: Uuid,
    decide: F,
) -> Result<Partnership, ApiError>
where
    F: FnOnce(&Partnership) -> Result<Change, ApiError>,
{
    let tx = store::begin_write(db).await?;
    partnerships::lock(&tx, id).await?;
    let current = partnerships::get(&tx, id)
        .await?
        .ok_or_else(partnership_not_found)?;
    if applications::for_partnership(&tx, id)
        .await?
        .is_some_and(|a| a.status != ApplicationStatus::Draft)
    {
        return Err(ApiError::from(ErrorCode::PartnershipFrozen));
    }
    let change = decide(&current)?;
    let kind = match &change {
        Change::Add(m) => {
            partnerships::insert_member(&tx, id, m).await.map_err(|e| {
                if store::is_unique_violation(&e) {
                    already_member()
                } else {
                    e.into()
                }
            })?;
            if m.status == MembershipStatus::Pending {
                EventKind::MemberInvited {
                    organization: m.organization_id,
                    partnership_name: current.name.clone(),
                    call_id: current.call_id,
                }
            } else {
                EventKind::MemberAdded {
                    organization: m.organization_id,
                }
            }
        }
        Change::Answer {
            organization,
            accept,
        } => {
            let status = if *accept {
                MembershipStatus::Accepted
            } else {
                MembershipStatus::Declined
            };
            partnerships::set_member_status(&tx, id, *organization, status, now).await?;
            EventKind::InvitationAnswered {
                organization: *organization,
                accepted: *accept,
                lead: current.lead(),
                partnership_name: current.name.clone(),
                call_id: current.call_id,
            }
        }
        Change::Remove { organization } => {
            partnerships::delete_member(&tx, id, *organization).await?;
            EventKind::MemberRemoved {
                organization: *organization,
                partnership_name: current.name.clone(),
                call_id: current.call_id,
            }
        }
    };
    partnerships::touch(&tx, id, now).await?;
    let after = partnerships::get(&tx, id)
        .await?
        .ok_or_else(partnership_not_found)?;
    events::record(
        &tx,
        actor,
        now,
        DomainEvent {
            kind,
            entity_type: "partnership",
            entity_id: id,
            before: Some(partnerships::snapshot(&current)),
            after: Some(partnerships::snapshot(&after)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Who is added: by organization id or by tax code (exactly one).
pub enum NewMember {
    Id(Uuid),
    TaxCode(String),
    /// Both or neither were given.
    Ambiguous,
}

/// Add a member (the lead's representatives). An organization that the caller represents
/// joins at once; any other is invited, and joins when one of its representatives accepts.
/// The request is read (`parse`) once the caller is known to lead the partnership.
pub async fn add_member(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    parse: impl FnOnce() -> Result<(NewMember, ParticipationRole), ApiError>,
) -> Result<Seen, ApiError> {
    let v0 = managed(db, caller, id).await?;
    let (who, role) = parse()?;
    let mut v = Violations::new();
    let (org, by_id) = match &who {
        NewMember::Id(org) => (organizations::get(db, *org).await?, true),
        NewMember::TaxCode(tc) => (
            organizations::get_by_tax_code(db, &tc.trim().to_uppercase()).await?,
            false,
        ),
        NewMember::Ambiguous => {
            v.add("organization_id", ErrorCode::OneOfIdOrTaxCode);
            (None, true)
        }
    };
    if org.is_none() && v.is_empty() {
        v.add(
            if by_id { "organization_id" } else { "tax_code" },
            ErrorCode::UnknownOrganization,
        );
    }
    match role {
        ParticipationRole::Lead => v.add("role", ErrorCode::OneLead),
        ParticipationRole::AdheringPartner
            if org
                .as_ref()
                .is_some_and(|o| o.facts.category() != Category::PublicBody) =>
        {
            v.add("role", ErrorCode::AdheringPartnerNotPublic)
        }
        _ => {}
    }
    if org
        .as_ref()
        .is_some_and(|o| o.facts.subtype == Subtype::HealthProtectionAgency)
    {
        v.add(
            "organization_id",
            ErrorCode::AtsNotAllowed.worded(
                "An ATS manages the call: it can never be a partner.",
                "Un'ATS gestisce l'avviso: non può mai essere partner.",
            ),
        );
    }
    let call = call_of(db, &v0.partnership).await?;
    if let Err(ApiError::Validation(more)) = check_call_open(&call, now) {
        v.extend(more);
    }
    ApiError::check(v.into_vec())?;
    let org = org.ok_or_else(super::organizations::organization_not_found)?;
    // Joining commits the organization: without one of its representatives, only an
    // invitation.
    let status = if v0.represented.contains(&org.id) {
        MembershipStatus::Accepted
    } else {
        MembershipStatus::Pending
    };
    let p = change_members(db, &caller.actor(), now, id, |current| {
        if current.member(org.id).is_some() {
            return Err(already_member());
        }
        Ok(Change::Add(MemberRecord {
            organization_id: org.id,
            role,
            added_at: now,
            status,
            answered_at: None,
        }))
    })
    .await?;
    seen(db, p, Access::Manage, v0.represented).await
}

/// Remove a member or an invited organization (the lead's representatives); the lead itself
/// cannot be removed.
pub async fn remove_member(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    organization: Uuid,
) -> Result<Seen, ApiError> {
    let v0 = managed(db, caller, id).await?;
    check_call_open(&call_of(db, &v0.partnership).await?, now)?;
    let p = change_members(db, &caller.actor(), now, id, |current| {
        match current.member(organization) {
            None => Err(ApiError::from(ErrorCode::MemberNotFound)),
            Some(m) if m.role == ParticipationRole::Lead => Err(ApiError::invalid(
                "organization_id",
                ErrorCode::CannotRemoveLead,
            )),
            Some(_) => Ok(Change::Remove { organization }),
        }
    })
    .await?;
    seen(db, p, Access::Manage, v0.represented).await
}

/// Accept or decline the partnership's invitation, for an organization the caller
/// represents.
pub async fn answer(
    db: &DatabaseConnection,
    caller: &AuthUser,
    now: DateTime<Utc>,
    id: Uuid,
    organization: Uuid,
    accept: bool,
) -> Result<Seen, ApiError> {
    caller.require(&[Role::Applicant])?;
    let represented = organizations::represented_by(db, caller.id).await?;
    if !represented.contains(&organization) {
        return Err(invitation_not_found());
    }
    let p = partnerships::get(db, id)
        .await?
        .filter(|p| p.member(organization).is_some())
        .ok_or_else(invitation_not_found)?;
    check_call_open(&call_of(db, &p).await?, now)?;
    let p = change_members(db, &caller.actor(), now, id, |current| {
        match current.member(organization).map(|m| m.status) {
            None => Err(invitation_not_found()),
            Some(MembershipStatus::Pending) => Ok(Change::Answer {
                organization,
                accept,
            }),
            Some(MembershipStatus::Accepted) => Err(ApiError::from(ErrorCode::InvitationAlreadyAnswered)),
            Some(MembershipStatus::Declined) => Err(ApiError::from(ErrorCode::InvitationAlreadyAnswered.worded("The organization has already declined this invitation: the lead may invite it again after removing it.", "L'ente ha già rifiutato questo invito: il capofila può invitarlo di nuovo dopo averlo rimosso."))),
        }
    })
    .await?;
    let access = access_of(caller, &represented, &p).unwrap_or(Access::Read);
    seen(db, p, access, represented).await
}

/// Every composition rule of the call, for a partnership the caller may read.
pub async fn eligibility(
    db: &DatabaseConnection,
    caller: &AuthUser,
    id: Uuid,
) -> Result<(Partnership, Vec<RuleOutcome>), ApiError> {
    let p = read(db, caller, id).await?.partnership;
    let call = call_of(db, &p).await?;
    let members: Vec<_> = partnerships::members_for_rules(db, &p)
        .await?
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    let outcomes = check_eligibility(&call.rules.partnership, &members);
    Ok((p, outcomes))
}
