//! Outages of the S3 bucket: the service reaches the S3-compatible server of the tests
//! (`TEST_S3_URL`) through the cuttable proxy of `outage`. While the bucket cannot be reached
//! an upload or a download answers 503 `storage_unavailable` with `Retry-After`, and the
//! database keeps nothing of the failed upload; once it is back the service serves again by
//! itself. Skipped, with a message, without `TEST_S3_URL` (unless `WG_REQUIRE_S3=1`).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::files::bare_draft;
use crate::helpers::*;
use crate::outage::Proxy;

/// The application on `backend`, its files in a bucket it reaches through a proxy.
async fn behind_proxy(backend: Backend) -> Option<(TestApp, Proxy)> {
    let url = s3_or_skip()?;
    let proxy = Proxy::start().await;
    let target = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
    proxy.forward_to(target.trim_end_matches('/'));
    let through = format!("http://127.0.0.1:{}", proxy.port);
    let app = spawn_app_with(backend, |s| {
        on_s3(s, &through);
        // A blackholed bucket fails a request after this long.
        s.storage.s3.request_timeout_secs = 2;
    })
    .await?;
    Some((app, proxy))
}

/// Send a request; one that hangs fails the test instead of hanging it.
async fn answered(f: impl std::future::Future<Output = reqwest::Response>) -> reqwest::Response {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("the service answers while the bucket is down, and does not hang")
}

async fn assert_storage_unavailable(res: reqwest::Response, what: &str) {
    let retry_after = retry_after(&res);
    assert!(
        retry_after.is_some_and(|s| s > 0),
        "{what}: Retry-After {retry_after:?}"
    );
    let p = problem(res, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(p["code"], "storage_unavailable", "{what}: {p}");
}

/// How many annexes the list at `documents` has.
async fn annexes(app: &TestApp, token: &str, documents: &str) -> usize {
    let docs: Value = app.get(documents, Some(token)).await.json().await.unwrap();
    docs.as_array().map_or(0, Vec::len)
}

async fn the_bucket_going_away_answers_503_keeps_nothing_and_recovers(backend: Backend) {
    let Some((app, proxy)) = behind_proxy(backend).await else {
        return;
    };
    let token = app.login(APPLICANT).await;
    let (id, _) = bare_draft(&app, &token, 1).await;
    let first = pdf("kept before the outage");
    let doc = upload(&app, &token, &id, "other", None, "prima.pdf", first.clone()).await;
    let content = format!(
        "/api/v1/applications/{id}/documents/{}/content",
        doc["id"].as_str().unwrap()
    );
    let documents = format!("/api/v1/applications/{id}/documents");
    let second = pdf("sent during the outage");

    for (outage, down) in [
        ("cut", Proxy::cut as fn(&Proxy)),
        ("blackhole", Proxy::blackhole),
    ] {
        down(&proxy);
        let res = answered(upload_raw(
            &app,
            &token,
            &id,
            &json!({"kind": "other"}),
            "durante.pdf",
            second.clone(),
        ))
        .await;
        assert_storage_unavailable(res, &format!("upload, {outage}")).await;
        let res = answered(app.get(&content, Some(&token))).await;
        assert_storage_unavailable(res, &format!("download, {outage}")).await;
        // Nothing of the failed upload: no annex, no event, no staged file left.
        assert_eq!(annexes(&app, &token, &documents).await, 1, "{outage}");
        let staged = std::path::Path::new(&app.settings.storage.path).join("tmp");
        let left = std::fs::read_dir(staged).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "{outage}: a staged file was left");
        proxy.restore();

        // Back: served at once, without a restart.
        let res = app.get(&content, Some(&token)).await;
        assert_eq!(res.status(), StatusCode::OK, "after the {outage}");
        assert_eq!(res.bytes().await.unwrap().as_ref(), first.as_slice());
    }

    // The upload that failed twice now succeeds, once.
    let again = upload(
        &app,
        &token,
        &id,
        "other",
        None,
        "durante.pdf",
        second.clone(),
    )
    .await;
    let res = app
        .get(
            &format!("{documents}/{}/content", again["id"].as_str().unwrap()),
            Some(&token),
        )
        .await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), second.as_slice());
    assert_eq!(annexes(&app, &token, &documents).await, 2);
}

#[tokio::test]
async fn with_the_bucket_cut_or_blackholed_files_answer_503_and_the_service_recovers_on_sqlite() {
    the_bucket_going_away_answers_503_keeps_nothing_and_recovers(Backend::Sqlite).await;
}

#[tokio::test]
async fn with_the_bucket_cut_or_blackholed_files_answer_503_and_the_service_recovers_on_postgres() {
    the_bucket_going_away_answers_503_keeps_nothing_and_recovers(Backend::Postgres).await;
}
