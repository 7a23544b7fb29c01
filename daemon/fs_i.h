/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What bpfused's handler files share: fs.c (names, attributes, the
 * session and the ops table), file.c (opens, I/O, creates), dir.c
 * (listings), xattr.c, and creds.c (calls made as the caller, set-ID
 * rules). Each handler replies exactly once.
 */
#ifndef BF_FS_I_H
#define BF_FS_I_H

#include "bpfused.h"

/* An open holding no fd of the daemon's: the extension's, or a create by node. */
#define BF_FH_NONE BPFUSE_FH_KERNEL

/* Drop what a change made stale, by the rules of bpfuse_rules.h. */
#define bf_changed(fs, cause, ...)                                      \
	bpfuse_cache_invalidate((fs)->cache, BPFUSE_CAUSE_##cause,      \
				&(struct bpfuse_change){ __VA_ARGS__ })

/* fs.c */
bool bf_atime_moves(const struct bf_fs *fs, const struct stat *st);
bool bf_ino_watched(struct bf_fs *fs, fuse_ino_t ino);
int bf_begin(fuse_req_t req, fuse_ino_t ino, unsigned int opcode);
int bf_fd(struct bf_fs *fs, fuse_ino_t ino, int flags);
int bf_fd_path(struct bf_fs *fs, fuse_ino_t ino, bool *own);
int bf_lookup_at(struct bf_fs *fs, int dirfd, const char *name, struct fuse_entry_param *e,
		 uint32_t *kref);
struct bf_fs *bf_fs(fuse_req_t req);
void bf_backend(struct bf_fs *fs, unsigned int opcode);
void bf_entry_init(struct bf_fs *fs, struct fuse_entry_param *e);
void bf_on_access(struct bf_fs *fs, fuse_ino_t ino);

/* creds.c */
/*
 * What the kernel said of a change's set-ID bits under KILLPRIV_V2: the
 * caller holds CAP_FSETID (keep) or not (drop); without V2 it says
 * nothing (ask: the file and the caller's credentials decide).
 */
enum bf_kill { BF_KILL_ASK, BF_KILL_KEEP, BF_KILL_DROP };

static inline enum bf_kill bf_kill_of(const struct bf_fs *fs, bool kill)
{
	return !fs->killpriv_v2 ? BF_KILL_ASK : kill ? BF_KILL_DROP : BF_KILL_KEEP;
}

#ifdef HAVE_FUSE_KILLPRIV_V2
#define bf_kill_fi(fs, fi) bf_kill_of(fs, (fi)->kill_suidgid)
#else
#define bf_kill_fi(fs, fi) BF_KILL_ASK
#endif

bool bf_is_setid(int fd);
int bf_creds_enter(fuse_req_t req);
int bf_creds_enter_kill(fuse_req_t req, enum bf_kill kill);
int bf_fd_as_caller(fuse_req_t req, fuse_ino_t ino, int flags, enum bf_kill kill);
int bf_setid_enter(fuse_req_t req, int fd, enum bf_kill kill);

/* file.c */
void bf_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			struct fuse_file_info *fi_out, size_t len, int flags);
void bf_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi);
void bf_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		  struct fuse_file_info *fi);
void bf_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op);
void bf_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void bf_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void bf_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	      struct fuse_file_info *fi);
void bf_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void bf_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi);
void bf_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void bf_tmpfile(fuse_req_t req, fuse_ino_t parent, mode_t mode, struct fuse_file_info *fi);
void bf_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in_buf, off_t off,
		  struct fuse_file_info *fi);

/* dir.c */
void bf_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void bf_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void bf_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		struct fuse_file_info *fi);
void bf_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		    struct fuse_file_info *fi);
void bf_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* xattr.c */
void bf_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void bf_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void bf_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
void bf_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		 size_t size, int flags);

#endif
