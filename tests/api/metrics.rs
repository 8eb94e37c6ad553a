//! `GET /metrics`: Prometheus text with requests by route and status, latency histograms, the
//! database pool and the business figures; behind a bearer token when one is configured.

use reqwest::StatusCode;
use serde_json::json;

use crate::both;
use crate::helpers::*;
use crate::rankings::scored_round;

/// The value of the first sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(app: &TestApp, token: Option<&str>) -> String {
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
