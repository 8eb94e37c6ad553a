//! Annexes are files the service keeps: each records the media type read from its bytes
//! (`NULL` for an annex registered as kept elsewhere), and the sweeper asks by SHA-256 which
//! kept files an annex still refers to.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApplicationDocuments {
    Table,
    MediaType,
    Sha256,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ApplicationDocuments::Table)
                    .add_column(string_len_null(ApplicationDocuments::MediaType, 40))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_application_documents_sha256")
                    .table(ApplicationDocuments::Table)
                    .col(ApplicationDocuments::Sha256)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_application_documents_sha256")
                    .table(ApplicationDocuments::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ApplicationDocuments::Table)
                    .drop_column(ApplicationDocuments::MediaType)
                    .to_owned(),
            )
            .await
    }
}
