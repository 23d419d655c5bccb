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
    /// An application's extensions: objects, or sources (Popcorn-SX, TAL)
    /// compiled first; `-` reads standard input.
    objects: Vec<PathBuf>,
    /// `NAME`: the name of the application of the objects given above
    /// (default `app`). `NAME=FILE`: FILE is an extension of application
    /// NAME (created in the order first named); may be repeated, for
    /// several applications and several files each.
    #[arg(long = "app", value_name = "NAME[=FILE]")]
    apps: Vec<String>,
    /// Set an attribute before the first tick (`target_cpu=20000`,
    /// `cpu_qos.target_cpu=20000`; `video:target_cpu=20000` for one of
    /// several applications); may be repeated.
    #[arg(long = "set", value_name = "[APP:]ATTR=VALUE")]
    sets: Vec<String>,
    /// Attribute values per tick: lines `tick,[APP:]attribute,value`, set
    /// before that tick runs. The whole file is checked before tick 1.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Invoke an entry point once before the first tick: a monitor
    /// (`cpu_pid` or `cpu_pid.cpu_pid`) or a handler with its event's value
    /// (`on_error=5`); `video:ENTRY` for one of several applications. May
    /// be repeated; they run in order, their writes shown as tick 0.
    #[arg(long = "invoke", value_name = "[APP:]ENTRY[=VALUE]")]
    invokes: Vec<String>,
    /// Raise an event on an application's channel before a tick runs
    /// (`Error=5@3`: event `Error`, value 5, before tick 3; the value
    /// defaults to 0); may be repeated.
    #[arg(long = "event", value_name = "[APP:]NAME[=VALUE]@TICK")]
    events: Vec<String>,
    /// After the run, print each extension's globals.
    #[arg(long)]
    state: bool,
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
    /// Its line number, from 1.
    line: usize,
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
            line: n + 1,
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

/// The run's applications in the order they are created, with their
/// inputs.
struct AppSpec {
    name: String,
    inputs: Vec<PathBuf>,
}

/// The applications that the positional objects and `--app` name.
fn app_specs(args: &RunArgs) -> Result<Vec<AppSpec>, String> {
    let mut specs: Vec<AppSpec> = Vec::new();
    let mut named: Option<&str> = None;
    for app in &args.apps {
        match app.split_once('=') {
            None if named.is_some() => {
                return Err(format!(
                    "`--app {app}`: the objects given without `--app NAME=FILE` already belong to `{}`",
                    named.unwrap_or_default()
                ));
            }
            None => named = Some(app.as_str()),
            Some(_) => {}
        }
    }
    if !args.objects.is_empty() {
        specs.push(AppSpec {
            name: named.unwrap_or("app").to_string(),
            inputs: args.objects.clone(),
        });
    } else if let Some(name) = named {
        return Err(format!(
            "`--app {name}` names the application of the objects given without a name, and there are none: \
             give FILE..., or `--app {name}=FILE`"
        ));
    }
    for app in &args.apps {
        let Some((name, file)) = app.split_once('=') else {
            continue;
        };
        let (name, file) = (name.trim(), file.trim());
        if name.is_empty() || file.is_empty() || name.contains(':') {
            return Err(format!(
                "`--app {app}`: expected NAME=FILE (a name without `:`, then a file)"
            ));
        }
        match specs.iter_mut().find(|s| s.name == name) {
            Some(spec) => spec.inputs.push(PathBuf::from(file)),
            None => specs.push(AppSpec {
                name: name.to_string(),
                inputs: vec![PathBuf::from(file)],
            }),
        }
    }
    if specs.is_empty() {
        return Err("nothing to run: give FILE..., or `--app NAME=FILE`".into());
    }
    Ok(specs)
}

/// `APP:REST` split at its first `:`; `REST` alone has no application.
fn split_app(text: &str) -> (Option<&str>, &str) {
    match text.split_once(':') {
        Some((app, rest)) => (Some(app.trim()), rest.trim()),
        None => (None, text.trim()),
    }
}

/// The application `app` names, or the only one.
fn one_app(host: &Host, app: Option<&str>, what: &str) -> Result<runtime::AppId, String> {
    match app {
        Some(name) => host
            .app_by_name(name)
            .ok_or_else(|| format!("{what}: no application `{name}`")),
        None => {
            let mut apps = host.apps();
            match (apps.next(), apps.next()) {
                (Some(only), None) => Ok(only),
                _ => Err(format!("{what}: this run has several applications: name one (`APP:…`)")),
            }
        }
    }
}

/// A `--event` argument: before tick `tick`, `name` with `value` on `app`'s
/// channel.
struct EventSpec {
    app: runtime::AppId,
    name: String,
    value: i64,
    tick: u64,
}

fn parse_event(host: &Host, text: &str, ticks: u64) -> Result<EventSpec, String> {
    let what = format!("`--event {text}`");
    let (event, tick) = text
        .rsplit_once('@')
        .ok_or_else(|| format!("{what}: expected [APP:]NAME[=VALUE]@TICK"))?;
    let tick: u64 = tick
        .trim()
        .parse()
        .map_err(|_| format!("{what}: `{tick}` is not a tick number"))?;
    if tick == 0 || tick > ticks {
        return Err(format!(
            "{what}: tick {tick} is not one of this run's ticks (1 to {ticks})"
        ));
    }
    let (app, event) = split_app(event);
    let (name, value) = match event.split_once('=') {
        Some((name, value)) => (
            name.trim(),
            value
                .trim()
                .parse()
                .map_err(|_| format!("{what}: `{value}` is not an integer"))?,
        ),
        None => (event, 0),
    };
    let app = one_app(host, app, &what)?;
    if !host.knows_event(name) {
        return Err(format!("{what}: no loaded extension raises or handles event `{name}`"));
    }
    Ok(EventSpec {
        app,
        name: name.to_string(),
        value,
        tick,
    })
}

/// A `--invoke` argument: the entry point and the value for a handler.
fn parse_invoke(host: &Host, text: &str) -> Result<(runtime::EntryRef, Option<i64>), String> {
    let what = format!("`--invoke {text}`");
    let (app, rest) = split_app(text);
    let (entry, value) = match rest.split_once('=') {
        Some((entry, value)) => (
            entry.trim(),
            Some(
                value
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| format!("{what}: `{value}` is not an integer"))?,
            ),
        ),
        None => (rest, None),
    };
    let apps: Vec<runtime::AppId> = match app {
        Some(_) => vec![one_app(host, app, &what)?],
        None => host.apps().collect(),
    };
    let (ext_name, entry_name) = match entry.split_once('.') {
        Some((e, n)) => (Some(e), n),
        None => (None, entry),
    };
    let mut found = Vec::new();
    for &a in &apps {
        for &ext in host.extensions(a) {
            if ext_name.is_some_and(|n| host.name(ext) != Some(n)) {
                continue;
            }
            let Some(module) = host.module(ext) else { continue };
            let Some(func) = module.funcs.iter().find(|f| f.name == entry_name) else {
                continue;
            };
            if let Some(e) = host.entry(ext, entry_name) {
                found.push((e, func.kind));
            }
        }
    }
    let (entry_ref, kind) = match found.len() {
        1 => found.remove(0),
        0 => return Err(format!("{what}: no loaded extension has an entry point `{entry}`")),
        _ => {
            return Err(format!(
                "{what}: several extensions have `{entry}`: write EXTENSION.ENTRY or APP:ENTRY"
            ));
        }
    };
    match (kind, value) {
        (tal_ir::FuncKind::Monitor, None) => Ok((entry_ref, None)),
        (tal_ir::FuncKind::Monitor, Some(_)) => Err(format!("{what}: `{entry}` is a monitor: it takes no value")),
        (tal_ir::FuncKind::Handler { .. }, value) => Ok((entry_ref, Some(value.unwrap_or(0)))),
        _ => Err(format!("{what}: `{entry}` is not a monitor or a handler")),
    }
}

pub fn run(out: &mut Out, args: RunArgs) -> Result<ExitCode, OutputError> {
    let specs = match app_specs(&args) {
        Ok(specs) => specs,
        Err(e) => return fail("L0112", e),
    };
    let inputs: Vec<PathBuf> = specs
        .iter()
        .flat_map(|s| s.inputs.iter())
        .chain(&args.trust)
        .cloned()
        .collect();
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
    for spec in &specs {
        let app = match host.create_app(&spec.name) {
            Ok(app) => app,
            Err(e) => return fail(e.code, e.message),
        };
        for path in &spec.inputs {
            if let Some(code) = load_input(out, &mut host, app, path)? {
                return Ok(code);
            }
        }
    }
    let several = specs.len() > 1;
    for set in &args.sets {
        let written = parse_set(set).and_then(|(attr, value)| {
            let (app, attr) = split_app(attr);
            let app = one_app(&host, app, &format!("`--set {set}`"))?;
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
    let trace = match check_trace(&host, &trace, args.trace.as_deref()) {
        Ok(rows) => rows,
        Err(message) => return fail("L0111", message),
    };
    let events = match args
        .events
        .iter()
        .map(|e| parse_event(&host, e, args.ticks))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(events) => events,
        Err(e) => return fail("L0112", e),
    };
    let invokes = match args
        .invokes
        .iter()
        .map(|i| parse_invoke(&host, i))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(invokes) => invokes,
        Err(e) => return fail("L0112", e),
    };
    let mut sources = Sources::new(&inputs);
    if !args.json {
        writeln!(out, "| tick | attribute | old | new | by | guard |")?;
        writeln!(out, "|---:|---|---:|---:|---|---|")?;
    }
    let mut report = TickReport::default();
    let mut traces = Vec::new();
    let mut trapped = false;
    for &(entry, value) in &invokes {
        let result = host.invoke(entry, value);
        host.take_changes_into(&mut report.changes);
        host.take_traces(&mut traces);
        let trap = result.as_ref().err();
        trapped |= trap.is_some_and(|t| t.kind != runtime::TrapKind::Quarantined);
        if args.json {
            writeln!(
                out,
                "{}",
                invoke_json(&host, entry, value, trap, &report, &traces, &mut sources)
            )?;
        } else {
            print_traces(out, &host, 0, &traces, &mut sources)?;
            print_changes(out, &host, 0, &report.changes, several)?;
            let with = value.map(|v| format!("({v})")).unwrap_or_default();
            match trap {
                None => writeln!(out, "invoke {}{with}: ok", host.entry_name(entry))?,
                Some(t) => writeln!(
                    out,
                    "invoke {}{with}: trap {}{}",
                    host.entry_name(entry),
                    t.kind,
                    sources.located(t)
                )?,
            }
        }
    }
    let mut blocked: Vec<bool> = host.apps().map(|a| host.blocked(a)).collect();
    for tick in 1..=args.ticks {
        host.set_clock_us(tick as i64 * args.period_us);
        for row in trace.iter().filter(|r| r.tick == tick) {
            if let Err(e) = host.write_attribute(row.app, &row.attr, row.value) {
                return fail("L0111", format!("trace, tick {tick}: {}", e.message));
            }
        }
        for e in events.iter().filter(|e| e.tick == tick) {
            if let Err(err) = host.raise_event(e.app, &e.name, e.value) {
                return fail("L0112", format!("`--event` before tick {tick}: {}", err.message));
            }
        }
        host.tick(&mut report);
        host.take_traces(&mut traces);
        trapped |= !report.traps.is_empty();
        let now: Vec<bool> = host.apps().map(|a| host.blocked(a)).collect();
        if args.json {
            let mut line = tick_json(&host, tick, &report, &now, &mut sources);
            line["traces"] = traces_json(&host, &traces, &mut sources).into();
            writeln!(out, "{line}")?;
        } else {
            print_traces(out, &host, tick, &traces, &mut sources)?;
            print_tick(out, &host, tick, &report, several, &mut sources)?;
            for (app, (&was, &is)) in host.apps().zip(blocked.iter().zip(&now)) {
                if was != is {
                    let state = if is { "blocked" } else { "unblocked" };
                    writeln!(out, "tick {tick}: application `{}` {state}", host.app_name(app))?;
                }
            }
        }
        blocked = now;
    }
    if args.json {
        writeln!(out, "{}", summary_json(&host, args.ticks, args.state))?;
    } else {
        print_counters(out, &host, several)?;
        if args.state {
            print_state(out, &host, several)?;
        }
    }
    Ok(if args.fail_on_trap && trapped {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Loads one input (an object, or a source compiled first) into `app`;
/// the exit code if it failed.
fn load_input(
    out: &mut Out,
    host: &mut Host,
    app: runtime::AppId,
    path: &Path,
) -> Result<Option<ExitCode>, OutputError> {
    let Some(bytes) = files::read_input(path) else {
        return Ok(Some(ExitCode::from(1)));
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
                return Ok(Some(ExitCode::from(1)));
            };
            match codegen::object::compile(&module, codegen::Options::default()) {
                Ok(object) => object,
                Err(e) => return fail(e.code, e.message).map(Some),
            }
        }
    };
    define_classes(host, path, &object);
    if let Err(e) = host.load(app, &object) {
        errln!("{e}");
        writeln!(out, "{}: refused: {}", files::display_name(path), e.code)?;
        return Ok(Some(ExitCode::from(1)));
    }
    Ok(None)
}

/// Defines the attribute classes an object declares that the host does
/// not have yet (an extension's own resource: memory, I/O), as a Dionisys
/// application creates its classes; every application gets an instance.
/// A class the host has already is left to the load to compare (`L0100`
/// if the object's declaration differs). An object that cannot be read
/// defines nothing: the load then says why.
fn define_classes(host: &mut Host, path: &Path, object: &[u8]) {
    let unsigned = match runtime::signed::split(object) {
        Ok(Some((unsigned, _))) => unsigned,
        _ => object,
    };
    let Ok(parts) = runtime::load::read(unsigned) else {
        return;
    };
    for class in &parts.module.classes {
        if host.classes().iter().all(|c| c.name != class.name) && host.define_class(class.clone()).is_ok() {
            errln!(
                "note: attribute class `{}` defined, as {} declares it",
                class.name,
                files::display_name(path)
            );
        }
    }
}

/// A trace row checked against the host: its application and a value
/// the attribute takes.
struct CheckedRow {
    tick: u64,
    app: runtime::AppId,
    attr: String,
    value: i64,
}

/// Every row of the trace, checked before tick 1: ticks from 1, a known
/// application and attribute, a value in the attribute's range.
fn check_trace(host: &Host, rows: &[TraceRow], path: Option<&Path>) -> Result<Vec<CheckedRow>, String> {
    let file = path.map(|p| p.display().to_string()).unwrap_or_default();
    rows.iter()
        .map(|row| {
            let at = format!("{file}:{}", row.line);
            if row.tick == 0 {
                return Err(format!("{at}: tick 0: ticks start at 1"));
            }
            let (app, attr) = split_app(&row.attr);
            let app = one_app(host, app, &at)?;
            host.check_attribute_value(attr, row.value)
                .map_err(|e| format!("{at}: {}", e.message))?;
            Ok(CheckedRow {
                tick: row.tick,
                app,
                attr: attr.to_string(),
                value: row.value,
            })
        })
        .collect()
}

fn invoke_json(
    host: &Host,
    entry: runtime::EntryRef,
    value: Option<i64>,
    trap: Option<&Trap>,
    report: &TickReport,
    traces: &[runtime::TraceRecord],
    sources: &mut Sources,
) -> serde_json::Value {
    json!({
        "traces": traces_json(host, traces, sources),
        "schema": JSON_SCHEMA,
        "invoke": host.entry_name(entry),
        "value": value,
        "outcome": if trap.is_some() { "trap" } else { "ok" },
        "trap": trap.map(|t| trap_json(host, None, entry, t, false, sources)),
        "changes": changes_json(host, &report.changes),
    })
}

/// `--json`'s last line: the run's counters per extension (with
/// `--state`, its globals too).
fn summary_json(host: &Host, ticks: u64, state: bool) -> serde_json::Value {
    let extensions: Vec<serde_json::Value> = host
        .apps()
        .flat_map(|app| host.extensions(app).iter().map(move |&ext| (app, ext)))
        .map(|(app, ext)| {
            let c = host.counters(ext).expect("loaded");
            let mut e = json!({
                "app": host.app_name(app),
                "name": host.name(ext).unwrap_or("?"),
                "invocations": c.invocations,
                "aborts": c.aborts,
                "fuel_used": c.fuel_used,
                "events_raised": c.events_raised,
                "traces": c.traces,
                "traces_dropped": c.traces_dropped,
                "quarantined": host.quarantined(ext),
            });
            if state {
                e["state"] = serde_json::Value::Object(
                    globals_of(host, ext)
                        .into_iter()
                        .map(|(name, v)| (name, v.json()))
                        .collect(),
                );
            }
            e
        })
        .collect();
    let apps: Vec<serde_json::Value> = host
        .apps()
        .map(|app| {
            json!({
                "name": host.app_name(app),
                "blocked": host.blocked(app),
                "dropped_events": host.dropped_events(app),
            })
        })
        .collect();
    json!({ "schema": JSON_SCHEMA, "summary": { "ticks": ticks, "applications": apps, "extensions": extensions } })
}

fn globals_of(host: &Host, ext: runtime::ExtId) -> Vec<(String, crate::state::Shown)> {
    match (host.module(ext), host.data(ext)) {
        (Some(module), Some(data)) => crate::state::globals(module, data),
        _ => Vec::new(),
    }
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

/// Table rows for attribute writes; with several applications the
/// attribute reads `APP:class.attr`.
fn print_changes(
    out: &mut Out,
    host: &Host,
    tick: u64,
    changes: &[runtime::Change],
    several: bool,
) -> Result<(), OutputError> {
    for c in changes {
        let app = if several {
            format!("{}:", host.app_name(c.app))
        } else {
            String::new()
        };
        writeln!(
            out,
            "| {tick} | {app}{} | {} | {} | {} | {} |",
            host.attribute_name(c.class, c.attr),
            c.old,
            c.new,
            host.entry_name(c.by),
            outcome_text(&c.outcome)
        )?;
    }
    Ok(())
}

fn print_tick(
    out: &mut Out,
    host: &Host,
    tick: u64,
    report: &TickReport,
    several: bool,
    sources: &mut Sources,
) -> Result<(), OutputError> {
    // What was delivered, then what was written, then what trapped.
    for d in &report.deliveries {
        let to = if several {
            format!(" to `{}`", host.app_name(d.app))
        } else {
            String::new()
        };
        let handlers = match d.handlers {
            1 => "1 handler".to_string(),
            n => format!("{n} handlers"),
        };
        writeln!(
            out,
            "tick {tick}: event {}({}){to}: {handlers}",
            host.event_name(d.event),
            d.value
        )?;
    }
    print_changes(out, host, tick, &report.changes, several)?;
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

fn print_counters(out: &mut Out, host: &Host, several: bool) -> Result<(), OutputError> {
    writeln!(out)?;
    // Times are left out: the same run prints the same bytes.
    writeln!(out, "| extension | invocations | aborts | fuel used | events | state |")?;
    writeln!(out, "|---|---:|---:|---:|---:|---|")?;
    for app in host.apps() {
        for &ext in host.extensions(app) {
            let c = host.counters(ext).expect("loaded");
            let name = host.name(ext).unwrap_or("?");
            let name = if several {
                format!("{}:{name}", host.app_name(app))
            } else {
                name.to_string()
            };
            writeln!(
                out,
                "| {name} | {} | {} | {} | {} | {} |",
                c.invocations,
                c.aborts,
                c.fuel_used,
                c.events_raised,
                if host.quarantined(ext) { "quarantined" } else { "active" }
            )?;
        }
    }
    for app in host.apps() {
        for &ext in host.extensions(app) {
            let dropped = host.counters(ext).map_or(0, |c| c.traces_dropped);
            if dropped > 0 {
                writeln!(
                    out,
                    "{}: {dropped} trace records dropped (at most {} per invocation, {} per tick)",
                    host.name(ext).unwrap_or("?"),
                    runtime::TRACES_PER_INVOCATION,
                    runtime::TRACES_HELD
                )?;
            }
        }
    }
    Ok(())
}

/// `--state`: each extension's globals after the run.
fn print_state(out: &mut Out, host: &Host, several: bool) -> Result<(), OutputError> {
    for app in host.apps() {
        for &ext in host.extensions(app) {
            let name = host.name(ext).unwrap_or("?");
            let app = if several {
                format!("{}:", host.app_name(app))
            } else {
                String::new()
            };
            writeln!(out)?;
            writeln!(out, "state of {app}{name}:")?;
            let globals = globals_of(host, ext);
            if globals.is_empty() {
                writeln!(out, "  (no globals)")?;
            }
            for (global, value) in globals {
                writeln!(out, "  {global} = {}", value.text())?;
            }
        }
    }
    Ok(())
}

fn changes_json(host: &Host, changes: &[runtime::Change]) -> Vec<serde_json::Value> {
    changes
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
        .collect()
}

fn trap_json(
    host: &Host,
    app: Option<runtime::AppId>,
    entry: runtime::EntryRef,
    trap: &Trap,
    quarantined: bool,
    sources: &mut Sources,
) -> serde_json::Value {
    let site = trap.site.as_ref();
    let (line, column) = sources.line_column(trap).unzip();
    json!({
        "app": app.map(|a| host.app_name(a)),
        "entry": host.entry_name(entry),
        "kind": trap.kind.to_string(),
        "function": site.map(|s| s.function.clone()),
        "file": site.and_then(|s| s.file.clone()),
        "line": line,
        "column": column,
        "quarantined": quarantined,
    })
}

fn tick_json(
    host: &Host,
    tick: u64,
    report: &TickReport,
    blocked: &[bool],
    sources: &mut Sources,
) -> serde_json::Value {
    let traps: Vec<_> = report
        .traps
        .iter()
        .map(|t| trap_json(host, Some(t.app), t.entry, &t.trap, t.quarantined, sources))
        .collect();
    let events: Vec<_> = report
        .deliveries
        .iter()
        .map(|d| json!({"app": host.app_name(d.app), "event": host.event_name(d.event), "value": d.value, "handlers": d.handlers}))
        .collect();
    let blocked: Vec<&str> = host
        .apps()
        .zip(blocked)
        .filter(|&(_, &b)| b)
        .map(|(app, _)| host.app_name(app))
        .collect();
    json!({
        "schema": JSON_SCHEMA,
        "tick": tick,
        "monitors": report.monitors_run,
        "handlers": report.handlers_run,
        "changes": changes_json(host, &report.changes),
        "traps": traps,
        "events": events,
        "blocked": blocked,
        "dropped_events": report.dropped_events,
    })
}

/// ` at FILE:LINE:COL` of a `trace` call, or ` at byte N` when its source
/// cannot be read; with the file and position for JSON.
fn trace_site(
    host: &Host,
    t: &runtime::TraceRecord,
    sources: &mut Sources,
) -> (String, Option<String>, Option<(usize, usize)>) {
    let file = host.module(t.entry.ext()).and_then(|m| m.source.clone());
    let at = file
        .as_deref()
        .zip(usize::try_from(t.site).ok())
        .and_then(|(f, offset)| sources.at(f, offset));
    let text = match (&file, at) {
        (Some(f), Some((line, column))) => format!(" at {f}:{line}:{column}"),
        _ => format!(" at byte {}", t.site),
    };
    (text, file, at)
}

fn print_traces(
    out: &mut Out,
    host: &Host,
    tick: u64,
    traces: &[runtime::TraceRecord],
    sources: &mut Sources,
) -> Result<(), OutputError> {
    for t in traces {
        let (at, _, _) = trace_site(host, t, sources);
        writeln!(out, "tick {tick}: {}: trace {}{at}", host.entry_name(t.entry), t.value)?;
    }
    Ok(())
}

fn traces_json(host: &Host, traces: &[runtime::TraceRecord], sources: &mut Sources) -> Vec<serde_json::Value> {
    traces
        .iter()
        .map(|t| {
            let (_, file, at) = trace_site(host, t, sources);
            let (line, column) = at.unzip();
            json!({
                "entry": host.entry_name(t.entry),
                "value": t.value,
                "site": t.site,
                "file": file,
                "line": line,
                "column": column,
            })
        })
        .collect()
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
        self.at(site.file.as_ref()?, span.lo as usize)
    }

    /// 1-based line and column of byte `offset` of `file`, when readable.
    fn at(&mut self, file: &str, offset: usize) -> Option<(usize, usize)> {
        let dirs = &self.dirs;
        let text = self
            .files
            .entry(file.to_string())
            .or_insert_with(|| dirs.iter().find_map(|d| std::fs::read_to_string(d.join(file)).ok()))
            .as_deref()?;
        let before = text.get(..offset)?;
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
