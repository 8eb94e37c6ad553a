//! Sessions and wrong-password counts, kept in the database so that every replica shares
//! them: a refresh token is used once (its session remembers which one is current, and a
//! retired one presented again revokes the whole session), and an account whose password is
//! guessed wrong too often waits before the next try.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::m20261201_000001_create_agencies_and_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum AuthSessions {
    Table,
    Id,
    UserId,
    /// The `jti` of the only refresh token of the session that is honoured now.
    CurrentRefreshId,
    /// How many times the session was refreshed.
    Generation,
    CreatedAt,
    RefreshedAt,
    /// When the current refresh token expires; the row can be forgotten after it.
    ExpiresAt,
    RevokedAt,
    /// `logout`, `refresh_token_reused`.
    RevokedReason,
}

#[derive(DeriveIden)]
pub enum LoginThrottles {
    Table,
    /// The user name as typed at login, normalised (lower case), known or not.
    Username,
    /// Wrong passwords since the last success.
    Failures,
    /// Waits imposed since the last success; each one doubles the next.
    Lockouts,
    LockedUntil,
    LastFailureAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuthSessions::Table)
                    .col(uuid(AuthSessions::Id).primary_key())
                    .col(uuid(AuthSessions::UserId))
                    .col(uuid(AuthSessions::CurrentRefreshId))
                    .col(integer(AuthSessions::Generation).default(0))
                    .col(timestamp_with_time_zone(AuthSessions::CreatedAt))
                    .col(timestamp_with_time_zone(AuthSessions::RefreshedAt))
                    .col(timestamp_with_time_zone(AuthSessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(AuthSessions::RevokedAt))
                    .col(string_len_null(AuthSessions::RevokedReason, 40))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuthSessions::Table, AuthSessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_auth_sessions_user")
                    .table(AuthSessions::Table)
                    .col(AuthSessions::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_auth_sessions_expires_at")
                    .table(AuthSessions::Table)
                    .col(AuthSessions::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginThrottles::Table)
                    .col(string_len(LoginThrottles::Username, 254).primary_key())
                    .col(integer(LoginThrottles::Failures).default(0))
                    .col(integer(LoginThrottles::Lockouts).default(0))
                    .col(timestamp_with_time_zone_null(LoginThrottles::LockedUntil))
                    .col(timestamp_with_time_zone(LoginThrottles::LastFailureAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginThrottles::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AuthSessions::Table).to_owned())
            .await
    }
}
