//! The SafeX host: applications, their attribute classes and extensions,
//! and invocations with fuel, a deadline, counters and quarantine.
//!
//! Invariants:
//!
//! - **Isolation.** Every extension belongs to one application (or, for
//!   guards, to the system). A helper call acts on the attribute classes of
//!   the application the invocation runs for, which the host, not the
//!   extension, fixes when it starts the invocation; the capability handle
//!   an extension passes only selects one of those classes and must equal
//!   the one the host gave it. So no value an extension can compute reaches
//!   another application's attributes.
//! - **Rights.** Application extensions hold read and write rights on their
//!   application's classes, never the guard right; an object whose entry
//!   points ask for more is refused at load. Guards are installed by the
//!   system and hold every right. Each helper checks its right again.
//! - **Class agreement.** An object's declaration of a class must equal the
//!   host's class of the same name, attribute by attribute; the verifier
//!   proved the code against the object's declaration.
//! - **One invocation at a time** per host (`&mut self`), so an extension's
//!   data region needs no lock. A guard runs nested inside the helper call
//!   of the invocation that writes its attribute, with its own context.
//! - **Bounded.** Every invocation starts with the extension's fuel budget
//!   (at most [`HostConfig::max_fuel`]) and, with a deadline configured, is
//!   stopped when its CPU time passes it (`runtime/src/deadline.rs`); so are
//!   the guards nested in it, which obey its deadline (each with its own
//!   fuel).
//! - **No reference across compiled code.** While an extension runs, the
//!   invoking code holds no reference into the host, its frame, or the
//!   extension's data: helpers reach the host through the pointer in the
//!   frame, and the invoking code looks the extension up again after the
//!   call. Attribute values are `Cell`s, so that writing one keeps valid
//!   the pointers compiled code reads them through (`ctx.attrs`).
//! - **Accounting.** Every completed invocation is counted; every uncaught
//!   trap is an abort, and [`HostConfig::quarantine_after`] aborts stop the
//!   extension from running until [`Host::release`].

use crate::api::{self, Frame, Invocation};
use crate::deadline::{self, Deadline};
use crate::load::{Accepted, LoadError, Loaded, Loader};
use codegen::meta::EntryKind;
use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::ptr::NonNull;
use std::time::{Duration, Instant};
use stdlib::Rights;
use stdlib::abi::{Ctx, status};
use tal_ir::{ClassDef, ExcKind, Span};

/// What a host allows and how it accounts.
#[derive(Clone, Debug)]
pub struct HostConfig {
    pub verifier: verifier::Config,
    /// Fuel of an invocation of an extension that declares no budget.
    pub default_fuel: u64,
    /// The largest budget an extension may declare; larger ones are refused.
    pub max_fuel: u64,
    /// CPU-time budget of one invocation (nested guards included); past it
    /// the invocation is stopped, within the budget plus 1 ms.
    pub deadline: Option<Duration>,
    /// Aborts after which an extension is quarantined; 0 never quarantines.
    pub quarantine_after: u32,
    /// Measure each invocation's time. Off by default, like the kernel's
    /// `bpf_stats_enabled`: two clock reads cost several times a trivial
    /// invocation (docs/benchmarks.md).
    pub account_time: bool,
    /// The largest data region an extension may have, in 8-byte cells.
    pub max_data_cells: u64,
    /// Events an application's channel holds; more are dropped and counted.
    pub event_queue: usize,
    /// Handler invocations one tick may make.
    pub max_deliveries_per_tick: usize,
    /// Objects the load cache keeps (`runtime::load::LoadCache`): an
    /// unsigned object loaded again skips the checks it passed. 0 keeps
    /// none.
    pub load_cache_entries: usize,
    /// Bytes of objects the load cache keeps, at most.
    pub load_cache_bytes: usize,
}

impl Default for HostConfig {
    fn default() -> HostConfig {
        HostConfig {
            verifier: verifier::Config::default(),
            default_fuel: 1_000_000,
            max_fuel: 100_000_000,
            deadline: Some(Duration::from_millis(1)),
            quarantine_after: 3,
            account_time: false,
            max_data_cells: 1 << 20,
            event_queue: 256,
            max_deliveries_per_tick: 4096,
            load_cache_entries: 64,
            load_cache_bytes: 16 << 20,
        }
    }
}

/// An application known to the host.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct AppId(pub(crate) u32);

/// A loaded extension. Stale after [`Host::unload`]: never names a later one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ExtId {
    index: u32,
    generation: u32,
}

impl ExtId {
    /// Names no extension.
    pub(crate) const NONE: ExtId = ExtId {
        index: u32::MAX,
        generation: 0,
    };
}

/// An entry point of a loaded extension, from [`Host::entry`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct EntryRef {
    ext: ExtId,
    index: u32,
}

impl EntryRef {
    pub(crate) fn new(ext: ExtId, index: usize) -> EntryRef {
        EntryRef {
            ext,
            index: index as u32,
        }
    }

    /// The extension the entry point belongs to.
    pub fn ext(self) -> ExtId {
        self.ext
    }
}

/// Why an invocation did not return a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrapKind {
    /// An uncaught exception.
    Exception(ExcKind),
    /// The invocation used its whole fuel budget.
    OutOfFuel,
    /// The invocation ran past its time budget and was stopped.
    Deadline,
    /// A helper ended the invocation: it broke a rule the verifier cannot
    /// see (the message says which).
    HostAbort(String),
    /// The extension is quarantined; nothing ran.
    Quarantined,
    /// The extension or entry point is not loaded, or is a system guard
    /// (which runs only on the writes it guards); nothing ran.
    NotLoaded,
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrapKind::Exception(k) => f.write_str(k.name()),
            TrapKind::OutOfFuel => f.write_str("OutOfFuel"),
            TrapKind::Deadline => f.write_str("Deadline"),
            TrapKind::HostAbort(why) => write!(f, "HostAbort ({why})"),
            TrapKind::Quarantined => f.write_str("Quarantined"),
            TrapKind::NotLoaded => f.write_str("NotLoaded"),
        }
    }
}

/// Where in the extension a trap happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrapSite {
    pub function: String,
    pub block: u32,
    /// `None` at the block's terminator.
    pub inst: Option<u32>,
    /// Byte range in [`TrapSite::file`], if the TAL carries spans.
    pub span: Option<Span>,
    pub file: Option<String>,
}

/// An invocation that did not return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trap {
    pub kind: TrapKind,
    pub site: Option<TrapSite>,
}

impl Trap {
    /// Out of line, as the rare case it is: inlined, its constants took
    /// registers and stack stores on the tick's fast path.
    #[cold]
    #[inline(never)]
    fn nothing_ran(kind: TrapKind) -> Trap {
        Trap { kind, site: None }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(s) = &self.site {
            write!(f, " in {}, block {}", s.function, s.block)?;
            match s.inst {
                Some(i) => write!(f, ", instruction {i}")?,
                None => f.write_str(", terminator")?,
            }
        }
        Ok(())
    }
}

/// Per-extension counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Invocations that ran (returned or trapped).
    pub invocations: u64,
    /// Invocations that ended in an uncaught trap.
    pub aborts: u64,
    /// Aborts by kind.
    pub exceptions: u64,
    pub out_of_fuel: u64,
    pub deadlines: u64,
    pub host_aborts: u64,
    /// Fuel used by all invocations.
    pub fuel_used: u64,
    /// Time spent in invocations (with [`HostConfig::account_time`]).
    pub time: Duration,
    /// The longest invocation (with [`HostConfig::account_time`]).
    pub max_time: Duration,
    /// Events raised.
    pub events_raised: u64,
    /// `trace` records kept, and those dropped over the limits.
    pub traces: u64,
    pub traces_dropped: u64,
}

/// One `trace(value)` an extension made ([`Host::take_traces`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    /// The entry point of the invocation that traced.
    pub entry: EntryRef,
    pub value: i64,
    /// The call's site: the byte offset of `trace(...)` in the extension's
    /// source file, as the front-end compiles it (TAL passes what it will).
    pub site: i64,
}

/// `trace` records one invocation keeps; later ones are dropped.
pub const TRACES_PER_INVOCATION: u32 = 16;
/// `trace` records the host holds until [`Host::take_traces`]; later ones
/// are dropped.
pub const TRACES_HELD: usize = 1024;

/// A host-side error: a bad request to the host API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostError {
    pub code: &'static str,
    pub message: String,
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error[{}]: {}", self.code, self.message)
    }
}

impl std::error::Error for HostError {}

fn host_error<T>(code: &'static str, message: impl Into<String>) -> Result<T, HostError> {
    Err(HostError {
        code,
        message: message.into(),
    })
}

fn load_error<T>(code: &'static str, message: impl Into<String>) -> Result<T, LoadError> {
    Err(LoadError::new(code, message))
}

/// What became of one `set_attribute`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written; the guard, if any, returned `applied`.
    Written { applied: Option<i64> },
    /// The guard called `block`: not written, the application is blocked.
    Blocked,
    /// The guard trapped: not written.
    GuardTrapped(Trap),
}

/// One attribute write by an extension. Names are the host's to give
/// ([`Host::attribute_name`], [`Host::entry_name`]), so that recording a
/// write allocates nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub app: AppId,
    /// The host class and the attribute's position in it.
    pub class: usize,
    pub attr: u32,
    pub old: i64,
    pub new: i64,
    /// The entry point that wrote it.
    pub by: EntryRef,
    pub outcome: WriteOutcome,
}

#[derive(Clone, Copy)]
pub(crate) enum EntryCall {
    Monitor,
    Handler(usize),
    Guard(usize, u32),
}

pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) call: EntryCall,
    /// The host class of its capability.
    pub(crate) class: usize,
    code: *const u8,
    /// Its function index, and the entry `fuel` the host charges before
    /// each call (ABI 4).
    func: u32,
    entry_fuel: u64,
}

pub(crate) struct Extension {
    pub(crate) name: String,
    /// `None` for a system guard.
    pub(crate) app: Option<usize>,
    pub(crate) loaded: Loaded,
    pub(crate) data: Vec<i64>,
    pub(crate) fuel: u64,
    pub(crate) rights: Rights,
    /// Host class of each module class.
    pub(crate) class_map: Vec<usize>,
    /// Host event of each module event.
    pub(crate) event_map: Vec<usize>,
    /// `ctx.attrs` of this extension's invocations: for each module class,
    /// the values of host class `class_map[k]` of the application it runs
    /// for. Set at load for an application's extension; rewritten by every
    /// run of a guard, for the writing application (a guard nested in its
    /// own run acts for the same application, so it writes the same
    /// pointers; and `ctx.attrs` comes from `Vec::as_ptr`, which writes
    /// through the vector leave valid). Valid while the application
    /// exists: applications are never removed and a row is a boxed slice
    /// (`define_class` appends rows, attribute writes store in place).
    pub(crate) rows: Vec<*const i64>,
    pub(crate) entries: Vec<Entry>,
    pub(crate) counters: Counters,
    pub(crate) quarantined: bool,
}

pub(crate) struct App {
    pub(crate) name: String,
    /// Attribute values by host class, then attribute. Boxed slices: a
    /// row never grows or moves, since extensions read it through
    /// pointers (`Extension::rows`); of `Cell`s: a write through a shared
    /// reference keeps those pointers valid, where one through `&mut`
    /// would claim the row for itself.
    pub(crate) values: Vec<Box<[Cell<i64>]>>,
    /// The last value each attribute's guard returned.
    pub(crate) applied: Vec<Vec<Option<i64>>>,
    pub(crate) blocked: bool,
    pub(crate) queue: VecDeque<(usize, i64)>,
    pub(crate) dropped_events: u64,
    pub(crate) exts: Vec<ExtId>,
    /// The handlers of its extensions with the host event each runs on,
    /// in load order then object order (see [`Host::monitors`]).
    pub(crate) handlers: Vec<(usize, EntryRef)>,
}

struct Slot {
    generation: u32,
    ext: Option<Box<Extension>>,
}

enum Clock {
    Real(Instant),
    Manual(i64),
}

/// The event the host raises on an application's channel when one of its
/// extensions aborts with an uncaught exception; the value is the ABI
/// status of the exception (`stdlib::abi::status`).
pub const EXCEPTION_EVENT: &str = "Exception";

/// [`EXCEPTION_EVENT`]'s id: every host interns it first.
const EXCEPTION_EVENT_ID: usize = 0;

/// The user-space SafeX host.
pub struct Host {
    pub(crate) config: HostConfig,
    pub(crate) classes: Vec<ClassDef>,
    pub(crate) events: Vec<String>,
    pub(crate) apps: Vec<App>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// The guard of each (host class, attribute).
    pub(crate) guards: HashMap<(usize, u32), EntryRef>,
    /// Every application's monitors with their application: applications
    /// in creation order, extensions in load order, entry points in object
    /// order. With [`App::handlers`], what a tick runs, kept as extensions
    /// load and unload so that a tick looks nothing up.
    pub(crate) monitors: Vec<(usize, EntryRef)>,
    /// Attribute writes since the last [`Host::take_changes_into`] (or
    /// [`Host::take_changes`]).
    pub(crate) changes: Vec<Change>,
    /// `trace` records since the last [`Host::take_traces`].
    traces: Vec<TraceRecord>,
    /// An event was queued since a tick last began delivering ([`Host::raise`]
    /// sets it with every event it queues). Outside a tick's deliveries it
    /// is false only while every application's channel is empty, so that a
    /// tick with nothing to deliver looks at no channel.
    pub(crate) queued: bool,
    /// Why a helper ended the current invocation.
    pub(crate) abort_reason: Option<String>,
    clock: Clock,
    /// The frames code runs in, by nesting depth: `frames[0]` for
    /// invocations, `frames[d]` for a guard nested `d` deep in one (see
    /// [`Host::frame_at`]). Each is an allocation of its own at a fixed
    /// address, which compiled code and helpers access through pointers
    /// while an invocation runs; freed only in `drop`. The host accesses
    /// them field by field through these pointers (`api`), never through a
    /// reference to a whole frame or context.
    frames: Vec<NonNull<Frame>>,
    /// The running invocation's deadline, which `refuel` consults.
    pub(crate) deadline: Option<Deadline>,
    /// The keys trusted and the load cache.
    loader: Loader,
}

impl Drop for Host {
    fn drop(&mut self) {
        for frame in self.frames.drain(..) {
            // SAFETY: allocated by `Box::leak` in `frame_at` and freed only
            // here, once; no invocation runs (`&mut self`).
            drop(unsafe { Box::from_raw(frame.as_ptr()) });
        }
    }
}

/// `ctx.trap_func` until compiled code records a trap site: a status a
/// helper set has no site in the extension.
pub(crate) const NO_SITE: u32 = u32::MAX;

impl Host {
    /// A host with no classes and no applications.
    pub fn new(config: HostConfig) -> Result<Host, HostError> {
        let mut host = Host {
            classes: Vec::new(),
            events: vec![EXCEPTION_EVENT.to_string()],
            apps: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            guards: HashMap::new(),
            monitors: Vec::new(),
            changes: Vec::new(),
            traces: Vec::new(),
            queued: false,
            abort_reason: None,
            clock: Clock::Real(Instant::now()),
            frames: Vec::new(),
            deadline: config.deadline.map(Deadline::new),
            loader: Loader::new(config.load_cache_entries, config.load_cache_bytes),
            config,
        };
        host.frame_at(0);
        Ok(host)
    }

    /// The frame for nesting depth `depth`, allocated the first time code
    /// runs that deep.
    fn frame_at(&mut self, depth: usize) -> NonNull<Frame> {
        while self.frames.len() <= depth {
            let frame = NonNull::from(Box::leak(Box::new(api::new_frame(self.frames.len()))));
            self.frames.push(frame);
        }
        self.frames[depth]
    }

    /// The most fuel an invocation's counter holds at a time: under a
    /// deadline, a slice for the extension's data region (`refuel` looks at
    /// the clock between slices), and none at all once the deadline has
    /// passed (a guard that starts then stops at its first fuel check);
    /// without a deadline, all of it.
    fn slice_policy(&self) -> impl Fn(usize) -> u64 + use<> {
        let (enforced, passed) = match &self.deadline {
            Some(d) => (true, d.was_passed()),
            None => (false, false),
        };
        move |data_cells| match (enforced, passed) {
            (false, _) => u64::MAX,
            (true, true) => 0,
            (true, false) => deadline::slice_for(data_cells),
        }
    }

    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Defines an attribute class. Applications created before get an
    /// instance too. Attributes start at 0, or at the low end of a range
    /// that excludes 0.
    pub fn define_class(&mut self, def: ClassDef) -> Result<(), HostError> {
        if self.classes.iter().any(|c| c.name == def.name) {
            return host_error("L0104", format!("attribute class `{}` is defined twice", def.name));
        }
        for app in &mut self.apps {
            app.values.push(initial_values(&def));
            app.applied.push(vec![None; def.attrs.len()]);
        }
        self.classes.push(def);
        Ok(())
    }

    pub fn classes(&self) -> &[ClassDef] {
        &self.classes
    }

    /// Creates an application with an instance of every class.
    pub fn create_app(&mut self, name: &str) -> Result<AppId, HostError> {
        if self.app_by_name(name).is_some() {
            return host_error("L0104", format!("application `{name}` exists already"));
        }
        self.apps.push(App {
            name: name.to_string(),
            values: self.classes.iter().map(initial_values).collect(),
            applied: self.classes.iter().map(|c| vec![None; c.attrs.len()]).collect(),
            blocked: false,
            queue: VecDeque::new(),
            dropped_events: 0,
            exts: Vec::new(),
            handlers: Vec::new(),
        });
        Ok(AppId(self.apps.len() as u32 - 1))
    }

    pub fn app_by_name(&self, name: &str) -> Option<AppId> {
        self.apps.iter().position(|a| a.name == name).map(|i| AppId(i as u32))
    }

    pub fn app_name(&self, app: AppId) -> &str {
        &self.apps[app.0 as usize].name
    }

    pub fn apps(&self) -> impl Iterator<Item = AppId> + use<> {
        (0..self.apps.len() as u32).map(AppId)
    }

    /// The application's extensions, in load order.
    pub fn extensions(&self, app: AppId) -> &[ExtId] {
        &self.apps[app.0 as usize].exts
    }

    /// Finds `attr` (`class.attr`, or an attribute name unique among the
    /// classes) as (class, attribute) indices.
    pub fn find_attribute(&self, attr: &str) -> Result<(usize, u32), HostError> {
        let (class, name) = match attr.split_once('.') {
            Some((c, a)) => (Some(c), a),
            None => (None, attr),
        };
        let mut found = self.classes.iter().enumerate().filter_map(|(ci, c)| {
            if class.is_some_and(|n| n != c.name) {
                return None;
            }
            let ai = c.attrs.iter().position(|a| a.name == name)?;
            Some((ci, ai as u32))
        });
        match (found.next(), found.next()) {
            (Some(one), None) => Ok(one),
            (Some(_), Some(_)) => host_error("L0105", format!("attribute `{attr}` is ambiguous: name its class")),
            (None, _) => host_error("L0105", format!("no attribute class defines `{attr}`")),
        }
    }

    /// The qualified name `class.attr` of an attribute.
    pub fn attribute_name(&self, class: usize, attr: u32) -> String {
        let c = &self.classes[class];
        format!("{}.{}", c.name, c.attrs[attr as usize].name)
    }

    /// An attribute of an application.
    pub fn attribute(&self, app: AppId, attr: &str) -> Result<i64, HostError> {
        let (c, a) = self.find_attribute(attr)?;
        Ok(self.apps[app.0 as usize].values[c][a as usize].get())
    }

    /// The value the attribute's guard returned on its last accepted write.
    pub fn applied(&self, app: AppId, attr: &str) -> Result<Option<i64>, HostError> {
        let (c, a) = self.find_attribute(attr)?;
        Ok(self.apps[app.0 as usize].applied[c][a as usize])
    }

    /// The system's write of an attribute (measurements, set-up): any
    /// attribute, read-only ones included, no guard; the range still holds.
    pub fn write_attribute(&mut self, app: AppId, attr: &str, value: i64) -> Result<(), HostError> {
        let (c, a) = self.check_attribute_value(attr, value)?;
        self.apps[app.0 as usize].values[c][a as usize].set(value);
        Ok(())
    }

    /// Whether a guard decides writes of attribute `attr` of class `class`
    /// (indices as [`Host::find_attribute`] gives them).
    pub fn guarded(&self, class: usize, attr: u32) -> bool {
        self.guards.contains_key(&(class, attr))
    }

    /// Whether the system may write `value` to `attr` ([`Host::write_attribute`]
    /// without writing): the attribute as (class, attribute) indices.
    pub fn check_attribute_value(&self, attr: &str, value: i64) -> Result<(usize, u32), HostError> {
        let (c, a) = self.find_attribute(attr)?;
        let def = &self.classes[c].attrs[a as usize];
        if let Some((lo, hi)) = def.range
            && !(lo..=hi).contains(&value)
        {
            return host_error("L0106", format!("{value} is outside the range {lo}..={hi} of `{attr}`"));
        }
        if def.ty == tal_ir::AttrType::Bool && !(0..=1).contains(&value) {
            return host_error("L0106", format!("`{attr}` is a bool: {value} is neither 0 nor 1"));
        }
        Ok((c, a))
    }

    /// Whether a guard has blocked the application.
    pub fn blocked(&self, app: AppId) -> bool {
        self.apps[app.0 as usize].blocked
    }

    pub fn unblock(&mut self, app: AppId) {
        self.apps[app.0 as usize].blocked = false;
    }

    /// Events dropped because the application's channel was full.
    pub fn dropped_events(&self, app: AppId) -> u64 {
        self.apps[app.0 as usize].dropped_events
    }

    /// Makes `now_us` return `now` from now on (simulations, reproducible runs).
    pub fn set_clock_us(&mut self, now: i64) {
        self.clock = Clock::Manual(now);
    }

    pub(crate) fn now_us(&self) -> i64 {
        match self.clock {
            Clock::Real(start) => start.elapsed().as_micros() as i64,
            Clock::Manual(now) => now,
        }
    }

    /// Trusts the signatures of a public key, given as the DER
    /// `RSAPublicKey` of 2048 bits the kernel module takes (`safexc keygen`'s
    /// `NAME.pub`); `L0042` if it is not one. From then on a signed object
    /// loads on a trusted key's signature without the verifier or
    /// re-lowering, and a signed object no trusted key made is refused
    /// (`runtime::load::Loader` says how each object is accepted).
    pub fn trust(&mut self, public_key: &[u8]) -> Result<(), LoadError> {
        let key = crate::signed::PublicKey::from_der(public_key)?;
        self.loader.trust(key);
        Ok(())
    }

    /// The public keys whose signatures the host trusts.
    pub fn trusted_keys(&self) -> &[crate::signed::PublicKey] {
        self.loader.trusted()
    }

    /// The load cache, for its counters.
    pub fn load_cache(&self) -> &crate::load::LoadCache {
        self.loader.cache()
    }

    /// What a loaded extension's acceptance rested on.
    pub fn accepted(&self, ext: ExtId) -> Option<Accepted> {
        self.ext(ext).map(|e| e.loaded.accepted)
    }

    /// Loads an application's extension: accepted by the host's
    /// [`Loader`] (a trusted signature, or every check of
    /// `runtime::load::load`, or the load cache's memory of them), then the
    /// host's own checks: classes equal the host's, no guard entry points,
    /// no guard rights, budget and data region within limits.
    pub fn load(&mut self, app: AppId, object: &[u8]) -> Result<ExtId, LoadError> {
        if app.0 as usize >= self.apps.len() {
            return load_error("L0105", format!("no application #{}", app.0));
        }
        let ext = self.bind(object, Some(app.0 as usize))?;
        let calls: Vec<EntryCall> = ext.entries.iter().map(|e| e.call).collect();
        let id = self.insert(ext);
        let app = app.0 as usize;
        self.apps[app].exts.push(id);
        // After the monitors of this application's earlier extensions.
        let mut at = self.monitors.partition_point(|&(a, _)| a <= app);
        for (index, call) in calls.into_iter().enumerate() {
            let entry = EntryRef::new(id, index);
            match call {
                EntryCall::Monitor => {
                    self.monitors.insert(at, (app, entry));
                    at += 1;
                }
                EntryCall::Handler(event) => self.apps[app].handlers.push((event, entry)),
                EntryCall::Guard(..) => unreachable!("`bind` refuses an application's guard"),
            }
        }
        Ok(id)
    }

    /// Installs a system guard: an object whose entry points are guards,
    /// each taking over the writes of its attribute.
    pub fn install_guard(&mut self, object: &[u8]) -> Result<ExtId, LoadError> {
        let ext = self.bind(object, None)?;
        let mut attrs = Vec::new();
        for (i, e) in ext.entries.iter().enumerate() {
            let EntryCall::Guard(class, attr) = e.call else {
                return load_error(
                    "L0101",
                    format!("`{}` is not a guard: a system guard object holds only guards", e.name),
                );
            };
            if self.guards.contains_key(&(class, attr)) {
                return load_error(
                    "L0103",
                    format!("`{}` has a guard already", self.attribute_name(class, attr)),
                );
            }
            attrs.push((class, attr, i as u32));
        }
        let id = self.insert(ext);
        for (class, attr, index) in attrs {
            self.guards.insert((class, attr), EntryRef { ext: id, index });
        }
        Ok(id)
    }

    fn bind(&mut self, object: &[u8], app: Option<usize>) -> Result<Extension, LoadError> {
        let loaded = self.loader.load(object, &self.config.verifier)?;
        let meta = &loaded.parts.meta;
        let module = &loaded.parts.module;
        let mut class_map = Vec::with_capacity(module.classes.len());
        for c in &module.classes {
            let Some(h) = self.classes.iter().position(|h| h.name == c.name) else {
                return load_error("L0100", format!("the host has no attribute class `{}`", c.name));
            };
            if self.classes[h] != *c {
                return load_error(
                    "L0100",
                    format!("the object's declaration of class `{}` differs from the host's", c.name),
                );
            }
            class_map.push(h);
        }
        let rows = match app {
            Some(a) => class_map
                .iter()
                .map(|&c| self.apps[a].values[c].as_ptr().cast())
                .collect(),
            None => vec![std::ptr::null(); class_map.len()],
        };
        // Interning the names of a refused object's events is harmless.
        let event_map = module.events.iter().map(|e| self.intern_event(e)).collect();
        let fuel = match meta.budget {
            0 => self.config.default_fuel,
            b if b > self.config.max_fuel => {
                return load_error(
                    "L0102",
                    format!(
                        "the extension asks for {b} fuel per invocation; this host allows at most {}",
                        self.config.max_fuel
                    ),
                );
            }
            b => b,
        };
        let rights = if app.is_some() {
            Rights::READ.union(Rights::WRITE)
        } else {
            Rights::ALL
        };
        let mut entries = Vec::with_capacity(meta.entries.len());
        for e in &meta.entries {
            if !rights.contains(e.cap_rights) {
                return load_error(
                    "L0101",
                    format!(
                        "entry point `{}` asks for rights `{}` on `{}`; an application's extension may hold `rw`",
                        e.name, e.cap_rights, e.cap_class
                    ),
                );
            }
            let Some(class) = self.classes.iter().position(|c| c.name == e.cap_class) else {
                return load_error("L0100", format!("the host has no attribute class `{}`", e.cap_class));
            };
            let call = match &e.kind {
                EntryKind::Monitor => EntryCall::Monitor,
                EntryKind::Handler { event } => EntryCall::Handler(self.intern_event(event)),
                EntryKind::Guard { class: c, attr } => {
                    if app.is_some() {
                        return load_error(
                            "L0101",
                            format!("`{}` is a guard: only the system installs guards", e.name),
                        );
                    }
                    let (hc, ha) = self
                        .find_attribute(&format!("{c}.{attr}"))
                        .map_err(|e| LoadError::new("L0100", e.message))?;
                    EntryCall::Guard(hc, ha)
                }
            };
            let Some(code) = loaded.image.function(e.func as usize) else {
                return load_error("L0011", format!("entry point `{}` has no code", e.name));
            };
            entries.push(Entry {
                name: e.name.clone(),
                call,
                class,
                code,
                func: e.func,
                entry_fuel: e.entry_fuel,
            });
        }
        let layout = tal_ir::layout::GlobalLayout::new(module);
        let Some(data) = layout.and_then(|l| l.initial_data(self.config.max_data_cells)) else {
            return load_error(
                "L0102",
                format!(
                    "the extension's globals need more than {} cells of data",
                    self.config.max_data_cells
                ),
            );
        };
        Ok(Extension {
            name: meta.name.clone(),
            app,
            data,
            fuel,
            rights,
            class_map,
            event_map,
            rows,
            entries,
            counters: Counters::default(),
            quarantined: false,
            loaded,
        })
    }

    fn insert(&mut self, ext: Extension) -> ExtId {
        let ext = Some(Box::new(ext));
        match self.free.pop() {
            Some(index) => {
                let slot = &mut self.slots[index as usize];
                slot.ext = ext;
                ExtId {
                    index,
                    generation: slot.generation,
                }
            }
            None => {
                self.slots.push(Slot { generation: 0, ext });
                ExtId {
                    index: self.slots.len() as u32 - 1,
                    generation: 0,
                }
            }
        }
    }

    fn intern_event(&mut self, name: &str) -> usize {
        match self.events.iter().position(|e| e == name) {
            Some(i) => i,
            None => {
                self.events.push(name.to_string());
                self.events.len() - 1
            }
        }
    }

    /// Unloads an extension: its code, data and guard bindings are freed.
    /// Returns false if it was not loaded.
    pub fn unload(&mut self, id: ExtId) -> bool {
        let Some(slot) = self.slots.get_mut(id.index as usize) else {
            return false;
        };
        if slot.generation != id.generation || slot.ext.is_none() {
            return false;
        }
        let ext = slot.ext.take().expect("checked");
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.index);
        if let Some(app) = ext.app {
            let a = &mut self.apps[app];
            a.exts.retain(|&e| e != id);
            a.handlers.retain(|(_, e)| e.ext != id);
            self.monitors.retain(|(_, e)| e.ext != id);
        }
        self.guards.retain(|_, g| g.ext != id);
        true
    }

    #[inline]
    pub(crate) fn ext(&self, id: ExtId) -> Option<&Extension> {
        let slot = self.slots.get(id.index as usize)?;
        (slot.generation == id.generation).then_some(())?;
        slot.ext.as_deref()
    }

    #[inline]
    pub(crate) fn ext_mut(&mut self, id: ExtId) -> Option<&mut Extension> {
        extension_mut(&mut self.slots, id)
    }

    /// The extension's name as its object gives it.
    pub fn name(&self, id: ExtId) -> Option<&str> {
        self.ext(id).map(|e| e.name.as_str())
    }

    /// The fuel of each invocation of a loaded extension: its declared
    /// budget, or the host's default.
    pub fn fuel_budget(&self, id: ExtId) -> Option<u64> {
        self.ext(id).map(|e| e.fuel)
    }

    /// How many entry points (monitors, handlers, guards) a loaded
    /// extension has.
    pub fn entry_count(&self, id: ExtId) -> usize {
        self.ext(id).map_or(0, |e| e.entries.len())
    }

    /// The application a loaded extension runs for (`None` for a system
    /// guard, or once unloaded).
    pub fn app_of(&self, id: ExtId) -> Option<AppId> {
        let app = self.ext(id)?.app?;
        Some(AppId(u32::try_from(app).ok()?))
    }

    /// The entry point `name` of a loaded extension.
    pub fn entry(&self, ext: ExtId, name: &str) -> Option<EntryRef> {
        let index = self.ext(ext)?.entries.iter().position(|e| e.name == name)?;
        Some(EntryRef {
            ext,
            index: index as u32,
        })
    }

    pub fn counters(&self, ext: ExtId) -> Option<&Counters> {
        self.ext(ext).map(|e| &e.counters)
    }

    pub fn quarantined(&self, ext: ExtId) -> bool {
        self.ext(ext).is_some_and(|e| e.quarantined)
    }

    /// Lets a quarantined extension run again, its abort count reset.
    pub fn release(&mut self, ext: ExtId) {
        if let Some(e) = self.ext_mut(ext) {
            e.quarantined = false;
            e.counters.aborts = 0;
        }
    }

    /// The data region of an extension (its globals, one cell per scalar).
    pub fn data(&self, ext: ExtId) -> Option<&[i64]> {
        self.ext(ext).map(|e| e.data.as_slice())
    }

    /// The module of a loaded extension (its globals, types and entry points).
    pub fn module(&self, ext: ExtId) -> Option<&tal_ir::Module> {
        self.ext(ext).map(|e| &e.loaded.parts.module)
    }

    /// The cell offset of global `name` in the extension's data region.
    pub fn global_offset(&self, ext: ExtId, name: &str) -> Option<usize> {
        let module = &self.ext(ext)?.loaded.parts.module;
        let g = module.globals.iter().position(|g| g.name == name)?;
        let layout = tal_ir::layout::GlobalLayout::new(module)?;
        Some(layout.offsets[g] as usize)
    }

    /// Invokes an application extension's monitor (`value` `None`) or handler
    /// (`value` the event's) for its application. The host supplies the
    /// capability.
    pub fn invoke(&mut self, entry: EntryRef, value: Option<i64>) -> Result<Option<i64>, Trap> {
        let frame = self.frames[0];
        // The outermost invocation starts its deadline afresh.
        if let Some(d) = &mut self.deadline {
            d.start();
        }
        let slice = self.slice_policy();
        let Some(ext) = self.ext_mut(entry.ext) else {
            return Err(Trap::nothing_ran(TrapKind::NotLoaded));
        };
        if ext.quarantined {
            return Err(Trap::nothing_ran(TrapKind::Quarantined));
        }
        let (Some(app), Some(e)) = (ext.app, ext.entries.get(entry.index as usize)) else {
            return Err(Trap::nothing_ran(TrapKind::NotLoaded));
        };
        let (code, cap, fuel) = (e.code, e.class as i64 + 1, ext.fuel);
        let invocation = Invocation {
            ext: entry.ext,
            entry: entry.index as usize,
            app,
            fuel,
            slice: slice(ext.data.len()),
            func: e.func,
            entry_fuel: e.entry_fuel,
            data: ext.data.as_mut_ptr(),
            attrs: ext.rows.as_ptr(),
        };
        let start = self.config.account_time.then(Instant::now);
        // Helpers reach the host through this pointer while the extension
        // runs; `self` is not used again until the call has returned.
        let host: *mut Host = self;
        // SAFETY: frame 0 is no guard's, and no invocation is running (one
        // at a time, `&mut self`), so no compiled code uses it and no
        // reference to it is live.
        let runs = unsafe { api::prepare(frame, host, &invocation) };
        let ret = if runs {
            // SAFETY: `code` is a verified, linked entry point of this
            // extension, a monitor or handler as `value` says (or a caller
            // passing the wrong shape gets an ignored or arbitrary value
            // argument: the code is safe for any); the image lives while the
            // extension is loaded, and helpers cannot unload it. The frame
            // was just prepared through `host`, derived from `self`, which
            // nothing uses until the call returns. The data region (a
            // `Vec`'s buffer, through `as_mut_ptr`) and attribute rows
            // (`Cell`s, written by helpers through shared references) stay
            // valid for the code's pointers while helpers use the host.
            unsafe { api::call_entry(code, frame, cap, value) }
        } else {
            0
        };
        let elapsed = start.map(|s| s.elapsed());
        // SAFETY: the call has returned: no compiled code or helper uses
        // the frame, and the host never takes a unique reference to it, so
        // a shared reference to its context aliases nothing.
        let ctx = unsafe { &(*frame.as_ptr()).ctx };
        // SAFETY: as above.
        let used = unsafe { api::fuel_used(frame, fuel) };
        if ctx.status == status::OK {
            // Looked up again: helpers used the host while the code ran
            // (they cannot unload it).
            let c = &mut self
                .ext_mut(entry.ext)
                .expect("the invoked extension is loaded")
                .counters;
            c.invocations += 1;
            c.fuel_used = c.fuel_used.saturating_add(used);
            if let Some(t) = elapsed {
                c.time += t;
                c.max_time = c.max_time.max(t);
            }
            return Ok(Some(ret));
        }
        let outcome = self.finish(entry.ext, ctx, used, elapsed, ret);
        if let Err(Trap {
            kind: TrapKind::Exception(k),
            ..
        }) = &outcome
        {
            let is_exception_handler = self.ext(entry.ext).is_some_and(|e| {
                matches!(
                    e.entries[entry.index as usize].call,
                    EntryCall::Handler(EXCEPTION_EVENT_ID)
                )
            });
            if !is_exception_handler {
                self.raise(app, EXCEPTION_EVENT_ID, codegen::lower::status_of(*k) as i64);
            }
        }
        outcome
    }

    /// Runs a guard for `app`, nested inside a helper call that runs in
    /// frame `depth - 1`: in frame `depth`, with its own fuel, under the
    /// outer invocation's deadline (every frame refuels through the host's
    /// one [`Deadline`]).
    ///
    /// # Safety
    /// `host` is the host of the running invocation, as its frame holds it,
    /// and no reference into the host is live across this call.
    pub(crate) unsafe fn run_guard(
        host: *mut Host,
        depth: usize,
        guard: EntryRef,
        app: usize,
        value: i64,
    ) -> Result<(i64, bool), Trap> {
        let (frame, code, cap, fuel, start, runs) = {
            // SAFETY: the caller holds no reference into the host, and the
            // one made here ends before the guard runs.
            let h = unsafe { &mut *host };
            let frame = h.frame_at(depth);
            let slice = h.slice_policy();
            let account_time = h.config.account_time;
            let values = &h.apps[app].values;
            let Some(ext) = extension_mut(&mut h.slots, guard.ext) else {
                return Err(Trap::nothing_ran(TrapKind::NotLoaded));
            };
            if ext.quarantined {
                return Err(Trap::nothing_ran(TrapKind::Quarantined));
            }
            for (row, &class) in ext.rows.iter_mut().zip(&ext.class_map) {
                *row = values[class].as_ptr().cast();
            }
            let e = &ext.entries[guard.index as usize];
            let invocation = Invocation {
                ext: guard.ext,
                entry: guard.index as usize,
                app,
                fuel: ext.fuel,
                slice: slice(ext.data.len()),
                func: e.func,
                entry_fuel: e.entry_fuel,
                data: ext.data.as_mut_ptr(),
                attrs: ext.rows.as_ptr(),
            };
            // SAFETY: frame `depth` is one deeper than that of the helper
            // call this guard is nested in, so no compiled code is running
            // or suspended in it, and the host holds no reference to it.
            let runs = unsafe { api::prepare(frame, host, &invocation) };
            (
                frame,
                e.code,
                e.class as i64 + 1,
                ext.fuel,
                account_time.then(Instant::now),
                runs,
            )
        };
        let ret = if runs {
            // SAFETY: as in `invoke`: a linked guard `(ctx, cap, value)` of
            // this extension, a frame prepared through `host`, and no
            // reference into the host or the frame live across the call.
            unsafe { api::call_entry(code, frame, cap, Some(value)) }
        } else {
            0
        };
        let elapsed = start.map(|s| s.elapsed());
        // SAFETY: the guard has returned: nothing accesses the frame.
        let used = unsafe { api::fuel_used(frame, fuel) };
        // SAFETY: as above; a shared reference aliases nothing.
        let frame = unsafe { frame.as_ref() };
        // SAFETY: the guard has returned; the caller holds no reference.
        let h = unsafe { &mut *host };
        h.finish(guard.ext, &frame.ctx, used, elapsed, ret)
            .map(|r| (r.unwrap_or(0), frame.info.blocked))
    }

    /// Accounts an invocation that trapped, or a guard's, and turns its
    /// status into the result. Out of line: `invoke`'s fast path is the
    /// invocation that returns.
    #[inline(never)]
    fn finish(
        &mut self,
        id: ExtId,
        ctx: &Ctx,
        used: u64,
        elapsed: Option<Duration>,
        ret: i64,
    ) -> Result<Option<i64>, Trap> {
        let reason = self.abort_reason.take();
        let quarantine_after = self.config.quarantine_after;
        // `refuel` answered stop because the deadline passed.
        let interrupted = self.deadline.as_ref().is_some_and(Deadline::was_passed);
        let ext = self.ext_mut(id).expect("the invoked extension is loaded");
        let c = &mut ext.counters;
        c.invocations += 1;
        c.fuel_used = c.fuel_used.saturating_add(used);
        if let Some(t) = elapsed {
            c.time += t;
            c.max_time = c.max_time.max(t);
        }
        let kind = match ctx.status {
            status::OK => return Ok(Some(ret)),
            status::OUT_OF_FUEL if interrupted => {
                c.deadlines += 1;
                TrapKind::Deadline
            }
            status::OUT_OF_FUEL => {
                c.out_of_fuel += 1;
                TrapKind::OutOfFuel
            }
            status::HOST_ABORT => {
                c.host_aborts += 1;
                TrapKind::HostAbort(reason.unwrap_or_else(|| "a helper ended the invocation".into()))
            }
            s => match ExcKind::ALL.into_iter().find(|&k| codegen::lower::status_of(k) == s) {
                Some(k) => {
                    c.exceptions += 1;
                    TrapKind::Exception(k)
                }
                None => {
                    c.host_aborts += 1;
                    TrapKind::HostAbort(format!("unknown status {s}"))
                }
            },
        };
        c.aborts += 1;
        if quarantine_after > 0 && c.aborts >= u64::from(quarantine_after) {
            ext.quarantined = true;
        }
        let module = &ext.loaded.parts.module;
        // A helper's abort has no site in the extension; the location
        // fields may still hold an exception caught before it (stdlib::abi).
        let abort = matches!(kind, TrapKind::HostAbort(_));
        let site = (ctx.trap_func != NO_SITE && !abort)
            .then(|| {
                let f = module.funcs.get(ctx.trap_func as usize)?;
                let block = f.blocks.get(ctx.trap_block as usize)?;
                let inst = (ctx.trap_inst != stdlib::abi::TRAP_AT_TERMINATOR).then_some(ctx.trap_inst);
                let span = match inst {
                    Some(i) => block.insts.get(i as usize)?.span,
                    None => block.term_span,
                };
                Some(TrapSite {
                    function: f.name.clone(),
                    block: ctx.trap_block,
                    inst,
                    span,
                    file: module.source.clone(),
                })
            })
            .flatten();
        Err(Trap { kind, site })
    }

    /// Queues an event on an application's channel, or counts it dropped
    /// when the channel is full. Inline: the `raise_event` helper's whole
    /// work once its arguments are checked.
    #[inline]
    pub(crate) fn raise(&mut self, app: usize, event: usize, value: i64) {
        let cap = self.config.event_queue;
        let a = &mut self.apps[app];
        if a.queue.len() >= cap {
            a.dropped_events += 1;
        } else {
            a.queue.push_back((event, value));
            self.queued = true;
        }
    }

    /// Whether a loaded extension names event `name` (raises or handles it).
    pub fn knows_event(&self, name: &str) -> bool {
        self.events.iter().any(|e| e == name)
    }

    /// Queues event `name` with `value` on `app`'s channel, as an
    /// extension's `raise_event` would: its handlers run in the next tick.
    /// The event must be one a loaded extension names (raises or handles).
    pub fn raise_event(&mut self, app: AppId, name: &str, value: i64) -> Result<(), HostError> {
        let Some(event) = self.events.iter().position(|e| e == name) else {
            return host_error("L0105", format!("no loaded extension raises or handles event `{name}`"));
        };
        if app.0 as usize >= self.apps.len() {
            return host_error("L0105", format!("no application {}", app.0));
        }
        self.raise(app.0 as usize, event, value);
        Ok(())
    }

    /// Keeps a `trace` record, the invocation's `nth`, within the limits.
    pub(crate) fn trace(&mut self, entry: EntryRef, value: i64, site: i64, nth: u32) {
        let kept = nth <= TRACES_PER_INVOCATION && self.traces.len() < TRACES_HELD;
        if kept {
            self.traces.push(TraceRecord { entry, value, site });
        }
        if let Some(e) = self.ext_mut(entry.ext) {
            if kept {
                e.counters.traces += 1;
            } else {
                e.counters.traces_dropped += 1;
            }
        }
    }

    /// Moves the `trace` records since the last call into `traces`, which
    /// it clears first (the two vectors trade buffers).
    pub fn take_traces(&mut self, traces: &mut Vec<TraceRecord>) {
        traces.clear();
        std::mem::swap(&mut self.traces, traces);
    }

    /// The attribute writes since the last call, in a vector of their own
    /// ([`Host::take_changes_into`] reuses one).
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// Moves the attribute writes since the last call into `changes`,
    /// which it clears first. The two vectors trade buffers, so a caller
    /// that passes the same vector each time allocates nothing once both
    /// have grown to hold a round's writes.
    pub fn take_changes_into(&mut self, changes: &mut Vec<Change>) {
        changes.clear();
        std::mem::swap(&mut self.changes, changes);
    }

    /// The name of host event `event` (as reports give it).
    pub fn event_name(&self, event: usize) -> &str {
        self.events.get(event).map_or("?", String::as_str)
    }

    /// `extension.entry`, for reports; `?` once unloaded.
    pub fn entry_name(&self, entry: EntryRef) -> String {
        match self.ext(entry.ext) {
            Some(e) => format!(
                "{}.{}",
                e.name,
                e.entries.get(entry.index as usize).map_or("?", |e| e.name.as_str())
            ),
            None => "?".into(),
        }
    }
}

/// The extension in `slots` that `id` names, if it is still loaded.
#[inline]
fn extension_mut(slots: &mut [Slot], id: ExtId) -> Option<&mut Extension> {
    let slot = slots.get_mut(id.index as usize)?;
    (slot.generation == id.generation).then_some(())?;
    slot.ext.as_deref_mut()
}

fn initial_values(def: &ClassDef) -> Box<[Cell<i64>]> {
    def.attrs
        .iter()
        .map(|a| {
            Cell::new(match a.range {
                Some((lo, hi)) if !(lo..=hi).contains(&0) => lo,
                _ => 0,
            })
        })
        .collect()
}
