//! Start the real application on port 0 with a fresh database, and talk HTTP to it.
//!
//! Every database test runs twice: on a SQLite file in a temporary folder and on a fresh
//! PostgreSQL database (created on the server named by `TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test?sslmode=disable`, and dropped at the end).
//! Without a reachable PostgreSQL the PostgreSQL half is skipped, unless
//! `WG_REQUIRE_POSTGRES=1`.
//!
//! A fresh database is a copy of a template that is already migrated (and seeded, when the
//! test keeps the demo on): migrating and seeding every database took most of a test's time.
//! See [`templates`].
//!
//! The tests of the annexes' files run on both storage backends too ([`both_storages!`]): the
//! S3 half on a bucket of its own at the S3-compatible server named by `TEST_S3_URL` (e.g.
//! `http://127.0.0.1:5900`, a `moto_server`), skipped with a message when it is not set,
//! unless `WG_REQUIRE_S3=1`.

use reqwest::{Method, Response, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use secrecy::SecretString;
use serde_json::Value;
use uuid::Uuid;
use welfare_grants::config::{ExternalIdpSettings, ExternalKey, Settings};
use welfare_grants::domain::ErrorCode;
use welfare_grants::startup::Application;

pub const ADMIN: (&str, &str) = ("admin@demo.welfare-grants.test", "demo-admin-password");
pub const EVALUATOR_MONTAGNA: (&str, &str) = (
    "valutatore.montagna@demo.welfare-grants.test",
    "demo-evaluator-password",
);
pub const EVALUATOR_BRESCIA: (&str, &str) = (
    "valutatore.brescia@demo.welfare-grants.test",
    "demo-evaluator-password",
);
pub const APPLICANT: (&str, &str) = (
    "richiedente1@demo.welfare-grants.test",
    "demo-applicant-password",
);

pub const IDP_ISSUER: &str = "https://idp.example.test";
pub const IDP_AUDIENCE: &str = "welfare-grants-api";
pub const IDP_KID: &str = "test-ed25519";
pub const IDP_PRIVATE_KEY: &str = include_str!("../fixtures/idp-ed25519-private.pem");
const IDP_PUBLIC_KEY: &str = include_str!("../fixtures/idp-ed25519-public.pem");
pub const IDP_RSA_KID: &str = "test-rsa";
pub const IDP_RSA_PRIVATE_KEY: &str = include_str!("../fixtures/idp-rsa-private.pem");
const IDP_RSA_PUBLIC_KEY: &str = include_str!("../fixtures/idp-rsa-public.pem");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A clock the tests set; it follows the system clock until set.
#[derive(Default)]
pub struct TestClock(std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>);

impl TestClock {
    pub fn set(&self, t: chrono::DateTime<chrono::Utc>) {
        *self.0.lock().unwrap() = Some(t);
    }

    /// Set it to a local time in Europe/Rome, e.g. `"2022-07-15T12:00:00"`.
    pub fn set_rome(&self, local: &str) {
        use chrono::TimeZone;
        let naive = chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S%.f")
            .expect("a local time");
        let t = chrono_tz::Europe::Rome
            .from_local_datetime(&naive)
            .single()
            .expect("an unambiguous time");
        self.set(t.with_timezone(&chrono::Utc));
    }
}

impl welfare_grants::clock::Clock for TestClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.lock().unwrap().unwrap_or_else(chrono::Utc::now)
    }
}

pub struct TestApp {
    pub clock: std::sync::Arc<TestClock>,
    pub address: String,
    /// Checks that every problem+json answer has codes of the catalogue.
    pub client: Client,

    pub settings: Settings,
    _dir: Option<tempfile::TempDir>,
    postgres_db: Option<String>,
}

/// The server's maintenance database. By default in clear: the server is on this machine, and
/// a TLS handshake in a debug build takes about a tenth of a second, for each of the several
/// connections a test opens. `TEST_POSTGRES_URL` is taken as it is.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test?sslmode=disable".into())
}

/// The same server, with the same options, and another database.
pub fn with_database(url: &str, db: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((url, query)) => (url, format!("?{query}")),
        None => (url, String::new()),
    };
    let (base, _) = url
        .rsplit_once('/')
        .expect("a database URL ends with /<name>");
    format!("{base}/{db}{query}")
}

/// Connect to the server's maintenance database, failing fast when nothing listens there
/// (a pool would retry until its acquire timeout).
pub async fn connect_admin(url: &str) -> Result<sea_orm::DatabaseConnection, String> {
    let hostport = url.rsplit_once('@').map(|(_, r)| r).unwrap_or(url);
    let hostport = hostport.split('/').next().unwrap_or("");
    let addr = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:5432")
    };
    let reachable = std::net::ToSocketAddrs::to_socket_addrs(&addr)
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| {
            std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(2)).is_ok()
        });
    if !reachable {
        return Err(format!("nothing answers at {addr}"));
    }
    let mut options = sea_orm::ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .sqlx_logging(false);
    Database::connect(options).await.map_err(|e| e.to_string())
}

/// The S3-compatible server of the tests, when there is one (`TEST_S3_URL`).
pub fn s3_url() -> Option<String> {
    std::env::var("TEST_S3_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .map(|u| u.trim_end_matches('/').to_owned())
}

/// The server at `TEST_S3_URL`; `None` with a message when it is not set and not required.
pub fn s3_or_skip() -> Option<String> {
    let url = s3_url();
    if url.is_none() {
        if std::env::var("WG_REQUIRE_S3").is_ok_and(|v| v == "1") {
            panic!("S3 is required (WG_REQUIRE_S3=1) but TEST_S3_URL is not set");
        }
        eprintln!("TEST_S3_URL is not set: this S3 test is skipped");
    }
    url
}

/// Keep the files in a fresh bucket of the S3-compatible server at `endpoint` (made when the
/// application starts). Its test credentials: the server checks none.
pub fn on_s3(settings: &mut Settings, endpoint: &str) {
    use welfare_grants::config::StorageBackend;
    settings.storage.backend = StorageBackend::S3;
    let s3 = &mut settings.storage.s3;
    s3.endpoint = endpoint.to_owned();
    s3.bucket = format!("wg-test-{}", Uuid::new_v4().simple());
    s3.region = "us-east-1".into();
    s3.access_key_id = "wg-test".into();
    s3.secret_access_key = SecretString::from("wg-test-secret");
    s3.request_timeout_secs = 5;
}

/// Make the bucket of `settings` with a plain `PUT /<bucket>`: object_store makes none, and
/// the test server takes it unsigned.
async fn create_bucket(settings: &welfare_grants::config::S3Settings) {
    let res = reqwest::Client::new()
        .put(format!("{}/{}", settings.endpoint, settings.bucket))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the S3 server at {} is not reachable: {e}",
                settings.endpoint
            )
        });
    assert!(
        res.status().is_success(),
        "creating bucket {}: {}",
        settings.bucket,
        res.status()
    );
}

fn require_postgres() -> bool {
    std::env::var("WG_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// Start the application on a fresh database; `None` when PostgreSQL is asked for but not
/// reachable and not required.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(
    backend: Backend,
    customise: impl FnOnce(&mut Settings),
) -> Option<TestApp> {
    spawn_app_with_resolver(
        backend,
        customise,
        std::sync::Arc::new(welfare_grants::resolver::SystemResolver),
    )
    .await
}

/// The same, with host names resolved by `resolver` (webhook tests).
pub async fn spawn_app_with_resolver(
    backend: Backend,
    customise: impl FnOnce(&mut Settings),
    resolver: std::sync::Arc<dyn welfare_grants::resolver::Resolver>,
) -> Option<TestApp> {
    let mut settings = Settings::defaults();
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.database.max_connections = 5;
    // Tests log in far more often than a person would; tests/api/limits.rs turns them on.
    settings.rate_limit.enabled = false;
    settings.auth.external = Some(ExternalIdpSettings {
        issuer: IDP_ISSUER.into(),
        audience: IDP_AUDIENCE.into(),
        keys: vec![
            ExternalKey {
                kid: IDP_KID.into(),
                algorithm: "EdDSA".into(),
                public_key_pem: IDP_PUBLIC_KEY.into(),
            },
            ExternalKey {
                kid: IDP_RSA_KID.into(),
                algorithm: "RS256".into(),
                public_key_pem: IDP_RSA_PUBLIC_KEY.into(),
            },
        ],
    });
    // The test's folder: its files, and its SQLite database.
    let d = tempfile::tempdir().expect("a temporary folder");
    settings.storage.path = d.path().join("files").display().to_string();
    let mut postgres = None;
    match backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}?mode=rwc", d.path().join("test.db").display());
            settings.database.url = SecretString::from(url);
        }
        Backend::Postgres => {
            let admin_url = postgres_admin_url();
            let admin = match connect_admin(&admin_url).await {
                Ok(db) => db,
                Err(e) if !require_postgres() => {
                    eprintln!(
                        "PostgreSQL is not reachable at {admin_url} ({e}): this PostgreSQL test is skipped"
                    );
                    return None;
                }
                Err(e) => {
                    panic!("PostgreSQL is required (WG_REQUIRE_POSTGRES=1) but not reachable: {e}")
                }
            };
            let name = format!("wg_test_{}", Uuid::new_v4().simple());
            settings.database.url = SecretString::from(with_database(&admin_url, &name));
            postgres = Some((admin, name));
        }
    }
    customise(&mut settings);
    if settings.storage.backend == welfare_grants::config::StorageBackend::S3 {
        create_bucket(&settings.storage.s3).await;
    }
    // The database exists once the settings are final: they say which template it copies.
    let start = templates::Start::for_settings(&settings);
    let postgres_db = match postgres {
        None => {
            templates::sqlite(start, &d.path().join("test.db")).await;
            None
        }
        Some((admin, name)) => {
            templates::postgres(&admin, start, &name).await;
            admin.close().await.ok();
            Some(name)
        }
    };
    // TEST_LOG=1 shows the service's logs (with the cause of any 500).
    if std::env::var("TEST_LOG").is_ok() {
        settings.log.format = welfare_grants::config::LogFormat::Pretty;
        // The writer's guard lives as long as the test process: its lines are flushed.
        static LOG_GUARD: std::sync::OnceLock<tracing_appender::non_blocking::WorkerGuard> =
            std::sync::OnceLock::new();
        LOG_GUARD.get_or_init(|| welfare_grants::telemetry::init(&settings.log));
    }
    let clock = std::sync::Arc::new(TestClock::default());
    let app = Application::build_with(settings.clone(), clock.clone(), resolver)
        .await
        .expect("the application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Some(TestApp {
        clock,
        address,
        client: Client(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        ),

        settings,
        _dir: Some(d),
        postgres_db,
    })
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let Some(name) = self.postgres_db.take() else {
            return;
        };
        // Drop the database from a thread of its own: Drop cannot await.
        let url = postgres_admin_url();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(admin) = connect_admin(&url).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    admin.close().await.ok();
                }
            });
        })
        .join();
    }
}

/// Generate the SQLite and PostgreSQL variants of a test: `both!(async fn name(app) { ... });`,
/// or `both!(with customise, async fn name(app) { ... });` to change the settings first
/// (`customise` is anything `spawn_app_with` takes, e.g. a `fn(&mut Settings)`).
#[macro_export]
macro_rules! both {
    (async fn $name:ident($app:ident) $body:block) => {
        $crate::both!(with |_| {}, async fn $name($app) $body);
    };
    (with $customise:expr, async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: $crate::helpers::TestApp) $body
            #[tokio::test]
            async fn sqlite() {
                run($crate::helpers::spawn_app_with($crate::helpers::Backend::Sqlite, $customise).await.unwrap()).await
            }
            #[tokio::test]
            async fn postgres() {
                if let Some(app) = $crate::helpers::spawn_app_with($crate::helpers::Backend::Postgres, $customise).await {
                    run(app).await
                }
            }
        }
    };
}

/// [`both!`] on each storage backend: on the filesystem and in an S3 bucket (see
/// [`s3_or_skip`]), each on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! both_storages {
    (async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: $crate::helpers::TestApp) $body
            $crate::both!(async fn files($app) { super::run($app).await });
            mod s3 {
                use $crate::helpers::{Backend, on_s3, s3_or_skip, spawn_app_with};
                #[tokio::test]
                async fn sqlite() {
                    let Some(url) = s3_or_skip() else { return };
                    super::run(spawn_app_with(Backend::Sqlite, |s| on_s3(s, &url)).await.unwrap()).await
                }
                #[tokio::test]
                async fn postgres() {
                    let Some(url) = s3_or_skip() else { return };
                    if let Some(app) = spawn_app_with(Backend::Postgres, |s| on_s3(s, &url)).await {
                        super::run(app).await
                    }
                }
            }
        }
    };
}

impl TestApp {
    /// The storage of the application, as the service builds it from its settings.
    pub fn storage(&self) -> std::sync::Arc<dyn welfare_grants::storage::Storage> {
        welfare_grants::storage::from_settings(&self.settings.storage).expect("the storage")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.expect("the request is sent")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::PUT, path, token, Some(body)).await
    }

    /// A merge patch with `If-Match` (when given).
    pub async fn patch(
        &self,
        path: &str,
        token: Option<&str>,
        etag: Option<&str>,
        body: &Value,
    ) -> Response {
        let mut req = self
            .client
            .patch(self.url(path))
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(e) = etag {
            req = req.header("if-match", e);
        }
        req.send().await.expect("the request is sent")
    }

    /// Drop this application's PostgreSQL database under its feet (outage tests).
    pub async fn drop_postgres_database(&self) {
        let name = self.postgres_db.as_ref().expect("a PostgreSQL test app");
        let admin = Database::connect(postgres_admin_url().as_str())
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await
            .unwrap();
        admin.close().await.ok();
    }

    /// Log in with the JSON endpoint and return the access token.
    pub async fn login(&self, (username, password): (&str, &str)) -> String {
        let res = self
            .post(
                "/api/v1/auth/login",
                None,
                &serde_json::json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK, "login of {username}");
        res.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The id of a seeded call, by code (as an administrator sees the list).
    pub async fn call_id(&self, code: &str) -> String {
        let admin = self.login(ADMIN).await;
        let list: Value = self
            .get("/api/v1/calls?per_page=100", Some(&admin))
            .await
            .json()
            .await
            .unwrap();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == code)
            .expect("the call is seeded")["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// The HTTP client of the tests: every problem+json answer it receives is checked against the
/// catalogue of error codes (`ErrorCode`): its `code` and each `violations[].code` are in it,
/// and the status is the one the catalogue gives the code. So the whole suite is the check.
#[derive(Clone)]
pub struct Client(pub reqwest::Client);

impl Client {
    pub fn request(&self, method: Method, url: impl reqwest::IntoUrl) -> RequestBuilder {
        RequestBuilder(self.0.request(method, url))
    }

    pub fn get(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    pub fn head(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    pub fn post(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    pub fn patch(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    pub fn delete(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }
}

/// A request of [`Client`]; `send` checks a problem+json answer.
pub struct RequestBuilder(reqwest::RequestBuilder);

impl RequestBuilder {
    pub fn bearer_auth(self, token: impl std::fmt::Display) -> RequestBuilder {
        RequestBuilder(self.0.bearer_auth(token))
    }

    pub fn header<K, V>(self, key: K, value: V) -> RequestBuilder
    where
        reqwest::header::HeaderName: TryFrom<K>,
        <reqwest::header::HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        reqwest::header::HeaderValue: TryFrom<V>,
        <reqwest::header::HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        RequestBuilder(self.0.header(key, value))
    }

    pub fn json<T: serde::Serialize + ?Sized>(self, json: &T) -> RequestBuilder {
        RequestBuilder(self.0.json(json))
    }

    pub fn form<T: serde::Serialize + ?Sized>(self, form: &T) -> RequestBuilder {
        RequestBuilder(self.0.form(form))
    }

    pub fn body(self, body: impl Into<reqwest::Body>) -> RequestBuilder {
        RequestBuilder(self.0.body(body))
    }

    pub fn multipart(self, form: reqwest::multipart::Form) -> RequestBuilder {
        RequestBuilder(self.0.multipart(form))
    }

    pub async fn send(self) -> reqwest::Result<Response> {
        let res = self.0.send().await?;
        let is_problem = res
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes() == b"application/problem+json");
        // The one exception: the OAuth2 token endpoint's own errors (RFC 6749 §5.2).
        let is_token_error = res.url().path() == "/api/v1/auth/token"
            && res.status() == StatusCode::BAD_REQUEST
            && !is_problem;
        if !is_problem && !is_token_error {
            return Ok(res);
        }
        let status = res.status();
        let version = res.version();
        let headers = res.headers().clone();
        let bytes = res.bytes().await?;
        if is_token_error {
            check_token_error(&headers, &bytes);
        } else if !bytes.is_empty() {
            check_problem_codes(status, &bytes);
        }
        let mut rebuilt = http::Response::new(bytes);
        *rebuilt.status_mut() = status;
        *rebuilt.version_mut() = version;
        *rebuilt.headers_mut() = headers;
        Ok(Response::from(rebuilt))
    }
}

/// Every code of a problem document is in the catalogue, the top-level one with its status.
pub fn check_problem_codes(status: StatusCode, body: &[u8]) {
    let problem: Value = serde_json::from_slice(body).expect("a problem is JSON");
    let code = problem["code"].as_str().expect("a problem has a code");
    let known = ErrorCode::parse(code)
        .unwrap_or_else(|| panic!("`{code}` is not in the catalogue of error codes"));
    assert_eq!(
        known.status(),
        status.as_u16(),
        "`{code}` is answered with another status than the catalogue's"
    );
    for v in problem["violations"].as_array().into_iter().flatten() {
        let code = v["code"].as_str().expect("a violation has a code");
        assert!(
            ErrorCode::parse(code).is_some(),
            "violation `{code}` is not in the catalogue of error codes"
        );
    }
}

/// An error of the token endpoint is JSON in the OAuth2 shape: `error` one of RFC 6749 §5.2's
/// (those this service answers), a description, and a `code` of the catalogue.
pub fn check_token_error(headers: &reqwest::header::HeaderMap, body: &[u8]) {
    assert_eq!(
        headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..]),
        "a token error is application/json"
    );
    let error: Value = serde_json::from_slice(body).expect("a token error is JSON");
    let kind = error["error"].as_str().expect("a token error has an error");
    assert!(
        ["invalid_request", "invalid_grant", "unsupported_grant_type"].contains(&kind),
        "`{kind}` is not an error of RFC 6749 §5.2 that the service answers"
    );
    assert!(
        error["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{error}"
    );
    let code = error["code"].as_str().expect("a token error has a code");
    assert!(
        ErrorCode::parse(code).is_some(),
        "`{code}` is not in the catalogue of error codes"
    );
}

/// Read an error of the token endpoint (RFC 6749 §5.2: always 400), checking its `error`.
pub async fn token_error(res: Response, error: &str) -> Value {
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "unexpected status");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    body
}

/// Read a problem+json answer, checking its status and content type.
pub async fn problem(res: Response, status: StatusCode) -> Value {
    assert_eq!(res.status(), status, "unexpected status");
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(ct, "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["code"].is_string()
            && body["title"].is_string()
            && body["detail"].is_string()
            && body["type"].is_string()
    );
    body
}

/// The `(field, code)` pairs of a problem's violations.
pub fn violations(problem: &Value) -> Vec<(String, String)> {
    problem["violations"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|x| {
                    (
                        x["field"].as_str().unwrap().to_owned(),
                        x["code"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a problem lists a violation of `code` on `field`.
pub fn has_violation(problem: &Value, field: &str, code: &str) -> bool {
    violations(problem)
        .iter()
        .any(|(f, c)| f == field && c == code)
}

/// Template databases: each test's database is a copy of one that is already migrated.
///
/// Migrating (and seeding) a database took most of a short test's time, on PostgreSQL above
/// all. So a test's database is a copy of a template instead: `CREATE DATABASE … TEMPLATE …`
/// on PostgreSQL, a file copy on SQLite. There are two templates: seeded (the demo on, as
/// most tests run) and unseeded (the demo off, so nothing is seeded); a test whose settings
/// do not migrate on start gets an empty database, as before. The application still migrates
/// and seeds when it starts: on a copy, both find nothing to do.
///
/// A template is named `wg_test_template_<key>_<kind>`. The key hashes what its content is made
/// of (the migrations, the library's sources, `Cargo.lock`), so a change there makes new
/// templates; a template is also made again after a day, since the demo edition's window
/// opens when it is seeded. The first test that needs a template makes it, under a lock that
/// the others wait on (a PostgreSQL advisory lock; a lock file next to the SQLite templates,
/// in the target folder); later runs on the same machine reuse it. Whoever makes a template
/// drops the stale ones (older than a day, or made from this same source tree with another
/// key); `.ci/run` drops them all when it cleans up.
mod templates {
    use std::hash::{Hash, Hasher};
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
    use secrecy::SecretString;
    use uuid::Uuid;
    use welfare_grants::config::Settings;

    use super::{postgres_admin_url, with_database};

    /// How long a template is reused.
    const MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
    const PREFIX: &str = "wg_test_template_";
    /// What a template is made of, relative to the package: the migrations, and the whole
    /// library rather than the seeding and what it writes through (which moves between
    /// modules), with the versions of the crates.
    const SOURCES: [&str; 3] = ["migration/src", "src", "Cargo.lock"];
    /// The PostgreSQL advisory lock under which templates are made ("wg_tmplt").
    const LOCK: i64 = 0x7767_5f74_6d70_6c74;

    /// What a test's database starts as.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Start {
        /// Migrated, demo data seeded.
        Seeded,
        /// Migrated, nothing seeded.
        Unseeded,
        /// Nothing at all.
        Empty,
    }

    impl Start {
        pub fn for_settings(settings: &Settings) -> Start {
            if !settings.database.migrate_on_start {
                Start::Empty
            } else if settings.demo.enabled {
                Start::Seeded
            } else {
                Start::Unseeded
            }
        }

        /// The template's name; `None` for an empty database or when there is no key.
        fn template(self) -> Option<String> {
            let kind = match self {
                Start::Seeded => "seeded",
                Start::Unseeded => "unseeded",
                Start::Empty => return None,
            };
            Some(format!("{PREFIX}{}_{kind}", key()?))
        }
    }

    /// The hash of the template's sources, once per process. `None` (every database is then
    /// made from scratch) when they cannot be read, or when one changed after this test binary
    /// was built: its templates would not match its code.
    fn key() -> Option<&'static str> {
        static KEY: OnceLock<Option<String>> = OnceLock::new();
        KEY.get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            let built = std::env::current_exe()
                .ok()?
                .metadata()
                .ok()?
                .modified()
                .ok()?;
            let mut files = Vec::new();
            for source in SOURCES {
                let path = root.join(source);
                if !path.exists() {
                    return None;
                }
                list_files(&path, &mut files);
            }
            files.sort();
            // SipHash from std: fast in a debug build; a new toolchain only makes new templates.
            let mut hasher = std::hash::DefaultHasher::new();
            for file in &files {
                if file.metadata().ok()?.modified().ok()? > built {
                    eprintln!(
                        "{} changed after the tests were built: databases are made from scratch",
                        file.display()
                    );
                    return None;
                }
                file.strip_prefix(root).ok()?.hash(&mut hasher);
                std::fs::read(file).ok()?.hash(&mut hasher);
            }
            Some(format!("{:016x}", hasher.finish()))
        })
        .as_deref()
    }

    fn list_files(path: &Path, files: &mut Vec<PathBuf>) {
        if path.is_dir() {
            for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                list_files(&entry.path(), files);
            }
        } else {
            files.push(path.to_owned());
        }
    }

    fn now_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
    }

    /// Connect to a new database, migrate it and seed it as start-up does.
    async fn migrate_and_seed(url: String, start: Start) -> DatabaseConnection {
        let mut database = Settings::defaults().database;
        database.url = SecretString::from(url);
        database.max_connections = 1;
        let db = welfare_grants::store::connect(&database)
            .await
            .expect("connect to the new template");
        welfare_grants::store::migrate(&db)
            .await
            .expect("migrate the template");
        welfare_grants::seed::apply(&db, start == Start::Seeded, chrono::Utc::now())
            .await
            .expect("seed the template");
        db
    }

    // ---- SQLite: a file in the target folder, copied.

    fn sqlite_dir() -> PathBuf {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("wg-test-templates")
    }

    fn fresh_file(path: &Path) -> bool {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age < MAX_AGE))
    }

    /// Put the test's SQLite file at `dest`: a copy of the template (nothing for `Empty`:
    /// the application creates the file).
    pub async fn sqlite(start: Start, dest: &Path) {
        let Some(name) = start.template() else {
            return;
        };
        let template = sqlite_dir().join(format!("{name}.db"));
        for _ in 0..3 {
            if !fresh_file(&template) {
                make_sqlite(start, &name, &template).await;
            }
            match std::fs::copy(&template, dest) {
                Ok(_) => return,
                // Replaced by a run of other sources between our check and the copy.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => panic!("copy {} to {}: {e}", template.display(), dest.display()),
            }
        }
        panic!("{} keeps disappearing", template.display());
    }

    async fn make_sqlite(start: Start, name: &str, template: &Path) {
        let dir = sqlite_dir();
        std::fs::create_dir_all(&dir).expect("the templates' folder");
        let lock_path = dir.join(".lock");
        // Wait for the lock off the test's thread (an application may already run there).
        let lock = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .expect("the templates' lock file");
            file.lock().expect("the templates' lock");
            file
        })
        .await
        .unwrap();
        if fresh_file(template) {
            return; // made while we waited
        }
        // Templates of other sources, and what a template's maker left when it died.
        let current = format!("{PREFIX}{}_", key().unwrap_or_default());
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with(PREFIX)
                && (!file.starts_with(&current) || file.contains(".building"))
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let building = dir.join(format!("{name}.db.building"));
        let url = format!("sqlite://{}?mode=rwc", building.display());
        let db = migrate_and_seed(url, start).await;
        // Everything into the main file, and out of WAL mode: the file alone is the database,
        // and a copy of it is whole (the application turns WAL on again when it opens one).
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await
            .expect("checkpoint the template");
        let mode = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA journal_mode=DELETE",
            ))
            .await
            .expect("leave WAL mode")
            .expect("the journal mode")
            .try_get_by_index::<String>(0)
            .expect("the journal mode");
        assert_eq!(mode, "delete", "the template leaves WAL mode");
        db.close().await.expect("close the template");
        let wal = dir.join(format!("{name}.db.building-wal"));
        assert!(!wal.exists(), "{} is left behind", wal.display());
        std::fs::rename(&building, template).expect("put the template in place");
        drop(lock);
    }

    // ---- PostgreSQL: a database on the test server, cloned.

    /// Create the test's database `name`: a clone of the template (an empty one for `Empty`).
    pub async fn postgres(admin: &DatabaseConnection, start: Start, name: &str) {
        let Some(template) = start.template() else {
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create the test database");
            return;
        };
        for attempt in 0.. {
            if built_at(admin, &template)
                .await
                .is_none_or(|(t, _)| !fresh(t))
            {
                make_postgres(admin, start, &template).await;
            }
            match clone(admin, name, &template).await {
                Ok(()) => return,
                // Dropped as stale by another run between our check and the clone.
                Err(e) if e.contains("does not exist") && attempt < 3 => continue,
                Err(e) => panic!("create the test database from {template}: {e}"),
            }
        }
    }

    fn fresh(built_at: u64) -> bool {
        now_secs().saturating_sub(built_at) < MAX_AGE.as_secs()
    }

    fn in_use(e: &DbErr) -> bool {
        e.to_string().contains("is being accessed by other users")
    }

    /// Run a statement that needs nobody connected to a database, waiting a little for a
    /// session that is still closing.
    async fn alone(admin: &DatabaseConnection, sql: &str) -> Result<(), DbErr> {
        let mut tries = 0;
        loop {
            match admin.execute_unprepared(sql).await {
                Err(e) if in_use(&e) && tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                result => return result.map(|_| ()),
            }
        }
    }

    async fn clone(admin: &DatabaseConnection, name: &str, template: &str) -> Result<(), String> {
        alone(
            admin,
            &format!("CREATE DATABASE {name} TEMPLATE {template}"),
        )
        .await
        .map_err(|e| e.to_string())
    }

    /// When a template was made (Unix seconds) and from which source tree, from its comment.
    async fn built_at(admin: &DatabaseConnection, datname: &str) -> Option<(u64, String)> {
        let row = admin
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
                [datname.into()],
            ))
            .await
            .expect("read the templates")?;
        parse_comment(&row.try_get_by_index::<Option<String>>(0).ok()??)
    }

    fn parse_comment(comment: &str) -> Option<(u64, String)> {
        let (secs, source) = comment.strip_prefix("built_at=")?.split_once(" source=")?;
        Some((secs.parse().ok()?, source.to_owned()))
    }

    async fn make_postgres(admin: &DatabaseConnection, start: Start, template: &str) {
        // Session-level: released at the end of this function, or when the connection goes.
        admin
            .execute_unprepared(&format!("SELECT pg_advisory_lock({LOCK})"))
            .await
            .expect("the templates' lock");
        if built_at(admin, template)
            .await
            .is_none_or(|(t, _)| !fresh(t))
        {
            drop_stale_templates(admin).await;
            let building = format!("{PREFIX}building_{}", Uuid::new_v4().simple());
            admin
                .execute_unprepared(&format!("CREATE DATABASE {building}"))
                .await
                .expect("create a template");
            let db = migrate_and_seed(with_database(&postgres_admin_url(), &building), start).await;
            db.close().await.expect("close the template");
            // Nobody connects to a template: a clone fails while anyone is connected.
            let source = env!("CARGO_MANIFEST_DIR").replace('\'', "''");
            for sql in [
                format!("ALTER DATABASE {building} WITH ALLOW_CONNECTIONS false"),
                format!(
                    "COMMENT ON DATABASE {building} IS 'built_at={} source={source}'",
                    now_secs()
                ),
                format!("ALTER DATABASE {building} RENAME TO {template}"),
            ] {
                alone(admin, &sql).await.expect("put the template in place");
            }
        }
        admin
            .execute_unprepared(&format!("SELECT pg_advisory_unlock({LOCK})"))
            .await
            .expect("release the templates' lock");
    }

    /// Drop (under the lock) the templates nobody will use again: unfinished ones, those older
    /// than a day, and those made from this source tree with another key.
    async fn drop_stale_templates(admin: &DatabaseConnection) {
        let rows = admin
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database \
                     WHERE datname LIKE '{}%'",
                    PREFIX.replace('_', "\\_")
                ),
            ))
            .await
            .expect("list the templates");
        let current = format!("{PREFIX}{}_", key().unwrap_or_default());
        for row in rows {
            let datname: String = row.try_get_by_index(0).expect("a database name");
            let comment: Option<String> = row.try_get_by_index(1).unwrap_or_default();
            let keep = comment
                .as_deref()
                .and_then(parse_comment)
                .is_some_and(|(t, source)| {
                    fresh(t)
                        && (source != env!("CARGO_MANIFEST_DIR") || datname.starts_with(&current))
                });
            if !keep {
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {datname} WITH (FORCE)"))
                    .await
                    .expect("drop a stale template");
            }
        }
    }
}

/// A small PDF made here (one empty A4 page, with a correct cross-reference table); `text`, in a
/// comment, makes each one's bytes different.
pub fn pdf(text: &str) -> Vec<u8> {
    let mut out = format!("%PDF-1.4\n% {text}\n").into_bytes();
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ];
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// Upload an annex: the form's `metadata` part (as given) and its `file` part.
pub async fn upload_raw(
    app: &TestApp,
    token: &str,
    application_id: &str,
    metadata: &Value,
    file_name: &str,
    bytes: Vec<u8>,
) -> Response {
    let form = reqwest::multipart::Form::new()
        .part(
            "metadata",
            reqwest::multipart::Part::text(metadata.to_string())
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
        );
    app.client
        .post(app.url(&format!("/api/v1/applications/{application_id}/documents")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("the upload is sent")
}

/// The seconds of an answer's `Retry-After`.
pub fn retry_after(res: &Response) -> Option<u64> {
    res.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Upload an annex of `kind` (about `organization`, when given); answer its description.
pub async fn upload(
    app: &TestApp,
    token: &str,
    application_id: &str,
    kind: &str,
    organization: Option<&str>,
    file_name: &str,
    bytes: Vec<u8>,
) -> Value {
    let metadata = serde_json::json!({"kind": kind, "organization_id": organization});
    let res = upload_raw(app, token, application_id, &metadata, file_name, bytes).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}
