//! After the offer: the projects' deadlines. A week before a live project's start or final
//! report is due its lead is reminded, once; past the day its ATS hears of it, once, and the
//! grant is flagged. Nothing is revoked. The job runs as the periodic task runs it, here called
//! directly at the test clock's time, as one replica or as two at once.

use crate::both;
use crate::helpers::*;
use crate::rankings::{approve_montagna, scored_round};
use chrono::NaiveDate;
use reqwest::StatusCode;
use serde_json::{Value, json};
use welfare_grants::clock::Clock;
use welfare_grants::domain::event::Actor;

/// Run the deadline job at the test clock's time, on a pool of its own (as another replica
/// would): how many notices it sent.
async fn run_job(app: &TestApp) -> usize {
    let db = welfare_grants::store::connect(&app.settings.database)
        .await
        .unwrap();
    let sent =
        welfare_grants::service::deadlines::notify_due(&db, &Actor::system(), app.clock.now())
            .await
            .unwrap();
    db.close().await.ok();
    sent
}

/// The job run by two replicas at the same time.
async fn run_job_twice_at_once(app: &TestApp) -> usize {
    let (a, b) = tokio::join!(run_job(app), run_job(app));
    a + b
}

/// The notices of `kind` about `grant` in the caller's inbox.
async fn notices(app: &TestApp, token: &str, kind: &str, grant: &str) -> Vec<Value> {
    let inbox: Value = app
        .get("/api/v1/notifications?per_page=100", Some(token))
        .await
        .json()
        .await
        .unwrap();
    inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == kind && n["data"]["grant_id"] == grant)
        .cloned()
        .collect()
}

async fn grant(app: &TestApp, token: &str, id: &str) -> Value {
    let res = app.get(&format!("/api/v1/grants/{id}"), Some(token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// Set the clock to 09:00 in Rome of `day` plus `days`.
fn set_day(app: &TestApp, day: NaiveDate, days: i64) {
    let d = day + chrono::Duration::days(days);
    app.clock.set_rome(&format!("{d}T09:00:00"));
}

/// A day of a JSON date, or the Rome day of a JSON timestamp.
fn day_of(v: &Value) -> NaiveDate {
    let s = v.as_str().unwrap();
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) => d,
        Err(_) => chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono_tz::Europe::Rome)
            .date_naive(),
    }
}

/// Approve ATS Montagna's ranking of a scored round and accept its two full grants: their
/// ids, the lead's and the ATS evaluator's tokens.
async fn accepted_pair(app: &TestApp) -> ((String, String), String, String) {
    let (_, applicant, evaluator, _) = scored_round(app).await;
    approve_montagna(app, &evaluator).await;
    let grants: Value = app
        .get("/api/v1/grants", Some(&applicant))
        .await
        .json()
        .await
        .unwrap();
    let full: Vec<String> = grants["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["amount"] == "50000.00")
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    for g in &full[..2] {
        let res = app
            .post(
                &format!("/api/v1/grants/{g}/accept"),
                Some(&applicant),
                &json!({"cup": "J51B22000120002"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    ((full[0].clone(), full[1].clone()), applicant, evaluator)
}

both!(async fn a_project_not_started_is_reminded_a_week_before_its_start_deadline_and_its_ats_told_once_past_it(app) {
    let ((g, revoked), lead, ats) = accepted_pair(&app).await;
    let res = app.post(&format!("/api/v1/grants/{revoked}/revoke"), Some(&ats), &json!({"reason": "Requisiti venuti meno.", "cause": "loss_of_requirements"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let view = grant(&app, &lead, &g).await;
    let last = day_of(&view["start_deadline"]);
    assert_eq!(view["overdue"], false);

    // Eight days before the last day: nothing yet.
    set_day(&app, last, -8);
    run_job(&app).await;
    assert!(notices(&app, &lead, "grant_deadline_approaching", &g).await.is_empty());

    // A week before: the lead is reminded once, however often and by however many replicas
    // the job runs.
    set_day(&app, last, -7);
    assert!(run_job_twice_at_once(&app).await >= 1);
    run_job(&app).await;
    let reminded = notices(&app, &lead, "grant_deadline_approaching", &g).await;
    assert_eq!(reminded.len(), 1, "{reminded:?}");
    assert_eq!((reminded[0]["data"]["deadline_kind"].as_str(), reminded[0]["data"]["deadline"].as_str()), (Some("start"), Some(last.to_string().as_str())));
    assert!(reminded[0]["message"].as_str().unwrap().contains(&last.to_string()), "{reminded:?}");
    assert!(notices(&app, &ats, "grant_deadline_missed", &g).await.is_empty());
    assert_eq!(grant(&app, &lead, &g).await["overdue"], false);

    // On its last day still nothing for the ATS; the day after, its evaluators hear of it
    // once and the grant is flagged, still accepted.
    set_day(&app, last, 0);
    run_job(&app).await;
    assert!(notices(&app, &ats, "grant_deadline_missed", &g).await.is_empty());
    set_day(&app, last, 1);
    run_job_twice_at_once(&app).await;
    run_job(&app).await;
    let missed = notices(&app, &ats, "grant_deadline_missed", &g).await;
    assert_eq!(missed.len(), 1, "{missed:?}");
    assert_eq!(missed[0]["data"]["deadline_kind"], "start");
    assert_eq!(notices(&app, &lead, "grant_deadline_approaching", &g).await.len(), 1);
    let view = grant(&app, &ats, &g).await;
    assert_eq!((view["status"].as_str(), view["overdue"].as_bool()), (Some("accepted"), Some(true)));

    // The revoked grant heard of nothing.
    for (token, kind) in [(&lead, "grant_deadline_approaching"), (&ats, "grant_deadline_missed")] {
        assert!(notices(&app, token, kind, &revoked).await.is_empty());
    }

    // Both are in the audit log, the missed one also in the webhook outbox.
    let admin = app.login(ADMIN).await;
    let audit: Value = app.get(&format!("/api/v1/audit-events?entity_type=grant&entity_id={g}&per_page=50"), Some(&admin)).await.json().await.unwrap();
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in ["grant.deadline_approaching", "grant.deadline_missed"] {
        assert_eq!(actions.iter().filter(|x| **x == a).count(), 1, "{a} in {actions:?}");
    }
});

both!(async fn a_started_project_is_reminded_of_its_final_report_and_flagged_once_past_its_deadline(app) {
    let ((g, _), lead, ats) = accepted_pair(&app).await;
    let today = app.clock.now().with_timezone(&chrono_tz::Europe::Rome).date_naive();
    let res = app.post(&format!("/api/v1/grants/{g}/start"), Some(&lead), &json!({"start_date": today.to_string()})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let view: Value = res.json().await.unwrap();
    let end = day_of(&view["end_date"]);
    let last = day_of(&view["report_deadline"]);
    assert_eq!(last, end + chrono::Days::new(60));
    assert_eq!(view["report_overdue"], false);

    set_day(&app, last, -8);
    run_job(&app).await;
    assert!(notices(&app, &lead, "grant_deadline_approaching", &g).await.is_empty());

    set_day(&app, last, -7);
    run_job_twice_at_once(&app).await;
    run_job(&app).await;
    let reminded = notices(&app, &lead, "grant_deadline_approaching", &g).await;
    assert_eq!(reminded.len(), 1, "{reminded:?}");
    assert_eq!(reminded[0]["data"]["deadline_kind"], "report");
    assert_eq!(grant(&app, &lead, &g).await["report_overdue"], false);

    set_day(&app, last, 1);
    run_job_twice_at_once(&app).await;
    run_job(&app).await;
    let missed = notices(&app, &ats, "grant_deadline_missed", &g).await;
    assert_eq!(missed.len(), 1, "{missed:?}");
    assert_eq!(missed[0]["data"]["deadline_kind"], "report");
    let view = grant(&app, &ats, &g).await;
    assert_eq!((view["status"].as_str(), view["report_overdue"].as_bool(), view["overdue"].as_bool()), (Some("accepted"), Some(true), Some(false)));
    assert_eq!(view["report_deadline"], last.to_string());
    // The list says the same.
    let list: Value = app.get("/api/v1/grants?status=accepted", Some(&ats)).await.json().await.unwrap();
    let listed = list["items"].as_array().unwrap().iter().find(|x| x["id"] == g.as_str()).unwrap();
    assert_eq!(listed["report_overdue"], true);
});
