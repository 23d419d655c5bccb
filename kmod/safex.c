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
 * Behind the signature, the module still checks the object's shape (ELF
 * header and section table in bounds, one `.safex.meta` whose digest, ABI
 * version and flags hold): a key holder's mistake must not become an out-of-
 * bounds read.
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
#include <linux/elf.h>
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

/* The `.safex.meta` header (docs/object.md): magic, ABI, flags, ..., a trailing SHA-256. */
#define SAFEX_META_MAGIC "SXMETA\0\0"
#define SAFEX_META_HEADER 120u
#define SAFEX_META_NO_FUEL 1u

/* Whether [off, off + size) lies inside an object of len bytes. */
static bool safex_in_bounds(u64 off, u64 size, size_t len)
{
	return off <= len && size <= len - off;
}

/*
 * Finds the one section named `name` of the ELF object obj[0..len),
 * checking the header and every section header on the way: -ENOEXEC for
 * anything but an x86-64 little-endian relocatable object whose sections
 * and names lie in bounds, or for a name found twice or not at all.
 */
static int safex_section(const u8 *obj, size_t len, const char *name, const u8 **data, size_t *size)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)obj;
	const Elf64_Shdr *sh, *names;
	size_t name_len = strlen(name);
	bool found = false;
	unsigned int i;

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_type != ET_REL || eh->e_machine != EM_X86_64 ||
	    eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shnum == 0 || eh->e_shstrndx >= eh->e_shnum ||
	    !safex_in_bounds(eh->e_shoff, (u64)eh->e_shnum * sizeof(Elf64_Shdr), len) ||
	    eh->e_shoff % __alignof__(Elf64_Shdr) != 0)
		return -ENOEXEC;
	sh = (const Elf64_Shdr *)(obj + eh->e_shoff);
	names = &sh[eh->e_shstrndx];
	if (names->sh_type != SHT_STRTAB || !safex_in_bounds(names->sh_offset, names->sh_size, len))
		return -ENOEXEC;
	for (i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_NOBITS && !safex_in_bounds(sh[i].sh_offset, sh[i].sh_size, len))
			return -ENOEXEC;
		if (sh[i].sh_name > names->sh_size || names->sh_size - sh[i].sh_name < name_len + 1)
			continue;
		if (memcmp(obj + names->sh_offset + sh[i].sh_name, name, name_len + 1) != 0)
			continue;
		if (found || sh[i].sh_type == SHT_NOBITS)
			return -ENOEXEC;
		found = true;
		*data = obj + sh[i].sh_offset;
		*size = sh[i].sh_size;
	}
	return found ? 0 : -ENOEXEC;
}

/* Checks the object's `.safex.meta`: its digest, ABI version and flags. */
static int safex_check_meta(const u8 *obj, size_t len)
{
	u8 digest[SHA256_DIGEST_SIZE];
	const u8 *meta;
	size_t meta_len;
	__le32 field;
	int err = safex_section(obj, len, ".safex.meta", &meta, &meta_len);

	if (err)
		return err;
	if (meta_len < SAFEX_META_HEADER + SHA256_DIGEST_SIZE || memcmp(meta, SAFEX_META_MAGIC, 8) != 0)
		return -EBADMSG;
	sha256(meta, meta_len - SHA256_DIGEST_SIZE, digest);
	if (memcmp(digest, meta + meta_len - SHA256_DIGEST_SIZE, SHA256_DIGEST_SIZE) != 0)
		return -EBADMSG;
	memcpy(&field, meta + 8, sizeof(field));
	if (le32_to_cpu(field) != SAFEX_ABI_VERSION)
		return -EPROTO;
	memcpy(&field, meta + 12, sizeof(field));
	if (le32_to_cpu(field) & ~SAFEX_META_NO_FUEL)
		return -EBADMSG;
	if (le32_to_cpu(field) & SAFEX_META_NO_FUEL)
		return -EACCES;
	return 0;
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
	if (!err)
		err = safex_check_meta(buf, o.len - SAFEX_SIG_TRAILER - safex_sig_len);
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
