use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub call_id: Uuid,
    pub partnership_id: Uuid,
    pub agency_code: Option<String>,
    pub status: String,
    /// The content as JSON text.
    #[sea_orm(column_type = "Text")]
    pub content: String,
    #[sea_orm(column_type = "Decimal(Some((14, 2)))", nullable)]
    pub total_cost: Option<Decimal>,
    #[sea_orm(column_type = "Decimal(Some((14, 2)))", nullable)]
    pub requested_grant: Option<Decimal>,
    pub protocol_number: Option<String>,
    pub submitted_at: Option<DateTimeUtc>,
    /// The canonical JSON of what was submitted.
    #[sea_orm(column_type = "Text", nullable)]
    pub snapshot: Option<String>,
    pub snapshot_sha256: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub created_by: Option<Uuid>,
    pub review_status: Option<String>,
    pub integration_deadline: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::call::Entity",
        from = "Column::CallId",
        to = "super::call::Column::Id"
    )]
    Call,
}

impl Related<super::call::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Call.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
