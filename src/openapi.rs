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
Every state-changing POST honours an `Idempotency-Key` header: a repeat with the same key and body answers the first result \
again (`Idempotent-Replayed: true`), the same key with another body is 422, a repeat while the first still runs is 409.\n\n\
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
        (name = "rankings", description = "Each agency's ranking and allocation"),
        (name = "grants", description = "Grants: offers, acceptance with the CUP, decline"),
        (name = "audit", description = "The audit log (administrators)"),
        (name = "webhooks", description = "Event subscriptions of other systems, and their deliveries (administrators)"),
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
            for (method, op) in item.iter_mut() {
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
                        && let Some(example) = problem_example(path, method, status)
                    {
                        media["example"] = example;
                    }
                }
            }
        }
    }
    serde_json::from_value(value).unwrap_or(doc)
}

/// The resource a path is about, for the examples of its problems.
fn resource(path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_start_matches("/api/v1/").split('/').collect();
    let last = segments.last().copied().unwrap_or("");
    match (segments.first().copied().unwrap_or(""), last) {
        ("applications", "admissibility" | "integration" | "conflict-of-interest") => "review",
        ("applications", "mine" | "consensus" | "evaluations" | "reopen") => "scores",
        ("applications", _) => "application",
        ("partnerships", _) => "partnership",
        ("organizations", _) => "organization",
        ("users", _) => "user",
        ("notifications", _) => "notification",
        ("grants", _) => "grant",
        ("auth", _) => "auth",
        _ => "call",
    }
}

fn problem_example(path: &str, method: &str, status: &str) -> Option<serde_json::Value> {
    let resource = resource(path);
    let violation = |field: &str, code: &str, message: &str| serde_json::json!([{"field": field, "code": code, "message": message}]);
    let (code, title, detail, violations) = match status {
        "400" if method == "get" => (
            "invalid_query_parameter",
            "Bad request",
            "A query parameter is not valid: unknown variant `maybe`, expected `draft` or `published`.",
            None,
        ),
        "400" => (
            "invalid_body",
            "Bad request",
            "The body has fields this operation does not know, or values of the wrong type; see violations.",
            Some(violation(
                "unknown_field_name",
                "unknown_field",
                "`unknown_field_name` is not a field of this object.",
            )),
        ),
        "401" => (
            "missing_token",
            "Unauthorized",
            "This operation needs a bearer token: log in at /api/v1/auth/login or /api/v1/auth/token.",
            None,
        ),
        "403" => match resource {
            "review" | "scores" => (
                "conflict_declaration_required",
                "Forbidden",
                "Declare whether you have a conflict of interest with the partnership's members first (POST .../conflict-of-interest).",
                None,
            ),
            _ => (
                "role_not_allowed",
                "Forbidden",
                "Your role may not perform this operation.",
                None,
            ),
        },
        "404" => match resource {
            "user" => (
                "user_not_found",
                "Not found",
                "There is no such user.",
                None,
            ),
            "organization" => (
                "organization_not_found",
                "Not found",
                "There is no such organization that you may see.",
                None,
            ),
            "partnership" => (
                "partnership_not_found",
                "Not found",
                "There is no such partnership that you may see.",
                None,
            ),
            "application" | "review" | "scores" => (
                "application_not_found",
                "Not found",
                "There is no such application that you may see.",
                None,
            ),
            "notification" => (
                "notification_not_found",
                "Not found",
                "There is no such notice in your inbox.",
                None,
            ),
            "grant" => (
                "grant_not_found",
                "Not found",
                "There is no such grant that you may see.",
                None,
            ),
            _ => (
                "call_not_found",
                "Not found",
                "There is no such call.",
                None,
            ),
        },
        "409" => match resource {
            "user" | "auth" => (
                "username_taken",
                "Conflict",
                "The user name is already registered.",
                None,
            ),
            "organization" => (
                "tax_code_taken",
                "Conflict",
                "An organization with this tax code is already registered: ask one of its representatives to add you.",
                None,
            ),
            "partnership" => (
                "member_already_present",
                "Conflict",
                "This organization is already a member of the partnership.",
                None,
            ),
            "application" => (
                "already_submitted",
                "Conflict",
                "The application has already been submitted; an application is submitted once.",
                None,
            ),
            "review" => (
                "admissibility_already_decided",
                "Conflict",
                "The admissibility of this application has already been decided.",
                None,
            ),
            "scores" => (
                "evaluation_final",
                "Conflict",
                "Your evaluation is final: only an administrator can reopen it, with a reason.",
                None,
            ),
            "grant" => (
                "offer_expired",
                "Conflict",
                "The acceptance deadline has passed: the offer has lapsed.",
                None,
            ),
            _ => (
                "call_code_taken",
                "Conflict",
                "A call with this code already exists.",
                None,
            ),
        },
        "412" => (
            "precondition_failed",
            "Precondition failed",
            "The resource changed since you read it: read it again and retry with its new ETag.",
            None,
        ),
        "413" => (
            "payload_too_large",
            "Payload too large",
            "The request body exceeds the limit of 262144 bytes.",
            None,
        ),
        "415" => (
            "unsupported_media_type",
            "Unsupported media type",
            "The request body must be application/json.",
            None,
        ),
        "422" => {
            let v = match resource {
                "user" | "auth" => violation(
                    "username",
                    "invalid_username",
                    "The user name is a lower-case e-mail address.",
                ),
                "organization" => violation(
                    "tax_code",
                    "tax_code_check",
                    "The tax code's check character is wrong: it is not a valid codice fiscale.",
                ),
                "partnership" => violation(
                    "call_id",
                    "call_closed",
                    "The call's submission window has closed: its partnerships can no longer change.",
                ),
                "application" => violation(
                    "budget.requested_grant",
                    "grant_above_rate",
                    "The grant may be at most 70.00% of the eligible total 71428.57, rounded down: 49999.99.",
                ),
                "review" => violation(
                    "reasons[0]",
                    "unknown_reason",
                    "nope is not in the call's checklist.",
                ),
                "scores" => violation(
                    "scores[0].score",
                    "score_out_of_range",
                    "QUALITY is scored from 0.0 to 25.0.",
                ),
                "notification" => violation("per_page", "out_of_range", "per_page is 1 to 100."),
                "grant" => violation(
                    "cup",
                    "invalid_cup",
                    "The CUP has 15 capital letters and digits, e.g. J51B22000120002.",
                ),
                _ => violation(
                    "closes_at",
                    "window_close_not_after_open",
                    "The window must close after it opens.",
                ),
            };
            (
                "validation_failed",
                "Validation failed",
                "The request breaks 1 rule(s); see violations.",
                Some(v),
            )
        }
        "428" => (
            "precondition_required",
            "Precondition required",
            "This operation requires an If-Match header with the resource's ETag.",
            None,
        ),
        "503" => (
            "database_unavailable",
            "Service unavailable",
            "The database is not reachable right now; retry shortly.",
            None,
        ),
        _ => return None,
    };
    let status_code: u16 = status.parse().ok()?;
    let mut example = serde_json::json!({
        "type": format!("urn:welfare-grants:problem:{code}"),
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
        "request_id": "5f0c8a1e-7d3b-4c55-9d8e-3b2f4a6c1d20"
    });
    if let Some(v) = violations {
        example["violations"] = v;
    }
    Some(example)
}
