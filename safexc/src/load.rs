//! `safexc load`, `unload` and `release`: extensions in the kernel module.
//!
//! `safexc load EXT.o --app NAME` sends a signed object (`safexc sign`'s
//! output) to `/dev/safex` for an application; with `--pid`, `--period`
//! and `--target` it creates or updates the application first. `--guard`
//! installs the object as the system's guard instead.

use crate::device::{self, Asked, DeviceArgs, Failed};
use crate::files;
use crate::out::{Out, OutputError};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use stdlib::uapi;

/// The shortest period the module takes, in microseconds (1 ms).
pub const MIN_PERIOD_US: u32 = 1_000;
/// The longest period the module takes, in microseconds (1 s).
pub const MAX_PERIOD_US: u32 = 1_000_000;

/// An application's task, period and target (`safexc app`, `safexc load`).
#[derive(clap::Args)]
pub struct AppSettings {
    /// The task whose CPU the application's extensions manage, or 0 for none.
    #[arg(long, requires_all = ["period", "target"], allow_negative_numbers = true,
          value_parser = clap::value_parser!(i32).range(0..))]
    pub pid: Option<i32>,
    /// The application's period, in microseconds: 1000 to 1000000.
    #[arg(long, value_name = "US", requires_all = ["pid", "target"], allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(i64::from(MIN_PERIOD_US)..=i64::from(MAX_PERIOD_US)))]
    pub period: Option<u32>,
    /// The CPU time promised per period, in microseconds: 0 to the period.
    #[arg(long, value_name = "US", requires_all = ["pid", "period"], allow_negative_numbers = true,
          value_parser = clap::value_parser!(u64).range(..=u64::from(MAX_PERIOD_US)))]
    pub target: Option<u64>,
}

impl AppSettings {
    /// `(pid, period, target)` if given (clap makes it all three or none);
    /// `L0003` if the target exceeds the period.
    pub fn get(&self) -> Result<Option<(i32, u32, u64)>, Failed> {
        let (Some(pid), Some(period), Some(target)) = (self.pid, self.period, self.target) else {
            return Ok(None);
        };
        if target > u64::from(period) {
            return Err(Failed::Usage(format!(
                "--target {target} exceeds --period {period}: the CPU time promised per period is at most the period"
            )));
        }
        Ok(Some((pid, period, target)))
    }
}

#[derive(clap::Args)]
pub struct LoadArgs {
    /// The signed object (`safexc sign`'s output); `-` reads standard input.
    file: PathBuf,
    /// The application the extension is for.
    #[arg(long, value_parser = device::name, required_unless_present = "guard", conflicts_with = "guard")]
    app: Option<String>,
    /// Install the object as the system's guard (every entry point a guard) instead.
    #[arg(long, conflicts_with_all = ["pid", "period", "target"])]
    guard: bool,
    #[command(flatten)]
    settings: AppSettings,
    /// Print `{"id":…,"name":…,"app":…}` instead of a sentence.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: DeviceArgs,
}

pub fn load(out: &mut Out, args: LoadArgs) -> Result<ExitCode, OutputError> {
    device::finish(load_inner(out, &args))
}

fn load_inner(out: &mut Out, args: &LoadArgs) -> Result<(), Failed> {
    let settings = args.settings.get()?;
    let app = args.app.as_deref().unwrap_or_default();
    let file = files::display_name(&args.file);
    let signed = files::read_input(&args.file).ok_or(Failed::Reported)?;
    match runtime::signed::split(&signed) {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(device::Error::new(
                "L0040",
                format!(
                    "{file} is not signed: it does not end with a signature trailer (`SXSIG01`); the module loads \
                     only signed objects: `safexc sign {file} --key NAME.key -o SIGNED.o`"
                ),
            )
            .into());
        }
        Err(e) => return Err(device::Error::new(e.code, format!("{file}: {}", e.message)).into()),
    }
    if signed.len() as u64 > u64::from(uapi::MAX_OBJECT) {
        return Err(device::Error::new(
            "L0057",
            format!(
                "{file} has {} bytes; the module takes objects of at most {} bytes",
                signed.len(),
                uapi::MAX_OBJECT
            ),
        )
        .into());
    }
    let device = device::open(&args.device.device)?;
    if let Some((pid, period, target)) = settings {
        device
            .app(app, pid, period, target)
            .map_err(|e| device::refused(&device, &Asked::App { name: app }, e))?;
    }
    let flags = if args.guard { uapi::LOAD_GUARD } else { 0 };
    let asked = Asked::Load {
        file: &file,
        app,
        guard: args.guard,
    };
    let id = device
        .load(&signed, app, flags)
        .map_err(|e| device::refused(&device, &asked, e))?;
    // The name the module read from the object's metadata; if the list
    // cannot be read, the extension is loaded all the same.
    let name = device
        .list()
        .ok()
        .and_then(|exts| exts.iter().find(|x| x.id == id).map(|x| uapi::decode_name(&x.name)))
        .unwrap_or_default();
    if args.json {
        writeln!(out, "{}", json!({"id": id, "name": name, "app": app}))?;
    } else if args.guard {
        writeln!(out, "loaded {name} as extension {id}, the system's guard")?;
    } else {
        writeln!(out, "loaded {name} as extension {id} for application {app}")?;
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct UnloadArgs {
    /// The extension's id (`safexc list`).
    id: u32,
    /// Print `{"id":…}` instead of a sentence.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: DeviceArgs,
}

/// `safexc unload ID`, or with `release` `safexc release ID`.
pub fn unload(out: &mut Out, args: UnloadArgs, release: bool) -> Result<ExitCode, OutputError> {
    device::finish((|| -> Result<(), Failed> {
        let device = device::open(&args.device.device)?;
        let id = args.id;
        device
            .unload(id, release)
            .map_err(|e| device::refused(&device, &Asked::Unload { id, release }, e))?;
        if args.json {
            writeln!(out, "{}", json!({ "id": id }))?;
        } else if release {
            writeln!(out, "released extension {id}")?;
        } else {
            writeln!(out, "unloaded extension {id}")?;
        }
        Ok(())
    })())
}
