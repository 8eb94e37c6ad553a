use crate::both;
use crate::helpers::*;
use crate::registry::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const APPLICANT2: (&str, &str) = (
    "richiedente2@demo.welfare-grants.test",
    "demo-applicant-password",
);

/// The organizations of the second demo applicant, by role in the tests.
struct Orgs {
    municipality: String,
    municipality_without_office: String,
    association: String,
    cooperative: String,
    micro: String,
    small: String,
    medium: String,
    roman: String,
    adhering_body: String,
}

async fn orgs(app: &TestApp, token: &str) -> Orgs {
    Orgs {
        municipality: register(app, token, &public_body(1, "SO", &["SO"])).await,
        municipality_without_office: register(app, token, &public_body(2, "SO", &[])).await,
        association: register(
            app,
            token,
            &body(3, "private_non_profit", "association", "MI", &["MI"]),
        )
        .await,
        cooperative: register(
            app,
            token,
            &body(4, "private_non_profit", "social_cooperative", "BG", &[]),
        )
        .await,
        micro: register(
            app,
            token,
            &enterprise(5, "SO", &["SO"], "4", Some("300000.00"), None),
        )
        .await,
        small: register(
            app,
            token,
            &enterprise(6, "MI", &["MI"], "30", Some("5000000.00"), None),
        )
        .await,
        medium: register(
            app,
            token,
            &enterprise(7, "MI", &["MI"], "120", Some("20000000.00"), None),
        )
        .await,
        roman: register(
            app,
            token,
            &enterprise(8, "RM", &["RM"], "3", Some("200000.00"), None),
        )
        .await,
        adhering_body: register(
            app,
            token,
            &body(9, "public_body", "mountain_community", "SO", &[]),
        )
        .await,
    }
}

/// A partnership in `call` with a lead and members (`(org, role)`), and its id.
async fn partnership(
    app: &TestApp,
    token: &str,
    call: &str,
    lead: &str,
    members: &[(&str, &str)],
) -> String {
    let res = app
        .post(
            "/api/v1/partnerships",
            Some(token),
            &json!({"call_id": call, "name": "Rete di prova", "lead_organization_id": lead}),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    for (org, role) in members {
        let res = app
            .post(
                &format!("/api/v1/partnerships/{id}/members"),
                Some(token),
                &json!({"organization_id": org, "role": role}),
            )
            .await;
        let status = res.status();
        assert_eq!(status, StatusCode::CREATED, "{}", res.text().await.unwrap());
    }
    id
}

async fn failing_rules(app: &TestApp, token: &str, id: &str) -> Vec<String> {
    let report: Value = app
        .get(
            &format!("/api/v1/partnerships/{id}/eligibility"),
            Some(token),
        )
        .await
        .json()
        .await
        .unwrap();
    let rules = report["rules"].as_array().unwrap();
    assert_eq!(
        rules.len(),
        9,
        "every rule is reported (eight of composition, and the invitations)"
    );
    for r in rules {
        assert!(
            !r["reason_en"].as_str().unwrap().is_empty()
                && !r["reason_it"].as_str().unwrap().is_empty()
        );
    }
    let failing: Vec<String> = rules
        .iter()
        .filter(|r| r["passed"] == false)
        .map(|r| r["rule"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(report["eligible"], failing.is_empty());
    failing
}

both!(async fn each_composition_rule_fails_alone_and_all_pass_together(app) {
    let token = app.login(APPLICANT2).await;
    let o = orgs(&app, &token).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let full = "full_partner";
    let ok = partnership(&app, &token, &demo, &o.municipality, &[(&o.association, full), (&o.micro, full), (&o.small, full)]).await;
    assert_eq!(failing_rules(&app, &token, &ok).await, Vec::<String>::new());

    type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        ("min_members", o.municipality.clone(), vec![(&o.micro, full), (&o.small, full)]),
        ("min_public_bodies", o.association.clone(), vec![(&o.cooperative, full), (&o.micro, full), (&o.small, full)]),
        ("min_micro_small_enterprises", o.municipality.clone(), vec![(&o.association, full), (&o.cooperative, full), (&o.micro, full)]),
        ("allowed_categories", o.municipality.clone(), vec![(&o.association, full), (&o.micro, full), (&o.small, full), (&o.medium, full)]),
        ("lead_seat", o.municipality_without_office.clone(), vec![(&o.association, full), (&o.micro, full), (&o.small, full)]),
        ("non_lombard_enterprises", o.municipality.clone(), vec![(&o.association, full), (&o.micro, full), (&o.small, full), (&o.roman, full)]),
    ];
    for (rule, lead, members) in cases {
        let id = partnership(&app, &token, &demo, &lead, &members).await;
        assert_eq!(failing_rules(&app, &token, &id).await, vec![rule.to_owned()], "{rule}");
    }

    // An adhering public body counts (the call says so); any other adhering partner is refused.
    let adhering = partnership(&app, &token, &demo, &o.municipality, &[(&o.adhering_body, "adhering_partner"), (&o.micro, full), (&o.small, full)]).await;
    assert_eq!(failing_rules(&app, &token, &adhering).await, Vec::<String>::new());
    let res = app.post(&format!("/api/v1/partnerships/{adhering}/members"), Some(&token), &json!({"organization_id": o.association, "role": "adhering_partner"})).await;
    assert!(has_violation(&problem(res, StatusCode::UNPROCESSABLE_ENTITY).await, "role", "adhering_partner_not_public"));
});

both!(async fn a_call_may_cap_the_partnerships_of_one_organization(app) {
    let admin = app.login(ADMIN).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let now = chrono::Utc::now();
    let res = app.post(&format!("/api/v1/calls/{demo}/clone"), Some(&admin), &json!({
        "code": "RLD-CAPPED", "opens_at": (now - chrono::Duration::hours(1)).to_rfc3339(), "closes_at": (now + chrono::Duration::days(30)).to_rfc3339()})).await;
    let capped: Value = res.json().await.unwrap();
    let capped_id = capped["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/calls/{capped_id}");
    let etag = app.get(&path, Some(&admin)).await.headers()["etag"].to_str().unwrap().to_owned();
    let res = app.patch(&path, Some(&admin), Some(&etag), &json!({"rules": {"partnership": {"max_partnerships_per_organization": 1}}})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.post(&format!("{path}/publish"), Some(&admin), &json!({})).await.status(), StatusCode::OK);

    let token = app.login(APPLICANT2).await;
    let o = orgs(&app, &token).await;
    let full = "full_partner";
    let first = partnership(&app, &token, &capped_id, &o.municipality, &[(&o.association, full), (&o.micro, full), (&o.small, full)]).await;
    assert_eq!(failing_rules(&app, &token, &first).await, Vec::<String>::new());
    let other_lead = register(&app, &token, &public_body(20, "SO", &["SO"])).await;
    let second = partnership(&app, &token, &capped_id, &other_lead, &[(&o.cooperative, full), (&o.micro, full), (&o.small, full)]).await;
    // The micro and small enterprises are now in two partnerships of a call that allows one.
    assert_eq!(failing_rules(&app, &token, &second).await, vec!["entity_caps".to_owned()]);
    assert_eq!(failing_rules(&app, &token, &first).await, vec!["entity_caps".to_owned()]);
});

both!(async fn members_are_added_once_and_the_lead_stays(app) {
    let token = app.login(APPLICANT2).await;
    let o = orgs(&app, &token).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let id = partnership(&app, &token, &demo, &o.municipality, &[(&o.micro, "full_partner")]).await;
    let members = format!("/api/v1/partnerships/{id}/members");
    let twice = app.post(&members, Some(&token), &json!({"organization_id": o.micro, "role": "full_partner"})).await;
    assert_eq!(problem(twice, StatusCode::CONFLICT).await["code"], "member_already_present");
    let by_code = app.post(&members, Some(&token), &json!({"tax_code": tax_code(6), "role": "full_partner"})).await;
    assert_eq!(by_code.status(), StatusCode::CREATED);
    let p = problem(app.post(&members, Some(&token), &json!({"role": "full_partner"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "organization_id", "one_of_id_or_tax_code"));
    let p = problem(app.post(&members, Some(&token), &json!({"tax_code": tax_code(99), "role": "full_partner"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "tax_code", "unknown_organization"));
    let p = problem(app.post(&members, Some(&token), &json!({"organization_id": o.association, "role": "lead"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "role", "one_lead"));
    let p = problem(app.request(reqwest::Method::DELETE, &format!("{members}/{}", o.municipality), Some(&token), None).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "organization_id", "cannot_remove_lead"));
    let res = app.request(reqwest::Method::DELETE, &format!("{members}/{}", o.micro), Some(&token), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["members"].as_array().unwrap().len(), 2);
    problem(app.request(reqwest::Method::DELETE, &format!("{members}/{}", o.micro), Some(&token), None).await, StatusCode::NOT_FOUND).await;
});

both!(async fn partnerships_are_formed_only_for_published_calls_still_open(app) {
    let token = app.login(APPLICANT2).await;
    let lead = register(&app, &token, &public_body(1, "SO", &["SO"])).await;
    let closed = app.call_id("RLD12022024943").await;
    let res = app.post("/api/v1/partnerships", Some(&token), &json!({"call_id": closed, "name": "Rete", "lead_organization_id": lead})).await;
    assert!(has_violation(&problem(res, StatusCode::UNPROCESSABLE_ENTITY).await, "call_id", "call_closed"));
    let admin = app.login(ADMIN).await;
    let res = app.post(&format!("/api/v1/calls/{closed}/clone"), Some(&admin), &json!({"code": "RLD-DRAFT", "opens_at": "2030-01-01T00:00:00Z", "closes_at": "2030-02-01T00:00:00Z"})).await;
    let draft = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let res = app.post("/api/v1/partnerships", Some(&token), &json!({"call_id": draft, "name": "Rete", "lead_organization_id": lead})).await;
    assert!(has_violation(&problem(res, StatusCode::UNPROCESSABLE_ENTITY).await, "call_id", "call_not_found"));
    // A lead the caller does not represent, and a blank name, at once.
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let other_lead = register(&app, &app.login(APPLICANT).await, &public_body(2, "SO", &["SO"])).await;
    let res = app.post("/api/v1/partnerships", Some(&token), &json!({"call_id": demo, "name": " ", "lead_organization_id": other_lead})).await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "lead_organization_id", "not_represented"));
    assert!(has_violation(&p, "name", "invalid_text"));
    // Admins and evaluators do not form partnerships.
    let res = app.post("/api/v1/partnerships", Some(&admin), &json!({"call_id": demo, "name": "Rete", "lead_organization_id": lead})).await;
    problem(res, StatusCode::FORBIDDEN).await;
});

both!(async fn members_read_the_partnership_and_only_the_lead_changes_it(app) {
    let lead_token = app.login(APPLICANT2).await;
    let member_token = app.login(APPLICANT).await;
    let lead = register(&app, &lead_token, &public_body(1, "SO", &["SO"])).await;
    let member = register(&app, &member_token, &enterprise(2, "SO", &["SO"], "3", Some("100000.00"), None)).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let id = partnership(&app, &lead_token, &demo, &lead, &[(&member, "full_partner")]).await;
    let path = format!("/api/v1/partnerships/{id}");
    let seen: Value = app.get(&path, Some(&member_token)).await.json().await.unwrap();
    assert_eq!(seen["can_manage"], false);
    assert_eq!(app.get(&format!("{path}/eligibility"), Some(&member_token)).await.status(), StatusCode::OK);
    // The member cannot change it: to it, the partnership is not there for writing.
    problem(app.post(&format!("{path}/members"), Some(&member_token), &json!({"organization_id": lead, "role": "full_partner"})).await, StatusCode::NOT_FOUND).await;
    problem(app.request(reqwest::Method::DELETE, &path, Some(&member_token), None).await, StatusCode::NOT_FOUND).await;
    // Outsiders see nothing; administrators read.
    let outsider = app.post("/api/v1/auth/register", None, &json!({"username": "terzo@example.org", "password": "a long and private passphrase", "full_name": "Terzo"})).await;
    assert_eq!(outsider.status(), StatusCode::CREATED);
    let outsider = app.login(("terzo@example.org", "a long and private passphrase")).await;
    problem(app.get(&path, Some(&outsider)).await, StatusCode::NOT_FOUND).await;
    problem(app.get(&format!("{path}/eligibility"), Some(&outsider)).await, StatusCode::NOT_FOUND).await;
    problem(app.get(&path, Some(&app.login(EVALUATOR_MONTAGNA).await)).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.get(&path, Some(&app.login(ADMIN).await)).await.status(), StatusCode::OK);
    let list: Value = app.get("/api/v1/partnerships", Some(&outsider)).await.json().await.unwrap();
    assert_eq!(list["total"], 0);
    // The lead deletes it.
    let res = app.request(reqwest::Method::DELETE, &path, Some(&lead_token), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    problem(app.get(&path, Some(&lead_token)).await, StatusCode::NOT_FOUND).await;
});

both!(async fn the_demo_applicant_finds_an_eligible_partnership_ready(app) {
    let token = app.login(APPLICANT).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let list: Value = app.get(&format!("/api/v1/partnerships?call_id={demo}"), Some(&token)).await.json().await.unwrap();
    assert_eq!(list["total"], 1);
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list["items"][0]["can_manage"], true);
    assert_eq!(list["items"][0]["members"].as_array().unwrap().len(), 4);
    assert_eq!(failing_rules(&app, &token, &id).await, Vec::<String>::new());
});
