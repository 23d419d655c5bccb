//! The generator's only source of randomness: a stream of bounded choices.
//!
//! Generation draws every decision through [`Choices::below`] and records the
//! value it took. Replaying a recorded stream reproduces the program exactly;
//! replaying an edited one (values lowered, spans deleted) gives another
//! program that is well-typed by construction, because validity never depends
//! on the values drawn. That is how [`crate::ProgramTree`] shrinks. Every
//! decision is ordered so that 0 is the simplest outcome, and an exhausted
//! stream reads as zeros, so any prefix of a stream also makes a program.

use proptest::prelude::Rng;
use proptest::test_runner::TestRng;

pub(crate) enum Source<'a> {
    Rng(&'a mut TestRng),
    Replay(&'a [u32]),
}

pub(crate) struct Choices<'a> {
    source: Source<'a>,
    /// The value every choice took, in order.
    pub(crate) record: Vec<u32>,
    /// Choice ranges that generated one optional unit (a statement, a
    /// function, an else branch): deleting one leaves the rest aligned.
    pub(crate) spans: Vec<(usize, usize)>,
}

impl<'a> Choices<'a> {
    pub(crate) fn new(source: Source<'a>) -> Self {
        Choices {
            source,
            record: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// A value in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "choice among no alternatives");
        let i = self.record.len();
        let v = if n == 1 {
            0
        } else {
            match &mut self.source {
                Source::Rng(rng) => (rng.next_u64() % n as u64) as usize,
                Source::Replay(stream) => stream.get(i).map_or(0, |&v| v as usize % n),
            }
        };
        self.record.push(v as u32);
        v
    }

    /// A value in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`%; false on a zero choice.
    pub(crate) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) >= 100 - percent.min(100)
    }

    /// An index into `weights`, drawn with those weights (zero weights are
    /// never drawn; a zero choice gives the first alternative with weight).
    pub(crate) fn pick(&mut self, weights: &[usize]) -> usize {
        let total: usize = weights.iter().sum();
        let mut r = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if r < w {
                return i;
            }
            r -= w;
        }
        unreachable!("weights sum to {total}")
    }

    /// Where the next choice will be recorded.
    pub(crate) fn mark(&self) -> usize {
        self.record.len()
    }

    /// Records the choices since `start` as one deletable unit.
    pub(crate) fn span(&mut self, start: usize) {
        if self.record.len() > start {
            self.spans.push((start, self.record.len()));
        }
    }
}
