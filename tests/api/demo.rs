//! The demo switch: demo accounts (whose passwords are in the README) work only while the
//! demo is on, and `create-admin` makes the first administrator of a database without it.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use welfare_grants::config::Settings;
use welfare_grants::startup::Application;

use crate::helpers::*;

const PRODUCTION_SECRET: &str = "a-production-secret-that-is-not-the-demo-one-0123456789";

/// Start another application on the same database and return its address.
async fn restart(settings: &Settings) -> String {
    let app = Application::build(settings.clone())
        .await
        .expect("the application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

async fn login_status(
    client: &reqwest::Client,
    address: &str,
    (username, password): (&str, &str),
) -> StatusCode {
    client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn demo_accounts_stop_working_when_the_demo_is_turned_off() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app(backend).await else {
            continue;
        };
        let client = reqwest::Client::new();
        let token = app.login(ADMIN).await;
        let refresh: Value = app
            .post(
                "/api/v1/auth/login",
                None,
                &json!({"username": APPLICANT.0, "password": APPLICANT.1}),
            )
            .await
            .json()
            .await
            .unwrap();

        // The same database restarted for production: demo off, a secret of its own.
        let mut production = app.settings.clone();
        production.demo.enabled = false;
        production.auth.secret = SecretString::from(PRODUCTION_SECRET);
        let prod = restart(&production).await;
        for account in [ADMIN, EVALUATOR_MONTAGNA, EVALUATOR_BRESCIA, APPLICANT] {
            assert_eq!(
                login_status(&client, &prod, account).await,
                StatusCode::UNAUTHORIZED,
                "{backend:?}: {} logs in with the demo off",
                account.0
            );
        }
        // Tokens issued before, by a process that still has the demo secret, stop working.
        let p = problem(
            app.get("/api/v1/auth/me", Some(&token)).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        assert_eq!(p["code"], "token_revoked");
        let res = app
            .post(
                "/api/v1/auth/refresh",
                None,
                &json!({"refresh_token": refresh["refresh_token"]}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

        // Turned on again, the demo accounts work again; the old tokens do not.
        let demo = restart(&app.settings).await;
        assert_eq!(login_status(&client, &demo, ADMIN).await, StatusCode::OK);
        let again = app.login(ADMIN).await;
        let res = app.get("/api/v1/auth/me", Some(&token)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        // Each switch is in the audit log, made by the service itself.
        let log: Value = app
            .get(
                "/api/v1/audit-events?action=user.demo_disabled&per_page=100",
                Some(&again),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(log["total"], 5, "{backend:?}: {log}");
        assert!(log["items"][0]["actor_id"].is_null());
        assert_eq!(log["items"][0]["after"]["disabled"], true);
        let log: Value = app
            .get(
                "/api/v1/audit-events?action=user.demo_enabled",
                Some(&again),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(log["total"], 5, "{backend:?}: {log}");
    }
}

#[tokio::test]
async fn a_demo_account_an_administrator_disabled_stays_disabled_across_the_switch() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app(backend).await else {
            continue;
        };
        let admin = app.login(ADMIN).await;
        let res = app
            .get("/api/v1/auth/me", Some(&app.login(EVALUATOR_BRESCIA).await))
            .await;
        let etag = res.headers()["etag"].to_str().unwrap().to_owned();
        let me: Value = res.json().await.unwrap();
        let path = format!("/api/v1/users/{}", me["id"].as_str().unwrap());
        let res = app
            .patch(&path, Some(&admin), Some(&etag), &json!({"disabled": true}))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let mut production = app.settings.clone();
        production.demo.enabled = false;
        production.auth.secret = SecretString::from(PRODUCTION_SECRET);
        restart(&production).await;
        restart(&app.settings).await;
        let client = reqwest::Client::new();
        assert_eq!(
            login_status(&client, &app.address, EVALUATOR_BRESCIA).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            login_status(&client, &app.address, EVALUATOR_MONTAGNA).await,
            StatusCode::OK
        );
    }
}

/// Run `welfare-grants create-admin` on a database with the demo off, the password on stdin.
fn create_admin(database_url: &str, args: &[&str], password: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_welfare-grants"))
        .arg("create-admin")
        .args(args)
        .env_remove("APP_CONFIG_FILE")
        .env("APP_DATABASE__URL", database_url)
        .env("APP_DATABASE__MIGRATE_ON_START", "false")
        .env("APP_DEMO__ENABLED", "false")
        .env("APP_AUTH__SECRET", PRODUCTION_SECRET)
        .env("APP_METRICS__BEARER_TOKEN", "a-metrics-token-0123456789")
        .env("APP_LOG__LEVEL", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the service binary starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn create_admin_makes_the_first_administrator_of_a_database_without_the_demo() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app_with(backend, |s| s.demo.enabled = false).await else {
            continue;
        };
        let url = app.settings.database.url.expose_secret().to_owned();
        let username = "responsabile@regione.lombardia.example";
        let password = "a long and private passphrase";
        let out = create_admin(&url, &[username, "Maria Rossi"], &format!("{password}\n"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{backend:?}: {stderr}");
        let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        uuid::Uuid::parse_str(&id).expect("the new user's id on standard output");

        let token = app.login((username, password)).await;
        let me: Value = app
            .get("/api/v1/auth/me", Some(&token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["id"], id.as_str());
        assert_eq!(me["role"], "admin");
        assert_eq!(me["full_name"], "Maria Rossi");
        let log: Value = app
            .get(
                &format!("/api/v1/audit-events?entity_type=user&entity_id={id}"),
                Some(&token),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(log["total"], 1);
        assert_eq!(log["items"][0]["action"], "user.created");
        assert!(log["items"][0]["actor_id"].is_null());

        // The user name is taken now.
        let out = create_admin(&url, &[username], "another long passphrase\n");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("already registered"), "{stderr}");
        // The API's rules for user names and passwords, every broken one listed.
        let out = create_admin(&url, &["Not An Email"], "short\n");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("invalid_username") && stderr.contains("password_length"),
            "{stderr}"
        );
        let out = create_admin(
            &url,
            &["capo@regione.lombardia.example"],
            "capo@regione.lombardia.example!\n",
        );
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("password_contains_username"));
        let out = create_admin(&url, &[], "");
        assert!(!out.status.success());
        let users: Value = app
            .get("/api/v1/users", Some(&token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(users["total"], 1, "nothing else was created");
    }
}
