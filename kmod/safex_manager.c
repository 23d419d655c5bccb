// SPDX-License-Identifier: GPL-2.0
/*
 * Applications, extensions and the in-kernel CPU service manager.
 *
 * The service round (safex_round) is runtime::manager's tick: the
 * monitors of every application due (applications in creation order,
 * extensions in load order, entry points in object order), then the
 * events on each application's channel, first in first out, delivered to
 * its handlers, events raised by handlers included, up to
 * SAFEX_MAX_DELIVERIES handler runs a round (the rest are dropped and
 * counted).
 *
 * An application without a task is due every round (its attributes are
 * written from user space). One with a task is served once a period, as
 * the paper's manager serves a process: its periods are a grid from when
 * the task was attached, and at the first round after a period's end its
 * monitors see the measurements of the last period that ended, from the
 * scheduler's own accounting (the task's sum_exec_runtime): actual_cpu,
 * the CPU time in us the task received in it, and avg_util_2p, per mille
 * over it and the one before. (Running a controller tuned per period every
 * round, on a sliding window, winds it up many times over.) The
 * measurement is taken at the boundary itself, by a hard hrtimer of the
 * application's, not by the round, which can come late (below): a round
 * 47 ms late measured 80 ms for a period of a 40 ms reservation, because
 * the next period's 40 ms had begun, and a late round's scaling cannot
 * tell when in the period a reservation ran.
 *
 * After the handlers, the timeslice guard's result is applied to the
 * task: a SCHED_DEADLINE reservation of that many us per period
 * (sched_setattr_nocheck; at least SAFEX_MIN_RUNTIME_US, at most
 * SAFEX_MAX_SHARE percent of the period), the first of target_us when
 * the task is attached (an error then fails SAFEX_IOC_APP, the task not
 * attached). A task the guard blocks (over its target) is stopped
 * (SIGSTOP) until its next period begins (SIGCONT, from the boundary's
 * timer, so that a late round does not shift the task's periods), keeping
 * its reservation: giving it up would let another task's admission take
 * the bandwidth the blocked one needs back next period. A round that
 * comes after the next boundary already passed does not stop the task (the
 * period it would block has ended). A task gets SCHED_NORMAL back (and
 * SIGCONT if stopped) when it leaves the manager (another task registered
 * for its application, or rmmod), its bandwidth shed first
 * (shed_bandwidth: Linux would keep a sleeping task's for good).
 *
 * Who runs the rounds: a kthread woken every safex_period_ms by an
 * absolute hrtimer sleep. A kthread, not a softirq hrtimer, because
 * applying a reservation may sleep (the scheduler takes the cpuset lock),
 * and because an invocation may run for its whole deadline (1 ms by
 * default), which a softirq should not. The kthread runs at SCHED_FIFO
 * (sched_set_fifo), so the managed tasks' reservations, which Linux runs
 * before every real-time priority, can delay a round: with tasks holding
 * 95 % of a CPU, rounds came up to 740 ms apart in QEMU (SAFEX_IOC_STATS
 * reports the longest gap). It is not a SCHED_DEADLINE task of its own,
 * because a round's work has no bound below the invocations' deadlines:
 * a round over its runtime pushes a deadline task's deadline further
 * out, and a runaway extension's rounds pushed it out of reach.
 */
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/pid.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/version.h>
#include <uapi/linux/sched/types.h>

#include "safex_internal.h"

#define SAFEX_MIN_RUNTIME_US 100u
/*
 * The largest reservation, in percent of the period: below what Linux
 * admits for deadline tasks by default (95% of a CPU, less the fair
 * server's 5% since 6.12), so that a reservation the guard grants is not
 * refused (EBUSY) on an otherwise idle CPU.
 */
#define SAFEX_MAX_SHARE 85u

LIST_HEAD(safex_apps);
LIST_HEAD(safex_exts);
static u32 n_apps, n_exts, next_ext_id = 1;
static struct task_struct *manager;
/*
 * SAFEX_IOC_STATS's counters (under safex_lock): the periodic rounds, the
 * longest time between the starts of two, and the reservations refused.
 */
static u64 stat_rounds, stat_last_round_ns, stat_longest_gap_ns, stat_refused;

struct sx_app *safex_app_find(const char *name)
{
	struct sx_app *app;

	list_for_each_entry(app, &safex_apps, node)
		if (strcmp(app->name, name) == 0)
			return app;
	return NULL;
}

struct sx_ext *safex_ext_find(u32 id)
{
	struct sx_ext *ext;

	list_for_each_entry(ext, &safex_exts, node)
		if (ext->id == id)
			return ext;
	return NULL;
}

/*
 * Shrinks deadline task `task`'s reservation to one that Linux counts as no
 * bandwidth at all (the least runtime, 1024 ns, every longest period, 4 s:
 * under one part in 2^20), before it leaves SCHED_DEADLINE. Linux (6.1 and
 * 6.12, measured in the QEMU guest) gives a deadline task's bandwidth back
 * when it leaves the class only if it is queued or its inactive timer is
 * still armed: a task that has been asleep or stopped for longer than its
 * 0-lag time keeps its share in the root domain's total for good, and every
 * later admission finds that much less room (a disturbance detached while
 * it slept between bursts refused the next run's attach). A change of a
 * deadline task's parameters is always counted exactly, so the task leaves
 * holding nothing. If it wakes in between, the next call (at once) gives it
 * SCHED_NORMAL anyway.
 */
static void shed_bandwidth(struct task_struct *task)
{
	struct sched_attr attr = {
		.size = sizeof(attr),
		.sched_policy = SCHED_DEADLINE,
		.sched_runtime = 1ULL << 10,
		.sched_deadline = 4ULL * NSEC_PER_SEC,
		.sched_period = 4ULL * NSEC_PER_SEC,
	};

	if (task->policy == SCHED_DEADLINE)
		sched_setattr_nocheck(task, &attr);
}

/*
 * Gives `app`'s task a reservation of runtime_us per period (0: back to
 * SCHED_NORMAL); 0 or the scheduler's error (EBUSY: admission control).
 */
static int reserve(struct sx_app *app, u64 runtime_us)
{
	struct sched_attr attr = { .size = sizeof(attr) };
	int err;

	if (!app->task)
		return 0;
	if (runtime_us) {
		runtime_us = clamp_t(u64, runtime_us, SAFEX_MIN_RUNTIME_US, app->period_us / 100 * SAFEX_MAX_SHARE);
		attr.sched_policy = SCHED_DEADLINE;
		attr.sched_runtime = runtime_us * NSEC_PER_USEC;
		attr.sched_deadline = (u64)app->period_us * NSEC_PER_USEC;
		attr.sched_period = attr.sched_deadline;
	} else {
		attr.sched_policy = SCHED_NORMAL;
	}
	if (runtime_us == app->reservation_us)
		return 0;
	if (!runtime_us)
		shed_bandwidth(app->task);
	err = sched_setattr_nocheck(app->task, &attr);
	if (err) {
		stat_refused++;
		if (err != app->sched_error)
			pr_info("safex: cannot give %s's task %llu us per %u us: %d\n", app->name, runtime_us,
				app->period_us, err);
		app->sched_error = err;
		return err;
	}
	app->sched_error = 0;
	app->reservation_us = runtime_us;
	safex_log_applied(app, (s64)runtime_us);
	return 0;
}

/*
 * Stops `app`'s task until its next period, unless that period has begun
 * since the round's measurements (the boundary's timer continues it), or
 * continues it.
 */
static void stop_task(struct sx_app *app, bool stop)
{
	unsigned long flags;

	if (!app->task)
		return;
	spin_lock_irqsave(&app->clock_lock, flags);
	if (app->stopped != stop && (!stop || app->periods_ended == app->periods_seen)) {
		send_sig(stop ? SIGSTOP : SIGCONT, app->task, 1);
		app->stopped = stop;
	}
	spin_unlock_irqrestore(&app->clock_lock, flags);
}

/*
 * At the end of a period of `app`'s task (hard irq): what the task received
 * in it, the next period's start, and SIGCONT if the guard stopped it. A
 * timer late by whole periods shares the time out evenly.
 */
static enum hrtimer_restart period_ended(struct hrtimer *timer)
{
	struct sx_app *app = container_of(timer, struct sx_app, boundary);
	u64 runtime = READ_ONCE(app->task->se.sum_exec_runtime);
	u64 periods = hrtimer_forward_now(timer, ns_to_ktime((u64)app->period_us * NSEC_PER_USEC));

	spin_lock(&app->clock_lock);
	app->received_us[1] = app->received_us[0];
	app->received_us[0] = (s64)div64_u64(runtime - app->runtime_at_start, max_t(u64, periods, 1) * NSEC_PER_USEC);
	app->runtime_at_start = runtime;
	app->periods_ended++;
	if (app->stopped) {
		send_sig(SIGCONT, app->task, 1);
		app->stopped = false;
	}
	spin_unlock(&app->clock_lock);
	return HRTIMER_RESTART;
}

static void set_fixed_attributes(struct sx_app *app)
{
	app->values[SAFEX_ATTR_CPU_QOS_PERIOD] = app->period_us;
	app->values[SAFEX_ATTR_CPU_QOS_TARGET_CPU] = (s64)app->target_us;
	app->values[SAFEX_ATTR_CPU_QOS_TARGET_UTIL] = app->period_us ? (s64)(app->target_us * 1000 / app->period_us) : 0;
}

int safex_app_set(const char *name, pid_t pid, u32 period_us, u64 target_us, u32 *id)
{
	struct task_struct *task = NULL;
	struct sx_app *app;
	u32 a;

	if (period_us < 1000 || period_us > 1000000 || target_us > period_us)
		return -EINVAL;
	if (pid < 0)
		return -EINVAL;
	if (pid) {
		struct pid *p = find_get_pid(pid);

		task = p ? get_pid_task(p, PIDTYPE_PID) : NULL;
		put_pid(p);
		if (!task)
			return -ESRCH;
	}
	app = safex_app_find(name);
	if (!app) {
		if (n_apps == SAFEX_MAX_APPS) {
			if (task)
				put_task_struct(task);
			return -ENOSPC;
		}
		app = kzalloc(sizeof(*app), GFP_KERNEL);
		if (!app) {
			if (task)
				put_task_struct(task);
			return -ENOMEM;
		}
		strscpy(app->name, name, sizeof(app->name));
		app->id = n_apps++;
		INIT_LIST_HEAD(&app->exts);
		spin_lock_init(&app->clock_lock);
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
		hrtimer_setup(&app->boundary, period_ended, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_HARD);
#else
		hrtimer_init(&app->boundary, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_HARD);
		app->boundary.function = period_ended;
#endif
		/* Attributes start at 0, or at the low end of a range that excludes 0. */
		for (a = 0; a < SAFEX_ATTR_COUNT; a++)
			if ((safex_attrs[a].flags & SAFEX_ATTR_RANGE) && (safex_attrs[a].lo > 0 || safex_attrs[a].hi < 0))
				app->values[a] = safex_attrs[a].lo;
		list_add_tail(&app->node, &safex_apps);
	}
	if (app->task) {
		hrtimer_cancel(&app->boundary);
		if (app->task != task) {
			stop_task(app, false);
			reserve(app, 0);
		}
		put_task_struct(app->task);
	}
	app->task = task;
	app->period_us = period_us;
	app->target_us = target_us;
	app->runtime_at_start = task ? READ_ONCE(task->se.sum_exec_runtime) : 0;
	/* The period before the first: as promised. */
	app->received_us[0] = (s64)target_us;
	app->received_us[1] = (s64)target_us;
	app->periods_ended = 0;
	app->periods_seen = 0;
	app->stopped = false;
	app->reservation_us = 0;
	set_fixed_attributes(app);
	*id = app->id;
	if (!task)
		return 0;
	/* The promise as the first reservation; its periods begin now. */
	if (target_us) {
		int err = reserve(app, target_us);

		if (err) {
			app->task = NULL;
			put_task_struct(task);
			return err;
		}
	}
	hrtimer_start(&app->boundary, ktime_add_us(ktime_get(), period_us), HRTIMER_MODE_ABS_HARD);
	return 0;
}

int safex_ext_add(struct sx_ext *ext, const char *app_name, bool guard)
{
	struct sx_app *app = NULL;
	u32 i, k;
	int err;

	if (n_exts == SAFEX_MAX_EXTENSIONS)
		return -ENOSPC;
	if (guard) {
		ext->rights = 7;
		err = safex_guard_install(ext);
		if (err)
			return err;
	} else {
		app = safex_app_find(app_name);
		if (!app)
			return -ENOENT;
		ext->rights = 3;
		for (i = 0; i < ext->n_entries; i++)
			if (ext->entry[i].kind == SAFEX_ENTRY_GUARD || (ext->entry[i].rights & ~3u))
				return -EPERM;
		for (k = 0; k < ext->n_classes; k++)
			ext->rows[k] = app->values + safex_classes[ext->class_map[k]].first;
		ext->app = app;
		list_add_tail(&ext->app_node, &app->exts);
	}
	ext->id = next_ext_id++;
	n_exts++;
	list_add_tail(&ext->node, &safex_exts);
	return 0;
}

void safex_ext_remove(struct sx_ext *ext)
{
	if (ext->app)
		list_del(&ext->app_node);
	else
		safex_guard_remove(ext);
	list_del(&ext->node);
	n_exts--;
	safex_ext_free(ext);
}

void safex_raise(struct sx_app *app, u32 event, s64 value)
{
	u32 slot;

	if (app->q_len == SAFEX_EVENT_QUEUE) {
		app->dropped_events++;
		return;
	}
	slot = (app->q_head + app->q_len++) % SAFEX_EVENT_QUEUE;
	app->queue[slot].event = event;
	app->queue[slot].value = value;
}

/*
 * Whether `app` is due this round; for one with a task whose period ended,
 * sets actual_cpu and avg_util_2p from that period and begins the next
 * (continuing the task if the guard had stopped it).
 */
static bool due(struct sx_app *app)
{
	unsigned long flags;
	s64 last, before;

	if (!app->task)
		return true;
	spin_lock_irqsave(&app->clock_lock, flags);
	if (app->periods_seen == app->periods_ended) {
		spin_unlock_irqrestore(&app->clock_lock, flags);
		return false;
	}
	/* Periods the rounds missed are skipped. */
	app->periods_seen = app->periods_ended;
	last = app->received_us[0];
	before = app->received_us[1];
	spin_unlock_irqrestore(&app->clock_lock, flags);
	app->values[SAFEX_ATTR_CPU_QOS_ACTUAL_CPU] = last;
	app->values[SAFEX_ATTR_CPU_QOS_AVG_UTIL_2P] = (last + before) * 1000 / (2 * (s64)app->period_us);
	return true;
}

static void run_entries(struct sx_app *app, u32 kind, u32 event, s64 value, u32 *budget, u32 *ran)
{
	struct safex_outcome out;
	struct sx_ext *ext;
	u32 i;

	list_for_each_entry(ext, &app->exts, app_node) {
		for (i = 0; i < ext->n_entries; i++) {
			const struct sx_entry *e = &ext->entry[i];

			if (e->kind != kind || (kind == SAFEX_ENTRY_HANDLER && e->event != event) || ext->quarantined)
				continue;
			if (kind == SAFEX_ENTRY_HANDLER) {
				if (*budget == 0) {
					app->dropped_events++;
					continue;
				}
				(*budget)--;
			}
			(*ran)++;
			safex_invoke(ext, i, app, value, &out);
		}
	}
}

int safex_round(void)
{
	u32 budget = SAFEX_MAX_DELIVERIES, ran = 0;
	struct sx_app *app;

	lockdep_assert_held(&safex_lock);
	list_for_each_entry(app, &safex_apps, node)
		app->due = due(app);
	list_for_each_entry(app, &safex_apps, node)
		if (app->due)
			run_entries(app, SAFEX_ENTRY_MONITOR, 0, 0, &budget, &ran);
	list_for_each_entry(app, &safex_apps, node) {
		while (app->q_len) {
			u32 event = app->queue[app->q_head].event;
			s64 value = app->queue[app->q_head].value;

			app->q_head = (app->q_head + 1) % SAFEX_EVENT_QUEUE;
			app->q_len--;
			run_entries(app, SAFEX_ENTRY_HANDLER, event, value, &budget, &ran);
		}
	}
	list_for_each_entry(app, &safex_apps, node) {
		u32 ts = SAFEX_ATTR_CPU_QOS_TIMESLICE_ADJUSTMENT;

		if (app->blocked) {
			stop_task(app, true);
			app->blocked = false;
		} else if (app->has_applied[ts]) {
			reserve(app, app->applied[ts] > 0 ? (u64)app->applied[ts] : SAFEX_MIN_RUNTIME_US);
			app->has_applied[ts] = false;
		}
	}
	return ran;
}

static int manager_main(void *unused)
{
	ktime_t next = ktime_get();

	sched_set_fifo(current);
	while (!kthread_should_stop()) {
		u64 now;

		mutex_lock(&safex_lock);
		now = ktime_get_ns();
		if (stat_last_round_ns && now - stat_last_round_ns > stat_longest_gap_ns)
			stat_longest_gap_ns = now - stat_last_round_ns;
		stat_rounds++;
		stat_last_round_ns = now;
		safex_round();
		mutex_unlock(&safex_lock);
		next = ktime_add_ms(next, safex_period_ms);
		if (ktime_before(next, ktime_get()))
			next = ktime_get();
		set_current_state(TASK_INTERRUPTIBLE);
		if (!kthread_should_stop())
			schedule_hrtimeout(&next, HRTIMER_MODE_ABS);
		__set_current_state(TASK_RUNNING);
	}
	return 0;
}

void safex_stats(struct safex_stats *out, bool reset)
{
	lockdep_assert_held(&safex_lock);
	out->period_us = manager ? (u64)safex_period_ms * USEC_PER_MSEC : 0;
	out->rounds = stat_rounds;
	out->longest_gap_ns = stat_longest_gap_ns;
	out->refused = stat_refused;
	out->now_ns = ktime_get_ns();
	if (reset) {
		/* The gap to the next round still counts from the last one. */
		stat_rounds = 0;
		stat_longest_gap_ns = 0;
		stat_refused = 0;
	}
}

int safex_manager_init(bool autorun)
{
	if (!autorun)
		return 0;
	manager = kthread_run(manager_main, NULL, "safex");
	if (IS_ERR(manager)) {
		int err = PTR_ERR(manager);

		manager = NULL;
		return err;
	}
	return 0;
}

/* Stops the rounds, unloads everything, and gives the tasks back to SCHED_NORMAL. */
void safex_manager_exit(void)
{
	struct sx_ext *ext, *e2;
	struct sx_app *app, *a2;

	if (manager)
		kthread_stop(manager);
	manager = NULL;
	mutex_lock(&safex_lock);
	list_for_each_entry_safe(ext, e2, &safex_exts, node)
		safex_ext_remove(ext);
	list_for_each_entry_safe(app, a2, &safex_apps, node) {
		hrtimer_cancel(&app->boundary);
		stop_task(app, false);
		reserve(app, 0);
		if (app->task)
			put_task_struct(app->task);
		list_del(&app->node);
		kfree(app);
	}
	n_apps = 0;
	mutex_unlock(&safex_lock);
}
