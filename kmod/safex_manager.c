// SPDX-License-Identifier: GPL-2.0
/*
 * Applications, extensions and the in-kernel CPU service manager.
 *
 * The service round (safex_round) is runtime::manager's tick: every
 * application's monitors (applications in creation order, extensions in
 * load order, entry points in object order), then the events on each
 * application's channel, first in first out, delivered to its handlers,
 * events raised by handlers included, up to SAFEX_MAX_DELIVERIES handler
 * runs a round (the rest are dropped and counted). Before the monitors,
 * each application with a task gets fresh cpu_qos measurements from the
 * scheduler's own accounting (the task's sum_exec_runtime): actual_cpu,
 * the CPU time in us the task received over the last period (measured
 * over the samples this module keeps, scaled while it has fewer than a
 * period of them; kept as they were until the task's second sample), and
 * avg_util_2p, per mille over the last two periods.
 * After the handlers, the timeslice guard's result is applied to the
 * task: a SCHED_DEADLINE reservation of that many us per period
 * (sched_setattr_nocheck; at least SAFEX_MIN_RUNTIME_US, at most
 * SAFEX_MAX_SHARE percent of the period); an application the
 * guard blocked gets the minimum for the round. A task keeps its own
 * policy until the guard's first result, and gets SCHED_NORMAL back when
 * it leaves the manager (another task registered for its application, or
 * rmmod).
 *
 * Who runs the rounds: a kthread at SCHED_FIFO priority (sched_set_fifo),
 * woken every safex_period_ms by an absolute hrtimer sleep. A kthread,
 * not a softirq hrtimer, because applying a reservation may sleep (the
 * scheduler takes the cpuset lock), and because an invocation may run
 * for its whole deadline (1 ms by default), which a softirq should not.
 * A SCHED_DEADLINE task still preempts it: the managed tasks' reservations
 * are the contract, the manager runs in what they leave.
 */
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/pid.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/string.h>
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

/* Gives `app`'s task a reservation of runtime_us per period (0: back to SCHED_NORMAL). */
static void reserve(struct sx_app *app, u64 runtime_us)
{
	struct sched_attr attr = { .size = sizeof(attr) };
	int err;

	if (!app->task)
		return;
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
		return;
	err = sched_setattr_nocheck(app->task, &attr);
	if (err) {
		stat_refused++;
		if (err != app->sched_error)
			pr_info("safex: cannot give %s's task %llu us per %u us: %d\n", app->name, runtime_us,
				app->period_us, err);
		app->sched_error = err;
		return;
	}
	app->sched_error = 0;
	app->reservation_us = runtime_us;
	safex_log_applied(app, (s64)runtime_us);
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
		/* Attributes start at 0, or at the low end of a range that excludes 0. */
		for (a = 0; a < SAFEX_ATTR_COUNT; a++)
			if ((safex_attrs[a].flags & SAFEX_ATTR_RANGE) && (safex_attrs[a].lo > 0 || safex_attrs[a].hi < 0))
				app->values[a] = safex_attrs[a].lo;
		list_add_tail(&app->node, &safex_apps);
	}
	if (app->task) {
		if (app->task != task)
			reserve(app, 0);
		put_task_struct(app->task);
	}
	app->task = task;
	app->period_us = period_us;
	app->target_us = target_us;
	app->sample_len = 0;
	app->reservation_us = 0;
	set_fixed_attributes(app);
	*id = app->id;
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
 * The task's CPU time, in us, over the last window_ns: from the newest
 * sample at least that old, scaled to the window; from the oldest there
 * is while the samples span less.
 */
static s64 cpu_over(const struct sx_app *app, u64 now, u64 runtime, u64 window_ns)
{
	u32 back, i = 0;

	for (back = 1; back < app->sample_len; back++) {
		i = (app->sample_head + SAFEX_SAMPLES - 1 - back) % SAFEX_SAMPLES;
		if (now - app->samples[i].at >= window_ns)
			break;
	}
	if (app->sample_len < 2 || now == app->samples[i].at)
		return 0;
	return (s64)div64_u64((runtime - app->samples[i].runtime) * (window_ns / NSEC_PER_USEC),
			      now - app->samples[i].at);
}

/* Samples the task's CPU time and sets actual_cpu and avg_util_2p. */
static void measure(struct sx_app *app, u64 now)
{
	u64 runtime, period_ns = (u64)app->period_us * NSEC_PER_USEC;

	if (!app->task)
		return;
	runtime = READ_ONCE(app->task->se.sum_exec_runtime);
	app->samples[app->sample_head].at = now;
	app->samples[app->sample_head].runtime = runtime;
	app->sample_head = (app->sample_head + 1) % SAFEX_SAMPLES;
	if (app->sample_len < SAFEX_SAMPLES)
		app->sample_len++;
	/* One sample measures nothing: the attributes keep their values until two. */
	if (app->sample_len < 2)
		return;
	app->values[SAFEX_ATTR_CPU_QOS_ACTUAL_CPU] = cpu_over(app, now, runtime, period_ns);
	app->values[SAFEX_ATTR_CPU_QOS_AVG_UTIL_2P] =
		cpu_over(app, now, runtime, 2 * period_ns) * 1000 / (2 * (s64)app->period_us);
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
	u64 now = ktime_get_ns();
	struct sx_app *app;

	lockdep_assert_held(&safex_lock);
	list_for_each_entry(app, &safex_apps, node)
		measure(app, now);
	list_for_each_entry(app, &safex_apps, node)
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
			reserve(app, SAFEX_MIN_RUNTIME_US);
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
		reserve(app, 0);
		if (app->task)
			put_task_struct(app->task);
		list_del(&app->node);
		kfree(app);
	}
	n_apps = 0;
	mutex_unlock(&safex_lock);
}
