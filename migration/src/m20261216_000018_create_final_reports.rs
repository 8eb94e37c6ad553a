//! The final report of a project: drafted by the lead, submitted once with its receipt, asked
//! for integration and verified by the ATS. A verified project keeps its final grant, which is
//! what it then commits of its envelope.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Grants {
    Table,
    Id,
    FinalAmount,
}

#[derive(DeriveIden)]
enum FinalReports {
    Table,
    Id,
    GrantId,
    CallId,
    AgencyCode,
    Status,
    Version,
    Content,
    CreatedAt,
    UpdatedAt,
    ProtocolNumber,
    SubmittedAt,
    Snapshot,
    SnapshotSha256,
    Overdue,
    Integration,
    Verification,
    VerifiedAt,
    VerifiedBy,
    EligibleCost,
    FinalGrant,
    UnderRealised,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Grants::Table)
                    .add_column(decimal_len_null(Grants::FinalAmount, 14, 2))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FinalReports::Table)
                    .col(uuid(FinalReports::Id).primary_key())
                    .col(uuid_uniq(FinalReports::GrantId))
                    .col(uuid(FinalReports::CallId))
                    .col(string_len(FinalReports::AgencyCode, 20))
                    .col(string_len(FinalReports::Status, 30))
                    .col(integer(FinalReports::Version))
                    .col(text(FinalReports::Content))
                    .col(timestamp_with_time_zone(FinalReports::CreatedAt))
                    .col(timestamp_with_time_zone(FinalReports::UpdatedAt))
                    .col(string_len_null(FinalReports::ProtocolNumber, 120))
                    .col(timestamp_with_time_zone_null(FinalReports::SubmittedAt))
                    .col(text_null(FinalReports::Snapshot))
                    .col(string_len_null(FinalReports::SnapshotSha256, 64))
                    .col(boolean(FinalReports::Overdue).default(false))
                    .col(text_null(FinalReports::Integration))
                    .col(text_null(FinalReports::Verification))
                    .col(timestamp_with_time_zone_null(FinalReports::VerifiedAt))
                    .col(uuid_null(FinalReports::VerifiedBy))
                    .col(decimal_len_null(FinalReports::EligibleCost, 14, 2))
                    .col(decimal_len_null(FinalReports::FinalGrant, 14, 2))
                    .col(boolean_null(FinalReports::UnderRealised))
                    .foreign_key(
                        ForeignKey::create()
                            .from(FinalReports::Table, FinalReports::GrantId)
                            .to(Grants::Table, Grants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_final_reports_call_agency_status")
                    .table(FinalReports::Table)
                    .col(FinalReports::CallId)
                    .col(FinalReports::AgencyCode)
                    .col(FinalReports::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FinalReports::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Grants::Table)
                    .drop_column(Grants::FinalAmount)
                    .to_owned(),
            )
            .await
    }
}
