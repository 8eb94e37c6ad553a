//! HTTP itself: methods a path does not have, HEAD, bodies that name a field twice, a key whose
//! request never finished, answers given before any route is reached, and the headers every
//! answer carries.

use crate::both;
use crate::helpers::*;
use chrono::SubsecRound;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database};
use secrecy::ExposeSecret;
use serde_json::Value;

/// Leave a key as a process that stopped in the middle of its request leaves it: in progress,
/// without an answer.
async fn leave_in_progress(app: &TestApp, key: &str) {
    let db = Database::connect(app.settings.database.url.expose_secret())
        .await
        .unwrap();
    let done = db
        .execute_unprepared(&format!(
            "UPDATE idempotency_keys SET state = 'in_progress', response_status = NULL, response_body = NULL WHERE key = '{key}'"
        ))
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
    db.close().await.ok();
}

both!(async fn a_key_left_running_by_a_crash_answers_409_with_retry_after_until_its_lease_ends(app) {
    let start = chrono::Utc::now().trunc_subsecs(0);
    app.clock.set(start);
    let token = app.login(APPLICANT).await;
    let org = crate::registry::public_body(90, "SO", &["SO"]);
    let send = || app.client.post(app.url("/api/v1/organizations")).bearer_auth(&token).header("idempotency-key", "crash-1").json(&org).send();
    assert_eq!(send().await.unwrap().status(), StatusCode::CREATED);
    leave_in_progress(&app, "crash-1").await;

    // Twenty seconds into its minute, a repeat is told to come back in forty.
    app.clock.set(start + chrono::Duration::seconds(20));
    let res = send().await.unwrap();
    assert_eq!(res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()).as_deref(), Some("40"));
    assert_eq!(problem(res, StatusCode::CONFLICT).await["code"], "idempotency_in_progress");
    // Never less than a second.
    app.clock.set(start + chrono::Duration::milliseconds(59_900));
    let res = send().await.unwrap();
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(problem(res, StatusCode::CONFLICT).await["code"], "idempotency_in_progress");
    // After the lease the same request runs again, once: its change was already made.
    app.clock.set(start + chrono::Duration::seconds(61));
    let res = send().await.unwrap();
    assert!(res.headers().get("retry-after").is_none());
    assert_eq!(problem(res, StatusCode::CONFLICT).await["code"], "tax_code_taken");
    let list: Value = app.get("/api/v1/organizations?per_page=100", Some(&token)).await.json().await.unwrap();
    assert_eq!(list["total"], 5, "the four demo organizations and one more");
});
