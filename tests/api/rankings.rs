use crate::applications::{complete_application, etag, members, submit};
use crate::both;
use crate::helpers::*;
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

fn scores(values: [u32; 7]) -> Value {
    let criteria = [
        "QUALITY",
        "PARTNERSHIP",
        "REACH",
        "INNOVATION",
        "SUSTAINABILITY",
        "BUDGET",
        "COMPLEMENTARITY",
    ];
    json!(criteria.iter().zip(values).map(|(c, v)| json!({"criterion": c, "score": v.to_string(), "justification": "Motivazione."})).collect::<Vec<_>>())
}

/// Seven applications to ATS Montagna asking 50,000.00 each, decided and scored by two
/// evaluators; returns their ids in protocol order and the evaluators' tokens.
pub async fn scored_round(app: &TestApp) -> (Vec<String>, String, String, String) {
    let applicant = app.login(APPLICANT2).await;
    let m = members(app, &applicant, 1).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
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
    let totals: [[u32; 7]; 7] = [
        [23, 18, 14, 9, 9, 9, 8], // A 90
        [22, 17, 13, 9, 8, 8, 8], // B 85
        [20, 17, 13, 8, 8, 7, 7], // C 80, QUALITY 20
        [22, 16, 12, 8, 8, 7, 7], // D 80, QUALITY 22: before C
        [20, 15, 12, 8, 7, 7, 6], // E 75
        [20, 15, 12, 8, 7, 7, 6], // F 75, the same as E: E submitted earlier
        [12, 10, 8, 5, 5, 5, 5],  // G 50: below the threshold
    ];
    let mut ids = Vec::new();
    for _ in 0..totals.len() {
        let id = complete_application(app, &applicant, &demo, &m).await;
        let path = format!("/api/v1/applications/{id}");
        let tag = etag(app, &path, &applicant).await;
        let budget = json!({"budget": {"lines": [{"category": "EMPLOYEE_SERVICES", "description": "Servizi", "amount": "71428.58", "borne_by": m.lead}],
            "requested_grant": "50000.00", "co_financing": "21428.58"}});
        assert_eq!(
            app.patch(&path, Some(&applicant), Some(&tag), &budget)
                .await
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            submit(app, &applicant, &id, None).await.status(),
            StatusCode::OK
        );
        ids.push(id);
    }
    for (id, values) in ids.iter().zip(totals) {
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
                    Some(&json!({"scores": scores(values), "final": true})),
                )
                .await;
            assert_eq!(res.status(), StatusCode::OK);
        }
    }
    (ids, applicant, first, second)
}

/// Past the demo call's window, compute and approve ATS Montagna's ranking of a scored round.
pub async fn approve_montagna(app: &TestApp, evaluator: &str) {
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    app.clock
        .set(chrono::Utc::now() + chrono::Duration::days(100));
    let ranking = format!("/api/v1/calls/{demo}/agencies/MONTAGNA/ranking");
    assert_eq!(
        app.post(&ranking, Some(evaluator), &json!({}))
            .await
            .status(),
        StatusCode::CREATED
    );
    let act = json!({"act_number": "decreto n. 9", "act_date": "2027-03-05"});
    assert_eq!(
        app.post(&format!("{ranking}/approve"), Some(evaluator), &act)
            .await
            .status(),
        StatusCode::OK
    );
}

both!(async fn the_montagna_envelope_is_ranked_and_allocated_to_the_cent(app) {
    let (ids, applicant, first, _) = scored_round(&app).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let ranking = format!("/api/v1/calls/{demo}/agencies/MONTAGNA/ranking");
    // Rankings come after the window closes.
    assert_eq!(problem(app.post(&ranking, Some(&first), &json!({})).await, StatusCode::CONFLICT).await["code"], "window_open");
    app.clock.set(chrono::Utc::now() + chrono::Duration::days(100));

    let res = app.post(&ranking, Some(&first), &json!({})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let draft: Value = res.json().await.unwrap();
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["envelope"], "293580.00");
    assert_eq!(draft["allocated"], "293580.00");
    let entries = draft["entries"].as_array().unwrap();
    let line = |i: usize| {
        let e = &entries[i];
        (e["protocol_number"].as_str().unwrap()[23..].to_owned(), e["outcome"].as_str().unwrap().to_owned(), e["amount"].as_str().unwrap().to_owned(), e["tie_break"].as_str().map(String::from))
    };
    let expected = [
        ("000001", "funded", "50000.00", None),
        ("000002", "funded", "50000.00", None),
        ("000004", "funded", "50000.00", None),
        ("000003", "funded", "50000.00", Some("higher_criterion_score:QUALITY")),
        ("000005", "funded", "50000.00", None),
        ("000006", "partially_funded", "43580.00", Some("earlier_submission")),
        ("000007", "not_eligible", "0.00", None),
    ];
    for (i, (protocol, outcome, amount, tie)) in expected.iter().enumerate() {
        assert_eq!(line(i), (protocol.to_string(), outcome.to_string(), amount.to_string(), tie.map(String::from)), "entry {i}: {}", entries[i]);
    }
    assert_eq!(entries[5]["envelope_before"], "43580.00");
    assert_eq!(entries[5]["envelope_after"], "0.00");

    // A simulation stores nothing.
    let sim: Value = app.post(&format!("{ranking}/simulate"), Some(&first), &json!({"envelope": "400000.00"})).await.json().await.unwrap();
    assert_eq!(sim["allocated"], "300000.00");
    let versions: Value = app.get(&format!("{ranking}/versions"), Some(&first)).await.json().await.unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 1);

    // The inputs change (a withdrawal): the draft is stale.
    let res = app.post(&format!("/api/v1/applications/{}/withdraw", ids[6]), Some(&applicant), &json!({"reason": "Rinuncia."})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let act = json!({"act_number": "decreto ATS della Montagna n. 123", "act_date": "2027-03-05"});
    assert_eq!(problem(app.post(&format!("{ranking}/approve"), Some(&first), &act).await, StatusCode::CONFLICT).await["code"], "ranking_stale");
    assert_eq!(app.post(&ranking, Some(&first), &json!({})).await.status(), StatusCode::CREATED);
    let res = app.post(&format!("{ranking}/approve"), Some(&first), &act).await;
    assert_eq!(res.status(), StatusCode::OK);
    let approved: Value = res.json().await.unwrap();
    assert_eq!((approved["status"].as_str(), approved["version"].as_i64()), (Some("approved"), Some(2)));
    assert_eq!(approved["entries"].as_array().unwrap().len(), 6);
    assert_eq!(problem(app.post(&format!("{ranking}/approve"), Some(&first), &act).await, StatusCode::CONFLICT).await["code"], "ranking_already_approved");
    assert_eq!(problem(app.post(&ranking, Some(&first), &json!({})).await, StatusCode::CONFLICT).await["code"], "ranking_already_approved");

    // The results are published: the applicant is told and reads the scores now.
    let inbox: Value = app.get("/api/v1/notifications", Some(&applicant)).await.json().await.unwrap();
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == "ranking_approved" && n["data"]["outcome"] == "partially_funded"));
    let published: Value = app.get(&format!("/api/v1/applications/{}/evaluations", ids[0]), Some(&applicant)).await.json().await.unwrap();
    assert_eq!(published["outcome"]["score"], "90.00");

    // From now on the applications and their scores are frozen.
    let res = app.post(&format!("/api/v1/applications/{}/withdraw", ids[0]), Some(&applicant), &json!({"reason": "Ripensamento."})).await;
    assert_eq!(problem(res, StatusCode::CONFLICT).await["code"], "ranking_approved");
    let body = json!({"scores": scores([25, 20, 15, 10, 10, 10, 10]), "reasons": "Tardivo."});
    let res = app.request(Method::PUT, &format!("/api/v1/applications/{}/consensus", ids[1]), Some(&first), Some(&body)).await;
    assert_eq!(problem(res, StatusCode::CONFLICT).await["code"], "ranking_approved");

    // The results are public, in JSON, CSV and 360Giving, without personal data.
    let results: Value = app.get(&format!("/api/v1/calls/{demo}/results"), None).await.json().await.unwrap();
    assert_eq!(results.as_array().unwrap().len(), 6);
    assert_eq!(results[5]["outcome"], "partially_funded");
    // Each row names its project and its lead partner (a public body here, so by name).
    for r in results.as_array().unwrap() {
        assert_eq!(r["title"], "Valtellina concilia", "{r}");
        assert!(r["recipient"].as_str().unwrap().starts_with("Ente "), "{r}");
    }
    let csv = app.get(&format!("/api/v1/calls/{demo}/results?format=csv"), None).await.text().await.unwrap();
    assert!(csv.starts_with("agency_code,rank,protocol_number,title,recipient,score,outcome,amount,act_number,act_date,grant_status,final_grant,disbursed,start_date,end_date\r\n"), "{csv}");
    let giving: Value = app.get(&format!("/api/v1/calls/{demo}/results?format=360giving"), None).await.json().await.unwrap();
    assert_eq!(giving["grants"].as_array().unwrap().len(), 6);
    assert_eq!(giving["grants"][0]["currency"], "EUR");

    // The approval offered a grant to each funded application, with a deadline.
    let grants: Value = app.get("/api/v1/grants", Some(&applicant)).await.json().await.unwrap();
    assert_eq!(grants["total"], 6);
    let all = grants["items"].as_array().unwrap().clone();
    let partial = all.iter().find(|g| g["amount"] == "43580.00").unwrap().clone();
    assert_eq!(partial["requested"], "50000.00");
    assert_eq!(partial["status"], "offered");
    let agency: Value = app.get("/api/v1/grants?agency_code=BRESCIA", Some(&first)).await.json().await.unwrap();
    assert_eq!(agency["total"], 0, "an evaluator sees its own agency's grants only");
    // Its agency's: these six and the seeded grant of the closed demo edition.
    let agency: Value = app.get("/api/v1/grants", Some(&first)).await.json().await.unwrap();
    assert_eq!(agency["total"], 7);
    let full: Vec<String> = all.iter().filter(|g| g["amount"] == "50000.00").map(|g| g["id"].as_str().unwrap().to_owned()).collect();
    let (g0, g1) = (full[0].clone(), full[1].clone());
    let p = problem(app.post(&format!("/api/v1/grants/{g0}/accept"), Some(&applicant), &json!({"cup": "nope"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "cup", "invalid_cup"));
    let stranger = app.login(APPLICANT).await;
    problem(app.post(&format!("/api/v1/grants/{g1}/decline"), Some(&stranger), &json!({})).await, StatusCode::NOT_FOUND).await;
    let res = app.post(&format!("/api/v1/grants/{g0}/accept"), Some(&applicant), &json!({"cup": "J51B22000120002"})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "accepted");
    assert_eq!(problem(app.post(&format!("/api/v1/grants/{g0}/decline"), Some(&applicant), &json!({})).await, StatusCode::CONFLICT).await["code"], "offer_answered");
    let res = app.post(&format!("/api/v1/grants/{g1}/decline"), Some(&applicant), &json!({"reason": "Rinuncia."})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "declined");
    // The decline frees 50,000.00, which goes down the list as a new published version: the
    // partial grant is topped up to its request first (6,420.00); 43,580.00 stay free.
    let versions: Value = app.get(&format!("{ranking}/versions"), Some(&first)).await.json().await.unwrap();
    let last = versions.as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["version"].as_i64(), last["status"].as_str()), (Some(3), Some("approved")));
    assert!(last["reason"].as_str().unwrap().starts_with("scorrimento"));
    let current: Value = app.get(&ranking, Some(&first)).await.json().await.unwrap();
    let outcomes: Vec<&str> = current["entries"].as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "lapsed").count(), 1);
    assert!(!outcomes.contains(&"partially_funded"));
    let topped: Value = app.get(&format!("/api/v1/grants/{}", partial["id"].as_str().unwrap()), Some(&applicant)).await.json().await.unwrap();
    assert_eq!(topped["amount"], "50000.00");
    let inbox: Value = app.get("/api/v1/notifications", Some(&applicant)).await.json().await.unwrap();
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == "grant_offered"));

    // The dashboard counts them.
    let dashboard: Value = app.get(&format!("/api/v1/calls/{demo}/agencies/MONTAGNA/dashboard"), Some(&first)).await.json().await.unwrap();
    assert_eq!(
        (dashboard["received"].as_u64(), dashboard["admitted"].as_u64(), dashboard["scored"].as_u64(), dashboard["eligible"].as_u64()),
        (Some(6), Some(6), Some(6), Some(6))
    );
    assert_eq!((dashboard["committed"].as_str(), dashboard["free"].as_str()), (Some("250000.00"), Some("43580.00")));
    assert_eq!(dashboard["ranking_status"], "approved");
    problem(app.get(&format!("/api/v1/calls/{demo}/agencies/MONTAGNA/dashboard"), Some(&app.login(EVALUATOR_BRESCIA).await)).await, StatusCode::NOT_FOUND).await;

    // Regional reallocation: only unused money moves, never below what is committed.
    let admin = app.login(ADMIN).await;
    let realloc = format!("/api/v1/calls/{demo}/reallocations");
    let p = problem(app.post(&realloc, Some(&admin), &json!({"from_agency_code": "MONTAGNA", "to_agency_code": "PAVIA", "amount": "43580.01", "reason": "Prova."})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "amount", "more_than_unused"), "{p}");
    problem(app.post(&realloc, Some(&first), &json!({"from_agency_code": "PAVIA", "to_agency_code": "MONTAGNA", "amount": "1.00", "reason": "x"})).await, StatusCode::FORBIDDEN).await;
    let res = app.post(&realloc, Some(&admin), &json!({"from_agency_code": "PAVIA", "to_agency_code": "MONTAGNA", "amount": "10000.00", "reason": "Risorse non utilizzate."})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let env: Value = res.json().await.unwrap();
    assert_eq!(env["sum"], "5050000.00");
    let montagna = env["items"].as_array().unwrap().iter().find(|e| e["agency_code"] == "MONTAGNA").unwrap().clone();
    assert_eq!(montagna["amount"], "303580.00");
    let versions: Value = app.get(&format!("{ranking}/versions"), Some(&first)).await.json().await.unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 4, "the money arriving went down the list as a new version");
    let mut envelopes: Vec<Value> = env["items"].as_array().unwrap().iter()
        .map(|e| json!({"agency_code": e["agency_code"], "amount": e["amount"], "source": e["source"], "note": e["note"]})).collect();
    let i = envelopes.iter().position(|e| e["agency_code"] == "MONTAGNA").unwrap();
    let j = envelopes.iter().position(|e| e["agency_code"] == "PAVIA").unwrap();
    envelopes[i]["amount"] = json!("200000.00");
    envelopes[j]["amount"] = json!("472980.18");
    let p = problem(app.put(&format!("/api/v1/calls/{demo}/envelopes"), Some(&admin), &json!({"envelopes": envelopes})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, &format!("envelopes[{i}].amount"), "below_committed"), "{p}");

    // An administrator revokes an accepted grant, with a reason: its money goes down the list.
    let res = app.post(&format!("/api/v1/grants/{g0}/revoke"), Some(&admin), &json!({"reason": "Progetto non avviato."})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "revoked");
    assert_eq!(problem(app.post(&format!("/api/v1/grants/{g0}/revoke"), Some(&admin), &json!({"reason": "Di nuovo."})).await, StatusCode::CONFLICT).await["code"], "grant_not_live");
    problem(app.post(&format!("/api/v1/grants/{g0}/revoke"), Some(&applicant), &json!({"reason": "x"})).await, StatusCode::FORBIDDEN).await;
    let versions: Value = app.get(&format!("{ranking}/versions"), Some(&first)).await.json().await.unwrap();
    assert!(versions.as_array().unwrap().last().unwrap()["reason"].as_str().unwrap().contains("revocation"));

    // After the deadline the remaining offers have lapsed, as the next read finds.
    let g2 = full[2].clone();
    app.clock.set(chrono::Utc::now() + chrono::Duration::days(200));
    let lapsed: Value = app.get(&format!("/api/v1/grants/{g2}"), Some(&applicant)).await.json().await.unwrap();
    assert_eq!(lapsed["status"], "expired");
    let p = problem(app.post(&format!("/api/v1/grants/{g2}/accept"), Some(&applicant), &json!({"cup": "J51B22000120003"})).await, StatusCode::CONFLICT).await;
    assert_eq!(p["code"], "offer_expired");
    let versions: Value = app.get(&format!("{ranking}/versions"), Some(&first)).await.json().await.unwrap();
    assert!(versions.as_array().unwrap().last().unwrap()["reason"].as_str().unwrap().contains("expired"));
});

both!(async fn rankings_belong_to_their_agency_and_wait_for_every_evaluation(app) {
    let applicant = app.login(APPLICANT2).await;
    let m = members(&app, &applicant, 1).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let id = complete_application(&app, &applicant, &demo, &m).await;
    assert_eq!(submit(&app, &applicant, &id, None).await.status(), StatusCode::OK);
    app.clock.set(chrono::Utc::now() + chrono::Duration::days(100));
    let ranking = format!("/api/v1/calls/{demo}/agencies/MONTAGNA/ranking");
    let first = app.login(EVALUATOR_MONTAGNA).await;
    let p = problem(app.post(&ranking, Some(&first), &json!({})).await, StatusCode::CONFLICT).await;
    assert_eq!(p["code"], "evaluations_missing");
    assert!(p["detail"].as_str().unwrap().contains("RLD-DEMO-CONCILIAZIONE-000001"));
    problem(app.get(&ranking, Some(&first)).await, StatusCode::NOT_FOUND).await;
    problem(app.post(&ranking, Some(&app.login(EVALUATOR_BRESCIA).await), &json!({})).await, StatusCode::NOT_FOUND).await;
    problem(app.post(&ranking, Some(&applicant), &json!({})).await, StatusCode::FORBIDDEN).await;
    // Nothing to approve yet; an empty ranking of another agency cannot be approved.
    let act = json!({"act_number": "decreto n. 1", "act_date": "2027-03-05"});
    assert_eq!(problem(app.post(&format!("{ranking}/approve"), Some(&first), &act).await, StatusCode::CONFLICT).await["code"], "no_draft_ranking");
    // Computing and approving are the agency's acts: an administrator reads and simulates only.
    let admin = app.login(ADMIN).await;
    let brescia = format!("/api/v1/calls/{demo}/agencies/BRESCIA/ranking");
    problem(app.post(&brescia, Some(&admin), &json!({})).await, StatusCode::FORBIDDEN).await;
    problem(app.post(&format!("{brescia}/approve"), Some(&admin), &act).await, StatusCode::FORBIDDEN).await;
    let evaluator_brescia = app.login(EVALUATOR_BRESCIA).await;
    assert_eq!(app.post(&brescia, Some(&evaluator_brescia), &json!({})).await.status(), StatusCode::CREATED);
    assert_eq!(problem(app.post(&format!("{brescia}/approve"), Some(&evaluator_brescia), &act).await, StatusCode::CONFLICT).await["code"], "ranking_empty");
    assert_eq!(app.post(&format!("{brescia}/simulate"), Some(&admin), &json!({"envelope": "100000.00"})).await.status(), StatusCode::OK);
});

/// Set the status of every stored version of an agency's ranking, behind the service.
async fn set_stored_status(app: &TestApp, agency: &str, status: &str) {
    use sea_orm::{ConnectionTrait, Database};
    use secrecy::ExposeSecret;
    let db = Database::connect(app.settings.database.url.expose_secret())
        .await
        .unwrap();
    let done = db
        .execute_unprepared(&format!(
            "UPDATE ranking_versions SET status = '{status}' WHERE agency_code = '{agency}'"
        ))
        .await
        .unwrap();
    assert!(done.rows_affected() > 0);
    db.close().await.ok();
}

both!(async fn a_stored_ranking_status_the_service_does_not_know_is_an_internal_error(app) {
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    app.clock.set(chrono::Utc::now() + chrono::Duration::days(100));
    let evaluator = app.login(EVALUATOR_BRESCIA).await;
    let ranking = format!("/api/v1/calls/{demo}/agencies/BRESCIA/ranking");
    assert_eq!(app.post(&ranking, Some(&evaluator), &json!({})).await.status(), StatusCode::CREATED);
    let dashboard = format!("/api/v1/calls/{demo}/agencies/BRESCIA/dashboard");
    let d: Value = app.get(&dashboard, Some(&evaluator)).await.json().await.unwrap();
    assert_eq!(d["ranking_status"], "draft");
    set_stored_status(&app, "BRESCIA", "frozen").await;
    for path in [ranking.clone(), format!("{ranking}/versions"), dashboard] {
        let p = problem(app.get(&path, Some(&evaluator)).await, StatusCode::INTERNAL_SERVER_ERROR).await;
        assert_eq!(p["code"], "internal_error", "{path}");
    }
    problem(app.post(&ranking, Some(&evaluator), &json!({})).await, StatusCode::INTERNAL_SERVER_ERROR).await;
});
