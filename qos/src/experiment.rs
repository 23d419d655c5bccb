//! One run of the paper's experiment: real-time processes with CPU targets
//! on one simulated CPU, the MMPP disturbance, and a CPU service manager
//! running the real compiled extensions — the paper's PID
//! (`examples/obj/cpu_pid.o`) and the standard timeslice guard — in the
//! user-space host (`runtime`), as kernel-level or as user-level management.
//!
//! The model:
//!
//! - Each process is a CPU hog (a hardloop; an encoder that always has a
//!   frame to encode) with a target CPU time per period and the paper's
//!   initial real-time priority, `80 × target / period`, under the run's
//!   policy. The disturbance is a hog at priority 96 during its bursts.
//! - Every process, the disturbance included, is an application of the
//!   service manager with its own `cpu_qos` attributes and its own
//!   instance of the PID extension; the disturbance's target is what the
//!   processes leave of 95 % of the CPU (`Setup::spare`; Linux gives
//!   real-time and deadline tasks 95 %). Its timeslice per period
//!   starts at its target. Once per period of each process — at the first
//!   service round after its period ends — its monitor sees `actual_cpu`,
//!   the CPU time it received in that period, and `avg_util_2p`, per mille
//!   over the last two; the handler's write of `timeslice_adjustment` goes
//!   through the guard, whose result is the new timeslice, or which blocks
//!   a process over its target for the rest of its period.
//! - **Kernel-level**: the round runs every 10 ms in the timer path,
//!   whatever runs, its cost charged to the CPU; the timeslice is a
//!   SCHED_DEADLINE reservation (runtime = timeslice per period), the knob
//!   the loader module's in-kernel manager (`kmod/`) turns: the scheduler
//!   enforces it exactly and runs reserved tasks earliest deadline first,
//!   before every real-time priority.
//! - **User-level**: the round runs in a manager process at priority 96
//!   that wakes every 10 ms and must be scheduled; it pays for reading each
//!   process's `/proc/PID/stat`, two context switches and the extensions,
//!   sees a period end only when it runs, and enforces timeslices with
//!   SIGSTOP (a process over its timeslice, or blocked) and SIGCONT (at its
//!   next period), each signal paid. Under SCHED_FIFO a disturbance burst,
//!   at the same priority and holding the CPU, starves it for the whole
//!   burst — and, unstopped, starves the processes.
//! - A **service violation** is a period in which a process received less
//!   than its target.

use crate::costs::Carry;
pub use crate::costs::Costs;
use crate::mmpp::Mmpp;
use crate::random::Random;
use crate::sched::{Behavior, Budget, Config, Policy, Sim, Stop, TaskId, TaskSpec, Us};
use runtime::{AppId, Host, HostConfig, WriteOutcome};

/// The paper's PID extension, compiled (`examples/pop/cpu_pid.pop`).
const PID: &[u8] = include_bytes!("../../examples/obj/cpu_pid.o");

/// A host with the standard system and no deadline.
pub(crate) fn unwatched_host() -> Result<Host, String> {
    runtime::system::host(
        HostConfig {
            deadline: None,
            ..HostConfig::default()
        },
        true,
    )
}

/// An application of `host` for a task with this target per period,
/// running the PID extension: what every kind of run manages.
pub(crate) fn pid_app(host: &mut Host, name: &str, target: Us, period: Us) -> Result<AppId, String> {
    let app = host.create_app(name).map_err(|e| e.to_string())?;
    for (attr, value) in [
        ("period", period),
        ("target_cpu", target),
        ("target_util", target * 1000 / period.max(1)),
    ] {
        host.write_attribute(app, attr, value as i64)
            .map_err(|e| e.to_string())?;
    }
    host.load(app, PID).map_err(|e| format!("Host::load: {e}"))?;
    Ok(app)
}

/// The service round's period: the paper monitors every 10 ms.
pub const ROUND: Us = 10_000;

/// A process of a setup: its CPU target per period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    pub name: String,
    pub target: Us,
    pub period: Us,
}

impl Process {
    fn new(name: &str, target_ms: Us, period_ms: Us) -> Process {
        Process {
            name: name.into(),
            target: target_ms * 1000,
            period: period_ms * 1000,
        }
    }

    /// The paper's initial real-time priority: `80 × target / period`.
    pub fn priority(&self) -> u8 {
        (80 * self.target / self.period.max(1)).clamp(1, 95) as u8
    }
}

/// The paper's two setups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// Three MPEG encoders: 20 ms per 100 ms, 30/100, 80/200.
    A,
    /// Three hardloops: 40 ms per 400 ms, 100/500, 60/200.
    B,
}

impl Setup {
    /// What the processes' targets leave of `period`, µs, of the 95 % a
    /// Linux kernel lets real-time and deadline tasks have
    /// (`sched_rt_runtime_us`): the share the disturbance is promised.
    pub fn spare(self, period: Us) -> Us {
        let used: Us = self.processes().iter().map(|p| period * p.target / p.period).sum();
        (period * 95 / 100).saturating_sub(used)
    }

    pub fn processes(self) -> Vec<Process> {
        match self {
            Setup::A => vec![
                Process::new("P1", 20, 100),
                Process::new("P2", 30, 100),
                Process::new("P3", 80, 200),
            ],
            Setup::B => vec![
                Process::new("P1", 40, 400),
                Process::new("P2", 100, 500),
                Process::new("P3", 60, 200),
            ],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Management {
    Kernel,
    User,
}

#[derive(Clone, Debug)]
pub struct RunConfig {
    pub setup: Setup,
    pub policy: Policy,
    pub management: Management,
    /// Length of the run, µs.
    pub length: Us,
    pub seed: u64,
    /// SCHED_RR's quantum.
    pub quantum: Us,
    pub costs: Costs,
    pub mmpp: Mmpp,
    /// The disturbance's target and period, µs.
    pub disturbance: (Us, Us),
}

impl RunConfig {
    /// A 120 s run with the paper's costs; the disturbance is promised,
    /// in every 100 ms, what the setup's processes leave of it.
    pub fn new(setup: Setup, policy: Policy, management: Management) -> RunConfig {
        RunConfig {
            setup,
            policy,
            management,
            length: 120_000_000,
            seed: 1,
            quantum: Config::default().quantum,
            costs: Costs::PAPER,
            mmpp: Mmpp::default(),
            disturbance: (setup.spare(100_000), 100_000),
        }
    }
}

/// How one process fared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessResult {
    pub process: Process,
    /// Complete periods, and those with less than the target.
    pub periods: u64,
    pub violations: u64,
    /// Per second of the run, the CPU it received, per mille.
    pub utilization: Vec<u32>,
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunResult {
    pub processes: Vec<ProcessResult>,
    /// The disturbance's utilization per second, per mille, and its bursts.
    pub disturbance: Vec<u32>,
    pub bursts: Vec<(Us, Us)>,
    /// Service rounds run, and the longest time between two.
    pub rounds: u64,
    pub longest_gap: Us,
    /// Service rounds that ran during a burst.
    pub rounds_in_bursts: u64,
    /// Invocations of the extensions (the host's counters).
    pub invocations: u64,
    /// Kernel-level: new reservations the scheduler's admission control
    /// refused (the task kept its old one).
    pub reservations_refused: u64,
}

impl RunResult {
    pub fn violations(&self) -> u64 {
        self.processes.iter().map(|p| p.violations).sum()
    }
}

/// A managed task: a process or the disturbance.
struct Managed {
    task: TaskId,
    app: AppId,
    target: Us,
    period: Us,
    /// The current period's start, and the task's runtime then (exact: the
    /// driver stops at every period boundary).
    start: Us,
    runtime_at_start: Us,
    /// CPU time received in the last two complete periods (newest first).
    last: [Us; 2],
    /// A period ended since the last round.
    due: bool,
    timeslice: Us,
    /// User-level: the period the manager last saw begin (its start, and
    /// the task's runtime at the manager's first read in it), and whether
    /// it stopped the task.
    seen_start: Us,
    seen_runtime: Us,
    stopped: bool,
}

/// Runs one configuration.
pub fn run(cfg: &RunConfig) -> Result<RunResult, String> {
    // Simulated time: the host's own deadline would measure real time.
    let mut host = unwatched_host()?;
    let mut sim = Sim::new(Config { quantum: cfg.quantum });
    let bursts = cfg.mmpp.bursts(&mut Random::new(cfg.seed), cfg.length);
    let processes = cfg.setup.processes();
    let mut managed = Vec::new();
    let mut specs: Vec<(String, Us, Us, u8, Behavior)> = processes
        .iter()
        .map(|p| (p.name.clone(), p.target, p.period, p.priority(), Behavior::Hog))
        .collect();
    specs.push((
        "disturbance".into(),
        cfg.disturbance.0,
        cfg.disturbance.1,
        96,
        Behavior::Bursts(bursts.clone()),
    ));
    for (name, target, period, priority, behavior) in specs {
        let task = sim.add(TaskSpec {
            name: name.clone(),
            policy: cfg.policy,
            priority,
            behavior,
            notify: false,
        });
        let app = pid_app(&mut host, &name, target, period)?;
        managed.push(Managed {
            task,
            app,
            target,
            period,
            start: 0,
            runtime_at_start: 0,
            last: [target; 2],
            due: false,
            timeslice: target,
            seen_start: 0,
            seen_runtime: 0,
            stopped: false,
        });
    }
    let manager = (cfg.management == Management::User).then(|| {
        let n = managed.len() as u64;
        let c = cfg.costs;
        let work = (2 * c.context_switch + n * (c.proc_read + c.user_per_app)).div_ceil(1000);
        sim.add(TaskSpec {
            name: "manager".into(),
            policy: cfg.policy,
            priority: 96,
            behavior: Behavior::Periodic {
                period: ROUND,
                work: work.max(1),
                phase: 0,
            },
            notify: true,
        })
    });
    if cfg.management == Management::Kernel {
        for m in &managed {
            if !sim.set_budget(m.task, Some(budget(m))) {
                return Err("the targets exceed what Linux admits as deadline reservations (95 %)".into());
            }
        }
    }

    let seconds = cfg.length.div_ceil(1_000_000) as usize;
    let mut per_second = vec![vec![0u32; seconds]; managed.len()];
    let mut last_second_runtime = vec![0; managed.len()];
    let mut violations = vec![0u64; processes.len()];
    let mut periods = vec![0u64; processes.len()];
    let (mut rounds, mut last_round, mut longest_gap, mut rounds_in_bursts) = (0u64, 0, 0, 0u64);
    let mut next_tick = ROUND;
    let mut carry = Carry::default();
    let mut refused = 0;
    let mut next_second = 1_000_000;
    while sim.now() < cfg.length {
        let boundary = managed.iter().map(|m| m.start + m.period).min().unwrap_or(Us::MAX);
        let until = next_tick.min(next_second).min(boundary).min(cfg.length);
        let stop = sim.advance(until);
        let now = sim.now();
        // Period boundaries: exact accounting, and violations.
        for (i, m) in managed.iter_mut().enumerate() {
            while now >= m.start + m.period {
                let received = sim.runtime(m.task) - m.runtime_at_start;
                if i < processes.len() {
                    periods[i] += 1;
                    violations[i] += u64::from(received < m.target);
                }
                m.start += m.period;
                m.runtime_at_start = sim.runtime(m.task);
                // The kernel sees the period end as it happens.
                if cfg.management == Management::Kernel {
                    m.last = [received, m.last[0]];
                    m.due = true;
                }
            }
        }
        if now >= next_second {
            let s = (next_second / 1_000_000 - 1) as usize;
            for (i, m) in managed.iter().enumerate() {
                let r = sim.runtime(m.task);
                per_second[i][s] = ((r - last_second_runtime[i]) / 1_000) as u32;
                last_second_runtime[i] = r;
            }
            next_second += 1_000_000;
        }
        let round = match (cfg.management, stop) {
            (Management::Kernel, _) if now >= next_tick => {
                next_tick += ROUND;
                let due = managed.iter().filter(|m| m.due).count() as u64;
                sim.kernel(carry.charge(cfg.costs.kernel_per_app * due));
                true
            }
            (Management::User, Stop::JobDone(t)) if Some(t) == manager => true,
            _ => {
                if now >= next_tick {
                    next_tick += ROUND;
                }
                false
            }
        };
        if !round {
            continue;
        }
        rounds += 1;
        longest_gap = longest_gap.max(now - last_round);
        last_round = now;
        rounds_in_bursts += u64::from(bursts.iter().any(|&(s, e)| s <= now && now < e));
        service_round(
            cfg,
            &mut host,
            &mut sim,
            &mut managed,
            manager,
            &mut carry,
            &mut refused,
        )?;
    }
    let invocations = managed
        .iter()
        .flat_map(|m| host.extensions(m.app).to_vec())
        .filter_map(|e| host.counters(e).map(|c| c.invocations))
        .sum();
    let disturbance = per_second.pop().unwrap_or_default();
    Ok(RunResult {
        processes: processes
            .into_iter()
            .zip(per_second)
            .enumerate()
            .map(|(i, (process, utilization))| ProcessResult {
                process,
                periods: periods[i],
                violations: violations[i],
                utilization,
            })
            .collect(),
        disturbance,
        bursts,
        rounds,
        longest_gap,
        rounds_in_bursts,
        invocations,
        reservations_refused: refused,
    })
}

/// The kernel-level reservation of a managed task: its timeslice per
/// period, within the bounds the loader module's manager keeps (at least
/// 100 µs, at most 85 % of the period: `kmod/safex_manager.c`).
fn budget(m: &Managed) -> Budget {
    Budget {
        period: m.period,
        phase: 0,
        runtime: m.timeslice.min(m.period * 85 / 100).max(100),
        deadline: true,
    }
}

/// One service round: fresh measurements of the tasks whose period ended,
/// their monitors, the handlers on their events (through the guard), and
/// the guarded timeslices applied — by the scheduler's budget (kernel) or
/// by signals from the manager process (user).
fn service_round(
    cfg: &RunConfig,
    host: &mut Host,
    sim: &mut Sim,
    managed: &mut [Managed],
    manager: Option<TaskId>,
    carry: &mut Carry,
    refused: &mut u64,
) -> Result<(), String> {
    let now = sim.now();
    let user = cfg.management == Management::User;
    let mut signals = 0;
    for m in managed.iter_mut() {
        if user && now >= m.seen_start + m.period {
            // The manager sees a period end only when it runs, and measures
            // from its own reads of `/proc`: what the task received since
            // its first read in the previous period, scaled to a period.
            let runtime = sim.runtime(m.task);
            let elapsed = (now - m.seen_start).max(1);
            m.last = [(runtime - m.seen_runtime) * m.period / elapsed, m.last[0]];
            m.seen_start = now / m.period * m.period;
            m.seen_runtime = runtime;
            m.due = true;
            if m.stopped {
                sim.cont(m.task);
                m.stopped = false;
                signals += 1;
            }
        }
        if m.due {
            let util = (m.last[0] + m.last[1]) * 1000 / (2 * m.period.max(1));
            host.write_attribute(m.app, "actual_cpu", m.last[0] as i64)
                .and_then(|()| host.write_attribute(m.app, "avg_util_2p", util as i64))
                .map_err(|e| e.to_string())?;
        }
    }
    let due: Vec<AppId> = managed.iter().filter(|m| m.due).map(|m| m.app).collect();
    let mut report = runtime::manager::TickReport::default();
    host.tick_with(&mut report, |app| due.contains(&app));
    for m in managed.iter_mut() {
        m.due = false;
    }
    for change in report.changes {
        let Some(m) = managed.iter_mut().find(|m| m.app == change.app) else {
            continue;
        };

        match change.outcome {
            WriteOutcome::Written { applied: Some(v) } => {
                m.timeslice = v.max(0) as Us;
                if !user && !sim.set_budget(m.task, Some(budget(m))) {
                    *refused += 1;
                }
            }
            WriteOutcome::Blocked => {
                host.unblock(change.app);
                if user {
                    if !m.stopped {
                        sim.stop(m.task);
                        m.stopped = true;
                        signals += 1;
                    }
                } else {
                    sim.throttle(m.task, m.start + m.period);
                }
            }
            _ => {}
        }
    }
    if let Some(manager) = manager {
        // A task that has had its timeslice this period is stopped until the next.
        for m in managed.iter_mut() {
            if !m.stopped && sim.runtime(m.task) - m.seen_runtime >= m.timeslice {
                sim.stop(m.task);
                m.stopped = true;
                signals += 1;
            }
        }
        sim.charge(manager, carry.charge(signals * cfg.costs.signal));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(setup: Setup, policy: Policy, management: Management) -> RunResult {
        let cfg = RunConfig {
            length: 60_000_000,
            ..RunConfig::new(setup, policy, management)
        };
        run(&cfg).unwrap()
    }

    #[test]
    fn a_seed_gives_the_same_run_and_another_seed_another() {
        let cfg = RunConfig {
            length: 30_000_000,
            ..RunConfig::new(Setup::A, Policy::Rr, Management::User)
        };
        let a = run(&cfg).unwrap();
        assert_eq!(a, run(&cfg).unwrap());
        let other = run(&RunConfig { seed: 2, ..cfg }).unwrap();
        assert_ne!(a.bursts, other.bursts);
    }

    #[test]
    fn the_paper_priorities() {
        let p: Vec<u8> = Setup::B.processes().iter().map(Process::priority).collect();
        assert_eq!(p, [8, 16, 24]);
        let p: Vec<u8> = Setup::A.processes().iter().map(Process::priority).collect();
        assert_eq!(p, [16, 24, 32]);
    }

    #[test]
    fn under_fifo_kernel_level_management_has_fewer_violations_and_the_user_level_manager_starves() {
        let kernel = short(Setup::B, Policy::Fifo, Management::Kernel);
        let user = short(Setup::B, Policy::Fifo, Management::User);
        assert!(!kernel.bursts.is_empty());
        eprintln!(
            "kernel {} violations, user {}; rounds {} / {}, in bursts {} / {}, longest gap {} / {} us",
            kernel.violations(),
            user.violations(),
            kernel.rounds,
            user.rounds,
            kernel.rounds_in_bursts,
            user.rounds_in_bursts,
            kernel.longest_gap,
            user.longest_gap
        );
        assert!(kernel.violations() < user.violations());
        // At most the round a burst found running finishes in it.
        assert!(
            user.rounds_in_bursts <= user.bursts.len() as u64,
            "the user-level manager runs in bursts"
        );
        assert!(kernel.rounds_in_bursts > 100, "the kernel's rounds go on");
        assert!(
            user.longest_gap >= 100 * ROUND,
            "starved for a second at least: {} us",
            user.longest_gap
        );
        assert_eq!(kernel.longest_gap, ROUND);
        // The extensions really ran: every application's monitor once a
        // period and its handler on the event, at least.
        let periods: u64 = kernel.processes.iter().map(|p| p.periods).sum();
        assert!(kernel.invocations >= 2 * periods && user.invocations > 0);
    }
}
