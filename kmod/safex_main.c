// SPDX-License-Identifier: GPL-2.0
/*
 * The SafeX loader module: /dev/safex, through which `safexc` loads
 * verified extensions into the kernel and the in-kernel CPU service
 * manager runs them (safex_internal.h says which file does what).
 *
 * The trust gate: an object is accepted only with a signature of the key
 * given at insmod time (`pubkey=`, the hex DER RSAPublicKey `safexc
 * keygen` prints), verified with the kernel's own public_key code
 * (RSASSA-PKCS1-v1_5, SHA-256). `safexc sign` signs only objects that pass
 * every check the user-space loader makes; the kernel holds no secret.
 *
 * Every command checks CAP_SYS_ADMIN (the device node is also 0600),
 * copies a size-prefixed argument struct, refuses a size it does not know
 * (-EINVAL), an unreadable or unwritable argument (-EFAULT), non-zero
 * reserved fields and flags (-EINVAL) and unknown commands (-ENOTTY).
 * Tested in booted Debian kernels by kmod/tests/qemu.sh.
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

#include "safex_internal.h"

DEFINE_MUTEX(safex_lock);

unsigned int safex_period_ms = 10;
module_param_named(period_ms, safex_period_ms, uint, 0444);
MODULE_PARM_DESC(period_ms, "the service round's period, in ms (1..1000)");
unsigned int safex_deadline_us = 1000;
module_param_named(deadline_us, safex_deadline_us, uint, 0444);
MODULE_PARM_DESC(deadline_us, "an invocation's time budget, in us, past which it is stopped (10..10^6)");
unsigned int safex_quarantine_after = 3;
module_param_named(quarantine_after, safex_quarantine_after, uint, 0444);
MODULE_PARM_DESC(quarantine_after, "aborts after which an extension stops running (0: never)");
unsigned long safex_default_fuel = 1000000;
module_param_named(default_fuel, safex_default_fuel, ulong, 0444);
MODULE_PARM_DESC(default_fuel, "fuel of an invocation of an extension that declares no budget");
unsigned long safex_max_fuel = 100000000;
module_param_named(max_fuel, safex_max_fuel, ulong, 0444);
MODULE_PARM_DESC(max_fuel, "the largest budget an extension may declare");
static bool autorun = true;
module_param(autorun, bool, 0444);
MODULE_PARM_DESC(autorun, "run the service round every period_ms (else only on SAFEX_IOC_ROUND)");

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
		return -ENODATA;
	if (!safex_key)
		return -ENOKEY;
	memcpy(&sig_len_le, buf + len - SAFEX_SIG_TRAILER, sizeof(sig_len_le));
	sig_len = le32_to_cpu(sig_len_le);
	if (sig_len != safex_sig_len || sig_len > len - SAFEX_SIG_TRAILER)
		return -ENODATA;
	object_len = len - SAFEX_SIG_TRAILER - sig_len;
	sig.s = (u8 *)buf + object_len;
	sig.s_size = sig_len;
	sha256(buf, object_len, digest);
	err = public_key_verify_signature(&key, &sig);
	/*
	 * The kernel's pkcs1pad tells the two failures apart: a signature
	 * whose encoding is this key's but whose digest differs (the object
	 * changed after signing) is EKEYREJECTED; one that another key made,
	 * or whose bytes changed, decodes to invalid padding (EBADMSG, or
	 * EINVAL from the RSA primitive for a value past the modulus).
	 */
	if (err == -ENOMEM || err == -EKEYREJECTED || !err)
		return err;
	return -EBADMSG;
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

/*
 * Copies a signed object from user memory and checks its signature;
 * returns the buffer (kvfree it) and the object part's length.
 */
static u8 *signed_object(u64 data, u64 len, size_t *object_len, int *err)
{
	u8 *buf;

	if (len > SAFEX_MAX_OBJECT) {
		*err = -E2BIG;
		return NULL;
	}
	buf = kvmalloc(len ? len : 1, GFP_KERNEL);
	if (!buf) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = copy_from_user(buf, u64_to_user_ptr(data), len) ? -EFAULT : safex_verify(buf, len);
	if (*err) {
		kvfree(buf);
		return NULL;
	}
	*object_len = len - SAFEX_SIG_TRAILER - safex_sig_len;
	return buf;
}

/* Copies a size-prefixed argument in: EFAULT, or EINVAL for another size. */
static int arg_in(void *karg, size_t size, void __user *arg)
{
	if (copy_from_user(karg, arg, size))
		return -EFAULT;
	return *(u32 *)karg == size ? 0 : -EINVAL;
}

/* A name field holds a NUL-terminated string. */
static bool name_ok(const char *name, bool may_be_empty)
{
	size_t n = strnlen(name, SAFEX_NAME_MAX);

	return n < SAFEX_NAME_MAX && (n > 0 || may_be_empty);
}

static long cmd_version(void __user *arg)
{
	struct safex_version v;
	int err = arg_in(&v, sizeof(v), arg);

	if (err)
		return err;
	if (v.reserved != 0)
		return -EINVAL;
	v.uapi = SAFEX_UAPI_VERSION;
	v.abi = SAFEX_ABI_VERSION;
	return copy_to_user(arg, &v, sizeof(v)) ? -EFAULT : 0;
}

static long cmd_check(void __user *arg)
{
	struct safex_object o;
	struct sx_ext *ext;
	size_t object_len;
	u8 *buf;
	int err = arg_in(&o, sizeof(o), arg);

	if (err)
		return err;
	if (o.reserved != 0)
		return -EINVAL;
	buf = signed_object(o.data, o.len, &object_len, &err);
	if (!buf)
		return err;
	mutex_lock(&safex_lock);
	err = safex_object_load(buf, object_len, &ext);
	safex_ext_free(ext);
	mutex_unlock(&safex_lock);
	kvfree(buf);
	return err;
}

static long cmd_app(void __user *arg)
{
	struct safex_app a;
	int err = arg_in(&a, sizeof(a), arg);

	if (err)
		return err;
	if (a.flags != 0 || a.reserved != 0 || !name_ok(a.name, false))
		return -EINVAL;
	mutex_lock(&safex_lock);
	err = safex_app_set(a.name, a.pid, a.period_us, a.target_us, &a.id);
	mutex_unlock(&safex_lock);
	if (err)
		return err;
	return copy_to_user(arg, &a, sizeof(a)) ? -EFAULT : 0;
}

static long cmd_load(void __user *arg)
{
	struct safex_load l;
	struct sx_ext *ext;
	size_t object_len;
	bool guard;
	u8 *buf;
	int err = arg_in(&l, sizeof(l), arg);

	if (err)
		return err;
	guard = l.flags & SAFEX_LOAD_GUARD;
	if ((l.flags & ~SAFEX_LOAD_GUARD) || l.reserved != 0 || !name_ok(l.app, guard) || (guard && l.app[0]))
		return -EINVAL;
	buf = signed_object(l.data, l.len, &object_len, &err);
	if (!buf)
		return err;
	mutex_lock(&safex_lock);
	err = safex_object_load(buf, object_len, &ext);
	if (!err) {
		err = safex_ext_add(ext, l.app, guard);
		if (err)
			safex_ext_free(ext);
		else
			l.id = ext->id;
	}
	mutex_unlock(&safex_lock);
	kvfree(buf);
	if (err)
		return err;
	/* Loaded: a caller that cannot read the id can still list it. */
	return copy_to_user(arg, &l, sizeof(l)) ? -EFAULT : 0;
}

static long cmd_unload(void __user *arg, bool release)
{
	struct safex_unload u;
	struct sx_ext *ext;
	int err = arg_in(&u, sizeof(u), arg);

	if (err)
		return err;
	mutex_lock(&safex_lock);
	ext = safex_ext_find(u.id);
	if (!ext) {
		err = -ENOENT;
	} else if (release) {
		ext->quarantined = false;
		ext->counters.aborts = 0;
	} else {
		safex_ext_remove(ext);
	}
	mutex_unlock(&safex_lock);
	return err;
}

static void ext_info(const struct sx_ext *ext, struct safex_ext_info *i)
{
	const struct sx_counters *c = &ext->counters;
	u32 k;

	memset(i, 0, sizeof(*i));
	i->id = ext->id;
	i->state = ext->quarantined ? SAFEX_STATE_QUARANTINED : SAFEX_STATE_ACTIVE;
	strscpy(i->name, ext->name, sizeof(i->name));
	if (ext->app)
		strscpy(i->app, ext->app->name, sizeof(i->app));
	i->entries = ext->n_entries;
	i->invocations = c->invocations;
	i->aborts = c->aborts;
	i->deadlines = c->deadlines;
	i->out_of_fuel = c->out_of_fuel;
	i->exceptions = c->exceptions;
	i->host_aborts = c->host_aborts;
	i->fuel_used = c->fuel_used;
	i->time_ns = c->time_ns;
	i->events_raised = c->events_raised;
	for (k = 0; k < ext->n_entries; k++) {
		strscpy(i->entry[k].name, ext->entry[k].name, sizeof(i->entry[k].name));
		strscpy(i->entry[k].target, ext->entry[k].target, sizeof(i->entry[k].target));
		i->entry[k].kind = ext->entry[k].kind;
	}
}

static long cmd_list(void __user *arg)
{
	struct safex_list l;
	struct safex_ext_info *infos;
	struct sx_ext *ext;
	u32 n = 0, room;
	int err = arg_in(&l, sizeof(l), arg);

	if (err)
		return err;
	room = min(l.count, SAFEX_MAX_EXTENSIONS);
	infos = kvcalloc(max(room, 1u), sizeof(*infos), GFP_KERNEL);
	if (!infos)
		return -ENOMEM;
	mutex_lock(&safex_lock);
	list_for_each_entry(ext, &safex_exts, node) {
		if (n < room)
			ext_info(ext, &infos[n]);
		n++;
	}
	mutex_unlock(&safex_lock);
	if (copy_to_user(u64_to_user_ptr(l.exts), infos, (size_t)min(n, room) * sizeof(*infos)))
		err = -EFAULT;
	kvfree(infos);
	l.count = n;
	if (!err && copy_to_user(arg, &l, sizeof(l)))
		err = -EFAULT;
	return err;
}

/* The flat index of `class.attr`, or of an attribute name only one class has. */
static int find_attr(const char *name, u32 *attr)
{
	const char *dot = strchr(name, '.');
	u32 c, a, found = 0;

	for (c = 0; c < SAFEX_CLASS_COUNT; c++) {
		const struct safex_class_def *def = &safex_classes[c];

		if (dot && (strlen(def->name) != dot - name || memcmp(def->name, name, dot - name) != 0))
			continue;
		for (a = 0; a < def->attrs; a++) {
			if (strcmp(safex_attrs[def->first + a].name, dot ? dot + 1 : name) == 0) {
				*attr = def->first + a;
				found++;
			}
		}
	}
	return found == 1 ? 0 : -ENOENT;
}

static long cmd_attr(void __user *arg)
{
	struct safex_attr a;
	const struct safex_attr_def *def;
	struct sx_app *app;
	u32 attr;
	int err = arg_in(&a, sizeof(a), arg);

	if (err)
		return err;
	if (a.op > SAFEX_ATTR_WRITE || !name_ok(a.app, false) || !name_ok(a.attr, false))
		return -EINVAL;
	if (find_attr(a.attr, &attr))
		return -ENOENT;
	def = &safex_attrs[attr];
	if (a.op == SAFEX_ATTR_WRITE && (((def->flags & SAFEX_ATTR_RANGE) && (a.value < def->lo || a.value > def->hi)) ||
					 (def->type == SAFEX_ATTR_BOOL && (a.value < 0 || a.value > 1))))
		return -ERANGE;
	mutex_lock(&safex_lock);
	app = safex_app_find(a.app);
	if (!app)
		err = -ENOENT;
	else if (a.op == SAFEX_ATTR_WRITE)
		app->values[attr] = a.value;
	else
		a.value = app->values[attr];
	mutex_unlock(&safex_lock);
	if (err)
		return err;
	return copy_to_user(arg, &a, sizeof(a)) ? -EFAULT : 0;
}

static long cmd_log(void __user *arg)
{
	struct safex_log l;
	struct safex_log_record *records;
	int err = arg_in(&l, sizeof(l), arg);

	if (err)
		return err;
	l.count = min(l.count, SAFEX_LOG_SIZE);
	records = kvcalloc(max(l.count, 1u), sizeof(*records), GFP_KERNEL);
	if (!records)
		return -ENOMEM;
	mutex_lock(&safex_lock);
	safex_log_read(&l, records);
	mutex_unlock(&safex_lock);
	if (copy_to_user(u64_to_user_ptr(l.records), records, (size_t)l.count * sizeof(*records)) ||
	    copy_to_user(arg, &l, sizeof(l)))
		err = -EFAULT;
	kvfree(records);
	return err;
}

static long cmd_invoke(void __user *arg)
{
	struct safex_invoke v;
	struct safex_outcome out = {};
	struct sx_ext *ext;
	u64 elapsed = 0, held_since;
	u32 i;
	int err = arg_in(&v, sizeof(v), arg);

	if (err)
		return err;
	if (v.repeat < 1 || v.repeat > 1000000)
		return -EINVAL;
	mutex_lock(&safex_lock);
	held_since = ktime_get_ns();
	ext = safex_ext_find(v.id);
	if (!ext || v.entry >= ext->n_entries)
		err = -ENOENT;
	else if (!ext->app || ext->entry[v.entry].kind == SAFEX_ENTRY_GUARD)
		err = -EPERM;
	for (i = 0; !err && i < v.repeat; i++) {
		if (ext->quarantined) {
			err = -ESHUTDOWN;
			break;
		}
		safex_invoke(ext, v.entry, ext->app, v.value, &out);
		elapsed += out.elapsed_ns;
		/* Let the service rounds (and other commands) in every millisecond. */
		if (ktime_get_ns() - held_since > NSEC_PER_MSEC || need_resched()) {
			mutex_unlock(&safex_lock);
			cond_resched();
			mutex_lock(&safex_lock);
			held_since = ktime_get_ns();
			if (safex_ext_find(v.id) != ext)
				err = -ENOENT;
		}
	}
	mutex_unlock(&safex_lock);
	if (err)
		return err;
	v.ret = out.ret;
	v.status = (u32)out.status;
	v.deadline = out.deadline;
	v.elapsed_ns = elapsed;
	return copy_to_user(arg, &v, sizeof(v)) ? -EFAULT : 0;
}

static long cmd_round(void __user *arg)
{
	struct safex_round r;
	u64 t0;
	u32 i;
	int err = arg_in(&r, sizeof(r), arg);

	if (err)
		return err;
	if (r.rounds < 1 || r.rounds > 1000000)
		return -EINVAL;
	r.elapsed_ns = 0;
	for (i = 0; i < r.rounds; i++) {
		mutex_lock(&safex_lock);
		t0 = ktime_get_ns();
		safex_round();
		r.elapsed_ns += ktime_get_ns() - t0;
		mutex_unlock(&safex_lock);
		cond_resched();
	}
	return copy_to_user(arg, &r, sizeof(r)) ? -EFAULT : 0;
}

static long cmd_stats(void __user *arg)
{
	struct safex_stats st;
	int err = arg_in(&st, sizeof(st), arg);

	if (err)
		return err;
	if (st.flags & ~SAFEX_STATS_RESET)
		return -EINVAL;
	mutex_lock(&safex_lock);
	safex_stats(&st, st.flags & SAFEX_STATS_RESET);
	mutex_unlock(&safex_lock);
	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}

static long safex_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *p = (void __user *)arg;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	switch (cmd) {
	case SAFEX_IOC_VERSION:
		return cmd_version(p);
	case SAFEX_IOC_CHECK:
		return cmd_check(p);
	case SAFEX_IOC_APP:
		return cmd_app(p);
	case SAFEX_IOC_LOAD:
		return cmd_load(p);
	case SAFEX_IOC_UNLOAD:
		return cmd_unload(p, false);
	case SAFEX_IOC_RELEASE:
		return cmd_unload(p, true);
	case SAFEX_IOC_LIST:
		return cmd_list(p);
	case SAFEX_IOC_ATTR:
		return cmd_attr(p);
	case SAFEX_IOC_LOG:
		return cmd_log(p);
	case SAFEX_IOC_INVOKE:
		return cmd_invoke(p);
	case SAFEX_IOC_ROUND:
		return cmd_round(p);
	case SAFEX_IOC_STATS:
		return cmd_stats(p);
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

	if (safex_period_ms < 1 || safex_period_ms > 1000 || safex_deadline_us < 10 || safex_deadline_us > 1000000 ||
	    safex_max_fuel < 1 || safex_max_fuel > (1ul << 40) || safex_default_fuel < 1 ||
	    safex_default_fuel > safex_max_fuel) {
		pr_err("safex: period_ms must be in [1, 1000], deadline_us in [10, 10^6], 1 <= default_fuel <= max_fuel <= 2^40\n");
		return -EINVAL;
	}
	if (pubkey && *pubkey) {
		err = safex_set_key(pubkey);
		if (err) {
			pr_err("safex: pubkey= is not the hex of a DER RSAPublicKey (%d)\n", err);
			return err == -ENOMEM ? err : -EINVAL;
		}
	}
	err = safex_exec_init();
	if (err)
		goto no_exec;
	err = safex_manager_init(autorun);
	if (err)
		goto no_manager;
	err = misc_register(&safex_dev);
	if (err)
		goto no_device;
	pr_info("safex: /dev/safex ready (uapi %u, extension ABI %u, %s)\n", SAFEX_UAPI_VERSION, SAFEX_ABI_VERSION,
		safex_key ? "signing key set" : "no signing key: every object is refused");
	return 0;
no_device:
	safex_manager_exit();
no_manager:
	safex_exec_exit();
no_exec:
	kfree(safex_key);
	return err;
}

static void __exit safex_exit(void)
{
	misc_deregister(&safex_dev);
	safex_manager_exit();
	safex_exec_exit();
	kfree(safex_key);
	pr_info("safex: unloaded\n");
}

module_init(safex_init);
module_exit(safex_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("SafeX: loader of verified kernel extensions");
