//! The `.tal` text format (specified in `docs/tal.md`).
//!
//! [`print`] writes the canonical text of any [`Module`]; [`parse`] reads it
//! back, so `parse(&print(&m))` gives `m` again for every module whose names
//! are identifiers, unique per namespace, and whose ids are in range. A
//! module that is not (a corrupt binary, say) still prints, but with
//! placeholders such as `?class7` or `@?"a b"` that the parser rejects rather
//! than reading as something else.
//!
//! Where `docs/tal.md` leaves room, the parser reads:
//! - items strictly in the documented order (structs may name later structs,
//!   functions may call later functions);
//! - `;` inside `[...]` as the array-length separator, elsewhere as a comment;
//! - functions and externs as one namespace, so that `call @f` is never
//!   ambiguous;
//! - `helper NAME(…)` with an unknown name as a call of the extern `NAME`, and
//!   `helper N(…)` as the helper with id `N` (how unknown ids print);
//! - `cli`/`sti` as `asm "cli"`/`asm "sti"`, and `->` as `-` `>` (so `cap<c, ->`
//!   works).
//!
//! Parse error codes:
//! - `V0001` syntax: the text does not follow the grammar.
//! - `V0002` unknown instruction mnemonic.
//! - `V0003` unknown name (or exception kind, or field not in the struct).
//! - `V0004` value defined out of order: `vN` must be the N-th value.
//! - `V0005` block out of order: blocks are `block0`, `block1`, … in order.
//! - `V0006` duplicate name in one namespace (functions and externs share one).
//! - `V0007` integer out of range for its position.
//! - `V0008` slot `$N` or reference parameter `%N` not numbered by position.
//! - `V0701` pointer forging: a mnemonic that turns integers into pointers.

mod lexer;
mod parse;
mod print;
mod read;

use crate::{BinaryOp, Cond, ElemType, FormatError, GlobalDef, Module, ObjType, ParamType, Root, TextMap, UnaryOp};
pub use read::{BodyParser, Reader};

/// Writes the canonical text of a module. Never panics.
pub fn print(module: &Module) -> String {
    print::print(module)
}

/// Parses a module and says where each of its items is in `text`. Never
/// panics; reports the first error.
pub fn parse(text: &str) -> Result<(Module, TextMap), Vec<FormatError>> {
    parse::parse(text, true).map_err(|e| vec![e])
}

/// [`parse`] without its fast paths, which read common lines of function
/// bodies straight from the bytes: the reference they are tested against
/// (they must give exactly what this gives).
#[doc(hidden)]
pub fn parse_token_by_token(text: &str) -> Result<(Module, TextMap), Vec<FormatError>> {
    parse::parse(text, false).map_err(|e| vec![e])
}

const UNARY: [(UnaryOp, &str); 2] = [(UnaryOp::Neg, "ineg"), (UnaryOp::Not, "not")];

const BINARY: [(BinaryOp, &str); 10] = [
    (BinaryOp::Add, "iadd"),
    (BinaryOp::Sub, "isub"),
    (BinaryOp::Mul, "imul"),
    (BinaryOp::Div, "sdiv"),
    (BinaryOp::Rem, "srem"),
    (BinaryOp::And, "and"),
    (BinaryOp::Or, "or"),
    (BinaryOp::Xor, "xor"),
    (BinaryOp::Shl, "ishl"),
    (BinaryOp::Shr, "sshr"),
];

const CONDS: [(Cond, &str); 6] = [
    (Cond::Eq, "eq"),
    (Cond::Ne, "ne"),
    (Cond::Lt, "lt"),
    (Cond::Le, "le"),
    (Cond::Gt, "gt"),
    (Cond::Ge, "ge"),
];

/// Whether the printer can write `name` as is: `[A-Za-z_][A-Za-z0-9_]*`.
fn is_ident(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The type a place's field path starts from: the root object's type, or its
/// element type if the root is an array. `None` if the root is unknown.
fn root_elem(globals: &[GlobalDef], params: &[ParamType], slots: &[ObjType], root: Root) -> Option<ElemType> {
    let obj = match root {
        Root::Global(g) => globals.get(g.index()).map(|g| g.ty),
        Root::Slot(s) => slots.get(s.index()).copied(),
        Root::Param(n) => match params.get(n as usize) {
            Some(ParamType::Ref(obj)) => Some(*obj),
            _ => None,
        },
    }?;
    Some(match obj {
        ObjType::Elem(elem) | ObjType::Array { elem, .. } => elem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModuleReader;
    use std::path::{Path, PathBuf};

    /// A [`Reader`] of `text` in memory, with its usual window or a tiny
    /// one (items read from texts of 64 bytes, and longer ones again; 5
    /// bytes read at once: every body across windows). `read.rs` tests
    /// shorter texts, on fewer modules.
    fn reader(text: &str, tiny: bool) -> Result<Reader<std::io::Cursor<&[u8]>>, FormatError> {
        let source = std::io::Cursor::new(text.as_bytes());
        if tiny {
            Reader::with_sizes(source, 64, 5)
        } else {
            Reader::new(source)
        }
    }

    /// The module a [`Reader`] reads, the same with a tiny window.
    fn read(text: &str) -> Result<Module, FormatError> {
        let module = read_with(text, false);
        assert_eq!(read_with(text, true).ok(), module.clone().ok(), "{text}");
        module
    }

    fn read_with(text: &str, tiny: bool) -> Result<Module, FormatError> {
        let mut reader = reader(text, tiny)?;
        let mut funcs = Vec::new();
        while let Some(f) = reader.next_function()? {
            funcs.push(f);
        }
        for (i, f) in funcs.iter().enumerate() {
            assert_eq!(&reader.function_again(crate::FuncId(i as u32))?, f);
        }
        Ok(Module {
            funcs,
            ..reader.declarations().clone()
        })
    }

    /// A reader gives what `parse` gives, or an error; it errs only where
    /// `parse` does or for an extern declared by a call.
    fn reads_as_parse(text: &str) -> Result<(), String> {
        match (read(text), parse(text)) {
            (Ok(read), Ok((parsed, _))) if read == parsed => Ok(()),
            (Ok(read), parsed) => Err(format!("read {read:?}\nparsed {parsed:?}")),
            (Err(_), Err(_)) => Ok(()),
            (Err(e), Ok((parsed, _))) => {
                let declared = reader(text, false).map_or(0, |r| r.declarations().externs.len());
                if parsed.externs.len() > declared {
                    Ok(())
                } else {
                    Err(format!("read fails ({e}), parse succeeds"))
                }
            }
        }
    }

    fn tal_files() -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        for dir in ["examples/tal", "verifier/tests/accept", "verifier/tests/reject"] {
            for entry in std::fs::read_dir(root.join(dir)).expect("test directory") {
                let path = entry.expect("entry").path();
                if path.extension().is_some_and(|e| e == "tal") {
                    files.push(path);
                }
            }
        }
        files.sort();
        files
    }

    #[test]
    fn reads_every_test_module_as_parse_does() {
        let mut read_whole = 0;
        for path in tal_files() {
            let text = std::fs::read_to_string(&path).expect("read");
            if let Err(e) = reads_as_parse(&text) {
                panic!("{}: {e}", path.display());
            }
            read_whole += usize::from(read(&text).is_ok());
        }
        assert!(read_whole > 100, "only {read_whole} modules read function by function");
    }

    #[test]
    fn edited_modules_read_as_they_parse() {
        let edits: [&str; 6] = ["", "}", ";", "\"", "\n", "["];
        for path in tal_files()
            .iter()
            .filter(|p| p.starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")))
        {
            let text = std::fs::read_to_string(path).expect("read");
            for at in (0..text.len()).filter(|&i| text.is_char_boundary(i)) {
                for edit in edits {
                    // "" deletes the character at `at`; the others insert.
                    let end = if edit.is_empty() {
                        text[at..].chars().next().map_or(at, |c| at + c.len_utf8())
                    } else {
                        at
                    };
                    let edited = format!("{}{edit}{}", &text[..at], &text[end..]);
                    if let Err(e) = reads_as_parse(&edited) {
                        panic!("{} with {edit:?} at {at}: {e}\n{edited}", path.display());
                    }
                }
            }
        }
    }

    /// The fast paths give exactly what the token-by-token parser gives:
    /// the same module and text map, or the same error.
    fn fast_as_token_by_token(text: &str) -> Result<(), String> {
        let (fast, reference) = (parse(text), parse_token_by_token(text));
        if fast == reference {
            Ok(())
        } else {
            Err(format!("fast {fast:?}\ntoken by token {reference:?}"))
        }
    }

    /// The module a reader reads, each function read into the vectors of
    /// the one before, as `safexc verify` does.
    fn read_reusing(text: &str) -> Result<Module, FormatError> {
        let mut reader = reader(text, false)?;
        let mut funcs: Vec<crate::Function> = Vec::new();
        let mut spare = None;
        while let Some(f) = reader.next_function_reusing(spare.take())? {
            funcs.push(f.clone());
            spare = Some(f);
        }
        Ok(Module {
            funcs,
            ..reader.declarations().clone()
        })
    }

    #[test]
    fn fast_paths_parse_every_test_module_as_token_by_token() {
        for path in tal_files() {
            let text = std::fs::read_to_string(&path).expect("read");
            fast_as_token_by_token(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(read_reusing(&text).ok(), read(&text).ok(), "{}", path.display());
        }
    }

    /// Every instruction form, with spacing, comments, numbers and names
    /// that the fast paths read or must decline, edited byte by byte.
    #[test]
    fn fast_paths_parse_edited_modules_as_token_by_token() {
        let base = "module m\nclass c { a: i64 range(0, 9) }\nevent e\nstruct s { x: i64 }\n\
            global @g: [i64; 4] = zero\nglobal @t: struct s = zero\nextern x\n\
            func @f(i64, %1: ref [i64], i64) -> i64 {\n    slot $0: [i64; 2]\n\
            block0(v0: i64, v1: i64):\n    fuel 0012\n    v2 = iconst -9223372036854775808\n\
            v3 = iconst 9223372036854775807\n  v4 = iadd v0,v1 ; c\n    v5 = check.bounds v4, @g\n\
            v6 = load @g[ v5 ]\n    store @g[v5], v6\n    v7 = load @t.x\n    init $0\n    v8 = size %1\n\
            v9 = call @f(v0, %1, v1)\n    call @f(v0, %1, v1,)\n    v10 = helper now_us()\n    helper 3(v0)\n\
            v11 = icmp ge v0, v1 !catch(Overflow -> block1(v0))\n    v12 = check.nonzero v0 @1..2\n\
            v13 = ineg v12\n    v14 = not v13\n    v15 = bconst true\n    v16 = iconst 0x10\n\
            v17 = iconst 00\n    v18 = check.range v0, #c.a\n    v19 = event e\n    v20 = iconst -0\n\
            brif v15, block1(v0, ), block2\nblock1(v21: i64, v22: nz) loop(block2):\n    fuel 1\n\
            jump block2\nblock2 :\n    v23 = sdiv v0, v22\n    ret v23 @3..4\n}\n\
            func @g() {\nblock0:\n    fuel 1\n    v0 = call @f(v1, %1, v2)\n    ret\n}\n";
        assert!(parse(base).is_ok(), "{:?}", parse(base).err());
        fast_as_token_by_token(base).unwrap();
        let edits: [&str; 10] = ["", " ", "\n", ";", "v", "9", "x", "[", "@", "-"];
        for at in (0..base.len()).filter(|&i| base.is_char_boundary(i)) {
            for edit in edits {
                let end = if edit.is_empty() { at + 1 } else { at };
                let edited = format!("{}{edit}{}", &base[..at], &base[end..]);
                if let Err(e) = fast_as_token_by_token(&edited) {
                    panic!("{edit:?} at {at}: {e}\n{edited}");
                }
            }
        }
    }

    #[test]
    fn braces_in_strings_comments_and_one_line_functions() {
        let cases = [
            "module m\nfunc @f() {\nblock0: ; } not the end\n    asm \"} ; \\\" }\"\n    ret\n}\nfunc @g() {\nblock0:\n    ret\n}\n",
            "module m\nfunc @f() { slot $0: [i64; 4] block0: init $0 ret }\nfunc @g() { block0: call @f() ret }",
            "module m\nfunc @f() { block0: ret ; }\n}",
            "module m\nfunc @f() { block0: ret",
            "module m\nfunc @f() { block0: asm \"ret }",
            "module m\nextern e\nfunc @f() { block0: call @e() ret }",
            "module m\nfunc @f() { block0: call @later() call @implicit() ret }\nfunc @later() { block0: ret }",
            "module m\nfunc @f() { block0: helper g() ret }\nfunc @g() { block0: ret }",
        ];
        for text in cases {
            reads_as_parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
        assert!(read(cases[0]).is_ok() && read(cases[5]).is_ok());
        assert_eq!(read(cases[6]).unwrap_err().code, "V0003");
        assert_eq!(read(cases[7]).unwrap_err().code, "V0006");
    }
}
