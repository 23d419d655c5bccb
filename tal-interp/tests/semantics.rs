//! Instruction semantics, catches, fuel, globals and references, each
//! against an independent model (mostly `i128` arithmetic).

mod common;

use common::*;
use tal_interp::{HostError, Instance, Trap, TrapKind};
use tal_ir::{BlockId, ExcKind, Span};

#[rustfmt::skip]
const EDGES: [i64; 36] = [
    0, 1, -1, 2, -2, 3, -3, 7, 31, 32, 62, 63, 64, 65, -63, -64, 1000, -1000, 12345,
    1 << 31, 1 << 32, -(1 << 32), 1 << 62, -(1 << 62), (1 << 62) + 1,
    3_037_000_499, 3_037_000_500, -3_037_000_500, // around sqrt(MAX)
    i64::MAX, i64::MAX - 1, i64::MAX / 2, i64::MIN, i64::MIN + 1, i64::MIN / 2,
    0x5555_5555_5555_5555, -0x5555_5555_5555_5555,
];

/// A module with one function `@f(i64, i64) -> i64` computing `op`; division
/// and remainder check their divisor first.
fn binary_program(op: &str) -> Instance {
    let body = match op {
        "sdiv" | "srem" => format!("    v2 = check.nonzero v1\n    v3 = {op} v0, v2\n    ret v3"),
        _ => format!("    v2 = {op} v0, v1\n    ret v2"),
    };
    load_tal_fuelled(&format!(
        "module t\nfunc @f(i64, i64) -> i64 {{\nblock0(v0: i64, v1: i64):\n    fuel 0\n{body}\n}}\n"
    ))
}

/// Runs `@f`; an exception must come from the last instruction before `ret`.
fn eval(instance: &mut Instance, args: &[i64]) -> Result<i64, ExcKind> {
    let f = func(instance, "f");
    let insts = instance.module().funcs[f.index()].blocks[0].insts.len();
    match instance.invoke(&mut MockHost::default(), f, args, &mut 100) {
        Ok(v) => Ok(v.expect("returns a value")),
        Err(Trap {
            kind: TrapKind::Exception(k),
            block: BlockId(0),
            inst: Some(i),
            ..
        }) => {
            let at = if k == ExcKind::DivideByZero {
                insts - 2
            } else {
                insts - 1
            };
            assert_eq!(i, at, "{k:?} raised by the wrong instruction");
            Err(k)
        }
        Err(t) => panic!("unexpected {t:?}"),
    }
}

fn fits(x: i128) -> Result<i64, ExcKind> {
    i64::try_from(x).map_err(|_| ExcKind::Overflow)
}

#[test]
fn binary_operators_match_exact_arithmetic() {
    type Model = fn(i128, i128) -> Result<i64, ExcKind>;
    let models: [(&str, Model); 10] = [
        ("iadd", |a, b| fits(a + b)),
        ("isub", |a, b| fits(a - b)),
        ("imul", |a, b| fits(a * b)),
        ("sdiv", |a, b| {
            if b == 0 {
                Err(ExcKind::DivideByZero)
            } else {
                fits(a / b)
            }
        }),
        ("srem", |a, b| match b {
            0 => Err(ExcKind::DivideByZero),
            -1 if a == i128::from(i64::MIN) => Err(ExcKind::Overflow),
            _ => fits(a % b),
        }),
        ("and", |a, b| fits(a & b)),
        ("or", |a, b| fits(a | b)),
        ("xor", |a, b| fits(a ^ b)),
        ("ishl", |a, b| {
            let s = if (0..=63).contains(&b) {
                b as u32
            } else {
                return Err(ExcKind::Overflow);
            };
            fits(a * (1i128 << s))
        }),
        ("sshr", |a, b| {
            let s = if (0..=63).contains(&b) {
                b as u32
            } else {
                return Err(ExcKind::Overflow);
            };
            fits(a.div_euclid(1i128 << s))
        }),
    ];
    for (op, model) in models {
        let mut instance = binary_program(op);
        for a in EDGES {
            for b in EDGES {
                let expected = model(i128::from(a), i128::from(b));
                assert_eq!(eval(&mut instance, &[a, b]), expected, "{op} {a}, {b}");
            }
        }
    }
}

#[test]
fn shifts_at_their_limits() {
    let mut shl = binary_program("ishl");
    assert_eq!(eval(&mut shl, &[1, 62]), Ok(1 << 62));
    assert_eq!(eval(&mut shl, &[1, 63]), Err(ExcKind::Overflow), "the sign bit is lost");
    assert_eq!(eval(&mut shl, &[-1, 63]), Ok(i64::MIN));
    assert_eq!(eval(&mut shl, &[0, 63]), Ok(0));
    assert_eq!(
        eval(&mut shl, &[0, 64]),
        Err(ExcKind::Overflow),
        "amount out of range even for 0"
    );
    assert_eq!(eval(&mut shl, &[5, -1]), Err(ExcKind::Overflow));
    assert_eq!(eval(&mut shl, &[3, 61]), Ok(3 << 61));
    assert_eq!(eval(&mut shl, &[4, 61]), Err(ExcKind::Overflow));
    assert_eq!(eval(&mut shl, &[-4, 61]), Ok(i64::MIN));
    assert_eq!(eval(&mut shl, &[-5, 61]), Err(ExcKind::Overflow));
    assert_eq!(eval(&mut shl, &[-2, 62]), Ok(i64::MIN));
    let mut shr = binary_program("sshr");
    assert_eq!(eval(&mut shr, &[i64::MIN, 63]), Ok(-1));
    assert_eq!(eval(&mut shr, &[-5, 1]), Ok(-3), "arithmetic: rounds toward -inf");
    assert_eq!(eval(&mut shr, &[i64::MAX, 63]), Ok(0));
    assert_eq!(eval(&mut shr, &[1, 64]), Err(ExcKind::Overflow));
    assert_eq!(eval(&mut shr, &[1, i64::MIN]), Err(ExcKind::Overflow));
}

#[test]
fn division_edge_cases() {
    let mut div = binary_program("sdiv");
    let mut rem = binary_program("srem");
    assert_eq!(eval(&mut div, &[7, -2]), Ok(-3), "truncates toward zero");
    assert_eq!(eval(&mut rem, &[7, -2]), Ok(1));
    assert_eq!(eval(&mut div, &[-7, 2]), Ok(-3));
    assert_eq!(eval(&mut rem, &[-7, 2]), Ok(-1), "sign of the dividend");
    assert_eq!(eval(&mut div, &[i64::MIN, -1]), Err(ExcKind::Overflow));
    assert_eq!(eval(&mut rem, &[i64::MIN, -1]), Err(ExcKind::Overflow));
    assert_eq!(eval(&mut div, &[i64::MIN, 1]), Ok(i64::MIN));
    assert_eq!(eval(&mut rem, &[i64::MIN, 1]), Ok(0));
    assert_eq!(eval(&mut div, &[5, 0]), Err(ExcKind::DivideByZero));
    assert_eq!(eval(&mut rem, &[0, 0]), Err(ExcKind::DivideByZero));
}

#[test]
fn comparisons_are_signed() {
    for (cond, model) in [
        ("eq", i64::eq as fn(&i64, &i64) -> bool),
        ("ne", i64::ne),
        ("lt", i64::lt),
        ("le", i64::le),
        ("gt", i64::gt),
        ("ge", i64::ge),
    ] {
        let mut instance = load_tal_fuelled(&format!(
            "module t\nfunc @f(i64, i64) -> bool {{\nblock0(v0: i64, v1: i64):\n    fuel 0\n    v2 = icmp {cond} v0, v1\n    ret v2\n}}\n"
        ));
        for a in EDGES {
            for b in EDGES {
                let r = run(&mut instance, &mut MockHost::default(), "f", &[a, b]);
                assert_eq!(r, Ok(Some(i64::from(model(&a, &b)))), "icmp {cond} {a}, {b}");
            }
        }
    }
}

#[test]
fn negation_and_bitwise_not() {
    let mut instance = load_tal_fuelled(
        "module t
func @neg(i64) -> i64 {
block0(v0: i64):
    fuel 0
    v1 = ineg v0
    ret v1
}
func @not(i64) -> i64 {
block0(v0: i64):
    fuel 0
    v1 = not v0
    ret v1
}
",
    );
    let mut host = MockHost::default();
    for x in EDGES {
        let neg = run(&mut instance, &mut host, "neg", &[x]).map_err(|t| t.kind);
        let expected = fits(-i128::from(x)).map(Some).map_err(TrapKind::Exception);
        assert_eq!(neg, expected, "ineg {x}");
        assert_eq!(run(&mut instance, &mut host, "not", &[x]), Ok(Some(!x)));
    }
}

const BOOLS: &str = "module bools
class c {
    on: bool
}
global @flag: bool = true
func @not_param(bool) -> bool {
block0(v0: bool):
    fuel 0
    v1 = not v0
    ret v1
}
func @not_through_block(bool) -> bool {
block0(v0: bool):
    fuel 0
    v1 = bconst true
    v2 = xor v0, v1
    jump block1(v2)
block1(v3: bool):
    v4 = not v3
    ret v4
}
func @not_loaded() -> bool {
block0:
    fuel 0
    v0 = load @flag
    v1 = not v0
    store @flag, v1
    ret v1
}
func @not_call(bool) -> bool {
block0(v0: bool):
    fuel 0
    v1 = call @not_param(v0)
    v2 = not v1
    ret v2
}
func @not_icmp(i64, i64) -> bool {
block0(v0: i64, v1: i64):
    fuel 0
    v2 = icmp lt v0, v1
    v3 = not v2
    ret v3
}
func @not_attr(cap<c, r>) -> bool {
block0(v0: cap<c, r>):
    fuel 0
    v1 = helper get_attribute(v0, #c.on)
    v2 = not v1
    ret v2
}
func @band(bool, bool) -> bool {
block0(v0: bool, v1: bool):
    fuel 0
    v2 = and v0, v1
    ret v2
}
func @bor(bool, bool) -> bool {
block0(v0: bool, v1: bool):
    fuel 0
    v2 = or v0, v1
    ret v2
}
func @bxor(bool, bool) -> bool {
block0(v0: bool, v1: bool):
    fuel 0
    v2 = xor v0, v1
    v3 = icmp eq v2, v0
    v4 = not v3
    v5 = not v4
    brif v5, block1(v2), block2(v2)
block1(v6: bool):
    ret v6
block2(v7: bool):
    ret v7
}
";

#[test]
fn not_is_logical_on_booleans() {
    let mut instance = load_tal_fuelled(BOOLS);
    let mut host = MockHost::default();
    for b in [0, 1] {
        let not_b = Ok(Some(1 - b));
        assert_eq!(run(&mut instance, &mut host, "not_param", &[b]), not_b);
        assert_eq!(run(&mut instance, &mut host, "not_through_block", &[b]), Ok(Some(b)));
        assert_eq!(run(&mut instance, &mut host, "not_call", &[b]), Ok(Some(b)));
        host.set(0, b);
        assert_eq!(run(&mut instance, &mut host, "not_attr", &[APP]), not_b);
        for c in [0, 1] {
            assert_eq!(run(&mut instance, &mut host, "band", &[b, c]), Ok(Some(b & c)));
            assert_eq!(run(&mut instance, &mut host, "bor", &[b, c]), Ok(Some(b | c)));
            assert_eq!(run(&mut instance, &mut host, "bxor", &[b, c]), Ok(Some(b ^ c)));
        }
    }
    assert_eq!(run(&mut instance, &mut host, "not_icmp", &[-1, 1]), Ok(Some(0)));
    assert_eq!(run(&mut instance, &mut host, "not_icmp", &[1, -1]), Ok(Some(1)));
    assert_eq!(run(&mut instance, &mut host, "not_loaded", &[]), Ok(Some(0)));
    assert_eq!(run(&mut instance, &mut host, "not_loaded", &[]), Ok(Some(1)));
    assert_eq!(instance.global("flag"), Some(&[1][..]));
}

const CHECKS: &str = "module checks
class c {
    a: i64 range(-10, 10)
    b: i64
}
event Ping
event Pong
global @arr: [i64; 4] = [10, 20, 30, 40]
global @cap: cap<c, r> = zero
func @bounds(i64) -> i64 {
block0(v0: i64):
    fuel 0
    v1 = check.bounds v0, @arr
    v2 = load @arr[v1]
    ret v2
}
func @range(i64) -> i64 {
block0(v0: i64):
    fuel 0
    v1 = check.range v0, #c.a
    ret v1
}
func @unranged(i64) -> i64 {
block0(v0: i64):
    fuel 0
    v1 = check.range v0, #c.b
    ret v1
}
func @nonzero(i64) -> i64 {
block0(v0: i64):
    fuel 0
    v1 = check.nonzero v0
    ret v1
}
func @null(cap<c, r>, bool) -> i64 {
block0(v0: cap<c, r>, v1: bool):
    fuel 0
    brif v1, block1(v0), block2
block1(v2: cap<c, r>):
    store @cap, v2
    jump block2
block2:
    v3 = load @cap
    v4 = check.null v3
    v5 = helper get_attribute(v4, #c.b)
    ret v5
}
func @pong() {
block0:
    fuel 0
    v0 = event Pong
    v1 = size @arr
    helper raise_event(v0, v1)
    ret
}
";

#[test]
fn runtime_checks() {
    let mut instance = load_tal_fuelled(CHECKS);
    let mut host = MockHost::with(&[(1, 77)]);
    let mut check = |name: &str, x: i64| run(&mut instance, &mut host, name, &[x]).map_err(|t| (t.kind, t.inst));
    let exc = |k| Err((TrapKind::Exception(k), Some(1)));
    for x in [i64::MIN, -1, 4, 5, i64::MAX] {
        assert_eq!(check("bounds", x), exc(ExcKind::OutOfBounds), "{x}");
    }
    for (i, x) in [10, 20, 30, 40].into_iter().enumerate() {
        assert_eq!(check("bounds", i as i64), Ok(Some(x)));
    }
    for x in [i64::MIN, -11, 11, i64::MAX] {
        assert_eq!(check("range", x), exc(ExcKind::RangeError), "{x}");
    }
    for x in [-10, -1, 0, 10] {
        assert_eq!(check("range", x), Ok(Some(x)));
    }
    for x in EDGES {
        assert_eq!(
            check("unranged", x),
            Ok(Some(x)),
            "an attribute without a range accepts {x}"
        );
        let nz = if x == 0 {
            exc(ExcKind::DivideByZero)
        } else {
            Ok(Some(x))
        };
        assert_eq!(check("nonzero", x), nz);
    }
    let trap = run(&mut instance, &mut host, "null", &[APP, 0]).unwrap_err();
    assert_eq!(
        (trap.kind, trap.block, trap.inst),
        (TrapKind::Exception(ExcKind::NullCapability), BlockId(2), Some(1))
    );
    assert_eq!(run(&mut instance, &mut host, "null", &[APP, 1]), Ok(Some(77)));
    assert_eq!(
        run(&mut instance, &mut host, "null", &[APP, 0]),
        Ok(Some(77)),
        "the stored capability persists"
    );
    assert_eq!(instance.global("cap"), Some(&[APP][..]));
    assert_eq!(run(&mut instance, &mut host, "pong", &[]), Ok(None));
    assert_eq!(host.events, vec![(1, 4)], "event Pong is id 1, size @arr is 4");
}

const CATCHES: &str = "module catches
class c {
    a: i64 range(0, 5)
}
func @h(i64) -> i64 {
block0(v0: i64):
    fuel 0
    v1 = iconst 1000
    v2 = imul v0, v1 @100..110
    ret v2
}
func @g(i64) -> i64 {
block0(v0: i64):
    fuel 0
    v1 = call @h(v0) !catch(DivideByZero -> block1(v0))
    ret v1
block1(v2: i64):
    v3 = iconst -1
    ret v3
}
func @f(i64) -> i64 {
block0(v0: i64):
    fuel 0
    v1 = iconst 7
    v2 = call @g(v0) !catch(RangeError -> block2, Overflow -> block1(v1, v0))
    ret v2
block1(v3: i64, v4: i64):
    v5 = iadd v3, v4
    ret v5
block2:
    v6 = iconst 0
    ret v6
}
func @uncaught(i64) -> i64 {
block0(v0: i64):
    fuel 0
    v1 = call @g(v0) !catch(RangeError -> block1, DivideByZero -> block1)
    ret v1
block1:
    v2 = iconst 0
    ret v2
}
func @raises() {
block0:
    fuel 0
    raise RangeError @5..9
}
func @calls_raise(bool) -> i64 {
block0(v0: bool):
    fuel 0
    brif v0, block1, block2
block1:
    call @raises() !catch(RangeError -> block3)
    v1 = iconst 1
    ret v1
block2:
    call @raises()
    v2 = iconst 2
    ret v2
block3:
    v3 = iconst 3
    ret v3
}
func @set(cap<c, rw>, i64) -> i64 {
block0(v0: cap<c, rw>, v1: i64):
    fuel 0
    v2 = check.range v1, #c.a !catch(RangeError -> block2(v1))
    helper set_attribute(v0, #c.a, v2) !catch(RangeError -> block1, Overflow -> block1, OutOfBounds -> block1, NullCapability -> block1, DivideByZero -> block1)
    v3 = iconst 0
    ret v3
block1:
    v4 = iconst 1
    ret v4
block2(v5: i64):
    ret v5
}
";

#[test]
fn exceptions_are_caught_where_a_clause_matches() {
    let mut instance = load_tal_fuelled(CATCHES);
    let mut host = MockHost::default();
    assert_eq!(run(&mut instance, &mut host, "f", &[5]), Ok(Some(5_000)));
    let big = i64::MAX / 2;
    // h overflows, g's clause does not match, f's does: 7 + v0, with the
    // arguments read before the call.
    assert_eq!(run(&mut instance, &mut host, "f", &[big]), Ok(Some(7 + big)));
    assert_eq!(run(&mut instance, &mut host, "calls_raise", &[1]), Ok(Some(3)));
}

#[test]
fn uncaught_exceptions_report_the_innermost_origin() {
    let mut instance = load_tal_fuelled(CATCHES);
    let mut host = MockHost::default();
    let h = func(&instance, "h");
    let trap = run(&mut instance, &mut host, "uncaught", &[i64::MAX]).unwrap_err();
    let span = Some(Span { lo: 100, hi: 110 });
    assert_eq!(
        trap,
        Trap {
            kind: TrapKind::Exception(ExcKind::Overflow),
            func: h,
            block: BlockId(0),
            inst: Some(2),
            span
        }
    );
    let raises = func(&instance, "raises");
    let trap = run(&mut instance, &mut host, "calls_raise", &[0]).unwrap_err();
    assert_eq!(
        trap,
        Trap {
            kind: TrapKind::Exception(ExcKind::RangeError),
            func: raises,
            block: BlockId(0),
            inst: None,
            span: Some(Span { lo: 5, hi: 9 })
        }
    );
}

#[test]
fn helpers_raise_nothing_catchable_and_an_abort_ends_the_invocation() {
    let mut instance = load_tal_fuelled(CATCHES);
    let mut host = MockHost::default();
    assert_eq!(
        run(&mut instance, &mut host, "set", &[APP, 9]),
        Ok(Some(9)),
        "check.range caught"
    );
    assert_eq!(run(&mut instance, &mut host, "set", &[APP, 3]), Ok(Some(0)));
    assert_eq!(host.sets, vec![(APP, 0, 3)]);
    // The helper's catch clauses never apply: an abort is not an exception.
    host.fail_set = Some(HostError::Abort("no".into()));
    let trap = run(&mut instance, &mut host, "set", &[APP, 3]).unwrap_err();
    assert_eq!((trap.kind, trap.inst), (TrapKind::HostAbort("no".into()), Some(2)));
    assert_eq!(host.sets.len(), 1);
}

const STICKY: &str = "module sticky
class c {
    a: i64 range(0, 5)
}
global @n: i64 = 0
func @zero() -> i64 {
block0:
    fuel 0
    v0 = iconst 0
    v1 = check.nonzero v0
    ret v1
}
func @id(i64) -> i64 {
block0(v0: i64):
    fuel 0
    ret v0
}
func @after(cap<c, rw>, i64) -> i64 {
block0(v0: cap<c, rw>, v1: i64):
    fuel 0
    v2 = check.range v1, #c.a
    helper set_attribute(v0, #c.a, v2)
    v3 = iconst 1
    v4 = call @id(v3)
    store @n, v4
    helper set_attribute(v0, #c.a, v2)
    v5 = iconst 0
    v6 = check.nonzero v5 !catch(DivideByZero -> block1)
    ret v6
block1:
    v7 = iconst 2
    store @n, v7
    v8 = call @zero() !catch(DivideByZero -> block2)
    ret v8
block2:
    v9 = iconst 3
    store @n, v9
    ret v9
}
func @spin(cap<c, rw>) {
block0(v0: cap<c, rw>):
    fuel 0
    v1 = iconst 1
    v2 = check.range v1, #c.a
    helper set_attribute(v0, #c.a, v2)
    jump block1
block1 loop(block1):
    fuel 0
    v3 = load @n
    v4 = iconst 1
    v5 = iadd v3, v4
    store @n, v5
    jump block1
}
";

#[test]
fn an_abort_is_sticky_the_invocation_runs_on_to_its_return_or_an_uncaught_trap() {
    let mut instance = load_tal_fuelled(STICKY);
    let mut host = MockHost::default();
    // Without an abort: both writes, the local catch, then the call's.
    assert_eq!(run(&mut instance, &mut host, "after", &[APP, 4]), Ok(Some(3)));
    assert_eq!(host.sets, vec![(APP, 0, 4), (APP, 0, 4)]);
    assert_eq!(global(&instance, "n"), 3);
    // The first write aborts: the code runs on (through a call that
    // returns; its store stays), the second helper is not called, the
    // check's own catch still applies, and the exception from `@zero` ends
    // the invocation with the abort (compiled code passes the callee's
    // status, now the abort, which no `catch` matches).
    host.sets.clear();
    host.fail_set = Some(HostError::Abort("no".into()));
    let trap = run(&mut instance, &mut host, "after", &[APP, 4]).unwrap_err();
    assert_eq!(
        (trap.kind, trap.func, trap.block, trap.inst),
        (
            TrapKind::HostAbort("no".into()),
            func(&instance, "after"),
            BlockId(0),
            Some(2)
        )
    );
    assert_eq!(host.sets, vec![]);
    assert_eq!(global(&instance, "n"), 2);
    // Running out of fuel after an abort also ends it with the abort.
    host.fail_set = Some(HostError::Abort("no".into()));
    let (spin, n) = (func(&instance, "spin"), global(&instance, "n"));
    let mut fuel = 100;
    let trap = instance.invoke(&mut host, spin, &[APP], &mut fuel).unwrap_err();
    assert_eq!(trap.kind, TrapKind::HostAbort("no".into()));
    assert!(fuel < 0 && global(&instance, "n") > n, "it ran on until fuel ran out");
}

const LOOP: &str = "module spin
global @iters: i64 = 0
func @spin() {
block0:
    fuel 1
    jump block1
block1 loop(block1):
    fuel 7
    v0 = load @iters
    v1 = iconst 1
    v2 = iadd v0, v1
    store @iters, v2
    jump block1
}
func @calls_spin() {
block0:
    fuel 3
    call @spin() !catch(DivideByZero -> block1, OutOfBounds -> block1, Overflow -> block1, RangeError -> block1, NullCapability -> block1)
    ret
block1:
    ret
}
";

#[test]
fn a_loop_runs_until_its_header_runs_out_of_fuel() {
    for budget in -3..=60i64 {
        let mut instance = load_tal(LOOP);
        let spin = func(&instance, "spin");
        let mut fuel = budget;
        let trap = instance
            .invoke(&mut MockHost::default(), spin, &[], &mut fuel)
            .unwrap_err();
        assert_eq!(trap.kind, TrapKind::OutOfFuel);
        if budget < 1 {
            assert_eq!((trap.block, trap.inst, fuel), (BlockId(0), Some(0), budget - 1));
            assert_eq!(global(&instance, "iters"), 0);
        } else {
            let iterations = (budget - 1) / 7;
            assert_eq!(
                (trap.func, trap.block, trap.inst),
                (spin, BlockId(1), Some(0)),
                "budget {budget}"
            );
            assert_eq!(global(&instance, "iters"), iterations, "budget {budget}");
            assert_eq!(fuel, budget - 1 - 7 * (iterations + 1), "budget {budget}");
            assert!((-7..0).contains(&fuel));
        }
    }
}

#[test]
fn out_of_fuel_is_never_caught_and_the_counter_is_shared() {
    let mut instance = load_tal(LOOP);
    let (caller, spin) = (func(&instance, "calls_spin"), func(&instance, "spin"));
    let mut fuel = 3 + 1 + 7 * 10 + 3;
    let trap = instance
        .invoke(&mut MockHost::default(), caller, &[], &mut fuel)
        .unwrap_err();
    assert_eq!(
        (trap.kind, trap.func, trap.block, trap.inst),
        (TrapKind::OutOfFuel, spin, BlockId(1), Some(0))
    );
    assert_eq!(global(&instance, "iters"), 10);
    assert_eq!(fuel, 3 - 7);
    let mut fuel = i64::MIN;
    let trap = instance
        .invoke(&mut MockHost::default(), caller, &[], &mut fuel)
        .unwrap_err();
    assert_eq!(
        (trap.kind, trap.func, trap.inst, fuel),
        (TrapKind::OutOfFuel, caller, Some(0), i64::MIN)
    );
}

#[test]
fn fuel_is_charged_exactly_by_every_function_entered() {
    let mut instance = load_tal_fuelled(CATCHES);
    let fuel_of = |name: &str| match instance.module().funcs[func(&instance, name).index()].blocks[0].insts[0].kind {
        tal_ir::InstKind::Fuel(n) => n as i64,
        _ => unreachable!(),
    };
    let total = fuel_of("f") + fuel_of("g") + fuel_of("h");
    let f = func(&instance, "f");
    let mut fuel = total;
    assert_eq!(
        instance.invoke(&mut MockHost::default(), f, &[1], &mut fuel),
        Ok(Some(1000))
    );
    assert_eq!(fuel, 0);
    let mut fuel = total - 1;
    let trap = instance
        .invoke(&mut MockHost::default(), f, &[1], &mut fuel)
        .unwrap_err();
    assert_eq!(
        (trap.kind, trap.func, trap.inst),
        (TrapKind::OutOfFuel, func(&instance, "h"), Some(0))
    );
    assert_eq!(fuel, -1);
}

#[test]
fn globals_persist_across_invocations_and_instances_are_separate() {
    let mut instance = load_tal_fuelled(
        "module counter
global @n: i64 = 40
global @w: [i64; 3] = [7]
func @tick() -> i64 {
block0:
    fuel 0
    v0 = load @n
    v1 = iconst 1
    v2 = iadd v0, v1
    store @n, v2
    ret v2
}
",
    );
    assert_eq!(instance.data(), &[40, 7, 0, 0]);
    let mut host = MockHost::default();
    for n in 41..=45 {
        assert_eq!(run(&mut instance, &mut host, "tick", &[]), Ok(Some(n)));
    }
    let mut copy = instance.clone();
    assert_eq!(run(&mut copy, &mut host, "tick", &[]), Ok(Some(46)));
    assert_eq!(run(&mut instance, &mut host, "tick", &[]), Ok(Some(46)));
    instance.data_mut()[0] = i64::MAX;
    let trap = run(&mut instance, &mut host, "tick", &[]).unwrap_err();
    assert_eq!(trap.kind, TrapKind::Exception(ExcKind::Overflow));
    assert_eq!(instance.global("w"), Some(&[7, 0, 0][..]));
}

const REFS: &str = "module refs
struct pair { a: i64, b: i64 }
global @g: [i64; 4] = [1, 2, 3, 4]
global @pairs: [struct pair; 3] = zero
func @sum(%0: ref [i64]) -> i64 {
block0:
    fuel 0
    v0 = iconst 0
    jump block1(v0, v0)
block1(v1: i64, v2: i64) loop(block2):
    fuel 0
    v3 = size %0
    v4 = icmp lt v1, v3
    brif v4, block2(v1, v2), block3(v2)
block2(v5: i64, v6: i64):
    v7 = check.bounds v5, %0
    v8 = load %0[v7]
    v9 = iadd v6, v8
    v10 = iconst 1
    v11 = iadd v5, v10
    jump block1(v11, v9)
block3(v12: i64):
    ret v12
}
func @outer(%0: ref [i64]) -> i64 {
block0:
    fuel 0
    v0 = call @sum(%0)
    ret v0
}
func @get(i64, %1: ref [i64]) -> i64 {
block0(v0: i64):
    fuel 0
    v1 = check.bounds v0, %1
    v2 = load %1[v1]
    ret v2
}
func @set_b(%0: ref [struct pair], i64, i64) {
block0(v0: i64, v1: i64):
    fuel 0
    v2 = check.bounds v0, %0
    store %0[v2].b, v1
    ret
}
func @set_one(%0: ref struct pair, i64) {
block0(v0: i64):
    fuel 0
    store %0.a, v0
    ret
}
func @on_globals(i64) -> i64 {
block0(v0: i64):
    fuel 0
    v1 = call @outer(@g)
    v2 = call @get(v0, @g)
    v3 = iadd v1, v2
    v4 = iconst 2
    call @set_b(@pairs, v4, v3)
    ret v3
}
func @on_slots(i64) -> i64 {
    slot $0: [i64; 3]
    slot $1: [struct pair; 2]
    slot $2: struct pair
block0(v0: i64):
    fuel 0
    init $0
    init $1
    init $2
    v1 = iconst 1
    v2 = check.bounds v1, $0
    v3 = iconst 100
    store $0[v2], v3
    v4 = iconst 5
    call @set_b($1, v1, v4)
    call @set_one($2, v3)
    v5 = call @sum($0)
    v6 = call @get(v0, $0)
    v7 = check.bounds v1, $1
    v8 = load $1[v7].b
    v9 = load $2.a
    v10 = iadd v5, v6
    v11 = iadd v10, v8
    v12 = iadd v11, v9
    ret v12
}
";

#[test]
fn references_reach_the_callers_objects() {
    let mut instance = load_tal_fuelled(REFS);
    let mut host = MockHost::default();
    assert_eq!(run(&mut instance, &mut host, "on_globals", &[3]), Ok(Some(10 + 4)));
    assert_eq!(instance.global("pairs"), Some(&[0, 0, 0, 0, 0, 14][..]), "pairs[2].b");
    // sum($0) = 100, $0[0] = 0, $1[1].b = 5, $2.a = 100.
    assert_eq!(run(&mut instance, &mut host, "on_slots", &[0]), Ok(Some(205)));
    assert_eq!(run(&mut instance, &mut host, "on_slots", &[1]), Ok(Some(305)));
    // Bounds against the run-time length: 3 for $0, 4 for @g.
    let get = func(&instance, "get");
    let trap = run(&mut instance, &mut host, "on_slots", &[3]).unwrap_err();
    assert_eq!(
        (trap.kind, trap.func, trap.inst),
        (TrapKind::Exception(ExcKind::OutOfBounds), get, Some(1))
    );
    let trap = run(&mut instance, &mut host, "on_globals", &[4]).unwrap_err();
    assert_eq!(
        (trap.kind, trap.func, trap.inst),
        (TrapKind::Exception(ExcKind::OutOfBounds), get, Some(1))
    );
    assert_eq!(run(&mut instance, &mut host, "on_globals", &[-0]), Ok(Some(11)));
}

#[test]
fn slots_start_fresh_in_every_frame() {
    let mut instance = load_tal_fuelled(REFS);
    let mut host = MockHost::default();
    for _ in 0..3 {
        assert_eq!(run(&mut instance, &mut host, "on_slots", &[2]), Ok(Some(205)));
    }
}

const READ_AFTER_ABORT: &str = "module reads
class c {
    a: i64 range(0, 5)
    b: i64
}
global @n: i64 = 0
func @m(cap<c, rw>) {
block0(v0: cap<c, rw>):
    fuel 0
    v1 = iconst 1
    v2 = check.range v1, #c.a
    helper set_attribute(v0, #c.a, v2)
    v3 = helper get_attribute(v0, #c.b)
    store @n, v3
    ret
}
";

#[test]
fn an_attribute_read_is_not_a_helper_call_and_reads_after_an_abort() {
    let mut instance = load_tal_fuelled(READ_AFTER_ABORT);
    let mut host = MockHost::with(&[(1, 42)]);
    assert_eq!(run(&mut instance, &mut host, "m", &[APP]), Ok(None));
    assert_eq!((host.sets.len(), global(&instance, "n")), (1, 42));
    // The write aborts; the read still reads (compiled code loads from
    // `ctx.attrs` whatever the status), and the abort ends the invocation.
    host.set(1, 7);
    host.fail_set = Some(HostError::Abort("no".into()));
    let trap = run(&mut instance, &mut host, "m", &[APP]).unwrap_err();
    assert_eq!(trap.kind, TrapKind::HostAbort("no".into()));
    assert_eq!(global(&instance, "n"), 7);
}

/// The fuel amount `name`'s entry block starts with, if any.
fn entry_fuel(instance: &Instance, name: &str) -> Option<u64> {
    instance.module().funcs[func(instance, name).index()].entry_fuel()
}

#[test]
fn cheap_plain_functions_are_paid_for_by_their_callers() {
    // `double` and `quad` are cheap: no fuel check of their own, the
    // monitor's entry pays for both. `sum` has a loop: its loop header pays
    // per iteration, its entry region is paid for by the caller too.
    let source = "extension paid;
import cpu;
int r = 0;
int double(int x) { return x + x; }
int quad(int x) { return double(double(x)); }
int sum(int n) {
    int s = 0;
    for (int i = 0; i < n; i++) { s = s + i; }
    return s;
}
monitor void m(cap<cpu_qos> app) {
    r = quad(get_attribute(app, \"target_cpu\")) + sum(3);
}";
    let mut instance = load_pop(source);
    assert_eq!(entry_fuel(&instance, "double"), None);
    assert_eq!(entry_fuel(&instance, "quad"), None);
    assert_eq!(entry_fuel(&instance, "sum"), None);
    let need = entry_fuel(&instance, "m").expect("an entry point pays for itself");
    let m = func(&instance, "m");
    let mut host = MockHost::default();
    let mut fuel = 1_000;
    assert_eq!(instance.invoke(&mut host, m, &[1], &mut fuel), Ok(None));
    let used = 1_000 - fuel;
    assert!(used > need as i64, "the loop header paid for its iterations too");
    // One unit short of the monitor's own charge: it stops at its entry,
    // before any callee ran.
    let mut fuel = need as i64 - 1;
    let trap = instance.invoke(&mut host, m, &[1], &mut fuel).unwrap_err();
    assert_eq!((trap.kind, trap.func, trap.inst), (TrapKind::OutOfFuel, m, Some(0)));
    assert_eq!(fuel, -1);
    // A plain function too dear to hand to its callers keeps its own check
    // (each `x = x + 1` is two units: short of a stretch that needs a test
    // inside).
    let dear = format!(
        "extension dear;\nimport cpu;\nint r = 0;\nint big(int x) {{ {} return x; }}\n\
         monitor void m(cap<cpu_qos> app) {{ r = big(1); }}",
        "x = x + 1; ".repeat(tal_ir::fuel::MAX_CALLER_PAID as usize / 2 + 8)
    );
    let instance = load_pop(&dear);
    assert!(entry_fuel(&instance, "big").expect("keeps its fuel") > tal_ir::fuel::MAX_CALLER_PAID);
}
