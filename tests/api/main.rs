//! Black-box HTTP tests: each starts the real application on port 0 with a fresh database,
//! on SQLite and on PostgreSQL.

mod helpers;

mod auth;
mod calls;
mod errors;
mod openapi;
mod status;
mod users;
