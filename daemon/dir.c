// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bpfused: directory listings, opened with a message or by node.
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

/* ---- directories --------------------------------------------------------- */

static struct bf_dir *bf_dir(struct fuse_file_info *fi)
{
	return (struct bf_dir *)(uintptr_t)fi->fh;
}

void bf_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
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

void bf_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		struct fuse_file_info *fi)
{
	bf_do_readdir(req, ino, size, offset, fi, false);
}

void bf_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		    struct fuse_file_info *fi)
{
	bf_do_readdir(req, ino, size, offset, fi, true);
}

void bf_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct bf_dir *d = bf_dir(fi);

	(void)ino;
	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

void bf_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
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
