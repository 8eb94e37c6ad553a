//! An organization joins a partnership only with its consent: one that none of the lead's
//! users represents is invited, counts for nothing and sees (and shows) nothing of its
//! partners until one of its representatives accepts.

use crate::applications::{Members, content, members, submit};
use crate::both;
use crate::helpers::*;
use crate::registry::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const APPLICANT2: (&str, &str) = (
    "richiedente2@demo.welfare-grants.test",
    "demo-applicant-password",
);
const INVITEE: (&str, &str) = (
    "legale.invitata@example.org",
    "a long and private passphrase",
);

struct Setup {
    lead: String,
    invitee: String,
    m: Members,
    /// The invited organization (a micro enterprise of another applicant) and its tax code.
    guest: String,
    guest_tax_code: String,
    partnership: String,
}

/// A partnership of the lead's three organizations, one micro enterprise short of eligible,
/// and a micro enterprise registered by another applicant, not yet invited.
async fn setup(app: &TestApp) -> Setup {
    let lead = app.login(APPLICANT).await;
    let m = members(app, &lead, 300).await;
    let res = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({"username": INVITEE.0, "password": INVITEE.1, "full_name": "Legale Invitata"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let invitee = app.login(INVITEE).await;
    let guest = register(
        app,
        &invitee,
        &enterprise(320, "SO", &["SO"], "3", Some("200000.00"), None),
    )
    .await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;
    let res = app
        .post(
            "/api/v1/partnerships",
            Some(&lead),
            &json!({"call_id": demo, "name": "Rete con invito", "lead_organization_id": m.lead}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let partnership = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for o in &m.others[..2] {
        let res = app
            .post(
                &format!("/api/v1/partnerships/{partnership}/members"),
                Some(&lead),
                &json!({"organization_id": o, "role": "full_partner"}),
            )
            .await;
        let body: Value = res.json().await.unwrap();
        // The lead's user represents it: it joins at once.
        assert_eq!(
            body["members"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["organization_id"] == *o)
                .unwrap()["status"],
            "accepted"
        );
    }
    Setup {
        lead,
        invitee,
        m,
        guest,
        guest_tax_code: tax_code(320),
        partnership,
    }
}

async fn invite(app: &TestApp, s: &Setup) -> reqwest::Response {
    app.post(
        &format!("/api/v1/partnerships/{}/members", s.partnership),
        Some(&s.lead),
        &json!({"role": "full_partner", "tax_code": s.guest_tax_code}),
    )
    .await
}

async fn answer(app: &TestApp, s: &Setup, token: &str, verb: &str) -> reqwest::Response {
    app.post(
        &format!(
            "/api/v1/partnerships/{}/members/{}/{verb}",
            s.partnership, s.guest
        ),
        Some(token),
        &json!({}),
    )
    .await
}

fn member<'a>(partnership: &'a Value, org: &str) -> &'a Value {
    partnership["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["organization_id"] == org)
        .expect("the member")
}

both!(async fn an_organization_added_by_tax_code_stays_hidden_until_it_accepts_the_invitation(app) {
    let s = setup(&app).await;
    // The leak as reported: added by tax code, then read. Now it is an invitation, and the
    // lead sees its name and masked tax code only.
    let res = invite(&app, &s).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let p: Value = res.json().await.unwrap();
    let guest = member(&p, &s.guest);
    assert_eq!(guest["status"], "pending");
    assert!(guest["legal_name"].is_string());
    assert!(guest["category"].is_null() && guest["subtype"].is_null() && guest["size_class"].is_null(), "{guest}");
    let res = app.get(&format!("/api/v1/organizations/{}", s.guest), Some(&s.lead)).await;
    assert_eq!(problem(res, StatusCode::NOT_FOUND).await["code"], "organization_not_found");
    // Nor does the invitee read the lead's organization.
    let res = app.get(&format!("/api/v1/organizations/{}", s.m.lead), Some(&s.invitee)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // The invitee finds it in its inbox and in its list of invitations, not among its partnerships.
    let inbox: Value = app.get("/api/v1/notifications", Some(&s.invitee)).await.json().await.unwrap();
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == "partnership.member_invited"), "{inbox}");
    let invited: Value = app.get("/api/v1/partnerships?invited=true", Some(&s.invitee)).await.json().await.unwrap();
    assert_eq!(invited["total"], 1, "{invited}");
    assert_eq!(invited["items"][0]["id"], s.partnership);
    let mine: Value = app.get("/api/v1/partnerships", Some(&s.invitee)).await.json().await.unwrap();
    assert_eq!(mine["total"], 0);

    // Accepted: it counts, and the partners read each other.
    let res = answer(&app, &s, &s.invitee, "accept").await;
    assert_eq!(res.status(), StatusCode::OK);
    let p: Value = res.json().await.unwrap();
    assert_eq!(member(&p, &s.guest)["status"], "accepted");
    assert!(member(&p, &s.guest)["answered_at"].is_string());
    assert_eq!(app.get(&format!("/api/v1/organizations/{}", s.guest), Some(&s.lead)).await.status(), StatusCode::OK);
    assert_eq!(app.get(&format!("/api/v1/organizations/{}", s.m.lead), Some(&s.invitee)).await.status(), StatusCode::OK);
    let inbox: Value = app.get("/api/v1/notifications", Some(&s.lead)).await.json().await.unwrap();
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == "partnership.invitation_accepted"), "{inbox}");
    // Accepting twice changes nothing.
    let res = answer(&app, &s, &s.invitee, "accept").await;
    assert_eq!(problem(res, StatusCode::CONFLICT).await["code"], "invitation_already_answered");
    // Every step is in the audit log (and so in the webhook outbox).
    let admin = app.login(ADMIN).await;
    for action in ["partnership.member_invited", "partnership.invitation_accepted"] {
        let events: Value = app.get(&format!("/api/v1/audit-events?action={action}"), Some(&admin)).await.json().await.unwrap();
        assert_eq!(events["total"], 1, "{action}: {events}");
    }
});

both!(async fn a_partnership_with_a_pending_member_is_not_eligible_and_its_application_waits(app) {
    let s = setup(&app).await;
    assert_eq!(invite(&app, &s).await.status(), StatusCode::CREATED);
    let report: Value = app.get(&format!("/api/v1/partnerships/{}/eligibility", s.partnership), Some(&s.lead)).await.json().await.unwrap();
    assert_eq!(report["eligible"], false);
    let rule = report["rules"].as_array().unwrap().iter().find(|r| r["rule"] == "invitations_accepted").unwrap();
    assert_eq!(rule["passed"], false);
    assert!(rule["reason_en"].as_str().unwrap().contains("invitation pending"), "{rule}");
    assert!(rule["reason_it"].as_str().unwrap().contains("invito in attesa"), "{rule}");
    assert_eq!(rule["organizations"], json!([s.guest]));
    // It does not count: three members, one micro or small enterprise.
    for failing in ["min_members", "min_micro_small_enterprises"] {
        assert_eq!(report["rules"].as_array().unwrap().iter().find(|r| r["rule"] == failing).unwrap()["passed"], false, "{failing}");
    }

    let res = app.post("/api/v1/applications", Some(&s.lead), &json!({"partnership_id": s.partnership, "content": content(&s.m.lead)})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let draft: Value = res.json().await.unwrap();
    let id = draft["id"].as_str().unwrap().to_owned();
    upload(&app, &s.lead, &id, "partnership_agreement", None, "accordo.pdf", pdf("Accordo")).await;
    let view: Value = app.get(&format!("/api/v1/applications/{id}"), Some(&s.lead)).await.json().await.unwrap();
    assert!(view["blocking"].as_array().unwrap().iter().any(|b| b["code"] == "partnership_invitations_accepted"), "{view}");
    let p = problem(submit(&app, &s.lead, &id, None).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "partnership", "partnership_invitations_accepted"), "{p}");
    // The invitee does not read the application while invited.
    assert_eq!(app.get(&format!("/api/v1/applications/{id}"), Some(&s.invitee)).await.status(), StatusCode::NOT_FOUND);

    assert_eq!(answer(&app, &s, &s.invitee, "accept").await.status(), StatusCode::OK);
    let report: Value = app.get(&format!("/api/v1/partnerships/{}/eligibility", s.partnership), Some(&s.lead)).await.json().await.unwrap();
    assert_eq!(report["eligible"], true, "{report}");
    let res = submit(&app, &s.lead, &id, None).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    // Now a member, it reads the application.
    assert_eq!(app.get(&format!("/api/v1/applications/{id}"), Some(&s.invitee)).await.status(), StatusCode::OK);
});

both!(async fn only_the_invited_organizations_representatives_answer_and_a_declined_invitation_is_removed(app) {
    let s = setup(&app).await;
    assert_eq!(invite(&app, &s).await.status(), StatusCode::CREATED);
    // Inviting it again, or as a member: refused, nothing changed.
    let res = invite(&app, &s).await;
    assert_eq!(problem(res, StatusCode::CONFLICT).await["code"], "member_already_present");
    // Nobody but its representatives answers for it, not even the lead.
    let other = app.login(APPLICANT2).await;
    for token in [&s.lead, &other] {
        let res = answer(&app, &s, token, "accept").await;
        assert_eq!(problem(res, StatusCode::NOT_FOUND).await["code"], "invitation_not_found");
    }
    let res = answer(&app, &s, &app.login(EVALUATOR_MONTAGNA).await, "accept").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let p: Value = app.get(&format!("/api/v1/partnerships/{}", s.partnership), Some(&s.lead)).await.json().await.unwrap();
    assert_eq!(member(&p, &s.guest)["status"], "pending");

    // Declined: shown as declined, named in the report, removed by the lead, and the
    // invitee hears of it.
    let res = answer(&app, &s, &s.invitee, "decline").await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = answer(&app, &s, &s.invitee, "accept").await;
    assert_eq!(problem(res, StatusCode::CONFLICT).await["code"], "invitation_already_answered");
    let p: Value = app.get(&format!("/api/v1/partnerships/{}", s.partnership), Some(&s.lead)).await.json().await.unwrap();
    assert_eq!(member(&p, &s.guest)["status"], "declined");
    let report: Value = app.get(&format!("/api/v1/partnerships/{}/eligibility", s.partnership), Some(&s.lead)).await.json().await.unwrap();
    let rule = report["rules"].as_array().unwrap().iter().find(|r| r["rule"] == "invitations_accepted").unwrap();
    assert!(rule["reason_en"].as_str().unwrap().contains("invitation declined"), "{rule}");
    assert!(rule["reason_it"].as_str().unwrap().contains("invito rifiutato"), "{rule}");
    let res = app.client.delete(app.url(&format!("/api/v1/partnerships/{}/members/{}", s.partnership, s.guest))).bearer_auth(&s.lead).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let inbox: Value = app.get("/api/v1/notifications", Some(&s.invitee)).await.json().await.unwrap();
    assert!(inbox["items"].as_array().unwrap().iter().any(|n| n["kind"] == "partnership.member_removed"), "{inbox}");
    let invited: Value = app.get("/api/v1/partnerships?invited=true", Some(&s.invitee)).await.json().await.unwrap();
    assert_eq!(invited["total"], 0);
});

both!(async fn an_invitation_cannot_be_accepted_after_the_window_closed(app) {
    let s = setup(&app).await;
    assert_eq!(invite(&app, &s).await.status(), StatusCode::CREATED);
    app.clock.set(chrono::Utc::now() + chrono::Duration::days(120));
    let p = problem(answer(&app, &s, &s.invitee, "accept").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(has_violation(&p, "call_id", "call_closed"), "{p}");
    app.clock.set(chrono::Utc::now());
    let p: Value = app.get(&format!("/api/v1/partnerships/{}", s.partnership), Some(&s.lead)).await.json().await.unwrap();
    assert_eq!(member(&p, &s.guest)["status"], "pending");
});
