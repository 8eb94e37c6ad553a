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
/// [`FORMULA_TRIGGERS`], and with a `'` after every `;` that a trigger follows; unchanged
/// otherwise.
///
/// The second rule is for spreadsheets set up for Italian (and most European locales): they
/// split a `.csv` at `;`, not at `,`, and a quote in the middle of a comma-separated field
/// does not protect what follows, so `Progetto;=cmd|' /C calc'!A0` would open as a cell
/// `=cmd|...`.
pub fn neutralise_formula(text: &str) -> Cow<'_, str> {
    let after_semicolon = |t: &str| {
        t.match_indices(';')
            .any(|(i, _)| t[i + 1..].starts_with(FORMULA_TRIGGERS))
    };
    let first = text.starts_with(FORMULA_TRIGGERS);
    if !first && !after_semicolon(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 2);
    if first {
        out.push('\'');
    }
    let mut rest = text;
    while let Some(i) = rest.find(';') {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        if rest.starts_with(FORMULA_TRIGGERS) {
            out.push('\'');
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
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

    #[test]
    fn a_formula_after_a_semicolon_is_written_as_text_too() {
        assert_eq!(
            neutralise_formula("Progetto;=cmd|' /C calc'!A0"),
            "Progetto;'=cmd|' /C calc'!A0"
        );
        assert_eq!(neutralise_formula("=a;+b;c;;@d"), "'=a;'+b;c;;'@d");
        assert!(matches!(neutralise_formula("a; b;c"), Cow::Borrowed(_)));
    }

    proptest! {
        #[test]
        fn no_neutralised_text_starts_a_formula(text in ".*") {
            let out = neutralise_formula(&text);
            prop_assert!(!out.starts_with(FORMULA_TRIGGERS));
            // Split at `;` as a European spreadsheet does: no piece starts a formula either.
            for piece in out.split(';') {
                prop_assert!(!piece.starts_with(FORMULA_TRIGGERS), "{:?}", piece);
            }
        }

        #[test]
        fn only_apostrophes_are_added(text in "[a-z;=+@ -]*") {
            let out = neutralise_formula(&text);
            prop_assert_eq!(out.replace('\'', ""), text.replace('\'', ""));
        }

        #[test]
        fn a_prefix_is_added_exactly_when_a_trigger_comes_first(
            first in prop::sample::select(FORMULA_TRIGGERS.to_vec()),
            rest in "[^;]*",
        ) {
            let text = format!("{first}{rest}");
            prop_assert_eq!(neutralise_formula(&text).into_owned(), format!("'{text}"));
        }
    }
}
