// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bpfused: opens, creates, reads, writes and the rest of a file's
 * requests, with kernel passthrough where it is on.
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

/* ---- files --------------------------------------------------------------- */

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

void bf_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
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
		fd = bf_fd_as_caller(req, ino, bf_open_flags(fs, fi->flags), bf_kill_fi(fs, fi));
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
static int bf_create_at(fuse_req_t req, int dirfd, const char *name, int flags, mode_t mode,
			enum bf_kill kill)
{
	int fd;

	fd = bf_creds_enter_kill(req, kill);
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

void bf_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi)
{
	struct bf_fs *fs = bf_fs(req);
	struct fuse_entry_param e;
	int dirfd, fd, err = 0;

	dirfd = bf_begin(req, parent, FUSE_CREATE);
	if (dirfd < 0)
		return;
	fd = bf_create_at(req, dirfd, name, bf_open_flags(fs, fi->flags) | (fi->flags & O_EXCL),
			  mode, bf_kill_fi(fs, fi));
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
void bf_tmpfile(fuse_req_t req, fuse_ino_t parent, mode_t mode, struct fuse_file_info *fi)
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
void bf_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
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

void bf_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in_buf, off_t off,
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
	as = bf_setid_enter(req, fd, bf_kill_fi(fs, fi));
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
void bf_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
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

void bf_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* the extension answered the open, or a create by node: nothing to close */
	if (fi->fh != BF_FH_NONE) {
		bf_passthrough_release(bf_fs(req), ino, fi);
		close(fi->fh);
	}
	fuse_reply_err(req, 0);
}

void bf_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
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

void bf_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		  struct fuse_file_info *fi)
{
	struct bf_fs *fs = bf_fs(req);
	struct bf_inode *held;
	int fd, as, err;

	fd = bf_file_get(req, ino, fi, true, &held);
	if (fd < 0)
		return;
	as = bf_setid_enter(req, fd, BF_KILL_ASK); /* the kernel says nothing here */
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

void bf_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
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
	as = bf_setid_enter(req, fd_out, BF_KILL_ASK);
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

void bf_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
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
void bf_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
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
