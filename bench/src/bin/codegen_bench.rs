//! Compiled extensions against the same logic in native Rust, and fuel
//! checks against `--no-fuel` code, all measured in one run:
//! `cargo run --release -p bench --bin codegen_bench`.
//!
//! - The PID service round (`examples/pop/cpu_pid.pop`) over 3 and 64
//!   processes: per process, the monitor then the handler with the raised
//!   value, each process with its own data region (`e_prev`, `u_prev`).
//! - A loop-heavy kernel (`bench/pop/loop_kernel.pop`): a 256-iteration
//!   checksum over a global array, with multiplications and checked indexing,
//!   compiled as `safexc compile` does (the front-end's optimizing lowering:
//!   its loop body is lowered twice per fuel check).
//! - A call-heavy kernel (`bench/pop/call_kernel.pop`): 100 iterations each
//!   calling `clamp` and a three-deep chain of small functions.
//! - Compile throughput of a generated 10k-line extension, its stages
//!   timed in interleaved rounds.
//!
//! Each figure is the median over several processes (`--processes N`,
//! default 5) of one process's figure, with the range over processes.
//!
//! The native baselines use checked arithmetic and bounds checks (returning
//! an error, as the extension traps). Both sides read attributes as loads
//! (compiled code from the rows in `ctx.attrs`, ABI 3; native code from the
//! host's table, inlined) and call the acting helpers (`set_attribute`,
//! `raise_event`) as functions: `#[inline(never)]` Rust calls natively,
//! through `ctx.helpers` compiled. The PID rows also time native code whose
//! helper calls go through a table too, and native code whose attribute
//! reads are calls: what the compiled code's ABI costs. Both sides' entry points are called
//! through function pointers the optimizer cannot see through (as a kernel
//! calls a module's hooks), the compiled ones taken once from
//! `CodeImage::function` and declared to return `stdlib::abi::Returned`,
//! with a fuel budget so large that it never runs out.

#![deny(clippy::undocumented_unsafe_blocks)]

use bench::{Contender, interleaved};
use runtime::image::CodeImage;
use std::hint::black_box;
use std::time::Instant;
use stdlib::abi::{Ctx, Frame, HelperFn, Returned, status};

const PID_SRC: &str = include_str!("../../../examples/pop/cpu_pid.pop");
const LOOP_SRC: &str = include_str!("../../pop/loop_kernel.pop");
const CALL_SRC: &str = include_str!("../../pop/call_kernel.pop");

/// Attribute immediates of class `cpu_qos` (class 0): `class << 32 | attr`.
const TARGET_CPU: i64 = 1;
const ACTUAL_CPU: i64 = 2;
const TIMESLICE_ADJUSTMENT: i64 = 5;
const FUEL: i64 = i64::MAX / 2;

/// A trap of the native baselines: the status the extension would report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Trap(u64);
const OVERFLOW: Trap = Trap(status::OVERFLOW);
const OUT_OF_BOUNDS: Trap = Trap(status::OUT_OF_BOUNDS);
const RANGE_ERROR: Trap = Trap(status::RANGE_ERROR);

// ---------------------------------------------------------------- the host

/// The service manager's side: one attribute row per process (capability
/// handle `p + 1`), the last raised event value, and the last value written
/// to each process's `timeslice_adjustment`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Host {
    attrs: Vec<[i64; 8]>,
    raised: i64,
    sets: Vec<i64>,
}

impl Host {
    fn new(processes: usize) -> Host {
        Host {
            attrs: vec![[0; 8]; processes],
            raised: 0,
            sets: vec![0; processes],
        }
    }

    #[inline(always)]
    fn get(&self, cap: i64, attr: i64) -> i64 {
        self.attrs[(cap - 1) as usize][(attr & 0xffff_ffff) as usize]
    }

    /// What `ctx.attrs` points into for compiled code: process `p`'s
    /// attribute row is the one-class table at `rows()[p]` (`stdlib::abi`).
    /// Valid while the host lives and `attrs` keeps its length.
    fn rows(&self) -> Vec<*const i64> {
        self.attrs.iter().map(|row| row.as_ptr()).collect()
    }

    #[inline(always)]
    fn set(&mut self, cap: i64, attr: i64, value: i64) -> i64 {
        debug_assert_eq!(attr & 0xffff_ffff, TIMESLICE_ADJUSTMENT);
        self.sets[(cap - 1) as usize] = value;
        0
    }

    #[inline(always)]
    fn raise(&mut self, _event: i64, value: i64) -> i64 {
        self.raised = value;
        0
    }

    /// Sets up round `round` of the PID service: every process is promised
    /// `target` and receives `target ∓ err`, the sign alternating by round so
    /// that `u` stays bounded (inside the attribute's range) however long the
    /// benchmark runs.
    #[inline(always)]
    fn pid_inputs(&mut self, p: usize, round: u64) {
        let err = 100 * (p as i64 + 1);
        let target = 20_000 + 7 * p as i64;
        let row = &mut self.attrs[p];
        row[TARGET_CPU as usize] = target;
        row[ACTUAL_CPU as usize] = if round & 1 == 0 { target - err } else { target + err };
    }
}

// The native baseline's API: reads inlined, writes and events direct,
// never-inlined Rust calls.
#[inline(always)]
fn native_get_attribute(h: &mut Host, cap: i64, attr: i64) -> i64 {
    h.get(cap, attr)
}
#[inline(never)]
fn native_get_attribute_call(h: &mut Host, cap: i64, attr: i64) -> i64 {
    h.get(cap, attr)
}
#[inline(never)]
fn native_set_attribute(h: &mut Host, cap: i64, attr: i64, value: i64) -> i64 {
    h.set(cap, attr, value)
}
#[inline(never)]
fn native_raise_event(h: &mut Host, event: i64, value: i64) -> i64 {
    h.raise(event, value)
}

// The compiled code's helpers: the same bodies behind the ABI.

/// A context with a pointer to the host behind it, so that helpers (which
/// receive `*mut Ctx`) can reach the host.
type HostFrame = Frame<*mut Host>;

/// The host behind a helper's context.
///
/// # Safety
/// `ctx` is the context pointer of a live `HostFrame` (`Frame::ctx_ptr`)
/// whose host is live and used by nothing else during the helper call.
unsafe fn host<'a>(ctx: *mut Ctx) -> &'a mut Host {
    // SAFETY: `ctx`'s provenance covers the frame's host part, which
    // compiled code never touches (the contract).
    unsafe { &mut **HostFrame::info_ptr(ctx) }
}
/// Slot 0: attribute reads are loads from `ctx.attrs` (ABI 3).
unsafe extern "C" fn not_called(_: *mut Ctx, _: i64, _: i64, _: i64) -> i64 {
    panic!("compiled code called the attribute-read slot")
}
unsafe extern "C" fn set_attribute(ctx: *mut Ctx, cap: i64, attr: i64, value: i64) -> i64 {
    // SAFETY: compiled code calls its helpers with the context pointer of
    // the frame `call_monitor` or `call_handler` passed it.
    unsafe { host(ctx).set(cap, attr, value) }
}
unsafe extern "C" fn raise_event(ctx: *mut Ctx, event: i64, value: i64, _: i64) -> i64 {
    // SAFETY: as for `set_attribute`.
    unsafe { host(ctx).raise(event, value) }
}
unsafe extern "C" fn now_us(_: *mut Ctx, _: i64, _: i64, _: i64) -> i64 {
    1234
}
unsafe extern "C" fn block(_: *mut Ctx, _: i64, _: i64, _: i64) -> i64 {
    0
}
static HELPERS: [HelperFn; 5] = [not_called, set_attribute, raise_event, now_us, block];

// ------------------------------------------------------- compiled extensions

struct Ext {
    module: tal_ir::Module,
    image: CodeImage,
    layout: tal_ir::layout::GlobalLayout,
}

impl Ext {
    fn load(source: &str, no_fuel: bool) -> Ext {
        Ext::load_with(source, no_fuel, false)
    }

    /// `load`, with the front-end's inlining on or off.
    fn load_with(source: &str, no_fuel: bool, inline: bool) -> Ext {
        let options = popcorn_front::Options {
            inline,
            ..popcorn_front::Options::default()
        };
        let module = popcorn_front::compile(source, &options)
            .module
            .expect("the benchmark extension compiles");
        verifier::verify(&module, &verifier::Config::default()).expect("verifies");
        let options = codegen::Options { no_fuel };
        let funcs = codegen::lower::lower_module(&module, options).expect("lowers");
        let object = codegen::object::write_object(&module, &funcs, options);
        let parts = codegen::object::read_object(&object).expect("reads back");
        assert_eq!(parts.meta.no_fuel, no_fuel);
        let image = CodeImage::link(&parts).expect("links");
        let layout = tal_ir::layout::GlobalLayout::new(&module).expect("has a layout");
        Ext { module, image, layout }
    }

    /// The code of entry point `name`, which takes `params` value parameters.
    fn entry(&self, name: &str, params: usize) -> *const u8 {
        let id = self.module.func_by_name(name).expect("entry point");
        assert_eq!(
            self.module.funcs[id.index()].params.len(),
            params,
            "`{name}`'s parameters"
        );
        self.image.function(id.index()).expect("linked")
    }

    /// The entry fuel of entry point `name`, which a host charges before
    /// each call (ABI 4): the counter a call starts with is `FUEL` less it.
    fn start_fuel(&self, name: &str) -> i64 {
        let id = self.module.func_by_name(name).expect("entry point");
        let n = self.module.funcs[id.index()]
            .entry_fuel()
            .expect("an entry point starts with fuel");
        FUEL - n as i64
    }

    /// A monitor's entry point, as a function pointer.
    fn monitor(&self, name: &str) -> Monitor {
        // SAFETY: an entry point with one value parameter is compiled as
        // `extern "C" fn(ctx, i64) -> i64` (stdlib::abi); the image outlives
        // every use of the pointer in this benchmark.
        unsafe { std::mem::transmute::<*const u8, Monitor>(self.entry(name, 1)) }
    }

    /// A handler's entry point, as a function pointer.
    fn handler(&self, name: &str) -> Handler {
        // SAFETY: as for `monitor`, with two value parameters.
        unsafe { std::mem::transmute::<*const u8, Handler>(self.entry(name, 2)) }
    }

    fn data(&self) -> Vec<i64> {
        self.layout.initial_data(1 << 20).expect("small data region")
    }

    fn global(&self, name: &str) -> usize {
        let g = self.module.globals.iter().position(|g| g.name == name).expect("global");
        self.layout.offsets[g] as usize
    }
}

/// A frame for `host`'s process `p` (its attribute row through `rows`,
/// see `Host::rows`) with data region `data`, for an entry point whose
/// calls start with `fuel` (`Ext::start_fuel`).
fn host_frame(host: &mut Host, rows: &[*const i64], data: &mut [i64], fuel: i64) -> HostFrame {
    HostFrame {
        ctx: Ctx::new(
            fuel,
            HELPERS.as_ptr(),
            data.as_mut_ptr(),
            rows.as_ptr(),
            runtime::refuel::exhausted(),
        ),
        info: host,
    }
}

/// A monitor's entry point: `(ctx, cap)`.
type Monitor = unsafe extern "C" fn(*mut Ctx, i64) -> Returned;
/// A handler's entry point: `(ctx, cap, value)`.
type Handler = unsafe extern "C" fn(*mut Ctx, i64, i64) -> Returned;

/// The status an invocation ended with, from the register it returns
/// (`stdlib::abi::Returned`): enough here, since this host's helpers
/// never abort.
#[inline(always)]
fn outcome(r: Returned) -> Result<(), Trap> {
    match r.status {
        0 => Ok(()),
        s => Err(Trap(s)),
    }
}

/// Calls a monitor; the trap status if it trapped.
#[inline(always)]
fn call_monitor(f: Monitor, frame: &mut HostFrame, cap: i64) -> Result<(), Trap> {
    // SAFETY: `f` is a monitor of an extension linked for this helper table,
    // `frame` holds its data region and the host its helpers use, and
    // nothing else uses either during the call.
    outcome(unsafe { f(HostFrame::ctx_ptr(frame), cap) })
}

/// Calls a handler; the trap status if it trapped.
#[inline(always)]
fn call_handler(f: Handler, frame: &mut HostFrame, cap: i64, value: i64) -> Result<(), Trap> {
    // SAFETY: as for `call_monitor`.
    outcome(unsafe { f(HostFrame::ctx_ptr(frame), cap, value) })
}

// ---------------------------------------------------------------- PID round

/// The native helpers behind a table, called as compiled code calls
/// `ctx.helpers` (issue point 3: objects have no external relocations).
struct NativeHelpers {
    raise: fn(&mut Host, i64, i64) -> i64,
    set: fn(&mut Host, i64, i64, i64) -> i64,
}
static NATIVE_HELPERS: NativeHelpers = NativeHelpers {
    raise: native_raise_event,
    set: native_set_attribute,
};

/// Native PID monitor: `raise_event(Error, target - actual)`, reading
/// attributes with `read`, raising with `raise`.
#[inline(always)]
fn pid_monitor_with(
    h: &mut Host,
    cap: i64,
    read: fn(&mut Host, i64, i64) -> i64,
    raise: fn(&mut Host, i64, i64) -> i64,
) -> Result<(), Trap> {
    let actual = read(h, cap, ACTUAL_CPU);
    let target = read(h, cap, TARGET_CPU);
    let e = target.checked_sub(actual).ok_or(OVERFLOW)?;
    raise(h, 0, e);
    Ok(())
}

/// The native PID monitor, its reads inlined loads (the baseline).
#[inline(never)]
fn native_pid_monitor(h: &mut Host, cap: i64) -> Result<(), Trap> {
    pid_monitor_with(h, cap, native_get_attribute, native_raise_event)
}

/// The native PID monitor with its reads as calls: session 2's baseline,
/// from before attribute reads became loads in compiled code.
#[inline(never)]
fn native_pid_monitor_read_calls(h: &mut Host, cap: i64) -> Result<(), Trap> {
    pid_monitor_with(h, cap, native_get_attribute_call, native_raise_event)
}

/// The native PID monitor calling its helper through a table.
#[inline(never)]
fn native_pid_monitor_helper_table(h: &mut Host, cap: i64) -> Result<(), Trap> {
    pid_monitor_with(h, cap, native_get_attribute, black_box(&NATIVE_HELPERS).raise)
}

/// Native PID handler, state `[e_prev, u_prev]`.
#[inline(never)]
fn native_pid_handler(h: &mut Host, state: &mut [i64; 2], cap: i64, e: i64) -> Result<(), Trap> {
    pid_handler_with(h, state, cap, e, native_set_attribute)
}

/// The native PID handler calling its helper through a table.
#[inline(never)]
fn native_pid_handler_helper_table(h: &mut Host, state: &mut [i64; 2], cap: i64, e: i64) -> Result<(), Trap> {
    pid_handler_with(h, state, cap, e, black_box(&NATIVE_HELPERS).set)
}

/// The PID law, writing the adjustment with `set`.
#[inline(always)]
fn pid_handler_with(
    h: &mut Host,
    state: &mut [i64; 2],
    cap: i64,
    e: i64,
    set: fn(&mut Host, i64, i64, i64) -> i64,
) -> Result<(), Trap> {
    const KP: i64 = 500;
    const KI: i64 = 100;
    const KD: i64 = 50;
    let p = (KP + KD + KI).checked_mul(e).ok_or(OVERFLOW)?;
    let d = KD.checked_mul(state[0]).ok_or(OVERFLOW)?;
    let u = (p.checked_sub(d).ok_or(OVERFLOW)? / 1000)
        .checked_add(state[1])
        .ok_or(OVERFLOW)?;
    state[0] = e;
    state[1] = u;
    if !(-1_000_000..=1_000_000).contains(&u) {
        return Err(RANGE_ERROR);
    }
    set(h, cap, TIMESLICE_ADJUSTMENT, u);
    Ok(())
}

type NativeMonitor = fn(&mut Host, i64) -> Result<(), Trap>;
type NativeHandler = fn(&mut Host, &mut [i64; 2], i64, i64) -> Result<(), Trap>;

struct NativePid {
    monitor: NativeMonitor,
    handler: NativeHandler,
    host: Host,
    state: Vec<[i64; 2]>,
    round: u64,
}

impl NativePid {
    fn new(n: usize, monitor: NativeMonitor, handler: NativeHandler) -> NativePid {
        NativePid {
            monitor,
            handler,
            host: Host::new(n),
            state: vec![[0; 2]; n],
            round: 0,
        }
    }

    fn round(&mut self) -> Result<(), Trap> {
        // Entry points are called through pointers the optimizer cannot see
        // through, as the compiled ones are (and as a kernel calls a
        // module's hooks): no inlining or specialisation across the call.
        let monitor: NativeMonitor = black_box(self.monitor);
        let handler: NativeHandler = black_box(self.handler);
        for p in 0..self.state.len() {
            self.host.pid_inputs(p, self.round);
            let cap = p as i64 + 1;
            monitor(&mut self.host, cap)?;
            let e = self.host.raised;
            handler(&mut self.host, &mut self.state[p], cap, e)?;
        }
        self.round += 1;
        Ok(())
    }
}

struct CompiledPid {
    ext: Ext,
    monitor: Monitor,
    handler: Handler,
    /// The fuel each call of the monitor and of the handler starts with.
    start_fuel: (i64, i64),
    host: Box<Host>,
    /// `host.rows()`.
    rows: Vec<*const i64>,
    data: Vec<Vec<i64>>,
    round: u64,
}

impl CompiledPid {
    fn new(n: usize, no_fuel: bool) -> CompiledPid {
        let ext = Ext::load(PID_SRC, no_fuel);
        let (monitor, handler) = (ext.monitor("cpu_monitor"), ext.handler("cpu_pid"));
        let start_fuel = (ext.start_fuel("cpu_monitor"), ext.start_fuel("cpu_pid"));
        let data = (0..n).map(|_| ext.data()).collect();
        let host = Box::new(Host::new(n));
        CompiledPid {
            ext,
            monitor,
            handler,
            start_fuel,
            rows: host.rows(),
            host,
            data,
            round: 0,
        }
    }

    fn round(&mut self) -> Result<(), Trap> {
        let mut frame = host_frame(&mut self.host, &self.rows, &mut self.data[0], FUEL);
        for p in 0..self.data.len() {
            // SAFETY: `frame.info` is the only live pointer to the host, and
            // no code runs meanwhile.
            unsafe { (*frame.info).pid_inputs(p, self.round) };
            frame.ctx.data = self.data[p].as_mut_ptr();
            frame.ctx.attrs = &self.rows[p];
            let cap = p as i64 + 1;
            // A host stores the fuel every invocation starts with.
            frame.ctx.fuel = self.start_fuel.0;
            call_monitor(self.monitor, &mut frame, black_box(cap))?;
            // SAFETY: as above.
            let e = unsafe { (*frame.info).raised };
            frame.ctx.fuel = self.start_fuel.1;
            call_handler(self.handler, &mut frame, cap, e)?;
        }
        self.round += 1;
        Ok(())
    }

    /// `[e_prev, u_prev]` of every process, from the data regions.
    fn state(&self) -> Vec<[i64; 2]> {
        let (e, u) = (self.ext.global("e_prev"), self.ext.global("u_prev"));
        self.data.iter().map(|d| [d[e], d[u]]).collect()
    }
}

// ------------------------------------------------------------- loop kernel

const LOOP_LEN: usize = 256;

fn loop_array() -> Vec<i64> {
    (0..LOOP_LEN as i64)
        .map(|k| (k * 7919 + 13) % 100_003 - 50_000)
        .collect()
}

#[inline(never)]
fn native_checksum(a: &[i64], seed: i64) -> Result<i64, Trap> {
    let mut s = seed;
    let mut i: i64 = 0;
    while i < 256 {
        let ai = *a.get(i as usize).ok_or(OUT_OF_BOUNDS)?;
        let x = ai.checked_mul(i.checked_add(1).ok_or(OVERFLOW)?).ok_or(OVERFLOW)?;
        let j = i.checked_mul(5).ok_or(OVERFLOW)?.checked_add(3).ok_or(OVERFLOW)? & 255;
        let y = *a.get(j as usize).ok_or(OUT_OF_BOUNDS)?;
        s = s
            .checked_mul(31)
            .ok_or(OVERFLOW)?
            .checked_add(x)
            .ok_or(OVERFLOW)?
            .checked_sub(y)
            .ok_or(OVERFLOW)?
            & 16_777_215;
        i = i.checked_add(1).ok_or(OVERFLOW)?;
    }
    Ok(s)
}

#[inline(never)]
fn native_loop_monitor(h: &mut Host, a: &[i64], cap: i64) -> Result<(), Trap> {
    let seed = native_get_attribute(h, cap, TARGET_CPU);
    let v = native_checksum(a, seed)?;
    native_raise_event(h, 0, v);
    Ok(())
}

// ------------------------------------------------------------- call kernel

/// The call kernel's native functions, twice: with every function a call
/// (`inline(never)`, to measure calls) and with LLVM free to inline.
macro_rules! native_call_kernel {
    ($module:ident, $($attr:meta)?) => {
        mod $module {
            use super::{native_get_attribute, native_raise_event, Host, Trap, OVERFLOW, TARGET_CPU};

            $(#[$attr])?
            fn clamp(x: i64, lo: i64, hi: i64) -> i64 {
                if x < lo {
                    lo
                } else if x > hi {
                    hi
                } else {
                    x
                }
            }
            $(#[$attr])?
            fn chain3(x: i64) -> Result<i64, Trap> {
                let y = x.checked_mul(3).ok_or(OVERFLOW)?.checked_add(1).ok_or(OVERFLOW)?;
                Ok(clamp(y, -1000, 1000))
            }
            $(#[$attr])?
            fn chain2(x: i64) -> Result<i64, Trap> {
                chain3(x)?.checked_add(1).ok_or(OVERFLOW)
            }
            $(#[$attr])?
            fn chain1(x: i64) -> Result<i64, Trap> {
                chain2(x)?.checked_sub(x).ok_or(OVERFLOW)
            }

            #[inline(never)]
            pub fn monitor(h: &mut Host, cap: i64) -> Result<(), Trap> {
                let seed = native_get_attribute(h, cap, TARGET_CPU);
                let mut s: i64 = 0;
                let mut i: i64 = 0;
                while i < 100 {
                    let c = clamp(seed.checked_add(i).ok_or(OVERFLOW)?, -50, 50);
                    let d = chain1(i.checked_sub(seed).ok_or(OVERFLOW)?)?;
                    s = s.checked_add(c).ok_or(OVERFLOW)?.checked_add(d).ok_or(OVERFLOW)?;
                    i = i.checked_add(1).ok_or(OVERFLOW)?;
                }
                native_raise_event(h, 0, s);
                Ok(())
            }
        }
    };
}
native_call_kernel!(native_calls, inline(never));
native_call_kernel!(native_inlined,);

// ------------------------------------------------------------------ report

struct Row {
    name: String,
    unit: &'static str,
    native: Contender,
    /// For the PID rows: the native code as `OTHER_NATIVES` describes.
    other_natives: Option<[Contender; 2]>,
    fuel: Contender,
    no_fuel: Contender,
}

/// A benchmark operation: `Err` if it trapped.
type Op<'a> = &'a mut dyn FnMut() -> Result<(), Trap>;

/// Native, fuel and no-fuel code timed in interleaved batches of `ops`
/// operations (`bench::interleaved`); a trap fails the benchmark.
fn compare(ops: u64, native: Op, fuel: Op, no_fuel: Op) -> [Contender; 3] {
    interleaved(ops, [native, fuel, no_fuel], |r| {
        assert_eq!(r, Ok(()), "a benchmark trapped")
    })
}

fn pid_row(n: usize) -> Row {
    // Agreement: the same attribute writes and the same per-process state
    // after every one of 50 rounds, for native, fuel and no-fuel code.
    let mut native = NativePid::new(n, native_pid_monitor, native_pid_handler);
    let mut read_calls = NativePid::new(n, native_pid_monitor_read_calls, native_pid_handler);
    let mut helper_table = NativePid::new(n, native_pid_monitor_helper_table, native_pid_handler_helper_table);
    let mut fuel = CompiledPid::new(n, false);
    let mut no_fuel = CompiledPid::new(n, true);
    for round in 0..50 {
        native.round().expect("native round");
        read_calls.round().expect("native round");
        helper_table.round().expect("native round");
        fuel.round().expect("compiled round");
        no_fuel.round().expect("no-fuel round");
        assert_eq!(
            native.host.sets, fuel.host.sets,
            "round {round}: attribute writes differ"
        );
        assert_eq!(
            native.host.sets, no_fuel.host.sets,
            "round {round}: attribute writes differ"
        );
        assert_eq!(native.state, fuel.state(), "round {round}: state differs");
        assert_eq!(native.state, no_fuel.state(), "round {round}: state differs");
        assert_eq!(native.state, read_calls.state, "round {round}: state differs");
        assert_eq!(native.state, helper_table.state, "round {round}: state differs");
        assert_eq!(
            native.host.sets, helper_table.host.sets,
            "round {round}: attribute writes differ"
        );
        assert!(native.host.sets.iter().any(|&u| u != 0));
    }
    let rounds = (20_000 / n as u64).max(2) & !1;
    let [native_c, read_calls_c, helper_table_c, fuel_c, no_fuel_c] = interleaved(
        rounds,
        [
            &mut || native.round(),
            &mut || read_calls.round(),
            &mut || helper_table.round(),
            &mut || fuel.round(),
            &mut || no_fuel.round(),
        ],
        |r| assert_eq!(r, Ok(()), "a benchmark trapped"),
    );
    Row {
        name: format!("PID service round, N={n}"),
        unit: "round",
        native: native_c,
        other_natives: Some([read_calls_c, helper_table_c]),
        fuel: fuel_c,
        no_fuel: no_fuel_c,
    }
}

/// Calls per timed batch of the loop and call kernels.
const CALLS: u64 = 2_000;

fn loop_row() -> Row {
    let a = loop_array();
    let seed = 20_000;
    let mut native_host = Host::new(1);
    native_host.attrs[0][TARGET_CPU as usize] = seed;
    let compiled = |no_fuel| {
        let ext = Ext::load_with(LOOP_SRC, no_fuel, true);
        let mut data = ext.data();
        let base = ext.global("a");
        data[base..base + LOOP_LEN].copy_from_slice(&a);
        let host = Box::new(native_host.clone());
        (ext, data, host)
    };
    let (fuel_ext, mut fuel_data, mut fuel_host) = compiled(false);
    let (nf_ext, mut nf_data, mut nf_host) = compiled(true);
    native_loop_monitor(&mut native_host, &a, 1).expect("native");
    let expected = native_host.raised;
    let (fuel_fn, nf_fn) = (fuel_ext.monitor("loop_monitor"), nf_ext.monitor("loop_monitor"));
    let start_fuel = fuel_ext.start_fuel("loop_monitor");
    let run = |f: Monitor, host: &mut Host, data: &mut [i64]| {
        let rows = [host.attrs[0].as_ptr()];
        let mut frame = host_frame(host, &rows, data, start_fuel);
        call_monitor(f, &mut frame, black_box(1))
    };
    run(fuel_fn, &mut fuel_host, &mut fuel_data).expect("compiled");
    run(nf_fn, &mut nf_host, &mut nf_data).expect("no-fuel");
    assert_eq!(
        (fuel_host.raised, nf_host.raised),
        (expected, expected),
        "checksums differ"
    );
    assert_ne!(expected, 0);
    let [native, fuel, no_fuel] = compare(
        CALLS,
        &mut || {
            black_box(native_loop_monitor as fn(&mut Host, &[i64], i64) -> Result<(), Trap>)(&mut native_host, &a, 1)
        },
        &mut || run(fuel_fn, &mut fuel_host, &mut fuel_data),
        &mut || run(nf_fn, &mut nf_host, &mut nf_data),
    );
    Row {
        name: format!("loop kernel ({LOOP_LEN} iterations)"),
        unit: "call",
        other_natives: None,
        native,
        fuel,
        no_fuel,
    }
}

/// The call kernel; `inline`: inlining on both sides (LLVM's natively,
/// the front-end's compiled), else every function a call on both.
fn call_row(inline: bool) -> Row {
    let seed = 20;
    let mut native_host = Host::new(1);
    native_host.attrs[0][TARGET_CPU as usize] = seed;
    let native_call_monitor: NativeMonitor = if inline {
        native_inlined::monitor
    } else {
        native_calls::monitor
    };
    let (fuel_ext, nf_ext) = (
        Ext::load_with(CALL_SRC, false, inline),
        Ext::load_with(CALL_SRC, true, inline),
    );
    let (mut fuel_data, mut nf_data) = (fuel_ext.data(), nf_ext.data());
    let (mut fuel_host, mut nf_host) = (Box::new(native_host.clone()), Box::new(native_host.clone()));
    native_call_monitor(&mut native_host, 1).expect("native");
    let expected = native_host.raised;
    let (fuel_fn, nf_fn) = (fuel_ext.monitor("call_monitor"), nf_ext.monitor("call_monitor"));
    let start_fuel = fuel_ext.start_fuel("call_monitor");
    let run = |f: Monitor, host: &mut Host, data: &mut [i64]| {
        let rows = [host.attrs[0].as_ptr()];
        let mut frame = host_frame(host, &rows, data, start_fuel);
        call_monitor(f, &mut frame, black_box(1))
    };
    run(fuel_fn, &mut fuel_host, &mut fuel_data).expect("compiled");
    run(nf_fn, &mut nf_host, &mut nf_data).expect("no-fuel");
    assert_eq!(
        (fuel_host.raised, nf_host.raised),
        (expected, expected),
        "results differ"
    );
    let [native, fuel, no_fuel] = compare(
        CALLS,
        &mut || black_box(native_call_monitor as NativeMonitor)(&mut native_host, 1),
        &mut || run(fuel_fn, &mut fuel_host, &mut fuel_data),
        &mut || run(nf_fn, &mut nf_host, &mut nf_data),
    );
    Row {
        name: if inline {
            "call kernel, inlining on both sides".into()
        } else {
            "call kernel (100 × clamp + 3-deep chain)".into()
        },
        unit: "call",
        other_natives: None,
        native,
        fuel,
        no_fuel,
    }
}

fn compile_throughput() {
    let source = popgen::large_extension(10_000, 1);
    let lines = source.lines().count();
    let options = popcorn_front::Options {
        file_name: "large.pop".into(),
        stdlib: false,
        inline: true,
    };
    let config = verifier::Config::default();
    let cg = codegen::Options::default();
    let module = popcorn_front::compile(&source, &options)
        .module
        .expect("the generated extension compiles");
    let insts: usize = module.funcs.iter().map(|f| f.inst_count()).sum();
    let funcs = codegen::lower::lower_module(&module, cg).expect("lowers");
    let object_len = codegen::object::write_object(&module, &funcs, cg).len();
    // The stages and the whole pipeline in interleaved rounds, so that the
    // shares compare times taken in the same state of the machine.
    let [whole, front, verify, lower, write] = interleaved(
        1,
        [
            &mut || {
                let m = popcorn_front::compile(black_box(&source), &options)
                    .module
                    .expect("compiles");
                verifier::verify(&m, &config).expect("verifies");
                let f = codegen::lower::lower_module(&m, cg).expect("lowers");
                codegen::object::write_object(&m, &f, cg).len()
            },
            &mut || usize::from(popcorn_front::compile(black_box(&source), &options).module.is_some()),
            &mut || usize::from(verifier::verify(black_box(&module), &config).is_ok()),
            &mut || usize::from(codegen::lower::lower_module(black_box(&module), cg).is_ok()),
            &mut || codegen::object::write_object(black_box(&module), &funcs, cg).len(),
        ],
        |r| assert!(r > 0, "a stage failed"),
    );
    println!();
    println!(
        "Compile throughput: `popgen::large_extension(10_000, 1)`: {lines} lines, {insts} TAL instructions, \
         {} functions, {object_len}-byte object.",
        module.funcs.len()
    );
    println!();
    println!("| stage | best time | share of pipeline (median over rounds) | lines/s |");
    println!("|---|---:|---:|---:|");
    for (stage, c) in [
        ("front-end (parse, check, lower to TAL)", front),
        ("verify", verify),
        ("lower (Cranelift)", lower),
        ("write object", write),
        ("**whole pipeline**", whole),
    ] {
        println!(
            "| {stage} | {:.1} ms | {:.0} % | {:.0} k |",
            c.best_ns / 1e6,
            100.0 * c.ratio,
            lines as f64 / c.best_ns * 1e6
        );
    }
}

/// Processes the report's figures are the medians of, by default.
const PROCESSES: usize = 5;

/// The PID rows' other native baselines: what compiled code's ABI costs.
const OTHER_NATIVES: [&str; 2] = [
    "attribute reads as calls (compiled code's until ABI 3)",
    "helpers called through a table (as compiled code calls `ctx.helpers`)",
];

/// A row as a child process reports it to the parent: one tab-separated
/// line, `ROW_TAG` first.
const ROW_TAG: &str = "row";

/// Columns of an `Aggregate`.
const NATIVE_NS: usize = 0;
const FUEL_NS: usize = 1;
const FUEL_RATIO: usize = 2;
const NO_FUEL_NS: usize = 3;
const NO_FUEL_RATIO: usize = 4;
const FUEL_OVERHEAD: usize = 5;
/// Then, per other native baseline: its ns, and fuel code's ratio to it.
const OTHERS: usize = 6;

impl Row {
    fn to_line(&self) -> String {
        let mut fields = vec![
            self.native.best_ns,
            self.fuel.best_ns,
            self.fuel.ratio,
            self.no_fuel.best_ns,
            self.no_fuel.ratio,
            100.0 * (self.fuel.ratio / self.no_fuel.ratio - 1.0),
        ];
        for k in 0..OTHER_NATIVES.len() {
            let other = self.other_natives.map(|o| o[k]);
            fields.push(other.map_or(f64::NAN, |c| c.best_ns));
            fields.push(other.map_or(f64::NAN, |c| self.fuel.ratio / c.ratio));
        }
        let fields: Vec<String> = fields.iter().map(f64::to_string).collect();
        format!("{ROW_TAG}\t{}\t{}\t{}", self.name, self.unit, fields.join("\t"))
    }
}

/// One row over every process: per column, the values each reported.
struct Aggregate {
    name: String,
    unit: String,
    columns: [Vec<f64>; OTHERS + 2 * OTHER_NATIVES.len()],
}

impl Aggregate {
    fn add(rows: &mut Vec<Aggregate>, line: &str) {
        let fields: Vec<&str> = line.split('\t').collect();
        let values: Vec<f64> = fields[3..].iter().map(|f| f.parse().expect("a number")).collect();
        assert_eq!(
            values.len(),
            OTHERS + 2 * OTHER_NATIVES.len(),
            "a row line from a child: {line}"
        );
        let row = match rows.iter_mut().position(|r| r.name == fields[1]) {
            Some(i) => &mut rows[i],
            None => {
                rows.push(Aggregate {
                    name: fields[1].into(),
                    unit: fields[2].into(),
                    columns: Default::default(),
                });
                rows.last_mut().expect("just pushed")
            }
        };
        for (column, value) in row.columns.iter_mut().zip(values) {
            column.push(value);
        }
    }

    fn median(&self, column: usize) -> f64 {
        let mut v = self.columns[column].clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    /// `median (min–max)` of a column, with `unit` after each.
    fn spread(&self, column: usize, digits: usize, unit: &str) -> String {
        let v = &self.columns[column];
        let (lo, hi) = v
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
        if v.len() == 1 {
            return format!("{:.digits$}{unit}", v[0]);
        }
        format!("{:.digits$}{unit} ({lo:.digits$}–{hi:.digits$})", self.median(column))
    }
}

fn main() {
    // `codegen_bench [--processes N] [WORD]`: runs the benchmarks in N
    // processes (default `PROCESSES`) one after another and reports, per
    // figure, the median over processes and their range: where the code
    // and data land (a fresh address space each) moves a ratio by more
    // than rounds within one process differ. WORD runs only the rows whose
    // name contains it (and no compile throughput), for profiling one.
    let mut args = std::env::args().skip(1);
    let (mut processes, mut only, mut child) = (PROCESSES, None, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--processes" => {
                processes = args.next().and_then(|n| n.parse().ok()).expect("--processes N, N >= 1");
                assert!(processes >= 1, "--processes N, N >= 1");
            }
            "--child" => child = true,
            word => only = Some(word.to_string()),
        }
    }
    type Bench = (&'static str, fn() -> Row);
    let all: [Bench; 5] = [
        ("PID service round, N=3", || pid_row(3)),
        ("PID service round, N=64", || pid_row(64)),
        ("loop kernel", loop_row),
        ("call kernel", || call_row(false)),
        ("call kernel, inlining", || call_row(true)),
    ];
    if child {
        for (_, row) in all
            .iter()
            .filter(|(name, _)| only.as_ref().is_none_or(|w| name.contains(w.as_str())))
        {
            println!("{}", row().to_line());
        }
        return;
    }
    let started = Instant::now();
    let mut rows: Vec<Aggregate> = Vec::new();
    for p in 0..processes {
        let exe = std::env::current_exe().expect("the benchmark's own path");
        let mut command = std::process::Command::new(exe);
        command.arg("--child").args(only.iter());
        let out = command.output().expect("runs a benchmark process");
        assert!(
            out.status.success(),
            "benchmark process {p} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("UTF-8 output");
        for line in text.lines().filter(|l| l.starts_with(ROW_TAG)) {
            Aggregate::add(&mut rows, line);
        }
        eprint!("\r{} of {processes} processes", p + 1);
    }
    eprintln!();
    println!(
        "| benchmark | native ns/op | compiled (fuel) ns/op | fuel vs native | compiled --no-fuel ns/op | no-fuel vs native | fuel overhead |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} (op = {}) | {:.1} | {:.1} | {} | {:.1} | {} | {} |",
            r.name,
            r.unit,
            r.median(NATIVE_NS),
            r.median(FUEL_NS),
            r.spread(FUEL_RATIO, 2, "x"),
            r.median(NO_FUEL_NS),
            r.spread(NO_FUEL_RATIO, 2, "x"),
            r.spread(FUEL_OVERHEAD, 1, " %"),
        );
    }
    println!();
    println!(
        "{processes} processes. ns/op: median of each process's best batch. Ratios: per process the median over \
         interleaved rounds of the per-round ratio (bench::interleaved); shown: the median over processes (range)."
    );
    println!("Goals: compiled with fuel at most 1.25x native; fuel overhead at most 10 %.");
    for (k, what) in OTHER_NATIVES.iter().enumerate() {
        let (ns, ratio) = (OTHERS + 2 * k, OTHERS + 2 * k + 1);
        let with: Vec<&Aggregate> = rows.iter().filter(|r| r.median(ns).is_finite()).collect();
        if with.is_empty() {
            continue;
        }
        println!();
        println!("Against native code with {what}:");
        println!();
        println!("| benchmark | that native ns/op | compiled (fuel) ns/op | fuel vs that native |");
        println!("|---|---:|---:|---:|");
        for r in with {
            println!(
                "| {} | {:.1} | {:.1} | {} |",
                r.name,
                r.median(ns),
                r.median(FUEL_NS),
                r.spread(ratio, 2, "x")
            );
        }
    }
    if only.is_none() {
        compile_throughput();
    }
    eprintln!("(benchmark run took {:.1} s)", started.elapsed().as_secs_f64());
}
