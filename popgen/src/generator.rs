//! The program generator: declarations, functions, statements, expressions.
//!
//! Well-typedness is by construction, never by filtering: every choice is
//! made among alternatives that are valid in the current context (names in
//! scope, types, whether we are in a loop, what may be called). The rules it
//! keeps, beyond plain typing, are listed in the crate documentation.

use crate::choice::{Choices, Source};
use crate::expr::{Arg, Bin, Expr, Un};
use crate::{Features, GenConfig, Program};
use std::fmt::Write;

/// The built-in exceptions `try … handle` can name and `raise` can raise.
pub(crate) const EXCEPTIONS: [&str; 4] = ["DivideByZero", "OutOfBounds", "Overflow", "RangeError"];
/// The attributes of `cpu_qos` (all readable).
pub(crate) const ATTRS: [&str; 6] = [
    "period",
    "target_cpu",
    "actual_cpu",
    "target_util",
    "avg_util_2p",
    "timeslice_adjustment",
];
/// The one writable attribute, and its range.
pub(crate) const WRITE_ATTR: &str = "timeslice_adjustment";
const ADJ_RANGE: (i64, i64) = (-1_000_000, 1_000_000);
/// Rough cap on the values one TAL block of a function may hold (locals in
/// scope plus two per expression node of a straight-line run), so that with
/// at most `max_call_depth + 1` frames the verifier's 4 KiB stack model holds.
const SEG_CAP: usize = 64;
/// A function calls only the previous this-many functions (keeps large
/// extensions linear to generate).
const CALL_WINDOW: usize = 32;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) enum Ty {
    Int,
    Bool,
    #[default]
    Void,
}

impl Ty {
    fn text(self) -> &'static str {
        match self {
            Ty::Int => "int",
            Ty::Bool => "bool",
            Ty::Void => "void",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PTy {
    Int,
    Bool,
    Array,
}

pub(crate) struct FnSig {
    pub(crate) name: String,
    pub(crate) ret: Ty,
    pub(crate) params: Vec<PTy>,
    /// Frames of its deepest call chain, itself included.
    pub(crate) depth: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum LKind {
    /// A mutable int local or parameter.
    Int,
    Bool,
    /// A loop counter: readable, never written by generated code.
    Counter,
    /// An `int a[]` parameter.
    Array,
}

struct Local {
    name: String,
    kind: LKind,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum Entry {
    #[default]
    None,
    Monitor,
    Handler,
}

#[derive(Default)]
struct FnState {
    ret: Ty,
    entry: Entry,
    scopes: Vec<Vec<Local>>,
    next: usize,
    loops: usize,
    stmts_left: usize,
    /// Estimated values of the current straight-line run.
    seg: usize,
    callable: Vec<usize>,
    callee_depth: usize,
}

pub(crate) struct StructInfo {
    pub(crate) ints: Vec<&'static str>,
    pub(crate) bools: Vec<&'static str>,
    pub(crate) global: &'static str,
    pub(crate) array: &'static str,
    pub(crate) len: usize,
}

#[derive(Default)]
pub(crate) struct Globals {
    pub(crate) consts: Vec<(String, i64)>,
    pub(crate) ints: Vec<String>,
    pub(crate) bools: Vec<String>,
    pub(crate) arrays: Vec<(String, usize)>,
    pub(crate) strukt: Option<StructInfo>,
}

/// A simple (one-line) statement.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Simple {
    Assign,
    Compound,
    IncDec,
    CallVoid,
    SetAttr,
    RaiseEvent,
    Return,
    Raise,
    Break,
    Continue,
}

pub(crate) struct Gen<'a> {
    pub(crate) src: Choices<'a>,
    pub(crate) cfg: GenConfig,
    pub(crate) g: Globals,
    pub(crate) funcs: Vec<FnSig>,
    pub(crate) out: String,
    pub(crate) features: Features,
    indent: usize,
    /// While positive, no calls are generated (lvalue index expressions).
    no_calls: usize,
    f: FnState,
}

/// Generates one program from `source`; returns it with the choice record
/// and the deletable spans (see [`Choices`]).
pub(crate) fn generate(cfg: &GenConfig, source: Source<'_>) -> (Program, Vec<u32>, Vec<(usize, usize)>) {
    let mut g = Gen::new(Choices::new(source), cfg.clone());
    g.header("gen");
    g.helpers();
    // Decided before the monitor, which then raises the handler's event.
    let s = g.src.mark();
    let with_handler = cfg.with_handler && g.src.chance(50);
    g.src.span(s);
    g.monitor(with_handler);
    let mut handler = None;
    if with_handler {
        g.handler();
        handler = Some("h".to_string());
    }
    let program = Program {
        source: g.out,
        entry: "run".to_string(),
        handler,
        functions: g.funcs.iter().map(|f| f.name.clone()).collect(),
        features: g.features,
    };
    (program, g.src.record, g.src.spans)
}

impl<'a> Gen<'a> {
    pub(crate) fn new(src: Choices<'a>, cfg: GenConfig) -> Self {
        Gen {
            src,
            cfg,
            g: Globals::default(),
            funcs: Vec::new(),
            out: String::new(),
            features: Features::default(),
            indent: 0,
            no_calls: 0,
            f: FnState::default(),
        }
    }

    // ---- output ------------------------------------------------------

    fn pad(&mut self) {
        for _ in 0..self.indent {
            self.out.push_str("    ");
        }
    }

    /// A whole line at the current indentation.
    pub(crate) fn line(&mut self, s: &str) {
        self.pad();
        self.out.push_str(s);
        self.out.push('\n');
    }

    /// Starts a line at the current indentation, without ending it.
    fn open(&mut self, s: &str) {
        self.pad();
        self.out.push_str(s);
    }

    fn push(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn nl(&mut self) {
        self.out.push('\n');
    }

    // ---- scopes ------------------------------------------------------

    fn locals_of(&self, kinds: &[LKind]) -> Vec<String> {
        self.f
            .scopes
            .iter()
            .flatten()
            .filter(|l| kinds.contains(&l.kind))
            .map(|l| l.name.clone())
            .collect()
    }

    fn locals_count(&self) -> usize {
        self.f.scopes.iter().map(Vec::len).sum()
    }

    fn fresh(&mut self, prefix: &str) -> String {
        let n = self.f.next;
        self.f.next += 1;
        format!("{prefix}{n}")
    }

    fn declare(&mut self, name: String, kind: LKind) {
        self.f.scopes.last_mut().expect("a scope").push(Local { name, kind });
    }

    /// Whether the current function has `app` and may use the SafeX API.
    fn attrs(&self) -> bool {
        self.f.entry != Entry::None && self.cfg.with_attributes
    }

    fn can_call(&self, ret: Ty) -> bool {
        self.no_calls == 0 && self.f.callable.iter().any(|&j| self.funcs[j].ret == ret)
    }

    fn pick_from(&mut self, names: &[String]) -> String {
        names[self.src.below(names.len())].clone()
    }

    /// Arrays readable here: global int arrays (length known) and array
    /// parameters (length unknown).
    fn arrays(&self) -> Vec<(String, Option<usize>)> {
        let mut v: Vec<(String, Option<usize>)> = self.g.arrays.iter().map(|(n, l)| (n.clone(), Some(*l))).collect();
        v.extend(self.locals_of(&[LKind::Array]).into_iter().map(|n| (n, None)));
        v
    }

    fn begin_fn(&mut self, ret: Ty, entry: Entry, params: Vec<Local>, callable: Vec<usize>) {
        self.f = FnState {
            ret,
            entry,
            scopes: vec![params],
            stmts_left: self.cfg.max_stmts_per_function,
            callable,
            ..FnState::default()
        };
    }

    // ---- declarations --------------------------------------------------

    fn global_lit(&mut self) -> i64 {
        match self.src.pick(&[60, 20, 15, 5]) {
            0 => self.src.below(10) as i64,
            1 => self.src.range(10, 1000) as i64,
            2 => -(self.src.range(1, 100) as i64),
            _ => [i64::MAX, 1 << 40, 1_000_000][self.src.below(3)],
        }
    }

    pub(crate) fn header(&mut self, name: &str) {
        let _ = writeln!(self.out, "extension {name};");
        self.out.push_str("import cpu;\n");
        if let Some(b) = self.cfg.budget {
            let _ = writeln!(self.out, "budget {b};");
        }
        self.out.push('\n');
        for i in 0..self.src.range(1, 3) {
            let v = match self.src.pick(&[60, 20, 10, 10]) {
                0 => self.src.range(1, 16) as i64,
                1 => self.src.below(1001) as i64,
                2 => -(self.src.range(1, 50) as i64),
                _ => [i64::MAX, 1 << 40, 1_000_000][self.src.below(3)],
            };
            let _ = writeln!(self.out, "const int K{i} = {};", Expr::int(v));
            self.g.consts.push((format!("K{i}"), v));
        }
        if self.cfg.with_structs {
            let ints = ["fx", "fy", "fz"][..self.src.range(1, 3)].to_vec();
            let bools = if self.src.chance(60) { vec!["fok"] } else { vec![] };
            let len = self.src.range(1, self.cfg.max_array_len.max(1));
            self.out.push_str("\nstruct rec {\n");
            for f in &ints {
                let _ = writeln!(self.out, "    int {f};");
            }
            for f in &bools {
                let _ = writeln!(self.out, "    bool {f};");
            }
            self.out.push_str("};\n");
            let _ = writeln!(self.out, "struct rec gs;\nstruct rec gps[{len}];");
            self.g.strukt = Some(StructInfo {
                ints,
                bools,
                global: "gs",
                array: "gps",
                len,
            });
        }
        self.out.push('\n');
        for i in 0..self.src.range(1, 3) {
            let v = self.global_lit();
            let _ = writeln!(self.out, "int g{i} = {};", Expr::int(v));
            self.g.ints.push(format!("g{i}"));
        }
        for i in 0..self.src.range(1, 2) {
            let v = self.src.chance(50);
            let _ = writeln!(self.out, "bool gb{i} = {v};");
            self.g.bools.push(format!("gb{i}"));
        }
        for i in 0..self.src.range(1, 3) {
            let len = self.src.range(1, self.cfg.max_array_len.max(1));
            if self.src.chance(50) {
                let items: Vec<String> = (0..len).map(|_| Expr::int(self.global_lit()).to_string()).collect();
                let _ = writeln!(self.out, "int arr{i}[{len}] = {{{}}};", items.join(", "));
            } else {
                let _ = writeln!(self.out, "int arr{i}[{len}];");
            }
            self.g.arrays.push((format!("arr{i}"), len));
        }
        self.out.push('\n');
    }

    /// Helper functions `f0`, `f1`, …: each calls only earlier ones.
    fn helpers(&mut self) {
        for k in 0..self.cfg.max_functions {
            let s = self.src.mark();
            if !self.src.chance(if k == 0 { 97 } else { 70 }) {
                break;
            }
            let name = format!("f{}", self.funcs.len());
            self.helper(name);
            self.src.span(s);
        }
    }

    fn callable_from_helper(&self) -> Vec<usize> {
        let k = self.funcs.len();
        (k.saturating_sub(CALL_WINDOW)..k)
            .filter(|&j| self.funcs[j].depth < self.cfg.max_call_depth)
            .collect()
    }

    fn callable_from_entry(&self) -> Vec<usize> {
        let k = self.funcs.len();
        (k.saturating_sub(CALL_WINDOW)..k)
            .filter(|&j| self.funcs[j].depth <= self.cfg.max_call_depth)
            .collect()
    }

    /// Registers a function written by hand (the large extension's templates).
    pub(crate) fn add_fn(&mut self, name: String, ret: Ty, params: Vec<PTy>) {
        self.funcs.push(FnSig {
            name,
            ret,
            params,
            depth: 1,
        });
    }

    pub(crate) fn helper(&mut self, name: String) {
        let ret = [Ty::Int, Ty::Bool, Ty::Void][self.src.pick(&[45, 20, 35])];
        let mut params = Vec::new();
        let mut locals = Vec::new();
        let mut text = Vec::new();
        for i in 0..self.src.below(self.cfg.max_params + 1) {
            let (p, l) = match self.src.pick(&[70, 20, 10]) {
                0 => (
                    PTy::Int,
                    Local {
                        name: format!("p{i}"),
                        kind: LKind::Int,
                    },
                ),
                1 => (
                    PTy::Array,
                    Local {
                        name: format!("a{i}"),
                        kind: LKind::Array,
                    },
                ),
                _ => (
                    PTy::Bool,
                    Local {
                        name: format!("q{i}"),
                        kind: LKind::Bool,
                    },
                ),
            };
            text.push(match p {
                PTy::Int => format!("int {}", l.name),
                PTy::Bool => format!("bool {}", l.name),
                PTy::Array => format!("int {}[]", l.name),
            });
            if p == PTy::Array {
                self.features.array_params = true;
            }
            params.push(p);
            locals.push(l);
        }
        let callable = self.callable_from_helper();
        self.begin_fn(ret, Entry::None, locals, callable);
        let _ = writeln!(self.out, "{} {name}({}) {{", ret.text(), text.join(", "));
        self.fn_body();
        self.out.push_str("}\n\n");
        let depth = 1 + self.f.callee_depth;
        self.funcs.push(FnSig {
            name,
            ret,
            params,
            depth,
        });
    }

    fn fn_body(&mut self) {
        self.indent = 1;
        let diverged = self.block_stmts(0, true);
        if !diverged && self.f.ret != Ty::Void {
            let e = self.expr_of(self.f.ret);
            self.line(&format!("return {e};"));
        }
        self.indent = 0;
    }

    /// The entry point `run`; with `raises`, it raises "Error" (for the
    /// handler) right after its first calls.
    pub(crate) fn monitor(&mut self, raises: bool) {
        let callable = self.callable_from_entry();
        self.begin_fn(Ty::Void, Entry::Monitor, Vec::new(), callable);
        self.out.push_str("monitor void run(cap<cpu_qos> app) {\n");
        self.indent = 1;
        if self.cfg.with_attributes {
            let s = self.src.mark();
            if self.src.chance(60) {
                let attr = ATTRS[self.src.below(ATTRS.len())];
                let v = self.fresh("v");
                self.line(&format!("int {v} = get_attribute(app, \"{attr}\");"));
                self.declare(v, LKind::Int);
                self.features.get_attribute = true;
            }
            self.src.span(s);
        }
        for n in 0..3 {
            let s = self.src.mark();
            if self.f.callable.is_empty() || !self.src.chance(if n == 0 { 90 } else { 50 }) {
                break;
            }
            let j = self.f.callable[self.src.below(self.f.callable.len())];
            let ret = self.funcs[j].ret;
            let call = self.call_of(j, self.cfg.max_expr_depth);
            match ret {
                Ty::Int => {
                    let v = self.fresh("v");
                    self.line(&format!("int {v} = {call};"));
                    self.declare(v, LKind::Int);
                }
                Ty::Bool => {
                    let v = self.fresh("b");
                    self.line(&format!("bool {v} = {call};"));
                    self.declare(v, LKind::Bool);
                }
                Ty::Void => self.line(&format!("{call};")),
            }
            self.src.span(s);
        }
        if raises && self.cfg.with_attributes {
            let text = self.simple(Simple::RaiseEvent);
            self.line(&text);
        }
        let diverged = self.block_stmts(0, true);
        if !diverged && self.cfg.with_attributes {
            for (kind, percent) in [(Simple::SetAttr, 50), (Simple::RaiseEvent, 40)] {
                let s = self.src.mark();
                if self.src.chance(percent) {
                    let text = self.simple(kind);
                    self.line(&text);
                }
                self.src.span(s);
            }
        }
        self.indent = 0;
        self.out.push_str("}\n");
    }

    pub(crate) fn handler(&mut self) {
        let callable = self.callable_from_entry();
        let params = vec![Local {
            name: "ev".into(),
            kind: LKind::Int,
        }];
        self.begin_fn(Ty::Void, Entry::Handler, params, callable);
        self.out
            .push_str("\nhandler void h(cap<cpu_qos> app, int ev) on \"Error\" {\n");
        self.features.handler = true;
        self.fn_body();
        self.out.push_str("}\n");
    }

    // ---- statements ----------------------------------------------------

    /// The statements of a block (braces written by the caller). Returns
    /// whether the block never completes normally (it ends in `return`,
    /// `raise`, `break`, `continue`, or an if/else that does on both sides);
    /// nothing is generated after such a statement, so no code is
    /// unreachable. With `may_diverge` false the block always completes.
    fn block_stmts(&mut self, depth: usize, may_diverge: bool) -> bool {
        let more = if depth == 0 { 80 } else { 60 };
        let mut n = 0;
        while n < self.cfg.max_stmts_per_block && self.f.stmts_left > 0 && self.f.seg + self.locals_count() <= SEG_CAP {
            let s = self.src.mark();
            if !self.src.chance(if n == 0 { 95 } else { more }) {
                break;
            }
            self.f.stmts_left -= 1;
            let diverged = self.stmt(depth, may_diverge);
            self.src.span(s);
            n += 1;
            if diverged {
                return true;
            }
        }
        false
    }

    fn stmt(&mut self, depth: usize, may_diverge: bool) -> bool {
        let nest = depth < self.cfg.max_depth;
        let in_loop = self.f.loops > 0;
        let attrs = self.attrs();
        let exc = self.cfg.with_exceptions;
        let weights = [
            14,                                                           // 0 assignment
            16,                                                           // 1 int local
            4,                                                            // 2 bool local
            8,                                                            // 3 compound assignment
            5,                                                            // 4 ++ / --
            if self.can_call(Ty::Void) { 6 } else { 0 },                  // 5 call statement
            1,                                                            // 6 empty statement
            if attrs { 4 } else { 0 },                                    // 7 set_attribute
            if attrs && self.f.entry == Entry::Monitor { 3 } else { 0 },  // 8 raise_event
            if nest { 12 } else { 0 },                                    // 9 if
            if nest && self.cfg.with_loops { 10 } else { 0 },             // 10 loop
            if nest && exc { 6 } else { 0 },                              // 11 try
            if nest { 2 } else { 0 },                                     // 12 block
            if in_loop { 5 } else { 0 },                                  // 13 if (…) break/continue
            if may_diverge { 1 + usize::from(depth > 0) } else { 0 },     // 14 return
            if may_diverge && exc && depth > 0 { 2 } else { 0 },          // 15 raise
            if may_diverge && in_loop { 1 } else { 0 },                   // 16 break/continue
            if self.locals_of(&[LKind::Int]).is_empty() { 0 } else { 4 }, // 17 choice
        ];
        let simple = |g: &mut Self, k: Simple| {
            let text = g.simple(k);
            g.line(&text);
        };
        match self.src.pick(&weights) {
            0 => simple(self, Simple::Assign),
            1 => {
                let e = self.int_expr(self.cfg.max_expr_depth);
                let v = self.fresh("v");
                self.line(&format!("int {v} = {e};"));
                self.declare(v, LKind::Int);
            }
            2 => {
                let e = self.bool_expr(self.cfg.max_expr_depth);
                let v = self.fresh("b");
                self.line(&format!("bool {v} = {e};"));
                self.declare(v, LKind::Bool);
            }
            3 => simple(self, Simple::Compound),
            4 => simple(self, Simple::IncDec),
            5 => simple(self, Simple::CallVoid),
            6 => self.line(";"),
            7 => simple(self, Simple::SetAttr),
            8 => simple(self, Simple::RaiseEvent),
            9 => {
                let d = self.if_stmt(depth, may_diverge, false);
                self.nl();
                self.f.seg = 0;
                return d;
            }
            10 => self.loop_stmt(depth),
            11 => self.try_stmt(depth),
            12 => {
                self.open("{\n");
                self.f.scopes.push(Vec::new());
                self.indent += 1;
                let d = self.block_stmts(depth + 1, may_diverge);
                self.indent -= 1;
                self.f.scopes.pop();
                self.line("}");
                return d;
            }
            13 => self.cond_exit(),
            14 => {
                simple(self, Simple::Return);
                return true;
            }
            15 => {
                simple(self, Simple::Raise);
                return true;
            }
            17 => self.choice(),
            _ => {
                let k = if self.src.chance(50) {
                    Simple::Continue
                } else {
                    Simple::Break
                };
                simple(self, k);
                return true;
            }
        }
        false
    }

    fn simple(&mut self, k: Simple) -> String {
        let ed = self.cfg.max_expr_depth;
        match k {
            Simple::Assign => {
                if self.src.chance(20) {
                    let lv = self.bool_lvalue();
                    let e = self.bool_expr(ed);
                    format!("{lv} = {e};")
                } else {
                    let lv = self.int_lvalue();
                    let e = self.int_expr(ed);
                    format!("{lv} = {e};")
                }
            }
            Simple::Compound => {
                const OPS: [Bin; 10] = [
                    Bin::Add,
                    Bin::Sub,
                    Bin::Mul,
                    Bin::Div,
                    Bin::Rem,
                    Bin::Shl,
                    Bin::Shr,
                    Bin::BitAnd,
                    Bin::BitOr,
                    Bin::BitXor,
                ];
                let op = OPS[self.src.pick(&[20, 15, 10, 8, 6, 3, 3, 4, 4, 3])];
                let lv = self.int_lvalue();
                let e = self.rhs(op, ed.saturating_sub(1));
                format!("{lv} {}= {e};", op.text())
            }
            Simple::IncDec => {
                let lv = self.int_lvalue();
                match self.src.below(4) {
                    0 => format!("{lv}++;"),
                    1 => format!("++{lv};"),
                    2 => format!("{lv}--;"),
                    _ => format!("--{lv};"),
                }
            }
            Simple::CallVoid => format!("{};", self.call(Ty::Void, ed)),
            Simple::SetAttr => {
                let e = self.int_expr(ed);
                let e = if e.is_const() {
                    match e.eval() {
                        Ok(v) if (ADJ_RANGE.0..=ADJ_RANGE.1).contains(&v) => e,
                        _ => Expr::int(self.src.below(2001) as i64 - 1000),
                    }
                } else {
                    e
                };
                self.features.set_attribute = true;
                format!("set_attribute(app, \"{WRITE_ATTR}\", {e});")
            }
            Simple::RaiseEvent => {
                let e = self.int_expr(ed);
                self.features.raise_event = true;
                format!("raise_event(\"Error\", {e});")
            }
            Simple::Return => match self.f.ret {
                Ty::Void => "return;".to_string(),
                ret => format!("return {};", self.expr_of(ret)),
            },
            Simple::Raise => {
                self.features.raise = true;
                format!("raise {};", EXCEPTIONS[self.src.below(EXCEPTIONS.len())])
            }
            Simple::Break => {
                self.features.break_stmt = true;
                "break;".to_string()
            }
            Simple::Continue => {
                self.features.continue_stmt = true;
                "continue;".to_string()
            }
        }
    }

    /// A braced block, from `{` (the caller has written what precedes it) to
    /// `}` (not followed by a newline).
    fn braced(&mut self, depth: usize, may_diverge: bool, prelude: Option<String>) -> bool {
        self.push("{\n");
        self.indent += 1;
        self.f.scopes.push(Vec::new());
        if let Some(p) = prelude {
            self.line(&p);
        }
        self.f.seg = 0;
        let d = self.block_stmts(depth + 1, may_diverge);
        self.f.scopes.pop();
        self.indent -= 1;
        self.open("}");
        self.f.seg = 0;
        d
    }

    /// The body of an `if`, `else` or loop, after its head: a braced block,
    /// or sometimes one simple statement on the next line. Returns whether it
    /// diverges and whether it was braced.
    fn body(&mut self, depth: usize, may_diverge: bool) -> (bool, bool) {
        if self.src.chance(20) {
            let in_loop = self.f.loops > 0;
            let attrs = self.attrs();
            let exc = self.cfg.with_exceptions;
            let kinds = [
                (Simple::Assign, 10),
                (Simple::Compound, 5),
                (Simple::IncDec, 3),
                (Simple::CallVoid, if self.can_call(Ty::Void) { 3 } else { 0 }),
                (Simple::SetAttr, if attrs { 2 } else { 0 }),
                (Simple::Return, if may_diverge { 4 } else { 0 }),
                (Simple::Raise, if may_diverge && exc { 2 } else { 0 }),
                (Simple::Break, if in_loop && may_diverge { 2 } else { 0 }),
                (Simple::Continue, if in_loop && may_diverge { 2 } else { 0 }),
            ];
            let k = kinds[self.src.pick(&kinds.map(|k| k.1))].0;
            let text = self.simple(k);
            self.nl();
            self.indent += 1;
            self.open(&text);
            self.indent -= 1;
            let d = matches!(k, Simple::Return | Simple::Raise | Simple::Break | Simple::Continue);
            (d, false)
        } else {
            self.push(" ");
            (self.braced(depth, may_diverge, None), true)
        }
    }

    /// `if (…) … [else …]`, not followed by a newline. With `inline`, the
    /// `if` continues the current line (after `else `).
    fn if_stmt(&mut self, depth: usize, may_diverge: bool, inline: bool) -> bool {
        let c = self.bool_expr(self.cfg.max_expr_depth);
        let head = format!("if ({c})");
        if inline {
            self.push(&head);
        } else {
            self.open(&head);
        }
        let (then_div, then_braced) = self.body(depth, true);
        let s = self.src.mark();
        let kind = self.src.pick(&[50, 35, 15]);
        if kind == 0 {
            return false;
        }
        if then_braced {
            self.push(" else");
        } else {
            self.nl();
            self.open("else");
        }
        let else_may = may_diverge || !then_div;
        let else_div = if kind == 2 {
            self.push(" ");
            self.if_stmt(depth, else_may, true)
        } else {
            self.body(depth, else_may).0
        };
        self.src.span(s);
        then_div && else_div
    }

    /// `if (x < a) x = b; else if (x > c) x = d;` with constants: a choice
    /// of values, which code generation lowers to conditional moves.
    fn choice(&mut self) {
        const CMP: [&str; 6] = ["<", "<=", ">", ">=", "==", "!="];
        let vars = self.locals_of(&[LKind::Int]);
        let x = self.pick_from(&vars);
        // A value assigned: a constant, or a variable (then the arm has no
        // instruction at all).
        let value = |g: &mut Self| {
            if g.src.chance(50) {
                g.pick_from(&vars)
            } else {
                g.int_lit().to_string()
            }
        };
        let (a, b) = (self.int_lit(), value(self));
        let first = CMP[self.src.below(CMP.len())];
        let mut text = format!("if ({x} {first} {a}) {x} = {b};");
        if self.src.chance(70) {
            let (c, d) = (self.int_lit(), value(self));
            let second = CMP[self.src.below(CMP.len())];
            text += &format!(" else if ({x} {second} {c}) {x} = {d};");
        }
        self.line(&text);
        self.features.choices = true;
    }

    /// `if (…) break;` / `continue;`, inside a loop.
    fn cond_exit(&mut self) {
        let c = self.bool_expr(self.cfg.max_expr_depth);
        let exit = if self.src.chance(50) {
            self.features.continue_stmt = true;
            "continue;"
        } else {
            self.features.break_stmt = true;
            "break;"
        };
        self.open(&format!("if ({c})"));
        if self.src.chance(60) {
            self.nl();
            self.indent += 1;
            self.line(exit);
            self.indent -= 1;
        } else {
            self.push(" {\n");
            self.indent += 1;
            let text = self.simple(Simple::Assign);
            self.line(&text);
            self.line(exit);
            self.indent -= 1;
            self.line("}");
        }
        self.f.seg = 0;
    }

    /// A loop bound: usually small and constant, sometimes an array size or
    /// an arbitrary (possibly huge) expression.
    fn loop_bound(&mut self) -> Expr {
        let consts: Vec<(String, i64)> = self
            .g
            .consts
            .iter()
            .filter(|(_, v)| (1..=16).contains(v))
            .cloned()
            .collect();
        match self.src.pick(&[40, if consts.is_empty() { 0 } else { 15 }, 25, 10]) {
            0 => Expr::int(self.src.range(1, 8) as i64),
            1 => {
                let (name, v) = consts[self.src.below(consts.len())].clone();
                Expr::Var { name, konst: Some(v) }
            }
            2 => {
                let arrays = self.arrays();
                let (array, len) = arrays[self.src.below(arrays.len())].clone();
                Expr::Size { array, len }
            }
            _ => self.int_expr(2),
        }
    }

    /// A condition no front-end can fold to a constant.
    fn nonconst_cond(&mut self) -> Expr {
        let c = self.bool_expr(self.cfg.max_expr_depth.min(2));
        if c.is_const() {
            let g = self.pick_from(&self.g.ints.clone());
            Expr::bin(Bin::Lt, Expr::var(g), Expr::int(self.src.range(1, 8) as i64))
        } else {
            c
        }
    }

    fn loop_body(&mut self, depth: usize, counter: Option<String>) {
        self.f.scopes.push(Vec::new());
        if let Some(i) = counter {
            self.declare(i, LKind::Counter);
        }
        self.f.loops += 1;
        self.body(depth, true);
        self.f.loops -= 1;
        self.f.scopes.pop();
    }

    fn loop_stmt(&mut self, depth: usize) {
        let unbounded = self.src.chance(self.cfg.unbounded_loop_percent);
        match if unbounded {
            5
        } else {
            self.src.pick(&[30, 10, 8, 20, 15])
        } {
            0 => {
                let i = self.fresh("i");
                let bound = self.loop_bound();
                let op = if self.src.chance(20) { Bin::Le } else { Bin::Lt };
                let cond = Expr::bin(op, Expr::var(&i), bound);
                let step = match self.src.pick(&[60, 25, 15]) {
                    0 => format!("{i}++"),
                    1 => format!("++{i}"),
                    _ => format!("{i} += 2"),
                };
                self.open(&format!("for (int {i} = 0; {cond}; {step})"));
                self.features.for_loops = true;
                self.loop_body(depth, Some(i));
            }
            1 => {
                let i = self.fresh("i");
                let bound = self.loop_bound();
                let cmp = if self.src.chance(30) { ">=" } else { ">" };
                // `bound` is an initializer here: no precedence question.
                let step = if self.src.chance(50) {
                    format!("{i}--")
                } else {
                    format!("--{i}")
                };
                self.open(&format!("for (int {i} = {bound}; {i} {cmp} 0; {step})"));
                self.features.for_loops = true;
                self.loop_body(depth, Some(i));
            }
            2 => {
                let i = self.fresh("i");
                let bound = self.loop_bound();
                self.line(&format!("int {i} = 0;"));
                self.declare(i.clone(), LKind::Counter);
                if self.src.chance(50) {
                    let s = self.src.range(1, 3);
                    let cond = Expr::bin(Bin::Lt, Expr::var(&i), bound);
                    self.open(&format!("for ({i} = 0; {cond}; {i} += {s})"));
                } else {
                    let cond = Expr::bin(Bin::Lt, Expr::var(&i), bound);
                    self.open(&format!("for (; {cond}; {i}++)"));
                }
                self.features.for_loops = true;
                self.loop_body(depth, None);
            }
            k @ (3 | 4) => {
                let do_while = k == 4;
                let i = self.fresh("i");
                let bound = self.loop_bound();
                let op = if self.src.chance(20) { Bin::Le } else { Bin::Lt };
                let cond = Expr::bin(op, Expr::var(&i), bound);
                self.line(&format!("int {i} = 0;"));
                self.declare(i.clone(), LKind::Counter);
                self.f.loops += 1;
                if do_while {
                    // The body must complete normally: a `do` whose body
                    // always returns would make what follows unreachable.
                    self.open("do ");
                    self.braced(depth, false, Some(format!("{i}++;")));
                    self.push(&format!(" while ({cond});"));
                    self.features.do_while_loops = true;
                } else {
                    self.open(&format!("while ({cond}) "));
                    self.braced(depth, true, Some(format!("{i}++;")));
                    self.features.while_loops = true;
                }
                self.f.loops -= 1;
            }
            _ => {
                let c = self.nonconst_cond();
                if self.src.chance(50) {
                    self.open(&format!("while ({c})"));
                    self.features.while_loops = true;
                } else {
                    self.open(&format!("for (; {c}; )"));
                    self.features.for_loops = true;
                }
                self.features.unbounded_loops = true;
                self.loop_body(depth, None);
            }
        }
        self.nl();
        self.f.seg = 0;
    }

    /// `try { … } handle K { … } …`. It never diverges as a whole: if the
    /// body and all earlier handlers do, the last handler completes.
    fn try_stmt(&mut self, depth: usize) {
        self.open("try ");
        let mut all_div = self.braced(depth, true, None);
        let n = 1 + self.src.pick(&[60, 30, 10]);
        let mut left: Vec<&str> = EXCEPTIONS.to_vec();
        for j in 0..n {
            let exc = left.remove(self.src.below(left.len()));
            self.push(&format!(" handle {exc} "));
            let may = !(j == n - 1 && all_div);
            all_div &= self.braced(depth, may, None);
        }
        self.nl();
        self.features.try_handle = true;
    }

    // ---- lvalues -------------------------------------------------------

    fn int_lvalue(&mut self) -> String {
        let vars = self.locals_of(&[LKind::Int]);
        let has_struct = self.g.strukt.is_some();
        self.no_calls += 1;
        let lv = match self.src.pick(&[
            if vars.is_empty() { 0 } else { 40 },
            20,
            20,
            if has_struct { 10 } else { 0 },
        ]) {
            0 => self.pick_from(&vars),
            1 => self.pick_from(&self.g.ints.clone()),
            2 => self.array_elem(1).to_string(),
            _ => self.field(1, false).to_string(),
        };
        self.no_calls -= 1;
        lv
    }

    fn bool_lvalue(&mut self) -> String {
        let vars = self.locals_of(&[LKind::Bool]);
        let fields = self.g.strukt.as_ref().is_some_and(|s| !s.bools.is_empty());
        self.no_calls += 1;
        let lv = match self
            .src
            .pick(&[if vars.is_empty() { 0 } else { 40 }, 20, if fields { 10 } else { 0 }])
        {
            0 => self.pick_from(&vars),
            1 => self.pick_from(&self.g.bools.clone()),
            _ => self.field(1, true).to_string(),
        };
        self.no_calls -= 1;
        lv
    }

    // ---- expressions ---------------------------------------------------

    fn expr_of(&mut self, ty: Ty) -> Expr {
        match ty {
            Ty::Bool => self.bool_expr(self.cfg.max_expr_depth),
            _ => self.int_expr(self.cfg.max_expr_depth),
        }
    }

    fn int_lit(&mut self) -> Expr {
        match self.src.pick(&[50, 18, 12, 10, 6, 2]) {
            0 => Expr::int(self.src.below(10) as i64),
            1 => Expr::int(self.src.range(10, 1000) as i64),
            2 => Expr::int(-(self.src.range(1, 100) as i64)),
            3 => Expr::Int {
                value: self.src.below(0x10000) as i64,
                hex: true,
            },
            4 => {
                const BIG: [(i64, bool); 6] = [
                    (i64::MAX, false),
                    (i64::MAX, true),
                    (1 << 40, false),
                    (1 << 62, false),
                    (1_000_000, false),
                    (i64::MAX - 7, false),
                ];
                let (value, hex) = BIG[self.src.below(BIG.len())];
                Expr::Int { value, hex }
            }
            _ => Expr::int(i64::MIN),
        }
    }

    /// An index into `array` (length `len` if known): often a literal or a
    /// loop counter, sometimes an arbitrary expression that may be out of
    /// bounds. A constant index is always within a known length.
    fn index(&mut self, array: &str, len: Option<usize>, depth: usize) -> Expr {
        let counters = self.locals_of(&[LKind::Counter]);
        let e = match self.src.pick(&[30, if counters.is_empty() { 0 } else { 35 }, 20, 15]) {
            0 => Expr::int(self.src.below(len.unwrap_or(4)) as i64),
            1 => Expr::var(self.pick_from(&counters)),
            2 => self.int_expr(depth),
            _ => {
                let of_structs = self.g.strukt.as_ref().is_some_and(|s| s.array == array);
                let size = match len {
                    // `size` is only ever applied to int arrays.
                    Some(n) if of_structs || self.src.chance(50) => Expr::int(n as i64),
                    _ => Expr::Size {
                        array: array.to_string(),
                        len,
                    },
                };
                Expr::bin(Bin::Rem, self.int_expr(depth), size)
            }
        };
        match len {
            Some(n) if e.is_const() => match e.eval() {
                Ok(v) if (0..n as i64).contains(&v) => e,
                _ => Expr::int(self.src.below(n) as i64),
            },
            _ => e,
        }
    }

    /// An element of an int array (global or parameter).
    fn array_elem(&mut self, depth: usize) -> Expr {
        let arrays = self.arrays();
        let (array, len) = arrays[self.src.below(arrays.len())].clone();
        let index = self.index(&array, len, depth);
        self.features.arrays = true;
        Expr::Index {
            array,
            index: Box::new(index),
            field: None,
        }
    }

    /// A field of the global struct or of an element of the struct array.
    fn field(&mut self, depth: usize, boolean: bool) -> Expr {
        let s = self.g.strukt.as_ref().expect("a struct");
        let fields = if boolean { &s.bools } else { &s.ints };
        let (global, array, len) = (s.global, s.array, s.len);
        let field = fields[self.src.below(fields.len())];
        self.features.structs = true;
        if depth > 0 && self.src.chance(50) {
            let index = self.index(array, Some(len), depth - 1);
            self.features.arrays = true;
            Expr::Index {
                array: array.to_string(),
                index: Box::new(index),
                field: Some(field),
            }
        } else {
            Expr::Field {
                base: global.to_string(),
                field,
            }
        }
    }

    fn int_leaf(&mut self, depth: usize) -> Expr {
        let vars = self.locals_of(&[LKind::Int, LKind::Counter]);
        let has_struct = self.g.strukt.is_some();
        let weights = [
            25,                                   // literal
            if vars.is_empty() { 0 } else { 30 }, // local or parameter
            10,                                   // global
            8,                                    // const
            if depth > 0 { 10 } else { 0 },       // array element
            if has_struct { 6 } else { 0 },       // struct field
            3,                                    // size(…)
            if self.attrs() { 4 } else { 0 },     // get_attribute
        ];
        match self.src.pick(&weights) {
            0 => self.int_lit(),
            1 => Expr::var(self.pick_from(&vars)),
            2 => Expr::var(self.pick_from(&self.g.ints.clone())),
            3 => {
                let (name, v) = self.g.consts[self.src.below(self.g.consts.len())].clone();
                Expr::Var { name, konst: Some(v) }
            }
            4 => self.array_elem(depth - 1),
            5 => self.field(depth, false),
            6 => {
                let arrays = self.arrays();
                let (array, len) = arrays[self.src.below(arrays.len())].clone();
                Expr::Size { array, len }
            }
            _ => {
                self.features.get_attribute = true;
                Expr::GetAttr(ATTRS[self.src.below(ATTRS.len())])
            }
        }
    }

    /// An int expression of at most `depth` levels.
    fn int_expr(&mut self, depth: usize) -> Expr {
        self.f.seg += 2;
        if depth <= 1 || !self.src.chance(50) {
            return self.int_leaf(depth.min(1));
        }
        let weights = [
            40,
            8,
            if self.can_call(Ty::Int) { 9 } else { 0 },
            7,
            if self.attrs() { 3 } else { 0 },
        ];
        match self.src.pick(&weights) {
            0 => {
                const OPS: [Bin; 10] = [
                    Bin::Add,
                    Bin::Sub,
                    Bin::Mul,
                    Bin::Div,
                    Bin::Rem,
                    Bin::Shl,
                    Bin::Shr,
                    Bin::BitAnd,
                    Bin::BitOr,
                    Bin::BitXor,
                ];
                let op = OPS[self.src.pick(&[20, 15, 12, 8, 6, 3, 3, 4, 4, 3])];
                let l = self.int_expr(depth - 1);
                let r = self.rhs(op, depth - 1);
                fold_guard(op, l, r)
            }
            1 => {
                let inner = self.int_expr(depth - 1);
                let op = if self.src.chance(30) { Un::BitNot } else { Un::Neg };
                if op == Un::Neg && inner.is_const() && inner.eval() == Ok(i64::MIN) {
                    inner
                } else {
                    Expr::Unary(op, Box::new(inner))
                }
            }
            2 => self.call(Ty::Int, depth),
            3 => self.array_elem(depth - 1),
            _ => {
                self.features.get_attribute = true;
                Expr::GetAttr(ATTRS[self.src.below(ATTRS.len())])
            }
        }
    }

    /// The right operand of `op`: a shift amount in range, or a divisor that
    /// is not a known zero.
    fn rhs(&mut self, op: Bin, depth: usize) -> Expr {
        match op {
            Bin::Shl | Bin::Shr => {
                self.features.shifts = true;
                let max = if op == Bin::Shl { 32 } else { 64 };
                if self.src.chance(40) {
                    let e = self.int_expr(depth);
                    Expr::bin(Bin::BitAnd, e, Expr::int(max - 1))
                } else {
                    Expr::int(self.src.below(max as usize) as i64)
                }
            }
            Bin::Div | Bin::Rem => {
                self.features.division = true;
                let r = self.int_expr(depth);
                if !r.is_const() || r.eval().is_ok_and(|v| v != 0) {
                    r
                } else {
                    Expr::int(self.src.range(1, 9) as i64)
                }
            }
            _ => self.int_expr(depth),
        }
    }

    fn bool_leaf(&mut self, depth: usize) -> Expr {
        let vars = self.locals_of(&[LKind::Bool]);
        let fields = self.g.strukt.as_ref().is_some_and(|s| !s.bools.is_empty());
        let weights = [
            8,
            if vars.is_empty() { 0 } else { 15 },
            10,
            if fields { 5 } else { 0 },
            50,
        ];
        match self.src.pick(&weights) {
            0 => Expr::Bool(self.src.chance(50)),
            1 => Expr::var(self.pick_from(&vars)),
            2 => Expr::var(self.pick_from(&self.g.bools.clone())),
            3 => self.field(depth, true),
            _ => {
                let op = [Bin::Lt, Bin::Le, Bin::Gt, Bin::Ge, Bin::Eq, Bin::Ne][self.src.below(6)];
                self.f.seg += 4;
                let l = self.int_leaf(depth.min(1));
                let r = self.int_leaf(depth.min(1));
                Expr::bin(op, l, r)
            }
        }
    }

    /// A bool expression of at most `depth` levels.
    fn bool_expr(&mut self, depth: usize) -> Expr {
        self.f.seg += 2;
        if depth <= 1 || !self.src.chance(45) {
            return self.bool_leaf(depth.min(1));
        }
        let weights = [45, 10, 15, 15, 5, if self.can_call(Ty::Bool) { 8 } else { 0 }];
        match self.src.pick(&weights) {
            0 => {
                let op = [Bin::Lt, Bin::Le, Bin::Gt, Bin::Ge, Bin::Eq, Bin::Ne][self.src.below(6)];
                let l = self.int_expr(depth - 1);
                let r = self.int_expr(depth - 1);
                Expr::bin(op, l, r)
            }
            1 => Expr::Unary(Un::Not, Box::new(self.bool_expr(depth - 1))),
            2 | 3 => {
                let op = if self.src.chance(50) { Bin::Or } else { Bin::And };
                let l = self.bool_expr(depth - 1);
                let r = self.bool_expr(depth - 1);
                Expr::bin(op, l, r)
            }
            4 => {
                let op = if self.src.chance(50) { Bin::Ne } else { Bin::Eq };
                let l = self.bool_expr(depth - 1);
                let r = self.bool_expr(depth - 1);
                Expr::bin(op, l, r)
            }
            _ => self.call(Ty::Bool, depth),
        }
    }

    /// A call of some callable function returning `ret`.
    fn call(&mut self, ret: Ty, depth: usize) -> Expr {
        let cands: Vec<usize> = self
            .f
            .callable
            .iter()
            .copied()
            .filter(|&j| self.funcs[j].ret == ret)
            .collect();
        let j = cands[self.src.below(cands.len())];
        self.call_of(j, depth)
    }

    fn call_of(&mut self, j: usize, depth: usize) -> Expr {
        self.f.callee_depth = self.f.callee_depth.max(self.funcs[j].depth);
        self.features.calls = true;
        let d = depth.saturating_sub(1).clamp(1, 2);
        let params = self.funcs[j].params.clone();
        let args = params
            .iter()
            .map(|p| match p {
                PTy::Int => Arg::Expr(self.int_expr(d)),
                PTy::Bool => Arg::Expr(self.bool_expr(d)),
                PTy::Array => {
                    let arrays = self.arrays();
                    Arg::Array(arrays[self.src.below(arrays.len())].0.clone())
                }
            })
            .collect();
        Expr::Call {
            name: self.funcs[j].name.clone(),
            args,
        }
    }
}

/// `l op r`, or `l` alone where the whole would be a constant expression
/// that traps (a front-end folding constants may reject those).
fn fold_guard(op: Bin, l: Expr, r: Expr) -> Expr {
    if l.is_const() && r.is_const() && Expr::bin(op, l.clone(), r.clone()).eval().is_err() {
        l
    } else {
        Expr::bin(op, l, r)
    }
}
