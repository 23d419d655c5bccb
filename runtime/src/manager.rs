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
    /// `extension.entry`.
    pub entry: String,
    pub trap: Trap,
    /// The trap made the extension's aborts reach the quarantine limit.
    pub quarantined: bool,
}

/// An event delivered during a tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub app: AppId,
    pub event: String,
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
        let mut report = TickReport::default();
        for app in self.apps().collect::<Vec<_>>() {
            for ext in self.extensions(app).to_vec() {
                for (entry, _) in self.entries_of(ext, |c| matches!(c, EntryCall::Monitor)) {
                    report.monitors_run += 1;
                    self.run_reporting(app, ext, entry, None, &mut report);
                }
            }
        }
        let budget = self.config.max_deliveries_per_tick;
        for app in self.apps().collect::<Vec<_>>() {
            while let Some((event, value)) = self.apps[app.0 as usize].queue.pop_front() {
                let mut handlers = 0;
                for ext in self.extensions(app).to_vec() {
                    for (entry, _) in self.entries_of(ext, |c| matches!(c, EntryCall::Handler(e) if *e == event)) {
                        if report.handlers_run >= budget {
                            report.dropped_events += 1;
                            continue;
                        }
                        report.handlers_run += 1;
                        handlers += 1;
                        self.run_reporting(app, ext, entry, Some(value), &mut report);
                    }
                }
                report.deliveries.push(Delivery {
                    app,
                    event: self.events[event].clone(),
                    value,
                    handlers,
                });
            }
        }
        report.changes = self.take_changes();
        report
    }

    fn entries_of(&self, ext: ExtId, wanted: impl Fn(&EntryCall) -> bool) -> Vec<(EntryRef, String)> {
        let Some(e) = self.ext(ext) else { return Vec::new() };
        let calls: Vec<bool> = e.entries.iter().map(|entry| wanted(&entry.call)).collect();
        self.entries(ext)
            .into_iter()
            .zip(calls)
            .filter_map(|(entry, keep)| keep.then_some(entry))
            .collect()
    }

    fn run_reporting(&mut self, app: AppId, ext: ExtId, entry: EntryRef, value: Option<i64>, report: &mut TickReport) {
        if self.quarantined(ext) {
            return;
        }
        if let Err(trap) = self.invoke(entry, value) {
            report.traps.push(TrapReport {
                app,
                entry: self.entry_name(entry),
                trap,
                quarantined: self.quarantined(ext),
            });
        }
    }
}
