/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libbpfuse: BPF-map caches for a libfuse low-level daemon.
 *
 * After mounting, a daemon opens one struct bpfuse for its mount. That
 * creates the mount's maps, pins them under BPFUSE_PIN_ROOT/<mount id>/
 * (root only) and loads the statistics programs. Then, per request:
 *
 *   lookup, getattr, getxattr   ask the cache first (..._get); on a miss
 *                               note bpfuse_epoch(), ask the backend, and
 *                               fill the cache (..._put): a put whose epoch
 *                               an invalidation has passed is dropped, so
 *                               a slow miss never caches stale data
 *   changes                     invalidate (bpfuse_inval_*) before replying
 *   everything                  bpfuse_count() says who answered
 *
 * A negative timeout at bpfuse_open() keeps the statistics and leaves the
 * caches unused: every get misses, puts and invalidations do nothing.
 * entries sizes the lookup and attr caches (the xattr cache a quarter of
 * that); 0 keeps BPFUSE_LOOKUP_ENTRIES and friends. The maps are allocated
 * whole at open: bpfusectl stats shows their memory.
 *
 * Every call is safe from any thread. Calls with a NULL struct bpfuse do
 * nothing and miss, so a daemon runs unchanged when the maps are
 * unavailable.
 */
#ifndef BPFUSE_H
#define BPFUSE_H

#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "bpfuse_maps.h"

#define BPFUSE_PIN_ROOT "/sys/fs/bpf/bpfuse"

struct bpfuse;

/* Where the answer to a request came from. */
enum bpfuse_source {
	BPFUSE_HIT, /* the maps */
	BPFUSE_BACKEND, /* the backing file system */
};

int bpfuse_open(const char *mountpoint, double timeout, uint32_t entries, struct bpfuse **out);
void bpfuse_close(struct bpfuse *b);
void bpfuse_set_pid(struct bpfuse *b, pid_t pid);
int bpfuse_attach(struct bpfuse *b, int fuse_dev_fd);
int bpfuse_configure(struct bpfuse *b, const struct bpfuse_config *cfg);
enum bpfuse_mode bpfuse_mode(const struct bpfuse *b);
int bpfuse_upcall_status(const struct bpfuse *b);
uint64_t bpfuse_mount_id(const struct bpfuse *b);

void bpfuse_count(struct bpfuse *b, unsigned int opcode, enum bpfuse_source src);

int bpfuse_lookup_get(struct bpfuse *b, uint64_t parent, const char *name, uint64_t *nodeid);
uint64_t bpfuse_epoch(struct bpfuse *b);
int bpfuse_lookup_put(struct bpfuse *b, uint64_t epoch, uint64_t parent, const char *name,
		      uint64_t nodeid, uint32_t kref);
int bpfuse_attr_get(struct bpfuse *b, uint64_t nodeid, struct stat *st);
int bpfuse_attr_put(struct bpfuse *b, uint64_t epoch, uint64_t nodeid, const struct stat *st);
ssize_t bpfuse_xattr_get(struct bpfuse *b, uint64_t nodeid, const char *name, void *buf,
			 size_t size);
int bpfuse_xattr_put(struct bpfuse *b, uint64_t epoch, uint64_t nodeid, const char *name,
		     const void *value, ssize_t size);

/*
 * Ext mode: the extension answers a node's lookups only while the node has
 * a live slot, and the kernel's FORGET counts those answers too. Give a
 * node a slot when it is created (its lookup_put entries carry it); on
 * FORGET, add bpfuse_kref_take() to the node's count before subtracting,
 * then either resume the slot or free it with the node. Serialise the
 * calls for one slot (the daemon's table lock).
 */
uint32_t bpfuse_kref_alloc(struct bpfuse *b);
uint64_t bpfuse_kref_take(struct bpfuse *b, uint32_t slot);
void bpfuse_kref_resume(struct bpfuse *b, uint32_t slot);
void bpfuse_kref_free(struct bpfuse *b, uint32_t slot);

void bpfuse_inval_entry(struct bpfuse *b, uint64_t parent, const char *name,
			enum bpfuse_cause cause);
void bpfuse_inval_attr(struct bpfuse *b, uint64_t nodeid, enum bpfuse_cause cause);
void bpfuse_inval_xattr(struct bpfuse *b, uint64_t nodeid, const char *name,
			enum bpfuse_cause cause);
void bpfuse_inval_xattrs(struct bpfuse *b, uint64_t nodeid, enum bpfuse_cause cause);

/* The invalidation rules: call after the change, before replying. */
void bpfuse_on_setattr(struct bpfuse *b, uint64_t ino);
void bpfuse_on_write(struct bpfuse *b, uint64_t ino);
void bpfuse_on_access(struct bpfuse *b, uint64_t ino);
void bpfuse_on_create(struct bpfuse *b, uint64_t parent, const char *name);
void bpfuse_on_link(struct bpfuse *b, uint64_t ino, uint64_t parent, const char *name);
void bpfuse_on_unlink(struct bpfuse *b, uint64_t parent, const char *name, uint64_t victim);
void bpfuse_on_rename(struct bpfuse *b, uint64_t parent, const char *name, uint64_t newparent,
		      const char *newname, uint64_t moved, uint64_t victim);
void bpfuse_on_xattr(struct bpfuse *b, uint64_t ino, const char *name);
void bpfuse_on_forget(struct bpfuse *b, uint64_t ino);

int bpfuse_sweep_stale(void);

/* Helpers shared with bpfusectl. */
int bpfuse_pin_dir(uint64_t mnt_id, char *buf, size_t size);
void bpfuse_attr_from_stat(struct bpfuse_attr *a, const struct stat *st);
void bpfuse_attr_to_stat(struct stat *st, const struct bpfuse_attr *a);

#endif
