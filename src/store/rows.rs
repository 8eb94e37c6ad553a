//! Rows read back as domain values: the conversions that several repositories share. A leaf:
//! it uses no other store module.

use sea_orm::DbErr;

use crate::domain::call::{Call, CallRules, CallStatus, Window};
use crate::domain::money::Money;
use crate::entity::call;

/// A stored value that the domain refuses: the database was changed behind the service.
pub fn corrupt(what: &str, detail: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("stored {what} is not valid: {detail}"))
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
