//! `safexc check` and `safexc compile`: Popcorn-SX source to verified TAL.

use crate::Checked;
use crate::diag::{Diagnostic, render, tally};
use crate::files;
use std::path::Path;
use tal_ir::{Location, Module};

/// Compiles one Popcorn-SX source (small functions inlined where `inline`)
/// and verifies what it lowers to, showing every diagnostic on the source
/// (named `path` as typed); the module records only the file's name.
pub fn check(path: &Path, bytes: Vec<u8>, stdlib: bool, inline: bool, config: &verifier::Config) -> Checked {
    let name = files::display_name(path);
    let _progress = crate::progress::Spinner::new(&format!("checking {name}"));
    let bytes = files::without_bom(bytes);
    let other_kind = other_kind(&bytes);
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let at = e.utf8_error().valid_up_to();
            err!(
                "{}",
                render(
                    &name,
                    &text,
                    &Diagnostic::error("P0002", "the file is not UTF-8 text", at..at + 1)
                )
            );
            tally(&name, &["P0002"], 0);
            if let Some(hint) = other_kind {
                crate::diag::help(hint);
            }
            return Checked::rejected(&name, &["P0002"]);
        }
    };
    let options = popcorn_front::Options {
        file_name: files::recorded_name(path),
        stdlib,
        inline,
    };
    let compiled = popcorn_front::compile(&text, &options);
    for d in &compiled.diagnostics {
        err!("{}", render(&name, &text, &Diagnostic::from(d)));
    }
    let Some(module) = compiled.module else {
        let errors: Vec<&str> = compiled
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.code)
            .collect();
        tally(&name, &errors, compiled.diagnostics.len() - errors.len());
        if let Some(hint) = other_kind {
            crate::diag::help(hint);
        }
        // Each code once, in order of first appearance.
        let mut codes: Vec<&str> = Vec::new();
        for code in errors {
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        return Checked::rejected(&name, &codes);
    };
    // The front-end is not trusted: what it emits must pass the verifier,
    // and a rejection is shown on the source line that produced the code.
    if let Err(errors) = verifier::verify(&module, config) {
        for e in &errors {
            let span = popcorn_front::source_span(&module, e.location).map_or(0..0, |s| s.lo as usize..s.hi as usize);
            let message = format!("{} (in the TAL of `{}`)", e.message, location_name(&module, e.location));
            err!("{}", render(&name, &text, &Diagnostic::error(e.code, &message, span)));
        }
        let codes: Vec<&str> = errors.iter().map(|e| e.code).collect();
        tally(&name, &codes, compiled.diagnostics.len());
        return Checked::rejected(&name, &codes);
    }
    let warnings = compiled.diagnostics.len();
    let insts: usize = module.funcs.iter().map(|f| f.inst_count()).sum();
    let note = if warnings > 0 {
        format!(", {warnings} warning{}", if warnings == 1 { "" } else { "s" })
    } else {
        String::new()
    };
    Checked {
        summary: format!(
            "{name}: ok ({} functions, {insts} TAL instructions{note})",
            module.funcs.len()
        ),
        module: Some(module),
    }
}

/// Whether `bytes` look like Popcorn-SX: its first word, past comments,
/// is `extension` or `import`.
pub fn looks_like_popcorn(bytes: &[u8]) -> bool {
    first_word(bytes).is_some_and(|w| w == "extension" || w == "import")
}

/// The first word of a text, past blank lines and `//` or `;` comments.
fn first_word(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with(';') && !l.starts_with("//"))?;
    line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next()
}

/// What to do with an input of another kind than Popcorn-SX: an object,
/// binary TAL or TAL text (its first word, past comments, is `module`).
fn other_kind(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x7fELF") {
        return Some(
            "this is an ELF object, not Popcorn-SX: `safexc verify FILE` checks it, `safexc inspect FILE` shows it",
        );
    }
    if bytes.starts_with(tal_ir::binary::MAGIC) {
        return Some(
            "this is binary TAL, not Popcorn-SX: `safexc verify FILE` checks it, `safexc compile FILE -o FILE.o` compiles it",
        );
    }
    // TAL comments run from `;`, Popcorn-SX's from `//`.
    first_word(bytes).filter(|w| *w == "module").map(|_| {
        "this is TAL text, not Popcorn-SX: `safexc verify FILE` checks it, `safexc compile FILE -o FILE.o` compiles it"
    })
}

/// The function (and block) a verifier error is in, as `safexc check` and
/// the language server name it.
pub(crate) fn location_name(m: &Module, loc: Location) -> String {
    let func = |f: tal_ir::FuncId| m.funcs.get(f.index()).map_or("?", |f| f.name.as_str()).to_owned();
    match loc {
        Location::Func(f) => func(f),
        Location::Block(f, b) | Location::Term(f, b) | Location::Inst(f, b, _) => format!("{}, block{}", func(f), b.0),
        _ => m.name.clone(),
    }
}
