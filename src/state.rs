//! What every handler can reach: the pool, the keys, the settings, the clock and the
//! shared limits.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::api;
use crate::auth::Keys;
use crate::clock::Clock;
use crate::config::Settings;
use crate::resolver::Resolver;

/// What every handler can reach.
pub struct AppState {
    pub db: DatabaseConnection,
    pub keys: Keys,
    pub settings: Settings,
    pub clock: Arc<dyn Clock>,
    /// Resolves the host names of webhook subscriptions.
    pub resolver: Arc<dyn Resolver>,
    pub metrics: api::metrics::Metrics,
    pub limits: api::limits::RateLimits,
    /// Where the annexes' files are kept (`storage.*`): a folder or an S3 bucket.
    pub storage: Arc<dyn crate::storage::Storage>,
    /// Permits to run a submission's transaction (`database.submit_concurrency`).
    pub submissions: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// The current instant, by the service's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}
