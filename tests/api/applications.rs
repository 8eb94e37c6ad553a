use crate::both;
use crate::helpers::*;
use crate::registry::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const APPLICANT2: (&str, &str) = (
    "richiedente2@demo.welfare-grants.test",
    "demo-applicant-password",
);
const CALL_2022: &str = "RLD12022024943";
const DEMO: &str = "RLD-DEMO-CONCILIAZIONE";

/// The organizations of an eligible partnership: lead municipality, association, two enterprises.
pub struct Members {
    pub lead: String,
    pub others: Vec<String>,
}

pub async fn members(app: &TestApp, token: &str, base: u32) -> Members {
    Members {
        lead: register(app, token, &public_body(base, "SO", &["SO"])).await,
        others: vec![
            register(
                app,
                token,
                &body(base + 1, "private_non_profit", "association", "MI", &["MI"]),
            )
            .await,
            register(
                app,
                token,
                &enterprise(base + 2, "SO", &["SO"], "4", Some("300000.00"), None),
            )
            .await,
            register(
                app,
                token,
                &enterprise(base + 3, "MI", &["MI"], "30", Some("5000000.00"), None),
            )
            .await,
        ],
    }
}

pub async fn partnership(app: &TestApp, token: &str, call: &str, m: &Members) -> String {
    let res = app
        .post(
            "/api/v1/partnerships",
            Some(token),
            &json!({"call_id": call, "name": "Rete", "lead_organization_id": m.lead}),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    for o in &m.others {
        let res = app
            .post(
                &format!("/api/v1/partnerships/{id}/members"),
                Some(token),
                &json!({"organization_id": o, "role": "full_partner"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    id
}

/// A complete content: 30,000.00 of services and 5,000.00 of coordination, 24,500.00 asked.
pub fn content(lead: &str) -> Value {
    json!({
        "agency_code": "MONTAGNA", "title": "Valtellina concilia", "summary": "Servizi di conciliazione per i dipendenti.",
        "intervention_areas": ["SERVIZI_CURA", "TIME_SAVING"], "start_date": "2027-01-01", "end_date": "2027-12-31",
        "employees_reached": 120, "enterprises_reached": 2,
        "budget": {"lines": [
            {"category": "EMPLOYEE_SERVICES", "description": "Baby-sitting", "amount": "30000.00", "borne_by": lead},
            {"category": "COORDINATION", "description": "Coordinamento", "amount": "5000.00", "borne_by": lead}],
            "requested_grant": "24500.00", "co_financing": "10500.00"}
    })
}

/// A complete application of a new partnership; returns its id.
pub async fn complete_application(app: &TestApp, token: &str, call: &str, m: &Members) -> String {
    let pid = partnership(app, token, call, m).await;
    complete_application_of(app, token, &pid, m).await
}

/// An organization that another applicant represents joins when that applicant accepts.
pub async fn accept_invitation(app: &TestApp, token: &str, partnership: &str, organization: &str) {
    let res = app
        .post(
            &format!("/api/v1/partnerships/{partnership}/members/{organization}/accept"),
            Some(token),
            &json!({}),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
}

/// A draft of a partnership already formed, its content complete, without annexes.
pub async fn draft_of(app: &TestApp, token: &str, pid: &str, m: &Members) -> String {
    let res = app
        .post(
            "/api/v1/applications",
            Some(token),
            &json!({"partnership_id": pid, "content": content(&m.lead)}),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// [`complete_application`] of a partnership already formed.
pub async fn complete_application_of(app: &TestApp, token: &str, pid: &str, m: &Members) -> String {
    let id = draft_of(app, token, pid, m).await;
    upload(
        app,
        token,
        &id,
        "partnership_agreement",
        None,
        "accordo.pdf",
        pdf("Accordo di partenariato"),
    )
    .await;
    // Complete: nothing blocks it but, possibly, the clock.
    let view: Value = app
        .get(&format!("/api/v1/applications/{id}"), Some(token))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        view["blocking"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["code"] == "outside_window"),
        "{view}"
    );
    id
}

pub async fn submit(app: &TestApp, token: &str, id: &str, key: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(&format!("/api/v1/applications/{id}/submit")))
        .bearer_auth(token);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    req.send().await.unwrap()
}

pub async fn etag(app: &TestApp, path: &str, token: &str) -> String {
    app.get(path, Some(token)).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn blocking_codes(app: &TestApp, token: &str, id: &str) -> Vec<(String, String)> {
    let view: Value = app
        .get(&format!("/api/v1/applications/{id}"), Some(token))
        .await
        .json()
        .await
        .unwrap();
    violations(&json!({"violations": view["blocking"]}))
}

both!(async fn a_draft_may_be_incomplete_and_lists_what_blocks_it(app) {
    let token = app.login(APPLICANT).await;
    let demo = app.call_id(DEMO).await;
    let list: Value = app.get(&format!("/api/v1/partnerships?call_id={demo}"), Some(&token)).await.json().await.unwrap();
    let pid = list["items"][0]["id"].as_str().unwrap().to_owned();
    let res = app.post("/api/v1/applications", Some(&token), &json!({"partnership_id": pid})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let draft: Value = res.json().await.unwrap();
    assert_eq!(draft["status"], "draft");
    let blocking = violations(&json!({"violations": draft["blocking"]}));
    for (field, code) in [("content.agency_code", "missing_field"), ("content.title", "missing_field"), ("content.intervention_areas", "empty_list"),
                          ("content.budget.requested_grant", "missing_field"), ("content.budget.lines", "budget_empty"), ("documents", "missing_annex")] {
        assert!(blocking.contains(&(field.to_owned(), code.to_owned())), "{field} {code}: {blocking:?}");
    }
    let again = app.post("/api/v1/applications", Some(&token), &json!({"partnership_id": pid})).await;
    assert_eq!(problem(again, StatusCode::CONFLICT).await["code"], "application_exists");
});

both!(async fn each_money_rule_holds_at_its_exact_cent(app) {
    let token = app.login(APPLICANT2).await;
    let m = members(&app, &token, 1).await;
    let demo = app.call_id(DEMO).await;
    let id = complete_application(&app, &token, &demo, &m).await;
    let path = format!("/api/v1/applications/{id}");
    let set_budget = |lines: Value, grant: &str, co: &str| json!({"budget": {"lines": lines, "requested_grant": grant, "co_financing": co}});
    let one_line = |amount: &str| json!([{"category": "EMPLOYEE_SERVICES", "description": "Servizi", "amount": amount, "borne_by": m.lead}]);
    let cases = [
        // 70% of 71,428.57 is 49,999.999: rounded down, 49,999.99 is the most.
        (set_budget(one_line("71428.57"), "49999.99", "21428.58"), vec![]),
        (set_budget(one_line("71428.57"), "50000.00", "21428.57"), vec!["grant_above_rate"]),
        (set_budget(one_line("71428.58"), "50000.00", "21428.58"), vec![]),
        // The cap: 50,000.00 at most, however large the total.
        (set_budget(one_line("100000.00"), "50000.01", "49999.99"), vec!["grant_above_cap"]),
        (set_budget(one_line("100000.00"), "50000.00", "50000.01"), vec!["co_financing_mismatch"]),
        // Communication at most 5% of the total: 50.00 of 1,000.00 passes, 50.01 of 1,000.01 does not.
        (set_budget(json!([{"category": "EMPLOYEE_SERVICES", "description": "S", "amount": "950.00", "borne_by": m.lead},
                           {"category": "COMMUNICATION", "description": "C", "amount": "50.00", "borne_by": m.lead}]), "700.00", "300.00"), vec![]),
        (set_budget(json!([{"category": "EMPLOYEE_SERVICES", "description": "S", "amount": "950.00", "borne_by": m.lead},
                           {"category": "COMMUNICATION", "description": "C", "amount": "50.01", "borne_by": m.lead}]), "700.00", "300.01"), vec!["category_above_cap"]),
    ];
    for (patch, expected) in cases {
        let tag = etag(&app, &path, &token).await;
        let res = app.patch(&path, Some(&token), Some(&tag), &patch).await;
        assert_eq!(res.status(), StatusCode::OK);
        let codes: Vec<String> = blocking_codes(&app, &token, &id).await.into_iter().map(|(_, c)| c).collect();
        assert_eq!(codes, expected, "{patch}");
    }
    // The last budget breaks a rule: submitting says so, with the rule named, and changes nothing.
    let p = problem(submit(&app, &token, &id, None).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "content.budget.lines", "category_above_cap"), "{p}");
    let view: Value = app.get(&path, Some(&token)).await.json().await.unwrap();
    assert_eq!(view["status"], "draft");
});

both!(async fn the_window_is_half_open_in_rome_time_and_a_late_submission_changes_nothing(app) {
    let token = app.login(APPLICANT2).await;
    let m = members(&app, &token, 1).await;
    let call = app.call_id(CALL_2022).await;
    app.clock.set_rome("2022-05-04T11:00:00");
    let early = complete_application(&app, &token, &call, &m).await;
    let late = complete_application(&app, &token, &call, &m).await;

    app.clock.set_rome("2022-05-04T11:59:59.999");
    let p = problem(submit(&app, &token, &early, None).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "submitted_at", "outside_window"), "{p}");
    app.clock.set_rome("2022-05-04T12:00:00");
    let res = submit(&app, &token, &early, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let receipt: Value = res.json().await.unwrap();
    assert_eq!(receipt["protocol_number"], "RLD12022024943-000001");
    assert_eq!(receipt["submitted_at"], "2022-05-04T10:00:00.000000Z");

    // The closing instant, as amended, is already late: refused, and no number is used.
    app.clock.set_rome("2022-07-15T12:00:00");
    let p = problem(submit(&app, &token, &late, None).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "submitted_at", "outside_window"), "{p}");
    let view: Value = app.get(&format!("/api/v1/applications/{late}"), Some(&token)).await.json().await.unwrap();
    assert_eq!(view["status"], "draft");
    assert!(view["protocol_number"].is_null());
    app.clock.set_rome("2022-07-15T11:59:59.999");
    let receipt: Value = submit(&app, &token, &late, None).await.json().await.unwrap();
    assert_eq!(receipt["protocol_number"], "RLD12022024943-000002");
});

both!(async fn concurrent_submissions_get_unique_gap_free_numbers(app) {
    let token = app.login(APPLICANT2).await;
    let m = members(&app, &token, 1).await;
    let demo = app.call_id(DEMO).await;
    let mut ids = Vec::new();
    for _ in 0..25 {
        ids.push(complete_application(&app, &token, &demo, &m).await);
    }
    let results = futures_util::future::join_all(ids.iter().map(|id| submit(&app, &token, id, None))).await;
    let mut numbers = Vec::new();
    for res in results {
        assert_eq!(res.status(), StatusCode::OK);
        numbers.push(res.json::<Value>().await.unwrap()["protocol_number"].as_str().unwrap().to_owned());
    }
    numbers.sort();
    let expected: Vec<String> = (1..=25).map(|n| format!("RLD-DEMO-CONCILIAZIONE-{n:06}")).collect();
    assert_eq!(numbers, expected);
});

/// Deadline day: everybody submits at once. With one submission's transaction at a time and
/// a pool of two connections, a burst waits its turn instead of failing; every submission
/// gets its number, and the receipt it was answered is the one stored.
mod a_burst_of_submissions_waits_its_turn_instead_of_failing {
    use super::*;

    async fn run(backend: Backend) {
        let Some(app) = spawn_app_with(backend, |s| {
            s.database.max_connections = 2;
            s.database.submit_concurrency = 1;
        })
        .await
        else {
            return;
        };
        let token = app.login(APPLICANT2).await;
        let m = members(&app, &token, 1).await;
        let demo = app.call_id(DEMO).await;
        let mut ids = Vec::new();
        for _ in 0..30 {
            ids.push(complete_application(&app, &token, &demo, &m).await);
        }
        let keys: Vec<String> = (0..ids.len()).map(|i| format!("burst-{i}")).collect();
        let results = futures_util::future::join_all(
            ids.iter()
                .zip(&keys)
                .map(|(id, key)| submit(&app, &token, id, Some(key))),
        )
        .await;
        let mut numbers = Vec::new();
        for ((res, id), key) in results.into_iter().zip(&ids).zip(&keys) {
            assert_eq!(res.status(), StatusCode::OK);
            let answered: Value = res.json().await.unwrap();
            let stored: Value = app
                .get(&format!("/api/v1/applications/{id}/receipt"), Some(&token))
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(answered, stored);
            let again = submit(&app, &token, id, Some(key)).await;
            assert_eq!(again.headers()["idempotent-replayed"], "true");
            assert_eq!(again.headers()["content-type"], "application/json");
            assert_eq!(again.json::<Value>().await.unwrap(), answered);
            numbers.push(answered["protocol_number"].as_str().unwrap().to_owned());
        }
        numbers.sort();
        let expected: Vec<String> = (1..=30)
            .map(|n| format!("RLD-DEMO-CONCILIAZIONE-{n:06}"))
            .collect();
        assert_eq!(numbers, expected);
    }

    #[tokio::test]
    async fn sqlite() {
        run(Backend::Sqlite).await
    }

    #[tokio::test]
    async fn postgres() {
        run(Backend::Postgres).await
    }
}

both!(async fn a_submission_key_gives_one_receipt_and_two_keys_give_one_success(app) {
    let token = app.login(APPLICANT2).await;
    let m = members(&app, &token, 1).await;
    let demo = app.call_id(DEMO).await;
    let id = complete_application(&app, &token, &demo, &m).await;
    let (a, b) = tokio::join!(submit(&app, &token, &id, Some("key-1")), submit(&app, &token, &id, Some("key-1")));
    let mut receipts = Vec::new();
    for res in [a, b] {
        match res.status() {
            StatusCode::OK => receipts.push(res.json::<Value>().await.unwrap()),
            StatusCode::CONFLICT => assert_eq!(problem(res, StatusCode::CONFLICT).await["code"], "idempotency_in_progress"),
            other => panic!("unexpected {other}"),
        }
    }
    // Repeating the key answers the same receipt, marked as a replay.
    let again = submit(&app, &token, &id, Some("key-1")).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let replay: Value = again.json().await.unwrap();
    for r in &receipts {
        assert_eq!(r, &replay);
    }
    assert_eq!(replay["protocol_number"], "RLD-DEMO-CONCILIAZIONE-000001");
    // Another key: the application is submitted once.
    assert_eq!(problem(submit(&app, &token, &id, Some("key-2")).await, StatusCode::CONFLICT).await["code"], "already_submitted");

    // Two different keys racing on a fresh application: one success, one conflict.
    let other = complete_application(&app, &token, &demo, &m).await;
    let (a, b) = tokio::join!(submit(&app, &token, &other, Some("key-3")), submit(&app, &token, &other, Some("key-4")));
    let mut statuses = vec![a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, vec![StatusCode::OK, StatusCode::CONFLICT]);
    // The same key with another body is refused.
    let res = app.client.post(app.url("/api/v1/applications")).bearer_auth(&token).header("idempotency-key", "key-1")
        .json(&json!({"partnership_id": partnership(&app, &token, &demo, &m).await})).send().await.unwrap();
    assert!(has_violation(&problem(res, StatusCode::UNPROCESSABLE_ENTITY).await, "Idempotency-Key", "idempotency_key_reused"));
});

both!(async fn the_receipt_hash_does_not_change_when_an_organization_changes_later(app) {
    let token = app.login(APPLICANT2).await;
    let m = members(&app, &token, 1).await;
    let demo = app.call_id(DEMO).await;
    let id = complete_application(&app, &token, &demo, &m).await;
    let receipt: Value = submit(&app, &token, &id, None).await.json().await.unwrap();
    // The hash is the SHA-256 of the canonical JSON of the snapshot, which holds the members.
    use sha2::Digest;
    let canonical = serde_json_canonicalizer::to_string(&receipt["snapshot"]).unwrap();
    assert_eq!(receipt["snapshot_sha256"], hex::encode(sha2::Sha256::digest(canonical.as_bytes())));
    let lead = receipt["snapshot"]["members"].as_array().unwrap().iter().find(|x| x["organization_id"] == m.lead.as_str()).unwrap().clone();
    assert_eq!(lead["legal_name"], "Ente 1");

    let org = format!("/api/v1/organizations/{}", m.lead);
    let tag = etag(&app, &org, &token).await;
    assert_eq!(app.patch(&org, Some(&token), Some(&tag), &json!({"legal_name": "Comune rinominato"})).await.status(), StatusCode::OK);
    let again: Value = app.get(&format!("/api/v1/applications/{id}/receipt"), Some(&token)).await.json().await.unwrap();
    assert_eq!(again, receipt);
});

both!(async fn a_submitted_application_is_frozen_and_can_be_withdrawn(app) {
    let token = app.login(APPLICANT2).await;
    let m = members(&app, &token, 1).await;
    let demo = app.call_id(DEMO).await;
    let id = complete_application(&app, &token, &demo, &m).await;
    let path = format!("/api/v1/applications/{id}");
    assert_eq!(submit(&app, &token, &id, None).await.status(), StatusCode::OK);
    let tag = etag(&app, &path, &token).await;
    assert_eq!(problem(app.patch(&path, Some(&token), Some(&tag), &json!({"title": "x"})).await, StatusCode::CONFLICT).await["code"], "application_not_draft");
    assert_eq!(problem(app.request(Method::DELETE, &path, Some(&token), None).await, StatusCode::CONFLICT).await["code"], "application_not_draft");
    let res = upload_raw(&app, &token, &id, &json!({"kind": "other"}), "x.pdf", pdf("late")).await;
    assert_eq!(problem(res, StatusCode::CONFLICT).await["code"], "application_not_draft");
    let view: Value = app.get(&path, Some(&token)).await.json().await.unwrap();
    let pid = view["partnership_id"].as_str().unwrap();
    let extra = register(&app, &token, &public_body(50, "SO", &["SO"])).await;
    let res = app.post(&format!("/api/v1/partnerships/{pid}/members"), Some(&token), &json!({"organization_id": extra, "role": "full_partner"})).await;
    assert_eq!(problem(res, StatusCode::CONFLICT).await["code"], "partnership_frozen");

    let p = problem(app.post(&format!("{path}/withdraw"), Some(&token), &json!({"reason": " "})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "reason", "invalid_text"));
    let res = app.post(&format!("{path}/withdraw"), Some(&token), &json!({"reason": "Il partenariato rinuncia."})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "withdrawn");
    let history: Value = app.get(&format!("{path}/history"), Some(&token)).await.json().await.unwrap();
    let steps: Vec<&str> = history.as_array().unwrap().iter().map(|h| h["to_status"].as_str().unwrap()).collect();
    assert_eq!(steps, vec!["draft", "submitted", "withdrawn"]);
    assert_eq!(history[2]["reason"], "Il partenariato rinuncia.");
    assert_eq!(history[2]["actor_role"], "applicant");
});

both!(async fn drafts_change_by_merge_patch_with_if_match_and_every_rule(app) {
    let token = app.login(APPLICANT2).await;
    let m = members(&app, &token, 1).await;
    let demo = app.call_id(DEMO).await;
    let id = complete_application(&app, &token, &demo, &m).await;
    let path = format!("/api/v1/applications/{id}");
    assert_eq!(problem(app.patch(&path, Some(&token), None, &json!({"title": "x"})).await, StatusCode::PRECONDITION_REQUIRED).await["code"], "precondition_required");
    let tag = etag(&app, &path, &token).await;
    let bad = json!({"intervention_areas": ["NOPE"], "end_date": "2028-06-30", "budget": {"lines": [{"category": "TRAVEL", "description": "x", "amount": "1.00", "borne_by": m.lead}, {"category": "EMPLOYEE_SERVICES", "description": "y", "amount": "1.00", "borne_by": "00000000-0000-0000-0000-000000000001"}]}});
    let p = problem(app.patch(&path, Some(&token), Some(&tag), &bad).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    for (field, code) in [("intervention_areas[0]", "unknown_area"), ("end_date", "duration_exceeded"), ("budget.lines[0].category", "unknown_category"), ("budget.lines[1].borne_by", "not_a_member")] {
        assert!(has_violation(&p, field, code), "{field} {code}: {p}");
    }
    let res = app.patch(&path, Some(&token), Some(&tag), &json!({"title": "Valtellina concilia 2"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(problem(app.patch(&path, Some(&token), Some(&tag), &json!({"title": "x"})).await, StatusCode::PRECONDITION_FAILED).await["code"], "precondition_failed");
});

both!(async fn only_the_partnership_and_its_agency_see_an_application(app) {
    let token = app.login(APPLICANT2).await;
    let m = members(&app, &token, 1).await;
    let demo = app.call_id(DEMO).await;
    let id = complete_application(&app, &token, &demo, &m).await;
    let path = format!("/api/v1/applications/{id}");
    let stranger = app.login(APPLICANT).await;
    let montagna = app.login(EVALUATOR_MONTAGNA).await;
    let brescia = app.login(EVALUATOR_BRESCIA).await;
    problem(app.get(&path, Some(&stranger)).await, StatusCode::NOT_FOUND).await;
    problem(submit(&app, &stranger, &id, None).await, StatusCode::NOT_FOUND).await;
    let tag = etag(&app, &path, &token).await;
    problem(app.patch(&path, Some(&stranger), Some(&tag), &json!({"title": "x"})).await, StatusCode::NOT_FOUND).await;
    // Evaluators see it only once submitted, only the competent agency's, and only after
    // declaring that they have no conflict of interest.
    problem(app.get(&path, Some(&montagna)).await, StatusCode::NOT_FOUND).await;
    assert_eq!(submit(&app, &token, &id, None).await.status(), StatusCode::OK);
    let p = problem(app.get(&path, Some(&montagna)).await, StatusCode::FORBIDDEN).await;
    assert_eq!(p["code"], "conflict_declaration_required");
    let res = app.post(&format!("{path}/conflict-of-interest"), Some(&montagna), &json!({"has_conflict": false})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(app.get(&path, Some(&montagna)).await.status(), StatusCode::OK);
    problem(app.get(&path, Some(&brescia)).await, StatusCode::NOT_FOUND).await;
    problem(submit(&app, &montagna, &id, None).await, StatusCode::FORBIDDEN).await;
    let list: Value = app.get("/api/v1/applications", Some(&brescia)).await.json().await.unwrap();
    assert_eq!(list["total"], 0);
    // (The closed demo edition's seeded application is Montagna's too: the demo edition only.)
    let list: Value = app.get(&format!("/api/v1/applications?status=submitted&call_id={demo}"), Some(&montagna)).await.json().await.unwrap();
    assert_eq!(list["total"], 1);
    let list: Value = app.get(&format!("/api/v1/applications?call_id={demo}"), Some(&stranger)).await.json().await.unwrap();
    assert_eq!(list["total"], 0);
    // A member that is not the lead reads it but does not act on it.
    let member_token = app.login(APPLICANT).await;
    let member = register(&app, &member_token, &enterprise(60, "SO", &["SO"], "2", Some("1000.00"), None)).await;
    let pid = partnership(&app, &token, &demo, &Members { lead: m.lead.clone(), others: vec![member.clone()] }).await;
    accept_invitation(&app, &member_token, &pid, &member).await;
    let res = app.post("/api/v1/applications", Some(&token), &json!({"partnership_id": pid})).await;
    let draft = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let seen: Value = app.get(&format!("/api/v1/applications/{draft}"), Some(&member_token)).await.json().await.unwrap();
    assert_eq!(seen["can_manage"], false);
    problem(app.request(Method::DELETE, &format!("/api/v1/applications/{draft}"), Some(&member_token), None).await, StatusCode::NOT_FOUND).await;
});

both!(async fn the_list_filters_and_exports_csv(app) {
    let token = app.login(APPLICANT2).await;
    let m = members(&app, &token, 1).await;
    let demo = app.call_id(DEMO).await;
    let submitted = complete_application(&app, &token, &demo, &m).await;
    let _draft = complete_application(&app, &token, &demo, &m).await;
    assert_eq!(submit(&app, &token, &submitted, None).await.status(), StatusCode::OK);
    let list: Value = app.get("/api/v1/applications?status=submitted", Some(&token)).await.json().await.unwrap();
    assert_eq!(list["total"], 1);
    let list: Value = app.get("/api/v1/applications?area=TIME_SAVING&agency_code=MONTAGNA", Some(&token)).await.json().await.unwrap();
    assert_eq!(list["total"], 2);
    let list: Value = app.get("/api/v1/applications?area=MOBILITA", Some(&token)).await.json().await.unwrap();
    assert_eq!((list["items"].as_array().unwrap().len(), list["total"].as_u64()), (0, Some(0)));
    // The title contains a quoted word, not an area: the filter reads areas only.
    let list: Value = app.get("/api/v1/applications?area=TIME_SAVING&per_page=1", Some(&token)).await.json().await.unwrap();
    assert_eq!((list["items"].as_array().unwrap().len(), list["total"].as_u64()), (1, Some(2)));
    let p = problem(app.get("/api/v1/applications?area=%25", Some(&token)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "area", "invalid_code"));
    // The administrator's export of the demo edition (the closed one has a seeded application).
    let res = app.get(&format!("/api/v1/applications?format=csv&call_id={demo}"), Some(&app.login(ADMIN).await)).await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "id,call_code,protocol_number,status,agency_code,title,intervention_areas,total_cost,requested_grant,co_financing,submitted_at");
    assert_eq!(lines.len(), 3, "{text}");
    assert!(text.contains(",35000.00,24500.00,10500.00,"), "{text}");
    // The applicant's export holds what its list holds, area filter included, with the call's code.
    let text = app.get("/api/v1/applications?format=csv&area=TIME_SAVING", Some(&token)).await.text().await.unwrap();
    let rows: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).skip(1).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(rows.iter().all(|r| r.split(',').nth(1) == Some(DEMO)), "{text}");
    let text = app.get("/api/v1/applications?format=csv&area=MOBILITA", Some(&token)).await.text().await.unwrap();
    assert_eq!(text.split("\r\n").filter(|l| !l.is_empty()).count(), 1, "{text}");
});

both!(async fn the_list_shows_each_application_as_its_own_read_does(app) {
    let token = app.login(APPLICANT2).await;
    let demo = app.call_id(DEMO).await;
    let m = members(&app, &token, 1).await;
    let submitted = complete_application(&app, &token, &demo, &m).await;
    let _complete = complete_application(&app, &token, &demo, &m).await;
    assert_eq!(submit(&app, &token, &submitted, None).await.status(), StatusCode::OK);
    // A bare draft of a partnership with another applicant's organization as a member.
    let member_token = app.login(APPLICANT).await;
    let member = register(&app, &member_token, &enterprise(60, "SO", &["SO"], "2", Some("1000.00"), None)).await;
    let pid = partnership(&app, &token, &demo, &Members { lead: m.lead.clone(), others: vec![member.clone()] }).await;
    accept_invitation(&app, &member_token, &pid, &member).await;
    let res = app.post("/api/v1/applications", Some(&token), &json!({"partnership_id": pid})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let bare = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    // In the demo edition: the first demo applicant also leads the closed edition's seeded one.
    for (who, n) in [(&token, 3), (&member_token, 1)] {
        let list: Value = app.get(&format!("/api/v1/applications?per_page=100&call_id={demo}"), Some(who)).await.json().await.unwrap();
        assert_eq!(list["total"], n, "{list}");
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), n);
        for item in items {
            let one: Value = app.get(&format!("/api/v1/applications/{}", item["id"].as_str().unwrap()), Some(who)).await.json().await.unwrap();
            assert_eq!(item, &one);
        }
        let draft = items.iter().find(|i| i["id"] == bare.as_str()).unwrap();
        assert!(draft["blocking"].as_array().unwrap().iter().any(|v| v["code"] != "outside_window"), "{draft}");
        assert_eq!(draft["can_manage"], who == &token);
        // Page by page: the same items in the same order, and every page tells the same total.
        let mut paged = vec![];
        for page in 1..=3 {
            let list: Value = app.get(&format!("/api/v1/applications?per_page=2&page={page}&call_id={demo}"), Some(who)).await.json().await.unwrap();
            assert_eq!(list["total"], n, "{list}");
            paged.extend(list["items"].as_array().unwrap().iter().map(|i| i["id"].clone()));
        }
        assert_eq!(paged, items.iter().map(|i| i["id"].clone()).collect::<Vec<_>>());
    }
});

both!(async fn a_partnership_that_is_not_eligible_cannot_submit(app) {
    let token = app.login(APPLICANT2).await;
    let mut m = members(&app, &token, 1).await;
    m.others.truncate(2);
    let demo = app.call_id(DEMO).await;
    let pid = partnership(&app, &token, &demo, &m).await;
    let res = app.post("/api/v1/applications", Some(&token), &json!({"partnership_id": pid, "content": content(&m.lead)})).await;
    let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let p = problem(submit(&app, &token, &id, None).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "partnership", "partnership_min_members"), "{p}");
    assert!(has_violation(&p, "partnership", "partnership_min_micro_small_enterprises"), "{p}");
    assert!(has_violation(&p, "documents", "missing_annex"), "{p}");
});

both!(async fn a_receipt_masks_the_personal_tax_codes_of_members_the_reader_does_not_represent(app) {
    let lead_token = app.login(APPLICANT2).await;
    let trader_token = app.login(APPLICANT).await;
    let mut m = members(&app, &lead_token, 1).await;
    let mut sole = enterprise(70, "SO", &["SO"], "2", Some("90000.00"), None);
    sole["subtype"] = json!("sole_trader");
    sole["tax_code"] = json!("RSSMRA85T10A562S");
    m.others.push(register(&app, &trader_token, &sole).await);
    let demo = app.call_id(DEMO).await;
    // The trader's organization is invited, and joins when the trader accepts.
    let pid = partnership(&app, &lead_token, &demo, &m).await;
    accept_invitation(&app, &trader_token, &pid, &m.others[3]).await;
    let id = complete_application_of(&app, &lead_token, &pid, &m).await;
    let receipt: Value = submit(&app, &lead_token, &id, None).await.json().await.unwrap();
    let code = |r: &Value| r["snapshot"]["members"].as_array().unwrap().iter().find(|x| x["organization_id"] == m.others[3].as_str()).unwrap()["tax_code"].clone();
    assert_eq!(code(&receipt), "RSS************S");
    let as_trader: Value = app.get(&format!("/api/v1/applications/{id}/receipt"), Some(&trader_token)).await.json().await.unwrap();
    assert_eq!(code(&as_trader), "RSSMRA85T10A562S");
    // The hash is the one of the unmasked snapshot, which the trader's view reproduces.
    use sha2::Digest;
    let canonical = serde_json_canonicalizer::to_string(&as_trader["snapshot"]).unwrap();
    assert_eq!(as_trader["snapshot_sha256"], hex::encode(sha2::Sha256::digest(canonical.as_bytes())));
});

// A new draft answers its ETag with its Location, so that its first PATCH needs no read.
// If-Match compares strongly (RFC 9110): `*` matches any current version, a list matches when
// one of its tags does, and a weak tag never matches.
both!(async fn a_new_draft_has_its_etag_and_if_match_compares_strongly(app) {
    let token = app.login(APPLICANT).await;
    let demo = app.call_id(DEMO).await;
    let m = members(&app, &token, 1).await;
    let pid = partnership(&app, &token, &demo, &m).await;
    let res = app
        .post("/api/v1/applications", Some(&token), &json!({"partnership_id": pid, "content": {"title": "Primo"}}))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created_etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    let path = format!("/api/v1/applications/{id}");
    assert_eq!(location, path);
    assert_eq!(created_etag, etag(&app, &path, &token).await);

    // The ETag of the answer is enough for the first change.
    let res = app.patch(&path, Some(&token), Some(&created_etag), &json!({"title": "Secondo"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let current = res.headers()["etag"].to_str().unwrap().to_owned();
    // A weak tag of the current version does not match.
    let weak = format!("W/{current}");
    problem(app.patch(&path, Some(&token), Some(&weak), &json!({"title": "Terzo"})).await, StatusCode::PRECONDITION_FAILED).await;
    // A list matches when one of its tags is the current one.
    let list = format!("\"v999\", {current}");
    assert_eq!(app.patch(&path, Some(&token), Some(&list), &json!({"title": "Terzo"})).await.status(), StatusCode::OK);
    // `*` matches whatever the current version is.
    assert_eq!(app.patch(&path, Some(&token), Some("*"), &json!({"title": "Quarto"})).await.status(), StatusCode::OK);
    // The stale tag of the creation does not.
    problem(app.patch(&path, Some(&token), Some(&created_etag), &json!({"title": "Quinto"})).await, StatusCode::PRECONDITION_FAILED).await;
    let view: Value = app.get(&path, Some(&token)).await.json().await.unwrap();
    assert_eq!(view["content"]["title"], "Quarto");
});
