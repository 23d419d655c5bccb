/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * The SafeX extension ABI, version 7: what compiled extensions, the
 * user-space host and the kernel module agree on.
 *
 * GENERATED from stdlib/src/abi.rs and stdlib/src/lib.rs by
 * stdlib/src/c_header.rs; do not edit. Regenerate with
 * `SAFEX_BLESS=1 cargo test -p stdlib c_header`.
 */
#ifndef SAFEX_ABI_H
#define SAFEX_ABI_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/stddef.h>
#else
#include <stddef.h>
#include <stdint.h>
typedef int32_t s32;
typedef uint32_t u32;
typedef int64_t s64;
typedef uint64_t u64;
#endif

/* Loaders refuse objects of any other version (.safex.meta, offset 8). */
#define SAFEX_ABI_VERSION 7u

/*
 * Frames an invocation may use: its own and a guard's. A guard that
 * writes a guarded attribute ends its invocation (HOST_ABORT).
 */
#define SAFEX_FRAMES 2u

/* ctx->status: how an invocation ended. 0: it returned normally. */
#define SAFEX_STATUS_OK 0u
#define SAFEX_STATUS_DIVIDE_BY_ZERO 1u
#define SAFEX_STATUS_OUT_OF_BOUNDS 2u
#define SAFEX_STATUS_OVERFLOW 3u
#define SAFEX_STATUS_RANGE_ERROR 4u
#define SAFEX_STATUS_NULL_CAPABILITY 5u
#define SAFEX_STATUS_OUT_OF_FUEL 6u
#define SAFEX_STATUS_HOST_ABORT 7u

/* ctx->trap_inst of a trap at a block's terminator. */
#define SAFEX_TRAP_AT_TERMINATOR 0xffffffffu

struct safex_ctx;

/*
 * A helper: slot `id` of ctx->helpers. Unused arguments are 0; an
 * attribute immediate #class.attr is passed as (class << 32 | attr). A
 * helper that must end the invocation sets ctx->status to
 * SAFEX_STATUS_HOST_ABORT and returns 0; once set, helpers return 0
 * without acting.
 */
typedef s64 (*safex_helper_fn)(struct safex_ctx *ctx, s64 a0, s64 a1, s64 a2);

/*
 * What a fuel check that leaves ctx->fuel negative calls. It stores a
 * counter >= 0 in ctx->fuel to let the code run on, or leaves it
 * negative to end the invocation there with SAFEX_STATUS_OUT_OF_FUEL,
 * and writes nothing else of the context. Compiled code calls it with
 * every register preserved (Cranelift's preserve_all): define it
 * with SAFEX_REFUEL_ATTRS.
 */
#define SAFEX_REFUEL_ATTRS __attribute__((no_caller_saved_registers))
typedef void (*safex_refuel_fn)(struct safex_ctx *ctx);

/* Helper ids: slots of ctx->helpers. */
#define SAFEX_HELPER_GET_ATTRIBUTE 0u /* compiled to loads from ctx->attrs: never called */
#define SAFEX_HELPER_SET_ATTRIBUTE 1u
#define SAFEX_HELPER_RAISE_EVENT 2u
#define SAFEX_HELPER_NOW_US 3u
#define SAFEX_HELPER_BLOCK 4u
#define SAFEX_HELPER_TRACE 5u
#define SAFEX_HELPER_COUNT 6u

/*
 * The context compiled code is called with. The host stores fuel >= 0
 * and status SAFEX_STATUS_OK before a call, and writes fuel while the
 * code runs only in refuel, whose answer is how it ends an invocation
 * early (a deadline): refuel is called within a slice of the fuel the
 * host hands out plus 1024 units (the verifier's V0409). attrs points to one row per attribute class the module
 * declares: the invoking application's values, one s64 per attribute in
 * declaration order (a bool as 0/1), written with single aligned 8-byte
 * stores.
 */
struct safex_ctx {
	s64 fuel;
	u64 status;
	u32 trap_func;
	u32 trap_block;
	u32 trap_inst;
	const safex_helper_fn *helpers;
	s64 *data;
	const s64 *const *attrs;
	safex_refuel_fn refuel;
};

_Static_assert(offsetof(struct safex_ctx, fuel) == 0, "safex_ctx.fuel");
_Static_assert(offsetof(struct safex_ctx, status) == 8, "safex_ctx.status");
_Static_assert(offsetof(struct safex_ctx, trap_func) == 16, "safex_ctx.trap_func");
_Static_assert(offsetof(struct safex_ctx, trap_block) == 20, "safex_ctx.trap_block");
_Static_assert(offsetof(struct safex_ctx, trap_inst) == 24, "safex_ctx.trap_inst");
_Static_assert(offsetof(struct safex_ctx, helpers) == 32, "safex_ctx.helpers");
_Static_assert(offsetof(struct safex_ctx, data) == 40, "safex_ctx.data");
_Static_assert(offsetof(struct safex_ctx, attrs) == 48, "safex_ctx.attrs");
_Static_assert(offsetof(struct safex_ctx, refuel) == 56, "safex_ctx.refuel");
_Static_assert(sizeof(struct safex_ctx) == 64, "sizeof(struct safex_ctx)");

/*
 * What every compiled function returns, in rax and rdx (the SysV return
 * of a 16-byte struct of two integers): its value, and its status (0
 * unless it trapped; after a helper's abort it may be 0 while
 * ctx->status is SAFEX_STATUS_HOST_ABORT: read the context).
 */
struct safex_returned {
	s64 value;
	u64 status;
};

/*
 * An entry point: a monitor (cap), a handler (cap, value) or a guard
 * (cap, value). Before each call the host charges the entry point's entry
 * fuel (listed in .safex.meta) itself: the code does not check it.
 */
typedef struct safex_returned (*safex_entry_fn)(struct safex_ctx *ctx, s64 cap, s64 value);


/*
 * The host's attribute classes (stdlib::classes): what a module's own
 * declaration of a class must equal, attribute by attribute, for it to
 * load. An application's values are one array of SAFEX_ATTR_COUNT
 * s64; class c's row, which ctx->attrs points to, starts at
 * safex_classes[c].first.
 */
#define SAFEX_ATTR_I64 0u
#define SAFEX_ATTR_BOOL 1u
#define SAFEX_ATTR_READONLY 1u /* flag: only the system writes it */
#define SAFEX_ATTR_RANGE 2u    /* flag: every write is within [lo, hi] */

struct safex_attr_def {
	const char *name;
	u32 type;  /* SAFEX_ATTR_I64 or SAFEX_ATTR_BOOL */
	u32 flags; /* SAFEX_ATTR_READONLY, SAFEX_ATTR_RANGE */
	s64 lo;    /* the range, inclusive; 0 without one */
	s64 hi;
};

struct safex_class_def {
	const char *name;
	u32 first; /* its first attribute's flat index */
	u32 attrs; /* how many it has */
};

#define SAFEX_CLASS_COUNT 1u
#define SAFEX_ATTR_COUNT 6u
#define SAFEX_ATTR_CPU_QOS_PERIOD 0u
#define SAFEX_ATTR_CPU_QOS_TARGET_CPU 1u
#define SAFEX_ATTR_CPU_QOS_ACTUAL_CPU 2u
#define SAFEX_ATTR_CPU_QOS_TARGET_UTIL 3u
#define SAFEX_ATTR_CPU_QOS_AVG_UTIL_2P 4u
#define SAFEX_ATTR_CPU_QOS_TIMESLICE_ADJUSTMENT 5u

static const struct safex_class_def safex_classes[SAFEX_CLASS_COUNT] = {
	{ "cpu_qos", 0, 6 },
};

static const struct safex_attr_def safex_attrs[SAFEX_ATTR_COUNT] = {
	{ "period", SAFEX_ATTR_I64, SAFEX_ATTR_READONLY, 0, 0 },
	{ "target_cpu", SAFEX_ATTR_I64, SAFEX_ATTR_READONLY, 0, 0 },
	{ "actual_cpu", SAFEX_ATTR_I64, SAFEX_ATTR_READONLY, 0, 0 },
	{ "target_util", SAFEX_ATTR_I64, SAFEX_ATTR_READONLY, 0, 0 },
	{ "avg_util_2p", SAFEX_ATTR_I64, SAFEX_ATTR_READONLY, 0, 0 },
	{ "timeslice_adjustment", SAFEX_ATTR_I64, SAFEX_ATTR_RANGE, -1000000, 1000000 },
};

#endif /* SAFEX_ABI_H */
