//! Popcorn-SX front-end: source text to TAL.
//!
//! [`parse`] (logos lexer, lalrpop grammar) builds the [`ast`]; `sema`
//! resolves declarations, imports and the call graph; `lower` checks each
//! function body and emits TAL in the same pass. [`compile`] runs them all
//! and reports every independent error, not only the first. Nothing here is
//! trusted: the verifier re-checks everything lowering emits.

#![forbid(unsafe_code)]

pub mod ast;
pub mod codes;
pub mod diag;
mod lexer;
mod lower;
mod parser;
mod sema;
mod suggest;
pub mod symbols;

pub use diag::{Diagnostic, Severity};
pub use parser::parse;

use ast::{FuncKind, Item, SourceFile};
use sema::{Env, Origin, Unit};
use std::collections::HashSet;
use tal_ir::{AttrDef, ClassDef, FieldDef, FuncId, GlobalDef, Module, StructDef};

/// How to compile a file.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The file's name, recorded in the module so that spans can be shown.
    pub file_name: String,
    /// Compile as part of the standard library: guards and `block()` are
    /// allowed. Loaders install guards only from their own standard library.
    pub stdlib: bool,
    /// Inline calls of small functions (`lower::inlinable`): their bodies
    /// are lowered at the call site, keeping their source spans.
    pub inline: bool,
}

/// The result of compiling one file.
#[derive(Debug)]
pub struct Compiled {
    /// The TAL module, when no error was reported.
    pub module: Option<Module>,
    /// Errors and warnings, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses, checks and lowers a Popcorn-SX file.
pub fn compile(source: &str, options: &Options) -> Compiled {
    let user = match parse(source) {
        Ok(file) => file,
        Err(diagnostics) => {
            return Compiled {
                module: None,
                diagnostics,
            };
        }
    };
    let mut diags = Vec::new();
    let mut files = Vec::new();
    import(&user, &mut HashSet::new(), &mut files, &mut diags);
    files.push((user, Origin::User));
    let unit = Unit { files };
    let mut env = Env::collect(&unit, options.stdlib, &mut diags);
    sema::analyze_calls(&mut env, &mut diags);
    let module = lower_unit(&env, options, &mut diags);
    diags.sort_by_key(|d| (d.span.lo, d.span.hi));
    let failed = diags.iter().any(Diagnostic::is_error);
    Compiled {
        module: if failed { None } else { Some(module) },
        diagnostics: diags,
    }
}

/// The source span of what a verifier error points at in a module this
/// front-end produced: the instruction's span, or for instructions lowering
/// added on its own (fuel, slot zeroing), the next one that has a span; for
/// a function as a whole (a stack bound, a call cycle), the first of its
/// code that has one (its first declaration, often the large array).
pub fn source_span(module: &Module, location: tal_ir::Location) -> Option<tal_ir::Span> {
    use tal_ir::Location;
    let block = |f: FuncId, b: tal_ir::BlockId| module.funcs.get(f.index())?.blocks.get(b.index());
    match location {
        Location::Inst(f, b, i) => block(f, b)?.insts.get(i..)?.iter().find_map(|inst| inst.span),
        Location::Term(f, b) => block(f, b)?.term_span,
        Location::Block(f, b) => block(f, b)?.insts.iter().find_map(|inst| inst.span),
        // A function as a whole (its frame, its calls): where its code starts.
        Location::Func(f) => module
            .funcs
            .get(f.index())?
            .blocks
            .iter()
            .find_map(|b| b.insts.iter().find_map(|inst| inst.span).or(b.term_span)),
        _ => None,
    }
}

/// Adds the standard-library modules `file` imports (and theirs) to `files`.
fn import(
    file: &SourceFile,
    seen: &mut HashSet<String>,
    files: &mut Vec<(SourceFile, Origin)>,
    diags: &mut Vec<Diagnostic>,
) {
    for item in &file.items {
        let Item::Import(name) = item else { continue };
        if !seen.insert(name.name.clone()) {
            continue;
        }
        let Some(source) = stdlib::popcorn_module(&name.name) else {
            let known: Vec<&str> = stdlib::POPCORN_MODULES.iter().map(|(n, _)| *n).collect();
            diags.push(
                Diagnostic::error("P0108", name.span, format!("unknown module `{}`", name.name))
                    .with_help(format!("the standard library has: {}", known.join(", "))),
            );
            continue;
        };
        // The standard library is part of this build; its files parse.
        let imported = parse(source).unwrap_or_else(|e| panic!("stdlib module `{}` does not parse: {e:?}", name.name));
        import(&imported, seen, files, diags);
        // Library items never carry the importer's spans.
        files.push((imported, Origin::Stdlib));
    }
}

fn lower_unit(env: &Env, options: &Options, diags: &mut Vec<Diagnostic>) -> Module {
    let name = match &env.extension {
        Some(name) => name.name.clone(),
        None => {
            diags.push(
                Diagnostic::error("P0110", tal_ir::Span { lo: 0, hi: 0 }, "missing `extension NAME;`")
                    .with_help("name the extension first: `extension cpu_pid;`"),
            );
            String::new()
        }
    };
    let mut func_ids = Vec::with_capacity(env.funcs.len());
    let mut next = 0u32;
    for f in &env.funcs {
        func_ids.push(f.emitted.then(|| {
            next += 1;
            FuncId(next - 1)
        }));
    }
    let lower_all = |inlinable: &[lower::Inline], diags: &mut Vec<Diagnostic>| -> Vec<tal_ir::Function> {
        (0..env.funcs.len())
            .filter(|&i| env.funcs[i].emitted)
            .map(|i| lower::Lowerer::lower_function(env, diags, &func_ids, inlinable, i))
            .collect()
    };
    let mut funcs = lower_all(&[], diags);
    // Inlining re-lowers a module that lowered without error, so that every
    // diagnostic is reported once, in the callee's own body.
    let inlinable: Vec<lower::Inline> = if options.inline && !diags.iter().any(Diagnostic::is_error) {
        (0..env.funcs.len()).map(|i| lower::inlinable(env, i)).collect()
    } else {
        Vec::new()
    };
    if !inlinable.is_empty() {
        let mut again = Vec::new();
        let inlined = lower_all(&inlinable, &mut again);
        debug_assert!(
            !again.iter().any(Diagnostic::is_error),
            "inlining into a module that lowered cleanly reported {again:?}"
        );
        if !again.iter().any(Diagnostic::is_error) {
            funcs = drop_uncalled_plain(inlined);
        }
    }
    for f in env.funcs.iter().filter(|f| f.origin == Origin::User) {
        if let FuncKind::Handler { event } = &f.decl.kind
            && env.event_names.contains_key(&event.value)
            && !env.raised.contains(&event.value)
            && event.value != sema::EXCEPTION_EVENT
        {
            diags.push(Diagnostic::warning(
                "P0901",
                event.span,
                format!(
                    "nothing in this extension raises \"{}\"; `{}` runs only if another extension does",
                    event.value, f.decl.name.name
                ),
            ));
        }
    }
    let mut module = Module {
        name,
        source: Some(options.file_name.clone()).filter(|n| !n.is_empty()),
        budget: env.budget,
        classes: env
            .classes
            .iter()
            .map(|c| ClassDef {
                name: c.name.clone(),
                attrs: c
                    .attrs
                    .iter()
                    .map(|a| AttrDef {
                        name: a.name.clone(),
                        ty: Env::attr_type(a),
                        readonly: a.readonly,
                        range: a.range,
                    })
                    .collect(),
            })
            .collect(),
        events: env.events.clone(),
        structs: env
            .structs
            .iter()
            .map(|s| StructDef {
                name: s.name.clone(),
                fields: s
                    .fields
                    .iter()
                    .filter_map(|(name, ty)| match lower::obj_type(*ty)? {
                        tal_ir::ObjType::Elem(ty) => Some(FieldDef { name: name.clone(), ty }),
                        tal_ir::ObjType::Array { .. } => None,
                    })
                    .collect(),
            })
            .collect(),
        globals: env
            .globals
            .iter()
            .zip(&env.global_names)
            .map(|(g, name)| GlobalDef {
                name: name.clone(),
                ty: lower::obj_type(g.ty).unwrap_or(tal_ir::ObjType::Elem(lower::elem_type(sema::Elem::Int))),
                init: g.init.clone(),
            })
            .collect(),
        externs: Vec::new(),
        funcs,
    };
    // Cheap plain functions are paid for by their callers (no fuel check of
    // their own); every other function and loop header pays for itself.
    tal_ir::fuel::assign_module(&mut module, tal_ir::fuel::EntryFuel::DropCheap);
    module
}

/// Removes the plain functions no entry point reaches any more (inlining
/// replaced every call of them), renumbering the calls of those that stay:
/// they would be lowered, linked and loaded for nothing.
fn drop_uncalled_plain(mut funcs: Vec<tal_ir::Function>) -> Vec<tal_ir::Function> {
    use tal_ir::{Callee, InstKind};
    let callees = |f: &tal_ir::Function| -> Vec<usize> {
        let calls = f.blocks.iter().flat_map(|b| &b.insts);
        calls
            .filter_map(|i| match i.kind {
                InstKind::Call {
                    callee: Callee::Func(g),
                    ..
                } => Some(g.index()),
                _ => None,
            })
            .collect()
    };
    let mut reached: Vec<bool> = funcs.iter().map(|f| f.kind != tal_ir::FuncKind::Plain).collect();
    let mut work: Vec<usize> = (0..funcs.len()).filter(|&f| reached[f]).collect();
    while let Some(f) = work.pop() {
        for g in callees(&funcs[f]) {
            if g < funcs.len() && !reached[g] {
                reached[g] = true;
                work.push(g);
            }
        }
    }
    if reached.iter().all(|&r| r) {
        return funcs;
    }
    let mut new_id = vec![None; funcs.len()];
    let mut next = 0u32;
    for (f, id) in new_id.iter_mut().enumerate() {
        if reached[f] {
            *id = Some(FuncId(next));
            next += 1;
        }
    }
    for f in &mut funcs {
        for inst in f.blocks.iter_mut().flat_map(|b| &mut b.insts) {
            if let InstKind::Call {
                callee: Callee::Func(g),
                ..
            } = &mut inst.kind
                && let Some(Some(id)) = new_id.get(g.index())
            {
                *g = *id;
            }
        }
    }
    let mut index = 0;
    funcs.retain(|_| {
        index += 1;
        reached[index - 1]
    });
    funcs
}
