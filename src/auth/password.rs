//! Argon2id password hashing, run on the blocking pool so that it never stalls the
//! async workers, at most one hash per core at a time: each one works on `memory_kib` of
//! memory, so a burst of logins queues here instead of multiplying the resident memory (and
//! would not finish sooner on more threads than cores).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::PasswordHashSettings;

fn hasher(settings: &PasswordHashSettings) -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(
        settings.memory_kib,
        settings.iterations,
        settings.parallelism,
        None,
    )
    .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hash a password into a PHC string (the parameters travel inside it).
pub fn hash_sync(password: &str, settings: &PasswordHashSettings) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    hasher(settings)?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
}

/// The hashes that may run at once: one per core.
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

pub async fn hash(password: String, settings: PasswordHashSettings) -> anyhow::Result<String> {
    let _permit = HASHING.acquire().await?;
    tokio::task::spawn_blocking(move || hash_sync(&password, &settings)).await?
}

/// Whether a password matches a stored hash. A malformed hash never matches.
pub fn verify_sync(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

pub async fn verify(password: String, phc: String) -> anyhow::Result<bool> {
    let _permit = HASHING.acquire().await?;
    Ok(tokio::task::spawn_blocking(move || verify_sync(&password, &phc)).await?)
}

/// A hash of a random password with the default cost, verified when the user name is
/// unknown so that the answer takes about as long as for a wrong password.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$ckLyVnI50KoU5cr9c1fZHg$opXQJuj5YlSLf+eqb5FfQBVqG1Z6aYCS2oQAl0taXWQ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let settings = PasswordHashSettings {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        };
        let h = hash_sync("correct horse battery", &settings).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_sync("correct horse battery", &h));
        assert!(!verify_sync("wrong horse battery", &h));
        assert!(!verify_sync("x", "not a hash"));
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
