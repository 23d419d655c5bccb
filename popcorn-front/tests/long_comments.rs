//! Long runs of comments and blank space lex in constant stack: logos's
//! generated lexer once recursed once per skipped comment, and some
//! thousands of comment lines overflowed a thread's stack in a debug
//! build.

#[test]
fn thousands_of_comment_lines_compile() {
    for comment in [
        "// a line comment\n",
        "/* a block comment */\n",
        "\n\n",
        "// x\n/* y */\n",
    ] {
        let mut source = String::from("extension e;\nimport cpu;\nint n = 0;\n");
        for _ in 0..20_000 {
            source.push_str(comment);
        }
        source.push_str("monitor void m(cap<cpu_qos> app) { n = n + 1; }\n");
        // A thread with a small stack, as a test harness's or an editor's.
        let compiled = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                popcorn_front::compile(&source, &popcorn_front::Options::default())
                    .module
                    .is_some()
            })
            .expect("a thread")
            .join();
        assert_eq!(compiled.ok(), Some(true), "{comment:?}");
    }
}
