//! `GET /metrics` in the Prometheus text format: requests by route and status, latency
//! histograms, the database pool, and business figures (applications, grants, committed
//! money per agency, webhook deliveries). Request figures are per replica (scrape each one);
//! business figures come from the database and are the same on every replica.

use std::net::TcpListener;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use sea_orm::DatabaseBackend;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::domain::ErrorCode;
use crate::error::ApiError;
use crate::state::AppState;

/// The registry and the instruments the middleware and the scrape update.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_size: IntGauge,
    pool_idle: IntGauge,
    pool_max: IntGauge,
    applications: IntGaugeVec,
    grants: IntGaugeVec,
    reports: IntGaugeVec,
    committed: GaugeVec,
    paid: GaugeVec,
    to_recover: GaugeVec,
    deliveries: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("welfare_grants".into()), None)
            .expect("a valid metrics prefix");
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route, in seconds",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route"],
        )
        .expect("valid metric");
        let pool_size = IntGauge::new("db_pool_connections", "Open database connections")
            .expect("valid metric");
        let pool_idle = IntGauge::new("db_pool_idle_connections", "Idle database connections")
            .expect("valid metric");
        let pool_max = IntGauge::new("db_pool_max_connections", "The pool's configured maximum")
            .expect("valid metric");
        let applications = IntGaugeVec::new(
            Opts::new("applications", "Applications by call, agency and status"),
            &["call", "agency", "status"],
        )
        .expect("valid metric");
        let grants = IntGaugeVec::new(
            Opts::new("grants", "Grants by call, agency and status"),
            &["call", "agency", "status"],
        )
        .expect("valid metric");
        let reports = IntGaugeVec::new(
            Opts::new(
                "final_reports",
                "Final reports by call, agency and status (draft, submitted, integration_requested, verified)",
            ),
            &["call", "agency", "status"],
        )
        .expect("valid metric");
        let committed = GaugeVec::new(
            Opts::new(
                "committed_eur",
                "Money committed in offered or accepted grants, by call and agency, in EUR",
            ),
            &["call", "agency"],
        )
        .expect("valid metric");
        let paid = GaugeVec::new(
            Opts::new(
                "paid_eur",
                "Money paid out to the projects, by call and agency, in EUR",
            ),
            &["call", "agency"],
        )
        .expect("valid metric");
        let to_recover = GaugeVec::new(
            Opts::new(
                "to_recover_eur",
                "Money to be recovered (issued recovery orders), by call and agency, in EUR",
            ),
            &["call", "agency"],
        )
        .expect("valid metric");
        let deliveries = IntGaugeVec::new(
            Opts::new("webhook_deliveries", "Webhook deliveries by status"),
            &["status"],
        )
        .expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(pool_size.clone()),
            Box::new(pool_idle.clone()),
            Box::new(pool_max.clone()),
            Box::new(applications.clone()),
            Box::new(grants.clone()),
            Box::new(reports.clone()),
            Box::new(committed.clone()),
            Box::new(paid.clone()),
            Box::new(to_recover.clone()),
            Box::new(deliveries.clone()),
        ] {
            registry.register(c).expect("each metric registered once");
        }
        Metrics {
            registry,
            requests,
            latency,
            pool_size,
            pool_idle,
            pool_max,
            applications,
            grants,
            reports,
            committed,
            paid,
            to_recover,
            deliveries,
        }
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

/// Count and time every request, by its route pattern (never the raw path: ids would make
/// one series per resource).
pub async fn layer(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await;
    if let Some(state) = state {
        // The pattern once the router has matched, which is a lookup; before routing it would
        // mean matching the path against every route. An error that escaped the handlers (a
        // request abandoned at its deadline) is counted too, without its request.
        let (status, route) = match &res {
            Ok(r) => (
                r.status(),
                r.request()
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".to_owned()),
            ),
            Err(e) => (e.as_response_error().status_code(), "abandoned".to_owned()),
        };
        let status = status.as_u16().to_string();
        let m = &state.metrics;
        m.requests
            .with_label_values(&[method.as_str(), route.as_str(), status.as_str()])
            .inc();
        m.latency
            .with_label_values(&[method.as_str(), route.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    res
}

fn digest(s: &[u8]) -> [u8; 32] {
    Sha256::digest(s).into()
}

/// The scrape.
pub async fn serve(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let settings = &state.settings.metrics;
    if !settings.enabled {
        return super::not_found().await;
    }
    if let Some(expected) = settings
        .bearer_token
        .as_ref()
        .map(|t| t.expose_secret().to_owned())
        .filter(|t| !t.is_empty())
    {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Compare digests: equal lengths, no early exit on the secret's bytes.
        if digest(given.as_bytes()) != digest(expected.as_bytes()) {
            return Err(ApiError::from(ErrorCode::MetricsTokenRequired));
        }
    }
    let m = &state.metrics;
    let (size, idle) = match state.db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let p = state.db.get_postgres_connection_pool();
            (p.size(), p.num_idle())
        }
        DatabaseBackend::Sqlite => {
            let p = state.db.get_sqlite_connection_pool();
            (p.size(), p.num_idle())
        }
        _ => (0, 0),
    };
    m.pool_size.set(i64::from(size));
    m.pool_idle.set(i64::try_from(idle).unwrap_or(i64::MAX));
    m.pool_max
        .set(i64::from(state.settings.database.max_connections));
    let stats = crate::service::operations::stats(&state.db).await?;
    m.applications.reset();
    for ((call, agency, status), n) in &stats.applications {
        m.applications
            .with_label_values(&[call.as_str(), agency.as_str(), status.as_str()])
            .set(*n);
    }
    m.grants.reset();
    for ((call, agency, status), n) in &stats.grants {
        m.grants
            .with_label_values(&[call.as_str(), agency.as_str(), status.as_str()])
            .set(*n);
    }
    m.reports.reset();
    for ((call, agency, status), n) in &stats.reports {
        m.reports
            .with_label_values(&[call.as_str(), agency.as_str(), status.as_str()])
            .set(*n);
    }
    for (gauge, amounts) in [
        (&m.committed, &stats.committed),
        (&m.paid, &stats.paid),
        (&m.to_recover, &stats.to_recover),
    ] {
        gauge.reset();
        for ((call, agency), amount) in amounts {
            let eur: f64 = amount.to_string().parse().unwrap_or(0.0);
            gauge
                .with_label_values(&[call.as_str(), agency.as_str()])
                .set(eur);
        }
    }
    m.deliveries.reset();
    for (status, n) in &stats.deliveries {
        m.deliveries.with_label_values(&[status.as_str()]).set(*n);
    }
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&m.registry.gather(), &mut out)
        .map_err(anyhow::Error::from)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out))
}

/// The metrics on a listener of their own (`metrics.listen`): `/metrics` and nothing else,
/// one worker. It has no signal handling: it stops when the API's server does.
pub fn server(listener: TcpListener, state: web::Data<AppState>) -> std::io::Result<Server> {
    let shutdown_timeout = state.settings.server.shutdown_timeout_secs;
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(serve))
            .default_service(web::to(super::not_found))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(shutdown_timeout)
    .listen(listener)?
    .run())
}
