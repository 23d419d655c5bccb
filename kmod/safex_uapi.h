/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * The /dev/safex interface between `safexc` and the SafeX loader module.
 * Every command needs CAP_SYS_ADMIN (and the device is mode 0600).
 */
#ifndef SAFEX_UAPI_H
#define SAFEX_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

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

/*
 * A signed object in user memory: `safexc sign`'s output, the object's
 * bytes followed by an RSASSA-PKCS1-v1_5/SHA-256 signature over them,
 * its length (u32, little-endian) and the magic "SXSIG01\0".
 */
struct safex_object {
	__u32 size;        /* in: sizeof(struct safex_object) */
	__u32 reserved;    /* in: 0 */
	__u64 data;        /* in: address of the signed object */
	__u64 len;         /* in: its length in bytes, at most SAFEX_MAX_OBJECT */
};

#define SAFEX_MAX_OBJECT (16u << 20)
#define SAFEX_SIG_MAGIC "SXSIG01"  /* and its NUL: 8 bytes */

/*
 * Checks a signed object without loading it: 0 if it would be accepted.
 * First the signature: EBADMSG, not signed or a malformed signature
 * trailer; EKEYREJECTED, the signature does not verify (a changed object,
 * or another key's); ENOKEY, the module was loaded without a key; E2BIG,
 * larger than SAFEX_MAX_OBJECT. Then, the signature good, the object
 * itself (a key holder's mistake, not an attack, but the module does not
 * trust it to be of SafeX's shape): ENOEXEC, not an x86-64 ELF relocatable
 * object with sections in bounds and one .safex.meta; EPROTO, built for
 * another extension ABI; EACCES, built with --no-fuel (no bound on its run
 * time); EBADMSG, a malformed or corrupt .safex.meta.
 */
#define SAFEX_IOC_CHECK _IOW(SAFEX_IOC_MAGIC, 1, struct safex_object)

#endif /* SAFEX_UAPI_H */
