//! The SafeX daemon (`docs/daemon.md`): one user-space host per machine
//! (`runtime::system::host`: the standard classes and guards), its service
//! manager ticking at a period on the host's own thread, served over gRPC
//! (`proto/safex.proto`) on a Unix socket. The caller's principal is the uid
//! the kernel reports for its connection (SO_PEERCRED); an application
//! belongs to the principal that created it, and only that principal may
//! deploy to it, undeploy from it, or grant others the right to read (`r`:
//! its attributes, and list it) or write (`w`: its attributes) it.
//! Applications, grants and deployments are kept in a redb file and restored, each
//! object through the host's checks again, when the daemon starts.
//!
//! [`Daemon::open`] starts the host and restores the state;
//! [`Daemon::serve`] serves a listener from [`bind`] until a shutdown
//! future completes. The `safexd` binary is those two and a command line.

pub mod admission;
mod core;
pub mod forward;
pub mod store;

use std::future::Future;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use safex::codes;
use safex::proto::safex_server::{Safex, SafexServer};
use safex::proto::{
    CreateApplicationRequest, CreateApplicationResponse, DeployRequest, DeployResponse, GrantRequest, GrantResponse,
    ListRequest, ListResponse, Notice, ReadAttributeRequest, ReadAttributeResponse, RevokeRequest, RevokeResponse,
    SubscribeRequest, UndeployRequest, UndeployResponse, WriteAttributeRequest, WriteAttributeResponse,
};
use tonic::metadata::MetadataMap;
use tonic::transport::server::UdsConnectInfo;
use tonic::{Request, Response, Status};

use crate::admission::Admission;
use crate::core::{HostHandle, status};

pub use safex::{DEFAULT_SOCKET, MAX_MESSAGE_BYTES, MAX_OBJECT_BYTES};

/// Notices a subscriber may have queued in the daemon (beyond what the
/// connection buffers); past them it loses notices, and is told how many,
/// so that a slow one never holds the service manager up.
pub const NOTICE_QUEUE: usize = 4096;

/// How long a stopping daemon waits for its connections to close before
/// it drops them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The longest interval between a subscription's counters: an hour.
pub const MAX_COUNTERS_INTERVAL_MS: u32 = 3_600_000;

/// Where the daemon keeps its state unless told otherwise (`--state`).
pub const DEFAULT_STATE: &str = "/var/lib/safex/state.redb";

/// An error of the daemon itself, with its code (`Dxxxx`, or the host's
/// `L0042` for a trusted key that is not one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonError {
    pub code: &'static str,
    pub message: String,
}

impl DaemonError {
    pub fn new(code: &'static str, message: impl Into<String>) -> DaemonError {
        DaemonError {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for DaemonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error[{}]: {}", self.code, self.message)
    }
}

impl std::error::Error for DaemonError {}

/// What the daemon runs with.
#[derive(Clone, Debug)]
pub struct Config {
    /// The state file (redb), created if missing.
    pub state: PathBuf,
    /// The service manager's period.
    pub period: Duration,
    /// Public keys (DER `RSAPublicKey`, `safexc keygen`'s `NAME.pub`) whose
    /// signatures the host trusts, as `safexc run --trust`.
    pub trust: Vec<Vec<u8>>,
    /// The host's limits.
    pub host: runtime::HostConfig,
    /// How deployments are admitted (docs/daemon.md); `None` admits every
    /// one.
    pub admission: Option<Admission>,
    /// Remote daemons requests may name (`x-safex-host`), and this one's
    /// identity towards them.
    pub peers: Option<forward::Peers>,
}

/// The fuel of an invocation of an extension that declares no budget, under
/// the daemon: the host's own default (a million units, a millisecond or
/// so) would reserve the whole admitted share of a 10 ms period for one
/// entry point.
pub const DEFAULT_FUEL: u64 = 10_000;

impl Config {
    /// The defaults (`safexd` with no flags), state at `state`.
    pub fn new(state: impl Into<PathBuf>) -> Config {
        Config {
            state: state.into(),
            period: Duration::from_millis(10),
            trust: Vec::new(),
            host: runtime::HostConfig {
                default_fuel: DEFAULT_FUEL,
                // Mean and longest invocation for `List`, `top` and
                // subscribers: two clock reads per invocation, which a
                // service manager's period makes small.
                account_time: true,
                ..runtime::HostConfig::default()
            },
            admission: Some(Admission::default()),
            peers: None,
        }
    }
}

/// Who calls: the principal every permission is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Principal {
    pub uid: u32,
}

/// A way to tell a request's principal from its connection's information
/// and its metadata.
pub type Resolve = dyn Fn(&tonic::Extensions, &MetadataMap) -> Result<Principal, Status> + Send + Sync;

/// How the daemon knows who calls.
#[derive(Clone)]
pub enum Principals {
    /// The uid of the connection's peer (SO_PEERCRED): what `safexd` uses.
    PeerCred,
    /// Anything else: for tests, which cannot change their uid, and for
    /// embedders with their own authentication.
    Custom(Arc<Resolve>),
}

impl Principals {
    fn resolve<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        self.resolve_parts(request.extensions(), request.metadata())
    }

    /// The principal of a request with these connection information and
    /// metadata.
    pub fn resolve_parts(&self, extensions: &tonic::Extensions, metadata: &MetadataMap) -> Result<Principal, Status> {
        use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
        match self {
            Principals::PeerCred if extensions.get::<UdsConnectInfo>().is_some() => peer_cred(extensions),
            Principals::PeerCred => {
                let certs = extensions
                    .get::<TlsConnectInfo<TcpConnectInfo>>()
                    .and_then(TlsConnectInfo::peer_certs);
                cert_principal(certs.as_deref().map_or(&[], Vec::as_slice), metadata)
            }
            Principals::Custom(f) => f(extensions, metadata),
        }
    }
}

/// The principal of a client over TLS: the uid its certificate's subject
/// Common Name gives, in decimal (`CN=1000`); or, for a peer daemon's
/// certificate (`CN=peer:NAME`), the uid it forwards for, in the
/// `x-safex-uid` header ([`forward`]). The CA that issues client
/// certificates decides who each client acts as. `D0006` without a
/// certificate, with another Common Name, for a peer that names no uid,
/// and for a client that is not a peer but names one.
pub fn cert_principal(
    certs: &[tonic::transport::CertificateDer<'static>],
    metadata: &MetadataMap,
) -> Result<Principal, Status> {
    let refuse = |why: String| status(tonic::Code::Unauthenticated, codes::NO_PRINCIPAL, why);
    let leaf = certs
        .first()
        .ok_or_else(|| refuse("the connection has no client certificate".into()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| refuse(format!("the client certificate cannot be read: {e}")))?;
    let mut names = cert.subject().iter_common_name();
    let name = match (names.next(), names.next()) {
        (Some(name), None) => name.as_str().ok(),
        _ => None,
    };
    let decimal = |n: &str| n.parse::<u32>().ok().filter(|_| n.bytes().all(|b| b.is_ascii_digit()));
    let forwarded = metadata
        .get(forward::UID_HEADER)
        .map(|v| v.to_str().ok().and_then(decimal));
    if let Some(peer) = name.and_then(|n| n.strip_prefix("peer:")) {
        return match forwarded {
            Some(Some(uid)) => Ok(Principal { uid }),
            _ => Err(refuse(format!(
                "peer daemon `{}` forwards a request without a uid in `{}`",
                peer.chars().take(64).collect::<String>().escape_debug(),
                forward::UID_HEADER
            ))),
        };
    }
    if forwarded.is_some() {
        return Err(refuse(format!(
            "only a peer daemon's certificate (CN=peer:NAME) may name a uid in `{}`",
            forward::UID_HEADER
        )));
    }
    let uid = name.and_then(decimal);
    uid.map(|uid| Principal { uid }).ok_or_else(|| {
        let shown: String = name.unwrap_or("").chars().take(64).collect();
        refuse(format!(
            "the client certificate's subject must have one Common Name, a uid in decimal (or `peer:NAME` for a \
             daemon); it has `{}`",
            shown.escape_debug()
        ))
    })
}

/// The uid the kernel reported for the connection (`D0006` if none).
pub fn peer_cred(extensions: &tonic::Extensions) -> Result<Principal, Status> {
    extensions
        .get::<UdsConnectInfo>()
        .and_then(|info| info.peer_cred)
        .map(|cred| Principal { uid: cred.uid() })
        .ok_or_else(|| {
            status(
                tonic::Code::Unauthenticated,
                codes::NO_PRINCIPAL,
                "the connection's peer credentials (SO_PEERCRED) are unknown",
            )
        })
}

/// A running host with its state, ready to serve.
pub struct Daemon {
    host: Arc<HostHandle>,
    thread: Option<JoinHandle<()>>,
    principals: Principals,
    admission: Option<Admitted>,
    /// A channel to each peer.
    peers: Arc<std::collections::BTreeMap<String, tonic::transport::Channel>>,
    /// Set when the daemon stops: servers shut down, forwarded answers end.
    stopping: tokio::sync::watch::Sender<bool>,
}

/// The admission control a daemon runs with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Admitted {
    /// The cost of a fuel unit, given or measured.
    pub ns_per_fuel: f64,
    /// What the reservations may take of each period.
    pub limit: Duration,
}

impl Daemon {
    /// Starts the host (standard classes and guards, `config.trust`
    /// trusted), opens the state and restores every application and
    /// deployment it keeps, each object through the host's checks again (one
    /// that fails them stays listed with its error). Blocks until done.
    pub fn open(config: Config) -> Result<Daemon, DaemonError> {
        let admission = match config.admission {
            Some(a) => Some(Admitted {
                ns_per_fuel: match a.ns_per_fuel {
                    Some(ns) => ns,
                    None => admission::measure_ns_per_fuel(&config.host)?,
                },
                limit: admission::limit(config.period, a.percent),
            }),
            None => None,
        };
        let peers = match &config.peers {
            Some(peers) => forward::channels(peers)?,
            None => Default::default(),
        };
        let (host, thread) = core::start(config, admission.map_or(0.0, |a| a.ns_per_fuel))?;
        Ok(Daemon {
            host: Arc::new(host),
            thread: Some(thread),
            principals: Principals::PeerCred,
            admission,
            peers: Arc::new(peers),
            stopping: tokio::sync::watch::Sender::new(false),
        })
    }

    /// How deploys are admitted: `None` if every one is.
    pub fn admission(&self) -> Option<Admitted> {
        self.admission
    }

    /// Tells principals apart another way than by SO_PEERCRED.
    pub fn with_principals(mut self, principals: Principals) -> Daemon {
        self.principals = principals;
        self
    }

    /// The gRPC service, for a server of the caller's: this daemon's,
    /// and the peers' for requests that name one.
    pub fn service(&self) -> forward::Forwarding {
        let local = SafexServer::new(Service {
            host: self.host.clone(),
            principals: self.principals.clone(),
        })
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
        forward::Forwarding {
            local,
            peers: self.peers.clone(),
            principals: self.principals.clone(),
            stopping: self.stopping.subscribe(),
        }
    }

    /// Serves `listener` until `shutdown` completes, then stops the host
    /// (the state is already on disk: every change was committed when it
    /// was answered).
    pub async fn serve(
        self,
        listener: tokio::net::UnixListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), DaemonError> {
        self.serve_on(listener, None, shutdown).await
    }

    /// [`Daemon::serve`], and also `tcp` with mutual TLS (`tls`): a client
    /// must show a certificate that `tls`' client CA signed, and is the
    /// principal its Common Name names ([`cert_principal`]).
    pub async fn serve_with_tcp(
        self,
        listener: tokio::net::UnixListener,
        tcp: tokio::net::TcpListener,
        tls: &Tls,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), DaemonError> {
        use tonic::transport::{Certificate, Identity, ServerTlsConfig};
        let config = ServerTlsConfig::new()
            .identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem))
            .client_ca_root(Certificate::from_pem(&tls.client_ca_pem))
            .client_auth_optional(false);
        self.serve_on(listener, Some((tcp, config)), shutdown).await
    }

    async fn serve_on(
        self,
        listener: tokio::net::UnixListener,
        tcp: Option<(tokio::net::TcpListener, tonic::transport::ServerTlsConfig)>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), DaemonError> {
        let tcp_server = match tcp {
            Some((listener, config)) => Some((
                tonic::transport::Server::builder()
                    .tls_config(config)
                    .map_err(|e| DaemonError::new(codes::TLS, format!("the TLS configuration is refused: {e}")))?,
                listener,
            )),
            None => None,
        };
        // The host stops first: that ends every `Subscribe` stream, which
        // the servers' graceful shutdown would otherwise wait for forever.
        let host = self.host.clone();
        let (stopping, stopped) = (self.stopping.clone(), self.stopping.subscribe());
        let stop = async move {
            shutdown.await;
            host.stop();
            stopping.send_replace(true);
        };
        let signal = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            // An error means the sender is gone: stop as well.
            let _ = stopped.wait_for(|&s| s).await;
        };
        let unix = tonic::transport::Server::builder()
            .add_service(self.service())
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::UnixListenerStream::new(listener),
                signal(stopped.clone()),
            );
        let tcp = async {
            match tcp_server {
                Some((mut server, listener)) => {
                    server
                        .add_service(self.service())
                        .serve_with_incoming_shutdown(
                            tokio_stream::wrappers::TcpListenerStream::new(listener),
                            signal(stopped.clone()),
                        )
                        .await
                }
                None => Ok(()),
            }
        };
        // The servers end once every connection has closed; a client that
        // makes no call (a blocking client between calls) never reads the
        // shutdown, so after the grace the connections are dropped.
        let servers = async { tokio::join!(unix, tcp) };
        let stop_and_grace = async {
            stop.await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        let (unix, tcp) = tokio::select! {
            served = servers => served,
            () = stop_and_grace => (Ok(()), Ok(())),
        };
        // Joining the host thread waits for at most one job or tick.
        let joined = tokio::task::spawn_blocking(move || drop(self)).await;
        unix.and(tcp)
            .map_err(|e| DaemonError::new(codes::SOCKET, format!("serving failed: {e}")))?;
        joined.map_err(|e| DaemonError::new(codes::STOPPING, format!("the host thread failed: {e}")))
    }
}

/// The TCP listener's mutual TLS: the daemon's certificate and private key,
/// and the CA whose client certificates it accepts, as PEM.
#[derive(Clone, Debug)]
pub struct Tls {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    pub client_ca_pem: Vec<u8>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.host.stop();
        if let Some(thread) = self.thread.take() {
            // A panic on the host thread has been reported already.
            let _ = thread.join();
        }
    }
}

/// Listens on `path` (must run inside a tokio runtime): creates its
/// directory if missing, replaces a stale socket nobody answers on, refuses
/// a path another daemon answers on or that is not a socket (`D0009`), and
/// lets every user connect (mode 0666: who calls is told by SO_PEERCRED,
/// not by who may open the socket).
pub fn bind(path: &Path) -> Result<tokio::net::UnixListener, DaemonError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        DaemonError::new(codes::SOCKET, format!("{what} {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail("cannot create the directory of", &e))?;
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(fail("will not replace what is not a socket:", &"exists"));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(fail("another daemon answers on", &"in use"));
        }
        std::fs::remove_file(path).map_err(|e| fail("cannot remove the stale socket", &e))?;
    }
    let listener = tokio::net::UnixListener::bind(path).map_err(|e| fail("cannot listen on", &e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| fail("cannot set the mode of", &e))?;
    Ok(listener)
}

/// The gRPC service: resolves the principal, checks sizes, and hands each
/// request to the host thread.
pub struct Service {
    host: Arc<HostHandle>,
    principals: Principals,
}

#[tonic::async_trait]
impl Safex for Service {
    async fn create_application(
        &self,
        request: Request<CreateApplicationRequest>,
    ) -> Result<Response<CreateApplicationResponse>, Status> {
        let who = self.principals.resolve(&request)?;
        let r = request.into_inner();
        let application = self
            .host
            .call(move |core| core.create_application(who, &r.name))
            .await?;
        Ok(Response::new(CreateApplicationResponse {
            application: Some(application),
        }))
    }

    async fn deploy(&self, request: Request<DeployRequest>) -> Result<Response<DeployResponse>, Status> {
        let who = self.principals.resolve(&request)?;
        let r = request.into_inner();
        if r.object.len() > MAX_OBJECT_BYTES {
            return Err(status(
                tonic::Code::ResourceExhausted,
                codes::TOO_LARGE,
                format!(
                    "the object has {} bytes; the daemon takes at most {MAX_OBJECT_BYTES}",
                    r.object.len()
                ),
            ));
        }
        let extension = self
            .host
            .call(move |core| core.deploy(who, &r.application, r.object))
            .await?;
        Ok(Response::new(DeployResponse {
            extension: Some(extension),
        }))
    }

    async fn undeploy(&self, request: Request<UndeployRequest>) -> Result<Response<UndeployResponse>, Status> {
        let who = self.principals.resolve(&request)?;
        let id = request.into_inner().id;
        self.host.call(move |core| core.undeploy(who, id)).await?;
        Ok(Response::new(UndeployResponse {}))
    }

    async fn list(&self, request: Request<ListRequest>) -> Result<Response<ListResponse>, Status> {
        let who = self.principals.resolve(&request)?;
        let r = request.into_inner();
        let list = self.host.call(move |core| core.list(who, &r.application)).await?;
        Ok(Response::new(list))
    }

    async fn read_attribute(
        &self,
        request: Request<ReadAttributeRequest>,
    ) -> Result<Response<ReadAttributeResponse>, Status> {
        let who = self.principals.resolve(&request)?;
        let r = request.into_inner();
        let answer = self
            .host
            .call(move |core| core.read_attribute(who, &r.application, &r.attribute))
            .await?;
        Ok(Response::new(answer))
    }

    async fn write_attribute(
        &self,
        request: Request<WriteAttributeRequest>,
    ) -> Result<Response<WriteAttributeResponse>, Status> {
        let who = self.principals.resolve(&request)?;
        let r = request.into_inner();
        let attribute = self
            .host
            .call(move |core| core.write_attribute(who, &r.application, &r.attribute, r.value))
            .await?;
        Ok(Response::new(WriteAttributeResponse { attribute }))
    }

    async fn grant(&self, request: Request<GrantRequest>) -> Result<Response<GrantResponse>, Status> {
        let who = self.principals.resolve(&request)?;
        let r = request.into_inner();
        self.host
            .call(move |core| core.grant(who, &r.application, r.principal_uid, &r.rights))
            .await?;
        Ok(Response::new(GrantResponse {}))
    }

    type SubscribeStream = tokio_stream::wrappers::ReceiverStream<Result<Notice, Status>>;

    async fn subscribe(&self, request: Request<SubscribeRequest>) -> Result<Response<Self::SubscribeStream>, Status> {
        let who = self.principals.resolve(&request)?;
        let r = request.into_inner();
        let counters_every = match r.counters_interval_ms {
            0 => None,
            ms @ 1..=MAX_COUNTERS_INTERVAL_MS => Some(Duration::from_millis(ms.into())),
            ms => {
                return Err(status(
                    tonic::Code::InvalidArgument,
                    codes::BAD_SUBSCRIPTION,
                    format!("a counters interval of {ms} ms: at most {MAX_COUNTERS_INTERVAL_MS} (an hour), 0 for none"),
                ));
            }
        };
        let (tx, rx) = tokio::sync::mpsc::channel(NOTICE_QUEUE);
        self.host
            .call(move |core| core.subscribe(who, &r.application, counters_every, tx))
            .await?;
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    async fn revoke(&self, request: Request<RevokeRequest>) -> Result<Response<RevokeResponse>, Status> {
        let who = self.principals.resolve(&request)?;
        let r = request.into_inner();
        self.host
            .call(move |core| core.revoke(who, &r.application, r.principal_uid))
            .await?;
        Ok(Response::new(RevokeResponse {}))
    }
}
