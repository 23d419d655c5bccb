//! Declarations: everything a function body can name, resolved once.
//!
//! Imports are expanded first (their items are marked as standard library),
//! then constants are evaluated, and structs, classes, events, globals and
//! function signatures get their TAL indices. A pass over the bodies' calls
//! builds the call graph, which gives recursion errors and, for each plain
//! function, the capability rights its body needs.

use crate::ast::*;
use crate::diag::Diagnostic;
use std::collections::HashMap;
use tal_ir::{AttrType, ClassId, EventId, GlobalId, Rights, StructId};

/// A front-end type.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Ty {
    Int,
    Bool,
    Void,
    Cap(ClassId),
    Struct(StructId),
    /// An array object; `len` is `None` for an `int a[]` parameter.
    Array {
        elem: Elem,
        len: Option<u32>,
    },
    /// The type of an expression that already has an error.
    Error,
}

/// What an array holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Elem {
    Int,
    Bool,
    Cap(ClassId),
    Struct(StructId),
}

impl Elem {
    pub fn ty(self) -> Ty {
        match self {
            Elem::Int => Ty::Int,
            Elem::Bool => Ty::Bool,
            Elem::Cap(c) => Ty::Cap(c),
            Elem::Struct(s) => Ty::Struct(s),
        }
    }
}

/// Where an item comes from: the file being compiled or the standard library.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Origin {
    User,
    Stdlib,
}

pub(crate) struct StructInfo {
    pub name: String,
    pub fields: Vec<(String, Ty)>,
    /// Where each field is declared.
    pub field_spans: Vec<Span>,
}

pub(crate) struct ClassInfo {
    pub name: String,
    pub attrs: Vec<AttrInfo>,
}

pub(crate) struct AttrInfo {
    pub name: String,
    pub ty: Ty,
    pub readonly: bool,
    pub range: Option<(i64, i64)>,
}

pub(crate) struct GlobalInfo {
    pub ty: Ty,
    pub init: tal_ir::GlobalInit,
    pub id: GlobalId,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Const {
    Int(i64),
    Bool(bool),
}

pub(crate) struct FuncInfo<'a> {
    pub decl: &'a FuncDecl,
    pub origin: Origin,
    pub params: Vec<Ty>,
    pub ret: Ty,
    /// Rights of its capability values.
    pub rights: Rights,
    /// Whether it, or anything it calls, writes attributes: guards may not
    /// call it.
    pub writes: bool,
    /// Whether it is emitted: user functions always, library functions when
    /// something emitted calls them.
    pub emitted: bool,
}

/// A global name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Name {
    Const(Const),
    Global(usize),
    Func(usize),
}

/// The resolved declarations of one compilation unit.
pub(crate) struct Env<'a> {
    pub extension: Option<Ident>,
    pub budget: Option<u64>,
    pub budget_span: Option<Span>,
    pub structs: Vec<StructInfo>,
    pub struct_names: HashMap<String, StructId>,
    pub classes: Vec<ClassInfo>,
    pub class_names: HashMap<String, ClassId>,
    pub events: Vec<String>,
    pub event_names: HashMap<String, EventId>,
    pub event_decls: Vec<Span>,
    pub globals: Vec<GlobalInfo>,
    pub global_names: Vec<String>,
    pub funcs: Vec<FuncInfo<'a>>,
    pub names: HashMap<String, (Name, Span)>,
    /// Events some `raise_event` of this unit names.
    pub raised: std::collections::HashSet<String>,
    /// Whether the unit is part of the standard library (may declare guards).
    pub stdlib: bool,
}

/// The names the SafeX API reserves for its builtins.
pub(crate) const BUILTINS: &[&str] = &[
    "get_attribute",
    "set_attribute",
    "raise_event",
    "now_us",
    "block",
    "trace",
    "size",
];

/// The files of a compilation unit: the source and its imports, parsed.
pub(crate) struct Unit {
    pub files: Vec<(SourceFile, Origin)>,
}

/// Why an expression has no constant value: code, place, message.
pub(crate) type ConstError = (&'static str, Span, String);

/// The maximum number of elements of one array.
const MAX_ARRAY_LEN: i64 = 1 << 20;

/// The event a host raises on an application's channel when one of its
/// invocations aborts (`runtime::host::EXCEPTION_EVENT`).
pub(crate) const EXCEPTION_EVENT: &str = "Exception";

impl<'a> Env<'a> {
    pub fn collect(unit: &'a Unit, stdlib: bool, diags: &mut Vec<Diagnostic>) -> Env<'a> {
        let mut env = Env {
            extension: None,
            budget: None,
            budget_span: None,
            structs: Vec::new(),
            struct_names: HashMap::new(),
            classes: Vec::new(),
            class_names: HashMap::new(),
            events: Vec::new(),
            event_names: HashMap::new(),
            event_decls: Vec::new(),
            globals: Vec::new(),
            global_names: Vec::new(),
            funcs: Vec::new(),
            names: HashMap::new(),
            raised: Default::default(),
            stdlib,
        };
        // Types first, so that globals and signatures can name any of them.
        for (file, origin) in &unit.files {
            for item in &file.items {
                match item {
                    Item::Struct(s) => env.declare_struct_name(s, diags),
                    Item::Class(c) => env.declare_class(c, diags),
                    Item::Event(e) => env.declare_event(e, diags),
                    Item::Extension(name) if *origin == Origin::User => {
                        if env.extension.is_some() {
                            diags.push(Diagnostic::error(
                                "P0110",
                                name.span,
                                "a second `extension` declaration",
                            ));
                        }
                        env.extension = Some(name.clone());
                    }
                    _ => {}
                }
            }
        }
        // `Exception` is built in: the host raises it when an invocation
        // aborts. A handler on it declares it, unless the program did.
        if !env.event_names.contains_key(EXCEPTION_EVENT) {
            let handler = unit
                .files
                .iter()
                .flat_map(|(file, _)| &file.items)
                .find_map(|item| match item {
                    Item::Func(f) => match &f.kind {
                        FuncKind::Handler { event } if event.value == EXCEPTION_EVENT => Some(event.span),
                        _ => None,
                    },
                    _ => None,
                });
            if let Some(span) = handler {
                let name = Ident {
                    name: EXCEPTION_EVENT.into(),
                    span,
                };
                env.declare_event(&name, diags);
            }
        }
        for (file, _) in &unit.files {
            for item in &file.items {
                if let Item::Struct(s) = item {
                    env.define_struct_fields(s, diags);
                }
            }
        }
        env.check_struct_cycles(diags);
        for (file, origin) in &unit.files {
            for item in &file.items {
                match item {
                    Item::Const(c) => env.declare_const(c, diags),
                    Item::Global(g) => env.declare_global(g, diags),
                    Item::Func(f) => env.declare_func(f, *origin, diags),
                    Item::Budget(e) if *origin == Origin::User => env.declare_budget(e, diags),
                    Item::Extern(x) => env.check_extern(x, diags),
                    _ => {}
                }
            }
        }
        env
    }

    fn declare_budget(&mut self, e: &Expr, diags: &mut Vec<Diagnostic>) {
        if let Some(first) = self.budget_span.replace(e.span) {
            let d = Diagnostic::error("P0110", e.span, "a second `budget` declaration");
            diags.push(d.with_label(first, "first declared here"));
            return;
        }
        match self.const_eval(e, diags) {
            Some(Const::Int(n)) if n > 0 => self.budget = Some(n as u64),
            Some(_) => diags.push(Diagnostic::error(
                "P0211",
                e.span,
                "`budget` must be a positive integer",
            )),
            None => {}
        }
    }

    fn declare_name(&mut self, name: &Ident, what: Name, diags: &mut Vec<Diagnostic>) -> bool {
        if BUILTINS.contains(&name.name.as_str()) {
            diags.push(
                Diagnostic::error(
                    "P0102",
                    name.span,
                    format!("`{}` is a SafeX API builtin and cannot be redefined", name.name),
                )
                .with_help("choose another name"),
            );
            return false;
        }
        if let Some((_, first)) = self.names.get(&name.name) {
            diags.push(
                Diagnostic::error("P0102", name.span, format!("`{}` is defined twice", name.name))
                    .with_label(*first, "first defined here"),
            );
            return false;
        }
        self.names.insert(name.name.clone(), (what, name.span));
        true
    }

    fn declare_struct_name(&mut self, s: &StructDecl, diags: &mut Vec<Diagnostic>) {
        if self.struct_names.contains_key(&s.name.name) {
            diags.push(Diagnostic::error(
                "P0102",
                s.name.span,
                format!("struct `{}` is defined twice", s.name.name),
            ));
            return;
        }
        let id = StructId(self.structs.len() as u32);
        self.struct_names.insert(s.name.name.clone(), id);
        self.structs.push(StructInfo {
            name: s.name.name.clone(),
            fields: Vec::new(),
            field_spans: Vec::new(),
        });
    }

    fn define_struct_fields(&mut self, s: &StructDecl, diags: &mut Vec<Diagnostic>) {
        let Some(&id) = self.struct_names.get(&s.name.name) else {
            return;
        };
        if !self.structs[id.index()].fields.is_empty() {
            return; // the duplicate was reported
        }
        let mut fields: Vec<(String, Ty)> = Vec::new();
        let mut spans = Vec::new();
        for f in &s.fields {
            if f.len.is_some() {
                diags.push(
                    Diagnostic::error("P0212", f.span, "arrays inside structs are not supported")
                        .with_help("use an array of structs, or separate fields"),
                );
                continue;
            }
            let ty = self.resolve_type(&f.ty, diags);
            if matches!(ty, Ty::Void) {
                diags.push(Diagnostic::error("P0201", f.span, "a field cannot be `void`"));
            }
            if fields.iter().any(|(n, _)| *n == f.name.name) {
                diags.push(Diagnostic::error(
                    "P0102",
                    f.name.span,
                    format!("field `{}` is defined twice", f.name.name),
                ));
                continue;
            }
            if ty == Ty::Struct(id) {
                diags.push(Diagnostic::error(
                    "P0212",
                    f.span,
                    format!("struct `{}` contains itself", s.name.name),
                ));
                continue;
            }
            fields.push((f.name.name.clone(), ty));
            spans.push(f.span);
        }
        self.structs[id.index()].fields = fields;
        self.structs[id.index()].field_spans = spans;
    }

    /// A struct that contains itself through other structs (`struct a {
    /// struct b x; } struct b { struct a y; }`) has no finite size: the
    /// field that closes the cycle is reported and dropped, so that every
    /// walk over nested structs ends.
    fn check_struct_cycles(&mut self, diags: &mut Vec<Diagnostic>) {
        for id in 0..self.structs.len() {
            let mut i = 0;
            while i < self.structs[id].fields.len() {
                if let Ty::Struct(inner) = self.structs[id].fields[i].1
                    && self.contains_struct(inner, StructId(id as u32))
                {
                    let (name, through) = (&self.structs[id].name, &self.structs[inner.index()].name);
                    diags.push(Diagnostic::error(
                        "P0212",
                        self.structs[id].field_spans[i],
                        format!("struct `{name}` contains itself (through `struct {through}`)"),
                    ));
                    self.structs[id].fields.remove(i);
                    self.structs[id].field_spans.remove(i);
                    continue;
                }
                i += 1;
            }
        }
    }

    /// Whether struct `outer` is `inner` or holds it, nested in place.
    fn contains_struct(&self, outer: StructId, inner: StructId) -> bool {
        let mut seen = vec![false; self.structs.len()];
        let mut work = vec![outer];
        while let Some(s) = work.pop() {
            if s == inner {
                return true;
            }
            if std::mem::replace(&mut seen[s.index()], true) {
                continue;
            }
            for (_, ty) in &self.structs[s.index()].fields {
                if let Ty::Struct(t) = ty {
                    work.push(*t);
                }
            }
        }
        false
    }

    /// The scalar fields of struct `s`, nested structs flattened in layout
    /// order: each field's path of field indices from `s`, and its type.
    /// `None` when there are more than `max` (a struct of nested structs
    /// can have exponentially many).
    pub fn struct_scalars(&self, s: StructId, max: usize) -> Option<Vec<(Vec<u32>, Ty)>> {
        let mut out = Vec::new();
        // The structs being walked, outermost first, each with the index of
        // its next field: a loop, as nesting may be as deep as there are
        // structs.
        let mut stack: Vec<(StructId, usize)> = vec![(s, 0)];
        while let Some((s, next)) = stack.last_mut() {
            let Some((_, ty)) = self.structs[s.index()].fields.get(*next) else {
                stack.pop();
                continue;
            };
            *next += 1;
            match *ty {
                Ty::Struct(inner) => stack.push((inner, 0)),
                ty => {
                    if out.len() == max {
                        return None;
                    }
                    let path = stack.iter().map(|&(_, next)| next as u32 - 1).collect();
                    out.push((path, ty));
                }
            }
        }
        Some(out)
    }

    /// Whether struct `s` holds a capability, in a nested struct included.
    pub fn struct_has_cap(&self, s: StructId) -> bool {
        let mut seen = vec![false; self.structs.len()];
        let mut work = vec![s];
        while let Some(s) = work.pop() {
            if std::mem::replace(&mut seen[s.index()], true) {
                continue;
            }
            for (_, ty) in &self.structs[s.index()].fields {
                match ty {
                    Ty::Cap(_) => return true,
                    Ty::Struct(t) => work.push(*t),
                    _ => {}
                }
            }
        }
        false
    }

    fn declare_class(&mut self, c: &ClassDecl, diags: &mut Vec<Diagnostic>) {
        if self.class_names.contains_key(&c.name.name) {
            diags.push(Diagnostic::error(
                "P0102",
                c.name.span,
                format!("class `{}` is defined twice", c.name.name),
            ));
            return;
        }
        let mut attrs: Vec<AttrInfo> = Vec::new();
        for a in &c.attrs {
            let ty = self.resolve_type(&a.ty, diags);
            if !matches!(ty, Ty::Int | Ty::Bool) {
                diags.push(Diagnostic::error("P0201", a.span, "attributes are `int` or `bool`"));
                continue;
            }
            if attrs.iter().any(|x| x.name == a.name.name) {
                diags.push(Diagnostic::error(
                    "P0102",
                    a.name.span,
                    format!("attribute `{}` is defined twice", a.name.name),
                ));
                continue;
            }
            let range = match &a.range {
                None => None,
                Some((lo, hi)) => match (self.const_eval(lo, diags), self.const_eval(hi, diags)) {
                    (Some(Const::Int(lo)), Some(Const::Int(hi))) if lo <= hi && ty == Ty::Int => Some((lo, hi)),
                    (Some(_), Some(_)) => {
                        diags.push(Diagnostic::error(
                            "P0211",
                            a.span,
                            "a range is two integers `lo <= hi` on an `int`",
                        ));
                        None
                    }
                    _ => None,
                },
            };
            attrs.push(AttrInfo {
                name: a.name.name.clone(),
                ty,
                readonly: a.readonly,
                range,
            });
        }
        self.class_names
            .insert(c.name.name.clone(), ClassId(self.classes.len() as u32));
        self.classes.push(ClassInfo {
            name: c.name.name.clone(),
            attrs,
        });
    }

    fn declare_event(&mut self, e: &Ident, diags: &mut Vec<Diagnostic>) {
        if let Some(&id) = self.event_names.get(&e.name) {
            diags.push(
                Diagnostic::error("P0102", e.span, format!("event `{}` is declared twice", e.name))
                    .with_label(self.event_decls[id.index()], "first declared here"),
            );
            return;
        }
        self.event_names
            .insert(e.name.clone(), EventId(self.events.len() as u32));
        self.events.push(e.name.clone());
        self.event_decls.push(e.span);
    }

    fn declare_const(&mut self, c: &VarDecl, diags: &mut Vec<Diagnostic>) {
        let ty = self.resolve_type(&c.ty, diags);
        if c.len.is_some() || !matches!(ty, Ty::Int | Ty::Bool) {
            diags.push(Diagnostic::error(
                "P0211",
                c.span,
                "constants are `int` or `bool` values",
            ));
            return;
        }
        let value = match &c.init {
            Some(Init::Expr(e)) => self.const_eval(e, diags),
            _ => {
                diags.push(Diagnostic::error(
                    "P0211",
                    c.span,
                    "a constant needs a value: `const int N = 10;`",
                ));
                None
            }
        };
        let Some(value) = value else { return };
        if matches!((ty, value), (Ty::Int, Const::Bool(_)) | (Ty::Bool, Const::Int(_))) {
            diags.push(Diagnostic::error(
                "P0201",
                c.span,
                "the constant's value does not have its type",
            ));
            return;
        }
        self.declare_name(&c.name, Name::Const(value), diags);
    }

    fn declare_global(&mut self, g: &VarDecl, diags: &mut Vec<Diagnostic>) {
        let elem_ty = self.resolve_type(&g.ty, diags);
        let ty = match &g.len {
            None => elem_ty,
            Some(len) => match (self.array_len(len, diags), self.elem(elem_ty, g.ty.span(), diags)) {
                (Some(len), Some(elem)) => Ty::Array { elem, len: Some(len) },
                _ => Ty::Error,
            },
        };
        if ty == Ty::Void {
            diags.push(Diagnostic::error("P0201", g.span, "a variable cannot be `void`"));
            return;
        }
        let init = match (&g.init, ty) {
            (None, _) => tal_ir::GlobalInit::Zero,
            (Some(Init::Expr(e)), Ty::Int) => match self.const_eval(e, diags) {
                Some(Const::Int(n)) => tal_ir::GlobalInit::Int(n),
                Some(Const::Bool(_)) => self.init_error(e.span, "an `int` global needs an integer", diags),
                None => tal_ir::GlobalInit::Zero,
            },
            (Some(Init::Expr(e)), Ty::Bool) => match self.const_eval(e, diags) {
                Some(Const::Bool(b)) => tal_ir::GlobalInit::Bool(b),
                Some(Const::Int(_)) => self.init_error(e.span, "a `bool` global needs `true` or `false`", diags),
                None => tal_ir::GlobalInit::Zero,
            },
            (
                Some(Init::List(items, span)),
                Ty::Array {
                    elem: Elem::Int,
                    len: Some(len),
                },
            ) => {
                if items.len() > len as usize {
                    self.init_error(*span, format!("{} values for an array of {len}", items.len()), diags)
                } else {
                    let values: Vec<i64> = items
                        .iter()
                        .map(|e| match self.const_eval(e, diags) {
                            Some(Const::Int(n)) => n,
                            Some(Const::Bool(_)) => {
                                diags.push(Diagnostic::error("P0201", e.span, "expected an integer"));
                                0
                            }
                            None => 0,
                        })
                        .collect();
                    tal_ir::GlobalInit::Ints(values)
                }
            }
            (Some(init), Ty::Error) => {
                let _ = init;
                tal_ir::GlobalInit::Zero
            }
            (Some(_), _) => self.init_error(
                g.span,
                "globals are initialized with a constant (`int`, `bool`) or a list of integers (`int` arrays); \
                 others start zeroed",
                diags,
            ),
        };
        let index = self.globals.len();
        if self.declare_name(&g.name, Name::Global(index), diags) {
            self.globals.push(GlobalInfo {
                ty,
                init,
                id: GlobalId(index as u32),
            });
            self.global_names.push(g.name.name.clone());
        }
    }

    fn init_error(&self, span: Span, msg: impl Into<String>, diags: &mut Vec<Diagnostic>) -> tal_ir::GlobalInit {
        diags.push(Diagnostic::error("P0211", span, msg));
        tal_ir::GlobalInit::Zero
    }

    fn declare_func(&mut self, f: &'a FuncDecl, origin: Origin, diags: &mut Vec<Diagnostic>) {
        let ret = self.resolve_type(&f.ret, diags);
        let mut params = Vec::new();
        for p in &f.params {
            let ty = self.resolve_type(&p.ty, diags);
            let ty = if p.array {
                match self.elem(ty, p.span, diags) {
                    Some(elem) => Ty::Array { elem, len: None },
                    None => Ty::Error,
                }
            } else {
                ty
            };
            if ty == Ty::Void {
                diags.push(Diagnostic::error("P0201", p.span, "a parameter cannot be `void`"));
            }
            // A reported parameter type absorbs its uses' errors. A struct
            // is passed by value (`lower`: a copy the caller makes).
            params.push(if ty == Ty::Void { Ty::Error } else { ty });
        }
        let ret = if matches!(ret, Ty::Cap(_) | Ty::Array { .. }) {
            diags.push(Diagnostic::error(
                "P0212",
                f.ret.span(),
                "functions return `int`, `bool`, a struct or `void`",
            ));
            Ty::Error
        } else {
            ret
        };
        // Guards get the guard right and never write; every other function's
        // capabilities read and write (what a guard may call is checked at
        // its calls).
        let rights = match f.kind {
            FuncKind::Guard { .. } => Rights::READ.union(Rights::GUARD),
            _ => Rights::READ.union(Rights::WRITE),
        };
        let index = self.funcs.len();
        if self.declare_name(&f.name, Name::Func(index), diags) {
            let emitted = origin == Origin::User;
            self.funcs.push(FuncInfo {
                decl: f,
                origin,
                params,
                ret,
                rights,
                writes: false,
                emitted,
            });
        }
    }

    fn check_extern(&self, x: &ExternDecl, diags: &mut Vec<Diagnostic>) {
        if !BUILTINS.contains(&x.name.name.as_str()) {
            diags.push(
                Diagnostic::error(
                    "P0304",
                    x.span,
                    format!(
                        "`extern` declaration of `{}`: extensions link against nothing but the SafeX API",
                        x.name.name
                    ),
                )
                .with_help("the SafeX API (get_attribute, set_attribute, raise_event, now_us) needs no declaration"),
            );
        }
    }

    pub fn resolve_type(&self, t: &TypeExpr, diags: &mut Vec<Diagnostic>) -> Ty {
        match t {
            TypeExpr::Void(_) => Ty::Void,
            TypeExpr::Int(_) => Ty::Int,
            TypeExpr::Bool(_) => Ty::Bool,
            TypeExpr::Struct(name, _) => match self.struct_names.get(&name.name) {
                Some(&id) => Ty::Struct(id),
                None => {
                    diags.push(Diagnostic::error(
                        "P0106",
                        name.span,
                        format!("unknown struct `{}`", name.name),
                    ));
                    Ty::Error
                }
            },
            TypeExpr::Cap(class, _) => match self.class_names.get(&class.name) {
                Some(&id) => Ty::Cap(id),
                None => {
                    diags.push(
                        Diagnostic::error(
                            "P0103",
                            class.span,
                            format!(
                                "unknown attribute class `{}`{}",
                                class.name,
                                crate::suggest::did_you_mean(&class.name, self.class_names.keys().map(String::as_str))
                            ),
                        )
                        .with_help(
                            "classes come from `import` (e.g. `import cpu;` for `cpu_qos`) or `attribute class`",
                        ),
                    );
                    Ty::Error
                }
            },
            TypeExpr::Pointer(_, span) => {
                diags.push(pointer_error(*span, "pointer type"));
                Ty::Error
            }
        }
    }

    /// The element type of an array of `ty`.
    fn elem(&self, ty: Ty, span: Span, diags: &mut Vec<Diagnostic>) -> Option<Elem> {
        match ty {
            Ty::Int => Some(Elem::Int),
            Ty::Bool => Some(Elem::Bool),
            Ty::Cap(c) => Some(Elem::Cap(c)),
            Ty::Struct(s) => Some(Elem::Struct(s)),
            Ty::Error => None,
            Ty::Void | Ty::Array { .. } => {
                diags.push(Diagnostic::error(
                    "P0201",
                    span,
                    "arrays hold `int`, `bool`, capabilities or structs",
                ));
                None
            }
        }
    }

    pub fn array_len(&self, len: &Expr, diags: &mut Vec<Diagnostic>) -> Option<u32> {
        match self.const_eval(len, diags)? {
            Const::Int(n) if (1..=MAX_ARRAY_LEN).contains(&n) => Some(n as u32),
            _ => {
                diags.push(Diagnostic::error(
                    "P0211",
                    len.span,
                    format!("an array length is a constant integer from 1 to {MAX_ARRAY_LEN}"),
                ));
                None
            }
        }
    }

    /// Evaluates a constant expression; `None` (with a diagnostic) if it is
    /// not one or does not fit.
    pub fn const_eval(&self, e: &Expr, diags: &mut Vec<Diagnostic>) -> Option<Const> {
        match self.try_const(e) {
            Ok(c) => Some(c),
            Err((code, span, msg)) => {
                diags.push(Diagnostic::error(code, span, msg));
                None
            }
        }
    }

    /// Constant evaluation without reporting: `Err` says why not (`P0210`: the
    /// arithmetic fails; `P0211`: not a constant expression).
    pub fn try_const(&self, e: &Expr) -> Result<Const, ConstError> {
        let int = |c: Const, span: Span| match c {
            Const::Int(n) => Ok(n),
            Const::Bool(_) => Err(("P0211", span, "expected an integer constant".to_owned())),
        };
        let overflow = || {
            (
                "P0210",
                e.span,
                "constant overflow: the value does not fit `int`".to_owned(),
            )
        };
        match &e.kind {
            ExprKind::Int(n) => i64::try_from(*n).map(Const::Int).map_err(|_| overflow()),
            ExprKind::Bool(b) => Ok(Const::Bool(*b)),
            ExprKind::Var(name) => match self.names.get(&name.name) {
                Some((Name::Const(c), _)) => Ok(*c),
                _ => Err(("P0211", name.span, format!("`{}` is not a constant", name.name))),
            },
            ExprKind::Unary(UnOp::Neg, inner) => {
                // `-9223372036854775808` is a literal, not an overflow.
                if let ExprKind::Int(n) = inner.kind
                    && n == 1 << 63
                {
                    return Ok(Const::Int(i64::MIN));
                }
                let n = int(self.try_const(inner)?, inner.span)?;
                n.checked_neg().map(Const::Int).ok_or_else(overflow)
            }
            ExprKind::Unary(UnOp::BitNot, inner) => Ok(Const::Int(!int(self.try_const(inner)?, inner.span)?)),
            ExprKind::Unary(UnOp::Not, inner) => match self.try_const(inner)? {
                Const::Bool(b) => Ok(Const::Bool(!b)),
                Const::Int(_) => Err(("P0211", inner.span, "`!` needs a `bool`".into())),
            },
            ExprKind::Binary(op, l, r) => {
                let (a, b) = (self.try_const(l)?, self.try_const(r)?);
                if let (Const::Bool(x), Const::Bool(y)) = (a, b) {
                    return match op {
                        BinOp::And => Ok(Const::Bool(x && y)),
                        BinOp::Or => Ok(Const::Bool(x || y)),
                        BinOp::Eq => Ok(Const::Bool(x == y)),
                        BinOp::Ne => Ok(Const::Bool(x != y)),
                        _ => Err(("P0211", e.span, "this operator needs integers".into())),
                    };
                }
                let (x, y) = (int(a, l.span)?, int(b, r.span)?);
                let v = match op {
                    BinOp::Add => x.checked_add(y),
                    BinOp::Sub => x.checked_sub(y),
                    BinOp::Mul => x.checked_mul(y),
                    BinOp::Div | BinOp::Rem if y == 0 => {
                        return Err(("P0210", r.span, "division by zero in a constant".into()));
                    }
                    BinOp::Div => x.checked_div(y),
                    BinOp::Rem => x.checked_rem(y),
                    BinOp::Shl => shl(x, y),
                    BinOp::Shr => (0..64).contains(&y).then(|| x >> y),
                    BinOp::BitAnd => Some(x & y),
                    BinOp::BitOr => Some(x | y),
                    BinOp::BitXor => Some(x ^ y),
                    BinOp::Eq => return Ok(Const::Bool(x == y)),
                    BinOp::Ne => return Ok(Const::Bool(x != y)),
                    BinOp::Lt => return Ok(Const::Bool(x < y)),
                    BinOp::Le => return Ok(Const::Bool(x <= y)),
                    BinOp::Gt => return Ok(Const::Bool(x > y)),
                    BinOp::Ge => return Ok(Const::Bool(x >= y)),
                    BinOp::And | BinOp::Or => return Err(("P0211", e.span, "`&&` and `||` need `bool`s".into())),
                };
                v.map(Const::Int).ok_or_else(overflow)
            }
            _ => Err(("P0211", e.span, "expected a constant expression".into())),
        }
    }

    pub fn attr(&self, class: ClassId, name: &str) -> Option<(u32, &AttrInfo)> {
        let c = self.classes.get(class.index())?;
        c.attrs
            .iter()
            .enumerate()
            .find(|(_, a)| a.name == name)
            .map(|(i, a)| (i as u32, a))
    }

    pub fn type_name(&self, t: Ty) -> String {
        match t {
            Ty::Int => "int".into(),
            Ty::Bool => "bool".into(),
            Ty::Void => "void".into(),
            Ty::Cap(c) => format!("cap<{}>", self.classes[c.index()].name),
            Ty::Struct(s) => format!("struct {}", self.structs[s.index()].name),
            Ty::Array { elem, len: Some(n) } => format!("{}[{n}]", self.type_name(elem.ty())),
            Ty::Array { elem, len: None } => format!("{}[]", self.type_name(elem.ty())),
            Ty::Error => "{error}".into(),
        }
    }

    /// The TAL attribute type of an attribute.
    pub fn attr_type(a: &AttrInfo) -> AttrType {
        if a.ty == Ty::Bool {
            AttrType::Bool
        } else {
            AttrType::I64
        }
    }
}

/// `x << y` as the language defines it: amount in 0..=63, no bits lost.
pub(crate) fn shl(x: i64, y: i64) -> Option<i64> {
    if !(0..64).contains(&y) {
        return None;
    }
    let r = x << y;
    (r >> y == x).then_some(r)
}

pub(crate) fn pointer_error(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error(
        "P0302",
        span,
        format!("{what}: Popcorn-SX has no pointers; data is reached by name, by index and by field"),
    )
    .with_help("arrays are passed by reference as `int a[]`; capabilities are `cap<class>`")
}

impl TypeExpr {
    pub fn span(&self) -> Span {
        match self {
            TypeExpr::Void(s) | TypeExpr::Int(s) | TypeExpr::Bool(s) => *s,
            TypeExpr::Struct(_, s) | TypeExpr::Cap(_, s) | TypeExpr::Pointer(_, s) => *s,
        }
    }
}

/// The call graph of the bodies: recursion errors, which functions write
/// attributes, which events are raised, and which library functions are used.
pub(crate) fn analyze_calls(env: &mut Env, diags: &mut Vec<Diagnostic>) {
    let n = env.funcs.len();
    let mut callees: Vec<Vec<(usize, Span)>> = vec![Vec::new(); n];
    let mut writes = vec![false; n];
    let mut raised = std::collections::HashSet::new();
    for (i, f) in env.funcs.iter().enumerate() {
        let mut visit = |e: &Expr| {
            let ExprKind::Call(name, args) = &e.kind else { return };
            match env.names.get(&name.name) {
                // Calls of entry points are errors of their own, not recursion.
                Some((Name::Func(j), _)) if env.funcs[*j].decl.kind == FuncKind::Plain => {
                    callees[i].push((*j, name.span))
                }
                _ if name.name == "set_attribute" => writes[i] = true,
                _ if name.name == "raise_event" => {
                    if let Some(Expr {
                        kind: ExprKind::Str(event),
                        ..
                    }) = args.first()
                    {
                        raised.insert(event.clone());
                    }
                }
                _ => {}
            }
        };
        walk_block(&f.decl.body, &mut visit);
    }
    env.raised = raised;
    // Depth-first over the call graph: cycles are recursion; post-order
    // propagates the write right and marks used library functions.
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Open,
        Done,
    }
    let mut state = vec![State::New; n];
    for root in 0..n {
        if state[root] != State::New {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        state[root] = State::Open;
        while let Some(&mut (f, ref mut next)) = stack.last_mut() {
            if let Some(&(g, span)) = callees[f].get(*next) {
                *next += 1;
                match state[g] {
                    State::New => {
                        state[g] = State::Open;
                        stack.push((g, 0));
                    }
                    State::Open => {
                        let start = stack.iter().position(|&(h, _)| h == g).unwrap_or(0);
                        let names: Vec<&str> = stack[start..]
                            .iter()
                            .map(|&(h, _)| env.funcs[h].decl.name.name.as_str())
                            .collect();
                        let msg = if names.len() == 1 {
                            format!("recursion: `{}` calls itself", names[0])
                        } else {
                            format!("mutual recursion: {} -> {}", names.join(" -> "), names[0])
                        };
                        diags.push(Diagnostic::error("P0309", span, msg).with_help(
                            "without recursion every call returns and the stack bound is static; use a loop",
                        ));
                    }
                    State::Done => {}
                }
                continue;
            }
            stack.pop();
            state[f] = State::Done;
            for &(g, _) in &callees[f] {
                if state[g] == State::Done {
                    writes[f] |= writes[g];
                }
            }
        }
    }
    for (f, writes) in env.funcs.iter_mut().zip(writes) {
        f.writes = writes;
    }
    // Library functions are emitted when an emitted function calls them.
    let mut work: Vec<usize> = (0..n).filter(|&i| env.funcs[i].emitted).collect();
    while let Some(f) = work.pop() {
        for &(g, _) in &callees[f] {
            if !env.funcs[g].emitted {
                env.funcs[g].emitted = true;
                work.push(g);
            }
        }
    }
}

/// Calls `visit` on every expression of a block, outermost first.
pub(crate) fn walk_block(b: &Block, visit: &mut impl FnMut(&Expr)) {
    for s in &b.stmts {
        walk_stmt(s, visit);
    }
}

fn walk_stmt(s: &Stmt, visit: &mut impl FnMut(&Expr)) {
    match &s.kind {
        StmtKind::Local(v) => {
            if let Some(e) = &v.len {
                walk_expr(e, visit);
            }
            match &v.init {
                Some(Init::Expr(e)) => walk_expr(e, visit),
                Some(Init::List(es, _)) => es.iter().for_each(|e| walk_expr(e, visit)),
                None => {}
            }
        }
        StmtKind::Expr(e) | StmtKind::Return(Some(e)) => walk_expr(e, visit),
        StmtKind::If { cond, then, els } => {
            walk_expr(cond, visit);
            walk_stmt(then, visit);
            if let Some(e) = els {
                walk_stmt(e, visit);
            }
        }
        StmtKind::While { cond, body } | StmtKind::DoWhile { body, cond } => {
            walk_expr(cond, visit);
            walk_stmt(body, visit);
        }
        StmtKind::Switch { value, arms } => {
            walk_expr(value, visit);
            for arm in arms {
                if let CaseLabel::Case(e) = &arm.label {
                    walk_expr(e, visit);
                }
                arm.body.iter().for_each(|s| walk_stmt(s, visit));
            }
        }
        StmtKind::For { init, cond, step, body } => {
            if let Some(i) = init {
                walk_stmt(i, visit);
            }
            cond.iter().chain(step).for_each(|e| walk_expr(e, visit));
            walk_stmt(body, visit);
        }
        StmtKind::Block(b) => walk_block(b, visit),
        StmtKind::Try { body, handlers } => {
            walk_block(body, visit);
            handlers.iter().for_each(|h| walk_block(&h.body, visit));
        }
        _ => {}
    }
}

fn walk_expr(e: &Expr, visit: &mut impl FnMut(&Expr)) {
    visit(e);
    match &e.kind {
        ExprKind::Unary(_, x)
        | ExprKind::Cast(_, x)
        | ExprKind::AddrOf(x)
        | ExprKind::Deref(x)
        | ExprKind::Arrow(x, _)
        | ExprKind::Field(x, _) => walk_expr(x, visit),
        ExprKind::IncDec { target, .. } => walk_expr(target, visit),
        ExprKind::Binary(_, a, b) | ExprKind::Assign(_, a, b) | ExprKind::Index(a, b) => {
            walk_expr(a, visit);
            walk_expr(b, visit);
        }
        ExprKind::Call(_, args) => args.iter().for_each(|a| walk_expr(a, visit)),
        ExprKind::Int(_) | ExprKind::Bool(_) | ExprKind::Str(_) | ExprKind::Var(_) => {}
    }
}
