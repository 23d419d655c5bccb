//! `qos::bench::measure` on this machine, with few samples: its own test
//! binary (one process, the only test that forks), so that no other test's child processes
//! or signal handlers are about. No timing is asserted: only that every
//! figure was measured, the costs come from the figures, the table shows
//! them beside the paper's, and no child process is left behind.

use qos::bench::{Options, measure};

#[test]
fn measure_fills_every_figure_and_leaves_no_child() {
    let opts = Options {
        samples: 3,
        // Not a SafeX device: the in-kernel row is left out, and says why.
        device: Some("/dev/null".into()),
        ..Options::default()
    };
    let mut heard = Vec::new();
    let m = measure(&opts, |what| heard.push(what.to_owned())).expect("measures");
    assert!(heard.len() >= 4, "progress: {heard:?}");
    assert!(!m.machine.is_empty());
    eprintln!("{}\n{}", m.machine, m.table());

    assert_eq!(m.figures.len(), 5, "no SafeX device: no in-kernel row");
    for f in &m.figures {
        assert!(f.median_ns > 0 && f.p10_ns > 0, "{f:?}");
        assert!(f.p10_ns <= f.median_ns && f.median_ns <= f.p90_ns, "{f:?}");
        assert!(f.paper_ns.is_some() && !f.note.is_empty(), "{f:?}");
    }
    let find = |prefix: &str| {
        m.figures
            .iter()
            .find(|f| f.name.starts_with(prefix))
            .unwrap_or_else(|| panic!("no figure `{prefix}…`"))
    };
    let (signal, switch, proc_read) = (find("signal"), find("context switch"), find("reading /proc"));
    let (user, host) = (
        find("monitors and handlers, 3 processes: user"),
        find("monitors and handlers, 3 processes: SafeX"),
    );
    assert_eq!(m.costs.signal, signal.median_ns);
    assert_eq!(m.costs.context_switch, switch.median_ns);
    assert_eq!(m.costs.proc_read, proc_read.median_ns);
    assert_eq!(m.costs.kernel_per_app, host.median_ns / 3);
    assert!(m.costs.user_per_app >= m.costs.kernel_per_app);
    assert!(m.costs.user_per_app <= user.median_ns / 3);
    assert!(
        host.note
            .contains("no in-kernel row: /dev/null: SAFEX_IOC_VERSION failed"),
        "{}",
        host.note
    );
    assert!(
        switch.note.contains("pinned to CPU") || switch.note.contains("NOT pinned"),
        "{}",
        switch.note
    );

    let table = m.table();
    for f in &m.figures {
        assert_eq!(
            table
                .lines()
                .filter(|l| l.starts_with(&format!("| {} |", f.name)))
                .count(),
            1
        );
    }
    for paper in ["1.50 µs", "2.99 µs", "53.87 µs", "190.0 µs", "20.00 µs"] {
        assert!(table.contains(paper), "the table lacks the paper's {paper}");
    }

    // The costs make a valid costs file.
    assert_eq!(qos::costs::Costs::from_text(&m.costs.to_text("measured")), Ok(m.costs));

    let mut status = 0;
    // SAFETY: writes `status`, a live local; WNOHANG never blocks. Any
    // child left would be reaped here, which is the failure this detects.
    let r = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    let errno = std::io::Error::last_os_error().raw_os_error();
    assert_eq!((r, errno), (-1, Some(libc::ECHILD)), "a child process was left behind");
}

#[test]
fn zero_samples_is_an_error() {
    let opts = Options {
        samples: 0,
        device: None,
        ..Options::default()
    };
    let err = measure(&opts, |_| {}).unwrap_err();
    assert!(err.contains("samples must be from 1"), "{err}");
}
