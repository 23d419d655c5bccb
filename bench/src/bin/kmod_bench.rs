//! The kernel module against the user-space host, in one process: run in
//! the QEMU guest of `kmod/tests/qemu.sh` by `BENCH=1 kmod/tests/qemu.sh`
//! (the module loaded with `autorun=0`, the standard guard not yet
//! installed). Each measurement alternates a kernel batch and user-space
//! batches (one warm-up of each, then `--alternations`), and reports per
//! operation the median and the spread (min–max) of each side, and the
//! median and spread of each alternation's ratio kernel/user:
//!
//! - One invocation of a trivial extension (`kmod/tests/trivial.pop`, an
//!   empty monitor). Kernel: `SAFEX_IOC_INVOKE` with `repeat` R, its
//!   `elapsed_ns / R` (the module's clock around each invocation) and the
//!   ioctl's wall time / R (one system call per R). User space:
//!   `Host::invoke` R times, timed with `Instant`.
//! - One PID service round over 3 and over 64 applications, each with the
//!   paper's PID extension (`examples/obj/cpu_pid.o`), the standard
//!   timeslice guard installed. Kernel: `SAFEX_IOC_ROUND` with R rounds
//!   (module clock and wall time); user space: `Host::tick` R times. Before
//!   timing, both run [`CHECK_ROUNDS`] rounds from the same state, and must
//!   agree on every application's `timeslice_adjustment` and on every
//!   attribute write of those rounds (value, guard outcome, guard result);
//!   after timing, on `timeslice_adjustment` again, with no trap anywhere.
//!
//! User space is two hosts, each batch of one after the kernel's: the
//! host's default configuration (its 1 ms deadline on, as the module's),
//! the comparison; and the same without a deadline, which shows what
//! enforcing it costs (both look at the clock between slices of fuel).
//!
//! The applications have no task (pid 0): the module measures nothing, and
//! the system writes their inputs on both sides, `qos_init_one(i)`'s of the
//! reference QoS benchmark (`shared/bench/qos_logic.h`): target
//! `100 + (37 i mod 400)` per mille of the CPU, actual the target plus
//! `(i mod 3 − 1)(20 + i)` per mille (a third under, a third at, a third
//! over their target). Over a 10 ms period, a per mille is 10 µs:
//! `target_cpu` = 10 × target µs, `actual_cpu` = 10 × actual µs,
//! `target_util` = target, `avg_util_2p` = actual (qos_init_one's previous
//! period equals its current one). The guard blocks the applications over
//! their target. The PID law has no anti-windup: under a constant error
//! its output grows each round (by 0.6 × the error) until
//! `timeslice_adjustment`'s range (±10^6) refuses it, so every batch (all
//! sides alike) flips the sign of the deviation from the target, which
//! winds it back; at the default batch sizes it stays within about
//! ±1.5 × 10^5 (a larger `--rounds-*` that overflows it fails the run).
//!
//! Objects are read from `--objects DIR` (default `/objects`, qemu.sh's):
//! `trivial.o`, `signed.o` (the PID extension) and `guard.o`, all signed
//! with the module's key; the user-space hosts take the object inside.
//! Every line printed starts with `bench: `. Exit status 1 if the sides
//! disagree or anything fails.

#![forbid(unsafe_code)]

use runtime::device::{DEFAULT_PATH, Device};
use runtime::{AppId, Host, HostConfig, WriteOutcome};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use stdlib::uapi;

/// The applications' period.
const PERIOD_US: u32 = 10_000;
/// Rounds both sides run before the check of their agreement.
const CHECK_ROUNDS: u32 = 10;
/// The user-space hosts: with the deadline (the default), without.
const DEADLINE: [bool; 2] = [true, false];

struct Options {
    device: PathBuf,
    objects: PathBuf,
    alternations: usize,
    invocations: u32,
    rounds_few: u32,
    rounds_many: u32,
}

const USAGE: &str = "usage: kmod_bench [--device PATH] [--objects DIR] [--alternations N] [--invocations N] \
                     [--rounds-3 N] [--rounds-64 N]";

fn options() -> Result<Options, String> {
    let mut o = Options {
        device: DEFAULT_PATH.into(),
        objects: "/objects".into(),
        alternations: 21,
        invocations: 50_000,
        rounds_few: 1_000,
        rounds_many: 100,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| USAGE.to_owned())?;
        let number = || -> Result<u32, String> {
            match value.parse() {
                Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
                _ => Err(format!("{flag} takes a number from 1 to 10^6\n{USAGE}")),
            }
        };
        match flag.as_str() {
            "--device" => o.device = value.into(),
            "--objects" => o.objects = value.into(),
            "--alternations" => o.alternations = number()? as usize,
            "--invocations" => o.invocations = number()?,
            "--rounds-3" => o.rounds_few = number()?,
            "--rounds-64" => o.rounds_many = number()?,
            _ => return Err(USAGE.to_owned()),
        }
    }
    Ok(o)
}

/// What one alternation measured, in nanoseconds per operation.
#[derive(Clone, Copy)]
struct Sample {
    /// The module's own clock.
    kernel: f64,
    /// The ioctl's wall time.
    kernel_wall: f64,
    /// The user-space hosts, in [`DEADLINE`]'s order.
    user: [f64; 2],
}

/// A table row: what was measured, the batch, and the samples.
struct Row {
    what: String,
    batch: String,
    samples: Vec<Sample>,
}

impl Row {
    fn of(&self, f: impl Fn(&Sample) -> f64) -> Vec<f64> {
        self.samples.iter().map(f).collect()
    }
}

/// The median and the range of `values`.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (values[values.len() / 2], values[0], values[values.len() - 1])
}

fn ns(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1} ns")
    } else if v < 10_000.0 {
        format!("{v:.0} ns")
    } else {
        format!("{:.1} µs", v / 1e3)
    }
}

fn time_cell(values: Vec<f64>) -> String {
    let (median, min, max) = spread(values);
    format!("{} ({}–{})", ns(median), ns(min), ns(max))
}

fn ratio_cell(values: Vec<f64>) -> String {
    let (median, min, max) = spread(values);
    format!("{median:.2}x ({min:.2}–{max:.2})")
}

fn print_tables(rows: &[Row]) {
    println!(
        "bench: | measurement | batch | kernel, module clock | kernel, ioctl wall time | user-space host | \
         kernel/user, module clock | kernel/user, wall time |"
    );
    println!("bench: |---|---|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "bench: | {} | {} | {} | {} | {} | {} | {} |",
            r.what,
            r.batch,
            time_cell(r.of(|s| s.kernel)),
            time_cell(r.of(|s| s.kernel_wall)),
            time_cell(r.of(|s| s.user[0])),
            ratio_cell(r.of(|s| s.kernel / s.user[0])),
            ratio_cell(r.of(|s| s.kernel_wall / s.user[0])),
        );
    }
    println!("bench:");
    println!(
        "bench: | measurement | user-space host without a deadline | user-space host, deadline/none | \
         kernel/user without a deadline, module clock |"
    );
    println!("bench: |---|---:|---:|---:|");
    for r in rows {
        println!(
            "bench: | {} | {} | {} | {} |",
            r.what,
            time_cell(r.of(|s| s.user[1])),
            ratio_cell(r.of(|s| s.user[0] / s.user[1])),
            ratio_cell(r.of(|s| s.kernel / s.user[1])),
        );
    }
}

/// The kernel's errno as an error message.
fn errno(what: &str) -> impl Fn(i32) -> String + '_ {
    move |e| format!("{what}: {}", std::io::Error::from_raw_os_error(e))
}

/// A signed object's bytes and the object inside (what the user-space host loads).
fn signed_object(path: &Path) -> Result<(Vec<u8>, Vec<u8>), String> {
    let signed = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let object = match runtime::signed::split(&signed) {
        Ok(Some((object, _))) => object.to_vec(),
        Ok(None) => return Err(format!("{}: not signed", path.display())),
        Err(e) => return Err(format!("{}: {}", path.display(), e.message)),
    };
    Ok((signed, object))
}

/// A user-space host with the standard classes and guards: the default
/// configuration, or without a deadline.
fn user_host(deadline: bool) -> Result<Host, String> {
    let config = if deadline {
        HostConfig::default()
    } else {
        HostConfig {
            deadline: None,
            ..HostConfig::default()
        }
    };
    runtime::system::host(config, true)
}

/// `qos_init_one(i)`'s target and actual CPU share, per mille, the
/// deviation from the target multiplied by `sign`.
fn qos_inputs(i: usize, sign: i64) -> (i64, i64) {
    let i = i as i64;
    let target = 100 + (i * 37) % 400;
    let delta = (i % 3 - 1) * (20 + i);
    (target, target + sign * delta)
}

/// Microseconds of a per mille of the period.
const US_PER_MILLE: i64 = PERIOD_US as i64 / 1000;

fn app_name(i: usize) -> String {
    format!("b{i}")
}

/// Nanoseconds per operation of `ops` operations that took `ns`.
fn per(ns: f64, ops: u32) -> f64 {
    ns / f64::from(ops)
}

/// A user-space host and its applications.
struct User {
    host: Host,
    apps: Vec<AppId>,
}

/// The attribute writes of some rounds, comparable between the kernel's
/// log and a host's reports: application index, old value, new value,
/// outcome (`SAFEX_CHANGE_*`) and the guard's result (0 unless written).
type Write = (usize, i64, i64, u32, i64);

/// Both sides of a service-round measurement.
struct Rounds<'a> {
    dev: &'a Device,
    /// Application names, ids and the extension of each in the kernel.
    kernel: Vec<(String, u32, u32)>,
    users: Vec<User>,
}

impl<'a> Rounds<'a> {
    /// `n` applications on every side, each with the PID extension, its
    /// inputs and `timeslice_adjustment` 0; applications the kernel has
    /// from before are updated.
    fn new(dev: &'a Device, n: usize, pid: &(Vec<u8>, Vec<u8>)) -> Result<Rounds<'a>, String> {
        let mut kernel = Vec::new();
        let mut users = DEADLINE
            .iter()
            .map(|&w| {
                Ok(User {
                    host: user_host(w)?,
                    apps: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        for i in 0..n {
            let name = app_name(i);
            let (target, _) = qos_inputs(i, 1);
            let id = dev
                .app(&name, 0, PERIOD_US, (target * US_PER_MILLE) as u64)
                .map_err(errno("SAFEX_IOC_APP"))?;
            dev.attr(&name, "timeslice_adjustment", Some(0))
                .map_err(errno("SAFEX_IOC_ATTR"))?;
            kernel.push((name.clone(), id, 0));
            for user in &mut users {
                let app = user.host.create_app(&name).map_err(|e| e.to_string())?;
                for (attr, value) in [
                    ("period", i64::from(PERIOD_US)),
                    ("target_cpu", target * US_PER_MILLE),
                    ("target_util", target),
                ] {
                    user.host.write_attribute(app, attr, value).map_err(|e| e.to_string())?;
                }
                user.apps.push(app);
            }
        }
        let mut rounds = Rounds { dev, kernel, users };
        rounds.set_inputs(1)?;
        for (i, (name, _, ext)) in rounds.kernel.iter_mut().enumerate() {
            *ext = dev.load(&pid.0, name, 0).map_err(errno("SAFEX_IOC_LOAD"))?;
            for user in &mut rounds.users {
                user.host
                    .load(user.apps[i], &pid.1)
                    .map_err(|e| format!("Host::load: {e}"))?;
            }
        }
        Ok(rounds)
    }

    /// Writes every application's measurements on every side, the
    /// deviation from the target multiplied by `sign`.
    fn set_inputs(&mut self, sign: i64) -> Result<(), String> {
        for (i, (name, _, _)) in self.kernel.iter().enumerate() {
            let (_, actual) = qos_inputs(i, sign);
            for (attr, value) in [("actual_cpu", actual * US_PER_MILLE), ("avg_util_2p", actual)] {
                self.dev
                    .attr(name, attr, Some(value))
                    .map_err(errno("SAFEX_IOC_ATTR"))?;
                for user in &mut self.users {
                    user.host
                        .write_attribute(user.apps[i], attr, value)
                        .map_err(|e| e.to_string())?;
                }
            }
        }
        Ok(())
    }

    /// The first application whose `timeslice_adjustment` differs between
    /// the kernel and a host.
    fn disagreement(&self) -> Result<Option<String>, String> {
        for (i, (name, _, _)) in self.kernel.iter().enumerate() {
            let k = self
                .dev
                .attr(name, "timeslice_adjustment", None)
                .map_err(errno("SAFEX_IOC_ATTR"))?;
            for user in &self.users {
                let u = user
                    .host
                    .attribute(user.apps[i], "timeslice_adjustment")
                    .map_err(|e| e.to_string())?;
                if k != u {
                    return Ok(Some(format!(
                        "application {i}: timeslice_adjustment {k} in the kernel, {u} in the host"
                    )));
                }
            }
        }
        Ok(None)
    }

    /// The kernel's attribute writes logged from sequence number `from` on.
    fn kernel_writes(&self, from: u64) -> Result<Vec<Write>, String> {
        let index: HashMap<u32, usize> = self.kernel.iter().enumerate().map(|(i, k)| (k.1, i)).collect();
        let mut writes = Vec::new();
        let mut next = from;
        loop {
            let read = self.dev.log(next, 1024).map_err(errno("SAFEX_IOC_LOG"))?;
            if read.lost != 0 {
                return Err(format!("the kernel's log lost {} records", read.lost));
            }
            if read.records.is_empty() {
                return Ok(writes);
            }
            for r in &read.records {
                match r.kind {
                    uapi::LOG_CHANGE => {
                        let app = *index.get(&r.app).ok_or("a change of no application")?;
                        let applied = if r.outcome == uapi::CHANGE_WRITTEN {
                            r.applied
                        } else {
                            0
                        };
                        writes.push((app, r.old_value, r.new_value, r.outcome, applied));
                    }
                    uapi::LOG_TRAP => return Err(format!("the kernel trapped: status {}", r.status)),
                    _ => {}
                }
            }
            next = read.next;
        }
    }

    /// Runs `CHECK_ROUNDS` rounds on every side; the attribute writes of
    /// the kernel's log and of the hosts' reports must be the same, and so
    /// must every `timeslice_adjustment` after them. The number of writes.
    fn check(&mut self) -> Result<usize, String> {
        let from = log_end(self.dev)?;
        self.dev.round(CHECK_ROUNDS).map_err(errno("SAFEX_IOC_ROUND"))?;
        let kernel = self.kernel_writes(from)?;
        for user in &mut self.users {
            let mut writes = Vec::new();
            for _ in 0..CHECK_ROUNDS {
                let mut report = runtime::manager::TickReport::default();
                user.host.tick(&mut report);
                if let Some(t) = report.traps.first() {
                    return Err(format!("the host trapped: {:?}", t.trap));
                }
                for c in report.changes {
                    let app = user
                        .apps
                        .iter()
                        .position(|&a| a == c.app)
                        .ok_or("a change of no application")?;
                    let (outcome, applied) = match c.outcome {
                        WriteOutcome::Written { applied } => (uapi::CHANGE_WRITTEN, applied.unwrap_or(0)),
                        WriteOutcome::Blocked => (uapi::CHANGE_BLOCKED, 0),
                        WriteOutcome::GuardTrapped(_) => (uapi::CHANGE_GUARD_TRAPPED, 0),
                    };
                    writes.push((app, c.old, c.new, outcome, applied));
                }
            }
            if writes != kernel {
                let first = kernel.iter().zip(&writes).position(|(k, u)| k != u);
                return Err(format!(
                    "the kernel made {} attribute writes, the host {}; the first that differs: {first:?}",
                    kernel.len(),
                    writes.len()
                ));
            }
        }
        match self.disagreement()? {
            Some(why) => Err(why),
            None => Ok(kernel.len()),
        }
    }

    /// One alternation: `rounds` kernel rounds, then as many ticks of each host.
    fn alternation(&mut self, rounds: u32, sign: i64) -> Result<Sample, String> {
        self.set_inputs(sign)?;
        let start = Instant::now();
        let kernel = self.dev.round(rounds).map_err(errno("SAFEX_IOC_ROUND"))?;
        let kernel_wall = start.elapsed();
        let mut user = [0.0; 2];
        for (k, u) in self.users.iter_mut().enumerate() {
            let mut trapped = false;
            let mut report = runtime::manager::TickReport::default();
            let start = Instant::now();
            for _ in 0..rounds {
                u.host.tick(&mut report);
                trapped |= !report.traps.is_empty();
            }
            user[k] = per(start.elapsed().as_secs_f64() * 1e9, rounds);
            if trapped {
                return Err("the host trapped".into());
            }
        }
        Ok(Sample {
            kernel: per(kernel as f64, rounds),
            kernel_wall: per(kernel_wall.as_secs_f64() * 1e9, rounds),
            user,
        })
    }

    /// No extension trapped on any side; unloads the kernel's.
    fn finish(self) -> Result<(), String> {
        let exts = self.dev.list().map_err(errno("SAFEX_IOC_LIST"))?;
        for x in exts.iter().filter(|x| self.kernel.iter().any(|k| k.2 == x.id)) {
            if x.aborts != 0 || x.deadlines != 0 || x.state != uapi::STATE_ACTIVE {
                return Err(format!("kernel extension {} trapped ({} aborts)", x.id, x.aborts));
            }
        }
        for user in &self.users {
            for &app in &user.apps {
                for &ext in user.host.extensions(app) {
                    let aborts = user.host.counters(ext).map_or(0, |c| c.aborts);
                    if aborts != 0 {
                        return Err(format!("a host extension trapped ({aborts} aborts)"));
                    }
                }
            }
        }
        for (_, _, ext) in &self.kernel {
            self.dev.unload(*ext, false).map_err(errno("SAFEX_IOC_UNLOAD"))?;
        }
        Ok(())
    }
}

/// The sequence number the kernel's log will give its next record.
fn log_end(dev: &Device) -> Result<u64, String> {
    let mut next = 0;
    loop {
        let read = dev.log(next, uapi::LOG_SIZE as usize).map_err(errno("SAFEX_IOC_LOG"))?;
        if read.records.is_empty() {
            return Ok(read.next);
        }
        next = read.next;
    }
}

/// Alternations of `measure(sign)` after one warm-up; `sign` alternates.
fn alternate(o: &Options, mut measure: impl FnMut(i64) -> Result<Sample, String>) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    for j in 0..=o.alternations {
        let sample = measure(if j % 2 == 0 { -1 } else { 1 })?;
        if j > 0 {
            samples.push(sample);
        }
    }
    Ok(samples)
}

fn invocation_row(o: &Options, dev: &Device) -> Result<Row, String> {
    let (signed, object) = signed_object(&o.objects.join("trivial.o"))?;
    let name = app_name(0);
    let (target, _) = qos_inputs(0, 1);
    dev.app(&name, 0, PERIOD_US, (target * US_PER_MILLE) as u64)
        .map_err(errno("SAFEX_IOC_APP"))?;
    let ext = dev.load(&signed, &name, 0).map_err(errno("SAFEX_IOC_LOAD"))?;
    let mut users = Vec::new();
    for w in DEADLINE {
        let mut host = user_host(w)?;
        let app = host.create_app(&name).map_err(|e| e.to_string())?;
        let loaded = host.load(app, &object).map_err(|e| format!("Host::load: {e}"))?;
        let entry = host.entry(loaded, "nothing").ok_or("no monitor `nothing`")?;
        users.push((host, entry));
    }
    let r = o.invocations;
    let samples = alternate(o, |_| {
        let start = Instant::now();
        let k = dev.invoke(ext, 0, 0, r).map_err(errno("SAFEX_IOC_INVOKE"))?;
        let kernel_wall = start.elapsed();
        if k.status != 0 || k.deadline != 0 {
            return Err(format!("the kernel's invocation ended with status {}", k.status));
        }
        let mut user = [0.0; 2];
        for (u, (host, entry)) in users.iter_mut().enumerate() {
            let mut ok = true;
            let start = Instant::now();
            for _ in 0..r {
                ok &= host.invoke(*entry, None).is_ok();
            }
            user[u] = per(start.elapsed().as_secs_f64() * 1e9, r);
            if !ok {
                return Err("the host's invocation trapped".into());
            }
        }
        Ok(Sample {
            kernel: per(k.elapsed_ns as f64, r),
            kernel_wall: per(kernel_wall.as_secs_f64() * 1e9, r),
            user,
        })
    })?;
    dev.unload(ext, false).map_err(errno("SAFEX_IOC_UNLOAD"))?;
    Ok(Row {
        what: "trivial monitor, one invocation".into(),
        batch: format!("{r} invocations"),
        samples,
    })
}

fn round_row(o: &Options, dev: &Device, n: usize, rounds: u32, pid: &(Vec<u8>, Vec<u8>)) -> Result<Row, String> {
    let mut all = Rounds::new(dev, n, pid)?;
    let writes = all.check()?;
    println!(
        "bench: kernel and host agree on {n} applications after {CHECK_ROUNDS} rounds ({writes} attribute writes \
         compared: value, guard outcome and result)"
    );
    let samples = alternate(o, |sign| all.alternation(rounds, sign))?;
    if let Some(why) = all.disagreement()? {
        return Err(format!("after the timed rounds: {why}"));
    }
    let total = u64::from(CHECK_ROUNDS) + u64::from(rounds) * (o.alternations as u64 + 1);
    all.finish()?;
    println!("bench: and again after {total} rounds each, no extension trapped on either side");
    Ok(Row {
        what: format!("PID service round, {n} applications"),
        batch: format!("{rounds} rounds"),
        samples,
    })
}

/// A one-line system file's content, or `unknown`.
fn read_line(path: &str) -> String {
    std::fs::read_to_string(path).map_or_else(|_| "unknown".into(), |s| s.trim().to_owned())
}

fn run(o: &Options) -> Result<(), String> {
    println!(
        "bench: kernel module vs user-space host, kernel {} (clocksource {}): times measured in a QEMU TCG guest \
         (emulated CPU: absolute numbers are not a real machine's, the ratios are what to read)",
        read_line("/proc/sys/kernel/osrelease"),
        read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource")
    );
    println!(
        "bench: {} alternations of a kernel batch and user-space batches after one warm-up; per operation, \
         median (min–max); ratios: median (min–max) of each alternation's",
        o.alternations
    );
    let dev = Device::open(&o.device).map_err(|e| format!("{}: {e}", o.device.display()))?;
    let (guard, _) = signed_object(&o.objects.join("guard.o"))?;
    dev.load(&guard, "", uapi::LOAD_GUARD)
        .map_err(errno("SAFEX_IOC_LOAD of the guard"))?;
    let pid = signed_object(&o.objects.join("signed.o"))?;
    let rows = [
        invocation_row(o, &dev)?,
        round_row(o, &dev, 3, o.rounds_few, &pid)?,
        round_row(o, &dev, uapi::MAX_APPS as usize, o.rounds_many, &pid)?,
    ];
    print_tables(&rows);
    Ok(())
}

fn main() -> ExitCode {
    match options().and_then(|o| run(&o)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("bench: FAIL: {e}");
            ExitCode::from(1)
        }
    }
}
