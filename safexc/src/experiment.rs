//! `safexc experiment`: the paper's experiment (`qos`), kernel-level
//! against user-level CPU service management, every setup and policy asked
//! for; prints the violations table and writes the CSV files, the figures
//! and `index.html` into a folder.

use crate::out::{Out, OutputError};
use indicatif::{ProgressBar, ProgressStyle};
use qos::bench;
use qos::experiment::{Costs, Management, RunConfig, Setup};
use qos::report;
use qos::sched::Policy;
use std::path::{Path, PathBuf};
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
    /// What management costs the simulated CPU: `measured` (this
    /// machine's, measured first, about a second), `paper` (the paper's
    /// Benchmarks slide), or a costs file (`costs.txt` of an earlier run).
    /// The costs used are written to `costs.txt` in the output folder.
    #[arg(long, default_value = "measured", value_name = "measured|paper|FILE")]
    costs: String,
    /// Only measure the paper's Benchmarks slide on this machine and print
    /// it beside the paper's values (and write `costs.txt` with `-o`).
    #[arg(long)]
    bench: bool,
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

/// Measures the Benchmarks slide, with a spinner unless quiet.
fn measure(quiet: bool) -> Result<bench::Measured, String> {
    let spinner = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    let measured = bench::measure(&bench::Options::default(), |what| {
        spinner.set_message(format!("measuring {what}"))
    });
    spinner.finish_and_clear();
    measured
}

/// The costs the simulation charges, and where they come from.
fn costs(args: &ExperimentArgs) -> Result<(Costs, String), (&'static str, String)> {
    match args.costs.as_str() {
        "paper" => Ok((
            Costs::PAPER,
            "the paper's (Benchmarks slide, 500 MHz Pentium III)".into(),
        )),
        "measured" => {
            let m = measure(args.quiet).map_err(|e| ("L0121", format!("measuring this machine failed: {e}")))?;
            Ok((m.costs, format!("measured on this machine ({})", m.machine)))
        }
        file => {
            let text = std::fs::read_to_string(file).map_err(|e| ("L0001", format!("cannot read {file}: {e}")))?;
            let costs = Costs::from_text(&text).map_err(|e| ("L0122", format!("{file}: {e}")))?;
            Ok((costs, format!("from {file}")))
        }
    }
}

fn write_costs(dir: &Path, costs: &Costs, origin: &str) -> Result<(), String> {
    let path = dir.join("costs.txt");
    let text = costs.to_text(&format!("safexc experiment costs, ns: {origin}"));
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn bench_only(out: &mut Out, args: &ExperimentArgs) -> Result<ExitCode, OutputError> {
    let measured = match measure(args.quiet) {
        Ok(m) => m,
        Err(e) => return fail("L0121", format!("measuring this machine failed: {e}")),
    };
    if let Some(dir) = &args.out {
        let written = std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))
            .and_then(|()| write_costs(dir, &measured.costs, &format!("measured on {}", measured.machine)));
        if let Err(e) = written {
            return fail("L0002", e);
        }
    }
    write!(out, "{}", measured.table())?;
    Ok(ExitCode::SUCCESS)
}

pub fn experiment(out: &mut Out, args: ExperimentArgs) -> Result<ExitCode, OutputError> {
    if args.bench {
        return bench_only(out, &args);
    }
    let (costs, origin) = match costs(&args) {
        Ok(c) => c,
        Err((code, message)) => return fail(code, message),
    };
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("experiment-seed-{}", args.seed)));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail("L0002", format!("cannot create {}: {e}", dir.display()));
    }
    if let Err(e) = write_costs(&dir, &costs, &origin) {
        return fail("L0002", e);
    }
    let base = RunConfig {
        length: args.seconds * 1_000_000,
        seed: args.seed,
        quantum: args.quantum_ms * 1_000,
        costs,
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
        "Simulated: {} s per run, seed {}, SCHED_RR quantum {} ms, costs {origin}; the extensions are \
         examples/pop/cpu_pid.pop and the standard timeslice guard, run by the SafeX host (safexc experiment).",
        args.seconds, args.seed, args.quantum_ms
    );
    if let Err(e) = qos::plot::write(&experiment, &dir, &notes) {
        return fail("L0002", e);
    }
    write!(out, "{}\n{}", experiment.table(), experiment.runs_table())?;
    writeln!(
        out,
        "\n{} runs of {} s (simulated, seed {}, costs {origin}); figures, CSV files and index.html in {}",
        experiment.runs.len(),
        args.seconds,
        args.seed,
        dir.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
