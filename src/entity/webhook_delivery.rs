use sea_orm::entity::prelude::*;

/// One event for one subscription, until it is delivered or given up.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    /// `pending`, `delivered`, `failed` (gave up) or `cancelled` (subscription deleted).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// A worker holds the delivery until then (a crashed worker's lease simply runs out).
    pub lease_until: Option<DateTimeUtc>,
    pub last_status_code: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
