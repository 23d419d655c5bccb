//! Runs the corpus tests in `test/corpus/*.txt`, as `tree-sitter test`
//! does, without the CLI: each input is parsed and its tree, as an
//! S-expression, compared with the expected one. Whitespace is normalized
//! as the CLI normalizes it, and field names are compared only when the
//! expected tree names fields. The front-end's parser must agree with each
//! test too: it finds a syntax error exactly in the tests whose expected
//! tree has an ERROR or MISSING node.

mod common;

use std::path::{Path, PathBuf};

struct Case {
    file: String,
    name: String,
    input: String,
    expected: String,
}

/// A line of at least three `c`s and nothing else (but the line end).
fn is_delimiter(line: &str, c: char) -> bool {
    let line = line.trim_end_matches(['\r', '\n']);
    line.len() >= 3 && line.chars().all(|x| x == c)
}

/// At `lines[i]`, a header: `===`, the test's name, `===`. Returns the
/// name and the index of the line after it.
fn header(lines: &[&str], i: usize) -> Option<(String, usize)> {
    let name = lines.get(i + 1)?.trim();
    if !is_delimiter(lines[i], '=') || name.is_empty() || !is_delimiter(lines.get(i + 2)?, '=') {
        return None;
    }
    Some((name.to_owned(), i + 3))
}

fn parse_corpus(file: &str, text: &str) -> Vec<Case> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let starts: Vec<(usize, String, usize)> = (0..lines.len())
        .filter_map(|i| header(&lines, i).map(|(name, body)| (i, name, body)))
        .collect();
    assert!(!starts.is_empty(), "{file}: no test found");
    if let Some(first) = starts.first() {
        assert!(
            lines[..first.0].iter().all(|l| l.trim().is_empty()),
            "{file}: text before the first test"
        );
    }
    let mut cases = Vec::new();
    for (k, (_, name, body_start)) in starts.iter().enumerate() {
        assert!(
            !name.starts_with(':'),
            "{file}: `{name}`: test attributes (`:skip`, `:error`, ...) are not supported here"
        );
        let body_end = starts.get(k + 1).map_or(lines.len(), |next| next.0);
        let body = &lines[*body_start..body_end];
        // The longest `---` line divides input from output; of equal ones,
        // the last (an earlier one is part of the input), as in the CLI.
        let divider = body
            .iter()
            .enumerate()
            .filter(|(_, l)| is_delimiter(l, '-'))
            .max_by_key(|(j, l)| (l.trim_end().len(), *j))
            .map(|(j, _)| j)
            .unwrap_or_else(|| panic!("{file}: `{name}` has no `---` line"));
        let mut input: String = body[..divider].concat();
        if input.ends_with('\n') {
            input.pop();
        }
        if input.ends_with('\r') {
            input.pop();
        }
        let expected = normalize(&body[divider + 1..].concat());
        assert!(!expected.is_empty(), "{file}: `{name}` has no expected tree");
        cases.push(Case {
            file: file.to_owned(),
            name: name.clone(),
            input,
            expected,
        });
    }
    cases
}

/// The CLI's normalization of an expected tree: lines starting with `;`
/// are comments, whitespace runs become one space, none before `)`.
fn normalize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for line in raw.lines().filter(|l| !l.trim_start().starts_with(';')) {
        for c in line.chars() {
            if c.is_whitespace() {
                if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
            } else {
                if c == ')' && out.ends_with(' ') {
                    out.pop();
                }
                out.push(c);
            }
        }
        if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.trim_end().to_owned()
}

/// `to_sexp` output without its field names (` name: (` becomes ` (`).
fn strip_fields(sexp: &str) -> String {
    let mut out = String::with_capacity(sexp.len());
    for (i, word) in sexp.split(' ').enumerate() {
        let is_field = word.len() > 1
            && word.ends_with(':')
            && word[..word.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if is_field {
            continue;
        }
        if i > 0 && !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn corpus_files() -> Vec<PathBuf> {
    let dir = common::crate_dir().join("test/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
}

fn all_cases() -> Vec<Case> {
    corpus_files()
        .iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let file = Path::new(path.file_name().expect("file name")).display().to_string();
            parse_corpus(&file, &text)
        })
        .collect()
}

#[test]
fn corpus_trees_match() {
    let cases = all_cases();
    let mut parser = common::parser();
    let mut failures = Vec::new();
    for case in &cases {
        let tree = common::parse(&mut parser, &case.input);
        let sexp = tree.root_node().to_sexp();
        let actual = if case.expected.contains(": (") {
            sexp
        } else {
            strip_fields(&sexp)
        };
        if actual != case.expected {
            failures.push(format!(
                "{}: {}\n  expected: {}\n  actual:   {}",
                case.file,
                case.name,
                tree_sitter::format_sexp(&case.expected, 2),
                tree_sitter::format_sexp(&actual, 2)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus tests fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    println!("{} corpus tests pass", cases.len());
    assert!(cases.len() >= 40, "only {} corpus tests", cases.len());
}

/// The corpus inputs are Popcorn-SX as the front-end reads it: it reports a
/// syntax error in exactly the tests that expect an ERROR or MISSING node.
#[test]
fn corpus_inputs_agree_with_the_front_end() {
    let cases = all_cases();
    let mut failures = Vec::new();
    let mut broken = 0;
    for case in &cases {
        let expects_error = case.expected.contains("(ERROR") || case.expected.contains("(MISSING");
        broken += usize::from(expects_error);
        let front_end = common::front_end_syntax_error(&case.input);
        if front_end != Some(expects_error) {
            failures.push(format!(
                "{}: {}: the tree {} an error, the front-end says {front_end:?}",
                case.file,
                case.name,
                if expects_error { "has" } else { "has no" }
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(broken >= 3, "only {broken} error-recovery tests");
}

#[test]
fn the_corpus_reader_reads_the_cli_format() {
    let text = "\n===\none\n===\nint a;\n---\n(source_file\n  ; a comment\n  (declaration  (x) )\n)\n\n=====\ntwo\n=====\n\
                --- in the input\n\n-----\n\n(b)\n";
    let cases = parse_corpus("t.txt", text);
    assert_eq!(cases.len(), 2);
    assert_eq!((cases[0].name.as_str(), cases[0].input.as_str()), ("one", "int a;"));
    assert_eq!(cases[0].expected, "(source_file (declaration (x)))");
    assert_eq!(cases[1].input, "--- in the input\n");
    assert_eq!(cases[1].expected, "(b)");
    assert_eq!(strip_fields("(a name: (b) (c value: (d)))"), "(a (b) (c (d)))");
}
