//! `safexc experiment`: the table, the files, and absurd options refused.

mod common;

use common::{safexc, text};

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("safexc-experiment-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn it_prints_the_table_and_writes_csv_figures_and_index() {
    let dir = tempdir("b");
    let out = safexc(&[
        "experiment",
        "--seconds",
        "20",
        "--setup",
        "B",
        "--policy",
        "fifo",
        "--quiet",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("| setup | policy | process |"), "{stdout}");
    assert!(stdout.contains("| B | FIFO | P2 | 100 ms / 500 ms | 40 |"), "{stdout}");
    assert!(stdout.contains("2 runs of 20 s"), "{stdout}");
    for f in [
        "violations.csv",
        "bursts.csv",
        "utilization-b-fifo-kernel.csv",
        "utilization-b-fifo-user.csv",
        "utilization-b-fifo.svg",
        "utilization-b-fifo.png",
        "violations.svg",
        "violations.png",
        "index.html",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    // The same options write the same bytes, over the earlier run's.
    let csv = std::fs::read(dir.join("utilization-b-fifo-user.csv")).unwrap();
    let again = safexc(&[
        "experiment",
        "--seconds",
        "20",
        "--setup",
        "b",
        "--policy",
        "FIFO",
        "--quiet",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(std::fs::read(dir.join("utilization-b-fifo-user.csv")).unwrap(), csv);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn absurd_options_are_refused_before_anything_runs() {
    for args in [
        ["--seconds", "0"],
        ["--seconds", "3601"],
        ["--seconds", "-5"],
        ["--quantum-ms", "0"],
        ["--setup", "C"],
        ["--policy", "edf"],
        ["--seed", "x"],
    ] {
        let mut all = vec!["experiment"];
        all.extend(args);
        let out = safexc(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).starts_with("error[L0003]: "),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn an_unwritable_folder_is_l0002() {
    let out = safexc(&["experiment", "--seconds", "1", "--quiet", "-o", "/proc/no-such/folder"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error[L0002]: "), "{}", text(&out.stderr));
}
