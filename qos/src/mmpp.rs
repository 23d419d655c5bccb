//! The paper's disturbance: a CPU hog driven by a two-state Markov-modulated
//! process. Off, it sleeps for an exponential gap (mean 10 s); on, it
//! burns the CPU for a burst whose length in milliseconds is geometric
//! (mean 3 s); then off again.

use crate::random::Random;
use crate::sched::Us;

/// The disturbance's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mmpp {
    /// Mean gap between bursts, µs (exponential).
    pub mean_gap: Us,
    /// Mean burst, µs (geometric in whole `step`s).
    pub mean_burst: Us,
    /// A burst lasts a whole number of these.
    pub step: Us,
}

impl Default for Mmpp {
    /// The paper's: gaps of 10 s, bursts of 3 s, in milliseconds.
    fn default() -> Mmpp {
        Mmpp {
            mean_gap: 10_000_000,
            mean_burst: 3_000_000,
            step: 1_000,
        }
    }
}

impl Mmpp {
    /// The bursts `[start, end)` that begin before `horizon`, in order,
    /// drawn from `random`: a gap first, then a burst, and so on.
    pub fn bursts(&self, random: &mut Random, horizon: Us) -> Vec<(Us, Us)> {
        let step = self.step.max(1);
        let mut bursts = Vec::new();
        let mut at: Us = 0;
        loop {
            at = at.saturating_add(random.exponential(self.mean_gap));
            if at >= horizon {
                return bursts;
            }
            let length = random.geometric((self.mean_burst / step).max(1)) * step;
            bursts.push((at, at.saturating_add(length)));
            at = at.saturating_add(length);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_a_long_run_gaps_and_bursts_have_their_means() {
        let mmpp = Mmpp::default();
        let horizon = 200_000_000_000; // 200,000 s: about 15,000 bursts
        let bursts = mmpp.bursts(&mut Random::new(1), horizon);
        let n = bursts.len() as f64;
        assert!(n > 14_000.0, "{n} bursts");
        let mut previous_end = 0;
        let (mut gaps, mut lengths) = (0u64, 0u64);
        for &(start, end) in &bursts {
            assert!(start >= previous_end && end > start);
            assert_eq!((end - start) % mmpp.step, 0, "whole milliseconds");
            gaps += start - previous_end;
            lengths += end - start;
            previous_end = end;
        }
        let mean_gap = gaps as f64 / n / mmpp.mean_gap as f64;
        let mean_burst = lengths as f64 / n / mmpp.mean_burst as f64;
        assert!((mean_gap - 1.0).abs() < 0.05, "gaps: {mean_gap} of the mean");
        assert!((mean_burst - 1.0).abs() < 0.05, "bursts: {mean_burst} of the mean");
    }

    #[test]
    fn a_seed_gives_the_same_bursts() {
        let mmpp = Mmpp::default();
        let a = mmpp.bursts(&mut Random::new(9), 120_000_000);
        assert_eq!(a, mmpp.bursts(&mut Random::new(9), 120_000_000));
        assert_ne!(a, mmpp.bursts(&mut Random::new(10), 120_000_000));
    }
}
