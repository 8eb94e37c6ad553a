//! The review of a submitted application by its agency: conflict of interest, admissibility
//! with requests for integration, scoring against the call's grid, the application's score.

use std::collections::BTreeSet;

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::call::{CALL_TIME_ZONE, ScoringRules};
use super::error_code::{Coded, ErrorCode};
use super::points::Points;
use super::score::Score;
use super::user::Role;
use super::violation::{Msg, Violation, Violations};

/// Where the formal check of a submitted application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "admitted")]
pub enum ReviewStatus {
    /// Waiting for the agency's admissibility decision.
    Pending,
    /// The agency asked the applicant to complete it; the case waits for the answer.
    IntegrationRequested,
    /// Formally admissible: it may be scored.
    Admitted,
    Inadmissible,
}

impl ReviewStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::IntegrationRequested => "integration_requested",
            ReviewStatus::Admitted => "admitted",
            ReviewStatus::Inadmissible => "inadmissible",
        }
    }

    pub fn parse(s: &str) -> Option<ReviewStatus> {
        [
            ReviewStatus::Pending,
            ReviewStatus::IntegrationRequested,
            ReviewStatus::Admitted,
            ReviewStatus::Inadmissible,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// An admissibility decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "integration_requested")]
pub enum Decision {
    Admitted,
    Inadmissible,
    IntegrationRequested,
}

/// Why a step of the review is refused: a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 403 (the role never may) or 409 (not in this state).
    pub forbidden: bool,
    pub code: ErrorCode,
    pub message: Msg,
}

/// A refusal whose kind (403 or 409) is the status of its code in the catalogue.
impl From<Coded> for Refusal {
    fn from(Coded { code, message }: Coded) -> Refusal {
        Refusal {
            forbidden: code.status() == 403,
            code,
            message,
        }
    }
}

fn conflict(coded: impl Into<Coded>) -> Refusal {
    let r = Refusal::from(coded.into());
    debug_assert_eq!(r.code.status(), 409, "{}", r.code);
    r
}

fn forbidden(coded: impl Into<Coded>) -> Refusal {
    let r = Refusal::from(coded.into());
    debug_assert_eq!(r.code.status(), 403, "{}", r.code);
    r
}

fn evaluators_only(role: Role) -> Result<(), Refusal> {
    match role {
        Role::Evaluator => Ok(()),
        Role::Admin => Err(forbidden(ErrorCode::AdminsNeverReview)),
        Role::Applicant => Err(forbidden(ErrorCode::RoleNotAllowed)),
    }
}

/// The admissibility step from `current`: which decisions are allowed, by whom, when.
/// After a request for integration, only closing it as inadmissible once the deadline has
/// passed unanswered is allowed.
pub fn decide(
    role: Role,
    current: ReviewStatus,
    decision: Decision,
    integration_deadline: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<ReviewStatus, Refusal> {
    evaluators_only(role)?;
    match (current, decision) {
        (ReviewStatus::Pending, Decision::Admitted) => Ok(ReviewStatus::Admitted),
        (ReviewStatus::Pending, Decision::Inadmissible) => Ok(ReviewStatus::Inadmissible),
        (ReviewStatus::Pending, Decision::IntegrationRequested) => {
            Ok(ReviewStatus::IntegrationRequested)
        }
        (ReviewStatus::IntegrationRequested, Decision::Inadmissible)
            if integration_deadline.is_some_and(|d| now > d) =>
        {
            Ok(ReviewStatus::Inadmissible)
        }
        (ReviewStatus::IntegrationRequested, _) => Err(conflict(ErrorCode::IntegrationPending)),
        (ReviewStatus::Admitted | ReviewStatus::Inadmissible, _) => {
            Err(conflict(ErrorCode::AdmissibilityAlreadyDecided))
        }
    }
}

/// The applicant's answer to a request for integration: possible until its deadline; it
/// reopens the case.
pub fn answer_integration(
    role: Role,
    current: ReviewStatus,
    integration_deadline: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<ReviewStatus, Refusal> {
    if role != Role::Applicant {
        return Err(forbidden(ErrorCode::RoleNotAllowed.worded(
            "Only the applicant answers a request for integration.",
            "Solo il richiedente risponde a una richiesta di integrazione.",
        )));
    }
    match (current, integration_deadline) {
        (ReviewStatus::IntegrationRequested, Some(d)) if now <= d => Ok(ReviewStatus::Pending),
        (ReviewStatus::IntegrationRequested, _) => {
            Err(conflict(ErrorCode::IntegrationClosed.worded(
                "The deadline of the request for integration has passed.",
                "Il termine della richiesta di integrazione è scaduto.",
            )))
        }
        _ => Err(conflict(ErrorCode::IntegrationClosed)),
    }
}

/// Whether an evaluator may score an application now.
pub fn may_score(role: Role, current: ReviewStatus) -> Result<(), Refusal> {
    evaluators_only(role)?;
    if current != ReviewStatus::Admitted {
        return Err(conflict(ErrorCode::NotAdmitted));
    }
    Ok(())
}

/// The conflict-of-interest rule: an evaluator works on an application (reads its content,
/// decides its admissibility, scores it) only once it has declared (`declared`: whether its
/// declaration, if any, states a conflict) and declared no conflict.
pub fn may_work(declared: Option<bool>) -> Result<(), Refusal> {
    match declared {
        None => Err(forbidden(ErrorCode::ConflictDeclarationRequired)),
        Some(true) => Err(forbidden(ErrorCode::ConflictDeclared)),
        Some(false) => Ok(()),
    }
}

/// The conflicts the service can see for an evaluator before it declares: it represents
/// one of the partnership's members (given as id and legal name).
pub fn conflict_hints<'a>(
    represented: &BTreeSet<Uuid>,
    members: impl IntoIterator<Item = (Uuid, &'a str)>,
) -> Vec<String> {
    members
        .into_iter()
        .filter(|(id, _)| represented.contains(id))
        .map(|(_, name)| format!("You represent {name}, a member of this partnership."))
        .collect()
}

/// Check an admissibility decision: an inadmissibility gives reasons from the call's
/// checklist (`other` with a note), a request for integration a question; notes and
/// questions of at most 5000 characters.
pub fn check_admissibility(
    decision: Decision,
    reasons: &[String],
    note: Option<&str>,
    question: Option<&str>,
    checklist: &[String],
) -> Vec<Violation> {
    let mut v = Violations::new();
    match decision {
        Decision::Inadmissible => {
            if reasons.is_empty() {
                v.add("reasons", ErrorCode::ReasonsRequired);
            }
            for (i, r) in reasons.iter().enumerate() {
                if !checklist.contains(r) {
                    v.add(
                        format!("reasons[{i}]"),
                        ErrorCode::UnknownReason
                            .with(&[("reason", &r), ("list", &checklist.join(", "))]),
                    );
                }
            }
            if reasons.iter().any(|r| r == "other") && note.is_none_or(|n| n.trim().is_empty()) {
                v.add("note", ErrorCode::NoteRequired);
            }
        }
        Decision::IntegrationRequested => {
            if question.is_none_or(|q| q.trim().is_empty()) {
                v.add("question", ErrorCode::QuestionRequired);
            }
        }
        Decision::Admitted => {}
    }
    for (field, value) in [("note", note), ("question", question)] {
        if let Some(text) = value
            && text.chars().count() > 5000
        {
            v.add(
                field,
                ErrorCode::InvalidText
                    .worded("At most 5000 characters.", "Al massimo 5000 caratteri."),
            );
        }
    }
    v.into_vec()
}

/// A deadline of `days` calendar days from `from`, ending at 23:59:59 Europe/Rome.
pub fn deadline_after(from: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let local = from.with_timezone(&CALL_TIME_ZONE).date_naive();
    let day = local
        .checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(local);
    let end = day.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default());
    CALL_TIME_ZONE
        .from_local_datetime(&end)
        .latest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(from)
}

/// One criterion's score as an evaluator gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"criterion": "QUALITY", "score": "21.5", "justification": "Proposta chiara e coerente con i bisogni del territorio."}))]
pub struct CriterionScore {
    pub criterion: String,
    /// One decimal place at most, within the criterion's bounds.
    pub score: Points,
    #[schema(max_length = 5000)]
    pub justification: String,
}

/// Check a set of criterion scores against the grid; a final (or consensus) set must score
/// every criterion.
pub fn check_scores(
    grid: &ScoringRules,
    scores: &[CriterionScore],
    complete: bool,
) -> Vec<Violation> {
    let mut v = Violations::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, s) in scores.iter().enumerate() {
        let field = format!("scores[{i}]");
        match grid.criteria.iter().find(|c| c.code == s.criterion) {
            None => v.add(
                format!("{field}.criterion"),
                ErrorCode::UnknownCriterion.worded(
                    format!("{} is not a criterion of the call's grid.", s.criterion),
                    format!(
                        "{} non è un criterio della griglia dell'avviso.",
                        s.criterion
                    ),
                ),
            ),
            Some(c) if s.score < c.min || s.score > c.max => v.add(
                format!("{field}.score"),
                ErrorCode::ScoreOutOfRange.with(&[
                    ("code", &c.code),
                    ("min", &c.min),
                    ("max", &c.max),
                ]),
            ),
            Some(_) => {}
        }
        if !seen.insert(s.criterion.as_str()) {
            v.add(
                format!("{field}.criterion"),
                ErrorCode::DuplicateCode.worded(
                    format!("{} is scored twice.", s.criterion),
                    format!("{} è valutato due volte.", s.criterion),
                ),
            );
        }
        if s.justification.trim().is_empty() || s.justification.chars().count() > 5000 {
            v.add(
                format!("{field}.justification"),
                ErrorCode::JustificationRequired,
            );
        }
    }
    if complete {
        for c in &grid.criteria {
            if !seen.contains(c.code.as_str()) {
                v.add(
                    "scores",
                    ErrorCode::CriterionMissing.with(&[("code", &c.code)]),
                );
            }
        }
    }
    v.into_vec()
}

/// The total of a set of criterion scores.
pub fn total(scores: &[CriterionScore]) -> Score {
    Score::new(scores.iter().map(|s| s.score.as_decimal()).sum())
}

/// How an application's score came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "average")]
pub enum ScoreMethod {
    /// The average of the final evaluations.
    Average,
    /// A consensus score recorded by the agency, with its reasons.
    Consensus,
    /// Not enough final evaluations yet.
    Pending,
}

/// The application's score and what follows from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreOutcome {
    pub method: ScoreMethod,
    /// Rounded half-up to two decimals.
    pub score: Option<Score>,
    /// Whether the rounded score reaches the threshold; unknown while pending.
    pub eligible: Option<bool>,
    /// Whether the evaluators' totals differ by more than the call allows.
    pub gap_flag: bool,
    /// The score of each criterion behind the score (average or consensus), for tie-breaks.
    pub criteria: Vec<(String, Score)>,
}

/// The application's score: the consensus when there is one, otherwise the average of at
/// least `evaluators_required` final evaluations, rounded half-up to two decimals; the
/// threshold is compared with the rounded value.
pub fn application_score(
    grid: &ScoringRules,
    finals: &[Vec<CriterionScore>],
    consensus: Option<&[CriterionScore]>,
) -> ScoreOutcome {
    let totals: Vec<Decimal> = finals.iter().map(|s| total(s).as_decimal()).collect();
    let gap_flag = match (totals.iter().max(), totals.iter().min()) {
        (Some(max), Some(min)) => max - min > grid.evaluator_gap_flag.as_decimal(),
        _ => false,
    };
    let round = |d: Decimal| {
        let mut r = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        r.rescale(2);
        r
    };
    let per_criterion = |sets: &[&[CriterionScore]]| -> Vec<(String, Score)> {
        grid.criteria
            .iter()
            .map(|c| {
                let values: Vec<Decimal> = sets
                    .iter()
                    .filter_map(|s| s.iter().find(|x| x.criterion == c.code))
                    .map(|x| x.score.as_decimal())
                    .collect();
                let avg = if values.is_empty() {
                    Decimal::ZERO
                } else {
                    values.iter().sum::<Decimal>() / Decimal::from(values.len())
                };
                (c.code.clone(), Score::new(round(avg)))
            })
            .collect()
    };
    if let Some(c) = consensus {
        let score = round(total(c).as_decimal());
        return ScoreOutcome {
            method: ScoreMethod::Consensus,
            score: Some(Score::new(score)),
            eligible: Some(score >= grid.threshold.as_decimal()),
            gap_flag,
            criteria: per_criterion(&[c]),
        };
    }
    if totals.is_empty() || (totals.len() as u32) < grid.evaluators_required {
        return ScoreOutcome {
            method: ScoreMethod::Pending,
            score: None,
            eligible: None,
            gap_flag,
            criteria: vec![],
        };
    }
    let average = round(totals.iter().sum::<Decimal>() / Decimal::from(totals.len()));
    let sets: Vec<&[CriterionScore]> = finals.iter().map(Vec::as_slice).collect();
    ScoreOutcome {
        method: ScoreMethod::Average,
        score: Some(Score::new(average)),
        eligible: Some(average >= grid.threshold.as_decimal()),
        gap_flag,
        criteria: per_criterion(&sets),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::call::CallRules;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const ALL_STATUSES: [ReviewStatus; 4] = [
        ReviewStatus::Pending,
        ReviewStatus::IntegrationRequested,
        ReviewStatus::Admitted,
        ReviewStatus::Inadmissible,
    ];
    const ALL_DECISIONS: [Decision; 3] = [
        Decision::Admitted,
        Decision::Inadmissible,
        Decision::IntegrationRequested,
    ];
    const ALL_ROLES: [Role; 3] = [Role::Applicant, Role::Evaluator, Role::Admin];

    /// Every (role, status, decision, deadline passed or not) against the expected table.
    #[test]
    fn the_admissibility_state_machine_exhaustively() {
        let now = t("2026-06-10T12:00:00Z");
        for role in ALL_ROLES {
            for current in ALL_STATUSES {
                for decision in ALL_DECISIONS {
                    for passed in [false, true] {
                        let deadline = Some(if passed {
                            t("2026-06-09T21:59:59Z")
                        } else {
                            t("2026-06-20T21:59:59Z")
                        });
                        let got = decide(role, current, decision, deadline, now);
                        let expected = match (role, current, decision) {
                            (Role::Evaluator, ReviewStatus::Pending, Decision::Admitted) => {
                                Some(ReviewStatus::Admitted)
                            }
                            (Role::Evaluator, ReviewStatus::Pending, Decision::Inadmissible) => {
                                Some(ReviewStatus::Inadmissible)
                            }
                            (
                                Role::Evaluator,
                                ReviewStatus::Pending,
                                Decision::IntegrationRequested,
                            ) => Some(ReviewStatus::IntegrationRequested),
                            (
                                Role::Evaluator,
                                ReviewStatus::IntegrationRequested,
                                Decision::Inadmissible,
                            ) if passed => Some(ReviewStatus::Inadmissible),
                            _ => None,
                        };
                        assert_eq!(
                            got.as_ref().ok().copied(),
                            expected,
                            "{role:?} {current:?} {decision:?} passed={passed}"
                        );
                        if let Err(r) = got {
                            assert_eq!(
                                r.forbidden,
                                role != Role::Evaluator,
                                "{role:?} {current:?} {decision:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn an_integration_is_answered_by_the_applicant_until_its_deadline() {
        let end = t("2026-06-20T21:59:59Z");
        let deadline = Some(end);
        for role in ALL_ROLES {
            for current in ALL_STATUSES {
                for now in [t("2026-06-20T21:59:59Z"), t("2026-06-20T22:00:00Z")] {
                    let ok = role == Role::Applicant
                        && current == ReviewStatus::IntegrationRequested
                        && now <= end;
                    assert_eq!(
                        answer_integration(role, current, deadline, now).is_ok(),
                        ok,
                        "{role:?} {current:?} {now}"
                    );
                }
            }
        }
    }

    #[test]
    fn only_evaluators_score_and_only_admitted_applications() {
        for role in ALL_ROLES {
            for current in ALL_STATUSES {
                let ok = role == Role::Evaluator && current == ReviewStatus::Admitted;
                assert_eq!(may_score(role, current).is_ok(), ok, "{role:?} {current:?}");
            }
        }
    }

    #[test]
    fn a_deadline_ends_at_midnight_in_rome() {
        // 10 days from 3 June (summer time, UTC+2): 13 June 23:59:59 in Rome.
        assert_eq!(
            deadline_after(t("2026-06-03T09:00:00Z"), 10),
            t("2026-06-13T21:59:59Z")
        );
        // Late in the evening in Rome is already the next day in Rome's calendar.
        assert_eq!(
            deadline_after(t("2026-01-05T23:30:00Z"), 10),
            t("2026-01-16T22:59:59Z")
        );
    }

    fn scores(values: &[&str]) -> Vec<CriterionScore> {
        let grid = CallRules::lombardy_2022().scoring;
        grid.criteria
            .iter()
            .zip(values)
            .map(|(c, v)| CriterionScore {
                criterion: c.code.clone(),
                score: Points::parse(v).unwrap(),
                justification: "ok".into(),
            })
            .collect()
    }

    #[test]
    fn the_score_is_the_rounded_average_and_the_threshold_reads_the_rounded_value() {
        let grid = CallRules::lombardy_2022().scoring;
        // Totals 60.0 and 59.9: average 59.95, rounded half-up stays 59.95 < 60.
        let a = scores(&["20", "15", "10", "5", "5", "5", "0"]);
        let b = scores(&["19.9", "15", "10", "5", "5", "5", "0"]);
        let out = application_score(&grid, &[a.clone(), b.clone()], None);
        assert_eq!(out.score, Some(Score::new(Decimal::new(5995, 2))));
        assert_eq!(out.eligible, Some(false));
        // One final evaluation is not enough.
        assert_eq!(
            application_score(&grid, std::slice::from_ref(&a), None).method,
            ScoreMethod::Pending
        );
        // A gap above 15 points is flagged.
        let low = scores(&["5", "5", "5", "5", "5", "5", "5"]);
        assert!(application_score(&grid, &[a.clone(), low], None).gap_flag);
        // A consensus decides.
        let c = scores(&["25", "20", "15", "0", "0", "0", "0"]);
        let out = application_score(&grid, &[a, b], Some(&c));
        assert_eq!(
            (out.method, out.score, out.eligible),
            (
                ScoreMethod::Consensus,
                Some(Score::new(Decimal::new(6000, 2))),
                Some(true)
            )
        );
    }

    #[test]
    fn scores_are_checked_against_the_grid() {
        let grid = CallRules::lombardy_2022().scoring;
        let mut s = scores(&["26", "15", "10", "5", "5", "5", "0"]);
        s.push(CriterionScore {
            criterion: "NOPE".into(),
            score: Points::ZERO,
            justification: " ".into(),
        });
        let codes: Vec<String> = check_scores(&grid, &s, true)
            .into_iter()
            .map(|v| v.code.as_str().to_owned())
            .collect();
        assert_eq!(
            codes,
            vec![
                "score_out_of_range",
                "unknown_criterion",
                "justification_required"
            ]
        );
        let partial = scores(&["20"]);
        assert!(check_scores(&grid, &partial, false).is_empty());
        assert_eq!(check_scores(&grid, &partial, true).len(), 6);
    }

    #[test]
    fn an_evaluator_works_only_after_declaring_no_conflict() {
        let refused = |d| may_work(d).unwrap_err();
        assert_eq!(refused(None).code, "conflict_declaration_required");
        assert!(refused(None).forbidden);
        assert_eq!(refused(Some(true)).code, "conflict_declared");
        assert!(refused(Some(true)).forbidden);
        assert!(may_work(Some(false)).is_ok());
    }

    #[test]
    fn a_conflict_is_hinted_for_each_member_the_evaluator_represents() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let represented = BTreeSet::from([b]);
        assert_eq!(
            conflict_hints(&represented, [(a, "Comune A"), (b, "Cooperativa B")]),
            vec!["You represent Cooperativa B, a member of this partnership.".to_owned()]
        );
    }

    #[test]
    fn an_admissibility_decision_gives_what_it_needs() {
        let checklist = vec!["late".to_owned(), "other".to_owned()];
        let codes = |d, reasons: &[&str], note: Option<&str>, question: Option<&str>| {
            let reasons: Vec<String> = reasons.iter().map(|r| (*r).to_owned()).collect();
            check_admissibility(d, &reasons, note, question, &checklist)
                .into_iter()
                .map(|v| (v.field, v.code.as_str().to_owned()))
                .collect::<Vec<_>>()
        };
        assert!(codes(Decision::Admitted, &[], None, None).is_empty());
        assert_eq!(
            codes(Decision::Inadmissible, &[], None, None),
            vec![("reasons".to_owned(), "reasons_required".to_owned())]
        );
        assert_eq!(
            codes(Decision::Inadmissible, &["nope", "other"], Some(" "), None),
            vec![
                ("reasons[0]".to_owned(), "unknown_reason".to_owned()),
                ("note".to_owned(), "note_required".to_owned()),
            ]
        );
        assert!(codes(Decision::Inadmissible, &["other"], Some("why"), None).is_empty());
        assert_eq!(
            codes(Decision::IntegrationRequested, &[], None, None),
            vec![("question".to_owned(), "question_required".to_owned())]
        );
        let long = "x".repeat(5001);
        assert_eq!(
            codes(Decision::IntegrationRequested, &[], None, Some(&long)),
            vec![("question".to_owned(), "invalid_text".to_owned())]
        );
    }
}
