/* The QoS round as an eBPF program (bench/src/bin/qos_bench.rs): the same
 * qos_logic.h, built with clang -target bpf -O2 by bench/build.rs, loaded by
 * the benchmark with the bpf syscall (no libbpf: it creates the map and
 * patches the map reference itself) and run with BPF_PROG_TEST_RUN. The
 * program returns the round's sum of timeslices. */
#include "qos_logic.h"

#define SEC(name) __attribute__((section(name), used))

/* The state: the process count, then the processes. The loader creates an
 * array map of one such value and points `qos_state` at it. */
struct qos_state {
	__u32 n;
	__u32 pad;
	struct qos_proc p[QOS_MAXP];
};

/* Only its address matters: every `ld_imm64` of it is relocated to the
 * map's file descriptor by the loader. */
struct qos_map_def {
	__u32 type, key_size, value_size, max_entries;
} qos_state SEC("maps") = { 2 /* BPF_MAP_TYPE_ARRAY */, 4, sizeof(struct qos_state), 1 };

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

SEC("socket")
int qos_round(void *skb)
{
	__u32 key = 0;
	struct qos_state *s = bpf_map_lookup_elem(&qos_state, &key);
	if (!s)
		return 0;
	__u32 n = s->n;
	if (n > QOS_MAXP)
		n = QOS_MAXP;
	__s32 sum = 0;
	for (__u32 i = 0; i < n; i++)
		sum += qos_step(&s->p[i]);
	return sum;
}

char _license[] SEC("license") = "GPL";
