//! The client library of the SafeX daemon, `safexd` (`docs/daemon.md`).
//!
//! [`Client`] (async, on tokio) and [`BlockingClient`] (its own
//! single-threaded runtime) talk gRPC (`proto/safex.proto`, package
//! `safex.v1`) to the daemon over its Unix socket; the daemon knows the
//! caller by the uid the kernel reports for the connection, so nothing here
//! names a principal. Every method returns the generated message types of
//! [`proto`] or an [`Error`] that carries the project's error code: the
//! host's (`Lxxxx`, `Cxxxx`, `Vxxxx`: `safexc explain CODE`) or the
//! daemon's (`Dxxxx`, [`codes`]).
//!
//! ```no_run
//! let client = safex::BlockingClient::connect(safex::DEFAULT_SOCKET)?;
//! client.create_application("video")?;
//! let object = std::fs::read("examples/obj/cpu_pid.o").expect("the object");
//! let ext = client.deploy("video", object)?;
//! client.write_attribute("video", "target_cpu", 20_000)?;
//! println!("{} deployed as {}", ext.name, ext.id);
//! # Ok::<(), safex::Error>(())
//! ```

pub mod codes;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

/// The generated messages, client and server of `proto/safex.proto`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod proto {
    tonic::include_proto!("safex.v1");
}

pub use proto::{
    Acceptance, Application, Counters, Extension, Grant, ListResponse, Notice, ReadAttributeResponse, notice,
};

/// Where the daemon listens unless told otherwise (`safexd --socket`).
pub const DEFAULT_SOCKET: &str = "/run/safex/safex.sock";

/// The largest object the daemon accepts (`D0004` beyond).
pub const MAX_OBJECT_BYTES: usize = 16 << 20;

/// The largest gRPC message either side decodes: an object of the largest
/// size and room for the rest of its request, or a large listing.
pub const MAX_MESSAGE_BYTES: usize = MAX_OBJECT_BYTES + (64 << 10);

/// An error with the project's code: a refusal from the daemon or its host,
/// or the client's own (`D0004`, `D0012`, `D0013`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// `Dxxxx` (the daemon or this library), `Lxxxx`, `Cxxxx`, `Vxxxx`
    /// (the host's checks).
    pub code: String,
    pub message: String,
    /// The gRPC status code the daemon answered with, if it answered.
    pub status: Option<tonic::Code>,
}

impl Error {
    fn new(code: &str, message: impl Into<String>) -> Error {
        Error {
            code: code.to_string(),
            message: message.into(),
            status: None,
        }
    }

    /// Splits a status whose message starts with a code (`D0001: …`, as
    /// the daemon sends every error); any other status (from gRPC itself:
    /// a dropped connection, a message over the transport's limits) is
    /// `D0013` with the status's message.
    pub fn from_status(status: &tonic::Status) -> Error {
        let text = status.message();
        let (code, message) = match split_code(text) {
            Some((code, rest)) => (code.to_string(), rest.to_string()),
            None => (
                codes::TRANSPORT.to_string(),
                format!(
                    "{} ({:?})",
                    if text.is_empty() { "no message" } else { text },
                    status.code()
                ),
            ),
        };
        Error {
            code,
            message,
            status: Some(status.code()),
        }
    }
}

/// `CODE: rest` with CODE one capital letter and four digits.
fn split_code(text: &str) -> Option<(&str, &str)> {
    let (code, rest) = text.split_once(": ")?;
    let b = code.as_bytes();
    (b.len() == 5 && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit)).then_some((code, rest))
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error[{}]: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Error {
        Error::from_status(&status)
    }
}

/// What a client shows a daemon's TCP listener (`safexd --listen`), and
/// how it knows the daemon: PEM bytes. The daemon tells principals apart
/// by their certificate (its Common Name is the uid the client acts as).
#[derive(Clone, Debug)]
pub struct TlsIdentity {
    /// The CA that signed the daemon's certificate.
    pub ca_pem: Vec<u8>,
    /// The client's certificate, signed by a CA the daemon trusts for
    /// clients, and its private key.
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// The name the daemon's certificate must carry; by default the host
    /// part of the address.
    pub domain: Option<String>,
}

/// A gRPC channel to the daemon listening at `address` (`HOST:PORT`) over
/// TCP with mutual TLS. Connects now: `D0012` if nobody answers or the
/// handshake fails (a certificate the daemon does not accept, or a daemon
/// whose certificate `tls.ca_pem` did not sign).
pub async fn connect_tls_channel(address: &str, tls: &TlsIdentity) -> Result<Channel, Error> {
    let fail = |e: &dyn std::error::Error| {
        Error::new(
            codes::CONNECT,
            format!("cannot connect to the SafeX daemon at {address}: {}", error_chain(e)),
        )
    };
    tls_endpoint(address, tls)
        .map_err(|e| fail(&e))?
        .connect()
        .await
        .map_err(|e| fail(&e))
}

/// The endpoint of a daemon listening at `address` (`HOST:PORT`) over TCP
/// with mutual TLS, not connected yet: `tls.domain`, or the address's host,
/// is the name the daemon's certificate must carry.
pub fn tls_endpoint(address: &str, tls: &TlsIdentity) -> Result<Endpoint, tonic::transport::Error> {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    let domain = tls
        .domain
        .clone()
        .unwrap_or_else(|| host.trim_start_matches('[').trim_end_matches(']').to_string());
    let config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&tls.ca_pem))
        .identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem))
        .domain_name(domain);
    Endpoint::from_shared(format!("https://{address}"))?.tls_config(config)
}

/// `e` and its sources, `: `-separated (a transport error's own message
/// rarely says why).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    message
}

/// A gRPC channel to the daemon at `socket` (a Unix socket path, any
/// bytes). Connects now: `D0012` if nobody listens there. For callers that
/// want the generated client itself (with an interceptor, say).
pub async fn connect_channel(socket: impl AsRef<Path>) -> Result<Channel, Error> {
    let path: PathBuf = socket.as_ref().to_path_buf();
    let shown = path.display().to_string();
    // The URI is a placeholder: the connector ignores it and dials the path.
    let connector = tower::service_fn(move |_: Uri| {
        let path = path.clone();
        async move { Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(path).await?)) }
    });
    Endpoint::from_static("http://safexd.invalid")
        .connect_with_connector(connector)
        .await
        .map_err(|e| {
            Error::new(
                codes::CONNECT,
                format!("cannot connect to the SafeX daemon at {shown}: {}", error_chain(&e)),
            )
        })
}

type Raw = proto::safex_client::SafexClient<tonic::codegen::InterceptedService<Channel, OnHost>>;

/// The header that names a remote daemon (`safexd --peer`), which the
/// daemon the client is connected to forwards the request to.
pub const HOST_HEADER: &str = "x-safex-host";

/// The generated client on `channel`, with the daemon's message limits.
fn raw(channel: Channel, on_host: OnHost) -> Raw {
    proto::safex_client::SafexClient::with_interceptor(channel, on_host)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

/// Adds [`HOST_HEADER`] to every request, if a host is named.
#[derive(Clone, Debug, Default)]
pub struct OnHost(Option<tonic::metadata::AsciiMetadataValue>);

impl tonic::service::Interceptor for OnHost {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(host) = &self.0 {
            request.metadata_mut().insert(HOST_HEADER, host.clone());
        }
        Ok(request)
    }
}

/// The async client. Cheap to clone; every clone shares the connection, and
/// calls may run concurrently.
#[derive(Clone, Debug)]
pub struct Client {
    raw: Raw,
    /// The connection, for clients of it that name another host.
    channel: Channel,
}

impl Client {
    /// Connects to the daemon at `socket` ([`DEFAULT_SOCKET`] normally).
    pub async fn connect(socket: impl AsRef<Path>) -> Result<Client, Error> {
        Ok(Client::from_channel(connect_channel(socket).await?))
    }

    /// Connects to the daemon listening at `address` (`HOST:PORT`) over
    /// TCP with mutual TLS ([`connect_tls_channel`]).
    pub async fn connect_tls(address: &str, tls: &TlsIdentity) -> Result<Client, Error> {
        Ok(Client::from_channel(connect_tls_channel(address, tls).await?))
    }

    /// A client on a channel made by [`connect_channel`].
    pub fn from_channel(channel: Channel) -> Client {
        Client {
            raw: raw(channel.clone(), OnHost::default()),
            channel,
        }
    }

    /// This client, its requests for the remote daemon `peer` (a peer of
    /// the daemon it is connected to: `safexd --peer NAME=…`), which
    /// forwards them as the caller. `D0022` comes back if the daemon knows
    /// no such peer; a name that is not printable ASCII is refused here
    /// (`D0022`).
    pub fn on_host(&self, peer: &str) -> Result<Client, Error> {
        let value = peer
            .parse::<tonic::metadata::AsciiMetadataValue>()
            .ok()
            .filter(|_| !peer.is_empty())
            .ok_or_else(|| {
                Error::new(
                    codes::UNKNOWN_PEER,
                    format!("`{}` cannot name a peer daemon", peer.escape_debug()),
                )
            })?;
        Ok(Client {
            raw: raw(self.channel.clone(), OnHost(Some(value))),
            channel: self.channel.clone(),
        })
    }

    /// Creates an application (an instance of every attribute class) owned
    /// by the caller.
    pub async fn create_application(&self, name: &str) -> Result<Application, Error> {
        let request = proto::CreateApplicationRequest { name: name.to_string() };
        let response = self.raw.clone().create_application(request).await?.into_inner();
        response
            .application
            .ok_or_else(|| Error::new(codes::TRANSPORT, "the daemon answered without the application"))
    }

    /// Deploys an object into one of the caller's applications; the daemon
    /// runs every load check. An object over [`MAX_OBJECT_BYTES`] is
    /// refused here, without sending it (`D0004`).
    pub async fn deploy(&self, application: &str, object: impl Into<Vec<u8>>) -> Result<Extension, Error> {
        let object = object.into();
        if object.len() > MAX_OBJECT_BYTES {
            return Err(Error::new(
                codes::TOO_LARGE,
                format!(
                    "the object has {} bytes; the daemon takes at most {MAX_OBJECT_BYTES}",
                    object.len()
                ),
            ));
        }
        let request = proto::DeployRequest {
            application: application.to_string(),
            object,
        };
        let response = self.raw.clone().deploy(request).await?.into_inner();
        response
            .extension
            .ok_or_else(|| Error::new(codes::TRANSPORT, "the daemon answered without the extension"))
    }

    /// Undeploys extension `id` ([`Extension::id`]).
    pub async fn undeploy(&self, id: u64) -> Result<(), Error> {
        self.raw.clone().undeploy(proto::UndeployRequest { id }).await?;
        Ok(())
    }

    /// The caller's applications (only `application`, if given), their
    /// extensions and counters.
    pub async fn list(&self, application: Option<&str>) -> Result<ListResponse, Error> {
        let request = proto::ListRequest {
            application: application.unwrap_or_default().to_string(),
        };
        Ok(self.raw.clone().list(request).await?.into_inner())
    }

    /// An attribute of one of the caller's applications (`class.attr`, or
    /// a name unique among the classes).
    pub async fn read_attribute(&self, application: &str, attribute: &str) -> Result<ReadAttributeResponse, Error> {
        let request = proto::ReadAttributeRequest {
            application: application.to_string(),
            attribute: attribute.to_string(),
        };
        Ok(self.raw.clone().read_attribute(request).await?.into_inner())
    }

    /// Writes an attribute of one of the caller's applications; returns its
    /// qualified name.
    pub async fn write_attribute(&self, application: &str, attribute: &str, value: i64) -> Result<String, Error> {
        let request = proto::WriteAttributeRequest {
            application: application.to_string(),
            attribute: attribute.to_string(),
            value,
        };
        Ok(self.raw.clone().write_attribute(request).await?.into_inner().attribute)
    }

    /// Grants principal `uid` `rights` on one of the caller's applications:
    /// `"r"` (read its attributes, list it), `"w"` (write its attributes) or
    /// `"rw"`; replaces the rights it held. Only the owner grants (`D0001`);
    /// other rights are `D0016`.
    pub async fn grant(&self, application: &str, uid: u32, rights: &str) -> Result<(), Error> {
        let request = proto::GrantRequest {
            application: application.to_string(),
            principal_uid: uid,
            rights: rights.to_string(),
        };
        self.raw.clone().grant(request).await?;
        Ok(())
    }

    /// Takes back every right principal `uid` holds on one of the caller's
    /// applications; `D0017` if it holds none.
    pub async fn revoke(&self, application: &str, uid: u32) -> Result<(), Error> {
        let request = proto::RevokeRequest {
            application: application.to_string(),
            principal_uid: uid,
        };
        self.raw.clone().revoke(request).await?;
        Ok(())
    }

    /// Subscribes to what happens in one of the caller's applications (or
    /// one it was granted `r` on): events, attribute changes, traps,
    /// `trace` records, and its extensions' counters every
    /// `counters_interval_ms` (0 for none). The stream runs until dropped,
    /// the daemon stops, or the grant is revoked (an error `D0001`).
    pub async fn subscribe(&self, application: &str, counters_interval_ms: u32) -> Result<Subscription, Error> {
        let request = proto::SubscribeRequest {
            application: application.to_string(),
            counters_interval_ms,
        };
        Ok(self.raw.clone().subscribe(request).await?.into_inner().into())
    }
}

/// A stream of [`Notice`]s ([`Client::subscribe`]).
#[derive(Debug)]
pub struct Subscription {
    stream: tonic::Streaming<Notice>,
}

/// For a subscription made with the generated client
/// ([`connect_channel`]).
impl From<tonic::Streaming<Notice>> for Subscription {
    fn from(stream: tonic::Streaming<Notice>) -> Subscription {
        Subscription { stream }
    }
}

impl Subscription {
    /// The next notice; `None` once the stream has ended.
    pub async fn next(&mut self) -> Option<Result<Notice, Error>> {
        self.stream.message().await.map_err(Error::from).transpose()
    }
}

/// A blocking client's own single-threaded runtime.
fn client_runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::new(codes::CONNECT, format!("cannot start the client's runtime: {e}")))
}

/// The blocking client: [`Client`] on a single-threaded runtime of its own.
/// Do not call it from inside an async runtime (use [`Client`] there).
#[derive(Debug)]
pub struct BlockingClient {
    /// Shared with the clients [`BlockingClient::on_host`] makes.
    runtime: std::sync::Arc<tokio::runtime::Runtime>,
    client: Client,
}

impl BlockingClient {
    /// Connects to the daemon at `socket` ([`DEFAULT_SOCKET`] normally).
    pub fn connect(socket: impl AsRef<Path>) -> Result<BlockingClient, Error> {
        let runtime = client_runtime()?;
        let client = runtime.block_on(Client::connect(socket))?;
        Ok(BlockingClient {
            runtime: std::sync::Arc::new(runtime),
            client,
        })
    }

    /// Connects to the daemon listening at `address` (`HOST:PORT`) over
    /// TCP with mutual TLS ([`Client::connect_tls`]).
    pub fn connect_tls(address: &str, tls: &TlsIdentity) -> Result<BlockingClient, Error> {
        let runtime = client_runtime()?;
        let client = runtime.block_on(Client::connect_tls(address, tls))?;
        Ok(BlockingClient {
            runtime: std::sync::Arc::new(runtime),
            client,
        })
    }

    /// [`Client::on_host`]: this client's requests for peer daemon `peer`.
    pub fn on_host(&self, peer: &str) -> Result<BlockingClient, Error> {
        Ok(BlockingClient {
            runtime: self.runtime.clone(),
            client: self.client.on_host(peer)?,
        })
    }

    /// [`Client::create_application`].
    pub fn create_application(&self, name: &str) -> Result<Application, Error> {
        self.runtime.block_on(self.client.create_application(name))
    }

    /// [`Client::deploy`].
    pub fn deploy(&self, application: &str, object: impl Into<Vec<u8>>) -> Result<Extension, Error> {
        self.runtime.block_on(self.client.deploy(application, object))
    }

    /// [`Client::undeploy`].
    pub fn undeploy(&self, id: u64) -> Result<(), Error> {
        self.runtime.block_on(self.client.undeploy(id))
    }

    /// [`Client::list`].
    pub fn list(&self, application: Option<&str>) -> Result<ListResponse, Error> {
        self.runtime.block_on(self.client.list(application))
    }

    /// [`Client::read_attribute`].
    pub fn read_attribute(&self, application: &str, attribute: &str) -> Result<ReadAttributeResponse, Error> {
        self.runtime
            .block_on(self.client.read_attribute(application, attribute))
    }

    /// [`Client::write_attribute`].
    pub fn write_attribute(&self, application: &str, attribute: &str, value: i64) -> Result<String, Error> {
        self.runtime
            .block_on(self.client.write_attribute(application, attribute, value))
    }

    /// [`Client::grant`].
    pub fn grant(&self, application: &str, uid: u32, rights: &str) -> Result<(), Error> {
        self.runtime.block_on(self.client.grant(application, uid, rights))
    }

    /// [`Client::revoke`].
    pub fn revoke(&self, application: &str, uid: u32) -> Result<(), Error> {
        self.runtime.block_on(self.client.revoke(application, uid))
    }

    /// [`Client::subscribe`]: notices are read with
    /// [`BlockingClient::next_notice`].
    pub fn subscribe(&self, application: &str, counters_interval_ms: u32) -> Result<Subscription, Error> {
        self.runtime
            .block_on(self.client.subscribe(application, counters_interval_ms))
    }

    /// The next notice of `subscription` (made by this client), waiting at
    /// most `timeout` (forever if `None`): `Ok(None)` if the stream has
    /// ended, an error `D0020` if the time ran out (the stream goes on).
    pub fn next_notice(
        &self,
        subscription: &mut Subscription,
        timeout: Option<Duration>,
    ) -> Result<Option<Notice>, Error> {
        let next = self.runtime.block_on(async {
            match timeout {
                Some(limit) => tokio::time::timeout(limit, subscription.next()).await.ok(),
                None => Some(subscription.next().await),
            }
        });
        match next {
            Some(notice) => notice.transpose(),
            None => Err(Error::new(codes::TIMED_OUT, "no notice within the time given")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_splits_into_its_code() {
        let e = Error::from_status(&tonic::Status::permission_denied("D0001: not yours"));
        assert_eq!((e.code.as_str(), e.message.as_str()), ("D0001", "not yours"));
        assert_eq!(e.status, Some(tonic::Code::PermissionDenied));
        let e = Error::from_status(&tonic::Status::invalid_argument("L0043: signed by another key"));
        assert_eq!(e.code, "L0043");
        assert_eq!(e.to_string(), "error[L0043]: signed by another key");
    }

    #[test]
    fn a_status_without_a_code_is_a_transport_error() {
        for text in [
            "",
            "broken pipe",
            "d0001: lower case",
            "D001: short",
            "D00011: long",
            "DX001: letters",
        ] {
            let e = Error::from_status(&tonic::Status::unavailable(text));
            assert_eq!(e.code, codes::TRANSPORT, "{text:?}");
        }
    }

    #[test]
    fn connecting_to_nothing_is_d0012() {
        let dir = std::env::temp_dir().join(format!("safex-client-test-{}", std::process::id()));
        let e = BlockingClient::connect(dir.join("none.sock")).expect_err("nobody listens");
        assert_eq!(e.code, codes::CONNECT);
        assert!(e.message.contains("none.sock"), "{e}");
    }

    #[test]
    fn every_code_is_documented_once_and_sorted() {
        let all: Vec<&str> = codes::CODES.iter().map(|c| c.code).collect();
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(all, sorted);
        for c in codes::CODES {
            assert!(split_code(&format!("{}: x", c.code)).is_some(), "{}", c.code);
            assert!(!c.title.is_empty() && !c.explanation.is_empty(), "{}", c.code);
            assert_eq!(codes::explain(c.code).map(|d| d.code), Some(c.code));
        }
        for code in [
            codes::NOT_OWNER,
            codes::UNKNOWN_APPLICATION,
            codes::UNKNOWN_EXTENSION,
            codes::TOO_LARGE,
            codes::BAD_NAME,
            codes::NO_PRINCIPAL,
            codes::STORE,
            codes::STOPPING,
            codes::SOCKET,
            codes::STATE,
            codes::COMMAND_LINE,
            codes::CONNECT,
            codes::TRANSPORT,
            codes::TRUST_FILE,
            codes::GUARDED,
            codes::BAD_GRANT,
            codes::UNKNOWN_GRANT,
        ] {
            assert!(codes::explain(code).is_some(), "{code}");
        }
    }
}
