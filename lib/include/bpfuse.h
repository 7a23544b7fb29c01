/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libbpfuse: caches of lookup, attr and xattr answers for a libfuse
 * low-level daemon, kept in BPF maps that the kernel answers from itself
 * where it carries the FUSE BPF hook (ext mode), and that the daemon
 * answers from otherwise (stock mode). docs/ADOPTING.md walks through a
 * daemon's side; in short:
 *
 *   after mounting      bpfuse_mount_open(), then bpfuse_mount_attach()
 *                       with the session's /dev/fuse fd (ext mode where
 *                       the kernel allows it)
 *   a new node          bpfuse_node_create(): the handle its entries carry
 *   lookup, getattr,    ask the cache first (..._find: a hit is counted
 *   getxattr            for bpfusectl); on a miss ask the backend, then
 *                       fill (..._fill) with the miss the find readied: a
 *                       fill an invalidation passed meanwhile is undone, so
 *                       a slow miss never caches stale data
 *   a change            bpfuse_cache_invalidate() after it reached the
 *                       backend, before replying
 *   forget              bpfuse_node_forget() under the daemon's node lock
 *   unmount             bpfuse_mount_close()
 *
 * Node ids must never be reused while the mount lives: cached names embed
 * their parent's id, and FORGET drops a node's attributes only. A daemon
 * that uses pointers as node ids (as libfuse's examples do) must not.
 *
 * Every call is safe from any thread. Calls with a NULL struct bpfuse do
 * nothing and miss, so a daemon runs unchanged without the maps (no BPF,
 * not root). The library changes no process-wide state: libbpf's print
 * callback is restored after loading, and the BPF file system must already
 * be mounted at /sys/fs/bpf (systemd does that; bpfused does it itself).
 */
#ifndef BPFUSE_H
#define BPFUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "bpfuse_entries.h"
#include "bpfuse_rules.h"

#define BPFUSE_PIN_ROOT "/sys/fs/bpf/bpfuse"

/* One mount's caches: opaque. */
struct bpfuse;

/* How a mount's caches behave; zero-initialise, set sz, then what you need. */
struct bpfuse_opts {
	size_t sz;			/* sizeof(struct bpfuse_opts) */
	bool no_cache;			/* statistics only: gets miss, fills do nothing */
	/*
	 * Outside changes reach the daemon, which tells the kernel of each
	 * (fuse_lowlevel_notify_inval_inode/_entry). Shown in the statistics;
	 * in ext mode, writes then skip the privilege check (a GETXATTR of
	 * security.capability) on files found to have nothing to drop.
	 */
	bool watched;
	bool atime;			/* reads move atime: reads invalidate attributes */
	uint32_t entries;		/* lookup and attr capacity; 0: BPFUSE_ENTRIES_DEFAULT */
	uint64_t lifetime_ns;		/* an entry's default lifetime; 0: until invalidated */
	uint64_t negative_lifetime_ns;	/* the same for "no such name/attribute" */
	/* what the kernel may cache of an answer, replied by the extension in ext mode */
	uint64_t entry_timeout_ns;
	uint64_t attr_timeout_ns;
	uint64_t negative_timeout_ns;
	/*
	 * Ext mode: the extension fills the caches from the daemon's LOOKUP,
	 * GETATTR and GETXATTR replies (those with a buffer), with the default
	 * lifetimes and the epoch rule, so that a miss costs no bpf() call
	 * (the daemon's finds and fills then skip what the extension does
	 * itself; see struct bpfuse_miss). It fills after the reply, over
	 * the daemon's own fill: a daemon that must not cache an answer has
	 * to say so where the extension looks (BPFUSE_BACKING_WRITING).
	 */
	bool kernel_fills;
};

/* A fill's lifetime: the mount's default, or until invalidated. */
#define BPFUSE_LIFETIME_DEFAULT 0
#define BPFUSE_LIFETIME_FOREVER UINT64_MAX

/* Longer xattr values are never cached: fills of them fail with -E2BIG. */
#define BPFUSE_XATTR_VALUE_MAX 256

/* A node handle that carries no kernel-taken references (stock mode). */
#define BPFUSE_NODE_NONE UINT32_MAX

int bpfuse_mount_open(const char *mountpoint, const struct bpfuse_opts *opts,
		      struct bpfuse **out);
void bpfuse_mount_close(struct bpfuse *b);
int bpfuse_mount_attach(struct bpfuse *b, int fuse_dev_fd);
bool bpfuse_mount_is_ext(const struct bpfuse *b);
int bpfuse_mount_upcall_status(const struct bpfuse *b);
void bpfuse_mount_set_pid(struct bpfuse *b, pid_t pid);
/* How requests reach the daemon, for bpfusectl stats. */
enum bpfuse_transport {
	BPFUSE_TRANSPORT_UNKNOWN, /* not told (a counted mount, or before INIT) */
	BPFUSE_TRANSPORT_DEV, /* read from and answered through /dev/fuse */
	BPFUSE_TRANSPORT_URING, /* FUSE over io_uring */
};
void bpfuse_mount_set_transport(struct bpfuse *b, enum bpfuse_transport transport);
int bpfuse_mount_sweep(void);

/*
 * Nodes. In ext mode the extension answers a node's lookups only while it
 * holds a handle, and the kernel's FORGET counts those answers too:
 * bpfuse_node_forget() adds them to *nlookup before subtracting n, and
 * frees the handle when *nlookup reaches 0. Call both under the lock of
 * the daemon's node table: they touch memory only. What they leave for
 * the kernel (a bpf() call each) is done by bpfuse_node_sync(): call it
 * after dropping that lock, before replying with a node created.
 */
uint32_t bpfuse_node_create(struct bpfuse *b, uint64_t nodeid);
uint64_t bpfuse_node_forget(struct bpfuse *b, uint32_t *node, uint64_t *nlookup, uint64_t n);
void bpfuse_node_sync(struct bpfuse *b);

/*
 * Ext mode with kernel passthrough (Linux 6.12 and the hook). The daemon
 * registers one backing file per node with the kernel (libfuse's
 * fuse_passthrough_open()), answers its own opens of the node with that
 * id, and keeps it registered until after bpfuse_backing_del(), at the
 * node's FORGET. Meanwhile the extension answers the node's read-only,
 * non-truncating opens in the kernel, with file handle BPFUSE_FH_KERNEL,
 * and their FLUSH and RELEASE. Other requests that carry such a handle
 * (FSYNC, say) reach the daemon, which serves them by node. Reads never
 * reach the daemon: while the next read of the node would move its atime,
 * put the id again with BPFUSE_BACKING_ATIME, and the node's cached
 * attributes go at the next release the extension answers (once; put it
 * again to renew).
 */
#define BPFUSE_FH_KERNEL 0xffffffffffffffffULL
#define BPFUSE_BACKING_ATIME (1u << 0)
/*
 * Instead of a backing file (backing_id 0): the extension answers the
 * node's read-only opens keeping the page cache (FOPEN_KEEP_CACHE), for
 * files whose pages are better kept than passed through (small ones: an
 * open then costs no second open of the backing file). Reads of pages not
 * cached reach the daemon with BPFUSE_FH_KERNEL; the daemon's own opens of
 * the node must not use passthrough either (the kernel refuses to mix).
 */
#define BPFUSE_BACKING_PAGES (1u << 1)
/*
 * The node is open for writing through passthrough: its writes never reach
 * the daemon, so its attributes must not be cached; the extension's fills
 * from replies (opts.kernel_fills) leave them out. Put it before dropping
 * the node's attributes.
 */
#define BPFUSE_BACKING_WRITING (1u << 2)

int bpfuse_backing_put(struct bpfuse *b, uint64_t nodeid, int backing_id, unsigned int flags);
void bpfuse_backing_del(struct bpfuse *b, uint64_t nodeid);

/* A name's answer, as the cache holds it. */
struct bpfuse_entry {
	uint64_t nodeid;	/* 0: "no such name" */
	uint64_t generation;
	uint32_t node;		/* bpfuse_node_create()'s handle, or BPFUSE_NODE_NONE */
};

/*
 * A miss under way: a find that missed readies it, the fill with the
 * backend's answer uses it. It carries the cache's epoch from before the
 * find, so that a fill an invalidation passed meanwhile is undone (a slow
 * backend never caches a stale answer), and whether this process fills at
 * all (in ext mode with kernel fills, the extension fills from the reply
 * and the daemon's fill does nothing). Set lifetime_ns between the two
 * where the backend says how long its answer holds (BPFUSE_LIFETIME_*, or
 * nanoseconds; 0 is the mount's default).
 */
struct bpfuse_miss {
	uint64_t epoch;		/* private */
	bool fill;		/* private */
	uint64_t lifetime_ns;
};

/*
 * The three caches, as a handler uses them:
 *
 *	if (bpfuse_attr_find(b, ino, &st, &m) == 0)
 *		return reply(&st);		// a hit, counted for bpfusectl
 *	err = backend_stat(ino, &st);
 *	if (!err)
 *		bpfuse_attr_fill(b, &m, ino, &st);
 *
 * Finds return 0 on a hit, -ENOENT on a miss (always without maps, with
 * opts.no_cache, and where the extension looked already). A lookup hit
 * with e->nodeid 0 is "no such name"; otherwise st holds the node's
 * attributes, and the daemon takes its reference on the node as for any
 * lookup (a node it no longer has is a miss: m is ready for the fill).
 * bpfuse_entry_fill() caches "no such name" for e->nodeid 0, and the node's
 * attributes with the name unless st is NULL (attributes the backend does
 * not decide alone: a file written where the daemon cannot see).
 *
 * bpfuse_xattr_find() returns the value's size (a size query for size
 * 0), a cached error (-ENODATA, -EOPNOTSUPP), -ERANGE when buf is too
 * small, and -ENOENT on a miss; bpfuse_xattr_fill() takes the value's size
 * or the backend's error: values up to BPFUSE_XATTR_VALUE_MAX bytes,
 * -ENODATA and -EOPNOTSUPP are cached, anything else is not.
 *
 * A listing that fills names (READDIRPLUS) starts its miss itself, before
 * it asks the backend.
 */
int bpfuse_entry_find(struct bpfuse *b, uint64_t parent, const char *name, struct bpfuse_entry *e,
		      struct stat *st, struct bpfuse_miss *m);
void bpfuse_entry_fill(struct bpfuse *b, const struct bpfuse_miss *m, uint64_t parent,
		       const char *name, const struct bpfuse_entry *e, const struct stat *st);
int bpfuse_attr_find(struct bpfuse *b, uint64_t nodeid, struct stat *st, struct bpfuse_miss *m);
void bpfuse_attr_fill(struct bpfuse *b, const struct bpfuse_miss *m, uint64_t nodeid,
		      const struct stat *st);
ssize_t bpfuse_xattr_find(struct bpfuse *b, uint64_t nodeid, const char *name, void *buf,
			  size_t size, struct bpfuse_miss *m);
void bpfuse_xattr_fill(struct bpfuse *b, const struct bpfuse_miss *m, uint64_t nodeid,
		       const char *name, const void *value, ssize_t size);
void bpfuse_miss_start(struct bpfuse *b, struct bpfuse_miss *m);

/* Invalidation by hand, for tools and tests; daemons describe changes below. */
uint64_t bpfuse_entry_inval(struct bpfuse *b, uint64_t parent, const char *name,
			    enum bpfuse_cause cause);
void bpfuse_attr_inval(struct bpfuse *b, uint64_t nodeid, enum bpfuse_cause cause);
void bpfuse_xattr_inval(struct bpfuse *b, uint64_t nodeid, const char *name,
			enum bpfuse_cause cause);

/* What a change names; 0 and NULL where it names nothing of the kind. */
struct bpfuse_change {
	uint64_t node;		/* the node changed, linked or moved */
	uint64_t parent;	/* the directory of the name created, removed or renamed */
	const char *name;
	uint64_t newparent;	/* rename: the destination */
	const char *newname;
	uint64_t victim;	/* the node that lost a name (unlink, rename over) */
	const char *xattr;	/* setxattr, removexattr: the attribute */
};

void bpfuse_cache_invalidate(struct bpfuse *b, enum bpfuse_cause cause,
			     const struct bpfuse_change *c);

#endif
