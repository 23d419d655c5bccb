//! `--real --kernel`: the loader module's in-kernel CPU service manager
//! (`kmod/`, through `/dev/safex`) as the kernel-level side of a real run,
//! in place of the stand-in thread.
//!
//! - **One CPU.** The module gives each task a SCHED_DEADLINE reservation,
//!   which Linux refuses (EPERM) to a task that may not run on every CPU
//!   of its root domain, and a run pins its tasks to one CPU: so this mode
//!   runs on a machine with one CPU online — the QEMU guest of
//!   `kmod/tests/qemu.sh` — where pinning is no restriction. Every thread
//!   of the run shares that CPU.
//! - **Set up before the start, attached at it.** Before the start this
//!   side installs the timeslice guard (unless the module has one),
//!   creates an application per task without a task (pid 0), with its
//!   target and period, its measurements written on target, and loads the
//!   signed PID extension for each: with no task the module measures
//!   nothing, so the extensions idle on target instead of winding up. At
//!   the start instant it attaches each task to its application (from
//!   then on the module serves it once a period, and its reservation is
//!   the guard's result) and resets the module's counters.
//! - **Periods from the start.** Attaching gives the task a
//!   SCHED_DEADLINE reservation of its target every period at once, and
//!   the module's periods for it begin then, so the reservation's periods,
//!   the module's and those in which the measurement counts violations
//!   are the same, within the attaching's millisecond: the module's later
//!   changes of the runtime keep them (Linux keeps a deadline task's
//!   current deadline when its parameters change), and so does its
//!   guard's stop for the rest of a period (the module continues the task
//!   at its period's boundary, from a timer). The processes and the disturbance together are given the
//!   95 % of the CPU Linux admits for deadline tasks
//!   ([`crate::experiment::Setup::spare`]).
//! - **The measurement's share on top.** The measurement thread's
//!   reservation would leave the tasks less than the 95 % Linux admits,
//!   so for the run Linux's limit
//!   (`/proc/sys/kernel/sched_rt_runtime_us`) is raised by that share and a 1 % margin
//!   ([`raise_rt_runtime`]), and restored once the tasks are gone (a task
//!   that leaves SCHED_DEADLINE alive holds its share until its 0-lag
//!   time; a dead one gives it back at once). The module sheds a task's
//!   share before giving it SCHED_NORMAL: Linux keeps for good the share
//!   of a task that leaves the class after sleeping past its 0-lag time (a
//!   disturbance detached between bursts once left no room for the next
//!   run's), which `kmod/tests/init` checks. A run killed in between
//!   leaves the limit raised.
//! - **What it reports** comes from the module: its periodic rounds, the
//!   longest gap between two and the reservations the scheduler refused
//!   since the start (`SAFEX_IOC_STATS`); the rounds in bursts, from the
//!   round count read at each burst's start and end; the invocations of
//!   its extensions (`SAFEX_IOC_LIST`).
//! - **Runtime enforced to the microsecond**: for a kernel-level run the
//!   scheduler's HRTICK_DL feature is turned on where debugfs offers it
//!   ([`precise_enforcement`]), and off again after, as the simulation
//!   enforces reservations exactly.
//! - **This thread** runs at SCHED_FIFO 99: at the start instant it
//!   stops the tasks, attaches them and continues them, so that none runs
//!   (as a deadline task, before this thread) until all are attached; at a
//!   burst's start or end it may wait behind reservations, so the rounds
//!   in bursts are counted within a few rounds.
//! - **Cleanup**, on success, error or panic: the tasks are detached (the
//!   module gives them SCHED_NORMAL back), the extensions unloaded,
//!   the guard too if this side installed it. The applications stay in
//!   the module, without a task, and are reused by the next run.

use super::{ADMISSION_WAIT_NS, BOOKKEEPING_PPM, NS_PER_US, RealError, Rounds, Task, now_ns, wait_until};
use crate::experiment::ROUND;
use crate::sched::Policy;
use crate::sched::Us;
use runtime::device::{Device, OpenError, uapi};
use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;

/// This thread's priority.
const PRIORITY: i32 = 99;
/// What raising Linux's limit adds beyond the measurement's share, ppm.
const ADMISSION_MARGIN_PPM: i64 = 10_000;
/// Linux's limit for real-time and deadline tasks, µs of every
/// `sched_rt_period_us`.
const RT_RUNTIME: &str = "/proc/sys/kernel/sched_rt_runtime_us";
const RT_PERIOD: &str = "/proc/sys/kernel/sched_rt_period_us";
/// How long restoring the limit keeps trying while Linux still counts
/// reservations of tasks that are gone, and how often, ns.
const RESTORE_FOR_NS: u64 = 2_000_000_000;
const RESTORE_EVERY_NS: u64 = 20_000_000;

fn rt_error(call: &'static str, what: String, e: io::Error) -> RealError {
    RealError::Sys {
        call,
        on: format!("{RT_RUNTIME}, {what}"),
        errno: e.raw_os_error().unwrap_or(0),
    }
}

/// Raises Linux's limit for real-time and deadline tasks by the
/// measurement thread's share; the value to restore, `None` if there is
/// no limit.
pub(super) fn raise_rt_runtime() -> Result<Option<String>, RealError> {
    let was = fs::read_to_string(RT_RUNTIME).map_err(|e| rt_error("read", "its value".into(), e))?;
    let runtime: i64 = was.trim().parse().map_err(|_| RealError::Proc {
        path: RT_RUNTIME.into(),
        contents: was.clone(),
    })?;
    if runtime < 0 {
        return Ok(None);
    }
    let period: i64 = fs::read_to_string(RT_PERIOD)
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(1_000_000);
    // The measurement's share, and 1 % more: the tasks' reservations fill
    // the 95 % exactly, and Linux rounds each share up in fixed point, so
    // without a margin the last attached (the disturbance) was refused
    // when anything else still held a sliver of bandwidth.
    let share = i64::try_from(BOOKKEEPING_PPM)
        .unwrap_or(i64::MAX)
        .saturating_add(ADMISSION_MARGIN_PPM);
    let raised = runtime
        .saturating_add(share.saturating_mul(period) / 1_000_000)
        .min(period);
    // Linux refuses a change (EBUSY) while it still counts deadline
    // bandwidth it is releasing (tasks of the run or test before, until
    // their 0-lag time): try again for a while, as for a reservation.
    let give_up = now_ns().saturating_add(ADMISSION_WAIT_NS);
    loop {
        match fs::write(RT_RUNTIME, raised.to_string()) {
            Ok(()) => return Ok(Some(was)),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && now_ns() < give_up => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(rt_error("write", format!("raising it from {runtime} to {raised}"), e)),
        }
    }
}

/// The scheduler's feature switches (debugfs).
const SCHED_FEATURES: &str = "/sys/kernel/debug/sched/features";

/// Turns on HRTICK_DL, which enforces a reservation's runtime with a
/// high-resolution timer instead of at the next tick (4 ms at Debian's
/// 250 Hz): a task that overruns its reservation by a tick is over its
/// target, and the guard, which tolerates nothing over, blocks it for a
/// period. True if it was off (to turn it off again); false if it was on
/// or the kernel has no such switch (debugfs not mounted, or no
/// CONFIG_SCHED_HRTICK).
pub(super) fn precise_enforcement() -> bool {
    let Ok(features) = fs::read_to_string(SCHED_FEATURES) else {
        return false;
    };
    features.split_whitespace().any(|f| f == "NO_HRTICK_DL") && fs::write(SCHED_FEATURES, "HRTICK_DL").is_ok()
}

/// Turns HRTICK_DL off again.
pub(super) fn coarse_enforcement() {
    let _ = fs::write(SCHED_FEATURES, "NO_HRTICK_DL");
}

/// Restores the limit [`raise_rt_runtime`] raised, once Linux lets it:
/// it refuses (EBUSY) a limit below what deadline tasks hold.
pub(super) fn restore_rt_runtime(was: &str) -> Result<(), RealError> {
    let give_up = now_ns() + RESTORE_FOR_NS;
    loop {
        match fs::write(RT_RUNTIME, was.trim()) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && now_ns() < give_up => {
                std::thread::sleep(std::time::Duration::from_nanos(RESTORE_EVERY_NS));
            }
            Err(e) => return Err(rt_error("write", format!("restoring {}", was.trim()), e)),
        }
    }
}

/// The module and what to load into it.
#[derive(Clone, Debug)]
pub struct KernelModule {
    /// Its device, normally `/dev/safex`.
    pub device: PathBuf,
    /// `examples/obj/cpu_pid.o` signed with the module's key.
    pub signed_pid: Vec<u8>,
    /// The timeslice guard signed likewise, installed when the module has
    /// none.
    pub signed_guard: Option<Vec<u8>>,
}

/// The applications' names in the module: the task's, prefixed.
fn app_name(task: &Task) -> String {
    format!("real-{}", task.name)
}

fn errno(what: String) -> impl FnOnce(i32) -> RealError {
    move |errno| RealError::Module(format!("{what}: {}", io::Error::from_raw_os_error(errno)))
}

/// Whether the module can serve as the kernel-level side: it answers, runs
/// periodic rounds, and every [`ROUND`].
pub fn usable(module: &KernelModule) -> Result<(), String> {
    let dev = open(module).map_err(|e| e.to_string())?;
    let stats = dev.stats(false).map_err(|e| {
        format!(
            "SAFEX_IOC_STATS: {} (a module older than this safexc?)",
            io::Error::from_raw_os_error(e)
        )
    })?;
    match stats.period_us {
        0 => Err(format!(
            "the module at {} runs no periodic rounds (loaded with autorun=0)",
            module.device.display()
        )),
        p if p != ROUND => Err(format!(
            "the module's rounds are every {p} µs, the experiment's every {ROUND} µs (insmod safex.ko period_ms=10)"
        )),
        _ => Ok(()),
    }
}

fn open(module: &KernelModule) -> Result<Device, RealError> {
    Device::open(&module.device).map_err(|e: OpenError| RealError::Module(format!("{}: {e}", module.device.display())))
}

/// The module, set up for the run's tasks (the processes, then the
/// disturbance); undone when dropped.
pub(super) struct KernelSide {
    dev: Device,
    tasks: Vec<Task>,
    exts: Vec<u32>,
    guard: Option<u32>,
    attached: bool,
}

impl KernelSide {
    pub(super) fn new(module: &KernelModule, tasks: Vec<Task>) -> Result<KernelSide, RealError> {
        let mut side = KernelSide {
            dev: open(module)?,
            tasks,
            exts: Vec::new(),
            guard: None,
            attached: false,
        };
        if let Some(guard) = &module.signed_guard {
            match side.dev.load(guard, "", uapi::LOAD_GUARD) {
                Ok(id) => side.guard = Some(id),
                Err(libc::EEXIST) => {}
                Err(e) => return Err(errno("loading the timeslice guard".into())(e)),
            }
        }
        for task in &side.tasks {
            let name = app_name(task);
            let target = task.target;
            side.attach(task, 0)
                .map_err(errno(format!("creating application {name}")))?;
            let util = (target * 1000 / task.period.max(1)) as i64;
            for (attr, value) in [
                ("actual_cpu", target as i64),
                ("avg_util_2p", util),
                ("timeslice_adjustment", 0),
            ] {
                side.dev
                    .attr(&name, attr, Some(value))
                    .map_err(errno(format!("writing {name}'s {attr}")))?;
            }
            let id = side
                .dev
                .load(&module.signed_pid, &name, 0)
                .map_err(errno(format!("loading the PID extension for {name}")))?;
            side.exts.push(id);
        }
        Ok(side)
    }

    /// The thread's work: attaches the tasks at the start instant, reads
    /// the round count at each burst's start and end, and at the run's end
    /// what the module did.
    pub(super) fn run(
        mut self,
        ready: mpsc::Sender<()>,
        start: &mpsc::Receiver<u64>,
        stop: &AtomicBool,
        length: Us,
        bursts: &[(Us, Us)],
    ) -> Result<Rounds, RealError> {
        super::set_scheduler(0, Policy::Fifo, PRIORITY, "the kernel-level side")?;
        let _ = ready.send(());
        drop(ready);
        let mut rounds = Rounds::default();
        let Ok(t0) = start.recv() else {
            return Ok(rounds);
        };
        if !wait_until(t0, stop) {
            return Ok(rounds);
        }
        self.attached = true;
        // An attached task is a deadline task, which runs before this
        // thread: left running, the first would take its whole runtime
        // before the next is attached (40–200 ms in QEMU), and their
        // periods would not begin together. So all are stopped first
        // (the SIGSTOP takes effect when a task next runs: at once when
        // attached) and continued once all are.
        for task in &self.tasks {
            task.signal(libc::SIGSTOP)?;
        }
        let attached = self.tasks.iter().try_for_each(|task| {
            self.attach(task, task.pid).map(drop).map_err(errno(format!(
                "attaching {} to {}",
                task.label(),
                app_name(task)
            )))
        });
        let continued = self.tasks.iter().try_for_each(|task| task.signal(libc::SIGCONT));
        attached.and(continued)?;
        self.stats(true)?;
        let at = |us: Us| t0.saturating_add(us.min(length).saturating_mul(NS_PER_US));
        for &(begin, end) in bursts.iter().filter(|&&(begin, _)| begin < length) {
            if !wait_until(at(begin), stop) {
                return Ok(rounds);
            }
            let before = self.stats(false)?.rounds;
            if !wait_until(at(end), stop) {
                return Ok(rounds);
            }
            rounds.rounds_in_bursts += self.stats(false)?.rounds - before;
        }
        if !wait_until(at(length), stop) {
            return Ok(rounds);
        }
        let stats = self.stats(false)?;
        rounds.rounds = stats.rounds;
        rounds.longest_gap = stats.longest_gap_ns / NS_PER_US;
        rounds.refused = stats.refused;
        let mut trapped = 0;
        for x in self.dev.list().map_err(errno("SAFEX_IOC_LIST".into()))? {
            if self.exts.contains(&x.id) {
                rounds.invocations += x.invocations;
                trapped += x.aborts + x.deadlines;
            }
        }
        if trapped != 0 {
            return Err(RealError::Module(format!(
                "the PID extensions trapped {trapped} times in the module (safexc log)"
            )));
        }
        self.undo()?;
        Ok(rounds)
    }

    /// Sets `task`'s application in the module with task `pid` (0: none).
    /// The module reserves the task's target at once; Linux refuses it
    /// (EBUSY) while deadline tasks that ended just before (the test before
    /// this run, a bookkeeping thread) still hold their bandwidth until
    /// their 0-lag time, so a refusal is retried for up to
    /// [`ADMISSION_WAIT_NS`] (a CI guest once refused the disturbance,
    /// attached last, on 6.1).
    fn attach(&self, task: &Task, pid: libc::pid_t) -> Result<u32, i32> {
        let period = u32::try_from(task.period).unwrap_or(u32::MAX);
        let give_up = now_ns().saturating_add(ADMISSION_WAIT_NS);
        loop {
            match self.dev.app(&app_name(task), pid, period, task.target) {
                Err(libc::EBUSY) if now_ns() < give_up => std::thread::sleep(std::time::Duration::from_millis(5)),
                result => return result,
            }
        }
    }

    fn stats(&self, reset: bool) -> Result<uapi::Stats, RealError> {
        self.dev.stats(reset).map_err(errno("SAFEX_IOC_STATS".into()))
    }

    /// Detaches the tasks and unloads what this side loaded; the first
    /// error, after trying everything.
    fn undo(&mut self) -> Result<(), RealError> {
        let mut result = Ok(());
        if std::mem::take(&mut self.attached) {
            for task in &self.tasks {
                if let Err(e) = self.attach(task, 0) {
                    result = result.and(Err(errno(format!("detaching {}'s task", app_name(task)))(e)));
                }
            }
        }
        for id in self.exts.drain(..).chain(self.guard.take()) {
            if let Err(e) = self.dev.unload(id, false) {
                result = result.and(Err(errno(format!("unloading extension {id}"))(e)));
            }
        }
        result
    }
}

impl Drop for KernelSide {
    /// On error paths: undoes what is left, as well as it can.
    fn drop(&mut self) {
        let _ = self.undo();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_device_is_not_usable() {
        let module = KernelModule {
            device: PathBuf::from("/nonexistent/safex"),
            signed_pid: Vec::new(),
            signed_guard: None,
        };
        let why = usable(&module).unwrap_err();
        assert!(why.contains("/nonexistent/safex"), "{why}");
    }
}
