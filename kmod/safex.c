// SPDX-License-Identifier: GPL-2.0
/*
 * The SafeX loader module: /dev/safex, through which `safexc` manages
 * verified extensions in the kernel.
 *
 * This is its first piece: the device and the command path (permission
 * and argument checks), tested in a booted Debian kernel by
 * kmod/tests/qemu.sh. Loading objects is not implemented yet: no command
 * runs extension code.
 *
 * Every command checks CAP_SYS_ADMIN (the device node is also 0600), copies
 * a size-prefixed argument struct, refuses a size it does not know
 * (-EINVAL), an unreadable or unwritable argument (-EFAULT), non-zero
 * reserved fields (-EINVAL) and unknown commands (-ENOTTY).
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include "safex_abi.h"
#include "safex_uapi.h"

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
	int err = misc_register(&safex_dev);

	if (err)
		return err;
	pr_info("safex: /dev/safex ready (uapi %u, extension ABI %u)\n", SAFEX_UAPI_VERSION, SAFEX_ABI_VERSION);
	return 0;
}

static void __exit safex_exit(void)
{
	misc_deregister(&safex_dev);
	pr_info("safex: unloaded\n");
}

module_init(safex_init);
module_exit(safex_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("SafeX: loader of verified kernel extensions");
