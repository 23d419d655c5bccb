//! The standard system as data: the classes hosts create from
//! `stdlib::classes` are exactly what the standard library's source
//! declares, so that an extension compiled with `import cpu;` loads.

#![forbid(unsafe_code)]

#[test]
fn the_standard_classes_are_what_import_cpu_declares() {
    let compiled = popcorn_front::compile("extension classes;\nimport cpu;\n", &popcorn_front::Options::default());
    let module = compiled.module.expect("the standard library compiles");
    assert_eq!(module.classes, runtime::system::classes());
}

#[test]
fn the_standard_guards_load_through_every_check() {
    for (name, object) in runtime::system::GUARDS {
        runtime::load::load(object, &verifier::Config::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
