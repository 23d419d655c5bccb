/* The four kernel integer types qos_logic.h uses, so that building the
 * QoS benchmark (natively with the `cc` crate, and with clang -target bpf)
 * does not depend on the kernel's UAPI headers being installed: CI machines
 * and clang's BPF target (which does not search the multiarch include
 * directory for <asm/types.h>) may lack them. Same widths and signedness as
 * <linux/types.h>. */
#ifndef SAFEX_BENCH_LINUX_TYPES_H
#define SAFEX_BENCH_LINUX_TYPES_H
typedef signed int __s32;
typedef unsigned int __u32;
typedef signed long long __s64;
typedef unsigned long long __u64;
#endif
