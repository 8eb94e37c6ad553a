use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "calls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub code: String,
    pub title: String,
    pub description: String,
    pub legal_basis: String,
    pub status: String,
    pub opens_at: DateTimeUtc,
    pub closes_at: DateTimeUtc,
    #[sea_orm(column_type = "Decimal(Some((14, 2)))")]
    pub total_budget: Decimal,
    /// The call's rules as JSON text.
    #[sea_orm(column_type = "Text")]
    pub rules: String,
    pub cloned_from: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub published_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
