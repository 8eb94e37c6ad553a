//! The database schema, as a history of migrations. A migration is never edited once it
//! has landed; each one can be undone with `down`.

pub use sea_orm_migration::prelude::*;

mod m20261201_000001_create_agencies_and_users;
mod m20261201_000002_create_calls;
mod m20261201_000003_create_audit_events;
mod m20261202_000004_create_organizations_and_partnerships;
mod m20261203_000005_create_applications;
mod m20261204_000006_create_review;
mod m20261205_000007_create_rankings;
mod m20261206_000008_create_grants;
mod m20261207_000009_create_webhooks;
mod m20261208_000010_add_read_path_indexes;
mod m20261209_000011_create_sessions_and_login_throttles;
mod m20261210_000012_add_membership_consent;
mod m20261211_000013_add_document_media_type;
mod m20261212_000014_backfill_post_award_rules;
mod m20261213_000015_create_payments;
mod m20261214_000016_add_signatures;
mod m20261215_000017_create_recoveries;
mod m20261216_000018_create_final_reports;
mod m20261217_000019_create_deadline_notices;
mod m20261218_000020_create_variations;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261201_000001_create_agencies_and_users::Migration),
            Box::new(m20261201_000002_create_calls::Migration),
            Box::new(m20261201_000003_create_audit_events::Migration),
            Box::new(m20261202_000004_create_organizations_and_partnerships::Migration),
            Box::new(m20261203_000005_create_applications::Migration),
            Box::new(m20261204_000006_create_review::Migration),
            Box::new(m20261205_000007_create_rankings::Migration),
            Box::new(m20261206_000008_create_grants::Migration),
            Box::new(m20261207_000009_create_webhooks::Migration),
            Box::new(m20261208_000010_add_read_path_indexes::Migration),
            Box::new(m20261209_000011_create_sessions_and_login_throttles::Migration),
            Box::new(m20261210_000012_add_membership_consent::Migration),
            Box::new(m20261211_000013_add_document_media_type::Migration),
            Box::new(m20261212_000014_backfill_post_award_rules::Migration),
            Box::new(m20261213_000015_create_payments::Migration),
            Box::new(m20261214_000016_add_signatures::Migration),
            Box::new(m20261215_000017_create_recoveries::Migration),
            Box::new(m20261216_000018_create_final_reports::Migration),
            Box::new(m20261217_000019_create_deadline_notices::Migration),
            Box::new(m20261218_000020_create_variations::Migration),
        ]
    }
}

pub use m20261212_000014_backfill_post_award_rules::POST_AWARD_DEFAULTS;
