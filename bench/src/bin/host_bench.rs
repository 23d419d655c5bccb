//! The cost of running extensions through the host API, measured in one
//! run: `cargo run --release -p bench --bin host_bench`.
//!
//! - Invoking a trivial extension (an empty monitor) through
//!   `Host::invoke`, with and without time accounting and the deadline
//!   watchdog, against calling the same code through a bare function
//!   pointer with a context (the floor: what any host must do).
//! - A service-manager tick of the paper's PID extension (monitor, event,
//!   handler, guard) per application, for 3 and 64 applications.
//! - How late the deadline stops an infinite loop: budget 1 ms, 50 runs.

#![deny(clippy::undocumented_unsafe_blocks)]

use bench::best_time;
use runtime::{Host, HostConfig, TrapKind};
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
    let mut ctx = Ctx::new(0, std::ptr::null(), std::ptr::null_mut(), std::ptr::null());
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
            "Host::invoke, deadline watchdog (default)",
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

fn tick_rows() {
    println!();
    println!(
        "| PID service round through the host (monitor, event, handler, guard) | ns per round | ns per application |"
    );
    println!("|---|---:|---:|");
    let obj = object(PID);
    for apps in [3usize, 64] {
        let mut host = host(HostConfig::default());
        for a in 0..apps {
            let app = host.create_app(&format!("app{a}")).unwrap();
            host.load(app, &obj).unwrap();
            for (attr, v) in [
                ("target_cpu", 20_000 + a as i64),
                ("target_util", 500),
                ("avg_util_2p", 400),
            ] {
                host.write_attribute(app, attr, v).unwrap();
            }
        }
        let ids: Vec<_> = host.apps().collect();
        let mut round = 0i64;
        let ns = ns_per_call(20_000 / apps as u64, || {
            // Alternate the error's sign so that `u` stays in range.
            round += 1;
            let err = if round % 2 == 0 { 1_000 } else { -1_000 };
            for (a, &app) in ids.iter().enumerate() {
                host.write_attribute(app, "actual_cpu", 20_000 + a as i64 - err)
                    .unwrap();
            }
            let report = host.tick();
            assert_eq!(report.handlers_run, apps);
            assert!(report.traps.is_empty(), "{:?}", report.traps);
        });
        println!("| {apps} applications | {ns:.0} | {:.0} |", ns / apps as f64);
    }
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
    // (what the watchdog counts: preemption does not).
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
    invoke_rows();
    tick_rows();
    deadline_rows();
}
