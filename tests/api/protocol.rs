//! HTTP itself: methods a path does not have, HEAD, bodies that name a field twice, a key whose
//! request never finished, answers given before any route is reached, and the headers every
//! answer carries.

use crate::both;
use crate::helpers::*;
use chrono::SubsecRound;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database};
use secrecy::ExposeSecret;
use serde_json::Value;

/// Leave a key as a process that stopped in the middle of its request leaves it: in progress,
/// without an answer.
async fn leave_in_progress(app: &TestApp, key: &str) {
    let db = Database::connect(app.settings.database.url.expose_secret())
        .await
        .unwrap();
    let done = db
        .execute_unprepared(&format!(
            "UPDATE idempotency_keys SET state = 'in_progress', response_status = NULL, response_body = NULL WHERE key = '{key}'"
        ))
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
    db.close().await.ok();
}

both!(async fn a_key_left_running_by_a_crash_answers_409_with_retry_after_until_its_lease_ends(app) {
    let start = chrono::Utc::now().trunc_subsecs(0);
    app.clock.set(start);
    let token = app.login(APPLICANT).await;
    let org = crate::registry::public_body(90, "SO", &["SO"]);
    let send = || app.client.post(app.url("/api/v1/organizations")).bearer_auth(&token).header("idempotency-key", "crash-1").json(&org).send();
    assert_eq!(send().await.unwrap().status(), StatusCode::CREATED);
    leave_in_progress(&app, "crash-1").await;

    // Twenty seconds into its minute, a repeat is told to come back in forty.
    app.clock.set(start + chrono::Duration::seconds(20));
    let res = send().await.unwrap();
    assert_eq!(res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()).as_deref(), Some("40"));
    assert_eq!(problem(res, StatusCode::CONFLICT).await["code"], "idempotency_in_progress");
    // Never less than a second.
    app.clock.set(start + chrono::Duration::milliseconds(59_900));
    let res = send().await.unwrap();
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(problem(res, StatusCode::CONFLICT).await["code"], "idempotency_in_progress");
    // After the lease the same request runs again, once: its change was already made.
    app.clock.set(start + chrono::Duration::seconds(61));
    let res = send().await.unwrap();
    assert!(res.headers().get("retry-after").is_none());
    assert_eq!(problem(res, StatusCode::CONFLICT).await["code"], "tax_code_taken");
    let list: Value = app.get("/api/v1/organizations?per_page=100", Some(&token)).await.json().await.unwrap();
    assert_eq!(list["total"], 5, "the four demo organizations and one more");
});

/// A raw JSON body, as a client that names a field twice sends it.
async fn send_raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &str,
) -> reqwest::Response {
    let mut req = app
        .client
        .request(method, app.url(path))
        .header("content-type", content_type)
        .body(body.to_owned());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

both!(async fn a_body_that_names_a_field_twice_is_refused(app) {
    // A filter in front reads the first password, serde would read the last: refused.
    let (user, password) = ADMIN;
    let body = format!(r#"{{"username": "{user}", "password": "not it", "password": "{password}"}}"#);
    let p = problem(send_raw(&app, reqwest::Method::POST, "/api/v1/auth/login", None, "application/json", &body).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(p["code"], "duplicate_key");
    assert_eq!(violations(&p), vec![("password".to_owned(), "duplicate_key".to_owned())]);

    let admin = app.login(ADMIN).await;
    let create = |full_name: &str| format!(r#"{{"username": "doppio@example.org", "password": "a long and private passphrase", "role": "applicant", "full_name": "D"{full_name}}}"#);
    let p = problem(send_raw(&app, reqwest::Method::POST, "/api/v1/users", Some(&admin), "application/json", &create(r#", "full_name": "E""#)).await, StatusCode::BAD_REQUEST).await;
    assert!(has_violation(&p, "full_name", "duplicate_key"), "{p}");
    // Nothing was created: the same body without the duplicate is the first user of that name.
    let res = send_raw(&app, reqwest::Method::POST, "/api/v1/users", Some(&admin), "application/json", &create("")).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let user: Value = res.json().await.unwrap();
    let path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());

    // A merge patch too.
    let etag = app.get(&path, Some(&admin)).await.headers()["etag"].to_str().unwrap().to_owned();
    let mut req = app.client.patch(app.url(&path)).bearer_auth(&admin).header("if-match", &etag)
        .header("content-type", "application/merge-patch+json").body(r#"{"full_name": "F", "full_name": "G"}"#);
    req = req.header("accept-language", "it");
    let p = problem(req.send().await.unwrap(), StatusCode::BAD_REQUEST).await;
    assert!(has_violation(&p, "full_name", "duplicate_key"), "{p}");
    let now: Value = app.get(&path, Some(&admin)).await.json().await.unwrap();
    assert_eq!(now["full_name"], "D");
});

both!(async fn a_method_that_a_path_does_not_have_answers_405_with_allow(app) {
    let call = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let cases = [
        (reqwest::Method::DELETE, "/api/v1/calls".to_owned(), "GET, HEAD, POST"),
        (reqwest::Method::PUT, format!("/api/v1/calls/{call}"), "GET, HEAD, PATCH"),
        (reqwest::Method::GET, format!("/api/v1/calls/{call}/publish"), "POST"),
        (reqwest::Method::GET, "/api/v1/auth/login".to_owned(), "POST"),
        (reqwest::Method::POST, "/status".to_owned(), "GET, HEAD"),
        (reqwest::Method::OPTIONS, "/api/v1/agencies".to_owned(), "GET, HEAD"),
    ];
    for (method, path, allow) in cases {
        let res = app.client.request(method.clone(), app.url(&path)).header("accept-language", "it").send().await.unwrap();
        assert_eq!(res.headers().get("allow").map(|v| v.to_str().unwrap().to_owned()).as_deref(), Some(allow), "{method} {path}");
        let p = problem(res, StatusCode::METHOD_NOT_ALLOWED).await;
        assert_eq!(p["code"], "method_not_allowed");
        assert_eq!(p["title"], "Metodo non consentito");
    }
    // A path that nothing serves stays 404, whatever the method.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE, reqwest::Method::HEAD] {
        let res = app.client.request(method.clone(), app.url("/api/v1/nothing-here")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method}");
        assert!(res.headers().get("allow").is_none());
        if method != reqwest::Method::HEAD {
            assert_eq!(problem(res, StatusCode::NOT_FOUND).await["code"], "route_not_found");
        }
    }
    assert_eq!(problem(app.client.delete(app.url("/api/v1/calls/")).send().await.unwrap(), StatusCode::NOT_FOUND).await["code"], "route_not_found");
});

both!(async fn head_answers_wherever_get_does_with_its_headers_and_no_body(app) {
    let admin = app.login(ADMIN).await;
    let call = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    for (path, token) in [
        ("/api/v1/agencies".to_owned(), None),
        (format!("/api/v1/calls/{call}"), None),
        ("/api/v1/users".to_owned(), Some(admin.as_str())),
        ("/api/v1/users".to_owned(), None),
        ("/api-docs/openapi.json".to_owned(), None),
        ("/docs/".to_owned(), None),
    ] {
        let send = |method: reqwest::Method| {
            let mut req = app.client.request(method, app.url(&path));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send()
        };
        let get = send(reqwest::Method::GET).await.unwrap();
        let head = send(reqwest::Method::HEAD).await.unwrap();
        assert_eq!(head.status(), get.status(), "{path}");
        for name in ["content-type", "content-length", "etag", "www-authenticate", "x-content-type-options"] {
            assert_eq!(head.headers().get(name), get.headers().get(name), "{name} of HEAD {path}");
        }
        assert!(head.headers().get("content-length").is_some(), "{path}");
        assert!(head.bytes().await.unwrap().is_empty(), "{path}");
        assert!(!get.bytes().await.unwrap().is_empty(), "{path}");
    }
    // HEAD where there is no GET: the methods that are there.
    let res = app.client.head(app.url("/api/v1/auth/login")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "POST");
});

/// Send raw bytes on a fresh connection and read whatever comes back until the server closes
/// it (or a few seconds pass).
async fn raw_exchange(app: &TestApp, request: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.address.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    // The server may answer and close before it has read everything: keep reading meanwhile.
    let writer = tokio::spawn(async move {
        let _ = write.write_all(&request).await;
        write
    });
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, read.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&chunk[..n]),
        }
    }
    drop(writer.await);
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status line, the header names (lower case) and the body of a raw answer.
fn parse_raw(answer: &str) -> (String, Vec<String>, String) {
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("").to_owned();
    let names = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, _)| n.trim().to_ascii_lowercase())
        .collect();
    (status, names, body.to_owned())
}

// What actix-http answers by itself, before any part of the application runs: a bare status
// with an empty body, none of the service's headers, and the connection closed. It has no hook
// to change that (see api::security); these tests say what is answered, and that the service
// goes on serving.
both!(async fn a_200_kb_header_gets_the_frameworks_bare_431(app) {
    let mut request = b"GET /status HTTP/1.1\r\nHost: localhost\r\nX-Big: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 200 * 1024));
    request.extend_from_slice(b"\r\n\r\n");
    let (status, headers, body) = parse_raw(&raw_exchange(&app, request).await);
    assert_eq!(status, "HTTP/1.1 431 Request Header Fields Too Large");
    assert!(body.is_empty(), "{body:?}");
    assert!(!headers.contains(&"content-type".to_owned()), "{headers:?}");
    assert!(!headers.contains(&"x-content-type-options".to_owned()), "{headers:?}");
    // So do more than 96 headers.
    let mut request = b"GET /status HTTP/1.1\r\nHost: localhost\r\n".to_vec();
    for i in 0..100 {
        request.extend_from_slice(format!("X-H{i}: 1\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    let (status, _, body) = parse_raw(&raw_exchange(&app, request).await);
    assert_eq!(status, "HTTP/1.1 431 Request Header Fields Too Large");
    assert!(body.is_empty(), "{body:?}");
    assert_eq!(app.get("/status", None).await.status(), StatusCode::OK);
});

both!(async fn a_malformed_request_line_gets_the_frameworks_bare_400(app) {
    for request in [
        &b"GET /status HTTP/1.1 trailing\r\nHost: localhost\r\n\r\n"[..],
        b"\x01\x02\x03 / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /status HTTP/1.1\r\n\r\n",
    ] {
        let (status, headers, body) = parse_raw(&raw_exchange(&app, request.to_vec()).await);
        assert_eq!(status, "HTTP/1.1 400 Bad Request", "{:?}", String::from_utf8_lossy(request));
        assert!(body.is_empty(), "{body:?}");
        assert!(!headers.contains(&"x-content-type-options".to_owned()), "{headers:?}");
    }
    assert_eq!(app.get("/status", None).await.status(), StatusCode::OK);
});

const SECURITY_HEADERS: [(&str, &str); 3] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
];

fn assert_security_headers(res: &reqwest::Response, what: &str) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(
            res.headers().get(name).map(|v| v.to_str().unwrap()),
            Some(value),
            "{name} of {what}"
        );
    }
    assert!(
        res.headers().get("x-request-id").is_some(),
        "x-request-id of {what}"
    );
    assert!(
        res.headers().get("content-security-policy").is_some(),
        "content-security-policy of {what}"
    );
}

#[tokio::test]
async fn a_refused_cors_preflight_is_problem_json_with_the_security_headers() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app_with(backend, |s| {
            s.cors.allowed_origins = vec!["https://portale.example".into()]
        })
        .await
        else {
            continue;
        };
        let preflight = |origin: &'static str, method: &'static str, headers: &'static str| {
            let mut req = app
                .client
                .request(reqwest::Method::OPTIONS, app.url("/api/v1/applications"))
                .header("origin", origin)
                .header("access-control-request-method", method)
                .header("accept-language", "it");
            if !headers.is_empty() {
                req = req.header("access-control-request-headers", headers);
            }
            req.send()
        };
        for (origin, method, headers, code) in [
            (
                "https://evil.example",
                "POST",
                "",
                "cors_origin_not_allowed",
            ),
            (
                "https://portale.example",
                "TRACE",
                "",
                "cors_method_not_allowed",
            ),
            (
                "https://portale.example",
                "POST",
                "x-not-allowed",
                "cors_headers_not_allowed",
            ),
        ] {
            let res = preflight(origin, method, headers).await.unwrap();
            assert_security_headers(&res, code);
            let p = problem(res, StatusCode::BAD_REQUEST).await;
            assert_eq!(p["code"], code);
            assert!(p["request_id"].is_string(), "{p}");
            assert!(p["detail"].as_str().unwrap().contains("browser"), "{p}");
        }
        // An allowed preflight is answered by the CORS middleware, with the headers too.
        let res = preflight(
            "https://portale.example",
            "POST",
            "authorization,content-type",
        )
        .await
        .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()["access-control-allow-origin"],
            "https://portale.example"
        );
        assert_security_headers(&res, "an allowed preflight");
    }
}

both!(async fn answers_carry_a_content_security_policy_and_no_hsts_by_default(app) {
    let res = app.get("/api/v1/agencies", None).await;
    assert_security_headers(&res, "a read");
    assert_eq!(res.headers()["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
    assert!(res.headers().get("strict-transport-security").is_none());
    let res = app.get("/docs/", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let policy = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(policy.contains("style-src 'self' 'unsafe-inline'"), "{policy}");
    assert!(policy.contains("img-src 'self' data:"), "{policy}");
    // Swagger UI's page loads its scripts from files, none inline, so 'self' lets it run.
    let html = res.text().await.unwrap();
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(!scripts.is_empty());
    for s in scripts {
        assert!(s.trim_start().starts_with("src="), "an inline script: {s}");
    }
    // Problems and 404s carry them too.
    assert_security_headers(&app.get("/api/v1/nothing-here", None).await, "a 404");
    assert_security_headers(&app.client.delete(app.url("/api/v1/agencies")).send().await.unwrap(), "a 405");
});

#[tokio::test]
async fn hsts_is_sent_when_configured() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app_with(backend, |s| s.server.hsts_max_age_secs = 31_536_000).await
        else {
            continue;
        };
        for path in ["/api/v1/agencies", "/api/v1/nothing-here", "/docs/"] {
            let res = app.get(path, None).await;
            assert_eq!(
                res.headers()["strict-transport-security"],
                "max-age=31536000",
                "{path}"
            );
        }
    }
}

/// A request abandoned at its deadline travels as an error past the middleware: it is
/// problem+json with the security headers all the same.
#[tokio::test]
async fn a_request_abandoned_at_its_deadline_carries_the_security_headers() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app_with(backend, |s| s.server.request_timeout_secs = 1).await else {
            continue;
        };
        let token = app.login(APPLICANT).await;
        // Another connection holds the table, so the write waits past the deadline.
        let mut options =
            sea_orm::ConnectOptions::new(app.settings.database.url.expose_secret().to_owned());
        options.max_connections(1).min_connections(1);
        let db = Database::connect(options).await.unwrap();
        let lock = match backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN; LOCK TABLE organizations IN ACCESS EXCLUSIVE MODE",
        };
        db.execute_unprepared(lock).await.unwrap();
        let res = app
            .post(
                "/api/v1/organizations",
                Some(&token),
                &crate::registry::public_body(95, "SO", &["SO"]),
            )
            .await;
        assert_security_headers(&res, "a request abandoned at its deadline");
        assert!(res.headers().get("retry-after").is_some());
        assert_eq!(
            problem(res, StatusCode::SERVICE_UNAVAILABLE).await["code"],
            "request_timeout"
        );
        db.execute_unprepared("ROLLBACK").await.unwrap();
        db.close().await.ok();
    }
}

// A 201 names the new resource (`Location`) and its version (`ETag`), which a GET of that
// location answers too.
both!(async fn a_created_resource_answers_its_location_and_etag(app) {
    let admin = app.login(ADMIN).await;
    let applicant = app.login(APPLICANT).await;
    let created = [
        (
            app.post("/api/v1/users", Some(&admin), &serde_json::json!({"username": "nuova@example.org",
                "password": "a long and private passphrase", "full_name": "Nuova", "role": "applicant"})).await,
            admin.clone(),
        ),
        (
            app.post("/api/v1/organizations", Some(&applicant), &crate::registry::public_body(91, "SO", &["SO"])).await,
            applicant.clone(),
        ),
    ];
    for (res, token) in created {
        assert_eq!(res.status(), StatusCode::CREATED);
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let etag = res.headers()["etag"].to_str().unwrap().to_owned();
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(location.ends_with(body["id"].as_str().unwrap()), "{location}");
        let read = app.get(&location, Some(&token)).await;
        assert_eq!(read.status(), StatusCode::OK, "{location}");
        assert_eq!(read.headers()["etag"].to_str().unwrap(), etag, "{location}");
    }
});
