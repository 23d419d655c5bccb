//! The ranges a function's values can take, and which checks therefore
//! cannot fail.
//!
//! An interval analysis over the whole function: each value gets an
//! inclusive `lo..=hi` that holds whenever execution reaches its
//! definition. Constants are exact, checked arithmetic is interval
//! arithmetic (a result exists only if it did not overflow), a passed check
//! narrows its result and, for the rest of its block and the edges leaving
//! it past the check, its operand (so a second check of the same index
//! against an array at least as long cannot fail: `a[i] + b[i]` with `a`
//! and `b` of one length checks `i` once), `and` with a non-negative operand is non-negative,
//! and an edge taken on `icmp` narrows the compared values it passes (`i`
//! is below 256 in the body of `for (i = 0; i < 256; i++)`). Block
//! parameters join what every edge passes: jumps, branches and catches. A
//! block no edge reaches never runs, so its own edges pass nothing (the
//! front-end leaves such blocks after a `return` inside an `if`).
//!
//! One pass in layout order sees every forward edge before its target; what
//! back edges pass is kept across passes until nothing changes, a bound
//! that keeps growing jumping to `i64::MIN` or `i64::MAX` (widening).
//! Without a fixpoint after [`MAX_PASSES`] nothing is claimed. Anything not
//! modelled (loads, calls, helpers, shifts left) may be any `i64`.
//!
//! Lowering leaves out a check whose failure these ranges rule out; it is
//! then unreachable, so behaviour, traps and their locations are unchanged.

use std::collections::HashMap;
use tal_ir::{
    Arg, BinaryOp, Cond, Function, GlobalInit, InstKind, Module, ObjType, Root, Terminator, UnaryOp, ValueId,
};

/// Passes after which the analysis gives up. A loop takes three; one more
/// for each loop whose bounds come from a loop widened in the pass before.
const MAX_PASSES: usize = 8;

/// `lo..=hi`, never empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub lo: i64,
    pub hi: i64,
}

impl Range {
    pub const FULL: Range = Range {
        lo: i64::MIN,
        hi: i64::MAX,
    };

    fn exact(v: i64) -> Range {
        Range { lo: v, hi: v }
    }

    /// `lo..=hi` cut to `i64`; `None` if that leaves nothing.
    fn new(lo: i128, hi: i128) -> Option<Range> {
        let (lo, hi) = (lo.max(i64::MIN.into()), hi.min(i64::MAX.into()));
        (lo <= hi).then_some(Range {
            lo: lo as i64,
            hi: hi as i64,
        })
    }

    fn join(self, o: Range) -> Range {
        Range {
            lo: self.lo.min(o.lo),
            hi: self.hi.max(o.hi),
        }
    }

    fn meet(self, lo: i128, hi: i128) -> Option<Range> {
        Range::new(lo.max(self.lo.into()), hi.min(self.hi.into()))
    }

    fn contains(self, v: i64) -> bool {
        self.lo <= v && v <= self.hi
    }

    fn non_negative(self) -> bool {
        self.lo >= 0
    }

    /// The largest magnitude in the range.
    fn magnitude(self) -> i128 {
        i128::from(self.lo).abs().max(i128::from(self.hi).abs())
    }
}

/// What the analysis proved about one function.
pub struct Facts {
    /// Per TAL value (numbered in layout order).
    ranges: Vec<Range>,
    /// Per block, per instruction: its check cannot fail.
    safe: Vec<Vec<bool>>,
}

impl Facts {
    /// The range of a value (any `i64` if unknown).
    pub fn range(&self, v: ValueId) -> Range {
        self.ranges.get(v.index()).copied().unwrap_or(Range::FULL)
    }

    /// Whether instruction `inst` of block `block` cannot raise.
    pub fn cannot_fail(&self, block: usize, inst: usize) -> bool {
        self.safe.get(block).and_then(|b| b.get(inst)).copied().unwrap_or(false)
    }

    /// Analyses a function of a (verified) module, its loads of globals
    /// any value.
    #[cfg(test)]
    pub fn of(module: &Module, func: &Function) -> Facts {
        Facts::with_memory(module, func, &Memory::unknown(module)).0
    }

    /// Analyses a function of a (verified) module whose globals hold what
    /// `memory` says; with, per global, the range of the values the
    /// function stores to it (`None`: none), every value if no fixpoint.
    pub fn with_memory(module: &Module, func: &Function, memory: &Memory) -> (Facts, Vec<Option<Range>>) {
        let mut back: Vec<Vec<Option<Range>>> = func.blocks.iter().map(|b| vec![None; b.params.len()]).collect();
        let mut back_reached = vec![false; func.blocks.len()];
        for _ in 0..MAX_PASSES {
            let mut pass = Pass {
                module,
                func,
                memory,
                ranges: Vec::new(),
                safe: Vec::with_capacity(func.blocks.len()),
                incoming: func.blocks.iter().map(|b| vec![None; b.params.len()]).collect(),
                reached: vec![false; func.blocks.len()],
                back: &mut back,
                back_reached: &mut back_reached,
                changed: false,
                refined: HashMap::new(),
                stores: vec![None; module.globals.len()],
            };
            pass.run();
            if !pass.changed {
                let (ranges, safe, stores) = (pass.ranges, pass.safe, pass.stores);
                return (Facts { ranges, safe }, stores);
            }
        }
        // No fixpoint: every global the function stores to may get anything.
        let mut stores = vec![None; module.globals.len()];
        for inst in func.blocks.iter().flat_map(|b| &b.insts) {
            if let InstKind::Store { place, .. } = &inst.kind
                && let Root::Global(g) = place.root
                && let Some(s) = stores.get_mut(g.index())
            {
                *s = Some(Range::FULL);
            }
        }
        (
            Facts {
                ranges: Vec::new(),
                safe: Vec::new(),
            },
            stores,
        )
    }
}

/// Module passes after which [`Memory::of`] claims nothing.
const MAX_MODULE_PASSES: usize = 12;
/// Module passes after which a global's range that still grows is widened:
/// values flow from global to global one pass at a time (an input, the
/// error computed from it, the controller state from that, the output).
const WIDEN_AFTER: usize = 5;

/// What each global's cells can hold, whenever compiled code runs: the
/// invariant "every cell of global `g` holds a value in `globals[g]`".
///
/// It rests on one premise about hosts, which `stdlib::abi` states: an
/// extension's data region starts as its initial data (zero, then the
/// initializers: `GlobalLayout::initial_data`, the kernel module's copy of
/// `.safex.meta`'s initializers) and afterwards only the module's own
/// stores write it. Then the invariant holds at the start (each range
/// contains zero and the initializer's values) and every store keeps it:
/// at the fixpoint, `globals[g]` contains the range of every value any
/// function stores to `g`, computed with loads of every global giving its
/// range. A global passed by reference anywhere may be written through the
/// reference, under another root: it may hold anything. Without a fixpoint
/// after [`MAX_MODULE_PASSES`] (a range that keeps growing is widened to
/// the `i64` bound on that side after [`WIDEN_AFTER`] passes), nothing is
/// claimed.
///
/// Only the values matter, not which cell of an array or which field of a
/// struct holds them: every cell of a global shares one range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Memory {
    globals: Vec<Range>,
}

impl Memory {
    /// Nothing known: every global may hold anything.
    pub fn unknown(module: &Module) -> Memory {
        Memory {
            globals: vec![Range::FULL; module.globals.len()],
        }
    }

    /// The range of every cell of global `g`.
    pub fn global(&self, g: usize) -> Range {
        self.globals.get(g).copied().unwrap_or(Range::FULL)
    }

    /// The invariant of a verified module's globals.
    pub fn of(module: &Module) -> Memory {
        let initial: Vec<Range> = module
            .globals
            .iter()
            .map(|g| {
                let values: &[i64] = match &g.init {
                    GlobalInit::Zero => &[],
                    GlobalInit::Int(v) => std::slice::from_ref(v),
                    GlobalInit::Bool(b) => {
                        if *b {
                            &[1]
                        } else {
                            &[]
                        }
                    }
                    GlobalInit::Ints(v) => v,
                };
                values.iter().fold(Range::exact(0), |r, &v| r.join(Range::exact(v)))
            })
            .collect();
        // Globals passed by reference: written under another root.
        let mut escapes = vec![false; module.globals.len()];
        for f in &module.funcs {
            for inst in f.blocks.iter().flat_map(|b| &b.insts) {
                if let InstKind::Call { args, .. } = &inst.kind {
                    for a in args {
                        if let Arg::Ref(Root::Global(g)) = a
                            && let Some(e) = escapes.get_mut(g.index())
                        {
                            *e = true;
                        }
                    }
                }
            }
        }
        let mut memory = Memory {
            globals: initial
                .iter()
                .zip(&escapes)
                .map(|(&r, &e)| if e { Range::FULL } else { r })
                .collect(),
        };
        for pass in 0..MAX_MODULE_PASSES {
            let mut next = memory.globals.clone();
            for (slot, &r) in next.iter_mut().zip(&initial) {
                *slot = if *slot == Range::FULL { Range::FULL } else { r };
            }
            for f in &module.funcs {
                let (_, stores) = Facts::with_memory(module, f, &memory);
                for (slot, s) in next.iter_mut().zip(stores) {
                    if let Some(s) = s {
                        *slot = slot.join(s);
                    }
                }
            }
            // Never below the last pass's (an escaped global stays any
            // value), and widened when still growing after `WIDEN_AFTER`.
            for (n, &m) in next.iter_mut().zip(&memory.globals) {
                let grown = n.join(m);
                *n = if pass >= WIDEN_AFTER {
                    Range {
                        lo: if grown.lo < m.lo { i64::MIN } else { grown.lo },
                        hi: if grown.hi > m.hi { i64::MAX } else { grown.hi },
                    }
                } else {
                    grown
                };
            }
            if next == memory.globals {
                return memory;
            }
            memory.globals = next;
        }
        Memory::unknown(module)
    }
}

/// One pass in layout order.
struct Pass<'a> {
    module: &'a Module,
    func: &'a Function,
    memory: &'a Memory,
    /// Per global, the range of what this pass's stores write to it.
    stores: Vec<Option<Range>>,
    ranges: Vec<Range>,
    safe: Vec<Vec<bool>>,
    /// What forward edges pass, per block parameter, in this pass.
    incoming: Vec<Vec<Option<Range>>>,
    /// Blocks a forward edge reaches, in this pass.
    reached: Vec<bool>,
    /// What back edges passed, per block parameter, over all passes.
    back: &'a mut Vec<Vec<Option<Range>>>,
    /// Blocks a back edge reached, over all passes.
    back_reached: &'a mut Vec<bool>,
    changed: bool,
    /// Values narrowed by a check passed earlier in the current block, with
    /// their narrowed ranges.
    refined: HashMap<ValueId, Range>,
}

impl Pass<'_> {
    fn range(&self, v: ValueId) -> Range {
        if let Some(&r) = self.refined.get(&v) {
            return r;
        }
        self.ranges.get(v.index()).copied().unwrap_or(Range::FULL)
    }

    fn run(&mut self) {
        for (bi, block) in self.func.blocks.iter().enumerate() {
            self.refined.clear();
            for j in 0..block.params.len() {
                let r = match (self.incoming[bi][j], self.back[bi][j]) {
                    // The entry's parameters come from the caller.
                    _ if bi == 0 => Range::FULL,
                    (Some(a), Some(b)) => a.join(b),
                    (Some(r), None) | (None, Some(r)) => r,
                    // No edge reaches the block.
                    (None, None) => Range::FULL,
                };
                self.ranges.push(r);
            }
            // The `icmp` defining each value of this block, for branches.
            let mut cmps: Vec<(ValueId, Cond, ValueId, ValueId)> = Vec::new();
            let mut safe = Vec::with_capacity(block.insts.len());
            for inst in &block.insts {
                for c in &inst.catches {
                    let args: Vec<Range> = c.target.args.iter().map(|&a| self.range(a)).collect();
                    self.edge(bi, c.target.block.index(), &args);
                }
                let (result, ok) = self.inst(&inst.kind);
                safe.push(ok);
                // Past a check, its operand is what the check let through,
                // for the rest of the block and the edges that leave it
                // (the check's own catches, above, took it unchecked).
                if let InstKind::CheckBounds { value: v, .. }
                | InstKind::CheckNonZero(v)
                | InstKind::CheckRange { value: v, .. } = inst.kind
                {
                    self.refined.insert(v, result);
                }
                // Past checked arithmetic, its operands are those whose
                // result fits (a factor bounded by the constant it was
                // multiplied by: a second multiplication of it by a
                // smaller constant cannot overflow).
                if let InstKind::Binary { op, lhs, rhs } = inst.kind {
                    let (l, r) = passed(op, self.range(lhs), self.range(rhs));
                    if let Some(l) = l {
                        self.refined.insert(lhs, l);
                    }
                    if let Some(r) = r {
                        self.refined.insert(rhs, r);
                    }
                }
                // A block no edge reaches never runs: nor do its stores.
                if let InstKind::Store { place, value } = &inst.kind
                    && let Root::Global(g) = place.root
                    && (bi == 0 || self.reached[bi] || self.back_reached[bi])
                {
                    let r = self.range(*value);
                    if let Some(s) = self.stores.get_mut(g.index()) {
                        *s = Some(s.map_or(r, |s| s.join(r)));
                    }
                }
                if inst.kind.has_result() {
                    if let InstKind::Icmp { cond, lhs, rhs } = inst.kind {
                        cmps.push((ValueId(self.ranges.len() as u32), cond, lhs, rhs));
                    }
                    self.ranges.push(result);
                }
            }
            self.safe.push(safe);
            match &block.term {
                Terminator::Brif { cond, then_to, else_to } => {
                    let cmp = cmps.iter().find(|c| c.0 == *cond);
                    for (to, taken) in [(then_to, true), (else_to, false)] {
                        let mut args = Vec::with_capacity(to.args.len());
                        for &a in &to.args {
                            match cmp.map_or(Some(self.range(a)), |&(_, cc, l, r)| self.narrow(a, cc, l, r, taken)) {
                                Some(r) => args.push(r),
                                // The edge is never taken.
                                None => break,
                            }
                        }
                        if args.len() == to.args.len() {
                            self.edge(bi, to.block.index(), &args);
                        }
                    }
                }
                term => {
                    for to in term.targets() {
                        let args: Vec<Range> = to.args.iter().map(|&a| self.range(a)).collect();
                        self.edge(bi, to.block.index(), &args);
                    }
                }
            }
        }
    }

    /// Records an edge from block `from` passing `args` to block `to`,
    /// unless no edge reaches `from` (then it never runs). Every edge into
    /// a block comes from a block's terminator or a catch, all recorded
    /// here, so after a pass without change `reached` and `back_reached`
    /// cover every block that can run.
    fn edge(&mut self, from: usize, to: usize, args: &[Range]) {
        if !(from == 0 || self.reached[from] || self.back_reached[from]) {
            return;
        }
        if to > from {
            self.reached[to] = true;
            for (slot, &r) in self.incoming[to].iter_mut().zip(args) {
                *slot = Some(slot.map_or(r, |s| s.join(r)));
            }
            return;
        }
        if !self.back_reached[to] {
            self.back_reached[to] = true;
            self.changed = true;
        }
        for (slot, &r) in self.back[to].iter_mut().zip(args) {
            let next = match *slot {
                None => r,
                Some(s) => Range {
                    lo: if r.lo < s.lo { i64::MIN } else { s.lo },
                    hi: if r.hi > s.hi { i64::MAX } else { s.hi },
                },
            };
            if *slot != Some(next) {
                *slot = Some(next);
                self.changed = true;
            }
        }
    }

    /// The range of `v` on the edge taken when `lhs cc rhs` is `taken`;
    /// `None` if that cannot happen.
    fn narrow(&self, v: ValueId, cc: Cond, lhs: ValueId, rhs: ValueId, taken: bool) -> Option<Range> {
        let cc = if taken { cc } else { negate(cc) };
        let mut r = self.range(v);
        if v == lhs {
            r = narrow(r, cc, self.range(rhs))?;
        }
        if v == rhs {
            r = narrow(r, swap(cc), self.range(lhs))?;
        }
        Some(r)
    }

    /// The range of an instruction's result and whether its check (if it
    /// has one) cannot fail.
    fn inst(&self, kind: &InstKind) -> (Range, bool) {
        let full = (Range::FULL, false);
        match *kind {
            InstKind::Iconst(v) => (Range::exact(v), false),
            InstKind::Bconst(v) => (Range::exact(v.into()), false),
            InstKind::Event(e) => (Range::exact(e.0.into()), false),
            InstKind::Icmp { .. } => (Range { lo: 0, hi: 1 }, false),
            InstKind::Unary { op: UnaryOp::Neg, arg } => {
                let x = self.range(arg);
                checked(-i128::from(x.hi), -i128::from(x.lo))
            }
            InstKind::Unary { op: UnaryOp::Not, arg } => {
                // `bnot` of an `i64`, or `1 - x` of a `bool`: either way.
                let x = self.range(arg);
                let not = Range { lo: !x.hi, hi: !x.lo };
                (not.join(Range { lo: 0, hi: 1 }), false)
            }
            InstKind::Binary { op, lhs, rhs } => binary(op, self.range(lhs), self.range(rhs)),
            InstKind::CheckNonZero(v) => {
                let x = self.range(v);
                let lo = if x.lo == 0 { 1 } else { x.lo };
                let hi = if x.hi == 0 { -1 } else { x.hi };
                (Range::new(lo.into(), hi.into()).unwrap_or(x), !x.contains(0))
            }
            InstKind::CheckBounds { value, root } => {
                let x = self.range(value);
                match self.fixed_len(root) {
                    Some(n) => (
                        x.meet(0, i128::from(n) - 1).unwrap_or(x),
                        x.lo >= 0 && i128::from(x.hi) < i128::from(n),
                    ),
                    None => (x.meet(0, i64::MAX.into()).unwrap_or(x), false),
                }
            }
            InstKind::CheckRange { value, attr } => {
                let x = self.range(value);
                match self.module.attr(attr).and_then(|a| a.range) {
                    Some((lo, hi)) => (x.meet(lo.into(), hi.into()).unwrap_or(x), x.lo >= lo && x.hi <= hi),
                    None => (x, false),
                }
            }
            InstKind::Load(ref place) => match place.root {
                Root::Global(g) => (self.memory.global(g.index()), false),
                Root::Slot(_) | Root::Param(_) => full,
            },
            InstKind::Size(root) => match self.fixed_len(root) {
                Some(n) => (Range::exact(n.into()), false),
                None => full,
            },
            _ => full,
        }
    }

    /// The length of an array whose length is part of its type.
    fn fixed_len(&self, root: Root) -> Option<u32> {
        let obj = match root {
            Root::Global(g) => self.module.globals.get(g.index())?.ty,
            Root::Slot(s) => *self.func.slots.get(s.index())?,
            // A reference's length is whatever the caller passed.
            Root::Param(_) => return None,
        };
        match obj {
            ObjType::Array { len, .. } => len,
            ObjType::Elem(_) => None,
        }
    }
}

/// The range of a binary operation's result, and whether its check (overflow,
/// `MIN / -1`, shift amount) cannot fail.
fn binary(op: BinaryOp, x: Range, y: Range) -> (Range, bool) {
    let (xl, xh, yl, yh) = (i128::from(x.lo), i128::from(x.hi), i128::from(y.lo), i128::from(y.hi));
    match op {
        BinaryOp::Add => checked(xl + yl, xh + yh),
        BinaryOp::Sub => checked(xl - yh, xh - yl),
        BinaryOp::Mul => {
            let p = [xl * yl, xl * yh, xh * yl, xh * yh];
            checked(*p.iter().min().unwrap(), *p.iter().max().unwrap())
        }
        // The quotient is no larger than the dividend; the remainder is
        // smaller than the divisor and has the dividend's sign. Only
        // `MIN / -1` overflows.
        BinaryOp::Div | BinaryOp::Rem => {
            let ok = x.lo != i64::MIN || !y.contains(-1);
            let m = if op == BinaryOp::Div {
                x.magnitude()
            } else {
                x.magnitude().min(y.magnitude() - 1)
            };
            let lo = if x.non_negative() && (op == BinaryOp::Rem || y.lo > 0) {
                0
            } else {
                -m
            };
            let hi = if x.hi <= 0 && op == BinaryOp::Rem { 0 } else { m };
            (Range::new(lo, hi).unwrap_or(Range::FULL), ok)
        }
        BinaryOp::And => match (x.non_negative(), y.non_negative()) {
            (true, true) => (
                Range {
                    lo: 0,
                    hi: x.hi.min(y.hi),
                },
                false,
            ),
            (true, false) => (Range { lo: 0, hi: x.hi }, false),
            (false, true) => (Range { lo: 0, hi: y.hi }, false),
            (false, false) => (Range::FULL, false),
        },
        // Non-negative operands set no bit above their highest.
        BinaryOp::Or | BinaryOp::Xor if x.non_negative() && y.non_negative() => {
            let top = x.hi.max(y.hi);
            let hi = if top == 0 {
                0
            } else {
                i64::MAX >> top.leading_zeros().saturating_sub(1)
            };
            (Range { lo: 0, hi }, false)
        }
        // An arithmetic shift moves towards 0 (or -1).
        BinaryOp::Shr => {
            let lo = if x.lo >= 0 { 0 } else { x.lo };
            let hi = if x.hi >= 0 { x.hi } else { -1 };
            (Range { lo, hi }, y.lo >= 0 && y.hi <= 63)
        }
        _ => (Range::FULL, false),
    }
}

/// The ranges of `x` and `y` once `x op y` has passed its overflow check
/// (`None`: not narrowed): a sum's or difference's operand within what the
/// other leaves room for, a factor within `MIN / k ..= MAX / k` of a
/// constant factor `k`.
fn passed(op: BinaryOp, x: Range, y: Range) -> (Option<Range>, Option<Range>) {
    let (min, max) = (i128::from(i64::MIN), i128::from(i64::MAX));
    let (xl, xh, yl, yh) = (i128::from(x.lo), i128::from(x.hi), i128::from(y.lo), i128::from(y.hi));
    let factor = |v: Range, k: i64| -> Option<Range> {
        let k = i128::from(k);
        match k {
            0 => None,
            k if k > 0 => v.meet(ceil_div(min, k), max.div_euclid(k)),
            k => v.meet(ceil_div(max, k), (-min).div_euclid(-k)),
        }
    };
    let narrowed = |v: Range, r: Option<Range>| r.filter(|&r| r != v);
    match op {
        BinaryOp::Add => (
            narrowed(x, x.meet(min - yh, max - yl)),
            narrowed(y, y.meet(min - xh, max - xl)),
        ),
        BinaryOp::Sub => (
            narrowed(x, x.meet(min + yl, max + yh)),
            narrowed(y, y.meet(xl - max, xh - min)),
        ),
        BinaryOp::Mul => {
            let by = |v: Range, k: Range| narrowed(v, if k.lo == k.hi { factor(v, k.lo) } else { None });
            (by(x, y), by(y, x))
        }
        _ => (None, None),
    }
}

/// `a / b` rounded up, `b > 0` or `b < 0`.
fn ceil_div(a: i128, b: i128) -> i128 {
    let (q, r) = (a / b, a % b);
    if r != 0 && ((r > 0) == (b > 0)) { q + 1 } else { q }
}

/// The range of a checked operation's result, and whether it cannot
/// overflow, from the range of the exact result.
fn checked(lo: i128, hi: i128) -> (Range, bool) {
    let fits = i128::from(i64::MIN) <= lo && hi <= i128::from(i64::MAX);
    // If it always overflows, the result is never defined: any range will do.
    (Range::new(lo, hi).unwrap_or(Range::FULL), fits)
}

/// `x` where `x cc y` holds; `None` if it never does.
fn narrow(x: Range, cc: Cond, y: Range) -> Option<Range> {
    let (yl, yh) = (i128::from(y.lo), i128::from(y.hi));
    let (min, max) = (i128::from(i64::MIN), i128::from(i64::MAX));
    match cc {
        Cond::Lt => x.meet(min, yh - 1),
        Cond::Le => x.meet(min, yh),
        Cond::Gt => x.meet(yl + 1, max),
        Cond::Ge => x.meet(yl, max),
        Cond::Eq => x.meet(yl, yh),
        Cond::Ne if y.lo == y.hi && x.lo == y.lo => x.meet(yl + 1, max),
        Cond::Ne if y.lo == y.hi && x.hi == y.lo => x.meet(min, yh - 1),
        Cond::Ne => Some(x),
    }
}

fn negate(cc: Cond) -> Cond {
    match cc {
        Cond::Eq => Cond::Ne,
        Cond::Ne => Cond::Eq,
        Cond::Lt => Cond::Ge,
        Cond::Le => Cond::Gt,
        Cond::Gt => Cond::Le,
        Cond::Ge => Cond::Lt,
    }
}

/// `y cc' x` iff `x cc y`.
fn swap(cc: Cond) -> Cond {
    match cc {
        Cond::Lt => Cond::Gt,
        Cond::Le => Cond::Ge,
        Cond::Gt => Cond::Lt,
        Cond::Ge => Cond::Le,
        Cond::Eq | Cond::Ne => cc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A range and a value inside it, biased towards the edges of `i64`
    /// and small numbers, where the rules have their cases.
    fn range_and_member() -> impl Strategy<Value = (Range, i64)> {
        let edge = prop_oneof![
            Just(i64::MIN),
            Just(i64::MIN + 1),
            Just(-1i64),
            Just(0i64),
            Just(1i64),
            Just(i64::MAX - 1),
            Just(i64::MAX),
            -300i64..300,
            any::<i64>(),
        ];
        (edge.clone(), edge.clone(), edge).prop_map(|(a, b, c)| {
            let (lo, hi) = (a.min(b), a.max(b));
            (Range { lo, hi }, c.clamp(lo, hi))
        })
    }

    /// What TAL computes: the result, or `None` where the check raises.
    fn execute(op: BinaryOp, x: i64, y: i64) -> Option<i64> {
        match op {
            BinaryOp::Add => x.checked_add(y),
            BinaryOp::Sub => x.checked_sub(y),
            BinaryOp::Mul => x.checked_mul(y),
            BinaryOp::Div if y != 0 => x.checked_div(y),
            BinaryOp::Rem if y != 0 => x.checked_rem(y),
            BinaryOp::And => Some(x & y),
            BinaryOp::Or => Some(x | y),
            BinaryOp::Xor => Some(x ^ y),
            BinaryOp::Shr => (0..64).contains(&y).then(|| x >> y),
            _ => None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// The soundness of every transfer rule: for any operands inside
        /// their ranges, the result is inside the result's range, and an
        /// operation said not to fail does not.
        #[test]
        fn every_rule_holds_for_the_values_it_covers(
            op in prop::sample::select(vec![
                BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Rem,
                BinaryOp::And, BinaryOp::Or, BinaryOp::Xor, BinaryOp::Shr,
            ]),
            (x_range, x) in range_and_member(),
            (y_range, y) in range_and_member(),
        ) {
            // Division is only ever reached with a divisor proven non-zero.
            prop_assume!(!matches!(op, BinaryOp::Div | BinaryOp::Rem) || y != 0);
            let (result, cannot_fail) = binary(op, x_range, y_range);
            match execute(op, x, y) {
                Some(v) => prop_assert!(result.contains(v), "{op:?} {x} {y} = {v} outside {result:?}"),
                None => prop_assert!(!cannot_fail, "{op:?} {x} {y} fails but was said not to"),
            }
        }

        /// The soundness of narrowing past checked arithmetic: operands
        /// whose result fits stay inside their narrowed ranges.
        #[test]
        fn operands_that_passed_their_check_stay_inside_their_narrowed_ranges(
            op in prop::sample::select(vec![BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul]),
            (x_range, x) in range_and_member(),
            (y_range, y) in range_and_member(),
            k in prop_oneof![Just(i64::MIN), Just(-1i64), Just(2i64), Just(i64::MAX), -70_000i64..70_000],
        ) {
            // Half the cases multiply by a constant, as a factor that narrows.
            for (x_range, x, y_range, y) in [(x_range, x, y_range, y), (x_range, x, Range::exact(k), k)] {
                if execute(op, x, y).is_some() {
                    let (l, r) = passed(op, x_range, y_range);
                    prop_assert!(l.unwrap_or(x_range).contains(x), "{op:?} {x} {y}: x outside {l:?}");
                    prop_assert!(r.unwrap_or(y_range).contains(y), "{op:?} {x} {y}: y outside {r:?}");
                }
            }
        }

        /// The soundness of narrowing on a branch: operands for which the
        /// comparison holds stay inside the narrowed range, and a
        /// comparison said never to hold does not.
        #[test]
        fn narrowing_keeps_every_value_the_comparison_admits(
            cc in prop::sample::select(vec![Cond::Eq, Cond::Ne, Cond::Lt, Cond::Le, Cond::Gt, Cond::Ge]),
            (x_range, x) in range_and_member(),
            (y_range, y) in range_and_member(),
        ) {
            let holds = match cc {
                Cond::Eq => x == y,
                Cond::Ne => x != y,
                Cond::Lt => x < y,
                Cond::Le => x <= y,
                Cond::Gt => x > y,
                Cond::Ge => x >= y,
            };
            if holds {
                let narrowed = narrow(x_range, cc, y_range);
                prop_assert!(narrowed.is_some_and(|r| r.contains(x)), "{x} {cc:?} {y}: {narrowed:?}");
                let swapped = narrow(y_range, swap(cc), x_range);
                prop_assert!(swapped.is_some_and(|r| r.contains(y)), "{y} swap({cc:?}) {x}: {swapped:?}");
            } else {
                let negated = narrow(x_range, negate(cc), y_range);
                prop_assert!(negated.is_some_and(|r| r.contains(x)), "not {x} {cc:?} {y}: {negated:?}");
            }
        }
    }

    /// The facts about the first function of a module in TAL text.
    fn facts(text: &str) -> Facts {
        let (module, _) = tal_ir::text::parse(text).unwrap_or_else(|e| panic!("{e:?}"));
        Facts::of(&module, &module.funcs[0])
    }

    /// `for (i = START; i CMP END; i += STEP) sum += a[i]` over
    /// `a: [i64; 256]`; `i` is `v2` in the header, `v6` in the body.
    fn counting_loop(start: i64, cmp: &str, end: i64, step: i64) -> String {
        format!(
            "module m
global @a: [i64; 256] = zero
func @f() -> i64 {{
block0:
    fuel 2
    v0 = iconst {start}
    v1 = iconst 0
    jump block1(v0, v1)
block1(v2: i64, v3: i64) loop(block2):
    fuel 9
    v4 = iconst {end}
    v5 = icmp {cmp} v2, v4
    brif v5, block2(v2, v3), block3(v3)
block2(v6: i64, v7: i64):
    v8 = check.bounds v6, @a
    v9 = load @a[v8]
    v10 = iadd v7, v9
    v11 = iconst {step}
    v12 = iadd v6, v11
    jump block1(v12, v10)
block3(v13: i64):
    ret v13
}}
"
        )
    }

    #[test]
    fn a_counting_loop_indexes_in_bounds_and_cannot_overflow_its_counter() {
        let f = facts(&counting_loop(0, "lt", 256, 1));
        assert_eq!(f.range(ValueId(6)), Range { lo: 0, hi: 255 });
        assert!(f.cannot_fail(2, 0), "a[i]");
        assert!(!f.cannot_fail(2, 2), "the sum");
        assert!(f.cannot_fail(2, 4), "i + 1");
        // Counting down from the top.
        let f = facts(&counting_loop(255, "ge", 0, -1));
        assert_eq!(f.range(ValueId(6)), Range { lo: 0, hi: 255 });
        assert!(f.cannot_fail(2, 0) && f.cannot_fail(2, 4));
    }

    #[test]
    fn a_loop_that_can_leave_the_array_keeps_its_check() {
        for (start, cmp, end, step) in [
            (0, "le", 256, 1),
            (0, "lt", 257, 1),
            (-1, "lt", 256, 1),
            (0, "ne", 256, 1),
        ] {
            let f = facts(&counting_loop(start, cmp, end, step));
            assert!(!f.cannot_fail(2, 0), "i = {start}; i {cmp} {end}");
        }
        // Stepping by 2 from 1 can pass 255 without meeting it; counting
        // down with `i != -1` is unbounded below after the first wrap.
        assert!(!facts(&counting_loop(1, "ne", 255, 2)).cannot_fail(2, 0));
        // `i` only grows: from 0 it is never negative, and can reach the
        // top of `i64` when the loop does not stop it, but the body's
        // bounds check, which keeps its check, leaves `i + 2` safe.
        let f = facts(&counting_loop(0, "ne", 255, 2));
        assert!(!f.cannot_fail(2, 0) && f.cannot_fail(2, 4));
        assert_eq!(f.range(ValueId(6)).lo, 0);
    }

    #[test]
    fn a_block_no_edge_reaches_passes_nothing() {
        // `if (x < 0) return x; ...` as the front-end lowers it: the block
        // after the `return` (block2) is unreachable and jumps to the join
        // with a value it never has; the join still knows `x >= 0`. When
        // block1 jumps to block2 instead of returning, the join knows
        // nothing.
        let text = |block1_end: &str| {
            format!(
                "module m
func @f(i64) -> i64 {{
block0(v0: i64):
    fuel 9
    v1 = iconst 0
    v2 = icmp lt v0, v1
    brif v2, block1(v0), block3(v0)
block1(v3: i64):
    {block1_end}
block2(v4: i64):
    jump block3(v4)
block3(v5: i64):
    v6 = iconst 1
    v7 = isub v5, v6
    ret v7
}}
"
            )
        };
        let f = facts(&text("ret v3"));
        assert_eq!(f.range(ValueId(5)), Range { lo: 0, hi: i64::MAX });
        assert!(f.cannot_fail(3, 1), "x - 1 cannot overflow when x >= 0");
        let g = facts(&text("jump block2(v3)"));
        assert_eq!(g.range(ValueId(5)), Range::FULL);
        assert!(!g.cannot_fail(3, 1));
    }

    #[test]
    fn a_catch_edge_passes_its_arguments() {
        // The handler restarts the loop at a loaded value: `i` may be
        // anything below 256 in the body.
        let text = "module m
global @a: [i64; 256] = zero
func @f() -> i64 {
block0:
    fuel 2
    v0 = iconst 0
    v1 = iconst 0
    jump block1(v0, v1)
block1(v2: i64, v3: i64) loop(block3):
    fuel 12
    v4 = iconst 256
    v5 = icmp lt v2, v4
    brif v5, block2(v2, v3), block4(v3)
block2(v6: i64, v7: i64):
    v8 = check.bounds v6, @a
    v9 = load @a[v8]
    v10 = check.nonzero v9 !catch(DivideByZero -> block3(v9, v7))
    v11 = iconst 1
    v12 = iadd v6, v11
    jump block3(v12, v10)
block3(v13: i64, v14: i64):
    jump block1(v13, v14)
block4(v15: i64):
    ret v15
}
";
        let f = facts(text);
        assert_eq!(f.range(ValueId(6)), Range { lo: i64::MIN, hi: 255 });
        assert!(!f.cannot_fail(2, 0), "a[i]");
        assert!(f.cannot_fail(2, 4), "i + 1");
    }

    #[test]
    fn masks_constants_and_divisors() {
        let text = "module m
global @a: [i64; 256] = zero
global @b: [i64; 255] = zero
func @f(i64, i64) -> i64 {
block0(v0: i64, v1: i64):
    fuel 14
    v2 = iconst 255
    v3 = and v0, v2
    v4 = check.bounds v3, @a
    v5 = check.bounds v3, @b
    v6 = iconst 2
    v7 = check.nonzero v6
    v8 = sdiv v0, v7
    v9 = check.nonzero v1
    v10 = sdiv v0, v9
    v11 = srem v3, v9
    v12 = imul v3, v11
    v13 = ineg v0
    v14 = ineg v3
    ret v14
}
";
        let f = facts(text);
        let safe: Vec<bool> = (0..14).map(|i| f.cannot_fail(0, i)).collect();
        assert_eq!(
            safe,
            [
                false, false, false, true, false, false, true, true, false, false, true, true, false, true
            ],
            "fuel, iconst, and, a[x & 255], b[x & 255], iconst, nz 2, x / 2, nz y, x / y, (x & 255) % y, \
             (x & 255) * that, -x, -(x & 255)"
        );
        // `b`'s check narrowed `x & 255` for the rest of the block.
        assert_eq!(f.range(ValueId(11)), Range { lo: 0, hi: 254 });
    }

    #[test]
    fn the_entry_block_takes_any_arguments_even_as_a_loop_header() {
        let text = "module m
func @f(i64) -> i64 {
block0(v0: i64) loop(block1):
    fuel 4
    v1 = iconst 1
    v2 = iadd v0, v1
    brif v2, block1, block2
block1:
    v3 = iconst 0
    jump block0(v3)
block2:
    ret v2
}
";
        let f = facts(text);
        assert_eq!(f.range(ValueId(0)), Range::FULL);
        assert!(!f.cannot_fail(0, 2));
    }

    #[test]
    fn narrowing_follows_the_branch_taken() {
        let ranges = |cc, y: i64| {
            let x = Range { lo: -10, hi: 10 };
            (narrow(x, cc, Range::exact(y)), narrow(x, negate(cc), Range::exact(y)))
        };
        let r = |lo, hi| Some(Range { lo, hi });
        assert_eq!(ranges(Cond::Lt, 0), (r(-10, -1), r(0, 10)));
        assert_eq!(ranges(Cond::Le, 0), (r(-10, 0), r(1, 10)));
        assert_eq!(ranges(Cond::Gt, 10), (None, r(-10, 10)));
        assert_eq!(ranges(Cond::Eq, 3), (r(3, 3), r(-10, 10)));
        assert_eq!(ranges(Cond::Ne, -10), (r(-9, 10), r(-10, -10)));
        assert_eq!(ranges(Cond::Lt, i64::MIN), (None, r(-10, 10)));
        assert_eq!(narrow(Range::FULL, Cond::Gt, Range::exact(i64::MAX)), None);
        assert_eq!(swap(Cond::Lt), Cond::Gt);
    }

    #[test]
    fn a_passed_check_narrows_its_operand_for_the_rest_of_the_block_not_its_catch() {
        let text = "module m
global @a: [i64; 8] = zero
global @b: [i64; 8] = zero
global @c: [i64; 4] = zero
func @f(i64) -> i64 {
block0(v0: i64):
    fuel 20
    v1 = check.bounds v0, @a !catch(OutOfBounds -> block2(v0))
    v2 = load @a[v1]
    v3 = check.bounds v0, @b
    v4 = check.bounds v0, @c
    jump block1(v0)
block1(v5: i64):
    v6 = check.bounds v5, @b
    ret v6
block2(v7: i64):
    v8 = check.bounds v7, @b
    ret v8
}
";
        let f = facts(text);
        // `b` is as long as `a`: covered; `c` is shorter: not.
        assert!(f.cannot_fail(0, 3) && !f.cannot_fail(0, 4));
        // The jump passes `v0` as narrowed by the last check (`c`'s).
        assert!(f.cannot_fail(1, 0));
        assert_eq!(f.range(ValueId(5)), Range { lo: 0, hi: 3 });
        // The catch took `v0` before its check: anything.
        assert!(!f.cannot_fail(2, 0));
        // The value itself keeps its range where it is defined.
        assert_eq!(f.range(ValueId(0)), Range::FULL);
    }

    #[test]
    fn a_factor_that_passed_its_check_bounds_the_next_product_and_what_is_stored() {
        let text = "module m
global @g: [i64; 4] = zero
func @f(i64) -> i64 {
block0(v0: i64):
    fuel 20
    v1 = iconst 42599
    v2 = imul v0, v1 !catch(Overflow -> block1(v0))
    v3 = iconst 3277
    v4 = imul v0, v3
    v5 = iconst 1
    store @g[v5], v0
    ret v4
block1(v6: i64):
    v7 = imul v6, v3
    ret v7
}
";
        let f = facts(text);
        // The first product may overflow; the second, by a smaller
        // factor, cannot; on the catch edge `v0` is anything.
        assert!(!f.cannot_fail(0, 2) && f.cannot_fail(0, 4));
        assert!(!f.cannot_fail(1, 0));
        let (module, _) = tal_ir::text::parse(text).unwrap_or_else(|e| panic!("{e:?}"));
        let (_, stores) = Facts::with_memory(&module, &module.funcs[0], &Memory::unknown(&module));
        assert_eq!(
            stores[0],
            Some(Range {
                lo: i64::MIN / 42599,
                hi: i64::MAX / 42599
            })
        );
    }

    fn memory(text: &str) -> Vec<Range> {
        let (module, _) = tal_ir::text::parse(text).unwrap_or_else(|e| panic!("{e:?}"));
        let m = Memory::of(&module);
        (0..module.globals.len()).map(|g| m.global(g)).collect()
    }

    #[test]
    fn globals_hold_their_initializers_zero_and_what_reached_stores_write() {
        let ranges = memory(
            "module m
global @g: i64 = 5
global @h: [i64; 4] = [3, -2]
global @k: i64 = 0
func @f(i64) {
block0(v0: i64):
    fuel 20
    v1 = iconst 9
    store @g, v1
    v2 = load @g
    v3 = iconst -1
    v4 = iadd v2, v3
    store @k, v4
    v5 = icmp lt v2, v3
    brif v5, block1(v0, v2), block2
block1(v6: i64, v7: i64):
    store @g, v6
    ret
block2:
    ret
}
",
        );
        // `@g` is zero, 5 or 9: the store in block1 (reached only if
        // `@g < -1`) never runs; `@k` is `@g - 1` or zero; `@h` its list
        // and zero.
        assert_eq!(ranges[0], Range { lo: 0, hi: 9 });
        assert_eq!(ranges[1], Range { lo: -2, hi: 3 });
        assert_eq!(ranges[2], Range { lo: -1, hi: 8 });
    }

    #[test]
    fn a_global_passed_by_reference_or_growing_holds_anything() {
        let ranges = memory(
            "module m
global @a: [i64; 4] = zero
global @g: i64 = 1
func @put(%0: ref [i64]) {
block0:
    v0 = iconst 1
    v1 = check.bounds v0, %0
    v2 = iconst 7
    store %0[v1], v2
    ret
}
monitor @m() {
block0:
    fuel 20
    call @put(@a)
    v0 = load @g
    v1 = iconst 2
    v2 = imul v0, v1
    store @g, v2
    ret
}
",
        );
        assert_eq!(ranges[0], Range::FULL);
        assert_eq!(ranges[1], Range { lo: 0, hi: i64::MAX });
    }
}
