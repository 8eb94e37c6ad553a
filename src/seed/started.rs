//! The third demo call: closed, with ATS Montagna's ranking approved and one grant of the first
//! demo applicant accepted, started, and its advance authorized, so that a tester can record the
//! payment (and, later, walk the final report) without waiting for a window to close.
//!
//! Every step goes through the service, as the demo users would take it over HTTP, on days in
//! the past counted back from the seeding: the audit log, the histories, the receipt, the
//! notifications and the ledger are the real ones.

use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, Utc};
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{DEMO_ORGANIZATIONS, DEMO_USERS, call, envelopes_2022};
use crate::auth::AuthUser;
use crate::clock::Clock;
use crate::domain::agency::AgencyCode;
use crate::domain::application::{ApplicationContent, Budget, CostLine};
use crate::domain::award::ActInput;
use crate::domain::call::{Window, rome, rome_day};
use crate::domain::event::Actor;
use crate::domain::money::Money;
use crate::domain::partnership::ParticipationRole;
use crate::domain::points::Points;
use crate::domain::review::{CriterionScore, Decision};
use crate::error::ApiError;
use crate::service::{applications, documents, grants, partnerships, payments, rankings, review};
use crate::store::{calls, organizations, users};

/// The code of the closed demo call with a started grant.
pub const STARTED_CALL_CODE: &str = "RLD-DEMO-CONCILIAZIONE-CHIUSO";
/// The CUP of the seeded grant.
pub const STARTED_GRANT_CUP: &str = "J51B26000010002";
/// The liquidation act of the seeded grant's advance.
pub const ADVANCE_LIQUIDATION_ACT: &str = "DDG 101/DEMO";

/// The clock of one seeded step: the moment it happened.
struct At(DateTime<Utc>);

impl Clock for At {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// The days of the story, counted back from the day of seeding (Europe/Rome).
struct Story {
    today: NaiveDate,
}

impl Story {
    fn day(&self, back: u64) -> anyhow::Result<NaiveDate> {
        self.today
            .checked_sub_days(Days::new(back))
            .ok_or_else(|| anyhow::anyhow!("date underflow"))
    }

    fn at(&self, back: u64, hour: u32) -> anyhow::Result<DateTime<Utc>> {
        use chrono::Datelike;
        let d = self.day(back)?;
        Ok(rome(d.year(), d.month(), d.day(), hour, 0))
    }
}

/// A demo user acting, as the service sees a caller.
async fn caller(db: &DatabaseConnection, username: &str) -> anyhow::Result<AuthUser> {
    let u = users::get_by_username(db, username)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo user {username} is missing"))?;
    Ok(AuthUser {
        id: u.id,
        username: u.username,
        role: u.role,
        agency: u.agency,
        session_id: None,
        token_id: None,
    })
}

fn step(what: &'static str) -> impl FnOnce(ApiError) -> anyhow::Error {
    move |e| anyhow::anyhow!("seeding the closed demo call: {what}: {e}")
}

/// Seed the closed call and its story, once: nothing when its code exists.
pub async fn run(db: &DatabaseConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
    if calls::code_exists(db, STARTED_CALL_CODE).await? {
        return Ok(());
    }
    let days = Story {
        today: rome_day(now),
    };
    // The story: published, open for 60 days, closed 90 days ago; then review, ranking,
    // acceptance, start, and the advance authorized a week ago.
    let published = days.at(155, 12)?;
    let window = Window::new(days.at(150, 12)?, days.at(90, 12)?)
        .map_err(|v| anyhow::anyhow!("{}", v.message.en))?;
    let (submitted, reviewed, approved, accepted, started, authorized) = (
        days.at(140, 10)?,
        days.at(80, 10)?,
        days.at(60, 10)?,
        days.at(50, 10)?,
        days.at(40, 10)?,
        days.at(7, 10)?,
    );

    // The call: the rules of 2022, but one evaluation is enough (the demo has one evaluator
    // per ATS).
    let mut c = call(
        STARTED_CALL_CODE,
        "Edizione dimostrativa chiusa: avviso conciliazione e welfare aziendale (graduatoria ATS Montagna approvata, un progetto avviato)",
        "Dati dimostrativi: nessun atto",
        window,
        published,
        published,
    )?;
    c.description.push_str(
        " Dati dimostrativi: stesse regole dell'avviso 2022, salvo che basta una valutazione per domanda \
(la demo ha un solo valutatore per ATS).",
    );
    c.rules.scoring.evaluators_required = 1;
    let envelopes = envelopes_2022(c.total_budget)?;
    crate::service::calls::create(db, &Actor::system(), published, &c, &envelopes, &[])
        .await
        .map_err(step("the call"))?;
    let call_id = c.id;

    let applicant = caller(db, DEMO_USERS[3].username).await?;
    let evaluator = caller(db, DEMO_USERS[1].username).await?;

    // The partnership of the demo organizations in this call (a partnership is per call).
    let mut ids = Vec::new();
    for o in &DEMO_ORGANIZATIONS {
        let org = organizations::get_by_tax_code(db, o.0)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the demo organization {} is missing", o.2))?;
        ids.push(org.id);
    }
    let (lead, members) = ids
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("no demo organizations"))?;
    let members: Vec<(Uuid, ParticipationRole)> = members
        .iter()
        .map(|id| (*id, ParticipationRole::FullPartner))
        .collect();
    let partnership = partnerships::form(
        db,
        &applicant.actor(),
        submitted,
        call_id,
        "Rete Valtellina per la conciliazione (demo, edizione chiusa)",
        *lead,
        &members,
    )
    .await
    .map_err(step("the partnership"))?;

    // The application: complete, for ATS Montagna, with its agreement registered as a file
    // kept elsewhere (seeding keeps no bytes), submitted inside the window.
    let project_start = days.day(45)?;
    let content = content(*lead, &ids, project_start, c.rules.project_duration_months)?;
    let draft = applications::create(db, &applicant, submitted, || {
        Ok(applications::NewApplication {
            partnership_id: partnership.id,
            content,
        })
    })
    .await
    .map_err(step("the application"))?;
    let application_id = draft.app.id;
    let agreement = b"Accordo di partenariato (demo): Rete Valtellina per la conciliazione";
    documents::register_external(db, &applicant, submitted, application_id, || {
        Ok(applications::NewDocument {
            kind: "partnership_agreement".into(),
            file_name: "accordo-di-partenariato.pdf".into(),
            size_bytes: i64::try_from(agreement.len()).unwrap_or(i64::MAX),
            sha256: hex::encode(Sha256::digest(agreement)),
            organization_id: None,
            media_type: None,
            signature_report: None,
        })
    })
    .await
    .map_err(step("the agreement"))?;
    let clock: Arc<dyn Clock> = Arc::new(At(submitted));
    applications::submit(db, &applicant, &clock, application_id, |_| Ok(None))
        .await
        .map_err(step("the submission"))?;

    // The review by the Montagna evaluator: no conflict, admitted, scored 84.
    review::declare(db, &evaluator, reviewed, application_id, || {
        Ok(review::NewDeclaration {
            has_conflict: false,
            statement: None,
        })
    })
    .await
    .map_err(step("the declaration"))?;
    let clock: Arc<dyn Clock> = Arc::new(At(reviewed));
    review::decide_admissibility(db, &evaluator, &clock, application_id, || {
        Ok(review::AdmissibilityInput {
            decision: Decision::Admitted,
            reasons: vec![],
            note: Some("Requisiti formali verificati (demo).".into()),
            question: None,
        })
    })
    .await
    .map_err(step("the admissibility"))?;
    let scores = scores(&c.rules.scoring.criteria)?;
    review::save_evaluation(db, &evaluator, reviewed, application_id, || {
        Ok(review::NewEvaluation {
            scores,
            make_final: true,
        })
    })
    .await
    .map_err(step("the evaluation"))?;

    // The ranking of ATS Montagna, computed and approved with its act.
    rankings::compute(db, &evaluator, approved, call_id, AgencyCode::Montagna)
        .await
        .map_err(step("the ranking"))?;
    let act_date = days.day(60)?;
    rankings::approve(
        db,
        &evaluator,
        approved,
        call_id,
        AgencyCode::Montagna,
        || {
            Ok(rankings::Approval {
                act_number: "Decreto ATS Montagna n. 1/DEMO".into(),
                act_date,
            })
        },
    )
    .await
    .map_err(step("the approval"))?;

    // The offer accepted with its CUP, and the project started.
    let grant = crate::store::grants::of_call(db, call_id)
        .await?
        .into_iter()
        .find(|g| g.application_id == application_id)
        .ok_or_else(|| anyhow::anyhow!("the seeded application was not offered a grant"))?;
    grants::accept(db, &applicant, &At(accepted), grant.id, || {
        Ok(STARTED_GRANT_CUP.to_owned())
    })
    .await
    .map_err(step("the acceptance"))?;
    let start_date = days.day(40)?;
    grants::start(db, &applicant, &At(started), grant.id, || Ok(start_date))
        .await
        .map_err(step("the start"))?;

    // The advance authorized by the ATS: the demo administrator records it paid.
    let advance = crate::store::payments::of_grant(db, grant.id)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("the started grant has no payment due"))?;
    let liquidation_date = days.day(7)?;
    payments::authorize(db, &evaluator, authorized, advance.payment.id, || {
        Ok(ActInput {
            number: Some(ADVANCE_LIQUIDATION_ACT.into()),
            date: Some(liquidation_date),
        })
    })
    .await
    .map_err(step("the advance"))?;
    Ok(())
}

/// The application's content: 60,000.00 of costs, 42,000.00 asked (70%), for `months` from
/// `start`.
fn content(
    lead: Uuid,
    ids: &[Uuid],
    start: NaiveDate,
    months: u32,
) -> anyhow::Result<ApplicationContent> {
    let enterprise = ids.get(2).copied().unwrap_or(lead);
    let line = |category: &str, description: &str, amount: &str, borne_by| {
        Ok::<_, anyhow::Error>(CostLine {
            category: category.into(),
            description: description.into(),
            amount: Money::parse(amount)?,
            borne_by,
        })
    };
    Ok(ApplicationContent {
        agency_code: Some(AgencyCode::Montagna),
        title: Some("Valtellina concilia (demo)".into()),
        summary: Some(
            "Servizi di conciliazione (baby-sitting, centri estivi, trasporto casa-lavoro) per i dipendenti \
delle micro e piccole imprese della rete e le loro famiglie."
                .into(),
        ),
        intervention_areas: vec!["SERVIZI_CURA".into(), "MOBILITA".into()],
        start_date: Some(start),
        end_date: crate::domain::award::end_date(start, months),
        employees_reached: Some(60),
        enterprises_reached: Some(2),
        budget: Budget {
            lines: vec![
                line(
                    "EMPLOYEE_SERVICES",
                    "Baby-sitting e centri estivi",
                    "40000.00",
                    enterprise,
                )?,
                line(
                    "EMPLOYEE_SERVICES",
                    "Trasporto casa-lavoro",
                    "12000.00",
                    lead,
                )?,
                line("COORDINATION", "Coordinamento del progetto", "6000.00", lead)?,
                line("COMMUNICATION", "Comunicazione ai dipendenti", "2000.00", lead)?,
            ],
            requested_grant: Some(Money::parse("42000.00")?),
            co_financing: Some(Money::parse("18000.00")?),
        },
    })
}

/// A final evaluation of every criterion of the grid: 84 of 100 on the 2022 grid.
fn scores(criteria: &[crate::domain::call::Criterion]) -> anyhow::Result<Vec<CriterionScore>> {
    let given = [
        ("QUALITY", "22"),
        ("PARTNERSHIP", "17"),
        ("REACH", "12"),
        ("INNOVATION", "8"),
        ("SUSTAINABILITY", "8"),
        ("BUDGET", "9"),
        ("COMPLEMENTARITY", "8"),
    ];
    criteria
        .iter()
        .map(|c| {
            let score = given
                .iter()
                .find(|(code, _)| *code == c.code)
                .map(|(_, s)| Points::parse(s))
                .transpose()?
                .unwrap_or(c.max);
            Ok(CriterionScore {
                criterion: c.code.clone(),
                score,
                justification: "Valutazione dimostrativa.".into(),
            })
        })
        .collect()
}
