//! The fuel pass: each `fuel N` covers its region (**V0407**).
//!
//! A region is the code from a block that starts with `fuel` up to a
//! return, a raise, or the next block that starts with `fuel`. A function
//! whose entry block has no `fuel` (only plain functions may omit it,
//! **V0401**) is paid for by its callers: a call of it costs its callers'
//! regions the call instruction plus the function's entry region, its
//! *charge*. Calls of functions that start with `fuel` cost one
//! instruction: the callee pays for itself.
//!
//! Charges flow from callees to callers, so the call-graph pass runs this
//! one function at a time in post-order (callees first). A call that closes
//! a cycle (rejected with V0501) is charged nothing.

use crate::Sink;
use tal_ir::{BlockId, FuncId, Inst, InstKind, Location, Module};

/// What the function pass records of a function for this pass.
#[derive(Default)]
pub(crate) struct Regions {
    /// Instructions (`fuel` excluded) plus the terminator, per block.
    pub own_cost: Vec<u64>,
    /// Forward edges (target block) of block `b`:
    /// `edges[edge_start[b]..edge_start[b + 1]]`.
    pub edges: Vec<u32>,
    pub edge_start: Vec<usize>,
    /// Every call of a module function: (block, callee).
    pub calls: Vec<(u32, u32)>,
}

/// The `fuel N` a block starts with.
fn fuel_at(insts: &[Inst]) -> Option<u64> {
    match insts.first() {
        Some(Inst {
            kind: InstKind::Fuel(n),
            ..
        }) => Some(*n),
        _ => None,
    }
}

/// Checks that each `fuel N` of function `id` covers the longest path
/// through its region, callees' charges included. Forward edges go to later
/// blocks, so one reverse walk computes, per block, the cost from its start
/// to the end of its region. Returns the function's charge to its callers.
pub(crate) fn check(m: &Module, id: FuncId, regions: &Regions, charges: &[u64], sink: &mut Sink) -> u64 {
    let blocks = &m.funcs[id.index()].blocks;
    if regions.own_cost.len() != blocks.len() || blocks.is_empty() {
        return 0; // the function pass rejected it
    }
    let mut cost = regions.own_cost.clone();
    for &(block, callee) in &regions.calls {
        let charge = charges.get(callee as usize).copied().unwrap_or(0);
        cost[block as usize] = cost[block as usize].saturating_add(charge);
    }
    let mut need = vec![0u64; blocks.len()];
    for b in (0..blocks.len()).rev() {
        let succ_cost = regions.edges[regions.edge_start[b]..regions.edge_start[b + 1]]
            .iter()
            .map(|&s| match fuel_at(&blocks[s as usize].insts) {
                Some(_) => 0,
                None => need[s as usize],
            })
            .max()
            .unwrap_or(0);
        need[b] = cost[b].saturating_add(succ_cost);
        if let Some(n) = fuel_at(&blocks[b].insts)
            && (n < need[b] || n > i64::MAX as u64)
        {
            sink.error(
                "V0407",
                Location::Inst(id, BlockId(b as u32), 0),
                format!(
                    "`fuel {n}` does not cover its region (or exceeds i64): a path from block{b} runs {} instructions, \
                     callees paid for by their callers included, before the next `fuel`",
                    need[b]
                ),
            );
        }
    }
    match fuel_at(&blocks[0].insts) {
        Some(_) => 0,
        None => need[0],
    }
}
