//! `/dev/safex`, the kernel loader module's device: a safe wrapper of its
//! ioctl commands (`stdlib::uapi`, `kmod/safex_uapi.h`).
//!
//! [`Device::open`] opens the device and asks its versions before anything
//! else is sent: a module of another interface or extension ABI is an
//! [`OpenError::Mismatch`]. Every command returns the module's errno when it
//! refuses; what an errno means depends on the command (`ENOENT` from
//! `SAFEX_IOC_LOAD` is a missing application or attribute class, from
//! `SAFEX_IOC_UNLOAD` an unknown extension id), so this module leaves
//! explaining it to its callers (`safexc`'s `L0050`–`L0069`).
//!
//! Nothing here needs `/proc`, `HOME` or a locale, so its users run in a
//! minimal initramfs.

use std::fmt;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
/// The interface's structs and constants, which these methods take and
/// return.
pub use stdlib::uapi;
use stdlib::uapi::{Attr, ExtInfo, List, Log, LogRecord, Version};

/// Where the module's device is.
pub const DEFAULT_PATH: &str = "/dev/safex";

/// The open device, its versions checked.
pub struct Device {
    file: File,
    path: PathBuf,
}

/// Why [`Device::open`] failed.
#[derive(Debug)]
pub enum OpenError {
    /// The device file could not be opened.
    Open(std::io::Error),
    /// `SAFEX_IOC_VERSION` failed with this errno: `ENOTTY`, not a SafeX
    /// device; `EINVAL`, a module of another interface (another size of
    /// `struct safex_version`).
    Version(i32),
    /// The module speaks another interface or extension ABI than this build
    /// (`stdlib::uapi::UAPI_VERSION`, `stdlib::abi::ABI_VERSION`): its own.
    Mismatch { uapi: u32, abi: u32 },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Open(e) => write!(f, "cannot open the device: {e}"),
            OpenError::Version(errno) => write!(
                f,
                "SAFEX_IOC_VERSION failed: {}",
                std::io::Error::from_raw_os_error(*errno)
            ),
            OpenError::Mismatch { uapi, abi } => write!(
                f,
                "the module speaks /dev/safex interface {uapi} and extension ABI {abi}; this build speaks \
                 interface {} and ABI {}",
                uapi::UAPI_VERSION,
                stdlib::abi::ABI_VERSION
            ),
        }
    }
}

impl std::error::Error for OpenError {}

impl Device {
    /// Opens the device at `path` and checks that it speaks this build's
    /// interface and extension ABI.
    pub fn open(path: &Path) -> Result<Device, OpenError> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(OpenError::Open)?;
        let device = Device {
            file,
            path: path.to_path_buf(),
        };
        let mut v = Version {
            size: Version::SIZE,
            ..Version::ZERO
        };
        device.ioctl(uapi::IOC_VERSION, &mut v).map_err(OpenError::Version)?;
        if v.uapi != uapi::UAPI_VERSION || v.abi != stdlib::abi::ABI_VERSION {
            return Err(OpenError::Mismatch {
                uapi: v.uapi,
                abi: v.abi,
            });
        }
        Ok(device)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `ioctl(fd, request, arg)`: `Err(errno)` if it failed.
    ///
    /// `T` is one of `stdlib::uapi`'s argument structs (this is private:
    /// the methods below are the only callers), and `request` a command
    /// whose argument is a `T`: the size encoded in it is checked against
    /// `T`'s.
    fn ioctl<T>(&self, request: u32, arg: &mut T) -> Result<(), i32> {
        assert_eq!(
            ((request >> 16) & 0x3fff) as usize,
            size_of::<T>(),
            "command and argument differ"
        );
        // SAFETY: `arg` is a live, exclusively borrowed `T`, a `#[repr(C)]`
        // struct of integers and byte arrays that any bytes the kernel
        // writes leave valid, and the kernel reads and writes at most
        // `size_of::<T>()` bytes at it (the size in `request`, checked
        // above). Addresses inside it (`data`, `exts`, `records`) are set
        // by the methods below to buffers that live across this call and
        // have the room the struct says.
        let r = unsafe { libc::ioctl(self.file.as_raw_fd(), request as libc::Ioctl, std::ptr::from_mut(arg)) };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
        }
    }

    /// `SAFEX_IOC_APP`: creates or updates an application; its id.
    pub fn app(&self, name: &str, pid: i32, period_us: u32, target_us: u64) -> Result<u32, i32> {
        let mut a = uapi::App {
            size: uapi::App::SIZE,
            name: encoded(name),
            pid,
            period_us,
            target_us,
            ..uapi::App::ZERO
        };
        self.ioctl(uapi::IOC_APP, &mut a).map(|()| a.id)
    }

    /// `SAFEX_IOC_LOAD` of a signed object for application `app` (`""`
    /// with `flags` `SAFEX_LOAD_GUARD`): the extension's id.
    pub fn load(&self, signed: &[u8], app: &str, flags: u32) -> Result<u32, i32> {
        let mut l = uapi::Load {
            size: uapi::Load::SIZE,
            flags,
            data: signed.as_ptr() as u64,
            len: signed.len() as u64,
            app: encoded(app),
            ..uapi::Load::ZERO
        };
        self.ioctl(uapi::IOC_LOAD, &mut l).map(|()| l.id)
    }

    /// `SAFEX_IOC_UNLOAD`, or with `release` `SAFEX_IOC_RELEASE`, of extension `id`.
    pub fn unload(&self, id: u32, release: bool) -> Result<(), i32> {
        let mut u = uapi::Unload {
            size: uapi::Unload::SIZE,
            id,
        };
        let request = if release { uapi::IOC_RELEASE } else { uapi::IOC_UNLOAD };
        self.ioctl(request, &mut u)
    }

    /// `SAFEX_IOC_LIST`: every loaded extension, asking again with more
    /// room when more are loaded than there was room for.
    pub fn list(&self) -> Result<Vec<ExtInfo>, i32> {
        let mut room = 16;
        let mut calls = 0;
        loop {
            let mut exts = vec![ExtInfo::ZERO; room];
            let mut l = List {
                size: List::SIZE,
                count: room as u32,
                exts: exts.as_mut_ptr() as u64,
            };
            self.ioctl(uapi::IOC_LIST, &mut l)?;
            calls += 1;
            let count = l.count as usize;
            // The module holds at most SAFEX_MAX_EXTENSIONS: the second
            // call has room for them all, a third for any loaded meanwhile;
            // after that, what fitted.
            if count <= room || calls == 3 {
                exts.truncate(count.min(room));
                return Ok(exts);
            }
            room = count.min(uapi::MAX_EXTENSIONS as usize) + 16;
        }
    }

    /// `SAFEX_IOC_ATTR`: reads attribute `attr` of application `app`, or
    /// writes `value` to it; the value it holds.
    pub fn attr(&self, app: &str, attr: &str, value: Option<i64>) -> Result<i64, i32> {
        let mut a = Attr {
            size: Attr::SIZE,
            op: if value.is_some() {
                uapi::ATTR_WRITE
            } else {
                uapi::ATTR_READ
            },
            app: encoded(app),
            attr: encoded(attr),
            value: value.unwrap_or(0),
        };
        self.ioctl(uapi::IOC_ATTR, &mut a).map(|()| a.value)
    }

    /// `SAFEX_IOC_LOG` from sequence number `from`, at most `room` records.
    pub fn log(&self, from: u64, room: usize) -> Result<LogRead, i32> {
        let mut records = vec![LogRecord::ZERO; room];
        let mut l = Log {
            size: Log::SIZE,
            count: room as u32,
            from,
            records: records.as_mut_ptr() as u64,
            ..Log::ZERO
        };
        self.ioctl(uapi::IOC_LOG, &mut l)?;
        records.truncate((l.count as usize).min(room));
        Ok(LogRead {
            records,
            next: l.next,
            lost: l.lost,
        })
    }

    /// `SAFEX_IOC_INVOKE`.
    pub fn invoke(&self, id: u32, entry: u32, value: i64, repeat: u32) -> Result<uapi::Invoke, i32> {
        let mut i = uapi::Invoke {
            size: uapi::Invoke::SIZE,
            id,
            entry,
            repeat,
            value,
            ..uapi::Invoke::ZERO
        };
        self.ioctl(uapi::IOC_INVOKE, &mut i).map(|()| i)
    }

    /// `SAFEX_IOC_STATS`: the CPU service manager's counters, which start
    /// again from 0 once read if `reset`.
    pub fn stats(&self, reset: bool) -> Result<uapi::Stats, i32> {
        let mut s = uapi::Stats {
            size: uapi::Stats::SIZE,
            flags: if reset { uapi::STATS_RESET } else { 0 },
            ..uapi::Stats::ZERO
        };
        self.ioctl(uapi::IOC_STATS, &mut s).map(|()| s)
    }

    /// `SAFEX_IOC_ROUND`: the time the rounds took, in nanoseconds.
    pub fn round(&self, rounds: u32) -> Result<u64, i32> {
        let mut r = uapi::Round {
            size: uapi::Round::SIZE,
            rounds,
            elapsed_ns: 0,
        };
        self.ioctl(uapi::IOC_ROUND, &mut r).map(|()| r.elapsed_ns)
    }
}

/// What one `SAFEX_IOC_LOG` returned.
pub struct LogRead {
    pub records: Vec<LogRecord>,
    pub next: u64,
    pub lost: u64,
}

/// A name as its field; all zeros, the empty name, if it does not fit in
/// `SAFEX_NAME_MAX - 1` bytes or has a NUL: callers that take names from
/// users check them first (`stdlib::uapi::encode_name`).
fn encoded(name: &str) -> [u8; uapi::NAME_MAX] {
    uapi::encode_name(name).unwrap_or([0; uapi::NAME_MAX])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_device_is_an_open_error() {
        match Device::open(Path::new("/nonexistent/safex")) {
            Err(OpenError::Open(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOENT)),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("opened"),
        }
    }

    #[test]
    fn a_device_that_is_not_safex_does_not_answer_the_version() {
        match Device::open(Path::new("/dev/null")) {
            Err(OpenError::Version(errno)) => assert_eq!(errno, libc::ENOTTY),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("opened"),
        }
    }

    #[test]
    fn names_too_long_or_with_nul_become_empty() {
        assert_eq!(&encoded("calc")[..5], b"calc\0");
        assert_eq!(encoded(&"x".repeat(64)), [0; uapi::NAME_MAX]);
        assert_eq!(encoded("a\0b"), [0; uapi::NAME_MAX]);
    }
}
