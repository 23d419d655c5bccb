//! Real mode: the experiment of [`crate::experiment`] on this machine's
//! Linux scheduler instead of the simulation — real processes at real
//! priorities, a real disturbance, real signals, the real compiled PID
//! extension and timeslice guard in a [`runtime::Host`] — producing the
//! same [`RunResult`], so the table, CSV files and figures work unchanged.
//!
//! # The model
//!
//! - **Two CPUs.** The *test CPU* is the last CPU this process may use
//!   (`sched_getaffinity`; normally the last online CPU): everything under
//!   test is pinned to it with `sched_setaffinity`. The *home CPU* is the
//!   first (normally CPU 0): the caller's thread (pinned there for the run,
//!   its affinity restored after) and the measurement thread run there, so
//!   that bookkeeping does not disturb the test CPU.
//! - **The processes** are real child processes that spin (hardloops),
//!   forked before any thread of the run exists. A child of a possibly
//!   multi-threaded parent may only make async-signal-safe calls, so a
//!   child only sets `PR_SET_PDEATHSIG(SIGKILL)` (it dies with the thread
//!   that forked it), reads the common start instant from a pipe, sleeps
//!   until it (`clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)`) and spins
//!   forever — no allocation, no locks, no panics. Their affinity and their
//!   policy (the run's, SCHED_FIFO or SCHED_RR) at the paper's priority
//!   ([`crate::experiment::Process::priority`]) are set by the parent with
//!   `sched_setaffinity(pid)` and `sched_setscheduler(pid)`, where a
//!   refusal can be reported.
//! - **The disturbance** is a child at priority 96 under the run's policy
//!   that follows the bursts the simulation draws
//!   (`cfg.mmpp.bursts(&mut Random::new(cfg.seed), cfg.length)`, built
//!   before the fork), in time relative to the start instant: it sleeps
//!   until a burst starts and spins, reading `CLOCK_MONOTONIC`, until it
//!   ends — in wall time, whether or not it gets the CPU, as the
//!   simulation's. The last burst is cut at the run's end, so that the run
//!   ends on time.
//! - **The user-level manager** is a thread of this process, which to the
//!   scheduler is a task of its own like a process (its own policy,
//!   priority and affinity; sharing the address space only spares it
//!   copying the host's state): SCHED_FIFO or SCHED_RR (the run's) at 96
//!   on the test CPU, waking every 10 ms on absolute deadlines from the
//!   start instant (the first at it, as the simulation's manager's first
//!   job); deadlines it missed are skipped. Each round reads every task's
//!   `/proc/PID/schedstat`, runs the host's round and enforces with real
//!   SIGSTOP and SIGCONT, with the period and measurement logic of the
//!   user-level branch of the simulation's service round. Under SCHED_FIFO
//!   the disturbance, at the same priority and holding the CPU, starves it
//!   for a whole burst, as the paper shows.
//! - **`/proc/PID/schedstat`, not `/proc/PID/stat`.** The paper's manager
//!   read `stat`, whose `utime + stime` count clock ticks (`USER_HZ`,
//!   10 ms): a manager rounding every 10 ms could not tell a task that got
//!   nothing from one that got 9.9 ms. `schedstat` is the same kind of
//!   read (open, read, parse a `/proc` text) of the same accounting, the
//!   scheduler's `sum_exec_runtime`, in nanoseconds; and it is exact here,
//!   because the manager runs on the test CPU, so the tasks it reads are
//!   not running. So the two kinds of management differ in where and when
//!   the manager runs, the variable the paper studies, and not in the
//!   resolution of their measurements.
//! - **The kernel-level stand-in** is the same host in a thread at
//!   SCHED_FIFO 97 (where the paper's kernel daemons run) on the test CPU,
//!   its rounds every 10 ms from the start instant (the first 10 ms in, as
//!   the simulation's timer path), reading CPU time from the kernel's own
//!   accounting through the process CPU-time clocks
//!   (`clock_getcpuclockid(pid)` and `clock_gettime`). It sees each period
//!   end at the round at its boundary (periods are whole rounds). It keeps
//!   the guarded timeslice as the simulation's scheduler keeps a
//!   reservation: within the loader module's bounds (100 µs to 85 % of the
//!   period); refused when all of them together would exceed the 95 %
//!   Linux admits for deadline tasks (the task keeps its old one; counted
//!   in `reservations_refused`); enforced by SIGSTOP when used up and
//!   SIGCONT at the task's next period; a guard's `block` stops the task
//!   for the rest of its period. Without the admission control the
//!   disturbance, whose PID winds up while it sleeps, takes 85 % of the
//!   CPU at the start of each burst, and the shortfall it leaves the
//!   processes can set the PID and the guard of the lowest-priority one
//!   swinging for good (grant, overrun, block: a third of its periods
//!   empty).
//! - **Enforcement at exhaustion, not at rounds.** Between rounds the
//!   stand-in also wakes when the task that is running would use up its
//!   timeslice, as a kernel's timer would, and stops it then (within some
//!   10–50 µs here). It tells the running task by whose CPU time grew
//!   since its last look, and after it stopped or continued a task, when
//!   it cannot know, looks again soon (`MIN_CHECK`, `IDLE_CHECK`).
//!   Checking only at the 10 ms rounds lets a task overrun by up to a
//!   round; the guard, which blocks a task whose last two periods average
//!   a per mille over its target, then stops it for a whole period, and
//!   the PID swings: enforcing at rounds, a 5 s run of setup B had 17
//!   violations with hardly any disturbance, all of them this artefact.
//! - The stand-in is **not in-kernel code**: it runs above everything
//!   under test and never waits for the disturbance, which is what
//!   kernel-level management buys, but it is a scheduled thread that
//!   enforces by signals, while the simulation's kernel-level management
//!   models the SCHED_DEADLINE reservations the loader module's in-kernel
//!   manager (`kmod/`; [`KernelModule`] runs it for real) sets, which run before every
//!   real-time priority and outside real-time throttling. Here the
//!   processes keep their priorities, below the disturbance's: in a burst
//!   what protects them is the disturbance being stopped at its own
//!   timeslice, and since their reservations and the disturbance's add up
//!   to 95 % while real-time throttling (below) keeps 5 % from all of
//!   them, the lowest-priority process can fall a few ms short in a burst.
//!   And fixed priorities are not earliest-deadline-first: in setup A, P3
//!   (80 ms in 200, the highest priority) takes the first 80 ms of its
//!   period, which leaves P1 and P2 (20 and 30 in 100) 20 ms in every other
//!   100 ms — half their periods are violations under the stand-in, none
//!   under the simulation's reservations.
//! - **Ground truth** is a measurement thread at SCHED_FIFO 98 on the home
//!   CPU, reading each task's CPU time in nanoseconds (its CPU-time clock:
//!   the kernel brings a running task's time up to date on the read, so it
//!   is exact for a task running on the test CPU) at every period boundary
//!   of every process and every second, on absolute deadlines. A period
//!   in which a process received less than its target by more than
//!   [`TOLERANCE`], even counting as its own all the time between the
//!   period's start and the sample taken then (a sample some 0.5 ms late
//!   at the start of a process that runs first in its period moves that
//!   much of it into the period before), is a violation
//!   ([`RealRun::short_periods`] counts those short at all); a second's
//!   utilization is the CPU time received over the time between its two
//!   samples, per mille. [`RealRun::lateness`] says how late the latest
//!   sample was.
//! - **Not applied**: `cfg.costs` (real costs are paid) and `cfg.quantum`
//!   (SCHED_RR's quantum is the kernel's, `sched_rr_timeslice_ms`;
//!   [`RealRun::rr_quantum`] reports it).
//! - **The machine stays alive**: Linux's real-time throttling
//!   (`/proc/sys/kernel/sched_rt_runtime_us`, 950 ms of every second by
//!   default) lets real-time tasks have at most that share of a CPU and
//!   keeps the rest for others, so hogs at real-time priorities pinned to
//!   one CPU cannot lock it up; it throttles the manager threads too (the
//!   stand-in's longest gap between rounds grows to some 30 ms in bursts),
//!   and it is why a second's utilizations can sum to less than 1000 ‰.
//! - **Cleanup** is a guard's: on success, error or panic, the run's
//!   threads are told to stop, every child gets SIGCONT then SIGKILL, the
//!   threads are joined, then the children are reaped with `waitpid`
//!   (only then, so that no thread can signal a recycled pid), and the
//!   caller's affinity is restored. No child is left, at a real-time
//!   priority or at all; should this process die instead, the children get
//!   SIGKILL from `PR_SET_PDEATHSIG`.
//!
//! With a [`KernelModule`] (`safexc experiment --real --kernel`) the
//! kernel-level side is the loader module's in-kernel service manager
//! instead of the stand-in, on a machine of one CPU: the guest of
//! `kmod/tests/qemu.sh` ([`kernel`]'s doc). Everything then shares that
//! CPU, and the measurement thread is a SCHED_DEADLINE task
//! ([`BOOKKEEPING_RUNTIME_NS`]), because the module's reservations run
//! before every real-time priority.
//!
//! [`permitted`] says why real mode cannot run here, by trying the system
//! calls it needs. The crate builds only on Linux (the host runs x86-64
//! code on Linux), so that is not a question at run time.

#![deny(clippy::undocumented_unsafe_blocks)]

mod kernel;
pub use kernel::KernelModule;

use crate::experiment::{Management, ProcessResult, ROUND, RunConfig, RunResult, pid_app};
use crate::random::Random;
use crate::sched::{DEADLINE_BANDWIDTH_PPM, Policy, Us};
use runtime::{AppId, Host, HostConfig, WriteOutcome};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::{self, JoinHandle};

/// The disturbance task's name.
const DISTURBANCE: &str = "disturbance";
/// The disturbance's priority, and the user-level manager's (the paper's).
const DISTURBANCE_PRIORITY: i32 = 96;
const USER_PRIORITY: i32 = 96;
/// The kernel-level stand-in's: where the paper's kernel daemons run.
const KERNEL_PRIORITY: i32 = 97;
/// The measurement thread's, on the home CPU: above everything of the run.
const MEASURE_PRIORITY: i32 = 98;

/// Nanoseconds in a microsecond and in a second.
const NS_PER_US: u64 = 1_000;
const NS_PER_S: u64 = 1_000_000_000;
/// How long after everything is ready the run starts: time for the
/// children and threads to receive the start instant and go to sleep; and
/// with the module, more than two of the measurement thread's periods, so
/// that neither its wake for the start instant (up to a period after its
/// reservation began) nor the start itself waits for a period's end (see
/// [`BOOKKEEPING_PERIOD_NS`]; with a lead of 100 ms the start waited up to
/// 80 ms).
const LEAD_NS: u64 = 300_000_000;
const _: () = assert!(LEAD_NS > 2 * BOOKKEEPING_PERIOD_NS + 20_000_000);
/// Between rounds, the kernel-level stand-in looks at a task that ran
/// since its last look when the task would use up its timeslice running
/// on, but not sooner than this, µs: each look costs the task some tens
/// of microseconds of CPU here (timer, two context switches, the reads),
/// so looking sooner could see it make no progress at all.
const MIN_CHECK: Us = 50;
/// A task that did not run since the last look is looked at again when
/// its timeslice would be used up, but not sooner than this, µs, so that
/// a task waiting with a sliver of timeslice left does not keep the
/// stand-in waking.
const IDLE_CHECK: Us = 1_000;
/// The longest a waiting thread goes without looking at the stop flag.
const POLL_NS: u64 = 50_000_000;
/// Every instant the measurement thread samples at is a multiple of this
/// after the start (every period of setups A and B is), and so is every
/// instant it looks at the stop flag.
const GRID_NS: u64 = 100_000_000;
/// A violation is a period in which a process received less than its
/// target by more than this, per mille of its period: the resolution in
/// which the guard and the figures account utilization. Real enforcement
/// and measurement jitter by microseconds, and the PID steers a task to
/// exactly its target, so without a tolerance about every other period of
/// a well-served task would fall a few microseconds short (the simulation,
/// exact to the microsecond, needs none).
pub const TOLERANCE: u64 = 1;
/// The longest run accepted: a day.
pub const MAX_LENGTH: Us = 24 * 3_600 * 1_000_000;

/// What a real run produced: the simulation's result, and what only a
/// real run has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealRun {
    pub result: RunResult,
    /// How late the measurement thread's latest sample was, µs after its
    /// deadline.
    pub lateness: Us,
    /// The most CPU time the measurement thread took at one instant, µs.
    pub busiest_sample: Us,
    /// Per process, the periods in which it received less than its target
    /// at all: the simulation's definition of a violation, which here
    /// counts the microseconds of jitter [`TOLERANCE`] leaves out.
    pub short_periods: Vec<u64>,
    /// The CPU everything under test ran on.
    pub test_cpu: usize,
    /// SCHED_RR's quantum on this machine, µs (`None` under SCHED_FIFO).
    pub rr_quantum: Option<Us>,
}

/// Why a real run failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RealError {
    /// This machine or process cannot run real mode ([`permitted`]'s reason).
    NotPermitted(String),
    /// The configuration cannot be run.
    Config(String),
    /// A system call failed: which, on what, and its errno.
    Sys { call: &'static str, on: String, errno: i32 },
    /// A `/proc` file did not read as expected.
    Proc { path: String, contents: String },
    /// The host refused the extensions or their attributes.
    Host(String),
    /// The loader module refused a command (`--kernel`).
    Module(String),
    /// A thread of the run panicked.
    Panicked(&'static str),
}

impl fmt::Display for RealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RealError::NotPermitted(why) => write!(f, "real mode cannot run here: {why}"),
            RealError::Config(why) => write!(f, "this run cannot be made real: {why}"),
            RealError::Sys { call, on, errno } => {
                let name = errno_name(*errno).unwrap_or("errno");
                write!(
                    f,
                    "{call} ({on}) failed: {name}, {}",
                    io::Error::from_raw_os_error(*errno)
                )?;
                match hint(call, *errno) {
                    "" => Ok(()),
                    hint => write!(f, ". {hint}"),
                }
            }
            RealError::Proc { path, contents } => write!(f, "{path} reads {contents:?}, not a count of nanoseconds"),
            RealError::Host(why) => write!(f, "the service manager's host: {why}"),
            RealError::Module(why) => write!(f, "the loader module: {why}"),
            RealError::Panicked(who) => write!(f, "the {who} panicked"),
        }
    }
}

impl std::error::Error for RealError {}

fn errno_name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EBUSY => "EBUSY",
        libc::EINVAL => "EINVAL",
        _ => return None,
    })
}

/// What to do about a failed system call.
fn hint(call: &str, errno: i32) -> &'static str {
    match (call, errno) {
        ("sched_setattr", libc::EPERM) => {
            "SCHED_DEADLINE was refused: run as root, in a machine with one CPU (a deadline task must be allowed on \
             every CPU of its root domain)"
        }
        ("sched_setattr", libc::EBUSY) => {
            "Linux's admission control for deadline tasks has no room left (sched_rt_runtime_us, or other deadline \
             tasks)"
        }
        ("sched_setscheduler", libc::EPERM) => {
            "Real-time scheduling was refused: run as root (or with CAP_SYS_NICE, or an RLIMIT_RTPRIO of 98). \
             Containers usually have no SCHED_FIFO: give the container CAP_SYS_NICE and, with real-time group \
             scheduling, real-time runtime for its cgroup (cpu.rt_runtime_us), or use the simulation"
        }
        ("sched_setaffinity", libc::EINVAL) => "That CPU is not among those this process may use (its cpuset)",
        ("sched_setaffinity", libc::EPERM) => "Run as root (or with CAP_SYS_NICE)",
        ("fork", libc::EAGAIN) => "Too many processes: raise `ulimit -u` or the cgroup's pids.max",
        ("open" | "read", libc::ENOENT) => {
            "A process of the run is gone (was it killed from outside?), or the kernel keeps no \
             /proc/PID/schedstat (CONFIG_SCHED_INFO)"
        }
        ("kill" | "clock_getcpuclockid" | "clock_gettime", libc::ESRCH | libc::EINVAL) => {
            "A process of the run is gone: was it killed from outside?"
        }
        _ => "",
    }
}

/// The error of the system call that just failed.
fn sys(call: &'static str, on: impl Into<String>) -> RealError {
    RealError::Sys {
        call,
        on: on.into(),
        errno: io::Error::last_os_error().raw_os_error().unwrap_or(0),
    }
}

/// Whether real mode can run here, or why not, found by trying the system
/// calls it needs: two CPUs this process may use (with `kernel`: one CPU
/// online, and the module usable), a thread pinned to the test CPU at
/// SCHED_FIFO 98 (the highest priority a run uses; with `kernel`, at
/// SCHED_DEADLINE; tried on a throwaway thread, whose exit undoes it:
/// refused without root or CAP_SYS_NICE, and in most containers),
/// `/proc/PID/schedstat` and the process CPU-time clocks.
pub fn permitted(kernel: Option<&KernelModule>) -> Result<(), String> {
    let cpus = allowed_cpus().map_err(|e| e.to_string())?;
    let Some(&test) = cpus.last() else {
        return Err("this process may use no CPU".into());
    };
    if kernel.is_some() {
        // SAFETY: sysconf has no preconditions.
        let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        if online != 1 {
            return Err(format!(
                "the loader module as the kernel-level side needs a machine with one CPU online, and this one \
                 has {online}: Linux refuses a SCHED_DEADLINE reservation to a task pinned to one CPU of several. \
                 Run it in the guest of kmod/tests/qemu.sh (one virtual CPU)"
            ));
        }
    } else if cpus.len() < 2 {
        return Err(format!(
            "real mode needs two CPUs, one to test on and one for bookkeeping, and this process may use {} ({cpus:?})",
            cpus.len()
        ));
    }
    let deadline = kernel.is_some();
    let trial = thread::Builder::new()
        .name("safex-permitted".into())
        .spawn(move || -> Result<(), RealError> {
            set_affinity(0, test, "a trial thread")?;
            if deadline {
                set_deadline("a trial thread")
            } else {
                set_scheduler(0, Policy::Fifo, MEASURE_PRIORITY, "a trial thread")
            }
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    trial
        .join()
        .map_err(|_| "the trial thread panicked".to_string())?
        .map_err(|e| e.to_string())?;
    let mut buf = [0; 64];
    read_schedstat(Path::new("/proc/self/schedstat"), &mut buf).map_err(|e| e.to_string())?;
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let clock = cpu_clock(me, "this process").map_err(|e| e.to_string())?;
    read_clock(clock).map_err(|errno| {
        RealError::Sys {
            call: "clock_gettime",
            on: "this process's CPU-time clock".into(),
            errno,
        }
        .to_string()
    })?;
    kernel.map_or(Ok(()), kernel::usable)
}

/// Held by the real run in progress in this process.
static ONE_RUN: Mutex<()> = Mutex::new(());

/// Runs `cfg` on this machine's scheduler, with the loader module as the
/// kernel-level side if `kernel` is given, calling `progress` with the
/// time elapsed, µs, every second and at the end. Runs in this process
/// take turns.
pub fn run_real(
    cfg: &RunConfig,
    kernel: Option<&KernelModule>,
    mut progress: impl FnMut(Us),
) -> Result<RealRun, RealError> {
    validate(cfg)?;
    // One run at a time: two would share the test CPU. (A run that
    // panicked has cleaned up after itself: its poison is no matter.)
    let _one = ONE_RUN.lock().unwrap_or_else(PoisonError::into_inner);
    permitted(kernel).map_err(RealError::NotPermitted)?;
    let cpus = allowed_cpus()?;
    let (Some(&home), Some(&test)) = (cpus.first(), cpus.last()) else {
        return Err(RealError::NotPermitted("no CPU".into()));
    };
    let bursts = cfg.mmpp.bursts(&mut Random::new(cfg.seed), cfg.length);
    let processes = cfg.setup.processes();
    let mut tasks: Vec<Task> = processes
        .iter()
        .map(|p| Task::new(&p.name, p.target, p.period, i32::from(p.priority())))
        .collect();
    let (target, period) = cfg.disturbance;
    tasks.push(Task::new(DISTURBANCE, target, period, DISTURBANCE_PRIORITY));

    let mut run = Run::new();
    run.pin_caller(home)?;
    if let (Some(_), Management::Kernel) = (kernel, cfg.management) {
        run.rt_runtime = kernel::raise_rt_runtime()?;
        run.hrtick = kernel::precise_enforcement();
    }
    // The children first, before any thread of the run.
    let (start_read, start_write) = pipe()?;
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    for (i, task) in tasks.iter_mut().enumerate() {
        let role = if i < processes.len() {
            Role::Hog
        } else {
            Role::Disturbance {
                bursts: &bursts,
                length: cfg.length,
            }
        };
        task.pid = fork_child(role, parent, start_read.as_raw_fd(), start_write.as_raw_fd())?;
        run.children.push(task.pid);
    }
    drop(start_read);
    run.start_pipe = Some(start_write);
    for task in &mut tasks {
        let who = task.label();
        set_affinity(task.pid, test, &who)?;
        set_scheduler(task.pid, cfg.policy, task.priority, &who)?;
        task.clock = cpu_clock(task.pid, &who)?;
    }
    let rr_quantum = match (cfg.policy, tasks.first()) {
        (Policy::Rr, Some(task)) => Some(rr_interval(task)?),
        _ => None,
    };

    // The threads, each with its start instant to come.
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let (start_tx, start_rx) = mpsc::channel::<u64>();
    run.starts.push(start_tx);
    let measured = Measured {
        tasks: tasks.clone(),
        processes: processes.len(),
        length: cfg.length,
        home,
        deadline: kernel.is_some(),
    };
    let ready = ready_tx.clone();
    run.measure = Some(run.spawn("measurement thread", move |stop| measured.run(ready, &start_rx, stop))?);
    let (start_tx, start_rx) = mpsc::channel::<u64>();
    run.starts.push(start_tx);
    let user = cfg.management == Management::User;
    if let (Some(module), false) = (kernel, user) {
        let side = kernel::KernelSide::new(module, tasks.clone())?;
        let (length, bursts) = (cfg.length, bursts.clone());
        run.manager = Some(run.spawn("kernel-level side", move |stop| {
            side.run(ready_tx, &start_rx, stop, length, &bursts)
        })?);
    } else {
        let managing = Managing {
            tasks: tasks.clone(),
            user,
            policy: if user { cfg.policy } else { Policy::Fifo },
            priority: if user { USER_PRIORITY } else { KERNEL_PRIORITY },
            test,
            length: cfg.length,
            bursts: bursts.clone(),
        };
        run.manager = Some(run.spawn("service manager", move |stop| managing.run(ready_tx, &start_rx, stop))?);
    }
    for _ in 0..2 {
        if ready_rx.recv().is_err() {
            return Err(run.failure());
        }
    }

    // The start.
    let t0 = now_ns().saturating_add(LEAD_NS);
    for start in std::mem::take(&mut run.starts) {
        // A thread that has already ended has failed: joining says why.
        if start.send(t0).is_err() {
            return Err(run.failure());
        }
    }
    run.send_start(t0, tasks.len())?;
    let end = t0.saturating_add(cfg.length.saturating_mul(NS_PER_US));
    let mut second = 1u64;
    loop {
        let at = t0.saturating_add(second.saturating_mul(NS_PER_S)).min(end);
        if !wait_until(at, &run.stop) {
            break;
        }
        progress((at - t0) / NS_PER_US);
        if at >= end {
            break;
        }
        second += 1;
    }

    // The end: the measurement thread ends on its own after its last
    // sample, the manager at the run's end (one that fails stops the
    // other); then the rest.
    let truth = run.join_measurement();
    let rounds = run.join_manager();
    drop(run.shut_down());
    let truth = truth?;
    let rounds = rounds?;
    run.restored.take().transpose()?;
    let mut per_second = truth.per_second;
    let disturbance = per_second.pop().unwrap_or_default();
    Ok(RealRun {
        result: RunResult {
            processes: processes
                .into_iter()
                .zip(per_second)
                .zip(truth.periods.into_iter().zip(truth.violations))
                .map(|((process, utilization), (periods, violations))| ProcessResult {
                    process,
                    periods,
                    violations,
                    utilization,
                })
                .collect(),
            disturbance,
            bursts,
            rounds: rounds.rounds,
            longest_gap: rounds.longest_gap,
            rounds_in_bursts: rounds.rounds_in_bursts,
            invocations: rounds.invocations,
            reservations_refused: rounds.refused,
        },
        lateness: truth.lateness_ns / NS_PER_US,
        busiest_sample: truth.busiest_ns / NS_PER_US,
        short_periods: truth.short,
        test_cpu: test,
        rr_quantum,
    })
}

/// Refuses what a real run cannot do.
fn validate(cfg: &RunConfig) -> Result<(), RealError> {
    if cfg.length == 0 || cfg.length > MAX_LENGTH {
        return Err(RealError::Config(format!(
            "a run lasts from 1 µs to a day ({MAX_LENGTH} µs), not {} µs",
            cfg.length
        )));
    }
    let (target, period) = cfg.disturbance;
    if period == 0 || period > MAX_LENGTH || target > period {
        return Err(RealError::Config(format!(
            "the disturbance's target ({target} µs) must be at most its period ({period} µs), which must be from 1 µs to a day"
        )));
    }
    Ok(())
}

/// A task under test, as the run's threads know it.
#[derive(Clone, Debug)]
struct Task {
    name: String,
    pid: libc::pid_t,
    /// Its process CPU-time clock.
    clock: libc::clockid_t,
    /// Its target and period, µs.
    target: Us,
    period: Us,
    priority: i32,
}

impl Task {
    fn new(name: &str, target: Us, period: Us, priority: i32) -> Task {
        Task {
            name: name.into(),
            pid: 0,
            clock: 0,
            target,
            period,
            priority,
        }
    }

    fn label(&self) -> String {
        format!("{}, pid {}", self.name, self.pid)
    }

    fn schedstat(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/schedstat", self.pid))
    }

    /// Its CPU time, ns, from its CPU-time clock.
    fn cpu_time(&self) -> Result<u64, RealError> {
        read_clock(self.clock).map_err(|errno| RealError::Sys {
            call: "clock_gettime",
            on: format!("CPU-time clock of {}", self.label()),
            errno,
        })
    }

    fn signal(&self, signal: libc::c_int) -> Result<(), RealError> {
        // SAFETY: kill has no memory preconditions; `pid` is a child of
        // this process that has not been reaped (children are reaped only
        // after every thread that signals them has been joined), so it
        // names no other process.
        if unsafe { libc::kill(self.pid, signal) } != 0 {
            let name = if signal == libc::SIGSTOP { "SIGSTOP" } else { "SIGCONT" };
            return Err(sys("kill", format!("{} with {name}", self.label())));
        }
        Ok(())
    }
}

/// The kernel-level stand-in's reservation for a timeslice: within the
/// loader module's bounds, 100 µs to 85 % of the period
/// (`kmod/safex_manager.c`), as the simulation's kernel-level budgets.
fn budget(timeslice: Us, period: Us) -> Us {
    // Not `clamp`, which panics on a period under 118 µs.
    timeslice.min(period * 85 / 100).max(100)
}

/// What a forked child does.
enum Role<'a> {
    Hog,
    /// Follows `bursts`, µs from the start instant, cut at `length`.
    Disturbance {
        bursts: &'a [(Us, Us)],
        length: Us,
    },
}

/// Forks a child that plays `role`; it waits on `start_read` (the start
/// pipe's read end; `start_write`, the write end, it closes) for the start
/// instant.
fn fork_child(
    role: Role,
    parent: libc::pid_t,
    start_read: RawFd,
    start_write: RawFd,
) -> Result<libc::pid_t, RealError> {
    // SAFETY: fork duplicates only the calling thread. The child runs
    // `child`, which never returns and only makes async-signal-safe calls
    // (or thin system-call wrappers that take no lock), never allocates,
    // cannot panic, and reads only memory it inherited and nothing
    // changes in its copy (`role`'s bursts): so locks or allocator state
    // another thread held at the fork do not matter. Nothing of the parent
    // is dropped in the child (it ends with `_exit`).
    match unsafe { libc::fork() } {
        -1 => Err(sys("fork", "a process of the run")),
        0 => child(role, parent, start_read, start_write),
        pid => Ok(pid),
    }
}

/// A forked child's life: see the module's doc. Async-signal-safe only.
fn child(role: Role, parent: libc::pid_t, start_read: RawFd, start_write: RawFd) -> ! {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes integers; getppid and close
    // have no memory preconditions; `start_write` is this child's own copy
    // of the descriptor, used by nothing else in it.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
        // The thread that forked may have died before the line above.
        if libc::getppid() != parent {
            libc::_exit(0);
        }
        // So that the parent closing its end ends the read below.
        libc::close(start_write);
    }
    let mut t0 = [0u8; 8];
    loop {
        // SAFETY: reads at most 8 bytes into `t0`, a local buffer of 8
        // bytes nothing else refers to.
        let n = unsafe { libc::read(start_read, t0.as_mut_ptr().cast(), t0.len()) };
        if n == 8 {
            break;
        }
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        // The parent gave up before the start.
        // SAFETY: _exit ends this process at once, running no destructor
        // or exit handler, which a forked child must not run.
        unsafe { libc::_exit(0) };
    }
    let t0 = u64::from_ne_bytes(t0);
    sleep_until(t0);
    if let Role::Disturbance { bursts, length } = role {
        let at = |us: Us| t0.saturating_add(us.saturating_mul(NS_PER_US));
        for &(start, end) in bursts {
            sleep_until(at(start));
            while now_ns() < at(end.min(length)) {
                std::hint::spin_loop();
            }
        }
        loop {
            // SAFETY: pause has no preconditions; the child waits for the
            // SIGKILL that ends the run.
            unsafe { libc::pause() };
        }
    }
    loop {
        std::hint::spin_loop();
    }
}

/// A pipe, both ends closed on exec (so that no program another thread
/// of this process starts holds the write end open).
fn pipe() -> Result<(OwnedFd, OwnedFd), RealError> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a local array of the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(sys("pipe2", "the start pipe"));
    }
    // SAFETY: pipe2 succeeded, so both are open descriptors that nothing
    // else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// CLOCK_MONOTONIC, ns. Async-signal-safe.
fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a local timespec the call writes; CLOCK_MONOTONIC
    // always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(NS_PER_S)
        .saturating_add(ts.tv_nsec as u64)
}

/// Sleeps until CLOCK_MONOTONIC reads `ns`. Async-signal-safe.
fn sleep_until(ns: u64) {
    let ts = libc::timespec {
        tv_sec: (ns / NS_PER_S) as libc::time_t,
        tv_nsec: (ns % NS_PER_S) as libc::c_long,
    };
    loop {
        // SAFETY: `ts` is a valid local timespec, only read; no remainder
        // is asked for (absolute time).
        let r = unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, libc::TIMER_ABSTIME, &ts, std::ptr::null_mut()) };
        if r != libc::EINTR {
            return;
        }
    }
}

/// Sleeps until `ns`, looking at `stop` at least every [`POLL_NS`]: true
/// when `ns` was reached, false when the run is stopping.
fn wait_until(ns: u64, stop: &AtomicBool) -> bool {
    wait_looking(ns, stop, |now| now.saturating_add(POLL_NS))
}

/// [`wait_until`] for the measurement thread: `ns` is on the grid of
/// [`GRID_NS`] from `t0`, and so is every instant it wakes to look at
/// `stop`.
fn wait_on_grid(t0: u64, ns: u64, stop: &AtomicBool) -> bool {
    wait_looking(ns, stop, |now| t0 + (now.saturating_sub(t0) / GRID_NS + 1) * GRID_NS)
}

/// [`wait_on_grid`] for the measurement thread at SCHED_DEADLINE, after
/// the start: gives up the rest of each of its periods until `ns` (see
/// [`BOOKKEEPING_RUNTIME_NS`]).
fn yield_on_grid(ns: u64, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        if now_ns() >= ns {
            return true;
        }
        // SAFETY: sched_yield has no preconditions. The caller is a
        // SCHED_DEADLINE task, which Linux then throttles until its next
        // period: this does not spin.
        unsafe { libc::sched_yield() };
    }
}

/// Sleeps until `ns`, waking at `next_look(now)` to look at `stop`.
fn wait_looking(ns: u64, stop: &AtomicBool, next_look: impl Fn(u64) -> u64) -> bool {
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = now_ns();
        if now >= ns {
            return true;
        }
        sleep_until(ns.min(next_look(now)));
    }
}

/// The CPUs this process may use, in order.
fn allowed_cpus() -> Result<Vec<usize>, RealError> {
    // SAFETY: an all-zero cpu_set_t is a valid, empty set (an array of
    // integers).
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a local cpu_set_t of the size passed, which the
    // call writes.
    if unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) } != 0 {
        return Err(sys("sched_getaffinity", "this thread"));
    }
    let cpus = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, the number of CPUs a
        // cpu_set_t holds; `set` is only read.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect();
    Ok(cpus)
}

/// Pins a thread or process (0: the calling thread) to `cpu`.
fn set_affinity(tid: libc::pid_t, cpu: usize, who: &str) -> Result<(), RealError> {
    // SAFETY: an all-zero cpu_set_t is a valid, empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(RealError::NotPermitted(format!(
            "CPU {cpu} is beyond what a cpu_set_t holds"
        )));
    }
    // SAFETY: `cpu` is below CPU_SETSIZE; `set` is a local set.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed, only read.
    if unsafe { libc::sched_setaffinity(tid, size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(sys("sched_setaffinity", format!("{who} to CPU {cpu}")));
    }
    Ok(())
}

/// Gives a thread or process (0: the calling thread, on Linux) `policy` at
/// `priority`.
fn set_scheduler(tid: libc::pid_t, policy: Policy, priority: i32, who: &str) -> Result<(), RealError> {
    let (number, name) = match policy {
        Policy::Fifo => (libc::SCHED_FIFO, "SCHED_FIFO"),
        Policy::Rr => (libc::SCHED_RR, "SCHED_RR"),
    };
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `param` is a valid local sched_param, only read.
    if unsafe { libc::sched_setscheduler(tid, number, &param) } != 0 {
        return Err(sys("sched_setscheduler", format!("{who}, {name} at {priority}")));
    }
    Ok(())
}

/// `struct sched_attr` of `sched_setattr(2)`, its first version.
#[repr(C)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime_ns: u64,
    deadline_ns: u64,
    period_ns: u64,
}

/// SCHED_DEADLINE's policy number.
const SCHED_DEADLINE: u32 = 6;
/// The measurement thread's reservation at SCHED_DEADLINE (with the
/// module): 2 ms of runtime within 2 ms of its period's start, every
/// [`GRID_NS`] (2 % of the CPU; a sample takes some 0.3–0.9 ms under
/// QEMU's emulation). Its periods begin on the grid: it wakes from a sleep
/// at the start instant, which begins a period, and from then on gives up
/// the rest of each period ([`yield_on_grid`]) instead of sleeping, so
/// Linux runs it again at its next period's start. Sleeping instead
/// begins a period wherever the task wakes, and a deadline task whose
/// deadline is shorter than its period and wakes after its deadline but
/// before its period's end waits for that end (Linux's rule for
/// constrained deadlines): one sample that overran its runtime made every
/// later wake wait, the first ones 70 ms.
const BOOKKEEPING_RUNTIME_NS: u64 = 2_000_000;
const BOOKKEEPING_PERIOD_NS: u64 = GRID_NS;
/// What the measurement thread takes of the CPU, ppm.
const BOOKKEEPING_PPM: u64 = BOOKKEEPING_RUNTIME_NS * 1_000_000 / BOOKKEEPING_PERIOD_NS;

/// How long a SCHED_DEADLINE reservation refused for want of room
/// (EBUSY) is tried again, ns: far longer than the longest period a run's
/// task has (a task that left SCHED_DEADLINE holds its share until its
/// 0-lag time), because a clean-clone CI run on 6.12 once still found no
/// room after 2 s. A refusal after it reports Linux's deadline bandwidth
/// (`dl_bw` of debugfs' `sched/debug`) when it can be read.
const ADMISSION_WAIT_NS: u64 = 10 * NS_PER_S;

/// Makes the calling thread a SCHED_DEADLINE task with the bookkeeping
/// reservation.
fn set_deadline(who: &str) -> Result<(), RealError> {
    let (runtime_ns, period_ns) = (BOOKKEEPING_RUNTIME_NS, BOOKKEEPING_PERIOD_NS);
    let attr = SchedAttr {
        size: size_of::<SchedAttr>() as u32,
        policy: SCHED_DEADLINE,
        flags: 0,
        nice: 0,
        priority: 0,
        runtime_ns,
        deadline_ns: runtime_ns,
        period_ns,
    };
    let give_up = now_ns().saturating_add(ADMISSION_WAIT_NS);
    let r = loop {
        // SAFETY: `attr` is a live sched_attr of the size its first field
        // says, only read; pid 0 is the calling thread; flags 0.
        let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, std::ptr::from_ref(&attr), 0) };
        // A task that left SCHED_DEADLINE (the last run's) holds its share
        // until its period would have ended: wait for it.
        if r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EBUSY) || now_ns() >= give_up {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    if r != 0 {
        // What Linux counts, for the report (debugfs, root only).
        let bandwidth: Vec<String> = std::fs::read_to_string("/sys/kernel/debug/sched/debug")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("dl_bw->"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .take(4)
            .collect();
        let counted = if bandwidth.is_empty() {
            String::new()
        } else {
            format!("; Linux counts {}", bandwidth.join(", "))
        };
        return Err(sys(
            "sched_setattr",
            format!(
                "{who}, SCHED_DEADLINE {} µs every {} µs{counted}",
                runtime_ns / NS_PER_US,
                period_ns / NS_PER_US
            ),
        ));
    }
    Ok(())
}

/// The CPU-time clock of process `pid`.
fn cpu_clock(pid: libc::pid_t, who: &str) -> Result<libc::clockid_t, RealError> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: `clock` is a local the call writes.
    match unsafe { libc::clock_getcpuclockid(pid, &mut clock) } {
        0 => Ok(clock),
        errno => Err(RealError::Sys {
            call: "clock_getcpuclockid",
            on: who.into(),
            errno,
        }),
    }
}

/// A clock's reading, ns, or the errno.
fn read_clock(clock: libc::clockid_t) -> Result<u64, i32> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a local timespec the call writes.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return Err(io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    Ok((ts.tv_sec as u64)
        .saturating_mul(NS_PER_S)
        .saturating_add(ts.tv_nsec as u64))
}

/// SCHED_RR's quantum for `task`, µs.
fn rr_interval(task: &Task) -> Result<Us, RealError> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a local timespec the call writes.
    if unsafe { libc::sched_rr_get_interval(task.pid, &mut ts) } != 0 {
        return Err(sys("sched_rr_get_interval", task.label()));
    }
    Ok((ts.tv_sec as u64)
        .saturating_mul(1_000_000)
        .saturating_add(ts.tv_nsec as u64 / NS_PER_US))
}

/// The first field of a `/proc/PID/schedstat`: the task's CPU time, ns.
fn read_schedstat(path: &Path, buf: &mut [u8; 64]) -> Result<u64, RealError> {
    let on = || path.display().to_string();
    let error = |call, e: io::Error| RealError::Sys {
        call,
        on: on(),
        errno: e.raw_os_error().unwrap_or(0),
    };
    let n = File::open(path)
        .map_err(|e| error("open", e))?
        .read(buf)
        .map_err(|e| error("read", e))?;
    let text = &buf[..n.min(buf.len())];
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&text[..digits])
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| RealError::Proc {
            path: on(),
            contents: String::from_utf8_lossy(text).into_owned(),
        })
}

/// The run's children and threads, and the cleanup that ends them
/// whatever happens.
struct Run {
    /// Tells the run's threads to stop.
    stop: Arc<AtomicBool>,
    /// Every child forked, in order, until reaped.
    children: Vec<libc::pid_t>,
    /// The start pipe's write end: closing it ends the children's wait.
    start_pipe: Option<OwnedFd>,
    /// Each thread's start instant to come.
    starts: Vec<mpsc::Sender<u64>>,
    measure: Option<JoinHandle<Result<Truth, RealError>>>,
    manager: Option<JoinHandle<Result<Rounds, RealError>>>,
    /// The caller's affinity, to restore.
    affinity: Option<libc::cpu_set_t>,
    /// Linux's limit for real-time and deadline tasks, to restore once the
    /// children are gone (`--kernel`), and how restoring it went.
    rt_runtime: Option<String>,
    restored: Option<Result<(), RealError>>,
    /// HRTICK_DL was turned on for the run (`--kernel`).
    hrtick: bool,
}

impl Run {
    fn new() -> Run {
        Run {
            stop: Arc::new(AtomicBool::new(false)),
            children: Vec::new(),
            start_pipe: None,
            starts: Vec::new(),
            measure: None,
            manager: None,
            affinity: None,
            rt_runtime: None,
            restored: None,
            hrtick: false,
        }
    }

    /// Pins the calling thread to `home` for the run.
    fn pin_caller(&mut self, home: usize) -> Result<(), RealError> {
        // SAFETY: an all-zero cpu_set_t is a valid, empty set.
        let mut saved: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `saved` is a local cpu_set_t of the size passed.
        if unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut saved) } != 0 {
            return Err(sys("sched_getaffinity", "the calling thread"));
        }
        self.affinity = Some(saved);
        set_affinity(0, home, "the calling thread")
    }

    /// Starts a thread of the run. A thread that fails or panics sets the
    /// stop flag, so that the others and the caller stop waiting.
    fn spawn<T: Send + 'static>(
        &self,
        name: &'static str,
        body: impl FnOnce(&AtomicBool) -> Result<T, RealError> + Send + 'static,
    ) -> Result<JoinHandle<Result<T, RealError>>, RealError> {
        let stop = StopOnPanic(self.stop.clone());
        thread::Builder::new()
            .name(format!("safex-{}", name.replace(' ', "-")))
            .spawn(move || {
                let result = body(&stop.0);
                if result.is_err() {
                    stop.0.store(true, Ordering::SeqCst);
                }
                result
            })
            .map_err(|e| RealError::Sys {
                call: "pthread_create",
                on: format!("the {name}"),
                errno: e.raw_os_error().unwrap_or(0),
            })
    }

    /// Sends every child the start instant, and closes the pipe.
    fn send_start(&mut self, t0: u64, children: usize) -> Result<(), RealError> {
        let message: Vec<u8> = (0..children).flat_map(|_| t0.to_ne_bytes()).collect();
        let Some(pipe) = self.start_pipe.take() else {
            return Ok(());
        };
        // SAFETY: writes `message`'s bytes from a live local buffer of that
        // length, only read, to an open descriptor this guard owns and
        // nothing else in this process writes. At most PIPE_BUF bytes: one
        // atomic write, of which each child reads its 8.
        let n = unsafe { libc::write(pipe.as_raw_fd(), message.as_ptr().cast(), message.len()) };
        if usize::try_from(n).ok() != Some(message.len()) {
            return Err(sys("write", "the start pipe"));
        }
        Ok(())
    }

    /// Waits for the measurement thread to end (after its last sample).
    fn join_measurement(&mut self) -> Result<Truth, RealError> {
        match self.measure.take() {
            Some(thread) => thread.join().unwrap_or(Err(RealError::Panicked("measurement thread"))),
            None => Err(RealError::Panicked("measurement thread")),
        }
    }

    /// Waits for the manager thread to end (at the run's end).
    fn join_manager(&mut self) -> Result<Rounds, RealError> {
        match self.manager.take() {
            Some(thread) => thread.join().unwrap_or(Err(RealError::Panicked("service manager"))),
            None => Err(RealError::Panicked("service manager")),
        }
    }

    /// Ends the run: the threads told to stop, the children continued and
    /// killed, the threads joined, the children reaped, the caller's
    /// affinity restored. What the manager thread returned, if there is
    /// one left to join.
    fn shut_down(&mut self) -> Option<Result<Rounds, RealError>> {
        self.stop.store(true, Ordering::SeqCst);
        self.starts.clear();
        self.start_pipe = None;
        for &pid in &self.children {
            // SAFETY: kill has no memory preconditions; `pid` is an
            // unreaped child of this process. Errors (a child already
            // dead) change nothing here.
            unsafe {
                libc::kill(pid, libc::SIGCONT);
                libc::kill(pid, libc::SIGKILL);
            }
        }
        if let Some(thread) = self.measure.take() {
            // Only a run that failed gets here with it: its error is the
            // manager's, or the caller's.
            drop(thread.join());
        }
        let rounds = self
            .manager
            .take()
            .map(|thread| thread.join().unwrap_or(Err(RealError::Panicked("service manager"))));
        for pid in self.children.drain(..) {
            loop {
                // SAFETY: waits for `pid`, a child of this process that is
                // being killed; no status is asked for. Every thread that
                // signals it has been joined, so freeing its pid races
                // with no signal.
                let r = unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
                if r != -1 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                    break;
                }
            }
        }
        if std::mem::take(&mut self.hrtick) {
            kernel::coarse_enforcement();
        }
        if let Some(was) = self.rt_runtime.take() {
            // Only an ordinary end reports its error (through `restored`).
            self.restored = Some(kernel::restore_rt_runtime(&was));
        }
        if let Some(saved) = self.affinity.take() {
            // SAFETY: `saved` is the calling thread's affinity as
            // sched_getaffinity gave it, only read. Failing leaves the
            // thread on the home CPU, which is harmless.
            unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &saved) };
        }
        rounds
    }

    /// Ends a run that failed before it started, and says why: the first
    /// error of a thread that failed.
    fn failure(&mut self) -> RealError {
        self.stop.store(true, Ordering::SeqCst);
        self.starts.clear();
        let truth = self.measure.take().map(JoinHandle::join);
        let rounds = self.shut_down();
        match (truth, rounds) {
            (Some(Ok(Err(e))), _) | (_, Some(Err(e))) => e,
            (Some(Err(_)), _) => RealError::Panicked("measurement thread"),
            _ => RealError::Panicked("thread of the run"),
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        drop(self.shut_down());
    }
}

/// Sets the stop flag if the thread holding it unwinds.
struct StopOnPanic(Arc<AtomicBool>);

impl Drop for StopOnPanic {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// What the measurement thread saw: per process, complete periods,
/// violations (shortfalls over [`TOLERANCE`]) and periods short of the
/// target at all; per task, per second, utilization per mille; the latest
/// sample's lateness, ns.
struct Truth {
    periods: Vec<u64>,
    violations: Vec<u64>,
    short: Vec<u64>,
    per_second: Vec<Vec<u32>>,
    lateness_ns: u64,
    busiest_ns: u64,
}

/// The measurement thread's work: the tasks (the processes first).
struct Measured {
    tasks: Vec<Task>,
    processes: usize,
    length: Us,
    home: usize,
    /// At SCHED_DEADLINE, not SCHED_FIFO 98 (with the module, on one CPU).
    deadline: bool,
}

impl Measured {
    fn run(self, ready: mpsc::Sender<()>, start: &mpsc::Receiver<u64>, stop: &AtomicBool) -> Result<Truth, RealError> {
        set_affinity(0, self.home, "the measurement thread")?;
        if self.deadline {
            set_deadline("the measurement thread")?;
        } else {
            set_scheduler(0, Policy::Fifo, MEASURE_PRIORITY, "the measurement thread")?;
        }
        let seconds = usize::try_from(self.length.div_ceil(1_000_000)).unwrap_or(0);
        let mut truth = Truth {
            periods: vec![0; self.processes],
            violations: vec![0; self.processes],
            short: vec![0; self.processes],
            per_second: vec![vec![0; seconds]; self.tasks.len()],
            lateness_ns: 0,
            busiest_ns: 0,
        };
        // Ready; and the sender dropped, so that the caller learns of a
        // thread that fails before it is ready.
        let _ = ready.send(());
        drop(ready);
        let Ok(t0) = start.recv() else {
            return Ok(truth);
        };
        // Straight to the start, on the grid: a look at `stop` less than a
        // reservation's period before it would make the start wait.
        if !wait_on_grid(t0, t0, stop) {
            return Ok(truth);
        }
        truth.lateness_ns = now_ns() - t0;
        // Per task: its CPU time when its period began, with how long
        // after the period's start that was read; and at the last second's
        // sample with the sample's time.
        let mut at_start = Vec::new();
        let mut last = Vec::new();
        for task in &self.tasks {
            let sampled = now_ns();
            let cpu = task.cpu_time()?;
            at_start.push((cpu, sampled.saturating_sub(t0)));
            last.push((cpu, sampled));
        }
        let mut period_end: Vec<Us> = self.tasks.iter().take(self.processes).map(|t| t.period).collect();
        let mut second: Us = 1_000_000;
        loop {
            let next = period_end.iter().copied().fold(second, Us::min);
            if next > self.length {
                return Ok(truth);
            }
            let deadline = t0 + next * NS_PER_US;
            let reached = if self.deadline {
                yield_on_grid(deadline, stop)
            } else {
                wait_on_grid(t0, deadline, stop)
            };
            if !reached {
                return Ok(truth);
            }
            truth.lateness_ns = truth.lateness_ns.max(now_ns() - deadline);
            let busy_from = read_clock(libc::CLOCK_THREAD_CPUTIME_ID).unwrap_or(0);
            for (i, task) in self.tasks.iter().take(self.processes).enumerate() {
                if period_end[i] != next {
                    continue;
                }
                let sampled = now_ns();
                let cpu = task.cpu_time()?;
                let (cpu_at_start, doubt) = at_start[i];
                let received = cpu.saturating_sub(cpu_at_start);
                let target = task.target * NS_PER_US;
                let tolerance = task.period * NS_PER_US * TOLERANCE / 1000;
                truth.periods[i] += 1;
                truth.violations[i] += u64::from(received + doubt + tolerance < target);
                truth.short[i] += u64::from(received < target);
                at_start[i] = (cpu, sampled.saturating_sub(deadline));
                period_end[i] += task.period;
            }
            if second == next {
                let s = usize::try_from(second / 1_000_000 - 1).unwrap_or(usize::MAX);
                for ((task, last), column) in self.tasks.iter().zip(&mut last).zip(&mut truth.per_second) {
                    let sampled = now_ns();
                    let cpu = task.cpu_time()?;
                    let per_mille = cpu.saturating_sub(last.0) * 1000 / sampled.saturating_sub(last.1).max(1);
                    if let Some(cell) = column.get_mut(s) {
                        *cell = u32::try_from(per_mille).unwrap_or(u32::MAX);
                    }
                    *last = (cpu, sampled);
                }
                second += 1_000_000;
            }
            let busy = read_clock(libc::CLOCK_THREAD_CPUTIME_ID)
                .unwrap_or(0)
                .saturating_sub(busy_from);
            truth.busiest_ns = truth.busiest_ns.max(busy);
        }
    }
}

/// What the manager thread did.
#[derive(Default)]
struct Rounds {
    rounds: u64,
    longest_gap: Us,
    rounds_in_bursts: u64,
    invocations: u64,
    refused: u64,
}

/// The manager thread's work.
struct Managing {
    tasks: Vec<Task>,
    user: bool,
    policy: Policy,
    priority: i32,
    test: usize,
    length: Us,
    bursts: Vec<(Us, Us)>,
}

impl Managing {
    fn run(self, ready: mpsc::Sender<()>, start: &mpsc::Receiver<u64>, stop: &AtomicBool) -> Result<Rounds, RealError> {
        // The host first, at the caller's policy; then this thread moves.
        let mut manager = Manager::new(self.tasks, self.user)?;
        let who = if self.user {
            "the user-level manager"
        } else {
            "the kernel-level stand-in"
        };
        set_affinity(0, self.test, who)?;
        set_scheduler(0, self.policy, self.priority, who)?;
        // Ready; and the sender dropped, so that the caller learns of a
        // thread that fails before it is ready.
        let _ = ready.send(());
        drop(ready);
        let mut rounds = Rounds::default();
        let Ok(t0) = start.recv() else {
            return Ok(rounds);
        };
        // The children are still waiting for the start: exact baselines.
        for ((m, task), now) in manager.managed.iter_mut().zip(&manager.tasks).zip(&mut manager.now) {
            m.at_start = task.cpu_time()? / NS_PER_US;
            *now = m.at_start;
        }
        let mut last_round = 0;
        // The user-level manager's first round is at the start, the
        // kernel's timer path's a round in.
        let mut next: Us = if self.user { 0 } else { ROUND };
        // The kernel-level stand-in's next look at the timeslices between
        // rounds (the user-level manager looks only in its rounds).
        let mut check = if self.user { Us::MAX } else { manager.enforce(0)? };
        while next < self.length {
            if !wait_until(t0 + next.min(check) * NS_PER_US, stop) {
                break;
            }
            let now = (now_ns() - t0) / NS_PER_US;
            if now >= self.length {
                break;
            }
            if now < next {
                match manager.check(now) {
                    Ok(at) => check = at,
                    Err(_) if stop.load(Ordering::SeqCst) => break,
                    Err(e) => return Err(e),
                }
                continue;
            }
            rounds.rounds += 1;
            rounds.longest_gap = rounds.longest_gap.max(now - last_round);
            last_round = now;
            rounds.rounds_in_bursts += u64::from(self.bursts.iter().any(|&(s, e)| s <= now && now < e));
            match manager.round(now) {
                Ok(at) if !self.user => check = at,
                Ok(_) => {}
                // At the end the children are killed under a round.
                Err(_) if stop.load(Ordering::SeqCst) => break,
                Err(e) => return Err(e),
            }
            // Rounds missed (the thread was not scheduled) are skipped.
            next = (next + ROUND).max((now / ROUND + 1) * ROUND);
        }
        rounds.invocations = manager.invocations();
        rounds.refused = manager.refused;
        Ok(rounds)
    }
}

/// A managed task's state, as in the simulation's service round.
struct Managed {
    app: AppId,
    /// The current period's start as the manager saw it begin (a multiple
    /// of the period), and the task's CPU time then, µs.
    start: Us,
    at_start: Us,
    /// CPU time received in the last two periods (newest first), µs.
    last: [Us; 2],
    /// A period ended since the last round.
    due: bool,
    timeslice: Us,
    /// Stopped by the manager until its next period.
    stopped: bool,
}

/// The service manager: the host with an application and a PID extension
/// per task.
struct Manager {
    host: Host,
    user: bool,
    tasks: Vec<Task>,
    managed: Vec<Managed>,
    /// Each task's CPU time at the last read and at the one before, µs.
    now: Vec<Us>,
    before: Vec<Us>,
    /// Timeslices the kernel-level stand-in's admission control refused.
    refused: u64,
    /// A task was stopped or continued since the last look.
    signalled: bool,
    /// The user-level manager's `/proc` paths, and its read buffer.
    schedstat: Vec<PathBuf>,
    buf: [u8; 64],
}

impl Manager {
    fn new(tasks: Vec<Task>, user: bool) -> Result<Manager, RealError> {
        let mut host = runtime::system::host(HostConfig::default(), true).map_err(RealError::Host)?;
        let mut managed = Vec::new();
        for task in &tasks {
            let app = pid_app(&mut host, &task.name, task.target, task.period).map_err(RealError::Host)?;
            managed.push(Managed {
                app,
                start: 0,
                at_start: 0,
                last: [task.target; 2],
                due: false,
                timeslice: task.target,
                stopped: false,
            });
        }
        Ok(Manager {
            host,
            user,
            now: vec![0; tasks.len()],
            before: vec![0; tasks.len()],
            refused: 0,
            signalled: false,
            schedstat: tasks.iter().map(Task::schedstat).collect(),
            tasks,
            managed,
            buf: [0; 64],
        })
    }

    /// Reads every task's CPU time: the user-level manager from `/proc`,
    /// the kernel-level stand-in from the kernel's accounting.
    fn read(&mut self) -> Result<(), RealError> {
        for (i, task) in self.tasks.iter().enumerate() {
            let ns = if self.user {
                read_schedstat(&self.schedstat[i], &mut self.buf)?
            } else {
                task.cpu_time()?
            };
            self.before[i] = self.now[i];
            self.now[i] = ns / NS_PER_US;
        }
        Ok(())
    }

    /// The kernel-level stand-in's look at the timeslices between rounds,
    /// at `now`: when the next is due.
    fn check(&mut self, now: Us) -> Result<Us, RealError> {
        self.read()?;
        self.enforce(now)
    }

    /// One service round at `now`, µs from the start: the simulation's
    /// `service_round`, on real tasks. When the next look at the
    /// timeslices is due.
    fn round(&mut self, now: Us) -> Result<Us, RealError> {
        self.read()?;
        for ((m, task), &runtime) in self.managed.iter_mut().zip(&self.tasks).zip(&self.now) {
            if now >= m.start + task.period {
                // A period ended. The kernel-level stand-in runs at each
                // boundary, so what the task received since the last one
                // is its period's; the user-level manager sees the end
                // only when it runs, and scales what the task received
                // since its last read in the previous period to a period.
                let received = runtime.saturating_sub(m.at_start);
                let measured = if self.user {
                    received * task.period / (now - m.start).max(1)
                } else {
                    received
                };
                m.last = [measured, m.last[0]];
                m.start = now / task.period * task.period;
                m.at_start = runtime;
                m.due = true;
                if m.stopped {
                    task.signal(libc::SIGCONT)?;
                    m.stopped = false;
                    self.signalled = true;
                }
            }
            if m.due {
                let util = (m.last[0] + m.last[1]) * 1000 / (2 * task.period.max(1));
                self.host
                    .write_attribute(m.app, "actual_cpu", m.last[0] as i64)
                    .and_then(|()| self.host.write_attribute(m.app, "avg_util_2p", util as i64))
                    .map_err(|e| RealError::Host(e.to_string()))?;
            }
        }
        let due: Vec<AppId> = self.managed.iter().filter(|m| m.due).map(|m| m.app).collect();
        let mut report = runtime::manager::TickReport::default();
        self.host.tick_with(&mut report, |app| due.contains(&app));
        for m in &mut self.managed {
            m.due = false;
        }
        for change in report.changes {
            let Some(i) = self.managed.iter().position(|m| m.app == change.app) else {
                continue;
            };
            let admitted = |timeslice| self.user || self.admits(i, timeslice);
            match change.outcome {
                WriteOutcome::Written { applied: Some(v) } if admitted(v.max(0) as Us) => {
                    self.managed[i].timeslice = v.max(0) as Us;
                }
                WriteOutcome::Written { applied: Some(_) } => self.refused += 1,
                WriteOutcome::Blocked => {
                    // Over its target: stopped for the rest of its period.
                    self.host.unblock(change.app);
                    let (m, task) = (&mut self.managed[i], &self.tasks[i]);
                    if !m.stopped {
                        task.signal(libc::SIGSTOP)?;
                        m.stopped = true;
                        self.signalled = true;
                    }
                }
                _ => {}
            }
        }
        self.enforce(now)
    }

    /// Stops each task that has had its timeslice this period, until the
    /// next (the kernel-level stand-in: its reservation's runtime,
    /// [`budget`]). When the next look is due, for the kernel-level
    /// stand-in: when the first task that ran since the last would use up
    /// its timeslice running on ([`MIN_CHECK`] at the soonest), or, for
    /// one that did not run, [`IDLE_CHECK`] later at the soonest.
    fn enforce(&mut self, now: Us) -> Result<Us, RealError> {
        let user = self.user;
        let timeslice = |m: &Managed, task: &Task| {
            if user {
                m.timeslice
            } else {
                budget(m.timeslice, task.period)
            }
        };
        for ((m, task), &runtime) in self.managed.iter_mut().zip(&self.tasks).zip(&self.now) {
            if !m.stopped && runtime.saturating_sub(m.at_start) >= timeslice(m, task) {
                task.signal(libc::SIGSTOP)?;
                m.stopped = true;
                self.signalled = true;
            }
        }
        // After a signal, which task runs is not known: any may.
        let changed = std::mem::take(&mut self.signalled);
        let mut check = Us::MAX;
        for (((m, task), &runtime), &before) in self.managed.iter().zip(&self.tasks).zip(&self.now).zip(&self.before) {
            if m.stopped {
                continue;
            }
            let left = timeslice(m, task).saturating_sub(runtime.saturating_sub(m.at_start));
            let soonest = if changed || runtime > before {
                MIN_CHECK
            } else {
                IDLE_CHECK
            };
            check = check.min(now + left.max(soonest));
        }
        Ok(check)
    }

    /// Whether the kernel-level stand-in may give task `i` this timeslice:
    /// Linux's admission control of deadline reservations, as the
    /// simulation's scheduler applies it to the loader module's manager —
    /// all reservations together, this one in place of the task's old
    /// one, within [`DEADLINE_BANDWIDTH_PPM`] of the CPU.
    fn admits(&self, i: usize, timeslice: Us) -> bool {
        let ppm = |timeslice: Us, period: Us| budget(timeslice, period) * 1_000_000 / period.max(1);
        let total: u64 = self
            .managed
            .iter()
            .zip(&self.tasks)
            .enumerate()
            .map(|(j, (m, task))| ppm(if j == i { timeslice } else { m.timeslice }, task.period))
            .sum();
        total <= DEADLINE_BANDWIDTH_PPM
    }

    /// Invocations of the extensions (the host's counters).
    fn invocations(&self) -> u64 {
        self.managed
            .iter()
            .flat_map(|m| self.host.extensions(m.app).to_vec())
            .filter_map(|e| self.host.counters(e).map(|c| c.invocations))
            .sum()
    }
}
