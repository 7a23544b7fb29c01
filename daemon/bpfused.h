/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bpfused internals: options, the inode table and the path helpers that
 * the FUSE handlers (fs.c) and main.c share. Kept free of libfuse session
 * state so the unit tests in test/ can link each module on its own.
 */
#ifndef BPFUSED_H
#define BPFUSED_H

#ifdef HAVE_FUSE_PASSTHROUGH
#define FUSE_USE_VERSION 317 /* fuse_passthrough_open(), 64-bit capabilities */
#else
#define FUSE_USE_VERSION 314
#endif
#include <fuse_lowlevel.h>
#include <linux/types.h>
#include <dirent.h>
#include <glib.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "bpfuse.h"

/* ---- options (opts.c) ---------------------------------------------------- */

enum bf_cache_mode {
	BF_CACHE_NEVER, /* timeouts 0, page cache dropped at every open */
	BF_CACHE_AUTO, /* timeouts 1 day when watched, else 1 s; pages kept while mtime holds */
	BF_CACHE_ALWAYS, /* timeouts 1 day, page cache kept across opens */
};

struct bf_opts {
	char *backing; /* BACKING_DIR as given */
	double entry_timeout; /* seconds; < 0 until set or defaulted */
	double attr_timeout;
	double negative_timeout;
	char *cache_str; /* -o cache=never|auto|always */
	enum bf_cache_mode cache;
	int writeback;
	int allow_other; /* -1: default (on when run as root) */
	uint64_t backend_latency_ns;
	int maps; /* -1: default (on unless cache=never) */
	int watch; /* watch the backing file system for changes */
	int ext; /* attach the kernel extension where the kernel has the hook */
	double map_timeout; /* seconds a map entry may be served; < 0 until set */
	double map_negative_timeout; /* the same for negative entries */
	int close_to_open; /* real opens, flushed to the backend at close; -1: by backend */
	int io_uring; /* FUSE over io_uring; -1: where the kernel allows it and the backend is local */
	int passthrough; /* kernel passthrough for file data (needs real opens);
			    -1: in ext mode, where the kernel has it */
	unsigned int io_fds; /* nodes that may keep backing fds open for I/O */
	unsigned int map_entries; /* capacity of the lookup and attr maps; 0 until set: by memory */
	bool noatime, nodiratime; /* the mount's own (libfuse passes them to the kernel) */
};

int bf_opts_parse(struct fuse_args *args, struct bf_opts *opts);
int bf_opts_finish(struct bf_opts *opts, bool is_root);
void bf_opts_timeouts(struct bf_opts *opts, bool watched);
void bf_opts_map_timeouts(struct bf_opts *opts, bool watched);
void bf_opts_free(struct bf_opts *opts);
void bf_opts_help(void);
int bf_parse_seconds(const char *s, double *out);
int bf_parse_duration(const char *s, uint64_t *ns);

/* ---- inode table (inode.c) ----------------------------------------------- */

/* A directory stream and where a listing stands in it. */
struct bf_dir {
	DIR *dp;
	off_t offset; /* where dp is, as readdir offsets go */
	struct dirent *entry; /* read but not yet returned to the kernel */
};

void bf_dir_free(struct bf_dir *d);

/*
 * One backing object the kernel knows by node id. Held by file handle, not
 * by an open fd, so the table can grow past RLIMIT_NOFILE; only file
 * systems without handle support (and the root) keep an O_PATH fd.
 */
struct bf_inode {
	uint64_t nodeid; /* never reused: later map keys stay unambiguous */
	dev_t dev;
	ino_t ino;
	mode_t type; /* S_IFMT bits */
	uint64_t nlookup; /* protected by table->lock */
	bool pinned; /* the root: never freed by FORGET */
	bool hashed; /* reachable through by_key; protected by table->lock */
	int fd; /* O_PATH fd, or -1 when held by handle only */
	bool fd_kept; /* fd is a directory's, kept to spare open_by_handle_at() (dir_fds_max) */
	int mount_fd; /* borrowed from table->mounts for open_by_handle_at */
	struct file_handle *fh; /* NULL when the file system has no handles */
	uint32_t kref; /* ext mode: its slot for kernel-taken lookups, or BPFUSE_NODE_NONE;
			  set at creation, fixed until the node is freed */
	/* I/O by node (zero-message opens): protected by table->lock */
	int rfd, wfd; /* cached backing fds for reading, for writing; -1 if none */
	struct bf_dir *dir; /* a directory's listing stream, kept between READDIRs */
	bool dir_busy; /* a request is using dir */
	unsigned int io_users; /* requests using rfd/wfd now: not evicted meanwhile */
	GList io_link; /* in table->io_lru while rfd or wfd is open */
	/* kernel passthrough: protected by table->lock */
	int backing_id; /* registered with the kernel, 0 if none */
	unsigned int nopen; /* opens sharing backing_id */
	unsigned int nwrite; /* of those, opened for writing */
	bool atime_moves; /* the next read moves the backing atime (see bf_atime_moves()) */
	bool page_opens; /* ext mode: opened keeping pages, never passthrough (a small file) */
};

/*
 * Locks, in the order they are taken: backing_lock, then lock, then the
 * library's own (bpfuse_node_*() under lock). lock guards memory only: no
 * system call runs while it is held (fds to close and nodes to free are
 * reaped after it is dropped; the lock check in test/lockcheck.c aborts on
 * one). backing_lock serialises what the kernel is told of the
 * passthrough registry (bpf() and ioctl() calls, ext mode) with the state
 * read under lock, so that the last update wins.
 */
struct bf_table {
	pthread_mutex_t lock;
	pthread_mutex_t backing_lock;
	GHashTable *by_id; /* nodeid -> inode; protected by lock */
	GHashTable *by_key; /* (dev, ino) -> inode; protected by lock */
	GHashTable *mounts; /* mount id -> fd for open_by_handle_at */
	uint64_t next_id; /* protected by lock */
	uint64_t underflows; /* FORGETs that asked for more than was held */
	struct bf_inode *root;
	struct bpfuse *ext; /* ext mode: the kernel answers lookups too */
	/*
	 * The session's /dev/fuse fd, to register backing files with. In ext
	 * mode a node's stays registered until its FORGET, since the extension
	 * opens it without the daemon (bpfuse_backing_put()).
	 */
	int dev_fd;
	GQueue io_lru; /* nodes with cached I/O fds, most recent first; protected by lock */
	unsigned int io_max; /* at most this many nodes keep I/O fds */
	unsigned int dir_fds_max; /* at most this many directory nodes keep their O_PATH fd */
	bool noatime, nodiratime; /* reads by the daemon leave atime alone (O_NOATIME) */
};

/* Nodes keeping I/O fds by default: two fds each at most, well under RLIMIT_NOFILE. */
#define BF_IO_FDS_DEFAULT 4096

int bf_table_init(struct bf_table *t, int root_fd);
size_t bf_table_destroy(struct bf_table *t);
struct bf_inode *bf_table_find(struct bf_table *t, uint64_t nodeid);
extern __thread int bf_table_locked;
extern uint64_t bf_table_contended, bf_table_wait_ns;
struct bf_inode *bf_table_ref(struct bf_table *t, struct bf_inode *proto);
struct bf_inode *bf_table_ref_id(struct bf_table *t, uint64_t nodeid);
bool bf_table_forget(struct bf_table *t, uint64_t nodeid, uint64_t n);
uint64_t bf_table_node_at(struct bf_table *t, int dirfd, const char *name, bool going);
uint64_t bf_table_node_of(struct bf_table *t, dev_t dev, ino_t ino);
size_t bf_table_count(struct bf_table *t);
uint64_t bf_table_lookups(struct bf_table *t);

int bf_table_io_get(struct bf_table *t, uint64_t nodeid, bool write, struct bf_inode **held);
void bf_table_io_put(struct bf_table *t, struct bf_inode *held);
struct bf_dir *bf_table_dir_get(struct bf_table *t, uint64_t nodeid, struct bf_inode **held);
void bf_table_dir_put(struct bf_table *t, struct bf_inode *held, struct bf_dir *d);
size_t bf_table_io_count(struct bf_table *t);
bool bf_table_writing(struct bf_table *t, uint64_t nodeid);
int bf_table_backing_open(struct bf_table *t, uint64_t nodeid, int fd, bool write, bool pages);
void bf_table_backing_release(struct bf_table *t, uint64_t nodeid, bool write);
void bf_table_backing_forget(struct bf_table *t, uint64_t nodeid);
void bf_table_set_atime_moves(struct bf_table *t, uint64_t nodeid, bool moves);
bool bf_table_take_atime_moves(struct bf_table *t, uint64_t nodeid);

int bf_inode_probe(struct bf_table *t, int dirfd, const char *name, struct bf_inode *proto,
		   struct stat *st);
int bf_inode_probe_fd(struct bf_table *t, int fd, struct bf_inode *proto, struct stat *st);
void bf_inode_release(struct bf_inode *in);
int bf_inode_open(const struct bf_inode *in, int flags);
int bf_table_open(struct bf_table *t, const struct bf_inode *in, int flags);

/* ---- path helpers (path.c) ----------------------------------------------- */

#define BF_PROC_FD_MAX sizeof("/proc/self/fd/2147483647")

/* creds.c: this thread's credentials for a passthrough registration, and back */
#define BF_BACKING_GID 65534 /* nogroup */
int bf_creds_enter_backing(void);
void bf_creds_leave(void);

void bf_proc_fd_path(char buf[BF_PROC_FD_MAX], int fd);
bool bf_path_within(const char *parent, const char *path);
int bf_check_backing(const char *path, char **real);
int bf_check_mountpoint(const char *path, char **real);

/* ---- coherence (watch.c) ------------------------------------------------- */

struct bf_fs;
struct bf_watch;

/* What a read does to atime on the backing file system, from its mount flags. */
enum bf_atime_rule {
	BF_ATIME_RELATIME, /* once after each change, or once a day */
	BF_ATIME_STRICT, /* at every read */
	BF_ATIME_NEVER, /* noatime */
};

int bf_watch_open(struct bf_fs *fs, struct fuse_session *se, int backing_fd, struct bf_watch **out);
int bf_watch_run(struct bf_watch *w);
void bf_watch_stop(struct bf_watch *w);
bool bf_watch_has(struct bf_watch *w, dev_t dev);
int bf_watch_cross(struct bf_watch *w, int dirfd, const char *name, dev_t dev);

/* ---- the file system (fs.c) ---------------------------------------------- */

extern const struct fuse_lowlevel_ops bf_ops;

struct bf_fs {
	struct bf_opts opts;
	struct bf_table table;
	struct bpfuse *cache; /* NULL: no maps, every call goes to the backend */
	struct bf_watch *watch; /* NULL: changes behind our back are not seen */
	struct fuse_session *se; /* for the handlers' notifications */
	_Atomic uint64_t backend_calls; /* metadata calls into the backing dir */
	/* decided at INIT, from the options and what the kernel offers */
	bool open_by_node; /* files opened without a message: no OPEN, FLUSH, RELEASE */
	bool opendir_by_node; /* directories too: listings cached by the kernel */
	bool passthrough; /* regular files' data goes to the backing file in the kernel */
	bool remote; /* BACKING_DIR is a FUSE or network file system (bf_remote_fs()) */
	bool close_to_open; /* opens reach the backend, and writers' closes flush to it */
	bool killpriv_v2; /* the daemon drops set-ID bits on writes and truncations */
	bool uring; /* FUSE over io_uring asked for (libfuse starts it after INIT) */
	_Atomic bool uring_seen; /* a request came over the ring */
	char uring_note[192]; /* why not io_uring, for the log once the mount serves */
	enum bf_atime_rule atime_rule; /* how reads move atime on the backing file system */
	bool no_xattr; /* the backing file system has no extended attributes at all */
	/* kernel timeouts for nodes on a file system the watcher cannot watch */
	double unwatched_entry_timeout, unwatched_attr_timeout;
};

#endif
