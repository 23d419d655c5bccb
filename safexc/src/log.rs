//! `safexc log`: the kernel module's change and trap log, one line per
//! record, or (`--json`) one JSON object with the records.

use crate::device::{self, Asked, DeviceArgs, Failed};
use crate::out::{Out, OutputError};
use serde_json::{Value, json};
use std::process::ExitCode;
use stdlib::uapi::{self, LogRecord};

/// Records asked for per `SAFEX_IOC_LOG`.
const ROOM: usize = 1024;
/// Reads at most: the whole log and what is written meanwhile, however
/// fast extensions write.
const MAX_READS: usize = 2 * (uapi::LOG_SIZE as usize).div_ceil(ROOM) + 2;

#[derive(clap::Args)]
pub struct LogArgs {
    /// The first sequence number to read (what the previous read printed as `next`).
    #[arg(long, value_name = "N", default_value_t = 0)]
    from: u64,
    /// Print one JSON object: `{"from":…,"next":…,"lost":…,"records":[…]}`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: DeviceArgs,
}

pub fn log(out: &mut Out, args: LogArgs) -> Result<ExitCode, OutputError> {
    device::finish((|| -> Result<(), Failed> {
        let device = device::open(&args.device.device)?;
        let mut records = Vec::new();
        let (mut next, mut lost) = (args.from, 0u64);
        for _ in 0..MAX_READS {
            let read = device
                .log(next, ROOM)
                .map_err(|e| device::refused(&device, &Asked::Log, e))?;
            lost = lost.saturating_add(read.lost);
            let full = read.records.len() == ROOM;
            let moved = read.next != next;
            records.extend(read.records);
            next = read.next;
            if !full || !moved {
                break;
            }
        }
        if args.json {
            let all: Vec<Value> = records.iter().map(record_json).collect();
            writeln!(
                out,
                "{}",
                json!({"from": args.from, "next": next, "lost": lost, "records": all})
            )?;
            return Ok(());
        }
        for r in &records {
            writeln!(out, "{}", record_text(r))?;
        }
        writeln!(out, "lost {lost} records; next --from {next}")?;
        Ok(())
    })())
}

fn kind_name(kind: u32) -> String {
    match kind {
        uapi::LOG_CHANGE => "change".into(),
        uapi::LOG_TRAP => "trap".into(),
        uapi::LOG_QUARANTINE => "quarantine".into(),
        uapi::LOG_APPLIED => "applied".into(),
        other => format!("kind {other}"),
    }
}

fn outcome_name(outcome: u32) -> String {
    match outcome {
        uapi::CHANGE_WRITTEN => "written".into(),
        uapi::CHANGE_BLOCKED => "blocked".into(),
        uapi::CHANGE_GUARD_TRAPPED => "guard_trapped".into(),
        other => format!("outcome {other}"),
    }
}

/// `class.attr` of a change's attribute (the module's classes are
/// `stdlib::classes`), or its numbers if this build does not know them.
fn attribute_name(class_id: u32, attr: u32) -> String {
    let class = stdlib::classes::CLASSES.get(class_id as usize);
    match class.and_then(|c| Some((c.name, c.attrs.get(attr as usize)?.name))) {
        Some((c, a)) => format!("{c}.{a}"),
        None => format!("class {class_id} attr {attr}"),
    }
}

/// A trap site `func << 40 | block << 20 | inst`: `None` for -1 (no site).
fn site(trap_site: i64) -> Option<(i64, i64, i64)> {
    (trap_site >= 0).then_some((trap_site >> 40, (trap_site >> 20) & 0xf_ffff, trap_site & 0xf_ffff))
}

/// `[SECONDS] #SEQ KIND app A ext E entry N: …`, the fields its kind uses.
fn record_text(r: &LogRecord) -> String {
    let head = format!(
        "[{}.{:06}] #{} {}",
        r.time_ns / 1_000_000_000,
        r.time_ns % 1_000_000_000 / 1_000,
        r.seq,
        kind_name(r.kind)
    );
    let who = format!("app {} ext {} entry {}", r.app, r.ext, r.entry);
    match r.kind {
        uapi::LOG_CHANGE => {
            let applied = if r.outcome == uapi::CHANGE_WRITTEN {
                format!(", applied {}", r.applied)
            } else {
                String::new()
            };
            format!(
                "{head} {who}: {}: {} -> {} {}{applied}",
                attribute_name(r.class_id, r.attr),
                r.old_value,
                r.new_value,
                outcome_name(r.outcome)
            )
        }
        uapi::LOG_TRAP => {
            let at = match site(r.trap_site) {
                Some((f, b, i)) => format!(" at func {f} block {b} inst {i}"),
                None => String::new(),
            };
            let deadline = if r.outcome == 1 { " (deadline)" } else { "" };
            format!("{head} {who}: {}{at}{deadline}", device::status_name(r.status))
        }
        uapi::LOG_QUARANTINE => format!("{head} {who}"),
        uapi::LOG_APPLIED => format!("{head} app {}: runtime {} us", r.app, r.new_value),
        _ => format!("{head} {r:?}"),
    }
}

/// The record as JSON: the fields every record has, and those its kind uses.
fn record_json(r: &LogRecord) -> Value {
    let mut j = json!({
        "seq": r.seq,
        "time_ns": r.time_ns,
        "kind": kind_name(r.kind),
        "app": r.app,
        "ext": r.ext,
        "entry": r.entry,
    });
    let more = match r.kind {
        uapi::LOG_CHANGE => json!({
            "attribute": attribute_name(r.class_id, r.attr),
            "class_id": r.class_id,
            "attr": r.attr,
            "old_value": r.old_value,
            "new_value": r.new_value,
            "outcome": outcome_name(r.outcome),
            "applied": r.applied,
        }),
        uapi::LOG_TRAP => json!({
            "status": device::status_name(r.status),
            "deadline": r.outcome == 1,
            "trap_site": site(r.trap_site).map(|(f, b, i)| json!({"func": f, "block": b, "inst": i})),
        }),
        uapi::LOG_QUARANTINE => json!({}),
        uapi::LOG_APPLIED => json!({ "runtime_us": r.new_value }),
        _ => json!({
            "class_id": r.class_id,
            "attr": r.attr,
            "status": r.status,
            "outcome": r.outcome,
            "old_value": r.old_value,
            "new_value": r.new_value,
            "applied": r.applied,
            "trap_site": r.trap_site,
        }),
    };
    if let (Some(j), Value::Object(more)) = (j.as_object_mut(), more) {
        j.extend(more);
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_print_the_fields_of_their_kind() {
        let trap = LogRecord {
            seq: 7,
            time_ns: 12_345_678_901,
            kind: uapi::LOG_TRAP,
            ext: 3,
            status: 6,
            outcome: 1,
            trap_site: 1 << 40 | 2 << 20 | 5,
            ..LogRecord::ZERO
        };
        assert_eq!(
            record_text(&trap),
            "[12.345678] #7 trap app 0 ext 3 entry 0: out-of-fuel at func 1 block 2 inst 5 (deadline)"
        );
        let j = record_json(&trap);
        assert_eq!(j["status"], "out-of-fuel");
        assert_eq!(j["trap_site"]["block"], 2);
        assert_eq!(j["deadline"], true);
        let change = LogRecord {
            kind: uapi::LOG_CHANGE,
            old_value: 100,
            new_value: 200,
            applied: 150,
            ..LogRecord::ZERO
        };
        assert_eq!(
            record_text(&change),
            "[0.000000] #0 change app 0 ext 0 entry 0: cpu_qos.period: 100 -> 200 written, applied 150"
        );
        assert_eq!(record_json(&change)["outcome"], "written");
        let applied = LogRecord {
            kind: uapi::LOG_APPLIED,
            new_value: 2000,
            ..LogRecord::ZERO
        };
        assert_eq!(record_text(&applied), "[0.000000] #0 applied app 0: runtime 2000 us");
        assert_eq!(site(-1), None);
    }
}
