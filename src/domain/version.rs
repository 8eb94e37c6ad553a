//! Optimistic concurrency: what a client's `If-Match` asks of a resource's version.

/// The versions a change may apply to (RFC 9110 §13.1.1, strong comparison).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// `*`: whatever the current version is.
    Any,
    /// One of these versions (a weak tag names none).
    OneOf(Vec<i32>),
}

impl Expected {
    /// Exactly this version.
    pub fn version(v: i32) -> Expected {
        Expected::OneOf(vec![v])
    }

    pub fn matches(&self, current: i32) -> bool {
        match self {
            Expected::Any => true,
            Expected::OneOf(versions) => versions.contains(&current),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_matches_every_version_and_a_list_its_members() {
        assert!(Expected::Any.matches(7));
        assert!(Expected::version(7).matches(7));
        assert!(!Expected::version(6).matches(7));
        assert!(Expected::OneOf(vec![1, 7]).matches(7));
        assert!(!Expected::OneOf(vec![]).matches(7));
    }
}
