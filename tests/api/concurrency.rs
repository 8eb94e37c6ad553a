//! Two separate service processes on one PostgreSQL database, racing on one agency's money.

use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::rankings::{approve_montagna, scored_round};

const SECRET: &str = "a-test-secret-shared-by-both-processes-0123456789";

struct Process(Child, String);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the service binary on a free port against the same database.
async fn start(database_url: &str) -> Process {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_welfare-grants"))
        .env("APP_SERVER__PORT", port.to_string())
        .env("APP_SERVER__WORKERS", "2")
        .env("APP_DATABASE__URL", database_url)
        .env("APP_DATABASE__MIGRATE_ON_START", "false")
        // The processes share a demo database and the test uses its demo accounts: with the
        // demo off they would disable them, and refuse to start with public metrics.
        .env("APP_DEMO__ENABLED", "true")
        .env("APP_AUTH__SECRET", SECRET)
        .env("APP_LOG__LEVEL", "error")
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(std::env::temp_dir().join(format!("wg-process-{port}.log")))
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        )
        .spawn()
        .expect("the service binary starts");
    // Owned at once, so that the process is killed and waited for on every path.
    let process = Process(child, format!("http://127.0.0.1:{port}"));
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .get(format!("{}/status", process.1))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
        {
            return process;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the second process did not start");
}

#[tokio::test]
async fn two_processes_racing_on_one_agency_never_commit_a_euro_twice() {
    race(Backend::Postgres).await
}

/// On SQLite the same requests are serialised by the database file's write lock.
#[tokio::test]
async fn two_processes_on_one_sqlite_file_serialise_the_same_race() {
    race(Backend::Sqlite).await
}

async fn race(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.auth.secret = secrecy::SecretString::from(SECRET.to_owned())
    })
    .await
    else {
        return;
    };
    let (_, applicant, first, _) = scored_round(&app).await;
    approve_montagna(&app, &first).await;
    let demo = app.call_id("RLD-DEMO-CONCILIAZIONE").await;

    let url = app.settings.database.url.expose_secret().to_owned();
    let (a, b) = (start(&url).await, start(&url).await);
    let admin = app.login(ADMIN).await;
    let grants: Value = app
        .get("/api/v1/grants", Some(&applicant))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<String> = grants["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 6);

    // Declines, accepts and reallocations, alternating between the two processes, all at once.
    let client = reqwest::Client::new();
    let mut requests = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let base = if i % 2 == 0 { &a.1 } else { &b.1 };
        let (path, body) = if i < 3 {
            (
                format!("{base}/api/v1/grants/{id}/decline"),
                json!({"reason": "Rinuncia."}),
            )
        } else {
            (
                format!("{base}/api/v1/grants/{id}/accept"),
                json!({"cup": "J51B22000120002"}),
            )
        };
        requests.push(client.post(path).bearer_auth(&applicant).json(&body).send());
    }
    for base in [&a.1, &b.1, &a.1, &b.1] {
        let body = json!({"from_agency_code": "PAVIA", "to_agency_code": "MONTAGNA", "amount": "30000.00", "reason": "Riassegnazione."});
        requests.push(
            client
                .post(format!("{base}/api/v1/calls/{demo}/reallocations"))
                .bearer_auth(&admin)
                .json(&body)
                .send(),
        );
    }
    let answers = futures_util::future::join_all(requests).await;
    for res in answers {
        let res = res.unwrap();
        assert!(
            res.status().is_success() || res.status() == StatusCode::CONFLICT,
            "{}: {}",
            res.status(),
            res.text().await.unwrap()
        );
    }

    // The sums hold: the envelopes still add up to the total, Montagna's grants never exceed
    // its envelope, and no application holds two live grants.
    let env: Value = app
        .get(&format!("/api/v1/calls/{demo}/envelopes"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(env["sum"], "5050000.00");
    let montagna: f64 = env["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["agency_code"] == "MONTAGNA")
        .unwrap()["amount"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let all: Value = app
        .get(
            &format!("/api/v1/grants?agency_code=MONTAGNA&call_id={demo}&per_page=100"),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let live: Vec<&Value> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["status"] == "offered" || g["status"] == "accepted")
        .collect();
    let committed: f64 = live
        .iter()
        .map(|g| g["amount"].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(
        committed <= montagna + 0.001,
        "committed {committed} > envelope {montagna}"
    );
    let mut apps: Vec<&str> = live
        .iter()
        .map(|g| g["application_id"].as_str().unwrap())
        .collect();
    apps.sort();
    let before = apps.len();
    apps.dedup();
    assert_eq!(apps.len(), before, "an application with two live grants");
    let dashboard: Value = app
        .get(
            &format!("/api/v1/calls/{demo}/agencies/MONTAGNA/dashboard"),
            Some(&first),
        )
        .await
        .json()
        .await
        .unwrap();
    let free: f64 = dashboard["free"].as_str().unwrap().parse().unwrap();
    assert!((montagna - committed - free).abs() < 0.001);
}
