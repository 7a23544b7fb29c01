// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Path helpers: the /proc/self/fd trick for O_PATH fds, and the checks
 * that turn bad command lines into one clear line before anything is
 * mounted.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bpfused.h"

/*
 * Calls such as getxattr() or utimensat() refuse O_PATH fds; the magic
 * link in /proc/self/fd reaches the same object without following it.
 */
void bf_proc_fd_path(char buf[BF_PROC_FD_MAX], int fd)
{
	snprintf(buf, BF_PROC_FD_MAX, "/proc/self/fd/%d", fd);
}

/* Is path the same as, or below, parent? Both must be canonical. */
bool bf_path_within(const char *parent, const char *path)
{
	size_t n = strlen(parent);

	if (n == 1 && parent[0] == '/')
		return path[0] == '/';
	return !strncmp(parent, path, n) && (path[n] == '\0' || path[n] == '/');
}

int bf_check_backing(const char *path, char **real)
{
	struct stat st;
	int err;

	if (stat(path, &st) == -1) {
		err = -errno;
		fprintf(stderr, "bpfused: backing directory %s: %s\n", path, strerror(-err));
		return err;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "bpfused: backing directory %s: %s\n", path, strerror(ENOTDIR));
		return -ENOTDIR;
	}
	*real = realpath(path, NULL);
	return *real ? 0 : -errno;
}

/* How long a mountpoint that is still mounted is given to be unmounted. */
#define BF_UNMOUNT_WAIT_MS 2000

static bool bf_is_mount_root(const char *path)
{
	struct statx stx;

	return statx(AT_FDCWD, path, 0, STATX_TYPE, &stx) == 0 &&
	       (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

int bf_check_mountpoint(const char *path, char **real)
{
	struct statx stx;
	int err, i;

	if (statx(AT_FDCWD, path, 0, STATX_TYPE, &stx) == -1) {
		err = -errno;
		if (err == -ENOTCONN)
			fprintf(stderr,
				"bpfused: mountpoint %s: a FUSE daemon died there; "
				"run 'umount -l %s' first\n",
				path, path);
		else
			fprintf(stderr, "bpfused: mountpoint %s: %s\n", path, strerror(-err));
		return err;
	}
	if (!S_ISDIR(stx.stx_mode)) {
		fprintf(stderr, "bpfused: mountpoint %s: %s\n", path, strerror(ENOTDIR));
		return -ENOTDIR;
	}
	/*
	 * Mounting over a mount would hide it; almost always a mistake. But
	 * an unmount may be on its way (a script's `umount MNT &` right
	 * before mounting again, xfstests generic/604): give it a moment.
	 */
	for (i = 0; i < BF_UNMOUNT_WAIT_MS / 10 && bf_is_mount_root(path); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	if (bf_is_mount_root(path)) {
		fprintf(stderr, "bpfused: mountpoint %s: already a mount point (busy)\n", path);
		return -EBUSY;
	}
	*real = realpath(path, NULL);
	return *real ? 0 : -errno;
}
