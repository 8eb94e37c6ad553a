//! Start the real application on port 0 with a fresh database, and talk HTTP to it.
//!
//! Every database test runs twice: on a SQLite file in a temporary folder and on a fresh
//! PostgreSQL database (created on the server named by `TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`, and dropped at the end). Without a reachable
//! PostgreSQL the PostgreSQL half is skipped, unless `WG_REQUIRE_POSTGRES=1`.

use reqwest::{Method, Response, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use secrecy::SecretString;
use serde_json::Value;
use uuid::Uuid;
use welfare_grants::config::{ExternalIdpSettings, ExternalKey, Settings};
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
    pub client: reqwest::Client,

    pub settings: Settings,
    _dir: Option<tempfile::TempDir>,
    postgres_db: Option<String>,
}

fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn with_database(url: &str, db: &str) -> String {
    let (base, _) = url
        .rsplit_once('/')
        .expect("a database URL ends with /<name>");
    format!("{base}/{db}")
}

/// Connect to the server's maintenance database, failing fast when nothing listens there
/// (a pool would retry until its acquire timeout).
async fn connect_admin(url: &str) -> Result<sea_orm::DatabaseConnection, String> {
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
    let mut dir = None;
    let mut postgres_db = None;
    match backend {
        Backend::Sqlite => {
            let d = tempfile::tempdir().expect("a temporary folder");
            let url = format!("sqlite://{}?mode=rwc", d.path().join("test.db").display());
            settings.database.url = SecretString::from(url);
            dir = Some(d);
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
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create the test database");
            admin.close().await.ok();
            settings.database.url = SecretString::from(with_database(&admin_url, &name));
            postgres_db = Some(name);
        }
    }
    customise(&mut settings);
    // TEST_LOG=1 shows the service's logs (with the cause of any 500).
    if std::env::var("TEST_LOG").is_ok() {
        settings.log.format = welfare_grants::config::LogFormat::Pretty;
        welfare_grants::telemetry::init(&settings.log);
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
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),

        settings,
        _dir: dir,
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

impl TestApp {
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
