//! The notices of a project's deadlines, one per grant and kind (`start_reminder`,
//! `start_missed`, `report_reminder`, `report_missed`): the periodic job records one when it
//! sends it, so that several replicas and restarts send each once.

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
enum DeadlineNotices {
    Table,
    GrantId,
    Kind,
    Deadline,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DeadlineNotices::Table)
                    .col(uuid(DeadlineNotices::GrantId))
                    .col(string_len(DeadlineNotices::Kind, 20))
                    .col(date(DeadlineNotices::Deadline))
                    .col(timestamp_with_time_zone(DeadlineNotices::SentAt))
                    .primary_key(
                        Index::create()
                            .col(DeadlineNotices::GrantId)
                            .col(DeadlineNotices::Kind),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DeadlineNotices::Table, DeadlineNotices::GrantId)
                            .to(Grants::Table, Grants::Id),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DeadlineNotices::Table).to_owned())
            .await
    }
}
