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
pub mod submission;
pub mod users;
pub mod variations;
pub mod webhooks;
pub mod writes;

use std::future::Future;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
        // No ping before every acquire: it would cost a round trip to each request. A pooled
        // connection is pinged (within the acquire timeout) only when it may have died since
        // it was last used: idle for long, or idle since before a connection was found
        // broken. A request's first statement that still meets a broken one runs again on
        // another (`first`). So the pool recovers by itself when the database returns, and
        // answers 503 in time while it is away (tests/api/outage.rs).
        .test_before_acquire(false)
        .map_sqlx_postgres_before_acquire(|conn, meta| {
            Box::pin(async move {
                if may_be_broken(meta.idle_for) {
                    use sea_orm::sqlx::Connection;
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
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

/// A pooled connection idle for this long is pinged before it is handed out: servers, proxies
/// and firewalls drop connections that stay quiet.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(30);

/// When a connection was last found broken or silent, as nanoseconds since `EPOCH` (0: never).
/// Process-wide: a failure seen by one pool only makes another ping its idle connections once.
static FOUND_BROKEN_AT: AtomicU64 = AtomicU64::new(0);
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn since_epoch(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(*EPOCH).as_nanos())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Note that the database was found unreachable or a connection broken: every connection that
/// went idle before now is pinged before its next use.
pub fn suspect_idle_connections() {
    FOUND_BROKEN_AT.fetch_max(since_epoch(Instant::now()), Ordering::Relaxed);
}

/// Whether a pooled connection idle for `idle_for` is to be pinged before use.
fn may_be_broken(idle_for: Duration) -> bool {
    if idle_for >= PING_WHEN_IDLE_FOR {
        return true;
    }
    let broken_at = FOUND_BROKEN_AT.load(Ordering::Relaxed);
    broken_at != 0
        && Instant::now()
            .checked_sub(idle_for)
            .is_none_or(|idle_since| since_epoch(idle_since) <= broken_at)
}

/// Whether an error means the pooled connection a statement ran on was broken (closed by the
/// server or the network) rather than anything about the statement. Only a statement's error
/// counts (`Exec`, `Query`, a `BEGIN` included): a new connection that cannot be opened is a
/// `Conn` error, and trying again at once would only hammer the server.
fn is_broken_connection(err: &DbErr) -> bool {
    let (DbErr::Exec(e) | DbErr::Query(e)) = err else {
        return false;
    };
    let sea_orm::RuntimeErr::SqlxError(e) = e else {
        return false;
    };
    use sea_orm::sqlx::Error;
    match e.as_ref() {
        Error::Io(_) => true,
        // The server ended the session before the statement ran: a connection exception
        // (class 08, a pooler's idle timeout among them), an administrator's shutdown, or
        // the server's idle_session_timeout.
        Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c == "57P01" || c == "57P05"),
        _ => false,
    }
}

/// How many times a request's first statement is tried: after a broken connection the pool
/// pings the connections that went idle before it, so a second try gets a sound one.
const FIRST_STATEMENT_TRIES: usize = 3;

/// Run the first statement of a request, one that changes nothing (the caller's check, a
/// `BEGIN`). On PostgreSQL: again on another connection while the one it got turns out broken
/// (pooled connections are not pinged before every use), up to three times; and within the
/// acquire timeout plus at most one second for the statement itself, so that a connection that
/// stopped answering fails the request in time as one that cannot be had. A statement after
/// the first is never run again: it may have changed something before its connection broke.
/// On SQLite (a file in this process) it just runs.
pub async fn first<T, F, Fut>(db: &DatabaseConnection, run: F) -> Result<T, DbErr>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, DbErr>>,
{
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return run().await;
    }
    let pool = db.get_postgres_connection_pool();
    // A statement that hangs on a connection taken from the idle ones points at a connection
    // that died silently; one that waited for a busy pool does not.
    let had_idle = pool.num_idle() > 0;
    let acquire = pool.options().get_acquire_timeout();
    let budget = acquire + acquire.min(Duration::from_secs(1));
    let attempts = async {
        let mut tries = 1;
        loop {
            match run().await {
                Err(e) if is_broken_connection(&e) && tries < FIRST_STATEMENT_TRIES => {
                    tracing::info!(error = %e, "a pooled connection was broken: once more on another");
                    suspect_idle_connections();
                    tries += 1;
                }
                Err(e) => {
                    if is_broken_connection(&e) {
                        suspect_idle_connections();
                    }
                    return Err(e);
                }
                done => return done,
            }
        }
    };
    match tokio::time::timeout(budget, attempts).await {
        Ok(done) => done,
        Err(_) => {
            if had_idle {
                suspect_idle_connections();
            }
            Err(DbErr::ConnectionAcquire(
                sea_orm::error::ConnAcquireErr::Timeout,
            ))
        }
    }
}

/// A connection a request's first statement runs on: the pool, which may hand out a
/// connection that broke while idle (so the statement is tried again, see [`first`]), or a
/// transaction, whose `BEGIN` was the request's first statement (so it just runs).
pub trait FirstStatement: ConnectionTrait {
    #[allow(
        async_fn_in_trait,
        reason = "used within this crate, on one thread per request"
    )]
    async fn first<T, F, Fut>(&self, run: F) -> Result<T, DbErr>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, DbErr>>;
}

impl FirstStatement for DatabaseConnection {
    async fn first<T, F, Fut>(&self, run: F) -> Result<T, DbErr>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, DbErr>>,
    {
        first(self, run).await
    }
}

impl FirstStatement for DatabaseTransaction {
    async fn first<T, F, Fut>(&self, run: F) -> Result<T, DbErr>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, DbErr>>,
    {
        run().await
    }
}

/// Begin a transaction that only reads, so that a request reading in several statements
/// holds one pool connection, not one per statement (each of which sqlx checks on its
/// return). Its `BEGIN` is the request's first statement ([`first`]). It ends by
/// [`DatabaseTransaction::commit`]; dropped on an error, it is rolled back.
pub async fn begin_read(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    first(db, || db.begin()).await
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
        _ => first(db, || db.begin()).await,
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
                    // or starting up (57P01-57P03), a session ended for idling (57P05), too many
                    // connections (53300).
                    Error::Database(db) => {
                        if let Some(code) = db.code()
                            && code.len() == 5
                            && (code.starts_with("08")
                                || matches!(
                                    code.as_ref(),
                                    "57P01" | "57P02" | "57P03" | "57P05" | "53300"
                                ))
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
    first(db, || db.execute_unprepared("SELECT 1"))
        .await
        .map(|_| ())
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
