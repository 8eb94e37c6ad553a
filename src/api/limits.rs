//! Rate limits per client address on the doors attackers knock at: log in, token, refresh
//! (one budget) and self-registration. Kept in memory, so they are per replica: behind a
//! balancer over N replicas a client gets up to N times the budget.

use std::net::IpAddr;
use std::num::NonZeroU32;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::HeaderName;
use actix_web::middleware::Next;
use actix_web::{ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimitSettings;
use crate::error::ApiError;
use crate::state::AppState;

/// Entries kept before forgetting the addresses whose budget is full again.
const MAX_TRACKED: usize = 100_000;

pub struct RateLimits {
    auth: Option<DefaultKeyedRateLimiter<IpAddr>>,
    register: Option<DefaultKeyedRateLimiter<IpAddr>>,
    header: Option<HeaderName>,
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
            auth: Some(RateLimiter::keyed(Quota::per_minute(per(
                settings.auth_per_minute
            )?))),
            register: Some(RateLimiter::keyed(Quota::per_hour(per(
                settings.register_per_hour
            )?))),
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

    fn limiter_for(&self, req: &ServiceRequest) -> Option<&DefaultKeyedRateLimiter<IpAddr>> {
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

    /// `Err(seconds to wait)` when the request is over its budget.
    fn check(&self, req: &ServiceRequest) -> Result<(), u32> {
        let (Some(limiter), Some(ip)) = (self.limiter_for(req), self.client_address(req)) else {
            return Ok(());
        };
        if limiter.len() > MAX_TRACKED {
            limiter.retain_recent();
        }
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            u32::try_from(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
                .unwrap_or(u32::MAX)
                .max(1)
        })
    }
}

/// Answer 429 with `Retry-After` before the handler runs (and before any password hashing).
pub async fn layer(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let verdict = req
        .app_data::<web::Data<AppState>>()
        .map_or(Ok(()), |state| state.limits.check(&req));
    match verdict {
        Ok(()) => Ok(next.call(req).await?.map_into_left_body()),
        Err(retry_after) => {
            tracing::warn!(path = req.path(), retry_after, "rate limited");
            let res = ApiError::TooManyRequests { retry_after }.error_response();
            Ok(req.into_response(res).map_into_right_body())
        }
    }
}
