//! Standard output and standard error for a command line that is safe to
//! script: every write to standard output is checked, and a failed one ends
//! the command with `error[L0002]` and exit status 1 (`main`), so that
//! `safexc … > /dev/full` or `safexc … >&-` never passes for a run whose
//! output was written. Diagnostics on standard error never panic.
//!
//! A reader that goes away (`safexc explain --all | head`) still ends the
//! process quietly by `SIGPIPE`, as `main` sets it up.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Writes to standard error like `eprint!`, but never panics: a diagnostic
/// that cannot be written is lost, and the exit status still tells.
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::out::to_stderr(format_args!($($arg)*))
    };
}

/// [`err!`] with a newline, like `eprintln!`.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::out::to_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub fn to_stderr(args: fmt::Arguments) {
    // Nothing is left to report a failure of standard error on.
    let _ = io::stderr().lock().write_fmt(args);
}

/// Standard output could not be written.
#[derive(Debug)]
pub struct OutputError(io::Error);

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error[L0002]: cannot write to standard output: {}", self.0)
    }
}

/// Standard output. `write!` and `writeln!` on it return `Err(OutputError)`.
pub struct Out {
    stdout: io::StdoutLock<'static>,
    /// Descriptor 1 was closed when safexc started (`>&-`): the error is
    /// raised here, on the first byte written, since what Rust's runtime put
    /// in its place (`/dev/null`) accepts everything.
    closed: bool,
}

impl Out {
    /// Standard output, locked for the whole run.
    pub fn stdout() -> Out {
        Out {
            stdout: io::stdout().lock(),
            closed: STDOUT_CLOSED_AT_START.load(Ordering::Relaxed),
        }
    }

    /// `write!` and `writeln!` call this.
    pub fn write_fmt(&mut self, args: fmt::Arguments) -> Result<(), OutputError> {
        self.check_open()?;
        self.stdout.write_fmt(args).map_err(OutputError)
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), OutputError> {
        if !bytes.is_empty() {
            self.check_open()?;
        }
        self.stdout.write_all(bytes).map_err(OutputError)
    }

    /// Whether standard output is a terminal (binary output is not written to one).
    pub fn is_terminal(&self) -> bool {
        self.stdout.is_terminal()
    }

    /// Writes out what is buffered; the run succeeded only if this did.
    pub fn finish(mut self) -> Result<(), OutputError> {
        self.stdout.flush().map_err(OutputError)
    }

    fn check_open(&self) -> Result<(), OutputError> {
        if self.closed {
            Err(OutputError(io::Error::from_raw_os_error(libc::EBADF)))
        } else {
            Ok(())
        }
    }
}

/// Whether descriptor 1 was closed when the process started. Rust's
/// runtime opens `/dev/null` on a closed standard descriptor before `main`
/// (so that no file opened later takes its place), which hides the closing
/// from `main`; this runs earlier, from `.init_array`, as the dynamic loader
/// runs constructors before the program's entry point.
static STDOUT_CLOSED_AT_START: AtomicBool = AtomicBool::new(false);

#[used]
#[unsafe(link_section = ".init_array")]
static NOTE_CLOSED_STDOUT: extern "C" fn() = note_closed_stdout;

extern "C" fn note_closed_stdout() {
    // SAFETY: F_GETFD only asks whether descriptor 1 is open.
    let closed = unsafe { libc::fcntl(1, libc::F_GETFD) } == -1;
    STDOUT_CLOSED_AT_START.store(closed, Ordering::Relaxed);
}
