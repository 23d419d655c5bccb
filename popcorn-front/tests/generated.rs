//! Every program the front-end accepts lowers to TAL the verifier accepts,
//! over the examples and over generated well-typed programs (which the
//! front-end must also accept: rejecting a valid program is a bug too).

use proptest::prelude::*;

fn accepts_and_verifies(source: &str) -> Result<(), String> {
    let compiled = popcorn_front::compile(source, &popcorn_front::Options::default());
    let errors: Vec<String> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} at {}..{}: {}", d.code, d.span.lo, d.span.hi, d.message))
        .collect();
    let Some(module) = compiled.module else {
        return Err(format!(
            "the front-end rejects a well-typed program:\n{}",
            errors.join("\n")
        ));
    };
    verifier::verify(&module, &verifier::Config::default())
        .map_err(|e| format!("the front-end's TAL is rejected by the verifier: {e:?}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn generated_programs_compile_and_verify(program in popgen::program(popgen::GenConfig::default())) {
        if let Err(why) = accepts_and_verifies(&program.source) {
            prop_assert!(false, "{why}\n{}", program.source);
        }
    }
}

#[test]
fn a_large_generated_extension_compiles_and_verifies() {
    let source = popgen::large_extension(2_000, 7);
    accepts_and_verifies(&source).unwrap();
}

#[test]
fn a_long_straight_line_function_verifies() {
    // Every value of a block counts toward the verifier's frame model, so a
    // long run of statements must be split into blocks, with the locals
    // flowing across as block parameters.
    let mut body = String::from("    int a = 1;\n    int b = 2;\n");
    for i in 0..5_000 {
        body.push_str(if i % 2 == 0 {
            "    a = a + b % 7;\n"
        } else {
            "    b = b + a % 5;\n"
        });
    }
    let source = format!(
        "extension long;\nimport cpu;\nint out = 0;\nmonitor void m(cap<cpu_qos> app) {{\n{body}    out = a + b;\n}}\n"
    );
    accepts_and_verifies(&source).unwrap();
}
