//! How `safexc check` reports: rustc's `error[CODE]: message` heading,
//! labels that are whole clauses, a count and a pointer to `safexc
//! explain`, colour as `--color` and `NO_COLOR` say, a byte-order mark
//! accepted.

use std::path::PathBuf;
use std::process::{Command, Output};

mod common;
use common::{root, safexc, text};

fn source(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("safexc-diag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn check(args: &[&str], no_color: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_safexc"));
    cmd.arg("check").args(args).current_dir(root()).env_remove("NO_COLOR");
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    cmd.output().expect("run safexc")
}

#[test]
fn a_report_is_headed_like_rustc_s_labelled_whole_and_counted() {
    let file = source("semicolon.pop", b"extension e;\nvoid f() { int a = 1 }\n");
    let out = check(&[file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error[P0001]: expected one of `;`, `,`, found `}`\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("── expected one of `;`, `,`, found `}`\n"),
        "the label is cut: {stderr}"
    );
    assert!(
        stderr.ends_with(&format!(
            "error: {} was rejected: 1 error\nhelp: `safexc explain P0001` explains the code\n",
            file.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "coloured without a terminal: {stderr}");
}

#[test]
fn several_codes_are_counted_and_listed() {
    let file = source(
        "two.pop",
        b"extension e;\nint f() { return x; }\nbool g() { return 1; }\nvoid k() { h(); }\n",
    );
    let out = check(&[file.to_str().unwrap()], None);
    let stderr = text(&out.stderr);
    let tally = stderr.lines().rev().take(2).collect::<Vec<_>>();
    assert!(
        tally[1].starts_with("error: ") && tally[1].contains(" was rejected: 3 errors"),
        "{stderr}"
    );
    assert!(
        tally[0].starts_with("help: `safexc explain CODE` explains each code (")
            && tally[0].contains("e.g. `safexc explain P"),
        "{stderr}"
    );
}

#[test]
fn colour_follows_color_and_no_color() {
    let file = source("colour.pop", b"extension e;\nvoid f() { int a = 1 }\n");
    let file = file.to_str().unwrap();
    let coloured = |out: &Output| text(&out.stderr).contains("\u{1b}[31merror[P0001]:");
    assert!(coloured(&check(&["--color", "always", file], None)));
    // An explicit choice wins over NO_COLOR; `auto` without a terminal is plain.
    assert!(coloured(&check(&["--color", "always", file], Some("1"))));
    assert!(!text(&check(&["--color", "never", file], None).stderr).contains('\u{1b}'));
    assert!(!text(&check(&[file], Some("1")).stderr).contains('\u{1b}'));
    let out = check(&["--color", "sometimes", file], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error[L0003]:"), "{}", text(&out.stderr));
}

#[test]
fn a_byte_order_mark_is_not_part_of_the_source() {
    let pid = std::fs::read(root().join("examples/pop/cpu_pid.pop")).unwrap();
    let file = source("cpu_pid.pop", &[b"\xef\xbb\xbf".as_slice(), &pid].concat());
    let out = safexc(&["check", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(": ok ("), "{}", text(&out.stdout));
    // TAL text too, verified or compiled.
    let tal = std::fs::read(root().join("examples/tal/cpu_pid.tal")).unwrap();
    let file = source("cpu_pid.tal", &[b"\xef\xbb\xbf".as_slice(), &tal].concat());
    for command in ["verify", "compile"] {
        let out = safexc(&[command, file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{command}: {}", text(&out.stderr));
    }
}

#[test]
fn non_ascii_text_and_control_characters_keep_the_report_on_its_place() {
    // Before: byte offsets read as character indices put the mark one
    // column right per extra byte of a multi-byte character before it.
    let file = source(
        "unicode.pop",
        "extension e; // café — naïve\nvoid f() { int a = 1 }\n".as_bytes(),
    );
    let stderr = text(&check(&[file.to_str().unwrap()], None).stderr);
    assert!(stderr.contains("unicode.pop:2:22 ]"), "{stderr}");
    // An escape sequence in the source is shown, not obeyed.
    let file = source("escape.pop", b"extension e;\nvoid f() { int a = 1 \x1b[2J }\n");
    let stderr = text(&check(&[file.to_str().unwrap()], None).stderr);
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    assert!(stderr.contains("int a = 1 \u{241b}[2J }"), "{stderr}");
}

#[test]
fn tal_and_objects_given_to_check_say_what_to_run_instead() {
    for (file, kind) in [
        ("examples/tal/cpu_pid.tal", "this is TAL text, not Popcorn-SX"),
        ("examples/obj/cpu_pid.o", "this is an ELF object, not Popcorn-SX"),
    ] {
        let out = check(&[file], None);
        assert_eq!(out.status.code(), Some(1));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("\nhelp: {kind}: `safexc verify FILE` checks it")),
            "{stderr}"
        );
        // Each code once in the summary.
        let summary = text(&out.stdout);
        let codes: Vec<&str> = summary.trim().rsplit(": ").next().unwrap().split(", ").collect();
        let mut unique = codes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(codes.len(), unique.len(), "{summary}");
    }
}

#[test]
fn popcorn_given_to_verify_says_to_check_it() {
    let out = safexc(&["verify", "examples/pop/cpu_pid.pop"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("\nhelp: this is Popcorn-SX, not TAL: `safexc check FILE` compiles and verifies it"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: examples/pop/cpu_pid.pop was rejected: "),
        "{stderr}"
    );
}

#[test]
fn a_stack_bound_points_at_the_largest_frame_s_array() {
    let file = source(
        "big.pop",
        b"extension big;\nimport cpu;\nint r = 0;\nint deep(int x) {\n    int a[600];\n    a[1] = x;\n    return a[1];\n}\nmonitor void m(cap<cpu_qos> app) { r = deep(2); }\n",
    );
    let stderr = text(&check(&[file.to_str().unwrap()], None).stderr);
    assert!(
        stderr.starts_with("error[V0502]: stack bound exceeded: @m ("),
        "{stderr}"
    );
    assert!(
        stderr.contains("big.pop:5:5 ]") && stderr.contains("int a[600];"),
        "{stderr}"
    );
}

#[test]
fn recursion_in_tal_points_at_the_call_that_closes_the_cycle() {
    let out = safexc(&["verify", "verifier/tests/reject/call_mutual_recursion3.tal"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error[V0501]: mutual recursion: @a -> @b -> @c -> @a;"),
        "{stderr}"
    );
    assert!(
        stderr.contains("call_mutual_recursion3.tal:34:5 ]") && stderr.contains("v3 = call @a(v2)"),
        "{stderr}"
    );
}
