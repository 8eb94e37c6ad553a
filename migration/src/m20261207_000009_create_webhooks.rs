//! Webhooks: the subscriptions of other systems, the outbox of events written in the same
//! transaction as the change, one delivery per subscription and event, and every attempt.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    Url,
    Secret,
    EventTypes,
    Description,
    CreatedAt,
    CreatedBy,
    DeletedAt,
}

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Id,
    EventType,
    OccurredAt,
    Payload,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    WebhookId,
    EventId,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastStatusCode,
    LastError,
    DeliveredAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    DeliveryId,
    Attempt,
    AttemptedAt,
    DurationMs,
    StatusCode,
    Error,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(uuid(Webhooks::Id).primary_key())
                    .col(string_len(Webhooks::Url, 2000))
                    .col(text(Webhooks::Secret))
                    .col(text(Webhooks::EventTypes))
                    .col(string_len_null(Webhooks::Description, 200))
                    .col(timestamp_with_time_zone(Webhooks::CreatedAt))
                    .col(uuid_null(Webhooks::CreatedBy))
                    .col(timestamp_with_time_zone_null(Webhooks::DeletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .col(uuid(WebhookEvents::Id).primary_key())
                    .col(string_len(WebhookEvents::EventType, 60))
                    .col(timestamp_with_time_zone(WebhookEvents::OccurredAt))
                    .col(text(WebhookEvents::Payload))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(uuid(WebhookDeliveries::Id).primary_key())
                    .col(uuid(WebhookDeliveries::WebhookId))
                    .col(uuid(WebhookDeliveries::EventId))
                    .col(string_len(WebhookDeliveries::Status, 20))
                    .col(integer(WebhookDeliveries::Attempts).default(0))
                    .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::LeaseUntil))
                    .col(integer_null(WebhookDeliveries::LastStatusCode))
                    .col(text_null(WebhookDeliveries::LastError))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::DeliveredAt,
                    ))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDeliveries::Table, WebhookDeliveries::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDeliveries::Table, WebhookDeliveries::EventId)
                            .to(WebhookEvents::Table, WebhookEvents::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_due")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_webhook")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::WebhookId)
                    .col(WebhookDeliveries::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(uuid(WebhookAttempts::Id).primary_key())
                    .col(uuid(WebhookAttempts::DeliveryId))
                    .col(integer(WebhookAttempts::Attempt))
                    .col(timestamp_with_time_zone(WebhookAttempts::AttemptedAt))
                    .col(integer(WebhookAttempts::DurationMs))
                    .col(integer_null(WebhookAttempts::StatusCode))
                    .col(text_null(WebhookAttempts::Error))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookAttempts::Table, WebhookAttempts::DeliveryId)
                            .to(WebhookDeliveries::Table, WebhookDeliveries::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_attempts_delivery")
                    .table(WebhookAttempts::Table)
                    .col(WebhookAttempts::DeliveryId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            WebhookEvents::Table.into_iden(),
            Webhooks::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
