//! What each name in a file refers to, for editors (`safexc lsp`): every
//! occurrence of a name, the declaration it resolves to, its kind and its
//! type as text.
//!
//! [`symbols`] is a pass of its own over the tree, beside [`crate::compile`],
//! which it does not change. The declarations that can be named from
//! anywhere (globals, constants, functions, structs, classes, events) come
//! from the same `sema::Env` the compiler builds, so a name defined twice
//! resolves to the definition the compiler keeps. Inside function bodies the
//! pass follows lowering's scoping rules (`lower.rs`):
//!
//! - parameters and the body's top-level locals share one scope; every
//!   block, `if` and `else` arm, loop body, `switch` arm and `try` handler
//!   is a scope; a `for` is a scope around its initializer, condition, step
//!   and body;
//! - a local is visible from the end of its declaration: its initializer
//!   and length still see the name it shadows (`int x = x + 1;`);
//! - the later of two declarations of a name in one scope wins (the second
//!   is an error, `P0102`);
//! - array lengths and `case` labels are constant expressions, which see
//!   constants only, never locals; so does a condition whose value is the
//!   constant `true` (lowering treats it as one);
//! - a call names a function, never a local; `min`, `max`, `abs` and
//!   `clamp` are the builtins unless the file defines the name.
//!
//! The file does not have to compile: a tree with syntax errors is resolved
//! as error recovery left it (statements that did not parse are left out),
//! and a name that resolves to nothing is listed in
//! [`Symbols::unresolved`] (the compiler reports it, `P0101`).
//!
//! The standard library's declarations (`import cpu;`) resolve to
//! definitions without a place in the file ([`Definition::span`] is `None`)
//! that name their [`Definition::module`].

use crate::ast::*;
use crate::parser::parse_recovering;
use crate::sema::{BUILTINS, Const, EXCEPTION_EVENT, Elem, Env, Name, Origin, Ty, Unit};
use std::collections::{HashMap, HashSet};

/// What a name is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SymbolKind {
    /// A local variable of a function.
    Local,
    /// A function's parameter.
    Param,
    /// A global variable.
    Global,
    /// A `const`.
    Const,
    /// A function, entry points included.
    Function,
    /// A SafeX API call (`get_attribute`, `size`, …) or a builtin function
    /// (`min`, `max`, `abs`, `clamp`).
    Builtin,
    Struct,
    /// A field of a struct.
    Field,
    /// An attribute class (`cap<cpu_qos>`).
    Class,
    /// An attribute of a class (`get_attribute(app, "period")`).
    Attribute,
    /// An event (`raise_event("Error", e)`, `on "Error"`).
    Event,
    /// A standard-library module (`import cpu;`).
    Module,
}

impl SymbolKind {
    /// The kind in words, as a hover says it.
    pub fn describe(self) -> &'static str {
        match self {
            SymbolKind::Local => "local variable",
            SymbolKind::Param => "parameter",
            SymbolKind::Global => "global variable",
            SymbolKind::Const => "constant",
            SymbolKind::Function => "function",
            SymbolKind::Builtin => "SafeX builtin",
            SymbolKind::Struct => "struct",
            SymbolKind::Field => "field",
            SymbolKind::Class => "attribute class",
            SymbolKind::Attribute => "attribute",
            SymbolKind::Event => "event",
            SymbolKind::Module => "standard-library module",
        }
    }
}

/// A declaration that names resolve to.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Definition {
    pub name: String,
    pub kind: SymbolKind,
    /// The declared name's place in the file; `None` for the standard
    /// library's declarations and for builtins.
    pub span: Option<Span>,
    /// The standard-library module that declares it (`cpu`), if any.
    pub module: Option<String>,
    /// Its type: `int`, `int[16]`, `int[]` (an array parameter),
    /// `cap<cpu_qos>`, `struct sample`; a function's signature without
    /// names, `int(int, int)`; `attribute class`, `event` and `module` for
    /// those.
    pub ty: String,
    /// The declaration as source shows it: `int e_prev = 0`, `const int KP =
    /// 500` (a constant with its value), `int clamp(int v, int lo, int hi)`,
    /// `int period readonly`, `struct sample { … }`.
    pub detail: String,
    /// What it belongs to: `cpu_pid` for a local or a parameter of
    /// `cpu_pid`, `struct sample` for a field, `cpu_qos` for an attribute.
    pub container: Option<String>,
    /// The `//` comment lines just above the declaration, or the one after
    /// it on its line.
    pub doc: Option<String>,
}

/// One occurrence of a name: a use, or the declaration itself.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Occurrence {
    /// Where the name is written (a string literal with its quotes, for
    /// attributes and events).
    pub span: Span,
    /// Index into [`Symbols::definitions`].
    pub definition: usize,
}

/// The names of one file.
#[derive(Clone, Default, Debug)]
pub struct Symbols {
    pub definitions: Vec<Definition>,
    /// Every occurrence in the file, in source order.
    pub occurrences: Vec<Occurrence>,
    /// Names used as values or called that resolve to nothing.
    pub unresolved: Vec<Span>,
}

impl Symbols {
    /// The occurrence at byte `offset` and its definition: the name that
    /// contains it, else one that ends there (a cursor just after a word).
    pub fn at(&self, offset: u32) -> Option<(&Occurrence, &Definition)> {
        // Occurrences do not overlap: the last that starts at or before
        // `offset` is the only candidate.
        let after = self.occurrences.partition_point(|o| o.span.lo <= offset);
        let o = self.occurrences[..after].last().filter(|o| offset <= o.span.hi)?;
        Some((o, self.definitions.get(o.definition)?))
    }

    /// The definition an occurrence resolves to.
    pub fn definition(&self, occurrence: &Occurrence) -> Option<&Definition> {
        self.definitions.get(occurrence.definition)
    }
}

/// Resolves every name of a Popcorn-SX source, as [`crate::compile`] would
/// resolve it (see the module documentation). Never fails: a file too broken
/// to have a tree has no symbols.
pub fn symbols(source: &str) -> Symbols {
    // A file being typed often ends inside a declaration, which error
    // recovery cannot skip (it resumes at a `;` or `}`): the file then
    // resolves as if it were closed there.
    let closed;
    let (user, source) = match parse_recovering(source).0 {
        Some(user) => (user, source),
        None => {
            closed = close(source);
            match parse_recovering(&closed).0 {
                Some(user) => (user, closed.as_str()),
                None => return Symbols::default(),
            }
        }
    };
    let mut modules = Vec::new();
    let mut files = Vec::new();
    import(&user, &mut HashSet::new(), &mut files, &mut modules, source.len() + 1);
    files.push((user, Origin::User));
    let unit = Unit { files };
    let env = Env::collect(&unit, false, &mut Vec::new());
    let mut resolver = Resolver::new(source, &unit, &env, &modules);
    resolver.run();
    let mut out = resolver.out;
    out.occurrences.sort_by_key(|o| (o.span.lo, o.span.hi));
    out.occurrences.dedup_by_key(|o| (o.span.lo, o.span.hi));
    out.unresolved.sort_by_key(|s| (s.lo, s.hi));
    out
}

/// `source` with what ends the comment, statement and blocks open at its
/// end: `*/` if in a block comment, a line break, `;`, and a `}` for each
/// brace still open. Only names in `source` can be in the result's tree.
fn close(source: &str) -> String {
    #[derive(PartialEq)]
    enum In {
        Code,
        LineComment,
        BlockComment,
        Str,
    }
    let mut state = In::Code;
    let mut depth = 0usize;
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match state {
            In::Code => match c {
                '/' if chars.peek() == Some(&'/') => state = In::LineComment,
                '/' if chars.peek() == Some(&'*') => {
                    chars.next();
                    state = In::BlockComment;
                }
                '"' => state = In::Str,
                '{' => depth += 1,
                '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
            In::LineComment if c == '\n' => state = In::Code,
            In::BlockComment if c == '*' && chars.peek() == Some(&'/') => {
                chars.next();
                state = In::Code;
            }
            // A string ends at its quote or at the end of its line.
            In::Str if c == '\\' => {
                chars.next();
            }
            In::Str if c == '"' || c == '\n' => state = In::Code,
            _ => {}
        }
    }
    let mut closed = String::with_capacity(source.len() + depth + 4);
    closed.push_str(source);
    if state == In::BlockComment {
        closed.push_str("*/");
    }
    closed.push_str("\n;");
    closed.extend(std::iter::repeat_n('}', depth));
    closed
}

/// An imported standard-library module: its name, its text, and where its
/// spans start. Each module is parsed after as many spaces as the text
/// before it (the user's file, the modules before), so that a span tells
/// which file it is in.
struct Module {
    name: String,
    text: &'static str,
    base: usize,
}

/// The standard-library modules `file` imports, and theirs, in the order
/// `compile` adds them.
fn import(
    file: &SourceFile,
    seen: &mut HashSet<String>,
    files: &mut Vec<(SourceFile, Origin)>,
    modules: &mut Vec<Module>,
    first_base: usize,
) {
    for item in &file.items {
        let Item::Import(name) = item else { continue };
        if !seen.insert(name.name.clone()) {
            continue;
        }
        let Some(text) = stdlib::popcorn_module(&name.name) else {
            continue;
        };
        let base = modules.last().map_or(first_base, |m| m.base + m.text.len() + 1);
        let mut padded = " ".repeat(base);
        padded.push_str(text);
        let Ok(imported) = crate::parse(&padded) else { continue };
        modules.push(Module {
            name: name.name.clone(),
            text,
            base,
        });
        import(&imported, seen, files, modules, first_base);
        files.push((imported, Origin::Stdlib));
    }
}

/// A local variable or parameter in scope.
struct Var {
    name: String,
    ty: Ty,
    definition: usize,
}

/// A declaration in the namespace of globals, constants and functions.
#[derive(Clone, Copy)]
enum ValueDecl<'a> {
    Const(&'a VarDecl),
    Global(&'a VarDecl),
    Func(&'a FuncDecl),
}

/// The builtins' signatures, as `docs/language.md` gives them.
const BUILTIN_SIGNATURES: &[(&str, &str, &str)] = &[
    (
        "get_attribute",
        "int get_attribute(cap<C> c, \"name\")",
        "Reads attribute `name` of the capability's class; its type is the attribute's.",
    ),
    (
        "set_attribute",
        "void set_attribute(cap<C> c, \"name\", value)",
        "Writes attribute `name`, through the attribute's guard if the system installed one.",
    ),
    (
        "raise_event",
        "void raise_event(\"Name\", int value)",
        "Queues event `Name` on the application's channel (`raise_event(\"Name\")`: the value is 0).",
    ),
    ("now_us", "int now_us()", "The host's clock, in microseconds."),
    (
        "block",
        "void block(cap<C> c)",
        "Refuses the write being guarded and blocks the application (standard-library guards only).",
    ),
    (
        "trace",
        "void trace(int value)",
        "Records `value` and where the call is, for the operator (`safexc run` prints it; the kernel logs it).",
    ),
    ("size", "int size(a)", "The number of elements of array `a`."),
    ("min", "int min(int a, int b)", "The smaller of `a` and `b`."),
    ("max", "int max(int a, int b)", "The larger of `a` and `b`."),
    (
        "abs",
        "int abs(int a)",
        "The absolute value of `a`; `Overflow` for the most negative `int`.",
    ),
    ("clamp", "int clamp(int x, int lo, int hi)", "`min(max(x, lo), hi)`."),
];

struct Resolver<'s, 'e, 'a> {
    source: &'s str,
    unit: &'a Unit,
    env: &'e Env<'a>,
    modules: &'s [Module],
    out: Symbols,
    /// The winning declaration of each global name, by its name's span.
    value_decls: HashMap<(u32, u32), ValueDecl<'a>>,
    /// The first declaration of each struct and class name (the one the
    /// compiler keeps).
    struct_decls: HashMap<&'a str, &'a StructDecl>,
    class_decls: HashMap<&'a str, &'a ClassDecl>,
    event_decls: HashMap<(u32, u32), &'a Ident>,
    /// Definitions made so far, by what they define.
    values: HashMap<String, usize>,
    structs: HashMap<String, usize>,
    fields: HashMap<(String, String), usize>,
    classes: HashMap<String, usize>,
    attrs: HashMap<(String, String), usize>,
    events: HashMap<String, usize>,
    builtins: HashMap<&'static str, usize>,
    /// Locals and parameters in scope, innermost last.
    vars: Vec<Var>,
    scopes: Vec<usize>,
    /// The function being resolved.
    function: String,
    /// In a constant expression: locals are not visible.
    constant: bool,
}

impl<'s, 'e, 'a> Resolver<'s, 'e, 'a> {
    fn new(source: &'s str, unit: &'a Unit, env: &'e Env<'a>, modules: &'s [Module]) -> Self {
        let mut value_decls = HashMap::new();
        let mut struct_decls = HashMap::new();
        let mut class_decls = HashMap::new();
        let mut event_decls = HashMap::new();
        for (file, _) in &unit.files {
            for item in &file.items {
                let key = |name: &Ident| (name.span.lo, name.span.hi);
                match item {
                    Item::Const(c) => {
                        value_decls.insert(key(&c.name), ValueDecl::Const(c));
                    }
                    Item::Global(g) => {
                        value_decls.insert(key(&g.name), ValueDecl::Global(g));
                    }
                    Item::Func(f) => {
                        value_decls.insert(key(&f.name), ValueDecl::Func(f));
                    }
                    Item::Struct(s) => {
                        struct_decls.entry(s.name.name.as_str()).or_insert(s);
                    }
                    Item::Class(c) => {
                        class_decls.entry(c.name.name.as_str()).or_insert(c);
                    }
                    Item::Event(e) => {
                        event_decls.insert(key(e), e);
                    }
                    _ => {}
                }
            }
        }
        Resolver {
            source,
            unit,
            env,
            modules,
            out: Symbols::default(),
            value_decls,
            struct_decls,
            class_decls,
            event_decls,
            values: HashMap::new(),
            structs: HashMap::new(),
            fields: HashMap::new(),
            classes: HashMap::new(),
            attrs: HashMap::new(),
            events: HashMap::new(),
            builtins: HashMap::new(),
            vars: Vec::new(),
            scopes: Vec::new(),
            function: String::new(),
            constant: false,
        }
    }

    fn run(&mut self) {
        let Some((user, _)) = self.unit.files.iter().find(|(_, origin)| *origin == Origin::User) else {
            return;
        };
        for item in &user.items {
            self.item(item);
        }
    }

    // ---- places and text ---------------------------------------------------

    /// The module a span of the unit is in; `None` for the user's file.
    fn module_of(&self, span: Span) -> Option<&'s Module> {
        if span.lo as usize <= self.source.len() {
            return None;
        }
        self.modules.iter().rev().find(|m| m.base <= span.lo as usize)
    }

    /// The text a span of the unit covers, in whichever file it is.
    fn text(&self, span: Span) -> &'s str {
        let (text, base) = match self.module_of(span) {
            Some(m) => (m.text, m.base),
            None => (self.source, 0),
        };
        let lo = (span.lo as usize).saturating_sub(base);
        let hi = (span.hi as usize).saturating_sub(base);
        text.get(lo..hi).unwrap_or("")
    }

    /// A new definition named at `name_span` (a span of the unit).
    fn define(
        &mut self,
        name: &str,
        kind: SymbolKind,
        name_span: Span,
        ty: String,
        detail: String,
        container: Option<String>,
    ) -> usize {
        let (span, module, doc) = match self.module_of(name_span) {
            None => (Some(name_span), None, doc_comment(self.source, name_span.lo as usize)),
            Some(m) => {
                let at = (name_span.lo as usize).saturating_sub(m.base);
                (None, Some(m.name.clone()), doc_comment(m.text, at))
            }
        };
        self.push_definition(Definition {
            name: name.to_owned(),
            kind,
            span,
            module,
            ty,
            detail,
            container,
            doc,
        })
    }

    fn push_definition(&mut self, d: Definition) -> usize {
        self.out.definitions.push(d);
        self.out.definitions.len() - 1
    }

    /// Records an occurrence in the user's file.
    fn occurs(&mut self, span: Span, definition: usize) {
        if self.module_of(span).is_none() {
            self.out.occurrences.push(Occurrence { span, definition });
        }
    }

    // ---- types ---------------------------------------------------------------

    /// A type as source writes it.
    fn type_text(t: &TypeExpr) -> String {
        match t {
            TypeExpr::Void(_) => "void".into(),
            TypeExpr::Int(_) => "int".into(),
            TypeExpr::Bool(_) => "bool".into(),
            TypeExpr::Struct(name, _) => format!("struct {}", name.name),
            TypeExpr::Cap(class, _) => format!("cap<{}>", class.name),
            TypeExpr::Pointer(inner, _) => format!("{} *", Self::type_text(inner)),
        }
    }

    /// The occurrences in a type: struct and class names.
    fn type_expr(&mut self, t: &TypeExpr) {
        match t {
            TypeExpr::Struct(name, _) => {
                if let Some(d) = self.struct_def(&name.name) {
                    self.occurs(name.span, d);
                }
            }
            TypeExpr::Cap(class, _) => {
                if let Some(d) = self.class_def(&class.name) {
                    self.occurs(class.span, d);
                }
            }
            TypeExpr::Pointer(inner, _) => self.type_expr(inner),
            TypeExpr::Void(_) | TypeExpr::Int(_) | TypeExpr::Bool(_) => {}
        }
    }

    fn resolve_type(&self, t: &TypeExpr) -> Ty {
        self.env.resolve_type(t, &mut Vec::new())
    }

    /// A variable's type as text, with its array length (`int[16]`).
    fn var_type_text(&self, d: &VarDecl) -> String {
        let base = Self::type_text(&d.ty);
        match &d.len {
            None => base,
            Some(len) => match self.env.try_const(len) {
                Ok(Const::Int(n)) => format!("{base}[{n}]"),
                _ => format!("{base}[{}]", self.text(len.span)),
            },
        }
    }

    /// A variable's declaration as text: `int w[4]`, with its initializer
    /// if `init` (a global's first value: `int w[4] = {1, 2}`).
    fn var_detail(&self, d: &VarDecl, init: bool) -> String {
        let mut s = format!("{} {}", Self::type_text(&d.ty), d.name.name);
        if let Some(len) = &d.len {
            s += &format!("[{}]", self.text(len.span));
        }
        if !init {
            return s;
        }
        match &d.init {
            Some(Init::Expr(e)) => s += &format!(" = {}", shorten(self.text(e.span))),
            Some(Init::List(_, span)) => s += &format!(" = {}", shorten(self.text(*span))),
            None => {}
        }
        s
    }

    // ---- definitions of the unit's declarations -------------------------------

    /// The definition a global name resolves to, made on first use.
    fn value_def(&mut self, name: &str) -> Option<usize> {
        if let Some(&d) = self.values.get(name) {
            return Some(d);
        }
        let &(what, span) = self.env.names.get(name)?;
        let decl = *self.value_decls.get(&(span.lo, span.hi))?;
        let d = match decl {
            ValueDecl::Const(c) => {
                let value = match what {
                    Name::Const(Const::Int(n)) => n.to_string(),
                    Name::Const(Const::Bool(b)) => b.to_string(),
                    _ => String::from("?"),
                };
                let ty = Self::type_text(&c.ty);
                let detail = format!("const {ty} {name} = {value}");
                self.define(name, SymbolKind::Const, span, ty, detail, None)
            }
            ValueDecl::Global(g) => {
                let (ty, detail) = (self.var_type_text(g), self.var_detail(g, true));
                self.define(name, SymbolKind::Global, span, ty, detail, None)
            }
            ValueDecl::Func(f) => {
                let (ty, detail) = self.signature(f);
                self.define(name, SymbolKind::Function, span, ty, detail, None)
            }
        };
        self.values.insert(name.to_owned(), d);
        Some(d)
    }

    /// A function's type (`int(int, int)`) and signature as source writes it.
    fn signature(&self, f: &FuncDecl) -> (String, String) {
        let ret = Self::type_text(&f.ret);
        let param = |p: &Param, named: bool| {
            let mut s = Self::type_text(&p.ty);
            if named {
                s += " ";
                s += &p.name.name;
            }
            if p.array {
                s += "[]";
            }
            s
        };
        let types: Vec<String> = f.params.iter().map(|p| param(p, false)).collect();
        let named: Vec<String> = f.params.iter().map(|p| param(p, true)).collect();
        let (prefix, suffix) = match &f.kind {
            FuncKind::Plain => ("", String::new()),
            FuncKind::Monitor => ("monitor ", String::new()),
            FuncKind::Handler { event } => ("handler ", format!(" on \"{}\"", event.value)),
            FuncKind::Guard { attr } => ("guard ", format!(" for \"{}\"", attr.value)),
        };
        (
            format!("{ret}({})", types.join(", ")),
            format!("{prefix}{ret} {}({}){suffix}", f.name.name, named.join(", ")),
        )
    }

    fn struct_def(&mut self, name: &str) -> Option<usize> {
        if let Some(&d) = self.structs.get(name) {
            return Some(d);
        }
        self.env.struct_names.get(name)?;
        let decl = *self.struct_decls.get(name)?;
        let mut detail = format!("struct {name} {{");
        for f in &decl.fields {
            detail += &format!("\n    {};", self.var_detail(f, false));
        }
        detail += if decl.fields.is_empty() { "}" } else { "\n}" };
        let d = self.define(
            name,
            SymbolKind::Struct,
            decl.name.span,
            format!("struct {name}"),
            detail,
            None,
        );
        self.structs.insert(name.to_owned(), d);
        Some(d)
    }

    /// Field `field` of struct `s`, if the compiler accepted it.
    fn field_def(&mut self, s: tal_ir::StructId, field: &str) -> Option<usize> {
        let info = self.env.structs.get(s.index())?;
        let key = (info.name.clone(), field.to_owned());
        if let Some(&d) = self.fields.get(&key) {
            return Some(d);
        }
        info.fields.iter().find(|(n, _)| n == field)?;
        let decl = *self.struct_decls.get(info.name.as_str())?;
        let f = decl.fields.iter().find(|f| f.name.name == field)?;
        let container = format!("struct {}", info.name);
        let (ty, detail) = (self.var_type_text(f), self.var_detail(f, false));
        let d = self.define(field, SymbolKind::Field, f.name.span, ty, detail, Some(container));
        self.fields.insert(key, d);
        Some(d)
    }

    fn class_def(&mut self, name: &str) -> Option<usize> {
        if let Some(&d) = self.classes.get(name) {
            return Some(d);
        }
        let &id = self.env.class_names.get(name)?;
        let decl = *self.class_decls.get(name)?;
        let mut detail = format!("attribute class {name} {{");
        let attrs = self
            .env
            .classes
            .get(id.index())
            .map(|c| c.attrs.as_slice())
            .unwrap_or(&[]);
        for a in attrs {
            detail += &format!("\n    {};", attr_detail(a));
        }
        detail += if attrs.is_empty() { "}" } else { "\n}" };
        let d = self.define(
            name,
            SymbolKind::Class,
            decl.name.span,
            "attribute class".into(),
            detail,
            None,
        );
        self.classes.insert(name.to_owned(), d);
        Some(d)
    }

    /// Attribute `attr` of class `class`, if the compiler accepted it.
    fn attr_def(&mut self, class: tal_ir::ClassId, attr: &str) -> Option<usize> {
        let info = self.env.classes.get(class.index())?;
        let key = (info.name.clone(), attr.to_owned());
        if let Some(&d) = self.attrs.get(&key) {
            return Some(d);
        }
        let a = info.attrs.iter().find(|a| a.name == attr)?;
        let decl = *self.class_decls.get(info.name.as_str())?;
        let at = decl.attrs.iter().find(|d| d.name.name == attr)?;
        let ty = if a.ty == Ty::Bool { "bool" } else { "int" };
        let d = self.define(
            attr,
            SymbolKind::Attribute,
            at.name.span,
            ty.into(),
            attr_detail(a),
            Some(info.name.clone()),
        );
        self.attrs.insert(key, d);
        Some(d)
    }

    fn event_def(&mut self, name: &str) -> Option<usize> {
        if let Some(&d) = self.events.get(name) {
            return Some(d);
        }
        let &id = self.env.event_names.get(name)?;
        let &span = self.env.event_decls.get(id.index())?;
        let d = match self.event_decls.get(&(span.lo, span.hi)) {
            Some(ident) => {
                let span = ident.span;
                self.define(
                    name,
                    SymbolKind::Event,
                    span,
                    "event".into(),
                    format!("event {name}"),
                    None,
                )
            }
            // `Exception`, which a handler declares without `event`.
            None if name == EXCEPTION_EVENT => self.push_definition(Definition {
                name: name.to_owned(),
                kind: SymbolKind::Event,
                span: None,
                module: None,
                ty: "event".into(),
                detail: format!("event {name}"),
                container: None,
                doc: Some(
                    "Built in: the host raises it when an invocation aborts, with the exception's status as value."
                        .into(),
                ),
            }),
            None => return None,
        };
        self.events.insert(name.to_owned(), d);
        Some(d)
    }

    fn builtin_def(&mut self, name: &str) -> Option<usize> {
        if let Some(&d) = self.builtins.get(name) {
            return Some(d);
        }
        let (key, signature, doc) = match BUILTIN_SIGNATURES.iter().find(|(n, _, _)| *n == name) {
            Some(&(key, signature, doc)) => (key, signature.to_owned(), doc),
            // A builtin this table does not describe yet.
            None => {
                let &key = BUILTINS.iter().find(|&&n| n == name)?;
                (key, format!("{key}(…)"), "A SafeX API call.")
            }
        };
        let d = self.push_definition(Definition {
            name: key.to_owned(),
            kind: SymbolKind::Builtin,
            span: None,
            module: None,
            ty: signature.clone(),
            detail: signature,
            container: None,
            doc: Some(doc.to_owned()),
        });
        self.builtins.insert(key, d);
        Some(d)
    }

    // ---- items ---------------------------------------------------------------

    fn item(&mut self, item: &'a Item) {
        match item {
            Item::Extension(_) => {}
            Item::Import(name) => {
                if let Some(text) = stdlib::popcorn_module(&name.name) {
                    let d = self.push_definition(Definition {
                        name: name.name.clone(),
                        kind: SymbolKind::Module,
                        span: None,
                        module: Some(name.name.clone()),
                        ty: "module".into(),
                        detail: format!("import {};", name.name),
                        container: None,
                        doc: leading_comment(text),
                    });
                    self.occurs(name.span, d);
                }
            }
            Item::Budget(e) => self.constant_expr(e),
            Item::Const(d) | Item::Global(d) => {
                self.type_expr(&d.ty);
                if let Some(len) = &d.len {
                    self.constant_expr(len);
                }
                match &d.init {
                    Some(Init::Expr(e)) => self.constant_expr(e),
                    Some(Init::List(items, _)) => items.iter().for_each(|e| self.constant_expr(e)),
                    None => {}
                }
                self.declared_value(&d.name);
            }
            Item::Func(f) => {
                self.declared_value(&f.name);
                self.function(f);
            }
            Item::Struct(s) => {
                let winner = self
                    .struct_decls
                    .get(s.name.name.as_str())
                    .is_some_and(|w| std::ptr::eq(*w, s));
                if winner && let Some(d) = self.struct_def(&s.name.name) {
                    self.occurs(s.name.span, d);
                }
                for f in &s.fields {
                    self.type_expr(&f.ty);
                    if let Some(len) = &f.len {
                        self.constant_expr(len);
                    }
                    if winner
                        && let Some(&id) = self.env.struct_names.get(&s.name.name)
                        && let Some(d) = self.field_def(id, &f.name.name)
                        && self.out.definitions[d].span == Some(f.name.span)
                    {
                        self.occurs(f.name.span, d);
                    }
                }
            }
            Item::Class(c) => {
                let winner = self
                    .class_decls
                    .get(c.name.name.as_str())
                    .is_some_and(|w| std::ptr::eq(*w, c));
                if winner && let Some(d) = self.class_def(&c.name.name) {
                    self.occurs(c.name.span, d);
                }
                for a in &c.attrs {
                    self.type_expr(&a.ty);
                    if let Some((lo, hi)) = &a.range {
                        self.constant_expr(lo);
                        self.constant_expr(hi);
                    }
                    if winner
                        && let Some(&id) = self.env.class_names.get(&c.name.name)
                        && let Some(d) = self.attr_def(id, &a.name.name)
                        && self.out.definitions[d].span == Some(a.name.span)
                    {
                        self.occurs(a.name.span, d);
                    }
                }
            }
            Item::Event(e) => {
                if let Some(d) = self.event_def(&e.name)
                    && self.out.definitions[d].span == Some(e.span)
                {
                    self.occurs(e.span, d);
                }
            }
            Item::Extern(x) => {
                self.type_expr(&x.ret);
                if BUILTINS.contains(&x.name.name.as_str())
                    && let Some(d) = self.builtin_def(&x.name.name)
                {
                    self.occurs(x.name.span, d);
                }
            }
        }
    }

    /// The declared name of a global, constant or function: an occurrence of
    /// its definition if it is the declaration the compiler keeps.
    fn declared_value(&mut self, name: &Ident) {
        if self
            .env
            .names
            .get(&name.name)
            .is_some_and(|(_, span)| *span == name.span)
            && let Some(d) = self.value_def(&name.name)
        {
            self.occurs(name.span, d);
        }
    }

    // ---- function bodies -------------------------------------------------------

    fn function(&mut self, f: &'a FuncDecl) {
        self.vars.clear();
        self.scopes = vec![0];
        self.function = f.name.name.clone();
        self.type_expr(&f.ret);
        let mut first_class = None;
        for (i, p) in f.params.iter().enumerate() {
            self.type_expr(&p.ty);
            let elem = self.resolve_type(&p.ty);
            let ty = if p.array {
                elem_of(elem).map_or(Ty::Error, |elem| Ty::Array { elem, len: None })
            } else {
                elem
            };
            if i == 0
                && let Ty::Cap(c) = ty
            {
                first_class = Some(c);
            }
            let mut ty_text = Self::type_text(&p.ty);
            if p.array {
                ty_text += "[]";
            }
            let detail = format!(
                "{} {}{}",
                Self::type_text(&p.ty),
                p.name.name,
                if p.array { "[]" } else { "" }
            );
            let d = self.define(
                &p.name.name,
                SymbolKind::Param,
                p.name.span,
                ty_text,
                detail,
                Some(self.function.clone()),
            );
            self.occurs(p.name.span, d);
            self.vars.push(Var {
                name: p.name.name.clone(),
                ty,
                definition: d,
            });
        }
        match &f.kind {
            FuncKind::Handler { event } => {
                if let Some(d) = self.event_def(&event.value) {
                    self.occurs(event.span, d);
                }
            }
            FuncKind::Guard { attr } => {
                if let Some(class) = first_class
                    && let Some(d) = self.attr_def(class, &attr.value)
                {
                    self.occurs(attr.span, d);
                }
            }
            FuncKind::Plain | FuncKind::Monitor => {}
        }
        for s in &f.body.stmts {
            self.stmt(s);
        }
        self.vars.clear();
        self.scopes.clear();
    }

    fn push_scope(&mut self) {
        self.scopes.push(self.vars.len());
    }

    fn pop_scope(&mut self) {
        if let Some(n) = self.scopes.pop() {
            self.vars.truncate(n);
        }
    }

    fn scoped(&mut self, s: &Stmt) {
        self.push_scope();
        self.stmt(s);
        self.pop_scope();
    }

    fn block(&mut self, b: &Block) {
        self.push_scope();
        for s in &b.stmts {
            self.stmt(s);
        }
        self.pop_scope();
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Local(d) => self.local(d),
            StmtKind::Expr(e) | StmtKind::Return(Some(e)) => self.expr(e),
            StmtKind::Block(b) => self.block(b),
            StmtKind::If { cond, then, els } => {
                self.condition(cond);
                self.scoped(then);
                if let Some(els) = els {
                    self.scoped(els);
                }
            }
            StmtKind::While { cond, body } => {
                self.condition(cond);
                self.scoped(body);
            }
            StmtKind::DoWhile { body, cond } => {
                self.scoped(body);
                self.condition(cond);
            }
            StmtKind::For { init, cond, step, body } => {
                self.push_scope();
                if let Some(init) = init {
                    self.stmt(init);
                }
                if let Some(cond) = cond {
                    self.condition(cond);
                }
                self.scoped(body);
                if let Some(step) = step {
                    self.expr(step);
                }
                self.pop_scope();
            }
            StmtKind::Switch { value, arms } => {
                self.expr(value);
                for arm in arms {
                    if let CaseLabel::Case(e) = &arm.label {
                        self.constant_expr(e);
                    }
                }
                for arm in arms {
                    self.push_scope();
                    for st in &arm.body {
                        self.stmt(st);
                    }
                    self.pop_scope();
                }
            }
            StmtKind::Try { body, handlers } => {
                self.block(body);
                for h in handlers {
                    self.block(&h.body);
                }
            }
            StmtKind::Return(None)
            | StmtKind::Break
            | StmtKind::Continue
            | StmtKind::Raise(_)
            | StmtKind::Empty
            | StmtKind::Goto(_)
            | StmtKind::Label(_)
            | StmtKind::Asm(_) => {}
        }
    }

    /// A branch condition: lowering takes one whose value is the constant
    /// `true` as a constant, which sees no locals.
    fn condition(&mut self, cond: &Expr) {
        if let Ok(Const::Bool(true)) = self.env.try_const(cond) {
            self.constant_expr(cond);
        } else {
            self.expr(cond);
        }
    }

    fn constant_expr(&mut self, e: &Expr) {
        let outer = std::mem::replace(&mut self.constant, true);
        self.expr(e);
        self.constant = outer;
    }

    fn local(&mut self, d: &VarDecl) {
        self.type_expr(&d.ty);
        let base = self.resolve_type(&d.ty);
        let ty = match &d.len {
            Some(len) => {
                self.constant_expr(len);
                let n = self.env.array_len(len, &mut Vec::new());
                match (n, elem_of(base)) {
                    (Some(n), Some(elem)) => Ty::Array { elem, len: Some(n) },
                    _ => Ty::Error,
                }
            }
            None => base,
        };
        match &d.init {
            Some(Init::Expr(e)) => self.expr(e),
            Some(Init::List(items, _)) => items.iter().for_each(|e| self.expr(e)),
            None => {}
        }
        let (ty_text, detail) = (self.var_type_text(d), self.var_detail(d, false));
        let def = self.define(
            &d.name.name,
            SymbolKind::Local,
            d.name.span,
            ty_text,
            detail,
            Some(self.function.clone()),
        );
        self.occurs(d.name.span, def);
        // A `void` variable is an error, and lowering does not declare it.
        if d.len.is_some() || ty != Ty::Void {
            self.vars.push(Var {
                name: d.name.name.clone(),
                ty,
                definition: def,
            });
        }
    }

    fn lookup(&self, name: &str) -> Option<&Var> {
        if self.constant {
            return None;
        }
        self.vars.iter().rev().find(|v| v.name == name)
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Bool(_) | ExprKind::Str(_) => {}
            ExprKind::Var(name) => {
                // A function used as a value is an error of its own
                // (`P0201`), but the name does resolve.
                let found = match self.lookup(&name.name) {
                    Some(v) => Some(v.definition),
                    None => self.value_def(&name.name),
                };
                match found {
                    Some(d) => self.occurs(name.span, d),
                    None => self.out.unresolved.push(name.span),
                }
            }
            ExprKind::Unary(_, x) | ExprKind::AddrOf(x) | ExprKind::Deref(x) | ExprKind::Arrow(x, _) => self.expr(x),
            ExprKind::Cast(t, x) => {
                self.type_expr(t);
                self.expr(x);
            }
            ExprKind::IncDec { target, .. } => self.expr(target),
            ExprKind::Binary(_, a, b) | ExprKind::Assign(_, a, b) | ExprKind::Index(a, b) => {
                self.expr(a);
                self.expr(b);
            }
            ExprKind::Field(base, field) => {
                self.expr(base);
                if let Some(Ty::Struct(s)) = self.ty_of(base)
                    && let Some(d) = self.field_def(s, &field.name)
                {
                    self.occurs(field.span, d);
                }
            }
            ExprKind::Call(name, args) => self.call(name, args),
        }
    }

    fn call(&mut self, name: &Ident, args: &[Expr]) {
        let builtin = match name.name.as_str() {
            "min" | "max" | "abs" | "clamp" => !self.env.names.contains_key(&name.name),
            other => BUILTINS.contains(&other),
        };
        let found = if builtin {
            self.builtin_def(&name.name)
        } else {
            match self.env.names.get(&name.name) {
                Some((Name::Func(_), _)) => self.value_def(&name.name),
                _ => None,
            }
        };
        match found {
            Some(d) => self.occurs(name.span, d),
            None => self.out.unresolved.push(name.span),
        }
        for a in args {
            self.expr(a);
        }
        let name_arg = |i: usize| match args.get(i) {
            Some(Expr {
                kind: ExprKind::Str(s),
                span,
            }) => Some((s.as_str(), *span)),
            _ => None,
        };
        match name.name.as_str() {
            "get_attribute" | "set_attribute" if builtin => {
                if let Some((attr, span)) = name_arg(1)
                    && let Some(Ty::Cap(class)) = args.first().and_then(|a| self.ty_of(a))
                    && let Some(d) = self.attr_def(class, attr)
                {
                    self.occurs(span, d);
                }
            }
            "raise_event" if builtin => {
                if let Some((event, span)) = name_arg(0)
                    && let Some(d) = self.event_def(event)
                {
                    self.occurs(span, d);
                }
            }
            _ => {}
        }
    }

    /// The type of an expression, as far as naming fields and attributes
    /// needs it: variables, elements, fields and calls.
    fn ty_of(&self, e: &Expr) -> Option<Ty> {
        match &e.kind {
            ExprKind::Int(_) => Some(Ty::Int),
            ExprKind::Bool(_) => Some(Ty::Bool),
            ExprKind::Var(name) => match self.lookup(&name.name) {
                Some(v) => Some(v.ty),
                None => match self.env.names.get(&name.name)? {
                    (Name::Global(g), _) => self.env.globals.get(*g).map(|g| g.ty),
                    (Name::Const(Const::Int(_)), _) => Some(Ty::Int),
                    (Name::Const(Const::Bool(_)), _) => Some(Ty::Bool),
                    (Name::Func(_), _) => None,
                },
            },
            ExprKind::Index(base, _) => match self.ty_of(base)? {
                Ty::Array { elem, .. } => Some(elem.ty()),
                _ => None,
            },
            ExprKind::Field(base, field) => match self.ty_of(base)? {
                Ty::Struct(s) => {
                    let fields = &self.env.structs.get(s.index())?.fields;
                    fields.iter().find(|(n, _)| *n == field.name).map(|(_, t)| *t)
                }
                _ => None,
            },
            ExprKind::Call(name, args) => match name.name.as_str() {
                "get_attribute" => {
                    let Some(Expr {
                        kind: ExprKind::Str(attr),
                        ..
                    }) = args.get(1)
                    else {
                        return None;
                    };
                    let Ty::Cap(class) = self.ty_of(args.first()?)? else {
                        return None;
                    };
                    self.env.attr(class, attr).map(|(_, a)| a.ty)
                }
                "now_us" | "size" => Some(Ty::Int),
                _ => match self.env.names.get(&name.name) {
                    Some((Name::Func(f), _)) => self.env.funcs.get(*f).map(|f| f.ret),
                    None if matches!(name.name.as_str(), "min" | "max" | "abs" | "clamp") => Some(Ty::Int),
                    _ => None,
                },
            },
            _ => None,
        }
    }
}

/// What an array of `ty` holds, as lowering allows it.
fn elem_of(ty: Ty) -> Option<Elem> {
    match ty {
        Ty::Int => Some(Elem::Int),
        Ty::Bool => Some(Elem::Bool),
        Ty::Cap(c) => Some(Elem::Cap(c)),
        Ty::Struct(s) => Some(Elem::Struct(s)),
        _ => None,
    }
}

/// An attribute's declaration: `int period readonly`,
/// `int adj range(-1000, 1000)`.
fn attr_detail(a: &crate::sema::AttrInfo) -> String {
    let mut s = format!("{} {}", if a.ty == Ty::Bool { "bool" } else { "int" }, a.name);
    if a.readonly {
        s += " readonly";
    }
    if let Some((lo, hi)) = a.range {
        s += &format!(" range({lo}, {hi})");
    }
    s
}

/// At most a line's worth of an initializer.
fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}

/// The `//` comment lines just above the line of byte `at` (up to a line that
/// is not one), else the `//` comment at the end of that line.
fn doc_comment(text: &str, at: usize) -> Option<String> {
    let at = at.min(text.len());
    let line_start = text.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    let mut above: Vec<&str> = Vec::new();
    for line in text.get(..line_start)?.lines().rev() {
        match line.trim().strip_prefix("//") {
            Some(comment) => above.push(comment.trim()),
            None => break,
        }
    }
    if !above.is_empty() {
        above.reverse();
        return Some(above.join("\n"));
    }
    let rest = text.get(at..)?.lines().next().unwrap_or("");
    let (code, comment) = rest.split_once("//")?;
    // Not `//` inside a string or a block comment.
    if code.contains('"') || code.contains("/*") {
        return None;
    }
    Some(comment.trim().to_owned()).filter(|c| !c.is_empty())
}

/// A file's first comment lines (a module's description).
fn leading_comment(text: &str) -> Option<String> {
    let lines: Vec<&str> = text
        .lines()
        .map_while(|l| l.trim().strip_prefix("//"))
        .map(str::trim)
        .collect();
    Some(lines.join("\n")).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where `word` occurs in `source` as a whole word.
    fn words(source: &str, word: &str) -> Vec<usize> {
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        source
            .match_indices(word)
            .map(|(at, _)| at)
            .filter(|&at| !ident(source[..at].chars().next_back()) && !ident(source[at + word.len()..].chars().next()))
            .collect()
    }

    /// The definition the `n`th occurrence (from 0) of word `word` in
    /// `source` resolves to.
    fn def_of<'s>(syms: &'s Symbols, source: &str, word: &str, n: usize) -> &'s Definition {
        let at = *words(source, word)
            .get(n)
            .unwrap_or_else(|| panic!("no {n}th `{word}`"));
        let (_, d) = syms
            .at(at as u32)
            .unwrap_or_else(|| panic!("nothing at the {n}th `{word}`"));
        d
    }

    /// The line and column (1-based) a definition is declared at.
    fn declared_at(source: &str, d: &Definition) -> (usize, usize) {
        let span = d.span.unwrap_or_else(|| panic!("{d:?} has no place"));
        let before = &source[..span.lo as usize];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        (line, col)
    }

    #[test]
    fn locals_shadow_and_scopes_end() {
        let src = "\
extension t;
int x = 1;
int f(int y) {
    int r = x;
    {
        int x = y;
        r = r + x;
    }
    r = r + x;
    int z = 2;
    return r + z;
}
";
        let s = symbols(src);
        let global = def_of(&s, src, "x", 1);
        assert_eq!(
            (global.kind, declared_at(src, global)),
            (SymbolKind::Global, (2, 5)),
            "before the block"
        );
        let inner = def_of(&s, src, "x", 2);
        assert_eq!((inner.kind, declared_at(src, inner)), (SymbolKind::Local, (6, 13)));
        assert_eq!(declared_at(src, def_of(&s, src, "x", 3)), (6, 13), "inside the block");
        assert_eq!(def_of(&s, src, "x", 4).kind, SymbolKind::Global, "after the block");
        let y = def_of(&s, src, "y", 1);
        assert_eq!(
            (y.kind, y.ty.as_str(), y.container.as_deref()),
            (SymbolKind::Param, "int", Some("f"))
        );
        assert!(s.unresolved.is_empty(), "{:?}", s.unresolved);
    }

    #[test]
    fn an_initializer_sees_the_name_its_declaration_shadows() {
        let src = "extension t;\nint f(int x) { { int x = x + 1; return x; } }\n";
        let s = symbols(src);
        // `int x = x + 1`: the right-hand `x` is the parameter.
        assert_eq!(def_of(&s, src, "x", 1).kind, SymbolKind::Local);
        assert_eq!(def_of(&s, src, "x", 2).kind, SymbolKind::Param);
        assert_eq!(def_of(&s, src, "x", 3).kind, SymbolKind::Local);
    }

    #[test]
    fn for_do_while_switch_and_try_scopes() {
        let src = "\
extension t;
int i = 0;
void f(int n) {
    for (int i = 0; i < n; i++) { n = n + i; }
    i = 1;
    do { int k = 1; n = n - k; } while (k > 0);
    switch (n) { case 1: int a = 1; n = a; break; default: n = a; }
    try { int b = 1; n = b; } handle Overflow { n = b; }
}
";
        let s = symbols(src);
        for n in [1, 2, 3, 4] {
            assert_eq!(def_of(&s, src, "i", n).kind, SymbolKind::Local, "i #{n} in the for");
        }
        assert_eq!(def_of(&s, src, "i", 5).kind, SymbolKind::Global, "i after the for");
        // The do-while's condition is outside its body's scope; so is the
        // next switch arm, and a try's handler.
        let unresolved: Vec<&str> = s
            .unresolved
            .iter()
            .map(|sp| &src[sp.lo as usize..sp.hi as usize])
            .collect();
        assert_eq!(unresolved, ["k", "a", "b"]);
        let compiled = crate::compile(src, &crate::Options::default());
        let p0101: Vec<&str> = compiled
            .diagnostics
            .iter()
            .filter(|d| d.code == "P0101")
            .map(|d| &src[d.span.lo as usize..d.span.hi as usize])
            .collect();
        assert_eq!(p0101, unresolved, "the compiler agrees");
    }

    #[test]
    fn constant_expressions_and_calls_see_no_locals() {
        let src = "\
extension t;
const int N = 4;
const bool ON = true;
int g(int v) { return v; }
int f(int N, int g) {
    int a[N];
    bool ON = false;
    while (ON) { return g(1); }
    switch (N) { case N: return 1; }
    return 0;
}
";
        let s = symbols(src);
        assert_eq!(def_of(&s, src, "N", 1).kind, SymbolKind::Param);
        let len = def_of(&s, src, "N", 2);
        assert_eq!((len.kind, len.detail.as_str()), (SymbolKind::Const, "const int N = 4"));
        assert_eq!(def_of(&s, src, "a", 0).ty, "int[4]");
        // `while (ON)` is `while (true)` to lowering.
        assert_eq!(def_of(&s, src, "ON", 2).kind, SymbolKind::Const);
        let call = def_of(&s, src, "g", 2);
        assert_eq!(
            (call.kind, call.detail.as_str()),
            (SymbolKind::Function, "int g(int v)")
        );
        assert_eq!(def_of(&s, src, "N", 3).kind, SymbolKind::Param, "the switch's value");
        assert_eq!(def_of(&s, src, "N", 4).kind, SymbolKind::Const, "the case label");
    }

    #[test]
    fn fields_attributes_events_and_types() {
        let src = "\
extension t;
import cpu;
struct sample { int t; bool ok; }
struct sample hist[4];
event Tick;
monitor void m(cap<cpu_qos> app) {
    hist[1].t = get_attribute(app, \"period\");
    raise_event(\"Tick\", fx_mul(hist[1].t, 2));
}
handler void h(cap<cpu_qos> app, int v) on \"Tick\" { set_attribute(app, \"timeslice_adjustment\", v); }
";
        let s = symbols(src);
        let field = def_of(&s, src, "t", 3);
        assert_eq!(
            (field.kind, field.ty.as_str(), field.container.as_deref()),
            (SymbolKind::Field, "int", Some("struct sample"))
        );
        assert_eq!(declared_at(src, field), (3, 21));
        let sample = def_of(&s, src, "sample", 1);
        assert_eq!((sample.kind, declared_at(src, sample)), (SymbolKind::Struct, (3, 8)));
        assert_eq!(sample.detail, "struct sample {\n    int t;\n    bool ok;\n}");
        assert_eq!(def_of(&s, src, "hist", 1).ty, "struct sample[4]");
        let period = def_of(&s, src, "\"period\"", 0);
        assert_eq!(
            (
                period.kind,
                period.detail.as_str(),
                period.module.as_deref(),
                period.span
            ),
            (SymbolKind::Attribute, "int period readonly", Some("cpu"), None)
        );
        assert_eq!(period.doc.as_deref(), Some("the application's period"));
        let adj = def_of(&s, src, "\"timeslice_adjustment\"", 0);
        assert_eq!(adj.detail, "int timeslice_adjustment range(-1000000, 1000000)");
        let class = def_of(&s, src, "cpu_qos", 0);
        assert_eq!((class.kind, class.module.as_deref()), (SymbolKind::Class, Some("cpu")));
        let tick = def_of(&s, src, "\"Tick\"", 0);
        assert_eq!((tick.kind, declared_at(src, tick)), (SymbolKind::Event, (5, 7)));
        assert_eq!(def_of(&s, src, "\"Tick\"", 1).span, tick.span, "the handler's event");
        let fx = def_of(&s, src, "fx_mul", 0);
        assert_eq!(
            (fx.kind, fx.detail.as_str(), fx.span),
            (SymbolKind::Function, "int fx_mul(int a, int b)", None)
        );
        assert_eq!(fx.doc.as_deref(), Some("a * b for per-mille fixed-point values."));
        let get = def_of(&s, src, "get_attribute", 0);
        assert_eq!(get.kind, SymbolKind::Builtin);
        assert_eq!(def_of(&s, src, "cpu", 0).kind, SymbolKind::Module);
        assert!(s.unresolved.is_empty(), "{:?}", s.unresolved);
    }

    #[test]
    fn a_name_defined_twice_resolves_to_the_kept_definition() {
        let src = "extension t;\nint a = 1;\nbool a = true;\nint f() { return a; }\n";
        let s = symbols(src);
        let a = def_of(&s, src, "a", 2);
        assert_eq!((a.ty.as_str(), declared_at(src, a)), ("int", (2, 5)));
        // The second declaration is not a definition anything resolves to.
        assert!(s.at(src.find("bool a").unwrap() as u32 + 5).is_none());
    }

    #[test]
    fn a_file_with_syntax_errors_still_resolves_what_parsed() {
        let src = "extension t;\nint g = 0;\nint f(int v) {\n    int w = v +;\n    return v + g;\n}\n";
        assert!(crate::parse(src).is_err());
        let s = symbols(src);
        assert_eq!(def_of(&s, src, "v", 2).kind, SymbolKind::Param);
        assert_eq!(def_of(&s, src, "g", 1).kind, SymbolKind::Global);
        assert!(symbols("int (((((").occurrences.is_empty());
        assert!(symbols("").occurrences.is_empty());
    }

    #[test]
    fn a_file_that_ends_inside_a_declaration_resolves_as_if_closed() {
        for (src, word, n, kind) in [
            (
                "extension t;\nint g = 0;\nint f(int v) {\n    if (v > 0) { return v + g",
                "g",
                1,
                SymbolKind::Global,
            ),
            (
                "extension t;\nint g = 0;\nint f(int v) {\n    return v + g;\n}\nint h(",
                "v",
                1,
                SymbolKind::Param,
            ),
            (
                "extension t;\nint g = 0;\nint f(int v) { /* v",
                "v",
                0,
                SymbolKind::Param,
            ),
            (
                "extension t;\nint f(int v) { int w = v; // {\n w = w + v; raise_event(\"E",
                "w",
                2,
                SymbolKind::Local,
            ),
        ] {
            assert!(parse_recovering(src).0.is_none(), "{src}");
            let s = symbols(src);
            assert_eq!(def_of(&s, src, word, n).kind, kind, "{src}");
            assert!(s.occurrences.iter().all(|o| o.span.hi as usize <= src.len()), "{src}");
        }
    }

    #[test]
    fn a_large_file_resolves_the_standard_library_s_names() {
        // Modules are parsed after as many spaces as the file has bytes:
        // more than a format width can hold. (One long comment line: in
        // debug builds, thousands of comment lines overflow a test thread's
        // stack in the lexer.)
        let src = format!(
            "extension t;\nimport cpu;\n// {}\nint f(int a) {{ return fx_mul(a, 2); }}\n",
            "x".repeat(100_000)
        );
        let s = symbols(&src);
        let fx = def_of(&s, &src, "fx_mul", 0);
        assert_eq!((fx.kind, fx.module.as_deref()), (SymbolKind::Function, Some("cpu")));
    }

    #[test]
    fn docs_are_the_comments_above_or_after() {
        let src = "extension t;\n// the gain\n// per mille\nconst int K = 5;\nint e = 0; // the error\n\nint x = 0;\n";
        let s = symbols(src);
        assert_eq!(def_of(&s, src, "K", 0).doc.as_deref(), Some("the gain\nper mille"));
        assert_eq!(def_of(&s, src, "e", 0).doc.as_deref(), Some("the error"));
        assert_eq!(def_of(&s, src, "x", 0).doc, None);
    }
}
