//! Verifier errors in TAL produced from source point back at source lines.

use tal_ir::InstKind;

const PID: &str = include_str!("../../examples/pop/cpu_pid.pop");

fn compile(source: &str) -> tal_ir::Module {
    let compiled = popcorn_front::compile(source, &popcorn_front::Options::default());
    compiled.module.unwrap_or_else(|| panic!("{:#?}", compiled.diagnostics))
}

/// The source text a verifier error on `module` points at.
fn reported_text<'s>(module: &tal_ir::Module, source: &'s str) -> (&'static str, &'s str) {
    let errors = verifier::verify(module, &verifier::Config::default()).expect_err("the corrupted module is rejected");
    let span = popcorn_front::source_span(module, errors[0].location).expect("the error has a source span");
    (errors[0].code, &source[span.lo as usize..span.hi as usize])
}

#[test]
fn every_instruction_of_user_code_has_a_span_inside_the_source() {
    let module = compile(PID);
    for f in &module.funcs {
        for b in &f.blocks {
            for inst in &b.insts {
                match inst.kind {
                    InstKind::Fuel(_) | InstKind::Init(_) => assert_eq!(inst.span, None),
                    _ => {
                        let span = inst.span.expect("user instructions carry spans");
                        assert!(span.lo < span.hi && span.hi as usize <= PID.len(), "{span:?}");
                    }
                }
            }
            assert!(b.term_span.is_some());
        }
    }
}

#[test]
fn a_skipped_range_check_is_reported_on_the_set_attribute_call() {
    let mut module = compile(PID);
    // Replace `check.range` by a plain constant: the write is no longer proven in range.
    let handler = module.funcs.iter_mut().find(|f| f.name == "cpu_pid").unwrap();
    let inst = handler
        .blocks
        .iter_mut()
        .flat_map(|b| b.insts.iter_mut())
        .find(|i| matches!(i.kind, InstKind::CheckRange { .. }))
        .unwrap();
    inst.kind = InstKind::Iconst(5);
    let (code, text) = reported_text(&module, PID);
    assert_eq!(code, "V0306");
    assert_eq!(text, r#"set_attribute(app, "timeslice_adjustment", u)"#);
}

#[test]
fn a_skipped_zero_check_is_reported_on_the_division() {
    let mut module = compile(PID);
    let handler = module.funcs.iter_mut().find(|f| f.name == "cpu_pid").unwrap();
    let inst = handler.blocks[0]
        .insts
        .iter_mut()
        .find(|i| matches!(i.kind, InstKind::CheckNonZero(_)))
        .unwrap();
    inst.kind = InstKind::Iconst(1000);
    let (code, text) = reported_text(&module, PID);
    assert_eq!(code, "V0302");
    assert_eq!(text, "((KP + KD + KI) * e - KD * e_prev) / 1000");
}
