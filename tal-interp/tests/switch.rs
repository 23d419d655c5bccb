//! `switch`, run by the reference interpreter, against the same logic
//! written in Rust: cases compared in order, `default`, control falling
//! from one arm into the next, `break` leaving the switch and `continue`
//! passing through it to the loop around.

mod common;

use common::*;
use tal_interp::Instance;

const SWITCH: &str = "extension sw;
import cpu;
int x = 0;
int r = 0;
const int TWO = 2;
monitor void m(cap<cpu_qos> app) {
    int acc = 0;
    switch (x) {
    case 1:
    case TWO:
        acc = 10;
    case 3:
        acc = acc + 5;
        break;
    case -4: { int t = 7; acc = t; break; }
    default:
        acc = 99;
    case 50:
        acc = acc + 1;
    }
    for (int i = 0; i < 3; i++) {
        switch (i) { case 1: continue; default: acc = acc + 100; }
        acc = acc + 1000;
    }
    r = acc;
}
";

fn expected(x: i64) -> i64 {
    let mut acc = match x {
        1 | 2 => 15,
        3 => 5,
        -4 => 7,
        50 => 1,
        _ => 100,
    };
    for i in 0..3 {
        if i == 1 {
            continue;
        }
        acc += 1100;
    }
    acc
}

fn set_x(instance: &mut Instance, x: i64) {
    let g = instance.module().globals.iter().position(|g| g.name == "x").unwrap();
    let offset = instance.global_layout().offsets[g] as usize;
    instance.data_mut()[offset] = x;
}

#[test]
fn switch_computes_what_the_same_match_does() {
    let mut instance = load_pop(SWITCH);
    for x in [i64::MIN, -5, -4, 0, 1, 2, 3, 4, 49, 50, 51, i64::MAX] {
        set_x(&mut instance, x);
        run(&mut instance, &mut MockHost::default(), "m", &[APP]).unwrap();
        assert_eq!(global(&instance, "r"), expected(x), "x = {x}");
    }
}
