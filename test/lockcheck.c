// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The node table's lock rule, checked (daemon/bpfused.h): no system call
 * while it is held. test/bpfused-lockcheck is bpfused linked with --wrap
 * for the calls it makes on backing files, on /dev/fuse and on BPF maps
 * (the library is linked in statically, so its map calls are wrapped
 * too); each wrapper aborts the daemon if the calling thread holds the
 * lock. At exit it reports how often the lock was contended and how long
 * threads waited for it, for the benchmark of the lock's cost.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/types.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpfused.h"

static void lc_check(const char *call)
{
	if (!bf_table_locked)
		return;
	fprintf(stderr, "bpfused-lockcheck: %s() with the table lock held\n", call);
	abort();
}

#define LC_WRAP(ret, name, params, args)        \
	ret __real_##name params;               \
	ret __wrap_##name params;               \
	ret __wrap_##name params                \
	{                                       \
		lc_check(#name);                \
		return __real_##name args;      \
	}

LC_WRAP(int, close, (int fd), (fd))
LC_WRAP(int, closedir, (DIR *d), (d))
LC_WRAP(int, fstatat, (int dirfd, const char *path, struct stat *st, int flags),
	(dirfd, path, st, flags))
LC_WRAP(int, name_to_handle_at,
	(int dirfd, const char *path, struct file_handle *fh, int *mount_id, int flags),
	(dirfd, path, fh, mount_id, flags))
LC_WRAP(int, open_by_handle_at, (int mount_fd, struct file_handle *fh, int flags),
	(mount_fd, fh, flags))
LC_WRAP(int, bpf_map_update_elem, (int fd, const void *key, const void *value, __u64 flags),
	(fd, key, value, flags))
LC_WRAP(int, bpf_map_delete_elem, (int fd, const void *key), (fd, key))
LC_WRAP(int, bpf_map_lookup_elem, (int fd, const void *key, void *value), (fd, key, value))

/* The variadic ones take their optional argument as the kernel does: always. */
int __real_ioctl(int fd, unsigned long request, ...);
int __wrap_ioctl(int fd, unsigned long request, ...);
int __wrap_ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	lc_check("ioctl");
	return __real_ioctl(fd, request, arg);
}

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = va_arg(ap, mode_t);
	va_end(ap);
	lc_check("open");
	return __real_open(path, flags, mode);
}

int __real_openat(int dirfd, const char *path, int flags, ...);
int __wrap_openat(int dirfd, const char *path, int flags, ...);
int __wrap_openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = va_arg(ap, mode_t);
	va_end(ap);
	lc_check("openat");
	return __real_openat(dirfd, path, flags, mode);
}

static void __attribute__((destructor)) lc_report(void)
{
	fprintf(stderr, "bpfused-lockcheck: table lock contended %llu times, %llu us waited\n",
		(unsigned long long)__atomic_load_n(&bf_table_contended, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&bf_table_wait_ns, __ATOMIC_RELAXED) / 1000);
}
