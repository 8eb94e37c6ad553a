//! A broken rule, named by field and stable code, explained in English and Italian.

use std::borrow::Cow;

use super::error_code::{Coded, ErrorCode};

/// A message in both languages of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub en: Cow<'static, str>,
    pub it: Cow<'static, str>,
}

impl Msg {
    pub fn new(en: impl Into<Cow<'static, str>>, it: impl Into<Cow<'static, str>>) -> Msg {
        Msg {
            en: en.into(),
            it: it.into(),
        }
    }
}

/// One broken rule: which field, which rule (stable snake_case code) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub code: ErrorCode,
    pub message: Msg,
}

impl Violation {
    /// A violation of `field`: `Violation::new("title", ErrorCode::MissingField)`, or with the
    /// placeholders of the code filled (`ErrorCode::TooLong.with(&[("max", &300)])`).
    pub fn new(field: impl Into<String>, coded: impl Into<Coded>) -> Violation {
        let Coded { code, message } = coded.into();
        Violation {
            field: field.into(),
            code,
            message,
        }
    }

    /// The same violation seen from one level up: `budget.lines` under `content` is
    /// `content.budget.lines`, `[0]` under `lines` is `lines[0]`.
    pub fn under(mut self, parent: &str) -> Violation {
        self.field = match self.field.as_str() {
            "" => parent.to_owned(),
            f if f.starts_with('[') => format!("{parent}{f}"),
            f => format!("{parent}.{f}"),
        };
        self
    }
}

/// Collects violations while a value is checked, with field paths relative to a prefix.
#[derive(Debug, Default)]
pub struct Violations {
    items: Vec<Violation>,
}

impl Violations {
    pub fn new() -> Violations {
        Violations::default()
    }

    pub fn push(&mut self, v: Violation) {
        self.items.push(v);
    }

    pub fn add(&mut self, field: impl Into<String>, coded: impl Into<Coded>) {
        self.items.push(Violation::new(field, coded));
    }

    pub fn extend(&mut self, more: impl IntoIterator<Item = Violation>) {
        self.items.extend(more);
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn into_vec(self) -> Vec<Violation> {
        self.items
    }

    /// `Ok(value)` when nothing was broken, every violation otherwise.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<Violation>> {
        if self.items.is_empty() {
            Ok(value)
        } else {
            Err(self.items)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_violation_under_a_parent_is_named_from_the_parent() {
        let v = Violation::new("budget.lines[0].borne_by", ErrorCode::NotAMember);
        assert_eq!(v.under("content").field, "content.budget.lines[0].borne_by");
        let item = Violation::new("[2]", ErrorCode::NotAMember);
        assert_eq!(item.under("lines").field, "lines[2]");
        let whole = Violation::new("", ErrorCode::NotAMember);
        assert_eq!(whole.under("content").field, "content");
    }
}
