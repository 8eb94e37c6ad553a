//! After the offer, part 3: variations of a project (budget shifts, partner changes,
//! extensions), each approved one a new version of the project.

use crate::both;
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn fields(p: &Value) -> Vec<String> {
    let mut v: Vec<String> = violations(p)
        .into_iter()
        .map(|(f, c)| format!("{f}:{c}"))
        .collect();
    v.sort();
    v
}

/// The seeded started grant's budget lines with the amounts given, in order (services by the
/// enterprise, services, coordination, communication by the lead).
fn lines(enterprise: &str, lead: &str, amounts: [&str; 4]) -> Value {
    json!([
        {"category": "EMPLOYEE_SERVICES", "description": "Baby-sitting e centri estivi", "amount": amounts[0], "borne_by": enterprise},
        {"category": "EMPLOYEE_SERVICES", "description": "Trasporto casa-lavoro", "amount": amounts[1], "borne_by": lead},
        {"category": "COORDINATION", "description": "Coordinamento del progetto", "amount": amounts[2], "borne_by": lead},
        {"category": "COMMUNICATION", "description": "Comunicazione ai dipendenti", "amount": amounts[3], "borne_by": lead},
    ])
}

both!(async fn a_shift_within_the_tolerance_applies_at_once_others_wait_for_the_ats_and_every_version_stays(app) {
    let admin = app.login(ADMIN).await;
    let applicant = app.login(APPLICANT).await;
    let evaluator = app.login(EVALUATOR_MONTAGNA).await;
    let brescia = app.login(EVALUATOR_BRESCIA).await;
    let call = app.call_id(welfare_grants::seed::STARTED_CALL_CODE).await;
    let grants: Value = app.get(&format!("/api/v1/grants?call_id={call}"), Some(&applicant)).await.json().await.unwrap();
    let grant = grants["items"][0].clone();
    let g = grant["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/grants/{g}/variations");
    let listed: Value = app.get(&path, Some(&applicant)).await.json().await.unwrap();
    let current = &listed["current"];
    assert_eq!((current["version"].as_i64(), listed["items"].clone()), (Some(1), json!([])));
    let members: Vec<(String, String)> = current["members"].as_array().unwrap().iter()
        .map(|m| (m["role"].as_str().unwrap().to_owned(), m["organization_id"].as_str().unwrap().to_owned())).collect();
    let lead = members.iter().find(|(r, _)| r == "lead").unwrap().1.clone();
    let enterprise = current["lines"][0]["borne_by"].as_str().unwrap().to_owned();
    let end = current["end_date"].as_str().unwrap().to_owned();
    assert_eq!(end, grant["end_date"].as_str().unwrap());

    // Coordination +1,000.00 (of 6,000.00) and services -1,000.00 (of 52,000.00): within 20%,
    // the caps hold, the total stays: approved at once.
    let shift = |amounts: [&str; 4]| json!({"kind": "budget_shift", "reasons": "Più ore di coordinamento.", "budget": {"lines": lines(&enterprise, &lead, amounts)}});
    problem(app.post(&path, Some(&evaluator), &shift(["40000.00", "11000.00", "7000.00", "2000.00"])).await, StatusCode::FORBIDDEN).await;
    let res = app.post(&path, Some(&applicant), &shift(["40000.00", "11000.00", "7000.00", "2000.00"])).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let first: Value = res.json().await.unwrap();
    assert_eq!((first["status"].as_str(), first["automatic"].as_bool(), first["project_version"].as_i64()), (Some("approved"), Some(true), Some(2)), "{first}");

    // A cap broken and the total changed: both said, nothing written.
    let p = problem(app.post(&path, Some(&applicant), &shift(["40000.00", "11000.00", "7000.00", "4000.00"])).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&p), vec!["budget.lines:budget_total_changed", "budget.lines:category_above_cap"], "{p}");
    let p = problem(app.post(&path, Some(&applicant), &json!({"kind": "budget_shift", "budget": {"lines": lines(&enterprise, &lead, ["40000.00", "11000.00", "7000.00", "2000.00"])}})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&p), vec!["reasons:missing_field"]);

    // Coordination +300.00 more: within 20% of the current 7,000.00, but 7,300.00 is beyond 20%
    // of the approved 6,000.00, so automatic shifts do not add up: the ATS decides. One
    // variation at a time.
    let res = app.post(&path, Some(&applicant), &shift(["40000.00", "10700.00", "7300.00", "2000.00"])).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let second: Value = res.json().await.unwrap();
    assert_eq!((second["status"].as_str(), second["automatic"].as_bool()), (Some("pending"), Some(false)));
    let inbox: Value = app.get("/api/v1/notifications", Some(&evaluator)).await.json().await.unwrap();
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == "variation_requested"), "{inbox}");
    let extension = |d: &str| json!({"kind": "extension", "reasons": "I centri estivi chiudono a settembre.", "end_date": d});
    let later = |months: u32| (chrono::NaiveDate::parse_from_str(&end, "%Y-%m-%d").unwrap() + chrono::Months::new(months)).to_string();
    assert_eq!(problem(app.post(&path, Some(&applicant), &extension(&later(2))).await, StatusCode::CONFLICT).await["code"], "variation_open");
    let decide = format!("{path}/{}/decision", second["id"].as_str().unwrap());
    problem(app.post(&decide, Some(&brescia), &json!({"outcome": "approved"})).await, StatusCode::NOT_FOUND).await;
    problem(app.post(&decide, Some(&admin), &json!({"outcome": "approved"})).await, StatusCode::FORBIDDEN).await;
    let p = problem(app.post(&decide, Some(&evaluator), &json!({"outcome": "rejected"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&p), vec!["note:missing_field"]);
    let res = app.post(&decide, Some(&evaluator), &json!({"outcome": "approved"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let decided: Value = res.json().await.unwrap();
    assert_eq!((decided["status"].as_str(), decided["project_version"].as_i64()), (Some("approved"), Some(3)));
    assert_eq!(problem(app.post(&decide, Some(&evaluator), &json!({"outcome": "rejected", "note": "No."})).await, StatusCode::CONFLICT).await["code"], "variation_decided");
    let inbox: Value = app.get("/api/v1/notifications", Some(&applicant)).await.json().await.unwrap();
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == "variation_decided"), "{inbox}");

    // Removing a partner breaks the composition rules (four members at least): refused, with
    // the rule named as in the eligibility report.
    let others: Vec<&String> = members.iter().filter(|(r, id)| r != "lead" && *id != enterprise).map(|(_, id)| id).collect();
    let p = problem(app.post(&path, Some(&applicant), &json!({"kind": "partner_change", "reasons": "Il partner si ritira.", "remove": [others[0]]})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let f = fields(&p);
    assert!(f.contains(&"members:partnership_min_members".to_owned()), "{p}");
    assert!(f.iter().all(|x| x.starts_with("members:partnership_")), "{p}");
    // The lead stays, and a member that bears costs moves them first.
    let p = problem(app.post(&path, Some(&applicant), &json!({"kind": "partner_change", "reasons": "x", "remove": [lead, enterprise]})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let f = fields(&p);
    assert!(f.contains(&"remove[0]:cannot_remove_lead".to_owned()) && f.contains(&"budget.lines[0].borne_by:not_a_member".to_owned()), "{p}");

    // An extension: at most 3 months after the original end, decided by the ATS.
    let p = problem(app.post(&path, Some(&applicant), &extension(&later(4))).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&p), vec!["end_date:extension_too_long"]);
    let res = app.post(&path, Some(&applicant), &extension(&later(2))).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let third: Value = res.json().await.unwrap();
    assert_eq!(third["status"], "pending");
    let res = app.post(&format!("{path}/{}/decision", third["id"].as_str().unwrap()), Some(&evaluator), &json!({"outcome": "approved", "note": "Motivata."})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let seen: Value = app.get(&format!("/api/v1/grants/{g}"), Some(&applicant)).await.json().await.unwrap();
    assert_eq!(seen["end_date"], later(2));
    let report: Value = app.get(&format!("/api/v1/grants/{g}/final-report"), Some(&applicant)).await.json().await.unwrap();
    let deadline = (chrono::NaiveDate::parse_from_str(&later(2), "%Y-%m-%d").unwrap() + chrono::Days::new(60)).to_string();
    assert_eq!(report["deadline"], deadline, "the report's deadline follows the extension");

    // Every version stays readable: the current one is the fourth.
    let listed: Value = app.get(&path, Some(&evaluator)).await.json().await.unwrap();
    assert_eq!(listed["current"]["version"], 4);
    assert_eq!(listed["current"]["end_date"], later(2));
    assert_eq!(listed["current"]["lines"][2]["amount"], "7300.00");
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!((items[0]["before"]["version"].as_i64(), items[0]["before"]["lines"][2]["amount"].as_str()), (Some(1), Some("6000.00")));
    assert_eq!(app.get(&format!("{path}/{}", items[1]["id"].as_str().unwrap()), Some(&app.login(EVALUATOR_BRESCIA).await)).await.status(), StatusCode::NOT_FOUND);
    let audit: Value = app.get("/api/v1/audit-events?entity_type=variation&per_page=50", Some(&admin)).await.json().await.unwrap();
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"variation.requested") && actions.contains(&"variation.decided"), "{actions:?}");

    // A revoked project changes no more.
    let res = app.post(&format!("/api/v1/grants/{g}/revoke"), Some(&admin), &json!({"reason": "Prova."})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(problem(app.post(&path, Some(&applicant), &extension(&later(3))).await, StatusCode::CONFLICT).await["code"], "project_not_live");
});

both!(async fn a_new_partner_joins_a_project_only_with_its_consent_and_the_ats_decision(app) {
    let applicant = app.login(APPLICANT).await;
    let evaluator = app.login(EVALUATOR_MONTAGNA).await;
    let other = app.login(crate::applications::APPLICANT2).await;
    let call = app.call_id(welfare_grants::seed::STARTED_CALL_CODE).await;
    let grants: Value = app.get(&format!("/api/v1/grants?call_id={call}"), Some(&applicant)).await.json().await.unwrap();
    let g = grants["items"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/grants/{g}/variations");
    // Two enterprises that the lead's representative does not represent, of two other users.
    let newcomer = crate::registry::register(&app, &other, &crate::registry::enterprise(71, "SO", &["SO"], "3", Some("200000.00"), None)).await;
    let res = app.post("/api/v1/auth/register", None, &json!({"username": "terza.impresa@example.org", "password": "a long and private passphrase", "full_name": "Terza Impresa"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let third = app.login(("terza.impresa@example.org", "a long and private passphrase")).await;
    let second = crate::registry::register(&app, &third, &crate::registry::enterprise(72, "SO", &["SO"], "5", Some("300000.00"), None)).await;
    let add = json!({"kind": "partner_change", "reasons": "Due imprese in più offrono il servizio.",
        "add": [{"organization_id": newcomer, "role": "full_partner"}, {"organization_id": second, "role": "full_partner"}]});
    let res = app.post(&path, Some(&applicant), &add).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["status"], "awaiting_consent", "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let inbox: Value = app.get("/api/v1/notifications", Some(&other)).await.json().await.unwrap();
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == "variation_consent_requested"), "{inbox}");

    // The ATS waits for the consent; only the newcomer's representatives give it.
    assert_eq!(problem(app.post(&format!("{path}/{id}/decision"), Some(&evaluator), &json!({"outcome": "approved"})).await, StatusCode::CONFLICT).await["code"], "variation_awaiting_consent");
    problem(app.post(&format!("{path}/{id}/consent"), Some(&applicant), &json!({"accept": true})).await, StatusCode::NOT_FOUND).await;
    // One consent is not enough: every added organization consents.
    let res = app.post(&format!("{path}/{id}/consent"), Some(&other), &json!({"accept": true})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let half: Value = res.json().await.unwrap();
    assert_eq!((half["status"].as_str(), half["consents"].clone()), (Some("awaiting_consent"), json!([newcomer])));
    assert_eq!(problem(app.post(&format!("{path}/{id}/consent"), Some(&other), &json!({"accept": true})).await, StatusCode::CONFLICT).await["code"], "variation_decided");
    let res = app.post(&format!("{path}/{id}/consent"), Some(&third), &json!({"accept": true})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "pending");
    let res = app.post(&format!("{path}/{id}/decision"), Some(&evaluator), &json!({"outcome": "approved"})).await;
    assert_eq!(res.status(), StatusCode::OK);

    // The project's new members read it, and bear costs in the final report.
    let listed: Value = app.get(&path, Some(&applicant)).await.json().await.unwrap();
    assert_eq!(listed["current"]["members"].as_array().unwrap().len(), 6);
    assert_eq!(app.get(&format!("/api/v1/grants/{g}"), Some(&third)).await.status(), StatusCode::OK);
    // Removed again, its representatives no longer see the project.
    let res = app.post(&path, Some(&applicant), &json!({"kind": "partner_change", "reasons": "L'impresa si ritira.", "remove": [second]})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let removal: Value = res.json().await.unwrap();
    assert_eq!(removal["status"], "pending");
    let res = app.post(&format!("{path}/{}/decision", removal["id"].as_str().unwrap()), Some(&evaluator), &json!({"outcome": "approved"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    problem(app.get(&format!("/api/v1/grants/{g}"), Some(&third)).await, StatusCode::NOT_FOUND).await;
    let report = format!("/api/v1/grants/{g}/final-report");
    let tag = app.get(&report, Some(&applicant)).await.headers()["etag"].to_str().unwrap().to_owned();
    let res = app.patch(&report, Some(&applicant), Some(&tag), &json!({"lines": [{"category": "EMPLOYEE_SERVICES", "description": "Servizi", "amount": "1000.00", "borne_by": newcomer}]})).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
});
