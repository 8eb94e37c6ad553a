//! A broken rule, named by field and stable code, explained in English and Italian.

use std::borrow::Cow;

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
    pub code: Cow<'static, str>,
    pub message: Msg,
}

impl Violation {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<Cow<'static, str>>,
        en: impl Into<Cow<'static, str>>,
        it: impl Into<Cow<'static, str>>,
    ) -> Violation {
        Violation {
            field: field.into(),
            code: code.into(),
            message: Msg::new(en, it),
        }
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

    pub fn add(
        &mut self,
        field: impl Into<String>,
        code: &'static str,
        en: impl Into<Cow<'static, str>>,
        it: impl Into<Cow<'static, str>>,
    ) {
        self.items.push(Violation::new(field, code, en, it));
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
