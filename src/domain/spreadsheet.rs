//! Text that a spreadsheet will open: CSV formula injection (OWASP "CSV Injection").
//!
//! A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (a tab or a
//! carriage return in front is skipped by some of them), so a draft titled
//! `=HYPERLINK("http://x.invalid","Apri")` would turn into a link, or worse, in the export
//! that an officer opens. Every text cell that starts with one of those characters is written
//! with a leading `'`, which spreadsheets show as text and do not display.
//!
//! Only text is neutralised: a number or an amount the service formats itself (a negative
//! amount starts with `-`) is written as it is. What a cell is, is decided by its kind when it
//! is written (see `api::csv`), never by guessing from its content.

use std::borrow::Cow;

/// The characters that make a spreadsheet read a cell as a formula when they come first.
pub const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The text as a spreadsheet should show it: prefixed with `'` when it starts with one of
/// [`FORMULA_TRIGGERS`], unchanged otherwise.
pub fn neutralise_formula(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_TRIGGERS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_formula_is_written_as_text() {
        assert_eq!(
            neutralise_formula("=HYPERLINK(\"http://x.invalid\",\"Apri\")"),
            "'=HYPERLINK(\"http://x.invalid\",\"Apri\")"
        );
        for hostile in ["+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"] {
            assert_eq!(neutralise_formula(hostile), format!("'{hostile}"));
        }
    }

    #[test]
    fn ordinary_text_is_unchanged() {
        for text in [
            "Valtellina concilia",
            "",
            "a=b",
            " =1",
            "'già citato",
            "2027-03-05",
            "RLD-DEMO-CONCILIAZIONE-000001",
            "{\"title\":\"=1\"}",
        ] {
            assert!(matches!(neutralise_formula(text), Cow::Borrowed(t) if t == text));
        }
    }

    proptest! {
        #[test]
        fn no_neutralised_text_starts_a_formula(text in ".*") {
            let out = neutralise_formula(&text);
            prop_assert!(!out.starts_with(FORMULA_TRIGGERS));
            // Nothing is lost: the text is the same after the prefix, if any.
            prop_assert!(out == text || out.strip_prefix('\'') == Some(text.as_str()));
        }

        #[test]
        fn a_prefix_is_added_exactly_when_a_trigger_comes_first(
            first in prop::sample::select(FORMULA_TRIGGERS.to_vec()),
            rest in ".*",
        ) {
            let text = format!("{first}{rest}");
            prop_assert_eq!(neutralise_formula(&text).into_owned(), format!("'{text}"));
        }
    }
}
