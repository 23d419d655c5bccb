//! A steady state allocates nothing: service-manager ticks that reuse one
//! report, with events raised, queued, delivered to handlers and dropped on
//! a full channel, and attribute writes through a guard. A test binary of
//! its own, so that its counting allocator counts this file's test only.

#![deny(clippy::undocumented_unsafe_blocks)]
// Runs compiled code, which Miri cannot (docs/miri.md).
#![cfg(not(miri))]

use runtime::manager::TickReport;
use runtime::{Host, HostConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

/// The system allocator, counting the blocks it hands out (fresh or grown)
/// in every thread.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments,
// so it keeps `System`'s guarantees; counting touches only an atomic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc_zeroed`, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `realloc` (`ptr` came from this
        // allocator, that is from `System`), passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

const PID: &str = include_str!("../../examples/pop/cpu_pid.pop");

/// Raises more events per tick than a channel holds; its handler counts
/// the ones delivered.
const NOISY: &str = "extension noisy;\nimport cpu;\nevent Noise;\nint heard = 0;\n\
                     monitor void shout(cap<cpu_qos> app) {\n    \
                     for (int i = 0; i < 300; i++) { raise_event(\"Noise\", i); }\n}\n\
                     handler void listen(cap<cpu_qos> app, int v) on \"Noise\" { heard = heard + 1; }\n";

const PID_APPS: usize = 3;
const CHANNEL: usize = 256;

/// The standard system (guards installed, a deadline watched) with
/// applications running the PID extension on steady inputs, whose writes
/// the guard accepts, and one running `NOISY`.
fn steady_host() -> Host {
    let mut host = runtime::system::host(
        HostConfig {
            event_queue: CHANNEL,
            ..HostConfig::default()
        },
        true,
    )
    .expect("host");
    let pid = bench::compile_object("pid.pop", PID, false).expect("compiles");
    for a in 0..PID_APPS {
        let app = host.create_app(&format!("pid{a}")).expect("app");
        host.load(app, &pid).expect("loads");
        for (attr, value) in [
            ("period", 10_000),
            ("target_cpu", 20_000),
            ("actual_cpu", 19_000),
            ("target_util", 500),
            ("avg_util_2p", 400),
        ] {
            host.write_attribute(app, attr, value).expect("writes");
        }
    }
    let noisy = host.create_app("noisy").expect("app");
    host.load(
        noisy,
        &bench::compile_object("noisy.pop", NOISY, false).expect("compiles"),
    )
    .expect("loads");
    host
}

#[test]
fn steady_ticks_and_their_events_allocate_nothing() {
    const WARM_UP: usize = 5;
    const TICKS: u64 = 200;
    let mut host = steady_host();
    let noisy = host.app_by_name("noisy").expect("noisy");
    let listener = host.extensions(noisy)[0];
    let heard = host.global_offset(listener, "heard").expect("heard");
    let mut report = TickReport::default();
    for _ in 0..WARM_UP {
        host.tick(&mut report);
    }
    let dropped_before = host.dropped_events(noisy);
    let heard_before = host.data(listener).expect("loaded")[heard];
    let before = allocations();
    for _ in 0..TICKS {
        host.tick(&mut report);
    }
    let allocated = allocations() - before;
    // What every steady tick did: checked after counting, since the
    // checks allocate when they fail.
    assert!(report.traps.is_empty(), "{:?}", report.traps);
    assert_eq!(report.monitors_run, PID_APPS + 1);
    assert_eq!(report.handlers_run, PID_APPS + CHANNEL);
    assert_eq!(report.deliveries.len(), PID_APPS + CHANNEL);
    assert_eq!(report.changes.len(), PID_APPS);
    assert_eq!(
        host.dropped_events(noisy) - dropped_before,
        TICKS * (300 - CHANNEL as u64)
    );
    assert_eq!(
        host.data(listener).expect("loaded")[heard] - heard_before,
        (TICKS * CHANNEL as u64) as i64
    );
    assert_eq!(allocated, 0, "{allocated} allocations in {TICKS} steady ticks");
    // The counter sees the allocations there are: a report of its own
    // grows its buffers.
    let before = allocations();
    host.tick(&mut TickReport::default());
    assert!(allocations() > before, "the counting allocator counts");
}
