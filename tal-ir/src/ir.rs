//! The TAL data structures.
//!
//! A [`Module`] is what one `.tal` file or one `.safex.tal` section holds.
//! Everything refers to everything else by dense index (`FuncId`, `BlockId`,
//! `ValueId`, …), never by pointer, so a module is plain data that encodes,
//! decodes and compares by value. Names exist for people and for binding
//! entry points; indices are what the verifier and codegen use.
//!
//! Values are numbered implicitly: within a function, block parameters and
//! instruction results get the numbers 0, 1, 2, … in layout order (block by
//! block; in a block, its parameters first, then the results of its
//! instructions in order). A value is in scope only in the block that defines
//! it, after its definition; data crosses blocks only as block arguments.
//! Together with numbered layout, this makes "use dominated by definition" a
//! range check: `first_value_of(block) <= v < next_value`.

use serde::{Deserialize, Serialize};
pub use stdlib::Rights;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id!(/// An attribute class declared by the module.
    ClassId, "class");
id!(/// A struct type declared by the module.
    StructId, "struct");
id!(/// An extension global.
    GlobalId, "@");
id!(/// A function of the module.
    FuncId, "fn");
id!(/// An external symbol the module names (always rejected by the verifier).
    ExternId, "extern");
id!(/// An event declared by the module.
    EventId, "event");
id!(/// A block, numbered by layout position.
    BlockId, "block");
id!(/// An SSA value, numbered by definition order (see the module doc).
    ValueId, "v");
id!(/// A stack slot of a function.
    SlotId, "$");

/// Source position in the file named by [`Module::source`]: byte offsets.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Span {
    pub lo: u32,
    pub hi: u32,
}

impl Span {
    /// The span covering both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            lo: self.lo.min(other.lo),
            hi: self.hi.max(other.hi),
        }
    }
}

/// A whole TAL module.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Module {
    /// The extension's name (`extension NAME;` in Popcorn-SX).
    pub name: String,
    /// The source file that instruction spans point into, if any.
    pub source: Option<String>,
    /// Fuel per invocation the extension asks for; the loader caps it.
    pub budget: Option<u64>,
    pub classes: Vec<ClassDef>,
    pub events: Vec<String>,
    pub structs: Vec<StructDef>,
    pub globals: Vec<GlobalDef>,
    pub externs: Vec<String>,
    pub funcs: Vec<Function>,
}

/// An attribute class as the module declares it. The verifier proves the
/// module respects these declarations; the loader checks they equal the
/// host's class of the same name.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ClassDef {
    pub name: String,
    pub attrs: Vec<AttrDef>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct AttrDef {
    pub name: String,
    pub ty: AttrType,
    pub readonly: bool,
    /// Inclusive bounds; writes must be proven inside them by `check.range`.
    pub range: Option<(i64, i64)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum AttrType {
    I64,
    Bool,
}

/// An attribute: class and position in the class.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct AttrRef {
    pub class: ClassId,
    pub attr: u32,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct StructDef {
    pub name: String,
    pub fields: Vec<FieldDef>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct FieldDef {
    pub name: String,
    pub ty: ElemType,
}

/// The type of an SSA value (block parameter or instruction result).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Type {
    I64,
    Bool,
    /// An `i64` proven non-zero by `check.nonzero` (`nz`).
    NonZero,
    /// An `i64` proven a valid index of one array by `check.bounds`
    /// (`idx<ROOT>`); usable to index that array and no other.
    Index(Root),
    /// An `i64` proven inside an attribute's range by `check.range`
    /// (`in<CLASS.ATTR>`).
    InRange(AttrRef),
    /// A capability (`cap<CLASS, RIGHTS>`); `nullable` ones (`cap?<…>`) come
    /// only from memory and must pass `check.null` before use.
    Cap {
        class: ClassId,
        rights: Rights,
        nullable: bool,
    },
    /// An event id (`evt`), made only by `event NAME`.
    Event,
}

/// What memory can hold at a leaf: scalars that have a zero value.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ScalarType {
    I64,
    Bool,
    /// A capability slot; zero is the null capability, so loads give `cap?`.
    Cap {
        class: ClassId,
        rights: Rights,
    },
}

/// An array element or struct field.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ElemType {
    Scalar(ScalarType),
    Struct(StructId),
}

/// The type of a memory object: a global, a stack slot, or the object a
/// reference parameter points to. Arrays are one-dimensional; only a
/// reference parameter may have an unsized array (`[T]`, length at run time).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ObjType {
    Elem(ElemType),
    Array { elem: ElemType, len: Option<u32> },
}

/// A memory object a function can name directly.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Root {
    /// `@name`: an extension global.
    Global(GlobalId),
    /// `$N`: a stack slot of the current function.
    Slot(SlotId),
    /// `%N`: the reference parameter at position N of the signature.
    Param(u32),
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct GlobalDef {
    pub name: String,
    pub ty: ObjType,
    pub init: GlobalInit,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum GlobalInit {
    Zero,
    Int(i64),
    Bool(bool),
    /// Element values of an `i64` array, the rest zero.
    Ints(Vec<i64>),
}

/// A function parameter: an SSA value (bound to the entry block's parameter
/// of the same position among value parameters) or a reference to a memory
/// object owned by a caller (`%N`). References are second-class: they cannot
/// be returned, stored or passed between blocks, so they never dangle.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ParamType {
    Value(Type),
    Ref(ObjType),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum FuncKind {
    /// Internal: callable only from the module's own functions.
    Plain,
    /// Entry point: `(cap) -> ()`, run periodically by a service manager.
    Monitor,
    /// Entry point: `(cap, i64) -> ()`, run when the event is raised.
    Handler { event: EventId },
    /// Entry point: `(cap, i64) -> i64`, run on every write to the attribute.
    Guard { attr: AttrRef },
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Function {
    pub name: String,
    pub kind: FuncKind,
    pub params: Vec<ParamType>,
    pub ret: Option<Type>,
    pub slots: Vec<ObjType>,
    /// Layout order; `blocks[0]` is the entry block.
    pub blocks: Vec<Block>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Block {
    pub params: Vec<Type>,
    /// `Some(end)`: this block is a loop header and the loop is the layout
    /// range `self..=end`. Back edges may only target loop headers, from
    /// inside their loop; the loop is entered only through its header.
    pub loop_end: Option<BlockId>,
    pub insts: Vec<Inst>,
    pub term: Terminator,
    pub term_span: Option<Span>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Inst {
    pub kind: InstKind,
    /// Where an exception raised by this instruction goes, per kind; kinds
    /// not listed propagate to the caller.
    pub catches: Vec<Catch>,
    pub span: Option<Span>,
}

/// `!catch(KIND -> blockN(args))`: on `kind`, jump to `target`. The args are
/// values in scope before the instruction.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Catch {
    pub kind: ExcKind,
    pub target: BlockCall,
}

/// A jump target with its arguments.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct BlockCall {
    pub block: BlockId,
    pub args: Vec<ValueId>,
}

/// The exceptions of the language, and running out of fuel.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ExcKind {
    DivideByZero,
    OutOfBounds,
    Overflow,
    RangeError,
    NullCapability,
    /// Not an exception an extension can catch or raise: the invocation ends.
    OutOfFuel,
}

impl ExcKind {
    pub const ALL: [ExcKind; 6] = [
        ExcKind::DivideByZero,
        ExcKind::OutOfBounds,
        ExcKind::Overflow,
        ExcKind::RangeError,
        ExcKind::NullCapability,
        ExcKind::OutOfFuel,
    ];
    pub fn name(self) -> &'static str {
        match self {
            ExcKind::DivideByZero => "DivideByZero",
            ExcKind::OutOfBounds => "OutOfBounds",
            ExcKind::Overflow => "Overflow",
            ExcKind::RangeError => "RangeError",
            ExcKind::NullCapability => "NullCapability",
            ExcKind::OutOfFuel => "OutOfFuel",
        }
    }
    pub fn from_name(name: &str) -> Option<ExcKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum UnaryOp {
    /// `ineg`: raises `Overflow` on `i64::MIN`.
    Neg,
    /// `not`: bitwise on `i64`, logical on `bool`.
    Not,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum BinaryOp {
    /// `iadd`, `isub`, `imul`: raise `Overflow` when the result does not fit.
    Add,
    Sub,
    Mul,
    /// `sdiv`, `srem`: divisor must be `nz`; raise `Overflow` on `MIN / -1`.
    Div,
    Rem,
    /// `and`, `or`, `xor`: both operands `i64`-like, or both `bool`.
    And,
    Or,
    Xor,
    /// `ishl`: raises `Overflow` if the amount is outside 0..=63 or bits
    /// are lost; `sshr` (arithmetic): raises `Overflow` if the amount is
    /// outside 0..=63.
    Shl,
    Shr,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Cond {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A memory location: a root object, an element index (required exactly when
/// the root is an array, and then of type `idx<root>`), then a path of struct
/// field positions down to a scalar.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Place {
    pub root: Root,
    pub index: Option<ValueId>,
    pub fields: Vec<u32>,
}

/// A call argument: a value, or a memory object passed by reference.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Arg {
    Value(ValueId),
    Ref(Root),
}

/// A helper argument: a value or an attribute immediate.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum HelperArg {
    Value(ValueId),
    Attr(AttrRef),
}

impl HelperArg {
    /// The attribute, if this is an attribute immediate.
    pub fn attr(&self) -> Option<AttrRef> {
        match *self {
            HelperArg::Attr(a) => Some(a),
            HelperArg::Value(_) => None,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Callee {
    Func(FuncId),
    /// A symbol the module does not define. Never verified: the verifier
    /// names what it is (a lock, interrupt masking, allocation, unknown).
    Extern(ExternId),
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum InstKind {
    /// `fuel N`: first instruction of a block; charges N for the region of
    /// code it guards (see the verifier's fuel invariants).
    Fuel(u64),
    Iconst(i64),
    Bconst(bool),
    /// `event NAME` → `evt`.
    Event(EventId),
    Unary {
        op: UnaryOp,
        arg: ValueId,
    },
    Binary {
        op: BinaryOp,
        lhs: ValueId,
        rhs: ValueId,
    },
    /// Signed comparison of two `i64`-like values, or `eq`/`ne` of two bools.
    Icmp {
        cond: Cond,
        lhs: ValueId,
        rhs: ValueId,
    },
    /// → `nz`, raises `DivideByZero`.
    CheckNonZero(ValueId),
    /// → `idx<root>`, raises `OutOfBounds` unless `0 <= v < len(root)`.
    CheckBounds {
        value: ValueId,
        root: Root,
    },
    /// → `in<attr>`, raises `RangeError` outside the attribute's range.
    CheckRange {
        value: ValueId,
        attr: AttrRef,
    },
    /// `cap?<C,R>` → `cap<C,R>`, raises `NullCapability` on null.
    CheckNull(ValueId),
    Load(Place),
    Store {
        place: Place,
        value: ValueId,
    },
    /// Zero-fills a stack slot; the slot is readable after an `init` in the
    /// entry block.
    Init(SlotId),
    /// The length of an array root → `i64`.
    Size(Root),
    /// `result` says whether the instruction defines a value.
    Call {
        callee: Callee,
        args: Vec<Arg>,
        result: bool,
    },
    Helper {
        id: u16,
        args: Vec<HelperArg>,
        result: bool,
    },
    /// Inline assembly: representable so that the gate can name it; never
    /// accepted.
    InlineAsm(String),
}

impl InstKind {
    /// Whether the instruction defines the next value number.
    pub fn has_result(&self) -> bool {
        match self {
            InstKind::Fuel(_) | InstKind::Store { .. } | InstKind::Init(_) | InstKind::InlineAsm(_) => false,
            InstKind::Call { result, .. } | InstKind::Helper { result, .. } => *result,
            _ => true,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Terminator {
    Jump(BlockCall),
    Brif {
        cond: ValueId,
        then_to: BlockCall,
        else_to: BlockCall,
    },
    Return(Option<ValueId>),
    /// Propagates the exception to the caller (a `raise` inside a `try` is
    /// lowered to a jump to the handler instead).
    Raise(ExcKind),
}

impl Terminator {
    /// The successor edges of the terminator (not the catch edges).
    pub fn targets(&self) -> impl Iterator<Item = &BlockCall> {
        let (a, b) = match self {
            Terminator::Jump(t) => (Some(t), None),
            Terminator::Brif { then_to, else_to, .. } => (Some(then_to), Some(else_to)),
            Terminator::Return(_) | Terminator::Raise(_) => (None, None),
        };
        a.into_iter().chain(b)
    }
}

impl Module {
    pub fn class(&self, id: ClassId) -> Option<&ClassDef> {
        self.classes.get(id.index())
    }
    pub fn attr(&self, a: AttrRef) -> Option<&AttrDef> {
        self.class(a.class)?.attrs.get(a.attr as usize)
    }
    pub fn func_by_name(&self, name: &str) -> Option<FuncId> {
        self.funcs.iter().position(|f| f.name == name).map(|i| FuncId(i as u32))
    }
}

impl Function {
    /// The types of the value parameters, in order: the entry block's
    /// parameters must be exactly these.
    pub fn value_params(&self) -> impl Iterator<Item = Type> + '_ {
        self.params.iter().filter_map(|p| match p {
            ParamType::Value(t) => Some(*t),
            ParamType::Ref(_) => None,
        })
    }
    /// Number of instructions and terminators: the unit of program size.
    pub fn inst_count(&self) -> usize {
        self.blocks.iter().map(|b| b.insts.len() + 1).sum()
    }

    /// The N of the `fuel N` the entry block starts with, if it does: an
    /// entry point's charge to the host, `None` for a function its callers
    /// pay for.
    pub fn entry_fuel(&self) -> Option<u64> {
        match self.blocks.first()?.insts.first()?.kind {
            InstKind::Fuel(n) => Some(n),
            _ => None,
        }
    }
}
