//! `safexc verify`: TAL modules (text or binary), objects and signed
//! objects, told apart by their bytes (`\x7fELF`, `SXTAL`, the signature
//! trailer `SXSIG01`), not by their names. With `--pubkey` only signed
//! objects are accepted, and their signature is checked before the object.

use crate::Checked;
use crate::diag::{Diagnostic, render};
use crate::files;
use crate::out::{Out, OutputError};
use runtime::load::LoadError as LoadErr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tal_ir::Module;

/// Verifies each file, one summary line per file on standard output and
/// diagnostics on standard error; exit 1 if any is rejected.
pub fn verify(
    out: &mut Out,
    paths: &[PathBuf],
    pubkey: Option<&Path>,
    config: &verifier::Config,
) -> Result<ExitCode, OutputError> {
    let mut inputs = paths.to_vec();
    inputs.extend(pubkey.map(Path::to_path_buf));
    if !files::stdin_at_most_once(&inputs) {
        return Ok(ExitCode::from(crate::USAGE));
    }
    let pubkey = match pubkey.map(files::read_input) {
        None => None,
        Some(Some(der)) => Some(der),
        Some(None) => return Ok(ExitCode::from(1)),
    };
    let mut all_ok = true;
    for path in paths {
        let checked = verify_file(path, pubkey.as_deref(), config);
        writeln!(out, "{}", checked.summary)?;
        all_ok &= checked.module.is_some();
    }
    Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn verify_file(path: &Path, pubkey: Option<&[u8]>, config: &verifier::Config) -> Checked {
    let name = files::display_name(path);
    let Some(bytes) = files::read_input(path) else {
        return Checked::rejected(&name, &["L0001"]);
    };
    let refused = |e: LoadErr| {
        errln!("{name}: {e}");
        Checked::rejected(&name, &[e.code])
    };
    if let Some(pubkey) = pubkey {
        // The signature first: nothing of an object whose signature does
        // not verify is looked at.
        return match runtime::signed::verify(&bytes, pubkey) {
            Ok(object) => check_object(&name, object, config, "signed object, signature verified"),
            Err(e) => refused(e),
        };
    }
    match runtime::signed::split(&bytes) {
        Err(e) => refused(e),
        Ok(Some((object, _))) => check_object(
            &name,
            object,
            config,
            "signed object, signature not checked without --pubkey",
        ),
        Ok(None) if bytes.starts_with(b"\x7fELF") => check_object(&name, &bytes, config, "object"),
        Ok(None) => check_tal(&name, &bytes, config),
    }
}

/// Loads TAL (binary if it starts with `SXTAL`, else text) and verifies it,
/// showing each error on the TAL text.
pub fn check_tal(name: &str, bytes: &[u8], config: &verifier::Config) -> Checked {
    let loaded = if bytes.starts_with(tal_ir::binary::MAGIC) {
        load_binary(bytes)
    } else {
        load_text(bytes)
    };
    let (module, text, map) = match loaded {
        Ok(loaded) => loaded,
        Err((text, errors)) => {
            for e in &errors {
                err!(
                    "{}",
                    render(name, &text, &Diagnostic::error(e.code, &e.message, e.span.clone()))
                );
            }
            let codes: Vec<&str> = errors.iter().map(|e| e.code).collect();
            return Checked::rejected(name, &codes);
        }
    };
    match verifier::verify(&module, config) {
        Ok(()) => {
            let insts: usize = module.funcs.iter().map(|f| f.inst_count()).sum();
            Checked {
                summary: format!("{name}: ok ({} functions, {insts} instructions)", module.funcs.len()),
                module: Some(module),
            }
        }
        Err(errors) => {
            for e in &errors {
                let span = map.span(e.location).unwrap_or(0..0);
                err!("{}", render(name, &text, &Diagnostic::error(e.code, &e.message, span)));
            }
            let codes: Vec<&str> = errors.iter().map(|e| e.code).collect();
            Checked::rejected(name, &codes)
        }
    }
}

/// An object is accepted when it passes every check a host makes
/// (`runtime::load::check`: it reads back cleanly, was built with fuel
/// checks, its TAL verifies, and its code is exactly what that TAL compiles
/// to); every error found is shown, verifier errors on the object's TAL.
/// `what` names the input in the summary line (`object`, `signed object, …`).
pub fn check_object(name: &str, bytes: &[u8], config: &verifier::Config, what: &str) -> Checked {
    let parts = match runtime::load::check(bytes, config) {
        Ok(parts) => parts,
        Err(refused) => {
            let text = refused.parts.as_ref().map(|p| tal_ir::text::print(&p.module));
            let map = text
                .as_deref()
                .and_then(|t| tal_ir::text::parse(t).ok())
                .map(|(_, map)| map)
                .unwrap_or_default();
            for e in refused.errors() {
                match (&text, e.location) {
                    (Some(text), Some(location)) => {
                        let span = map.span(location).unwrap_or(0..0);
                        err!(
                            "{}",
                            render(
                                &format!("{name} (.safex.tal)"),
                                text,
                                &Diagnostic::error(e.code, &e.message, span)
                            )
                        );
                    }
                    _ => errln!("{e}"),
                }
            }
            let codes: Vec<&str> = refused.errors().map(|e| e.code).collect();
            return Checked::rejected(name, &codes);
        }
    };
    Checked {
        summary: format!(
            "{name}: ok ({what}: {} functions, {} bytes of code)",
            parts.module.funcs.len(),
            parts.text.len()
        ),
        module: Some(parts.module),
    }
}

type Loaded = (Module, String, tal_ir::TextMap);
type LoadError = (String, Vec<tal_ir::FormatError>);

fn load_text(bytes: &[u8]) -> Result<Loaded, LoadError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.to_owned(),
        Err(e) => {
            let at = e.valid_up_to();
            let text = String::from_utf8_lossy(bytes).into_owned();
            let err = tal_ir::FormatError {
                code: "V0001",
                message: "the file is not UTF-8 text".into(),
                span: at..at + 1,
            };
            return Err((text, vec![err]));
        }
    };
    match tal_ir::text::parse(&text) {
        Ok((module, map)) => Ok((module, text, map)),
        Err(errors) => Err((text, errors)),
    }
}

/// Binary TAL is shown as its canonical text, so that diagnostics point at
/// readable lines.
fn load_binary(bytes: &[u8]) -> Result<Loaded, LoadError> {
    let module = tal_ir::binary::decode(bytes).map_err(|e| {
        let text = format!("<{} bytes of binary TAL>", bytes.len());
        let span = 0..text.len();
        (text, vec![tal_ir::FormatError { span, ..e }])
    })?;
    let text = tal_ir::text::print(&module);
    let map = tal_ir::text::parse(&text).map(|(_, map)| map).unwrap_or_default();
    Ok((module, text, map))
}
