//! `safexc`: the SafeX command line.
//!
//! Safe to script: no input makes it panic, and every error is reported on
//! standard error with a code and a non-zero exit status, a failure to write
//! standard output included (`out`). Where standard output carries a
//! command's product (`compile`), status lines go to standard error. `-`
//! names standard input or output (`files`).

#![deny(clippy::undocumented_unsafe_blocks)]

#[macro_use]
mod out;
mod app;
mod compile;
mod daemon;
mod device;
mod diag;
mod experiment;
mod files;
mod inspect;
mod invoke;
mod keygen;
mod list;
mod load;
mod log;
mod lsp;
mod pop;
mod progress;
mod run;
mod shell;
mod sign;
mod source;
mod state;
mod top;
mod verify;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};
use out::{Out, OutputError};
use std::path::PathBuf;
use std::process::ExitCode;
use tal_ir::Module;

/// What `safexc --version` prints after the name: the versions an object
/// depends on (the extension ABI, the code generator) and the commit built.
fn version() -> String {
    format!(
        "{} (ABI {}, Cranelift {}, commit {})",
        env!("CARGO_PKG_VERSION"),
        stdlib::abi::ABI_VERSION,
        codegen::CRANELIFT_VERSION,
        env!("SAFEXC_COMMIT")
    )
}

#[derive(Parser)]
#[command(name = "safexc", version = version(), about = "SafeX: safe, verified kernel extensions")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colour the reports on standard error: auto (when it is a terminal
    /// and NO_COLOR is unset or empty), always or never.
    #[arg(long, global = true, value_enum, default_value = "auto", value_name = "WHEN")]
    color: diag::ColorChoice,
    /// How diagnostics are written on standard error: human, or json (one
    /// object per line, rustc's shape, with a schema version).
    #[arg(long, global = true, value_enum, default_value = "human", value_name = "FORMAT")]
    message_format: diag::MessageFormat,
}

#[derive(Subcommand)]
enum Command {
    /// Check Popcorn-SX files: compile, then verify the TAL; exit 1 if any is rejected.
    Check {
        /// Popcorn-SX files; `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Compile as part of the standard library (allows guards and `block`).
        #[arg(long)]
        stdlib: bool,
    },
    /// Compile Popcorn-SX, or TAL from any front-end, to an object (`-o FILE.o`),
    /// TAL text or binary TAL; status lines go to standard error.
    Compile(compile::CompileArgs),
    /// Verify TAL modules (text or binary) or objects (ELF files: verify the
    /// embedded TAL and check the code is what it compiles to); exit 1 if any is rejected.
    Verify {
        /// Files to verify; `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Stack bound, in bytes, for any entry point's deepest call chain.
        #[arg(long, default_value_t = verifier::Config::default().stack_limit)]
        stack_limit: u64,
        /// Accept only signed objects whose signature verifies with this
        /// public key (`NAME.pub`, written by `safexc keygen`).
        #[arg(long, value_name = "NAME.pub")]
        pubkey: Option<PathBuf>,
    },
    /// Make a signing key: NAME.key (private, mode 0600) and NAME.pub; print
    /// the kernel module's `pubkey=` parameter.
    Keygen(keygen::KeygenArgs),
    /// Run every check a host runs on an object, then write it signed.
    Sign(sign::SignArgs),
    /// Print an object's metadata, TAL, disassembly and relocations; exit 1 if it is malformed.
    Inspect(inspect::InspectArgs),
    /// Run extensions for one application: each tick runs the monitors, then the
    /// handlers on their events, and prints the attribute changes and traps.
    Run(run::RunArgs),
    /// The paper's experiment: kernel-level against user-level CPU service
    /// management with the real extensions, on a simulated CPU; prints the
    /// violations table, writes CSV files, figures and index.html.
    Experiment(experiment::ExperimentArgs),
    /// Load a signed object into the kernel module (`/dev/safex`) as an
    /// extension of an application; print its id.
    Load(load::LoadArgs),
    /// Unload an extension from the kernel module.
    Unload(load::UnloadArgs),
    /// Let a quarantined extension of the kernel module run again.
    Release(load::UnloadArgs),
    /// List the kernel module's extensions, their entry points and counters.
    List(list::ListArgs),
    /// Create or update an application of the kernel module: its task,
    /// period and CPU time per period.
    App(app::AppArgs),
    /// Read an attribute of an application of the kernel module, or write it.
    Attr(app::AttrArgs),
    /// Print the kernel module's log of attribute changes and traps.
    Log(log::LogArgs),
    /// Invoke an entry point of an extension in the kernel module, and time it.
    Invoke(invoke::InvokeArgs),
    /// Run the kernel module's service rounds now, and time them.
    Round(invoke::RoundArgs),
    /// Create an application on the SafeX daemon (`safexd`), owned by the caller.
    CreateApp(daemon::CreateAppArgs),
    /// Deploy an object into one of the caller's applications on the daemon; print its id.
    Deploy(daemon::DeployArgs),
    /// Undeploy an extension from the daemon.
    Undeploy(daemon::UndeployArgs),
    /// List the caller's applications on the daemon, their extensions and counters.
    Ls(daemon::LsArgs),
    /// Grant another uid `r`, `w` or `rw` on one of the caller's applications on the daemon.
    Grant(daemon::GrantArgs),
    /// Take back every right a uid was granted on one of the caller's applications on the daemon.
    Revoke(daemon::RevokeArgs),
    /// Print an application's events, attribute changes, traps and traces as they
    /// come (the daemon's Subscribe).
    Watch(daemon::WatchArgs),
    /// Watch the daemon's extensions live: invocations per second, mean time,
    /// fuel and traps per interval (`--json`: one snapshot).
    Top(top::TopArgs),
    /// Print a shell's completion script (`source <(safexc completions bash)`).
    Completions(shell::CompletionsArgs),
    /// Print the manual page, or write every command's into a folder (`-o DIR`).
    Man(shell::ManArgs),
    /// Explain an error code (`P0310`, `V0701`): what is wrong, why, and an example.
    Explain {
        /// The code, in any case.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        code: Option<String>,
        /// List every documented code with its title, one per line.
        #[arg(long)]
        all: bool,
    },
    /// Run the language server for editors: LSP on standard input and output,
    /// with diagnostics as you type, hover and go to definition.
    #[command(after_help = lsp::HELP)]
    Lsp(lsp::LspArgs),
}

/// What checking one input found: the module if it was accepted, and the
/// one-line summary (`NAME: ok (…)`, `NAME: rejected: CODES`).
pub struct Checked {
    pub module: Option<Module>,
    pub summary: String,
}

impl Checked {
    pub fn rejected(name: &str, codes: &[&str]) -> Checked {
        Checked {
            module: None,
            summary: format!("{name}: rejected: {}", codes.join(", ")),
        }
    }
}

/// Exit status of a command line clap or safexc refuses (`L0003`), as clap's.
const USAGE: u8 = 2;

fn main() -> ExitCode {
    // Like other command-line tools, end quietly when the reader of our
    // output goes away (`safexc explain --all | head`); any other failure
    // to write standard output is `L0002`.
    // SAFETY: setting a signal disposition before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let mut out = Out::stdout();
    let status = match Cli::try_parse() {
        Ok(cli) => {
            diag::set_color(cli.color);
            diag::set_message_format(cli.message_format);
            command(&mut out, cli.command)
        }
        Err(e) => usage(&mut out, &e),
    };
    match status.and_then(|status| out.finish().map(|()| status)) {
        Ok(status) => status,
        Err(e) => {
            errln!("{e}");
            ExitCode::from(1)
        }
    }
}

/// Help and the version go to standard output; every command line clap
/// refuses is `L0003`.
fn usage(out: &mut Out, e: &clap::Error) -> Result<ExitCode, OutputError> {
    let text = e.render().to_string();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            write!(out, "{text}")?;
            return Ok(ExitCode::SUCCESS);
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => err!("error[L0003]: no command given\n\n{text}"),
        _ => err!("error[L0003]: {}", text.strip_prefix("error: ").unwrap_or(&text)),
    }
    Ok(ExitCode::from(USAGE))
}

fn command(out: &mut Out, command: Command) -> Result<ExitCode, OutputError> {
    match command {
        Command::Check { files: paths, stdlib } => {
            if !files::stdin_at_most_once(&paths) {
                return Ok(ExitCode::from(USAGE));
            }
            let config = verifier::Config::default();
            let mut all_ok = true;
            for path in &paths {
                let checked = match files::read_input(path) {
                    Some(bytes) => pop::check(path, bytes, stdlib, true, &config),
                    None => Checked::rejected(&files::display_name(path), &["L0001"]),
                };
                writeln!(out, "{}", checked.summary)?;
                all_ok &= checked.module.is_some();
            }
            Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Compile(args) => compile::compile(out, args),
        Command::Verify {
            files: paths,
            stack_limit,
            pubkey,
        } => {
            let config = verifier::Config {
                stack_limit,
                ..verifier::Config::default()
            };
            verify::verify(out, &paths, pubkey.as_deref(), &config)
        }
        Command::Keygen(args) => keygen::keygen(out, args),
        Command::Sign(args) => sign::sign(out, args),
        Command::Inspect(args) => inspect::inspect(out, args),
        Command::Run(args) => run::run(out, args),
        Command::Experiment(args) => experiment::experiment(out, args),
        Command::Load(args) => load::load(out, args),
        Command::Unload(args) => load::unload(out, args, false),
        Command::Release(args) => load::unload(out, args, true),
        Command::List(args) => list::list(out, args),
        Command::App(args) => app::app(out, args),
        Command::Attr(args) => app::attr(out, args),
        Command::Log(args) => log::log(out, args),
        Command::Invoke(args) => invoke::invoke(out, args),
        Command::Round(args) => invoke::round(out, args),
        Command::CreateApp(args) => daemon::create_app(out, args),
        Command::Deploy(args) => daemon::deploy(out, args),
        Command::Undeploy(args) => daemon::undeploy(out, args),
        Command::Ls(args) => daemon::ls(out, args),
        Command::Grant(args) => daemon::grant(out, args),
        Command::Revoke(args) => daemon::revoke(out, args),
        Command::Watch(args) => daemon::watch(out, args),
        Command::Top(args) => top::top(out, args),
        Command::Completions(args) => shell::completions(out, Cli::command(), args),
        Command::Man(args) => shell::man(out, Cli::command(), args),
        Command::Explain { code, all } => explain(out, code.as_deref().unwrap_or_default(), all),
        Command::Lsp(args) => Ok(lsp::lsp(args)),
    }
}

/// `safexc explain`: one code's documentation, or (`--all`) the list of codes.
fn explain(out: &mut Out, code: &str, all: bool) -> Result<ExitCode, OutputError> {
    let mut docs = diag::code_docs();
    if all {
        docs.sort_by_key(|d| d[0]);
        for [code, title, ..] in docs {
            writeln!(out, "{code}  {title}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let wanted = code.trim();
    let Some(&[code, title, explanation, example]) = docs.iter().find(|d| d[0].eq_ignore_ascii_case(wanted)) else {
        errln!(
            "error: `{code}` is not a documented error code. Codes are P0xxx (Popcorn-SX front-end), V0xxx (TAL \
             formats and verifier), C0xxx (objects and code generation), L0xxx (loader and command line) and \
             D0xxx (the daemon, safexd, and its clients); `safexc explain --all` lists them."
        );
        return Ok(ExitCode::from(1));
    };
    writeln!(out, "{code}: {title}\n")?;
    let mut line = String::new();
    for word in explanation.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > 78 {
            writeln!(out, "{line}")?;
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    writeln!(out, "{line}")?;
    if example.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "\nExample:")?;
    for l in example.lines() {
        let indent = if l.is_empty() { "" } else { "    " };
        writeln!(out, "{indent}{l}")?;
    }
    Ok(ExitCode::SUCCESS)
}
