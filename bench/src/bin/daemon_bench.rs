//! The daemon's load test: `cargo run --release -p bench --bin daemon_bench`.
//!
//! A daemon served in this process on a Unix socket in a temporary
//! directory (its state file there too: every change is a durable redb
//! commit), admission off, measured through the blocking client:
//!
//! - **Deploys and undeploys per second**: a deploy of the PID extension
//!   and its undeploy, one client, against the same through `Host::load`
//!   and `Host::unload` on a host of this process, interleaved
//!   (`bench::interleaved`); the same object each time (the hosts' load
//!   caches remember its checks) and a fresh object each time (every
//!   check runs). The ratio is the daemon's cost over the host's: the
//!   socket, the host thread's queue, the commit.
//! - **Concurrent clients**: 1, 4 and 16 clients deploying and undeploying
//!   at once, each in its own application, for two seconds each.
//! - **Event throughput to subscribers**: 64 applications, each with an
//!   extension whose monitor raises 16 events a tick and whose handler
//!   takes them, the service manager at 1 ms; 1 and 8 subscribers per
//!   application, each reading its stream as fast as it can: notices
//!   received per second, against events the host delivered (from the
//!   extensions' counters), and notices lost (`lagged`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use safex::BlockingClient;
use safexd::{Config, Daemon};

const PID: &str = include_str!("../../../examples/pop/cpu_pid.pop");

/// A monitor that raises 16 events a tick, and their handler.
const CHATTY: &str = "extension chatty;\nimport cpu;\nbudget 10000;\n\
    monitor void m(cap<cpu_qos> app) { int i = 0; while (i < 16) { raise_event(\"Error\", i); i = i + 1; } }\n\
    handler void h(cap<cpu_qos> app, int e) on \"Error\" { }\n";

fn object(source: &str) -> Vec<u8> {
    bench::compile_object("bench.pop", source, false).expect("compiles")
}

/// A daemon served on `dir/safex.sock` by a runtime of its own; stops when
/// dropped.
struct Served {
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), safexd::DaemonError>>>,
}

impl Served {
    fn start(dir: &Path, period: Duration) -> Served {
        let mut config = Config::new(dir.join("state.redb"));
        config.period = period;
        config.admission = None;
        // The events' channel holds a tick's 16 per application.
        config.host.event_queue = 256;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let daemon = Daemon::open(config).expect("the daemon opens");
        let socket = dir.join("safex.sock");
        let listener = runtime.block_on(async { safexd::bind(&socket) }).expect("binds");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = runtime.spawn(daemon.serve(listener, async move {
            let _ = stopped.await;
        }));
        Served {
            runtime,
            stop: Some(stop),
            task: Some(task),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = self.runtime.block_on(task);
        }
    }
}

fn client(dir: &Path) -> BlockingClient {
    BlockingClient::connect(dir.join("safex.sock")).expect("connects")
}

fn deploy_rows(dir: &Path) {
    let same = object(PID);
    // Fresh objects: the same extension with another gain, each once.
    let fresh: Vec<Vec<u8>> = (0..4000)
        .map(|i| object(&PID.replace("const int KP = 500;", &format!("const int KP = {};", 500 + i))))
        .collect();
    let daemon = client(dir);
    daemon.create_application("load").expect("creates");
    let mut host = runtime::system::host(runtime::HostConfig::default(), true).expect("a host");
    let app = host.create_app("load").expect("creates");
    println!(
        "| object | through the daemon, ms per deploy + undeploy | `Host::load` + `unload`, ms | daemon / host (median) | daemon, per second |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (what, fresh_each) in [("the same each time", false), ("a fresh one each time", true)] {
        let (mut d, mut h) = (0usize, 2000usize);
        let pick = |n: &mut usize| {
            if fresh_each {
                *n += 1;
                fresh[*n % fresh.len()].clone()
            } else {
                same.clone()
            }
        };
        let [through, direct] = bench::interleaved(
            5,
            [
                &mut || {
                    let ext = daemon.deploy("load", pick(&mut d)).expect("deploys");
                    daemon.undeploy(ext.id).expect("undeploys");
                },
                &mut || {
                    let ext = host.load(app, &pick(&mut h)).expect("loads");
                    host.unload(ext);
                },
            ],
            |()| {},
        );
        println!(
            "| {what} | {:.3} | {:.3} | {:.2} | {:.0} |",
            through.best_ns / 1e6,
            direct.best_ns / 1e6,
            // `interleaved`'s ratios are to the first contender (the
            // daemon): the host's, inverted.
            1.0 / direct.ratio,
            1e9 / through.best_ns
        );
    }
}

fn concurrent_rows(dir: &Path) {
    let obj = Arc::new(object(PID));
    println!("\n| clients | deploys + undeploys per second, all clients | per client |");
    println!("|---:|---:|---:|");
    for clients in [1usize, 4, 16] {
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..clients)
            .map(|i| {
                let (dir, obj, done, stop) = (dir.to_path_buf(), obj.clone(), done.clone(), stop.clone());
                std::thread::spawn(move || {
                    let c = client(&dir);
                    let app = format!("c{clients}-{i}");
                    c.create_application(&app).expect("creates");
                    while !stop.load(Ordering::Relaxed) {
                        let ext = c.deploy(&app, obj.as_slice()).expect("deploys");
                        c.undeploy(ext.id).expect("undeploys");
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs(2));
        let counted = done.load(Ordering::Relaxed);
        let elapsed = start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().expect("a client");
        }
        let rate = counted as f64 / elapsed;
        println!("| {clients} | {rate:.0} | {:.0} |", rate / clients as f64);
    }
}

fn event_rows() {
    const APPS: usize = 64;
    println!(
        "\n| subscribers per application | notices received per second | events delivered per second | notices lost | ticks per second |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for per_app in [1usize, 8] {
        let dir = tempfile::tempdir().expect("a temp dir");
        let served = Served::start(dir.path(), Duration::from_millis(1));
        let c = client(dir.path());
        let chatty = object(CHATTY);
        for a in 0..APPS {
            let app = format!("a{a}");
            c.create_application(&app).expect("creates");
            c.deploy(&app, chatty.clone()).expect("deploys");
        }
        let received = Arc::new(AtomicU64::new(0));
        let lost = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..APPS * per_app)
            .map(|k| {
                let (dir, received, lost, stop) =
                    (dir.path().to_path_buf(), received.clone(), lost.clone(), stop.clone());
                std::thread::spawn(move || {
                    let c = client(&dir);
                    let mut sub = c.subscribe(&format!("a{}", k % APPS), 0).expect("subscribes");
                    while !stop.load(Ordering::Relaxed) {
                        match c.next_notice(&mut sub, Some(Duration::from_millis(100))) {
                            Ok(Some(n)) => match n.kind {
                                Some(safex::notice::Kind::Lagged(l)) => {
                                    lost.fetch_add(l.lost, Ordering::Relaxed);
                                }
                                _ => {
                                    received.fetch_add(1, Ordering::Relaxed);
                                }
                            },
                            Ok(None) => return,
                            Err(e) if e.code == "D0020" => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                })
            })
            .collect();
        // Every subscriber in place, then a clean start.
        std::thread::sleep(Duration::from_millis(500));
        let delivered = |c: &BlockingClient| {
            let list = c.list(None).expect("lists");
            let events: u64 = list
                .applications
                .iter()
                .flat_map(|a| &a.extensions)
                .filter_map(|e| e.counters.as_ref())
                .map(|c| c.events_raised)
                .sum();
            (events, list.ticks)
        };
        let (events0, ticks0) = delivered(&c);
        let (received0, lost0) = (received.load(Ordering::Relaxed), lost.load(Ordering::Relaxed));
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs(3));
        let (events1, ticks1) = delivered(&c);
        let (received1, lost1) = (received.load(Ordering::Relaxed), lost.load(Ordering::Relaxed));
        let seconds = start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        drop(served);
        for r in readers {
            r.join().expect("a reader");
        }
        println!(
            "| {per_app} | {:.0} | {:.0} | {} | {:.0} |",
            (received1 - received0) as f64 / seconds,
            (events1 - events0) as f64 / seconds,
            lost1 - lost0,
            (ticks1 - ticks0) as f64 / seconds
        );
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("a temp dir");
    {
        let _served = Served::start(dir.path(), Duration::from_millis(10));
        deploy_rows(dir.path());
        concurrent_rows(dir.path());
    }
    event_rows();
}
