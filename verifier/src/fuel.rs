//! The fuel pass: each `fuel N` covers its region (**V0407**), and no path
//! runs more than [`MAX_UNCHECKED`] units between two tests of the
//! deadline (**V0409**).
//!
//! Costs are `tal_ir::cost`'s units. Compiled code checks its fuel, and so
//! may reach the host's `refuel`, which enforces the deadline (ABI 6), at
//! every `fuel` except an entry point's first one, which the host charges
//! when it starts the invocation (ABI 4) — the invocation's start is then
//! the test. So both rules are about the points
//! where a `fuel` stands, and one reverse walk over each function's
//! instructions decides both: forward edges go to later blocks, back edges
//! to loop headers, which start with `fuel`.
//!
//! Per position the walk knows, for the code from there on:
//!
//! - `fuel`: the units to the next `fuel` or the function's exit, the
//!   longest path, callees its callers pay for included (their *charge*);
//! - `run`: the units to the next test or the exit (a call of a function
//!   that starts with `fuel` ends a run at the callee's test);
//! - `exit`: the units to the function's exit along paths with no test —
//!   `None` if every path tests first. An instruction that can raise is an
//!   exit (its exception may leave the function).
//!
//! A function's summary for its callers: its charge and `lead` (the `fuel`
//! and `run` of its entry, if it starts without `fuel`), and its `tail`:
//! the longest `exit` from a test made during a call of it, in it or in its
//! callees. A run does not stop at a return: the caller's code after the
//! call continues it, so a call of `g` starts a run of `tail(g)` plus what
//! follows the call. This is how a chain of returns is bounded, and why a
//! tree of check-free callees cannot hide a long stretch: their cost is in
//! every caller's run.
//!
//! Summaries flow from callees to callers, so the call-graph pass runs this
//! one function at a time in post-order (callees first). A call that closes
//! a cycle (rejected with V0501) counts as a call of an empty function.

use crate::Sink;
use tal_ir::cost::{MAX_UNCHECKED, inst_cost, term_cost};
use tal_ir::layout::Layout;
use tal_ir::{BinaryOp, BlockId, Callee, FuncId, Function, InstKind, Location, Module, Terminator};

/// What a call of a function costs its caller's regions and runs.
#[derive(Clone, Copy, Default)]
pub(crate) struct Summary {
    /// Fuel the caller pays for the function's entry region: 0 if the
    /// function starts with its own `fuel`.
    charge: u64,
    /// Units from its entry to its first test or its exit (0 if it starts
    /// with `fuel`).
    lead: u64,
    /// The longest test-free stretch from a test made during a call of it
    /// to its exit; `None` if a call of it never tests.
    tail: Option<u64>,
    /// Whether its entry block starts with `fuel` (a test, for a plain
    /// function).
    tests_at_entry: bool,
}

/// The walk's state at one position: see the module doc.
#[derive(Clone, Copy, Default)]
struct Ahead {
    fuel: u64,
    run: u64,
    exit: Option<u64>,
}

impl Ahead {
    /// The worse of two continuations (a branch, or a catch edge).
    fn max(self, other: Ahead) -> Ahead {
        Ahead {
            fuel: self.fuel.max(other.fuel),
            run: self.run.max(other.run),
            exit: self.exit.max(other.exit),
        }
    }
}

/// Whether an instruction can raise an exception, which may leave the
/// function (`fuel` ends the whole invocation: no code of it runs after).
fn can_raise(kind: &InstKind) -> bool {
    match kind {
        InstKind::Unary { .. }
        | InstKind::CheckNonZero(_)
        | InstKind::CheckBounds { .. }
        | InstKind::CheckRange { .. }
        | InstKind::CheckNull(_)
        | InstKind::Call { .. } => true,
        InstKind::Binary { op, .. } => !matches!(op, BinaryOp::And | BinaryOp::Or | BinaryOp::Xor),
        _ => false,
    }
}

/// Checks V0407 and V0409 for function `id`, whose body is `func`, the
/// summaries of its callees known; returns its own summary. `m` is read for
/// callee names only.
pub(crate) fn check(
    m: &Module,
    layout: &Layout,
    id: FuncId,
    func: &Function,
    summaries: &[Summary],
    sink: &mut Sink,
) -> Summary {
    let blocks = &func.blocks;
    let n = blocks.len();
    let mut at_start = vec![Ahead::default(); n];
    let mut tail: Option<u64> = None;
    // The continuation from the start of `target`, seen from block `from`:
    // a back edge (or one to a block that does not exist) goes to a loop
    // header, which starts with `fuel`, or the function pass rejected it.
    let from_block = |at_start: &[Ahead], from: usize, target: BlockId| {
        let t = target.index();
        if t > from && t < n {
            at_start[t]
        } else {
            Ahead::default()
        }
    };
    for b in (0..n).rev() {
        let block = &blocks[b];
        let cost = term_cost(&block.term);
        let mut ahead = match &block.term {
            Terminator::Return(_) | Terminator::Raise(_) => Ahead {
                fuel: 0,
                run: 0,
                exit: Some(0),
            },
            term => term
                .targets()
                .map(|t| from_block(&at_start, b, t.block))
                .fold(Ahead::default(), Ahead::max),
        };
        ahead = Ahead {
            fuel: ahead.fuel.saturating_add(cost),
            run: ahead.run.saturating_add(cost),
            exit: ahead.exit.map(|e| e.saturating_add(cost)),
        };
        for (i, inst) in block.insts.iter().enumerate().rev() {
            let loc = Location::Inst(id, BlockId(b as u32), i);
            let after = inst
                .catches
                .iter()
                .map(|c| from_block(&at_start, b, c.target.block))
                .fold(ahead, Ahead::max);
            let cost = inst_cost(layout, func, inst);
            ahead = match inst.kind {
                InstKind::Fuel(amount) => {
                    if amount < after.fuel || amount > i64::MAX as u64 {
                        sink.error(
                            "V0407",
                            loc,
                            format!(
                                "`fuel {amount}` does not cover its region (or exceeds i64): a path from it runs {} units, \
                                 callees paid for by their callers included, before the next `fuel`",
                                after.fuel
                            ),
                        );
                    }
                    long_stretch(sink, loc, after.run, "this `fuel` tests the deadline");
                    tail = tail.max(after.exit);
                    Ahead::default()
                }
                InstKind::Call {
                    callee: Callee::Func(g),
                    ..
                } => {
                    let callee = summaries.get(g.index()).copied().unwrap_or_default();
                    if let Some(t) = callee.tail {
                        long_stretch(
                            sink,
                            loc,
                            t.saturating_add(after.run),
                            &format!(
                                "`@{}` last tests the deadline up to {t} units before it returns, and the code after \
                                 the call continues that stretch",
                                m.funcs.get(g.index()).map_or("?", |f| f.name.as_str())
                            ),
                        );
                        tail = tail.max(Some(t.saturating_add(after.exit.unwrap_or(0))));
                    }
                    let entry = cost.saturating_add(callee.lead);
                    Ahead {
                        fuel: after.fuel.saturating_add(cost).saturating_add(callee.charge),
                        run: if callee.tests_at_entry {
                            cost
                        } else {
                            entry.saturating_add(after.run)
                        },
                        exit: if callee.tests_at_entry {
                            None
                        } else {
                            Some(entry.saturating_add(after.exit.unwrap_or(0)))
                        },
                    }
                }
                ref kind => Ahead {
                    fuel: after.fuel.saturating_add(cost),
                    run: after.run.saturating_add(cost),
                    exit: if can_raise(kind) {
                        Some(after.exit.unwrap_or(0).saturating_add(cost))
                    } else {
                        after.exit.map(|e| e.saturating_add(cost))
                    },
                },
            };
        }
        at_start[b] = ahead;
    }
    let tests_at_entry = func.entry_fuel().is_some();
    let entry = at_start.first().copied().unwrap_or_default();
    Summary {
        charge: if tests_at_entry { 0 } else { entry.fuel },
        lead: if tests_at_entry { 0 } else { entry.run },
        tail,
        tests_at_entry,
    }
}

/// Reports a stretch of `run` units from a test at `loc` if it is too long.
fn long_stretch(sink: &mut Sink, loc: Location, run: u64, why: &str) {
    if run > MAX_UNCHECKED {
        sink.error(
            "V0409",
            loc,
            format!(
                "{why}; then a path runs {run} units before the next test (callees included): at most \
                 {MAX_UNCHECKED} may run between two tests, so that a deadline stops any invocation promptly; \
                 put a `fuel` on the path"
            ),
        );
    }
}
