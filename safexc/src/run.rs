//! `safexc run`: a service manager in user space. It defines the standard
//! attribute classes, installs the standard guards, loads the objects for
//! one application, and runs ticks: monitors, then handlers on their events.
//! Each tick's attribute changes and traps are printed as a table, or with
//! `--json` as one JSON object per line.
//!
//! Runs are reproducible: `now_us` is the tick number times the period, and
//! the host's order is fixed (`runtime::manager`).
//!
//! Objects are checked in full, or, with `--trust NAME.pub`, signed objects
//! of that key load on their signature (`runtime::load::Loader`).

use crate::files;
use crate::out::{Out, OutputError};
use crate::source::{self, Kind};
use runtime::manager::TickReport;
use runtime::{Host, HostConfig, Trap, WriteOutcome};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// The most ticks a run may ask for.
const MAX_TICKS: u64 = 1_000_000_000;
/// The longest tick, in microseconds: 1,000 seconds.
const MAX_PERIOD_US: i64 = 1_000_000_000;
// The clock of the last tick, ticks times the period, fits `now_us`'s i64.
const _: () = assert!(MAX_TICKS as i128 * MAX_PERIOD_US as i128 <= i64::MAX as i128);
/// The longest deadline, in milliseconds: an hour of CPU time.
const MAX_DEADLINE_MS: f64 = 3_600_000.0;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The application's extensions: objects, or sources (Popcorn-SX, TAL)
    /// compiled first; `-` reads standard input.
    #[arg(required = true)]
    objects: Vec<PathBuf>,
    /// The application's name.
    #[arg(long, default_value = "app")]
    app: String,
    /// Set an attribute before the first tick (`target_cpu=20000` or
    /// `cpu_qos.target_cpu=20000`); may be repeated.
    #[arg(long = "set", value_name = "ATTR=VALUE")]
    sets: Vec<String>,
    /// Attribute values per tick: lines `tick,attribute,value`, set before that tick runs.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Ticks to run, at most 1000000000.
    #[arg(long, default_value_t = 10, allow_negative_numbers = true,
          value_parser = clap::value_parser!(u64).range(0..=MAX_TICKS))]
    ticks: u64,
    /// Length of a tick, in microseconds of the clock `now_us` reads: 1 to
    /// 1000000000 (1,000 s).
    #[arg(long, default_value_t = 10_000, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(1..=MAX_PERIOD_US))]
    period_us: i64,
    /// Print one JSON object per tick instead of a table, then a summary
    /// object (`{"schema": 1, "summary": {…}}`) with the counters.
    #[arg(long)]
    json: bool,
    /// Exit 1 if any invocation trapped (aborted), for scripts and CI.
    #[arg(long)]
    fail_on_trap: bool,
    /// CPU-time budget of one invocation, in milliseconds: 0 for none (fuel
    /// still bounds it), or 0.001 to 3600000 (an hour).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true, value_parser = deadline_ms)]
    deadline_ms: f64,
    /// Aborts after which an extension is quarantined (0: never).
    #[arg(long, default_value_t = 3)]
    quarantine_after: u32,
    /// Do not install the standard library's guards.
    #[arg(long)]
    no_guards: bool,
    /// Trust signatures of this public key (`NAME.pub`, written by `safexc
    /// keygen`); may be repeated. A signed object one of them made loads
    /// without the verifier or re-lowering; one none of them made is
    /// refused. Without `--trust`, signed objects are checked in full.
    #[arg(long, value_name = "NAME.pub")]
    trust: Vec<PathBuf>,
}

/// `--deadline-ms`: a finite number of milliseconds in range.
fn deadline_ms(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(ms) if ms == 0.0 || (0.001..=MAX_DEADLINE_MS).contains(&ms) => Ok(ms),
        _ => Err(format!(
            "a deadline is 0 (none) or from 0.001 to {MAX_DEADLINE_MS} milliseconds (an hour)"
        )),
    }
}

fn fail(code: &str, message: impl std::fmt::Display) -> Result<ExitCode, OutputError> {
    errln!("error[{code}]: {message}");
    Ok(ExitCode::from(1))
}

/// One `tick,attribute,value` line of a trace file.
struct TraceRow {
    tick: u64,
    attr: String,
    value: i64,
}

fn read_trace(path: &Path) -> Result<Vec<TraceRow>, (String, String)> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ("L0001".into(), format!("cannot read {}: {e}", path.display())))?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || {
            (
                "L0111".to_string(),
                format!(
                    "{}:{}: expected `tick,attribute,value` with integers, found `{line}`",
                    path.display(),
                    n + 1
                ),
            )
        };
        let mut fields = line.split(',').map(str::trim);
        let (Some(tick), Some(attr), Some(value), None) = (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(bad());
        };
        let (Ok(tick), Ok(value)) = (tick.parse(), value.parse()) else {
            return Err(bad());
        };
        rows.push(TraceRow {
            tick,
            attr: attr.to_string(),
            value,
        });
    }
    Ok(rows)
}

fn parse_set(set: &str) -> Result<(&str, i64), String> {
    let (attr, value) = set
        .split_once('=')
        .ok_or_else(|| format!("`--set {set}`: expected ATTRIBUTE=VALUE"))?;
    let value = value
        .trim()
        .parse()
        .map_err(|_| format!("`--set {set}`: `{value}` is not an integer"))?;
    Ok((attr.trim(), value))
}

pub fn run(out: &mut Out, args: RunArgs) -> Result<ExitCode, OutputError> {
    let inputs: Vec<PathBuf> = args.objects.iter().chain(&args.trust).cloned().collect();
    if !files::stdin_at_most_once(&inputs) {
        return Ok(ExitCode::from(crate::USAGE));
    }
    let config = HostConfig {
        deadline: (args.deadline_ms > 0.0).then(|| Duration::from_secs_f64(args.deadline_ms / 1e3)),
        quarantine_after: args.quarantine_after,
        ..HostConfig::default()
    };
    let mut host = match runtime::system::host(config, !args.no_guards) {
        Ok(h) => h,
        Err(e) => return fail("L0110", e),
    };
    for path in &args.trust {
        let Some(der) = files::read_input(path) else {
            return Ok(ExitCode::from(1));
        };
        if let Err(e) = host.trust(&der) {
            return fail(e.code, format!("{}: {}", files::display_name(path), e.message));
        }
    }
    let app = host.create_app(&args.app).expect("a fresh host has no applications");
    for path in &args.objects {
        let Some(bytes) = files::read_input(path) else {
            return Ok(ExitCode::from(1));
        };
        let object = match source::kind(path, &bytes) {
            // An object, signed or not, goes to the host as it is: a
            // signature of a `--trust` key stands for the verifier and
            // re-lowering, another key's is refused, and without `--trust`
            // the object inside is checked in full (`runtime::load::Loader`).
            Kind::Object => bytes,
            Kind::Source(language) => {
                // Compiled here exactly as `safexc compile -o` would, then
                // loaded through every check like any object.
                let checked = source::check(path, bytes, language, false, true, &host.config().verifier);
                errln!("{}", checked.summary);
                let Some(module) = checked.module else {
                    return Ok(ExitCode::from(1));
                };
                match codegen::object::compile(&module, codegen::Options::default()) {
                    Ok(object) => object,
                    Err(e) => return fail(e.code, e.message),
                }
            }
        };
        if let Err(e) = host.load(app, &object) {
            errln!("{e}");
            writeln!(out, "{}: refused: {}", files::display_name(path), e.code)?;
            return Ok(ExitCode::from(1));
        }
    }
    for set in &args.sets {
        let written = parse_set(set).and_then(|(attr, value)| {
            host.write_attribute(app, attr, value)
                .map_err(|e| format!("`--set {set}`: {}", e.message))
        });
        if let Err(e) = written {
            return fail("L0111", e);
        }
    }
    let trace = match args.trace.as_deref().map(read_trace).transpose() {
        Ok(t) => t.unwrap_or_default(),
        Err((code, message)) => return fail(&code, message),
    };
    let mut sources = Sources::new(&args.objects);
    if !args.json {
        writeln!(out, "| tick | attribute | old | new | by | guard |")?;
        writeln!(out, "|---:|---|---:|---:|---|---|")?;
    }
    let mut report = TickReport::default();
    for tick in 1..=args.ticks {
        host.set_clock_us(tick as i64 * args.period_us);
        for row in trace.iter().filter(|r| r.tick == tick) {
            if let Err(e) = host.write_attribute(app, &row.attr, row.value) {
                return fail("L0111", format!("trace, tick {tick}: {}", e.message));
            }
        }
        host.tick(&mut report);
        if args.json {
            writeln!(out, "{}", tick_json(&host, tick, &report, &mut sources))?;
        } else {
            print_tick(out, &host, tick, &report, &mut sources)?;
        }
    }
    if args.json {
        writeln!(out, "{}", summary_json(&host, app, args.ticks))?;
    } else {
        print_counters(out, &host, app)?;
    }
    let trapped = host
        .extensions(app)
        .iter()
        .any(|&ext| host.counters(ext).is_some_and(|c| c.aborts > 0));
    Ok(if args.fail_on_trap && trapped {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `--json`'s last line: the run's counters per extension.
fn summary_json(host: &Host, app: runtime::AppId, ticks: u64) -> serde_json::Value {
    let extensions: Vec<serde_json::Value> = host
        .extensions(app)
        .iter()
        .map(|&ext| {
            let c = host.counters(ext).expect("loaded");
            json!({
                "name": host.name(ext).unwrap_or("?"),
                "invocations": c.invocations,
                "aborts": c.aborts,
                "fuel_used": c.fuel_used,
                "events_raised": c.events_raised,
                "quarantined": host.quarantined(ext),
            })
        })
        .collect();
    json!({ "schema": JSON_SCHEMA, "summary": { "ticks": ticks, "extensions": extensions } })
}

/// The version of `--json`'s shape, in every object.
const JSON_SCHEMA: u32 = 1;

fn outcome_text(o: &WriteOutcome) -> String {
    match o {
        WriteOutcome::Written { applied: None } => String::new(),
        WriteOutcome::Written { applied: Some(v) } => format!("applied {v}"),
        WriteOutcome::Blocked => "blocked".into(),
        WriteOutcome::GuardTrapped(t) => format!("refused: guard trapped ({})", t.kind),
    }
}

fn print_tick(
    out: &mut Out,
    host: &Host,
    tick: u64,
    report: &TickReport,
    sources: &mut Sources,
) -> Result<(), OutputError> {
    for c in &report.changes {
        writeln!(
            out,
            "| {tick} | {} | {} | {} | {} | {} |",
            host.attribute_name(c.class, c.attr),
            c.old,
            c.new,
            host.entry_name(c.by),
            outcome_text(&c.outcome)
        )?;
    }
    for t in &report.traps {
        let quarantined = if t.quarantined { "; quarantined" } else { "" };
        writeln!(
            out,
            "tick {tick}: {}: trap {}{}{quarantined}",
            host.entry_name(t.entry),
            t.trap.kind,
            sources.located(&t.trap)
        )?;
    }
    if report.dropped_events > 0 {
        writeln!(out, "tick {tick}: {} events dropped", report.dropped_events)?;
    }
    Ok(())
}

fn print_counters(out: &mut Out, host: &Host, app: runtime::AppId) -> Result<(), OutputError> {
    writeln!(out)?;
    // Times are left out: the same run prints the same bytes.
    writeln!(out, "| extension | invocations | aborts | fuel used | events | state |")?;
    writeln!(out, "|---|---:|---:|---:|---:|---|")?;
    for &ext in host.extensions(app) {
        let c = host.counters(ext).expect("loaded");
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            host.name(ext).unwrap_or("?"),
            c.invocations,
            c.aborts,
            c.fuel_used,
            c.events_raised,
            if host.quarantined(ext) { "quarantined" } else { "active" }
        )?;
    }
    Ok(())
}

fn tick_json(host: &Host, tick: u64, report: &TickReport, sources: &mut Sources) -> serde_json::Value {
    let changes: Vec<_> = report
        .changes
        .iter()
        .map(|c| {
            let (outcome, applied) = match &c.outcome {
                WriteOutcome::Written { applied } => ("written", *applied),
                WriteOutcome::Blocked => ("blocked", None),
                WriteOutcome::GuardTrapped(_) => ("guard_trapped", None),
            };
            json!({
                "app": host.app_name(c.app),
                "attribute": host.attribute_name(c.class, c.attr),
                "old": c.old,
                "new": c.new,
                "by": host.entry_name(c.by),
                "outcome": outcome,
                "applied": applied,
            })
        })
        .collect();
    let traps: Vec<_> = report
        .traps
        .iter()
        .map(|t| {
            let site = t.trap.site.as_ref();
            let (line, column) = sources.line_column(&t.trap).unzip();
            json!({
                "app": host.app_name(t.app),
                "entry": host.entry_name(t.entry),
                "kind": t.trap.kind.to_string(),
                "function": site.map(|s| s.function.clone()),
                "file": site.and_then(|s| s.file.clone()),
                "line": line,
                "column": column,
                "quarantined": t.quarantined,
            })
        })
        .collect();
    let events: Vec<_> = report
        .deliveries
        .iter()
        .map(|d| json!({"app": host.app_name(d.app), "event": host.event_name(d.event), "value": d.value, "handlers": d.handlers}))
        .collect();
    json!({
        "schema": JSON_SCHEMA,
        "tick": tick,
        "monitors": report.monitors_run,
        "handlers": report.handlers_run,
        "changes": changes,
        "traps": traps,
        "events": events,
        "dropped_events": report.dropped_events,
    })
}

/// Source files of trap sites, read once each, for line and column.
/// Modules record their source's file name without directories; it is
/// looked for in the directories of the run's inputs, then in the current
/// one.
struct Sources {
    dirs: Vec<PathBuf>,
    files: std::collections::HashMap<String, Option<String>>,
}

impl Sources {
    fn new(inputs: &[PathBuf]) -> Sources {
        let mut dirs: Vec<PathBuf> = inputs
            .iter()
            .filter(|p| !files::is_stdio(p))
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect();
        dirs.push(PathBuf::new());
        dirs.dedup();
        Sources {
            dirs,
            files: std::collections::HashMap::new(),
        }
    }

    /// 1-based line and column of the trap's span, when its file is readable.
    fn line_column(&mut self, trap: &Trap) -> Option<(usize, usize)> {
        let site = trap.site.as_ref()?;
        let span = site.span?;
        let file = site.file.as_ref()?;
        let dirs = &self.dirs;
        let text = self
            .files
            .entry(file.clone())
            .or_insert_with(|| dirs.iter().find_map(|d| std::fs::read_to_string(d.join(file)).ok()))
            .as_deref()?;
        let before = text.get(..span.lo as usize)?;
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        Some((line, column))
    }

    /// ` at FILE:LINE:COL (function F)`, as much of it as is known.
    fn located(&mut self, trap: &Trap) -> String {
        let Some(site) = &trap.site else {
            return String::new();
        };
        let place = match (self.line_column(trap), &site.file) {
            (Some((l, c)), Some(f)) => format!(" at {f}:{l}:{c}"),
            (None, Some(f)) => match site.span {
                Some(s) => format!(" at {f} bytes {}..{}", s.lo, s.hi),
                None => format!(" in {f}"),
            },
            _ => String::new(),
        };
        format!("{place} (function `{}`)", site.function)
    }
}
