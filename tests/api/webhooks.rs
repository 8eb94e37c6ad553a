//! Webhooks: subscriptions, signed deliveries from the outbox, retries with backoff, and
//! nothing lost across a restart.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use welfare_grants::resolver::{Resolver, Resolving};

use crate::applications::{complete_application, members, submit};
use crate::both;
use crate::helpers::*;

const CALL_2022: &str = "RLD12022024943";
const APPLICANT2: (&str, &str) = (
    "richiedente2@demo.welfare-grants.test",
    "demo-applicant-password",
);

/// What a receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

/// A local system that receives webhooks; it answers 503 to its first `fail_first` calls.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

struct ReceiverState {
    received: Arc<Mutex<Vec<Received>>>,
    fail_first: AtomicUsize,
}

async fn receive(
    state: web::Data<ReceiverState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    state.received.lock().unwrap().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let failing = state
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        HttpResponse::ServiceUnavailable().finish()
    } else {
        HttpResponse::NoContent().finish()
    }
}

async fn receiver(fail_first: usize) -> Receiver {
    let received = Arc::new(Mutex::new(Vec::new()));
    let state = web::Data::new(ReceiverState {
        received: received.clone(),
        fail_first: AtomicUsize::new(fail_first),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/hook", web::post().to(receive))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    Receiver {
        url: format!("http://127.0.0.1:{port}/hook"),
        received,
    }
}

impl Receiver {
    fn got(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Wait until `n` requests arrived (at most 15 s).
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..300 {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the receiver got {} of {n} requests: {:?}",
            self.got().len(),
            self.got()
        );
    }
}

/// Fast retries and plain-http receivers on this machine, as a local test needs.
fn fast(settings: &mut welfare_grants::config::Settings) {
    settings.webhooks.allow_http = true;
    settings.webhooks.allow_private_networks = true;
    settings.webhooks.poll_interval_ms = 50;
    settings.webhooks.retry_base_ms = 100;
    settings.webhooks.retry_max_ms = 400;
}

async fn spawn(
    backend: Backend,
    customise: impl FnOnce(&mut welfare_grants::config::Settings),
) -> Option<TestApp> {
    spawn_app_with(backend, |s| {
        fast(s);
        customise(s);
    })
    .await
}

/// Verify a delivery as a receiver would, with nothing but the secret.
fn verify(secret: &str, r: &Received) {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(r.signature, expected, "the signature verifies");
    let ts: i64 = r.timestamp.parse().unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - ts).abs() < 60,
        "a fresh timestamp"
    );
}

async fn subscribe(app: &TestApp, admin: &str, url: &str, types: &[&str]) -> Value {
    let res = app
        .post(
            "/api/v1/webhooks",
            Some(admin),
            &json!({"url": url, "event_types": types, "description": "Protocollo"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/webhooks/{}", body["id"].as_str().unwrap())
    );
    body
}

/// Move one cent between two agencies of the 2022 call: an `envelope.changed` event.
async fn change_envelopes(app: &TestApp, admin: &str) {
    let id = app.call_id(CALL_2022).await;
    let path = format!("/api/v1/calls/{id}/envelopes");
    let before: Value = app.get(&path, None).await.json().await.unwrap();
    let mut moved: Vec<Value> = before["items"].as_array().unwrap().iter()
        .map(|e| json!({"agency_code": e["agency_code"], "amount": e["amount"], "source": e["source"], "note": e["note"]}))
        .collect();
    moved[0]["amount"] = json!("581456.75");
    moved[1]["amount"] = json!("598088.39");
    assert_eq!(
        app.put(&path, Some(admin), &json!({"envelopes": moved}))
            .await
            .status(),
        StatusCode::OK
    );
}

async fn deliveries(app: &TestApp, admin: &str, hook: &str) -> Value {
    let res = app
        .get(&format!("/api/v1/webhooks/{hook}/deliveries"), Some(admin))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// Wait until the subscription's newest delivery has `status`.
async fn wait_for_status(app: &TestApp, admin: &str, hook: &str, status: &str) -> Value {
    for _ in 0..300 {
        let d = deliveries(app, admin, hook).await;
        if d["items"][0]["status"] == status {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no {status} delivery: {}",
        deliveries(app, admin, hook).await
    );
}

#[tokio::test]
async fn a_submission_is_delivered_signed_with_an_id_to_deduplicate_on() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn(backend, |_| {}).await else {
            continue;
        };
        let rx = receiver(0).await;
        let admin = app.login(ADMIN).await;
        let hook = subscribe(&app, &admin, &rx.url, &["application.submitted"]).await;
        let secret = hook["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"), "{hook}");
        // The secret is shown once: never in reads.
        let read: Value = app
            .get(
                &format!("/api/v1/webhooks/{}", hook["id"].as_str().unwrap()),
                Some(&admin),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(read["secret"], Value::Null, "{read}");
        let listed: Value = app
            .get("/api/v1/webhooks", Some(&admin))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed["total"], 1);
        assert_eq!(listed["items"][0]["secret"], Value::Null);

        let token = app.login(APPLICANT2).await;
        let m = members(&app, &token, 1).await;
        let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
        let id = complete_application(&app, &token, &demo, &m).await;
        let res = submit(&app, &token, &id, None).await;
        assert_eq!(res.status(), StatusCode::OK);
        let submitted: Value = res.json().await.unwrap();

        let got = rx.wait_for(1).await;
        verify(&secret, &got[0]);
        let event: Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(event["id"], got[0].id, "the body names the event id too");
        assert_eq!(event["type"], "application.submitted");
        assert_eq!(event["data"]["entity_type"], "application");
        assert_eq!(event["data"]["entity_id"], id);
        assert_eq!(
            event["data"]["change"]["protocol_number"], submitted["protocol_number"],
            "{event}"
        );
        // Only the subscribed type: the drafts and documents before it sent nothing.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rx.got().len(), 1);
        let d = wait_for_status(&app, &admin, hook["id"].as_str().unwrap(), "delivered").await;
        assert_eq!(d["total"], 1);
        assert_eq!(d["items"][0]["event_id"], got[0].id);
        assert_eq!(d["items"][0]["attempts"], 1);
        assert_eq!(d["items"][0]["attempt_log"][0]["status_code"], 204);
    }
}

both!(with fast, async fn a_receiver_that_fails_first_gets_the_same_event_again_until_it_answers(app) {
    let rx = receiver(2).await;
    let admin = app.login(ADMIN).await;
    let hook = subscribe(&app, &admin, &rx.url, &["envelope.changed"]).await;
    let hook_id = hook["id"].as_str().unwrap();
    change_envelopes(&app, &admin).await;
    let got = rx.wait_for(3).await;
    // At least once, always with the same id: a receiver de-duplicates on it.
    assert!(got.iter().all(|r| r.id == got[0].id && r.body == got[0].body), "{got:?}");
    for r in &got {
        verify(hook["secret"].as_str().unwrap(), r);
    }
    let d = wait_for_status(&app, &admin, hook_id, "delivered").await;
    let item = &d["items"][0];
    assert_eq!(item["event_type"], "envelope.changed");
    assert_eq!(item["attempts"], 3, "{item}");
    let codes: Vec<&Value> = item["attempt_log"].as_array().unwrap().iter().map(|a| &a["status_code"]).collect();
    assert_eq!(codes, [&json!(503), &json!(503), &json!(204)], "{item}");
    assert_eq!(item["attempt_log"][0]["error"], "the receiver answered 503 Service Unavailable");
    // With a doubling wait between attempts.
    let at = |i: usize| chrono::DateTime::parse_from_rfc3339(item["attempt_log"][i]["attempted_at"].as_str().unwrap()).unwrap();
    assert!(at(1) - at(0) >= chrono::Duration::milliseconds(100), "{item}");
    assert!(at(2) - at(1) >= chrono::Duration::milliseconds(200), "{item}");
    let only_delivered: Value = app.get(&format!("/api/v1/webhooks/{hook_id}/deliveries?status=pending"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(only_delivered["total"], 0);
});

#[tokio::test]
async fn a_delivery_is_given_up_after_the_last_allowed_attempt() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn(backend, |s| s.webhooks.max_attempts = 2).await else {
            continue;
        };
        let admin = app.login(ADMIN).await;
        // Nothing listens there.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let hook = subscribe(
            &app,
            &admin,
            &format!("http://127.0.0.1:{closed}/hook"),
            &["envelope.changed"],
        )
        .await;
        change_envelopes(&app, &admin).await;
        let d = wait_for_status(&app, &admin, hook["id"].as_str().unwrap(), "failed").await;
        let item = &d["items"][0];
        assert_eq!(item["attempts"], 2, "{item}");
        assert_eq!(item["last_status_code"], Value::Null);
        assert!(
            item["last_error"]
                .as_str()
                .unwrap()
                .starts_with("cannot connect"),
            "{item}"
        );
    }
}

#[tokio::test]
async fn events_written_before_a_restart_are_delivered_after_it() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        // The first process writes the event but has no delivery worker (think: it stopped).
        let Some(app) = spawn(backend, |s| s.webhooks.worker_enabled = false).await else {
            continue;
        };
        let rx = receiver(0).await;
        let admin = app.login(ADMIN).await;
        let hook = subscribe(&app, &admin, &rx.url, &["envelope.changed"]).await;
        let hook_id = hook["id"].as_str().unwrap();
        change_envelopes(&app, &admin).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(rx.got().is_empty());
        let d = deliveries(&app, &admin, hook_id).await;
        assert_eq!(d["items"][0]["status"], "pending");
        assert_eq!(d["items"][0]["attempts"], 0);

        // A new process on the same database picks it up.
        let mut settings = app.settings.clone();
        settings.webhooks.worker_enabled = true;
        // The demo stays on: with it off, the new process would disable the demo accounts
        // whose tokens this test still uses.
        settings.auth.secret =
            secrecy::SecretString::from("another-secret-for-the-second-process-0123456789");
        let second = welfare_grants::startup::Application::build(settings)
            .await
            .unwrap();
        tokio::spawn(second.run_until_stopped());
        let got = rx.wait_for(1).await;
        verify(hook["secret"].as_str().unwrap(), &got[0]);
        wait_for_status(&app, &admin, hook_id, "delivered").await;
    }
}

both!(with fast, async fn a_change_that_fails_publishes_nothing(app) {
    let rx = receiver(0).await;
    let admin = app.login(ADMIN).await;
    let hook = subscribe(&app, &admin, &rx.url, &["envelope.changed"]).await;
    let id = app.call_id(CALL_2022).await;
    // Envelopes that do not add up: refused, rolled back, no event.
    let res = app.put(&format!("/api/v1/calls/{id}/envelopes"), Some(&admin),
        &json!({"envelopes": [{"agency_code": "MILANO", "amount": "1.00", "source": "official", "note": null}]})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.got().is_empty());
    assert_eq!(deliveries(&app, &admin, hook["id"].as_str().unwrap()).await["total"], 0);
});

both!(with fast, async fn a_subscription_lists_every_broken_rule(app) {
    let admin = app.login(ADMIN).await;
    let p = problem(
        app.post("/api/v1/webhooks", Some(&admin),
            &json!({"url": "ftp://user:pw@example.test/x#f", "event_types": ["grant.offered", "grant.created", "grant.offered"], "description": " "})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    ).await;
    for (field, code) in [("url", "insecure_url"), ("url", "credentials_in_url"), ("url", "fragment_in_url"),
                          ("event_types[1]", "unknown_event_type"), ("event_types[2]", "duplicate")] {
        assert!(has_violation(&p, field, code), "{field} {code}: {p}");
    }
    let p = problem(app.post("/api/v1/webhooks", Some(&admin), &json!({"url": "https://x.example", "event_types": []})).await,
        StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "event_types", "required"), "{p}");
    let p = problem(app.post("/api/v1/webhooks", Some(&admin), &json!({"url": "https://x.example", "event_types": ["grant.offered"], "secret": "mine"})).await,
        StatusCode::BAD_REQUEST).await;
    assert_eq!(p["code"], "invalid_body", "{p}");
    let listed: Value = app.get("/api/v1/webhooks", Some(&admin)).await.json().await.unwrap();
    assert_eq!(listed["total"], 0, "nothing half-written");
});

both!(with fast, async fn only_administrators_manage_webhooks(app) {
    let applicant = app.login(APPLICANT).await;
    let evaluator = app.login(EVALUATOR_MONTAGNA).await;
    let body = json!({"url": "https://x.example/hook", "event_types": ["grant.offered"]});
    for token in [&applicant, &evaluator] {
        problem(app.post("/api/v1/webhooks", Some(token), &body).await, StatusCode::FORBIDDEN).await;
        problem(app.get("/api/v1/webhooks", Some(token)).await, StatusCode::FORBIDDEN).await;
    }
    problem(app.post("/api/v1/webhooks", None, &body).await, StatusCode::UNAUTHORIZED).await;
});

both!(with fast, async fn a_deleted_subscription_gets_nothing_more_and_keeps_its_history(app) {
    let admin = app.login(ADMIN).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let hook = subscribe(&app, &admin, &format!("http://127.0.0.1:{closed}/hook"), &["envelope.changed"]).await;
    let hook_id = hook["id"].as_str().unwrap();
    change_envelopes(&app, &admin).await;
    let res = app.request(Method::DELETE, &format!("/api/v1/webhooks/{hook_id}"), Some(&admin), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    problem(app.get(&format!("/api/v1/webhooks/{hook_id}"), Some(&admin)).await, StatusCode::NOT_FOUND).await;
    problem(app.request(Method::DELETE, &format!("/api/v1/webhooks/{hook_id}"), Some(&admin), None).await, StatusCode::NOT_FOUND).await;
    let d = deliveries(&app, &admin, hook_id).await;
    assert_eq!(d["total"], 1);
    assert_eq!(d["items"][0]["status"], "cancelled", "{d}");
    let listed: Value = app.get("/api/v1/webhooks", Some(&admin)).await.json().await.unwrap();
    assert_eq!(listed["total"], 0);
    let audit: Value = app.get("/api/v1/audit-events?entity_type=webhook", Some(&admin)).await.json().await.unwrap();
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["webhook.created", "webhook.deleted"]);
});

both!(with fast, async fn a_review_round_publishes_decisions_the_approved_ranking_and_its_offers(app) {
    let rx = receiver(0).await;
    let admin = app.login(ADMIN).await;
    subscribe(&app, &admin, &rx.url, &["application.admissibility_decided", "ranking.approved", "grant.offered"]).await;
    let (ids, _, first, _) = crate::rankings::scored_round(&app).await;
    app.clock.set(chrono::Utc::now() + chrono::Duration::days(100));
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let ranking = format!("/api/v1/calls/{demo}/agencies/MONTAGNA/ranking");
    assert_eq!(app.post(&ranking, Some(&first), &json!({})).await.status(), StatusCode::CREATED);
    let act = json!({"act_number": "decreto ATS della Montagna n. 123", "act_date": "2027-03-05"});
    assert_eq!(app.post(&format!("{ranking}/approve"), Some(&first), &act).await.status(), StatusCode::OK);
    let got = rx.wait_for(7 + 1 + 6).await;
    let events: Vec<Value> = got.iter().map(|r| serde_json::from_str(&r.body).unwrap()).collect();
    let of = |t: &str| events.iter().filter(|e| e["type"] == t).collect::<Vec<_>>();
    let decided = of("application.admissibility_decided");
    assert_eq!(decided.len(), 7);
    assert!(decided.iter().all(|e| e["data"]["change"]["review_status"] == "admitted"), "{decided:?}");
    assert_eq!(of("ranking.approved").len(), 1);
    let offers = of("grant.offered");
    assert_eq!(offers.len(), 6);
    assert!(offers.iter().all(|e| e["data"]["change"]["agency_code"] == "MONTAGNA" && ids.contains(&e["data"]["change"]["application_id"].as_str().unwrap().to_owned())), "{offers:?}");
    let mut amounts: Vec<&str> = offers.iter().map(|e| e["data"]["change"]["amount"].as_str().unwrap()).collect();
    amounts.sort();
    assert_eq!(amounts, ["43580.00", "50000.00", "50000.00", "50000.00", "50000.00", "50000.00"]);
    // Unsubscribed types (ranking.changed, application.submitted) were not sent.
    assert_eq!(events.len(), 14);
    let ids_sent: std::collections::BTreeSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids_sent.len(), 14, "one id per event");
});

/// A name server the test controls: names resolve to what the test set, others not at all.
#[derive(Default)]
struct TestResolver(Mutex<HashMap<String, Vec<IpAddr>>>);

impl TestResolver {
    fn set(&self, name: &str, ips: &[&str]) {
        let ips = ips.iter().map(|ip| ip.parse().unwrap()).collect();
        self.0.lock().unwrap().insert(name.to_owned(), ips);
    }
}

impl Resolver for TestResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> Resolving<'a> {
        let found = self.0.lock().unwrap().get(host).cloned();
        Box::pin(async move {
            found
                .map(|ips| {
                    ips.into_iter()
                        .map(|ip| SocketAddr::new(ip, port))
                        .collect()
                })
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("{host} does not resolve"),
                    )
                })
        })
    }
}

/// An address on the public internet (nothing is sent to it: it only passes the checks).
const PUBLIC: &str = "93.184.216.34";

/// The application as production runs it, calling public addresses only, with names
/// resolved by `resolver` (fast retries and `http://` still allowed).
async fn spawn_public_only(
    backend: Backend,
    resolver: &Arc<TestResolver>,
    customise: impl FnOnce(&mut welfare_grants::config::Settings),
) -> Option<TestApp> {
    spawn_app_with_resolver(
        backend,
        |s| {
            fast(s);
            s.webhooks.allow_private_networks = false;
            customise(s);
        },
        resolver.clone(),
    )
    .await
}

fn port_of(url: &str) -> u16 {
    reqwest::Url::parse(url).unwrap().port().unwrap()
}

async fn subscribe_answer(app: &TestApp, admin: &str, url: &str, lang: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/webhooks"))
        .bearer_auth(admin)
        .header("accept-language", lang)
        .json(&json!({"url": url, "event_types": ["envelope.changed"]}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_subscription_to_a_loopback_private_or_link_local_address_is_refused() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let resolver = Arc::new(TestResolver::default());
        // As the public name does: it points at 127.0.0.1.
        resolver.set("localtest.me", &["127.0.0.1"]);
        let Some(app) = spawn_public_only(backend, &resolver, |_| {}).await else {
            continue;
        };
        let admin = app.login(ADMIN).await;
        for (url, kind) in [
            ("https://127.0.0.1/", "loopback"),
            ("https://[::1]/", "loopback"),
            ("https://169.254.169.254/", "link-local"),
            ("https://10.0.0.1/", "private"),
            ("https://2130706433/", "loopback"),
            ("https://0x7f.0.0.1/", "loopback"),
            ("https://[::ffff:127.0.0.1]/", "loopback"),
            ("https://localtest.me/", "loopback"),
            ("http://127.0.0.1:8080/hook", "loopback"),
            ("https://localhost:8443/hook", "loopback"),
            ("https://0177.0.0.1/", "loopback"),
            ("https://172.16.0.1/", "private"),
            ("https://192.168.0.1/", "private"),
            ("https://100.64.0.1/", "carrier-grade NAT"),
            ("https://[fe80::1]/", "link-local"),
            ("https://[fd00::1]/", "unique-local"),
            ("https://[::ffff:a9fe:a9fe]/", "link-local"),
            ("https://[64:ff9b::a9fe:a9fe]/", "link-local"),
            ("https://0.0.0.0/", "unspecified"),
            ("https://224.0.0.1/", "multicast"),
            ("https://255.255.255.255/", "broadcast"),
        ] {
            let p = problem(
                subscribe_answer(&app, &admin, url, "en").await,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
            assert!(has_violation(&p, "url", "private_address"), "{url}: {p}");
            let message = p["violations"][0]["message"].as_str().unwrap();
            assert!(
                message.contains(&format!("{kind} address")),
                "{url}: {message}"
            );
        }
        let p = problem(
            subscribe_answer(&app, &admin, "https://[::ffff:127.0.0.1]/", "it").await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(
            p["violations"][0]["message"],
            "L'host dell'URL [::ffff:7f00:1] è un indirizzo di loopback: i webhook si inviano solo a indirizzi pubblici.",
            "{p}"
        );
        let listed: Value = app
            .get("/api/v1/webhooks", Some(&admin))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed["total"], 0, "nothing stored");
    }
}

#[tokio::test]
async fn a_name_that_resolves_to_a_private_address_is_refused_at_subscription() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let resolver = Arc::new(TestResolver::default());
        resolver.set("hooks.example.test", &[PUBLIC, "127.0.0.1"]);
        resolver.set("metadata.example.test", &["::ffff:169.254.169.254"]);
        resolver.set("public.example.test", &[PUBLIC, "2606:4700:4700::1111"]);
        let Some(app) = spawn_public_only(backend, &resolver, |_| {}).await else {
            continue;
        };
        let admin = app.login(ADMIN).await;
        let p = problem(
            subscribe_answer(&app, &admin, "https://hooks.example.test/hook", "en").await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(
            violations(&p),
            [("url".to_owned(), "private_address".to_owned())],
            "{p}"
        );
        assert_eq!(
            p["violations"][0]["message"],
            "The host hooks.example.test resolves to 127.0.0.1, a loopback address: webhooks are sent to public addresses only.",
        );
        let p = problem(
            subscribe_answer(&app, &admin, "https://metadata.example.test/", "it").await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(
            p["violations"][0]["message"],
            "L'host metadata.example.test corrisponde a ::ffff:169.254.169.254, un indirizzo link-local: i webhook si inviano solo a indirizzi pubblici.",
        );
        // A public name passes, and so does one that does not resolve yet: the worker checks
        // again at every delivery.
        for url in [
            "https://public.example.test/hook",
            "https://not-yet.example.test/hook",
        ] {
            assert_eq!(
                subscribe_answer(&app, &admin, url, "en").await.status(),
                StatusCode::CREATED,
                "{url}"
            );
        }
    }
}

#[tokio::test]
async fn a_name_that_later_resolves_to_a_private_address_is_refused_at_delivery() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let resolver = Arc::new(TestResolver::default());
        resolver.set("hooks.example.test", &[PUBLIC]);
        let Some(app) =
            spawn_public_only(backend, &resolver, |s| s.webhooks.max_attempts = 1).await
        else {
            continue;
        };
        let rx = receiver(0).await;
        let admin = app.login(ADMIN).await;
        let url = format!("http://hooks.example.test:{}/hook", port_of(&rx.url));
        let hook = subscribe(&app, &admin, &url, &["envelope.changed"]).await;
        // DNS rebinding: the name now points at this machine, where the receiver listens.
        resolver.set("hooks.example.test", &["127.0.0.1"]);
        change_envelopes(&app, &admin).await;
        let d = wait_for_status(&app, &admin, hook["id"].as_str().unwrap(), "failed").await;
        let item = &d["items"][0];
        assert_eq!(item["last_status_code"], Value::Null, "{item}");
        assert_eq!(
            item["last_error"],
            "refused: hooks.example.test resolves to 127.0.0.1, a loopback address",
            "{item}"
        );
        assert_eq!(
            item["attempt_log"][0]["error"], item["last_error"],
            "{item}"
        );
        assert!(rx.got().is_empty(), "nothing reached the local receiver");
    }
}

#[tokio::test]
async fn an_ip_literal_subscribed_while_private_networks_were_allowed_is_refused_at_delivery() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        // Subscribed where private networks were allowed, by a process that does not deliver.
        let Some(app) = spawn(backend, |s| s.webhooks.worker_enabled = false).await else {
            continue;
        };
        let rx = receiver(0).await;
        let admin = app.login(ADMIN).await;
        let hook = subscribe(&app, &admin, &rx.url, &["envelope.changed"]).await;
        change_envelopes(&app, &admin).await;
        // The process that delivers no longer allows them.
        let mut settings = app.settings.clone();
        settings.webhooks.worker_enabled = true;
        settings.webhooks.allow_private_networks = false;
        settings.webhooks.max_attempts = 1;
        settings.auth.secret =
            secrecy::SecretString::from("another-secret-for-the-second-process-0123456789");
        let second = welfare_grants::startup::Application::build(settings)
            .await
            .unwrap();
        tokio::spawn(second.run_until_stopped());
        let d = wait_for_status(&app, &admin, hook["id"].as_str().unwrap(), "failed").await;
        assert_eq!(
            d["items"][0]["last_error"], "refused: 127.0.0.1 is a loopback address",
            "{d}"
        );
        assert!(rx.got().is_empty(), "nothing reached the local receiver");
    }
}

#[tokio::test]
async fn a_name_is_delivered_to_the_address_it_resolved_to_where_private_networks_are_allowed() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let resolver = Arc::new(TestResolver::default());
        resolver.set("hooks.example.test", &["127.0.0.1"]);
        let Some(app) = spawn_app_with_resolver(backend, fast, resolver.clone()).await else {
            continue;
        };
        let rx = receiver(0).await;
        let admin = app.login(ADMIN).await;
        let url = format!("http://hooks.example.test:{}/hook", port_of(&rx.url));
        let hook = subscribe(&app, &admin, &url, &["envelope.changed"]).await;
        change_envelopes(&app, &admin).await;
        let got = rx.wait_for(1).await;
        verify(hook["secret"].as_str().unwrap(), &got[0]);
        wait_for_status(&app, &admin, hook["id"].as_str().unwrap(), "delivered").await;
    }
}

both!(with fast, async fn a_url_with_a_line_break_or_another_control_character_is_refused(app) {
    let admin = app.login(ADMIN).await;
    for url in [
        "https://hooks.example.test/hook\r\nX-Injected: 1",
        "https://hooks.example.test/hook\n",
        "\thttps://hooks.example.test/hook",
        "https://hooks.exa\rmple.test/hook",
        "https://hooks.example.test/ho\u{0}ok",
    ] {
        let p = problem(subscribe_answer(&app, &admin, url, "en").await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(has_violation(&p, "url", "control_character"), "{url:?}: {p}");
    }
    let listed: Value = app.get("/api/v1/webhooks", Some(&admin)).await.json().await.unwrap();
    assert_eq!(listed["total"], 0, "nothing stored");
});
