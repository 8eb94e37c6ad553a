//! Rankings and allocation per agency: order the eligible applications, fund them down the
//! ranking from the envelope, and explain every entry. Deterministic: the same data gives
//! the same result whatever order it comes in.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::call::{AllocationMode, CALL_TIME_ZONE, Call, PartialFunding, TieBreak};
use super::error_code::ErrorCode;
use super::money::Money;
use super::points::Points;
use super::score::Score;
use super::violation::Violation;

/// An application as the ranking reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub application_id: Uuid,
    /// `<call code>-<6 digits>`: within a call, the lower is the earlier submission.
    pub protocol_number: String,
    /// The application's score, rounded to two decimals; `None` when it has none.
    pub score: Option<Score>,
    /// The score of each criterion (average or consensus), for tie-breaks.
    pub criteria: Vec<(String, Score)>,
    pub requested: Money,
}

/// The rules of one ranking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub threshold: Points,
    pub tie_breaks: Vec<TieBreak>,
    pub mode: AllocationMode,
    pub partial: PartialFunding,
}

/// What an application gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "funded")]
pub enum Outcome {
    Funded,
    PartiallyFunded,
    /// Eligible, waiting for money to be freed (scorrimento).
    Reserve,
    /// Below the threshold or without a score.
    NotEligible,
    /// Its grant was declined, expired or revoked: its money went down the list.
    Lapsed,
}

/// One line of a ranking, with its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"application_id": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901", "protocol_number": "RLD-DEMO-CONCILIAZIONE-000003",
    "rank": 2, "score": "77.35", "requested": "24500.00", "outcome": "funded", "amount": "24500.00",
    "tie_break": "higher_criterion_score:QUALITY", "envelope_before": "293580.00", "envelope_after": "269080.00"}))]
pub struct Entry {
    pub application_id: Uuid,
    pub protocol_number: String,
    /// Position among the eligible; none for the others.
    pub rank: Option<u32>,
    pub score: Option<Score>,
    pub requested: Money,
    pub outcome: Outcome,
    pub amount: Money,
    /// The rule that put it after the previous entry when their scores were equal.
    pub tie_break: Option<String>,
    /// The money left before and after this entry.
    pub envelope_before: Money,
    pub envelope_after: Money,
}

/// A ranking and its allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Allocation {
    pub envelope: Money,
    pub allocated: Money,
    pub remaining: Money,
    pub entries: Vec<Entry>,
}

fn rule_name(t: &TieBreak) -> String {
    match t {
        TieBreak::HigherCriterionScore { criterion } => {
            format!("higher_criterion_score:{criterion}")
        }
        TieBreak::EarlierSubmission => "earlier_submission".into(),
    }
}

/// A candidate's sort key: score, then each tie-break value, ready to compare.
struct Keyed<'a> {
    c: &'a Candidate,
    score: Decimal,
    breaks: Vec<Decimal>,
}

fn criterion(c: &Candidate, code: &str) -> Decimal {
    c.criteria
        .iter()
        .find(|(k, _)| k == code)
        .map(|(_, v)| v.as_decimal())
        .unwrap_or(Decimal::ZERO)
}

/// Compare two eligible candidates by the policy; the index of the deciding tie-break rule.
fn compare(a: &Keyed, b: &Keyed, rules: &[TieBreak]) -> (Ordering, Option<usize>) {
    match b.score.cmp(&a.score) {
        Ordering::Equal => {}
        o => return (o, None),
    }
    for (i, rule) in rules.iter().enumerate() {
        let o = match rule {
            TieBreak::HigherCriterionScore { .. } => b.breaks[i].cmp(&a.breaks[i]),
            TieBreak::EarlierSubmission => a.c.protocol_number.cmp(&b.c.protocol_number),
        };
        if o != Ordering::Equal {
            return (o, Some(i));
        }
    }
    // Never reached within one call (protocol numbers are unique); keeps the order total.
    (a.c.application_id.cmp(&b.c.application_id), None)
}

/// Rank the candidates and allocate the envelope down the ranking.
pub fn rank_and_allocate(candidates: &[Candidate], envelope: Money, policy: &Policy) -> Allocation {
    let threshold = policy.threshold.as_decimal();
    let (eligible, not_eligible): (Vec<&Candidate>, Vec<&Candidate>) = candidates
        .iter()
        .partition(|c| c.score.is_some_and(|s| s.as_decimal() >= threshold));
    let mut keyed: Vec<Keyed> = eligible
        .into_iter()
        .map(|c| Keyed {
            c,
            score: c.score.unwrap_or_default().as_decimal(),
            breaks: policy
                .tie_breaks
                .iter()
                .map(|t| match t {
                    TieBreak::HigherCriterionScore { criterion: code } => criterion(c, code),
                    TieBreak::EarlierSubmission => Decimal::ZERO,
                })
                .collect(),
        })
        .collect();
    keyed.sort_by(|a, b| compare(a, b, &policy.tie_breaks).0);

    let mut remaining = envelope;
    let mut entries = Vec::with_capacity(candidates.len());
    let mut closed = false; // strict order: after the first that does not fit, all wait
    for (i, k) in keyed.iter().enumerate() {
        let tie_break = if i > 0 {
            compare(&keyed[i - 1], k, &policy.tie_breaks)
                .1
                .map(|r| rule_name(&policy.tie_breaks[r]))
        } else {
            None
        };
        let before = remaining;
        let requested = k.c.requested;
        let (outcome, amount) = if !closed && requested <= remaining {
            (Outcome::Funded, requested)
        } else if closed || policy.mode == AllocationMode::SkipToFit {
            (Outcome::Reserve, Money::ZERO)
        } else {
            closed = true;
            let enough = i128::from(remaining.cents()) * 10_000
                >= i128::from(requested.cents())
                    * i128::from(policy.partial.min_share.basis_points());
            if policy.partial.allowed && remaining > Money::ZERO && enough {
                (Outcome::PartiallyFunded, remaining)
            } else {
                (Outcome::Reserve, Money::ZERO)
            }
        };
        remaining = remaining.checked_sub(amount).unwrap_or(Money::ZERO);
        entries.push(Entry {
            application_id: k.c.application_id,
            protocol_number: k.c.protocol_number.clone(),
            rank: Some(i as u32 + 1),
            score: Some(Score::new(k.score)),
            requested,
            outcome,
            amount,
            tie_break,
            envelope_before: before,
            envelope_after: remaining,
        });
    }
    let mut rest: Vec<&Candidate> = not_eligible;
    rest.sort_by(|a, b| {
        a.protocol_number
            .cmp(&b.protocol_number)
            .then(a.application_id.cmp(&b.application_id))
    });
    for c in rest {
        entries.push(Entry {
            application_id: c.application_id,
            protocol_number: c.protocol_number.clone(),
            rank: None,
            score: c.score,
            requested: c.requested,
            outcome: Outcome::NotEligible,
            amount: Money::ZERO,
            tie_break: None,
            envelope_before: remaining,
            envelope_after: remaining,
        });
    }
    let allocated = envelope.checked_sub(remaining).unwrap_or(Money::ZERO);
    Allocation {
        envelope,
        allocated,
        remaining,
        entries,
    }
}

/// Scorrimento: the money freed in an approved ranking goes down the list. The partially
/// funded entry is topped up first (up to its request), then the reserve entries are funded
/// by the allocation mode, each with a new offer; entries whose grant lapsed are marked so.
/// `free` is the envelope less what the remaining grants commit. An entry in `settled` (a
/// verified project) counts for its final grant, the amount given, and holds nobody back.
pub fn scorrimento(
    previous: &Allocation,
    envelope: Money,
    free: Money,
    lapsed: &std::collections::BTreeSet<Uuid>,
    settled: &std::collections::BTreeMap<Uuid, Money>,
    policy: &Policy,
) -> Allocation {
    let mut remaining = free;
    let mut closed = false;
    let mut entries = Vec::with_capacity(previous.entries.len());
    for e in &previous.entries {
        let mut e = e.clone();
        let before = remaining;
        if lapsed.contains(&e.application_id) {
            e.outcome = Outcome::Lapsed;
            e.amount = Money::ZERO;
        } else if let Some(final_grant) = settled.get(&e.application_id) {
            // A verified project's grant is final: it counts for its final grant, is never
            // topped up, and holds nobody back.
            e.amount = *final_grant;
        } else {
            match e.outcome {
                Outcome::PartiallyFunded => {
                    let missing = e.requested.checked_sub(e.amount).unwrap_or(Money::ZERO);
                    let top_up = missing.min(remaining);
                    e.amount = e.amount.checked_add(top_up).unwrap_or(e.amount);
                    remaining = remaining.checked_sub(top_up).unwrap_or(Money::ZERO);
                    if e.amount == e.requested {
                        e.outcome = Outcome::Funded;
                    } else {
                        closed = true;
                    }
                }
                Outcome::Reserve if !closed && e.requested <= remaining => {
                    e.outcome = Outcome::Funded;
                    e.amount = e.requested;
                    remaining = remaining.checked_sub(e.requested).unwrap_or(Money::ZERO);
                }
                Outcome::Reserve if policy.mode == AllocationMode::StrictOrder && !closed => {
                    closed = true;
                    let enough = i128::from(remaining.cents()) * 10_000
                        >= i128::from(e.requested.cents())
                            * i128::from(policy.partial.min_share.basis_points());
                    if policy.partial.allowed && remaining > Money::ZERO && enough {
                        e.outcome = Outcome::PartiallyFunded;
                        e.amount = remaining;
                        remaining = Money::ZERO;
                    }
                }
                _ => {}
            }
        }
        e.envelope_before = before;
        e.envelope_after = remaining;
        entries.push(e);
    }
    let allocated = Money::sum(entries.iter().map(|e| e.amount)).unwrap_or(Money::ZERO);
    Allocation {
        envelope,
        allocated,
        remaining: envelope.checked_sub(allocated).unwrap_or(Money::ZERO),
        entries,
    }
}

/// What a ranking is computed from, and what still stands in its way.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub candidates: Vec<Candidate>,
    pub envelope: Money,
    /// Applications still under review, or admitted without enough final evaluations.
    pub missing: Vec<Violation>,
}

impl Inputs {
    /// The messages of what is missing, one after the other, in each language.
    pub fn missing_message(&self) -> (String, String) {
        let join =
            |f: fn(&Violation) -> String| self.missing.iter().map(f).collect::<Vec<_>>().join(" ");
        (
            join(|v| v.message.en.to_string()),
            join(|v| v.message.it.to_string()),
        )
    }
}

/// Where an application of a ranking's agency stands in the review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reviewed {
    /// No admissibility decision yet (or an integration is awaited).
    Pending,
    Inadmissible,
    /// Admitted: `scored` once it has enough final evaluations (or a consensus), `eligible`
    /// once its score reaches the threshold.
    Admitted {
        scored: bool,
        eligible: bool,
    },
}

/// Why an application of the review cannot be ranked yet.
pub fn not_ready(protocol: &str, finals: Option<(usize, u32)>) -> Violation {
    match finals {
        None => Violation::new(
            "applications",
            ErrorCode::ReviewPending.with(&[("protocol", &protocol)]),
        ),
        Some((finals, required)) => Violation::new(
            "applications",
            ErrorCode::EvaluationsMissing.with(&[
                ("protocol", &protocol),
                ("finals", &finals),
                ("required", &required),
            ]),
        ),
    }
}

/// The policy of a call's rankings.
pub fn policy(call: &Call) -> Policy {
    Policy {
        threshold: call.rules.scoring.threshold,
        tie_breaks: call.rules.ranking.tie_breaks.clone(),
        mode: call.rules.ranking.allocation_mode,
        partial: call.rules.ranking.partial_funding.clone(),
    }
}

/// A hash of everything a ranking depends on, to tell a stale draft.
pub fn inputs_hash(inputs: &Inputs, policy: &Policy) -> String {
    // The canonical document (RFC 8785) is written into the hash from typed views: no tree of
    // JSON values of every candidate and no string of the whole document are built (for
    // 10,000 candidates, tens of MB). The canonicaliser still holds each object's members to
    // sort them, so the candidates' array is held as text until the document's end.
    #[derive(Serialize)]
    struct Document<'a> {
        envelope: &'a Money,
        threshold: &'a Points,
        tie_breaks: &'a [TieBreak],
        mode: &'a AllocationMode,
        partial: &'a PartialFunding,
        candidates: Vec<CandidateDoc<'a>>,
    }
    #[derive(Serialize)]
    struct CandidateDoc<'a> {
        application_id: Uuid,
        protocol_number: &'a str,
        score: Option<String>,
        criteria: Vec<(&'a str, String)>,
        requested: &'a Money,
    }
    struct Hashing(Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let doc = Document {
        envelope: &inputs.envelope,
        threshold: &policy.threshold,
        tie_breaks: &policy.tie_breaks,
        mode: &policy.mode,
        partial: &policy.partial,
        candidates: inputs
            .candidates
            .iter()
            .map(|c| CandidateDoc {
                application_id: c.application_id,
                protocol_number: &c.protocol_number,
                score: c.score.map(|s| s.to_string()),
                criteria: c
                    .criteria
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.to_string()))
                    .collect(),
                requested: &c.requested,
            })
            .collect(),
    };
    let mut hashing = Hashing(Sha256::new());
    if serde_json_canonicalizer::to_writer(&doc, &mut hashing).is_err() {
        // As before: a document that cannot be written hashes as the empty one.
        return hex::encode(Sha256::digest(b""));
    }
    hex::encode(hashing.0.finalize())
}

/// Where a version of a ranking stands: computed as a `draft`, or `approved` (frozen and
/// published; the versions that scorrimento publishes are approved too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RankingVersionStatus {
    Draft,
    Approved,
}

impl RankingVersionStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            RankingVersionStatus::Draft => "draft",
            RankingVersionStatus::Approved => "approved",
        }
    }

    pub fn parse(s: &str) -> Option<RankingVersionStatus> {
        match s {
            "draft" => Some(RankingVersionStatus::Draft),
            "approved" => Some(RankingVersionStatus::Approved),
            _ => None,
        }
    }

    pub fn is_approved(&self) -> bool {
        *self == RankingVersionStatus::Approved
    }
}

/// Where an agency's ranking stands, from its versions' statuses alone: `none` before its
/// first version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RankingStatus {
    None,
    Draft,
    Approved,
}

impl RankingStatus {
    /// From the statuses of its versions.
    pub fn of(versions: impl IntoIterator<Item = RankingVersionStatus>) -> RankingStatus {
        let mut status = RankingStatus::None;
        for v in versions {
            if v.is_approved() {
                return RankingStatus::Approved;
            }
            status = RankingStatus::Draft;
        }
        status
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            RankingStatus::None => "none",
            RankingStatus::Draft => "draft",
            RankingStatus::Approved => "approved",
        }
    }

    pub fn parse(s: &str) -> Option<RankingStatus> {
        match s {
            "none" => Some(RankingStatus::None),
            "draft" => Some(RankingStatus::Draft),
            "approved" => Some(RankingStatus::Approved),
            _ => None,
        }
    }
}

/// The warning of a ranking not approved by its call's target date.
pub fn approval_warning(call: &Call, approved: bool, now: DateTime<Utc>) -> Option<String> {
    let target = call
        .window
        .ranking_target_date(call.rules.ranking.approval_target_days);
    let today = now.with_timezone(&CALL_TIME_ZONE).date_naive();
    (!approved && today > target).then(|| format!("The approval target date {target} has passed."))
}

/// An agency's progress through a call's review, counted from its submitted applications.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub received: u32,
    pub under_review: u32,
    pub admitted: u32,
    pub inadmissible: u32,
    pub scored: u32,
    pub eligible: u32,
}

impl Progress {
    pub fn count(applications: impl IntoIterator<Item = Reviewed>) -> Progress {
        let mut p = Progress::default();
        for a in applications {
            p.received += 1;
            match a {
                Reviewed::Admitted { scored, eligible } => {
                    p.admitted += 1;
                    p.scored += u32::from(scored);
                    p.eligible += u32::from(eligible);
                }
                Reviewed::Inadmissible => p.inadmissible += 1,
                Reviewed::Pending => p.under_review += 1,
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::percent::Percent;
    use proptest::prelude::*;

    fn policy(mode: AllocationMode, partial: bool) -> Policy {
        Policy {
            threshold: Points::parse("60").unwrap(),
            tie_breaks: vec![
                TieBreak::HigherCriterionScore {
                    criterion: "QUALITY".into(),
                },
                TieBreak::EarlierSubmission,
            ],
            mode,
            partial: PartialFunding {
                allowed: partial,
                min_share: Percent::parse("50.00").unwrap(),
            },
        }
    }

    fn cand(n: u32, score: &str, quality: &str, requested: &str) -> Candidate {
        Candidate {
            application_id: Uuid::from_u128(u128::from(n)),
            protocol_number: format!("C-{n:06}"),
            score: Some(score.parse().unwrap()),
            criteria: vec![("QUALITY".into(), quality.parse().unwrap())],
            requested: Money::parse(requested).unwrap(),
        }
    }

    fn outcomes(a: &Allocation) -> Vec<(String, Outcome, String)> {
        a.entries
            .iter()
            .map(|e| (e.protocol_number.clone(), e.outcome, e.amount.to_string()))
            .collect()
    }

    /// The inputs' hash as it was first computed, through a tree of JSON values: stored drafts
    /// carry hashes made this way, so the streamed hash must give the same digest.
    fn inputs_hash_through_values(inputs: &Inputs, policy: &Policy) -> String {
        let doc = serde_json::json!({
            "envelope": inputs.envelope,
            "threshold": policy.threshold,
            "tie_breaks": policy.tie_breaks,
            "mode": policy.mode,
            "partial": policy.partial,
            "candidates": inputs.candidates.iter().map(|c| serde_json::json!({
                "application_id": c.application_id, "protocol_number": c.protocol_number, "score": c.score.map(|s| s.to_string()),
                "criteria": c.criteria.iter().map(|(k, v)| serde_json::json!([k, v.to_string()])).collect::<Vec<_>>(), "requested": c.requested,
            })).collect::<Vec<_>>(),
        });
        let canonical = serde_json_canonicalizer::to_string(&doc).unwrap_or_default();
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }

    #[test]
    fn the_streamed_inputs_hash_is_the_hash_of_the_canonical_document() {
        let mut unscored = cand(3, "70.00", "12.5", "40000.00");
        unscored.score = None;
        unscored
            .criteria
            .push(("IMPACT".into(), "7".parse().unwrap()));
        let inputs = Inputs {
            candidates: vec![
                cand(1, "80.00", "20", "50000.00"),
                cand(2, "75.5", "19.25", "0.01"),
                unscored,
            ],
            envelope: Money::parse("120000.00").unwrap(),
            missing: vec![],
        };
        for (mode, partial) in [
            (AllocationMode::StrictOrder, true),
            (AllocationMode::SkipToFit, false),
        ] {
            let p = policy(mode, partial);
            assert_eq!(
                inputs_hash(&inputs, &p),
                inputs_hash_through_values(&inputs, &p)
            );
        }
        let empty = Inputs {
            candidates: vec![],
            envelope: Money::ZERO,
            missing: vec![],
        };
        let p = policy(AllocationMode::StrictOrder, true);
        assert_eq!(
            inputs_hash(&empty, &p),
            inputs_hash_through_values(&empty, &p)
        );
    }

    #[test]
    fn strict_order_funds_a_prefix_with_one_partial_then_waits() {
        let cs = vec![
            cand(1, "80.00", "20", "50000.00"),
            cand(2, "75.00", "20", "50000.00"),
            cand(3, "70.00", "20", "40000.00"),
            cand(4, "65.00", "20", "5000.00"),
            cand(5, "55.00", "20", "5000.00"),
        ];
        let a = rank_and_allocate(
            &cs,
            Money::parse("120000.00").unwrap(),
            &policy(AllocationMode::StrictOrder, true),
        );
        assert_eq!(
            outcomes(&a),
            vec![
                ("C-000001".into(), Outcome::Funded, "50000.00".into()),
                ("C-000002".into(), Outcome::Funded, "50000.00".into()),
                (
                    "C-000003".into(),
                    Outcome::PartiallyFunded,
                    "20000.00".into()
                ),
                ("C-000004".into(), Outcome::Reserve, "0.00".into()),
                ("C-000005".into(), Outcome::NotEligible, "0.00".into()),
            ]
        );
        assert_eq!(a.remaining, Money::ZERO);
    }

    #[test]
    fn a_remainder_below_the_minimum_share_is_not_offered() {
        let cs = vec![
            cand(1, "80.00", "20", "50000.00"),
            cand(2, "75.00", "20", "50000.00"),
            cand(3, "70.00", "20", "1000.00"),
        ];
        let a = rank_and_allocate(
            &cs,
            Money::parse("74999.99").unwrap(),
            &policy(AllocationMode::StrictOrder, true),
        );
        // 24,999.99 is less than half of 50,000.00: reserve, and so is everything after it.
        assert_eq!(a.entries[1].outcome, Outcome::Reserve);
        assert_eq!(a.entries[2].outcome, Outcome::Reserve);
        let a = rank_and_allocate(
            &cs,
            Money::parse("75000.00").unwrap(),
            &policy(AllocationMode::StrictOrder, true),
        );
        assert_eq!(
            (a.entries[1].outcome, a.entries[1].amount.to_string()),
            (Outcome::PartiallyFunded, "25000.00".into())
        );
    }

    #[test]
    fn a_decline_tops_up_the_partial_grant_first_then_funds_the_reserve() {
        let cs = vec![
            cand(1, "80.00", "20", "50000.00"),
            cand(2, "75.00", "20", "50000.00"),
            cand(3, "70.00", "20", "40000.00"),
            cand(4, "65.00", "20", "30000.00"),
        ];
        let p = policy(AllocationMode::StrictOrder, true);
        let first = rank_and_allocate(&cs, Money::parse("120000.00").unwrap(), &p);
        assert_eq!(first.entries[2].amount, Money::parse("20000.00").unwrap());
        // The second declines: 50,000.00 free; 20,000.00 complete the third, 30,000.00 fund the fourth.
        let lapsed = [Uuid::from_u128(2)].into();
        let committed = Money::parse("70000.00").unwrap();
        let free = Money::parse("120000.00")
            .unwrap()
            .checked_sub(committed)
            .unwrap();
        let next = scorrimento(
            &first,
            first.envelope,
            free,
            &lapsed,
            &Default::default(),
            &p,
        );
        assert_eq!(
            outcomes(&next),
            vec![
                ("C-000001".into(), Outcome::Funded, "50000.00".into()),
                ("C-000002".into(), Outcome::Lapsed, "0.00".into()),
                ("C-000003".into(), Outcome::Funded, "40000.00".into()),
                ("C-000004".into(), Outcome::Funded, "30000.00".into()),
            ]
        );
        assert_eq!(next.allocated, Money::parse("120000.00").unwrap());
    }

    #[test]
    fn skip_to_fit_funds_every_project_that_still_fits() {
        let cs = vec![
            cand(1, "80.00", "20", "50000.00"),
            cand(2, "75.00", "20", "50000.00"),
            cand(3, "70.00", "20", "10000.00"),
        ];
        let a = rank_and_allocate(
            &cs,
            Money::parse("65000.00").unwrap(),
            &policy(AllocationMode::SkipToFit, true),
        );
        let got: Vec<Outcome> = a.entries.iter().map(|e| e.outcome).collect();
        assert_eq!(
            got,
            vec![Outcome::Funded, Outcome::Reserve, Outcome::Funded]
        );
    }

    #[test]
    fn ties_are_broken_by_the_named_rule() {
        let cs = vec![
            cand(1, "70.00", "18", "1.00"),
            cand(2, "70.00", "20", "1.00"),
            cand(3, "70.00", "20", "1.00"),
        ];
        let a = rank_and_allocate(
            &cs,
            Money::parse("10.00").unwrap(),
            &policy(AllocationMode::StrictOrder, true),
        );
        let order: Vec<(&str, Option<&str>)> = a
            .entries
            .iter()
            .map(|e| (e.protocol_number.as_str(), e.tie_break.as_deref()))
            .collect();
        assert_eq!(
            order,
            vec![
                ("C-000002", None),
                ("C-000003", Some("earlier_submission")),
                ("C-000001", Some("higher_criterion_score:QUALITY"))
            ]
        );
    }

    fn arb_candidates() -> impl Strategy<Value = Vec<Candidate>> {
        prop::collection::vec((5000u32..10_000, 0u32..250, 1i64..5_000_000), 0..40).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (score, quality, cents))| Candidate {
                    application_id: Uuid::from_u128(i as u128 + 1),
                    protocol_number: format!("C-{:06}", i + 1),
                    score: Some(Score::new(Decimal::new(i64::from(score), 2))),
                    criteria: vec![(
                        "QUALITY".into(),
                        Score::new(Decimal::new(i64::from(quality), 1)),
                    )],
                    requested: Money::from_cents(cents).unwrap(),
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn never_more_than_the_envelope_and_the_same_whatever_the_order(
            cs in arb_candidates(), envelope in 0i64..20_000_000, skip in any::<bool>(), partial in any::<bool>(), seed in any::<u64>()
        ) {
            let p = policy(if skip { AllocationMode::SkipToFit } else { AllocationMode::StrictOrder }, partial);
            let envelope = Money::from_cents(envelope).unwrap();
            let a = rank_and_allocate(&cs, envelope, &p);
            let sum = Money::sum(a.entries.iter().map(|e| e.amount)).unwrap();
            prop_assert!(sum <= envelope);
            prop_assert_eq!(sum, a.allocated);
            prop_assert_eq!(a.entries.len(), cs.len());
            let mut shuffled = cs.clone();
            let mut s = seed;
            for i in (1..shuffled.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            prop_assert_eq!(rank_and_allocate(&shuffled, envelope, &p), a.clone());
            // Scorrimento after the first funded entry lapses never exceeds the envelope
            // either, and gives the lapsed entry nothing.
            if let Some(gone) = a.entries.iter().find(|e| e.amount > Money::ZERO) {
                let lapsed = [gone.application_id].into();
                let committed = Money::sum(a.entries.iter().filter(|e| e.application_id != gone.application_id).map(|e| e.amount)).unwrap();
                let next = scorrimento(&a, envelope, envelope.checked_sub(committed).unwrap(), &lapsed, &Default::default(), &p);
                prop_assert!(next.allocated <= envelope);
                prop_assert_eq!(Money::sum(next.entries.iter().map(|e| e.amount)).unwrap(), next.allocated);
                prop_assert!(next.entries.iter().all(|e| e.application_id != gone.application_id || e.amount == Money::ZERO));
                prop_assert!(next.allocated >= committed);
            }
            let ranked: Vec<&Entry> = a.entries.iter().filter(|e| e.rank.is_some()).collect();
            if skip {
                // No reserve entry's request fits in what is left.
                for e in ranked.iter().filter(|e| e.outcome == Outcome::Reserve) {
                    prop_assert!(e.requested > a.remaining);
                }
            } else {
                // Funded entries are a prefix of the ranking, with at most one partial at its end.
                let funded = ranked.iter().take_while(|e| e.outcome == Outcome::Funded).count();
                let rest = &ranked[funded..];
                let partials = rest.iter().filter(|e| e.outcome == Outcome::PartiallyFunded).count();
                prop_assert!(partials <= 1);
                if partials == 1 {
                    prop_assert_eq!(rest[0].outcome, Outcome::PartiallyFunded);
                }
                prop_assert!(rest.iter().skip(partials).all(|e| e.outcome == Outcome::Reserve));
            }
        }
    }
}
