//! The published results of a call's approved rankings: JSON, CSV, or the 360Giving data
//! standard.

use actix_web::{HttpResponse, get, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::csv::{Cell, CsvWriter, Dialect};
use crate::domain::ErrorCode;
use crate::domain::agency::AgencyCode;
use crate::domain::giving::{GivingIds, REGION_NAME};
use crate::domain::grant::GrantStatus;
use crate::domain::money::Money;
use crate::domain::score::Score;
use crate::error::{ApiError, Problem};
use crate::service::rankings as service;
use crate::state::AppState;

/// One published result: an application of an approved ranking (no personal data).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"agency_code": "MONTAGNA", "rank": 1, "protocol_number": "RLD-DEMO-CONCILIAZIONE-000001", "title": "Valtellina concilia",
    "recipient": "Comune di Sondrio (demo)", "score": "90.00", "outcome": "funded", "amount": "50000.00", "act_number": "decreto ATS n. 123", "act_date": "2027-03-05",
    "grant_status": "accepted", "final_grant": null, "disbursed": "35000.00", "start_date": "2027-04-01", "end_date": "2028-03-31"}))]
pub struct ResultView {
    pub agency_code: AgencyCode,
    pub rank: Option<u32>,
    pub protocol_number: String,
    pub title: Option<String>,
    /// The lead organization (a natural person's name is never shown).
    pub recipient: String,
    pub score: Option<Score>,
    pub outcome: crate::domain::ranking::Outcome,
    pub amount: Money,
    pub act_number: Option<String>,
    pub act_date: Option<NaiveDate>,
    /// Where the application's grant stands (`offered`, `accepted`, `closed`, `revoked`, ...);
    /// null while it has none. The fields below are null then too.
    pub grant_status: Option<GrantStatus>,
    /// Once the final report is verified: the final grant, what the project is paid in all.
    pub final_grant: Option<Money>,
    /// What was paid to the project (payments recorded paid) less what it paid back (recovery
    /// orders settled): `0.00` before the first payment.
    pub disbursed: Option<Money>,
    /// The project's actual start, as its lead communicated it; null before the start.
    pub start_date: Option<NaiveDate>,
    /// The project's end, computed from its start; null before the start.
    pub end_date: Option<NaiveDate>,
}

/// The results in the 360Giving data standard: a package of grants that validates against its
/// package schema (the grants against the grant schema), published by the Region.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"grants": [{"id": "360G-regione-lombardia-RLD-DEMO-CONCILIAZIONE-000001", "title": "Valtellina concilia",
    "description": "Servizi di conciliazione per i dipendenti delle micro e piccole imprese della rete.", "currency": "EUR",
    "amountAwarded": 50000.0, "amountDisbursed": 35000.0, "awardDate": "2027-03-05",
    "actualDates": [{"startDate": "2027-04-01", "endDate": "2028-03-31"}],
    "recipientOrganization": [{"id": "IT-CF-00000010143", "name": "Comune di Sondrio (demo)"}],
    "fundingOrganization": [{"id": "360G-regione-lombardia-ATS-MONTAGNA", "name": "ATS della Montagna"}]}],
    "publisher": {"identifier": "360G-regione-lombardia-REGIONE-LOMBARDIA", "name": "Regione Lombardia"}}))]
pub struct GivingGrants {
    /// The funded applications of the approved rankings. Empty while no ranking of the call
    /// is approved (360Giving wants at least one grant in a package it publishes).
    pub grants: Vec<GivingGrant>,
    pub publisher: GivingPublisher,
}

/// The publisher of a 360Giving package.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"identifier": "360G-regione-lombardia-REGIONE-LOMBARDIA", "name": "Regione Lombardia"}))]
pub struct GivingPublisher {
    /// `360G-<prefix>-REGIONE-LOMBARDIA`.
    pub identifier: String,
    pub name: String,
}

/// One funded application, as a 360Giving grant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"id": "360G-regione-lombardia-RLD-DEMO-CONCILIAZIONE-000001", "title": "Valtellina concilia",
    "description": "Servizi di conciliazione per i dipendenti delle micro e piccole imprese della rete.", "currency": "EUR",
    "amountAwarded": 50000.0, "amountDisbursed": 35000.0, "awardDate": "2027-03-05",
    "actualDates": [{"startDate": "2027-04-01", "endDate": "2028-03-31"}],
    "recipientOrganization": [{"id": "IT-CF-00000010143", "name": "Comune di Sondrio (demo)"}],
    "fundingOrganization": [{"id": "360G-regione-lombardia-ATS-MONTAGNA", "name": "ATS della Montagna"}]}))]
pub struct GivingGrant {
    /// `360G-<prefix>-` and the protocol number (`open_data.giving_prefix`).
    pub id: String,
    pub title: String,
    /// The project's summary.
    pub description: String,
    /// Always `EUR`.
    pub currency: String,
    /// A number, as the standard wants (the JSON and CSV results carry the exact string).
    pub amount_awarded: f64,
    /// What was paid less what was paid back, as a number; absent while the application has
    /// no grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_disbursed: Option<f64>,
    /// The date of the agency's act that approved the ranking.
    pub award_date: NaiveDate,
    /// The project's actual start and end, once it started; absent before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_dates: Option<Vec<GivingDates>>,
    /// The lead partner.
    pub recipient_organization: Vec<GivingOrganization>,
    /// The agency.
    pub funding_organization: Vec<GivingOrganization>,
}

/// When a 360Giving grant's activity took place (the standard's `Event`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"startDate": "2027-04-01", "endDate": "2028-03-31"}))]
pub struct GivingDates {
    pub start_date: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<NaiveDate>,
}

/// An organization of a 360Giving grant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "360G-regione-lombardia-ATS-MONTAGNA", "name": "ATS della Montagna"}))]
pub struct GivingOrganization {
    /// `IT-CF-` and the tax code of an organization; `360G-<prefix>-RECIPIENT-<protocol
    /// number>` for a natural person (a sole trader), whose tax code and name are never
    /// published; `360G-<prefix>-ATS-<agency code>` for an agency.
    pub id: String,
    pub name: String,
}

/// What a row of the results carries beyond its view: only the 360Giving document shows it.
struct Unpublished {
    /// The lead's tax code, unless it is a natural person's.
    tax_code: Option<String>,
    summary: Option<String>,
}

/// The JSON of the results: the list by default, an object with `grants` for `format=360giving`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(example = json!([{"agency_code": "MONTAGNA", "rank": 1, "protocol_number": "RLD-DEMO-CONCILIAZIONE-000001", "title": "Valtellina concilia",
    "recipient": "Comune di Sondrio (demo)", "score": "90.00", "outcome": "funded", "amount": "50000.00", "act_number": "decreto ATS n. 123", "act_date": "2027-03-05",
    "grant_status": "accepted", "final_grant": null, "disbursed": "35000.00", "start_date": "2027-04-01", "end_date": "2028-03-31"}]))]
pub enum ResultsDocument {
    Results(Vec<ResultView>),
    ThreeSixtyGiving(GivingGrants),
}

/// The format of the results.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResultsQuery {
    /// `json` (default), `csv` or `360giving`.
    #[param(value_type = Option<ResultsFormat>, inline)]
    pub format: Option<String>,
    /// With `format=csv`: `rfc4180` (default) or `excel-it` (a UTF-8 byte-order mark, `;`
    /// between cells, decimal commas: what Excel set to Italian opens right).
    #[param(value_type = Option<crate::api::csv::CsvDialect>, inline)]
    pub dialect: Option<String>,
}

// For the document only, like `applications::ExportFormat`.
/// The format of the results.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub enum ResultsFormat {
    #[serde(rename = "json")]
    Json,
    #[serde(rename = "csv")]
    Csv,
    /// The 360Giving data standard, as JSON.
    #[serde(rename = "360giving")]
    ThreeSixtyGiving,
}

/// An amount as the number 360Giving wants (the JSON and CSV results carry the exact string).
fn number(m: Money) -> f64 {
    m.to_string().parse::<f64>().unwrap_or(0.0)
}

/// Read the published results of a call.
///
/// The approved rankings, as published: JSON, CSV (`format=csv`, with `dialect=excel-it` for Excel
/// set to Italian), or the 360Giving data standard (`format=360giving`). An application with a
/// grant also shows where the grant stands, its final grant once verified, what it was paid less
/// what it paid back (`amountDisbursed` in 360Giving) and the project's actual start and end
/// (`actualDates`). Public, with no personal data.
#[utoipa::path(
    operation_id = "getCallResults",
    tag = "rankings",
    params(("call_id" = Uuid, Path, description = "The call's id"), ResultsQuery),
    responses(
        (status = 200, description = "The published results", content((ResultsDocument = "application/json"), (String = "text/csv"))),
        (status = 404, description = "No such published call", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown format", body = Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
#[get("/calls/{call_id}/results")]
pub async fn results(
    state: web::Data<AppState>,
    path: web::Path<Uuid>,
    query: web::Query<ResultsQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = query.format.as_deref().unwrap_or("json");
    if !["json", "csv", "360giving"].contains(&format) {
        return Err(ApiError::invalid(
            "format",
            ErrorCode::UnknownFormat.worded(
                "format is json, csv or 360giving.",
                "format è json, csv o 360giving.",
            ),
        ));
    }
    let dialect = Dialect::parse(query.dialect.as_deref())?;
    let call_id = path.into_inner();
    let rows: Vec<(ResultView, Unpublished)> = service::results(&state.db, call_id)
        .await?
        .into_iter()
        .map(|r| {
            (
                ResultView {
                    agency_code: r.agency,
                    rank: r.rank,
                    protocol_number: r.protocol_number,
                    title: r.title,
                    recipient: r.recipient,
                    score: r.score,
                    outcome: r.outcome,
                    amount: r.amount,
                    act_number: r.act_number,
                    act_date: r.act_date,
                    grant_status: r.grant.as_ref().map(|g| g.status),
                    final_grant: r.grant.as_ref().and_then(|g| g.final_amount),
                    disbursed: r.grant.as_ref().map(|g| g.disbursed),
                    start_date: r.grant.as_ref().and_then(|g| g.start_date),
                    end_date: r.grant.as_ref().and_then(|g| g.end_date),
                },
                Unpublished {
                    tax_code: r.tax_code,
                    summary: r.summary,
                },
            )
        })
        .collect();
    match format {
        "csv" => {
            let mut out = CsvWriter::with(dialect);
            out.write_text_record([
                "agency_code",
                "rank",
                "protocol_number",
                "title",
                "recipient",
                "score",
                "outcome",
                "amount",
                "act_number",
                "act_date",
                "grant_status",
                "final_grant",
                "disbursed",
                "start_date",
                "end_date",
            ])?;
            for (r, _) in &rows {
                out.write_record([
                    Cell::text(r.agency_code.as_str()),
                    Cell::number_or_empty(r.rank),
                    Cell::text(r.protocol_number.clone()),
                    Cell::text_or_empty(r.title.clone()),
                    Cell::text(r.recipient.clone()),
                    Cell::number_or_empty(r.score),
                    Cell::text_or_empty(
                        serde_json::to_value(r.outcome)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from)),
                    ),
                    Cell::number(r.amount),
                    Cell::text_or_empty(r.act_number.clone()),
                    Cell::text_or_empty(r.act_date.map(|d| d.to_string())),
                    Cell::text_or_empty(r.grant_status.map(|s| s.as_str())),
                    Cell::number_or_empty(r.final_grant),
                    Cell::number_or_empty(r.disbursed),
                    Cell::text_or_empty(r.start_date.map(|d| d.to_string())),
                    Cell::text_or_empty(r.end_date.map(|d| d.to_string())),
                ])?;
            }
            out.into_response(&format!("results-{call_id}.csv"))
        }
        "360giving" => {
            let ids = GivingIds::new(&state.settings.open_data.giving_prefix);
            let grants: Vec<GivingGrant> = rows
                .iter()
                .filter(|(r, _)| r.amount > Money::ZERO)
                .filter_map(|(r, public)| {
                    // An approved ranking always has the date of its act (approving asks for it).
                    let award_date = r.act_date?;
                    let title = r.title.clone().unwrap_or_else(|| r.protocol_number.clone());
                    Some(GivingGrant {
                        id: ids.grant(&r.protocol_number),
                        description: public.summary.clone().unwrap_or_else(|| title.clone()),
                        title,
                        currency: "EUR".into(),
                        amount_awarded: number(r.amount),
                        amount_disbursed: r.disbursed.map(number),
                        award_date,
                        actual_dates: r.start_date.map(|start_date| {
                            vec![GivingDates {
                                start_date,
                                end_date: r.end_date,
                            }]
                        }),
                        recipient_organization: vec![GivingOrganization {
                            id: ids.recipient(public.tax_code.as_deref(), &r.protocol_number),
                            name: r.recipient.clone(),
                        }],
                        funding_organization: vec![GivingOrganization {
                            id: ids.agency(r.agency_code),
                            name: r.agency_code.name().to_owned(),
                        }],
                    })
                })
                .collect();
            Ok(HttpResponse::Ok().json(GivingGrants {
                grants,
                publisher: GivingPublisher {
                    identifier: ids.region(),
                    name: REGION_NAME.to_owned(),
                },
            }))
        }
        _ => Ok(HttpResponse::Ok().json(rows.into_iter().map(|(r, _)| r).collect::<Vec<_>>())),
    }
}
