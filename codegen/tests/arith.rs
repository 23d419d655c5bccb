//! Checked arithmetic, run: every way lowering writes an overflow check
//! (operand of known sign, constant factor, `MIN / -1`, attribute range,
//! `s*_overflow`) traps exactly where Rust's `checked_*` fails, at the
//! instruction's location, and otherwise gives the exact result.

#![deny(clippy::undocumented_unsafe_blocks)]

use runtime::image::CodeImage;
use stdlib::abi::{Ctx, status};
use tal_ir::Module;

const MIN: i64 = i64::MIN;
const MAX: i64 = i64::MAX;

/// Constants around every threshold the checks compare with.
const EDGES: [i64; 27] = [
    MIN,
    MIN + 1,
    MIN / 2,
    -(1 << 32),
    -(1 << 31) - 1,
    -(1 << 31),
    -65_536,
    -1000,
    -31,
    -3,
    -2,
    -1,
    0,
    1,
    2,
    3,
    31,
    1000,
    65_536,
    (1 << 31) - 1,
    1 << 31,
    (1 << 31) + 1,
    1 << 32,
    MAX / 3,
    MAX / 2,
    MAX - 1,
    MAX,
];

/// Operands: the edges, their neighbours, and the bounds of `MIN..=MAX`
/// divided by each edge (where a product starts to overflow).
fn operands() -> Vec<i64> {
    let mut xs: Vec<i64> = Vec::new();
    for &e in &EDGES {
        xs.extend([e.wrapping_sub(1), e, e.wrapping_add(1)]);
        if e != 0 && e != -1 {
            for q in [MIN / e, MAX / e] {
                xs.extend([q.wrapping_sub(1), q, q.wrapping_add(1)]);
            }
        }
    }
    xs.sort_unstable();
    xs.dedup();
    xs
}

struct Compiled {
    module: Module,
    image: CodeImage,
}

impl Compiled {
    fn new(text: &str) -> Compiled {
        let (module, _) = tal_ir::text::parse(text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        verifier::verify(&module, &verifier::Config::default()).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        let options = codegen::Options::default();
        let funcs = codegen::lower::lower_module(&module, options).expect("lowers");
        let object = codegen::object::write_object(&module, &funcs, options);
        let parts = codegen::object::read_object(&object).expect("reads back");
        let image = CodeImage::link(&parts).expect("links");
        Compiled { module, image }
    }

    /// Runs function `name`: its result, or the status and location of
    /// its trap.
    fn run(&self, name: &str, args: &[i64]) -> Result<i64, (u64, u32, u32, u32)> {
        let index = self.module.func_by_name(name).expect("function").index();
        let mut data = [0i64; 1];
        let mut ctx = Ctx::new(
            1 << 20,
            std::ptr::null(),
            data.as_mut_ptr(),
            std::ptr::null(),
            runtime::refuel::exhausted(),
        );
        // SAFETY: the functions call no helper and use no global.
        let r = unsafe { self.image.call(index, &mut ctx, args) }.expect("a function");
        match ctx.status {
            status::OK => Ok(r),
            s => Err((s, ctx.trap_func, ctx.trap_block, ctx.trap_inst)),
        }
    }
}

/// `func @NAME(i64, i64) -> i64 { block0(v0, v1): fuel N; lines }`.
fn func(name: &str, lines: &[String]) -> String {
    let body: String = lines.iter().map(|l| format!("    {l}\n")).collect();
    format!(
        "func @{name}(i64, i64) -> i64 {{\nblock0(v0: i64, v1: i64):\n    fuel {}\n{body}}}\n",
        lines.len() + 1
    )
}

/// The exact result of `x op y`, `None` where it overflows.
type Exact = fn(i64, i64) -> Option<i64>;

const OPS: [(&str, Exact); 3] = [
    ("iadd", i64::checked_add),
    ("isub", i64::checked_sub),
    ("imul", i64::checked_mul),
];

/// The operands a function applies the operation to, from its arguments.
type Operands = Box<dyn Fn(i64, i64) -> (i64, i64)>;

#[test]
fn overflow_checks_trap_exactly_where_the_result_does_not_fit() {
    let xs = operands();
    for (op, exact) in OPS {
        // (name, body, index of the operation, its operands)
        let mut cases: Vec<(String, Vec<String>, u32, Operands)> = Vec::new();
        for (i, &k) in EDGES.iter().enumerate() {
            let konst = format!("v2 = iconst {k}");
            cases.push((
                format!("right{i}"),
                vec![konst.clone(), format!("v3 = {op} v0, v2"), "ret v3".into()],
                2,
                Box::new(move |x, _| (x, k)),
            ));
            cases.push((
                format!("left{i}"),
                vec![konst, format!("v3 = {op} v2, v0"), "ret v3".into()],
                2,
                Box::new(move |x, _| (k, x)),
            ));
        }
        // Operands of unknown sign, and of known sign: `y & MAX >= 0`,
        // `-(y & MAX) <= 0`.
        let max = format!("v2 = iconst {MAX}");
        let shapes: [(&str, Vec<String>, u32, Operands); 5] = [
            ("unknown", vec![format!("v2 = {op} v0, v1")], 1, Box::new(|x, y| (x, y))),
            (
                "rhs_nonneg",
                vec![max.clone(), "v3 = and v1, v2".into(), format!("v4 = {op} v0, v3")],
                3,
                Box::new(|x, y| (x, y & MAX)),
            ),
            (
                "rhs_nonpos",
                vec![
                    max.clone(),
                    "v3 = and v1, v2".into(),
                    "v4 = ineg v3".into(),
                    format!("v5 = {op} v0, v4"),
                ],
                4,
                Box::new(|x, y| (x, -(y & MAX))),
            ),
            (
                "lhs_nonneg",
                vec![max.clone(), "v3 = and v0, v2".into(), format!("v4 = {op} v3, v1")],
                3,
                Box::new(|x, y| (x & MAX, y)),
            ),
            (
                "lhs_nonpos",
                vec![
                    max,
                    "v3 = and v0, v2".into(),
                    "v4 = ineg v3".into(),
                    format!("v5 = {op} v4, v1"),
                ],
                4,
                Box::new(|x, y| (-(x & MAX), y)),
            ),
        ];
        for (name, mut body, at, operands) in shapes {
            body.push(format!("ret v{}", body.len() + 1));
            cases.push((name.into(), body, at, operands));
        }
        let text: String = cases.iter().map(|(name, body, ..)| func(name, body)).collect();
        let compiled = Compiled::new(&format!("module arith\n{text}"));
        for (fid, (name, _, at, operands)) in cases.iter().enumerate() {
            // The constant cases use `x` only.
            let ys: &[i64] = if name.starts_with("right") || name.starts_with("left") {
                &[0]
            } else {
                &EDGES
            };
            for &x in &xs {
                for &y in ys {
                    let (a, b) = operands(x, y);
                    let want = exact(a, b).ok_or((status::OVERFLOW, fid as u32, 0, *at));
                    let got = compiled.run(name, &[x, y]);
                    assert_eq!(got, want, "`{name}`: {a} {op} {b} (x = {x}, y = {y})");
                }
            }
        }
    }
}

#[test]
fn division_traps_on_min_by_minus_one_only() {
    let text = String::from("module div\n")
        + &func(
            "div",
            &[
                "v2 = check.nonzero v1".into(),
                "v3 = sdiv v0, v2".into(),
                "ret v3".into(),
            ],
        )
        + &func(
            "rem",
            &[
                "v2 = check.nonzero v1".into(),
                "v3 = srem v0, v2".into(),
                "ret v3".into(),
            ],
        );
    let compiled = Compiled::new(&text);
    for (name, exact) in [("div", i64::checked_div as Exact), ("rem", i64::checked_rem)] {
        let fid = compiled.module.func_by_name(name).unwrap().0;
        for &x in &operands() {
            for &y in EDGES.iter().filter(|&&y| y != 0) {
                let want = exact(x, y).ok_or((status::OVERFLOW, fid, 0, 2));
                assert_eq!(compiled.run(name, &[x, y]), want, "{x} {name} {y}");
            }
        }
    }
}

#[test]
fn range_checks_trap_exactly_outside_the_range() {
    for (lo, hi) in [
        (-1_000_000, 1_000_000),
        (MIN, 5),
        (-5, MAX),
        (0, 0),
        (MIN, MAX),
        (MIN + 1, MAX - 1),
    ] {
        let text = format!(
            "module range\nclass c {{\n    a: i64 range({lo}, {hi})\n}}\n{}",
            func("f", &["v2 = check.range v0, #c.a".into(), "ret v2".into()])
        );
        let compiled = Compiled::new(&text);
        for x in operands()
            .into_iter()
            .chain([lo.wrapping_sub(1), lo, hi, hi.wrapping_add(1)])
        {
            let want = if (lo..=hi).contains(&x) {
                Ok(x)
            } else {
                Err((status::RANGE_ERROR, 0, 0, 1))
            };
            assert_eq!(compiled.run("f", &[x, 0]), want, "{x} in {lo}..={hi}");
        }
    }
}
