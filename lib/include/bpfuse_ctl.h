/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libbpfuse for tools (bpfusectl): a mount's statistics and caches as its
 * daemon pinned them, seen and invalidated through the same code the
 * daemon uses (the epoch included), and request counting for FUSE mounts
 * that no bpfuse daemon serves. Not installed: its types are the maps',
 * which change with the project.
 */
#ifndef BPFUSE_CTL_H
#define BPFUSE_CTL_H

#include <linux/types.h>

#include "bpfuse.h"
#include "bpfuse_maps.h"

/*
 * Open the pinned maps of the mount at mountpoint. Errors: -EINVAL not a
 * mount point, -ENOTCONN its daemon is gone, -ENXIO nothing pinned for it
 * (not a bpfuse mount, or not counted), -EACCES not root, -ESRCH the
 * daemon that pinned them is gone. Close with bpfuse_mount_close().
 */
int bpfuse_view_open(const char *mountpoint, struct bpfuse **out);
const struct bpfuse_stats *bpfuse_view_stats(struct bpfuse *b);
const struct bpfuse_config *bpfuse_view_config(const struct bpfuse *b);
uint64_t bpfuse_view_mount_id(const struct bpfuse *b);
double bpfuse_view_since(const struct bpfuse *b);

struct bpfuse_cache_info {
	unsigned long entries;
	unsigned int capacity;
	unsigned long long memory_bytes;	/* what the kernel charges: LRU maps are whole */
};

int bpfuse_view_cache_info(const struct bpfuse *b, enum bpfuse_cache cache,
			   struct bpfuse_cache_info *info);

/* Every entry of a cache, in map order; a callback returning non-zero stops. */
int bpfuse_view_walk_names(const struct bpfuse *b,
			   int (*cb)(const struct bpfuse_lookup_key *, const struct bpfuse_lookup_val *,
				     void *),
			   void *ctx);
int bpfuse_view_walk_attrs(const struct bpfuse *b,
			   int (*cb)(const __u64 *, const struct bpfuse_attr_val *, void *),
			   void *ctx);
int bpfuse_view_walk_xattrs(const struct bpfuse *b,
			    int (*cb)(const struct bpfuse_xattr_key *, const struct bpfuse_xattr_val *,
				      void *),
			    void *ctx);

/* Drop what the caches hold for path (relative to the mount): how many entries went. */
long bpfuse_view_invalidate(struct bpfuse *b, const char *path);

/* A pinned mount, for listings. */
struct bpfuse_mount_info {
	uint64_t mnt_id;
	uint32_t pid;			/* its daemon's, or its counter's */
	enum bpfuse_mode mode;
	bool alive;
	unsigned long long memory_bytes;
	char mountpoint[4096];		/* "(not mounted)" once gone */
};

int bpfuse_view_list(int (*cb)(const struct bpfuse_mount_info *, void *), void *ctx);

/*
 * Counting for a FUSE mount no bpfuse daemon serves: a process of its own
 * loads the counting programs for that connection, pins their statistics
 * and exits, removing them, at the unmount or at bpfuse_counter_stop().
 * Errors: -EINVAL not a mount point, -EMEDIUMTYPE not FUSE, -EEXIST
 * already counted or served by a bpfuse daemon, -EOPNOTSUPP this kernel
 * offers no way to count (why in *why), -EACCES/-EPERM not root.
 */
int bpfuse_counter_start(const char *mountpoint, pid_t *pid, int *why);
int bpfuse_counter_stop(const char *mountpoint, pid_t *pid);

#endif
