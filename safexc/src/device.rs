//! `/dev/safex` for the command line: the error codes `L0050`–`L0069` for
//! what the kernel loader module refuses, over `runtime::device`'s wrapper
//! of its ioctls.
//!
//! Every command opens the device and asks its versions first ([`open`]):
//! a module of another interface or extension ABI is `L0066` before
//! anything else is sent. An errno from a command becomes an [`Error`]
//! naming the check that refused, which depends on the command (`ENOENT`
//! from `SAFEX_IOC_LOAD` is a missing application or attribute class, from
//! `SAFEX_IOC_UNLOAD` an unknown extension id): the commands call
//! [`refused`] with what they asked.
//!
//! Nothing here needs `/proc`, `HOME` or a locale, so `safexc` runs in a
//! minimal initramfs.

use crate::out::OutputError;
use runtime::device::{DEFAULT_PATH, Device, OpenError};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use stdlib::uapi;

/// `--device`, common to every device command.
#[derive(clap::Args)]
pub struct DeviceArgs {
    /// The SafeX module's device.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_PATH)]
    pub device: PathBuf,
}

/// A refusal, reported as `error[CODE]: MESSAGE`.
#[derive(Debug)]
pub struct Error {
    pub code: &'static str,
    pub message: String,
}

impl Error {
    pub fn new(code: &'static str, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
        }
    }
}

/// Why a device command stopped.
pub enum Failed {
    /// Standard output could not be written (`L0002`, `main` reports it).
    Output(OutputError),
    /// Refused: reported as `error[CODE]`, exit status 1.
    Refused(Error),
    /// A command line clap could not check (`L0003`, exit status 2).
    Usage(String),
    /// Reported already (`files::read_input`): exit status 1.
    Reported,
}

impl From<OutputError> for Failed {
    fn from(e: OutputError) -> Failed {
        Failed::Output(e)
    }
}

impl From<Error> for Failed {
    fn from(e: Error) -> Failed {
        Failed::Refused(e)
    }
}

/// The exit status of a device command, its error reported.
pub fn finish(result: Result<(), Failed>) -> Result<ExitCode, OutputError> {
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(Failed::Output(e)) => Err(e),
        Err(Failed::Refused(e)) => {
            errln!("error[{}]: {}", e.code, e.message);
            Ok(ExitCode::from(1))
        }
        Err(Failed::Usage(message)) => {
            errln!("error[L0003]: {message}");
            Ok(ExitCode::from(crate::USAGE))
        }
        Err(Failed::Reported) => Ok(ExitCode::from(1)),
    }
}

/// Opens the device ([`Device::open`]): `L0050` if it cannot be opened or
/// is not a SafeX device, `L0066` if it speaks another interface or
/// extension ABI than this `safexc`.
pub fn open(path: &Path) -> Result<Device, Error> {
    let name = path.display();
    Device::open(path).map_err(|e| match e {
        OpenError::Open(e) => {
            let why = match e.raw_os_error() {
                Some(libc::ENOENT) => format!(
                    "{name} does not exist: is the SafeX module loaded? (`insmod safex.ko pubkey=HEX`, the \
                     `pubkey=` line `safexc keygen` printed)"
                ),
                Some(libc::EACCES | libc::EPERM) => format!(
                    "cannot open {name}: {}; the SafeX device is root's only (CAP_SYS_ADMIN)",
                    errno_text(e.raw_os_error().unwrap_or(0))
                ),
                _ => format!("cannot open {name}: {e}"),
            };
            Error::new("L0050", why)
        }
        OpenError::Version(errno) => match errno {
            libc::ENOTTY => Error::new(
                "L0050",
                format!("{name} is not a SafeX device: it does not answer SAFEX_IOC_VERSION (ENOTTY)"),
            ),
            libc::EPERM | libc::EACCES => Error::new(
                "L0050",
                format!(
                    "{name} refused SAFEX_IOC_VERSION ({}): the SafeX device is root's only (CAP_SYS_ADMIN)",
                    errno_name(errno)
                ),
            ),
            libc::EINVAL => Error::new(
                "L0066",
                format!(
                    "{name} refused SAFEX_IOC_VERSION (EINVAL): the module speaks another /dev/safex \
                     interface than version {} of this safexc; use the safexc built with the module",
                    uapi::UAPI_VERSION
                ),
            ),
            _ => other("SAFEX_IOC_VERSION", path, errno),
        },
        OpenError::Mismatch { uapi: theirs, abi } => {
            let (uapi_version, our_abi) = (uapi::UAPI_VERSION, stdlib::abi::ABI_VERSION);
            Error::new(
                "L0066",
                format!(
                    "{name} speaks /dev/safex interface {theirs} and extension ABI {abi}; this safexc speaks \
                     interface {uapi_version} and ABI {our_abi}: use the safexc built with the module, or build \
                     the module from this safexc's tree"
                ),
            )
        }
    })
}

/// Parses a name argument (an application, an attribute): 1 to
/// `SAFEX_NAME_MAX - 1` bytes without NUL, or clap's `L0003`.
pub fn name(text: &str) -> Result<String, String> {
    match uapi::encode_name(text) {
        Some(_) if !text.is_empty() => Ok(text.to_owned()),
        _ => Err(format!(
            "a name is 1 to {} bytes without NUL (this one has {})",
            uapi::NAME_MAX - 1,
            text.len()
        )),
    }
}

/// An errno no check of the command explains: `L0069`, with its name and text.
pub fn other(command: &str, path: &Path, errno: i32) -> Error {
    Error::new(
        "L0069",
        format!(
            "{} refused {command} with {}: {}",
            path.display(),
            errno_name(errno),
            errno_text(errno)
        ),
    )
}

/// `PATH refused COMMAND (ERRNO): why`.
pub fn refusal(code: &'static str, device: &Device, command: &str, errno: i32, why: impl std::fmt::Display) -> Error {
    Error::new(
        code,
        format!(
            "{} refused {command} ({}): {why}",
            device.path().display(),
            errno_name(errno)
        ),
    )
}

/// What a command asked, for [`refused`] to say which check refused it.
pub enum Asked<'a> {
    App {
        name: &'a str,
    },
    /// Loading `file` for application `app` (`""` for the system's guard).
    Load {
        file: &'a str,
        app: &'a str,
        guard: bool,
    },
    Unload {
        id: u32,
        release: bool,
    },
    List,
    Attr {
        app: &'a str,
        attr: &'a str,
        write: Option<i64>,
    },
    Log,
    Invoke {
        id: u32,
        entry: u32,
    },
    Round,
}

/// The error for `errno` from the command `asked`: the code of the check
/// that refused, and a message saying what to do.
pub fn refused(device: &Device, asked: &Asked, errno: i32) -> Error {
    use Asked as A;
    let (command, checked) = match asked {
        A::App { .. } => ("SAFEX_IOC_APP", app_error(asked, errno)),
        A::Load { .. } => ("SAFEX_IOC_LOAD", load_error(device, asked, errno)),
        A::Unload { release: false, .. } => ("SAFEX_IOC_UNLOAD", id_error(device, asked, errno)),
        A::Unload { release: true, .. } => ("SAFEX_IOC_RELEASE", id_error(device, asked, errno)),
        A::List => ("SAFEX_IOC_LIST", None),
        A::Attr { .. } => ("SAFEX_IOC_ATTR", attr_error(device, asked, errno)),
        A::Log => ("SAFEX_IOC_LOG", None),
        A::Invoke { .. } => ("SAFEX_IOC_INVOKE", id_error(device, asked, errno)),
        A::Round => ("SAFEX_IOC_ROUND", None),
    };
    match checked {
        Some((code, why)) => refusal(code, device, command, errno, why),
        None => other(command, device.path(), errno),
    }
}

type Checked = Option<(&'static str, String)>;

fn app_error(asked: &Asked, errno: i32) -> Checked {
    let Asked::App { name } = asked else { return None };
    Some(match errno {
        libc::ESRCH => (
            "L0065",
            "no task has that pid (--pid): give a running task's, or 0 for none".into(),
        ),
        libc::ENOSPC => (
            "L0064",
            format!(
                "application `{name}` would be one too many: the module holds {} applications",
                uapi::MAX_APPS
            ),
        ),
        libc::EBUSY => (
            "L0071",
            "Linux's admission control for deadline tasks has no room for the task's reservation (its target \
             every period): the task is not attached"
                .into(),
        ),
        libc::EPERM => (
            "L0071",
            "Linux refused the task a SCHED_DEADLINE reservation: it may not run on every CPU (pinned?); the \
             task is not attached"
                .into(),
        ),
        _ => return None,
    })
}

fn load_error(device: &Device, asked: &Asked, errno: i32) -> Checked {
    let Asked::Load { file, app, guard } = asked else {
        return None;
    };
    let max = uapi::MAX_OBJECT;
    Some(match errno {
        libc::ENODATA => (
            "L0051",
            format!("{file}: the module finds no usable signature (not signed, or a malformed trailer)"),
        ),
        libc::EBADMSG => (
            "L0052",
            format!(
                "{file}: the signature is not the module's key's: another key than the one whose `pubkey=` the \
                 module was loaded with signed it, or the signature's bytes were changed"
            ),
        ),
        libc::EKEYREJECTED => (
            "L0070",
            format!(
                "{file}: the object was changed after it was signed: the signature is the module's key's, of \
                 other bytes"
            ),
        ),
        libc::ENOKEY => (
            "L0053",
            "the module was loaded without a key, and refuses every object: `insmod safex.ko pubkey=HEX` with \
             the `pubkey=` line `safexc keygen` printed"
                .into(),
        ),
        libc::ENOEXEC => (
            "L0054",
            format!(
                "{file} is not a SafeX object: not an x86-64 ELF relocatable object of SafeX's sections, \
                 symbols and relocations"
            ),
        ),
        libc::EPROTO => (
            "L0055",
            format!(
                "{file} was built for another extension ABI than the module's ({}): compile it again with this \
                 safexc and sign it",
                stdlib::abi::ABI_VERSION
            ),
        ),
        libc::EACCES => (
            "L0056",
            format!("{file} was built with --no-fuel: without fuel checks its run time has no bound"),
        ),
        libc::E2BIG => (
            "L0057",
            format!(
                "{file} is larger than {max} bytes, or has more entry points (at most {}), code or data than \
                 the module takes",
                uapi::MAX_ENTRIES
            ),
        ),
        libc::EPERM => (
            "L0058",
            format!(
                "{file} has a guard entry point, or one that asks for the guard right `g`: an application's \
                 extension holds `rw`; guards belong to the system (`--guard`)"
            ),
        ),
        libc::EEXIST if *guard => (
            "L0067",
            format!(
                "{file} cannot be the system's guard: an entry point is not a guard, or an attribute it guards \
                 has a guard already (`safexc list` shows it; unload it first)"
            ),
        ),
        libc::EINVAL => (
            "L0059",
            format!(
                "{file} declares an attribute class otherwise than the module: import the class from the \
                 standard library (`import cpu;`) and compile against the standard library of this safexc"
            ),
        ),
        libc::ENOENT if !*guard && !app_exists(device, app) => (
            "L0060",
            format!("no application `{app}`: give --pid, --period and --target to create it"),
        ),
        libc::ENOENT => (
            "L0059",
            format!(
                "{file} uses an attribute class, attribute or event the module does not have: compile it \
                 against the standard library of this safexc"
            ),
        ),
        libc::ENOSPC => (
            "L0064",
            format!(
                "the module holds {} extensions already: unload one (`safexc unload ID`)",
                uapi::MAX_EXTENSIONS
            ),
        ),
        _ => return None,
    })
}

/// Whether application `app` exists: reading its `cpu_qos.period`, which
/// every application has, succeeds.
fn app_exists(device: &Device, app: &str) -> bool {
    !matches!(device.attr(app, "cpu_qos.period", None), Err(libc::ENOENT))
}

fn id_error(device: &Device, asked: &Asked, errno: i32) -> Checked {
    Some(match (asked, errno) {
        (Asked::Unload { id, .. }, libc::ENOENT) => (
            "L0061",
            format!("no extension {id} is loaded: `safexc list` shows the loaded ones"),
        ),
        (Asked::Invoke { id, entry }, libc::ENOENT) => {
            let loaded = device.list().ok().map(|exts| exts.into_iter().find(|x| x.id == *id));
            let why = match loaded {
                Some(Some(x)) => format!(
                    "extension {id} (`{}`) has no entry point {entry}: its {} numbered from 0 (`safexc list` \
                     lists them in order)",
                    uapi::decode_name(&x.name),
                    match x.entries {
                        1 => "1 entry point is".to_owned(),
                        n => format!("{n} entry points are"),
                    }
                ),
                Some(None) => format!("no extension {id} is loaded: `safexc list` shows the loaded ones"),
                None => {
                    format!("no extension {id} is loaded, or it has no entry point {entry}: `safexc list` shows them")
                }
            };
            ("L0061", why)
        }
        (Asked::Invoke { id, .. }, libc::ESHUTDOWN) => (
            "L0062",
            format!("extension {id} is quarantined: `safexc release {id}` lets it run again"),
        ),
        (Asked::Invoke { entry, .. }, libc::EPERM) => (
            "L0058",
            format!("entry point {entry} is a guard: guards run only on the writes they guard"),
        ),
        _ => return None,
    })
}

fn attr_error(device: &Device, asked: &Asked, errno: i32) -> Checked {
    let Asked::Attr { app, attr, write } = asked else {
        return None;
    };
    Some(match errno {
        libc::ERANGE => (
            "L0063",
            format!(
                "{} is outside the range of `{attr}` (or not 0 or 1 for a bool)",
                write.unwrap_or_default()
            ),
        ),
        libc::ENOENT if !app_exists(device, app) => (
            "L0060",
            format!("no application `{app}`: `safexc app {app} --pid PID --period US --target US` creates it"),
        ),
        libc::ENOENT => (
            "L0068",
            format!(
                "no attribute `{attr}`: name it `class.attribute` (`cpu_qos.target_cpu`), or by an attribute name \
                 only one class has"
            ),
        ),
        _ => return None,
    })
}

/// The symbolic name of an errno (`ENOENT`), or `errno N`.
pub fn errno_name(errno: i32) -> String {
    const NAMES: &[(i32, &str)] = &[
        (libc::EPERM, "EPERM"),
        (libc::ENOENT, "ENOENT"),
        (libc::ESRCH, "ESRCH"),
        (libc::EINTR, "EINTR"),
        (libc::EIO, "EIO"),
        (libc::ENXIO, "ENXIO"),
        (libc::E2BIG, "E2BIG"),
        (libc::ENOEXEC, "ENOEXEC"),
        (libc::EBADF, "EBADF"),
        (libc::EAGAIN, "EAGAIN"),
        (libc::ENOMEM, "ENOMEM"),
        (libc::EACCES, "EACCES"),
        (libc::EFAULT, "EFAULT"),
        (libc::EBUSY, "EBUSY"),
        (libc::EEXIST, "EEXIST"),
        (libc::ENODEV, "ENODEV"),
        (libc::ENOTDIR, "ENOTDIR"),
        (libc::EISDIR, "EISDIR"),
        (libc::EINVAL, "EINVAL"),
        (libc::ENOTTY, "ENOTTY"),
        (libc::ENOSPC, "ENOSPC"),
        (libc::EROFS, "EROFS"),
        (libc::ERANGE, "ERANGE"),
        (libc::ENOSYS, "ENOSYS"),
        (libc::EPROTO, "EPROTO"),
        (libc::EBADMSG, "EBADMSG"),
        (libc::ENODATA, "ENODATA"),
        (libc::EOVERFLOW, "EOVERFLOW"),
        (libc::EOPNOTSUPP, "EOPNOTSUPP"),
        (libc::ESHUTDOWN, "ESHUTDOWN"),
        (libc::ETIMEDOUT, "ETIMEDOUT"),
        (libc::ENOKEY, "ENOKEY"),
        (libc::EKEYREJECTED, "EKEYREJECTED"),
        (libc::EKEYEXPIRED, "EKEYEXPIRED"),
        (libc::EKEYREVOKED, "EKEYREVOKED"),
    ];
    NAMES
        .iter()
        .find(|(e, _)| *e == errno)
        .map_or_else(|| format!("errno {errno}"), |(_, name)| (*name).to_owned())
}

/// The C library's text for an errno, without Rust's ` (os error N)`.
pub fn errno_text(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// A status code's name: `ok`, `divide-by-zero`, …, or its number.
pub fn status_name(status: u32) -> String {
    stdlib::c_header::STATUSES
        .iter()
        .find(|(_, s)| *s == u64::from(status))
        .map_or_else(
            || format!("status {status}"),
            |(name, _)| name.to_lowercase().replace('_', "-"),
        )
}

/// `ns` nanoseconds, readably: `850 ns`, `12.345 us`, `3.210 ms`, `1.500 s`.
pub fn duration(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.3} us", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.3} ms", ns / 1e6)
    } else {
        format!("{:.3} s", ns / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_magic_is_the_signer_s() {
        assert_eq!(stdlib::uapi::SIG_MAGIC, runtime::signed::MAGIC);
    }

    #[test]
    fn names_and_texts() {
        assert_eq!(errno_name(libc::EKEYREJECTED), "EKEYREJECTED");
        assert_eq!(errno_name(4095), "errno 4095");
        assert_eq!(errno_text(libc::ENOENT), "No such file or directory");
        assert_eq!(status_name(0), "ok");
        assert_eq!(status_name(1), "divide-by-zero");
        assert_eq!(status_name(6), "out-of-fuel");
        assert_eq!(status_name(99), "status 99");
        assert_eq!(duration(850.0), "850 ns");
        assert_eq!(duration(12_345.0), "12.345 us");
        assert_eq!(duration(1.5e9), "1.500 s");
    }

    #[test]
    fn names_are_checked_before_any_command() {
        assert!(name("hog").is_ok());
        assert!(name("").is_err());
        assert!(name(&"x".repeat(63)).is_ok());
        assert!(name(&"x".repeat(64)).is_err());
        assert!(name("a\0b").is_err());
    }
}
