//! What the call endpoints read and answer.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::envelopes::EnvelopeInput;
use crate::domain::call::{
    AmendmentAct, CALL_TIME_ZONE, Call, CallRules, CallStatus, FieldChange, WindowState,
};
use crate::domain::money::Money;
use crate::service::calls::Amendment;

/// A call for proposals with every rule it sets.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = examples::call_view)]
pub struct CallView {
    pub id: Uuid,
    /// The call's code, e.g. the Bandi Online code `RLD12022024943`.
    #[schema(example = "RLD12022024943")]
    pub code: String,
    pub title: String,
    pub description: String,
    /// The acts the call rests on.
    #[schema(example = "D.G.R. n. 5755/2021; decreto n. 4683 del 06/04/2022")]
    pub legal_basis: String,
    pub status: CallStatus,
    /// Submissions are in time from this instant (included)...
    #[schema(example = "2022-05-04T10:00:00.000000Z")]
    #[serde(with = "crate::domain::timestamp")]
    pub opens_at: DateTime<Utc>,
    /// ...to this one (excluded), as amended.
    #[schema(example = "2022-07-15T10:00:00.000000Z")]
    #[serde(with = "crate::domain::timestamp")]
    pub closes_at: DateTime<Utc>,
    /// `opens_at` in the call's time zone.
    #[schema(value_type = String, example = "2022-05-04T12:00:00+02:00")]
    pub opens_at_local: DateTime<FixedOffset>,
    /// `closes_at` in the call's time zone.
    #[schema(value_type = String, example = "2022-07-15T12:00:00+02:00")]
    pub closes_at_local: DateTime<FixedOffset>,
    #[schema(example = "Europe/Rome")]
    pub time_zone: String,
    /// Where the window stands now.
    pub window_state: WindowState,
    /// Whether the rules can no longer change (published and opened).
    pub rules_locked: bool,
    pub total_budget: Money,
    /// Rankings should be approved by this date (a target, not a block).
    #[schema(example = "2022-10-13")]
    pub ranking_target_date: NaiveDate,
    pub rules: CallRules,
    /// The call this edition was cloned from.
    pub cloned_from: Option<Uuid>,
    #[serde(with = "crate::domain::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp")]
    pub updated_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp::option")]
    pub published_at: Option<DateTime<Utc>>,
}

impl CallView {
    pub fn new(c: &Call, now: DateTime<Utc>) -> CallView {
        let local = |t: DateTime<Utc>| t.with_timezone(&CALL_TIME_ZONE).fixed_offset();
        CallView {
            id: c.id,
            code: c.code.clone(),
            title: c.title.clone(),
            description: c.description.clone(),
            legal_basis: c.legal_basis.clone(),
            status: c.status,
            opens_at: c.window.opens_at(),
            closes_at: c.window.closes_at(),
            opens_at_local: local(c.window.opens_at()),
            closes_at_local: local(c.window.closes_at()),
            time_zone: CALL_TIME_ZONE.name().to_owned(),
            window_state: c.window.state(now),
            rules_locked: c.rules_locked(now),
            total_budget: c.total_budget,
            ranking_target_date: c
                .window
                .ranking_target_date(c.rules.ranking.approval_target_days),
            rules: c.rules.clone(),
            cloned_from: c.cloned_from,
            created_at: c.created_at,
            updated_at: c.updated_at,
            published_at: c.published_at,
        }
    }
}

/// Examples of the OpenAPI document.
mod examples {
    use serde_json::{Value, json};

    pub fn call_view() -> Value {
        json!({
            "id": "3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65", "code": "RLD12022024943",
            "title": "Avviso interventi di conciliazione e welfare aziendale 2022",
            "description": "Interventi di conciliazione vita-lavoro e welfare aziendale...",
            "legal_basis": "D.G.R. n. 5755/2021; decreto n. 4683 del 06/04/2022", "status": "published",
            "opens_at": "2022-05-04T10:00:00.000000Z", "closes_at": "2022-07-15T10:00:00.000000Z",
            "opens_at_local": "2022-05-04T12:00:00+02:00", "closes_at_local": "2022-07-15T12:00:00+02:00",
            "time_zone": "Europe/Rome", "window_state": "closed", "rules_locked": true, "total_budget": "5050000.00",
            "ranking_target_date": "2022-10-13", "rules": crate::domain::call::examples::rules(), "cloned_from": null,
            "created_at": "2022-04-06T10:00:00.000000Z", "updated_at": "2022-06-14T15:00:00.000000Z", "published_at": "2022-04-06T10:00:00.000000Z"
        })
    }

    pub fn call_list() -> Value {
        json!({"items": [call_view()], "total": 1, "page": 1, "per_page": 20})
    }

    pub fn new_call() -> Value {
        json!({
            "code": "RLD-CONCILIAZIONE-2027", "title": "Avviso interventi di conciliazione e welfare aziendale 2027",
            "description": "", "legal_basis": "D.G.R. n. .../2027",
            "opens_at": "2027-05-04T12:00:00+02:00", "closes_at": "2027-07-15T12:00:00+02:00",
            "total_budget": "6000000.00", "rules": crate::domain::call::examples::rules()
        })
    }
}

/// A page of calls.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = examples::call_list)]
pub struct CallList {
    pub items: Vec<CallView>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

/// A new call. Without `envelopes`, the total is split 30/70 over the agencies' populations.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = examples::new_call)]
pub struct NewCall {
    #[schema(example = "RLD-CONCILIAZIONE-2027")]
    pub code: String,
    #[schema(
        max_length = 300,
        example = "Avviso interventi di conciliazione e welfare aziendale 2027"
    )]
    pub title: String,
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub description: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub legal_basis: String,
    /// RFC 3339 with an offset, e.g. `2027-05-04T12:00:00+02:00`.
    #[schema(value_type = String, example = "2027-05-04T12:00:00+02:00")]
    pub opens_at: DateTime<FixedOffset>,
    #[schema(value_type = String, example = "2027-07-15T12:00:00+02:00")]
    pub closes_at: DateTime<FixedOffset>,
    pub total_budget: Money,
    pub rules: CallRules,
    pub envelopes: Option<Vec<EnvelopeInput>>,
}

/// The act that amends a published call's dates.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"act_number": "decreto n. 8343", "act_date": "2022-06-14", "reason": "Proroga del termine di presentazione"}))]
pub struct AmendmentInput {
    #[schema(max_length = 100)]
    pub act_number: String,
    pub act_date: NaiveDate,
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

impl From<&AmendmentInput> for AmendmentAct {
    fn from(a: &AmendmentInput) -> AmendmentAct {
        AmendmentAct {
            act_number: a.act_number.trim().to_owned(),
            act_date: a.act_date,
            reason: a.reason.clone(),
        }
    }
}

/// A JSON Merge Patch of a call. Rules and budget are locked once a published call's window
/// opens; a published call's dates change only with an `amendment`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "closes_at": "2022-07-15T12:00:00+02:00",
    "amendment": {"act_number": "decreto n. 8343", "act_date": "2022-06-14", "reason": "Proroga del termine"}
}))]
pub struct CallPatch {
    #[schema(max_length = 300)]
    pub title: Option<String>,
    #[schema(max_length = 20000)]
    pub description: Option<String>,
    #[schema(max_length = 2000)]
    pub legal_basis: Option<String>,
    #[schema(value_type = Option<String>)]
    pub opens_at: Option<DateTime<FixedOffset>>,
    #[schema(value_type = Option<String>)]
    pub closes_at: Option<DateTime<FixedOffset>>,
    pub total_budget: Option<Money>,
    /// Merged into the rules (arrays are replaced whole).
    #[schema(value_type = Option<Object>)]
    pub rules: Option<serde_json::Value>,
    pub amendment: Option<AmendmentInput>,
}

/// A next edition, cloned from a call as a draft with the same rules.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "RLD-CONCILIAZIONE-2027", "title": "Avviso conciliazione e welfare aziendale 2027",
    "opens_at": "2027-05-04T12:00:00+02:00", "closes_at": "2027-07-15T12:00:00+02:00", "total_budget": "6000000.00"}))]
pub struct CloneRequest {
    pub code: String,
    /// Defaults to the source's title.
    #[schema(max_length = 300)]
    pub title: Option<String>,
    #[schema(value_type = String)]
    pub opens_at: DateTime<FixedOffset>,
    #[schema(value_type = String)]
    pub closes_at: DateTime<FixedOffset>,
    /// Defaults to the source's total; the envelopes are copied when it is the same and
    /// split 30/70 otherwise.
    pub total_budget: Option<Money>,
}

/// An amendment of a call's dates.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "6d0f3b8e-2a41-4c1e-9f57-0c2b7a9e4d13", "act_number": "decreto n. 8343", "act_date": "2022-06-14", "reason": "Proroga del termine di presentazione delle domande", "changes": [{"field": "closes_at", "old_value": "2022-06-15T10:00:00Z", "new_value": "2022-07-15T10:00:00Z"}], "created_at": "2022-06-14T15:00:00.000000Z"}))]
pub struct AmendmentView {
    pub id: Uuid,
    #[schema(example = "decreto n. 8343")]
    pub act_number: String,
    #[schema(example = "2022-06-14")]
    pub act_date: NaiveDate,
    pub reason: Option<String>,
    pub changes: Vec<FieldChange>,
    #[serde(with = "crate::domain::timestamp")]
    pub created_at: DateTime<Utc>,
}

impl From<&Amendment> for AmendmentView {
    fn from(a: &Amendment) -> AmendmentView {
        AmendmentView {
            id: a.id,
            act_number: a.act_number.clone(),
            act_date: a.act_date,
            reason: a.reason.clone(),
            changes: a.changes.clone(),
            created_at: a.created_at,
        }
    }
}

/// Filters of the call list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallQuery {
    /// `draft` (administrators only) or `published`.
    pub status: Option<CallStatus>,
}
