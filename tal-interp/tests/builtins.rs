//! `min`, `max`, `abs` and `clamp`, and declarations of several names, run
//! by the reference interpreter: Rust's own functions give the expected
//! values; `abs(MIN)` raises `Overflow`; a program's own function of one of
//! these names is called instead; `int a = 4, b = a * 10;` declares in
//! order; `trace(v)` passes the value and where the call is.

mod common;

use common::*;
use tal_interp::{Instance, TrapKind};
use tal_ir::ExcKind;

const BUILTINS: &str = "extension b;
import cpu;
int x = 0;
int lo = -5;
int r1 = 0; int r2 = 0; int r3 = 0; int r4 = 0; int r5 = 0;
monitor void m(cap<cpu_qos> app) {
    r1 = min(x, 7);
    r2 = max(x, 7);
    r4 = clamp(x, lo, 20);
    r5 = clamp(x, 30, 20);
    r3 = abs(x);
}
";

fn set_x(instance: &mut Instance, x: i64) {
    let offset =
        instance.global_layout().offsets[instance.module().globals.iter().position(|g| g.name == "x").unwrap()];
    instance.data_mut()[offset as usize] = x;
}

#[test]
fn the_builtins_compute_what_rust_s_do() {
    let mut instance = load_pop(BUILTINS);
    for x in [i64::MIN + 1, -100, -6, -5, -1, 0, 6, 7, 8, 20, 21, 30, i64::MAX] {
        set_x(&mut instance, x);
        run(&mut instance, &mut MockHost::default(), "m", &[APP]).unwrap();
        // `clamp(x, 30, 20)`, its bounds crossed, is `min(max(x, 30), 20)`: 20.
        let got: Vec<i64> = ["r1", "r2", "r3", "r4", "r5"]
            .iter()
            .map(|g| global(&instance, g))
            .collect();
        assert_eq!(got, [x.min(7), x.max(7), x.abs(), x.clamp(-5, 20), 20], "x = {x}");
    }
}

#[test]
fn abs_of_the_most_negative_int_raises_overflow() {
    let mut instance = load_pop(BUILTINS);
    set_x(&mut instance, i64::MIN);
    let trap = run(&mut instance, &mut MockHost::default(), "m", &[APP]).unwrap_err();
    assert_eq!(trap.kind, TrapKind::Exception(ExcKind::Overflow));
    // What ran before the trap stands.
    assert_eq!(global(&instance, "r1"), i64::MIN);
}

#[test]
fn a_program_s_own_function_of_that_name_is_called() {
    let mut instance = load_pop(
        "extension own;
import cpu;
int r = 0;
int max(int a, int b) { return a + b; }
monitor void m(cap<cpu_qos> app) { r = max(3, 4) + min(3, 4); }
",
    );
    run(&mut instance, &mut MockHost::default(), "m", &[APP]).unwrap();
    assert_eq!(global(&instance, "r"), 7 + 3);
}

#[test]
fn several_names_in_one_declaration_are_declared_in_order() {
    let mut instance = load_pop(
        "extension decls;
import cpu;
int g, r = 0;
monitor void m(cap<cpu_qos> app) { int a = 4, b = a * 10, c[2]; c[1] = b + a; r = c[1] + g; }
",
    );
    run(&mut instance, &mut MockHost::default(), "m", &[APP]).unwrap();
    assert_eq!(global(&instance, "r"), 44);
}

#[test]
fn trace_passes_the_value_and_the_byte_offset_of_the_call() {
    let source = "extension t;\nimport cpu;\nint x = 41;\nmonitor void m(cap<cpu_qos> app) {\n    trace(x + 1);\n    trace(-7);\n}\n";
    let mut instance = load_pop(source);
    let mut host = MockHost::default();
    run(&mut instance, &mut host, "m", &[APP]).unwrap();
    let first = source.find("trace(x").unwrap() as i64;
    let second = source.find("trace(-7").unwrap() as i64;
    assert_eq!(host.traces, [(42, first), (-7, second)]);
}
