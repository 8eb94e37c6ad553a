//! After the offer: the project's start and its payments, with four eyes.

use crate::both;
use crate::helpers::*;
use crate::rankings::{approve_montagna, scored_round};
use reqwest::StatusCode;
use serde_json::{Value, json};
use welfare_grants::clock::Clock;

const OTHER_MEMBER: (&str, &str) = ("socio@partner.example", "another long private passphrase");
const SECOND_ADMIN: (&str, &str) = (
    "seconda.regione@regione.example",
    "a passphrase for the region",
);

/// Approve ATS Montagna's ranking of a scored round; the grants of 50,000.00 and the
/// applicant's and first evaluator's tokens.
async fn approved_round(app: &TestApp) -> (Vec<String>, String, String) {
    let (_, applicant, first, _) = scored_round(app).await;
    approve_montagna(app, &first).await;
    let grants: Value = app
        .get("/api/v1/grants", Some(&applicant))
        .await
        .json()
        .await
        .unwrap();
    let full = grants["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["amount"] == "50000.00")
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    (full, applicant, first)
}

/// Today in Rome by the test clock, plus `days`.
fn rome_day(app: &TestApp, days: i64) -> String {
    let now = app.clock.now() + chrono::Duration::days(days);
    now.with_timezone(&chrono_tz::Europe::Rome)
        .date_naive()
        .to_string()
}

/// Change a grant's amount behind the service (as a final grant below the award will).
async fn set_grant_amount(app: &TestApp, grant: &str, amount: &str) {
    use sea_orm::{ColumnTrait, Database, EntityTrait, QueryFilter, sea_query::Expr};
    use secrecy::ExposeSecret;
    use welfare_grants::entity::grant as row;
    let db = Database::connect(app.settings.database.url.expose_secret())
        .await
        .unwrap();
    let amount: rust_decimal::Decimal = amount.parse().unwrap();
    let done = row::Entity::update_many()
        .col_expr(row::Column::Amount, Expr::value(amount))
        .filter(row::Column::Id.eq(uuid::Uuid::parse_str(grant).unwrap()))
        .exec(&db)
        .await
        .unwrap();
    assert_eq!(done.rows_affected, 1);
    db.close().await.ok();
}

/// How many versions ATS Montagna's ranking of the demo call has.
async fn versions(app: &TestApp, evaluator: &str) -> usize {
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let path = format!("/api/v1/calls/{demo}/agencies/MONTAGNA/ranking/versions");
    let v: Value = app.get(&path, Some(evaluator)).await.json().await.unwrap();
    v.as_array().unwrap().len()
}

/// The free money of ATS Montagna's envelope of the demo call, by its dashboard.
async fn free(app: &TestApp, evaluator: &str) -> String {
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let path = format!("/api/v1/calls/{demo}/agencies/MONTAGNA/dashboard");
    let d: Value = app.get(&path, Some(evaluator)).await.json().await.unwrap();
    d["free"].as_str().unwrap().to_owned()
}

fn codes(p: &Value) -> Vec<(String, String)> {
    let mut v = violations(p);
    v.sort();
    v
}

both!(async fn an_accepted_grant_starts_and_its_advance_is_authorized_then_paid_by_another_person(app) {
    let (full, applicant, first) = approved_round(&app).await;
    let (g0, g1) = (&full[0], &full[1]);
    let admin = app.login(ADMIN).await;
    let brescia = app.login(EVALUATOR_BRESCIA).await;
    let stranger = app.login(APPLICANT).await;

    // Only an accepted grant starts.
    let start = |g: &str| format!("/api/v1/grants/{g}/start");
    let today = rome_day(&app, 0);
    let p = problem(app.post(&start(g1), Some(&applicant), &json!({"start_date": today})).await, StatusCode::CONFLICT).await;
    assert_eq!(p["code"], "grant_not_accepted");
    let res = app.post(&format!("/api/v1/grants/{g0}/accept"), Some(&applicant), &json!({"cup": "J51B22000120002"})).await;
    let accepted: Value = res.json().await.unwrap();
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["start_date"], Value::Null);
    assert_eq!(accepted["overdue"], false);
    assert!(accepted["start_deadline"].as_str().unwrap().ends_with('Z'), "{accepted}");

    // A member that does not lead reads the grant but does not start it; others never see it.
    let res = app.post("/api/v1/auth/register", None, &json!({"username": OTHER_MEMBER.0, "password": OTHER_MEMBER.1, "full_name": "Socio Partner"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let application: Value = app.get(&format!("/api/v1/applications/{}", accepted["application_id"].as_str().unwrap()), Some(&applicant)).await.json().await.unwrap();
    let partnership: Value = app.get(&format!("/api/v1/partnerships/{}", application["partnership_id"].as_str().unwrap()), Some(&applicant)).await.json().await.unwrap();
    let member = partnership["members"].as_array().unwrap().iter()
        .find(|m| m["role"] != "lead")
        .map(|m| m["organization_id"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no member in {partnership}"));
    let res = app.post(&format!("/api/v1/organizations/{member}/representatives"), Some(&applicant), &json!({"username": OTHER_MEMBER.0})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let other = app.login(OTHER_MEMBER).await;
    assert_eq!(app.get(&format!("/api/v1/grants/{g0}"), Some(&other)).await.status(), StatusCode::OK);
    let body = json!({"start_date": today});
    assert_eq!(problem(app.post(&start(g0), Some(&other), &body).await, StatusCode::FORBIDDEN).await["code"], "lead_only");
    problem(app.post(&start(g0), Some(&stranger), &body).await, StatusCode::NOT_FOUND).await;
    assert_eq!(problem(app.post(&start(g0), Some(&first), &body).await, StatusCode::FORBIDDEN).await["code"], "role_not_allowed");

    // Not before the acceptance; nothing is written by a refusal.
    let p = problem(app.post(&start(g0), Some(&applicant), &json!({"start_date": rome_day(&app, -1)})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(codes(&p), vec![("start_date".to_owned(), "start_before_acceptance".to_owned())]);
    let plan: Value = app.get(&format!("/api/v1/grants/{g0}/payments"), Some(&applicant)).await.json().await.unwrap();
    assert_eq!(plan["payments"], json!([]));

    // The start: the end date follows, and the advance (70%) is due.
    let res = app.post(&start(g0), Some(&applicant), &body).await;
    assert_eq!(res.status(), StatusCode::OK);
    let started: Value = res.json().await.unwrap();
    let start_date = chrono::NaiveDate::parse_from_str(&today, "%Y-%m-%d").unwrap();
    let end = start_date.checked_add_months(chrono::Months::new(12)).unwrap().pred_opt().unwrap();
    assert_eq!((started["start_date"].as_str(), started["end_date"].as_str()), (Some(today.as_str()), Some(end.to_string().as_str())));
    assert_eq!(started["overdue"], false);
    assert!(started["started_at"].is_string());
    let p = problem(app.post(&start(g0), Some(&applicant), &body).await, StatusCode::CONFLICT).await;
    assert_eq!(p["code"], "already_started");

    let plan: Value = app.get(&format!("/api/v1/grants/{g0}/payments"), Some(&applicant)).await.json().await.unwrap();
    assert_eq!(plan["grant_amount"], "50000.00");
    assert_eq!(plan["plan"], json!([
        {"code": "advance", "share": "70.00", "trigger": "start_communicated", "amount": "35000.00"},
        {"code": "balance", "share": "30.00", "trigger": "final_report_approved", "amount": "15000.00"},
    ]));
    assert_eq!((plan["paid"].as_str(), plan["to_pay"].as_str()), (Some("0.00"), Some("50000.00")));
    let payments = plan["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 1);
    let advance = &payments[0];
    assert_eq!((advance["tranche"].as_str(), advance["amount"].as_str(), advance["status"].as_str()), (Some("advance"), Some("35000.00"), Some("due")));
    let id = advance["id"].as_str().unwrap().to_owned();
    let inbox: Value = app.get("/api/v1/notifications", Some(&first)).await.json().await.unwrap();
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == "grant_started"), "{inbox}");

    // The authorization: an evaluator of the grant's ATS, with a complete act.
    let authorize = format!("/api/v1/payments/{id}/authorize");
    let record = format!("/api/v1/payments/{id}/record");
    let act = json!({"liquidation": {"number": "DDG 12/2027", "date": today}});
    // Another ATS does not see the payment at all.
    assert_eq!(problem(app.post(&authorize, Some(&brescia), &act).await, StatusCode::NOT_FOUND).await["code"], "payment_not_found");
    assert_eq!(problem(app.post(&authorize, Some(&admin), &act).await, StatusCode::FORBIDDEN).await["code"], "role_not_allowed");
    assert_eq!(problem(app.post(&authorize, Some(&stranger), &act).await, StatusCode::FORBIDDEN).await["code"], "role_not_allowed");
    assert_eq!(problem(app.post(&authorize, Some(&applicant), &act).await, StatusCode::FORBIDDEN).await["code"], "role_not_allowed");
    let p = problem(app.post(&authorize, Some(&first), &json!({})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(codes(&p), vec![
        ("liquidation.date".to_owned(), "missing_field".to_owned()),
        ("liquidation.number".to_owned(), "missing_field".to_owned()),
    ]);
    let p = problem(app.post(&authorize, Some(&first), &json!({"liquidation": {"number": " ", "date": rome_day(&app, 1)}})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<String> = codes(&p).into_iter().map(|(f, c)| format!("{f}:{c}")).collect();
    assert_eq!(fields.len(), 2, "{p}");
    assert!(fields.contains(&"liquidation.date:act_date_in_future".to_owned()), "{p}");
    assert_eq!(problem(app.post(&record, Some(&admin), &json!({"outcome": "paid", "order": {"number": "MP 1", "date": today}})).await, StatusCode::CONFLICT).await["code"], "payment_not_authorized");
    let res = app.post(&authorize, Some(&first), &act).await;
    assert_eq!(res.status(), StatusCode::OK);
    let authorized: Value = res.json().await.unwrap();
    assert_eq!(authorized["status"], "authorized");
    assert_eq!(authorized["liquidation"], json!({"number": "DDG 12/2027", "date": today}));
    assert!(authorized["authorized_at"].is_string());
    assert_eq!(problem(app.post(&authorize, Some(&first), &act).await, StatusCode::CONFLICT).await["code"], "payment_already_authorized");
    let inbox: Value = app.get("/api/v1/notifications", Some(&admin)).await.json().await.unwrap();
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == "payment_authorized"), "{inbox}");

    // The recording: an administrator, with a complete payment order, never above the grant.
    assert_eq!(problem(app.post(&record, Some(&first), &json!({"outcome": "failed", "reason": "x"})).await, StatusCode::FORBIDDEN).await["code"], "role_not_allowed");
    let p = problem(app.post(&record, Some(&admin), &json!({"outcome": "paid"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(codes(&p), vec![
        ("order.date".to_owned(), "missing_field".to_owned()),
        ("order.number".to_owned(), "missing_field".to_owned()),
    ]);
    let p = problem(app.post(&record, Some(&admin), &json!({"outcome": "paid", "order": {"number": "MP 1", "date": rome_day(&app, -1)}})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(codes(&p), vec![("order.date".to_owned(), "order_before_liquidation".to_owned())]);
    let p = problem(app.post(&record, Some(&admin), &json!({"outcome": "failed"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(codes(&p), vec![("reason".to_owned(), "missing_field".to_owned())]);
    let paid = json!({"outcome": "paid", "order": {"number": "MP 2027/77", "date": today}});
    set_grant_amount(&app, g0, "30000.00").await;
    let p = problem(app.post(&record, Some(&admin), &paid).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(codes(&p), vec![("amount".to_owned(), "payment_above_grant".to_owned())]);
    set_grant_amount(&app, g0, "50000.00").await;

    // Four eyes: a failed order is authorized again by someone who later records it: refused.
    let res = app.post(&record, Some(&admin), &json!({"outcome": "failed", "reason": "IBAN non valido."})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "failed");
    let res = app.post("/api/v1/users", Some(&admin), &json!({"username": SECOND_ADMIN.0, "password": SECOND_ADMIN.1,
        "full_name": "Funzionario", "role": "evaluator", "agency_code": "MONTAGNA"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let user = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let official = app.login(SECOND_ADMIN).await;
    let res = app.post(&authorize, Some(&official), &json!({"liquidation": {"number": "DDG 13/2027", "date": today}})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "authorized");
    let path = format!("/api/v1/users/{user}");
    let tag = app.get(&path, Some(&admin)).await.headers()["etag"].to_str().unwrap().to_owned();
    let res = app.patch(&path, Some(&admin), Some(&tag), &json!({"role": "admin", "agency_code": null})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let official = app.login(SECOND_ADMIN).await;
    assert_eq!(problem(app.post(&record, Some(&official), &paid).await, StatusCode::FORBIDDEN).await["code"], "four_eyes");
    let res = app.post(&record, Some(&admin), &paid).await;
    assert_eq!(res.status(), StatusCode::OK);
    let done: Value = res.json().await.unwrap();
    assert_eq!((done["status"].as_str(), done["order"]["number"].as_str()), (Some("paid"), Some("MP 2027/77")));
    assert_eq!(problem(app.post(&format!("/api/v1/payments/{id}/cancel"), Some(&admin), &json!({"reason": "Errore."})).await, StatusCode::CONFLICT).await["code"], "payment_already_paid");

    let plan: Value = app.get(&format!("/api/v1/grants/{g0}/payments"), Some(&applicant)).await.json().await.unwrap();
    assert_eq!((plan["paid"].as_str(), plan["to_pay"].as_str()), (Some("35000.00"), Some("15000.00")));
    let inbox: Value = app.get("/api/v1/notifications", Some(&applicant)).await.json().await.unwrap();
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == "payment_paid"), "{inbox}");

    // The agency's money: committed, and now paid, in the envelopes, the dashboard and the metrics.
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let envelopes: Value = app.get(&format!("/api/v1/calls/{demo}/envelopes"), None).await.json().await.unwrap();
    let montagna = envelopes["items"].as_array().unwrap().iter().find(|e| e["agency_code"] == "MONTAGNA").unwrap();
    assert_eq!((montagna["committed"].as_str(), montagna["paid"].as_str()), (Some("293580.00"), Some("35000.00")), "{montagna}");
    let brescia_envelope = envelopes["items"].as_array().unwrap().iter().find(|e| e["agency_code"] == "BRESCIA").unwrap();
    assert_eq!(brescia_envelope["paid"], "0.00");
    let dashboard: Value = app.get(&format!("/api/v1/calls/{demo}/agencies/MONTAGNA/dashboard"), Some(&first)).await.json().await.unwrap();
    assert_eq!(dashboard["paid"], "35000.00", "{dashboard}");
    let metrics = crate::metrics::scrape(&app, Some(&admin)).await;
    assert_eq!(crate::metrics::sample(&metrics, r#"welfare_grants_paid_eur{agency="MONTAGNA",call="RLD-DEMO-CONCILIAZIONE"}"#), Some(35000.0), "{metrics}");

    // The list of the demo edition's payments (the closed one has a seeded advance), by role
    // and filter.
    let count = |token: String, query: String| {
        let (app, demo) = (&app, &demo);
        async move {
            let list: Value = app.get(&format!("/api/v1/payments?call_id={demo}{query}"), Some(&token)).await.json().await.unwrap();
            list["total"].as_u64().unwrap()
        }
    };
    assert_eq!(count(first.clone(), "&status=paid".into()).await, 1);
    assert_eq!(count(first.clone(), "&status=due".into()).await, 0);
    assert_eq!(count(first.clone(), "&agency_code=BRESCIA".into()).await, 0);
    assert_eq!(count(brescia.clone(), String::new()).await, 0);
    assert_eq!(count(admin.clone(), "&agency_code=MONTAGNA".into()).await, 1);
    assert_eq!(count(applicant.clone(), String::new()).await, 1);
    assert_eq!(count(stranger.clone(), String::new()).await, 0);
    problem(app.get(&format!("/api/v1/payments/{id}"), Some(&stranger)).await, StatusCode::NOT_FOUND).await;
    problem(app.get(&format!("/api/v1/payments/{id}"), Some(&brescia)).await, StatusCode::NOT_FOUND).await;

    // Each step is in the audit log.
    let audit: Value = app.get(&format!("/api/v1/audit-events?entity_type=payment&entity_id={id}"), Some(&admin)).await.json().await.unwrap();
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["payment.authorized", "payment.failed", "payment.paid"] {
        assert!(actions.contains(&action), "{actions:?}");
    }
});

both!(async fn a_late_start_is_accepted_and_flagged_and_a_due_payment_can_be_cancelled(app) {
    let (full, applicant, first) = approved_round(&app).await;
    let g0 = &full[0];
    let admin = app.login(ADMIN).await;
    let res = app.post(&format!("/api/v1/grants/{g0}/accept"), Some(&applicant), &json!({"cup": "J51B22000120002"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    // 61 days later the start deadline (60 days) has passed: the grant is flagged.
    app.clock.set(app.clock.now() + chrono::Duration::days(61));
    let grant: Value = app.get(&format!("/api/v1/grants/{g0}"), Some(&first)).await.json().await.unwrap();
    assert_eq!((grant["overdue"].as_bool(), grant["start_date"].as_str()), (Some(true), None));
    let res = app.post(&format!("/api/v1/grants/{g0}/start"), Some(&applicant), &json!({"start_date": rome_day(&app, 0)})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let started: Value = res.json().await.unwrap();
    assert_eq!(started["overdue"], true);

    let list: Value = app.get(&format!("/api/v1/payments?grant_id={g0}"), Some(&first)).await.json().await.unwrap();
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let cancel = format!("/api/v1/payments/{id}/cancel");
    problem(app.post(&cancel, Some(&applicant), &json!({"reason": "No."})).await, StatusCode::FORBIDDEN).await;
    let p = problem(app.post(&cancel, Some(&first), &json!({})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(codes(&p), vec![("reason".to_owned(), "missing_field".to_owned())]);
    let res = app.post(&cancel, Some(&admin), &json!({"reason": "Coordinate bancarie da verificare."})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cancelled: Value = res.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["cancelled_at"].is_string());
    let act = json!({"liquidation": {"number": "DDG 1", "date": rome_day(&app, 0)}});
    assert_eq!(problem(app.post(&format!("/api/v1/payments/{id}/authorize"), Some(&first), &act).await, StatusCode::CONFLICT).await["code"], "payment_cancelled");
});

both!(async fn a_revoked_grant_cancels_its_open_payments_and_what_it_paid_is_recovered(app) {
    let (full, applicant, first) = approved_round(&app).await;
    let (g0, g1, g2) = (&full[0], &full[1], &full[2]);
    let admin = app.login(ADMIN).await;
    let brescia = app.login(EVALUATOR_BRESCIA).await;
    let today = rome_day(&app, 0);
    for g in [g0, g1, g2] {
        let res = app.post(&format!("/api/v1/grants/{g}/accept"), Some(&applicant), &json!({"cup": "J51B22000120002"})).await;
        assert_eq!(res.status(), StatusCode::OK);
        let res = app.post(&format!("/api/v1/grants/{g}/start"), Some(&applicant), &json!({"start_date": today})).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // g0's advance is paid.
    let advance = |g: &str| {
        let app = &app;
        let first = first.clone();
        let g = g.to_owned();
        async move {
            let list: Value = app.get(&format!("/api/v1/payments?grant_id={g}"), Some(&first)).await.json().await.unwrap();
            list["items"][0]["id"].as_str().unwrap().to_owned()
        }
    };
    let paid = advance(g0).await;
    let res = app.post(&format!("/api/v1/payments/{paid}/authorize"), Some(&first), &json!({"liquidation": {"number": "DDG 5", "date": today}})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.post(&format!("/api/v1/payments/{paid}/record"), Some(&admin), &json!({"outcome": "paid", "order": {"number": "MP 5", "date": today}})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let before = versions(&app, &first).await;

    // Who revokes: the ATS of the grant or the Region; another ATS does not see it.
    let revoke = format!("/api/v1/grants/{g0}/revoke");
    let body = json!({"reason": "Perdita dei requisiti del partenariato.", "cause": "loss_of_requirements",
        "act": {"number": "decreto n. 88", "date": today}});
    problem(app.post(&revoke, Some(&brescia), &body).await, StatusCode::NOT_FOUND).await;
    assert_eq!(problem(app.post(&revoke, Some(&applicant), &body).await, StatusCode::FORBIDDEN).await["code"], "role_not_allowed");
    // An act, when given, has its number and its date; every violation is listed.
    let p = problem(app.post(&revoke, Some(&first), &json!({"reason": " ", "act": {}})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<String> = codes(&p).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, vec!["act.date", "act.number", "reason"], "{p}");
    let res = app.post(&revoke, Some(&first), &body).await;
    assert_eq!(res.status(), StatusCode::OK);
    let revoked: Value = res.json().await.unwrap();
    assert_eq!((revoked["status"].as_str(), revoked["revocation_cause"].as_str()), (Some("revoked"), Some("loss_of_requirements")));
    assert!(revoked["ended_at"].is_string());
    assert_eq!(revoked["revocation_act"], json!({"number": "decreto n. 88", "date": today}));
    assert_eq!(problem(app.post(&revoke, Some(&admin), &body).await, StatusCode::CONFLICT).await["code"], "grant_not_live");
    // Its money went down the reserve list, a new version, but not what it paid: of its
    // 50,000.00, 15,000.00 topped up the partial grant (6,420.00) and 8,580.00 stay free.
    assert_eq!(versions(&app, &first).await, before + 1);
    assert_eq!(free(&app, &first).await, "8580.00");

    // What it paid is a recovery order, due in 30 days.
    let list: Value = app.get(&format!("/api/v1/recoveries?grant_id={g0}"), Some(&applicant)).await.json().await.unwrap();
    assert_eq!(list["total"], 1, "{list}");
    let recovery = &list["items"][0];
    let due = (chrono::NaiveDate::parse_from_str(&today, "%Y-%m-%d").unwrap() + chrono::Days::new(30)).to_string();
    assert_eq!((recovery["amount"].as_str(), recovery["status"].as_str(), recovery["due_date"].as_str()), (Some("35000.00"), Some("issued"), Some(due.as_str())));
    let id = recovery["id"].as_str().unwrap().to_owned();
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let envelopes: Value = app.get(&format!("/api/v1/calls/{demo}/envelopes"), None).await.json().await.unwrap();
    let montagna = envelopes["items"].as_array().unwrap().iter().find(|e| e["agency_code"] == "MONTAGNA").unwrap().clone();
    assert_eq!((montagna["paid"].as_str(), montagna["to_recover"].as_str()), (Some("35000.00"), Some("35000.00")), "{montagna}");
    let metrics = crate::metrics::scrape(&app, Some(&admin)).await;
    assert_eq!(crate::metrics::sample(&metrics, r#"welfare_grants_to_recover_eur{agency="MONTAGNA",call="RLD-DEMO-CONCILIAZIONE"}"#), Some(35000.0), "{metrics}");
    let inbox: Value = app.get("/api/v1/notifications", Some(&applicant)).await.json().await.unwrap();
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == "recovery.issued"), "{inbox}");
    problem(app.get(&format!("/api/v1/recoveries/{id}"), Some(&brescia)).await, StatusCode::NOT_FOUND).await;

    // The Region settles it once, with the payment's reference.
    let settle = format!("/api/v1/recoveries/{id}/settle");
    assert_eq!(problem(app.post(&settle, Some(&first), &json!({"payment_reference": "CRO 1"})).await, StatusCode::FORBIDDEN).await["code"], "role_not_allowed");
    let p = problem(app.post(&settle, Some(&admin), &json!({})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(codes(&p), vec![("payment_reference".to_owned(), "missing_field".to_owned())]);
    let res = app.post(&settle, Some(&admin), &json!({"payment_reference": "CRO 0123456789"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let settled: Value = res.json().await.unwrap();
    assert_eq!((settled["status"].as_str(), settled["payment_reference"].as_str()), (Some("settled"), Some("CRO 0123456789")));
    assert_eq!(problem(app.post(&settle, Some(&admin), &json!({"payment_reference": "CRO 2"})).await, StatusCode::CONFLICT).await["code"], "recovery_settled");
    assert_eq!(problem(app.post(&format!("/api/v1/recoveries/{id}/cancel"), Some(&admin), &json!({"reason": "x"})).await, StatusCode::CONFLICT).await["code"], "recovery_settled");
    let envelopes: Value = app.get(&format!("/api/v1/calls/{demo}/envelopes"), None).await.json().await.unwrap();
    let montagna = envelopes["items"].as_array().unwrap().iter().find(|e| e["agency_code"] == "MONTAGNA").unwrap().clone();
    assert_eq!(montagna["to_recover"], "0.00");
    // Only the money paid back goes down the list now: a new version.
    assert_eq!(versions(&app, &first).await, before + 2);
    assert_eq!(free(&app, &first).await, "43580.00");
    let plan: Value = app.get(&format!("/api/v1/grants/{g0}/payments"), Some(&applicant)).await.json().await.unwrap();
    assert_eq!((plan["paid"].as_str(), plan["to_pay"].as_str()), (Some("35000.00"), Some("0.00")), "an ended grant pays nothing more");

    // The lead renounces g1: its advance, due, is cancelled and nothing is to be recovered.
    let renounce = format!("/api/v1/grants/{g1}/renounce");
    assert_eq!(problem(app.post(&renounce, Some(&first), &json!({})).await, StatusCode::FORBIDDEN).await["code"], "role_not_allowed");
    let res = app.post(&renounce, Some(&applicant), &json!({"reason": "Il partenariato non può proseguire."})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "renounced");
    assert_eq!(problem(app.post(&renounce, Some(&applicant), &json!({})).await, StatusCode::CONFLICT).await["code"], "grant_not_accepted");
    let advance1 = advance(g1).await;
    let p: Value = app.get(&format!("/api/v1/payments/{advance1}"), Some(&first)).await.json().await.unwrap();
    assert_eq!(p["status"], "cancelled", "{p}");
    let audit: Value = app.get(&format!("/api/v1/audit-events?entity_type=payment&entity_id={advance1}"), Some(&admin)).await.json().await.unwrap();
    assert!(audit["items"].as_array().unwrap().iter().any(|e| e["action"] == "payment.cancelled"), "{audit}");
    let list: Value = app.get(&format!("/api/v1/recoveries?grant_id={g1}"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(list["total"], 0);
    assert_eq!(versions(&app, &first).await, before + 3);

    // Past the scorrimento months (12 after the approval), freed money stays in the envelope.
    app.clock.set(app.clock.now() + chrono::Duration::days(400));
    let res = app.post(&format!("/api/v1/grants/{g2}/revoke"), Some(&admin), &json!({"reason": "Progetto non realizzato."})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(versions(&app, &first).await, before + 3);
});

both!(async fn the_closed_demo_call_has_a_started_grant_whose_advance_the_admin_records_paid(app) {
    let admin = app.login(ADMIN).await;
    let applicant = app.login(APPLICANT).await;
    let evaluator = app.login(EVALUATOR_MONTAGNA).await;
    let call = app.call_id(welfare_grants::seed::STARTED_CALL_CODE).await;
    let seen: Value = app.get(&format!("/api/v1/calls/{call}"), None).await.json().await.unwrap();
    assert_eq!((seen["status"].as_str(), seen["window_state"].as_str()), (Some("published"), Some("closed")), "{seen}");
    assert_eq!(seen["rules"]["scoring"]["evaluators_required"], 1);
    let ranking: Value = app.get(&format!("/api/v1/calls/{call}/agencies/MONTAGNA/ranking"), Some(&evaluator)).await.json().await.unwrap();
    assert_eq!(ranking["status"], "approved", "{ranking}");

    // The first demo applicant's grant: accepted with its CUP, started, its advance authorized.
    let grants: Value = app.get(&format!("/api/v1/grants?call_id={call}"), Some(&applicant)).await.json().await.unwrap();
    assert_eq!(grants["total"], 1, "{grants}");
    let grant = &grants["items"][0];
    assert_eq!((grant["status"].as_str(), grant["cup"].as_str(), grant["amount"].as_str()), (Some("accepted"), Some("J51B26000010002"), Some("42000.00")), "{grant}");
    assert!(grant["start_date"].is_string() && grant["end_date"].is_string(), "{grant}");
    assert_eq!(grant["overdue"], false);
    let g = grant["id"].as_str().unwrap().to_owned();
    let plan: Value = app.get(&format!("/api/v1/grants/{g}/payments"), Some(&applicant)).await.json().await.unwrap();
    let payments = plan["payments"].as_array().unwrap();
    assert_eq!(payments.len(), 1, "{plan}");
    let advance = &payments[0];
    assert_eq!((advance["tranche"].as_str(), advance["amount"].as_str(), advance["status"].as_str()), (Some("advance"), Some("29400.00"), Some("authorized")), "{advance}");
    let id = advance["id"].as_str().unwrap().to_owned();

    // Seeding again (a restart) changes nothing.
    let before = seeded_counts(&app, &admin).await;
    let again = welfare_grants::startup::Application::build(app.settings.clone()).await.unwrap();
    drop(again);
    assert_eq!(seeded_counts(&app, &admin).await, before);

    // The demo administrator (not the evaluator who authorized it) records it paid.
    let today = rome_day(&app, 0);
    let res = app.post(&format!("/api/v1/payments/{id}/record"), Some(&admin), &json!({"outcome": "paid", "order": {"number": "MP 2026/1", "date": today}})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let paid: Value = res.json().await.unwrap();
    assert_eq!((paid["status"].as_str(), paid["order"]["number"].as_str()), (Some("paid"), Some("MP 2026/1")));
    let plan: Value = app.get(&format!("/api/v1/grants/{g}/payments"), Some(&applicant)).await.json().await.unwrap();
    assert_eq!((plan["paid"].as_str(), plan["to_pay"].as_str()), (Some("29400.00"), Some("12600.00")));
});

/// What seeding writes, counted: calls, applications, grants, payments, audit events.
async fn seeded_counts(app: &TestApp, admin: &str) -> Vec<u64> {
    let mut counts = Vec::new();
    for path in [
        "/api/v1/calls",
        "/api/v1/applications",
        "/api/v1/grants",
        "/api/v1/payments",
        "/api/v1/audit-events",
    ] {
        let list: Value = app
            .get(&format!("{path}?per_page=1"), Some(admin))
            .await
            .json()
            .await
            .unwrap();
        counts.push(
            list["total"]
                .as_u64()
                .unwrap_or_else(|| panic!("{path}: {list}")),
        );
    }
    counts
}
