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
    let again = write_object(&parts.module, &funcs, options);
    if again != bytes {
        let at = again
            .iter()
            .zip(bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(again.len().min(bytes.len()));
        return Err(CodegenError {
            code: "C0081",
            message: format!(
                "the object differs from the one its TAL compiles to, from byte {at:#x} ({}): metadata, symbols, \
                 sections or layout",
                whereabouts(bytes, at)
            ),
        });
    }
    Ok(())
}

/// What part of the ELF file `bytes` the byte at `at` belongs to.
fn whereabouts(bytes: &[u8], at: usize) -> String {
    use ::object::read::elf::{FileHeader as _, SectionHeader as _};
    let endian = ::object::LittleEndian;
    let Ok(header) = ::object::elf::FileHeader64::<::object::LittleEndian>::parse(bytes) else {
        return "the ELF header".into();
    };
    if at < std::mem::size_of_val(header) {
        return "the ELF header".into();
    }
    if at >= bytes.len() {
        return "past the end of the file".into();
    }
    let Ok(sections) = header.sections(endian, bytes) else {
        return "the section table".into();
    };
    let shoff = header.e_shoff(endian) as usize;
    if let Some(i) = at.checked_sub(shoff).map(|d| d / 64).filter(|&i| i < sections.len()) {
        return format!("the section table, entry {i}");
    }
    for s in sections.iter() {
        let (offset, size) = (s.sh_offset(endian) as usize, s.sh_size(endian) as usize);
        if s.sh_type(endian) != ::object::elf::SHT_NOBITS && offset <= at && at - offset < size {
            let name = sections.section_name(endian, s).unwrap_or(b"?");
            return format!("section `{}` + {:#x}", String::from_utf8_lossy(name), at - offset);
        }
    }
    "between sections".into()
}
