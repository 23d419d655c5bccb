//! `safexc top`: a live view of the daemon's extensions, as bpftop's of
//! BPF programs (`docs/clients.md`).
//!
//! Every `--interval-ms` it lists the caller's applications (`List`) and
//! shows one row per extension: its invocations per second, mean time and
//! fuel per invocation over the interval (differences of the daemon's
//! counters between two polls over the time between the answers), its
//! traps over the interval and in all, and its state. The computation is
//! [`rows`], a pure function: counters that go back (the daemon restarted)
//! count from zero, never underflow. The view is drawn with ratatui on its
//! crossterm backend; `--json` prints one snapshot instead (two polls one
//! interval apart) and needs no terminal.

use crate::daemon::{self, Failed, SocketArgs};
use crate::device::duration;
use crate::out::{Out, OutputError};
use ratatui::Frame;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row as TableRow, Table, TableState};
use safex::proto::{Counters, ListResponse};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The shortest interval between two polls, in milliseconds.
pub const MIN_INTERVAL_MS: u64 = 10;
/// The longest, in milliseconds (a minute).
pub const MAX_INTERVAL_MS: u64 = 60_000;

#[derive(clap::Args)]
pub struct TopArgs {
    /// Milliseconds between two polls of the daemon: 10 to 60000.
    #[arg(long, value_name = "MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(MIN_INTERVAL_MS..=MAX_INTERVAL_MS))]
    interval_ms: u64,
    /// The column the rows are sorted by (in the view, `s` and `S` change it
    /// and `r` reverses it).
    #[arg(long, value_enum, value_name = "FIELD", default_value = "rate")]
    sort: SortKey,
    /// Print one snapshot as JSON (two polls one interval apart) and exit,
    /// without a terminal.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    socket: SocketArgs,
}

/// A column rows can be sorted by, in the order of the columns. Numbers
/// sort largest first, names in alphabetical order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SortKey {
    /// The application's name.
    App,
    /// The extension's id.
    Id,
    /// The extension's name.
    Name,
    /// Error, quarantined, blocked first.
    State,
    /// Invocations per second over the interval.
    Rate,
    /// Mean time per invocation over the interval.
    Mean,
    /// The longest invocation since the extension was deployed.
    Max,
    /// Fuel used per invocation over the interval.
    Fuel,
    /// Traps (aborts) over the interval, then in all.
    Traps,
    /// Invocations in all.
    Invocations,
}

impl SortKey {
    const ALL: [SortKey; 10] = [
        SortKey::App,
        SortKey::Id,
        SortKey::Name,
        SortKey::State,
        SortKey::Rate,
        SortKey::Mean,
        SortKey::Max,
        SortKey::Fuel,
        SortKey::Traps,
        SortKey::Invocations,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SortKey::App => "app",
            SortKey::Id => "id",
            SortKey::Name => "name",
            SortKey::State => "state",
            SortKey::Rate => "rate",
            SortKey::Mean => "mean",
            SortKey::Max => "max",
            SortKey::Fuel => "fuel",
            SortKey::Traps => "traps",
            SortKey::Invocations => "invocations",
        }
    }

    /// The next column (`by` 1) or the previous (`by` -1), round.
    fn step(self, by: isize) -> SortKey {
        let n = Self::ALL.len() as isize;
        let at = Self::ALL.iter().position(|&k| k == self).unwrap_or(0) as isize;
        Self::ALL[(at + by).rem_euclid(n) as usize]
    }

    /// The column of the table this key sorts.
    fn column(self) -> usize {
        match self {
            SortKey::App => 0,
            SortKey::Id => 1,
            SortKey::Name => 2,
            SortKey::State => 3,
            SortKey::Rate => 4,
            SortKey::Mean => 5,
            SortKey::Max => 6,
            SortKey::Fuel => 7,
            SortKey::Traps => 8,
            SortKey::Invocations => 13,
        }
    }
}

/// One extension, as two polls saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub app: String,
    /// A guard blocked its application.
    pub blocked: bool,
    pub id: u64,
    pub name: String,
    pub acceptance: i32,
    pub quarantined: bool,
    /// Why the daemon could not load it again (empty while it runs).
    pub error: String,
    /// Its counters since it was deployed (or since the daemon started).
    pub totals: Counters,
    /// What they grew by over the interval; `None` at the first poll.
    pub interval: Option<Counters>,
    /// It was not in the previous poll: deployed during the interval, its
    /// counters counted from zero.
    pub new: bool,
    /// Its counters went back, or the daemon's ticks did: the daemon
    /// restarted during the interval, and the counters are counted from
    /// zero (what ran since the restart).
    pub restarted: bool,
    /// Invocations per second over the interval.
    pub per_second: Option<f64>,
    /// Mean time per invocation over the interval, in nanoseconds, when the
    /// host accounts time.
    pub mean_ns: Option<f64>,
    /// Fuel used per invocation over the interval.
    pub fuel_per_invocation: Option<f64>,
}

impl Row {
    fn state(&self) -> &'static str {
        if !self.error.is_empty() {
            "error"
        } else if self.quarantined {
            "quarantined"
        } else if self.blocked {
            "blocked"
        } else {
            "active"
        }
    }

    fn state_rank(&self) -> u8 {
        match self.state() {
            "error" => 3,
            "quarantined" => 2,
            "blocked" => 1,
            _ => 0,
        }
    }

    /// The longest invocation since it was deployed (or the daemon
    /// started), when the host accounts time.
    fn max_ns(&self) -> Option<u64> {
        Some(self.totals.max_time_ns).filter(|&ns| ns > 0)
    }

    fn interval_aborts(&self) -> Option<u64> {
        self.interval.map(|c| c.aborts)
    }
}

/// The fields of `c`, in one order, for comparing and subtracting.
fn fields(c: &Counters) -> [u64; 9] {
    [
        c.invocations,
        c.aborts,
        c.exceptions,
        c.out_of_fuel,
        c.deadlines,
        c.host_aborts,
        c.fuel_used,
        c.events_raised,
        c.time_ns,
    ]
}

/// `after - before`, field by field (never below zero).
fn minus(after: &Counters, before: &Counters) -> Counters {
    let [a, b] = [fields(after), fields(before)];
    let d = |i: usize| a[i].saturating_sub(b[i]);
    Counters {
        invocations: d(0),
        aborts: d(1),
        exceptions: d(2),
        out_of_fuel: d(3),
        deadlines: d(4),
        host_aborts: d(5),
        fuel_used: d(6),
        events_raised: d(7),
        time_ns: d(8),
        // A maximum, not a sum: the longest so far.
        max_time_ns: after.max_time_ns,
    }
}

/// The rows of the extensions `after` lists, with what changed since
/// `before` (the previous poll, `elapsed` earlier; `None` at the first).
///
/// An extension is known by its id (the daemon never reuses one). One
/// `before` did not list counts from zero (`new`). If any of its counters
/// is below its value in `before`, or the daemon's ticks are, the daemon
/// restarted in between (its counters start afresh): it counts from zero
/// too (`restarted`), which is what ran since the restart, never a
/// difference below zero. Rates need an interval and an elapsed time above
/// zero; means need invocations in the interval (and, for time, a host that
/// accounts it).
pub fn rows(before: Option<&ListResponse>, after: &ListResponse, elapsed: Duration) -> Vec<Row> {
    let daemon_restarted = before.is_some_and(|b| after.ticks < b.ticks);
    let previous: HashMap<u64, Counters> = before
        .iter()
        .flat_map(|b| &b.applications)
        .flat_map(|a| &a.extensions)
        .map(|e| (e.id, e.counters.unwrap_or_default()))
        .collect();
    let seconds = elapsed.as_secs_f64();
    let mut out = Vec::new();
    for app in &after.applications {
        for ext in &app.extensions {
            let totals = ext.counters.unwrap_or_default();
            let (mut new, mut restarted) = (false, false);
            let interval = before.map(|_| match previous.get(&ext.id) {
                None => {
                    new = true;
                    totals
                }
                Some(prev) => {
                    let back = fields(&totals).iter().zip(fields(prev)).any(|(now, then)| *now < then);
                    if back || daemon_restarted {
                        restarted = true;
                        totals
                    } else {
                        minus(&totals, prev)
                    }
                }
            });
            let per_second = interval
                .filter(|_| seconds > 0.0)
                .map(|d| d.invocations as f64 / seconds);
            let per_invocation = |f: fn(&Counters) -> u64| {
                interval
                    .filter(|d| d.invocations > 0)
                    .map(|d| f(&d) as f64 / d.invocations as f64)
            };
            out.push(Row {
                app: app.name.clone(),
                blocked: app.blocked,
                id: ext.id,
                name: ext.name.clone(),
                acceptance: ext.acceptance,
                quarantined: ext.quarantined,
                error: ext.error.clone(),
                totals,
                interval,
                new,
                restarted,
                per_second,
                mean_ns: interval.and_then(|d| daemon::mean_ns(d.time_ns, d.invocations)),
                fuel_per_invocation: per_invocation(|d| d.fuel_used),
            });
        }
    }
    out
}

/// Sorts `rows` by `key` (numbers largest first, an unknown value last;
/// names in alphabetical order), then by application and id; `reverse`
/// turns the whole order round.
pub fn sort(rows: &mut [Row], key: SortKey, reverse: bool) {
    // Values are at least 0: -1 puts an unknown one last.
    let num = |v: Option<f64>| v.unwrap_or(-1.0);
    rows.sort_by(|a, b| {
        let primary = match key {
            SortKey::App => a.app.cmp(&b.app),
            SortKey::Id => a.id.cmp(&b.id),
            SortKey::Name => a.name.cmp(&b.name),
            SortKey::State => b.state_rank().cmp(&a.state_rank()),
            SortKey::Rate => num(b.per_second).total_cmp(&num(a.per_second)),
            SortKey::Mean => num(b.mean_ns).total_cmp(&num(a.mean_ns)),
            SortKey::Max => b.max_ns().cmp(&a.max_ns()),
            SortKey::Fuel => num(b.fuel_per_invocation).total_cmp(&num(a.fuel_per_invocation)),
            SortKey::Traps => (b.interval_aborts(), b.totals.aborts).cmp(&(a.interval_aborts(), a.totals.aborts)),
            SortKey::Invocations => b.totals.invocations.cmp(&a.totals.invocations),
        };
        let order = primary.then_with(|| (&a.app, a.id).cmp(&(&b.app, b.id)));
        if reverse { order.reverse() } else { order }
    });
}

pub fn row_json(r: &Row) -> Value {
    json!({
        "application": r.app,
        "blocked": r.blocked,
        "id": r.id,
        "name": r.name,
        "acceptance": daemon::acceptance_name(r.acceptance),
        "state": r.state(),
        "quarantined": r.quarantined,
        "error": r.error,
        "new": r.new,
        "restarted": r.restarted,
        "invocations_per_s": r.per_second,
        "mean_time_ns": r.mean_ns,
        "max_time_ns": r.max_ns(),
        "fuel_per_invocation": r.fuel_per_invocation,
        "interval": r.interval.as_ref().map(daemon::counters_json),
        "totals": daemon::counters_json(&r.totals),
    })
}

/// `top --json`'s snapshot: the rows of two polls `elapsed` apart, sorted.
pub fn snapshot_json(
    before: &ListResponse,
    after: &ListResponse,
    elapsed: Duration,
    interval_ms: u64,
    key: SortKey,
) -> Value {
    let mut all = rows(Some(before), after, elapsed);
    sort(&mut all, key, false);
    json!({
        "interval_ms": interval_ms,
        "elapsed_ns": u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
        "period_us": after.period_us,
        "ticks": after.ticks,
        "ticks_in_interval": after.ticks.checked_sub(before.ticks),
        "sort": key.name(),
        "extensions": all.iter().map(row_json).collect::<Vec<_>>(),
    })
}

/// `safexc top`.
pub fn top(out: &mut Out, args: TopArgs) -> Result<ExitCode, OutputError> {
    daemon::finish((|| {
        let interval = Duration::from_millis(args.interval_ms);
        if args.json {
            let client = daemon::connect(&args.socket)?;
            let before = client.list(None)?;
            let t0 = Instant::now();
            std::thread::sleep(interval);
            let after = client.list(None)?;
            let elapsed = t0.elapsed();
            let snapshot = snapshot_json(&before, &after, elapsed, args.interval_ms, args.sort);
            writeln!(out, "{snapshot}")?;
            return Ok(());
        }
        if !out.is_terminal() {
            return Err(Failed::Usage(
                "`safexc top` draws on a terminal, and standard output is not one: `safexc top --json` prints one \
                 snapshot"
                    .into(),
            ));
        }
        // The daemon is asked once before the terminal is taken, so that
        // nobody answering is the plain error `D0012`.
        let client = daemon::connect(&args.socket)?;
        let mut view = View::new(&args, interval);
        let mut poller = Poller {
            socket: args.socket.clone(),
            client: Some(client),
            last: None,
        };
        poller.poll(&mut view);
        let mut terminal = ratatui::try_init().map_err(|e| {
            ratatui::try_restore().ok();
            terminal_error(&e)
        })?;
        let run = live(&mut terminal, &mut view, &mut poller);
        let restored = ratatui::try_restore();
        run?;
        restored.map_err(|e| terminal_error(&e))
    })())
}

fn terminal_error(e: &std::io::Error) -> Failed {
    Failed::new("L0002", format!("cannot draw on the terminal: {e}"))
}

/// Polls the daemon, reconnecting after a failure.
struct Poller {
    socket: SocketArgs,
    client: Option<safex::BlockingClient>,
    /// The last answer, and when it came.
    last: Option<(Instant, ListResponse)>,
}

impl Poller {
    /// Lists, and updates the view with the rows since the last answer; a
    /// failure is shown in the view and the rows are kept.
    fn poll(&mut self, view: &mut View) {
        let answer = match &self.client {
            Some(client) => client.list(None),
            None => daemon::connect(&self.socket).and_then(|client| {
                let answer = client.list(None);
                self.client = Some(client);
                answer
            }),
        };
        match answer {
            Ok(list) => {
                let now = Instant::now();
                let before = self.last.as_ref();
                let elapsed = before.map_or(Duration::ZERO, |(at, _)| now.duration_since(*at));
                view.rows = rows(before.map(|(_, l)| l), &list, elapsed);
                view.ticks = list.ticks;
                view.period_us = list.period_us;
                view.error = None;
                view.sort_rows();
                self.last = Some((now, list));
            }
            Err(e) => {
                self.client = None;
                view.error = Some(e.to_string());
            }
        }
    }
}

/// The live view until `q`.
fn live(terminal: &mut ratatui::DefaultTerminal, view: &mut View, poller: &mut Poller) -> Result<(), Failed> {
    let io = |e: std::io::Error| terminal_error(&e);
    let mut next = Instant::now() + view.interval;
    loop {
        terminal.draw(|frame| view.draw(frame)).map_err(io)?;
        let wait = next.saturating_duration_since(Instant::now());
        if event::poll(wait).map_err(io)? {
            if let Event::Key(key) = event::read().map_err(io)?
                && key.kind != KeyEventKind::Release
            {
                let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c');
                if ctrl_c || view.key(key.code) == Flow::Quit {
                    return Ok(());
                }
            }
            // Resizes and other events: drawn again.
            continue;
        }
        poller.poll(view);
        let now = Instant::now();
        next += view.interval;
        if next <= now {
            // A poll slower than the interval: the next one an interval on.
            next = now + view.interval;
        }
    }
}

/// What a key asks.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Go,
    Quit,
}

/// What the terminal shows.
struct View {
    socket: String,
    interval: Duration,
    sort: SortKey,
    reverse: bool,
    rows: Vec<Row>,
    ticks: u64,
    period_us: u64,
    /// The last poll's failure, shown until a poll succeeds.
    error: Option<String>,
    table: TableState,
}

/// The table's columns: header and width.
const COLUMNS: [(&str, u16); 14] = [
    ("APP", 12),
    ("ID", 5),
    ("NAME", 16),
    ("STATE", 11),
    ("INV/S", 10),
    ("MEAN", 11),
    ("MAX", 11),
    ("FUEL/INV", 9),
    ("TRAPS", 9),
    ("EXC", 7),
    ("OOF", 7),
    ("DEADL", 7),
    ("HOST", 7),
    ("INVOCATIONS", 12),
];

impl View {
    fn new(args: &TopArgs, interval: Duration) -> View {
        View {
            socket: args.socket.socket.display().to_string(),
            interval,
            sort: args.sort,
            reverse: false,
            rows: Vec::new(),
            ticks: 0,
            period_us: 0,
            error: None,
            table: TableState::default(),
        }
    }

    fn sort_rows(&mut self) {
        sort(&mut self.rows, self.sort, self.reverse);
    }

    /// Handles a key: `q` or Esc quits, `s`/→/Tab and `S`/←/BackTab change
    /// the sort column, `r` reverses, ↑/↓ select a row.
    fn key(&mut self, code: KeyCode) -> Flow {
        match code {
            KeyCode::Char('q') | KeyCode::Esc => return Flow::Quit,
            KeyCode::Char('s') | KeyCode::Right | KeyCode::Tab => self.sort = self.sort.step(1),
            KeyCode::Char('S') | KeyCode::Left | KeyCode::BackTab => self.sort = self.sort.step(-1),
            KeyCode::Char('r') => self.reverse = !self.reverse,
            KeyCode::Down | KeyCode::Char('j') => self.table.select_next(),
            KeyCode::Up | KeyCode::Char('k') => self.table.select_previous(),
            _ => return Flow::Go,
        }
        self.sort_rows();
        Flow::Go
    }

    fn draw(&mut self, frame: &mut Frame) {
        let [head, help, body] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(1), Constraint::Fill(1)]).areas(frame.area());
        let title = format!(
            "safexc top  {}  period {}  ticks {}  every {} ms  {} extensions  sorted by {}{}",
            self.socket,
            duration(self.period_us as f64 * 1e3),
            self.ticks,
            self.interval.as_millis(),
            self.rows.len(),
            self.sort.name(),
            if self.reverse { " (reversed)" } else { "" }
        );
        frame.render_widget(
            Paragraph::new(title).style(Style::default().add_modifier(Modifier::BOLD)),
            head,
        );
        let help_line = match &self.error {
            Some(e) => Line::styled(
                format!("{e} (asking again every interval)"),
                Style::default().fg(Color::Red),
            ),
            None => Line::raw(
                "q quit  s/S next/previous sort column  r reverse  ↑/↓ select   traps: interval/total   OOF out of fuel, DEADL deadlines, HOST host aborts",
            ),
        };
        frame.render_widget(Paragraph::new(help_line), help);
        let sorted = self.sort.column();
        let header = TableRow::new(COLUMNS.iter().enumerate().map(|(i, (name, _))| {
            let style = Style::default().add_modifier(Modifier::BOLD);
            Cell::from(*name).style(if i == sorted {
                style.add_modifier(Modifier::REVERSED)
            } else {
                style
            })
        }));
        let table_rows = self.rows.iter().map(|r| {
            let style = match r.state() {
                "error" | "quarantined" => Style::default().fg(Color::Red),
                "blocked" => Style::default().fg(Color::Yellow),
                _ => Style::default(),
            };
            TableRow::new(cells(r)).style(style)
        });
        let table = Table::new(table_rows, COLUMNS.iter().map(|(_, w)| Constraint::Length(*w)))
            .header(header)
            .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
        frame.render_stateful_widget(table, body, &mut self.table);
    }
}

/// A row's cells, in [`COLUMNS`]' order; `-` for what is not known.
fn cells(r: &Row) -> Vec<String> {
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let trap = |f: fn(&Counters) -> u64| {
        let delta = r.interval.as_ref().map_or("-".into(), |d| f(d).to_string());
        format!("{delta}/{}", f(&r.totals))
    };
    vec![
        r.app.clone(),
        r.id.to_string(),
        r.name.clone(),
        r.state().into(),
        or_dash(r.per_second.map(|v| format!("{v:.1}"))),
        or_dash(r.mean_ns.map(duration)),
        or_dash(r.max_ns().map(|ns| duration(ns as f64))),
        or_dash(r.fuel_per_invocation.map(|v| format!("{v:.1}"))),
        trap(|c| c.aborts),
        trap(|c| c.exceptions),
        trap(|c| c.out_of_fuel),
        trap(|c| c.deadlines),
        trap(|c| c.host_aborts),
        r.totals.invocations.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use safex::proto::{Application, Extension};

    fn counters(invocations: u64, fuel_used: u64, time_ns: u64, aborts: u64) -> Counters {
        Counters {
            invocations,
            fuel_used,
            time_ns,
            aborts,
            exceptions: aborts,
            ..Counters::default()
        }
    }

    fn list(ticks: u64, exts: &[(&str, u64, Counters)]) -> ListResponse {
        let mut apps: Vec<Application> = Vec::new();
        for (app, id, c) in exts {
            let ext = Extension {
                id: *id,
                application: app.to_string(),
                name: format!("ext{id}"),
                counters: Some(*c),
                ..Extension::default()
            };
            match apps.iter_mut().find(|a| a.name == *app) {
                Some(a) => a.extensions.push(ext),
                None => apps.push(Application {
                    name: app.to_string(),
                    extensions: vec![ext],
                    ..Application::default()
                }),
            }
        }
        ListResponse {
            applications: apps,
            ticks,
            period_us: 10_000,
        }
    }

    #[test]
    fn rates_are_differences_over_the_elapsed_time() {
        let before = list(100, &[("a", 1, counters(1000, 50_000, 2_000_000, 1))]);
        let after = list(200, &[("a", 1, counters(1500, 75_000, 3_000_000, 3))]);
        let r = &rows(Some(&before), &after, Duration::from_millis(250))[0];
        assert_eq!(r.interval.map(|d| d.invocations), Some(500));
        assert_eq!(r.per_second, Some(2000.0));
        assert_eq!(r.mean_ns, Some(2000.0));
        assert_eq!(r.fuel_per_invocation, Some(50.0));
        assert_eq!(r.interval.map(|d| (d.aborts, d.exceptions)), Some((2, 2)));
        assert_eq!(r.totals.aborts, 3);
        assert!(!r.new && !r.restarted);
    }

    #[test]
    fn the_first_poll_has_totals_and_no_rates() {
        let after = list(5, &[("a", 1, counters(10, 100, 0, 0))]);
        let r = &rows(None, &after, Duration::ZERO)[0];
        assert_eq!(r.totals.invocations, 10);
        assert_eq!(
            (r.interval, r.per_second, r.mean_ns, r.fuel_per_invocation),
            (None, None, None, None)
        );
    }

    #[test]
    fn an_idle_interval_and_untimed_hosts_have_no_means() {
        let c = counters(10, 100, 0, 0);
        let (before, after) = (list(1, &[("a", 1, c)]), list(2, &[("a", 1, c)]));
        let r = &rows(Some(&before), &after, Duration::from_secs(1))[0];
        assert_eq!(r.per_second, Some(0.0));
        assert_eq!((r.mean_ns, r.fuel_per_invocation), (None, None));
        let after = list(2, &[("a", 1, counters(20, 200, 0, 0))]);
        let r = &rows(Some(&before), &after, Duration::from_secs(1))[0];
        assert_eq!(
            (r.mean_ns, r.fuel_per_invocation),
            (None, Some(10.0)),
            "time not accounted"
        );
        // No time elapsed: no rate, but the interval's counts.
        let r = &rows(Some(&before), &after, Duration::ZERO)[0];
        assert_eq!((r.per_second, r.interval.map(|d| d.invocations)), (None, Some(10)));
    }

    #[test]
    fn counters_going_back_are_a_restart_not_an_underflow() {
        let before = list(1000, &[("a", 1, counters(u64::MAX, u64::MAX, u64::MAX, 7))]);
        // The daemon restarted: ticks and counters start again.
        let after = list(3, &[("a", 1, counters(4, 40, 400, 0))]);
        let r = &rows(Some(&before), &after, Duration::from_secs(2))[0];
        assert!(r.restarted);
        assert_eq!(r.interval, Some(after.applications[0].extensions[0].counters.unwrap()));
        assert_eq!(r.per_second, Some(2.0));
        assert_eq!(r.mean_ns, Some(100.0));
        // One counter back while ticks went on (a restart that ran longer
        // than the daemon had before): a restart too.
        let before = list(10, &[("a", 1, counters(100, 1000, 0, 5))]);
        let after = list(20, &[("a", 1, counters(200, 2000, 0, 0))]);
        let r = &rows(Some(&before), &after, Duration::from_secs(1))[0];
        assert!(r.restarted);
        assert_eq!(r.interval.map(|d| (d.invocations, d.aborts)), Some((200, 0)));
        // Ticks back, counters not: a restart.
        let before = list(50, &[("a", 1, counters(1, 1, 1, 0))]);
        let after = list(40, &[("a", 1, counters(9, 9, 9, 0))]);
        assert!(rows(Some(&before), &after, Duration::from_secs(1))[0].restarted);
    }

    #[test]
    fn new_and_gone_extensions() {
        let before = list(1, &[("a", 1, counters(10, 0, 0, 0)), ("a", 2, counters(5, 0, 0, 0))]);
        let after = list(2, &[("a", 1, counters(20, 0, 0, 0)), ("b", 3, counters(7, 0, 0, 0))]);
        let all = rows(Some(&before), &after, Duration::from_secs(1));
        assert_eq!(
            all.iter().map(|r| (r.id, r.new)).collect::<Vec<_>>(),
            [(1, false), (3, true)]
        );
        assert_eq!(all[1].interval.map(|d| d.invocations), Some(7));
        assert_eq!(all[1].app, "b");
    }

    #[test]
    fn rows_sort_by_every_key_and_reverse() {
        let before = list(
            1,
            &[
                ("b", 1, counters(0, 0, 0, 0)),
                ("a", 2, counters(0, 0, 0, 0)),
                ("a", 3, counters(0, 0, 0, 0)),
            ],
        );
        let after = list(
            2,
            &[
                ("b", 1, counters(10, 100, 1000, 0)),
                ("a", 2, counters(30, 30, 30, 2)),
                ("a", 3, counters(0, 0, 0, 0)),
            ],
        );
        let mut all = rows(Some(&before), &after, Duration::from_secs(1));
        let ids = |rows: &[Row]| rows.iter().map(|r| r.id).collect::<Vec<_>>();
        sort(&mut all, SortKey::Rate, false);
        assert_eq!(ids(&all), [2, 1, 3]);
        sort(&mut all, SortKey::Rate, true);
        assert_eq!(ids(&all), [3, 1, 2]);
        sort(&mut all, SortKey::Mean, false);
        assert_eq!(ids(&all), [1, 2, 3], "unknown means last");
        sort(&mut all, SortKey::Fuel, false);
        assert_eq!(ids(&all), [1, 2, 3]);
        sort(&mut all, SortKey::Traps, false);
        assert_eq!(ids(&all), [2, 3, 1], "then by application and id");
        sort(&mut all, SortKey::App, false);
        assert_eq!(ids(&all), [2, 3, 1]);
        sort(&mut all, SortKey::Id, false);
        assert_eq!(ids(&all), [1, 2, 3]);
        all[2].quarantined = true;
        sort(&mut all, SortKey::State, false);
        assert_eq!(ids(&all), [3, 2, 1]);
        sort(&mut all, SortKey::Invocations, false);
        assert_eq!(ids(&all), [2, 1, 3]);
        for key in SortKey::ALL {
            assert_eq!(key.step(1).step(-1), key);
            assert_eq!(
                <SortKey as clap::ValueEnum>::from_str(key.name(), false),
                Ok(key),
                "--sort takes the name shown"
            );
        }
        assert_eq!(SortKey::Invocations.step(1), SortKey::App);
    }

    #[test]
    fn the_snapshot_carries_rates_and_both_counts() {
        let before = list(10, &[("a", 4, counters(100, 1000, 0, 1))]);
        let after = list(20, &[("a", 4, counters(300, 3000, 0, 1))]);
        let j = snapshot_json(&before, &after, Duration::from_millis(500), 500, SortKey::Rate);
        assert_eq!(j["ticks_in_interval"], 10);
        assert_eq!(j["elapsed_ns"], 500_000_000u64);
        assert_eq!(j["sort"], "rate");
        let e = &j["extensions"][0];
        assert_eq!(e["invocations_per_s"], 400.0);
        assert_eq!(e["fuel_per_invocation"], 10.0);
        assert_eq!(e["mean_time_ns"], Value::Null);
        assert_eq!(e["interval"]["invocations"], 200);
        assert_eq!(e["totals"]["aborts"], 1);
        assert_eq!(e["interval"]["aborts"], 0);
        assert_eq!(e["state"], "active");
        let restarted = snapshot_json(&after, &before, Duration::from_millis(500), 500, SortKey::Rate);
        assert_eq!(restarted["ticks_in_interval"], Value::Null);
        assert_eq!(restarted["extensions"][0]["restarted"], true);
    }

    fn view() -> View {
        View {
            socket: "/tmp/s.sock".into(),
            interval: Duration::from_secs(1),
            sort: SortKey::Rate,
            reverse: false,
            rows: Vec::new(),
            ticks: 0,
            period_us: 10_000,
            error: None,
            table: TableState::default(),
        }
    }

    fn screen(view: &mut View) -> String {
        let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 8)).unwrap();
        terminal.draw(|f| view.draw(f)).unwrap();
        let buffer = terminal.backend().buffer();
        let width = buffer.area.width as usize;
        let symbols: Vec<&str> = buffer.content().iter().map(|c| c.symbol()).collect();
        symbols.chunks(width).map(|l| l.concat()).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn the_view_draws_rows_and_keys_change_the_sort() {
        let before = list(
            1,
            &[("video", 1, counters(0, 0, 0, 0)), ("audio", 2, counters(0, 0, 0, 0))],
        );
        let after = list(
            101,
            &[
                ("video", 1, counters(100, 2500, 0, 0)),
                ("audio", 2, counters(50, 0, 0, 3)),
            ],
        );
        let mut v = view();
        v.rows = rows(Some(&before), &after, Duration::from_secs(1));
        v.ticks = 101;
        v.sort_rows();
        let text = screen(&mut v);
        assert!(text.contains("sorted by rate"), "{text}");
        for header in ["APP", "INV/S", "MEAN", "FUEL/INV", "TRAPS", "INVOCATIONS"] {
            assert!(text.contains(header), "{header}: {text}");
        }
        let video = text.lines().position(|l| l.starts_with("video")).expect(&text);
        let audio = text.lines().position(|l| l.starts_with("audio")).expect(&text);
        assert!(video < audio, "the higher rate first: {text}");
        assert!(
            text.contains("100.0") && text.contains("25.0") && text.contains("3/3"),
            "{text}"
        );
        assert_eq!(v.key(KeyCode::Char('s')), Flow::Go);
        assert_eq!(v.sort, SortKey::Mean);
        for _ in 0..4 {
            v.key(KeyCode::Char('S'));
        }
        assert_eq!(v.sort, SortKey::Id);
        v.key(KeyCode::Left);
        assert_eq!(v.sort, SortKey::App);
        let text = screen(&mut v);
        let video = text.lines().position(|l| l.starts_with("video")).expect(&text);
        let audio = text.lines().position(|l| l.starts_with("audio")).expect(&text);
        assert!(audio < video, "by application: {text}");
        v.key(KeyCode::Char('r'));
        assert!(screen(&mut v).contains("(reversed)"));
        v.error = Some("error[D0012]: cannot connect".into());
        assert!(screen(&mut v).contains("error[D0012]: cannot connect (asking again"));
        assert_eq!(v.key(KeyCode::Char('q')), Flow::Quit);
        assert_eq!(v.key(KeyCode::Esc), Flow::Quit);
    }
}
