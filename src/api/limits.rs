//! Rate limits per client address on the doors attackers knock at: log in, token, refresh
//! (one budget) and self-registration. Kept in memory, so they are per replica: behind a
//! balancer over N replicas a client gets up to N times the budget.
//!
//! Every answer of a limited request, its 429 included, tells the client where its budget
//! stands: `X-RateLimit-Limit` (the budget), `X-RateLimit-Remaining` (requests left now) and
//! `X-RateLimit-Reset` (seconds until the whole budget is back). A 429 also says when the next
//! request may come (`Retry-After`), which is sooner: the budget refills one request at a time.

use std::net::IpAddr;
use std::num::NonZeroU32;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::{Value, json};

use crate::config::RateLimitSettings;
use crate::error::ApiError;
use crate::state::AppState;

/// Entries kept before forgetting the addresses whose budget is full again.
const MAX_TRACKED: usize = 100_000;

/// The paths of the limited operations (all `POST`), for the document too.
pub const LIMITED_PATHS: [&str; 4] = [
    "/api/v1/auth/login",
    "/api/v1/auth/token",
    "/api/v1/auth/refresh",
    "/api/v1/auth/register",
];

/// The headers that say where a client's budget stands.
pub const LIMIT: &str = "X-RateLimit-Limit";
pub const REMAINING: &str = "X-RateLimit-Remaining";
pub const RESET: &str = "X-RateLimit-Reset";

type Limiter = DefaultKeyedRateLimiter<IpAddr, StateInformationMiddleware>;

pub struct RateLimits {
    auth: Option<Limiter>,
    register: Option<Limiter>,
    header: Option<HeaderName>,
}

/// Where a client's budget stands after its request was counted (or refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Requests allowed in a full budget.
    pub limit: u32,
    /// Requests left now.
    pub remaining: u32,
    /// Seconds until the whole budget is back (rounded up).
    pub reset: u64,
}

impl Budget {
    /// Put the three `X-RateLimit-*` headers on an answer.
    fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in [
            ("x-ratelimit-limit", u64::from(self.limit)),
            ("x-ratelimit-remaining", u64::from(self.remaining)),
            ("x-ratelimit-reset", self.reset),
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
    }
}

/// Whole seconds, rounded up.
fn seconds(d: std::time::Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl RateLimits {
    pub fn new(settings: &RateLimitSettings) -> anyhow::Result<RateLimits> {
        let header = match settings.trusted_proxy_header.trim() {
            "" => None,
            h => Some(HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes())?),
        };
        if !settings.enabled {
            return Ok(RateLimits {
                auth: None,
                register: None,
                header,
            });
        }
        let per = |n: u32| {
            NonZeroU32::new(n).ok_or_else(|| anyhow::anyhow!("a rate limit is at least 1"))
        };
        Ok(RateLimits {
            auth: Some(
                RateLimiter::keyed(Quota::per_minute(per(settings.auth_per_minute)?))
                    .with_middleware::<StateInformationMiddleware>(),
            ),
            register: Some(
                RateLimiter::keyed(Quota::per_hour(per(settings.register_per_hour)?))
                    .with_middleware::<StateInformationMiddleware>(),
            ),
            header,
        })
    }

    /// The client's address: the last entry of the trusted proxy header (the one the
    /// balancer appended; earlier ones are the client's word), else the TCP peer.
    pub fn client_address(&self, req: &ServiceRequest) -> Option<IpAddr> {
        if let Some(name) = &self.header
            && let Some(ip) = req
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok())
        {
            return Some(ip);
        }
        req.peer_addr().map(|a| a.ip())
    }

    fn limiter_for(&self, req: &ServiceRequest) -> Option<&Limiter> {
        if req.method() != Method::POST {
            return None;
        }
        match req.path() {
            "/api/v1/auth/login" | "/api/v1/auth/token" | "/api/v1/auth/refresh" => {
                self.auth.as_ref()
            }
            "/api/v1/auth/register" => self.register.as_ref(),
            _ => None,
        }
    }

    /// Count the request against its client's budget: `None` when it has none (not a limited
    /// operation, limits off, no client address); else where the budget stands, and
    /// `Err(seconds to wait)` when the request is over it.
    fn check(&self, req: &ServiceRequest) -> Option<(Budget, Result<(), u32>)> {
        let (Some(limiter), Some(ip)) = (self.limiter_for(req), self.client_address(req)) else {
            return None;
        };
        if limiter.len() > MAX_TRACKED {
            limiter.retain_recent();
        }
        Some(match limiter.check_key(&ip) {
            Ok(state) => {
                let quota = state.quota();
                let limit = quota.burst_size().get();
                let remaining = state.remaining_burst_capacity();
                // An upper bound: the request being refilled may be partly back already.
                let reset = seconds(quota.replenish_interval() * (limit - remaining.min(limit)));
                let budget = Budget {
                    limit,
                    remaining,
                    reset,
                };
                (budget, Ok(()))
            }
            Err(not_until) => {
                let quota = not_until.quota();
                let limit = quota.burst_size().get();
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                // Once the next request is allowed, one is back: the others come one per
                // interval.
                let full = wait + quota.replenish_interval() * (limit - 1);
                let retry_after = u32::try_from(seconds(wait)).unwrap_or(u32::MAX).max(1);
                let budget = Budget {
                    limit,
                    remaining: 0,
                    reset: seconds(full).max(u64::from(retry_after)),
                };
                (budget, Err(retry_after))
            }
        })
    }
}

/// Declare the three headers in the document: once in `components/headers`, and on every
/// answer of the limited operations. A shared answer (`$ref`) cannot take headers of its own
/// there, so it is copied in (except `TooManyRequests`, which only these operations answer and
/// which declares them itself).
pub fn document(doc: &mut Value) {
    let header = |description: &str, example: u64| {
        json!({
            "description": description,
            "schema": {"type": "integer", "format": "int64", "minimum": 0},
            "example": example
        })
    };
    let components = doc
        .as_object_mut()
        .map(|d| d.entry("components").or_insert_with(|| json!({})));
    let Some(components) = components.and_then(Value::as_object_mut) else {
        return;
    };
    let headers = components
        .entry("headers")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(headers) = headers {
        headers.insert(
            LIMIT.into(),
            header("Requests a client address may make in a full budget (per minute for log in, token and refresh together; per hour for registration).", 30),
        );
        headers.insert(
            REMAINING.into(),
            header("Requests this client address may still make now.", 29),
        );
        headers.insert(
            RESET.into(),
            header("Seconds until the whole budget is back (it refills one request at a time; after a 429, Retry-After says when the next one may come).", 2),
        );
    }
    let shared = components
        .get("responses")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(too_many) = components
        .get_mut("responses")
        .and_then(|r| r.get_mut("TooManyRequests"))
    {
        add_headers(too_many);
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for path in LIMITED_PATHS {
        let Some(responses) = paths
            .get_mut(path)
            .and_then(|p| p.get_mut("post"))
            .and_then(|op| op.get_mut("responses"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for response in responses.values_mut() {
            let named = response
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/responses/"))
                .map(str::to_owned);
            match named {
                Some(name) if name == "TooManyRequests" => continue,
                Some(name) => match shared.get(&name) {
                    Some(copy) => *response = copy.clone(),
                    None => continue,
                },
                None => {}
            }
            add_headers(response);
        }
    }
}

fn add_headers(response: &mut Value) {
    let Some(response) = response.as_object_mut() else {
        return;
    };
    let headers = response
        .entry("headers")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(headers) = headers {
        for name in [LIMIT, REMAINING, RESET] {
            headers.insert(
                name.into(),
                json!({"$ref": format!("#/components/headers/{name}")}),
            );
        }
    }
}

/// Answer 429 with `Retry-After` before the handler runs (and before any password hashing);
/// put the budget's headers on every answer of a limited request.
pub async fn layer(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let verdict = req
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.limits.check(&req));
    match verdict {
        None => Ok(next.call(req).await?.map_into_left_body()),
        Some((budget, Ok(()))) => {
            let mut res = next.call(req).await?;
            budget.apply(res.headers_mut());
            Ok(res.map_into_left_body())
        }
        Some((budget, Err(retry_after))) => {
            tracing::warn!(path = req.path(), retry_after, "rate limited");
            let mut res = ApiError::TooManyRequests { retry_after }.error_response();
            budget.apply(res.headers_mut());
            Ok(req.into_response(res).map_into_right_body())
        }
    }
}
