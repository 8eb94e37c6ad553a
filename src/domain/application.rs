//! Applications: their content, the money rules of the budget, and what blocks submission.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::agency::AgencyCode;
use super::call::{AnnexScope, CallRules, Window};
use super::error_code::ErrorCode;
use super::money::Money;
use super::partnership::{
    Access, Member, ParticipationRole, check_eligibility, partnership_access,
};
use super::user::Role;
use super::violation::{Violation, Violations};

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    /// Being written; the lead's representatives edit it.
    Draft,
    /// Submitted in time: it has a protocol number and a receipt, and its content is frozen.
    Submitted,
    /// Withdrawn by the applicant after submission.
    Withdrawn,
}

impl ApplicationStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ApplicationStatus::Draft => "draft",
            ApplicationStatus::Submitted => "submitted",
            ApplicationStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<ApplicationStatus> {
        match s {
            "draft" => Some(ApplicationStatus::Draft),
            "submitted" => Some(ApplicationStatus::Submitted),
            "withdrawn" => Some(ApplicationStatus::Withdrawn),
            _ => None,
        }
    }
}

/// One cost line of the budget, net of VAT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"category": "EMPLOYEE_SERVICES", "description": "Servizi di baby-sitting aziendale", "amount": "30000.00", "borne_by": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"}))]
pub struct CostLine {
    /// One of the call's expense categories.
    pub category: String,
    #[schema(max_length = 500)]
    pub description: String,
    /// Net of VAT.
    pub amount: Money,
    /// The member organization that bears the cost: an `organization_id` from the partnership's
    /// `members` (`GET /api/v1/partnerships/{partnership_id}`).
    pub borne_by: Uuid,
}

/// The budget as declared: cost lines, the requested grant and the co-financing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [
    {"category": "EMPLOYEE_SERVICES", "description": "Servizi di baby-sitting aziendale", "amount": "30000.00", "borne_by": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"},
    {"category": "COORDINATION", "description": "Coordinamento del progetto", "amount": "5000.00", "borne_by": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"}],
    "requested_grant": "24500.00", "co_financing": "10500.00"}))]
pub struct Budget {
    #[serde(default)]
    pub lines: Vec<CostLine>,
    pub requested_grant: Option<Money>,
    pub co_financing: Option<Money>,
}

/// The content of an application: what the lead writes, possibly incomplete while a draft.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"agency_code": "MONTAGNA", "title": "Valtellina concilia",
    "summary": "Servizi di conciliazione per i dipendenti delle micro e piccole imprese della rete.",
    "intervention_areas": ["SERVIZI_CURA", "TIME_SAVING"], "start_date": "2027-01-01", "end_date": "2027-12-31",
    "employees_reached": 120, "enterprises_reached": 2,
    "budget": {"lines": [{"category": "EMPLOYEE_SERVICES", "description": "Servizi di baby-sitting e assistenza", "amount": "30000.00", "borne_by": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"},
                         {"category": "COORDINATION", "description": "Coordinamento del progetto", "amount": "5000.00", "borne_by": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"}],
               "requested_grant": "24500.00", "co_financing": "10500.00"}}))]
pub struct ApplicationContent {
    /// The territorially competent ATS, chosen by the applicant.
    pub agency_code: Option<AgencyCode>,
    #[schema(max_length = 300)]
    pub title: Option<String>,
    #[schema(max_length = 10000)]
    pub summary: Option<String>,
    /// One or more of the call's intervention areas.
    #[serde(default)]
    pub intervention_areas: Vec<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    /// Employees of the micro and small enterprises reached.
    pub employees_reached: Option<u32>,
    /// Micro and small enterprises reached.
    pub enterprises_reached: Option<u32>,
    #[serde(default)]
    pub budget: Budget,
}

/// The totals of a budget, computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetTotals {
    /// The eligible total: the sum of the cost lines.
    pub total_cost: Money,
    /// The largest grant the rules allow: the grant rate of the total, rounded down to the
    /// cent, and no more than the cap.
    pub max_grant: Money,
}

/// Compute the totals; `None` when the lines add up beyond any amount allowed.
pub fn totals(budget: &Budget, rules: &CallRules) -> Option<BudgetTotals> {
    let total_cost = Money::sum(budget.lines.iter().map(|l| l.amount))?;
    let by_rate = total_cost.percent_floor(rules.grant_rate);
    Some(BudgetTotals {
        total_cost,
        max_grant: by_rate.min(rules.grant_cap),
    })
}

/// The money rules of a budget, every broken one reported.
pub fn check_money(budget: &Budget, rules: &CallRules) -> Vec<Violation> {
    let mut v = Violations::new();
    let Some(t) = totals(budget, rules) else {
        v.add("budget.lines", ErrorCode::AmountOverflow);
        return v.into_vec();
    };
    if t.total_cost == Money::ZERO {
        v.add("budget.lines", ErrorCode::BudgetEmpty);
    }
    match budget.requested_grant {
        None => v.add(
            "budget.requested_grant",
            ErrorCode::MissingField.worded(
                "The requested grant is required.",
                "Il contributo richiesto è obbligatorio.",
            ),
        ),
        Some(grant) => {
            if grant == Money::ZERO {
                v.add(
                    "budget.requested_grant",
                    ErrorCode::AmountZero.with(&[
                        ("subject_en", &"The requested grant"),
                        ("subject_it", &"Il contributo richiesto"),
                    ]),
                );
            }
            let by_rate = t.total_cost.percent_floor(rules.grant_rate);
            if grant > by_rate {
                v.add(
                    "budget.requested_grant",
                    ErrorCode::GrantAboveRate.with(&[
                        ("grant_rate", &rules.grant_rate),
                        ("total_cost", &t.total_cost),
                        ("by_rate", &by_rate),
                    ]),
                );
            }
            if grant > rules.grant_cap {
                v.add(
                    "budget.requested_grant",
                    ErrorCode::GrantAboveCap.with(&[("grant_cap", &rules.grant_cap)]),
                );
            }
            let expected = t.total_cost.checked_sub(grant);
            match (budget.co_financing, expected) {
                (None, _) => v.add("budget.co_financing", ErrorCode::MissingField.worded("The co-financing is required.", "Il cofinanziamento è obbligatorio.")),
                (Some(c), Some(e)) if c == e => {}
                (Some(_), Some(e)) => v.add("budget.co_financing", ErrorCode::CoFinancingMismatch.with(&[("total_cost", &t.total_cost), ("grant", &grant), ("expected", &e)])),
                (Some(_), None) => v.add("budget.co_financing", ErrorCode::CoFinancingMismatch.worded("The grant exceeds the total, so no co-financing can match it.", "Il contributo supera il totale, quindi nessun cofinanziamento può corrispondere.")),
            }
        }
    }
    // Each category within its cap, as a share of the total: cents × 10000 ≤ total cents × bp.
    let mut by_category: BTreeMap<&str, Money> = BTreeMap::new();
    for l in &budget.lines {
        let e = by_category
            .entry(l.category.as_str())
            .or_insert(Money::ZERO);
        *e = e.checked_add(l.amount).unwrap_or(*e);
    }
    for c in &rules.expense_categories {
        let (Some(cap), Some(sum)) = (c.cap_percent, by_category.get(c.code.as_str())) else {
            continue;
        };
        if i128::from(sum.cents()) * 10_000
            > i128::from(t.total_cost.cents()) * i128::from(cap.basis_points())
        {
            v.add(
                "budget.lines",
                ErrorCode::CategoryAboveCap.with(&[
                    ("code", &c.code),
                    ("sum", &sum),
                    ("cap", &cap),
                    ("total_cost", &t.total_cost),
                ]),
            );
        }
    }
    v.into_vec()
}

/// Checks of the content's shape, enforced on every write even of a draft: known codes,
/// members that exist, dates in order, sensible lengths.
pub fn check_shape(
    c: &ApplicationContent,
    rules: &CallRules,
    members: &BTreeSet<Uuid>,
) -> Vec<Violation> {
    let mut v = Violations::new();
    if let Some(t) = &c.title
        && (t.trim().is_empty() || t.chars().count() > 300)
    {
        v.add(
            "title",
            ErrorCode::InvalidText.with(&[
                ("subject_en", &"The title"),
                ("subject_it", &"Il titolo"),
                ("max", &300),
            ]),
        );
    }
    if let Some(s) = &c.summary
        && (s.trim().is_empty() || s.chars().count() > 10_000)
    {
        v.add(
            "summary",
            ErrorCode::InvalidText.with(&[
                ("subject_en", &"The summary"),
                ("subject_it", &"La sintesi"),
                ("max", &10000),
            ]),
        );
    }
    let areas: BTreeSet<&str> = rules
        .intervention_areas
        .iter()
        .map(|a| a.code.as_str())
        .collect();
    let mut seen = BTreeSet::new();
    for (i, a) in c.intervention_areas.iter().enumerate() {
        if !areas.contains(a.as_str()) {
            v.add(
                format!("intervention_areas[{i}]"),
                ErrorCode::UnknownArea.with(&[("a", &a)]),
            );
        }
        if !seen.insert(a.as_str()) {
            v.add(
                format!("intervention_areas[{i}]"),
                ErrorCode::DuplicateCode.with(&[("code", &a)]),
            );
        }
    }
    if let (Some(s), Some(e)) = (c.start_date, c.end_date) {
        if e < s {
            v.add("end_date", ErrorCode::EndBeforeStart);
        } else if let Some(limit) = s.checked_add_months(Months::new(rules.project_duration_months))
            && e >= limit
        {
            v.add(
                "end_date",
                ErrorCode::DurationExceeded.with(&[
                    ("months", &rules.project_duration_months),
                    ("end_by", &limit.pred_opt().unwrap_or(limit)),
                ]),
            );
        }
    }
    let categories: BTreeSet<&str> = rules
        .expense_categories
        .iter()
        .map(|c| c.code.as_str())
        .collect();
    for (i, l) in c.budget.lines.iter().enumerate() {
        if !categories.contains(l.category.as_str()) {
            v.add(
                format!("budget.lines[{i}].category"),
                ErrorCode::UnknownCategory.with(&[("category", &l.category)]),
            );
        }
        if l.description.trim().is_empty() || l.description.chars().count() > 500 {
            v.add(
                format!("budget.lines[{i}].description"),
                ErrorCode::InvalidText.with(&[
                    ("subject_en", &"A description"),
                    ("subject_it", &"Una descrizione"),
                    ("max", &500),
                ]),
            );
        }
        if !members.contains(&l.borne_by) {
            v.add(format!("budget.lines[{i}].borne_by"), ErrorCode::NotAMember);
        }
    }
    if c.budget.lines.len() > 500 {
        v.add("budget.lines", ErrorCode::TooManyLines);
    }
    v.into_vec()
}

/// An annex as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnexFacts {
    pub kind: String,
    pub organization_id: Option<Uuid>,
    /// The tax codes of its valid signers (of a `.p7m`); empty for any other file.
    pub valid_signers: Vec<String>,
}

/// Everything that blocks the submission of a content, all at once: missing fields, the
/// shape and money rules, and the required annexes. The partnership's eligibility and the
/// window are checked by the caller. Each is named by its path in the application as it is
/// read (`content.budget.requested_grant`), the annexes as `documents`.
pub fn blocking_issues(
    c: &ApplicationContent,
    rules: &CallRules,
    members: &[(Uuid, ParticipationRole)],
    annexes: &[AnnexFacts],
) -> Vec<Violation> {
    let mut v = Violations::new();
    let missing = |v: &mut Violations, field: &str| {
        v.add(
            field,
            ErrorCode::MissingField.worded(
                "Required before submission.",
                "Obbligatorio prima della presentazione.",
            ),
        )
    };
    if c.agency_code.is_none() {
        missing(&mut v, "agency_code");
    }
    if c.title.is_none() {
        missing(&mut v, "title");
    }
    if c.summary.is_none() {
        missing(&mut v, "summary");
    }
    if c.intervention_areas.is_empty() {
        v.add("intervention_areas", ErrorCode::EmptyList);
    }
    if c.start_date.is_none() {
        missing(&mut v, "start_date");
    }
    if c.end_date.is_none() {
        missing(&mut v, "end_date");
    }
    match c.employees_reached {
        None => missing(&mut v, "employees_reached"),
        Some(0) => v.add(
            "employees_reached",
            ErrorCode::OutOfRange.worded(
                "The project reaches at least one employee.",
                "Il progetto raggiunge almeno un dipendente.",
            ),
        ),
        _ => {}
    }
    match c.enterprises_reached {
        None => missing(&mut v, "enterprises_reached"),
        Some(0) => v.add(
            "enterprises_reached",
            ErrorCode::OutOfRange.worded(
                "The project reaches at least one enterprise.",
                "Il progetto raggiunge almeno un'impresa.",
            ),
        ),
        _ => {}
    }
    let ids: BTreeSet<Uuid> = members.iter().map(|(id, _)| *id).collect();
    v.extend(check_shape(c, rules, &ids));
    v.extend(check_money(&c.budget, rules));
    // Named where the application shows them: the content's under `content`, the annexes as
    // `documents`.
    let mut v = {
        let mut nested = Violations::new();
        nested.extend(v.into_vec().into_iter().map(|x| x.under("content")));
        nested
    };
    for annex in &rules.required_annexes {
        match annex.scope {
            AnnexScope::Application => {
                if !annexes.iter().any(|a| a.kind == annex.kind) {
                    v.add(
                        "documents",
                        ErrorCode::MissingAnnex.with(&[
                            ("kind", &annex.kind),
                            ("name_en", &annex.name_en),
                            ("name_it", &annex.name_it),
                        ]),
                    );
                }
            }
            AnnexScope::EachAdheringPartner => {
                for (id, _) in members
                    .iter()
                    .filter(|(_, r)| *r == ParticipationRole::AdheringPartner)
                {
                    if !annexes
                        .iter()
                        .any(|a| a.kind == annex.kind && a.organization_id == Some(*id))
                    {
                        v.add(
                            "documents",
                            ErrorCode::MissingAnnex.worded(
                                format!(
                                    "The annex {} is required for the adhering partner {id}.",
                                    annex.kind
                                ),
                                format!(
                                    "L'allegato {} è obbligatorio per il partner aderente {id}.",
                                    annex.kind
                                ),
                            ),
                        );
                    }
                }
            }
        }
    }
    v.into_vec()
}

/// The required annexes whose signature by a legal representative is missing: for each kind the
/// call asks to be signed, an annex of the whole application needs the lead's legal
/// representative among the valid signers of one of its files, an annex asked of each adhering
/// partner that partner's. A member without a legal representative cannot meet it. An annex
/// not uploaded at all is [`blocking_issues`]'s to report. Named as `documents`.
pub fn signature_issues(
    rules: &CallRules,
    members: &[Member],
    annexes: &[AnnexFacts],
) -> Vec<Violation> {
    let mut v = Violations::new();
    for annex in rules
        .required_annexes
        .iter()
        .filter(|a| a.signed_by_legal_representative)
    {
        let owners: Vec<(&Member, Option<Uuid>)> = match annex.scope {
            AnnexScope::Application => members
                .iter()
                .filter(|m| m.role == ParticipationRole::Lead)
                .map(|m| (m, None))
                .collect(),
            AnnexScope::EachAdheringPartner => members
                .iter()
                .filter(|m| m.role == ParticipationRole::AdheringPartner)
                .map(|m| (m, Some(m.organization_id)))
                .collect(),
        };
        for (owner, about) in owners {
            let files: Vec<&AnnexFacts> = annexes
                .iter()
                .filter(|a| a.kind == annex.kind && (about.is_none() || a.organization_id == about))
                .collect();
            if files.is_empty() {
                continue;
            }
            let problem = match &owner.facts.legal_representative {
                None => ErrorCode::LegalRepresentativeMissing.with(&[
                    ("kind", &annex.kind),
                    ("name_en", &annex.name_en),
                    ("name_it", &annex.name_it),
                    ("organization", &owner.facts.legal_name),
                ]),
                Some(rep)
                    if !files
                        .iter()
                        .any(|a| a.valid_signers.iter().any(|s| s == rep.tax_code.as_str())) =>
                {
                    ErrorCode::AnnexNotSigned.with(&[
                        ("kind", &annex.kind),
                        ("name_en", &annex.name_en),
                        ("name_it", &annex.name_it),
                        ("organization", &owner.facts.legal_name),
                    ])
                }
                Some(_) => continue,
            };
            v.add("documents", problem);
        }
    }
    v.into_vec()
}

/// The metadata of an annex kept elsewhere: a kind the call knows (or `other`), a file name
/// without a path, a size from 1 byte to 1 GiB, a lower-case hex SHA-256. `prefix` is the
/// path of the annex in the request (empty at the top level).
pub fn check_annex(
    prefix: &str,
    rules: &CallRules,
    kind: &str,
    file_name: &str,
    size_bytes: i64,
    sha256: &str,
) -> Vec<Violation> {
    let field = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    };
    let mut v = Violations::new();
    let kinds: BTreeSet<&str> = rules
        .required_annexes
        .iter()
        .map(|a| a.kind.as_str())
        .chain(["other"])
        .collect();
    if !kinds.contains(kind) {
        let list = kinds.iter().copied().collect::<Vec<_>>().join(", ");
        v.add(
            field("kind"),
            ErrorCode::UnknownKind.with(&[("list", &list)]),
        );
    }
    v.extend(check_file_name(&field("file_name"), file_name));
    if !(1..=1_073_741_824).contains(&size_bytes) {
        v.add(
            field("size_bytes"),
            ErrorCode::OutOfRange.worded(
                "A file has 1 byte to 1 GiB.",
                "Un file ha da 1 byte a 1 GiB.",
            ),
        );
    }
    if sha256.len() != 64
        || !sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        v.add(field("sha256"), ErrorCode::InvalidSha256);
    }
    v.into_vec()
}

/// A file name: 1 to 255 characters once trimmed, without a folder or control characters.
pub fn check_file_name(field: &str, file_name: &str) -> Vec<Violation> {
    let name = file_name.trim();
    if name.is_empty()
        || name.chars().count() > 255
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control)
    {
        return vec![Violation::new(field, ErrorCode::InvalidFileName)];
    }
    vec![]
}

/// A submission at `now` is in time when `opens_at ≤ now < closes_at`.
pub fn check_in_time(window: &Window, now: DateTime<Utc>) -> Result<(), Violation> {
    if window.contains(now) {
        return Ok(());
    }
    let (en, it) = if now < window.opens_at() {
        (
            "The submission window has not opened yet.",
            "La finestra di presentazione non è ancora aperta.",
        )
    } else {
        (
            "The submission window has closed.",
            "La finestra di presentazione è chiusa.",
        )
    };
    Err(Violation::new(
        "submitted_at",
        ErrorCode::OutsideWindow.worded(en, it),
    ))
}

/// Everything that stands between a content and its submission at `now`: the window, every
/// content, money and annex rule, and each failed composition rule of the partnership.
pub fn submission_problems(
    c: &ApplicationContent,
    rules: &CallRules,
    window: &Window,
    now: DateTime<Utc>,
    members: &[Member],
    annexes: &[AnnexFacts],
) -> Vec<Violation> {
    let mut problems = Vec::new();
    if let Err(v) = check_in_time(window, now) {
        problems.push(v);
    }
    let roles: Vec<(Uuid, ParticipationRole)> = members
        .iter()
        .map(|m| (m.organization_id, m.role))
        .collect();
    problems.extend(blocking_issues(c, rules, &roles, annexes));
    problems.extend(signature_issues(rules, members, annexes));
    for o in check_eligibility(&rules.partnership, members)
        .into_iter()
        .filter(|o| !o.passed)
    {
        problems.push(Violation::new(
            "partnership",
            o.rule
                .error_code()
                .with(&[("reason_en", &o.reason.en), ("reason_it", &o.reason.it)]),
        ));
    }
    problems
}

/// What a caller may do with an application: the lead's representatives manage it, the
/// members' representatives read it, the evaluators of its agency read it once submitted,
/// administrators read everything; nobody else sees it.
#[allow(clippy::too_many_arguments)]
pub fn application_access(
    role: Role,
    caller_agency: Option<AgencyCode>,
    represented: &BTreeSet<Uuid>,
    lead: Option<Uuid>,
    members: &BTreeSet<Uuid>,
    status: ApplicationStatus,
    agency: Option<AgencyCode>,
) -> Option<Access> {
    match role {
        Role::Admin => Some(Access::Read),
        Role::Evaluator
            if status != ApplicationStatus::Draft
                && agency.is_some()
                && agency == caller_agency =>
        {
            Some(Access::Read)
        }
        Role::Evaluator => None,
        Role::Applicant => partnership_access(role, represented, lead, members),
    }
}

/// The protocol number of the n-th submission of a call: `<call code>-<6 digits>`.
pub fn protocol_number(call_code: &str, n: i64) -> String {
    format!("{call_code}-{n:06}")
}

/// Whether a text is an intervention area code as lists filter on it: 1 to 40 ASCII letters,
/// digits, `_` or `-`.
pub fn is_area_code(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A submitted snapshot as a reader may see it: the personal (16-character) tax codes of the
/// members whose data it may not see in full (`reveal` false) are masked.
pub fn mask_snapshot(snapshot: &mut serde_json::Value, reveal: &dyn Fn(Uuid) -> bool) {
    let Some(members) = snapshot.get_mut("members").and_then(|m| m.as_array_mut()) else {
        return;
    };
    for m in members {
        let id = m["organization_id"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok());
        let code = m["tax_code"]
            .as_str()
            .map(super::identifiers::TaxCode::parse);
        if let (Some(id), Some(Ok(code))) = (id, code)
            && !reveal(id)
        {
            m["tax_code"] = serde_json::Value::String(code.masked());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules() -> CallRules {
        CallRules::lombardy_2022()
    }

    mod signatures {
        use super::*;
        use crate::domain::identifiers::{ProvinceCode, TaxCode};
        use crate::domain::organization::{
            LegalRepresentative, OrganizationFacts, Seat, SeatKind, Subtype,
        };
        use crate::domain::partnership::MembershipStatus;

        const LEAD_REP: &str = "BNCLRA70A41I829F";
        const PARTNER_REP: &str = "VRDGPP75C15I829T";

        fn signing_rules() -> CallRules {
            let mut r = rules();
            for a in &mut r.required_annexes {
                a.signed_by_legal_representative = true;
            }
            r
        }

        fn member(n: u128, role: ParticipationRole, rep: Option<&str>) -> Member {
            Member {
                organization_id: Uuid::from_u128(n),
                role,
                status: MembershipStatus::Accepted,
                facts: OrganizationFacts {
                    tax_code: TaxCode::parse("00095450144").unwrap(),
                    vat_number: None,
                    legal_name: format!("Ente {n}"),
                    subtype: Subtype::Municipality,
                    chamber_registration: None,
                    seats: vec![Seat {
                        kind: SeatKind::Registered,
                        address: "Piazza Campello 1".into(),
                        municipality: "Sondrio".into(),
                        province: ProvinceCode::parse("SO").unwrap(),
                    }],
                    figures: None,
                    reference_year: None,
                    legal_representative: rep.map(|code| LegalRepresentative {
                        full_name: "Legale rappresentante".into(),
                        tax_code: TaxCode::parse(code).unwrap(),
                    }),
                },
                partnerships_in_call: 1,
                leads_in_call: u32::from(role == ParticipationRole::Lead),
            }
        }

        fn annex(kind: &str, about: Option<u128>, signers: &[&str]) -> AnnexFacts {
            AnnexFacts {
                kind: kind.into(),
                organization_id: about.map(Uuid::from_u128),
                valid_signers: signers.iter().map(|s| (*s).to_owned()).collect(),
            }
        }

        fn codes(v: Vec<Violation>) -> Vec<String> {
            v.into_iter().map(|v| v.code.as_str().to_owned()).collect()
        }

        #[test]
        fn the_agreement_needs_the_lead_legal_representative_among_its_signers() {
            let members = [
                member(1, ParticipationRole::Lead, Some(LEAD_REP)),
                member(2, ParticipationRole::FullPartner, Some(PARTNER_REP)),
            ];
            let r = signing_rules();
            let check = |signers: &[&str]| {
                codes(signature_issues(
                    &r,
                    &members,
                    &[annex("partnership_agreement", None, signers)],
                ))
            };
            assert_eq!(check(&[]), vec!["annex_not_signed"]);
            assert_eq!(check(&[PARTNER_REP]), vec!["annex_not_signed"]);
            assert!(check(&[PARTNER_REP, LEAD_REP]).is_empty());
            // Off, nothing is asked.
            assert!(
                codes(signature_issues(
                    &rules(),
                    &members,
                    &[annex("partnership_agreement", None, &[])]
                ))
                .is_empty()
            );
        }

        #[test]
        fn a_letter_of_adhesion_needs_its_own_partner_legal_representative() {
            let members = [
                member(1, ParticipationRole::Lead, Some(LEAD_REP)),
                member(2, ParticipationRole::AdheringPartner, Some(PARTNER_REP)),
                member(3, ParticipationRole::AdheringPartner, None),
            ];
            let annexes = [
                annex("partnership_agreement", None, &[LEAD_REP]),
                annex("letter_of_adhesion", Some(2), &[LEAD_REP]),
                annex("letter_of_adhesion", Some(3), &[LEAD_REP]),
            ];
            let found = codes(signature_issues(&signing_rules(), &members, &annexes));
            assert_eq!(
                found,
                vec!["annex_not_signed", "legal_representative_missing"]
            );
            let mut annexes = annexes;
            annexes[1] = annex("letter_of_adhesion", Some(2), &[PARTNER_REP]);
            let found = codes(signature_issues(&signing_rules(), &members, &annexes));
            assert_eq!(found, vec!["legal_representative_missing"]);
        }

        #[test]
        fn an_annex_not_uploaded_is_reported_as_missing_not_as_unsigned() {
            let members = [member(1, ParticipationRole::Lead, None)];
            assert!(signature_issues(&signing_rules(), &members, &[]).is_empty());
        }
    }

    #[test]
    fn an_area_code_is_short_plain_ascii() {
        assert!(is_area_code("TIME_SAVING"));
        assert!(is_area_code("A-1"));
        assert!(is_area_code(&"A".repeat(40)));
        assert!(!is_area_code(""));
        assert!(!is_area_code(&"A".repeat(41)));
        assert!(!is_area_code("TIME SAVING"));
        assert!(!is_area_code("\"x\""));
    }

    #[test]
    fn a_snapshot_masks_the_personal_tax_codes_of_members_not_revealed() {
        let (mine, theirs, company) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut snapshot = serde_json::json!({"members": [
            {"organization_id": mine, "tax_code": "RSSMRA85T10A562S"},
            {"organization_id": theirs, "tax_code": "RSSMRA85T10A562S"},
            {"organization_id": company, "tax_code": "01234560157"},
        ]});
        mask_snapshot(&mut snapshot, &|id| id == mine);
        let codes: Vec<&str> = snapshot["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["tax_code"].as_str().unwrap())
            .collect();
        assert_eq!(
            codes,
            ["RSSMRA85T10A562S", "RSS************S", "01234560157"]
        );
        let mut none = serde_json::json!({"protocol_number": "X"});
        mask_snapshot(&mut none, &|_| false);
        assert_eq!(none, serde_json::json!({"protocol_number": "X"}));
    }

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn line(category: &str, amount: &str) -> CostLine {
        CostLine {
            category: category.into(),
            description: "x".into(),
            amount: m(amount),
            borne_by: Uuid::nil(),
        }
    }

    fn budget(lines: Vec<CostLine>, grant: &str, co: &str) -> Budget {
        Budget {
            lines,
            requested_grant: Some(m(grant)),
            co_financing: Some(m(co)),
        }
    }

    fn codes(b: &Budget) -> Vec<String> {
        check_money(b, &rules())
            .into_iter()
            .map(|v| v.code.as_str().to_owned())
            .collect()
    }

    #[test]
    fn the_grant_is_seventy_percent_rounded_down() {
        let b = budget(
            vec![line("EMPLOYEE_SERVICES", "71428.57")],
            "49999.99",
            "21428.58",
        );
        assert_eq!(codes(&b), Vec::<String>::new());
        let b = budget(
            vec![line("EMPLOYEE_SERVICES", "71428.57")],
            "50000.00",
            "21428.57",
        );
        assert_eq!(codes(&b), vec!["grant_above_rate"]);
        let b = budget(
            vec![line("EMPLOYEE_SERVICES", "71428.58")],
            "50000.00",
            "21428.58",
        );
        assert_eq!(codes(&b), Vec::<String>::new());
    }

    #[test]
    fn the_grant_is_capped() {
        let b = budget(
            vec![line("EMPLOYEE_SERVICES", "100000.00")],
            "50000.01",
            "49999.99",
        );
        assert_eq!(codes(&b), vec!["grant_above_cap"]);
    }

    #[test]
    fn co_financing_is_total_minus_grant() {
        let b = budget(
            vec![line("EMPLOYEE_SERVICES", "1000.00")],
            "700.00",
            "300.01",
        );
        assert_eq!(codes(&b), vec!["co_financing_mismatch"]);
    }

    #[test]
    fn each_category_stays_within_its_cap() {
        // COMMUNICATION ≤ 5%: 50.00 of 1000.00 is fine, 50.01 of 1000.01 is not.
        let ok = budget(
            vec![
                line("EMPLOYEE_SERVICES", "950.00"),
                line("COMMUNICATION", "50.00"),
            ],
            "700.00",
            "300.00",
        );
        assert_eq!(codes(&ok), Vec::<String>::new());
        let over = budget(
            vec![
                line("EMPLOYEE_SERVICES", "950.00"),
                line("COMMUNICATION", "50.01"),
            ],
            "700.00",
            "300.01",
        );
        assert_eq!(codes(&over), vec!["category_above_cap"]);
    }

    #[test]
    fn the_protocol_number_has_six_digits() {
        assert_eq!(protocol_number("RLD-DEMO", 7), "RLD-DEMO-000007");
    }

    proptest! {
        #[test]
        fn the_largest_allowed_grant_always_passes_and_one_cent_more_never(cents in 1i64..2_000_000_000) {
            let total = Money::from_cents(cents).unwrap();
            let t = totals(&budget(vec![line("EMPLOYEE_SERVICES", &total.to_string())], "0.01", "0.00"), &rules()).unwrap();
            let max = t.max_grant;
            prop_assume!(max > Money::ZERO);
            let co = total.checked_sub(max).unwrap();
            let ok = budget(vec![line("EMPLOYEE_SERVICES", &total.to_string())], &max.to_string(), &co.to_string());
            prop_assert_eq!(codes(&ok), Vec::<String>::new());
            let above = max.checked_add(Money::from_cents(1).unwrap()).unwrap();
            if let Some(co) = total.checked_sub(above) {
                let bad = budget(vec![line("EMPLOYEE_SERVICES", &total.to_string())], &above.to_string(), &co.to_string());
                prop_assert!(!codes(&bad).is_empty());
            }
            // The grant never exceeds 70% of the total, and co-financing is at least 30%.
            prop_assert!(i128::from(max.cents()) * 100 <= i128::from(total.cents()) * 70);
        }
    }
}
