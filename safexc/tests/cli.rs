//! The `safexc` command line as users and scripts see it: exit codes, the
//! summary line on stdout, and diagnostics on stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn safexc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_safexc"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run safexc")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn verify_accepts_the_paper_extensions() {
    let out = safexc(&["verify", "examples/tal/cpu_pid.tal", "examples/tal/timeslice_guard.tal"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("examples/tal/cpu_pid.tal: ok (2 functions"), "{stdout}");
    assert!(
        stdout.contains("examples/tal/timeslice_guard.tal: ok (1 functions"),
        "{stdout}"
    );
}

#[test]
fn verify_rejects_with_codes_and_source_lines() {
    let dir = tempdir("reject");
    let file = dir.join("forge.tal");
    std::fs::write(
        &file,
        "module m\nclass c { a: i64 }\nfunc @f(i64) {\nblock0(v0: i64):\n    fuel 2\n    call @spin_lock(v0)\n    ret\n}\n",
    )
    .unwrap();
    let out = safexc(&["verify", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).ends_with("rejected: V0720\n"),
        "{}",
        text(&out.stdout)
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("V0720") && stderr.contains("lock use"), "{stderr}");
    assert!(
        stderr.contains("call @spin_lock(v0)"),
        "the report quotes the offending line: {stderr}"
    );
}

#[test]
fn one_bad_file_fails_the_run_but_all_are_checked() {
    let dir = tempdir("mixed");
    let bad = dir.join("bad.tal");
    std::fs::write(&bad, "module m\nfunc @f() {\nblock0:\n    ret\n}\n").unwrap();
    let out = safexc(&["verify", bad.to_str().unwrap(), "examples/tal/cpu_pid.tal"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("bad.tal: rejected: V0401"), "{stdout}");
    assert!(stdout.contains("cpu_pid.tal: ok"), "{stdout}");
}

#[test]
fn binary_tal_is_verified_and_reported_as_text() {
    let dir = tempdir("binary");
    let source = std::fs::read_to_string(root().join("examples/tal/cpu_pid.tal")).unwrap();
    let (module, _) = tal_ir::text::parse(&source).unwrap();
    let good = dir.join("cpu_pid.btal");
    std::fs::write(&good, tal_ir::binary::encode(&module)).unwrap();
    assert_eq!(safexc(&["verify", good.to_str().unwrap()]).status.code(), Some(0));

    let mut truncated = tal_ir::binary::encode(&module);
    truncated.truncate(truncated.len() / 2);
    let bad = dir.join("truncated.btal");
    std::fs::write(&bad, truncated).unwrap();
    let out = safexc(&["verify", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("rejected: V0052"), "{}", text(&out.stdout));
}

#[test]
fn unreadable_and_non_utf8_files_are_errors_not_panics() {
    let dir = tempdir("junk");
    let junk = dir.join("junk.tal");
    std::fs::write(&junk, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    let out = safexc(&["verify", junk.to_str().unwrap(), "does/not/exist.tal"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("junk.tal: rejected: V0001"), "{stdout}");
    assert!(stdout.contains("exist.tal: rejected: L0001"), "{stdout}");
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("safexc-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn explain_prints_the_title_and_an_example() {
    let out = safexc(&["explain", "P0310"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("P0310: variable read before it is assigned\n\n"),
        "{stdout}"
    );
    assert!(stdout.contains("\nExample:\n    extension demo;\n"), "{stdout}");
    assert!(
        stdout.lines().all(|l| l.starts_with("    ") || l.len() <= 80),
        "{stdout}"
    );

    let out = safexc(&["explain", "v0701"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("V0701: pointer forging\n\n"), "{stdout}");
    assert!(stdout.contains("\nExample:\n    module demo\n"), "{stdout}");

    let out = safexc(&["explain", "X9999"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("X9999") && stderr.contains("P0xxx") && stderr.contains("V0xxx"),
        "{stderr}"
    );
}

#[test]
fn explain_all_lists_every_code_once() {
    let out = safexc(&["explain", "--all"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let codes: Vec<&str> = stdout.lines().map(|l| l.split("  ").next().unwrap_or("")).collect();
    assert_eq!(
        codes.len(),
        popcorn_front::codes::CODES.len()
            + verifier::codes::CODES.len()
            + codegen::codes::CODES.len()
            + runtime::codes::CODES.len(),
        "{stdout}"
    );
    assert!(codes.windows(2).all(|w| w[0] < w[1]), "{stdout}");
    assert!(
        stdout.contains("P0310  variable read before it is assigned\n"),
        "{stdout}"
    );
    assert!(stdout.contains("V0701  pointer forging\n"), "{stdout}");
}

#[test]
fn check_accepts_the_paper_extensions_and_the_stdlib_guard() {
    let out = safexc(&[
        "check",
        "examples/pop/cpu_pid.pop",
        "examples/pop/cpu_avg.pop",
        "examples/pop/robust_pid.pop",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).matches(": ok (").count(), 3, "{}", text(&out.stdout));
    let guard = safexc(&["check", "--stdlib", "stdlib/pop/timeslice_guard.pop"]);
    assert_eq!(guard.status.code(), Some(0), "stderr: {}", text(&guard.stderr));
    // The same guard from an application is refused.
    let app = safexc(&["check", "stdlib/pop/timeslice_guard.pop"]);
    assert_eq!(app.status.code(), Some(1));
    assert!(
        text(&app.stdout).contains("rejected: P0313, P0314"),
        "{}",
        text(&app.stdout)
    );
}

#[test]
fn check_reports_every_error_with_its_code_and_line() {
    let dir = tempdir("check");
    let file = dir.join("bad.pop");
    let source = "extension bad;\nimport cpu;\nmonitor void m(cap<cpu_qos> app) {\n    int x = (int) app;\n    spin_lock(x);\n    int y;\n    raise_event(\"Error\", y);\n}\n";
    std::fs::write(&file, source).unwrap();
    let out = safexc(&["check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).ends_with("rejected: P0301, P0306, P0310\n"),
        "{}",
        text(&out.stdout)
    );
    let stderr = text(&out.stderr);
    for (code, line) in [
        ("P0301", "int x = (int) app;"),
        ("P0306", "spin_lock(x);"),
        ("P0310", "raise_event(\"Error\", y);"),
    ] {
        assert!(
            stderr.contains(code) && stderr.contains(line),
            "{code} on `{line}`:\n{stderr}"
        );
    }
}

#[test]
fn warnings_alone_do_not_fail_check() {
    let dir = tempdir("warn");
    let file = dir.join("warn.pop");
    let source = "extension w;\nimport cpu;\nhandler void h(cap<cpu_qos> app, int v) on \"Error\" {\n}\n";
    std::fs::write(&file, source).unwrap();
    let out = safexc(&["check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 warning"), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("P0901"), "{}", text(&out.stderr));
}

#[test]
fn compile_emits_tal_that_verifies() {
    let dir = tempdir("emit");
    let tal = dir.join("cpu_pid.tal");
    let out = safexc(&[
        "compile",
        "examples/pop/cpu_pid.pop",
        "--emit",
        "tal",
        "-o",
        tal.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let verified = safexc(&["verify", tal.to_str().unwrap()]);
    assert_eq!(verified.status.code(), Some(0), "stderr: {}", text(&verified.stderr));
}

#[test]
fn compile_to_an_object_then_verify_it_and_detect_tampering() {
    let dir = tempdir("object");
    let obj = dir.join("cpu_pid.o");
    let out = safexc(&["compile", "examples/pop/cpu_pid.pop", "-o", obj.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let bytes = std::fs::read(&obj).unwrap();
    assert!(bytes.starts_with(b"\x7fELF"));
    // Deterministic: compiling again gives the same bytes.
    let again = dir.join("again.o");
    safexc(&["compile", "examples/pop/cpu_pid.pop", "-o", again.to_str().unwrap()]);
    assert_eq!(std::fs::read(&again).unwrap(), bytes);
    let ok = safexc(&["verify", obj.to_str().unwrap()]);
    assert_eq!(ok.status.code(), Some(0), "stderr: {}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).contains("ok (object: 2 functions"),
        "{}",
        text(&ok.stdout)
    );
    // One flipped byte in the code: refused.
    let mut bad = bytes.clone();
    bad[0x60] ^= 0x10;
    let tampered = dir.join("tampered.o");
    std::fs::write(&tampered, &bad).unwrap();
    let out = safexc(&["verify", tampered.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("rejected: C0"), "{}", text(&out.stdout));
}

#[test]
fn a_no_fuel_object_is_marked() {
    let dir = tempdir("nofuel");
    let obj = dir.join("nofuel.o");
    let out = safexc(&[
        "compile",
        "examples/pop/cpu_pid.pop",
        "--no-fuel",
        "-o",
        obj.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let verified = safexc(&["verify", obj.to_str().unwrap()]);
    assert!(
        text(&verified.stdout).contains("built --no-fuel: loaders refuse it"),
        "{}",
        text(&verified.stdout)
    );
}

#[test]
fn explain_covers_object_and_loader_codes() {
    let out = safexc(&["explain", "C0080"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("C0080: function code is not what its TAL compiles to\n\n"),
        "{stdout}"
    );
    assert!(stdout.contains("\nExample:\n    "), "{stdout}");

    let out = safexc(&["explain", "l0020"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("L0020: object built without fuel checks\n\n"),
        "{stdout}"
    );
    assert!(
        stdout.lines().all(|l| l.starts_with("    ") || l.len() <= 80),
        "{stdout}"
    );
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    use std::io::Read;
    // Far more disassembly than a pipe buffers, so safexc is still writing
    // when the reader goes away.
    let dir = tempdir("pipe");
    let file = dir.join("long.pop");
    let body = "    if (x > 0) x = x - 1;\n".repeat(3_000);
    std::fs::write(
        &file,
        format!("extension long;\nimport cpu;\nint x = 0;\nmonitor void m(cap<cpu_qos> app) {{\n{body}}}\n"),
    )
    .unwrap();
    let obj = dir.join("long.o");
    let built = safexc(&["compile", file.to_str().unwrap(), "-o", obj.to_str().unwrap()]);
    assert_eq!(built.status.code(), Some(0), "{}", text(&built.stderr));
    let mut child = Command::new(env!("CARGO_BIN_EXE_safexc"))
        .args(["inspect", obj.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert!(!text(&out.stderr).contains("panicked"), "{}", text(&out.stderr));
}
