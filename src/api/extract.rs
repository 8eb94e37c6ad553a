//! Request extractors that answer every problem with problem+json, listing every violation.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::domain::{Coded, ErrorCode};

use crate::domain::agency::AgencyCode;
use crate::error::{ApiError, Violation};

/// The largest number of field errors collected from one body.
const MAX_VIOLATIONS: usize = 50;

/// A JSON body, read with the configured size limit and decoded strictly by [`Json::parse`]:
/// unknown fields, wrong types and malformed JSON are reported together, each with its field
/// path. Decoding is left to the handler so that it checks the caller's role first (a caller
/// who may never call an operation hears 403, whatever the body).
pub struct Json<T> {
    bytes: Bytes,
    content_type_ok: bool,
    _type: std::marker::PhantomData<T>,
}

impl<T: DeserializeOwned> Json<T> {
    /// Decode the body.
    pub fn parse(self) -> Result<T, ApiError> {
        if !self.content_type_ok {
            return Err(ApiError::UnsupportedMediaType {
                expected: "application/json",
            });
        }
        decode_json(&self.bytes)
    }
}

impl<T: 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<BodyLimit>>()
            .map(|l| l.0)
            .unwrap_or(256 * 1024);
        let content_type_ok = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let mime = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false);
        let too_large = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|len| len > limit);
        let body = actix_web::web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if too_large {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            let bytes = body
                .await
                .map_err(|_| ApiError::PayloadTooLarge { limit })?;
            if bytes.len() > limit {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            Ok(Json {
                bytes,
                content_type_ok,
                _type: std::marker::PhantomData,
            })
        })
    }
}

/// The configured body limit, shared with the extractors.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Decode JSON into `T`, collecting every unknown field and every wrongly typed value.
///
/// serde stops at the first error, so each error's value is removed and decoding is tried
/// again, until it succeeds or the only errors left are the gaps we made ourselves.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::from(ErrorCode::MalformedJson.with(&[("reason", &e)])))?;
    refuse_duplicate_keys(bytes)?;
    let mut violations: Vec<Violation> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    let mut unknown = false;
    for _ in 0..(MAX_VIOLATIONS * 4) {
        let err = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(t) if violations.is_empty() => return Ok(t),
            Ok(_) => break,
            Err(err) => err,
        };
        let path = err.path().to_string();
        let (field, violation) = classify(&path, &err.inner().to_string());
        // A gap we made ourselves: remove its container and go on with the rest.
        let target = if removed.contains(&field) {
            parent(&field)
        } else {
            unknown |= violation.code == "unknown_field";
            violations.push(violation);
            Some(field)
        };
        let Some(target) = target.filter(|t| !t.is_empty()) else {
            break;
        };
        if violations.len() >= MAX_VIOLATIONS || !remove_at(&mut value, &target) {
            break;
        }
        removed.push(target);
    }
    if unknown {
        Err(ApiError::bad_request(ErrorCode::InvalidBody, violations))
    } else {
        Err(ApiError::Validation(violations))
    }
}

/// Refuse a body that names a field twice in one object (`{"full_name": "D", "full_name":
/// "E"}`): serde_json keeps the last one silently, so two readers of the same body (a proxy, a
/// log, this service) could each see a different value. Every duplicate is a violation
/// `duplicate_key` at its path. `bytes` is valid JSON (checked before).
fn refuse_duplicate_keys(bytes: &[u8]) -> Result<(), ApiError> {
    let mut found = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // The body was read as JSON already: an error here cannot be new, only a limit reached.
    if serde::de::DeserializeSeed::deserialize(
        KeyCheck {
            path: String::new(),
            found: &mut found,
        },
        &mut de,
    )
    .is_err()
        || found.is_empty()
    {
        return Ok(());
    }
    let violations = found
        .into_iter()
        .take(MAX_VIOLATIONS)
        .map(|path| {
            let name = path.rsplit(['.', ']']).next().unwrap_or(&path).to_owned();
            Violation::new(path, ErrorCode::DuplicateKey.with(&[("name", &name)]))
        })
        .collect();
    Err(ApiError::bad_request(
        ErrorCode::DuplicateKey.worded(
            "The body names a field more than once; see violations.",
            "Il corpo indica un campo più di una volta; vedere violations.",
        ),
        violations,
    ))
}

/// Walks a JSON document and records the path of every key seen twice in its object.
struct KeyCheck<'a> {
    path: String,
    found: &'a mut Vec<String>,
}

impl<'de> serde::de::DeserializeSeed<'de> for KeyCheck<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeyCheck<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(KeyCheck {
                path: format!("{}[{i}]", self.path),
                found: &mut *self.found,
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if !seen.insert(key) {
                self.found.push(path.clone());
            }
            map.next_value_seed(KeyCheck {
                path,
                found: &mut *self.found,
            })?;
        }
        Ok(())
    }
}

/// Name the field and the rule of one serde error.
fn classify(path: &str, message: &str) -> (String, Violation) {
    let join = |name: &str| {
        if path.is_empty() || path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted = |m: &str| m.split('`').nth(1).map(str::to_owned);
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let name = quoted(rest).unwrap_or_default();
        // serde_path_to_error already ends the path with the unknown key.
        let field = if path == name || path.ends_with(&format!(".{name}")) {
            path.to_owned()
        } else {
            join(&name)
        };
        let fields = backticked_list(rest.split_once("expected").map_or("", |(_, l)| l));
        let fields = if fields.is_empty() {
            "none".to_owned()
        } else {
            fields
        };
        let v = Violation::new(
            field.clone(),
            ErrorCode::UnknownField.with(&[("name", &name), ("fields", &fields)]),
        );
        return (field, v);
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let name = quoted(rest).unwrap_or_default();
        let field = join(&name);
        let v = Violation::new(field.clone(), ErrorCode::MissingField);
        return (field, v);
    }
    let field = if path == "." {
        String::new()
    } else {
        path.to_owned()
    };
    let code = if message.starts_with("invalid type") {
        ErrorCode::InvalidType
    } else {
        ErrorCode::InvalidValue
    };
    let (en, it) = explain_field(&field, message);
    let v = Violation::new(
        field.clone(),
        code.with(&[("reason_en", &en), ("reason_it", &it)]),
    );
    (field, v)
}

/// [`explain`] for a field of a body: a date refused by its parser is worded by the field's
/// name, which says which kind it takes (`start_date`: a date; `opens_at`: a date and time).
fn explain_field(field: &str, message: &str) -> (String, String) {
    let name = field.rsplit(['.', ']']).next().unwrap_or(field);
    let kind = if name.ends_with("_at") {
        "a date and time string"
    } else if name.ends_with("date") {
        "a formatted date string"
    } else {
        return explain(message);
    };
    if DATE_ERRORS.contains(&message.trim().trim_end_matches('.')) {
        let (en, it) = expected_words(kind);
        return (format!("Expected {en}."), format!("Valore atteso: {it}."));
    }
    explain(message)
}

/// What chrono says of a date or a date and time it cannot read.
const DATE_ERRORS: [&str; 7] = [
    "input is out of range",
    "no possible date and time matching input",
    "input is not enough for unique date and time",
    "input contains invalid characters",
    "premature end of input",
    "trailing input",
    "bad or unsupported format string",
];

/// A message of serde (or of a type it decodes) as a sentence for people, in English and
/// Italian: what was expected and what came, in the words of JSON, never of Rust (`u32`,
/// `struct CostLine`, "UUID parsing failed").
pub(crate) fn explain(message: &str) -> (String, String) {
    let message = message.trim().trim_end_matches('.');
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some((found, expected)) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.rsplit_once(", expected "))
        {
            let (found_en, found_it) = found_words(found);
            let (expected_en, expected_it) = expected_words(expected);
            return (
                format!("Expected {expected_en}, not {found_en}."),
                format!("Valore atteso: {expected_it}, non {found_it}."),
            );
        }
    }
    if let Some((n, expected)) = message
        .strip_prefix("invalid length ")
        .and_then(|rest| rest.split_once(", expected "))
    {
        let (expected_en, expected_it) = expected_words(expected);
        return (
            format!("Expected {expected_en}, not {n} items."),
            format!("Valore atteso: {expected_it}, non {n} elementi."),
        );
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let value = shorten(rest.split('`').nth(1).unwrap_or_default());
        let list = backticked_list(rest.split_once("expected").map_or("", |(_, l)| l));
        return (
            format!("\"{value}\" is not one of the allowed values: {list}."),
            format!("\"{value}\" non è tra i valori ammessi: {list}."),
        );
    }
    if message.starts_with("UUID parsing failed") {
        let (en, it) = expected_words("a UUID string");
        return (format!("Expected {en}."), format!("Valore atteso: {it}."));
    }
    if DATE_ERRORS.contains(&message) {
        return (
            "Not a valid date (such as 2027-01-31) or date and time (RFC 3339, such as \
             2027-05-04T12:00:00+02:00)."
                .to_owned(),
            "Non è una data valida (come 2027-01-31) né una data e ora valida (RFC 3339, come \
             2027-05-04T12:00:00+02:00)."
                .to_owned(),
        );
    }
    if message.starts_with("invalid digit found")
        || message.starts_with("number too large")
        || message.starts_with("number too small")
        || message.starts_with("cannot parse integer")
    {
        return (
            "Expected a whole number.".to_owned(),
            "Valore atteso: un numero intero.".to_owned(),
        );
    }
    if message.starts_with("invalid float literal") {
        return (
            "Expected a number.".to_owned(),
            "Valore atteso: un numero.".to_owned(),
        );
    }
    if message.starts_with("provided string was not `true` or `false`") {
        return (
            "Expected true or false.".to_owned(),
            "Valore atteso: true o false.".to_owned(),
        );
    }
    // The types of the domain say what they expect in a sentence of the catalogue.
    if let Some(code) = ErrorCode::ALL
        .iter()
        .find(|c| c.en().trim_end_matches('.') == message && c.placeholders().is_empty())
    {
        return (capitalise(code.en()), capitalise(code.it()));
    }
    (
        capitalise(message),
        format!("Valore non valido: {}.", message.trim_end_matches('.')),
    )
}

/// What came, as JSON: `null`, `30000`, `"many"`, a list, an object.
fn found_words(found: &str) -> (String, String) {
    let same = |s: &str| (s.to_owned(), s.to_owned());
    match found {
        "unit value" | "null" => return same("null"),
        "sequence" => return ("a list".to_owned(), "una lista".to_owned()),
        "map" => return ("an object".to_owned(), "un oggetto".to_owned()),
        _ => {}
    }
    if let Some(s) = found.strip_prefix("string ") {
        return same(&shorten(s));
    }
    for prefix in ["integer ", "floating point ", "boolean ", "character "] {
        if let Some(v) = found.strip_prefix(prefix) {
            return same(&shorten(v.trim_matches('`')));
        }
    }
    (
        "another kind of value".to_owned(),
        "un altro tipo di valore".to_owned(),
    )
}

/// What a field takes, in words: "a whole number from 0 to 4294967295", "text", "a list".
fn expected_words(expected: &str) -> (String, String) {
    let owned = |en: &str, it: &str| (en.to_owned(), it.to_owned());
    let whole = |min: i128, max: i128| {
        (
            format!("a whole number from {min} to {max}"),
            format!("un numero intero da {min} a {max}"),
        )
    };
    match expected {
        "u8" => return whole(0, u8::MAX.into()),
        "u16" => return whole(0, u16::MAX.into()),
        "u32" => return whole(0, u32::MAX.into()),
        "u64" | "usize" => return whole(0, u64::MAX.into()),
        "i8" => return whole(i8::MIN.into(), i8::MAX.into()),
        "i16" => return whole(i16::MIN.into(), i16::MAX.into()),
        "i32" => return whole(i32::MIN.into(), i32::MAX.into()),
        "i64" | "isize" => return whole(i64::MIN.into(), i64::MAX.into()),
        "f32" | "f64" => return owned("a number", "un numero"),
        "a string" | "a borrowed string" | "a character" | "char" => {
            return owned("text", "un testo");
        }
        "a boolean" => return owned("true or false", "true o false"),
        "a sequence" => return owned("a list", "una lista"),
        "a map" => return owned("an object", "un oggetto"),
        "string or map" => {
            return owned(
                "one of the allowed values, as text",
                "uno dei valori ammessi, come testo",
            );
        }
        "a formatted date string" => {
            return owned("a date such as 2027-01-31", "una data come 2027-01-31");
        }
        _ => {}
    }
    if expected.starts_with("struct ") || expected.starts_with("a map") {
        return owned("an object", "un oggetto");
    }
    if expected.starts_with("a tuple")
        || expected.starts_with("tuple")
        || expected.contains("array")
    {
        return owned("a list", "una lista");
    }
    if expected.starts_with("a UUID") || expected.contains("UUID") {
        return owned(
            "a UUID such as 3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65",
            "un UUID come 3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65",
        );
    }
    if expected.contains("date and time") {
        return owned(
            "a date and time such as 2027-05-04T12:00:00+02:00 (RFC 3339)",
            "una data e ora come 2027-05-04T12:00:00+02:00 (RFC 3339)",
        );
    }
    if expected.contains("date") {
        return owned("a date such as 2027-01-31", "una data come 2027-01-31");
    }
    // The types of the domain name what they take in words already ("an amount as a string
    // with exactly two decimals, such as \"50000.00\""); in Italian from their table.
    let it = DOMAIN_EXPECTATIONS
        .iter()
        .find(|(en, _)| *en == expected)
        .map_or(expected, |(_, it)| *it);
    (expected.to_owned(), it.to_owned())
}

/// What the types of the domain say they expect, and its Italian.
const DOMAIN_EXPECTATIONS: [(&str, &str); 6] = [
    (
        "an amount as a string with exactly two decimals, such as \"50000.00\"",
        "un importo come testo con esattamente due decimali, come \"50000.00\"",
    ),
    (
        "a percentage as a string with exactly two decimals, such as \"70.00\"",
        "una percentuale come testo con esattamente due decimali, come \"70.00\"",
    ),
    (
        "points as a string with at most one decimal place, such as \"25.0\"",
        "punti come testo con al più un decimale, come \"25.0\"",
    ),
    (
        "a tax code (codice fiscale) as a string of 11 digits or 16 characters",
        "un codice fiscale come testo di 11 cifre o 16 caratteri",
    ),
    (
        "a VAT number (partita IVA) as a string of 11 digits",
        "una partita IVA come testo di 11 cifre",
    ),
    (
        "a two-letter Italian province code, such as \"SO\"",
        "una sigla di provincia italiana di due lettere, come \"SO\"",
    ),
];

/// `a`, `b` or `c` (serde's list of names) as `a, b, c`.
fn backticked_list(list: &str) -> String {
    list.split('`')
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value of the request quoted in a message: at most 60 characters.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 60 {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(60).collect::<String>())
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => format!("{}{}.", f.to_uppercase(), c.as_str().trim_end_matches('.')),
        None => String::new(),
    }
}

/// The path of the object or array holding `path`; `None` at the top level.
fn parent(path: &str) -> Option<String> {
    let cut = path.rfind(['.', '['])?;
    Some(path[..cut].to_owned())
}

/// Remove the value at a serde path (`a.b[2].c`), so that decoding can go on past it.
fn remove_at(value: &mut Value, path: &str) -> bool {
    let mut segments: Vec<Segment> = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(idx) = rest.find('[') {
            let key = &rest[..idx];
            if !key.is_empty() {
                segments.push(Segment::Key(key.to_owned()));
            }
            rest = &rest[idx..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let end = stripped.find(']').unwrap_or(stripped.len());
                match stripped[..end].parse::<usize>() {
                    Ok(i) => segments.push(Segment::Index(i)),
                    Err(_) => return false,
                }
                rest = stripped.get(end + 1..).unwrap_or("");
            }
        } else {
            segments.push(Segment::Key(rest.to_owned()));
        }
    }
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut cursor = value;
    for seg in parents {
        cursor = match (seg, cursor) {
            (Segment::Key(k), Value::Object(map)) => match map.get_mut(k) {
                Some(v) => v,
                None => return false,
            },
            (Segment::Index(i), Value::Array(items)) => match items.get_mut(*i) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, cursor) {
        (Segment::Key(k), Value::Object(map)) => map.remove(k).is_some(),
        (Segment::Index(i), Value::Array(items)) if *i < items.len() => {
            // Keep later indexes stable for the paths still to be reported.
            items[*i] = Value::Null;
            true
        }
        _ => false,
    }
}

enum Segment {
    Key(String),
    Index(usize),
}

/// Answer actix's own path extractor failures with problem+json, naming the parameter and
/// what it takes (`call_id`: a UUID; `agency_code`: one of the agencies' codes), never the
/// extractor's own words ("Path deserialize error: UUID parsing failed").
pub fn path_error(err: actix_web::error::PathError, req: &HttpRequest) -> actix_web::Error {
    let message = match &err {
        actix_web::error::PathError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    let params: Vec<(&str, &str)> = req.match_info().iter().collect();
    // The first parameter that its kind refuses; the message says which otherwise.
    let culprit = params.iter().find(|(name, value)| {
        if *name == "agency_code" {
            !AgencyCode::ALL.iter().any(|a| a.as_str() == *value)
        } else if *name == "id" || name.ends_with("_id") {
            uuid::Uuid::parse_str(value).is_err()
        } else {
            false
        }
    });
    let (name, (en, it)) = match culprit {
        Some((name, value)) if *name == "agency_code" => {
            let list = AgencyCode::ALL
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let value = shorten(value);
            (
                *name,
                (
                    format!("\"{value}\" is not one of the agencies' codes: {list}."),
                    format!("\"{value}\" non è tra i codici delle ATS: {list}."),
                ),
            )
        }
        Some((name, value)) => {
            let (en, it) = expected_words("a UUID string");
            let value = shorten(value);
            (
                *name,
                (
                    format!("Expected {en}, not \"{value}\"."),
                    format!("Valore atteso: {it}, non \"{value}\"."),
                ),
            )
        }
        None => (
            params.last().map_or("", |(n, _)| *n),
            explain(message.trim_start_matches("Path deserialize error: ")),
        ),
    };
    parameter_problem(name, || {
        ErrorCode::InvalidPathParameter.with(&[
            ("name", &name),
            ("reason_en", &en),
            ("reason_it", &it),
        ])
    })
}

/// Answer actix's own query extractor failures with problem+json, naming the parameter when
/// the failure points to one (the decoder's error does not say which): the one whose value
/// the message quotes, or the only one of the kind it refuses.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    req: &HttpRequest,
) -> actix_web::Error {
    let message = match &err {
        actix_web::error::QueryPayloadError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    let params: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let quoted = message.split('`').nth(1);
    let refuses = |value: &str| -> bool {
        if message.starts_with("UUID parsing failed") {
            uuid::Uuid::parse_str(value).is_err()
        } else if message.starts_with("invalid digit")
            || message.starts_with("number too")
            || message.starts_with("cannot parse integer")
        {
            value.parse::<i128>().is_err()
        } else if message.starts_with("provided string was not `true` or `false`") {
            value != "true" && value != "false"
        } else {
            false
        }
    };
    let by_value: Vec<&String> = params
        .iter()
        .filter(|(_, v)| quoted == Some(v.as_str()))
        .map(|(n, _)| n)
        .collect();
    let by_kind: Vec<&String> = params
        .iter()
        .filter(|(n, v)| {
            // An id is a UUID, and only an id is.
            let id = n.ends_with("_id");
            refuses(v) && (id == message.starts_with("UUID parsing failed"))
        })
        .map(|(n, _)| n)
        .collect();
    let name = match (by_value.as_slice(), by_kind.as_slice()) {
        ([one], _) | ([], [one]) => one.to_string(),
        _ => {
            let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
            names.join(" or ")
        }
    };
    let (en, it) = explain(&message);
    parameter_problem(&name, || {
        ErrorCode::InvalidQueryParameter.with(&[
            ("name", &name),
            ("reason_en", &en),
            ("reason_it", &it),
        ])
    })
}

/// A 400 about one parameter, with its violation.
fn parameter_problem(name: &str, coded: impl Fn() -> Coded) -> actix_web::Error {
    ApiError::bad_request(coded(), vec![Violation::new(name, coded())]).into()
}

/// Answer actix's own form extractor failures with problem+json.
pub fn form_error(err: actix_web::error::UrlencodedError, _req: &HttpRequest) -> actix_web::Error {
    match err {
        actix_web::error::UrlencodedError::Overflow { limit, .. } => {
            ApiError::PayloadTooLarge { limit }.into()
        }
        actix_web::error::UrlencodedError::ContentType => ApiError::UnsupportedMediaType {
            expected: "application/x-www-form-urlencoded",
        }
        .into(),
        other => ApiError::from(ErrorCode::InvalidForm.with(&[("reason", &other)])).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        amount: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        count: u32,
        inner: Inner,
        list: Vec<Inner>,
    }

    fn violations(json: &str) -> Vec<(String, String)> {
        match decode_json::<Outer>(json.as_bytes()) {
            Ok(_) => vec![],
            Err(ApiError::Validation(v)) | Err(ApiError::BadRequest { violations: v, .. }) => v
                .into_iter()
                .map(|v| (v.field, v.code.as_str().to_owned()))
                .collect(),
            Err(e) => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn every_wrong_field_is_reported_at_once() {
        let v = violations(
            r#"{"name": 1, "count": "x", "typo": true, "inner": {"amount": -1}, "list": [{"amount": 1}, {"amount": "a"}]}"#,
        );
        let fields: Vec<&str> = v.iter().map(|(f, _)| f.as_str()).collect();
        assert!(fields.contains(&"name"), "{v:?}");
        assert!(fields.contains(&"count"), "{v:?}");
        assert!(fields.contains(&"typo"), "{v:?}");
        assert!(fields.contains(&"inner.amount"), "{v:?}");
        assert!(fields.contains(&"list[1].amount"), "{v:?}");
    }

    #[test]
    fn a_valid_body_decodes() {
        assert!(
            violations(r#"{"name": "a", "count": 1, "inner": {"amount": 1}, "list": []}"#)
                .is_empty()
        );
    }

    #[test]
    fn a_field_named_twice_is_refused_wherever_it_is() {
        let v = violations(
            r#"{"name": "a", "count": 1, "name": "b", "inner": {"amount": 1, "amount": 2},
                "list": [{"amount": 1}, {"amount": 1, "am\u006funt": 3}]}"#,
        );
        assert_eq!(
            v,
            vec![
                ("name".to_owned(), "duplicate_key".to_owned()),
                ("inner.amount".to_owned(), "duplicate_key".to_owned()),
                ("list[1].amount".to_owned(), "duplicate_key".to_owned()),
            ]
        );
        // The same name in two objects is no duplicate.
        assert!(
            violations(r#"{"name": "a", "count": 1, "inner": {"amount": 1}, "list": [{"amount": 1}, {"amount": 2}]}"#)
                .is_empty()
        );
        // A document that is not an object (a merge patch's refusal is its own) is read as before.
        assert!(decode_json::<Value>(b"[1, 1, {\"a\": {}}]").is_ok());
    }

    #[test]
    fn messages_say_what_was_expected_in_words_of_json_not_of_rust() {
        let messages = |json: &str| -> Vec<String> {
            match decode_json::<Outer>(json.as_bytes()) {
                Err(ApiError::Validation(v)) | Err(ApiError::BadRequest { violations: v, .. }) => {
                    v.into_iter().map(|v| v.message.en.into_owned()).collect()
                }
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(
            messages(r#"{"name": "a", "count": "x", "inner": {"amount": -1}, "list": {}}"#),
            vec![
                "Expected a whole number from 0 to 4294967295, not \"x\".",
                "Expected a whole number from 0 to 4294967295, not -1.",
                "Expected a list, not an object.",
            ]
        );
        assert_eq!(
            messages(r#"{"name": "a", "count": 1, "inner": {"amount": 1}, "list": [], "nmae": 1}"#),
            vec!["`nmae` is not a field of this object; its fields are: name, count, inner, list."]
        );
        assert_eq!(
            explain_field("start_date", "input is out of range").0,
            "Expected a date such as 2027-01-31."
        );
        assert_eq!(
            explain_field("amendment.opens_at", "premature end of input").1,
            "Valore atteso: una data e ora come 2027-05-04T12:00:00+02:00 (RFC 3339)."
        );
        assert_eq!(
            explain("UUID parsing failed: invalid character: found `x` at 1").0,
            "Expected a UUID such as 3f2a9c4e-5b7d-4e21-8a6f-1d0c9b8e7a65."
        );
        assert_eq!(
            explain("unknown variant `boss`, expected one of `lead`, `full_partner`"),
            (
                "\"boss\" is not one of the allowed values: lead, full_partner.".to_owned(),
                "\"boss\" non è tra i valori ammessi: lead, full_partner.".to_owned()
            )
        );
        // A type of the domain words its own refusal, in both languages.
        let money = crate::domain::money::Money::parse("1.5").unwrap_err();
        assert_eq!(
            explain(&money.to_string()),
            (
                capitalise(money.message_en()),
                capitalise(money.message_it())
            )
        );
        assert!(explain(&money.to_string()).1.starts_with("Un importo"));
    }

    #[test]
    fn a_missing_field_is_named() {
        let v = violations(r#"{"name": "a", "inner": {"amount": 1}, "list": []}"#);
        assert_eq!(v, vec![("count".to_owned(), "missing_field".to_owned())]);
    }
}
