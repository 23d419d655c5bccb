//! Deterministic generator of valid TAL modules, for measuring how fast the
//! verifier checks programs of a given size and shape.
//!
//! Modules are built directly as [`tal_ir::Module`] values (no text parsing),
//! so that generating even 10M instructions is cheap next to verifying them.
//! Every generated module passes `verifier::verify` with the default
//! configuration; the unit tests hold the generator to that.
//!
//! A module is one `monitor` entry point plus many plain work functions of at
//! most about [`FUNC_MAX`] instructions, `(i64, i64, i64, i64) -> i64`, whose
//! four parameters play the role of a compiler's live local variables: every
//! block takes them as parameters and passes the current ones on. Odd work
//! function `i` calls work function `i + 1`, and the monitor calls the first
//! few odd ones, so the call graph is acyclic with chains three frames deep.

#![forbid(unsafe_code)]

use rand::{RngExt, SeedableRng};
use rand_xorshift::XorShiftRng;
use tal_ir::{
    Arg, AttrDef, AttrRef, AttrType, BinaryOp, Block, BlockCall, BlockId, Callee, ClassDef, ClassId, Cond, ElemType,
    FuncId, FuncKind, Function, GlobalDef, GlobalId, GlobalInit, HelperArg, Inst, InstKind, Module, ObjType, ParamType,
    Place, Rights, Root, ScalarType, Terminator, Type, ValueId,
};

/// The control flow the generated work functions have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Long blocks of arithmetic, memory accesses and calls, chained by
    /// `jump`: the verifier's per-instruction cost with little else.
    StraightLine,
    /// Small blocks in nested if/else diamonds and loops, as a C compiler
    /// emits for real control flow: exercises edges, loops and fuel regions.
    Branchy,
}

impl Shape {
    pub const ALL: [Shape; 2] = [Shape::StraightLine, Shape::Branchy];

    pub fn name(self) -> &'static str {
        match self {
            Shape::StraightLine => "straight-line",
            Shape::Branchy => "branchy",
        }
    }
}

/// Largest work function, in instructions (the last one may take up to
/// [`FUNC_MIN`] more rather than leave a runt).
pub const FUNC_MAX: usize = 4000;
const FUNC_MIN: usize = 256;
/// Live variables: work function parameters and every block's parameters.
const VARS: usize = 4;
/// Elements of the global array the loads and stores index.
const TABLE_LEN: u32 = 64;
/// Work functions the monitor calls.
const MONITOR_CALLS: usize = 8;
/// Block sizes of straight-line code. The frame model charges 8 bytes per
/// value of a function's largest block and chains are three frames deep
/// (monitor, caller, callee), so 192 keeps every chain under the default
/// 4 KiB stack limit: 2 * (128 + 8 * (192 + 4)) plus the monitor's frame.
const STRAIGHT_BLOCK: (usize, usize) = (64, 192);
/// Block sizes of the filler code that completes a branchy function.
const BRANCHY_BLOCK: (usize, usize) = (4, 16);
/// Instructions in each straight run of a branchy block.
const BRANCHY_RUN: (usize, usize) = (2, 12);
/// Deepest if/else nesting of a branchy function.
const MAX_DIAMOND_DEPTH: u32 = 4;
/// Deepest loop nesting of a branchy function.
const MAX_LOOP_DEPTH: u32 = 2;

const TABLE: Root = Root::Global(GlobalId(0));
const KNOB: AttrRef = AttrRef {
    class: ClassId(0),
    attr: 0,
};

/// Generates a valid module of `target_insts` instructions (as counted by
/// [`inst_count`]) with work functions of the given shape. The same
/// arguments always give the same module.
///
/// # Panics
///
/// If `target_insts` is below 64: too small to hold a monitor and a function.
pub fn generate(shape: Shape, target_insts: usize, seed: u64) -> Module {
    assert!(
        target_insts >= 64,
        "target_insts must be at least 64, got {target_insts}"
    );
    let mut rng = Rng::seeded(seed ^ (shape as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut budgets = Vec::new();
    let mut rest = target_insts - monitor_size(MONITOR_CALLS);
    while rest > 0 {
        let b = rng.range(FUNC_MAX / 2, FUNC_MAX);
        let b = if rest <= b + FUNC_MIN { rest } else { b };
        budgets.push(b);
        rest -= b;
    }
    // Work functions are 1..=n; the roots of the call chains are the odd ones.
    let calls = MONITOR_CALLS.min(budgets.len().div_ceil(2));
    *budgets.last_mut().expect("at least one work function") += monitor_size(MONITOR_CALLS) - monitor_size(calls);

    let n = budgets.len();
    let mut funcs = vec![monitor(calls)];
    for (i, &budget) in budgets.iter().enumerate() {
        let index = i + 1;
        let callee = (index % 2 == 1 && index < n).then_some(FuncId(index as u32 + 1));
        let mut b = FnBuilder::new(&mut rng, callee);
        match shape {
            Shape::StraightLine => b.fill(budget - b.count, STRAIGHT_BLOCK),
            Shape::Branchy => b.branchy(budget),
        }
        funcs.push(b.finish(format!("work{index}")));
    }
    let mut module = Module {
        name: "bench".into(),
        classes: vec![ClassDef {
            name: "bench_qos".into(),
            attrs: vec![AttrDef {
                name: "knob".into(),
                ty: AttrType::I64,
                readonly: true,
                range: None,
            }],
        }],
        globals: vec![GlobalDef {
            name: "table".into(),
            ty: ObjType::Array {
                elem: ElemType::Scalar(ScalarType::I64),
                len: Some(TABLE_LEN),
            },
            init: GlobalInit::Zero,
        }],
        funcs,
        ..Module::default()
    };
    // Every function keeps its entry `fuel`; long straight runs get tests.
    tal_ir::fuel::assign_module(&mut module, tal_ir::fuel::EntryFuel::Keep);
    module
}

/// `1234567` as `1,234,567`.
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Instructions and terminators of the whole module: the benchmark's unit.
pub fn inst_count(m: &Module) -> usize {
    m.funcs.iter().map(Function::inst_count).sum()
}

fn monitor_size(calls: usize) -> usize {
    // fuel, get_attribute, the calls, ret
    3 + calls
}

/// `monitor @monitor(cap<bench_qos, r>)`: reads an attribute and passes it
/// to the first `calls` call-chain roots (work functions 1, 3, 5, …).
fn monitor(calls: usize) -> Function {
    let helper = |name| stdlib::helper_by_name(name).expect("helper in the table").id;
    let knob = ValueId(1);
    let mut insts = vec![
        inst(InstKind::Fuel(monitor_size(calls) as u64 - 1)),
        inst(InstKind::Helper {
            id: helper("get_attribute"),
            args: vec![HelperArg::Value(ValueId(0)), HelperArg::Attr(KNOB)],
            result: true,
        }),
    ];
    insts.extend((0..calls).map(|c| {
        inst(InstKind::Call {
            callee: Callee::Func(FuncId(2 * c as u32 + 1)),
            args: vec![Arg::Value(knob); VARS],
            result: true,
        })
    }));
    let cap = Type::Cap {
        class: ClassId(0),
        rights: Rights::READ,
        nullable: false,
    };
    Function {
        name: "monitor".into(),
        kind: FuncKind::Monitor,
        params: vec![ParamType::Value(cap)],
        ret: None,
        slots: vec![],
        blocks: vec![Block {
            params: vec![cap],
            loop_end: None,
            insts,
            term: Terminator::Return(None),
            term_span: None,
        }],
    }
}

fn inst(kind: InstKind) -> Inst {
    Inst {
        kind,
        catches: vec![],
        span: None,
    }
}

/// The generator's randomness: seeded, so the same seed builds the same
/// module.
struct Rng(XorShiftRng);

impl Rng {
    fn seeded(seed: u64) -> Rng {
        Rng(XorShiftRng::seed_from_u64(seed))
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        self.0.random_range(lo..=hi)
    }

    fn percent(&mut self, p: u64) -> bool {
        self.0.random_range(0..100) < p
    }
}

/// Builds one work function in layout order. Blocks are appended and never
/// reordered, so value numbers (block parameters, then results, block by
/// block) are assigned as instructions are emitted; only terminators, which
/// define no values, are patched once their targets exist.
struct FnBuilder<'r> {
    rng: &'r mut Rng,
    callee: Option<FuncId>,
    blocks: Vec<Block>,
    next_value: u32,
    /// The current values of the live variables, all in the open block.
    vars: [ValueId; VARS],
    /// Instructions and terminators so far, the open block's included.
    count: usize,
}

/// Where to roll a [`FnBuilder`] back to when a construct overshoots.
struct Mark {
    blocks: usize,
    insts: usize,
    next_value: u32,
    vars: [ValueId; VARS],
    count: usize,
}

impl<'r> FnBuilder<'r> {
    fn new(rng: &'r mut Rng, callee: Option<FuncId>) -> Self {
        let mut b = FnBuilder {
            rng,
            callee,
            blocks: Vec::new(),
            next_value: 0,
            vars: [ValueId(0); VARS],
            count: 0,
        };
        b.open_block(true);
        b
    }

    fn finish(mut self, name: String) -> Function {
        self.set_term(self.cur(), Terminator::Return(Some(self.vars[0])));
        Function {
            name,
            kind: FuncKind::Plain,
            params: vec![ParamType::Value(Type::I64); VARS],
            ret: Some(Type::I64),
            slots: vec![],
            blocks: self.blocks,
        }
    }

    fn cur(&self) -> usize {
        self.blocks.len() - 1
    }

    /// Appends a block taking the live variables; its terminator (counted
    /// now) is a placeholder until [`Self::set_term`].
    fn open_block(&mut self, fuel: bool) -> usize {
        let insts = if fuel { vec![inst(InstKind::Fuel(0))] } else { vec![] };
        self.count += 1 + insts.len();
        self.blocks.push(Block {
            params: vec![Type::I64; VARS],
            loop_end: None,
            insts,
            term: Terminator::Return(None),
            term_span: None,
        });
        for v in &mut self.vars {
            *v = ValueId(self.next_value);
            self.next_value += 1;
        }
        self.cur()
    }

    fn set_term(&mut self, block: usize, term: Terminator) {
        self.blocks[block].term = term;
    }

    fn to(block: usize, args: [ValueId; VARS]) -> BlockCall {
        BlockCall {
            block: BlockId(block as u32),
            args: args.to_vec(),
        }
    }

    /// Ends the open block with a jump carrying the variables to a new one.
    fn jump_to_new_block(&mut self) {
        let (from, args) = (self.cur(), self.vars);
        let to = self.open_block(false);
        self.set_term(from, Terminator::Jump(Self::to(to, args)));
    }

    fn emit(&mut self, kind: InstKind) -> ValueId {
        let defines = kind.has_result();
        let cur = self.cur();
        self.blocks[cur].insts.push(inst(kind));
        self.count += 1;
        let v = ValueId(self.next_value);
        self.next_value += u32::from(defines);
        v
    }

    fn var(&mut self) -> ValueId {
        self.vars[self.rng.range(0, VARS - 1)]
    }

    fn assign(&mut self, v: ValueId) {
        let i = self.rng.range(0, VARS - 1);
        self.vars[i] = v;
    }

    fn iconst(&mut self, lo: usize, hi: usize) -> ValueId {
        let k = self.rng.range(lo, hi) as i64;
        self.emit(InstKind::Iconst(k))
    }

    /// Emits one source-level statement of at most `room` instructions and
    /// returns its length: the instruction mix of compiled C.
    fn statement(&mut self, room: usize) -> usize {
        let (a, b) = (self.var(), self.var());
        let roll = self.rng.range(0, 99);
        let (len, result) = match roll {
            0..30 if room >= 2 => {
                let c = self.iconst(1, 9);
                let op = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul][self.rng.range(0, 2)];
                (2, self.emit(InstKind::Binary { op, lhs: a, rhs: c }))
            }
            30..40 => {
                let cond = [Cond::Eq, Cond::Ne, Cond::Lt, Cond::Le, Cond::Gt, Cond::Ge][self.rng.range(0, 5)];
                self.emit(InstKind::Icmp { cond, lhs: a, rhs: b });
                return 1;
            }
            40..50 if room >= 2 => {
                let nz = self.emit(InstKind::CheckNonZero(b));
                let op = if self.rng.percent(50) {
                    BinaryOp::Div
                } else {
                    BinaryOp::Rem
                };
                (2, self.emit(InstKind::Binary { op, lhs: a, rhs: nz }))
            }
            50..65 if room >= 2 => {
                let i = self.emit(InstKind::CheckBounds { value: a, root: TABLE });
                let place = Place {
                    root: TABLE,
                    index: Some(i),
                    fields: vec![],
                };
                if room >= 3 && self.rng.percent(50) {
                    self.emit(InstKind::Store {
                        place: place.clone(),
                        value: b,
                    });
                    (3, self.emit(InstKind::Load(place)))
                } else {
                    (2, self.emit(InstKind::Load(place)))
                }
            }
            65..72 => {
                let id = stdlib::helper_by_name("now_us").expect("now_us is a helper").id;
                (
                    1,
                    self.emit(InstKind::Helper {
                        id,
                        args: vec![],
                        result: true,
                    }),
                )
            }
            72..80 => {
                let op = [BinaryOp::And, BinaryOp::Or, BinaryOp::Xor][self.rng.range(0, 2)];
                (1, self.emit(InstKind::Binary { op, lhs: a, rhs: b }))
            }
            80 if let Some(f) = self.callee => {
                let callee = Callee::Func(f);
                let args = self.vars.map(Arg::Value).to_vec();
                (
                    1,
                    self.emit(InstKind::Call {
                        callee,
                        args,
                        result: true,
                    }),
                )
            }
            _ => {
                let op = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul][self.rng.range(0, 2)];
                (1, self.emit(InstKind::Binary { op, lhs: a, rhs: b }))
            }
        };
        self.assign(result);
        len
    }

    /// Exactly `n` instructions of statements into the open block.
    fn run(&mut self, n: usize) {
        let mut left = n;
        while left > 0 {
            left -= self.statement(left);
        }
    }

    /// Exactly `n` more instructions, in a chain of blocks of `sizes`
    /// instructions joined by `jump`s (each new block costs its terminator).
    fn fill(&mut self, n: usize, sizes: (usize, usize)) {
        let mut left = n;
        loop {
            let used = self.blocks[self.cur()].insts.len() + 1;
            let room = self.rng.range(sizes.0, sizes.1).saturating_sub(used);
            if left <= room {
                self.run(left);
                return;
            }
            self.run(room);
            self.jump_to_new_block();
            left -= room + 1;
        }
    }

    /// A branchy function body of `budget` instructions: a sequence of
    /// straight runs, if/else nests and loops, completed by filler code.
    fn branchy(&mut self, budget: usize) {
        loop {
            let mark = self.mark();
            let n = self.rng.range(BRANCHY_RUN.0, BRANCHY_RUN.1);
            self.run(n);
            if self.rng.percent(50) {
                let depth = self.rng.range(1, MAX_DIAMOND_DEPTH as usize) as u32;
                self.diamond(depth, 1);
            } else {
                self.counted_loop(1);
            }
            if self.count > budget {
                self.rollback(mark);
                break;
            }
        }
        self.fill(budget - self.count, BRANCHY_BLOCK);
    }

    fn mark(&self) -> Mark {
        let b = self.cur();
        Mark {
            blocks: self.blocks.len(),
            insts: self.blocks[b].insts.len(),
            next_value: self.next_value,
            vars: self.vars,
            count: self.count,
        }
    }

    fn rollback(&mut self, m: Mark) {
        self.blocks.truncate(m.blocks);
        let b = self.cur();
        self.blocks[b].insts.truncate(m.insts);
        self.blocks[b].term = Terminator::Return(None);
        self.next_value = m.next_value;
        self.vars = m.vars;
        self.count = m.count;
    }

    /// `if (x < k) { then } else { else }` ending the open block; leaves the
    /// join block open. Arms nest further diamonds down to `depth` 1, and
    /// sometimes a loop (`loop_depth` is the loop nesting to enter at).
    fn diamond(&mut self, depth: u32, loop_depth: u32) {
        let k = self.iconst(0, 100);
        let x = self.var();
        let c = self.emit(InstKind::Icmp {
            cond: Cond::Lt,
            lhs: x,
            rhs: k,
        });
        let (head, args) = (self.cur(), self.vars);
        let then_first = self.open_block(false);
        self.arm(depth - 1, loop_depth);
        let (then_last, then_vars) = (self.cur(), self.vars);
        let else_first = self.open_block(false);
        self.arm(depth - 1, loop_depth);
        let (else_last, else_vars) = (self.cur(), self.vars);
        let join = self.open_block(false);
        self.set_term(
            head,
            Terminator::Brif {
                cond: c,
                then_to: Self::to(then_first, args),
                else_to: Self::to(else_first, args),
            },
        );
        self.set_term(then_last, Terminator::Jump(Self::to(join, then_vars)));
        self.set_term(else_last, Terminator::Jump(Self::to(join, else_vars)));
    }

    /// One arm of a diamond: code, maybe a nested construct, more code.
    fn arm(&mut self, depth: u32, loop_depth: u32) {
        let n = self.rng.range(BRANCHY_RUN.0, BRANCHY_RUN.1);
        self.run(n);
        if depth > 0 && self.rng.percent(70) {
            self.diamond(depth, loop_depth);
        } else if loop_depth <= MAX_LOOP_DEPTH && self.rng.percent(10) {
            self.counted_loop(loop_depth);
        } else {
            return;
        }
        let n = self.rng.range(BRANCHY_RUN.0, BRANCHY_RUN.1);
        self.run(n);
    }

    /// `while (i < k) { body; i++ }` after the open block: a fuelled header
    /// that tests and exits, a body with a diamond (and, above the deepest
    /// loop level, sometimes an inner loop), and a back edge from the latch.
    /// Leaves the exit block open.
    fn counted_loop(&mut self, loop_depth: u32) {
        let (pre, pre_vars) = (self.cur(), self.vars);
        let header = self.open_block(true);
        self.set_term(pre, Terminator::Jump(Self::to(header, pre_vars)));
        let k = self.iconst(4, 100);
        let i = self.vars[0];
        let c = self.emit(InstKind::Icmp {
            cond: Cond::Lt,
            lhs: i,
            rhs: k,
        });
        let header_vars = self.vars;
        let body = self.open_block(false);
        self.arm(0, loop_depth + 1);
        let depth = self.rng.range(1, 2) as u32;
        self.diamond(depth, loop_depth + 1);
        let one = self.emit(InstKind::Iconst(1));
        self.vars[0] = self.emit(InstKind::Binary {
            op: BinaryOp::Add,
            lhs: self.vars[0],
            rhs: one,
        });
        let latch = self.cur();
        self.set_term(latch, Terminator::Jump(Self::to(header, self.vars)));
        self.blocks[header].loop_end = Some(BlockId(latch as u32));
        let exit = self.open_block(false);
        self.set_term(
            header,
            Terminator::Brif {
                cond: c,
                then_to: Self::to(body, header_vars),
                else_to: Self::to(exit, header_vars),
            },
        );
    }
}

/// The best of at least three runs of `run`, and more until half a second
/// has been spent: filters out scheduling noise. `check` sees each result
/// outside the timed region.
pub fn best_time<R>(mut run: impl FnMut() -> R, check: impl Fn(&R)) -> std::time::Duration {
    use std::time::{Duration, Instant};
    const MIN_RUNS: u32 = 3;
    const MIN_TOTAL: Duration = Duration::from_millis(500);
    let (mut best, mut total, mut runs) = (Duration::MAX, Duration::ZERO, 0);
    while runs < MIN_RUNS || total < MIN_TOTAL {
        let start = Instant::now();
        let result = std::hint::black_box(run());
        let elapsed = start.elapsed();
        check(&result);
        drop(result);
        best = best.min(elapsed);
        total += elapsed;
        runs += 1;
    }
    best
}

/// What [`interleaved`] measured for one contender.
#[derive(Clone, Copy, Debug)]
pub struct Contender {
    /// Best time of one batch, in nanoseconds per operation.
    pub best_ns: f64,
    /// Median over rounds of this contender's batch time divided by the
    /// first contender's batch time in the same round.
    pub ratio: f64,
}

/// Times `ops` operations of each contender in turn, round after round (the
/// order rotating each round), for at least `MIN_ROUNDS` rounds and one
/// second. On a shared machine whose speed drifts by 2x over seconds, timing
/// contenders one after another compares different machines; here each
/// round's batches run within milliseconds of each other, and the ratio to
/// the first contender is taken per round, then the median over rounds.
/// Every operation's result goes through `check`, outside the timed region.
pub fn interleaved<const N: usize, R>(
    ops: u64,
    contenders: [&mut dyn FnMut() -> R; N],
    check: impl Fn(R),
) -> [Contender; N] {
    use std::time::{Duration, Instant};
    const MIN_ROUNDS: usize = 31;
    const MIN_TOTAL: Duration = Duration::from_secs(1);
    let mut contenders = contenders;
    let mut times: Vec<[f64; N]> = Vec::new();
    let started = Instant::now();
    while times.len() < MIN_ROUNDS || started.elapsed() < MIN_TOTAL {
        let mut round = [0.0; N];
        for k in 0..N {
            let which = (k + times.len()) % N;
            let run = &mut contenders[which];
            let start = Instant::now();
            let mut last = None;
            for _ in 0..ops {
                last = Some(std::hint::black_box(run()));
            }
            round[which] = start.elapsed().as_secs_f64() * 1e9 / ops as f64;
            check(last.expect("at least one operation per batch"));
        }
        times.push(round);
    }
    std::array::from_fn(|k| {
        let best_ns = times.iter().map(|t| t[k]).fold(f64::INFINITY, f64::min);
        let mut ratios: Vec<f64> = times.iter().map(|t| t[k] / t[0]).collect();
        ratios.sort_by(f64::total_cmp);
        Contender {
            best_ns,
            ratio: ratios[ratios.len() / 2],
        }
    })
}

/// Compiles Popcorn-SX source to an object as `safexc compile` does
/// (inlining on); `stdlib` compiles it as part of the standard library
/// (guards allowed). For tests and benchmarks: hosts load objects only.
pub fn compile_object(file_name: &str, source: &str, stdlib: bool) -> Result<Vec<u8>, String> {
    let options = popcorn_front::Options {
        file_name: file_name.into(),
        stdlib,
        inline: true,
    };
    let compiled = popcorn_front::compile(source, &options);
    let Some(module) = compiled.module else {
        let first = compiled
            .diagnostics
            .iter()
            .find(|d| d.is_error())
            .map_or(String::new(), |d| format!(": error[{}]: {}", d.code, d.message));
        return Err(format!("`{file_name}` does not compile{first}"));
    };
    codegen::object::compile(&module, codegen::Options::default()).map_err(|e| format!("{file_name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_runs_every_contender_equally_and_checks_each_batch() {
        let (mut a, mut b) = (0u64, 0u64);
        let checked = std::cell::Cell::new(0u64);
        let [first, second] = interleaved(
            7,
            [
                &mut || {
                    a += 1;
                    a
                },
                &mut || {
                    b += 1;
                    b
                },
            ],
            |last: u64| {
                assert_eq!(last % 7, 0, "a batch is `ops` operations");
                checked.set(checked.get() + 1);
            },
        );
        assert_eq!(a, b);
        assert_eq!(a, 7 * checked.get() / 2);
        assert!(a >= 7 * 31);
        assert_eq!(first.ratio, 1.0);
        assert!(first.best_ns > 0.0 && second.best_ns > 0.0);
    }

    #[test]
    fn generated_modules_verify_and_hit_the_target_size() {
        for shape in Shape::ALL {
            for target in [1_000, 20_000] {
                for seed in 0..4 {
                    let m = generate(shape, target, seed);
                    if let Err(errors) = verifier::verify(&m, &verifier::Config::default()) {
                        panic!(
                            "{} {target} seed {seed}: {:#?}",
                            shape.name(),
                            &errors[..errors.len().min(5)]
                        );
                    }
                    let n = inst_count(&m);
                    assert!(
                        n.abs_diff(target) * 20 <= target,
                        "{} {target} seed {seed}: {n} instructions",
                        shape.name()
                    );
                }
            }
        }
    }

    #[test]
    fn generation_is_deterministic() {
        for shape in Shape::ALL {
            assert_eq!(generate(shape, 5_000, 7), generate(shape, 5_000, 7));
            assert_ne!(generate(shape, 5_000, 7), generate(shape, 5_000, 8));
        }
    }

    /// The fuel amounts are the exact bound, not just a sufficient one: one
    /// unit less anywhere is rejected.
    #[test]
    fn fuel_is_tight() {
        let mut m = generate(Shape::Branchy, 2_000, 0);
        let fuelled: Vec<(usize, usize)> = (0..m.funcs.len())
            .flat_map(|f| (0..m.funcs[f].blocks.len()).map(move |b| (f, b)))
            .filter(|&(f, b)| {
                matches!(
                    m.funcs[f].blocks[b].insts.first(),
                    Some(Inst {
                        kind: InstKind::Fuel(_),
                        ..
                    })
                )
            })
            .collect();
        assert!(fuelled.len() > 5);
        for (f, b) in fuelled {
            let slot = &mut m.funcs[f].blocks[b].insts[0].kind;
            let InstKind::Fuel(n) = *slot else {
                unreachable!("filtered on fuel")
            };
            *slot = InstKind::Fuel(n - 1);
            let errors = verifier::verify(&m, &verifier::Config::default()).expect_err("fuel one short");
            assert!(errors.iter().all(|e| e.code == "V0407"), "{errors:?}");
            m.funcs[f].blocks[b].insts[0].kind = InstKind::Fuel(n);
        }
    }

    #[test]
    fn branchy_modules_have_loops_and_small_blocks() {
        let m = generate(Shape::Branchy, 20_000, 0);
        let blocks = m.funcs.iter().flat_map(|f| &f.blocks);
        assert!(blocks.clone().filter(|b| b.loop_end.is_some()).count() > 10);
        let (n, total) = blocks.fold((0, 0), |(n, total), b| (n + 1, total + b.insts.len() + 1));
        assert!(total / n < 16, "average block of {} instructions", total / n);
    }
}
