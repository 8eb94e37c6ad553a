//! Users of the service: their roles and the rules of their credentials.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::agency::AgencyCode;
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
        (Role::Evaluator, None) => Some(Violation::new(
            "agency_code",
            "agency_required",
            "An evaluator must belong to an agency.",
            "Un valutatore deve appartenere a un'ATS.",
        )),
        (Role::Applicant | Role::Admin, Some(_)) => Some(Violation::new(
            "agency_code",
            "agency_not_allowed",
            "Only evaluators belong to an agency.",
            "Solo i valutatori appartengono a un'ATS.",
        )),
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
    (!ok).then(|| {
        Violation::new(
            "username",
            "invalid_username",
            "The user name is a lower-case e-mail address.",
            "Il nome utente è un indirizzo e-mail in minuscolo.",
        )
    })
}

/// A password: 12 to 128 characters, not the user name, not only one repeated character.
pub fn check_password(field: &str, password: &str, username: &str) -> Vec<Violation> {
    let mut v = Violations::new();
    let n = password.chars().count();
    if !(12..=128).contains(&n) {
        v.add(
            field,
            "password_length",
            "A password has 12 to 128 characters.",
            "Una password ha da 12 a 128 caratteri.",
        );
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        v.add(
            field,
            "password_contains_username",
            "A password must not contain the user name.",
            "La password non deve contenere il nome utente.",
        );
    }
    let mut chars = password.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        v.add(
            field,
            "password_too_simple",
            "A password must not repeat a single character.",
            "La password non deve ripetere un solo carattere.",
        );
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
        assert_eq!(check_password("password", "short", "a@b.it").len(), 1);
        assert_eq!(
            check_password("password", "aaaaaaaaaaaaaa", "a@b.it").len(),
            1
        );
        assert!(check_password("password", "a sound passphrase", "a@b.it").is_empty());
    }
}
