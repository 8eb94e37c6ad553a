//! After the offer: an accepted grant records the project's start (its dates, and whether it
//! was communicated late), and each tranche of the payment plan that becomes due is a payment,
//! with the liquidation act that authorized it and the payment order that paid it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Grants {
    Table,
    Id,
    StartDate,
    EndDate,
    StartedAt,
    StartOverdue,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    GrantId,
    CallId,
    AgencyCode,
    Tranche,
    Position,
    Amount,
    Status,
    DueAt,
    AuthorizedBy,
    AuthorizedAt,
    LiquidationNumber,
    LiquidationDate,
    RecordedBy,
    RecordedAt,
    OrderNumber,
    OrderDate,
    FailureReason,
    CancelledBy,
    CancelledAt,
    CancelReason,
    Version,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            date_null(Grants::StartDate),
            date_null(Grants::EndDate),
            timestamp_with_time_zone_null(Grants::StartedAt),
            boolean(Grants::StartOverdue).default(false).to_owned(),
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
        manager
            .create_table(
                Table::create()
                    .table(Payments::Table)
                    .col(uuid(Payments::Id).primary_key())
                    .col(uuid(Payments::GrantId))
                    .col(uuid(Payments::CallId))
                    .col(string_len(Payments::AgencyCode, 20))
                    .col(string_len(Payments::Tranche, 40))
                    .col(integer(Payments::Position))
                    .col(decimal_len(Payments::Amount, 14, 2))
                    .col(string_len(Payments::Status, 20))
                    .col(timestamp_with_time_zone(Payments::DueAt))
                    .col(uuid_null(Payments::AuthorizedBy))
                    .col(timestamp_with_time_zone_null(Payments::AuthorizedAt))
                    .col(string_len_null(Payments::LiquidationNumber, 100))
                    .col(date_null(Payments::LiquidationDate))
                    .col(uuid_null(Payments::RecordedBy))
                    .col(timestamp_with_time_zone_null(Payments::RecordedAt))
                    .col(string_len_null(Payments::OrderNumber, 100))
                    .col(date_null(Payments::OrderDate))
                    .col(text_null(Payments::FailureReason))
                    .col(uuid_null(Payments::CancelledBy))
                    .col(timestamp_with_time_zone_null(Payments::CancelledAt))
                    .col(text_null(Payments::CancelReason))
                    .col(integer(Payments::Version).default(1))
                    .col(timestamp_with_time_zone(Payments::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Payments::Table, Payments::GrantId)
                            .to(Grants::Table, Grants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // A tranche becomes due once per grant.
        manager
            .create_index(
                Index::create()
                    .name("ux_payments_grant_tranche")
                    .table(Payments::Table)
                    .col(Payments::GrantId)
                    .col(Payments::Tranche)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The list's filters: a call's agency, by status.
        manager
            .create_index(
                Index::create()
                    .name("ix_payments_call_agency_status")
                    .table(Payments::Table)
                    .col(Payments::CallId)
                    .col(Payments::AgencyCode)
                    .col(Payments::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Payments::Table).to_owned())
            .await?;
        for column in [
            Grants::StartOverdue,
            Grants::StartedAt,
            Grants::EndDate,
            Grants::StartDate,
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
