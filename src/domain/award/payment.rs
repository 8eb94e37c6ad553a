//! Payments of a grant: `due → authorized → paid | failed`, `cancelled`; a failed payment can
//! be authorized again. The ATS authorizes with the liquidation act, the Region records the
//! payment order, never the same person (four eyes), and the total paid never exceeds the
//! grant.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::agency::AgencyCode;
use crate::domain::error_code::ErrorCode;
use crate::domain::money::Money;
use crate::domain::user::Role;
use crate::domain::violation::{Violation, Violations};

use super::rules::{Tranche, TrancheTrigger};
use super::tranche::{tranche_amounts, tranches_due};
use super::{Refused, required_text, step};

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "authorized")]
pub enum PaymentStatus {
    /// Its tranche's trigger happened: it waits for the ATS's liquidation act.
    Due,
    /// The ATS liquidated it: it waits for the Region's payment order.
    Authorized,
    Paid,
    /// The payment order did not go through; it can be authorized again.
    Failed,
    Cancelled,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 5] = [
        PaymentStatus::Due,
        PaymentStatus::Authorized,
        PaymentStatus::Paid,
        PaymentStatus::Failed,
        PaymentStatus::Cancelled,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            PaymentStatus::Due => "due",
            PaymentStatus::Authorized => "authorized",
            PaymentStatus::Paid => "paid",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentStatus> {
        PaymentStatus::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Who acts on a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Uuid,
    pub role: Role,
    /// The evaluator's ATS; none for other roles.
    pub agency: Option<AgencyCode>,
}

/// An act as a request gives it: both parts are required, and checked together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActInput {
    pub number: Option<String>,
    pub date: Option<NaiveDate>,
}

/// A checked act: a liquidation act or a payment order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"number": "DDG 1234/2027", "date": "2027-05-03"}))]
pub struct Act {
    #[schema(example = "DDG 1234/2027")]
    pub number: String,
    pub date: NaiveDate,
}

impl ActInput {
    /// A number of 1 to 100 characters and a date not after `today`.
    pub fn check(&self, field: &str, today: NaiveDate, v: &mut Violations) -> Option<Act> {
        let number = required_text(&format!("{field}.number"), self.number.as_deref(), 100, v);
        let date = match self.date {
            None => {
                v.add(format!("{field}.date"), ErrorCode::MissingField);
                None
            }
            Some(d) if d > today => {
                v.add(
                    format!("{field}.date"),
                    ErrorCode::ActDateInFuture.with(&[("today", &today)]),
                );
                None
            }
            Some(d) => Some(d),
        };
        Some(Act {
            number: number?,
            date: date?,
        })
    }
}

/// One payment of a grant: a tranche that became due, and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: Uuid,
    pub grant_id: Uuid,
    /// The grant's ATS: only its evaluators authorize the payment.
    pub agency: AgencyCode,
    /// The code of the tranche of the plan it pays.
    pub tranche: String,
    pub amount: Money,
    pub status: PaymentStatus,
    /// Who authorized it last, with the liquidation act.
    pub authorized_by: Option<Uuid>,
    pub liquidation: Option<Act>,
    /// Who recorded it paid or failed, with the payment order when paid.
    pub recorded_by: Option<Uuid>,
    pub order: Option<Act>,
    /// Why the last payment order failed.
    pub failure_reason: Option<String>,
    pub cancelled_by: Option<Uuid>,
    pub cancel_reason: Option<String>,
}

impl Payment {
    /// A tranche of a grant becoming due.
    pub fn due(
        grant_id: Uuid,
        agency: AgencyCode,
        tranche: impl Into<String>,
        amount: Money,
    ) -> Payment {
        Payment {
            id: Uuid::new_v4(),
            grant_id,
            agency,
            tranche: tranche.into(),
            amount,
            status: PaymentStatus::Due,
            authorized_by: None,
            liquidation: None,
            recorded_by: None,
            order: None,
            failure_reason: None,
            cancelled_by: None,
            cancel_reason: None,
        }
    }
}

/// The payments the start of a project makes due: one for each tranche of the plan paid at
/// the start, of its amount for `grant`; a tranche of 0.00 (a grant of a few cents) makes
/// none. `None` for a plan whose amounts cannot be computed (see [`tranche_amounts`]). The
/// balance is not made due here: at the final report it is [`balance`](super::balance).
pub fn payments_due_at_start(
    grant_id: Uuid,
    agency: AgencyCode,
    plan: &[Tranche],
    grant: Money,
) -> Option<Vec<Payment>> {
    let amounts = tranche_amounts(plan, grant)?;
    Some(
        tranches_due(plan, &amounts, TrancheTrigger::StartCommunicated)
            .filter(|(_, _, amount)| *amount > Money::ZERO)
            .map(|(_, t, amount)| Payment::due(grant_id, agency, t.code.clone(), amount))
            .collect(),
    )
}

/// What the grant's payments already hold: what its other payments have paid, and the
/// most the grant may pay in all (the grant, or the final grant once the final report is
/// approved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ledger {
    pub paid: Money,
    pub ceiling: Money,
}

/// Everything paid by these payments, added exactly.
pub fn total_paid<'a>(payments: impl IntoIterator<Item = &'a Payment>) -> Money {
    Money::sum(
        payments
            .into_iter()
            .filter(|p| p.status == PaymentStatus::Paid)
            .map(|p| p.amount),
    )
    .unwrap_or(Money::ZERO)
}

/// What each grant has disbursed (the open data's `amountDisbursed`): what its payments paid
/// less what its settled recovery orders brought back, added exactly. A grant that paid
/// nothing is not in the map (it disbursed 0.00). `None` when a sum overflows or a grant got
/// back more than it paid, which stored money cannot show.
pub fn disbursed(
    paid: impl IntoIterator<Item = (Uuid, Money)>,
    recovered: impl IntoIterator<Item = (Uuid, Money)>,
) -> Option<HashMap<Uuid, Money>> {
    let mut out: HashMap<Uuid, Money> = HashMap::new();
    for (grant, amount) in paid {
        let total = out.entry(grant).or_insert(Money::ZERO);
        *total = total.checked_add(amount)?;
    }
    for (grant, amount) in recovered {
        let total = out.get_mut(&grant)?;
        *total = total.checked_sub(amount)?;
    }
    Some(out)
}

/// Where a grant's payment plan stands: each tranche with its amount for the grant, what
/// its payments paid, and what is left to pay (nothing once the grant has ended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanStanding {
    pub tranches: Vec<(Tranche, Money)>,
    pub paid: Money,
    pub to_pay: Money,
}

/// The standing of `plan` for a grant of `grant`, `live` (accepted) or ended, with these
/// payments. A plan whose amounts cannot be computed shows no tranches.
pub fn plan_standing<'a>(
    plan: &[Tranche],
    grant: Money,
    live: bool,
    payments: impl IntoIterator<Item = &'a Payment>,
) -> PlanStanding {
    let amounts = tranche_amounts(plan, grant).unwrap_or_default();
    let paid = total_paid(payments);
    PlanStanding {
        tranches: plan.iter().cloned().zip(amounts).collect(),
        paid,
        to_pay: if live {
            grant.checked_sub(paid).unwrap_or(Money::ZERO)
        } else {
            Money::ZERO
        },
    }
}

/// How an administrator records an authorized payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recording {
    /// Paid, with the payment order's number and date.
    Paid { order: ActInput },
    /// Failed, with a reason; it can be authorized again.
    Failed { reason: Option<String> },
}

impl Recording {
    /// A recording as a request gives it: paid with the payment order, or failed with a
    /// reason; what the other outcome needs is not taken silently.
    pub fn of_request(
        paid: bool,
        order: Option<ActInput>,
        reason: Option<String>,
    ) -> Result<Recording, Violation> {
        let stray = match (paid, &order, &reason) {
            (true, _, Some(_)) => Some("reason"),
            (false, Some(_), _) => Some("order"),
            _ => None,
        };
        if let Some(field) = stray {
            return Err(Violation::new(
                field,
                ErrorCode::InvalidValue.worded(
                    "Only a failed payment has a reason, and only a paid one a payment order.",
                    "Solo un pagamento non riuscito ha una motivazione, e solo uno eseguito un mandato.",
                ),
            ));
        }
        Ok(if paid {
            Recording::Paid {
                order: order.unwrap_or_default(),
            }
        } else {
            Recording::Failed { reason }
        })
    }
}

/// An evaluator of `agency`; another role is refused with `(en, it)`.
fn evaluator_of(
    actor: &Actor,
    agency: AgencyCode,
    en: &'static str,
    it: &'static str,
) -> Result<(), Refused> {
    match (actor.role, actor.agency) {
        (Role::Evaluator, Some(a)) if a == agency => Ok(()),
        (Role::Evaluator, _) => Err(step(ErrorCode::OtherAgency)),
        _ => Err(step(ErrorCode::RoleNotAllowed.worded(en, it))),
    }
}

fn not_closed(p: &Payment) -> Result<(), Refused> {
    match p.status {
        PaymentStatus::Paid => Err(step(ErrorCode::PaymentAlreadyPaid)),
        PaymentStatus::Cancelled => Err(step(ErrorCode::PaymentCancelled)),
        _ => Ok(()),
    }
}

/// The payment would bring the total paid above the ceiling.
fn check_ceiling(p: &Payment, ledger: Ledger, v: &mut Violations) {
    // Both below 10^14 cents: the sum fits, even where a `Money` would not.
    let total = ledger.paid.cents() + p.amount.cents();
    if total > ledger.ceiling.cents() {
        let total = format!("{}.{:02}", total / 100, total % 100);
        v.add(
            "amount",
            ErrorCode::PaymentAboveGrant.with(&[
                ("amount", &p.amount),
                ("total", &total),
                ("ceiling", &ledger.ceiling),
            ]),
        );
    }
}

/// An evaluator of the grant's ATS authorizes a due (or failed) payment with the
/// liquidation act, dated by `today`; not when it would make the total paid exceed the
/// ceiling.
pub fn authorize(
    p: &Payment,
    actor: &Actor,
    act: &ActInput,
    ledger: Ledger,
    today: NaiveDate,
) -> Result<Payment, Refused> {
    evaluator_of(
        actor,
        p.agency,
        "Only an evaluator of the grant's ATS authorizes a payment.",
        "Solo un valutatore dell'ATS del contributo autorizza un pagamento.",
    )?;
    not_closed(p)?;
    if p.status == PaymentStatus::Authorized {
        return Err(step(ErrorCode::PaymentAlreadyAuthorized));
    }
    let mut v = Violations::new();
    let act = act.check("liquidation", today, &mut v);
    check_ceiling(p, ledger, &mut v);
    let act = v.finish(act).map_err(Refused::Invalid)?;
    Ok(Payment {
        status: PaymentStatus::Authorized,
        authorized_by: Some(actor.user_id),
        liquidation: act,
        recorded_by: None,
        order: None,
        ..p.clone()
    })
}

/// An administrator who did not authorize it records an authorized payment as paid (with
/// the payment order, dated between the liquidation act and `today`, and never beyond the
/// ceiling) or failed (with a reason).
pub fn record(
    p: &Payment,
    actor: &Actor,
    recording: &Recording,
    ledger: Ledger,
    today: NaiveDate,
) -> Result<Payment, Refused> {
    if actor.role != Role::Admin {
        return Err(step(ErrorCode::RoleNotAllowed.worded(
            "Only an administrator of the Region records a payment.",
            "Solo un amministratore della Regione registra un pagamento.",
        )));
    }
    not_closed(p)?;
    if p.status != PaymentStatus::Authorized {
        return Err(step(ErrorCode::PaymentNotAuthorized));
    }
    if p.authorized_by == Some(actor.user_id) {
        return Err(step(ErrorCode::FourEyes));
    }
    let mut v = Violations::new();
    match recording {
        Recording::Paid { order } => {
            let order = order.check("order", today, &mut v);
            if let (Some(o), Some(l)) = (&order, &p.liquidation)
                && o.date < l.date
            {
                v.add(
                    "order.date",
                    ErrorCode::OrderBeforeLiquidation.with(&[("liquidation_date", &l.date)]),
                );
            }
            check_ceiling(p, ledger, &mut v);
            let order = v.finish(order).map_err(Refused::Invalid)?;
            Ok(Payment {
                status: PaymentStatus::Paid,
                recorded_by: Some(actor.user_id),
                order,
                ..p.clone()
            })
        }
        Recording::Failed { reason: r } => {
            let r = required_text("reason", r.as_deref(), 2000, &mut v);
            let r = v.finish(r).map_err(Refused::Invalid)?;
            Ok(Payment {
                status: PaymentStatus::Failed,
                recorded_by: Some(actor.user_id),
                order: None,
                failure_reason: r,
                ..p.clone()
            })
        }
    }
}

/// An evaluator of the grant's ATS or an administrator cancels a payment not yet paid, with
/// a reason.
pub fn cancel(p: &Payment, actor: &Actor, reason_text: Option<&str>) -> Result<Payment, Refused> {
    if actor.role != Role::Admin {
        evaluator_of(
            actor,
            p.agency,
            "Only an evaluator of the grant's ATS or an administrator cancels a payment.",
            "Solo un valutatore dell'ATS del contributo o un amministratore annulla un pagamento.",
        )?;
    }
    not_closed(p)?;
    let mut v = Violations::new();
    let r = required_text("reason", reason_text, 2000, &mut v);
    let r = v.finish(r).map_err(Refused::Invalid)?;
    Ok(Payment {
        status: PaymentStatus::Cancelled,
        cancelled_by: Some(actor.user_id),
        cancel_reason: r,
        ..p.clone()
    })
}

/// A grant that ends (revoked or renounced) pays nothing more: its payment not yet paid is
/// cancelled by `by`, with `reason`; none for one already paid or cancelled.
pub fn cancelled_by_end(p: &Payment, by: Uuid, reason: &str) -> Option<Payment> {
    not_closed(p).ok()?;
    Some(Payment {
        status: PaymentStatus::Cancelled,
        cancelled_by: Some(by),
        cancel_reason: Some(reason.to_owned()),
        ..p.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::award::{PostAwardRules, tranche_amounts};
    use proptest::prelude::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 5, d).unwrap()
    }

    fn user(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn a_grant_disbursed_what_it_paid_less_what_came_back() {
        let (a, b, c) = (user(1), user(2), user(3));
        let got = disbursed(
            [(a, m("30506.00")), (b, m("35000.00")), (b, m("15000.00"))],
            [(a, m("3050.61"))],
        )
        .unwrap();
        assert_eq!(got[&a], m("27455.39"));
        assert_eq!(got[&b], m("50000.00"));
        assert!(!got.contains_key(&c), "nothing paid: 0.00, not listed");
        // Back more than paid, or back without a payment: not money the service stores.
        assert_eq!(disbursed([(a, m("10.00"))], [(a, m("10.01"))]), None);
        assert_eq!(disbursed([], [(a, m("1.00"))]), None);
        assert_eq!(
            disbursed([(a, m("999999999999.99")), (a, m("0.01"))], []),
            None
        );
    }

    fn evaluator(n: u128, agency: AgencyCode) -> Actor {
        Actor {
            user_id: user(n),
            role: Role::Evaluator,
            agency: Some(agency),
        }
    }

    fn admin(n: u128) -> Actor {
        Actor {
            user_id: user(n),
            role: Role::Admin,
            agency: None,
        }
    }

    fn applicant(n: u128) -> Actor {
        Actor {
            user_id: user(n),
            role: Role::Applicant,
            agency: None,
        }
    }

    fn act(number: &str, date: NaiveDate) -> ActInput {
        ActInput {
            number: Some(number.into()),
            date: Some(date),
        }
    }

    fn advance() -> Payment {
        Payment::due(user(99), AgencyCode::Montagna, "advance", m("35000.00"))
    }

    fn ledger(paid: &str) -> Ledger {
        Ledger {
            paid: m(paid),
            ceiling: m("50000.00"),
        }
    }

    fn paid(order: ActInput) -> Recording {
        Recording::Paid { order }
    }

    fn fields(r: &Refused) -> Vec<(String, &'static str)> {
        match r {
            Refused::Invalid(v) => v
                .iter()
                .map(|v| (v.field.clone(), v.code.as_str()))
                .collect(),
            Refused::Step(s) => vec![(String::new(), s.code.as_str())],
        }
    }

    fn step_code(r: Result<Payment, Refused>) -> (bool, &'static str) {
        match r {
            Err(Refused::Step(s)) => (s.forbidden, s.code.as_str()),
            other => panic!("not a refused step: {other:?}"),
        }
    }

    #[test]
    fn an_advance_is_authorized_by_the_ats_and_recorded_paid_by_the_region() {
        let ats = evaluator(1, AgencyCode::Montagna);
        let region = admin(2);
        let p = authorize(
            &advance(),
            &ats,
            &act("DDG 12/2027", day(3)),
            ledger("0.00"),
            day(3),
        )
        .unwrap();
        assert_eq!(p.status, PaymentStatus::Authorized);
        assert_eq!(p.authorized_by, Some(user(1)));
        assert_eq!(
            p.liquidation,
            Some(Act {
                number: "DDG 12/2027".into(),
                date: day(3)
            })
        );
        let p = record(
            &p,
            &region,
            &paid(act(" MP 77 ", day(5))),
            ledger("0.00"),
            day(6),
        )
        .unwrap();
        assert_eq!(p.status, PaymentStatus::Paid);
        assert_eq!(p.recorded_by, Some(user(2)));
        assert_eq!(p.order.as_ref().unwrap().number, "MP 77");
        assert_eq!(total_paid([&p]), m("35000.00"));
    }

    #[test]
    fn a_payment_is_authorized_once() {
        let ats = evaluator(1, AgencyCode::Montagna);
        let p = authorize(&advance(), &ats, &act("1", day(3)), ledger("0.00"), day(3)).unwrap();
        let again = authorize(
            &p,
            &evaluator(3, AgencyCode::Montagna),
            &act("2", day(3)),
            ledger("0.00"),
            day(3),
        );
        assert_eq!(step_code(again), (false, "payment_already_authorized"));
    }

    #[test]
    fn only_an_evaluator_of_the_grants_ats_authorizes() {
        let a = act("1", day(3));
        let l = ledger("0.00");
        assert_eq!(
            step_code(authorize(
                &advance(),
                &evaluator(1, AgencyCode::Milano),
                &a,
                l,
                day(3)
            )),
            (true, "other_agency")
        );
        assert_eq!(
            step_code(authorize(&advance(), &admin(2), &a, l, day(3))),
            (true, "role_not_allowed")
        );
        assert_eq!(
            step_code(authorize(&advance(), &applicant(3), &a, l, day(3))),
            (true, "role_not_allowed")
        );
    }

    #[test]
    fn the_authorizer_never_records_the_payment() {
        let p = authorize(
            &advance(),
            &evaluator(1, AgencyCode::Montagna),
            &act("1", day(3)),
            ledger("0.00"),
            day(3),
        )
        .unwrap();
        // The same person, made an administrator since.
        let same = admin(1);
        for recording in [
            paid(act("MP 1", day(4))),
            Recording::Failed {
                reason: Some("IBAN closed".into()),
            },
        ] {
            assert_eq!(
                step_code(record(&p, &same, &recording, ledger("0.00"), day(4))),
                (true, "four_eyes")
            );
        }
        assert_eq!(
            step_code(record(
                &p,
                &evaluator(5, AgencyCode::Montagna),
                &paid(act("MP 1", day(4))),
                ledger("0.00"),
                day(4)
            )),
            (true, "role_not_allowed")
        );
    }

    #[test]
    fn acts_need_number_and_date_and_every_violation_is_listed() {
        let ats = evaluator(1, AgencyCode::Montagna);
        let err = authorize(
            &advance(),
            &ats,
            &ActInput::default(),
            ledger("20000.00"),
            day(3),
        )
        .unwrap_err();
        assert_eq!(
            fields(&err),
            vec![
                ("liquidation.number".into(), "missing_field"),
                ("liquidation.date".into(), "missing_field"),
                ("amount".into(), "payment_above_grant"),
            ]
        );
        let Refused::Invalid(v) = &err else { panic!() };
        assert_eq!(
            v[2].message.en,
            "Paying 35000.00 would bring the total paid to 55000.00, above the grant of 50000.00."
        );
        let err = authorize(
            &advance(),
            &ats,
            &ActInput {
                number: Some("  ".into()),
                date: Some(day(4)),
            },
            ledger("0.00"),
            day(3),
        )
        .unwrap_err();
        assert_eq!(
            fields(&err),
            vec![
                ("liquidation.number".into(), "invalid_text"),
                ("liquidation.date".into(), "act_date_in_future"),
            ]
        );
    }

    #[test]
    fn the_payment_order_is_checked_too() {
        let p = authorize(
            &advance(),
            &evaluator(1, AgencyCode::Montagna),
            &act("1", day(3)),
            ledger("0.00"),
            day(3),
        )
        .unwrap();
        let region = admin(2);
        let err = record(
            &p,
            &region,
            &paid(ActInput {
                number: None,
                date: Some(day(2)),
            }),
            ledger("15000.01"),
            day(4),
        )
        .unwrap_err();
        assert_eq!(
            fields(&err),
            vec![
                ("order.number".into(), "missing_field"),
                ("amount".into(), "payment_above_grant"),
            ]
        );
        let err = record(
            &p,
            &region,
            &paid(act("MP", day(2))),
            ledger("15000.00"),
            day(4),
        )
        .unwrap_err();
        assert_eq!(
            fields(&err),
            vec![("order.date".into(), "order_before_liquidation")]
        );
        assert!(
            record(
                &p,
                &region,
                &paid(act("MP", day(3))),
                ledger("15000.00"),
                day(4)
            )
            .is_ok()
        );
    }

    #[test]
    fn a_failed_payment_can_be_authorized_again() {
        let region = admin(2);
        let p = authorize(
            &advance(),
            &evaluator(1, AgencyCode::Montagna),
            &act("1", day(3)),
            ledger("0.00"),
            day(3),
        )
        .unwrap();
        let err = record(
            &p,
            &region,
            &Recording::Failed { reason: None },
            ledger("0.00"),
            day(4),
        )
        .unwrap_err();
        assert_eq!(fields(&err), vec![("reason".into(), "missing_field")]);
        let failed = record(
            &p,
            &region,
            &Recording::Failed {
                reason: Some("IBAN closed".into()),
            },
            ledger("0.00"),
            day(4),
        )
        .unwrap();
        assert_eq!(failed.status, PaymentStatus::Failed);
        assert_eq!(failed.failure_reason.as_deref(), Some("IBAN closed"));
        assert_eq!(
            step_code(record(
                &failed,
                &admin(3),
                &paid(act("MP", day(4))),
                ledger("0.00"),
                day(4)
            )),
            (false, "payment_not_authorized")
        );
        // Another evaluator of the ATS authorizes it again, with a new liquidation act.
        let again = authorize(
            &failed,
            &evaluator(4, AgencyCode::Montagna),
            &act("2", day(5)),
            ledger("0.00"),
            day(5),
        )
        .unwrap();
        assert_eq!(again.status, PaymentStatus::Authorized);
        assert_eq!(again.authorized_by, Some(user(4)));
        assert_eq!(again.liquidation.as_ref().unwrap().number, "2");
        let done = record(
            &again,
            &region,
            &paid(act("MP", day(6))),
            ledger("0.00"),
            day(6),
        )
        .unwrap();
        assert_eq!(done.status, PaymentStatus::Paid);
    }

    #[test]
    fn a_payment_is_cancelled_with_a_reason_while_not_paid() {
        let ats = evaluator(1, AgencyCode::Montagna);
        assert_eq!(
            fields(&cancel(&advance(), &ats, Some(" ")).unwrap_err()),
            vec![("reason".into(), "invalid_text")]
        );
        assert_eq!(
            step_code(cancel(&advance(), &applicant(7), Some("no"))),
            (true, "role_not_allowed")
        );
        assert_eq!(
            step_code(cancel(
                &advance(),
                &evaluator(8, AgencyCode::Pavia),
                Some("no")
            )),
            (true, "other_agency")
        );
        let c = cancel(&advance(), &ats, Some("Renounced")).unwrap();
        assert_eq!(c.status, PaymentStatus::Cancelled);
        assert_eq!(c.cancelled_by, Some(user(1)));
        assert_eq!(
            step_code(authorize(
                &c,
                &ats,
                &act("1", day(3)),
                ledger("0.00"),
                day(3)
            )),
            (false, "payment_cancelled")
        );
        assert_eq!(
            step_code(cancel(&c, &admin(2), Some("again"))),
            (false, "payment_cancelled")
        );
        let p = authorize(&advance(), &ats, &act("1", day(3)), ledger("0.00"), day(3)).unwrap();
        assert!(cancel(&p, &admin(2), Some("Wrong amount")).is_ok());
        let p = record(
            &p,
            &admin(2),
            &paid(act("MP", day(3))),
            ledger("0.00"),
            day(3),
        )
        .unwrap();
        assert_eq!(
            step_code(cancel(&p, &admin(2), Some("too late"))),
            (false, "payment_already_paid")
        );
    }

    #[test]
    fn the_start_makes_the_advance_due() {
        let plan = PostAwardRules::default().payment_plan;
        let due =
            payments_due_at_start(user(99), AgencyCode::Montagna, &plan, m("50000.00")).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(
            (due[0].tranche.as_str(), due[0].amount, due[0].status),
            ("advance", m("35000.00"), PaymentStatus::Due)
        );
        assert_eq!(
            (due[0].grant_id, due[0].agency),
            (user(99), AgencyCode::Montagna)
        );
        assert_eq!(
            payments_due_at_start(user(99), AgencyCode::Montagna, &plan, m("0.01")).unwrap(),
            vec![]
        );
    }

    #[test]
    fn an_ending_grant_cancels_what_it_has_not_paid() {
        let due = advance();
        let cancelled = cancelled_by_end(&due, user(5), "Grant revoked").unwrap();
        assert_eq!(
            (
                cancelled.status,
                cancelled.cancelled_by,
                cancelled.cancel_reason.as_deref()
            ),
            (
                PaymentStatus::Cancelled,
                Some(user(5)),
                Some("Grant revoked")
            )
        );
        let paid = Payment {
            status: PaymentStatus::Paid,
            ..due
        };
        assert_eq!(cancelled_by_end(&paid, user(5), "x"), None);
        assert_eq!(cancelled_by_end(&cancelled, user(5), "x"), None);
    }

    #[test]
    fn statuses_read_back() {
        for s in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(PaymentStatus::parse("refunded"), None);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Authorize {
            payment: usize,
            actor: usize,
            act_ok: bool,
        },
        Paid {
            payment: usize,
            actor: usize,
            act_ok: bool,
        },
        Failed {
            payment: usize,
            actor: usize,
        },
        Cancel {
            payment: usize,
            actor: usize,
        },
        /// A payment due of any amount, as a mistaken balance or a tranche computed twice
        /// would make one.
        Add {
            cents: i64,
        },
    }

    fn actors() -> Vec<Actor> {
        vec![
            evaluator(1, AgencyCode::Montagna),
            evaluator(2, AgencyCode::Montagna),
            evaluator(3, AgencyCode::Milano),
            admin(4),
            admin(5),
            // The first evaluator, made an administrator.
            admin(1),
            applicant(6),
        ]
    }

    /// Mostly the people who may act (the ATS's evaluators, two administrators, the
    /// evaluator made an administrator), sometimes those who may not.
    fn actor() -> impl Strategy<Value = usize> {
        prop_oneof![
            3 => Just(0usize),
            3 => Just(1usize),
            1 => Just(2usize),
            3 => Just(3usize),
            3 => Just(4usize),
            2 => Just(5usize),
            1 => Just(6usize),
        ]
    }

    /// Operations weighted towards authorizing and paying, with acts mostly complete, so
    /// that the ceiling is what stops a payment.
    fn op(grant_cents: i64) -> impl Strategy<Value = Op> {
        let i = 0usize..8;
        let ok = proptest::bool::weighted(0.9);
        prop_oneof![
            4 => (i.clone(), actor(), ok).prop_map(|(payment, actor, act_ok)| {
                Op::Authorize {
                    payment,
                    actor,
                    act_ok,
                }
            }),
            4 => (i.clone(), actor(), ok).prop_map(|(payment, actor, act_ok)| Op::Paid {
                payment,
                actor,
                act_ok
            }),
            1 => (i.clone(), actor()).prop_map(|(payment, actor)| Op::Failed { payment, actor }),
            1 => (i, actor()).prop_map(|(payment, actor)| Op::Cancel { payment, actor }),
            2 => (0..=grant_cents).prop_map(|cents| Op::Add { cents }),
        ]
    }

    fn scenario() -> impl Strategy<Value = (i64, Vec<Op>)> {
        (1i64..=10_000_000).prop_flat_map(|g| (Just(g), proptest::collection::vec(op(g), 0..60)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// No sequence of operations, by anyone, pays more than the grant; and no payment is
        /// paid on the word of the person who authorized it.
        #[test]
        fn no_sequence_of_operations_pays_more_than_the_grant((grant_cents, ops) in scenario()) {
            let grant = Money::from_cents(grant_cents).unwrap();
            let today = day(10);
            let actors = actors();
            let plan = PostAwardRules::default().payment_plan;
            let mut payments: Vec<Payment> = plan
                .iter()
                .zip(tranche_amounts(&plan, grant).unwrap())
                .map(|(t, a)| Payment::due(user(99), AgencyCode::Montagna, t.code.clone(), a))
                .collect();
            for op in ops {
                let ledger_for = |payments: &[Payment], i: usize| Ledger {
                    paid: total_paid(payments.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, p)| p)),
                    ceiling: grant,
                };
                let act_of = |ok: bool| if ok { act("A-1", today) } else { ActInput::default() };
                let (i, outcome) = match op {
                    Op::Add { cents } => {
                        payments.push(Payment::due(user(99), AgencyCode::Montagna, "extra", Money::from_cents(cents).unwrap()));
                        continue;
                    }
                    Op::Authorize { payment, actor, act_ok } => {
                        let i = payment % payments.len();
                        (i, authorize(&payments[i], &actors[actor], &act_of(act_ok), ledger_for(&payments, i), today))
                    }
                    Op::Paid { payment, actor, act_ok } => {
                        let i = payment % payments.len();
                        (i, record(&payments[i], &actors[actor], &paid(act_of(act_ok)), ledger_for(&payments, i), today))
                    }
                    Op::Failed { payment, actor } => {
                        let i = payment % payments.len();
                        (i, record(&payments[i], &actors[actor], &Recording::Failed { reason: Some("bounced".into()) }, ledger_for(&payments, i), today))
                    }
                    Op::Cancel { payment, actor } => {
                        let i = payment % payments.len();
                        (i, cancel(&payments[i], &actors[actor], Some("mistake")))
                    }
                };
                if let Ok(p) = outcome {
                    payments[i] = p;
                }
                prop_assert!(total_paid(&payments) <= grant, "{} paid of {}", total_paid(&payments), grant);
                for p in payments.iter().filter(|p| p.status == PaymentStatus::Paid) {
                    prop_assert!(p.recorded_by != p.authorized_by);
                    prop_assert!(p.liquidation.is_some() && p.order.is_some());
                }
            }
        }
    }
}
