//! The front-end's inlining, run by the reference interpreter: what a
//! program computes does not change, calls disappear where they may, and
//! the cases inlining must leave alone are left alone.

mod common;

use common::*;
use tal_interp::{Instance, TrapKind};
use tal_ir::{ExcKind, InstKind};

fn inlined(source: &str) -> Instance {
    let options = popcorn_front::Options {
        inline: true,
        ..popcorn_front::Options::default()
    };
    load_pop_with(source, &options)
}

/// The calls left in function `name`.
fn calls_in(instance: &Instance, name: &str) -> Vec<String> {
    let m = instance.module();
    let f = &m.funcs[func(instance, name).index()];
    f.blocks
        .iter()
        .flat_map(|b| &b.insts)
        .filter_map(|i| match &i.kind {
            InstKind::Call {
                callee: tal_ir::Callee::Func(id),
                ..
            } => Some(m.funcs[id.index()].name.clone()),
            _ => None,
        })
        .collect()
}

const CHAIN: &str = "extension chain;
import cpu;
int r = 0;
int clamp(int x, int lo, int hi) {
    if (x < lo) return lo;
    if (x > hi) return hi;
    return x;
}
int chain3(int x) { return clamp(x * 3 + 1, -1000, 1000); }
int chain2(int x) { return chain3(x) + 1; }
monitor void m(cap<cpu_qos> app) {
    int s = 0;
    for (int i = -400; i < 400; i += 7) { s = s + clamp(i, -50, 50) + chain2(i); }
    r = s;
}
";

#[test]
fn small_functions_are_inlined_and_compute_the_same() {
    let (mut plain, mut inl) = (load_pop(CHAIN), inlined(CHAIN));
    assert_eq!(calls_in(&plain, "m"), ["clamp", "chain2"]);
    assert!(calls_in(&inl, "m").is_empty(), "{:?}", calls_in(&inl, "m"));
    let mut host = MockHost::default();
    run(&mut plain, &mut host, "m", &[APP]).unwrap();
    run(&mut inl, &mut host, "m", &[APP]).unwrap();
    assert_eq!(global(&plain, "r"), global(&inl, "r"));
    assert_ne!(global(&inl, "r"), 0);
}

#[test]
fn a_callee_sees_globals_not_the_callers_locals() {
    let src = "extension scope;
import cpu;
int n = 5;
int r = 0;
int get() { return n; }
int twice(int n) { return n + n; }
monitor void m(cap<cpu_qos> app) {
    int n = 7;
    r = get() * 100 + twice(n + 1);
}
";
    let mut inl = inlined(src);
    assert!(calls_in(&inl, "m").is_empty());
    run(&mut inl, &mut MockHost::default(), "m", &[APP]).unwrap();
    assert_eq!(global(&inl, "r"), 5 * 100 + 16);
}

#[test]
fn functions_with_loops_stay_calls_and_a_try_catches_what_an_inlined_body_raises() {
    let src = "extension kept;
import cpu;
int r = 0;
int div(int a, int b) { return a / b; }
int positive(int x) {
    if (x < 0) raise RangeError;
    return x;
}
int sum(int n) { int s = 0; for (int i = 0; i < n; i++) { s += i; } return s; }
monitor void m(cap<cpu_qos> app) {
    int before = 3;
    try { before = 4; r = div(1, 0); } handle DivideByZero { r = before * 10; }
    try { r = r + positive(r - 100); } handle RangeError { r = r + 1; }
    r = r + sum(4);
}
";
    let (mut plain, mut inl) = (load_pop(src), inlined(src));
    assert_eq!(calls_in(&inl, "m"), ["sum"]);
    // Functions inlining left uncalled are not emitted; `sum` is still
    // called. Without inlining every function is.
    let names = |i: &Instance| i.module().funcs.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&inl), ["sum", "m"]);
    assert_eq!(names(&plain), ["div", "positive", "sum", "m"]);
    run(&mut plain, &mut MockHost::default(), "m", &[APP]).unwrap();
    run(&mut inl, &mut MockHost::default(), "m", &[APP]).unwrap();
    // 4 * 10, then RangeError: + 1, then + 0 + 1 + 2 + 3.
    assert_eq!((global(&plain, "r"), global(&inl, "r")), (47, 47));
}

#[test]
fn an_exception_in_an_inlined_body_keeps_its_kind_and_the_callees_source_line() {
    let src = "extension trap;
import cpu;
int r = 0;
int div(int a, int b) {
    return a / b;
}
monitor void m(cap<cpu_qos> app) { r = div(7, r); }
";
    let mut inl = inlined(src);
    assert!(calls_in(&inl, "m").is_empty());
    let trap = run(&mut inl, &mut MockHost::default(), "m", &[APP]).unwrap_err();
    assert_eq!(trap.kind, TrapKind::Exception(ExcKind::DivideByZero));
    assert_eq!(trap.func, func(&inl, "m"), "the trap is in the caller's code");
    // The divisor's check, at `return a / b;` in `div`.
    let span = trap.span.expect("a source span");
    let line = src[..span.lo as usize].lines().count();
    assert_eq!(
        (&src[span.lo as usize..span.hi as usize], line),
        ("b", 5),
        "at the callee's line"
    );
}

#[test]
fn a_function_taking_a_capability_is_inlined_with_the_callers_value() {
    let src = "extension caps;
import cpu;
int r = 0;
int slack(cap<cpu_qos> app) { return get_attribute(app, \"target_cpu\") - get_attribute(app, \"actual_cpu\"); }
void adjust(cap<cpu_qos> app, int u) { set_attribute(app, \"timeslice_adjustment\", u); }
monitor void m(cap<cpu_qos> app) {
    r = slack(app);
    adjust(app, r / 2);
}
";
    let mut inl = inlined(src);
    assert!(calls_in(&inl, "m").is_empty(), "{:?}", calls_in(&inl, "m"));
    let mut host = MockHost::with(&[(TARGET_CPU, 20_000), (ACTUAL_CPU, 19_000)]);
    run(&mut inl, &mut host, "m", &[APP]).unwrap();
    assert_eq!(global(&inl, "r"), 1_000);
    assert_eq!(host.sets, vec![(APP, TIMESLICE_ADJUSTMENT, 500)]);
}

#[test]
fn small_innermost_loops_run_two_iterations_per_fuel_check_and_compute_the_same() {
    let src = "extension unrolled;
import cpu;
int r = 0;
int n = 0;
monitor void m(cap<cpu_qos> app) {
    int s = 0;
    for (int i = 0; i < n; i++) {
        if (i == 5 || i == 2) { s += 100; continue; }
        if (i == 9) break;
        s += i;
    }
    int k = n;
    while (k > 0) { k -= 2; s = s * 3 + k; }
    for (int i = 0; i < n; i++) { for (int j = 0; j < i; j++) { s += j; } }
    r = s;
}
";
    let (mut plain, mut unrolled) = (load_pop(src), inlined(src));
    let headers = |i: &Instance| {
        let f = &i.module().funcs[func(i, "m").index()];
        f.blocks.iter().filter(|b| b.loop_end.is_some()).count()
    };
    assert_eq!((headers(&plain), headers(&unrolled)), (4, 4), "unrolling adds no loop");
    let blocks = |i: &Instance| i.module().funcs[func(i, "m").index()].blocks.len();
    assert!(
        blocks(&unrolled) > blocks(&plain),
        "the three innermost loops are lowered twice"
    );
    for count in [0, 1, 2, 3, 6, 7, 10, 13] {
        let src = src.replace("int n = 0;", &format!("int n = {count};"));
        (plain, unrolled) = (load_pop(&src), inlined(&src));
        let mut host = MockHost::default();
        run(&mut plain, &mut host, "m", &[APP]).unwrap();
        run(&mut unrolled, &mut host, "m", &[APP]).unwrap();
        assert_eq!(global(&plain, "r"), global(&unrolled, "r"), "n = {count}");
    }
}

/// A leaf too large to inline everywhere, over global arrays, indexed by
/// the caller's loop variable; `big` shadows nothing of the caller's.
const LEAF: &str = "extension leaf;
import cpu;
int a[8];
int b[8];
int r = 0;
int big(int i) {
    int x = a[i] * 3 + b[i];
    if (x > 100) x = 100;
    if (x < -100) x = -100;
    a[i] = x + i;
    b[i] = b[i] - a[i] + 7;
    if (a[i] + b[i] <= 2 * i) { b[i] = 0; } else { b[i] = b[i] + 1; }
    return a[i] - b[i];
}
monitor void m(cap<cpu_qos> app) {
    int a = 1;
    int s = 0;
    for (int i = 0; i < 8; i++) { s = s + big(i) * a; }
    r = s + big(3);
}
monitor void out_of_bounds(cap<cpu_qos> app) {
    for (int i = 5; i < 10; i++) { r = r + big(i); }
}
";

#[test]
fn a_larger_leaf_is_inlined_into_loops_only_and_computes_the_same() {
    let (mut plain, mut inl) = (load_pop(LEAF), inlined(LEAF));
    // The call in the loop is inlined; the one after it stays a call.
    assert_eq!(calls_in(&plain, "m"), ["big", "big"]);
    assert_eq!(calls_in(&inl, "m"), ["big"]);
    assert!(calls_in(&inl, "out_of_bounds").is_empty());
    let mut host = MockHost::default();
    for _ in 0..3 {
        run(&mut plain, &mut host, "m", &[APP]).unwrap();
        run(&mut inl, &mut host, "m", &[APP]).unwrap();
        assert_eq!(global(&plain, "r"), global(&inl, "r"));
    }
    assert_ne!(global(&inl, "r"), 0);
    // The inlined body raises what the call did, with `r` as far as it got.
    let (p, i) = (
        run(&mut plain, &mut host, "out_of_bounds", &[APP]).unwrap_err(),
        run(&mut inl, &mut host, "out_of_bounds", &[APP]).unwrap_err(),
    );
    assert_eq!(p.kind, TrapKind::Exception(ExcKind::OutOfBounds));
    assert_eq!(i.kind, p.kind);
    assert_eq!(global(&plain, "r"), global(&inl, "r"));
}
