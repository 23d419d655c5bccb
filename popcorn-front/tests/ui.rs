//! Data-driven front-end tests.
//!
//! Every `.pop` file under `popcorn-front/tests/ui`, `examples/pop` and
//! `stdlib/pop` ends with its expected outcome, as comments after the
//! marker line `// ---- expected ----`: one line per diagnostic
//! (`// LINE:COL error[CODE]: message`), then `// outcome: ok` or
//! `// outcome: rejected`. An accepted file's TAL must also pass the
//! verifier: the front-end is not trusted, so anything it lets through that
//! the verifier refuses is a front-end bug, and fails the test whatever the
//! expectation says. `SAFEX_BLESS=1` rewrites the expectations. A first line
//! `// flags: --stdlib` compiles the file as part of the standard library
//! (files under `stdlib/pop` always are).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const MARKER: &str = "// ---- expected ----";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn pop_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pop"))
        .collect();
    files.sort();
    files
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: u32) -> (usize, usize) {
    let offset = (offset as usize).min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The expected-section text for a file, and whether the verifier refused
/// what the front-end accepted.
fn outcome(name: &str, text: &str, stdlib: bool) -> (String, Option<String>) {
    let options = popcorn_front::Options {
        file_name: name.to_owned(),
        stdlib,
        inline: false,
    };
    let compiled = popcorn_front::compile(text, &options);
    let mut out = String::new();
    for d in &compiled.diagnostics {
        let (line, col) = line_col(text, d.span.lo);
        let kind = if d.is_error() { "error" } else { "warning" };
        writeln!(out, "// {line}:{col} {kind}[{}]: {}", d.code, d.message).unwrap();
    }
    let mut verifier_bug = None;
    match &compiled.module {
        Some(module) => {
            out.push_str("// outcome: ok\n");
            if let Err(errors) = verifier::verify(module, &verifier::Config::default()) {
                let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                verifier_bug = Some(list.join("\n    "));
            }
        }
        None => out.push_str("// outcome: rejected\n"),
    }
    (out, verifier_bug)
}

fn run_dir(dir: &Path, stdlib_dir: bool, bless: bool, seen: &mut Vec<String>, failures: &mut Vec<String>) -> usize {
    let files = pop_files(dir);
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read test file");
        let name = path.strip_prefix(root()).unwrap_or(path).display().to_string();
        let stdlib = stdlib_dir || text.starts_with("// flags: --stdlib");
        let (source, expected) = match text.find(MARKER) {
            Some(at) => (&text[..at], text[at + MARKER.len()..].trim_start_matches('\n')),
            None => (text.as_str(), ""),
        };
        let (actual, verifier_bug) = outcome(&name, source, stdlib);
        seen.extend(
            actual
                .lines()
                .filter_map(|l| l.split('[').nth(1)?.split(']').next())
                .map(str::to_owned),
        );
        if let Some(errors) = verifier_bug {
            failures.push(format!(
                "{name}: accepted by the front-end, but its TAL is rejected:\n    {errors}"
            ));
        }
        if expected != actual {
            if bless {
                let blessed = format!("{}\n{MARKER}\n{actual}", source.trim_end());
                std::fs::write(path, blessed).expect("bless");
            } else {
                failures.push(format!("{name}: expected\n{expected}got\n{actual}"));
            }
        }
    }
    files.len()
}

#[test]
fn pop_ui_tests() {
    let bless = std::env::var_os("SAFEX_BLESS").is_some_and(|v| v != "0");
    let mut seen = Vec::new();
    let mut failures = Vec::new();
    let ui = run_dir(
        &root().join("popcorn-front/tests/ui"),
        false,
        bless,
        &mut seen,
        &mut failures,
    );
    run_dir(&root().join("examples/pop"), false, bless, &mut seen, &mut failures);
    run_dir(&root().join("stdlib/pop"), true, bless, &mut seen, &mut failures);
    assert!(
        ui >= 60,
        "popcorn-front/tests/ui has {ui} files; it documents the language with at least 60"
    );
    let mut report = String::new();
    for f in &failures {
        writeln!(report, "{f}").unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} ui test failures (SAFEX_BLESS=1 rewrites expectations):\n{report}",
        failures.len()
    );
}
