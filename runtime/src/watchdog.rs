//! The deadline watchdog: a thread that interrupts an invocation which runs
//! past its time budget, so that it ends at its next fuel check
//! (`stdlib::abi`: the host may store -1 into `ctx.interrupt` at any
//! moment; compiled code only reads it).
//!
//! The invoking thread publishes `activity`: how many times it has entered
//! or left an invocation, so odd while one runs (`2n - 1` for the `n`th);
//! the watchdog also sees from it whether any started since it last
//! looked. The watchdog publishes `signal`: the `activity` of the
//! invocation it is about to interrupt, or 0, with a bit set while it
//! parks. The invoker reads `signal` once as it enters an invocation and
//! once as it leaves, and does more only when it is not 0.
//!
//! What it costs decides the design. On the machine of docs/benchmarks.md
//! (a virtual machine) each time the thread wakes costs it about 20 µs of
//! CPU, and waking it from a park costs the waker about 6 µs, against
//! 10–20 ns for a trivial invocation. So the watchdog wakes no more often
//! than the bound needs, the invoker makes no system call while the
//! watchdog is awake, and the watchdog parks only when invocations come
//! further apart than its looks, where being woken for each costs fewer
//! wake-ups than looking in between (docs/benchmarks.md measures both at
//! 100 Hz).
//!
//! - **It looks every [`LOOK_EVERY`] (0.5 ms) while invocations may run**,
//!   sleeping to absolute deadlines of the monotonic clock. It times an
//!   invocation from the look that first sees it running, and sleeps no
//!   longer than what is left of its budget (but at least
//!   [`SHORTEST_SLEEP`]), so the look that finds the budget spent comes
//!   when it is spent, not up to a look later. So an invocation is
//!   interrupted never early, and at most [`LOOK_EVERY`] of CPU time late
//!   (it may have started just after the look before), plus the
//!   watchdog's own lateness in waking, plus one stretch of code between
//!   two fuel checks: within the budget plus 1 ms. (The design before
//!   looked every budget/8 and counted from look to look, two looks late
//!   at worst, so its looks had to be four times as frequent.)
//! - **It parks after a look that finds no invocation running and at most
//!   one started since the look before**: it sets the parked bit of
//!   `signal`, fences, and parks only if `activity` is still what it saw;
//!   an invocation stores `activity`, fences, and unparks the thread if it
//!   reads the bit (Dekker), so no invocation starts unwatched. While
//!   invocations keep coming (a tick, a loop) it never parks and the
//!   invoker makes no system call; the first invocation after a pause pays
//!   the wake-up (a futex system call).
//! - **An interrupt lands only in the invocation it was meant for.** The
//!   watchdog stores `signal = 2n - 1`, then reads `activity`, and stores
//!   the interrupt only if it still reads `2n - 1`. The invoker, leaving
//!   invocation `n`, stores `activity = 2n`, then reads `signal`, and
//!   waits while it reads `2n - 1`. Each side writes its word before
//!   reading the other's, with a full barrier between (Dekker), so at
//!   least one sees the other: either the watchdog sees the invocation
//!   gone and stores nothing, or the invoker waits until the store has
//!   landed, before it resets the context for the next invocation.
//! - **The invoker's side costs no atomic instruction.** Its barrier is
//!   the one `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` forces on every
//!   thread of the process when the watchdog calls it, an asymmetric fence:
//!   the common path (invocations) is two plain stores, two loads and two
//!   branches; the rare path (an interrupt, parking) pays a system call.
//!   Where the kernel lacks `membarrier`, `signal` is never 0 and sends
//!   the invoker to a path with full fences.
//! - **An interrupt holds.** The code never writes `interrupt`, so the
//!   store is seen at the next fuel check. (Storing 0 into the fuel counter
//!   instead is lost about every other time in a tight loop: the code's own
//!   load, subtract and store of the counter, reading its pending stores,
//!   overwrites it.) It is stored again at every look while the invocation
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
//!   access is atomic (`activity`, `signal`, `stop`, each frame's
//!   `interrupt`), so there is no data race whatever the fences order; the
//!   Dekker pairs decide only which invocation an interrupt lands in and
//!   whether the thread may park. The frames stay allocated until the host
//!   has joined this thread, and the host never takes a unique reference to
//!   a frame it handed out (it accesses them field by field), so the stores
//!   alias no reference.
//! - **Time is the CPU time of the invoking thread** (the host is not
//!   `Send`: every invocation runs on the thread that created it), read from
//!   that thread's CPU clock, so being preempted never counts against an
//!   extension, as in the kernel, where extensions run without preemption.
//!   The watchdog sleeps in monotonic time, which passes at least as fast
//!   as one thread's CPU time: sleeping what is left of a budget never
//!   overtakes it.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering, compiler_fence, fence};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The longest the watchdog goes without looking while invocations may
/// run: how late, in CPU time, it may first see an invocation.
const LOOK_EVERY: Duration = Duration::from_micros(500);

/// The shortest it sleeps between two looks, even when a budget has less
/// left: on the invoker's CPU, at real-time priority, a watchdog that
/// looked again at once would keep the invoker from using up its budget
/// (until the kernel's fair server let it run, 50 ms later).
const SHORTEST_SLEEP: Duration = Duration::from_micros(50);

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
    /// Entries into and exits from invocations: odd while one runs.
    activity: AtomicU64,
    /// What the watchdog tells the invoker: the `activity` of the
    /// invocation it is interrupting, or 0; with [`PARKED`] while it parks,
    /// and always [`FENCE_FIRST`] where `membarrier` fails. The invoker
    /// reads it once per `enter` and once per `leave`, and takes its slow
    /// path only when it is not 0.
    signal: AtomicU64,
    /// The interrupt word of every frame the host runs code in.
    cells: Mutex<Vec<InterruptCell>>,
    stop: AtomicBool,
    /// `signal` when the watchdog has nothing to say: 0, or
    /// [`FENCE_FIRST`] where `membarrier` fails.
    calm: u64,
}

/// In `signal`: the watchdog parks, or is about to.
const PARKED: u64 = 1 << 63;
/// In `signal`: the invoker fences before it reads `signal` for its side
/// of a barrier pair (no `membarrier` to do it on the watchdog's side).
const FENCE_FIRST: u64 = 1 << 62;
/// In `signal`: the `activity` of the invocation being interrupted.
const INTERRUPTING: u64 = FENCE_FIRST - 1;

impl Shared {
    /// The watchdog's side of the barrier pairs.
    fn heavy_fence(&self) {
        if self.calm == FENCE_FIRST {
            fence(Ordering::SeqCst);
        } else {
            membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
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
    /// `activity` as the invoker last stored it.
    activity: u64,
}

impl Watchdog {
    /// Starts a watchdog that interrupts an invocation on the calling
    /// thread once it has run for `budget`, through the cells it is given
    /// ([`Watchdog::watch`]).
    pub(crate) fn start(budget: Duration) -> std::io::Result<Watchdog> {
        let clock = ThreadClock::of_current_thread()?;
        let calm = if membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) {
            0
        } else {
            FENCE_FIRST
        };
        let shared = Arc::new(Shared {
            activity: AtomicU64::new(0),
            signal: AtomicU64::new(calm),
            cells: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            calm,
        });
        let watched = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("safex-watchdog".into())
            .spawn(move || watch(&watched, clock, budget))?;
        Ok(Watchdog {
            shared,
            thread: Some(thread),
            activity: 0,
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
        let s: &Shared = &self.shared;
        self.activity += 1;
        // Release: the interrupts the host cleared after the last
        // interrupted invocation precede it, so a store the watchdog makes
        // for this invocation comes after them.
        s.activity.store(self.activity, Ordering::Release);
        // The invoker's side of the barrier: `membarrier` on the watchdog's
        // side does the rest (or `enter_slowly`'s fence).
        compiler_fence(Ordering::SeqCst);
        if s.signal.load(Ordering::Relaxed) != 0 {
            self.enter_slowly();
        }
    }

    /// `enter` when the watchdog parks, or where the invoker must fence.
    #[cold]
    #[inline(never)]
    fn enter_slowly(&self) {
        fence(Ordering::SeqCst);
        if self.shared.signal.load(Ordering::Relaxed) & PARKED != 0
            && let Some(t) = &self.thread
        {
            t.thread().unpark();
        }
    }

    /// Marks the end of the invocation.
    #[inline]
    pub(crate) fn leave(&mut self) {
        let s: &Shared = &self.shared;
        let running = self.activity;
        self.activity += 1;
        s.activity.store(self.activity, Ordering::Release);
        compiler_fence(Ordering::SeqCst);
        // Acquire: if the watchdog interrupted this invocation, its stores
        // into the frames precede its clearing the signal.
        if s.signal.load(Ordering::Acquire) != 0 {
            self.leave_slowly(running);
        }
    }

    /// `leave` when the watchdog is interrupting, parks, or where the
    /// invoker must fence.
    #[cold]
    #[inline(never)]
    fn leave_slowly(&self, running: u64) {
        fence(Ordering::SeqCst);
        while self.shared.signal.load(Ordering::Acquire) & INTERRUPTING == running {
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
        read_clock(self.0).unwrap_or(Duration::ZERO)
    }
}

fn read_clock(clock: libc::clockid_t) -> Option<Duration> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a local out-parameter nothing else refers to.
    (unsafe { libc::clock_gettime(clock, &mut ts) } == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// The monotonic clock the watchdog's looks are scheduled on.
fn monotonic_now() -> Duration {
    read_clock(libc::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC is always readable")
}

/// Sleeps until the monotonic clock reads `at`.
fn sleep_until(at: Duration) {
    let ts = libc::timespec {
        tv_sec: at.as_secs() as libc::time_t,
        tv_nsec: at.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `ts` is a local the call only reads; an absolute sleep asks
    // for no remainder (null).
    while unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, libc::TIMER_ABSTIME, &ts, std::ptr::null_mut()) }
        == libc::EINTR
    {}
}

fn watch(shared: &Shared, clock: ThreadClock, budget: Duration) {
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
    // `activity` at the last look; at the start, as if nothing had run
    // since a look before, so that the thread parks until the first
    // invocation.
    let mut seen = 0;
    // The running invocation being timed (its `activity`), and the
    // invoking thread's CPU time at the look that first saw it.
    let mut timed: Option<(u64, Duration)> = None;
    while !shared.stop.load(Ordering::Acquire) {
        let look = monotonic_now();
        let now = shared.activity.load(Ordering::Acquire);
        let mut wait = LOOK_EVERY;
        if now % 2 == 1 {
            let used = clock.now();
            let since = match timed {
                Some((running, since)) if running == now => since,
                _ => timed.insert((now, used)).1,
            };
            match budget.checked_sub(used.saturating_sub(since)) {
                Some(left) if !left.is_zero() => wait = wait.min(left.max(SHORTEST_SLEEP)),
                _ => interrupt(shared, now),
            }
        } else if entered(now) - entered(seen) <= 1 {
            // Idle, and invocations come further apart than looks.
            park(shared, now);
            // Unparked: an invocation may have started; look again now.
            continue;
        }
        seen = now;
        sleep_until(look + wait);
    }
}

/// How many invocations had started when `activity` read so.
fn entered(activity: u64) -> u64 {
    activity.div_ceil(2)
}

/// Parks the thread unless an invocation starts meanwhile (`activity` no
/// longer `seen`) or the watchdog is stopping.
fn park(shared: &Shared, seen: u64) {
    shared.signal.store(shared.calm | PARKED, Ordering::Relaxed);
    shared.heavy_fence();
    if shared.activity.load(Ordering::Relaxed) == seen && !shared.stop.load(Ordering::SeqCst) {
        thread::park();
    }
    shared.signal.store(shared.calm, Ordering::Relaxed);
}

/// Interrupts the invocation whose `activity` is `running`, if it still runs.
fn interrupt(shared: &Shared, running: u64) {
    shared.signal.store(shared.calm | running, Ordering::Relaxed);
    shared.heavy_fence();
    // Acquire: the interrupts the host cleared before this invocation
    // precede our stores.
    if shared.activity.load(Ordering::Acquire) == running {
        let cells = shared.cells.lock().unwrap_or_else(PoisonError::into_inner);
        for cell in cells.iter() {
            // SAFETY: the word is allocated until this thread has been
            // joined, and only ever accessed atomically or through shared
            // references (`InterruptCell::new`), so a shared reference to
            // it and an atomic store alias and race with nothing. The
            // invoker cannot leave the invocation (and clear the word for
            // the next) until `signal` changes below. Relaxed: the invoker
            // reads the words after it sees `signal` change (Release
            // below, Acquire in `leave`), and compiled code only needs to
            // see the store at some later fuel check.
            unsafe { (*cell.0).store(-1, Ordering::Relaxed) };
        }
    }
    shared.signal.store(shared.calm, Ordering::Release);
}
