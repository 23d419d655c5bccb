//! What an input to `safexc compile` or `safexc run` is: an object, or a
//! source in TAL (text or binary) or Popcorn-SX.

use crate::{Checked, files, pop, verify};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An ELF file.
    Object,
    Source(Language),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// TAL text or binary TAL: any front-end's output.
    Tal,
    Popcorn,
}

/// Objects and binary TAL are known by their first bytes, then `.tal` and
/// `.pop` files by their names; other inputs (standard input) are TAL text
/// if their first word after `;` comment lines is `module`, else
/// Popcorn-SX.
pub fn kind(path: &Path, bytes: &[u8]) -> Kind {
    if bytes.starts_with(b"\x7fELF") {
        return Kind::Object;
    }
    if bytes.starts_with(tal_ir::binary::MAGIC) {
        return Kind::Source(Language::Tal);
    }
    Kind::Source(match path.extension().and_then(|e| e.to_str()) {
        Some("tal") => Language::Tal,
        Some("pop") => Language::Popcorn,
        _ => {
            let text = String::from_utf8_lossy(bytes);
            let first = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with(';'))
                .and_then(|l| l.split_whitespace().next());
            if first == Some("module") {
                Language::Tal
            } else {
                Language::Popcorn
            }
        }
    })
}

/// A verified module from a source: TAL as it is, Popcorn-SX compiled (as
/// part of the standard library if `stdlib`, small functions inlined if
/// `inline`) and then verified; diagnostics on standard error.
pub fn check(
    path: &Path,
    bytes: Vec<u8>,
    language: Language,
    stdlib: bool,
    inline: bool,
    config: &verifier::Config,
) -> Checked {
    match language {
        Language::Popcorn => pop::check(path, bytes, stdlib, inline, config),
        Language::Tal => verify::check_tal(&files::display_name(path), &files::without_bom(bytes), config),
    }
}
