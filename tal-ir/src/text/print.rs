//! The printer: canonical text, one item per line, into one `String`.

use super::{BINARY, CONDS, UNARY, is_ident, root_elem};
use crate::*;
use std::fmt::Write;

/// `write!` into the output; writing into a `String` cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

pub(super) fn print(module: &Module) -> String {
    let insts: usize = module.funcs.iter().map(Function::inst_count).sum();
    let mut printer = Printer {
        m: module,
        out: String::with_capacity(256 + 32 * insts),
    };
    printer.module();
    printer.out
}

struct Printer<'m> {
    m: &'m Module,
    out: String,
}

fn name_of<T: PartialEq>(table: &[(T, &'static str)], item: T) -> &'static str {
    table.iter().find(|(t, _)| *t == item).map_or("?", |(_, name)| name)
}

impl<'m> Printer<'m> {
    fn module(&mut self) {
        let m = self.m;
        self.out.push_str("module ");
        self.ident(&m.name);
        self.out.push('\n');
        if let Some(source) = &m.source {
            self.out.push_str("source ");
            self.string(source);
            self.out.push('\n');
        }
        if let Some(budget) = m.budget {
            w!(self.out, "budget {budget}\n");
        }
        for class in &m.classes {
            self.class(class);
        }
        self.group(&m.events, |p, event| {
            p.out.push_str("event ");
            p.ident(event);
        });
        self.group(&m.structs, Self::struct_def);
        self.group(&m.globals, |p, global| {
            p.out.push_str("global @");
            p.ident(&global.name);
            p.out.push_str(": ");
            p.obj_type(global.ty);
            p.out.push_str(" = ");
            match &global.init {
                GlobalInit::Zero => p.out.push_str("zero"),
                GlobalInit::Int(i) => w!(p.out, "{i}"),
                GlobalInit::Bool(b) => w!(p.out, "{b}"),
                GlobalInit::Ints(ints) => {
                    p.out.push('[');
                    p.list(ints, |p, i| w!(p.out, "{i}"));
                    p.out.push(']');
                }
            }
        });
        self.group(&m.externs, |p, name| {
            p.out.push_str("extern ");
            p.ident(name);
        });
        for func in &m.funcs {
            self.function(func);
        }
    }

    /// Separates top-level groups and multi-line items by one blank line.
    fn blank_line(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    /// A group of one-line items.
    fn group<T>(&mut self, items: &'m [T], mut item: impl FnMut(&mut Self, &'m T)) {
        if !items.is_empty() {
            self.blank_line();
        }
        for i in items {
            item(self, i);
            self.out.push('\n');
        }
    }

    /// Comma-separated items.
    fn list<T>(&mut self, items: &'m [T], mut item: impl FnMut(&mut Self, &'m T)) {
        for (n, i) in items.iter().enumerate() {
            if n > 0 {
                self.out.push_str(", ");
            }
            item(self, i);
        }
    }

    /// A name; one that is not an identifier becomes `?"…"`, which the
    /// parser rejects instead of reading it as other tokens.
    fn ident(&mut self, name: &str) {
        if is_ident(name) {
            self.out.push_str(name);
        } else {
            self.out.push('?');
            self.string(name);
        }
    }

    /// The name of a declared item, or `?KINDn` for an id out of range.
    fn named(&mut self, name: Option<&str>, kind: &str, index: usize) {
        match name {
            Some(name) => self.ident(name),
            None => w!(self.out, "?{kind}{index}"),
        }
    }

    fn string(&mut self, text: &str) {
        self.out.push('"');
        for ch in text.chars() {
            if ch == '"' || ch == '\\' {
                self.out.push('\\');
            }
            self.out.push(ch);
        }
        self.out.push('"');
    }

    fn class(&mut self, class: &ClassDef) {
        self.blank_line();
        self.out.push_str("class ");
        self.ident(&class.name);
        self.out.push_str(" {\n");
        for attr in &class.attrs {
            self.out.push_str("    ");
            self.ident(&attr.name);
            self.out.push_str(match attr.ty {
                AttrType::I64 => ": i64",
                AttrType::Bool => ": bool",
            });
            if attr.readonly {
                self.out.push_str(" readonly");
            }
            if let Some((lo, hi)) = attr.range {
                w!(self.out, " range({lo}, {hi})");
            }
            self.out.push('\n');
        }
        self.out.push_str("}\n");
    }

    fn struct_def(&mut self, def: &'m StructDef) {
        self.out.push_str("struct ");
        self.ident(&def.name);
        if def.fields.is_empty() {
            self.out.push_str(" {}");
            return;
        }
        self.out.push_str(" { ");
        self.list(&def.fields, |p, field| {
            p.ident(&field.name);
            p.out.push_str(": ");
            p.elem_type(field.ty);
        });
        self.out.push_str(" }");
    }

    fn class_ref(&mut self, class: ClassId) {
        let name = self.m.class(class).map(|c| c.name.as_str());
        self.named(name, "class", class.index());
    }

    /// `class.attr`.
    fn attr_ref(&mut self, attr: AttrRef) {
        self.class_ref(attr.class);
        self.out.push('.');
        let name = self.m.attr(attr).map(|a| a.name.as_str());
        self.named(name, "attr", attr.attr as usize);
    }

    fn event_ref(&mut self, event: EventId) {
        let name = self.m.events.get(event.index()).map(String::as_str);
        self.named(name, "event", event.index());
    }

    fn root(&mut self, root: Root) {
        match root {
            Root::Global(g) => {
                self.out.push('@');
                let name = self.m.globals.get(g.index()).map(|g| g.name.as_str());
                self.named(name, "global", g.index());
            }
            Root::Slot(s) => w!(self.out, "${}", s.0),
            Root::Param(n) => w!(self.out, "%{n}"),
        }
    }

    fn cap(&mut self, class: ClassId, rights: Rights, nullable: bool) {
        self.out.push_str(if nullable { "cap?<" } else { "cap<" });
        self.class_ref(class);
        w!(self.out, ", {rights}>");
    }

    fn value_type(&mut self, ty: Type) {
        match ty {
            Type::I64 => self.out.push_str("i64"),
            Type::Bool => self.out.push_str("bool"),
            Type::NonZero => self.out.push_str("nz"),
            Type::Event => self.out.push_str("evt"),
            Type::Index(root) => {
                self.out.push_str("idx<");
                self.root(root);
                self.out.push('>');
            }
            Type::InRange(attr) => {
                self.out.push_str("in<");
                self.attr_ref(attr);
                self.out.push('>');
            }
            Type::Cap {
                class,
                rights,
                nullable,
            } => self.cap(class, rights, nullable),
        }
    }

    fn elem_type(&mut self, ty: ElemType) {
        match ty {
            ElemType::Scalar(ScalarType::I64) => self.out.push_str("i64"),
            ElemType::Scalar(ScalarType::Bool) => self.out.push_str("bool"),
            ElemType::Scalar(ScalarType::Cap { class, rights }) => self.cap(class, rights, false),
            ElemType::Struct(s) => {
                self.out.push_str("struct ");
                let name = self.m.structs.get(s.index()).map(|s| s.name.as_str());
                self.named(name, "struct", s.index());
            }
        }
    }

    fn obj_type(&mut self, ty: ObjType) {
        match ty {
            ObjType::Elem(elem) => self.elem_type(elem),
            ObjType::Array { elem, len } => {
                self.out.push('[');
                self.elem_type(elem);
                if let Some(len) = len {
                    w!(self.out, "; {len}");
                }
                self.out.push(']');
            }
        }
    }

    fn function(&mut self, func: &'m Function) {
        self.blank_line();
        self.out.push_str(match func.kind {
            FuncKind::Plain => "func @",
            FuncKind::Monitor => "monitor @",
            FuncKind::Handler { .. } => "handler @",
            FuncKind::Guard { .. } => "guard @",
        });
        self.ident(&func.name);
        self.out.push('(');
        let mut position = 0;
        self.list(&func.params, |p, param| {
            match *param {
                ParamType::Value(ty) => p.value_type(ty),
                ParamType::Ref(ty) => {
                    w!(p.out, "%{position}: ref ");
                    p.obj_type(ty);
                }
            }
            position += 1;
        });
        self.out.push(')');
        if let Some(ret) = func.ret {
            self.out.push_str(" -> ");
            self.value_type(ret);
        }
        match func.kind {
            FuncKind::Handler { event } => {
                self.out.push_str(" on ");
                self.event_ref(event);
            }
            FuncKind::Guard { attr } => {
                self.out.push_str(" for ");
                self.attr_ref(attr);
            }
            FuncKind::Plain | FuncKind::Monitor => {}
        }
        self.out.push_str(" {\n");
        for (n, slot) in func.slots.iter().enumerate() {
            w!(self.out, "    slot ${n}: ");
            self.obj_type(*slot);
            self.out.push('\n');
        }
        // Wider than `ValueId` so that numbering a corrupt function cannot overflow.
        let mut next_value = 0u64;
        for (n, block) in func.blocks.iter().enumerate() {
            w!(self.out, "block{n}");
            if !block.params.is_empty() {
                self.out.push('(');
                self.list(&block.params, |p, ty| {
                    w!(p.out, "v{next_value}: ");
                    next_value += 1;
                    p.value_type(*ty);
                });
                self.out.push(')');
            }
            if let Some(end) = block.loop_end {
                w!(self.out, " loop(block{})", end.0);
            }
            self.out.push_str(":\n");
            for inst in &block.insts {
                self.out.push_str("    ");
                if inst.kind.has_result() {
                    w!(self.out, "v{next_value} = ");
                    next_value += 1;
                }
                self.inst(func, &inst.kind);
                if !inst.catches.is_empty() {
                    self.out.push_str(" !catch(");
                    self.list(&inst.catches, |p, catch| {
                        w!(p.out, "{} -> ", catch.kind.name());
                        p.block_call(&catch.target);
                    });
                    self.out.push(')');
                }
                self.span(inst.span);
            }
            self.out.push_str("    ");
            self.terminator(&block.term);
            self.span(block.term_span);
        }
        self.out.push_str("}\n");
    }

    /// An optional span and the end of the line.
    fn span(&mut self, span: Option<Span>) {
        if let Some(Span { lo, hi }) = span {
            w!(self.out, " @{lo}..{hi}");
        }
        self.out.push('\n');
    }

    fn value(&mut self, value: ValueId) {
        w!(self.out, "v{}", value.0);
    }

    fn values(&mut self, values: &'m [ValueId]) {
        self.list(values, |p, v| p.value(*v));
    }

    fn block_call(&mut self, call: &'m BlockCall) {
        w!(self.out, "block{}", call.block.0);
        if !call.args.is_empty() {
            self.out.push('(');
            self.values(&call.args);
            self.out.push(')');
        }
    }

    fn place(&mut self, func: &Function, place: &Place) {
        self.root(place.root);
        if let Some(index) = place.index {
            w!(self.out, "[v{}]", index.0);
        }
        let mut elem = root_elem(&self.m.globals, &func.params, &func.slots, place.root);
        for &field in &place.fields {
            let def = match elem {
                Some(ElemType::Struct(s)) => self.m.structs.get(s.index()).and_then(|s| s.fields.get(field as usize)),
                _ => None,
            };
            self.out.push('.');
            self.named(def.map(|f| f.name.as_str()), "field", field as usize);
            elem = def.map(|f| f.ty);
        }
    }

    fn inst(&mut self, func: &Function, kind: &'m InstKind) {
        match kind {
            InstKind::Fuel(n) => w!(self.out, "fuel {n}"),
            InstKind::Iconst(i) => w!(self.out, "iconst {i}"),
            InstKind::Bconst(b) => w!(self.out, "bconst {b}"),
            InstKind::Event(event) => {
                self.out.push_str("event ");
                self.event_ref(*event);
            }
            InstKind::Unary { op, arg } => w!(self.out, "{} v{}", name_of(&UNARY, *op), arg.0),
            InstKind::Binary { op, lhs, rhs } => {
                w!(self.out, "{} v{}, v{}", name_of(&BINARY, *op), lhs.0, rhs.0)
            }
            InstKind::Icmp { cond, lhs, rhs } => w!(self.out, "icmp {} v{}, v{}", name_of(&CONDS, *cond), lhs.0, rhs.0),
            InstKind::CheckNonZero(v) => w!(self.out, "check.nonzero v{}", v.0),
            InstKind::CheckBounds { value, root } => {
                w!(self.out, "check.bounds v{}, ", value.0);
                self.root(*root);
            }
            InstKind::CheckRange { value, attr } => {
                w!(self.out, "check.range v{}, #", value.0);
                self.attr_ref(*attr);
            }
            InstKind::CheckNull(v) => w!(self.out, "check.null v{}", v.0),
            InstKind::Load(place) => {
                self.out.push_str("load ");
                self.place(func, place);
            }
            InstKind::Store { place, value } => {
                self.out.push_str("store ");
                self.place(func, place);
                w!(self.out, ", v{}", value.0);
            }
            InstKind::Init(slot) => w!(self.out, "init ${}", slot.0),
            InstKind::Size(root) => {
                self.out.push_str("size ");
                self.root(*root);
            }
            InstKind::Call { callee, args, .. } => {
                self.out.push_str("call @");
                let (name, kind, index) = match *callee {
                    Callee::Func(f) => (self.m.funcs.get(f.index()).map(|f| f.name.as_str()), "func", f.index()),
                    Callee::Extern(e) => (self.m.externs.get(e.index()).map(String::as_str), "extern", e.index()),
                };
                self.named(name, kind, index);
                self.out.push('(');
                self.list(args, |p, arg| match *arg {
                    Arg::Value(v) => p.value(v),
                    Arg::Ref(root) => p.root(root),
                });
                self.out.push(')');
            }
            InstKind::Helper { id, args, .. } => {
                self.out.push_str("helper ");
                match stdlib::helper_by_id(*id) {
                    Some(helper) => self.out.push_str(helper.name),
                    None => w!(self.out, "{id}"),
                }
                self.out.push('(');
                self.list(args, |p, arg| match *arg {
                    HelperArg::Value(v) => p.value(v),
                    HelperArg::Attr(attr) => {
                        p.out.push('#');
                        p.attr_ref(attr);
                    }
                });
                self.out.push(')');
            }
            InstKind::InlineAsm(text) => {
                self.out.push_str("asm ");
                self.string(text);
            }
        }
    }

    fn terminator(&mut self, term: &'m Terminator) {
        match term {
            Terminator::Jump(target) => {
                self.out.push_str("jump ");
                self.block_call(target);
            }
            Terminator::Brif { cond, then_to, else_to } => {
                w!(self.out, "brif v{}, ", cond.0);
                self.block_call(then_to);
                self.out.push_str(", ");
                self.block_call(else_to);
            }
            Terminator::Return(None) => self.out.push_str("ret"),
            Terminator::Return(Some(v)) => w!(self.out, "ret v{}", v.0),
            Terminator::Raise(kind) => w!(self.out, "raise {}", kind.name()),
        }
    }
}
