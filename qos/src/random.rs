//! Seeded randomness in integers only: exponential and geometric samples
//! computed with a fixed-point logarithm, so that a seed gives the same
//! run, bit for bit, on every machine (no floating-point `ln`, whose last
//! bit may differ between C libraries).

use rand::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;

/// Fractional bits of the fixed-point numbers here.
const FRAC: u32 = 32;
/// ln 2 in 32.32 fixed point.
const LN_2: u64 = 2_977_044_472;

/// `-ln(x / 2^64)` in 32.32 fixed point, for `x >= 1`: 0 for `x` near
/// 2^64, 44.36 for `x = 1`. Exact to about 2^-30.
pub fn neg_ln(x: u64) -> u64 {
    debug_assert!(x > 0);
    let x = x.max(1);
    // x = 2^e · m with m in [1, 2): log2(x) = e + log2(m).
    let e = 63 - x.leading_zeros();
    // m in 1.63 fixed point.
    let mut m = u128::from(x) << (63 - e);
    let mut frac = 0u64;
    // Bit by bit: squaring m doubles its log; past 2, that bit is 1.
    for bit in (0..FRAC).rev() {
        m = (m * m) >> 63;
        if m >= 2 << 63 {
            m >>= 1;
            frac |= 1 << bit;
        }
    }
    // log2(x / 2^64) = e + frac − 64 ≤ 0; its negation times ln 2.
    let neg_log2 = ((64 - u64::from(e)) << FRAC) - frac;
    ((u128::from(neg_log2) * u128::from(LN_2)) >> FRAC) as u64
}

/// A seeded source of the run's randomness.
pub struct Random(XorShiftRng);

impl Random {
    pub fn new(seed: u64) -> Random {
        Random(XorShiftRng::seed_from_u64(seed))
    }

    /// Uniform in [1, 2^64 − 1].
    fn nonzero(&mut self) -> u64 {
        self.0.next_u64().max(1)
    }

    /// An exponential sample with mean `mean`, rounded down.
    pub fn exponential(&mut self, mean: u64) -> u64 {
        let e = neg_ln(self.nonzero());
        ((u128::from(mean) * u128::from(e)) >> FRAC) as u64
    }

    /// A geometric sample on 1, 2, …: the number of trials up to the first
    /// success of trials that succeed with probability `1 / mean`.
    /// `mean` is at least 1.
    pub fn geometric(&mut self, mean: u64) -> u64 {
        if mean <= 1 {
            return 1;
        }
        // P(N > n) = (1 − p)^n, so N = 1 + floor(ln U / ln(1 − p)).
        let one_minus_p = u64::MAX - u64::MAX / mean;
        let per_trial = neg_ln(one_minus_p).max(1);
        1 + neg_ln(self.nonzero()) / per_trial
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_point_logarithm_is_exact_to_a_billionth() {
        for (x, expected) in [
            (1u64 << 63, std::f64::consts::LN_2),
            (1u64 << 62, 2.0 * std::f64::consts::LN_2),
            (1, 64.0 * std::f64::consts::LN_2),
            (u64::MAX, 0.0),
            (u64::MAX / 3, 3f64.ln()),
            (u64::MAX / 10, 10f64.ln()),
            (u64::MAX / 1000 * 999, -(0.999f64.ln())),
        ] {
            let got = neg_ln(x) as f64 / 2f64.powi(32);
            assert!((got - expected).abs() < 1e-8, "{x:#x}: {got} vs {expected}");
        }
    }

    #[test]
    fn samples_have_their_means() {
        let mut r = Random::new(7);
        let n = 200_000;
        let exp: u64 = (0..n).map(|_| r.exponential(10_000)).sum();
        let mean = exp as f64 / n as f64;
        assert!((mean / 10_000.0 - 1.0).abs() < 0.01, "exponential mean {mean}");
        let geo: u64 = (0..n).map(|_| r.geometric(3_000)).sum();
        let mean = geo as f64 / n as f64;
        assert!((mean / 3_000.0 - 1.0).abs() < 0.01, "geometric mean {mean}");
        assert!((0..1000).all(|_| r.geometric(5) >= 1));
        assert_eq!(r.geometric(1), 1);
    }

    #[test]
    fn a_seed_gives_the_same_samples() {
        let draw = |seed| {
            let mut r = Random::new(seed);
            (0..100).map(|_| r.exponential(1_000_000)).collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }
}
