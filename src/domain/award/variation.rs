//! Variations of a project during its life (DOMAIN.md §5.8): a budget shift between categories
//! (approved at once within the call's tolerance), a partner change (the composition rules must
//! hold on the result; a new partner joins only with its consent), an extension of the end date
//! (at most the call's maximum). Anything not approved at once waits for the ATS's decision.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::agency::AgencyCode;
use crate::domain::application::CostLine;
use crate::domain::error_code::ErrorCode;
use crate::domain::money::Money;
use crate::domain::partnership::ParticipationRole;
use crate::domain::percent::Percent;
use crate::domain::user::Role;
use crate::domain::violation::{Violation, Violations};

use super::{Actor, Refused, step};

/// What a variation changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "budget_shift")]
pub enum VariationKind {
    BudgetShift,
    PartnerChange,
    Extension,
}

impl VariationKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            VariationKind::BudgetShift => "budget_shift",
            VariationKind::PartnerChange => "partner_change",
            VariationKind::Extension => "extension",
        }
    }

    pub fn parse(s: &str) -> Option<VariationKind> {
        [
            VariationKind::BudgetShift,
            VariationKind::PartnerChange,
            VariationKind::Extension,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Where a variation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "pending")]
pub enum VariationStatus {
    /// A partner change that adds an organization waits for its representatives' consent.
    AwaitingConsent,
    /// Waits for the ATS's decision.
    Pending,
    /// Approved (by the ATS, or at once): the project's new version.
    Approved,
    /// Rejected by the ATS, or by the added organization.
    Rejected,
}

impl VariationStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            VariationStatus::AwaitingConsent => "awaiting_consent",
            VariationStatus::Pending => "pending",
            VariationStatus::Approved => "approved",
            VariationStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<VariationStatus> {
        [
            VariationStatus::AwaitingConsent,
            VariationStatus::Pending,
            VariationStatus::Approved,
            VariationStatus::Rejected,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether it still waits for someone.
    pub fn open(&self) -> bool {
        matches!(
            self,
            VariationStatus::AwaitingConsent | VariationStatus::Pending
        )
    }
}

/// A member of the project, as a version of it lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"organization_id": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", "role": "full_partner"}))]
pub struct ProjectMember {
    /// An organization of the registry (`GET /api/v1/organizations`).
    pub organization_id: Uuid,
    pub role: ParticipationRole,
}

/// One version of the project: its budget lines, its members, its end date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"version": 2, "lines": [{"category": "EMPLOYEE_SERVICES", "description": "Baby-sitting e centri estivi", "amount": "42000.00",
    "borne_by": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b"}], "members": [{"organization_id": "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b", "role": "lead"}],
    "end_date": "2028-03-31"}))]
pub struct ProjectVersion {
    /// 1 for the project as approved; one more for each approved variation.
    pub version: i32,
    pub lines: Vec<CostLine>,
    pub members: Vec<ProjectMember>,
    pub end_date: Option<NaiveDate>,
}

impl ProjectVersion {
    pub fn member_ids(&self) -> BTreeSet<Uuid> {
        self.members.iter().map(|m| m.organization_id).collect()
    }

    pub fn total(&self) -> Option<Money> {
        Money::sum(self.lines.iter().map(|l| l.amount))
    }
}

fn by_category(lines: &[CostLine]) -> BTreeMap<&str, Money> {
    let mut out: BTreeMap<&str, Money> = BTreeMap::new();
    for l in lines {
        let e = out.entry(l.category.as_str()).or_insert(Money::ZERO);
        *e = e.checked_add(l.amount).unwrap_or(*e);
    }
    out
}

/// A budget shift keeps the total: its violation otherwise.
pub fn check_total(current: &[CostLine], proposed: &[CostLine], v: &mut Violations) {
    let before = Money::sum(current.iter().map(|l| l.amount));
    let after = Money::sum(proposed.iter().map(|l| l.amount));
    if let (Some(before), Some(after)) = (before, after)
        && before != after
    {
        v.add(
            "budget.lines",
            ErrorCode::BudgetTotalChanged.with(&[("total", &after), ("approved", &before)]),
        );
    }
}

/// Whether a budget shift is approved at once: each category moves by at most `tolerance` of
/// its approved amount (a category that had nothing may get nothing).
pub fn within_tolerance(current: &[CostLine], proposed: &[CostLine], tolerance: Percent) -> bool {
    let (before, after) = (by_category(current), by_category(proposed));
    let codes: BTreeSet<&str> = before.keys().chain(after.keys()).copied().collect();
    codes.into_iter().all(|code| {
        let b = before.get(code).copied().unwrap_or(Money::ZERO);
        let a = after.get(code).copied().unwrap_or(Money::ZERO);
        let moved = a
            .checked_sub(b)
            .or_else(|| b.checked_sub(a))
            .unwrap_or(Money::ZERO);
        moved <= b.percent_floor(tolerance)
    })
}

/// The last end date an extension may reach: the original end date plus `max_months`.
pub fn latest_end(original_end: NaiveDate, max_months: u32) -> NaiveDate {
    original_end
        .checked_add_months(Months::new(max_months))
        .unwrap_or(NaiveDate::MAX)
}

/// An extension moves the end date later, up to [`latest_end`].
pub fn check_extension(
    original_end: NaiveDate,
    current_end: NaiveDate,
    new_end: Option<NaiveDate>,
    max_months: u32,
) -> Vec<Violation> {
    let mut v = Violations::new();
    let latest = latest_end(original_end, max_months);
    match new_end {
        None => v.add("end_date", ErrorCode::MissingField),
        Some(d) if d <= current_end => v.add(
            "end_date",
            ErrorCode::InvalidValue.worded(
                format!("An extension moves the end date after {current_end}."),
                format!("Una proroga sposta la data di fine dopo il {current_end}."),
            ),
        ),
        Some(_) if max_months == 0 => v.add(
            "end_date",
            ErrorCode::ExtensionTooLong.with(&[("latest", &original_end), ("months", &0)]),
        ),
        Some(d) if d > latest => v.add(
            "end_date",
            ErrorCode::ExtensionTooLong.with(&[("latest", &latest), ("months", &max_months)]),
        ),
        Some(_) => {}
    }
    v.into_vec()
}

/// The members after a partner change: the lead stays, removed ones must be members, added
/// ones must not be, and nobody is both. Every violation is listed.
pub fn changed_members(
    current: &[ProjectMember],
    add: &[ProjectMember],
    remove: &[Uuid],
) -> Result<Vec<ProjectMember>, Vec<Violation>> {
    let mut v = Violations::new();
    let ids: BTreeSet<Uuid> = current.iter().map(|m| m.organization_id).collect();
    if add.is_empty() && remove.is_empty() {
        v.add(
            "add",
            ErrorCode::MissingField.worded(
                "A partner change adds or removes at least one member.",
                "Una variazione del partenariato aggiunge o rimuove almeno un membro.",
            ),
        );
    }
    for (i, r) in remove.iter().enumerate() {
        match current.iter().find(|m| m.organization_id == *r) {
            None => v.add(
                format!("remove[{i}]"),
                ErrorCode::NotAMember.worded(
                    "Only a member of the project can be removed.",
                    "Si rimuove solo un membro del progetto.",
                ),
            ),
            Some(m) if m.role == ParticipationRole::Lead => v.add(
                format!("remove[{i}]"),
                ErrorCode::CannotRemoveLead.worded(
                    "The lead of a project cannot be removed.",
                    "Il capofila di un progetto non può essere rimosso.",
                ),
            ),
            Some(_) => {}
        }
    }
    let mut seen = BTreeSet::new();
    for (i, a) in add.iter().enumerate() {
        if ids.contains(&a.organization_id) || !seen.insert(a.organization_id) {
            v.add(
                format!("add[{i}].organization_id"),
                ErrorCode::InvalidValue.worded(
                    "This organization is already a member of the project, or added twice.",
                    "Questo ente è già membro del progetto, o è aggiunto due volte.",
                ),
            );
        }
        if a.role == ParticipationRole::Lead {
            v.add(
                format!("add[{i}].role"),
                ErrorCode::OneLead.worded(
                    "A partnership has one lead: an added member is a partner.",
                    "Un partenariato ha un solo capofila: un membro aggiunto è un partner.",
                ),
            );
        }
    }
    let removed: BTreeSet<&Uuid> = remove.iter().collect();
    let mut next: Vec<ProjectMember> = current
        .iter()
        .filter(|m| !removed.contains(&m.organization_id))
        .cloned()
        .collect();
    next.extend(add.iter().cloned());
    v.finish(next)
}

/// Cost lines borne by members a partner change removes: they must move first (a budget
/// shift), listed by line.
pub fn lines_of_removed(lines: &[CostLine], remove: &[Uuid]) -> Vec<Violation> {
    let mut v = Violations::new();
    for (i, l) in lines.iter().enumerate() {
        if remove.contains(&l.borne_by) {
            v.add(
                format!("budget.lines[{i}].borne_by"),
                ErrorCode::NotAMember.worded(
                    "This cost line is borne by a member the change removes: move it to another member first (a budget shift).",
                    "Questa voce di costo è sostenuta da un membro che la variazione rimuove: spostarla prima su un altro membro (variazione di budget).",
                ),
            );
        }
    }
    v.into_vec()
}

/// Only an evaluator of the project's ATS decides, and only a variation that waits for it.
pub fn may_decide(
    actor: &Actor,
    agency: AgencyCode,
    status: VariationStatus,
) -> Result<(), Refused> {
    if actor.role != Role::Evaluator || actor.agency != Some(agency) {
        return Err(step(ErrorCode::RoleNotAllowed.worded(
            "Only an evaluator of the project's ATS decides on a variation.",
            "Solo un valutatore dell'ATS del progetto decide su una variazione.",
        )));
    }
    match status {
        VariationStatus::Pending => Ok(()),
        VariationStatus::AwaitingConsent => Err(step(ErrorCode::VariationAwaitingConsent)),
        _ => Err(step(ErrorCode::VariationDecided)),
    }
}

/// Only a variation awaiting consent is consented to, once.
pub fn may_consent(status: VariationStatus) -> Result<(), Refused> {
    match status {
        VariationStatus::AwaitingConsent => Ok(()),
        _ => Err(step(ErrorCode::VariationDecided)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(category: &str, amount: &str) -> CostLine {
        CostLine {
            category: category.into(),
            description: "x".into(),
            amount: Money::parse(amount).unwrap(),
            borne_by: Uuid::nil(),
        }
    }

    #[test]
    fn a_shift_within_the_tolerance_of_each_category_is_approved_at_once() {
        let twenty = Percent::from_basis_points(2000).unwrap();
        let before = [line("A", "1000.00"), line("B", "500.00")];
        assert!(within_tolerance(
            &before,
            &[line("A", "900.00"), line("B", "600.00")],
            twenty
        ));
        // B moves by 101.00 of 500.00: more than 20%.
        assert!(!within_tolerance(
            &before,
            &[line("A", "899.00"), line("B", "601.00")],
            twenty
        ));
        // A new category had nothing: any amount is beyond the tolerance.
        assert!(!within_tolerance(
            &before,
            &[line("A", "990.00"), line("B", "500.00"), line("C", "10.00")],
            twenty
        ));
        let mut v = Violations::new();
        check_total(&before, &[line("A", "1000.00")], &mut v);
        assert_eq!(v.into_vec()[0].code.as_str(), "budget_total_changed");
    }

    #[test]
    fn an_extension_stays_within_the_maximum_after_the_original_end() {
        let end = NaiveDate::from_ymd_opt(2027, 12, 31).unwrap();
        let d = |s: &str| Some(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap());
        assert!(check_extension(end, end, d("2028-03-31"), 3).is_empty());
        assert_eq!(
            check_extension(end, end, d("2028-04-01"), 3)[0]
                .code
                .as_str(),
            "extension_too_long"
        );
        assert_eq!(
            check_extension(end, end, d("2027-12-31"), 3)[0]
                .code
                .as_str(),
            "invalid_value"
        );
        assert_eq!(
            check_extension(end, end, None, 3)[0].code,
            ErrorCode::MissingField
        );
    }
}
