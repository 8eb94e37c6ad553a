//! Caching of the public reads (calls, agencies, envelopes, results): a strong `ETag`,
//! `If-None-Match` answered with 304, `Cache-Control` public only without a token, and `Vary`
//! where the caller changes the answer.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::helpers::*;

const DEMO: &str = "RLD-DEMO-CONCILIAZIONE";

/// The public reads of a call: (path, whether the caller changes the answer).
async fn public_reads(app: &TestApp) -> Vec<(String, bool)> {
    let id = app.call_id(DEMO).await;
    vec![
        ("/api/v1/agencies".to_owned(), false),
        ("/api/v1/calls".to_owned(), true),
        (format!("/api/v1/calls/{id}"), true),
        (format!("/api/v1/calls/{id}/envelopes"), true),
        (format!("/api/v1/calls/{id}/results"), false),
        (format!("/api/v1/calls/{id}/results?format=csv"), false),
    ]
}

async fn get_with(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    if_none_match: Option<&str>,
) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(tag) = if_none_match {
        req = req.header("if-none-match", tag);
    }
    req.send().await.unwrap()
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} on {} {}", res.status(), res.url()))
        .to_str()
        .unwrap()
        .to_owned()
}

fn varies_by_authorization(res: &reqwest::Response) -> bool {
    res.headers().get_all("vary").iter().any(|v| {
        v.to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("authorization")
    })
}

both!(async fn public_reads_answer_a_strong_etag_and_304_while_it_is_current(app) {
    for (path, by_caller) in public_reads(&app).await {
        let res = get_with(&app, &path, None, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let tag = header(&res, "etag");
        assert!(tag.starts_with('"') && tag.ends_with('"'), "{path}: a strong tag, not {tag}");
        assert_eq!(header(&res, "cache-control"), "public, max-age=60", "{path}");
        assert_eq!(varies_by_authorization(&res), by_caller, "{path}");
        let body = res.bytes().await.unwrap();
        assert!(!body.is_empty(), "{path}");

        // The same bytes, the same tag.
        let again = get_with(&app, &path, None, None).await;
        assert_eq!(header(&again, "etag"), tag, "{path}");
        assert_eq!(again.bytes().await.unwrap(), body, "{path}");

        // The tag held, its weak form, a list naming it, or `*`: 304 with no body.
        for asked in [tag.clone(), format!("W/{tag}"), format!("\"something-else\", {tag}"), "*".to_owned()] {
            let res = get_with(&app, &path, None, Some(&asked)).await;
            assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{path} with {asked}");
            assert_eq!(header(&res, "etag"), tag, "{path}");
            assert_eq!(header(&res, "cache-control"), "public, max-age=60", "{path}");
            assert_eq!(varies_by_authorization(&res), by_caller, "{path}");
            assert!(res.bytes().await.unwrap().is_empty(), "{path}: a 304 has no body");
        }
        // Another tag: the whole answer.
        let res = get_with(&app, &path, None, Some("\"v1-000000000000000000000000\"")).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.bytes().await.unwrap(), body, "{path}");
        // HEAD revalidates the same way.
        let res = app.client.head(app.url(&path)).header("if-none-match", tag.as_str()).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "HEAD {path}");
    }
});

both!(async fn with_a_token_reads_are_private_and_revalidated_every_time(app) {
    let admin = app.login(ADMIN).await;
    let applicant = app.login(APPLICANT).await;
    for (path, by_caller) in public_reads(&app).await {
        for token in [&admin, &applicant] {
            let res = get_with(&app, &path, Some(token), None).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            assert_eq!(header(&res, "cache-control"), "private, no-cache", "{path}");
            assert_eq!(varies_by_authorization(&res), by_caller, "{path}");
            let tag = header(&res, "etag");
            let res = get_with(&app, &path, Some(token), Some(&tag)).await;
            assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{path}");
            assert_eq!(header(&res, "cache-control"), "private, no-cache", "{path}");
        }
    }
});

both!(async fn an_administrators_list_with_drafts_has_its_own_tag(app) {
    let admin = app.login(ADMIN).await;
    let public = get_with(&app, "/api/v1/calls", None, None).await;
    let public_tag = header(&public, "etag");
    // A draft: listed for administrators only.
    let id_2022 = app.call_id("RLD12022024943").await;
    let rules: Value = app.get(&format!("/api/v1/calls/{id_2022}"), None).await.json().await.unwrap();
    let res = app.post("/api/v1/calls", Some(&admin), &json!({
        "code": "RLD-2027", "title": "Avviso conciliazione 2027",
        "opens_at": "2027-05-04T12:00:00+02:00", "closes_at": "2027-07-15T12:00:00+02:00",
        "total_budget": "6000000.00", "rules": rules["rules"],
    })).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // The public list did not change: still 304.
    let res = get_with(&app, "/api/v1/calls", None, Some(&public_tag)).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    // The administrator's list is another answer, never the public one.
    let res = get_with(&app, "/api/v1/calls", Some(&admin), Some(&public_tag)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_ne!(header(&res, "etag"), public_tag);
    assert!(varies_by_authorization(&res));
    let list: Value = res.json().await.unwrap();
    assert!(list["items"].as_array().unwrap().iter().any(|c| c["code"] == "RLD-2027"));
});

both!(async fn a_calls_tag_changes_when_its_window_opens_or_closes_and_still_serves_if_match(app) {
    let id = app.call_id(DEMO).await;
    let path = format!("/api/v1/calls/{id}");
    let res = get_with(&app, &path, None, None).await;
    let tag = header(&res, "etag");
    let call: Value = res.json().await.unwrap();
    assert_eq!(call["window_state"], "open");
    // The version has not changed, but what the answer says has: no 304.
    app.clock.set(chrono::Utc::now() + chrono::Duration::days(365));
    let res = get_with(&app, &path, None, Some(&tag)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let later = header(&res, "etag");
    assert_ne!(later, tag);
    let call: Value = res.json().await.unwrap();
    assert_eq!(call["window_state"], "closed");
    // The tag a read answers is what a change sends in If-Match.
    let admin = app.login(ADMIN).await;
    let res = app.patch(&path, Some(&admin), Some(&later), &json!({"description": "Edizione dimostrativa, descrizione aggiornata."})).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    // And a change changes the tag.
    let res = get_with(&app, &path, None, Some(&later)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let call: Value = res.json().await.unwrap();
    assert_eq!(call["description"], "Edizione dimostrativa, descrizione aggiornata.");
});

both!(async fn errors_of_public_reads_are_never_stored(app) {
    let missing = format!("/api/v1/calls/{}", uuid::Uuid::new_v4());
    let res = get_with(&app, &missing, None, Some("*")).await;
    assert_eq!(header(&res, "cache-control"), "no-store");
    assert!(res.headers().get("etag").is_none());
    problem(res, StatusCode::NOT_FOUND).await;
    let res = get_with(&app, "/api/v1/calls?per_page=1000", None, None).await;
    assert_eq!(header(&res, "cache-control"), "no-store");
    problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
});

both!(async fn reads_that_are_not_public_are_not_tagged_this_way(app) {
    let admin = app.login(ADMIN).await;
    let res = app.get("/api/v1/users", Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("cache-control").is_none());
    assert!(res.headers().get("etag").is_none());
});

/// The document declares it: `If-None-Match`, the 304 and the headers of both answers.
#[test]
fn the_document_declares_the_caching_of_the_public_reads() {
    let doc: Value = serde_json::to_value(welfare_grants::startup::openapi_document()).unwrap();
    for (path, by_caller) in [
        ("/api/v1/agencies", false),
        ("/api/v1/calls", true),
        ("/api/v1/calls/{call_id}", true),
        ("/api/v1/calls/{call_id}/envelopes", true),
        ("/api/v1/calls/{call_id}/results", false),
    ] {
        let op = &doc["paths"][path]["get"];
        assert!(
            op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "If-None-Match" && p["in"] == "header"),
            "{path} does not declare If-None-Match"
        );
        for status in ["200", "304"] {
            let headers = &op["responses"][status]["headers"];
            assert!(headers["ETag"].is_object(), "{path} {status}: ETag");
            let cc = headers["Cache-Control"]["description"].as_str().unwrap();
            assert!(
                cc.contains("max-age") && cc.contains("private, no-cache"),
                "{path} {status}"
            );
            assert_eq!(
                headers["Vary"].is_object(),
                by_caller,
                "{path} {status}: Vary"
            );
        }
        assert!(
            op["responses"]["304"].get("content").is_none(),
            "{path}: a 304 has no body"
        );
    }
}
