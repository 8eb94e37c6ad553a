//! CAdES envelopes (`.p7m`) opened: each signature verified over the content it wraps, and
//! each signer's name and tax code read from their certificate.
//!
//! A `.p7m` is a CMS `SignedData` (RFC 5652), DER/BER or base64 (with or without PEM armour),
//! as `media::sniff` recognises it. A signer's signature is `valid` when the content type and
//! digest in its signed attributes are those of the encapsulated content, and the signature
//! over those attributes (over the content itself, when it has none) verifies with the public
//! key of its certificate, carried in the envelope. Whether that certificate is trusted (issued by a
//! qualified provider on the EU trusted lists, not revoked, not expired at signing time) is
//! not checked: every signer says `trust: "not_checked"`. Until it is, the name and tax code
//! are what the certificate claims, not proven: anyone can make a certificate naming anyone
//! (the tests do).
//!
//! When the signer bound their certificate to the signature (the ESS `signingCertificateV2`
//! or `signingCertificate` signed attribute, which CAdES requires and Italian signing tools
//! write), the carried certificate must be that one; without the attribute (plain CMS, as
//! `openssl cms -sign` writes without `-cades`) the certificate is not covered by the
//! signature, and its subject could be edited without the signature noticing.
//!
//! The content inside the envelope is what the media-type check applies to; a detached
//! envelope (the signed file kept apart) carries no content, and its signatures cannot be
//! verified here.
//!
//! Pure computation, no IO: the bytes come in, the report and the content go out.

use std::fmt;

use super::identifiers::TaxCode;
use base64::Engine;
use bcder::decode::{Constructed, DecodeError, Source};
use bcder::{Mode, OctetString, Tag};
use chrono::{DateTime, Utc};
use cryptographic_message_syntax::asn1::rfc5652::SignedData as RawSignedData;
use cryptographic_message_syntax::{Bytes, CmsError, Oid, SignedData, SignerInfo};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use x509_certificate::{
    CapturedX509Certificate, DigestAlgorithm, certificate::certificate_is_subset_of,
};

/// The object identifier of the subject attribute `serialNumber` (2.5.4.5), where Italian
/// signature certificates carry the holder's tax code as `TINIT-<codice fiscale>`.
const OID_SERIAL_NUMBER: &[u8] = &[85, 4, 5];

/// The ESS attributes by which a signer binds their certificate to the signature (its hash
/// among the signed attributes): `signingCertificateV2` (RFC 5035, 1.2.840.113549.1.9.16.2.47)
/// and the older `signingCertificate` (RFC 2634, 1.2.840.113549.1.9.16.2.12, SHA-1). CAdES
/// requires one of them.
const OID_SIGNING_CERTIFICATE_V2: &[u8] = &[42, 134, 72, 134, 247, 13, 1, 9, 16, 2, 47];
const OID_SIGNING_CERTIFICATE: &[u8] = &[42, 134, 72, 134, 247, 13, 1, 9, 16, 2, 12];

/// The prefix of an Italian tax code in `serialNumber` (ETSI EN 319 412-1: `TIN` + `IT` + `-`).
const TAX_CODE_PREFIX: &str = "TINIT-";

/// What a `.p7m` says about its signatures: one entry per signer, in the envelope's order
/// (a DER `SET OF`, sorted by encoding, not by when each signed).
/// Kept in the document's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"signers": [{"name": "Mario Rossi", "tax_code": "RSSMRA85T10A562S", "signing_time": "2026-11-27T17:45:00.000000Z", "signature": "valid", "invalid_reason": null, "trust": "not_checked"}]}))]
pub struct SignatureReport {
    pub signers: Vec<Signer>,
}

impl SignatureReport {
    /// The signers' tax codes masked as personal codes are for whoever may not see them in
    /// full (`RSS************S`, see [`TaxCode::masked`]); a code that is no valid tax code
    /// keeps its first three characters only.
    pub fn mask_tax_codes(&mut self) {
        for signer in &mut self.signers {
            if let Some(code) = &mut signer.tax_code {
                *code = match TaxCode::parse(code) {
                    Ok(valid) => valid.masked(),
                    Err(_) => {
                        let shown: String = code.chars().take(3).collect();
                        let hidden = code.chars().count().saturating_sub(3);
                        format!("{shown}{}", "*".repeat(hidden))
                    }
                };
            }
        }
    }

    /// The signers whose signature verifies.
    pub fn valid_signers(&self) -> impl Iterator<Item = &Signer> {
        self.signers
            .iter()
            .filter(|s| s.signature == SignatureStatus::Valid)
    }
}

/// One signer of a `.p7m`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Mario Rossi", "tax_code": "RSSMRA85T10A562S", "signing_time": "2026-11-27T17:45:00.000000Z", "signature": "valid", "invalid_reason": null, "trust": "not_checked"}))]
pub struct Signer {
    /// The common name (CN) of the certificate's subject; `null` when the envelope does not
    /// carry the signer's certificate or its subject has no CN.
    #[schema(example = "Mario Rossi")]
    pub name: Option<String>,
    /// The tax code (codice fiscale) of the certificate's subject, read from its
    /// `serialNumber` (`TINIT-RSSMRA80A01F205X`) without the `TINIT-` prefix; `null` when the
    /// subject has none.
    #[schema(example = "RSSMRA80A01F205X")]
    pub tax_code: Option<String>,
    /// When the signer says they signed (the `signingTime` signed attribute); `null` when
    /// absent. It is part of what is signed, but not a trusted time stamp.
    #[serde(with = "crate::domain::timestamp::option")]
    pub signing_time: Option<DateTime<Utc>>,
    /// Whether the signature verifies over the content of the envelope.
    pub signature: SignatureStatus,
    /// Why it does not; `null` when it is valid.
    pub invalid_reason: Option<InvalidReason>,
    /// Whether the certificate is trusted: always `not_checked` (the EU trusted lists are
    /// not consulted).
    pub trust: Trust,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignatureStatus {
    Valid,
    Invalid,
}

/// Why a signature does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvalidReason {
    /// The content is not what was signed: its digest differs from the signed one.
    ContentAltered,
    /// The signed content type is not the envelope's.
    ContentTypeMismatch,
    /// The signature does not verify with the certificate's public key.
    SignatureMismatch,
    /// The envelope does not carry the signer's certificate.
    CertificateMissing,
    /// The certificate the envelope carries is not the one the signer bound to the signature
    /// (its hash in the ESS signing-certificate attribute differs, or cannot be read).
    CertificateNotBound,
    /// The key or signature algorithm is not one this service verifies (RSA PKCS#1 v1.5 of
    /// 2048 to 8192 bits, ECDSA on P-256 or P-384, Ed25519; SHA-1 to SHA-512).
    UnsupportedAlgorithm,
    /// The envelope does not carry the signed content (a detached signature).
    ContentDetached,
}

/// Whether a signer's certificate is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// The EU trusted lists were not consulted.
    NotChecked,
}

/// What an envelope wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content<'a> {
    /// The signed bytes: what the media-type check applies to.
    Attached(&'a [u8]),
    /// The envelope carries no content: the signed file is kept apart (or there is none).
    Detached,
}

/// A `.p7m` opened: its signers' report and the content it wraps.
pub struct Envelope {
    report: SignatureReport,
    content: Option<Bytes>,
}

impl Envelope {
    pub fn report(&self) -> &SignatureReport {
        &self.report
    }

    pub fn into_report(self) -> SignatureReport {
        self.report
    }

    /// The encapsulated content.
    pub fn content(&self) -> Content<'_> {
        match &self.content {
            Some(bytes) => Content::Attached(bytes),
            None => Content::Detached,
        }
    }
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let content = match self.content() {
            Content::Attached(bytes) => format!("{} bytes", bytes.len()),
            Content::Detached => "detached".to_owned(),
        };
        f.debug_struct("Envelope")
            .field("report", &self.report)
            .field("content", &content)
            .finish()
    }
}

/// Why a file cannot be opened as a `.p7m`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Neither DER/BER nor base64 of a CMS structure.
    #[error("the file is not a CMS envelope (neither DER nor base64)")]
    NotCms,
    /// A CMS structure that is not a well-formed SignedData.
    #[error("the CMS envelope is malformed: {0}")]
    Malformed(String),
    /// A SignedData this service cannot read: signers named by key identifier, algorithms it
    /// does not know, certificates in other formats.
    #[error("the CMS envelope uses what this service does not read: {0}")]
    Unsupported(String),
}

impl From<CmsError> for EnvelopeError {
    fn from(e: CmsError) -> Self {
        match e {
            CmsError::SubjectKeyIdentifierUnsupported
            | CmsError::UnknownKeyAlgorithm(_)
            | CmsError::UnknownDigestAlgorithm(_)
            | CmsError::UnknownSignatureAlgorithm(_)
            | CmsError::UnknownCertificateFormat => EnvelopeError::Unsupported(e.to_string()),
            _ => EnvelopeError::Malformed(e.to_string()),
        }
    }
}

/// Opens a `.p7m` (DER/BER, or base64 with or without PEM armour) and verifies each of its
/// signatures. An error when it is no readable SignedData; a signature that does not verify is
/// no error, it is reported `invalid`.
///
/// The file is taken, not borrowed: the content returned is a view into its bytes (into the
/// decoded bytes of a base64 file), so an envelope costs its own size once, not once more for
/// each copy a parser would make.
pub fn open(file: Vec<u8>) -> Result<Envelope, EnvelopeError> {
    let der = if file.first() == Some(&0x30) {
        file
    } else {
        decode_base64(file).ok_or(EnvelopeError::NotCms)?
    };
    if der.first() != Some(&0x30) {
        return Err(EnvelopeError::NotCms);
    }
    let der = Bytes::from(der);
    let mut raw = Constructed::decode(der.clone(), Mode::Ber, RawSignedData::decode)
        .map_err(CmsError::from)?;
    // The certificates as the envelope encodes them (views into it), in the same order as the
    // crate's re-encoded ones: the signed hash of a certificate is over its own bytes.
    let count = raw.certificates.as_ref().map_or(0, |c| c.len());
    let encodings = certificate_encodings(der, count).map_err(CmsError::from)?;
    let content_type = raw.content_info.content_type.clone();
    // A DER (primitive) content is a view into the file; a BER one in pieces is joined once.
    // Taken out before the crate's own structure is built from the rest, which would copy it.
    let content = raw.content_info.content.take().map(|c| c.into_bytes());
    let signed_data = SignedData::try_from(&raw)?;
    drop(raw);
    let report = SignatureReport {
        signers: signed_data
            .signers()
            .map(|signer| {
                let content = content.as_deref();
                read_signer(&signed_data, &encodings, content, &content_type, signer)
            })
            .collect(),
    };
    Ok(Envelope { report, content })
}

/// The bytes of a base64 `.p7m`: PEM armour lines dropped, white space ignored, padding
/// optional. `None` when it is not base64. The text is compacted in place and dropped once
/// decoded: a base64 envelope never costs more than its size and its decoded size together.
fn decode_base64(mut text: Vec<u8>) -> Option<Vec<u8>> {
    if let Some(end) = find(&text, b"-----END") {
        text.truncate(end);
    }
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    if text[start..].starts_with(b"-----BEGIN") {
        let body = start + text[start..].iter().position(|&b| b == b'\n')? + 1;
        text.drain(..body);
    }
    text.retain(|b| !b.is_ascii_whitespace());
    if text.is_empty() {
        return None;
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine.decode(text).ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn read_signer(
    signed_data: &SignedData,
    encodings: &[Bytes],
    content: Option<&[u8]>,
    content_type: &Oid,
    signer: &SignerInfo,
) -> Signer {
    let found = signer
        .certificate_issuer_and_serial()
        .and_then(|(issuer, serial)| {
            signed_data.certificates().enumerate().find(|(_, cert)| {
                certificate_is_subset_of(
                    serial,
                    issuer,
                    cert.serial_number_asn1(),
                    cert.issuer_name(),
                )
            })
        });
    let certificate = found.map(|(_, cert)| cert);
    let verdict = match found {
        Some((at, cert)) => verify(content, content_type, signer, cert)
            .and_then(|()| check_binding(signer, encodings.get(at).map(|e| &e[..]))),
        None => Err(InvalidReason::CertificateMissing),
    };
    Signer {
        name: certificate.and_then(|c| c.subject_common_name()),
        tax_code: certificate.and_then(tax_code),
        signing_time: signer
            .signed_attributes()
            .and_then(|a| a.signing_time())
            .copied(),
        signature: match verdict {
            Ok(()) => SignatureStatus::Valid,
            Err(_) => SignatureStatus::Invalid,
        },
        invalid_reason: verdict.err(),
        trust: Trust::NotChecked,
    }
}

/// The RFC 5652 §5.4, §5.6 and §11.1 checks: the signed content type and digest are the
/// content's, and the signature over the signed attributes (or over the content, without
/// them) verifies with the certificate's key.
fn verify(
    content: Option<&[u8]>,
    content_type: &Oid,
    signer: &SignerInfo,
    cert: &CapturedX509Certificate,
) -> Result<(), InvalidReason> {
    let content = content.ok_or(InvalidReason::ContentDetached)?;
    let verifier = signer
        .signature_verifier(std::iter::once(cert))
        .map_err(|_| InvalidReason::UnsupportedAlgorithm)?;
    if let Some(attributes) = signer.signed_attributes() {
        // §11.1: the signed content type is the envelope's, lest the same signature be
        // presented over the same bytes as another kind of content.
        if attributes.content_type() != content_type {
            return Err(InvalidReason::ContentTypeMismatch);
        }
        signer
            .verify_message_digest_with_content(content)
            .map_err(|_| InvalidReason::ContentAltered)?;
    }
    // Over the signed attributes when there are some, else over the content.
    verifier
        .verify(&signer.signed_content(Some(content)), signer.signature())
        .map_err(|_| InvalidReason::SignatureMismatch)
}

/// When the signer bound a certificate to the signature (CAdES), it must be the one carried:
/// else anyone could swap in a certificate with the same key and another subject.
fn check_binding(signer: &SignerInfo, encoding: Option<&[u8]>) -> Result<(), InvalidReason> {
    let Some(attributes) = signer.signed_attributes() else {
        return Ok(());
    };
    for (oid, v2) in [
        (OID_SIGNING_CERTIFICATE_V2, true),
        (OID_SIGNING_CERTIFICATE, false),
    ] {
        let Some(attribute) = attributes
            .attributes()
            .iter()
            .find(|a| a.typ.as_ref() == oid)
        else {
            continue;
        };
        let (algorithm, hash) = attribute
            .values
            .first()
            .and_then(|v| {
                std::ops::Deref::deref(v)
                    .clone()
                    .decode(|cons| first_cert_id(cons, v2))
                    .ok()
            })
            .ok_or(InvalidReason::CertificateNotBound)?;
        let algorithm = match algorithm {
            Some(oid) => {
                DigestAlgorithm::try_from(&oid).map_err(|_| InvalidReason::UnsupportedAlgorithm)?
            }
            None if v2 => DigestAlgorithm::Sha256,
            None => DigestAlgorithm::Sha1,
        };
        let encoding = encoding.ok_or(InvalidReason::CertificateNotBound)?;
        return if algorithm.digest_data(encoding) == hash.as_ref() {
            Ok(())
        } else {
            Err(InvalidReason::CertificateNotBound)
        };
    }
    Ok(())
}

/// The first certificate identifier of a `SigningCertificate(V2)`, the signer's: its hash
/// algorithm (v2 only, SHA-256 when absent) and hash.
fn first_cert_id<S: Source>(
    cons: &mut Constructed<S>,
    v2: bool,
) -> Result<(Option<Oid>, Bytes), DecodeError<S::Error>> {
    cons.take_sequence(|cons| {
        let first = cons.take_sequence(|cons| {
            let first = cons.take_sequence(|cons| {
                let algorithm = if v2 {
                    cons.take_opt_sequence(|cons| {
                        let oid = Oid::take_from(cons)?;
                        skip_rest(cons)?;
                        Ok(oid)
                    })?
                } else {
                    None
                };
                let hash = OctetString::take_from(cons)?.into_bytes();
                skip_rest(cons)?;
                Ok((algorithm, hash))
            })?;
            skip_rest(cons)?;
            Ok(first)
        })?;
        skip_rest(cons)?;
        Ok(first)
    })
}

/// The encodings of the first `count` certificates of a SignedData, in order, as views into it.
fn certificate_encodings(
    der: Bytes,
    count: usize,
) -> Result<Vec<Bytes>, DecodeError<std::convert::Infallible>> {
    Constructed::decode(der, Mode::Ber, |cons| {
        cons.take_sequence(|cons| {
            cons.skip_one()?; // contentType
            cons.take_constructed_if(Tag::CTX_0, |cons| {
                cons.take_sequence(|cons| {
                    cons.skip_one()?; // version
                    cons.skip_one()?; // digestAlgorithms
                    cons.skip_one()?; // encapContentInfo
                    let certificates = cons
                        .take_opt_constructed_if(Tag::CTX_0, |cons| {
                            let all = (0..count)
                                .map(|_| cons.capture_one().map(|c| c.into_bytes()))
                                .collect::<Result<Vec<_>, _>>()?;
                            skip_rest(cons)?;
                            Ok(all)
                        })?
                        .unwrap_or_default();
                    skip_rest(cons)?;
                    Ok(certificates)
                })
            })
        })
    })
}

/// Skips what is left of a value. bcder's `skip_all` fails at the end of an indefinite-length
/// (BER) value: it asks for one more value there instead of seeing the end.
fn skip_rest<S: Source>(cons: &mut Constructed<S>) -> Result<(), DecodeError<S::Error>> {
    while cons.skip_opt(|_, _, _| Ok(()))?.is_some() {}
    Ok(())
}

/// The tax code in the subject's `serialNumber`, `TINIT-` removed; `None` without it.
fn tax_code(cert: &CapturedX509Certificate) -> Option<String> {
    let serial = cert
        .subject_name()
        .find_first_attribute_string(Oid(Bytes::from_static(OID_SERIAL_NUMBER)))
        .ok()??;
    let serial = serial.trim();
    let prefix = serial.get(..TAX_CODE_PREFIX.len())?;
    if !prefix.eq_ignore_ascii_case(TAX_CODE_PREFIX) {
        return None;
    }
    let code = serial[TAX_CODE_PREFIX.len()..].trim();
    (!code.is_empty()).then(|| code.to_ascii_uppercase())
}

#[cfg(test)]
mod tests;
