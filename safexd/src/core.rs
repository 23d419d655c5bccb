//! The host thread: the one `runtime::Host` of the daemon, its state store,
//! and the service manager's ticks. A `Host` runs compiled code and holds
//! raw pointers into itself, so it never leaves the thread that made it;
//! requests reach it as jobs on a channel, run between ticks, one at a
//! time, and answer on a oneshot channel. Ticks keep their period whatever
//! the requests do: a job never waits behind more than one tick, and a tick
//! never waits behind more than one job.
//!
//! Every change is made to the host first and then committed to the store;
//! if the commit fails the host's change is undone, so the host and the
//! store agree after every job.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use runtime::host::{TraceRecord, WriteOutcome};
use runtime::load::Accepted;
use runtime::manager::TickReport;
use runtime::{AppId, EntryRef, ExtId, Host, HostError};
use safex::codes;
use safex::proto;
use tonic::Status;

use crate::store::{AppRecord, ExtRecord, READ, Store, WRITE};
use crate::{Config, DaemonError, Principal};

/// A status whose message starts with the daemon's or the host's code.
pub(crate) fn status(code: tonic::Code, error_code: &str, message: impl std::fmt::Display) -> Status {
    Status::new(code, format!("{error_code}: {message}"))
}

fn host_status(e: HostError) -> Status {
    let kind = if e.code == "L0104" {
        tonic::Code::AlreadyExists
    } else {
        tonic::Code::InvalidArgument
    };
    status(kind, e.code, e.message)
}

type Job = Box<dyn FnOnce(&mut Core) + Send>;

enum Msg {
    Job(Job),
    Stop,
}

/// The way to the host thread; shared by every request.
pub(crate) struct HostHandle {
    tx: mpsc::Sender<Msg>,
}

impl HostHandle {
    /// Runs `f` on the host thread and returns its answer; `D0008` if the
    /// thread is gone.
    pub(crate) async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core) -> Result<R, Status> + Send + 'static,
    ) -> Result<R, Status> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |core| {
            // The caller may have gone (its request cancelled): nobody to tell.
            let _ = tx.send(f(core));
        });
        let stopping = || status(tonic::Code::Unavailable, codes::STOPPING, "the daemon is stopping");
        self.tx.send(Msg::Job(job)).map_err(|_| stopping())?;
        rx.await.map_err(|_| stopping())?
    }

    pub(crate) fn stop(&self) {
        // Already stopped if the thread is gone.
        let _ = self.tx.send(Msg::Stop);
    }
}

/// Starts the host thread: it makes the host, opens the store and restores
/// what it keeps before `start` returns. `ns_per_fuel` is the cost of a
/// fuel unit, for admission control.
pub(crate) fn start(config: Config, ns_per_fuel: f64) -> Result<(HostHandle, JoinHandle<()>), DaemonError> {
    let (tx, rx) = mpsc::channel::<Msg>();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), DaemonError>>();
    let thread = std::thread::Builder::new()
        .name("safexd-host".into())
        .spawn(move || match Core::open(&config, ns_per_fuel) {
            Ok(mut core) => {
                // `start` waits for this answer; if it went away there is
                // nobody to serve.
                if ready_tx.send(Ok(())).is_ok() {
                    core.run(&rx, config.period);
                }
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        })
        .map_err(|e| DaemonError::new(codes::STATE, format!("cannot start the host thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok((HostHandle { tx }, thread)),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(DaemonError::new(codes::STATE, "the host thread ended while starting"))
        }
    }
}

struct App {
    id: AppId,
    owner: u32,
    /// Grantee uid → rights ([`READ`], [`WRITE`]).
    grants: BTreeMap<u32, u8>,
}

/// The rights `r`, `w`, `rw` as bits; `None` for anything else.
fn parse_rights(text: &str) -> Option<u8> {
    match text {
        "r" => Some(READ),
        "w" => Some(WRITE),
        "rw" => Some(READ | WRITE),
        _ => None,
    }
}

/// The rights as the API spells them.
fn rights_text(rights: u8) -> &'static str {
    match rights & (READ | WRITE) {
        READ => "r",
        WRITE => "w",
        _ => "rw",
    }
}

struct Deployment {
    app: String,
    name: String,
    /// `None` if the object could not be loaded again on restart.
    ext: Option<ExtId>,
    error: Option<String>,
    object_bytes: u64,
    /// Its worst case per period (`admission`).
    reserved: Duration,
}

/// What the admission control knows.
struct Admitting {
    ns_per_fuel: f64,
    /// What reservations may take of a period.
    limit: Duration,
    deadline: Option<Duration>,
}

/// The sending end of a `Subscribe` stream.
pub(crate) type Notices = tokio::sync::mpsc::Sender<Result<proto::Notice, Status>>;

/// A `Subscribe` stream, on the host thread.
struct Subscriber {
    app: String,
    app_id: AppId,
    uid: u32,
    queue: Queue,
    counters: Option<Counting>,
}

/// When a subscriber gets its next counters.
struct Counting {
    every: Duration,
    next: Instant,
}

/// A subscriber's notices on their way: a bounded queue that never blocks
/// the host thread. What does not fit is lost and counted, and the count
/// goes first, as a `Lagged` notice, once there is room again.
struct Queue {
    tx: Notices,
    /// Notices lost since the last one queued.
    lost: u64,
    /// The receiver is gone: the subscriber is removed after the round.
    closed: bool,
}

impl Queue {
    fn new(tx: Notices) -> Queue {
        Queue {
            tx,
            lost: 0,
            closed: false,
        }
    }

    /// Queues `kind` from tick `tick`, or counts it lost.
    fn send(&mut self, tick: u64, kind: proto::notice::Kind) {
        if self.lost > 0 {
            let lagged = proto::notice::Kind::Lagged(proto::LaggedNotice { lost: self.lost });
            if !self.try_send(tick, lagged) {
                self.lost += 1;
                return;
            }
            self.lost = 0;
        }
        if !self.try_send(tick, kind) {
            self.lost += 1;
        }
    }

    /// Whether the notice was queued (or need not be: the receiver is
    /// gone); false if the queue is full.
    fn try_send(&mut self, tick: u64, kind: proto::notice::Kind) -> bool {
        let notice = proto::Notice { tick, kind: Some(kind) };
        match self.tx.try_send(Ok(notice)) {
            Ok(()) => true,
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => false,
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
                self.closed = true;
                true
            }
        }
    }
}

/// The host and everything the daemon knows of it. Lives on the host
/// thread only.
pub(crate) struct Core {
    host: Host,
    store: Store,
    apps: BTreeMap<String, App>,
    exts: BTreeMap<u64, Deployment>,
    /// The deployment id of each loaded extension.
    ids: HashMap<ExtId, u64>,
    next_id: u64,
    ticks: u64,
    period: Duration,
    report: TickReport,
    subscribers: Vec<Subscriber>,
    /// The `trace` records of the last tick.
    traces: Vec<TraceRecord>,
    /// `None` if every deploy is admitted.
    admitting: Option<Admitting>,
}

impl Core {
    /// `ns_per_fuel`: the cost of a fuel unit, for admission control.
    fn open(config: &Config, ns_per_fuel: f64) -> Result<Core, DaemonError> {
        let mut host = runtime::system::host(config.host.clone(), true)
            .map_err(|e| DaemonError::new(codes::STATE, format!("cannot start the host: {e}")))?;
        for key in &config.trust {
            host.trust(key).map_err(|e| DaemonError::new(e.code, e.message))?;
        }
        let store = Store::open(&config.state).map_err(|e| {
            DaemonError::new(
                codes::STATE,
                format!("cannot open the state {}: {e}", config.state.display()),
            )
        })?;
        let admitting = config.admission.map(|a| Admitting {
            ns_per_fuel,
            limit: crate::admission::limit(config.period, a.percent),
            deadline: config.host.deadline,
        });
        let snapshot = store.snapshot().map_err(|e| {
            DaemonError::new(
                codes::STATE,
                format!("cannot read the state {}: {e}", config.state.display()),
            )
        })?;
        let mut core = Core {
            host,
            store,
            apps: BTreeMap::new(),
            exts: BTreeMap::new(),
            ids: HashMap::new(),
            next_id: snapshot.next_id,
            ticks: 0,
            period: config.period,
            report: TickReport::default(),
            subscribers: Vec::new(),
            traces: Vec::new(),
            admitting,
        };
        for (name, record) in snapshot.apps {
            let id = core
                .host
                .create_app(&name)
                .map_err(|e| DaemonError::new(codes::STATE, format!("cannot restore application `{name}`: {e}")))?;
            core.apps.insert(
                name,
                App {
                    id,
                    owner: record.owner,
                    grants: BTreeMap::new(),
                },
            );
        }
        for (name, uid, rights) in snapshot.grants {
            match core.apps.get_mut(&name) {
                Some(app) => {
                    app.grants.insert(uid, rights);
                }
                None => eprintln!("safexd: a grant to uid {uid} on `{name}` not restored: the application is not kept"),
            }
        }
        // Deployment order: every object goes through the host's checks again.
        for (id, record) in snapshot.exts {
            let loaded = match core.apps.get(&record.app) {
                Some(app) => core.host.load(app.id, &record.object).map_err(|e| e.to_string()),
                None => Err(format!(
                    "error[{}]: its application `{}` is not kept",
                    codes::STATE,
                    record.app
                )),
            };
            let (ext, error) = match loaded {
                Ok(ext) => {
                    core.ids.insert(ext, id);
                    (Some(ext), None)
                }
                Err(e) => {
                    eprintln!("safexd: extension {id} of `{}` not restored: {e}", record.app);
                    (None, Some(e))
                }
            };
            core.next_id = core.next_id.max(id + 1);
            let reserved = ext.map_or(Duration::ZERO, |ext| core.reservation(ext));
            core.exts.insert(
                id,
                Deployment {
                    app: record.app,
                    name: record.name,
                    ext,
                    error,
                    object_bytes: record.object.len() as u64,
                    reserved,
                },
            );
        }
        // What was kept is restored whatever the limit now is.
        if let Some(a) = &core.admitting
            && core.reserved() > a.limit
        {
            eprintln!(
                "safexd: the restored extensions reserve {:?} of each period, past the admitted {:?}: \
                 deploys are refused until some are undeployed",
                core.reserved(),
                a.limit
            );
        }
        Ok(core)
    }

    /// Serves jobs and ticks until told to stop.
    fn run(&mut self, rx: &mpsc::Receiver<Msg>, period: Duration) {
        let mut next = Instant::now() + period;
        loop {
            let now = Instant::now();
            if now >= next {
                self.host.tick(&mut self.report);
                self.ticks += 1;
                self.publish(now);
                next += period;
                // After the tick: one that outlasts the period must not
                // make the next run at once, and the next, so that jobs
                // are never served again.
                let now = Instant::now();
                if next <= now {
                    // Behind by more than a period (a long job): the missed
                    // ticks are skipped, not run back to back.
                    next = now + period;
                }
                continue;
            }
            match rx.recv_timeout(next - now) {
                Ok(Msg::Job(job)) => job(self),
                Ok(Msg::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Application `name`, if the caller owns it or was granted every right
    /// of `needed` on it (`D0001` otherwise).
    fn permitted(&self, who: Principal, name: &str, needed: u8) -> Result<&App, Status> {
        let app = self.known(name)?;
        if app.owner == who.uid || app.grants.get(&who.uid).is_some_and(|r| r & needed == needed) {
            return Ok(app);
        }
        Err(status(
            tonic::Code::PermissionDenied,
            codes::NOT_OWNER,
            format!(
                "application `{name}` belongs to uid {}; uid {} was not granted `{}` on it",
                app.owner,
                who.uid,
                rights_text(needed)
            ),
        ))
    }

    fn known(&self, name: &str) -> Result<&App, Status> {
        self.apps.get(name).ok_or_else(|| {
            status(
                tonic::Code::NotFound,
                codes::UNKNOWN_APPLICATION,
                format!("no application `{name}`"),
            )
        })
    }

    /// The caller's application `name`: deploy, undeploy, grant and revoke
    /// are the owner's alone.
    fn owned(&self, who: Principal, name: &str) -> Result<&App, Status> {
        let app = self.known(name)?;
        if app.owner != who.uid {
            return Err(status(
                tonic::Code::PermissionDenied,
                codes::NOT_OWNER,
                format!(
                    "application `{name}` belongs to uid {}, not to uid {}",
                    app.owner, who.uid
                ),
            ));
        }
        Ok(app)
    }

    /// The grants are shown to the owner only.
    fn application(&self, who: Principal, name: &str, app: &App, with_extensions: bool) -> proto::Application {
        let extensions = if with_extensions {
            self.exts
                .iter()
                .filter(|(_, d)| d.app == name)
                .map(|(id, d)| self.extension(*id, d))
                .collect()
        } else {
            Vec::new()
        };
        proto::Application {
            name: name.to_string(),
            owner_uid: app.owner,
            blocked: self.host.blocked(app.id),
            extensions,
            grants: if app.owner == who.uid {
                app.grants
                    .iter()
                    .map(|(uid, rights)| proto::Grant {
                        principal_uid: *uid,
                        rights: rights_text(*rights).to_string(),
                    })
                    .collect()
            } else {
                Vec::new()
            },
        }
    }

    fn extension(&self, id: u64, d: &Deployment) -> proto::Extension {
        extension(&self.host, id, d)
    }

    pub(crate) fn create_application(&mut self, who: Principal, name: &str) -> Result<proto::Application, Status> {
        check_name(name)?;
        let id = self.host.create_app(name).map_err(host_status)?;
        // The host has no way to remove an application: one that was
        // created but not committed stays in the host, unknown to the
        // daemon (never listed, never restored), and its name is refused
        // by the host until the daemon restarts.
        let record = AppRecord { owner: who.uid };
        self.store.put_app(name, &record).map_err(store_status)?;
        let app = App {
            id,
            owner: who.uid,
            grants: BTreeMap::new(),
        };
        let answer = self.application(who, name, &app, false);
        self.apps.insert(name.to_string(), app);
        Ok(answer)
    }

    /// Extension `ext`'s worst case per period (zero if every deploy is
    /// admitted).
    fn reservation(&self, ext: ExtId) -> Duration {
        self.admitting.as_ref().map_or(Duration::ZERO, |a| {
            let fuel = self.host.fuel_budget(ext).unwrap_or(0);
            crate::admission::reservation(self.host.entry_count(ext), fuel, a.ns_per_fuel, a.deadline)
        })
    }

    /// What the deployed extensions reserve of each period.
    fn reserved(&self) -> Duration {
        self.exts.values().map(|d| d.reserved).sum()
    }

    /// Extension `ext`'s reservation, or `D0019` if it would take the sum
    /// past the admitted share of the period.
    fn admit(&self, ext: ExtId) -> Result<Duration, Status> {
        let reserved = self.reservation(ext);
        let Some(a) = &self.admitting else {
            return Ok(reserved);
        };
        let already = self.reserved();
        if already + reserved <= a.limit {
            return Ok(reserved);
        }
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let deadline = a
            .deadline
            .map_or(String::new(), |d| format!(", or the {} µs deadline", us(d)));
        Err(status(
            tonic::Code::ResourceExhausted,
            codes::ADMISSION,
            format!(
                "`{}` reserves {:.1} µs per period ({} entry points × {} fuel units at {:.3} ns each{deadline}); \
                 {:.1} µs are reserved already, and at most {:.1} µs ({} % of the {} µs period) are admitted",
                self.host.name(ext).unwrap_or("?"),
                us(reserved),
                self.host.entry_count(ext),
                self.host.fuel_budget(ext).unwrap_or(0),
                a.ns_per_fuel,
                us(already),
                us(a.limit),
                a.limit.as_secs_f64() * 100.0 / self.period.as_secs_f64(),
                self.period.as_micros(),
            ),
        ))
    }

    pub(crate) fn deploy(&mut self, who: Principal, name: &str, object: Vec<u8>) -> Result<proto::Extension, Status> {
        let app = self.owned(who, name)?.id;
        let ext = self
            .host
            .load(app, &object)
            .map_err(|e| status(tonic::Code::InvalidArgument, e.code, e.message))?;
        let reserved = match self.admit(ext) {
            Ok(reserved) => reserved,
            Err(refused) => {
                self.host.unload(ext);
                return Err(refused);
            }
        };
        let id = self.next_id;
        let ext_name = self.host.name(ext).unwrap_or_default().to_string();
        let record = ExtRecord {
            app: name.to_string(),
            name: ext_name.clone(),
            object,
        };
        if let Err(e) = self.store.put_ext(id, &record) {
            self.host.unload(ext);
            return Err(store_status(e));
        }
        self.next_id = id + 1;
        self.ids.insert(ext, id);
        let deployment = Deployment {
            app: name.to_string(),
            name: ext_name,
            ext: Some(ext),
            error: None,
            object_bytes: record.object.len() as u64,
            reserved,
        };
        let answer = self.extension(id, &deployment);
        self.exts.insert(id, deployment);
        Ok(answer)
    }

    pub(crate) fn undeploy(&mut self, who: Principal, id: u64) -> Result<(), Status> {
        let unknown = || {
            status(
                tonic::Code::NotFound,
                codes::UNKNOWN_EXTENSION,
                format!("no extension {id}"),
            )
        };
        let app = self.exts.get(&id).ok_or_else(unknown)?.app.clone();
        self.owned(who, &app)?;
        // Forgotten by the store first: if that fails, nothing changed. The
        // host's unload cannot fail.
        self.store.remove_ext(id).map_err(store_status)?;
        if let Some(ext) = self.exts.remove(&id).and_then(|d| d.ext) {
            self.ids.remove(&ext);
            self.host.unload(ext);
        }
        Ok(())
    }

    pub(crate) fn list(&self, who: Principal, only: &str) -> Result<proto::ListResponse, Status> {
        let applications = if only.is_empty() {
            self.apps
                .iter()
                .filter(|(_, app)| app.owner == who.uid || app.grants.get(&who.uid).is_some_and(|r| r & READ != 0))
                .map(|(name, app)| self.application(who, name, app, true))
                .collect()
        } else {
            vec![self.application(who, only, self.permitted(who, only, READ)?, true)]
        };
        Ok(proto::ListResponse {
            applications,
            ticks: self.ticks,
            period_us: u64::try_from(self.period.as_micros()).unwrap_or(u64::MAX),
        })
    }

    pub(crate) fn read_attribute(
        &self,
        who: Principal,
        name: &str,
        attr: &str,
    ) -> Result<proto::ReadAttributeResponse, Status> {
        let app = self.permitted(who, name, READ)?.id;
        let (class, index) = self.host.find_attribute(attr).map_err(host_status)?;
        Ok(proto::ReadAttributeResponse {
            attribute: self.host.attribute_name(class, index),
            value: self.host.attribute(app, attr).map_err(host_status)?,
            applied: self.host.applied(app, attr).map_err(host_status)?,
        })
    }

    pub(crate) fn write_attribute(
        &mut self,
        who: Principal,
        name: &str,
        attr: &str,
        value: i64,
    ) -> Result<String, Status> {
        let app = self.permitted(who, name, WRITE)?.id;
        let (class, index) = self.host.check_attribute_value(attr, value).map_err(host_status)?;
        // The system's write runs no guard: a guarded attribute written so
        // would skip the one check its value must pass.
        if self.host.guarded(class, index) {
            return Err(status(
                tonic::Code::PermissionDenied,
                codes::GUARDED,
                format!(
                    "`{}` is guarded: only an extension's set_attribute, through its guard, changes it",
                    self.host.attribute_name(class, index)
                ),
            ));
        }
        let old = self.host.attribute(app, attr).map_err(host_status)?;
        self.host.write_attribute(app, attr, value).map_err(host_status)?;
        let attribute = self.host.attribute_name(class, index);
        let change = proto::ChangeNotice {
            attribute: attribute.clone(),
            old,
            new: value,
            extension_id: 0,
            entry: String::new(),
            outcome: "written".into(),
            applied: None,
        };
        let tick = self.ticks;
        for s in self.subscribers.iter_mut().filter(|s| s.app_id == app) {
            s.queue.send(tick, proto::notice::Kind::Change(change.clone()));
        }
        Ok(attribute)
    }
}

impl Core {
    /// Gives `uid` `rights` (`r`, `w`, `rw`) on the caller's application
    /// `name`, replacing what it had: committed first, then in effect.
    pub(crate) fn grant(&mut self, who: Principal, name: &str, uid: u32, rights: &str) -> Result<(), Status> {
        let owner = self.owned(who, name)?.owner;
        let bad = |why: String| status(tonic::Code::InvalidArgument, codes::BAD_GRANT, why);
        let bits = parse_rights(rights).ok_or_else(|| {
            let shown: String = rights.chars().take(16).collect();
            bad(format!(
                "rights `{}`: the rights are `r`, `w` or `rw`",
                shown.escape_debug()
            ))
        })?;
        if uid == owner {
            return Err(bad(format!(
                "uid {uid} owns `{name}`: the owner has every right and is granted none"
            )));
        }
        self.store.put_grant(name, uid, bits).map_err(store_status)?;
        if let Some(app) = self.apps.get_mut(name) {
            app.grants.insert(uid, bits);
        }
        if bits & READ == 0 {
            self.end_subscriptions(name, uid);
        }
        Ok(())
    }

    /// Takes back `uid`'s rights on the caller's application `name`
    /// (`D0017` if it has none): forgotten by the store first, then out of
    /// effect.
    pub(crate) fn revoke(&mut self, who: Principal, name: &str, uid: u32) -> Result<(), Status> {
        if !self.owned(who, name)?.grants.contains_key(&uid) {
            return Err(status(
                tonic::Code::NotFound,
                codes::UNKNOWN_GRANT,
                format!("uid {uid} holds no grant on `{name}`"),
            ));
        }
        self.store.remove_grant(name, uid).map_err(store_status)?;
        if let Some(app) = self.apps.get_mut(name) {
            app.grants.remove(&uid);
        }
        self.end_subscriptions(name, uid);
        Ok(())
    }
}

impl Core {
    /// Starts a `Subscribe` stream of application `name` (owned, or
    /// granted `r`) into `tx`.
    pub(crate) fn subscribe(
        &mut self,
        who: Principal,
        name: &str,
        counters_every: Option<Duration>,
        tx: Notices,
    ) -> Result<(), Status> {
        let app_id = self.permitted(who, name, READ)?.id;
        self.subscribers.push(Subscriber {
            app: name.to_string(),
            app_id,
            uid: who.uid,
            queue: Queue::new(tx),
            counters: counters_every.map(|every| Counting {
                every,
                next: Instant::now(),
            }),
        });
        Ok(())
    }

    /// Ends `uid`'s subscriptions to `name` (its right to read it is gone),
    /// with `D0001` where the queue has room for it.
    fn end_subscriptions(&mut self, name: &str, uid: u32) {
        self.subscribers.retain(|s| {
            if s.app != name || s.uid != uid {
                return true;
            }
            let revoked = status(
                tonic::Code::PermissionDenied,
                codes::NOT_OWNER,
                format!("uid {uid} may no longer read `{name}`: the subscription ends"),
            );
            let _ = s.queue.tx.try_send(Err(revoked));
            false
        });
    }

    /// Sends the last tick's notices to their subscribers.
    fn publish(&mut self, now: Instant) {
        // Taken every tick, so that a subscriber gets the records of the
        // ticks after it subscribed, and none are dropped for being held.
        self.host.take_traces(&mut self.traces);
        if self.subscribers.is_empty() {
            return;
        }
        let tick = self.ticks;
        let Core {
            host,
            exts,
            ids,
            report,
            subscribers,
            traces,
            ..
        } = self;
        let id_of = |entry: EntryRef| ids.get(&entry.ext()).copied().unwrap_or(0);
        // A notice is made only if someone subscribed to its application.
        let mut send = |app: AppId, make: &mut dyn FnMut() -> proto::notice::Kind| {
            let mut made = None;
            for s in subscribers.iter_mut().filter(|s| s.app_id == app) {
                let kind = made.get_or_insert_with(&mut *make).clone();
                s.queue.send(tick, kind);
            }
        };
        for d in &report.deliveries {
            send(d.app, &mut || {
                proto::notice::Kind::Event(proto::EventNotice {
                    event: host.event_name(d.event).to_string(),
                    value: d.value,
                    handlers: u32::try_from(d.handlers).unwrap_or(u32::MAX),
                })
            });
        }
        for c in &report.changes {
            send(c.app, &mut || {
                let (outcome, applied) = match &c.outcome {
                    WriteOutcome::Written { applied } => ("written".to_string(), *applied),
                    WriteOutcome::Blocked => ("blocked".to_string(), None),
                    WriteOutcome::GuardTrapped(trap) => (format!("guard trapped: {trap}"), None),
                };
                proto::notice::Kind::Change(proto::ChangeNotice {
                    attribute: host.attribute_name(c.class, c.attr),
                    old: c.old,
                    new: c.new,
                    extension_id: id_of(c.by),
                    entry: host.entry_name(c.by),
                    outcome,
                    applied,
                })
            });
        }
        for t in &report.traps {
            send(t.app, &mut || {
                proto::notice::Kind::Trap(proto::TrapNotice {
                    extension_id: id_of(t.entry),
                    entry: host.entry_name(t.entry),
                    trap: t.trap.to_string(),
                    quarantined: t.quarantined,
                })
            });
        }
        for r in traces.iter() {
            let Some(app) = host.app_of(r.entry.ext()) else {
                continue;
            };
            send(app, &mut || {
                proto::notice::Kind::Trace(proto::TraceNotice {
                    extension_id: id_of(r.entry),
                    entry: host.entry_name(r.entry),
                    value: r.value,
                    site: r.site,
                })
            });
        }
        for s in subscribers.iter_mut() {
            let due = s.counters.as_mut().is_some_and(|c| {
                let due = now >= c.next;
                if due {
                    c.next = (c.next + c.every).max(now);
                }
                due
            });
            if due {
                let extensions = exts
                    .iter()
                    .filter(|(_, d)| d.app == s.app)
                    .map(|(id, d)| extension(host, *id, d))
                    .collect();
                let counters = proto::notice::Kind::Counters(proto::CountersNotice { extensions });
                s.queue.send(tick, counters);
            }
        }
        subscribers.retain(|s| !s.queue.closed);
    }
}

/// What the API shows of deployment `id`.
fn extension(host: &Host, id: u64, d: &Deployment) -> proto::Extension {
    let mut e = proto::Extension {
        id,
        application: d.app.clone(),
        name: d.name.clone(),
        acceptance: proto::Acceptance::Unspecified as i32,
        quarantined: false,
        counters: None,
        error: d.error.clone().unwrap_or_default(),
        object_bytes: d.object_bytes,
    };
    if let Some(ext) = d.ext {
        e.acceptance = match host.accepted(ext) {
            Some(Accepted::Checked) => proto::Acceptance::Checked,
            Some(Accepted::Cached) => proto::Acceptance::Cached,
            Some(Accepted::Signed) => proto::Acceptance::Signed,
            None => proto::Acceptance::Unspecified,
        } as i32;
        e.quarantined = host.quarantined(ext);
        e.counters = host.counters(ext).map(|c| proto::Counters {
            invocations: c.invocations,
            aborts: c.aborts,
            exceptions: c.exceptions,
            out_of_fuel: c.out_of_fuel,
            deadlines: c.deadlines,
            host_aborts: c.host_aborts,
            fuel_used: c.fuel_used,
            events_raised: c.events_raised,
            time_ns: u64::try_from(c.time.as_nanos()).unwrap_or(u64::MAX),
            max_time_ns: u64::try_from(c.max_time.as_nanos()).unwrap_or(u64::MAX),
        });
    }
    e
}

fn store_status(e: crate::store::StoreError) -> Status {
    status(
        tonic::Code::Internal,
        codes::STORE,
        format!("the state store failed, nothing changed: {e}"),
    )
}

/// 1 to 64 characters of `[A-Za-z0-9_.-]`.
fn check_name(name: &str) -> Result<(), Status> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        let shown: String = name.chars().take(80).collect();
        Err(status(
            tonic::Code::InvalidArgument,
            codes::BAD_NAME,
            format!(
                "`{}`: an application name has 1 to 64 characters of [A-Za-z0-9_.-]",
                shown.escape_debug()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rights_are_r_w_or_rw() {
        use super::{READ, WRITE, parse_rights, rights_text};
        for (text, bits) in [("r", READ), ("w", WRITE), ("rw", READ | WRITE)] {
            assert_eq!(parse_rights(text), Some(bits));
            assert_eq!(rights_text(bits), text);
        }
        for bad in ["", "wr", "R", "rwx", "r ", "x", "rr"] {
            assert_eq!(parse_rights(bad), None, "{bad:?}");
        }
    }

    /// What does not fit is lost and counted; the count goes first once
    /// there is room; a queue whose receiver is gone is closed.
    #[test]
    fn a_full_queue_counts_what_it_loses() {
        use super::{Queue, proto};
        let event = |value| {
            proto::notice::Kind::Event(proto::EventNotice {
                event: "e".into(),
                value,
                handlers: 0,
            })
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        let mut queue = Queue::new(tx);
        for value in 0..10 {
            queue.send(value as u64, event(value));
        }
        assert_eq!(queue.lost, 8);
        let mut next = || rx.try_recv().expect("queued").expect("a notice").kind.expect("a kind");
        assert_eq!((next(), next()), (event(0), event(1)));
        // Room for the count and one notice: the count comes first.
        queue.send(10, event(10));
        queue.send(11, event(11));
        assert_eq!(next(), proto::notice::Kind::Lagged(proto::LaggedNotice { lost: 8 }));
        assert_eq!(next(), event(10));
        assert_eq!(queue.lost, 1);
        // The count of 11 and 12 fill the queue; 13 is lost.
        queue.send(12, event(12));
        queue.send(13, event(13));
        assert_eq!(queue.lost, 1);
        assert_eq!(next(), proto::notice::Kind::Lagged(proto::LaggedNotice { lost: 1 }));
        // One slot: the count of 13 takes it, and 14 is lost in turn.
        queue.send(14, event(14));
        assert_eq!(queue.lost, 1);
        assert_eq!(
            (next(), next()),
            (event(12), proto::notice::Kind::Lagged(proto::LaggedNotice { lost: 1 }))
        );
        drop(rx);
        queue.send(15, event(15));
        assert!(queue.closed);
    }

    #[test]
    fn names_are_checked() {
        for good in ["a", "video-1", "x.y_z", &"n".repeat(64)] {
            assert!(super::check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a/b", "é", &"n".repeat(65), "a\0"] {
            let e = super::check_name(bad).expect_err(bad);
            assert!(e.message().starts_with("D0005: "), "{}", e.message());
        }
    }
}
