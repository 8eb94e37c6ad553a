//! The split of a regional call's total among its agencies: a share of the
//! total (e.g. 30%) in equal parts among all agencies, the rest in proportion
//! to population, exact to the cent. An agency may be pinned to a fixed amount.

use std::cmp::Reverse;
use std::fmt;

use super::error_code::ErrorCode;
use super::money::Money;
use super::percent::Percent;

/// Most agencies a split accepts (keeps the exact arithmetic inside `i128`).
pub const MAX_AGENCIES: usize = 100_000;

/// Largest accepted sum of all agencies' populations (keeps the exact
/// arithmetic inside `i128`).
pub const MAX_TOTAL_POPULATION: u64 = 1_000_000_000_000;

/// One agency taking part in a split.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct SplitShare {
    /// Agency code; unique within a split, also the tie-breaker and output order.
    pub code: String,
    /// Population the proportional part is weighted by.
    pub population: u64,
    /// A fixed amount the agency receives instead of its computed part.
    pub pinned: Option<Money>,
}

/// One agency's part of the total.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct SplitPart {
    /// Agency code.
    pub code: String,
    /// Amount assigned to the agency.
    pub amount: Money,
    /// Whether `amount` is the agency's pinned amount.
    pub pinned: bool,
}

/// Why a split cannot be computed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SplitError {
    /// No agencies were given.
    NoAgencies,
    /// Two agencies have the same code.
    DuplicateAgency,
    /// The pinned amounts exceed the total, or leave less than the equal part
    /// of the unpinned agencies.
    PinnedExceedTotal,
    /// There are unpinned agencies but their populations are all zero.
    ZeroPopulation,
    /// Every agency is pinned but the pinned amounts do not add up to the total.
    PinnedMismatch,
    /// More than [`MAX_AGENCIES`] agencies, or populations summing to more
    /// than [`MAX_TOTAL_POPULATION`].
    TooLarge,
}

impl SplitError {
    /// Stable machine-readable code, safe to expose in API error bodies.
    pub fn code(&self) -> ErrorCode {
        match self {
            SplitError::NoAgencies => ErrorCode::SplitNoAgencies,
            SplitError::DuplicateAgency => ErrorCode::SplitDuplicateAgency,
            SplitError::PinnedExceedTotal => ErrorCode::SplitPinnedExceedTotal,
            SplitError::ZeroPopulation => ErrorCode::SplitZeroPopulation,
            SplitError::PinnedMismatch => ErrorCode::SplitPinnedMismatch,
            SplitError::TooLarge => ErrorCode::SplitTooLarge,
        }
    }

    /// Human-readable explanation in English.
    pub fn message_en(&self) -> &'static str {
        self.code().en()
    }

    /// Human-readable explanation in Italian.
    pub fn message_it(&self) -> &'static str {
        self.code().it()
    }
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message_en())
    }
}

impl std::error::Error for SplitError {}

/// Splits `total` among `shares`: `equal_share` percent of the total in equal
/// parts among all `n` agencies, the rest in proportion to population.
///
/// A pinned agency gets exactly its pinned amount. Each unpinned agency `i`
/// gets `total·equal_share/(100·n) + L·population_i/S`, where
/// `L = total − Σpinned − u·total·equal_share/(100·n)` (u unpinned agencies)
/// and `S` is the unpinned agencies' total population. These exact amounts
/// are rounded down to the cent, and the cents left over go one by one to the
/// agencies with the largest remainders (ties: lower code first), so the
/// parts add up to exactly `total`. The result is sorted by code and does not
/// depend on the order of `shares`.
pub fn split_total(
    total: Money,
    equal_share: Percent,
    shares: &[SplitShare],
) -> Result<Vec<SplitPart>, SplitError> {
    if shares.is_empty() {
        return Err(SplitError::NoAgencies);
    }
    if shares.len() > MAX_AGENCIES {
        return Err(SplitError::TooLarge);
    }
    let mut agencies: Vec<&SplitShare> = shares.iter().collect();
    agencies.sort_by(|a, b| a.code.cmp(&b.code));
    if agencies.windows(2).any(|w| w[0].code == w[1].code) {
        return Err(SplitError::DuplicateAgency);
    }
    let population_sum: u128 = agencies.iter().map(|a| u128::from(a.population)).sum();
    if population_sum > u128::from(MAX_TOTAL_POPULATION) {
        return Err(SplitError::TooLarge);
    }

    // Everything below is exact integer arithmetic in cents. With the limits
    // above every intermediate value stays far below i128::MAX (< 10^37).
    let n = agencies.len() as i128;
    let t = i128::from(total.cents());
    let e = i128::from(equal_share.basis_points());
    let pinned_sum: i128 = agencies
        .iter()
        .filter_map(|a| a.pinned)
        .map(|m| i128::from(m.cents()))
        .sum();
    let unpinned: Vec<usize> = (0..agencies.len())
        .filter(|&i| agencies[i].pinned.is_none())
        .collect();
    let u = unpinned.len() as i128;

    if pinned_sum > t {
        return Err(SplitError::PinnedExceedTotal);
    }
    if u == 0 && pinned_sum != t {
        return Err(SplitError::PinnedMismatch);
    }

    // The equal part is t·e/(10000·n) cents; scaled by d1 = 10000·n it is t·e.
    let d1 = 10_000 * n;
    // L (what is left for the proportional parts), scaled by d1.
    let left_scaled = (t - pinned_sum) * d1 - u * t * e;
    if left_scaled < 0 {
        return Err(SplitError::PinnedExceedTotal);
    }
    let s: i128 = unpinned
        .iter()
        .map(|&i| i128::from(agencies[i].population))
        .sum();
    if u > 0 && s == 0 {
        return Err(SplitError::ZeroPopulation);
    }

    // Exact amount of unpinned agency i, in cents: num_i / denom, with
    // num_i = t·e·s + left_scaled·population_i and denom = d1·s.
    let denom = d1 * s;
    let mut cents: Vec<i128> = agencies
        .iter()
        .map(|a| a.pinned.map_or(0, |m| i128::from(m.cents())))
        .collect();
    let mut remainders: Vec<(usize, i128)> = Vec::with_capacity(unpinned.len());
    for &i in &unpinned {
        let num = t * e * s + left_scaled * i128::from(agencies[i].population);
        cents[i] = num / denom;
        remainders.push((i, num % denom));
    }

    // The exact amounts add up to total − Σpinned, so fewer than u cents are
    // left after rounding down. Hand them out by largest remainder; the sort
    // is stable and `agencies` is sorted by code, so ties go to lower codes.
    let leftover = t - cents.iter().sum::<i128>();
    debug_assert!((0..u.max(1)).contains(&leftover));
    remainders.sort_by_key(|&(_, rem)| Reverse(rem));
    for &(i, _) in remainders.iter().take(leftover as usize) {
        cents[i] += 1;
    }

    Ok(agencies
        .iter()
        .zip(cents)
        .map(|(a, c)| SplitPart {
            code: a.code.clone(),
            // Every part lies between 0 and `total`, so it is a valid amount.
            amount: Money::from_cents(c as i64).expect("a part never exceeds the total"),
            pinned: a.pinned.is_some(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn money(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn pct(s: &str) -> Percent {
        Percent::parse(s).unwrap()
    }

    fn share(code: &str, population: u64, pinned: Option<&str>) -> SplitShare {
        SplitShare {
            code: code.to_string(),
            population,
            pinned: pinned.map(money),
        }
    }

    fn amounts(parts: &[SplitPart]) -> Vec<(&str, String)> {
        parts
            .iter()
            .map(|p| (p.code.as_str(), p.amount.to_string()))
            .collect()
    }

    fn lombardy() -> Vec<SplitShare> {
        vec![
            share("MILANO", 3_469_225, None),
            share("INSUBRIA", 1_463_000, None),
            share("BRIANZA", 1_205_000, None),
            share("BERGAMO", 1_108_000, None),
            share("BRESCIA", 1_155_000, None),
            share("VAL_PADANA", 758_000, None),
            share("PAVIA", 537_000, None),
            share("MONTAGNA", 292_241, Some("293580.00")),
        ]
    }

    #[test]
    fn known_regional_example() {
        let total = money("5050000.00");
        let parts = split_total(total, pct("30.00"), &lombardy()).unwrap();

        // Sorted by code, pin kept, sum exact, nobody below the equal part.
        let codes: Vec<&str> = parts.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "BERGAMO",
                "BRESCIA",
                "BRIANZA",
                "INSUBRIA",
                "MILANO",
                "MONTAGNA",
                "PAVIA",
                "VAL_PADANA"
            ]
        );
        let montagna = parts.iter().find(|p| p.code == "MONTAGNA").unwrap();
        assert_eq!(montagna.amount, money("293580.00"));
        assert!(montagna.pinned);
        assert_eq!(Money::sum(parts.iter().map(|p| p.amount)), Some(total));
        let equal_part = money("189375.00"); // 5050000.00 × 30% / 8
        for p in parts.iter().filter(|p| !p.pinned) {
            assert!(p.amount >= equal_part, "{}: {}", p.code, p.amount);
        }

        // Independent check with decimals: 189375 + L·pop/S, where
        // L = 5050000 − 293580 − 7·189375 = 3430795 and S = 9695225.
        let left = Decimal::from(3_430_795);
        let s = Decimal::from(9_695_225);
        for (p, input) in parts.iter().filter(|p| !p.pinned).zip(
            // populations in code order, MONTAGNA skipped
            [
                1_108_000, 1_155_000, 1_205_000, 1_463_000, 3_469_225, 537_000, 758_000,
            ],
        ) {
            let exact = Decimal::from(189_375) + left * Decimal::from(input) / s;
            let diff = (p.amount.as_decimal() - exact).abs();
            assert!(
                diff < Decimal::new(1, 2),
                "{}: {} vs {}",
                p.code,
                p.amount,
                exact
            );
        }

        // Values worked out independently with exact fractions (in cents):
        // after rounding down 3 cents are left; they go to the largest
        // remainders BERGAMO (.78), VAL_PADANA (.70) and BRIANZA (.48).
        assert_eq!(
            amounts(&parts),
            [
                ("BERGAMO", "581456.76".to_string()),    // 58145675.78 cents, +1
                ("BRESCIA", "598088.38".to_string()),    // 59808838.47
                ("BRIANZA", "615781.61".to_string()),    // 61578160.48, +1
                ("INSUBRIA", "707078.62".to_string()),   // 70707862.06
                ("MILANO", "1417010.23".to_string()),    // 141701023.11
                ("MONTAGNA", "293580.00".to_string()),   // pinned
                ("PAVIA", "379400.18".to_string()),      // 37940018.40
                ("VAL_PADANA", "457604.22".to_string()), // 45760421.70, +1
            ]
        );
    }

    #[test]
    fn errors() {
        let p = pct("30.00");
        assert_eq!(
            split_total(money("1.00"), p, &[]),
            Err(SplitError::NoAgencies)
        );
        assert_eq!(
            split_total(
                money("1.00"),
                p,
                &[share("A", 1, None), share("A", 2, None)]
            ),
            Err(SplitError::DuplicateAgency)
        );
        // Pinned above the total.
        assert_eq!(
            split_total(
                money("100.00"),
                p,
                &[share("A", 1, Some("100.01")), share("B", 1, None)]
            ),
            Err(SplitError::PinnedExceedTotal)
        );
        // Pinned within the total, but not leaving B its equal part (15.00).
        assert_eq!(
            split_total(
                money("100.00"),
                p,
                &[share("A", 1, Some("85.01")), share("B", 1, None)]
            ),
            Err(SplitError::PinnedExceedTotal)
        );
        // Exactly the equal part left: fine.
        let parts = split_total(
            money("100.00"),
            p,
            &[share("A", 1, Some("85.00")), share("B", 1, None)],
        )
        .unwrap();
        assert_eq!(
            amounts(&parts),
            [("A", "85.00".into()), ("B", "15.00".into())]
        );
        assert_eq!(
            split_total(
                money("100.00"),
                p,
                &[share("A", 5, Some("10.00")), share("B", 0, None)]
            ),
            Err(SplitError::ZeroPopulation)
        );
        assert_eq!(
            split_total(
                money("100.00"),
                p,
                &[share("A", 1, Some("60.00")), share("B", 1, Some("39.99"))]
            ),
            Err(SplitError::PinnedMismatch)
        );
        assert_eq!(
            split_total(
                money("1.00"),
                p,
                &[share("A", MAX_TOTAL_POPULATION, None), share("B", 1, None)]
            ),
            Err(SplitError::TooLarge)
        );
    }

    #[test]
    fn error_codes_and_messages() {
        use SplitError::*;
        let all = [
            (NoAgencies, "split_no_agencies"),
            (DuplicateAgency, "split_duplicate_agency"),
            (PinnedExceedTotal, "split_pinned_exceed_total"),
            (ZeroPopulation, "split_zero_population"),
            (PinnedMismatch, "split_pinned_mismatch"),
            (TooLarge, "split_too_large"),
        ];
        for (err, code) in all {
            assert_eq!(err.code(), code);
            assert!(!err.message_en().is_empty());
            assert!(!err.message_it().is_empty());
            assert_eq!(err.to_string(), err.message_en());
        }
    }

    #[test]
    fn all_pinned_matching_total() {
        let parts = split_total(
            money("100.00"),
            pct("30.00"),
            &[share("B", 0, Some("60.00")), share("A", 0, Some("40.00"))],
        )
        .unwrap();
        assert_eq!(
            amounts(&parts),
            [("A", "40.00".into()), ("B", "60.00".into())]
        );
        assert!(parts.iter().all(|p| p.pinned));
    }

    #[test]
    fn ties_go_to_lower_codes() {
        // 0.02 among three identical agencies: A and B get the two cents.
        let shares = [
            share("C", 1, None),
            share("A", 1, None),
            share("B", 1, None),
        ];
        let parts = split_total(money("0.02"), pct("30.00"), &shares).unwrap();
        assert_eq!(
            amounts(&parts),
            [
                ("A", "0.01".into()),
                ("B", "0.01".into()),
                ("C", "0.00".into())
            ]
        );
    }

    #[test]
    fn simple_splits() {
        // One agency takes everything.
        let parts = split_total(money("123.45"), pct("30.00"), &[share("X", 7, None)]).unwrap();
        assert_eq!(amounts(&parts), [("X", "123.45".into())]);
        // Zero total.
        let parts = split_total(
            Money::ZERO,
            pct("30.00"),
            &[share("A", 1, None), share("B", 3, None)],
        )
        .unwrap();
        assert!(parts.iter().all(|p| p.amount == Money::ZERO));
        // 100% equal: populations do not matter.
        let parts = split_total(
            money("100.00"),
            pct("100.00"),
            &[share("A", 1, None), share("B", 99, None)],
        )
        .unwrap();
        assert_eq!(
            amounts(&parts),
            [("A", "50.00".into()), ("B", "50.00".into())]
        );
        // 0% equal: purely proportional; a zero-population agency gets nothing.
        let shares = [
            share("A", 1, None),
            share("B", 3, None),
            share("C", 0, None),
        ];
        let parts = split_total(money("100.00"), pct("0.00"), &shares).unwrap();
        assert_eq!(
            amounts(&parts),
            [
                ("A", "25.00".into()),
                ("B", "75.00".into()),
                ("C", "0.00".into())
            ]
        );
        // 30/70 with populations 1:3 on 100.00: 15 + 17.50 and 15 + 52.50.
        let parts = split_total(
            money("100.00"),
            pct("30.00"),
            &[share("A", 1, None), share("B", 3, None)],
        )
        .unwrap();
        assert_eq!(
            amounts(&parts),
            [("A", "32.50".into()), ("B", "67.50".into())]
        );
    }

    // ---- property tests ----------------------------------------------------

    /// Exact amount of every unpinned agency as a fraction (numerator,
    /// denominator) of cents, written straight from the rule in the brief.
    fn exact_amounts(
        total: Money,
        equal: Percent,
        shares: &[SplitShare],
    ) -> Vec<(String, i128, i128)> {
        let n = shares.len() as i128;
        let t = i128::from(total.cents());
        let e = i128::from(equal.basis_points());
        let pinned: i128 = shares
            .iter()
            .filter_map(|s| s.pinned)
            .map(|m| i128::from(m.cents()))
            .sum();
        let free: Vec<&SplitShare> = shares.iter().filter(|s| s.pinned.is_none()).collect();
        let u = free.len() as i128;
        let s: i128 = free.iter().map(|a| i128::from(a.population)).sum();
        // equal = t·e / (10000·n); L = t − pinned − u·equal; amount = equal + L·p/s
        let den = 10_000 * n * s;
        free.iter()
            .map(|a| {
                let equal_num = t * e * s; // over den
                let left_num = (t - pinned) * 10_000 * n - u * t * e; // over 10000·n
                (
                    a.code.clone(),
                    equal_num + left_num * i128::from(a.population),
                    den,
                )
            })
            .collect()
    }

    /// A feasible split: codes unique, shuffled; pins small enough that L ≥ 0;
    /// at least one unpinned agency.
    fn feasible() -> impl Strategy<Value = (Money, Percent, Vec<SplitShare>)> {
        let agency = (
            prop_oneof![1 => Just(0u64), 6 => 1u64..=10_000_000],
            any::<bool>(),
            0u32..=10_000,
        );
        (
            prop_oneof![0i64..=1_000, 0i64..=100_000_000_000_000],
            0u32..=10_000,
            proptest::collection::btree_set("[A-Z]{1,4}", 1..=12),
            proptest::collection::vec(agency, 12),
        )
            .prop_filter_map(
                "need an unpinned agency with people",
                |(t, bp, codes, raw)| {
                    let n = codes.len() as i128;
                    let shares: Vec<SplitShare> = codes
                        .into_iter()
                        .zip(raw)
                        .enumerate()
                        .map(|(i, (code, (population, pin, k)))| {
                            // Each pin ≤ t·(1 − e)/n, which always leaves L ≥ 0.
                            let pinned = (pin && i > 0).then(|| {
                                let c = i128::from(t) * i128::from(10_000 - bp) * i128::from(k)
                                    / (10_000 * 10_000 * n);
                                Money::from_cents(c as i64).unwrap()
                            });
                            SplitShare {
                                code,
                                population,
                                pinned,
                            }
                        })
                        .collect();
                    let people: u64 = shares
                        .iter()
                        .filter(|s| s.pinned.is_none())
                        .map(|s| s.population)
                        .sum();
                    (people > 0).then(|| {
                        (
                            Money::from_cents(t).unwrap(),
                            Percent::from_basis_points(bp).unwrap(),
                            shares,
                        )
                    })
                },
            )
            .prop_flat_map(|(t, p, shares)| (Just(t), Just(p), Just(shares).prop_shuffle()))
    }

    proptest! {
        #[test]
        fn parts_add_up_to_the_total((total, equal, shares) in feasible()) {
            let parts = split_total(total, equal, &shares).unwrap();
            prop_assert_eq!(parts.len(), shares.len());
            prop_assert_eq!(Money::sum(parts.iter().map(|p| p.amount)), Some(total));
            prop_assert!(parts.windows(2).all(|w| w[0].code < w[1].code));
        }

        #[test]
        fn pinned_amounts_are_kept((total, equal, shares) in feasible()) {
            let parts = split_total(total, equal, &shares).unwrap();
            for s in &shares {
                let part = parts.iter().find(|p| p.code == s.code).unwrap();
                prop_assert_eq!(part.pinned, s.pinned.is_some());
                if let Some(pin) = s.pinned {
                    prop_assert_eq!(part.amount, pin);
                }
            }
        }

        #[test]
        fn unpinned_parts_are_within_a_cent_of_exact((total, equal, shares) in feasible()) {
            let parts = split_total(total, equal, &shares).unwrap();
            for (code, num, den) in exact_amounts(total, equal, &shares) {
                let part = parts.iter().find(|p| p.code == code).unwrap();
                let c = i128::from(part.amount.cents());
                // |c − num/den| < 1 cent, and c is the floor or the floor + 1.
                prop_assert!((c * den - num).abs() < den, "{} {} vs {}/{}", code, c, num, den);
                prop_assert!(c == num / den || c == num / den + 1);
            }
        }

        #[test]
        fn order_of_input_does_not_matter(
            (total, equal, shares, shuffled) in feasible().prop_flat_map(|(t, p, s)| {
                (Just(t), Just(p), Just(s.clone()), Just(s).prop_shuffle())
            })
        ) {
            prop_assert_eq!(
                split_total(total, equal, &shares).unwrap(),
                split_total(total, equal, &shuffled).unwrap()
            );
        }

        #[test]
        fn equal_populations_without_pins_differ_by_at_most_a_cent(
            total in 0i64..=100_000_000_000_000,
            bp in 0u32..=10_000,
            n in 1usize..=30,
            population in 1u64..=10_000_000,
        ) {
            let shares: Vec<SplitShare> = (0..n)
                .map(|i| SplitShare { code: format!("A{i:02}"), population, pinned: None })
                .collect();
            let total = Money::from_cents(total).unwrap();
            let parts = split_total(total, Percent::from_basis_points(bp).unwrap(), &shares).unwrap();
            let max = parts.iter().map(|p| p.amount.cents()).max().unwrap();
            let min = parts.iter().map(|p| p.amount.cents()).min().unwrap();
            prop_assert!(max - min <= 1);
            prop_assert_eq!(Money::sum(parts.iter().map(|p| p.amount)), Some(total));
        }

        #[test]
        fn any_input_gives_a_valid_split_or_the_right_error(
            total in 0i64..=1_000_000,
            bp in 0u32..=10_000,
            raw in proptest::collection::vec(("[A-C]", 0u64..=5, proptest::option::of(0i64..=1_000_000)), 0..=5),
        ) {
            let total = Money::from_cents(total).unwrap();
            let equal = Percent::from_basis_points(bp).unwrap();
            let shares: Vec<SplitShare> = raw
                .into_iter()
                .map(|(code, population, pin)| SplitShare {
                    code,
                    population,
                    pinned: pin.map(|c| Money::from_cents(c).unwrap()),
                })
                .collect();
            match split_total(total, equal, &shares) {
                Ok(parts) => {
                    prop_assert_eq!(Money::sum(parts.iter().map(|p| p.amount)), Some(total));
                    for s in &shares {
                        let part = parts.iter().find(|p| p.code == s.code).unwrap();
                        if let Some(pin) = s.pinned {
                            prop_assert_eq!(part.amount, pin);
                        }
                    }
                }
                Err(SplitError::NoAgencies) => prop_assert!(shares.is_empty()),
                Err(SplitError::DuplicateAgency) => {
                    let mut codes: Vec<&str> = shares.iter().map(|s| s.code.as_str()).collect();
                    codes.sort_unstable();
                    codes.dedup();
                    prop_assert!(codes.len() < shares.len());
                }
                Err(SplitError::PinnedMismatch) => prop_assert!(shares.iter().all(|s| s.pinned.is_some())),
                Err(SplitError::ZeroPopulation) => prop_assert!(
                    shares.iter().filter(|s| s.pinned.is_none()).all(|s| s.population == 0)
                ),
                Err(SplitError::PinnedExceedTotal) => {
                    // Σpinned + u·equal part > total, i.e. L < 0.
                    let n = shares.len() as i128;
                    let u = shares.iter().filter(|s| s.pinned.is_none()).count() as i128;
                    let pinned: i128 = shares.iter().filter_map(|s| s.pinned).map(|m| i128::from(m.cents())).sum();
                    let t = i128::from(total.cents());
                    prop_assert!(pinned * 10_000 * n + u * t * i128::from(bp) > t * 10_000 * n);
                }
                Err(SplitError::TooLarge) => prop_assert!(false, "small inputs are never too large"),
            }
        }
    }
}
