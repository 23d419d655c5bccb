// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * In the guest: /dev/safex's commands, checked. `client MODE` with MODE
 *   unkeyed  the module has no key: permissions, arguments, ENOKEY;
 *   keyed    a key, no periodic rounds: the trust gate, loading, listing,
 *            the values the PID extension computes for a trace (compared
 *            with the user-space host's, /objects/expected.txt), the
 *            runaway, 1,000 load/unload cycles;
 *   serving  the periodic service manager: a real hog task's reservation,
 *            and a runaway beside it.
 * Prints one "PASS name" or "FAIL name: why" line per check; exits 1 if
 * any failed.
 */
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../safex_abi.h"
#include "../safex_uapi.h"

static int failed;

static void check(int ok, const char *name, const char *why)
{
	if (ok) {
		printf("PASS %s\n", name);
	} else {
		printf("FAIL %s: %s (errno %d: %s)\n", name, why, errno, strerror(errno));
		failed = 1;
	}
}

/* The ioctl's result: 0, or -errno. */
static int call(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) == 0 ? 0 : -errno;
}

/* A whole file, or NULL. */
static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

/* SAFEX_IOC_CHECK of len bytes at data: 0 or -errno. */
static int check_object(int fd, const void *data, uint64_t len)
{
	struct safex_object o = { .size = sizeof(o), .data = (uintptr_t)data, .len = len };
	return call(fd, SAFEX_IOC_CHECK, &o);
}

/* The trust gate (SAFEX_IOC_CHECK), with the objects in /objects. */
static void signatures(int fd, int keyed)
{
	size_t len = 0, other_len = 0, unsigned_len = 0;
	unsigned char *good = slurp("/objects/signed.o", &len);
	unsigned char *other = slurp("/objects/wrong-key.o", &other_len);
	unsigned char *plain = slurp("/objects/unsigned.o", &unsigned_len);

	if (!good || !other || !plain || len < 300) {
		check(0, "test objects present", "missing /objects files");
		return;
	}
	if (!keyed) {
		errno = 0;
		check(check_object(fd, good, len) == -ENOKEY, "without a key every object is refused (ENOKEY)",
		      "not ENOKEY");
		return;
	}
	errno = 0;
	check(check_object(fd, good, len) == 0, "a signed object passes", "refused");
	check(check_object(fd, plain, unsigned_len) == -ENODATA, "an unsigned object is ENODATA", "not ENODATA");
	check(check_object(fd, other, other_len) == -EBADMSG, "another key's object is EBADMSG", "not EBADMSG");
	/* One flipped byte anywhere: in the object (first, middle, last), in the signature, in the trailer. */
	size_t object_len = len - 12 - 256;
	struct {
		size_t at;
		int want;
		const char *name;
	} flips[] = {
		{ 0, -EKEYREJECTED, "a flipped first byte is EKEYREJECTED (changed after signing)" },
		{ object_len / 2, -EKEYREJECTED, "a flipped byte mid-object is EKEYREJECTED" },
		{ object_len - 1, -EKEYREJECTED, "a flipped last object byte is EKEYREJECTED" },
		{ object_len + 100, -EBADMSG, "a flipped signature byte is EBADMSG (not the key's signature)" },
		{ len - 12, -ENODATA, "a changed signature length is ENODATA" },
		{ len - 3, -ENODATA, "a changed magic is ENODATA" },
	};
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		good[flips[i].at] ^= 0x40;
		check(check_object(fd, good, len) == flips[i].want, flips[i].name, "wrong answer");
		good[flips[i].at] ^= 0x40;
	}
	check(check_object(fd, good, len - 1) == -ENODATA, "a truncated object is ENODATA", "not ENODATA");
	check(check_object(fd, good, 64u << 20) == -E2BIG, "an object of 64 MiB is E2BIG", "not E2BIG");
	check(check_object(fd, (void *)1, len) == -EFAULT, "an unreadable object is EFAULT", "not EFAULT");
	check(check_object(fd, good, len) == 0, "the signed object still passes", "refused");

	/* Signed, but not of SafeX's shape: the module checks the object too. */
	size_t nofuel_len = 0, junk_len = 0;
	unsigned char *nofuel = slurp("/objects/nofuel-signed.o", &nofuel_len);
	unsigned char *junk = slurp("/objects/junk-signed.o", &junk_len);
	check(nofuel && check_object(fd, nofuel, nofuel_len) == -EACCES, "a signed --no-fuel object is EACCES",
	      "not EACCES");
	check(junk && check_object(fd, junk, junk_len) == -ENOEXEC, "signed bytes that are no object are ENOEXEC",
	      "not ENOEXEC");
	size_t abi99_len = 0;
	unsigned char *abi99 = slurp("/objects/abi99-signed.o", &abi99_len);
	check(abi99 && check_object(fd, abi99, abi99_len) == -EPROTO, "a signed object of another ABI is EPROTO",
	      "not EPROTO");
	free(abi99);
	const char *shapes[][2] = {
		{ "/objects/extra-section-signed.o", "a signed object with a section codegen does not emit is ENOEXEC" },
		{ "/objects/bad-reloc-signed.o", "a signed call relocated past its callee's first byte is ENOEXEC" },
	};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		size_t n = 0;
		unsigned char *obj = slurp(shapes[i][0], &n);

		check(obj && check_object(fd, obj, n) == -ENOEXEC, shapes[i][1], "not ENOEXEC");
		free(obj);
	}
	free(nofuel);
	free(junk);
	free(good);
	free(other);
	free(plain);
}

static unsigned char *object_at(const char *path, size_t *len)
{
	unsigned char *obj = slurp(path, len);

	if (!obj)
		printf("FAIL read %s\n", path), failed = 1;
	return obj;
}

/* SAFEX_IOC_LOAD of a file: 0 and the id, or -errno. */
static int load(int fd, const char *path, const char *app, unsigned int flags, unsigned int *id)
{
	size_t len = 0;
	unsigned char *obj = object_at(path, &len);
	struct safex_load l = { .size = sizeof(l), .flags = flags, .data = (uintptr_t)obj, .len = len };
	int err;

	if (!obj)
		return -ENOENT;
	snprintf(l.app, sizeof(l.app), "%s", app);
	err = call(fd, SAFEX_IOC_LOAD, &l);
	if (!err && id)
		*id = l.id;
	free(obj);
	return err;
}

static int unload(int fd, unsigned int id)
{
	struct safex_unload u = { .size = sizeof(u), .id = id };
	return call(fd, SAFEX_IOC_UNLOAD, &u);
}

static int app_set(int fd, const char *name, int pid, unsigned int period_us, unsigned long long target_us)
{
	struct safex_app a = { .size = sizeof(a), .pid = pid, .period_us = period_us, .target_us = target_us };

	snprintf(a.name, sizeof(a.name), "%s", name);
	return call(fd, SAFEX_IOC_APP, &a);
}

static int attr(int fd, const char *app, const char *name, unsigned int op, long long *value)
{
	struct safex_attr a = { .size = sizeof(a), .op = op, .value = *value };
	int err;

	snprintf(a.app, sizeof(a.app), "%s", app);
	snprintf(a.attr, sizeof(a.attr), "%s", name);
	err = call(fd, SAFEX_IOC_ATTR, &a);
	*value = a.value;
	return err;
}

/* The loaded extensions: their number, and up to `room` of them at `out`. */
static int list(int fd, struct safex_ext_info *out, unsigned int room)
{
	struct safex_list l = { .size = sizeof(l), .count = room, .exts = (uintptr_t)out };
	int err = call(fd, SAFEX_IOC_LIST, &l);

	return err ? err : (int)l.count;
}

static int ext_info(int fd, unsigned int id, struct safex_ext_info *info)
{
	static struct safex_ext_info all[SAFEX_MAX_EXTENSIONS];
	int n = list(fd, all, SAFEX_MAX_EXTENSIONS);

	for (int i = 0; i < n; i++)
		if (all[i].id == id) {
			*info = all[i];
			return 0;
		}
	return -ENOENT;
}

static int invoke(int fd, unsigned int id, unsigned int entry, long long value, unsigned int repeat,
		  struct safex_invoke *v)
{
	*v = (struct safex_invoke){ .size = sizeof(*v), .id = id, .entry = entry, .repeat = repeat, .value = value };
	return call(fd, SAFEX_IOC_INVOKE, v);
}

static int rounds(int fd, unsigned int n, unsigned long long *elapsed_ns)
{
	struct safex_round r = { .size = sizeof(r), .rounds = n };
	int err = call(fd, SAFEX_IOC_ROUND, &r);

	if (elapsed_ns)
		*elapsed_ns = r.elapsed_ns;
	return err;
}

/* The log from `*from` on (at most 4096 records at out); advances *from. */
static int log_read(int fd, unsigned long long *from, struct safex_log_record *out, unsigned int room)
{
	struct safex_log l = { .size = sizeof(l), .count = room, .from = *from, .records = (uintptr_t)out };
	int err = call(fd, SAFEX_IOC_LOG, &l);

	if (err)
		return err;
	*from = l.next;
	return (int)l.count;
}

static struct safex_log_record records[SAFEX_LOG_SIZE];

/* Rounds of the trace; qemu.sh runs the user-space host for as many ticks. */
#define TRACE_TICKS 20

static unsigned long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}

/* A kernel counter from /proc/vmstat or /proc/meminfo ("Name value" lines). */
static long long proc_value(const char *file, const char *name)
{
	char line[256];
	size_t n = strlen(name);
	long long v = -1;
	FILE *f = fopen(file, "r");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, name, n) == 0 && (line[n] == ' ' || line[n] == ':'))
			v = atoll(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

/*
 * The PID extension over a trace, through the kernel: each trace line
 * `tick,attribute,value` is written before that tick's round; every
 * change the rounds log is printed as `safexc run` prints it, for
 * comparison with the user-space host's table (/objects/expected.txt).
 */
static void trace_matches_host(int fd, unsigned int pid_ext)
{
	FILE *trace = fopen("/objects/trace.csv", "r"), *out = fopen("/tmp/kernel.txt", "w");
	struct {
		int tick;
		char name[64];
		long long value;
	} writes[64];
	struct safex_ext_info info;
	unsigned long long from = 0;
	int n_writes = 0, ok = trace && out && ext_info(fd, pid_ext, &info) == 0;
	char line[256];

	while (ok && n_writes < 64 && fgets(line, sizeof(line), trace))
		if (sscanf(line, "%d,%63[^,],%lld", &writes[n_writes].tick, writes[n_writes].name,
			   &writes[n_writes].value) == 3)
			n_writes++;
	log_read(fd, &from, records, SAFEX_LOG_SIZE); /* skip what came before */
	for (int tick = 1; ok && tick <= TRACE_TICKS; tick++) {
		int n;

		for (int w = 0; w < n_writes; w++)
			if (writes[w].tick == tick)
				ok = ok && attr(fd, "calc", writes[w].name, SAFEX_ATTR_WRITE, &writes[w].value) == 0;
		ok = ok && rounds(fd, 1, NULL) == 0 && (n = log_read(fd, &from, records, SAFEX_LOG_SIZE)) >= 0;
		for (int i = 0; ok && i < n; i++) {
			struct safex_log_record *r = &records[i];
			char guard[64];

			if (r->kind != SAFEX_LOG_CHANGE || r->ext != pid_ext)
				continue;
			if (r->outcome == SAFEX_CHANGE_WRITTEN)
				snprintf(guard, sizeof(guard), "applied %lld", (long long)r->applied);
			else if (r->outcome == SAFEX_CHANGE_BLOCKED)
				snprintf(guard, sizeof(guard), "blocked");
			else
				snprintf(guard, sizeof(guard), "refused");
			fprintf(out, "| %d | cpu_qos.%s | %lld | %lld | %s.%s | %s |\n", tick,
				r->attr == 5 ? "timeslice_adjustment" : "?", (long long)r->old_value,
				(long long)r->new_value, info.name, info.entry[r->entry].name, guard);
		}
	}
	if (trace)
		fclose(trace);
	if (out)
		fclose(out);
	check(ok, "service rounds over the trace", "a command failed");
	int same = ok && system("cmp -s /tmp/kernel.txt /objects/expected.txt") == 0;
	check(same, "the PID extension's values in the kernel equal the user-space host's", "they differ:");
	if (!same && system("diff /objects/expected.txt /tmp/kernel.txt | head -20") != 0)
		printf("guest: (diff failed)\n");
}

/* The runaway: stopped by the deadline within budget + 1 ms, then quarantined. */
static void runaway(int fd, unsigned int deadline_us)
{
	unsigned int id = 0;
	struct safex_invoke v;
	struct safex_ext_info info;
	unsigned long long worst = 0, best = ~0ull;

	check(app_set(fd, "spin", 0, 10000, 1000) == 0 && load(fd, "/objects/runaway.o", "spin", 0, &id) == 0,
	      "the runaway (budget 100,000,000) loads", "refused");
	for (int i = 0; i < 6; i++) {
		int err = invoke(fd, id, 0, 0, 1, &v);

		check(err == 0 && v.status == SAFEX_STATUS_OUT_OF_FUEL && v.deadline == 1,
		      "the deadline stops the runaway (OUT_OF_FUEL, deadline)", "it ended otherwise");
		printf("guest: runaway invocation %d: %llu us\n", i, (unsigned long long)v.elapsed_ns / 1000);
		worst = v.elapsed_ns > worst ? v.elapsed_ns : worst;
		best = v.elapsed_ns < best ? v.elapsed_ns : best;
		if (i == 2) {
			struct safex_unload release = { .size = sizeof(release), .id = id };

			check(invoke(fd, id, 0, 0, 1, &v) == -ESHUTDOWN, "after 3 aborts it is quarantined (ESHUTDOWN)",
			      "it still runs");
			check(ext_info(fd, id, &info) == 0 && info.state == SAFEX_STATE_QUARANTINED &&
				      info.deadlines == 3 && info.aborts == 3,
			      "list shows it quarantined, with 3 deadlines", "wrong state or counters");
			check(call(fd, SAFEX_IOC_RELEASE, &release) == 0 && ext_info(fd, id, &info) == 0 &&
				      info.state == SAFEX_STATE_ACTIVE && info.aborts == 0,
			      "release lets it run again", "still quarantined");
		}
	}
	/*
	 * Guest time is the host's under TCG: a busy host delays a guest's
	 * timer as it delays a process's. So, as runtime/tests/deadline.rs
	 * does: the best of six within the deadline + 1 ms, each within the
	 * deadline + 50 ms.
	 */
	printf("guest: runaway stopped after %llu to %llu us (deadline %u us)\n", best / 1000, worst / 1000,
	       deadline_us);
	check(best <= (deadline_us + 1000) * 1000ull && worst <= (deadline_us + 50000) * 1000ull,
	      "within the deadline + 1 ms (best of 6; each within + 50 ms)", "later");
	check(unload(fd, id) == 0, "the runaway unloads", "refused");
}

/* 1,000 load/unload cycles leave the kernel's free pages where they were. */
static void no_leaks(int fd)
{
	unsigned int id;
	int ok = 1;

	for (int i = 0; i < 50 && ok; i++)
		ok = load(fd, "/objects/signed.o", "calc", 0, &id) == 0 && unload(fd, id) == 0;
	long long before = proc_value("/proc/vmstat", "nr_free_pages");
	long long slab_before = proc_value("/proc/meminfo", "Slab");
	unsigned long long t0 = now_ns();
	for (int i = 0; i < 1000 && ok; i++)
		ok = load(fd, "/objects/signed.o", "calc", 0, &id) == 0 && unload(fd, id) == 0;
	unsigned long long t1 = now_ns();
	long long after = proc_value("/proc/vmstat", "nr_free_pages");
	long long slab_after = proc_value("/proc/meminfo", "Slab");
	printf("guest: 1000 load/unload cycles in %llu ms; free pages %lld -> %lld, slab %lld -> %lld kB\n",
	       (t1 - t0) / 1000000, before, after, slab_before, slab_after);
	check(ok, "1,000 load/unload cycles", "a load or unload failed");
	/* A leak of 128 bytes a cycle would be 32 pages. */
	check(before - after < 32 && slab_after - slab_before < 128, "they leak nothing (free pages, slab)",
	      "memory went missing");
}

static void loading(int fd)
{
	unsigned int pid_ext = 0, guard = 0, id = 0;
	struct safex_ext_info infos[4];
	long long value;

	check(load(fd, "/objects/signed.o", "calc", 0, &id) == -ENOENT, "loading for an unknown application is ENOENT",
	      "not ENOENT");
	check(load(fd, "/objects/guard.o", "", SAFEX_LOAD_GUARD, &guard) == 0, "the signed timeslice guard installs",
	      "refused");
	check(load(fd, "/objects/guard.o", "", SAFEX_LOAD_GUARD, &id) == -EEXIST, "a second guard is EEXIST",
	      "not EEXIST");
	check(app_set(fd, "calc", 0, 10000, 3000) == 0, "an application is created", "refused");
	check(app_set(fd, "calc", 0, 0, 3000) == -EINVAL && app_set(fd, "calc", 0, 10000, 20000) == -EINVAL,
	      "a period of 0 or a target past the period is EINVAL", "not EINVAL");
	check(app_set(fd, "calc", 999999, 10000, 3000) == -ESRCH, "an unknown task is ESRCH", "not ESRCH");
	struct safex_app unterminated = { .size = sizeof(unterminated), .period_us = 10000 };
	memset(unterminated.name, 'a', sizeof(unterminated.name));
	check(call(fd, SAFEX_IOC_APP, &unterminated) == -EINVAL, "an unterminated name is EINVAL", "not EINVAL");
	check(load(fd, "/objects/guard.o", "calc", 0, &id) == -EPERM, "a guard as an application's extension is EPERM",
	      "not EPERM");
	check(load(fd, "/objects/unsigned.o", "calc", 0, &id) == -ENODATA, "loading an unsigned object is ENODATA",
	      "not ENODATA");
	check(load(fd, "/objects/wrong-key.o", "calc", 0, &id) == -EBADMSG, "loading another key's object is EBADMSG",
	      "not EBADMSG");
	check(load(fd, "/objects/nofuel-signed.o", "calc", 0, &id) == -EACCES, "loading a --no-fuel object is EACCES",
	      "not EACCES");
	check(load(fd, "/objects/signed.o", "calc", 4, &id) == -EINVAL, "an unknown load flag is EINVAL", "not EINVAL");
	check(load(fd, "/objects/signed.o", "calc", 0, &pid_ext) == 0, "the signed PID extension loads", "refused");

	check(list(fd, infos, 0) == 2, "list counts the extensions without room for them", "wrong count");
	check(list(fd, infos, 4) == 2 && infos[0].id == guard && strcmp(infos[0].name, "timeslice_guard") == 0 &&
		      infos[0].app[0] == 0 && infos[0].entry[0].kind == SAFEX_ENTRY_GUARD &&
		      strcmp(infos[0].entry[0].target, "cpu_qos.timeslice_adjustment") == 0,
	      "list: the guard, its entry point and attribute", "wrong record");
	check(infos[1].id == pid_ext && strcmp(infos[1].name, "cpu_pid") == 0 && strcmp(infos[1].app, "calc") == 0 &&
		      infos[1].entries == 2 && infos[1].entry[0].kind == SAFEX_ENTRY_MONITOR &&
		      strcmp(infos[1].entry[0].name, "cpu_monitor") == 0 &&
		      infos[1].entry[1].kind == SAFEX_ENTRY_HANDLER && strcmp(infos[1].entry[1].target, "Error") == 0 &&
		      infos[1].state == SAFEX_STATE_ACTIVE,
	      "list: the PID extension, its application and entry points", "wrong record");
	struct safex_list bad_list = { .size = sizeof(bad_list), .count = 4, .exts = 1 };
	check(call(fd, SAFEX_IOC_LIST, &bad_list) == -EFAULT, "a list into a bad pointer is EFAULT", "not EFAULT");

	value = 5;
	check(attr(fd, "calc", "timeslice_adjustment", SAFEX_ATTR_WRITE, &value) == 0 &&
		      attr(fd, "calc", "cpu_qos.timeslice_adjustment", SAFEX_ATTR_READ, &value) == 0 && value == 5,
	      "attributes are written and read", "wrong value");
	value = 2000000;
	check(attr(fd, "calc", "timeslice_adjustment", SAFEX_ATTR_WRITE, &value) == -ERANGE,
	      "a write outside the range is ERANGE", "not ERANGE");
	check(attr(fd, "calc", "no_such", SAFEX_ATTR_READ, &value) == -ENOENT &&
		      attr(fd, "nobody", "target_cpu", SAFEX_ATTR_READ, &value) == -ENOENT,
	      "an unknown attribute or application is ENOENT", "not ENOENT");
	value = 0;
	attr(fd, "calc", "timeslice_adjustment", SAFEX_ATTR_WRITE, &value);

	struct safex_invoke v;
	check(invoke(fd, guard, 0, 0, 1, &v) == -EPERM, "invoking a guard is EPERM", "not EPERM");
	check(invoke(fd, pid_ext, 7, 0, 1, &v) == -ENOENT && invoke(fd, 12345, 0, 0, 1, &v) == -ENOENT,
	      "invoking what is not loaded is ENOENT", "not ENOENT");
	check(invoke(fd, pid_ext, 0, 0, 0, &v) == -EINVAL, "a repeat of 0 is EINVAL", "not EINVAL");

	unsigned int avg = 0;
	check(load(fd, "/objects/avg.o", "calc", 0, &avg) == 0 && invoke(fd, avg, 0, 0, 3, &v) == 0 &&
		      v.status == SAFEX_STATUS_OK && unload(fd, avg) == 0,
	      "an extension whose functions call each other (relocated) runs", "it failed");
	trace_matches_host(fd, pid_ext);
	runaway(fd, 1000);
	no_leaks(fd);
	check(unload(fd, pid_ext) == 0 && unload(fd, pid_ext) == -ENOENT, "unload, then unload again is ENOENT",
	      "wrong answer");
}

/* CPU time (utime + stime) of a process, in clock ticks. */
static long long cpu_ticks(int pid)
{
	char path[64], buf[1024];
	long long utime = -1, stime = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f && fgets(buf, sizeof(buf), f)) {
		char *p = strrchr(buf, ')');
		/* Fields after the name: state(3) ... utime(14) stime(15). */
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &utime, &stime) != 2)
			utime = -1;
	}
	if (f)
		fclose(f);
	return utime < 0 ? -1 : utime + stime;
}

/*
 * The service manager on a real task: a hog wants the whole CPU; its
 * application is promised 30 ms in every 100 ms. Its reservation must come
 * down from all of the CPU towards the promise, while a runaway beside it
 * is stopped and quarantined and the manager keeps serving.
 */
static void serving(int fd)
{
	unsigned int guard = 0, pid_ext = 0, spin = 0;
	struct safex_ext_info info, before;
	unsigned long long from = 0;
	long long hz = sysconf(_SC_CLK_TCK);

	check(load(fd, "/objects/guard.o", "", SAFEX_LOAD_GUARD, &guard) == 0, "the guard installs", "refused");
	pid_t hog = fork();
	if (hog == 0)
		for (;;)
			;
	long long t0 = cpu_ticks(hog);
	usleep(500000);
	long long t1 = cpu_ticks(hog);
	check(app_set(fd, "hog", hog, 100000, 30000) == 0 && load(fd, "/objects/signed.o", "hog", 0, &pid_ext) == 0,
	      "a hog task registers, with the PID extension", "refused");
	sleep(1);
	long long t2 = cpu_ticks(hog);
	for (int i = 0; i < 4; i++) {
		long long actual = 0, util = 0, adjustment = 0;

		usleep(250000);
		attr(fd, "hog", "actual_cpu", SAFEX_ATTR_READ, &actual);
		attr(fd, "hog", "avg_util_2p", SAFEX_ATTR_READ, &util);
		attr(fd, "hog", "timeslice_adjustment", SAFEX_ATTR_READ, &adjustment);
		printf("guest: hog at +%d ms: actual_cpu %lld us, avg_util_2p %lld, timeslice_adjustment %lld\n",
		       1250 + 250 * i, actual, util, adjustment);
	}
	long long t3 = cpu_ticks(hog);
	int share_free = (int)((t1 - t0) * 1000 / (hz / 2)), share_managed = (int)((t3 - t2) * 1000 / hz);
	printf("guest: the hog's CPU share: %d per mille unmanaged, %d per mille in its second second managed "
	       "(target 300)\n",
	       share_free, share_managed);
	int n = log_read(fd, &from, records, SAFEX_LOG_SIZE), applied = 0;
	long long least = 1 << 30, most = 0;
	for (int i = 0; i < n; i++)
		if (records[i].kind == SAFEX_LOG_APPLIED) {
			applied++;
			least = records[i].new_value < least ? records[i].new_value : least;
			most = records[i].new_value > most ? records[i].new_value : most;
		}
	printf("guest: %d reservations applied, from %lld to %lld us per 100 ms\n", applied, least, most);
	check(share_free > 800, "unmanaged, the hog takes the CPU", "it did not");
	check(applied > 1 && least >= 100 && most <= 85000, "the PID extension's results became the hog's reservations",
	      "none applied");
	/*
	 * Not a fixed share: the guard stops the hog for a period
	 * whenever its average over two periods exceeds its target, and the
	 * PID's integral winds up meanwhile, so its reservation swings.
	 */
	check(share_managed < 650 && share_managed < share_free * 2 / 3, "managed, the hog's share came down towards its target",
	      "it did not");

	check(ext_info(fd, pid_ext, &before) == 0 && before.invocations > 20,
	      "the hog's extension runs once a period", "too few invocations");
	struct safex_stats st = { .size = sizeof(st), .flags = SAFEX_STATS_RESET }, again = st;
	check(call(fd, SAFEX_IOC_STATS, &st) == 0 && st.period_us == 10000 && st.rounds > 100 && st.longest_gap_ns > 0,
	      "SAFEX_IOC_STATS counts the periodic rounds", "wrong counters");
	printf("guest: stats: %llu rounds every %llu us, longest gap %llu us, %llu reservations refused\n",
	       (unsigned long long)st.rounds, (unsigned long long)st.period_us,
	       (unsigned long long)st.longest_gap_ns / 1000, (unsigned long long)st.refused);
	again.flags = 0;
	check(call(fd, SAFEX_IOC_STATS, &again) == 0 && again.rounds < st.rounds && again.now_ns > st.now_ns,
	      "SAFEX_IOC_STATS_RESET starts the counters again", "not reset");
	again.flags = 2;
	check(call(fd, SAFEX_IOC_STATS, &again) == -EINVAL, "an unknown stats flag is EINVAL", "not EINVAL");
	check(app_set(fd, "spin", 0, 10000, 1000) == 0 && load(fd, "/objects/runaway.o", "spin", 0, &spin) == 0,
	      "a runaway loads beside it", "refused");
	sleep(1);
	check(ext_info(fd, spin, &info) == 0 && info.state == SAFEX_STATE_QUARANTINED && info.deadlines == 3,
	      "the service manager stops the runaway and quarantines it", "it did not");
	check(ext_info(fd, pid_ext, &info) == 0 && info.invocations > before.invocations + 10 && info.aborts == 0,
	      "the other application's extension kept running", "it stopped");
	kill(hog, SIGKILL);
	waitpid(hog, NULL, 0);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "unkeyed";
	int keyed = strcmp(mode, "unkeyed") != 0;
	struct stat st;
	check(stat("/dev/safex", &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_uid == 0,
	      "device node is root-only (0600)", "mode or owner");

	int fd = open("/dev/safex", O_RDWR);
	check(fd >= 0, "root opens /dev/safex", "open");
	if (fd < 0)
		return 1;

	struct safex_version v = { .size = sizeof(v) };
	check(call(fd, SAFEX_IOC_VERSION, &v) == 0 && v.uapi == SAFEX_UAPI_VERSION && v.abi == SAFEX_ABI_VERSION,
	      "version: uapi and extension ABI", "wrong answer");

	struct safex_version bad = { .size = sizeof(bad) + 8 };
	check(call(fd, SAFEX_IOC_VERSION, &bad) == -EINVAL, "a wrong size is EINVAL", "not EINVAL");
	struct safex_version reserved = { .size = sizeof(reserved), .reserved = 1 };
	check(call(fd, SAFEX_IOC_VERSION, &reserved) == -EINVAL, "a reserved field set is EINVAL", "not EINVAL");
	check(call(fd, SAFEX_IOC_VERSION, NULL) == -EFAULT, "a null argument is EFAULT", "not EFAULT");
	check(call(fd, SAFEX_IOC_VERSION, (void *)1) == -EFAULT, "a bad pointer is EFAULT", "not EFAULT");
	check(call(fd, _IOWR(SAFEX_IOC_MAGIC, 99, struct safex_version), &v) == -ENOTTY, "an unknown command is ENOTTY",
	      "not ENOTTY");
	check(call(fd, 0, &v) == -ENOTTY, "command 0 is ENOTTY", "not ENOTTY");
	if (strcmp(mode, "serving") == 0) {
		serving(fd);
		close(fd);
		return failed;
	}
	signatures(fd, keyed);
	if (keyed)
		loading(fd);

	/* Not root: no open (mode 0600), and no command through a descriptor root opened. */
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		int refused_open = open("/dev/safex", O_RDWR) < 0 && errno == EACCES;
		int refused_command = call(fd, SAFEX_IOC_VERSION, &v) == -EPERM;
		_exit(refused_open ? (refused_command ? 0 : 5) : 4);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a non-root caller is refused (EACCES, EPERM)",
	      WEXITSTATUS(status) == 4 ? "it opened the device" : "a command ran for it");

	close(fd);
	return failed;
}
