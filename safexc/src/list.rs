//! `safexc list`: the kernel module's extensions, their entry points and
//! counters, as a table or (`--json`) a JSON array.

use crate::device::{self, Asked, DeviceArgs, Failed};
use crate::out::{Out, OutputError};
use serde_json::{Value, json};
use std::process::ExitCode;
use stdlib::uapi::{self, EntryInfo, ExtInfo};

#[derive(clap::Args)]
pub struct ListArgs {
    /// Print a JSON array of objects, every field of each extension.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: DeviceArgs,
}

pub fn list(out: &mut Out, args: ListArgs) -> Result<ExitCode, OutputError> {
    device::finish((|| -> Result<(), Failed> {
        let device = device::open(&args.device.device)?;
        let exts = device.list().map_err(|e| device::refused(&device, &Asked::List, e))?;
        if args.json {
            let all: Vec<Value> = exts.iter().map(ext_json).collect();
            writeln!(out, "{}", Value::Array(all))?;
            return Ok(());
        }
        writeln!(
            out,
            "| id | state | app | name | entry points | invocations | aborts | deadlines | fuel used | time |"
        )?;
        writeln!(out, "|---:|---|---|---|---|---:|---:|---:|---:|---:|")?;
        for x in &exts {
            let app = uapi::decode_name(&x.app);
            let entries: Vec<String> = entries(x).iter().map(entry_text).collect();
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                x.id,
                state_name(x.state),
                if app.is_empty() { "(system)" } else { &app },
                uapi::decode_name(&x.name),
                entries.join(" "),
                x.invocations,
                x.aborts,
                x.deadlines,
                x.fuel_used,
                device::duration(x.time_ns as f64)
            )?;
        }
        Ok(())
    })())
}

/// The entry points the module filled in.
fn entries(x: &ExtInfo) -> &[EntryInfo] {
    &x.entry[..(x.entries as usize).min(uapi::MAX_ENTRIES)]
}

pub fn state_name(state: u32) -> String {
    match state {
        uapi::STATE_ACTIVE => "active".into(),
        uapi::STATE_QUARANTINED => "quarantined".into(),
        other => format!("state {other}"),
    }
}

pub fn kind_name(kind: u32) -> String {
    match kind {
        uapi::ENTRY_MONITOR => "monitor".into(),
        uapi::ENTRY_HANDLER => "handler".into(),
        uapi::ENTRY_GUARD => "guard".into(),
        other => format!("kind {other}"),
    }
}

/// `kind:name`, and `->target` if it has one.
fn entry_text(e: &EntryInfo) -> String {
    let target = uapi::decode_name(&e.target);
    let arrow = if target.is_empty() { "" } else { "->" };
    format!("{}:{}{arrow}{target}", kind_name(e.kind), uapi::decode_name(&e.name))
}

fn ext_json(x: &ExtInfo) -> Value {
    let entry: Vec<Value> = entries(x)
        .iter()
        .map(|e| {
            json!({
                "name": uapi::decode_name(&e.name),
                "target": uapi::decode_name(&e.target),
                "kind": kind_name(e.kind),
            })
        })
        .collect();
    json!({
        "id": x.id,
        "state": state_name(x.state),
        "name": uapi::decode_name(&x.name),
        "app": uapi::decode_name(&x.app),
        "entries": x.entries,
        "entry": entry,
        "invocations": x.invocations,
        "aborts": x.aborts,
        "deadlines": x.deadlines,
        "out_of_fuel": x.out_of_fuel,
        "exceptions": x.exceptions,
        "host_aborts": x.host_aborts,
        "fuel_used": x.fuel_used,
        "time_ns": x.time_ns,
        "events_raised": x.events_raised,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_print_as_kind_name_target() {
        let mut e = EntryInfo {
            kind: uapi::ENTRY_GUARD,
            name: uapi::encode_name("timeslice_guard").unwrap(),
            target: uapi::encode_name("cpu_qos.timeslice_adjustment").unwrap(),
            ..EntryInfo::ZERO
        };
        assert_eq!(entry_text(&e), "guard:timeslice_guard->cpu_qos.timeslice_adjustment");
        e.kind = uapi::ENTRY_MONITOR;
        e.target = [0; uapi::NAME_MAX];
        assert_eq!(entry_text(&e), "monitor:timeslice_guard");
        let mut x = ExtInfo {
            id: 3,
            entries: 99,
            ..ExtInfo::ZERO
        };
        x.entry[0] = e;
        assert_eq!(entries(&x).len(), uapi::MAX_ENTRIES, "a count above the room is cut");
        let j = ext_json(&x);
        assert_eq!(j["id"], 3);
        assert_eq!(j["state"], "active");
        assert_eq!(j["entry"][0]["kind"], "monitor");
        for field in [
            "app",
            "invocations",
            "aborts",
            "deadlines",
            "out_of_fuel",
            "exceptions",
            "host_aborts",
        ] {
            assert!(j.get(field).is_some(), "{field}");
        }
        for field in ["fuel_used", "time_ns", "events_raised", "entries", "name"] {
            assert!(j.get(field).is_some(), "{field}");
        }
    }
}
