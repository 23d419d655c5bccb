//! How fast each kind of work runs per fuel unit: the measurement behind
//! `tal_ir::cost::MAX_UNCHECKED`, the most units the verifier lets run
//! between two tests of the deadline (V0409).
//!
//! `cargo run --release -p bench --bin deadline_bench`
//!
//! For each kind of work an extension can pile into a stretch, a monitor
//! written as a user would does that and little else; the host runs it with
//! no deadline and fuel to spare, and counts the units each invocation used
//! (the same units the verifier counts). The figure is CPU time per unit,
//! over at least half a second of invocations; the slowest kind, times
//! `MAX_UNCHECKED`, is how late a deadline can stop an invocation, beyond
//! the watchdog's own delay. The pointer chase walks a random cycle through
//! the largest data region the host allows (`HostConfig::max_data_cells`,
//! 8 MiB), laid out as one random cycle (Sattolo's shuffle), so that every
//! load misses the caches. Extensions are compiled without inlining, so
//! that calls stay calls.

#![deny(clippy::undocumented_unsafe_blocks)]

use runtime::{ExtId, Host, HostConfig, TrapKind};
use std::time::{Duration, Instant};
use tal_ir::cost::MAX_UNCHECKED;

/// Cells of the chased array: the host's whole data region but the
/// extension's four scalar globals.
const CHASE_CELLS: u64 = (1 << 20) - 4;

/// A kind of work: its name and an extension whose monitor `work` does it.
fn kinds() -> Vec<(&'static str, String)> {
    let header = "extension work;\nimport cpu;\nbudget 100000000;\n";
    let repeat = |stmt: &str, n: usize| stmt.repeat(n);
    vec![
        (
            "checked additions, one dependent chain",
            format!(
                "{header}int out = 0;\nmonitor void work(cap<cpu_qos> app) {{\n    int x = get_attribute(app, \"period\");\n    \
                 int y = 3;\n{}    out = x;\n}}\n",
                repeat("    x = x + y;\n", 2000)
            ),
        ),
        (
            "divisions, one dependent chain",
            format!(
                "{header}int out = 0;\nmonitor void work(cap<cpu_qos> app) {{\n    int x = get_attribute(app, \"period\");\n    \
                 int d = get_attribute(app, \"target_util\") + 3;\n{}    out = x;\n}}\n",
                repeat("    x = x / d + 1000000000000000000;\n", 1000)
            ),
        ),
        (
            "pointer chase through 8 MiB (cache misses)",
            format!(
                "{header}int next[{CHASE_CELLS}];\nint at = 0;\n\
                 int filled = 0;\nint shuffled = {CHASE_CELLS};\nint rng = 12345;\n\
                 monitor void work(cap<cpu_qos> app) {{\n    int p = at;\n{}    at = p;\n}}\n\
                 handler void fill(cap<cpu_qos> app, int v) on \"Error\" {{\n    \
                 for (int k = 0; k < 2000 && filled < {CHASE_CELLS}; k++) {{ next[filled] = filled; filled++; }}\n    \
                 for (int k = 0; k < 2000 && filled == {CHASE_CELLS} && shuffled > 1; k++) {{\n        \
                 shuffled--;\n        rng = (rng * 1103515245 + 12345) & 2147483647;\n        \
                 int j = rng % shuffled;\n        \
                 int t = next[shuffled]; next[shuffled] = next[j]; next[j] = t;\n    }}\n}}\n",
                repeat("    p = next[p];\n", 1000)
            ),
        ),
        (
            "zero-filled local arrays (init)",
            format!(
                "{header}int out = 0;\nint fresh() {{ int buf[400]; return buf[3]; }}\n\
                 monitor void work(cap<cpu_qos> app) {{\n{}}}\n",
                repeat("    out = out + fresh();\n", 10)
            ),
        ),
        (
            "calls with eight arguments",
            format!(
                "{header}int out = 0;\n\
                 int pick(int a, int b, int c, int d, int e, int f, int g, int h) {{ return h; }}\n\
                 monitor void work(cap<cpu_qos> app) {{\n    int x = get_attribute(app, \"period\");\n{}    out = x;\n}}\n",
                repeat("    x = pick(x, x, x, x, x, x, x, x);\n", 500)
            ),
        ),
        (
            "helper calls (now_us)",
            format!(
                "{header}int out = 0;\nmonitor void work(cap<cpu_qos> app) {{\n    int x = 0;\n{}    out = x;\n}}\n",
                repeat("    x = x + now_us();\n", 500)
            ),
        ),
        (
            "helper calls (raise_event, queue full)",
            format!(
                "{header}monitor void work(cap<cpu_qos> app) {{\n{}}}\n\
                 handler void sink(cap<cpu_qos> app, int v) on \"Error\" {{ }}\n",
                repeat("    raise_event(\"Error\", 1);\n", 500)
            ),
        ),
    ]
}

/// CPU time of this thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid clock id and a valid out-parameter; the call touches
    // nothing else.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A host with the standard system and `source`'s extension loaded for an
/// application (its `fill` handler, if any, run to the end).
fn loaded(name: &str, source: &str, deadline: Option<Duration>) -> (Host, ExtId) {
    // Without inlining: calls stay calls, as the worst case has them.
    let options = popcorn_front::Options {
        file_name: "work.pop".into(),
        stdlib: false,
        inline: false,
    };
    let module = popcorn_front::compile(source, &options)
        .module
        .unwrap_or_else(|| panic!("{name}: does not compile"));
    let object = codegen::object::compile(&module, codegen::Options::default()).expect("lowers");
    let mut host = runtime::system::host(
        HostConfig {
            deadline,
            max_fuel: i64::MAX as u64,
            quarantine_after: 0,
            ..HostConfig::default()
        },
        true,
    )
    .expect("host");
    let app = host.create_app("a").expect("app");
    host.write_attribute(app, "period", 1_000_003).expect("period");
    let ext = host.load(app, &object).unwrap_or_else(|e| panic!("{name}: {e}"));
    // The chase's cycle, laid out a slice per invocation (well within any
    // deadline) until it is shuffled down to its first cell.
    if let Some(fill) = host.entry(ext, "fill") {
        let shuffled = host.global_offset(ext, "shuffled").expect("shuffled");
        while host.data(ext).expect("data")[shuffled] > 1 {
            host.invoke(fill, Some(0)).expect("fills");
        }
    }
    (host, ext)
}

fn main() {
    println!("| work | units per invocation | ns per unit | x {MAX_UNCHECKED} units (µs) |");
    println!("|---|---:|---:|---:|");
    let mut worst = 0f64;
    for (name, source) in kinds() {
        let (mut host, ext) = loaded(name, &source, None);
        let work = host.entry(ext, "work").expect("work");
        let used_before = host.counters(ext).expect("counters").fuel_used;
        let (start, cpu_start) = (Instant::now(), thread_cpu());
        let mut invocations = 0u64;
        while start.elapsed() < Duration::from_millis(500) || invocations < 20 {
            host.invoke(work, None).unwrap_or_else(|t| panic!("{name}: {t:?}"));
            invocations += 1;
        }
        let cpu = thread_cpu() - cpu_start;
        let units = host.counters(ext).expect("counters").fuel_used - used_before;
        let ns_per_unit = cpu.as_secs_f64() * 1e9 / units as f64;
        worst = worst.max(ns_per_unit);
        println!(
            "| {name} | {} | {ns_per_unit:.2} | {:.1} |",
            units / invocations,
            ns_per_unit * MAX_UNCHECKED as f64 / 1e3
        );
    }
    println!(
        "\nworst: {worst:.2} ns per unit: a stretch of {MAX_UNCHECKED} units runs in at most {:.1} µs",
        worst * MAX_UNCHECKED as f64 / 1e3
    );
    overshoot();
}

/// How late past a 1 ms deadline `invoke` returns from an endless pointer
/// chase, the slowest code per unit (the front-end places its tests ~1,000
/// units apart): the watchdog's period (budget/8) plus at most one stretch.
fn overshoot() {
    const DEADLINE: Duration = Duration::from_millis(1);
    const RUNS: usize = 50;
    let (_, chase) = kinds()
        .into_iter()
        .find(|(name, _)| name.starts_with("pointer chase"))
        .expect("the chase");
    let endless = chase
        .replace("budget 100000000;", "budget 9000000000000000000;")
        .replace("    int p = at;\n", "    int p = at;\n    while (true) {\n")
        .replace("    at = p;\n", "    }\n");
    let (mut host, ext) = loaded("endless chase", &endless, Some(DEADLINE));
    let work = host.entry(ext, "work").expect("work");
    let mut late: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = thread_cpu();
            let trap = host.invoke(work, None).expect_err("stopped");
            assert_eq!(trap.kind, TrapKind::Deadline);
            (thread_cpu() - start).saturating_sub(DEADLINE)
        })
        .collect();
    late.sort();
    println!(
        "\nan endless pointer chase against a {} ms deadline, {RUNS} runs, CPU time past it: \
         min {:.0} µs, median {:.0} µs, max {:.0} µs",
        DEADLINE.as_millis(),
        late[0].as_secs_f64() * 1e6,
        late[RUNS / 2].as_secs_f64() * 1e6,
        late[RUNS - 1].as_secs_f64() * 1e6
    );
}
