//! Differential testing: generated programs give the same results, the
//! same traps (kind and location), the same fuel left and the same memory,
//! compiled and interpreted by the reference interpreter. Some runs have a
//! helper abort the invocation, which both run on from in the same way
//! (ABI 2: helpers refuse to act after an abort; nothing tests the status
//! after a helper call; ABI 3: attribute reads are loads from `ctx.attrs`,
//! made after an abort too).

#![deny(clippy::undocumented_unsafe_blocks)]
// Runs compiled code, which Miri cannot (docs/miri.md).
#![cfg(not(miri))]

use runtime::image::CodeImage;
use runtime::rows::AttrRows;
use std::sync::atomic::{AtomicU64, Ordering};
use stdlib::abi::{Ctx, Frame, HelperFn, status};
use tal_interp::{Host, HostError, Instance, TrapKind};

/// What a run did, in terms both executions can report.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    result: Option<i64>,
    status: u64,
    /// (function, block, instruction or `TRAP_AT_TERMINATOR`) of a trap.
    location: Option<(u32, u32, u32)>,
    fuel_left: i64,
    calls: Vec<(u16, [i64; 3])>,
    data: Vec<i64>,
}

/// Helper results are a function of the call, so both sides see the same.
fn helper_result(id: u16) -> i64 {
    match id {
        3 => 1_000_000, // now_us
        _ => 0,
    }
}

/// The attribute values both sides read (`get_attribute` is a read of the
/// rows in `ctx.attrs`, not a helper call).
fn attribute_value(class: u32, attr: u32) -> i64 {
    i64::from(class) * 1000 + i64::from(attr) * 37 - 4000
}

/// The helper calls that reached the host; the one at `abort_at` (counted
/// from 0) aborts the invocation.
#[derive(Default)]
struct Log {
    calls: Vec<(u16, [i64; 3])>,
    abort_at: Option<usize>,
}

impl Log {
    fn new(abort_at: Option<usize>) -> Log {
        Log {
            calls: Vec::new(),
            abort_at,
        }
    }

    /// Records a call; whether it aborts.
    fn record(&mut self, id: u16, args: [i64; 3]) -> bool {
        self.calls.push((id, args));
        self.abort_at == Some(self.calls.len() - 1)
    }
}

impl Host for Log {
    fn call_helper(&mut self, id: u16, args: &[i64]) -> Result<Option<i64>, HostError> {
        let mut a = [0; 3];
        a[..args.len()].copy_from_slice(args);
        if self.record(id, a) {
            return Err(HostError::Abort(format!("call {} aborts", self.calls.len() - 1)));
        }
        let def = stdlib::helper_by_id(id).expect("known helper");
        Ok((def.ret != stdlib::HelperRet::Unit).then(|| helper_result(id)))
    }

    fn read_attribute(&mut self, attr: tal_ir::AttrRef) -> i64 {
        attribute_value(attr.class.0, attr.attr)
    }
}

/// Compiled helper calls made after an abort (and refused): the code ran on.
static REFUSED: AtomicU64 = AtomicU64::new(0);

/// The compiled code's `trap_func` before a run, left as is by an abort.
const NO_SITE: u32 = u32::MAX;

/// A context with the log of the run behind it, for the helpers.
type LogFrame = Frame<*mut Log>;

macro_rules! helper {
    ($name:ident, $id:expr) => {
        unsafe extern "C" fn $name(ctx: *mut Ctx, a0: i64, a1: i64, a2: i64) -> i64 {
            // SAFETY: compiled code calls its helpers with the context
            // pointer of the live `LogFrame` `compiled` made, and is
            // suspended in the call: nothing else accesses the context.
            if unsafe { (*ctx).status } != status::OK {
                // Sticky: after an abort every helper refuses to act.
                REFUSED.fetch_add(1, Ordering::Relaxed);
                return 0;
            }
            // SAFETY: as above; the pointer's provenance covers the frame's
            // host part, and the log is used by nothing else meanwhile.
            let log = unsafe { &mut **LogFrame::info_ptr(ctx) };
            let args = [a0, a1, a2];
            let arity = stdlib::helper_by_id($id).unwrap().params.len();
            let mut logged = [0; 3];
            logged[..arity].copy_from_slice(&args[..arity]);
            if log.record($id, logged) {
                // SAFETY: as above.
                unsafe { (*ctx).status = status::HOST_ABORT };
                return 0;
            }
            helper_result($id)
        }
    };
}
/// Slot 0: attribute reads are loads from `ctx.attrs` (ABI 3).
unsafe extern "C" fn not_called(_: *mut Ctx, _: i64, _: i64, _: i64) -> i64 {
    panic!("compiled code called the attribute-read slot")
}
helper!(h1, 1);
helper!(h2, 2);
helper!(h3, 3);
helper!(h4, 4);
helper!(h5, 5);
static HELPERS: [HelperFn; 6] = [not_called, h1, h2, h3, h4, h5];

const CAP: i64 = 1;

fn interpreted(inst: &mut Instance, func: tal_ir::FuncId, args: &[i64], fuel: i64, abort_at: Option<usize>) -> Outcome {
    let mut log = Log::new(abort_at);
    let mut fuel_left = fuel;
    let (result, status, location) = match inst.invoke(&mut log, func, args, &mut fuel_left) {
        Ok(r) => (r, status::OK, None),
        // Compiled code leaves the location of an abort unset.
        Err(trap) if matches!(trap.kind, TrapKind::HostAbort(_)) => (None, status::HOST_ABORT, None),
        Err(trap) => {
            let status = match trap.kind {
                TrapKind::Exception(k) => codegen::lower::status_of(k),
                TrapKind::OutOfFuel => status::OUT_OF_FUEL,
                other => panic!("a verified program trapped with {other:?}"),
            };
            let inst_index = trap.inst.map_or(stdlib::abi::TRAP_AT_TERMINATOR, |i| i as u32);
            (None, status, Some((trap.func.0, trap.block.0, inst_index)))
        }
    };
    let result = if status == status::OK { result.or(Some(0)) } else { None };
    Outcome {
        result,
        status,
        location,
        fuel_left,
        calls: log.calls,
        data: inst.data().to_vec(),
    }
}

fn compiled(
    image: &CodeImage,
    rows: &AttrRows,
    data: &mut [i64],
    func: usize,
    args: &[i64],
    fuel: i64,
    abort_at: Option<usize>,
) -> Outcome {
    let mut log = Log::new(abort_at);
    let mut ctx = Ctx::new(
        fuel,
        HELPERS.as_ptr(),
        data.as_mut_ptr(),
        rows.as_ptr(),
        runtime::refuel::exhausted(),
    );
    ctx.trap_func = NO_SITE;
    let mut frame = LogFrame { ctx, info: &mut log };
    // SAFETY: the helpers are sound for this frame's context pointer; the
    // data region and rows are the module's, and nothing else uses them,
    // the frame or the log during the call.
    let r = unsafe { image.call(func, LogFrame::ctx_ptr(&mut frame), args) }.expect("entry point");
    let ctx = &frame.ctx;
    let trapped = ctx.status != status::OK;
    let location = (ctx.trap_func, ctx.trap_block, ctx.trap_inst);
    Outcome {
        result: (!trapped).then_some(r),
        status: ctx.status,
        // An abort has no location: the fields may hold an exception caught
        // before it (stdlib::abi), and hosts do not report them.
        location: (trapped && ctx.status != status::HOST_ABORT && location != (NO_SITE, 0, 0)).then_some(location),
        fuel_left: ctx.fuel,
        calls: log.calls,
        data: data.to_vec(),
    }
}

/// Runs the program's entry points a few rounds (globals persist) with a
/// fuel budget, both ways, and compares every outcome. With `abort_at`,
/// that helper call of each invocation aborts it.
fn check(source: &str, fuel: i64, abort_at: Option<usize>, statuses: &mut [u64; 8]) -> Result<(), String> {
    let module = popcorn_front::compile(source, &popcorn_front::Options::default())
        .module
        .ok_or("rejected")?;
    check_module(module, fuel, abort_at, statuses)
}

fn check_module(
    module: tal_ir::Module,
    fuel: i64,
    abort_at: Option<usize>,
    statuses: &mut [u64; 8],
) -> Result<(), String> {
    verifier::verify(&module, &verifier::Config::default()).map_err(|e| format!("{e:?}"))?;
    let funcs = codegen::lower::lower_module(&module, codegen::Options::default()).map_err(|e| e.to_string())?;
    let object = codegen::object::write_object(&module, &funcs, codegen::Options::default());
    let parts = codegen::object::read_object(&object).map_err(|e| e.to_string())?;
    let image = CodeImage::link(&parts).map_err(|e| e.message)?;
    let mut data = tal_ir::layout::GlobalLayout::new(&module)
        .unwrap()
        .initial_data(1 << 20)
        .unwrap();
    let rows = AttrRows::new(&module, attribute_value);
    let mut interp = Instance::new(module.clone()).map_err(|e| e.to_string())?;
    for round in 0..3 {
        for (index, f) in module.funcs.iter().enumerate() {
            let args: Vec<i64> = match f.kind {
                tal_ir::FuncKind::Monitor => vec![CAP],
                tal_ir::FuncKind::Handler { .. } => vec![CAP, 17 * round - 5],
                _ => continue,
            };
            let want = interpreted(&mut interp, tal_ir::FuncId(index as u32), &args, fuel, abort_at);
            let got = compiled(&image, &rows, &mut data, index, &args, fuel, abort_at);
            if want != got {
                return Err(format!(
                    "round {round}, `{}`:\n interpreted {want:?}\n compiled    {got:?}",
                    f.name
                ));
            }
            statuses[got.status as usize] += 1;
        }
    }
    Ok(())
}

/// Compiles each program with and without inlining and checks that every
/// run, at each of `fuels`, agrees with the interpreter; how many runs
/// ended with each status.
fn agree_compiled_and_interpreted(programs: &[&str], fuels: &[i64]) -> [u64; 8] {
    let mut statuses = [0u64; 8];
    for (k, source) in programs.iter().enumerate() {
        for inline in [false, true] {
            let options = popcorn_front::Options {
                inline,
                ..popcorn_front::Options::default()
            };
            let compiled = popcorn_front::compile(source, &options);
            let module = compiled
                .module
                .unwrap_or_else(|| panic!("program {k} compiles: {:?}", compiled.diagnostics));
            for &fuel in fuels {
                if let Err(why) = check_module(module.clone(), fuel, None, &mut statuses) {
                    panic!("program {k}, inline {inline}, fuel {fuel}: {why}");
                }
            }
        }
    }
    statuses
}

#[test]
fn generated_programs_agree_compiled_and_interpreted() {
    let cases: u64 = std::env::var("SAFEX_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut failures = Vec::new();
    let mut statuses = [0u64; 8];
    for seed in 0..cases {
        let program = popgen::sample(seed, popgen::GenConfig::default());
        // Vary the budget so that fuel runs out at many different points.
        let fuel = [200, 1_000, 5_000, 100_000][(seed % 4) as usize];
        // One program in five has a helper call abort each invocation.
        let abort_at = (seed % 5 == 2).then_some((seed / 5 % 3) as usize);
        if let Err(why) = check(&program.source, fuel, abort_at, &mut statuses) {
            failures.push(format!("seed {seed}: {why}\n{}", program.source));
            if failures.len() >= 3 {
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // The comparison means something only if runs end every way: normally,
    // by each exception, and out of fuel.
    let [ok, div, bounds, overflow, range, _, fuel, abort] = statuses;
    let refused = REFUSED.load(Ordering::Relaxed);
    eprintln!(
        "outcomes: ok {ok}, DivideByZero {div}, OutOfBounds {bounds}, Overflow {overflow}, RangeError {range}, \
         OutOfFuel {fuel}, HostAbort {abort} (helper calls refused after an abort: {refused})"
    );
    if cases >= 1000 {
        for (what, n) in [
            ("ok", ok),
            ("DivideByZero", div),
            ("OutOfBounds", bounds),
            ("Overflow", overflow),
            ("RangeError", range),
            ("OutOfFuel", fuel),
            ("HostAbort", abort),
        ] {
            assert!(n >= 10, "only {n} runs ended with {what}");
        }
        assert!(
            refused >= 10,
            "aborted code rarely ran on to another helper call ({refused})"
        );
    }
}

#[test]
fn tal_level_generated_modules_agree_compiled_and_interpreted() {
    // Valid TAL written directly (no front-end): long straight-line code and
    // nested diamonds and loops, with fuel amounts exactly at their bounds.
    let mut statuses = [0u64; 8];
    let mut caller_paid = 0;
    let mut mid_block_tests = 0;
    for seed in 0..24 {
        for shape in bench::Shape::ALL {
            let mut module = bench::generate(shape, 1_000 + 150 * seed as usize, seed);
            // Long straight runs carry tests of the deadline inside blocks
            // (`tal_ir::fuel` places them; V0409).
            mid_block_tests += module
                .funcs
                .iter()
                .flat_map(|f| &f.blocks)
                .flat_map(|b| b.insts.iter().skip(1))
                .filter(|i| matches!(i.kind, tal_ir::InstKind::Fuel(_)))
                .count();
            // Odd seeds: cheap work functions paid for by their callers.
            if seed % 2 == 1 {
                tal_ir::fuel::assign_module(&mut module, tal_ir::fuel::EntryFuel::DropCheap);
                caller_paid += module.funcs.iter().filter(|f| f.entry_fuel().is_none()).count();
            }
            let fuel = [300, 3_000, 1_000_000][(seed % 3) as usize];
            let abort_at = (seed % 4 == 1).then_some(seed as usize);
            if let Err(why) = check_module(module, fuel, abort_at, &mut statuses) {
                panic!("{} seed {seed}: {why}", shape.name());
            }
        }
    }
    for (what, s) in [("out of fuel", status::OUT_OF_FUEL), ("aborted", status::HOST_ABORT)] {
        assert!(statuses[s as usize] > 0, "some runs end {what}: {statuses:?}");
    }
    assert!(caller_paid >= 12, "{caller_paid} functions paid for by their callers");
    assert!(mid_block_tests >= 12, "{mid_block_tests} tests placed inside blocks");
}

/// Whether two invocations did the same, whatever where they trapped or
/// how much fuel they took: what inlining must not change.
fn same_behaviour(a: &Outcome, b: &Outcome) -> bool {
    (a.result, a.status, &a.calls, &a.data) == (b.result, b.status, &b.calls, &b.data)
}

#[test]
fn inlining_changes_no_behaviour() {
    // Each generated program compiled with and without inlining, both
    // interpreted: the same results, exceptions, helper calls and memory
    // (trap locations and fuel may differ); and the inlined one compiled
    // agrees with its interpretation exactly.
    const FUEL: i64 = 200_000;
    let cases: u64 = std::env::var("SAFEX_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let (mut inlined_programs, mut failures, mut statuses) = (0, Vec::new(), [0u64; 8]);
    for seed in 0..cases {
        let program = popgen::sample(seed, popgen::GenConfig::default());
        let compile = |inline| {
            let options = popcorn_front::Options {
                inline,
                ..popcorn_front::Options::default()
            };
            let module = popcorn_front::compile(&program.source, &options)
                .module
                .expect("compiles");
            verifier::verify(&module, &verifier::Config::default())
                .unwrap_or_else(|e| panic!("seed {seed}, inline {inline}: {e:?}\n{}", tal_ir::text::print(&module)));
            module
        };
        let (plain, inlined) = (compile(false), compile(true));
        let calls = |m: &tal_ir::Module| {
            m.funcs
                .iter()
                .flat_map(|f| &f.blocks)
                .flat_map(|b| &b.insts)
                .filter(|i| matches!(i.kind, tal_ir::InstKind::Call { .. }))
                .count()
        };
        if calls(&inlined) < calls(&plain) {
            inlined_programs += 1;
        }
        let abort_at = (seed % 5 == 2).then_some((seed / 5 % 3) as usize);
        let (mut a, mut b) = (
            Instance::new(plain.clone()).unwrap(),
            Instance::new(inlined.clone()).unwrap(),
        );
        'rounds: for round in 0..3 {
            for (index, f) in plain.funcs.iter().enumerate() {
                let args: Vec<i64> = match f.kind {
                    tal_ir::FuncKind::Monitor => vec![CAP],
                    tal_ir::FuncKind::Handler { .. } => vec![CAP, 17 * round - 5],
                    _ => continue,
                };
                // Inlining drops the functions it left uncalled: entry
                // points keep their names, not their indexes.
                let inlined_id = inlined.func_by_name(&f.name).expect("entry points stay");
                let (x, y) = (
                    interpreted(&mut a, tal_ir::FuncId(index as u32), &args, FUEL, abort_at),
                    interpreted(&mut b, inlined_id, &args, FUEL, abort_at),
                );
                // Inlining changes what a run costs, so where fuel runs out:
                // a program whose run ran out is compared no further.
                if x.status == status::OUT_OF_FUEL || y.status == status::OUT_OF_FUEL {
                    break 'rounds;
                }
                if !same_behaviour(&x, &y) {
                    failures.push(format!(
                        "seed {seed}, round {round}, `{}`:\n plain   {x:?}\n inlined {y:?}",
                        f.name
                    ));
                    break 'rounds;
                }
            }
        }
        if let Err(why) = check_module(inlined, 5_000, abort_at, &mut statuses) {
            failures.push(format!("seed {seed}, inlined, compiled vs interpreted: {why}"));
        }
        if failures.len() >= 3 {
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!("{inlined_programs} of {cases} programs had calls inlined");
    assert!(
        inlined_programs * 10 >= cases,
        "inlining must be exercised: {inlined_programs} of {cases}"
    );
}

/// Loads of globals that repeat an earlier load's or store's value
/// (`codegen/src/loads.rs`), against programs that would catch a wrong
/// reuse: a store to the same cell between two loads, a store through
/// another index that equals it, a call that writes the global, a store
/// through a reference parameter that points at it, a loop whose back edge
/// changes it, two paths that store different values, a catch edge, and
/// the QoS round with its inputs from a handler; and the overflow tests
/// that branch on the flag (`codegen/src/peephole.rs`), caught and not. Compiled with and without
/// inlining, each must agree with the interpreter (results, traps and their
/// locations, fuel, memory).
#[test]
fn repeated_loads_and_overflow_branches_agree_compiled_and_interpreted() {
    const PROGRAMS: &[&str] = &[
        concat!(
            include_str!("../../bench/pop/qos_round.pop"),
            include_str!("../../bench/pop/qos_measure.pop")
        ),
        // A store to the same cell, and through an index equal to it.
        "extension e; import cpu; int a[4]; int k = 1; int r = 0;\n\
         monitor void m(cap<cpu_qos> app) { int i = k; int j = 4 - k - 2;\n\
           int x = a[i]; a[i] = x + 5; int y = a[i]; a[j] = y * 3; int z = a[i];\n\
           r = x * 1000000 + y * 1000 + z; k = (k + 1) % 4; }\n",
        // A call between two loads writes the global (a real call without
        // inlining); a store to another global between them does not.
        "extension e; import cpu; int a[4]; int b[4]; int r = 0;\n\
         void bump(int i) { a[i] = a[i] * 2 + 1; }\n\
         monitor void m(cap<cpu_qos> app) { int x = a[1]; b[1] = x; bump(1); int y = a[1]; b[2] = 7; r = x + y * 100 + a[1] + b[1]; }\n",
        // A store through a reference parameter that points at the global.
        "extension e; import cpu; int a[4]; int r = 0;\n\
         void put(int x[], int v) { int p = a[0]; x[0] = p + v; r = a[0] * 10 + p; }\n\
         monitor void m(cap<cpu_qos> app) { put(a, 3); r = r + a[0]; }\n",
        // A loop whose back edge changes the cell, then overflows it.
        "extension e; import cpu; int a[2]; int s = 0;\n\
         monitor void m(cap<cpu_qos> app) { a[0] = a[0] + 1;\n\
           for (int i = 0; i < 40; i++) { s = s + a[0]; a[0] = a[0] * 3; s = s + a[0]; } }\n",
        // Two paths store different values; a handler's value decides.
        "extension e; import cpu; event Set; int a[4]; int v = 0; int r = 0;\n\
         handler void h(cap<cpu_qos> app, int x) on \"Set\" { v = x; }\n\
         monitor void m(cap<cpu_qos> app) { int i = 2; int w = a[i];\n\
           if (v > 0) { a[i] = v * 9223372036854775; } r = a[i] - w; a[i] = a[i] + 1; r = r + a[i]; }\n",
        // A catch edge out of a block that loaded the cell; the handler
        // stores to it and reads it again.
        "extension e; import cpu; int a[4]; int b[8]; int k = 1; int r = 0;\n\
         monitor void m(cap<cpu_qos> app) { k = k + 2; int i = k; int x = b[i];\n\
           try { a[i] = x + 1; r = a[i] + b[i]; } handle OutOfBounds { b[i] = x + 5; r = b[i] * 4611686018427387904; } }\n",
        // A factor of 2 is an `add` whose overflow flag is branched on
        // (`jo`, as every overflow test of `+` and `-`); it overflows in the
        // third round, after an overflow of `-` caught in the second.
        "extension e; import cpu; int g = 1152921504606846976; int h = -9223372036854775000; int r = 0;\n\
         monitor void m(cap<cpu_qos> app) { g = g * 2; try { h = h - 1000; } handle Overflow { r = r + 1; } }\n",
        // A handler reached by a catch edge before a store and by a `raise`
        // after it: it must read the cell again.
        "extension e; import cpu; int a[4]; int b[8]; int k = 1; int r = 0;\n\
         monitor void m(cap<cpu_qos> app) { k = k + 2; int i = k; int x = b[1];\n\
           try { int y = a[i]; b[1] = y + 7; raise OutOfBounds; } handle OutOfBounds { r = b[1] + x; } }\n",
    ];
    let statuses = agree_compiled_and_interpreted(PROGRAMS, &[300, 1_000_000]);
    for (what, s) in [
        ("ok", status::OK),
        ("Overflow", status::OVERFLOW),
        ("OutOfBounds", status::OUT_OF_BOUNDS),
        ("OutOfFuel", status::OUT_OF_FUEL),
    ] {
        assert!(statuses[s as usize] > 0, "some runs end {what}: {statuses:?}");
    }
}

/// Programs aimed at what code generation proves from a module as a whole
/// (`codegen::ranges`): the ranges a global's cells can hold (computed from
/// every store in the module) and a check's operand narrowed for the rest
/// of its block. Each tries to make a check that can fail look as if it
/// cannot: a global written through a reference, a store reached only once
/// another global has changed, values that grow across invocations or a
/// loop, an index checked against a shorter array after a longer one, an
/// index used in a handler of its own failed check. Compiled with and
/// without inlining (the QoS round's leaf `step` is inlined into its loop),
/// both must agree with the interpreter.
#[test]
fn whole_module_ranges_agree_compiled_and_interpreted() {
    const PROGRAMS: &[&str] = &[
        include_str!("../../bench/pop/qos_round.pop"),
        // A global array passed by reference and written through it.
        "extension e; import cpu; int a[4]; int b[4];\n\
         void put(int x[], int v) { x[1] = v; }\n\
         monitor void m(cap<cpu_qos> app) { put(a, 4611686018427387904); b[0] = a[1] * 3; }\n",
        // A store reached only once another global has changed.
        "extension e; import cpu; int flag = 0; int g = 7;\n\
         monitor void m(cap<cpu_qos> app) { if (flag == 1) { g = 3037000500; } flag = 1; g = g * g; }\n",
        // A value that grows in a loop and across invocations.
        "extension e; import cpu; int g = 1;\n\
         monitor void m(cap<cpu_qos> app) { for (int i = 0; i < 30; i++) { g = g * 3 + 1; } }\n",
        // A long array's check, then a short one's on the same index.
        "extension e; import cpu; int long_[64]; int short_[4]; int k = 0;\n\
         monitor void m(cap<cpu_qos> app) { k = k + 3; int i = k; long_[i] = 1; short_[i] = 2; long_[i] = short_[i]; }\n",
        // The index of a failed check, used in its handler, and after.
        "extension e; import cpu; int a[4]; int b[8]; int k = 2;\n\
         monitor void m(cap<cpu_qos> app) { k = k + 2; int i = k;\n\
           try { a[i] = 1; b[i] = 2; } handle OutOfBounds { b[i] = 3; a[i - 4] = b[i]; } }\n",
        // A handler's value reaches a global; a struct and a bool global.
        "extension e; import cpu; event Set; struct s { int x; bool f; } struct s st; bool pos = false; int v = 0;\n\
         handler void h(cap<cpu_qos> app, int x) on \"Set\" { st.x = x; pos = x > 0; }\n\
         monitor void m(cap<cpu_qos> app) { if (pos) { v = st.x * 1000000000000000000; } else { v = st.x - 9223372036854775807; } }\n",
        // Operands narrowed by the products and sums they passed, stored
        // and used by the next invocation, until one overflows.
        "extension e; import cpu; int x = 3; int e = 0; int r = 0; int s = 0;\n\
         monitor void m(cap<cpu_qos> app) { x = x * 100000000 + 999;\n\
           r = x * 42599 - e * 3277; e = x; s = 9223372036854775000 - x; r = r + x * 2 + s * 1; }\n",
    ];
    let statuses = agree_compiled_and_interpreted(PROGRAMS, &[1_000, 1_000_000]);
    // The hostile programs must trap where the ranges would be wrong.
    for (what, s) in [
        ("ok", status::OK),
        ("Overflow", status::OVERFLOW),
        ("OutOfBounds", status::OUT_OF_BOUNDS),
    ] {
        assert!(statuses[s as usize] > 0, "some runs end {what}: {statuses:?}");
    }
}

/// Value structs (whole-struct assignment, structs passed and returned by
/// value, nested structs, capabilities inside), lowered by the front-end
/// to field-by-field loads and stores and `ref struct` parameters to
/// caller slots: compiled with and without inlining, each must agree with
/// the interpreter. The programs change their structs across rounds, copy
/// an element onto itself and onto others through indices a handler's value
/// and calls decide, trap out of bounds on either side of a copy (caught
/// and not), overflow in a callee that works on its copy, and run out of
/// fuel in a loop of copies.
#[test]
fn value_structs_agree_compiled_and_interpreted() {
    const PROGRAMS: &[&str] = &[
        // Copies between locals, globals, elements and nested fields; an
        // element onto itself; a swap through a temporary.
        "extension e; import cpu; event Set;\n\
         struct in_ { int a; bool b; } struct pt { int x; struct in_ n; int y; }\n\
         struct pt g; struct pt ring[4]; int i = 0; int j = 1; int r = 0;\n\
         handler void h(cap<cpu_qos> app, int v) on \"Set\" { i = (v + 8) % 4; j = (v + 9) % 5; g.x = v; g.n.a = v * 3; g.n.b = v > 0; }\n\
         monitor void m(cap<cpu_qos> app) { struct pt l = g; l.y = l.y + 1; ring[i] = l; ring[j] = ring[i];\n\
           struct pt t = ring[0]; ring[0] = ring[3]; ring[3] = t; ring[i] = ring[i]; g = g; g.n = ring[j].n;\n\
           r = r * 7 + ring[0].x + ring[3].n.a + g.y; raise_event(\"Set\", r % 11 - 5); }\n",
        // By value: the callee changes and overflows its copy; results
        // nest, pass straight on and are read in place.
        "extension e; import cpu; event Set;\n\
         struct in_ { int a; int b; } struct pt { int x; struct in_ n; }\n\
         struct pt g; struct pt keep; int r = 0;\n\
         struct in_ swap(struct in_ v) { int t = v.a; v.a = v.b; v.b = t; return v; }\n\
         struct pt grow(struct pt p, int by) { p.x = p.x * by + 1; p.n = swap(p.n); return p; }\n\
         struct pt twice(struct pt p) { return grow(grow(p, 3), 5); }\n\
         int sum(struct pt p) { p.x = p.x + p.n.a; return p.x + p.n.b; }\n\
         handler void h(cap<cpu_qos> app, int v) on \"Set\" { g.n.a = v; g.n.b = -v; }\n\
         monitor void m(cap<cpu_qos> app) { keep = twice(g); g = grow(keep, 1000000000);\n\
           r = sum(g) + twice(keep).n.a + sum(keep); raise_event(\"Set\", r % 9); }\n",
        // Out of bounds on either side of a copy, its target's index a
        // call; caught in one round, not in another.
        "extension e; import cpu; event Set;\n\
         struct pt { int x; int y; } struct pt ring[3]; int k = 0; int d = 0; int r = 0;\n\
         int next() { k = k + 1; ring[0].x = ring[0].x + 100; return k % 5; }\n\
         handler void h(cap<cpu_qos> app, int v) on \"Set\" { d = v; }\n\
         monitor void m(cap<cpu_qos> app) { ring[1].y = ring[1].y + 1;\n\
           try { ring[next()] = ring[0]; ring[d] = ring[k % 4]; } handle OutOfBounds { r = r + 1; }\n\
           ring[2 - d % 3] = ring[(d + 2) % 3]; raise_event(\"Set\", k - 2); }\n",
        // Capabilities inside structs, null ones copied too; a loop of
        // copies that runs out of fuel in the small budget.
        "extension e; import cpu;\n\
         struct owned { int n; cap<cpu_qos> c; } struct outer { struct owned o; int m; }\n\
         struct outer keep; struct outer empty; struct outer ring[8]; int r = 0;\n\
         struct owned own(cap<cpu_qos> c, int n) { struct owned o; o.c = c; o.n = n; return o; }\n\
         int use(struct owned o) { set_attribute(o.c, \"timeslice_adjustment\", o.n % 1000); return o.n; }\n\
         monitor void m(cap<cpu_qos> app) { ring[0] = empty; keep.o = own(app, r + 1); keep.m = keep.m + 1;\n\
           for (int i = 1; i < 8; i++) { ring[i] = ring[i - 1]; ring[i].m = i; ring[i - 1] = keep; }\n\
           r = r + use(ring[6].o) + ring[7].m; if (r > 20) { r = use(empty.o); } }\n",
        // Elements of an array parameter copied whole, and one returned.
        "extension e; import cpu; event Set;\n\
         struct pt { int x; int y; } struct pt ring[5]; struct pt got; int r = 0;\n\
         struct pt rotate(struct pt a[], int by) { for (int k = 0; k < by; k++) { struct pt first = a[0];\n\
           for (int i = 1; i < size(a); i++) { a[i - 1] = a[i]; } a[size(a) - 1] = first; } return a[by]; }\n\
         handler void h(cap<cpu_qos> app, int v) on \"Set\" { ring[0].x = v; ring[1].y = v * 2; r = v; }\n\
         monitor void m(cap<cpu_qos> app) { got = rotate(ring, r % 7); got.x = got.x + got.y; }\n",
    ];
    let statuses = agree_compiled_and_interpreted(PROGRAMS, &[150, 400, 1_000_000]);
    for (what, s) in [
        ("ok", status::OK),
        ("Overflow", status::OVERFLOW),
        ("OutOfBounds", status::OUT_OF_BOUNDS),
        ("NullCapability", status::NULL_CAPABILITY),
        ("OutOfFuel", status::OUT_OF_FUEL),
    ] {
        assert!(statuses[s as usize] > 0, "some runs end {what}: {statuses:?}");
    }
}
