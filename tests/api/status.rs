use crate::both;
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::Value;

both!(async fn status_reports_the_database_reachable(app) {
    let res = app.get("/status", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("x-request-id"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
});

both!(async fn the_demo_data_is_seeded_once_even_when_the_service_restarts(app) {
    // Building the application again on the same database seeds nothing twice.
    let again = welfare_grants::startup::Application::build(app.settings.clone()).await.unwrap();
    drop(again);
    let admin = app.login(ADMIN).await;
    let list: Value = app.get("/api/v1/calls?per_page=100", Some(&admin)).await.json().await.unwrap();
    // The 2022 call, the open demo edition, and the closed one with a started grant.
    assert_eq!(list["total"], 3);
    let users: Value = app.get("/api/v1/users?per_page=100", Some(&admin)).await.json().await.unwrap();
    assert_eq!(users["total"], 5);
});

#[tokio::test]
async fn without_the_demo_switch_nothing_is_seeded() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.demo.enabled = false)
        .await
        .unwrap();
    let list: Value = app.get("/api/v1/calls", None).await.json().await.unwrap();
    assert_eq!(list["total"], 0);
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            &serde_json::json!({"username": ADMIN.0, "password": ADMIN.1}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn status_answers_503_problem_json_when_the_database_is_gone() {
    let Some(app) = spawn_app(Backend::Postgres).await else {
        return;
    };
    assert_eq!(app.get("/status", None).await.status(), StatusCode::OK);
    app.drop_postgres_database().await;
    let res = app.get("/status", None).await;
    assert!(res.headers().contains_key("retry-after"));
    let body = problem(res, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["code"], "database_unavailable");
}

/// Starting on an address another process holds fails with that address in the error, so an
/// operator knows which setting to change.
#[tokio::test]
async fn a_busy_port_at_start_up_is_named_in_the_error() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    let mut settings = app.settings.clone();
    settings.server.host = "127.0.0.1".into();
    settings.server.port = port;
    let Err(e) = welfare_grants::startup::Application::build(settings).await else {
        panic!("a second service started on a busy port");
    };
    let message = format!("{e:#}");
    assert!(
        message.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{message}"
    );
}
