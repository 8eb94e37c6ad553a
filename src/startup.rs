//! Build the application from its settings, bind it, and run it until it is stopped.

use std::net::TcpListener;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::{Server, Service};
use actix_web::http::header::{self, HeaderName};
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, web};
use anyhow::Context;
use tracing_actix_web::{RequestId, TracingLogger};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::api;
use crate::auth::Keys;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::error::{Lang, REQUEST_CONTEXT, RequestContext};
use crate::resolver::{Resolver, SystemResolver};
use crate::state::AppState;
use crate::{seed, store};

/// A bound, ready-to-run application.
pub struct Application {
    port: u16,
    server: Server,
    /// The metrics' own listener (`metrics.listen`): its port and its server.
    metrics: Option<(u16, Server)>,
}

impl Application {
    /// Connect, migrate, seed (when the demo data is on; off, disable its accounts), bind.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Application::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// The same, with another clock (tests).
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Application> {
        Application::build_with(settings, clock, Arc::new(SystemResolver)).await
    }

    /// The same, with another clock and another name resolver (tests).
    pub async fn build_with(
        settings: Settings,
        clock: Arc<dyn Clock>,
        resolver: Arc<dyn Resolver>,
    ) -> anyhow::Result<Application> {
        let db = store::connect(&settings.database).await?;
        if settings.database.migrate_on_start {
            store::migrate(&db).await?;
        }
        // Seed the demo when it is on; when it is off, disable its accounts.
        seed::apply(&db, settings.demo.enabled, clock.now()).await?;
        let (host, port) = (settings.server.host.as_str(), settings.server.port);
        let listener = TcpListener::bind((host, port)).with_context(|| {
            format!("cannot listen on {host}:{port} (server.host, server.port): is another process using it?")
        })?;
        let port = listener.local_addr()?.port();
        let metrics_listener = match settings.metrics.listen_address() {
            Some(address) if settings.metrics.enabled => Some(
                TcpListener::bind(address)
                    .with_context(|| format!("cannot listen for metrics on {address}"))?,
            ),
            _ => None,
        };
        let limits = api::limits::RateLimits::new(&settings.rate_limit)?;
        let storage = crate::storage::from_settings(&settings.storage)
            .context("cannot set up the file storage (storage.*)")?;
        let state = web::Data::new(AppState {
            storage,
            keys: Keys::new(&settings.auth)?,
            submissions: Arc::new(tokio::sync::Semaphore::new(
                settings.database.submit_concurrency as usize,
            )),
            db,
            settings,
            clock,
            resolver,
            metrics: api::metrics::Metrics::new(),
            limits,
        });
        spawn_expiry(state.clone());
        spawn_sweeper(state.clone());
        if state.settings.webhooks.worker_enabled {
            crate::outbox::spawn(
                state.db.clone(),
                state.settings.webhooks.clone(),
                state.clock.clone(),
                state.resolver.clone(),
            );
        }
        let metrics = match metrics_listener {
            Some(l) => Some((
                l.local_addr()?.port(),
                api::metrics::server(l, state.clone())?,
            )),
            None => None,
        };
        let server = run(listener, state)?;
        Ok(Application {
            port,
            server,
            metrics,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics' own listener, when `metrics.listen` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// Serve until SIGINT/SIGTERM, then let in-flight requests finish; the metrics' listener
    /// stops with the API.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Some((_, metrics)) = self.metrics else {
            return self.server.await;
        };
        let handle = metrics.handle();
        let metrics = tokio::spawn(metrics);
        let served = self.server.await;
        handle.stop(true).await;
        let _ = metrics.await;
        served
    }
}

/// The periodic task that removes the kept files nothing refers to (`storage.*`). Every
/// replica may run it: removing a file twice is no error.
fn spawn_sweeper(state: web::Data<AppState>) {
    let every = std::time::Duration::from_secs(state.settings.storage.sweep_interval_secs.max(1));
    let age = std::time::Duration::from_secs(state.settings.storage.orphan_age_secs);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            ticks.tick().await;
            match crate::service::files::sweep(&state.db, &*state.storage, age).await {
                Ok(s) if s == Default::default() => {}
                Ok(s) => tracing::info!(
                    files = s.files,
                    temporaries = s.temporaries,
                    "removed files that nothing refers to"
                ),
                Err(e) => tracing::warn!(error = %e, "cannot sweep the kept files"),
            }
        }
    });
}

/// The periodic task that lapses unanswered offers past their deadline (they are also
/// detected lazily whenever grants are read or answered), sends the projects' deadline
/// reminders and missed-deadline notices (each once, whatever the replicas) and forgets
/// idempotency keys older than a day.
fn spawn_expiry(state: web::Data<AppState>) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(60);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
        loop {
            ticks.tick().await;
            match crate::service::grants::expire_due(
                &state.db,
                &crate::domain::event::Actor::system(),
                state.now(),
            )
            .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "offers lapsed past their deadline"),
                Err(e) => tracing::warn!(error = %e, "cannot lapse expired offers"),
            }
            match crate::service::deadlines::notify_due(
                &state.db,
                &crate::domain::event::Actor::system(),
                state.now(),
            )
            .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(sent = n, "deadline reminders and missed-deadline notices"),
                Err(e) => tracing::warn!(error = %e, "cannot send the deadline notices"),
            }
            // Sessions and tokens live in real time (see `auth::start_session`).
            match crate::store::sessions::purge(&state.db, chrono::Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    purged = n,
                    "sessions and wrong-password counts past their time"
                ),
                Err(e) => tracing::warn!(error = %e, "cannot purge sessions"),
            }
            match crate::store::idempotency::purge(&state.db, state.now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "idempotency keys past their retention"),
                Err(e) => tracing::warn!(error = %e, "cannot purge idempotency keys"),
            }
            release_free_memory();
        }
    });
}

/// A route that answers a JSON document serialised once, shared by every request.
fn json_document(body: web::Bytes) -> actix_web::Route {
    web::get().to(move || {
        let body = body.clone();
        async move {
            HttpResponse::Ok()
                .content_type("application/json")
                .body(body)
        }
    })
}

/// Give the allocator's free pages back to the system. After a burst (a thousand
/// simultaneous submissions hold about 66 KiB each), glibc keeps the freed memory in its
/// heaps; trimming once a minute brings the resident memory back down.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_memory() {
    // SAFETY: malloc_trim only returns unused pages of the allocator's heaps to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() {}

/// The OpenAPI document of the service (the contract), as served at `/api-docs/openapi.json`;
/// Swagger UI reads `openapi::for_swagger_ui` of it, at `/api-docs/swagger-ui.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(crate::openapi::base())
        .configure(api::configure)
        .split_for_parts();
    crate::openapi::finish(api)
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::RANGE,
            header::IF_RANGE,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            // A download's name and range.
            header::CONTENT_DISPOSITION,
            header::CONTENT_RANGE,
            header::ACCEPT_RANGES,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-reset"),
        ])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

fn run(listener: TcpListener, state: web::Data<AppState>) -> anyhow::Result<Server> {
    let settings = state.settings.clone();
    let body_limit = settings.server.body_limit_bytes;
    let shutdown_timeout = settings.server.shutdown_timeout_secs;
    let workers = settings.server.workers;
    // With a listener of their own (`metrics.listen`), the metrics are not on the API's port.
    let metrics_here = settings.metrics.listen_address().is_none();
    api::methods::prepare();
    // The contract and Swagger UI's variant of it, serialised once and shared by the workers:
    // a worker that kept its own OpenAPI document (about 0.9 MB as JSON) held some 25 MiB of
    // small allocations for the life of the process.
    let contract = openapi_document();
    let contract_json = web::Bytes::from(serde_json::to_vec(&contract)?);
    let swagger_json = web::Bytes::from(serde_json::to_vec(&crate::openapi::for_swagger_ui(
        &contract,
    ))?);
    drop(contract);
    let mut server = HttpServer::new(move || {
        // Registering the routes describes them too; that description is dropped here.
        let (app, _) = App::new()
            .into_utoipa_app()
            .openapi(crate::openapi::base())
            .app_data(state.clone())
            .app_data(web::Data::new(api::extract::BodyLimit(body_limit)))
            .app_data(web::PathConfig::default().error_handler(api::extract::path_error))
            .app_data(web::QueryConfig::default().error_handler(api::extract::query_error))
            .app_data(
                web::FormConfig::default()
                    .limit(body_limit)
                    .error_handler(api::extract::form_error),
            )
            .configure(api::configure)
            .split_for_parts();
        release_free_memory();
        let (contract_json, swagger_json) = (contract_json.clone(), swagger_json.clone());
        app.route("/api-docs/openapi.json", json_document(contract_json))
            .route("/api-docs/swagger-ui.json", json_document(swagger_json))
            .service(
                // Swagger UI reads the contract with the login form added
                // (`openapi::for_swagger_ui`).
                SwaggerUi::new("/docs/{_:.*}")
                    .config(
                        utoipa_swagger_ui::Config::new(["/api-docs/swagger-ui.json"])
                            .persist_authorization(true),
                    )
                    .oauth(
                        utoipa_swagger_ui::oauth::Config::new()
                            .client_id("swagger-ui")
                            .app_name("welfare-grants"),
                    ),
            )
            .service(web::redirect("/docs", "/docs/"))
            .configure(|c| {
                if metrics_here {
                    c.route("/metrics", web::get().to(api::metrics::serve));
                }
            })
            .default_service(web::to(api::methods::fallback))
            .wrap(actix_web::middleware::from_fn(api::caching::layer))
            .wrap(actix_web::middleware::from_fn(api::methods::head_as_get))
            .wrap(actix_web::middleware::from_fn(api::idempotency::layer))
            .wrap(actix_web::middleware::from_fn(api::limits::layer))
            .wrap(actix_web::middleware::from_fn(api::deadline::layer))
            .wrap_fn(|req, srv| {
                let lang = Lang::from_accept_language(
                    req.headers()
                        .get(header::ACCEPT_LANGUAGE)
                        .and_then(|v| v.to_str().ok()),
                );
                let request_id = req.extensions().get::<RequestId>().map(|id| id.to_string());
                let ctx = RequestContext { lang, request_id };
                // The headers of every answer are put on by api::security::layer.
                REQUEST_CONTEXT.scope(ctx, srv.call(req))
            })
            .wrap(actix_web::middleware::from_fn(api::metrics::layer))
            .wrap(cors(&settings.cors.allowed_origins))
            .wrap(actix_web::middleware::from_fn(api::security::layer))
            .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
    })
    .listen(listener)?
    .shutdown_timeout(shutdown_timeout);
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok(server.run())
}
