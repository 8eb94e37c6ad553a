use crate::both;
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

both!(async fn malformed_json_is_a_400_problem(app) {
    let res = app.client.post(app.url("/api/v1/auth/login")).header("content-type", "application/json").body("{\"username\": ").send().await.unwrap();
    assert_eq!(problem(res, StatusCode::BAD_REQUEST).await["code"], "malformed_json");
    let res = app.client.post(app.url("/api/v1/auth/login")).header("content-type", "text/plain").body("{}").send().await.unwrap();
    assert_eq!(problem(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await["code"], "unsupported_media_type");
});

both!(async fn wrong_types_and_unknown_fields_are_all_named(app) {
    let res = app.post("/api/v1/auth/login", None, &json!({"username": 1, "password": [], "remember_me": true})).await;
    let p = problem(res, StatusCode::BAD_REQUEST).await;
    assert!(has_violation(&p, "username", "invalid_type"), "{p}");
    assert!(has_violation(&p, "password", "invalid_type"), "{p}");
    assert!(has_violation(&p, "remember_me", "unknown_field"), "{p}");
    let res = app.post("/api/v1/auth/login", None, &json!({"username": "a@b.it"})).await;
    assert!(has_violation(&problem(res, StatusCode::UNPROCESSABLE_ENTITY).await, "password", "missing_field"));
});

both!(async fn unknown_routes_and_bad_path_parameters_answer_problem_json(app) {
    assert_eq!(problem(app.get("/api/v1/nothing-here", None).await, StatusCode::NOT_FOUND).await["code"], "route_not_found");
    assert_eq!(problem(app.get("/api/v1/calls/not-a-uuid", None).await, StatusCode::BAD_REQUEST).await["code"], "invalid_path_parameter");
    assert_eq!(problem(app.get("/api/v1/calls/00000000-0000-0000-0000-000000000000", None).await, StatusCode::NOT_FOUND).await["code"], "call_not_found");
    assert_eq!(problem(app.get("/api/v1/calls?per_page=1000", None).await, StatusCode::UNPROCESSABLE_ENTITY).await["code"], "validation_failed");
    assert_eq!(problem(app.get("/api/v1/calls?page=x", None).await, StatusCode::BAD_REQUEST).await["code"], "invalid_query_parameter");
});

both!(async fn an_oversized_body_is_refused_with_413(app) {
    let big = "x".repeat(app.settings.server.body_limit_bytes + 1);
    let res = app.post("/api/v1/auth/login", None, &json!({"username": big, "password": "x"})).await;
    assert_eq!(problem(res, StatusCode::PAYLOAD_TOO_LARGE).await["code"], "payload_too_large");
});

both!(async fn messages_follow_accept_language_and_codes_never_change(app) {
    let send = |lang: &'static str| app.client.get(app.url("/api/v1/users")).header("accept-language", lang).send();
    let it: Value = send("it-IT,it;q=0.9,en;q=0.8").await.unwrap().json().await.unwrap();
    let en: Value = send("en-GB").await.unwrap().json().await.unwrap();
    assert_eq!(it["code"], en["code"]);
    assert_ne!(it["detail"], en["detail"]);
    assert_eq!(it["title"], "Non autenticato");
    assert_eq!(en["title"], "Unauthorized");
});

both!(async fn every_post_honours_an_idempotency_key(app) {
    let token = app.login(APPLICANT).await;
    let org = crate::registry::public_body(90, "SO", &["SO"]);
    let send = |key: &'static str, body: Value| {
        app.client.post(app.url("/api/v1/organizations")).bearer_auth(&token).header("idempotency-key", key).json(&body).send()
    };
    let first = send("org-1", org.clone()).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let first: Value = first.json().await.unwrap();
    let again = send("org-1", org.clone()).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let other = send("org-1", crate::registry::public_body(91, "SO", &["SO"])).await.unwrap();
    assert!(has_violation(&problem(other, StatusCode::UNPROCESSABLE_ENTITY).await, "Idempotency-Key", "idempotency_key_reused"));
    // A refusal is replayed too: the same duplicate, the same 409.
    let dup = send("org-2", org.clone()).await.unwrap();
    assert_eq!(problem(dup, StatusCode::CONFLICT).await["code"], "tax_code_taken");
    let dup = send("org-2", org).await.unwrap();
    assert_eq!(dup.headers()["idempotent-replayed"], "true");
    assert_eq!(problem(dup, StatusCode::CONFLICT).await["code"], "tax_code_taken");
    let list: Value = app.get("/api/v1/organizations?per_page=100", Some(&token)).await.json().await.unwrap();
    assert_eq!(list["total"], 5, "the four demo organizations and one more");
    // A key is remembered for a day; after that it names a new request.
    app.clock.set(chrono::Utc::now() + chrono::Duration::hours(25));
    let later = send("org-1", crate::registry::public_body(92, "SO", &["SO"])).await.unwrap();
    assert_eq!(later.status(), StatusCode::CREATED);
    assert!(later.headers().get("idempotent-replayed").is_none());
});

/// What a person reads in a problem never shows the service's insides: Rust type names,
/// serde's phrasing, the extractor that failed.
fn assert_humane(p: &Value) {
    let mut texts = vec![p["detail"].as_str().unwrap_or_default().to_owned()];
    for v in p["violations"].as_array().into_iter().flatten() {
        texts.push(v["message"].as_str().unwrap_or_default().to_owned());
    }
    for text in texts {
        for internal in [
            "u8",
            "u16",
            "u32",
            "u64",
            "usize",
            "i32",
            "i64",
            "f64",
            "struct ",
            "variant",
            "invalid type:",
            "invalid value:",
            "deserialize",
            "Path ",
            "Query ",
            "parsing failed",
            "a sequence",
            "a map",
            "serde",
            "Option",
            "Uuid",
            "NaiveDate",
            "DateTime",
        ] {
            assert!(!text.contains(internal), "`{internal}` in {text:?}: {p}");
        }
    }
}

/// The `(field, code)` pairs of a problem, for the messages of failed assertions.
fn named(p: &Value) -> Vec<(String, String)> {
    violations(p)
}

both!(async fn a_violation_of_an_application_names_its_path_from_the_root_of_the_body(app) {
    let token = app.login(crate::applications::APPLICANT2).await;
    let m = crate::applications::members(&app, &token, 1).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let pid = crate::applications::partnership(&app, &token, &demo, &m).await;
    let mut content = crate::applications::content(&m.lead);
    // POST: the body is {partnership_id, content}; a wrong type and a broken rule of the same
    // cost line are named alike, from the body's root.
    content["budget"]["lines"][0]["amount"] = json!(30000);
    content["employees_reached"] = json!("many");
    let res = app.post("/api/v1/applications", Some(&token), &json!({"partnership_id": pid, "content": content})).await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "content.budget.lines[0].amount", "invalid_type") || has_violation(&p, "content.budget.lines[0].amount", "invalid_value"), "{:?}", named(&p));
    assert!(has_violation(&p, "content.employees_reached", "invalid_type"), "{:?}", named(&p));
    assert_humane(&p);
    let mut content = crate::applications::content(&m.lead);
    content["budget"]["lines"][0]["borne_by"] = json!("00000000-0000-0000-0000-000000000001");
    content["intervention_areas"] = json!(["SERVIZI_CURA", "NOPE"]);
    let res = app.post("/api/v1/applications", Some(&token), &json!({"partnership_id": pid, "content": content})).await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "content.budget.lines[0].borne_by", "not_a_member"), "{:?}", named(&p));
    assert!(has_violation(&p, "content.intervention_areas[1]", "unknown_area"), "{:?}", named(&p));
    assert_humane(&p);

    // `blocking` names the path inside the application as GET returns it; what is not in
    // the content (the annexes, the partnership, the window) keeps its own name.
    let mut content = crate::applications::content(&m.lead);
    content["title"] = Value::Null;
    let res = app.post("/api/v1/applications", Some(&token), &json!({"partnership_id": pid, "content": content})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let draft: Value = res.json().await.unwrap();
    let blocking = violations(&json!({"violations": draft["blocking"]}));
    assert!(blocking.contains(&("content.title".to_owned(), "missing_field".to_owned())), "{blocking:?}");
    assert!(blocking.contains(&("documents".to_owned(), "missing_annex".to_owned())), "{blocking:?}");
    assert!(blocking.iter().all(|(f, _)| f.starts_with("content.") || f == "documents"), "{blocking:?}");
    assert_eq!(draft["content"]["title"], Value::Null, "`content.title` is where GET shows it");
    // Submitting names the same paths as `blocking`.
    let id = draft["id"].as_str().unwrap();
    let p = problem(crate::applications::submit(&app, &token, id, None).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "content.title", "missing_field"), "{:?}", named(&p));
    assert!(has_violation(&p, "documents", "missing_annex"), "{:?}", named(&p));

    // PATCH: the body is a merge patch of the content, so its paths start inside it.
    let path = format!("/api/v1/applications/{id}");
    let tag = crate::applications::etag(&app, &path, &token).await;
    let res = app.patch(&path, Some(&token), Some(&tag), &json!({"budget": {"requested_grant": 24500, "lines": [{"category": "EMPLOYEE_SERVICES", "description": "x", "amount": "1.00", "borne_by": "nobody"}]}})).await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "budget.requested_grant", "invalid_type") || has_violation(&p, "budget.requested_grant", "invalid_value"), "{:?}", named(&p));
    assert!(has_violation(&p, "budget.lines[0].borne_by", "invalid_value"), "{:?}", named(&p));
    assert_humane(&p);
    let res = app.patch(&path, Some(&token), Some(&tag), &json!({"budget": {"lines": [{"category": "EMPLOYEE_SERVICES", "description": "x", "amount": "1.00", "borne_by": "00000000-0000-0000-0000-000000000001"}]}})).await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "budget.lines[0].borne_by", "not_a_member"), "{:?}", named(&p));
    assert_humane(&p);
});

both!(async fn a_violation_of_call_rules_names_its_path_from_the_root_of_the_body(app) {
    let admin = app.login(ADMIN).await;
    let id = app.call_id("RLD12022024943").await;
    let rules = app.get(&format!("/api/v1/calls/{id}"), None).await.json::<Value>().await.unwrap()["rules"].clone();
    let body = |rules: Value| json!({"code": "AVVISO-2027", "title": "Avviso 2027", "opens_at": "2027-05-04T12:00:00+02:00",
        "closes_at": "2027-07-15T12:00:00+02:00", "total_budget": "6000000.00", "rules": rules});
    let mut wrong = rules.clone();
    wrong["grant_rate"] = json!(70);
    wrong["scoring"]["criteria"][0]["max"] = json!("lots");
    let p = problem(app.post("/api/v1/calls", Some(&admin), &body(wrong)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(violations(&p).iter().any(|(f, _)| f == "rules.grant_rate"), "{:?}", named(&p));
    assert!(violations(&p).iter().any(|(f, _)| f == "rules.scoring.criteria[0].max"), "{:?}", named(&p));
    assert_humane(&p);
    let mut broken = rules.clone();
    broken["grant_rate"] = json!("0.00");
    let p = problem(app.post("/api/v1/calls", Some(&admin), &body(broken)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "rules.grant_rate", "rate_zero"), "{:?}", named(&p));
    assert_humane(&p);

    // PATCH of a draft: the same paths, since the patch has the same shape as the call.
    let res = app.post("/api/v1/calls", Some(&admin), &body(rules)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let tag = res.headers()["etag"].to_str().unwrap().to_owned();
    let path = format!("/api/v1/calls/{}", res.json::<Value>().await.unwrap()["id"].as_str().unwrap());
    let p = problem(app.patch(&path, Some(&admin), Some(&tag), &json!({"rules": {"grant_rate": 70}})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(violations(&p).iter().any(|(f, _)| f == "rules.grant_rate"), "{:?}", named(&p));
    assert_humane(&p);
    let p = problem(app.patch(&path, Some(&admin), Some(&tag), &json!({"rules": {"grant_rate": "0.00"}})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "rules.grant_rate", "rate_zero"), "{:?}", named(&p));
});

both!(async fn a_violation_of_a_partnership_names_its_path_from_the_root_of_the_body(app) {
    let token = app.login(crate::applications::APPLICANT2).await;
    let m = crate::applications::members(&app, &token, 1).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let res = app.post("/api/v1/partnerships", Some(&token), &json!({"call_id": demo, "name": 7, "lead_organization_id": "the-town-hall"})).await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "name", "invalid_type"), "{:?}", named(&p));
    assert!(has_violation(&p, "lead_organization_id", "invalid_value"), "{:?}", named(&p));
    assert_humane(&p);
    let stranger = app.login(APPLICANT).await;
    let res = app.post("/api/v1/partnerships", Some(&stranger), &json!({"call_id": demo, "name": "Rete", "lead_organization_id": m.lead})).await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "lead_organization_id", "not_represented"), "{:?}", named(&p));
    let pid = crate::applications::partnership(&app, &token, &demo, &m).await;
    let members = format!("/api/v1/partnerships/{pid}/members");
    let p = problem(app.post(&members, Some(&token), &json!({"organization_id": m.others[0], "role": "boss"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "role", "invalid_value"), "{:?}", named(&p));
    assert_humane(&p);
    let p = problem(app.post(&members, Some(&token), &json!({"organization_id": m.others[0], "role": "lead"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "role", "one_lead"), "{:?}", named(&p));
    assert_humane(&p);
});

both!(async fn a_bad_path_or_query_parameter_is_explained_in_words(app) {
    for lang in ["en", "it"] {
        let res = app.client.get(app.url("/api/v1/calls/not-a-uuid")).header("accept-language", lang).send().await.unwrap();
        let p = problem(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(p["code"], "invalid_path_parameter");
        assert!(has_violation(&p, "call_id", "invalid_path_parameter"), "{p}");
        assert!(p["detail"].as_str().unwrap().contains("call_id"), "{p}");
        assert!(p["detail"].as_str().unwrap().contains("UUID"), "{p}");
        assert_humane(&p);
        let res = app.client.get(app.url("/api/v1/calls?page=x")).header("accept-language", lang).send().await.unwrap();
        let p = problem(res, StatusCode::BAD_REQUEST).await;
        assert!(has_violation(&p, "page", "invalid_query_parameter"), "{p}");
        assert_humane(&p);
    }
    let id = app.call_id("RLD12022024943").await;
    let evaluator = app.login(EVALUATOR_MONTAGNA).await;
    let p = problem(app.get(&format!("/api/v1/calls/{id}/agencies/NOWHERE/ranking"), Some(&evaluator)).await, StatusCode::BAD_REQUEST).await;
    assert!(has_violation(&p, "agency_code", "invalid_path_parameter"), "{p}");
    assert!(p["detail"].as_str().unwrap().contains("MONTAGNA"), "the codes are listed: {p}");
    assert_humane(&p);
});
