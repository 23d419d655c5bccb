//! `safexc sign OBJ.o --key NAME.key -o OUT`: runs every check a host runs
//! (`runtime::load::check`, reported as `safexc verify` reports them) and
//! only if the object passes them all writes it signed
//! (`runtime::signed`). The status line goes to standard error.

use crate::files;
use crate::out::{Out, OutputError};
use crate::verify;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct SignArgs {
    /// The object to sign (not yet signed); `-` reads standard input.
    file: PathBuf,
    /// The private key (`NAME.key`, written by `safexc keygen`).
    #[arg(long, value_name = "NAME.key")]
    key: PathBuf,
    /// The signed object, never the input or the key; `-` writes standard
    /// output (not a terminal).
    #[arg(short, long)]
    output: PathBuf,
    /// Stack bound, in bytes, for any entry point's deepest call chain.
    #[arg(long, default_value_t = verifier::Config::default().stack_limit)]
    stack_limit: u64,
}

pub fn sign(out: &mut Out, args: SignArgs) -> Result<ExitCode, OutputError> {
    let failed = Ok(ExitCode::from(1));
    let name = files::display_name(&args.file);
    for input in [&args.file, &args.key] {
        if files::same_file(input, &args.output) {
            errln!(
                "error[L0004]: the output {} is the input {}: give another `-o` path",
                args.output.display(),
                files::display_name(input)
            );
            return failed;
        }
    }
    if files::is_stdio(&args.file) && files::is_stdio(&args.key) {
        errln!("error[L0003]: standard input (`-`) is named twice; it can be read once");
        return Ok(ExitCode::from(crate::USAGE));
    }
    if files::is_stdio(&args.output) && out.is_terminal() {
        errln!("error[L0002]: binary output is not written to a terminal: redirect standard output");
        return failed;
    }
    let Some(bytes) = files::read_input(&args.file) else {
        return failed;
    };
    match runtime::signed::split(&bytes) {
        Ok(None) => {}
        Ok(Some(_)) => {
            errln!("error[L0046]: {name} is already signed: sign the unsigned object instead");
            return failed;
        }
        Err(e) => {
            errln!("{name}: {e}");
            return failed;
        }
    }
    let Some(key) = files::read_input(&args.key) else {
        return failed;
    };
    let key = match runtime::signed::read_private_key(&key) {
        Ok(key) => key,
        Err(e) => {
            errln!("{}: {e}", files::display_name(&args.key));
            return failed;
        }
    };
    let config = verifier::Config {
        stack_limit: args.stack_limit,
        ..verifier::Config::default()
    };
    let checked = verify::check_object(&name, &bytes, &config, "object");
    errln!("{}", checked.summary);
    if checked.module.is_none() {
        return failed;
    }
    let signed = match runtime::signed::sign(&bytes, &key) {
        Ok(signed) => signed,
        Err(e) => {
            errln!("{e}");
            return failed;
        }
    };
    if files::is_stdio(&args.output) {
        out.write_all(&signed)?;
    } else if !files::write_output(&args.output, &signed) {
        return failed;
    }
    Ok(ExitCode::SUCCESS)
}
