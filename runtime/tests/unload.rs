//! Unloading an extension gives back everything loading took: after a
//! warm-up, thousands of load/unload cycles leave the process's resident
//! memory and its number of mappings where they were.
//!
//! The only test in this file, so that it has the process to itself (other
//! tests' threads would move the figures).

#![forbid(unsafe_code)]
// Maps code and reads /proc, which Miri cannot (docs/miri.md).
#![cfg(not(miri))]

use std::hint::black_box;

const PID: &str = include_str!("../../examples/pop/cpu_pid.pop");

/// Resident memory of this process, in bytes (`/proc/self/statm`).
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Number of memory mappings of this process (`/proc/self/maps`).
fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps").unwrap().lines().count()
}

#[test]
fn loading_and_unloading_an_extension_thousands_of_times_does_not_grow_the_process() {
    let bytes = bench::compile_object("pid.pop", PID, false).unwrap();
    // Through the host API: loading binds the extension to an application
    // (code, data region, slot), unloading must give all of it back.
    let mut host = runtime::system::host(runtime::HostConfig::default(), true).unwrap();
    let app = host.create_app("a").unwrap();
    let mut cycle = || {
        let ext = host.load(app, black_box(&bytes)).expect("loads");
        let monitor = host.entry(ext, "cpu_monitor").unwrap();
        host.invoke(monitor, None).expect("runs");
        // Each load maps its own code: a page the test writes, so that a
        // leaked mapping is resident memory.
        assert!(host.unload(ext));
    };

    for _ in 0..300 {
        cycle();
    }
    let (rss0, maps0) = (resident(), mappings());
    const CYCLES: usize = 3000;
    for _ in 0..CYCLES {
        cycle();
    }
    let (rss1, maps1) = (resident(), mappings());
    eprintln!("{CYCLES} cycles: resident {rss0} -> {rss1} bytes, {maps0} -> {maps1} mappings");
    // A leaked code page per load would be 12 MB; a leaked object's parts
    // (module, code, metadata) at least as much.
    const SLACK: u64 = 1 << 20;
    assert!(
        rss1 <= rss0 + SLACK,
        "resident memory grew by {} bytes over {CYCLES} load/unload cycles",
        rss1 - rss0
    );
    assert!(maps1 <= maps0 + 2, "mappings {maps0} -> {maps1}");
}
