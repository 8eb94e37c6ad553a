use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
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

/// The contract takes bearer tokens only: the Italian API guidelines refuse the OAuth2
/// password flow and a token URL that is not https, with no exception.
#[test]
fn the_contract_offers_the_bearer_scheme_only() {
    let doc: Value = serde_json::to_value(welfare_grants::startup::openapi_document()).unwrap();
    let schemes: Vec<&String> = doc["components"]["securitySchemes"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(schemes, ["bearer"]);
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for requirement in op["security"].as_array().unwrap() {
                let names: Vec<&String> = requirement.as_object().unwrap().keys().collect();
                assert!(
                    names.is_empty() || names == ["bearer"],
                    "{method} {path} requires {names:?}"
                );
            }
        }
    }
}

/// Swagger UI reads the contract plus the login (OAuth2 password) scheme, offered wherever the
/// contract takes a bearer token, and nothing else differs.
#[tokio::test]
async fn swagger_ui_reads_the_contract_with_the_login_scheme_added() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let initializer = app
        .get("/docs/swagger-initializer.js", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        initializer.contains("/api-docs/swagger-ui.json"),
        "Swagger UI reads another document: {initializer}"
    );
    let res = app.get("/api-docs/swagger-ui.json", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut swagger: Value = res.json().await.unwrap();
    let contract: Value = app
        .get("/api-docs/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();

    let login = swagger["components"]["securitySchemes"]
        .as_object_mut()
        .unwrap()
        .remove("Login")
        .expect("a Login scheme");
    assert_eq!(login["type"], "oauth2");
    assert_eq!(login["flows"]["password"]["tokenUrl"], "/api/v1/auth/token");
    let mut offered = 0;
    for (path, item) in swagger["paths"].as_object_mut().unwrap() {
        for (method, op) in item.as_object_mut().unwrap() {
            let security = op["security"].as_array_mut().unwrap();
            let bearer = security.iter().position(|s| s.get("bearer").is_some());
            let login = security.iter().position(|s| s.get("Login").is_some());
            match (login, bearer) {
                (Some(login), Some(bearer)) => {
                    assert_eq!(login + 1, bearer, "{method} {path}: Login comes first");
                    security.remove(login);
                    offered += 1;
                }
                (None, None) => {}
                _ => panic!("{method} {path} offers Login and bearer apart: {security:?}"),
            }
        }
    }
    assert!(offered > 50, "Login offered on {offered} operations only");
    assert!(
        swagger == contract,
        "the Swagger UI document differs from the contract by more than its Login scheme"
    );
}

/// Swagger UI's Authorize dialog lists the schemes in the order of the document's
/// `securitySchemes`: the login form comes first, above the bearer token field.
#[tokio::test]
async fn the_authorize_dialog_leads_with_the_login_form() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let text = app
        .get("/api-docs/swagger-ui.json", None)
        .await
        .text()
        .await
        .unwrap();
    let schemes = &text[text.find("\"securitySchemes\"").expect("securitySchemes")..];
    let login = schemes.find("\"Login\"").expect("the Login scheme");
    let bearer = schemes.find("\"bearer\"").expect("the bearer scheme");
    assert!(
        login < bearer,
        "bearer comes before Login: {}",
        &schemes[..200]
    );
}

/// What the Italian API guidelines' errors (`scripts/lint-openapi`) ask of the contract, checked
/// without the linter too: a contact and a one-line summary, servers that say what they are and
/// use https unless they are a sandbox, a format on every integer (`Retry-After` too) and the
/// items of every array (the audit log's snapshots).
#[test]
fn the_contract_has_what_the_italian_api_guidelines_require() {
    let doc: Value = serde_json::to_value(welfare_grants::startup::openapi_document()).unwrap();
    assert!(doc["info"]["contact"]["url"].is_string());
    assert!(doc["info"]["x-summary"].is_string());
    let servers = doc["servers"].as_array().expect("servers");
    assert!(!servers.is_empty());
    for server in servers {
        assert!(server["description"].is_string(), "{server}");
        assert!(
            server["x-sandbox"] == true || server["url"].as_str().unwrap().starts_with("https://"),
            "{server}"
        );
    }
    fn walk(at: &str, v: &Value, wrong: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if o.get("type") == Some(&Value::from("integer")) && o.get("format").is_none() {
                    wrong.push(format!("{at}: an integer without format"));
                }
                let is_array = |t: &Value| t == "array";
                let array = o.get("type").is_some_and(|t| {
                    is_array(t) || t.as_array().is_some_and(|ts| ts.iter().any(is_array))
                });
                if array && o.get("items").is_none() {
                    wrong.push(format!("{at}: an array without items"));
                }
                if at.ends_with("/headers") {
                    for name in o.keys() {
                        if ["content-type", "accept", "authorization"]
                            .contains(&name.to_ascii_lowercase().as_str())
                        {
                            wrong.push(format!("{at}: {name} declared as a header"));
                        }
                    }
                }
                for (k, v) in o {
                    // Examples are data, not schemas.
                    if k != "example" && k != "examples" {
                        walk(&format!("{at}/{k}"), v, wrong);
                    }
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    walk(&format!("{at}/{i}"), v, wrong);
                }
            }
            _ => {}
        }
    }
    let mut wrong = vec![];
    walk("", &doc, &mut wrong);
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Catalogues and Swagger UI show an operation's summary as its title and its description
/// under it: the summary is one line, the description says who may call it and what it does.
#[test]
fn every_operation_has_a_one_line_summary_and_a_description() {
    let doc: Value = serde_json::to_value(welfare_grants::startup::openapi_document()).unwrap();
    let mut wrong = vec![];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let summary = op["summary"].as_str().unwrap_or_default();
            let description = op["description"].as_str().unwrap_or_default();
            if summary.is_empty() || summary.contains('\n') {
                wrong.push(format!("{method} {path}: summary {summary:?}"));
            }
            if description.len() < 40 || description.starts_with(summary) {
                wrong.push(format!("{method} {path}: description {description:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
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

// The `maxLength` (and `minLength`) the document declares on request strings are the limits
// the service enforces: a client that checks its input against the schema gets no 422 for
// length, and one character more is refused with a violation naming the field.
both!(async fn the_declared_string_lengths_are_the_limits_the_service_enforces(app) {
    let doc: Value = app.get("/api-docs/openapi.json", None).await.json().await.unwrap();
    let length = |schema: &str, field: &str, bound: &str| {
        doc["components"]["schemas"][schema]["properties"][field][bound]
            .as_u64()
            .unwrap_or_else(|| panic!("{schema}.{field} declares no {bound}")) as usize
    };
    // Self-registration: the full name.
    let max = length("RegisterRequest", "full_name", "maxLength");
    assert_eq!(max, 200);
    let register = |n: usize, user: &str| {
        json!({"username": format!("{user}@example.org"), "password": "a long and private passphrase", "full_name": "M".repeat(n)})
    };
    let res = app.post("/api/v1/auth/register", None, &register(max, "longest")).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app.post("/api/v1/auth/register", None, &register(max + 1, "too.long")).await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "full_name", "invalid_text"), "{p}");

    // An administrator's new user: the password, at both bounds.
    let admin = app.login(ADMIN).await;
    let (min, max) = (length("NewUser", "password", "minLength"), length("NewUser", "password", "maxLength"));
    assert_eq!((min, max), (12, 128));
    let password = |n: usize| "Quattro gatti blu saltano sul tetto 7! ".chars().cycle().take(n).collect::<String>();
    let user = |n: usize, name: &str| {
        json!({"username": format!("{name}@example.org"), "password": password(n), "full_name": "Bruno Verdi", "role": "applicant"})
    };
    for (n, name, accepted) in [(min, "shortest", true), (max, "longest.password", true), (min - 1, "too.short", false), (max + 1, "too.long.password", false)] {
        let res = app.post("/api/v1/users", Some(&admin), &user(n, name)).await;
        if accepted {
            assert_eq!(res.status(), StatusCode::CREATED, "a password of {n} characters");
        } else {
            let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert!(has_violation(&p, "password", "password_length"), "{n} characters: {p}");
        }
    }
});
