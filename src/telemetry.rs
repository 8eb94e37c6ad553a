//! Logging: JSON lines in production, readable lines in a terminal; a span per request
//! (with its request id) comes from tracing-actix-web.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{LogFormat, LogSettings};

/// Install the global subscriber once; later calls (e.g. from tests) do nothing. Lines are
/// written by a dedicated thread through a bounded queue, so that a slow terminal or log
/// collector never blocks a worker: when the queue is full, lines are dropped (and counted by
/// the writer) rather than waited for. Keep the guard until the process ends: dropping it
/// flushes what is queued.
pub fn init(settings: &LogSettings) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .lossy(true)
        .thread_name("log-writer")
        .finish(std::io::stderr());
    // One line per request when its span closes: method, route, status, request id, latency.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(writer);
    let _ = match settings.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    guard
}

/// The lines the log queue holds before it drops new ones: a few seconds of a busy minute.
const LOG_QUEUE_LINES: usize = 128_000;

/// The root span of every request, as tracing-actix-web's default but without the query
/// string: queries may carry personal data (a tax code filter), which never reaches a log.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        use actix_web::HttpMessage;
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            // Recorded at the end, once the router has matched: finding the pattern before
            // routing means matching the path against every route, on every request. (Each
            // field recorded later costs a re-serialisation of the span's JSON fields, hence
            // no `otel.name` repeating method and route.)
            http.route = tracing::field::Empty,
            http.target = %request.path(),
            http.client_ip = %request.connection_info().realip_remote_addr().unwrap_or(""),
            http.status_code = tracing::field::Empty,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        if let Ok(res) = outcome {
            let req = res.request();
            let route = req.match_pattern().unwrap_or_else(|| "default".into());
            span.record("http.route", route);
        }
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
