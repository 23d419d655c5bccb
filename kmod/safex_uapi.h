/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * The /dev/safex interface between `safexc` and the SafeX loader module.
 * Every command needs CAP_SYS_ADMIN (and the device is mode 0600).
 */
#ifndef SAFEX_UAPI_H
#define SAFEX_UAPI_H

#ifdef __KERNEL__
#include <linux/ioctl.h>
#include <linux/types.h>
#else
#include <linux/ioctl.h>
#include <stdint.h>
typedef uint32_t __u32;
#endif

#define SAFEX_IOC_MAGIC 0x5a

/* What a module speaks: its interface and extension ABI versions. */
struct safex_version {
	__u32 size;        /* in: sizeof(struct safex_version) */
	__u32 uapi;        /* out: SAFEX_UAPI_VERSION */
	__u32 abi;         /* out: the extension ABI (SAFEX_ABI_VERSION) */
	__u32 reserved;    /* in: 0 */
};

#define SAFEX_UAPI_VERSION 1u
#define SAFEX_IOC_VERSION _IOWR(SAFEX_IOC_MAGIC, 0, struct safex_version)

#endif /* SAFEX_UAPI_H */
