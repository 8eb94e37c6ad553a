use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "application_documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub application_id: Uuid,
    pub kind: String,
    pub file_name: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub organization_id: Option<Uuid>,
    pub media_type: Option<String>,
    /// The report of a `.p7m`'s signatures as JSON text; `None` for other files.
    #[sea_orm(column_type = "Text", nullable)]
    pub signature_report: Option<String>,
    pub created_at: DateTimeUtc,
    pub created_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
