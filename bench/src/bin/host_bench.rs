//! The cost of running extensions through the host API, measured in one
//! run: `cargo run --release -p bench --bin host_bench` (`-- --tick`: the
//! tick rows only).
//!
//! - Invoking a trivial extension (an empty monitor) through
//!   `Host::invoke`, with and without time accounting and the deadline,
//!   against calling the same code through a bare function
//!   pointer with a context (the floor: what any host must do).
//! - A service-manager tick of the paper's PID extension (monitor, event,
//!   handler, guard) per application, for 3 and 64 applications, against
//!   the same invocations made directly, interleaved.
//! - A `raise_event` that drops its event (full channel) against a helper
//!   call that only answers.
//! - How late the deadline stops an infinite loop: budget 1 ms, 50 runs.

#![deny(clippy::undocumented_unsafe_blocks)]

use bench::best_time;
use runtime::manager::TickReport;
use runtime::{EntryRef, Host, HostConfig, TrapKind};
use std::hint::black_box;
use std::time::{Duration, Instant};
use stdlib::abi::Ctx;

const TRIVIAL: &str = "extension trivial;\nimport cpu;\nmonitor void m(cap<cpu_qos> app) { }\n";
const PID: &str = include_str!("../../../examples/pop/cpu_pid.pop");
const SPIN: &str = "extension spin;\nimport cpu;\nbudget 9000000000000000000;\nint n = 0;\n\
                    monitor void m(cap<cpu_qos> app) { while (true) { n = n + 1; } }\n";

fn object(source: &str) -> Vec<u8> {
    bench::compile_object("bench.pop", source, false).expect("compiles")
}

fn host(config: HostConfig) -> Host {
    runtime::system::host(config, true).expect("host")
}

/// Nanoseconds per call of `f`, best of several batches.
fn ns_per_call(calls: u64, mut f: impl FnMut()) -> f64 {
    let d = best_time(
        || {
            for _ in 0..calls {
                f();
            }
        },
        |_| {},
    );
    d.as_secs_f64() * 1e9 / calls as f64
}

fn invoke_rows() {
    const CALLS: u64 = 2_000_000;
    let obj = object(TRIVIAL);
    // The floor: the same code called through a function pointer with a
    // prepared context, no host bookkeeping.
    let parts = codegen::object::read_object(&obj).expect("reads");
    let image = runtime::image::CodeImage::link(&parts).expect("links");
    let code = image.function(0).expect("one function");
    type Monitor = unsafe extern "C" fn(*mut Ctx, i64) -> i64;
    // SAFETY: function 0 is the monitor `(ctx, cap) -> i64`, which calls no helper.
    let monitor: Monitor = unsafe { std::mem::transmute::<*const u8, Monitor>(code) };
    let mut ctx = Ctx::new(
        0,
        std::ptr::null(),
        std::ptr::null_mut(),
        std::ptr::null(),
        runtime::refuel::exhausted(),
    );
    let floor = ns_per_call(CALLS, || {
        ctx.fuel = 1_000;
        // SAFETY: see above.
        black_box(unsafe { monitor(&mut ctx, black_box(1)) });
        assert_eq!(ctx.status, 0);
    });
    println!("| configuration | ns per invocation | vs bare call |");
    println!("|---|---:|---:|");
    println!("| bare function-pointer call with a context (floor) | {floor:.1} | 1.00x |");
    for (name, deadline, account_time) in [
        ("Host::invoke, no deadline, no time accounting", None, false),
        (
            "Host::invoke, 1 ms deadline (default)",
            Some(Duration::from_millis(1)),
            false,
        ),
        (
            "Host::invoke, deadline + time accounting",
            Some(Duration::from_millis(1)),
            true,
        ),
    ] {
        let mut host = host(HostConfig {
            deadline,
            account_time,
            ..HostConfig::default()
        });
        let app = host.create_app("a").unwrap();
        let ext = host.load(app, &obj).unwrap();
        let entry = host.entry(ext, "m").unwrap();
        let ns = ns_per_call(CALLS, || {
            assert!(black_box(host.invoke(entry, None).is_ok()));
        });
        assert!(host.counters(ext).unwrap().invocations >= CALLS);
        println!("| {name} | {ns:.1} | {:.2}x |", ns / floor);
    }
    println!();
    println!("Goal: at most 10 ns per invocation (an empty eBPF program costs about 26 ns through BPF_PROG_TEST_RUN).");
}

/// A host with `apps` applications running the PID extension in a steady
/// state: constant inputs whose error (1,000) the handler's anti-windup
/// keeps within a period, and a guard that accepts every write. With, for
/// each application, its monitor, its handler and the error its monitor
/// raises.
fn pid_host(obj: &[u8], apps: usize) -> (Host, Vec<(EntryRef, EntryRef, i64)>) {
    const ERROR: i64 = 1_000;
    let mut host = host(HostConfig::default());
    let mut entries = Vec::new();
    for a in 0..apps {
        let app = host.create_app(&format!("app{a}")).unwrap();
        let ext = host.load(app, obj).unwrap();
        let target = 20_000 + a as i64;
        for (attr, v) in [
            ("period", 10_000),
            ("target_cpu", target),
            ("actual_cpu", target - ERROR),
            ("target_util", 500),
            ("avg_util_2p", 400),
        ] {
            host.write_attribute(app, attr, v).unwrap();
        }
        entries.push((
            host.entry(ext, "cpu_monitor").unwrap(),
            host.entry(ext, "cpu_pid").unwrap(),
            ERROR,
        ));
    }
    (host, entries)
}

/// The PID service round through `Host::tick`, against the same
/// invocations made directly (every application's monitor, then every
/// application's handler with the error its monitor raised, the guard
/// nested in its write; the writes collected as a tick collects them),
/// interleaved.
fn tick_rows() {
    println!();
    println!(
        "| `Host::tick` of | its invocations made directly, ns | `Host::tick`, ns | tick / invocations (median) |"
    );
    println!("|---|---:|---:|---:|");
    let obj = object(PID);
    for apps in [3usize, 64] {
        let (mut ticked, _) = pid_host(&obj, apps);
        let (mut direct, entries) = pid_host(&obj, apps);
        let mut report = TickReport::default();
        let mut changes = Vec::new();
        let [invocations, tick] = bench::interleaved(
            (3_000 / apps) as u64,
            [
                &mut || {
                    let mut ok = true;
                    for &(monitor, _, _) in &entries {
                        ok &= direct.invoke(monitor, None).is_ok();
                    }
                    for &(_, handler, error) in &entries {
                        ok &= direct.invoke(handler, Some(error)).is_ok();
                    }
                    direct.take_changes_into(&mut changes);
                    (ok, changes.len())
                },
                &mut || {
                    ticked.tick(&mut report);
                    (
                        report.traps.is_empty() && report.handlers_run == apps,
                        report.changes.len(),
                    )
                },
            ],
            |(ok, writes)| assert!(ok && writes == apps, "{ok} {writes}"),
        );
        println!(
            "| the PID extension (monitor, event, handler, guard), {apps} applications | {:.0} | {:.0} | {:.2}x |",
            invocations.best_ns, tick.best_ns, tick.ratio
        );
    }
    // The tick's own work, next to the least an invocation costs.
    let mut ticked = host(HostConfig::default());
    let mut direct = host(HostConfig::default());
    let obj = object(TRIVIAL);
    let app = ticked.create_app("a").unwrap();
    ticked.load(app, &obj).unwrap();
    let app = direct.create_app("a").unwrap();
    let monitor = direct.load(app, &obj).unwrap();
    let monitor = direct.entry(monitor, "m").unwrap();
    let mut report = TickReport::default();
    let [invocation, tick] = bench::interleaved(
        200_000,
        [&mut || direct.invoke(monitor, None).is_ok(), &mut || {
            ticked.tick(&mut report);
            report.monitors_run == 1 && report.traps.is_empty()
        }],
        |ok| assert!(ok),
    );
    println!(
        "| one application, an empty monitor (no event, no write) | {:.1} | {:.1} | {:.2}x |",
        invocation.best_ns, tick.best_ns, tick.ratio
    );
}

/// What a helper call costs when the helper only answers (`now_us` on a
/// manual clock) and when it is `raise_event` on a full channel, which
/// drops the event: 500 calls per invocation, less an empty invocation,
/// interleaved.
fn raise_rows() {
    const CALLS: usize = 500;
    let monitor = |body: &str| {
        format!(
            "extension calls;\nimport cpu;\nint out = 0;\nmonitor void m(cap<cpu_qos> app) {{\n    int x = 0;\n{}    out = x;\n}}\n",
            body.repeat(CALLS)
        )
    };
    let mut host = host(HostConfig::default());
    host.set_clock_us(1);
    let app = host.create_app("a").unwrap();
    let mut entry = |source: &str| {
        let ext = host.load(app, &object(source)).unwrap();
        host.entry(ext, "m").unwrap()
    };
    let empty = entry(TRIVIAL);
    let now = entry(&monitor("    x = x + now_us();\n"));
    let raise = entry(&monitor("    raise_event(\"Error\", 1);\n"));
    // Fills the channel: from now on every event is dropped.
    host.invoke(raise, None).unwrap();
    // Shared by the contenders; a borrow costs nothing next to 500 calls.
    let host = std::cell::RefCell::new(host);
    let [nothing, answered, dropped] = bench::interleaved(
        2_000,
        [
            &mut || host.borrow_mut().invoke(empty, None),
            &mut || host.borrow_mut().invoke(now, None),
            &mut || host.borrow_mut().invoke(raise, None),
        ],
        |r| assert!(r.is_ok()),
    );
    let per_call = |c: bench::Contender| (c.best_ns - nothing.best_ns) / CALLS as f64;
    println!();
    println!("| helper call ({CALLS} per invocation) | ns per call | vs `now_us` |");
    println!("|---|---:|---:|");
    println!(
        "| `now_us` on a manual clock (the helper only answers) | {:.2} | 1.00x |",
        per_call(answered)
    );
    println!(
        "| `raise_event` on a full channel (the event is dropped) | {:.2} | {:.2}x |",
        per_call(dropped),
        per_call(dropped) / per_call(answered)
    );
    assert!(host.borrow().dropped_events(app) > 0);
}

fn deadline_rows() {
    const RUNS: usize = 50;
    let budget = Duration::from_millis(1);
    let mut host = host(HostConfig {
        deadline: Some(budget),
        max_fuel: i64::MAX as u64,
        quarantine_after: 0,
        ..HostConfig::default()
    });
    let app = host.create_app("a").unwrap();
    let ext = host.load(app, &object(SPIN)).unwrap();
    let entry = host.entry(ext, "m").unwrap();
    // Past the budget in wall time, and in the invoking thread's CPU time
    // (what the deadline counts: preemption does not).
    let (mut wall, mut cpu): (Vec<Duration>, Vec<Duration>) = (0..RUNS)
        .map(|_| {
            let (start, start_cpu) = (Instant::now(), thread_cpu());
            let trap = host.invoke(entry, None).unwrap_err();
            assert_eq!(trap.kind, TrapKind::Deadline);
            (
                start.elapsed().saturating_sub(budget),
                (thread_cpu() - start_cpu).saturating_sub(budget),
            )
        })
        .unzip();
    wall.sort();
    cpu.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!();
    println!("Deadline: an infinite loop with budget 1 ms, {RUNS} runs; how far past the budget it returned:");
    println!();
    println!("| measured in | min | median | max | goal |");
    println!("|---|---:|---:|---:|---:|");
    for (name, late) in [("CPU time of the invoking thread", &cpu), ("wall-clock time", &wall)] {
        println!(
            "| {name} | {:.0} µs | {:.0} µs | {:.0} µs | ≤ 1000 µs |",
            us(late[0]),
            us(late[RUNS / 2]),
            us(late[RUNS - 1])
        );
    }
}

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid clock id and out-parameter.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        None => {
            invoke_rows();
            tick_rows();
            raise_rows();
            deadline_rows();
        }
        Some("--tick") => tick_rows(),
        Some(_) => {
            eprintln!("usage: host_bench [--tick]");
            std::process::exit(2);
        }
    }
}
