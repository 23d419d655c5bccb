//! What the daemon's tests share: a daemon served in-process, clients as
//! any uid, objects.
#![allow(dead_code, reason = "each test file uses some of these")]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use safex::Client;
use safex::proto::safex_client::SafexClient;
use safexd::admission::Admission;
use safexd::{Config, Daemon, DaemonError, Principal, Principals};

pub const CPU_PID: &[u8] = include_bytes!("../../../examples/obj/cpu_pid.o");

/// The object of Popcorn-SX `source`.
pub fn object(source: &str) -> Vec<u8> {
    let options = popcorn_front::Options::default();
    let module = popcorn_front::compile(source, &options).module.expect("compiles");
    codegen::object::compile(&module, codegen::Options::default()).expect("lowers")
}

/// A daemon served by this process; requests with an `x-test-uid` header
/// call as that uid.
pub struct Running {
    socket: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), DaemonError>>,
}

/// A daemon on state `dir/state.redb` and socket `dir/safex.sock`, its
/// service manager ticking every 5 ms, a fuel unit taken to cost 1 ns
/// (the same admission on every machine).
pub async fn start(dir: &Path) -> Running {
    start_with(dir, |_| {}).await
}

/// [`start`] with `configure`'s changes to its configuration.
pub async fn start_with(dir: &Path, configure: impl FnOnce(&mut Config)) -> Running {
    let mut config = Config::new(dir.join("state.redb"));
    config.period = Duration::from_millis(5);
    config.admission = Some(Admission {
        ns_per_fuel: Some(1.0),
        ..Admission::default()
    });
    configure(&mut config);
    // Tests cannot change their uid: a request may name one.
    let principals = Principals::Custom(Arc::new(|extensions, metadata| match metadata.get("x-test-uid") {
        Some(v) => {
            let uid = v.to_str().ok().and_then(|s| s.parse().ok());
            uid.map(|uid| Principal { uid })
                .ok_or_else(|| tonic::Status::unauthenticated("D0006: bad x-test-uid"))
        }
        None => safexd::peer_cred(extensions),
    }));
    let daemon = tokio::task::spawn_blocking(move || Daemon::open(config))
        .await
        .expect("joins")
        .expect("opens")
        .with_principals(principals);
    let socket = dir.join("safex.sock");
    let listener = safexd::bind(&socket).expect("binds");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(daemon.serve(listener, async move {
        let _ = stopped.await;
    }));
    Running {
        socket,
        stop: Some(stop),
        task,
    }
}

impl Running {
    pub async fn client(&self) -> Client {
        Client::connect(&self.socket).await.expect("connects")
    }

    /// The generated client, calling as `uid`.
    pub async fn client_as(
        &self,
        uid: u32,
    ) -> SafexClient<
        tonic::service::interceptor::InterceptedService<
            tonic::transport::Channel,
            impl Fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone + use<>,
        >,
    > {
        let channel = safex::connect_channel(&self.socket).await.expect("connects");
        SafexClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
            request
                .metadata_mut()
                .insert("x-test-uid", uid.to_string().parse().expect("ascii"));
            Ok(request)
        })
        // Past the daemon's limit, to see it refuse.
        .max_encoding_message_size(64 << 20)
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("joins").expect("served");
    }
}

/// The next message of `subscription`, within 10 s (panics otherwise):
/// `None` once the stream has ended.
pub async fn next_in_time(subscription: &mut safex::Subscription) -> Option<Result<safex::Notice, safex::Error>> {
    tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .expect("a message, or the end, in time")
}
