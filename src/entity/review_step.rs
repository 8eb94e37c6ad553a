use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "review_steps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub application_id: Uuid,
    pub step: String,
    /// JSON list of reason codes.
    pub reasons: Option<String>,
    pub note: Option<String>,
    pub question: Option<String>,
    pub deadline: Option<DateTimeUtc>,
    pub answer: Option<String>,
    /// JSON list of annex metadata.
    pub documents: Option<String>,
    pub actor_id: Option<Uuid>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
