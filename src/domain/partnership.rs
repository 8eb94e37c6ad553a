//! Partnerships and every composition rule of a call, each explained.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::error_code::ErrorCode;
use super::user::Role;

use super::call::{OrganizationCategory, PartnershipRules};
use super::organization::{Category, OrganizationFacts};
use super::violation::Msg;

/// How a member takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "full_partner")]
pub enum ParticipationRole {
    /// The single contact with Region and ATS; submits the application.
    Lead,
    FullPartner,
    /// A public body that joins with a letter of adhesion.
    AdheringPartner,
}

impl ParticipationRole {
    pub fn as_str(&self) -> &'static str {
        match self {
            ParticipationRole::Lead => "lead",
            ParticipationRole::FullPartner => "full_partner",
            ParticipationRole::AdheringPartner => "adhering_partner",
        }
    }

    pub fn parse(s: &str) -> Option<ParticipationRole> {
        match s {
            "lead" => Some(ParticipationRole::Lead),
            "full_partner" => Some(ParticipationRole::FullPartner),
            "adhering_partner" => Some(ParticipationRole::AdheringPartner),
            _ => None,
        }
    }
}

/// Whether an organization has agreed to be a member. Joining a partnership is a legal
/// commitment: an organization that none of the lead's users represents is invited, and
/// joins only when one of its representatives accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "accepted")]
pub enum MembershipStatus {
    /// A member: it counts for the rules and reads its partners' data.
    Accepted,
    /// Invited, not yet answered: it counts for nothing and sees nothing of its partners.
    Pending,
    /// The invitation was declined: the lead removes it.
    Declined,
}

impl MembershipStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            MembershipStatus::Accepted => "accepted",
            MembershipStatus::Pending => "pending",
            MembershipStatus::Declined => "declined",
        }
    }

    pub fn parse(s: &str) -> Option<MembershipStatus> {
        match s {
            "accepted" => Some(MembershipStatus::Accepted),
            "pending" => Some(MembershipStatus::Pending),
            "declined" => Some(MembershipStatus::Declined),
            _ => None,
        }
    }
}

/// A member as the eligibility rules see it.
#[derive(Debug, Clone)]
pub struct Member {
    pub organization_id: Uuid,
    pub role: ParticipationRole,
    /// Only accepted members count for the rules; the others are named by
    /// [`EligibilityRule::InvitationsAccepted`].
    pub status: MembershipStatus,
    pub facts: OrganizationFacts,
    /// Partnerships of the same call this organization belongs to, this one included.
    pub partnerships_in_call: u32,
    /// Partnerships of the same call this organization leads, this one included.
    pub leads_in_call: u32,
}

/// The composition rules, in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "min_micro_small_enterprises")]
pub enum EligibilityRule {
    MinMembers,
    MinPublicBodies,
    MinMicroSmallEnterprises,
    AllowedCategories,
    AdheringPartnersArePublicBodies,
    LeadSeat,
    NonLombardEnterprises,
    EntityCaps,
    /// Every invited organization has accepted (a pending or declined one blocks).
    InvitationsAccepted,
}

impl EligibilityRule {
    /// The code of the violation when the rule fails: `partnership_<rule>`.
    pub fn error_code(self) -> ErrorCode {
        match self {
            EligibilityRule::MinMembers => ErrorCode::PartnershipMinMembers,
            EligibilityRule::MinPublicBodies => ErrorCode::PartnershipMinPublicBodies,
            EligibilityRule::MinMicroSmallEnterprises => {
                ErrorCode::PartnershipMinMicroSmallEnterprises
            }
            EligibilityRule::AllowedCategories => ErrorCode::PartnershipAllowedCategories,
            EligibilityRule::AdheringPartnersArePublicBodies => {
                ErrorCode::PartnershipAdheringPartnersArePublicBodies
            }
            EligibilityRule::LeadSeat => ErrorCode::PartnershipLeadSeat,
            EligibilityRule::NonLombardEnterprises => ErrorCode::PartnershipNonLombardEnterprises,
            EligibilityRule::EntityCaps => ErrorCode::PartnershipEntityCaps,
            EligibilityRule::InvitationsAccepted => ErrorCode::PartnershipInvitationsAccepted,
        }
    }
}

/// The outcome of one rule.
#[derive(Debug, Clone)]
pub struct RuleOutcome {
    pub rule: EligibilityRule,
    pub passed: bool,
    pub reason: Msg,
    /// The members that break the rule, when it is about particular members.
    pub organizations: Vec<Uuid>,
}

fn outcome(
    rule: EligibilityRule,
    passed: bool,
    en: String,
    it: String,
    organizations: Vec<Uuid>,
) -> RuleOutcome {
    RuleOutcome {
        rule,
        passed,
        reason: Msg::new(en, it),
        organizations,
    }
}

fn ids<'a>(members: impl Iterator<Item = &'a Member>) -> Vec<Uuid> {
    let mut v: Vec<Uuid> = members.map(|m| m.organization_id).collect();
    v.sort();
    v
}

fn category_name(c: Option<OrganizationCategory>) -> &'static str {
    match c {
        Some(OrganizationCategory::PublicBody) => "public body",
        Some(OrganizationCategory::PrivateNonProfit) => "private non-profit",
        Some(OrganizationCategory::EmployersAssociation) => "employers' association",
        Some(OrganizationCategory::MicroSmallEnterprise) => "micro or small enterprise",
        None => "medium or large enterprise",
    }
}

/// Every composition rule of the call, passed or failed, with its reason in English and
/// Italian. The result depends only on the set of members, not on their order.
pub fn check_eligibility(rules: &PartnershipRules, all: &[Member]) -> Vec<RuleOutcome> {
    let accepted: Vec<Member> = all
        .iter()
        .filter(|m| m.status == MembershipStatus::Accepted)
        .cloned()
        .collect();
    let mut out = composition(rules, &accepted);
    out.push(invitations_outcome(all));
    out
}

/// Invited organizations that have not accepted, named in the report.
fn invitations_outcome(all: &[Member]) -> RuleOutcome {
    let mut open: Vec<&Member> = all
        .iter()
        .filter(|m| m.status != MembershipStatus::Accepted)
        .collect();
    open.sort_by_key(|m| m.organization_id);
    if open.is_empty() {
        return outcome(
            EligibilityRule::InvitationsAccepted,
            true,
            "Every member has accepted to join the partnership.".into(),
            "Ogni membro ha accettato di far parte del partenariato.".into(),
            vec![],
        );
    }
    let list = |lang_pending: &str, lang_declined: &str| {
        open.iter()
            .map(|m| {
                let state = if m.status == MembershipStatus::Pending {
                    lang_pending
                } else {
                    lang_declined
                };
                format!("{} ({state})", m.facts.legal_name)
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    outcome(
        EligibilityRule::InvitationsAccepted,
        false,
        format!(
            "These organizations have not accepted to join, and count for no rule until they do: {}. A declined invitation is removed by the lead.",
            list("invitation pending", "invitation declined")
        ),
        format!(
            "Questi enti non hanno accettato di partecipare e non contano per nessuna regola finché non lo fanno: {}. Un invito rifiutato va rimosso dal capofila.",
            list("invito in attesa", "invito rifiutato")
        ),
        open.iter().map(|m| m.organization_id).collect(),
    )
}

/// The composition rules over the accepted members.
fn composition(rules: &PartnershipRules, members: &[Member]) -> Vec<RuleOutcome> {
    use EligibilityRule::*;
    let mut out = Vec::new();

    let counted = members
        .iter()
        .filter(|m| rules.adhering_partners_count || m.role != ParticipationRole::AdheringPartner)
        .count() as u32;
    let note_en = if rules.adhering_partners_count {
        "adhering partners count"
    } else {
        "adhering partners do not count"
    };
    let note_it = if rules.adhering_partners_count {
        "i partner aderenti contano"
    } else {
        "i partner aderenti non contano"
    };
    out.push(outcome(
        MinMembers,
        counted >= rules.min_members,
        format!("The partnership has {counted} counted member(s) ({note_en}); at least {} are required.", rules.min_members),
        format!("Il partenariato ha {counted} membri conteggiati ({note_it}); ne servono almeno {}.", rules.min_members),
        vec![],
    ));

    let public = members
        .iter()
        .filter(|m| m.facts.category() == Category::PublicBody)
        .count() as u32;
    out.push(outcome(
        MinPublicBodies,
        public >= rules.min_public_bodies,
        format!("The partnership has {public} public body(ies), adhering ones included; at least {} are required.", rules.min_public_bodies),
        format!("Il partenariato ha {public} enti pubblici, aderenti compresi; ne servono almeno {}.", rules.min_public_bodies),
        vec![],
    ));

    let micro_small: Vec<&Member> = members
        .iter()
        .filter(|m| m.facts.call_category() == Some(OrganizationCategory::MicroSmallEnterprise))
        .collect();
    let with_office = micro_small
        .iter()
        .filter(|m| m.facts.operating_office_lombard())
        .count() as u32;
    out.push(outcome(
        MinMicroSmallEnterprises,
        with_office >= rules.min_micro_small_enterprises,
        format!(
            "The partnership has {with_office} micro or small enterprise(s) with an operating office in Lombardy (their employees are the beneficiaries); at least {} are required.",
            rules.min_micro_small_enterprises
        ),
        format!(
            "Il partenariato ha {with_office} micro o piccole imprese con sede operativa in Lombardia (i cui dipendenti sono i destinatari); ne servono almeno {}.",
            rules.min_micro_small_enterprises
        ),
        ids(micro_small.iter().copied().filter(|m| !m.facts.operating_office_lombard())),
    ));

    let not_allowed: Vec<&Member> = members
        .iter()
        .filter(|m| {
            !m.facts
                .call_category()
                .is_some_and(|c| rules.allowed_categories.contains(&c))
        })
        .collect();
    let (en, it) = if not_allowed.is_empty() {
        (
            "Every member belongs to a category the call admits.".to_owned(),
            "Ogni membro appartiene a una categoria ammessa dall'avviso.".to_owned(),
        )
    } else {
        let list: Vec<String> = not_allowed
            .iter()
            .map(|m| {
                format!(
                    "{} ({})",
                    m.facts.legal_name,
                    category_name(m.facts.call_category())
                )
            })
            .collect();
        (
            format!(
                "These members belong to a category the call does not admit: {}.",
                list.join(", ")
            ),
            format!(
                "Questi membri appartengono a una categoria non ammessa dall'avviso: {}.",
                list.join(", ")
            ),
        )
    };
    out.push(outcome(
        AllowedCategories,
        not_allowed.is_empty(),
        en,
        it,
        ids(not_allowed.into_iter()),
    ));

    let bad_adhering: Vec<&Member> = members
        .iter()
        .filter(|m| {
            m.role == ParticipationRole::AdheringPartner
                && m.facts.category() != Category::PublicBody
        })
        .collect();
    out.push(outcome(
        AdheringPartnersArePublicBodies,
        bad_adhering.is_empty(),
        if bad_adhering.is_empty() {
            "Only public bodies join as adhering partners.".into()
        } else {
            "Only a public body may join as an adhering partner.".into()
        },
        if bad_adhering.is_empty() {
            "Solo enti pubblici partecipano come partner aderenti.".into()
        } else {
            "Solo un ente pubblico può partecipare come partner aderente.".into()
        },
        ids(bad_adhering.into_iter()),
    ));

    let leads: Vec<&Member> = members
        .iter()
        .filter(|m| m.role == ParticipationRole::Lead)
        .collect();
    let lead_ok = leads.len() == 1
        && leads[0].facts.registered_office_lombard()
        && leads[0].facts.operating_office_lombard();
    let (en, it) = match leads.as_slice() {
        [] => (
            "The partnership has no lead partner.".to_owned(),
            "Il partenariato non ha un capofila.".to_owned(),
        ),
        [_] if lead_ok => (
            "The lead partner has its registered office and an operating office in Lombardy."
                .to_owned(),
            "Il capofila ha sede legale e una sede operativa in Lombardia.".to_owned(),
        ),
        [lead] => (
            format!(
                "The lead partner {} must have both its registered office and an operating office in Lombardy.",
                lead.facts.legal_name
            ),
            format!(
                "Il capofila {} deve avere sia la sede legale sia una sede operativa in Lombardia.",
                lead.facts.legal_name
            ),
        ),
        _ => (
            "A partnership has exactly one lead partner.".to_owned(),
            "Un partenariato ha esattamente un capofila.".to_owned(),
        ),
    };
    out.push(outcome(
        LeadSeat,
        lead_ok,
        en,
        it,
        if lead_ok {
            vec![]
        } else {
            ids(leads.into_iter())
        },
    ));

    let bad_foreign: Vec<&Member> = members
        .iter()
        .filter(|m| {
            m.facts.category() == Category::Enterprise
                && !m.facts.registered_office_lombard()
                && (!m.facts.operating_office_lombard() || m.role == ParticipationRole::Lead)
        })
        .collect();
    out.push(outcome(
        NonLombardEnterprises,
        bad_foreign.is_empty(),
        if bad_foreign.is_empty() {
            "Every enterprise based outside Lombardy has an operating office in Lombardy and does not lead.".into()
        } else {
            "An enterprise whose registered office is outside Lombardy may join only with an operating office in Lombardy, and never as lead.".into()
        },
        if bad_foreign.is_empty() {
            "Ogni impresa con sede legale fuori dalla Lombardia ha una sede operativa in Lombardia e non è capofila.".into()
        } else {
            "Un'impresa con sede legale fuori dalla Lombardia può partecipare solo con una sede operativa in Lombardia, e mai come capofila.".into()
        },
        ids(bad_foreign.into_iter()),
    ));

    let over_cap: Vec<&Member> = members
        .iter()
        .filter(|m| {
            rules
                .max_partnerships_per_organization
                .is_some_and(|cap| m.partnerships_in_call > cap)
                || (m.role == ParticipationRole::Lead
                    && rules
                        .max_leads_per_organization
                        .is_some_and(|cap| m.leads_in_call > cap))
        })
        .collect();
    let caps_en = match (
        rules.max_partnerships_per_organization,
        rules.max_leads_per_organization,
    ) {
        (None, None) => "The call sets no cap per organization.".to_owned(),
        (p, l) => format!(
            "Caps per organization in this call: {} partnership(s), {} as lead.",
            p.map_or("no cap".into(), |c| c.to_string()),
            l.map_or("no cap".into(), |c| c.to_string())
        ),
    };
    let caps_it = match (
        rules.max_partnerships_per_organization,
        rules.max_leads_per_organization,
    ) {
        (None, None) => "L'avviso non fissa limiti per ente.".to_owned(),
        (p, l) => format!(
            "Limiti per ente in questo avviso: {} partenariati, {} come capofila.",
            p.map_or("nessun limite".into(), |c| c.to_string()),
            l.map_or("nessun limite".into(), |c| c.to_string())
        ),
    };
    out.push(outcome(
        EntityCaps,
        over_cap.is_empty(),
        caps_en,
        caps_it,
        ids(over_cap.into_iter()),
    ));
    out
}

/// What a caller may do with a partnership or an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    Read,
    /// Edit it: the representatives of an organization; the lead's representatives for a
    /// partnership.
    Manage,
}

/// A partnership: its lead's representatives manage it, its members' representatives read
/// it, administrators read everything; nobody else sees it.
pub fn partnership_access(
    role: Role,
    represented: &BTreeSet<Uuid>,
    lead: Option<Uuid>,
    members: &BTreeSet<Uuid>,
) -> Option<Access> {
    match role {
        Role::Admin => Some(Access::Read),
        Role::Applicant if lead.is_some_and(|l| represented.contains(&l)) => Some(Access::Manage),
        Role::Applicant if !represented.is_disjoint(members) => Some(Access::Read),
        _ => None,
    }
}

/// An organization: its representatives manage it; applicants who share a partnership with
/// it and administrators read it; nobody else sees it.
pub fn organization_access(
    role: Role,
    represented: &BTreeSet<Uuid>,
    partners: &BTreeSet<Uuid>,
    organization: Uuid,
) -> Option<Access> {
    match role {
        Role::Applicant if represented.contains(&organization) => Some(Access::Manage),
        Role::Applicant if partners.contains(&organization) => Some(Access::Read),
        Role::Admin => Some(Access::Read),
        _ => None,
    }
}

/// Whether every rule passed.
pub fn is_eligible(outcomes: &[RuleOutcome]) -> bool {
    outcomes.iter().all(|o| o.passed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::call::CallRules;
    use crate::domain::identifiers::{ProvinceCode, TaxCode, compute_numeric_check};
    use crate::domain::money::Money;
    use crate::domain::organization::{Seat, SeatKind, Subtype};
    use crate::domain::size::EnterpriseFigures;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn tax_code(n: u32) -> TaxCode {
        let first10 = format!("{:010}", 1_000_000 + n);
        let check = compute_numeric_check(&first10).unwrap();
        TaxCode::parse(&format!("{first10}{check}")).unwrap()
    }

    fn seat(kind: SeatKind, province: &str) -> Seat {
        Seat {
            kind,
            address: "Via Roma 1".into(),
            municipality: "Comune".into(),
            province: ProvinceCode::parse(province).unwrap(),
        }
    }

    fn member(
        n: u32,
        subtype: Subtype,
        role: ParticipationRole,
        registered: &str,
        operating: &[&str],
        staff: i64,
    ) -> Member {
        let mut seats = vec![seat(SeatKind::Registered, registered)];
        seats.extend(operating.iter().map(|p| seat(SeatKind::Operating, p)));
        let enterprise = subtype.category() == Category::Enterprise;
        Member {
            organization_id: Uuid::from_u128(u128::from(n)),
            role,
            status: MembershipStatus::Accepted,
            facts: OrganizationFacts {
                tax_code: tax_code(n),
                vat_number: None,
                legal_name: format!("Org {n}"),
                subtype,
                chamber_registration: None,
                seats,
                figures: enterprise.then(|| EnterpriseFigures {
                    staff: Decimal::from(staff),
                    turnover: Some(Money::parse("500000.00").unwrap()),
                    balance_sheet_total: None,
                }),
                reference_year: None,
                legal_representative: None,
            },
            partnerships_in_call: 1,
            leads_in_call: u32::from(role == ParticipationRole::Lead),
        }
    }

    /// Lead municipality, a cooperative, two small enterprises: every rule passes.
    fn eligible() -> Vec<Member> {
        vec![
            member(
                1,
                Subtype::Municipality,
                ParticipationRole::Lead,
                "SO",
                &["SO"],
                0,
            ),
            member(
                2,
                Subtype::SocialCooperative,
                ParticipationRole::FullPartner,
                "SO",
                &[],
                0,
            ),
            member(
                3,
                Subtype::Company,
                ParticipationRole::FullPartner,
                "SO",
                &["SO"],
                5,
            ),
            member(
                4,
                Subtype::Company,
                ParticipationRole::FullPartner,
                "MI",
                &["MI"],
                30,
            ),
        ]
    }

    fn failed(members: &[Member]) -> Vec<EligibilityRule> {
        check_eligibility(&CallRules::lombardy_2022().partnership, members)
            .into_iter()
            .filter(|o| !o.passed)
            .map(|o| o.rule)
            .collect()
    }

    #[test]
    fn only_the_leads_representatives_manage_and_members_read() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let members: BTreeSet<Uuid> = [a, b].into();
        let mine = |ids: &[Uuid]| ids.iter().copied().collect::<BTreeSet<Uuid>>();
        assert_eq!(
            partnership_access(Role::Applicant, &mine(&[a]), Some(a), &members),
            Some(Access::Manage)
        );
        assert_eq!(
            partnership_access(Role::Applicant, &mine(&[b]), Some(a), &members),
            Some(Access::Read)
        );
        assert_eq!(
            partnership_access(Role::Applicant, &mine(&[c]), Some(a), &members),
            None
        );
        assert_eq!(
            partnership_access(Role::Admin, &mine(&[]), Some(a), &members),
            Some(Access::Read)
        );
        assert_eq!(
            partnership_access(Role::Evaluator, &mine(&[a]), Some(a), &members),
            None
        );
        assert_eq!(
            organization_access(Role::Applicant, &mine(&[a]), &mine(&[b]), a),
            Some(Access::Manage)
        );
        assert_eq!(
            organization_access(Role::Applicant, &mine(&[a]), &mine(&[b]), b),
            Some(Access::Read)
        );
        assert_eq!(
            organization_access(Role::Applicant, &mine(&[a]), &mine(&[b]), c),
            None
        );
        assert_eq!(
            organization_access(Role::Admin, &mine(&[]), &mine(&[]), c),
            Some(Access::Read)
        );
    }

    #[test]
    fn an_eligible_partnership_passes_every_rule() {
        assert_eq!(failed(&eligible()), vec![]);
    }

    #[test]
    fn each_rule_fails_alone() {
        use EligibilityRule::*;
        let mut three = eligible();
        three.remove(1);
        assert_eq!(failed(&three), vec![MinMembers]);

        let mut no_public = eligible();
        no_public[0] = member(
            1,
            Subtype::Association,
            ParticipationRole::Lead,
            "SO",
            &["SO"],
            0,
        );
        assert_eq!(failed(&no_public), vec![MinPublicBodies]);

        let mut one_small = eligible();
        one_small[3] = member(
            4,
            Subtype::Association,
            ParticipationRole::FullPartner,
            "MI",
            &["MI"],
            0,
        );
        assert_eq!(failed(&one_small), vec![MinMicroSmallEnterprises]);

        let mut medium = eligible();
        medium.push(member(
            5,
            Subtype::Company,
            ParticipationRole::FullPartner,
            "MI",
            &["MI"],
            100,
        ));
        assert_eq!(failed(&medium), vec![AllowedCategories]);

        let mut adhering = eligible();
        adhering.push(member(
            5,
            Subtype::Association,
            ParticipationRole::AdheringPartner,
            "MI",
            &[],
            0,
        ));
        assert_eq!(failed(&adhering), vec![AdheringPartnersArePublicBodies]);

        let mut lead_outside = eligible();
        lead_outside[0] = member(
            1,
            Subtype::Municipality,
            ParticipationRole::Lead,
            "SO",
            &[],
            0,
        );
        assert_eq!(failed(&lead_outside), vec![LeadSeat]);

        let mut foreign = eligible();
        foreign.push(member(
            5,
            Subtype::Company,
            ParticipationRole::FullPartner,
            "RM",
            &["RM"],
            3,
        ));
        assert_eq!(failed(&foreign), vec![NonLombardEnterprises]);

        let mut capped_rules = CallRules::lombardy_2022().partnership;
        capped_rules.max_partnerships_per_organization = Some(1);
        let mut busy = eligible();
        busy[1].partnerships_in_call = 2;
        let fails: Vec<_> = check_eligibility(&capped_rules, &busy)
            .into_iter()
            .filter(|o| !o.passed)
            .map(|o| o.rule)
            .collect();
        assert_eq!(fails, vec![EntityCaps]);
    }

    #[test]
    fn adhering_partners_count_only_when_the_call_says_so() {
        let mut members = eligible();
        members[1] = member(
            2,
            Subtype::MountainCommunity,
            ParticipationRole::AdheringPartner,
            "SO",
            &[],
            0,
        );
        assert_eq!(failed(&members), vec![]);
        let mut rules = CallRules::lombardy_2022().partnership;
        rules.adhering_partners_count = false;
        let fails: Vec<_> = check_eligibility(&rules, &members)
            .into_iter()
            .filter(|o| !o.passed)
            .map(|o| o.rule)
            .collect();
        assert_eq!(fails, vec![EligibilityRule::MinMembers]);
    }

    proptest! {
        #[test]
        fn the_outcome_does_not_depend_on_the_order_of_members(seed in any::<u64>(), extra in 0usize..4) {
            let mut members = eligible();
            for i in 0..extra {
                let subtype = [Subtype::Company, Subtype::Association, Subtype::Municipality, Subtype::Company][i];
                members.push(member(10 + i as u32, subtype, ParticipationRole::FullPartner, ["MI", "RM", "SO", "TO"][i], &["MI"], [3, 0, 0, 300][i]));
            }
            let reference: Vec<(EligibilityRule, bool, Vec<Uuid>)> = check_eligibility(&CallRules::lombardy_2022().partnership, &members)
                .into_iter().map(|o| (o.rule, o.passed, o.organizations)).collect();
            let mut shuffled = members.clone();
            let mut s = seed;
            for i in (1..shuffled.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            let again: Vec<(EligibilityRule, bool, Vec<Uuid>)> = check_eligibility(&CallRules::lombardy_2022().partnership, &shuffled)
                .into_iter().map(|o| (o.rule, o.passed, o.organizations)).collect();
            prop_assert_eq!(reference, again);
        }

        #[test]
        fn the_minimum_of_members_is_met_exactly_from_its_threshold(n in 0usize..10, min in 1u32..10) {
            let mut rules = CallRules::lombardy_2022().partnership;
            rules.min_members = min;
            let members: Vec<Member> = (0..n).map(|i| member(i as u32 + 1, Subtype::Association, ParticipationRole::FullPartner, "MI", &["MI"], 0)).collect();
            let passed = check_eligibility(&rules, &members).into_iter().find(|o| o.rule == EligibilityRule::MinMembers).unwrap().passed;
            prop_assert_eq!(passed, n as u32 >= min);
        }
    }

    #[test]
    fn a_member_that_has_not_accepted_counts_for_nothing_and_is_named() {
        let mut members = eligible();
        assert!(failed(&members).is_empty());
        members[3].status = MembershipStatus::Pending;
        let failed = failed(&members);
        assert!(failed.contains(&EligibilityRule::MinMembers), "{failed:?}");
        assert!(
            failed.contains(&EligibilityRule::MinMicroSmallEnterprises),
            "{failed:?}"
        );
        let outcomes = check_eligibility(&CallRules::lombardy_2022().partnership, &members);
        let invitations = outcomes
            .iter()
            .find(|o| o.rule == EligibilityRule::InvitationsAccepted)
            .unwrap();
        assert!(!invitations.passed);
        assert_eq!(invitations.organizations, vec![Uuid::from_u128(4)]);
        assert!(invitations.reason.en.contains("Org 4 (invitation pending)"));
        assert!(invitations.reason.it.contains("Org 4 (invito in attesa)"));
    }
}
