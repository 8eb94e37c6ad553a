//! Applications, their annexes and history, the per-call protocol counters, and the
//! idempotency keys of state-changing requests.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::m20261201_000002_create_calls::Calls;
use crate::m20261202_000004_create_organizations_and_partnerships::Partnerships;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Applications {
    Table,
    Id,
    CallId,
    PartnershipId,
    AgencyCode,
    Status,
    Content,
    TotalCost,
    RequestedGrant,
    ProtocolNumber,
    SubmittedAt,
    Snapshot,
    SnapshotSha256,
    Version,
    CreatedAt,
    UpdatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum ApplicationDocuments {
    Table,
    Id,
    ApplicationId,
    Kind,
    FileName,
    SizeBytes,
    Sha256,
    OrganizationId,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum ApplicationHistory {
    Table,
    Id,
    ApplicationId,
    FromStatus,
    ToStatus,
    At,
    ActorId,
    ActorRole,
    Reason,
}

#[derive(DeriveIden)]
enum ProtocolCounters {
    Table,
    CallId,
    LastValue,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    UserId,
    Key,
    Scope,
    RequestHash,
    State,
    ResponseStatus,
    ResponseBody,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Applications::Table)
                    .col(uuid(Applications::Id).primary_key())
                    .col(uuid(Applications::CallId))
                    .col(uuid(Applications::PartnershipId))
                    .col(string_len_null(Applications::AgencyCode, 20))
                    .col(string_len(Applications::Status, 20))
                    .col(text(Applications::Content))
                    .col(decimal_len_null(Applications::TotalCost, 14, 2))
                    .col(decimal_len_null(Applications::RequestedGrant, 14, 2))
                    .col(string_len_null(Applications::ProtocolNumber, 60))
                    .col(timestamp_with_time_zone_null(Applications::SubmittedAt))
                    .col(text_null(Applications::Snapshot))
                    .col(string_len_null(Applications::SnapshotSha256, 64))
                    .col(integer(Applications::Version).default(1))
                    .col(timestamp_with_time_zone(Applications::CreatedAt))
                    .col(timestamp_with_time_zone(Applications::UpdatedAt))
                    .col(uuid_null(Applications::CreatedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Applications::Table, Applications::CallId)
                            .to(Calls::Table, Calls::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Applications::Table, Applications::PartnershipId)
                            .to(Partnerships::Table, Partnerships::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            (
                "ux_applications_call_partnership",
                vec![Applications::CallId, Applications::PartnershipId],
                true,
            ),
            (
                "ux_applications_protocol",
                vec![Applications::ProtocolNumber],
                true,
            ),
            (
                "ix_applications_call_agency_status",
                vec![
                    Applications::CallId,
                    Applications::AgencyCode,
                    Applications::Status,
                ],
                false,
            ),
        ] {
            let mut index = Index::create()
                .name(name)
                .table(Applications::Table)
                .to_owned();
            for c in cols {
                index.col(c);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ApplicationDocuments::Table)
                    .col(uuid(ApplicationDocuments::Id).primary_key())
                    .col(uuid(ApplicationDocuments::ApplicationId))
                    .col(string_len(ApplicationDocuments::Kind, 40))
                    .col(string_len(ApplicationDocuments::FileName, 255))
                    .col(big_integer(ApplicationDocuments::SizeBytes))
                    .col(string_len(ApplicationDocuments::Sha256, 64))
                    .col(uuid_null(ApplicationDocuments::OrganizationId))
                    .col(timestamp_with_time_zone(ApplicationDocuments::CreatedAt))
                    .col(uuid_null(ApplicationDocuments::CreatedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ApplicationDocuments::Table,
                                ApplicationDocuments::ApplicationId,
                            )
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_application_documents_application")
                    .table(ApplicationDocuments::Table)
                    .col(ApplicationDocuments::ApplicationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApplicationHistory::Table)
                    .col(uuid(ApplicationHistory::Id).primary_key())
                    .col(uuid(ApplicationHistory::ApplicationId))
                    .col(string_len_null(ApplicationHistory::FromStatus, 20))
                    .col(string_len(ApplicationHistory::ToStatus, 20))
                    .col(timestamp_with_time_zone(ApplicationHistory::At))
                    .col(uuid_null(ApplicationHistory::ActorId))
                    .col(string_len_null(ApplicationHistory::ActorRole, 20))
                    .col(text_null(ApplicationHistory::Reason))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApplicationHistory::Table, ApplicationHistory::ApplicationId)
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_application_history_application")
                    .table(ApplicationHistory::Table)
                    .col(ApplicationHistory::ApplicationId)
                    .col(ApplicationHistory::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProtocolCounters::Table)
                    .col(uuid(ProtocolCounters::CallId).primary_key())
                    .col(big_integer(ProtocolCounters::LastValue))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProtocolCounters::Table, ProtocolCounters::CallId)
                            .to(Calls::Table, Calls::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(uuid(IdempotencyKeys::UserId))
                    .col(string_len(IdempotencyKeys::Key, 255))
                    .col(string_len(IdempotencyKeys::Scope, 300))
                    .col(string_len(IdempotencyKeys::RequestHash, 64))
                    .col(string_len(IdempotencyKeys::State, 20))
                    .col(integer_null(IdempotencyKeys::ResponseStatus))
                    .col(text_null(IdempotencyKeys::ResponseBody))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKeys::UserId)
                            .col(IdempotencyKeys::Key),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IdempotencyKeys::Table.into_iden(),
            ProtocolCounters::Table.into_iden(),
            ApplicationHistory::Table.into_iden(),
            ApplicationDocuments::Table.into_iden(),
            Applications::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
