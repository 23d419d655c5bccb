//! The C example, `examples/c/cpu_pid_events.c`, compiled with the system's
//! C compiler (`cc`) against the libraries cargo built for this test run
//! (`libsafex.a` and `libsafex.so`, next to this test's executable: cargo
//! builds every crate type of the library before the tests that link it),
//! run against a daemon served by this process: its output, line by line,
//! and its errors.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{CPU_PID, Daemon};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The directory where cargo put this run's `libsafex.a` and `libsafex.so`:
/// the one of this test's executable (`target/<profile>/deps`), where the
/// library's build writes every crate type. (`target/<profile>` has copies
/// only after a `cargo build -p libsafex`, and they may be stale.)
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let deps = exe.parent().expect("its directory").to_path_buf();
    for lib in ["libsafex.a", "libsafex.so"] {
        assert!(
            deps.join(lib).is_file(),
            "no {lib} in {}: cargo builds it with the library's other crate types",
            deps.display()
        );
    }
    deps
}

/// Compiles the example into `dir`, linked with `libsafex.a` (`static_`)
/// or `libsafex.so`; returns the executable.
fn build(dir: &Path, static_: bool) -> PathBuf {
    let libs = library_dir();
    let exe = dir.join(if static_ {
        "cpu_pid_events-static"
    } else {
        "cpu_pid_events"
    });
    let mut cc = Command::new("cc");
    cc.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
        .arg("-I")
        .arg(workspace().join("libsafex/include"))
        .arg(workspace().join("examples/c/cpu_pid_events.c"))
        .arg("-o")
        .arg(&exe);
    if static_ {
        // What a Rust static library needs from the system, as the
        // Makefile says.
        cc.arg(libs.join("libsafex.a"))
            .args(["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"]);
    } else {
        cc.arg("-L")
            .arg(&libs)
            .arg("-lsafex")
            .arg(format!("-Wl,-rpath,{}", libs.display()));
    }
    let out = cc.output().expect("a C compiler, `cc`");
    assert!(
        out.status.success(),
        "cc refuses the example:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

fn run(exe: &Path, args: &[&str], socket_env: Option<&Path>) -> Output {
    let mut cmd = Command::new(exe);
    cmd.args(args).current_dir(workspace()).env_remove("SAFEX_SOCKET");
    if let Some(socket) = socket_env {
        cmd.env("SAFEX_SOCKET", socket);
    }
    cmd.output().expect("the example runs")
}

/// What the example prints for its events and changes, each after its
/// `tick N: `, for the first extension id `id`. The application's period
/// is 10000 µs and its target 3000 µs, and nothing measures what it gets
/// (`actual_cpu` stays 0), so the monitor raises an error e = 3000 every
/// tick, and the PID (gains 500, 100, 50 per mille) answers with
/// u[n] = (650·e − 50·e[n−1]) / 1000 + u[n−1]: 1950, then 1800 more each
/// tick, kept within the period (10000). The guard applies target + u.
fn expected(id: u64) -> Vec<String> {
    let event = "event Error = 3000, 1 handler".to_string();
    let mut lines = Vec::new();
    for (old, new) in [
        (0, 1950),
        (1950, 3750),
        (3750, 5550),
        (5550, 7350),
        (7350, 9150),
        (9150, 10000),
        (10000, 10000),
        (10000, 10000),
    ] {
        lines.push(event.clone());
        lines.push(format!(
            "change cpu_qos.timeslice_adjustment {old} -> {new} by extension {id} (cpu_pid.cpu_pid): written, \
             applied {}",
            3000 + new
        ));
    }
    lines
}

/// Checks a successful run's output: the deploy, `count` notices as
/// [`expected`] (ticks never going back), the undeploy.
#[track_caller]
fn check_run(out: &Output, object: &str, app: &str, id: u64, count: usize) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    assert_eq!(stderr, "");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), count + 2, "{stdout}");
    assert_eq!(lines[0], format!("deployed {object} as extension {id} of {app}"));
    let mut last_tick = 0u64;
    let mut notices = Vec::new();
    for line in &lines[1..=count] {
        let (tick, rest) = line
            .strip_prefix("tick ")
            .and_then(|l| l.split_once(": "))
            .unwrap_or_else(|| panic!("not a notice: {line}"));
        let tick: u64 = tick.parse().expect("a tick");
        assert!(tick >= last_tick, "ticks went back: {stdout}");
        last_tick = tick;
        notices.push(rest.to_string());
    }
    assert_eq!(notices, expected(id)[..count], "{stdout}");
    assert_eq!(lines[count + 1], format!("undeployed extension {id}"));
}

#[track_caller]
fn check_error(out: &Output, code: &str, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let prefix = format!("error[{code}]: ");
    assert!(
        stderr.starts_with(&prefix) && stderr.contains(what) && stderr.lines().count() == 1,
        "expected {prefix}…{what}…, got {stderr:?}"
    );
}

#[test]
fn the_c_example_deploys_and_prints_the_pid_s_events_and_changes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let static_exe = build(dir.path(), true);
    let shared_exe = build(dir.path(), false);
    let mut daemon = Daemon::start();
    let socket = daemon.socket().to_path_buf();
    let socket_arg = socket.to_str().expect("a UTF-8 temporary path");

    // Linked statically, the socket from the command line, 16 notices:
    // up to the clamp at the period.
    let out = run(
        &static_exe,
        &["-s", socket_arg, "-a", "static_app", "-n", "16", CPU_PID],
        None,
    );
    check_run(&out, CPU_PID, "static_app", 1, 16);

    // Linked with the shared library, the socket from SAFEX_SOCKET, the
    // default count (10) and object path (from the workspace root).
    let out = run(&shared_exe, &["-a", "shared_app"], Some(&socket));
    check_run(&out, "examples/obj/cpu_pid.o", "shared_app", 2, 10);

    // Both undeployed their extension; the applications stay, with the
    // attributes they wrote.
    let rust = daemon.rust_client();
    let listed = rust.list(None).expect("lists");
    let mut apps: Vec<_> = listed.applications.iter().map(|a| a.name.as_str()).collect();
    apps.sort();
    assert_eq!(apps, ["shared_app", "static_app"]);
    assert!(listed.applications.iter().all(|a| a.extensions.is_empty()));
    let period = rust.read_attribute("static_app", "period").expect("reads");
    assert_eq!(period.value, 10_000);
    drop(rust);

    // Errors: `error[CODE]: message` and exit status 1.
    let out = run(&static_exe, &["-s", socket_arg, "-a", "static_app"], None);
    check_error(&out, "L0104", "static_app");
    let out = run(&shared_exe, &["-s", socket_arg, "-a", "bad name", CPU_PID], None);
    check_error(&out, "D0005", "");
    let missing = dir.path().join("none.o");
    let out = run(&static_exe, &["-s", socket_arg, missing.to_str().expect("UTF-8")], None);
    check_error(&out, "L0001", "none.o");
    let out = run(&static_exe, &["-s", socket_arg, "-n", "0"], None);
    check_error(&out, "L0003", "-n");
    let out = run(&static_exe, &["-s", socket_arg, "a.o", "b.o"], None);
    check_error(&out, "L0003", "usage");
    let garbage = dir.path().join("garbage.o");
    std::fs::write(&garbage, b"not an object").expect("write");
    let out = run(
        &shared_exe,
        &["-s", socket_arg, "-a", "garbage_app", garbage.to_str().expect("UTF-8")],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        ["error[L", "error[C", "error[V"].iter().any(|p| stderr.starts_with(p)),
        "the host's code: {stderr}"
    );
    daemon.stop();

    // Nothing listens: D0012, from the socket in SAFEX_SOCKET.
    let out = run(&shared_exe, &["-a", "x"], Some(&socket));
    check_error(&out, "D0012", socket_arg);
    assert!(out.stdout.is_empty());
}
