//! The authorization matrix, generated from the served OpenAPI document: every operation,
//! called with no token, with an expired token, by each role and by another tenant of the
//! same role, answers as the contract says. 401 when the token is missing or invalid, 403
//! when the role may never do this, 404 when the object belongs to someone the caller may not
//! see, and none of those to a caller who may.
//!
//! Every operation of the document needs at least one row in [`table`], and every row an
//! operation of the document: a new operation without its expectation fails the test, and
//! so does a row left behind by a removed one.
//!
//! The callers are real users of one application (one per backend): the lead's
//! representative, the representative of another member of the same partnership, an
//! applicant of another partnership, the evaluator of the agency the application goes to
//! (MONTAGNA), the evaluator of another agency (BRESCIA) and an administrator. Path
//! parameters name real objects: a submitted, admitted, scored and funded application, its
//! partnership, its lead organization, its grant, and so on. Bodies are `{}` unless a row
//! says otherwise: roles are checked before bodies are read, and an empty body keeps an
//! allowed caller from changing what the next rows rely on.
//!
//! `AUTHZ_MATRIX=1` prints every cell (operation, caller, status, problem code).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use base64::Engine;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::applications::{Members, complete_application, members, partnership, submit};
use crate::both;
use crate::helpers::*;
use crate::registry::{enterprise, register};

const APPLICANT2: (&str, &str) = (
    "richiedente2@demo.welfare-grants.test",
    "demo-applicant-password",
);
const MEMBER: (&str, &str) = ("socio.authz@example.org", "a long and private passphrase");
const SECOND_MONTAGNA: (&str, &str) = (
    "secondo.authz@ats-montagna.example",
    "a long and private passphrase",
);
const DEMO: &str = "RLD-DEMO-CONCILIAZIONE";

/// The columns of a row, in order.
const CALLERS: [&str; 8] = [
    "no token",
    "expired token",
    "lead applicant",
    "member applicant",
    "other applicant",
    "evaluator MONTAGNA",
    "evaluator BRESCIA",
    "admin",
];

/// What a caller gets, as far as authorization goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Neither 401, 403 nor 404: the operation ran, or failed for another reason (a body of
    /// `{}`, a missing `If-Match`, a closed window, ...).
    Allowed,
    Unauthorized,
    Forbidden,
    Hidden,
}

impl Outcome {
    fn matches(self, status: StatusCode) -> bool {
        match self {
            Outcome::Allowed => !matches!(status.as_u16(), 401 | 403 | 404),
            Outcome::Unauthorized => status == StatusCode::UNAUTHORIZED,
            Outcome::Forbidden => status == StatusCode::FORBIDDEN,
            Outcome::Hidden => status == StatusCode::NOT_FOUND,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Outcome::Allowed => "neither 401, 403 nor 404",
            Outcome::Unauthorized => "401",
            Outcome::Forbidden => "403",
            Outcome::Hidden => "404",
        }
    }
}

/// The expectation of one cell: what the contract wants and what the service answers.
/// They differ only where a deviation is known and tracked (none today): such a cell asserts
/// what the service does and fails, asking for its marker to go, once the service is fixed.
#[derive(Debug, Clone, Copy)]
struct Exp {
    contract: Outcome,
    service: Outcome,
}

const fn exp(o: Outcome) -> Exp {
    Exp {
        contract: o,
        service: o,
    }
}

/// Allowed.
const OK: Exp = exp(Outcome::Allowed);
/// 401.
const UNAUTH: Exp = exp(Outcome::Unauthorized);
/// 403: the role may never do this.
const NO: Exp = exp(Outcome::Forbidden);
/// 404: the object is someone else's.
const HID: Exp = exp(Outcome::Hidden);

// The role columns: lead, member, other applicant, evaluator MONTAGNA, evaluator BRESCIA, admin.

/// Any logged-in user (lists are scoped to what each caller may see).
const EVERYONE: [Exp; 6] = [OK, OK, OK, OK, OK, OK];
/// Administrators only.
const ADMIN_ONLY: [Exp; 6] = [NO, NO, NO, NO, NO, OK];
/// Applicants only, with no object of anybody's in the path.
const APPLICANTS: [Exp; 6] = [OK, OK, OK, NO, NO, NO];
/// The lead's representatives change it; a member reads it but may not change it, so to it
/// the object is not there; other roles never change applicants' objects.
const LEAD_WRITES: [Exp; 6] = [OK, HID, HID, NO, NO, NO];
/// A step of the project that only the lead takes: a member, who reads the project, is told
/// it may not (403); to other applicants the project is not there.
const LEAD_STEPS: [Exp; 6] = [OK, NO, HID, NO, NO, NO];
/// The application's members, the evaluators of its agency and administrators read it.
const APPLICATION_READS: [Exp; 6] = [OK, OK, HID, OK, HID, OK];
/// The partnership's (or organization's) members and administrators read it.
const PARTNER_READS: [Exp; 6] = [OK, OK, HID, HID, HID, OK];
/// The evaluators of the application's agency, and nobody else.
const EVALUATOR_WORK: [Exp; 6] = [NO, NO, NO, OK, HID, NO];
/// An invitation, answered by the invited organization's representatives (the other applicant
/// here) only: to anybody else it is not there.
const INVITEE_ANSWERS: [Exp; 6] = [HID, HID, OK, NO, NO, NO];
/// An agency's ranking, read by its evaluators and by administrators.
const AGENCY_READS: [Exp; 6] = [NO, NO, NO, OK, HID, OK];

/// One row of the matrix: an operation on some objects, and what each caller gets.
struct Row {
    op: &'static str,
    /// Path parameters that name another fixture than their default one.
    ids: &'static [(&'static str, &'static str)],
    body: Value,
    expect: [Exp; 8],
}

impl Row {
    fn on(mut self, ids: &'static [(&'static str, &'static str)]) -> Row {
        self.ids = ids;
        self
    }

    fn body(mut self, body: Value) -> Row {
        self.body = body;
        self
    }
}

fn row(op: &'static str, expect: [Exp; 8]) -> Row {
    Row {
        op,
        ids: &[],
        body: json!({}),
        expect,
    }
}

/// Needs a token.
fn token(op: &'static str, roles: [Exp; 6]) -> Row {
    let [a, b, c, d, e, f] = roles;
    row(op, [UNAUTH, UNAUTH, a, b, c, d, e, f])
}

/// Open to the public; a token, when sent, must be valid.
fn optional(op: &'static str, roles: [Exp; 6]) -> Row {
    let [a, b, c, d, e, f] = roles;
    row(op, [OK, UNAUTH, a, b, c, d, e, f])
}

/// Open to everybody; any token is ignored.
fn public(op: &'static str) -> Row {
    row(op, [OK; 8])
}

/// The expected answers, one row per operation (and more for other objects).
fn table() -> Vec<Row> {
    vec![
        public("GET /status"),
        // Authentication: anybody may log in, register and refresh; the rest is one's own.
        public("POST /api/v1/auth/login"),
        public("POST /api/v1/auth/token"),
        public("POST /api/v1/auth/refresh"),
        public("POST /api/v1/auth/register"),
        token("GET /api/v1/auth/me", EVERYONE),
        token("POST /api/v1/auth/password", EVERYONE),
        // Users: administrators manage them.
        token("POST /api/v1/users", ADMIN_ONLY),
        token("GET /api/v1/users", ADMIN_ONLY),
        token("GET /api/v1/users/{user_id}", ADMIN_ONLY),
        token("PATCH /api/v1/users/{user_id}", ADMIN_ONLY),
        // Agencies and published calls are public; drafts are the administrators'.
        public("GET /api/v1/agencies"),
        optional("GET /api/v1/calls", EVERYONE),
        token("POST /api/v1/calls", ADMIN_ONLY),
        optional("GET /api/v1/calls/{call_id}", EVERYONE),
        row(
            "GET /api/v1/calls/{call_id}",
            [HID, UNAUTH, HID, HID, HID, HID, HID, OK],
        )
        .on(&[("call_id", "draft_call")]),
        token("PATCH /api/v1/calls/{call_id}", ADMIN_ONLY),
        token("POST /api/v1/calls/{call_id}/clone", ADMIN_ONLY),
        token("POST /api/v1/calls/{call_id}/publish", ADMIN_ONLY),
        optional("GET /api/v1/calls/{call_id}/amendments", EVERYONE),
        row(
            "GET /api/v1/calls/{call_id}/amendments",
            [HID, UNAUTH, HID, HID, HID, HID, HID, OK],
        )
        .on(&[("call_id", "draft_call")]),
        optional("GET /api/v1/calls/{call_id}/envelopes", EVERYONE),
        row(
            "GET /api/v1/calls/{call_id}/envelopes",
            [HID, UNAUTH, HID, HID, HID, HID, HID, OK],
        )
        .on(&[("call_id", "draft_call")]),
        token("PUT /api/v1/calls/{call_id}/envelopes", ADMIN_ONLY),
        // A dry run: an administrator's `{}` would re-split the demo call's envelopes.
        token("POST /api/v1/calls/{call_id}/envelopes/split", ADMIN_ONLY)
            .body(json!({"dry_run": true})),
        token("POST /api/v1/calls/{call_id}/reallocations", ADMIN_ONLY),
        public("GET /api/v1/calls/{call_id}/results"),
        // An agency's ranking: its evaluators compute and approve it; administrators read it.
        token(
            "GET /api/v1/calls/{call_id}/agencies/{agency_code}/dashboard",
            AGENCY_READS,
        ),
        token(
            "GET /api/v1/calls/{call_id}/agencies/{agency_code}/ranking",
            AGENCY_READS,
        ),
        token(
            "POST /api/v1/calls/{call_id}/agencies/{agency_code}/ranking",
            [NO, NO, NO, OK, HID, NO],
        ),
        // Approving freezes the ranking and offers the grants: the agency's act.
        token(
            "POST /api/v1/calls/{call_id}/agencies/{agency_code}/ranking/approve",
            [NO, NO, NO, OK, HID, NO],
        ),
        // A what-if that stores nothing: a read.
        token(
            "POST /api/v1/calls/{call_id}/agencies/{agency_code}/ranking/simulate",
            AGENCY_READS,
        ),
        token(
            "GET /api/v1/calls/{call_id}/agencies/{agency_code}/ranking/versions",
            AGENCY_READS,
        ),
        // The registry: applicants register and represent organizations; their partners
        // and administrators read them.
        token("POST /api/v1/organizations", APPLICANTS),
        token("GET /api/v1/organizations", EVERYONE),
        token("GET /api/v1/organizations/{organization_id}", PARTNER_READS),
        token("PATCH /api/v1/organizations/{organization_id}", LEAD_WRITES),
        token(
            "POST /api/v1/organizations/{organization_id}/representatives",
            LEAD_WRITES,
        ),
        // Partnerships: built by the lead, read by the members and administrators.
        token("POST /api/v1/partnerships", APPLICANTS),
        token("GET /api/v1/partnerships", EVERYONE),
        token("GET /api/v1/partnerships/{partnership_id}", PARTNER_READS),
        token("DELETE /api/v1/partnerships/{partnership_id}", LEAD_WRITES)
            .on(&[("partnership_id", "spare_partnership")]),
        token(
            "GET /api/v1/partnerships/{partnership_id}/eligibility",
            PARTNER_READS,
        ),
        token(
            "POST /api/v1/partnerships/{partnership_id}/members",
            LEAD_WRITES,
        ),
        token(
            "POST /api/v1/partnerships/{partnership_id}/members/{organization_id}/accept",
            INVITEE_ANSWERS,
        )
        .on(&[
            ("partnership_id", "inviting_partnership"),
            ("organization_id", "guest_organization"),
        ]),
        token(
            "POST /api/v1/partnerships/{partnership_id}/members/{organization_id}/decline",
            INVITEE_ANSWERS,
        )
        .on(&[
            ("partnership_id", "inviting_partnership"),
            ("organization_id", "guest_organization"),
        ]),
        token(
            "DELETE /api/v1/partnerships/{partnership_id}/members/{organization_id}",
            LEAD_WRITES,
        )
        .on(&[
            ("partnership_id", "spare_partnership"),
            ("organization_id", "member_organization"),
        ]),
        // Applications: the lead drafts, submits and withdraws; members read; the agency's
        // evaluators read what was submitted to it.
        token("POST /api/v1/applications", APPLICANTS),
        token("GET /api/v1/applications", EVERYONE),
        token(
            "GET /api/v1/applications/{application_id}",
            APPLICATION_READS,
        ),
        // A draft is not the agency's yet.
        token(
            "GET /api/v1/applications/{application_id}",
            [OK, OK, HID, HID, HID, OK],
        )
        .on(&[("application_id", "draft_application")]),
        token("PATCH /api/v1/applications/{application_id}", LEAD_WRITES)
            .on(&[("application_id", "draft_application")]),
        token("DELETE /api/v1/applications/{application_id}", LEAD_WRITES)
            .on(&[("application_id", "spare_application")]),
        token(
            "GET /api/v1/applications/{application_id}/documents",
            APPLICATION_READS,
        ),
        token(
            "POST /api/v1/applications/{application_id}/documents",
            LEAD_WRITES,
        )
        .on(&[("application_id", "draft_application")]),
        // A draft's annex is not the agency's yet (before it is deleted below).
        token(
            "GET /api/v1/applications/{application_id}/documents/{document_id}/content",
            [OK, OK, HID, HID, HID, OK],
        )
        .on(&[("application_id", "draft_application")]),
        token(
            "DELETE /api/v1/applications/{application_id}/documents/{document_id}",
            LEAD_WRITES,
        )
        .on(&[("application_id", "draft_application")]),
        // An annex and its file: exactly who reads the application.
        token(
            "GET /api/v1/applications/{application_id}/documents/{document_id}",
            APPLICATION_READS,
        )
        .on(&[("document_id", "submitted_document")]),
        token(
            "GET /api/v1/applications/{application_id}/documents/{document_id}/content",
            APPLICATION_READS,
        )
        .on(&[("document_id", "submitted_document")]),
        token(
            "POST /api/v1/applications/{application_id}/submit",
            LEAD_WRITES,
        )
        .on(&[("application_id", "draft_application")]),
        token(
            "GET /api/v1/applications/{application_id}/receipt",
            APPLICATION_READS,
        ),
        token(
            "GET /api/v1/applications/{application_id}/history",
            APPLICATION_READS,
        ),
        token(
            "POST /api/v1/applications/{application_id}/withdraw",
            LEAD_WRITES,
        ),
        // Review: the agency's evaluators; administrators read, reopen with a reason, and
        // never decide admissibility nor score.
        token(
            "GET /api/v1/applications/{application_id}/conflict-of-interest",
            AGENCY_READS,
        ),
        token(
            "POST /api/v1/applications/{application_id}/conflict-of-interest",
            EVALUATOR_WORK,
        ),
        token(
            "POST /api/v1/applications/{application_id}/admissibility",
            EVALUATOR_WORK,
        ),
        token(
            "POST /api/v1/applications/{application_id}/integration",
            LEAD_WRITES,
        ),
        token(
            "PUT /api/v1/applications/{application_id}/evaluations/mine",
            EVALUATOR_WORK,
        ),
        // Scores are published to the applicants with the approved ranking (approved here).
        token(
            "GET /api/v1/applications/{application_id}/evaluations",
            APPLICATION_READS,
        ),
        token(
            "POST /api/v1/applications/{application_id}/evaluations/{evaluation_id}/reopen",
            ADMIN_ONLY,
        ),
        token(
            "PUT /api/v1/applications/{application_id}/consensus",
            EVALUATOR_WORK,
        ),
        // Every user's own inbox.
        token("GET /api/v1/notifications", EVERYONE),
        token(
            "POST /api/v1/notifications/{notification_id}/read",
            [OK, HID, HID, HID, HID, HID],
        ),
        // Grants: the lead answers the offer; administrators revoke.
        token("GET /api/v1/grants", EVERYONE),
        token("GET /api/v1/grants/{grant_id}", APPLICATION_READS),
        token("POST /api/v1/grants/{grant_id}/accept", LEAD_WRITES),
        // An unknown field: the lead's `{}` would decline the offer.
        token("POST /api/v1/grants/{grant_id}/decline", LEAD_WRITES)
            .body(json!({"authz_probe": true})),
        // Revocation: administrators and the ATS's evaluators.
        token(
            "POST /api/v1/grants/{grant_id}/revoke",
            [NO, NO, NO, OK, HID, OK],
        ),
        // An unknown field: the lead's `{}` would renounce the grant.
        token("POST /api/v1/grants/{grant_id}/renounce", LEAD_STEPS)
            .body(json!({"authz_probe": true})),
        // Recovery orders: read like the grant; settled or cancelled by the Region.
        token("GET /api/v1/recoveries", EVERYONE),
        token("GET /api/v1/recoveries/{recovery_id}", APPLICATION_READS),
        token("POST /api/v1/recoveries/{recovery_id}/settle", ADMIN_ONLY),
        token("POST /api/v1/recoveries/{recovery_id}/cancel", ADMIN_ONLY),
        // The project's start: the lead's; a member reads the grant, so it is told why not.
        token("POST /api/v1/grants/{grant_id}/start", LEAD_STEPS),
        // Payments: read like the grant; the ATS authorizes, the Region records, either cancels.
        token("GET /api/v1/grants/{grant_id}/payments", APPLICATION_READS),
        token("GET /api/v1/payments", EVERYONE),
        token("GET /api/v1/payments/{payment_id}", APPLICATION_READS),
        token(
            "POST /api/v1/payments/{payment_id}/authorize",
            EVALUATOR_WORK,
        ),
        token("POST /api/v1/payments/{payment_id}/record", ADMIN_ONLY),
        token(
            "POST /api/v1/payments/{payment_id}/cancel",
            [NO, NO, NO, OK, HID, OK],
        ),
        // The final report: read like the grant; the lead writes and submits it and answers an
        // integration; the ATS's evaluators verify it. The fixture's project is revoked, so the
        // allowed callers meet a 409 or a 422, never a 401, 403 or 404.
        token(
            "GET /api/v1/grants/{grant_id}/final-report",
            APPLICATION_READS,
        ),
        token("PATCH /api/v1/grants/{grant_id}/final-report", LEAD_STEPS),
        token(
            "POST /api/v1/grants/{grant_id}/final-report/submit",
            LEAD_STEPS,
        ),
        token(
            "POST /api/v1/grants/{grant_id}/final-report/verification",
            EVALUATOR_WORK,
        ),
        token(
            "POST /api/v1/grants/{grant_id}/final-report/integration",
            LEAD_STEPS,
        ),
        token(
            "POST /api/v1/grants/{grant_id}/final-report/documents",
            LEAD_STEPS,
        ),
        token(
            "GET /api/v1/grants/{grant_id}/final-report/documents/{document_id}",
            APPLICATION_READS,
        )
        .on(&[("document_id", "evidence")]),
        token(
            "GET /api/v1/grants/{grant_id}/final-report/documents/{document_id}/content",
            APPLICATION_READS,
        )
        .on(&[("document_id", "evidence")]),
        // Variations: the lead requests them, the ATS decides, an added organization consents
        // (nobody here represents one, so to every applicant the variation is not there).
        token("POST /api/v1/grants/{grant_id}/variations", LEAD_STEPS),
        token(
            "GET /api/v1/grants/{grant_id}/variations",
            APPLICATION_READS,
        ),
        token(
            "GET /api/v1/grants/{grant_id}/variations/{variation_id}",
            APPLICATION_READS,
        ),
        token(
            "POST /api/v1/grants/{grant_id}/variations/{variation_id}/decision",
            EVALUATOR_WORK,
        ),
        token(
            "POST /api/v1/grants/{grant_id}/variations/{variation_id}/consent",
            [HID, HID, HID, NO, NO, NO],
        ),
        token("GET /api/v1/audit-events", ADMIN_ONLY),
        // Webhooks: administrators.
        token("POST /api/v1/webhooks", ADMIN_ONLY),
        token("GET /api/v1/webhooks", ADMIN_ONLY),
        token("GET /api/v1/webhooks/{webhook_id}", ADMIN_ONLY),
        token("DELETE /api/v1/webhooks/{webhook_id}", ADMIN_ONLY)
            .on(&[("webhook_id", "spare_webhook")]),
        token("GET /api/v1/webhooks/{webhook_id}/deliveries", ADMIN_ONLY),
        // Last: it ends the session of each caller's token, which every row above uses.
        token("POST /api/v1/auth/logout", EVERYONE),
    ]
}

/// The fixture a path parameter names unless a row says otherwise.
fn default_fixture(param: &str) -> Option<&'static str> {
    Some(match param {
        "call_id" => "call",
        "agency_code" => "agency",
        "application_id" => "application",
        "document_id" => "document",
        "evaluation_id" => "evaluation",
        "organization_id" => "organization",
        "partnership_id" => "partnership",
        "user_id" => "user",
        "grant_id" => "grant",
        "payment_id" => "payment",
        "recovery_id" => "recovery",
        "variation_id" => "variation",
        "notification_id" => "notification",
        "webhook_id" => "webhook",
        _ => return None,
    })
}

/// The operations of the served document: `"METHOD /path"` and whether the document lets
/// them be called without a token.
async fn operations(app: &TestApp) -> BTreeMap<String, bool> {
    let res = app.get("/api-docs/openapi.json", None).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the OpenAPI document is public"
    );
    let doc: Value = res.json().await.unwrap();
    let global = doc.get("security").cloned();
    let mut ops = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            if ![
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ]
            .contains(&method.as_str())
            {
                continue;
            }
            let security = op.get("security").or(global.as_ref());
            let anonymous = match security.and_then(Value::as_array) {
                None => true,
                Some(reqs) => reqs
                    .iter()
                    .any(|r| r.as_object().is_some_and(|o| o.is_empty())),
            };
            ops.insert(format!("{} {path}", method.to_uppercase()), anonymous);
        }
    }
    ops
}

struct Fixture {
    ids: HashMap<&'static str, String>,
    /// The callers' tokens, in the order of [`CALLERS`].
    tokens: [Option<String>; 8],
}

async fn json_of(res: reqwest::Response, expected: StatusCode, what: &str) -> Value {
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(status, expected, "{what}: {body}");
    body
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

/// The admin's own access token, re-signed with `exp` an hour ago: only its expiry is wrong.
async fn expired_token(app: &TestApp, admin: &str) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = admin.split('.').collect();
    let header: jsonwebtoken::Header =
        serde_json::from_slice(&engine.decode(parts[0]).unwrap()).unwrap();
    let mut claims: Value = serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap();
    let key =
        jsonwebtoken::EncodingKey::from_secret(app.settings.auth.secret.expose_secret().as_bytes());
    let now = chrono::Utc::now().timestamp();
    // The same claims re-signed with a future expiry work: the key and the claims are right.
    claims["exp"] = json!(now + 600);
    let fresh = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&fresh)).await.status(),
        StatusCode::OK,
        "a re-signed token is accepted"
    );
    claims["iat"] = json!(now - 7200);
    claims["nbf"] = json!(now - 7200);
    claims["exp"] = json!(now - 3600);
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

/// Real objects for every path parameter, and the callers' tokens. The ranking of MONTAGNA
/// is approved at the end, so the clock is past the demo call's window from then on.
async fn fixture(app: &TestApp) -> Fixture {
    let admin = app.login(ADMIN).await;
    let lead = app.login(APPLICANT2).await;
    let other = app.login(APPLICANT).await;
    let evaluator = app.login(EVALUATOR_MONTAGNA).await;
    let brescia = app.login(EVALUATOR_BRESCIA).await;
    let res = app
        .post(
            "/api/v1/users",
            Some(&admin),
            &json!({"username": SECOND_MONTAGNA.0, "password": SECOND_MONTAGNA.1,
                "full_name": "Secondo Valutatore", "role": "evaluator", "agency_code": "MONTAGNA"}),
        )
        .await;
    json_of(res, StatusCode::CREATED, "a second evaluator").await;
    let second = app.login(SECOND_MONTAGNA).await;
    let res = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({"username": MEMBER.0, "password": MEMBER.1, "full_name": "Socio Partner"}),
        )
        .await;
    let member_user = id_of(&json_of(res, StatusCode::CREATED, "the member registers").await);
    let member = app.login(MEMBER).await;

    // The lead's four organizations; the member represents the second one (not the lead).
    let m = members(app, &lead, 1).await;
    let res = app
        .post(
            &format!("/api/v1/organizations/{}/representatives", m.others[0]),
            Some(&lead),
            &json!({"username": MEMBER.0}),
        )
        .await;
    json_of(
        res,
        StatusCode::CREATED,
        "the member becomes a representative",
    )
    .await;

    let demo = app.call_id(DEMO).await;
    let submitted = complete_application(app, &lead, &demo, &m).await;
    assert_eq!(
        submit(app, &lead, &submitted, None).await.status(),
        StatusCode::OK
    );
    let view = json_of(
        app.get(&format!("/api/v1/applications/{submitted}"), Some(&lead))
            .await,
        StatusCode::OK,
        "the submitted application",
    )
    .await;
    let main_partnership = view["partnership_id"].as_str().unwrap().to_owned();
    let draft = complete_application(app, &lead, &demo, &m).await;
    let docs = json_of(
        app.get(
            &format!("/api/v1/applications/{draft}/documents"),
            Some(&lead),
        )
        .await,
        StatusCode::OK,
        "the draft's documents",
    )
    .await;
    let document = id_of(&docs[0]);
    let submitted_docs = json_of(
        app.get(
            &format!("/api/v1/applications/{submitted}/documents"),
            Some(&lead),
        )
        .await,
        StatusCode::OK,
        "the submitted application's documents",
    )
    .await;
    let submitted_document = id_of(&submitted_docs[0]);
    let spare_for_application = partnership(app, &lead, &demo, &m).await;
    let res = app
        .post(
            "/api/v1/applications",
            Some(&lead),
            &json!({"partnership_id": spare_for_application}),
        )
        .await;
    let spare_application = id_of(&json_of(res, StatusCode::CREATED, "a spare draft").await);
    let spare_partnership = partnership(app, &lead, &demo, &m).await;
    // An organization of the other applicant, invited by the lead's partnership.
    let guest = register(
        app,
        &other,
        &enterprise(90, "SO", &["SO"], "3", Some("200000.00"), None),
    )
    .await;
    let inviting_partnership = partnership(
        app,
        &lead,
        &demo,
        &Members {
            lead: m.lead.clone(),
            others: vec![guest.clone()],
        },
    )
    .await;

    // Both MONTAGNA evaluators declare, one admits, both score: the ranking can be computed.
    let path = format!("/api/v1/applications/{submitted}");
    for t in [&evaluator, &second] {
        let res = app
            .post(
                &format!("{path}/conflict-of-interest"),
                Some(t),
                &json!({"has_conflict": false}),
            )
            .await;
        json_of(res, StatusCode::CREATED, "no conflict").await;
    }
    let res = app
        .post(
            &format!("{path}/admissibility"),
            Some(&evaluator),
            &json!({"decision": "admitted"}),
        )
        .await;
    json_of(res, StatusCode::OK, "admitted").await;
    let criteria = [
        ("QUALITY", "20"),
        ("PARTNERSHIP", "15"),
        ("REACH", "12"),
        ("INNOVATION", "8"),
        ("SUSTAINABILITY", "7"),
        ("BUDGET", "8"),
        ("COMPLEMENTARITY", "6"),
    ];
    let scores: Vec<Value> = criteria
        .iter()
        .map(|(c, s)| json!({"criterion": c, "score": s, "justification": "Motivazione."}))
        .collect();
    for t in [&evaluator, &second] {
        let res = app
            .request(
                Method::PUT,
                &format!("{path}/evaluations/mine"),
                Some(t),
                Some(&json!({"scores": scores, "final": true})),
            )
            .await;
        json_of(res, StatusCode::OK, "a final score").await;
    }
    let outcome = json_of(
        app.get(&format!("{path}/evaluations"), Some(&admin)).await,
        StatusCode::OK,
        "the evaluations",
    )
    .await;
    let evaluation = id_of(&outcome["evaluations"][0]);

    // A draft call (administrators only) and two webhook subscriptions.
    let opens = chrono::Utc::now() + chrono::Duration::days(200);
    let closes = opens + chrono::Duration::days(60);
    let res = app
        .post(
            &format!("/api/v1/calls/{demo}/clone"),
            Some(&admin),
            &json!({"code": "RLD-AUTHZ-DRAFT", "opens_at": opens.to_rfc3339(), "closes_at": closes.to_rfc3339()}),
        )
        .await;
    let draft_call = id_of(&json_of(res, StatusCode::CREATED, "a draft call").await);
    let mut hooks = Vec::new();
    for n in 0..2 {
        let res = app
            .post(
                "/api/v1/webhooks",
                Some(&admin),
                &json!({"url": format!("https://hooks.example.invalid/authz/{n}"), "event_types": ["grant.expired"]}),
            )
            .await;
        hooks.push(id_of(&json_of(res, StatusCode::CREATED, "a webhook").await));
    }

    // The window closes; MONTAGNA's ranking is computed and approved: a grant is offered.
    let later = chrono::Utc::now() + chrono::Duration::days(100);
    app.clock.set(later);
    let ranking = format!("/api/v1/calls/{demo}/agencies/MONTAGNA/ranking");
    json_of(
        app.post(&ranking, Some(&evaluator), &json!({})).await,
        StatusCode::CREATED,
        "a draft ranking",
    )
    .await;
    let act =
        json!({"act_number": "decreto ATS della Montagna n. 1", "act_date": later.date_naive()});
    json_of(
        app.post(&format!("{ranking}/approve"), Some(&evaluator), &act)
            .await,
        StatusCode::OK,
        "the ranking approved",
    )
    .await;
    let grants = json_of(
        app.get("/api/v1/grants", Some(&lead)).await,
        StatusCode::OK,
        "the lead's grants",
    )
    .await;
    let grant = id_of(&grants["items"][0]);
    // Accepted and started: its advance is a payment due.
    json_of(
        app.post(
            &format!("/api/v1/grants/{grant}/accept"),
            Some(&lead),
            &json!({"cup": "J51B22000120002"}),
        )
        .await,
        StatusCode::OK,
        "the grant accepted",
    )
    .await;
    let started = json_of(
        app.post(
            &format!("/api/v1/grants/{grant}/start"),
            Some(&lead),
            &json!({"start_date": later.with_timezone(&chrono_tz::Europe::Rome).date_naive()}),
        )
        .await,
        StatusCode::OK,
        "the project started",
    )
    .await;
    // A variation waiting for the ATS: an extension of a month.
    let end = chrono::NaiveDate::parse_from_str(started["end_date"].as_str().unwrap(), "%Y-%m-%d")
        .unwrap();
    let variation = id_of(
        &json_of(
            app.post(
                &format!("/api/v1/grants/{grant}/variations"),
                Some(&lead),
                &json!({"kind": "extension", "reasons": "Prova.", "end_date": end + chrono::Months::new(1)}),
            )
            .await,
            StatusCode::CREATED,
            "an extension requested",
        )
        .await,
    );
    let plan = json_of(
        app.get(&format!("/api/v1/grants/{grant}/payments"), Some(&lead))
            .await,
        StatusCode::OK,
        "the grant's payments",
    )
    .await;
    let payment = id_of(&plan["payments"][0]);
    // An evidence file of its final report.
    let form = reqwest::multipart::Form::new()
        .part(
            "metadata",
            reqwest::multipart::Part::text(json!({"kind": "report_evidence"}).to_string())
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(pdf("authz evidence")).file_name("fattura.pdf"),
        );
    let res = app
        .client
        .post(app.url(&format!("/api/v1/grants/{grant}/final-report/documents")))
        .bearer_auth(&lead)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let evidence = id_of(&json_of(res, StatusCode::CREATED, "an evidence file").await);
    // Paid, then revoked: what it paid is to be recovered.
    let today = later.with_timezone(&chrono_tz::Europe::Rome).date_naive();
    json_of(
        app.post(
            &format!("/api/v1/payments/{payment}/authorize"),
            Some(&evaluator),
            &json!({"liquidation": {"number": "DDG 1", "date": today}}),
        )
        .await,
        StatusCode::OK,
        "the advance authorized",
    )
    .await;
    json_of(
        app.post(
            &format!("/api/v1/payments/{payment}/record"),
            Some(&admin),
            &json!({"outcome": "paid", "order": {"number": "MP 1", "date": today}}),
        )
        .await,
        StatusCode::OK,
        "the advance paid",
    )
    .await;
    json_of(
        app.post(
            &format!("/api/v1/grants/{grant}/revoke"),
            Some(&admin),
            &json!({"reason": "Revoca di prova.", "cause": "other"}),
        )
        .await,
        StatusCode::OK,
        "the grant revoked",
    )
    .await;
    let recoveries = json_of(
        app.get(
            &format!("/api/v1/recoveries?grant_id={grant}"),
            Some(&admin),
        )
        .await,
        StatusCode::OK,
        "the grant's recovery orders",
    )
    .await;
    let recovery = id_of(&recoveries["items"][0]);
    let inbox = json_of(
        app.get("/api/v1/notifications", Some(&lead)).await,
        StatusCode::OK,
        "the lead's inbox",
    )
    .await;
    let notification = id_of(&inbox["items"][0]);
    let expired = expired_token(app, &admin).await;

    let ids = HashMap::from([
        ("call", demo),
        ("draft_call", draft_call),
        ("agency", "MONTAGNA".to_owned()),
        ("application", submitted),
        ("draft_application", draft),
        ("spare_application", spare_application),
        ("document", document),
        ("submitted_document", submitted_document),
        ("evaluation", evaluation),
        ("organization", m.lead.clone()),
        ("member_organization", m.others[1].clone()),
        ("partnership", main_partnership),
        ("spare_partnership", spare_partnership),
        ("inviting_partnership", inviting_partnership),
        ("guest_organization", guest),
        ("user", member_user),
        ("grant", grant),
        ("payment", payment),
        ("evidence", evidence),
        ("variation", variation),
        ("recovery", recovery),
        ("notification", notification),
        ("webhook", hooks[0].clone()),
        ("spare_webhook", hooks[1].clone()),
    ]);
    Fixture {
        ids,
        tokens: [
            None,
            Some(expired),
            Some(lead),
            Some(member),
            Some(other),
            Some(evaluator),
            Some(brescia),
            Some(admin),
        ],
    }
}

/// The path of a row with its parameters replaced by the fixture's ids.
fn concrete_path(row: &Row, template: &str, fixture: &Fixture) -> Result<String, String> {
    let mut path = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..]
            .find('}')
            .ok_or("an unclosed path parameter")?
            + start;
        let param = &rest[start + 1..end];
        let key = row
            .ids
            .iter()
            .find(|(p, _)| *p == param)
            .map(|(_, k)| *k)
            .or_else(|| default_fixture(param))
            .ok_or_else(|| format!("no fixture for the path parameter {{{param}}}: add one"))?;
        let id = fixture
            .ids
            .get(key)
            .ok_or_else(|| format!("no fixture named {key}"))?;
        path.push_str(&rest[..start]);
        path.push_str(id);
        rest = &rest[end + 1..];
    }
    path.push_str(rest);
    Ok(path)
}

/// Send one request; answer its status, content type and problem code.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> (StatusCode, String, String) {
    let mut req = app.client.request(method.clone(), app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if method == Method::PATCH {
        req = req
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string());
    } else if method != Method::GET && method != Method::DELETE {
        req = req.json(body);
    }
    let res = req.send().await.expect("the request is sent");
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = res.text().await.unwrap_or_default();
    let code = serde_json::from_str::<Value>(&text)
        .ok()
        .filter(|_| content_type == "application/problem+json")
        .and_then(|v| v.get("code").and_then(Value::as_str).map(String::from))
        .unwrap_or_default();
    (status, content_type, code)
}

/// Whether an answer fits its cell; `Err` says how it does not.
fn judge(expect: Exp, status: StatusCode, content_type: &str, code: &str) -> Result<(), String> {
    if status.is_server_error() {
        return Err(format!("answered {status} ({code})"));
    }
    if status == StatusCode::NOT_FOUND && code == "route_not_found" {
        return Err("no such route: the path or method is not served".into());
    }
    if matches!(status.as_u16(), 401 | 403 | 404) && content_type != "application/problem+json" {
        return Err(format!(
            "answered {status} as {content_type:?}, not problem+json"
        ));
    }
    if expect.service.matches(status) {
        return Ok(());
    }
    if expect.contract != expect.service && expect.contract.matches(status) {
        return Err(format!(
            "answers {status} as the contract wants: the KNOWN_DEVIATION is fixed, remove its marker"
        ));
    }
    Err(format!(
        "expected {}, got {status} ({code})",
        expect.service.describe()
    ))
}

both!(async fn every_operation_answers_every_caller_as_the_contract_says(app) {
    let spec = operations(&app).await;
    let rows = table();
    let covered: BTreeSet<&str> = rows.iter().map(|r| r.op).collect();
    let missing: Vec<&String> = spec.keys().filter(|op| !covered.contains(op.as_str())).collect();
    let stale: Vec<&&str> = covered.iter().filter(|op| !spec.contains_key(**op)).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "the authorization table and the OpenAPI document differ.\n\
         Operations without an expectation (add a row to table() in tests/api/authz.rs): {missing:#?}\n\
         Rows without an operation (remove them): {stale:#?}"
    );

    let started = Instant::now();
    let fixture = fixture(&app).await;
    let setup = started.elapsed();
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut deviations = Vec::new();
    let mut checked = 0;
    let print = std::env::var("AUTHZ_MATRIX").is_ok_and(|v| v == "1");
    for row in &rows {
        let (method, template) = row.op.split_once(' ').unwrap();
        // The document's own word on tokens agrees with the row.
        let anonymous = spec[row.op];
        match row.expect[0].service {
            Outcome::Unauthorized if anonymous => failures.push(format!(
                "{}: the OpenAPI document lets it be called without a token, the table wants 401",
                row.op
            )),
            Outcome::Allowed if !anonymous => failures.push(format!(
                "{}: the OpenAPI document asks for a token, the table opens it to everybody",
                row.op
            )),
            _ => {}
        }
        let path = match concrete_path(row, template, &fixture) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{}: {e}", row.op));
                continue;
            }
        };
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        for (i, caller) in CALLERS.iter().enumerate() {
            let expect = row.expect[i];
            let (status, content_type, code) =
                send(&app, method.clone(), &path, fixture.tokens[i].as_deref(), &row.body).await;
            checked += 1;
            if print {
                eprintln!("{} | {caller} | {status} {code}", row.op);
            }
            if let Err(e) = judge(expect, status, &content_type, &code) {
                failures.push(format!("{} ({path}) as {caller}: {e}", row.op));
            }
            if expect.contract != expect.service {
                deviations.push(format!(
                    "{} as {caller}: the contract wants {}, the service answers {status}",
                    row.op,
                    expect.contract.describe()
                ));
            }
        }
    }
    eprintln!(
        "authorization matrix: {} operations, {} rows x {} callers = {checked} requests in {:.1?} (setup {:.1?})",
        spec.len(),
        rows.len(),
        CALLERS.len(),
        started.elapsed(),
        setup
    );
    for d in &deviations {
        eprintln!("KNOWN_DEVIATION {d}");
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cells of the authorization matrix fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
});
