//! The re-lowering check: an object's code is exactly what its own TAL
//! lowers to.
//!
//! Code generation and object writing are deterministic, so lowering the
//! embedded `.safex.tal` again and writing a new object must reproduce the
//! original byte for byte. This ties the machine code (which no verifier
//! reads) to the TAL the verifier checked: a changed instruction, symbol,
//! relocation or metadata field makes the bytes differ.

use crate::object::{ObjectParts, write_object};
use crate::{CodegenError, Options};

/// Checks that `bytes`, read as `parts`, is the object its TAL compiles to.
/// The caller verifies `parts.module` first: lowering assumes a verified
/// module.
pub fn relowering_matches(bytes: &[u8], parts: &ObjectParts) -> Result<(), CodegenError> {
    let options = Options {
        no_fuel: parts.meta.no_fuel,
    };
    let funcs = crate::lower::lower_module(&parts.module, options)?;
    for (index, f) in funcs.iter().enumerate() {
        let name = &parts.module.funcs[index].name;
        match parts.function(index) {
            Some((code, relocs)) if code == f.code.as_slice() && relocs == f.relocs => {}
            _ => {
                return Err(CodegenError {
                    code: "C0080",
                    message: format!("the code of `{name}` is not what its TAL compiles to"),
                });
            }
        }
    }
    if write_object(&parts.module, &funcs, options) != bytes {
        return Err(CodegenError {
            code: "C0081",
            message: "the object differs from the one its TAL compiles to (metadata, symbols or layout)".into(),
        });
    }
    Ok(())
}
