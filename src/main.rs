//! `welfare-grants [serve|migrate|openapi|hash-password]`

use std::io::Read;

use welfare_grants::config::Settings;
use welfare_grants::startup::{Application, openapi_document};
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
