use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub tax_code: String,
    pub vat_number: Option<String>,
    pub legal_name: String,
    pub category: String,
    pub subtype: String,
    pub chamber_registration: Option<String>,
    /// The offices as JSON text.
    #[sea_orm(column_type = "Text")]
    pub seats: String,
    #[sea_orm(column_type = "Decimal(Some((12, 2)))", nullable)]
    pub staff: Option<Decimal>,
    #[sea_orm(column_type = "Decimal(Some((14, 2)))", nullable)]
    pub turnover: Option<Decimal>,
    #[sea_orm(column_type = "Decimal(Some((14, 2)))", nullable)]
    pub balance_sheet_total: Option<Decimal>,
    pub reference_year: Option<i32>,
    pub legal_representative_name: Option<String>,
    pub legal_representative_tax_code: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
