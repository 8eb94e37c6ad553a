use crate::both;
use crate::helpers::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SECRET: &str = welfare_grants::config::DEMO_JWT_SECRET;

fn claims(sub: &str, role: &str, exp_offset: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub, "iss": "welfare-grants", "aud": "welfare-grants-api", "exp": now + exp_offset, "nbf": now - 10,
           "iat": now - 10, "jti": "t", "typ": "access", "role": role, "ver": 0})
}

fn sign(claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

async fn me(app: &TestApp, token: &str) -> Value {
    let res = app.get("/api/v1/auth/me", Some(token)).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn my_id(app: &TestApp, who: (&str, &str)) -> String {
    let token = app.login(who).await;
    me(app, &token).await["id"].as_str().unwrap().to_owned()
}

both!(async fn a_demo_account_logs_in_and_reads_itself(app) {
    let token = app.login(EVALUATOR_MONTAGNA).await;
    let body = me(&app, &token).await;
    assert_eq!(body["username"], EVALUATOR_MONTAGNA.0);
    assert_eq!(body["role"], "evaluator");
    assert_eq!(body["agency_code"], "MONTAGNA");
    assert!(body.get("password_hash").is_none());
});

both!(async fn the_oauth2_password_grant_logs_in_like_swagger_ui_does(app) {
    let res = app.client.post(app.url("/api/v1/auth/token"))
        .form(&[("grant_type", "password"), ("username", ADMIN.0), ("password", ADMIN.1), ("client_id", "swagger-ui"), ("scope", "")])
        .send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 900);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(me(&app, token).await["role"], "admin");

    let res = app.client.post(app.url("/api/v1/auth/token")).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(token_error(res, "unsupported_grant_type").await["code"], "unsupported_grant_type");
});

both!(async fn the_token_endpoint_says_why_a_grant_failed_the_oauth2_way(app) {
    let token = |form: Vec<(&'static str, &'static str)>, lang: &'static str| {
        app.client.post(app.url("/api/v1/auth/token")).header("accept-language", lang).form(&form).send()
    };
    // What Swagger UI shows under its login form: `error` and `error_description`.
    let res = token(vec![("grant_type", "password"), ("username", ADMIN.0), ("password", "not the password")], "en").await.unwrap();
    let body = token_error(res, "invalid_grant").await;
    assert_eq!(body["code"], "invalid_credentials");
    assert_eq!(body["error_description"], "The user name or the password is wrong, or the account is disabled.");
    assert!(body["request_id"].is_string(), "{body}");
    let res = token(vec![("grant_type", "password"), ("username", ADMIN.0), ("password", "not the password")], "it").await.unwrap();
    assert_eq!(res.headers()["content-language"], "it");
    let body = token_error(res, "invalid_grant").await;
    assert_eq!(body["error_description"], "Nome utente o password errati, oppure l'account è disabilitato.");
    // Every missing field at once.
    let res = token(vec![("grant_type", "password")], "en").await.unwrap();
    let body = token_error(res, "invalid_request").await;
    assert_eq!(body["code"], "invalid_request");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains("username") && description.contains("password"), "{description}");
    let res = token(vec![("grant_type", "refresh_token")], "en").await.unwrap();
    assert!(token_error(res, "invalid_request").await["error_description"].as_str().unwrap().contains("refresh_token"));
    // A form that cannot be read.
    let res = token(vec![("username", ADMIN.0)], "en").await.unwrap();
    assert_eq!(token_error(res, "invalid_request").await["code"], "invalid_form");
    // A refresh token that is no refresh token.
    let res = token(vec![("grant_type", "refresh_token"), ("refresh_token", "abc")], "en").await.unwrap();
    assert_eq!(token_error(res, "invalid_grant").await["code"], "invalid_token");
    // Not a form at all: problem+json, like everywhere else.
    let res = app.post("/api/v1/auth/token", None, &json!({"grant_type": "password"})).await;
    assert_eq!(problem(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await["code"], "unsupported_media_type");
    // The JSON log in keeps its problem+json.
    let res = app.post("/api/v1/auth/login", None, &json!({"username": ADMIN.0, "password": "not the password"})).await;
    assert_eq!(problem(res, StatusCode::UNAUTHORIZED).await["code"], "invalid_credentials");
});

both!(async fn an_unknown_user_and_a_wrong_password_answer_alike(app) {
    let unknown = app.post("/api/v1/auth/login", None, &json!({"username": "nobody@example.org", "password": "whatever-password"})).await;
    let unknown = problem(unknown, StatusCode::UNAUTHORIZED).await;
    let wrong = app.post("/api/v1/auth/login", None, &json!({"username": ADMIN.0, "password": "not-the-password"})).await;
    let wrong = problem(wrong, StatusCode::UNAUTHORIZED).await;
    assert_eq!(unknown["code"], "invalid_credentials");
    assert_eq!(unknown["code"], wrong["code"]);
    assert_eq!(unknown["detail"], wrong["detail"]);
});

both!(async fn a_refresh_token_renews_the_access_token_and_only_that(app) {
    let res = app.post("/api/v1/auth/login", None, &json!({"username": APPLICANT.0, "password": APPLICANT.1})).await;
    let tokens: Value = res.json().await.unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let res = app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": refresh})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let renewed: Value = res.json().await.unwrap();
    me(&app, renewed["access_token"].as_str().unwrap()).await;
    // A refresh token is no access token, and the other way round.
    problem(app.get("/api/v1/auth/me", Some(refresh)).await, StatusCode::UNAUTHORIZED).await;
    let access = tokens["access_token"].as_str().unwrap();
    problem(app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": access})).await, StatusCode::UNAUTHORIZED).await;
});

both!(async fn tampered_expired_unsigned_and_foreign_tokens_are_refused(app) {
    let id = my_id(&app, ADMIN).await;
    let good = sign(&claims(&id, "admin", 600));
    assert_eq!(app.get("/api/v1/auth/me", Some(&good)).await.status(), StatusCode::OK);

    // A tampered payload: the signature no longer matches.
    let mut parts: Vec<String> = good.split('.').map(String::from).collect();
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload: Value = serde_json::from_slice(&engine.decode(&parts[1]).unwrap()).unwrap();
    payload["role"] = json!("admin");
    payload["sub"] = json!(my_id(&app, APPLICANT).await);
    parts[1] = engine.encode(payload.to_string());
    let tampered = parts.join(".");
    let expired = sign(&claims(&id, "admin", -3600));
    let none = format!("{}.{}.", engine.encode(r#"{"alg":"none","typ":"JWT"}"#), engine.encode(claims(&id, "admin", 600).to_string()));
    let mut wrong_aud = claims(&id, "admin", 600);
    wrong_aud["aud"] = json!("another-service");
    let mut wrong_iss = claims(&id, "admin", 600);
    wrong_iss["iss"] = json!("someone-else");
    let other_secret = encode(&Header::new(Algorithm::HS256), &claims(&id, "admin", 600), &EncodingKey::from_secret(b"another secret of at least thirty-two bytes")).unwrap();
    let mut future = claims(&id, "admin", 7200);
    future["nbf"] = json!(chrono::Utc::now().timestamp() + 3600);
    for (what, token) in [
        ("tampered", tampered), ("expired", expired), ("alg none", none), ("wrong audience", sign(&wrong_aud)),
        ("wrong issuer", sign(&wrong_iss)), ("other key", other_secret), ("not yet valid", sign(&future)), ("garbage", "abc".into()),
    ] {
        let res = app.get("/api/v1/auth/me", Some(&token)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what}");
        let body = problem(res, StatusCode::UNAUTHORIZED).await;
        assert!(body["code"] == "invalid_token" || body["code"] == "token_revoked", "{what}: {body}");
    }
    let res = app.get("/api/v1/auth/me", None).await;
    assert_eq!(problem(res, StatusCode::UNAUTHORIZED).await["code"], "missing_token");
});

both!(async fn a_disabled_users_tokens_stop_working_at_once(app) {
    let admin = app.login(ADMIN).await;
    let applicant = app.login(APPLICANT).await;
    let id = me(&app, &applicant).await["id"].as_str().unwrap().to_owned();
    let res = app.get(&format!("/api/v1/users/{id}"), Some(&admin)).await;
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let res = app.patch(&format!("/api/v1/users/{id}"), Some(&admin), Some(&etag), &json!({"disabled": true})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = problem(app.get("/api/v1/auth/me", Some(&applicant)).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["code"], "token_revoked");
    let res = app.post("/api/v1/auth/login", None, &json!({"username": APPLICANT.0, "password": APPLICANT.1})).await;
    assert_eq!(problem(res, StatusCode::UNAUTHORIZED).await["code"], "invalid_credentials");
});

both!(async fn a_password_change_ends_older_sessions(app) {
    let old = app.login(APPLICANT).await;
    let res = app.post("/api/v1/auth/password", Some(&old), &json!({"current_password": "wrong-password!", "new_password": "a brand new passphrase"})).await;
    assert_eq!(problem(res, StatusCode::UNAUTHORIZED).await["code"], "invalid_credentials");
    let res = app.post("/api/v1/auth/password", Some(&old), &json!({"current_password": APPLICANT.1, "new_password": "short"})).await;
    assert!(has_violation(&problem(res, StatusCode::UNPROCESSABLE_ENTITY).await, "new_password", "password_length"));
    let res = app.post("/api/v1/auth/password", Some(&old), &json!({"current_password": APPLICANT.1, "new_password": "a brand new passphrase"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let fresh: Value = res.json().await.unwrap();
    me(&app, fresh["access_token"].as_str().unwrap()).await;
    assert_eq!(problem(app.get("/api/v1/auth/me", Some(&old)).await, StatusCode::UNAUTHORIZED).await["code"], "token_revoked");
    app.login((APPLICANT.0, "a brand new passphrase")).await;
});

both!(async fn an_applicant_registers_and_logs_in(app) {
    let body = json!({"username": "maria.rossi@example.org", "password": "a long and private passphrase", "full_name": "Maria Rossi"});
    let res = app.post("/api/v1/auth/register", None, &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let user: Value = res.json().await.unwrap();
    assert_eq!(user["role"], "applicant");
    app.login(("maria.rossi@example.org", "a long and private passphrase")).await;
    let again = app.post("/api/v1/auth/register", None, &body).await;
    assert_eq!(problem(again, StatusCode::CONFLICT).await["code"], "username_taken");
    // Every broken rule at once; a role cannot be chosen.
    let res = app.post("/api/v1/auth/register", None, &json!({"username": "Not An Email", "password": "short", "full_name": " "})).await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "username", "invalid_username"));
    assert!(has_violation(&p, "password", "password_length"));
    assert!(has_violation(&p, "full_name", "invalid_text"));
    let res = app.post("/api/v1/auth/register", None, &json!({"username": "x@example.org", "password": "a long and private passphrase", "full_name": "X", "role": "admin"})).await;
    assert!(has_violation(&problem(res, StatusCode::BAD_REQUEST).await, "role", "unknown_field"));
});

both!(async fn an_external_identity_providers_token_is_accepted_by_kid(app) {
    let now = chrono::Utc::now().timestamp();
    let key = EncodingKey::from_ed_pem(IDP_PRIVATE_KEY.as_bytes()).unwrap();
    let token = |kid: &str, sub: &str| {
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(kid.into());
        encode(&h, &json!({"sub": sub, "iss": IDP_ISSUER, "aud": IDP_AUDIENCE, "exp": now + 600, "nbf": now - 5}), &key).unwrap()
    };
    let body = me(&app, &token(IDP_KID, EVALUATOR_BRESCIA.0)).await;
    assert_eq!(body["agency_code"], "BRESCIA");
    let rsa = EncodingKey::from_rsa_pem(IDP_RSA_PRIVATE_KEY.as_bytes()).unwrap();
    let rs256 = |kid: &str| {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(kid.into());
        encode(&h, &json!({"sub": ADMIN.0, "iss": IDP_ISSUER, "aud": IDP_AUDIENCE, "exp": now + 600, "nbf": now - 5}), &rsa).unwrap()
    };
    assert_eq!(me(&app, &rs256(IDP_RSA_KID)).await["role"], "admin");
    // A key is bound to its algorithm and its kid: an RSA token under the EdDSA kid fails.
    let mut wrong_iss = Header::new(Algorithm::EdDSA);
    wrong_iss.kid = Some(IDP_KID.into());
    let wrong_iss = encode(&wrong_iss, &json!({"sub": ADMIN.0, "iss": "https://elsewhere.test", "aud": IDP_AUDIENCE, "exp": now + 600}), &key).unwrap();
    for bad in [token("unknown-kid", EVALUATOR_BRESCIA.0), token(IDP_KID, "stranger@example.org"), rs256(IDP_KID), wrong_iss] {
        problem(app.get("/api/v1/auth/me", Some(&bad)).await, StatusCode::UNAUTHORIZED).await;
    }
});

async fn login_pair(app: &TestApp, who: (&str, &str)) -> (String, String) {
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"username": who.0, "password": who.1}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn refresh_with(app: &TestApp, refresh: &str) -> reqwest::Response {
    app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": refresh}),
    )
    .await
}

both!(async fn a_refresh_token_is_exchanged_once_and_its_replay_ends_the_session(app) {
    let (_, first) = login_pair(&app, APPLICANT).await;
    let res = refresh_with(&app, &first).await;
    assert_eq!(res.status(), StatusCode::OK);
    let second: Value = res.json().await.unwrap();
    let second_refresh = second["refresh_token"].as_str().unwrap().to_owned();
    let second_access = second["access_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first, "each refresh answers a new refresh token");
    me(&app, &second_access).await;

    // The retired token again: an attacker (or a stale client) replays it. Refused, and the
    // whole session ends: the newest tokens of the family stop working too.
    let replay = problem(refresh_with(&app, &first).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(replay["code"], "refresh_token_reused");
    let p = problem(refresh_with(&app, &second_refresh).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(p["code"], "session_ended");
    let p = problem(app.get("/api/v1/auth/me", Some(&second_access)).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(p["code"], "session_ended");

    // The user's other sessions are untouched, and the reuse is in the audit log.
    let (access, _) = login_pair(&app, APPLICANT).await;
    me(&app, &access).await;
    let admin = app.login(ADMIN).await;
    let events: Value = app.get("/api/v1/audit-events?action=session.refresh_token_reused", Some(&admin)).await.json().await.unwrap();
    assert_eq!(events["total"], 1, "{events}");
});

both!(async fn logging_out_ends_the_callers_session_and_only_that_one(app) {
    let (laptop_access, laptop_refresh) = login_pair(&app, APPLICANT).await;
    let (phone_access, phone_refresh) = login_pair(&app, APPLICANT).await;
    let res = app.post("/api/v1/auth/logout", Some(&laptop_access), &json!({})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for res in [app.get("/api/v1/auth/me", Some(&laptop_access)).await, refresh_with(&app, &laptop_refresh).await] {
        assert_eq!(problem(res, StatusCode::UNAUTHORIZED).await["code"], "session_ended");
    }
    me(&app, &phone_access).await;
    assert_eq!(refresh_with(&app, &phone_refresh).await.status(), StatusCode::OK);
    // Logging out needs a token.
    problem(app.post("/api/v1/auth/logout", None, &json!({})).await, StatusCode::UNAUTHORIZED).await;
});

both!(async fn the_oauth2_refresh_grant_rotates_too(app) {
    let (_, first) = login_pair(&app, EVALUATOR_MONTAGNA).await;
    let grant = |token: String| app.client.post(app.url("/api/v1/auth/token"))
        .form(&[("grant_type".to_owned(), "refresh_token".to_owned()), ("refresh_token".to_owned(), token)]).send();
    let res = grant(first.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = grant(first).await.unwrap();
    assert_eq!(token_error(res, "invalid_grant").await["code"], "refresh_token_reused");
});

both!(async fn common_passwords_and_the_user_names_local_part_are_refused(app) {
    for (password, code) in [
        ("123456789012", "password_too_common"),
        ("password1234", "password_too_common"),
        ("Password1234", "password_too_common"),
        ("Password123!", "password_too_common"),
        ("maria.rossi and a long tail", "password_contains_username"),
    ] {
        let res = app.post("/api/v1/auth/register", None, &json!({"username": "maria.rossi@example.org", "password": password, "full_name": "Maria Rossi"})).await;
        let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(has_violation(&p, "password", code), "{password}: {p}");
    }
    // The same rules when an administrator creates a user and when a password changes.
    let admin = app.login(ADMIN).await;
    let res = app.post("/api/v1/users", Some(&admin), &json!({"username": "giulia@ats.example", "password": "123456789012",
        "full_name": "Giulia", "role": "evaluator", "agency_code": "BRESCIA"})).await;
    assert!(has_violation(&problem(res, StatusCode::UNPROCESSABLE_ENTITY).await, "password", "password_too_common"));
    let token = app.login(APPLICANT).await;
    let res = app.post("/api/v1/auth/password", Some(&token), &json!({"current_password": APPLICANT.1, "new_password": "password1234"})).await;
    assert!(has_violation(&problem(res, StatusCode::UNPROCESSABLE_ENTITY).await, "new_password", "password_too_common"));
    let res = app.post("/api/v1/auth/password", Some(&token), &json!({"current_password": APPLICANT.1, "new_password": "RICHIEDENTE1 forever and ever"})).await;
    assert!(has_violation(&problem(res, StatusCode::UNPROCESSABLE_ENTITY).await, "new_password", "password_contains_username"));
});

/// The document says it too: the token endpoint's 400 is the OAuth2 error, its 429 a problem.
#[test]
fn the_document_declares_the_token_endpoints_oauth2_errors() {
    let doc: Value = serde_json::to_value(welfare_grants::startup::openapi_document()).unwrap();
    let responses = &doc["paths"]["/api/v1/auth/token"]["post"]["responses"];
    assert_eq!(
        responses["400"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/TokenError"
    );
    assert!(
        responses["400"]["content"]
            .get("application/problem+json")
            .is_none()
    );
    assert!(
        responses.get("401").is_none(),
        "the token endpoint answers no 401"
    );
    assert!(responses["429"]["content"]["application/problem+json"].is_object());
    let login = &doc["paths"]["/api/v1/auth/login"]["post"]["responses"];
    assert!(login["401"]["content"]["application/problem+json"].is_object());
}

// The single read checks its caller inside its own statement, the list inside its own
// transaction: every way a token stops working answers as everywhere else, whether the
// application exists or not, and before what is wrong with the query.
both!(async fn the_reads_that_check_the_caller_themselves_refuse_ended_sessions_and_revoked_tokens(app) {
    let admin = app.login(ADMIN).await;
    let reader = app.login(APPLICANT).await;
    let list: Value = app.get("/api/v1/applications", Some(&reader)).await.json().await.unwrap();
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let read = |token: String, id: String| {
        let app = &app;
        async move { app.get(&format!("/api/v1/applications/{id}"), Some(&token)).await }
    };
    let unknown = "00000000-0000-4000-8000-000000000000".to_owned();
    assert_eq!(read(reader.clone(), id.clone()).await.status(), StatusCode::OK);
    assert_eq!(problem(read(reader.clone(), unknown.clone()).await, StatusCode::NOT_FOUND).await["code"], "application_not_found");

    // A session ended by logging out.
    let (ended, _) = login_pair(&app, APPLICANT).await;
    assert_eq!(app.post("/api/v1/auth/logout", Some(&ended), &json!({})).await.status(), StatusCode::NO_CONTENT);
    for target in [id.clone(), unknown.clone()] {
        assert_eq!(problem(read(ended.clone(), target).await, StatusCode::UNAUTHORIZED).await["code"], "session_ended");
    }
    // The list checks its caller in its own transaction: the same answers.
    let listed = |token: String| {
        let app = &app;
        async move { app.get("/api/v1/applications?status=draft", Some(&token)).await }
    };
    assert_eq!(problem(listed(ended.clone()).await, StatusCode::UNAUTHORIZED).await["code"], "session_ended");
    for query in ["per_page=500", "format=xml", "dialect=nowhere"] {
        let res = app.get(&format!("/api/v1/applications?{query}"), Some(&ended)).await;
        assert_eq!(problem(res, StatusCode::UNAUTHORIZED).await["code"], "session_ended", "{query}");
        let res = app.get(&format!("/api/v1/applications?{query}"), Some(&reader)).await;
        // A current caller learns what is wrong with the query (400 or 422).
        assert!(matches!(res.status(), StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY), "{query}: {}", res.status());
    }

    // A disabled user: its tokens are revoked at once, then enabled again: still revoked.
    let user = me(&app, &reader).await["id"].as_str().unwrap().to_owned();
    for disabled in [true, false] {
        let res = app.get(&format!("/api/v1/users/{user}"), Some(&admin)).await;
        let etag = res.headers()["etag"].to_str().unwrap().to_owned();
        let res = app.patch(&format!("/api/v1/users/{user}"), Some(&admin), Some(&etag), &json!({"disabled": disabled})).await;
        assert_eq!(res.status(), StatusCode::OK);
        for target in [id.clone(), unknown.clone()] {
            assert_eq!(problem(read(reader.clone(), target).await, StatusCode::UNAUTHORIZED).await["code"], "token_revoked", "disabled {disabled}");
        }
        assert_eq!(problem(listed(reader.clone()).await, StatusCode::UNAUTHORIZED).await["code"], "token_revoked", "disabled {disabled}");
    }
    // A fresh login reads it again.
    let fresh = app.login(APPLICANT).await;
    assert_eq!(listed(fresh.clone()).await.status(), StatusCode::OK);
    assert_eq!(read(fresh, id).await.status(), StatusCode::OK);
});
