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

use crate::{BinaryOp, Cond, ElemType, FormatError, GlobalDef, Module, ObjType, ParamType, Root, TextMap, UnaryOp};

/// Writes the canonical text of a module. Never panics.
pub fn print(module: &Module) -> String {
    print::print(module)
}

/// Parses a module and says where each of its items is in `text`. Never
/// panics; reports the first error.
pub fn parse(text: &str) -> Result<(Module, TextMap), Vec<FormatError>> {
    parse::parse(text).map_err(|e| vec![e])
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
