//! A discrete-event simulation of a uniprocessor scheduler with Linux's
//! real-time policies, in integer microseconds.
//!
//! The model (`sched(7)`):
//!
//! - Priorities 1–99, higher first. Each priority has a list of the tasks
//!   that can run; the task at the head of the highest non-empty list runs.
//! - A task that becomes runnable joins the tail of its list. A running
//!   task preempted by a higher-priority one stays at the head of its own,
//!   so it resumes first (and, under SCHED_RR, with what was left of its
//!   quantum).
//! - SCHED_FIFO runs a task until it blocks, is stopped or is preempted.
//!   SCHED_RR does the same but, when the task has run for a quantum
//!   (`Config::quantum`), moves it to the tail of its list with a new one.
//! - A task can run when it wants the CPU (its behavior), is not stopped
//!   (SIGSTOP, until SIGCONT) and is not throttled (a budget exhausted,
//!   until a given time).
//! - A task with a [`Budget`] gets at most its runtime in each window. A
//!   budget of the deadline class (SCHED_DEADLINE's reservations) also
//!   takes the task out of the priorities: deadline tasks run before every
//!   real-time task, the one whose window ends first first (EDF; ties to
//!   the task added first).
//!
//! Invariants: `lists` holds exactly the real-time tasks that can run, each
//! once, in the list of its priority (a deadline task is in none); time only moves forward; every decision
//! depends only on the tasks and the time, so a run is reproducible.
//! `advance` stops at every point where the caller acts (its deadline, or
//! a job of a `notify` task completing), so management that depends on the
//! schedule (a user-level manager's reads and signals) happens in it.

use std::collections::VecDeque;

/// Time, in microseconds.
pub type Us = u64;
/// A task: its index in the order the tasks were added.
pub type TaskId = usize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Fifo,
    Rr,
}

/// When a task wants the CPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// Always (a hardloop, an encoder that is never done).
    Hog,
    /// `work` µs of CPU released every `period` from `phase` on; between
    /// a job's completion and the next release it sleeps. A job not done at
    /// the next release continues, and releases missed meanwhile are
    /// skipped (like a loop that sleeps until the next period boundary).
    Periodic { period: Us, work: Us, phase: Us },
    /// During these intervals `[start, end)`, sorted and disjoint, in wall
    /// time whether or not it gets the CPU; asleep between them.
    Bursts(Vec<(Us, Us)>),
}

#[derive(Clone, Debug)]
pub struct TaskSpec {
    pub name: String,
    pub policy: Policy,
    /// 1 to 99.
    pub priority: u8,
    pub behavior: Behavior,
    /// `advance` returns when a job of this task completes.
    pub notify: bool,
}

/// The scheduler's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// SCHED_RR's quantum.
    pub quantum: Us,
}

impl Default for Config {
    /// Linux's default SCHED_RR quantum is 100 ms.
    fn default() -> Config {
        Config { quantum: 100_000 }
    }
}

/// Why `advance` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The time asked for was reached.
    Reached,
    /// A job of this `notify` task has just completed.
    JobDone(TaskId),
}

#[derive(Debug)]
struct Task {
    spec: TaskSpec,
    /// CPU time received.
    runtime: Us,
    /// `Periodic`: work left in the current job (0: asleep until `release`).
    left: Us,
    /// `Periodic`: the next release.
    release: Us,
    /// `Bursts`: the first burst that has not ended.
    burst: usize,
    stopped: bool,
    throttled_until: Option<Us>,
    /// `Rr`: what is left of its quantum.
    quantum_left: Us,
    budget: Option<Budget>,
    /// CPU time used in the budget's current window, and the window's start.
    used: Us,
    window: Us,
}

/// A CPU reservation the scheduler enforces itself (as a kernel does):
/// at most `runtime` µs in each window `[phase + k·period, phase +
/// (k+1)·period)`; a task that has used it cannot run until the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub period: Us,
    pub phase: Us,
    pub runtime: Us,
    /// SCHED_DEADLINE: the task runs in the deadline class, before every
    /// real-time task, earliest window end first. Otherwise it keeps its
    /// priority and the budget only caps it.
    pub deadline: bool,
}

/// The share of the CPU Linux lets deadline tasks reserve by default, per
/// million: 950,000 µs of every 1,000,000 (`sched_rt_runtime_us`).
pub const DEADLINE_BANDWIDTH_PPM: u64 = 950_000;

impl Budget {
    /// Its share of the CPU, per million, rounded down (as Linux's
    /// `to_ratio`).
    fn bandwidth_ppm(&self) -> u64 {
        self.runtime.saturating_mul(1_000_000) / self.period.max(1)
    }

    /// The start of the window holding `now`.
    fn window(&self, now: Us) -> Us {
        let period = self.period.max(1);
        self.phase + now.saturating_sub(self.phase) / period * period
    }
}

impl Task {
    fn wants_cpu(&self, now: Us) -> bool {
        match &self.spec.behavior {
            Behavior::Hog => true,
            Behavior::Periodic { .. } => self.left > 0,
            Behavior::Bursts(bursts) => bursts.get(self.burst).is_some_and(|&(start, _)| start <= now),
        }
    }

    fn can_run(&self, now: Us) -> bool {
        self.wants_cpu(now) && !self.stopped && self.throttled_until.is_none() && self.budget_left() > 0
    }

    fn in_deadline_class(&self) -> bool {
        self.budget.is_some_and(|b| b.deadline)
    }

    /// The end of its budget's current window (its deadline).
    fn window_end(&self) -> Us {
        self.budget.map_or(Us::MAX, |b| self.window + b.period.max(1))
    }

    /// What is left of its budget in the current window (all: no budget).
    fn budget_left(&self) -> Us {
        self.budget.map_or(Us::MAX, |b| b.runtime.saturating_sub(self.used))
    }

    /// The next time its wish or throttle changes without it running.
    fn next_change(&self, now: Us) -> Option<Us> {
        let behavior = match &self.spec.behavior {
            Behavior::Hog => None,
            Behavior::Periodic { .. } => (self.left == 0).then_some(self.release),
            Behavior::Bursts(bursts) => bursts
                .get(self.burst)
                .map(|&(start, end)| if start > now { start } else { end }),
        };
        let refill = self.budget.map(|b| self.window + b.period.max(1));
        [behavior, self.throttled_until, refill].into_iter().flatten().min()
    }
}

/// The simulated CPU and its tasks.
#[derive(Debug)]
pub struct Sim {
    config: Config,
    now: Us,
    tasks: Vec<Task>,
    /// Per priority, the tasks that can run, the running one at the head.
    lists: Vec<VecDeque<TaskId>>,
    /// Time the CPU spent in the kernel (`kernel`), running no task.
    kernel_time: Us,
}

impl Sim {
    pub fn new(config: Config) -> Sim {
        Sim {
            config,
            now: 0,
            tasks: Vec::new(),
            lists: vec![VecDeque::new(); 100],
            kernel_time: 0,
        }
    }

    /// Adds a task (priority clamped to 1–99).
    pub fn add(&mut self, mut spec: TaskSpec) -> TaskId {
        spec.priority = spec.priority.clamp(1, 99);
        let (left, release) = match spec.behavior {
            Behavior::Periodic { phase, .. } => (0, phase),
            _ => (0, 0),
        };
        self.tasks.push(Task {
            spec,
            runtime: 0,
            left,
            release,
            burst: 0,
            stopped: false,
            throttled_until: None,
            quantum_left: self.config.quantum,
            budget: None,
            used: 0,
            window: 0,
        });
        let id = self.tasks.len() - 1;
        self.update(id);
        id
    }

    pub fn now(&self) -> Us {
        self.now
    }

    /// CPU time `task` has received.
    pub fn runtime(&self, task: TaskId) -> Us {
        self.tasks[task].runtime
    }

    pub fn name(&self, task: TaskId) -> &str {
        &self.tasks[task].spec.name
    }

    pub fn priority(&self, task: TaskId) -> u8 {
        self.tasks[task].spec.priority
    }

    /// Time the CPU spent in the kernel on the caller's behalf.
    pub fn kernel_time(&self) -> Us {
        self.kernel_time
    }

    pub fn is_stopped(&self, task: TaskId) -> bool {
        self.tasks[task].stopped
    }

    /// The task that has the CPU now, if any.
    pub fn running(&self) -> Option<TaskId> {
        let earliest_deadline = (0..self.tasks.len())
            .filter(|&id| self.tasks[id].in_deadline_class() && self.tasks[id].can_run(self.now))
            .min_by_key(|&id| (self.tasks[id].window_end(), id));
        earliest_deadline.or_else(|| self.lists.iter().rev().find_map(|l| l.front().copied()))
    }

    /// SIGSTOP: `task` cannot run until `cont`.
    pub fn stop(&mut self, task: TaskId) {
        self.tasks[task].stopped = true;
        self.update(task);
    }

    /// SIGCONT.
    pub fn cont(&mut self, task: TaskId) {
        self.tasks[task].stopped = false;
        self.update(task);
    }

    /// `task` cannot run before `until` (a budget exhausted); a later call
    /// replaces an earlier one, and `until <= now` lifts it.
    pub fn throttle(&mut self, task: TaskId, until: Us) {
        self.tasks[task].throttled_until = (until > self.now).then_some(until);
        self.update(task);
    }

    /// Gives `task` a reservation from now on (`None`: none). A new
    /// `runtime` counts what the task used in the current window already.
    ///
    /// A deadline reservation is admitted only while all of them together,
    /// this one in place of the task's old one, stay within
    /// [`DEADLINE_BANDWIDTH_PPM`] of the CPU — Linux's admission control,
    /// where `sched_setattr` fails with `EBUSY`. A refused one changes
    /// nothing and returns false.
    pub fn set_budget(&mut self, task: TaskId, budget: Option<Budget>) -> bool {
        if let Some(b) = budget
            && b.deadline
        {
            let others: u64 = (0..self.tasks.len())
                .filter(|&id| id != task)
                .filter_map(|id| self.tasks[id].budget.filter(|o| o.deadline))
                .map(|o| o.bandwidth_ppm())
                .sum();
            if others + b.bandwidth_ppm() > DEADLINE_BANDWIDTH_PPM {
                return false;
            }
        }
        let t = &mut self.tasks[task];
        if let Some(b) = budget
            && t.budget
                .is_none_or(|old| old.period != b.period || old.phase != b.phase)
        {
            t.window = b.window(self.now);
            t.used = 0;
        }
        t.budget = budget;
        self.update(task);
        true
    }

    /// `task`'s reservation, and what it used of it in the current window.
    pub fn budget(&self, task: TaskId) -> Option<(Budget, Us)> {
        let t = &self.tasks[task];
        t.budget.map(|b| (b, t.used))
    }

    /// The CPU runs kernel code for `cost`: no task progresses meanwhile.
    pub fn kernel(&mut self, cost: Us) {
        self.kernel_time += cost;
        self.now += cost;
        self.update_all();
    }

    /// The running `task` keeps the CPU for `cost` more, at once (a cost of
    /// microseconds, during which a waking task would have waited anyway).
    pub fn charge(&mut self, task: TaskId, cost: Us) {
        self.tasks[task].runtime += cost;
        self.now += cost;
        self.update_all();
    }

    /// Runs the schedule until `until`, or until a job of a `notify` task
    /// completes (then `now` is that moment).
    pub fn advance(&mut self, until: Us) -> Stop {
        loop {
            if self.now >= until {
                return Stop::Reached;
            }
            let running = self.running();
            let mut next = self
                .tasks
                .iter()
                .filter_map(|t| t.next_change(self.now))
                .fold(until, Us::min);
            if let Some(id) = running {
                let t = &self.tasks[id];
                if let Behavior::Periodic { .. } = t.spec.behavior {
                    next = next.min(self.now + t.left);
                }
                if t.spec.policy == Policy::Rr && !t.in_deadline_class() {
                    next = next.min(self.now + t.quantum_left);
                }
                if t.budget.is_some() {
                    next = next.min(self.now + t.budget_left());
                }
            }
            let ran = next - self.now;
            self.now = next;
            let mut done = None;
            if let Some(id) = running {
                let quantum = self.config.quantum;
                let t = &mut self.tasks[id];
                t.runtime += ran;
                t.used += ran;
                if let Behavior::Periodic { period, phase, .. } = t.spec.behavior {
                    t.left -= ran;
                    if t.left == 0 {
                        // The next release after now, on the period's grid.
                        let period = period.max(1);
                        let since = self.now.saturating_sub(phase);
                        t.release = phase + (since / period + 1) * period;
                        if t.spec.notify {
                            done = Some(id);
                        }
                    }
                }
                if t.spec.policy == Policy::Rr && !t.in_deadline_class() {
                    t.quantum_left -= ran;
                    if t.quantum_left == 0 {
                        t.quantum_left = quantum;
                        let list = &mut self.lists[usize::from(t.spec.priority)];
                        if list.front() == Some(&id) {
                            list.rotate_left(1);
                        }
                    }
                }
            }
            self.update_all();
            if let Some(id) = done {
                return Stop::JobDone(id);
            }
        }
    }

    fn update_all(&mut self) {
        for id in 0..self.tasks.len() {
            self.update(id);
        }
    }

    /// Brings `task`'s state up to `now` (releases, bursts, throttles) and
    /// its place in the lists up to whether it can run.
    fn update(&mut self, id: TaskId) {
        let now = self.now;
        let t = &mut self.tasks[id];
        if t.throttled_until.is_some_and(|until| until <= now) {
            t.throttled_until = None;
        }
        if let Some(b) = t.budget
            && b.window(now) != t.window
        {
            t.window = b.window(now);
            t.used = 0;
        }
        match &t.spec.behavior {
            Behavior::Periodic { work, .. } => {
                if t.left == 0 && t.release <= now {
                    t.left = (*work).max(1);
                }
            }
            Behavior::Bursts(bursts) => {
                while bursts.get(t.burst).is_some_and(|&(_, end)| end <= now) {
                    t.burst += 1;
                }
            }
            Behavior::Hog => {}
        }
        let can_run = t.can_run(now) && !t.in_deadline_class();
        let list = &mut self.lists[usize::from(t.spec.priority)];
        let position = list.iter().position(|&x| x == id);
        match (can_run, position) {
            (true, None) => list.push_back(id),
            (false, Some(i)) => {
                list.remove(i);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, policy: Policy, priority: u8, behavior: Behavior) -> TaskSpec {
        TaskSpec {
            name: name.into(),
            policy,
            priority,
            behavior,
            notify: false,
        }
    }

    fn sim(quantum: Us) -> Sim {
        Sim::new(Config { quantum })
    }

    #[test]
    fn fifo_runs_the_first_of_equal_priority_forever() {
        let mut s = sim(100_000);
        let a = s.add(task("a", Policy::Fifo, 10, Behavior::Hog));
        let b = s.add(task("b", Policy::Fifo, 10, Behavior::Hog));
        assert_eq!(s.advance(1_000_000), Stop::Reached);
        assert_eq!((s.runtime(a), s.runtime(b)), (1_000_000, 0));
    }

    #[test]
    fn rr_shares_equal_priority_by_quanta() {
        let mut s = sim(100_000);
        let a = s.add(task("a", Policy::Rr, 10, Behavior::Hog));
        let b = s.add(task("b", Policy::Rr, 10, Behavior::Hog));
        s.advance(150_000);
        assert_eq!((s.runtime(a), s.runtime(b)), (100_000, 50_000));
        s.advance(1_000_000);
        assert_eq!((s.runtime(a), s.runtime(b)), (500_000, 500_000));
        // A lower priority never runs while they do.
        let low = s.add(task("low", Policy::Rr, 5, Behavior::Hog));
        s.advance(2_000_000);
        assert_eq!(s.runtime(low), 0);
    }

    #[test]
    fn a_higher_priority_job_preempts_and_the_preempted_resumes_first() {
        // a, b: FIFO 10 hogs; h: FIFO 20, 2 ms every 10 ms from 5 ms.
        let mut s = sim(100_000);
        let a = s.add(task("a", Policy::Fifo, 10, Behavior::Hog));
        let b = s.add(task("b", Policy::Fifo, 10, Behavior::Hog));
        let h = s.add(task(
            "h",
            Policy::Fifo,
            20,
            Behavior::Periodic {
                period: 10_000,
                work: 2_000,
                phase: 5_000,
            },
        ));
        s.advance(5_000);
        assert_eq!(s.running(), Some(h));
        s.advance(7_000);
        assert_eq!(s.running(), Some(a), "a was preempted at the head of its list");
        s.advance(100_000);
        // h's jobs at 5, 15, …, 95 ms: ten of 2 ms.
        assert_eq!((s.runtime(a), s.runtime(b), s.runtime(h)), (80_000, 0, 20_000));
    }

    #[test]
    fn a_preempted_rr_task_finishes_its_quantum_first() {
        // a, b: RR 10, quantum 100 ms; h: 10 ms at 50 ms, once (period 1 s).
        let mut s = sim(100_000);
        let a = s.add(task("a", Policy::Rr, 10, Behavior::Hog));
        let b = s.add(task("b", Policy::Rr, 10, Behavior::Hog));
        let h = s.add(task(
            "h",
            Policy::Fifo,
            20,
            Behavior::Periodic {
                period: 1_000_000,
                work: 10_000,
                phase: 50_000,
            },
        ));
        // a 0–50, h 50–60, a 60–110 (the rest of its quantum), b 110–210.
        s.advance(110_000);
        assert_eq!((s.runtime(a), s.runtime(b), s.runtime(h)), (100_000, 0, 10_000));
        s.advance(210_000);
        assert_eq!((s.runtime(a), s.runtime(b)), (100_000, 100_000));
        assert_eq!(s.running(), Some(a));
    }

    #[test]
    fn a_woken_task_joins_the_tail_of_its_list() {
        // a runs; b wakes at 10 ms with the same priority: FIFO keeps a.
        let mut s = sim(100_000);
        let a = s.add(task("a", Policy::Fifo, 10, Behavior::Bursts(vec![(0, 30_000)])));
        let b = s.add(task("b", Policy::Fifo, 10, Behavior::Bursts(vec![(10_000, 50_000)])));
        s.advance(30_000);
        assert_eq!((s.runtime(a), s.runtime(b)), (30_000, 0));
        // a's burst is over: b runs until its burst ends in wall time.
        s.advance(100_000);
        assert_eq!((s.runtime(a), s.runtime(b)), (30_000, 20_000));
        assert_eq!(s.running(), None);
    }

    #[test]
    fn stopped_and_throttled_tasks_do_not_run_and_the_kernel_takes_time() {
        let mut s = sim(100_000);
        let a = s.add(task("a", Policy::Fifo, 10, Behavior::Hog));
        let b = s.add(task("b", Policy::Fifo, 5, Behavior::Hog));
        s.advance(10_000);
        s.stop(a);
        s.advance(20_000);
        assert_eq!((s.runtime(a), s.runtime(b)), (10_000, 10_000));
        s.cont(a);
        s.throttle(a, 25_000);
        s.advance(30_000);
        assert_eq!((s.runtime(a), s.runtime(b)), (15_000, 15_000));
        s.kernel(1_000);
        assert_eq!((s.now(), s.kernel_time()), (31_000, 1_000));
        s.advance(40_000);
        assert_eq!((s.runtime(a), s.runtime(b)), (24_000, 15_000));
    }

    #[test]
    fn a_budget_is_enforced_per_window_and_can_change_within_one() {
        // a: FIFO 20 hog with 3 ms every 10 ms; b: FIFO 10 hog gets the rest.
        let mut s = sim(100_000);
        let a = s.add(task("a", Policy::Fifo, 20, Behavior::Hog));
        let b = s.add(task("b", Policy::Fifo, 10, Behavior::Hog));
        let budget = Budget {
            period: 10_000,
            phase: 0,
            runtime: 3_000,
            deadline: false,
        };
        s.set_budget(a, Some(budget));
        s.advance(25_000);
        // a: 0–3, 10–13, 20–23 ms.
        assert_eq!((s.runtime(a), s.runtime(b)), (9_000, 16_000));
        assert_eq!(s.budget(a), Some((budget, 3_000)));
        // Raised mid-window: the 2 ms more run at once.
        s.set_budget(
            a,
            Some(Budget {
                runtime: 5_000,
                ..budget
            }),
        );
        s.advance(30_000);
        assert_eq!((s.runtime(a), s.runtime(b)), (11_000, 19_000));
        // A budget of 0 blocks it; none lets it run freely.
        s.set_budget(a, Some(Budget { runtime: 0, ..budget }));
        s.advance(40_000);
        assert_eq!(s.runtime(a), 11_000);
        s.set_budget(a, None);
        s.advance(50_000);
        assert_eq!((s.runtime(a), s.runtime(b)), (21_000, 29_000));
    }

    #[test]
    fn deadline_reservations_run_before_every_priority_earliest_deadline_first() {
        // x: FIFO 99 hog; d1: 2 ms every 5 ms; d2: 4 ms every 10 ms.
        // 0–2 d1 (deadline 5 before 10), 2–5 d2; at 5 d1's new window ends
        // at 10 like d2's and d1 was added first: 5–7 d1, 7–8 d2 (its 4th
        // ms), 8–10 x. The same from 10 on.
        let mut s = sim(100_000);
        let x = s.add(task("x", Policy::Fifo, 99, Behavior::Hog));
        let d1 = s.add(task("d1", Policy::Rr, 1, Behavior::Hog));
        let d2 = s.add(task("d2", Policy::Fifo, 50, Behavior::Hog));
        for (d, period, runtime) in [(d1, 5_000, 2_000), (d2, 10_000, 4_000)] {
            let deadline = Budget {
                period,
                phase: 0,
                runtime,
                deadline: true,
            };
            s.set_budget(d, Some(deadline));
        }
        s.advance(2_000);
        assert_eq!(s.running(), Some(d2));
        s.advance(5_000);
        assert_eq!((s.running(), s.runtime(d2)), (Some(d1), 3_000));
        s.advance(8_000);
        assert_eq!((s.running(), s.runtime(d1), s.runtime(d2)), (Some(x), 4_000, 4_000));
        s.advance(20_000);
        assert_eq!((s.runtime(x), s.runtime(d1), s.runtime(d2)), (4_000, 8_000, 8_000));
        // Admission: 40 % + 55 % is 95 %, admitted; 40 % + 56 % is not,
        // and the task keeps what it had.
        let wide = |runtime| Budget {
            period: 10_000,
            phase: 0,
            runtime,
            deadline: true,
        };
        assert!(!s.set_budget(d2, Some(wide(5_600))));
        assert_eq!(s.budget(d2).map(|(b, _)| b.runtime), Some(4_000));
        assert!(s.set_budget(d2, Some(wide(5_500))));
        assert!(s.set_budget(d2, Some(wide(4_000))));
        // Back to its priority without a reservation: d2 at 50 under x.
        s.set_budget(d2, None);
        s.set_budget(d1, None);
        s.advance(30_000);
        assert_eq!((s.runtime(x), s.runtime(d1), s.runtime(d2)), (14_000, 8_000, 8_000));
    }

    #[test]
    fn a_notify_task_returns_at_each_completed_job_and_skips_missed_releases() {
        // m: 1 ms every 10 ms at priority 50, beside a priority-60 hog that
        // runs 0–25 ms: m's releases at 0, 10 and 20 ms collapse into one
        // job, done at 26 ms; the next at 30 ms.
        let mut s = sim(100_000);
        let m = s.add(TaskSpec {
            notify: true,
            ..task(
                "m",
                Policy::Fifo,
                50,
                Behavior::Periodic {
                    period: 10_000,
                    work: 1_000,
                    phase: 0,
                },
            )
        });
        s.add(task("hog", Policy::Fifo, 60, Behavior::Bursts(vec![(0, 25_000)])));
        assert_eq!(s.advance(100_000), Stop::JobDone(m));
        assert_eq!(s.now(), 26_000);
        s.charge(m, 500);
        assert_eq!(s.runtime(m), 1_500);
        assert_eq!(s.advance(100_000), Stop::JobDone(m));
        assert_eq!(s.now(), 31_000);
    }
}
