//! What the C library's tests share: a daemon served by this process on a
//! runtime of its own, so that the test's own thread, outside any runtime,
//! calls the library as a C program would.
#![allow(dead_code, reason = "each test file uses some of these")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use safexd::admission::Admission;
use safexd::{Config, DaemonError};

/// The paper's PID extension, as the example deploys it.
pub const CPU_PID: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/obj/cpu_pid.o");

/// A daemon on a socket in a temporary directory: its service manager
/// ticks every 5 ms, and a fuel unit is taken to cost 1 ns (the same
/// admission on every machine).
pub struct Daemon {
    runtime: tokio::runtime::Runtime,
    socket: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), DaemonError>>>,
    dir: tempfile::TempDir,
}

impl Daemon {
    pub fn start() -> Daemon {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let mut config = Config::new(dir.path().join("state.redb"));
        config.period = Duration::from_millis(5);
        config.admission = Some(Admission {
            ns_per_fuel: Some(1.0),
            ..Admission::default()
        });
        let daemon = safexd::Daemon::open(config).expect("the daemon opens");
        let socket = dir.path().join("safex.sock");
        let listener = {
            let _inside = runtime.enter();
            safexd::bind(&socket).expect("binds")
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = runtime.spawn(daemon.serve(listener, async move {
            let _ = stopped.await;
        }));
        Daemon {
            runtime,
            socket,
            stop: Some(stop),
            task: Some(task),
            dir,
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The Rust client's view, to check what the C library did.
    pub fn rust_client(&self) -> safex_rs::BlockingClient {
        safex_rs::BlockingClient::connect(&self.socket).expect("connects")
    }

    /// Stops the daemon on another thread: its graceful shutdown waits
    /// for every connection to answer, and a blocking client answers only
    /// while one of its calls runs, so the caller goes on calling until the
    /// returned thread ends.
    pub fn stop_in_background(mut self) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || self.stop())
    }

    /// Stops the daemon (its streams end) and waits until it has: only
    /// when no client of this thread is connected (see
    /// [`Daemon::stop_in_background`]).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            self.runtime.block_on(task).expect("joins").expect("served");
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.stop();
        }
    }
}
