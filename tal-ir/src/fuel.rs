//! Placing `fuel` and computing its amounts, for producers of TAL.
//!
//! The verifier checks, independently, that each `fuel N` covers its region
//! (V0407) and that no path runs more than [`MAX_UNCHECKED`] units between
//! two tests of the deadline (V0409); this is how a producer (front-end,
//! generators) meets both: it puts a `fuel` wherever a stretch would grow
//! past half that limit, sets the tightest N, and decides which plain
//! functions their callers pay for.
//!
//! The quantities are the verifier's (see its `fuel.rs`): per position, the
//! units to the next `fuel` (`fuel`), to the next test of the deadline
//! (`run`), and to the function's exit along test-free paths (`exit`); per
//! function, a summary its callers use. The walk mirrors the verifier's on
//! purpose rather than sharing its code: the producer is untrusted, and a
//! checker that ran the producer's own analysis would agree with its bugs
//! (`fuzz/pop_compile` and the 1,000-program tests check that every
//! placement verifies). The placement walk only adds tests,
//! and adding a test never makes a stretch longer, so one reverse walk per
//! function decides where they go and a second computes the amounts.

use crate::cost::{MAX_UNCHECKED, inst_cost, term_cost};
use crate::layout::Layout;
use crate::{BinaryOp, Callee, FuncKind, Function, Inst, InstKind, Module, Terminator};

/// The largest entry region a plain function hands to its callers: a
/// function this cheap is paid for by each call (no fuel check of its own),
/// a dearer one keeps its entry `fuel`. The bound keeps the instructions a
/// caller pays for but may not run (a callee's untaken paths) small, and
/// well under the stretch a caller may run between tests.
pub const MAX_CALLER_PAID: u64 = 256;

/// The longest stretch between tests this producer leaves: half the
/// verifier's limit, so that a run of cheap callees still fits.
const STRETCH_BUDGET: u64 = MAX_UNCHECKED / 2;

/// Which plain functions keep their entry `fuel`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EntryFuel {
    /// Drop it from each plain function whose entry region, callees'
    /// charges included, is at most [`MAX_CALLER_PAID`]: its callers pay.
    DropCheap,
    /// Keep every function's entry as written (a plain function written
    /// without `fuel` stays paid for by its callers).
    Keep,
}

/// Places the `fuel` instructions every stretch needs and sets each `fuel N`
/// of every function to the tightest amount, functions done callees first
/// (a call closing a cycle, which the verifier rejects, counts as a call of
/// an empty function). Existing `fuel` instructions stay; tests are added
/// at the start of a block or after an instruction.
pub fn assign_module(module: &mut Module, entries: EntryFuel) {
    let layout = Layout::new(module);
    let mut summaries = vec![Summary::default(); module.funcs.len()];
    for f in callees_first(module) {
        let func = &mut module.funcs[f];
        if func.blocks.is_empty() {
            continue;
        }
        let cuts = walk(&layout, func, &summaries, Some(STRETCH_BUDGET)).cuts;
        insert_fuel(func, cuts);
        let mut done = walk(&layout, func, &summaries, None);
        if entries == EntryFuel::DropCheap
            && func.kind == FuncKind::Plain
            && func.entry_fuel().is_some()
            && done.entry_region <= MAX_CALLER_PAID
        {
            func.blocks[0].insts.remove(0);
            done = walk(&layout, func, &summaries, None);
        }
        for ((b, i), amount) in done.amounts {
            func.blocks[b].insts[i].kind = InstKind::Fuel(amount);
        }
        summaries[f] = done.summary;
    }
}

/// What a call of a function costs its caller (the verifier's summary).
#[derive(Clone, Copy, Default)]
struct Summary {
    /// Fuel of its entry region if its callers pay for it, else 0.
    charge: u64,
    /// Units from its entry to its first test or exit, if it starts without `fuel`.
    lead: u64,
    /// The longest test-free stretch from a test made during a call to its exit.
    tail: Option<u64>,
    tests_at_entry: bool,
}

/// The walk's state at one position.
#[derive(Clone, Copy, Default)]
struct Ahead {
    fuel: u64,
    run: u64,
    exit: Option<u64>,
}

impl Ahead {
    fn max(self, other: Ahead) -> Ahead {
        Ahead {
            fuel: self.fuel.max(other.fuel),
            run: self.run.max(other.run),
            exit: self.exit.max(other.exit),
        }
    }
}

struct Walk {
    summary: Summary,
    /// The fuel the entry block's region needs (its first `fuel`'s amount).
    entry_region: u64,
    /// Where a placing walk wants a `fuel`: (block, instruction position).
    cuts: Vec<(usize, usize)>,
    /// The amount of each `fuel`, by position.
    amounts: Vec<((usize, usize), u64)>,
}

fn starts_with_fuel(insts: &[Inst]) -> bool {
    matches!(
        insts.first(),
        Some(Inst {
            kind: InstKind::Fuel(_),
            ..
        })
    )
}

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

/// One reverse walk over `func`. With a `budget` it also places tests:
/// wherever an edge's continuation would make a stretch longer than the
/// budget, it treats the edge's target position as a new `fuel` and
/// records it in `cuts` (the caller inserts them, then walks again for
/// exact amounts).
fn walk(layout: &Layout, func: &Function, summaries: &[Summary], budget: Option<u64>) -> Walk {
    let blocks = &func.blocks;
    let n = blocks.len();
    let mut at_start = vec![Ahead::default(); n];
    let mut tail: Option<u64> = None;
    let mut cuts = Vec::new();
    let mut amounts = Vec::new();
    let too_long = |run: u64| budget.is_some_and(|b| run > b);
    for b in (0..n).rev() {
        let block = &blocks[b];
        let cost = term_cost(&block.term);
        let mut ahead = Ahead::default();
        if let Terminator::Return(_) | Terminator::Raise(_) = block.term {
            ahead.exit = Some(0);
        }
        for t in block
            .term
            .targets()
            .map(|t| t.block.index())
            .filter(|&t| t > b && t < n)
        {
            if at_start[t].run > 0 && too_long(cost.saturating_add(at_start[t].run)) {
                cuts.push((t, 0));
                at_start[t] = Ahead::default();
            }
            ahead = ahead.max(at_start[t]);
        }
        ahead.fuel = ahead.fuel.saturating_add(cost);
        ahead.run = ahead.run.saturating_add(cost);
        ahead.exit = ahead.exit.map(|e| e.saturating_add(cost));
        for (i, inst) in block.insts.iter().enumerate().rev() {
            if let InstKind::Fuel(_) = inst.kind {
                amounts.push(((b, i), ahead.fuel));
                tail = tail.max(ahead.exit);
                ahead = Ahead::default();
                continue;
            }
            let cost = inst_cost(layout, func, inst);
            let callee = match inst.kind {
                InstKind::Call {
                    callee: Callee::Func(g),
                    ..
                } => Some(summaries.get(g.index()).copied().unwrap_or_default()),
                _ => None,
            };
            // The stretch this instruction makes of a continuation `run`.
            let stretch = |run: u64| match callee {
                Some(c) if c.tests_at_entry => c.tail.map_or(0, |t| t.saturating_add(run)),
                Some(c) => cost
                    .saturating_add(c.lead)
                    .saturating_add(run)
                    .max(c.tail.map_or(0, |t| t.saturating_add(run))),
                None => cost.saturating_add(run),
            };
            // A test helps only where none stands yet (`run` 0: a `fuel` follows).
            if ahead.run > 0 && too_long(stretch(ahead.run)) {
                cuts.push((b, i + 1));
                ahead = Ahead::default();
            }
            for t in inst
                .catches
                .iter()
                .map(|c| c.target.block.index())
                .filter(|&t| t > b && t < n)
            {
                if at_start[t].run > 0 && too_long(stretch(at_start[t].run)) {
                    cuts.push((t, 0));
                    at_start[t] = Ahead::default();
                }
                ahead = ahead.max(at_start[t]);
            }
            ahead = match callee {
                Some(c) => {
                    if let Some(t) = c.tail {
                        tail = tail.max(Some(t.saturating_add(ahead.exit.unwrap_or(0))));
                    }
                    let entry = cost.saturating_add(c.lead);
                    Ahead {
                        fuel: ahead.fuel.saturating_add(cost).saturating_add(c.charge),
                        run: if c.tests_at_entry {
                            cost
                        } else {
                            entry.saturating_add(ahead.run)
                        },
                        exit: (!c.tests_at_entry).then(|| entry.saturating_add(ahead.exit.unwrap_or(0))),
                    }
                }
                None => Ahead {
                    fuel: ahead.fuel.saturating_add(cost),
                    run: ahead.run.saturating_add(cost),
                    exit: if can_raise(&inst.kind) {
                        Some(ahead.exit.unwrap_or(0).saturating_add(cost))
                    } else {
                        ahead.exit.map(|e| e.saturating_add(cost))
                    },
                },
            };
        }
        at_start[b] = ahead;
    }
    let tests_at_entry = starts_with_fuel(&blocks[0].insts);
    let entry = at_start[0];
    let entry_region = if tests_at_entry {
        amounts.iter().find(|&&(at, _)| at == (0, 0)).map_or(0, |&(_, a)| a)
    } else {
        entry.fuel
    };
    Walk {
        summary: Summary {
            charge: if tests_at_entry { 0 } else { entry.fuel },
            lead: if tests_at_entry { 0 } else { entry.run },
            tail,
            tests_at_entry,
        },
        entry_region,
        cuts,
        amounts,
    }
}

/// Inserts a `fuel 0` at each cut (block, position), later positions of a
/// block first so that earlier ones stay valid.
fn insert_fuel(func: &mut Function, mut cuts: Vec<(usize, usize)>) {
    cuts.sort_unstable_by(|a, b| b.cmp(a));
    cuts.dedup();
    for (b, i) in cuts {
        func.blocks[b].insts.insert(
            i,
            Inst {
                kind: InstKind::Fuel(0),
                catches: Vec::new(),
                span: None,
            },
        );
    }
}

/// The module's functions in post-order of the call graph: callees before
/// their callers (where the graph has no cycle).
fn callees_first(module: &Module) -> Vec<usize> {
    let callees = |f: usize| {
        module.funcs[f]
            .blocks
            .iter()
            .flat_map(|b| &b.insts)
            .filter_map(|i| match i.kind {
                InstKind::Call {
                    callee: Callee::Func(g),
                    ..
                } if g.index() < module.funcs.len() => Some(g.index()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let n = module.funcs.len();
    let mut seen = vec![false; n];
    let mut order = Vec::with_capacity(n);
    for root in 0..n {
        if seen[root] {
            continue;
        }
        seen[root] = true;
        let mut stack = vec![(root, callees(root), 0)];
        while let Some((f, list, next)) = stack.last_mut() {
            if let Some(&g) = list.get(*next) {
                *next += 1;
                if !seen[g] {
                    seen[g] = true;
                    stack.push((g, callees(g), 0));
                }
            } else {
                order.push(*f);
                stack.pop();
            }
        }
    }
    order
}
