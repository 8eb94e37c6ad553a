//! Rankings: every version of an agency's ranking and allocation, drafts and approved.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::m20261201_000002_create_calls::Calls;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RankingVersions {
    Table,
    Id,
    CallId,
    AgencyCode,
    Version,
    Status,
    Reason,
    InputsSha256,
    Envelope,
    Allocation,
    ActNumber,
    ActDate,
    CreatedAt,
    CreatedBy,
    ApprovedAt,
    ApprovedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RankingVersions::Table)
                    .col(uuid(RankingVersions::Id).primary_key())
                    .col(uuid(RankingVersions::CallId))
                    .col(string_len(RankingVersions::AgencyCode, 20))
                    .col(integer(RankingVersions::Version))
                    .col(string_len(RankingVersions::Status, 20))
                    .col(text(RankingVersions::Reason))
                    .col(string_len(RankingVersions::InputsSha256, 64))
                    .col(decimal_len(RankingVersions::Envelope, 14, 2))
                    .col(text(RankingVersions::Allocation))
                    .col(string_len_null(RankingVersions::ActNumber, 100))
                    .col(date_null(RankingVersions::ActDate))
                    .col(timestamp_with_time_zone(RankingVersions::CreatedAt))
                    .col(uuid_null(RankingVersions::CreatedBy))
                    .col(timestamp_with_time_zone_null(RankingVersions::ApprovedAt))
                    .col(uuid_null(RankingVersions::ApprovedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RankingVersions::Table, RankingVersions::CallId)
                            .to(Calls::Table, Calls::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_ranking_versions_call_agency_version")
                    .table(RankingVersions::Table)
                    .col(RankingVersions::CallId)
                    .col(RankingVersions::AgencyCode)
                    .col(RankingVersions::Version)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RankingVersions::Table).to_owned())
            .await
    }
}
