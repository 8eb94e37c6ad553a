//! Black-box HTTP tests: each starts the real application on port 0 with a fresh database,
//! on SQLite and on PostgreSQL.

mod cades;
mod helpers;
mod registry;

mod applications;
mod audit;
mod auth;
mod authz;
mod caching;
mod calls;
mod concurrency;
mod consent;
mod deadlines;
mod demo;
mod errors;
mod exports;
mod files;
mod layout;
mod limits;
mod metrics;
mod openapi;
mod opendata;
mod organizations;
mod outage;
mod partnerships;
mod payments;
mod pool;
mod protocol;
mod rankings;
mod reports;
mod review;
mod signatures;
mod status;
mod storage_outage;
mod users;
mod variations;
mod webhooks;
