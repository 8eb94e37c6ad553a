//! The OpenAPI document: its header, security schemes and tags. Paths and schemas are
//! collected from the handlers by utoipa-actix-web.

use std::fmt::Display;

use actix_web::http::StatusCode;
use serde_json::{Value, json};
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi};

use crate::domain::ErrorCode;
use crate::error::{Lang, title};

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
    }
}

/// The name of the OAuth2 password scheme that only the Swagger UI document has. Swagger UI's
/// Authorize dialog shows the schemes in the order of the document's `securitySchemes`, which
/// are sorted by name: this one sorts before `bearer`, so the dialog leads with the login form.
pub const SWAGGER_LOGIN: &str = "Login";

/// The document that Swagger UI at `/docs` reads: the contract plus an OAuth2 password scheme
/// on `/api/v1/auth/token`, offered wherever the contract takes a bearer token, so that a
/// tester logs in with a user name and password instead of pasting a token.
///
/// The contract itself (`/api-docs/openapi.json`, `openapi/openapi.json`) has the bearer
/// scheme only: the Italian API guidelines allow neither the password flow nor a token URL
/// that is not https, and integrators get their tokens from the same endpoint anyway.
pub fn for_swagger_ui(contract: &utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let mut doc = contract.clone();
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            SWAGGER_LOGIN,
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::new(
                    "/api/v1/auth/token",
                    Scopes::new(),
                ))],
                "Log in with a user name and password (the demo accounts are in the README).",
            )),
        );
    let Ok(mut value) = serde_json::to_value(&doc) else {
        return doc;
    };
    let login = json!({ SWAGGER_LOGIN: [] });
    for op in operations_mut(&mut value) {
        let Some(security) = op.get_mut("security").and_then(Value::as_array_mut) else {
            continue;
        };
        if let Some(at) = security.iter().position(|s| s.get("bearer").is_some()) {
            security.insert(at, login.clone());
        }
    }
    match serde_json::from_value(value) {
        Ok(doc) => doc,
        Err(e) => panic!("the Swagger UI document no longer reads as one: {e}"),
    }
}

/// Every operation of a document read as JSON.
fn operations_mut(doc: &mut Value) -> impl Iterator<Item = &mut serde_json::Map<String, Value>> {
    doc.get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(Value::as_object_mut)
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
again (`Idempotent-Replayed: true`), the same key with another body is 422, a repeat while the first still runs is 409 \
`idempotency_in_progress` with `Retry-After`: retry with the same key after that many seconds.\n\n\
To try it in Swagger UI (`/docs/`): press **Authorize** and log in with a demo account in its first form, *Login*.",
        version = "1.0.0",
        contact(
            name = "Regione Lombardia",
            url = "https://www.regione.lombardia.it/"
        ),
        license(name = "EUPL-1.2")
    ),
    servers(
        (url = "/", description = "Sandbox: the service this document is served from (a local, test or demo instance, on plain http). Swagger UI at /docs/ calls this one."),
        (url = "https://{host}", description = "Production: the service behind the Region's TLS proxy.",
            variables(("host" = (default = "localhost", description = "The host name (and port) the Region publishes the service at"))))
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
        (name = "grants", description = "Grants: offers, acceptance with the CUP, decline, the project's start"),
        (name = "reports", description = "The final report of a project: the lead's draft with its evidence files, the submission with its receipt, the ATS's verification that sets the final grant"),
        (name = "variations", description = "Variations of a project: budget shifts, partner changes, extensions; every version of the project stays readable"),
        (name = "recoveries", description = "Recovery orders: what a grant paid beyond its final grant, or a revoked or renounced grant paid, to pay back; settled or cancelled by the Region"),
        (name = "payments", description = "Payments of grants: authorized by the ATS with the liquidation act, recorded by the Region with the payment order (four eyes)"),
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
    // The one-liner of catalogues and developer portals (`info.summary` from OpenAPI 3.1 on;
    // the Italian API catalogue reads `x-summary`).
    doc.info.extensions = Some(
        ExtensionsBuilder::new()
            .add(
                "x-summary",
                "Regional grants for work-life balance and company welfare: calls, applications, review, rankings and grants.",
            )
            .build(),
    );
    // The first server is a sandbox: plain http is allowed there.
    if let Some(sandbox) = doc.servers.as_mut().and_then(|s| s.first_mut()) {
        sandbox.extensions = Some(ExtensionsBuilder::new().add("x-sandbox", true).build());
    }
    doc
}

/// The operations behind the per-address rate limits: they may answer 429.
const RATE_LIMITED: [&str; 4] = crate::api::limits::LIMITED_PATHS;

/// What an operation takes, as far as the problems it may answer go.
struct Shape<'a> {
    path: &'a str,
    method: &'a str,
    path_params: bool,
    query_params: bool,
    if_match: bool,
    /// The media types of its request body; empty when it takes none.
    body: Vec<String>,
    /// It reads a bearer token (required, or optional and then checked when sent).
    token: bool,
}

impl<'a> Shape<'a> {
    fn of(path: &'a str, method: &'a str, op: &serde_json::Map<String, Value>) -> Shape<'a> {
        let params: Vec<(&str, &str)> = op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p.get("in")?.as_str()?, p.get("name")?.as_str()?)))
            .collect();
        Shape {
            path,
            method,
            path_params: params.iter().any(|(at, _)| *at == "path"),
            query_params: params.iter().any(|(at, _)| *at == "query"),
            if_match: params
                .iter()
                .any(|(at, name)| *at == "header" && name.eq_ignore_ascii_case("if-match")),
            body: op
                .get("requestBody")
                .and_then(|b| b.get("content"))
                .and_then(Value::as_object)
                .map(|c| c.keys().cloned().collect())
                .unwrap_or_default(),
            token: op
                .get("security")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|s| s.get("bearer").is_some()),
        }
    }

    /// A POST made with a token goes through the `Idempotency-Key` middleware.
    fn idempotent(&self) -> bool {
        self.method == "post" && self.token
    }
}

/// Complete the document from what every operation shares:
///
/// - the problems that the extractors, the middleware and the store answer for any operation
///   of a given shape (a bad parameter or body, a missing or invalid token, a path naming
///   nothing, an `Idempotency-Key` still running or reused, a stale or missing `If-Match`, a
///   body too large or of another media type, a rate limit, the database unavailable), where
///   the handler's own annotation does not already declare them; those that read the same
///   everywhere are shared in `components/responses`;
/// - the `Idempotency-Key` header on every POST that honours it;
/// - the headers that go with a status: `WWW-Authenticate` with 401, `Retry-After` with 429
///   and 503;
/// - what the rate limits and the caching of the public reads add to their operations
///   (declared beside their layers, `api::limits::document` and `api::caching::document`);
/// - for every problem+json response without an example one that fits its status (and, for
///   404 and 409, the resource of its path), so that Swagger UI never shows a 422 example
///   under a 401.
pub fn finish(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let Ok(mut value) = serde_json::to_value(&doc) else {
        return doc;
    };
    if let Some(components) = value.get_mut("components").and_then(|c| c.as_object_mut()) {
        let shared = components
            .entry("responses")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(shared) = shared.as_object_mut() {
            for (name, status, response) in shared_responses() {
                let mut response = response;
                declare_headers(status, &mut response);
                shared.entry(name).or_insert(response);
            }
        }
    }
    if let Some(paths) = value.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                let Some(op) = op.as_object_mut() else {
                    continue;
                };
                let shape = Shape::of(path, method, op);
                if shape.idempotent() {
                    declare_idempotency_key(op);
                }
                let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut())
                else {
                    continue;
                };
                declare_common_problems(&shape, responses);
                for (status, response) in responses.iter_mut() {
                    declare_headers(status, response);
                    let Some(media) = response.pointer_mut("/content/application~1problem+json")
                    else {
                        continue;
                    };
                    if media.get("example").is_none()
                        && let Some(example) = problem_example(&shape, status)
                    {
                        media["example"] = example;
                    }
                }
            }
        }
    }
    crate::api::limits::document(&mut value);
    crate::api::caching::document(&mut value);
    for op in operations_mut(&mut value) {
        contract_security(op);
        drop_media_type_headers(op);
    }
    drop_unused_shared_responses(&mut value);
    match serde_json::from_value(value) {
        Ok(doc) => doc,
        Err(e) => panic!("the completed OpenAPI document no longer reads as one: {e}"),
    }
}

/// A shared response that no operation refers to (every operation that reads `If-Match`
/// declares its own 412 and 428, for instance) would only be noise in the document.
fn drop_unused_shared_responses(doc: &mut Value) {
    fn refs(v: &Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref") {
                    out.insert(r.clone());
                }
                o.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut used = std::collections::BTreeSet::new();
    refs(&doc["paths"], &mut used);
    if let Some(shared) = doc
        .pointer_mut("/components/responses")
        .and_then(Value::as_object_mut)
    {
        shared.retain(|name, _| used.contains(&format!("#/components/responses/{name}")));
    }
}

/// The contract takes bearer tokens only: a requirement naming the OAuth2 password scheme (an
/// annotation may still name it) goes, and `for_swagger_ui` offers that scheme to Swagger UI.
fn contract_security(op: &mut serde_json::Map<String, Value>) {
    if let Some(security) = op.get_mut("security").and_then(Value::as_array_mut) {
        security.retain(|s| s.get("oauth2").is_none() && s.get(SWAGGER_LOGIN).is_none());
    }
}

/// OpenAPI ignores a response header named `Content-Type` (the media types of `content` say
/// it), and the Italian API guidelines refuse it: such a declaration goes, and what it said
/// joins the response's description.
fn drop_media_type_headers(op: &mut serde_json::Map<String, Value>) {
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    for response in responses.values_mut() {
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        let Some(headers) = response.get_mut("headers").and_then(Value::as_object_mut) else {
            continue;
        };
        let Some(name) = headers
            .keys()
            .find(|name| name.eq_ignore_ascii_case("content-type"))
            .cloned()
        else {
            continue;
        };
        let said = headers.remove(&name).and_then(|h| {
            h.get("description")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        if headers.is_empty() {
            response.remove("headers");
        }
        if let Some(said) = said {
            let description = response
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let description = format!("{description} (Content-Type: {})", said.to_lowercase());
            response.insert("description".into(), Value::String(description));
        }
    }
}

/// A problem document of the catalogue, as an example: the status and English template of its
/// code, filled with `args`, and the title of its status.
fn problem(code: ErrorCode, args: &[(&str, &dyn Display)]) -> Value {
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json!({
        "type": format!("urn:welfare-grants:problem:{code}"),
        "title": title(status, Lang::En),
        "status": code.status(),
        "detail": code.with(args).message.en,
        "code": code.as_str(),
        "request_id": "5f0c8a1e-7d3b-4c55-9d8e-3b2f4a6c1d20"
    })
}

/// A 422 problem breaking one rule of the catalogue, as an example.
fn invalid(field: &str, code: ErrorCode, args: &[(&str, &dyn Display)]) -> Value {
    let mut example = problem(ErrorCode::ValidationFailed, &[("count", &1)]);
    example["violations"] = violations(field, code, args);
    example
}

/// The example of a list's query out of range.
fn per_page_out_of_range() -> Value {
    invalid(
        "per_page",
        ErrorCode::OutOfRange,
        &[
            ("subject_en", &"per_page"),
            ("subject_it", &"per_page"),
            ("min", &1),
            ("max", &100),
        ],
    )
}

fn violations(field: &str, code: ErrorCode, args: &[(&str, &dyn Display)]) -> Value {
    json!([{"field": field, "code": code.as_str(), "message": code.with(args).message.en}])
}

fn problem_response(description: &str, example: Option<Value>) -> Value {
    let mut media = json!({"schema": {"$ref": "#/components/schemas/Problem"}});
    if let Some(example) = example {
        media["example"] = example;
    }
    json!({"description": description, "content": {"application/problem+json": media}})
}

/// The problems that read the same for every operation, by name in `components/responses`.
fn shared_responses() -> Vec<(String, &'static str, Value)> {
    let shared = |name: &str, status: &'static str, description: &str, example: Value| {
        (
            name.to_owned(),
            status,
            problem_response(description, Some(example)),
        )
    };
    vec![
        shared(
            "Unauthorized",
            "401",
            "No bearer token where one is required, or a token that is invalid, expired or no longer honoured",
            problem(ErrorCode::MissingToken, &[]),
        ),
        shared(
            "IdempotencyInProgress",
            "409",
            "A request with the same Idempotency-Key is still running: retry with the same key after Retry-After seconds",
            problem(ErrorCode::IdempotencyInProgress, &[]),
        ),
        shared(
            "PreconditionFailed",
            "412",
            "If-Match names a version that is no longer current: read the resource again",
            problem(ErrorCode::PreconditionFailed, &[]),
        ),
        shared(
            "PayloadTooLarge",
            "413",
            "The body is larger than the configured limit",
            problem(ErrorCode::PayloadTooLarge, &[("limit", &262144)]),
        ),
        shared(
            "PreconditionRequired",
            "428",
            "If-Match is missing",
            problem(ErrorCode::PreconditionRequired, &[]),
        ),
        shared(
            "TooManyRequests",
            "429",
            "Too many such requests from this address: retry after Retry-After seconds",
            problem(ErrorCode::RateLimited, &[("retry_after", &12)]),
        ),
        shared(
            "ServiceUnavailable",
            "503",
            "The database is unavailable or busy: retry after Retry-After seconds",
            problem(ErrorCode::DatabaseUnavailable, &[]),
        ),
    ]
}

/// Declare the `Idempotency-Key` header, or give the one a handler declares its exact schema.
fn declare_idempotency_key(op: &mut serde_json::Map<String, Value>) {
    // What `api::idempotency` accepts: 1 to 255 visible ASCII characters.
    let schema = json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"});
    let params = op
        .entry("parameters")
        .or_insert_with(|| Value::Array(vec![]));
    let Some(params) = params.as_array_mut() else {
        return;
    };
    let declared = params.iter_mut().find(|p| {
        p.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case("idempotency-key"))
    });
    match declared {
        Some(param) => param["schema"] = schema,
        None => params.push(json!({
            "name": "Idempotency-Key",
            "in": "header",
            "description": "Repeat-safe key (1 to 255 visible ASCII characters, e.g. a UUID): a repeat with the same key and body answers the first result again.",
            "required": false,
            "schema": schema
        })),
    }
}

fn declare_common_problems(shape: &Shape, responses: &mut serde_json::Map<String, Value>) {
    let mut add = |status: &str, response: Value| {
        responses.entry(status).or_insert(response);
    };
    let shared = |name: &str| json!({"$ref": format!("#/components/responses/{name}")});
    let mut unreadable = vec![];
    if shape.path_params {
        unreadable.push("a path parameter of the wrong type");
    }
    if shape.query_params {
        unreadable.push("a query parameter of the wrong type");
    }
    if !shape.body.is_empty() {
        unreadable.push(
            "a malformed body, an unknown field, a field named twice or a value of the wrong type",
        );
    }
    if shape.idempotent() {
        unreadable.push("an invalid Idempotency-Key");
    }
    if !unreadable.is_empty() {
        let why = format!("The request cannot be read: {}", unreadable.join(", "));
        add("400", problem_response(&why, None));
    }
    if shape.token {
        add("401", shared("Unauthorized"));
    }
    if shape.path_params {
        let why = "Nothing that the caller may see is there";
        add("404", problem_response(why, None));
    }
    if shape.idempotent() {
        add("409", shared("IdempotencyInProgress"));
    }
    if shape.if_match {
        add("412", shared("PreconditionFailed"));
        add("428", shared("PreconditionRequired"));
    }
    if !shape.body.is_empty() {
        add("413", shared("PayloadTooLarge"));
        let media = shape.body.join(" or ");
        let example = problem(ErrorCode::UnsupportedMediaType, &[("expected", &media)]);
        let why = format!("The body is not {media}");
        add("415", problem_response(&why, Some(example)));
    }
    // Why a request that was read may still break a rule, with an example of the likeliest
    // when it is not one of the resource's own rules.
    let mut broken = vec![];
    let mut violation = None;
    if !shape.body.is_empty() {
        broken.push("the body breaks one or more rules, every one listed in violations");
    } else if shape.query_params {
        broken.push("a query parameter is out of range or not one of its values");
        violation = Some(per_page_out_of_range());
    }
    if shape.idempotent() {
        broken.push("the Idempotency-Key was used before with another request");
        if broken.len() == 1 {
            violation = Some(invalid(
                "Idempotency-Key",
                ErrorCode::IdempotencyKeyReused,
                &[],
            ));
        }
    }
    if !broken.is_empty() {
        add(
            "422",
            problem_response(&sentence(&broken.join("; or ")), violation),
        );
    }
    if shape.method == "post" && RATE_LIMITED.contains(&shape.path) {
        add("429", shared("TooManyRequests"));
    }
    add("503", shared("ServiceUnavailable"));
    // An operation's own 409 stands for the key's too: it carries its Retry-After.
    if shape.idempotent()
        && let Some(own) = responses.get_mut("409")
    {
        declare_idempotency_retry_after(own);
    }
    // Keep the responses in the order of their status codes.
    let mut entries: Vec<(String, Value)> = std::mem::take(responses).into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    responses.extend(entries);
}

/// The text with its first letter in upper case.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The headers every problem of a status carries (see `ApiError::error_response`).
fn declare_headers(status: &str, response: &mut Value) {
    if response
        .pointer("/content/application~1problem+json")
        .is_none()
    {
        return;
    }
    let (name, header) = match status {
        "401" => (
            "WWW-Authenticate",
            json!({"description": "The authentication scheme: `Bearer`.", "schema": {"type": "string"}}),
        ),
        "429" | "503" => (
            "Retry-After",
            json!({"description": "Seconds to wait before retrying.", "schema": {"type": "integer", "format": "int32", "minimum": 1}}),
        ),
        // Only the shared idempotency problem comes here with a 409 of its own making.
        "409"
            if response.pointer("/content/application~1problem+json/example/code")
                == Some(&json!("idempotency_in_progress")) =>
        {
            (
                "Retry-After",
                json!({"description": "Seconds until the running request's lease ends (at most 60); retry with the same key then.", "schema": {"type": "integer", "format": "int32", "minimum": 1}}),
            )
        }
        _ => return,
    };
    let Some(response) = response.as_object_mut() else {
        return;
    };
    let headers = response
        .entry("headers")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(headers) = headers.as_object_mut() {
        headers.entry(name).or_insert(header);
    }
}

/// `Retry-After` on a 409 that may be `idempotency_in_progress` (not on the shared reference,
/// which declares it itself).
fn declare_idempotency_retry_after(response: &mut Value) {
    let Some(response) = response.as_object_mut() else {
        return;
    };
    if response.contains_key("$ref") {
        return;
    }
    let headers = response
        .entry("headers")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(headers) = headers.as_object_mut() {
        headers.entry("Retry-After").or_insert(json!({
            "description": "With `idempotency_in_progress`: seconds until the running request's lease ends (at most 60); retry with the same key then.",
            "schema": {"type": "integer", "format": "int32", "minimum": 1}
        }));
    }
}

/// The resource a path is about, for the examples of its problems.
fn resource(path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_start_matches("/api/v1/").split('/').collect();
    let last = segments.last().copied().unwrap_or("");
    if segments.get(2) == Some(&"final-report") {
        return "report";
    }
    if segments.get(2) == Some(&"variations") {
        return "variation";
    }
    match (segments.first().copied().unwrap_or(""), last) {
        ("applications", "admissibility" | "integration" | "conflict-of-interest") => "review",
        ("applications", "mine" | "consensus" | "evaluations" | "reopen") => "scores",
        ("applications", _) => "application",
        ("partnerships", _) => "partnership",
        ("organizations", _) => "organization",
        ("users", _) => "user",
        ("notifications", _) => "notification",
        ("grants", "payments") | ("payments", _) => "payment",
        ("recoveries", _) => "recovery",
        ("grants", "start") => "start",
        ("grants", _) => "grant",
        ("auth", _) => "auth",
        _ => "call",
    }
}

/// The example of a problem+json answer of an operation: the likeliest code of the catalogue
/// for its status and the resource of its path.
fn problem_example(shape: &Shape, status: &str) -> Option<Value> {
    use ErrorCode as E;
    let resource = resource(shape.path);
    let example = match status {
        "400" if shape.body.is_empty() && shape.query_params => problem(
            E::InvalidQueryParameter,
            &[
                ("name", &"status"),
                (
                    "reason_en",
                    &"\"maybe\" is not one of the allowed values: draft, published.",
                ),
                (
                    "reason_it",
                    &"\"maybe\" non è tra i valori ammessi: draft, published.",
                ),
            ],
        ),
        "400" if shape.body.is_empty() && shape.path_params => problem(
            E::InvalidPathParameter,
            &[
                ("name", &"call_id"),
                (
                    "reason_en",
                    &"Expected a UUID such as 3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65, not \"x\".",
                ),
                (
                    "reason_it",
                    &"Valore atteso: un UUID come 3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65, non \"x\".",
                ),
            ],
        ),
        "400" if shape.body.is_empty() => problem(E::InvalidIdempotencyKey, &[]),
        "400" => {
            let mut example = problem(E::InvalidBody, &[]);
            example["violations"] = violations(
                "unknown_field_name",
                E::UnknownField,
                &[
                    ("name", &"unknown_field_name"),
                    ("fields", &"title, summary"),
                ],
            );
            example
        }
        "401" => problem(E::MissingToken, &[]),
        "403" => match resource {
            "review" | "scores" => problem(E::ConflictDeclarationRequired, &[]),
            "payment" => problem(E::FourEyes, &[]),
            "start" => problem(E::LeadOnly, &[]),
            _ => problem(E::RoleNotAllowed, &[]),
        },
        "404" => problem(
            match resource {
                "user" => E::UserNotFound,
                "organization" => E::OrganizationNotFound,
                "partnership" => E::PartnershipNotFound,
                "application" | "review" | "scores" => E::ApplicationNotFound,
                "notification" => E::NotificationNotFound,
                "grant" | "start" => E::GrantNotFound,
                "payment" => E::PaymentNotFound,
                "recovery" => E::RecoveryNotFound,
                "report" | "variation" => E::GrantNotFound,
                _ => E::CallNotFound,
            },
            &[],
        ),
        "409" => match resource {
            "user" | "auth" => problem(
                E::UsernameTaken,
                &[("username", &"mario.rossi@example.org")],
            ),
            "organization" => problem(E::TaxCodeTaken, &[("tax_code", &"0009545014*")]),
            "partnership" => problem(E::MemberAlreadyPresent, &[]),
            "application" => problem(E::AlreadySubmitted, &[]),
            "review" => problem(E::AdmissibilityAlreadyDecided, &[]),
            "scores" => problem(E::EvaluationFinal, &[]),
            "grant" => problem(E::OfferExpired, &[]),
            "payment" => problem(E::PaymentAlreadyAuthorized, &[]),
            "recovery" => problem(E::RecoverySettled, &[]),
            "report" => problem(E::ReportSubmitted, &[]),
            "variation" => problem(E::VariationDecided, &[]),
            "start" => problem(E::AlreadyStarted, &[("start_date", &"2027-04-01")]),
            _ => problem(E::CallCodeTaken, &[("code", &"BANDO-2026")]),
        },
        "412" => problem(E::PreconditionFailed, &[]),
        "413" => problem(E::PayloadTooLarge, &[("limit", &262144)]),
        "415" => problem(
            E::UnsupportedMediaType,
            &[("expected", &"application/json")],
        ),
        "422" => match resource {
            "user" | "auth" => invalid("username", E::InvalidUsername, &[]),
            "organization" => invalid("tax_code", E::TaxCodeCheck, &[]),
            "partnership" => invalid("call_id", E::CallClosed, &[]),
            // From the body's root: a POST names the content, a PATCH is the content.
            "application" => invalid(
                if shape.method == "patch" {
                    "budget.requested_grant"
                } else {
                    "content.budget.requested_grant"
                },
                E::GrantAboveRate,
                &[
                    ("grant_rate", &"70.00"),
                    ("total_cost", &"71428.57"),
                    ("by_rate", &"49999.99"),
                ],
            ),
            "review" => invalid(
                "reasons[0]",
                E::UnknownReason,
                &[("reason", &"nope"), ("list", &"missing_documents, other")],
            ),
            "scores" => invalid(
                "scores[0].score",
                E::ScoreOutOfRange,
                &[("code", &"QUALITY"), ("min", &"0.0"), ("max", &"25.0")],
            ),
            "notification" => per_page_out_of_range(),
            "grant" => invalid("cup", E::InvalidCup, &[]),
            "payment" => invalid("liquidation.date", E::MissingField, &[]),
            "recovery" => invalid("payment_reference", E::MissingField, &[]),
            "variation" => invalid(
                "end_date",
                E::ExtensionTooLong,
                &[("latest", &"2028-03-31"), ("months", &3)],
            ),
            "report" => invalid(
                "lines[0].category",
                E::UnknownCategory,
                &[("category", &"NOPE")],
            ),
            "start" => invalid(
                "start_date",
                E::StartBeforeAcceptance,
                &[("accepted_on", &"2027-03-10")],
            ),
            _ => invalid("closes_at", E::WindowCloseNotAfterOpen, &[]),
        },
        "428" => problem(E::PreconditionRequired, &[]),
        "429" if resource == "auth" => problem(E::AccountRateLimited, &[("retry_after", &60)]),
        "429" => problem(E::RateLimited, &[("retry_after", &12)]),
        "503" => problem(E::DatabaseUnavailable, &[]),
        _ => return None,
    };
    Some(example)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    #[test]
    fn every_operation_declares_the_problems_of_its_shape() {
        let doc = serde_json::to_value(crate::startup::openapi_document()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                let missing = |statuses: &[&str]| -> Vec<String> {
                    statuses
                        .iter()
                        .filter(|s| !responses.contains_key(**s))
                        .map(|s| s.to_string())
                        .collect()
                };
                let mut expected = vec!["503"];
                if path.contains('{') {
                    expected.extend(["400", "404"]);
                }
                if op.get("requestBody").is_some() {
                    expected.extend(["400", "413", "415", "422"]);
                }
                let token = op["security"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s.get("bearer").is_some());
                if token {
                    expected.push("401");
                }
                if token && method == "post" {
                    expected.extend(["400", "409", "422"]);
                    let params = op["parameters"].as_array().unwrap();
                    assert!(
                        params.iter().any(|p| p["name"] == "Idempotency-Key"),
                        "{method} {path} does not declare Idempotency-Key"
                    );
                }
                assert!(
                    missing(&expected).is_empty(),
                    "{method} {path} does not declare {:?}",
                    missing(&expected)
                );
            }
        }
    }

    /// Every problem example is a code of the catalogue answered with its status, and each of
    /// its violations is one too.
    #[test]
    fn problem_examples_come_from_the_catalogue() {
        use crate::domain::ErrorCode;
        let doc = serde_json::to_value(crate::startup::openapi_document()).unwrap();
        let mut responses: Vec<(String, &Value)> = doc["components"]["responses"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, r)| (name.clone(), r))
            .collect();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, r) in op["responses"].as_object().unwrap() {
                    responses.push((format!("{method} {path} {status}"), r));
                }
            }
        }
        let mut seen = 0;
        for (name, response) in responses {
            let Some(example) = response.pointer("/content/application~1problem+json/example")
            else {
                continue;
            };
            seen += 1;
            let code = ErrorCode::parse(example["code"].as_str().unwrap())
                .unwrap_or_else(|| panic!("{name}: {} is not in the catalogue", example["code"]));
            assert_eq!(example["status"], code.status(), "{name}");
            if let Some(status) = name.rsplit(' ').next().filter(|s| s.len() == 3) {
                assert_eq!(status, code.status().to_string(), "{name}");
            }
            for v in example["violations"].as_array().into_iter().flatten() {
                assert!(
                    ErrorCode::parse(v["code"].as_str().unwrap()).is_some(),
                    "{name}: {}",
                    v["code"]
                );
            }
        }
        assert!(seen > 100, "only {seen} problem examples");
    }

    #[test]
    fn shared_problems_carry_their_headers() {
        let doc = serde_json::to_value(crate::startup::openapi_document()).unwrap();
        let shared = &doc["components"]["responses"];
        let header = |name: &str, header: &str| -> Value {
            shared[name]["headers"][header]["schema"]["type"].clone()
        };
        assert_eq!(header("Unauthorized", "WWW-Authenticate"), "string");
        assert_eq!(header("TooManyRequests", "Retry-After"), "integer");
        assert_eq!(header("ServiceUnavailable", "Retry-After"), "integer");
        assert_eq!(header("IdempotencyInProgress", "Retry-After"), "integer");
        // An operation's own 409 stands for the key's too.
        assert_eq!(
            doc["paths"]["/api/v1/organizations"]["post"]["responses"]["409"]["headers"]["Retry-After"]
                ["schema"]["type"],
            "integer"
        );
        assert_eq!(
            doc["paths"]["/api/v1/auth/register"]["post"]["responses"]["429"]["$ref"],
            "#/components/responses/TooManyRequests"
        );
        // Logging in may also make the account wait: its own 429, with the same header.
        let login = &doc["paths"]["/api/v1/auth/login"]["post"]["responses"]["429"];
        assert_eq!(login["headers"]["Retry-After"]["schema"]["type"], "integer");
    }
}
