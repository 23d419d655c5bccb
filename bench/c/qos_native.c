/* The native baseline of the QoS round (bench/src/bin/qos_bench.rs):
 * qos_logic.h compiled at -O2 by bench/build.rs. */
#include "qos_logic.h"

static struct qos_proc table[QOS_MAXP];
static __u32 procs;

/* The initial state of every benchmark for the first n processes. */
void qos_native_init(__u32 n)
{
	if (n > QOS_MAXP)
		n = QOS_MAXP;
	procs = n;
	for (__u32 i = 0; i < QOS_MAXP; i++)
		qos_init_one(&table[i], i);
}

/* One service round: every process steps; the sum of the timeslices. */
__s64 qos_native_round(void)
{
	__s64 sum = 0;
	for (__u32 i = 0; i < procs; i++)
		sum += qos_step(&table[i]);
	return sum;
}

/* The initial state of one process, for the eBPF program's map. */
void qos_native_init_one(struct qos_proc *p, __u32 i)
{
	qos_init_one(p, i);
}

/* qos_checksum over the native state (validation only). */
__u64 qos_native_checksum(void)
{
	return qos_checksum(table, procs);
}
