//! Organizations of the shared registry: what they are, where they sit, how large they are.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::call::OrganizationCategory;
use super::error_code::ErrorCode;
use super::identifiers::{ProvinceCode, TaxCode, VatNumber};
use super::money::Money;
use super::size::{EnterpriseFigures, SizeClass, size_class};
use super::violation::{Violation, Violations};

/// What kind of body an organization is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "enterprise")]
pub enum Category {
    PublicBody,
    PrivateNonProfit,
    EmployersAssociation,
    Enterprise,
}

impl Category {
    pub fn as_str(&self) -> &'static str {
        match self {
            Category::PublicBody => "public_body",
            Category::PrivateNonProfit => "private_non_profit",
            Category::EmployersAssociation => "employers_association",
            Category::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        [
            Category::PublicBody,
            Category::PrivateNonProfit,
            Category::EmployersAssociation,
            Category::Enterprise,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// The precise kind of body, within its category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "municipality")]
pub enum Subtype {
    // public bodies
    Municipality,
    UnionOfMunicipalities,
    MountainCommunity,
    SpecialAgency,
    SocialPlanDistrict,
    /// An ATS: it manages the call and can never be a partner (refused).
    HealthProtectionAgency,
    // private non-profit
    RuntsEntity,
    Association,
    Foundation,
    SocialCooperative,
    // employers' associations
    EmployersAssociation,
    // enterprises
    Company,
    Cooperative,
    SoleTrader,
}

impl Subtype {
    pub const ALL: [Subtype; 14] = [
        Subtype::Municipality,
        Subtype::UnionOfMunicipalities,
        Subtype::MountainCommunity,
        Subtype::SpecialAgency,
        Subtype::SocialPlanDistrict,
        Subtype::HealthProtectionAgency,
        Subtype::RuntsEntity,
        Subtype::Association,
        Subtype::Foundation,
        Subtype::SocialCooperative,
        Subtype::EmployersAssociation,
        Subtype::Company,
        Subtype::Cooperative,
        Subtype::SoleTrader,
    ];

    pub fn category(&self) -> Category {
        match self {
            Subtype::Municipality
            | Subtype::UnionOfMunicipalities
            | Subtype::MountainCommunity
            | Subtype::SpecialAgency
            | Subtype::SocialPlanDistrict
            | Subtype::HealthProtectionAgency => Category::PublicBody,
            Subtype::RuntsEntity
            | Subtype::Association
            | Subtype::Foundation
            | Subtype::SocialCooperative => Category::PrivateNonProfit,
            Subtype::EmployersAssociation => Category::EmployersAssociation,
            Subtype::Company | Subtype::Cooperative | Subtype::SoleTrader => Category::Enterprise,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Subtype::Municipality => "municipality",
            Subtype::UnionOfMunicipalities => "union_of_municipalities",
            Subtype::MountainCommunity => "mountain_community",
            Subtype::SpecialAgency => "special_agency",
            Subtype::SocialPlanDistrict => "social_plan_district",
            Subtype::HealthProtectionAgency => "health_protection_agency",
            Subtype::RuntsEntity => "runts_entity",
            Subtype::Association => "association",
            Subtype::Foundation => "foundation",
            Subtype::SocialCooperative => "social_cooperative",
            Subtype::EmployersAssociation => "employers_association",
            Subtype::Company => "company",
            Subtype::Cooperative => "cooperative",
            Subtype::SoleTrader => "sole_trader",
        }
    }

    pub fn parse(s: &str) -> Option<Subtype> {
        Subtype::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A registered or operating office.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "registered")]
pub enum SeatKind {
    /// The registered office (sede legale); exactly one.
    Registered,
    /// An operating office (sede operativa); any number.
    Operating,
}

/// An office of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seat {
    pub kind: SeatKind,
    pub address: String,
    pub municipality: String,
    pub province: ProvinceCode,
}

/// An organization's facts as the rules read them.
#[derive(Debug, Clone, PartialEq)]
pub struct OrganizationFacts {
    pub tax_code: TaxCode,
    pub vat_number: Option<VatNumber>,
    pub legal_name: String,
    pub subtype: Subtype,
    pub chamber_registration: Option<String>,
    pub seats: Vec<Seat>,
    pub figures: Option<EnterpriseFigures>,
    pub reference_year: Option<i32>,
    /// Who signs for it; `None` until its representatives name them.
    pub legal_representative: Option<LegalRepresentative>,
}

/// The person who legally represents an organization (legale rappresentante): whose
/// signature a call may require on the annexes that concern it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalRepresentative {
    pub full_name: String,
    /// A person's (16-character) tax code.
    pub tax_code: TaxCode,
}

/// A legal representative as declared.
#[derive(Debug, Clone, Default)]
pub struct LegalRepresentativeDraft {
    pub full_name: String,
    pub tax_code: String,
}

/// A declared legal representative, every violation under `field`: a name of 1 to 200
/// characters and a person's tax code with the right check character.
pub fn check_legal_representative(
    field: &str,
    d: &LegalRepresentativeDraft,
) -> Result<LegalRepresentative, Vec<Violation>> {
    let mut v = Violations::new();
    let full_name = d.full_name.trim();
    if full_name.is_empty() || full_name.chars().count() > 200 {
        v.add(
            format!("{field}.full_name"),
            ErrorCode::InvalidText.with(&[
                ("subject_en", &"The name"),
                ("subject_it", &"Il nome"),
                ("max", &200),
            ]),
        );
    }
    let tax_code = match TaxCode::parse(&d.tax_code) {
        Ok(code) if code.is_personal() => Some(code),
        Ok(_) => {
            v.add(
                format!("{field}.tax_code"),
                ErrorCode::TaxCodeFormat.worded(
                    "A person's tax code is 16 letters and digits, such as \"RSSMRA85T10A562S\".",
                    "Il codice fiscale di una persona è composto da 16 lettere e cifre, ad esempio \"RSSMRA85T10A562S\".",
                ),
            );
            None
        }
        Err(e) => {
            v.push(e.violation(&format!("{field}.tax_code")));
            None
        }
    };
    match tax_code {
        Some(tax_code) if v.is_empty() => Ok(LegalRepresentative {
            full_name: full_name.to_owned(),
            tax_code,
        }),
        _ => Err(v.into_vec()),
    }
}

impl OrganizationFacts {
    pub fn category(&self) -> Category {
        self.subtype.category()
    }

    /// The size class of an enterprise, computed from its figures; `None` for other bodies.
    pub fn size_class(&self) -> Option<SizeClass> {
        self.figures.as_ref().and_then(|f| size_class(f).ok())
    }

    pub fn registered_office(&self) -> Option<&Seat> {
        self.seats.iter().find(|s| s.kind == SeatKind::Registered)
    }

    pub fn registered_office_lombard(&self) -> bool {
        self.registered_office()
            .is_some_and(|s| s.province.is_lombard())
    }

    pub fn operating_office_lombard(&self) -> bool {
        self.seats
            .iter()
            .any(|s| s.kind == SeatKind::Operating && s.province.is_lombard())
    }

    /// The category a call's rules speak of; `None` for a medium or large enterprise, which no
    /// call admits.
    pub fn call_category(&self) -> Option<OrganizationCategory> {
        match self.category() {
            Category::PublicBody => Some(OrganizationCategory::PublicBody),
            Category::PrivateNonProfit => Some(OrganizationCategory::PrivateNonProfit),
            Category::EmployersAssociation => Some(OrganizationCategory::EmployersAssociation),
            Category::Enterprise => self
                .size_class()
                .filter(SizeClass::is_micro_or_small)
                .map(|_| OrganizationCategory::MicroSmallEnterprise),
        }
    }
}

/// An organization as an applicant declares it, before any check.
#[derive(Debug, Clone, Default)]
pub struct OrganizationDraft {
    pub tax_code: String,
    pub vat_number: Option<String>,
    pub legal_name: String,
    pub category: Option<Category>,
    pub subtype: Option<Subtype>,
    pub chamber_registration: Option<String>,
    pub seats: Vec<SeatDraft>,
    pub staff: Option<Decimal>,
    pub turnover: Option<Money>,
    pub balance_sheet_total: Option<Money>,
    pub reference_year: Option<i32>,
    pub legal_representative: Option<LegalRepresentativeDraft>,
}

/// An office as declared.
#[derive(Debug, Clone, Default)]
pub struct SeatDraft {
    pub kind: Option<SeatKind>,
    pub address: String,
    pub municipality: String,
    pub province: String,
}

fn looks_like_an_ats(name: &str) -> bool {
    let lower = name.to_lowercase();
    lower.starts_with("ats ") || lower.contains("agenzia di tutela della salute") || lower == "ats"
}

/// A chamber-of-commerce (REA) registration: province code, dash, 1 to 7 digits, e.g. `SO-123456`.
fn valid_rea(rea: &str) -> bool {
    match rea.split_once('-') {
        Some((prov, num)) => {
            ProvinceCode::parse(prov).is_ok()
                && (1..=7).contains(&num.len())
                && num.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// Check a declared organization against every rule of the registry, all at once, and turn
/// it into facts the rules can trust.
pub fn check_organization(
    d: &OrganizationDraft,
    current_year: i32,
) -> Result<OrganizationFacts, Vec<Violation>> {
    let mut v = Violations::new();
    let tax_code = TaxCode::parse(&d.tax_code)
        .map_err(|e| v.push(e.violation("tax_code")))
        .ok();
    let legal_representative = match &d.legal_representative {
        Some(r) => check_legal_representative("legal_representative", r)
            .map_err(|e| v.extend(e))
            .ok(),
        None => None,
    };
    let vat_number = match &d.vat_number {
        Some(s) => VatNumber::parse(s)
            .map_err(|e| v.push(e.violation("vat_number")))
            .ok(),
        None => None,
    };
    let name = d.legal_name.trim();
    if name.is_empty() || name.chars().count() > 300 {
        v.add(
            "legal_name",
            ErrorCode::InvalidText.with(&[
                ("subject_en", &"The legal name"),
                ("subject_it", &"La denominazione"),
                ("max", &300),
            ]),
        );
    }
    let subtype = match (d.category, d.subtype) {
        (Some(c), Some(t)) if t.category() != c => {
            v.add(
                "subtype",
                ErrorCode::SubtypeCategoryMismatch
                    .with(&[("subtype", &t.as_str()), ("category", &c.as_str())]),
            );
            None
        }
        (_, Some(t)) => Some(t),
        (_, None) => {
            v.add(
                "subtype",
                ErrorCode::MissingField.worded(
                    "The kind of body is required.",
                    "Il tipo di ente è obbligatorio.",
                ),
            );
            None
        }
    };
    if subtype == Some(Subtype::HealthProtectionAgency) || looks_like_an_ats(name) {
        v.add("subtype", ErrorCode::AtsNotAllowed);
    }

    let mut seats = Vec::new();
    for (i, s) in d.seats.iter().enumerate() {
        let field = format!("seats[{i}]");
        let province = ProvinceCode::parse(&s.province)
            .map_err(|e| v.push(e.violation(&format!("{field}.province"))))
            .ok();
        for (name, value, max) in [
            ("address", &s.address, 300),
            ("municipality", &s.municipality, 100),
        ] {
            if value.trim().is_empty() || value.chars().count() > max {
                v.add(
                    format!("{field}.{name}"),
                    ErrorCode::InvalidText.with(&[
                        ("subject_en", &"This text"),
                        ("subject_it", &"Il testo"),
                        ("max", &max),
                    ]),
                );
            }
        }
        if let (Some(kind), Some(province)) = (s.kind, province) {
            seats.push(Seat {
                kind,
                address: s.address.trim().to_owned(),
                municipality: s.municipality.trim().to_owned(),
                province,
            });
        }
    }
    let registered = d
        .seats
        .iter()
        .filter(|s| s.kind == Some(SeatKind::Registered))
        .count();
    if registered != 1 {
        v.add(
            "seats",
            ErrorCode::OneRegisteredOffice.with(&[("registered", &registered)]),
        );
    }

    let enterprise = subtype.is_some_and(|t| t.category() == Category::Enterprise);
    let mut figures = None;
    if enterprise {
        match d.chamber_registration.as_deref().map(str::trim) {
            Some(rea) if valid_rea(rea) => {}
            Some(_) => v.add(
                "chamber_registration",
                ErrorCode::InvalidChamberRegistration,
            ),
            None => v.add(
                "chamber_registration",
                ErrorCode::MissingField.worded(
                    "An enterprise must give its chamber-of-commerce (REA) registration.",
                    "Un'impresa deve indicare l'iscrizione alla Camera di Commercio (REA).",
                ),
            ),
        }
        if vat_number.is_none() && d.vat_number.is_none() {
            v.add(
                "vat_number",
                ErrorCode::MissingField.worded(
                    "An enterprise must give its VAT number.",
                    "Un'impresa deve indicare la partita IVA.",
                ),
            );
        }
        match d.reference_year {
            Some(y) if (1900..=current_year).contains(&y) => {}
            Some(_) => v.add(
                "reference_year",
                ErrorCode::OutOfRange.worded(
                    format!(
                        "The reference year of the figures is between 1900 and {current_year}."
                    ),
                    format!("L'anno di riferimento dei dati è compreso tra 1900 e {current_year}."),
                ),
            ),
            None => v.add(
                "reference_year",
                ErrorCode::MissingField.worded(
                    "An enterprise must give the year its figures refer to.",
                    "Un'impresa deve indicare l'anno a cui si riferiscono i dati.",
                ),
            ),
        }
        match d.staff {
            None => v.add(
                "staff",
                ErrorCode::MissingField.worded(
                    "An enterprise must give its staff in annual work units.",
                    "Un'impresa deve indicare il personale in unità lavorative annue.",
                ),
            ),
            Some(staff) => {
                let f = EnterpriseFigures {
                    staff,
                    turnover: d.turnover,
                    balance_sheet_total: d.balance_sheet_total,
                };
                match size_class(&f) {
                    Ok(_) => figures = Some(f),
                    Err(e) => v.push(e.violation(if e.code() == "size_undeterminable" {
                        "turnover"
                    } else {
                        "staff"
                    })),
                }
            }
        }
    } else if subtype.is_some() {
        for (field, present) in [
            ("staff", d.staff.is_some()),
            ("turnover", d.turnover.is_some()),
            ("balance_sheet_total", d.balance_sheet_total.is_some()),
            ("chamber_registration", d.chamber_registration.is_some()),
        ] {
            if present {
                v.add(field, ErrorCode::EnterprisesOnly);
            }
        }
    }
    match (tax_code, subtype) {
        (Some(tax_code), Some(subtype)) if v.is_empty() => Ok(OrganizationFacts {
            tax_code,
            vat_number,
            legal_name: name.to_owned(),
            subtype,
            chamber_registration: d.chamber_registration.as_ref().map(|s| s.trim().to_owned()),
            seats,
            figures: if enterprise { figures } else { None },
            reference_year: if enterprise { d.reference_year } else { None },
            legal_representative,
        }),
        _ => Err(v.into_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn representative(full_name: &str, tax_code: &str) -> Result<LegalRepresentative, Vec<String>> {
        check_legal_representative(
            "legal_representative",
            &LegalRepresentativeDraft {
                full_name: full_name.into(),
                tax_code: tax_code.into(),
            },
        )
        .map_err(|v| {
            v.into_iter()
                .map(|v| format!("{} {}", v.field, v.code.as_str()))
                .collect()
        })
    }

    #[test]
    fn a_legal_representative_is_a_named_person_with_a_valid_tax_code() {
        let rep = representative(" Laura Bianchi ", "bnclra70a41i829f").unwrap();
        assert_eq!(rep.full_name, "Laura Bianchi");
        assert_eq!(rep.tax_code.as_str(), "BNCLRA70A41I829F");
    }

    #[test]
    fn every_fault_of_a_legal_representative_is_reported() {
        assert_eq!(
            representative("", "BNCLRA70A41I829A").unwrap_err(),
            vec![
                "legal_representative.full_name invalid_text",
                "legal_representative.tax_code tax_code_check",
            ]
        );
        // An organization's 11-digit code is no person's.
        assert_eq!(
            representative("Laura Bianchi", "00095450144").unwrap_err(),
            vec!["legal_representative.tax_code tax_code_format"]
        );
        assert_eq!(
            representative(&"x".repeat(201), "BNCLRA70A41I829F").unwrap_err(),
            vec!["legal_representative.full_name invalid_text"]
        );
    }
}
