// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bpfused: extended attributes: cached reads, the caller's view of
 * trusted.*, and changes.
 */
#include "config.h"

#include <dirent.h>
#include <linux/fuse.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "bpfuse.h"
#include "fs_i.h"

/* ---- extended attributes ------------------------------------------------- */

/*
 * The xattr calls refuse O_PATH fds, and opening a fifo or a device for
 * real would have side effects, so they go through /proc/self/fd.
 */

/*
 * A backing file system with no extended attributes at all (sshfs,
 * ramfs): the first xattr request of each kind is answered ENOSYS, after
 * which the kernel answers EOPNOTSUPP itself, as on that file system
 * alone, and the security.capability query before every write costs
 * nothing.
 */
static bool bf_no_xattr(fuse_req_t req)
{
	if (!bf_fs(req)->no_xattr)
		return false;
	fuse_reply_err(req, ENOSYS);
	return true;
}

/*
 * Answer a getxattr or listxattr of size bytes with the n bytes in buf, or
 * the size alone for a size query; n < 0 is -errno.
 */
static void bf_reply_xattr(fuse_req_t req, const char *buf, ssize_t n, size_t size)
{
	if (n < 0)
		fuse_reply_err(req, -n);
	else if (!size)
		fuse_reply_xattr(req, n);
	else if ((size_t)n > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, n);
}

/*
 * A miss reads the whole value even for a size query, so that the cache
 * learns it; values too large for the cache are sized and sent as asked.
 */
void bf_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct bf_fs *fs = bf_fs(req);
	size_t len = size > BPFUSE_XATTR_VALUE_MAX ? size : BPFUSE_XATTR_VALUE_MAX;
	char path[BF_PROC_FD_MAX];
	struct bpfuse_miss m;
	bool sized_only;
	char *buf;
	ssize_t n;
	int fd;

	if (bf_no_xattr(req))
		return;
	buf = malloc(len);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = bpfuse_xattr_find(fs->cache, ino, name, buf, size, &m);
	if (n == -ENOENT) {
		fd = bf_begin(req, ino, FUSE_GETXATTR);
		if (fd < 0)
			goto out;
		bf_proc_fd_path(path, fd);
		n = getxattr(path, name, buf, len);
		sized_only = n == -1 && errno == ERANGE && !size;
		if (sized_only)
			n = getxattr(path, name, NULL, 0); /* too big for the cache anyway */
		n = n == -1 ? -errno : n;
		close(fd);
		if (!sized_only && bf_ino_watched(fs, ino)) /* or changes there go unseen */
			bpfuse_xattr_fill(fs->cache, &m, ino, name, buf, n);
	}
	bf_reply_xattr(req, buf, n, size);
out:
	free(buf);
}

/*
 * Whether the caller may see trusted.* names: as for any file system, only
 * with CAP_SYS_ADMIN in the initial user namespace. The daemon lists as
 * root, so it asks the caller's task: root's uid, an effective
 * CAP_SYS_ADMIN, and the daemon's own user namespace (a namespace's root
 * holds every capability only there).
 */
static bool bf_caller_sees_trusted(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char path[64], line[256];
	unsigned long long caps = 0;
	struct stat ns, own;
	bool found = false;
	FILE *f;

	if (ctx->uid != 0)
		return false;
	/* (a kernel without user namespaces has no ns/user: only the initial one) */
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)ctx->pid);
	if (stat("/proc/self/ns/user", &own) == 0 &&
	    (stat(path, &ns) == -1 || ns.st_ino != own.st_ino || ns.st_dev != own.st_dev))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)ctx->pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %llx", &caps) == 1;
	fclose(f);
	return found && (caps & (1ULL << CAP_SYS_ADMIN));
}

/* Drop the trusted.* names from a listxattr() list; returns its new length. */
static ssize_t bf_xattr_hide_trusted(char *list, ssize_t n)
{
	char *p = list, *out = list, *end = list + n;
	size_t len;

	for (; p < end; p += len) {
		len = strnlen(p, end - p) + 1;
		if (strncmp(p, "trusted.", 8)) {
			memmove(out, p, len);
			out += len;
		}
	}
	return out - list;
}

void bf_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char path[BF_PROC_FD_MAX];
	char *buf = NULL, *grown;
	ssize_t n;
	int fd;

	if (bf_no_xattr(req))
		return;
	fd = bf_begin(req, ino, FUSE_LISTXATTR);
	if (fd < 0)
		return;
	bf_proc_fd_path(path, fd);
	/* the whole list even for a size query: what the caller may see decides the size */
	for (;;) {
		n = listxattr(path, NULL, 0);
		if (n <= 0)
			break;
		grown = realloc(buf, n);
		if (!grown) {
			n = -1;
			errno = ENOMEM;
			break;
		}
		buf = grown;
		n = listxattr(path, buf, n);
		if (n != -1 || errno != ERANGE)
			break; /* else it grew meanwhile */
	}
	if (n == -1)
		n = -errno;
	/* the caller's capabilities are read only where there is a name to hide */
	if (n > 0 && memmem(buf, n, "trusted.", 8) && !bf_caller_sees_trusted(req))
		n = bf_xattr_hide_trusted(buf, n);
	bf_reply_xattr(req, buf, n, size);
	free(buf);
	close(fd);
}

static void bf_xattr_set(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			 size_t size, int flags)
{
	char path[BF_PROC_FD_MAX];
	bool acl;
	int fd, err;

	if (bf_no_xattr(req))
		return;
	fd = bf_begin(req, ino, value ? FUSE_SETXATTR : FUSE_REMOVEXATTR);
	if (fd < 0)
		return;
	bf_proc_fd_path(path, fd);
	/*
	 * An access ACL sets the mode's group bits, and clears setgid unless
	 * the caller is in the file's group or privileged: the backing file
	 * system decides that, so it is set as the caller (the kernel has
	 * checked that the caller owns the file).
	 */
	acl = value && !strcmp(name, "system.posix_acl_access");
	err = acl ? bf_creds_enter(req) : 0;
	if (!err)
		err = (value ? setxattr(path, name, value, size, flags)
			     : removexattr(path, name)) == -1
			      ? -errno
			      : 0;
	if (acl)
		bf_creds_leave();
	bf_changed(bf_fs(req), XATTR, .node = ino, .xattr = name);
	fuse_reply_err(req, -err);
	close(fd);
}

void bf_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags)
{
	bf_xattr_set(req, ino, name, value, size, flags);
}

void bf_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	bf_xattr_set(req, ino, name, NULL, 0, 0);
}
