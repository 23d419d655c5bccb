/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The SafeX module's own structures, shared by its files:
 *
 *   safex_main.c     /dev/safex, its commands, the signing key, init/exit
 *   safex_object.c   a signed object's ELF and .safex.meta, read and
 *                    relocated into an image; the code mapped W^X
 *   safex_exec.c     invocations: context, helpers, fuel, the deadline
 *                    timer, counters, quarantine, the change/trap log
 *   safex_manager.c  applications, the service round, the CPU service
 *                    manager's kthread and the tasks' reservations
 *
 * Locking: one mutex, safex_lock, guards every application, extension,
 * the log and the frames, and is held across every invocation (from a
 * command or the service round): invocations never run concurrently, so
 * an extension's data region, the attribute values and the frames need no
 * other lock. Nothing else writes a frame: the deadline is enforced by
 * refuel, on the invoking thread.
 */
#ifndef SAFEX_INTERNAL_H
#define SAFEX_INTERNAL_H

#include <linux/hrtimer.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "safex_abi.h"
#include "safex_uapi.h"

/* Limits of what the module loads (E2BIG past them). */
#define SAFEX_MAX_TEXT (1u << 20)
#define SAFEX_MAX_DATA_CELLS (1u << 16)
#define SAFEX_MAX_MODULE_CLASSES 8u
#define SAFEX_MAX_MODULE_EVENTS 64u
#define SAFEX_MAX_FUNCTIONS 65536u
/* Distinct event names the module interns (ENOSPC past it). */
#define SAFEX_MAX_EVENTS 256u
/* Events an application's channel holds; more are dropped and counted. */
#define SAFEX_EVENT_QUEUE 256u
/* Handler invocations one service round may make. */
#define SAFEX_MAX_DELIVERIES 4096u

extern struct mutex safex_lock;
extern unsigned int safex_period_ms, safex_deadline_us, safex_quarantine_after;
extern unsigned long safex_default_fuel, safex_max_fuel;

/* An entry point of an extension. */
struct sx_entry {
	char name[SAFEX_NAME_MAX];
	/* A handler's event name; a guard's "class.attr". */
	char target[SAFEX_NAME_MAX];
	u32 kind;        /* SAFEX_ENTRY_* */
	u32 func;        /* its function index */
	u64 entry_fuel;  /* charged by the host before each call (ABI 4) */
	u32 rights;      /* of its capability: bit 0 r, 1 w, 2 g */
	u32 host_class;  /* the host class of its capability (its handle is this + 1) */
	u32 event;       /* a handler's host event */
	u32 attr;        /* a guard's host attribute (flat index) */
	safex_entry_fn code;
};

/* Executable code: pages written through their direct map, mapped RX once. */
struct sx_code {
	struct page **pages;
	unsigned int npages;
	void *exec;
};

struct sx_app;

struct sx_counters {
	u64 invocations, aborts, deadlines, out_of_fuel, exceptions, host_aborts;
	u64 fuel_used, time_ns, events_raised;
};

/* A loaded extension: an application's, or the system's guard (app NULL). */
struct sx_ext {
	u32 id;
	char name[SAFEX_NAME_MAX];
	struct sx_app *app;
	struct list_head node;      /* safex_exts, by id */
	struct list_head app_node;  /* app->exts, in load order */
	struct sx_code code;
	u64 fuel;                   /* per invocation */
	u32 rights;                 /* rw for an application's, rwg for the guard */
	u32 n_entries;
	struct sx_entry entry[SAFEX_MAX_ENTRIES];
	u32 n_classes;
	u32 class_map[SAFEX_MAX_MODULE_CLASSES]; /* host class of each module class */
	u32 n_events;
	u32 event_map[SAFEX_MAX_MODULE_EVENTS];  /* host event of each module event */
	/* ctx.attrs: each module class's row of the application invoked for. */
	const s64 *rows[SAFEX_MAX_MODULE_CLASSES];
	s64 *data;
	u64 data_cells;
	struct sx_counters counters;
	bool quarantined;
};

/* An application: attribute values, event channel, extensions, task. */
struct sx_app {
	u32 id;
	char name[SAFEX_NAME_MAX];
	struct list_head node;      /* safex_apps, in creation order */
	struct list_head exts;      /* its extensions, in load order */
	s64 values[SAFEX_ATTR_COUNT];
	/* The guard's last result per attribute, and whether there is one. */
	s64 applied[SAFEX_ATTR_COUNT];
	bool has_applied[SAFEX_ATTR_COUNT];
	bool blocked;
	struct { u32 event; s64 value; } queue[SAFEX_EVENT_QUEUE];
	u32 q_head, q_len;
	u64 dropped_events;
	/* The task whose CPU the extensions manage (NULL: none). */
	struct task_struct *task;
	u32 period_us;
	u64 target_us;
	/*
	 * The task's periods, kept by `boundary`, a hard hrtimer at each
	 * period's end (armed while there is a task), under `clock_lock`:
	 * the task's runtime (ns) when the current period began, the CPU time
	 * (us) it received in the last two periods ([0] the last), how many
	 * periods have ended and how many of those a round has seen, and
	 * whether the guard's SIGSTOP holds it until the next boundary.
	 */
	struct hrtimer boundary;
	spinlock_t clock_lock;
	u64 runtime_at_start;
	s64 received_us[2];
	u64 periods_ended, periods_seen;
	bool stopped;
	bool due;      /* its monitors run this round */
	/* The reservation given to the task, in us (0: none yet). */
	u64 reservation_us;
	int sched_error;
};

/* safex_object.c */
int safex_object_load(const u8 *obj, size_t len, struct sx_ext **out);
void safex_ext_free(struct sx_ext *ext);

/* safex_exec.c */
struct safex_outcome {
	s64 ret;
	u64 status;
	bool deadline;  /* stopped at its deadline */
	u64 elapsed_ns;
};
int safex_exec_init(void);
void safex_exec_exit(void);
void safex_invoke(struct sx_ext *ext, u32 entry, struct sx_app *app, s64 value, struct safex_outcome *out);
int safex_guard_install(struct sx_ext *guard);
void safex_guard_remove(struct sx_ext *guard);
void safex_log_applied(struct sx_app *app, s64 runtime_us);
int safex_log_read(struct safex_log *req, struct safex_log_record *out);
u32 safex_event_intern(const char *name, size_t len);

/* safex_manager.c */
extern struct list_head safex_apps, safex_exts;
int safex_manager_init(bool autorun);
void safex_manager_exit(void);
struct sx_app *safex_app_find(const char *name);
int safex_app_set(const char *name, pid_t pid, u32 period_us, u64 target_us, u32 *id);
struct sx_ext *safex_ext_find(u32 id);
int safex_ext_add(struct sx_ext *ext, const char *app, bool guard);
void safex_ext_remove(struct sx_ext *ext);
void safex_raise(struct sx_app *app, u32 event, s64 value);
int safex_round(void);
void safex_stats(struct safex_stats *out, bool reset);

#endif /* SAFEX_INTERNAL_H */
