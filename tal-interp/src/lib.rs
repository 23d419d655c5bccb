//! The reference interpreter of TAL: small and direct, for differential
//! testing against compiled code (same results, same traps, same
//! fuel-exhaustion points).
//!
//! An [`Instance`] is one loaded extension: its module and its data region
//! (the globals, laid out by [`tal_ir::layout`]), which persists across
//! invocations, including the writes of an invocation that trapped (compiled
//! code does not roll back either). [`Instance::invoke`] runs one function
//! with a [`Host`] for the helpers and a fuel counter.
//!
//! # Semantics
//!
//! Values are `i64`: integers as themselves, `bool` as 0/1, capabilities as
//! their host handles (0 is the null capability), event ids as the event's
//! index in the module. Memory is 8-byte cells ([`tal_ir::layout`]).
//!
//! - `fuel N` subtracts N from the counter; if the result is negative the
//!   invocation ends with [`TrapKind::OutOfFuel`] at that instruction, the
//!   counter left at the result (saturated at `i64::MIN`). Nothing else
//!   costs fuel.
//! - `iadd` `isub` `imul` `ineg` raise `Overflow` when the exact result does
//!   not fit in `i64`. `sdiv` truncates toward zero, `srem` has the sign of
//!   the dividend; both raise `Overflow` on `MIN / -1` (also `srem`, whose
//!   exact result 0 would fit).
//! - `ishl v, s` raises `Overflow` unless `0 <= s <= 63` and `(v << s) >> s
//!   == v` (the exact product `v * 2^s` fits); `sshr v, s` raises `Overflow`
//!   unless `0 <= s <= 63`, then shifts arithmetically.
//! - `and` `or` `xor` are bitwise (on 0/1 that is also the logical
//!   operation); `not` is bitwise on an `i64` and `x ^ 1` on a `bool`
//!   (whether the operand is a bool is known statically from its
//!   definition); `icmp` compares signed.
//! - `check.nonzero` raises `DivideByZero` on 0; `check.bounds v, R` raises
//!   `OutOfBounds` unless `0 <= v < len(R)`, the run-time length for a
//!   reference parameter; `check.range` raises `RangeError` outside the
//!   attribute's inclusive range (an attribute without a range accepts
//!   everything); `check.null` raises `NullCapability` on 0. Each returns
//!   its operand.
//! - `load`/`store` read and write one cell; `init $N` zero-fills the slot
//!   (slots are also zero when a frame is created, but a verified module
//!   never reads a slot before its `init`); `size R` is the array's length;
//!   `event E` is E's index.
//! - `call` passes value arguments to the entry block and reference
//!   arguments as (region, first cell, length): the region is the data
//!   region or the stack of slot areas. `helper` passes its arguments to
//!   [`Host::call_helper`] as `i64`s, an attribute immediate as
//!   [`attr_arg`] — except `get_attribute`, which is
//!   [`Host::read_attribute`]: a read that cannot abort and happens even
//!   after an abort. A helper raises no exception; it may only abort
//!   ([`HostError::Abort`]), and an abort is sticky, as the ABI
//!   (`stdlib::abi`) has it for compiled code: the aborting
//!   helper's result is 0, later helpers are not called and give 0, and the
//!   invocation runs on until the invoked function returns or an exception
//!   is raised that the raising instruction does not catch itself
//!   (`OutOfFuel` included). It then ends with [`TrapKind::HostAbort`],
//!   located at the aborting helper call, whatever ended it; what it wrote
//!   to the data region meanwhile stays.
//! - An instruction that raises kind K jumps to its `!catch(K -> …)` target,
//!   with the arguments read before the instruction; without one, the
//!   exception leaves the function (a `raise K` terminator always does), and
//!   a `call` that receives it handles it the same way. An exception no
//!   function catches reaches the caller of `invoke` as a [`Trap`] located
//!   at the instruction where it was raised. `OutOfFuel`, host aborts and
//!   stack overflows are never caught; after an abort, only the raising
//!   instruction's own clause catches.
//!
//! # Unverified modules
//!
//! The interpreter runs verified modules. On anything else it does not
//! panic: whatever the verifier would have rejected and the interpreter
//! meets (an unknown id, a value used outside its block or before its
//! definition, an unchecked index or divisor, an extern call, inline
//! assembly, recursion deeper than [`MAX_CALL_DEPTH`]) ends the invocation
//! with [`TrapKind::Invalid`] or [`TrapKind::StackOverflow`]. It also checks
//! the verifier's fuel invariant (V0407) as it goes: the units executed
//! (`tal_ir::cost`: terminators and calls included, `fuel` excluded) never
//! exceed the fuel charged, so every invocation ends, verified or not. The call
//! stack is a `Vec` of frames, not the Rust stack.

#![forbid(unsafe_code)]

use std::fmt;
use stdlib::{HelperLowering, HelperRet};
use tal_ir::cost::{inst_cost, term_cost};
use tal_ir::layout::{GlobalLayout, Layout};
use tal_ir::{
    Arg, AttrRef, AttrType, BinaryOp, BlockCall, BlockId, Callee, ClassId, Cond, ElemType, ExcKind, FuncId, Function,
    HelperArg, Inst, InstKind, Module, ObjType, ParamType, Place, Root, ScalarType, Span, Terminator, Type, UnaryOp,
    ValueId,
};

/// Calls deeper than this end with [`TrapKind::StackOverflow`] (verified
/// modules cannot recurse, and their stack bound keeps chains far shorter).
pub const MAX_CALL_DEPTH: usize = 1024;
/// The largest data region [`Instance::new`] accepts, in cells.
pub const MAX_DATA_CELLS: u64 = 1 << 24;
/// The most slot cells all frames of an invocation may hold together.
pub const MAX_STACK_CELLS: usize = 1 << 22;

/// The implementation of the helper table ([`stdlib::HELPERS`]).
pub trait Host {
    /// Runs helper `id`. Arguments are `i64`s: values as themselves,
    /// capabilities and event ids as their numbers, attribute immediates as
    /// [`attr_arg`]. Returns the helper's result, if it has one.
    fn call_helper(&mut self, id: u16, args: &[i64]) -> Result<Option<i64>, HostError>;

    /// The invoking application's current value of attribute `attr` (the
    /// module's class index and the attribute's position in it): what
    /// `get_attribute` returns. It cannot fail, abort or act: compiled code
    /// reads it from the rows in `ctx.attrs` (`stdlib::abi`).
    fn read_attribute(&mut self, attr: AttrRef) -> i64;
}

/// A failure the host reports for a helper call. There is no exception a
/// helper could raise: the extension cannot catch anything from the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostError {
    /// End the invocation (stickily: see the crate documentation).
    Abort(String),
}

/// How an attribute immediate `#class.attr` reaches the host: the class in
/// the high 32 bits, the attribute's position in its class in the low 32.
pub fn attr_arg(a: AttrRef) -> i64 {
    (i64::from(a.class.0) << 32) | i64::from(a.attr)
}

/// The inverse of [`attr_arg`].
pub fn attr_of_arg(arg: i64) -> AttrRef {
    AttrRef {
        class: ClassId((arg >> 32) as u32),
        attr: arg as u32,
    }
}

/// Why an invocation ended early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrapKind {
    /// An exception no function caught.
    Exception(ExcKind),
    OutOfFuel,
    /// The host aborted a helper call, or returned nothing where the helper
    /// has a result. Located at that helper call.
    HostAbort(String),
    /// Calls nested deeper than [`MAX_CALL_DEPTH`], or frames larger than
    /// [`MAX_STACK_CELLS`].
    StackOverflow,
    /// The module breaks an invariant the verifier guarantees.
    Invalid(String),
}

/// Where and why an invocation ended early: the function, block and
/// instruction (`None`: the terminator) that raised, innermost first. A
/// failure of the invocation itself (wrong arguments) is located at the
/// entry block's terminator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trap {
    pub kind: TrapKind,
    pub func: FuncId,
    pub block: BlockId,
    pub inst: Option<usize>,
    pub span: Option<Span>,
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trap {:?} in {:?} at {:?}", self.kind, self.func, self.block)?;
        match self.inst {
            Some(i) => write!(f, " instruction {i}"),
            None => write!(f, " terminator"),
        }
    }
}

impl std::error::Error for Trap {}

/// One loaded extension: its module and its data region.
#[derive(Clone)]
pub struct Instance {
    module: Module,
    layout: Layout,
    globals: GlobalLayout,
    funcs: Vec<FuncInfo>,
    data: Vec<i64>,
}

/// What the interpreter precomputes per function.
#[derive(Clone)]
struct FuncInfo {
    /// The number of the first value (parameter) of each block.
    block_first: Vec<usize>,
    /// Values in the whole function.
    values: usize,
    /// Cell offset of each slot in the frame's slot area, and its size.
    slot_offsets: Vec<usize>,
    slot_cells: usize,
    /// Whether each value is a `bool` (for `not`).
    bools: Vec<bool>,
}

impl Instance {
    /// Lays out the module's globals and frames. Fails (never for a verified
    /// module small enough for [`MAX_DATA_CELLS`]) when a global or slot has
    /// no size or a global's initializer does not fit.
    pub fn new(module: Module) -> Result<Instance, String> {
        let layout = Layout::new(&module);
        let globals = GlobalLayout::new(&module).ok_or("a global has no valid layout or initializer")?;
        let data = globals
            .initial_data(MAX_DATA_CELLS)
            .ok_or("the data region is larger than MAX_DATA_CELLS")?;
        let funcs = module
            .funcs
            .iter()
            .map(|f| {
                FuncInfo::new(&module, &layout, f).ok_or_else(|| format!("`@{}` has a slot without a size", f.name))
            })
            .collect::<Result<_, _>>()?;
        Ok(Instance {
            module,
            layout,
            globals,
            funcs,
            data,
        })
    }

    pub fn module(&self) -> &Module {
        &self.module
    }

    /// The data region, one `i64` per cell.
    pub fn data(&self) -> &[i64] {
        &self.data
    }

    pub fn data_mut(&mut self) -> &mut [i64] {
        &mut self.data
    }

    pub fn global_layout(&self) -> &GlobalLayout {
        &self.globals
    }

    /// The cells of the global named `name`.
    pub fn global(&self, name: &str) -> Option<&[i64]> {
        let g = self.module.globals.iter().position(|g| g.name == name)?;
        let start = usize::try_from(self.globals.offsets[g]).ok()?;
        let cells = usize::try_from(self.layout.obj_cells(self.module.globals[g].ty)?).ok()?;
        self.data.get(start..start.checked_add(cells)?)
    }

    /// Runs `func` with the entry block's arguments (capabilities as
    /// handles, bools as 0/1), charging `fuel`. Returns what the function
    /// returns, or where and why it stopped.
    pub fn invoke(
        &mut self,
        host: &mut dyn Host,
        func: FuncId,
        args: &[i64],
        fuel: &mut i64,
    ) -> Result<Option<i64>, Trap> {
        let at_entry = |kind| Trap {
            kind,
            func,
            block: BlockId(0),
            inst: None,
            span: None,
        };
        let Some(f) = self.module.funcs.get(func.index()) else {
            return Err(at_entry(invalid("invoke of an unknown function")));
        };
        if f.params.iter().any(|p| matches!(p, ParamType::Ref(_))) {
            return Err(at_entry(invalid("invoke of a function with reference parameters")));
        }
        let mut machine = Machine {
            m: &self.module,
            layout: &self.layout,
            globals: &self.globals,
            funcs: &self.funcs,
            data: &mut self.data,
            stack: Vec::new(),
            host,
            fuel,
            steps: 0,
            paid: 0,
            aborted: None,
        };
        let entry = machine
            .frame(func, args, vec![None; f.params.len()], 0)
            .map_err(at_entry)?;
        machine.run(entry)
    }
}

fn invalid(why: &str) -> TrapKind {
    TrapKind::Invalid(why.to_string())
}

impl FuncInfo {
    fn new(m: &Module, layout: &Layout, f: &Function) -> Option<FuncInfo> {
        let mut block_first = Vec::with_capacity(f.blocks.len());
        let mut values = 0;
        for b in &f.blocks {
            block_first.push(values);
            values += b.params.len() + b.insts.iter().filter(|i| i.kind.has_result()).count();
        }
        let mut slot_offsets = Vec::with_capacity(f.slots.len());
        let mut slot_cells = 0usize;
        for &ty in &f.slots {
            slot_offsets.push(slot_cells);
            slot_cells = slot_cells.checked_add(usize::try_from(layout.obj_cells(ty)?).ok()?)?;
        }
        Some(FuncInfo {
            block_first,
            values,
            slot_offsets,
            slot_cells,
            bools: bool_values(m, layout, f),
        })
    }
}

/// Whether each value of `f` is a `bool`, by its definition: a block
/// parameter's declared type, or what the instruction produces.
fn bool_values(m: &Module, layout: &Layout, f: &Function) -> Vec<bool> {
    let mut bools: Vec<bool> = Vec::new();
    for block in &f.blocks {
        bools.extend(block.params.iter().map(|&t| t == Type::Bool));
        for inst in block.insts.iter().filter(|i| i.kind.has_result()) {
            let is_bool = |v: &ValueId| bools.get(v.index()).copied().unwrap_or(false);
            let b = match &inst.kind {
                InstKind::Bconst(_) | InstKind::Icmp { .. } => true,
                InstKind::Unary { op: UnaryOp::Not, arg } => is_bool(arg),
                InstKind::Binary {
                    op: BinaryOp::And | BinaryOp::Or | BinaryOp::Xor,
                    lhs,
                    ..
                } => is_bool(lhs),
                InstKind::Load(place) => place_path(m, layout, f, place).is_some_and(|p| p.scalar == ScalarType::Bool),
                InstKind::Call {
                    callee: Callee::Func(g),
                    ..
                } => m.funcs.get(g.index()).is_some_and(|g| g.ret == Some(Type::Bool)),
                InstKind::Helper { id, args, .. } => {
                    stdlib::helper_by_id(*id).is_some_and(|h| h.ret == HelperRet::AttrValue)
                        && args.iter().any(|a| match a {
                            HelperArg::Attr(a) => m.attr(*a).is_some_and(|d| d.ty == AttrType::Bool),
                            HelperArg::Value(_) => false,
                        })
                }
                _ => false,
            };
            bools.push(b);
        }
    }
    bools
}

/// The static part of a place: the stride of the root's elements (0 for a
/// non-array root), the cell offset of the field inside an element, and the
/// scalar type there.
struct PlacePath {
    stride: u64,
    offset: u64,
    scalar: ScalarType,
}

fn place_path(m: &Module, layout: &Layout, f: &Function, place: &Place) -> Option<PlacePath> {
    let (mut elem, stride) = match (root_type(m, f, place.root)?, place.index) {
        (ObjType::Array { elem, .. }, Some(_)) => (elem, layout.elem_cells(elem)?),
        (ObjType::Elem(elem), None) => (elem, 0),
        _ => return None,
    };
    let mut offset = 0u64;
    for &field in &place.fields {
        let ElemType::Struct(s) = elem else { return None };
        offset = offset.checked_add(layout.field_offset(s, field)?)?;
        elem = m.structs.get(s.index())?.fields.get(field as usize)?.ty;
    }
    match elem {
        ElemType::Scalar(scalar) => Some(PlacePath { stride, offset, scalar }),
        ElemType::Struct(_) => None,
    }
}

fn root_type(m: &Module, f: &Function, root: Root) -> Option<ObjType> {
    match root {
        Root::Global(g) => Some(m.globals.get(g.index())?.ty),
        Root::Slot(s) => f.slots.get(s.index()).copied(),
        Root::Param(p) => match f.params.get(p as usize)? {
            ParamType::Ref(o) => Some(*o),
            ParamType::Value(_) => None,
        },
    }
}

/// Which memory a reference points into.
#[derive(Clone, Copy, Debug)]
enum Region {
    /// The extension's data region (globals).
    Data,
    /// The slot areas of all frames of the invocation, innermost last.
    Stack,
}

/// A memory object: where its first cell is and, for an array, its length
/// in elements (1 for a single object).
#[derive(Clone, Copy, Debug)]
struct Ref {
    region: Region,
    base: usize,
    len: u64,
}

/// One activation of a function.
struct Frame<'a> {
    id: FuncId,
    f: &'a Function,
    info: &'a FuncInfo,
    /// Every value of the function, by number; those in `scope` are live.
    values: Vec<i64>,
    /// The current block's values defined so far.
    scope: std::ops::Range<usize>,
    /// The objects of the reference parameters, by parameter position.
    refs: Vec<Option<Ref>>,
    /// Where this frame's slot area starts in the stack region.
    slot_base: usize,
    /// The current block, and the current instruction in it (the
    /// terminator when past the last instruction). In a caller, the
    /// current instruction is the call.
    block: usize,
    inst: usize,
}

impl<'a> Frame<'a> {
    fn get(&self, v: ValueId) -> Result<i64, TrapKind> {
        if !self.scope.contains(&v.index()) {
            return Err(invalid("a value used outside its block or before its definition"));
        }
        Ok(self.values[v.index()])
    }

    /// Defines the next value of the current block.
    fn define(&mut self, value: i64) -> Result<(), TrapKind> {
        let slot = self.values.get_mut(self.scope.end);
        *slot.ok_or_else(|| invalid("more values than the function numbers"))? = value;
        self.scope.end += 1;
        Ok(())
    }

    /// Continues at the start of `to.block`, passing `to.args`.
    fn jump(&mut self, to: &BlockCall) -> Result<(), TrapKind> {
        let args = to.args.iter().map(|&v| self.get(v)).collect::<Result<Vec<_>, _>>()?;
        self.enter(to.block.index(), &args)
    }

    /// Continues at the start of block `b` with its parameters' values.
    fn enter(&mut self, b: usize, args: &[i64]) -> Result<(), TrapKind> {
        let params = self.f.blocks.get(b).map(|block| block.params.len());
        if params != Some(args.len()) {
            return Err(invalid("a branch to an unknown block or with the wrong arguments"));
        }
        let first = self.info.block_first[b];
        self.values[first..first + args.len()].copy_from_slice(args);
        self.scope = first..first + args.len();
        (self.block, self.inst) = (b, 0);
        Ok(())
    }

    /// The current instruction; `None` at the terminator.
    fn current(&self) -> Option<&'a Inst> {
        self.f.blocks[self.block].insts.get(self.inst)
    }

    /// A trap at the current instruction.
    fn trap(&self, kind: TrapKind) -> Trap {
        let block = &self.f.blocks[self.block];
        let inst = self.current().map(|_| self.inst);
        Trap {
            kind,
            func: self.id,
            block: BlockId(self.block as u32),
            inst,
            span: self.current().map_or(block.term_span, |i| i.span),
        }
    }
}

fn raise(kind: ExcKind) -> TrapKind {
    match kind {
        ExcKind::OutOfFuel => TrapKind::OutOfFuel,
        k => TrapKind::Exception(k),
    }
}

/// The state of one invocation.
struct Machine<'a> {
    m: &'a Module,
    layout: &'a Layout,
    globals: &'a GlobalLayout,
    funcs: &'a [FuncInfo],
    data: &'a mut [i64],
    /// The slot areas of the frames, innermost last.
    stack: Vec<i64>,
    host: &'a mut dyn Host,
    fuel: &'a mut i64,
    /// Instructions executed (`fuel` excluded) and fuel charged so far.
    steps: u64,
    paid: u64,
    /// How the invocation ends, once a helper has aborted it.
    aborted: Option<Trap>,
}

impl<'a> Machine<'a> {
    /// A new frame for `id` at the start of its entry block, `depth` frames
    /// below it; its slot area is allocated (zeroed) on the stack.
    fn frame(&mut self, id: FuncId, args: &[i64], refs: Vec<Option<Ref>>, depth: usize) -> Result<Frame<'a>, TrapKind> {
        let m: &'a Module = self.m;
        let (Some(f), Some(info)) = (m.funcs.get(id.index()), self.funcs.get(id.index())) else {
            return Err(invalid("a call of an unknown function"));
        };
        let slot_base = self.stack.len();
        let top = slot_base.saturating_add(info.slot_cells);
        if depth >= MAX_CALL_DEPTH || top > MAX_STACK_CELLS {
            return Err(TrapKind::StackOverflow);
        }
        let mut frame = Frame {
            id,
            f,
            info,
            values: vec![0; info.values],
            scope: 0..0,
            refs,
            slot_base,
            block: 0,
            inst: 0,
        };
        frame.enter(0, args)?;
        self.stack.resize(top, 0);
        Ok(frame)
    }

    /// Runs `entry` to its return or to a trap. The call stack is `frames`,
    /// not the Rust stack: a call pushes the callee; a return pops it and
    /// resumes the caller after the call; an exception pops frames until a
    /// current instruction (the raising one, then the calls) catches it.
    fn run(&mut self, entry: Frame<'a>) -> Result<Option<i64>, Trap> {
        let mut frames = vec![entry];
        loop {
            let depth = frames.len();
            // Never empty here: the entry frame leaves only through the
            // `return`s below.
            let Some(top) = frames.last_mut() else {
                unreachable!("a frame is always running")
            };
            let f: &'a Function = top.f;
            let block = &f.blocks[top.block];
            let done = match block.insts.get(top.inst) {
                Some(
                    inst @ Inst {
                        kind: InstKind::Call { callee, args, .. },
                        ..
                    },
                ) => match self
                    .count_step(inst_cost(self.layout, f, inst))
                    .and_then(|()| self.call(top, *callee, args, depth))
                {
                    Ok(callee) => {
                        frames.push(callee);
                        continue;
                    }
                    Err(kind) => Err(kind),
                },
                Some(inst) => self.step(top, inst).map(|()| top.inst += 1),
                None => match self.terminate(top, &block.term) {
                    Ok(None) => Ok(()),
                    Ok(Some(value)) => {
                        let callee = frames.pop().expect("the frame just run");
                        self.stack.truncate(callee.slot_base);
                        let Some(caller) = frames.last_mut() else {
                            return match self.aborted.take() {
                                Some(abort) => Err(abort),
                                None => Ok(value),
                            };
                        };
                        resume(caller, value)
                    }
                    Err(kind) => Err(kind),
                },
            };
            if let Err(kind) = done {
                let trap = frames.last().expect("the frame that failed").trap(kind);
                self.unwind(&mut frames, trap)?;
            }
        }
    }

    /// Propagates `trap` from the innermost frame outwards: the first frame
    /// whose current instruction has a catch clause for it continues at the
    /// clause's target; frames without one are left. After an abort, only
    /// the raising instruction's own clause applies (compiled code branches
    /// there directly); otherwise the invocation ends with the abort.
    fn unwind(&mut self, frames: &mut Vec<Frame<'a>>, mut trap: Trap) -> Result<(), Trap> {
        while let Some(top) = frames.last_mut() {
            if let TrapKind::Exception(k) = trap.kind
                && let Some(clause) = top.current().and_then(|i| i.catches.iter().find(|c| c.kind == k))
            {
                match top.jump(&clause.target) {
                    Ok(()) => return Ok(()),
                    Err(kind) => trap = top.trap(kind),
                }
            }
            if let Some(abort) = self.aborted.take() {
                return Err(abort);
            }
            let left = frames.pop().expect("the frame just looked at");
            self.stack.truncate(left.slot_base);
        }
        Err(trap)
    }

    /// Counts an executed instruction's units against the fuel charged so far.
    fn count_step(&mut self, units: u64) -> Result<(), TrapKind> {
        self.steps = self.steps.saturating_add(units);
        if self.steps > self.paid {
            return Err(invalid("more instructions ran than their `fuel` paid for"));
        }
        Ok(())
    }

    fn charge(&mut self, n: u64) -> Result<(), TrapKind> {
        let left = i128::from(*self.fuel) - i128::from(n);
        *self.fuel = i64::try_from(left).unwrap_or(i64::MIN);
        if left < 0 {
            return Err(TrapKind::OutOfFuel);
        }
        self.paid = self.paid.saturating_add(n);
        Ok(())
    }

    /// Executes one instruction other than a call, defining its result.
    fn step(&mut self, frame: &mut Frame<'a>, inst: &Inst) -> Result<(), TrapKind> {
        if let InstKind::Fuel(n) = inst.kind {
            return self.charge(n);
        }
        self.count_step(inst_cost(self.layout, frame.f, inst))?;
        let result = self.exec(frame, &inst.kind)?;
        match (inst.kind.has_result(), result) {
            (true, Some(v)) => frame.define(v),
            (true, None) => Err(invalid("an instruction without its result")),
            (false, _) => Ok(()),
        }
    }

    /// Executes a terminator: `Ok(None)` after a jump, `Ok(Some(value))` on
    /// a return.
    fn terminate(&mut self, frame: &mut Frame<'a>, term: &Terminator) -> Result<Option<Option<i64>>, TrapKind> {
        self.count_step(term_cost(term))?;
        match term {
            Terminator::Jump(to) => frame.jump(to)?,
            Terminator::Brif { cond, then_to, else_to } => {
                frame.jump(if frame.get(*cond)? != 0 { then_to } else { else_to })?
            }
            Terminator::Return(value) => return Ok(Some(value.map(|v| frame.get(v)).transpose()?)),
            Terminator::Raise(ExcKind::OutOfFuel) => return Err(invalid("`raise OutOfFuel`")),
            Terminator::Raise(kind) => return Err(raise(*kind)),
        }
        Ok(None)
    }

    /// The result of an instruction other than `fuel` and `call`.
    fn exec(&mut self, frame: &mut Frame<'a>, kind: &InstKind) -> Result<Option<i64>, TrapKind> {
        let m = self.m;
        let value = match kind {
            InstKind::Fuel(_) | InstKind::Call { .. } => {
                return Err(invalid("fuel or call run as another instruction"));
            }
            InstKind::Iconst(c) => *c,
            InstKind::Bconst(b) => i64::from(*b),
            InstKind::Event(e) if e.index() < m.events.len() => i64::from(e.0),
            InstKind::Event(_) => return Err(invalid("an unknown event")),
            InstKind::Unary { op, arg } => {
                let x = frame.get(*arg)?;
                match op {
                    UnaryOp::Neg => x.checked_neg().ok_or(raise(ExcKind::Overflow))?,
                    UnaryOp::Not if frame.info.bools[arg.index()] => x ^ 1,
                    UnaryOp::Not => !x,
                }
            }
            InstKind::Binary { op, lhs, rhs } => binary(*op, frame.get(*lhs)?, frame.get(*rhs)?)?,
            InstKind::Icmp { cond, lhs, rhs } => {
                let (a, b) = (frame.get(*lhs)?, frame.get(*rhs)?);
                i64::from(match cond {
                    Cond::Eq => a == b,
                    Cond::Ne => a != b,
                    Cond::Lt => a < b,
                    Cond::Le => a <= b,
                    Cond::Gt => a > b,
                    Cond::Ge => a >= b,
                })
            }
            InstKind::CheckNonZero(v) => match frame.get(*v)? {
                0 => return Err(raise(ExcKind::DivideByZero)),
                x => x,
            },
            InstKind::CheckBounds { value, root } => {
                let x = frame.get(*value)?;
                let (obj, ty) = self.root(frame, *root)?;
                if !matches!(ty, ObjType::Array { .. }) {
                    return Err(invalid("`check.bounds` against a non-array"));
                }
                if u64::try_from(x).is_ok_and(|i| i < obj.len) {
                    x
                } else {
                    return Err(raise(ExcKind::OutOfBounds));
                }
            }
            InstKind::CheckRange { value, attr } => {
                let x = frame.get(*value)?;
                let def = m.attr(*attr).ok_or_else(|| invalid("an unknown attribute"))?;
                match def.range {
                    Some((lo, hi)) if !(lo..=hi).contains(&x) => return Err(raise(ExcKind::RangeError)),
                    _ => x,
                }
            }
            InstKind::CheckNull(v) => match frame.get(*v)? {
                0 => return Err(raise(ExcKind::NullCapability)),
                x => x,
            },
            InstKind::Load(place) => *self.cell(frame, place)?,
            InstKind::Store { place, value } => {
                let x = frame.get(*value)?;
                *self.cell(frame, place)? = x;
                return Ok(None);
            }
            InstKind::Init(slot) => {
                let (obj, ty) = self.root(frame, Root::Slot(*slot))?;
                let cells = self.layout.obj_cells(ty).and_then(|c| usize::try_from(c).ok());
                let end = obj
                    .base
                    .saturating_add(cells.ok_or_else(|| invalid("a slot without a size"))?);
                let area = self.stack.get_mut(obj.base..end);
                area.ok_or_else(|| invalid("a slot outside its frame"))?.fill(0);
                return Ok(None);
            }
            InstKind::Size(root) => match self.root(frame, *root)? {
                (obj, ObjType::Array { .. }) => i64::try_from(obj.len).map_err(|_| invalid("an array too long"))?,
                _ => return Err(invalid("`size` of a non-array")),
            },
            InstKind::Helper { id, args, result } => {
                let def = stdlib::helper_by_id(*id).ok_or_else(|| invalid("a helper id outside the helper table"))?;
                if def.lowering == HelperLowering::ReadAttribute {
                    // A read, even after an abort: it acts on nothing.
                    let attr = args.iter().find_map(HelperArg::attr);
                    return Ok(Some(
                        self.host
                            .read_attribute(attr.ok_or_else(|| invalid("a read without its attribute"))?),
                    ));
                }
                if self.aborted.is_some() {
                    // Every helper refuses to act once one has aborted.
                    return Ok(Some(0));
                }
                let args = args
                    .iter()
                    .map(|a| match a {
                        HelperArg::Value(v) => frame.get(*v),
                        HelperArg::Attr(a) => Ok(attr_arg(*a)),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let why = match self.host.call_helper(*id, &args) {
                    Ok(Some(v)) => return Ok(Some(v)),
                    Ok(None) if !*result => return Ok(None),
                    Ok(None) => "the helper returned no value".to_string(),
                    Err(HostError::Abort(why)) => why,
                };
                // Sticky: the invocation runs on, its helpers refusing.
                self.aborted = Some(frame.trap(TrapKind::HostAbort(why)));
                return Ok(Some(0));
            }
            InstKind::InlineAsm(_) => return Err(invalid("inline assembly")),
        };
        Ok(Some(value))
    }

    /// The frame a call instruction enters, `depth` frames deep.
    fn call(&mut self, caller: &Frame<'a>, callee: Callee, args: &[Arg], depth: usize) -> Result<Frame<'a>, TrapKind> {
        let Callee::Func(id) = callee else {
            return Err(invalid("a call of an extern symbol"));
        };
        let target = self
            .m
            .funcs
            .get(id.index())
            .ok_or_else(|| invalid("a call of an unknown function"))?;
        if args.len() != target.params.len() {
            return Err(invalid("a call with the wrong number of arguments"));
        }
        let mut values = Vec::new();
        let mut refs = vec![None; args.len()];
        for (pos, (param, arg)) in target.params.iter().zip(args).enumerate() {
            match (param, arg) {
                (ParamType::Value(_), Arg::Value(v)) => values.push(caller.get(*v)?),
                (ParamType::Ref(want), Arg::Ref(root)) => {
                    let (obj, have) = self.root(caller, *root)?;
                    let fits = match (*want, have) {
                        (ObjType::Elem(a), ObjType::Elem(b)) => a == b,
                        (ObjType::Array { elem: a, len: la }, ObjType::Array { elem: b, .. }) => {
                            a == b && la.is_none_or(|n| u64::from(n) == obj.len)
                        }
                        _ => false,
                    };
                    if !fits {
                        return Err(invalid("a reference argument of the wrong type"));
                    }
                    refs[pos] = Some(obj);
                }
                _ => return Err(invalid("a value passed by reference or the other way round")),
            }
        }
        self.frame(id, &values, refs, depth)
    }

    /// The object a root names, and its declared type.
    fn root(&self, frame: &Frame<'a>, root: Root) -> Result<(Ref, ObjType), TrapKind> {
        let ty = root_type(self.m, frame.f, root).ok_or_else(|| invalid("an unknown memory root"))?;
        let len = match ty {
            ObjType::Array { len, .. } => len.map_or(0, u64::from),
            ObjType::Elem(_) => 1,
        };
        let obj = match root {
            Root::Global(g) => Ref {
                region: Region::Data,
                base: usize::try_from(self.globals.offsets[g.index()]).map_err(|_| invalid("a global too far"))?,
                len,
            },
            Root::Slot(s) => Ref {
                region: Region::Stack,
                base: frame.slot_base + frame.info.slot_offsets[s.index()],
                len,
            },
            Root::Param(p) => {
                frame.refs[p as usize].ok_or_else(|| invalid("a reference parameter without an object"))?
            }
        };
        Ok((obj, ty))
    }

    /// The cell a place names.
    fn cell(&mut self, frame: &Frame<'a>, place: &Place) -> Result<&mut i64, TrapKind> {
        let (obj, _) = self.root(frame, place.root)?;
        let path =
            place_path(self.m, self.layout, frame.f, place).ok_or_else(|| invalid("a place that names no scalar"))?;
        let index = match place.index {
            None => 0,
            Some(v) => match u64::try_from(frame.get(v)?) {
                Ok(i) if i < obj.len => i,
                _ => return Err(invalid("an index outside its array: it did not pass `check.bounds`")),
            },
        };
        let cell = index
            .checked_mul(path.stride)
            .and_then(|c| c.checked_add(path.offset))
            .and_then(|c| usize::try_from(c).ok())
            .and_then(|c| c.checked_add(obj.base));
        let memory = match obj.region {
            Region::Data => &mut *self.data,
            Region::Stack => &mut self.stack,
        };
        cell.and_then(|c| memory.get_mut(c))
            .ok_or_else(|| invalid("a place outside its memory region"))
    }
}

/// Resumes `caller` after the call that just returned `value`.
fn resume(caller: &mut Frame<'_>, value: Option<i64>) -> Result<(), TrapKind> {
    if caller.current().is_some_and(|call| call.kind.has_result()) {
        caller.define(value.ok_or_else(|| invalid("a call defines a value but the callee returned none"))?)?;
    }
    caller.inst += 1;
    Ok(())
}

fn binary(op: BinaryOp, a: i64, b: i64) -> Result<i64, TrapKind> {
    let overflow = || raise(ExcKind::Overflow);
    let shift = || u32::try_from(b).ok().filter(|&s| s <= 63).ok_or_else(overflow);
    match op {
        BinaryOp::Add => a.checked_add(b).ok_or_else(overflow),
        BinaryOp::Sub => a.checked_sub(b).ok_or_else(overflow),
        BinaryOp::Mul => a.checked_mul(b).ok_or_else(overflow),
        BinaryOp::Div | BinaryOp::Rem if b == 0 => Err(invalid("a divisor that did not pass `check.nonzero`")),
        BinaryOp::Div => a.checked_div(b).ok_or_else(overflow),
        BinaryOp::Rem => a.checked_rem(b).ok_or_else(overflow),
        BinaryOp::And => Ok(a & b),
        BinaryOp::Or => Ok(a | b),
        BinaryOp::Xor => Ok(a ^ b),
        BinaryOp::Shl => {
            let s = shift()?;
            let r = a << s;
            if r >> s == a { Ok(r) } else { Err(overflow()) }
        }
        BinaryOp::Shr => Ok(a >> shift()?),
    }
}
