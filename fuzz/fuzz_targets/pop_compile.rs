//! Popcorn-SX front-end: arbitrary bytes, or arbitrary streams of the
//! language's tokens, never panic; and whatever the front-end accepts, with
//! inlining or without, the verifier accepts too (lowering is untrusted, but
//! must not be wrong), and code generation lowers (it trusts verified input
//! and must not fail on any).
#![no_main]
use libfuzzer_sys::fuzz_target;

/// Tokens of the language, for inputs that get past the lexer.
const TOKENS: &[&str] = &[
    "extension", "import", "cpu", "const", "int", "bool", "void", "struct", "cap", "<", ">", "cpu_qos", "attribute",
    "class", "readonly", "range", "event", "monitor", "handler", "guard", "on", "for", "if", "else", "while", "do",
    "break", "continue", "return", "try", "handle", "raise", "true", "false", "extern", "goto", "asm", "{", "}", "(",
    ")", "[", "]", ";", ",", ".", ":", "=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "|=", "^=", "++", "--",
    "+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "~", "!", "&&", "||", "==", "!=", "<=", ">=", "->", "0", "1",
    "7", "1000000", "0x10", "9223372036854775807", "x", "y", "a", "app", "f", "g", "s", "size", "get_attribute",
    "set_attribute", "raise_event", "now_us", "block", "\"actual_cpu\"", "\"timeslice_adjustment\"", "\"Error\"",
    "DivideByZero", "Overflow", "OutOfBounds", "RangeError", "OutOfFuel", "budget", "e_prev", "spin_lock",
];

fuzz_target!(|data: &[u8]| {
    let source = match data.split_first() {
        Some((0, rest)) => rest.iter().map(|&b| TOKENS[usize::from(b) % TOKENS.len()]).collect::<Vec<_>>().join(" "),
        _ => String::from_utf8_lossy(data).into_owned(),
    };
    // With and without inlining: the same verdict, and what is accepted
    // verifies.
    let mut accepted = [false; 2];
    for (inline, ok) in [false, true].into_iter().zip(&mut accepted) {
        let options = popcorn_front::Options {
            inline,
            ..popcorn_front::Options::default()
        };
        if let Some(module) = popcorn_front::compile(&source, &options).module {
            *ok = true;
            if let Err(errors) = verifier::verify(&module, &verifier::Config::default()) {
                panic!("accepted by the front-end (inline {inline}), rejected by the verifier: {errors:?}\n{source}");
            }
            if let Err(e) = codegen::lower::lower_module(&module, codegen::Options::default()) {
                panic!("verified (inline {inline}), not lowered: {e}\n{source}");
            }
        }
    }
    assert_eq!(accepted[0], accepted[1], "inlining changed the verdict\n{source}");
});
