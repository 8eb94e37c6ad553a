//! Envelopes made here by the openssl CLI, with keys and certificates made here: nothing is
//! downloaded. Without the CLI each test says so and passes without checking.

use base64::Engine;
use chrono::{Duration, Utc};

use super::*;

#[path = "../../../tests/api/cades.rs"]
mod cades;

use cades::{Key, Openssl};

const CONTENT: &[u8] = b"%PDF-1.7\nAccordo di partenariato tra i partner del progetto\n%%EOF\n";
const TAX_CODE: &str = "RSSMRA80A01F205X";

impl Openssl {
    fn mario_rossi(&self, key: Key) -> cades::Identity {
        self.person("mario", key, "Mario Rossi", TAX_CODE)
    }
}

/// One valid signer named Mario Rossi with his tax code, signed a moment ago.
fn assert_mario_rossi_signed(signer: &Signer) {
    assert_eq!(signer.name.as_deref(), Some("Mario Rossi"));
    assert_eq!(signer.tax_code.as_deref(), Some(TAX_CODE));
    assert_eq!(signer.signature, SignatureStatus::Valid);
    assert_eq!(signer.invalid_reason, None);
    assert_eq!(signer.trust, Trust::NotChecked);
    let at = signer.signing_time.expect("openssl adds a signing time");
    assert!((Utc::now() - at).abs() < Duration::minutes(5), "{at}");
}

#[test]
fn an_rsa_signature_verifies_and_names_its_signer() {
    let Some(ssl) = Openssl::new() else { return };
    let mario = ssl.mario_rossi(Key::Rsa);
    let envelope = open(ssl.sign(CONTENT, &[&mario], &["-nodetach"])).unwrap();
    assert_eq!(envelope.report().signers.len(), 1);
    assert_mario_rossi_signed(&envelope.report().signers[0]);
    assert_eq!(envelope.content(), Content::Attached(CONTENT));
}

#[test]
fn an_ecdsa_p256_signature_verifies_and_names_its_signer() {
    let Some(ssl) = Openssl::new() else { return };
    let mario = ssl.mario_rossi(Key::P256);
    let envelope = open(ssl.sign(CONTENT, &[&mario], &["-nodetach"])).unwrap();
    assert_eq!(envelope.report().signers.len(), 1);
    assert_mario_rossi_signed(&envelope.report().signers[0]);
    assert_eq!(envelope.content(), Content::Attached(CONTENT));
}

#[test]
fn tampered_content_makes_every_signature_invalid() {
    let Some(ssl) = Openssl::new() else { return };
    let rsa = ssl.mario_rossi(Key::Rsa);
    let ec = ssl.identity("anna", Key::P256, "/CN=Anna Bianchi");
    let mut p7m = ssl.sign(CONTENT, &[&rsa, &ec], &["-nodetach"]);
    let at = p7m
        .windows(CONTENT.len())
        .position(|w| w == CONTENT)
        .expect("the content is inside the envelope");
    p7m[at + 20] ^= 0x01;

    let envelope = open(p7m.clone()).unwrap();
    let report = envelope.report();
    assert_eq!(report.signers.len(), 2);
    for signer in &report.signers {
        assert_eq!(signer.signature, SignatureStatus::Invalid);
        assert_eq!(signer.invalid_reason, Some(InvalidReason::ContentAltered));
    }
    assert_eq!(report.valid_signers().count(), 0);
    // Who claims to have signed is still said, and the altered content is still returned.
    assert!(
        report
            .signers
            .iter()
            .any(|s| s.tax_code.as_deref() == Some(TAX_CODE))
    );
    let Content::Attached(content) = envelope.content() else {
        panic!("the content is attached")
    };
    assert_ne!(content, CONTENT);
}

#[test]
fn a_signature_without_signed_attributes_is_verified_over_the_content() {
    let Some(ssl) = Openssl::new() else { return };
    let mario = ssl.mario_rossi(Key::Rsa);
    let p7m = ssl.sign(CONTENT, &[&mario], &["-nodetach", "-noattr"]);
    let signer = open(p7m.clone()).unwrap().into_report().signers.remove(0);
    assert_eq!(signer.signature, SignatureStatus::Valid);
    assert_eq!(signer.signing_time, None);

    let mut tampered = p7m.clone();
    let at = tampered
        .windows(CONTENT.len())
        .position(|w| w == CONTENT)
        .unwrap();
    tampered[at] ^= 0x01;
    let signer = open(tampered).unwrap().into_report().signers.remove(0);
    assert_eq!(
        signer.invalid_reason,
        Some(InvalidReason::SignatureMismatch)
    );
}

#[test]
fn two_signers_are_each_reported() {
    let Some(ssl) = Openssl::new() else { return };
    let mario = ssl.mario_rossi(Key::Rsa);
    // An organization's seal: no personal tax code in its subject.
    let seal = ssl.identity(
        "seal",
        Key::P256,
        "/C=IT/O=Cooperativa Sociale Aurora/CN=Cooperativa Sociale Aurora",
    );
    let envelope = open(ssl.sign(CONTENT, &[&mario, &seal], &["-nodetach"])).unwrap();
    let report = envelope.report();
    assert_eq!(report.signers.len(), 2);
    // DER sorts a SET OF by encoding: the envelope's order is not the command line's.
    let named = |name: &str| {
        report
            .signers
            .iter()
            .find(|s| s.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} signed: {report:?}"))
    };
    assert_mario_rossi_signed(named("Mario Rossi"));
    let second = named("Cooperativa Sociale Aurora");
    assert_eq!(second.name.as_deref(), Some("Cooperativa Sociale Aurora"));
    assert_eq!(second.tax_code, None);
    assert_eq!(second.signature, SignatureStatus::Valid);
    assert_eq!(report.valid_signers().count(), 2);
}

#[test]
fn a_serial_number_other_than_an_italian_tax_code_gives_no_tax_code() {
    let Some(ssl) = Openssl::new() else { return };
    let foreign = ssl.identity(
        "hans",
        Key::Rsa,
        "/C=DE/CN=Hans Muster/serialNumber=PNODE-1234567890",
    );
    let envelope = open(ssl.sign(CONTENT, &[&foreign], &["-nodetach"])).unwrap();
    let signer = &envelope.report().signers[0];
    assert_eq!(signer.name.as_deref(), Some("Hans Muster"));
    assert_eq!(signer.tax_code, None);
    assert_eq!(signer.signature, SignatureStatus::Valid);
}

#[test]
fn a_base64_envelope_is_read_with_or_without_armour() {
    let Some(ssl) = Openssl::new() else { return };
    let mario = ssl.mario_rossi(Key::Rsa);
    let der = ssl.sign(CONTENT, &[&mario], &["-nodetach"]);

    let plain = base64::engine::general_purpose::STANDARD.encode(&der);
    // Wrapped at 64 columns with CRLF, as some signing tools write it.
    let wrapped: String = plain
        .as_bytes()
        .chunks(64)
        .map(|line| format!("{}\r\n", std::str::from_utf8(line).unwrap()))
        .collect();
    let armoured = format!("-----BEGIN PKCS7-----\n{wrapped}-----END PKCS7-----\n");
    for form in [plain, wrapped, armoured] {
        let envelope = open(form.into_bytes()).unwrap();
        assert_mario_rossi_signed(&envelope.report().signers[0]);
        assert_eq!(envelope.content(), Content::Attached(CONTENT));
    }
}

#[test]
fn a_detached_signature_says_so_and_is_not_valid() {
    let Some(ssl) = Openssl::new() else { return };
    let mario = ssl.mario_rossi(Key::Rsa);
    let envelope = open(ssl.sign(CONTENT, &[&mario], &[])).unwrap();
    assert_eq!(envelope.content(), Content::Detached);
    let signer = &envelope.report().signers[0];
    assert_eq!(signer.signature, SignatureStatus::Invalid);
    assert_eq!(signer.invalid_reason, Some(InvalidReason::ContentDetached));
    // Who signed is still read from the certificate.
    assert_eq!(signer.tax_code.as_deref(), Some(TAX_CODE));
}

#[test]
fn a_signature_whose_certificate_is_not_carried_is_invalid() {
    let Some(ssl) = Openssl::new() else { return };
    let mario = ssl.mario_rossi(Key::Rsa);
    let envelope = open(ssl.sign(CONTENT, &[&mario], &["-nodetach", "-nocerts"])).unwrap();
    let signer = &envelope.report().signers[0];
    assert_eq!(signer.name, None);
    assert_eq!(signer.tax_code, None);
    assert_eq!(signer.signature, SignatureStatus::Invalid);
    assert_eq!(
        signer.invalid_reason,
        Some(InvalidReason::CertificateMissing)
    );
}

#[test]
fn a_file_that_is_not_cms_is_an_error() {
    assert_eq!(
        open(b"%PDF-1.7\n%%EOF\n".to_vec()).unwrap_err(),
        EnvelopeError::NotCms
    );
    assert_eq!(open(b"".to_vec()).unwrap_err(), EnvelopeError::NotCms);
    assert_eq!(
        open(b"-----BEGIN PKCS7-----\n-----END PKCS7-----\n".to_vec()).unwrap_err(),
        EnvelopeError::NotCms
    );
    assert_eq!(
        open(b"  -----BEGIN PKCS7-----".to_vec()).unwrap_err(),
        EnvelopeError::NotCms
    );
    assert_eq!(
        open(b" \r\n\t".to_vec()).unwrap_err(),
        EnvelopeError::NotCms
    );
    // Base64 of something that is not DER.
    assert_eq!(
        open(b"aGVsbG8gd29ybGQ=".to_vec()).unwrap_err(),
        EnvelopeError::NotCms
    );
    // A SEQUENCE that is not SignedData, and one cut short.
    assert!(matches!(
        open(vec![0x30, 0x03, 0x02, 0x01, 0x00]).unwrap_err(),
        EnvelopeError::Malformed(_)
    ));
    assert!(matches!(
        open(vec![0x30, 0x82, 0x06, 0x1b, 0x06, 0x09, 0x2a, 0x86]).unwrap_err(),
        EnvelopeError::Malformed(_)
    ));
}

#[test]
fn a_truncated_envelope_is_an_error_not_a_panic() {
    let Some(ssl) = Openssl::new() else { return };
    let mario = ssl.mario_rossi(Key::P256);
    let der = ssl.sign(CONTENT, &[&mario], &["-nodetach"]);
    for len in (0..der.len()).step_by(37) {
        assert!(open(der[..len].to_vec()).is_err(), "cut at {len}");
    }
}

#[test]
fn the_report_serializes_as_the_metadata_carries_it() {
    let report = SignatureReport {
        signers: vec![Signer {
            name: Some("Mario Rossi".into()),
            tax_code: Some(TAX_CODE.into()),
            signing_time: Some("2026-12-05T10:15:00Z".parse().unwrap()),
            signature: SignatureStatus::Valid,
            invalid_reason: None,
            trust: Trust::NotChecked,
        }],
    };
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"signers": [{
            "name": "Mario Rossi",
            "tax_code": TAX_CODE,
            "signing_time": "2026-12-05T10:15:00.000000Z",
            "signature": "valid",
            "invalid_reason": null,
            "trust": "not_checked",
        }]})
    );
    assert_eq!(
        serde_json::from_value::<SignatureReport>(json).unwrap(),
        report
    );
}

#[test]
fn what_was_signed_besides_the_content_cannot_be_altered_either() {
    let Some(ssl) = Openssl::new() else { return };
    let mario = ssl.mario_rossi(Key::P256);
    let p7m = ssl.sign(CONTENT, &[&mario], &["-nodetach"]);

    // The signing time (a signed attribute): 20YY becomes 20YY-1, still a valid time.
    let signing_time_oid = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05,
    ];
    let at = p7m
        .windows(signing_time_oid.len())
        .position(|w| w == signing_time_oid)
        .expect("a signing time");
    // OID, then SET (2 bytes), UTCTime tag and length (2 bytes), then YYMMDDhhmmssZ.
    let year_digit = at + signing_time_oid.len() + 4 + 1;
    let mut backdated = p7m.clone();
    backdated[year_digit] -= 1;
    let report = open(backdated).unwrap().into_report();
    let signer = &report.signers[0];
    assert_eq!(signer.signature, SignatureStatus::Invalid);
    assert_eq!(
        signer.invalid_reason,
        Some(InvalidReason::SignatureMismatch)
    );
    let original = open(p7m.clone()).unwrap().into_report().signers[0].signing_time;
    assert_eq!(
        signer
            .signing_time
            .map(|t| original.unwrap() - t > Duration::days(360)),
        Some(true)
    );

    // The signature value itself: the envelope's last bytes.
    let mut forged = p7m.clone();
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    let signer = open(forged).unwrap().into_report().signers.remove(0);
    assert_eq!(
        signer.invalid_reason,
        Some(InvalidReason::SignatureMismatch)
    );
}

#[test]
fn the_content_must_be_of_the_type_that_was_signed() {
    let Some(ssl) = Openssl::new() else { return };
    let mario = ssl.mario_rossi(Key::Rsa);
    let mut p7m = ssl.sign(CONTENT, &[&mario], &["-nodetach"]);
    // id-data (1.2.840.113549.1.7.1): first as the envelope's content type, then inside the
    // signed attributes. The envelope's becomes 1.2.840.113549.1.7.5 (digested data).
    let id_data = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
    ];
    let at = p7m
        .windows(id_data.len())
        .position(|w| w == id_data)
        .expect("the content type");
    p7m[at + id_data.len() - 1] = 0x05;
    let signer = open(p7m.clone()).unwrap().into_report().signers.remove(0);
    assert_eq!(signer.signature, SignatureStatus::Invalid);
    assert_eq!(
        signer.invalid_reason,
        Some(InvalidReason::ContentTypeMismatch)
    );
}

#[test]
fn a_ber_envelope_streamed_in_pieces_is_read() {
    let Some(ssl) = Openssl::new() else { return };
    let mario = ssl.mario_rossi(Key::P256);
    // Indefinite lengths, the content as a constructed OCTET STRING.
    let ber = ssl.sign(CONTENT, &[&mario], &["-nodetach", "-stream", "-cades"]);
    assert_eq!(&ber[..2], &[0x30, 0x80]);
    let envelope = open(ber).unwrap();
    assert_mario_rossi_signed(&envelope.report().signers[0]);
    assert_eq!(envelope.content(), Content::Attached(CONTENT));
}

#[test]
fn no_single_altered_byte_passes_off_other_content_or_time_as_signed() {
    let Some(ssl) = Openssl::new() else { return };
    let mario = ssl.mario_rossi(Key::P256);
    // Without and with the CAdES attribute that binds the certificate to the signature.
    for cades in [false, true] {
        let extra: &[&str] = if cades {
            &["-nodetach", "-cades"]
        } else {
            &["-nodetach"]
        };
        let p7m = ssl.sign(CONTENT, &[&mario], extra);
        let original = open(p7m.clone()).unwrap().into_report().signers.remove(0);
        assert_eq!(original.signature, SignatureStatus::Valid);
        let (mut unreadable, mut invalid, mut other_signer) = (0, 0, 0);
        for at in 0..p7m.len() {
            let mut altered = p7m.clone();
            altered[at] ^= 0x04;
            // Never a panic: an error, or a report.
            let Ok(envelope) = open(altered) else {
                unreadable += 1;
                continue;
            };
            for signer in &envelope.report().signers {
                if signer.signature == SignatureStatus::Valid {
                    assert_eq!(envelope.content(), Content::Attached(CONTENT), "byte {at}");
                    assert_eq!(signer.signing_time, original.signing_time, "byte {at}");
                    if (&signer.name, &signer.tax_code) != (&original.name, &original.tax_code) {
                        other_signer += 1;
                    }
                } else {
                    invalid += 1;
                }
            }
        }
        assert!(unreadable > 0 && invalid > 0, "{unreadable} {invalid}");
        if cades {
            // The certificate's hash is signed: who signed cannot be altered either.
            assert_eq!(other_signer, 0);
        } else {
            // The certificate is not what is signed: a byte of its subject (the name, the tax
            // code) may change and the signature still verify with the same key.
            assert!(other_signer > 0);
        }
    }
}

#[test]
fn a_cades_signature_binds_its_certificate() {
    let Some(ssl) = Openssl::new() else { return };
    let mario = ssl.mario_rossi(Key::Rsa);
    let p7m = ssl.sign(CONTENT, &[&mario], &["-nodetach", "-cades"]);
    let envelope = open(p7m.clone()).unwrap();
    assert_mario_rossi_signed(&envelope.report().signers[0]);

    // The tax code in the certificate's subject (self-signed: the issuer's comes first)
    // replaced by another person's, the key unchanged.
    let code = TAX_CODE.as_bytes();
    let subject = p7m
        .windows(code.len())
        .enumerate()
        .filter(|(_, w)| *w == code)
        .map(|(at, _)| at)
        .nth(1)
        .expect("the subject's tax code");
    let mut swapped = p7m.clone();
    swapped[subject..subject + code.len()].copy_from_slice(b"BNCNNA80A41F205X");
    let signer = open(swapped).unwrap().into_report().signers.remove(0);
    assert_eq!(signer.tax_code.as_deref(), Some("BNCNNA80A41F205X"));
    assert_eq!(signer.signature, SignatureStatus::Invalid);
    assert_eq!(
        signer.invalid_reason,
        Some(InvalidReason::CertificateNotBound)
    );
}

#[test]
fn masking_hides_the_middle_of_each_signer_tax_code() {
    let signer = |tax_code: Option<&str>| Signer {
        name: Some("Mario Rossi".into()),
        tax_code: tax_code.map(str::to_owned),
        signing_time: None,
        signature: SignatureStatus::Valid,
        invalid_reason: None,
        trust: Trust::NotChecked,
    };
    let mut report = SignatureReport {
        signers: vec![
            signer(Some(TAX_CODE)),
            signer(Some("NOT-A-CODE")),
            signer(None),
        ],
    };
    report.mask_tax_codes();
    let codes: Vec<Option<&str>> = report
        .signers
        .iter()
        .map(|s| s.tax_code.as_deref())
        .collect();
    assert_eq!(
        codes,
        vec![Some("RSS************X"), Some("NOT*******"), None]
    );
}
