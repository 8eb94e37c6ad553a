use crate::both;
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

both!(async fn an_admin_creates_lists_and_changes_users(app) {
    let admin = app.login(ADMIN).await;
    let res = app.post("/api/v1/users", Some(&admin), &json!({
        "username": "giulia.bianchi@ats-brescia.example", "password": "a long and private passphrase",
        "full_name": "Giulia Bianchi", "role": "evaluator", "agency_code": "BRESCIA"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let user: Value = res.json().await.unwrap();
    let id = user["id"].as_str().unwrap();
    let list: Value = app.get("/api/v1/users?role=evaluator&agency_code=BRESCIA", Some(&admin)).await.json().await.unwrap();
    assert_eq!(list["total"], 2);

    let path = format!("/api/v1/users/{id}");
    // No If-Match: 428; a stale one: 412; the right one: 200.
    assert_eq!(problem(app.patch(&path, Some(&admin), None, &json!({"agency_code": "PAVIA"})).await, StatusCode::PRECONDITION_REQUIRED).await["code"], "precondition_required");
    let res = app.patch(&path, Some(&admin), Some(&etag), &json!({"agency_code": "PAVIA"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["agency_code"], "PAVIA");
    assert_eq!(problem(app.patch(&path, Some(&admin), Some(&etag), &json!({"agency_code": "BERGAMO"})).await, StatusCode::PRECONDITION_FAILED).await["code"], "precondition_failed");

    // Turning the evaluator into an applicant must drop the agency in the same patch.
    let etag = app.get(&path, Some(&admin)).await.headers()["etag"].to_str().unwrap().to_owned();
    let p = problem(app.patch(&path, Some(&admin), Some(&etag), &json!({"role": "applicant"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "agency_code", "agency_not_allowed"));
    let res = app.patch(&path, Some(&admin), Some(&etag), &json!({"role": "applicant", "agency_code": null})).await;
    assert_eq!(res.status(), StatusCode::OK);
});

both!(async fn a_new_user_breaking_every_rule_hears_of_every_one(app) {
    let admin = app.login(ADMIN).await;
    let res = app.post("/api/v1/users", Some(&admin), &json!({
        "username": "nope", "password": "x", "full_name": "", "role": "evaluator"})).await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    for (field, code) in [("username", "invalid_username"), ("password", "password_length"), ("full_name", "invalid_text"), ("agency_code", "agency_required")] {
        assert!(has_violation(&p, field, code), "{field} {code}: {p}");
    }
    let res = app.post("/api/v1/users", Some(&admin), &json!({
        "username": "a@b.it", "password": "a long and private passphrase", "full_name": "A", "role": "evaluator", "agency_code": "ROMA"})).await;
    assert!(has_violation(&problem(res, StatusCode::UNPROCESSABLE_ENTITY).await, "agency_code", "invalid_value"));
});

both!(async fn applicants_and_evaluators_calling_admin_paths_get_403(app) {
    for who in [APPLICANT, EVALUATOR_MONTAGNA] {
        let token = app.login(who).await;
        for res in [
            app.get("/api/v1/users", Some(&token)).await,
            app.post("/api/v1/users", Some(&token), &json!({})).await,
            app.post("/api/v1/calls", Some(&token), &json!({})).await,
        ] {
            assert_eq!(problem(res, StatusCode::FORBIDDEN).await["code"], "role_not_allowed");
        }
    }
    // Without a token: 401.
    problem(app.get("/api/v1/users", None).await, StatusCode::UNAUTHORIZED).await;
});

both!(async fn an_admin_cannot_lock_itself_out(app) {
    let admin = app.login(ADMIN).await;
    let me: Value = app.get("/api/v1/auth/me", Some(&admin)).await.json().await.unwrap();
    let path = format!("/api/v1/users/{}", me["id"].as_str().unwrap());
    let etag = app.get(&path, Some(&admin)).await.headers()["etag"].to_str().unwrap().to_owned();
    let p = problem(app.patch(&path, Some(&admin), Some(&etag), &json!({"disabled": true})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "disabled", "cannot_demote_self"));
});
