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

/// Generated clients name their functions after the operation ids (`acceptGrant()`,
/// `approveRanking()`): each id is unique, in camelCase, and names its verb and its object, so
/// that no client gets a bare `accept`, `approve`, `read` or `status` (or `accept2`).
#[test]
fn every_operation_id_is_unique_and_names_its_verb_and_object() {
    let doc: Value = serde_json::to_value(welfare_grants::startup::openapi_document()).unwrap();
    let mut seen = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let where_ = format!("{} {path}", method.to_uppercase());
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{where_} has no operationId"));
            let words = 1 + id.chars().filter(char::is_ascii_uppercase).count();
            assert!(
                id.starts_with(|c: char| c.is_ascii_lowercase())
                    && id.chars().all(|c| c.is_ascii_alphanumeric())
                    && words >= 2,
                "{where_}: operationId `{id}` is not a camelCase verb and object (e.g. `acceptGrant`)"
            );
            if let Some(other) = seen.insert(id.to_owned(), where_.clone()) {
                panic!("operationId `{id}` names both {other} and {where_}");
            }
        }
    }
    for bare in [
        "accept", "approve", "compute", "read", "status", "token", "submit", "login",
    ] {
        assert!(!seen.contains_key(bare), "bare operationId `{bare}`");
    }
    assert_eq!(seen["acceptGrant"], "POST /api/v1/grants/{grant_id}/accept");
    assert_eq!(
        seen["approveRanking"],
        "POST /api/v1/calls/{call_id}/agencies/{agency_code}/ranking/approve"
    );
}

/// Swagger UI's testers fill request bodies from the examples: every id a request body takes
/// says where to find it (a `GET` that lists such objects).
#[test]
fn every_id_a_request_body_takes_says_where_to_find_it() {
    let doc: Value = serde_json::to_value(welfare_grants::startup::openapi_document()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let mut bodies = std::collections::BTreeSet::new();
    for ops in doc["paths"].as_object().unwrap().values() {
        for (method, op) in ops.as_object().unwrap() {
            if !["post", "put", "patch"].contains(&method.as_str()) {
                continue;
            }
            for media in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
            {
                if let Some(r) = media.1["schema"]["$ref"].as_str() {
                    bodies.insert(r.rsplit('/').next().unwrap().to_owned());
                }
            }
        }
    }
    // The schemas they reach, with their nested ones.
    let mut seen = std::collections::BTreeSet::new();
    let mut todo: Vec<String> = bodies.into_iter().collect();
    let mut silent = Vec::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let schema = &schemas[&name];
        let text = schema.to_string();
        for piece in text.split("#/components/schemas/").skip(1) {
            todo.push(piece.split('"').next().unwrap().to_owned());
        }
        for (field, prop) in schema["properties"].as_object().into_iter().flatten() {
            let uuid = prop["format"] == "uuid"
                || prop["type"]
                    .as_array()
                    .is_some_and(|_| prop["format"] == "uuid");
            if uuid
                && !prop["description"]
                    .as_str()
                    .unwrap_or("")
                    .contains("GET /api/v1/")
            {
                silent.push(format!("{name}.{field}"));
            }
        }
    }
    assert!(
        silent.is_empty(),
        "ids that do not say where to find them: {silent:?}"
    );
}
