// SPDX-License-Identifier: GPL-2.0
/*
 * The SafeX loader module: /dev/safex, through which `safexc` manages
 * verified extensions in the kernel.
 *
 * So far: the device, the command path (permission and argument checks)
 * and the trust gate: an object is accepted only with a signature of the
 * key given at insmod time (`pubkey=`, the hex DER RSAPublicKey `safexc
 * keygen` prints), verified with the kernel's own public_key code
 * (RSASSA-PKCS1-v1_5, SHA-256). `safexc sign` signs only objects that pass
 * every check the user-space loader makes; the kernel holds no secret.
 * Tested in a booted Debian kernel by kmod/tests/qemu.sh. Loading objects
 * is not implemented yet: no command runs extension code.
 *
 * Every command checks CAP_SYS_ADMIN (the device node is also 0600), copies
 * a size-prefixed argument struct, refuses a size it does not know
 * (-EINVAL), an unreadable or unwritable argument (-EFAULT), non-zero
 * reserved fields (-EINVAL) and unknown commands (-ENOTTY).
 */
#include <crypto/akcipher.h>
#include <crypto/public_key.h>
#include <crypto/sha2.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "safex_abi.h"
#include "safex_uapi.h"

static char *pubkey;
module_param(pubkey, charp, 0);
MODULE_PARM_DESC(pubkey, "the signing key: hex DER RSAPublicKey, as `safexc keygen` prints it");

/* The public key, decoded and checked at init; NULL if none was given. */
static u8 *safex_key;
static u32 safex_key_len;
/* The length of its signatures: the modulus size. */
static u32 safex_sig_len;

/* The signature trailer: signature, its length (u32 LE), the magic. */
#define SAFEX_SIG_TRAILER 12u
#define SAFEX_SIG_MAX 512u

/*
 * Verifies that the signed object buf[0..len) carries a signature of the
 * module's key over its object part.
 */
static int safex_verify(const u8 *buf, size_t len)
{
	u8 digest[SHA256_DIGEST_SIZE];
	struct public_key key = {
		.key = safex_key,
		.keylen = safex_key_len,
		.id_type = "X509",
		.pkey_algo = "rsa",
	};
	struct public_key_signature sig = {
		.digest = digest,
		.digest_size = sizeof(digest),
		.pkey_algo = "rsa",
		.hash_algo = "sha256",
		.encoding = "pkcs1",
	};
	size_t object_len;
	__le32 sig_len_le;
	u32 sig_len;
	int err;

	if (len < SAFEX_SIG_TRAILER || memcmp(buf + len - 8, SAFEX_SIG_MAGIC, 8) != 0)
		return -EBADMSG;
	if (!safex_key)
		return -ENOKEY;
	memcpy(&sig_len_le, buf + len - SAFEX_SIG_TRAILER, sizeof(sig_len_le));
	sig_len = le32_to_cpu(sig_len_le);
	if (sig_len != safex_sig_len || sig_len > len - SAFEX_SIG_TRAILER)
		return -EBADMSG;
	object_len = len - SAFEX_SIG_TRAILER - sig_len;
	sig.s = (u8 *)buf + object_len;
	sig.s_size = sig_len;
	sha256(buf, object_len, digest);
	err = public_key_verify_signature(&key, &sig);
	/*
	 * A digest that differs is EKEYREJECTED; a signature that another key
	 * made, or that was changed, decodes to invalid padding, which the
	 * kernel reports as EINVAL or EBADMSG. All say the same: it does not
	 * verify with this key.
	 */
	return err == -ENOMEM ? err : err ? -EKEYREJECTED : 0;
}

/*
 * Decodes the hex `pubkey` parameter and checks that the kernel's RSA takes
 * it as a public key, noting its signature length.
 */
static int safex_set_key(const char *hex)
{
	size_t hex_len = strlen(hex);
	struct crypto_akcipher *rsa;
	int err;

	if (hex_len == 0 || hex_len % 2 || hex_len / 2 > 4096)
		return -EINVAL;
	safex_key_len = hex_len / 2;
	safex_key = kmalloc(safex_key_len, GFP_KERNEL);
	if (!safex_key)
		return -ENOMEM;
	err = hex2bin(safex_key, hex, safex_key_len);
	if (err)
		goto fail;
	rsa = crypto_alloc_akcipher("rsa", 0, 0);
	if (IS_ERR(rsa)) {
		err = PTR_ERR(rsa);
		goto fail;
	}
	err = crypto_akcipher_set_pub_key(rsa, safex_key, safex_key_len);
	if (!err)
		safex_sig_len = crypto_akcipher_maxsize(rsa);
	crypto_free_akcipher(rsa);
	if (!err && (safex_sig_len == 0 || safex_sig_len > SAFEX_SIG_MAX))
		err = -EINVAL;
	if (!err)
		return 0;
fail:
	kfree(safex_key);
	safex_key = NULL;
	return err;
}

static long safex_check(void __user *arg)
{
	struct safex_object o;
	u8 *buf;
	long err;

	if (copy_from_user(&o, arg, sizeof(o)))
		return -EFAULT;
	if (o.size != sizeof(o) || o.reserved != 0)
		return -EINVAL;
	if (o.len > SAFEX_MAX_OBJECT)
		return -E2BIG;
	buf = kvmalloc(o.len ? o.len : 1, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	err = copy_from_user(buf, u64_to_user_ptr(o.data), o.len) ? -EFAULT : safex_verify(buf, o.len);
	kvfree(buf);
	return err;
}

static long safex_version(void __user *arg)
{
	struct safex_version v;

	if (copy_from_user(&v, arg, sizeof(v)))
		return -EFAULT;
	if (v.size != sizeof(v) || v.reserved != 0)
		return -EINVAL;
	v.uapi = SAFEX_UAPI_VERSION;
	v.abi = SAFEX_ABI_VERSION;
	if (copy_to_user(arg, &v, sizeof(v)))
		return -EFAULT;
	return 0;
}

static long safex_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	switch (cmd) {
	case SAFEX_IOC_VERSION:
		return safex_version((void __user *)arg);
	case SAFEX_IOC_CHECK:
		return safex_check((void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations safex_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = safex_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice safex_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "safex",
	.fops = &safex_fops,
	.mode = 0600,
};

static int __init safex_init(void)
{
	int err;

	if (pubkey && *pubkey) {
		err = safex_set_key(pubkey);
		if (err) {
			pr_err("safex: pubkey= is not the hex of a DER RSAPublicKey (%d)\n", err);
			return err == -ENOMEM ? err : -EINVAL;
		}
	}
	err = misc_register(&safex_dev);
	if (err) {
		kfree(safex_key);
		return err;
	}
	pr_info("safex: /dev/safex ready (uapi %u, extension ABI %u, %s)\n", SAFEX_UAPI_VERSION, SAFEX_ABI_VERSION,
		safex_key ? "signing key set" : "no signing key: every object is refused");
	return 0;
}

static void __exit safex_exit(void)
{
	misc_deregister(&safex_dev);
	kfree(safex_key);
	pr_info("safex: unloaded\n");
}

module_init(safex_init);
module_exit(safex_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("SafeX: loader of verified kernel extensions");
