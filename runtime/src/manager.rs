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

use crate::host::{AppId, Change, EntryRef, Host, Trap};

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

/// What one tick did. A report passed to every tick keeps its buffers, so
/// that in a steady state a tick allocates nothing.
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

impl TickReport {
    /// Empties the report for a tick, keeping its buffers (`changes` is
    /// replaced at the end of the tick).
    fn start(&mut self) {
        let TickReport {
            monitors_run,
            handlers_run,
            deliveries,
            changes: _,
            traps,
            dropped_events,
        } = self;
        (*monitors_run, *handlers_run, *dropped_events) = (0, 0, 0);
        deliveries.clear();
        traps.clear();
    }
}

impl Host {
    /// Runs one tick of the service manager; `report` says what it did
    /// (what it said before is gone).
    pub fn tick(&mut self, report: &mut TickReport) {
        self.tick_with(report, |_| true);
    }

    /// Runs one tick in which only the applications `due` picks run their
    /// monitors (a manager that samples each application once per period);
    /// the events on every application's channel are delivered as usual.
    pub fn tick_with(&mut self, report: &mut TickReport, due: impl Fn(AppId) -> bool) {
        report.start();
        // Helpers cannot load or unload: the lists stay as they are.
        for m in 0..self.monitors.len() {
            let (app, monitor) = self.monitors[m];
            if due(AppId(app as u32)) {
                report.monitors_run += 1;
                self.run_reporting(app, monitor, None, report);
            }
        }
        // Every channel is empty unless an event was queued since the last
        // delivery began (`Host::raise` sets it again for the events this
        // one raises).
        if std::mem::replace(&mut self.queued, false) {
            self.deliver(report);
        }
        // Most ticks write nothing: then neither vector needs touching.
        if !(self.changes.is_empty() && report.changes.is_empty()) {
            self.take_changes_into(&mut report.changes);
        }
    }

    /// Delivers the events on every application's channel to their
    /// handlers. Out of line: a tick with no event skips it, and the tick's
    /// own frame stays small.
    #[inline(never)]
    fn deliver(&mut self, report: &mut TickReport) {
        let budget = self.config.max_deliveries_per_tick;
        for app in 0..self.apps.len() {
            while let Some((event, value)) = self.apps[app].queue.pop_front() {
                let mut handlers = 0;
                for h in 0..self.apps[app].handlers.len() {
                    let (on, handler) = self.apps[app].handlers[h];
                    if on != event {
                        continue;
                    }
                    if report.handlers_run >= budget {
                        report.dropped_events += 1;
                        continue;
                    }
                    report.handlers_run += 1;
                    handlers += 1;
                    self.run_reporting(app, handler, Some(value), report);
                }
                report.deliveries.push(Delivery {
                    app: AppId(app as u32),
                    event,
                    value,
                    handlers,
                });
            }
        }
    }

    #[inline]
    fn run_reporting(&mut self, app: usize, entry: EntryRef, value: Option<i64>, report: &mut TickReport) {
        // `invoke`, not inlined here: inlined, its frame and spills made an
        // empty monitor's tick 1.30x the invocation instead of 1.25x.
        if let Err(trap) = self.invoke(entry, value) {
            self.report_trap(app, entry, trap, report);
        }
    }

    /// Out of line: a tick's fast path is invocations that return.
    #[cold]
    #[inline(never)]
    fn report_trap(&self, app: usize, entry: EntryRef, trap: Trap, report: &mut TickReport) {
        if trap.kind != crate::TrapKind::Quarantined {
            report.traps.push(TrapReport {
                app: AppId(app as u32),
                entry,
                trap,
                quarantined: self.quarantined(entry.ext()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HostConfig;

    /// An extension whose monitor writes `value` and raises it, and whose
    /// handler counts the events it receives.
    fn object(value: i64) -> Vec<u8> {
        let source = format!(
            "extension e{value};\nimport cpu;\nint heard = 0;\n\
             monitor void m(cap<cpu_qos> app) {{\n    set_attribute(app, \"timeslice_adjustment\", {value});\n    \
             raise_event(\"Error\", {value});\n}}\n\
             handler void h(cap<cpu_qos> app, int v) on \"Error\" {{ heard = heard + 1; }}\n"
        );
        bench::compile_object("e.pop", &source, false).expect("compiles")
    }

    #[test]
    #[cfg_attr(miri, ignore = "loads extensions: maps code")]
    fn a_tick_runs_applications_in_order_and_extensions_in_load_order_until_unloaded() {
        let mut host = crate::system::host(HostConfig::default(), false).expect("host");
        let a = host.create_app("a").expect("a");
        let b = host.create_app("b").expect("b");
        let first = host.load(a, &object(1)).expect("loads");
        host.load(b, &object(2)).expect("loads");
        let third = host.load(a, &object(3)).expect("loads");
        let mut report = TickReport::default();
        host.tick(&mut report);
        let written: Vec<i64> = report.changes.iter().map(|c| c.new).collect();
        assert_eq!(written, [1, 3, 2], "a's monitors in load order, then b's");
        let delivered: Vec<(AppId, i64, usize)> =
            report.deliveries.iter().map(|d| (d.app, d.value, d.handlers)).collect();
        assert_eq!(
            delivered,
            [(a, 1, 2), (a, 3, 2), (b, 2, 1)],
            "each of a's events to both of a's handlers"
        );
        assert!(host.unload(first));
        host.tick(&mut report);
        let written: Vec<i64> = report.changes.iter().map(|c| c.new).collect();
        assert_eq!(written, [3, 2], "the unloaded extension's monitor no longer runs");
        let delivered: Vec<(AppId, i64, usize)> =
            report.deliveries.iter().map(|d| (d.app, d.value, d.handlers)).collect();
        assert_eq!(delivered, [(a, 3, 1), (b, 2, 1)], "nor its handler");
        let heard = host.global_offset(third, "heard").expect("heard");
        assert_eq!(host.data(third).expect("loaded")[heard], 3);
    }

    #[test]
    #[cfg_attr(miri, ignore = "loads extensions: maps code")]
    fn events_raised_outside_a_tick_are_delivered_by_the_next() {
        let mut host = crate::system::host(HostConfig::default(), false).expect("host");
        let a = host.create_app("a").expect("a");
        let b = host.create_app("b").expect("b");
        host.load(a, &object(1)).expect("loads");
        let ext = host.load(b, &object(2)).expect("loads");
        let monitor = host.entry(ext, "m").expect("m");
        let mut report = TickReport::default();
        host.tick(&mut report);
        // Two events on b's channel, raised by invocations outside a tick.
        for _ in 0..2 {
            host.invoke(monitor, None).expect("runs");
        }
        host.tick_with(&mut report, |_| false);
        let delivered: Vec<(AppId, i64)> = report.deliveries.iter().map(|d| (d.app, d.value)).collect();
        assert_eq!(
            delivered,
            [(b, 2), (b, 2)],
            "no monitor ran: only the events raised before"
        );
        assert_eq!(report.handlers_run, 2);
        host.tick_with(&mut report, |_| false);
        assert!(
            report.deliveries.is_empty() && report.changes.is_empty(),
            "nothing left"
        );
        let heard = host.global_offset(ext, "heard").expect("heard");
        assert_eq!(
            host.data(ext).expect("loaded")[heard],
            3,
            "one from the first tick, two since"
        );
    }
}
