//! `safexc experiment`: the paper's experiment (`qos`), kernel-level
//! against user-level CPU service management, every setup and policy asked
//! for; prints the violations table and writes the CSV files, the figures
//! and `index.html` into a folder.

use crate::out::{Out, OutputError};
use indicatif::{ProgressBar, ProgressStyle};
use qos::experiment::{Management, RunConfig, Setup};
use qos::report;
use qos::sched::Policy;
use std::path::PathBuf;
use std::process::ExitCode;

/// The longest run: an hour of simulated time.
const MAX_SECONDS: u64 = 3_600;

#[derive(clap::Args)]
pub struct ExperimentArgs {
    /// Simulated seconds per run, 1 to 3600.
    #[arg(long, default_value_t = 120, allow_negative_numbers = true,
          value_parser = clap::value_parser!(u64).range(1..=MAX_SECONDS))]
    seconds: u64,
    /// Seed of the disturbance's bursts: the same seed, the same bytes out.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The paper's setup: A (MPEG-like), B (hardloops), or all.
    #[arg(long, default_value = "all", value_parser = ["A", "B", "a", "b", "all"])]
    setup: String,
    /// The scheduling policy: fifo, rr, or all.
    #[arg(long, default_value = "all", value_parser = ["fifo", "rr", "FIFO", "RR", "all"])]
    policy: String,
    /// SCHED_RR's quantum, in milliseconds: 1 to 10000.
    #[arg(long, default_value_t = 100, allow_negative_numbers = true,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    quantum_ms: u64,
    /// The folder to write into (created; the same options write the same
    /// files): by default `experiment-seed-N` in the current directory.
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn setups(s: &str) -> Vec<Setup> {
    match s {
        "A" | "a" => vec![Setup::A],
        "B" | "b" => vec![Setup::B],
        _ => vec![Setup::A, Setup::B],
    }
}

fn policies(p: &str) -> Vec<Policy> {
    match p {
        "fifo" | "FIFO" => vec![Policy::Fifo],
        "rr" | "RR" => vec![Policy::Rr],
        _ => vec![Policy::Fifo, Policy::Rr],
    }
}

fn fail(code: &str, message: impl std::fmt::Display) -> Result<ExitCode, OutputError> {
    errln!("error[{code}]: {message}");
    Ok(ExitCode::from(1))
}

pub fn experiment(out: &mut Out, args: ExperimentArgs) -> Result<ExitCode, OutputError> {
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("experiment-seed-{}", args.seed)));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail("L0002", format!("cannot create {}: {e}", dir.display()));
    }
    let base = RunConfig {
        length: args.seconds * 1_000_000,
        seed: args.seed,
        quantum: args.quantum_ms * 1_000,
        ..RunConfig::new(Setup::A, Policy::Fifo, Management::Kernel)
    };
    let configs = report::configs(&base, &setups(&args.setup), &policies(&args.policy));
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(configs.len() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} runs  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let experiment = report::run(configs, |c| {
        bar.set_message(format!(
            "setup {}, SCHED_{}, {}-level",
            report::setup_name(c.setup),
            report::policy_name(c.policy),
            report::management_name(c.management)
        ));
        bar.inc(1);
    });
    bar.finish_and_clear();
    let experiment = match experiment {
        Ok(e) => e,
        Err(e) => return fail("L0120", format!("a run failed: {e}")),
    };
    if let Err(e) = experiment.write_csv(&dir) {
        return fail("L0002", format!("cannot write into {}: {e}", dir.display()));
    }
    let notes = format!(
        "Simulated: {} s per run, seed {}, SCHED_RR quantum {} ms, the paper's costs; the extensions are \
         examples/pop/cpu_pid.pop and the standard timeslice guard, run by the SafeX host (safexc experiment).",
        args.seconds, args.seed, args.quantum_ms
    );
    if let Err(e) = qos::plot::write(&experiment, &dir, &notes) {
        return fail("L0002", e);
    }
    write!(out, "{}\n{}", experiment.table(), experiment.runs_table())?;
    writeln!(
        out,
        "\n{} runs of {} s (simulated, seed {}); figures, CSV files and index.html in {}",
        experiment.runs.len(),
        args.seconds,
        args.seed,
        dir.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
