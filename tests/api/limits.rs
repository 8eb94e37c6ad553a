//! Rate limits: log in, token and registration per client address, with 429 and
//! `Retry-After`; the address taken from a trusted proxy header only when one is configured.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

fn limited(settings: &mut welfare_grants::config::Settings) {
    settings.rate_limit.enabled = true;
    settings.rate_limit.auth_per_minute = 3;
    settings.rate_limit.register_per_hour = 2;
}

async fn login_from(app: &TestApp, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": ADMIN.0, "password": "not the password"}));
    if let Some(f) = forwarded_for {
        req = req.header("x-forwarded-for", f);
    }
    req.send().await.unwrap()
}

async fn assert_limited(res: reqwest::Response) {
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let p = problem(res, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(p["code"], "rate_limited");
}

#[tokio::test]
async fn logins_are_limited_per_client_address_and_say_when_to_retry() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app_with(backend, limited).await else {
            continue;
        };
        for _ in 0..3 {
            assert_eq!(
                login_from(&app, None).await.status(),
                StatusCode::UNAUTHORIZED
            );
        }
        assert_limited(login_from(&app, None).await).await;
        // The OAuth2 form and the refresh share the budget: even the right password waits.
        let res = app
            .client
            .post(app.url("/api/v1/auth/token"))
            .form(&[
                ("grant_type", "password"),
                ("username", ADMIN.0),
                ("password", ADMIN.1),
            ])
            .send()
            .await
            .unwrap();
        assert_limited(res).await;
        // Without a trusted proxy header, a forwarded address is the client's word: ignored.
        assert_limited(login_from(&app, Some("198.51.100.7")).await).await;
        // Everything else goes on.
        assert_eq!(app.get("/status", None).await.status(), StatusCode::OK);
        assert_eq!(
            app.get("/api/v1/calls", None).await.status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_address_has_its_own_budget() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app_with(backend, |s| {
            limited(s);
            s.rate_limit.trusted_proxy_header = "X-Forwarded-For".into();
        })
        .await
        else {
            continue;
        };
        for _ in 0..3 {
            assert_eq!(
                login_from(&app, Some("203.0.113.1")).await.status(),
                StatusCode::UNAUTHORIZED
            );
        }
        assert_limited(login_from(&app, Some("203.0.113.1")).await).await;
        // A forged first entry does not help: the balancer's (last) entry counts.
        assert_limited(login_from(&app, Some("10.9.8.7, 203.0.113.1")).await).await;
        // Another client is not affected.
        assert_eq!(
            login_from(&app, Some("203.0.113.2")).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let token = app.login(ADMIN).await; // from 127.0.0.1: its own budget
        assert!(!token.is_empty());
    }
}

#[tokio::test]
async fn registrations_are_limited_per_hour() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app_with(backend, limited).await else {
            continue;
        };
        for i in 0..2 {
            let res = app
                .post("/api/v1/auth/register", None, &json!({"username": format!("new{i}@example.test"), "password": "a long and private passphrase", "full_name": "Nuovo Richiedente"}))
                .await;
            assert_eq!(res.status(), StatusCode::CREATED);
        }
        let res = app
            .post("/api/v1/auth/register", None, &json!({"username": "new9@example.test", "password": "a long and private passphrase", "full_name": "Nuovo Richiedente"}))
            .await;
        let retry_after: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            retry_after > 60,
            "an hourly budget refills slowly: {retry_after}"
        );
        assert_eq!(
            problem(res, StatusCode::TOO_MANY_REQUESTS).await["code"],
            "rate_limited"
        );
        // Logging in has its own budget.
        assert!(!app.login(ADMIN).await.is_empty());
    }
}

#[tokio::test]
async fn limits_can_be_switched_off() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app_with(backend, |s| {
            limited(s);
            s.rate_limit.enabled = false;
        })
        .await
        else {
            continue;
        };
        // More than the address budget (3), fewer than the account's (5 wrong passwords).
        for _ in 0..4 {
            assert_eq!(
                login_from(&app, None).await.status(),
                StatusCode::UNAUTHORIZED
            );
        }
    }
}

/// A login as `username` with `password` from `address` (behind a trusted proxy).
async fn login_as(
    app: &TestApp,
    username: &str,
    password: &str,
    address: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", address)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn account_waits(res: reqwest::Response) -> u64 {
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let p = problem(res, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(p["code"], "account_rate_limited");
    retry_after
}

#[tokio::test]
async fn an_account_waits_after_five_wrong_passwords_from_any_address() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        // The per-address limit is on, and every guess comes from another address.
        let Some(app) = spawn_app_with(backend, |s| {
            s.rate_limit.enabled = true;
            s.rate_limit.auth_per_minute = 3;
            s.rate_limit.trusted_proxy_header = "x-forwarded-for".into();
        })
        .await
        else {
            continue;
        };
        let start = chrono::Utc::now();
        app.clock.set(start);
        for i in 0..5 {
            let res = login_as(&app, ADMIN.0, "not the password", &format!("203.0.113.{i}")).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "guess {i}");
        }
        // The sixth try waits, even with the right password, from a fresh address.
        let wait = account_waits(login_as(&app, ADMIN.0, ADMIN.1, "198.51.100.1").await).await;
        assert!((55..=60).contains(&wait), "{wait}");
        // The user name's case changes nothing.
        account_waits(login_as(&app, &ADMIN.0.to_uppercase(), ADMIN.1, "198.51.100.2").await).await;
        // Other accounts are not affected.
        assert_eq!(
            login_as(&app, APPLICANT.0, APPLICANT.1, "198.51.100.3")
                .await
                .status(),
            StatusCode::OK
        );

        // After the wait, one more wrong password doubles it.
        app.clock.set(start + chrono::Duration::seconds(61));
        assert_eq!(
            login_as(&app, ADMIN.0, "still not it", "198.51.100.4")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
        let wait = account_waits(login_as(&app, ADMIN.0, ADMIN.1, "198.51.100.5").await).await;
        assert!((115..=120).contains(&wait), "{wait}");

        // The right password after the wait logs in and forgets the wrong ones.
        app.clock.set(start + chrono::Duration::seconds(61 + 121));
        assert_eq!(
            login_as(&app, ADMIN.0, ADMIN.1, "198.51.100.6")
                .await
                .status(),
            StatusCode::OK
        );
        for i in 0..4 {
            let res = login_as(&app, ADMIN.0, "not the password", &format!("192.0.2.{i}")).await;
            assert_eq!(
                res.status(),
                StatusCode::UNAUTHORIZED,
                "guess {i} after the success"
            );
        }
        assert_eq!(
            login_as(&app, ADMIN.0, ADMIN.1, "192.0.2.200")
                .await
                .status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn an_unknown_user_name_waits_like_an_account_so_the_answer_tells_nothing() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app(backend).await else {
            continue;
        };
        for _ in 0..5 {
            assert_eq!(
                login_as(&app, "nobody@example.org", "a guess", "127.0.0.1")
                    .await
                    .status(),
                StatusCode::UNAUTHORIZED
            );
        }
        account_waits(login_as(&app, "nobody@example.org", "a guess", "127.0.0.1").await).await;
    }
}

#[tokio::test]
async fn wrong_current_passwords_in_a_password_change_count_like_wrong_logins() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app(backend).await else {
            continue;
        };
        let token = app.login(APPLICANT).await;
        let change = |current: String| {
            let app = &app;
            let token = token.clone();
            async move {
                app.post(
                    "/api/v1/auth/password",
                    Some(&token),
                    &json!({"current_password": current, "new_password": "a brand new passphrase"}),
                )
                .await
            }
        };
        for i in 0..5 {
            let res = change(format!("guess number {i}")).await;
            assert_eq!(
                problem(res, StatusCode::UNAUTHORIZED).await["code"],
                "invalid_credentials"
            );
        }
        account_waits(change(APPLICANT.1.to_owned()).await).await;
        account_waits(login_as(&app, APPLICANT.0, APPLICANT.1, "127.0.0.1").await).await;
    }
}

#[tokio::test]
async fn a_burst_of_concurrent_guesses_gets_no_more_checks_than_the_limit() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app(backend).await else {
            continue;
        };
        let guesses = (0..20).map(|i| {
            let app = &app;
            async move {
                login_as(app, ADMIN.0, &format!("guess {i}"), "127.0.0.1")
                    .await
                    .status()
            }
        });
        let statuses = futures_util::future::join_all(guesses).await;
        let checked = statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count();
        let waited = statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count();
        assert_eq!((checked, waited), (5, 15), "{statuses:?}");
    }
}

#[tokio::test]
async fn a_disabled_accounts_right_password_counts_like_a_wrong_one() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app(backend).await else {
            continue;
        };
        let admin = app.login(ADMIN).await;
        let users: serde_json::Value = app
            .get("/api/v1/users?role=applicant&per_page=100", Some(&admin))
            .await
            .json()
            .await
            .unwrap();
        let id = users["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == APPLICANT.0)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let res = app.get(&format!("/api/v1/users/{id}"), Some(&admin)).await;
        let etag = res.headers()["etag"].to_str().unwrap().to_owned();
        let res = app
            .patch(
                &format!("/api/v1/users/{id}"),
                Some(&admin),
                Some(&etag),
                &json!({"disabled": true}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        // Four wrong guesses, then the right one: had it reset the count, a sixth would be
        // checked, and whether it waits would tell the guesser which one was right.
        for i in 0..4 {
            let res = login_as(&app, APPLICANT.0, &format!("guess {i}"), "127.0.0.1").await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
        let res = login_as(&app, APPLICANT.0, APPLICANT.1, "127.0.0.1").await;
        assert_eq!(
            problem(res, StatusCode::UNAUTHORIZED).await["code"],
            "invalid_credentials"
        );
        account_waits(login_as(&app, APPLICANT.0, "guess 5", "127.0.0.1").await).await;
    }
}

/// The three `X-RateLimit-*` headers of an answer: limit, remaining, reset.
fn budget(res: &reqwest::Response) -> (u64, u64, u64) {
    let header = |name: &str| -> u64 {
        res.headers()
            .get(name)
            .unwrap_or_else(|| panic!("no {name} on a {}", res.status()))
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    (
        header("x-ratelimit-limit"),
        header("x-ratelimit-remaining"),
        header("x-ratelimit-reset"),
    )
}

#[tokio::test]
async fn limited_answers_say_where_the_budget_stands_429s_included() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app_with(backend, |s| {
            limited(s);
            s.cors.allowed_origins = vec!["https://portale.example".into()];
        })
        .await
        else {
            continue;
        };
        // A budget of 3 a minute refills one request every 20 seconds.
        for remaining in [2, 1, 0] {
            let res = login_from(&app, None).await;
            let (limit, left, reset) = budget(&res);
            assert_eq!((limit, left), (3, remaining));
            assert!(
                reset <= (3 - remaining) * 20 && reset > (2 - remaining) * 20,
                "{reset}"
            );
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        }
        let res = login_from(&app, None).await;
        let (limit, left, reset) = budget(&res);
        let retry_after: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!((limit, left), (3, 0));
        // The next request may come after Retry-After; the whole budget is back later.
        assert!(reset >= retry_after && reset <= 60, "{reset} {retry_after}");
        assert_limited(res).await;

        // Registration has its own budget, per hour: 2, one back every 30 minutes.
        let res = app
            .post("/api/v1/auth/register", None, &json!({"username": "nuovo@example.test", "password": "a long and private passphrase", "full_name": "Nuovo Richiedente"}))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let (limit, left, reset) = budget(&res);
        assert_eq!((limit, left), (2, 1));
        assert!((1..=1800).contains(&reset), "{reset}");

        // Unlimited operations say nothing of a budget.
        let res = app.get("/api/v1/calls", None).await;
        assert!(res.headers().get("x-ratelimit-limit").is_none());

        // A browser's script may read them.
        let res = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("origin", "https://portale.example")
            .json(&json!({"username": ADMIN.0, "password": "not the password"}))
            .send()
            .await
            .unwrap();
        let exposed = res.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        for name in [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
            "retry-after",
        ] {
            assert!(exposed.contains(name), "{name} is not exposed: {exposed}");
        }
    }
}

#[tokio::test]
async fn an_accounts_wait_carries_the_address_budget_too() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app_with(backend, |s| {
            s.rate_limit.enabled = true;
            s.rate_limit.auth_per_minute = 30;
        })
        .await
        else {
            continue;
        };
        for _ in 0..5 {
            login_as(&app, ADMIN.0, "not the password", "127.0.0.1").await;
        }
        let res = login_as(&app, ADMIN.0, ADMIN.1, "127.0.0.1").await;
        assert_eq!(budget(&res).0, 30);
        assert_eq!(budget(&res).1, 24);
        account_waits(res).await;
    }
}

#[tokio::test]
async fn without_limits_no_budget_is_announced() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app_with(backend, |s| {
            limited(s);
            s.rate_limit.enabled = false;
        })
        .await
        else {
            continue;
        };
        let res = login_from(&app, None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert!(res.headers().get("x-ratelimit-limit").is_none());
    }
}

/// The document declares the three headers once, and on every answer of the limited
/// operations, their 429 included.
#[test]
fn the_document_declares_the_budget_headers_where_limits_apply() {
    let doc: serde_json::Value =
        serde_json::to_value(welfare_grants::startup::openapi_document()).unwrap();
    let names = [
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    ];
    for name in names {
        let header = &doc["components"]["headers"][name];
        assert_eq!(header["schema"]["type"], "integer", "{name}");
        assert!(header["schema"]["format"].is_string(), "{name}");
    }
    let resolve = |response: &serde_json::Value| -> serde_json::Value {
        match response["$ref"].as_str() {
            Some(r) => doc.pointer(&r.replace("#/", "/")).unwrap().clone(),
            None => response.clone(),
        }
    };
    for path in [
        "/api/v1/auth/login",
        "/api/v1/auth/token",
        "/api/v1/auth/refresh",
        "/api/v1/auth/register",
    ] {
        let responses = doc["paths"][path]["post"]["responses"].as_object().unwrap();
        assert!(responses.contains_key("429"), "{path}");
        for (status, response) in responses {
            let response = resolve(response);
            for name in names {
                assert_eq!(
                    response["headers"][name]["$ref"],
                    format!("#/components/headers/{name}"),
                    "{path} {status} {name}"
                );
            }
        }
    }
    // Operations without a limit do not claim one.
    let calls = &doc["paths"]["/api/v1/calls"]["get"]["responses"]["200"];
    assert!(calls["headers"].get("X-RateLimit-Limit").is_none());
}
