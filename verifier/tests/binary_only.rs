//! Hostile modules that the text format cannot express (its parser refuses
//! them first), built as values the way a hostile binary would decode.

use tal_ir::*;

fn parse(text: &str) -> Module {
    tal_ir::text::parse(text).expect("test module parses").0
}

fn codes(m: &Module) -> Vec<&'static str> {
    match verifier::verify(m, &verifier::Config::default()) {
        Ok(()) => vec![],
        Err(errors) => errors.iter().map(|e| e.code).collect(),
    }
}

const TWO_FUNCS: &str =
    "module m\nfunc @a() {\nblock0:\n    fuel 1\n    ret\n}\nfunc @b() {\nblock0:\n    fuel 1\n    ret\n}\n";

#[test]
fn duplicate_function_names_are_rejected() {
    // A loader binds entry points by name: two with one name would make the
    // choice of code up to the loader.
    let mut m = parse(TWO_FUNCS);
    assert_eq!(codes(&m), Vec::<&str>::new());
    m.funcs[1].name = "a".into();
    assert_eq!(codes(&m), ["V0101"]);
}

#[test]
fn duplicate_global_class_struct_and_event_names_are_rejected() {
    let mut m = parse(
        "module m\nclass c { x: i64 }\nclass d { x: i64 }\nevent E\nevent F\nstruct s { a: i64 }\nstruct t { a: i64 }\n\
         global @g: i64 = 0\nglobal @h: i64 = 0\n",
    );
    assert_eq!(codes(&m), Vec::<&str>::new());
    m.classes[1].name = "c".into();
    m.events[1] = "E".into();
    m.structs[1].name = "s".into();
    m.globals[1].name = "g".into();
    assert_eq!(codes(&m), ["V0101"; 4]);
}

#[test]
fn a_module_without_a_name_is_rejected() {
    let mut m = parse(TWO_FUNCS);
    m.name.clear();
    assert_eq!(codes(&m), ["V0101"]);
}

#[test]
fn dangling_indices_are_rejected_not_followed() {
    let mut m = parse(TWO_FUNCS);
    m.funcs[0].blocks[0].insts.push(Inst {
        kind: InstKind::Call {
            callee: Callee::Func(FuncId(77)),
            args: vec![],
            result: false,
        },
        catches: vec![],
        span: None,
    });
    m.funcs[0].blocks[0].insts[0].kind = InstKind::Fuel(2);
    assert_eq!(codes(&m), ["V0102"]);
}
