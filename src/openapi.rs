//! The OpenAPI document: its header, security schemes and tags. Paths and schemas are
//! collected from the handlers by utoipa-actix-web.

use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi};

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from /api/v1/auth/login or /api/v1/auth/token.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::new(
                    "/api/v1/auth/token",
                    Scopes::new(),
                ))],
                "Log in with a user name and password (the demo accounts are in the README).",
            )),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "welfare-grants",
        description = "The call engine of Regione Lombardia's work-life balance and company welfare grants: \
calls, partnerships, applications, review by the eight ATS, rankings and allocation.\n\n\
Money is a string with two decimals (`\"50000.00\"`); errors are `application/problem+json` with a stable `code` \
and, for validation failures, every violated rule in `violations`. Messages are in Italian with `Accept-Language: it`.\n\n\
To try it: press **Authorize**, and log in with a demo account in the *oauth2* form.",
        version = "1.0.0",
        license(name = "EUPL-1.2")
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Log in, tokens, own account"),
        (name = "users", description = "User management (admin)"),
        (name = "agencies", description = "The eight ATS"),
        (name = "calls", description = "Calls for proposals, amendments and envelopes"),
        (name = "organizations", description = "The shared registry of organizations and their representatives"),
        (name = "partnerships", description = "Partnerships for a call and their eligibility"),
        (name = "applications", description = "Applications: drafts, annexes, submission and receipts"),
        (name = "review", description = "The agencies' review: conflict of interest, admissibility, integration, scores"),
        (name = "notifications", description = "Every user's inbox"),
        (name = "operations", description = "Health of the service"),
    )
)]
struct ApiDoc;

/// The document before the handlers add their paths.
pub fn base() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// Give every problem+json response without an example one that fits its status (and, for
/// 404 and 409, the resource of its path), so that Swagger UI never shows a 422 example
/// under a 401.
pub fn finish(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let Ok(mut value) = serde_json::to_value(&doc) else {
        return doc;
    };
    if let Some(paths) = value.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut())
                else {
                    continue;
                };
                for (status, response) in responses.iter_mut() {
                    let Some(media) = response.pointer_mut("/content/application~1problem+json")
                    else {
                        continue;
                    };
                    if media.get("example").is_none()
                        && let Some(example) = problem_example(path, status)
                    {
                        media["example"] = example;
                    }
                }
            }
        }
    }
    serde_json::from_value(value).unwrap_or(doc)
}

fn problem_example(path: &str, status: &str) -> Option<serde_json::Value> {
    let resource = if path.contains("{user_id}") || path.ends_with("/users") {
        "user"
    } else {
        "call"
    };
    let (code, title, detail) = match status {
        "400" => (
            "invalid_body",
            "Bad request",
            "The body has fields this operation does not know, or values of the wrong type; see violations.",
        ),
        "401" => (
            "missing_token",
            "Unauthorized",
            "This operation needs a bearer token: log in at /api/v1/auth/login or /api/v1/auth/token.",
        ),
        "403" => (
            "role_not_allowed",
            "Forbidden",
            "Your role may not perform this operation.",
        ),
        "404" if resource == "user" => ("user_not_found", "Not found", "There is no such user."),
        "404" => ("call_not_found", "Not found", "There is no such call."),
        "409" if resource == "user" => (
            "username_taken",
            "Conflict",
            "The user name is already registered.",
        ),
        "409" => (
            "call_code_taken",
            "Conflict",
            "A call with this code already exists.",
        ),
        "412" => (
            "precondition_failed",
            "Precondition failed",
            "The resource changed since you read it: read it again and retry with its new ETag.",
        ),
        "413" => (
            "payload_too_large",
            "Payload too large",
            "The request body exceeds the limit of 262144 bytes.",
        ),
        "415" => (
            "unsupported_media_type",
            "Unsupported media type",
            "The request body must be application/json.",
        ),
        "428" => (
            "precondition_required",
            "Precondition required",
            "This operation requires an If-Match header with the resource's ETag.",
        ),
        "503" => (
            "database_unavailable",
            "Service unavailable",
            "The database is not reachable right now; retry shortly.",
        ),
        _ => return None,
    };
    let status_code: u16 = status.parse().ok()?;
    Some(serde_json::json!({
        "type": format!("urn:welfare-grants:problem:{code}"),
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
        "request_id": "5f0c8a1e-7d3b-4c55-9d8e-3b2f4a6c1d20"
    }))
}
