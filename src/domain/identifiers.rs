//! Italian identifiers: codice fiscale ([`TaxCode`]), partita IVA
//! ([`VatNumber`]) and province code ([`ProvinceCode`]). Each is parsed once,
//! with its check character verified, and then kept in canonical form
//! (trimmed, upper-case). On the wire each one is a JSON string.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use super::error_code::ErrorCode;
use super::violation::Violation;

/// Pattern published in the OpenAPI schema of [`TaxCode`].
pub const TAX_CODE_PATTERN: &str = r"^([0-9]{11}|[A-Za-z0-9]{16})$";

/// Pattern published in the OpenAPI schema of [`VatNumber`].
pub const VAT_NUMBER_PATTERN: &str = r"^[0-9]{11}$";

/// Why a text is not a valid Italian identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdError {
    /// A tax code that is neither 11 digits nor a 16-character personal code.
    TaxCodeFormat,
    /// A well-formed tax code whose check character is wrong.
    TaxCodeCheck,
    /// A VAT number that is not 11 digits (or is all zeros).
    VatFormat,
    /// An 11-digit VAT number whose check digit is wrong.
    VatCheck,
    /// Not one of the current Italian province codes.
    UnknownProvince,
}

impl IdError {
    /// Stable machine-readable code, safe to expose in API error bodies.
    pub fn code(&self) -> ErrorCode {
        match self {
            IdError::TaxCodeFormat => ErrorCode::TaxCodeFormat,
            IdError::TaxCodeCheck => ErrorCode::TaxCodeCheck,
            IdError::VatFormat => ErrorCode::VatNumberFormat,
            IdError::VatCheck => ErrorCode::VatNumberCheck,
            IdError::UnknownProvince => ErrorCode::UnknownProvince,
        }
    }

    /// Human-readable explanation in English.
    pub fn message_en(&self) -> &'static str {
        self.code().en()
    }

    /// Human-readable explanation in Italian.
    pub fn message_it(&self) -> &'static str {
        self.code().it()
    }

    /// This error as a violation of `field`.
    pub fn violation(&self, field: &str) -> Violation {
        Violation::new(field, self.code())
    }
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message_en())
    }
}

impl std::error::Error for IdError {}

/// Trimmed, ASCII upper-cased input; `None` when any character is not ASCII
/// (so that e.g. `ß` can never be upper-cased into two letters).
fn normalise(s: &str) -> Option<String> {
    let t = s.trim();
    t.is_ascii().then(|| t.to_ascii_uppercase())
}

/// Check digit of an 11-digit numeric code (partita IVA, or codice fiscale of
/// a legal entity) from its first 10 digits; `None` unless exactly 10 ASCII digits.
///
/// ```text
/// X = d1 + d3 + d5 + d7 + d9
/// Y = Σ over d2, d4, d6, d8, d10 of (2·d, minus 9 when above 9)
/// check = (10 − (X + Y) mod 10) mod 10
/// ```
pub fn compute_numeric_check(first10: &str) -> Option<char> {
    let b = first10.as_bytes();
    if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = b
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let d = u32::from(c - b'0');
            if i % 2 == 0 {
                d
            } else if 2 * d > 9 {
                2 * d - 9
            } else {
                2 * d
            }
        })
        .sum();
    let check = (10 - sum % 10) % 10;
    char::from_digit(check, 10)
}

/// Value of a character at an odd (1-based) position of a personal tax code.
/// Digit `d` has the same value as the `d`-th letter (0 ↔ A, 1 ↔ B, ...).
const ODD_VALUES: [u32; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, // A..J (and 0..9)
    2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23, // K..Z
];

/// Check character of a 16-character personal tax code from its first 15
/// characters (upper-case ASCII letters and digits); `None` otherwise.
///
/// Characters at odd (1-based) positions are valued by the odd table, those at
/// even positions by the even table (digits 0–9 → 0–9, letters A–Z → 0–25);
/// the check character is `'A' + sum mod 26`.
pub fn compute_personal_check(first15: &str) -> Option<char> {
    let b = first15.as_bytes();
    if b.len() != 15 {
        return None;
    }
    let mut sum = 0u32;
    for (i, &c) in b.iter().enumerate() {
        let index = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A',
            _ => return None,
        };
        // Position i (0-based) is the (i+1)-th: even i means odd position.
        sum += if i % 2 == 0 {
            ODD_VALUES[usize::from(index)]
        } else {
            u32::from(index)
        };
    }
    Some(char::from(b'A' + (sum % 26) as u8))
}

/// A digit, or one of the letters that replace digits in an omocodia code.
fn is_omocode_digit(c: u8) -> bool {
    c.is_ascii_digit() || b"LMNPQRSTUV".contains(&c)
}

/// `[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]`
fn is_personal_shape(b: &[u8]) -> bool {
    b.len() == 16
        && b[..6].iter().all(u8::is_ascii_uppercase)
        && b[6..8].iter().all(|&c| is_omocode_digit(c))
        && b"ABCDEHLMPRST".contains(&b[8])
        && b[9..11].iter().all(|&c| is_omocode_digit(c))
        && b[11].is_ascii_uppercase()
        && b[12..15].iter().all(|&c| is_omocode_digit(c))
        && b[15].is_ascii_uppercase()
}

fn is_eleven_digits(b: &[u8]) -> bool {
    b.len() == 11 && b.iter().all(u8::is_ascii_digit)
}

/// Whether an 11-digit code ends with the right check digit.
fn numeric_check_ok(code: &str) -> bool {
    compute_numeric_check(&code[..10]) == code[10..].chars().next()
}

/// An Italian tax code (codice fiscale): either 11 digits (legal entities,
/// same algorithm as the partita IVA) or 16 characters (natural persons, with
/// omocodia allowed). Always upper-case, without surrounding spaces.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct TaxCode(String);

impl TaxCode {
    /// A valid 11-digit example, used in the OpenAPI schema.
    pub const EXAMPLE: &'static str = "00123450140";

    /// Trims and upper-cases `s`, then checks its shape and check character.
    /// Inner spaces are not removed: `"RSS MRA ..."` is a format error.
    /// The all-zeros code `"00000000000"` is a format error.
    pub fn parse(s: &str) -> Result<TaxCode, IdError> {
        let code = normalise(s).ok_or(IdError::TaxCodeFormat)?;
        let b = code.as_bytes();
        if is_eleven_digits(b) {
            if b.iter().all(|&c| c == b'0') {
                return Err(IdError::TaxCodeFormat);
            }
            if !numeric_check_ok(&code) {
                return Err(IdError::TaxCodeCheck);
            }
        } else if is_personal_shape(b) {
            if compute_personal_check(&code[..15]) != code[15..].chars().next() {
                return Err(IdError::TaxCodeCheck);
            }
        } else {
            return Err(IdError::TaxCodeFormat);
        }
        Ok(TaxCode(code))
    }

    /// Whether this is the 16-character code of a natural person.
    pub fn is_personal(&self) -> bool {
        self.0.len() == 16
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For logs and listings: a personal code becomes its first 3 characters,
    /// 12 `*` and its last character (`RSS************S`); an 11-digit code is
    /// public registry data and is returned unchanged.
    pub fn masked(&self) -> String {
        if self.is_personal() {
            format!("{}{}{}", &self.0[..3], "*".repeat(12), &self.0[15..])
        } else {
            self.0.clone()
        }
    }
}

impl fmt::Display for TaxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TaxCode {
    type Err = IdError;
    fn from_str(s: &str) -> Result<TaxCode, IdError> {
        TaxCode::parse(s)
    }
}

impl AsRef<str> for TaxCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for TaxCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TaxCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TaxCode, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = TaxCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a tax code (codice fiscale) as a string of 11 digits or 16 characters")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TaxCode, E> {
                TaxCode::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl utoipa::PartialSchema for TaxCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(TAX_CODE_PATTERN))
            .description(Some(
                "Italian tax code (codice fiscale): 11 digits for legal entities or 16 \
                 characters for natural persons, with a valid check character",
            ))
            .examples([serde_json::json!(TaxCode::EXAMPLE)])
            .into()
    }
}

impl utoipa::ToSchema for TaxCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TaxCode")
    }
}

/// An Italian VAT number (partita IVA): 11 digits, not all zeros, with a valid
/// check digit.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct VatNumber(String);

impl VatNumber {
    /// A valid example, used in the OpenAPI schema.
    pub const EXAMPLE: &'static str = "00095450144";

    /// Trims `s`, then checks that it is 11 digits, not all zeros, with the
    /// right check digit. No `IT` prefix is accepted.
    pub fn parse(s: &str) -> Result<VatNumber, IdError> {
        let code = s.trim();
        let b = code.as_bytes();
        if !is_eleven_digits(b) || b.iter().all(|&c| c == b'0') {
            return Err(IdError::VatFormat);
        }
        if !numeric_check_ok(code) {
            return Err(IdError::VatCheck);
        }
        Ok(VatNumber(code.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VatNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for VatNumber {
    type Err = IdError;
    fn from_str(s: &str) -> Result<VatNumber, IdError> {
        VatNumber::parse(s)
    }
}

impl AsRef<str> for VatNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for VatNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for VatNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<VatNumber, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = VatNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a VAT number (partita IVA) as a string of 11 digits")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<VatNumber, E> {
                VatNumber::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl utoipa::PartialSchema for VatNumber {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(VAT_NUMBER_PATTERN))
            .description(Some(
                "Italian VAT number (partita IVA): 11 digits with a valid check digit",
            ))
            .examples([serde_json::json!(VatNumber::EXAMPLE)])
            .into()
    }
}

impl utoipa::ToSchema for VatNumber {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("VatNumber")
    }
}

/// Codes (sigle) of the current Italian provinces and metropolitan cities, sorted.
pub const PROVINCE_CODES: [&str; 107] = [
    "AG", "AL", "AN", "AO", "AP", "AQ", "AR", "AT", "AV", "BA", "BG", "BI", "BL", "BN", "BO", "BR",
    "BS", "BT", "BZ", "CA", "CB", "CE", "CH", "CL", "CN", "CO", "CR", "CS", "CT", "CZ", "EN", "FC",
    "FE", "FG", "FI", "FM", "FR", "GE", "GO", "GR", "IM", "IS", "KR", "LC", "LE", "LI", "LO", "LT",
    "LU", "MB", "MC", "ME", "MI", "MN", "MO", "MS", "MT", "NA", "NO", "NU", "OR", "PA", "PC", "PD",
    "PE", "PG", "PI", "PN", "PO", "PR", "PT", "PU", "PV", "PZ", "RA", "RC", "RE", "RG", "RI", "RM",
    "RN", "RO", "SA", "SI", "SO", "SP", "SR", "SS", "SU", "SV", "TA", "TE", "TN", "TO", "TP", "TR",
    "TS", "TV", "UD", "VA", "VB", "VC", "VE", "VI", "VR", "VT", "VV",
];

/// Provinces (and the metropolitan city of Milan) of Lombardy.
const LOMBARD_CODES: [&str; 12] = [
    "BG", "BS", "CO", "CR", "LC", "LO", "MB", "MI", "MN", "PV", "SO", "VA",
];

/// The two-letter code (sigla) of a current Italian province or metropolitan city.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ProvinceCode(&'static str);

impl ProvinceCode {
    /// A valid example, used in the OpenAPI schema.
    pub const EXAMPLE: &'static str = "SO";

    /// Trims and upper-cases `s`, then looks it up among [`PROVINCE_CODES`].
    pub fn parse(s: &str) -> Result<ProvinceCode, IdError> {
        let code = normalise(s).ok_or(IdError::UnknownProvince)?;
        PROVINCE_CODES
            .binary_search(&code.as_str())
            .map(|i| ProvinceCode(PROVINCE_CODES[i]))
            .map_err(|_| IdError::UnknownProvince)
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }

    /// Whether the province is in Lombardy.
    pub fn is_lombard(&self) -> bool {
        LOMBARD_CODES.contains(&self.0)
    }
}

impl fmt::Display for ProvinceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl FromStr for ProvinceCode {
    type Err = IdError;
    fn from_str(s: &str) -> Result<ProvinceCode, IdError> {
        ProvinceCode::parse(s)
    }
}

impl AsRef<str> for ProvinceCode {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl Serialize for ProvinceCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for ProvinceCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ProvinceCode, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ProvinceCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a two-letter Italian province code, such as \"SO\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ProvinceCode, E> {
                ProvinceCode::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl utoipa::PartialSchema for ProvinceCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(PROVINCE_CODES))
            .description(Some(
                "Two-letter code (sigla) of an Italian province or metropolitan city",
            ))
            .examples([serde_json::json!(ProvinceCode::EXAMPLE)])
            .into()
    }
}

impl utoipa::ToSchema for ProvinceCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ProvinceCode")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The textbook example of a personal tax code (check letter S).
    const PERSONAL: &str = "RSSMRA85T10A562S";

    #[test]
    fn numeric_check_matches_known_codes() {
        // Checked by hand (and with an independent script) against the algorithm.
        assert_eq!(compute_numeric_check("0009545014"), Some('4'));
        assert_eq!(compute_numeric_check("0012345014"), Some('0'));
        assert_eq!(compute_numeric_check("1234567890"), Some('3'));
        assert_eq!(compute_numeric_check("0000000000"), Some('0'));
        assert_eq!(compute_numeric_check("000954501"), None);
        assert_eq!(compute_numeric_check("00095450144"), None);
        assert_eq!(compute_numeric_check("000954501a"), None);
        assert_eq!(compute_numeric_check("０００９５４５０１４"), None);
    }

    #[test]
    fn personal_check_matches_known_codes() {
        assert_eq!(compute_personal_check(&PERSONAL[..15]), Some('S'));
        assert_eq!(compute_personal_check("RSSMRA85T10A56"), None);
        assert_eq!(compute_personal_check("rssmra85t10a562"), None);
    }

    #[test]
    fn schema_examples_are_valid() {
        assert!(TaxCode::parse(TaxCode::EXAMPLE).is_ok());
        assert!(VatNumber::parse(VatNumber::EXAMPLE).is_ok());
        assert!(ProvinceCode::parse(ProvinceCode::EXAMPLE).is_ok());
        // The example the brief proposed, 00123450144, has a wrong check digit.
        assert_eq!(TaxCode::parse("00123450144"), Err(IdError::TaxCodeCheck));
    }

    #[test]
    fn tax_code_accepts_both_forms() {
        let legal = TaxCode::parse("00095450144").unwrap();
        assert!(!legal.is_personal());
        assert_eq!(legal.as_str(), "00095450144");

        let person = TaxCode::parse(PERSONAL).unwrap();
        assert!(person.is_personal());
        assert_eq!(person.as_str(), PERSONAL);
    }

    #[test]
    fn tax_code_normalises_case_and_surrounding_spaces() {
        let t = TaxCode::parse("  rssmra85t10a562s\n").unwrap();
        assert_eq!(t.as_str(), PERSONAL);
        assert_eq!(
            TaxCode::parse(" 00095450144 ").unwrap().as_str(),
            "00095450144"
        );
        assert_eq!(
            "RssMra85T10a562S".parse::<TaxCode>().unwrap().as_str(),
            PERSONAL
        );
    }

    #[test]
    fn tax_code_accepts_omocodia() {
        // Digits replaced from the right: 2 → N, 6 → S (0→L 1→M 2→N 3→P 4→Q
        // 5→R 6→S 7→T 8→U 9→V); the check letter changes accordingly.
        for first15 in ["RSSMRA85T10A56N", "RSSMRA85T10A5SN", "RSSMRAURTMLARSN"] {
            let check = compute_personal_check(first15).unwrap();
            let code = format!("{first15}{check}");
            let t = TaxCode::parse(&code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert!(t.is_personal());
        }
        assert_eq!(compute_personal_check("RSSMRA85T10A56N"), Some('H'));
        assert_eq!(compute_personal_check("RSSMRA85T10A5SN"), Some('T'));
        assert!(TaxCode::parse("RSSMRA85T10A56NH").is_ok());
        assert!(TaxCode::parse("RSSMRAURTMLARSNL").is_ok());
        assert!(TaxCode::parse("BNCGNN70A41F205Y").is_ok());
        // The letter replacing a digit must be one of LMNPQRSTUV.
        assert_eq!(
            TaxCode::parse("RSSMRA85T10A56KX"),
            Err(IdError::TaxCodeFormat)
        );
    }

    #[test]
    fn tax_code_rejects_wrong_check_characters() {
        for bad in ["RSSMRA85T10A562A", "RSSMRA85T10A562T", "RSSMRA85T10A56NS"] {
            assert_eq!(TaxCode::parse(bad), Err(IdError::TaxCodeCheck), "{bad}");
        }
        for bad in ["00095450140", "00095450145", "00123450144"] {
            assert_eq!(TaxCode::parse(bad), Err(IdError::TaxCodeCheck), "{bad}");
        }
    }

    #[test]
    fn tax_code_rejects_malformed_input() {
        let cases = [
            "",
            "   ",
            "0009545014",
            "000954501444",
            "00000000000",
            "0009545014A",
            "RSSMRA85T10A562",
            "RSSMRA85T10A562SX",
            "RSS MRA 85T10 A562S",
            "RSSMRA85Z10A562S", // Z is not a month letter
            "RSSMR485T10A562S", // digit among the surname/name letters
            "RSSMRA85T10A5625", // check position must be a letter
            "RSSMRA85T1OA562S", // O (letter) is not an omocodia letter
            "RSSMRA85T10A562ß",
            "1234567890123456",
        ];
        for bad in cases {
            assert_eq!(TaxCode::parse(bad), Err(IdError::TaxCodeFormat), "{bad:?}");
        }
    }

    #[test]
    fn tax_code_masking() {
        let person = TaxCode::parse(PERSONAL).unwrap();
        assert_eq!(person.masked(), "RSS************S");
        assert_eq!(person.masked().chars().count(), 16);
        let legal = TaxCode::parse("00095450144").unwrap();
        assert_eq!(legal.masked(), "00095450144");
    }

    #[test]
    fn tax_code_serde() {
        let t: TaxCode = serde_json::from_str("\"rssmra85t10a562s\"").unwrap();
        assert_eq!(t.as_str(), PERSONAL);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            format!("\"{PERSONAL}\"")
        );
        let err = serde_json::from_str::<TaxCode>("\"RSSMRA85T10A562A\"").unwrap_err();
        assert!(err.to_string().contains(IdError::TaxCodeCheck.message_en()));
        assert!(serde_json::from_str::<TaxCode>("95450144").is_err());
    }

    #[test]
    fn vat_number_parses_valid_codes() {
        for ok in ["00095450144", "00123450140", "12345678903", " 00095450144 "] {
            let v = VatNumber::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(v.as_str(), ok.trim());
        }
    }

    #[test]
    fn vat_number_rejects_bad_codes() {
        let cases = [
            ("00095450145", IdError::VatCheck),
            ("12345678901", IdError::VatCheck),
            ("00000000000", IdError::VatFormat),
            ("0009545014", IdError::VatFormat),
            ("000954501440", IdError::VatFormat),
            ("IT00095450144", IdError::VatFormat),
            ("0009545014a", IdError::VatFormat),
            ("00095 450144", IdError::VatFormat),
            ("", IdError::VatFormat),
        ];
        for (input, expected) in cases {
            assert_eq!(VatNumber::parse(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn vat_number_serde() {
        let v: VatNumber = serde_json::from_str("\"00095450144\"").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"00095450144\"");
        let err = serde_json::from_str::<VatNumber>("\"00095450145\"").unwrap_err();
        assert!(err.to_string().contains(IdError::VatCheck.message_en()));
        assert!(serde_json::from_str::<VatNumber>("95450144").is_err());
    }

    #[test]
    fn province_codes() {
        assert_eq!(PROVINCE_CODES.len(), 107);
        assert!(
            PROVINCE_CODES.windows(2).all(|w| w[0] < w[1]),
            "sorted, unique"
        );
        for code in PROVINCE_CODES {
            assert_eq!(ProvinceCode::parse(code).unwrap().as_str(), code);
        }
        assert_eq!(ProvinceCode::parse(" so ").unwrap().as_str(), "SO");
        for bad in ["", "XX", "S", "SOO", "S O", "Sö", "CI", "OG", "VS", "OT"] {
            assert_eq!(
                ProvinceCode::parse(bad),
                Err(IdError::UnknownProvince),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn lombard_provinces() {
        let lombard: Vec<&str> = PROVINCE_CODES
            .into_iter()
            .filter(|c| ProvinceCode::parse(c).unwrap().is_lombard())
            .collect();
        assert_eq!(lombard, LOMBARD_CODES);
        assert!(!ProvinceCode::parse("TO").unwrap().is_lombard());
        assert!(!ProvinceCode::parse("PC").unwrap().is_lombard());
    }

    #[test]
    fn province_serde() {
        let p: ProvinceCode = serde_json::from_str("\"mi\"").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"MI\"");
        let err = serde_json::from_str::<ProvinceCode>("\"XX\"").unwrap_err();
        assert!(
            err.to_string()
                .contains(IdError::UnknownProvince.message_en())
        );
    }

    #[test]
    fn schemas() {
        use utoipa::{PartialSchema, ToSchema};
        let json = |s: RefOr<Schema>| serde_json::to_value(s).unwrap();

        assert_eq!(TaxCode::name(), "TaxCode");
        let t = json(TaxCode::schema());
        assert_eq!(t["type"], "string");
        assert_eq!(t["pattern"], TAX_CODE_PATTERN);
        assert_eq!(t["examples"][0], TaxCode::EXAMPLE);

        assert_eq!(VatNumber::name(), "VatNumber");
        let v = json(VatNumber::schema());
        assert_eq!(v["pattern"], VAT_NUMBER_PATTERN);
        assert_eq!(v["examples"][0], VatNumber::EXAMPLE);

        assert_eq!(ProvinceCode::name(), "ProvinceCode");
        let p = json(ProvinceCode::schema());
        assert_eq!(p["enum"].as_array().unwrap().len(), 107);
        assert_eq!(p["examples"][0], "SO");
    }

    #[test]
    fn error_codes_messages_and_violations() {
        let all = [
            (IdError::TaxCodeFormat, "tax_code_format"),
            (IdError::TaxCodeCheck, "tax_code_check"),
            (IdError::VatFormat, "vat_number_format"),
            (IdError::VatCheck, "vat_number_check"),
            (IdError::UnknownProvince, "unknown_province"),
        ];
        for (err, code) in all {
            assert_eq!(err.code(), code);
            assert!(err.message_en().ends_with('.'));
            assert!(err.message_it().ends_with('.'));
            assert_eq!(err.to_string(), err.message_en());
            let v = err.violation("applicant.tax_code");
            assert_eq!(v.field, "applicant.tax_code");
            assert_eq!(v.code, code);
            assert_eq!(v.message.en, err.message_en());
            assert_eq!(v.message.it, err.message_it());
        }
        assert_eq!(
            IdError::TaxCodeCheck.message_en(),
            "The tax code's check character is wrong: it is not a valid codice fiscale."
        );
        assert_eq!(
            IdError::TaxCodeCheck.message_it(),
            "Il carattere di controllo del codice fiscale è errato."
        );
    }

    proptest! {
        #[test]
        fn numeric_check_builds_valid_codes(first10 in "[0-9]{10}", other in 0u32..10) {
            let check = compute_numeric_check(&first10).unwrap();
            let code = format!("{first10}{check}");
            if first10 == "0000000000" {
                prop_assert_eq!(TaxCode::parse(&code), Err(IdError::TaxCodeFormat));
                prop_assert_eq!(VatNumber::parse(&code), Err(IdError::VatFormat));
            } else {
                prop_assert_eq!(TaxCode::parse(&code).map(|t| t.to_string()), Ok(code.clone()));
                prop_assert_eq!(VatNumber::parse(&code).map(|v| v.to_string()), Ok(code.clone()));
            }
            let wrong = char::from_digit(other, 10).unwrap();
            if wrong != check {
                let bad = format!("{first10}{wrong}");
                prop_assert_eq!(TaxCode::parse(&bad), Err(IdError::TaxCodeCheck));
                prop_assert_eq!(VatNumber::parse(&bad), Err(IdError::VatCheck));
            }
        }

        #[test]
        fn every_wrong_last_digit_fails(first10 in "[0-9]{10}") {
            let check = compute_numeric_check(&first10).unwrap();
            for wrong in ('0'..='9').filter(|&c| c != check) {
                let bad = format!("{first10}{wrong}");
                prop_assert_eq!(TaxCode::parse(&bad), Err(IdError::TaxCodeCheck));
                prop_assert_eq!(VatNumber::parse(&bad), Err(IdError::VatCheck));
            }
        }

        #[test]
        fn personal_check_builds_valid_codes(
            first15 in "[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}",
            lower in any::<bool>(),
        ) {
            let check = compute_personal_check(&first15).unwrap();
            let code = format!("{first15}{check}");
            let input = if lower { code.to_ascii_lowercase() } else { code.clone() };
            let t = TaxCode::parse(&input).unwrap();
            prop_assert_eq!(t.as_str(), code.as_str());
            prop_assert!(t.is_personal());
            for wrong in ('A'..='Z').filter(|&c| c != check) {
                let bad = format!("{first15}{wrong}");
                prop_assert_eq!(TaxCode::parse(&bad), Err(IdError::TaxCodeCheck));
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = TaxCode::parse(&s);
            let _ = VatNumber::parse(&s);
            let _ = ProvinceCode::parse(&s);
        }
    }
}
