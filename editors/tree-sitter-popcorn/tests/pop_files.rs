//! Every `.pop` file of the repository parses as the front-end parses it:
//! without an ERROR or MISSING node exactly when the front-end finds no
//! syntax or lexical error. The deliberately broken files of the
//! front-end's UI tests (`popcorn-front/tests/ui/syntax_*.pop`) are the only
//! ones with errors; every other file, the examples, the standard library,
//! the benchmarks and the kernel-module tests included, parses cleanly.

mod common;

use std::path::Path;

#[test]
fn every_pop_file_parses_as_the_front_end_parses_it() {
    let root = common::repo_root();
    let files = common::pop_files(&root);
    let mut parser = common::parser();
    let mut failures = Vec::new();
    let (mut clean, mut broken) = (0usize, 0usize);
    for path in &files {
        let name = path.strip_prefix(&root).unwrap_or(path).display().to_string();
        let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let tree = common::parse(&mut parser, &source);
        let error = common::first_error(tree.root_node());
        let expected = common::front_end_syntax_error(&source);
        match (expected, &error) {
            (Some(false) | None, None) => clean += 1,
            (Some(true), Some(_)) => broken += 1,
            (Some(false) | None, Some(error)) => {
                failures.push(format!("{name}: {error}, but the front-end parses it"));
            }
            (Some(true), None) => {
                failures.push(format!(
                    "{name}: parses cleanly, but the front-end reports a syntax error"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} file(s) disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{clean} .pop files parse cleanly, {broken} have the front-end's syntax errors");
    // The directories the brief names must have been found, and be clean.
    for dir in [
        "examples/pop",
        "stdlib/pop",
        "bench/pop",
        "kmod/tests",
        "popcorn-front/tests/ui",
    ] {
        assert!(
            files.iter().any(|f| f.starts_with(root.join(dir))),
            "no .pop file found under {dir}"
        );
    }
    assert!(
        clean >= 100,
        "only {clean} clean files: the search for .pop files is broken"
    );
    assert!(
        broken >= 5,
        "only {broken} files with syntax errors: the UI tests' syntax_*.pop files are missing"
    );
}

/// The files outside the front-end's UI tests are real programs: each must
/// parse without any ERROR or MISSING node, whatever the front-end says.
#[test]
fn programs_parse_without_error_nodes() {
    let root = common::repo_root();
    let ui = root.join("popcorn-front/tests/ui");
    let mut parser = common::parser();
    let mut checked = 0;
    for path in common::pop_files(&root).iter().filter(|p| !p.starts_with(&ui)) {
        let source = std::fs::read_to_string(path).expect("read .pop file");
        let tree = common::parse(&mut parser, &source);
        if let Some(error) = common::first_error(tree.root_node()) {
            panic!("{}: {error}", path.strip_prefix(&root).unwrap_or(path).display());
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} programs found");
}

/// The UI tests of syntax errors must fail to parse here too, where the
/// front-end reports them.
#[test]
fn the_ui_syntax_error_files_have_error_nodes() {
    let root = common::repo_root();
    let ui = root.join("popcorn-front/tests/ui");
    let mut parser = common::parser();
    let mut seen = 0;
    for path in common::pop_files(&ui) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !name.starts_with("syntax_") || name == "syntax_nesting_too_deep.pop" {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("read .pop file");
        let tree = common::parse(&mut parser, &source);
        assert!(
            tree.root_node().has_error(),
            "{}: parses cleanly, but it is a syntax error test",
            Path::new(name).display()
        );
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} syntax_*.pop files found");
}
