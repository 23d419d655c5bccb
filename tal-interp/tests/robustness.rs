//! Modules the verifier rejects never make the interpreter panic or loop
//! forever, and verified generated programs never reach a state the
//! verifier rules out; fuel exhaustion points are exact.

mod common;

use common::*;
use rand::{RngExt, SeedableRng};
use rand_xorshift::XorShiftRng;
use tal_interp::{Instance, Trap, TrapKind};
use tal_ir::{BlockId, ExcKind, FuncId, Module};

fn parse(text: &str) -> Module {
    tal_ir::text::parse(text).unwrap_or_else(|e| panic!("{e:?}")).0
}

fn invalid_trap(text: &str, name: &str, args: &[i64]) -> Trap {
    let module = parse(text);
    assert!(verifier::verify(&module, &verifier::Config::default()).is_err());
    let mut instance = Instance::new(module).expect("lays out");
    run(&mut instance, &mut MockHost::default(), name, args).unwrap_err()
}

fn is_invalid(t: &Trap) -> bool {
    matches!(t.kind, TrapKind::Invalid(_))
}

#[test]
fn rejected_constructs_trap_as_invalid() {
    let extern_call = "module m\nfunc @f() {\nblock0:\n    fuel 2\n    call @spin_lock()\n    ret\n}\n";
    let t = invalid_trap(extern_call, "f", &[]);
    assert!(is_invalid(&t) && t.inst == Some(1), "{t:?}");
    let asm = "module m\nfunc @f() {\nblock0:\n    fuel 2\n    cli\n    ret\n}\n";
    assert!(is_invalid(&invalid_trap(asm, "f", &[])));
    let out_of_scope = "module m
func @f(i64) -> i64 {
block0(v0: i64):
    fuel 3
    jump block1
block1:
    v1 = iadd v0, v0
    ret v1
}
";
    let t = invalid_trap(out_of_scope, "f", &[1]);
    assert!(is_invalid(&t) && (t.block, t.inst) == (BlockId(1), Some(0)), "{t:?}");
    let unchecked_index = "module m
global @a: [i64; 2] = zero
func @f(i64) -> i64 {
block0(v0: i64):
    fuel 3
    v1 = load @a[v0]
    ret v1
}
";
    assert!(is_invalid(&invalid_trap(unchecked_index, "f", &[2])));
    let unchecked_divisor = "module m
func @f(i64, i64) -> i64 {
block0(v0: i64, v1: i64):
    fuel 3
    v2 = sdiv v0, v1
    ret v2
}
";
    assert!(is_invalid(&invalid_trap(unchecked_divisor, "f", &[1, 0])));
}

#[test]
fn the_fuel_invariant_is_checked_as_it_runs() {
    // A loop header without `fuel`: stopped after the fuel paid runs out.
    let unfuelled = "module m
func @f() {
block0:
    fuel 1
    jump block1
block1:
    jump block1
}
";
    let t = invalid_trap(unfuelled, "f", &[]);
    assert!(is_invalid(&t) && (t.block, t.inst) == (BlockId(1), None), "{t:?}");
    // A `fuel` too small for its block (V0407).
    let short = "module m
func @f() -> i64 {
block0:
    fuel 2
    v0 = iconst 1
    v1 = iconst 2
    v2 = iadd v0, v1
    ret v2
}
";
    let t = invalid_trap(short, "f", &[]);
    assert!(is_invalid(&t) && t.inst == Some(3), "{t:?}");
}

#[test]
fn recursion_overflows_the_stack() {
    let recursive = "module m
func @f() {
block0:
    fuel 2
    call @f()
    ret
}
";
    let t = invalid_trap(recursive, "f", &[]);
    assert_eq!((t.kind, t.inst), (TrapKind::StackOverflow, Some(1)));
}

#[test]
fn bad_invocations_and_layouts() {
    let mut instance = load_tal(include_str!("../../examples/tal/cpu_avg.tal"));
    let mut host = MockHost::default();
    let wrong_args = run(&mut instance, &mut host, "cpu_avg", &[APP, 1]).unwrap_err();
    assert!(is_invalid(&wrong_args) && wrong_args.inst.is_none());
    let refs = run(&mut instance, &mut host, "sum_errors", &[]).unwrap_err();
    assert!(is_invalid(&refs));
    let unknown = instance.invoke(&mut host, FuncId(99), &[], &mut 10).unwrap_err();
    assert!(is_invalid(&unknown));
    let unsized_global = "module m\nglobal @a: [i64] = zero\n";
    assert!(Instance::new(parse(unsized_global)).is_err());
    let huge = "module m\nglobal @a: [i64; 4000000000] = zero\n";
    assert!(Instance::new(parse(huge)).is_err());
}

fn generated(seed: u64) -> Module {
    let program = popgen::sample(seed, popgen::GenConfig::default());
    let compiled = popcorn_front::compile(&program.source, &popcorn_front::Options::default());
    let module = compiled
        .module
        .unwrap_or_else(|| panic!("{:#?}\n{}", compiled.diagnostics, program.source));
    verifier::verify(&module, &verifier::Config::default()).unwrap_or_else(|e| panic!("{e:#?}"));
    module
}

fn all_attributes() -> MockHost {
    MockHost::with(&[
        (PERIOD, 1_000),
        (TARGET_CPU, 300),
        (ACTUAL_CPU, 250),
        (TARGET_UTIL, 300),
        (AVG_UTIL_2P, 310),
        (TIMESLICE_ADJUSTMENT, 0),
    ])
}

#[test]
fn corrupted_modules_never_panic() {
    let mut seeds: Vec<Module> = (0..8).map(generated).collect();
    for text in [
        include_str!("../../examples/tal/cpu_avg.tal"),
        include_str!("../../examples/tal/cpu_pid.tal"),
        include_str!("../../examples/tal/timeslice_guard.tal"),
    ] {
        seeds.push(parse(text));
    }
    // Seeded, so that failures replay.
    let mut rng = XorShiftRng::seed_from_u64(0x9e37_79b9_7f4a_7c15);
    let mut ran = 0;
    for _ in 0..3_000 {
        let mut bytes = tal_ir::binary::encode(&seeds[rng.random_range(0..seeds.len())]);
        for _ in 0..1 + rng.random_range(0..3) {
            let i = 8 + rng.random_range(0..bytes.len() - 8);
            bytes[i] = rng.random::<u64>() as u8;
        }
        let Ok(module) = tal_ir::binary::decode(&bytes) else {
            continue;
        };
        let Ok(mut instance) = Instance::new(module) else {
            continue;
        };
        for f in 0..instance.module().funcs.len() {
            let n = instance.module().funcs[f].params.len();
            let args: Vec<i64> = (0..n).map(|i| [APP, 7, 0, -1][i % 4]).collect();
            let mut fuel = 5_000;
            let _ = instance.invoke(&mut all_attributes(), FuncId(f as u32), &args, &mut fuel);
            ran += 1;
        }
    }
    assert!(ran > 1_000, "only {ran} invocations");
}

/// Runs `f` on a copy of `instance` with `fuel`.
fn attempt(instance: &Instance, f: FuncId, args: &[i64], fuel: i64) -> (Result<Option<i64>, Trap>, i64, Instance) {
    let mut copy = instance.clone();
    let mut left = fuel;
    let result = copy.invoke(&mut all_attributes(), f, args, &mut left);
    (result, left, copy)
}

#[test]
fn generated_programs_run_within_the_verifiers_guarantees() {
    let mut outcomes = std::collections::BTreeMap::new();
    for seed in 0..150 {
        let mut instance = Instance::new(generated(seed)).unwrap();
        let m = instance.module().clone();
        let entries: Vec<(FuncId, Vec<i64>)> = m
            .funcs
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match f.kind {
                tal_ir::FuncKind::Monitor => Some((FuncId(i as u32), vec![APP])),
                tal_ir::FuncKind::Handler { .. } => Some((FuncId(i as u32), vec![APP, seed as i64 - 75])),
                _ => None,
            })
            .collect();
        for round in 0..3 {
            for (f, args) in &entries {
                let budget = 20_000;
                let (result, left, after) = attempt(&instance, *f, args, budget);
                let key = match &result {
                    Ok(_) => "ok".to_string(),
                    Err(t) => match &t.kind {
                        TrapKind::Exception(k) => k.name().to_string(),
                        TrapKind::OutOfFuel => "OutOfFuel".to_string(),
                        other => panic!("seed {seed} round {round}: {other:?} at {t}"),
                    },
                };
                *outcomes.entry(key).or_insert(0) += 1;
                // The same invocation with exactly the fuel it used ends the
                // same way; with one less it runs out of fuel.
                if !matches!(
                    result,
                    Err(Trap {
                        kind: TrapKind::OutOfFuel,
                        ..
                    })
                ) {
                    let used = budget - left;
                    let (exact, exact_left, _) = attempt(&instance, *f, args, used);
                    assert_eq!((&exact, exact_left), (&result, 0), "seed {seed}");
                    let (short, _, _) = attempt(&instance, *f, args, used - 1);
                    assert_eq!(short.unwrap_err().kind, TrapKind::OutOfFuel, "seed {seed}");
                }
                instance = after;
            }
        }
    }
    // The generated programs exercise both outcomes.
    assert!(outcomes.get("ok").copied().unwrap_or(0) > 100, "{outcomes:?}");
    assert!(outcomes.len() > 2, "{outcomes:?}");
    let _ = ExcKind::ALL;
}
