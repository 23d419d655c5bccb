//! Data-driven verifier tests.
//!
//! Every `.tal` file under `verifier/tests/accept`, `verifier/tests/reject`
//! and `examples/tal` states its expected outcome in a comment line:
//! `; expect: ok`, or `; expect:` followed by the error codes the module is
//! rejected with (sorted, each once). Set `SAFEX_BLESS=1` to rewrite those
//! lines with the actual outcome; the directory still decides what is
//! allowed: files in `reject/` must be rejected, all others accepted.
//!
//! Each file is checked three ways, which must agree: parsed from text, after
//! a print/parse round trip, and after a binary encode/decode round trip.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const EXPECT: &str = "; expect:";

/// Codes only a binary module can trigger: the text parser already refuses
/// duplicate names (V0006), so `binary_only.rs` builds those modules.
const BINARY_ONLY: &[&str] = &["V0101"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn tal_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "tal"))
        .collect();
    files.sort();
    files
}

/// The outcome of a module: `ok`, or its sorted, deduplicated error codes.
fn outcome(text: &str) -> String {
    let module = match tal_ir::text::parse(text) {
        Ok((module, _)) => module,
        Err(errors) => return codes(errors.iter().map(|e| e.code)),
    };
    let config = verifier::Config::default();
    let direct = verify_codes(&module, &config);
    let reprinted = tal_ir::text::parse(&tal_ir::text::print(&module))
        .expect("printed text parses")
        .0;
    assert_eq!(reprinted, module, "print/parse round trip changed the module");
    let decoded = tal_ir::binary::decode(&tal_ir::binary::encode(&module)).expect("encoded module decodes");
    assert_eq!(
        verify_codes(&decoded, &config),
        direct,
        "binary round trip changed the outcome"
    );
    direct
}

fn verify_codes(module: &tal_ir::Module, config: &verifier::Config) -> String {
    match verifier::verify(module, config) {
        Ok(()) => "ok".into(),
        Err(errors) => codes(errors.iter().map(|e| e.code)),
    }
}

fn codes<'a>(codes: impl Iterator<Item = &'a str>) -> String {
    let mut v: Vec<&str> = codes.collect();
    v.sort_unstable();
    v.dedup();
    v.join(" ")
}

/// Runs every file of `dir`; returns one line per failure.
fn run_dir(dir: &Path, must_reject: bool, bless: bool, seen_codes: &mut Vec<String>) -> Vec<String> {
    let mut failures = Vec::new();
    for path in tal_files(dir) {
        let text = std::fs::read_to_string(&path).expect("read test file");
        let name = path.strip_prefix(root()).unwrap_or(&path).display().to_string();
        let expect_lines: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with(EXPECT)).collect();
        let [expect_line] = expect_lines[..] else {
            failures.push(format!("{name}: needs exactly one `{EXPECT}` line"));
            continue;
        };
        let expected = expect_line.trim_start()[EXPECT.len()..].trim();
        let actual = outcome(&text);
        if must_reject == (actual == "ok") {
            let want = if must_reject { "rejected" } else { "accepted" };
            failures.push(format!("{name}: must be {want}, outcome is `{actual}`"));
        }
        if must_reject {
            seen_codes.extend(actual.split(' ').map(str::to_owned));
        }
        if expected != actual {
            if bless {
                let blessed = text.replacen(expect_line, &format!("{EXPECT} {actual}"), 1);
                std::fs::write(&path, blessed).expect("bless");
            } else {
                failures.push(format!("{name}: expected `{expected}`, got `{actual}`"));
            }
        }
    }
    failures
}

#[test]
fn tal_filetests() {
    let bless = std::env::var_os("SAFEX_BLESS").is_some_and(|v| v != "0");
    let verifier_tests = root().join("verifier/tests");
    let mut seen = Vec::new();
    let mut failures = run_dir(&verifier_tests.join("accept"), false, bless, &mut seen);
    failures.extend(run_dir(&root().join("examples/tal"), false, bless, &mut seen));
    failures.extend(run_dir(&verifier_tests.join("reject"), true, bless, &mut seen));

    // Every rejection code the verifier documents has a hostile test, here or,
    // for what text cannot express, in `binary_only.rs`.
    let doc = std::fs::read_to_string(root().join("verifier/src/lib.rs")).expect("verifier source");
    for code in doc
        .split("**")
        .filter(|w| w.len() == 5 && w.starts_with('V') && !BINARY_ONLY.contains(w))
    {
        if !seen.iter().any(|s| s == code) {
            failures.push(format!("no test in verifier/tests/reject is rejected with {code}"));
        }
    }
    let mut report = String::new();
    for f in &failures {
        writeln!(report, "  {f}").unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} filetest failures (SAFEX_BLESS=1 rewrites expectations):\n{report}",
        failures.len()
    );
}
