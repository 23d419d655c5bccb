// SPDX-License-Identifier: GPL-2.0
/*
 * Invocations: the kernel's side of the extension ABI (safex_abi.h), with
 * the semantics of the user-space host (runtime/src/host.rs, api.rs).
 *
 * - A frame is a context followed by whom the invocation acts for; a
 *   helper gets the context pointer and finds the rest with container_of.
 *   Frame 0 is an invocation's; frame 1 a guard's, nested in the helper
 *   call of the invocation that writes its attribute.
 * - Before each call the host stores the extension's fuel less the entry
 *   point's entry fuel (ABI 4: compiled entry points do not check it; if
 *   it does not cover the entry fuel, nothing is called and the
 *   invocation ends OUT_OF_FUEL at the entry), status OK, no trap site,
 *   and the helper table, data region and attribute rows. Of the fuel it
 *   stores at most SX_SLICE units in ctx.fuel and keeps the rest in the
 *   frame; an exhausted fuel check calls refuel (ABI 6), which hands out
 *   the next slice.
 * - The deadline: refuel also reads the clock, and past safex_deadline_us
 *   from the outermost call's start it answers stop, ending the
 *   invocation OUT_OF_FUEL, which the host reports as a deadline. The
 *   code reaches refuel at least every SX_SLICE + 1024 units (the
 *   verifier's V0409), about 300 us of the slowest code measured, so an
 *   invocation ends within its deadline plus 1 ms, with no timer armed
 *   per invocation. A guard nested in an invocation obeys the outer
 *   deadline, and once passed it stays passed until the next one.
 * - The call runs between kernel_fpu_begin and kernel_fpu_end: preemption
 *   (and, on newer kernels, softirqs) off, so the deadline measures the
 *   extension's own time, and any vector register the code used would be
 *   saved. Helpers do not sleep.
 * - Every invocation is counted; every trap is an abort and is logged;
 *   safex_quarantine_after aborts quarantine the extension. An uncaught
 *   exception raises the Exception event (event 0) on the application's
 *   channel, except in a handler of that event.
 * - Helpers re-check what the verifier proved (capability class and
 *   rights, read-only attributes, ranges, event numbers): a failed check
 *   ends the invocation with HOST_ABORT, sticky: later helpers do nothing.
 *
 * Everything here runs with safex_lock held.
 */
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <asm/fpu/api.h>

#include "safex_internal.h"

/* ctx.trap_func until compiled code records a trap site. */
#define NO_SITE 0xffffffffu

struct sx_frame {
	struct safex_ctx ctx; /* first: helpers get &frame->ctx */
	struct sx_ext *ext;
	struct sx_app *app;
	u32 entry;
	u32 depth;
	bool blocked;         /* a guard run in this frame called block() */
	const char *abort_reason;
	u64 reserve;          /* fuel not yet handed out in ctx.fuel */
};

/* Fuel handed out at a time: refuel looks at the clock between slices. */
#define SX_SLICE 4096

static struct sx_frame frames[SAFEX_FRAMES];
static u64 epoch_ns;
/* The outermost invocation's deadline (ktime), and whether it passed. */
static u64 deadline_ns;
static bool deadline_passed;

/* The guard of each host attribute, and its entry point's index. */
struct sx_ext *safex_guards[SAFEX_ATTR_COUNT];
static u32 guard_entry[SAFEX_ATTR_COUNT];

/* Interned event names; event 0 is "Exception". */
static char event_names[SAFEX_MAX_EVENTS][SAFEX_NAME_MAX];
static u32 n_events;

static struct safex_log_record *log_ring;
static u64 log_seq;

static const safex_helper_fn helper_table[SAFEX_HELPER_COUNT];

static struct sx_frame *frame_of(struct safex_ctx *ctx)
{
	return container_of(ctx, struct sx_frame, ctx);
}

/*
 * ctx->refuel of every frame: stores the next slice of the invocation's
 * fuel, or leaves ctx->fuel negative (stop) when what is left does not
 * cover the check or the deadline passed. Compiled code calls it with
 * every register preserved (SAFEX_REFUEL_ATTRS). The check left ctx->fuel
 * at least -S64_MAX, and reserves are at most safex_max_fuel (2^40): the
 * sum cannot overflow.
 */
static SAFEX_REFUEL_ATTRS void refuel(struct safex_ctx *ctx)
{
	struct sx_frame *f = frame_of(ctx);
	s64 left = ctx->fuel + (s64)f->reserve;
	s64 slice;

	if (left < 0) {
		f->reserve = 0;
		return;
	}
	if (deadline_passed || ktime_get_ns() >= deadline_ns) {
		deadline_passed = true;
		return;
	}
	slice = min_t(s64, left, SX_SLICE);
	f->reserve = (u64)(left - slice);
	ctx->fuel = slice;
}

static s64 helper_abort(struct sx_frame *f, const char *why)
{
	f->ctx.status = SAFEX_STATUS_HOST_ABORT;
	f->abort_reason = why;
	return 0;
}

static struct safex_log_record *log_next(u32 kind, struct sx_app *app, struct sx_ext *ext, u32 entry)
{
	struct safex_log_record *r = &log_ring[log_seq % SAFEX_LOG_SIZE];

	memset(r, 0, sizeof(*r));
	r->seq = log_seq++;
	r->time_ns = ktime_get_ns();
	r->kind = kind;
	r->app = app ? app->id : 0;
	r->ext = ext ? ext->id : 0;
	r->entry = entry;
	return r;
}

static void log_change(struct sx_app *app, struct sx_ext *ext, u32 entry, u32 attr, s64 old, s64 new, u32 outcome,
		      s64 applied)
{
	struct safex_log_record *r = log_next(SAFEX_LOG_CHANGE, app, ext, entry);
	u32 class = 0;

	while (class + 1 < SAFEX_CLASS_COUNT && safex_classes[class + 1].first <= attr)
		class++;
	r->class_id = class;
	r->attr = attr - safex_classes[class].first;
	r->old_value = old;
	r->new_value = new;
	r->outcome = outcome;
	r->applied = applied;
}

void safex_log_applied(struct sx_app *app, s64 runtime_us)
{
	log_next(SAFEX_LOG_APPLIED, app, NULL, 0)->new_value = runtime_us;
}

int safex_log_read(struct safex_log *req, struct safex_log_record *out)
{
	u64 oldest = log_seq > SAFEX_LOG_SIZE ? log_seq - SAFEX_LOG_SIZE : 0;
	u64 from = max(req->from, oldest);
	u32 n = 0;

	req->lost = from - min(req->from, from);
	while (n < req->count && from + n < log_seq) {
		out[n] = log_ring[(from + n) % SAFEX_LOG_SIZE];
		n++;
	}
	req->count = n;
	req->next = from + n;
	return 0;
}

u32 safex_event_intern(const char *name, size_t len)
{
	u32 i;

	if (len >= SAFEX_NAME_MAX)
		return SAFEX_MAX_EVENTS;
	for (i = 0; i < n_events; i++)
		if (strlen(event_names[i]) == len && memcmp(event_names[i], name, len) == 0)
			return i;
	if (n_events == SAFEX_MAX_EVENTS)
		return SAFEX_MAX_EVENTS;
	memcpy(event_names[n_events], name, len);
	event_names[n_events][len] = 0;
	return n_events++;
}

/*
 * Prepares frame `f` for an invocation of entry `idx` of `ext` for `app`.
 * Returns whether the entry fuel is paid and the code is to be called.
 */
static bool prepare(struct sx_frame *f, struct sx_ext *ext, u32 idx, struct sx_app *app, u32 depth)
{
	const struct sx_entry *e = &ext->entry[idx];

	f->ctx.status = SAFEX_STATUS_OK;
	f->ctx.trap_func = NO_SITE;
	f->ctx.trap_block = 0;
	f->ctx.trap_inst = 0;
	f->ctx.helpers = helper_table;
	f->ctx.data = ext->data;
	f->ctx.attrs = ext->rows;
	f->ctx.refuel = refuel;
	f->reserve = 0;
	f->ext = ext;
	f->app = app;
	f->entry = idx;
	f->depth = depth;
	f->blocked = false;
	f->abort_reason = NULL;
	/* Fuel is at most safex_max_fuel (checked at init), far below S64_MAX. */
	if (e->entry_fuel > ext->fuel) {
		f->ctx.fuel = -1;
		f->ctx.status = SAFEX_STATUS_OUT_OF_FUEL;
		f->ctx.trap_func = e->func;
		return false;
	}
	/* A guard that starts after the deadline passed stops at its first check. */
	f->ctx.fuel = deadline_passed ? 0 : (s64)min_t(u64, ext->fuel - e->entry_fuel, SX_SLICE);
	f->reserve = ext->fuel - e->entry_fuel - (u64)f->ctx.fuel;
	return true;
}

/* Accounts an invocation that ran in `f` and reports how it ended. */
static void finish(struct sx_frame *f, u64 elapsed_ns, struct safex_outcome *out)
{
	struct sx_ext *ext = f->ext;
	struct sx_counters *c = &ext->counters;
	u64 status = f->ctx.status;
	struct safex_log_record *r;

	c->invocations++;
	c->fuel_used += ext->fuel - (u64)max_t(s64, f->ctx.fuel, 0) - f->reserve;
	c->time_ns += elapsed_ns;
	out->status = status;
	out->deadline = false;
	if (status == SAFEX_STATUS_OK)
		return;
	if (status == SAFEX_STATUS_OUT_OF_FUEL && deadline_passed) {
		c->deadlines++;
		out->deadline = true;
	} else if (status == SAFEX_STATUS_OUT_OF_FUEL) {
		c->out_of_fuel++;
	} else if (status >= SAFEX_STATUS_DIVIDE_BY_ZERO && status <= SAFEX_STATUS_NULL_CAPABILITY) {
		c->exceptions++;
	} else {
		c->host_aborts++;
	}
	c->aborts++;
	r = log_next(SAFEX_LOG_TRAP, f->app, ext, f->entry);
	r->status = status;
	r->outcome = out->deadline;
	r->trap_site = status == SAFEX_STATUS_HOST_ABORT || f->ctx.trap_func == NO_SITE ?
			       -1 :
			       (s64)((u64)f->ctx.trap_func << 40 | (u64)(f->ctx.trap_block & 0xfffff) << 20 |
				     (f->ctx.trap_inst & 0xfffff));
	if (status == SAFEX_STATUS_HOST_ABORT && f->abort_reason)
		pr_info_ratelimited("safex: %s.%s ended by the host: %s\n", ext->name, ext->entry[f->entry].name,
				    f->abort_reason);
	if (safex_quarantine_after && c->aborts >= safex_quarantine_after && !ext->quarantined) {
		ext->quarantined = true;
		log_next(SAFEX_LOG_QUARANTINE, f->app, ext, f->entry);
		pr_info("safex: %s quarantined after %llu aborts\n", ext->name, c->aborts);
	}
}

void safex_invoke(struct sx_ext *ext, u32 idx, struct sx_app *app, s64 value, struct safex_outcome *out)
{
	struct sx_frame *f = &frames[0];
	const struct sx_entry *e = &ext->entry[idx];
	struct safex_returned r = { 0, 0 };
	bool runs;
	u64 t0;

	lockdep_assert_held(&safex_lock);
	deadline_passed = false;
	runs = prepare(f, ext, idx, app, 0);
	kernel_fpu_begin();
	t0 = ktime_get_ns();
	deadline_ns = t0 + (u64)safex_deadline_us * NSEC_PER_USEC;
	if (runs)
		r = e->code(&f->ctx, (s64)e->host_class + 1, value);
	out->elapsed_ns = ktime_get_ns() - t0;
	kernel_fpu_end();
	out->ret = r.value;
	finish(f, out->elapsed_ns, out);
	if (out->status >= SAFEX_STATUS_DIVIDE_BY_ZERO && out->status <= SAFEX_STATUS_NULL_CAPABILITY &&
	    !(e->kind == SAFEX_ENTRY_HANDLER && e->event == 0))
		safex_raise(app, 0, (s64)out->status);
}

/* The outcome of a guard's run on an attribute write. */
enum sx_guarded { GUARD_WRITTEN, GUARD_BLOCKED, GUARD_TRAPPED };

/* Runs `attr`'s guard for `app` on `value` in frame `depth`, under the outer deadline. */
static enum sx_guarded run_guard(struct sx_app *app, u32 attr, s64 value, u32 depth, s64 *applied)
{
	struct sx_ext *g = safex_guards[attr];
	u32 idx = guard_entry[attr], k;
	struct sx_frame *f = &frames[depth];
	struct safex_outcome out = {};
	struct safex_returned r = { 0, 0 };
	u64 t0 = ktime_get_ns();

	if (g->quarantined)
		return GUARD_TRAPPED;
	for (k = 0; k < g->n_classes; k++)
		g->rows[k] = app->values + safex_classes[g->class_map[k]].first;
	if (prepare(f, g, idx, app, depth))
		r = g->entry[idx].code(&f->ctx, (s64)g->entry[idx].host_class + 1, value);
	finish(f, ktime_get_ns() - t0, &out);
	if (out.status != SAFEX_STATUS_OK)
		return GUARD_TRAPPED;
	*applied = r.value;
	return f->blocked ? GUARD_BLOCKED : GUARD_WRITTEN;
}

/*
 * Resolves (capability, attribute immediate) of the invoked extension to
 * a host attribute (flat index) on which it holds `right`, or NULL and
 * the reason.
 */
static const char *resolve(struct sx_frame *f, s64 cap, s64 imm, u32 right, u32 *attr)
{
	struct sx_ext *ext = f->ext;
	u64 module_class = (u64)imm >> 32, index = (u64)imm & 0xffffffffu;
	u32 class;

	if (module_class >= ext->n_classes)
		return "the attribute immediate names no class of the extension";
	class = ext->class_map[module_class];
	if (cap != (s64)class + 1)
		return "the capability is not the extension's";
	if (!(ext->rights & right))
		return "the extension lacks the right";
	if (index >= safex_classes[class].attrs)
		return "no such attribute";
	*attr = safex_classes[class].first + (u32)index;
	return NULL;
}

/* Slot 0, get_attribute's id: compiled code reads ctx.attrs and never calls it. */
static s64 h_attribute_slot(struct safex_ctx *ctx, s64 a0, s64 a1, s64 a2)
{
	struct sx_frame *f = frame_of(ctx);

	if (ctx->status != SAFEX_STATUS_OK)
		return 0;
	return helper_abort(f, "get_attribute: slot 0 of the helper table is not a call");
}

static s64 h_set_attribute(struct safex_ctx *ctx, s64 cap, s64 imm, s64 value)
{
	struct sx_frame *f = frame_of(ctx);
	const struct safex_attr_def *def;
	enum sx_guarded outcome = GUARD_WRITTEN;
	s64 applied = 0, old;
	const char *why;
	u32 attr;

	if (ctx->status != SAFEX_STATUS_OK)
		return 0;
	why = resolve(f, cap, imm, 2, &attr);
	if (why)
		return helper_abort(f, why);
	def = &safex_attrs[attr];
	if (def->flags & SAFEX_ATTR_READONLY)
		return helper_abort(f, "set_attribute: the attribute is read-only");
	if (def->type == SAFEX_ATTR_BOOL && (value < 0 || value > 1))
		return helper_abort(f, "set_attribute: not a bool");
	if ((def->flags & SAFEX_ATTR_RANGE) && (value < def->lo || value > def->hi))
		return helper_abort(f, "set_attribute: outside the attribute's range");
	if (safex_guards[attr]) {
		if (f->depth + 1 >= SAFEX_FRAMES)
			return helper_abort(f, "set_attribute: a guard wrote a guarded attribute: guards may not nest");
		outcome = run_guard(f->app, attr, value, f->depth + 1, &applied);
		/*
		 * The deadline passed in the guard: the invocation stops at its
		 * next fuel check, not a slice later (where a loop of writes
		 * could start a guard per helper call).
		 */
		if (deadline_passed) {
			f->ctx.fuel = 0;
			f->reserve = 0;
		}
	}
	old = f->app->values[attr];
	switch (outcome) {
	case GUARD_WRITTEN:
		WRITE_ONCE(f->app->values[attr], value);
		if (safex_guards[attr]) {
			f->app->applied[attr] = applied;
			f->app->has_applied[attr] = true;
		}
		break;
	case GUARD_BLOCKED:
		f->app->blocked = true;
		break;
	case GUARD_TRAPPED:
		break;
	}
	log_change(f->app, f->ext, f->entry, attr, old, value,
			 outcome == GUARD_WRITTEN ? SAFEX_CHANGE_WRITTEN :
			 outcome == GUARD_BLOCKED ? SAFEX_CHANGE_BLOCKED :
						    SAFEX_CHANGE_GUARD_TRAPPED,
			 applied);
	return 0;
}

static s64 h_raise_event(struct safex_ctx *ctx, s64 event, s64 value, s64 a2)
{
	struct sx_frame *f = frame_of(ctx);

	if (ctx->status != SAFEX_STATUS_OK)
		return 0;
	if (event < 0 || event >= f->ext->n_events)
		return helper_abort(f, "raise_event: not one of the extension's events");
	safex_raise(f->app, f->ext->event_map[event], value);
	f->ext->counters.events_raised++;
	return 0;
}

static s64 h_now_us(struct safex_ctx *ctx, s64 a0, s64 a1, s64 a2)
{
	if (ctx->status != SAFEX_STATUS_OK)
		return 0;
	return (s64)((ktime_get_ns() - epoch_ns) / NSEC_PER_USEC);
}

static s64 h_block(struct safex_ctx *ctx, s64 cap, s64 a1, s64 a2)
{
	struct sx_frame *f = frame_of(ctx);

	if (ctx->status != SAFEX_STATUS_OK)
		return 0;
	if (!(f->ext->rights & 4) || cap < 1 || cap > SAFEX_CLASS_COUNT)
		return helper_abort(f, "block: the capability does not carry the guard right");
	f->blocked = true;
	return 0;
}

/*
 * trace(value, site): a line in the kernel log, rate-limited as
 * printk_ratelimited is (bpf_printk's role; its output is the trace pipe's).
 * `site` is the call's byte offset in the extension's source. Never aborts.
 */
static s64 h_trace(struct safex_ctx *ctx, s64 value, s64 site, s64 a2)
{
	struct sx_frame *f = frame_of(ctx);

	if (ctx->status != SAFEX_STATUS_OK)
		return 0;
	pr_info_ratelimited("safex: %s: trace %lld (source byte %lld)\n", f->ext->name, value, site);
	return 0;
}

/* Address-taken, so an IBT kernel keeps their endbr64. */
static const safex_helper_fn helper_table[SAFEX_HELPER_COUNT] = {
	[SAFEX_HELPER_GET_ATTRIBUTE] = h_attribute_slot,
	[SAFEX_HELPER_SET_ATTRIBUTE] = h_set_attribute,
	[SAFEX_HELPER_RAISE_EVENT] = h_raise_event,
	[SAFEX_HELPER_NOW_US] = h_now_us,
	[SAFEX_HELPER_BLOCK] = h_block,
	[SAFEX_HELPER_TRACE] = h_trace,
};

/* Installs `g`'s guards; EEXIST if an attribute has one already. */
int safex_guard_install(struct sx_ext *g)
{
	u32 i;

	for (i = 0; i < g->n_entries; i++)
		if (g->entry[i].kind != SAFEX_ENTRY_GUARD || safex_guards[g->entry[i].attr])
			return -EEXIST;
	for (i = 0; i < g->n_entries; i++) {
		safex_guards[g->entry[i].attr] = g;
		guard_entry[g->entry[i].attr] = i;
	}
	return 0;
}

void safex_guard_remove(struct sx_ext *g)
{
	u32 a;

	for (a = 0; a < SAFEX_ATTR_COUNT; a++)
		if (safex_guards[a] == g)
			safex_guards[a] = NULL;
}

int safex_exec_init(void)
{
	log_ring = vzalloc(sizeof(*log_ring) * SAFEX_LOG_SIZE);
	if (!log_ring)
		return -ENOMEM;
	epoch_ns = ktime_get_ns();
	n_events = 0;
	safex_event_intern("Exception", 9);
	return 0;
}

void safex_exec_exit(void)
{
	vfree(log_ring);
}
