//! `safexd`: the SafeX daemon (`docs/daemon.md`). Serves the API of
//! `proto/safex.proto` on a Unix socket until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use safex::codes;
use safexd::admission::Admission;
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
    /// The share of each period the deployed extensions' worst cases may
    /// reserve, in percent (above 0, at most 100).
    #[arg(long, value_name = "PERCENT", default_value_t = 5.0, value_parser = percent)]
    admit_percent: f64,
    /// The cost of a fuel unit in nanoseconds, for admission control,
    /// rather than measuring it at start (above 0, at most 1000000).
    #[arg(long, value_name = "NS", value_parser = ns_per_fuel)]
    ns_per_fuel: Option<f64>,
    /// Also serve TCP at this address (`HOST:PORT`) with mutual TLS: a
    /// client shows a certificate signed by --tls-client-ca, whose Common
    /// Name is the uid it acts as.
    #[arg(long, value_name = "ADDR", requires_all = ["tls_cert", "tls_key", "tls_client_ca"])]
    listen: Option<std::net::SocketAddr>,
    /// The daemon's certificate (PEM), for --listen.
    #[arg(long, value_name = "PEM", requires = "listen")]
    tls_cert: Option<PathBuf>,
    /// The daemon's private key (PEM), for --listen.
    #[arg(long, value_name = "PEM", requires = "listen")]
    tls_key: Option<PathBuf>,
    /// The CA whose client certificates --listen accepts (PEM).
    #[arg(long, value_name = "PEM", requires = "listen")]
    tls_client_ca: Option<PathBuf>,
    /// A remote daemon (its --listen address) that requests may name
    /// (`x-safex-host: NAME`; safexc --host NAME): they are forwarded to
    /// it as their caller. May be repeated.
    #[arg(long, value_name = "NAME=HOST:PORT", value_parser = peer,
          requires_all = ["peer_cert", "peer_key", "peer_ca"])]
    peer: Vec<(String, String)>,
    /// This daemon's certificate towards its peers (PEM; its Common Name
    /// `peer:NAME`, signed by a CA the peers accept clients of).
    #[arg(long, value_name = "PEM", requires = "peer")]
    peer_cert: Option<PathBuf>,
    /// The private key of --peer-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "peer")]
    peer_key: Option<PathBuf>,
    /// The CA that signed the peers' certificates (PEM).
    #[arg(long, value_name = "PEM", requires = "peer")]
    peer_ca: Option<PathBuf>,
    /// Admit every deploy: no reservations.
    #[arg(long, conflicts_with_all = ["admit_percent", "ns_per_fuel"])]
    no_admission: bool,
    /// The fuel of an invocation of an extension that declares no budget
    /// (1 to 100000000).
    #[arg(long, value_name = "UNITS", default_value_t = safexd::DEFAULT_FUEL,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    default_fuel: u64,
}

/// `NAME=HOST:PORT`: a name of 1 to 64 of `[A-Za-z0-9_.-]`.
fn peer(text: &str) -> Result<(String, String), String> {
    let (name, address) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=HOST:PORT"))?;
    let good = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !good {
        return Err(format!(
            "`{name}`: a peer's name has 1 to 64 characters of [A-Za-z0-9_.-]"
        ));
    }
    match address.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok((name.to_string(), address.to_string()))
        }
        _ => Err(format!("`{address}` is not HOST:PORT")),
    }
}

/// A share in percent: above 0, at most 100.
fn percent(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p),
        _ => Err(format!("`{text}` is not a share above 0 and at most 100 (percent)")),
    }
}

/// A cost in nanoseconds: above 0, at most a millisecond.
fn ns_per_fuel(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(ns) if ns > 0.0 && ns <= 1e6 => Ok(ns),
        _ => Err(format!(
            "`{text}` is not a cost above 0 and at most 1000000 (nanoseconds)"
        )),
    }
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
    config.host.default_fuel = cli.default_fuel;
    config.admission = (!cli.no_admission).then_some(Admission {
        percent: cli.admit_percent,
        ns_per_fuel: cli.ns_per_fuel,
    });
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
    let read_tls = |path: &Option<PathBuf>| -> Result<Vec<u8>, DaemonError> {
        let path = path.as_deref().unwrap_or(std::path::Path::new(""));
        std::fs::read(path).map_err(|e| DaemonError::new(codes::TLS, format!("cannot read {}: {e}", path.display())))
    };
    let tls = match cli.listen {
        Some(_) => Some(safexd::Tls {
            cert_pem: read_tls(&cli.tls_cert)?,
            key_pem: read_tls(&cli.tls_key)?,
            client_ca_pem: read_tls(&cli.tls_client_ca)?,
        }),
        None => None,
    };
    if !cli.peer.is_empty() {
        config.peers = Some(safexd::forward::Peers {
            peers: cli
                .peer
                .iter()
                .map(|(name, address)| {
                    let peer = safexd::forward::Peer {
                        address: address.clone(),
                        domain: None,
                    };
                    (name.clone(), peer)
                })
                .collect(),
            identity: safexd::Tls {
                cert_pem: read_tls(&cli.peer_cert)?,
                key_pem: read_tls(&cli.peer_key)?,
                client_ca_pem: read_tls(&cli.peer_ca)?,
            },
        });
    }
    runtime.block_on(async {
        let daemon = Daemon::open(config)?;
        let listener = safexd::bind(&cli.socket)?;
        let tcp = match cli.listen {
            Some(address) => Some(
                tokio::net::TcpListener::bind(address)
                    .await
                    .map_err(|e| DaemonError::new(codes::SOCKET, format!("cannot listen on {address}: {e}")))?,
            ),
            None => None,
        };
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| DaemonError::new(codes::SOCKET, format!("cannot catch SIGTERM: {e}")))?;
        let admitting = daemon.admission().map_or("every deploy admitted".to_string(), |a| {
            format!(
                "{:.1} µs of each period admitted, a fuel unit at {:.3} ns",
                a.limit.as_secs_f64() * 1e6,
                a.ns_per_fuel
            )
        });
        eprintln!(
            "safexd: serving {} (state {}, period {} ms, {admitting})",
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
        if let Some(address) = cli.listen {
            eprintln!("safexd: serving {address} with mutual TLS");
        }
        let served = match (tcp, &tls) {
            (Some(tcp), Some(tls)) => daemon.serve_with_tcp(listener, tcp, tls, shutdown).await,
            _ => daemon.serve(listener, shutdown).await,
        };
        // Gone when we stop, so that a later start does not take the socket
        // for another daemon's; it would be replaced as stale anyway.
        let _ = std::fs::remove_file(&cli.socket);
        served
    })
}
