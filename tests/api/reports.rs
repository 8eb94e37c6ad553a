//! After the offer, part 2: the final report with its evidence, its verification, and the
//! money it settles (the balance paid to the cent, or a recovery order).

use crate::both;
use crate::helpers::*;
use crate::rankings::{approve_montagna, scored_round};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use welfare_grants::clock::Clock;

/// Today in Rome by the test clock.
pub fn today(app: &TestApp) -> String {
    app.clock
        .now()
        .with_timezone(&chrono_tz::Europe::Rome)
        .date_naive()
        .to_string()
}

/// Upload an evidence file of a grant's final report (metadata `kind` as given).
async fn upload_evidence(
    app: &TestApp,
    token: &str,
    grant: &str,
    kind: &str,
    name: &str,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .part(
            "metadata",
            reqwest::multipart::Part::text(json!({"kind": kind}).to_string())
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(pdf(name)).file_name(format!("{name}.pdf")),
        );
    app.client
        .post(app.url(&format!("/api/v1/grants/{grant}/final-report/documents")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("the upload is sent")
}

/// An evidence file uploaded by the lead: its id.
pub async fn evidence(app: &TestApp, token: &str, grant: &str, name: &str) -> String {
    let res = upload_evidence(app, token, grant, "report_evidence", name).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["kind"], "report_evidence");
    body["id"].as_str().unwrap().to_owned()
}

/// The grant's application and the organization ids of its partnership: the lead's first.
pub async fn members_of(app: &TestApp, token: &str, grant: &Value) -> (Value, Vec<String>) {
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
    let partnership: Value = app
        .get(
            &format!(
                "/api/v1/partnerships/{}",
                application["partnership_id"].as_str().unwrap()
            ),
            Some(token),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut members: Vec<(bool, String)> = partnership["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"] != "lead",
                m["organization_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    members.sort();
    (application, members.into_iter().map(|(_, id)| id).collect())
}

/// A read with its ETag.
pub async fn read(app: &TestApp, path: &str, token: &str) -> (Value, String) {
    let res = app.get(path, Some(token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let tag = res.headers()["etag"].to_str().unwrap().to_owned();
    (res.json().await.unwrap(), tag)
}

/// Authorize (by the ATS) and record paid (by the Region) a payment.
pub async fn pay(
    app: &TestApp,
    evaluator: &str,
    admin: &str,
    payment: &str,
    already_authorized: bool,
) {
    let day = today(app);
    if !already_authorized {
        let res = app
            .post(
                &format!("/api/v1/payments/{payment}/authorize"),
                Some(evaluator),
                &json!({"liquidation": {"number": "DDG 7/2027", "date": day}}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = app
        .post(
            &format!("/api/v1/payments/{payment}/record"),
            Some(admin),
            &json!({"outcome": "paid", "order": {"number": "MP 2027/9", "date": day}}),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "paid");
}

fn fields(p: &Value) -> Vec<String> {
    let mut v: Vec<String> = violations(p)
        .into_iter()
        .map(|(f, c)| format!("{f}:{c}"))
        .collect();
    v.sort();
    v
}

both!(async fn a_started_project_reports_its_costs_is_verified_with_a_cut_and_a_cap_and_its_balance_is_paid_to_the_cent(app) {
    let admin = app.login(ADMIN).await;
    let applicant = app.login(APPLICANT).await;
    let evaluator = app.login(EVALUATOR_MONTAGNA).await;
    let brescia = app.login(EVALUATOR_BRESCIA).await;
    let call = app.call_id(welfare_grants::seed::STARTED_CALL_CODE).await;
    let grants: Value = app.get(&format!("/api/v1/grants?call_id={call}"), Some(&applicant)).await.json().await.unwrap();
    let grant = grants["items"][0].clone();
    let g = grant["id"].as_str().unwrap().to_owned();
    let (application, members) = members_of(&app, &applicant, &grant).await;
    let (lead, enterprise) = (members[0].clone(), members[2].clone());

    // The seeded advance, authorized, is paid first.
    let plan: Value = app.get(&format!("/api/v1/grants/{g}/payments"), Some(&applicant)).await.json().await.unwrap();
    pay(&app, &evaluator, &admin, plan["payments"][0]["id"].as_str().unwrap(), true).await;

    // Before the lead writes it, the report is an empty draft that says what it lacks.
    let path = format!("/api/v1/grants/{g}/final-report");
    let (draft, tag) = read(&app, &path, &applicant).await;
    assert_eq!((draft["status"].as_str(), draft["version"].as_i64(), tag.as_str()), (Some("draft"), Some(1), "\"v1\""));
    let blocking: Vec<&str> = draft["blocking"].as_array().unwrap().iter().map(|b| b["field"].as_str().unwrap()).collect();
    assert_eq!(blocking, vec!["lines", "reached", "narrative"]);
    let end = chrono::NaiveDate::parse_from_str(grant["end_date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    assert_eq!(draft["deadline"], (end + chrono::Days::new(60)).to_string());
    assert_eq!(draft["overdue"], false);
    assert_eq!(app.get(&path, Some(&evaluator)).await.status(), StatusCode::OK);
    assert_eq!(problem(app.get(&path, Some(&brescia)).await, StatusCode::NOT_FOUND).await["code"], "grant_not_found");

    // Evidence files: the lead's, of their own kind.
    let p = problem(upload_evidence(&app, &applicant, &g, "other", "x").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&p), vec!["metadata.kind:unknown_kind"]);
    problem(upload_evidence(&app, &evaluator, &g, "report_evidence", "x").await, StatusCode::FORBIDDEN).await;
    let mut e = Vec::new();
    for i in 0..4 {
        e.push(evidence(&app, &applicant, &g, &format!("fattura-{i}")).await);
    }
    let described: Value = app.get(&format!("{path}/documents/{}", e[0]), Some(&evaluator)).await.json().await.unwrap();
    assert_eq!((described["file_name"].as_str(), described["media_type"].as_str()), (Some("fattura-0.pdf"), Some("application/pdf")));
    let res = app.get(&format!("{path}/documents/{}/content", e[0]), Some(&evaluator)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().to_vec(), pdf("fattura-0"));
    // An annex of the application is not evidence of the report.
    let annexes: Value = app.get(&format!("/api/v1/applications/{}/documents", application["id"].as_str().unwrap()), Some(&applicant)).await.json().await.unwrap();
    let annex = annexes.as_array().unwrap().iter().find(|d| d["kind"] == "partnership_agreement").unwrap()["id"].as_str().unwrap().to_owned();
    problem(app.get(&format!("{path}/documents/{annex}"), Some(&applicant)).await, StatusCode::NOT_FOUND).await;

    // A line in an unknown category, by a stranger, with an annex for evidence: every rule
    // listed, nothing written.
    let stranger = "00000000-0000-4000-8000-000000000001";
    let bad = json!({"lines": [{"category": "NOPE", "description": "Viaggi", "amount": "10.00", "borne_by": stranger, "evidence": [annex]}]});
    assert_eq!(app.patch(&path, Some(&applicant), None, &bad).await.status(), StatusCode::PRECONDITION_REQUIRED);
    let p = problem(app.patch(&path, Some(&applicant), Some(&tag), &bad).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&p), vec!["lines[0].borne_by:not_a_member", "lines[0].category:unknown_category", "lines[0].evidence[0]:unknown_evidence"]);
    assert_eq!(read(&app, &path, &applicant).await.0["version"], 1);

    // The report: four lines, what was reached, the narrative.
    let content = json!({
        "lines": [
            {"category": "EMPLOYEE_SERVICES", "description": "Baby-sitting e centri estivi", "amount": "40000.00", "borne_by": enterprise, "evidence": [e[0]]},
            {"category": "EMPLOYEE_SERVICES", "description": "Trasporto casa-lavoro", "amount": "12000.00", "borne_by": lead, "evidence": [e[1]]},
            {"category": "COORDINATION", "description": "Coordinamento", "amount": "9000.00", "borne_by": lead, "evidence": [e[2]]},
            {"category": "COMMUNICATION", "description": "Comunicazione", "amount": "1501.37", "borne_by": lead, "evidence": [e[3]]},
        ],
        "reached": [{"area": "SERVIZI_CURA", "employees_reached": 48, "families_reached": 30}, {"area": "MOBILITA", "employees_reached": 20, "families_reached": 12}],
        "narrative": "Servizi erogati a 68 dipendenti di 2 imprese.",
    });
    let res = app.patch(&path, Some(&applicant), Some(&tag), &content).await;
    assert_eq!(res.status(), StatusCode::OK);
    let report: Value = res.json().await.unwrap();
    assert_eq!((report["version"].as_i64(), report["blocking"].clone()), (Some(2), json!([])), "{report}");
    let line_ids: Vec<String> = report["content"]["lines"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(line_ids.len(), 4);
    assert_eq!(app.patch(&path, Some(&applicant), Some(&tag), &json!({"narrative": "x"})).await.status(), StatusCode::PRECONDITION_FAILED);

    // Submitted once, with its receipt.
    let submit = format!("{path}/submit");
    problem(app.post(&submit, Some(&evaluator), &json!({})).await, StatusCode::FORBIDDEN).await;
    let res = app.post(&submit, Some(&applicant), &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let submitted: Value = res.json().await.unwrap();
    assert_eq!(submitted["status"], "submitted");
    let receipt = &submitted["receipt"];
    assert_eq!(receipt["protocol_number"], format!("{}-RF", application["protocol_number"].as_str().unwrap()));
    let canonical = serde_json_canonicalizer::to_string(&receipt["snapshot"]).unwrap();
    assert_eq!(receipt["snapshot_sha256"], hex::encode(Sha256::digest(canonical.as_bytes())));
    assert_eq!(receipt["snapshot"]["evidence"].as_array().unwrap().len(), 4);
    assert_eq!(problem(app.post(&submit, Some(&applicant), &json!({})).await, StatusCode::CONFLICT).await["code"], "report_submitted");
    let (_, tag) = read(&app, &path, &applicant).await;
    assert_eq!(problem(app.patch(&path, Some(&applicant), Some(&tag), &json!({"narrative": "x"})).await, StatusCode::CONFLICT).await["code"], "report_submitted");
    let inbox: Value = app.get("/api/v1/notifications", Some(&evaluator)).await.json().await.unwrap();
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == "final_report_submitted"), "{inbox}");

    // The ATS asks for more on the transport; the lead answers with one more file.
    let verify = format!("{path}/verification");
    problem(app.post(&verify, Some(&brescia), &json!({"outcome": "integration_requested", "text": "x"})).await, StatusCode::NOT_FOUND).await;
    problem(app.post(&verify, Some(&admin), &json!({"outcome": "integration_requested", "text": "x"})).await, StatusCode::FORBIDDEN).await;
    let res = app.post(&verify, Some(&evaluator), &json!({"outcome": "integration_requested", "text": "Mancano le fatture del trasporto di marzo."})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let asked: Value = res.json().await.unwrap();
    assert_eq!(asked["status"], "integration_requested");
    assert!(asked["integration"]["due_at"].as_str().unwrap().ends_with('Z'), "{asked}");
    let extra = evidence(&app, &applicant, &g, "fattura-marzo").await;
    let integration = format!("{path}/integration");
    let p = problem(app.post(&integration, Some(&applicant), &json!({"evidence": [{"line_id": line_ids[1], "documents": [annex]}]})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&p), vec!["evidence[0].documents[0]:unknown_evidence", "text:missing_field"]);
    let res = app.post(&integration, Some(&applicant), &json!({"text": "Allegata la fattura di marzo.", "evidence": [{"line_id": line_ids[1], "documents": [extra]}]})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let answered: Value = res.json().await.unwrap();
    assert_eq!(answered["status"], "submitted");
    assert_eq!(answered["content"]["lines"][1]["evidence"], json!([e[1], extra]));
    assert_eq!(problem(app.post(&integration, Some(&applicant), &json!({"text": "Ancora."})).await, StatusCode::CONFLICT).await["code"], "integration_closed");

    // A reduction above its line and without a reason, an unknown line, a line undecided.
    let p = problem(app.post(&verify, Some(&evaluator), &json!({"outcome": "approved", "lines": [
        {"line_id": line_ids[0], "decision": "accepted"},
        {"line_id": line_ids[1], "decision": "reduced", "amount": "13000.00"},
        {"line_id": stranger, "decision": "accepted"},
        {"line_id": line_ids[2], "decision": "accepted"},
    ]})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&p), vec![
        "lines[1].amount:invalid_value", "lines[1].reason:missing_field", "lines[1].text:missing_field",
        "lines[2].line_id:invalid_value", "report.lines[3]:missing_field",
    ]);
    assert_eq!(read(&app, &path, &evaluator).await.0["status"], "submitted");

    // Verified: the transport cut to 9,000.00, coordination capped at 15% of the accepted
    // 59,501.37 (8,925.20, so 74.80 cut); E = 59,426.57 of the approved 60,000.00, and the final
    // grant 42,000.00 × E / C = 41,598.59, rounded down.
    let res = app.post(&verify, Some(&evaluator), &json!({"outcome": "approved", "lines": [
        {"line_id": line_ids[0], "decision": "accepted"},
        {"line_id": line_ids[1], "decision": "reduced", "amount": "9000.00", "reason": "missing_evidence", "text": "Fatture di gennaio e febbraio assenti."},
        {"line_id": line_ids[2], "decision": "accepted"},
        {"line_id": line_ids[3], "decision": "accepted"},
    ]})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let verified: Value = res.json().await.unwrap();
    let v = &verified["verification"];
    assert_eq!(verified["status"], "verified");
    let coordination = v["categories"].as_array().unwrap().iter().find(|c| c["category"] == "COORDINATION").unwrap();
    assert_eq!((coordination["cap"].as_str(), coordination["cut"].as_str()), (Some("8925.20"), Some("74.80")));
    assert_eq!(
        (v["accepted_cost"].as_str(), v["eligible_cost"].as_str(), v["approved_cost"].as_str(), v["final_grant"].as_str()),
        (Some("59501.37"), Some("59426.57"), Some("60000.00"), Some("41598.59"))
    );
    assert_eq!((v["under_realised"].as_bool(), v["paid_before"].as_str(), v["balance"].as_str(), v["to_recover"].as_str()),
        (Some(false), Some("29400.00"), Some("12198.59"), Some("0.00")));
    assert_eq!(v["lines"][1]["reason"], "missing_evidence");
    assert_eq!(problem(app.post(&verify, Some(&evaluator), &json!({"outcome": "approved", "lines": []})).await, StatusCode::CONFLICT).await["code"], "report_verified");
    let seen: Value = app.get(&format!("/api/v1/grants/{g}"), Some(&applicant)).await.json().await.unwrap();
    assert_eq!((seen["amount"].as_str(), seen["final_grant"].as_str()), (Some("42000.00"), Some("41598.59")));

    // The balance, exactly final grant − paid, is paid: the project has its final grant to the cent.
    let plan: Value = app.get(&format!("/api/v1/grants/{g}/payments"), Some(&applicant)).await.json().await.unwrap();
    let balance = plan["payments"].as_array().unwrap().iter().find(|p| p["tranche"] == "balance").unwrap().clone();
    assert_eq!((balance["amount"].as_str(), balance["status"].as_str()), (Some("12198.59"), Some("due")));
    assert_eq!(balance["id"], v["balance_payment_id"]);
    assert_eq!(plan["to_pay"], "12198.59");
    pay(&app, &evaluator, &admin, balance["id"].as_str().unwrap(), false).await;
    let plan: Value = app.get(&format!("/api/v1/grants/{g}/payments"), Some(&applicant)).await.json().await.unwrap();
    assert_eq!((plan["paid"].as_str(), plan["to_pay"].as_str()), (Some("41598.59"), Some("0.00")));
    // Its final grant paid, nothing to recover: the project is closed.
    let seen: Value = app.get(&format!("/api/v1/grants/{g}"), Some(&evaluator)).await.json().await.unwrap();
    assert_eq!(seen["status"], "closed", "{seen}");
    // A closed project is over: it is no longer revoked.
    let p = problem(app.post(&format!("/api/v1/grants/{g}/revoke"), Some(&evaluator), &json!({"reason": "Prova."})).await, StatusCode::CONFLICT).await;
    assert_eq!(p["code"], "grant_not_live");
    assert!(seen["ended_at"].is_string());
    let inbox: Value = app.get("/api/v1/notifications", Some(&evaluator)).await.json().await.unwrap();
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == "grant_closed"), "{inbox}");
    let envelopes: Value = app.get(&format!("/api/v1/calls/{call}/envelopes"), Some(&admin)).await.json().await.unwrap();
    let montagna = envelopes["items"].as_array().unwrap().iter().find(|e| e["agency_code"] == "MONTAGNA").unwrap();
    assert_eq!((montagna["committed"].as_str(), montagna["paid"].as_str()), (Some("41598.59"), Some("41598.59")), "{montagna}");

    // Every step is in the audit log; the lead heard of the verification.
    let audit: Value = app.get("/api/v1/audit-events?entity_type=final_report&per_page=50", Some(&admin)).await.json().await.unwrap();
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in ["final_report.changed", "final_report.submitted", "final_report.integration_requested", "final_report.integration_answered", "final_report.verified"] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
    let inbox: Value = app.get("/api/v1/notifications", Some(&applicant)).await.json().await.unwrap();
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == "final_report_verified"), "{inbox}");
    let metrics = crate::metrics::scrape(&app, Some(&admin)).await;
    let code = welfare_grants::seed::STARTED_CALL_CODE;
    assert_eq!(crate::metrics::sample(&metrics, &format!(r#"welfare_grants_final_reports{{agency="MONTAGNA",call="{code}",status="verified"}}"#)), Some(1.0), "{metrics}");
    assert_eq!(crate::metrics::sample(&metrics, &format!(r#"welfare_grants_committed_eur{{agency="MONTAGNA",call="{code}"}}"#)), Some(41598.59), "{metrics}");
});

both!(async fn a_project_that_spent_less_than_its_advance_ends_in_a_settled_recovery(app) {
    let (_, applicant, first, _) = scored_round(&app).await;
    approve_montagna(&app, &first).await;
    let admin = app.login(ADMIN).await;
    let all: Value = app.get("/api/v1/grants?per_page=50", Some(&applicant)).await.json().await.unwrap();
    let items = all["items"].as_array().unwrap();
    // The partial grant, below the 50,000.00 cap, and a full one.
    let partial = items.iter().find(|g| g["amount"] == "43580.00").unwrap().clone();
    let full = items.iter().find(|g| g["amount"] == "50000.00").unwrap().clone();
    let (g, other) = (partial["id"].as_str().unwrap().to_owned(), full["id"].as_str().unwrap().to_owned());
    let day = today(&app);
    for (id, cup) in [(&g, "J51B22000120002"), (&other, "J51B22000130002")] {
        let res = app.post(&format!("/api/v1/grants/{id}/accept"), Some(&applicant), &json!({"cup": cup})).await;
        assert_eq!(res.status(), StatusCode::OK);
        let res = app.post(&format!("/api/v1/grants/{id}/start"), Some(&applicant), &json!({"start_date": day})).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let dashboard = format!("/api/v1/calls/{demo}/agencies/MONTAGNA/dashboard");
    let before: Value = app.get(&dashboard, Some(&first)).await.json().await.unwrap();
    assert_eq!(before["committed"], "293580.00");

    // The advance, 70% of 43,580.00, is paid.
    let plan: Value = app.get(&format!("/api/v1/grants/{g}/payments"), Some(&applicant)).await.json().await.unwrap();
    let advance = &plan["payments"][0];
    assert_eq!(advance["amount"], "30506.00");
    pay(&app, &first, &admin, advance["id"].as_str().unwrap(), false).await;

    // Evidence of another project is not evidence of this one.
    let (_, members) = members_of(&app, &applicant, &partial).await;
    let mine = evidence(&app, &applicant, &g, "fattura-unica").await;
    let elsewhere = evidence(&app, &applicant, &other, "fattura-altro-progetto").await;
    let path = format!("/api/v1/grants/{g}/final-report");
    let (_, tag) = read(&app, &path, &applicant).await;
    let line = |doc: &str| json!({"lines": [{"category": "EMPLOYEE_SERVICES", "description": "Servizi", "amount": "45000.00", "borne_by": members[0], "evidence": [doc]}],
        "reached": [{"area": "SERVIZI_CURA", "employees_reached": 30, "families_reached": 20}], "narrative": "Realizzato in parte."});
    let p = problem(app.patch(&path, Some(&applicant), Some(&tag), &line(&elsewhere)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&p), vec!["lines[0].evidence[0]:unknown_evidence"]);
    assert_eq!(app.patch(&path, Some(&applicant), Some(&tag), &line(&mine)).await.status(), StatusCode::OK);
    assert_eq!(app.post(&format!("{path}/submit"), Some(&applicant), &json!({})).await.status(), StatusCode::OK);
    let report: Value = app.get(&path, Some(&first)).await.json().await.unwrap();
    let line_id = report["content"]["lines"][0]["id"].as_str().unwrap().to_owned();

    // Verified: E = 45,000.00 of the approved 71,428.58 (63%, above the 60% required): the final
    // grant is 43,580.00 × E / C = 27,455.39, below the 30,506.00 paid: 3,050.61 to recover.
    let res = app.post(&format!("{path}/verification"), Some(&first), &json!({"outcome": "approved", "lines": [{"line_id": line_id, "decision": "accepted"}]})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v = res.json::<Value>().await.unwrap()["verification"].clone();
    assert_eq!((v["final_grant"].as_str(), v["balance"].as_str(), v["to_recover"].as_str(), v["under_realised"].as_bool()),
        (Some("27455.39"), Some("0.00"), Some("3050.61"), Some(false)), "{v}");
    let plan: Value = app.get(&format!("/api/v1/grants/{g}/payments"), Some(&applicant)).await.json().await.unwrap();
    assert_eq!((plan["paid"].as_str(), plan["to_pay"].as_str(), plan["payments"].as_array().unwrap().len()), (Some("30506.00"), Some("0.00"), 1));
    let recovery = v["recovery_id"].as_str().unwrap().to_owned();
    let r: Value = app.get(&format!("/api/v1/recoveries/{recovery}"), Some(&applicant)).await.json().await.unwrap();
    let due = (app.clock.now().with_timezone(&chrono_tz::Europe::Rome).date_naive() + chrono::Days::new(30)).to_string();
    assert_eq!((r["amount"].as_str(), r["status"].as_str(), r["due_date"].as_str()), (Some("3050.61"), Some("issued"), Some(due.as_str())));

    // The envelope: the project commits its final grant; the rest returns (the reserve list
    // has nobody above the threshold, so it stays free), and the recovery is held until paid.
    let after: Value = app.get(&dashboard, Some(&first)).await.json().await.unwrap();
    assert_eq!((after["committed"].as_str(), after["to_recover"].as_str()), (Some("277455.39"), Some("3050.61")), "{after}");
    let seen: Value = app.get(&format!("/api/v1/grants/{g}"), Some(&applicant)).await.json().await.unwrap();
    assert_eq!((seen["amount"].as_str(), seen["final_grant"].as_str()), (Some("43580.00"), Some("27455.39")), "a verified project is never topped up");

    // Settled once, by the Region.
    let settle = format!("/api/v1/recoveries/{recovery}/settle");
    problem(app.post(&settle, Some(&first), &json!({"payment_reference": "x"})).await, StatusCode::FORBIDDEN).await;
    let res = app.post(&settle, Some(&admin), &json!({"payment_reference": "TRN 2027/88"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "settled");
    assert_eq!(problem(app.post(&settle, Some(&admin), &json!({"payment_reference": "TRN 2027/88"})).await, StatusCode::CONFLICT).await["code"], "recovery_settled");
    let seen: Value = app.get(&format!("/api/v1/grants/{g}"), Some(&applicant)).await.json().await.unwrap();
    assert_eq!(seen["status"], "closed", "the recovery settled closes the project: {seen}");
    let other_seen: Value = app.get(&format!("/api/v1/grants/{other}"), Some(&applicant)).await.json().await.unwrap();
    assert_eq!(other_seen["status"], "accepted");
    let settled: Value = app.get(&dashboard, Some(&first)).await.json().await.unwrap();
    assert_eq!((settled["committed"].as_str(), settled["to_recover"].as_str()), (Some("277455.39"), Some("0.00")));
});

both!(async fn revoking_a_verified_project_claims_only_what_no_recovery_order_claims_yet(app) {
    let (_, applicant, first, _) = scored_round(&app).await;
    approve_montagna(&app, &first).await;
    let admin = app.login(ADMIN).await;
    let all: Value = app.get("/api/v1/grants?per_page=50", Some(&applicant)).await.json().await.unwrap();
    let partial = all["items"].as_array().unwrap().iter().find(|g| g["amount"] == "43580.00").unwrap().clone();
    let g = partial["id"].as_str().unwrap().to_owned();
    let day = today(&app);
    assert_eq!(app.post(&format!("/api/v1/grants/{g}/accept"), Some(&applicant), &json!({"cup": "J51B22000120002"})).await.status(), StatusCode::OK);
    assert_eq!(app.post(&format!("/api/v1/grants/{g}/start"), Some(&applicant), &json!({"start_date": day})).await.status(), StatusCode::OK);
    let plan: Value = app.get(&format!("/api/v1/grants/{g}/payments"), Some(&applicant)).await.json().await.unwrap();
    pay(&app, &first, &admin, plan["payments"][0]["id"].as_str().unwrap(), false).await;
    let (_, members) = members_of(&app, &applicant, &partial).await;
    let doc = evidence(&app, &applicant, &g, "fattura").await;
    let path = format!("/api/v1/grants/{g}/final-report");
    let (_, tag) = read(&app, &path, &applicant).await;
    let content = json!({"lines": [{"category": "EMPLOYEE_SERVICES", "description": "Servizi", "amount": "45000.00", "borne_by": members[0], "evidence": [doc]}],
        "reached": [{"area": "SERVIZI_CURA", "employees_reached": 30, "families_reached": 20}], "narrative": "Realizzato in parte."});
    assert_eq!(app.patch(&path, Some(&applicant), Some(&tag), &content).await.status(), StatusCode::OK);
    assert_eq!(app.post(&format!("{path}/submit"), Some(&applicant), &json!({})).await.status(), StatusCode::OK);
    let report: Value = app.get(&path, Some(&first)).await.json().await.unwrap();
    let line = report["content"]["lines"][0]["id"].as_str().unwrap().to_owned();
    let res = app.post(&format!("{path}/verification"), Some(&first), &json!({"outcome": "approved", "lines": [{"line_id": line, "decision": "accepted"}]})).await;
    assert_eq!(res.status(), StatusCode::OK);
    // 3,050.61 is already claimed; revoked now, the project owes the rest of the 30,506.00 paid.
    let res = app.post(&format!("/api/v1/grants/{g}/revoke"), Some(&first), &json!({"reason": "Dichiarazioni non veritiere.", "cause": "false_declaration"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let orders: Value = app.get(&format!("/api/v1/recoveries?grant_id={g}"), Some(&admin)).await.json().await.unwrap();
    let mut amounts: Vec<&str> = orders["items"].as_array().unwrap().iter().map(|r| r["amount"].as_str().unwrap()).collect();
    amounts.sort();
    assert_eq!(amounts, vec!["27455.39", "3050.61"], "{orders}");
});

both!(async fn an_under_realised_project_settles_nothing_and_pays_nothing_more(app) {
    let admin = app.login(ADMIN).await;
    let applicant = app.login(APPLICANT).await;
    let evaluator = app.login(EVALUATOR_MONTAGNA).await;
    let call = app.call_id(welfare_grants::seed::STARTED_CALL_CODE).await;
    let grants: Value = app.get(&format!("/api/v1/grants?call_id={call}"), Some(&applicant)).await.json().await.unwrap();
    let grant = grants["items"][0].clone();
    let g = grant["id"].as_str().unwrap().to_owned();
    let (_, members) = members_of(&app, &applicant, &grant).await;
    // The seeded advance is authorized, not yet paid.
    let plan: Value = app.get(&format!("/api/v1/grants/{g}/payments"), Some(&applicant)).await.json().await.unwrap();
    let advance = plan["payments"][0]["id"].as_str().unwrap().to_owned();
    let doc = evidence(&app, &applicant, &g, "fattura").await;
    let path = format!("/api/v1/grants/{g}/final-report");
    let (_, tag) = read(&app, &path, &applicant).await;
    // 30,000.00 spent of the approved 60,000.00: 50%, below the 60% the call requires.
    let content = json!({"lines": [{"category": "EMPLOYEE_SERVICES", "description": "Servizi", "amount": "30000.00", "borne_by": members[0], "evidence": [doc]}],
        "reached": [{"area": "SERVIZI_CURA", "employees_reached": 10, "families_reached": 5}], "narrative": "Realizzato a metà."});
    assert_eq!(app.patch(&path, Some(&applicant), Some(&tag), &content).await.status(), StatusCode::OK);
    assert_eq!(app.post(&format!("{path}/submit"), Some(&applicant), &json!({})).await.status(), StatusCode::OK);
    let report: Value = app.get(&path, Some(&evaluator)).await.json().await.unwrap();
    let line = report["content"]["lines"][0]["id"].as_str().unwrap().to_owned();
    let res = app.post(&format!("{path}/verification"), Some(&evaluator), &json!({"outcome": "approved", "lines": [{"line_id": line, "decision": "accepted"}]})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v = res.json::<Value>().await.unwrap()["verification"].clone();
    assert_eq!((v["under_realised"].as_bool(), v["final_grant"].as_str(), v["balance"].clone()), (Some(true), Some("21000.00"), Value::Null), "{v}");
    assert_eq!(v["cancelled_payments"], json!([advance]));
    // The authorized advance is cancelled: nothing is paid while the ATS decides.
    let day = today(&app);
    let p = problem(app.post(&format!("/api/v1/payments/{advance}/record"), Some(&admin), &json!({"outcome": "paid", "order": {"number": "MP 1", "date": day}})).await, StatusCode::CONFLICT).await;
    assert_eq!(p["code"], "payment_cancelled");
    let seen: Value = app.get(&format!("/api/v1/grants/{g}"), Some(&evaluator)).await.json().await.unwrap();
    assert_eq!((seen["status"].as_str(), seen["final_grant"].clone()), (Some("accepted"), Value::Null));
    // The ATS revokes it for under-realisation: nothing was paid, nothing to recover.
    let res = app.post(&format!("/api/v1/grants/{g}/revoke"), Some(&evaluator), &json!({"reason": "Realizzato sotto la soglia.", "cause": "under_realisation"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let orders: Value = app.get(&format!("/api/v1/recoveries?grant_id={g}"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(orders["total"], 0);
});
