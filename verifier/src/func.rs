//! The per-function pass: one walk over the blocks in layout order.
//!
//! State is small and indexed: the type of every value defined so far (a
//! value is in scope iff its number is in `block_first..types.len()`), the
//! loop nesting of every block (from a first walk over block headers only),
//! and which slots are initialized. Every instruction is visited once, with
//! O(1) work per operand. Fuel and deadline tests are the call-graph pass's
//! (`fuel.rs`): they need the callees' summaries.

use crate::calls::CallGraph;
use crate::module::{Decls, GUARD_RIGHT_STORED, check_value_type, holds_guard_right};
use crate::types::{coerce, is_int, name, obj_name, root_name, scalar_value_type};
use crate::{Sink, forbidden};
use stdlib::{AttrAccess, HelperParam, HelperRet};
use tal_ir::layout::{FrameShape, call_frame_bytes, frame_size};
use tal_ir::{
    Arg, AttrType, BinaryOp, BlockCall, BlockId, Callee, Cond, ElemType, ExcKind, FuncId, Function, HelperArg, Inst,
    InstKind, Location, Module, ObjType, ParamType, Place, Root, ScalarType, SlotId, Terminator, Type, UnaryOp,
    ValueId,
};

/// Checks one function; returns its frame size for the call-graph pass.
pub(crate) fn check_function(
    m: &Module,
    decls: &Decls,
    id: FuncId,
    f: &Function,
    graph: &mut CallGraph,
    sink: &mut Sink,
) -> u64 {
    if f.blocks.is_empty() {
        sink.error(
            "V0104",
            Location::Func(id),
            format!("function `@{}` has no blocks", f.name),
        );
        return frame_size(FrameShape::default());
    }
    let mut slot_bytes = 0u64;
    for (s, &ty) in f.slots.iter().enumerate() {
        if holds_guard_right(ty) {
            sink.error(
                "V0606",
                Location::Func(id),
                format!("slot ${s} of `@{}` {GUARD_RIGHT_STORED}", f.name),
            );
        }
        match decls.obj_size(ty) {
            Some(size) => slot_bytes = slot_bytes.saturating_add(size),
            None => sink.error(
                "V0108",
                Location::Func(id),
                format!(
                    "slot ${s} of `@{}` has type `{}`, which has no valid static size",
                    f.name,
                    obj_name(m, ty)
                ),
            ),
        }
    }
    let loops = Loops::new(f, id, sink);
    let mut cx = FnCx {
        m,
        id,
        f,
        graph,
        sink,
        loops,
        types: Vec::with_capacity(f.blocks.iter().map(|b| b.params.len() + b.insts.len()).sum()),
        block_first: 0,
        block: 0,
        init_now: vec![false; f.slots.len()],
        entry_init: vec![false; f.slots.len()],
        entry_frozen: false,
        max_block_values: 0,
        max_call_bytes: 0,
    };
    for b in 0..f.blocks.len() {
        cx.block(b);
    }
    frame_size(FrameShape {
        slots: f.slots.len() as u64,
        slot_bytes,
        max_block_values: cx.max_block_values,
        ref_params: f.params.iter().filter(|p| matches!(p, ParamType::Ref(_))).count() as u64,
        max_call_bytes: cx.max_call_bytes,
    })
}

/// Loop nesting, from the block headers' declarations.
struct Loops {
    /// For a valid loop header: the last block of its loop.
    end: Vec<Option<u32>>,
    /// For a valid loop header: the header of the enclosing loop.
    parent: Vec<Option<u32>>,
    /// For every block: the header of the innermost loop containing it.
    innermost: Vec<Option<u32>>,
}

impl Loops {
    fn new(f: &Function, id: FuncId, sink: &mut Sink) -> Loops {
        let n = f.blocks.len();
        let mut loops = Loops {
            end: vec![None; n],
            parent: vec![None; n],
            innermost: vec![None; n],
        };
        let mut open: Vec<(u32, u32)> = Vec::new();
        for (b, block) in f.blocks.iter().enumerate() {
            let b32 = b as u32;
            while open.last().is_some_and(|&(_, end)| end < b32) {
                open.pop();
            }
            if let Some(end) = block.loop_end {
                let loc = Location::Block(id, BlockId(b32));
                let enclosing = open.last().copied();
                if end.index() >= n {
                    sink.error(
                        "V0102",
                        loc,
                        format!("loop of block{b} ends at block{}, which does not exist", end.0),
                    );
                } else if end.0 < b32 {
                    sink.error(
                        "V0405",
                        loc,
                        format!("loop of block{b} ends at block{}, before it starts", end.0),
                    );
                } else if let Some((h, e)) = enclosing.filter(|&(_, e)| end.0 > e) {
                    sink.error(
                        "V0405",
                        loc,
                        format!(
                            "loop block{b}..=block{} overlaps loop block{h}..=block{e} without nesting inside it",
                            end.0
                        ),
                    );
                } else {
                    loops.end[b] = Some(end.0);
                    loops.parent[b] = enclosing.map(|(h, _)| h);
                    open.push((b32, end.0));
                }
            }
            loops.innermost[b] = open.last().map(|&(h, _)| h);
        }
        loops
    }

    fn contains(&self, header: u32, block: usize) -> bool {
        self.end[header as usize].is_some_and(|end| header as usize <= block && block <= end as usize)
    }
}

struct FnCx<'a> {
    m: &'a Module,
    id: FuncId,
    f: &'a Function,
    graph: &'a mut CallGraph,
    sink: &'a mut Sink,
    loops: Loops,
    /// Type of every value defined so far; `None` for a value whose
    /// definition was rejected (its uses are not reported again).
    types: Vec<Option<Type>>,
    /// First value number of the current block.
    block_first: usize,
    block: usize,
    /// Slots initialized so far in the entry block.
    init_now: Vec<bool>,
    /// Slots initialized on every path that leaves the entry block.
    entry_init: Vec<bool>,
    /// Set once an entry-block instruction can leave through a catch.
    entry_frozen: bool,
    /// For the frame model (`tal_ir::layout`, "Stack frames"): values of
    /// the largest block so far, and the most a call adds to the frame.
    max_block_values: u64,
    max_call_bytes: u64,
}

type Fail = (&'static str, String);

impl FnCx<'_> {
    fn err(&mut self, code: &'static str, loc: Location, message: impl Into<String>) {
        self.sink.error(code, loc, message);
    }

    fn block(&mut self, b: usize) {
        let block = &self.f.blocks[b];
        let bid = BlockId(b as u32);
        let header = Location::Block(self.id, bid);
        self.block = b;
        self.block_first = self.types.len();
        for &t in &block.params {
            let ok = self
                .local_type(t)
                .map_err(|(code, why)| self.err(code, header, format!("block{b}: {why}")));
            self.types.push(ok.ok().map(|_| t));
        }
        if b == 0 && !block.params.iter().copied().eq(self.f.value_params()) {
            self.err(
                "V0103",
                header,
                format!(
                    "the entry block's parameters must be the value parameters of `@{}`, in order",
                    self.f.name
                ),
            );
        }
        let starts_with_fuel = matches!(
            block.insts.first(),
            Some(Inst {
                kind: InstKind::Fuel(_),
                ..
            })
        );
        if !starts_with_fuel {
            if b == 0 && self.f.kind != tal_ir::FuncKind::Plain {
                self.err(
                    "V0401",
                    header,
                    format!(
                        "entry point `@{}` does not start with `fuel`: every invocation must pay for its code",
                        self.f.name
                    ),
                );
            } else if self.loops.end[b].is_some() {
                self.err(
                    "V0402",
                    header,
                    format!("loop header block{b} does not start with `fuel`: every iteration must pay for itself"),
                );
            }
        }
        for (i, inst) in block.insts.iter().enumerate() {
            let loc = Location::Inst(self.id, bid, i);
            for catch in &inst.catches {
                if catch.kind == ExcKind::OutOfFuel {
                    self.err(
                        "V0408",
                        loc,
                        "`OutOfFuel` cannot be caught: running out of fuel always ends the invocation",
                    );
                }
                self.edge(&catch.target, loc);
            }
            if b == 0 && !inst.catches.is_empty() {
                self.entry_frozen = true;
            }
            let result = self.inst(inst, loc);
            if inst.kind.has_result() {
                self.types.push(result);
            }
        }
        self.max_block_values = self.max_block_values.max((self.types.len() - self.block_first) as u64);
        self.terminator(&block.term, Location::Term(self.id, bid));
    }

    /// Checks a value type declared inside this function (block parameters).
    fn local_type(&self, t: Type) -> Result<(), Fail> {
        check_value_type(self.m, t)?;
        if let Type::Index(root) = t {
            match self.root_type(root)? {
                ObjType::Array { .. } => {}
                _ => {
                    return Err((
                        "V0304",
                        format!("`{}`: {} is not an array", name(self.m, t), root_name(self.m, root)),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A use of a value: in scope, and its type (`None` if already rejected).
    fn use_value(&mut self, v: ValueId, loc: Location) -> Option<Type> {
        let index = v.index();
        if index < self.block_first || index >= self.types.len() {
            let why = if index < self.block_first {
                "is defined in another block: values are block scoped, so pass it as a block argument"
            } else {
                "is not defined before this use"
            };
            self.err("V0106", loc, format!("v{} {why}", v.0));
            return None;
        }
        self.types[index]
    }

    /// A use where a type is expected.
    fn expect(&mut self, v: ValueId, expected: Type, loc: Location) -> bool {
        let Some(actual) = self.use_value(v, loc) else {
            return false;
        };
        match coerce(self.m, actual, expected) {
            Ok(()) => true,
            Err(e) => {
                self.err(e.code, loc, format!("v{}: {}", v.0, e.why));
                false
            }
        }
    }

    /// The memory type of a root.
    fn root_type(&self, root: Root) -> Result<ObjType, Fail> {
        match root {
            Root::Global(g) => self
                .m
                .globals
                .get(g.index())
                .map(|g| g.ty)
                .ok_or_else(|| ("V0102", format!("unknown global #{}", g.0))),
            Root::Slot(s) => self
                .f
                .slots
                .get(s.index())
                .copied()
                .ok_or_else(|| ("V0102", format!("unknown slot ${}", s.0))),
            Root::Param(p) => match self.f.params.get(p as usize) {
                Some(ParamType::Ref(o)) => Ok(*o),
                Some(ParamType::Value(_)) => Err(("V0102", format!("%{p} is a value parameter, not a reference"))),
                None => Err(("V0102", format!("unknown parameter %{p}"))),
            },
        }
    }

    fn root(&mut self, root: Root, loc: Location) -> Option<ObjType> {
        self.root_type(root)
            .map_err(|(code, why)| self.err(code, loc, why))
            .ok()
    }

    fn slot_initialized(&self, s: SlotId) -> bool {
        let init = if self.block == 0 {
            &self.init_now
        } else {
            &self.entry_init
        };
        init.get(s.index()).copied().unwrap_or(true)
    }

    /// A read of a root's memory: slots must be initialized first.
    fn read_root(&mut self, root: Root, loc: Location) {
        if let Root::Slot(s) = root
            && !self.slot_initialized(s)
        {
            let where_ = if self.block == 0 {
                "earlier in the entry block"
            } else {
                "in the entry block, before any `catch`"
            };
            self.err(
                "V0303",
                loc,
                format!(
                    "read of slot ${} before it is initialized: `init ${}` must come {where_}",
                    s.0, s.0
                ),
            );
        }
    }

    /// The scalar a place names.
    fn place(&mut self, p: &Place, loc: Location) -> Option<ScalarType> {
        let obj = self.root(p.root, loc)?;
        let mut elem = match (obj, p.index) {
            (ObjType::Array { elem, .. }, Some(v)) => {
                self.expect(v, Type::Index(p.root), loc);
                elem
            }
            (ObjType::Array { .. }, None) => {
                self.err(
                    "V0304",
                    loc,
                    format!(
                        "{} is an array: the access needs a checked index",
                        root_name(self.m, p.root)
                    ),
                );
                return None;
            }
            (ObjType::Elem(e), None) => e,
            (ObjType::Elem(_), Some(_)) => {
                self.err(
                    "V0304",
                    loc,
                    format!("{} is not an array and cannot be indexed", root_name(self.m, p.root)),
                );
                return None;
            }
        };
        for &field in &p.fields {
            let ElemType::Struct(s) = elem else {
                self.err("V0304", loc, "field access on a scalar");
                return None;
            };
            match self
                .m
                .structs
                .get(s.index())
                .and_then(|sd| sd.fields.get(field as usize))
            {
                Some(fd) => elem = fd.ty,
                None => {
                    self.err("V0102", loc, format!("unknown field #{field}"));
                    return None;
                }
            }
        }
        match elem {
            ElemType::Scalar(s) => Some(s),
            ElemType::Struct(_) => {
                self.err(
                    "V0304",
                    loc,
                    "the place names a whole struct: loads and stores move one scalar field",
                );
                None
            }
        }
    }

    /// An operand of integer arithmetic.
    fn int_operand(&mut self, v: ValueId, what: &str, loc: Location) -> bool {
        match self.use_value(v, loc) {
            None => false,
            Some(t) if is_int(t) => true,
            Some(t @ Type::Cap { .. }) => {
                self.err(
                    "V0702",
                    loc,
                    format!(
                        "pointer arithmetic: v{} of type `{}` used in {what}; capabilities are opaque handles",
                        v.0,
                        name(self.m, t)
                    ),
                );
                false
            }
            Some(t) => {
                self.err(
                    "V0201",
                    loc,
                    format!(
                        "v{} of type `{}` used in {what}, which needs `i64`",
                        v.0,
                        name(self.m, t)
                    ),
                );
                false
            }
        }
    }

    /// Operands of `and`/`or`/`xor`/`not`/`icmp eq`: both integers or both bools.
    fn int_or_bool(&mut self, a: ValueId, b: Option<ValueId>, what: &str, loc: Location) -> Option<Type> {
        let ta = self.use_value(a, loc);
        let tb = match b {
            Some(b) => self.use_value(b, loc),
            None => ta,
        };
        let (ta, tb) = (ta?, tb?);
        if is_int(ta) && is_int(tb) {
            return Some(Type::I64);
        }
        if ta == Type::Bool && tb == Type::Bool {
            return Some(Type::Bool);
        }
        let found = match b {
            Some(_) => format!("{}`, `{}", name(self.m, ta), name(self.m, tb)),
            None => name(self.m, ta),
        };
        if matches!(ta, Type::Cap { .. }) || matches!(tb, Type::Cap { .. }) {
            let why = format!("pointer arithmetic: {what} on `{found}`; capabilities are opaque handles");
            self.err("V0702", loc, why);
        } else {
            self.err(
                "V0201",
                loc,
                format!("{what} needs `i64` or `bool` operands, found `{found}`"),
            );
        }
        None
    }

    fn inst(&mut self, inst: &Inst, loc: Location) -> Option<Type> {
        let m = self.m;
        match &inst.kind {
            InstKind::Fuel(_) => None,
            InstKind::Iconst(_) => Some(Type::I64),
            InstKind::Bconst(_) => Some(Type::Bool),
            InstKind::Event(e) => match m.events.get(e.index()) {
                Some(_) => Some(Type::Event),
                None => {
                    self.err("V0102", loc, format!("unknown event #{}", e.0));
                    None
                }
            },
            InstKind::Unary { op: UnaryOp::Neg, arg } => self.int_operand(*arg, "`ineg`", loc).then_some(Type::I64),
            InstKind::Unary { op: UnaryOp::Not, arg } => self.int_or_bool(*arg, None, "`not`", loc),
            InstKind::Binary { op, lhs, rhs } => match op {
                BinaryOp::And | BinaryOp::Or | BinaryOp::Xor => {
                    self.int_or_bool(*lhs, Some(*rhs), "a bitwise operation", loc)
                }
                BinaryOp::Div | BinaryOp::Rem => {
                    let a = self.int_operand(*lhs, "division", loc);
                    let b = self.expect(*rhs, Type::NonZero, loc);
                    (a && b).then_some(Type::I64)
                }
                _ => {
                    let a = self.int_operand(*lhs, "arithmetic", loc);
                    let b = self.int_operand(*rhs, "arithmetic", loc);
                    (a && b).then_some(Type::I64)
                }
            },
            InstKind::Icmp { cond, lhs, rhs } => {
                let t = self.int_or_bool(*lhs, Some(*rhs), "a comparison", loc)?;
                if t == Type::Bool && !matches!(cond, Cond::Eq | Cond::Ne) {
                    self.err("V0201", loc, "booleans are only compared with `eq` and `ne`");
                    return None;
                }
                Some(Type::Bool)
            }
            InstKind::CheckNonZero(v) => self.int_operand(*v, "`check.nonzero`", loc).then_some(Type::NonZero),
            InstKind::CheckBounds { value, root } => {
                let ok = self.int_operand(*value, "`check.bounds`", loc);
                match self.root(*root, loc)? {
                    ObjType::Array { .. } => ok.then_some(Type::Index(*root)),
                    _ => {
                        self.err(
                            "V0304",
                            loc,
                            format!("`check.bounds` against {}, which is not an array", root_name(m, *root)),
                        );
                        None
                    }
                }
            }
            InstKind::CheckRange { value, attr } => {
                let ok = self.int_operand(*value, "`check.range`", loc);
                match m.attr(*attr) {
                    Some(a) if a.ty == AttrType::I64 => ok.then_some(Type::InRange(*attr)),
                    Some(a) => {
                        self.err(
                            "V0201",
                            loc,
                            format!("`check.range` on `{}`, which is not an `i64` attribute", a.name),
                        );
                        None
                    }
                    None => {
                        self.err("V0102", loc, "`check.range` names an unknown attribute");
                        None
                    }
                }
            }
            InstKind::CheckNull(v) => match self.use_value(*v, loc)? {
                Type::Cap { class, rights, .. } => Some(Type::Cap {
                    class,
                    rights,
                    nullable: false,
                }),
                t => {
                    self.err(
                        "V0701",
                        loc,
                        format!(
                            "pointer forging: `check.null` on v{} of type `{}` would make a capability of it",
                            v.0,
                            name(m, t)
                        ),
                    );
                    None
                }
            },
            InstKind::Load(place) => {
                let scalar = self.place(place, loc)?;
                self.read_root(place.root, loc);
                Some(scalar_value_type(scalar))
            }
            InstKind::Store { place, value } => {
                if let Some(scalar) = self.place(place, loc) {
                    self.expect(*value, scalar_value_type(scalar), loc);
                }
                None
            }
            InstKind::Init(s) => {
                match self.f.slots.get(s.index()) {
                    None => self.err("V0102", loc, format!("unknown slot ${}", s.0)),
                    Some(_) if self.block == 0 => {
                        self.init_now[s.index()] = true;
                        if !self.entry_frozen {
                            self.entry_init[s.index()] = true;
                        }
                    }
                    Some(_) => {}
                }
                None
            }
            InstKind::Size(root) => match self.root(*root, loc)? {
                ObjType::Array { .. } => Some(Type::I64),
                _ => {
                    self.err(
                        "V0304",
                        loc,
                        format!("`size` of {}, which is not an array", root_name(m, *root)),
                    );
                    None
                }
            },
            InstKind::Call { callee, args, result } => self.call(*callee, args, *result, loc),
            InstKind::Helper { id, args, result } => self.helper(*id, args, *result, loc),
            InstKind::InlineAsm(text) => {
                let (code, why) = forbidden::asm(text);
                self.err(code, loc, why);
                None
            }
        }
    }

    fn call(&mut self, callee: Callee, args: &[Arg], result: bool, loc: Location) -> Option<Type> {
        let m = self.m;
        self.max_call_bytes = self.max_call_bytes.max(call_frame_bytes(args));
        let target = match callee {
            Callee::Extern(e) => {
                match m.externs.get(e.index()) {
                    Some(symbol) => {
                        self.graph.add_extern_call(e);
                        let (code, why) = forbidden::symbol(symbol);
                        self.err(code, loc, why);
                    }
                    None => self.err("V0102", loc, format!("unknown extern #{}", e.0)),
                }
                return None;
            }
            Callee::Func(fid) => match m.funcs.get(fid.index()) {
                Some(target) => {
                    if target.kind != tal_ir::FuncKind::Plain {
                        self.err(
                            "V0503",
                            loc,
                            format!(
                                "`@{}` is an entry point: only the host invokes it, charging its entry fuel",
                                target.name
                            ),
                        );
                    }
                    self.graph.add_call(self.id, fid);
                    target
                }
                None => {
                    self.err("V0102", loc, format!("call of unknown function #{}", fid.0));
                    return None;
                }
            },
        };
        if args.len() != target.params.len() {
            self.err(
                "V0203",
                loc,
                format!(
                    "`@{}` takes {} arguments, the call passes {}",
                    target.name,
                    target.params.len(),
                    args.len()
                ),
            );
        }
        for (pos, (param, arg)) in target.params.iter().zip(args).enumerate() {
            match (*param, *arg) {
                (ParamType::Value(t), Arg::Value(v)) => {
                    self.expect(v, t, loc);
                }
                (ParamType::Ref(want), Arg::Ref(root)) => {
                    let Some(have) = self.root(root, loc) else { continue };
                    self.read_root(root, loc);
                    let fits = match (want, have) {
                        (ObjType::Elem(a), ObjType::Elem(b)) => a == b,
                        (ObjType::Array { elem: a, len: la }, ObjType::Array { elem: b, len: lb }) => {
                            a == b && (la.is_none() || la == lb)
                        }
                        _ => false,
                    };
                    if !fits {
                        self.err(
                            "V0206",
                            loc,
                            format!(
                                "argument {pos} of `@{}` is `ref {}`, but {} is `{}`",
                                target.name,
                                obj_name(m, want),
                                root_name(m, root),
                                obj_name(m, have)
                            ),
                        );
                    }
                }
                (ParamType::Value(_), Arg::Ref(root)) => self.err(
                    "V0206",
                    loc,
                    format!(
                        "argument {pos} of `@{}` is a value, but {} is passed by reference",
                        target.name,
                        root_name(m, root)
                    ),
                ),
                (ParamType::Ref(_), Arg::Value(v)) => self.err(
                    "V0701",
                    loc,
                    format!(
                        "pointer forging: argument {pos} of `@{}` is a reference, but v{} is a value",
                        target.name, v.0
                    ),
                ),
            }
        }
        if result && target.ret.is_none() {
            self.err(
                "V0110",
                loc,
                format!("`@{}` returns nothing, but the call defines a value", target.name),
            );
        }
        if result { target.ret } else { None }
    }

    fn helper(&mut self, id: u16, args: &[HelperArg], result: bool, loc: Location) -> Option<Type> {
        let m = self.m;
        let Some(def) = stdlib::helper_by_id(id) else {
            self.err(
                "V0601",
                loc,
                format!(
                    "unknown helper id {id}: the helper table has {} entries",
                    stdlib::HELPERS.len()
                ),
            );
            return None;
        };
        if args.len() != def.params.len() {
            self.err(
                "V0602",
                loc,
                format!(
                    "helper `{}` takes {} arguments, given {}",
                    def.name,
                    def.params.len(),
                    args.len()
                ),
            );
            return None;
        }
        let mut class = None;
        let mut attr = None;
        let mut ok = true;
        for (param, arg) in def.params.iter().zip(args) {
            ok &= match (*param, *arg) {
                (HelperParam::I64, HelperArg::Value(v)) => self.expect(v, Type::I64, loc),
                (HelperParam::Event, HelperArg::Value(v)) => self.expect(v, Type::Event, loc),
                (HelperParam::Cap(required), HelperArg::Value(v)) => match self.use_value(v, loc) {
                    None => false,
                    Some(Type::Cap {
                        class: c,
                        rights,
                        nullable,
                    }) => {
                        class = Some(c);
                        if nullable {
                            self.err(
                                "V0305",
                                loc,
                                format!("`{}` on a nullable capability: pass it through `check.null`", def.name),
                            );
                            false
                        } else if !rights.contains(required) {
                            self.err(
                                "V0603",
                                loc,
                                format!(
                                    "`{}` needs a capability with rights `{required}`, v{} has only `{rights}`",
                                    def.name, v.0
                                ),
                            );
                            false
                        } else {
                            true
                        }
                    }
                    Some(t) => {
                        self.err(
                            "V0701",
                            loc,
                            format!(
                                "pointer forging: `{}` needs a capability, v{} is `{}`",
                                def.name,
                                v.0,
                                name(m, t)
                            ),
                        );
                        false
                    }
                },
                (HelperParam::Attr(access), HelperArg::Attr(a)) => match m.attr(a) {
                    None => {
                        self.err("V0102", loc, "unknown attribute");
                        false
                    }
                    Some(ad) => {
                        attr = Some((a, ad));
                        if class.is_some_and(|c| c != a.class) {
                            self.err(
                                "V0605",
                                loc,
                                format!(
                                    "attribute `{}.{}` used with a capability to `{}`: a capability opens only its own class",
                                    crate::types::class_name(m, a.class),
                                    ad.name,
                                    crate::types::class_name(m, class.unwrap_or(a.class))
                                ),
                            );
                            false
                        } else if access == AttrAccess::Write && ad.readonly {
                            self.err("V0604", loc, format!("attribute `{}` is read-only", ad.name));
                            false
                        } else {
                            true
                        }
                    }
                },
                (HelperParam::AttrValue, HelperArg::Value(v)) => match attr {
                    Some((a, ad)) => {
                        let want = match (ad.ty, ad.range) {
                            (AttrType::Bool, _) => Type::Bool,
                            (AttrType::I64, Some(_)) => Type::InRange(a),
                            (AttrType::I64, None) => Type::I64,
                        };
                        self.expect(v, want, loc)
                    }
                    None => false,
                },
                (_, HelperArg::Attr(_)) => {
                    self.err(
                        "V0602",
                        loc,
                        format!("helper `{}` takes a value here, not an attribute", def.name),
                    );
                    false
                }
                (_, HelperArg::Value(v)) => {
                    self.err(
                        "V0602",
                        loc,
                        format!("helper `{}` takes an attribute here, not v{}", def.name, v.0),
                    );
                    false
                }
            };
        }
        let ret = match def.ret {
            HelperRet::Unit => None,
            HelperRet::I64 => Some(Type::I64),
            HelperRet::AttrValue => attr.map(|(_, ad)| match ad.ty {
                AttrType::I64 => Type::I64,
                AttrType::Bool => Type::Bool,
            }),
        };
        if result && def.ret == HelperRet::Unit {
            self.err(
                "V0110",
                loc,
                format!("helper `{}` returns nothing, but the call defines a value", def.name),
            );
        }
        if result && ok { ret } else { None }
    }

    /// An edge from the current block: target, loop discipline, arguments.
    fn edge(&mut self, to: &BlockCall, loc: Location) {
        let from = self.block;
        let t = to.block.index();
        let Some(target) = self.f.blocks.get(t) else {
            self.err(
                "V0102",
                loc,
                format!("branch to block{}, which does not exist", to.block.0),
            );
            return;
        };
        if t == 0 {
            self.err(
                "V0105",
                loc,
                "branch to the entry block: it runs once per call, so its `fuel` is the call's",
            );
        }
        if t <= from {
            match self.loops.end[t] {
                Some(end) if end as usize >= from => {}
                Some(end) => self.err(
                    "V0403",
                    loc,
                    format!("back edge from block{from} to block{t}, outside its loop block{t}..=block{end}"),
                ),
                None => self.err(
                    "V0403",
                    loc,
                    format!("back edge from block{from} to block{t}, which is not a loop header: loops must be declared so that fuel bounds them"),
                ),
            }
        } else {
            let loops = &self.loops;
            let enters_ok = match loops.innermost[t] {
                None => true,
                Some(h) if loops.contains(h, from) => true,
                Some(h) if h as usize == t => loops.parent[t].is_none_or(|p| loops.contains(p, from)),
                Some(_) => false,
            };
            if !enters_ok {
                let h = loops.innermost[t].unwrap_or(0);
                self.err(
                    "V0404",
                    loc,
                    format!("jump from block{from} into the body of the loop headed by block{h}: a loop is entered only through its header"),
                );
            }
        }
        if to.args.len() != target.params.len() {
            self.err(
                "V0202",
                loc,
                format!(
                    "block{t} takes {} arguments, given {}",
                    target.params.len(),
                    to.args.len()
                ),
            );
        }
        for (&v, &want) in to.args.iter().zip(&target.params) {
            self.expect(v, want, loc);
        }
    }

    fn terminator(&mut self, term: &Terminator, loc: Location) {
        match term {
            Terminator::Jump(to) => self.edge(to, loc),
            Terminator::Brif { cond, then_to, else_to } => {
                if let Some(t) = self.use_value(*cond, loc)
                    && t != Type::Bool
                {
                    self.err(
                        "V0205",
                        loc,
                        format!(
                            "branch on v{} of type `{}`: conditions are `bool`",
                            cond.0,
                            name(self.m, t)
                        ),
                    );
                }
                self.edge(then_to, loc);
                self.edge(else_to, loc);
            }
            Terminator::Return(value) => match (*value, self.f.ret) {
                (Some(v), Some(t)) => {
                    self.expect(v, t, loc);
                }
                (None, None) => {}
                (None, Some(t)) => self.err(
                    "V0204",
                    loc,
                    format!(
                        "`@{}` returns `{}`, but `ret` has no value",
                        self.f.name,
                        name(self.m, t)
                    ),
                ),
                (Some(_), None) => self.err(
                    "V0204",
                    loc,
                    format!("`@{}` returns nothing, but `ret` has a value", self.f.name),
                ),
            },
            Terminator::Raise(kind) => {
                if *kind == ExcKind::OutOfFuel {
                    self.err(
                        "V0408",
                        loc,
                        "`OutOfFuel` cannot be raised: only the fuel counter ends an invocation that way",
                    );
                }
            }
        }
    }
}
