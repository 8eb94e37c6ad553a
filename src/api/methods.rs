//! Which methods each path answers, for what routing alone does not say:
//!
//! - a path that exists, asked with a method it does not have, answers 405 with `Allow`
//!   listing the methods it has (RFC 9110 §15.5.6), not 404; an unknown path stays 404
//!   `route_not_found`;
//! - `HEAD` is answered wherever `GET` is, with the same status and headers and no body: the
//!   request is routed as a `GET`, and the HTTP layer (actix-http) sends the head of the answer
//!   only, with the `Content-Length` of the body it leaves out.
//!
//! The table is derived once, when the service starts, from the served OpenAPI document (the
//! same `api::configure` registers the routes and documents them), plus the few routes the
//! document does not describe (`/metrics`, Swagger UI and the document itself).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse};

use crate::error::ApiError;

/// The methods, in the order `Allow` lists them.
const ORDER: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Routes served outside the OpenAPI document (see `startup::run`), all read-only.
const UNDOCUMENTED: [&str; 4] = [
    "/metrics",
    "/api-docs/openapi.json",
    "/api-docs/swagger-ui.json",
    "/docs/{tail:.*}",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}`: one segment, not empty.
    Param,
    /// `{name:.*}`: whatever is left, even nothing.
    Rest,
}

#[derive(Debug)]
struct Route {
    segments: Vec<Segment>,
    methods: BTreeSet<usize>,
}

/// The paths of the service and the methods of each.
#[derive(Debug)]
pub struct Routes(Vec<Route>);

static ROUTES: OnceLock<Routes> = OnceLock::new();

/// Build the table (once; the service calls it when it starts).
pub fn prepare() -> &'static Routes {
    ROUTES.get_or_init(|| {
        let doc = serde_json::to_value(crate::startup::openapi_document()).unwrap_or_default();
        Routes::from_openapi(&doc)
    })
}

fn segments(pattern: &str) -> Vec<Segment> {
    pattern
        .trim_start_matches('/')
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(p) if p.ends_with(":.*") => Segment::Rest,
                Some(_) => Segment::Param,
                None => Segment::Literal(s.to_owned()),
            },
        )
        .collect()
}

impl Routes {
    /// The table of an OpenAPI document (as JSON), with the undocumented routes.
    pub fn from_openapi(doc: &serde_json::Value) -> Routes {
        let mut routes = Vec::new();
        let paths = doc.get("paths").and_then(|p| p.as_object());
        for (pattern, item) in paths.into_iter().flatten() {
            let methods: BTreeSet<usize> = item
                .as_object()
                .into_iter()
                .flat_map(|ops| ops.keys())
                .filter_map(|m| ORDER.iter().position(|o| o.eq_ignore_ascii_case(m)))
                .collect();
            routes.push(Route {
                segments: segments(pattern),
                methods,
            });
        }
        for pattern in UNDOCUMENTED {
            routes.push(Route {
                segments: segments(pattern),
                methods: BTreeSet::from([0]),
            });
        }
        // HEAD wherever GET.
        for route in &mut routes {
            if route.methods.contains(&0) {
                route.methods.insert(1);
            }
        }
        Routes(routes)
    }

    /// The methods a path answers, in `Allow` order; `None` when no route has that path.
    pub fn allowed(&self, path: &str) -> Option<Vec<&'static str>> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut methods = BTreeSet::new();
        let mut known = false;
        for route in self.0.iter().filter(|r| matches(&r.segments, &parts)) {
            known = true;
            methods.extend(route.methods.iter().copied());
        }
        known.then(|| methods.into_iter().map(|i| ORDER[i]).collect())
    }
}

fn matches(pattern: &[Segment], parts: &[&str]) -> bool {
    match (pattern.split_first(), parts.split_first()) {
        (Some((Segment::Rest, _)), _) => true,
        (None, None) => true,
        (Some((Segment::Literal(l), rest)), Some((p, parts))) if l == p => matches(rest, parts),
        (Some((Segment::Param, rest)), Some((p, parts))) if !p.is_empty() => matches(rest, parts),
        _ => false,
    }
}

/// Route a `HEAD` as the `GET` of its path, where there is one.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD
        && prepare()
            .allowed(req.path())
            .is_some_and(|m| m.contains(&"GET"))
    {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}

/// What no route answered: 405 with `Allow` when the path exists with other methods, 404
/// `route_not_found` otherwise (and for a route this process does not serve, such as
/// `/metrics` when it has a listener of its own).
pub async fn fallback(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    match prepare().allowed(req.path()) {
        Some(allow) if !allow.is_empty() && !allow.contains(&req.method().as_str()) => {
            Err(ApiError::MethodNotAllowed { allow })
        }
        _ => super::not_found().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Routes {
        Routes::from_openapi(&serde_json::json!({"paths": {
            "/api/v1/calls": {"get": {}, "post": {}},
            "/api/v1/calls/{call_id}": {"get": {}, "patch": {}, "parameters": []},
            "/api/v1/calls/{call_id}/publish": {"post": {}},
            "/api/v1/calls/{call_id}/agencies/{agency_code}/ranking": {"get": {}, "post": {}},
        }}))
    }

    #[test]
    fn a_path_lists_its_methods_and_head_with_get() {
        let r = routes();
        assert_eq!(
            r.allowed("/api/v1/calls"),
            Some(vec!["GET", "HEAD", "POST"])
        );
        assert_eq!(
            r.allowed("/api/v1/calls/abc"),
            Some(vec!["GET", "HEAD", "PATCH"])
        );
        assert_eq!(r.allowed("/api/v1/calls/abc/publish"), Some(vec!["POST"]));
        assert_eq!(
            r.allowed("/api/v1/calls/a/agencies/MONTAGNA/ranking"),
            Some(vec!["GET", "HEAD", "POST"])
        );
        assert_eq!(r.allowed("/metrics"), Some(vec!["GET", "HEAD"]));
        assert_eq!(r.allowed("/docs/"), Some(vec!["GET", "HEAD"]));
        assert_eq!(r.allowed("/docs/swagger-ui.css"), Some(vec!["GET", "HEAD"]));
    }

    #[test]
    fn an_unknown_path_has_no_methods() {
        let r = routes();
        for path in [
            "/api/v1/nothing",
            "/api/v1/calls/",
            "/api/v1/calls//publish",
            "/api/v1/calls/a/b",
            "/api/v1",
            "/",
        ] {
            assert_eq!(r.allowed(path), None, "{path}");
        }
    }

    #[test]
    fn the_served_document_gives_every_path_its_methods() {
        let r = prepare();
        assert_eq!(
            r.allowed("/api/v1/applications/x"),
            Some(vec!["GET", "HEAD", "PATCH", "DELETE"])
        );
        assert_eq!(r.allowed("/status"), Some(vec!["GET", "HEAD"]));
        assert_eq!(r.allowed("/api/v1/auth/login"), Some(vec!["POST"]));
    }
}
