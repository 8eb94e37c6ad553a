//! A call for proposals: its window, its lifecycle and every rule an edition may set.
//!
//! Every value the notice did not confirm is a parameter here, never a constant in logic.

use std::collections::BTreeSet;

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Europe::Rome;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::award::PostAwardRules;
use super::error_code::ErrorCode;
use super::money::Money;
use super::percent::Percent;
use super::points::Points;
use super::violation::{Violation, Violations};

mod envelope;
mod preset;

pub use envelope::*;

/// Examples of the OpenAPI document, taken from the 2022 rules.
pub use preset::examples;

/// The time zone in which calls define their windows and deadlines.
pub const CALL_TIME_ZONE: chrono_tz::Tz = Rome;

/// The calendar day of `t` in Europe/Rome, the day the call's acts and deadlines speak of.
pub fn rome_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&CALL_TIME_ZONE).date_naive()
}

/// `draft` is visible to administrators only; `published` to everybody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    Draft,
    Published,
}

impl CallStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            CallStatus::Draft => "draft",
            CallStatus::Published => "published",
        }
    }

    pub fn parse(s: &str) -> Option<CallStatus> {
        match s {
            "draft" => Some(CallStatus::Draft),
            "published" => Some(CallStatus::Published),
            _ => None,
        }
    }
}

/// Where a call's window stands at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "open")]
pub enum WindowState {
    Upcoming,
    Open,
    Closed,
}

/// The half-open submission window `[opens_at, closes_at)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    opens_at: DateTime<Utc>,
    closes_at: DateTime<Utc>,
}

impl Window {
    /// A window must close after it opens.
    pub fn new(opens_at: DateTime<Utc>, closes_at: DateTime<Utc>) -> Result<Window, Violation> {
        if closes_at <= opens_at {
            return Err(Violation::new(
                "closes_at",
                ErrorCode::WindowCloseNotAfterOpen,
            ));
        }
        Ok(Window {
            opens_at,
            closes_at,
        })
    }

    pub fn opens_at(&self) -> DateTime<Utc> {
        self.opens_at
    }

    pub fn closes_at(&self) -> DateTime<Utc> {
        self.closes_at
    }

    /// A submission at `t` is in time when `opens_at ≤ t < closes_at`.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.opens_at <= t && t < self.closes_at
    }

    pub fn state(&self, now: DateTime<Utc>) -> WindowState {
        if now < self.opens_at {
            WindowState::Upcoming
        } else if now < self.closes_at {
            WindowState::Open
        } else {
            WindowState::Closed
        }
    }

    /// The date by which rankings should be approved: `days` after the close, in Rome.
    pub fn ranking_target_date(&self, days: u32) -> NaiveDate {
        let close_local = self.closes_at.with_timezone(&CALL_TIME_ZONE).date_naive();
        close_local
            .checked_add_days(Days::new(u64::from(days)))
            .unwrap_or(close_local)
    }
}

/// The categories of organization a call may admit.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[schema(example = "public_body")]
pub enum OrganizationCategory {
    /// Municipality, union of municipalities, mountain community, special agency, social-plan district.
    PublicBody,
    /// Private non-profit, including Third Sector entities registered in RUNTS.
    PrivateNonProfit,
    EmployersAssociation,
    /// A micro or small enterprise registered with the chamber of commerce.
    MicroSmallEnterprise,
}

/// How the ranking is turned into grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "strict_order")]
pub enum AllocationMode {
    /// Fund in rank order; the first that no longer fits may get a partial grant; the rest wait.
    StrictOrder,
    /// Fund in rank order every project that still fits fully, skipping those that do not.
    SkipToFit,
}

/// One rule that breaks ties between applications with the same score.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
#[schema(example = json!({"rule": "higher_criterion_score", "criterion": "QUALITY"}))]
pub enum TieBreak {
    /// The higher score on one criterion of the grid goes first.
    HigherCriterionScore { criterion: String },
    /// The earlier submission (lower protocol number) goes first; always the last rule.
    EarlierSubmission,
}

/// Partnership composition rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = examples::partnership)]
pub struct PartnershipRules {
    /// Minimum number of members, the lead included.
    #[schema(example = 4)]
    pub min_members: u32,
    /// Whether adhering public bodies count towards `min_members`.
    pub adhering_partners_count: bool,
    #[schema(example = 1)]
    pub min_public_bodies: u32,
    #[schema(example = 2)]
    pub min_micro_small_enterprises: u32,
    /// The closed list of categories that may take part.
    pub allowed_categories: Vec<OrganizationCategory>,
    /// How many partnerships of the call one organization may join; none means no cap.
    pub max_partnerships_per_organization: Option<u32>,
    /// How many partnerships of the call one organization may lead; none means no cap.
    pub max_leads_per_organization: Option<u32>,
}

/// One intervention area a project may develop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "TIME_SAVING", "name_it": "Time saving", "name_en": "Time saving"}))]
pub struct InterventionArea {
    #[schema(example = "TIME_SAVING")]
    pub code: String,
    #[schema(max_length = 300)]
    pub name_it: String,
    #[schema(max_length = 300)]
    pub name_en: String,
}

/// One expense category of a budget, with an optional cap as a share of the total cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "COORDINATION", "name_it": "Coordinamento e gestione", "name_en": "Coordination and management", "cap_percent": "15.00"}))]
pub struct ExpenseCategory {
    #[schema(example = "COORDINATION")]
    pub code: String,
    #[schema(max_length = 300)]
    pub name_it: String,
    #[schema(max_length = 300)]
    pub name_en: String,
    /// Largest share of the total eligible cost; none means no cap.
    pub cap_percent: Option<Percent>,
}

/// One criterion of the scoring grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "QUALITY", "name_it": "Qualità e coerenza della proposta", "name_en": "Quality and coherence", "min": "0.0", "max": "25.0"}))]
pub struct Criterion {
    #[schema(example = "QUALITY")]
    pub code: String,
    #[schema(max_length = 300)]
    pub name_it: String,
    #[schema(max_length = 300)]
    pub name_en: String,
    pub min: Points,
    pub max: Points,
}

/// The scoring grid and how scores become an outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = examples::scoring)]
pub struct ScoringRules {
    pub criteria: Vec<Criterion>,
    /// The lowest score (after rounding) that makes an application eligible for funding.
    pub threshold: Points,
    /// How many final evaluations the average needs.
    #[schema(example = 2)]
    pub evaluators_required: u32,
    /// A gap between evaluators' totals above this is flagged for discussion.
    pub evaluator_gap_flag: Points,
}

/// Whether the first project that no longer fits may be funded in part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"allowed": true, "min_share": "50.00"}))]
pub struct PartialFunding {
    pub allowed: bool,
    /// The smallest partial grant, as a share of the request.
    pub min_share: Percent,
}

/// How a ranking is ordered, funded and approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = examples::ranking)]
pub struct RankingRules {
    /// Applied in order; `earlier_submission` is always last.
    pub tie_breaks: Vec<TieBreak>,
    pub allocation_mode: AllocationMode,
    pub partial_funding: PartialFunding,
    /// Rankings should be approved within this many days of the close (a target, not a block).
    #[schema(example = 90)]
    pub approval_target_days: u32,
}

/// Deadlines counted in calendar days, ending at 23:59:59 Europe/Rome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"integration_days": 10, "acceptance_days": 30}))]
pub struct DeadlineRules {
    /// Days an applicant has to answer a request for integration.
    #[schema(example = 10)]
    pub integration_days: u32,
    /// Days a funded lead partner has to accept or decline a grant offer.
    #[schema(example = 30)]
    pub acceptance_days: u32,
}

/// Who a required annex is asked of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "application")]
pub enum AnnexScope {
    /// One per application.
    Application,
    /// One for each adhering partner.
    EachAdheringPartner,
}

/// An annex every application must carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "partnership_agreement", "scope": "application", "name_it": "Accordo di partenariato", "name_en": "Partnership agreement", "max_size_bytes": 20971520, "signed_by_legal_representative": false}))]
pub struct RequiredAnnex {
    #[schema(example = "partnership_agreement")]
    pub kind: String,
    pub scope: AnnexScope,
    #[schema(max_length = 300)]
    pub name_it: String,
    #[schema(max_length = 300)]
    pub name_en: String,
    /// The largest file of this kind, in bytes (1 byte to 1 GiB; 20 MiB when left out).
    #[serde(default = "default_annex_max_size")]
    #[schema(example = 20971520, minimum = 1, maximum = 1073741824)]
    pub max_size_bytes: u64,
    /// Whether the annex must be a CAdES envelope (`.p7m`) whose valid signers include the
    /// legal representative of the organization it belongs to (the lead's for an annex of
    /// the whole application, the adhering partner's for one asked of each): the signer's tax
    /// code, read from the certificate, must be that representative's. Whether the
    /// certificate is trusted is not checked. False when left out.
    #[serde(default)]
    pub signed_by_legal_representative: bool,
}

/// The largest annex file when a call says nothing else (and of an annex of kind `other`).
pub const DEFAULT_ANNEX_MAX_SIZE: u64 = 20 * 1024 * 1024;
/// The largest annex file any call may allow.
pub const ANNEX_MAX_SIZE_CEILING: u64 = 1024 * 1024 * 1024;

fn default_annex_max_size() -> u64 {
    DEFAULT_ANNEX_MAX_SIZE
}

/// Every rule of a call; locked once its window opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = examples::rules)]
pub struct CallRules {
    /// The largest grant as a share of the eligible cost (rounded down to the cent).
    pub grant_rate: Percent,
    /// The largest grant per project.
    pub grant_cap: Money,
    #[schema(example = 12)]
    pub project_duration_months: u32,
    pub partnership: PartnershipRules,
    pub intervention_areas: Vec<InterventionArea>,
    pub expense_categories: Vec<ExpenseCategory>,
    pub scoring: ScoringRules,
    pub ranking: RankingRules,
    pub deadlines: DeadlineRules,
    pub required_annexes: Vec<RequiredAnnex>,
    /// What follows the offer: the project's start, its payments, its final report, variations
    /// and recovery (DOMAIN.md §5). A call written before these rules existed has the defaults.
    #[serde(default)]
    pub post_award: PostAwardRules,
    /// Codes an evaluator may give as reasons of inadmissibility.
    #[schema(example = json!(["composition", "category", "lead_seat", "money_rules", "window", "required_documents", "other"]))]
    pub inadmissibility_reasons: Vec<String>,
}

fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn check_codes<'a>(
    v: &mut Violations,
    field: &str,
    codes: impl Iterator<Item = &'a str>,
    at_least_one: bool,
) {
    let mut seen = BTreeSet::new();
    let mut count = 0;
    for (i, code) in codes.enumerate() {
        count += 1;
        if !is_code(code) {
            v.add(format!("{field}[{i}]"), ErrorCode::InvalidCode);
        }
        if !seen.insert(code) {
            v.add(
                format!("{field}[{i}]"),
                ErrorCode::DuplicateCode.worded(
                    format!("The code {code} appears twice."),
                    format!("Il codice {code} compare due volte."),
                ),
            );
        }
    }
    if at_least_one && count == 0 {
        v.add(
            field,
            ErrorCode::EmptyList
                .worded("At least one entry is required.", "Serve almeno una voce."),
        );
    }
}

fn check_names(v: &mut Violations, field: &str, it: &str, en: &str) {
    for (suffix, value) in [("name_it", it), ("name_en", en)] {
        if value.trim().is_empty() || value.chars().count() > 300 {
            v.add(format!("{field}.{suffix}"), ErrorCode::InvalidName);
        }
    }
}

impl CallRules {
    /// The largest file an annex of `kind` may have: the call's limit of that kind, 20 MiB for
    /// `other`; `None` for a kind the call does not know.
    pub fn annex_max_size(&self, kind: &str) -> Option<u64> {
        if kind == "other" {
            return Some(DEFAULT_ANNEX_MAX_SIZE);
        }
        self.required_annexes
            .iter()
            .find(|a| a.kind == kind)
            .map(|a| a.max_size_bytes)
    }

    /// The largest file any annex of the call may have.
    pub fn largest_annex_size(&self) -> u64 {
        self.required_annexes
            .iter()
            .map(|a| a.max_size_bytes)
            .chain([DEFAULT_ANNEX_MAX_SIZE])
            .max()
            .unwrap_or(DEFAULT_ANNEX_MAX_SIZE)
    }
}

impl CallRules {
    /// Every rule a set of call rules must satisfy, all reported at once.
    pub fn check(&self, field: &str) -> Vec<Violation> {
        let mut v = Violations::new();
        let f = |name: &str| format!("{field}.{name}");
        if self.grant_rate.basis_points() == 0 {
            v.add(f("grant_rate"), ErrorCode::RateZero);
        }
        if self.grant_cap == Money::ZERO {
            v.add(
                f("grant_cap"),
                ErrorCode::AmountZero.with(&[
                    ("subject_en", &"The grant cap"),
                    ("subject_it", &"Il contributo massimo"),
                ]),
            );
        }
        if !(1..=60).contains(&self.project_duration_months) {
            v.add(
                f("project_duration_months"),
                ErrorCode::OutOfRange.worded(
                    "A project lasts 1 to 60 months.",
                    "Un progetto dura da 1 a 60 mesi.",
                ),
            );
        }
        let p = &self.partnership;
        if !(1..=100).contains(&p.min_members) {
            v.add(
                f("partnership.min_members"),
                ErrorCode::OutOfRange.with(&[
                    ("subject_en", &"The minimum number of members"),
                    ("subject_it", &"Il numero minimo di membri"),
                    ("min", &1),
                    ("max", &100),
                ]),
            );
        }
        if p.allowed_categories.is_empty() {
            v.add(
                f("partnership.allowed_categories"),
                ErrorCode::EmptyList.worded(
                    "At least one category must be allowed.",
                    "Almeno una categoria deve essere ammessa.",
                ),
            );
        }
        let cats: BTreeSet<_> = p.allowed_categories.iter().collect();
        if cats.len() != p.allowed_categories.len() {
            v.add(
                f("partnership.allowed_categories"),
                ErrorCode::DuplicateCode.worded(
                    "A category appears twice.",
                    "Una categoria compare due volte.",
                ),
            );
        }
        if p.min_public_bodies > 0 && !cats.contains(&OrganizationCategory::PublicBody) {
            v.add(
                f("partnership.min_public_bodies"),
                ErrorCode::CategoryNotAllowed,
            );
        }
        if p.min_micro_small_enterprises > 0
            && !cats.contains(&OrganizationCategory::MicroSmallEnterprise)
        {
            v.add(
                f("partnership.min_micro_small_enterprises"),
                ErrorCode::CategoryNotAllowed.worded(
                    "Micro or small enterprises are required but not allowed.",
                    "Le micro o piccole imprese sono richieste ma non ammesse.",
                ),
            );
        }
        for (name, cap) in [
            (
                "max_partnerships_per_organization",
                p.max_partnerships_per_organization,
            ),
            ("max_leads_per_organization", p.max_leads_per_organization),
        ] {
            if cap == Some(0) {
                v.add(
                    f(&format!("partnership.{name}")),
                    ErrorCode::OutOfRange.worded(
                        "A cap, when set, is at least 1.",
                        "Un limite, se presente, vale almeno 1.",
                    ),
                );
            }
        }

        check_codes(
            &mut v,
            &f("intervention_areas"),
            self.intervention_areas.iter().map(|a| a.code.as_str()),
            true,
        );
        for (i, a) in self.intervention_areas.iter().enumerate() {
            check_names(
                &mut v,
                &f(&format!("intervention_areas[{i}]")),
                &a.name_it,
                &a.name_en,
            );
        }
        check_codes(
            &mut v,
            &f("expense_categories"),
            self.expense_categories.iter().map(|c| c.code.as_str()),
            true,
        );
        for (i, c) in self.expense_categories.iter().enumerate() {
            check_names(
                &mut v,
                &f(&format!("expense_categories[{i}]")),
                &c.name_it,
                &c.name_en,
            );
            if c.cap_percent.is_some_and(|p| p.basis_points() == 0) {
                v.add(
                    f(&format!("expense_categories[{i}].cap_percent")),
                    ErrorCode::RateZero.worded(
                        "A cap, when set, is above 0.",
                        "Un limite, se presente, è maggiore di 0.",
                    ),
                );
            }
        }

        let s = &self.scoring;
        check_codes(
            &mut v,
            &f("scoring.criteria"),
            s.criteria.iter().map(|c| c.code.as_str()),
            true,
        );
        let mut max_total = rust_decimal::Decimal::ZERO;
        for (i, c) in s.criteria.iter().enumerate() {
            check_names(
                &mut v,
                &f(&format!("scoring.criteria[{i}]")),
                &c.name_it,
                &c.name_en,
            );
            if c.max <= c.min {
                v.add(
                    f(&format!("scoring.criteria[{i}].max")),
                    ErrorCode::MaxNotAboveMin,
                );
            }
            max_total += c.max.as_decimal();
        }
        if s.threshold.as_decimal() > max_total {
            v.add(
                f("scoring.threshold"),
                ErrorCode::ThresholdAboveMaximum.with(&[("max_total", &max_total)]),
            );
        }
        if !(1..=10).contains(&s.evaluators_required) {
            v.add(
                f("scoring.evaluators_required"),
                ErrorCode::OutOfRange.worded(
                    "From 1 to 10 evaluators may be required.",
                    "Si possono richiedere da 1 a 10 valutatori.",
                ),
            );
        }

        let r = &self.ranking;
        match r.tie_breaks.last() {
            Some(TieBreak::EarlierSubmission) => {}
            _ => v.add(f("ranking.tie_breaks"), ErrorCode::TieBreakSubmissionLast),
        }
        let codes: BTreeSet<&str> = s.criteria.iter().map(|c| c.code.as_str()).collect();
        let mut seen = BTreeSet::new();
        for (i, t) in r.tie_breaks.iter().enumerate() {
            if !seen.insert(t) {
                v.add(
                    f(&format!("ranking.tie_breaks[{i}]")),
                    ErrorCode::DuplicateCode.worded(
                        "A tie-break rule appears twice.",
                        "Un criterio di parità compare due volte.",
                    ),
                );
            }
            match t {
                TieBreak::HigherCriterionScore { criterion }
                    if !codes.contains(criterion.as_str()) =>
                {
                    v.add(
                        f(&format!("ranking.tie_breaks[{i}].criterion")),
                        ErrorCode::UnknownCriterion.with(&[("criterion", &criterion)]),
                    );
                }
                TieBreak::EarlierSubmission if i + 1 != r.tie_breaks.len() => {
                    v.add(
                        f(&format!("ranking.tie_breaks[{i}]")),
                        ErrorCode::TieBreakSubmissionLast.worded(
                            "earlier_submission must be the last rule.",
                            "earlier_submission deve essere l'ultimo criterio.",
                        ),
                    );
                }
                _ => {}
            }
        }
        if r.partial_funding.allowed && r.partial_funding.min_share.basis_points() == 0 {
            v.add(
                f("ranking.partial_funding.min_share"),
                ErrorCode::RateZero.worded(
                    "The minimum share of a partial grant is above 0.",
                    "La quota minima di un finanziamento parziale è maggiore di 0.",
                ),
            );
        }
        if !(1..=365).contains(&r.approval_target_days) {
            v.add(
                f("ranking.approval_target_days"),
                ErrorCode::OutOfRange.worded(
                    "The approval target is 1 to 365 days.",
                    "Il termine di approvazione va da 1 a 365 giorni.",
                ),
            );
        }
        for (name, days) in [
            ("integration_days", self.deadlines.integration_days),
            ("acceptance_days", self.deadlines.acceptance_days),
        ] {
            if !(1..=365).contains(&days) {
                v.add(
                    f(&format!("deadlines.{name}")),
                    ErrorCode::OutOfRange.worded(
                        "A deadline is 1 to 365 calendar days.",
                        "Un termine va da 1 a 365 giorni di calendario.",
                    ),
                );
            }
        }
        check_codes(
            &mut v,
            &f("required_annexes"),
            self.required_annexes.iter().map(|a| a.kind.as_str()),
            false,
        );
        for (i, a) in self.required_annexes.iter().enumerate() {
            check_names(
                &mut v,
                &f(&format!("required_annexes[{i}]")),
                &a.name_it,
                &a.name_en,
            );
            if !(1..=ANNEX_MAX_SIZE_CEILING).contains(&a.max_size_bytes) {
                v.add(
                    f(&format!("required_annexes[{i}].max_size_bytes")),
                    ErrorCode::OutOfRange.worded(
                        "A file has 1 byte to 1 GiB.",
                        "Un file ha da 1 byte a 1 GiB.",
                    ),
                );
            }
        }
        v.extend(self.post_award.check(&f("post_award")));
        check_codes(
            &mut v,
            &f("inadmissibility_reasons"),
            self.inadmissibility_reasons.iter().map(String::as_str),
            true,
        );
        v.into_vec()
    }

    /// The top-level rule sections that differ between two sets of rules.
    pub fn changed_sections(&self, other: &CallRules) -> Vec<&'static str> {
        let a = serde_json::to_value(self).unwrap_or_default();
        let b = serde_json::to_value(other).unwrap_or_default();
        RULE_SECTIONS
            .iter()
            .copied()
            .filter(|k| a.get(k) != b.get(k))
            .collect()
    }
}

/// The top-level sections of [`CallRules`], as named in JSON.
pub const RULE_SECTIONS: [&str; 12] = [
    "grant_rate",
    "grant_cap",
    "project_duration_months",
    "partnership",
    "intervention_areas",
    "expense_categories",
    "scoring",
    "ranking",
    "deadlines",
    "required_annexes",
    "post_award",
    "inadmissibility_reasons",
];

/// A call's identifying code: 3 to 40 capital letters, digits, `-` or `_`.
pub fn check_call_code(code: &str) -> Option<Violation> {
    let ok = (3..=40).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    (!ok).then(|| Violation::new("code", ErrorCode::InvalidCallCode))
}

/// A title (or other short text) of 1 to `max` characters, not blank.
pub fn check_text(field: &str, value: &str, max: usize) -> Option<Violation> {
    let n = value.chars().count();
    (value.trim().is_empty() || n > max).then(|| {
        Violation::new(
            field,
            ErrorCode::InvalidText.worded(
                format!("This text must have 1 to {max} characters and not be blank."),
                format!("Il testo deve avere da 1 a {max} caratteri e non essere vuoto."),
            ),
        )
    })
}

/// Whether the rules of a call may still change at `now`: only while it is a draft or
/// its window has not opened yet.
pub fn rules_locked(status: CallStatus, window: &Window, now: DateTime<Utc>) -> bool {
    status == CallStatus::Published && now >= window.opens_at()
}

/// One changed value of an amendment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"field": "closes_at", "old_value": "2022-06-15T10:00:00Z", "new_value": "2022-07-15T10:00:00Z"}))]
pub struct FieldChange {
    #[schema(example = "closes_at")]
    pub field: String,
    #[schema(example = "2022-06-15T10:00:00Z")]
    pub old_value: String,
    #[schema(example = "2022-07-15T10:00:00Z")]
    pub new_value: String,
}

/// The date changes between two windows, as an amendment records them.
pub fn window_changes(old: &Window, new: &Window) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    for (field, a, b) in [
        ("opens_at", old.opens_at, new.opens_at),
        ("closes_at", old.closes_at, new.closes_at),
    ] {
        if a != b {
            changes.push(FieldChange {
                field: field.into(),
                old_value: a.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                new_value: b.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            });
        }
    }
    changes
}

/// An instant given as a local time in Europe/Rome (for seeds and tests).
pub fn rome(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    use chrono::TimeZone;
    CALL_TIME_ZONE
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("an unambiguous local time")
        .with_timezone(&Utc)
}

/// A call for proposals as the rules see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub id: uuid::Uuid,
    pub code: String,
    pub title: String,
    pub description: String,
    pub legal_basis: String,
    pub status: CallStatus,
    pub window: Window,
    pub total_budget: Money,
    pub rules: CallRules,
    pub cloned_from: Option<uuid::Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

impl Call {
    pub fn rules_locked(&self, now: DateTime<Utc>) -> bool {
        rules_locked(self.status, &self.window, now)
    }
}

/// The act that amends a call's dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmendmentAct {
    pub act_number: String,
    pub act_date: NaiveDate,
    pub reason: Option<String>,
}

impl AmendmentAct {
    pub fn check(&self, field: &str) -> Vec<Violation> {
        let mut v = Violations::new();
        v.extend(check_text(
            &format!("{field}.act_number"),
            &self.act_number,
            100,
        ));
        if let Some(r) = &self.reason {
            v.extend(check_text(&format!("{field}.reason"), r, 2000));
        }
        v.into_vec()
    }
}

/// Everything of a call an administrator may edit.
#[derive(Debug, Clone, PartialEq)]
pub struct CallEdit {
    pub title: String,
    pub description: String,
    pub legal_basis: String,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    pub total_budget: Money,
    pub rules: CallRules,
}

/// The common checks of a call's editable content.
pub fn check_content(edit: &CallEdit) -> Result<Window, Vec<Violation>> {
    let mut v = Violations::new();
    v.extend(check_text("title", &edit.title, 300));
    if edit.description.chars().count() > 20_000 {
        v.add(
            "description",
            ErrorCode::InvalidText.worded(
                "The description has at most 20000 characters.",
                "La descrizione ha al massimo 20000 caratteri.",
            ),
        );
    }
    if edit.legal_basis.chars().count() > 2000 {
        v.add(
            "legal_basis",
            ErrorCode::InvalidText.worded(
                "The legal basis has at most 2000 characters.",
                "Il riferimento normativo ha al massimo 2000 caratteri.",
            ),
        );
    }
    if edit.total_budget == Money::ZERO {
        v.add(
            "total_budget",
            ErrorCode::AmountZero.with(&[
                ("subject_en", &"The total budget"),
                ("subject_it", &"La dotazione complessiva"),
            ]),
        );
    }
    v.extend(edit.rules.check("rules"));
    let window = Window::new(edit.opens_at, edit.closes_at);
    if let Err(e) = &window {
        v.push(e.clone());
    }
    match window {
        Ok(w) if v.is_empty() => Ok(w),
        _ => Err(v.into_vec()),
    }
}

/// Apply an edit to a call at `now`: rules and budget are locked once a published call's
/// window has opened; a published call's dates change only by an amendment act, whose
/// changes are returned to be recorded.
pub fn apply_edit(
    current: &Call,
    edit: CallEdit,
    amendment: Option<&AmendmentAct>,
    now: DateTime<Utc>,
) -> Result<(Call, Vec<FieldChange>), Vec<Violation>> {
    let mut v = Violations::new();
    let window = match check_content(&edit) {
        Ok(w) => Some(w),
        Err(errors) => {
            v.extend(errors);
            None
        }
    };
    if let Some(a) = amendment {
        v.extend(a.check("amendment"));
    }
    if current.rules_locked(now) {
        for section in current.rules.changed_sections(&edit.rules) {
            v.add(format!("rules.{section}"), ErrorCode::LockedAfterOpening);
        }
        if edit.total_budget != current.total_budget {
            v.add("total_budget", ErrorCode::LockedAfterOpening.worded("The total budget cannot change once the window has opened; move money between envelopes instead.", "La dotazione complessiva non può cambiare dopo l'apertura; spostare invece risorse tra le dotazioni delle ATS."));
        }
    }
    let changes = window
        .map(|w| window_changes(&current.window, &w))
        .unwrap_or_default();
    let dates_changed =
        edit.opens_at != current.window.opens_at() || edit.closes_at != current.window.closes_at();
    if dates_changed && current.status == CallStatus::Published && amendment.is_none() {
        v.add("amendment", ErrorCode::AmendmentRequired);
    }
    if amendment.is_some() && !dates_changed {
        v.add("amendment", ErrorCode::NothingToAmend);
    }
    let window = match window {
        Some(w) if v.is_empty() => w,
        _ => return Err(v.into_vec()),
    };
    let call = Call {
        title: edit.title.trim().to_owned(),
        description: edit.description,
        legal_basis: edit.legal_basis,
        window,
        total_budget: edit.total_budget,
        rules: edit.rules,
        ..current.clone()
    };
    Ok((call, changes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(agency: super::super::agency::AgencyCode, amount: &str) -> Envelope {
        Envelope {
            agency,
            amount: Money::parse(amount).unwrap(),
            source: EnvelopeSource::Estimated,
            note: None,
        }
    }

    #[test]
    fn envelopes_must_cover_every_agency_and_add_up() {
        use super::super::agency::AgencyCode;
        let total = Money::parse("800.00").unwrap();
        let all: Vec<_> = AgencyCode::ALL
            .iter()
            .map(|a| envelope(*a, "100.00"))
            .collect();
        assert_eq!(check_envelopes(total, &all, "envelopes"), vec![]);
        let codes = |es: &[Envelope]| -> Vec<String> {
            check_envelopes(total, es, "envelopes")
                .into_iter()
                .map(|v| v.code.as_str().to_owned())
                .collect()
        };
        assert_eq!(
            codes(&all[..7]),
            vec!["missing_agency", "envelopes_sum_mismatch"]
        );
        let mut twice = all.clone();
        twice[1] = envelope(AgencyCode::Milano, "100.00");
        assert_eq!(codes(&twice), vec!["duplicate_agency", "missing_agency"]);
    }

    fn call_2022(status: CallStatus) -> Call {
        Call {
            id: uuid::Uuid::nil(),
            code: "RLD12022024943".into(),
            title: "Avviso".into(),
            description: String::new(),
            legal_basis: String::new(),
            status,
            window: Window::new(rome(2022, 5, 4, 12, 0), rome(2022, 6, 15, 12, 0)).unwrap(),
            total_budget: Money::parse("5050000.00").unwrap(),
            rules: CallRules::lombardy_2022(),
            cloned_from: None,
            version: 1,
            created_at: rome(2022, 4, 6, 9, 0),
            updated_at: rome(2022, 4, 6, 9, 0),
            published_at: None,
        }
    }

    fn edit_of(c: &Call) -> CallEdit {
        CallEdit {
            title: c.title.clone(),
            description: c.description.clone(),
            legal_basis: c.legal_basis.clone(),
            opens_at: c.window.opens_at(),
            closes_at: c.window.closes_at(),
            total_budget: c.total_budget,
            rules: c.rules.clone(),
        }
    }

    #[test]
    fn an_open_call_keeps_its_rules_but_its_dates_move_by_amendment() {
        let call = call_2022(CallStatus::Published);
        let now = rome(2022, 6, 14, 9, 0);
        let mut edit = edit_of(&call);
        edit.rules.grant_rate = Percent::parse("80.00").unwrap();
        edit.total_budget = Money::parse("1.00").unwrap();
        edit.closes_at = rome(2022, 7, 15, 12, 0);
        let codes: Vec<_> = apply_edit(&call, edit.clone(), None, now)
            .unwrap_err()
            .into_iter()
            .map(|v| (v.field, v.code.as_str().to_owned()))
            .collect();
        assert_eq!(
            codes,
            vec![
                (
                    "rules.grant_rate".to_owned(),
                    "locked_after_opening".to_owned()
                ),
                ("total_budget".to_owned(), "locked_after_opening".to_owned()),
                ("amendment".to_owned(), "amendment_required".to_owned()),
            ]
        );
        let mut dates_only = edit_of(&call);
        dates_only.closes_at = rome(2022, 7, 15, 12, 0);
        let act = AmendmentAct {
            act_number: "8343".into(),
            act_date: NaiveDate::from_ymd_opt(2022, 6, 14).unwrap(),
            reason: None,
        };
        let (new, changes) = apply_edit(&call, dates_only, Some(&act), now).unwrap();
        assert_eq!(new.window.closes_at(), rome(2022, 7, 15, 12, 0));
        assert_eq!(
            changes,
            vec![FieldChange {
                field: "closes_at".into(),
                old_value: "2022-06-15T10:00:00Z".into(),
                new_value: "2022-07-15T10:00:00Z".into()
            }]
        );
    }

    #[test]
    fn a_draft_changes_freely() {
        let call = call_2022(CallStatus::Draft);
        let mut edit = edit_of(&call);
        edit.rules.grant_rate = Percent::parse("80.00").unwrap();
        edit.closes_at = rome(2022, 7, 15, 12, 0);
        assert!(apply_edit(&call, edit, None, rome(2022, 6, 1, 0, 0)).is_ok());
    }

    #[test]
    fn the_2022_rules_are_valid() {
        assert_eq!(CallRules::lombardy_2022().check("rules"), vec![]);
    }

    #[test]
    fn the_2022_rules_ask_no_signature_so_that_any_pdf_does() {
        let rules = CallRules::lombardy_2022();
        assert!(
            rules
                .required_annexes
                .iter()
                .all(|a| !a.signed_by_legal_representative)
        );
    }

    #[test]
    fn an_annex_stored_before_signatures_were_asked_reads_as_not_asking() {
        let stored = serde_json::json!({"kind": "partnership_agreement", "scope": "application",
            "name_it": "Accordo di partenariato", "name_en": "Partnership agreement"});
        let annex: RequiredAnnex = serde_json::from_value(stored).unwrap();
        assert!(!annex.signed_by_legal_representative);
    }

    #[test]
    fn the_window_is_half_open() {
        let w = Window::new(rome(2022, 5, 4, 12, 0), rome(2022, 7, 15, 12, 0)).unwrap();
        assert!(!w.contains(rome(2022, 5, 4, 11, 59)));
        assert!(w.contains(rome(2022, 5, 4, 12, 0)));
        assert!(w.contains(rome(2022, 7, 15, 11, 59)));
        assert!(!w.contains(rome(2022, 7, 15, 12, 0)));
        assert_eq!(w.opens_at().to_rfc3339(), "2022-05-04T10:00:00+00:00");
    }

    #[test]
    fn a_window_must_close_after_it_opens() {
        let t = rome(2022, 5, 4, 12, 0);
        assert_eq!(
            Window::new(t, t).unwrap_err().code,
            "window_close_not_after_open"
        );
    }

    #[test]
    fn the_ranking_target_is_ninety_days_after_the_close() {
        let w = Window::new(rome(2022, 5, 4, 12, 0), rome(2022, 7, 15, 12, 0)).unwrap();
        assert_eq!(w.ranking_target_date(90).to_string(), "2022-10-13");
    }

    #[test]
    fn every_broken_rule_is_reported() {
        let mut r = CallRules::lombardy_2022();
        r.scoring.threshold = Points::parse("500").unwrap();
        r.ranking.tie_breaks = vec![TieBreak::HigherCriterionScore {
            criterion: "NOPE".into(),
        }];
        r.intervention_areas.clear();
        let codes: Vec<_> = r
            .check("rules")
            .into_iter()
            .map(|v| (v.field, v.code.as_str()))
            .collect();
        assert!(codes.contains(&("rules.scoring.threshold".into(), "threshold_above_maximum")));
        assert!(codes.contains(&(
            "rules.ranking.tie_breaks".into(),
            "tie_break_submission_last"
        )));
        assert!(codes.contains(&(
            "rules.ranking.tie_breaks[0].criterion".into(),
            "unknown_criterion"
        )));
        assert!(codes.contains(&("rules.intervention_areas".into(), "empty_list")));
    }

    #[test]
    fn rules_lock_when_a_published_window_opens() {
        let w = Window::new(rome(2022, 5, 4, 12, 0), rome(2022, 7, 15, 12, 0)).unwrap();
        assert!(!rules_locked(CallStatus::Draft, &w, rome(2022, 6, 1, 0, 0)));
        assert!(!rules_locked(
            CallStatus::Published,
            &w,
            rome(2022, 5, 4, 11, 59)
        ));
        assert!(rules_locked(
            CallStatus::Published,
            &w,
            rome(2022, 5, 4, 12, 0)
        ));
    }
}
