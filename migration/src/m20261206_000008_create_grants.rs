//! Grants: the offers made by an approved ranking, and what became of them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::m20261201_000002_create_calls::Calls;
use crate::m20261203_000005_create_applications::Applications;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Grants {
    Table,
    Id,
    CallId,
    AgencyCode,
    ApplicationId,
    Amount,
    Requested,
    Status,
    OfferedAt,
    Deadline,
    Cup,
    AnsweredAt,
    Reason,
    RankingVersion,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Grants::Table)
                    .col(uuid(Grants::Id).primary_key())
                    .col(uuid(Grants::CallId))
                    .col(string_len(Grants::AgencyCode, 20))
                    .col(uuid_uniq(Grants::ApplicationId))
                    .col(decimal_len(Grants::Amount, 14, 2))
                    .col(decimal_len(Grants::Requested, 14, 2))
                    .col(string_len(Grants::Status, 20))
                    .col(timestamp_with_time_zone(Grants::OfferedAt))
                    .col(timestamp_with_time_zone(Grants::Deadline))
                    .col(string_len_null(Grants::Cup, 15))
                    .col(timestamp_with_time_zone_null(Grants::AnsweredAt))
                    .col(text_null(Grants::Reason))
                    .col(integer(Grants::RankingVersion))
                    .col(integer(Grants::Version).default(1))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Grants::Table, Grants::CallId)
                            .to(Calls::Table, Calls::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Grants::Table, Grants::ApplicationId)
                            .to(Applications::Table, Applications::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_grants_call_agency")
                    .table(Grants::Table)
                    .col(Grants::CallId)
                    .col(Grants::AgencyCode)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Grants::Table).to_owned())
            .await
    }
}
