//! Signed annexes: each annex keeps the report of its CAdES signatures (JSON text, `NULL` for a
//! file that is not a `.p7m`), and each organization names its legal representative (full name
//! and personal tax code, both `NULL` until set), whose signature a call may require.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApplicationDocuments {
    Table,
    SignatureReport,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    LegalRepresentativeName,
    LegalRepresentativeTaxCode,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(ApplicationDocuments::Table)
                    .add_column(text_null(ApplicationDocuments::SignatureReport))
                    .to_owned(),
            )
            .await?;
        for (column, len) in [
            (Organizations::LegalRepresentativeName, 200),
            (Organizations::LegalRepresentativeTaxCode, 16),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Organizations::Table)
                        .add_column(string_len_null(column, len))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Organizations::LegalRepresentativeTaxCode,
            Organizations::LegalRepresentativeName,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Organizations::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(ApplicationDocuments::Table)
                    .drop_column(ApplicationDocuments::SignatureReport)
                    .to_owned(),
            )
            .await
    }
}
