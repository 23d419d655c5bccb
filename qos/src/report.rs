//! The experiment's runs together: every setup, policy and kind of
//! management asked for, the violations table, and the CSV files.
//!
//! Everything written is a function of the options (the seed included):
//! the same options write the same bytes.

use crate::experiment::{self, Management, RunConfig, RunResult, Setup};
use crate::sched::{Policy, Us};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One configuration and what it produced.
#[derive(Clone, Debug)]
pub struct Run {
    pub config: RunConfig,
    pub result: RunResult,
}

/// Every run of an experiment, kernel-level before user-level for each
/// setup and policy.
#[derive(Clone, Debug)]
pub struct Experiment {
    pub runs: Vec<Run>,
}

pub fn setup_name(s: Setup) -> &'static str {
    match s {
        Setup::A => "A",
        Setup::B => "B",
    }
}

pub fn policy_name(p: Policy) -> &'static str {
    match p {
        Policy::Fifo => "FIFO",
        Policy::Rr => "RR",
    }
}

pub fn management_name(m: Management) -> &'static str {
    match m {
        Management::Kernel => "kernel",
        Management::User => "user",
    }
}

/// The configurations of an experiment over these setups and policies,
/// each kernel-level and user-level, with `base`'s length, seed, quantum,
/// costs and MMPP; the disturbance's promise is each setup's own.
pub fn configs(base: &RunConfig, setups: &[Setup], policies: &[Policy]) -> Vec<RunConfig> {
    let mut all = Vec::new();
    for &setup in setups {
        for &policy in policies {
            for management in [Management::Kernel, Management::User] {
                // The disturbance's promise is the setup's: not the base's.
                all.push(RunConfig {
                    length: base.length,
                    seed: base.seed,
                    quantum: base.quantum,
                    costs: base.costs,
                    mmpp: base.mmpp,
                    ..RunConfig::new(setup, policy, management)
                });
            }
        }
    }
    all
}

/// Runs every configuration, calling `progress` before each.
pub fn run(configs: Vec<RunConfig>, mut progress: impl FnMut(&RunConfig)) -> Result<Experiment, String> {
    let mut runs = Vec::with_capacity(configs.len());
    for config in configs {
        progress(&config);
        let result = experiment::run(&config)?;
        runs.push(Run { config, result });
    }
    Ok(Experiment { runs })
}

impl Experiment {
    /// The kernel-level and user-level runs of each setup and policy.
    pub fn pairs(&self) -> impl Iterator<Item = (&Run, &Run)> {
        self.runs.chunks(2).filter_map(|pair| match pair {
            [kernel, user] => Some((kernel, user)),
            _ => None,
        })
    }

    /// Service violations per process, kernel-level beside user-level.
    pub fn table(&self) -> String {
        let mut t = String::from(
            "| setup | policy | process | target | periods | violations, kernel-level | violations, user-level |\n\
             |---|---|---|---|---:|---:|---:|\n",
        );
        for (kernel, user) in self.pairs() {
            let (setup, policy) = (setup_name(kernel.config.setup), policy_name(kernel.config.policy));
            for (k, u) in kernel.result.processes.iter().zip(&user.result.processes) {
                let _ = writeln!(
                    t,
                    "| {setup} | {policy} | {} | {} ms / {} ms | {} | {} | {} |",
                    k.process.name,
                    k.process.target / 1000,
                    k.process.period / 1000,
                    k.periods,
                    k.violations,
                    u.violations
                );
            }
            let _ = writeln!(
                t,
                "| {setup} | {policy} | all | | {} | **{}** | **{}** |",
                kernel.result.processes.iter().map(|p| p.periods).sum::<u64>(),
                kernel.result.violations(),
                user.result.violations()
            );
        }
        t
    }

    /// How the management itself fared, a run a row: service rounds run,
    /// those during a burst, the longest time between two, the
    /// extensions' invocations, and (kernel-level) reservations the
    /// scheduler's admission control refused.
    pub fn runs_table(&self) -> String {
        let mut t = String::from(
            "| setup | policy | management | rounds | rounds in bursts | longest gap | invocations | reservations refused |\n\
             |---|---|---|---:|---:|---:|---:|---:|\n",
        );
        for run in &self.runs {
            let (c, r) = (&run.config, &run.result);
            let refused = match c.management {
                Management::Kernel => r.reservations_refused.to_string(),
                Management::User => "-".into(),
            };
            let _ = writeln!(
                t,
                "| {} | {} | {}-level | {} | {} | {} ms | {} | {refused} |",
                setup_name(c.setup),
                policy_name(c.policy),
                management_name(c.management),
                r.rounds,
                r.rounds_in_bursts,
                r.longest_gap / 1000,
                r.invocations
            );
        }
        t
    }

    /// Writes the CSV files into `dir` (which must exist); returns their paths.
    ///
    /// - `violations.csv`: per setup, policy and process, periods and
    ///   violations under each kind of management;
    /// - `runs.csv`: per run, what [`Experiment::runs_table`] shows;
    /// - `utilization-SETUP-POLICY-MANAGEMENT.csv`: per second, each
    ///   process's and the disturbance's CPU share, per mille;
    /// - `bursts.csv`: the disturbance's bursts (the same in every run of
    ///   one seed), µs.
    pub fn write_csv(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        let mut write = |name: String, text: String| -> std::io::Result<()> {
            let path = dir.join(name);
            std::fs::write(&path, text)?;
            written.push(path);
            Ok(())
        };
        let mut v =
            String::from("setup,policy,process,target_us,period_us,periods,kernel_violations,user_violations\n");
        for (kernel, user) in self.pairs() {
            for (k, u) in kernel.result.processes.iter().zip(&user.result.processes) {
                let _ = writeln!(
                    v,
                    "{},{},{},{},{},{},{},{}",
                    setup_name(kernel.config.setup),
                    policy_name(kernel.config.policy),
                    k.process.name,
                    k.process.target,
                    k.process.period,
                    k.periods,
                    k.violations,
                    u.violations
                );
            }
        }
        write("violations.csv".into(), v)?;
        let mut runs = String::from(
            "setup,policy,management,rounds,rounds_in_bursts,longest_gap_us,invocations,reservations_refused\n",
        );
        for run in &self.runs {
            let (c, r) = (&run.config, &run.result);
            let _ = writeln!(
                runs,
                "{},{},{},{},{},{},{},{}",
                setup_name(c.setup),
                policy_name(c.policy),
                management_name(c.management),
                r.rounds,
                r.rounds_in_bursts,
                r.longest_gap,
                r.invocations,
                r.reservations_refused
            );
        }
        write("runs.csv".into(), runs)?;
        for run in &self.runs {
            let r = &run.result;
            let mut u = String::from("second");
            for p in &r.processes {
                let _ = write!(u, ",{}", p.process.name);
            }
            u.push_str(",disturbance\n");
            for s in 0..r.disturbance.len() {
                let _ = write!(u, "{s}");
                for p in &r.processes {
                    let _ = write!(u, ",{}", p.utilization[s]);
                }
                let _ = writeln!(u, ",{}", r.disturbance[s]);
            }
            write(file_stem(&run.config, "utilization", "csv"), u)?;
        }
        if let Some(first) = self.runs.first() {
            let mut b = String::from("start_us,end_us\n");
            for &(start, end) in &first.result.bursts {
                let _ = writeln!(b, "{start},{end}");
            }
            write("bursts.csv".into(), b)?;
        }
        Ok(written)
    }
}

/// `KIND-SETUP-POLICY-MANAGEMENT.EXT`, lower case.
pub fn file_stem(config: &RunConfig, kind: &str, ext: &str) -> String {
    format!(
        "{kind}-{}-{}-{}.{ext}",
        setup_name(config.setup).to_lowercase(),
        policy_name(config.policy).to_lowercase(),
        management_name(config.management),
    )
}

/// The seconds of a run (its length rounded up).
pub fn seconds(length: Us) -> u64 {
    length.div_ceil(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiment(seed: u64) -> Experiment {
        let base = RunConfig {
            length: 20_000_000,
            seed,
            ..RunConfig::new(Setup::B, Policy::Fifo, Management::Kernel)
        };
        run(configs(&base, &[Setup::B], &[Policy::Fifo, Policy::Rr]), |_| {}).unwrap()
    }

    #[test]
    fn each_setup_promises_the_disturbance_what_its_processes_leave() {
        let base = RunConfig {
            seed: 7,
            ..RunConfig::new(Setup::A, Policy::Fifo, Management::Kernel)
        };
        let all = configs(&base, &[Setup::A, Setup::B], &[Policy::Fifo]);
        let promised: Vec<_> = all.iter().map(|c| (c.setup, c.disturbance, c.seed)).collect();
        // A: 20 + 30 + 40 % leave 5 of 95; B: 10 + 20 + 30 % leave 35.
        assert_eq!(
            promised,
            [
                (Setup::A, (5_000, 100_000), 7),
                (Setup::A, (5_000, 100_000), 7),
                (Setup::B, (35_000, 100_000), 7),
                (Setup::B, (35_000, 100_000), 7),
            ]
        );
    }

    #[test]
    fn the_same_seed_writes_the_same_bytes() {
        let dir = std::env::temp_dir().join(format!("qos-report-{}", std::process::id()));
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let files = experiment(5).write_csv(&a).unwrap();
        experiment(5).write_csv(&b).unwrap();
        assert_eq!(files.len(), 2 + 4 + 1);
        for f in &files {
            let name = f.file_name().unwrap();
            assert_eq!(
                std::fs::read(f).unwrap(),
                std::fs::read(b.join(name)).unwrap(),
                "{name:?}"
            );
        }
        let c = dir.join("c");
        std::fs::create_dir_all(&c).unwrap();
        experiment(6).write_csv(&c).unwrap();
        assert_ne!(
            std::fs::read(a.join("bursts.csv")).unwrap(),
            std::fs::read(c.join("bursts.csv")).unwrap()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_table_sets_kernel_beside_user() {
        let e = experiment(1);
        let t = e.table();
        assert!(t.starts_with("| setup | policy | process |"));
        assert!(t.contains("| B | FIFO | P2 | 100 ms / 500 ms | 40 |"), "{t}");
        assert_eq!(t.lines().count(), 2 + 2 * (3 + 1));
        let runs = e.runs_table();
        assert!(runs.contains("| B | FIFO | kernel-level | 2000 |"), "{runs}");
        assert_eq!(runs.lines().count(), 2 + 4);
    }
}
