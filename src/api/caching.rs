//! HTTP caching of the public reads: the calls, the agencies, a call's envelopes and its
//! results. Their `200` answers carry:
//!
//! - `ETag`: a strong tag of the body's bytes (their SHA-256), after the resource's version
//!   where the handler gives one (`"v3-…"`, which `If-Match` still takes as version 3): the
//!   body also says where a call's window stands now, which changes while the version does
//!   not, so the version alone could not vouch for the bytes;
//! - `Cache-Control: public, max-age=<server.public_max_age_secs>` when the request has no
//!   `Authorization`, otherwise `private, no-cache`: an administrator's answer may include
//!   drafts and must never be kept by a shared cache;
//! - `Vary: Authorization` where the answer depends on who asks (drafts are administrators'
//!   only); no answer of these depends on `Accept-Language` (only their problems do).
//!
//! `If-None-Match` naming the current tag (compared weakly, RFC 9110 §13.1.2), or `*`, answers
//! `304 Not Modified` with the same three headers and no body. Any other status is
//! `Cache-Control: no-store`: an error is never kept.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::state::AppState;

/// A public read, by its route.
pub struct PublicRead {
    /// The route, as the document names its path.
    pub path: &'static str,
    /// Its answer depends on who asks (`Vary: Authorization`).
    pub by_caller: bool,
}

/// The reads cached this way.
pub const PUBLIC_READS: [PublicRead; 5] = [
    PublicRead {
        path: "/api/v1/agencies",
        by_caller: false,
    },
    PublicRead {
        path: "/api/v1/calls",
        by_caller: true,
    },
    PublicRead {
        path: "/api/v1/calls/{call_id}",
        by_caller: true,
    },
    PublicRead {
        path: "/api/v1/calls/{call_id}/envelopes",
        by_caller: true,
    },
    PublicRead {
        path: "/api/v1/calls/{call_id}/results",
        by_caller: false,
    },
];

const PRIVATE: &str = "private, no-cache";

fn public_read(req: &ServiceRequest) -> Option<&'static PublicRead> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let pattern = req.match_pattern()?;
    PUBLIC_READS.iter().find(|r| r.path == pattern)
}

/// The strong tag of a body: the handler's version tag (`"v3"`), if any, and a digest of the
/// bytes.
fn tag(version: Option<&HeaderValue>, body: &[u8]) -> String {
    let digest = hex::encode(&Sha256::digest(body)[..12]);
    let version = version
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix('"')?.strip_suffix('"'))
        .filter(|v| v.starts_with('v') && !v.contains('-'));
    match version {
        Some(v) => format!("\"{v}-{digest}\""),
        None => format!("\"{digest}\""),
    }
}

/// Whether `If-None-Match` names the current tag (weak comparison: `W/` is ignored).
pub fn none_match_hits(if_none_match: &str, current: &str) -> bool {
    let value = if_none_match.trim();
    value == "*"
        || value.split(',').any(|t| {
            let t = t.trim();
            t.strip_prefix("W/").unwrap_or(t) == current
        })
}

/// The caching headers of an answer that may be kept.
fn validators(headers: &mut HeaderMap, tag: &str, cache_control: &str, by_caller: bool) {
    if let Ok(tag) = HeaderValue::from_str(tag) {
        headers.insert(header::ETAG, tag);
    }
    if let Ok(cc) = HeaderValue::from_str(cache_control) {
        headers.insert(header::CACHE_CONTROL, cc);
    }
    if by_caller {
        headers.append(header::VARY, HeaderValue::from_static("Authorization"));
    }
}

/// Tag, answer `304` or put the caching headers on the public reads; leave the rest alone.
pub async fn layer(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(read) = public_read(&req) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let cache_control = if req.headers().contains_key(header::AUTHORIZATION) {
        PRIVATE.to_owned()
    } else {
        let max_age = req
            .app_data::<web::Data<AppState>>()
            .map_or(0, |s| s.settings.server.public_max_age_secs);
        format!("public, max-age={max_age}")
    };
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut res = next.call(req).await?;
    if res.status() != StatusCode::OK {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return Ok(res.map_into_boxed_body());
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| actix_web::error::ErrorInternalServerError(e.into()))?;
    let tag = tag(head.headers().get(header::ETAG), &bytes);
    if if_none_match.is_some_and(|v| none_match_hits(&v, &tag)) {
        let mut not_modified = HttpResponse::NotModified().finish();
        validators(
            not_modified.headers_mut(),
            &tag,
            &cache_control,
            read.by_caller,
        );
        return Ok(ServiceResponse::new(req, not_modified));
    }
    validators(head.headers_mut(), &tag, &cache_control, read.by_caller);
    Ok(ServiceResponse::new(
        req,
        head.set_body(bytes).map_into_boxed_body(),
    ))
}

/// Declare what the layer does on the public reads: `If-None-Match`, the `304`, and the
/// headers of both answers.
pub fn document(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for read in &PUBLIC_READS {
        let Some(op) = paths
            .get_mut(read.path)
            .and_then(|p| p.get_mut("get"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let mut headers = json!({
            "ETag": {
                "description": "A strong tag of this answer's bytes (for a call, after its version: `If-Match` takes it). Send it back in `If-None-Match` to get a `304` while it is current.",
                "schema": {"type": "string", "maxLength": 64},
                "example": "\"v3-5d41402abc4b2a76b9719d91\""
            },
            "Cache-Control": {
                "description": "`public, max-age=<seconds>` (setting `server.public_max_age_secs`, 60 by default) when the request has no `Authorization`; `private, no-cache` when it has: what an authenticated caller sees (drafts, for an administrator) is never kept by a shared cache, and is revalidated before each use.",
                "schema": {"type": "string", "maxLength": 64},
                "example": "public, max-age=60"
            }
        });
        if read.by_caller {
            headers["Vary"] = json!({
                "description": "`Authorization`: the answer depends on who asks (drafts are administrators' only). With CORS, the headers of the preflight follow.",
                "schema": {"type": "string", "maxLength": 256},
                "example": "Authorization"
            });
        }
        let params = op
            .entry("parameters")
            .or_insert_with(|| json!([]))
            .as_array_mut();
        if let Some(params) = params {
            params.push(json!({
                "name": "If-None-Match",
                "in": "header",
                "required": false,
                "description": "The ETag of an answer already held: while it is current the answer is 304 with no body.",
                "schema": {"type": "string", "maxLength": 1024},
                "example": "\"v3-5d41402abc4b2a76b9719d91\""
            }));
        }
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            continue;
        };
        if let Some(ok) = responses.get_mut("200").and_then(Value::as_object_mut)
            && let Some(own) = ok
                .entry("headers")
                .or_insert_with(|| json!({}))
                .as_object_mut()
            && let Some(add) = headers.as_object()
        {
            for (name, header) in add {
                own.insert(name.clone(), header.clone());
            }
        }
        responses.insert(
            "304".into(),
            json!({
                "description": "Not modified: `If-None-Match` names the current ETag (or is `*`); use the answer already held.",
                "headers": headers
            }),
        );
        // Keep the responses in the order of their status codes.
        let mut entries: Vec<(String, Value)> = std::mem::take(responses).into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        responses.extend(entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_follows_the_bytes_and_keeps_the_version() {
        let a = tag(None, b"{\"a\":1}");
        assert_eq!(a, tag(None, b"{\"a\":1}"));
        assert_ne!(a, tag(None, b"{\"a\":2}"));
        assert!(a.starts_with('"') && a.ends_with('"') && !a.starts_with("W/"));
        let v = tag(Some(&HeaderValue::from_static("\"v3\"")), b"x");
        assert!(v.starts_with("\"v3-"), "{v}");
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_a_list_or_a_star() {
        let t = "\"v3-abc\"";
        assert!(none_match_hits("\"v3-abc\"", t));
        assert!(none_match_hits("W/\"v3-abc\"", t));
        assert!(none_match_hits("\"other\", \"v3-abc\"", t));
        assert!(none_match_hits("*", t));
        assert!(!none_match_hits("\"v3\"", t));
        assert!(!none_match_hits("\"v3-abd\"", t));
    }
}
