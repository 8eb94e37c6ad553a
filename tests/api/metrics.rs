//! `GET /metrics`: Prometheus text with requests by route and status, latency histograms, the
//! database pool and the business figures; behind a bearer token when one is configured.

use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::*;
use crate::rankings::scored_round;

/// The value of the first sample whose line starts with `series` (name and labels).
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

pub async fn scrape(app: &TestApp, token: Option<&str>) -> String {
    let mut req = app.client.get(app.url("/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    res.text().await.unwrap()
}

both!(async fn metrics_count_requests_by_route_pattern_and_status_with_their_latency(app) {
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/calls", None).await.status(), StatusCode::OK);
    }
    let missing = uuid::Uuid::new_v4();
    assert_eq!(app.get(&format!("/api/v1/calls/{missing}"), None).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/nowhere", None).await.status(), StatusCode::NOT_FOUND);
    let text = scrape(&app, None).await;
    assert_eq!(sample(&text, r#"welfare_grants_http_requests_total{method="GET",route="/api/v1/calls",status="200"}"#), Some(3.0), "{text}");
    // The pattern, never the id: one series per route.
    assert_eq!(sample(&text, r#"welfare_grants_http_requests_total{method="GET",route="/api/v1/calls/{call_id}",status="404"}"#), Some(1.0), "{text}");
    assert!(!text.contains(&missing.to_string()));
    assert_eq!(sample(&text, r#"welfare_grants_http_requests_total{method="GET",route="unmatched",status="404"}"#), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"welfare_grants_http_request_duration_seconds_count{method="GET",route="/api/v1/calls"}"#), Some(3.0), "{text}");
    assert_eq!(sample(&text, r#"welfare_grants_http_request_duration_seconds_bucket{method="GET",route="/api/v1/calls",le="+Inf"}"#), Some(3.0), "{text}");
    assert_eq!(sample(&text, "welfare_grants_db_pool_max_connections"), Some(5.0), "{text}");
    assert!(sample(&text, "welfare_grants_db_pool_connections").is_some_and(|n| (1.0..=5.0).contains(&n)), "{text}");
    assert!(sample(&text, "welfare_grants_db_pool_idle_connections").is_some(), "{text}");
});

both!(async fn metrics_report_submissions_grants_and_committed_money_per_agency(app) {
    let (_, _, first, _) = scored_round(&app).await;
    let text = scrape(&app, None).await;
    assert_eq!(sample(&text, r#"welfare_grants_applications{agency="MONTAGNA",call="RLD-DEMO-CONCILIAZIONE",status="submitted"}"#), Some(7.0), "{text}");
    app.clock.set(chrono::Utc::now() + chrono::Duration::days(100));
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let ranking = format!("/api/v1/calls/{demo}/agencies/MONTAGNA/ranking");
    assert_eq!(app.post(&ranking, Some(&first), &json!({})).await.status(), StatusCode::CREATED);
    let act = json!({"act_number": "decreto ATS della Montagna n. 123", "act_date": "2027-03-05"});
    assert_eq!(app.post(&format!("{ranking}/approve"), Some(&first), &act).await.status(), StatusCode::OK);
    let text = scrape(&app, None).await;
    assert_eq!(sample(&text, r#"welfare_grants_grants{agency="MONTAGNA",call="RLD-DEMO-CONCILIAZIONE",status="offered"}"#), Some(6.0), "{text}");
    assert_eq!(sample(&text, r#"welfare_grants_committed_eur{agency="MONTAGNA",call="RLD-DEMO-CONCILIAZIONE"}"#), Some(293580.0), "{text}");
});

#[tokio::test]
async fn metrics_ask_for_the_configured_bearer_token() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app_with(backend, |s| {
            s.metrics.bearer_token = Some(secrecy::SecretString::from("scrape-me-0123456789"));
        })
        .await
        else {
            continue;
        };
        for token in [None, Some("wrong"), Some("scrape-me-012345678")] {
            let mut req = app.client.get(app.url("/metrics"));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let p = problem(req.send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
            assert_eq!(p["code"], "metrics_token_required");
        }
        let text = scrape(&app, Some("scrape-me-0123456789")).await;
        assert!(text.contains("welfare_grants_http_requests_total"));
        // Switched off, there is nothing there.
        let Some(off) = spawn_app_with(backend, |s| s.metrics.enabled = false).await else {
            continue;
        };
        assert_eq!(
            off.get("/metrics", None).await.status(),
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn metrics_on_a_listener_of_their_own_are_not_served_on_the_api_port() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app(backend).await else {
            continue;
        };
        // The same database served again, with the metrics on a listener of their own.
        let mut settings = app.settings.clone();
        settings.metrics.listen = Some("127.0.0.1:0".into());
        let split = welfare_grants::startup::Application::build(settings)
            .await
            .unwrap();
        let api = format!("http://127.0.0.1:{}", split.port());
        let metrics = format!(
            "http://127.0.0.1:{}",
            split.metrics_port().expect("a metrics listener")
        );
        tokio::spawn(split.run_until_stopped());

        let res = app
            .client
            .get(format!("{api}/api/v1/calls"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let p = problem(
            app.client
                .get(format!("{api}/metrics"))
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
        )
        .await;
        assert_eq!(p["code"], "route_not_found");
        let res = app
            .client
            .get(format!("{metrics}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let text = res.text().await.unwrap();
        // The API's requests are counted; the API itself is not on the metrics listener.
        assert_eq!(
            sample(
                &text,
                r#"welfare_grants_http_requests_total{method="GET",route="/api/v1/calls",status="200"}"#
            ),
            Some(1.0),
            "{text}"
        );
        let res = app
            .client
            .get(format!("{metrics}/api/v1/calls"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn the_service_refuses_to_start_with_public_metrics_when_the_demo_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("never.db");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_welfare-grants"))
        .arg("serve")
        .env_remove("APP_CONFIG_FILE")
        .env("APP_SERVER__PORT", "0")
        .env(
            "APP_DATABASE__URL",
            format!("sqlite://{}?mode=rwc", database.display()),
        )
        .env("APP_DEMO__ENABLED", "false")
        .env(
            "APP_AUTH__SECRET",
            "a-production-secret-that-is-not-the-demo-one-0123456789",
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the service binary starts");
    let mut status = None;
    for _ in 0..300 {
        status = child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the service started with public metrics and the demo off");
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains("metrics.bearer_token") && stderr.contains("metrics.listen"),
        "{stderr}"
    );
    assert!(!database.exists(), "refused before touching the database");
}
