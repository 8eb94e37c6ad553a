//! Business figures for the metrics endpoint, read from the database at each scrape so that
//! every replica reports the same numbers.

use std::collections::BTreeMap;

use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::rows::money;
use crate::domain::award::PaymentStatus;
use crate::domain::award::RecoveryStatus;
use crate::domain::grant::GrantStatus;
use crate::domain::money::Money;
use crate::entity::{application, call, final_report, grant, payment, recovery, webhook_delivery};

/// Labels: call code, agency code (empty when none yet), status.
pub type Key = (String, String, String);

#[derive(Debug, Default)]
pub struct Stats {
    /// Applications by call, agency and status.
    pub applications: BTreeMap<Key, i64>,
    /// Grants by call, agency and status.
    pub grants: BTreeMap<Key, i64>,
    /// Final reports by call, agency and status (a project without one has none).
    pub reports: BTreeMap<Key, i64>,
    /// Money committed (offered or accepted) by call and agency.
    pub committed: BTreeMap<(String, String), Money>,
    /// Money paid out to the projects, by call and agency.
    pub paid: BTreeMap<(String, String), Money>,
    /// Money to be recovered (issued recovery orders), by call and agency.
    pub to_recover: BTreeMap<(String, String), Money>,
    /// Webhook deliveries by status.
    pub deliveries: BTreeMap<String, i64>,
}

pub async fn read(db: &DatabaseConnection) -> Result<Stats, DbErr> {
    let codes: BTreeMap<Uuid, String> = call::Entity::find()
        .select_only()
        .column(call::Column::Id)
        .column(call::Column::Code)
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let code = |id: &Uuid| codes.get(id).cloned().unwrap_or_else(|| id.to_string());
    let mut stats = Stats::default();
    let rows = application::Entity::find()
        .select_only()
        .column(application::Column::CallId)
        .column(application::Column::AgencyCode)
        .column(application::Column::Status)
        .column_as(
            Expr::expr(Func::count(Expr::col(application::Column::Id))),
            "n",
        )
        .group_by(application::Column::CallId)
        .group_by(application::Column::AgencyCode)
        .group_by(application::Column::Status)
        .into_tuple::<(Uuid, Option<String>, String, i64)>()
        .all(db)
        .await?;
    for (call_id, agency, status, n) in rows {
        stats
            .applications
            .insert((code(&call_id), agency.unwrap_or_default(), status), n);
    }
    let reports = final_report::Entity::find()
        .select_only()
        .column(final_report::Column::CallId)
        .column(final_report::Column::AgencyCode)
        .column(final_report::Column::Status)
        .column_as(
            Expr::expr(Func::count(Expr::col(final_report::Column::Id))),
            "n",
        )
        .group_by(final_report::Column::CallId)
        .group_by(final_report::Column::AgencyCode)
        .group_by(final_report::Column::Status)
        .into_tuple::<(Uuid, String, String, i64)>()
        .all(db)
        .await?;
    for (call_id, agency, status, n) in reports {
        stats.reports.insert((code(&call_id), agency, status), n);
    }
    let grants = grant::Entity::find()
        .select_only()
        .column(grant::Column::CallId)
        .column(grant::Column::AgencyCode)
        .column(grant::Column::Status)
        .column(grant::Column::Amount)
        .column(grant::Column::FinalAmount)
        .into_tuple::<(
            Uuid,
            String,
            String,
            rust_decimal::Decimal,
            Option<rust_decimal::Decimal>,
        )>()
        .all(db)
        .await?;
    for (call_id, agency, status, amount, final_amount) in grants {
        // A verified project commits its final grant.
        let amount = final_amount.unwrap_or(amount);
        let commits = GrantStatus::parse(&status).is_some_and(|s| s.commits());
        let call = code(&call_id);
        *stats
            .grants
            .entry((call.clone(), agency.clone(), status))
            .or_default() += 1;
        let sum = stats.committed.entry((call, agency)).or_insert(Money::ZERO);
        if commits {
            *sum = sum.checked_add(money(amount)?).unwrap_or(*sum);
        }
    }
    let paid = payment::Entity::find()
        .select_only()
        .column(payment::Column::CallId)
        .column(payment::Column::AgencyCode)
        .column(payment::Column::Amount)
        .filter(payment::Column::Status.eq(PaymentStatus::Paid.as_str()))
        .into_tuple::<(Uuid, String, rust_decimal::Decimal)>()
        .all(db)
        .await?;
    for (call_id, agency, amount) in paid {
        let sum = stats
            .paid
            .entry((code(&call_id), agency))
            .or_insert(Money::ZERO);
        *sum = sum.checked_add(money(amount)?).unwrap_or(*sum);
    }
    let issued = recovery::Entity::find()
        .select_only()
        .column(recovery::Column::CallId)
        .column(recovery::Column::AgencyCode)
        .column(recovery::Column::Amount)
        .filter(recovery::Column::Status.eq(RecoveryStatus::Issued.as_str()))
        .into_tuple::<(Uuid, String, rust_decimal::Decimal)>()
        .all(db)
        .await?;
    for (call_id, agency, amount) in issued {
        let sum = stats
            .to_recover
            .entry((code(&call_id), agency))
            .or_insert(Money::ZERO);
        *sum = sum.checked_add(money(amount)?).unwrap_or(*sum);
    }
    let deliveries = webhook_delivery::Entity::find()
        .select_only()
        .column(webhook_delivery::Column::Status)
        .column_as(
            Expr::expr(Func::count(Expr::col(webhook_delivery::Column::Id))),
            "n",
        )
        .group_by(webhook_delivery::Column::Status)
        .into_tuple::<(String, i64)>()
        .all(db)
        .await?;
    stats.deliveries = deliveries.into_iter().collect();
    Ok(stats)
}
