//! Loads of globals that repeat a value the function already has.
//!
//! A TAL global is memory of its own: a store to global `a` (in bounds, as
//! every store is) never changes a cell of global `b`, and nothing but the
//! extension's own stores writes its data region during an invocation
//! (`stdlib::abi`, `Ctx::data`). So a load of a global's cell can reuse
//!
//! - the value an earlier load of the same cell gave, or
//! - the value an earlier store wrote to it,
//!
//! if on every path from there no store to that global, no store through a
//! reference parameter (which may point at any global), no call and no
//! helper other than an attribute read came in between. "The same cell"
//! is the same global, the same fields and the same index *value*: one SSA
//! value, or values equal by construction (the result of a check is its
//! operand; a block parameter every incoming edge passes the same value).
//! Two different index values are never assumed different: a store through
//! `a[j]` forgets every known cell of `a`.
//!
//! A forward must-analysis in layout order: a block starts with what every
//! incoming edge knows if every predecessor comes earlier in the layout
//! (so a loop header and a block after a back edge start knowing nothing),
//! and with nothing when it is the entry or a catch target. A reused value
//! is therefore defined on every path to the load, before it, in the same
//! iteration of every loop around both.
//!
//! Checks are untouched (a reused load keeps the bounds check before it),
//! so traps and their locations do not change; a load does not trap.

use std::collections::HashMap;
use tal_ir::{Function, InstKind, Root, ValueId};

/// A cell of a global: global, fields, index.
type Cell = (u32, Vec<u32>, Option<Index>);

/// An index: a canonical value, or a constant (equal wherever it is made).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Index {
    Value(u32),
    Const(i64),
}

/// Per instruction `(block, inst)` that loads a global, the earlier value
/// it repeats. (Values in the analysis are canonical value numbers: a value
/// stands for every value equal to it by construction, and it is defined
/// before all of them, on every path to them.)
#[derive(Default, Debug)]
pub struct Reuse {
    map: HashMap<(usize, usize), ValueId>,
}

impl Reuse {
    /// The value the load at `(block, inst)` repeats, if any.
    pub fn of(&self, block: usize, inst: usize) -> Option<ValueId> {
        self.map.get(&(block, inst)).copied()
    }

    pub fn analyze(func: &Function) -> Reuse {
        let first = first_values(func);
        // A reused load's result is the value it repeats (for the cells it
        // indexes and the values stored later).
        let mut canon = canonical(func, &first);
        let mut constant: HashMap<u32, i64> = HashMap::new();
        for (b, block) in func.blocks.iter().enumerate() {
            let results = block.insts.iter().filter(|i| i.kind.has_result());
            for (v, inst) in (first[b] + block.params.len()..).zip(results) {
                if let InstKind::Iconst(k) = inst.kind {
                    constant.insert(v as u32, k);
                }
            }
        }
        let index = |canon: &[u32], i: ValueId| {
            let c = canon[i.index()];
            constant.get(&c).map_or(Index::Value(c), |&k| Index::Const(k))
        };
        let n = func.blocks.len();
        // Incoming terminator edges per block; catch targets start empty.
        let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut caught = vec![false; n];
        for (i, block) in func.blocks.iter().enumerate() {
            for t in block.term.targets() {
                if let Some(p) = preds.get_mut(t.block.index()) {
                    p.push(i);
                }
            }
            for inst in &block.insts {
                for catch in &inst.catches {
                    if let Some(flag) = caught.get_mut(catch.target.block.index()) {
                        *flag = true;
                    }
                }
            }
        }
        let mut out: Vec<Option<HashMap<Cell, u32>>> = vec![None; n];
        let mut reuse = Reuse::default();
        for (b, block) in func.blocks.iter().enumerate() {
            let mut known: HashMap<Cell, u32> = if b == 0 || caught[b] || preds[b].is_empty() {
                HashMap::new()
            } else if preds[b].iter().all(|&p| p < b) {
                let mut states = preds[b].iter().map(|&p| out[p].as_ref().expect("an earlier block"));
                let first_state = states.next().expect("a predecessor").clone();
                states.fold(first_state, |mut acc, s| {
                    acc.retain(|cell, v| s.get(cell) == Some(v));
                    acc
                })
            } else {
                HashMap::new()
            };
            let mut next = first[b] + block.params.len();
            for (k, inst) in block.insts.iter().enumerate() {
                let result = inst.kind.has_result().then(|| {
                    let v = ValueId(next as u32);
                    next += 1;
                    v
                });
                match &inst.kind {
                    InstKind::Load(place) => {
                        if let Root::Global(g) = place.root {
                            let cell = (g.0, place.fields.clone(), place.index.map(|i| index(&canon, i)));
                            let r = result.expect("a load has a result");
                            match known.get(&cell) {
                                Some(&v) => {
                                    reuse.map.insert((b, k), ValueId(v));
                                    canon[r.index()] = v;
                                }
                                None => {
                                    known.insert(cell, canon[r.index()]);
                                }
                            }
                        }
                    }
                    InstKind::Store { place, value } => match place.root {
                        Root::Global(g) => {
                            known.retain(|cell, _| cell.0 != g.0);
                            let cell = (g.0, place.fields.clone(), place.index.map(|i| index(&canon, i)));
                            known.insert(cell, canon[value.index()]);
                        }
                        Root::Param(_) => known.clear(),
                        Root::Slot(_) => {}
                    },
                    // A callee may store to any global.
                    InstKind::Call { .. } => known.clear(),
                    InstKind::Helper { id, .. } => {
                        let reads = stdlib::helper_by_id(*id)
                            .is_some_and(|d| d.lowering == stdlib::HelperLowering::ReadAttribute);
                        if !reads {
                            known.clear();
                        }
                    }
                    InstKind::InlineAsm(_) => known.clear(),
                    _ => {}
                }
            }
            out[b] = Some(known);
        }
        reuse
    }
}

/// The number of each block's first value (its first parameter).
fn first_values(func: &Function) -> Vec<usize> {
    func.blocks
        .iter()
        .scan(0, |next, block| {
            let first = *next;
            *next += block.params.len() + block.insts.iter().filter(|i| i.kind.has_result()).count();
            Some(first)
        })
        .collect()
}

/// Per value, a value it always equals (itself if none other is known):
/// a check's result is its operand, and a block parameter is the value
/// every incoming edge (jumps, branches, catches) passes, if they agree.
fn canonical(func: &Function, first: &[usize]) -> Vec<u32> {
    let total = first.last().map_or(0, |&f| {
        let last = func.blocks.last().expect("blocks");
        f + last.params.len() + last.insts.iter().filter(|i| i.kind.has_result()).count()
    });
    let mut canon: Vec<u32> = (0..total as u32).collect();
    // Incoming arguments per block parameter.
    let mut incoming: Vec<Vec<Vec<ValueId>>> = func.blocks.iter().map(|b| vec![Vec::new(); b.params.len()]).collect();
    let mut add = |call: &tal_ir::BlockCall| {
        if let Some(params) = incoming.get_mut(call.block.index()) {
            for (p, &a) in params.iter_mut().zip(&call.args) {
                p.push(a);
            }
        }
    };
    for block in &func.blocks {
        for t in block.term.targets() {
            add(t);
        }
        for inst in &block.insts {
            for catch in &inst.catches {
                add(&catch.target);
            }
        }
    }
    // The entry block's parameters come from the caller.
    let mut changed = true;
    let mut rounds = 0;
    while changed && rounds < 16 {
        changed = false;
        rounds += 1;
        for (b, block) in func.blocks.iter().enumerate() {
            if b > 0 {
                for (p, args) in incoming[b].iter().enumerate() {
                    let me = (first[b] + p) as u32;
                    let mut common = None;
                    let mut agree = !args.is_empty();
                    for a in args {
                        let ca = canon[a.index()];
                        if ca == me {
                            continue;
                        }
                        match common {
                            None => common = Some(ca),
                            Some(x) if x == ca => {}
                            Some(_) => agree = false,
                        }
                    }
                    let new = match (agree, common) {
                        (true, Some(x)) => x,
                        _ => me,
                    };
                    if canon[me as usize] != new {
                        canon[me as usize] = new;
                        changed = true;
                    }
                }
            }
            let mut next = first[b] + block.params.len();
            for inst in &block.insts {
                if !inst.kind.has_result() {
                    continue;
                }
                let me = next;
                next += 1;
                if let InstKind::CheckBounds { value: v, .. }
                | InstKind::CheckNonZero(v)
                | InstKind::CheckRange { value: v, .. } = &inst.kind
                {
                    let new = canon[v.index()];
                    if canon[me] != new {
                        canon[me] = new;
                        changed = true;
                    }
                }
            }
        }
    }
    canon
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reuse(text: &str) -> Vec<((usize, usize), u32)> {
        let (module, _) = tal_ir::text::parse(text).unwrap_or_else(|e| panic!("{e:?}"));
        let r = Reuse::analyze(&module.funcs[0]);
        let mut v: Vec<_> = r.map.iter().map(|(&k, &v)| (k, v.0)).collect();
        v.sort();
        v
    }

    #[test]
    fn a_load_repeats_the_same_cell_until_its_global_is_stored_and_across_agreeing_joins_not_back_edges() {
        let text = "module m
global @a: [i64; 4] = zero
global @b: [i64; 4] = zero
func @f(i64, i64) -> i64 {
block0(v0: i64, v1: i64):
    fuel 40
    v2 = check.bounds v0, @a
    v3 = load @a[v2]
    v4 = check.bounds v0, @a
    v5 = load @a[v4]
    store @b[v2], v5
    v6 = load @a[v2]
    v7 = check.bounds v1, @a
    v8 = load @a[v7]
    store @a[v7], v3
    v9 = load @a[v2]
    v10 = load @a[v7]
    v11 = load @b[v2]
    v12 = icmp lt v0, v1
    brif v12, block1(v2, v9), block2(v2, v9)
block1(v13: i64, v14: i64):
    store @a[v13], v14
    jump block3(v13)
block2(v15: i64, v16: i64):
    jump block3(v15)
block3(v17: i64):
    v18 = load @a[v17]
    jump block4(v17)
block4(v19: i64) loop(block5):
    fuel 5
    v20 = load @a[v19]
    v21 = load @a[v19]
    v22 = icmp lt v20, v21
    brif v22, block5(v19), block6(v20)
block5(v23: i64):
    store @a[v23], v23
    jump block4(v23)
block6(v24: i64):
    ret v24
}
";
        assert_eq!(
            reuse(text),
            vec![
                // The same index through its checks; past a store to `b`.
                ((0, 4), 3),
                ((0, 6), 3),
                // `a[j]` and `a[i]` after a store through `a[j]`: only the
                // stored cell is known, as the value stored.
                ((0, 11), 3),
                ((0, 12), 3),
                // Both paths agree on `a[i]`: one stored `v14`, which is
                // `v9` passed on, the other kept the load `v9`.
                ((3, 0), 9),
                // In the loop header nothing is known (a back edge enters);
                // after its first load, the same cell repeats it.
                ((4, 2), 20),
            ]
        );
    }

    #[test]
    fn a_store_through_a_reference_or_a_disagreeing_join_forgets() {
        let text = "module m
global @a: [i64; 4] = zero
func @f(i64, %1: ref [i64; 4]) -> i64 {
block0(v0: i64):
    fuel 40
    v1 = check.bounds v0, @a
    v2 = load @a[v1]
    store %1[v1], v0
    v3 = load @a[v1]
    v4 = icmp lt v0, v3
    brif v4, block1(v1), block2(v1)
block1(v5: i64):
    store @a[v5], v0
    jump block3(v5)
block2(v6: i64):
    jump block3(v6)
block3(v7: i64):
    v8 = load @a[v7]
    ret v8
}
";
        assert_eq!(reuse(text), vec![]);
    }
}
