//! Compiled extensions run: through the object file, linked W^X, called
//! with a context and a helper table.

#![deny(clippy::undocumented_unsafe_blocks)]
// Runs compiled code, which Miri cannot (docs/miri.md).
#![cfg(not(miri))]

use runtime::image::CodeImage;
use runtime::rows::AttrRows;
use stdlib::abi::{Ctx, Frame, HelperFn, status};

/// A context with a pointer to the test host behind it, so that helpers
/// (which receive `*mut Ctx`) can reach the host.
type HostFrame = Frame<*mut TestHost>;

#[derive(Default)]
struct TestHost {
    sets: Vec<(i64, i64)>,
    events: Vec<(i64, i64)>,
    /// `raise_event` ends the invocation (`HOST_ABORT`).
    abort_events: bool,
}

/// The host behind `ctx`, or `None` once the invocation has been aborted:
/// every helper then returns 0 at once (ABI 2).
///
/// # Safety
/// `ctx` is the context pointer of a live `HostFrame` (`Frame::ctx_ptr`)
/// whose host is live and used by nothing else during the helper call.
unsafe fn host<'a>(ctx: *mut Ctx) -> Option<&'a mut TestHost> {
    // SAFETY: compiled code is suspended in the helper call: nothing else
    // accesses the context or the frame, whose host part `ctx`'s
    // provenance covers (the contract).
    unsafe { ((*ctx).status == status::OK).then(|| &mut **HostFrame::info_ptr(ctx)) }
}
/// Slot 0: attribute reads are loads from `ctx.attrs` (ABI 3).
unsafe extern "C" fn not_called(_: *mut Ctx, _: i64, _: i64, _: i64) -> i64 {
    panic!("compiled code called the attribute-read slot")
}
unsafe extern "C" fn set_attribute(ctx: *mut Ctx, _cap: i64, attr: i64, value: i64) -> i64 {
    // SAFETY: compiled code calls its helpers with the context `run` gave it.
    if let Some(h) = unsafe { host(ctx) } {
        h.sets.push((attr, value));
    }
    0
}
unsafe extern "C" fn raise_event(ctx: *mut Ctx, event: i64, value: i64, _: i64) -> i64 {
    // SAFETY: compiled code calls its helpers with the context `run` gave it.
    match unsafe { host(ctx) } {
        // SAFETY: as for `host`: nothing else accesses the context now.
        Some(h) if h.abort_events => unsafe { (*ctx).status = status::HOST_ABORT },
        Some(h) => h.events.push((event, value)),
        None => {}
    }
    0
}
unsafe extern "C" fn now_us(_: *mut Ctx, _: i64, _: i64, _: i64) -> i64 {
    1234
}
unsafe extern "C" fn block(_: *mut Ctx, _: i64, _: i64, _: i64) -> i64 {
    0
}
unsafe extern "C" fn trace(_: *mut Ctx, _: i64, _: i64, _: i64) -> i64 {
    0
}
static HELPERS: [HelperFn; 6] = [not_called, set_attribute, raise_event, now_us, block, trace];

struct Loaded {
    module: tal_ir::Module,
    image: CodeImage,
    data: Vec<i64>,
    rows: AttrRows,
}

fn load(source: &str) -> Loaded {
    let module = popcorn_front::compile(source, &popcorn_front::Options::default())
        .module
        .expect("compiles");
    let funcs = codegen::lower::lower_module(&module, codegen::Options::default()).unwrap();
    let object = codegen::object::write_object(&module, &funcs, codegen::Options::default());
    let image = runtime::load::load(&object, &verifier::Config::default())
        .expect("loads")
        .image;
    let layout = tal_ir::layout::GlobalLayout::new(&module).unwrap();
    let data = layout.initial_data(1 << 20).unwrap();
    let rows = AttrRows::new(&module, |_, _| 0);
    Loaded {
        module,
        image,
        data,
        rows,
    }
}

impl Loaded {
    /// Runs entry point `name`; returns the result and the context after.
    fn run(&mut self, host: &mut TestHost, name: &str, args: &[i64], fuel: i64) -> (Option<i64>, Ctx) {
        let index = self.module.func_by_name(name).expect("entry point").index();
        let mut ctx = Ctx::new(
            fuel,
            HELPERS.as_ptr(),
            self.data.as_mut_ptr(),
            self.rows.as_ptr(),
            runtime::refuel::exhausted(),
        );
        ctx.trap_func = u32::MAX;
        let mut frame = HostFrame { ctx, info: host };
        // SAFETY: the helpers above are sound for this frame's context
        // pointer; the data region and rows are this module's, and nothing
        // else uses them, the frame or the host during the call.
        let r = unsafe { self.image.call(index, HostFrame::ctx_ptr(&mut frame), args) };
        (r, frame.ctx)
    }
}

const PID: &str = include_str!("../../examples/pop/cpu_pid.pop");
const CPU_QOS: u32 = 0;
const ACTUAL_CPU: u32 = 2;
const TARGET_CPU: u32 = 1;
const TIMESLICE_ADJUSTMENT: u32 = 5;

#[test]
fn the_paper_pid_matches_a_reference_pid_on_a_trace() {
    let mut ext = load(PID);
    let mut host = TestHost::default();
    let attr = |a: u32| i64::from(CPU_QOS) << 32 | i64::from(a);
    // (target, actual) per period: a disturbance, then recovery.
    let trace = [
        (20_000, 20_000),
        (20_000, 12_000),
        (20_000, 5_000),
        (20_000, 9_000),
        (20_000, 18_000),
        (20_000, 26_000),
    ];
    let (mut e_prev, mut u_prev) = (0i64, 0i64);
    for (target, actual) in trace {
        ext.rows.set(CPU_QOS, TARGET_CPU, target);
        ext.rows.set(CPU_QOS, ACTUAL_CPU, actual);
        host.events.clear();
        let (_, ctx) = ext.run(&mut host, "cpu_monitor", &[1], 1000);
        assert_eq!(ctx.status, status::OK);
        assert_eq!(
            host.events,
            [(0, target - actual)],
            "the monitor raises Error = target - actual"
        );
        let e = target - actual;
        host.sets.clear();
        let (_, ctx) = ext.run(&mut host, "cpu_pid", &[1, e], 1000);
        assert_eq!(ctx.status, status::OK);
        // The reference PID: u[n] = ((Kp+Kd+Ki)·e[n] − Kd·e[n−1]) / 1000 + u[n−1].
        let u = ((500 + 50 + 100) * e - 50 * e_prev) / 1000 + u_prev;
        (e_prev, u_prev) = (e, u);
        assert_eq!(host.sets, [(attr(TIMESLICE_ADJUSTMENT), u)]);
    }
}

#[test]
fn an_infinite_loop_stops_when_fuel_runs_out_at_the_loop_header() {
    let mut ext = load(
        "extension spin;\nimport cpu;\nint n = 0;\nmonitor void m(cap<cpu_qos> app) {\n    while (true) { n++; }\n}\n",
    );
    let mut host = TestHost::default();
    let (_, ctx) = ext.run(&mut host, "m", &[1], 10_000);
    assert_eq!(ctx.status, status::OUT_OF_FUEL);
    assert!(ctx.fuel < 0, "the counter went negative at the failing check");
    // The trap is at the loop header's `fuel`, the first instruction of its block.
    let f = &ext.module.funcs[ctx.trap_func as usize];
    let block = &f.blocks[ctx.trap_block as usize];
    assert!(
        block.loop_end.is_some() && ctx.trap_inst == 0,
        "trap at {:?}",
        (ctx.trap_block, ctx.trap_inst)
    );
    // Every completed iteration incremented the global; fuel bounds them.
    assert!(ext.data[0] > 0 && ext.data[0] < 10_000, "{} iterations", ext.data[0]);
}

#[test]
fn exceptions_are_caught_or_reported_with_their_location() {
    let src = "extension ex;\nimport cpu;\nint r = 0;\nint div(int a, int b) { return a / b; }\n\
               monitor void caught(cap<cpu_qos> app) {\n    try { r = div(1, 0); } handle DivideByZero { r = -1; }\n}\n\
               monitor void uncaught(cap<cpu_qos> app) {\n    r = div(7, 0);\n}\n";
    let mut ext = load(src);
    let mut host = TestHost::default();
    let (_, ctx) = ext.run(&mut host, "caught", &[1], 1000);
    assert_eq!((ctx.status, ext.data[0]), (status::OK, -1));
    let (_, ctx) = ext.run(&mut host, "uncaught", &[1], 1000);
    assert_eq!(ctx.status, status::DIVIDE_BY_ZERO);
    assert_eq!(
        ext.module.funcs[ctx.trap_func as usize].name, "div",
        "the innermost location is kept"
    );
}

#[test]
fn a_helper_abort_is_sticky_through_later_traps_and_catches() {
    // After the aborting event the monitor runs on: its store stays, the
    // trap in `div` keeps the abort (status and unset location), so the
    // caller's `handle` does not run and nothing clears the status; the
    // helper calls on the way do nothing.
    let src = "extension sticky;\nimport cpu;\nint r = 0;\nint div(int a, int b) { return a / b; }\n\
               monitor void m(cap<cpu_qos> app) {\n    int t = get_attribute(app, \"target_cpu\");\n    r = 1;\n    \
               raise_event(\"Error\", t);\n    try { r = div(1, 0); } handle DivideByZero { r = 2; }\n    \
               raise_event(\"Error\", r);\n}\n";
    let mut ext = load(src);
    let mut host = TestHost::default();
    let (_, ctx) = ext.run(&mut host, "m", &[1], 1000);
    assert_eq!(
        (ctx.status, ext.data[0], host.events.len()),
        (status::OK, 2, 2),
        "no abort: caught"
    );
    host.events.clear();
    host.abort_events = true;
    ext.data[0] = 0;
    let (_, ctx) = ext.run(&mut host, "m", &[1], 1000);
    assert_eq!(ctx.status, status::HOST_ABORT);
    assert_eq!(ctx.trap_func, u32::MAX, "an abort has no location, and keeps none");
    assert_eq!(ext.data[0], 1, "ran on to the call, whose trap then ended it");
    assert!(host.events.is_empty(), "helpers refuse after an abort");
}

/// Functions whose branches only choose values (lowered as `select`s, see
/// `codegen::lower::select`), and look-alikes that must keep their branch:
/// compiled results equal the source's meaning on every boundary.
const CHOICES: &str = "extension choices;\nimport cpu;\n\
    int clamp(int x, int lo, int hi) { if (x < lo) return lo; if (x > hi) return hi; return x; }\n\
    int clamp_mirrored(int x, int lo, int hi) { if (x <= hi) { if (x < lo) return lo; return x; } return hi; }\n\
    int max_assigned(int a, int b) { int m = b; if (a > b) { m = a; } return m; }\n\
    bool inside(int x) { if (x < 0) return false; return x < 10; }\n\
    bool inside_open(int x, bool open) { if (x < 0) return false; return (x < 10 & !open) | (x < 9 & open); }\n\
    int guarded_divide(int x) { if (x == 0) return 0; return 100 / x; }\n\
    int guarded_add(int x) { if (x > 0) return x; return x - 1; }\n\
    monitor void m(cap<cpu_qos> app) { }\n";

#[test]
fn branches_that_only_choose_values_keep_their_meaning() {
    let mut ext = load(CHOICES);
    let mut host = TestHost::default();
    let mut call = |name: &str, args: &[i64]| {
        let (r, ctx) = ext.run(&mut host, name, args, 1000);
        (r, ctx.status)
    };
    let ok = |v: i64| (Some(v), status::OK);
    for x in [i64::MIN, -11, -10, -9, -1, 0, 1, 8, 9, 10, 11, i64::MAX] {
        assert_eq!(call("clamp", &[x, -10, 10]), ok(x.clamp(-10, 10)), "clamp({x})");
        assert_eq!(
            call("clamp_mirrored", &[x, -10, 10]),
            ok(x.clamp(-10, 10)),
            "clamp_mirrored({x})"
        );
        for y in [-1, 0, 9] {
            assert_eq!(call("max_assigned", &[x, y]), ok(x.max(y)), "max({x}, {y})");
        }
        assert_eq!(call("inside", &[x]), ok((0..10).contains(&x).into()), "inside({x})");
        for open in [false, true] {
            let inside = x >= 0 && x < if open { 9 } else { 10 };
            assert_eq!(
                call("inside_open", &[x, open.into()]),
                ok(inside.into()),
                "inside_open({x}, {open})"
            );
        }
        // A division or an overflow check is never computed on the path
        // that does not run it.
        let divided = if x == 0 { 0 } else { 100 / x };
        assert_eq!(call("guarded_divide", &[x]), ok(divided), "guarded_divide({x})");
        let (added, st) = call("guarded_add", &[x]);
        match if x > 0 { Some(x) } else { x.checked_sub(1) } {
            Some(v) => assert_eq!((added, st), ok(v), "guarded_add({x})"),
            None => assert_eq!(st, status::OVERFLOW, "guarded_add({x})"),
        }
    }
}
