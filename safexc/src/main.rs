//! `safexc`: the SafeX command line.

mod diag;
mod inspect;
mod pop;
mod run;

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
    /// Check Popcorn-SX files: compile, then verify the TAL; exit 1 if any is rejected.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Compile as part of the standard library (allows guards and `block`).
        #[arg(long)]
        stdlib: bool,
    },
    /// Compile a Popcorn-SX file to an object (`-o FILE.o`) or to TAL text.
    Compile {
        file: PathBuf,
        /// What to write (default: an object if the output ends in `.o`, else TAL text).
        #[arg(long, value_enum)]
        emit: Option<Emit>,
        /// Output file (default: standard output, TAL only).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Leave out fuel checks, only to measure their cost: every loader refuses the object.
        #[arg(long)]
        no_fuel: bool,
        /// Keep every call a call: no inlining of small functions (traps then
        /// name the function they happen in, not its caller).
        #[arg(long)]
        no_inline: bool,
        /// Compile as part of the standard library (allows guards and `block`).
        #[arg(long)]
        stdlib: bool,
    },
    /// Verify TAL modules (text `.tal`, binary TAL) or objects (`.o`: verify the
    /// embedded TAL and check the code is what it compiles to); exit 1 if any is rejected.
    Verify {
        /// Files to verify.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Stack bound, in bytes, for any entry point's deepest call chain.
        #[arg(long, default_value_t = verifier::Config::default().stack_limit)]
        stack_limit: u64,
    },
    /// Print an object's metadata, TAL, disassembly and relocations; exit 1 if it is malformed.
    Inspect {
        /// The object (`.o`) to read.
        file: PathBuf,
    },
    /// Run extensions for one application: each tick runs the monitors, then the
    /// handlers on their events, and prints the attribute changes and traps.
    Run(run::RunArgs),
    /// Explain an error code (`P0310`, `V0701`): what is wrong, why, and an example.
    Explain {
        /// The code, in any case.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        code: Option<String>,
        /// List every documented code with its title, one per line.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Emit {
    /// TAL text.
    Tal,
    /// A relocatable ELF object.
    Obj,
}

fn main() -> ExitCode {
    // Like other command-line tools, end quietly when the reader of our
    // output goes away (`safexc explain --all | head`) instead of panicking.
    // SAFETY: setting a signal disposition before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    match cli.command {
        Command::Check { files, stdlib } => {
            let config = verifier::Config::default();
            let mut all_ok = true;
            for file in &files {
                all_ok &= pop::check_file(file, stdlib, true, &config).is_some();
            }
            if all_ok { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Command::Compile {
            file,
            emit,
            output,
            no_fuel,
            no_inline,
            stdlib,
        } => {
            let Some(module) = pop::check_file(&file, stdlib, !no_inline, &verifier::Config::default()) else {
                return ExitCode::from(1);
            };
            let is_object_path = output.as_ref().is_some_and(|p| p.extension().is_some_and(|e| e == "o"));
            let bytes = match emit.unwrap_or(if is_object_path { Emit::Obj } else { Emit::Tal }) {
                Emit::Tal => tal_ir::text::print(&module).into_bytes(),
                Emit::Obj => match codegen::object::compile(&module, codegen::Options { no_fuel }) {
                    Ok(object) => object,
                    Err(e) => {
                        eprintln!("{e}");
                        return ExitCode::from(1);
                    }
                },
            };
            let written = match (&output, emit) {
                (Some(path), _) => std::fs::write(path, bytes),
                (None, Some(Emit::Obj)) => {
                    eprintln!("error[L0002]: an object is written to a file: add `-o FILE.o`");
                    return ExitCode::from(1);
                }
                (None, _) => std::io::Write::write_all(&mut std::io::stdout(), &bytes),
            };
            if let Err(e) = written {
                eprintln!("error[L0002]: cannot write the output: {e}");
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
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
        Command::Inspect { file } => inspect::inspect(&file),
        Command::Run(args) => run::run(args),
        Command::Explain { code, all } => explain(code.as_deref().unwrap_or_default(), all),
    }
}

/// `safexc explain`: one code's documentation, or (`--all`) the list of codes.
fn explain(code: &str, all: bool) -> ExitCode {
    // (code, title, explanation, example) of every family.
    let front = popcorn_front::codes::CODES
        .iter()
        .map(|d| [d.code, d.title, d.explanation, d.example]);
    let mut docs: Vec<[&str; 4]> = front
        .chain(
            verifier::codes::CODES
                .iter()
                .map(|d| [d.code, d.title, d.explanation, d.example]),
        )
        .chain(
            codegen::codes::CODES
                .iter()
                .map(|d| [d.code, d.title, d.explanation, d.example]),
        )
        .chain(
            runtime::codes::CODES
                .iter()
                .map(|d| [d.code, d.title, d.explanation, d.example]),
        )
        .collect();
    if all {
        docs.sort_by_key(|d| d[0]);
        for [code, title, ..] in docs {
            println!("{code}  {title}");
        }
        return ExitCode::SUCCESS;
    }
    let wanted = code.trim();
    let Some(&[code, title, explanation, example]) = docs.iter().find(|d| d[0].eq_ignore_ascii_case(wanted)) else {
        eprintln!(
            "error: `{code}` is not a documented error code. Codes are P0xxx (Popcorn-SX front-end), V0xxx (TAL \
             formats and verifier), C0xxx (objects and code generation) and L0xxx (loader and command line); \
             `safexc explain --all` lists them."
        );
        return ExitCode::from(1);
    };
    println!("{code}: {title}\n");
    let mut line = String::new();
    for word in explanation.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > 78 {
            println!("{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    println!("{line}\n\nExample:");
    for l in example.lines() {
        let indent = if l.is_empty() { "" } else { "    " };
        println!("{indent}{l}");
    }
    ExitCode::SUCCESS
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
    if bytes.starts_with(b"\x7fELF") {
        return verify_object(&name, &bytes, config);
    }
    let loaded = if bytes.starts_with(tal_ir::binary::MAGIC) {
        load_binary(&bytes)
    } else {
        load_text(&bytes)
    };
    let (module, text, map) = match loaded {
        Ok(loaded) => loaded,
        Err((text, errors)) => {
            for e in &errors {
                let d = Diagnostic::error(e.code, &e.message, e.span.clone());
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
                let d = Diagnostic::error(e.code, &e.message, span);
                eprint!("{}", render(&name, &text, &d));
            }
            let codes: Vec<&str> = errors.iter().map(|e| e.code).collect();
            println!("{name}: rejected: {}", codes.join(", "));
            false
        }
    }
}

/// An object is accepted when it reads back cleanly, its TAL verifies, and
/// its code is exactly what that TAL compiles to.
fn verify_object(name: &str, bytes: &[u8], config: &verifier::Config) -> bool {
    let reject = |code: &str, message: &str| {
        eprintln!("error[{code}]: {message}");
        println!("{name}: rejected: {code}");
        false
    };
    let parts = match codegen::object::read_object(bytes) {
        Ok(parts) => parts,
        Err(e) => return reject(e.code, &e.message),
    };
    if let Err(errors) = verifier::verify(&parts.module, config) {
        let text = tal_ir::text::print(&parts.module);
        let map = tal_ir::text::parse(&text).map(|(_, map)| map).unwrap_or_default();
        for e in &errors {
            let span = map.span(e.location).unwrap_or(0..0);
            eprint!(
                "{}",
                render(
                    &format!("{name} (.safex.tal)"),
                    &text,
                    &Diagnostic::error(e.code, &e.message, span)
                )
            );
        }
        let codes: Vec<&str> = errors.iter().map(|e| e.code).collect();
        println!("{name}: rejected: {}", codes.join(", "));
        return false;
    }
    if let Err(e) = codegen::check::relowering_matches(bytes, &parts) {
        return reject(e.code, &e.message);
    }
    let fuel = if parts.meta.no_fuel {
        ", built --no-fuel: loaders refuse it"
    } else {
        ""
    };
    println!(
        "{name}: ok (object: {} functions, {} bytes of code{fuel})",
        parts.module.funcs.len(),
        parts.text.len()
    );
    true
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
