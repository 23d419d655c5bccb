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
//!   are the same: the module's later changes of the runtime keep them
//!   (Linux keeps a deadline task's current deadline when its parameters
//!   change). The processes and the disturbance together are given the
//!   95 % of the CPU Linux admits for deadline tasks
//!   ([`crate::experiment::Setup::spare`]).
//! - **The bookkeeping threads' share** (this thread's and the
//!   measurement thread's reservations, 2.2 % of the CPU) is taken from
//!   the disturbance's promise, which Linux's admission control would
//!   otherwise refuse: the tasks together have the 95 % less that.
//! - **What it reports** comes from the module: its periodic rounds, the
//!   longest gap between two and the reservations the scheduler refused
//!   since the start (`SAFEX_IOC_STATS`); the rounds in bursts, from the
//!   round count read at each burst's start and end; the invocations of
//!   its extensions (`SAFEX_IOC_LIST`).
//! - **Above the tasks.** This thread and the measurement thread are
//!   SCHED_DEADLINE tasks themselves (`BOOKKEEPING_RUNTIME_NS`), as the
//!   tasks become: a real-time priority would wait for every task's
//!   reservation. Both wake only on the measurement's grid of 100 ms from
//!   the start (see `BOOKKEEPING_RUNTIME_NS`), so this thread reads the
//!   round count at the first instant of the grid from a burst's start
//!   and end: the rounds in bursts are counted within 10 rounds.
//! - **Cleanup**, on success, error or panic: the tasks are detached and
//!   given SCHED_NORMAL back, the extensions unloaded,
//!   the guard too if this side installed it. The applications stay in
//!   the module, without a task, and are reused by the next run.

use super::{BOOKKEEPING_PPM, DISTURBANCE, GRID_NS, NS_PER_US, RealError, Rounds, Task, wait_on_grid};
use crate::experiment::ROUND;
use crate::sched::Us;
use runtime::device::{Device, OpenError, uapi};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;

/// What a task's application is promised: its target, less for the
/// disturbance what the bookkeeping threads reserve.
fn promise(task: &Task) -> Us {
    if task.name == DISTURBANCE {
        task.target.saturating_sub(task.period * BOOKKEEPING_PPM / 1_000_000)
    } else {
        task.target
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
            let (period, target) = (u32::try_from(task.period).unwrap_or(u32::MAX), promise(task));
            side.dev
                .app(&name, 0, period, target)
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
        super::set_deadline("the kernel-level side")?;
        let _ = ready.send(());
        drop(ready);
        let mut rounds = Rounds::default();
        let Ok(t0) = start.recv() else {
            return Ok(rounds);
        };
        if !wait_on_grid(t0, t0, stop) {
            return Ok(rounds);
        }
        self.attached = true;
        for task in &self.tasks {
            let name = app_name(task);
            let period = u32::try_from(task.period).unwrap_or(u32::MAX);
            self.dev
                .app(&name, task.pid, period, promise(task))
                .map_err(errno(format!("attaching {} to {name}", task.label())))?;
        }
        self.stats(true)?;
        // On the grid, at or after `us`.
        let at = |us: Us| {
            let ns = us.min(length).saturating_mul(NS_PER_US).div_ceil(GRID_NS) * GRID_NS;
            t0.saturating_add(ns.min(length * NS_PER_US))
        };
        for &(begin, end) in bursts.iter().filter(|&&(begin, _)| begin < length) {
            if !wait_on_grid(t0, at(begin), stop) {
                return Ok(rounds);
            }
            let before = self.stats(false)?.rounds;
            if !wait_on_grid(t0, at(end), stop) {
                return Ok(rounds);
            }
            rounds.rounds_in_bursts += self.stats(false)?.rounds - before;
        }
        if !wait_on_grid(t0, at(length), stop) {
            return Ok(rounds);
        }
        let stats = self.stats(false)?;
        rounds.rounds = stats.rounds;
        rounds.longest_gap = stats.longest_gap_ns / NS_PER_US;
        rounds.refused = stats.refused;
        let listed = self.dev.list().map_err(errno("SAFEX_IOC_LIST".into()))?;
        rounds.invocations = listed
            .iter()
            .filter(|x| self.exts.contains(&x.id))
            .map(|x| x.invocations)
            .sum();
        let trapped: u64 = listed
            .iter()
            .filter(|x| self.exts.contains(&x.id))
            .map(|x| x.aborts + x.deadlines)
            .sum();
        if trapped != 0 {
            return Err(RealError::Module(format!(
                "the PID extensions trapped {trapped} times in the module (safexc log)"
            )));
        }
        self.undo()?;
        Ok(rounds)
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
                let name = app_name(task);
                let period = u32::try_from(task.period).unwrap_or(u32::MAX);
                if let Err(e) = self.dev.app(&name, 0, period, promise(task)) {
                    result = result.and(Err(errno(format!("detaching {name}'s task"))(e)));
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
