//! How fast each kind of work runs per fuel unit: the measurement behind
//! `tal_ir::cost::MAX_UNCHECKED`, the most units the verifier lets run
//! between two fuel checks (V0409); and what enforcing a deadline costs.
//!
//! `cargo run --release -p bench --bin deadline_bench [-- --units | --deadline]`
//! (both parts by default)
//!
//! For each kind of work an extension can pile into a stretch, a monitor
//! written as a user would does that and little else; the host runs it with
//! no deadline and fuel to spare, and counts the units each invocation used
//! (the same units the verifier counts). The figure is CPU time per unit,
//! over at least half a second of invocations; the slowest kind, times
//! `MAX_UNCHECKED`, is how much work can pass between two fuel checks, so
//! between two of the host's looks at the clock beyond a slice of fuel
//! (`runtime/src/deadline.rs`). The pointer chase walks a random cycle through
//! the largest data region the host allows (`HostConfig::max_data_cells`,
//! 8 MiB), laid out as one random cycle (Sattolo's shuffle), so that every
//! load misses the caches. Extensions are compiled without inlining, so
//! that calls stay calls.
//!
//! The deadline part measures, against a host without a deadline
//! (`HostConfig::deadline` `None`):
//!
//! - an application invoking a trivial extension at 100 Hz for 3 s: the
//!   wall time of each invocation, the two hosts invoked in the same
//!   periods, half a period apart, in alternating order;
//! - the trivial invocation, and a 100,000-unit loop, invoked in a loop, in
//!   interleaved batches (`bench::interleaved`);
//! - how far past a 1 ms budget an endless loop returns, in the invoking
//!   thread's CPU time, 30 runs back to back and 30 after 0–1 ms of other
//!   work each.

#![deny(clippy::undocumented_unsafe_blocks)]

use runtime::{EntryRef, ExtId, Host, HostConfig, TrapKind};
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
        ("pointer chase through 8 MiB (cache misses)", chase(CHASE_CELLS)),
        (
            "pointer chase through 256 KiB (a small data region)",
            chase(runtime::SMALL_DATA_CELLS - 4),
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

/// A monitor `work` that walks 1,000 hops of a random cycle through an
/// array of `cells` cells, and a handler `fill` that lays the cycle out.
fn chase(cells: u64) -> String {
    format!(
        "extension work;\nimport cpu;\nbudget 100000000;\nint next[{cells}];\nint at = 0;\n\
         int filled = 0;\nint shuffled = {cells};\nint rng = 12345;\n\
         monitor void work(cap<cpu_qos> app) {{\n    int p = at;\n{}    at = p;\n}}\n\
         handler void fill(cap<cpu_qos> app, int v) on \"Error\" {{\n    \
         for (int k = 0; k < 2000 && filled < {cells}; k++) {{ next[filled] = filled; filled++; }}\n    \
         for (int k = 0; k < 2000 && filled == {cells} && shuffled > 1; k++) {{\n        \
         shuffled--;\n        rng = (rng * 1103515245 + 12345) & 2147483647;\n        \
         int j = rng % shuffled;\n        \
         int t = next[shuffled]; next[shuffled] = next[j]; next[j] = t;\n    }}\n}}\n",
        "    p = next[p];\n".repeat(1000)
    )
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
    let (mut units, mut deadline) = (true, true);
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("--units") => deadline = false,
        Some("--deadline") => units = false,
        Some(_) => {
            eprintln!("usage: deadline_bench [--units | --deadline]");
            std::process::exit(2);
        }
    }
    if units {
        units_per_kind();
        overshoot();
    }
    if deadline {
        deadline_cost();
    }
}

/// CPU time per fuel unit of each kind of work.
fn units_per_kind() {
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
}

/// How late past a 1 ms deadline `invoke` returns from an endless pointer
/// chase, the slowest code per unit (the front-end places its tests ~1,000
/// units apart): the clock is first read one slice of fuel into the
/// invocation, and then between slices, so up to two slices late.
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

const TRIVIAL: &str = "extension trivial;\nimport cpu;\nmonitor void m(cap<cpu_qos> app) { }\n";
const SPIN: &str = "extension spin;\nimport cpu;\nbudget 9000000000000000000;\nint n = 0;\n\
                    monitor void m(cap<cpu_qos> app) { while (true) { n = n + 1; } }\n";

/// A loop of about 100,000 units that a monitor might run (a sum over an
/// array): long enough to be handed its fuel in many slices.
const LONG: &str = "extension long;\nimport cpu;\nbudget 10000000;\nint a[1000];\nint total = 0;\n\
                    monitor void m(cap<cpu_qos> app) {\n    int s = 0;\n    int r = 0;\n    \
                    while (r < 20) {\n        int i = 0;\n        while (i < 1000) { s = s + a[i] + i; i = i + 1; }\n        \
                    r = r + 1;\n    }\n    total = s;\n}\n";

/// A host with the standard system and `source`'s monitor `m`, loaded for
/// an application.
fn monitor_host(source: &str, config: HostConfig) -> (Host, EntryRef) {
    let object = bench::compile_object("timed.pop", source, false).expect("compiles");
    let mut host = runtime::system::host(config, true).expect("host");
    let app = host.create_app("a").expect("app");
    let ext = host.load(app, &object).expect("loads");
    let m = host.entry(ext, "m").expect("monitor m");
    (host, m)
}

/// Hosts with and without a deadline (1 ms, the default) for `source`.
fn with_and_without(source: &str) -> ((Host, EntryRef), (Host, EntryRef)) {
    let without = monitor_host(
        source,
        HostConfig {
            deadline: None,
            ..HostConfig::default()
        },
    );
    (without, monitor_host(source, HostConfig::default()))
}

fn deadline_cost() {
    println!("\nWhat a 1 ms deadline costs (host with it / host without `HostConfig::deadline`):\n");
    println!("| measurement | without | with | with / without |");
    println!("|---|---:|---:|---:|");
    let hz = at_100_hz();
    println!(
        "| trivial invocation at 100 Hz, wall time (median µs) | {:.2} | {:.2} | {:.2}x |",
        hz.0,
        hz.1,
        hz.1 / hz.0
    );
    for (name, source, ops) in [
        ("trivial invocation", TRIVIAL, 2_000_000),
        ("100,000-unit loop", LONG, 200),
    ] {
        let ((mut unwatched, plain), (mut watched, guarded)) = with_and_without(source);
        let [without, with] = bench::interleaved(
            ops,
            [&mut || unwatched.invoke(plain, None), &mut || {
                watched.invoke(guarded, None)
            }],
            |r| assert!(r.is_ok()),
        );
        println!(
            "| {name} in a loop (best batch, ns) | {:.1} | {:.1} | {:.3}x |",
            without.best_ns, with.best_ns, with.ratio
        );
    }
    println!(
        "\nAn endless loop against a 1 ms budget, 30 runs each: CPU time of the invoking thread past the budget, \
         min / median / max\n"
    );
    println!("| back to back | after 0–1 ms of other work |");
    println!("|---:|---:|");
    let spread = |late: Vec<Duration>| {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        format!(
            "{:.0} / {:.0} / {:.0} µs",
            us(late[0]),
            us(late[late.len() / 2]),
            us(late[late.len() - 1])
        )
    };
    println!(
        "| {} | {} |",
        spread(past_the_budget(false)),
        spread(past_the_budget(true))
    );
}

/// An application's trivial monitor invoked every 10 ms for 3 s, through a
/// host with the deadline and, half a period apart, through one without
/// (which goes first alternates): the median wall time of an invocation,
/// without and with (µs).
fn at_100_hz() -> (f64, f64) {
    const PERIOD: Duration = Duration::from_millis(10);
    const PERIODS: usize = 300;
    const WARM_UP: usize = 10;
    let ((mut unwatched, plain), (mut watched, guarded)) = with_and_without(TRIVIAL);
    let timed = |host: &mut Host, entry: EntryRef| {
        let start = Instant::now();
        let result = host.invoke(entry, None);
        let took = start.elapsed();
        assert!(result.is_ok());
        took
    };
    let (mut without, mut with) = (Vec::new(), Vec::new());
    let mut next = Instant::now();
    for period in 0..WARM_UP + PERIODS {
        // Which host goes first alternates, so that neither is always the
        // one woken from the longer sleep.
        for half in 0..2 {
            next += PERIOD / 2;
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
            if (period + half) % 2 == 0 {
                with.push(timed(&mut watched, guarded));
            } else {
                without.push(timed(&mut unwatched, plain));
            }
        }
    }
    let median_us = |times: &mut Vec<Duration>| {
        let times = &mut times[WARM_UP..];
        times.sort();
        times[times.len() / 2].as_secs_f64() * 1e6
    };
    (median_us(&mut without), median_us(&mut with))
}

/// CPU time past a 1 ms budget at which an endless loop returns, sorted.
/// With `pauses`, the thread first works outside any invocation for a
/// pseudo-random 0–1 ms of CPU time between runs.
fn past_the_budget(pauses: bool) -> Vec<Duration> {
    const BUDGET: Duration = Duration::from_millis(1);
    let (mut host, m) = monitor_host(
        SPIN,
        HostConfig {
            deadline: Some(BUDGET),
            max_fuel: i64::MAX as u64,
            quarantine_after: 0,
            ..HostConfig::default()
        },
    );
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut late: Vec<Duration> = (0..30)
        .map(|_| {
            if pauses {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let pause = Duration::from_nanos((seed >> 33) % 1_000_000);
                let until = thread_cpu() + pause;
                while thread_cpu() < until {}
            }
            let start = thread_cpu();
            let trap = host.invoke(m, None).expect_err("stopped");
            assert_eq!(trap.kind, TrapKind::Deadline);
            (thread_cpu() - start).saturating_sub(BUDGET)
        })
        .collect();
    late.sort();
    late
}
