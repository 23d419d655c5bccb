//! Loading an object: every check a host makes before any of its code runs.
//!
//! In order: the object reads back cleanly (ELF, sections, hashes,
//! relocations: `codegen::object::read_object`); it was built with fuel
//! checks; its TAL passes the verifier; its code is exactly what that TAL
//! compiles to; then the code is mapped W^X and linked. No option turns a
//! check off. `CodeImage::link` alone skips them and is for measurement
//! harnesses only.

use crate::image::{CodeImage, LinkError};
use codegen::object::ObjectParts;

/// A loaded, linked extension.
pub struct Loaded {
    pub parts: ObjectParts,
    pub image: CodeImage,
}

/// Why an object was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// `Cxxxx` (object), `Vxxxx` (verifier) or `Lxxxx` (loader).
    pub code: &'static str,
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error[{}]: {}", self.code, self.message)
    }
}

impl std::error::Error for LoadError {}

/// Checks and links an object.
pub fn load(bytes: &[u8], config: &verifier::Config) -> Result<Loaded, LoadError> {
    let parts = codegen::object::read_object(bytes).map_err(|e| LoadError {
        code: e.code,
        message: e.message,
    })?;
    if parts.meta.no_fuel {
        return Err(LoadError {
            code: "L0020",
            message: "the object was built with --no-fuel: without fuel checks its run time has no bound".into(),
        });
    }
    if let Err(errors) = verifier::verify(&parts.module, config) {
        let first = &errors[0];
        return Err(LoadError {
            code: first.code,
            message: format!("the object's TAL is rejected: {}", first.message),
        });
    }
    codegen::check::relowering_matches(bytes, &parts).map_err(|e| LoadError {
        code: e.code,
        message: e.message,
    })?;
    let image = CodeImage::link(&parts).map_err(|LinkError { code, message }| LoadError { code, message })?;
    Ok(Loaded { parts, image })
}
