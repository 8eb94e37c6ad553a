//! Indexes for the paths that run most on deadline day: the agency's evaluators looked up
//! at every submission, an agency's applications listed in protocol order one page at a
//! time, and the applications of a partnership.

use sea_orm_migration::prelude::*;

use crate::m20261201_000001_create_agencies_and_users::Users;
use crate::m20261203_000005_create_applications::Applications;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("ix_users_role_agency")
            .table(Users::Table)
            .col(Users::Role)
            .col(Users::AgencyCode)
            .to_owned(),
        // The list's filter and its order (protocol number, creation, id): a page is read
        // in index order and stops after its last row.
        Index::create()
            .name("ix_applications_call_agency_order")
            .table(Applications::Table)
            .col(Applications::CallId)
            .col(Applications::AgencyCode)
            .col(Applications::ProtocolNumber)
            .col(Applications::CreatedAt)
            .col(Applications::Id)
            .to_owned(),
        Index::create()
            .name("ix_applications_partnership")
            .table(Applications::Table)
            .col(Applications::PartnershipId)
            .to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("ix_users_role_agency", Users::Table.into_iden()),
            (
                "ix_applications_call_agency_order",
                Applications::Table.into_iden(),
            ),
            (
                "ix_applications_partnership",
                Applications::Table.into_iden(),
            ),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
