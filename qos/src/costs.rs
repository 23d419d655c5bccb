//! What service management costs the CPU: the figures the simulation
//! charges, in nanoseconds — the paper's (its Benchmarks slide) or this
//! machine's (measured by `safexc experiment --bench`) — and their file
//! format.
//!
//! The file is one `key value` pair per line (`#` starts a comment), every
//! key exactly once, values whole nanoseconds:
//!
//! ```text
//! # safexc experiment costs, ns
//! kernel_per_app 7000
//! user_per_app 10000
//! proc_read 53870
//! context_switch 2990
//! signal 1500
//! ```

use crate::sched::Us;

/// What the service manager's work costs, ns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Costs {
    /// Kernel-level: the monitors and handlers of one application, in the kernel.
    pub kernel_per_app: u64,
    /// User-level: the same in the manager process.
    pub user_per_app: u64,
    /// Reading one process's `/proc/PID/stat`.
    pub proc_read: u64,
    /// One context switch.
    pub context_switch: u64,
    /// One signal (SIGSTOP or SIGCONT).
    pub signal: u64,
}

/// The keys of the file, in order, with a getter and a setter each.
type Field = (&'static str, fn(&Costs) -> u64, fn(&mut Costs, u64));
const FIELDS: [Field; 5] = [
    ("kernel_per_app", |c| c.kernel_per_app, |c, v| c.kernel_per_app = v),
    ("user_per_app", |c| c.user_per_app, |c, v| c.user_per_app = v),
    ("proc_read", |c| c.proc_read, |c, v| c.proc_read = v),
    ("context_switch", |c| c.context_switch, |c, v| c.context_switch = v),
    ("signal", |c| c.signal, |c, v| c.signal = v),
];

/// No cost is above a second: a larger value is a mistake, and this bound
/// keeps every product the simulation forms far from overflow.
pub const MAX_COST_NS: u64 = 1_000_000_000;

impl Costs {
    /// The paper's Benchmarks slide (a 500 MHz Pentium III): monitors and
    /// handlers for 3 processes took 20 µs in the kernel and 190 µs at
    /// user level, which includes reading `/proc/PID/stat` (53.87 µs each,
    /// so about 10 µs a process is left for the extensions); a context
    /// switch 2.99 µs; a signal 1.5 µs.
    pub const PAPER: Costs = Costs {
        kernel_per_app: 6_667,
        user_per_app: 9_463,
        proc_read: 53_870,
        context_switch: 2_990,
        signal: 1_500,
    };

    /// The file's text.
    pub fn to_text(&self, comment: &str) -> String {
        let mut text = String::new();
        for line in comment.lines() {
            text += &format!("# {line}\n");
        }
        for (key, get, _) in FIELDS {
            text += &format!("{key} {}\n", get(self));
        }
        text
    }

    /// Reads a costs file; the error names the line.
    pub fn from_text(text: &str) -> Result<Costs, String> {
        let mut costs = Costs::PAPER;
        let mut seen = [false; FIELDS.len()];
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let at = n + 1;
            let mut words = line.split_whitespace();
            let (Some(key), Some(value), None) = (words.next(), words.next(), words.next()) else {
                return Err(format!("line {at}: expected `key value`, found `{line}`"));
            };
            let Some(i) = FIELDS.iter().position(|f| f.0 == key) else {
                let keys: Vec<&str> = FIELDS.iter().map(|f| f.0).collect();
                return Err(format!(
                    "line {at}: unknown cost `{key}` (expected one of {})",
                    keys.join(", ")
                ));
            };
            if std::mem::replace(&mut seen[i], true) {
                return Err(format!("line {at}: `{key}` given twice"));
            }
            let value: u64 = value.parse().ok().filter(|&v| v <= MAX_COST_NS).ok_or_else(|| {
                format!("line {at}: `{key}` must be whole nanoseconds from 0 to {MAX_COST_NS}, found `{value}`")
            })?;
            (FIELDS[i].2)(&mut costs, value);
        }
        if let Some(i) = seen.iter().position(|s| !s) {
            return Err(format!("`{}` is missing", FIELDS[i].0));
        }
        Ok(costs)
    }
}

/// Turns nanosecond charges into the simulation's microseconds without
/// losing the fractions: what is left below a microsecond is carried to
/// the next charge, so a thousand 400 ns charges cost 400 µs.
#[derive(Clone, Debug, Default)]
pub struct Carry {
    ns: u64,
}

impl Carry {
    pub fn charge(&mut self, ns: u64) -> Us {
        self.ns += ns;
        let us = self.ns / 1000;
        self.ns %= 1000;
        us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_round_trips() {
        let c = Costs {
            kernel_per_app: 1,
            user_per_app: 2,
            proc_read: 3,
            context_switch: 4,
            signal: MAX_COST_NS,
        };
        assert_eq!(Costs::from_text(&c.to_text("measured\non x")), Ok(c));
        assert!(Costs::PAPER.to_text("a").starts_with("# a\nkernel_per_app 6667\n"));
    }

    #[test]
    fn a_bad_file_names_its_line() {
        let good = Costs::PAPER.to_text("");
        let cases = [
            (
                good.replace("signal 1500", "signal -1"),
                "line 5: `signal` must be whole",
            ),
            (good.replace("signal 1500", "signal 1000000001"), "line 5"),
            (good.replace("signal 1500", "signal"), "line 5: expected `key value`"),
            (good.replace("signal 1500", "sigal 1"), "line 5: unknown cost `sigal`"),
            (good.replace("signal 1500\n", ""), "`signal` is missing"),
            (good.clone() + "proc_read 1\n", "line 6: `proc_read` given twice"),
        ];
        for (text, want) in cases {
            let err = Costs::from_text(&text).unwrap_err();
            assert!(err.contains(want), "{err:?} lacks {want:?}");
        }
    }

    #[test]
    fn fractions_are_carried() {
        let mut carry = Carry::default();
        let total: Us = (0..1000).map(|_| carry.charge(400)).sum();
        assert_eq!(total, 400);
        assert_eq!(carry.charge(2_600), 2);
        assert_eq!(carry.charge(400), 1);
    }
}
