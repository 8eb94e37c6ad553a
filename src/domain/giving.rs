//! Identifiers of the 360Giving data standard, in which the public results are also published.
//!
//! 360Giving wants every grant and every organization named by a globally unique identifier:
//! - an organization with a tax code (codice fiscale) that may be published: `IT-CF-` and the
//!   tax code, from the org-id.guide list, so that its grants link up across publishers;
//! - whatever has no such code here is named under the publisher's own 360Giving prefix
//!   (`360G-<prefix>-...`, the prefix a setting): the grants themselves
//!   (`360G-<prefix>-<protocol number>`), the Region that publishes them
//!   (`360G-<prefix>-REGIONE-LOMBARDIA`), the agencies (`360G-<prefix>-ATS-<agency code>`),
//!   and a recipient whose tax code is a natural person's (a sole trader, a professional):
//!   `360G-<prefix>-RECIPIENT-<protocol number>`, one per grant, so that neither the
//!   person's tax code nor the set of grants of one person can be read from the data.

use super::agency::AgencyCode;

/// The Region, the publisher of the results.
pub const REGION_NAME: &str = "Regione Lombardia";

/// The identifiers of one publisher, under its 360Giving prefix (checked by [`check_prefix`]).
#[derive(Debug, Clone, Copy)]
pub struct GivingIds<'a> {
    prefix: &'a str,
}

impl<'a> GivingIds<'a> {
    pub fn new(prefix: &'a str) -> GivingIds<'a> {
        GivingIds { prefix }
    }

    /// A grant: the funded application, by its protocol number.
    pub fn grant(&self, protocol_number: &str) -> String {
        format!("360G-{}-{protocol_number}", self.prefix)
    }

    /// The Region.
    pub fn region(&self) -> String {
        format!("360G-{}-REGIONE-LOMBARDIA", self.prefix)
    }

    /// An agency (the agencies have no tax code in this service).
    pub fn agency(&self, agency: AgencyCode) -> String {
        format!("360G-{}-ATS-{}", self.prefix, agency.as_str())
    }

    /// The recipient of a grant: `IT-CF-` and its tax code when that may be published,
    /// otherwise (a natural person) an identifier of this grant's recipient alone.
    pub fn recipient(&self, public_tax_code: Option<&str>, protocol_number: &str) -> String {
        match public_tax_code {
            Some(tax_code) => format!("IT-CF-{tax_code}"),
            None => format!("360G-{}-RECIPIENT-{protocol_number}", self.prefix),
        }
    }
}

/// A 360Giving prefix as the setting gives it, without `360G-`: letters, digits and inner
/// hyphens, at most 40 characters (e.g. `regione-lombardia`).
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    let well_formed = !prefix.is_empty()
        && prefix.len() <= 40
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !prefix.starts_with('-')
        && !prefix.ends_with('-')
        && !prefix.contains("--");
    if !well_formed {
        return Err(format!(
            "open_data.giving_prefix is the 360Giving prefix without `360G-`: 1 to 40 letters, \
             digits and single inner hyphens (got {prefix:?})"
        ));
    }
    if prefix.to_ascii_lowercase().starts_with("360g") {
        return Err(format!(
            "open_data.giving_prefix is written without `360G-` (got {prefix:?})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_without_a_public_tax_code_is_named_under_the_prefix() {
        let ids = GivingIds::new("regione-lombardia");
        let protocol = "RLD-DEMO-CONCILIAZIONE-000001";
        assert_eq!(
            ids.grant(protocol),
            "360G-regione-lombardia-RLD-DEMO-CONCILIAZIONE-000001"
        );
        assert_eq!(ids.region(), "360G-regione-lombardia-REGIONE-LOMBARDIA");
        assert_eq!(
            ids.agency(AgencyCode::ValPadana),
            "360G-regione-lombardia-ATS-VAL_PADANA"
        );
        assert_eq!(
            ids.recipient(Some("00000010143"), protocol),
            "IT-CF-00000010143"
        );
        assert_eq!(
            ids.recipient(None, protocol),
            "360G-regione-lombardia-RECIPIENT-RLD-DEMO-CONCILIAZIONE-000001"
        );
    }

    #[test]
    fn a_prefix_is_letters_digits_and_inner_hyphens_without_360g() {
        for good in ["regione-lombardia", "rl", "RL2027"] {
            assert!(check_prefix(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-rl",
            "rl-",
            "r--l",
            "regione lombardia",
            "360G-rl",
            "360g-rl",
            "città",
            &"x".repeat(41),
        ] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
