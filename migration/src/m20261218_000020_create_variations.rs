//! Variations of a project: requested by its lead, approved at once or decided by the ATS; an
//! approved one is a new version of the project (its budget lines, members and end date), and
//! every version stays readable in its row.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Grants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Variations {
    Table,
    Id,
    GrantId,
    CallId,
    AgencyCode,
    Kind,
    Status,
    Reasons,
    Request,
    Before,
    After,
    Automatic,
    ProjectVersion,
    RequestedBy,
    RequestedAt,
    Consents,
    ConsentBy,
    ConsentAt,
    DecidedBy,
    DecidedAt,
    DecisionNote,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Variations::Table)
                    .col(uuid(Variations::Id).primary_key())
                    .col(uuid(Variations::GrantId))
                    .col(uuid(Variations::CallId))
                    .col(string_len(Variations::AgencyCode, 20))
                    .col(string_len(Variations::Kind, 30))
                    .col(string_len(Variations::Status, 30))
                    .col(text(Variations::Reasons))
                    .col(text(Variations::Request))
                    .col(text(Variations::Before))
                    .col(text(Variations::After))
                    .col(boolean(Variations::Automatic).default(false))
                    .col(integer_null(Variations::ProjectVersion))
                    .col(uuid(Variations::RequestedBy))
                    .col(timestamp_with_time_zone(Variations::RequestedAt))
                    .col(text(Variations::Consents))
                    .col(uuid_null(Variations::ConsentBy))
                    .col(timestamp_with_time_zone_null(Variations::ConsentAt))
                    .col(uuid_null(Variations::DecidedBy))
                    .col(timestamp_with_time_zone_null(Variations::DecidedAt))
                    .col(text_null(Variations::DecisionNote))
                    .col(integer(Variations::Version).default(1))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Variations::Table, Variations::GrantId)
                            .to(Grants::Table, Grants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_variations_grant")
                    .table(Variations::Table)
                    .col(Variations::GrantId)
                    .col(Variations::RequestedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Variations::Table).to_owned())
            .await
    }
}
