//! `safexc invoke` and `safexc round`: run extensions in the kernel module
//! now, and time them.

use crate::device::{self, Asked, DeviceArgs, Failed};
use crate::out::{Out, OutputError};
use serde_json::json;
use std::process::ExitCode;
use stdlib::uapi;

/// The most invocations or rounds one command may ask for.
const MAX_REPEAT: u32 = 1_000_000;

#[derive(clap::Args)]
pub struct InvokeArgs {
    /// The extension's id (`safexc list`).
    id: u32,
    /// The entry point's index in the extension (`safexc list` lists them in order).
    #[arg(value_parser = clap::value_parser!(u32).range(..uapi::MAX_ENTRIES as i64))]
    entry: u32,
    /// The value a handler receives (a monitor ignores it).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    value: i64,
    /// Invocations: 1 to 1000000.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_REPEAT)))]
    repeat: u32,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: DeviceArgs,
}

pub fn invoke(out: &mut Out, args: InvokeArgs) -> Result<ExitCode, OutputError> {
    device::finish((|| -> Result<(), Failed> {
        let device = device::open(&args.device.device)?;
        let (id, entry) = (args.id, args.entry);
        let r = device
            .invoke(id, entry, args.value, args.repeat)
            .map_err(|e| device::refused(&device, &Asked::Invoke { id, entry }, e))?;
        let each = r.elapsed_ns as f64 / f64::from(args.repeat);
        let status = device::status_name(r.status);
        let deadline = r.deadline != 0;
        if args.json {
            writeln!(
                out,
                "{}",
                json!({
                    "id": id,
                    "entry": entry,
                    "value": args.value,
                    "repeat": args.repeat,
                    "ret": r.ret,
                    "status": status,
                    "deadline": deadline,
                    "elapsed_ns": r.elapsed_ns,
                    "ns_per_invocation": each,
                })
            )?;
        } else {
            let stopped = if deadline { " (stopped by the deadline)" } else { "" };
            writeln!(
                out,
                "returned {}, status {status}{stopped}; {} in {} ({} each)",
                r.ret,
                match args.repeat {
                    1 => "1 invocation".to_owned(),
                    n => format!("{n} invocations"),
                },
                device::duration(r.elapsed_ns as f64),
                device::duration(each)
            )?;
        }
        Ok(())
    })())
}

#[derive(clap::Args)]
pub struct RoundArgs {
    /// Service rounds: 1 to 1000000.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_REPEAT)))]
    rounds: u32,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: DeviceArgs,
}

pub fn round(out: &mut Out, args: RoundArgs) -> Result<ExitCode, OutputError> {
    device::finish((|| -> Result<(), Failed> {
        let device = device::open(&args.device.device)?;
        let elapsed = device
            .round(args.rounds)
            .map_err(|e| device::refused(&device, &Asked::Round, e))?;
        let each = elapsed as f64 / f64::from(args.rounds);
        if args.json {
            writeln!(
                out,
                "{}",
                json!({"rounds": args.rounds, "elapsed_ns": elapsed, "ns_per_round": each})
            )?;
        } else {
            writeln!(
                out,
                "{} in {} ({} each)",
                match args.rounds {
                    1 => "1 round".to_owned(),
                    n => format!("{n} rounds"),
                },
                device::duration(elapsed as f64),
                device::duration(each)
            )?;
        }
        Ok(())
    })())
}
