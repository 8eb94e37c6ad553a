//! What a file is, read from its first bytes: never from its name or the client's header.
//! The service keeps PDFs (signed ones too: PAdES is a PDF), CAdES envelopes (`.p7m`, DER or
//! base64) and PNG and JPEG images; anything else is refused.

use base64::Engine;

/// How many first bytes `sniff` needs at most.
pub const SNIFF_LEN: usize = 1024;

/// The media types the service keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    Pdf,
    /// A CAdES (CMS SignedData) envelope, `.p7m`.
    Cades,
    Png,
    Jpeg,
}

impl MediaType {
    pub const ALL: [MediaType; 4] = [
        MediaType::Pdf,
        MediaType::Cades,
        MediaType::Png,
        MediaType::Jpeg,
    ];

    /// Its `Content-Type`.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Pdf => "application/pdf",
            MediaType::Cades => "application/pkcs7-mime",
            MediaType::Png => "image/png",
            MediaType::Jpeg => "image/jpeg",
        }
    }

    pub fn parse(s: &str) -> Option<MediaType> {
        MediaType::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The file-name extensions that say this type (lower case, without the dot).
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            MediaType::Pdf => &["pdf"],
            MediaType::Cades => &["p7m"],
            MediaType::Png => &["png"],
            MediaType::Jpeg => &["jpg", "jpeg"],
        }
    }
}

/// The DER encoding of the object identifier of CMS SignedData (1.2.840.113549.1.7.2), with
/// its tag and length.
const SIGNED_DATA_OID: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
];

/// The media type of a file from its first bytes (at least the first `SNIFF_LEN`, or the
/// whole file when it is shorter); `None` when it is none the service keeps.
pub fn sniff(head: &[u8]) -> Option<MediaType> {
    let head = &head[..head.len().min(SNIFF_LEN)];
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(MediaType::Png);
    }
    if head.starts_with(&[0xff, 0xd8, 0xff]) {
        return Some(MediaType::Jpeg);
    }
    // A PDF starts with its header; some writers put white space (or a byte-order mark)
    // before it.
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    if text[start..].starts_with(b"%PDF-") {
        return Some(MediaType::Pdf);
    }
    if is_signed_data(head) || base64_signed_data(head) {
        return Some(MediaType::Cades);
    }
    None
}

/// A DER or BER `ContentInfo` whose content type is SignedData: a SEQUENCE (of any length
/// form), then that object identifier.
fn is_signed_data(der: &[u8]) -> bool {
    let Some((&0x30, rest)) = der.split_first() else {
        return false;
    };
    let Some((&len, rest)) = rest.split_first() else {
        return false;
    };
    let rest = match len {
        // Short form, or BER's indefinite length.
        0x00..=0x80 => rest,
        0x81..=0x84 => match rest.get(usize::from(len - 0x80)..) {
            Some(r) => r,
            None => return false,
        },
        _ => return false,
    };
    rest.starts_with(&SIGNED_DATA_OID)
}

/// A base64 `.p7m` (with or without PEM armour): its first decoded bytes are SignedData.
fn base64_signed_data(head: &[u8]) -> bool {
    let Ok(text) =
        std::str::from_utf8(head).or_else(|e| std::str::from_utf8(&head[..e.valid_up_to()]))
    else {
        return false;
    };
    let text = text.trim_start();
    let body = match text.strip_prefix("-----BEGIN ") {
        Some(armoured) => match armoured.split_once('\n') {
            Some((label, body)) if label.trim_end().ends_with("-----") => body,
            _ => return false,
        },
        None => text,
    };
    let chars: String = body
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/' || *c == '=')
        .take(64)
        .collect();
    // Whole groups of four only: the start of the text is enough.
    let whole = &chars[..chars.len() - chars.len() % 4];
    if whole.len() < 16 {
        return false;
    }
    base64::engine::general_purpose::STANDARD
        .decode(whole)
        .is_ok_and(|der| is_signed_data(&der))
}

/// Whether a file name says another type than its bytes: its extension is a known one of
/// another type (`offer.png` holding a PDF). A name without an extension, or with one the
/// service does not know, says nothing. A `.p7m` is named for its envelope (`accordo.pdf.p7m`).
pub fn name_contradicts(file_name: &str, media: MediaType) -> bool {
    let Some((_, ext)) = file_name.rsplit_once('.') else {
        return false;
    };
    let ext = ext.to_ascii_lowercase();
    let known = MediaType::ALL
        .iter()
        .any(|m| m.extensions().contains(&ext.as_str()));
    known && !media.extensions().contains(&ext.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start of a CMS SignedData envelope as the openssl CLI writes it (DER).
    const P7M_DER: &[u8] = &[
        0x30, 0x82, 0x06, 0x1b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
        0xa0, 0x82, 0x06, 0x0c,
    ];

    #[test]
    fn each_kept_type_is_read_from_its_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n%\xe2\xe3"), Some(MediaType::Pdf));
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(MediaType::Png)
        );
        assert_eq!(
            sniff(&[0xff, 0xd8, 0xff, 0xe0, 0, 0x10]),
            Some(MediaType::Jpeg)
        );
        assert_eq!(sniff(P7M_DER), Some(MediaType::Cades));
        // BER, indefinite length.
        let mut ber = vec![0x30, 0x80];
        ber.extend_from_slice(&SIGNED_DATA_OID);
        assert_eq!(sniff(&ber), Some(MediaType::Cades));
    }

    #[test]
    fn a_pdf_header_may_follow_white_space_only() {
        assert_eq!(sniff(b"\r\n  %PDF-1.4"), Some(MediaType::Pdf));
        assert_eq!(sniff(b"\xef\xbb\xbf%PDF-1.4"), Some(MediaType::Pdf));
        assert_eq!(sniff(b"<html><body>%PDF-</body>"), None);
    }

    #[test]
    fn a_base64_p7m_is_a_cades_envelope_with_or_without_armour() {
        let b64 =
            base64::engine::general_purpose::STANDARD.encode([P7M_DER, &[0u8; 40][..]].concat());
        assert_eq!(sniff(b64.as_bytes()), Some(MediaType::Cades));
        let pem = format!(
            "-----BEGIN PKCS7-----\n{}\n{}\n-----END PKCS7-----\n",
            &b64[..32],
            &b64[32..]
        );
        assert_eq!(sniff(pem.as_bytes()), Some(MediaType::Cades));
        // Base64 of something else is not.
        let other =
            base64::engine::general_purpose::STANDARD.encode(b"just some text, long enough");
        assert_eq!(sniff(other.as_bytes()), None);
    }

    #[test]
    fn anything_else_is_refused() {
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"PK\x03\x04 a zip or a docx"), None);
        assert_eq!(sniff(b"GIF89a"), None);
        // A SEQUENCE that is not SignedData (e.g. a certificate).
        assert_eq!(sniff(&[0x30, 0x82, 0x01, 0x0a, 0x30, 0x82]), None);
    }

    #[test]
    fn a_name_may_not_say_another_known_type() {
        assert!(!name_contradicts("accordo.pdf", MediaType::Pdf));
        assert!(!name_contradicts("ACCORDO.PDF", MediaType::Pdf));
        assert!(!name_contradicts("accordo.pdf.p7m", MediaType::Cades));
        assert!(!name_contradicts("foto.jpeg", MediaType::Jpeg));
        assert!(!name_contradicts("accordo", MediaType::Pdf));
        assert!(!name_contradicts("accordo.v2", MediaType::Pdf));
        assert!(name_contradicts("accordo.png", MediaType::Pdf));
        assert!(name_contradicts("accordo.pdf", MediaType::Cades));
        assert!(name_contradicts("foto.jpg", MediaType::Png));
    }
}
