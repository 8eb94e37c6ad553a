//! The end of a grant before its time: a revoked grant keeps its cause and its act, and a revoked or
//! renounced grant when it ended; what it paid beyond what it now allows becomes a recovery
//! order, `issued → settled | cancelled`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Grants {
    Table,
    Id,
    Status,
    AnsweredAt,
    RevocationCause,
    RevocationActNumber,
    RevocationActDate,
    EndedAt,
}

#[derive(DeriveIden)]
enum Recoveries {
    Table,
    Id,
    GrantId,
    CallId,
    AgencyCode,
    Amount,
    Status,
    DueDate,
    Reason,
    IssuedAt,
    SettledBy,
    SettledAt,
    PaymentReference,
    CancelledBy,
    CancelledAt,
    CancelReason,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            string_len_null(Grants::RevocationCause, 40).to_owned(),
            string_len_null(Grants::RevocationActNumber, 100).to_owned(),
            date_null(Grants::RevocationActDate).to_owned(),
            timestamp_with_time_zone_null(Grants::EndedAt).to_owned(),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Grants::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // Grants revoked before: their revocation's time was kept as the answer's.
        manager
            .exec_stmt(
                Query::update()
                    .table(Grants::Table)
                    .value(Grants::EndedAt, Expr::col(Grants::AnsweredAt))
                    .and_where(Expr::col(Grants::Status).eq("revoked"))
                    .and_where(Expr::col(Grants::EndedAt).is_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Recoveries::Table)
                    .col(uuid(Recoveries::Id).primary_key())
                    .col(uuid(Recoveries::GrantId))
                    .col(uuid(Recoveries::CallId))
                    .col(string_len(Recoveries::AgencyCode, 20))
                    .col(decimal_len(Recoveries::Amount, 14, 2))
                    .col(string_len(Recoveries::Status, 20))
                    .col(date(Recoveries::DueDate))
                    .col(text(Recoveries::Reason))
                    .col(timestamp_with_time_zone(Recoveries::IssuedAt))
                    .col(uuid_null(Recoveries::SettledBy))
                    .col(timestamp_with_time_zone_null(Recoveries::SettledAt))
                    .col(string_len_null(Recoveries::PaymentReference, 100))
                    .col(uuid_null(Recoveries::CancelledBy))
                    .col(timestamp_with_time_zone_null(Recoveries::CancelledAt))
                    .col(text_null(Recoveries::CancelReason))
                    .col(integer(Recoveries::Version).default(1))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Recoveries::Table, Recoveries::GrantId)
                            .to(Grants::Table, Grants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_recoveries_call_agency_status")
                    .table(Recoveries::Table)
                    .col(Recoveries::CallId)
                    .col(Recoveries::AgencyCode)
                    .col(Recoveries::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_recoveries_grant")
                    .table(Recoveries::Table)
                    .col(Recoveries::GrantId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Recoveries::Table).to_owned())
            .await?;
        for column in [
            Grants::EndedAt,
            Grants::RevocationActDate,
            Grants::RevocationActNumber,
            Grants::RevocationCause,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Grants::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
