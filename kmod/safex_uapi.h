/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * The /dev/safex interface between `safexc` and the SafeX loader module.
 * Every command needs CAP_SYS_ADMIN (and the device is mode 0600).
 *
 * Every argument struct starts with its own size (in: sizeof the struct);
 * the module refuses another size (EINVAL), non-zero reserved fields and
 * flags (EINVAL), an unreadable or unwritable argument (EFAULT), and
 * unknown commands (ENOTTY). Names are NUL-terminated within their
 * SAFEX_NAME_MAX bytes (EINVAL otherwise); names the module returns longer
 * than that are cut.
 *
 * GENERATED from stdlib/src/uapi.rs by stdlib/src/c_header.rs; do not
 * edit. Regenerate with `SAFEX_BLESS=1 cargo test -p stdlib c_header`.
 */
#ifndef SAFEX_UAPI_H
#define SAFEX_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>
#ifdef __KERNEL__
#include <linux/stddef.h>
#else
#include <stddef.h>
#endif

#define SAFEX_IOC_MAGIC 0x5au      /* The ioctl type of every command. */
#define SAFEX_UAPI_VERSION 2u      /* Changes with any change of this interface. */
#define SAFEX_NAME_MAX 64u         /* The bytes of a name, its NUL included. */
#define SAFEX_MAX_ENTRIES 16u      /* Entry points an extension may have in the kernel. */
#define SAFEX_MAX_OBJECT 16777216u /* The largest signed object, in bytes (16 MiB). */
#define SAFEX_SIG_MAGIC "SXSIG01"  /* And its NUL: 8 bytes. */

/* What a module speaks: its interface and extension ABI versions. */
struct safex_version {
	__u32 size;     /* in: sizeof(struct safex_version) */
	__u32 uapi;     /* out: SAFEX_UAPI_VERSION */
	__u32 abi;      /* out: the extension ABI (SAFEX_ABI_VERSION) */
	__u32 reserved; /* in: 0 */
};
#define SAFEX_IOC_VERSION _IOWR(SAFEX_IOC_MAGIC, 0, struct safex_version)

/*
 * A signed object in user memory: `safexc sign`'s output, the object's
 * bytes followed by an RSASSA-PKCS1-v1_5/SHA-256 signature over them,
 * its length (u32, little-endian) and the magic "SXSIG01\0".
 */
struct safex_object {
	__u32 size;     /* in: sizeof(struct safex_object) */
	__u32 reserved; /* in: 0 */
	__u64 data;     /* in: address of the signed object */
	__u64 len;      /* in: its length in bytes, at most SAFEX_MAX_OBJECT */
};

/*
 * Checks a signed object without loading it: 0 if it would be accepted.
 * First the signature, each case its own error: ENODATA, not signed or
 * a malformed signature trailer; EBADMSG, not a signature of the
 * module's key (another key's, or its bytes changed: the kernel's RSA
 * padding check); EKEYREJECTED, the key's signature of other bytes (the
 * object changed after signing: the digest comparison); ENOKEY, the
 * module was loaded without a key; E2BIG, larger than SAFEX_MAX_OBJECT.
 * Then, the signature good, the object itself (a key holder's mistake,
 * not an attack, but the module does not trust it to be of SafeX's
 * shape): ENOEXEC, not an x86-64 ELF relocatable object of SafeX's
 * sections, symbols and relocations with a well-formed .safex.meta;
 * EPROTO, built for another extension ABI; EACCES, built with --no-fuel
 * (no bound on its run time); E2BIG, more entry points, code or data
 * than the module takes.
 */
#define SAFEX_IOC_CHECK _IOW(SAFEX_IOC_MAGIC, 1, struct safex_object)

/*
 * Creates an application, or updates one: the task whose CPU its
 * extensions manage, its period and the CPU time promised per period
 * (the cpu_qos attributes period, target_cpu and target_util follow).
 * With a task, the module gives it a SCHED_DEADLINE reservation of
 * target_us per period_us (none for a target of 0), which the timeslice
 * guard's results then change; its periods begin now. ESRCH: no such
 * task; EINVAL: period outside [1 ms, 1 s] or a target outside [0,
 * period]; ENOSPC: SAFEX_MAX_APPS applications exist; EBUSY: Linux's
 * admission control for deadline tasks refused the reservation, EPERM:
 * the task may not run on every CPU (the task is not attached).
 */
struct safex_app {
	__u32 size;                /* in */
	__u32 flags;               /* in: 0 */
	char name[SAFEX_NAME_MAX]; /* in */
	__s32 pid;                 /* in: the task, or 0 for none */
	__u32 period_us;           /* in */
	__u64 target_us;           /* in */
	__u32 id;                  /* out: the application's id */
	__u32 reserved;            /* in: 0 */
};
#define SAFEX_MAX_APPS 64u /* Applications at most. */
#define SAFEX_IOC_APP _IOWR(SAFEX_IOC_MAGIC, 2, struct safex_app)

/*
 * Loads a signed object as an extension of application `app` (which must
 * exist: ENOENT). Every error of SAFEX_IOC_CHECK, then the application's
 * own checks: EPERM, an entry point asks for the guard right or is a
 * guard; ENOENT, the object declares an attribute class the module does
 * not have; EINVAL, its declaration differs from the module's; ENOSPC,
 * too many extensions. On success the extension runs from the next
 * service round.
 */
struct safex_load {
	__u32 size;               /* in */
	__u32 flags;              /* in: 0 or SAFEX_LOAD_GUARD */
	__u64 data;               /* in: the signed object */
	__u64 len;                /* in: its length */
	char app[SAFEX_NAME_MAX]; /* in */
	__u32 id;                 /* out: the extension's id */
	__u32 reserved;           /* in: 0 */
};
#define SAFEX_MAX_EXTENSIONS 256u /* Extensions at most, the system's guard included. */
/*
 * Flag: install the object as the system's guard (app ""): every entry
 * point a guard, holding every right; EEXIST if an attribute it guards
 * has a guard. The CPU service manager applies a task's reservation only
 * from the timeslice guard's results.
 */
#define SAFEX_LOAD_GUARD 1u
#define SAFEX_IOC_LOAD _IOWR(SAFEX_IOC_MAGIC, 3, struct safex_load)

/* Unloads extension `id` (ENOENT if none), freeing its code and data. */
struct safex_unload {
	__u32 size; /* in */
	__u32 id;   /* in */
};
#define SAFEX_IOC_UNLOAD _IOW(SAFEX_IOC_MAGIC, 4, struct safex_unload)

/* What an entry point is (safex_entry_info.kind). */
#define SAFEX_ENTRY_MONITOR 0u
#define SAFEX_ENTRY_HANDLER 1u
#define SAFEX_ENTRY_GUARD 2u

/* An entry point of a loaded extension. */
struct safex_entry_info {
	char name[SAFEX_NAME_MAX];
	char target[SAFEX_NAME_MAX]; /* a handler's event, a guard's class.attr */
	__u32 kind;                  /* SAFEX_ENTRY_* */
	__u32 reserved;
};

/* Whether an extension runs (safex_ext_info.state). */
#define SAFEX_STATE_ACTIVE 0u
#define SAFEX_STATE_QUARANTINED 1u

/* A loaded extension and its counters. */
struct safex_ext_info {
	__u32 id;
	__u32 state;              /* SAFEX_STATE_* */
	char name[SAFEX_NAME_MAX];
	char app[SAFEX_NAME_MAX]; /* "" for the system's guard */
	__u32 entries;            /* entry points; entry[0..entries) */
	__u32 reserved;
	__u64 invocations;        /* completed or trapped */
	__u64 aborts;             /* traps since loaded or released */
	__u64 deadlines;          /* stopped by the deadline timer */
	__u64 out_of_fuel;
	__u64 exceptions;         /* uncaught exceptions */
	__u64 host_aborts;        /* a helper ended the invocation */
	__u64 fuel_used;
	__u64 time_ns;            /* in invocations */
	__u64 events_raised;
	struct safex_entry_info entry[SAFEX_MAX_ENTRIES];
};

/*
 * Lists the loaded extensions, by increasing id, the system's timeslice
 * guard included: fills at most `count` records at `exts` and sets
 * `count` to the number loaded (call again with more room if it grew).
 */
struct safex_list {
	__u32 size;  /* in */
	__u32 count; /* in: room at exts; out: extensions loaded */
	__u64 exts;  /* in: address of `count` struct safex_ext_info */
};
#define SAFEX_IOC_LIST _IOWR(SAFEX_IOC_MAGIC, 5, struct safex_list)

/* What SAFEX_IOC_ATTR does (safex_attr.op). */
#define SAFEX_ATTR_READ 0u
#define SAFEX_ATTR_WRITE 1u

/*
 * Reads or writes (the system's write: read-only attributes too, no
 * guard; the range holds: ERANGE) an attribute of an application.
 * `attr` is `class.attr`, or an attribute name no other class has.
 * ENOENT: no such application or attribute.
 */
struct safex_attr {
	__u32 size;                /* in */
	__u32 op;                  /* in: SAFEX_ATTR_READ or _WRITE */
	char app[SAFEX_NAME_MAX];  /* in */
	char attr[SAFEX_NAME_MAX]; /* in */
	__s64 value;               /* in (write), out (read) */
};
#define SAFEX_IOC_ATTR _IOWR(SAFEX_IOC_MAGIC, 6, struct safex_attr)

/* What a record of the log is about (safex_log_record.kind). */
#define SAFEX_LOG_CHANGE 1u     /* an attribute write by an extension */
#define SAFEX_LOG_TRAP 2u       /* an invocation ended by a trap */
#define SAFEX_LOG_QUARANTINE 3u /* that trap quarantined the extension */
#define SAFEX_LOG_APPLIED 4u    /* a reservation applied to a task */

/* How an attribute write ended (safex_log_record.outcome of a CHANGE). */
#define SAFEX_CHANGE_WRITTEN 0u
#define SAFEX_CHANGE_BLOCKED 1u /* the guard blocked the application */
#define SAFEX_CHANGE_GUARD_TRAPPED 2u

/* One record of the change/trap log. */
struct safex_log_record {
	__u64 seq;       /* 0, 1, 2, ... since insmod */
	__u64 time_ns;   /* ktime_get_ns() */
	__u32 kind;      /* SAFEX_LOG_* */
	__u32 app;       /* application id */
	__u32 ext;       /* extension id (APPLIED: 0) */
	__u32 entry;     /* entry point index (APPLIED: 0) */
	__u32 class_id;  /* CHANGE: attribute class index */
	__u32 attr;      /* CHANGE: attribute index */
	__u32 status;    /* TRAP: SAFEX_STATUS_* (OUT_OF_FUEL also for a deadline) */
	__u32 outcome;   /* CHANGE: SAFEX_CHANGE_*; TRAP: 1 if the deadline stopped it */
	__s64 old_value; /* CHANGE: the value before */
	__s64 new_value; /* CHANGE: the value written; APPLIED: the runtime in us */
	__s64 applied;   /* CHANGE: the guard's result (WRITTEN with a guard) */
	__s64 trap_site; /* TRAP: func << 40 | block << 20 | inst, -1 without a site */
};

/*
 * Reads the log from sequence number `from`: fills at most `count`
 * records at `records`, sets `count` to the number filled, `next` to the
 * sequence number to ask for next, and `lost` to how many records from
 * `from` on were overwritten before this read (the log keeps the last
 * SAFEX_LOG_SIZE).
 */
struct safex_log {
	__u32 size;    /* in */
	__u32 count;   /* in: room; out: filled */
	__u64 from;    /* in */
	__u64 records; /* in: address of `count` struct safex_log_record */
	__u64 next;    /* out */
	__u64 lost;    /* out */
};
#define SAFEX_LOG_SIZE 4096u /* The log keeps the last this many records. */
#define SAFEX_IOC_LOG _IOWR(SAFEX_IOC_MAGIC, 7, struct safex_log)

/*
 * Invokes entry point `entry` of extension `id` `repeat` times for its
 * application (a monitor ignores `value`; a guard cannot be invoked:
 * EPERM), as the service manager would, and returns the last
 * invocation's result and the time all took. ENOENT: no such extension
 * or entry; ESHUTDOWN: quarantined; EINVAL: repeat outside [1, 10^6].
 */
struct safex_invoke {
	__u32 size;       /* in */
	__u32 id;         /* in */
	__u32 entry;      /* in */
	__u32 repeat;     /* in */
	__s64 value;      /* in */
	__s64 ret;        /* out: what the last invocation returned */
	__u32 status;     /* out: its SAFEX_STATUS_* */
	__u32 deadline;   /* out: 1 if the deadline timer stopped it */
	__u64 elapsed_ns; /* out: all invocations */
};
#define SAFEX_IOC_INVOKE _IOWR(SAFEX_IOC_MAGIC, 8, struct safex_invoke)

/*
 * Runs `rounds` service rounds now, in the caller's context, as the
 * periodic timer does (monitors, then handlers on their events, then the
 * guarded reservations applied), and returns the time they took.
 * EINVAL: rounds outside [1, 10^6].
 */
struct safex_round {
	__u32 size;       /* in */
	__u32 rounds;     /* in */
	__u64 elapsed_ns; /* out */
};
#define SAFEX_IOC_ROUND _IOWR(SAFEX_IOC_MAGIC, 9, struct safex_round)

/* Lets quarantined extension `id` run again, its abort count reset. */
#define SAFEX_IOC_RELEASE _IOW(SAFEX_IOC_MAGIC, 10, struct safex_unload)

/*
 * The CPU service manager's counters since insmod or the last reset:
 * its periodic rounds (not those of SAFEX_IOC_ROUND), the longest time
 * between the starts of two of them, and the reservations the scheduler
 * refused (EBUSY: Linux's admission control for deadline tasks).
 */
struct safex_stats {
	__u32 size;           /* in */
	__u32 flags;          /* in: 0 or SAFEX_STATS_RESET */
	__u64 period_us;      /* out: the rounds' period, us; 0 without periodic rounds (autorun=0) */
	__u64 rounds;         /* out */
	__u64 longest_gap_ns; /* out: 0 until two rounds ran */
	__u64 refused;        /* out */
	__u64 now_ns;         /* out: ktime_get_ns() when read */
};
#define SAFEX_STATS_RESET 1u /* Flag: the counters start again from 0 once read. */
#define SAFEX_IOC_STATS _IOWR(SAFEX_IOC_MAGIC, 11, struct safex_stats)

/* The layouts and command numbers safexc uses (stdlib/src/uapi.rs). */
_Static_assert(sizeof(struct safex_version) == 16, "sizeof(struct safex_version)");
_Static_assert(offsetof(struct safex_version, size) == 0, "safex_version.size");
_Static_assert(offsetof(struct safex_version, uapi) == 4, "safex_version.uapi");
_Static_assert(offsetof(struct safex_version, abi) == 8, "safex_version.abi");
_Static_assert(offsetof(struct safex_version, reserved) == 12, "safex_version.reserved");
_Static_assert(sizeof(struct safex_object) == 24, "sizeof(struct safex_object)");
_Static_assert(offsetof(struct safex_object, size) == 0, "safex_object.size");
_Static_assert(offsetof(struct safex_object, reserved) == 4, "safex_object.reserved");
_Static_assert(offsetof(struct safex_object, data) == 8, "safex_object.data");
_Static_assert(offsetof(struct safex_object, len) == 16, "safex_object.len");
_Static_assert(sizeof(struct safex_app) == 96, "sizeof(struct safex_app)");
_Static_assert(offsetof(struct safex_app, size) == 0, "safex_app.size");
_Static_assert(offsetof(struct safex_app, flags) == 4, "safex_app.flags");
_Static_assert(offsetof(struct safex_app, name) == 8, "safex_app.name");
_Static_assert(offsetof(struct safex_app, pid) == 72, "safex_app.pid");
_Static_assert(offsetof(struct safex_app, period_us) == 76, "safex_app.period_us");
_Static_assert(offsetof(struct safex_app, target_us) == 80, "safex_app.target_us");
_Static_assert(offsetof(struct safex_app, id) == 88, "safex_app.id");
_Static_assert(offsetof(struct safex_app, reserved) == 92, "safex_app.reserved");
_Static_assert(sizeof(struct safex_load) == 96, "sizeof(struct safex_load)");
_Static_assert(offsetof(struct safex_load, size) == 0, "safex_load.size");
_Static_assert(offsetof(struct safex_load, flags) == 4, "safex_load.flags");
_Static_assert(offsetof(struct safex_load, data) == 8, "safex_load.data");
_Static_assert(offsetof(struct safex_load, len) == 16, "safex_load.len");
_Static_assert(offsetof(struct safex_load, app) == 24, "safex_load.app");
_Static_assert(offsetof(struct safex_load, id) == 88, "safex_load.id");
_Static_assert(offsetof(struct safex_load, reserved) == 92, "safex_load.reserved");
_Static_assert(sizeof(struct safex_unload) == 8, "sizeof(struct safex_unload)");
_Static_assert(offsetof(struct safex_unload, size) == 0, "safex_unload.size");
_Static_assert(offsetof(struct safex_unload, id) == 4, "safex_unload.id");
_Static_assert(sizeof(struct safex_entry_info) == 136, "sizeof(struct safex_entry_info)");
_Static_assert(offsetof(struct safex_entry_info, name) == 0, "safex_entry_info.name");
_Static_assert(offsetof(struct safex_entry_info, target) == 64, "safex_entry_info.target");
_Static_assert(offsetof(struct safex_entry_info, kind) == 128, "safex_entry_info.kind");
_Static_assert(offsetof(struct safex_entry_info, reserved) == 132, "safex_entry_info.reserved");
_Static_assert(sizeof(struct safex_ext_info) == 2392, "sizeof(struct safex_ext_info)");
_Static_assert(offsetof(struct safex_ext_info, id) == 0, "safex_ext_info.id");
_Static_assert(offsetof(struct safex_ext_info, state) == 4, "safex_ext_info.state");
_Static_assert(offsetof(struct safex_ext_info, name) == 8, "safex_ext_info.name");
_Static_assert(offsetof(struct safex_ext_info, app) == 72, "safex_ext_info.app");
_Static_assert(offsetof(struct safex_ext_info, entries) == 136, "safex_ext_info.entries");
_Static_assert(offsetof(struct safex_ext_info, reserved) == 140, "safex_ext_info.reserved");
_Static_assert(offsetof(struct safex_ext_info, invocations) == 144, "safex_ext_info.invocations");
_Static_assert(offsetof(struct safex_ext_info, aborts) == 152, "safex_ext_info.aborts");
_Static_assert(offsetof(struct safex_ext_info, deadlines) == 160, "safex_ext_info.deadlines");
_Static_assert(offsetof(struct safex_ext_info, out_of_fuel) == 168, "safex_ext_info.out_of_fuel");
_Static_assert(offsetof(struct safex_ext_info, exceptions) == 176, "safex_ext_info.exceptions");
_Static_assert(offsetof(struct safex_ext_info, host_aborts) == 184, "safex_ext_info.host_aborts");
_Static_assert(offsetof(struct safex_ext_info, fuel_used) == 192, "safex_ext_info.fuel_used");
_Static_assert(offsetof(struct safex_ext_info, time_ns) == 200, "safex_ext_info.time_ns");
_Static_assert(offsetof(struct safex_ext_info, events_raised) == 208, "safex_ext_info.events_raised");
_Static_assert(offsetof(struct safex_ext_info, entry) == 216, "safex_ext_info.entry");
_Static_assert(sizeof(struct safex_list) == 16, "sizeof(struct safex_list)");
_Static_assert(offsetof(struct safex_list, size) == 0, "safex_list.size");
_Static_assert(offsetof(struct safex_list, count) == 4, "safex_list.count");
_Static_assert(offsetof(struct safex_list, exts) == 8, "safex_list.exts");
_Static_assert(sizeof(struct safex_attr) == 144, "sizeof(struct safex_attr)");
_Static_assert(offsetof(struct safex_attr, size) == 0, "safex_attr.size");
_Static_assert(offsetof(struct safex_attr, op) == 4, "safex_attr.op");
_Static_assert(offsetof(struct safex_attr, app) == 8, "safex_attr.app");
_Static_assert(offsetof(struct safex_attr, attr) == 72, "safex_attr.attr");
_Static_assert(offsetof(struct safex_attr, value) == 136, "safex_attr.value");
_Static_assert(sizeof(struct safex_log_record) == 80, "sizeof(struct safex_log_record)");
_Static_assert(offsetof(struct safex_log_record, seq) == 0, "safex_log_record.seq");
_Static_assert(offsetof(struct safex_log_record, time_ns) == 8, "safex_log_record.time_ns");
_Static_assert(offsetof(struct safex_log_record, kind) == 16, "safex_log_record.kind");
_Static_assert(offsetof(struct safex_log_record, app) == 20, "safex_log_record.app");
_Static_assert(offsetof(struct safex_log_record, ext) == 24, "safex_log_record.ext");
_Static_assert(offsetof(struct safex_log_record, entry) == 28, "safex_log_record.entry");
_Static_assert(offsetof(struct safex_log_record, class_id) == 32, "safex_log_record.class_id");
_Static_assert(offsetof(struct safex_log_record, attr) == 36, "safex_log_record.attr");
_Static_assert(offsetof(struct safex_log_record, status) == 40, "safex_log_record.status");
_Static_assert(offsetof(struct safex_log_record, outcome) == 44, "safex_log_record.outcome");
_Static_assert(offsetof(struct safex_log_record, old_value) == 48, "safex_log_record.old_value");
_Static_assert(offsetof(struct safex_log_record, new_value) == 56, "safex_log_record.new_value");
_Static_assert(offsetof(struct safex_log_record, applied) == 64, "safex_log_record.applied");
_Static_assert(offsetof(struct safex_log_record, trap_site) == 72, "safex_log_record.trap_site");
_Static_assert(sizeof(struct safex_log) == 40, "sizeof(struct safex_log)");
_Static_assert(offsetof(struct safex_log, size) == 0, "safex_log.size");
_Static_assert(offsetof(struct safex_log, count) == 4, "safex_log.count");
_Static_assert(offsetof(struct safex_log, from) == 8, "safex_log.from");
_Static_assert(offsetof(struct safex_log, records) == 16, "safex_log.records");
_Static_assert(offsetof(struct safex_log, next) == 24, "safex_log.next");
_Static_assert(offsetof(struct safex_log, lost) == 32, "safex_log.lost");
_Static_assert(sizeof(struct safex_invoke) == 48, "sizeof(struct safex_invoke)");
_Static_assert(offsetof(struct safex_invoke, size) == 0, "safex_invoke.size");
_Static_assert(offsetof(struct safex_invoke, id) == 4, "safex_invoke.id");
_Static_assert(offsetof(struct safex_invoke, entry) == 8, "safex_invoke.entry");
_Static_assert(offsetof(struct safex_invoke, repeat) == 12, "safex_invoke.repeat");
_Static_assert(offsetof(struct safex_invoke, value) == 16, "safex_invoke.value");
_Static_assert(offsetof(struct safex_invoke, ret) == 24, "safex_invoke.ret");
_Static_assert(offsetof(struct safex_invoke, status) == 32, "safex_invoke.status");
_Static_assert(offsetof(struct safex_invoke, deadline) == 36, "safex_invoke.deadline");
_Static_assert(offsetof(struct safex_invoke, elapsed_ns) == 40, "safex_invoke.elapsed_ns");
_Static_assert(sizeof(struct safex_round) == 16, "sizeof(struct safex_round)");
_Static_assert(offsetof(struct safex_round, size) == 0, "safex_round.size");
_Static_assert(offsetof(struct safex_round, rounds) == 4, "safex_round.rounds");
_Static_assert(offsetof(struct safex_round, elapsed_ns) == 8, "safex_round.elapsed_ns");
_Static_assert(sizeof(struct safex_stats) == 48, "sizeof(struct safex_stats)");
_Static_assert(offsetof(struct safex_stats, size) == 0, "safex_stats.size");
_Static_assert(offsetof(struct safex_stats, flags) == 4, "safex_stats.flags");
_Static_assert(offsetof(struct safex_stats, period_us) == 8, "safex_stats.period_us");
_Static_assert(offsetof(struct safex_stats, rounds) == 16, "safex_stats.rounds");
_Static_assert(offsetof(struct safex_stats, longest_gap_ns) == 24, "safex_stats.longest_gap_ns");
_Static_assert(offsetof(struct safex_stats, refused) == 32, "safex_stats.refused");
_Static_assert(offsetof(struct safex_stats, now_ns) == 40, "safex_stats.now_ns");
_Static_assert(SAFEX_IOC_VERSION == 0xc0105a00u, "SAFEX_IOC_VERSION");
_Static_assert(SAFEX_IOC_CHECK == 0x40185a01u, "SAFEX_IOC_CHECK");
_Static_assert(SAFEX_IOC_APP == 0xc0605a02u, "SAFEX_IOC_APP");
_Static_assert(SAFEX_IOC_LOAD == 0xc0605a03u, "SAFEX_IOC_LOAD");
_Static_assert(SAFEX_IOC_UNLOAD == 0x40085a04u, "SAFEX_IOC_UNLOAD");
_Static_assert(SAFEX_IOC_LIST == 0xc0105a05u, "SAFEX_IOC_LIST");
_Static_assert(SAFEX_IOC_ATTR == 0xc0905a06u, "SAFEX_IOC_ATTR");
_Static_assert(SAFEX_IOC_LOG == 0xc0285a07u, "SAFEX_IOC_LOG");
_Static_assert(SAFEX_IOC_INVOKE == 0xc0305a08u, "SAFEX_IOC_INVOKE");
_Static_assert(SAFEX_IOC_ROUND == 0xc0105a09u, "SAFEX_IOC_ROUND");
_Static_assert(SAFEX_IOC_RELEASE == 0x40085a0au, "SAFEX_IOC_RELEASE");
_Static_assert(SAFEX_IOC_STATS == 0xc0305a0bu, "SAFEX_IOC_STATS");

#endif /* SAFEX_UAPI_H */
