//! Real mode on this machine's scheduler. Skipped, with the reason
//! printed, where real-time scheduling is not permitted (most CI machines
//! and containers).

use qos::experiment::{self, Management, RunConfig, RunResult, Setup};
use qos::random::Random;
use qos::real::{self, RealError, RealRun};
use qos::sched::{Policy, Us};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Each run's length: two runs, 10 s of the test CPU in all.
const LENGTH: Us = 5_000_000;

/// Held by a test that runs real mode, so that one test's check for
/// children left over sees none of another's.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// No child of this process is left, running or not.
fn no_child_left() {
    // SAFETY: waitpid with WNOHANG and no status only asks.
    let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
    assert_eq!(r, -1, "a child is left");
    assert_eq!(std::io::Error::last_os_error().raw_os_error(), Some(libc::ECHILD));
}

/// The CPUs this thread may use, as the kernel lists them.
fn cpus_allowed() -> String {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Cpus_allowed_list:"));
    line.unwrap_or_default().to_string()
}

/// A seed whose bursts (the paper's disturbance) are exactly one, of at
/// least 1.5 s, at least 1 s from either end of the run.
fn seed_with_one_burst(cfg: &RunConfig) -> (u64, (Us, Us)) {
    (1..100_000)
        .find_map(|seed| match cfg.mmpp.bursts(&mut Random::new(seed), LENGTH)[..] {
            [(start, end)] if start >= 1_000_000 && end - start >= 1_500_000 && end + 1_000_000 <= LENGTH => {
                Some((seed, (start, end)))
            }
            _ => None,
        })
        .expect("some seed gives one burst")
}

#[test]
fn a_configuration_it_cannot_run_is_refused_before_anything_starts() {
    let base = RunConfig::new(Setup::B, Policy::Fifo, Management::Kernel);
    for cfg in [
        RunConfig {
            length: 0,
            ..base.clone()
        },
        RunConfig {
            disturbance: (10, 0),
            ..base.clone()
        },
        RunConfig {
            disturbance: (20, 10),
            ..base
        },
    ] {
        let err = real::run_real(&cfg, None, |_| {}).unwrap_err();
        assert!(matches!(err, RealError::Config(_)), "{err}");
    }
}

#[test]
fn setup_b_under_fifo_the_user_level_manager_starves_in_a_burst_and_the_kernel_level_stand_in_does_not() {
    let _serial = serial();
    if let Err(why) = real::permitted(None) {
        eprintln!("skipped: {why}");
        return;
    }
    let cpus = cpus_allowed();
    let base = RunConfig {
        length: LENGTH,
        ..RunConfig::new(Setup::B, Policy::Fifo, Management::Kernel)
    };
    let (seed, burst) = seed_with_one_burst(&base);
    let run = |management| {
        let cfg = RunConfig {
            seed,
            management,
            ..base.clone()
        };
        let mut seconds = Vec::new();
        let run = real::run_real(&cfg, None, |elapsed| seconds.push(elapsed)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(seconds.last(), Some(&LENGTH), "progress to the end");
        run
    };
    let kernel = run(Management::Kernel);
    let user = run(Management::User);
    for (name, r) in [("kernel", &kernel), ("user", &user)] {
        report(name, r);
        let result = &r.result;
        assert_eq!(result.bursts, [burst]);
        for p in &result.processes {
            let expected = LENGTH / p.process.period;
            assert!(
                p.periods.abs_diff(expected) <= 1,
                "{name}: {} counted {} periods of {expected}",
                p.process.name,
                p.periods
            );
        }
        assert!(result.invocations > 0, "{name}: the extensions ran");
        for s in 0..(LENGTH / 1_000_000) as usize {
            let sum: u32 = result.processes.iter().map(|p| p.utilization[s]).sum::<u32>() + result.disturbance[s];
            assert!(sum <= 1000, "{name}: second {s} sums to {sum} ‰");
        }
    }
    // Under SCHED_FIFO the burst, at the user-level manager's priority,
    // starves it: at most the round the burst found running.
    assert!(
        user.result.rounds_in_bursts <= 1,
        "{} user-level rounds in the burst",
        user.result.rounds_in_bursts
    );
    assert!(
        user.result.longest_gap >= (burst.1 - burst.0) / 2,
        "the user-level manager waited {} µs at most",
        user.result.longest_gap
    );
    // The kernel-level stand-in kept its rounds.
    assert!(kernel.result.rounds_in_bursts > 0);
    assert!(
        kernel.result.longest_gap < 200_000 && kernel.result.longest_gap < user.result.longest_gap,
        "the kernel-level stand-in waited {} µs",
        kernel.result.longest_gap
    );
    no_child_left();
    assert_eq!(cpus_allowed(), cpus, "the caller's CPUs restored");
}

#[test]
fn a_run_the_caller_panics_in_cleans_up_after_itself() {
    let _serial = serial();
    if let Err(why) = real::permitted(None) {
        eprintln!("skipped: {why}");
        return;
    }
    let cpus = cpus_allowed();
    let cfg = RunConfig {
        length: 3_000_000,
        ..RunConfig::new(Setup::B, Policy::Fifo, Management::User)
    };
    let run = std::panic::catch_unwind(|| real::run_real(&cfg, None, |_| panic!("the caller's progress panics")));
    assert!(run.is_err());
    no_child_left();
    assert_eq!(cpus_allowed(), cpus, "the caller's CPUs restored");
}

/// The paper's length, setup B under SCHED_FIFO, kernel- and user-level,
/// on this machine and in the simulation with the same seed:
/// `cargo test --release -p qos --test real -- --ignored --nocapture`
/// (four minutes).
#[test]
#[ignore = "four minutes of real time"]
fn the_paper_length_on_this_machine_against_the_simulation() {
    let _serial = serial();
    if let Err(why) = real::permitted(None) {
        eprintln!("skipped: {why}");
        return;
    }
    let mut violations = Vec::new();
    for management in [Management::Kernel, Management::User] {
        let cfg = RunConfig::new(Setup::B, Policy::Fifo, management);
        let real = real::run_real(&cfg, None, |_| {}).unwrap_or_else(|e| panic!("{e}"));
        let simulated = experiment::run(&cfg).unwrap();
        let name = format!("{management:?}");
        report(&format!("{name}, real"), &real);
        eprintln!(
            "{name}, simulated: {} violations ({}), refused {}, rounds {}, in bursts {}, longest gap {} µs, invocations {}",
            simulated.violations(),
            per_process(&simulated),
            simulated.reservations_refused,
            simulated.rounds,
            simulated.rounds_in_bursts,
            simulated.longest_gap,
            simulated.invocations
        );
        violations.push(real.result.violations());
    }
    assert!(violations[0] < violations[1], "kernel-level {violations:?} user-level");
}

fn per_process(result: &RunResult) -> String {
    result
        .processes
        .iter()
        .map(|p| format!("{} {}/{}", p.process.name, p.violations, p.periods))
        .collect::<Vec<_>>()
        .join(", ")
}

fn report(name: &str, r: &RealRun) {
    let result = &r.result;
    eprintln!(
        "{name}: {} violations ({}; short at all {:?}), refused {}, rounds {}, in bursts {}, longest gap {} µs, invocations {}, sample lateness {} µs, CPU {}",
        result.violations(),
        per_process(result),
        r.short_periods,
        result.reservations_refused,
        result.rounds,
        result.rounds_in_bursts,
        result.longest_gap,
        result.invocations,
        r.lateness,
        r.test_cpu
    );
    // Second by second for a short run.
    for (s, d) in result.disturbance.iter().enumerate().take(10) {
        let p: Vec<u32> = result.processes.iter().map(|p| p.utilization[s]).collect();
        eprintln!("  second {s}: processes {p:?} ‰, disturbance {d} ‰");
    }
}
