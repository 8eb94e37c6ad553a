use crate::applications::{complete_application, members, submit};
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

/// A submitted application of the second demo applicant to ATS Montagna, in the demo call.
async fn submitted(app: &TestApp) -> (String, String) {
    let token = app.login(APPLICANT2).await;
    let m = members(app, &token, 1).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let id = complete_application(app, &token, &demo, &m).await;
    assert_eq!(
        submit(app, &token, &id, None).await.status(),
        StatusCode::OK
    );
    (id, token)
}

async fn second_evaluator(app: &TestApp) -> String {
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
    app.login(SECOND_MONTAGNA).await
}

async fn declare(app: &TestApp, token: &str, id: &str, has_conflict: bool) {
    let res = app
        .post(
            &format!("/api/v1/applications/{id}/conflict-of-interest"),
            Some(token),
            &json!({"has_conflict": has_conflict}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

async fn decide(app: &TestApp, token: &str, id: &str, body: Value) -> reqwest::Response {
    app.post(
        &format!("/api/v1/applications/{id}/admissibility"),
        Some(token),
        &body,
    )
    .await
}

/// Scores for the seven criteria of the 2022 grid.
fn scores(values: [&str; 7]) -> Value {
    let criteria = [
        "QUALITY",
        "PARTNERSHIP",
        "REACH",
        "INNOVATION",
        "SUSTAINABILITY",
        "BUDGET",
        "COMPLEMENTARITY",
    ];
    json!(criteria.iter().zip(values).map(|(c, v)| json!({"criterion": c, "score": v, "justification": format!("Motivazione per {c}.")})).collect::<Vec<_>>())
}

async fn score(app: &TestApp, token: &str, id: &str, body: Value) -> reqwest::Response {
    app.request(
        Method::PUT,
        &format!("/api/v1/applications/{id}/evaluations/mine"),
        Some(token),
        Some(&body),
    )
    .await
}

async fn inbox(app: &TestApp, token: &str) -> Vec<Value> {
    let list: Value = app
        .get("/api/v1/notifications", Some(token))
        .await
        .json()
        .await
        .unwrap();
    list["items"].as_array().unwrap().clone()
}

both!(async fn an_application_walks_from_submission_to_a_final_score(app) {
    let (id, applicant) = submitted(&app).await;
    let path = format!("/api/v1/applications/{id}");
    let first = app.login(EVALUATOR_MONTAGNA).await;
    let second = second_evaluator(&app).await;
    // The evaluators of the agency were told of the submission.
    assert!(inbox(&app, &first).await.iter().any(|n| n["kind"] == "application_submitted"));

    // Before declaring: only the protocol, the title and the members.
    assert_eq!(problem(app.get(&path, Some(&first)).await, StatusCode::FORBIDDEN).await["code"], "conflict_declaration_required");
    let summary: Value = app.get(&format!("{path}/conflict-of-interest"), Some(&first)).await.json().await.unwrap();
    assert_eq!(summary["protocol_number"], "RLD-DEMO-CONCILIAZIONE-000001");
    assert_eq!(summary["members"].as_array().unwrap().len(), 4);
    assert_eq!(problem(decide(&app, &first, &id, json!({"decision": "admitted"})).await, StatusCode::FORBIDDEN).await["code"], "conflict_declaration_required");
    let early = score(&app, &first, &id, json!({"scores": scores(["20", "15", "12", "8", "7", "8", "6"]), "final": true})).await;
    assert_eq!(problem(early, StatusCode::FORBIDDEN).await["code"], "conflict_declaration_required");
    declare(&app, &first, &id, false).await;
    assert_eq!(app.get(&path, Some(&first)).await.status(), StatusCode::OK);

    // A request for integration, with a deadline the applicant is told of.
    let res = decide(&app, &first, &id, json!({"decision": "integration_requested", "question": "Allegare l'accordo firmato."})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let review: Value = res.json().await.unwrap();
    assert_eq!(review["review_status"], "integration_requested");
    assert!(review["integration_deadline"].as_str().unwrap().ends_with(":59:59.000000Z"));
    let notice = inbox(&app, &applicant).await.into_iter().find(|n| n["kind"] == "admissibility_integration_requested").expect("the applicant is told");
    assert_eq!(notice["data"]["deadline"], review["integration_deadline"]);
    assert_eq!(problem(decide(&app, &first, &id, json!({"decision": "admitted"})).await, StatusCode::CONFLICT).await["code"], "integration_pending");

    // The applicant answers: the case is open again; the evaluator admits it.
    let res = app.post(&format!("{path}/integration"), Some(&applicant), &json!({"answer": "Ecco l'accordo firmato.",
        "documents": [{"kind": "partnership_agreement", "file_name": "accordo-firmato.pdf", "size_bytes": 1000, "sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}]})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["review_status"], "pending");
    let res = decide(&app, &first, &id, json!({"decision": "admitted"})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["review_status"], "admitted");
    assert!(inbox(&app, &applicant).await.iter().any(|n| n["kind"] == "admissibility_admitted"));
    let view: Value = app.get(&path, Some(&applicant)).await.json().await.unwrap();
    assert_eq!(view["review_status"], "admitted");

    // Two evaluators score; a draft does not count, the finals do.
    let res = score(&app, &first, &id, json!({"scores": scores(["21.5", "15", "12", "8", "7", "8", "6"]), "final": false})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(score(&app, &first, &id, json!({"scores": scores(["21.5", "15", "12", "8", "7", "8", "6"]), "final": true})).await.status(), StatusCode::OK);
    declare(&app, &second, &id, false).await;
    let outcome: Value = app.get(&format!("{path}/evaluations"), Some(&second)).await.json().await.unwrap();
    assert_eq!(outcome["outcome"]["method"], "pending");
    assert_eq!(score(&app, &second, &id, json!({"scores": scores(["20", "16", "12", "8", "7", "8", "6.2"]), "final": true})).await.status(), StatusCode::OK);
    let outcome: Value = app.get(&format!("{path}/evaluations"), Some(&first)).await.json().await.unwrap();
    // Totals 77.5 and 77.2: the average 77.35.
    assert_eq!(outcome["outcome"]["method"], "average");
    assert_eq!(outcome["outcome"]["score"], "77.35");
    assert_eq!(outcome["outcome"]["eligible"], true);
    assert_eq!(outcome["outcome"]["gap_flag"], false);
    assert_eq!(outcome["evaluations"].as_array().unwrap().len(), 2);
    // Applicants see the scores once the ranking is approved, not before.
    assert_eq!(problem(app.get(&format!("{path}/evaluations"), Some(&applicant)).await, StatusCode::FORBIDDEN).await["code"], "results_not_published");
    let history: Value = app.get(&format!("{path}/history"), Some(&applicant)).await.json().await.unwrap();
    let steps: Vec<&str> = history.as_array().unwrap().iter().map(|h| h["to_status"].as_str().unwrap()).collect();
    assert_eq!(steps, vec!["draft", "submitted", "integration_requested", "pending", "admitted"]);
});

both!(async fn scores_that_break_the_grid_are_refused_and_change_nothing(app) {
    let (id, _) = submitted(&app).await;
    let first = app.login(EVALUATOR_MONTAGNA).await;
    // Not admitted yet: nothing to score.
    declare(&app, &first, &id, false).await;
    assert_eq!(problem(score(&app, &first, &id, json!({"scores": scores(["20", "15", "12", "8", "7", "8", "6"]), "final": true})).await, StatusCode::CONFLICT).await["code"], "not_admitted");
    assert_eq!(decide(&app, &first, &id, json!({"decision": "admitted"})).await.status(), StatusCode::OK);

    let mut bad = scores(["26", "15", "12", "8", "7", "8", "6"]);
    bad[1]["justification"] = json!(" ");
    bad.as_array_mut().unwrap().push(json!({"criterion": "NOPE", "score": "1", "justification": "x"}));
    let p = problem(score(&app, &first, &id, json!({"scores": bad, "final": true})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    for (field, code) in [("scores[0].score", "score_out_of_range"), ("scores[1].justification", "justification_required"), ("scores[7].criterion", "unknown_criterion")] {
        assert!(has_violation(&p, field, code), "{field} {code}: {p}");
    }
    let mut two_decimals = scores(["20", "15", "12", "8", "7", "8", "6"]);
    two_decimals[0]["score"] = json!("20.25");
    let p = problem(score(&app, &first, &id, json!({"scores": two_decimals, "final": false})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "scores[0].score", "invalid_value"), "{p}");
    let partial = json!([{"criterion": "QUALITY", "score": "20", "justification": "ok"}]);
    let p = problem(score(&app, &first, &id, json!({"scores": partial, "final": true})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "scores", "criterion_missing"), "{p}");
    let outcome: Value = app.get(&format!("/api/v1/applications/{id}/evaluations"), Some(&first)).await.json().await.unwrap();
    assert_eq!(outcome["evaluations"], json!([]));

    // Final is final, until an administrator reopens it with a reason.
    assert_eq!(score(&app, &first, &id, json!({"scores": scores(["20", "15", "12", "8", "7", "8", "6"]), "final": true})).await.status(), StatusCode::OK);
    assert_eq!(problem(score(&app, &first, &id, json!({"scores": scores(["10", "15", "12", "8", "7", "8", "6"]), "final": true})).await, StatusCode::CONFLICT).await["code"], "evaluation_final");
    let admin = app.login(ADMIN).await;
    assert_eq!(problem(score(&app, &admin, &id, json!({"scores": scores(["20", "15", "12", "8", "7", "8", "6"]), "final": true})).await, StatusCode::FORBIDDEN).await["code"], "admins_never_review");
    assert_eq!(problem(decide(&app, &admin, &id, json!({"decision": "admitted"})).await, StatusCode::FORBIDDEN).await["code"], "admins_never_review");
    let outcome: Value = app.get(&format!("/api/v1/applications/{id}/evaluations"), Some(&admin)).await.json().await.unwrap();
    let eval_id = outcome["evaluations"][0]["id"].as_str().unwrap().to_owned();
    let reopen = format!("/api/v1/applications/{id}/evaluations/{eval_id}/reopen");
    assert!(has_violation(&problem(app.post(&reopen, Some(&admin), &json!({"reason": ""})).await, StatusCode::UNPROCESSABLE_ENTITY).await, "reason", "invalid_text"));
    problem(app.post(&reopen, Some(&first), &json!({"reason": "x"})).await, StatusCode::FORBIDDEN).await;
    let res = app.post(&reopen, Some(&admin), &json!({"reason": "Punteggio trascritto male."})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["final"], false);
    assert_eq!(score(&app, &first, &id, json!({"scores": scores(["10", "15", "12", "8", "7", "8", "6"]), "final": true})).await.status(), StatusCode::OK);

    // Another agency's evaluator: nothing there.
    let brescia = app.login(EVALUATOR_BRESCIA).await;
    problem(app.post(&format!("/api/v1/applications/{id}/conflict-of-interest"), Some(&brescia), &json!({"has_conflict": false})).await, StatusCode::NOT_FOUND).await;
    problem(score(&app, &brescia, &id, json!({"scores": scores(["20", "15", "12", "8", "7", "8", "6"]), "final": true})).await, StatusCode::NOT_FOUND).await;
});

both!(async fn a_declared_conflict_bars_the_evaluator(app) {
    let (id, _) = submitted(&app).await;
    let first = app.login(EVALUATOR_MONTAGNA).await;
    declare(&app, &first, &id, true).await;
    assert_eq!(problem(app.get(&format!("/api/v1/applications/{id}"), Some(&first)).await, StatusCode::FORBIDDEN).await["code"], "conflict_declared");
    assert_eq!(problem(decide(&app, &first, &id, json!({"decision": "admitted"})).await, StatusCode::FORBIDDEN).await["code"], "conflict_declared");
    let again = app.post(&format!("/api/v1/applications/{id}/conflict-of-interest"), Some(&first), &json!({"has_conflict": false})).await;
    assert_eq!(problem(again, StatusCode::CONFLICT).await["code"], "already_declared");
    let list: Value = app.get("/api/v1/applications", Some(&first)).await.json().await.unwrap();
    assert_eq!(list["items"][0]["restricted"], true);
    assert_eq!(list["items"][0]["content"]["budget"]["lines"], json!([]));
});

both!(async fn an_evaluator_lists_in_full_only_what_it_declared_no_conflict_with(app) {
    let token = app.login(APPLICANT2).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let mut ids = vec![];
    for base in [1, 10, 20] {
        let m = members(&app, &token, base).await;
        let id = complete_application(&app, &token, &demo, &m).await;
        assert_eq!(submit(&app, &token, &id, None).await.status(), StatusCode::OK);
        ids.push(id);
    }
    let evaluator = app.login(EVALUATOR_MONTAGNA).await;
    declare(&app, &evaluator, &ids[0], false).await;
    declare(&app, &evaluator, &ids[1], true).await;
    // In the demo edition (the closed one has a seeded application of ATS Montagna too).
    let list: Value = app.get(&format!("/api/v1/applications?call_id={demo}"), Some(&evaluator)).await.json().await.unwrap();
    assert_eq!(list["total"], 3, "{list}");
    let items = list["items"].as_array().unwrap();
    let seen: Vec<(&str, bool)> = items.iter().map(|i| (i["id"].as_str().unwrap(), i["restricted"].as_bool().unwrap())).collect();
    assert_eq!(seen, vec![(ids[0].as_str(), false), (ids[1].as_str(), true), (ids[2].as_str(), true)]);
    let one: Value = app.get(&format!("/api/v1/applications/{}", ids[0]), Some(&evaluator)).await.json().await.unwrap();
    assert_eq!(items[0], one);
    for item in &items[1..] {
        assert_eq!(item["content"]["budget"]["lines"], json!([]));
        assert_eq!(item["totals"], Value::Null);
    }
    // Page by page, the same order and the same total.
    let page = |n: u32| format!("/api/v1/applications?per_page=2&page={n}&call_id={demo}");
    let first: Value = app.get(&page(1), Some(&evaluator)).await.json().await.unwrap();
    let second: Value = app.get(&page(2), Some(&evaluator)).await.json().await.unwrap();
    let third: Value = app.get(&page(3), Some(&evaluator)).await.json().await.unwrap();
    assert_eq!((&first["total"], &second["total"], &third["total"]), (&json!(3), &json!(3), &json!(3)));
    assert_eq!(first["items"], json!(items[..2]));
    assert_eq!(second["items"], json!(items[2..]));
    assert_eq!(third["items"], json!([]));
    // The export holds only what the evaluator may read.
    let text = app.get(&format!("/api/v1/applications?format=csv&call_id={demo}"), Some(&evaluator)).await.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].starts_with(&ids[0]), "{text}");
});

both!(async fn the_service_hints_at_a_conflict_it_can_see(app) {
    let (id, _) = submitted(&app).await;
    // An applicant who represents a member later becomes an evaluator of the agency.
    let admin = app.login(ADMIN).await;
    let users: Value = app.get("/api/v1/users?role=applicant", Some(&admin)).await.json().await.unwrap();
    let user = users["items"].as_array().unwrap().iter().find(|u| u["username"] == APPLICANT2.0).unwrap().clone();
    let path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    let tag = app.get(&path, Some(&admin)).await.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(app.patch(&path, Some(&admin), Some(&tag), &json!({"role": "evaluator", "agency_code": "MONTAGNA"})).await.status(), StatusCode::OK);
    let evaluator = app.login(APPLICANT2).await;
    let summary: Value = app.get(&format!("/api/v1/applications/{id}/conflict-of-interest"), Some(&evaluator)).await.json().await.unwrap();
    let hints = summary["hints"].as_array().unwrap();
    assert_eq!(hints.len(), 4, "{summary}");
    assert!(hints[0].as_str().unwrap().starts_with("You represent"));
});

both!(async fn an_unanswered_integration_closes_as_inadmissible_after_its_deadline(app) {
    let (id, applicant) = submitted(&app).await;
    let first = app.login(EVALUATOR_MONTAGNA).await;
    declare(&app, &first, &id, false).await;
    app.clock.set_rome("2030-03-02T10:00:00");
    let res = decide(&app, &first, &id, json!({"decision": "integration_requested", "question": "Manca l'accordo."})).await;
    // Ten calendar days, ending at 23:59:59 in Rome (CET: UTC+1).
    assert_eq!(res.json::<Value>().await.unwrap()["integration_deadline"], "2030-03-12T22:59:59.000000Z");
    let p = problem(decide(&app, &first, &id, json!({"decision": "inadmissible", "reasons": ["required_documents"]})).await, StatusCode::CONFLICT).await;
    assert_eq!(p["code"], "integration_pending");
    app.clock.set_rome("2030-03-13T00:00:00");
    let answer = app.post(&format!("/api/v1/applications/{id}/integration"), Some(&applicant), &json!({"answer": "In ritardo."})).await;
    assert_eq!(problem(answer, StatusCode::CONFLICT).await["code"], "integration_closed");
    let p = problem(decide(&app, &first, &id, json!({"decision": "inadmissible", "reasons": ["nope", "other"]})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "reasons[0]", "unknown_reason"), "{p}");
    assert!(has_violation(&p, "note", "note_required"), "{p}");
    let res = decide(&app, &first, &id, json!({"decision": "inadmissible", "reasons": ["required_documents"], "note": "Integrazione non pervenuta."})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["review_status"], "inadmissible");
    assert!(inbox(&app, &applicant).await.iter().any(|n| n["kind"] == "admissibility_inadmissible"));
    // An inadmissible application is not scored.
    assert_eq!(problem(score(&app, &first, &id, json!({"scores": scores(["20", "15", "12", "8", "7", "8", "6"]), "final": true})).await, StatusCode::CONFLICT).await["code"], "not_admitted");
});

both!(async fn a_consensus_replaces_the_average_and_a_gap_is_flagged(app) {
    let (id, _) = submitted(&app).await;
    let first = app.login(EVALUATOR_MONTAGNA).await;
    let second = second_evaluator(&app).await;
    declare(&app, &first, &id, false).await;
    declare(&app, &second, &id, false).await;
    assert_eq!(decide(&app, &first, &id, json!({"decision": "admitted"})).await.status(), StatusCode::OK);
    score(&app, &first, &id, json!({"scores": scores(["25", "20", "15", "10", "10", "10", "10"]), "final": true})).await;
    score(&app, &second, &id, json!({"scores": scores(["5", "5", "5", "5", "5", "5", "5"]), "final": true})).await;
    let outcome: Value = app.get(&format!("/api/v1/applications/{id}/evaluations"), Some(&first)).await.json().await.unwrap();
    assert_eq!(outcome["outcome"]["score"], "67.50");
    assert_eq!(outcome["outcome"]["gap_flag"], true);
    let body = json!({"scores": scores(["15", "12", "10", "7", "6", "5", "4.5"]), "reasons": "Sintesi concordata dopo il confronto."});
    let res = app.request(Method::PUT, &format!("/api/v1/applications/{id}/consensus"), Some(&first), Some(&body)).await;
    let outcome: Value = res.json().await.unwrap();
    assert_eq!(outcome["outcome"]["method"], "consensus");
    assert_eq!(outcome["outcome"]["score"], "59.50");
    assert_eq!(outcome["outcome"]["eligible"], false);
});

both!(async fn the_inbox_belongs_to_its_owner(app) {
    let (_, applicant) = submitted(&app).await;
    let first = app.login(EVALUATOR_MONTAGNA).await;
    let notices = inbox(&app, &first).await;
    let nid = notices[0]["id"].as_str().unwrap().to_owned();
    // The seeded closed edition's steps left notices of their own in this inbox.
    let unread = |app: &TestApp, token: String| {
        let url = app.url("/api/v1/notifications?unread=true");
        let client = app.client.clone();
        async move {
            let list: Value = client.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
            list["total"].as_u64().unwrap()
        }
    };
    let before = unread(&app, first.clone()).await;
    problem(app.post(&format!("/api/v1/notifications/{nid}/read"), Some(&applicant), &json!({})).await, StatusCode::NOT_FOUND).await;
    assert_eq!(unread(&app, first.clone()).await, before);
    assert_eq!(app.post(&format!("/api/v1/notifications/{nid}/read"), Some(&first), &json!({})).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(unread(&app, first.clone()).await, before - 1);
    let it: Value = app.client.get(app.url("/api/v1/notifications")).bearer_auth(&first).header("accept-language", "it").send().await.unwrap().json().await.unwrap();
    assert!(it["items"][0]["message"].as_str().unwrap().starts_with("Nuova domanda"));
});
