use crate::both;
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

both!(async fn the_audit_log_records_every_change_and_filters_it(app) {
    let admin = app.login(ADMIN).await;
    let res = app.post("/api/v1/users", Some(&admin), &json!({"username": "nuovo@example.org", "password": "a long and private passphrase",
        "full_name": "Nuovo", "role": "applicant"})).await;
    let user: Value = res.json().await.unwrap();
    let id = user["id"].as_str().unwrap();
    let me: Value = app.get("/api/v1/auth/me", Some(&admin)).await.json().await.unwrap();
    let log: Value = app.get(&format!("/api/v1/audit-events?entity_type=user&entity_id={id}"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(log["total"], 1);
    let event = &log["items"][0];
    assert_eq!(event["action"], "user.created");
    assert_eq!(event["actor_id"], me["id"]);
    assert_eq!(event["actor_role"], "admin");
    assert!(event["after"]["password_hash"].is_null(), "no secret in the log");
    assert!(event["request_id"].is_string());
    let by_actor: Value = app.get(&format!("/api/v1/audit-events?actor_id={}&action=user.created&entity_type=user&entity_id={id}", me["id"].as_str().unwrap()), Some(&admin)).await.json().await.unwrap();
    assert_eq!(by_actor["total"], 1);
    // The demo accounts were created by the service itself, no user.
    let seeded: Value = app.get(&format!("/api/v1/audit-events?entity_type=user&entity_id={}", me["id"].as_str().unwrap()), Some(&admin)).await.json().await.unwrap();
    assert!(seeded["items"][0]["actor_id"].is_null());
    let later: Value = app.get("/api/v1/audit-events?from=2100-01-01T00:00:00Z", Some(&admin)).await.json().await.unwrap();
    assert_eq!(later["total"], 0);
    let p = problem(app.get("/api/v1/audit-events?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", Some(&admin)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "to", "empty_range"));
    let csv = app.get("/api/v1/audit-events?format=csv&action=user.created", Some(&admin)).await.text().await.unwrap();
    assert!(csv.starts_with("id,occurred_at,actor_id,actor_role,action,entity_type,entity_id,before,after,request_id\r\n"));
    assert!(csv.contains("nuovo@example.org"));
    problem(app.get("/api/v1/audit-events", Some(&app.login(EVALUATOR_MONTAGNA).await)).await, StatusCode::FORBIDDEN).await;
});
