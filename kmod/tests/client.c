// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * In the guest: /dev/safex's permission and argument checks. Prints one
 * "PASS name" or "FAIL name: why" line per check; exits 1 if any failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A whole file, or NULL. */
static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

/* SAFEX_IOC_CHECK of len bytes at data: 0 or -errno. */
static int check_object(int fd, const void *data, uint64_t len)
{
	struct safex_object o = { .size = sizeof(o), .data = (uintptr_t)data, .len = len };
	return call(fd, SAFEX_IOC_CHECK, &o);
}

/* The trust gate (SAFEX_IOC_CHECK), with the objects in /objects. */
static void signatures(int fd, int keyed)
{
	size_t len = 0, other_len = 0, unsigned_len = 0;
	unsigned char *good = slurp("/objects/signed.o", &len);
	unsigned char *other = slurp("/objects/wrong-key.o", &other_len);
	unsigned char *plain = slurp("/objects/unsigned.o", &unsigned_len);

	if (!good || !other || !plain || len < 300) {
		check(0, "test objects present", "missing /objects files");
		return;
	}
	if (!keyed) {
		errno = 0;
		check(check_object(fd, good, len) == -ENOKEY, "without a key every object is refused (ENOKEY)",
		      "not ENOKEY");
		return;
	}
	errno = 0;
	check(check_object(fd, good, len) == 0, "a signed object passes", "refused");
	check(check_object(fd, plain, unsigned_len) == -EBADMSG, "an unsigned object is EBADMSG", "not EBADMSG");
	check(check_object(fd, other, other_len) == -EKEYREJECTED, "another key's object is EKEYREJECTED",
	      "not EKEYREJECTED");
	/* One flipped byte anywhere: in the object (first, middle, last), in the signature, in the trailer. */
	size_t object_len = len - 12 - 256;
	struct {
		size_t at;
		int want;
		const char *name;
	} flips[] = {
		{ 0, -EKEYREJECTED, "a flipped first byte is EKEYREJECTED" },
		{ object_len / 2, -EKEYREJECTED, "a flipped byte mid-object is EKEYREJECTED" },
		{ object_len - 1, -EKEYREJECTED, "a flipped last object byte is EKEYREJECTED" },
		{ object_len + 100, -EKEYREJECTED, "a flipped signature byte is EKEYREJECTED" },
		{ len - 12, -EBADMSG, "a changed signature length is EBADMSG" },
		{ len - 3, -EBADMSG, "a changed magic is EBADMSG" },
	};
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		good[flips[i].at] ^= 0x40;
		check(check_object(fd, good, len) == flips[i].want, flips[i].name, "wrong answer");
		good[flips[i].at] ^= 0x40;
	}
	check(check_object(fd, good, len - 1) == -EBADMSG, "a truncated object is EBADMSG", "not EBADMSG");
	check(check_object(fd, good, 64u << 20) == -E2BIG, "an object of 64 MiB is E2BIG", "not E2BIG");
	check(check_object(fd, (void *)1, len) == -EFAULT, "an unreadable object is EFAULT", "not EFAULT");
	check(check_object(fd, good, len) == 0, "the signed object still passes", "refused");

	/* Signed, but not of SafeX's shape: the module checks the object too. */
	size_t nofuel_len = 0, junk_len = 0;
	unsigned char *nofuel = slurp("/objects/nofuel-signed.o", &nofuel_len);
	unsigned char *junk = slurp("/objects/junk-signed.o", &junk_len);
	check(nofuel && check_object(fd, nofuel, nofuel_len) == -EACCES, "a signed --no-fuel object is EACCES",
	      "not EACCES");
	check(junk && check_object(fd, junk, junk_len) == -ENOEXEC, "signed bytes that are no object are ENOEXEC",
	      "not ENOEXEC");
	size_t abi5_len = 0;
	unsigned char *abi5 = slurp("/objects/abi5-signed.o", &abi5_len);
	check(abi5 && check_object(fd, abi5, abi5_len) == -EPROTO, "a signed object of another ABI is EPROTO",
	      "not EPROTO");
	free(abi5);
	free(nofuel);
	free(junk);
	free(good);
	free(other);
	free(plain);
}

int main(int argc, char **argv)
{
	/* `client keyed` or `client unkeyed`: whether insmod was given the key. */
	int keyed = argc > 1 && strcmp(argv[1], "keyed") == 0;
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
	signatures(fd, keyed);

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
