//! Inlining into a guard applies the callee's own rules to the callee's
//! code: a plain function that stores a capability it loaded and passes
//! one on compiles the same, called or inlined (inlining once reported the
//! guard's rules against it, a debug assertion's panic).

#[test]
fn a_guard_s_plain_callee_that_stores_capabilities_inlines() {
    let source = include_str!("ui/accept_guard_calls_plain_storing_caps.pop");
    for inline in [false, true] {
        let options = popcorn_front::Options {
            stdlib: true,
            inline,
            ..popcorn_front::Options::default()
        };
        let compiled = popcorn_front::compile(source, &options);
        assert!(compiled.module.is_some(), "inline {inline}: {:?}", compiled.diagnostics);
    }
}
