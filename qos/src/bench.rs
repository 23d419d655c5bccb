//! The paper's Benchmarks slide, measured on this machine: what the
//! simulation charges ([`Costs`]) for signals, context switches, reads of
//! `/proc/PID/stat` and the service manager's work, measured here instead
//! of taken from the paper's 500 MHz Pentium III.
//!
//! Every measurement times batches of operations with the monotonic clock
//! ([`Instant`]); one batch is a sample, and a figure is the median of
//! [`Options::samples`] samples with their 10th and 90th percentiles. One
//! unrecorded batch of each comes first (caches, page faults, lazy
//! binding). Where a figure is a difference or a comparison, the batches
//! of both sides alternate in the same loop, so a change of the machine's
//! speed during the run reaches both alike.
//!
//! - **Signal dispatch**: `tgkill` of `SIGUSR1` to this thread (what
//!   `raise` does, without the signal masking glibc wraps around it), with
//!   a handler installed that counts: sending, delivering, running the
//!   handler and returning from it (`rt_sigreturn`), per signal. The
//!   previous handler and signal mask are restored afterwards.
//! - **Context switch between two processes**, the way lmbench's
//!   `lat_ctx` measures it: this thread and a forked child, both pinned to
//!   the CPU this thread runs on, pass a byte back and forth through two
//!   pipes. A round trip is two switches, two writes and two reads; the
//!   same writes and reads in one process (its own two pipes, no switch)
//!   are subtracted and the rest halved. Where pinning is refused (a
//!   container), the processes run unpinned and the figure's note says
//!   so: then it measures a wake-up on another CPU rather than a switch.
//! - **Reading `/proc/PID/stat`**: what a user-level manager does for each
//!   process each period: open, read, close, and parse `utime` and
//!   `stime`, of three live (sleeping) child processes in turn, per read.
//! - **The monitors and handlers for 3 processes**, one service round over
//!   three applications that each run the paper's compiled PID extension
//!   (`examples/obj/cpu_pid.o`), the standard timeslice guard installed,
//!   with the targets and periods of the paper's setup A:
//!   - *user-level manager*: this process acting as the manager: reads the
//!     three children's `/proc/PID/stat`, writes each application's
//!     `actual_cpu` and `avg_util_2p` into a `runtime::Host`, runs
//!     `Host::tick`, and sends the child one signal (`SIGCONT`, harmless
//!     to a running process) for each adjustment the round made;
//!   - *SafeX host in process*: the same round without the reads and the
//!     signals: the attribute writes (the user-level round's values) and
//!     the tick, in a second host set up alike;
//!   - *in the kernel*: when [`Options::device`] opens and the PID
//!     extension signed with the module's key is given: `SAFEX_IOC_ROUND`
//!     timed by the module's clock, over three applications of the loader
//!     module set up alike. They have no task (pid 0), as in
//!     `bench/src/bin/kmod_bench.rs`: the module measures nothing and
//!     reserves nothing, so the row is the monitors, handlers and guard,
//!     like the host's; the inputs are written through `SAFEX_IOC_ATTR`
//!     before each batch.
//!
//! [`Measured::costs`] derives from these: `signal`, `context_switch` and
//! `proc_read` are the first three medians; `kernel_per_app` is the
//! in-kernel round's median over 3 when measured, else the host round's
//! (the simulation's kernel-level management is the host's work);
//! `user_per_app` is the user-level round less its three reads, over 3,
//! and at least the host's per application (the round's signals stay in
//! it: a SIGCONT to a running process runs no handler and costs less than
//! `signal`).
//!
//! All processes this module starts are its own forked children, which run
//! nothing but a loop of `read` and `write` on pipes (no allocation: the
//! parent may be multi-threaded), die with the thread that forked them,
//! and are killed and reaped on every path out.

#![deny(clippy::undocumented_unsafe_blocks)]

use crate::costs::{Costs, MAX_COST_NS};
use crate::experiment::{Process, Setup, pid_app, unwatched_host};
use runtime::device::{DEFAULT_PATH, Device, uapi};
use runtime::{AppId, Host, WriteOutcome};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, PipeReader, PipeWriter, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Samples per figure by default: about 1.3 s in all, in release, on the
/// project's 2-core VM.
pub const DEFAULT_SAMPLES: u32 = 51;
const MAX_SAMPLES: u32 = 100_000;

/// Operations per sample (one timed batch) of each measurement.
const SIGNALS: u32 = 1_000;
const ROUND_TRIPS: u32 = 1_000;
/// A multiple of 3: each of the three children is read as often.
const PROC_READS: u32 = 999;
const ROUNDS: u32 = 300;

/// The processes a service round serves: the paper's three.
const PROCESSES: usize = 3;

const SIGNAL: &str = "signal dispatch";
const SWITCH: &str = "context switch between two processes";
const PROC_READ: &str = "reading /proc/PID/stat";
const USER: &str = "monitors and handlers, 3 processes: user-level manager";
const HOST: &str = "monitors and handlers, 3 processes: SafeX host in process";
const KERNEL: &str = "monitors and handlers, 3 processes: in the kernel";
const KERNEL_EMULATED: &str = "monitors and handlers, 3 processes: in the kernel (QEMU guest, emulated)";

/// The paper's figures, ns.
const PAPER_SIGNAL: u64 = 1_500;
const PAPER_SWITCH: u64 = 2_990;
const PAPER_PROC_READ: u64 = 53_870;
const PAPER_USER: u64 = 190_000;
const PAPER_KERNEL: u64 = 20_000;

/// What to measure.
#[derive(Clone, Debug)]
pub struct Options {
    /// Samples (timed batches) per figure, 1 to 100,000.
    pub samples: u32,
    /// The loader module's device, for the in-kernel row.
    pub device: Option<PathBuf>,
    /// For the in-kernel row: `examples/obj/cpu_pid.o` signed with the
    /// module's key (`safexc sign`); without it the row is left out.
    pub signed_pid: Option<Vec<u8>>,
    /// The standard timeslice guard signed likewise, installed for the
    /// row and removed after it; not needed when the module has it
    /// installed already.
    pub signed_guard: Option<Vec<u8>>,
}

impl Default for Options {
    /// [`DEFAULT_SAMPLES`]; `/dev/safex` when it exists; no signed objects.
    fn default() -> Options {
        Options {
            samples: DEFAULT_SAMPLES,
            device: Path::new(DEFAULT_PATH).exists().then(|| DEFAULT_PATH.into()),
            signed_pid: None,
            signed_guard: None,
        }
    }
}

/// One measured figure, ns per operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    pub name: &'static str,
    /// The paper's figure for it.
    pub paper_ns: Option<u64>,
    pub median_ns: u64,
    pub p10_ns: u64,
    pub p90_ns: u64,
    /// How it was measured, and what else to know to read it.
    pub note: String,
}

/// Everything [`measure`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measured {
    /// In the order of the paper's slide; the in-kernel row only when measured.
    pub figures: Vec<Figure>,
    /// What the simulation should charge on this machine.
    pub costs: Costs,
    /// The CPU, its count, the kernel release, and whether it is a
    /// virtual machine or emulated.
    pub machine: String,
}

/// Measures every figure; `progress` hears what is being measured.
pub fn measure(opts: &Options, mut progress: impl FnMut(&str)) -> Result<Measured, String> {
    if !(1..=MAX_SAMPLES).contains(&opts.samples) {
        return Err(format!("samples must be from 1 to {MAX_SAMPLES}, not {}", opts.samples));
    }
    let n = opts.samples;
    let (machine, emulated) = machine();
    progress(SIGNAL);
    let signal = signal_dispatch(n)?;
    progress(SWITCH);
    let switch = context_switch(n)?;
    let children = (0..PROCESSES).map(|_| Child::fork()).collect::<Result<Vec<_>, _>>()?;
    progress(PROC_READ);
    let proc_read = proc_reads(&children, n)?;
    progress("service rounds of 3 processes");
    let rounds = service_rounds(opts, &children, n, emulated)?;
    drop(children);

    let per_process = |ns: u64| ns / PROCESSES as u64;
    let host_per_app = per_process(rounds.host.median_ns);
    let signals_per_round = rounds.signals as f64 / rounds.user_rounds.max(1) as f64;
    // The round's SIGCONTs stay in: one to a process that is not stopped
    // costs less than `signal` (no handler runs), so subtracting that would
    // take off more than they cost.
    let user_work = rounds
        .user
        .median_ns
        .saturating_sub(PROCESSES as u64 * proc_read.median_ns);
    // Within what a costs file allows (a second: far above any figure here).
    let cap = |ns: u64| ns.min(MAX_COST_NS);
    let costs = Costs {
        kernel_per_app: cap(per_process(rounds.kernel.as_ref().unwrap_or(&rounds.host).median_ns)),
        user_per_app: cap(per_process(user_work).max(host_per_app)),
        proc_read: cap(proc_read.median_ns),
        context_switch: cap(switch.median_ns),
        signal: cap(signal.median_ns),
    };
    let mut user = rounds.user;
    let _ = write!(
        user.note,
        "; {signals_per_round:.1} signals a round; user_per_app = (median − 3 × /proc read) / 3, \
         at least the host's: {} ns",
        costs.user_per_app
    );
    let mut host = rounds.host;
    let _ = write!(
        host.note,
        "; kernel_per_app = {} / 3 = {} ns{}",
        if rounds.kernel.is_some() {
            "the in-kernel round"
        } else {
            "this"
        },
        costs.kernel_per_app,
        rounds
            .no_kernel
            .map_or(String::new(), |why| format!("; no in-kernel row: {why}"))
    );
    let mut figures = vec![signal, switch, proc_read, user, host];
    figures.extend(rounds.kernel);
    Ok(Measured {
        figures,
        costs,
        machine,
    })
}

impl Measured {
    /// The figures beside the paper's, then each figure's note.
    pub fn table(&self) -> String {
        let mut t = String::from(
            "| measure | paper (PIII 500 MHz) | this machine median (p10–p90) | ratio (this / paper) |\n\
             |---|---:|---:|---:|\n",
        );
        for f in &self.figures {
            let paper = f.paper_ns.map_or_else(|| "-".into(), us);
            let ratio = f
                .paper_ns
                .map_or_else(|| "-".into(), |p| format!("{:.2}x", f.median_ns as f64 / p as f64));
            let _ = writeln!(
                t,
                "| {} | {paper} | {} ({}–{}) | {ratio} |",
                f.name,
                us(f.median_ns),
                us(f.p10_ns),
                us(f.p90_ns)
            );
        }
        t.push('\n');
        for f in &self.figures {
            let _ = writeln!(t, "- {}: {}", f.name, f.note);
        }
        t
    }
}

/// Nanoseconds as microseconds, the paper's unit.
fn us(ns: u64) -> String {
    if ns < 100_000 {
        format!("{:.2} µs", ns as f64 / 1e3)
    } else {
        format!("{:.1} µs", ns as f64 / 1e3)
    }
}

/// A figure from its samples (ns per operation; at least one).
fn figure(name: &'static str, paper_ns: u64, mut samples: Vec<u64>, note: String) -> Figure {
    samples.sort_unstable();
    let at = |percent: usize| {
        let i = (percent * (samples.len().saturating_sub(1)) + 50) / 100;
        samples.get(i).copied().unwrap_or(0).max(1)
    };
    Figure {
        name,
        paper_ns: Some(paper_ns),
        median_ns: at(50),
        p10_ns: at(10),
        p90_ns: at(90),
        note,
    }
}

/// Nanoseconds per operation of `ops` operations that took `elapsed`.
fn per(elapsed: Duration, ops: u32) -> u64 {
    (elapsed.as_nanos() / u128::from(ops)) as u64
}

/// The error of the system call `what` that just failed, from errno.
fn os_error(what: &str) -> String {
    format!("{what}: {}", io::Error::last_os_error())
}

// ---------------------------------------------------------------------------
// Signal dispatch

/// Signals the handler has run for.
static DELIVERED: AtomicU64 = AtomicU64::new(0);
/// `sigaction` is the process's: one measurement of signals at a time.
static SIGNAL_LOCK: Mutex<()> = Mutex::new(());

/// The handler: counts. Async-signal-safe: one lock-free atomic add on a
/// static (x86-64 `lock xadd`), no allocation, no lock, errno untouched.
extern "C" fn count_signal(_: libc::c_int) {
    DELIVERED.fetch_add(1, Ordering::Relaxed);
}

/// [`count_signal`] installed for `SIGUSR1` and the signal unblocked in
/// this thread; dropping it restores the previous mask and handler.
struct Handler {
    old_action: libc::sigaction,
    old_mask: Option<libc::sigset_t>,
}

impl Handler {
    fn install() -> Result<Handler, String> {
        // SAFETY: `sigaction` is a C struct of integers, a function address
        // and a bit set, for which all zeros is valid (no flags, SIG_DFL).
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = count_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        // SAFETY: as above, the all-zeros `sigaction` is valid.
        let mut old_action: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: `action.sa_mask` is a live local `sigset_t` that only this
        // call writes.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: the kernel reads `action` and writes `old_action`, both
        // live locals borrowed for the call only. The handler it installs
        // may run at any point of any thread that has SIGUSR1 unblocked,
        // and is async-signal-safe: it does one lock-free atomic add on a
        // static (no allocation, no lock, no errno, no reference to
        // anything a thread could be in the middle of changing). The
        // disposition is the process's: the caller holds SIGNAL_LOCK, so
        // no other measurement replaces it concurrently, and `Drop` puts
        // the old one back.
        if unsafe { libc::sigaction(libc::SIGUSR1, &action, &mut old_action) } != 0 {
            return Err(os_error("sigaction(SIGUSR1)"));
        }
        let mut handler = Handler {
            old_action,
            old_mask: None,
        };
        // SAFETY: as above, all zeros is a valid (empty) `sigset_t`.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut old_mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a live local `sigset_t` only this call writes.
        unsafe { libc::sigaddset(&mut set, libc::SIGUSR1) };
        // SAFETY: reads `set` and writes `old_mask`, live locals; the mask
        // changed is this thread's alone.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, &mut old_mask) };
        if r != 0 {
            return Err(format!(
                "pthread_sigmask(SIG_UNBLOCK, SIGUSR1): {}",
                io::Error::from_raw_os_error(r)
            ));
        }
        handler.old_mask = Some(old_mask);
        Ok(handler)
    }
}

impl Drop for Handler {
    fn drop(&mut self) {
        if let Some(mask) = &self.old_mask {
            // SAFETY: reads `mask`, owned by `self`; this thread's mask
            // only. It cannot fail with a valid `how` and set.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, mask, std::ptr::null_mut()) };
        }
        // SAFETY: reads `self.old_action`, the disposition `install` found
        // (a valid one: the kernel wrote it); SIGNAL_LOCK is still held by
        // the measurement that owns `self`.
        unsafe { libc::sigaction(libc::SIGUSR1, &self.old_action, std::ptr::null_mut()) };
    }
}

fn signal_dispatch(samples: u32) -> Result<Figure, String> {
    let _lock = SIGNAL_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let handler = Handler::install()?;
    // SAFETY: getpid and gettid take no arguments and cannot fail.
    let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
    let mut per_signal = Vec::new();
    for s in 0..=samples {
        let before = DELIVERED.load(Ordering::Relaxed);
        let start = Instant::now();
        for _ in 0..SIGNALS {
            // SAFETY: integer arguments only: SIGUSR1 to this thread (of
            // this process), whose handler is `count_signal`, installed
            // above and async-signal-safe. The signal is unblocked in this
            // thread, so it is delivered before the call returns to us.
            if unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGUSR1) } != 0 {
                return Err(os_error("tgkill(SIGUSR1)"));
            }
        }
        let elapsed = start.elapsed();
        let delivered = DELIVERED.load(Ordering::Relaxed) - before;
        if delivered < u64::from(SIGNALS) {
            return Err(format!("{delivered} of {SIGNALS} SIGUSR1 sent reached the handler"));
        }
        if s > 0 {
            per_signal.push(per(elapsed, SIGNALS));
        }
    }
    drop(handler);
    Ok(figure(
        SIGNAL,
        PAPER_SIGNAL,
        per_signal,
        format!(
            "tgkill(SIGUSR1) to this thread, a handler that counts: send, delivery, handler, sigreturn; \
             {SIGNALS} a sample"
        ),
    ))
}

// ---------------------------------------------------------------------------
// Child processes

/// A forked child that echoes each byte it reads from `to` back on
/// `from`, and sleeps in `read` otherwise. Dropping it kills and reaps it.
struct Child {
    pid: libc::pid_t,
    to: PipeWriter,
    from: PipeReader,
}

impl Child {
    fn fork() -> Result<Child, String> {
        let (child_in, to) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
        let (from, child_out) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
        let parent = std::process::id();
        // SAFETY: the child runs only `echo`, which makes async-signal-safe
        // system calls (prctl, getppid, read, write, _exit), allocates
        // nothing and takes no lock, so nothing that another thread of a
        // multi-threaded parent held at the fork is touched; it uses its
        // copies of the two pipe ends, open across the fork (close-on-exec
        // matters only to exec), and never returns to Rust code that would
        // run destructors.
        match unsafe { libc::fork() } {
            -1 => Err(os_error("fork")),
            0 => echo(child_in.as_raw_fd(), child_out.as_raw_fd(), parent),
            pid => Ok(Child { pid, to, from }),
        }
    }

    /// Sends the child SIGCONT: what a manager sends a process it lets
    /// run again; harmless to one that runs (or sleeps, as this one).
    fn cont(&self) -> Result<(), String> {
        // SAFETY: integer arguments only. `self.pid` is this process's
        // child, not reaped while `self` lives (only `drop` reaps it), so
        // the pid still names it and no other process.
        if unsafe { libc::kill(self.pid, libc::SIGCONT) } != 0 {
            return Err(os_error(&format!("kill({}, SIGCONT)", self.pid)));
        }
        Ok(())
    }

    /// A round trip: a byte to the child and back.
    fn round_trip(&mut self, byte: &mut [u8; 1]) -> Result<(), String> {
        self.to
            .write_all(byte)
            .map_err(|e| format!("write to the child's pipe: {e}"))?;
        self.from
            .read_exact(byte)
            .map_err(|e| format!("read from the child's pipe: {e}"))
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // SAFETY: as in `cont`, the pid is our unreaped child.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        let mut status = 0;
        loop {
            // SAFETY: writes `status`, a live local; waits for our own
            // child, which only this `drop` reaps.
            let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if r != -1 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        }
    }
}

/// The forked child's whole life: dies with the thread that forked it,
/// then echoes bytes from `rfd` to `wfd` until end of file. Only system
/// calls: no allocation, no lock (`io::Error::last_os_error` reads errno
/// into an integer).
fn echo(rfd: RawFd, wfd: RawFd, parent: u32) -> ! {
    // SAFETY: integer arguments only; affects this process alone.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // SAFETY: no arguments.
    if unsafe { libc::getppid() } as u32 != parent {
        // The parent died before the prctl took effect.
        // SAFETY: ends this process; nothing is left to clean up.
        unsafe { libc::_exit(1) };
    }
    let mut byte = 0u8;
    loop {
        // SAFETY: reads at most one byte into `byte`, a live local only
        // this process uses; `rfd` is this process's copy of the pipe's
        // read end.
        let n = unsafe { libc::read(rfd, (&raw mut byte).cast(), 1) };
        let ok = match n {
            // SAFETY: writes the byte read from the live local `byte` to
            // this process's copy of the other pipe's write end.
            1 => (unsafe { libc::write(wfd, (&raw const byte).cast(), 1) }) == 1,
            // SAFETY: end of file: the parent closed its end; nothing is
            // left to clean up.
            0 => unsafe { libc::_exit(0) },
            _ => io::Error::last_os_error().raw_os_error() == Some(libc::EINTR),
        };
        if !ok {
            // SAFETY: as above.
            unsafe { libc::_exit(1) };
        }
    }
}

// ---------------------------------------------------------------------------
// Context switch

/// This thread pinned to one CPU; dropping it restores its affinity.
struct Pinned {
    cpu: usize,
    old: libc::cpu_set_t,
}

impl Pinned {
    /// Pins this thread to the CPU it runs on; the error says why not.
    fn to_current_cpu() -> Result<Pinned, String> {
        // SAFETY: no arguments.
        let cpu = unsafe { libc::sched_getcpu() };
        if cpu < 0 {
            return Err(os_error("sched_getcpu"));
        }
        let cpu = cpu as usize;
        let size = size_of::<libc::cpu_set_t>();
        // SAFETY: `cpu_set_t` is a bit array: all zeros is the empty set.
        let (mut old, mut one): (libc::cpu_set_t, libc::cpu_set_t) = unsafe { std::mem::zeroed() };
        // SAFETY: the kernel writes at most `size` bytes into `old`, a live
        // local of that size; pid 0 is this thread.
        if unsafe { libc::sched_getaffinity(0, size, &mut old) } != 0 {
            return Err(os_error("sched_getaffinity"));
        }
        if cpu >= 8 * size {
            return Err(format!("CPU {cpu} is beyond a cpu_set_t"));
        }
        // SAFETY: sets bit `cpu` of the live local `one`, within its size
        // (checked above).
        unsafe { libc::CPU_SET(cpu, &mut one) };
        // SAFETY: the kernel reads `size` bytes of `one`, a live local;
        // pid 0 is this thread, whose affinity only it changes.
        if unsafe { libc::sched_setaffinity(0, size, &one) } != 0 {
            return Err(os_error(&format!("sched_setaffinity(CPU {cpu})")));
        }
        Ok(Pinned { cpu, old })
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        // SAFETY: the kernel reads `self.old`, the mask the kernel gave
        // `to_current_cpu`; this thread's affinity only. The CPUs were
        // allowed before, so this does not fail (and if it did, the
        // thread would stay on one allowed CPU).
        unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &self.old) };
    }
}

fn context_switch(samples: u32) -> Result<Figure, String> {
    let pinned = Pinned::to_current_cpu();
    // Forked while pinned: the child inherits the one CPU.
    let mut child = Child::fork()?;
    let (mut r1, mut w1) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (mut r2, mut w2) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let mut byte = [0u8];
    let (mut per_switch, mut trips, mut overheads) = (Vec::new(), Vec::new(), Vec::new());
    for s in 0..=samples {
        let start = Instant::now();
        for _ in 0..ROUND_TRIPS {
            w1.write_all(&byte)
                .and_then(|()| r1.read_exact(&mut byte))
                .and_then(|()| w2.write_all(&byte))
                .and_then(|()| r2.read_exact(&mut byte))
                .map_err(|e| format!("write and read of an own pipe: {e}"))?;
        }
        let overhead = start.elapsed();
        let start = Instant::now();
        for _ in 0..ROUND_TRIPS {
            child.round_trip(&mut byte)?;
        }
        let trip = start.elapsed();
        if s > 0 {
            per_switch.push((per(trip, ROUND_TRIPS).saturating_sub(per(overhead, ROUND_TRIPS)) / 2).max(1));
            trips.push(per(trip, ROUND_TRIPS));
            overheads.push(per(overhead, ROUND_TRIPS));
        }
    }
    drop(child);
    let (trip, overhead) = (median(trips), median(overheads));
    let how = match &pinned {
        Ok(p) => format!("both processes pinned to CPU {}", p.cpu),
        Err(why) => format!(
            "NOT pinned ({why}): the processes may run on two CPUs, so this is a cross-CPU wake-up rather than \
             a switch"
        ),
    };
    drop(pinned);
    Ok(figure(
        SWITCH,
        PAPER_SWITCH,
        per_switch,
        format!(
            "lat_ctx: a byte back and forth through two pipes with a forked child, {how}; (round trip {} − the \
             same 2 writes and 2 reads in one process {}) / 2; {ROUND_TRIPS} round trips a sample",
            us(trip),
            us(overhead)
        ),
    ))
}

/// The median of some values (at least one).
fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

// ---------------------------------------------------------------------------
// /proc/PID/stat

/// Reads processes' CPU time the way a user-level manager does.
struct Stat {
    paths: Vec<PathBuf>,
    /// A clock tick (`utime` and `stime`'s unit), µs.
    tick_us: u64,
    buf: Box<[u8; 4096]>,
}

impl Stat {
    fn new(children: &[Child]) -> Result<Stat, String> {
        // SAFETY: an integer argument; reads a constant of the system.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if hz <= 0 {
            return Err(os_error("sysconf(_SC_CLK_TCK)"));
        }
        Ok(Stat {
            paths: children
                .iter()
                .map(|c| format!("/proc/{}/stat", c.pid).into())
                .collect(),
            tick_us: (1_000_000 / hz) as u64,
            buf: Box::new([0; 4096]),
        })
    }

    /// Process `i`'s CPU time (`utime + stime`), µs: open, read, close, parse.
    fn cpu_us(&mut self, i: usize) -> Result<u64, String> {
        let path = &self.paths[i];
        let mut file = File::open(path).map_err(|e| format!("open {}: {e}", path.display()))?;
        let mut len = 0;
        while len < self.buf.len() {
            match file.read(&mut self.buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read {}: {e}", path.display())),
            }
        }
        drop(file);
        let text = &self.buf[..len];
        cpu_ticks(text).map(|t| t * self.tick_us).ok_or_else(|| {
            format!(
                "{}: no utime and stime in `{}`",
                path.display(),
                String::from_utf8_lossy(text).trim_end()
            )
        })
    }
}

/// `utime + stime` (fields 14 and 15) of a `/proc/PID/stat` line, clock
/// ticks. The name (field 2) is in parentheses and may hold anything, so
/// fields are counted after its last `)`.
fn cpu_ticks(stat: &[u8]) -> Option<u64> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let mut fields = stat[close + 1..]
        .split(u8::is_ascii_whitespace)
        .filter(|f| !f.is_empty());
    let mut number = |skip: usize| std::str::from_utf8(fields.nth(skip)?).ok()?.parse::<u64>().ok();
    // After the name: state (3), ppid, ..., cmajflt (13), utime (14), stime (15).
    let utime = number(11)?;
    let stime = number(0)?;
    utime.checked_add(stime)
}

fn proc_reads(children: &[Child], samples: u32) -> Result<Figure, String> {
    let mut stat = Stat::new(children)?;
    let mut per_read = Vec::new();
    for s in 0..=samples {
        let start = Instant::now();
        for k in 0..PROC_READS {
            stat.cpu_us(k as usize % children.len())?;
        }
        if s > 0 {
            per_read.push(per(start.elapsed(), PROC_READS));
        }
    }
    Ok(figure(
        PROC_READ,
        PAPER_PROC_READ,
        per_read,
        format!(
            "open, read, close and parse utime and stime, of {} sleeping child processes in turn; {PROC_READS} \
             reads a sample",
            children.len()
        ),
    ))
}

// ---------------------------------------------------------------------------
// Service rounds

/// What a round writes for a process: its CPU time in the last period,
/// µs, and its utilization over the last two, per mille.
#[derive(Clone, Copy, Default)]
struct Input {
    actual: i64,
    util: i64,
}

/// A host with the standard system, and an application per process, each
/// running the PID extension.
struct Managed {
    host: Host,
    apps: Vec<AppId>,
}

impl Managed {
    fn new(processes: &[Process]) -> Result<Managed, String> {
        // As the experiment's host: no deadline.
        let mut host = unwatched_host()?;
        let mut apps = Vec::new();
        for p in processes {
            let app = pid_app(&mut host, &p.name, p.target, p.period)?;
            apps.push(app);
        }
        Ok(Managed { host, apps })
    }

    /// One round: the inputs written, the monitors and handlers run;
    /// `adjusted(i)` for each adjustment of process `i`'s timeslice.
    fn round(&mut self, inputs: &[Input], mut adjusted: impl FnMut(usize) -> Result<(), String>) -> Result<(), String> {
        for (&app, input) in self.apps.iter().zip(inputs) {
            self.host
                .write_attribute(app, "actual_cpu", input.actual)
                .and_then(|()| self.host.write_attribute(app, "avg_util_2p", input.util))
                .map_err(|e| e.to_string())?;
        }
        let mut report = runtime::manager::TickReport::default();
        self.host.tick(&mut report);
        if let Some(t) = report.traps.first() {
            return Err(format!("the PID extension trapped: {:?}", t.trap));
        }
        for change in report.changes {
            let Some(i) = self.apps.iter().position(|&a| a == change.app) else {
                continue;
            };
            if change.outcome == WriteOutcome::Blocked {
                self.host.unblock(change.app);
            }
            adjusted(i)?;
        }
        Ok(())
    }
}

/// The user-level manager: this process, managing the children.
struct UserManager<'a> {
    managed: Managed,
    children: &'a [Child],
    stat: Stat,
    periods: Vec<u64>,
    /// Each child's CPU time at the last read, µs.
    last: Vec<u64>,
    signals: u64,
    rounds: u64,
}

impl UserManager<'_> {
    /// Reads each child's CPU time into `inputs`, then runs the round and
    /// signals each adjustment.
    fn round(&mut self, inputs: &mut [Input]) -> Result<(), String> {
        for (i, input) in inputs.iter_mut().enumerate() {
            let cpu = self.stat.cpu_us(i)?;
            let actual = cpu.saturating_sub(std::mem::replace(&mut self.last[i], cpu)) as i64;
            let period = self.periods[i].max(1) as i64;
            *input = Input {
                actual,
                util: (actual + input.actual) * 1000 / (2 * period),
            };
        }
        let (children, signals) = (self.children, &mut self.signals);
        self.managed.round(inputs, |i| {
            *signals += 1;
            children[i].cont()
        })?;
        self.rounds += 1;
        Ok(())
    }
}

/// The loader module's three applications with the PID extension; the
/// extensions (and the guard, if it was loaded here) are unloaded when
/// dropped.
struct Kernel {
    dev: Device,
    names: Vec<String>,
    exts: Vec<u32>,
    guard: Option<u32>,
}

/// The module's errno as an error message.
fn errno(what: &str) -> impl Fn(i32) -> String + '_ {
    move |e| format!("{what}: {}", io::Error::from_raw_os_error(e))
}

impl Kernel {
    /// Sets up the applications; also says how the guard came to be there.
    fn new(dev: Device, opts: &Options, pid: &[u8], processes: &[Process]) -> Result<(Kernel, String), String> {
        let mut k = Kernel {
            dev,
            names: Vec::new(),
            exts: Vec::new(),
            guard: None,
        };
        let guard = match &opts.signed_guard {
            Some(g) => match k.dev.load(g, "", uapi::LOAD_GUARD) {
                Ok(id) => {
                    k.guard = Some(id);
                    "the timeslice guard loaded for it"
                }
                Err(libc::EEXIST) => "the module's timeslice guard (installed before)",
                Err(e) => return Err(errno("SAFEX_IOC_LOAD of the guard")(e)),
            },
            None => "no guard given: the module's, if it has one",
        };
        for p in processes {
            let name = format!("bench-{}", p.name);
            k.dev
                .app(&name, 0, p.period as u32, p.target)
                .map_err(errno("SAFEX_IOC_APP"))?;
            k.dev
                .attr(&name, "timeslice_adjustment", Some(0))
                .map_err(errno("SAFEX_IOC_ATTR"))?;
            k.names.push(name);
        }
        for name in &k.names {
            let id = k.dev.load(pid, name, 0).map_err(errno("SAFEX_IOC_LOAD"))?;
            k.exts.push(id);
        }
        Ok((k, guard.into()))
    }

    fn write_inputs(&self, inputs: &[Input]) -> Result<(), String> {
        for (name, input) in self.names.iter().zip(inputs) {
            for (attr, value) in [("actual_cpu", input.actual), ("avg_util_2p", input.util)] {
                self.dev
                    .attr(name, attr, Some(value))
                    .map_err(errno("SAFEX_IOC_ATTR"))?;
            }
        }
        Ok(())
    }

    /// `rounds` rounds: the module's clock, ns.
    fn rounds(&self, rounds: u32) -> Result<u64, String> {
        self.dev.round(rounds).map_err(errno("SAFEX_IOC_ROUND"))
    }

    /// No extension of ours trapped; then unloads them.
    fn finish(mut self) -> Result<(), String> {
        let exts = self.dev.list().map_err(errno("SAFEX_IOC_LIST"))?;
        for x in exts.iter().filter(|x| self.exts.contains(&x.id)) {
            if x.aborts != 0 || x.deadlines != 0 {
                return Err(format!(
                    "kernel extension {} trapped: {} aborts, {} deadlines",
                    x.id, x.aborts, x.deadlines
                ));
            }
        }
        self.unload()
    }

    fn unload(&mut self) -> Result<(), String> {
        let ids: Vec<u32> = self.exts.drain(..).chain(self.guard.take()).collect();
        let mut result = Ok(());
        for id in ids {
            if let Err(e) = self.dev.unload(id, false) {
                result = result.and(Err(errno("SAFEX_IOC_UNLOAD")(e)));
            }
        }
        result
    }
}

impl Drop for Kernel {
    /// On error paths: unloads what is left, as well as it can (`finish`
    /// reports the errors on the ordinary path).
    fn drop(&mut self) {
        let _ = self.unload();
    }
}

/// The three service-round figures.
struct Rounds {
    user: Figure,
    host: Figure,
    kernel: Option<Figure>,
    /// Why there is no in-kernel figure.
    no_kernel: Option<String>,
    /// Signals the user-level manager sent, and its rounds (warm-up included).
    signals: u64,
    user_rounds: u64,
}

fn service_rounds(opts: &Options, children: &[Child], samples: u32, emulated: bool) -> Result<Rounds, String> {
    let processes = Setup::A.processes();
    let mut user = UserManager {
        managed: Managed::new(&processes)?,
        children,
        stat: Stat::new(children)?,
        periods: processes.iter().map(|p| p.period).collect(),
        last: vec![0; children.len()],
        signals: 0,
        rounds: 0,
    };
    let mut host = Managed::new(&processes)?;
    let (mut kernel, mut no_kernel, mut guard) = (None, None, String::new());
    match (&opts.device, &opts.signed_pid) {
        (None, _) => no_kernel = Some("no device given".to_owned()),
        (Some(path), pid) => match (Device::open(path), pid) {
            (Err(e), _) => no_kernel = Some(format!("{}: {e}", path.display())),
            (Ok(_), None) => no_kernel = Some("no signed PID extension given (Options::signed_pid)".into()),
            (Ok(dev), Some(pid)) => {
                let (k, g) = Kernel::new(dev, opts, pid, &processes)?;
                kernel = Some(k);
                guard = g;
            }
        },
    }
    let mut inputs = vec![Input::default(); processes.len()];
    let (mut user_ns, mut host_ns, mut kernel_ns) = (Vec::new(), Vec::new(), Vec::new());
    for s in 0..=samples {
        let start = Instant::now();
        for _ in 0..ROUNDS {
            user.round(&mut inputs)?;
        }
        let u = per(start.elapsed(), ROUNDS);
        let start = Instant::now();
        for _ in 0..ROUNDS {
            host.round(&inputs, |_| Ok(()))?;
        }
        let h = per(start.elapsed(), ROUNDS);
        let k = match &kernel {
            Some(k) => {
                k.write_inputs(&inputs)?;
                Some(k.rounds(ROUNDS)? / u64::from(ROUNDS))
            }
            None => None,
        };
        if s > 0 {
            user_ns.push(u);
            host_ns.push(h);
            kernel_ns.extend(k);
        }
    }
    if let Some(k) = kernel {
        k.finish()?;
    }
    let apps = "3 applications with the compiled PID extension, the timeslice guard, setup A's targets";
    let kernel = (!kernel_ns.is_empty()).then(|| {
        figure(
            if emulated { KERNEL_EMULATED } else { KERNEL },
            PAPER_KERNEL,
            kernel_ns,
            format!(
                "SAFEX_IOC_ROUND, the module's clock: {apps} (no task: monitors, handlers and guard, inputs \
                 written before each batch), {guard}; {ROUNDS} rounds a sample, alternating with the other rounds"
            ),
        )
    });
    Ok(Rounds {
        user: figure(
            USER,
            PAPER_USER,
            user_ns,
            format!(
                "this process as the manager: per round, 3 reads of /proc/PID/stat, the attribute writes and \
                 Host::tick ({apps}), a SIGCONT to the child per adjustment; {ROUNDS} rounds a sample, \
                 alternating with the host's"
            ),
        ),
        host: figure(
            HOST,
            PAPER_KERNEL,
            host_ns,
            format!(
                "the same round without the reads and signals: attribute writes and Host::tick; {ROUNDS} rounds a \
                 sample"
            ),
        ),
        kernel,
        no_kernel,
        signals: user.signals,
        user_rounds: user.rounds,
    })
}

// ---------------------------------------------------------------------------
// The machine

/// The CPU, its count, the kernel release and what kind of machine; and
/// whether the CPU is emulated (QEMU without KVM).
fn machine() -> (String, bool) {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|(_, m)| m.trim()))
        .unwrap_or("unknown CPU");
    let hypervisor = cpuinfo
        .lines()
        .any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "hypervisor"));
    let dmi = read("/sys/class/dmi/id/sys_vendor") + &read("/sys/class/dmi/id/product_name");
    let qemu = model.contains("QEMU") || dmi.contains("QEMU");
    let kvm = read("/sys/devices/system/clocksource/clocksource0/available_clocksource").contains("kvm-clock");
    let emulated = qemu && !kvm;
    let kind = if emulated {
        ", emulated (QEMU)"
    } else if qemu || hypervisor {
        if kvm {
            ", virtual machine (KVM)"
        } else {
            ", virtual machine"
        }
    } else {
        ""
    };
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let release = read("/proc/sys/kernel/osrelease");
    let release = if release.trim().is_empty() {
        "unknown"
    } else {
        release.trim()
    };
    (format!("{model}, {cpus} CPUs, Linux {release}{kind}"), emulated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_counted_after_the_name() {
        let line = b"42 (a) b ) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 12 1000 50\n";
        assert_eq!(cpu_ticks(line), Some(12));
        assert_eq!(cpu_ticks(b"42 (x) S 1 2"), None);
        assert_eq!(cpu_ticks(b"no name"), None);
    }

    #[test]
    fn percentiles_are_of_the_sorted_samples() {
        let f = figure("x", 1, vec![5, 1, 3, 2, 4, 9, 7, 8, 6, 10, 11], String::new());
        assert_eq!((f.p10_ns, f.median_ns, f.p90_ns), (2, 6, 10));
        let f = figure("x", 1, vec![0], String::new());
        assert_eq!((f.p10_ns, f.median_ns, f.p90_ns), (1, 1, 1));
    }

    #[test]
    fn times_read_in_the_papers_unit() {
        assert_eq!(us(53_870), "53.87 µs");
        assert_eq!(us(190_000), "190.0 µs");
        assert_eq!(us(350), "0.35 µs");
    }
}
