//! Hostile programs against the deadline rule (V0409): every way to build
//! a long stretch without a fuel check (where the host's `refuel` looks at
//! the clock) that the attack review found, each rejected, and each
//! accepted once a producer (`tal_ir::fuel::assign_module`) has placed its
//! tests.
//!
//! Fuel amounts are generous on purpose (`fuel N` only has to cover its
//! region, V0407): what is under test is where the tests stand, not N.

use tal_ir::Module;
use tal_ir::cost::MAX_UNCHECKED;
use tal_ir::fuel::{EntryFuel, assign_module};

const HEADER: &str = "module hostile\n\nclass cpu_qos {\n    period: i64 readonly\n}\n\nglobal @sink: i64 = 0\n\n";
const PLENTY: u64 = 1 << 40;

fn parse(body: &str) -> Module {
    let text = format!("{HEADER}{body}");
    tal_ir::text::parse(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}")).0
}

fn codes(m: &Module) -> Vec<&'static str> {
    match verifier::verify(m, &verifier::Config::default()) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.into_iter().map(|e| e.code).collect(),
    }
}

/// `body` is rejected for a long stretch and nothing else; with the tests
/// a producer places it is accepted.
fn rejected_then_fixed(body: &str) {
    let hostile = parse(body);
    let found = codes(&hostile);
    assert!(
        !found.is_empty() && found.iter().all(|&c| c == "V0409"),
        "expected only V0409, got {found:?}"
    );
    let mut fixed = hostile.clone();
    assign_module(&mut fixed, EntryFuel::Keep);
    assert_eq!(codes(&fixed), Vec::<&str>::new(), "{}", tal_ir::text::print(&fixed));
}

/// `n` units of straight-line work that define no value (a block's values
/// are bounded by the stack model, V0502): stores of `v0`.
fn stores(n: usize) -> String {
    "    store @sink, v0\n".repeat(n)
}

#[test]
fn a_tree_of_callees_without_fuel_is_one_stretch() {
    // The attack of the review: each level calls the one below 16 times,
    // six levels deep; no function has a `fuel` of its own, so the whole
    // tree (~16^6 calls) is paid for up front by the monitor's `fuel` and
    // never tests the deadline.
    let mut body = String::from("func @f0(i64) -> i64 {\nblock0(v0: i64):\n    v1 = iadd v0, v0\n    ret v1\n}\n\n");
    for level in 1..=6 {
        body += &format!("func @f{level}(i64) -> i64 {{\nblock0(v0: i64):\n");
        for call in 1..=16 {
            body += &format!("    v{call} = call @f{}(v{})\n", level - 1, call - 1);
        }
        body += "    ret v16\n}\n\n";
    }
    body += &format!(
        "monitor @m(cap<cpu_qos, r>) {{\nblock0(v0: cap<cpu_qos, r>):\n    fuel {PLENTY}\n    \
         v1 = helper get_attribute(v0, #cpu_qos.period)\n    v2 = call @f6(v1)\n    ret\n}}\n"
    );
    rejected_then_fixed(&body);
}

#[test]
fn a_long_straight_run_is_one_stretch() {
    let n = MAX_UNCHECKED as usize;
    rejected_then_fixed(&format!(
        "func @f(i64) -> i64 {{\nblock0(v0: i64):\n    fuel {PLENTY}\n{}    ret v0\n}}\n",
        stores(n)
    ));
}

#[test]
fn an_entry_points_host_charged_region_is_a_stretch_too() {
    // The host charges an entry point's first `fuel` without a test: the
    // invocation's start is the test, and the region after it is bounded.
    let n = MAX_UNCHECKED as usize;
    rejected_then_fixed(&format!(
        "monitor @m(cap<cpu_qos, r>) {{\nblock0(v0: cap<cpu_qos, r>):\n    fuel {PLENTY}\n    \
         v1 = helper get_attribute(v0, #cpu_qos.period)\n{}    ret\n}}\n",
        "    store @sink, v1\n".repeat(n)
    ));
}

#[test]
fn a_loop_body_without_a_test_inside_is_one_stretch_per_iteration() {
    let n = MAX_UNCHECKED as usize;
    rejected_then_fixed(&format!(
        "func @f(i64) -> i64 {{\nblock0(v0: i64):\n    fuel {PLENTY}\n    jump block1(v0)\n\
         block1(v1: i64) loop(block1):\n    fuel {PLENTY}\n{}    v2 = load @sink\n    v3 = icmp lt v2, v1\n    \
         brif v3, block1(v2), block2(v2)\nblock2(v4: i64):\n    ret v4\n}}\n",
        "    store @sink, v1\n".repeat(n)
    ));
}

#[test]
fn init_costs_a_unit_per_cell() {
    // Three zero-fills of a 400-cell slot: 1,200 stores, one instruction
    // each in TAL.
    let body = format!(
        "func @f() -> i64 {{\n    slot $0: [i64; 400]\nblock0:\n    fuel {PLENTY}\n    init $0\n    init $0\n    \
         init $0\n    v0 = iconst 1\n    ret v0\n}}\n"
    );
    rejected_then_fixed(&body);
    // And fuel counts them: the same function's exact amount is 1,202.
    let short = parse(&body.replace(&format!("fuel {PLENTY}"), "fuel 5"));
    assert!(codes(&short).contains(&"V0407"), "{:?}", codes(&short));
    let mut exact = parse(&body);
    assign_module(&mut exact, EntryFuel::Keep);
    let amounts: Vec<u64> = exact.funcs[0]
        .blocks
        .iter()
        .flat_map(|b| &b.insts)
        .filter_map(|i| match i.kind {
            tal_ir::InstKind::Fuel(n) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(amounts.iter().sum::<u64>(), 3 * 400 + 2, "{amounts:?}");
}

#[test]
fn call_arguments_cost_a_unit_each() {
    // A callee its callers pay for, taking 100 arguments: each call moves
    // 100 words; eleven calls are 1,100+ units.
    let params = vec!["i64"; 100].join(", ");
    let block_params: String = (0..100).map(|v| format!("v{v}: i64")).collect::<Vec<_>>().join(", ");
    let args = vec!["v1"; 100].join(", ");
    let mut body = format!("func @wide({params}) -> i64 {{\nblock0({block_params}):\n    ret v0\n}}\n\n");
    body += &format!("func @f(i64) -> i64 {{\nblock0(v0: i64):\n    fuel {PLENTY}\n    v1 = iadd v0, v0\n");
    for call in 2..=12 {
        body += &format!("    v{call} = call @wide({args})\n");
    }
    body += "    ret v12\n}\n";
    rejected_then_fixed(&body);
}

#[test]
fn block_arguments_cost_a_unit_each() {
    // A chain of eleven jumps, each passing 100 values.
    let mut body = format!("func @f(i64) -> i64 {{\nblock0(v0: i64):\n    fuel {PLENTY}\n");
    let mut next = 1;
    for b in 0..11 {
        let args = vec![format!("v{}", next - 1); 100].join(", ");
        body += &format!("    jump block{}({args})\n", b + 1);
        let params: Vec<String> = (next..next + 100).map(|v| format!("v{v}: i64")).collect();
        body += &format!("block{}({}):\n", b + 1, params.join(", "));
        next += 100;
    }
    body += &format!("    ret v{}\n}}\n", next - 1);
    rejected_then_fixed(&body);
}

#[test]
fn a_stretch_continues_after_a_callee_returns() {
    // @g tests the deadline at its entry, then runs 600 units; its caller
    // runs 600 more after the call: each alone is short, together they
    // are one stretch of 1,200.
    let body = format!(
        "func @g(i64) -> i64 {{\nblock0(v0: i64):\n    fuel {PLENTY}\n{}    ret v0\n}}\n\n\
         func @f(i64) -> i64 {{\nblock0(v0: i64):\n    fuel {PLENTY}\n    v1 = call @g(v0)\n{}    ret v1\n}}\n",
        stores(600),
        stores(600)
    );
    rejected_then_fixed(&body);
}

#[test]
fn a_stretch_continues_through_an_exception_into_the_callers_handler() {
    // @g's normal path tests again before it returns; its exception path
    // does not, and the caller's handler runs long: the raise is an exit.
    let body = format!(
        "func @g(i64) -> i64 {{\nblock0(v0: i64):\n    fuel {PLENTY}\n{}    v1 = check.nonzero v0\n    \
         jump block1(v1)\nblock1(v2: nz):\n    fuel {PLENTY}\n    ret v2\n}}\n\n\
         func @f(i64) -> i64 {{\nblock0(v0: i64):\n    fuel {PLENTY}\n    \
         v1 = call @g(v0) !catch(DivideByZero -> block1(v0))\n    ret v1\nblock1(v2: i64):\n{}    ret v2\n}}\n",
        stores(600),
        "    store @sink, v2\n".repeat(600)
    );
    rejected_then_fixed(&body);
}

#[test]
fn a_stretch_continues_through_a_chain_of_returns() {
    // Each of five functions tests at its entry, calls the next, and runs
    // 250 units after the call: the returns chain 5 x 250 units together.
    let mut body = format!(
        "func @h0(i64) -> i64 {{\nblock0(v0: i64):\n    fuel {PLENTY}\n{}    ret v0\n}}\n\n",
        stores(250)
    );
    for k in 1..5 {
        body += &format!(
            "func @h{k}(i64) -> i64 {{\nblock0(v0: i64):\n    fuel {PLENTY}\n    v1 = call @h{}(v0)\n{}    ret v1\n}}\n\n",
            k - 1,
            stores(250)
        );
    }
    rejected_then_fixed(&body);
}

#[test]
fn stretches_within_the_bound_are_accepted() {
    // The limit itself: a region of exactly MAX_UNCHECKED units passes.
    let n = MAX_UNCHECKED as usize - 1;
    let m = parse(&format!(
        "func @f(i64) -> i64 {{\nblock0(v0: i64):\n    fuel {PLENTY}\n{}    ret v0\n}}\n",
        stores(n)
    ));
    assert_eq!(codes(&m), Vec::<&str>::new());
    let over = parse(&format!(
        "func @f(i64) -> i64 {{\nblock0(v0: i64):\n    fuel {PLENTY}\n{}    ret v0\n}}\n",
        stores(n + 1)
    ));
    assert_eq!(codes(&over), vec!["V0409"]);
}
