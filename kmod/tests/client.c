// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * In the guest: /dev/safex's permission and argument checks. Prints one
 * "PASS name" or "FAIL name: why" line per check; exits 1 if any failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../safex_abi.h"
#include "../safex_uapi.h"

static int failed;

static void check(int ok, const char *name, const char *why)
{
	if (ok) {
		printf("PASS %s\n", name);
	} else {
		printf("FAIL %s: %s (errno %d: %s)\n", name, why, errno, strerror(errno));
		failed = 1;
	}
}

/* The ioctl's result: 0, or -errno. */
static int call(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) == 0 ? 0 : -errno;
}

int main(void)
{
	struct stat st;
	check(stat("/dev/safex", &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_uid == 0,
	      "device node is root-only (0600)", "mode or owner");

	int fd = open("/dev/safex", O_RDWR);
	check(fd >= 0, "root opens /dev/safex", "open");
	if (fd < 0)
		return 1;

	struct safex_version v = { .size = sizeof(v) };
	check(call(fd, SAFEX_IOC_VERSION, &v) == 0 && v.uapi == SAFEX_UAPI_VERSION && v.abi == SAFEX_ABI_VERSION,
	      "version: uapi and extension ABI", "wrong answer");

	struct safex_version bad = { .size = sizeof(bad) + 8 };
	check(call(fd, SAFEX_IOC_VERSION, &bad) == -EINVAL, "a wrong size is EINVAL", "not EINVAL");
	struct safex_version reserved = { .size = sizeof(reserved), .reserved = 1 };
	check(call(fd, SAFEX_IOC_VERSION, &reserved) == -EINVAL, "a reserved field set is EINVAL", "not EINVAL");
	check(call(fd, SAFEX_IOC_VERSION, NULL) == -EFAULT, "a null argument is EFAULT", "not EFAULT");
	check(call(fd, SAFEX_IOC_VERSION, (void *)1) == -EFAULT, "a bad pointer is EFAULT", "not EFAULT");
	check(call(fd, _IOWR(SAFEX_IOC_MAGIC, 99, struct safex_version), &v) == -ENOTTY, "an unknown command is ENOTTY",
	      "not ENOTTY");
	check(call(fd, 0, &v) == -ENOTTY, "command 0 is ENOTTY", "not ENOTTY");

	/* Not root: no open (mode 0600), and no command through a descriptor root opened. */
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		int refused_open = open("/dev/safex", O_RDWR) < 0 && errno == EACCES;
		int refused_command = call(fd, SAFEX_IOC_VERSION, &v) == -EPERM;
		_exit(refused_open ? (refused_command ? 0 : 5) : 4);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a non-root caller is refused (EACCES, EPERM)",
	      WEXITSTATUS(status) == 4 ? "it opened the device" : "a command ran for it");

	close(fd);
	return failed;
}
