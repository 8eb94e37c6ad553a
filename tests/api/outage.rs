//! Outages of the database, against the real PostgreSQL server without stopping it: the
//! service talks to its test database through a TCP proxy written here, which the test can
//! cut (live connections dropped, new ones refused), blackhole (connections accepted and
//! live ones frozen, nothing forwarded: connects and queries hang) and restore.
//!
//! PostgreSQL only: SQLite is a file the service opens in its own process, with no server,
//! network or socket between them that could go away while the service keeps running; its
//! "unavailable" is a write lock held too long, which its busy timeout handles. Without a
//! reachable PostgreSQL these tests are skipped with a message, unless
//! `WG_REQUIRE_POSTGRES=1`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::*;
use crate::registry::*;

/// The service's acquire timeout in these tests.
const ACQUIRE_TIMEOUT_MS: u64 = 1500;
/// The longest an answer may take during an outage: the acquire timeout and a margin for a
/// loaded machine. Beyond it the service is hanging, not failing fast.
const FAIL_FAST: Duration = Duration::from_millis(ACQUIRE_TIMEOUT_MS + 2000);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Forward both ways.
    Forward,
    /// Drop every live connection and refuse new ones (nothing listens on the port).
    Cut,
    /// Accept new connections but never forward them; freeze the live ones.
    Blackhole,
}

struct Control {
    mode: watch::Sender<Mode>,
    /// `host:port` of the real server.
    target: Mutex<String>,
    /// Cut everything when the service sends these bytes (once).
    cut_on: Mutex<Option<Vec<u8>>>,
    tripped: AtomicBool,
    /// When the armed pattern goes out: freeze everything (blackhole) instead of cutting.
    freeze_on_trip: AtomicBool,
    /// What the service sent while the cut was armed.
    sent: Mutex<Vec<u8>>,
}

impl Control {
    fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Whether a chunk sent by the service trips the armed cut; if so the cut is made.
    fn trips(&self, chunk: &[u8]) -> bool {
        let mut armed = self.cut_on.lock().unwrap();
        if armed.is_some() {
            self.sent.lock().unwrap().extend_from_slice(chunk);
        }
        let hit = armed
            .as_deref()
            .is_some_and(|p| chunk.windows(p.len()).any(|w| w == p));
        if hit {
            *armed = None;
            self.tripped.store(true, Ordering::SeqCst);
            self.set(if self.freeze_on_trip.load(Ordering::SeqCst) {
                Mode::Blackhole
            } else {
                Mode::Cut
            });
        }
        hit
    }
}

/// A TCP proxy in front of PostgreSQL (or another server) that the test controls.
pub(crate) struct Proxy {
    pub(crate) port: u16,
    control: Arc<Control>,
}

impl Proxy {
    pub(crate) async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().unwrap().port();
        let (mode, _) = watch::channel(Mode::Forward);
        let control = Arc::new(Control {
            mode,
            target: Mutex::new(String::new()),
            cut_on: Mutex::new(None),
            tripped: AtomicBool::new(false),
            freeze_on_trip: AtomicBool::new(false),
            sent: Mutex::new(Vec::new()),
        });
        tokio::spawn(listen(control.clone(), listener, port));
        Proxy { port, control }
    }

    /// Forward to `host:port`.
    pub(crate) fn forward_to(&self, target: &str) {
        *self.control.target.lock().unwrap() = target.to_owned();
    }

    pub(crate) fn cut(&self) {
        self.control.set(Mode::Cut);
    }

    pub(crate) fn blackhole(&self) {
        self.control.set(Mode::Blackhole);
    }

    pub(crate) fn restore(&self) {
        self.control.set(Mode::Forward);
    }

    /// Cut everything at the moment the service sends `pattern` (not forwarding it).
    fn cut_when_sent(&self, pattern: &[u8]) {
        self.control.tripped.store(false, Ordering::SeqCst);
        self.control.sent.lock().unwrap().clear();
        *self.control.cut_on.lock().unwrap() = Some(pattern.to_vec());
    }

    /// Freeze everything at the moment the service sends `pattern` (not forwarding it): the
    /// connection stays open and never answers, as when a network silently drops packets.
    fn freeze_when_sent(&self, pattern: &[u8]) {
        self.control.freeze_on_trip.store(true, Ordering::SeqCst);
        self.cut_when_sent(pattern);
    }

    fn tripped(&self) -> bool {
        self.control.tripped.load(Ordering::SeqCst)
    }

    /// Whether the service sent `text` between arming the cut and the cut.
    fn sent_before_the_cut(&self, text: &str) -> bool {
        let sent = self.control.sent.lock().unwrap();
        sent.windows(text.len()).any(|w| w == text.as_bytes())
    }
}

/// Accept connections while the proxy is not cut; while it is, nothing listens on the port,
/// so connecting is refused as when the server is down.
async fn listen(control: Arc<Control>, listener: TcpListener, port: u16) {
    let mut listener = Some(listener);
    let mut mode = control.mode.subscribe();
    loop {
        if *mode.borrow_and_update() == Mode::Cut {
            listener = None;
            if mode.changed().await.is_err() {
                return;
            }
            continue;
        }
        let Some(l) = &listener else {
            listener = Some(rebind(port).await);
            continue;
        };
        tokio::select! {
            accepted = l.accept() => {
                if let Ok((client, _)) = accepted {
                    tokio::spawn(serve(control.clone(), client));
                }
            }
            _ = mode.changed() => {}
        }
    }
}

async fn rebind(port: u16) -> TcpListener {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => return l,
            Err(e) if Instant::now() > deadline => panic!("cannot listen again on {port}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// One connection of the service.
async fn serve(control: Arc<Control>, client: TcpStream) {
    let mut mode = control.mode.subscribe();
    let now = *mode.borrow_and_update();
    match now {
        Mode::Cut => return,
        // Hold the connection without an answer until the mode changes, then drop it.
        Mode::Blackhole => {
            let _ = mode.changed().await;
            return;
        }
        Mode::Forward => {}
    }
    let target = control.target.lock().unwrap().clone();
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let (from_client, to_client) = client.into_split();
    let (from_server, to_server) = server.into_split();
    tokio::select! {
        _ = pump(&control, from_client, to_server, mode.clone(), true) => {}
        _ = pump(&control, from_server, to_client, mode, false) => {}
    }
    // Either side closed or the proxy was cut: both sockets close here.
}

async fn pump(
    control: &Control,
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
    from_service: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let now = *mode.borrow_and_update();
        match now {
            Mode::Cut => return,
            Mode::Blackhole => {
                if mode.changed().await.is_err() {
                    return;
                }
                continue;
            }
            Mode::Forward => {}
        }
        tokio::select! {
            read = from.read(&mut buf) => {
                let n = match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if from_service && control.trips(&buf[..n]) {
                    // Frozen: hold both sockets open, silent, until the test restores.
                    if *mode.borrow_and_update() == Mode::Blackhole {
                        let _ = mode.changed().await;
                    }
                    return;
                }
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            _ = mode.changed() => {}
        }
    }
}

/// `host:port` of a `postgres://` URL, and the same URL through another local port.
pub(crate) fn split_url(url: &str, proxy_port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let (user, rest) = match rest.rsplit_once('@') {
        Some((u, r)) => (format!("{u}@"), r),
        None => (String::new(), rest),
    };
    let (hostport, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let target = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:5432")
    };
    // In clear, so that the proxy can see the statements it cuts at (the default `prefer`
    // would talk TLS with a server that offers it).
    let sep = if path.contains('?') { '&' } else { '?' };
    let through = format!("{scheme}://{user}127.0.0.1:{proxy_port}{path}{sep}sslmode=disable");
    (target, through)
}

/// The application on a fresh PostgreSQL database that it reaches through a proxy; the
/// test reads the database directly. `None` (with a message) when PostgreSQL is not
/// reachable and not required.
struct Outage {
    // Closed before the application drops its database.
    direct: DatabaseConnection,
    app: TestApp,
    proxy: Proxy,
}

async fn spawn_behind_proxy() -> Option<Outage> {
    spawn_behind_proxy_with(|_| {}).await
}

async fn spawn_behind_proxy_with(
    customise: impl FnOnce(&mut welfare_grants::config::Settings),
) -> Option<Outage> {
    let proxy = Proxy::start().await;
    let mut direct_url = String::new();
    let app = spawn_app_with(Backend::Postgres, |s| {
        let url = s.database.url.expose_secret().to_owned();
        let (target, through) = split_url(&url, proxy.port);
        proxy.forward_to(&target);
        s.database.url = SecretString::from(through);
        s.database.acquire_timeout_ms = ACQUIRE_TIMEOUT_MS;
        // No background worker writing on its own: the only traffic is the test's.
        s.webhooks.worker_enabled = false;
        direct_url = url;
        customise(s);
    })
    .await?;
    let direct = Database::connect(direct_url.as_str())
        .await
        .expect("the test database, directly");
    Some(Outage { direct, app, proxy })
}

impl Outage {
    async fn count(&self, sql: &str) -> i64 {
        self.direct
            .query_one_raw(Statement::from_string(
                self.direct.get_database_backend(),
                sql,
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap()
    }
}

/// Check that an answer is the database's 503 with `Retry-After`, and came in time.
async fn assert_unavailable(res: reqwest::Response, started: Instant, what: &str) {
    let elapsed = started.elapsed();
    assert!(
        elapsed < FAIL_FAST,
        "{what} answered after {elapsed:?}, beyond {FAIL_FAST:?}"
    );
    let retry_after = retry_after(&res);
    assert!(
        retry_after.is_some_and(|s| s > 0),
        "{what}: Retry-After {retry_after:?}"
    );
    let body = problem(res, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["code"], "database_unavailable", "{what}: {body}");
}

/// Send a request and note when; a request that hangs fails the test instead of hanging it.
async fn timed<F: std::future::Future<Output = reqwest::Response>>(
    f: F,
) -> (reqwest::Response, Instant) {
    let started = Instant::now();
    match tokio::time::timeout(3 * FAIL_FAST, f).await {
        Ok(res) => (res, started),
        Err(_) => panic!("the request hung for {:?}", started.elapsed()),
    }
}

/// An organization an applicant registers: one row, its seats and its representative.
fn new_organization() -> Value {
    enterprise(901, "MI", &["MI", "SO"], "12", Some("2500000.00"), None)
}

async fn organizations_with_tax_code(app: &TestApp, token: &str, tax_code: &str) -> u64 {
    let res = app
        .get(
            &format!("/api/v1/organizations?tax_code={tax_code}"),
            Some(token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["total"]
        .as_u64()
        .unwrap()
}

/// While the database is down, whether connecting is refused (cut) or hangs (blackhole):
/// `/status` and a write answer 503 `database_unavailable` with `Retry-After`, within the
/// acquire timeout and a margin.
async fn down_means_503_fast(o: &Outage, token: &str) {
    let (res, t) = timed(o.app.get("/status", None)).await;
    assert_unavailable(res, t, "GET /status").await;
    let (res, t) = timed(
        o.app
            .post("/api/v1/organizations", Some(token), &new_organization()),
    )
    .await;
    assert_unavailable(res, t, "POST /api/v1/organizations").await;
    // Again: the failed attempts left the pool able to fail fast.
    let (res, t) = timed(o.app.get("/status", None)).await;
    assert_unavailable(res, t, "GET /status, again").await;
}

#[tokio::test]
async fn with_the_database_cut_status_and_writes_answer_503_with_retry_after_within_the_acquire_timeout()
 {
    let Some(o) = spawn_behind_proxy().await else {
        return;
    };
    let token = o.app.login(APPLICANT).await;
    assert_eq!(o.app.get("/status", None).await.status(), StatusCode::OK);
    o.proxy.cut();
    down_means_503_fast(&o, &token).await;
}

#[tokio::test]
async fn with_the_database_blackholed_status_and_writes_answer_503_with_retry_after_instead_of_hanging()
 {
    let Some(o) = spawn_behind_proxy().await else {
        return;
    };
    let token = o.app.login(APPLICANT).await;
    assert_eq!(o.app.get("/status", None).await.status(), StatusCode::OK);
    o.proxy.blackhole();
    down_means_503_fast(&o, &token).await;
}

/// After an outage the service serves again at once, without a restart, and the write that
/// failed left nothing behind.
#[tokio::test]
async fn when_the_database_returns_the_service_recovers_by_itself_and_the_failed_write_left_nothing()
 {
    let Some(o) = spawn_behind_proxy().await else {
        return;
    };
    let app = &o.app;
    let token = app.login(APPLICANT).await;
    let tax_code = new_organization()["tax_code"].as_str().unwrap().to_owned();
    let organizations = o.count("SELECT count(*) FROM organizations").await;
    let representatives = o
        .count("SELECT count(*) FROM organization_representatives")
        .await;
    let audit = o.count("SELECT count(*) FROM audit_events").await;

    for (outage, down) in [
        ("cut", Proxy::cut as fn(&Proxy)),
        ("blackhole", Proxy::blackhole),
    ] {
        down(&o.proxy);
        let (res, t) =
            timed(app.post("/api/v1/organizations", Some(&token), &new_organization())).await;
        assert_unavailable(res, t, outage).await;
        o.proxy.restore();

        // The first request after the outage is served: no restart, no warm-up.
        let res = app.get("/status", None).await;
        assert_eq!(res.status(), StatusCode::OK, "after the {outage}");
        assert_eq!(res.json::<Value>().await.unwrap()["database"], "ok");
        // Nothing of the failed write exists.
        assert_eq!(
            organizations_with_tax_code(app, &token, &tax_code).await,
            0,
            "after the {outage}"
        );
        assert_eq!(
            o.count("SELECT count(*) FROM organizations").await,
            organizations
        );
        assert_eq!(
            o.count("SELECT count(*) FROM organization_representatives")
                .await,
            representatives
        );
        assert_eq!(o.count("SELECT count(*) FROM audit_events").await, audit);
    }

    // The same write now succeeds, once.
    let res = app
        .post("/api/v1/organizations", Some(&token), &new_organization())
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["representatives"][0]["username"], APPLICANT.0);
    assert_eq!(organizations_with_tax_code(app, &token, &tax_code).await, 1);
    assert_eq!(
        o.count("SELECT count(*) FROM organizations").await,
        organizations + 1
    );
}

/// The connection dies in the middle of a submission, after every write of its transaction
/// (protocol counter, application, history, notifications, audit) and before `COMMIT`: none
/// of them stays, and the retry after the outage takes the first protocol number.
/// A draft of the demo applicant's partnership with its agreement: nothing but the
/// submission left to do.
async fn submittable_draft(app: &TestApp, token: &str) -> String {
    let list: Value = app
        .get("/api/v1/partnerships", Some(token))
        .await
        .json()
        .await
        .unwrap();
    let partnership = &list["items"][0];
    let lead = partnership["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "lead")
        .unwrap_or(&partnership["members"][0])["organization_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let content = json!({
        "agency_code": "MONTAGNA", "title": "Valtellina concilia", "summary": "Servizi di conciliazione.",
        "intervention_areas": ["SERVIZI_CURA"], "start_date": "2027-01-01", "end_date": "2027-12-31",
        "employees_reached": 50, "enterprises_reached": 2,
        "budget": {"lines": [{"category": "EMPLOYEE_SERVICES", "description": "Baby-sitting", "amount": "20000.00", "borne_by": lead}],
                   "requested_grant": "14000.00", "co_financing": "6000.00"}
    });
    let res = app
        .post(
            "/api/v1/applications",
            Some(token),
            &json!({"partnership_id": partnership["id"], "content": content}),
        )
        .await;
    let status = res.status();
    let draft: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{draft}");
    let id = draft["id"].as_str().unwrap().to_owned();
    upload(
        app,
        token,
        &id,
        "partnership_agreement",
        None,
        "accordo.pdf",
        pdf("Accordo"),
    )
    .await;
    id
}

#[tokio::test]
async fn a_cut_in_the_middle_of_a_submission_leaves_nothing_of_it() {
    let Some(o) = spawn_behind_proxy().await else {
        return;
    };
    let app = &o.app;
    let token = app.login(APPLICANT).await;
    let id = submittable_draft(app, &token).await;

    let counts = [
        "SELECT count(*) FROM protocol_counters",
        "SELECT count(*) FROM application_history",
        "SELECT count(*) FROM notifications",
        "SELECT count(*) FROM audit_events",
        "SELECT count(*) FROM applications WHERE status <> 'draft' OR protocol_number IS NOT NULL",
    ];
    let mut before = Vec::new();
    for sql in counts {
        before.push(o.count(sql).await);
    }

    let submit = || {
        app.client
            .post(app.url(&format!("/api/v1/applications/{id}/submit")))
            .bearer_auth(&token)
            .send()
    };
    o.proxy.cut_when_sent(b"COMMIT");
    let (res, t) = timed(async { submit().await.unwrap() }).await;
    if !o.proxy.tripped() {
        panic!(
            "the submission's COMMIT never went out: {} {}",
            res.status(),
            res.text().await.unwrap()
        );
    }
    assert_unavailable(res, t, "a submission cut before its COMMIT").await;
    // Its writes went out before the cut: the protocol counter and the application.
    for statement in ["protocol_counters", "UPDATE \"applications\""] {
        assert!(o.proxy.sent_before_the_cut(statement), "{statement}");
    }

    for (sql, n) in counts.iter().zip(&before) {
        assert_eq!(o.count(sql).await, *n, "{sql}");
    }
    o.proxy.restore();
    let view: Value = app
        .get(&format!("/api/v1/applications/{id}"), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "draft", "{view}");

    let res = submit().await.unwrap();
    let status = res.status();
    let receipt: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["protocol_number"], "RLD-DEMO-CONCILIAZIONE-000001");
    let history: Value = app
        .get(&format!("/api/v1/applications/{id}/history"), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let steps: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["to_status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(steps, ["draft", "submitted"], "{history}");
}

/// A connection that freezes in the middle of a transaction (the network silently drops
/// everything after the writes went out) holds neither the client nor its locks forever: at
/// the request's deadline the answer is 503, the transaction is abandoned, and once the
/// database is reachable again the same submission goes through with the first number.
#[tokio::test]
async fn a_request_stuck_on_a_frozen_connection_answers_503_at_its_deadline() {
    const DEADLINE_SECS: u64 = 2;
    let Some(o) = spawn_behind_proxy_with(|s| s.server.request_timeout_secs = DEADLINE_SECS).await
    else {
        return;
    };
    let app = &o.app;
    let token = app.login(APPLICANT).await;
    let id = submittable_draft(app, &token).await;
    let submit = || {
        app.client
            .post(app.url(&format!("/api/v1/applications/{id}/submit")))
            .bearer_auth(&token)
            .send()
    };

    o.proxy.freeze_when_sent(b"COMMIT");
    let (res, t) = timed(async { submit().await.unwrap() }).await;
    assert!(o.proxy.tripped(), "the submission's COMMIT never went out");
    let elapsed = t.elapsed();
    assert!(
        elapsed >= Duration::from_secs(DEADLINE_SECS)
            && elapsed < Duration::from_secs(DEADLINE_SECS) + FAIL_FAST,
        "answered after {elapsed:?}"
    );
    assert!(res.headers().get("retry-after").is_some());
    assert_eq!(
        problem(res, StatusCode::SERVICE_UNAVAILABLE).await["code"],
        "request_timeout"
    );
    // Nothing of it was committed (in the demo edition: the closed one has a seeded submission).
    assert_eq!(
        o.count("SELECT count(*) FROM applications WHERE protocol_number LIKE 'RLD-DEMO-CONCILIAZIONE-0%'")
            .await,
        0
    );

    o.proxy.restore();
    let res = submit().await.unwrap();
    let status = res.status();
    let receipt: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["protocol_number"], "RLD-DEMO-CONCILIAZIONE-000001");
    // The metrics count the abandoned request apart, and the submission by its pattern.
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains(
            r#"welfare_grants_http_requests_total{method="POST",route="abandoned",status="503"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"welfare_grants_http_requests_total{method="POST",route="/api/v1/applications/{application_id}/submit",status="200"} 1"#
        ),
        "{metrics}"
    );
}
