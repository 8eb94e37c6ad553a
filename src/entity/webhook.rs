use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub url: String,
    /// The signing secret (shown once, when the subscription is created).
    #[sea_orm(column_type = "Text")]
    pub secret: String,
    /// JSON array of event types.
    #[sea_orm(column_type = "Text")]
    pub event_types: String,
    pub description: Option<String>,
    pub created_at: DateTimeUtc,
    pub created_by: Option<Uuid>,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
