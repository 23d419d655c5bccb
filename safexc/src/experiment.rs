//! `safexc experiment`: the paper's experiment (`qos`), kernel-level
//! against user-level CPU service management, every setup and policy asked
//! for; prints the violations table and writes the CSV files, the figures
//! and `index.html` into a folder.

use crate::out::{Out, OutputError};
use indicatif::{ProgressBar, ProgressStyle};
use qos::bench;
use qos::experiment::{Costs, Management, RunConfig, Setup};
use qos::real;
use qos::report::{self, Experiment, Run};
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
    /// SCHED_RR's quantum, in milliseconds: 1 to 10000 (simulated runs;
    /// a real run has the kernel's).
    #[arg(long, default_value_t = 100, allow_negative_numbers = true, conflicts_with = "real",
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
    #[arg(
        long,
        default_value = "measured",
        value_name = "measured|paper|FILE",
        conflicts_with = "real"
    )]
    costs: String,
    /// Only measure the paper's Benchmarks slide on this machine and print
    /// it beside the paper's values (and write `costs.txt` with `-o`).
    #[arg(long)]
    bench: bool,
    /// With `--bench` or `--real --kernel`, the loader module loaded:
    /// `examples/obj/cpu_pid.o` signed with the module's key, for the
    /// in-kernel row or the kernel-level side.
    #[arg(long, value_name = "FILE")]
    signed_pid: Option<PathBuf>,
    /// With `--signed-pid`: the timeslice guard signed likewise, installed
    /// for the measurement or the runs when the module has none.
    #[arg(long, value_name = "FILE", requires = "signed_pid")]
    signed_guard: Option<PathBuf>,
    /// Run on this machine's real scheduler instead of the simulation
    /// (Linux, root, two CPUs: real processes pinned to the last CPU at
    /// real-time priorities; takes the runs' whole length).
    #[arg(long, conflicts_with = "bench")]
    real: bool,
    /// With `--real`: the loader module's in-kernel service manager as the
    /// kernel-level side (`/dev/safex`, one CPU: the guest of
    /// kmod/tests/qemu.sh), the extensions from `--signed-pid` and
    /// `--signed-guard`.
    #[arg(long, requires_all = ["real", "signed_pid"])]
    kernel: bool,
    /// With `--kernel`: the module's device.
    #[arg(long, value_name = "PATH", default_value = "/dev/safex", requires = "kernel")]
    device: PathBuf,
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
fn measure(quiet: bool, options: &bench::Options) -> Result<bench::Measured, String> {
    let spinner = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    let measured = bench::measure(options, |what| spinner.set_message(format!("measuring {what}")));
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
            let m = measure(args.quiet, &bench::Options::default())
                .map_err(|e| ("L0121", format!("measuring this machine failed: {e}")))?;
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
    let read = |path: &Option<PathBuf>| -> Result<Option<Vec<u8>>, String> {
        path.as_ref()
            .map(|p| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display())))
            .transpose()
    };
    let options = match (read(&args.signed_pid), read(&args.signed_guard)) {
        (Ok(signed_pid), Ok(signed_guard)) => bench::Options {
            signed_pid,
            signed_guard,
            ..bench::Options::default()
        },
        (Err(e), _) | (_, Err(e)) => return fail("L0001", e),
    };
    let measured = match measure(args.quiet, &options) {
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

/// Every run, simulated: one step of the bar a run.
fn simulate(configs: Vec<RunConfig>, quiet: bool) -> Result<Experiment, String> {
    let bar = bar(quiet, configs.len() as u64, "{bar:30} {pos}/{len} runs  {msg}");
    let experiment = report::run(configs, |c| {
        bar.set_message(describe(c));
        bar.inc(1);
    });
    bar.finish_and_clear();
    experiment
}

/// Real runs, and how their measurement went.
struct RealRuns {
    experiment: Experiment,
    /// The latest a measurement sample was, µs.
    lateness: u64,
    /// The most CPU time a sample took, µs.
    busiest: u64,
}

/// Every run on this machine's scheduler: one step of the bar a second.
fn run_for_real(
    configs: Vec<RunConfig>,
    kernel: Option<&real::KernelModule>,
    quiet: bool,
) -> Result<RealRuns, (&'static str, String)> {
    real::permitted(kernel).map_err(|why| ("L0123", format!("real mode cannot run here: {why}")))?;
    let total: u64 = configs.iter().map(|c| report::seconds(c.length)).sum();
    let bar = bar(quiet, total, "{bar:30} {pos}/{len} s  {msg}");
    let (mut runs, mut lateness, mut busiest) = (Vec::new(), 0, 0);
    // With the module, the user-level runs go first: after a kernel-level
    // run has detached its tasks, a 6.12 guest once counted its deadline
    // bandwidth below zero (`total_bw` -209377, an unsigned underflow), and
    // refused every later reservation, the user-level measurement thread's
    // included, until reboot. The report keeps the configurations' order.
    let mut order: Vec<(usize, RunConfig)> = configs.into_iter().enumerate().collect();
    if kernel.is_some() {
        order.sort_by_key(|(i, c)| (c.management == Management::Kernel, *i));
    }
    for (index, config) in order {
        bar.set_message(describe(&config));
        let done = bar.position();
        let run = real::run_real(&config, kernel, |elapsed| bar.set_position(done + elapsed / 1_000_000));
        let run = run.map_err(|e| ("L0124", format!("a real run ({}) failed: {e}", describe(&config))))?;
        bar.set_position(done + report::seconds(config.length));
        lateness = lateness.max(run.lateness);
        busiest = busiest.max(run.busiest_sample);
        runs.push((
            index,
            Run {
                config,
                result: run.result,
            },
        ));
    }
    runs.sort_by_key(|(index, _)| *index);
    let runs = runs.into_iter().map(|(_, run)| run).collect();
    bar.finish_and_clear();
    Ok(RealRuns {
        experiment: Experiment { runs },
        lateness,
        busiest,
    })
}

fn bar(quiet: bool, len: u64, template: &str) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(len)
    };
    bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar
}

fn describe(c: &RunConfig) -> String {
    format!(
        "setup {}, SCHED_{}, {}-level",
        report::setup_name(c.setup),
        report::policy_name(c.policy),
        report::management_name(c.management)
    )
}

pub fn experiment(out: &mut Out, args: ExperimentArgs) -> Result<ExitCode, OutputError> {
    if args.signed_pid.is_some() && !args.bench && !args.kernel {
        errln!("error[L0003]: --signed-pid is for --bench or --real --kernel");
        return Ok(ExitCode::from(crate::USAGE));
    }
    if args.bench {
        return bench_only(out, &args);
    }
    let kernel = match kernel_module(&args) {
        Ok(k) => k,
        Err(e) => return fail("L0001", e),
    };
    let (costs, origin) = if args.real {
        (Costs::PAPER, "real (paid, not charged)".to_string())
    } else {
        match costs(&args) {
            Ok(c) => c,
            Err((code, message)) => return fail(code, message),
        }
    };
    let base = RunConfig {
        length: args.seconds * 1_000_000,
        seed: args.seed,
        quantum: args.quantum_ms * 1_000,
        costs,
        ..RunConfig::new(Setup::A, Policy::Fifo, Management::Kernel)
    };
    let configs = report::configs(&base, &setups(&args.setup), &policies(&args.policy));
    let kind = match (args.real, args.kernel) {
        (true, true) if emulated() => "real, in-kernel, emulated",
        (true, true) => "real, in-kernel",
        (true, false) => "real",
        _ => "simulated",
    };
    let dir = args.out.clone().unwrap_or_else(|| {
        let real = match (args.real, args.kernel) {
            (true, true) => "-real-kernel",
            (true, false) => "-real",
            _ => "",
        };
        PathBuf::from(format!("experiment{real}-seed-{}", args.seed))
    });
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail("L0002", format!("cannot create {}: {e}", dir.display()));
    }
    if !args.real
        && let Err(e) = write_costs(&dir, &costs, &origin)
    {
        return fail("L0002", e);
    }
    let mut lateness = None;
    let experiment = if args.real {
        match run_for_real(configs, kernel.as_ref(), args.quiet) {
            Ok(r) => {
                lateness = Some((r.lateness, r.busiest));
                r.experiment
            }
            Err((code, message)) => return fail(code, message),
        }
    } else {
        match simulate(configs, args.quiet) {
            Ok(e) => e,
            Err(e) => return fail("L0120", format!("a run failed: {e}")),
        }
    };
    if let Err(e) = experiment.write_csv(&dir) {
        return fail("L0002", format!("cannot write into {}: {e}", dir.display()));
    }
    let how = if args.kernel {
        format!(
            "Real, in-kernel: {}'s Linux scheduler{}, the processes and the disturbance real processes on its one \
             CPU, the user-level manager a thread at 96, the kernel-level side the loader module's in-kernel \
             service manager (kmod/, SCHED_DEADLINE reservations; qos::real)",
            kernel_release(),
            if emulated() { " (emulated: a QEMU guest)" } else { "" }
        )
    } else if args.real {
        "Real: this machine's Linux scheduler, the processes and the disturbance real processes pinned to one CPU, \
         the user-level manager a thread at 96, the kernel-level side a stand-in thread at 97 (qos::real)"
            .to_string()
    } else {
        format!("Simulated: SCHED_RR quantum {} ms, costs {origin}", args.quantum_ms)
    };
    let notes = format!(
        "{how}; {} s per run, seed {}; the extensions are examples/pop/cpu_pid.pop and the standard timeslice \
         guard, run by the SafeX host (safexc experiment).",
        args.seconds, args.seed
    );
    if let Err(e) = qos::plot::write(&experiment, &dir, &notes) {
        return fail("L0002", e);
    }
    write!(out, "{}\n{}", experiment.table(), experiment.runs_table())?;
    if let Some((late, busiest)) = lateness {
        writeln!(
            out,
            "\nThe measurement's latest sample was {late} µs late; its busiest took {busiest} µs of CPU time."
        )?;
    }
    let costs = if args.real {
        String::new()
    } else {
        format!(", costs {origin}")
    };
    writeln!(
        out,
        "\n{} runs of {} s ({kind}, seed {}{costs}); figures, CSV files and index.html in {}",
        experiment.runs.len(),
        args.seconds,
        args.seed,
        dir.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The module and the objects of `--real --kernel`.
fn kernel_module(args: &ExperimentArgs) -> Result<Option<real::KernelModule>, String> {
    if !args.kernel {
        return Ok(None);
    }
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let Some(pid) = &args.signed_pid else {
        return Err("--kernel needs --signed-pid".into());
    };
    Ok(Some(real::KernelModule {
        device: args.device.clone(),
        signed_pid: read(pid)?,
        signed_guard: args.signed_guard.as_deref().map(read).transpose()?,
    }))
}

/// This kernel's release (`uname -r`).
fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(|_| "this kernel".into(), |r| r.trim().into())
}

/// Whether this machine is a QEMU guest (its firmware says so).
fn emulated() -> bool {
    std::fs::read_to_string("/sys/class/dmi/id/sys_vendor").is_ok_and(|v| v.trim() == "QEMU")
}
