//! What each instruction costs: the unit of `fuel` and of the deadline's
//! latency bound. One definition, shared by the verifier (which checks the
//! amounts), producers of TAL (which compute them) and the reference
//! interpreter (which counts them as it runs).
//!
//! A unit is one simple machine operation's worth of work. Most
//! instructions cost one unit. An instruction that moves many cells costs
//! one unit per cell, because code generation emits one move per cell:
//!
//! - `init $N` zero-fills the slot: one unit per cell of the slot (at
//!   least one);
//! - a call passes its arguments: one unit plus one per argument word (a
//!   value is one word, a reference two: base and length);
//! - a helper call: [`HELPER_COST`] plus one per argument (the host's own
//!   work is bounded and measured, see `docs/benchmarks.md`); a read of an
//!   attribute compiles to loads, not a call, and costs one unit;
//! - a jump or branch passes its block arguments: one unit plus the
//!   arguments of its larger edge (only one edge is taken);
//! - `fuel` itself costs nothing: it pays for the code after it.
//!
//! So a program's run time is proportional to the units it executes
//! whatever instructions it is made of; the constant is derived, per kind
//! of instruction, in `docs/benchmarks.md` ("Deadline latency").

use crate::layout::Layout;
use crate::{Arg, Function, Inst, InstKind, Terminator};
use stdlib::HelperLowering;

/// The most units any path may run between two fuel checks (every `fuel`
/// but an entry point's first, which the host charges), callees included:
/// the verifier's V0409. An exhausted check calls the host's `refuel`,
/// which looks at the clock (ABI 6), so this bounds how much work can pass
/// beyond a slice of fuel before a deadline is seen. The slowest unit measured (`deadline_bench`) is
/// a load that misses every cache in a pointer chase through the largest
/// data region a host allows (8 MiB, one random cycle): 51–58 ns per unit
/// (a bounds check and a load per hop), so 1,024 units run in 52–59 µs;
/// divisions run them in 1.4 µs, other arithmetic, calls and zero-fills in
/// under 0.5 µs (`docs/benchmarks.md`, "Deadline latency").
pub const MAX_UNCHECKED: u64 = 1024;

/// Units a helper call costs besides its arguments: the host's side of it
/// (bounded work: a load, a queue push, a clock read, a guard's
/// bookkeeping; a guard's own code runs as a separate invocation).
pub const HELPER_COST: u64 = 8;

/// The cost of instruction `inst` of `func`, whose module is laid out as
/// `layout`. Never panics: an instruction naming something that does not
/// exist (which the verifier rejects) costs one unit.
pub fn inst_cost(layout: &Layout, func: &Function, inst: &Inst) -> u64 {
    match &inst.kind {
        InstKind::Fuel(_) => 0,
        InstKind::Init(slot) => func
            .slots
            .get(slot.index())
            .and_then(|&ty| layout.obj_cells(ty))
            .unwrap_or(1)
            .max(1),
        InstKind::Call { args, .. } => args.iter().fold(1u64, |sum, arg| {
            sum.saturating_add(match arg {
                Arg::Value(_) => 1,
                Arg::Ref(_) => 2,
            })
        }),
        InstKind::Helper { id, args, .. } => match stdlib::helper_by_id(*id).map(|h| h.lowering) {
            // Compiled to loads from the row the host publishes: no call.
            Some(HelperLowering::ReadAttribute) => 1,
            _ => HELPER_COST.saturating_add(args.len() as u64),
        },
        _ => 1,
    }
}

/// The cost of a terminator: one unit plus the block arguments of its
/// larger edge.
pub fn term_cost(term: &Terminator) -> u64 {
    let args = term.targets().map(|t| t.args.len() as u64).max().unwrap_or(0);
    1u64.saturating_add(args)
}
