//! `safexc create-app`, `deploy`, `undeploy`, `ls`, `grant` and `revoke`:
//! thin clients of the SafeX daemon (`safexd`, `docs/daemon.md`) through
//! its client library, `safex` (`docs/clients.md`).
//!
//! Each command connects to the daemon's socket (`--socket`, default
//! [`safex::DEFAULT_SOCKET`]), makes one call, and prints its answer as a
//! sentence, a listing, or (`--json`) one JSON value. A refusal prints as
//! every error of safexc, `error[CODE]: message`, with the code the daemon
//! or the library gave (`Dxxxx`, or the host's `Lxxxx`, `Cxxxx`, `Vxxxx`
//! for what its checks refuse), and exit status 1; what safexc refuses
//! itself before calling is its own code: `L0001` for an object that cannot
//! be read, `D0004` for one over [`safex::MAX_OBJECT_BYTES`] (not read, not
//! sent), `L0003` (exit status 2) for a command line (a uid that is not
//! one, rights other than `r`, `w`, `rw`).

use crate::files;
use crate::out::{Out, OutputError};
use safex::proto::{Acceptance, Application, Counters, Extension, ListResponse};
use serde_json::{Value, json};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `--socket` and `--host`, common to every daemon command.
#[derive(clap::Args, Clone)]
pub struct SocketArgs {
    /// The daemon's socket (`safexd --socket`).
    #[arg(long, value_name = "PATH", default_value = safex::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// A remote daemon, by the name the local one knows it by (`safexd
    /// --peer NAME=…`): the local daemon forwards the request to it, as the
    /// caller.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
}

/// Why a daemon command stopped.
pub enum Failed {
    /// Standard output could not be written (`L0002`, `main` reports it).
    Output(OutputError),
    /// Refused, by the daemon, the library or safexc: reported as
    /// `error[CODE]: message`, exit status 1.
    Refused { code: String, message: String },
    /// A command line clap could not check (`L0003`, exit status 2).
    Usage(String),
}

impl Failed {
    pub fn new(code: &str, message: impl Into<String>) -> Failed {
        Failed::Refused {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl From<OutputError> for Failed {
    fn from(e: OutputError) -> Failed {
        Failed::Output(e)
    }
}

impl From<safex::Error> for Failed {
    fn from(e: safex::Error) -> Failed {
        Failed::Refused {
            code: e.code,
            message: e.message,
        }
    }
}

/// The exit status of a daemon command, its error reported (as
/// `--message-format` says).
pub fn finish(result: Result<(), Failed>) -> Result<ExitCode, OutputError> {
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(Failed::Output(e)) => Err(e),
        Err(Failed::Refused { code, message }) => {
            crate::diag::plain_error(&code, &message);
            Ok(ExitCode::from(1))
        }
        Err(Failed::Usage(message)) => {
            crate::diag::plain_error("L0003", &message);
            Ok(ExitCode::from(crate::USAGE))
        }
    }
}

/// Connects to the daemon (`D0012` if nobody answers on the socket), its
/// requests for `--host` if given.
pub fn connect(socket: &SocketArgs) -> Result<safex::BlockingClient, safex::Error> {
    let client = safex::BlockingClient::connect(&socket.socket)?;
    match &socket.host {
        Some(host) => client.on_host(host),
        None => Ok(client),
    }
}

#[derive(clap::Args)]
pub struct CreateAppArgs {
    /// The application's name: 1 to 64 of `A-Z a-z 0-9 _ . -`, unique on the daemon.
    name: String,
    /// Print the application as JSON (`ls --json`'s shape) instead of a sentence.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    socket: SocketArgs,
}

/// `safexc create-app NAME`.
pub fn create_app(out: &mut Out, args: CreateAppArgs) -> Result<ExitCode, OutputError> {
    finish((|| {
        let app = connect(&args.socket)?.create_application(&args.name)?;
        if args.json {
            writeln!(out, "{}", app_json(&app))?;
        } else {
            writeln!(out, "application {} created, owner uid {}", app.name, app.owner_uid)?;
        }
        Ok(())
    })())
}

#[derive(clap::Args)]
pub struct DeployArgs {
    /// The application (one of the caller's: `safexc create-app`).
    app: String,
    /// The object (`safexc compile -o FILE.o`, signed or not); `-` reads standard input.
    file: PathBuf,
    /// Print the extension as JSON (`ls --json`'s shape) instead of a sentence.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    socket: SocketArgs,
}

/// `safexc deploy APP FILE.o`.
pub fn deploy(out: &mut Out, args: DeployArgs) -> Result<ExitCode, OutputError> {
    finish((|| {
        // The file is read before connecting: an object that cannot be
        // sent is refused whether or not a daemon runs.
        let object = read_object(&args.file)?;
        let ext = connect(&args.socket)?.deploy(&args.app, object)?;
        if args.json {
            writeln!(out, "{}", ext_json(&ext))?;
        } else {
            writeln!(
                out,
                "deployed {} as extension {} of {} ({}, {} bytes)",
                ext.name,
                ext.id,
                ext.application,
                acceptance_name(ext.acceptance),
                ext.object_bytes
            )?;
        }
        Ok(())
    })())
}

/// An object to deploy, whole: `L0001` if it cannot be read, `D0004` (the
/// daemon's code, without reading it) if it has more than
/// [`safex::MAX_OBJECT_BYTES`].
pub fn read_object(path: &Path) -> Result<Vec<u8>, Failed> {
    let name = files::display_name(path);
    let max = safex::MAX_OBJECT_BYTES;
    let too_large = |size: String| {
        Failed::new(
            safex::codes::TOO_LARGE,
            format!("{name} has {size} bytes; the daemon takes objects of at most {max} bytes (16 MiB)"),
        )
    };
    let cannot = |e: &dyn std::fmt::Display| Failed::new("L0001", format!("cannot read {name}: {e}"));
    let mut bytes = Vec::new();
    // One byte more than the limit tells a file that is too large (or grew).
    let limit = max as u64 + 1;
    if files::is_stdio(path) {
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|e| cannot(&e))?;
    } else {
        let meta = std::fs::metadata(path).map_err(|e| cannot(&e))?;
        if meta.is_dir() {
            return Err(cannot(&"it is a directory"));
        }
        if meta.len() > max as u64 {
            return Err(too_large(meta.len().to_string()));
        }
        std::fs::File::open(path)
            .and_then(|f| f.take(limit).read_to_end(&mut bytes))
            .map_err(|e| cannot(&e))?;
    }
    if bytes.len() > max {
        return Err(too_large(format!("more than {max}")));
    }
    Ok(bytes)
}

#[derive(clap::Args)]
pub struct UndeployArgs {
    /// The extension's id (`safexc ls`).
    id: u64,
    /// Print `{"id":…,"undeployed":true}` instead of a sentence.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    socket: SocketArgs,
}

/// `safexc undeploy ID`.
pub fn undeploy(out: &mut Out, args: UndeployArgs) -> Result<ExitCode, OutputError> {
    finish((|| {
        connect(&args.socket)?.undeploy(args.id)?;
        if args.json {
            writeln!(out, "{}", json!({"id": args.id, "undeployed": true}))?;
        } else {
            writeln!(out, "undeployed extension {}", args.id)?;
        }
        Ok(())
    })())
}

#[derive(clap::Args)]
pub struct LsArgs {
    /// Only this application; without it, every application of the caller
    /// and every one it was granted `r` on.
    app: Option<String>,
    /// Print one JSON object: the applications, their extensions and counters.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    socket: SocketArgs,
}

/// `safexc ls [APP]`.
pub fn ls(out: &mut Out, args: LsArgs) -> Result<ExitCode, OutputError> {
    finish((|| {
        let list = connect(&args.socket)?.list(args.app.as_deref())?;
        if args.json {
            writeln!(out, "{}", list_json(&list))?;
        } else {
            write!(out, "{}", list_text(&list))?;
        }
        Ok(())
    })())
}

#[derive(clap::Args)]
pub struct GrantArgs {
    /// One of the caller's applications.
    app: String,
    /// The principal (a uid) the rights are given to.
    #[arg(allow_negative_numbers = true)]
    uid: u32,
    /// `r` (read its attributes, list it), `w` (write its attributes) or
    /// `rw`; replaces the rights the uid held.
    #[arg(value_parser = ["r", "w", "rw"])]
    rights: String,
    /// Print `{"application":…,"uid":…,"rights":…}` instead of a sentence.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    socket: SocketArgs,
}

/// `safexc grant APP UID RIGHTS`.
pub fn grant(out: &mut Out, args: GrantArgs) -> Result<ExitCode, OutputError> {
    finish((|| {
        connect(&args.socket)?.grant(&args.app, args.uid, &args.rights)?;
        if args.json {
            writeln!(
                out,
                "{}",
                json!({"application": args.app, "uid": args.uid, "rights": args.rights})
            )?;
        } else {
            writeln!(out, "granted uid {} `{}` on {}", args.uid, args.rights, args.app)?;
        }
        Ok(())
    })())
}

#[derive(clap::Args)]
pub struct RevokeArgs {
    /// One of the caller's applications.
    app: String,
    /// The principal (a uid) whose every right on it is taken back.
    #[arg(allow_negative_numbers = true)]
    uid: u32,
    /// Print `{"application":…,"uid":…,"revoked":true}` instead of a sentence.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    socket: SocketArgs,
}

/// `safexc revoke APP UID`.
pub fn revoke(out: &mut Out, args: RevokeArgs) -> Result<ExitCode, OutputError> {
    finish((|| {
        connect(&args.socket)?.revoke(&args.app, args.uid)?;
        if args.json {
            writeln!(
                out,
                "{}",
                json!({"application": args.app, "uid": args.uid, "revoked": true})
            )?;
        } else {
            writeln!(out, "revoked the rights of uid {} on {}", args.uid, args.app)?;
        }
        Ok(())
    })())
}

#[derive(clap::Args)]
pub struct WatchArgs {
    /// The application (the caller's, or one it was granted `r` on).
    app: String,
    /// Also its extensions' counters every MS milliseconds (0: none; at
    /// most 3600000).
    #[arg(long, value_name = "MS", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=3_600_000))]
    counters_ms: u32,
    /// Stop after N notices (0: when interrupted or the stream ends).
    #[arg(long, value_name = "N", default_value_t = 0)]
    count: u64,
    /// One JSON object per notice and line instead of a sentence.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    socket: SocketArgs,
}

/// `safexc watch APP`: the application's notices as they come
/// (`Subscribe`), a line each.
pub fn watch(out: &mut Out, args: WatchArgs) -> Result<ExitCode, OutputError> {
    finish((|| {
        let client = connect(&args.socket)?;
        let mut subscription = client.subscribe(&args.app, args.counters_ms)?;
        let mut seen = 0;
        while args.count == 0 || seen < args.count {
            let Some(notice) = client.next_notice(&mut subscription, None)? else {
                break;
            };
            if args.json {
                writeln!(out, "{}", notice_json(&notice))?;
            } else {
                writeln!(out, "{}", notice_line(&notice))?;
            }
            seen += 1;
        }
        Ok(())
    })())
}

/// A notice as a sentence: `tick N  KIND  …`.
pub fn notice_line(notice: &safex::Notice) -> String {
    use safex::notice::Kind;
    let what = match &notice.kind {
        Some(Kind::Event(e)) => format!("event {} = {} ({} handlers)", e.event, e.value, e.handlers),
        Some(Kind::Change(c)) => {
            let by = if c.extension_id == 0 {
                "the API".to_string()
            } else {
                format!("{} (extension {})", c.entry, c.extension_id)
            };
            let applied = c.applied.map_or(String::new(), |a| format!(", applied {a}"));
            format!(
                "change {} {} -> {} by {by}: {}{applied}",
                c.attribute, c.old, c.new, c.outcome
            )
        }
        Some(Kind::Trap(t)) => {
            let quarantined = if t.quarantined { ", quarantined" } else { "" };
            format!(
                "trap {} (extension {}): {}{quarantined}",
                t.entry, t.extension_id, t.trap
            )
        }
        Some(Kind::Trace(t)) => format!(
            "trace {} (extension {}) = {} at byte {}",
            t.entry, t.extension_id, t.value, t.site
        ),
        Some(Kind::Counters(c)) => {
            let each: Vec<String> = c
                .extensions
                .iter()
                .map(|e| {
                    let n = e.counters.as_ref().map_or(0, |c| c.invocations);
                    format!("{} (extension {}) {n} invocations", e.name, e.id)
                })
                .collect();
            format!(
                "counters {}",
                if each.is_empty() {
                    "(no extension)".into()
                } else {
                    each.join(", ")
                }
            )
        }
        Some(Kind::Lagged(l)) => format!("lagged: {} notices lost", l.lost),
        None => "a notice of a kind this safexc does not know".into(),
    };
    format!("tick {}  {what}", notice.tick)
}

/// A notice as JSON: `{"tick": N, "kind": KIND, …}`.
pub fn notice_json(notice: &safex::Notice) -> Value {
    use safex::notice::Kind;
    let tick = notice.tick;
    match &notice.kind {
        Some(Kind::Event(e)) => {
            json!({"tick": tick, "kind": "event", "event": e.event, "value": e.value, "handlers": e.handlers})
        }
        Some(Kind::Change(c)) => json!({"tick": tick, "kind": "change", "attribute": c.attribute, "old": c.old,
            "new": c.new, "extension_id": c.extension_id, "entry": c.entry, "outcome": c.outcome,
            "applied": c.applied}),
        Some(Kind::Trap(t)) => json!({"tick": tick, "kind": "trap", "extension_id": t.extension_id,
            "entry": t.entry, "trap": t.trap, "quarantined": t.quarantined}),
        Some(Kind::Trace(t)) => json!({"tick": tick, "kind": "trace", "extension_id": t.extension_id,
            "entry": t.entry, "value": t.value, "site": t.site}),
        Some(Kind::Counters(c)) => json!({"tick": tick, "kind": "counters",
            "extensions": c.extensions.iter().map(ext_json).collect::<Vec<_>>()}),
        Some(Kind::Lagged(l)) => json!({"tick": tick, "kind": "lagged", "lost": l.lost}),
        None => json!({"tick": tick, "kind": null}),
    }
}

/// How the host accepted an extension: `checked`, `cached`, `signed`.
pub fn acceptance_name(acceptance: i32) -> String {
    match Acceptance::try_from(acceptance) {
        Ok(Acceptance::Checked) => "checked".into(),
        Ok(Acceptance::Cached) => "cached".into(),
        Ok(Acceptance::Signed) => "signed".into(),
        Ok(Acceptance::Unspecified) => "unspecified".into(),
        Err(_) => format!("acceptance {acceptance}"),
    }
}

/// An extension's state: `error` (the daemon could not load it again),
/// `quarantined`, or `active`.
pub fn state_name(ext: &Extension) -> &'static str {
    if !ext.error.is_empty() {
        "error"
    } else if ext.quarantined {
        "quarantined"
    } else {
        "active"
    }
}

/// The mean time of an invocation, in nanoseconds, when the host accounts
/// time (`time_ns > 0`) and the extension ran.
pub fn mean_ns(time_ns: u64, invocations: u64) -> Option<f64> {
    (time_ns > 0 && invocations > 0).then(|| time_ns as f64 / invocations as f64)
}

pub fn counters_json(c: &Counters) -> Value {
    json!({
        "invocations": c.invocations,
        "aborts": c.aborts,
        "exceptions": c.exceptions,
        "out_of_fuel": c.out_of_fuel,
        "deadlines": c.deadlines,
        "host_aborts": c.host_aborts,
        "fuel_used": c.fuel_used,
        "events_raised": c.events_raised,
        "time_ns": c.time_ns,
        "max_time_ns": c.max_time_ns,
    })
}

pub fn ext_json(ext: &Extension) -> Value {
    let c = ext.counters.unwrap_or_default();
    json!({
        "id": ext.id,
        "application": ext.application,
        "name": ext.name,
        "acceptance": acceptance_name(ext.acceptance),
        "state": state_name(ext),
        "quarantined": ext.quarantined,
        "error": ext.error,
        "object_bytes": ext.object_bytes,
        "counters": counters_json(&c),
        "mean_time_ns": mean_ns(c.time_ns, c.invocations),
    })
}

pub fn app_json(app: &Application) -> Value {
    let grants: Vec<Value> = app
        .grants
        .iter()
        .map(|g| json!({"uid": g.principal_uid, "rights": g.rights}))
        .collect();
    json!({
        "name": app.name,
        "owner_uid": app.owner_uid,
        "blocked": app.blocked,
        "grants": grants,
        "extensions": app.extensions.iter().map(ext_json).collect::<Vec<_>>(),
    })
}

pub fn list_json(list: &ListResponse) -> Value {
    json!({
        "ticks": list.ticks,
        "period_us": list.period_us,
        "applications": list.applications.iter().map(app_json).collect::<Vec<_>>(),
    })
}

/// `ls`'s listing, as `bpftool prog list`: a line per application, a line
/// per extension (`ID: NAME  …`) and its counters on indented lines.
pub fn list_text(list: &ListResponse) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "service manager: period {}, {} ticks",
        crate::device::duration(list.period_us as f64 * 1e3),
        list.ticks
    );
    if list.applications.is_empty() {
        s.push_str("no applications\n");
    }
    for app in &list.applications {
        let _ = write!(
            s,
            "\napplication {}  owner uid {}  {}",
            app.name,
            app.owner_uid,
            if app.blocked { "blocked" } else { "not blocked" }
        );
        if !app.grants.is_empty() {
            let grants: Vec<String> = app
                .grants
                .iter()
                .map(|g| format!("{}:{}", g.principal_uid, g.rights))
                .collect();
            let _ = write!(s, "  grants {}", grants.join(" "));
        }
        s.push('\n');
        if app.extensions.is_empty() {
            s.push_str("\tno extensions\n");
        }
        for ext in &app.extensions {
            let c = ext.counters.unwrap_or_default();
            let _ = writeln!(
                s,
                "{}: {}  {}  {}  {} bytes",
                ext.id,
                ext.name,
                acceptance_name(ext.acceptance),
                state_name(ext),
                ext.object_bytes
            );
            if !ext.error.is_empty() {
                let _ = writeln!(s, "\terror {}", ext.error);
            }
            let per = |total: u64| {
                if c.invocations == 0 {
                    String::new()
                } else {
                    format!(" ({:.1} per invocation)", total as f64 / c.invocations as f64)
                }
            };
            let time = match mean_ns(c.time_ns, c.invocations) {
                Some(mean) => format!(
                    "{} ({} per invocation, at most {})",
                    crate::device::duration(c.time_ns as f64),
                    crate::device::duration(mean),
                    crate::device::duration(c.max_time_ns as f64)
                ),
                None => "not accounted".into(),
            };
            let _ = writeln!(
                s,
                "\tinvocations {}  fuel used {}{}  time {time}  events {}",
                c.invocations,
                c.fuel_used,
                per(c.fuel_used),
                c.events_raised
            );
            let _ = writeln!(
                s,
                "\ttraps {}  exceptions {}  out of fuel {}  deadlines {}  host aborts {}",
                c.aborts, c.exceptions, c.out_of_fuel, c.deadlines, c.host_aborts
            );
        }
    }
    s
}

/// Examples for `safexc explain` of the daemon's codes (`safex::codes`
/// documents the codes; the sessions are safexc's).
pub fn example(code: &str) -> &'static str {
    match code {
        "D0001" => {
            "$ safexc deploy video cpu_pid.o    # as uid 1001\nerror[D0001]: application `video` belongs to uid \
             1000, not to uid 1001\n\n$ safexc grant video 1001 r         # as uid 1000: now uid 1001 may list \
             video and read its attributes"
        }
        "D0002" => "$ safexc deploy vidoe cpu_pid.o\nerror[D0002]: no application `vidoe`\n$ safexc create-app video",
        "D0003" => "$ safexc undeploy 42\nerror[D0003]: no extension 42\n$ safexc ls      # the ids of your extensions",
        "D0004" => {
            "$ safexc deploy video big.o\nerror[D0004]: big.o has 20971520 bytes; the daemon takes objects of at \
             most 16777216 bytes (16 MiB)"
        }
        "D0005" => {
            "$ safexc create-app 'my video'\nerror[D0005]: `my video`: an application name has 1 to 64 characters \
             of [A-Za-z0-9_.-]"
        }
        "D0006" => {
            "A daemon whose connections carry no peer credentials:\n$ safexc ls\nerror[D0006]: the connection's \
             peer credentials (SO_PEERCRED) are unknown"
        }
        "D0007" => {
            "$ safexc deploy video cpu_pid.o     # the state file's disk is full\nerror[D0007]: the state store \
             failed, nothing changed: …"
        }
        "D0008" => "$ safexc ls      # while safexd shuts down\nerror[D0008]: the daemon is stopping",
        "D0009" => {
            "$ safexd --socket /run/safex/safex.sock     # a second daemon\nsafexd: error[D0009]: another daemon \
             answers on /run/safex/safex.sock: in use"
        }
        "D0010" => {
            "$ safexd --state /var/lib/safex/state.redb --socket /tmp/b.sock     # a second daemon on the same \
             state\nsafexd: error[D0010]: cannot open the state /var/lib/safex/state.redb: …"
        }
        "D0011" => {
            "$ safexd --period-ms 0\nerror[D0011]: invalid value '0' for '--period-ms <MS>': 0 is not in 1..=60000"
        }
        "D0012" => {
            "$ safexc ls --socket /tmp/none.sock\nerror[D0012]: cannot connect to the SafeX daemon at \
             /tmp/none.sock: …: No such file or directory (os error 2)\n$ safexd --socket /tmp/none.sock &"
        }
        "D0013" => "$ safexc ls      # safexd was killed during the call\nerror[D0013]: … (Unavailable)",
        "D0014" => {
            "$ safexd --trust missing.pub\nsafexd: error[D0014]: cannot read missing.pub: No such file or \
             directory (os error 2)"
        }
        "D0015" => {
            "client.write_attribute(\"video\", \"timeslice_adjustment\", 5)\nerror[D0015]: \
             `cpu_qos.timeslice_adjustment` is guarded: only an extension's set_attribute, through its guard, \
             changes it"
        }
        "D0016" => {
            "$ safexc grant video 1000 rw      # uid 1000 owns video\nerror[D0016]: uid 1000 owns `video`: the \
             owner has every right and is granted none"
        }
        "D0017" => "$ safexc revoke video 1001\nerror[D0017]: uid 1001 holds no grant on `video`",
        "D0018" => {
            "client.subscribe(\"video\", 7_200_000)\nerror[D0018]: a counters interval of 7200000 ms: at most \
             3600000 (an hour), 0 for none"
        }
        "D0019" => {
            "$ safexc deploy video cpu_pid.o\nerror[D0019]: `cpu_pid` reserves 200.0 µs per period (2 entry points \
             × 10000 fuel units at 10.000 ns each, or the 1000 µs deadline); 400.0 µs are reserved already, and at \
             most 500.0 µs (5 % of the 10000 µs period) are admitted\n$ safexc undeploy 3       # make room; or \
             declare a smaller `budget N;`, or give safexd a longer period or a larger --admit-percent"
        }
        "D0020" => {
            "blocking.next_notice(&mut subscription, Some(Duration::from_secs(1)))\nerror[D0020]: no notice within \
             the time given"
        }
        "D0021" => {
            "$ safexd --listen 0.0.0.0:7443 --tls-cert cert.pem --tls-key key.pem --tls-client-ca clients.pem\n\
             safexd: error[D0021]: cannot read key.pem: No such file or directory (os error 2)"
        }
        "D0022" => {
            "$ safexc ls --host edge-7\nerror[D0022]: no peer daemon `edge-7` (peers: edge-1, edge-2)\n$ safexd \
             --peer edge-7=10.0.0.7:7443 --peer-cert a.pem --peer-key a.key --peer-ca servers.pem …"
        }
        "D0100" => "$ cargo build -p safex\nwarning: error[D0100]: …/proto/safex.proto: …",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use safex::proto::Grant;

    fn sample() -> ListResponse {
        ListResponse {
            applications: vec![Application {
                name: "video".into(),
                owner_uid: 1000,
                blocked: false,
                extensions: vec![Extension {
                    id: 7,
                    application: "video".into(),
                    name: "cpu_pid".into(),
                    acceptance: Acceptance::Checked as i32,
                    quarantined: true,
                    counters: Some(Counters {
                        invocations: 4,
                        aborts: 3,
                        exceptions: 1,
                        out_of_fuel: 1,
                        deadlines: 1,
                        fuel_used: 100,
                        time_ns: 8_000,
                        max_time_ns: 5_000,
                        ..Counters::default()
                    }),
                    error: String::new(),
                    object_bytes: 1234,
                }],
                grants: vec![Grant {
                    principal_uid: 1001,
                    rights: "rw".into(),
                }],
            }],
            ticks: 5,
            period_us: 10_000,
        }
    }

    #[test]
    fn a_listing_shows_every_counter() {
        let text = list_text(&sample());
        assert!(
            text.starts_with("service manager: period 10.000 ms, 5 ticks\n"),
            "{text}"
        );
        assert!(
            text.contains("application video  owner uid 1000  not blocked  grants 1001:rw\n"),
            "{text}"
        );
        assert!(
            text.contains("\n7: cpu_pid  checked  quarantined  1234 bytes\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "\tinvocations 4  fuel used 100 (25.0 per invocation)  time 8.000 us (2.000 us per invocation, at \
                 most 5.000 us)"
            ),
            "{text}"
        );
        assert!(
            text.contains("\ttraps 3  exceptions 1  out of fuel 1  deadlines 1  host aborts 0\n"),
            "{text}"
        );
        let empty = list_text(&ListResponse::default());
        assert!(empty.ends_with("no applications\n"), "{empty}");
    }

    #[test]
    fn the_json_listing_has_every_field() {
        let j = list_json(&sample());
        assert_eq!(j["ticks"], 5);
        assert_eq!(j["period_us"], 10_000);
        let app = &j["applications"][0];
        assert_eq!(app["grants"][0]["rights"], "rw");
        let ext = &app["extensions"][0];
        assert_eq!(ext["acceptance"], "checked");
        assert_eq!(ext["state"], "quarantined");
        assert_eq!(ext["mean_time_ns"], 2000.0);
        assert_eq!(ext["counters"]["out_of_fuel"], 1);
        let mut bare = sample().applications[0].extensions[0].clone();
        bare.counters = None;
        assert_eq!(ext_json(&bare)["mean_time_ns"], Value::Null);
    }

    #[test]
    fn names_of_acceptances_and_means() {
        assert_eq!(acceptance_name(Acceptance::Signed as i32), "signed");
        assert_eq!(acceptance_name(99), "acceptance 99");
        assert_eq!(mean_ns(0, 5), None);
        assert_eq!(mean_ns(10, 0), None);
        assert_eq!(mean_ns(10, 4), Some(2.5));
    }

    #[test]
    fn examples_show_their_code() {
        let written: Vec<String> = (1..=17).map(|n| format!("D{n:04}")).chain(["D0100".into()]).collect();
        for code in &written {
            let example = example(code);
            assert!(example.contains(code.as_str()), "{code}: {example:?}");
            assert!(safex::codes::explain(code).is_some(), "{code} is a code of the daemon");
        }
        // A code added to the daemon before its example is explained
        // without one.
        assert_eq!(example("D0999"), "");
    }
}
