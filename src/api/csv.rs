//! The one CSV writer that every export shares (`?format=csv` of the applications, the public
//! results and the audit log): RFC 4180 with CRLF line ends, UTF-8, dot decimals, and every
//! text cell neutralised against formula injection (`domain::spreadsheet`). With
//! `dialect=excel-it` it writes what Excel set to Italian opens right: a UTF-8 byte-order mark
//! (for the accents), `;` between cells and decimal commas.
//!
//! A cell is text unless it is written as a [`Cell::number`]: only values of a numeric type
//! (amounts, scores, ranks, counts) can be, so a negative amount keeps its `-` while a title,
//! a name or an act number that starts with `-` is prefixed with `'`. Identifiers, codes and
//! dates are written as text: they never start with a trigger, so nothing changes for them.

use std::fmt::Display;

use actix_web::HttpResponse;
use actix_web::http::header;

use crate::domain::ErrorCode;
use crate::domain::money::Money;
use crate::domain::spreadsheet::neutralise_formula;
use crate::error::ApiError;

/// A value that a spreadsheet may read as a number: written as it is.
pub trait Numeric: Display {}

impl Numeric for Money {}
impl Numeric for rust_decimal::Decimal {}
impl Numeric for crate::domain::score::Score {}
impl Numeric for u32 {}
impl Numeric for u64 {}
impl Numeric for i32 {}
impl Numeric for i64 {}
impl Numeric for usize {}

/// One cell of a row, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Text: neutralised when it starts with `=`, `+`, `-`, `@`, a tab or a carriage return.
    Text(String),
    /// A number formatted by the service: written as it is.
    Number(String),
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Cell {
        Cell::Text(text.into())
    }

    /// Text, or an empty cell.
    pub fn text_or_empty(text: Option<impl Into<String>>) -> Cell {
        Cell::Text(text.map(Into::into).unwrap_or_default())
    }

    pub fn number(value: impl Numeric) -> Cell {
        Cell::Number(value.to_string())
    }

    /// A number, or an empty cell.
    pub fn number_or_empty(value: Option<impl Numeric>) -> Cell {
        value.map_or(Cell::Number(String::new()), Cell::number)
    }

    /// What is written in the file.
    fn written(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Cell::Text(text) => neutralise_formula(text),
            Cell::Number(number) => std::borrow::Cow::Borrowed(number),
        }
    }
}

/// How a CSV file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// RFC 4180: `,` between cells, dot decimals, no byte-order mark.
    #[default]
    Rfc4180,
    /// For Excel set to Italian: a UTF-8 byte-order mark, `;` between cells, decimal commas.
    ExcelIt,
}

impl Dialect {
    /// The `dialect` query parameter: absent is RFC 4180; an unknown value is a 422.
    pub fn parse(value: Option<&str>) -> Result<Dialect, ApiError> {
        match value {
            None | Some("rfc4180") => Ok(Dialect::Rfc4180),
            Some("excel-it") => Ok(Dialect::ExcelIt),
            Some(_) => Err(ApiError::invalid("dialect", ErrorCode::UnknownDialect)),
        }
    }
}

/// The dialects of a CSV export (for the document only: the handlers read `dialect` as text,
/// so that another value is a 422 naming the field).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub enum CsvDialect {
    /// RFC 4180 (the default): `,`, dot decimals.
    #[serde(rename = "rfc4180")]
    Rfc4180,
    /// For Excel set to Italian: UTF-8 with a byte-order mark, `;`, decimal commas.
    #[serde(rename = "excel-it")]
    ExcelIt,
}

/// A CSV file being written in memory.
pub struct CsvWriter {
    out: ::csv::Writer<Vec<u8>>,
    dialect: Dialect,
}

impl Default for CsvWriter {
    fn default() -> Self {
        CsvWriter::new()
    }
}

impl CsvWriter {
    pub fn new() -> CsvWriter {
        CsvWriter::with(Dialect::Rfc4180)
    }

    pub fn with(dialect: Dialect) -> CsvWriter {
        let (delimiter, start): (u8, &[u8]) = match dialect {
            Dialect::Rfc4180 => (b',', b""),
            Dialect::ExcelIt => (b';', "\u{feff}".as_bytes()),
        };
        CsvWriter {
            out: ::csv::WriterBuilder::new()
                .terminator(::csv::Terminator::CRLF)
                .delimiter(delimiter)
                .from_writer(start.to_vec()),
            dialect,
        }
    }

    /// A row of text cells only, such as the header.
    pub fn write_text_record<I, S>(&mut self, texts: I) -> Result<(), ApiError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let row: Vec<String> = texts
            .into_iter()
            .map(|t| neutralise_formula(t.as_ref()).into_owned())
            .collect();
        self.out.write_record(&row).map_err(csv_error)
    }

    /// A row of cells of any kind.
    pub fn write_record(&mut self, cells: impl IntoIterator<Item = Cell>) -> Result<(), ApiError> {
        let dialect = self.dialect;
        let cells: Vec<Cell> = cells.into_iter().collect();
        self.out
            .write_record(cells.iter().map(|c| match (c, dialect) {
                // A number the service formatted has at most one `.`, its decimal point.
                (Cell::Number(n), Dialect::ExcelIt) => n.replace('.', ","),
                _ => c.written().into_owned(),
            }))
            .map_err(csv_error)
    }

    /// The file's bytes.
    pub fn into_bytes(self) -> Result<Vec<u8>, ApiError> {
        self.out
            .into_inner()
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("csv: {e}")))
    }

    /// The file as a `text/csv` attachment named `filename` (plain ASCII, chosen by the
    /// service).
    pub fn into_response(self, filename: &str) -> Result<HttpResponse, ApiError> {
        let bytes = self.into_bytes()?;
        Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ))
            .body(bytes))
    }
}

fn csv_error(e: ::csv::Error) -> ApiError {
    ApiError::Internal(anyhow::Error::from(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(rows: impl FnOnce(&mut CsvWriter)) -> String {
        let mut w = CsvWriter::new();
        rows(&mut w);
        String::from_utf8(w.into_bytes().unwrap()).unwrap()
    }

    #[test]
    fn text_is_neutralised_and_numbers_are_not() {
        // Money is never negative; a difference of amounts may be.
        let amount = rust_decimal::Decimal::new(-1250, 2);
        let out = written(|w| {
            w.write_text_record(["title", "amount"]).unwrap();
            w.write_record([Cell::text("-12.50"), Cell::number(amount)])
                .unwrap();
            w.write_record([Cell::text("=1+1"), Cell::number_or_empty(None::<u32>)])
                .unwrap();
        });
        assert_eq!(out, "title,amount\r\n'-12.50,-12.50\r\n'=1+1,\r\n");
    }

    #[test]
    fn the_italian_dialect_has_a_bom_semicolons_and_decimal_commas() {
        let mut w = CsvWriter::with(Dialect::ExcelIt);
        w.write_text_record(["titolo", "importo"]).unwrap();
        w.write_record([
            Cell::text("Città; più servizi 1.5"),
            Cell::number(Money::parse("293580.00").unwrap()),
        ])
        .unwrap();
        let out = String::from_utf8(w.into_bytes().unwrap()).unwrap();
        assert_eq!(
            out,
            "\u{feff}titolo;importo\r\n\"Città; più servizi 1.5\";293580,00\r\n"
        );
        assert_eq!(Dialect::parse(None).unwrap(), Dialect::Rfc4180);
        assert_eq!(Dialect::parse(Some("excel-it")).unwrap(), Dialect::ExcelIt);
        assert!(Dialect::parse(Some("excel")).is_err());
    }

    #[test]
    fn a_hostile_cell_stays_one_quoted_cell() {
        let out = written(|w| {
            w.write_text_record(["=HYPERLINK(\"http://x.invalid\",\"Apri\"),x"])
                .unwrap();
        });
        assert_eq!(
            out,
            "\"'=HYPERLINK(\"\"http://x.invalid\"\",\"\"Apri\"\"),x\"\r\n"
        );
    }
}
