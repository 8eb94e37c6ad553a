//! What the service publishes for others to reuse: the 360Giving results validate against the
//! official schemas (copies in `tests/schemas/360giving/`), and every timestamp of an answer
//! has one form.

use crate::applications::{Members, complete_application, members, submit};
use crate::both;
use crate::exports::rows;
use crate::helpers::*;
use crate::rankings::{approve_montagna, scored_round};
use crate::registry::*;
use crate::reports::{evidence, members_of, pay, read, today};
use chrono::Timelike;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const APPLICANT2: (&str, &str) = (
    "richiedente2@demo.welfare-grants.test",
    "demo-applicant-password",
);
const SECOND_MONTAGNA: (&str, &str) = (
    "secondo.montagna@ats-montagna.example",
    "a long and private passphrase",
);
/// The textbook personal tax code: the sole trader's.
const PERSONAL_TAX_CODE: &str = "RSSMRA85T10A562S";

const PACKAGE_SCHEMA: &str = include_str!("../schemas/360giving/360-giving-package-schema.json");
const GRANT_SCHEMA: &str = include_str!("../schemas/360giving/360-giving-schema.json");
/// The URL by which the package schema names the grant schema (of the previous version).
const GRANT_SCHEMA_URL: &str = "https://raw.githubusercontent.com/ThreeSixtyGiving/standard/1.4.2/schema/360-giving-schema.json";

/// Serves the grant schema's URL from the local copy, and nothing else: the test is offline.
struct LocalSchemas;

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        if uri.as_str() == GRANT_SCHEMA_URL {
            Ok(serde_json::from_str(GRANT_SCHEMA)?)
        } else {
            Err(format!("{uri} is not kept in tests/schemas/360giving").into())
        }
    }
}

/// Every way in which the document breaks the 360Giving package schema, formats checked.
fn giving_errors(document: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(PACKAGE_SCHEMA).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .with_retriever(LocalSchemas)
        .build(&schema)
        .expect("the package schema and the grant schema it names compile");
    validator
        .iter_errors(document)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// A partnership led by a sole trader (a natural person), with a public body and two micro or
/// small enterprises, all registered by the caller.
async fn led_by_a_sole_trader(app: &TestApp, token: &str) -> Members {
    let mut sole = enterprise(30, "SO", &["SO"], "2", Some("90000.00"), None);
    sole["subtype"] = json!("sole_trader");
    sole["tax_code"] = json!(PERSONAL_TAX_CODE);
    sole["legal_name"] = json!("Mario Rossi impresa individuale");
    Members {
        lead: register(app, token, &sole).await,
        others: vec![
            register(app, token, &public_body(31, "SO", &["SO"])).await,
            register(
                app,
                token,
                &enterprise(32, "SO", &["SO"], "4", Some("300000.00"), None),
            )
            .await,
            register(
                app,
                token,
                &enterprise(33, "MI", &["MI"], "30", Some("5000000.00"), None),
            )
            .await,
        ],
    }
}

/// Two applications to ATS Montagna, one led by a municipality and one by a sole trader,
/// admitted, scored by two evaluators, ranked and approved; returns the demo call's id.
async fn approved_round(app: &TestApp) -> String {
    let applicant = app.login(APPLICANT2).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let by_municipality = members(app, &applicant, 20).await;
    let by_sole_trader = led_by_a_sole_trader(app, &applicant).await;
    let mut ids = Vec::new();
    for m in [&by_municipality, &by_sole_trader] {
        let id = complete_application(app, &applicant, &demo, m).await;
        let res = submit(app, &applicant, &id, None).await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "{}",
            res.text().await.unwrap()
        );
        ids.push(id);
    }
    let admin = app.login(ADMIN).await;
    let res = app
        .post(
            "/api/v1/users",
            Some(&admin),
            &json!({"username": SECOND_MONTAGNA.0, "password": SECOND_MONTAGNA.1,
                "full_name": "Secondo Valutatore", "role": "evaluator", "agency_code": "MONTAGNA"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let first = app.login(EVALUATOR_MONTAGNA).await;
    let second = app.login(SECOND_MONTAGNA).await;
    let scores: Vec<Value> = [
        ("QUALITY", 23),
        ("PARTNERSHIP", 18),
        ("REACH", 14),
        ("INNOVATION", 9),
        ("SUSTAINABILITY", 9),
        ("BUDGET", 9),
        ("COMPLEMENTARITY", 8),
    ]
    .iter()
    .map(|(c, v)| json!({"criterion": c, "score": v.to_string(), "justification": "Motivazione."}))
    .collect();
    for id in &ids {
        for token in [&first, &second] {
            let res = app
                .post(
                    &format!("/api/v1/applications/{id}/conflict-of-interest"),
                    Some(token),
                    &json!({"has_conflict": false}),
                )
                .await;
            assert_eq!(res.status(), StatusCode::CREATED);
        }
        let res = app
            .post(
                &format!("/api/v1/applications/{id}/admissibility"),
                Some(&first),
                &json!({"decision": "admitted"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        for token in [&first, &second] {
            let res = app
                .request(
                    Method::PUT,
                    &format!("/api/v1/applications/{id}/evaluations/mine"),
                    Some(token),
                    Some(&json!({"scores": scores, "final": true})),
                )
                .await;
            assert_eq!(res.status(), StatusCode::OK);
        }
    }
    app.clock
        .set(chrono::Utc::now() + chrono::Duration::days(100));
    let ranking = format!("/api/v1/calls/{demo}/agencies/MONTAGNA/ranking");
    let res = app.post(&ranking, Some(&first), &json!({})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let act = json!({"act_number": "decreto ATS della Montagna n. 123", "act_date": "2027-03-05"});
    let res = app
        .post(&format!("{ranking}/approve"), Some(&first), &act)
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    demo
}

both!(with |s| s.open_data.giving_prefix = "rl-welfare".into(),
    async fn the_360giving_results_validate_against_the_official_schemas(app) {
    let demo = approved_round(&app).await;
    let res = app.get(&format!("/api/v1/calls/{demo}/results?format=360giving"), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let document: Value = res.json().await.unwrap();
    assert_eq!(giving_errors(&document), Vec::<String>::new(), "{document:#}");

    let grants = document["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 2, "{document:#}");
    for g in grants {
        let protocol = g["id"].as_str().unwrap().strip_prefix("360G-rl-welfare-").expect("the grant is named under the prefix");
        assert!(protocol.starts_with("RLD-DEMO-CONCILIAZIONE-"), "{g}");
        assert_eq!(g["description"], "Servizi di conciliazione per i dipendenti.");
        assert_eq!((g["currency"].as_str(), g["amountAwarded"].as_f64()), (Some("EUR"), Some(24500.0)));
        assert_eq!(g["awardDate"], "2027-03-05");
        assert_eq!(g["fundingOrganization"], json!([{"id": "360G-rl-welfare-ATS-MONTAGNA", "name": "ATS della Montagna"}]));
    }
    // The municipality by its tax code; the sole trader under the prefix, one identifier per
    // grant, with neither its tax code nor its name.
    let recipient = |i: usize| grants[i]["recipientOrganization"][0].clone();
    assert_eq!(recipient(0)["id"], format!("IT-CF-{}", tax_code(20)));
    assert_eq!(recipient(0)["name"], "Ente 20");
    let person = grants.iter().map(|g| g["recipientOrganization"][0].clone()).find(|r| !r["id"].as_str().unwrap().starts_with("IT-CF-")).expect("the sole trader's grant");
    let protocol = grants[1]["id"].as_str().unwrap().strip_prefix("360G-rl-welfare-").unwrap();
    assert_eq!(person["id"], format!("360G-rl-welfare-RECIPIENT-{protocol}"));
    assert_eq!(person["name"], "(natural person)");
    let text = document.to_string();
    assert!(!text.contains(PERSONAL_TAX_CODE) && !text.contains("Mario Rossi"), "{text}");
    // The Region publishes the package.
    assert_eq!(document["publisher"], json!({"identifier": "360G-rl-welfare-REGIONE-LOMBARDIA", "name": "Regione Lombardia"}));

    // The validation is not vacuous: what the service used to answer breaks the schema.
    let mut old = document.clone();
    old["grants"][0].as_object_mut().unwrap().remove("description");
    old["grants"][1]["recipientOrganization"][0]["id"] = Value::Null;
    let errors = giving_errors(&old);
    assert!(errors.iter().any(|e| e.contains("/grants/0")), "{errors:?}");
    assert!(errors.iter().any(|e| e.starts_with("/grants/1/recipientOrganization/0/id")), "{errors:?}");
    // And the date of award must be a date or a full date-time (formats are checked).
    let mut odd = document.clone();
    odd["grants"][0]["awardDate"] = json!("2027-03-05T10:00");
    assert!(!giving_errors(&odd).is_empty());
});

/// `YYYY-MM-DDThh:mm:ss.ffffffZ`.
fn has_the_one_form(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() == 27
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..26)
        && b[26] == b'Z'
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

/// Every string of an answer that is a timestamp, with its path; what is stored as it was
/// written (a receipt's snapshot, the records of the audit log, a call's amendments) is left
/// out, since it is answered as it was stored, and so is a call's window in Europe/Rome
/// (`opens_at_local`, `closes_at_local`: the same instants as `opens_at` and `closes_at`, on
/// the clock of the call's text).
fn timestamps(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {
            out.push((path.to_owned(), s.clone()));
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                timestamps(v, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(fields) => {
            for (k, v) in fields {
                if !["snapshot", "before", "after", "changes"].contains(&k.as_str())
                    && !k.ends_with("_local")
                {
                    timestamps(v, &format!("{path}.{k}"), out);
                }
            }
        }
        _ => {}
    }
}

both!(async fn every_timestamp_of_an_answer_has_six_fraction_digits_and_z(app) {
    // A whole second, which chrono would write with no fraction at all.
    app.clock.set(chrono::Utc::now().with_nanosecond(0).unwrap());
    let applicant = app.login(APPLICANT2).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let m = members(&app, &applicant, 50).await;
    let id = complete_application(&app, &applicant, &demo, &m).await;
    // And a time with nanoseconds, which chrono would write with nine digits.
    app.clock.set(chrono::Utc::now().with_nanosecond(123_456_789).unwrap());
    let receipt = submit(&app, &applicant, &id, None).await;
    assert_eq!(receipt.status(), StatusCode::OK);
    let receipt: Value = receipt.json().await.unwrap();
    let admin = app.login(ADMIN).await;
    let evaluator = app.login(EVALUATOR_MONTAGNA).await;
    let application: Value = app.get(&format!("/api/v1/applications/{id}"), Some(&applicant)).await.json().await.unwrap();
    let answers = [
        ("application", application.clone()),
        ("receipt", receipt),
        ("history", app.get(&format!("/api/v1/applications/{id}/history"), Some(&applicant)).await.json().await.unwrap()),
        ("applications", app.get("/api/v1/applications", Some(&evaluator)).await.json().await.unwrap()),
        ("notifications", app.get("/api/v1/notifications", Some(&evaluator)).await.json().await.unwrap()),
        ("audit events", app.get(&format!("/api/v1/audit-events?entity_id={id}"), Some(&admin)).await.json().await.unwrap()),
        ("call", app.get(&format!("/api/v1/calls/{demo}"), None).await.json().await.unwrap()),
        ("partnership", app.get(&format!("/api/v1/partnerships/{}", application["partnership_id"].as_str().unwrap()), Some(&applicant)).await.json().await.unwrap()),
        ("organization", app.get(&format!("/api/v1/organizations/{}", m.lead), Some(&applicant)).await.json().await.unwrap()),
        ("users", app.get("/api/v1/users", Some(&admin)).await.json().await.unwrap()),
    ];
    let mut found = Vec::new();
    for (name, body) in &answers {
        let before = found.len();
        timestamps(body, name, &mut found);
        assert!(found.len() > before, "{name} has timestamps: {body:#}");
    }
    let wrong: Vec<&(String, String)> = found.iter().filter(|(_, s)| !has_the_one_form(s)).collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The fields the issue named, and the two cases chrono writes otherwise.
    let submitted = application["submitted_at"].as_str().unwrap();
    assert!(submitted.ends_with(".123456Z"), "{submitted}");
    assert!(application["created_at"].as_str().unwrap().ends_with(".000000Z"), "{application}");
    let notified = answers[4].1["items"].as_array().unwrap();
    assert!(!notified.is_empty() && notified.iter().all(|n| has_the_one_form(n["created_at"].as_str().unwrap())));
    let audited = answers[5].1["items"].as_array().unwrap();
    assert!(!audited.is_empty() && audited.iter().all(|e| has_the_one_form(e["occurred_at"].as_str().unwrap())));
    // The submitted snapshot is answered as it was hashed.
    assert_eq!(answers[1].1["snapshot"]["submitted_at"], submitted);
});

/// The public results in JSON and CSV (header first), and the 360Giving package, checked
/// against the schemas.
async fn published(app: &TestApp, call: &str) -> (Vec<Value>, Vec<Vec<String>>, Value) {
    let path = format!("/api/v1/calls/{call}/results");
    let json: Vec<Value> = app.get(&path, None).await.json().await.unwrap();
    let csv = rows(
        &app.get(&format!("{path}?format=csv"), None)
            .await
            .text()
            .await
            .unwrap(),
    );
    let giving: Value = app
        .get(&format!("{path}?format=360giving"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(giving_errors(&giving), Vec::<String>::new(), "{giving:#}");
    (json, csv, giving)
}

/// The row of a protocol number in each form of the results.
fn of_protocol<'a>(
    published: &'a (Vec<Value>, Vec<Vec<String>>, Value),
    protocol: &str,
) -> (&'a Value, &'a Vec<String>, &'a Value) {
    let (json, csv, giving) = published;
    let row = json
        .iter()
        .find(|r| r["protocol_number"] == protocol)
        .expect("the JSON row");
    let at = csv[0].iter().position(|h| h == "protocol_number").unwrap();
    let line = csv[1..]
        .iter()
        .find(|r| r[at] == protocol)
        .expect("the CSV row");
    let grant = giving["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"].as_str().unwrap().ends_with(&format!("-{protocol}")))
        .expect("the 360Giving grant");
    (row, line, grant)
}

/// A CSV cell by its column.
fn cell<'a>(header: &[String], line: &'a [String], name: &str) -> &'a str {
    &line[header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"))]
}

/// The protocol number of a grant's application.
async fn protocol_of(app: &TestApp, token: &str, grant: &Value) -> String {
    let application: Value = app
        .get(
            &format!(
                "/api/v1/applications/{}",
                grant["application_id"].as_str().unwrap()
            ),
            Some(token),
        )
        .await
        .json()
        .await
        .unwrap();
    application["protocol_number"].as_str().unwrap().to_owned()
}

/// The ETag of the public results, asked with the tag held: the status says whether it still
/// serves.
async fn revalidate(app: &TestApp, call: &str, held: &str) -> (StatusCode, String) {
    let res = app
        .client
        .get(app.url(&format!("/api/v1/calls/{call}/results")))
        .header("if-none-match", held)
        .send()
        .await
        .unwrap();
    (
        res.status(),
        res.headers()["etag"].to_str().unwrap().to_owned(),
    )
}

both!(async fn a_started_project_is_published_with_what_it_was_paid_and_its_actual_dates(app) {
    let demo = approved_round(&app).await;
    let applicant = app.login(APPLICANT2).await;
    let evaluator = app.login(EVALUATOR_MONTAGNA).await;
    let admin = app.login(ADMIN).await;
    let all: Value = app.get("/api/v1/grants?per_page=50", Some(&applicant)).await.json().await.unwrap();
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{all}");
    let (started, offered) = (&items[0], &items[1]);
    let (protocol, waiting) = (protocol_of(&app, &applicant, started).await, protocol_of(&app, &applicant, offered).await);
    let g = started["id"].as_str().unwrap();

    // Before the start: the status of each grant, nothing paid, no dates.
    let before = published(&app, &demo).await;
    let (row, line, grant) = of_protocol(&before, &protocol);
    assert_eq!((row["grant_status"].as_str(), row["disbursed"].as_str()), (Some("offered"), Some("0.00")), "{row}");
    assert_eq!((&row["final_grant"], &row["start_date"], &row["end_date"]), (&Value::Null, &Value::Null, &Value::Null), "{row}");
    assert_eq!(cell(&before.1[0], line, "disbursed"), "0.00");
    assert_eq!(grant["amountDisbursed"].as_f64(), Some(0.0), "{grant}");
    assert!(grant.get("actualDates").is_none(), "{grant}");
    let (_, tag) = revalidate(&app, &demo, "\"none\"").await;

    // Accepted, started today, its advance (70% of 24,500.00) authorized by the ATS and paid
    // by the Region.
    let day = today(&app);
    assert_eq!(app.post(&format!("/api/v1/grants/{g}/accept"), Some(&applicant), &json!({"cup": "J51B22000120002"})).await.status(), StatusCode::OK);
    let res = app.post(&format!("/api/v1/grants/{g}/start"), Some(&applicant), &json!({"start_date": day})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let end = res.json::<Value>().await.unwrap()["end_date"].as_str().unwrap().to_owned();
    assert!(end > day, "{end}");
    // Started, not paid yet: the dates show, the cache already serves the new answer.
    let (status, started_tag) = revalidate(&app, &demo, &tag).await;
    assert_eq!(status, StatusCode::OK);
    let plan: Value = app.get(&format!("/api/v1/grants/{g}/payments"), Some(&applicant)).await.json().await.unwrap();
    let advance = &plan["payments"][0];
    assert_eq!(advance["amount"], "17150.00");
    pay(&app, &evaluator, &admin, advance["id"].as_str().unwrap(), false).await;

    // The payment changes what the cache serves.
    let (status, paid_tag) = revalidate(&app, &demo, &started_tag).await;
    assert_eq!(status, StatusCode::OK, "a paid advance is a new answer");
    assert_ne!(paid_tag, started_tag);
    assert_eq!(revalidate(&app, &demo, &paid_tag).await.0, StatusCode::NOT_MODIFIED);

    let after = published(&app, &demo).await;
    let (row, line, grant) = of_protocol(&after, &protocol);
    assert_eq!((row["grant_status"].as_str(), row["disbursed"].as_str(), row["amount"].as_str()), (Some("accepted"), Some("17150.00"), Some("24500.00")), "{row}");
    assert_eq!((row["start_date"].as_str(), row["end_date"].as_str(), &row["final_grant"]), (Some(day.as_str()), Some(end.as_str()), &Value::Null), "{row}");
    // CSV: the old columns first and in their order, the grant's appended.
    let header = &after.1[0];
    assert_eq!(header, &["agency_code", "rank", "protocol_number", "title", "recipient", "score", "outcome", "amount", "act_number", "act_date",
        "grant_status", "final_grant", "disbursed", "start_date", "end_date"]);
    assert_eq!(&line[10..], &["accepted", "", "17150.00", day.as_str(), end.as_str()]);
    // 360Giving: the standard's own fields.
    assert_eq!(grant["amountDisbursed"].as_f64(), Some(17150.0), "{grant}");
    assert_eq!(grant["amountAwarded"].as_f64(), Some(24500.0), "{grant}");
    assert_eq!(grant["actualDates"], json!([{"startDate": day, "endDate": end}]));
    // The other grant, offered, has paid nothing.
    let (row, _, grant) = of_protocol(&after, &waiting);
    assert_eq!((row["grant_status"].as_str(), row["disbursed"].as_str(), &row["start_date"]), (Some("offered"), Some("0.00"), &Value::Null), "{row}");
    assert_eq!(grant["amountDisbursed"].as_f64(), Some(0.0));
    // Still no personal data.
    let text = after.2.to_string() + &serde_json::to_string(&after.0).unwrap();
    assert!(!text.contains(PERSONAL_TAX_CODE) && !text.contains("Mario Rossi"), "{text}");
});

both!(async fn a_closed_project_is_published_as_having_disbursed_its_final_grant(app) {
    let (_, applicant, first, _) = scored_round(&app).await;
    approve_montagna(&app, &first).await;
    let admin = app.login(ADMIN).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let all: Value = app.get("/api/v1/grants?per_page=50", Some(&applicant)).await.json().await.unwrap();
    let partial = all["items"].as_array().unwrap().iter().find(|g| g["amount"] == "43580.00").unwrap().clone();
    let g = partial["id"].as_str().unwrap().to_owned();
    let protocol = protocol_of(&app, &applicant, &partial).await;
    let day = today(&app);
    assert_eq!(app.post(&format!("/api/v1/grants/{g}/accept"), Some(&applicant), &json!({"cup": "J51B22000120002"})).await.status(), StatusCode::OK);
    assert_eq!(app.post(&format!("/api/v1/grants/{g}/start"), Some(&applicant), &json!({"start_date": day})).await.status(), StatusCode::OK);
    // The advance, 70% of 43,580.00, is paid.
    let plan: Value = app.get(&format!("/api/v1/grants/{g}/payments"), Some(&applicant)).await.json().await.unwrap();
    assert_eq!(plan["payments"][0]["amount"], "30506.00");
    pay(&app, &first, &admin, plan["payments"][0]["id"].as_str().unwrap(), false).await;

    // The final report spends 45,000.00 of 71,428.58: the final grant is 27,455.39 and
    // 3,050.61 of the advance is to come back.
    let (_, members) = members_of(&app, &applicant, &partial).await;
    let doc = evidence(&app, &applicant, &g, "fattura-unica").await;
    let path = format!("/api/v1/grants/{g}/final-report");
    let (_, tag) = read(&app, &path, &applicant).await;
    let report = json!({"lines": [{"category": "EMPLOYEE_SERVICES", "description": "Servizi", "amount": "45000.00", "borne_by": members[0], "evidence": [doc]}],
        "reached": [{"area": "SERVIZI_CURA", "employees_reached": 30, "families_reached": 20}], "narrative": "Realizzato in parte."});
    assert_eq!(app.patch(&path, Some(&applicant), Some(&tag), &report).await.status(), StatusCode::OK);
    assert_eq!(app.post(&format!("{path}/submit"), Some(&applicant), &json!({})).await.status(), StatusCode::OK);
    let report: Value = app.get(&path, Some(&first)).await.json().await.unwrap();
    let line_id = report["content"]["lines"][0]["id"].as_str().unwrap().to_owned();
    let res = app.post(&format!("{path}/verification"), Some(&first), &json!({"outcome": "approved", "lines": [{"line_id": line_id, "decision": "accepted"}]})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v = res.json::<Value>().await.unwrap()["verification"].clone();
    assert_eq!((v["final_grant"].as_str(), v["to_recover"].as_str()), (Some("27455.39"), Some("3050.61")), "{v}");

    // Verified, the recovery not settled yet: what was paid is still out.
    let verified = published(&app, &demo).await;
    let (row, _, _) = of_protocol(&verified, &protocol);
    assert_eq!((row["grant_status"].as_str(), row["final_grant"].as_str(), row["disbursed"].as_str()), (Some("accepted"), Some("27455.39"), Some("30506.00")), "{row}");
    let (_, verified_tag) = revalidate(&app, &demo, "\"none\"").await;

    // Settled by the Region: the project is closed and disbursed its final grant.
    let res = app.post(&format!("/api/v1/recoveries/{}/settle", v["recovery_id"].as_str().unwrap()), Some(&admin), &json!({"payment_reference": "TRN 2027/88"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (status, _) = revalidate(&app, &demo, &verified_tag).await;
    assert_eq!(status, StatusCode::OK, "a settled recovery is a new answer");
    let closed = published(&app, &demo).await;
    let (row, line, grant) = of_protocol(&closed, &protocol);
    assert_eq!((row["grant_status"].as_str(), row["final_grant"].as_str(), row["disbursed"].as_str()), (Some("closed"), Some("27455.39"), Some("27455.39")), "{row}");
    assert_eq!(row["amount"], "27455.39", "a verified project counts for its final grant in the ranking: {row}");
    assert_eq!(row["start_date"].as_str(), Some(day.as_str()));
    let header = &closed.1[0];
    assert_eq!((cell(header, line, "grant_status"), cell(header, line, "final_grant"), cell(header, line, "disbursed")), ("closed", "27455.39", "27455.39"));
    assert_eq!(grant["amountDisbursed"].as_f64(), Some(27455.39), "{grant}");
    assert_eq!(grant["actualDates"][0]["startDate"], day.as_str());
});
