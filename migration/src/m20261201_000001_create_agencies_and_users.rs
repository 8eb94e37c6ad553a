//! The eight ATS (reference data every installation needs) and the users of the service.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Agencies {
    Table,
    Code,
    Name,
    Population,
    PopulationReference,
}

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    Username,
    PasswordHash,
    FullName,
    Role,
    AgencyCode,
    Disabled,
    TokenVersion,
    Version,
    CreatedAt,
    UpdatedAt,
}

/// Approximate residents by ATS territory (ISTAT, 1 January 2021).
const AGENCIES: [(&str, &str, i64); 8] = [
    (
        "MILANO",
        "ATS della Città Metropolitana di Milano",
        3_469_225,
    ),
    ("INSUBRIA", "ATS dell'Insubria", 1_463_000),
    ("BRIANZA", "ATS della Brianza", 1_205_000),
    ("BERGAMO", "ATS di Bergamo", 1_108_000),
    ("BRESCIA", "ATS di Brescia", 1_155_000),
    ("VAL_PADANA", "ATS della Val Padana", 758_000),
    ("PAVIA", "ATS di Pavia", 537_000),
    ("MONTAGNA", "ATS della Montagna", 292_241),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Agencies::Table)
                    .col(string_len(Agencies::Code, 20).primary_key())
                    .col(string_len(Agencies::Name, 200))
                    .col(big_integer(Agencies::Population))
                    .col(string_len(Agencies::PopulationReference, 200))
                    .to_owned(),
            )
            .await?;
        let mut insert = Query::insert()
            .into_table(Agencies::Table)
            .columns([
                Agencies::Code,
                Agencies::Name,
                Agencies::Population,
                Agencies::PopulationReference,
            ])
            .to_owned();
        for (code, name, population) in AGENCIES {
            insert.values_panic([
                code.into(),
                name.into(),
                population.into(),
                "ISTAT, residents on 1 January 2021, approximate aggregation by ATS territory"
                    .into(),
            ]);
        }
        manager.exec_stmt(insert).await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(uuid(Users::Id).primary_key())
                    .col(string_len_uniq(Users::Username, 254))
                    .col(string_len(Users::PasswordHash, 200))
                    .col(string_len(Users::FullName, 200))
                    .col(string_len(Users::Role, 20))
                    .col(string_len_null(Users::AgencyCode, 20))
                    .col(boolean(Users::Disabled).default(false))
                    .col(integer(Users::TokenVersion).default(0))
                    .col(integer(Users::Version).default(1))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Users::Table, Users::AgencyCode)
                            .to(Agencies::Table, Agencies::Code),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Agencies::Table).to_owned())
            .await
    }
}
