//! How long ranking and allocation take for a large agency: `cargo bench --bench ranking`.
//! Prints the median of several runs for 10,000 and 100,000 applications, in both modes.

use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use uuid::Uuid;
use welfare_grants::domain::call::{AllocationMode, CallRules};
use welfare_grants::domain::money::Money;
use welfare_grants::domain::ranking::{Candidate, Policy, rank_and_allocate};
use welfare_grants::domain::score::Score;

/// Deterministic pseudo-random candidates: scores 50.00–100.00 with many ties.
fn candidates(n: usize) -> Vec<Candidate> {
    let mut s: u64 = 42;
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s >> 33
    };
    (0..n)
        .map(|i| Candidate {
            application_id: Uuid::from_u128(i as u128 + 1),
            protocol_number: format!("RLD-BENCH-{:06}", i + 1),
            score: Some(Score::new(Decimal::new(
                5000 + (next() % 500) as i64 * 10,
                2,
            ))),
            criteria: vec![(
                "QUALITY".into(),
                Score::new(Decimal::new((next() % 251) as i64, 1)),
            )],
            requested: Money::from_cents(1_000_000 + (next() % 4_000_000) as i64)
                .expect("valid amount"),
        })
        .collect()
}

fn main() {
    let rules = CallRules::lombardy_2022();
    println!(
        "{:<12} {:<14} {:>12} {:>12}",
        "applications", "mode", "median", "max"
    );
    for n in [10_000usize, 100_000] {
        let cs = candidates(n);
        let envelope = Money::parse("293580.00")
            .expect("valid")
            .checked_add(Money::from_cents(n as i64 * 100_000).expect("valid"))
            .expect("sum");
        for mode in [AllocationMode::StrictOrder, AllocationMode::SkipToFit] {
            let policy = Policy {
                threshold: rules.scoring.threshold,
                tie_breaks: rules.ranking.tie_breaks.clone(),
                mode,
                partial: rules.ranking.partial_funding.clone(),
            };
            let mut times: Vec<Duration> = (0..7)
                .map(|_| {
                    let t = Instant::now();
                    let a = rank_and_allocate(&cs, envelope, &policy);
                    std::hint::black_box(&a);
                    t.elapsed()
                })
                .collect();
            times.sort();
            println!(
                "{:<12} {:<14} {:>10.1}ms {:>10.1}ms",
                n,
                format!("{mode:?}"),
                times[3].as_secs_f64() * 1e3,
                times[6].as_secs_f64() * 1e3
            );
        }
    }
}
