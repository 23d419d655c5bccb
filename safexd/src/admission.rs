//! Admission control: each deployed extension reserves its worst case per
//! service-manager period, and a deploy that would take the sum past the
//! admitted share of the period is refused (`D0019`).
//!
//! An extension's reservation is, for each of its entry points, the worst
//! case of one invocation: its fuel budget times the cost of a fuel unit,
//! or the host's deadline if that is less (the deadline stops any
//! invocation). Each entry point counts once per period: a monitor runs
//! once per tick; a handler is reserved one event per period and a guard
//! one write per period (more run, but each is still bounded by the
//! deadline and the host's limit of deliveries per tick).
//!
//! The cost of a fuel unit is measured when the daemon starts, as the
//! dearest of a few kinds of work (arithmetic, reading an attribute,
//! raising an event, tracing: a helper call is one unit, and some cost far
//! more than an instruction), unless it is given (`--ns-per-fuel`, for a
//! fixed figure).

use std::time::Duration;

use runtime::{HostConfig, TrapKind};
use safex::codes;

use crate::DaemonError;

/// How the daemon admits deployments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Admission {
    /// The share of the period that reservations may take, in percent
    /// (0 < share ≤ 100).
    pub percent: f64,
    /// The cost of a fuel unit, in nanoseconds; measured at start if
    /// `None`.
    pub ns_per_fuel: Option<f64>,
}

impl Default for Admission {
    /// 5 % of the period; the cost measured.
    fn default() -> Admission {
        Admission {
            percent: 5.0,
            ns_per_fuel: None,
        }
    }
}

/// The worst case of one period of an extension with `entries` entry
/// points of `fuel` units each.
pub fn reservation(entries: usize, fuel: u64, ns_per_fuel: f64, deadline: Option<Duration>) -> Duration {
    let one = Duration::from_secs_f64((fuel as f64 * ns_per_fuel / 1e9).min(1e9));
    let one = deadline.map_or(one, |d| one.min(d));
    one.saturating_mul(u32::try_from(entries).unwrap_or(u32::MAX))
}

/// What reservations may take of `period`.
pub fn limit(period: Duration, percent: f64) -> Duration {
    period.mul_f64(percent / 100.0)
}

/// Monitors that run until they are out of fuel, each spending its fuel on
/// one kind of work: arithmetic on globals, reading an attribute, raising
/// an event (dropped once the channel is full), tracing (dropped once the
/// host holds its limit). The dearest unit counts.
const CALIBRATIONS: [&str; 4] = [
    "int n = 0;\nmonitor void m(cap<cpu_qos> app) { while (true) { n = (n * 3 + 1) % 1000003; } }\n",
    "int n = 0;\nmonitor void m(cap<cpu_qos> app) { while (true) { n = n + get_attribute(app, \"period\"); } }\n",
    "monitor void m(cap<cpu_qos> app) { while (true) { raise_event(\"Error\", 1); } }\n",
    "monitor void m(cap<cpu_qos> app) { while (true) { trace(1); } }\n",
];

/// Runs of each calibration; the median counts.
const RUNS: usize = 5;

/// Measures the cost of a fuel unit on this machine: the dearest of the
/// [`CALIBRATIONS`], each the median over a few runs of its CPU time (the
/// thread's: other load does not count) over the fuel it used, on a host
/// of its own with `config`'s limits but no deadline.
pub fn measure_ns_per_fuel(config: &HostConfig) -> Result<f64, DaemonError> {
    let fail = |what: String| DaemonError::new(codes::STATE, format!("cannot measure the cost of fuel: {what}"));
    let config = HostConfig {
        deadline: None,
        quarantine_after: 0,
        ..config.clone()
    };
    let mut host = runtime::system::host(config, true).map_err(|e| fail(e.to_string()))?;
    let app = host.create_app("calibration").map_err(|e| fail(e.to_string()))?;
    let options = popcorn_front::Options {
        file_name: "calibration.pop".into(),
        ..popcorn_front::Options::default()
    };
    let mut dearest = 0f64;
    for body in CALIBRATIONS {
        let source = format!("extension calibration;\nimport cpu;\nbudget 1000000;\n{body}");
        let module = popcorn_front::compile(&source, &options)
            .module
            .ok_or_else(|| fail(format!("a calibration does not compile: {body}")))?;
        let object = codegen::object::compile(&module, codegen::Options::default()).map_err(|e| fail(e.to_string()))?;
        let ext = host.load(app, &object).map_err(|e| fail(e.to_string()))?;
        let entry = host.entry(ext, "m").ok_or_else(|| fail("no monitor".into()))?;
        let mut costs = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let used = host.counters(ext).map_or(0, |c| c.fuel_used);
            let start = runtime::thread_cpu_time();
            let trap = host.invoke(entry, None).err().map(|t| t.kind);
            let elapsed = runtime::thread_cpu_time().saturating_sub(start);
            if trap != Some(TrapKind::OutOfFuel) {
                return Err(fail(format!("a calibration ended with {trap:?}, not out of fuel")));
            }
            let fuel = host.counters(ext).map_or(0, |c| c.fuel_used) - used;
            costs.push(elapsed.as_secs_f64() * 1e9 / fuel.max(1) as f64);
        }
        host.unload(ext);
        costs.sort_by(f64::total_cmp);
        dearest = dearest.max(costs[RUNS / 2]);
    }
    Ok(dearest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_is_the_budget_s_cost_or_the_deadline_per_entry_point() {
        let ms = Duration::from_millis;
        // 10,000 units at 2 ns: 20 µs, twice.
        assert_eq!(reservation(2, 10_000, 2.0, Some(ms(1))), Duration::from_micros(40));
        // 1,000,000 units at 2 ns is 2 ms: the deadline, 1 ms, bounds it.
        assert_eq!(reservation(3, 1_000_000, 2.0, Some(ms(1))), ms(3));
        assert_eq!(reservation(1, 1_000_000, 2.0, None), ms(2));
        assert_eq!(reservation(0, 1_000_000, 2.0, None), Duration::ZERO);
        // Absurd budgets saturate rather than overflow.
        assert!(reservation(usize::MAX, u64::MAX, 1e9, None) >= Duration::from_secs(1 << 40));
        assert_eq!(limit(ms(10), 5.0), Duration::from_micros(500));
    }

    #[test]
    fn the_cost_of_fuel_is_measured() {
        let ns = measure_ns_per_fuel(&HostConfig::default()).expect("measures");
        // A fuel unit is an instruction or a helper call: well under a
        // microsecond, and not free.
        assert!(ns > 0.0 && ns < 1000.0, "{ns} ns per unit");
    }
}
