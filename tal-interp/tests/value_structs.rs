//! Value structs (C's semantics), compiled by the front-end, verified and
//! run by the reference interpreter, with and without inlining: assignment
//! copies every field, nested structs included; a parameter is the callee's
//! copy; a result is a copy; self-assignment and an element assigned onto
//! itself keep their values; the right-hand side is evaluated first (its
//! index checked first, its value read before the target's index calls
//! anything); each index is checked once, and an out-of-bounds one on
//! either side traps at its own index, leaving memory as it was.

mod common;

use common::*;
use tal_interp::{Instance, TrapKind};
use tal_ir::{ExcKind, InstKind};

/// The program compiled without and with inlining, each verified and loaded.
fn both(src: &str) -> [Instance; 2] {
    [false, true].map(|inline| {
        load_pop_with(
            src,
            &popcorn_front::Options {
                inline,
                ..popcorn_front::Options::default()
            },
        )
    })
}

/// The cells of a global (a struct's fields in order, nested ones in place).
fn cells(instance: &Instance, name: &str) -> Vec<i64> {
    instance
        .global(name)
        .unwrap_or_else(|| panic!("no global {name}"))
        .to_vec()
}

fn set_global(instance: &mut Instance, name: &str, cell: usize, value: i64) {
    let g = instance.module().globals.iter().position(|g| g.name == name).unwrap();
    let offset = instance.global_layout().offsets[g] as usize;
    instance.data_mut()[offset + cell] = value;
}

fn run_m(instance: &mut Instance) {
    run(instance, &mut MockHost::default(), "m", &[APP]).unwrap_or_else(|t| panic!("{t}"));
}

#[test]
fn assignment_copies_every_field_and_the_copy_is_independent() {
    let src = "extension copy;
import cpu;
struct inner { int a; bool b; }
struct pt { int x; struct inner in; int y; }
struct pt g;
struct pt ring[3];
struct pt after;
monitor void m(cap<cpu_qos> app) {
    struct pt l;
    l.x = 1; l.in.a = 2; l.in.b = true; l.y = 3;
    g = l;              // every field, the nested ones too
    l.x = 10; l.in.a = 20; l.in.b = false;
    ring[1] = g;
    g.y = 30;           // the element is a copy of its own
    struct pt c = ring[1];
    c.in.a = 99;
    after = c;
    ring[2].in = l.in;  // a nested struct alone
}
";
    for mut inst in both(src) {
        run_m(&mut inst);
        assert_eq!(cells(&inst, "g"), [1, 2, 1, 30]);
        assert_eq!(cells(&inst, "ring"), [0, 0, 0, 0, 1, 2, 1, 3, 0, 20, 0, 0]);
        assert_eq!(cells(&inst, "after"), [1, 99, 1, 3]);
    }
}

#[test]
fn a_parameter_is_the_callees_copy_and_a_result_is_a_copy() {
    let src = "extension params;
import cpu;
struct inner { int a; int b; }
struct pt { int x; struct inner in; }
struct pt g;
struct pt got;
struct pt ring[2];
int seen = 0;
int r = 0;
int spoil(struct pt p) {
    p.x = p.x + 100;    // changes the callee's copy only
    p.in.a = -1;
    seen = p.x;
    return p.x + p.in.a;
}
struct pt get() { return g; }
struct inner swap(struct inner v) { int t = v.a; v.a = v.b; v.b = t; return v; }
struct pt twice(struct pt p) { p.x = p.x * 2; p.in = swap(p.in); return p; }
monitor void m(cap<cpu_qos> app) {
    g.x = 5; g.in.a = 6; g.in.b = 7;
    r = spoil(g) * 1000 + g.x;              // 104 * 1000 + 5
    struct pt l = get();
    l.x = 50;                               // g unchanged
    ring[0] = twice(twice(l));              // (200, 6, 7)
    got = twice(get());                     // (10, 7, 6)
    ring[1] = g;
    r = r * 10 + spoil(ring[1]) - 104 + ring[1].in.a - 6;   // ring[1] unchanged
}
";
    for mut inst in both(src) {
        run_m(&mut inst);
        assert_eq!(global(&inst, "r"), 104_005 * 10);
        assert_eq!(global(&inst, "seen"), 105);
        assert_eq!(cells(&inst, "g"), [5, 6, 7]);
        assert_eq!(cells(&inst, "ring"), [200, 6, 7, 5, 6, 7]);
        assert_eq!(cells(&inst, "got"), [10, 7, 6]);
    }
}

#[test]
fn a_result_is_declared_returned_and_read_in_place() {
    let src = "extension results;
import cpu;
struct inner { int a; int b; }
struct pt { int x; struct inner in; }
struct pt g;
int r = 0;
struct pt make(int x, int a) { struct pt p; p.x = x; p.in.a = a; p.in.b = a + 1; return p; }
struct pt relay(int x) { return make(x, x * 10); }           // straight on
struct pt pick(bool first, struct pt a, struct pt b) { if (first) return a; return b; }
monitor void m(cap<cpu_qos> app) {
    struct pt d = relay(3);                                   // (3, 30, 31)
    r = make(1, 2).in.b * 100 + relay(4).in.a + d.in.b;       // 300 + 40 + 31
    g = pick(false, d, pick(true, make(7, 8), d));            // (7, 8, 9)
}
";
    for mut inst in both(src) {
        run_m(&mut inst);
        assert_eq!(global(&inst, "r"), 371);
        assert_eq!(cells(&inst, "g"), [7, 8, 9]);
    }
}

#[test]
fn a_swap_through_a_temporary_self_assignment_and_an_element_onto_itself() {
    let src = "extension swap;
import cpu;
struct inner { int a; int b; }
struct pt { int x; struct inner in; }
struct pt ring[3];
struct pt g;
int i = 0;
int j = 2;
monitor void m(cap<cpu_qos> app) {
    for (int k = 0; k < 3; k++) { ring[k].x = k + 1; ring[k].in.a = 10 * (k + 1); ring[k].in.b = 100 * (k + 1); }
    struct pt t = ring[i];
    ring[i] = ring[j];
    ring[j] = t;
    ring[1] = ring[1];          // the same element
    ring[j] = ring[i + 2];      // the same element again
    g = ring[1];
    g = g;
    t = t;
    g.in = g.in;
    ring[1].in = t.in;
}
";
    for mut inst in both(src) {
        run_m(&mut inst);
        assert_eq!(cells(&inst, "ring"), [3, 30, 300, 2, 10, 100, 1, 10, 100]);
        assert_eq!(cells(&inst, "g"), [2, 20, 200]);
    }
}

#[test]
fn struct_locals_start_zeroed_and_a_declaration_with_a_value_copies_each_time() {
    let src = "extension zero;
import cpu;
struct pt { int x; int y; }
struct pt src_;
int r = 0;
monitor void m(cap<cpu_qos> app) {
    for (int k = 0; k < 3; k++) {
        struct pt z;                    // zeroed each time
        struct pt c = src_;             // a copy each time
        r = r * 10 + z.x + c.y;
        z.x = 5;
        c.y = 7;
        src_.y = src_.y + 1;
    }
}
";
    for mut inst in both(src) {
        run_m(&mut inst);
        assert_eq!(global(&inst, "r"), 12);
        assert_eq!(cells(&inst, "src_"), [0, 3]);
    }
}

#[test]
fn the_value_is_read_before_the_targets_index_calls_a_function() {
    let src = "extension order;
import cpu;
struct pt { int x; int y; }
struct pt g;
struct pt ring[4];
int k = 0;
int bump() { g.x = g.x + 100; k = k + 1; return k; }
monitor void m(cap<cpu_qos> app) {
    g.x = 1; g.y = 2;
    ring[bump()] = g;               // g as it was before `bump`
    ring[min(bump(), 3)] = ring[1];
    ring[bump()] = ring[bump()];    // the right-hand side's call first
}
";
    for mut inst in both(src) {
        // The last statement: k = 3 on the right (ring[3], zero), then
        // k = 4 on the left, out of bounds: nothing stored.
        let trap = run(&mut inst, &mut MockHost::default(), "m", &[APP]).unwrap_err();
        assert_eq!(trap.kind, TrapKind::Exception(ExcKind::OutOfBounds));
        assert_eq!(cells(&inst, "g"), [401, 2]);
        assert_eq!(cells(&inst, "ring"), [0, 0, 1, 2, 1, 2, 0, 0]);
    }
}

/// `ring[dst] = ring[src_]`: both indices checked once; with either or both
/// out of bounds, the trap is at the first one checked that fails (the
/// right-hand side's first) and nothing is stored.
#[test]
fn out_of_bounds_on_either_side_traps_at_its_index_and_stores_nothing() {
    let src = "extension bounds;
import cpu;
struct pt { int x; int y; }
struct pt ring[3];
int dst = 0;
int src_ = 0;
monitor void m(cap<cpu_qos> app) {
    ring[dst] = ring[src_];
}
";
    let text = |span: tal_ir::Span| &src[span.lo as usize..span.hi as usize];
    for inst in both(src) {
        let f = func(&inst, "m");
        let checks = inst.module().funcs[f.index()]
            .blocks
            .iter()
            .flat_map(|b| &b.insts)
            .filter(|i| matches!(i.kind, InstKind::CheckBounds { .. }))
            .count();
        assert_eq!(checks, 2, "one check per index");
        for (d, s, at) in [
            (3, 0, Some("dst")),
            (-1, 1, Some("dst")),
            (0, 3, Some("src_")),
            (1, -5, Some("src_")),
            (7, 9, Some("src_")),
            (2, 0, None),
            (1, 1, None),
        ] {
            let mut inst = inst.clone();
            for k in 0..3 {
                set_global(&mut inst, "ring", 2 * k, k as i64 + 1);
                set_global(&mut inst, "ring", 2 * k + 1, 10 * (k as i64 + 1));
            }
            set_global(&mut inst, "dst", 0, d);
            set_global(&mut inst, "src_", 0, s);
            let result = run(&mut inst, &mut MockHost::default(), "m", &[APP]);
            match at {
                Some(name) => {
                    let trap = result.unwrap_err();
                    assert_eq!(trap.kind, TrapKind::Exception(ExcKind::OutOfBounds));
                    assert_eq!(text(trap.span.expect("a span")), name, "ring[{d}] = ring[{s}]");
                    assert_eq!(cells(&inst, "ring"), [1, 10, 2, 20, 3, 30], "nothing stored");
                }
                None => {
                    result.unwrap();
                    let mut want = vec![1, 10, 2, 20, 3, 30];
                    let (d, s) = (d as usize, s as usize);
                    (want[2 * d], want[2 * d + 1]) = (want[2 * s], want[2 * s + 1]);
                    assert_eq!(cells(&inst, "ring"), want);
                }
            }
        }
    }
}

#[test]
fn capabilities_are_copied_with_their_struct_null_ones_included() {
    let src = "extension caps;
import cpu;
struct owned { int n; cap<cpu_qos> owner; }
struct owned keep;
struct owned empty;
struct owned ring[2];
struct owned own(cap<cpu_qos> c, int n) { struct owned o; o.owner = c; o.n = n; return o; }
int use(struct owned o) { set_attribute(o.owner, \"timeslice_adjustment\", o.n); return o.n; }
monitor void m(cap<cpu_qos> app) {
    ring[0] = empty;                // a null capability copies without a trap
    struct owned z = ring[1];
    keep = own(app, 42);
    ring[1] = keep;
    use(ring[1]);
    z = keep;
    z.n = 7;
    use(z);
    use(empty);                     // the null capability traps where it is used
}
";
    for mut inst in both(src) {
        let mut host = MockHost::default();
        let trap = run(&mut inst, &mut host, "m", &[APP]).unwrap_err();
        assert_eq!(trap.kind, TrapKind::Exception(ExcKind::NullCapability));
        assert_eq!(
            host.sets,
            [(APP, TIMESLICE_ADJUSTMENT, 42), (APP, TIMESLICE_ADJUSTMENT, 7)]
        );
        assert_eq!(cells(&inst, "keep"), [42, APP]);
        assert_eq!(cells(&inst, "ring"), [0, 0, 42, APP]);
    }
}

#[test]
fn a_call_that_raises_leaves_the_target_as_it_was() {
    let src = "extension raising;
import cpu;
struct pt { int x; int y; }
struct pt g;
int r = 0;
struct pt risky(int n) { struct pt p; p.x = 1000 / n; p.y = n; return p; }
struct pt relay(int n) { return risky(n); }
monitor void m(cap<cpu_qos> app) {
    g = risky(4);
    try { g = relay(0); } handle DivideByZero { r = g.x * 10 + g.y; }
    struct pt l = g;
    try { l = risky(0); } handle DivideByZero { r = r * 1000 + l.x; }
}
";
    for mut inst in both(src) {
        run_m(&mut inst);
        assert_eq!(cells(&inst, "g"), [250, 4]);
        assert_eq!(global(&inst, "r"), 2504 * 1000 + 250);
    }
}

#[test]
fn elements_of_an_array_parameter_are_copied_whole() {
    let src = "extension arrays;
import cpu;
struct pt { int x; int y; }
struct pt ring[4];
struct pt got;
struct pt rotate(struct pt a[]) {
    struct pt first = a[0];
    for (int i = 1; i < size(a); i++) a[i - 1] = a[i];
    a[size(a) - 1] = first;
    return a[0];
}
monitor void m(cap<cpu_qos> app) {
    for (int i = 0; i < 4; i++) { ring[i].x = i; ring[i].y = 10 * i; }
    got = rotate(ring);
}
";
    for mut inst in both(src) {
        run_m(&mut inst);
        assert_eq!(cells(&inst, "ring"), [1, 10, 2, 20, 3, 30, 0, 0]);
        assert_eq!(cells(&inst, "got"), [1, 10]);
    }
}
