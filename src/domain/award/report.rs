//! The final report (DOMAIN.md §5.4–5.5): what the lead drafts (cost lines with their
//! evidence files, the indicators reached, a narrative), what stops its submission, when it is
//! late, and the steps of its verification by the ATS (a request for integration, the lead's
//! answer, the decisions on each line).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::call::{CallRules, check_text, rome_day};
use crate::domain::error_code::ErrorCode;
use crate::domain::money::Money;
use crate::domain::user::Role;
use crate::domain::violation::{Violation, Violations};

use super::{
    Actor, CostLine, LineDecision, PostAwardRules, ReductionReason, Refused, Verified, step, verify,
};

/// The most cost lines a report may have.
pub const MAX_REPORT_LINES: usize = 500;
/// The most evidence files one line may list.
pub const MAX_EVIDENCE_PER_LINE: usize = 50;
/// The document kind of an evidence file of a final report.
pub const EVIDENCE_KIND: &str = "report_evidence";

/// Where a final report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "submitted")]
pub enum ReportStatus {
    /// Drafted by the lead; changed with `PATCH`.
    Draft,
    /// Submitted with its receipt; the ATS verifies it.
    Submitted,
    /// The ATS asked for more evidence; the lead answers within the deadline.
    IntegrationRequested,
    /// Verified: the final grant is known.
    Verified,
}

impl ReportStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ReportStatus::Draft => "draft",
            ReportStatus::Submitted => "submitted",
            ReportStatus::IntegrationRequested => "integration_requested",
            ReportStatus::Verified => "verified",
        }
    }

    pub fn parse(s: &str) -> Option<ReportStatus> {
        [
            ReportStatus::Draft,
            ReportStatus::Submitted,
            ReportStatus::IntegrationRequested,
            ReportStatus::Verified,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// A cost actually borne, with the files that prove it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": "0b7f6a52-3f7e-4d0c-9a55-2f4c8e1d6a10", "category": "EMPLOYEE_SERVICES",
    "description": "Baby-sitting aziendale, gennaio-giugno", "amount": "30000.00",
    "borne_by": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", "evidence": ["5d0c1b2a-3e4f-4a5b-8c6d-7e8f9a0b1c2d"]}))]
pub struct ReportLine {
    /// Given by the service to a line without one; the verification decides on lines by it.
    /// Send it back unchanged to keep the line (as read with `GET /api/v1/grants/{grant_id}/final-report`).
    pub id: Option<Uuid>,
    /// One of the call's expense categories.
    pub category: String,
    #[schema(max_length = 500)]
    pub description: String,
    /// Net of VAT.
    pub amount: Money,
    /// The member organization that bore the cost: an `organization_id` from the partnership's
    /// `members` (`GET /api/v1/partnerships/{partnership_id}`).
    pub borne_by: Uuid,
    /// Evidence files of this report, by the `id` that `POST .../final-report/documents`
    /// answered (listed in `evidence` of `GET /api/v1/grants/{grant_id}/final-report`).
    #[serde(default)]
    pub evidence: Vec<Uuid>,
}

/// What the project reached in one intervention area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"area": "SERVIZI_CURA", "employees_reached": 120, "families_reached": 85}))]
pub struct AreaReached {
    /// One of the call's intervention areas.
    pub area: String,
    pub employees_reached: u32,
    pub families_reached: u32,
}

/// The content of a final report, possibly incomplete while a draft.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"category": "EMPLOYEE_SERVICES", "description": "Baby-sitting aziendale, gennaio-giugno",
    "amount": "30000.00", "borne_by": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", "evidence": ["5d0c1b2a-3e4f-4a5b-8c6d-7e8f9a0b1c2d"]}],
    "reached": [{"area": "SERVIZI_CURA", "employees_reached": 120, "families_reached": 85}],
    "narrative": "Servizi di baby-sitting e centri estivi per 120 dipendenti di 9 imprese."}))]
pub struct ReportContent {
    /// The actual cost lines, per category and partner.
    #[serde(default)]
    pub lines: Vec<ReportLine>,
    /// The indicators reached, per intervention area.
    #[serde(default)]
    pub reached: Vec<AreaReached>,
    /// What was done, and how it went.
    #[schema(max_length = 20000)]
    pub narrative: Option<String>,
}

impl ReportContent {
    /// Give every line without an id a fresh one.
    pub fn assign_ids(&mut self, mut fresh: impl FnMut() -> Uuid) {
        for l in &mut self.lines {
            if l.id.is_none() {
                l.id = Some(fresh());
            }
        }
    }

    /// The lines as the verification sees them.
    pub fn cost_lines(&self) -> Vec<CostLine> {
        self.lines
            .iter()
            .map(|l| CostLine {
                id: l.id.unwrap_or_default(),
                category: l.category.clone(),
                amount: l.amount,
            })
            .collect()
    }

    /// The total of the lines (saturating: the shape rules keep it in range).
    pub fn total(&self) -> Money {
        Money::sum(self.lines.iter().map(|l| l.amount)).unwrap_or(Money::ZERO)
    }

    /// Every evidence file a line refers to.
    pub fn evidence(&self) -> BTreeSet<Uuid> {
        self.lines
            .iter()
            .flat_map(|l| l.evidence.iter().copied())
            .collect()
    }
}

/// The rules of a report's content, checked on every change: known categories and areas,
/// costs borne by members, evidence files of this report, texts within their lengths. Every
/// violation is listed.
pub fn check_report(
    content: &ReportContent,
    rules: &CallRules,
    members: &BTreeSet<Uuid>,
    evidence: &BTreeSet<Uuid>,
) -> Vec<Violation> {
    let mut v = Violations::new();
    let categories: BTreeSet<&str> = rules
        .expense_categories
        .iter()
        .map(|c| c.code.as_str())
        .collect();
    let areas: BTreeSet<&str> = rules
        .intervention_areas
        .iter()
        .map(|a| a.code.as_str())
        .collect();
    if content.lines.len() > MAX_REPORT_LINES {
        v.add(
            "lines",
            ErrorCode::TooManyLines.worded(
                format!("A final report has at most {MAX_REPORT_LINES} cost lines."),
                format!("Un rendiconto ha al più {MAX_REPORT_LINES} voci di costo."),
            ),
        );
    }
    let mut ids = BTreeSet::new();
    for (i, l) in content.lines.iter().enumerate() {
        let field = format!("lines[{i}]");
        if let Some(id) = l.id
            && !ids.insert(id)
        {
            v.add(
                format!("{field}.id"),
                ErrorCode::DuplicateCode.with(&[("code", &id)]),
            );
        }
        if !categories.contains(l.category.as_str()) {
            v.add(
                format!("{field}.category"),
                ErrorCode::UnknownCategory.with(&[("category", &l.category)]),
            );
        }
        if let Some(e) = check_text(&format!("{field}.description"), &l.description, 500) {
            v.push(e);
        }
        if l.amount == Money::ZERO {
            v.add(
                format!("{field}.amount"),
                ErrorCode::AmountZero
                    .with(&[("subject_en", &"A cost"), ("subject_it", &"Un costo")]),
            );
        }
        if !members.contains(&l.borne_by) {
            v.add(format!("{field}.borne_by"), ErrorCode::NotAMember);
        }
        if l.evidence.len() > MAX_EVIDENCE_PER_LINE {
            v.add(
                format!("{field}.evidence"),
                ErrorCode::TooManyLines.worded(
                    format!("A cost line lists at most {MAX_EVIDENCE_PER_LINE} evidence files."),
                    format!(
                        "Una voce di costo elenca al più {MAX_EVIDENCE_PER_LINE} file di prova."
                    ),
                ),
            );
        }
        for (j, d) in l.evidence.iter().enumerate() {
            if !evidence.contains(d) {
                v.add(
                    format!("{field}.evidence[{j}]"),
                    ErrorCode::UnknownEvidence.with(&[("document_id", d)]),
                );
            }
        }
    }
    if Money::sum(content.lines.iter().map(|l| l.amount)).is_none() {
        v.add("lines", ErrorCode::AmountOverflow);
    }
    let mut seen_areas = BTreeSet::new();
    for (i, r) in content.reached.iter().enumerate() {
        if !areas.contains(r.area.as_str()) {
            v.add(
                format!("reached[{i}].area"),
                ErrorCode::UnknownArea.with(&[("a", &r.area)]),
            );
        } else if !seen_areas.insert(r.area.as_str()) {
            v.add(
                format!("reached[{i}].area"),
                ErrorCode::DuplicateCode.with(&[("code", &r.area)]),
            );
        }
    }
    if let Some(n) = &content.narrative
        && let Some(e) = check_text("narrative", n, 20_000)
    {
        v.push(e);
    }
    v.into_vec()
}

/// What still stops a report whose content is in shape from being submitted: at least one
/// cost line, evidence for each, the indicators of at least one area, a narrative.
pub fn report_blocking(content: &ReportContent) -> Vec<Violation> {
    let mut v = Violations::new();
    if content.lines.is_empty() {
        v.add(
            "lines",
            ErrorCode::MissingField.worded(
                "A final report needs at least one cost line.",
                "Il rendiconto richiede almeno una voce di costo.",
            ),
        );
    }
    for (i, l) in content.lines.iter().enumerate() {
        if l.evidence.is_empty() {
            v.add(format!("lines[{i}].evidence"), ErrorCode::EvidenceRequired);
        }
    }
    if content.reached.is_empty() {
        v.add(
            "reached",
            ErrorCode::MissingField.worded(
                "Say what the project reached in at least one intervention area.",
                "Indicare i risultati raggiunti in almeno un'area di intervento.",
            ),
        );
    }
    if content.narrative.is_none() {
        v.add("narrative", ErrorCode::MissingField);
    }
    v.into_vec()
}

/// The last day to submit the final report of a project ending on `end_date`.
pub fn report_deadline(rules: &PostAwardRules, end_date: NaiveDate) -> NaiveDate {
    end_date
        .checked_add_days(chrono::Days::new(u64::from(rules.report_deadline_days)))
        .unwrap_or(NaiveDate::MAX)
}

/// Whether a report is late: submitted (at `submitted_at`), or still not at `now`, after its
/// deadline's day (Rome calendar).
pub fn report_overdue(
    deadline: NaiveDate,
    submitted_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    rome_day(submitted_at.unwrap_or(now)) > deadline
}

/// Whether a project's final report is flagged overdue at `now`: once submitted, as it was
/// flagged then (`submitted_late`); before, when the project is live and its deadline's day
/// (`deadline`, once started) has passed.
pub fn report_flagged(
    deadline: Option<NaiveDate>,
    submitted_late: Option<bool>,
    live: bool,
    now: DateTime<Utc>,
) -> bool {
    match (submitted_late, deadline) {
        (Some(late), _) => late,
        (None, Some(d)) => live && report_overdue(d, None, now),
        (None, None) => false,
    }
}

/// The protocol number of a project's final report: its application's, marked as the report's
/// (one report per project, so it is unique).
pub fn report_protocol(application_protocol: &str) -> String {
    format!("{application_protocol}-RF")
}

/// Only the lead's draft of a started, live project is changed or submitted.
pub fn may_edit(status: ReportStatus) -> Result<(), Refused> {
    match status {
        ReportStatus::Draft => Ok(()),
        _ => Err(step(ErrorCode::ReportSubmitted)),
    }
}

/// The ATS acts on a report only once it is submitted, and verifies it once.
fn under_verification(status: ReportStatus) -> Result<(), Refused> {
    match status {
        ReportStatus::Draft => Err(step(ErrorCode::ReportNotSubmitted)),
        ReportStatus::Verified => Err(step(ErrorCode::ReportVerified)),
        _ => Ok(()),
    }
}

/// Only an evaluator of the project's ATS verifies its report.
fn evaluator_of(actor: &Actor, agency: crate::domain::agency::AgencyCode) -> Result<(), Refused> {
    if actor.role == Role::Evaluator && actor.agency == Some(agency) {
        Ok(())
    } else {
        Err(step(ErrorCode::RoleNotAllowed.worded(
            "Only an evaluator of the project's ATS verifies its final report.",
            "Solo un valutatore dell'ATS del progetto verifica il rendiconto.",
        )))
    }
}

/// An open request for integration of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"text": "Mancano le fatture del trasporto di marzo.", "requested_at": "2028-02-01T09:00:00.000000Z",
    "due_at": "2028-02-11T09:00:00.000000Z", "requested_by": "9c8b7a6f-5e4d-4c3b-a2f1-0e9d8c7b6a5f", "answer": null}))]
pub struct IntegrationRequest {
    /// What the ATS asks for.
    pub text: String,
    #[serde(with = "crate::domain::timestamp")]
    pub requested_at: DateTime<Utc>,
    #[serde(with = "crate::domain::timestamp")]
    pub due_at: DateTime<Utc>,
    pub requested_by: Uuid,
    /// The lead's answer, once given.
    pub answer: Option<IntegrationAnswer>,
}

/// The lead's answer to a request for integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"text": "Allegata la fattura di marzo.", "answered_at": "2028-02-05T09:00:00.000000Z",
    "evidence": {"0b7f6a52-3f7e-4d0c-9a55-2f4c8e1d6a10": ["5d0c1b2a-3e4f-4a5b-8c6d-7e8f9a0b1c2d"]}}))]
pub struct IntegrationAnswer {
    pub text: String,
    #[serde(with = "crate::domain::timestamp")]
    pub answered_at: DateTime<Utc>,
    /// Evidence files added to lines, by line id.
    pub evidence: BTreeMap<Uuid, Vec<Uuid>>,
}

/// The ATS asks for integration of a submitted report: a text, answered within
/// `days` calendar days. A report is asked for integration once.
pub fn request_integration(
    actor: &Actor,
    agency: crate::domain::agency::AgencyCode,
    status: ReportStatus,
    previous: Option<&IntegrationRequest>,
    text: Option<&str>,
    days: u32,
    now: DateTime<Utc>,
) -> Result<IntegrationRequest, Refused> {
    evaluator_of(actor, agency)?;
    under_verification(status)?;
    if status == ReportStatus::IntegrationRequested || previous.is_some() {
        return Err(step(ErrorCode::IntegrationPending.worded(
            "Integration of this final report was already requested; the ATS now verifies it.",
            "L'integrazione di questo rendiconto è già stata richiesta; ora l'ATS lo verifica.",
        )));
    }
    let mut v = Violations::new();
    let text = super::required_text("text", text, 4000, &mut v);
    let text = v
        .finish(text)
        .map_err(Refused::Invalid)?
        .unwrap_or_default();
    Ok(IntegrationRequest {
        text,
        requested_at: now,
        // The last day at 23:59:59 in Rome, as for an application's integration.
        due_at: crate::domain::review::deadline_after(now, days),
        requested_by: actor.user_id,
        answer: None,
    })
}

/// The lead answers an open request for integration before its deadline: a text, and
/// evidence files added to lines of the report (files of this report only).
pub fn answer_integration(
    status: ReportStatus,
    request: Option<&IntegrationRequest>,
    content: &ReportContent,
    text: Option<&str>,
    added: &[(Uuid, Vec<Uuid>)],
    evidence: &BTreeSet<Uuid>,
    now: DateTime<Utc>,
) -> Result<(ReportContent, IntegrationAnswer), Refused> {
    let request = match (status, request) {
        (ReportStatus::IntegrationRequested, Some(r)) if r.answer.is_none() => r,
        _ => {
            return Err(step(ErrorCode::IntegrationClosed.worded(
                "No request for integration is open on this final report.",
                "Nessuna richiesta di integrazione è aperta su questo rendiconto.",
            )));
        }
    };
    if now > request.due_at {
        return Err(step(ErrorCode::IntegrationClosed.worded(
            format!(
                "The deadline of the request for integration passed at {}.",
                request.due_at
            ),
            format!(
                "Il termine della richiesta di integrazione è scaduto il {}.",
                request.due_at
            ),
        )));
    }
    let mut v = Violations::new();
    let text = super::required_text("text", text, 4000, &mut v);
    let mut next = content.clone();
    let mut map = BTreeMap::new();
    for (i, (line, docs)) in added.iter().enumerate() {
        let Some(l) = next.lines.iter_mut().find(|l| l.id == Some(*line)) else {
            v.add(
                format!("evidence[{i}].line_id"),
                ErrorCode::InvalidValue.worded(
                    "There is no such cost line in the report.",
                    "Non esiste questa voce di costo nel rendiconto.",
                ),
            );
            continue;
        };
        for (j, d) in docs.iter().enumerate() {
            if !evidence.contains(d) {
                v.add(
                    format!("evidence[{i}].documents[{j}]"),
                    ErrorCode::UnknownEvidence.with(&[("document_id", d)]),
                );
            } else if !l.evidence.contains(d) {
                l.evidence.push(*d);
            }
        }
        map.entry(*line)
            .or_insert_with(Vec::new)
            .extend(docs.iter().copied());
    }
    let text = v
        .finish(text)
        .map_err(Refused::Invalid)?
        .unwrap_or_default();
    Ok((
        next,
        IntegrationAnswer {
            text,
            answered_at: now,
            evidence: map,
        },
    ))
}

/// A decision on one line as a request gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionInput {
    pub line_id: Uuid,
    /// `Some(amount)` reduces the line to it; `None` accepts it whole.
    pub reduced_to: Option<Money>,
    pub reason: Option<ReductionReason>,
    pub text: Option<String>,
}

/// The figures of a verification and the money they settle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub verified: Verified,
    pub decisions: Vec<(Uuid, LineDecision)>,
    /// C: the approved budget's total cost.
    pub approved_cost: Money,
    /// The final grant; the awarded grant's when the project is under-realised (the ATS then
    /// decides on its revocation).
    pub final_grant: Money,
    pub under_realised: bool,
}

/// The ATS verifies a submitted report (whose integration, if asked, was answered or is past
/// its deadline): every line decided, reductions within the line with a reason code and its
/// text; the caps applied; E, the final grant and the under-realisation flag. Every
/// violation is listed.
#[allow(clippy::too_many_arguments)]
pub fn verify_report(
    actor: &Actor,
    agency: crate::domain::agency::AgencyCode,
    status: ReportStatus,
    request: Option<&IntegrationRequest>,
    content: &ReportContent,
    inputs: &[DecisionInput],
    rules: &CallRules,
    grant: Money,
    approved_cost: Money,
    now: DateTime<Utc>,
) -> Result<Verification, Refused> {
    evaluator_of(actor, agency)?;
    under_verification(status)?;
    if let (ReportStatus::IntegrationRequested, Some(r)) = (status, request)
        && r.answer.is_none()
        && now <= r.due_at
    {
        return Err(step(ErrorCode::IntegrationPending));
    }
    let mut v = Violations::new();
    let mut decisions = Vec::with_capacity(inputs.len());
    for (i, d) in inputs.iter().enumerate() {
        match d.reduced_to {
            None => {
                if d.reason.is_some() {
                    v.add(
                        format!("lines[{i}].reason"),
                        ErrorCode::InvalidValue.worded(
                            "A reason is given only for a reduced line (with its `amount`).",
                            "Il motivo si indica solo per una voce ridotta (con il suo `amount`).",
                        ),
                    );
                }
                decisions.push((d.line_id, LineDecision::Accepted));
            }
            Some(amount) => {
                if d.reason.is_none() {
                    v.add(format!("lines[{i}].reason"), ErrorCode::MissingField);
                }
                decisions.push((
                    d.line_id,
                    LineDecision::Reduced {
                        amount,
                        reason: d.reason.unwrap_or(ReductionReason::Other),
                        text: d.text.clone(),
                    },
                ));
            }
        }
    }
    let figures = verify(&content.cost_lines(), &decisions, &rules.expense_categories);
    let verified = match figures {
        Ok(f) if v.is_empty() => f,
        Ok(_) => return Err(Refused::Invalid(v.into_vec())),
        Err(more) => {
            v.extend(more);
            return Err(Refused::Invalid(v.into_vec()));
        }
    };
    let share = rules.post_award.min_realisation_share;
    let under_realised = super::under_realised(approved_cost, verified.eligible, share);
    let final_grant = super::final_grant(grant, approved_cost, verified.eligible);
    Ok(Verification {
        verified,
        decisions,
        approved_cost,
        final_grant,
        under_realised,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::agency::AgencyCode;
    use chrono::TimeDelta;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn rules() -> CallRules {
        CallRules::lombardy_2022()
    }

    fn evaluator() -> Actor {
        Actor {
            user_id: Uuid::from_u128(7),
            role: Role::Evaluator,
            agency: Some(AgencyCode::Montagna),
        }
    }

    fn report(member: Uuid, doc: Uuid) -> ReportContent {
        let r = rules();
        ReportContent {
            lines: vec![ReportLine {
                id: Some(Uuid::from_u128(1)),
                category: "EMPLOYEE_SERVICES".into(),
                description: "Servizi".into(),
                amount: m("1000.00"),
                borne_by: member,
                evidence: vec![doc],
            }],
            reached: vec![AreaReached {
                area: r.intervention_areas[0].code.clone(),
                employees_reached: 10,
                families_reached: 5,
            }],
            narrative: Some("Fatto.".into()),
        }
    }

    #[test]
    fn a_line_in_an_unknown_category_by_a_stranger_with_foreign_evidence_is_listed_whole() {
        let member = Uuid::from_u128(100);
        let doc = Uuid::from_u128(200);
        let mut c = report(member, doc);
        c.lines[0].category = "NOPE".into();
        c.lines[0].borne_by = Uuid::from_u128(101);
        c.lines[0].evidence = vec![Uuid::from_u128(201)];
        c.reached[0].area = "NOWHERE".into();
        let fields: Vec<(String, &str)> = check_report(
            &c,
            &rules(),
            &BTreeSet::from([member]),
            &BTreeSet::from([doc]),
        )
        .into_iter()
        .map(|v| (v.field, v.code.as_str()))
        .collect();
        assert_eq!(
            fields,
            vec![
                ("lines[0].category".into(), "unknown_category"),
                ("lines[0].borne_by".into(), "not_a_member"),
                ("lines[0].evidence[0]".into(), "unknown_evidence"),
                ("reached[0].area".into(), "unknown_area"),
            ]
        );
        assert!(report_blocking(&report(member, doc)).is_empty());
        assert_eq!(
            report_blocking(&ReportContent::default())
                .into_iter()
                .map(|v| v.field)
                .collect::<Vec<_>>(),
            vec!["lines", "reached", "narrative"]
        );
    }

    #[test]
    fn a_reduction_needs_a_reason_and_an_acceptance_has_none() {
        let c = report(Uuid::from_u128(100), Uuid::from_u128(200));
        let now = Utc::now();
        let refused = verify_report(
            &evaluator(),
            AgencyCode::Montagna,
            ReportStatus::Submitted,
            None,
            &c,
            &[DecisionInput {
                line_id: Uuid::from_u128(1),
                reduced_to: Some(m("2000.00")),
                reason: None,
                text: None,
            }],
            &rules(),
            m("700.00"),
            m("1000.00"),
            now,
        )
        .unwrap_err();
        let Refused::Invalid(v) = refused else {
            panic!("a 422")
        };
        let fields: Vec<String> = v.into_iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            vec!["lines[0].reason", "lines[0].amount", "lines[0].text"]
        );
        let ok = verify_report(
            &evaluator(),
            AgencyCode::Montagna,
            ReportStatus::Submitted,
            None,
            &c,
            &[DecisionInput {
                line_id: Uuid::from_u128(1),
                reduced_to: Some(m("500.00")),
                reason: Some(ReductionReason::MissingEvidence),
                text: Some("Metà delle fatture manca.".into()),
            }],
            &rules(),
            m("700.00"),
            m("1000.00"),
            now,
        )
        .unwrap();
        assert_eq!(ok.final_grant, m("350.00"));
        assert!(ok.under_realised);
        assert_eq!(
            verify_report(
                &evaluator(),
                AgencyCode::Montagna,
                ReportStatus::Verified,
                None,
                &c,
                &[],
                &rules(),
                m("700.00"),
                m("1000.00"),
                now,
            )
            .unwrap_err()
            .codes(),
            vec![ErrorCode::ReportVerified]
        );
    }

    #[test]
    fn an_integration_is_answered_once_before_its_deadline() {
        let c = report(Uuid::from_u128(100), Uuid::from_u128(200));
        let now = Utc::now();
        let r = request_integration(
            &evaluator(),
            AgencyCode::Montagna,
            ReportStatus::Submitted,
            None,
            Some("Mancano le fatture di marzo."),
            10,
            now,
        )
        .unwrap();
        let extra = Uuid::from_u128(202);
        let evidence = BTreeSet::from([Uuid::from_u128(200), extra]);
        let (next, answer) = answer_integration(
            ReportStatus::IntegrationRequested,
            Some(&r),
            &c,
            Some("Eccole."),
            &[(Uuid::from_u128(1), vec![extra])],
            &evidence,
            now + TimeDelta::days(9),
        )
        .unwrap();
        assert_eq!(next.lines[0].evidence, vec![Uuid::from_u128(200), extra]);
        assert_eq!(answer.evidence[&Uuid::from_u128(1)], vec![extra]);
        let late = answer_integration(
            ReportStatus::IntegrationRequested,
            Some(&r),
            &c,
            Some("Eccole."),
            &[],
            &evidence,
            now + TimeDelta::days(11),
        );
        assert_eq!(
            late.unwrap_err().codes(),
            vec![ErrorCode::IntegrationClosed]
        );
        // Past the deadline without an answer, the ATS verifies with what it has.
        assert!(
            verify_report(
                &evaluator(),
                AgencyCode::Montagna,
                ReportStatus::IntegrationRequested,
                Some(&r),
                &c,
                &[DecisionInput {
                    line_id: Uuid::from_u128(1),
                    reduced_to: None,
                    reason: None,
                    text: None
                }],
                &rules(),
                m("700.00"),
                m("1000.00"),
                now + TimeDelta::days(11),
            )
            .is_ok()
        );
    }

    fn pct(bp: u32) -> crate::domain::percent::Percent {
        crate::domain::percent::Percent::from_basis_points(bp).unwrap()
    }

    /// A plan of 1 to 4 tranches whose shares add up to 100.00: the last is the balance.
    fn plan_of(cuts: &[u32]) -> Vec<super::super::Tranche> {
        let mut points: Vec<u32> = cuts.iter().map(|c| c % 10_000).collect();
        points.sort_unstable();
        points.dedup();
        let mut bounds = vec![0];
        bounds.extend(points.into_iter().filter(|p| *p > 0));
        bounds.push(10_000);
        let n = bounds.len() - 1;
        (0..n)
            .map(|i| super::super::Tranche {
                code: format!("t{i}"),
                share: pct(bounds[i + 1] - bounds[i]),
                trigger: if i + 1 == n {
                    super::super::TrancheTrigger::FinalReportApproved
                } else {
                    super::super::TrancheTrigger::StartCommunicated
                },
            })
            .collect()
    }

    proptest::proptest! {
        /// For any plan, grant, report and verification: the payments made at the start (some
        /// paid, the others folded into the balance), the balance and the recovery add up to
        /// the final grant exactly; the balance is paid once, and no further payment fits.
        #[test]
        fn what_was_paid_less_what_is_recovered_is_the_final_grant_and_nothing_is_paid_twice(
            cuts in proptest::collection::vec(1u32..10_000, 0..3),
            grant in 1i64..=5_000_000,
            extra in 0i64..=5_000_000,
            lines in proptest::collection::vec((0usize..6, 1i64..=3_000_000, proptest::option::of(0u32..=10_000)), 1..8),
            paid_mask in proptest::collection::vec(proptest::bool::ANY, 3),
        ) {
            use super::super::{Recording, Ledger, balance, payments_due_at_start, record, authorize, ActInput, PaymentStatus};
            let rules = rules();
            let plan = plan_of(&cuts);
            let g = Money::from_cents(grant).unwrap();
            let c = Money::from_cents(grant + extra).unwrap();
            let content = ReportContent {
                lines: lines.iter().enumerate().map(|(i, (cat, amount, _))| ReportLine {
                    id: Some(Uuid::from_u128(i as u128 + 1)),
                    category: rules.expense_categories[*cat % rules.expense_categories.len()].code.clone(),
                    description: "x".into(),
                    amount: Money::from_cents(*amount).unwrap(),
                    borne_by: Uuid::from_u128(100),
                    evidence: vec![Uuid::from_u128(200)],
                }).collect(),
                ..ReportContent::default()
            };
            let inputs: Vec<DecisionInput> = lines.iter().enumerate().map(|(i, (_, amount, cut))| DecisionInput {
                line_id: Uuid::from_u128(i as u128 + 1),
                reduced_to: cut.map(|bp| Money::from_cents(*amount).unwrap().percent_floor(pct(bp))),
                reason: cut.map(|_| ReductionReason::Other),
                text: cut.map(|_| "Ridotta.".to_owned()),
            }).collect();
            let v = verify_report(&evaluator(), AgencyCode::Montagna, ReportStatus::Submitted, None,
                &content, &inputs, &rules, g, c, Utc::now()).unwrap();
            let f = v.final_grant;
            proptest::prop_assert!(f <= g);
            // The start's payments: some paid, the others not yet (folded into the balance).
            let start = payments_due_at_start(Uuid::from_u128(9), AgencyCode::Montagna, &plan, g).unwrap();
            let paid = Money::sum(start.iter().zip(paid_mask.iter().cycle()).filter(|(_, p)| **p).map(|(p, _)| p.amount)).unwrap();
            let b = balance(f, paid);
            proptest::prop_assert_eq!(paid.cents() + b.to_pay.cents() - b.to_recover.cents(), f.cents());
            // The balance payment goes through once under the final grant's ceiling; a repeat,
            // or any further payment, does not.
            let today = chrono::NaiveDate::from_ymd_opt(2027, 6, 1).unwrap();
            let admin = Actor { user_id: Uuid::from_u128(8), role: Role::Admin, agency: None };
            let act = ActInput { number: Some("A 1".into()), date: Some(today) };
            let ledger = Ledger { paid, ceiling: f };
            if b.to_pay > Money::ZERO {
                let due = super::super::Payment::due(Uuid::from_u128(9), AgencyCode::Montagna, "balance", b.to_pay);
                let authorized = authorize(&due, &evaluator(), &act, ledger, today).unwrap();
                let paid_once = Recording::Paid { order: act.clone() };
                let done = record(&authorized, &admin, &paid_once, ledger, today).unwrap();
                proptest::prop_assert_eq!(done.status, PaymentStatus::Paid);
                let after = Ledger { paid: paid.checked_add(b.to_pay).unwrap(), ceiling: f };
                proptest::prop_assert_eq!(after.paid, f);
                let paid_again = Recording::Paid { order: act.clone() };
                let again = record(&done, &admin, &paid_again, after, today);
                proptest::prop_assert!(again.is_err());
                let more = super::super::Payment::due(Uuid::from_u128(9), AgencyCode::Montagna, "more", Money::from_cents(1).unwrap());
                proptest::prop_assert!(authorize(&more, &evaluator(), &act, after, today).is_err());
            } else {
                let more = super::super::Payment::due(Uuid::from_u128(9), AgencyCode::Montagna, "more", Money::from_cents(1).unwrap());
                proptest::prop_assert!(authorize(&more, &evaluator(), &act, ledger, today).is_err());
            }
        }
    }
}
