//! Calls gain the post-award rules (the project's start, its payments, its final report,
//! variations and recovery). Calls written before carry them from now on with the defaults of
//! the 2022 call, so that what a call says of them is in its stored rules like everything else.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

/// The default post-award rules as stored (the service's `PostAwardRules::default()`, which a
/// test keeps equal to this text).
pub const POST_AWARD_DEFAULTS: &str = r#"{"start_deadline_days":60,"payment_plan":[{"code":"advance","share":"70.00","trigger":"start_communicated"},{"code":"balance","share":"30.00","trigger":"final_report_approved"}],"report_deadline_days":60,"min_realisation_share":"60.00","variation_tolerance":"20.00","max_extension_months":3,"recovery_due_days":30,"scorrimento_months":12}"#;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let sql = match backend {
            DatabaseBackend::Postgres => {
                "UPDATE calls SET rules = (rules::jsonb || jsonb_build_object('post_award', $1::jsonb))::text \
                 WHERE NOT (rules::jsonb ? 'post_award')"
            }
            _ => {
                "UPDATE calls SET rules = json_set(rules, '$.post_award', json($1)) \
                 WHERE json_extract(rules, '$.post_award') IS NULL"
            }
        };
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [POST_AWARD_DEFAULTS.into()],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let sql = match backend {
            DatabaseBackend::Postgres => {
                "UPDATE calls SET rules = (rules::jsonb - 'post_award')::text"
            }
            _ => "UPDATE calls SET rules = json_remove(rules, '$.post_award')",
        };
        db.execute_unprepared(sql).await?;
        Ok(())
    }
}
