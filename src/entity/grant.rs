use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub call_id: Uuid,
    pub agency_code: String,
    #[sea_orm(unique)]
    pub application_id: Uuid,
    #[sea_orm(column_type = "Decimal(Some((14, 2)))")]
    pub amount: Decimal,
    #[sea_orm(column_type = "Decimal(Some((14, 2)))")]
    pub requested: Decimal,
    pub status: String,
    pub offered_at: DateTimeUtc,
    pub deadline: DateTimeUtc,
    pub cup: Option<String>,
    pub answered_at: Option<DateTimeUtc>,
    pub reason: Option<String>,
    pub ranking_version: i32,
    pub version: i32,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
    pub started_at: Option<DateTimeUtc>,
    pub start_overdue: bool,
    pub revocation_cause: Option<String>,
    pub revocation_act_number: Option<String>,
    pub revocation_act_date: Option<Date>,
    pub ended_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Decimal(Some((14, 2)))", nullable)]
    pub final_amount: Option<Decimal>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
