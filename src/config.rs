//! Typed settings: built-in defaults < an optional TOML file < `APP_*` environment variables.
//!
//! The file is `welfare-grants.toml` in the working directory when it exists, or the path in
//! `APP_CONFIG_FILE`. Environment variables use `__` between levels, e.g.
//! `APP_SERVER__PORT=9000` or `APP_DATABASE__URL=postgres://...`. Secrets are wrapped in
//! [`SecretString`] so that they never reach a log line or a `Debug` print.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Every setting of the service. The README lists them with their defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub demo: DemoSettings,
    pub cors: CorsSettings,
    pub log: LogSettings,
    pub webhooks: WebhookSettings,
    pub metrics: MetricsSettings,
    pub rate_limit: RateLimitSettings,
    pub storage: StorageSettings,
    pub open_data: OpenDataSettings,
}

/// How the public results are published as open data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenDataSettings {
    /// The publisher's 360Giving prefix, without `360G-`: what names the grants, the Region,
    /// the agencies and the recipients without a publishable tax code in the 360Giving
    /// results (see `domain::giving`). 360Giving assigns it to a publisher.
    pub giving_prefix: String,
}

/// Where the files of the service (annexes) are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    /// Where the files are kept: `filesystem` (under `path`) or `s3` (in the bucket of
    /// `storage.s3`, shared by every replica).
    pub backend: StorageBackend,
    /// The folder of the filesystem backend, created when missing (by default inside the
    /// data folder, beside the SQLite default). With `s3`, only its `tmp/` is used: an upload
    /// is written there while its SHA-256 is computed, then sent to the bucket.
    pub path: String,
    /// The bucket of the `s3` backend.
    pub s3: S3Settings,
    /// How often the sweeper looks for files that nothing refers to.
    pub sweep_interval_secs: u64,
    /// How old such a file must be before the sweeper removes it: an upload writes its file
    /// before the row that refers to it, and a crash between the two leaves a file that
    /// nothing refers to.
    pub orphan_age_secs: u64,
    /// Whether an annex may still be registered as "a file kept elsewhere" (a JSON body with
    /// its name, size and SHA-256, and no bytes). Off: annexes are uploaded.
    pub external_files: bool,
}

/// The storage backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// Files under `storage.path`: one machine, or a folder every replica mounts.
    Filesystem,
    /// Objects in an S3-compatible bucket (`storage.s3`).
    S3,
}

/// An S3-compatible bucket. The access key needs `s3:PutObject`, `s3:GetObject`,
/// `s3:DeleteObject`, `s3:ListBucket` and `s3:AbortMultipartUpload` on it (see the README).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// The service's URL, e.g. `https://s3.eu-south-1.amazonaws.com` or
    /// `http://minio:9000`; empty: AWS, from `region`. Buckets are addressed by path.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    /// Empty (with an empty secret): the credentials of the machine (instance metadata).
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// The longest one request to the bucket may take (a part of a large file is 5 MiB);
    /// past it, or when the bucket cannot be reached, an upload or a download answers 503.
    pub request_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on.
    pub host: String,
    /// Port to listen on; 0 picks a free one (used by the tests).
    pub port: u16,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Number of HTTP workers; 0 means one per core.
    pub workers: usize,
    /// Seconds granted to in-flight requests on shutdown.
    pub shutdown_timeout_secs: u64,
    /// The longest a request may take; past it the answer is 503 with `Retry-After` and its
    /// work is abandoned (an open transaction is rolled back). 0: no deadline.
    pub request_timeout_secs: u64,
    /// The deadline of a file upload (a `multipart/form-data` request), which streams its
    /// file while it runs: 20 MiB over a slow line takes minutes. 0: no deadline.
    pub upload_timeout_secs: u64,
    /// `Strict-Transport-Security: max-age=` on every answer, telling browsers to use HTTPS
    /// only for that many seconds. 0 (the default): not sent. Turn it on only when the service
    /// is reached over TLS (behind a TLS-terminating proxy), e.g. 31536000 for a year.
    pub hsts_max_age_secs: u64,
    /// `Cache-Control: public, max-age=` of the public reads (calls, agencies, envelopes,
    /// results) asked without `Authorization`: how long a browser or a shared cache may
    /// answer them without asking again. 0: every use revalidates (`If-None-Match`).
    pub public_max_age_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://data/welfare-grants.db?mode=rwc` or `postgres://user:pass@host:5432/db`.
    pub url: SecretString,
    pub max_connections: u32,
    pub min_connections: u32,
    /// How long a request waits for a free connection before the service answers 503.
    pub acquire_timeout_ms: u64,
    /// Run pending migrations when the service starts.
    pub migrate_on_start: bool,
    /// Submissions that run their transaction at once. They all wait for the call's protocol
    /// counter in turn; the others queue in order in the service, without holding a
    /// connection or running into `acquire_timeout_ms`, so that a deadline-day burst leaves
    /// the pool to everything else. At most `max_connections`.
    pub submit_concurrency: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// `iss` of the tokens this service issues and expects.
    pub issuer: String,
    /// `aud` of the tokens this service issues and expects.
    pub audience: String,
    /// HMAC secret (HS256) of the tokens this service issues; at least 32 bytes.
    pub secret: SecretString,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    /// Leeway, in seconds, for `exp` and `nbf`.
    pub leeway_secs: u64,
    pub password_hash: PasswordHashSettings,
    /// Waits imposed on an account after wrong passwords (kept in the database, so every
    /// replica shares them).
    pub lockout: LockoutSettings,
    /// An external identity provider whose tokens are accepted as well.
    pub external: Option<ExternalIdpSettings>,
}

/// Argon2id cost parameters for new hashes (stored hashes carry their own).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordHashSettings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// After `max_failures` wrong passwords in a row an account (or an unknown user name) waits
/// `first_wait_secs` before the next try; each further wrong password doubles the wait, up to
/// `max_wait_secs`. A success forgets them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutSettings {
    pub max_failures: u32,
    pub first_wait_secs: u32,
    pub max_wait_secs: u32,
}

impl LockoutSettings {
    pub fn policy(&self) -> crate::domain::login::LockoutPolicy {
        crate::domain::login::LockoutPolicy {
            max_failures: self.max_failures,
            first_wait: chrono::Duration::seconds(i64::from(self.first_wait_secs)),
            max_wait: chrono::Duration::seconds(i64::from(self.max_wait_secs)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalIdpSettings {
    pub issuer: String,
    pub audience: String,
    /// Public keys, chosen by the token's `kid`.
    pub keys: Vec<ExternalKey>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalKey {
    pub kid: String,
    /// `RS256` or `EdDSA`.
    pub algorithm: String,
    /// The public key in PEM.
    pub public_key_pem: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSettings {
    /// Seed the 2022 call, the open demo edition and the demo accounts (idempotent).
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsSettings {
    /// Origins allowed to call the API from a browser; empty allows none.
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `welfare_grants=debug,info`.
    pub level: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Run the delivery worker in this process (every replica may: claims are leased).
    pub worker_enabled: bool,
    /// How often the worker looks for due deliveries.
    pub poll_interval_ms: u64,
    /// How long a subscriber has to answer one attempt.
    pub request_timeout_ms: u64,
    /// Attempts before a delivery is given up (`failed`).
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each one.
    pub retry_base_ms: u64,
    /// The longest wait between two attempts.
    pub retry_max_ms: u64,
    /// Accept `http://` subscription URLs (local receivers, tests); otherwise only `https://`.
    pub allow_http: bool,
    /// Call hosts on loopback, private, link-local and other non-public addresses (local
    /// receivers, tests). Off, such addresses are refused at subscription and at every
    /// delivery, after the host name is resolved.
    pub allow_private_networks: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Serve `GET /metrics`.
    pub enabled: bool,
    /// When set, `/metrics` asks for `Authorization: Bearer <token>`.
    pub bearer_token: Option<SecretString>,
    /// When set (e.g. `127.0.0.1:9090`), `/metrics` is served on this address by a listener
    /// of its own, and no longer on the API's port. Empty or absent: on the API's port.
    pub listen: Option<String>,
}

impl MetricsSettings {
    /// The address of the metrics' own listener, when there is one.
    pub fn listen_address(&self) -> Option<&str> {
        self.listen
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
    }

    /// Whether anybody who reaches the API's port can read the metrics.
    fn public(&self) -> bool {
        let token = self
            .bearer_token
            .as_ref()
            .is_some_and(|t| !t.expose_secret().is_empty());
        self.enabled && !token && self.listen_address().is_none()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Limit login, token and registration requests per client address (per replica).
    pub enabled: bool,
    /// Login and token requests (`/auth/login`, `/auth/token`, `/auth/refresh`) per minute
    /// and client address; bursts up to the same number.
    pub auth_per_minute: u32,
    /// Self-registrations per hour and client address.
    pub register_per_hour: u32,
    /// Behind a load balancer: the header that carries the client address
    /// (e.g. `x-forwarded-for`; its last entry is the one the balancer appended). Empty: the
    /// address of the TCP peer. Set it only when a proxy you trust sets the header.
    pub trusted_proxy_header: String,
}

/// The demo secret shipped in the defaults. The service refuses it when the demo data is off.
pub const DEMO_JWT_SECRET: &str = "demo-only-secret-change-me-in-production-0123456789";

const DEFAULTS: &str = r#"
[server]
host = "127.0.0.1"
port = 8080
body_limit_bytes = 262144
workers = 0
shutdown_timeout_secs = 10
request_timeout_secs = 30
upload_timeout_secs = 600
hsts_max_age_secs = 0
public_max_age_secs = 60

[database]
url = "sqlite://data/welfare-grants.db?mode=rwc"
max_connections = 10
min_connections = 1
acquire_timeout_ms = 3000
migrate_on_start = true
submit_concurrency = 4

[auth]
issuer = "welfare-grants"
audience = "welfare-grants-api"
secret = "demo-only-secret-change-me-in-production-0123456789"
access_token_ttl_secs = 900
refresh_token_ttl_secs = 604800
leeway_secs = 5

[auth.password_hash]
memory_kib = 19456
iterations = 2
parallelism = 1

[auth.lockout]
max_failures = 5
first_wait_secs = 60
max_wait_secs = 900

[demo]
enabled = true

[cors]
allowed_origins = []

[log]
format = "json"
level = "info"

[webhooks]
worker_enabled = true
poll_interval_ms = 1000
request_timeout_ms = 5000
max_attempts = 10
retry_base_ms = 10000
retry_max_ms = 3600000
allow_http = false
allow_private_networks = false

[metrics]
enabled = true

[storage]
backend = "filesystem"
path = "data/files"
sweep_interval_secs = 3600
orphan_age_secs = 86400
external_files = false

[storage.s3]
endpoint = ""
bucket = ""
region = "us-east-1"
access_key_id = ""
secret_access_key = ""
request_timeout_secs = 30

[rate_limit]
enabled = true
auth_per_minute = 30
register_per_hour = 20
trusted_proxy_header = ""

[open_data]
giving_prefix = "regione-lombardia"
"#;

/// The `APP_*` variables, less `APP_CONFIG_FILE` (which names the file, it is no setting).
fn app_environment() -> config::Map<String, String> {
    std::env::vars()
        .filter(|(key, _)| key.starts_with("APP_") && key != "APP_CONFIG_FILE")
        .collect()
}

impl Settings {
    /// Load the settings from the defaults, the optional file and the environment.
    pub fn load() -> Result<Settings, config::ConfigError> {
        let file =
            std::env::var("APP_CONFIG_FILE").unwrap_or_else(|_| "welfare-grants.toml".into());
        let required = std::env::var("APP_CONFIG_FILE").is_ok();
        let settings: Settings = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .add_source(
                config::File::with_name(&file)
                    .format(config::FileFormat::Toml)
                    .required(required),
            )
            .add_source(
                config::Environment::with_prefix("APP")
                    .prefix_separator("_")
                    .separator("__")
                    .list_separator(",")
                    .with_list_parse_key("cors.allowed_origins")
                    .try_parsing(true)
                    .source(Some(app_environment())),
            )
            .build()?
            .try_deserialize()?;
        settings.check()?;
        Ok(settings)
    }

    /// The built-in defaults alone (what the tests start from).
    pub fn defaults() -> Settings {
        let settings: Settings = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .expect("the built-in defaults are valid");
        settings
    }

    /// Rules that the types alone cannot hold.
    pub fn check(&self) -> Result<(), config::ConfigError> {
        let secret = self.auth.secret.expose_secret();
        if secret.len() < 32 {
            return Err(config::ConfigError::Message(
                "auth.secret must be at least 32 bytes".into(),
            ));
        }
        if !self.demo.enabled && secret == DEMO_JWT_SECRET {
            return Err(config::ConfigError::Message(
                "auth.secret still has the demo value: set APP_AUTH__SECRET".into(),
            ));
        }
        if !self.demo.enabled && self.metrics.public() {
            return Err(config::ConfigError::Message(
                "/metrics would be public: set metrics.bearer_token (APP_METRICS__BEARER_TOKEN) \
                 or metrics.listen (APP_METRICS__LISTEN, e.g. 127.0.0.1:9090), \
                 or metrics.enabled = false"
                    .into(),
            ));
        }
        if self.auth.access_token_ttl_secs <= 0 || self.auth.refresh_token_ttl_secs <= 0 {
            return Err(config::ConfigError::Message(
                "token lifetimes must be positive".into(),
            ));
        }
        let lockout = &self.auth.lockout;
        if lockout.max_failures == 0
            || lockout.first_wait_secs == 0
            || lockout.max_wait_secs < lockout.first_wait_secs
        {
            return Err(config::ConfigError::Message(
                "auth.lockout: max_failures and first_wait_secs must be at least 1, and max_wait_secs at least first_wait_secs".into(),
            ));
        }
        if self.rate_limit.enabled
            && (self.rate_limit.auth_per_minute == 0 || self.rate_limit.register_per_hour == 0)
        {
            return Err(config::ConfigError::Message(
                "rate limits must be at least 1 (set rate_limit.enabled = false to turn them off)"
                    .into(),
            ));
        }
        if self.webhooks.max_attempts == 0 || self.webhooks.poll_interval_ms == 0 {
            return Err(config::ConfigError::Message(
                "webhooks.max_attempts and webhooks.poll_interval_ms must be at least 1".into(),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(config::ConfigError::Message(
                "database.max_connections must be at least 1".into(),
            ));
        }
        if !(1..=self.database.max_connections).contains(&self.database.submit_concurrency) {
            return Err(config::ConfigError::Message(
                "database.submit_concurrency must be from 1 to database.max_connections".into(),
            ));
        }
        if self.storage.backend == StorageBackend::S3 {
            let s3 = &self.storage.s3;
            if s3.bucket.trim().is_empty() {
                return Err(config::ConfigError::Message(
                    "storage.backend = \"s3\" needs storage.s3.bucket (APP_STORAGE__S3__BUCKET)"
                        .into(),
                ));
            }
            if s3.access_key_id.is_empty() != s3.secret_access_key.expose_secret().is_empty() {
                return Err(config::ConfigError::Message(
                    "storage.s3.access_key_id and storage.s3.secret_access_key go together: set both, or neither to use the machine's credentials".into(),
                ));
            }
            if s3.request_timeout_secs == 0 {
                return Err(config::ConfigError::Message(
                    "storage.s3.request_timeout_secs must be at least 1".into(),
                ));
            }
        }
        crate::domain::giving::check_prefix(&self.open_data.giving_prefix)
            .map_err(config::ConfigError::Message)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults with the demo off and a secret of its own, as in production.
    fn production() -> Settings {
        let mut s = Settings::defaults();
        s.demo.enabled = false;
        s.auth.secret = SecretString::from("a-production-secret-that-is-not-the-demo-one");
        s
    }

    #[test]
    fn with_the_demo_off_the_metrics_are_never_public() {
        let refused = production().check().unwrap_err().to_string();
        assert!(
            refused.contains("metrics.bearer_token") && refused.contains("metrics.listen"),
            "{refused}"
        );
        let mut empty = production();
        empty.metrics.bearer_token = Some(SecretString::from(""));
        empty.metrics.listen = Some(" ".into());
        assert!(empty.check().is_err(), "empty values are no protection");

        let mut token = production();
        token.metrics.bearer_token = Some(SecretString::from("scrape-me-0123456789"));
        assert!(token.check().is_ok());
        let mut listener = production();
        listener.metrics.listen = Some("127.0.0.1:9090".into());
        assert!(listener.check().is_ok());
        let mut off = production();
        off.metrics.enabled = false;
        assert!(off.check().is_ok());
        // The demo (a laptop, the tests) keeps them open.
        assert!(Settings::defaults().check().is_ok());
    }

    #[test]
    fn the_s3_backend_needs_a_bucket_and_never_prints_its_secret() {
        let mut s3 = Settings::defaults();
        s3.storage.backend = StorageBackend::S3;
        let refused = s3.check().unwrap_err().to_string();
        assert!(refused.contains("storage.s3.bucket"), "{refused}");
        s3.storage.s3.bucket = "welfare-grants-files".into();
        assert!(s3.check().is_ok(), "the machine's credentials");
        s3.storage.s3.access_key_id = "AKIAEXAMPLE".into();
        let refused = s3.check().unwrap_err().to_string();
        assert!(refused.contains("secret_access_key"), "{refused}");
        s3.storage.s3.secret_access_key = SecretString::from("s3-secret-never-printed");
        assert!(s3.check().is_ok());
        assert!(!format!("{s3:?}").contains("s3-secret-never-printed"));
    }

    #[test]
    fn the_360giving_prefix_is_checked_at_start_up() {
        let mut own = Settings::defaults();
        own.open_data.giving_prefix = "rl-welfare".into();
        assert!(own.check().is_ok());
        for wrong in ["360G-rl-welfare", "rl welfare", ""] {
            let mut s = Settings::defaults();
            s.open_data.giving_prefix = wrong.into();
            let refused = s.check().unwrap_err().to_string();
            assert!(
                refused.contains("open_data.giving_prefix"),
                "{wrong:?}: {refused}"
            );
        }
    }
}
