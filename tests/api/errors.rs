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

both!(async fn every_post_honours_an_idempotency_key(app) {
    let token = app.login(APPLICANT).await;
    let org = crate::registry::public_body(90, "SO", &["SO"]);
    let send = |key: &'static str, body: Value| {
        app.client.post(app.url("/api/v1/organizations")).bearer_auth(&token).header("idempotency-key", key).json(&body).send()
    };
    let first = send("org-1", org.clone()).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let first: Value = first.json().await.unwrap();
    let again = send("org-1", org.clone()).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let other = send("org-1", crate::registry::public_body(91, "SO", &["SO"])).await.unwrap();
    assert!(has_violation(&problem(other, StatusCode::UNPROCESSABLE_ENTITY).await, "Idempotency-Key", "idempotency_key_reused"));
    // A refusal is replayed too: the same duplicate, the same 409.
    let dup = send("org-2", org.clone()).await.unwrap();
    assert_eq!(problem(dup, StatusCode::CONFLICT).await["code"], "tax_code_taken");
    let dup = send("org-2", org).await.unwrap();
    assert_eq!(dup.headers()["idempotent-replayed"], "true");
    assert_eq!(problem(dup, StatusCode::CONFLICT).await["code"], "tax_code_taken");
    let list: Value = app.get("/api/v1/organizations?per_page=100", Some(&token)).await.json().await.unwrap();
    assert_eq!(list["total"], 5, "the four demo organizations and one more");
    // A key is remembered for a day; after that it names a new request.
    app.clock.set(chrono::Utc::now() + chrono::Duration::hours(25));
    let later = send("org-1", crate::registry::public_body(92, "SO", &["SO"])).await.unwrap();
    assert_eq!(later.status(), StatusCode::CREATED);
    assert!(later.headers().get("idempotent-replayed").is_none());
});
