//! Demo data: the 2022 call as published, an open demo edition, a closed demo edition with a
//! started grant (`started`), and demo accounts.
//! Idempotent: what already exists (by call code or user name) is left alone.
//!
//! The demo accounts' passwords are public (they are in the README), so they work only while
//! the demo is on: with the demo off, start-up disables them and ends their sessions.

use chrono::{DateTime, Days, DurationRound, NaiveDate, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::domain::agency::AgencyCode;
use crate::domain::call::{
    AmendmentAct, Call, CallRules, CallStatus, EnvelopeSource, FieldChange, PinnedEnvelope, Window,
    envelopes_by_split, rome, window_changes,
};
use crate::domain::event::Actor;
use crate::domain::event::UserEvent;
use crate::domain::money::Money;
use crate::domain::organization::{
    LegalRepresentativeDraft, OrganizationDraft, SeatDraft, SeatKind, Subtype, check_organization,
};
use crate::domain::partnership::ParticipationRole;
use crate::domain::percent::Percent;
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::store::audit;
use crate::store::{calls, organizations, partnerships, users};

mod started;
pub use started::STARTED_CALL_CODE;

/// The code of the 2022 call on Bandi Online.
pub const CALL_2022_CODE: &str = "RLD12022024943";
/// The code of the always-open demo edition.
pub const DEMO_CALL_CODE: &str = "RLD-DEMO-CONCILIAZIONE";

/// A demo account: user name, password (demo only, printed in the README), role, agency,
/// and the Argon2id hash of the password, computed once so that seeding costs nothing.
pub struct DemoUser {
    pub username: &'static str,
    pub password: &'static str,
    pub full_name: &'static str,
    pub role: Role,
    pub agency: Option<AgencyCode>,
    hash: &'static str,
}

pub const DEMO_USERS: [DemoUser; 5] = [
    DemoUser {
        username: "admin@demo.welfare-grants.test",
        password: "demo-admin-password",
        full_name: "Amministratore Regione Lombardia (demo)",
        role: Role::Admin,
        agency: None,
        hash: "$argon2id$v=19$m=19456,t=2,p=1$qV/+6yS47LlajLTjHmicxQ$nNJluekdqmjyhR7Kfhs+CG0e+jUTJOgECLU27IsGB+o",
    },
    DemoUser {
        username: "valutatore.montagna@demo.welfare-grants.test",
        password: "demo-evaluator-password",
        full_name: "Valutatore ATS della Montagna (demo)",
        role: Role::Evaluator,
        agency: Some(AgencyCode::Montagna),
        hash: "$argon2id$v=19$m=19456,t=2,p=1$9CGQqfEJVZf0XdDFaPNujA$Aanu6bbLch8fEPa9QTsDI1LQiRammzCTZX7ybDvkOm4",
    },
    DemoUser {
        username: "valutatore.brescia@demo.welfare-grants.test",
        password: "demo-evaluator-password",
        full_name: "Valutatore ATS di Brescia (demo)",
        role: Role::Evaluator,
        agency: Some(AgencyCode::Brescia),
        hash: "$argon2id$v=19$m=19456,t=2,p=1$9CGQqfEJVZf0XdDFaPNujA$Aanu6bbLch8fEPa9QTsDI1LQiRammzCTZX7ybDvkOm4",
    },
    DemoUser {
        username: "richiedente1@demo.welfare-grants.test",
        password: "demo-applicant-password",
        full_name: "Richiedente Uno (demo)",
        role: Role::Applicant,
        agency: None,
        hash: "$argon2id$v=19$m=19456,t=2,p=1$dAuOBMm/wsSgrGaGGxvhhA$infyZGpVFi7THzFue8R07DXepfP1hdPoqSqslCrv35g",
    },
    DemoUser {
        username: "richiedente2@demo.welfare-grants.test",
        password: "demo-applicant-password",
        full_name: "Richiedente Due (demo)",
        role: Role::Applicant,
        agency: None,
        hash: "$argon2id$v=19$m=19456,t=2,p=1$dAuOBMm/wsSgrGaGGxvhhA$infyZGpVFi7THzFue8R07DXepfP1hdPoqSqslCrv35g",
    },
];

/// The 2022 call's envelopes: Montagna's official figure pinned, the other seven by the
/// 30/70 rule over the approximate populations.
fn envelopes_2022(total: Money) -> anyhow::Result<Vec<crate::domain::call::Envelope>> {
    let populations: Vec<(AgencyCode, u64)> = AgencyCode::ALL
        .iter()
        .map(|a| (*a, a.approximate_population()))
        .collect();
    let pinned = [PinnedEnvelope {
        agency: AgencyCode::Montagna,
        amount: Money::parse("293580.00")?,
        source: EnvelopeSource::Official,
        note: Some("Avviso ATS della Montagna: \"Le risorse regionali assegnate ad ATS Montagna ammontano ad euro 293.580,00\"".into()),
    }];
    let share = Percent::parse("30.00")?;
    envelopes_by_split(total, share, &populations, &pinned)
        .map_err(|v| anyhow::anyhow!("{}", v.message.en))
}

fn call(
    code: &str,
    title: &str,
    legal_basis: &str,
    window: Window,
    published_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<Call> {
    Ok(Call {
        id: Uuid::new_v4(),
        code: code.into(),
        title: title.into(),
        description: "Interventi di conciliazione vita-lavoro e welfare aziendale offerti da partenariati pubblico-privati \
(almeno quattro enti, tra cui un ente pubblico e due micro o piccole imprese) ai dipendenti delle micro e piccole imprese \
con sede operativa in Lombardia, e alle loro famiglie. Contributo fino al 70% del costo complessivo, al massimo 50.000,00 euro per progetto."
            .into(),
        legal_basis: legal_basis.into(),
        status: CallStatus::Published,
        window,
        total_budget: Money::parse("5050000.00")?,
        rules: CallRules::lombardy_2022(),
        cloned_from: None,
        version: 1,
        created_at: now,
        updated_at: now,
        published_at: Some(published_at),
    })
}

/// The audit action of a demo account disabled at start-up because the demo is off.
pub const DEMO_ACCOUNT_DISABLED: &str = "user.demo_disabled";
/// The audit action of a demo account enabled again because the demo is back on.
pub const DEMO_ACCOUNT_ENABLED: &str = "user.demo_enabled";

/// What start-up does with the demo switch: seed what is missing when it is on; disable the
/// demo accounts when it is off.
pub async fn apply(
    db: &DatabaseConnection,
    enabled: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    if enabled {
        run(db, now).await
    } else {
        let n = disable_demo_accounts(db, now).await?;
        if n > 0 {
            tracing::warn!(accounts = n, "the demo is off: its accounts are disabled");
        }
        Ok(())
    }
}

/// Disable every demo account that is still enabled, and end its sessions (its token
/// generation goes up), with an audit event each. How many were disabled.
pub async fn disable_demo_accounts(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut n = 0;
    for u in &DEMO_USERS {
        if switch_account(db, now, u.username, true).await? {
            n += 1;
        }
    }
    Ok(n)
}

/// Disable or enable a demo account; false when it already was. Replicas starting together
/// may race on the same account: a lost race reads it again.
async fn switch_account(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    username: &str,
    disable: bool,
) -> anyhow::Result<bool> {
    let (action, kind) = if disable {
        (DEMO_ACCOUNT_DISABLED, UserEvent::DemoDisabled)
    } else {
        (DEMO_ACCOUNT_ENABLED, UserEvent::DemoEnabled)
    };
    for _ in 0..5 {
        let Some(current) = users::get_by_username(db, username).await? else {
            return Ok(false);
        };
        if current.disabled == disable {
            return Ok(false);
        }
        let changed = crate::service::users::change(
            db,
            &Actor::system(),
            now,
            current.id,
            Some(crate::domain::version::Expected::version(current.version)),
            kind,
            |u| {
                Ok(users::User {
                    disabled: disable,
                    // Tokens issued before the demo went off never work again.
                    token_version: u.token_version + i32::from(disable),
                    ..u.clone()
                })
            },
        )
        .await;
        match changed {
            Ok(_) => return Ok(true),
            Err(ApiError::PreconditionFailed) => continue,
            Err(e) => anyhow::bail!("{action} {username}: {e}"),
        }
    }
    anyhow::bail!("{action} {username}: the account keeps changing")
}

/// Whether the last change of this user was the demo switch disabling it (and not, say, an
/// administrator, whose decision seeding leaves alone).
async fn disabled_by_the_switch(
    db: &DatabaseConnection,
    user: &users::User,
) -> anyhow::Result<bool> {
    let filter = audit::Filter {
        entity_type: Some("user".into()),
        entity_id: Some(user.id.to_string()),
        action: Some(DEMO_ACCOUNT_DISABLED.into()),
        ..Default::default()
    };
    let (events, _) = audit::list(db, &filter, None).await?;
    Ok(events.iter().any(|e| {
        e.after
            .as_deref()
            .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
            .and_then(|a| a["version"].as_i64())
            == Some(i64::from(user.version))
    }))
}

/// Seed what is missing, and enable again the demo accounts that the demo switch disabled.
pub async fn run(db: &DatabaseConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
    let system = Actor::system();
    for u in &DEMO_USERS {
        if let Some(existing) = users::get_by_username(db, u.username).await? {
            if existing.disabled && disabled_by_the_switch(db, &existing).await? {
                switch_account(db, now, u.username, false).await?;
            }
            continue;
        }
        let user = users::User {
            id: Uuid::new_v4(),
            username: u.username.into(),
            password_hash: u.hash.into(),
            full_name: u.full_name.into(),
            role: u.role,
            agency: u.agency,
            disabled: false,
            token_version: 0,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        crate::service::users::add(db, &system, &user)
            .await
            .map_err(|e| anyhow::anyhow!("seeding {}: {e}", u.username))?;
    }

    if !calls::code_exists(db, CALL_2022_CODE).await? {
        let original = Window::new(rome(2022, 5, 4, 12, 0), rome(2022, 6, 15, 12, 0))
            .map_err(|v| anyhow::anyhow!("{}", v.message.en))?;
        let extended = Window::new(rome(2022, 5, 4, 12, 0), rome(2022, 7, 15, 12, 0))
            .map_err(|v| anyhow::anyhow!("{}", v.message.en))?;
        let c = call(
            CALL_2022_CODE,
            "Avviso interventi di conciliazione e welfare aziendale 2022",
            "D.G.R. n. 5755/2021; decreto n. 4683 del 06/04/2022 (approvazione dell'avviso); decreto n. 8343 del 14/06/2022 (proroga)",
            extended,
            rome(2022, 4, 6, 12, 0),
            now,
        )?;
        let envelopes = envelopes_2022(c.total_budget)?;
        let act = AmendmentAct {
            act_number: "decreto n. 8343".into(),
            act_date: NaiveDate::from_ymd_opt(2022, 6, 14).ok_or_else(|| anyhow::anyhow!("date"))?,
            reason: Some("Proroga del termine di presentazione delle domande dal 15/06/2022 al 15/07/2022 ore 12:00".into()),
        };
        let changes: Vec<FieldChange> = window_changes(&original, &extended);
        crate::service::calls::create(db, &system, now, &c, &envelopes, &[(act, changes)])
            .await
            .map_err(|e| anyhow::anyhow!("seeding the 2022 call: {e}"))?;
    }

    if !calls::code_exists(db, DEMO_CALL_CODE).await? {
        let opens = now
            .duration_trunc(chrono::TimeDelta::minutes(1))
            .unwrap_or(now);
        let closes = opens
            .checked_add_days(Days::new(90))
            .ok_or_else(|| anyhow::anyhow!("date overflow"))?;
        let window = Window::new(opens, closes).map_err(|v| anyhow::anyhow!("{}", v.message.en))?;
        let c = call(
            DEMO_CALL_CODE,
            "Edizione dimostrativa: avviso conciliazione e welfare aziendale (stesse regole del 2022, finestra aperta)",
            "Dati dimostrativi: nessun atto",
            window,
            opens,
            now,
        )?;
        let envelopes = envelopes_2022(c.total_budget)?;
        crate::service::calls::create(db, &system, now, &c, &envelopes, &[])
            .await
            .map_err(|e| anyhow::anyhow!("seeding the demo call: {e}"))?;
    }
    seed_partnership(db, now).await?;
    started::run(db, now).await
}

/// One demo organization: tax code, VAT, name, subtype, REA, seats, staff, turnover.
type DemoOrganization = (
    &'static str,
    Option<&'static str>,
    &'static str,
    Subtype,
    Option<&'static str>,
    &'static [(SeatKind, &'static str, &'static str, &'static str)],
    Option<&'static str>,
    Option<&'static str>,
    (&'static str, &'static str),
);

/// The first demo applicant's organizations: a municipality (the lead), a social cooperative,
/// a micro and a small enterprise, all in Lombardy, each with its legal representative.
/// Fictional, with valid check digits.
const DEMO_ORGANIZATIONS: [DemoOrganization; 4] = [
    (
        "90000000019",
        None,
        "Comune di Sondrio (demo)",
        Subtype::Municipality,
        None,
        &[
            (SeatKind::Registered, "Piazza Campello 1", "Sondrio", "SO"),
            (SeatKind::Operating, "Piazza Campello 1", "Sondrio", "SO"),
        ],
        None,
        None,
        ("Laura Bianchi (demo)", "BNCLRA70A41I829F"),
    ),
    (
        "90000000027",
        None,
        "Cooperativa Sociale Valtellina (demo)",
        Subtype::SocialCooperative,
        None,
        &[(SeatKind::Registered, "Via Nazionale 12", "Tirano", "SO")],
        None,
        None,
        ("Giuseppe Verdi (demo)", "VRDGPP75C15I829T"),
    ),
    (
        "09000000035",
        Some("09000000035"),
        "Alfa Servizi S.r.l. (demo)",
        Subtype::Company,
        Some("SO-123456"),
        &[
            (SeatKind::Registered, "Via Trieste 10", "Sondrio", "SO"),
            (SeatKind::Operating, "Via Trieste 10", "Sondrio", "SO"),
        ],
        Some("7.50"),
        Some("850000.00"),
        ("Paolo Ferrari (demo)", "FRRPLA68M10F205T"),
    ),
    (
        "09000000043",
        Some("09000000043"),
        "Beta Logistica S.n.c. (demo)",
        Subtype::Company,
        Some("MI-2345678"),
        &[
            (SeatKind::Registered, "Viale Monza 200", "Milano", "MI"),
            (SeatKind::Operating, "Via Stelvio 5", "Morbegno", "SO"),
        ],
        Some("22.00"),
        Some("3200000.00"),
        ("Gianni Bianchi (demo)", "BNCGNN82E20F712O"),
    ),
];

/// The demo organizations and an eligible partnership in the demo edition, for the first
/// demo applicant, so that a tester can go straight to writing an application.
async fn seed_partnership(db: &DatabaseConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
    let Some(applicant) = users::get_by_username(db, DEMO_USERS[3].username).await? else {
        return Ok(());
    };
    let Some(demo) = calls::get_by_code(db, DEMO_CALL_CODE).await? else {
        return Ok(());
    };
    let actor = Actor {
        user_id: Some(applicant.id),
        role: Some(Role::Applicant),
        request_id: None,
    };
    let mut ids = Vec::new();
    for (tax_code, vat, name, subtype, rea, seats, staff, turnover, (rep_name, rep_code)) in
        DEMO_ORGANIZATIONS
    {
        if let Some(existing) = organizations::get_by_tax_code(db, tax_code).await? {
            ids.push(existing.id);
            continue;
        }
        let draft = OrganizationDraft {
            tax_code: tax_code.into(),
            vat_number: vat.map(String::from),
            legal_name: name.into(),
            category: Some(subtype.category()),
            subtype: Some(subtype),
            chamber_registration: rea.map(String::from),
            seats: seats
                .iter()
                .map(|(kind, address, municipality, province)| SeatDraft {
                    kind: Some(*kind),
                    address: (*address).into(),
                    municipality: (*municipality).into(),
                    province: (*province).into(),
                })
                .collect(),
            staff: staff.map(|s| s.parse()).transpose()?,
            turnover: turnover.map(Money::parse).transpose()?,
            balance_sheet_total: None,
            reference_year: staff.map(|_| 2025),
            legal_representative: Some(LegalRepresentativeDraft {
                full_name: rep_name.into(),
                tax_code: rep_code.into(),
            }),
        };
        let facts = check_organization(&draft, 2026)
            .map_err(|v| anyhow::anyhow!("demo organization {name}: {v:?}"))?;
        let org = crate::service::organizations::add(db, &actor, now, facts, applicant.id)
            .await
            .map_err(|e| anyhow::anyhow!("seeding {name}: {e}"))?;
        ids.push(org.id);
    }
    let lead = ids[0];
    let page = crate::store::Page {
        page: 1,
        per_page: 1,
    };
    let (existing, _) =
        partnerships::list(db, Some(&[lead].into()), None, Some(demo.id), page).await?;
    if existing.is_empty() {
        // The demo applicant represents every member: they join at once.
        let members: Vec<(uuid::Uuid, ParticipationRole)> = ids[1..]
            .iter()
            .map(|id| (*id, ParticipationRole::FullPartner))
            .collect();
        crate::service::partnerships::form(
            db,
            &actor,
            now,
            demo.id,
            "Rete Valtellina per la conciliazione (demo)",
            lead,
            &members,
        )
        .await
        .map_err(|e| anyhow::anyhow!("seeding the demo partnership: {e}"))?;
    }
    Ok(())
}
