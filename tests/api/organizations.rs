use crate::both;
use crate::helpers::*;
use crate::registry::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn size_of(
    app: &TestApp,
    token: &str,
    n: u32,
    staff: &str,
    turnover: Option<&str>,
    balance: Option<&str>,
) -> Value {
    let res = app
        .post(
            "/api/v1/organizations",
            Some(token),
            &enterprise(n, "MI", &["MI"], staff, turnover, balance),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["size_class"].clone()
}

both!(async fn an_applicant_registers_an_organization_and_represents_it(app) {
    let token = app.login(APPLICANT).await;
    let res = app.post("/api/v1/organizations", Some(&token), &enterprise(1, "SO", &["SO"], "7.50", Some("850000.00"), None)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(res.headers().contains_key("etag"));
    let org: Value = res.json().await.unwrap();
    assert_eq!(org["size_class"], "micro");
    assert_eq!(org["call_category"], "micro_small_enterprise");
    assert_eq!(org["tax_code"], tax_code(1));
    assert_eq!(org["representatives"][0]["username"], APPLICANT.0);
    let again = app.post("/api/v1/organizations", Some(&token), &enterprise(1, "SO", &["SO"], "1", Some("1.00"), None)).await;
    assert_eq!(problem(again, StatusCode::CONFLICT).await["code"], "tax_code_taken");
});

both!(async fn the_size_class_is_computed_at_its_boundaries_never_declared(app) {
    let token = app.login(APPLICANT).await;
    let cases = [
        ("9.99", Some("2000000.00"), None, "micro"),
        ("10", Some("2000000.00"), None, "small"),
        ("9", Some("2000000.01"), None, "small"),
        ("9", Some("2000000.01"), Some("2000000.00"), "micro"),
        ("49.99", Some("10000000.00"), None, "small"),
        ("50", Some("1.00"), None, "medium"),
        ("49", None, Some("10000000.01"), "medium"),
        ("249.99", Some("50000000.00"), None, "medium"),
        ("250", Some("1.00"), None, "large"),
        ("100", Some("50000000.01"), Some("43000000.00"), "medium"),
        ("100", Some("50000000.01"), Some("43000000.01"), "large"),
    ];
    for (i, (staff, turnover, balance, expected)) in cases.into_iter().enumerate() {
        assert_eq!(size_of(&app, &token, 100 + i as u32, staff, turnover, balance).await, expected, "staff {staff} turnover {turnover:?} balance {balance:?}");
    }
    let mut declared = enterprise(200, "MI", &["MI"], "5", Some("1.00"), None);
    declared["size_class"] = json!("micro");
    let p = problem(app.post("/api/v1/organizations", Some(&token), &declared).await, StatusCode::BAD_REQUEST).await;
    assert!(has_violation(&p, "size_class", "unknown_field"));
});

both!(async fn every_broken_registry_rule_is_named(app) {
    let token = app.login(APPLICANT).await;
    let mut bad = enterprise(1, "SO", &["XX"], "5", None, None);
    let mut wrong_check = tax_code(1);
    let last = wrong_check.pop().unwrap();
    wrong_check.push(if last == '9' { '0' } else { char::from(last as u8 + 1) });
    bad["tax_code"] = json!(wrong_check);
    bad["vat_number"] = json!("12345");
    bad["chamber_registration"] = json!("nope");
    bad["seats"].as_array_mut().unwrap().push(seat("registered", "MI"));
    let p = problem(app.post("/api/v1/organizations", Some(&token), &bad).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    for (field, code) in [("tax_code", "tax_code_check"), ("vat_number", "vat_number_format"), ("seats[1].province", "unknown_province"),
                          ("chamber_registration", "invalid_chamber_registration"), ("seats", "one_registered_office"), ("turnover", "size_undeterminable")] {
        assert!(has_violation(&p, field, code), "{field} {code}: {p}");
    }
    let p = problem(app.post("/api/v1/organizations", Some(&token), &enterprise(2, "SO", &[], "-1", Some("1.00"), None)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "staff", "staff_negative"), "{p}");
    let mut ats = public_body(3, "SO", &["SO"]);
    ats["subtype"] = json!("health_protection_agency");
    let p = problem(app.post("/api/v1/organizations", Some(&token), &ats).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "subtype", "ats_not_allowed"), "{p}");
    let mut named = public_body(4, "SO", &["SO"]);
    named["legal_name"] = json!("ATS della Montagna");
    let p = problem(app.post("/api/v1/organizations", Some(&token), &named).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "subtype", "ats_not_allowed"), "{p}");
    let mut mismatch = public_body(5, "SO", &["SO"]);
    mismatch["subtype"] = json!("company");
    let p = problem(app.post("/api/v1/organizations", Some(&token), &mismatch).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "subtype", "subtype_category_mismatch"), "{p}");
    // Nothing was registered.
    let list: Value = app.get("/api/v1/organizations", Some(&token)).await.json().await.unwrap();
    assert_eq!(list["total"], 4, "only the demo organizations");
});

both!(async fn only_representatives_see_and_edit_an_organization(app) {
    let owner = app.login(APPLICANT).await;
    let other = app.login(("richiedente2@demo.welfare-grants.test", "demo-applicant-password")).await;
    let id = register(&app, &owner, &public_body(1, "SO", &["SO"])).await;
    let path = format!("/api/v1/organizations/{id}");
    problem(app.get(&path, Some(&other)).await, StatusCode::NOT_FOUND).await;
    problem(app.get(&path, Some(&app.login(EVALUATOR_MONTAGNA).await)).await, StatusCode::NOT_FOUND).await;
    let admin = app.login(ADMIN).await;
    let as_admin: Value = app.get(&path, Some(&admin)).await.json().await.unwrap();
    assert_eq!(as_admin["representatives"].as_array().unwrap().len(), 1);

    let etag = app.get(&path, Some(&owner)).await.headers()["etag"].to_str().unwrap().to_owned();
    problem(app.patch(&path, Some(&other), Some(&etag), &json!({"legal_name": "x"})).await, StatusCode::NOT_FOUND).await;
    problem(app.patch(&path, Some(&admin), Some(&etag), &json!({"legal_name": "x"})).await, StatusCode::FORBIDDEN).await;
    let p = problem(app.patch(&path, Some(&owner), Some(&etag), &json!({"tax_code": tax_code(2)})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "tax_code", "immutable_field"), "{p}");
    let res = app.patch(&path, Some(&owner), Some(&etag), &json!({"legal_name": "Comune di Chiesa in Valmalenco"})).await;
    assert_eq!(res.status(), StatusCode::OK);

    // A representative adds another: now they edit too.
    let res = app.post(&format!("{path}/representatives"), Some(&owner), &json!({"username": "richiedente2@demo.welfare-grants.test"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let again = app.post(&format!("{path}/representatives"), Some(&owner), &json!({"username": "richiedente2@demo.welfare-grants.test"})).await;
    assert_eq!(problem(again, StatusCode::CONFLICT).await["code"], "already_representative");
    let p = problem(app.post(&format!("{path}/representatives"), Some(&owner), &json!({"username": ADMIN.0})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "username", "unknown_applicant"));
    let etag = app.get(&path, Some(&other)).await.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(app.patch(&path, Some(&other), Some(&etag), &json!({"legal_name": "Comune di Caspoggio"})).await.status(), StatusCode::OK);
});

both!(async fn partners_read_each_other_but_not_representatives_or_personal_tax_codes(app) {
    let owner = app.login(APPLICANT).await;
    let other = app.login(("richiedente2@demo.welfare-grants.test", "demo-applicant-password")).await;
    // A sole trader registered by the second applicant: its tax code is a person's.
    let mut sole = enterprise(1, "SO", &["SO"], "2", Some("90000.00"), None);
    sole["subtype"] = json!("sole_trader");
    sole["tax_code"] = json!("RSSMRA85T10A562S");
    let sole_id = register(&app, &other, &sole).await;
    let lead = register(&app, &owner, &public_body(2, "SO", &["SO"])).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let res = app.post("/api/v1/partnerships", Some(&owner), &json!({"call_id": demo, "name": "Rete", "lead_organization_id": lead})).await;
    let pid = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let res = app.post(&format!("/api/v1/partnerships/{pid}/members"), Some(&owner), &json!({"tax_code": "rssmra85t10a562s", "role": "full_partner"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // Invited, not yet a partner: neither reads the other until the trader accepts.
    assert_eq!(app.get(&format!("/api/v1/organizations/{sole_id}"), Some(&owner)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/v1/organizations/{lead}"), Some(&other)).await.status(), StatusCode::NOT_FOUND);
    crate::applications::accept_invitation(&app, &other, &pid, &sole_id).await;
    let seen: Value = app.get(&format!("/api/v1/organizations/{sole_id}"), Some(&owner)).await.json().await.unwrap();
    assert_eq!(seen["tax_code"], "RSS************S");
    assert!(seen["representatives"].is_null());
    let own: Value = app.get(&format!("/api/v1/organizations/{sole_id}"), Some(&other)).await.json().await.unwrap();
    assert_eq!(own["tax_code"], "RSSMRA85T10A562S");
    // The partner reads the lead too, and the partnership, masked the same way.
    assert_eq!(app.get(&format!("/api/v1/organizations/{lead}"), Some(&other)).await.status(), StatusCode::OK);
    let p: Value = app.get(&format!("/api/v1/partnerships/{pid}"), Some(&owner)).await.json().await.unwrap();
    let member = p["members"].as_array().unwrap().iter().find(|m| m["organization_id"] == sole_id.as_str()).unwrap().clone();
    assert_eq!(member["tax_code"], "RSS************S");
});
