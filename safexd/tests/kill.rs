//! `kill -9` of the built `safexd` at points drawn from fixed seeds, while a
//! client creates applications, deploys, undeploys, grants and revokes, and
//! while the state file is first created. After each kill the daemon must
//! start again on the same state, and hold exactly what was acknowledged,
//! except that the one request in flight at the kill may or may not have
//! happened: as a whole, never in part.
//!
//! The kill points are random (seeded delays, so the same delays on every
//! run, but what the daemon is doing when they expire depends on the
//! machine); the checks hold at every kill point, and nothing is asserted
//! of timing.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use safex::{Acceptance, BlockingClient};

const CPU_PID: &[u8] = include_bytes!("../../examples/obj/cpu_pid.o");

/// One seed per kill, each drawing the kill's delay and the operations
/// before it.
const SEEDS: [u64; 20] = [
    0x5afe_0001,
    0x5afe_0002,
    0x5afe_0003,
    0x5afe_0004,
    0x5afe_0005,
    0x5afe_0006,
    0x5afe_0007,
    0x5afe_0008,
    0x5afe_0009,
    0x5afe_000a,
    0x5afe_000b,
    0x5afe_000c,
    0x5afe_000d,
    0x5afe_000e,
    0x5afe_000f,
    0x5afe_0010,
    0x5afe_0011,
    0x5afe_0012,
    0x5afe_0013,
    0x5afe_0014,
];

/// xorshift64*: enough to draw delays and operations from a seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform enough in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, mut items: impl ExactSizeIterator<Item = &'a T>) -> &'a T {
        let n = items.len() as u64;
        items.nth(self.below(n) as usize).expect("not empty")
    }
}

/// This process's uid: the owner of a file it made.
fn own_uid(dir: &Path) -> u32 {
    std::fs::metadata(dir).expect("stat").uid()
}

/// The built `safexd` on `dir/safex.sock` and `dir/state.redb`, its
/// standard error appended to `dir/safexd.log`.
struct Daemon {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
}

impl Daemon {
    fn spawn(dir: &Path) -> Daemon {
        let log = dir.join("safexd.log");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("opens the log");
        let socket = dir.join("safex.sock");
        let child = Command::new(env!("CARGO_BIN_EXE_safexd"))
            .arg("--socket")
            .arg(&socket)
            .arg("--state")
            .arg(dir.join("state.redb"))
            .arg("--period-ms")
            .arg("5")
            // Admission has tests of its own; here any deploy may be the
            // one a kill cuts.
            .arg("--no-admission")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("starts safexd");
        Daemon { child, socket, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (polling, up to 30 s) until the daemon answers; fails if it
    /// exits first.
    fn connect(&mut self) -> BlockingClient {
        let t = Instant::now();
        loop {
            match BlockingClient::connect(&self.socket) {
                Ok(client) => return client,
                Err(e) => {
                    assert_eq!(e.code, "D0012", "{e}");
                    if let Some(status) = self.child.try_wait().expect("waits") {
                        panic!("safexd exited ({status}) instead of serving:\n{}", self.log());
                    }
                    assert!(
                        t.elapsed() < Duration::from_secs(30),
                        "safexd does not answer: {e}\n{}",
                        self.log()
                    );
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }

    /// SIGKILL, and waits for it to be gone.
    fn kill(mut self) {
        self.child.kill().expect("kills");
        self.child.wait().expect("waits");
    }

    /// SIGTERM: a clean stop.
    fn stop(mut self) {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(sent.success());
        let status = self.child.wait().expect("waits");
        assert!(status.success(), "{status}:\n{}", self.log());
    }
}

impl Drop for Daemon {
    /// A test that fails leaves no daemon behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What the daemon holds (of the caller's applications): applications,
/// deployments (id → application), grants ((application, uid) → rights).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct State {
    apps: BTreeSet<String>,
    exts: BTreeMap<u64, String>,
    grants: BTreeMap<(String, u32), String>,
}

#[derive(Clone, Debug)]
enum Op {
    Create(String),
    Deploy(String),
    Undeploy(u64),
    Grant(String, u32, &'static str),
    Revoke(String, u32),
}

/// The listing as a [`State`], failing on what no sequence of whole
/// operations could leave: an id listed twice or under another
/// application, an extension that did not load again, a grant with other
/// rights than the API's.
fn observe(list: &safex::ListResponse, owner: u32) -> State {
    let mut state = State::default();
    for app in &list.applications {
        assert_eq!(app.owner_uid, owner, "{}", app.name);
        assert!(state.apps.insert(app.name.clone()), "{} listed twice", app.name);
        for e in &app.extensions {
            assert_eq!(
                (e.application.as_str(), e.name.as_str(), e.error.as_str()),
                (app.name.as_str(), "cpu_pid", ""),
                "extension {} did not load again whole",
                e.id
            );
            assert!(
                [Acceptance::Checked as i32, Acceptance::Cached as i32].contains(&e.acceptance),
                "extension {}: acceptance {}",
                e.id,
                e.acceptance
            );
            assert!(
                e.counters.is_some() && !e.quarantined,
                "extension {} is not running",
                e.id
            );
            assert_eq!(e.object_bytes, CPU_PID.len() as u64, "extension {}", e.id);
            let before = state.exts.insert(e.id, app.name.clone());
            assert_eq!(before, None, "extension {} listed twice", e.id);
        }
        for g in &app.grants {
            assert!(["r", "w", "rw"].contains(&g.rights.as_str()), "{g:?}");
            let before = state
                .grants
                .insert((app.name.clone(), g.principal_uid), g.rights.clone());
            assert_eq!(before, None, "{}: uid {} granted twice", app.name, g.principal_uid);
        }
    }
    state
}

/// The state the daemon holds after a kill: `acked` (every acknowledged
/// operation), or `acked` and the whole of the one operation in flight.
/// A deployment in flight has an id larger than every id acknowledged
/// (`highest`).
fn resolve(observed: &State, acked: &State, pending: Option<&Op>, highest: u64) -> State {
    if observed == acked {
        return observed.clone();
    }
    let mut after = acked.clone();
    let whole = match pending {
        None => false,
        Some(Op::Create(name)) => {
            after.apps.insert(name.clone());
            *observed == after
        }
        Some(Op::Deploy(app)) => {
            let new: Vec<(&u64, &String)> = observed
                .exts
                .iter()
                .filter(|(id, _)| !acked.exts.contains_key(id))
                .collect();
            if let [(id, on)] = new[..] {
                after.exts.insert(*id, on.clone());
                *id > highest && on == app && *observed == after
            } else {
                false
            }
        }
        Some(Op::Undeploy(id)) => {
            after.exts.remove(id);
            *observed == after
        }
        Some(Op::Grant(app, uid, rights)) => {
            after.grants.insert((app.clone(), *uid), rights.to_string());
            *observed == after
        }
        Some(Op::Revoke(app, uid)) => {
            after.grants.remove(&(app.clone(), *uid));
            *observed == after
        }
    };
    assert!(
        whole,
        "after the kill the daemon holds\n{observed:#?}\nbut acknowledged was\n{acked:#?}\nwith in flight {pending:?}"
    );
    observed.clone()
}

/// What a client did until the daemon was killed.
struct Run {
    acked: State,
    /// The operation sent and not answered, if any.
    pending: Option<Op>,
    /// The largest deployment id acknowledged so far.
    highest: u64,
    ops: usize,
}

/// A round's client: where it calls, and how it learns of the kill and
/// tells what it sends.
struct Round<'a> {
    round: usize,
    socket: &'a Path,
    grantees: [u32; 3],
    /// Set before the kill.
    killed: &'a AtomicBool,
    /// Told when each operation is sent (true for a deploy).
    started: mpsc::Sender<bool>,
}

/// Operations drawn from `rng`, one at a time, each acknowledged one
/// applied to `acked`, until one fails because the daemon was killed; any
/// other failure fails the test.
fn workload(r: Round, mut acked: State, mut highest: u64, mut rng: Rng) -> Run {
    let Round {
        round,
        socket,
        grantees,
        killed,
        started,
    } = r;
    let lost =
        |e: &safex::Error| killed.load(Ordering::SeqCst) && ["D0012", "D0013", "D0008"].contains(&e.code.as_str());
    let client = match BlockingClient::connect(socket) {
        Ok(client) => client,
        Err(e) if lost(&e) => {
            return Run {
                acked,
                pending: None,
                highest,
                ops: 0,
            };
        }
        Err(e) => panic!("cannot connect: {e}"),
    };
    let mut ops = 0;
    loop {
        let op = if acked.apps.is_empty() || (acked.apps.len() < 4 && rng.below(12) == 0) {
            Op::Create(format!("app-{round}-{ops}"))
        } else {
            let draw = rng.below(100);
            let app = rng.pick(acked.apps.iter()).clone();
            if !acked.exts.is_empty() && (acked.exts.len() >= 8 || (45..65).contains(&draw)) {
                Op::Undeploy(*rng.pick(acked.exts.keys()))
            } else if draw < 65 {
                Op::Deploy(app)
            } else if draw < 85 || acked.grants.is_empty() {
                let uid = grantees[rng.below(3) as usize];
                Op::Grant(app, uid, ["r", "w", "rw"][rng.below(3) as usize])
            } else {
                let (app, uid) = rng.pick(acked.grants.keys()).clone();
                Op::Revoke(app, uid)
            }
        };
        // The main thread may have stopped listening: it kills anyway.
        let _ = started.send(matches!(op, Op::Deploy(_)));
        let done = match &op {
            Op::Create(name) => client.create_application(name).map(|a| {
                assert_eq!(&a.name, name);
                acked.apps.insert(a.name);
            }),
            Op::Deploy(app) => client.deploy(app, CPU_PID).map(|e| {
                assert!(e.id > highest, "deployment id {} after {highest}", e.id);
                assert_eq!((&e.application, e.error.as_str()), (app, ""));
                highest = e.id;
                acked.exts.insert(e.id, e.application);
            }),
            Op::Undeploy(id) => client.undeploy(*id).map(|()| {
                acked.exts.remove(id);
            }),
            Op::Grant(app, uid, rights) => client.grant(app, *uid, rights).map(|()| {
                acked.grants.insert((app.clone(), *uid), rights.to_string());
            }),
            Op::Revoke(app, uid) => client.revoke(app, *uid).map(|()| {
                acked.grants.remove(&(app.clone(), *uid));
            }),
        };
        match done {
            Ok(()) => ops += 1,
            Err(e) if lost(&e) => {
                return Run {
                    acked,
                    pending: Some(op),
                    highest,
                    ops,
                };
            }
            Err(e) => panic!("{op:?} refused before any kill: {e}"),
        }
    }
}

/// When to kill a round's daemon.
#[derive(Debug)]
enum KillAt {
    /// This long after the client starts.
    After(Duration),
    /// This long after the client sends its `n`th deploy (from 0).
    InDeploy(usize, Duration),
}

#[test]
fn a_kill_at_any_point_loses_nothing_acknowledged_and_leaves_nothing_half_done() {
    let dir = tempfile::tempdir().expect("temp dir");
    let me = own_uid(dir.path());
    let grantees = [me.wrapping_add(1), me.wrapping_add(2), me.wrapping_add(3)];
    let mut acked = State::default();
    let mut pending: Option<Op> = None;
    let mut highest = 0;
    let t = Instant::now();
    for (round, seed) in SEEDS.iter().enumerate() {
        let mut rng = Rng::new(*seed);
        // Now and then a kill while it starts: opening the state,
        // restoring every object. Nothing may change.
        if rng.below(4) == 0 {
            let daemon = Daemon::spawn(dir.path());
            std::thread::sleep(Duration::from_millis(rng.below(30)));
            daemon.kill();
        }
        let mut daemon = Daemon::spawn(dir.path());
        let client = daemon.connect();
        let list = client.list(None).expect("lists");
        let observed = observe(&list, me);
        if round > 0 {
            let done = if observed == acked { "not done" } else { "done" };
            eprintln!("  restarted: the operation in flight, {pending:?}, {done}");
        }
        acked = resolve(&observed, &acked, pending.as_ref(), highest);
        highest = highest.max(observed.exts.keys().copied().max().unwrap_or(0));
        drop(client);

        let at = match rng.below(3) {
            0 => KillAt::After(Duration::from_micros(rng.below(4000))),
            1 => KillAt::After(Duration::from_millis(rng.below(250))),
            _ => KillAt::InDeploy(rng.below(4) as usize, Duration::from_micros(rng.below(1500))),
        };
        let ops = Rng::new(rng.next());
        let socket = daemon.socket.clone();
        let killed = AtomicBool::new(false);
        let (started, deploys) = mpsc::channel();
        let run = std::thread::scope(|s| {
            let worker = s.spawn(|| {
                let client = Round {
                    round,
                    socket: &socket,
                    grantees,
                    killed: &killed,
                    started,
                };
                workload(client, acked.clone(), highest, ops)
            });
            match at {
                KillAt::After(delay) => std::thread::sleep(delay),
                KillAt::InDeploy(n, delay) => {
                    // Ends early if the client does (it failed).
                    let mut seen = 0;
                    while let Ok(deploy) = deploys.recv() {
                        if deploy {
                            if seen == n {
                                break;
                            }
                            seen += 1;
                        }
                    }
                    std::thread::sleep(delay);
                }
            }
            killed.store(true, Ordering::SeqCst);
            daemon.kill();
            worker.join().expect("the client")
        });
        eprintln!(
            "round {round}: killed {at:?}: {} operations acknowledged, in flight {:?}",
            run.ops, run.pending
        );
        acked = run.acked;
        pending = run.pending;
        highest = run.highest;
    }

    // The last start: the same checks, and it works on.
    let mut daemon = Daemon::spawn(dir.path());
    let client = daemon.connect();
    let observed = observe(&client.list(None).expect("lists"), me);
    let done = if observed == acked { "not done" } else { "done" };
    eprintln!("  restarted: the operation in flight, {pending:?}, {done}");
    acked = resolve(&observed, &acked, pending.as_ref(), highest);
    highest = highest.max(observed.exts.keys().copied().max().unwrap_or(0));
    assert!(!acked.apps.is_empty(), "the rounds created nothing");
    let app = acked.apps.iter().next().expect("an application");
    let next = client.deploy(app, CPU_PID).expect("deploys");
    assert!(next.id > highest, "id {} after {highest}", next.id);
    // Every restored extension runs.
    let poll = Instant::now();
    loop {
        let list = client.list(None).expect("lists");
        let idle: Vec<u64> = list
            .applications
            .iter()
            .flat_map(|a| &a.extensions)
            .filter(|e| e.counters.as_ref().is_none_or(|c| c.invocations == 0))
            .map(|e| e.id)
            .collect();
        if idle.is_empty() {
            break;
        }
        assert!(
            poll.elapsed() < Duration::from_secs(10),
            "extensions {idle:?} never run"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(client);
    daemon.stop();
    eprintln!("{} kills in {:.2} s", SEEDS.len(), t.elapsed().as_secs_f64());
}

/// Files in `dir` other than the log.
fn made_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("reads the directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != "safexd.log")
        .collect();
    names.sort();
    names
}

#[test]
fn a_kill_while_the_state_is_first_made_leaves_none_or_all_of_it() {
    // Each daemon is killed as soon as its state file (or the temporary
    // file it makes it in) appears, or a little later: inside its
    // creation. The next start must open what is there, or make it again.
    let me = {
        let dir = tempfile::tempdir().expect("temp dir");
        own_uid(dir.path())
    };
    let mut rng = Rng::new(0x5afe_1000);
    let t = Instant::now();
    for attempt in 0..12 {
        let dir = tempfile::tempdir().expect("temp dir");
        let extra = match attempt % 3 {
            0 => Duration::ZERO,
            1 => Duration::from_micros(rng.below(500)),
            _ => Duration::from_micros(rng.below(5000)),
        };
        let daemon = Daemon::spawn(dir.path());
        let poll = Instant::now();
        while made_in(dir.path()).iter().all(|n| !n.contains("state")) {
            assert!(poll.elapsed() < Duration::from_secs(30), "no state file made");
            std::thread::yield_now();
        }
        std::thread::sleep(extra);
        daemon.kill();
        let left = made_in(dir.path());

        let mut daemon = Daemon::spawn(dir.path());
        let client = daemon.connect();
        let observed = observe(&client.list(None).expect("lists"), me);
        assert_eq!(observed, State::default(), "attempt {attempt} (left {left:?})");
        client.create_application("works").expect("creates");
        assert_eq!(
            made_in(dir.path()),
            ["safex.sock", "state.redb"],
            "attempt {attempt}: what a kill left is gone"
        );
        drop(client);
        daemon.stop();
        eprintln!("attempt {attempt}: killed {extra:?} after the first file, left {left:?}");
    }
    eprintln!("12 kills in {:.2} s", t.elapsed().as_secs_f64());
}
