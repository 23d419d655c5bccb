//! Every parse error code, with its span on the offending token; and the
//! parser never panics, whatever it is given.

use proptest::prelude::*;
use tal_ir::text::{parse, print};
use tal_ir::*;

const HEADER: &str = "module m\nclass c {\n    a: i64 range(0, 9)\n}\nevent E\nstruct s { t: i64 }\n\
                      global @g: i64 = 0\nglobal @arr: [struct s; 4] = zero\n";

/// Parses `HEADER` followed by `body`, which must fail with `code` at the
/// last occurrence of `token`.
fn rejects(body: &str, code: &str, token: &str) {
    rejects_text(&format!("{HEADER}{body}"), code, token);
}

fn rejects_text(text: &str, code: &str, token: &str) {
    let errors = match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(errors) => errors,
    };
    let error = &errors[0];
    assert_eq!(error.code, code, "{error}\n{text}");
    let start = text.rfind(token).expect("token in text");
    assert_eq!(
        error.span,
        start..start + token.len(),
        "{error}: span is `{}`\n{text}",
        &text[error.span.clone()]
    );
}

/// A function around one block's instructions.
fn func(insts: &str) -> String {
    format!("func @f(i64, %1: ref struct s) {{\n    slot $0: struct s\nblock0(v0: i64):\n{insts}\n    ret\n}}\n")
}

#[test]
fn v0001_syntax() {
    rejects("global @h: i64 = = 0", "V0001", "=");
    rejects(&func("    v1 = iadd v0 v0"), "V0001", "v0");
    rejects("extern x\nclass d {}", "V0001", "class");
    rejects(&func("    v1 = fuel 3"), "V0001", "fuel");
    rejects(&func("    iadd v0, v0"), "V0001", "iadd");
    rejects("func @h(cap<c, wr>) {\n}", "V0001", "wr");
    rejects("func @h() -> i64 on E {\n}", "V0001", "on");
    rejects(&func("    asm \"unterminated"), "V0001", "\"");
    let text = format!("{HEADER}func @h(");
    let error = &parse(&text).unwrap_err()[0];
    assert_eq!((error.code, error.span.clone()), ("V0001", text.len()..text.len()));
    assert!(error.message.contains("end of the input"), "{error}");
}

#[test]
fn v0002_unknown_instruction() {
    rejects(&func("    v1 = frobnicate v0"), "V0002", "frobnicate");
    rejects(&func("    v1 = check.positive v0"), "V0002", "check.positive");
}

#[test]
fn v0003_unknown_name() {
    rejects(&func("    v1 = load @nope"), "V0003", "@nope");
    rejects(&func("    v1 = load $0.u"), "V0003", "u");
    rejects(&func("    v1 = load %1.t.u"), "V0003", "u");
    rejects(&func("    v1 = load @g.zz"), "V0003", "zz");
    rejects(&func("    v1 = check.range v0, #c.b"), "V0003", "#c.b");
    rejects(&func("    v1 = event F"), "V0003", "F");
    rejects(&func("    helper frob(v0, #c.a)"), "V0003", "frob");
    rejects(&func("    v1 = iconst 1 !catch(Oops -> block0)"), "V0003", "Oops");
    rejects_text("module m\nstruct t { x: struct nope }\nstruct u {}", "V0003", "nope");
    rejects("func @h(cap<d, r>) {\n}", "V0003", "d");
    rejects("handler @h() on F {\n}", "V0003", "F");
}

#[test]
fn v0004_value_numbering() {
    rejects("func @h() {\nblock0(v1: i64):\n    ret\n}", "V0004", "v1");
    rejects(&func("    v2 = iconst 1"), "V0004", "v2");
}

#[test]
fn v0005_block_numbering() {
    rejects("func @h() {\nblock1:\n    ret\n}", "V0005", "block1");
    rejects("func @h() {\nblock0:\n    ret\nblock0:\n    ret\n}", "V0005", "block0");
}

#[test]
fn v0006_duplicate_name() {
    rejects_text("module m\nevent E\nevent E", "V0006", "E");
    rejects("global @g: bool = false", "V0006", "@g");
    rejects_text("module m\nstruct t { x: i64, x: bool }", "V0006", "x");
    rejects("extern f\nfunc @f() {\n}", "V0006", "@f");
    rejects(&func("    helper f()"), "V0006", "f");
}

#[test]
fn v0007_integer_out_of_range() {
    rejects(
        &func("    v1 = iconst 9223372036854775808"),
        "V0007",
        "9223372036854775808",
    );
    rejects(&func("    fuel -1"), "V0007", "-1");
    rejects(
        &func("    v1 = iconst 0x10000000000000000"),
        "V0007",
        "0x10000000000000000",
    );
    rejects(&func("    init $4294967296"), "V0007", "$4294967296");
    rejects(&func("    v4294967296 = iconst 1"), "V0007", "v4294967296");
    rejects(&func("    helper 65536()"), "V0007", "65536");
    let text = "module m\nbudget 18446744073709551616";
    let error = &parse(text).unwrap_err()[0];
    assert_eq!(
        (error.code, &text[error.span.clone()]),
        ("V0007", "18446744073709551616")
    );
}

#[test]
fn v0008_slot_numbering() {
    rejects("func @h() {\n    slot $1: i64\n}", "V0008", "$1");
    rejects("func @h(i64, %0: ref i64) {\n}", "V0008", "%0");
}

#[test]
fn v0701_pointer_forging() {
    for mnemonic in ["inttoptr", "ptrtoint", "bitcast", "cast", "addr"] {
        rejects(&func(&format!("    v1 = {mnemonic} v0")), "V0701", mnemonic);
    }
    let text = format!("{HEADER}{}", func("    inttoptr v0"));
    let error = &parse(&text).unwrap_err()[0];
    assert!(error.message.starts_with("pointer forging"), "{error}");
    assert!(error.message.contains("`inttoptr`"), "{error}");
}

/// Modules that are not name-consistent still print, and what they print is
/// rejected rather than read as a different module.
#[test]
fn corrupt_modules_print_text_that_does_not_parse() {
    let (good, _) = parse(&format!(
        "{HEADER}{}",
        func("    v1 = load $0.t\n    v2 = call @f(v1, $0)")
    ))
    .unwrap();
    type Corruption = (&'static str, fn(&mut Module));
    let corruptions: Vec<Corruption> = vec![
        ("dangling class", |m| {
            m.funcs[0].params[0] = ParamType::Value(Type::Cap {
                class: ClassId(7),
                rights: Rights::READ,
                nullable: false,
            })
        }),
        ("dangling attr", |m| {
            m.funcs[0].kind = FuncKind::Guard {
                attr: AttrRef {
                    class: ClassId(0),
                    attr: 5,
                },
            }
        }),
        ("dangling event", |m| {
            m.funcs[0].kind = FuncKind::Handler { event: EventId(3) }
        }),
        ("dangling struct", |m| {
            m.globals[0].ty = ObjType::Elem(ElemType::Struct(StructId(9)))
        }),
        ("dangling global", |m| {
            m.funcs[0].params[0] = ParamType::Value(Type::Index(Root::Global(GlobalId(9))))
        }),
        ("dangling field", |m| {
            if let InstKind::Load(place) = &mut m.funcs[0].blocks[0].insts[0].kind {
                place.fields[0] = 4;
            }
        }),
        ("field of a scalar", |m| {
            if let InstKind::Load(place) = &mut m.funcs[0].blocks[0].insts[0].kind {
                place.fields.push(0);
            }
        }),
        ("dangling function", |m| {
            if let InstKind::Call { callee, .. } = &mut m.funcs[0].blocks[0].insts[1].kind {
                *callee = Callee::Func(FuncId(9));
            }
        }),
        ("dangling extern", |m| {
            if let InstKind::Call { callee, .. } = &mut m.funcs[0].blocks[0].insts[1].kind {
                *callee = Callee::Extern(ExternId(0));
            }
        }),
        ("name with a space", |m| m.funcs[0].name = "f g".into()),
        ("injected item", |m| m.globals[0].name = "h: i64 = 0\nglobal @x".into()),
        ("empty name", |m| m.events[0] = String::new()),
        ("duplicate name", |m| m.events.push("E".into())),
        ("extern named like a function", |m| m.externs.push("f".into())),
    ];
    for (what, corrupt) in corruptions {
        let mut module = good.clone();
        corrupt(&mut module);
        let text = print(&module);
        assert!(parse(&text).is_err(), "{what}: printed text parses:\n{text}");
    }
}

/// Words and punctuation of TAL, for token soup.
const VOCABULARY: &[&str] = &[
    "module",
    "m",
    "source",
    "\"s\"",
    "budget",
    "class",
    "c",
    "{",
    "}",
    "a",
    ":",
    "i64",
    "bool",
    "readonly",
    "range",
    "(",
    ")",
    ",",
    "event",
    "E",
    "struct",
    "s",
    "global",
    "@g",
    "=",
    "zero",
    "true",
    "[",
    "]",
    ";",
    "extern",
    "x",
    "func",
    "monitor",
    "handler",
    "guard",
    "@f",
    "on",
    "for",
    ".",
    "->",
    "-",
    ">",
    "<",
    "cap",
    "cap?",
    "rw",
    "idx",
    "in",
    "nz",
    "evt",
    "%0",
    "ref",
    "slot",
    "$0",
    "block0",
    "block1",
    "loop",
    "v0",
    "v1",
    "v2",
    "fuel",
    "9",
    "iconst",
    "-5",
    "0x1f",
    "iadd",
    "sdiv",
    "icmp",
    "lt",
    "check.bounds",
    "check.range",
    "#c.a",
    "load",
    "store",
    "init",
    "size",
    "call",
    "helper",
    "now_us",
    "99",
    "asm",
    "cli",
    "!catch",
    "Overflow",
    "@",
    "..",
    "jump",
    "brif",
    "ret",
    "raise",
    "99999999999999999999",
    "\n",
    "; comment\n",
    "?",
    "#",
    "\\",
    "é",
    "\0",
];

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in any::<Vec<u8>>(), header in any::<bool>()) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse(&text);
        if header {
            let _ = parse(&format!("{HEADER}{text}"));
        }
    }

    #[test]
    fn token_soup_never_panics(words in prop::collection::vec(prop::sample::select(VOCABULARY), 0..200)) {
        let soup = words.join(" ");
        let _ = parse(&soup);
        let _ = parse(&format!("module m\n{soup}"));
        if let Ok((module, _)) = parse(&format!("{HEADER}{soup}")) {
            // Whatever parses prints to the same module.
            prop_assert_eq!(parse(&print(&module)).map(|(m, _)| m), Ok(module));
        }
    }

    #[test]
    fn truncated_modules_never_panic(cut in 0..2000usize) {
        let text = format!("{HEADER}{}", func("    v1 = load $0.t !catch(Overflow -> block0(v0)) @1..2\n    v2 = call @f(v1, $0)"));
        let end = text.char_indices().map(|(i, _)| i).find(|&i| i >= cut).unwrap_or(text.len());
        let _ = parse(&text[..end]);
    }
}
