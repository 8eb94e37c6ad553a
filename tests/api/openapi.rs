use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

/// The committed `openapi/openapi.json` is the document the service builds (no app needed to
/// build it). To regenerate it: `cargo run -- openapi > openapi/openapi.json`
#[test]
fn the_committed_openapi_document_is_the_built_one() {
    let built: Value = serde_json::to_value(welfare_grants::startup::openapi_document()).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed: Value = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null);
    assert!(
        built == committed,
        "openapi/openapi.json differs from the built document; regenerate it with:\n    cargo run -- openapi > openapi/openapi.json"
    );
}

/// The running service serves that same document at `/api-docs/openapi.json`.
#[tokio::test]
async fn the_served_openapi_document_is_the_built_one() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let served: Value = app
        .get("/api-docs/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    let built: Value = serde_json::to_value(welfare_grants::startup::openapi_document()).unwrap();
    assert!(served == built, "the served document is not the built one");
}

#[tokio::test]
async fn every_operation_declares_its_security_and_its_problems() {
    let doc: Value = serde_json::to_value(welfare_grants::startup::openapi_document()).unwrap();
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(
        schemes["oauth2"]["flows"]["password"]["tokenUrl"],
        "/api/v1/auth/token"
    );
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op.get("security").is_some(),
                "{method} {path} declares no security"
            );
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses
                    .keys()
                    .any(|k| k.starts_with('4') || k.starts_with('5')),
                "{method} {path} declares no error response"
            );
        }
    }
}

#[tokio::test]
async fn every_schema_carries_an_example_for_swagger_ui() {
    let doc: Value = serde_json::to_value(welfare_grants::startup::openapi_document()).unwrap();
    let missing: Vec<&String> = doc["components"]["schemas"]
        .as_object()
        .unwrap()
        .iter()
        // Enumerations list their values; an example would pre-select a filter in Swagger UI.
        .filter(|(_, s)| s.get("enum").is_none())
        .filter(|(_, s)| s.get("example").is_none() && s.get("examples").is_none())
        .map(|(name, _)| name)
        .collect();
    assert!(
        missing.is_empty(),
        "schemas without an example: {missing:?}"
    );
}

#[tokio::test]
async fn swagger_ui_is_served_at_docs() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let res = app.get("/docs/", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("swagger"));
    let res = app.get("/docs/swagger-initializer.js", None).await;
    assert!(
        res.text().await.unwrap().contains("swagger-ui"),
        "the OAuth2 client id is pre-filled"
    );
}
