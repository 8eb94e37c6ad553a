//! The 2022 call as a preset: its confirmed rules and the illustrative defaults of the
//! configurable ones, which seeds, tests and the OpenAPI examples start from.

use super::{
    AllocationMode, AnnexScope, CallRules, Criterion, DEFAULT_ANNEX_MAX_SIZE, DeadlineRules,
    ExpenseCategory, InterventionArea, OrganizationCategory, PartialFunding, PartnershipRules,
    RankingRules, RequiredAnnex, ScoringRules, TieBreak,
};
use crate::domain::award::PostAwardRules;
use crate::domain::money::Money;
use crate::domain::percent::Percent;
use crate::domain::points::Points;

impl CallRules {
    /// The rules of the 2022 call: confirmed values from the notice, and the illustrative
    /// defaults of the configurable ones.
    pub fn lombardy_2022() -> CallRules {
        let pct = |s: &str| Percent::parse(s).expect("valid percent");
        let pts = |s: &str| Points::parse(s).expect("valid points");
        let area = |code: &str, it: &str, en: &str| InterventionArea {
            code: code.into(),
            name_it: it.into(),
            name_en: en.into(),
        };
        let expense = |code: &str, it: &str, en: &str, cap: Option<&str>| ExpenseCategory {
            code: code.into(),
            name_it: it.into(),
            name_en: en.into(),
            cap_percent: cap.map(pct),
        };
        let criterion = |code: &str, it: &str, en: &str, max: &str| Criterion {
            code: code.into(),
            name_it: it.into(),
            name_en: en.into(),
            min: Points::ZERO,
            max: pts(max),
        };
        CallRules {
            grant_rate: pct("70.00"),
            grant_cap: Money::parse("50000.00").expect("valid money"),
            project_duration_months: 12,
            partnership: PartnershipRules {
                min_members: 4,
                adhering_partners_count: true,
                min_public_bodies: 1,
                min_micro_small_enterprises: 2,
                allowed_categories: vec![
                    OrganizationCategory::PublicBody,
                    OrganizationCategory::PrivateNonProfit,
                    OrganizationCategory::EmployersAssociation,
                    OrganizationCategory::MicroSmallEnterprise,
                ],
                max_partnerships_per_organization: None,
                max_leads_per_organization: None,
            },
            intervention_areas: vec![
                area(
                    "RETE_IMPRESE",
                    "Attivazione di una rete di imprese per lo sviluppo del welfare di conciliazione",
                    "Network of enterprises for work-life welfare",
                ),
                area(
                    "SERVIZI_CURA",
                    "Accesso ai servizi di conciliazione per le responsabilità di cura e assistenza",
                    "Access to care and assistance services",
                ),
                area("TIME_SAVING", "Time saving", "Time saving"),
                area(
                    "INTERGENERAZIONALE",
                    "Conciliazione vita-lavoro in ambito intergenerazionale",
                    "Intergenerational work-life balance",
                ),
                area("MOBILITA", "Mobilità casa-lavoro", "Home-work mobility"),
                area(
                    "SUPPORTO_DIPENDENTI",
                    "Area di supporto ai dipendenti",
                    "Employee support",
                ),
                area(
                    "FLESSIBILITA_COWORKING",
                    "Interventi di flessibilità aziendale e forme di coworking",
                    "Organisational flexibility and coworking",
                ),
            ],
            expense_categories: vec![
                expense(
                    "PARTNER_STAFF",
                    "Personale dei partner",
                    "Staff of the partners",
                    Some("40.00"),
                ),
                expense(
                    "EMPLOYEE_SERVICES",
                    "Servizi per i dipendenti",
                    "Services for employees",
                    None,
                ),
                expense(
                    "COORDINATION",
                    "Coordinamento e gestione",
                    "Coordination and management",
                    Some("15.00"),
                ),
                expense(
                    "COMMUNICATION",
                    "Comunicazione",
                    "Communication",
                    Some("5.00"),
                ),
                expense(
                    "SMALL_EQUIPMENT",
                    "Piccole attrezzature",
                    "Small equipment",
                    Some("10.00"),
                ),
            ],
            scoring: ScoringRules {
                criteria: vec![
                    criterion(
                        "QUALITY",
                        "Qualità e coerenza della proposta",
                        "Quality and coherence",
                        "25",
                    ),
                    criterion(
                        "PARTNERSHIP",
                        "Composizione e ruoli del partenariato",
                        "Partnership composition and roles",
                        "20",
                    ),
                    criterion(
                        "REACH",
                        "Dipendenti e famiglie raggiunti",
                        "Employees and families reached",
                        "15",
                    ),
                    criterion("INNOVATION", "Innovatività", "Innovation", "10"),
                    criterion(
                        "SUSTAINABILITY",
                        "Sostenibilità oltre l'anno finanziato",
                        "Sustainability after the funded year",
                        "10",
                    ),
                    criterion("BUDGET", "Congruità del budget", "Budget congruity", "10"),
                    criterion(
                        "COMPLEMENTARITY",
                        "Complementarietà con altri interventi sul territorio (Piani Territoriali di Conciliazione, reti WHP)",
                        "Complementarity with territorial work-life balance plans and WHP networks",
                        "10",
                    ),
                ],
                threshold: pts("60"),
                evaluators_required: 2,
                evaluator_gap_flag: pts("15"),
            },
            ranking: RankingRules {
                tie_breaks: vec![
                    TieBreak::HigherCriterionScore {
                        criterion: "QUALITY".into(),
                    },
                    TieBreak::EarlierSubmission,
                ],
                allocation_mode: AllocationMode::StrictOrder,
                partial_funding: PartialFunding {
                    allowed: true,
                    min_share: pct("50.00"),
                },
                approval_target_days: 90,
            },
            deadlines: DeadlineRules {
                integration_days: 10,
                acceptance_days: 30,
            },
            required_annexes: vec![
                RequiredAnnex {
                    kind: "partnership_agreement".into(),
                    scope: AnnexScope::Application,
                    name_it: "Accordo di partenariato".into(),
                    name_en: "Partnership agreement".into(),
                    max_size_bytes: DEFAULT_ANNEX_MAX_SIZE,
                    // Off, so that testers can upload any PDF.
                    signed_by_legal_representative: false,
                },
                RequiredAnnex {
                    kind: "letter_of_adhesion".into(),
                    scope: AnnexScope::EachAdheringPartner,
                    name_it: "Lettera di adesione".into(),
                    name_en: "Letter of adhesion".into(),
                    max_size_bytes: DEFAULT_ANNEX_MAX_SIZE,
                    // Off, so that testers can upload any PDF.
                    signed_by_legal_representative: false,
                },
            ],
            post_award: PostAwardRules::default(),
            inadmissibility_reasons: [
                "composition",
                "category",
                "lead_seat",
                "money_rules",
                "window",
                "required_documents",
                "other",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        }
    }
}

/// Examples of the OpenAPI document, taken from the 2022 rules.
pub mod examples {
    use super::CallRules;
    use serde_json::Value;

    pub fn rules() -> Value {
        serde_json::to_value(CallRules::lombardy_2022()).unwrap_or_default()
    }

    pub fn partnership() -> Value {
        rules()["partnership"].clone()
    }

    pub fn scoring() -> Value {
        rules()["scoring"].clone()
    }

    pub fn ranking() -> Value {
        rules()["ranking"].clone()
    }
}
