//! Branches that only choose values, lowered as `select`s.
//!
//! A TAL `brif` whose two edges reach the same block (or both return)
//! through blocks with no instructions chooses between two argument lists:
//! it is lowered as one `select` per differing argument and one jump (or
//! return), which x86-64 does with `cmov` and no branch to mispredict.
//! Either edge, or both, may instead end at a *speculable* block — at most
//! [`MAX_SPECULATED`] instructions that cannot trap, call, touch memory or
//! charge fuel (constants, comparisons, bitwise operations), then a jump, a
//! return, or a `brif` whose edges reach one exit through empty blocks —
//! if its exit is the other edge's: that block is then computed before the
//! choice, on both paths. `if (x < lo) return lo; if (x > hi) return hi; return x;` becomes
//! two comparisons and two `cmov`s, called or inlined.
//!
//! Why this changes nothing observable, given verified TAL:
//! - A block with no instructions checks, calls and charges nothing, so
//!   skipping it changes no result, trap, trap location or fuel count; a
//!   speculable block's instructions cannot fail, so computing them on a
//!   path that did not run them changes nothing either (fuel is charged by
//!   `fuel N` instructions, which speculable blocks do not have).
//! - Values are block-local: an empty block passes on its own parameters;
//!   a speculable block's instructions use its parameters and earlier
//!   results only. A value outside them is an unverified module (C0002).
//! - Loop headers are never passed through or speculated, and only forward
//!   edges are followed, so every followed path is acyclic and at most
//!   [`MAX_THREADED`] blocks long: the work per `brif` is bounded.

use super::{FuncLowerer, err, icmp_value, logic_value, not_value, return_ok};
use crate::CodegenError;
use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{self, BlockArg, InstBuilder};
use cranelift_frontend::FunctionBuilder;
use tal_ir::{BinaryOp, BlockCall, InstKind, Terminator, UnaryOp, ValueId};

/// Empty blocks followed from one edge, at most.
const MAX_THREADED: usize = 8;
/// Instructions of a speculable block, at most.
const MAX_SPECULATED: usize = 4;

/// Where an edge ends after the empty blocks it passes through.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Exit {
    Block(usize),
    Return,
}

/// An edge followed to its end: where, and for each argument there (the
/// returned value, if any, for `Exit::Return`), its position among the
/// edge's own arguments.
struct Path {
    exit: Exit,
    sources: Vec<usize>,
}

impl FuncLowerer<'_> {
    /// Lowers `brif cond, then_to, else_to` as `select`s if it only chooses
    /// values (see the module doc); `false`, having emitted nothing, if not.
    pub(super) fn brif_as_select(
        &mut self,
        b: &mut FunctionBuilder,
        cond: ir::Value,
        then_to: &BlockCall,
        else_to: &BlockCall,
    ) -> Result<bool, CodegenError> {
        let (t, e) = (self.follow(then_to), self.follow(else_to));
        // Each edge reaches the common exit directly, or after speculating
        // the block it ends at.
        let (tk, ek) = (self.speculable(t.exit), self.speculable(e.exit));
        let (exit, speculate_then, speculate_else) = if t.exit == e.exit {
            (t.exit, false, false)
        } else if tk.is_some_and(|(_, x)| x == e.exit) {
            (e.exit, true, false)
        } else if ek.is_some_and(|(_, x)| x == t.exit) {
            (t.exit, false, true)
        } else if let (Some((_, x)), Some((_, y))) = (tk, ek)
            && x == y
        {
            (x, true, true)
        } else {
            return Ok(false);
        };
        let when_true = self.passed(then_to, &t)?;
        let when_true = match tk {
            Some((k, _)) if speculate_then => self.speculate(b, k, when_true)?,
            _ => when_true,
        };
        let when_false = self.passed(else_to, &e)?;
        let when_false = match ek {
            Some((k, _)) if speculate_else => self.speculate(b, k, when_false)?,
            _ => when_false,
        };
        self.choose(b, cond, exit, when_true, when_false)?;
        Ok(true)
    }

    /// Jumps to (or returns at) `exit` with, per argument, the one of
    /// `when_true` or `when_false` that `cond` picks.
    fn choose(
        &mut self,
        b: &mut FunctionBuilder,
        cond: ir::Value,
        exit: Exit,
        when_true: Vec<ir::Value>,
        when_false: Vec<ir::Value>,
    ) -> Result<(), CodegenError> {
        let args = selects(b, cond, when_true, when_false)?;
        match exit {
            Exit::Block(j) => {
                let to = *self
                    .blocks
                    .get(j)
                    .ok_or_else(|| err("C0002", "branch to a missing block"))?;
                let args: Vec<BlockArg> = args.into_iter().map(BlockArg::Value).collect();
                b.ins().jump(to, &args);
            }
            Exit::Return => {
                self.store_fuel(b);
                return_ok(b, args.first().copied());
            }
        }
        Ok(())
    }

    /// Follows `call` through empty blocks (see the module doc).
    fn follow(&self, call: &BlockCall) -> Path {
        let mut block = call.block.index();
        let mut sources: Vec<usize> = (0..call.args.len()).collect();
        for _ in 0..MAX_THREADED {
            let Some(tb) = self.func.blocks.get(block) else { break };
            if !tb.insts.is_empty() || tb.loop_end.is_some() {
                break;
            }
            let first = self.first_value[block];
            let source = |v: &ValueId| v.index().checked_sub(first).and_then(|i| sources.get(i)).copied();
            match &tb.term {
                Terminator::Jump(to) if to.block.index() > block => {
                    let Some(next) = to.args.iter().map(source).collect() else {
                        break;
                    };
                    (block, sources) = (to.block.index(), next);
                }
                Terminator::Return(v) => {
                    let Some(returned) = v.iter().map(source).collect() else {
                        break;
                    };
                    return Path {
                        exit: Exit::Return,
                        sources: returned,
                    };
                }
                _ => break,
            }
        }
        Path {
            exit: Exit::Block(block),
            sources,
        }
    }

    /// The values `call` passes on to the end of `path`.
    fn passed(&self, call: &BlockCall, path: &Path) -> Result<Vec<ir::Value>, CodegenError> {
        path.sources.iter().map(|&i| self.val(call.args[i])).collect()
    }

    /// The block `at` and the one exit it reaches, if it is speculable: a
    /// few instructions that cannot fail, then a jump, a return or a `brif`
    /// that only chooses values.
    fn speculable(&self, at: Exit) -> Option<(usize, Exit)> {
        let Exit::Block(k) = at else { return None };
        let block = self.func.blocks.get(k)?;
        let cheap = block.loop_end.is_none()
            && block.insts.len() <= MAX_SPECULATED
            && block.insts.iter().all(|i| i.catches.is_empty() && cannot_fail(&i.kind));
        let exit = match &block.term {
            Terminator::Jump(to) => self.follow(to).exit,
            Terminator::Return(_) => Exit::Return,
            Terminator::Brif { then_to, else_to, .. } => {
                let exit = self.follow(then_to).exit;
                (self.follow(else_to).exit == exit).then_some(exit)?
            }
            Terminator::Raise(_) => return None,
        };
        // A jump back (to a loop header) is not followed.
        (cheap && exit != Exit::Block(k)).then_some((k, exit))
    }

    /// Computes speculable block `k` here, its parameters bound to `params`:
    /// the values its `brif` passes on (to the exit `speculable` checked).
    fn speculate(
        &mut self,
        b: &mut FunctionBuilder,
        k: usize,
        params: Vec<ir::Value>,
    ) -> Result<Vec<ir::Value>, CodegenError> {
        let block = &self.func.blocks[k];
        let first = self.first_value[k];
        // The block's values, in numbering order, and whether each is a bool.
        let mut local: Vec<(ir::Value, bool)> = params
            .into_iter()
            .zip(block.params.iter().map(|t| *t == tal_ir::Type::Bool))
            .collect();
        let get = |local: &[(ir::Value, bool)], v: ValueId| {
            v.index()
                .checked_sub(first)
                .and_then(|i| local.get(i))
                .copied()
                .ok_or_else(|| err("C0002", format!("v{} is not in scope: not a verified module", v.0)))
        };
        for inst in &block.insts {
            let value = match inst.kind {
                InstKind::Iconst(v) => (b.ins().iconst(I64, v), false),
                InstKind::Bconst(v) => (b.ins().iconst(I64, i64::from(v)), true),
                InstKind::Event(e) => (b.ins().iconst(I64, i64::from(e.0)), false),
                InstKind::Icmp { cond, lhs, rhs } => {
                    let (x, y) = (get(&local, lhs)?.0, get(&local, rhs)?.0);
                    (icmp_value(b, cond, x, y), true)
                }
                InstKind::Unary { op: UnaryOp::Not, arg } => {
                    let (x, is_bool) = get(&local, arg)?;
                    (not_value(b, x, is_bool), is_bool)
                }
                InstKind::Binary { op, lhs, rhs } => {
                    let ((x, xb), (y, yb)) = (get(&local, lhs)?, get(&local, rhs)?);
                    let r = logic_value(b, op, x, y).ok_or_else(|| err("C0002", "speculated a checked operation"))?;
                    (r, xb && yb)
                }
                _ => return Err(err("C0002", "speculated an instruction that can fail")),
            };
            local.push(value);
        }
        let pick = |call: &BlockCall| -> Result<Vec<ir::Value>, CodegenError> {
            let path = self.follow(call);
            path.sources.iter().map(|&i| Ok(get(&local, call.args[i])?.0)).collect()
        };
        match &block.term {
            Terminator::Jump(to) => pick(to),
            Terminator::Return(v) => v.iter().map(|&v| Ok(get(&local, v)?.0)).collect(),
            Terminator::Brif { cond, then_to, else_to } => {
                let (when_true, when_false) = (pick(then_to)?, pick(else_to)?);
                selects(b, get(&local, *cond)?.0, when_true, when_false)
            }
            Terminator::Raise(_) => Err(err("C0002", "speculated a block that raises")),
        }
    }
}

/// Per position, the one of `when_true` or `when_false` that `cond` picks.
fn selects(
    b: &mut FunctionBuilder,
    cond: ir::Value,
    when_true: Vec<ir::Value>,
    when_false: Vec<ir::Value>,
) -> Result<Vec<ir::Value>, CodegenError> {
    if when_true.len() != when_false.len() {
        return Err(err("C0002", "a branch's edges pass different numbers of values"));
    }
    Ok(when_true
        .into_iter()
        .zip(when_false)
        .map(|(x, y)| if x == y { x } else { b.ins().select(cond, x, y) })
        .collect())
}

/// Whether an instruction is one a speculable block may hold: it cannot
/// trap, call, touch memory or charge fuel.
fn cannot_fail(kind: &InstKind) -> bool {
    matches!(
        kind,
        InstKind::Iconst(_)
            | InstKind::Bconst(_)
            | InstKind::Event(_)
            | InstKind::Icmp { .. }
            | InstKind::Unary { op: UnaryOp::Not, .. }
            | InstKind::Binary {
                op: BinaryOp::And | BinaryOp::Or | BinaryOp::Xor,
                ..
            }
    )
}
