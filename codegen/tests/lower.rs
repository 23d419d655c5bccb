//! Lowering every accepted program: deterministic, and frames within the
//! verifier's stack model.

#![forbid(unsafe_code)]

use std::path::Path;

fn accepted_programs() -> Vec<(String, tal_ir::Module)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut out = Vec::new();
    for dir in ["examples/pop", "popcorn-front/tests/ui", "stdlib/pop"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "pop")) {
            let text = std::fs::read_to_string(&path).unwrap();
            let options = popcorn_front::Options {
                file_name: String::new(),
                stdlib: dir == "stdlib/pop" || text.starts_with("// flags: --stdlib"),
                inline: true,
            };
            if let Some(m) = popcorn_front::compile(&text, &options).module {
                verifier::verify(&m, &verifier::Config::default()).unwrap();
                out.push((path.display().to_string(), m));
            }
        }
    }
    assert!(out.len() >= 40, "{} accepted programs", out.len());
    out
}

#[test]
fn every_accepted_program_lowers_deterministically() {
    for (name, module) in accepted_programs() {
        let first = codegen::lower::lower_module(&module, codegen::Options::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let again = codegen::lower::lower_module(&module, codegen::Options::default()).unwrap();
        assert_eq!(first, again, "{name}: lowering is not deterministic");
        for (f, code) in module.funcs.iter().zip(&first) {
            assert_eq!(
                &code.code[..4],
                &[0xf3, 0x0f, 0x1e, 0xfa],
                "{name}: {} starts with endbr64",
                f.name
            );
            for r in &code.relocs {
                assert!((r.callee as usize) < module.funcs.len() && (r.offset as usize) + 4 <= code.code.len());
            }
        }
    }
}

#[test]
fn generated_programs_lower() {
    for seed in 0..200 {
        let program = popgen::sample(seed, popgen::GenConfig::default());
        let module = popcorn_front::compile(&program.source, &popcorn_front::Options::default())
            .module
            .expect("accepted");
        codegen::lower::lower_module(&module, codegen::Options::default())
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}

#[test]
fn cranelifts_ir_verifier_changes_no_byte() {
    // Release builds lower without it (`VERIFY_CLIF`), tests with it.
    let generated = (0..300).map(|seed| {
        let program = popgen::sample(seed, popgen::GenConfig::default());
        let module = popcorn_front::compile(&program.source, &popcorn_front::Options::default())
            .module
            .expect("accepted");
        (format!("seed {seed}"), module)
    });
    for (name, module) in accepted_programs().into_iter().chain(generated) {
        for options in [codegen::Options::default(), codegen::Options { no_fuel: true }] {
            let on =
                codegen::lower::lower_module_with(&module, options, true).unwrap_or_else(|e| panic!("{name}: {e}"));
            let off = codegen::lower::lower_module_with(&module, options, false).unwrap();
            assert_eq!(on, off, "{name}: the verifier changed the code");
        }
    }
}

fn object_of(name: &str) -> (tal_ir::Module, Vec<u8>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let text = std::fs::read_to_string(root.join(name)).unwrap();
    let module = popcorn_front::compile(&text, &popcorn_front::Options::default())
        .module
        .unwrap();
    let funcs = codegen::lower::lower_module(&module, codegen::Options::default()).unwrap();
    let object = codegen::object::write_object(&module, &funcs, codegen::Options::default());
    (module, object)
}

#[test]
fn an_object_relowers_to_itself() {
    for name in [
        "examples/pop/cpu_pid.pop",
        "examples/pop/cpu_avg.pop",
        "examples/pop/robust_pid.pop",
    ] {
        let (_, object) = object_of(name);
        let parts = codegen::object::read_object(&object).unwrap();
        codegen::check::relowering_matches(&object, &parts).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn a_byte_flipped_anywhere_in_an_object_is_detected() {
    // Every byte of the file: each flip is refused by the reader (hashes,
    // decoding, ELF checks), by the verifier, or by re-lowering.
    let (_, object) = object_of("examples/pop/cpu_pid.pop");
    for at in 0..object.len() {
        let mut bad = object.clone();
        bad[at] ^= 0x01;
        let detected = match codegen::object::read_object(&bad) {
            Err(_) => true,
            Ok(parts) => {
                verifier::verify(&parts.module, &verifier::Config::default()).is_err()
                    || codegen::check::relowering_matches(&bad, &parts).is_err()
            }
        };
        assert!(detected, "a flip at byte {at:#x} of {} went unnoticed", object.len());
    }
}

/// The verifier bounds the stack with a frame model (`tal_ir::layout::frame_size`);
/// the frames Cranelift really lays out (plus return address and frame
/// pointer) must fit inside it, or the static stack bound would be a lie.
#[test]
fn real_frames_fit_the_verifier_model() {
    let generated = (0..200).map(|seed| {
        let source = popgen::sample(seed, popgen::GenConfig::default()).source;
        (
            format!("seed {seed}"),
            popcorn_front::compile(&source, &popcorn_front::Options::default())
                .module
                .unwrap(),
        )
    });
    for (name, m) in accepted_programs().into_iter().chain(generated) {
        let compiled = codegen::lower::lower_module(&m, codegen::Options::default()).unwrap();
        for (f, code) in m.funcs.iter().zip(&compiled) {
            // Lowering refuses a frame beyond the model (C0005); check anyway.
            let model = tal_ir::layout::frame_model(&tal_ir::layout::Layout::new(&m), f).unwrap();
            let real = u64::from(code.frame_size) + 16;
            assert!(real <= model, "{name} `{}`: frame {real} bytes, model {model}", f.name);
        }
    }
}

/// The mnemonics of a function's code, in order.
fn mnemonics(code: &[u8]) -> Vec<String> {
    use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
    let mut formatter = IntelFormatter::new();
    Decoder::with_ip(64, code, 0, DecoderOptions::NONE)
        .into_iter()
        .map(|inst| {
            let mut text = String::new();
            formatter.format_mnemonic(&inst, &mut text);
            text
        })
        .collect()
}

#[test]
fn branches_that_only_choose_values_become_conditional_moves() {
    // Semantics of the same shapes: runtime/tests/execute.rs.
    let source = "extension choices;\nimport cpu;\n\
        int clamp(int x, int lo, int hi) { if (x < lo) return lo; if (x > hi) return hi; return x; }\n\
        int clamp_mirrored(int x, int lo, int hi) { if (x <= hi) { if (x < lo) return lo; return x; } return hi; }\n\
        int max_assigned(int a, int b) { int m = b; if (a > b) { m = a; } return m; }\n\
        bool inside(int x) { if (x < 0) return false; return x < 10; }\n\
        int guarded_divide(int x) { if (x == 0) return 0; return 100 / x; }\n\
        int total = 0;\n\
        monitor void sum_clamped(cap<cpu_qos> app) { int s = 0; for (int i = 0; i < 10; i++) { s = s + clamp(i, 2, 5); } total = s; }\n";
    let options = popcorn_front::Options {
        inline: false,
        ..popcorn_front::Options::default()
    };
    let module = popcorn_front::compile(source, &options).module.expect("compiles");
    verifier::verify(&module, &verifier::Config::default()).unwrap();
    let funcs = codegen::lower::lower_module(&module, codegen::Options::default()).unwrap();
    let code = |name: &str| mnemonics(&funcs[module.func_by_name(name).unwrap().index()].code);
    let conditional_jumps = |m: &[String]| m.iter().filter(|m| m.starts_with('j') && *m != "jmp").count();
    for name in ["clamp", "clamp_mirrored", "max_assigned", "inside"] {
        let m = code(name);
        assert_eq!(conditional_jumps(&m), 0, "{name} branches: {m:?}");
        assert!(m.iter().any(|m| m.starts_with("cmov")), "{name}: {m:?}");
    }
    // Only the loop's test and its fuel and overflow checks branch.
    let options = popcorn_front::Options {
        inline: true,
        ..options
    };
    let with_inlining = popcorn_front::compile(source, &options).module.expect("compiles");
    let inlined = codegen::lower::lower_module(&with_inlining, codegen::Options::default()).unwrap();
    let f = with_inlining.func_by_name("sum_clamped").unwrap().index();
    let m = mnemonics(&inlined[f].code);
    assert!(
        m.iter().filter(|m| m.starts_with("cmov")).count() >= 2,
        "sum_clamped: {m:?}"
    );
    // A division cannot be computed on the path that skips it.
    let m = code("guarded_divide");
    assert!(
        m.iter().any(|m| m == "idiv") && conditional_jumps(&m) >= 2,
        "guarded_divide: {m:?}"
    );
}

/// `source_map` lowers to the same code as `lower_module`, and its
/// stretches are in order, inside the code, and name items the function has.
#[test]
fn the_source_map_is_of_the_same_code_and_names_real_items() {
    for (name, module) in accepted_programs() {
        let lowered = codegen::lower::lower_module(&module, codegen::Options::default()).unwrap();
        let mapped = codegen::lower::source_map(&module, codegen::Options::default()).unwrap();
        assert_eq!(lowered.len(), mapped.len());
        for ((plain, (with_map, spans)), func) in lowered.iter().zip(&mapped).zip(&module.funcs) {
            assert_eq!(
                plain, with_map,
                "{name}: `{}` lowers to other code with its map",
                func.name
            );
            let items: usize = func.blocks.iter().map(|b| b.insts.len() + 1).sum();
            assert!(!spans.is_empty(), "{name}: `{}` has no stretch", func.name);
            let mut end = 0;
            for s in spans {
                assert!(end <= s.start && s.start < s.end, "{name}: `{}`: {spans:?}", func.name);
                assert!(s.end as usize <= plain.code.len() && (s.item as usize) < items);
                end = s.end;
            }
        }
    }
}
