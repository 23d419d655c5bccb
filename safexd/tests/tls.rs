//! TCP with mutual TLS (`Daemon::serve_with_tcp`, `safexd --listen`): a
//! client with a certificate from the clients' CA is the principal its
//! Common Name names, the same as over the Unix socket; a client without a
//! certificate, with one from another CA, or with a Common Name that is
//! not a uid gets nothing; a client that does not trust the daemon's CA
//! does not connect.

mod common;

use std::path::Path;

use common::CPU_PID;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use safex::{Client, TlsIdentity};
use safexd::{Config, Daemon, DaemonError, Tls};

/// A CA: its certificate (PEM) and what signs with it.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("a key");
        Ca {
            issuer: CertifiedIssuer::self_signed(params, key).expect("signs"),
        }
    }

    fn pem(&self) -> Vec<u8> {
        self.issuer.pem().into_bytes()
    }

    /// A certificate for `names` (subject alternative names) with Common
    /// Name `cn`, and its key: PEM.
    fn issue(&self, cn: &str, names: &[&str]) -> (Vec<u8>, Vec<u8>) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().expect("a key");
        let cert = params.signed_by(&key, &self.issuer).expect("signs");
        (cert.pem().into_bytes(), key.serialize_pem().into_bytes())
    }

    /// A client identity with Common Name `cn` from this CA, for daemons
    /// whose certificates `servers` signed for `localhost`.
    fn client(&self, cn: &str, servers: &Ca) -> TlsIdentity {
        let (cert_pem, key_pem) = self.issue(cn, &[]);
        TlsIdentity {
            ca_pem: servers.pem(),
            cert_pem,
            key_pem,
            domain: Some("localhost".into()),
        }
    }
}

/// A daemon serving a Unix socket and `127.0.0.1:PORT` with mutual TLS.
struct Running {
    address: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), DaemonError>>,
}

async fn start(dir: &Path, tls: Tls) -> Running {
    let mut config = Config::new(dir.join("state.redb"));
    config.admission = None;
    let daemon = tokio::task::spawn_blocking(move || Daemon::open(config))
        .await
        .expect("joins")
        .expect("opens");
    let unix = safexd::bind(&dir.join("safex.sock")).expect("binds");
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let address = tcp.local_addr().expect("an address").to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        daemon
            .serve_with_tcp(unix, tcp, &tls, async move {
                let _ = stopped.await;
            })
            .await
    });
    Running { address, stop, task }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("joins").expect("served");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_are_the_uid_their_certificate_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (servers, clients, strangers) = (Ca::new("servers"), Ca::new("clients"), Ca::new("strangers"));
    let (cert_pem, key_pem) = servers.issue("safexd", &["localhost"]);
    let daemon = start(
        dir.path(),
        Tls {
            cert_pem,
            key_pem,
            client_ca_pem: clients.pem(),
        },
    )
    .await;
    let identity = |ca: &Ca, cn: &str| ca.client(cn, &servers);
    let alice = Client::connect_tls(&daemon.address, &identity(&clients, "1000"))
        .await
        .expect("connects");
    let bob = Client::connect_tls(&daemon.address, &identity(&clients, "2000"))
        .await
        .expect("connects");
    let app = alice.create_application("remote").await.expect("creates");
    assert_eq!(app.owner_uid, 1000, "the certificate's uid owns it");
    let ext = alice.deploy("remote", CPU_PID).await.expect("deploys");
    assert_eq!(
        bob.read_attribute("remote", "period")
            .await
            .expect_err("not granted")
            .code,
        "D0001"
    );
    alice.grant("remote", 2000, "r").await.expect("grants");
    assert_eq!(bob.read_attribute("remote", "period").await.expect("reads").value, 0);
    // The extension runs, as a subscriber over TLS sees.
    let mut sub = bob.subscribe("remote", 0).await.expect("subscribes");
    let notice = common::next_in_time(&mut sub)
        .await
        .expect("the stream goes on")
        .expect("a notice");
    assert!(notice.kind.is_some());
    alice.undeploy(ext.id).await.expect("undeploys");

    // Refused: a certificate of another CA, a Common Name that is not a
    // uid; no connection: a client that trusts another CA than the
    // daemon's.
    fn refused<T: std::fmt::Debug>(r: Result<T, safex::Error>) -> String {
        r.expect_err("refused").code
    }
    let stranger = Client::connect_tls(&daemon.address, &identity(&strangers, "1000")).await;
    match stranger {
        Err(e) => assert_eq!(e.code, "D0012", "{e}"),
        // TLS 1.3: the client learns of the refusal on its first call.
        Ok(c) => assert_eq!(refused(c.list(None).await), "D0013"),
    }
    let nameless = Client::connect_tls(&daemon.address, &identity(&clients, "alice"))
        .await
        .expect("connects");
    let e = nameless.list(None).await.expect_err("no principal");
    assert_eq!(e.code, "D0006", "{e}");
    assert!(e.message.contains("`alice`"), "{e}");
    let mut wrong_ca = identity(&clients, "1000");
    wrong_ca.ca_pem = strangers.pem();
    assert_eq!(refused(Client::connect_tls(&daemon.address, &wrong_ca).await), "D0012");
    daemon.stop().await;
}

/// `--listen` needs the three TLS files (`D0011` otherwise), and a file
/// that cannot be read stops the daemon with `D0021`.
#[test]
fn the_binary_wants_its_tls_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let safexd = |args: &[&str]| {
        let socket = dir.path().join("s.sock");
        let state = dir.path().join("state.redb");
        std::process::Command::new(env!("CARGO_BIN_EXE_safexd"))
            .args(["--socket", socket.to_str().unwrap(), "--state", state.to_str().unwrap()])
            .args(args)
            .output()
            .expect("runs")
    };
    let out = safexd(&["--listen", "127.0.0.1:0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error[D0011]") && stderr.contains("--tls-cert"),
        "{stderr}"
    );
    let out = safexd(&["--tls-key", "k.pem"]);
    assert_eq!(out.status.code(), Some(2), "--tls-key without --listen");
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    let out = safexd(&[
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        missing,
        "--tls-key",
        missing,
        "--tls-client-ca",
        missing,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error[D0021]: cannot read") && stderr.contains("missing.pem"),
        "{stderr}"
    );
}

/// Remote deployment: a client of daemon A names peer `b` (`on_host`); A
/// forwards its requests under A's peer certificate as the client's uid,
/// and daemon B serves them as that uid's: an application and an
/// extension deployed on B from a client of A, a subscription through A.
/// B believes a forwarded uid from a peer certificate only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_one_daemon_deploys_on_its_peer() {
    use std::os::unix::fs::MetadataExt;
    let (servers, clients) = (Ca::new("servers"), Ca::new("clients"));
    let (far, near) = (
        tempfile::tempdir().expect("temp dir"),
        tempfile::tempdir().expect("temp dir"),
    );
    let uid = std::fs::metadata(near.path()).expect("stat").uid();
    let (cert_pem, key_pem) = servers.issue("safexd b", &["localhost"]);
    let b = start(
        far.path(),
        Tls {
            cert_pem,
            key_pem,
            client_ca_pem: clients.pem(),
        },
    )
    .await;
    let (cert_pem, key_pem) = clients.issue("peer:a", &[]);
    let peers = safexd::forward::Peers {
        peers: [(
            "b".to_string(),
            safexd::forward::Peer {
                address: b.address.clone(),
                domain: Some("localhost".into()),
            },
        )]
        .into(),
        identity: Tls {
            cert_pem,
            key_pem,
            client_ca_pem: servers.pem(),
        },
    };
    let a = common::start_with(near.path(), |config| config.peers = Some(peers)).await;
    let local = a.client().await;
    let remote = local.on_host("b").expect("a name");
    let app = remote.create_application("far").await.expect("creates on b");
    assert_eq!(app.owner_uid, uid, "b's application is the caller's");
    let ext = remote.deploy("far", CPU_PID).await.expect("deploys on b");
    let mut sub = remote.subscribe("far", 0).await.expect("subscribes through a");
    let notice = common::next_in_time(&mut sub)
        .await
        .expect("the stream goes on")
        .expect("a notice");
    assert!(notice.kind.is_some());
    let listed = remote.list(Some("far")).await.expect("lists on b");
    assert_eq!(listed.applications[0].extensions[0].id, ext.id);
    // A itself has no such application.
    assert!(local.list(None).await.expect("lists on a").applications.is_empty());
    assert_eq!(local.list(Some("far")).await.expect_err("not on a").code, "D0002");
    // B, asked directly by the same uid over TLS, shows what A deployed.
    let direct = |ca: &Ca, cn: &str| ca.client(cn, &servers);
    let owner = Client::connect_tls(&b.address, &direct(&clients, &uid.to_string()))
        .await
        .expect("connects");
    assert_eq!(
        owner.list(Some("far")).await.expect("lists").applications[0]
            .extensions
            .len(),
        1
    );
    let other = Client::connect_tls(&b.address, &direct(&clients, &(uid + 1).to_string()))
        .await
        .expect("connects");
    assert_eq!(other.list(Some("far")).await.expect_err("not its").code, "D0001");
    remote.undeploy(ext.id).await.expect("undeploys on b");
    assert_eq!(
        owner.list(Some("far")).await.expect("lists").applications[0]
            .extensions
            .len(),
        0
    );
    // A peer A does not know; a name that is no header value.
    assert_eq!(
        local
            .on_host("c")
            .expect("a name")
            .list(None)
            .await
            .expect_err("no c")
            .code,
        "D0022"
    );
    assert_eq!(local.on_host("b\n").expect_err("not a name").code, "D0022");

    // Only a peer certificate may name a uid, and a peer must.
    let naming = |identity: TlsIdentity, forwarded: Option<u32>| {
        let address = b.address.clone();
        async move {
            let channel = safex::connect_tls_channel(&address, &identity).await.expect("connects");
            let mut raw = safex::proto::safex_client::SafexClient::with_interceptor(
                channel,
                move |mut request: tonic::Request<()>| {
                    if let Some(uid) = forwarded {
                        request.metadata_mut().insert("x-safex-uid", uid.into());
                    }
                    Ok(request)
                },
            );
            let request = safex::proto::ListRequest {
                application: "far".into(),
            };
            raw.list(request).await.map(|r| r.into_inner())
        }
    };
    let code = |r: Result<_, tonic::Status>| safex::Error::from_status(&r.expect_err("refused")).code;
    assert_eq!(
        code(naming(direct(&clients, "7"), Some(uid)).await),
        "D0006",
        "a client names a uid"
    );
    assert_eq!(
        code(naming(direct(&clients, "peer:x"), None).await),
        "D0006",
        "a peer names none"
    );
    let as_owner = naming(direct(&clients, "peer:x"), Some(uid))
        .await
        .expect("a peer names the owner");
    assert_eq!(as_owner.applications[0].owner_uid, uid);
    a.stop().await;
    b.stop().await;
}
