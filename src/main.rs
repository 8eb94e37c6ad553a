//! `welfare-grants [serve|migrate|openapi|error-codes|hash-password|create-admin <username> [full name]|health]`

use std::io::Read;

use welfare_grants::config::Settings;
use welfare_grants::domain::call::check_text;
use welfare_grants::domain::event::Actor;
use welfare_grants::domain::user::{Role, check_password, check_username};
use welfare_grants::startup::{Application, openapi_document};
use welfare_grants::store::users::User;
use welfare_grants::{auth, store, telemetry};

/// Every password hash and check allocates Argon2's whole block array (19 MiB by default)
/// on a blocking thread. glibc raises its mmap threshold after the first such block is freed,
/// so the next ones come from per-thread arenas that keep them: resident memory grew to
/// gigabytes under concurrent logins. A fixed threshold maps and unmaps every large block, and
/// memory returns to the system after each hash.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_allocations_to_the_system() {
    // SAFETY: mallopt only sets an allocator parameter; called before any large allocation.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_allocations_to_the_system() {}

fn main() -> std::process::ExitCode {
    return_large_allocations_to_the_system();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async_main())
}

async fn async_main() -> std::process::ExitCode {
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
    if command == "error-codes" {
        print!("{}", welfare_grants::domain::error_code::markdown_table());
        return Ok(());
    }
    let settings = Settings::load()?;
    // Kept to the end of main: dropping it flushes the queued log lines.
    let _log_guard = telemetry::init(&settings.log);
    match command.as_str() {
        "serve" => {
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "listening");
            app.run_until_stopped().await?;
        }
        "migrate" => {
            // Migrate (and seed the demo data when it is on, disable its accounts when it is
            // off) once, before the replicas start.
            let db = store::connect(&settings.database).await?;
            store::migrate(&db).await?;
            welfare_grants::seed::apply(&db, settings.demo.enabled, chrono::Utc::now()).await?;
        }
        "create-admin" => create_admin(&settings).await?,
        "health" => health(&settings).await?,
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
            anyhow::bail!(
                "unknown command {other}: use serve, migrate, openapi, error-codes, hash-password, create-admin or health"
            )
        }
    }
    Ok(())
}

/// `create-admin <username> [full name]`, the password on standard input: the first
/// administrator of a database without the demo accounts (or another one). The same rules
/// as `POST /api/v1/users`; prints the new user's id.
async fn create_admin(settings: &Settings) -> anyhow::Result<()> {
    let mut args = std::env::args().skip(2);
    let username = args.next().ok_or_else(|| {
        anyhow::anyhow!("usage: welfare-grants create-admin <username> [full name] < password")
    })?;
    let full_name = args.collect::<Vec<_>>().join(" ");
    let full_name = if full_name.is_empty() {
        "Administrator".to_owned()
    } else {
        full_name.trim().to_owned()
    };
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password)?;
    let password = password.trim_end_matches(['\n', '\r']);
    let mut broken = Vec::new();
    broken.extend(check_username(&username));
    broken.extend(check_password("password", password, &username));
    broken.extend(check_text("full_name", &full_name, 200));
    if !broken.is_empty() {
        let list: Vec<String> = broken
            .iter()
            .map(|v| format!("{} ({}): {}", v.field, v.code, v.message.en))
            .collect();
        anyhow::bail!(
            "the administrator breaks these rules:\n  {}",
            list.join("\n  ")
        );
    }
    let db = store::connect(&settings.database).await?;
    let now = chrono::Utc::now();
    let user = User {
        id: uuid::Uuid::new_v4(),
        password_hash: auth::password::hash(
            password.to_owned(),
            settings.auth.password_hash.clone(),
        )
        .await?,
        username,
        full_name,
        role: Role::Admin,
        agency: None,
        disabled: false,
        token_version: 0,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    welfare_grants::service::users::add(&db, &Actor::system(), &user)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", user.id);
    Ok(())
}

/// `health`: whether the service on this machine answers `/status` with 200 (exit 0) or not
/// (exit 1), for container health checks in an image that has no HTTP client of its own.
async fn health(settings: &Settings) -> anyhow::Result<()> {
    let host = match settings.server.host.as_str() {
        "0.0.0.0" | "::" | "[::]" | "" => "127.0.0.1",
        other => other,
    };
    let url = format!("http://{host}:{}/status", settings.server.port);
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .no_proxy()
        .build()?;
    let status = client.get(&url).send().await?.status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    Ok(())
}
