//! The end of a grant before its time, and the money that comes back: revocation (by the ATS
//! or the Region, with a cause) and renunciation (by the lead) of a live grant; a recovery
//! order for what was already paid beyond what the grant now allows, `issued → settled` (with
//! the payment reference) or `cancelled` (with a reason), by the Region. Interest is out of
//! scope.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::agency::AgencyCode;
use crate::domain::error_code::ErrorCode;
use crate::domain::grant::GrantStatus;
use crate::domain::money::Money;
use crate::domain::user::Role;
use crate::domain::violation::Violations;

use super::payment::Actor;
use super::{Refused, required_text, step};

/// Why a grant is revoked (DOMAIN.md §5.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "no_start")]
pub enum RevocationCause {
    /// The project did not start.
    NoStart,
    /// The final report came late.
    LateReport,
    /// Less than the minimum share of the approved cost was spent.
    UnderRealisation,
    /// The partnership no longer meets the call's requirements.
    LossOfRequirements,
    /// A declaration turned out false.
    FalseDeclaration,
    Other,
}

impl RevocationCause {
    pub const ALL: [RevocationCause; 6] = [
        RevocationCause::NoStart,
        RevocationCause::LateReport,
        RevocationCause::UnderRealisation,
        RevocationCause::LossOfRequirements,
        RevocationCause::FalseDeclaration,
        RevocationCause::Other,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            RevocationCause::NoStart => "no_start",
            RevocationCause::LateReport => "late_report",
            RevocationCause::UnderRealisation => "under_realisation",
            RevocationCause::LossOfRequirements => "loss_of_requirements",
            RevocationCause::FalseDeclaration => "false_declaration",
            RevocationCause::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<RevocationCause> {
        RevocationCause::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// An administrator, or an evaluator of the grant's ATS, revokes a live (offered or
/// accepted) grant.
pub fn may_revoke(actor: &Actor, agency: AgencyCode, status: GrantStatus) -> Result<(), Refused> {
    match (actor.role, actor.agency) {
        (Role::Admin, _) => {}
        (Role::Evaluator, Some(a)) if a == agency => {}
        (Role::Evaluator, _) => return Err(step(ErrorCode::OtherAgency)),
        _ => {
            return Err(step(ErrorCode::RoleNotAllowed.worded(
                "Only an administrator or an evaluator of the grant's ATS revokes a grant.",
                "Solo un amministratore o un valutatore dell'ATS del contributo revoca un contributo.",
            )));
        }
    }
    // A closed project is over: it commits its final grant but is no longer revoked.
    if !matches!(status, GrantStatus::Offered | GrantStatus::Accepted) {
        return Err(step(ErrorCode::GrantNotLive));
    }
    Ok(())
}

/// The lead renounces an accepted grant (an offer is declined instead).
pub fn may_renounce(status: GrantStatus) -> Result<(), Refused> {
    if status != GrantStatus::Accepted {
        return Err(step(ErrorCode::GrantNotAccepted));
    }
    Ok(())
}

/// Where a recovery order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "issued")]
pub enum RecoveryStatus {
    /// Waiting for the partnership to pay back by its due date.
    Issued,
    /// Paid back, with the payment's reference.
    Settled,
    Cancelled,
}

impl RecoveryStatus {
    pub const ALL: [RecoveryStatus; 3] = [
        RecoveryStatus::Issued,
        RecoveryStatus::Settled,
        RecoveryStatus::Cancelled,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            RecoveryStatus::Issued => "issued",
            RecoveryStatus::Settled => "settled",
            RecoveryStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<RecoveryStatus> {
        RecoveryStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A recovery order: what a grant paid beyond what it now allows, to pay back by a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub agency: AgencyCode,
    pub amount: Money,
    pub status: RecoveryStatus,
    pub due_date: NaiveDate,
    /// Why it was issued.
    pub reason: String,
    pub settled_by: Option<Uuid>,
    pub payment_reference: Option<String>,
    pub cancelled_by: Option<Uuid>,
    pub cancel_reason: Option<String>,
}

/// The recovery order of a grant that paid `paid` and now allows `allowed`, issued on
/// `today` with `due_days` to pay back; none when nothing was paid beyond it.
pub fn recovery_due(
    grant_id: Uuid,
    agency: AgencyCode,
    paid: Money,
    allowed: Money,
    due_days: u32,
    today: NaiveDate,
    reason: impl Into<String>,
) -> Option<Recovery> {
    let amount = paid.checked_sub(allowed)?;
    if amount == Money::ZERO {
        return None;
    }
    Some(Recovery {
        id: Uuid::new_v4(),
        grant_id,
        agency,
        amount,
        status: RecoveryStatus::Issued,
        due_date: today.checked_add_days(Days::new(u64::from(due_days)))?,
        reason: reason.into(),
        settled_by: None,
        payment_reference: None,
        cancelled_by: None,
        cancel_reason: None,
    })
}

fn administrator(actor: &Actor, en: &'static str, it: &'static str) -> Result<(), Refused> {
    if actor.role != Role::Admin {
        return Err(step(ErrorCode::RoleNotAllowed.worded(en, it)));
    }
    Ok(())
}

fn issued(r: &Recovery) -> Result<(), Refused> {
    match r.status {
        RecoveryStatus::Issued => Ok(()),
        RecoveryStatus::Settled => Err(step(ErrorCode::RecoverySettled)),
        RecoveryStatus::Cancelled => Err(step(ErrorCode::RecoveryCancelled)),
    }
}

/// An administrator records an issued recovery as paid back, with the payment's reference.
pub fn settle(r: &Recovery, actor: &Actor, reference: Option<&str>) -> Result<Recovery, Refused> {
    administrator(
        actor,
        "Only an administrator of the Region settles a recovery.",
        "Solo un amministratore della Regione registra una restituzione.",
    )?;
    issued(r)?;
    let mut v = Violations::new();
    let reference = required_text("payment_reference", reference, 100, &mut v);
    let reference = v.finish(reference).map_err(Refused::Invalid)?;
    Ok(Recovery {
        status: RecoveryStatus::Settled,
        settled_by: Some(actor.user_id),
        payment_reference: reference,
        ..r.clone()
    })
}

/// An administrator cancels an issued recovery, with a reason.
pub fn cancel_recovery(
    r: &Recovery,
    actor: &Actor,
    reason: Option<&str>,
) -> Result<Recovery, Refused> {
    administrator(
        actor,
        "Only an administrator of the Region cancels a recovery.",
        "Solo un amministratore della Regione annulla un recupero.",
    )?;
    issued(r)?;
    let mut v = Violations::new();
    let reason = required_text("reason", reason, 2000, &mut v);
    let reason = v.finish(reason).map_err(Refused::Invalid)?;
    Ok(Recovery {
        status: RecoveryStatus::Cancelled,
        cancelled_by: Some(actor.user_id),
        cancel_reason: reason,
        ..r.clone()
    })
}

/// Whether a verified project is over (DOMAIN.md §5.10): its final grant known, no payment
/// still open, every recovery order settled (an issued or a cancelled one keeps it open), and
/// what it kept (paid, less what was paid back) is its final grant.
pub fn is_over(
    final_grant: Option<Money>,
    payments: &[&super::Payment],
    recoveries: &[&Recovery],
) -> bool {
    let Some(f) = final_grant else {
        return false;
    };
    let open_payment = payments.iter().any(|p| {
        !matches!(
            p.status,
            super::PaymentStatus::Paid | super::PaymentStatus::Cancelled
        )
    });
    if open_payment
        || recoveries
            .iter()
            .any(|r| r.status == RecoveryStatus::Issued)
    {
        return false;
    }
    let paid = super::total_paid(payments.iter().copied());
    let returned = Money::sum(recoveries.iter().map(|r| r.amount)).unwrap_or(Money::ZERO);
    paid.checked_sub(returned) == Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn actor(role: Role, agency: Option<AgencyCode>) -> Actor {
        Actor {
            user_id: Uuid::from_u128(1),
            role,
            agency,
        }
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 5, 10).unwrap()
    }

    #[test]
    fn the_ats_or_the_region_revokes_a_live_grant() {
        let montagna = Some(AgencyCode::Montagna);
        assert!(
            may_revoke(
                &actor(Role::Admin, None),
                AgencyCode::Montagna,
                GrantStatus::Accepted
            )
            .is_ok()
        );
        assert!(
            may_revoke(
                &actor(Role::Evaluator, montagna),
                AgencyCode::Montagna,
                GrantStatus::Offered
            )
            .is_ok()
        );
        let codes = |r: Result<(), Refused>| r.unwrap_err().codes();
        assert_eq!(
            codes(may_revoke(
                &actor(Role::Evaluator, Some(AgencyCode::Brescia)),
                AgencyCode::Montagna,
                GrantStatus::Accepted
            )),
            vec![ErrorCode::OtherAgency]
        );
        assert_eq!(
            codes(may_revoke(
                &actor(Role::Applicant, None),
                AgencyCode::Montagna,
                GrantStatus::Accepted
            )),
            vec![ErrorCode::RoleNotAllowed]
        );
        assert_eq!(
            codes(may_revoke(
                &actor(Role::Admin, None),
                AgencyCode::Montagna,
                GrantStatus::Declined
            )),
            vec![ErrorCode::GrantNotLive]
        );
        assert_eq!(
            codes(may_renounce(GrantStatus::Offered)),
            vec![ErrorCode::GrantNotAccepted]
        );
    }

    #[test]
    fn what_was_paid_beyond_the_grant_is_recovered_by_its_due_date() {
        let g = Uuid::nil();
        let r = recovery_due(
            g,
            AgencyCode::Montagna,
            m("35000.00"),
            Money::ZERO,
            30,
            day(),
            "revoked",
        )
        .unwrap();
        assert_eq!(
            (r.amount, r.due_date, r.status),
            (
                m("35000.00"),
                NaiveDate::from_ymd_opt(2027, 6, 9).unwrap(),
                RecoveryStatus::Issued
            )
        );
        assert_eq!(
            recovery_due(
                g,
                AgencyCode::Montagna,
                m("35000.00"),
                m("35000.00"),
                30,
                day(),
                "x"
            ),
            None
        );
        assert_eq!(
            recovery_due(
                g,
                AgencyCode::Montagna,
                m("100.00"),
                m("200.00"),
                30,
                day(),
                "x"
            ),
            None
        );
    }

    #[test]
    fn a_recovery_is_settled_or_cancelled_once_by_the_region() {
        let r = recovery_due(
            Uuid::nil(),
            AgencyCode::Montagna,
            m("10.00"),
            Money::ZERO,
            30,
            day(),
            "x",
        )
        .unwrap();
        let admin = actor(Role::Admin, None);
        assert_eq!(
            settle(&r, &admin, None).unwrap_err().codes(),
            vec![ErrorCode::MissingField]
        );
        assert_eq!(
            settle(
                &r,
                &actor(Role::Evaluator, Some(AgencyCode::Montagna)),
                Some("CRO 1")
            )
            .unwrap_err()
            .codes(),
            vec![ErrorCode::RoleNotAllowed]
        );
        let settled = settle(&r, &admin, Some(" CRO 123 ")).unwrap();
        assert_eq!(
            (settled.status, settled.payment_reference.as_deref()),
            (RecoveryStatus::Settled, Some("CRO 123"))
        );
        assert_eq!(
            settle(&settled, &admin, Some("again")).unwrap_err().codes(),
            vec![ErrorCode::RecoverySettled]
        );
        assert_eq!(
            cancel_recovery(&settled, &admin, Some("x"))
                .unwrap_err()
                .codes(),
            vec![ErrorCode::RecoverySettled]
        );
        let cancelled = cancel_recovery(&r, &admin, Some("Errore materiale.")).unwrap();
        assert_eq!(cancelled.status, RecoveryStatus::Cancelled);
        assert_eq!(
            settle(&cancelled, &admin, Some("x")).unwrap_err().codes(),
            vec![ErrorCode::RecoveryCancelled]
        );
    }

    #[test]
    fn a_project_is_over_once_it_kept_its_final_grant_and_nothing_is_open() {
        use crate::domain::award::{Payment, PaymentStatus};
        let payment = |amount: &str, status| Payment {
            status,
            ..Payment::due(Uuid::nil(), AgencyCode::Montagna, "advance", m(amount))
        };
        let order = |amount: &str, status| Recovery {
            status,
            ..recovery_due(
                Uuid::nil(),
                AgencyCode::Montagna,
                m(amount),
                Money::ZERO,
                30,
                chrono::NaiveDate::MIN,
                "x",
            )
            .unwrap()
        };
        let paid = payment("700.00", PaymentStatus::Paid);
        let balance_due = payment("300.00", PaymentStatus::Due);
        let balance_paid = payment("300.00", PaymentStatus::Paid);
        let f = Some(m("1000.00"));
        assert!(!is_over(None, &[&paid, &balance_paid], &[]), "not verified");
        assert!(
            !is_over(f, &[&paid, &balance_due], &[]),
            "the balance still due"
        );
        assert!(is_over(f, &[&paid, &balance_paid], &[]));
        let over = Some(m("600.00"));
        let issued = order("100.00", RecoveryStatus::Issued);
        let settled = order("100.00", RecoveryStatus::Settled);
        assert!(
            !is_over(over, &[&paid], &[&issued]),
            "the recovery still issued"
        );
        assert!(is_over(over, &[&paid], &[&settled]));
        assert!(
            !is_over(Some(m("650.00")), &[&paid], &[&settled]),
            "kept 600.00, not 650.00"
        );
    }
}
