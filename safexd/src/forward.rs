//! Remote daemons (`--peer NAME=HOST:PORT`): a request that names a peer
//! in its `x-safex-host` header is forwarded to that daemon, over TCP with
//! mutual TLS, as the caller: this daemon resolves the caller's principal
//! as for any request, takes out the headers a caller may not set, and
//! sends the request on with the uid in `x-safex-uid`, under its own
//! certificate, which must name it a peer (`CN=peer:NAME`). The peer
//! believes that header from a peer daemon's certificate only
//! ([`crate::cert_principal`]). Every RPC is forwarded the same way,
//! `Subscribe`'s stream included: the request and the answer pass through
//! unread, at the HTTP/2 level.
//!
//! A forwarded request is not forwarded again (the header is taken out),
//! so peers that name each other make no loop. When the daemon stops, the
//! answers it is forwarding end (a forwarded `Subscribe` would otherwise
//! hold its shutdown up for as long as the peer runs).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use safex::codes;
use safex::proto::safex_server::SafexServer;
use tonic::body::Body;
use tonic::codegen::http;
use tonic::codegen::{BoxFuture, Context, Poll};
use tonic::server::NamedService;
use tonic::transport::Channel;
use tower::ServiceExt as _;

use crate::core::status;
use crate::{DaemonError, Principals, Service, Tls};

/// The header that names the daemon a request is for.
pub const HOST_HEADER: &str = "x-safex-host";
/// The header in which a peer daemon names the uid it forwards for.
pub const UID_HEADER: &str = "x-safex-uid";

/// A remote daemon this one forwards to.
#[derive(Clone, Debug)]
pub struct Peer {
    /// `HOST:PORT` of its `--listen`.
    pub address: String,
    /// The name its certificate must carry; by default the address's host.
    pub domain: Option<String>,
}

/// The peers and this daemon's identity towards them: its certificate
/// (`CN=peer:NAME`, signed by a CA the peers accept clients of), key, and
/// the CA that signed the peers' certificates.
#[derive(Clone, Debug)]
pub struct Peers {
    pub peers: BTreeMap<String, Peer>,
    pub identity: Tls,
}

/// Channels to the peers, connected on first use (and again after a
/// failure, by tonic).
pub(crate) fn channels(peers: &Peers) -> Result<BTreeMap<String, Channel>, DaemonError> {
    let mut channels = BTreeMap::new();
    for (name, peer) in &peers.peers {
        let identity = safex::TlsIdentity {
            ca_pem: peers.identity.client_ca_pem.clone(),
            cert_pem: peers.identity.cert_pem.clone(),
            key_pem: peers.identity.key_pem.clone(),
            domain: peer.domain.clone(),
        };
        let channel = safex::tls_endpoint(&peer.address, &identity)
            .map_err(|e| DaemonError::new(codes::TLS, format!("peer `{name}`: {}", safex::error_chain(&e))))?
            .connect_lazy();
        channels.insert(name.clone(), channel);
    }
    Ok(channels)
}

/// The service with forwarding: requests without `x-safex-host` go to this
/// daemon's service; the others to their peer.
#[derive(Clone)]
pub struct Forwarding {
    pub(crate) local: SafexServer<Service>,
    pub(crate) peers: Arc<BTreeMap<String, Channel>>,
    pub(crate) principals: Principals,
    /// Becomes true when the daemon stops.
    pub(crate) stopping: tokio::sync::watch::Receiver<bool>,
}

impl NamedService for Forwarding {
    const NAME: &'static str = <SafexServer<Service> as NamedService>::NAME;
}

impl tonic::codegen::Service<http::Request<Body>> for Forwarding {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Each call readies a clone of what it calls.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let Some(host) = request.headers_mut().remove(HOST_HEADER) else {
            let local = self.local.clone();
            return Box::pin(async move { local.oneshot(request).await });
        };
        let (peers, principals, stopping) = (self.peers.clone(), self.principals.clone(), self.stopping.clone());
        Box::pin(async move {
            let refuse = |status: tonic::Status| Ok(status.into_http());
            let name = host.to_str().unwrap_or("");
            let Some(channel) = peers.get(name).cloned() else {
                let known: Vec<&str> = peers.keys().map(String::as_str).collect();
                return refuse(status(
                    tonic::Code::NotFound,
                    codes::UNKNOWN_PEER,
                    format!(
                        "no peer daemon `{}` (peers: {})",
                        name.chars().take(64).collect::<String>().escape_debug(),
                        if known.is_empty() {
                            "none".into()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            };
            let metadata = tonic::metadata::MetadataMap::from_headers(request.headers().clone());
            let who = match principals.resolve_parts(request.extensions(), &metadata) {
                Ok(who) => who,
                Err(e) => return refuse(e),
            };
            let headers = request.headers_mut();
            headers.remove(UID_HEADER);
            headers.insert(UID_HEADER, http::HeaderValue::from(who.uid));
            match channel.oneshot(request).await {
                Ok(response) => Ok(response.map(|body| Body::new(Until::new(body, stopping)))),
                Err(e) => {
                    let message = format!("cannot reach peer daemon `{name}`: {}", safex::error_chain(&e));
                    refuse(status(tonic::Code::Unavailable, codes::CONNECT, message))
                }
            }
        })
    }
}

/// A forwarded answer's body, which ends when the daemon stops.
struct Until {
    body: Body,
    stopped: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

impl Until {
    fn new(body: Body, mut stopping: tokio::sync::watch::Receiver<bool>) -> Until {
        let stopped = Box::pin(async move {
            // An error means the daemon is gone: stopped too.
            let _ = stopping.wait_for(|&s| s).await;
        });
        Until { body, stopped }
    }
}

impl http_body::Body for Until {
    type Data = tonic::codegen::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if self.stopped.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }
}
