//! Computing `fuel` amounts, for producers of TAL.
//!
//! The verifier checks, independently, that each `fuel N` covers its region;
//! this is how a producer (front-end, generators) computes the tightest N,
//! and decides which plain functions their callers pay for.

use crate::{Callee, FuncKind, Function, Inst, InstKind, Module};

/// The largest entry region a plain function hands to its callers: a
/// function this cheap is paid for by each call (no fuel check of its own),
/// a dearer one keeps its entry `fuel`. The bound keeps the instructions a
/// caller pays for but may not run (a callee's untaken paths) small.
pub const MAX_CALLER_PAID: u64 = 1024;

fn starts_with_fuel(insts: &[Inst]) -> bool {
    matches!(
        insts.first(),
        Some(Inst {
            kind: InstKind::Fuel(_),
            ..
        })
    )
}

/// Sets each `fuel N` of every function (see [`assign`]) and removes the
/// entry `fuel` of each plain function whose entry region, callees' charges
/// included, is at most [`MAX_CALLER_PAID`]: its callers pay for it (the
/// verifier's V0407). Functions are done callees first; a call closing a
/// cycle (which the verifier rejects) is charged nothing.
pub fn assign_module(module: &mut Module) {
    let mut charges = vec![0u64; module.funcs.len()];
    for f in callees_first(module) {
        let func = &mut module.funcs[f];
        if func.blocks.is_empty() {
            continue;
        }
        let need = assign_with(func, &charges);
        let entry = &mut func.blocks[0].insts;
        if func.kind == FuncKind::Plain && starts_with_fuel(entry) && need <= MAX_CALLER_PAID {
            entry.remove(0);
        }
        if !starts_with_fuel(&func.blocks[0].insts) {
            charges[f] = need;
        }
    }
}

/// Sets each `fuel N` (the first instruction of a block) to the longest
/// path through the region it starts, counting calls as one instruction
/// (every callee with entry `fuel` pays for itself).
pub fn assign(func: &mut Function) {
    assign_with(func, &[]);
}

/// [`assign`], a call of function `g` also costing `charges[g]`; returns
/// the cost of the entry block's region (0 for a function without blocks).
/// Per block: its instructions (fuel excluded) plus its terminator, plus the
/// longest continuation through forward successors — terminator and catch
/// targets — that do not start with their own `fuel`. Blocks are in layout
/// order and loops are declared, so every forward edge goes to a later block
/// and one reverse pass suffices.
fn assign_with(func: &mut Function, charges: &[u64]) -> u64 {
    let blocks = &mut func.blocks;
    let mut need = vec![0u64; blocks.len()];
    for b in (0..blocks.len()).rev() {
        let block = &blocks[b];
        let catches = block.insts.iter().flat_map(|i| &i.catches).map(|c| &c.target);
        let tail = block
            .term
            .targets()
            .chain(catches)
            .map(|t| t.block.index())
            .filter(|&s| s > b && s < need.len() && !starts_with_fuel(&blocks[s].insts))
            .map(|s| need[s])
            .max()
            .unwrap_or(0);
        let calls: u64 = block
            .insts
            .iter()
            .map(|i| match i.kind {
                InstKind::Call {
                    callee: Callee::Func(g),
                    ..
                } => charges.get(g.index()).copied().unwrap_or(0),
                _ => 0,
            })
            .fold(0, u64::saturating_add);
        let fuelled = starts_with_fuel(&block.insts);
        need[b] = ((block.insts.len() + 1 - usize::from(fuelled)) as u64)
            .saturating_add(calls)
            .saturating_add(tail);
        if fuelled {
            blocks[b].insts[0].kind = InstKind::Fuel(need[b]);
        }
    }
    need.first().copied().unwrap_or(0)
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
