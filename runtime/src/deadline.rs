//! The deadline: an invocation that runs past its CPU-time budget is
//! stopped, on the invoking thread, with no other thread and no timer.
//!
//! A host with a deadline hands an invocation its fuel in slices
//! ([`slice_for`] its extension's data region: [`SLICE`] units, or
//! [`SLICE_SMALL_DATA`] for a small region) (`api::prepare`); a fuel check
//! that finds its slice spent calls the host's `refuel` (ABI 6), which
//! asks [`Deadline::passed`] before it hands out the next. So the code
//! comes back to the host at least every slice plus `MAX_UNCHECKED` units
//! (the verifier's V0409 bounds the units between two fuel checks), and
//! an invocation shorter than a slice never does: it pays nothing for the
//! deadline.
//!
//! - **Time is the CPU time of the invoking thread**, as in the kernel,
//!   where extensions run without preemption: being preempted never counts
//!   against an extension. The thread's CPU clock is a system call, so it
//!   is read only when the monotonic clock (read from the vDSO, and never
//!   slower than one thread's CPU time) says the budget may be spent: at
//!   the first refuel of an invocation, and when the monotonic time since
//!   then reaches what is left of the budget.
//! - **Never early, at most two slices late.** Time is counted from the
//!   first refuel, which comes after one slice of work; the invocation is
//!   stopped at the first refuel after the budget is spent, at most a slice
//!   of work later. A slice of the slowest code measured takes at most
//!   about 0.3 ms (a pointer chase missing the cache on every load,
//!   43–58 ns per unit, in a large region; helper calls, 3 ns per unit, in
//!   a small one: docs/benchmarks.md), so an invocation ends within its
//!   budget plus about 0.6 ms: within the budget plus 1 ms.
//! - **Nested guards obey the invocation's deadline**: they refuel through
//!   the same host, whose clock the outermost invocation started
//!   ([`Deadline::start`]), and once passed it stays passed until the next
//!   outermost invocation. A guard that starts after it passed gets no
//!   slice (it stops at its first check), and the invocation a guard
//!   returns to from the deadline has its counter emptied by
//!   `set_attribute`, so it stops at its own next check.

use std::time::{Duration, Instant};

/// Fuel handed out at a time while a deadline is enforced: how much work
/// may pass between two looks at the clock, for an extension whose data
/// region may miss every cache (the slowest unit measured).
pub(crate) const SLICE: u64 = 4096;

/// The largest data region, in cells (256 KiB), for which the larger
/// [`SLICE_SMALL_DATA`] applies: small enough to stay in a core's L2 cache.
pub const SMALL_DATA_CELLS: u64 = 32768;

/// Fuel handed out at a time to an extension whose data region is at most
/// [`SMALL_DATA_CELLS`]: its slowest units (helper calls, a chase through
/// its whole region) are about ten times faster than a chase missing
/// every cache, so ten times the units take no longer than a [`SLICE`]
/// of those. Few invocations are longer (the QoS round over 64 processes
/// is 9,378 units), so few ever refuel.
pub(crate) const SLICE_SMALL_DATA: u64 = 32768;

/// The slice for an extension with `data_cells` cells of data.
pub(crate) fn slice_for(data_cells: usize) -> u64 {
    if data_cells as u64 <= SMALL_DATA_CELLS {
        SLICE_SMALL_DATA
    } else {
        SLICE
    }
}

/// The deadline of the outermost invocation running, if any.
pub(crate) struct Deadline {
    budget: Duration,
    /// The invocation's first refuel has read the clocks.
    started: bool,
    /// The thread's CPU time at that refuel.
    cpu_at_start: Duration,
    /// Before this monotonic instant the budget cannot be spent.
    not_before: Instant,
    /// The budget was found spent: every refuel until the next outermost
    /// invocation answers stop.
    passed: bool,
}

impl Deadline {
    pub(crate) fn new(budget: Duration) -> Deadline {
        Deadline {
            budget,
            started: false,
            cpu_at_start: Duration::ZERO,
            not_before: Instant::now(),
            passed: false,
        }
    }

    /// Begins an outermost invocation: its clock starts at its first refuel.
    #[inline(always)]
    pub(crate) fn start(&mut self) {
        self.started = false;
        self.passed = false;
    }

    /// Whether the running invocation's budget is spent: called by refuel,
    /// on the invoking thread.
    pub(crate) fn passed(&mut self) -> bool {
        if self.passed {
            return true;
        }
        let now = Instant::now();
        if !self.started {
            self.started = true;
            self.cpu_at_start = thread_cpu_time();
            self.not_before = now + self.budget;
            return false;
        }
        if now < self.not_before {
            return false;
        }
        let used = thread_cpu_time().saturating_sub(self.cpu_at_start);
        if used >= self.budget {
            self.passed = true;
        } else {
            // The CPU time left cannot pass sooner in monotonic time.
            self.not_before = now + (self.budget - used);
        }
        self.passed
    }

    /// Whether the last outermost invocation (or a guard in it) was stopped
    /// by the deadline.
    #[inline(always)]
    pub(crate) fn was_passed(&self) -> bool {
        self.passed
    }
}

/// The calling thread's CPU time.
pub fn thread_cpu_time() -> Duration {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid, writable timespec; the call writes only it.
    // CLOCK_THREAD_CPUTIME_ID is always supported on Linux, so a failure
    // (which would leave `t` zero) cannot happen; were it to, the deadline
    // would count no CPU time and fuel would still bound the invocation.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_refuel_starts_the_clock_and_spinning_past_the_budget_passes_it() {
        let mut d = Deadline::new(Duration::from_millis(2));
        d.start();
        // Read before the clock starts: what the deadline counts is no more.
        let t0 = thread_cpu_time();
        assert!(!d.passed(), "the first look starts the clock");
        let mut looks = 0u64;
        while !d.passed() {
            looks += 1;
            assert!(
                thread_cpu_time() - t0 < Duration::from_secs(5),
                "the deadline never passed"
            );
        }
        assert!(thread_cpu_time() - t0 >= Duration::from_millis(2), "passed early");
        assert!(looks > 0);
        assert!(d.passed() && d.was_passed(), "passed stays passed");
        d.start();
        assert!(!d.was_passed() && !d.passed(), "the next invocation starts afresh");
    }

    #[test]
    fn sleeping_does_not_count() {
        let mut d = Deadline::new(Duration::from_millis(5));
        d.start();
        assert!(!d.passed());
        std::thread::sleep(Duration::from_millis(20));
        assert!(!d.passed(), "20 ms asleep spent a 5 ms CPU budget");
    }
}
