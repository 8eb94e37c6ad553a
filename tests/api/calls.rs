use crate::both;
use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const CALL_2022: &str = "RLD12022024943";
const DEMO: &str = "RLD-DEMO-CONCILIAZIONE";

async fn rules_2022(app: &TestApp) -> Value {
    let id = app.call_id(CALL_2022).await;
    app.get(&format!("/api/v1/calls/{id}"), None)
        .await
        .json::<Value>()
        .await
        .unwrap()["rules"]
        .clone()
}

async fn new_call(app: &TestApp, code: &str) -> Value {
    json!({
        "code": code,
        "title": "Avviso conciliazione 2027",
        "opens_at": "2027-05-04T12:00:00+02:00",
        "closes_at": "2027-07-15T12:00:00+02:00",
        "total_budget": "6000000.00",
        "rules": rules_2022(app).await,
    })
}

async fn etag_of(app: &TestApp, path: &str, token: &str) -> String {
    app.get(path, Some(token)).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned()
}

both!(async fn the_2022_call_reads_back_as_published_with_its_extension_and_envelopes(app) {
    let id = app.call_id(CALL_2022).await;
    let call: Value = app.get(&format!("/api/v1/calls/{id}"), None).await.json().await.unwrap();
    assert_eq!(call["status"], "published");
    assert_eq!(call["total_budget"], "5050000.00");
    assert_eq!(call["opens_at"], "2022-05-04T10:00:00.000000Z");
    assert_eq!(call["closes_at"], "2022-07-15T10:00:00.000000Z");
    assert_eq!(call["opens_at_local"], "2022-05-04T12:00:00+02:00");
    assert_eq!(call["closes_at_local"], "2022-07-15T12:00:00+02:00");
    assert_eq!(call["window_state"], "closed");
    assert_eq!(call["ranking_target_date"], "2022-10-13");
    assert_eq!(call["rules"]["grant_rate"], "70.00");
    assert_eq!(call["rules"]["grant_cap"], "50000.00");
    assert_eq!(call["rules"]["intervention_areas"].as_array().unwrap().len(), 7);
    assert_eq!(call["rules"]["scoring"]["threshold"], "60.0");

    let amendments: Value = app.get(&format!("/api/v1/calls/{id}/amendments"), None).await.json().await.unwrap();
    assert_eq!(amendments.as_array().unwrap().len(), 1);
    assert_eq!(amendments[0]["act_number"], "decreto n. 8343");
    assert_eq!(amendments[0]["act_date"], "2022-06-14");
    assert_eq!(amendments[0]["changes"], json!([{"field": "closes_at", "old_value": "2022-06-15T10:00:00Z", "new_value": "2022-07-15T10:00:00Z"}]));

    let envelopes: Value = app.get(&format!("/api/v1/calls/{id}/envelopes"), None).await.json().await.unwrap();
    assert_eq!(envelopes["sum"], "5050000.00");
    let items = envelopes["items"].as_array().unwrap();
    assert_eq!(items.len(), 8);
    let montagna = items.iter().find(|e| e["agency_code"] == "MONTAGNA").unwrap();
    assert_eq!(montagna["amount"], "293580.00");
    assert_eq!(montagna["source"], "official");
    let milano = items.iter().find(|e| e["agency_code"] == "MILANO").unwrap();
    assert_eq!(milano["amount"], "1417010.23");
    assert_eq!(milano["source"], "estimated");
    let cents: i64 = items.iter().map(|e| (e["amount"].as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64).sum();
    assert_eq!(cents, 505_000_000);
});

both!(async fn the_demo_edition_is_open_with_the_same_rules(app) {
    let id = app.call_id(DEMO).await;
    let call: Value = app.get(&format!("/api/v1/calls/{id}"), None).await.json().await.unwrap();
    assert_eq!(call["window_state"], "open");
    assert_eq!(call["rules"], rules_2022(&app).await);
    let agencies: Value = app.get("/api/v1/agencies", None).await.json().await.unwrap();
    assert_eq!(agencies.as_array().unwrap().len(), 8);
});

both!(async fn an_admin_creates_a_draft_call_split_30_70_and_publishes_it(app) {
    let admin = app.login(ADMIN).await;
    let res = app.post("/api/v1/calls", Some(&admin), &new_call(&app, "RLD-2027").await).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let call: Value = res.json().await.unwrap();
    assert_eq!(call["status"], "draft");
    let id = call["id"].as_str().unwrap();
    let envelopes: Value = app.get(&format!("/api/v1/calls/{id}/envelopes"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(envelopes["sum"], "6000000.00");

    // A draft is invisible to everybody but administrators.
    let applicant = app.login(APPLICANT).await;
    problem(app.get(&format!("/api/v1/calls/{id}"), Some(&applicant)).await, StatusCode::NOT_FOUND).await;
    problem(app.get(&format!("/api/v1/calls/{id}/envelopes"), None).await, StatusCode::NOT_FOUND).await;
    let list: Value = app.get("/api/v1/calls", None).await.json().await.unwrap();
    assert!(list["items"].as_array().unwrap().iter().all(|c| c["id"] != id));

    let res = app.post(&format!("/api/v1/calls/{id}/publish"), Some(&admin), &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.get(&format!("/api/v1/calls/{id}"), Some(&applicant)).await.status(), StatusCode::OK);
    let again = app.post(&format!("/api/v1/calls/{id}/publish"), Some(&admin), &json!({})).await;
    assert_eq!(problem(again, StatusCode::CONFLICT).await["code"], "call_already_published");

    let dup = app.post("/api/v1/calls", Some(&admin), &new_call(&app, "RLD-2027").await).await;
    assert_eq!(problem(dup, StatusCode::CONFLICT).await["code"], "call_code_taken");
});

both!(async fn money_must_be_a_string_with_two_decimals(app) {
    let admin = app.login(ADMIN).await;
    for (amount, expected) in [(json!(6000000), "invalid_type"), (json!(6000000.5), "invalid_type"), (json!("-1.00"), "invalid_value"),
                               (json!("6000000.001"), "invalid_value"), (json!("6000000"), "invalid_value"), (json!("1e6"), "invalid_value")] {
        let mut body = new_call(&app, "RLD-MONEY").await;
        body["total_budget"] = amount.clone();
        let p = problem(app.post("/api/v1/calls", Some(&admin), &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(has_violation(&p, "total_budget", expected), "{amount}: {p}");
    }
});

both!(async fn every_broken_rule_of_a_new_call_is_listed_at_once(app) {
    let admin = app.login(ADMIN).await;
    let mut body = new_call(&app, "bad code").await;
    body["closes_at"] = json!("2027-05-04T12:00:00+02:00");
    body["rules"]["grant_cap"] = json!(50000);
    body["rules"]["scoring"]["threshold"] = json!("60.25");
    body["title"] = json!(7);
    let p = problem(app.post("/api/v1/calls", Some(&admin), &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    // The type errors come first, all of them.
    assert!(has_violation(&p, "rules.grant_cap", "invalid_type"), "{p}");
    assert!(has_violation(&p, "rules.scoring.threshold", "invalid_value"), "{p}");
    assert!(has_violation(&p, "title", "invalid_type"), "{p}");
    // With the types right, the rules: all of them too.
    let mut body = new_call(&app, "bad code").await;
    body["closes_at"] = json!("2027-05-04T12:00:00+02:00");
    body["rules"]["scoring"]["threshold"] = json!("500");
    body["rules"]["ranking"]["tie_breaks"] = json!([{"rule": "higher_criterion_score", "criterion": "NOPE"}]);
    let p = problem(app.post("/api/v1/calls", Some(&admin), &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    for (field, code) in [("code", "invalid_call_code"), ("closes_at", "window_close_not_after_open"),
                          ("rules.scoring.threshold", "threshold_above_maximum"), ("rules.ranking.tie_breaks", "tie_break_submission_last"),
                          ("rules.ranking.tie_breaks[0].criterion", "unknown_criterion")] {
        assert!(has_violation(&p, field, code), "{field} {code}: {p}");
    }
});

both!(async fn envelopes_must_cover_every_agency_and_add_up_to_the_total(app) {
    let admin = app.login(ADMIN).await;
    let id = app.call_id(CALL_2022).await;
    let path = format!("/api/v1/calls/{id}/envelopes");
    let before: Value = app.get(&path, None).await.json().await.unwrap();
    let mut envelopes: Vec<Value> = before["items"].as_array().unwrap().iter()
        .map(|e| json!({"agency_code": e["agency_code"], "amount": e["amount"], "source": e["source"], "note": e["note"]})).collect();
    envelopes[0]["amount"] = json!("0.01");
    let p = problem(app.put(&path, Some(&admin), &json!({"envelopes": envelopes})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "envelopes", "envelopes_sum_mismatch"), "{p}");
    let p = problem(app.put(&path, Some(&admin), &json!({"envelopes": envelopes[..7]})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "envelopes", "missing_agency"), "{p}");
    let mut unknown = envelopes.clone();
    unknown[1]["agency_code"] = json!("ROMA");
    let p = problem(app.put(&path, Some(&admin), &json!({"envelopes": unknown})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "envelopes[1].agency_code", "invalid_value"), "{p}");
    // Nothing changed.
    let after: Value = app.get(&path, None).await.json().await.unwrap();
    assert_eq!(before, after);

    // Moving one cent between two agencies is fine.
    let mut moved = before["items"].as_array().unwrap().iter()
        .map(|e| json!({"agency_code": e["agency_code"], "amount": e["amount"], "source": e["source"], "note": e["note"]})).collect::<Vec<_>>();
    moved[0]["amount"] = json!("581456.75");
    moved[1]["amount"] = json!("598088.39");
    let res = app.put(&path, Some(&admin), &json!({"envelopes": moved})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["sum"], "5050000.00");
    assert_eq!(body["items"][1]["amount"], "598088.39");
});

both!(async fn the_split_keeps_a_pinned_envelope_and_shares_the_rest(app) {
    let admin = app.login(ADMIN).await;
    let id = app.call_id(DEMO).await;
    let path = format!("/api/v1/calls/{id}/envelopes/split");
    let res = app.post(&path, Some(&admin), &json!({"pinned": [{"agency_code": "PAVIA", "amount": "400000.00", "source": "official", "note": null}], "dry_run": true})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["sum"], "5050000.00");
    let pavia = body["items"].as_array().unwrap().iter().find(|e| e["agency_code"] == "PAVIA").unwrap().clone();
    assert_eq!(pavia["amount"], "400000.00");
    assert_eq!(pavia["source"], "official");
    // A dry run stores nothing.
    let stored: Value = app.get(&format!("/api/v1/calls/{id}/envelopes"), None).await.json().await.unwrap();
    assert_ne!(stored["items"], body["items"]);
    // Equal populations give parts within a cent.
    let pops: Vec<Value> = ["MILANO", "INSUBRIA", "BRIANZA", "BERGAMO", "BRESCIA", "VAL_PADANA", "PAVIA", "MONTAGNA"].iter()
        .map(|a| json!({"agency_code": a, "population": 1000})).collect();
    let res = app.post(&path, Some(&admin), &json!({"populations": pops})).await;
    let body: Value = res.json().await.unwrap();
    let amounts: Vec<f64> = body["items"].as_array().unwrap().iter().map(|e| e["amount"].as_str().unwrap().parse().unwrap()).collect();
    let (min, max) = amounts.iter().fold((f64::MAX, 0f64), |(a, b), x| (a.min(*x), b.max(*x)));
    assert!(max - min <= 0.0100001, "{amounts:?}");
    let stored: Value = app.get(&format!("/api/v1/calls/{id}/envelopes"), None).await.json().await.unwrap();
    assert_eq!(stored["items"], body["items"]);
    // Pins above the total are refused.
    let res = app.post(&path, Some(&admin), &json!({"pinned": [{"agency_code": "PAVIA", "amount": "6000000.00", "source": "official", "note": null}]})).await;
    assert!(has_violation(&problem(res, StatusCode::UNPROCESSABLE_ENTITY).await, "pinned", "split_pinned_exceed_total"));
});

both!(async fn the_rules_of_an_open_call_are_locked(app) {
    let admin = app.login(ADMIN).await;
    let id = app.call_id(DEMO).await;
    let path = format!("/api/v1/calls/{id}");
    let etag = etag_of(&app, &path, &admin).await;
    let res = app.patch(&path, Some(&admin), Some(&etag), &json!({"rules": {"grant_rate": "80.00", "scoring": {"threshold": "50.0"}}, "total_budget": "1.00"})).await;
    let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "rules.grant_rate", "locked_after_opening"), "{p}");
    assert!(has_violation(&p, "rules.scoring", "locked_after_opening"), "{p}");
    assert!(has_violation(&p, "total_budget", "locked_after_opening"), "{p}");
    // The title is no rule.
    let res = app.patch(&path, Some(&admin), Some(&etag), &json!({"title": "Edizione dimostrativa"})).await;
    assert_eq!(res.status(), StatusCode::OK);
});

both!(async fn extending_a_published_call_needs_an_amendment_act_which_is_recorded(app) {
    let admin = app.login(ADMIN).await;
    let id = app.call_id(DEMO).await;
    let path = format!("/api/v1/calls/{id}");
    let call: Value = app.get(&path, None).await.json().await.unwrap();
    let etag = etag_of(&app, &path, &admin).await;
    let p = problem(app.patch(&path, Some(&admin), Some(&etag), &json!({"closes_at": "2030-01-31T12:00:00+01:00"})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "amendment", "amendment_required"), "{p}");
    let body = json!({"closes_at": "2030-01-31T12:00:00+01:00", "amendment": {"act_number": "decreto n. 1", "act_date": "2026-11-27", "reason": "Proroga"}});
    let res = app.patch(&path, Some(&admin), Some(&etag), &body).await;
    assert_eq!(res.status(), StatusCode::OK);
    let new_etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["closes_at"], "2030-01-31T11:00:00.000000Z");
    let amendments: Value = app.get(&format!("{path}/amendments"), None).await.json().await.unwrap();
    assert_eq!(amendments[0]["changes"][0]["field"], "closes_at");
    assert_eq!(amendments[0]["changes"][0]["old_value"], call["closes_at"].as_str().unwrap().split('.').next().unwrap().trim_end_matches('Z').to_owned() + "Z");
    assert_eq!(amendments[0]["changes"][0]["new_value"], "2030-01-31T11:00:00Z");
    // The old ETag is stale now.
    problem(app.patch(&path, Some(&admin), Some(&etag), &json!({"title": "x"})).await, StatusCode::PRECONDITION_FAILED).await;
    // An amendment act must name its act; a window must close after it opens.
    let body = json!({"closes_at": "2020-01-01T00:00:00Z", "amendment": {"act_number": " ", "act_date": "2026-11-27", "reason": null}});
    let p = problem(app.patch(&path, Some(&admin), Some(&new_etag), &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "amendment.act_number", "invalid_text"), "{p}");
    assert!(has_violation(&p, "closes_at", "window_close_not_after_open"), "{p}");
});

both!(async fn a_call_is_cloned_into_a_draft_next_edition(app) {
    let admin = app.login(ADMIN).await;
    let id = app.call_id(CALL_2022).await;
    let res = app.post(&format!("/api/v1/calls/{id}/clone"), Some(&admin), &json!({
        "code": "RLD-2027", "opens_at": "2027-05-04T12:00:00+02:00", "closes_at": "2027-07-15T12:00:00+02:00"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let clone: Value = res.json().await.unwrap();
    assert_eq!(clone["status"], "draft");
    assert_eq!(clone["cloned_from"], id.as_str());
    assert_eq!(clone["rules"], rules_2022(&app).await);
    let env: Value = app.get(&format!("/api/v1/calls/{}/envelopes", clone["id"].as_str().unwrap()), Some(&admin)).await.json().await.unwrap();
    let montagna = env["items"].as_array().unwrap().iter().find(|e| e["agency_code"] == "MONTAGNA").unwrap().clone();
    assert_eq!(montagna["amount"], "293580.00");
    // A draft's rules still change freely.
    let path = format!("/api/v1/calls/{}", clone["id"].as_str().unwrap());
    let etag = etag_of(&app, &path, &admin).await;
    let res = app.patch(&path, Some(&admin), Some(&etag), &json!({"rules": {"grant_rate": "60.00"}})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["rules"]["grant_rate"], "60.00");
    // A new total re-splits the envelopes, keeping Montagna's official one.
    let etag = etag_of(&app, &path, &admin).await;
    assert_eq!(app.patch(&path, Some(&admin), Some(&etag), &json!({"total_budget": "6000000.00"})).await.status(), StatusCode::OK);
    let env: Value = app.get(&format!("{path}/envelopes"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(env["sum"], "6000000.00");
    let montagna = env["items"].as_array().unwrap().iter().find(|e| e["agency_code"] == "MONTAGNA").unwrap().clone();
    assert_eq!((montagna["amount"].as_str(), montagna["source"].as_str()), (Some("293580.00"), Some("official")));
});

/// The stored default post-award rules of the backfill are the service's defaults.
#[test]
fn the_backfilled_post_award_rules_are_the_defaults() {
    let stored: serde_json::Value = serde_json::from_str(migration::POST_AWARD_DEFAULTS).unwrap();
    let defaults =
        serde_json::to_value(welfare_grants::domain::award::PostAwardRules::default()).unwrap();
    assert_eq!(stored, defaults);
}

/// A call written before the post-award rules existed gains their defaults when the database
/// is migrated; one that has its own keeps them. On SQLite and PostgreSQL.
#[tokio::test]
async fn calls_written_before_the_post_award_rules_gain_their_defaults() {
    use migration::MigratorTrait;
    use sea_orm::{ActiveModelTrait, EntityTrait, Set};

    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("old.db").display()
    )];
    let admin_url = postgres_admin_url();
    let pg_name = format!("wg_test_backfill_{}", uuid::Uuid::new_v4().simple());
    let admin = connect_admin(&admin_url).await.ok();
    if let Some(admin) = &admin {
        use sea_orm::ConnectionTrait;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {pg_name}"))
            .await
            .unwrap();
        urls.push(with_database(&admin_url, &pg_name));
    }
    for url in urls {
        let db = sea_orm::Database::connect(&url).await.unwrap();
        // The schema as it was before the backfill.
        let before = migration::Migrator::migrations().len() as u32 - 1;
        migration::Migrator::up(&db, Some(before)).await.unwrap();
        let mut old =
            serde_json::to_value(welfare_grants::domain::call::CallRules::lombardy_2022()).unwrap();
        old.as_object_mut().unwrap().remove("post_award");
        let mut own = welfare_grants::domain::call::CallRules::lombardy_2022();
        own.post_award.start_deadline_days = 90;
        let now = chrono::Utc::now();
        let mut ids = vec![];
        for (code, rules) in [
            ("OLD-CALL", old.to_string()),
            ("OWN-CALL", serde_json::to_string(&own).unwrap()),
        ] {
            let id = uuid::Uuid::new_v4();
            welfare_grants::entity::call::ActiveModel {
                id: Set(id),
                code: Set(code.into()),
                title: Set("Avviso".into()),
                description: Set("Avviso di prova".into()),
                legal_basis: Set("DGR".into()),
                status: Set("draft".into()),
                opens_at: Set(now),
                closes_at: Set(now),
                total_budget: Set(rust_decimal::Decimal::new(10_000_000, 2)),
                rules: Set(rules),
                cloned_from: Set(None),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
                published_at: Set(None),
            }
            .insert(&db)
            .await
            .unwrap();
            ids.push(id);
        }
        migration::Migrator::up(&db, None).await.unwrap();
        let read = |id| {
            let db = &db;
            async move {
                let m = welfare_grants::entity::call::Entity::find_by_id(id)
                    .one(db)
                    .await
                    .unwrap()
                    .unwrap();
                serde_json::from_str::<welfare_grants::domain::call::CallRules>(&m.rules).unwrap()
            }
        };
        let old = read(ids[0]).await;
        assert_eq!(
            old.post_award,
            welfare_grants::domain::award::PostAwardRules::default(),
            "{url}"
        );
        assert_eq!(
            old,
            welfare_grants::domain::call::CallRules::lombardy_2022(),
            "{url}"
        );
        assert_eq!(
            read(ids[1]).await.post_award.start_deadline_days,
            90,
            "{url}"
        );
        db.close().await.ok();
    }
    if let Some(admin) = admin {
        use sea_orm::ConnectionTrait;
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)"))
            .await
            .ok();
    }
}
