//! The symbol table (`popcorn_front::symbols`) resolves names as the
//! compiler does: checked against the compiler's own diagnostics over every
//! `.pop` file of the repository and over generated programs, and it never
//! panics on a file being typed (every prefix of the examples).

use popcorn_front::ast::Span;
use popcorn_front::symbols::{SymbolKind, Symbols, symbols};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Every `.pop` file of the UI tests, the examples and the standard library,
/// with whether it compiles as part of the standard library.
fn corpus() -> Vec<(String, String, bool)> {
    let mut files = Vec::new();
    for (dir, stdlib_dir) in [
        ("popcorn-front/tests/ui", false),
        ("examples/pop", false),
        ("stdlib/pop", true),
    ] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "pop"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).expect("read");
            let stdlib = stdlib_dir || text.starts_with("// flags: --stdlib");
            files.push((path.display().to_string(), text, stdlib));
        }
    }
    assert!(files.len() >= 60, "only {} files", files.len());
    files
}

fn text(source: &str, span: Span) -> &str {
    &source[span.lo as usize..span.hi as usize]
}

/// What the compiler's diagnostics say about names must hold of the symbol
/// table: a name it reports unknown (`P0101`) is unresolved; a name read
/// before it is assigned (`P0310`) is a local; a name it says is of a type
/// (`` `x` is `int[4]` ``, `P0209`) resolves to a definition of that name and
/// type; in a file it accepts every name resolves.
fn agrees(name: &str, source: &str, stdlib: bool) -> Result<usize, String> {
    let options = popcorn_front::Options {
        file_name: name.to_owned(),
        stdlib,
        inline: false,
    };
    let compiled = popcorn_front::compile(source, &options);
    let syms: Symbols = symbols(source);
    let mut checked = 0;
    for d in &compiled.diagnostics {
        let at = |what: &str| format!("{name}: {} `{}` ({}): {what}", d.code, text(source, d.span), d.message);
        match d.code {
            "P0101" if d.message.starts_with("unknown name") || d.message.starts_with("unknown function") => {
                if !syms.unresolved.contains(&d.span) {
                    return Err(at("the symbol table resolves it"));
                }
                checked += 1;
            }
            "P0310" => {
                match syms.at(d.span.lo) {
                    Some((o, def)) if o.span == d.span && def.kind == SymbolKind::Local => {}
                    other => return Err(at(&format!("not a local: {other:?}"))),
                }
                checked += 1;
            }
            "P0209" => {
                // "`NAME` is `TYPE`: …" or "`NAME` is `TYPE`, not …"
                let Some(rest) = d.message.strip_prefix('`') else {
                    continue;
                };
                let Some((var, rest)) = rest.split_once("` is `") else {
                    continue;
                };
                let Some((ty, _)) = rest.split_once('`') else { continue };
                match syms.at(d.span.lo) {
                    Some((o, def)) if o.span == d.span && def.name == var && def.ty == ty => {}
                    other => return Err(at(&format!("not `{var}` of type `{ty}`: {other:?}"))),
                }
                checked += 1;
            }
            _ => {}
        }
    }
    if compiled.module.is_some() && !syms.unresolved.is_empty() {
        let names: Vec<&str> = syms.unresolved.iter().map(|&s| text(source, s)).collect();
        return Err(format!("{name}: compiles, but names resolve to nothing: {names:?}"));
    }
    for o in &syms.occurrences {
        let def = syms
            .definition(o)
            .ok_or_else(|| format!("{name}: dangling occurrence {o:?}"))?;
        let written = text(source, o.span).trim_matches('"');
        if written != def.name {
            return Err(format!("{name}: `{written}` resolves to `{}` ({def:?})", def.name));
        }
        if let Some(span) = def.span
            && text(source, span) != def.name
        {
            return Err(format!(
                "{name}: `{}` is declared at `{}`",
                def.name,
                text(source, span)
            ));
        }
    }
    Ok(checked)
}

#[test]
fn the_symbol_table_agrees_with_the_compiler_on_every_file() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, source, stdlib) in corpus() {
        match agrees(&name, &source, stdlib) {
            Ok(n) => checked += n,
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The corpus has unknown names, unassigned reads and misused arrays.
    assert!(checked >= 10, "only {checked} diagnostics about names were checked");
}

#[test]
fn every_prefix_of_a_file_being_typed_resolves() {
    for (name, source, _) in corpus().iter().filter(|(n, _, _)| n.contains("examples")) {
        // Once the import is typed, it resolves however the file goes on.
        let import = source.find("import cpu;").expect("an import") + "import cpu;".len();
        let mut at = 0;
        while at < source.len() {
            if source.is_char_boundary(at) {
                let prefix = &source[..at];
                let syms = symbols(prefix);
                for o in &syms.occurrences {
                    assert!(o.span.hi as usize <= prefix.len(), "{name} up to {at}: {o:?}");
                }
                if at >= import {
                    assert!(
                        syms.occurrences
                            .iter()
                            .any(|o| syms.definition(o).is_some_and(|d| d.kind == SymbolKind::Module)),
                        "{name} up to {at} has no symbols:\n{prefix}"
                    );
                }
            }
            at += 5;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn every_name_of_a_generated_program_resolves(program in popgen::program(popgen::GenConfig::default())) {
        if let Err(why) = agrees("generated", &program.source, false) {
            prop_assert!(false, "{why}\n{}", program.source);
        }
        let syms = symbols(&program.source);
        prop_assert!(!syms.occurrences.is_empty());
    }
}
