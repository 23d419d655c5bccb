//! Module-level declarations: names, classes, structs, globals, signatures.

use crate::calls::CallGraph;
use crate::types::{class_name, name};
use crate::{Sink, forbidden};
use std::collections::HashSet;
use tal_ir::layout::{CELL_BYTES, Layout};
use tal_ir::{
    ClassId, ElemType, ExternId, FuncId, FuncKind, GlobalId, GlobalInit, Location, Module, ObjType, ParamType, Rights,
    Root, ScalarType, StructId, Type,
};

/// The largest memory object (global, slot, struct) a module may declare.
pub const MAX_OBJECT_BYTES: u64 = 1 << 24;

/// What the function pass needs to know about declarations.
pub(crate) struct Decls {
    /// The module's layout: the one definition of object sizes
    /// (`tal_ir::layout`), which code generation and the interpreter use too.
    layout: Layout,
}

impl Decls {
    /// Byte size of an object type, `None` if invalid, unsized or too large
    /// (an array of elements over the limit is too large even when empty).
    pub fn obj_size(&self, o: ObjType) -> Option<u64> {
        let (ObjType::Elem(elem) | ObjType::Array { elem, .. }) = o;
        self.elem_size(elem)?;
        within_limit(self.layout.obj_cells(o)?)
    }

    /// Byte size of an array element or struct field, `None` if invalid or
    /// too large.
    pub fn elem_size(&self, e: ElemType) -> Option<u64> {
        within_limit(self.layout.elem_cells(e)?)
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }
}

/// `cells` in bytes, if at most [`MAX_OBJECT_BYTES`].
fn within_limit(cells: u64) -> Option<u64> {
    cells.checked_mul(CELL_BYTES).filter(|&bytes| bytes <= MAX_OBJECT_BYTES)
}

/// Whether memory of this type could hold a capability with the guard right,
/// which must never outlive the guard invocation it was given to.
pub(crate) fn holds_guard_right(o: ObjType) -> bool {
    let (ObjType::Elem(elem) | ObjType::Array { elem, .. }) = o;
    matches!(elem, ElemType::Scalar(ScalarType::Cap { rights, .. }) if rights.contains(Rights::GUARD))
}

pub(crate) const GUARD_RIGHT_STORED: &str =
    "holds capabilities with the guard right `g`, which must not outlive the guard invocation it was given to";

/// Checks a value type's references. `Index` roots are checked by the caller,
/// which knows whether function-local roots are in scope.
pub(crate) fn check_value_type(m: &Module, t: Type) -> Result<(), (&'static str, String)> {
    match t {
        Type::Cap { class, .. } if m.class(class).is_none() => Err(("V0102", format!("unknown class #{}", class.0))),
        Type::InRange(a) if m.attr(a).is_none() => {
            Err(("V0102", format!("unknown attribute {}.#{}", a.class.0, a.attr)))
        }
        Type::Index(Root::Global(g)) => match m.globals.get(g.index()) {
            None => Err(("V0102", format!("unknown global #{}", g.0))),
            Some(gd) if !matches!(gd.ty, ObjType::Array { .. }) => {
                Err(("V0304", format!("`idx<@{}>`: the global is not an array", gd.name)))
            }
            Some(_) => Ok(()),
        },
        _ => Ok(()),
    }
}

pub(crate) fn check_declarations(m: &Module, sink: &mut Sink) -> Decls {
    let loc = Location::Module;
    if m.name.is_empty() {
        sink.error("V0101", loc, "the module has no name");
    }
    unique(sink, m.funcs.iter().map(|f| f.name.as_str()), "function", |i| {
        Location::Func(FuncId(i))
    });
    unique(sink, m.globals.iter().map(|g| g.name.as_str()), "global", |i| {
        Location::Global(GlobalId(i))
    });
    unique(sink, m.classes.iter().map(|c| c.name.as_str()), "class", |i| {
        Location::Class(ClassId(i))
    });
    unique(sink, m.structs.iter().map(|s| s.name.as_str()), "struct", |i| {
        Location::Struct(StructId(i))
    });
    unique(sink, m.events.iter().map(|e| e.as_str()), "event", |_| Location::Module);

    for (ci, class) in m.classes.iter().enumerate() {
        let loc = Location::Class(ClassId(ci as u32));
        unique(sink, class.attrs.iter().map(|a| a.name.as_str()), "attribute", |_| loc);
        for attr in &class.attrs {
            match attr.range {
                Some((lo, hi)) if lo > hi => sink.error(
                    "V0108",
                    loc,
                    format!("attribute `{}` has an empty range {lo}..={hi}", attr.name),
                ),
                Some(_) if attr.ty != tal_ir::AttrType::I64 => sink.error(
                    "V0108",
                    loc,
                    format!("attribute `{}`: only `i64` attributes have ranges", attr.name),
                ),
                _ => {}
            }
        }
    }

    check_structs(m, sink);
    let decls = Decls { layout: Layout::new(m) };
    for &(s, field) in decls.layout.cycles() {
        let def = &m.structs[s.index()];
        sink.error(
            "V0108",
            Location::Struct(s),
            format!(
                "struct `{}` contains itself (through `{}`): it has no finite size",
                def.name, def.fields[field as usize].name
            ),
        );
    }

    for (gi, global) in m.globals.iter().enumerate() {
        let loc = Location::Global(GlobalId(gi as u32));
        if decls.obj_size(global.ty).is_none() {
            sink.error(
                "V0108",
                loc,
                format!(
                    "global `@{}` has no valid static size (at most {MAX_OBJECT_BYTES} bytes)",
                    global.name
                ),
            );
            continue;
        }
        if holds_guard_right(global.ty) {
            sink.error("V0606", loc, format!("global `@{}` {GUARD_RIGHT_STORED}", global.name));
        }
        let fits = match (&global.init, global.ty) {
            (GlobalInit::Zero, _) => true,
            (GlobalInit::Int(_), ObjType::Elem(ElemType::Scalar(ScalarType::I64))) => true,
            (GlobalInit::Bool(_), ObjType::Elem(ElemType::Scalar(ScalarType::Bool))) => true,
            (
                GlobalInit::Ints(v),
                ObjType::Array {
                    elem: ElemType::Scalar(ScalarType::I64),
                    len: Some(n),
                },
            ) => v.len() as u64 <= u64::from(n),
            _ => false,
        };
        if !fits {
            sink.error(
                "V0109",
                loc,
                format!("the initializer of `@{}` does not fit its type", global.name),
            );
        }
    }

    for (fi, f) in m.funcs.iter().enumerate() {
        check_signature(m, &decls, FuncId(fi as u32), f, sink);
    }
    decls
}

fn unique<'a>(sink: &mut Sink, names: impl Iterator<Item = &'a str>, what: &str, loc: impl Fn(u32) -> Location) {
    let mut seen = HashSet::new();
    for (i, n) in names.enumerate() {
        if !seen.insert(n) {
            sink.error("V0101", loc(i as u32), format!("{what} `{n}` is declared twice"));
        }
    }
}

/// Checks each struct's fields on their own: names, classes and structs
/// that exist, no guard right. Sizes, and structs that contain themselves,
/// are [`Layout`]'s.
fn check_structs(m: &Module, sink: &mut Sink) {
    for (s, def) in m.structs.iter().enumerate() {
        let loc = Location::Struct(StructId(s as u32));
        let mut names = HashSet::new();
        for fd in &def.fields {
            if !names.insert(fd.name.as_str()) {
                sink.error("V0101", loc, format!("field `{}` is declared twice", fd.name));
            }
            if holds_guard_right(ObjType::Elem(fd.ty)) {
                sink.error("V0606", loc, format!("field `{}` {GUARD_RIGHT_STORED}", fd.name));
            }
            match fd.ty {
                ElemType::Scalar(ScalarType::Cap { class, .. }) if m.class(class).is_none() => {
                    sink.error("V0102", loc, format!("field `{}` names an unknown class", fd.name));
                }
                ElemType::Struct(inner) if inner.index() >= m.structs.len() => sink.error(
                    "V0102",
                    loc,
                    format!("field `{}` names unknown struct #{}", fd.name, inner.0),
                ),
                ElemType::Scalar(_) | ElemType::Struct(_) => {}
            }
        }
    }
}

pub(crate) fn check_signature(m: &Module, decls: &Decls, id: FuncId, f: &tal_ir::Function, sink: &mut Sink) {
    let loc = Location::Func(id);
    for p in &f.params {
        match *p {
            ParamType::Value(t) => signature_type(m, t, &f.name, sink, loc),
            ParamType::Ref(o) => {
                if holds_guard_right(o) {
                    sink.error(
                        "V0606",
                        loc,
                        format!("a reference parameter of `@{}` {GUARD_RIGHT_STORED}", f.name),
                    );
                }
                let unsized_ok = match o {
                    ObjType::Array { elem, len: None } => decls.elem_size(elem).map(|_| ()),
                    _ => decls.obj_size(o).map(|_| ()),
                };
                if unsized_ok.is_none() {
                    sink.error(
                        "V0108",
                        loc,
                        format!("`@{}` has a reference parameter of invalid type", f.name),
                    );
                }
            }
        }
    }
    if let Some(t) = f.ret {
        signature_type(m, t, &f.name, sink, loc);
    }
    let cap_param = |i: usize| match f.params.get(i) {
        Some(ParamType::Value(Type::Cap {
            class,
            rights,
            nullable: false,
        })) => Some((*class, *rights)),
        _ => None,
    };
    let int_param = |i: usize| matches!(f.params.get(i), Some(ParamType::Value(Type::I64)));
    let (what, shape_ok, class) = match f.kind {
        FuncKind::Plain => return,
        FuncKind::Monitor => (
            "monitor",
            f.params.len() == 1 && cap_param(0).is_some() && f.ret.is_none(),
            None,
        ),
        FuncKind::Handler { event } => {
            if m.events.get(event.index()).is_none() {
                sink.error(
                    "V0102",
                    loc,
                    format!("handler `@{}` is on unknown event #{}", f.name, event.0),
                );
            }
            (
                "handler",
                f.params.len() == 2 && cap_param(0).is_some() && int_param(1) && f.ret.is_none(),
                None,
            )
        }
        FuncKind::Guard { attr } => {
            if m.attr(attr).is_none() {
                sink.error("V0102", loc, format!("guard `@{}` is for an unknown attribute", f.name));
            }
            let shape = f.params.len() == 2 && cap_param(0).is_some() && int_param(1) && f.ret == Some(Type::I64);
            ("guard", shape, Some(attr.class))
        }
    };
    let expected = match what {
        "monitor" => "(cap<C, R>)",
        "handler" => "(cap<C, R>, i64)",
        _ => "(cap<C, R>, i64) -> i64",
    };
    if !shape_ok {
        sink.error(
            "V0107",
            loc,
            format!("{what} `@{}` must have the signature {expected}", f.name),
        );
        return;
    }
    let (cap_class, rights) = cap_param(0).expect("shape checked");
    if let Some(c) = class
        && c != cap_class
    {
        sink.error(
            "V0107",
            loc,
            format!(
                "guard `@{}` guards an attribute of `{}` but takes a capability to `{}`",
                f.name,
                class_name(m, c),
                class_name(m, cap_class)
            ),
        );
    }
    if class.is_some() && rights.contains(Rights::WRITE) {
        sink.error(
            "V0107",
            loc,
            format!(
                "guard `@{}` asks for the write right `w`: a guard returns the value to store, and a write from a \
                 guard would run guards re-entrantly",
                f.name
            ),
        );
    }
    if rights.contains(Rights::GUARD) && class.is_none() {
        sink.error(
            "V0606",
            loc,
            format!(
                "{what} `@{}` asks for the guard right `g`: only guards receive it",
                f.name
            ),
        );
    }
}

fn signature_type(m: &Module, t: Type, fname: &str, sink: &mut Sink, loc: Location) {
    if let Err((code, why)) = check_value_type(m, t) {
        sink.error(code, loc, format!("`@{fname}`: {why}"));
    } else if let Type::Index(Root::Slot(_) | Root::Param(_)) = t {
        sink.error(
            "V0108",
            loc,
            format!(
                "`@{fname}`: `{}` names a function-local array in a signature",
                name(m, t)
            ),
        );
    }
}

/// Externs are rejected where they are called; one declared but never called
/// is rejected at its declaration.
pub(crate) fn check_unused_externs(m: &Module, graph: &CallGraph, sink: &mut Sink) {
    for (i, symbol) in m.externs.iter().enumerate() {
        if !graph.extern_called(ExternId(i as u32)) {
            let (code, why) = forbidden::symbol(symbol);
            sink.error(code, Location::Extern(ExternId(i as u32)), why);
        }
    }
}
