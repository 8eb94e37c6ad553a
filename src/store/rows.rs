//! Rows read back as domain values: the conversions that several repositories share. A leaf:
//! it uses no other store module.

use chrono::{DateTime, Utc};
use sea_orm::DbErr;
use uuid::Uuid;

use crate::domain::agency::AgencyCode;
use crate::domain::call::{Call, CallRules, CallStatus, Window};
use crate::domain::identifiers::{TaxCode, VatNumber};
use crate::domain::money::Money;
use crate::domain::organization::{LegalRepresentative, OrganizationFacts, Seat, Subtype};
use crate::domain::size::EnterpriseFigures;
use crate::entity::{call, organization};

/// A stored value that the domain refuses: the database was changed behind the service.
pub fn corrupt(what: &str, detail: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("stored {what} is not valid: {detail}"))
}

/// A JSON text column of row `id` read back as `T`; `what` names it when it is not valid.
pub fn from_json<T: serde::de::DeserializeOwned>(
    what: &str,
    id: Uuid,
    s: &str,
) -> Result<T, DbErr> {
    serde_json::from_str(s).map_err(|e| corrupt(what, format!("{id}: {e}")))
}

/// A value as the JSON text of a column.
pub fn to_json<T: serde::Serialize>(value: &T) -> Result<String, DbErr> {
    serde_json::to_string(value).map_err(|e| DbErr::Custom(format!("a value as JSON: {e}")))
}

/// One amount of a grant's money (a paid payment, a recovery order), with the call and the
/// agency it counts for: rows for the caller to add up in Rust (SQLite cannot sum money).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantMoney {
    pub call_id: Uuid,
    pub agency: AgencyCode,
    pub grant_id: Uuid,
    pub amount: Money,
}

/// Read money from a `NUMERIC(14,2)` column (SQLite may hand back a different scale).
pub fn money(d: rust_decimal::Decimal) -> Result<Money, DbErr> {
    Money::from_decimal(d.round_dp(2)).map_err(|e| corrupt("amount", e))
}

/// A call's row as a `Call`.
pub fn to_call(m: call::Model) -> Result<Call, DbErr> {
    Ok(Call {
        id: m.id,
        status: CallStatus::parse(&m.status).ok_or_else(|| corrupt("call status", &m.status))?,
        window: Window::new(m.opens_at, m.closes_at).map_err(|_| corrupt("window", m.id))?,
        total_budget: money(m.total_budget)?,
        rules: serde_json::from_str::<CallRules>(&m.rules).map_err(|e| corrupt("rules", e))?,
        code: m.code,
        title: m.title,
        description: m.description,
        legal_basis: m.legal_basis,
        cloned_from: m.cloned_from,
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
        published_at: m.published_at,
    })
}

/// An organization of the registry.
#[derive(Debug, Clone)]
pub struct Organization {
    pub id: Uuid,
    pub facts: OrganizationFacts,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn corrupt_organization(what: &str, id: Uuid) -> DbErr {
    DbErr::Custom(format!("stored organization {id} has an invalid {what}"))
}

/// An organization's row as an `Organization`.
pub fn to_organization(m: organization::Model) -> Result<Organization, DbErr> {
    let id = m.id;
    let figures = match m.staff {
        Some(staff) => Some(EnterpriseFigures {
            staff: staff.round_dp(2),
            turnover: m.turnover.map(money).transpose()?,
            balance_sheet_total: m.balance_sheet_total.map(money).transpose()?,
        }),
        None => None,
    };
    Ok(Organization {
        id,
        facts: OrganizationFacts {
            tax_code: TaxCode::parse(&m.tax_code)
                .map_err(|_| corrupt_organization("tax code", id))?,
            vat_number: m
                .vat_number
                .as_deref()
                .map(VatNumber::parse)
                .transpose()
                .map_err(|_| corrupt_organization("VAT number", id))?,
            legal_name: m.legal_name,
            subtype: Subtype::parse(&m.subtype)
                .ok_or_else(|| corrupt_organization("subtype", id))?,
            chamber_registration: m.chamber_registration,
            seats: serde_json::from_str::<Vec<Seat>>(&m.seats)
                .map_err(|_| corrupt_organization("seats", id))?,
            figures,
            reference_year: m.reference_year,
            legal_representative: match (
                m.legal_representative_name,
                m.legal_representative_tax_code,
            ) {
                (Some(full_name), Some(code)) => Some(LegalRepresentative {
                    full_name,
                    tax_code: TaxCode::parse(&code)
                        .map_err(|_| corrupt_organization("legal representative's tax code", id))?,
                }),
                _ => None,
            },
        },
        version: m.version,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}
