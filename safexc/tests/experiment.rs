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
        "--costs",
        "paper",
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
        "runs.csv",
        "bursts.csv",
        "costs.txt",
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
        "--costs",
        "paper",
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
        ["--signed-pid", "x.o"],
        ["--real", "--bench"],
        ["--kernel", "--real"],
        ["--kernel", "--signed-pid"],
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
fn options_a_real_run_cannot_honour_are_refused() {
    for option in [["--costs", "paper"], ["--quantum-ms", "50"]] {
        let out = safexc(&["experiment", "--real", option[0], option[1]]);
        assert_eq!(out.status.code(), Some(2), "{option:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.starts_with("error[L0003]: ") && stderr.contains("cannot be used with"),
            "{option:?}: {stderr}"
        );
    }
}

#[test]
fn the_kernel_side_is_refused_without_its_module_or_one_cpu() {
    let dir = tempdir("kernel");
    std::fs::create_dir_all(&dir).unwrap();
    let pid = dir.join("pid.o");
    std::fs::write(&pid, b"not signed").unwrap();
    let out = safexc(&[
        "experiment",
        "--real",
        "--kernel",
        "--signed-pid",
        pid.to_str().unwrap(),
        "--device",
        "/nonexistent/safex",
        "--quiet",
        "-o",
        dir.join("out").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    // Either reason, whichever the machine gives first: more than one CPU,
    // no real-time scheduling here, or no module at that device.
    assert!(
        stderr.starts_with("error[L0123]: real mode cannot run here: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("one CPU") || stderr.contains("/nonexistent/safex") || stderr.contains("refused"),
        "{stderr}"
    );
}

#[test]
fn an_unwritable_folder_is_l0002() {
    let out = safexc(&[
        "experiment",
        "--seconds",
        "1",
        "--costs",
        "paper",
        "--quiet",
        "-o",
        "/proc/no-such/folder",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error[L0002]: "), "{}", text(&out.stderr));
}

#[test]
fn costs_come_from_the_paper_a_file_or_a_measurement() {
    let dir = tempdir("costs");
    let run = |costs: &str| {
        safexc(&[
            "experiment",
            "--seconds",
            "5",
            "--setup",
            "B",
            "--policy",
            "rr",
            "--costs",
            costs,
            "--quiet",
            "-o",
            dir.to_str().unwrap(),
        ])
    };
    let paper = run("paper");
    assert_eq!(paper.status.code(), Some(0), "{}", text(&paper.stderr));
    assert!(
        text(&paper.stdout).contains("costs the paper's"),
        "{}",
        text(&paper.stdout)
    );
    let written = std::fs::read_to_string(dir.join("costs.txt")).unwrap();
    assert!(written.contains("\nproc_read 53870\n"), "{written}");

    // A file of costs, read back: a run's own costs.txt reproduces it.
    let file = dir.join("mine.txt");
    std::fs::write(&file, &written).unwrap();
    let again = run(file.to_str().unwrap());
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let table = |out: &std::process::Output| text(&out.stdout).lines().take(10).collect::<Vec<_>>().join("\n");
    assert_eq!(table(&again), table(&paper));

    // Dearer signals and reads change the user-level side.
    std::fs::write(&file, written.replace("proc_read 53870", "proc_read 900000")).unwrap();
    let dear = run(file.to_str().unwrap());
    assert_eq!(dear.status.code(), Some(0), "{}", text(&dear.stderr));
    assert_ne!(table(&dear), table(&paper));

    std::fs::write(&file, written.replace("signal 1500", "signal often")).unwrap();
    let bad = run(file.to_str().unwrap());
    assert_eq!(bad.status.code(), Some(1));
    let stderr = text(&bad.stderr);
    assert!(
        stderr.starts_with("error[L0122]: ") && stderr.contains("line 6"),
        "{stderr}"
    );

    let missing = run("/no/such/costs.txt");
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).starts_with("error[L0001]: "),
        "{}",
        text(&missing.stderr)
    );

    // Measured on this machine: written and used.
    let measured = run("measured");
    assert_eq!(measured.status.code(), Some(0), "{}", text(&measured.stderr));
    let costs = std::fs::read_to_string(dir.join("costs.txt")).unwrap();
    assert!(costs.contains("measured on this machine"), "{costs}");
    std::fs::remove_dir_all(&dir).unwrap();
}
