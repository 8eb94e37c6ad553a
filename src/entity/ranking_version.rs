use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ranking_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub call_id: Uuid,
    pub agency_code: String,
    pub version: i32,
    pub status: String,
    pub reason: String,
    pub inputs_sha256: String,
    #[sea_orm(column_type = "Decimal(Some((14, 2)))")]
    pub envelope: Decimal,
    /// The allocation with its entries, as JSON text.
    #[sea_orm(column_type = "Text")]
    pub allocation: String,
    pub act_number: Option<String>,
    pub act_date: Option<Date>,
    pub created_at: DateTimeUtc,
    pub created_by: Option<Uuid>,
    pub approved_at: Option<DateTimeUtc>,
    pub approved_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
