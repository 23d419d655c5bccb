//! The host API: the paper's PID extension against a Rust reference on a
//! recorded trace, guards, events, exceptions and their handlers, fuel and
//! the deadline, quarantine, counters, and capability isolation.

#![deny(clippy::undocumented_unsafe_blocks)]
// Runs compiled code, which Miri cannot (docs/miri.md).
#![cfg(not(miri))]

use rand::{RngExt, SeedableRng};
use rand_xorshift::XorShiftRng;
use runtime::manager::TickReport;
use runtime::{Host, HostConfig, TrapKind, WriteOutcome};
use std::time::Duration;
use tal_ir::ExcKind;

const PID: &str = include_str!("../../examples/pop/cpu_pid.pop");
const GUARD: &str = include_str!("../../stdlib/pop/timeslice_guard.pop");

fn object(source: &str, stdlib: bool) -> Vec<u8> {
    bench::compile_object("test.pop", source, stdlib).unwrap()
}

fn host_with(config: HostConfig) -> Host {
    runtime::system::host(config, false).expect("host")
}

fn host() -> Host {
    host_with(HostConfig::default())
}

/// One tick, in a report of its own.
fn tick(host: &mut Host) -> TickReport {
    let mut report = TickReport::default();
    host.tick(&mut report);
    report
}

/// The reference PID law, as the paper writes it, in Rust, with
/// `cpu_pid.pop`'s anti-windup: |u| at most `period` when it is set.
struct ReferencePid {
    e_prev: i64,
    u_prev: i64,
    period: i64,
}

impl ReferencePid {
    fn step(&mut self, target: i64, actual: i64) -> i64 {
        let e = target - actual;
        let mut u = ((500 + 50 + 100) * e - 50 * self.e_prev) / 1000 + self.u_prev;
        if self.period > 0 {
            u = u.clamp(-self.period, self.period);
        }
        self.e_prev = e;
        self.u_prev = u;
        u
    }
}

/// A recorded input trace: CPU time received per period, seeded.
fn trace(ticks: usize) -> Vec<i64> {
    let mut rng = XorShiftRng::seed_from_u64(0x5afe_0001);
    (0..ticks)
        .map(|t| {
            // Received CPU around the 20 ms target, with a disturbance
            // between ticks 40 and 80.
            let noise: i64 = rng.random_range(-1_500..1_500);
            let disturbance = if (40..80).contains(&t) { -6_000 } else { 0 };
            20_000 + noise + disturbance
        })
        .collect()
}

#[test]
fn pid_matches_the_reference_on_a_recorded_trace() {
    let mut host = host_with(HostConfig {
        account_time: true,
        ..HostConfig::default()
    });
    let app = host.create_app("video").unwrap();
    let ext = host.load(app, &object(PID, false)).expect("loads");
    host.write_attribute(app, "target_cpu", 20_000).unwrap();
    // A period small enough that the disturbance drives u into the clamp.
    host.write_attribute(app, "period", 25_000).unwrap();
    let mut reference = ReferencePid {
        e_prev: 0,
        u_prev: 0,
        period: 25_000,
    };
    let mut clamped = false;
    for (t, &actual) in trace(200).iter().enumerate() {
        host.write_attribute(app, "actual_cpu", actual).unwrap();
        let report = tick(&mut host);
        assert!(report.traps.is_empty(), "tick {t}: {:?}", report.traps);
        let expected = reference.step(20_000, actual);
        clamped |= expected.abs() == 25_000;
        assert_eq!(
            host.attribute(app, "timeslice_adjustment").unwrap(),
            expected,
            "tick {t}"
        );
        assert_eq!(report.monitors_run, 1);
        assert_eq!(report.handlers_run, 1);
        assert_eq!(report.changes.len(), 1);
        assert_eq!(report.changes[0].new, expected);
        assert_eq!(host.entry_name(report.changes[0].by), "cpu_pid.cpu_pid");
    }
    assert!(clamped, "the trace reaches the anti-windup bound");
    let data = host.data(ext).unwrap();
    assert_eq!(data[host.global_offset(ext, "u_prev").unwrap()], reference.u_prev);
    assert_eq!(data[host.global_offset(ext, "e_prev").unwrap()], reference.e_prev);
    let c = host.counters(ext).unwrap();
    assert_eq!(c.invocations, 400);
    assert_eq!(c.aborts, 0);
    assert_eq!(c.events_raised, 200);
    assert!(c.fuel_used >= 400, "fuel is charged: {}", c.fuel_used);
    assert!(c.time > Duration::ZERO);
    // The longest invocation is one of them: at most their sum, at least
    // their mean.
    assert!(
        c.max_time <= c.time && c.max_time * 400 >= c.time,
        "{:?} of {:?}",
        c.max_time,
        c.time
    );
}

#[test]
fn the_guard_sees_every_write_and_blocks_unsafe_ones() {
    let mut host = host();
    host.install_guard(&object(GUARD, true))
        .expect("the stdlib guard installs");
    let app = host.create_app("video").unwrap();
    host.load(app, &object(PID, false)).unwrap();
    for (attr, v) in [
        ("target_cpu", 20_000),
        ("actual_cpu", 19_000),
        ("target_util", 500),
        ("avg_util_2p", 400),
    ] {
        host.write_attribute(app, attr, v).unwrap();
    }
    let report = tick(&mut host);
    // e = 1000, u = 650: the guard applies target_cpu + u.
    assert_eq!(report.changes.len(), 1, "{report:?}");
    assert_eq!(
        report.changes[0].outcome,
        WriteOutcome::Written { applied: Some(20_650) }
    );
    assert_eq!(host.attribute(app, "timeslice_adjustment").unwrap(), 650);
    assert_eq!(host.applied(app, "timeslice_adjustment").unwrap(), Some(20_650));
    assert!(!host.blocked(app));

    // Over its utilization target: the guard blocks the application and
    // the write does not happen.
    host.write_attribute(app, "avg_util_2p", 700).unwrap();
    let report = tick(&mut host);
    assert_eq!(report.changes[0].outcome, WriteOutcome::Blocked);
    assert!(host.blocked(app));
    assert_eq!(host.attribute(app, "timeslice_adjustment").unwrap(), 650);
    // The service manager lifts the block (at the next period, say).
    host.unblock(app);
    assert!(!host.blocked(app));
}

#[test]
fn extensions_and_guards_read_the_attributes_of_the_application_they_act_for() {
    // Attribute reads are loads from rows the host publishes per
    // invocation (ABI 3): each PID monitor must see its own application's
    // values, and the one guard the values of whichever application writes.
    let mut host = host();
    host.install_guard(&object(GUARD, true)).unwrap();
    let mut apps = Vec::new();
    for (name, target, actual, avg_util) in [("calm", 20_000, 19_000, 400), ("greedy", 30_000, 27_000, 700)] {
        let app = host.create_app(name).unwrap();
        host.load(app, &object(PID, false)).unwrap();
        for (attr, v) in [
            ("target_cpu", target),
            ("actual_cpu", actual),
            ("target_util", 500),
            ("avg_util_2p", avg_util),
        ] {
            host.write_attribute(app, attr, v).unwrap();
        }
        apps.push(app);
    }
    // An application created after the others' extensions were loaded.
    let late = host.create_app("late").unwrap();
    host.load(late, &object(PID, false)).unwrap();
    for (attr, v) in [("target_cpu", 10_000), ("actual_cpu", 12_000), ("target_util", 500)] {
        host.write_attribute(late, attr, v).unwrap();
    }
    let report = tick(&mut host);
    assert_eq!(report.changes.len(), 3, "{report:?}");
    let outcome = |app| report.changes.iter().find(|c| c.app == app).map(|c| c.outcome.clone());
    // calm: e = 1000, u = 650, applied 20_000 + 650.
    assert_eq!(outcome(apps[0]), Some(WriteOutcome::Written { applied: Some(20_650) }));
    // greedy: over its utilization target, blocked.
    assert_eq!(outcome(apps[1]), Some(WriteOutcome::Blocked));
    // late: e = -2000, u = -1300, applied 10_000 - 1300.
    assert_eq!(outcome(late), Some(WriteOutcome::Written { applied: Some(8_700) }));
    assert_eq!(host.attribute(apps[0], "timeslice_adjustment").unwrap(), 650);
    assert_eq!(host.attribute(late, "timeslice_adjustment").unwrap(), -1300);
    assert!(!host.blocked(apps[0]) && host.blocked(apps[1]) && !host.blocked(late));
}

#[test]
fn an_application_cannot_install_a_guard_or_hold_guard_rights() {
    let mut host = host();
    let app = host.create_app("a").unwrap();
    let err = host.load(app, &object(GUARD, true)).expect_err("refused");
    assert_eq!(err.code, "L0101", "{err}");
    // And a system guard object holds only guards.
    let err = host.install_guard(&object(PID, false)).expect_err("refused");
    assert_eq!(err.code, "L0101", "{err}");
}

#[test]
fn capabilities_reach_only_the_own_applications_classes() {
    // Two applications run the same writer; each writes its own class
    // instance and reads only its own attributes.
    let writer = r#"
        extension writer;
        import cpu;
        monitor void m(cap<cpu_qos> app) {
            set_attribute(app, "timeslice_adjustment", get_attribute(app, "target_cpu") + 1);
        }
    "#;
    let mut host = host();
    let a = host.create_app("a").unwrap();
    let b = host.create_app("b").unwrap();
    host.write_attribute(a, "target_cpu", 100).unwrap();
    host.write_attribute(b, "target_cpu", 5_000).unwrap();
    host.load(a, &object(writer, false)).unwrap();
    tick(&mut host);
    assert_eq!(host.attribute(a, "timeslice_adjustment").unwrap(), 101);
    assert_eq!(host.attribute(b, "timeslice_adjustment").unwrap(), 0, "b untouched");
    host.load(b, &object(writer, false)).unwrap();
    let report = tick(&mut host);
    assert_eq!(host.attribute(a, "timeslice_adjustment").unwrap(), 101);
    assert_eq!(host.attribute(b, "timeslice_adjustment").unwrap(), 5_001);
    assert_eq!(
        report.changes.iter().map(|c| host.app_name(c.app)).collect::<Vec<_>>(),
        ["a", "b"]
    );
}

#[test]
fn a_class_declared_differently_from_the_hosts_is_refused() {
    // An extension that declares its own `cpu_qos` with a writable
    // `target_cpu`: its code verifies against its declaration, so the host
    // must refuse the declaration itself.
    let forged = r#"
        extension forged;
        attribute class cpu_qos { int target_cpu; }
        monitor void m(cap<cpu_qos> app) { set_attribute(app, "target_cpu", 1); }
    "#;
    let mut host = host();
    let app = host.create_app("a").unwrap();
    let err = host.load(app, &object(forged, false)).expect_err("refused");
    assert_eq!(err.code, "L0100", "{err}");
}

fn trapping(body: &str) -> String {
    format!(
        "extension trapping;\nimport cpu;\nint a[4];\nint zero = 0;\n\
         monitor void m(cap<cpu_qos> app) {{\n    int t = get_attribute(app, \"target_cpu\");\n    {body}\n}}\n"
    )
}

#[test]
fn each_exception_kind_reaches_the_host_with_its_source_location() {
    let cases = [
        ("int x = t / zero;", ExcKind::DivideByZero),
        ("a[t] = 1;", ExcKind::OutOfBounds),
        ("int x = t * 9223372036854775807;", ExcKind::Overflow),
        (
            "set_attribute(app, \"timeslice_adjustment\", t * 1000);",
            ExcKind::RangeError,
        ),
    ];
    for (body, kind) in cases {
        let mut host = host();
        let app = host.create_app("a").unwrap();
        host.write_attribute(app, "target_cpu", 20_000).unwrap();
        let ext = host.load(app, &object(&trapping(body), false)).expect(body);
        let entry = host.entry(ext, "m").unwrap();
        let trap = host.invoke(entry, None).expect_err(body);
        assert_eq!(trap.kind, TrapKind::Exception(kind), "{body}");
        let site = trap.site.expect("a located trap");
        assert_eq!(site.function, "m");
        let source = trapping(body);
        let span = site.span.expect("spans");
        let line = source[..span.lo as usize].lines().count();
        assert_eq!(line, 7, "{body}: the trap is on the body's line");
        assert_eq!(host.counters(ext).unwrap().exceptions, 1);
    }
}

#[test]
fn an_exception_handler_receives_aborts_and_the_default_handler_counts_them() {
    let source = r#"
        extension recovering;
        import cpu;
        event Exception;
        int zero = 0;
        int seen = 0;
        monitor void m(cap<cpu_qos> app) { int x = 1 / zero; }
        handler void recover(cap<cpu_qos> app, int status) on "Exception" {
            seen = status;
            set_attribute(app, "timeslice_adjustment", -status);
        }
    "#;
    let mut host = host();
    let app = host.create_app("a").unwrap();
    let ext = host.load(app, &object(source, false)).unwrap();
    let report = tick(&mut host);
    assert_eq!(report.traps.len(), 1);
    assert_eq!(host.entry_name(report.traps[0].entry), "recovering.m");
    assert_eq!(report.deliveries.len(), 1);
    assert_eq!(host.event_name(report.deliveries[0].event), "Exception");
    assert_eq!(report.deliveries[0].handlers, 1);
    let divide_by_zero = stdlib::abi::status::DIVIDE_BY_ZERO as i64;
    assert_eq!(
        host.data(ext).unwrap()[host.global_offset(ext, "seen").unwrap()],
        divide_by_zero
    );
    assert_eq!(host.attribute(app, "timeslice_adjustment").unwrap(), -divide_by_zero);
    assert_eq!(host.counters(ext).unwrap().aborts, 1);
}

const SPIN: &str = r#"
    extension spin;
    import cpu;
    budget 90000000;
    int n = 0;
    monitor void m(cap<cpu_qos> app) { while (true) { n = n + 1; } }
"#;

#[test]
fn the_host_charges_the_entry_fuel_and_calls_nothing_it_cannot_pay_for() {
    // The monitor's entry region is 5 instructions (fuel excluded), which
    // the host charges before the call (ABI 4): with a budget of 5 it runs,
    // with 4 it stops at its entry without running, as its check would have.
    let source = |budget: u64| {
        format!(
            "extension paid;\nimport cpu;\nbudget {budget};\nint n = 0;\n\
             monitor void m(cap<cpu_qos> app) {{ n = n + 1; }}\n"
        )
    };
    let module = popcorn_front::compile(&source(5), &popcorn_front::Options::default())
        .module
        .unwrap();
    let entry = module.func_by_name("m").unwrap();
    assert_eq!(
        module.funcs[entry.index()].blocks[0].insts[0].kind,
        tal_ir::InstKind::Fuel(5)
    );
    let mut host = host_with(HostConfig {
        deadline: None,
        ..HostConfig::default()
    });
    let app = host.create_app("a").unwrap();
    let enough = host.load(app, &object(&source(5), false)).unwrap();
    assert_eq!(host.invoke(host.entry(enough, "m").unwrap(), None), Ok(Some(0)));
    assert_eq!(host.counters(enough).unwrap().fuel_used, 5);
    let short = host.load(app, &object(&source(4), false)).unwrap();
    let trap = host.invoke(host.entry(short, "m").unwrap(), None).unwrap_err();
    assert_eq!(trap.kind, TrapKind::OutOfFuel);
    let site = trap.site.unwrap();
    assert_eq!((site.function.as_str(), site.block, site.inst), ("m", 0, Some(0)));
    assert_eq!(host.data(short).unwrap()[host.global_offset(short, "n").unwrap()], 0);
    let c = host.counters(short).unwrap();
    assert_eq!((c.fuel_used, c.out_of_fuel), (4, 1));
}

#[test]
fn an_infinite_loop_is_stopped_by_fuel() {
    let mut host = host_with(HostConfig {
        deadline: None,
        ..HostConfig::default()
    });
    let app = host.create_app("a").unwrap();
    let small = SPIN.replace("budget 90000000;", "budget 10000;");
    let ext = host.load(app, &object(&small, false)).unwrap();
    let trap = host.invoke(host.entry(ext, "m").unwrap(), None).unwrap_err();
    assert_eq!(trap.kind, TrapKind::OutOfFuel);
    assert_eq!(trap.site.unwrap().function, "m");
    let c = host.counters(ext).unwrap();
    assert_eq!(c.fuel_used, 10_000);
    assert_eq!(c.out_of_fuel, 1);
    let n = host.data(ext).unwrap()[host.global_offset(ext, "n").unwrap()];
    assert!(
        n > 100 && n < 10_000,
        "the loop ran until its fuel ran out: {n} iterations"
    );
}

/// A host with a deadline of `budget`, fuel without limit and no
/// quarantine: what stops an invocation is the deadline.
fn host_with_deadline(budget: Duration) -> Host {
    host_with(HostConfig {
        deadline: Some(budget),
        max_fuel: i64::MAX as u64,
        quarantine_after: 0,
        ..HostConfig::default()
    })
}

/// A system guard that loops, with fuel for seconds, on the attribute
/// applications' monitors write.
const SLOW_GUARD: &str = "extension slow_guard;\nimport cpu;\nbudget 5000000000;\nint n = 0;\n\
                          guard int slow(cap<cpu_qos> app, int value) for \"timeslice_adjustment\" {\n\
                              while (true) { n = n + 1; }\n    return value;\n}\n";

#[test]
fn with_fuel_set_high_the_deadline_stops_an_infinite_loop() {
    let budget = Duration::from_millis(5);
    let mut host = host_with_deadline(budget);
    let app = host.create_app("a").unwrap();
    let huge = SPIN.replace("budget 90000000;", "budget 9000000000000000000;");
    // A loop that stores nothing to its data region: the fuel counter must
    // be read and written in the loop, not kept in a register.
    let store_free = huge
        .replace("int n = 0;", "")
        .replace("n = n + 1;", "int x = 0; x = 1 - x;");
    let ext = host.load(app, &object(&huge, false)).unwrap();
    let quiet = host.load(app, &object(&store_free, false)).unwrap();
    let entry = host.entry(ext, "m").unwrap();
    let quiet_entry = host.entry(quiet, "m").unwrap();
    // The budget is CPU time of the invoking thread: what it took is read
    // from the same clock, so a loaded machine does not move the figures.
    for (round, entry) in [entry, entry, quiet_entry, entry].into_iter().enumerate() {
        let start = thread_cpu();
        let trap = host.invoke(entry, None).unwrap_err();
        let took = thread_cpu() - start;
        assert_eq!(trap.kind, TrapKind::Deadline, "round {round}");
        assert!(took >= budget, "never early: {took:?}");
        // The contract is the budget plus 1 ms (`host_bench` measures the
        // spread); on a machine shared with other busy threads the clocks
        // are noisier, so the test asks for stopping on the order of the
        // budget (the fuel would last for years), not for the figure.
        assert!(took < budget + Duration::from_millis(50), "round {round}: {took:?}");
    }
    assert_eq!(host.counters(ext).unwrap().deadlines, 3);
    assert_eq!(host.counters(quiet).unwrap().deadlines, 1);
}

#[test]
fn a_guard_nested_in_an_invocation_obeys_the_invocations_deadline() {
    // A system guard that loops, with fuel for seconds, on the attribute an
    // application's monitor writes: the guard runs nested in the monitor's
    // `set_attribute`, in a frame of its own, and its refuel must stop it
    // when the monitor's deadline passes.
    let writer = "extension writer;\nimport cpu;\n\
                  monitor void m(cap<cpu_qos> app) { set_attribute(app, \"timeslice_adjustment\", 7); }\n";
    let budget = Duration::from_millis(5);
    let mut host = host_with_deadline(budget);
    let guard = host
        .install_guard(&object(SLOW_GUARD, true))
        .expect("the guard installs");
    let app = host.create_app("a").unwrap();
    let ext = host.load(app, &object(writer, false)).unwrap();
    let monitor = host.entry(ext, "m").unwrap();
    for round in 0..3 {
        let start = thread_cpu();
        // The guard's trap refuses the write; the monitor, which has no
        // fuel check left after it, returns.
        assert_eq!(host.invoke(monitor, None), Ok(Some(0)), "round {round}");
        let took = thread_cpu() - start;
        assert!(took >= budget, "never early: {took:?}");
        // As in the test above: the order of the budget, not the figure
        // (the guard's fuel alone would last seconds).
        assert!(took < budget + Duration::from_millis(50), "round {round}: {took:?}");
        let changes = host.take_changes();
        assert_eq!(changes.len(), 1, "{changes:?}");
        let WriteOutcome::GuardTrapped(trap) = &changes[0].outcome else {
            panic!("round {round}: {changes:?}");
        };
        assert_eq!(trap.kind, TrapKind::Deadline, "round {round}");
        assert_eq!(trap.site.as_ref().unwrap().function, "slow");
        assert_eq!(host.attribute(app, "timeslice_adjustment").unwrap(), 0, "not written");
    }
    assert_eq!(host.counters(guard).unwrap().deadlines, 3);
    let c = host.counters(ext).unwrap();
    assert_eq!((c.invocations, c.aborts), (3, 0));
}

#[test]
fn after_a_guard_meets_the_deadline_the_invocation_stops_at_its_next_check() {
    // A monitor that writes the guarded attribute in a loop: the first
    // guard runs into the deadline; the monitor must then stop at its next
    // fuel check, not run on through its slice starting a guard per write.
    let writer = "extension writer;\nimport cpu;\nbudget 5000000000;\n\
                  monitor void m(cap<cpu_qos> app) {\n\
                      while (true) { set_attribute(app, \"timeslice_adjustment\", 7); }\n}\n";
    let budget = Duration::from_millis(5);
    let mut host = host_with_deadline(budget);
    host.install_guard(&object(SLOW_GUARD, true))
        .expect("the guard installs");
    let app = host.create_app("a").unwrap();
    let ext = host.load(app, &object(writer, false)).unwrap();
    let monitor = host.entry(ext, "m").unwrap();
    let trap = host.invoke(monitor, None).unwrap_err();
    assert_eq!(trap.kind, TrapKind::Deadline);
    let changes = host.take_changes();
    // The loop's next fuel check comes at most one more write later (which
    // starts a guard that stops at once); without the drain, the monitor
    // would write on for the rest of its 32,768-unit slice.
    assert!(
        (1..=2).contains(&changes.len()),
        "{} guards ran: {changes:?}",
        changes.len()
    );
    for change in &changes {
        assert!(matches!(&change.outcome, WriteOutcome::GuardTrapped(t) if t.kind == TrapKind::Deadline));
    }
}

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid clock id and out-parameter.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[test]
fn a_short_invocation_is_never_drained_by_a_stale_deadline() {
    // Many short invocations back to back with a tight deadline: none may
    // end in a deadline trap meant for another.
    let mut host = host_with(HostConfig {
        deadline: Some(Duration::from_micros(200)),
        ..HostConfig::default()
    });
    let app = host.create_app("a").unwrap();
    let ext = host.load(app, &object(PID, false)).unwrap();
    host.write_attribute(app, "target_cpu", 1).unwrap();
    let monitor = host.entry(ext, "cpu_monitor").unwrap();
    for _ in 0..200_000 {
        host.invoke(monitor, None).expect("a short invocation returns");
    }
}

#[test]
fn repeated_aborts_quarantine_an_extension() {
    let mut host = host_with(HostConfig {
        quarantine_after: 3,
        ..HostConfig::default()
    });
    let app = host.create_app("a").unwrap();
    let ext = host.load(app, &object(&trapping("int x = t / zero;"), false)).unwrap();
    let reports: Vec<TickReport> = (0..5).map(|_| tick(&mut host)).collect();
    let traps: Vec<bool> = reports.iter().map(|r| !r.traps.is_empty()).collect();
    assert_eq!(traps, [true, true, true, false, false]);
    assert!(reports[2].traps[0].quarantined);
    assert!(host.quarantined(ext));
    let entry = host.entry(ext, "m").unwrap();
    assert_eq!(host.invoke(entry, None).unwrap_err().kind, TrapKind::Quarantined);
    assert_eq!(host.counters(ext).unwrap().invocations, 3);
    host.release(ext);
    assert!(matches!(
        host.invoke(entry, None).unwrap_err().kind,
        TrapKind::Exception(_)
    ));
}

#[test]
fn unloading_frees_the_slot_and_stales_the_handle() {
    let mut host = host();
    let app = host.create_app("a").unwrap();
    let obj = object(PID, false);
    let first = host.load(app, &obj).unwrap();
    let entry = host.entry(first, "cpu_monitor").unwrap();
    assert!(host.unload(first));
    assert!(!host.unload(first));
    let second = host.load(app, &obj).unwrap();
    assert_ne!(first, second);
    assert_eq!(host.invoke(entry, None).unwrap_err().kind, TrapKind::NotLoaded);
    assert_eq!(host.extensions(app), [second]);
}

#[test]
fn a_full_event_channel_drops_and_counts() {
    let chatty = r#"
        extension chatty;
        import cpu;
        monitor void m(cap<cpu_qos> app) {
            for (int i = 0; i < 10; i++) { raise_event("Error", i); }
        }
    "#;
    let mut host = host_with(HostConfig {
        event_queue: 4,
        ..HostConfig::default()
    });
    let app = host.create_app("a").unwrap();
    host.load(app, &object(chatty, false)).unwrap();
    let report = tick(&mut host);
    assert_eq!(
        report.deliveries.iter().map(|d| d.value).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert_eq!(host.dropped_events(app), 6);
}

#[test]
fn a_budget_above_the_hosts_limit_is_refused() {
    let mut host = host_with(HostConfig {
        max_fuel: 1_000,
        ..HostConfig::default()
    });
    let app = host.create_app("a").unwrap();
    let err = host.load(app, &object(SPIN, false)).unwrap_err();
    assert_eq!(err.code, "L0102", "{err}");
}

#[test]
fn now_us_reads_the_hosts_clock_and_handlers_chain_events_in_one_tick() {
    // The monitor raises `Error` with the time; the handler writes it and
    // raises `Error` again with 0, which the next handler run ignores.
    let source = r#"
        extension clock;
        import cpu;
        monitor void m(cap<cpu_qos> app) { raise_event("Error", now_us()); }
        handler void h(cap<cpu_qos> app, int t) on "Error" {
            if (t > 0) {
                set_attribute(app, "timeslice_adjustment", t);
                raise_event("Error", 0);
            }
        }
    "#;
    let mut host = host();
    let app = host.create_app("a").unwrap();
    host.load(app, &object(source, false)).unwrap();
    host.set_clock_us(123_456);
    let report = tick(&mut host);
    assert_eq!(host.attribute(app, "timeslice_adjustment").unwrap(), 123_456);
    assert_eq!(
        report.deliveries.iter().map(|d| d.value).collect::<Vec<_>>(),
        [123_456, 0],
        "both events delivered in the tick, in order"
    );
    assert_eq!(report.handlers_run, 2);
}

#[test]
fn a_capability_read_back_before_it_was_stored_raises_null_capability() {
    // The fifth exception kind: a capability global that was never set.
    let source = "extension nulls;\nimport cpu;\ncap<cpu_qos> saved;\n\
                  monitor void m(cap<cpu_qos> app) {\n    int t = get_attribute(saved, \"target_cpu\");\n}\n";
    let mut host = host();
    let app = host.create_app("a").unwrap();
    let ext = host.load(app, &object(source, false)).unwrap();
    let trap = host.invoke(host.entry(ext, "m").unwrap(), None).unwrap_err();
    assert_eq!(trap.kind, TrapKind::Exception(ExcKind::NullCapability));
    let span = trap.site.unwrap().span.unwrap();
    assert_eq!(source[..span.lo as usize].lines().count(), 5, "on the reading line");
}
