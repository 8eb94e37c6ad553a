//! Users of the service: their roles and the rules of their credentials.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::agency::AgencyCode;
use super::error_code::ErrorCode;
use super::violation::{Violation, Violations};

/// What a user may do: see the roles table of the API contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Represents organizations; builds partnerships; writes and submits applications.
    Applicant,
    /// Reviews, scores and ranks the applications of one ATS.
    Evaluator,
    /// The Region: manages calls, envelopes and users; never scores.
    Admin,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Applicant => "applicant",
            Role::Evaluator => "evaluator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "applicant" => Some(Role::Applicant),
            "evaluator" => Some(Role::Evaluator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// An evaluator belongs to exactly one agency; nobody else belongs to any.
pub fn check_role_agency(role: Role, agency: Option<AgencyCode>) -> Option<Violation> {
    match (role, agency) {
        (Role::Evaluator, None) => Some(Violation::new("agency_code", ErrorCode::AgencyRequired)),
        (Role::Applicant | Role::Admin, Some(_)) => {
            Some(Violation::new("agency_code", ErrorCode::AgencyNotAllowed))
        }
        _ => None,
    }
}

/// A user name is an e-mail address: lower case, 3 to 254 characters, one `@`.
pub fn check_username(username: &str) -> Option<Violation> {
    let ok = (3..=254).contains(&username.len())
        && username == username.trim()
        && username == username.to_lowercase()
        && username.split('@').count() == 2
        && username.split('@').all(|p| !p.is_empty())
        && !username.chars().any(char::is_whitespace);
    (!ok).then(|| Violation::new("username", ErrorCode::InvalidUsername))
}

/// The common-password list of `@zxcvbn-ts/language-common` (MIT, licence beside it): about
/// 49,000 passwords that leaked most often, lower case, one a line.
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

static COMMON: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| COMMON_PASSWORDS.lines().collect());

/// Whether a password is on the common-password list, whatever its case, or is one of them
/// with digits and symbols added at its end (`Password123!`): a list whose entries of 12
/// characters or more are few would otherwise stop little at a 12-character minimum.
pub fn is_common_password(password: &str) -> bool {
    let lower = password.to_lowercase();
    let stem = lower.trim_end_matches(|c: char| !c.is_alphabetic());
    COMMON.contains(lower.as_str()) || (stem.chars().count() >= 4 && COMMON.contains(stem))
}

/// The part of a user name (an e-mail address) before the `@`, when it is long enough (at
/// least 4 characters) to mean something inside a password.
fn meaningful_local_part(username: &str) -> Option<String> {
    let local = username
        .split('@')
        .next()
        .unwrap_or("")
        .trim()
        .to_lowercase();
    (local.chars().count() >= 4).then_some(local)
}

/// A password: 12 to 128 characters, not on the common-password list, not containing the
/// user name or its local part, not only one repeated character.
pub fn check_password(field: &str, password: &str, username: &str) -> Vec<Violation> {
    let mut v = Violations::new();
    let n = password.chars().count();
    if !(12..=128).contains(&n) {
        v.add(field, ErrorCode::PasswordLength);
    }
    let lower = password.to_lowercase();
    if !username.is_empty()
        && (lower.contains(&username.to_lowercase())
            || meaningful_local_part(username).is_some_and(|local| lower.contains(&local)))
    {
        v.add(field, ErrorCode::PasswordContainsUsername);
    }
    if is_common_password(password) {
        v.add(field, ErrorCode::PasswordTooCommon);
    }
    let mut chars = password.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        v.add(field, ErrorCode::PasswordTooSimple);
    }
    v.into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_evaluator_needs_an_agency_and_only_an_evaluator_has_one() {
        assert!(check_role_agency(Role::Evaluator, None).is_some());
        assert!(check_role_agency(Role::Evaluator, Some(AgencyCode::Montagna)).is_none());
        assert!(check_role_agency(Role::Admin, Some(AgencyCode::Montagna)).is_some());
        assert!(check_role_agency(Role::Applicant, None).is_none());
    }

    #[test]
    fn passwords_and_usernames() {
        assert!(check_username("anna@example.org").is_none());
        assert!(check_username("Anna@example.org").is_some());
        assert!(check_username("anna").is_some());
        assert_eq!(check_password("password", "xq7-short", "a@b.it").len(), 1);
        assert!(
            check_password("password", "aaaaaaaaaaaaaa", "a@b.it")
                .iter()
                .any(|v| v.code == "password_too_simple")
        );
        assert!(check_password("password", "a sound passphrase", "a@b.it").is_empty());
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for p in [
            "123456789012",
            "password1234",
            "PASSWORD1234",
            "Password123!",
            "dragon2024!!!!",
        ] {
            let v = check_password("password", p, "someone@example.org");
            assert!(
                v.iter().any(|v| v.code == "password_too_common"),
                "{p}: {v:?}"
            );
        }
        assert!(COMMON_PASSWORDS.lines().count() > 49_000);
        assert!(!is_common_password("a sound passphrase"));
    }

    #[test]
    fn a_password_may_not_contain_the_local_part_of_the_user_name() {
        let v = check_password(
            "password",
            "xxMaria.Rossi-2024xx",
            "maria.rossi@example.org",
        );
        assert!(v.iter().any(|v| v.code == "password_contains_username"));
        // A local part shorter than 4 characters says too little to be refused.
        assert!(
            check_password("password", "ann and her long passphrase", "ann@example.org").is_empty()
        );
    }
}
