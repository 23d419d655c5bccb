//! Computing `fuel` amounts, for producers of TAL.
//!
//! The verifier checks, independently, that each `fuel N` covers its region;
//! this is how a producer (front-end, generators) computes the tightest N.

use crate::{Function, Inst, InstKind};

/// Sets each `fuel N` (the first instruction of a block) to the longest
/// path through the region it starts: per block, its instructions (fuel
/// excluded) plus its terminator, plus the longest continuation through
/// forward successors — terminator and catch targets — that do not start
/// with their own `fuel`. Blocks are in layout order and loops are declared,
/// so every forward edge goes to a later block and one reverse pass suffices.
pub fn assign(func: &mut Function) {
    let starts_with_fuel = |insts: &[Inst]| {
        matches!(
            insts.first(),
            Some(Inst {
                kind: InstKind::Fuel(_),
                ..
            })
        )
    };
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
        let fuelled = starts_with_fuel(&block.insts);
        need[b] = (block.insts.len() + 1 - usize::from(fuelled)) as u64 + tail;
        if fuelled {
            blocks[b].insts[0].kind = InstKind::Fuel(need[b]);
        }
    }
}
