//! The Popcorn-SX syntax tree, as the parser produces it.
//!
//! Every node carries its [`Span`] (byte offsets in the source file), which
//! lowering copies onto the TAL instructions it emits so that verifier
//! errors point back at source lines. The tree also holds the constructs the
//! language rejects — casts, pointers, `goto`, inline assembly, `extern` — so
//! that the checker can name them with their own error codes instead of
//! leaving the author with a syntax error.

pub use tal_ir::Span;

/// A name and where it is written.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A string literal (attribute and event names).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct SourceFile {
    pub items: Vec<Item>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Item {
    /// `extension NAME;`
    Extension(Ident),
    /// `import NAME;`
    Import(Ident),
    /// `budget N;`
    Budget(Expr),
    /// `const int NAME = EXPR;`
    Const(VarDecl),
    /// `int x = 0;`, `int hist[16];`, `int w[4] = {1, 2, 3, 4};`
    Global(VarDecl),
    /// `struct NAME { FIELDS };`
    Struct(StructDecl),
    /// `attribute class NAME { ATTRS }`
    Class(ClassDecl),
    /// `event NAME;`
    Event(Ident),
    Func(FuncDecl),
    /// `extern TYPE NAME(PARAMS);` — only SafeX API names are allowed.
    Extern(ExternDecl),
}

/// A variable declaration: global, constant, local, or struct field.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VarDecl {
    pub ty: TypeExpr,
    pub name: Ident,
    /// `Some` for an array: `int hist[16]`.
    pub len: Option<Expr>,
    pub init: Option<Init>,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Init {
    Expr(Expr),
    /// `{1, 2, 3}`
    List(Vec<Expr>, Span),
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StructDecl {
    pub name: Ident,
    pub fields: Vec<VarDecl>,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClassDecl {
    pub name: Ident,
    pub attrs: Vec<AttrDecl>,
    pub span: Span,
}

/// `int period readonly;`, `int adj range(-1000, 1000);`
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AttrDecl {
    pub ty: TypeExpr,
    pub name: Ident,
    pub readonly: bool,
    pub range: Option<(Expr, Expr)>,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FuncDecl {
    pub kind: FuncKind,
    pub ret: TypeExpr,
    pub name: Ident,
    pub params: Vec<Param>,
    pub body: Block,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum FuncKind {
    Plain,
    /// `monitor void NAME(...)`
    Monitor,
    /// `handler void NAME(...) on "Event"`
    Handler {
        event: StrLit,
    },
    /// `guard int NAME(...) for "attribute"`
    Guard {
        attr: StrLit,
    },
}

/// `int v`, `int a[]` (array by reference), `cap<cpu_qos> app`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Param {
    pub ty: TypeExpr,
    pub name: Ident,
    pub array: bool,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ExternDecl {
    pub ret: TypeExpr,
    pub name: Ident,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum TypeExpr {
    Void(Span),
    Int(Span),
    Bool(Span),
    /// `struct NAME`
    Struct(Ident, Span),
    /// `cap<CLASS>`
    Cap(Ident, Span),
    /// `T *` — parsed only to be rejected.
    Pointer(Box<TypeExpr>, Span),
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

/// One arm of a `switch`: its label, then its statements (`case 1: case
/// 2: …` is an empty arm, which falls into the next).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SwitchArm {
    pub label: CaseLabel,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum CaseLabel {
    /// `case VALUE:`, a constant `int`.
    Case(Expr),
    /// `default:`, and where it is.
    Default(Span),
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum StmtKind {
    Local(VarDecl),
    Expr(Expr),
    If {
        cond: Expr,
        then: Box<Stmt>,
        els: Option<Box<Stmt>>,
    },
    While {
        cond: Expr,
        body: Box<Stmt>,
    },
    DoWhile {
        body: Box<Stmt>,
        cond: Expr,
    },
    For {
        init: Option<Box<Stmt>>,
        cond: Option<Expr>,
        step: Option<Expr>,
        body: Box<Stmt>,
    },
    /// `switch (value) { case 1: case 2: …; default: … }`: C's, control
    /// falling from one arm into the next unless a `break` leaves.
    Switch {
        value: Expr,
        arms: Vec<SwitchArm>,
    },
    Break,
    Continue,
    Return(Option<Expr>),
    Block(Block),
    /// `try { ... } handle Kind { ... } handle Kind2 { ... }`
    Try {
        body: Block,
        handlers: Vec<Handler>,
    },
    /// `raise Kind;`
    Raise(Ident),
    /// `;`
    Empty,
    /// `goto label;` — rejected.
    Goto(Ident),
    /// `label:` — rejected with `goto`.
    Label(Ident),
    /// `asm("...")`, `__asm__("...")`, `asm volatile("...")` — rejected.
    Asm(StrLit),
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Handler {
    pub exception: Ident,
    pub body: Block,
    pub span: Span,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum UnOp {
    /// `-`
    Neg,
    /// `!`
    Not,
    /// `~`
    BitNot,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Shl,
    Shr,
    BitAnd,
    BitOr,
    BitXor,
    /// `&&`, short-circuit
    And,
    /// `||`, short-circuit
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl BinOp {
    /// The operator as written in source.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::And => "&&",
            BinOp::Or => "||",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ExprKind {
    /// A decimal or hex literal; the checker decides whether it fits `int`
    /// (so that `-9223372036854775808` works).
    Int(u64),
    Bool(bool),
    Str(String),
    Var(Ident),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `a = b` (`None`) or `a op= b`.
    Assign(Option<BinOp>, Box<Expr>, Box<Expr>),
    /// `++x`, `x++`, `--x`, `x--`
    IncDec {
        increment: bool,
        prefix: bool,
        target: Box<Expr>,
    },
    /// `f(args)`, including builtins such as `size(a)` and `get_attribute(…)`.
    Call(Ident, Vec<Expr>),
    Index(Box<Expr>, Box<Expr>),
    Field(Box<Expr>, Ident),
    // Parsed only to be rejected:
    /// `(T) e`
    Cast(TypeExpr, Box<Expr>),
    /// `&e`
    AddrOf(Box<Expr>),
    /// `*e`
    Deref(Box<Expr>),
    /// `e->field`
    Arrow(Box<Expr>, Ident),
}
