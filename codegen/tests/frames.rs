//! What verifies must lower. Code generation refuses a frame beyond the
//! verifier's frame model (`tal_ir::layout`, "Stack frames"; C0005), so a
//! term the model lacks shows up as a verified module that does not
//! compile. These modules stress each term: wide calls (stack arguments,
//! references among them), reference parameters, slot addresses and values
//! kept across calls (spill slots), slots, at the stack limit and in random
//! mixes; then generated Popcorn-SX programs with wide signatures. They also
//! check that the verifier's frames are the model's.

#![forbid(unsafe_code)]

use proptest::prelude::*;
use std::fmt::Write as _;
use tal_ir::layout::{Layout, frame_model, stack_arg_bytes};

/// Parses and verifies `text` (stack limit `limit`), then lowers it; panics
/// unless both succeed. Returns the module and each function's real frame:
/// Cranelift's frame plus the return address and saved frame pointer.
fn lower(text: &str, limit: u64) -> (tal_ir::Module, Vec<u64>) {
    let (m, _) = tal_ir::text::parse(text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    let config = verifier::Config {
        stack_limit: limit,
        ..verifier::Config::default()
    };
    if let Err(errors) = verifier::verify(&m, &config) {
        panic!("{errors:?}\n{text}");
    }
    let compiled = codegen::lower::lower_module(&m, codegen::Options::default())
        .unwrap_or_else(|e| panic!("a verified module does not lower: {e}\n{text}"));
    let layout = Layout::new(&m);
    let real: Vec<u64> = compiled.iter().map(|c| u64::from(c.frame_size) + 16).collect();
    for (f, &real) in m.funcs.iter().zip(&real) {
        let model = frame_model(&layout, f).unwrap();
        assert!(real <= model, "`{}`: frame {real} bytes, model {model}", f.name);
    }
    (m, real)
}

/// The verifier's V0502 verdict at `limit`.
fn within_limit(m: &tal_ir::Module, limit: u64) -> bool {
    let config = verifier::Config {
        stack_limit: limit,
        ..verifier::Config::default()
    };
    match verifier::verify(m, &config) {
        Ok(()) => true,
        Err(errors) => {
            assert!(errors.iter().all(|e| e.code == "V0502"), "{errors:?}");
            false
        }
    }
}

/// The model of function `name` of `m`.
fn model(m: &tal_ir::Module, name: &str) -> u64 {
    let f = m.funcs.iter().find(|f| f.name == name).unwrap();
    frame_model(&Layout::new(m), f).unwrap()
}

/// A call argument: a value, or a reference (base and length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Value,
    Ref,
}

fn words(kinds: &[Kind]) -> u64 {
    kinds.iter().map(|&k| if k == Kind::Value { 1 } else { 2 }).sum()
}

/// `func @sink(…) -> i64` taking `kinds` (references as `ref [i64]`),
/// returning a constant.
fn sink(kinds: &[Kind]) -> String {
    let mut params = Vec::new();
    let mut values = Vec::new();
    for (i, k) in kinds.iter().enumerate() {
        match k {
            Kind::Value => {
                params.push("i64".to_string());
                values.push(format!("v{}: i64", values.len()));
            }
            Kind::Ref => params.push(format!("%{i}: ref [i64]")),
        }
    }
    format!(
        "func @sink({}) -> i64 {{\nblock0({}):\n    fuel 10\n    v{n} = iconst 7\n    ret v{n}\n}}\n",
        params.join(", "),
        values.join(", "),
        n = values.len()
    )
}

/// A module whose `@caller(i64)` passes its parameter for every value of
/// `kinds` and the global `@g` for every reference, to `@sink`, and keeps
/// nothing across the call.
fn wide_call(kinds: &[Kind]) -> String {
    let args: Vec<&str> = kinds
        .iter()
        .map(|&k| if k == Kind::Value { "v0" } else { "@g" })
        .collect();
    format!(
        "module wide\nglobal @g: [i64; 4] = zero\n{}\
         func @caller(i64) -> i64 {{\nblock0(v0: i64):\n    fuel 1000\n    v1 = call @sink({})\n    ret v1\n}}\n",
        sink(kinds),
        args.join(", ")
    )
}

/// The caller's frame with no stack arguments: the return address and
/// frame pointer, and the callee-saved register that keeps `v0` across its
/// fuel check's call of `refuel`.
fn caller_base() -> u64 {
    let (m, real) = lower(&wide_call(&[]), u64::MAX);
    real[m.funcs.iter().position(|f| f.name == "caller").unwrap()]
}

/// The example, `call @f(v1, v1, … 100 times)`, and every width up
/// to it: the stack argument term is exactly what Cranelift reserves (the
/// caller keeps nothing else in its frame beyond what it keeps with none).
#[test]
fn wide_calls_lower_and_their_stack_arguments_are_modelled_exactly() {
    let base = caller_base();
    assert!(base <= 32, "{base}");
    for n in 0..=100 {
        let kinds = vec![Kind::Value; n];
        let (m, real) = lower(&wide_call(&kinds), u64::MAX);
        let caller = m.funcs.iter().position(|f| f.name == "caller").unwrap();
        assert_eq!(real[caller], base + stack_arg_bytes(n as u64), "{n} arguments");
    }
}

/// References take two words, base and length: mixed with values, at every
/// position, the stack area is still exactly [`stack_arg_bytes`].
#[test]
fn wide_calls_mixing_references_lower() {
    let patterns: Vec<Vec<Kind>> = vec![
        vec![Kind::Ref; 3],
        vec![Kind::Ref; 50],
        [vec![Kind::Value; 4], vec![Kind::Ref]].concat(),
        [vec![Kind::Value; 5], vec![Kind::Ref]].concat(),
        [vec![Kind::Ref], vec![Kind::Value; 5]].concat(),
        (0..100)
            .map(|i| if i % 3 == 0 { Kind::Ref } else { Kind::Value })
            .collect(),
        [vec![Kind::Value; 50], vec![Kind::Ref; 25]].concat(),
        [vec![Kind::Ref; 25], vec![Kind::Value; 50]].concat(),
    ];
    let base = caller_base();
    for kinds in patterns {
        let (m, real) = lower(&wide_call(&kinds), u64::MAX);
        let caller = m.funcs.iter().position(|f| f.name == "caller").unwrap();
        // The stack area is exact; the data region's address, from which
        // the references' bases are made, may also be kept across the fuel
        // check's `refuel` call (one more callee-saved register, 16 bytes
        // with alignment).
        let beyond = real[caller] - stack_arg_bytes(words(&kinds));
        assert!(
            (base..=base + 16).contains(&beyond),
            "{kinds:?}: {beyond} beyond the stack area"
        );
    }
}

/// The shape of a `stress` module.
#[derive(Clone, Debug)]
struct Shape {
    /// Reference parameters of `@f`.
    refs: usize,
    /// Cells of each of `@f`'s slots.
    slots: Vec<u32>,
    /// Helper results in `@f`'s entry block (at least one is made).
    values: usize,
    /// Arguments of `@f`'s calls of `@sink`.
    kinds: Vec<Kind>,
}

/// A module stressing every term at once. `@f` has the shape's reference
/// parameters and slots and an entry block of its helper results, all kept
/// across two calls of `@sink` with arguments `kinds` (values cycling
/// through the results, references through `@f`'s own, a global and the
/// slots); the results then go on to a second block, kept across another
/// call and `@sink` again, then stored. Each slot is also passed by
/// reference in both blocks. `@main` calls `@f`.
fn stress(shape: &Shape) -> String {
    let Shape {
        refs,
        ref slots,
        values,
        ref kinds,
    } = *shape;
    let mut s = String::from("module stress\nglobal @g: [i64; 4] = zero\n");
    for i in 0..values.max(1) {
        let _ = writeln!(s, "global @o{i}: i64 = 0");
    }
    s.push_str(&sink(kinds));
    s.push_str("func @v() {\nblock0:\n    fuel 10\n    ret\n}\n");
    s.push_str("func @h(%0: ref [i64]) {\nblock0:\n    fuel 10\n    ret\n}\n");
    let params: Vec<String> = (0..refs).map(|i| format!("%{i}: ref [i64]")).collect();
    let _ = writeln!(s, "func @f({}) -> i64 {{", params.join(", "));
    for (i, cells) in slots.iter().enumerate() {
        let _ = writeln!(s, "    slot ${i}: [i64; {cells}]");
    }
    s.push_str("block0:\n    fuel 100000\n");
    for i in 0..slots.len() {
        // A deadline test after each (V0409: an `init` costs its cells, up
        // to 599 here, and the calls below cost up to 40 helpers' more).
        let _ = writeln!(s, "    init ${i}\n    fuel 100000");
    }
    // At least one value, to pass where `kinds` asks for values.
    let values = values.max(1);
    for i in 0..values {
        // A deadline test every 40 helper calls (V0409).
        if i % 40 == 39 {
            s.push_str("    fuel 100000\n");
        }
        let _ = writeln!(s, "    v{i} = helper now_us()");
    }
    let roots: Vec<String> = (0..refs)
        .map(|i| format!("%{i}"))
        .chain(["@g".to_string()])
        .chain((0..slots.len()).map(|i| format!("${i}")))
        .collect();
    let args = |first: usize| -> String {
        let (mut v, mut r) = (0, 0);
        let list: Vec<String> = kinds
            .iter()
            .map(|k| match k {
                Kind::Value => {
                    v += 1;
                    format!("v{}", first + (v - 1) % values)
                }
                Kind::Ref => {
                    r += 1;
                    roots[(r - 1) % roots.len()].clone()
                }
            })
            .collect();
        list.join(", ")
    };
    let pass_slots = |s: &mut String| {
        for i in 0..slots.len() {
            let _ = writeln!(s, "    call @h(${i})");
        }
    };
    let all = (0..values).map(|i| format!("v{i}")).collect::<Vec<_>>().join(", ");
    let _ = writeln!(s, "    v{values} = call @sink({})", args(0));
    pass_slots(&mut s);
    let _ = writeln!(s, "    call @v()\n    jump block1({all})");
    let params: Vec<String> = (0..values).map(|i| format!("v{}: i64", values + 1 + i)).collect();
    let _ = writeln!(s, "block1({}):\n    fuel 100000\n    call @v()", params.join(", "));
    pass_slots(&mut s);
    let _ = writeln!(s, "    v{} = call @sink({})", 2 * values + 1, args(values + 1));
    for i in 0..values {
        let _ = writeln!(s, "    store @o{i}, v{}", values + 1 + i);
    }
    let _ = writeln!(s, "    ret v{}\n}}", 2 * values + 1);
    let refs_args: Vec<&str> = (0..refs).map(|_| "@g").collect();
    let _ = writeln!(
        s,
        "func @main() -> i64 {{\nblock0:\n    fuel 1000\n    v0 = call @f({})\n    ret v0\n}}",
        refs_args.join(", ")
    );
    s
}

/// The deepest chain of a `stress` module, by the model: the stack limit at
/// which it passes exactly.
fn stress_chain(m: &tal_ir::Module) -> u64 {
    // `@f` calls `@h` once per slot: with none, `@h` is on no chain.
    let f = m.funcs.iter().find(|f| f.name == "f").expect("stress has @f");
    let calls_h = !f.slots.is_empty();
    let callees = [model(m, "sink"), model(m, "v"), if calls_h { model(m, "h") } else { 0 }];
    model(m, "main") + model(m, "f") + callees.into_iter().max().unwrap()
}

/// Lowers a `stress` module (every frame fits its model: `lower` checks)
/// and checks that the verifier's frames are the model's: the module is
/// within a stack limit of its chain, not of 1 byte less.
fn check_stress(shape: &Shape, limit: u64) -> tal_ir::Module {
    let (m, _) = lower(&stress(shape), limit);
    let chain = stress_chain(&m);
    assert!(within_limit(&m, chain), "the verifier's frames are the model's");
    assert!(!within_limit(&m, chain - 1));
    m
}

/// Wide calls in a frame with many block values, reference parameters and
/// slots passed by reference, the first slot sized so that the chain is
/// within 8 bytes of the default stack limit: the verifier accepts it and it
/// lowers.
#[test]
fn wide_calls_in_a_frame_at_the_stack_limit_lower() {
    let limit = verifier::Config::default().stack_limit;
    let every_fourth_a_ref: Vec<Kind> = (0..60)
        .map(|i| if i % 4 == 0 { Kind::Ref } else { Kind::Value })
        .collect();
    let shapes = [
        (0, 1, 40, vec![Kind::Value; 100]),
        (4, 3, 30, every_fourth_a_ref),
        (12, 1, 60, [vec![Kind::Ref; 10], vec![Kind::Value; 30]].concat()),
        (30, 2, 10, vec![Kind::Ref; 40]),
        (2, 20, 20, vec![Kind::Ref; 30]),
    ];
    for (refs, slots, values, kinds) in shapes {
        let mut shape = Shape {
            refs,
            slots: vec![1; slots],
            values,
            kinds,
        };
        let small = stress_chain(&tal_ir::text::parse(&stress(&shape)).unwrap().0);
        assert!(small < limit, "{shape:?}: {small} bytes");
        shape.slots[0] += u32::try_from((limit - small) / 8).unwrap();
        let chain = stress_chain(&check_stress(&shape, limit));
        assert!(chain <= limit && limit - chain < 8, "{shape:?}: {chain} bytes");
    }
}

/// `@f` with `refs` reference parameters and no values: it calls `@v`, then
/// passes each reference on, one call each.
fn references_kept(refs: usize) -> String {
    let mut s = String::from("module references_kept\nglobal @g: [i64; 4] = zero\n");
    s.push_str("func @h(%0: ref [i64]) {\nblock0:\n    fuel 10\n    ret\n}\n");
    s.push_str("func @v() {\nblock0:\n    fuel 10\n    ret\n}\n");
    let params: Vec<String> = (0..refs).map(|i| format!("%{i}: ref [i64]")).collect();
    let _ = writeln!(
        s,
        "func @f({}) {{\nblock0:\n    fuel 1000\n    call @v()",
        params.join(", ")
    );
    for i in 0..refs {
        let _ = writeln!(s, "    call @h(%{i})");
    }
    s.push_str("    ret\n}\n");
    s
}

/// Reference parameters are live in every block, so kept across a call they
/// are spilled whatever the block's own values (here none): the model
/// charges two words each.
#[test]
fn reference_parameters_kept_across_calls_lower() {
    for refs in [1, 3, 8, 30, 100] {
        let (m, real) = lower(&references_kept(refs), u64::MAX);
        let f = m.funcs.iter().position(|f| f.name == "f").unwrap();
        // They really are spilled: all words kept across `call @v()` (the
        // context and two per reference) but the five in callee-saved
        // registers.
        let spilled = (2 * refs as u64 + 1).saturating_sub(5);
        assert!(real[f] >= 16 + 8 * spilled, "{refs} references: {} bytes", real[f]);
    }
}

/// A slot passed by reference in two blocks has its address computed once
/// and kept in between, across calls: the model charges a word per slot.
#[test]
fn slots_passed_by_reference_from_two_blocks_lower() {
    for slots in [1, 5, 20, 60] {
        let shape = Shape {
            refs: 0,
            slots: vec![2; slots],
            values: 0,
            kinds: vec![],
        };
        let (m, real) = lower(&stress(&shape), u64::MAX);
        let f = m.funcs.iter().position(|f| f.name == "f").unwrap();
        // Slots, and their addresses but five kept across the calls.
        let spilled = (slots as u64).saturating_sub(5);
        assert!(
            real[f] >= 16 + 16 * slots as u64 + 8 * spilled,
            "{slots} slots: {} bytes",
            real[f]
        );
    }
}

fn shapes() -> impl Strategy<Value = Shape> {
    let kinds = prop::collection::vec(prop_oneof![3 => Just(Kind::Value), 1 => Just(Kind::Ref)], 0..120);
    let slots = prop::collection::vec(prop_oneof![1 => 1u32..600, 3 => 1u32..4], 0..24);
    (0usize..40, slots, 0usize..150, kinds).prop_map(|(refs, slots, values, kinds)| Shape {
        refs,
        slots,
        values,
        kinds,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Random mixes of every term the model charges.
    #[test]
    fn generated_stress_modules_lower(shape in shapes()) {
        check_stress(&shape, u64::MAX);
    }
}

/// Generated Popcorn-SX programs with wide signatures (up to 16 parameters,
/// arrays among them, so calls of up to 32 words), not inlined: whatever
/// verifies lowers.
#[test]
fn generated_programs_with_wide_calls_lower() {
    let config = popgen::GenConfig {
        max_params: 16,
        ..popgen::GenConfig::default()
    };
    let options = popcorn_front::Options {
        inline: false,
        ..popcorn_front::Options::default()
    };
    let (mut widest, mut verified) = (0, 0);
    for seed in 0..150 {
        let program = popgen::sample(seed, config.clone());
        let module = popcorn_front::compile(&program.source, &options)
            .module
            .unwrap_or_else(|| panic!("seed {seed} does not compile:\n{}", program.source));
        if verifier::verify(&module, &verifier::Config::default()).is_err() {
            continue;
        }
        verified += 1;
        codegen::lower::lower_module(&module, codegen::Options::default())
            .unwrap_or_else(|e| panic!("seed {seed}: a verified module does not lower: {e}"));
        for f in &module.funcs {
            for inst in f.blocks.iter().flat_map(|b| &b.insts) {
                if let tal_ir::InstKind::Call { args, .. } = &inst.kind {
                    widest = widest.max(tal_ir::layout::call_words(args));
                }
            }
        }
    }
    assert!(verified >= 100, "{verified} of 150 programs verify");
    assert!(
        widest > tal_ir::layout::REGISTER_ARG_WORDS + 8,
        "widest call: {widest} words"
    );
}
