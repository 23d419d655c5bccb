//! The hand-written TAL examples and the Popcorn-SX examples, run with a mock
//! host and checked against references written in Rust.

mod common;

use common::*;
use tal_interp::{HostError, Trap, TrapKind};
use tal_ir::{BlockId, ExcKind};

const CPU_PID_TAL: &str = include_str!("../../examples/tal/cpu_pid.tal");
const CPU_AVG_TAL: &str = include_str!("../../examples/tal/cpu_avg.tal");
const GUARD_TAL: &str = include_str!("../../examples/tal/timeslice_guard.tal");
const CPU_PID_POP: &str = include_str!("../../examples/pop/cpu_pid.pop");
const CPU_AVG_POP: &str = include_str!("../../examples/pop/cpu_avg.pop");
const ROBUST_PID_POP: &str = include_str!("../../examples/pop/robust_pid.pop");
const GUARD_POP: &str = include_str!("../../stdlib/pop/timeslice_guard.pop");

/// Errors a monitor could have sampled, including ones that drive the output
/// far from zero and back.
const TRACE: [i64; 14] = [100, 250, -30, 0, 999, -1000, 12345, -777, 5, 5, 5, 40_000, -60_000, 1];

/// The paper's PID law with per-mille gains Kp = 500, Ki = 100, Kd = 50:
/// the timeslice adjustments a handler receiving `trace` writes.
fn reference_pid(trace: &[i64]) -> Vec<i64> {
    let (mut e_prev, mut u_prev) = (0i64, 0i64);
    trace
        .iter()
        .map(|&e| {
            let u = ((500 + 50 + 100) * e - 50 * e_prev) / 1000 + u_prev;
            (e_prev, u_prev) = (e, u);
            u
        })
        .collect()
}

fn pid_writes(instance: &mut tal_interp::Instance, handler: &str) -> Vec<i64> {
    let mut host = MockHost::default();
    for e in TRACE {
        assert_eq!(run(instance, &mut host, handler, &[APP, e]), Ok(None));
    }
    assert!(
        host.sets
            .iter()
            .all(|&(cap, attr, _)| cap == APP && attr == TIMESLICE_ADJUSTMENT)
    );
    host.sets.iter().map(|s| s.2).collect()
}

#[test]
fn cpu_pid_tal_monitor_raises_target_minus_actual() {
    let mut instance = load_tal(CPU_PID_TAL);
    let mut host = MockHost::with(&[(TARGET_CPU, 5_000), (ACTUAL_CPU, 4_200)]);
    assert_eq!(run(&mut instance, &mut host, "cpu_monitor", &[APP]), Ok(None));
    host.set(ACTUAL_CPU, 7_000);
    assert_eq!(run(&mut instance, &mut host, "cpu_monitor", &[APP]), Ok(None));
    assert_eq!(host.events, vec![(0, 800), (0, -2_000)], "event Error is id 0");
}

#[test]
fn cpu_pid_tal_handler_follows_the_pid_law() {
    let mut instance = load_tal(CPU_PID_TAL);
    let expected = reference_pid(&TRACE);
    assert_eq!(pid_writes(&mut instance, "cpu_pid"), expected);
    assert_eq!(global(&instance, "e_prev"), TRACE[TRACE.len() - 1]);
    assert_eq!(global(&instance, "u_prev"), expected[expected.len() - 1]);
}

#[test]
fn cpu_pid_tal_out_of_range_adjustment_traps_after_its_stores() {
    let mut instance = load_tal(CPU_PID_TAL);
    let mut host = MockHost::default();
    let f = func(&instance, "cpu_pid");
    let trap = run(&mut instance, &mut host, "cpu_pid", &[APP, 2_000_000]).unwrap_err();
    assert_eq!(trap.kind, TrapKind::Exception(ExcKind::RangeError));
    assert_eq!(
        (trap.func, trap.block, trap.inst),
        (f, BlockId(0), Some(14)),
        "at check.range"
    );
    assert_eq!(host.sets, vec![]);
    // The stores before the check happened and persist.
    assert_eq!(global(&instance, "e_prev"), 2_000_000);
    assert_eq!(global(&instance, "u_prev"), 1_300_000);
}

#[test]
fn cpu_pid_tal_handler_needs_its_whole_fuel() {
    let mut instance = load_tal(CPU_PID_TAL);
    let f = func(&instance, "cpu_pid");
    let mut host = MockHost::default();
    let mut fuel = 26;
    assert_eq!(instance.invoke(&mut host, f, &[APP, 10], &mut fuel), Ok(None));
    assert_eq!(fuel, 0);
    let mut fuel = 25;
    let trap = instance.invoke(&mut host, f, &[APP, 10], &mut fuel).unwrap_err();
    assert_eq!(
        (trap.kind, trap.block, trap.inst),
        (TrapKind::OutOfFuel, BlockId(0), Some(0))
    );
    assert_eq!(fuel, -1);
    assert_eq!(host.sets.len(), 1, "the second invocation did nothing");
}

#[test]
fn cpu_pid_tal_host_errors_at_set_attribute() {
    let mut instance = load_tal(CPU_PID_TAL);
    let mut host = MockHost {
        fail_set: Some(HostError::Abort("guard failed".into())),
        ..MockHost::default()
    };
    let trap = run(&mut instance, &mut host, "cpu_pid", &[APP, 10]).unwrap_err();
    assert_eq!(
        (trap.kind, trap.inst),
        (TrapKind::HostAbort("guard failed".into()), Some(15))
    );
}

/// Ring-buffer average of the last 8 errors, as `cpu_avg` computes it.
fn reference_averages(errors: &[i64]) -> Vec<i64> {
    (1..=errors.len())
        .map(|n| {
            let last = &errors[n.saturating_sub(8)..n];
            last.iter().sum::<i64>() / last.len() as i64
        })
        .collect()
}

#[test]
fn cpu_avg_tal_averages_the_last_eight_samples() {
    let mut instance = load_tal(CPU_AVG_TAL);
    let mut host = MockHost::with(&[(TARGET_CPU, 1_000)]);
    let actual = [900, 1_100, 0, 2_500, 1_000, 333, 10, 999, 1_234, -5, 700, 42];
    for a in actual {
        host.set(ACTUAL_CPU, a);
        assert_eq!(run(&mut instance, &mut host, "cpu_avg", &[APP]), Ok(None));
    }
    let errors: Vec<i64> = actual.iter().map(|a| 1_000 - a).collect();
    let raised: Vec<i64> = host.events.iter().map(|e| e.1).collect();
    assert_eq!(raised, reference_averages(&errors));
    assert!(host.events.iter().all(|e| e.0 == 0));
    assert_eq!(global(&instance, "count"), 8);
    assert_eq!(global(&instance, "next"), (actual.len() % 8) as i64);
    // ring[i] = { t, err }: sample k went to slot k % 8 at time 10 (k + 1).
    let ring = instance.global("ring").unwrap();
    assert_eq!(ring.len(), 16);
    for (k, err) in errors.iter().enumerate().skip(actual.len() - 8) {
        assert_eq!(&ring[2 * (k % 8)..2 * (k % 8) + 2], &[10 * (k as i64 + 1), *err]);
    }
}

#[test]
fn timeslice_guard_tal_returns_or_blocks() {
    let mut instance = load_tal(GUARD_TAL);
    let mut host = MockHost::with(&[(TARGET_CPU, 3_000), (TARGET_UTIL, 500), (AVG_UTIL_2P, 400)]);
    let guard = "timeslice_guard";
    assert_eq!(run(&mut instance, &mut host, guard, &[APP, 250]), Ok(Some(3_250)));
    assert_eq!(run(&mut instance, &mut host, guard, &[APP, -3_000]), Ok(Some(0)));
    assert_eq!(
        run(&mut instance, &mut host, guard, &[APP, -3_001]),
        Ok(Some(0)),
        "never negative"
    );
    host.set(AVG_UTIL_2P, 500);
    assert_eq!(run(&mut instance, &mut host, guard, &[APP, -10]), Ok(Some(2_990)));
    assert_eq!(host.blocked, vec![]);
    host.set(AVG_UTIL_2P, 501);
    assert_eq!(run(&mut instance, &mut host, guard, &[APP, 250]), Ok(Some(0)));
    assert_eq!(host.blocked, vec![APP]);
    // target_cpu + value overflows: uncaught, at the iadd of block1.
    host.set(AVG_UTIL_2P, 0);
    host.set(TARGET_CPU, i64::MAX);
    let trap = run(&mut instance, &mut host, guard, &[APP, 1]).unwrap_err();
    assert_eq!(
        (trap.kind, trap.block, trap.inst),
        (TrapKind::Exception(ExcKind::Overflow), BlockId(1), Some(1))
    );
}

#[test]
fn cpu_pid_pop_matches_the_reference_pid() {
    let mut instance = load_pop(CPU_PID_POP);
    assert_eq!(pid_writes(&mut instance, "cpu_pid"), reference_pid(&TRACE));
    // Monitor and handler chained through the recorded events.
    let mut instance = load_pop(CPU_PID_POP);
    let mut host = MockHost::with(&[(TARGET_CPU, 10_000)]);
    for e in TRACE {
        host.set(ACTUAL_CPU, 10_000 - e);
        run(&mut instance, &mut host, "cpu_monitor", &[APP]).unwrap();
        let (_, value) = *host.events.last().unwrap();
        run(&mut instance, &mut host, "cpu_pid", &[APP, value]).unwrap();
    }
    let written: Vec<i64> = host.sets.iter().map(|s| s.2).collect();
    assert_eq!(written, reference_pid(&TRACE));
}

/// What `robust_pid.pop`'s handler does, in Rust: (u written, new u_prev),
/// or the exception that escapes.
fn reference_robust(u_prev: i64, e: i64, period: i64) -> Result<(Vec<i64>, i64), ExcKind> {
    let scaled = match e.checked_mul(1000) {
        None => 0,
        Some(_) if period == 0 => e,
        Some(x) => x.checked_div(period).unwrap_or(0),
    };
    let u = u_prev.checked_add(scaled / 2).ok_or(ExcKind::Overflow)?;
    if (-1_000_000..=1_000_000).contains(&u) {
        Ok((vec![u], u))
    } else {
        let clamped = if u > 0 { 1_000_000 } else { -1_000_000 };
        Ok((vec![clamped], clamped))
    }
}

#[test]
fn robust_pid_pop_survives_bad_input() {
    let mut instance = load_pop(ROBUST_PID_POP);
    let mut host = MockHost::default();
    let mut u_prev = 0;
    let cases = [
        (100, 0),  // DivideByZero caught: scaled = e
        (100, 50), // 100 * 1000 / 50 = 2000
        (-7, 0),
        (i64::MAX / 100, 10),  // e * 1000 overflows: scaled = 0
        (i64::MIN / 1000, -1), // a huge quotient: clamped to 1e6
        (3_000_000, 0),        // clamped to 1e6
        (-9_000_000, 3),       // clamped to -1e6
        (10, 1),
    ];
    for (e, period) in cases {
        host.set(PERIOD, period);
        host.sets.clear();
        let result = run(&mut instance, &mut host, "robust_pid", &[APP, e]);
        let expected = reference_robust(u_prev, e, period);
        match expected {
            Ok((writes, u)) => {
                assert_eq!(result, Ok(None), "e = {e}, period = {period}");
                assert_eq!(host.sets.iter().map(|s| s.2).collect::<Vec<_>>(), writes);
                assert_eq!(global(&instance, "u_prev"), u);
                u_prev = u;
            }
            Err(k) => assert_eq!(result.unwrap_err().kind, TrapKind::Exception(k)),
        }
    }
}

#[test]
fn robust_pid_pop_catches_divide_by_zero_at_check_nonzero() {
    let mut instance = load_pop(ROBUST_PID_POP);
    let mut host = MockHost::with(&[(PERIOD, 0)]);
    assert_eq!(run(&mut instance, &mut host, "robust_pid", &[APP, 64]), Ok(None));
    assert_eq!(host.sets, vec![(APP, TIMESLICE_ADJUSTMENT, 32)]);
}

#[test]
fn cpu_avg_pop_matches_the_tal_example() {
    let mut pop = load_pop(CPU_AVG_POP);
    let mut tal = load_tal(CPU_AVG_TAL);
    let mut host_pop = MockHost::with(&[(TARGET_CPU, 5_000)]);
    let mut host_tal = MockHost::with(&[(TARGET_CPU, 5_000)]);
    for a in [0, 100, 7_000, -3, 4_999, 12, 0, 0, 0, 1] {
        host_pop.set(ACTUAL_CPU, a);
        host_tal.set(ACTUAL_CPU, a);
        assert_eq!(run(&mut pop, &mut host_pop, "cpu_avg", &[APP]), Ok(None));
        assert_eq!(run(&mut tal, &mut host_tal, "cpu_avg", &[APP]), Ok(None));
        let (_, avg) = *host_pop.events.last().unwrap();
        assert_eq!(run(&mut pop, &mut host_pop, "on_avg", &[APP, avg]), Ok(None));
    }
    let values = |h: &MockHost| h.events.iter().map(|e| e.1).collect::<Vec<_>>();
    assert_eq!(
        values(&host_pop),
        values(&host_tal),
        "the event ids differ: `import cpu` declares Error first"
    );
    let halves: Vec<i64> = host_pop.events.iter().filter(|e| e.1 > 1000).map(|e| e.1 / 2).collect();
    assert_eq!(host_pop.sets.iter().map(|s| s.2).collect::<Vec<_>>(), halves);
}

#[test]
fn timeslice_guard_pop_matches_the_tal_example() {
    let options = popcorn_front::Options {
        stdlib: true,
        ..Default::default()
    };
    let compiled = popcorn_front::compile(GUARD_POP, &options);
    let module = compiled.module.expect("compiles");
    verifier::verify(&module, &verifier::Config::default()).expect("verifies");
    let mut pop = tal_interp::Instance::new(module).unwrap();
    let mut tal = load_tal(GUARD_TAL);
    for (avg, value) in [
        (400, 10),
        (400, -3_000),
        (400, -4_000),
        (500, 0),
        (501, 77),
        (0, i64::MAX),
    ] {
        let attrs = [(TARGET_CPU, 3_000), (TARGET_UTIL, 500), (AVG_UTIL_2P, avg)];
        let (mut host_pop, mut host_tal) = (MockHost::with(&attrs), MockHost::with(&attrs));
        let a = run(&mut pop, &mut host_pop, "timeslice_guard", &[APP, value]);
        let b = run(&mut tal, &mut host_tal, "timeslice_guard", &[APP, value]);
        let kind = |r: Result<Option<i64>, Trap>| r.map_err(|t| t.kind);
        assert_eq!(kind(a), kind(b), "avg {avg}, value {value}");
        assert_eq!(host_pop.blocked, host_tal.blocked);
    }
}
