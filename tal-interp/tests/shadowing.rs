//! A local variable that shadows a constant is the variable wherever it is
//! used: in a loop's condition (a constant `true` there once made the loop
//! unconditional), in a `switch`'s case label (not a constant there), and
//! in `set_attribute`'s range check (not folded from the constant).

mod common;

use common::*;

#[test]
fn a_loop_on_a_local_that_shadows_a_constant_tests_the_local() {
    let mut instance = load_pop(
        "extension e;\nimport cpu;\nconst bool RUN = true;\nint n = 0;\n\
         monitor void m(cap<cpu_qos> app) {\n    bool RUN = false;\n    while (RUN) { n = n + 1; }\n    n = 5;\n}\n",
    );
    run(&mut instance, &mut MockHost::default(), "m", &[0]).expect("ends: the loop runs no time");
    assert_eq!(global(&instance, "n"), 5);
}

#[test]
fn a_local_that_shadows_a_constant_is_no_case_label() {
    let source = "extension e;\nimport cpu;\nconst int K = 1;\nint n = 0;\n\
                  monitor void m(cap<cpu_qos> app) {\n    int K = 2;\n    switch (n) { case K: n = 1; break; default: n = 2; }\n}\n";
    let compiled = popcorn_front::compile(source, &popcorn_front::Options::default());
    assert!(compiled.module.is_none());
    assert!(
        compiled
            .diagnostics
            .iter()
            .any(|d| d.code == "P0211" && d.message.contains("`K` is not a constant")),
        "{:#?}",
        compiled.diagnostics
    );
}

#[test]
fn a_set_attribute_of_a_local_that_shadows_a_constant_is_checked_at_run_time() {
    // `timeslice_adjustment` must be within its range; the constant is out
    // of it, the local that shadows it in.
    let mut instance = load_pop(
        "extension e;\nimport cpu;\nconst int U = 1000000000000;\n\
         monitor void m(cap<cpu_qos> app) {\n    int U = 7;\n    set_attribute(app, \"timeslice_adjustment\", U);\n}\n",
    );
    run(&mut instance, &mut MockHost::default(), "m", &[0]).expect("runs");
}
