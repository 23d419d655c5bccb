//! The loader refuses what must not run.

#![forbid(unsafe_code)]

fn object(source: &str, options: codegen::Options) -> Vec<u8> {
    let module = popcorn_front::compile(source, &popcorn_front::Options::default())
        .module
        .expect("compiles");
    codegen::object::compile(&module, options).unwrap()
}

const PID: &str = include_str!("../../examples/pop/cpu_pid.pop");

#[test]
#[cfg_attr(miri, ignore = "maps code")]
fn a_verified_object_loads() {
    let loaded = runtime::load::load(&object(PID, codegen::Options::default()), &verifier::Config::default()).unwrap();
    assert_eq!(loaded.parts.module.name, "cpu_pid");
}

#[test]
fn a_no_fuel_object_is_refused() {
    let bytes = object(PID, codegen::Options { no_fuel: true });
    let err = runtime::load::load(&bytes, &verifier::Config::default())
        .err()
        .expect("refused");
    assert_eq!(err.code, "L0020");
}

#[test]
fn an_object_whose_tal_fails_the_verifier_is_refused() {
    // Stack limit of 64 bytes: the PID handler's frame alone exceeds it.
    let config = verifier::Config {
        stack_limit: 64,
        ..verifier::Config::default()
    };
    let err = runtime::load::load(&object(PID, codegen::Options::default()), &config)
        .err()
        .expect("refused");
    assert_eq!(err.code, "V0502");
}

#[test]
fn garbage_is_refused_with_a_code() {
    for bytes in [&b""[..], b"\x7fELF", b"not an object at all"] {
        let err = runtime::load::load(bytes, &verifier::Config::default())
            .err()
            .expect("refused");
        assert!(err.code.starts_with('C'), "{err}");
    }
}

#[test]
fn every_error_is_reported_not_only_the_first() {
    // Built without fuel checks, and checked against a stack limit both
    // entry points exceed: three errors, from two checks.
    let bytes = object(PID, codegen::Options { no_fuel: true });
    let config = verifier::Config {
        stack_limit: 64,
        ..verifier::Config::default()
    };
    let refused = runtime::load::check(&bytes, &config).expect_err("refused");
    let codes: Vec<&str> = refused.errors().map(|e| e.code).collect();
    assert_eq!(codes, ["L0020", "V0502", "V0502"]);
    assert!(refused.errors().skip(1).all(|e| e.location.is_some()));
    assert!(refused.parts.is_some(), "the object read back");
    // A host reports the first and names the others.
    let first = refused.into_first();
    assert_eq!(first.code, "L0020");
    assert!(
        first.message.ends_with("(and 2 more: V0502, V0502)"),
        "{}",
        first.message
    );
}
