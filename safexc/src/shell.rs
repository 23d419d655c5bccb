//! `safexc completions SHELL` and `safexc man`: the conventions of a
//! command-line tool, generated from the same clap definition that parses
//! the command line, so they cannot drift from it.

use crate::out::{Out, OutputError};
use clap::Command;
use clap_complete::Shell;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// Write `safexc.1` and one page per command (`safexc-verify.1`, …) into
    /// this folder, which must exist; without it, print `safexc.1`.
    #[arg(short, long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

/// Prints the completion script for `args.shell` (`source <(safexc
/// completions bash)`, or into the shell's completion folder).
pub fn completions(out: &mut Out, mut cli: Command, args: CompletionsArgs) -> Result<ExitCode, OutputError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cli, "safexc", &mut script);
    out.write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the main page, or writes every page into a folder (`L0002` if one
/// cannot be written).
pub fn man(out: &mut Out, cli: Command, args: ManArgs) -> Result<ExitCode, OutputError> {
    let Some(dir) = args.out_dir else {
        out.write_all(&page(&cli))?;
        return Ok(ExitCode::SUCCESS);
    };
    let mut pages = vec![("safexc.1".to_string(), page(&cli))];
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        // The page's own name, so that its NAME and SYNOPSIS read `safexc-verify`.
        let name = format!("safexc-{}", sub.get_name());
        let sub = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("safexc {}", sub.get_name()));
        pages.push((format!("{name}.1"), page(&sub)));
    }
    for (file, text) in &pages {
        if !crate::files::write_output(&dir.join(file), text) {
            return Ok(ExitCode::from(1));
        }
    }
    writeln!(out, "{} pages written to {}", pages.len(), dir.display())?;
    Ok(ExitCode::SUCCESS)
}

/// One page in roff.
fn page(cmd: &Command) -> Vec<u8> {
    let mut roff = Vec::new();
    // Rendering into memory cannot fail.
    let _ = clap_mangen::Man::new(cmd.clone()).render(&mut roff);
    roff
}
