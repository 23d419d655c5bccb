//! Checking and lowering function bodies, in one pass.
//!
//! Lowering builds TAL blocks strictly in layout order, which is what makes
//! TAL's implicit value numbering and declared loops come out right:
//!
//! - Scalar locals are SSA variables. Each has, in the current block, either
//!   a value or none ("not assigned on every path here"); reading one with
//!   none is the uninitialized-read error. At every block boundary the
//!   variables with values become the new block's parameters, so values
//!   never cross blocks (TAL values are block scoped).
//! - Forward targets (joins, loop exits, handlers) are [`Label`]s: jumps to
//!   a label not yet placed are recorded with a snapshot of the variables and
//!   patched when it is placed; a variable is assigned after the join only
//!   if it was on every incoming edge.
//! - Loops are laid out header first and closed when their last block is
//!   emitted; back edges go only to their header.
//! - Inside `try`, every instruction that can raise a handled exception gets
//!   a catch clause to the handler's label, with the variables at that point.
//! - Arrays and structs live in stack slots, zero-filled at function entry
//!   (so the verifier sees them initialized) and again at their declaration.
//! - Structs are values, as in C, lowered to what TAL has. A struct is
//!   always in memory (a global, a slot, an element, a field, a reference
//!   parameter), so a struct-valued expression evaluates to a [`Place`]
//!   ([`Lowerer::struct_value`]), and a copy is field by field
//!   ([`Lowerer::copy_struct`]: every scalar field, nested structs
//!   flattened, all loaded and then stored, at most [`MAX_COPY_FIELDS`]).
//!   `a = b` evaluates `b`'s place first (its index checked first, as the
//!   right-hand side of a scalar assignment is evaluated first), then the
//!   target's; when the target's evaluation could have effects or start a
//!   block (a call, an assignment, `&&`), `b` is first copied to a
//!   temporary, so the value is the one before them and no checked index
//!   crosses a block. A capability field is copied as memory holds it,
//!   without `check.null`, so a zeroed struct copies without a trap; a
//!   guard may not copy a struct that holds one (it may store no
//!   capability).
//! - A struct parameter is a `ref struct` parameter: the caller copies the
//!   argument into a temporary slot of its own and passes that (a call's
//!   result already is one and is passed as it is), so the callee may
//!   change its copy and the caller never sees it. A struct result is a
//!   `ref struct` parameter after the declared ones: the caller passes a
//!   temporary (or the variable being declared, or for `return f(…);` its
//!   own result parameter), `return e;` copies `e` there and returns no
//!   value. References to caller-owned slots, rather than a scalar per
//!   field: a TAL function returns at most one value; a capability field
//!   may be null in memory but never as a value (a field passed by value
//!   would need `check.null`, and a zeroed struct would trap); and
//!   references keep the verifier's rules as they are (a reference is
//!   second-class: a callee uses it during the call and cannot return or
//!   store it, and the caller's slot outlives the call). Temporaries are
//!   reused from one statement to the next: each costs its cells of stack
//!   and of entry zeroing.
//! - Inlining (`Options::inline`): a call of a small function of scalars
//!   without loops or `try` ([`inlinable`]), or of a larger such function
//!   that calls no other from inside a loop, lowers the callee's body at the
//!   call site: its parameters become variables bound
//!   to the arguments, seen through a barrier that hides the caller's
//!   variables (`var_base`), and `return` assigns a result variable and
//!   jumps to a join label. Exceptions leave it as they would leave the
//!   call, to the caller's handlers if any; instructions keep the callee's
//!   spans. It runs only on a module
//!   that lowered without error, a second time, so every diagnostic comes
//!   from the callee's own body, once. Nothing here is trusted: the
//!   verifier checks the inlined TAL like any other.
//!
//! Type errors do not stop lowering: an expression with an error has type
//! `Ty::Error`, which absorbs further errors; the module is only returned
//! when no error was reported.

use crate::ast::{self, BinOp, Expr, ExprKind, FuncKind as AstKind, Init, Stmt, StmtKind, UnOp};
use crate::diag::Diagnostic;
use crate::sema::{Const, Elem, Env, Name, Origin, Ty, pointer_error};
use stdlib::forbidden::{Forbidden, classify_symbol};
use tal_ir::{
    Arg, AttrRef, BinaryOp, Block, BlockCall, BlockId, Callee, Catch, ClassId, Cond, ElemType, EventId, ExcKind,
    FuncId, Function, HelperArg, Inst, InstKind, ObjType, ParamType, Place, Rights, Root, ScalarType, SlotId, Span,
    StructId, Terminator, Type, UnaryOp, ValueId,
};

/// Rights of capabilities stored in memory (globals, struct fields, arrays).
pub(crate) const MEM_RIGHTS: Rights = Rights::READ.union(Rights::WRITE);

/// Values after which a straight run of statements continues in a new block.
const MAX_BLOCK_VALUES: u32 = 96;

/// The exceptions a program can name.
const CATCHABLE: [ExcKind; 5] = [
    ExcKind::DivideByZero,
    ExcKind::OutOfBounds,
    ExcKind::Overflow,
    ExcKind::RangeError,
    ExcKind::NullCapability,
];

pub(crate) fn elem_type(e: Elem) -> ElemType {
    match e {
        Elem::Int => ElemType::Scalar(ScalarType::I64),
        Elem::Bool => ElemType::Scalar(ScalarType::Bool),
        Elem::Cap(class) => ElemType::Scalar(ScalarType::Cap {
            class,
            rights: MEM_RIGHTS,
        }),
        Elem::Struct(s) => ElemType::Struct(s),
    }
}

/// The memory type of a global, slot or field of type `ty`.
pub(crate) fn obj_type(ty: Ty) -> Option<ObjType> {
    Some(match ty {
        Ty::Int => ObjType::Elem(elem_type(Elem::Int)),
        Ty::Bool => ObjType::Elem(elem_type(Elem::Bool)),
        Ty::Cap(c) => ObjType::Elem(elem_type(Elem::Cap(c))),
        Ty::Struct(s) => ObjType::Elem(ElemType::Struct(s)),
        Ty::Array { elem, len } => ObjType::Array {
            elem: elem_type(elem),
            len,
        },
        Ty::Void | Ty::Error => return None,
    })
}

enum Storage {
    /// An SSA variable and its value in the current block, if assigned.
    Ssa(Option<ValueId>),
    /// An array or struct in memory.
    Mem(Root),
}

struct Var {
    name: String,
    ty: Ty,
    storage: Storage,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct LabelId(usize);

/// A jump target.
#[derive(Default)]
struct Label {
    block: Option<BlockId>,
    /// The variables (by index) that are the block's parameters, once placed.
    param_vars: Vec<usize>,
    /// Types of parameters after the variables (e.g. the value of `a && b`).
    extra: Vec<Type>,
    pending: Vec<Pending>,
}

/// An edge to a label not placed yet.
struct Pending {
    from: usize,
    /// Whether the edge's source can be reached.
    reachable: bool,
    edge: Edge,
    vars: Vec<Option<ValueId>>,
    extra: Vec<ValueId>,
}

#[derive(Clone, Copy)]
enum Edge {
    Jump,
    Then,
    Else,
    Catch { inst: usize, catch: usize },
}

/// Which exceptions an instruction can raise.
#[derive(Clone, Copy)]
enum Raises {
    Nothing,
    One(ExcKind),
    /// A call: whatever its callee lets through.
    Any,
}

/// An evaluated expression.
#[derive(Clone, Copy)]
enum Val {
    Value(ValueId, Ty),
    /// A struct: it lives in memory, so it is not a value. Where a struct
    /// is wanted, [`Lowerer::struct_value`] evaluates the expression to its
    /// place instead; anywhere else this is the type error it names.
    Struct(StructId),
    Void,
    Error,
}

/// A temporary struct slot: a call's argument or result, or a copy that
/// must survive the evaluation of an assignment's target.
struct Temp {
    ty: StructId,
    slot: SlotId,
    busy: bool,
}

/// The most scalar fields one struct copy moves (each a load and a
/// store, and a value of its block): nested structs can multiply fields,
/// and a copy is straight-line code.
pub(crate) const MAX_COPY_FIELDS: usize = 64;

/// A value being kept alive by [`Lowerer::hold`].
enum Held {
    Var(usize),
    Other(Val),
}

/// Where `break` and `continue` go: a loop's, or a `switch`'s (which
/// `break` leaves and `continue` passes through, to the loop around it).
struct LoopCx {
    brk: LabelId,
    cont: Option<LabelId>,
}

pub(crate) struct Lowerer<'e, 'a> {
    env: &'e Env<'a>,
    diags: &'e mut Vec<Diagnostic>,
    func_ids: &'e [Option<FuncId>],
    this: usize,
    rights: Rights,
    spans: bool,
    blocks: Vec<Block>,
    slots: Vec<ObjType>,
    next_value: u32,
    /// The first value number of the current block.
    block_start: u32,
    /// Whether the current (last) block can be reached.
    reachable: bool,
    /// Whether the current block has its terminator.
    terminated: bool,
    vars: Vec<Var>,
    scopes: Vec<usize>,
    labels: Vec<Label>,
    loops: Vec<LoopCx>,
    handlers: Vec<(ExcKind, LabelId)>,
    /// Values known to be integer constants (`iconst` results), for folding.
    constants: std::collections::HashMap<ValueId, i64>,
    /// Which functions calls may be inlined into (empty: none).
    inlinable: &'e [Inline],
    /// The calls being inlined, innermost last.
    inlining: Vec<Inlined>,
    /// The first variable the current body can see: a callee inlined into a
    /// caller sees its parameters and locals, not the caller's.
    var_base: usize,
    /// Where a function that returns a struct writes it: the reference
    /// parameter its caller passes last.
    ret_root: Option<Root>,
    /// Temporary struct slots, reused from one statement to the next.
    temps: Vec<Temp>,
    /// The temporaries in use, in the order taken (released by the
    /// statement that took them, so an inlined callee's statements never
    /// release its caller's).
    busy_temps: Vec<usize>,
}

/// A call being inlined: `return` assigns its result and jumps to the join.
struct Inlined {
    join: LabelId,
    /// The variable that carries the result to the join (non-`void`).
    result: Option<usize>,
}

/// Largest callee inlined anywhere: statements and expression nodes of its
/// body.
const INLINE_MAX_NODES: usize = 40;
/// Largest leaf callee (one that calls no function of the program)
/// inlined where the call is inside a loop: one call per iteration is
/// where a call's frame, argument moves and status test cost the most
/// next to the work, and where the callee's checks on the caller's loop
/// index are worth seeing together (code generation then leaves out the
/// repeated ones).
const INLINE_LOOP_LEAF_MAX_NODES: usize = 200;
/// Deepest nesting of inlined calls.
const INLINE_MAX_DEPTH: usize = 4;

/// Where the calls of a function may be inlined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Inline {
    Never,
    /// A small body: every call.
    Anywhere,
    /// A larger leaf body: calls inside a loop.
    InLoops,
}

/// Where calls to function `index` may be inlined: a plain function of
/// scalar parameters (`int`, `bool`, capabilities) returning `int`, `bool`
/// or nothing, whose body has no loop, `try`, local array or struct or
/// `goto`-like statement (so it needs no slot, declares no loop and cannot
/// reach a caller's handler or loop). Its body may read and write global
/// arrays and structs, which need no slot. Small bodies
/// ([`INLINE_MAX_NODES`]) are inlined at every call, larger leaf bodies
/// ([`INLINE_LOOP_LEAF_MAX_NODES`]) at calls inside loops.
pub(crate) fn inlinable(env: &Env, index: usize) -> Inline {
    let info = &env.funcs[index];
    if info.decl.kind != AstKind::Plain || !info.emitted {
        return Inline::Never;
    }
    // A capability parameter keeps the caller's value and rights (`rw`:
    // guards, the only other rights, cannot call functions taking one).
    if !info.params.iter().all(|p| matches!(p, Ty::Int | Ty::Bool | Ty::Cap(_)))
        || !matches!(info.ret, Ty::Int | Ty::Bool | Ty::Void)
    {
        return Inline::Never;
    }
    let mut nodes = 0;
    if !info.decl.body.stmts.iter().all(|s| simple_stmt(s, &mut nodes)) {
        return Inline::Never;
    }
    if nodes <= INLINE_MAX_NODES {
        return Inline::Anywhere;
    }
    let mut leaf = true;
    crate::sema::walk_block(&info.decl.body, &mut |e: &Expr| {
        if let ExprKind::Call(name, _) = &e.kind
            && matches!(env.names.get(&name.name), Some((Name::Func(_), _)))
        {
            leaf = false;
        }
    });
    if leaf && nodes <= INLINE_LOOP_LEAF_MAX_NODES {
        Inline::InLoops
    } else {
        Inline::Never
    }
}

fn simple_stmt(s: &Stmt, nodes: &mut usize) -> bool {
    *nodes += 1;
    match &s.kind {
        StmtKind::Local(d) => {
            d.len.is_none()
                && matches!(d.ty, ast::TypeExpr::Int(_) | ast::TypeExpr::Bool(_))
                && match &d.init {
                    Some(Init::Expr(e)) => simple_expr(e, nodes),
                    None => true,
                    Some(_) => false,
                }
        }
        StmtKind::Expr(e) => simple_expr(e, nodes),
        StmtKind::If { cond, then, els } => {
            simple_expr(cond, nodes) && simple_stmt(then, nodes) && els.as_ref().is_none_or(|e| simple_stmt(e, nodes))
        }
        StmtKind::Return(e) => e.as_ref().is_none_or(|e| simple_expr(e, nodes)),
        StmtKind::Block(b) => b.stmts.iter().all(|s| simple_stmt(s, nodes)),
        StmtKind::Empty | StmtKind::Raise(_) => true,
        _ => false,
    }
}

/// Largest loop body unrolled: statements and expression nodes.
const UNROLL_MAX_NODES: usize = 60;

/// Whether a loop body is lowered twice per iteration when optimizing: a
/// small body without loops (innermost), `try` or local arrays and
/// structs (which would need a second slot), so that one `fuel` check
/// pays for two iterations.
fn unrollable(body: &Stmt) -> bool {
    fn stmt(s: &Stmt, nodes: &mut usize) -> bool {
        *nodes += 1;
        match &s.kind {
            StmtKind::Local(d) => {
                d.len.is_none()
                    && matches!(d.ty, ast::TypeExpr::Int(_) | ast::TypeExpr::Bool(_))
                    && match &d.init {
                        Some(Init::Expr(e)) => expr(e, nodes),
                        None => true,
                        Some(_) => false,
                    }
            }
            StmtKind::Expr(e) => expr(e, nodes),
            StmtKind::If { cond, then, els } => {
                expr(cond, nodes) && stmt(then, nodes) && els.as_ref().is_none_or(|e| stmt(e, nodes))
            }
            StmtKind::Return(e) => e.as_ref().is_none_or(|e| expr(e, nodes)),
            StmtKind::Block(b) => b.stmts.iter().all(|s| stmt(s, nodes)),
            StmtKind::Break | StmtKind::Continue | StmtKind::Empty | StmtKind::Raise(_) => true,
            _ => false,
        }
    }
    fn expr(e: &Expr, nodes: &mut usize) -> bool {
        *nodes += 1;
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Bool(_) | ExprKind::Str(_) | ExprKind::Var(_) => true,
            ExprKind::Unary(_, a) | ExprKind::Field(a, _) => expr(a, nodes),
            ExprKind::Binary(_, a, b) | ExprKind::Assign(_, a, b) | ExprKind::Index(a, b) => {
                expr(a, nodes) && expr(b, nodes)
            }
            ExprKind::IncDec { target, .. } => expr(target, nodes),
            ExprKind::Call(_, args) => args.iter().all(|a| expr(a, nodes)),
            _ => false,
        }
    }
    let mut nodes = 0;
    stmt(body, &mut nodes) && nodes <= UNROLL_MAX_NODES
}

fn simple_expr(e: &Expr, nodes: &mut usize) -> bool {
    *nodes += 1;
    match &e.kind {
        // Strings name attributes and events in helper calls.
        ExprKind::Int(_) | ExprKind::Bool(_) | ExprKind::Str(_) | ExprKind::Var(_) => true,
        // Elements and fields of globals: an inlinable body has no array or
        // struct local or parameter.
        ExprKind::Unary(_, a) | ExprKind::Field(a, _) => simple_expr(a, nodes),
        ExprKind::Binary(_, a, b) | ExprKind::Assign(_, a, b) | ExprKind::Index(a, b) => {
            simple_expr(a, nodes) && simple_expr(b, nodes)
        }
        ExprKind::IncDec { target, .. } => simple_expr(target, nodes),
        ExprKind::Call(_, args) => args.iter().all(|a| simple_expr(a, nodes)),
        _ => false,
    }
}

impl<'e, 'a> Lowerer<'e, 'a> {
    pub fn lower_function(
        env: &'e Env<'a>,
        diags: &'e mut Vec<Diagnostic>,
        func_ids: &'e [Option<FuncId>],
        inlinable: &'e [Inline],
        index: usize,
    ) -> Function {
        let info = &env.funcs[index];
        let decl = info.decl;
        let mut lx = Lowerer {
            env,
            diags,
            func_ids,
            this: index,
            rights: info.rights,
            spans: info.origin == Origin::User,
            blocks: Vec::new(),
            slots: Vec::new(),
            next_value: 0,
            block_start: 0,
            reachable: true,
            terminated: false,
            vars: Vec::new(),
            scopes: Vec::new(),
            labels: Vec::new(),
            loops: Vec::new(),
            handlers: Vec::new(),
            constants: Default::default(),
            inlinable,
            inlining: Vec::new(),
            var_base: 0,
            ret_root: None,
            temps: Vec::new(),
            busy_temps: Vec::new(),
        };
        let mut params = Vec::new();
        let mut entry_params = Vec::new();
        // Parameters and the body's top-level locals share one scope.
        lx.scopes.push(0);
        for (pos, (p, &ty)) in decl.params.iter().zip(&info.params).enumerate() {
            lx.check_redeclaration(&p.name);
            match ty {
                // A struct parameter is the caller's copy, passed by
                // reference: the callee may change it, the caller never
                // reads it again.
                Ty::Array { .. } | Ty::Struct(_) => {
                    params.push(ParamType::Ref(obj_type(ty).expect("an object type")));
                    lx.vars.push(Var {
                        name: p.name.name.clone(),
                        ty,
                        storage: Storage::Mem(Root::Param(pos as u32)),
                    });
                }
                _ => {
                    let t = lx.value_type(ty).unwrap_or(Type::I64);
                    params.push(ParamType::Value(t));
                    entry_params.push(t);
                    let v = ValueId(lx.next_value);
                    lx.next_value += 1;
                    lx.vars.push(Var {
                        name: p.name.name.clone(),
                        ty,
                        storage: Storage::Ssa(Some(v)),
                    });
                }
            }
        }
        // A struct result is written to an object the caller passes by
        // reference, after the declared parameters.
        if let Ty::Struct(s) = info.ret {
            lx.ret_root = Some(Root::Param(params.len() as u32));
            params.push(ParamType::Ref(ObjType::Elem(ElemType::Struct(s))));
        }
        lx.blocks.push(Block {
            params: entry_params,
            loop_end: None,
            insts: vec![Inst {
                kind: InstKind::Fuel(0),
                catches: vec![],
                span: None,
            }],
            term: Terminator::Return(None),
            term_span: None,
        });
        lx.check_entry_signature(decl);
        for stmt in &decl.body.stmts {
            lx.stmt(stmt);
        }
        if !lx.terminated {
            let end = Span {
                lo: decl.body.span.hi.saturating_sub(1),
                hi: decl.body.span.hi,
            };
            if info.ret == Ty::Void {
                lx.terminate(Terminator::Return(None), end);
            } else {
                if lx.reachable {
                    lx.diags.push(
                        Diagnostic::error(
                            "P0203",
                            decl.name.span,
                            format!("`{}` can reach its end without returning a value", decl.name.name),
                        )
                        .with_label(end, "control reaches here")
                        .with_help("add a `return` on every path"),
                    );
                }
                lx.terminate(Terminator::Raise(ExcKind::RangeError), end);
            }
        }
        // Slots are zero-filled at entry, before anything can leave the
        // entry block, so that the verifier sees every read initialized.
        let inits = (0..lx.slots.len()).map(|s| Inst {
            kind: InstKind::Init(SlotId(s as u32)),
            catches: vec![],
            span: None,
        });
        lx.blocks[0].insts.splice(1..1, inits);
        let ret = if info.ret == Ty::Void {
            None
        } else {
            lx.value_type(info.ret)
        };
        let kind = match &decl.kind {
            AstKind::Plain => tal_ir::FuncKind::Plain,
            AstKind::Monitor => tal_ir::FuncKind::Monitor,
            AstKind::Handler { event } => tal_ir::FuncKind::Handler {
                event: env.event_names.get(&event.value).copied().unwrap_or(EventId(0)),
            },
            AstKind::Guard { attr } => {
                let class = match info.params.first() {
                    Some(Ty::Cap(c)) => *c,
                    _ => ClassId(0),
                };
                let index = env.attr(class, &attr.value).map_or(0, |(i, _)| i);
                tal_ir::FuncKind::Guard {
                    attr: AttrRef { class, attr: index },
                }
            }
        };
        Function {
            name: decl.name.name.clone(),
            kind,
            params,
            ret,
            slots: lx.slots,
            blocks: lx.blocks,
        }
    }

    // ---- diagnostics and types -------------------------------------------

    /// `; did you mean …?` for an unknown name used as a value: the closest
    /// visible variable, global or constant.
    fn similar_value(&self, name: &str) -> String {
        let vars = self.vars[self.var_base..].iter().map(|v| v.name.as_str());
        let globals = self.env.names.iter().filter(|(_, (n, _))| !matches!(n, Name::Func(_)));
        crate::suggest::did_you_mean(name, vars.chain(globals.map(|(k, _)| k.as_str())))
    }

    /// `; did you mean …?` for an unknown event.
    fn similar_event(&self, event: &str) -> String {
        crate::suggest::did_you_mean(event, self.env.event_names.keys().map(String::as_str))
    }

    /// `; did you mean …?` for an attribute `class` does not have.
    fn similar_attr(&self, class: ClassId, attr: &str) -> String {
        let attrs = self.env.classes[class.index()].attrs.iter().map(|a| a.name.as_str());
        crate::suggest::did_you_mean(attr, attrs)
    }

    fn error(&mut self, code: &'static str, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(code, span, msg));
    }

    fn name(&self, t: Ty) -> String {
        self.env.type_name(t)
    }

    fn value_type(&self, ty: Ty) -> Option<Type> {
        match ty {
            Ty::Int => Some(Type::I64),
            Ty::Bool => Some(Type::Bool),
            Ty::Cap(class) => Some(Type::Cap {
                class,
                rights: self.rights,
                nullable: false,
            }),
            _ => None,
        }
    }

    fn check_entry_signature(&mut self, decl: &ast::FuncDecl) {
        let info = &self.env.funcs[self.this];
        if info.params.contains(&Ty::Error) || info.ret == Ty::Error {
            return; // the parameter's type was reported; its shape is unknown
        }
        let cap_first = matches!(info.params.first(), Some(Ty::Cap(_)));
        let int_second = info.params.get(1) == Some(&Ty::Int);
        let (what, ok) = match &decl.kind {
            AstKind::Plain => return,
            AstKind::Monitor => (
                "monitor void NAME(cap<class> app)",
                info.params.len() == 1 && cap_first && info.ret == Ty::Void,
            ),
            AstKind::Handler { event } => {
                if !self.env.event_names.contains_key(&event.value) {
                    self.diags.push(
                        Diagnostic::error(
                            "P0105",
                            event.span,
                            format!("unknown event \"{}\"{}", event.value, self.similar_event(&event.value)),
                        )
                        .with_help("events are declared with `event NAME;` or come from an import"),
                    );
                }
                let ok = info.params.len() == 2 && cap_first && int_second && info.ret == Ty::Void;
                ("handler void NAME(cap<class> app, int value) on \"Event\"", ok)
            }
            AstKind::Guard { attr } => {
                if !self.env.stdlib && info.origin == Origin::User {
                    self.diags.push(
                        Diagnostic::error(
                            "P0313",
                            decl.span,
                            format!("guard `{}` outside the standard library", decl.name.name),
                        )
                        .with_help(
                            "guards map attribute values onto kernel state; the service manager installs them from \
                             the standard library, never from applications",
                        ),
                    );
                }
                if let Some(Ty::Cap(class)) = info.params.first()
                    && self.env.attr(*class, &attr.value).is_none()
                {
                    let class_name = self.env.classes[class.index()].name.clone();
                    let hint = self.similar_attr(*class, &attr.value);
                    self.error(
                        "P0104",
                        attr.span,
                        format!("class `{class_name}` has no attribute \"{}\"{hint}", attr.value),
                    );
                }
                let ok = info.params.len() == 2 && cap_first && int_second && info.ret == Ty::Int;
                ("guard int NAME(cap<class> app, int value) for \"attribute\"", ok)
            }
        };
        if !ok {
            self.diags.push(Diagnostic::error(
                "P0213",
                decl.name.span,
                format!("`{}` must have the signature `{what}`", decl.name.name),
            ));
        }
    }

    // ---- blocks, labels and edges ----------------------------------------

    fn cur(&self) -> usize {
        self.blocks.len() - 1
    }

    fn tal_span(&self, span: Span) -> Option<Span> {
        self.spans.then_some(span)
    }

    fn new_label(&mut self) -> LabelId {
        self.labels.push(Label::default());
        LabelId(self.labels.len() - 1)
    }

    /// Starts a new block with the variables assigned on every reachable
    /// edge to it (with none, all of them: unreachable code is still checked).
    fn place_label(&mut self, id: LabelId, loop_header: bool) -> Vec<ValueId> {
        let first_value = self.next_value;
        let pending = std::mem::take(&mut self.labels[id.0].pending);
        let reachable = pending.iter().any(|p| p.reachable);
        let block = BlockId(self.blocks.len() as u32);
        let mut params = Vec::new();
        let mut param_vars = Vec::new();
        for i in 0..self.vars.len() {
            let Storage::Ssa(_) = self.vars[i].storage else {
                continue;
            };
            let assigned = pending
                .iter()
                .filter(|p| p.reachable || !reachable)
                .all(|p| p.vars.get(i).copied().flatten().is_some());
            match (assigned, self.value_type(self.vars[i].ty)) {
                (true, Some(t)) => {
                    param_vars.push(i);
                    params.push(t);
                    self.vars[i].storage = Storage::Ssa(Some(ValueId(self.next_value)));
                    self.next_value += 1;
                }
                _ => self.vars[i].storage = Storage::Ssa(None),
            }
        }
        let extra_types = self.labels[id.0].extra.clone();
        let extra: Vec<ValueId> = extra_types
            .iter()
            .map(|_| {
                self.next_value += 1;
                ValueId(self.next_value - 1)
            })
            .collect();
        params.extend(extra_types);
        for p in &pending {
            let mut args: Vec<ValueId> = param_vars
                .iter()
                .filter_map(|&i| p.vars.get(i).copied().flatten())
                .collect();
            args.extend(&p.extra);
            self.patch(p.from, p.edge, BlockCall { block, args });
        }
        let insts = if loop_header {
            vec![Inst {
                kind: InstKind::Fuel(0),
                catches: vec![],
                span: None,
            }]
        } else {
            vec![]
        };
        self.blocks.push(Block {
            params,
            loop_end: None,
            insts,
            term: Terminator::Return(None),
            term_span: None,
        });
        self.reachable = reachable;
        self.terminated = false;
        self.block_start = first_value;
        let label = &mut self.labels[id.0];
        label.block = Some(block);
        label.param_vars = param_vars;
        extra
    }

    fn patch(&mut self, from: usize, edge: Edge, call: BlockCall) {
        let block = &mut self.blocks[from];
        match (edge, &mut block.term) {
            (Edge::Jump, Terminator::Jump(t)) | (Edge::Then, Terminator::Brif { then_to: t, .. }) => *t = call,
            (Edge::Else, Terminator::Brif { else_to: t, .. }) => *t = call,
            (Edge::Catch { inst, catch }, _) => block.insts[inst].catches[catch].target = call,
            _ => unreachable!("edge kinds match the terminators they were recorded with"),
        }
    }

    fn snapshot(&self) -> Vec<Option<ValueId>> {
        self.vars
            .iter()
            .map(|v| match v.storage {
                Storage::Ssa(value) => value,
                Storage::Mem(_) => None,
            })
            .collect()
    }

    /// The call of `label` from the current block: immediate if it is
    /// placed (a back edge), else recorded for patching.
    fn target(&mut self, label: LabelId, edge: Edge, extra: Vec<ValueId>) -> BlockCall {
        let l = &self.labels[label.0];
        if let Some(block) = l.block {
            let mut args: Vec<ValueId> = l
                .param_vars
                .iter()
                .map(|&i| match self.vars[i].storage {
                    Storage::Ssa(Some(v)) => v,
                    // A back edge: variables assigned at the header stay assigned.
                    _ => unreachable!("loop variables stay assigned until the back edge"),
                })
                .collect();
            args.extend(extra);
            return BlockCall { block, args };
        }
        let from = self.cur();
        let vars = self.snapshot();
        let reachable = self.reachable;
        self.labels[label.0].pending.push(Pending {
            from,
            reachable,
            edge,
            vars,
            extra,
        });
        BlockCall {
            block: BlockId(u32::MAX),
            args: vec![],
        }
    }

    /// Ends the current block; later code goes into an unreachable block.
    fn terminate(&mut self, term: Terminator, span: Span) {
        self.ensure_open();
        let cur = self.cur();
        self.blocks[cur].term = term;
        self.blocks[cur].term_span = self.tal_span(span);
        self.terminated = true;
        self.reachable = false;
    }

    fn jump(&mut self, label: LabelId, extra: Vec<ValueId>, span: Span) {
        self.ensure_open();
        let call = self.target(label, Edge::Jump, extra);
        self.terminate(Terminator::Jump(call), span);
    }

    fn brif(&mut self, cond: ValueId, then_l: LabelId, else_l: LabelId, span: Span) {
        self.ensure_open();
        let then_to = self.target(then_l, Edge::Then, vec![]);
        let else_to = self.target(else_l, Edge::Else, vec![]);
        self.terminate(Terminator::Brif { cond, then_to, else_to }, span);
    }

    /// After a terminator, code continues in a fresh unreachable block.
    fn ensure_open(&mut self) {
        if self.terminated {
            let l = self.new_label();
            self.place_label(l, false);
        }
    }

    fn emit(&mut self, kind: InstKind, span: Span, raises: Raises) -> Option<ValueId> {
        self.ensure_open();
        let has_result = kind.has_result();
        let cur = self.cur();
        let inst_index = self.blocks[cur].insts.len();
        let mut catches = Vec::new();
        let mut seen: Vec<ExcKind> = Vec::new();
        for h in (0..self.handlers.len()).rev() {
            let (kind, label) = self.handlers[h];
            let raised = match raises {
                Raises::Nothing => false,
                Raises::One(k) => k == kind,
                Raises::Any => true,
            };
            if raised && !seen.contains(&kind) {
                seen.push(kind);
                let edge = Edge::Catch {
                    inst: inst_index,
                    catch: catches.len(),
                };
                let target = self.target(label, edge, vec![]);
                catches.push(Catch { kind, target });
            }
        }
        let span = self.tal_span(span);
        self.blocks[cur].insts.push(Inst { kind, catches, span });
        has_result.then(|| {
            self.next_value += 1;
            ValueId(self.next_value - 1)
        })
    }

    fn value(&mut self, kind: InstKind, span: Span, raises: Raises) -> ValueId {
        self.emit(kind, span, raises).expect("instruction defines a value")
    }

    fn iconst(&mut self, n: i64, span: Span) -> ValueId {
        let v = self.value(InstKind::Iconst(n), span, Raises::Nothing);
        self.constants.insert(v, n);
        v
    }

    // ---- scopes and variables --------------------------------------------

    fn push_scope(&mut self) {
        self.scopes.push(self.vars.len());
    }

    fn pop_scope(&mut self) {
        let n = self.scopes.pop().expect("balanced scopes");
        self.vars.truncate(n);
    }

    /// Keeps an evaluated value alive while the rest of its expression is
    /// evaluated: a later `&&` or `||` starts new blocks, and only variables
    /// cross blocks, so the value becomes an anonymous variable until taken.
    fn hold(&mut self, val: Val) -> Held {
        match val {
            Val::Value(v, ty) if self.value_type(ty).is_some() => {
                self.vars.push(Var {
                    name: String::new(),
                    ty,
                    storage: Storage::Ssa(Some(v)),
                });
                Held::Var(self.vars.len() - 1)
            }
            other => Held::Other(other),
        }
    }

    /// The current value of a held value; take in the reverse order of holding.
    fn take(&mut self, held: Held) -> Val {
        match held {
            Held::Var(i) => {
                let val = match self.vars[i].storage {
                    Storage::Ssa(Some(v)) => Val::Value(v, self.vars[i].ty),
                    _ => Val::Error,
                };
                self.vars.truncate(i);
                val
            }
            Held::Other(val) => val,
        }
    }

    /// C's rule: one declaration of a name per scope; inner scopes shadow.
    fn check_redeclaration(&mut self, name: &ast::Ident) {
        let scope = self.scopes.last().copied().unwrap_or(0);
        if self.vars[scope..].iter().any(|v| v.name == name.name) {
            self.error(
                "P0102",
                name.span,
                format!("`{}` is already declared in this scope", name.name),
            );
        }
    }

    fn lookup(&self, name: &str) -> Option<usize> {
        let visible = &self.vars[self.var_base..];
        visible.iter().rposition(|v| v.name == name).map(|i| i + self.var_base)
    }

    /// `e`'s value if it is a constant expression where it stands: as
    /// `Env::try_const`, but a name a local variable shadows is that
    /// variable, not the constant of the same name.
    fn try_const_here(&self, e: &Expr) -> Result<Const, crate::sema::ConstError> {
        fn local_in<'x>(lx: &Lowerer, e: &'x Expr) -> Option<&'x ast::Ident> {
            match &e.kind {
                ExprKind::Var(name) => lx.lookup(&name.name).map(|_| name),
                ExprKind::Unary(_, inner) => local_in(lx, inner),
                ExprKind::Binary(_, l, r) => local_in(lx, l).or_else(|| local_in(lx, r)),
                _ => None,
            }
        }
        match local_in(self, e) {
            Some(name) => Err(("P0211", name.span, format!("`{}` is not a constant", name.name))),
            None => self.env.try_const(e),
        }
    }

    // ---- statements -------------------------------------------------------

    fn block(&mut self, b: &ast::Block) {
        self.push_scope();
        for s in &b.stmts {
            self.stmt(s);
        }
        self.pop_scope();
    }

    fn stmt(&mut self, s: &Stmt) {
        // The struct temporaries a statement takes are free again after it:
        // no expression spans two statements.
        let temps = self.busy_temps.len();
        self.stmt_kind(s);
        for t in self.busy_temps.split_off(temps) {
            self.temps[t].busy = false;
        }
    }

    fn stmt_kind(&mut self, s: &Stmt) {
        // Keep blocks small: the verifier charges every value of a function's
        // largest block to its stack frame. A statement boundary is a safe
        // place to cut, as no temporary is live there.
        if !self.terminated && self.next_value - self.block_start > MAX_BLOCK_VALUES {
            let next = self.new_label();
            self.jump(next, vec![], s.span);
            self.place_label(next, false);
        }
        match &s.kind {
            StmtKind::Local(decl) => self.local(decl),
            StmtKind::Expr(e) => {
                self.expr(e);
            }
            StmtKind::Block(b) => self.block(b),
            StmtKind::Empty => {}
            StmtKind::If { cond, then, els } => {
                let (then_l, else_l, join) = (self.new_label(), self.new_label(), self.new_label());
                self.branch(cond, then_l, else_l);
                self.place_label(then_l, false);
                self.scoped_stmt(then);
                self.jump(join, vec![], then.span);
                self.place_label(else_l, false);
                if let Some(els) = els {
                    self.scoped_stmt(els);
                }
                self.jump(join, vec![], s.span);
                self.place_label(join, false);
            }
            StmtKind::While { cond, body } => {
                let (header, body_l, exit) = (self.new_label(), self.new_label(), self.new_label());
                self.jump(header, vec![], s.span);
                let header_block = self.cur() + 1;
                self.place_label(header, true);
                self.branch(cond, body_l, exit);
                self.place_label(body_l, false);
                if self.unroll(body) {
                    // Two iterations per header: the second tests `cond` again.
                    let (again, body2) = (self.new_label(), self.new_label());
                    self.loop_body(body, exit, again);
                    self.jump(again, vec![], s.span);
                    self.place_label(again, false);
                    self.branch(cond, body2, exit);
                    self.place_label(body2, false);
                }
                self.loop_body(body, exit, header);
                self.jump(header, vec![], s.span);
                self.close_loop(header_block);
                self.place_label(exit, false);
            }
            StmtKind::DoWhile { body, cond } => {
                let (header, cont, exit) = (self.new_label(), self.new_label(), self.new_label());
                self.jump(header, vec![], s.span);
                let header_block = self.cur() + 1;
                self.place_label(header, true);
                self.loop_body(body, exit, cont);
                self.jump(cont, vec![], s.span);
                self.place_label(cont, false);
                self.branch(cond, header, exit);
                self.close_loop(header_block);
                self.place_label(exit, false);
            }
            StmtKind::For { init, cond, step, body } => {
                self.push_scope();
                if let Some(init) = init {
                    self.stmt(init);
                }
                let (header, body_l, step_l, exit) =
                    (self.new_label(), self.new_label(), self.new_label(), self.new_label());
                self.jump(header, vec![], s.span);
                let header_block = self.cur() + 1;
                self.place_label(header, true);
                match cond {
                    Some(cond) => self.branch(cond, body_l, exit),
                    None => self.jump(body_l, vec![], s.span),
                }
                self.place_label(body_l, false);
                self.loop_body(body, exit, step_l);
                self.jump(step_l, vec![], s.span);
                self.place_label(step_l, false);
                if let Some(step) = step {
                    self.expr(step);
                }
                if self.unroll(body) {
                    // Two iterations per header: the second tests `cond` again.
                    let (body2, step2) = (self.new_label(), self.new_label());
                    match cond {
                        Some(cond) => self.branch(cond, body2, exit),
                        None => self.jump(body2, vec![], s.span),
                    }
                    self.place_label(body2, false);
                    self.loop_body(body, exit, step2);
                    self.jump(step2, vec![], s.span);
                    self.place_label(step2, false);
                    if let Some(step) = step {
                        self.expr(step);
                    }
                }
                self.jump(header, vec![], s.span);
                self.close_loop(header_block);
                self.place_label(exit, false);
                self.pop_scope();
            }
            StmtKind::Break | StmtKind::Continue => {
                let is_break = matches!(s.kind, StmtKind::Break);
                let target = if is_break {
                    self.loops.last().map(|l| l.brk)
                } else {
                    self.loops.iter().rev().find_map(|l| l.cont)
                };
                match target {
                    Some(target) => self.jump(target, vec![], s.span),
                    None if is_break => self.error("P0206", s.span, "`break` outside a loop or `switch`"),
                    None => self.error("P0206", s.span, "`continue` outside a loop"),
                }
            }
            StmtKind::Switch { value, arms } => self.switch(value, arms, s.span),
            StmtKind::Return(value) => self.ret(value.as_ref(), s.span),
            StmtKind::Try { body, handlers } => self.try_stmt(body, handlers, s.span),
            StmtKind::Raise(kind) => {
                if let Some(k) = self.exception(kind) {
                    match self.handlers.iter().rev().find(|(h, _)| *h == k) {
                        Some(&(_, label)) => self.jump(label, vec![], s.span),
                        None => self.terminate(Terminator::Raise(k), s.span),
                    }
                }
            }
            StmtKind::Goto(_) | StmtKind::Label(_) => self.diags.push(
                Diagnostic::error("P0308", s.span, "`goto` and labels are not part of Popcorn-SX").with_help(
                    "use loops with `break` and `continue`: control flow stays structured, so fuel bounds every loop",
                ),
            ),
            StmtKind::Asm(_) => self.diags.push(
                Diagnostic::error(
                    "P0303",
                    s.span,
                    "inline assembly: it cannot be type-checked, and could mask interrupts or forge pointers",
                )
                .with_help("extensions reach the system only through the SafeX API"),
            ),
        }
    }

    /// Branches on a condition. A constant `true` jumps straight to the
    /// first target, so that `while (true)` without `break` does not fall
    /// through (as in Java); a condition with an error keeps both arms
    /// checked.
    fn branch(&mut self, cond: &Expr, then_l: LabelId, else_l: LabelId) {
        if let Ok(Const::Bool(true)) = self.try_const_here(cond) {
            self.jump(then_l, vec![], cond.span);
            return;
        }
        let c = match self.cond(cond) {
            Some(c) => c,
            None => self.value(InstKind::Bconst(true), cond.span, Raises::Nothing),
        };
        self.brif(c, then_l, else_l, cond.span);
    }

    fn scoped_stmt(&mut self, s: &Stmt) {
        self.push_scope();
        self.stmt(s);
        self.pop_scope();
    }

    /// Whether to lower a loop's body twice per iteration: only in the
    /// optimizing lowering (the one that inlines, of a module that lowered
    /// cleanly, so that no diagnostic is reported twice).
    fn unroll(&self, body: &Stmt) -> bool {
        !self.inlinable.is_empty() && unrollable(body)
    }

    /// C's `switch`: the value once, compared with each `case` in order
    /// (constant `int`s, each once; one `default` at most), then a jump to
    /// the arm of the first that matches, else to `default`'s, else past
    /// the end. The arms follow in order, each in a scope of its own, and
    /// control falls from one into the next unless a `break` leaves.
    fn switch(&mut self, value: &Expr, arms: &[ast::SwitchArm], span: Span) {
        let v = self.int(value);
        let mut cases: Vec<(i64, usize, Span)> = Vec::new();
        let mut default: Option<(usize, Span)> = None;
        for (i, arm) in arms.iter().enumerate() {
            match &arm.label {
                ast::CaseLabel::Case(e) => match self.try_const_here(e) {
                    Ok(Const::Int(n)) => match cases.iter().find(|c| c.0 == n) {
                        Some(&(_, _, first)) => self.diags.push(
                            Diagnostic::error("P0102", e.span, format!("`case {n}` appears twice in this switch"))
                                .with_label(first, "first here"),
                        ),
                        None => cases.push((n, i, e.span)),
                    },
                    Ok(Const::Bool(_)) => self.error("P0211", e.span, "a `case` is a constant `int`, not a `bool`"),
                    Err((code, at, why)) => self.error(code, at, format!("a `case` is a constant `int`: {why}")),
                },
                ast::CaseLabel::Default(at) => match default {
                    Some((_, first)) => self.diags.push(
                        Diagnostic::error("P0102", *at, "a second `default` in this switch")
                            .with_label(first, "first here"),
                    ),
                    None => default = Some((i, *at)),
                },
            }
        }
        let arm_labels: Vec<LabelId> = arms.iter().map(|_| self.new_label()).collect();
        let end = self.new_label();
        // The value crosses the tests' blocks as an anonymous variable.
        self.push_scope();
        let held = self.vars.len();
        let v = v.unwrap_or_else(|| self.iconst(0, value.span));
        self.vars.push(Var {
            name: String::new(),
            ty: Ty::Int,
            storage: Storage::Ssa(Some(v)),
        });
        for &(n, arm, at) in &cases {
            let current = match self.vars[held].storage {
                Storage::Ssa(Some(current)) => current,
                _ => v,
            };
            let constant = self.iconst(n, at);
            let equal = self.value(
                InstKind::Icmp {
                    cond: Cond::Eq,
                    lhs: current,
                    rhs: constant,
                },
                at,
                Raises::Nothing,
            );
            let next = self.new_label();
            self.brif(equal, arm_labels[arm], next, at);
            self.place_label(next, false);
        }
        self.jump(default.map_or(end, |(arm, _)| arm_labels[arm]), vec![], span);
        self.pop_scope();
        self.loops.push(LoopCx { brk: end, cont: None });
        for (i, arm) in arms.iter().enumerate() {
            self.place_label(arm_labels[i], false);
            self.push_scope();
            for st in &arm.body {
                self.stmt(st);
            }
            self.pop_scope();
            // Falling into the next arm, or out of the last.
            self.jump(arm_labels.get(i + 1).copied().unwrap_or(end), vec![], arm.span);
        }
        self.loops.pop();
        self.place_label(end, false);
    }

    fn loop_body(&mut self, body: &Stmt, brk: LabelId, cont: LabelId) {
        self.loops.push(LoopCx { brk, cont: Some(cont) });
        self.scoped_stmt(body);
        self.loops.pop();
    }

    /// The loop is the layout range from its header to the current block.
    fn close_loop(&mut self, header: usize) {
        let end = BlockId(self.cur() as u32);
        self.blocks[header].loop_end = Some(end);
    }

    fn exception(&mut self, name: &ast::Ident) -> Option<ExcKind> {
        match ExcKind::from_name(&name.name) {
            Some(k) if CATCHABLE.contains(&k) => Some(k),
            Some(_) => {
                self.diags.push(
                    Diagnostic::error(
                        "P0315",
                        name.span,
                        "`OutOfFuel` cannot be caught or raised: running out of fuel always ends the invocation",
                    )
                    .with_help("raise your extension's `budget` if it needs more work per invocation"),
                );
                None
            }
            None => {
                let known: Vec<&str> = CATCHABLE.iter().map(|k| k.name()).collect();
                self.diags.push(
                    Diagnostic::error("P0109", name.span, format!("unknown exception `{}`", name.name))
                        .with_help(format!("the exceptions are {}", known.join(", "))),
                );
                None
            }
        }
    }

    fn try_stmt(&mut self, body: &ast::Block, handlers: &[ast::Handler], span: Span) {
        let join = self.new_label();
        let mut clauses = Vec::new();
        for h in handlers {
            if let Some(kind) = self.exception(&h.exception) {
                if clauses.iter().any(|&(k, _, _)| k == kind) {
                    self.error("P0102", h.exception.span, format!("`{}` is handled twice", kind.name()));
                    continue;
                }
                let label = self.new_label();
                clauses.push((kind, label, h));
            }
        }
        let depth = self.handlers.len();
        self.handlers.extend(clauses.iter().map(|&(k, l, _)| (k, l)));
        self.block(body);
        self.handlers.truncate(depth);
        self.jump(join, vec![], span);
        for (_, label, h) in clauses {
            self.place_label(label, false);
            self.block(&h.body);
            self.jump(join, vec![], h.span);
        }
        self.place_label(join, false);
    }

    fn ret(&mut self, value: Option<&Expr>, span: Span) {
        if let Some(&Inlined { join, result, .. }) = self.inlining.last() {
            // A well-typed callee (else the module is not returned anyway).
            let want = self.env.funcs[self.this].ret;
            if let (Some(e), Some(var)) = (value, result) {
                let Some(v) = self.typed(e, want) else {
                    self.terminate(Terminator::Raise(ExcKind::RangeError), span);
                    return;
                };
                self.vars[var].storage = Storage::Ssa(Some(v));
            }
            self.jump(join, vec![], span);
            return;
        }
        let want = self.env.funcs[self.this].ret;
        match (value, want) {
            (None, Ty::Void) => self.terminate(Terminator::Return(None), span),
            (Some(e), Ty::Void) => {
                self.expr(e);
                self.error("P0208", e.span, "a `void` function returns no value");
                self.terminate(Terminator::Return(None), span);
            }
            (None, t) => {
                let t = self.name(t);
                self.error(
                    "P0208",
                    span,
                    format!("this function returns `{t}`: `return` needs a value"),
                );
                self.terminate(Terminator::Raise(ExcKind::RangeError), span);
            }
            (Some(e), Ty::Struct(s)) => {
                let result = self.ret_root.expect("a struct result has its reference parameter");
                if self.struct_into(e, s, result) {
                    self.terminate(Terminator::Return(None), span);
                } else {
                    self.terminate(Terminator::Raise(ExcKind::RangeError), span);
                }
            }
            (Some(e), t) => match self.typed(e, t) {
                Some(v) => self.terminate(Terminator::Return(Some(v)), span),
                None => self.terminate(Terminator::Raise(ExcKind::RangeError), span),
            },
        }
    }

    fn local(&mut self, decl: &ast::VarDecl) {
        self.check_redeclaration(&decl.name);
        let ty = self.env.resolve_type(&decl.ty, self.diags);
        if let Some(len) = &decl.len {
            let len = self.env.array_len(len, self.diags);
            let elem = match ty {
                Ty::Int => Some(Elem::Int),
                Ty::Bool => Some(Elem::Bool),
                Ty::Cap(c) => Some(Elem::Cap(c)),
                Ty::Struct(s) => Some(Elem::Struct(s)),
                _ => None,
            };
            let (Some(len), Some(elem)) = (len, elem) else {
                self.vars.push(Var {
                    name: decl.name.name.clone(),
                    ty: Ty::Error,
                    storage: Storage::Ssa(None),
                });
                return;
            };
            let ty = Ty::Array { elem, len: Some(len) };
            let slot = self.new_slot(ty, decl.span);
            if let Some(init) = &decl.init {
                self.init_array(slot, elem, len, init);
            }
            self.vars.push(Var {
                name: decl.name.name.clone(),
                ty,
                storage: Storage::Mem(Root::Slot(slot)),
            });
            return;
        }
        match ty {
            Ty::Struct(s) => {
                let slot = match &decl.init {
                    // The initializer first, as for scalars (it sees the
                    // name the declaration shadows); then it is copied over
                    // every field, so the slot needs no zeroing here.
                    Some(Init::Expr(e)) => {
                        let slot = self.new_temp_slot(ty);
                        self.struct_into(e, s, Root::Slot(slot));
                        slot
                    }
                    Some(Init::List(_, span)) => {
                        self.diags.push(
                            Diagnostic::error("P0212", *span, "a struct initializer list is not supported").with_help(
                                "a struct local starts zeroed: assign its fields, or copy a struct \
                                     (`struct s x = y;`)",
                            ),
                        );
                        self.new_slot(ty, decl.span)
                    }
                    None => self.new_slot(ty, decl.span),
                };
                self.vars.push(Var {
                    name: decl.name.name.clone(),
                    ty,
                    storage: Storage::Mem(Root::Slot(slot)),
                });
            }
            Ty::Void => self.error("P0201", decl.span, "a variable cannot be `void`"),
            _ => {
                let value = match &decl.init {
                    // The declared type was reported: only look inside.
                    Some(Init::Expr(e)) if ty == Ty::Error => {
                        self.expr(e);
                        None
                    }
                    Some(Init::Expr(e)) => self.typed(e, ty),
                    Some(Init::List(_, span)) => {
                        self.error("P0201", *span, "a list initializes an array");
                        None
                    }
                    None => None,
                };
                // An initializer with an error still assigns the variable
                // (a placeholder value), so that its uses are still checked
                // but not reported as uninitialized.
                let value = match (value, &decl.init) {
                    (Some(v), _) => Some(v),
                    (None, Some(_)) => self.placeholder(ty, decl.span),
                    (None, None) => None,
                };
                let ty = if value.is_none() && decl.init.is_some() {
                    Ty::Error
                } else {
                    ty
                };
                self.vars.push(Var {
                    name: decl.name.name.clone(),
                    ty,
                    storage: Storage::Ssa(value),
                });
            }
        }
    }

    /// A value standing in for one that had an error (the module is not
    /// returned, so it never runs); `None` for capabilities, which have none.
    fn placeholder(&mut self, ty: Ty, span: Span) -> Option<ValueId> {
        match ty {
            Ty::Int => Some(self.iconst(0, span)),
            Ty::Bool => Some(self.value(InstKind::Bconst(false), span, Raises::Nothing)),
            _ => None,
        }
    }

    fn new_slot(&mut self, ty: Ty, span: Span) -> SlotId {
        let slot = self.new_temp_slot(ty);
        // Zero again at each execution of the declaration (entry zeroing is
        // added when the function is finished).
        self.emit(InstKind::Init(slot), span, Raises::Nothing);
        slot
    }

    /// A slot without zeroing at this point (every slot is zeroed at
    /// function entry).
    fn new_temp_slot(&mut self, ty: Ty) -> SlotId {
        let slot = SlotId(self.slots.len() as u32);
        self.slots.push(obj_type(ty).expect("slots hold arrays and structs"));
        slot
    }

    fn init_array(&mut self, slot: SlotId, elem: Elem, len: u32, init: &Init) {
        let Init::List(items, span) = init else {
            self.error(
                "P0201",
                init_span(init),
                "an array is initialized with a list: `{1, 2, 3}`",
            );
            return;
        };
        if items.len() > len as usize {
            self.error("P0211", *span, format!("{} values for an array of {len}", items.len()));
            return;
        }
        for (i, item) in items.iter().enumerate() {
            let Some(v) = self.typed(item, elem.ty()) else { continue };
            let index = self.iconst(i as i64, item.span);
            let root = Root::Slot(slot);
            let idx = self.value(InstKind::CheckBounds { value: index, root }, item.span, Raises::Nothing);
            let place = Place {
                root,
                index: Some(idx),
                fields: vec![],
            };
            self.emit(InstKind::Store { place, value: v }, item.span, Raises::Nothing);
        }
    }

    // ---- expressions -------------------------------------------------------

    /// An expression that must have type `want`; `None` after an error.
    fn typed(&mut self, e: &Expr, want: Ty) -> Option<ValueId> {
        if want == Ty::Error {
            return None; // the expected type was reported
        }
        match self.expr(e) {
            Val::Value(v, ty) if ty == want => Some(v),
            Val::Value(_, Ty::Error) | Val::Error => None,
            Val::Value(_, ty) => {
                self.mismatch(e.span, want, ty);
                None
            }
            Val::Struct(s) => {
                self.mismatch(e.span, want, Ty::Struct(s));
                None
            }
            Val::Void => {
                self.error("P0207", e.span, "this call returns nothing; its value cannot be used");
                None
            }
        }
    }

    fn mismatch(&mut self, span: Span, want: Ty, found: Ty) {
        let (w, f) = (self.name(want), self.name(found));
        let d = match (want, found) {
            (Ty::Cap(_), Ty::Int | Ty::Bool) => Diagnostic::error(
                "P0316",
                span,
                format!("expected `{w}`, found `{f}`: capabilities cannot be made from other values"),
            )
            .with_help("capabilities come only from the host, as entry-point parameters"),
            (Ty::Int | Ty::Bool, Ty::Cap(_)) => Diagnostic::error(
                "P0316",
                span,
                format!("expected `{w}`, found `{f}`: a capability is an opaque handle, not a number"),
            ),
            (Ty::Bool, Ty::Int) => Diagnostic::error("P0201", span, format!("expected `{w}`, found `{f}`"))
                .with_help("compare explicitly, e.g. `x != 0`"),
            (Ty::Int | Ty::Bool | Ty::Cap(_), Ty::Struct(_)) => {
                Diagnostic::error("P0201", span, format!("expected `{w}`, found `{f}`"))
                    .with_help("a struct is not a single value: use one of its fields, e.g. `s.t`")
            }
            _ => Diagnostic::error("P0201", span, format!("expected `{w}`, found `{f}`")),
        };
        self.diags.push(d);
    }

    fn cond(&mut self, e: &Expr) -> Option<ValueId> {
        self.typed(e, Ty::Bool)
    }

    fn int(&mut self, e: &Expr) -> Option<ValueId> {
        self.typed(e, Ty::Int)
    }

    fn expr(&mut self, e: &Expr) -> Val {
        let span = e.span;
        match &e.kind {
            ExprKind::Int(n) => match i64::try_from(*n) {
                Ok(n) => Val::Value(self.iconst(n, span), Ty::Int),
                Err(_) => {
                    self.error("P0210", span, "integer literal does not fit `int` (64-bit signed)");
                    Val::Error
                }
            },
            ExprKind::Bool(b) => Val::Value(self.value(InstKind::Bconst(*b), span, Raises::Nothing), Ty::Bool),
            ExprKind::Str(_) => {
                self.diags.push(
                    Diagnostic::error("P0107", span, "a string literal only names an attribute or an event")
                        .with_help("e.g. `get_attribute(app, \"actual_cpu\")`, `raise_event(\"Error\", e)`"),
                );
                Val::Error
            }
            ExprKind::Var(name) => self.read_var(name),
            ExprKind::Unary(op, inner) => self.unary(*op, inner, span),
            ExprKind::Binary(BinOp::And | BinOp::Or, l, r) => {
                let is_and = matches!(e.kind, ExprKind::Binary(BinOp::And, ..));
                self.short_circuit(is_and, l, r, span)
            }
            ExprKind::Binary(op, l, r) => {
                let a = self.expr(l);
                let held = self.hold(a);
                let b = self.expr(r);
                let a = self.take(held);
                self.binary(*op, a, b, l.span, r.span, span)
            }
            ExprKind::Assign(op, target, value) => self.assign(*op, target, value, span),
            ExprKind::IncDec {
                increment,
                prefix,
                target,
            } => {
                let one = Expr {
                    kind: ExprKind::Int(1),
                    span,
                };
                let op = if *increment { BinOp::Add } else { BinOp::Sub };
                if !*prefix && !self.is_local(target) {
                    return self.postfix_in_memory(op, target, span);
                }
                let old = if *prefix { None } else { self.rvalue_of(target) };
                let new = self.assign(Some(op), target, &one, span);
                match (old, new) {
                    (Some(old), Val::Value(..)) => Val::Value(old, Ty::Int),
                    (_, new) => new,
                }
            }
            ExprKind::Call(name, args) => self.call(name, args, span),
            ExprKind::Index(..) | ExprKind::Field(..) => match self.place(e) {
                Some((place, ty)) => self.load(place, ty, span),
                None => Val::Error,
            },
            ExprKind::Cast(ty, inner) => {
                self.expr(inner);
                let t = self.env.resolve_type(ty, &mut Vec::new());
                let to = self.name(t);
                self.diags.push(
                    Diagnostic::error("P0301", span, format!("cast to `{to}`: Popcorn-SX has no casts")).with_help(
                        "a cast could turn an integer into a pointer or capability; convert explicitly, e.g. `x != 0`",
                    ),
                );
                Val::Error
            }
            ExprKind::AddrOf(_) | ExprKind::Deref(_) => {
                let what = if matches!(e.kind, ExprKind::AddrOf(_)) {
                    "`&` (address-of)"
                } else {
                    "unary `*` (dereference)"
                };
                self.diags.push(pointer_error(span, what));
                Val::Error
            }
            ExprKind::Arrow(..) => {
                self.diags
                    .push(pointer_error(span, "`->`").with_help("fields are reached with `.`: `s.t`"));
                Val::Error
            }
        }
    }

    fn is_local(&self, target: &Expr) -> bool {
        matches!(&target.kind, ExprKind::Var(name) if self.lookup(&name.name).is_some_and(|i| matches!(self.vars[i].storage, Storage::Ssa(_))))
    }

    fn rebind(&mut self, var: usize, v: ValueId, ty: Ty) -> Val {
        self.vars[var].storage = Storage::Ssa(Some(v));
        Val::Value(v, ty)
    }

    /// The type of an assignment target, without emitting anything.
    fn lvalue_type(&self, e: &Expr) -> Option<Ty> {
        match &e.kind {
            ExprKind::Var(name) => match self.lookup(&name.name) {
                Some(i) => Some(self.vars[i].ty),
                None => match self.env.names.get(&name.name) {
                    Some((Name::Global(g), _)) => Some(self.env.globals[*g].ty),
                    _ => None,
                },
            },
            ExprKind::Index(base, _) | ExprKind::Field(base, _) => {
                self.projection_type(&e.kind, self.lvalue_type(base)?)
            }
            _ => None,
        }
    }

    /// Reports an assignment to a constant or a function.
    fn unassignable(&mut self, target: &Expr) -> bool {
        if let ExprKind::Var(name) = &target.kind
            && self.lookup(&name.name).is_none()
            && let Some((Name::Const(_) | Name::Func(_), _)) = self.env.names.get(&name.name)
        {
            self.error("P0204", target.span, format!("`{}` cannot be assigned", name.name));
            return true;
        }
        false
    }

    /// `x++` / `x--` on a global, an element or a field: the old value.
    fn postfix_in_memory(&mut self, op: BinOp, target: &Expr, span: Span) -> Val {
        if self.unassignable(target) {
            return Val::Error;
        }
        if self.call_rooted(target) {
            self.not_a_variable(target);
            return Val::Error;
        }
        let Some((place, ty)) = self.place(target) else {
            return Val::Error;
        };
        if ty != Ty::Int {
            if ty != Ty::Error {
                self.mismatch(target.span, Ty::Int, ty);
            }
            return Val::Error;
        }
        let old = self.load(place.clone(), ty, target.span);
        let one = Val::Value(self.iconst(1, span), Ty::Int);
        if let Val::Value(new, _) = self.binary(op, old, one, target.span, span, span) {
            self.emit(InstKind::Store { place, value: new }, span, Raises::Nothing);
        }
        old
    }

    /// The current value of a scalar lvalue (for postfix `++`), if it has one.
    fn rvalue_of(&mut self, target: &Expr) -> Option<ValueId> {
        if let ExprKind::Var(name) = &target.kind
            && let Some(i) = self.lookup(&name.name)
            && let Storage::Ssa(v) = self.vars[i].storage
        {
            return v;
        }
        None
    }

    fn read_var(&mut self, name: &ast::Ident) -> Val {
        if let Some(i) = self.lookup(&name.name) {
            let var = &self.vars[i];
            return match (&var.storage, var.ty) {
                (_, Ty::Error) => Val::Error,
                (Storage::Ssa(Some(v)), ty) => Val::Value(*v, ty),
                (Storage::Ssa(None), _) => {
                    self.diags.push(
                        Diagnostic::error(
                            "P0310",
                            name.span,
                            format!("`{}` is read before it is assigned on every path to here", name.name),
                        )
                        .with_help("initialize it where it is declared"),
                    );
                    Val::Error
                }
                (Storage::Mem(_), Ty::Struct(s)) => Val::Struct(s),
                (Storage::Mem(_), ty) => {
                    let t = self.name(ty);
                    self.error(
                        "P0209",
                        name.span,
                        format!("`{}` is `{t}`: use an element or a field", name.name),
                    );
                    Val::Error
                }
            };
        }
        match self.env.names.get(&name.name) {
            Some((Name::Const(Const::Int(n)), _)) => Val::Value(self.iconst(*n, name.span), Ty::Int),
            Some((Name::Const(Const::Bool(b)), _)) => {
                Val::Value(self.value(InstKind::Bconst(*b), name.span, Raises::Nothing), Ty::Bool)
            }
            Some((Name::Global(g), _)) => {
                let ty = self.env.globals[*g].ty;
                let root = Root::Global(self.env.globals[*g].id);
                match ty {
                    Ty::Int | Ty::Bool | Ty::Cap(_) => self.load(
                        Place {
                            root,
                            index: None,
                            fields: vec![],
                        },
                        ty,
                        name.span,
                    ),
                    Ty::Error => Val::Error,
                    Ty::Struct(s) => Val::Struct(s),
                    _ => {
                        let t = self.name(ty);
                        self.error(
                            "P0209",
                            name.span,
                            format!("`{}` is `{t}`: use an element or a field", name.name),
                        );
                        Val::Error
                    }
                }
            }
            Some((Name::Func(_), _)) => {
                self.error("P0201", name.span, format!("`{}` is a function; call it", name.name));
                Val::Error
            }
            None => {
                let hint = self.similar_value(&name.name);
                self.error("P0101", name.span, format!("unknown name `{}`{hint}", name.name));
                Val::Error
            }
        }
    }

    /// Loads a scalar from memory; capabilities pass `check.null`.
    fn load(&mut self, place: Place, ty: Ty, span: Span) -> Val {
        match ty {
            Ty::Int | Ty::Bool => Val::Value(self.value(InstKind::Load(place), span, Raises::Nothing), ty),
            Ty::Cap(_) => {
                let maybe = self.value(InstKind::Load(place), span, Raises::Nothing);
                let cap = self.value(InstKind::CheckNull(maybe), span, Raises::One(ExcKind::NullCapability));
                Val::Value(cap, ty)
            }
            Ty::Error => Val::Error,
            // A struct is not loaded: where one is wanted, `struct_value`
            // takes its place.
            Ty::Struct(s) => Val::Struct(s),
            _ => {
                let t = self.name(ty);
                self.error("P0209", span, format!("this is `{t}`: use an element or a field"));
                Val::Error
            }
        }
    }

    /// The memory place an `a[i]`, `s.f` or `a[i].f` names, with its type.
    fn place(&mut self, e: &Expr) -> Option<(Place, Ty)> {
        match &e.kind {
            ExprKind::Var(name) => {
                let (root, ty) = self.root(name)?;
                Some((
                    Place {
                        root,
                        index: None,
                        fields: vec![],
                    },
                    ty,
                ))
            }
            ExprKind::Index(base, index) => {
                let (place, ty) = self.place(base)?;
                let Ty::Array { elem, .. } = ty else {
                    if ty != Ty::Error {
                        let t = self.name(ty);
                        self.error("P0209", base.span, format!("indexing `{t}`, which is not an array"));
                    }
                    return None;
                };
                let i = self.int(index)?;
                let idx = self.value(
                    InstKind::CheckBounds {
                        value: i,
                        root: place.root,
                    },
                    index.span,
                    Raises::One(ExcKind::OutOfBounds),
                );
                Some((
                    Place {
                        index: Some(idx),
                        ..place
                    },
                    elem.ty(),
                ))
            }
            ExprKind::Field(base, field) => {
                if let ExprKind::Var(name) = &base.kind
                    && let Some(i) = self.lookup(&name.name)
                    && let Storage::Ssa(_) = self.vars[i].storage
                {
                    if self.vars[i].ty != Ty::Error {
                        let t = self.name(self.vars[i].ty);
                        self.error(
                            "P0106",
                            field.span,
                            format!("`{}` is `{t}`, which has no fields", name.name),
                        );
                    }
                    return None;
                }
                let (mut place, ty) = self.place(base)?;
                let Ty::Struct(s) = ty else {
                    if ty != Ty::Error {
                        let t = self.name(ty);
                        self.error("P0106", field.span, format!("`{t}` has no fields"));
                    }
                    return None;
                };
                let info = &self.env.structs[s.index()];
                match info.fields.iter().position(|(n, _)| *n == field.name) {
                    Some(i) => {
                        let fty = info.fields[i].1;
                        place.fields.push(i as u32);
                        Some((place, fty))
                    }
                    None => {
                        let msg = format!("struct `{}` has no field `{}`", info.name, field.name);
                        self.error("P0106", field.span, msg);
                        None
                    }
                }
            }
            // A call's result, for its fields: `f().t`.
            ExprKind::Call(name, args) if let Some(s) = self.struct_call(name) => {
                let slot = self.temp(s);
                match self.call_with(name, args, e.span, Some(Root::Slot(slot))) {
                    Val::Struct(_) => Some((whole(Root::Slot(slot)), Ty::Struct(s))),
                    _ => None,
                }
            }
            _ => {
                self.expr(e);
                self.error(
                    "P0204",
                    e.span,
                    "this expression does not name a variable, an element or a field",
                );
                None
            }
        }
    }

    /// A name that is a memory object: local array or struct, array
    /// parameter, or global.
    fn root(&mut self, name: &ast::Ident) -> Option<(Root, Ty)> {
        if let Some(i) = self.lookup(&name.name) {
            return match self.vars[i].storage {
                Storage::Mem(root) => Some((root, self.vars[i].ty)),
                Storage::Ssa(_) if self.vars[i].ty == Ty::Error => None,
                Storage::Ssa(_) => {
                    let t = self.name(self.vars[i].ty);
                    self.error(
                        "P0209",
                        name.span,
                        format!("`{}` is `{t}`, not an array or a struct", name.name),
                    );
                    None
                }
            };
        }
        match self.env.names.get(&name.name) {
            Some((Name::Global(g), _)) => {
                let info = &self.env.globals[*g];
                Some((Root::Global(info.id), info.ty))
            }
            Some(_) => {
                self.error(
                    "P0209",
                    name.span,
                    format!("`{}` is not an array or a struct", name.name),
                );
                None
            }
            None => {
                let hint = self.similar_value(&name.name);
                self.error("P0101", name.span, format!("unknown name `{}`{hint}", name.name));
                None
            }
        }
    }

    fn unary(&mut self, op: UnOp, inner: &Expr, span: Span) -> Val {
        // A negative literal is a constant, not a negation that could overflow.
        if op == UnOp::Neg
            && let ExprKind::Int(n) = inner.kind
            && n <= 1 << 63
        {
            return Val::Value(self.iconst((n as i64).wrapping_neg(), span), Ty::Int);
        }
        let (arg, op, ty, raises) = match op {
            UnOp::Neg => (self.int(inner), UnaryOp::Neg, Ty::Int, Raises::One(ExcKind::Overflow)),
            UnOp::BitNot => (self.int(inner), UnaryOp::Not, Ty::Int, Raises::Nothing),
            UnOp::Not => (self.cond(inner), UnaryOp::Not, Ty::Bool, Raises::Nothing),
        };
        match arg {
            Some(arg) => Val::Value(self.value(InstKind::Unary { op, arg }, span, raises), ty),
            None => Val::Error,
        }
    }

    fn short_circuit(&mut self, is_and: bool, l: &Expr, r: &Expr, span: Span) -> Val {
        let Some(a) = self.cond(l) else {
            self.expr(r);
            return Val::Error;
        };
        let (rhs, join) = (self.new_label(), self.new_label());
        self.labels[join.0].extra = vec![Type::Bool];
        self.ensure_open();
        // `a && b` is `a ? b : a`, and `a || b` is `a ? a : b`.
        let (then_to, else_to) = if is_and {
            (
                self.target(rhs, Edge::Then, vec![]),
                self.target(join, Edge::Else, vec![a]),
            )
        } else {
            (
                self.target(join, Edge::Then, vec![a]),
                self.target(rhs, Edge::Else, vec![]),
            )
        };
        self.terminate(
            Terminator::Brif {
                cond: a,
                then_to,
                else_to,
            },
            span,
        );
        self.place_label(rhs, false);
        let b = match self.cond(r) {
            Some(b) => b,
            None => self.value(InstKind::Bconst(false), r.span, Raises::Nothing),
        };
        self.jump(join, vec![b], span);
        let result = self.place_label(join, false);
        Val::Value(result[0], Ty::Bool)
    }

    fn binary(&mut self, op: BinOp, a: Val, b: Val, ls: Span, rs: Span, span: Span) -> Val {
        let operand_struct = [a, b].into_iter().find_map(|v| match v {
            Val::Struct(s) => Some(s),
            _ => None,
        });
        if let Some(s) = operand_struct {
            let t = self.name(Ty::Struct(s));
            let d = match op {
                BinOp::Eq | BinOp::Ne => Diagnostic::error(
                    "P0201",
                    ls.to(rs),
                    format!("structs cannot be compared with `{}` (`{t}`)", op.symbol()),
                )
                .with_help("compare the fields that matter: `a.x == b.x && a.y == b.y`"),
                _ => Diagnostic::error("P0201", ls.to(rs), format!("no operator `{}` for `{t}`", op.symbol()))
                    .with_help("a struct is not a value an operator computes with: use its fields"),
            };
            self.diags.push(d);
            return Val::Error;
        }
        let (Val::Value(a, ta), Val::Value(b, tb)) = (a, b) else {
            if matches!(a, Val::Void) || matches!(b, Val::Void) {
                self.error("P0207", span, "an operand returns nothing");
            }
            return Val::Error;
        };
        if ta == Ty::Error || tb == Ty::Error {
            return Val::Error;
        }
        if matches!(ta, Ty::Cap(_)) || matches!(tb, Ty::Cap(_)) {
            self.diags.push(
                Diagnostic::error(
                    "P0316",
                    span,
                    "a capability used as a number: capabilities are opaque handles, never compared or computed with",
                )
                .with_help("read attributes through it with `get_attribute`"),
            );
            return Val::Error;
        }
        // Integer arithmetic on two constants that cannot trap is folded,
        // with the same rules the program would run by.
        if let (Ty::Int, Ty::Int, Some(&x), Some(&y)) = (ta, tb, self.constants.get(&a), self.constants.get(&b))
            && let Ok(Const::Int(n)) = self.env.try_const(&const_expr(op, x, y, span))
        {
            return Val::Value(self.iconst(n, span), Ty::Int);
        }
        let cmp = |c: Cond| InstKind::Icmp {
            cond: c,
            lhs: a,
            rhs: b,
        };
        let arith = |op: BinaryOp| InstKind::Binary { op, lhs: a, rhs: b };
        let (kind, raises, ty) = match (op, ta, tb) {
            (BinOp::Eq, Ty::Bool, Ty::Bool) => (cmp(Cond::Eq), Raises::Nothing, Ty::Bool),
            (BinOp::Ne, Ty::Bool, Ty::Bool) => (cmp(Cond::Ne), Raises::Nothing, Ty::Bool),
            (BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor, Ty::Bool, Ty::Bool) => {
                (arith(bitwise(op)), Raises::Nothing, Ty::Bool)
            }
            (_, Ty::Int, Ty::Int) => match op {
                BinOp::Add => (arith(BinaryOp::Add), Raises::One(ExcKind::Overflow), Ty::Int),
                BinOp::Sub => (arith(BinaryOp::Sub), Raises::One(ExcKind::Overflow), Ty::Int),
                BinOp::Mul => (arith(BinaryOp::Mul), Raises::One(ExcKind::Overflow), Ty::Int),
                BinOp::Shl => (arith(BinaryOp::Shl), Raises::One(ExcKind::Overflow), Ty::Int),
                BinOp::Shr => (arith(BinaryOp::Shr), Raises::One(ExcKind::Overflow), Ty::Int),
                BinOp::Div | BinOp::Rem => {
                    let nz = self.value(InstKind::CheckNonZero(b), rs, Raises::One(ExcKind::DivideByZero));
                    let op = if op == BinOp::Div { BinaryOp::Div } else { BinaryOp::Rem };
                    (
                        InstKind::Binary { op, lhs: a, rhs: nz },
                        Raises::One(ExcKind::Overflow),
                        Ty::Int,
                    )
                }
                BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => (arith(bitwise(op)), Raises::Nothing, Ty::Int),
                BinOp::Eq => (cmp(Cond::Eq), Raises::Nothing, Ty::Bool),
                BinOp::Ne => (cmp(Cond::Ne), Raises::Nothing, Ty::Bool),
                BinOp::Lt => (cmp(Cond::Lt), Raises::Nothing, Ty::Bool),
                BinOp::Le => (cmp(Cond::Le), Raises::Nothing, Ty::Bool),
                BinOp::Gt => (cmp(Cond::Gt), Raises::Nothing, Ty::Bool),
                BinOp::Ge => (cmp(Cond::Ge), Raises::Nothing, Ty::Bool),
                BinOp::And | BinOp::Or => unreachable!("short-circuit operators are lowered as control flow"),
            },
            _ => {
                let (l, r) = (self.name(ta), self.name(tb));
                let d = Diagnostic::error(
                    "P0201",
                    ls.to(rs),
                    format!("no operator `{}` for `{l}` and `{r}`", op.symbol()),
                );
                let d = if ta == Ty::Bool || tb == Ty::Bool {
                    d.with_help("`bool` is not an integer; compare explicitly")
                } else {
                    d
                };
                self.diags.push(d);
                return Val::Error;
            }
        };
        Val::Value(self.value(kind, span, raises), ty)
    }

    fn assign(&mut self, op: Option<BinOp>, target: &Expr, value: &Expr, span: Span) -> Val {
        // A local SSA variable: rebinding, no memory.
        if let ExprKind::Var(name) = &target.kind
            && let Some(i) = self.lookup(&name.name)
            && let Storage::Ssa(_) = self.vars[i].storage
        {
            let ty = self.vars[i].ty;
            let new = match op {
                None => self.expr(value),
                Some(op) => {
                    // The right-hand side first: if it starts new blocks, the
                    // variable's current value is the one after them.
                    let rhs = self.expr(value);
                    let current = match self.vars[i].storage {
                        Storage::Ssa(current) => current,
                        Storage::Mem(_) => None,
                    };
                    let old = match current {
                        Some(v) => Val::Value(v, ty),
                        None if ty == Ty::Error => Val::Error,
                        None => {
                            self.error(
                                "P0310",
                                name.span,
                                format!("`{}` is read before it is assigned", name.name),
                            );
                            Val::Error
                        }
                    };
                    self.binary(op, old, rhs, target.span, value.span, span)
                }
            };
            let assigned = match new {
                Val::Value(v, t) if t == ty => return self.rebind(i, v, t),
                Val::Value(_, Ty::Error) | Val::Error => Val::Error,
                Val::Value(_, t) => {
                    if ty != Ty::Error {
                        self.mismatch(value.span, ty, t);
                    }
                    Val::Error
                }
                Val::Struct(s) => {
                    if ty != Ty::Error {
                        self.mismatch(value.span, ty, Ty::Struct(s));
                    }
                    Val::Error
                }
                Val::Void => {
                    self.error("P0207", value.span, "this call returns nothing");
                    Val::Error
                }
            };
            // The variable counts as assigned, so its later uses are checked
            // without repeating this error.
            if let Some(v) = self.placeholder(ty, span) {
                self.vars[i].storage = Storage::Ssa(Some(v));
            }
            return assigned;
        }
        if self.unassignable(target) {
            return Val::Error;
        }
        match self.lvalue_type(target) {
            // A whole struct: C's copy of every field.
            Some(Ty::Struct(s)) => {
                if op.is_some() {
                    self.expr(value);
                    self.mismatch(target.span, Ty::Int, Ty::Struct(s));
                    return Val::Error;
                }
                return match self.struct_assign(s, target, value, span) {
                    Some(_) => Val::Struct(s),
                    None => Val::Error,
                };
            }
            Some(ty @ Ty::Array { .. }) => {
                let t = self.name(ty);
                self.error(
                    "P0212",
                    target.span,
                    format!("assignment of a whole `{t}`: assign its elements"),
                );
                return Val::Error;
            }
            _ => {}
        }
        if self.call_rooted(target) {
            self.expr(value);
            self.not_a_variable(target);
            return Val::Error;
        }
        // The right-hand side first (C leaves the order open): a checked
        // index must not have to cross the blocks an `&&` in it starts.
        let rhs = self.expr(value);
        let Some((place, ty)) = self.place(target) else {
            return Val::Error;
        };
        if !matches!(ty, Ty::Int | Ty::Bool | Ty::Cap(_)) {
            if ty != Ty::Error {
                let t = self.name(ty);
                self.error(
                    "P0212",
                    target.span,
                    format!("assignment of a whole `{t}`: assign its elements"),
                );
            }
            return Val::Error;
        }
        // The rights of the function whose code this is: a plain function
        // inlined into a guard stores capabilities it loaded (never the
        // guard's, which it cannot be passed), as it may when called.
        if matches!(ty, Ty::Cap(_)) && self.env.funcs[self.this].rights.contains(Rights::GUARD) {
            self.error(
                "P0317",
                target.span,
                "a guard cannot store a capability: the guard right must not outlive it",
            );
            return Val::Error;
        }
        let new = match op {
            None => rhs,
            Some(op) => {
                let old = self.load(place.clone(), ty, target.span);
                self.binary(op, old, rhs, target.span, value.span, span)
            }
        };
        match new {
            Val::Value(v, t) if t == ty => {
                self.emit(InstKind::Store { place, value: v }, span, Raises::Nothing);
                Val::Value(v, t)
            }
            Val::Value(_, Ty::Error) | Val::Error => Val::Error,
            Val::Value(_, t) => {
                self.mismatch(value.span, ty, t);
                Val::Error
            }
            Val::Struct(s) => {
                self.mismatch(value.span, ty, Ty::Struct(s));
                Val::Error
            }
            Val::Void => {
                self.error("P0207", value.span, "this call returns nothing");
                Val::Error
            }
        }
    }

    // ---- structs -----------------------------------------------------------

    /// The type of an expression, where it can be told without lowering
    /// it: variables, elements, fields, calls of the program's functions,
    /// and assignments.
    /// The type of `base[i]` or `base.field` (`kind`) given `base`'s type.
    fn projection_type(&self, kind: &ExprKind, base: Ty) -> Option<Ty> {
        match (kind, base) {
            (ExprKind::Index(..), Ty::Array { elem, .. }) => Some(elem.ty()),
            (ExprKind::Field(_, field), Ty::Struct(s)) => {
                let fields = &self.env.structs[s.index()].fields;
                fields.iter().find(|(n, _)| *n == field.name).map(|(_, t)| *t)
            }
            _ => None,
        }
    }

    fn static_type(&self, e: &Expr) -> Option<Ty> {
        match &e.kind {
            ExprKind::Call(name, _) => self.struct_call(name).map(Ty::Struct),
            ExprKind::Assign(None, target, _) => self.lvalue_type(target),
            ExprKind::Index(base, _) | ExprKind::Field(base, _) => {
                self.projection_type(&e.kind, self.static_type(base)?)
            }
            _ => self.lvalue_type(e),
        }
    }

    /// The struct a call of `name` returns, if it names a function of the
    /// program that returns one.
    fn struct_call(&self, name: &ast::Ident) -> Option<StructId> {
        match self.env.names.get(&name.name) {
            Some((Name::Func(f), _)) => match self.env.funcs[*f].ret {
                Ty::Struct(s) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }

    /// A free temporary of struct `s`, busy until the end of the statement.
    fn temp(&mut self, s: StructId) -> SlotId {
        let index = match self.temps.iter().position(|t| t.ty == s && !t.busy) {
            Some(i) => i,
            None => {
                let slot = self.new_temp_slot(Ty::Struct(s));
                self.temps.push(Temp {
                    ty: s,
                    slot,
                    busy: false,
                });
                self.temps.len() - 1
            }
        };
        self.temps[index].busy = true;
        self.busy_temps.push(index);
        self.temps[index].slot
    }

    /// Evaluates a struct-valued expression of type `want`: the place that
    /// holds its value, and whether that place is a temporary of this
    /// expression alone (a call's result), which may be handed on without
    /// a copy. `None` after an error, reported.
    fn struct_value(&mut self, e: &Expr, want: StructId) -> Option<(Place, bool)> {
        let found = self.static_type(e);
        if let (ExprKind::Var(_), Some(array @ Ty::Array { .. })) = (&e.kind, found) {
            // A named array: nothing to evaluate.
            self.mismatch(e.span, Ty::Struct(want), array);
            return None;
        }
        if found != Some(Ty::Struct(want)) {
            match (found, self.expr(e)) {
                (_, Val::Value(_, Ty::Error) | Val::Error) => {}
                (Some(Ty::Error), _) => {}
                (_, Val::Value(_, t)) => self.mismatch(e.span, Ty::Struct(want), t),
                (_, Val::Struct(s)) => self.mismatch(e.span, Ty::Struct(want), Ty::Struct(s)),
                (_, Val::Void) => self.error("P0207", e.span, "this call returns nothing; its value cannot be used"),
            }
            return None;
        }
        match &e.kind {
            ExprKind::Call(name, args) => {
                let slot = self.temp(want);
                match self.call_with(name, args, e.span, Some(Root::Slot(slot))) {
                    Val::Struct(_) => Some((whole(Root::Slot(slot)), true)),
                    _ => None,
                }
            }
            ExprKind::Assign(None, target, value) => {
                self.struct_assign(want, target, value, e.span).map(|p| (p, false))
            }
            _ => self.place(e).map(|(place, _)| (place, false)),
        }
    }

    /// Evaluates a struct-valued expression of type `want` into the object
    /// `to` (a variable being declared, or a function's result): a call
    /// writes its result there itself. Whether it had no error.
    fn struct_into(&mut self, e: &Expr, want: StructId, to: Root) -> bool {
        if let ExprKind::Call(name, args) = &e.kind
            && self.struct_call(name) == Some(want)
        {
            return matches!(self.call_with(name, args, e.span, Some(to)), Val::Struct(_));
        }
        match self.struct_value(e, want) {
            Some((from, _)) => self.copy_struct(want, &from, &whole(to), e.span),
            None => false,
        }
    }

    /// `target = value` for a struct `target` of type `s`: the place
    /// assigned. The right-hand side is evaluated first, as for scalars;
    /// when evaluating the target could have effects or start blocks (a
    /// call, an assignment, `&&` in an index), the value is first copied to
    /// a temporary, so that it is the value before them and no checked
    /// index has to cross a block.
    fn struct_assign(&mut self, s: StructId, target: &Expr, value: &Expr, span: Span) -> Option<Place> {
        let from = match self.struct_value(value, s) {
            Some((from, owned)) if !owned && !quiet(target) => {
                let copy = whole(Root::Slot(self.temp(s)));
                self.copy_struct(s, &from, &copy, span).then_some(copy)
            }
            other => other.map(|(from, _)| from),
        };
        let (to, _) = self.place(target)?;
        let from = from?;
        self.copy_struct(s, &from, &to, span).then_some(to)
    }

    /// Copies struct `s` from one place to another: every scalar field,
    /// nested structs' included, loaded first and then stored, so that
    /// `a = a` and `x[i] = x[j]` with `i == j` copy what was there. (Two
    /// places of one struct type are the same or disjoint, since no struct
    /// contains itself, so no order could clobber; this one also keeps the
    /// loads together.) A capability field is copied as memory holds it,
    /// null or not, without `check.null`. Whether it had no error.
    fn copy_struct(&mut self, s: StructId, from: &Place, to: &Place, span: Span) -> bool {
        let Some(fields) = self.env.struct_scalars(s, MAX_COPY_FIELDS) else {
            let name = self.name(Ty::Struct(s));
            self.diags.push(
                Diagnostic::error(
                    "P0212",
                    span,
                    format!("a copy of `{name}` moves more than {MAX_COPY_FIELDS} fields"),
                )
                .with_help("copy its nested structs, or its fields, one at a time"),
            );
            return false;
        };
        // The rights of the function whose code this is (an inlined
        // callee's own, not its caller's).
        let in_guard = self.env.funcs[self.this].rights.contains(Rights::GUARD);
        if in_guard && self.env.struct_has_cap(s) {
            let name = self.name(Ty::Struct(s));
            self.diags.push(
                Diagnostic::error(
                    "P0317",
                    span,
                    format!("a guard cannot copy `{name}`: it holds a capability, which a guard cannot store"),
                )
                .with_help("copy the other fields one by one"),
            );
            return false;
        }
        let at = |place: &Place, path: &[u32]| Place {
            root: place.root,
            index: place.index,
            fields: [&place.fields[..], path].concat(),
        };
        let values: Vec<ValueId> = fields
            .iter()
            .map(|(path, _)| self.value(InstKind::Load(at(from, path)), span, Raises::Nothing))
            .collect();
        for ((path, _), value) in fields.iter().zip(values) {
            self.emit(
                InstKind::Store {
                    place: at(to, path),
                    value,
                },
                span,
                Raises::Nothing,
            );
        }
        true
    }

    /// Whether an assignment target is (a part of) a struct a call returns.
    fn call_rooted(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Call(name, _) => self.struct_call(name).is_some(),
            ExprKind::Index(base, _) | ExprKind::Field(base, _) => self.call_rooted(base),
            _ => false,
        }
    }

    /// Reports an assignment to a call's result (or to a field of one).
    fn not_a_variable(&mut self, target: &Expr) {
        self.diags.push(
            Diagnostic::error(
                "P0204",
                target.span,
                "a call's result is not a variable and cannot be assigned",
            )
            .with_help("copy the result to a variable first"),
        );
    }

    // ---- calls -------------------------------------------------------------

    fn call(&mut self, name: &ast::Ident, args: &[Expr], span: Span) -> Val {
        self.call_with(name, args, span, None)
    }

    /// A call; one of a function that returns a struct writes it to `dest`
    /// (by default a temporary) and gives `Val::Struct`.
    fn call_with(&mut self, name: &ast::Ident, args: &[Expr], span: Span, dest: Option<Root>) -> Val {
        match name.name.as_str() {
            "get_attribute" | "set_attribute" => return self.attribute_call(name, args, span),
            "raise_event" => return self.raise_event(args, span),
            "now_us" => {
                if self.arity(name, args, 0) {
                    let v = self.value(
                        InstKind::Helper {
                            id: helper_id("now_us"),
                            args: vec![],
                            result: true,
                        },
                        span,
                        Raises::Nothing,
                    );
                    return Val::Value(v, Ty::Int);
                }
                return Val::Error;
            }
            "block" => return self.block_call(name, args, span),
            "trace" => {
                if !self.arity(name, args, 1) {
                    return Val::Error;
                }
                let Some(value) = self.int(&args[0]) else {
                    return Val::Error;
                };
                // The site is where the call is in its file, for the report.
                let site = self.iconst(i64::from(span.lo), span);
                let kind = InstKind::Helper {
                    id: helper_id("trace"),
                    args: vec![HelperArg::Value(value), HelperArg::Value(site)],
                    result: false,
                };
                self.emit(kind, span, Raises::Nothing);
                return Val::Void;
            }
            "size" => return self.size(name, args, span),
            "min" | "max" | "abs" | "clamp" if !self.env.names.contains_key(&name.name) => {
                return self.int_builtin(name, args, span);
            }
            _ => {}
        }
        let Some((Name::Func(callee), _)) = self.env.names.get(&name.name).copied() else {
            for a in args {
                self.expr(a);
            }
            let d = match classify_symbol(&name.name) {
                Some(Forbidden::InterruptMasking) => Diagnostic::error(
                    "P0305",
                    name.span,
                    format!("interrupt masking: `{}` controls interrupts or preemption", name.name),
                )
                .with_help("the timer that bounds an extension's run time could no longer stop it"),
                Some(Forbidden::Lock) => Diagnostic::error(
                    "P0306",
                    name.span,
                    format!("lock use: `{}` is a synchronization primitive", name.name),
                )
                .with_help("an extension aborted while holding a lock would leave it held; shared state is reached only through the SafeX API"),
                Some(Forbidden::Allocation) => Diagnostic::error(
                    "P0307",
                    name.span,
                    format!("memory allocation: `{}` is not available", name.name),
                )
                .with_help("use globals and fixed-size arrays"),
                None if name.name == "sizeof" => {
                    Diagnostic::error("P0101", name.span, "unknown function `sizeof`: Popcorn-SX has no `sizeof`")
                        .with_help("`size(a)` is the number of elements of array `a`; an `int` is 8 bytes")
                }
                None => {
                    let functions = self.env.names.iter().filter(|(_, (n, _))| matches!(n, Name::Func(_)));
                    let hint = crate::suggest::did_you_mean(&name.name, functions.map(|(k, _)| k.as_str()));
                    Diagnostic::error("P0101", name.span, format!("unknown function `{}`{hint}", name.name))
                }
            };
            self.diags.push(d);
            return Val::Error;
        };
        let info = &self.env.funcs[callee];
        let (params, ret, writes) = (info.params.clone(), info.ret, info.writes);
        if info.decl.kind != AstKind::Plain {
            self.error(
                "P0201",
                name.span,
                format!("`{}` is an entry point; the service manager calls it", name.name),
            );
            return Val::Error;
        }
        if !self.arity(name, args, params.len()) {
            return Val::Error;
        }
        // As for a store: the rights of the code's own function.
        if self.env.funcs[self.this].rights.contains(Rights::GUARD) {
            let passes_cap = params.iter().any(|p| match p {
                Ty::Cap(_) => true,
                Ty::Struct(s) => self.env.struct_has_cap(*s),
                _ => false,
            });
            if writes || passes_cap {
                let why = if writes {
                    "writes attributes"
                } else {
                    "takes a capability"
                };
                self.diags.push(
                    Diagnostic::error(
                        "P0317",
                        name.span,
                        format!("a guard cannot call `{}`: it {why}", name.name),
                    )
                    .with_help("a guard holds the guard right and never writes: its capability stays in the guard"),
                );
                return Val::Error;
            }
        }
        // Values are held until the call: a later argument may contain `&&`.
        let mut evaluated: Vec<Result<Arg, Held>> = Vec::new();
        let mut ok = true;
        for (arg, &want) in args.iter().zip(&params) {
            match want {
                Ty::Array { elem, .. } => match &arg.kind {
                    ExprKind::Var(n) => match self.root(n) {
                        Some((root, Ty::Array { elem: e, .. })) if e == elem => evaluated.push(Ok(Arg::Ref(root))),
                        Some((_, have)) => {
                            let (w, h) = (self.name(want), self.name(have));
                            self.error("P0209", arg.span, format!("expected an array `{w}`, found `{h}`"));
                            ok = false;
                        }
                        None => ok = false,
                    },
                    _ => {
                        self.expr(arg);
                        self.error("P0209", arg.span, "an array parameter takes the name of an array");
                        ok = false;
                    }
                },
                // A struct is passed by value: the callee gets a copy of
                // its own (a call's result is one already), by reference.
                Ty::Struct(s) => match self.struct_value(arg, s) {
                    Some((
                        Place {
                            root,
                            index: None,
                            fields,
                        },
                        true,
                    )) if fields.is_empty() => evaluated.push(Ok(Arg::Ref(root))),
                    Some((from, _)) => {
                        let copy = Root::Slot(self.temp(s));
                        if self.copy_struct(s, &from, &whole(copy), arg.span) {
                            evaluated.push(Ok(Arg::Ref(copy)));
                        } else {
                            ok = false;
                        }
                    }
                    None => ok = false,
                },
                // A parameter whose type was reported takes nothing.
                Ty::Error => ok = false,
                _ => match self.typed(arg, want) {
                    Some(v) => {
                        let held = self.hold(Val::Value(v, want));
                        evaluated.push(Err(held));
                    }
                    None => ok = false,
                },
            }
        }
        let mut tal_args = Vec::with_capacity(evaluated.len());
        for arg in evaluated.into_iter().rev() {
            match arg {
                Ok(arg) => tal_args.push(arg),
                Err(held) => match self.take(held) {
                    Val::Value(v, _) => tal_args.push(Arg::Value(v)),
                    _ => ok = false,
                },
            }
        }
        tal_args.reverse();
        if !ok {
            return Val::Error;
        }
        if self.may_inline(callee) {
            let values: Vec<ValueId> = tal_args
                .iter()
                .filter_map(|a| match a {
                    Arg::Value(v) => Some(*v),
                    Arg::Ref(_) => None,
                })
                .collect();
            return self.inline_call(callee, &values, span);
        }
        let id = self.func_ids[callee].expect("called functions are emitted");
        if let Ty::Struct(s) = ret {
            // The result goes to an object the caller passes, last.
            let dest = dest.unwrap_or_else(|| Root::Slot(self.temp(s)));
            tal_args.push(Arg::Ref(dest));
            let kind = InstKind::Call {
                callee: Callee::Func(id),
                args: tal_args,
                result: false,
            };
            self.emit(kind, span, Raises::Any);
            return Val::Struct(s);
        }
        let result = ret != Ty::Void;
        let kind = InstKind::Call {
            callee: Callee::Func(id),
            args: tal_args,
            result,
        };
        match self.emit(kind, span, Raises::Any) {
            Some(v) => Val::Value(v, ret),
            None => Val::Void,
        }
    }

    /// Whether this call of `callee` is inlined: an inlinable callee (a
    /// larger leaf only inside a loop), not too deep. (Recursion is an error, P0309, so no callee is ever
    /// inlined into itself; the depth bound would stop it anyway.) Inside
    /// a `try`, the callee's instructions and `raise` reach the caller's
    /// handlers, as an exception leaving the call would; the handler's
    /// label is placed after the body, when the callee's variables are
    /// gone, so it takes only the caller's (edges carry snapshots indexed
    /// like the caller's variables, the callee's after them).
    fn may_inline(&self, callee: usize) -> bool {
        let here = match self.inlinable.get(callee) {
            Some(Inline::Anywhere) => true,
            Some(Inline::InLoops) => self.loops.iter().any(|l| l.cont.is_some()),
            Some(Inline::Never) | None => false,
        };
        here && self.inlining.len() < INLINE_MAX_DEPTH
    }

    /// Lowers the body of `callee` here, its parameters bound to `args`:
    /// `return` assigns a result variable and jumps to a join after it.
    /// Exceptions leave as they would leave the call (no handler is
    /// active), and instructions keep the callee's source spans.
    fn inline_call(&mut self, callee: usize, args: &[ValueId], span: Span) -> Val {
        let info = &self.env.funcs[callee];
        let (decl, ret) = (info.decl, info.ret);
        let join = self.new_label();
        let result = (ret != Ty::Void).then(|| {
            self.vars.push(Var {
                name: String::new(),
                ty: ret,
                storage: Storage::Ssa(None),
            });
            self.vars.len() - 1
        });
        let saved = (self.var_base, self.this, self.spans);
        self.inlining.push(Inlined { join, result });
        self.var_base = self.vars.len();
        self.this = callee;
        self.spans = info.origin == Origin::User;
        self.push_scope();
        for ((p, &ty), &v) in decl.params.iter().zip(&info.params).zip(args) {
            self.vars.push(Var {
                name: p.name.name.clone(),
                ty,
                storage: Storage::Ssa(Some(v)),
            });
        }
        for stmt in &decl.body.stmts {
            self.stmt(stmt);
        }
        if !self.terminated {
            let end = Span {
                lo: decl.body.span.hi.saturating_sub(1),
                hi: decl.body.span.hi,
            };
            match ret {
                Ty::Void => self.jump(join, vec![], end),
                // Reported as P0203 where the callee itself is lowered.
                _ => self.terminate(Terminator::Raise(ExcKind::RangeError), end),
            }
        }
        self.pop_scope();
        self.inlining.pop();
        (self.var_base, self.this, self.spans) = saved;
        self.place_label(join, false);
        match result {
            Some(var) => {
                let val = match self.vars[var].storage {
                    Storage::Ssa(Some(v)) => Val::Value(v, ret),
                    _ => self.placeholder(ret, span).map_or(Val::Error, |v| Val::Value(v, ret)),
                };
                self.vars.truncate(var);
                val
            }
            None => Val::Void,
        }
    }

    /// `min(a, b)`, `max(a, b)`, `abs(a)` and `clamp(x, lo, hi)` on `int`s,
    /// where the program defines no function of that name: comparisons and
    /// selects (a branch to a join, which code generation turns into a
    /// conditional move). `abs(MIN)` raises `Overflow`, as `-MIN` does;
    /// `clamp(x, lo, hi)` is `min(max(x, lo), hi)`, so `hi` when `lo > hi`.
    fn int_builtin(&mut self, name: &ast::Ident, args: &[Expr], span: Span) -> Val {
        let n = match name.name.as_str() {
            "abs" => 1,
            "clamp" => 3,
            _ => 2,
        };
        if !self.arity(name, args, n) {
            return Val::Error;
        }
        let values: Vec<Option<ValueId>> = args.iter().map(|a| self.int(a)).collect();
        let Some(v) = values.into_iter().collect::<Option<Vec<ValueId>>>() else {
            return Val::Error;
        };
        let result = match name.name.as_str() {
            "min" => self.select_if(Cond::Lt, v[0], v[1], span),
            "max" => self.select_if(Cond::Gt, v[0], v[1], span),
            "abs" => {
                let zero = self.iconst(0, span);
                let negated = self.value(
                    InstKind::Unary {
                        op: UnaryOp::Neg,
                        arg: v[0],
                    },
                    span,
                    Raises::One(ExcKind::Overflow),
                );
                let negative = self.value(
                    InstKind::Icmp {
                        cond: Cond::Lt,
                        lhs: v[0],
                        rhs: zero,
                    },
                    span,
                    Raises::Nothing,
                );
                self.select(negative, negated, v[0], span)
            }
            _ => {
                // `hi` crosses the first join as a block argument: values
                // are block scoped.
                let c = self.value(
                    InstKind::Icmp {
                        cond: Cond::Gt,
                        lhs: v[0],
                        rhs: v[1],
                    },
                    span,
                    Raises::Nothing,
                );
                let joined = self.select_carrying(c, v[0], v[1], &[v[2]], span);
                self.select_if(Cond::Lt, joined[0], joined[1], span)
            }
        };
        Val::Value(result, Ty::Int)
    }

    /// `a COND b ? a : b`.
    fn select_if(&mut self, cond: Cond, a: ValueId, b: ValueId, span: Span) -> ValueId {
        let c = self.value(InstKind::Icmp { cond, lhs: a, rhs: b }, span, Raises::Nothing);
        self.select(c, a, b, span)
    }

    /// `c ? a : b` for `int`s: a branch on `c` to a join that takes `a` or `b`.
    fn select(&mut self, c: ValueId, a: ValueId, b: ValueId, span: Span) -> ValueId {
        self.select_carrying(c, a, b, &[], span)[0]
    }

    /// [`Self::select`], the join also taking the `int`s `carry` (which
    /// code after it uses): the selected value, then `carry`'s in the join.
    fn select_carrying(&mut self, c: ValueId, a: ValueId, b: ValueId, carry: &[ValueId], span: Span) -> Vec<ValueId> {
        let join = self.new_label();
        self.labels[join.0].extra = vec![Type::I64; 1 + carry.len()];
        self.ensure_open();
        let then_to = self.target(join, Edge::Then, [&[a], carry].concat());
        let else_to = self.target(join, Edge::Else, [&[b], carry].concat());
        self.terminate(
            Terminator::Brif {
                cond: c,
                then_to,
                else_to,
            },
            span,
        );
        self.place_label(join, false)
    }

    fn arity(&mut self, name: &ast::Ident, args: &[Expr], n: usize) -> bool {
        if args.len() == n {
            return true;
        }
        self.error(
            "P0202",
            name.span,
            format!("`{}` takes {n} argument{}, given {}", name.name, plural(n), args.len()),
        );
        false
    }

    /// The capability argument of an API call and its class.
    fn cap_arg(&mut self, arg: &Expr, what: &str) -> Option<(ValueId, ClassId)> {
        let found = match self.expr(arg) {
            Val::Value(v, Ty::Cap(c)) => return Some((v, c)),
            Val::Value(_, Ty::Error) | Val::Error => return None,
            Val::Value(_, t) => t,
            Val::Struct(s) => Ty::Struct(s),
            Val::Void => {
                self.error("P0207", arg.span, "this call returns nothing");
                return None;
            }
        };
        let t = self.name(found);
        let code = if matches!(found, Ty::Int | Ty::Bool) {
            "P0316"
        } else {
            "P0201"
        };
        self.error(
            code,
            arg.span,
            format!("`{what}` needs a capability `cap<class>`, found `{t}`"),
        );
        None
    }

    /// A string-literal name argument.
    fn name_arg<'x>(&mut self, arg: &'x Expr, what: &str) -> Option<&'x str> {
        match &arg.kind {
            ExprKind::Str(s) => Some(s),
            _ => {
                self.expr(arg);
                self.diags.push(
                    Diagnostic::error("P0107", arg.span, format!("the {what} name must be a string literal"))
                        .with_help("names are checked at compile time against the class, so they cannot be computed"),
                );
                None
            }
        }
    }

    fn attribute_call(&mut self, name: &ast::Ident, args: &[Expr], span: Span) -> Val {
        let set = name.name == "set_attribute";
        if !self.arity(name, args, if set { 3 } else { 2 }) {
            return Val::Error;
        }
        let cap = self.cap_arg(&args[0], &name.name);
        let attr_name = self.name_arg(&args[1], "attribute");
        let (cap, value) = match (cap, set) {
            (Some((v, class)), true) => {
                let held = self.hold(Val::Value(v, Ty::Cap(class)));
                let value = self.expr(&args[2]);
                match self.take(held) {
                    Val::Value(v, _) => (Some((v, class)), Some(value)),
                    _ => (None, Some(value)),
                }
            }
            (None, true) => (None, Some(self.expr(&args[2]))),
            (cap, false) => (cap, None),
        };
        let (Some((cap, class)), Some(attr_name)) = (cap, attr_name) else {
            return Val::Error;
        };
        let Some((index, attr)) = self.env.attr(class, attr_name) else {
            let class_name = &self.env.classes[class.index()].name;
            let names: Vec<&str> = self.env.classes[class.index()]
                .attrs
                .iter()
                .map(|a| a.name.as_str())
                .collect();
            let d = Diagnostic::error(
                "P0104",
                args[1].span,
                format!(
                    "class `{class_name}` has no attribute \"{attr_name}\"{}",
                    crate::suggest::did_you_mean(attr_name, names.iter().copied())
                ),
            )
            .with_help(format!("its attributes are: {}", names.join(", ")));
            self.diags.push(d);
            return Val::Error;
        };
        let attr_ref = AttrRef { class, attr: index };
        let (attr_ty, readonly, range) = (attr.ty, attr.readonly, attr.range);
        if !set {
            let kind = InstKind::Helper {
                id: helper_id("get_attribute"),
                args: vec![HelperArg::Value(cap), HelperArg::Attr(attr_ref)],
                result: true,
            };
            return Val::Value(self.value(kind, span, Raises::Nothing), attr_ty);
        }
        if readonly {
            self.diags.push(
                Diagnostic::error("P0311", args[1].span, format!("attribute \"{attr_name}\" is read-only"))
                    .with_help("read-only attributes report the system's state; the service manager owns them"),
            );
            return Val::Error;
        }
        if self.env.funcs[self.this].decl.kind != AstKind::Plain && !self.rights.contains(Rights::WRITE) {
            self.diags.push(
                Diagnostic::error("P0317", name.span, "a guard cannot write attributes")
                    .with_help("a guard returns the value to store; a write from a guard would run guards again"),
            );
            return Val::Error;
        }
        let (v, t) = match value {
            Some(Val::Value(v, t)) => (v, t),
            Some(Val::Struct(s)) => {
                self.mismatch(args[2].span, attr_ty, Ty::Struct(s));
                return Val::Error;
            }
            Some(Val::Void) => {
                self.error(
                    "P0207",
                    args[2].span,
                    "this call returns nothing; its value cannot be used",
                );
                return Val::Error;
            }
            _ => return Val::Error,
        };
        if t != attr_ty {
            if t != Ty::Error {
                self.mismatch(args[2].span, attr_ty, t);
            }
            return Val::Error;
        }
        let v = match range {
            Some((lo, hi)) => {
                if let Ok(Const::Int(n)) = self.try_const_here(&args[2])
                    && !(lo..=hi).contains(&n)
                {
                    self.diags.push(Diagnostic::error(
                        "P0312",
                        args[2].span,
                        format!("{n} is outside the range {lo}..={hi} of \"{attr_name}\""),
                    ));
                    return Val::Error;
                }
                self.value(
                    InstKind::CheckRange {
                        value: v,
                        attr: attr_ref,
                    },
                    args[2].span,
                    Raises::One(ExcKind::RangeError),
                )
            }
            None => v,
        };
        let kind = InstKind::Helper {
            id: helper_id("set_attribute"),
            args: vec![HelperArg::Value(cap), HelperArg::Attr(attr_ref), HelperArg::Value(v)],
            result: false,
        };
        self.emit(kind, span, Raises::Nothing);
        Val::Void
    }

    fn raise_event(&mut self, args: &[Expr], span: Span) -> Val {
        let name = ast::Ident {
            name: "raise_event".into(),
            span,
        };
        // An event without a value (`raise_event("Tick")`) carries 0.
        if !(1..=2).contains(&args.len()) {
            self.error(
                "P0202",
                name.span,
                format!(
                    "`raise_event` takes 1 or 2 arguments (an event, and a value), given {}",
                    args.len()
                ),
            );
            return Val::Error;
        }
        let event = self.name_arg(&args[0], "event");
        let value = match args.get(1) {
            Some(arg) => self.int(arg),
            None => Some(self.iconst(0, span)),
        };
        let Some(event) = event else { return Val::Error };
        let Some(&id) = self.env.event_names.get(event) else {
            self.diags.push(
                Diagnostic::error(
                    "P0105",
                    args[0].span,
                    format!("unknown event \"{event}\"{}", self.similar_event(event)),
                )
                .with_help("events are declared with `event NAME;` or come from an import"),
            );
            return Val::Error;
        };
        let Some(value) = value else { return Val::Error };
        let e = self.value(InstKind::Event(id), args[0].span, Raises::Nothing);
        let kind = InstKind::Helper {
            id: helper_id("raise_event"),
            args: vec![HelperArg::Value(e), HelperArg::Value(value)],
            result: false,
        };
        self.emit(kind, span, Raises::Nothing);
        Val::Void
    }

    fn block_call(&mut self, name: &ast::Ident, args: &[Expr], span: Span) -> Val {
        if !self.arity(name, args, 1) {
            return Val::Error;
        }
        let cap = self.cap_arg(&args[0], "block");
        let in_stdlib = self.env.stdlib || self.env.funcs[self.this].origin == Origin::Stdlib;
        if !in_stdlib || !self.rights.contains(Rights::GUARD) {
            self.diags.push(
                Diagnostic::error(
                    "P0314",
                    name.span,
                    "`block()` is the guard-only API of the standard library",
                )
                .with_help("only the service manager's guards may block an application"),
            );
            return Val::Error;
        }
        let Some((cap, _)) = cap else { return Val::Error };
        let kind = InstKind::Helper {
            id: helper_id("block"),
            args: vec![HelperArg::Value(cap)],
            result: false,
        };
        self.emit(kind, span, Raises::Nothing);
        Val::Void
    }

    fn size(&mut self, name: &ast::Ident, args: &[Expr], span: Span) -> Val {
        if !self.arity(name, args, 1) {
            return Val::Error;
        }
        let ExprKind::Var(n) = &args[0].kind else {
            self.expr(&args[0]);
            self.error("P0209", args[0].span, "`size` takes the name of an array");
            return Val::Error;
        };
        match self.root(n) {
            Some((root, Ty::Array { .. })) => {
                Val::Value(self.value(InstKind::Size(root), span, Raises::Nothing), Ty::Int)
            }
            Some((_, ty)) => {
                let t = self.name(ty);
                self.error("P0209", args[0].span, format!("`size` of `{t}`, which is not an array"));
                Val::Error
            }
            None => Val::Error,
        }
    }
}

/// `x op y` as a constant expression, for folding with `Env::try_const`.
fn const_expr(op: BinOp, x: i64, y: i64, span: Span) -> Expr {
    let lit = |n: i64| {
        let abs = Expr {
            kind: ExprKind::Int(n.unsigned_abs()),
            span,
        };
        if n < 0 {
            Expr {
                kind: ExprKind::Unary(UnOp::Neg, Box::new(abs)),
                span,
            }
        } else {
            abs
        }
    };
    Expr {
        kind: ExprKind::Binary(op, Box::new(lit(x)), Box::new(lit(y))),
        span,
    }
}

/// The whole object `root`.
fn whole(root: Root) -> Place {
    Place {
        root,
        index: None,
        fields: vec![],
    }
}

/// Whether evaluating an expression has no effect but reads and checks
/// (which may raise) and stays in its block: no call, assignment, `++`,
/// `--`, `&&` or `||`.
fn quiet(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Int(_) | ExprKind::Bool(_) | ExprKind::Var(_) => true,
        ExprKind::Unary(_, a) | ExprKind::Field(a, _) => quiet(a),
        ExprKind::Binary(BinOp::And | BinOp::Or, ..) => false,
        ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) => quiet(a) && quiet(b),
        _ => false,
    }
}

fn helper_id(name: &str) -> u16 {
    stdlib::helper_by_name(name).expect("the SafeX API helper exists").id
}

fn bitwise(op: BinOp) -> BinaryOp {
    match op {
        BinOp::BitAnd => BinaryOp::And,
        BinOp::BitOr => BinaryOp::Or,
        _ => BinaryOp::Xor,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn init_span(init: &Init) -> Span {
    match init {
        Init::Expr(e) => e.span,
        Init::List(_, s) => *s,
    }
}
