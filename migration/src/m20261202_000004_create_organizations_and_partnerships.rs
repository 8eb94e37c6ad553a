//! The shared registry of organizations, who represents them, and the partnerships they form
//! for a call.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::m20261201_000001_create_agencies_and_users::Users;
use crate::m20261201_000002_create_calls::Calls;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Organizations {
    Table,
    Id,
    TaxCode,
    VatNumber,
    LegalName,
    Category,
    Subtype,
    ChamberRegistration,
    Seats,
    Staff,
    Turnover,
    BalanceSheetTotal,
    ReferenceYear,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrganizationRepresentatives {
    Table,
    OrganizationId,
    UserId,
    AddedAt,
    AddedBy,
}

#[derive(DeriveIden)]
pub enum Partnerships {
    Table,
    Id,
    CallId,
    Name,
    Version,
    CreatedAt,
    UpdatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum PartnershipMembers {
    Table,
    PartnershipId,
    OrganizationId,
    Role,
    AddedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(uuid(Organizations::Id).primary_key())
                    .col(string_len_uniq(Organizations::TaxCode, 16))
                    .col(string_len_null(Organizations::VatNumber, 11))
                    .col(string_len(Organizations::LegalName, 300))
                    .col(string_len(Organizations::Category, 30))
                    .col(string_len(Organizations::Subtype, 40))
                    .col(string_len_null(Organizations::ChamberRegistration, 20))
                    .col(text(Organizations::Seats))
                    .col(decimal_len_null(Organizations::Staff, 12, 2))
                    .col(decimal_len_null(Organizations::Turnover, 14, 2))
                    .col(decimal_len_null(Organizations::BalanceSheetTotal, 14, 2))
                    .col(integer_null(Organizations::ReferenceYear))
                    .col(integer(Organizations::Version).default(1))
                    .col(timestamp_with_time_zone(Organizations::CreatedAt))
                    .col(timestamp_with_time_zone(Organizations::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrganizationRepresentatives::Table)
                    .col(uuid(OrganizationRepresentatives::OrganizationId))
                    .col(uuid(OrganizationRepresentatives::UserId))
                    .col(timestamp_with_time_zone(
                        OrganizationRepresentatives::AddedAt,
                    ))
                    .col(uuid_null(OrganizationRepresentatives::AddedBy))
                    .primary_key(
                        Index::create()
                            .col(OrganizationRepresentatives::OrganizationId)
                            .col(OrganizationRepresentatives::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                OrganizationRepresentatives::Table,
                                OrganizationRepresentatives::OrganizationId,
                            )
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                OrganizationRepresentatives::Table,
                                OrganizationRepresentatives::UserId,
                            )
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_organization_representatives_user")
                    .table(OrganizationRepresentatives::Table)
                    .col(OrganizationRepresentatives::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Partnerships::Table)
                    .col(uuid(Partnerships::Id).primary_key())
                    .col(uuid(Partnerships::CallId))
                    .col(string_len(Partnerships::Name, 300))
                    .col(integer(Partnerships::Version).default(1))
                    .col(timestamp_with_time_zone(Partnerships::CreatedAt))
                    .col(timestamp_with_time_zone(Partnerships::UpdatedAt))
                    .col(uuid_null(Partnerships::CreatedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Partnerships::Table, Partnerships::CallId)
                            .to(Calls::Table, Calls::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_partnerships_call")
                    .table(Partnerships::Table)
                    .col(Partnerships::CallId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PartnershipMembers::Table)
                    .col(uuid(PartnershipMembers::PartnershipId))
                    .col(uuid(PartnershipMembers::OrganizationId))
                    .col(string_len(PartnershipMembers::Role, 20))
                    .col(timestamp_with_time_zone(PartnershipMembers::AddedAt))
                    .primary_key(
                        Index::create()
                            .col(PartnershipMembers::PartnershipId)
                            .col(PartnershipMembers::OrganizationId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(PartnershipMembers::Table, PartnershipMembers::PartnershipId)
                            .to(Partnerships::Table, Partnerships::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                PartnershipMembers::Table,
                                PartnershipMembers::OrganizationId,
                            )
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_partnership_members_organization")
                    .table(PartnershipMembers::Table)
                    .col(PartnershipMembers::OrganizationId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PartnershipMembers::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Partnerships::Table).to_owned())
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(OrganizationRepresentatives::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Organizations::Table).to_owned())
            .await
    }
}
