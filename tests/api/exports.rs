//! CSV exports neutralise formulas: text that users write is opened by officers in a
//! spreadsheet, which would run a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return. Such a text cell comes out with a leading `'`; amounts and scores never do.

use crate::applications::{Members, complete_application, etag, partnership, submit};
use crate::both;
use crate::helpers::*;
use crate::registry::*;
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

/// Titles that a spreadsheet would run as formulas.
const HOSTILE: [&str; 6] = [
    "=HYPERLINK(\"http://x.invalid\",\"Apri\")",
    "+39 02 1234 5678",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
];

const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The rows of a CSV file, header first.
pub fn rows(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

/// The cells of one column, by its header.
fn column(rows: &[Vec<String>], name: &str) -> Vec<String> {
    let i = rows[0].iter().position(|h| h == name).expect("the column");
    rows[1..].iter().map(|r| r[i].clone()).collect()
}

/// No cell of these columns starts a formula.
fn assert_no_formula(rows: &[Vec<String>], columns: &[&str]) {
    for name in columns {
        for cell in column(rows, name) {
            assert!(!cell.starts_with(TRIGGERS), "{name}: {cell:?}");
        }
    }
}

async fn members_with_lead(app: &TestApp, token: &str, lead_name: &str) -> Members {
    let mut lead = public_body(40, "SO", &["SO"]);
    lead["legal_name"] = json!(lead_name);
    Members {
        lead: register(app, token, &lead).await,
        others: vec![
            register(
                app,
                token,
                &body(41, "private_non_profit", "association", "MI", &["MI"]),
            )
            .await,
            register(
                app,
                token,
                &enterprise(42, "SO", &["SO"], "4", Some("300000.00"), None),
            )
            .await,
            register(
                app,
                token,
                &enterprise(43, "MI", &["MI"], "30", Some("5000000.00"), None),
            )
            .await,
        ],
    }
}

async fn set_title(app: &TestApp, token: &str, id: &str, title: &str) {
    let path = format!("/api/v1/applications/{id}");
    let tag = etag(app, &path, token).await;
    let res = app
        .patch(&path, Some(token), Some(&tag), &json!({"title": title}))
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
}

both!(async fn a_formula_in_a_title_comes_out_of_the_applications_export_as_text(app) {
    let token = app.login(APPLICANT2).await;
    let m = members_with_lead(&app, &token, "Comune di Sondrio").await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let pid = partnership(&app, &token, &demo, &m).await;
    let res = app.post("/api/v1/applications", Some(&token), &json!({"partnership_id": pid, "content": crate::applications::content(&m.lead)})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let admin = app.login(ADMIN).await;
    for hostile in HOSTILE {
        set_title(&app, &token, &id, hostile).await;
        let res = app.get(&format!("/api/v1/applications?format=csv&call_id={demo}"), Some(&admin)).await;
        assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
        let rows = rows(&res.text().await.unwrap());
        assert_eq!(column(&rows, "title"), vec![format!("'{hostile}")]);
        // Amounts are numbers, written as they are.
        assert_eq!(column(&rows, "requested_grant"), vec!["24500.00"]);
        assert_eq!(column(&rows, "total_cost"), vec!["35000.00"]);
        assert_no_formula(&rows, &["id", "call_code", "protocol_number", "status", "agency_code", "title", "intervention_areas", "submitted_at"]);
    }
});

both!(async fn a_formula_after_a_semicolon_stays_text_where_a_spreadsheet_splits_at_semicolons(app) {
    // Spreadsheets set up for Italian split a .csv at `;`: the cell after it must not run.
    let token = app.login(APPLICANT2).await;
    let m = members_with_lead(&app, &token, "Comune di Sondrio").await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let pid = partnership(&app, &token, &demo, &m).await;
    let res = app.post("/api/v1/applications", Some(&token), &json!({"partnership_id": pid, "content": crate::applications::content(&m.lead)})).await;
    let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let hostile = "Progetto;=cmd|' /C calc'!A0;-2+3";
    set_title(&app, &token, &id, hostile).await;
    let text = app.get(&format!("/api/v1/applications?format=csv&call_id={demo}"), Some(&app.login(ADMIN).await)).await.text().await.unwrap();
    for line in text.split("\r\n") {
        for piece in line.split(';') {
            assert!(!piece.starts_with(TRIGGERS), "{piece:?} in {line:?}");
        }
    }
    assert_eq!(column(&rows(&text), "title"), vec!["Progetto;'=cmd|' /C calc'!A0;'-2+3"]);
});

both!(async fn a_formula_in_a_title_a_name_or_an_act_comes_out_of_the_public_results_as_text(app) {
    let applicant = app.login(APPLICANT2).await;
    let m = members_with_lead(&app, &applicant, "@SUM(1+1)*cmd|' /C calc'!A0").await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let id = complete_application(&app, &applicant, &demo, &m).await;
    set_title(&app, &applicant, &id, HOSTILE[0]).await;
    assert_eq!(submit(&app, &applicant, &id, None).await.status(), StatusCode::OK);

    let admin = app.login(ADMIN).await;
    let res = app.post("/api/v1/users", Some(&admin), &json!({"username": SECOND_MONTAGNA.0, "password": SECOND_MONTAGNA.1,
        "full_name": "Secondo Valutatore", "role": "evaluator", "agency_code": "MONTAGNA"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let first = app.login(EVALUATOR_MONTAGNA).await;
    let second = app.login(SECOND_MONTAGNA).await;
    for token in [&first, &second] {
        let res = app.post(&format!("/api/v1/applications/{id}/conflict-of-interest"), Some(token), &json!({"has_conflict": false})).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let res = app.post(&format!("/api/v1/applications/{id}/admissibility"), Some(&first), &json!({"decision": "admitted"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let scores: Vec<Value> = [("QUALITY", 23), ("PARTNERSHIP", 18), ("REACH", 14), ("INNOVATION", 9), ("SUSTAINABILITY", 9), ("BUDGET", 9), ("COMPLEMENTARITY", 8)]
        .iter()
        .map(|(c, v)| json!({"criterion": c, "score": v.to_string(), "justification": "Motivazione."}))
        .collect();
    for token in [&first, &second] {
        let res = app.request(Method::PUT, &format!("/api/v1/applications/{id}/evaluations/mine"), Some(token), Some(&json!({"scores": scores, "final": true}))).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    app.clock.set(chrono::Utc::now() + chrono::Duration::days(100));
    let ranking = format!("/api/v1/calls/{demo}/agencies/MONTAGNA/ranking");
    assert_eq!(app.post(&ranking, Some(&first), &json!({})).await.status(), StatusCode::CREATED);
    let act = json!({"act_number": "-12/2027 decreto ATS", "act_date": "2027-03-05"});
    let res = app.post(&format!("{ranking}/approve"), Some(&first), &act).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());

    let res = app.get(&format!("/api/v1/calls/{demo}/results?format=csv"), None).await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let rows = rows(&res.text().await.unwrap());
    assert_eq!(column(&rows, "title"), vec![format!("'{}", HOSTILE[0])]);
    assert_eq!(column(&rows, "recipient"), vec!["'@SUM(1+1)*cmd|' /C calc'!A0"]);
    assert_eq!(column(&rows, "act_number"), vec!["'-12/2027 decreto ATS"]);
    // Numbers are written as they are.
    assert_eq!(column(&rows, "rank"), vec!["1"]);
    assert_eq!(column(&rows, "score"), vec!["90.00"]);
    assert_eq!(column(&rows, "amount"), vec!["24500.00"]);
    assert_no_formula(&rows, &["agency_code", "protocol_number", "title", "recipient", "outcome", "act_number", "act_date"]);
    // The JSON document keeps the text as it was written.
    let results: Value = app.get(&format!("/api/v1/calls/{demo}/results"), None).await.json().await.unwrap();
    assert_eq!(results[0]["title"], HOSTILE[0]);
});

both!(async fn a_formula_in_user_text_does_not_start_a_cell_of_the_audit_export(app) {
    let token = app.login(APPLICANT2).await;
    let m = members_with_lead(&app, &token, "=cmd|' /C calc'!A0").await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let id = complete_application(&app, &token, &demo, &m).await;
    set_title(&app, &token, &id, HOSTILE[0]).await;
    let admin = app.login(ADMIN).await;
    let res = app.get("/api/v1/audit-events?format=csv", Some(&admin)).await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let rows = rows(&res.text().await.unwrap());
    // The hostile texts are in the log, inside the JSON of the change...
    let after = column(&rows, "after");
    assert!(after.iter().any(|a| a.contains("=HYPERLINK")), "{after:?}");
    assert!(after.iter().any(|a| a.contains("=cmd|")), "{after:?}");
    // ...and no cell of any column starts a formula.
    let header: Vec<&str> = rows[0].iter().map(String::as_str).collect();
    assert_no_formula(&rows, &header);
});

// Every export is an attachment with a file name; `dialect=excel-it` writes what Excel set to
// Italian opens in columns with its accents: a byte-order mark, `;`, decimal commas.
both!(async fn every_export_is_a_named_attachment_and_has_an_italian_dialect(app) {
    let token = app.login(APPLICANT2).await;
    let m = members_with_lead(&app, &token, "Comune di Sondrio").await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let pid = partnership(&app, &token, &demo, &m).await;
    let res = app.post("/api/v1/applications", Some(&token), &json!({"partnership_id": pid, "content": crate::applications::content(&m.lead)})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let admin = app.login(ADMIN).await;
    for (path, name) in [
        ("/api/v1/applications?format=csv".to_owned(), "applications.csv".to_owned()),
        ("/api/v1/audit-events?format=csv".to_owned(), "audit-events.csv".to_owned()),
        (format!("/api/v1/calls/{demo}/results?format=csv"), format!("results-{demo}.csv")),
    ] {
        let res = app.get(&path, Some(&admin)).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()["content-disposition"], format!("attachment; filename=\"{name}\"").as_str());
        let plain = res.bytes().await.unwrap();
        assert!(!plain.starts_with("\u{feff}".as_bytes()), "{path}");
        let res = app.get(&format!("{path}&dialect=excel-it"), Some(&admin)).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let italian = res.text().await.unwrap();
        assert!(italian.starts_with('\u{feff}'), "{path}");
        let header = italian.trim_start_matches('\u{feff}').lines().next().unwrap().to_owned();
        assert!(header.contains(';') && !header.contains(','), "{path}: {header}");
        let res = app.get(&format!("{path}&dialect=excel"), Some(&admin)).await;
        let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(has_violation(&p, "dialect", "unknown_dialect"), "{p}");
    }
    // Amounts with a decimal comma.
    let italian = app.get(&format!("/api/v1/applications?format=csv&dialect=excel-it&call_id={demo}"), Some(&admin)).await.text().await.unwrap();
    let row = italian.lines().nth(1).unwrap();
    assert!(row.contains(";24500,00;") && row.contains(";35000,00;"), "{row}");
});
