//! `safexc compile`: a source — Popcorn-SX, or TAL from any front-end — to
//! verified TAL text, binary TAL or an object. The status line goes to
//! standard error, so that standard output carries only the output.

use crate::diag;
use crate::files;
use crate::out::{Out, OutputError};
use crate::source::{self, Kind, Language};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CompileArgs {
    /// The source: Popcorn-SX (`.pop`), TAL text (`.tal`) or binary TAL;
    /// `-` reads standard input.
    file: PathBuf,
    /// What to write (default: an object if the output ends in `.o`, else TAL text).
    #[arg(long, value_enum)]
    emit: Option<Emit>,
    /// Output file, never the input; `-` or none: standard output (binary
    /// output only with `-o -`, and not to a terminal).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Leave out fuel checks, only to measure their cost: every loader refuses the object.
    #[arg(long)]
    no_fuel: bool,
    /// Keep every call a call: no inlining of small functions (traps then
    /// name the function they happen in, not its caller). Popcorn-SX only.
    #[arg(long)]
    no_inline: bool,
    /// Compile as part of the standard library (allows guards and `block`). Popcorn-SX only.
    #[arg(long)]
    stdlib: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Emit {
    /// TAL text.
    Tal,
    /// Binary TAL (`SXTAL`, the encoding objects embed).
    Bin,
    /// A relocatable ELF object.
    Obj,
}

pub fn compile(out: &mut Out, args: CompileArgs) -> Result<ExitCode, OutputError> {
    let failed = Ok(ExitCode::from(1));
    let name = files::display_name(&args.file);
    if let Some(output) = &args.output
        && files::same_file(&args.file, output)
    {
        diag::plain_error(
            "L0004",
            &format!(
                "the output {} is the input {name}: give another `-o` path",
                output.display()
            ),
        );
        return failed;
    }
    let Some(bytes) = files::read_input(&args.file) else {
        return failed;
    };
    let language = match source::kind(&args.file, &bytes) {
        Kind::Object => {
            diag::plain_error(
                "L0003",
                &format!("{name} is an ELF file, not a source; `safexc verify` checks objects"),
            );
            return Ok(ExitCode::from(crate::USAGE));
        }
        Kind::Source(Language::Tal) if args.stdlib || args.no_inline => {
            diag::plain_error(
                "L0003",
                &format!("`--stdlib` and `--no-inline` apply to Popcorn-SX sources; {name} is TAL"),
            );
            return Ok(ExitCode::from(crate::USAGE));
        }
        Kind::Source(language) => language,
    };
    let checked = source::check(
        &args.file,
        bytes,
        language,
        args.stdlib,
        !args.no_inline,
        &verifier::Config::default(),
    );
    diag::status(&checked.summary);
    let Some(module) = checked.module else {
        return failed;
    };
    let is_object_path = args
        .output
        .as_ref()
        .is_some_and(|p| p.extension().is_some_and(|e| e == "o"));
    let emit = args.emit.unwrap_or(if is_object_path { Emit::Obj } else { Emit::Tal });
    let bytes = match emit {
        Emit::Tal => tal_ir::text::print(&module).into_bytes(),
        Emit::Bin => tal_ir::binary::encode(&module),
        Emit::Obj => match generate_code(&module, args.no_fuel) {
            Ok(object) => object,
            Err(e) => {
                diag::plain_error(e.code, &e.message);
                return failed;
            }
        },
    };
    match &args.output {
        Some(path) if !files::is_stdio(path) => {
            if !files::write_output(path, &bytes) {
                return failed;
            }
        }
        output => {
            if emit != Emit::Tal {
                if output.is_none() {
                    let (what, file) = if emit == Emit::Obj {
                        ("an object", "FILE.o")
                    } else {
                        ("binary TAL", "FILE")
                    };
                    diag::plain_error("L0002", &format!("{what} is written to a file: add `-o {file}`"));
                    return failed;
                }
                if out.is_terminal() {
                    diag::plain_error(
                        "L0002",
                        "binary output is not written to a terminal: redirect standard output",
                    );
                    return failed;
                }
            }
            out.write_all(&bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Lowers a verified module to an object, with progress on a long run.
fn generate_code(module: &tal_ir::Module, no_fuel: bool) -> Result<Vec<u8>, codegen::CodegenError> {
    let _progress = crate::progress::Spinner::new("generating code");
    codegen::object::compile(module, codegen::Options { no_fuel })
}
