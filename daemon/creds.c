// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bpfused: calls made with the caller's credentials, and the set-ID rules
 * that decide when a change must run as the caller.
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

/* ---- caller credentials -------------------------------------------------- */

/* Threads share one umask unless each unshares its fs_struct (CLONE_FS). */
static __thread bool bf_thread_fs_private;
/* This thread dropped CAP_FSETID from its effective set (bf_creds_leave() raises it). */
static __thread bool bf_thread_fsetid_dropped;

/*
 * Drop (or raise again) CAP_FSETID in this thread's effective set only:
 * capset() with pid 0 changes the calling thread, as the raw set*id calls
 * here do.
 */
static int bf_cap_fsetid(bool on)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data) == -1)
		return -errno;
	if (on)
		data[CAP_TO_INDEX(CAP_FSETID)].effective |= CAP_TO_MASK(CAP_FSETID);
	else
		data[CAP_TO_INDEX(CAP_FSETID)].effective &= ~CAP_TO_MASK(CAP_FSETID);
	if (syscall(SYS_capset, &hdr, data) == -1)
		return -errno;
	bf_thread_fsetid_dropped = !on;
	return 0;
}

int bf_creds_enter(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t stack_groups[32], *groups = stack_groups;
	int n = 0, err = 0;

	if (!bf_thread_fs_private) {
		if (unshare(CLONE_FS) == -1)
			return -errno;
		bf_thread_fs_private = true;
	}
	umask(ctx->umask);

	/* Groups decide setgid inheritance for non-root callers only. */
	if (ctx->uid != 0) {
		n = fuse_req_getgroups(req, G_N_ELEMENTS(stack_groups), stack_groups);
		if (n > (int)G_N_ELEMENTS(stack_groups)) {
			groups = malloc(n * sizeof(*groups));
			if (!groups)
				return -ENOMEM;
			n = fuse_req_getgroups(req, n, groups);
		}
		if (n < 0)
			n = 0; /* the caller is gone: no groups to act with */
	}
	/* The raw syscalls change this thread only; glibc's change them all. */
	if (syscall(SYS_setgroups, n, groups) == -1)
		err = -errno;
	if (groups != stack_groups)
		free(groups);
	if (err)
		return err;
	syscall(SYS_setfsgid, ctx->gid);
	syscall(SYS_setfsuid, ctx->uid);
	return 0;
}

/*
 * As bf_creds_enter(), and where the kernel said the caller may not keep
 * set-ID bits (KILLPRIV_V2: it lacks CAP_FSETID), without CAP_FSETID even
 * for a root caller: a non-root fsuid drops it by itself.
 */
int bf_creds_enter_kill(fuse_req_t req, enum bf_kill kill)
{
	int err = bf_creds_enter(req);

	if (!err && kill == BF_KILL_DROP && fuse_req_ctx(req)->uid == 0)
		err = bf_cap_fsetid(false);
	return err;
}

/*
 * The credentials a passthrough backing file is registered with, which
 * the kernel uses for every read and write on it (fuse_backing_open()
 * keeps them): the daemon's, without CAP_FSETID and with a group no file
 * of the caller's is likely to have. Set-ID files are never passed
 * through, but one may become set-ID while open; its passthrough writes
 * never reach the daemon, and under KILLPRIV_V2 the kernel leaves the
 * bits to the server, so the backing file system must drop them itself
 * as for an unprivileged writer outside the file's group. The cost: such
 * a file loses its bits even when root writes it.
 */
int bf_creds_enter_backing(void)
{
	syscall(SYS_setgroups, 0, NULL);
	syscall(SYS_setfsgid, BF_BACKING_GID);
	return bf_cap_fsetid(false);
}

void bf_creds_leave(void)
{
	if (bf_thread_fsetid_dropped)
		bf_cap_fsetid(true);
	syscall(SYS_setfsuid, 0);
	syscall(SYS_setfsgid, 0);
	syscall(SYS_setgroups, 0, NULL);
}

/*
 * A new fd on node ino opened as the caller, for a change the backing file
 * system must judge for them (an O_TRUNC drops set-ID bits unless the
 * caller may keep them). Through the node's O_PATH fd: a handle cannot be
 * opened without CAP_DAC_READ_SEARCH, which the caller's fsuid drops.
 */
int bf_fd_as_caller(fuse_req_t req, fuse_ino_t ino, int flags, enum bf_kill kill)
{
	char path[BF_PROC_FD_MAX];
	int pfd, fd;

	if (kill == BF_KILL_KEEP) /* the caller may keep the bits: no need */
		return bf_fd(bf_fs(req), ino, flags);
	pfd = bf_fd(bf_fs(req), ino, O_PATH);
	if (pfd < 0)
		return pfd;
	bf_proc_fd_path(path, pfd);
	fd = bf_creds_enter_kill(req, kill);
	if (!fd) {
		fd = open(path, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
		if (fd == -1)
			fd = -errno;
	}
	bf_creds_leave();
	close(pfd);
	return fd;
}

/*
 * Before a change to the open regular file fd made for the caller (a write,
 * a truncation, an allocation): if the file carries set-ID bits, take on
 * the caller's credentials, so that the backing file system drops them as
 * the VFS would for that caller (should_remove_suid(),
 * setattr_should_drop_sgid(): set-group-ID also goes for a caller outside
 * the file's group). Without KILLPRIV_V2 the kernel's own SETATTR before
 * such a change drops set-user-ID and a group-executable set-group-ID
 * only; with it the kernel drops nothing and says whether the caller
 * holds CAP_FSETID (kill). Whatever the daemon writes, the backing file
 * system drops security.capability, as it does for any writer. Returns 1
 * if entered (bf_creds_leave() after the change), 0 if there is nothing
 * to drop, or -errno.
 */
bool bf_is_setid(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID));
}

int bf_setid_enter(fuse_req_t req, int fd, enum bf_kill kill)
{
	int err;

	if (kill == BF_KILL_KEEP || !bf_is_setid(fd))
		return 0;
	err = bf_creds_enter_kill(req, kill);
	if (err) {
		bf_creds_leave();
		return err;
	}
	return 1;
}
