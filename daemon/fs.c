// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bpfused's FUSE handlers: a pass-through of BACKING_DIR on the libfuse
 * low-level API.
 *
 * The daemon runs as root and the kernel checks permissions
 * (default_permissions), so most calls into the backing directory are made
 * as root. Calls that create objects are made with the caller's fsuid,
 * fsgid, supplementary groups and umask, so that ownership, setgid
 * directories and default ACLs come out exactly as on the backing file
 * system. Every handler replies exactly once.
 *
 * Unless cache=never or passthrough asks for real opens, files and
 * directories are opened without a message to the daemon (the OPEN and
 * OPENDIR handlers answer ENOSYS once, FLUSH too; a CREATE makes the file
 * and keeps no fd):
 * requests then arrive by node, and I/O goes through the node's own backing
 * fds (bf_table_io_get()), while the kernel keeps pages and listings.
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
#include "bpfused.h"

/* An open holding no fd of the daemon's: the extension's, or a create by node. */
#define BF_FH_NONE BPFUSE_FH_KERNEL

static struct bf_fs *bf_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* Drop what a change made stale, by the rules of bpfuse_rules.h. */
#define bf_changed(fs, cause, ...)                                      \
	bpfuse_cache_invalidate((fs)->cache, BPFUSE_CAUSE_##cause,      \
				&(struct bpfuse_change){ __VA_ARGS__ })

/*
 * A metadata call into the backing directory: counted, and delayed by
 * backend_latency= to emulate a network file system behind the daemon.
 */
static void bf_backend(struct bf_fs *fs, unsigned int opcode)
{
	uint64_t ns = fs->opts.backend_latency_ns;
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };

	atomic_fetch_add_explicit(&fs->backend_calls, 1, memory_order_relaxed);
	if (ns)
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
}

/* A new fd on node ino; -EIO for a node id the table does not know. */
static int bf_fd(struct bf_fs *fs, fuse_ino_t ino, int flags)
{
	struct bf_inode *in = bf_table_find(&fs->table, ino);

	return in ? bf_table_open(&fs->table, in, flags) : -EIO;
}

/*
 * The start of most metadata handlers: count the backend call and open node
 * ino as O_PATH. On failure the request is answered and -1 returned.
 */
static int bf_begin(fuse_req_t req, fuse_ino_t ino, unsigned int opcode)
{
	struct bf_fs *fs = bf_fs(req);
	int fd;

	bf_backend(fs, opcode);
	fd = bf_fd(fs, ino, O_PATH);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return -1;
	}
	return fd;
}

/*
 * The backing fd a file request works on: its open's own, or with
 * zero-message opens the node's (*held, given back by bf_file_put()). On
 * failure the request is answered and -1 returned.
 */
static int bf_file_get(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, bool write,
		       struct bf_inode **held)
{
	struct bf_fs *fs = bf_fs(req);
	int fd;

	*held = NULL;
	/* an open the extension answered has no fd of the daemon's */
	if (!fs->open_by_node && fi->fh != BF_FH_NONE)
		return fi->fh;
	fd = bf_table_io_get(&fs->table, ino, write, held);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return -1;
	}
	return fd;
}

static void bf_file_put(struct bf_fs *fs, struct bf_inode *held)
{
	if (held)
		bf_table_io_put(&fs->table, held);
}

/*
 * Whether a read of an object with these attributes moves its atime on the
 * backing file system: with relatime, only when the atime is not after the
 * last change, or is a day old.
 */
static bool bf_ts_le(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

static bool bf_atime_moves(const struct bf_fs *fs, const struct stat *st)
{
	struct timespec now;

	if (S_ISDIR(st->st_mode) && fs->table.nodiratime)
		return false;
	switch (fs->atime_rule) {
	case BF_ATIME_NEVER:
		return false;
	case BF_ATIME_STRICT:
		return true;
	case BF_ATIME_RELATIME:
		break;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	return bf_ts_le(&st->st_atim, &st->st_mtim) || bf_ts_le(&st->st_atim, &st->st_ctim) ||
	       now.tv_sec - st->st_atim.tv_sec >= 24 * 3600;
}

/*
 * A read by the daemon: if it moved the backing atime, the maps' attributes
 * go. The kernel drops its own cached atime after every READ, READDIR and
 * READLINK it sends, and asks again at the next stat, which the maps must
 * then not answer with the old one. Most reads move nothing (relatime):
 * those keep the maps' entry.
 */
static void bf_on_access(struct bf_fs *fs, fuse_ino_t ino)
{
	if (bf_table_take_atime_moves(&fs->table, ino))
		bf_changed(fs, ACCESS, .node = ino);
}

/* ---- caller credentials -------------------------------------------------- */

/* Threads share one umask unless each unshares its fs_struct (CLONE_FS). */
static __thread bool bf_thread_fs_private;

static int bf_creds_enter(fuse_req_t req)
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

static void bf_creds_leave(void)
{
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
static int bf_fd_as_caller(fuse_req_t req, fuse_ino_t ino, int flags)
{
	char path[BF_PROC_FD_MAX];
	int pfd, fd;

	pfd = bf_fd(bf_fs(req), ino, O_PATH);
	if (pfd < 0)
		return pfd;
	bf_proc_fd_path(path, pfd);
	fd = bf_creds_enter(req);
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
 * the VFS would for that caller. The kernel's own SETATTR before such a
 * change drops set-user-ID and a group-executable set-group-ID only, not
 * the set-group-ID bit that a caller outside the file's group clears
 * (setattr_should_drop_sgid()). Returns 1 if entered (bf_creds_leave()
 * after the change), 0 if there is nothing to drop, or -errno.
 */
static bool bf_is_setid(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & (S_ISUID | S_ISGID));
}

static int bf_setid_enter(fuse_req_t req, int fd)
{
	int err;

	if (!bf_is_setid(fd))
		return 0;
	err = bf_creds_enter(req);
	if (err) {
		bf_creds_leave();
		return err;
	}
	return 1;
}

/* ---- lookup and forget --------------------------------------------------- */

/*
 * Whether the watcher sees changes on file system dev (a file system
 * mounted inside the backing one that it could not mark is unwatched), or
 * nothing is watched and every lifetime is the unwatched one anyway. Nodes
 * on an unwatched file system under a watched mount get the unwatched
 * kernel timeouts and stay out of the maps.
 */
static bool bf_dev_watched(const struct bf_fs *fs, dev_t dev)
{
	return !fs->watch || bf_watch_has(fs->watch, dev);
}

static double bf_attr_timeout(const struct bf_fs *fs, dev_t dev)
{
	return bf_dev_watched(fs, dev) ? fs->opts.attr_timeout : fs->unwatched_attr_timeout;
}

static bool bf_ino_watched(struct bf_fs *fs, fuse_ino_t ino)
{
	struct bf_inode *in = bf_table_find(&fs->table, ino);

	return !in || bf_dev_watched(fs, in->dev);
}

/* Passthrough writes never reach us: nothing would invalidate their attributes. */
static bool bf_attr_cacheable(struct bf_fs *fs, fuse_ino_t ino)
{
	return !fs->passthrough || !bf_table_writing(&fs->table, ino);
}

static void bf_entry_init(struct bf_fs *fs, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->attr_timeout = fs->opts.attr_timeout;
	e->entry_timeout = fs->opts.entry_timeout;
}

/*
 * Look name up in the open directory dirfd and take a lookup reference;
 * *kref (if kref is not NULL) is the node's slot for kernel-taken lookups.
 */
static int bf_lookup_at(struct bf_fs *fs, int dirfd, const char *name, struct fuse_entry_param *e,
			uint32_t *kref)
{
	struct bf_inode proto, *in;
	int err;

	bf_entry_init(fs, e);
	err = bf_inode_probe(&fs->table, dirfd, name, &proto, &e->attr);
	if (err)
		return err;
	/* crossing into a file system mounted inside: watch it from now on */
	if (!bf_dev_watched(fs, e->attr.st_dev) &&
	    bf_watch_cross(fs->watch, dirfd, name, e->attr.st_dev)) {
		e->entry_timeout = fs->unwatched_entry_timeout;
		e->attr_timeout = fs->unwatched_attr_timeout;
	}
	proto.atime_moves = bf_atime_moves(fs, &e->attr);
	in = bf_table_ref(&fs->table, &proto);
	if (!in)
		return -ENOMEM;
	e->ino = in->nodeid;
	if (kref)
		*kref = in->kref; /* set at creation, fixed while we hold the reference */
	return 0;
}

static int bf_do_lookup(struct bf_fs *fs, fuse_ino_t parent, const char *name,
			struct fuse_entry_param *e, uint32_t *kref)
{
	int dirfd, err;

	dirfd = bf_fd(fs, parent, O_PATH);
	if (dirfd < 0)
		return dirfd;
	err = bf_lookup_at(fs, dirfd, name, e, kref);
	close(dirfd);
	return err;
}

/*
 * Reply with an entry. If the request was interrupted the kernel never
 * saw it, so the lookup reference it would have counted is dropped here.
 */
static void bf_reply_entry(fuse_req_t req, const struct fuse_entry_param *e)
{
	struct bf_fs *fs = bf_fs(req); /* req is gone once replied to */

	if (fuse_reply_entry(req, e) == -ENOENT && e->ino)
		bf_table_forget(&fs->table, e->ino, 1);
}

static void bf_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct bf_fs *fs = bf_fs(req);
	struct bpfuse_entry ent;
	struct fuse_entry_param e;
	struct bpfuse_miss m;
	int err;

	bf_entry_init(fs, &e);
	err = bpfuse_entry_find(fs->cache, parent, name, &ent, &e.attr, &m);
	/* a cached name's node must still be here: it takes the reference */
	if (!err && ent.nodeid && !bf_table_ref_id(&fs->table, ent.nodeid))
		err = -ENOENT;
	if (!err) {
		e.ino = ent.nodeid;
	} else {
		bf_backend(fs, FUSE_LOOKUP);
		ent = (struct bpfuse_entry){ .node = BPFUSE_NODE_NONE };
		err = bf_do_lookup(fs, parent, name, &e, &ent.node);
		ent.nodeid = err ? 0 : e.ino;
		/* changes on an unwatched file system go unseen: timeouts bound them */
		if ((!err && bf_dev_watched(fs, e.attr.st_dev)) || err == -ENOENT)
			bpfuse_entry_fill(fs->cache, &m, parent, name, &ent,
					  bf_attr_cacheable(fs, e.ino) ? &e.attr : NULL);
	}
	if (!e.ino && !err)
		err = -ENOENT;
	if (err == -ENOENT && fs->opts.negative_timeout > 0) {
		/* A zero node id is a negative entry the kernel may cache. */
		bf_entry_init(fs, &e);
		e.entry_timeout = fs->opts.negative_timeout;
		fuse_reply_entry(req, &e);
	} else if (err) {
		fuse_reply_err(req, -err);
	} else {
		bf_reply_entry(req, &e);
	}
}

static void bf_do_forget(struct bf_fs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	if (bf_table_forget(&fs->table, ino, nlookup))
		bf_changed(fs, FORGET, .node = ino);
}

static void bf_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	bf_do_forget(bf_fs(req), ino, nlookup);
	fuse_reply_none(req);
}

static void bf_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct bf_fs *fs = bf_fs(req);
	size_t i;

	for (i = 0; i < count; i++)
		bf_do_forget(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* ---- attributes ---------------------------------------------------------- */

static void bf_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct bf_fs *fs = bf_fs(req);
	bool cacheable = bf_attr_cacheable(fs, ino);
	struct bpfuse_miss m;
	struct stat st;
	int fd, err = 0;

	(void)fi; /* by node: with zero-message opens there is no fh to use */
	if (cacheable && bpfuse_attr_find(fs->cache, ino, &st, &m) == 0) {
		fuse_reply_attr(req, &st, bf_attr_timeout(fs, st.st_dev));
		return;
	}
	bf_backend(fs, FUSE_GETATTR);
	fd = bf_fd(fs, ino, O_PATH);
	if (fd < 0) {
		err = fd;
	} else {
		if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1)
			err = -errno;
		close(fd);
	}
	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	if (cacheable && bf_dev_watched(fs, st.st_dev))
		bpfuse_attr_fill(fs->cache, &m, ino, &st);
	bf_table_set_atime_moves(&fs->table, ino, bf_atime_moves(fs, &st));
	fuse_reply_attr(req, &st, bf_attr_timeout(fs, st.st_dev));
}

static struct timespec bf_utime(const struct stat *attr, int valid, int set, int now, bool atime)
{
	if (valid & now)
		return (struct timespec){ .tv_nsec = UTIME_NOW };
	if (valid & set)
		return atime ? attr->st_atim : attr->st_mtim;
	return (struct timespec){ .tv_nsec = UTIME_OMIT };
}

/*
 * Truncate the object behind pfd; a file carrying set-ID bits is truncated
 * through an fd of its own with the caller's credentials (see
 * bf_setid_enter()).
 */
static int bf_truncate(fuse_req_t req, int pfd, off_t size)
{
	char path[BF_PROC_FD_MAX];
	int fd, err;

	bf_proc_fd_path(path, pfd);
	if (!bf_is_setid(pfd))
		return truncate(path, size) == -1 ? -errno : 0;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	err = bf_creds_enter(req);
	if (!err && ftruncate(fd, size) == -1)
		err = -errno;
	bf_creds_leave();
	close(fd);
	return err;
}

/*
 * Apply what valid asks for, in the order chmod, chown, truncate, utimes.
 * By path, never by the open's fh: zero-message opens have none, and as
 * root the path does what the fd would.
 */
static int bf_do_setattr(fuse_req_t req, int pfd, struct stat *attr, int valid)
{
	char path[BF_PROC_FD_MAX];
	struct timespec ts[2];
	int res = 0;

	bf_proc_fd_path(path, pfd);
	if (valid & FUSE_SET_ATTR_MODE) {
		res = chmod(path, attr->st_mode);
		if (res == -1)
			return -errno;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;

		if (fchownat(pfd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1)
			return -errno;
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		res = bf_truncate(req, pfd, attr->st_size);
		if (res)
			return res;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		ts[0] = bf_utime(attr, valid, FUSE_SET_ATTR_ATIME, FUSE_SET_ATTR_ATIME_NOW, true);
		ts[1] = bf_utime(attr, valid, FUSE_SET_ATTR_MTIME, FUSE_SET_ATTR_MTIME_NOW, false);
		res = utimensat(AT_FDCWD, path, ts, 0);
		if (res == -1)
			return -errno;
	}
	return 0;
}

static void bf_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		       struct fuse_file_info *fi)
{
	struct bf_fs *fs = bf_fs(req);
	struct stat st;
	int pfd, err;

	pfd = bf_begin(req, ino, FUSE_SETATTR);
	if (pfd < 0)
		return;
	(void)fi;
	err = bf_do_setattr(req, pfd, attr, valid);
	/* even a failure may have applied part of the change */
	bf_changed(fs, SETATTR, .node = ino);
	if (!err && fstatat(pfd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1)
		err = -errno;
	if (!err)
		bf_table_set_atime_moves(&fs->table, ino, bf_atime_moves(fs, &st));
	close(pfd);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_attr(req, &st, bf_attr_timeout(fs, st.st_dev));
}

static void bf_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	ssize_t n;
	int fd, err;

	fd = bf_begin(req, ino, FUSE_READLINK);
	if (fd < 0)
		return;
	n = readlinkat(fd, "", buf, sizeof(buf));
	err = n == -1 ? -errno : 0;
	bf_on_access(bf_fs(req), ino);
	if (err) {
		fuse_reply_err(req, -err);
	} else if (n == sizeof(buf)) {
		fuse_reply_err(req, ENAMETOOLONG);
	} else {
		buf[n] = '\0';
		fuse_reply_readlink(req, buf);
	}
	close(fd);
}

/* ---- names --------------------------------------------------------------- */

/* mknod, mkdir and symlink: made with the caller's credentials. */
static void bf_make(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev,
		    const char *target, unsigned int opcode)
{
	struct bf_fs *fs = bf_fs(req);
	struct fuse_entry_param e;
	int dirfd, res, err;

	dirfd = bf_begin(req, parent, opcode);
	if (dirfd < 0)
		return;
	err = bf_creds_enter(req);
	if (err)
		goto out_leave;
	if (target)
		res = symlinkat(target, dirfd, name);
	else if (S_ISDIR(mode))
		res = mkdirat(dirfd, name, mode);
	else
		res = mknodat(dirfd, name, mode, rdev);
	if (res == -1)
		err = -errno;
out_leave:
	bf_creds_leave();
	/* EEXIST too: a cached "no such name" was wrong then */
	bf_changed(fs, CREATE, .parent = parent, .name = name);
	if (!err)
		err = bf_lookup_at(fs, dirfd, name, &e, NULL);
	close(dirfd);
	if (err)
		fuse_reply_err(req, -err);
	else
		bf_reply_entry(req, &e);
}

static void bf_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	bf_make(req, parent, name, mode, rdev, NULL, FUSE_MKNOD);
}

static void bf_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	bf_make(req, parent, name, S_IFDIR | mode, 0, NULL, FUSE_MKDIR);
}

static void bf_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name)
{
	bf_make(req, parent, name, S_IFLNK | 0777, 0, target, FUSE_SYMLINK);
}

static void bf_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	struct bf_fs *fs = bf_fs(req);
	struct fuse_entry_param e;
	int fd, dirfd = -1, err = 0;

	bf_backend(fs, FUSE_LINK);
	fd = bf_fd(fs, ino, O_PATH);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	dirfd = bf_fd(fs, parent, O_PATH);
	if (dirfd < 0) {
		err = dirfd;
		goto out;
	}
	if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == -1)
		err = -errno;
	bf_changed(fs, LINK, .node = ino, .parent = parent, .name = name);
	if (!err)
		err = bf_lookup_at(fs, dirfd, name, &e, NULL);
out:
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	if (err)
		fuse_reply_err(req, -err);
	else
		bf_reply_entry(req, &e);
}

static void bf_remove(fuse_req_t req, fuse_ino_t parent, const char *name, int flags)
{
	struct bf_fs *fs = bf_fs(req);
	uint64_t victim;
	int dirfd, err = 0;

	dirfd = bf_begin(req, parent, flags & AT_REMOVEDIR ? FUSE_RMDIR : FUSE_UNLINK);
	if (dirfd < 0)
		return;
	victim = bf_table_node_at(&fs->table, dirfd, name, true);
	if (unlinkat(dirfd, name, flags) == -1)
		err = -errno;
	bf_changed(fs, UNLINK, .parent = parent, .name = name, .victim = victim);
	close(dirfd);
	fuse_reply_err(req, -err);
}

static void bf_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	bf_remove(req, parent, name, 0);
}

static void bf_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	bf_remove(req, parent, name, AT_REMOVEDIR);
}

static void bf_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct bf_fs *fs = bf_fs(req);
	int olddir, newdir = -1, err = 0;
	uint64_t moved, victim;

	bf_backend(fs, FUSE_RENAME2);
	olddir = bf_fd(fs, parent, O_PATH);
	if (olddir < 0) {
		err = olddir;
		goto out;
	}
	newdir = bf_fd(fs, newparent, O_PATH);
	if (newdir < 0) {
		err = newdir;
		goto out;
	}
	moved = bf_table_node_at(&fs->table, olddir, name, false);
	/* a replaced target may lose its last link; an exchanged one does not */
	victim = bf_table_node_at(&fs->table, newdir, newname, !(flags & RENAME_EXCHANGE));
	if (renameat2(olddir, name, newdir, newname, flags) == -1)
		err = -errno;
	bf_changed(fs, RENAME, .node = moved, .parent = parent, .name = name,
		   .newparent = newparent, .newname = newname, .victim = victim);
out:
	if (olddir >= 0)
		close(olddir);
	if (newdir >= 0)
		close(newdir);
	fuse_reply_err(req, -err);
}

/* ---- files --------------------------------------------------------------- */

static int bf_open_flags(struct bf_fs *fs, int flags)
{
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY);
	/*
	 * With a writeback cache the kernel reads pages of write-only files
	 * and tracks the file end itself.
	 */
	if (fs->opts.writeback) {
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~O_APPEND;
	}
	return flags;
}

static void bf_file_cache(struct bf_fs *fs, struct fuse_file_info *fi)
{
	/* auto: cached pages survive an open; a changed mtime drops them. */
	fi->keep_cache = fs->opts.cache != BF_CACHE_NEVER;
	/* a reader's close has nothing to flush, even over a remote backend */
	fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY;
}

#ifdef HAVE_FUSE_PASSTHROUGH
/*
 * Ext mode, passthrough by default (not asked for with -o passthrough):
 * files up to this size at their node's first open (not a create) keep
 * their pages instead: the extension answers their opens with
 * FOPEN_KEEP_CACHE, so an open costs no second open of the backing file,
 * and reads after the first come from the page cache.
 */
#define BF_PAGES_MAX (1 << 20)

static bool bf_pages_suit(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= BF_PAGES_MAX;
}

/*
 * Kernel passthrough for an open regular file. The kernel takes one backing
 * file per inode, so the node's is registered at its first open, shared by
 * the others and closed at the last release. Passthrough writes never reach
 * the daemon: while any open may write, the node's attributes stay out of
 * the maps (bf_table_writing()). Where the kernel refuses (a backing file
 * system stacked too deep, say), the mount goes on without passthrough.
 */
static void bf_passthrough_open(fuse_req_t req, fuse_ino_t ino, int fd, struct fuse_file_info *fi,
				bool created)
{
	struct bf_fs *fs = bf_fs(req);
	bool write = (fi->flags & O_ACCMODE) != O_RDONLY;
	int id;

	/*
	 * A set-ID file's writes go through the daemon, which drops the bits
	 * for the caller (bf_setid_enter()); passthrough writes would run with
	 * the daemon's CAP_FSETID. Ext mode: the extension stops opening it
	 * with its backing file too, so that every open of it comes here.
	 */
	if (bf_is_setid(fd)) {
		bf_table_backing_forget(&fs->table, ino);
		return;
	}
	id = bf_table_backing_open(&fs->table, ino, fd, write,
				   fs->opts.passthrough < 0 && !created && bf_pages_suit(fd));
	if (id < 0 && fs->passthrough) {
		fs->passthrough = false;
		fuse_log(FUSE_LOG_WARNING,
			 "bpfused: the kernel refused passthrough for node %llu (%s): "
			 "serving file data from the daemon\n",
			 (unsigned long long)ino, strerror(-id));
	}
	if (id <= 0)
		return;
	fi->backing_id = id;
	fi->keep_cache = 0; /* pages cached before must not hide the backing file's */
	/*
	 * Nothing to flush: the data went to the backing file, POSIX locks
	 * are the kernel's, and the backing file's own close comes with the
	 * RELEASE. But a writer's close must reach a backend that stores or
	 * reports at flush (close_to_open).
	 */
	fi->noflush = !write || !fs->close_to_open;
	if (write)
		bf_changed(fs, WRITE, .node = ino);
	/*
	 * Its reads go past the daemon, and its RELEASE comes in the
	 * background, maybe after the next stat: where a read would move the
	 * atime, the attributes go now.
	 */
	bf_on_access(fs, ino);
}

/* An open that used passthrough is over. */
static void bf_passthrough_release(struct bf_fs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
	bool write = (fi->flags & O_ACCMODE) != O_RDONLY;

	if (!fi->backing_id)
		return;
	bf_table_backing_release(&fs->table, ino, write);
	/* what was written, or the atime reads moved, through the kernel */
	if (write)
		bf_changed(fs, WRITE, .node = ino);
	else
		bf_on_access(fs, ino);
}
#else
static void bf_passthrough_open(fuse_req_t req, fuse_ino_t ino, int fd, struct fuse_file_info *fi,
				bool created)
{
}

static void bf_passthrough_release(struct bf_fs *fs, fuse_ino_t ino, struct fuse_file_info *fi)
{
}
#endif

static void bf_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct bf_fs *fs = bf_fs(req);
	int fd;

	if (fs->open_by_node) {
		/* from now on the kernel opens files without asking */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	bf_backend(fs, FUSE_OPEN);
	/*
	 * A truncating open (ATOMIC_O_TRUNC) changes the file for the caller:
	 * made as the caller, it drops set-ID bits as the VFS would for them.
	 */
	if (fi->flags & O_TRUNC)
		fd = bf_fd_as_caller(req, ino, bf_open_flags(fs, fi->flags));
	else
		fd = bf_fd(fs, ino, bf_open_flags(fs, fi->flags));
	/* truncating is a setattr: it also drops capabilities */
	if (fi->flags & O_TRUNC)
		bf_changed(fs, SETATTR, .node = ino);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	fi->fh = fd;
	bf_file_cache(fs, fi);
	if (fs->passthrough)
		bf_passthrough_open(req, ino, fd, fi, false);
	if (fuse_reply_open(req, fi) == -ENOENT) {
		close(fd); /* interrupted: no RELEASE will come */
		bf_passthrough_release(fs, ino, fi);
	}
}

/*
 * Reply to CREATE or TMPFILE: err (-errno; fd, if open, is closed), or the
 * new file open as fd. If the request was interrupted, the open and the
 * lookup reference are undone.
 */
static void bf_reply_created(fuse_req_t req, int err, const struct fuse_entry_param *e, int fd,
			     struct fuse_file_info *fi)
{
	struct bf_fs *fs = bf_fs(req);

	if (err) {
		if (fd >= 0)
			close(fd);
		fuse_reply_err(req, -err);
		return;
	}

	/* as root: the file may be someone else's (see bf_table_open()) */
	if (fs->table.noatime)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NOATIME);
	fi->fh = fd;
	bf_file_cache(fs, fi);
	if (fs->passthrough)
		bf_passthrough_open(req, e->ino, fd, fi, true);
	if (fuse_reply_create(req, e, fi) == -ENOENT) {
		close(fd);
		bf_passthrough_release(fs, e->ino, fi);
		bf_table_forget(&fs->table, e->ino, 1);
	}
}

/*
 * Open an existing name for a CREATE that found it there (the kernel's "no
 * such name" was stale, or the name appeared since its LOOKUP): only a
 * regular file, reopened through its O_PATH fd, so that nothing swapped in
 * between is opened instead. Anything else is -ESTALE: the kernel then looks
 * the name up again (LOOKUP_REVAL) and opens what it finds itself, under
 * the mount's rules (a symlink resolved by the caller, nodev, a FIFO's
 * blocking open in the caller's own thread). Called as the caller.
 */
static int bf_create_existing(int dirfd, const char *name, int flags)
{
	char path[BF_PROC_FD_MAX];
	struct stat st;
	int pfd, fd;

	pfd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd == -1)
		return errno == ENOENT ? -ESTALE : -errno; /* gone again: look once more */
	if (fstat(pfd, &st) == -1) {
		fd = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		fd = -ESTALE;
	} else {
		bf_proc_fd_path(path, pfd);
		fd = open(path, flags | O_CLOEXEC);
		if (fd == -1)
			fd = -errno;
	}
	close(pfd);
	return fd;
}

/*
 * The one way a regular file is made, in every mode: as the caller (owner,
 * group, umask, default ACLs; and a truncation of an existing file drops
 * set-ID bits as the VFS would for them), exclusive when the caller asked
 * for O_EXCL, never following a symlink planted at the name and never
 * blocking on a FIFO: a create only ever makes a new file or opens an
 * existing regular one. Returns the open fd or -errno.
 */
static int bf_create_at(fuse_req_t req, int dirfd, const char *name, int flags, mode_t mode)
{
	int fd;

	fd = bf_creds_enter(req);
	if (!fd) {
		fd = openat(dirfd, name,
			    flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);
		if (fd == -1)
			fd = errno == EEXIST && !(flags & O_EXCL) ?
				     bf_create_existing(dirfd, name, flags) : -errno;
		else if (!(flags & O_NONBLOCK))
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	}
	bf_creds_leave();
	return fd;
}

static void bf_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct bf_fs *fs = bf_fs(req);
	struct fuse_entry_param e;
	int dirfd, fd, err = 0;

	dirfd = bf_begin(req, parent, FUSE_CREATE);
	if (dirfd < 0)
		return;
	fd = bf_create_at(req, dirfd, name, bf_open_flags(fs, fi->flags) | (fi->flags & O_EXCL),
			  mode);
	if (fd < 0)
		err = fd;
	/* EEXIST and ESTALE too: a cached "no such name" was wrong then */
	bf_changed(fs, CREATE, .parent = parent, .name = name);
	if (!err)
		err = bf_lookup_at(fs, dirfd, name, &e, NULL);
	/* it may have existed already, and been truncated */
	if (!err && (fi->flags & O_TRUNC))
		bf_changed(fs, SETATTR, .node = e.ino);
	close(dirfd);
	if (!err && fs->open_by_node) {
		/* I/O goes by node: this open keeps no fd of its own */
		close(fd);
		fi->fh = BF_FH_NONE;
		bf_file_cache(fs, fi);
		if (fuse_reply_create(req, &e, fi) == -ENOENT)
			bf_table_forget(&fs->table, e.ino, 1);
		return;
	}
	bf_reply_created(req, err, &e, fd, fi);
}

#ifdef HAVE_FUSE_PASSTHROUGH
/*
 * open(O_TMPFILE): an unnamed file made in the backing directory as the
 * caller, opened for real as a create is (the kernel keeps the open and
 * sends RELEASE), so a later linkat() names it. Its node is held by an
 * O_PATH fd until its last FORGET, as a file whose last link went is.
 */
static void bf_tmpfile(fuse_req_t req, fuse_ino_t parent, mode_t mode, struct fuse_file_info *fi)
{
	struct bf_fs *fs = bf_fs(req);
	struct fuse_entry_param e;
	/* with O_EXCL the backing file system keeps it unlinkable too */
	int flags = bf_open_flags(fs, fi->flags) | (fi->flags & O_EXCL);
	struct bf_inode proto, *in;
	int dirfd, fd = -1, err;

	dirfd = bf_begin(req, parent, FUSE_TMPFILE);
	if (dirfd < 0)
		return;
	err = bf_creds_enter(req);
	if (!err) {
		fd = openat(dirfd, ".", flags | O_TMPFILE | O_CLOEXEC, mode);
		if (fd == -1)
			err = -errno;
	}
	bf_creds_leave();
	close(dirfd);
	bf_entry_init(fs, &e);
	if (!err)
		err = bf_inode_probe_fd(&fs->table, fd, &proto, &e.attr);
	if (!err) {
		proto.atime_moves = bf_atime_moves(fs, &e.attr);
		in = bf_table_ref(&fs->table, &proto);
		if (in)
			e.ino = in->nodeid;
		else
			err = -ENOMEM;
	}
	bf_reply_created(req, err, &e, fd, fi);
}
#endif

/*
 * Without maps, the data is spliced from the backing file. With them, the
 * read moves the backing atime, and the cached attributes must go before
 * the reply does: a stat issued after read() returns must not see the old
 * atime. So the data goes through a buffer.
 */
static void bf_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	struct bf_fs *fs = bf_fs(req);
	struct bf_inode *held;
	ssize_t n;
	int fd, err;

	fd = bf_file_get(req, ino, fi, false, &held);
	if (fd < 0)
		return;
	if (!fs->cache || !fs->opts.maps) {
		buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		buf.buf[0].fd = fd;
		buf.buf[0].pos = off;
		fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
		goto out; /* no maps to keep right */
	}
	buf.buf[0].mem = malloc(size);
	if (!buf.buf[0].mem) {
		fuse_reply_err(req, ENOMEM);
		goto out;
	}
	n = pread(fd, buf.buf[0].mem, size, off);
	err = n == -1 ? -errno : 0;
	bf_on_access(fs, ino);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_buf(req, buf.buf[0].mem, n);
	free(buf.buf[0].mem);
out:
	bf_file_put(fs, held);
}

/*
 * The open's flags that change how a write lands. With zero-message opens
 * the node's fd is shared, so they travel per write (pwritev2 flags). With
 * a writeback cache the kernel has placed appends itself.
 */
static int bf_write_flags(struct bf_fs *fs, int flags)
{
	int rwf = 0;

	if (!fs->open_by_node)
		return 0; /* the open's own fd carries them */
	if ((flags & O_APPEND) && !fs->opts.writeback)
		rwf |= RWF_APPEND;
	if ((flags & O_SYNC) == O_SYNC)
		rwf |= RWF_SYNC;
	else if (flags & O_DSYNC)
		rwf |= RWF_DSYNC;
	return rwf;
}

static ssize_t bf_pwritev2_buf(int fd, struct fuse_bufvec *in_buf, off_t off, int rwf)
{
	size_t size = fuse_buf_size(in_buf);
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(size);
	struct iovec iov;
	ssize_t n;

	mem.buf[0].mem = malloc(size ? size : 1);
	if (!mem.buf[0].mem)
		return -ENOMEM;
	n = fuse_buf_copy(&mem, in_buf, 0);
	if (n >= 0) {
		iov = (struct iovec){ .iov_base = mem.buf[0].mem, .iov_len = n };
		n = pwritev2(fd, &iov, 1, off, rwf);
		if (n == -1)
			n = -errno;
	}
	free(mem.buf[0].mem);
	return n;
}

static void bf_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in_buf, off_t off,
			 struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in_buf));
	struct bf_fs *fs = bf_fs(req);
	struct bf_inode *held;
	ssize_t res;
	int fd, rwf, as;

	fd = bf_file_get(req, ino, fi, true, &held);
	if (fd < 0)
		return;
	rwf = bf_write_flags(fs, fi->flags);
	as = bf_setid_enter(req, fd);
	if (as < 0) {
		res = as;
	} else if (rwf) {
		res = bf_pwritev2_buf(fd, in_buf, off, rwf);
	} else {
		out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		out.buf[0].fd = fd;
		out.buf[0].pos = off;
		res = fuse_buf_copy(&out, in_buf, 0);
	}
	if (as > 0)
		bf_creds_leave();
	bf_changed(fs, WRITE, .node = ino);
	if (res < 0)
		fuse_reply_err(req, -res);
	else
		fuse_reply_write(req, res);
	bf_file_put(fs, held);
}

/*
 * close() of a duplicate runs the backing file system's flush semantics.
 * With zero-message opens there is nothing to flush: ENOSYS once, and the
 * kernel sends no more FLUSH.
 */
static void bf_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int fd;

	(void)ino;
	if (bf_fs(req)->open_by_node) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (fi->fh == BF_FH_NONE) {
		fuse_reply_err(req, 0); /* the extension's open: its backing file flushes */
		return;
	}
	fd = dup(fi->fh);
	fuse_reply_err(req, fd == -1 ? errno : (close(fd) == -1 ? errno : 0));
}

static void bf_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* the extension answered the open, or a create by node: nothing to close */
	if (fi->fh != BF_FH_NONE) {
		bf_passthrough_release(bf_fs(req), ino, fi);
		close(fi->fh);
	}
	fuse_reply_err(req, 0);
}

static void bf_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct bf_fs *fs = bf_fs(req);
	struct bf_inode *held;
	int fd, err;

	fd = bf_file_get(req, ino, fi, false, &held);
	if (fd < 0)
		return;
	err = (datasync ? fdatasync(fd) : fsync(fd)) == -1 ? -errno : 0;
	bf_file_put(fs, held);
	fuse_reply_err(req, -err);
}

static void bf_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	struct bf_fs *fs = bf_fs(req);
	struct bf_inode *held;
	int fd, as, err;

	fd = bf_file_get(req, ino, fi, true, &held);
	if (fd < 0)
		return;
	as = bf_setid_enter(req, fd);
	if (as < 0)
		err = as;
	else
		err = fallocate(fd, mode, off, len) == -1 ? -errno : 0;
	if (as > 0)
		bf_creds_leave();
	bf_changed(fs, WRITE, .node = ino);
	bf_file_put(fs, held);
	fuse_reply_err(req, -err);
}

static void bf_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct bf_fs *fs = bf_fs(req);
	struct bf_inode *held_in, *held_out;
	int fd_in, fd_out, as, err;
	ssize_t res = -1;

	fd_in = bf_file_get(req, ino_in, fi_in, false, &held_in);
	if (fd_in < 0)
		return;
	fd_out = bf_file_get(req, ino_out, fi_out, true, &held_out);
	if (fd_out < 0) {
		bf_file_put(fs, held_in);
		return;
	}
	as = bf_setid_enter(req, fd_out);
	if (as < 0)
		errno = -as;
	else
		res = copy_file_range(fd_in, &off_in, fd_out, &off_out, len, flags);
	err = res == -1 ? -errno : 0;
	if (as > 0)
		bf_creds_leave();
	bf_on_access(fs, ino_in);
	bf_changed(fs, WRITE, .node = ino_out);
	bf_file_put(fs, held_out);
	bf_file_put(fs, held_in);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_write(req, res);
}

static void bf_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct bf_fs *fs = bf_fs(req);
	struct bf_inode *held;
	off_t res;
	int fd, err;

	fd = bf_file_get(req, ino, fi, false, &held);
	if (fd < 0)
		return;
	res = lseek(fd, off, whence);
	err = res == -1 ? -errno : 0;
	bf_file_put(fs, held);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_lseek(req, res);
}

/*
 * flock() on the backing file, so other users of the backing directory
 * see the lock. Only with real opens of files and directories (cache=never):
 * otherwise there is no per-open fd to lock, and the kernel keeps flock
 * locks itself, as it keeps POSIX locks. A blocking request is served by polling with LOCK_NB, so
 * that an interrupted waiter (a signal) frees the worker thread instead of
 * leaving it stuck in flock().
 */
static void bf_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
	const struct timespec pause = { .tv_nsec = 5 * 1000 * 1000 };

	(void)ino;
	for (;;) {
		if (flock(fi->fh, op | LOCK_NB) == 0) {
			fuse_reply_err(req, 0);
			return;
		}
		if (errno != EWOULDBLOCK || (op & LOCK_NB)) {
			fuse_reply_err(req, errno);
			return;
		}
		if (fuse_req_interrupted(req)) {
			fuse_reply_err(req, EINTR);
			return;
		}
		nanosleep(&pause, NULL);
	}
}

/* ---- directories --------------------------------------------------------- */

static struct bf_dir *bf_dir(struct fuse_file_info *fi)
{
	return (struct bf_dir *)(uintptr_t)fi->fh;
}

static void bf_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct bf_fs *fs = bf_fs(req);
	struct bf_dir *d;
	int fd, err;

	if (fs->opendir_by_node) {
		/* from now on the kernel opens directories without asking */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	bf_backend(fs, FUSE_OPENDIR);
	err = -ENOMEM;
	d = calloc(1, sizeof(*d));
	if (!d)
		goto out_err;
	fd = bf_fd(fs, ino, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		err = fd;
		goto out_free;
	}
	d->dp = fdopendir(fd);
	if (!d->dp) {
		err = -errno;
		close(fd);
		goto out_free;
	}
	fi->fh = (uintptr_t)d;
	if (fs->opts.cache == BF_CACHE_ALWAYS)
		fi->cache_readdir = fi->keep_cache = 1;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		closedir(d->dp);
		free(d);
	}
	return;

out_free:
	free(d);
out_err:
	fuse_reply_err(req, -err);
}

static bool bf_is_dot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/*
 * The stream for a READDIR when the kernel opened the directory without
 * asking (no fh): the node's kept one, or a new one.
 */
static int bf_dir_by_node(struct bf_fs *fs, fuse_ino_t ino, struct bf_dir **dp,
			  struct bf_inode **held)
{
	struct bf_dir *d;
	int fd, err;

	*dp = bf_table_dir_get(&fs->table, ino, held);
	if (!*held)
		return -EIO;
	if (*dp)
		return 0;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	fd = bf_fd(fs, ino, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		free(d);
		return fd;
	}
	d->dp = fdopendir(fd);
	if (!d->dp) {
		err = -errno;
		close(fd);
		free(d);
		return err;
	}
	*dp = d;
	return 0;
}

/*
 * Fill one reply buffer. For readdirplus every entry but . and .. takes a
 * lookup reference; the ones that do not fit, or whose reply the kernel
 * never receives, are given back.
 */
static void bf_do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			  struct fuse_file_info *fi, bool plus)
{
	struct bf_fs *fs = bf_fs(req);
	struct bf_dir *d = bf_dir(fi);
	struct bf_inode *held = NULL;
	GArray *taken = g_array_new(false, false, sizeof(uint64_t));
	char *buf = NULL, *p;
	size_t rem = size;
	int err = 0;
	guint i;

	bf_backend(fs, plus ? FUSE_READDIRPLUS : FUSE_READDIR);
	if (!d) {
		err = bf_dir_by_node(fs, ino, &d, &held);
		if (err)
			goto out;
	}
	buf = malloc(size);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	p = buf;
	if (offset != d->offset) {
		seekdir(d->dp, offset);
		d->entry = NULL;
		d->offset = offset;
	}
	for (;;) {
		struct fuse_entry_param e;
		const char *name;
		size_t len;
		off_t next;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = -errno; /* 0 at the end of the directory */
				break;
			}
		}
		next = d->entry->d_off;
		name = d->entry->d_name;
		if (plus && !bf_is_dot(name)) {
			err = bf_lookup_at(fs, dirfd(d->dp), name, &e, NULL);
			if (err == -ENOENT) {
				/* gone since readdir saw it: skip it, as getdents would */
				err = 0;
				d->entry = NULL;
				d->offset = next;
				continue;
			}
			if (err)
				break;
			len = fuse_add_direntry_plus(req, p, rem, name, &e, next);
			if (len > rem) {
				bf_table_forget(&fs->table, e.ino, 1);
				break;
			}
			g_array_append_val(taken, e.ino);
		} else if (plus) {
			bf_entry_init(fs, &e);
			e.attr.st_ino = d->entry->d_ino;
			e.attr.st_mode = d->entry->d_type << 12;
			len = fuse_add_direntry_plus(req, p, rem, name, &e, next);
			if (len > rem)
				break;
		} else {
			struct stat st = {
				.st_ino = d->entry->d_ino,
				.st_mode = d->entry->d_type << 12,
			};

			len = fuse_add_direntry(req, p, rem, name, &st, next);
			if (len > rem)
				break;
		}
		p += len;
		rem -= len;
		d->entry = NULL;
		d->offset = next;
	}
	/* An error after some entries is reported by the next call. */
	if (err && rem != size)
		err = 0;
	bf_on_access(fs, ino);
out:
	if (held)
		bf_table_dir_put(&fs->table, held, d);
	if (err) {
		fuse_reply_err(req, -err);
	} else if (fuse_reply_buf(req, buf, size - rem) == -ENOENT) {
		for (i = 0; i < taken->len; i++)
			bf_table_forget(&fs->table, g_array_index(taken, uint64_t, i), 1);
	}
	g_array_free(taken, true);
	free(buf);
}

static void bf_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		       struct fuse_file_info *fi)
{
	bf_do_readdir(req, ino, size, offset, fi, false);
}

static void bf_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			   struct fuse_file_info *fi)
{
	bf_do_readdir(req, ino, size, offset, fi, true);
}

static void bf_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct bf_dir *d = bf_dir(fi);

	(void)ino;
	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

static void bf_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct bf_dir *d = bf_dir(fi);
	int fd, res;

	fd = d ? dirfd(d->dp) : bf_fd(bf_fs(req), ino, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	res = datasync ? fdatasync(fd) : fsync(fd);
	fuse_reply_err(req, res == -1 ? errno : 0);
	if (!d)
		close(fd);
}

static void bf_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int fd, res;

	fd = bf_begin(req, ino, FUSE_STATFS);
	if (fd < 0)
		return;
	res = fstatvfs(fd, &sv);
	if (res == -1)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
	close(fd);
}

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
 * A miss reads the whole value even for a size query, so that the cache
 * learns it; values too large for the cache are sized and sent as asked.
 */
static void bf_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
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
	if (n < 0)
		fuse_reply_err(req, -n);
	else if (!size)
		fuse_reply_xattr(req, n);
	else if ((size_t)n > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, n);
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

static void bf_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
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
	/* the caller's capabilities are read only where there is a name to hide */
	if (n > 0 && memmem(buf, n, "trusted.", 8) && !bf_caller_sees_trusted(req))
		n = bf_xattr_hide_trusted(buf, n);
	if (n == -1)
		fuse_reply_err(req, errno);
	else if (!size)
		fuse_reply_xattr(req, n);
	else if ((size_t)n > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, n);
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

static void bf_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	bf_xattr_set(req, ino, name, value, size, flags);
}

static void bf_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	bf_xattr_set(req, ino, name, NULL, 0, 0);
}

/* ---- session ------------------------------------------------------------- */

/*
 * What the connection will do, from the options and what the kernel
 * offers. Zero-message opens need the kernel's NO_OPEN(DIR)_SUPPORT, and
 * cache=never keeps real opens (it drops pages and listings at every open);
 * passthrough needs real opens of files. Without them, the kernel's own
 * O_TRUNC handling (a SETATTR) replaces ATOMIC_O_TRUNC, which only an OPEN
 * can carry, and flock locks stay in the kernel.
 */
static void bf_init(void *userdata, struct fuse_conn_info *conn)
{
	struct bf_fs *fs = userdata;
	unsigned int want = FUSE_CAP_DONT_MASK | FUSE_CAP_POSIX_ACL | FUSE_CAP_CACHE_SYMLINKS;
	unsigned int unwant = FUSE_CAP_HANDLE_KILLPRIV; /* suid bits: the kernel's setattr */
	bool caching = fs->opts.cache != BF_CACHE_NEVER;

#ifdef HAVE_FUSE_PASSTHROUGH
	/*
	 * ext mode: the extension answers opens with the backing files. Not
	 * with noatime: passthrough reads follow the backing mount's rule.
	 */
	bool ext = fs->opts.passthrough < 0 && fs->table.ext && caching && !fs->opts.writeback &&
		   !fs->table.noatime;

	fs->passthrough = (fs->opts.passthrough > 0 || ext) && (conn->capable & FUSE_CAP_PASSTHROUGH);
	if (fs->passthrough)
		want |= FUSE_CAP_PASSTHROUGH;
#endif
	if (fs->opts.passthrough > 0 && !fs->passthrough)
		fuse_log(FUSE_LOG_WARNING, "bpfused: %s: serving file data from the daemon\n",
#ifdef HAVE_FUSE_PASSTHROUGH
			 "this kernel has no FUSE passthrough"
#else
			 "built with a libfuse older than 3.17, without passthrough"
#endif
		);
	fs->open_by_node = caching && !fs->passthrough && !fs->close_to_open &&
			   (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT);
	if (fs->close_to_open)
		fuse_log(FUSE_LOG_INFO, "bpfused: close_to_open: opens reach the backend, "
					"and a writer's close flushes to it\n");
	fs->opendir_by_node = caching && (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT);
	if (fs->open_by_node || fs->opendir_by_node)
		unwant |= FUSE_CAP_FLOCK_LOCKS;
	else
		want |= FUSE_CAP_FLOCK_LOCKS;
	if (fs->open_by_node)
		unwant |= FUSE_CAP_ATOMIC_O_TRUNC;
	else
		want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/*
	 * The kernel invalidates the pages an asynchronous direct write covers
	 * when it is submitted, not when it completes, so a buffered read in
	 * between caches what the write is replacing, and with pages kept
	 * across opens nothing drops them later. Submitted synchronously, a
	 * direct write is followed by the kernel's own invalidation, as on any
	 * file system. (Dropping the pages from the daemon before replying
	 * waits for reads in flight, which only a free worker can serve.)
	 */
	if (caching)
		unwant |= FUSE_CAP_ASYNC_DIO;
	if (fs->opts.writeback)
		want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		unwant |= FUSE_CAP_WRITEBACK_CACHE;
#ifdef FUSE_CAP_NO_EXPORT_SUPPORT
	/*
	 * Node ids live as long as the kernel's references, and a new daemon
	 * hands out new ones: a file handle the kernel encoded from one would
	 * go stale once the node is forgotten or the mount cycled, so none is
	 * handed out (name_to_handle_at() fails with EOPNOTSUPP; Linux 6.9 on).
	 * Handles for fanotify (AT_HANDLE_FID) still work.
	 */
	want |= FUSE_CAP_NO_EXPORT_SUPPORT;
#endif
	conn->want &= ~unwant;
	conn->want |= want & conn->capable;
	conn->time_gran = 1;
}

/* clang-format off */
const struct fuse_lowlevel_ops bf_ops = {
	.init		 = bf_init,
	.lookup		 = bf_lookup,
	.forget		 = bf_forget,
	.forget_multi	 = bf_forget_multi,
	.getattr	 = bf_getattr,
	.setattr	 = bf_setattr,
	.readlink	 = bf_readlink,
	.mknod		 = bf_mknod,
	.mkdir		 = bf_mkdir,
	.symlink	 = bf_symlink,
	.link		 = bf_link,
	.unlink		 = bf_unlink,
	.rmdir		 = bf_rmdir,
	.rename		 = bf_rename,
	.open		 = bf_open,
	.create		 = bf_create,
#ifdef HAVE_FUSE_PASSTHROUGH
	.tmpfile	 = bf_tmpfile, /* in libfuse since 3.16; built with 3.17 */
#endif
	.read		 = bf_read,
	.write_buf	 = bf_write_buf,
	.flush		 = bf_flush,
	.release	 = bf_release,
	.fsync		 = bf_fsync,
	.opendir	 = bf_opendir,
	.readdir	 = bf_readdir,
	.readdirplus	 = bf_readdirplus,
	.releasedir	 = bf_releasedir,
	.fsyncdir	 = bf_fsyncdir,
	.statfs		 = bf_statfs,
	.setxattr	 = bf_setxattr,
	.getxattr	 = bf_getxattr,
	.listxattr	 = bf_listxattr,
	.removexattr	 = bf_removexattr,
	.fallocate	 = bf_fallocate,
	.copy_file_range = bf_copy_file_range,
	.lseek		 = bf_lseek,
	.flock		 = bf_flock,
};
/* clang-format on */
