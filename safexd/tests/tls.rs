//! TCP with mutual TLS (`Daemon::serve_with_tcp`, `safexd --listen`): a
//! client with a certificate from the clients' CA is the principal its
//! Common Name names, the same as over the Unix socket; a client without a
//! certificate, with one from another CA, or with a Common Name that is
//! not a uid gets nothing; a client that does not trust the daemon's CA
//! does not connect.

mod common;

use std::path::Path;
use std::time::Duration;

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
    let identity = |ca: &Ca, cn: &str| {
        let (cert_pem, key_pem) = ca.issue(cn, &[]);
        TlsIdentity {
            ca_pem: servers.pem(),
            cert_pem,
            key_pem,
            domain: Some("localhost".into()),
        }
    };
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
    let notice = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("a notice in time")
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
