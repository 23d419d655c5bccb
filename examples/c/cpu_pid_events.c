/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cpu_pid_events: the paper's PID extension run by the SafeX daemon, from C.
 *
 * Creates an application, declares its period (10 ms) and CPU target (3 ms
 * per period) as the system would (in user space, the owner stands for the
 * system), subscribes to it, deploys the PID extension (examples/obj/
 * cpu_pid.o), and prints the first COUNT events and attribute changes: the
 * monitor raises target - actual as the event "Error" every tick (actual
 * stays 0: nothing measures it here), and the handler answers with a
 * timeslice adjustment, which the service manager's guard turns into a
 * timeslice ("applied"). Then it undeploys the extension and exits 0; any
 * error is printed as `error[CODE]: message` and exits 1.
 *
 * Usage: cpu_pid_events [-s SOCKET] [-a APP] [-n COUNT] [OBJECT]
 *   SOCKET  the daemon's socket (default: $SAFEX_SOCKET, else
 *           SAFEX_DEFAULT_SOCKET, /run/safex/safex.sock)
 *   APP     the application to create (default: cpu_pid_c)
 *   COUNT   events and changes to print (default: 10)
 *   OBJECT  the PID extension's object (default: examples/obj/cpu_pid.o)
 *
 * Build: see Makefile beside this file, or docs/c-library.md.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <safex.h>

#define PERIOD_US 10000
#define TARGET_CPU_US 3000
#define NOTICE_TIMEOUT_MS 10000

/* Prints the last error of `client` (of this thread's call without a
 * client if NULL) as `error[CODE]: message`. */
static void report(const struct safex_client *client)
{
	fprintf(stderr, "error[%s]: %s\n", safex_client_errcode(client),
		safex_client_last_error(client));
}

/* Reads the whole file at `path` into a new buffer; NULL (reported) if it
 * cannot be read or is larger than the daemon takes. */
static void *read_object(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	void *data = NULL;
	long size;

	if (!f)
		goto fail;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto fail;
	if ((unsigned long)size > SAFEX_MAX_OBJECT_BYTES) {
		fprintf(stderr, "error[D0004]: %s has %ld bytes; the daemon takes at most %d\n", path,
			size, SAFEX_MAX_OBJECT_BYTES);
		fclose(f);
		return NULL;
	}
	data = malloc(size > 0 ? (size_t)size : 1);
	if (!data)
		goto fail;
	if (fread(data, 1, (size_t)size, f) != (size_t)size || ferror(f)) {
		if (!errno)
			errno = EIO;
		goto fail;
	}
	fclose(f);
	*len = (size_t)size;
	return data;
fail:
	fprintf(stderr, "error[L0001]: cannot read %s: %s\n", path, strerror(errno));
	free(data);
	if (f)
		fclose(f);
	return NULL;
}

/* Prints one notice as a line; returns 1 for an event or a change (what
 * COUNT counts), 0 otherwise. */
static int print_notice(const struct safex_notice *n)
{
	printf("tick %" PRIu64 ": ", n->tick);
	switch (n->kind) {
	case SAFEX_NOTICE_EVENT:
		printf("event %s = %" PRId64 ", %" PRIu32 " handler%s\n", n->event.name,
		       n->event.value, n->event.handlers, n->event.handlers == 1 ? "" : "s");
		return 1;
	case SAFEX_NOTICE_CHANGE:
		printf("change %s %" PRId64 " -> %" PRId64, n->change.attribute,
		       n->change.old_value, n->change.new_value);
		if (n->change.extension_id)
			printf(" by extension %" PRIu64 " (%s)", n->change.extension_id,
			       n->change.entry);
		else
			printf(" by the API");
		printf(": %s", n->change.outcome);
		if (n->change.has_applied)
			printf(", applied %" PRId64, n->change.applied);
		printf("\n");
		return 1;
	case SAFEX_NOTICE_TRAP:
		printf("trap in extension %" PRIu64 " (%s): %s%s\n", n->trap.extension_id,
		       n->trap.entry, n->trap.trap, n->trap.quarantined ? ", quarantined" : "");
		return 0;
	case SAFEX_NOTICE_TRACE:
		printf("trace %" PRId64 " by extension %" PRIu64 " (%s) at byte %" PRId64 "\n",
		       n->trace.value, n->trace.extension_id, n->trace.entry, n->trace.site);
		return 0;
	case SAFEX_NOTICE_COUNTERS:
		printf("counters of %zu extension%s\n", n->counters.count,
		       n->counters.count == 1 ? "" : "s");
		return 0;
	case SAFEX_NOTICE_LAGGED:
		printf("lost %" PRIu64 " notices\n", n->lagged.lost);
		return 0;
	default:
		printf("a notice of a kind this program does not know\n");
		return 0;
	}
}

static void usage(void)
{
	fprintf(stderr, "error[L0003]: usage: cpu_pid_events [-s SOCKET] [-a APP] [-n COUNT] "
			"[OBJECT]\n");
}

int main(int argc, char **argv)
{
	const char *sock = getenv("SAFEX_SOCKET");
	const char *app = "cpu_pid_c";
	const char *path = "examples/obj/cpu_pid.o";
	long count = 10;
	struct safex_client *client = NULL;
	struct safex_subscription *sub = NULL;
	struct safex_notice notice;
	uint64_t id = 0;
	void *object;
	size_t len = 0;
	long printed = 0;
	int opt, err, status = 1;

	while ((opt = getopt(argc, argv, "s:a:n:")) != -1) {
		char *end;

		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'a':
			app = optarg;
			break;
		case 'n':
			errno = 0;
			count = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || count < 1 || count > 1000000) {
				fprintf(stderr, "error[L0003]: -n takes a count from 1 to 1000000, "
						"not `%s`\n", optarg);
				return 1;
			}
			break;
		default:
			usage();
			return 1;
		}
	}
	if (argc - optind > 1) {
		usage();
		return 1;
	}
	if (optind < argc)
		path = argv[optind];
	/* An empty SAFEX_SOCKET is as none; NULL is the library's default. */
	if (sock && !*sock)
		sock = NULL;

	object = read_object(path, &len);
	if (!object)
		return 1;

	if (safex_client_connect(sock, &client)) {
		report(NULL);
		free(object);
		return 1;
	}
	if (safex_app_create(client, app) ||
	    safex_attr_write(client, app, "period", PERIOD_US) ||
	    safex_attr_write(client, app, "target_cpu", TARGET_CPU_US) ||
	    /* Subscribed before the deploy: the first invocation is seen. */
	    safex_subscribe(client, app, 0, &sub) ||
	    safex_deploy(client, app, object, len, &id)) {
		report(client);
		goto out;
	}
	printf("deployed %s as extension %" PRIu64 " of %s\n", path, id, app);

	while (printed < count) {
		err = safex_subscription_next(client, sub, NOTICE_TIMEOUT_MS, &notice);
		if (err) {
			/* -EAGAIN: nothing in NOTICE_TIMEOUT_MS (D0020);
			 * -ESHUTDOWN: the daemon stopped (D0008); ... */
			report(client);
			safex_undeploy(client, id);
			goto out;
		}
		printed += print_notice(&notice);
	}
	fflush(stdout);

	if (safex_undeploy(client, id)) {
		report(client);
		goto out;
	}
	printf("undeployed extension %" PRIu64 "\n", id);
	status = 0;
out:
	safex_subscription_free(sub);
	safex_client_free(client);
	free(object);
	return status;
}
