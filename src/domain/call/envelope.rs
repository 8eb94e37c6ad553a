//! The envelopes of a call: the budget each agency manages, how the total is split among
//! them, and how unused money moves between them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::check_text;
use crate::domain::ErrorCode;
use crate::domain::agency::AgencyCode;
use crate::domain::money::Money;
use crate::domain::percent::Percent;
use crate::domain::violation::{Violation, Violations};

/// Where an envelope's figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "official")]
pub enum EnvelopeSource {
    /// Published in an official act.
    Official,
    /// Computed or estimated (e.g. by the 30/70 split on approximate populations).
    Estimated,
}

impl EnvelopeSource {
    pub fn as_str(&self) -> &'static str {
        match self {
            EnvelopeSource::Official => "official",
            EnvelopeSource::Estimated => "estimated",
        }
    }

    pub fn parse(s: &str) -> Option<EnvelopeSource> {
        match s {
            "official" => Some(EnvelopeSource::Official),
            "estimated" => Some(EnvelopeSource::Estimated),
            _ => None,
        }
    }
}

/// The budget one agency manages within a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub agency: AgencyCode,
    pub amount: Money,
    pub source: EnvelopeSource,
    pub note: Option<String>,
}

/// Envelopes are one per agency, every agency has one, and they add up to the call's total.
pub fn check_envelopes(total: Money, envelopes: &[Envelope], field: &str) -> Vec<Violation> {
    let mut v = Violations::new();
    let mut seen = BTreeSet::new();
    for (i, e) in envelopes.iter().enumerate() {
        if !seen.insert(e.agency) {
            v.add(
                format!("{field}[{i}].agency_code"),
                ErrorCode::DuplicateAgency.with(&[("agency", &e.agency)]),
            );
        }
        if e.note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
            v.add(
                format!("{field}[{i}].note"),
                ErrorCode::InvalidText.worded(
                    "A note has at most 1000 characters.",
                    "Una nota ha al massimo 1000 caratteri.",
                ),
            );
        }
    }
    for agency in AgencyCode::ALL {
        if !seen.contains(&agency) {
            v.add(field, ErrorCode::MissingAgency.with(&[("agency", &agency)]));
        }
    }
    match Money::sum(envelopes.iter().map(|e| e.amount)) {
        Some(sum) if sum == total => {}
        Some(sum) => v.add(
            field,
            ErrorCode::EnvelopesSumMismatch.with(&[("sum", &sum), ("total", &total)]),
        ),
        None => v.add(
            field,
            ErrorCode::EnvelopesSumMismatch.worded(
                "The envelopes add up to more than any amount allowed.",
                "Le dotazioni superano qualsiasi importo ammesso.",
            ),
        ),
    }
    v.into_vec()
}

/// A pinned envelope for the split: kept exactly, the others share the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedEnvelope {
    pub agency: AgencyCode,
    pub amount: Money,
    pub source: EnvelopeSource,
    pub note: Option<String>,
}

/// Envelopes by the 30/70 rule: `equal_share` of the total in equal parts among all agencies,
/// the rest by population; pinned envelopes are kept and the others share what is left.
/// Computed envelopes are `estimated`.
pub fn envelopes_by_split(
    total: Money,
    equal_share: Percent,
    populations: &[(AgencyCode, u64)],
    pinned: &[PinnedEnvelope],
) -> Result<Vec<Envelope>, Violation> {
    use crate::domain::split::{SplitShare, split_total};
    let shares: Vec<SplitShare> = populations
        .iter()
        .map(|(agency, population)| SplitShare {
            code: agency.as_str().to_owned(),
            population: *population,
            pinned: pinned
                .iter()
                .find(|p| p.agency == *agency)
                .map(|p| p.amount),
        })
        .collect();
    let parts =
        split_total(total, equal_share, &shares).map_err(|e| Violation::new("pinned", e.code()))?;
    Ok(parts
        .into_iter()
        .filter_map(|part| {
            let agency = AgencyCode::parse(&part.code)?;
            let pin = pinned.iter().find(|p| p.agency == agency);
            Some(Envelope {
                agency,
                amount: part.amount,
                source: pin.map(|p| p.source).unwrap_or(EnvelopeSource::Estimated),
                note: pin.and_then(|p| p.note.clone()),
            })
        })
        .collect())
}

/// The share of a call's total split in equal parts among the agencies, unless said
/// otherwise: 30.00%.
pub fn default_equal_share() -> Percent {
    Percent::from_basis_points(3000).expect("30.00 is a valid percent")
}

/// The envelopes of a call whose total changed: split again 30/70 keeping the official
/// ones, so that they always add up to the total; sorted by agency.
pub fn resplit_for_total(
    total: Money,
    current: &[Envelope],
    populations: &[(AgencyCode, u64)],
) -> Result<Vec<Envelope>, Violation> {
    let pinned: Vec<PinnedEnvelope> = current
        .iter()
        .filter(|e| e.source == EnvelopeSource::Official)
        .map(|e| PinnedEnvelope {
            agency: e.agency,
            amount: e.amount,
            source: e.source,
            note: e.note.clone(),
        })
        .collect();
    let mut split = envelopes_by_split(total, default_equal_share(), populations, &pinned)
        .map_err(|mut v| {
            v.field = "total_budget".into();
            v
        })?;
    split.sort_by_key(|e| e.agency.as_str());
    Ok(split)
}

/// The populations of a split, the stored ones replaced by `overrides` (each of a known
/// agency), with `pinned` envelopes naming each agency once.
pub fn split_populations(
    mut stored: Vec<(AgencyCode, u64)>,
    overrides: &[(AgencyCode, u64)],
    pinned: &[PinnedEnvelope],
) -> Result<Vec<(AgencyCode, u64)>, Vec<Violation>> {
    let mut v = Violations::new();
    for (i, (agency, population)) in overrides.iter().enumerate() {
        match stored.iter_mut().find(|(a, _)| a == agency) {
            Some(entry) => entry.1 = *population,
            None => v.add(
                format!("populations[{i}].agency_code"),
                ErrorCode::UnknownAgency,
            ),
        }
    }
    let mut seen = BTreeSet::new();
    for (i, p) in pinned.iter().enumerate() {
        if !seen.insert(p.agency) {
            v.add(
                format!("pinned[{i}].agency_code"),
                ErrorCode::DuplicateAgency
                    .worded("An agency is pinned twice.", "Un'ATS è fissata due volte."),
            );
        }
    }
    let v = v.into_vec();
    if v.is_empty() { Ok(stored) } else { Err(v) }
}

/// A move of unused money from one agency's envelope to another's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reallocation {
    pub from: AgencyCode,
    pub to: AgencyCode,
    pub amount: Money,
    pub reason: String,
}

impl Reallocation {
    /// A reason, two different agencies, an amount above zero and no more than the giving
    /// agency has `unused` (its envelope less what it has committed).
    pub fn check(&self, unused: Money) -> Vec<Violation> {
        let mut v = Violations::new();
        v.extend(check_text("reason", &self.reason, 2000));
        if self.from == self.to {
            v.add("to_agency_code", ErrorCode::SameAgency);
        }
        if self.amount == Money::ZERO {
            v.add(
                "amount",
                ErrorCode::AmountZero
                    .with(&[("subject_en", &"The amount"), ("subject_it", &"L'importo")]),
            );
        }
        if self.amount > unused {
            v.add(
                "amount",
                ErrorCode::MoreThanUnused.with(&[("agency", &self.from), ("unused", &unused)]),
            );
        }
        v.into_vec()
    }

    /// The envelopes after the move; the receiving one notes it.
    pub fn apply(&self, envelopes: &[Envelope]) -> Result<Vec<Envelope>, Violation> {
        let note = format!(
            "{} {} from {} to {}: {}",
            "reallocation",
            self.amount,
            self.from,
            self.to,
            self.reason.trim()
        );
        let mut next = envelopes.to_vec();
        for e in &mut next {
            if e.agency == self.from {
                e.amount = e.amount.checked_sub(self.amount).ok_or_else(|| {
                    Violation::new(
                        "amount",
                        ErrorCode::MoreThanUnused.worded(
                            "The agency has not that much unused.",
                            "L'ATS non ha tanto non utilizzato.",
                        ),
                    )
                })?;
            } else if e.agency == self.to {
                e.amount = e.amount.checked_add(self.amount).ok_or_else(|| {
                    Violation::new(
                        "amount",
                        ErrorCode::AmountOverflow.worded("Too large.", "Troppo grande."),
                    )
                })?;
                e.note = Some(note.clone());
            }
        }
        Ok(next)
    }
}
