//! The connection pool on PostgreSQL: a pooled connection is not pinged before every use (a
//! round trip per request). One that the server or the network dropped while it sat idle is
//! found out by the request's first statement, which runs again on a fresh connection; the
//! requests after it are served at the first attempt.

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::helpers::*;
use crate::outage::{Proxy, split_url};
use crate::registry::*;

#[tokio::test]
async fn connections_dropped_while_idle_are_replaced_without_failing_a_request() {
    let proxy = Proxy::start().await;
    let Some(app) = spawn_app_with(Backend::Postgres, |s| {
        let url = s.database.url.expose_secret().to_owned();
        let (target, through) = split_url(&url, proxy.port);
        proxy.forward_to(&target);
        s.database.url = SecretString::from(through);
        // No background worker using the pool on its own: only the test's requests.
        s.webhooks.worker_enabled = false;
    })
    .await
    else {
        return;
    };
    let token = app.login(APPLICANT).await;
    // Several connections in the pool: requests at once.
    let mut running = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (client, url, token) = (
            app.client.clone(),
            app.url("/api/v1/applications"),
            token.clone(),
        );
        running.spawn(async move { client.get(url).bearer_auth(token).send().await });
    }
    while let Some(res) = running.join_next().await {
        assert_eq!(res.unwrap().unwrap().status(), StatusCode::OK);
    }
    let list: Value = app
        .get("/api/v1/applications", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();

    for round in 0..2 {
        // Every live connection dropped and nothing listening for a moment, then back: the
        // service, idle meanwhile, saw none of it.
        proxy.cut();
        tokio::time::sleep(Duration::from_millis(300)).await;
        proxy.restore();
        tokio::time::sleep(Duration::from_millis(100)).await;

        // The single read (the caller checked in its statement), a list (the caller checked
        // in a statement of its own), the status and a write: each served at once.
        let res = app
            .get(&format!("/api/v1/applications/{id}"), Some(&token))
            .await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "round {round}: the single read"
        );
        let res = app.get("/api/v1/applications", Some(&token)).await;
        assert_eq!(res.status(), StatusCode::OK, "round {round}: the list");
        let res = app.get("/status", None).await;
        assert_eq!(res.status(), StatusCode::OK, "round {round}: the status");
        let res = app
            .post(
                "/api/v1/organizations",
                Some(&token),
                &enterprise(910 + round, "MI", &["MI"], "12", Some("2500000.00"), None),
            )
            .await;
        let status = res.status();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "round {round}: a write: {}",
            res.text().await.unwrap()
        );
    }
}
