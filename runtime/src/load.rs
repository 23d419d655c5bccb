//! Accepting an object: every check a host makes before any of its code
//! runs, in one pipeline that `Host::load`, `safexc verify` and `safexc
//! sign` all use (the kernel module, which cannot run it, accepts only
//! objects `sign` signed after it passed: `crate::signed`).
//!
//! In order: the object reads back cleanly (ELF, sections, hashes,
//! relocations, the compiler fingerprint: [`read`]); it was built with
//! fuel checks; its TAL passes the verifier; its code is exactly what that
//! TAL compiles to. [`check`] runs them all and reports every error it
//! finds, not only the first: once the object reads, the fuel flag and the
//! verifier are both looked at, and re-lowering runs on verified TAL only
//! (lowering assumes it). [`load`] then maps the code W^X and links it. No
//! option turns a check off. `CodeImage::link` alone skips them and is for
//! measurement harnesses only.

use crate::image::{CodeImage, LinkError};
use codegen::CodegenError;
use codegen::object::ObjectParts;
use tal_ir::Location;

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
    /// Where in the object's TAL the verifier found it.
    pub location: Option<Location>,
}

impl LoadError {
    pub fn new(code: &'static str, message: impl Into<String>) -> LoadError {
        LoadError {
            code,
            message: message.into(),
            location: None,
        }
    }
}

impl From<CodegenError> for LoadError {
    fn from(e: CodegenError) -> LoadError {
        LoadError::new(e.code, e.message)
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error[{}]: {}", self.code, self.message)
    }
}

impl std::error::Error for LoadError {}

/// An object the checks refused: every reason found, in pipeline order,
/// and the object's parts if it read back (for showing verifier errors on
/// its TAL).
#[derive(Debug)]
pub struct Refused {
    pub first: LoadError,
    pub more: Vec<LoadError>,
    pub parts: Option<Box<ObjectParts>>,
}

impl Refused {
    /// Every error, first to last.
    pub fn errors(&self) -> impl Iterator<Item = &LoadError> {
        std::iter::once(&self.first).chain(&self.more)
    }

    /// The first error, its message naming the codes of the others: what a
    /// host that reports one error says.
    pub fn into_first(self) -> LoadError {
        let mut first = self.first;
        if !self.more.is_empty() {
            let codes: Vec<&str> = self.more.iter().map(|e| e.code).collect();
            first.message = format!("{} (and {} more: {})", first.message, codes.len(), codes.join(", "));
        }
        first
    }
}

/// Reads an object's parts ([`codegen::object::read_object`]), saying "not
/// a SafeX object" when it is an ELF file without SafeX's sections (a
/// program, a library, another compiler's object).
pub fn read(bytes: &[u8]) -> Result<ObjectParts, LoadError> {
    codegen::object::read_object(bytes).map_err(|e| {
        let has = |section: &[u8]| bytes.windows(section.len()).any(|w| w == section);
        let foreign = bytes.starts_with(b"\x7fELF") && !has(b".safex.tal\0") && !has(b".safex.meta\0");
        if foreign && !e.message.starts_with("not a SafeX object") {
            LoadError::new(
                e.code,
                format!(
                    "not a SafeX object: an ELF file without `.safex.tal` and `.safex.meta` sections ({})",
                    e.message
                ),
            )
        } else {
            e.into()
        }
    })
}

/// Runs every check on an object; `Ok` with its parts if it passes them all.
pub fn check(bytes: &[u8], config: &verifier::Config) -> Result<ObjectParts, Refused> {
    let parts = read(bytes).map_err(|first| Refused {
        first,
        more: Vec::new(),
        parts: None,
    })?;
    let mut errors = Vec::new();
    if parts.meta.no_fuel {
        errors.push(LoadError::new(
            "L0020",
            "the object was built with --no-fuel: without fuel checks its run time has no bound",
        ));
    }
    match verifier::verify(&parts.module, config) {
        Err(rejected) => errors.extend(rejected.into_iter().map(|e| LoadError {
            code: e.code,
            message: format!("the object's TAL is rejected: {}", e.message),
            location: Some(e.location),
        })),
        Ok(()) => {
            if let Err(e) = codegen::check::relowering_matches(bytes, &parts) {
                errors.push(e.into());
            }
        }
    }
    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(parts),
        Some(first) => Err(Refused {
            first,
            more: errors.collect(),
            parts: Some(Box::new(parts)),
        }),
    }
}

/// Checks ([`check`]) and links an object. A refusal is its first error,
/// naming the others' codes.
pub fn load(bytes: &[u8], config: &verifier::Config) -> Result<Loaded, LoadError> {
    let parts = check(bytes, config).map_err(Refused::into_first)?;
    let image = CodeImage::link(&parts).map_err(|LinkError { code, message }| LoadError::new(code, message))?;
    Ok(Loaded { parts, image })
}
