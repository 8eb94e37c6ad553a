use crate::both;
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

both!(async fn malformed_json_is_a_400_problem(app) {
    let res = app.client.post(app.url("/api/v1/auth/login")).header("content-type", "application/json").body("{\"username\": ").send().await.unwrap();
    assert_eq!(problem(res, StatusCode::BAD_REQUEST).await["code"], "malformed_json");
    let res = app.client.post(app.url("/api/v1/auth/login")).header("content-type", "text/plain").body("{}").send().await.unwrap();
    assert_eq!(problem(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await["code"], "unsupported_media_type");
});

both!(async fn wrong_types_and_unknown_fields_are_all_named(app) {
    let res = app.post("/api/v1/auth/login", None, &json!({"username": 1, "password": [], "remember_me": true})).await;
    let p = problem(res, StatusCode::BAD_REQUEST).await;
    assert!(has_violation(&p, "username", "invalid_type"), "{p}");
    assert!(has_violation(&p, "password", "invalid_type"), "{p}");
    assert!(has_violation(&p, "remember_me", "unknown_field"), "{p}");
    let res = app.post("/api/v1/auth/login", None, &json!({"username": "a@b.it"})).await;
    assert!(has_violation(&problem(res, StatusCode::UNPROCESSABLE_ENTITY).await, "password", "missing_field"));
});

both!(async fn unknown_routes_and_bad_path_parameters_answer_problem_json(app) {
    assert_eq!(problem(app.get("/api/v1/nothing-here", None).await, StatusCode::NOT_FOUND).await["code"], "route_not_found");
    assert_eq!(problem(app.get("/api/v1/calls/not-a-uuid", None).await, StatusCode::BAD_REQUEST).await["code"], "invalid_path_parameter");
    assert_eq!(problem(app.get("/api/v1/calls/00000000-0000-0000-0000-000000000000", None).await, StatusCode::NOT_FOUND).await["code"], "call_not_found");
    assert_eq!(problem(app.get("/api/v1/calls?per_page=1000", None).await, StatusCode::UNPROCESSABLE_ENTITY).await["code"], "validation_failed");
    assert_eq!(problem(app.get("/api/v1/calls?page=x", None).await, StatusCode::BAD_REQUEST).await["code"], "invalid_query_parameter");
});

both!(async fn an_oversized_body_is_refused_with_413(app) {
    let big = "x".repeat(app.settings.server.body_limit_bytes + 1);
    let res = app.post("/api/v1/auth/login", None, &json!({"username": big, "password": "x"})).await;
    assert_eq!(problem(res, StatusCode::PAYLOAD_TOO_LARGE).await["code"], "payload_too_large");
});

both!(async fn messages_follow_accept_language_and_codes_never_change(app) {
    let send = |lang: &'static str| app.client.get(app.url("/api/v1/users")).header("accept-language", lang).send();
    let it: Value = send("it-IT,it;q=0.9,en;q=0.8").await.unwrap().json().await.unwrap();
    let en: Value = send("en-GB").await.unwrap().json().await.unwrap();
    assert_eq!(it["code"], en["code"]);
    assert_ne!(it["detail"], en["detail"]);
    assert_eq!(it["title"], "Non autenticato");
    assert_eq!(en["title"], "Unauthorized");
});
