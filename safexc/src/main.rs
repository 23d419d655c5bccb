//! `safexc`: the SafeX command line.

mod diag;

use clap::{Parser, Subcommand};
use diag::{Diagnostic, render};
use std::path::PathBuf;
use std::process::ExitCode;
use tal_ir::Module;

#[derive(Parser)]
#[command(name = "safexc", version, about = "SafeX: safe, verified kernel extensions")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify TAL modules (text `.tal` or binary TAL); exit 1 if any is rejected.
    Verify {
        /// Files to verify.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Stack bound, in bytes, for any entry point's deepest call chain.
        #[arg(long, default_value_t = verifier::Config::default().stack_limit)]
        stack_limit: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Verify { files, stack_limit } => {
            let config = verifier::Config {
                stack_limit,
                ..verifier::Config::default()
            };
            let mut all_ok = true;
            for file in &files {
                all_ok &= verify_file(file, &config);
            }
            if all_ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
    }
}

/// Verifies one file, printing diagnostics; returns whether it was accepted.
fn verify_file(path: &std::path::Path, config: &verifier::Config) -> bool {
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error[L0001]: cannot read {name}: {e}");
            println!("{name}: rejected: L0001");
            return false;
        }
    };
    let loaded = if bytes.starts_with(tal_ir::binary::MAGIC) {
        load_binary(&bytes)
    } else {
        load_text(&bytes)
    };
    let (module, text, map) = match loaded {
        Ok(loaded) => loaded,
        Err((text, errors)) => {
            for e in &errors {
                let d = Diagnostic {
                    code: e.code,
                    message: &e.message,
                    span: e.span.clone(),
                };
                eprint!("{}", render(&name, &text, &d));
            }
            let codes: Vec<&str> = errors.iter().map(|e| e.code).collect();
            println!("{name}: rejected: {}", codes.join(", "));
            return false;
        }
    };
    match verifier::verify(&module, config) {
        Ok(()) => {
            let insts: usize = module.funcs.iter().map(|f| f.inst_count()).sum();
            println!("{name}: ok ({} functions, {insts} instructions)", module.funcs.len());
            true
        }
        Err(errors) => {
            for e in &errors {
                let span = map.span(e.location).unwrap_or(0..0);
                let d = Diagnostic {
                    code: e.code,
                    message: &e.message,
                    span,
                };
                eprint!("{}", render(&name, &text, &d));
            }
            let codes: Vec<&str> = errors.iter().map(|e| e.code).collect();
            println!("{name}: rejected: {}", codes.join(", "));
            false
        }
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
