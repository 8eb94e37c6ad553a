//! An organization joins a partnership only with its consent: a member is `accepted`,
//! `pending` (invited, not yet answered) or `declined`. Members that existed before joined
//! without being asked and stay accepted.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PartnershipMembers {
    Table,
    OrganizationId,
    Status,
    AnsweredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column a statement: SQLite alters one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(PartnershipMembers::Table)
                    .add_column(string_len(PartnershipMembers::Status, 20).default("accepted"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PartnershipMembers::Table)
                    .add_column(timestamp_with_time_zone_null(
                        PartnershipMembers::AnsweredAt,
                    ))
                    .to_owned(),
            )
            .await?;
        // An organization's invitations, for its representatives' inbox and list.
        manager
            .create_index(
                Index::create()
                    .name("ix_partnership_members_organization_status")
                    .table(PartnershipMembers::Table)
                    .col(PartnershipMembers::OrganizationId)
                    .col(PartnershipMembers::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_partnership_members_organization_status")
                    .table(PartnershipMembers::Table)
                    .to_owned(),
            )
            .await?;
        for column in [PartnershipMembers::AnsweredAt, PartnershipMembers::Status] {
            manager
                .alter_table(
                    Table::alter()
                        .table(PartnershipMembers::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
