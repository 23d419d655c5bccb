//! The deadline watchdog: a thread that interrupts an invocation which runs
//! past its time budget, so that it ends at its next fuel check
//! (`stdlib::abi`: the host may store -1 into `ctx.interrupt` at any
//! moment; compiled code only reads it).
//!
//! The invoking thread publishes `running`: the number of the invocation
//! in progress, or 0. The watchdog publishes `interrupting`: the number of the
//! invocation it is about to interrupt, or 0. Invariants:
//!
//! - **An interrupt lands only in the invocation it was meant for.** The
//!   watchdog stores `interrupting = n`, then reads `running`, and stores the
//!   interrupt only if it still reads `n`. The invoker, leaving invocation `n`,
//!   stores `running = 0`, then reads `interrupting`, and waits while it reads
//!   `n`. Each side writes its word before reading the other's, with a
//!   full barrier between (Dekker), so at least one sees the other: either
//!   the watchdog sees the invocation gone and stores nothing, or the
//!   invoker waits until the store has landed, before it resets the
//!   context for the next invocation.
//! - **The invoker's side costs no atomic instruction.** Its barrier is
//!   the one `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` forces on every
//!   thread of the process when the watchdog calls it, an asymmetric fence:
//!   the common path (invocations) is plain stores and loads; the rare
//!   path (an interrupt, parking) pays a system call. Where the kernel lacks
//!   `membarrier`, the invoker uses full fences instead.
//! - **An interrupt holds.** The code never writes `interrupt`, so the
//!   store is seen at the next fuel check. (Storing 0 into the fuel counter
//!   instead is lost about every other time in a tight loop: the code's own
//!   load, subtract and store of the counter, reading its pending stores,
//!   overwrites it.) It is stored again every tick while the invocation
//!   runs, which costs nothing.
//! - **Nested guards obey the invocation's deadline.** The watchdog stores
//!   into the `interrupt` of every frame the host hands it
//!   ([`Watchdog::watch`]), in the order handed: the invocation's first,
//!   then those of the guards nested in it, one per nesting depth. After
//!   an invocation, the host reads its own frame's interrupt (negative:
//!   the deadline) and, if set, clears them all; so while an invocation
//!   runs only the watchdog writes them, an interrupt is never lost to a
//!   frame being prepared, and a guard that starts after the deadline
//!   passed starts interrupted.
//! - **Memory safety does not rest on the fences.** Every word both threads
//!   access is atomic (`running`, `interrupting`, `parked`, each frame's
//!   `interrupt`), so there is no data race whatever the fences order; the
//!   Dekker pairs decide only which invocation an interrupt lands in. The
//!   frames stay allocated until the host has joined this thread, and the
//!   host never takes a unique reference to a frame it handed out (it
//!   accesses them field by field), so the stores alias no reference.
//! - **Time is the CPU time of the invoking thread** (the host is not
//!   `Send`: every invocation runs on the thread that created it), read from
//!   that thread's CPU clock, so being preempted never counts against an
//!   extension, as in the kernel, where extensions run without preemption.
//!   The watchdog interrupts invocation `n` once the thread has run for the
//!   budget since the first tick that saw `n`: never early, and at most the
//!   budget plus two ticks of CPU time after its start (plus the time the
//!   watchdog itself waits for a CPU).
//! - **Idle, the thread parks**, after [`IDLE_TICKS`] ticks without an
//!   invocation: it stores `parked`, fences, and parks only if `running` is
//!   still 0; an invocation stores `running`, fences, and unparks the
//!   thread if it reads `parked` (Dekker again), so no invocation starts
//!   unwatched.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering, compiler_fence, fence};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Ticks without any invocation after which the thread parks.
const IDLE_TICKS: u32 = 64;

/// An interrupt word the watchdog sets: the `interrupt` field of a frame's
/// context.
pub(crate) struct InterruptCell(*const AtomicI32);

impl InterruptCell {
    /// # Safety
    /// `word` points to an `AtomicI32` that stays allocated until the
    /// watchdog it is given to has been dropped, and that nothing accesses
    /// but atomically or through shared references.
    pub(crate) unsafe fn new(word: *const AtomicI32) -> InterruptCell {
        InterruptCell(word)
    }
}

// SAFETY: the watchdog thread only stores into the word atomically, which
// `InterruptCell::new`'s contract allows from any thread while the word
// lives, and it lives until the watchdog (and so the thread) is gone.
unsafe impl Send for InterruptCell {}

struct Shared {
    running: AtomicU64,
    interrupting: AtomicU64,
    /// The interrupt word of every frame the host runs code in.
    cells: Mutex<Vec<InterruptCell>>,
    parked: AtomicBool,
    stop: AtomicBool,
    /// `membarrier` works here: the invoker needs no fence of its own.
    asymmetric: bool,
}

impl Shared {
    /// The watchdog's side of the barrier pairs.
    fn heavy_fence(&self) {
        if self.asymmetric {
            membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
        } else {
            fence(Ordering::SeqCst);
        }
    }

    /// The invoker's side.
    #[inline]
    fn light_fence(&self) {
        if self.asymmetric {
            compiler_fence(Ordering::SeqCst);
        } else {
            fence(Ordering::SeqCst);
        }
    }
}

const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

fn membarrier(cmd: libc::c_int) -> bool {
    // SAFETY: membarrier takes a command and two integer arguments and
    // accesses no memory of ours.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) == 0 }
}

pub(crate) struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    seq: u64,
}

impl Watchdog {
    /// Starts a watchdog that interrupts an invocation on the calling
    /// thread once it has run for `budget`, through the cells it is given
    /// ([`Watchdog::watch`]); it looks every `budget / 8` (between 20 and
    /// 250 µs), so it is late by about two of those.
    pub(crate) fn start(budget: Duration) -> std::io::Result<Watchdog> {
        let clock = ThreadClock::of_current_thread()?;
        let shared = Arc::new(Shared {
            running: AtomicU64::new(0),
            interrupting: AtomicU64::new(0),
            cells: Mutex::new(Vec::new()),
            parked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            asymmetric: membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED),
        });
        let tick = (budget / 8).clamp(Duration::from_micros(20), Duration::from_micros(250));
        let watched = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("safex-watchdog".into())
            .spawn(move || watch(&watched, clock, budget, tick))?;
        Ok(Watchdog {
            shared,
            thread: Some(thread),
            seq: 0,
        })
    }

    /// Interrupts `cell` too from now on, after the others.
    pub(crate) fn watch(&self, cell: InterruptCell) {
        let mut cells = self.shared.cells.lock().unwrap_or_else(PoisonError::into_inner);
        cells.push(cell);
    }

    /// Marks the start of an invocation (every cell cleared before).
    #[inline]
    pub(crate) fn enter(&mut self) {
        self.seq += 1;
        let s = &self.shared;
        // Release: the interrupts the host cleared after the last
        // interrupted invocation precede it, so a store the watchdog makes
        // for this invocation comes after them.
        s.running.store(self.seq, Ordering::Release);
        s.light_fence();
        if s.parked.load(Ordering::Relaxed)
            && let Some(t) = &self.thread
        {
            t.thread().unpark();
        }
    }

    /// Marks the end of the invocation.
    #[inline]
    pub(crate) fn leave(&mut self) {
        let s = &self.shared;
        s.running.store(0, Ordering::Release);
        s.light_fence();
        while s.interrupting.load(Ordering::Acquire) == self.seq {
            // The watchdog is between its check and its store: a few
            // instructions, unless it was preempted there.
            std::hint::spin_loop();
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

/// The CPU-time clock of a thread.
#[derive(Clone, Copy)]
struct ThreadClock(libc::clockid_t);

impl ThreadClock {
    fn of_current_thread() -> std::io::Result<ThreadClock> {
        let mut id: libc::clockid_t = 0;
        // SAFETY: `pthread_self` is always valid; `id` is a local the call
        // writes on success and nothing else refers to.
        match unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut id) } {
            0 => Ok(ThreadClock(id)),
            e => Err(std::io::Error::from_raw_os_error(e)),
        }
    }

    /// CPU time the thread has used. A thread that has exited reads as
    /// never advancing (the host that started the watchdog is gone too).
    fn now(self) -> Duration {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a local out-parameter nothing else refers to.
        if unsafe { libc::clock_gettime(self.0, &mut ts) } != 0 {
            return Duration::ZERO;
        }
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
}

fn watch(shared: &Shared, clock: ThreadClock, budget: Duration, tick: Duration) {
    // Sleep as long as asked, not up to the default 50 µs longer; and, where
    // the process may, run ahead of ordinary threads, so that a CPU-bound
    // machine cannot starve the deadline. Both are best effort.
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument; the scheduling
    // parameters are a local struct the call only reads, for the calling
    // thread. Neither call touches other memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
        let param = libc::sched_param { sched_priority: 1 };
        libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param);
    }
    // The invocation being timed and the invoking thread's CPU time when
    // this thread first saw it run.
    let mut watching: Option<(u64, Duration)> = None;
    let mut idle_ticks = 0;
    while !shared.stop.load(Ordering::Acquire) {
        match shared.running.load(Ordering::Acquire) {
            0 => {
                watching = None;
                idle_ticks += 1;
                if idle_ticks >= IDLE_TICKS {
                    idle_ticks = 0;
                    shared.parked.store(true, Ordering::Relaxed);
                    shared.heavy_fence();
                    if shared.running.load(Ordering::Relaxed) == 0 && !shared.stop.load(Ordering::SeqCst) {
                        thread::park();
                    }
                    shared.parked.store(false, Ordering::Relaxed);
                    continue;
                }
            }
            n => {
                idle_ticks = 0;
                match watching {
                    Some((seen, since)) if seen == n => {
                        if clock.now().saturating_sub(since) >= budget {
                            interrupt(shared, n);
                        }
                    }
                    _ => watching = Some((n, clock.now())),
                }
            }
        }
        thread::sleep(tick);
    }
}

fn interrupt(shared: &Shared, n: u64) {
    shared.interrupting.store(n, Ordering::Relaxed);
    shared.heavy_fence();
    // Acquire: the interrupts the host cleared before invocation `n`
    // precede our stores.
    if shared.running.load(Ordering::Acquire) == n {
        let cells = shared.cells.lock().unwrap_or_else(PoisonError::into_inner);
        for cell in cells.iter() {
            // SAFETY: the word is allocated until this thread has been
            // joined, and only ever accessed atomically or through shared
            // references (`InterruptCell::new`), so a shared reference to
            // it and an atomic store alias and race with nothing. The
            // invoker cannot leave invocation `n` (and clear the word for
            // the next) until `interrupting` changes below. Relaxed: the
            // invoker reads the words after it sees `interrupting` change
            // (Release below, Acquire in `leave`), and compiled code only
            // needs to see the store at some later fuel check.
            unsafe { (*cell.0).store(-1, Ordering::Relaxed) };
        }
    }
    shared.interrupting.store(0, Ordering::Release);
}
