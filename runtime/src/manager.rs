//! The service manager loop: each tick runs every application's monitors,
//! then delivers the events on the applications' channels to their
//! handlers, and reports what changed.
//!
//! Order is fixed, so a run is reproducible: applications in creation
//! order, extensions in load order, entry points in object order, events in
//! the order raised (first in, first out per application). Events raised by
//! handlers are delivered in the same tick, up to
//! [`HostConfig::max_deliveries_per_tick`](crate::HostConfig) handler runs;
//! the rest are dropped and counted.

use crate::host::{AppId, Change, EntryCall, EntryRef, ExtId, Host, Trap};

/// An invocation that trapped during a tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrapReport {
    pub app: AppId,
    pub entry: EntryRef,
    pub trap: Trap,
    /// The trap made the extension's aborts reach the quarantine limit.
    pub quarantined: bool,
}

/// An event delivered during a tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub app: AppId,
    /// The host event ([`Host::event_name`]).
    pub event: usize,
    pub value: i64,
    /// Handlers it ran.
    pub handlers: usize,
}

/// What one tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    pub monitors_run: usize,
    pub handlers_run: usize,
    pub deliveries: Vec<Delivery>,
    pub changes: Vec<Change>,
    pub traps: Vec<TrapReport>,
    /// Events left undelivered because the tick's handler budget ran out.
    pub dropped_events: usize,
}

impl Host {
    /// Runs one tick of the service manager.
    pub fn tick(&mut self) -> TickReport {
        self.tick_with(|_| true)
    }

    /// Runs one tick in which only the applications `due` picks run their
    /// monitors (a manager that samples each application once per period);
    /// the events on every application's channel are delivered as usual.
    pub fn tick_with(&mut self, due: impl Fn(AppId) -> bool) -> TickReport {
        let mut report = TickReport::default();
        for app in 0..self.apps.len() {
            if !due(AppId(app as u32)) {
                continue;
            }
            // Helpers cannot load or unload: the lists stay as they are.
            for e in 0..self.apps[app].exts.len() {
                let ext = self.apps[app].exts[e];
                for i in 0..self.entry_count(ext) {
                    if self.entry_is(ext, i, |c| matches!(c, EntryCall::Monitor)) {
                        report.monitors_run += 1;
                        self.run_reporting(app, EntryRef::new(ext, i), None, &mut report);
                    }
                }
            }
        }
        let budget = self.config.max_deliveries_per_tick;
        for app in 0..self.apps.len() {
            while let Some((event, value)) = self.apps[app].queue.pop_front() {
                let mut handlers = 0;
                for e in 0..self.apps[app].exts.len() {
                    let ext = self.apps[app].exts[e];
                    for i in 0..self.entry_count(ext) {
                        if !self.entry_is(ext, i, |c| matches!(c, EntryCall::Handler(h) if *h == event)) {
                            continue;
                        }
                        if report.handlers_run >= budget {
                            report.dropped_events += 1;
                            continue;
                        }
                        report.handlers_run += 1;
                        handlers += 1;
                        self.run_reporting(app, EntryRef::new(ext, i), Some(value), &mut report);
                    }
                }
                report.deliveries.push(Delivery {
                    app: AppId(app as u32),
                    event,
                    value,
                    handlers,
                });
            }
        }
        report.changes = self.take_changes();
        report
    }

    fn entry_count(&self, ext: ExtId) -> usize {
        self.ext(ext).map_or(0, |e| e.entries.len())
    }

    fn entry_is(&self, ext: ExtId, index: usize, kind: impl Fn(&EntryCall) -> bool) -> bool {
        self.ext(ext).is_some_and(|e| kind(&e.entries[index].call))
    }

    fn run_reporting(&mut self, app: usize, entry: EntryRef, value: Option<i64>, report: &mut TickReport) {
        if let Err(trap) = self.invoke(entry, value)
            && trap.kind != crate::TrapKind::Quarantined
        {
            report.traps.push(TrapReport {
                app: AppId(app as u32),
                entry,
                trap,
                quarantined: self.quarantined(entry.ext()),
            });
        }
    }
}
