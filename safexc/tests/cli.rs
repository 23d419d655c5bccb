//! The `safexc` command line as users and scripts see it: exit codes, the
//! summary line on stdout, and diagnostics on stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{root, safexc, text};

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
        "module m\nclass c { a: i64 }\nfunc @f(i64) {\nblock0(v0: i64):\n    fuel 3\n    call @spin_lock(v0)\n    ret\n}\n",
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
    std::fs::write(
        &bad,
        "module m\nclass c { a: i64 }\nmonitor @f(cap<c, r>) {\nblock0(v0: cap<c, r>):\n    ret\n}\n",
    )
    .unwrap();
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

#[test]
fn text_read_through_a_window_is_verified_and_reported_as_before() {
    // A file of TAL text is verified as it is read, never whole: a
    // byte-order mark and CRLF line ends change nothing, a module larger
    // than the reader's window (16 KiB items, 1 MiB reads) is read across
    // windows, and a refused one is reported on its lines as before.
    let dir = tempdir("window");
    let pid = std::fs::read_to_string(root().join("examples/tal/cpu_pid.tal")).unwrap();
    let crlf = dir.join("crlf.tal");
    std::fs::write(&crlf, format!("\u{feff}{}", pid.replace('\n', "\r\n"))).unwrap();
    let out = safexc(&["verify", crlf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("crlf.tal: ok (2 functions"),
        "{}",
        text(&out.stdout)
    );

    let mut large = String::from("module m\n");
    for f in 0..300 {
        large += &format!("func @f{f}(i64) -> i64 {{\nblock0(v0: i64):\n    fuel 200\n");
        for i in 1..200 {
            large += &format!("    v{i} = iadd v{}, v0\n", i - 1);
        }
        large += "    ret v199\n}\n";
    }
    let file = dir.join("large.tal");
    std::fs::write(&file, &large).unwrap();
    let out = safexc(&["verify", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("large.tal: ok (300 functions, 60300 instructions)"),
        "{}",
        text(&out.stdout)
    );

    let bad = dir.join("bad.tal");
    let forge = "module m\r\nclass c { a: i64 }\r\nfunc @f(i64) {\r\nblock0(v0: i64):\r\n    fuel 3\r\n    call @spin_lock(v0)\r\n    ret\r\n}\r\n";
    std::fs::write(&bad, format!("\u{feff}{forge}")).unwrap();
    let out = safexc(&["verify", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).ends_with("rejected: V0720\n"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stderr).contains("bad.tal:6:5"), "{}", text(&out.stderr));
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
            + runtime::codes::CODES.len()
            + safex::codes::CODES.len(),
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
fn a_no_fuel_object_is_refused_by_verify_as_by_loaders() {
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
    // `verify` runs the loaders' checks: it refuses the object as they do.
    let verified = safexc(&["verify", obj.to_str().unwrap()]);
    assert_eq!(verified.status.code(), Some(1));
    assert!(
        text(&verified.stdout).ends_with("rejected: L0020\n"),
        "{}",
        text(&verified.stdout)
    );
    assert!(
        text(&verified.stderr).contains("--no-fuel"),
        "{}",
        text(&verified.stderr)
    );
}

#[test]
fn small_functions_are_inlined_unless_no_inline() {
    let tal = |extra: &[&str]| {
        let mut args = vec!["compile", "bench/pop/call_kernel.pop", "--emit", "tal"];
        args.extend(extra);
        let out = safexc(&args);
        assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
        let tal = text(&out.stdout);
        let monitor = tal.find("monitor @call_monitor").expect("the monitor");
        tal[monitor..].matches("= call @").count()
    };
    assert_eq!(tal(&[]), 0, "clamp and the chain are inlined into the monitor");
    assert_eq!(tal(&["--no-inline"]), 2, "clamp and chain1 stay calls");
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

/// Compiles `source` to `DIR/NAME.o` with `safexc compile`.
fn compiled(dir: &Path, name: &str, source: &str) -> String {
    let pop = dir.join(format!("{name}.pop"));
    let obj = dir.join(format!("{name}.o"));
    std::fs::write(&pop, source).unwrap();
    let out = safexc(&["compile", pop.to_str().unwrap(), "-o", obj.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    obj.to_str().unwrap().to_string()
}

#[test]
fn run_prints_the_pid_adjustments_through_the_guard() {
    let dir = tempdir("run-pid");
    let pid = compiled(&dir, "pid", include_str!("../../examples/pop/cpu_pid.pop"));
    let args = [
        "run",
        &pid,
        "--app",
        "video",
        "--set",
        "target_cpu=20000",
        "--set",
        "cpu_qos.actual_cpu=19000",
        "--set",
        "target_util=500",
        "--set",
        "avg_util_2p=400",
        "--ticks",
        "3",
    ];
    let out = safexc(&args);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // e = 1000 every tick: u = 650, then 650 + 600 each tick.
    for row in [
        "| 1 | cpu_qos.timeslice_adjustment | 0 | 650 | cpu_pid.cpu_pid | applied 20650 |",
        "| 2 | cpu_qos.timeslice_adjustment | 650 | 1250 | cpu_pid.cpu_pid | applied 21250 |",
        "| 3 | cpu_qos.timeslice_adjustment | 1250 | 1850 | cpu_pid.cpu_pid | applied 21850 |",
        "| cpu_pid | 6 | 0 | 246 | 3 | active |",
    ] {
        assert!(stdout.contains(row), "missing `{row}` in:\n{stdout}");
    }
    assert_eq!(
        text(&safexc(&args).stdout),
        stdout,
        "the same run prints the same bytes"
    );
    // A source file runs as its object does.
    let source = pid.replace(".o", ".pop");
    let mut from_source = args;
    from_source[1] = &source;
    assert_eq!(text(&safexc(&from_source).stdout), stdout);
}

#[test]
fn run_json_reports_traps_with_their_source_line_and_quarantine() {
    let dir = tempdir("run-trap");
    let obj = compiled(
        &dir,
        "div",
        "extension divider;\nimport cpu;\nint zero = 0;\nmonitor void m(cap<cpu_qos> app) {\n    \
         int t = get_attribute(app, \"target_cpu\");\n    int x = t / zero;\n}\n",
    );
    let out = safexc(&["run", &obj, "--ticks", "4", "--json", "--quarantine-after", "2"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let mut ticks: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    // A summary object ends the run: the counters, each object versioned.
    let summary = ticks.pop().unwrap();
    assert_eq!(ticks.len(), 4);
    assert!(ticks.iter().chain([&summary]).all(|t| t["schema"] == 1));
    let divider = &summary["summary"]["extensions"][0];
    assert_eq!(
        (divider["aborts"].as_u64(), divider["quarantined"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(summary["summary"]["ticks"], 4);
    // `--fail-on-trap` makes the traps the exit status.
    let failing = safexc(&["run", &obj, "--ticks", "1", "--fail-on-trap"]);
    assert_eq!(failing.status.code(), Some(1));
    let trap = &ticks[0]["traps"][0];
    assert_eq!(trap["kind"], "DivideByZero");
    assert_eq!(trap["entry"], "divider.m");
    // The divisor: what the check found zero.
    assert_eq!((trap["line"].as_u64(), trap["column"].as_u64()), (Some(6), Some(17)));
    assert_eq!(trap["quarantined"], false);
    assert_eq!(ticks[1]["traps"][0]["quarantined"], true);
    assert_eq!(ticks[2]["monitors"], 1);
    assert!(ticks[2]["traps"].as_array().unwrap().is_empty(), "quarantined: not run");
    // The host tells the application's channel about each abort.
    assert_eq!(ticks[0]["events"][0]["event"], "Exception");
}

#[test]
fn run_refuses_bad_settings_and_unloadable_objects() {
    let dir = tempdir("run-bad");
    let pid = compiled(&dir, "pid", include_str!("../../examples/pop/cpu_pid.pop"));
    for (set, message) in [
        ("target_cpu", "expected ATTRIBUTE=VALUE"),
        ("target_cpu=lots", "`lots` is not an integer"),
        ("nope=1", "no attribute class defines `nope`"),
        ("timeslice_adjustment=9999999", "outside the range"),
    ] {
        let out = safexc(&["run", &pid, "--set", set]);
        assert_eq!(out.status.code(), Some(1), "{set}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("error[L0111]") && stderr.contains(message),
            "{set}: {stderr}"
        );
    }
    let guard = dir.join("guard.o");
    let out = safexc(&[
        "compile",
        "--stdlib",
        "stdlib/pop/timeslice_guard.pop",
        "-o",
        guard.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let out = safexc(&["run", guard.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[L0101]"), "{}", text(&out.stderr));
}

#[test]
fn run_follows_a_trace_file_tick_by_tick() {
    let dir = tempdir("run-trace");
    let pid = compiled(&dir, "pid", include_str!("../../examples/pop/cpu_pid.pop"));
    let actual = [19_000, 19_500, 21_000, 20_000, 18_000];
    let mut trace = String::from("# tick,attribute,value\n1,target_cpu,20000\n");
    for (t, a) in actual.iter().enumerate() {
        trace += &format!("{},actual_cpu,{a}\n", t + 1);
    }
    let trace_path = dir.join("trace.csv");
    std::fs::write(&trace_path, trace).unwrap();
    let out = safexc(&[
        "run",
        &pid,
        "--no-guards",
        "--json",
        "--ticks",
        "5",
        "--trace",
        trace_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    // The paper's law, in Rust.
    let (mut e_prev, mut u_prev) = (0i64, 0i64);
    for (line, a) in text(&out.stdout).lines().zip(actual) {
        let e = 20_000 - a;
        let u = (650 * e - 50 * e_prev) / 1000 + u_prev;
        (e_prev, u_prev) = (e, u);
        let tick: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(tick["changes"][0]["new"], u, "{line}");
    }
    std::fs::write(&trace_path, "1,actual_cpu\n").unwrap();
    let out = safexc(&["run", &pid, "--trace", trace_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("trace.csv:1: expected `tick,attribute,value`"));
}

/// An extension that counts the `Ping` events it hears.
const COUNTER: &str = "extension counter;\nimport cpu;\nevent Ping;\nint heard = 0;\nint last = 0;\nint hist[4];\n\
    handler void count(cap<cpu_qos> app, int v) on \"Ping\" {\n    heard = heard + 1;\n    last = v;\n    \
    hist[heard % 4] = v;\n}\n";

#[test]
fn run_manages_several_applications_with_invocations_events_and_state() {
    let dir = tempdir("run-apps");
    let pid = compiled(&dir, "pid", include_str!("../../examples/pop/cpu_pid.pop"));
    let counter = compiled(&dir, "counter", COUNTER);
    let trace = dir.join("trace.csv");
    std::fs::write(&trace, "2,video:actual_cpu,21000\n").unwrap();
    let args = [
        "run",
        "--app",
        &format!("video={pid}"),
        "--app",
        &format!("logger={counter}"),
        "--set",
        "video:target_cpu=20000",
        "--set",
        "video:actual_cpu=19000",
        "--trace",
        trace.to_str().unwrap(),
        "--invoke",
        "logger:count=3",
        "--event",
        "logger:Ping=7@2",
        "--state",
        "--ticks",
        "3",
    ];
    let out = safexc(&args);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in [
        "invoke counter.count(3): ok",
        "| 1 | video:cpu_qos.timeslice_adjustment | 0 | 650 | cpu_pid.cpu_pid |",
        "tick 2: event Ping(7) to `logger`: 1 handler",
        "| video:cpu_pid | 6 | 0 |",
        "| logger:counter | 2 | 0 |",
        "state of logger:counter:\n  heard = 2\n  last = 7\n  hist = [0, 3, 7, 0]",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
    // The trace's measurement reached video at tick 2: e = -1000.
    assert!(
        stdout.contains("| 2 | video:cpu_qos.timeslice_adjustment | 650 | "),
        "{stdout}"
    );
    assert_eq!(
        text(&safexc(&args).stdout),
        stdout,
        "the same run prints the same bytes"
    );
    // The same run in JSON: the event, each application, the state.
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let out = safexc(&json_args);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines[0]["invoke"], "counter.count");
    assert_eq!(lines[0]["outcome"], "ok");
    let ping = lines[2]["events"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["event"] == "Ping"))
        .unwrap_or_else(|| panic!("no Ping at tick 2: {}", lines[2]));
    assert_eq!(
        (ping["app"].as_str(), ping["value"].as_i64()),
        (Some("logger"), Some(7))
    );
    let summary = &lines.last().unwrap()["summary"];
    assert_eq!(summary["applications"][1]["name"], "logger");
    let state = &summary["extensions"][1]["state"];
    assert_eq!((state["heard"].as_i64(), state["last"].as_i64()), (Some(2), Some(7)));
    assert_eq!(state["hist"], serde_json::json!([0, 3, 7, 0]));
}

#[test]
fn run_checks_every_application_invocation_event_and_trace_line_before_tick_1() {
    let dir = tempdir("run-apps-bad");
    let pid = compiled(&dir, "pid", include_str!("../../examples/pop/cpu_pid.pop"));
    let counter = compiled(&dir, "counter", COUNTER);
    let video = format!("video={pid}");
    let logger = format!("logger={counter}");
    let late = dir.join("late.csv");
    std::fs::write(&late, "1,video:actual_cpu,5\n500,video:actual_cpoo,5\n").unwrap();
    let late = late.to_str().unwrap();
    for (extra, code, message) in [
        (vec!["--set", "target_cpu=1"], "L0111", "several applications: name one"),
        (vec!["--set", "radio:target_cpu=1"], "L0111", "no application `radio`"),
        (
            vec!["--event", "logger:Pong=1@2"],
            "L0112",
            "no loaded extension raises or handles event `Pong`",
        ),
        (
            vec!["--event", "logger:Ping=1@9"],
            "L0112",
            "tick 9 is not one of this run's ticks (1 to 3)",
        ),
        (
            vec!["--event", "logger:Ping=1"],
            "L0112",
            "expected [APP:]NAME[=VALUE]@TICK",
        ),
        (
            vec!["--invoke", "logger:counted=1"],
            "L0112",
            "no loaded extension has an entry point `counted`",
        ),
        (
            vec!["--invoke", "video:cpu_monitor=1"],
            "L0112",
            "is a monitor: it takes no value",
        ),
        (
            vec!["--trace", late],
            "L0111",
            "late.csv:2: no attribute class defines `actual_cpoo`",
        ),
        (vec!["--app", "tv"], "L0112", "already belong to"),
    ] {
        let mut args = vec!["run", "--app", &video, "--app", &logger, "--ticks", "3"];
        if extra[0] == "--app" {
            args.insert(1, &pid);
            args.insert(2, "--app");
            args.insert(3, "radio");
        }
        args.extend(&extra);
        let out = safexc(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {stderr}");
        assert!(
            stderr.contains(&format!("error[{code}]")) && stderr.contains(message),
            "{extra:?}: {stderr}"
        );
        assert!(
            text(&out.stdout).is_empty(),
            "{extra:?}: nothing runs: {}",
            text(&out.stdout)
        );
    }
    let out = safexc(&["run", "--app", "tv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("there are none"), "{}", text(&out.stderr));
}

/// A memory-QoS controller with an attribute class of its own.
const MEM: &str = "extension mem_ctl;\nattribute class mem_qos {\n    int limit_kb readonly;\n    int used_kb readonly;\n    \
    int pressure range(0, 100);\n}\nmonitor void watch(cap<mem_qos> app) {\n    \
    int limit = get_attribute(app, \"limit_kb\");\n    int used = get_attribute(app, \"used_kb\");\n    \
    int p = 0;\n    if (limit > 0) { p = used * 100 / limit; }\n    if (p > 100) { p = 100; }\n    \
    set_attribute(app, \"pressure\", p);\n}\n";

#[test]
fn run_creates_the_attribute_classes_an_extension_declares() {
    let dir = tempdir("run-class");
    let mem = compiled(&dir, "mem", MEM);
    let out = safexc(&[
        "run",
        "--app",
        &format!("db={mem}"),
        "--set",
        "limit_kb=1000",
        "--set",
        "mem_qos.used_kb=730",
        "--ticks",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("| 1 | mem_qos.pressure | 0 | 73 | mem_ctl.watch |  |"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stderr).contains("attribute class `mem_qos` defined"));
    // A second extension declaring the class otherwise is refused.
    let other = compiled(
        &dir,
        "other",
        &MEM.replace("extension mem_ctl", "extension other")
            .replace("range(0, 100)", "range(0, 1000)"),
    );
    let out = safexc(&["run", &mem, &other, "--ticks", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("error[L0100]: the object's declaration of class `mem_qos` differs"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn run_shows_trace_records_with_their_source_line_and_counts_those_dropped() {
    let dir = tempdir("run-trace-helper");
    let source = "extension tracer;\nimport cpu;\nint n = 0;\nmonitor void m(cap<cpu_qos> app) {\n    n = n + 1;\n    \
                  trace(n * 100);\n    for (int i = 0; i < 20; i++) { trace(i); }\n}\n";
    let obj = compiled(&dir, "tracer", source);
    let out = safexc(&["run", &obj, "--ticks", "2"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for line in [
        "tick 1: tracer.m: trace 100 at tracer.pop:6:5",
        "tick 1: tracer.m: trace 14 at tracer.pop:7:36",
        "tick 2: tracer.m: trace 200 at tracer.pop:6:5",
        "tracer: 10 trace records dropped (at most 16 per invocation",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
    assert!(
        !stdout.contains("trace 15 "),
        "the 17th record of an invocation is dropped:\n{stdout}"
    );
    let out = safexc(&["run", &obj, "--ticks", "1", "--json"]);
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first = &lines[0]["traces"][0];
    assert_eq!(
        (
            first["value"].as_i64(),
            first["line"].as_u64(),
            first["column"].as_u64()
        ),
        (Some(100), Some(6), Some(5))
    );
    assert_eq!(lines[0]["traces"].as_array().map(Vec::len), Some(16));
    let tracer = &lines[1]["summary"]["extensions"][0];
    assert_eq!(
        (tracer["traces"].as_u64(), tracer["traces_dropped"].as_u64()),
        (Some(16), Some(5))
    );
}

#[test]
fn inspect_shows_the_constant_pool_as_data_not_instructions() {
    let dir = tempdir("inspect-pool");
    // Division by constants: Cranelift reads its magic numbers from a pool
    // after the code.
    let source = "extension pool;\nimport cpu;\nint out = 0;\n\
        monitor void m(cap<cpu_qos> app) {\n    int x = get_attribute(app, \"period\");\n    \
        out = x / 7 + x % 1000003;\n}\n";
    let obj = compiled(&dir, "pool", source);
    let out = safexc(&["inspect", &obj, "--function", "m"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let (code, pool) = stdout
        .split_once("  constant pool (data, read by the code above):\n")
        .unwrap_or_else(|| panic!("no constant pool in:\n{stdout}"));
    assert!(
        code.trim_end().ends_with("ret"),
        "the code ends with its `ret`:\n{code}"
    );
    assert!(!code.contains("(bad)"), "{code}");
    assert!(pool.contains(".quad   0x4924924924924925"), "{pool}");
    let json = text(&safexc(&["inspect", &obj, "--function", "m", "--json"]).stdout);
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let constants = &value["functions"][0]["constants"];
    assert!(
        constants
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["asm"] == ".quad   0x4924924924924925")),
        "{constants}"
    );
}

#[test]
fn inspect_interleaves_source_lines_with_the_disassembly() {
    let dir = tempdir("inspect-source");
    let obj = compiled(&dir, "pid", include_str!("../../examples/pop/cpu_pid.pop"));
    let out = safexc(&["inspect", &obj, "--function", "cpu_pid", "--source"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // Each line marks the code after it, in order, the store of `e_prev`
    // right after its line.
    let e_prev = stdout.find("  ; pid.pop:30: e_prev = e;\n").expect("line 30");
    let set = stdout
        .find("  ; pid.pop:32: set_attribute(app, \"timeslice_adjustment\", u);\n")
        .expect("line 32");
    assert!(e_prev < set, "{stdout}");
    let after = &stdout[e_prev..set];
    assert!(after.lines().nth(1).is_some_and(|l| l.contains("mov     [")), "{after}");
    let json: serde_json::Value = serde_json::from_str(&text(
        &safexc(&["inspect", &obj, "--function", "cpu_pid", "--source", "--json"]).stdout,
    ))
    .expect("JSON");
    let lines: Vec<u64> = json["functions"][0]["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["source"]["line"].as_u64())
        .collect();
    assert!(lines.contains(&30) && lines.contains(&32), "{lines:?}");
    // Without the source file: byte offsets, and no line text.
    std::fs::remove_file(dir.join("pid.pop")).unwrap();
    let stdout = text(&safexc(&["inspect", &obj, "--function", "cpu_pid", "--source"]).stdout);
    assert!(stdout.contains("  ; pid.pop, byte "), "{stdout}");
}

#[test]
fn inspect_prints_metadata_tal_disassembly_and_relocations() {
    let dir = tempdir("inspect");
    let source = "extension calls;\nimport cpu;\nint r = 0;\n\
        int twice(int a) { int b = a; for (int i = 0; i < 1; i++) { b = b + a; } return b; }\n\
        monitor void m(cap<cpu_qos> app) { r = twice(r + 1); }\n";
    let obj = compiled(&dir, "calls", source);
    let out = safexc(&["inspect", &obj]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "== metadata (.safex.meta)",
        "abi         7",
        "data        1 cell, 0 initialized",
        "events (1):\n  ev0    Error\n",
        "monitor, cap<cpu_qos, rw>, entry fuel",
        "(the host charges it)",
        "func @twice(i64) -> i64 {",
        "endbr64",
        "call    twice",
        "R_X86_64_PLT32",
    ] {
        assert!(stdout.contains(expected), "missing `{expected}` in:\n{stdout}");
    }
}

/// Runs safexc in `dir` with `stdin` as its standard input.
fn safexc_in(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_safexc"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run safexc");
    // safexc may exit without reading its input (a command line it
    // refuses): the closed pipe is not a failure of the test.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

/// Every command that writes standard output, with arguments under which it
/// succeeds.
fn commands_with_output(obj: &str) -> Vec<Vec<&str>> {
    vec![
        vec!["check", "examples/pop/cpu_pid.pop"],
        vec!["compile", "examples/pop/cpu_pid.pop"],
        vec!["compile", "examples/pop/cpu_pid.pop", "--emit", "obj", "-o", "-"],
        vec!["verify", "examples/tal/cpu_pid.tal"],
        vec!["inspect", obj],
        vec!["run", obj, "--ticks", "1"],
        vec!["explain", "P0310"],
        vec!["explain", "--all"],
        vec!["--version"],
        vec!["--help"],
    ]
}

#[test]
fn a_full_standard_output_is_an_error_on_every_command() {
    let dir = tempdir("full");
    let obj = compiled(&dir, "pid", include_str!("../../examples/pop/cpu_pid.pop"));
    for args in commands_with_output(&obj) {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_safexc"))
            .args(&args)
            .current_dir(root())
            .stdout(full)
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("error[L0002]: cannot write to standard output: No space left on device"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_closed_standard_output_is_an_error_on_every_command() {
    let dir = tempdir("closed");
    let obj = compiled(&dir, "pid", include_str!("../../examples/pop/cpu_pid.pop"));
    for args in commands_with_output(&obj) {
        let out = Command::new("sh")
            .args(["-c", "exec \"$0\" \"$@\" >&-", env!("CARGO_BIN_EXE_safexc")])
            .args(&args)
            .current_dir(root())
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("error[L0002]: cannot write to standard output: Bad file descriptor"),
            "{args:?}: {stderr}"
        );
    }
    // Nothing to write: a closed standard output is no error.
    let out = Command::new("sh")
        .args(["-c", "exec \"$0\" \"$@\" >&-", env!("CARGO_BIN_EXE_safexc")])
        .args(["compile", "examples/pop/cpu_pid.pop", "-o"])
        .arg(dir.join("quiet.o"))
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn bad_flag_values_are_refused_with_a_code() {
    let dir = tempdir("flags");
    let obj = compiled(&dir, "pid", include_str!("../../examples/pop/cpu_pid.pop"));
    for (flag, value, message) in [
        (
            "--deadline-ms",
            "inf",
            "a deadline is 0 (none) or from 0.001 to 3600000",
        ),
        ("--deadline-ms", "1e30", "a deadline is 0 (none)"),
        ("--deadline-ms", "NaN", "a deadline is 0 (none)"),
        ("--deadline-ms", "-1", "a deadline is 0 (none)"),
        ("--deadline-ms", "0.0000001", "a deadline is 0 (none)"),
        ("--period-us", "-5", "-5 is not in 1..=1000000000"),
        ("--period-us", "0", "0 is not in 1..=1000000000"),
        ("--period-us", "99999999999999999999", "number too large"),
        ("--ticks", "1000000001", "1000000001 is not in 0..=1000000000"),
        ("--ticks", "-1", "invalid value '-1' for '--ticks <TICKS>'"),
        ("--ticks", "many", "invalid digit"),
    ] {
        let out = safexc(&["run", &obj, flag, value]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(
            stderr.starts_with("error[L0003]: ") && stderr.contains(message),
            "{flag} {value}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{flag} {value}");
    }
    // The largest values are accepted: the last tick's clock fits `now_us`.
    let out = safexc(&[
        "run",
        &obj,
        "--ticks",
        "0",
        "--period-us",
        "1000000000",
        "--deadline-ms",
        "3600000",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for args in [
        &["frobnicate"][..],
        &["verify"],
        &["check", "--no-such-flag", "x.pop"],
        &[],
    ] {
        let out = safexc(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).starts_with("error[L0003]: "),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn compile_to_standard_output_gives_tal_that_verifies() {
    let dir = tempdir("stdout-tal");
    let out = safexc(&["compile", "examples/pop/cpu_pid.pop"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("examples/pop/cpu_pid.pop: ok ("),
        "the status line is on stderr: {}",
        text(&out.stderr)
    );
    let tal = dir.join("cpu_pid.tal");
    std::fs::write(&tal, &out.stdout).unwrap();
    let verified = safexc(&["verify", tal.to_str().unwrap()]);
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified.stderr));
}

#[test]
fn the_output_is_never_the_input() {
    let dir = tempdir("same");
    let source = include_str!("../../examples/pop/cpu_pid.pop");
    let pop = dir.join("x.pop");
    std::fs::write(&pop, source).unwrap();
    std::os::unix::fs::symlink(&pop, dir.join("link.pop")).unwrap();
    std::fs::hard_link(&pop, dir.join("hard.pop")).unwrap();
    let up = format!("../{}/x.pop", dir.file_name().unwrap().to_str().unwrap());
    for output in ["x.pop", "./x.pop", &up, "link.pop", "hard.pop"] {
        let out = safexc_in(&dir, &["compile", "x.pop", "-o", output], b"");
        assert_eq!(out.status.code(), Some(1), "{output}");
        assert!(
            text(&out.stderr).contains("error[L0004]"),
            "{output}: {}",
            text(&out.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(&pop).unwrap(),
            source,
            "{output}: the input is unchanged"
        );
    }
    // Through the link, the other way round.
    let out = safexc_in(&dir, &["compile", "link.pop", "--emit", "tal", "-o", "x.pop"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&pop).unwrap(), source);
}

#[test]
fn a_dash_is_standard_input_and_output() {
    let source = std::fs::read(root().join("examples/pop/cpu_pid.pop")).unwrap();
    let out = safexc_in(&root(), &["compile", "-", "-o", "-"], &source);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("<stdin>: ok ("), "{}", text(&out.stderr));
    let tal = out.stdout;
    assert!(text(&tal).starts_with("module cpu_pid"), "{}", text(&tal));
    let out = safexc_in(&root(), &["verify", "-"], &tal);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("<stdin>: ok ("), "{}", text(&out.stdout));
    let out = safexc_in(&root(), &["check", "-"], &source);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // TAL text on standard input is known by its first word.
    let out = safexc_in(&root(), &["compile", "-", "--emit", "obj", "-o", "-"], &tal);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.starts_with(b"\x7fELF"));
    let out = safexc_in(&root(), &["verify", "-"], &out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // An object is not written to standard output unless asked with `-o -`.
    let out = safexc_in(&root(), &["compile", "-", "--emit", "obj"], &source);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[L0002]: an object is written to a file"));
    // Standard input is read once.
    let out = safexc_in(&root(), &["verify", "-", "-"], &tal);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("error[L0003]"), "{}", text(&out.stderr));
}

#[test]
fn objects_are_the_same_wherever_the_source_lives() {
    let source = include_str!("../../examples/pop/cpu_pid.pop");
    let one = tempdir("where-1");
    let two = tempdir("where-2");
    std::fs::create_dir_all(one.join("a/b")).unwrap();
    std::fs::write(one.join("a/b/x.pop"), source).unwrap();
    std::fs::write(two.join("x.pop"), source).unwrap();
    let out = safexc_in(&one, &["compile", "a/b/x.pop", "-o", "x.o"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Diagnostics still name the file as typed.
    assert!(text(&out.stderr).contains("a/b/x.pop: ok ("), "{}", text(&out.stderr));
    let out = safexc_in(&two, &["compile", "x.pop", "-o", "x.o"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let abs = one.join("a/b/x.pop");
    let out = safexc(&[
        "compile",
        abs.to_str().unwrap(),
        "-o",
        one.join("abs.o").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let object = std::fs::read(one.join("x.o")).unwrap();
    assert_eq!(object, std::fs::read(two.join("x.o")).unwrap());
    assert_eq!(object, std::fs::read(one.join("abs.o")).unwrap());
    let tal = text(&safexc_in(&one, &["compile", "a/b/x.pop"], b"").stdout);
    assert!(tal.contains("source \"x.pop\""), "{tal}");
}

#[test]
fn tal_from_any_front_end_compiles_to_an_object() {
    let dir = tempdir("from-tal");
    let obj = dir.join("cpu_pid.o");
    let out = safexc(&["compile", "examples/tal/cpu_pid.tal", "-o", obj.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("examples/tal/cpu_pid.tal: ok ("),
        "{}",
        text(&out.stderr)
    );
    let verified = safexc(&["verify", obj.to_str().unwrap()]);
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified.stderr));
    // Binary TAL out, and back in.
    let bin = dir.join("cpu_pid.btal");
    let out = safexc(&[
        "compile",
        "examples/pop/cpu_pid.pop",
        "--emit",
        "bin",
        "-o",
        bin.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::fs::read(&bin).unwrap().starts_with(tal_ir::binary::MAGIC));
    let verified = safexc(&["verify", bin.to_str().unwrap()]);
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified.stderr));
    let from_bin = dir.join("from_bin.o");
    let out = safexc(&["compile", bin.to_str().unwrap(), "-o", from_bin.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let from_pop = dir.join("from_pop.o");
    safexc(&["compile", "examples/pop/cpu_pid.pop", "-o", from_pop.to_str().unwrap()]);
    assert_eq!(std::fs::read(from_bin).unwrap(), std::fs::read(from_pop).unwrap());
    // Binary TAL is not written to standard output unless asked with `-o -`.
    let out = safexc(&["compile", "examples/pop/cpu_pid.pop", "--emit", "bin"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error[L0002]"), "{}", text(&out.stderr));
    // Front-end flags do not apply to TAL; objects are not sources.
    let out = safexc(&["compile", "examples/tal/cpu_pid.tal", "--no-inline"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("error[L0003]"), "{}", text(&out.stderr));
    let out = safexc(&["compile", obj.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("error[L0003]"), "{}", text(&out.stderr));
}

#[test]
fn a_foreign_elf_file_is_not_a_safex_object() {
    let dir = tempdir("foreign");
    // An ELF relocatable without SafeX's sections: a SafeX object whose
    // `.safex.*` section names are changed.
    let mut bytes = std::fs::read(compiled(&dir, "pid", include_str!("../../examples/pop/cpu_pid.pop"))).unwrap();
    for section in [&b".safex.tal\0"[..], b".safex.meta\0"] {
        let at = bytes.windows(section.len()).position(|w| w == section).unwrap();
        bytes[at + 1] = b'X';
    }
    // Named like anything but an object: the magic tells.
    let relocatable = dir.join("foreign.bin");
    std::fs::write(&relocatable, bytes).unwrap();
    let mut files = vec![relocatable.to_str().unwrap().to_owned()];
    if Path::new("/bin/true").exists() {
        files.push("/bin/true".to_owned());
    }
    for file in &files {
        for command in ["verify", "inspect"] {
            let out = safexc(&[command, file]);
            assert_eq!(out.status.code(), Some(1), "{command} {file}");
            let stderr = text(&out.stderr);
            assert!(
                stderr.contains("error[C006") && stderr.contains("not a SafeX object"),
                "{command} {file}: {stderr}"
            );
        }
    }
}

#[test]
fn the_version_names_the_abi_cranelift_and_commit() {
    let out = safexc(&["--version"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let version = text(&out.stdout);
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let cranelift = lock
        .split("[[package]]")
        .find(|p| p.contains("\nname = \"cranelift-codegen\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .and_then(|v| v.strip_suffix('"'))
        .expect("cranelift-codegen in Cargo.lock");
    assert_eq!(codegen::CRANELIFT_VERSION, cranelift);
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".to_owned(), |o| text(&o.stdout).trim().to_owned());
    let expected = format!(
        "safexc {} (ABI {}, Cranelift {cranelift}, commit {commit})\n",
        env!("CARGO_PKG_VERSION"),
        stdlib::abi::ABI_VERSION
    );
    assert_eq!(version, expected);
}

/// A source that takes the front-end and verifier a fraction of a second.
fn large_source() -> String {
    let mut source = String::from("extension big;\nimport cpu;\nint g = 0;\n");
    for i in 0..3000 {
        source.push_str(&format!(
            "int f{i}(int x) {{ int y = x + {i}; if (y > 100) {{ y = y - 1; }} return y * 2; }}\n"
        ));
    }
    source.push_str("monitor void m(cap<cpu_qos> app) { g = f1(g); }\n");
    source
}

#[test]
fn long_work_shows_progress_on_a_terminal_and_clears_it() {
    let dir = tempdir("progress");
    let big = dir.join("big.pop");
    std::fs::write(&big, large_source()).unwrap();
    let big = big.to_str().unwrap();
    // Not a terminal (this test's pipes): no progress at all, even at once.
    let out = Command::new(env!("CARGO_BIN_EXE_safexc"))
        .args(["check", big])
        .env("SAFEX_PROGRESS_AFTER_MS", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("checking"), "{}", text(&out.stderr));
    // A terminal (`script` gives the command one): the line shows, and is
    // cleared before the summary.
    let command = format!("{} check {big}", env!("CARGO_BIN_EXE_safexc"));
    let Ok(out) = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("SAFEX_PROGRESS_AFTER_MS", "0")
        .output()
    else {
        panic!("`script` (util-linux) runs the command on a terminal: install it");
    };
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    let at = shown
        .find("checking ")
        .unwrap_or_else(|| panic!("no progress in {shown:?}"));
    let cleared = shown.rfind("\u{1b}[2K").expect("the line is cleared");
    let summary = shown.find(": ok (").expect("the summary");
    assert!(at < cleared && cleared < summary, "{shown:?}");
}
