//! `safexc app` and `safexc attr`: applications of the kernel module and
//! their attributes.

use crate::device::{self, Asked, DeviceArgs, Failed};
use crate::load::AppSettings;
use crate::out::{Out, OutputError};
use serde_json::json;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct AppArgs {
    /// The application's name.
    #[arg(value_parser = device::name)]
    name: String,
    #[command(flatten)]
    settings: AppSettings,
    /// Print `{"id":…,"name":…,…}` instead of a sentence.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: DeviceArgs,
}

pub fn app(out: &mut Out, args: AppArgs) -> Result<ExitCode, OutputError> {
    device::finish((|| -> Result<(), Failed> {
        let Some((pid, period, target)) = args.settings.get()? else {
            return Err(Failed::Usage(
                "an application needs --pid PID (0 for none), --period US and --target US".into(),
            ));
        };
        let device = device::open(&args.device.device)?;
        let name = args.name.as_str();
        let id = device
            .app(name, pid, period, target)
            .map_err(|e| device::refused(&device, &Asked::App { name }, e))?;
        if args.json {
            writeln!(
                out,
                "{}",
                json!({"id": id, "name": name, "pid": pid, "period_us": period, "target_us": target})
            )?;
        } else {
            writeln!(
                out,
                "application {name} (id {id}): pid {pid}, period {period} us, target {target} us"
            )?;
        }
        Ok(())
    })())
}

#[derive(clap::Args)]
pub struct AttrArgs {
    /// The application.
    #[arg(value_parser = device::name)]
    app: String,
    /// The attribute: `class.attribute`, or an attribute name only one class has.
    #[arg(value_parser = device::name)]
    attr: String,
    /// Write this value (the system's write: read-only attributes too, no
    /// guard; the attribute's range holds); without it, read.
    #[arg(allow_negative_numbers = true)]
    value: Option<i64>,
    /// Print `{"app":…,"attr":…,"value":…}` instead of `ATTR = VALUE`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: DeviceArgs,
}

pub fn attr(out: &mut Out, args: AttrArgs) -> Result<ExitCode, OutputError> {
    device::finish((|| -> Result<(), Failed> {
        let device = device::open(&args.device.device)?;
        let (app, attr) = (args.app.as_str(), args.attr.as_str());
        let asked = Asked::Attr {
            app,
            attr,
            write: args.value,
        };
        let value = device
            .attr(app, attr, args.value)
            .map_err(|e| device::refused(&device, &asked, e))?;
        if args.json {
            writeln!(out, "{}", json!({"app": app, "attr": attr, "value": value}))?;
        } else {
            writeln!(out, "{attr} = {value}")?;
        }
        Ok(())
    })())
}
