use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub grant_id: Uuid,
    pub call_id: Uuid,
    pub agency_code: String,
    pub tranche: String,
    pub position: i32,
    #[sea_orm(column_type = "Decimal(Some((14, 2)))")]
    pub amount: Decimal,
    pub status: String,
    pub due_at: DateTimeUtc,
    pub authorized_by: Option<Uuid>,
    pub authorized_at: Option<DateTimeUtc>,
    pub liquidation_number: Option<String>,
    pub liquidation_date: Option<Date>,
    pub recorded_by: Option<Uuid>,
    pub recorded_at: Option<DateTimeUtc>,
    pub order_number: Option<String>,
    pub order_date: Option<Date>,
    pub failure_reason: Option<String>,
    pub cancelled_by: Option<Uuid>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub cancel_reason: Option<String>,
    pub version: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
