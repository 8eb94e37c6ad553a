//! The review by the agencies: conflict declarations, admissibility steps, evaluations,
//! consensus scores; and every user's inbox.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::m20261201_000001_create_agencies_and_users::Users;
use crate::m20261203_000005_create_applications::Applications;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApplicationsReview {
    #[sea_orm(iden = "applications")]
    Table,
    ReviewStatus,
    IntegrationDeadline,
}

#[derive(DeriveIden)]
enum ApplicationHistory {
    Table,
    FromStatus,
    ToStatus,
}

#[derive(DeriveIden)]
enum ConflictDeclarations {
    Table,
    ApplicationId,
    EvaluatorId,
    HasConflict,
    Statement,
    DeclaredAt,
}

#[derive(DeriveIden)]
enum ReviewSteps {
    Table,
    Id,
    ApplicationId,
    Step,
    Reasons,
    Note,
    Question,
    Deadline,
    Answer,
    Documents,
    ActorId,
    At,
}

#[derive(DeriveIden)]
enum Evaluations {
    Table,
    Id,
    ApplicationId,
    EvaluatorId,
    Scores,
    Status,
    FinalizedAt,
    ReopenedReason,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ConsensusScores {
    Table,
    ApplicationId,
    Scores,
    Reasons,
    DecidedBy,
    DecidedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    UserId,
    Kind,
    MessageEn,
    MessageIt,
    Data,
    CreatedAt,
    ReadAt,
}

fn to_application<T: IntoIden>(table: T, col: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, col)
        .to(Applications::Table, Applications::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The history now records review states too, e.g. `integration_requested`. SQLite
        // does not enforce lengths (nor alter columns); PostgreSQL does.
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
            for column in [ApplicationHistory::FromStatus, ApplicationHistory::ToStatus] {
                manager
                    .alter_table(
                        Table::alter()
                            .table(ApplicationHistory::Table)
                            .modify_column(ColumnDef::new(column).string_len(40))
                            .to_owned(),
                    )
                    .await?;
            }
        }
        manager
            .alter_table(
                Table::alter()
                    .table(ApplicationsReview::Table)
                    .add_column(string_len_null(ApplicationsReview::ReviewStatus, 30))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ApplicationsReview::Table)
                    .add_column(timestamp_with_time_zone_null(
                        ApplicationsReview::IntegrationDeadline,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConflictDeclarations::Table)
                    .col(uuid(ConflictDeclarations::ApplicationId))
                    .col(uuid(ConflictDeclarations::EvaluatorId))
                    .col(boolean(ConflictDeclarations::HasConflict))
                    .col(text_null(ConflictDeclarations::Statement))
                    .col(timestamp_with_time_zone(ConflictDeclarations::DeclaredAt))
                    .primary_key(
                        Index::create()
                            .col(ConflictDeclarations::ApplicationId)
                            .col(ConflictDeclarations::EvaluatorId),
                    )
                    .foreign_key(&mut to_application(
                        ConflictDeclarations::Table,
                        ConflictDeclarations::ApplicationId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ConflictDeclarations::Table,
                                ConflictDeclarations::EvaluatorId,
                            )
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReviewSteps::Table)
                    .col(uuid(ReviewSteps::Id).primary_key())
                    .col(uuid(ReviewSteps::ApplicationId))
                    .col(string_len(ReviewSteps::Step, 30))
                    .col(text_null(ReviewSteps::Reasons))
                    .col(text_null(ReviewSteps::Note))
                    .col(text_null(ReviewSteps::Question))
                    .col(timestamp_with_time_zone_null(ReviewSteps::Deadline))
                    .col(text_null(ReviewSteps::Answer))
                    .col(text_null(ReviewSteps::Documents))
                    .col(uuid_null(ReviewSteps::ActorId))
                    .col(timestamp_with_time_zone(ReviewSteps::At))
                    .foreign_key(&mut to_application(
                        ReviewSteps::Table,
                        ReviewSteps::ApplicationId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_review_steps_application")
                    .table(ReviewSteps::Table)
                    .col(ReviewSteps::ApplicationId)
                    .col(ReviewSteps::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Evaluations::Table)
                    .col(uuid(Evaluations::Id).primary_key())
                    .col(uuid(Evaluations::ApplicationId))
                    .col(uuid(Evaluations::EvaluatorId))
                    .col(text(Evaluations::Scores))
                    .col(string_len(Evaluations::Status, 20))
                    .col(timestamp_with_time_zone_null(Evaluations::FinalizedAt))
                    .col(text_null(Evaluations::ReopenedReason))
                    .col(integer(Evaluations::Version).default(1))
                    .col(timestamp_with_time_zone(Evaluations::UpdatedAt))
                    .foreign_key(&mut to_application(
                        Evaluations::Table,
                        Evaluations::ApplicationId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Evaluations::Table, Evaluations::EvaluatorId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_evaluations_application_evaluator")
                    .table(Evaluations::Table)
                    .col(Evaluations::ApplicationId)
                    .col(Evaluations::EvaluatorId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConsensusScores::Table)
                    .col(uuid(ConsensusScores::ApplicationId).primary_key())
                    .col(text(ConsensusScores::Scores))
                    .col(text(ConsensusScores::Reasons))
                    .col(uuid_null(ConsensusScores::DecidedBy))
                    .col(timestamp_with_time_zone(ConsensusScores::DecidedAt))
                    .foreign_key(&mut to_application(
                        ConsensusScores::Table,
                        ConsensusScores::ApplicationId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(uuid(Notifications::Id).primary_key())
                    .col(uuid(Notifications::UserId))
                    .col(string_len(Notifications::Kind, 60))
                    .col(text(Notifications::MessageEn))
                    .col(text(Notifications::MessageIt))
                    .col(text(Notifications::Data))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Notifications::Table, Notifications::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_notifications_user")
                    .table(Notifications::Table)
                    .col(Notifications::UserId)
                    .col(Notifications::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Notifications::Table.into_iden(),
            ConsensusScores::Table.into_iden(),
            Evaluations::Table.into_iden(),
            ReviewSteps::Table.into_iden(),
            ConflictDeclarations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(ApplicationsReview::Table)
                    .drop_column(ApplicationsReview::IntegrationDeadline)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ApplicationsReview::Table)
                    .drop_column(ApplicationsReview::ReviewStatus)
                    .to_owned(),
            )
            .await
    }
}
