//! Random well-typed Popcorn-SX extensions, as source text.
//!
//! For property and differential tests of the front-end and code generation
//! ("every program the front-end accepts lowers to TAL the verifier
//! accepts", "compiled and interpreted runs give the same results, traps and
//! fuel exhaustion") and for the front-end's throughput benchmark.
//!
//! - [`program`] is a proptest [`Strategy`] of small complete extensions
//!   ([`Program`]) that shrink to smaller ones; [`sample`] gives the program
//!   of a seed without a proptest runner.
//! - [`large_extension`] writes an extension of about a given number of lines.
//!
//! # What a generated program is
//!
//! `extension gen; import cpu;`, 1–3 `const int`s, a `struct rec` with a
//! global `gs` and a global array `gps`, int and bool globals, int arrays with
//! and without initializer lists, helper functions `f0`, `f1`, … (int, bool
//! or void; `int`, `bool` and `int a[]` parameters), the entry point
//! `monitor void run(cap<cpu_qos> app)` and sometimes
//! `handler void h(cap<cpu_qos> app, int ev) on "Error"`.
//!
//! Programs are well-typed by construction (never by filtering) and keep
//! these rules, which a checker of docs/language.md may enforce:
//!
//! - every local is initialized at its declaration; names are never reused
//!   or shadowed within a function;
//! - function `k` calls only functions defined before it, so there is no
//!   recursion; entry points are never called; call chains are at most
//!   [`GenConfig::max_call_depth`] helpers deep, and straight-line code is
//!   kept short, so the verifier's stack model (4 KiB) holds;
//! - every non-void function ends in `return`; nothing follows a statement
//!   that cannot complete (`return`, `raise`, `break`, `continue`, an
//!   if/else that does on both sides), a `try` always completes through some
//!   handler, a `do … while` body always completes, and loop conditions are
//!   never compile-time constants, so no statement is unreachable;
//! - `break`/`continue` only inside loops; conditions are `bool`, never ints;
//!   arithmetic, bitwise operators, compound assignment and `++`/`--` only on
//!   ints; `!`, `&&`, `||` only on bools; `==`/`!=` on two ints or two bools;
//! - no constant expression (literals, `const`s, `size` of a global array)
//!   traps: no division by a known zero, no overflow in constant folding, no
//!   shift by a constant outside `0..64`, no known out-of-bounds index of a
//!   global array, no known out-of-range value for `timeslice_adjustment`;
//!   shift amounts are always in range (a literal or `e & 31`/`e & 63`);
//! - `app`, `get_attribute`, `set_attribute` and `raise_event` appear only in
//!   entry points, `raise_event` only in the monitor (so a handler cannot
//!   re-trigger itself); calls never appear in the index of an assigned
//!   array element.
//!
//! Run-time traps are intended: division and remainder by values that may be
//! zero, indices that may be out of bounds, arithmetic that may overflow,
//! `raise`, attribute writes out of range, and loops whose condition may
//! never become false (fuel bounds them).

#![forbid(unsafe_code)]

mod choice;
mod expr;
mod generator;
mod large;

pub use large::large_extension;

use choice::Source;
use proptest::strategy::{NewTree, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::fmt;

/// Size and content knobs. [`Default`] gives small programs: 1–5 helper
/// functions, blocks of 1–8 statements, statements nested at most 3 deep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenConfig {
    /// Most helper functions (at least one is generated when this is > 0).
    pub max_functions: usize,
    /// Most parameters of a helper function.
    pub max_params: usize,
    /// Most statements in one block.
    pub max_stmts_per_block: usize,
    /// Most statements in one function, all blocks together.
    pub max_stmts_per_function: usize,
    /// Deepest nesting of control statements (`if`, loops, `try`, blocks).
    pub max_depth: usize,
    /// Deepest expression tree (1: literals and names only).
    pub max_expr_depth: usize,
    /// Longest global array (at least 1).
    pub max_array_len: usize,
    /// Longest chain of helper calls below an entry point.
    pub max_call_depth: usize,
    /// `while`, `for`, `do … while`, `break`, `continue`.
    pub with_loops: bool,
    /// `try … handle`, `raise`.
    pub with_exceptions: bool,
    /// `get_attribute`, `set_attribute`, `raise_event` in entry points.
    pub with_attributes: bool,
    /// Sometimes a `handler … on "Error"` besides the monitor.
    pub with_handler: bool,
    /// The struct type, its global and its global array.
    pub with_structs: bool,
    /// Percentage of loops whose condition is arbitrary and may never become
    /// false (the others count to a bound).
    pub unbounded_loop_percent: usize,
    /// Emit `budget N;`.
    pub budget: Option<u64>,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            max_functions: 5,
            max_params: 3,
            max_stmts_per_block: 8,
            max_stmts_per_function: 40,
            max_depth: 3,
            max_expr_depth: 3,
            max_array_len: 8,
            max_call_depth: 3,
            with_loops: true,
            with_exceptions: true,
            with_attributes: true,
            with_handler: true,
            with_structs: true,
            unbounded_loop_percent: 5,
            budget: None,
        }
    }
}

/// Which constructs a program contains (set as they are generated).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Features {
    pub while_loops: bool,
    pub for_loops: bool,
    pub do_while_loops: bool,
    /// A loop whose condition is arbitrary (may run until fuel runs out).
    pub unbounded_loops: bool,
    pub break_stmt: bool,
    pub continue_stmt: bool,
    pub try_handle: bool,
    pub raise: bool,
    /// An array element read or written.
    pub arrays: bool,
    pub array_params: bool,
    /// A struct field read or written.
    pub structs: bool,
    pub calls: bool,
    pub division: bool,
    pub shifts: bool,
    pub get_attribute: bool,
    pub set_attribute: bool,
    pub raise_event: bool,
    pub handler: bool,
    /// `if (x < a) x = b; else if …`: a branch that only chooses a value.
    pub choices: bool,
}

/// A generated extension.
#[derive(Clone, PartialEq, Eq)]
pub struct Program {
    /// The whole `.pop` file.
    pub source: String,
    /// The monitor to run: `monitor void NAME(cap<cpu_qos> app)`.
    pub entry: String,
    /// The `handler void NAME(cap<cpu_qos> app, int ev) on "Error"`, if any.
    pub handler: Option<String>,
    /// The helper functions, in definition order.
    pub functions: Vec<String>,
    pub features: Features,
}

impl fmt::Debug for Program {
    /// The source as it is, so that a failing proptest case reads as a file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Program (entry {:?}, handler {:?}):", self.entry, self.handler)?;
        f.write_str(&self.source)
    }
}

/// Random well-typed extensions that shrink to smaller ones.
pub fn program(config: GenConfig) -> impl Strategy<Value = Program> {
    ProgramStrategy { config }
}

/// The program `program(config)` generates first from a ChaCha RNG seeded
/// with `seed`: the same on every machine and run.
pub fn sample(seed: u64, config: GenConfig) -> Program {
    let mut runner = TestRunner::new_with_rng(Config::default(), seeded_rng(seed));
    program(config)
        .new_tree(&mut runner)
        .expect("generation never rejects")
        .current()
}

pub(crate) fn seeded_rng(seed: u64) -> TestRng {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let word = seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

#[derive(Clone, Debug)]
struct ProgramStrategy {
    config: GenConfig,
}

impl Strategy for ProgramStrategy {
    type Tree = ProgramTree;
    type Value = Program;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let generated = Generated::new(&self.config, Source::Rng(runner.rng()));
        Ok(ProgramTree {
            config: self.config.clone(),
            base: generated,
            candidate: None,
            cursor: 0,
        })
    }
}

/// One program with the choices that made it.
struct Generated {
    program: Program,
    record: Vec<u32>,
    spans: Vec<(usize, usize)>,
    /// Shrinking order: sum of choices, then their count.
    measure: (u64, usize),
}

impl Generated {
    fn new(config: &GenConfig, source: Source<'_>) -> Self {
        let (program, mut record, mut spans) = generator::generate(config, source);
        // Trailing zeros are what an exhausted stream reads anyway.
        while record.last() == Some(&0) {
            record.pop();
        }
        spans.retain(|&(s, _)| s < record.len());
        for span in &mut spans {
            span.1 = span.1.min(record.len());
        }
        // Largest units first: they shrink the program fastest.
        spans.sort_by_key(|&(s, e)| (std::cmp::Reverse(e - s), s));
        let measure = (record.iter().map(|&v| u64::from(v)).sum(), record.len());
        Generated {
            program,
            record,
            spans,
            measure,
        }
    }
}

/// Shrinks by editing the choice stream: deleting the choices of a unit
/// (function, statement, else branch), replacing a unit by "absent", then
/// zeroing or decrementing single choices. A candidate is tried only if its
/// choices are strictly smaller (sum, then length), so shrinking terminates;
/// every candidate is a well-typed program because every stream is.
pub struct ProgramTree {
    config: GenConfig,
    base: Generated,
    candidate: Option<Generated>,
    cursor: usize,
}

impl fmt::Debug for ProgramTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProgramTree")
            .field("choices", &self.base.record.len())
            .field("cursor", &self.cursor)
            .finish()
    }
}

impl ProgramTree {
    /// The edited stream for candidate number `c` of the current base.
    fn edit(&self, c: usize) -> Option<Vec<u32>> {
        let base = &self.base.record;
        let spans = &self.base.spans;
        if c < 2 * spans.len() {
            let (s, e) = spans[c / 2];
            let mut v = base[..s].to_vec();
            if c % 2 == 1 {
                v.push(0);
            }
            v.extend_from_slice(&base[e..]);
            return Some(v);
        }
        let c = c - 2 * spans.len();
        let i = c / 2;
        if i >= base.len() {
            return None;
        }
        let mut v = base.clone();
        v[i] = if c.is_multiple_of(2) { 0 } else { v[i].saturating_sub(1) };
        Some(v)
    }

    fn next_candidate(&mut self) -> Option<Generated> {
        loop {
            let stream = self.edit(self.cursor)?;
            self.cursor += 1;
            let g = Generated::new(&self.config, Source::Replay(&stream));
            if g.measure < self.base.measure {
                return Some(g);
            }
        }
    }
}

impl ValueTree for ProgramTree {
    type Value = Program;

    fn current(&self) -> Program {
        self.candidate.as_ref().unwrap_or(&self.base).program.clone()
    }

    fn simplify(&mut self) -> bool {
        // The candidate shown last still fails: it becomes the base.
        if let Some(c) = self.candidate.take() {
            self.base = c;
            self.cursor = 0;
        }
        self.candidate = self.next_candidate();
        self.candidate.is_some()
    }

    fn complicate(&mut self) -> bool {
        // The candidate shown last passes: drop it and try the next edit.
        self.candidate = self.next_candidate();
        self.candidate.is_some()
    }
}
