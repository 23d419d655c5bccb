//! `safexd`: the SafeX daemon (`docs/daemon.md`). Serves the API of
//! `proto/safex.proto` on a Unix socket until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use safex::codes;
use safexd::{Config, DEFAULT_SOCKET, DEFAULT_STATE, Daemon, DaemonError};

/// The SafeX daemon: one user-space host, its service manager, and its API
/// over a Unix socket. The caller's uid (SO_PEERCRED) is its principal.
#[derive(Parser, Debug)]
#[command(name = "safexd", version)]
struct Cli {
    /// The Unix socket to serve.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    socket: PathBuf,
    /// The state file (redb): applications and deployments, restored at
    /// start.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_STATE)]
    state: PathBuf,
    /// The service manager's period, in milliseconds (1 to 60000).
    #[arg(long, value_name = "MS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    period_ms: u64,
    /// Trust the signatures of this public key (`safexc keygen`'s NAME.pub),
    /// as `safexc run --trust`: signed objects load on its signature. May be
    /// repeated.
    #[arg(long, value_name = "KEY.pub")]
    trust: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let text = text.strip_prefix("error: ").unwrap_or(&text);
            eprintln!("error[{}]: {}", codes::COMMAND_LINE, text.trim_end());
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("safexd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), DaemonError> {
    let mut config = Config::new(&cli.state);
    config.period = Duration::from_millis(cli.period_ms);
    for path in &cli.trust {
        let key = std::fs::read(path)
            .map_err(|e| DaemonError::new(codes::TRUST_FILE, format!("cannot read {}: {e}", path.display())))?;
        config.trust.push(key);
    }
    if let Some(dir) = cli.state.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            DaemonError::new(
                codes::STATE,
                format!("cannot create the directory of {}: {e}", cli.state.display()),
            )
        })?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| DaemonError::new(codes::SOCKET, format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let daemon = Daemon::open(config)?;
        let listener = safexd::bind(&cli.socket)?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| DaemonError::new(codes::SOCKET, format!("cannot catch SIGTERM: {e}")))?;
        eprintln!(
            "safexd: serving {} (state {}, period {} ms)",
            cli.socket.display(),
            cli.state.display(),
            cli.period_ms
        );
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        let served = daemon.serve(listener, shutdown).await;
        // Gone when we stop, so that a later start does not take the socket
        // for another daemon's; it would be replaced as stale anyway.
        let _ = std::fs::remove_file(&cli.socket);
        served
    })
}
