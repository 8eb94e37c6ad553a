//! Calls for proposals, their amendments and their per-agency envelopes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::m20261201_000001_create_agencies_and_users::{Agencies, Users};

#[derive(DeriveIden)]
pub enum Calls {
    Table,
    Id,
    Code,
    Title,
    Description,
    LegalBasis,
    Status,
    OpensAt,
    ClosesAt,
    TotalBudget,
    Rules,
    ClonedFrom,
    Version,
    CreatedAt,
    UpdatedAt,
    PublishedAt,
}

#[derive(DeriveIden)]
enum CallAmendments {
    Table,
    Id,
    CallId,
    ActNumber,
    ActDate,
    Reason,
    Changes,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum Envelopes {
    Table,
    Id,
    CallId,
    AgencyCode,
    Amount,
    Source,
    Note,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Calls::Table)
                    .col(uuid(Calls::Id).primary_key())
                    .col(string_len_uniq(Calls::Code, 40))
                    .col(string_len(Calls::Title, 300))
                    .col(text(Calls::Description))
                    .col(text(Calls::LegalBasis))
                    .col(string_len(Calls::Status, 20))
                    .col(timestamp_with_time_zone(Calls::OpensAt))
                    .col(timestamp_with_time_zone(Calls::ClosesAt))
                    .col(decimal_len(Calls::TotalBudget, 14, 2))
                    .col(text(Calls::Rules))
                    .col(uuid_null(Calls::ClonedFrom))
                    .col(integer(Calls::Version).default(1))
                    .col(timestamp_with_time_zone(Calls::CreatedAt))
                    .col(timestamp_with_time_zone(Calls::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Calls::PublishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CallAmendments::Table)
                    .col(uuid(CallAmendments::Id).primary_key())
                    .col(uuid(CallAmendments::CallId))
                    .col(string_len(CallAmendments::ActNumber, 100))
                    .col(date(CallAmendments::ActDate))
                    .col(text_null(CallAmendments::Reason))
                    .col(text(CallAmendments::Changes))
                    .col(timestamp_with_time_zone(CallAmendments::CreatedAt))
                    .col(uuid_null(CallAmendments::CreatedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CallAmendments::Table, CallAmendments::CallId)
                            .to(Calls::Table, Calls::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CallAmendments::Table, CallAmendments::CreatedBy)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_call_amendments_call")
                    .table(CallAmendments::Table)
                    .col(CallAmendments::CallId)
                    .col(CallAmendments::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Envelopes::Table)
                    .col(uuid(Envelopes::Id).primary_key())
                    .col(uuid(Envelopes::CallId))
                    .col(string_len(Envelopes::AgencyCode, 20))
                    .col(decimal_len(Envelopes::Amount, 14, 2))
                    .col(string_len(Envelopes::Source, 20))
                    .col(text_null(Envelopes::Note))
                    .col(timestamp_with_time_zone(Envelopes::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Envelopes::Table, Envelopes::CallId)
                            .to(Calls::Table, Calls::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Envelopes::Table, Envelopes::AgencyCode)
                            .to(Agencies::Table, Agencies::Code),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_envelopes_call_agency")
                    .table(Envelopes::Table)
                    .col(Envelopes::CallId)
                    .col(Envelopes::AgencyCode)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Envelopes::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(CallAmendments::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Calls::Table).to_owned())
            .await
    }
}

#[derive(DeriveMigrationName)]
pub struct Migration;
