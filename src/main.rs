//! `welfare-grants [serve|migrate|openapi|hash-password]`

use std::io::Read;

use welfare_grants::config::Settings;
use welfare_grants::startup::{Application, openapi_document};
use welfare_grants::{auth, store, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    if command == "openapi" {
        println!("{}", openapi_document().to_pretty_json()?);
        return Ok(());
    }
    let settings = Settings::load()?;
    telemetry::init(&settings.log);
    match command.as_str() {
        "serve" => {
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "listening");
            app.run_until_stopped().await?;
        }
        "migrate" => {
            // Migrate (and seed the demo data when it is on) once, before the replicas start.
            let db = store::connect(&settings.database).await?;
            store::migrate(&db).await?;
            if settings.demo.enabled {
                welfare_grants::seed::run(&db, chrono::Utc::now()).await?;
            }
        }
        "hash-password" => {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            println!(
                "{}",
                auth::password::hash_sync(
                    password.trim_end_matches('\n'),
                    &settings.auth.password_hash
                )?
            );
        }
        other => {
            anyhow::bail!("unknown command {other}: use serve, migrate, openapi or hash-password")
        }
    }
    Ok(())
}
