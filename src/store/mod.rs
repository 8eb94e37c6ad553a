//! Persistence: connections, transactions and one module of queries per aggregate.
//!
//! The same code runs on SQLite (the embedded default) and PostgreSQL (production). Money is
//! never summed in SQL: it is read as `NUMERIC(14,2)` and added as `Money` in Rust.

pub mod applications;
pub mod audit;
pub mod calls;
pub mod deadlines;
pub mod grants;
pub mod idempotency;
pub mod notifications;
pub mod organizations;
pub mod partnerships;
pub mod payments;
pub mod rankings;
pub mod recoveries;
pub mod reports;
pub mod review;
pub mod rows;
pub mod scopes;
pub mod sessions;
pub mod stats;
pub mod users;
pub mod variations;
pub mod webhooks;

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, TransactionOptions, TransactionTrait,
};
use secrecy::ExposeSecret;

use crate::config::DatabaseSettings;

/// Open the pool. For SQLite: create the file's folder, WAL, a busy timeout, foreign keys.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    let url = settings.url.expose_secret().to_owned();
    if let Some(path) = sqlite_file(&url)
        && let Some(dir) = std::path::Path::new(&path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections.min(settings.max_connections))
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .connect_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        // Ping a pooled connection before handing it out, within the acquire timeout: one
        // that died or hangs since an outage is replaced (or the request answers 503 in
        // time) instead of failing or hanging the request, and the pool recovers by itself
        // when the database returns (tests/api/outage.rs).
        .test_before_acquire(true)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
        });
    Database::connect(options).await
}

/// The file behind a `sqlite:` URL, unless it is an in-memory database.
fn sqlite_file(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

/// Begin a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), so that two writers queue on the busy timeout instead of failing
/// when they upgrade a read lock.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            db.begin_with_options(TransactionOptions {
                isolation_level: None,
                access_mode: None,
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            })
            .await
        }
        _ => db.begin().await,
    }
}

/// Whether an error means the database is unreachable or saturated (answer 503), rather
/// than a bug (answer 500). A connection lost in the middle of a statement (the server or
/// the network went away, even during `COMMIT`) is an I/O error of the driver: unavailable,
/// and its transaction is rolled back by the server.
pub fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(e) | DbErr::Query(e) => {
            if let sea_orm::RuntimeErr::SqlxError(e) = e {
                use sea_orm::sqlx::Error;
                match e.as_ref() {
                    Error::Io(_)
                    | Error::Tls(_)
                    | Error::PoolTimedOut
                    | Error::PoolClosed
                    | Error::WorkerCrashed => return true,
                    // PostgreSQL: connection exceptions (class 08), the server shutting down
                    // or starting up (57P01-57P03), too many connections (53300).
                    Error::Database(db) => {
                        if let Some(code) = db.code()
                            && code.len() == 5
                            && (code.starts_with("08")
                                || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300"))
                        {
                            return true;
                        }
                    }
                    _ => {}
                }
            }
            let text = e.to_string().to_ascii_lowercase();
            text.contains("pool timed out")
                || text.contains("connection refused")
                || text.contains("broken pipe")
                || text.contains("connection reset")
                || text.contains("database is locked")
                || text.contains("io error")
        }
        _ => false,
    }
}

/// Whether an error is a unique-constraint violation (answer 409).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Check that the database answers.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// Apply every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    use migration::MigratorTrait;
    migration::Migrator::up(db, None).await
}

/// A page of a list: 1-based page number and its size (at most 100).
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub page: u64,
    pub per_page: u64,
}

impl Page {
    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.per_page
    }
}
