use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "final_reports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub grant_id: Uuid,
    pub call_id: Uuid,
    pub agency_code: String,
    pub status: String,
    pub version: i32,
    #[sea_orm(column_type = "Text")]
    pub content: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub protocol_number: Option<String>,
    pub submitted_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub snapshot: Option<String>,
    pub snapshot_sha256: Option<String>,
    pub overdue: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub integration: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub verification: Option<String>,
    pub verified_at: Option<DateTimeUtc>,
    pub verified_by: Option<Uuid>,
    #[sea_orm(column_type = "Decimal(Some((14, 2)))", nullable)]
    pub eligible_cost: Option<Decimal>,
    #[sea_orm(column_type = "Decimal(Some((14, 2)))", nullable)]
    pub final_grant: Option<Decimal>,
    pub under_realised: Option<bool>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
