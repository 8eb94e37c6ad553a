//! The eight ATS.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::agency::AgencyCode;
use crate::error::{ApiError, Problem};
use crate::service::operations;
use crate::state::AppState;

/// An agency (ATS) and the population the 30/70 split uses for it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"code": "MONTAGNA", "name": "ATS della Montagna", "population": 292241,
    "population_reference": "ISTAT, residents on 1 January 2021, approximate aggregation by ATS territory"}))]
pub struct AgencyView {
    pub code: AgencyCode,
    pub name: String,
    pub population: i64,
    pub population_reference: String,
}

/// List the eight ATS, by code.
///
/// The health agencies that review, score and rank the applications of their territory, each with
/// its code and the population that weighs its share of a call's envelopes. Public: no token
/// needed.
#[utoipa::path(
    operation_id = "listAgencies",
    tag = "agencies",
    responses(
        (status = 200, description = "The agencies", body = Vec<AgencyView>),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/agencies")]
pub async fn list_agencies(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let rows = operations::agencies(&state.db).await?;
    let items = rows
        .into_iter()
        .filter_map(|a| {
            Some(AgencyView {
                code: AgencyCode::parse(&a.code)?,
                name: a.name,
                population: a.population,
                population_reference: a.population_reference,
            })
        })
        .collect::<Vec<_>>();
    Ok(HttpResponse::Ok().json(items))
}
