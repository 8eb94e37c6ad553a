//! Request extractors that answer every problem with problem+json, listing every violation.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::domain::ErrorCode;
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
        let v = Violation::new(
            field.clone(),
            ErrorCode::UnknownField.with(&[("name", &name), ("message", &message)]),
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
    let v = Violation::new(
        field.clone(),
        code.with(&[("sentence", &capitalise(message)), ("message", &message)]),
    );
    (field, v)
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

/// Answer actix's own path extractor failures with problem+json.
pub fn path_error(err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::from(ErrorCode::InvalidPathParameter.with(&[("reason", &err)])).into()
}

/// Answer actix's own query extractor failures with problem+json.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &HttpRequest,
) -> actix_web::Error {
    ApiError::from(ErrorCode::InvalidQueryParameter.with(&[("reason", &err)])).into()
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
    fn a_missing_field_is_named() {
        let v = violations(r#"{"name": "a", "inner": {"amount": 1}, "list": []}"#);
        assert_eq!(v, vec![("count".to_owned(), "missing_field".to_owned())]);
    }
}
