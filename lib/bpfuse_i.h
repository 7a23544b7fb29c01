/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libbpfuse's insides, shared by its files: mount.c loads, pins and
 * attaches; node.c hands out the kernel-reference slots; cache.c gets,
 * fills and invalidates; rules.c applies bpfuse_rules.h; view.c opens a
 * mount for tools; counter.c counts requests of mounts no bpfuse daemon
 * serves.
 */
#ifndef BPFUSE_I_H
#define BPFUSE_I_H

#include <linux/types.h>
#include <pthread.h>

#include "bpfuse.h"
#include "bpfuse_ctl.h"
#include "bpfuse_maps.h"

struct bpfuse_bpf;

/* A change of the "kslot" map queued by node.c: slot BPFUSE_NODE_NONE removes. */
struct bpfuse_kslot_op {
	uint64_t nodeid;
	uint32_t slot;
};

#define BPFUSE_KSLOT_QUEUE 1024
struct ext_bpf;
struct bpf_link;

struct bpfuse {
	struct bpfuse_bpf *skel;	/* NULL for a view: its maps are pinned ones */
	struct bpfuse_stats *stats;	/* the "stats" map, mapped */
	size_t stats_len;
	int fds[BPFUSE_CACHE_MAX];	/* lookup, attr, xattr */
	int cfg_fd;			/* mount_cfg */
	uint64_t mnt_id;
	uint32_t kdev;			/* st_dev, as the kernel encodes it */
	uint64_t lifetime_ns;		/* a fill's default; 0: until invalidated */
	uint64_t negative_lifetime_ns;
	bool caching;			/* false: statistics only */
	bool kernel_fills;		/* opts.kernel_fills: asked for, not yet granted */
	bool owner;			/* created the pins: removes them at close */
	bool counter;			/* counts an unmodified daemon's mount: no caches */
	uint32_t entries;
	enum bpfuse_mode mode;
	enum bpfuse_probe probe;	/* how upcalls are counted */
	struct bpf_link *links[3];	/* the counting programs, attached */
	bool hook;			/* the kernel has the FUSE BPF hook */
	struct ext_bpf *ext;		/* the extension, attached; NULL in stock mode */
	struct bpf_link *ext_link;
	int backing_fd;			/* ext mode: the "backing" map */
	int khits_fd;			/* a view's "khits" map, or -1 */
	struct bpfuse_stats *snap;	/* a view's last bpfuse_view_stats() */
	int upcall_err;
	char pin_dir[64];
	struct bpfuse_config cfg;	/* as written to mount_cfg, or read from it */
	/* this process's fills and invalidations, serialised (cache.c) */
	pthread_mutex_t lock;
	/*
	 * Ext mode: the "krefs" words, mapped, and the free slots, a FIFO
	 * so that a slot is reused as late as possible.
	 */
	uint64_t *krefs;
	uint64_t *kowner;		/* the node id of each slot's owner, 0 if free */
	size_t krefs_len;
	int kslot_fd;			/* "kslot": each owned slot by node id */
	pthread_mutex_t kref_lock;
	uint32_t *kref_free;		/* ring of free slots; protected by kref_lock */
	uint32_t kref_head, kref_count;	/* protected by kref_lock */
	struct bpfuse_kslot_op kslot_ops[BPFUSE_KSLOT_QUEUE]; /* protected by kref_lock */
	uint32_t kslot_head, kslot_count; /* protected by kref_lock */
	/* serialises bpfuse_node_sync(); taken before kref_lock, never under it */
	pthread_mutex_t kslot_sync_lock;
};

/* mount.c */
int bpfuse_pin_dir(uint64_t mnt_id, char *buf, size_t size);
int bpfuse_unpin_dir(const char *dir);
int bpfuse_load(struct bpfuse *b);
int bpfuse_pin(struct bpfuse *b, bool with_caches);
int bpfuse_map_stats(struct bpfuse *b, int fd);
void bpfuse_detach(struct bpfuse *b);
struct bpfuse *bpfuse_alloc(void);
int bpfuse_mount_ids(const char *mountpoint, uint64_t *mnt_id, uint32_t *kdev);
bool bpfuse_mount_exists(const char *id);
bool bpfuse_alive(pid_t pid);
pid_t bpfuse_pinned_counter(const char *dir);

/* node.c */
int bpfuse_kref_init(struct bpfuse *b, int fd, int owner_fd, int slot_fd);
uint32_t bpfuse_kref_gen(struct bpfuse *b, uint32_t slot);

/* mount.c: whether the extension fills from the daemon's replies */
bool bpfuse_mount_kernel_fills(const struct bpfuse *b);

/*
 * cache.c: the layer under find and fill, for the library and its tests.
 * Gets return 0 on a hit and -ENOENT on a miss; a put whose epoch an
 * invalidation passed returns -ESTALE and leaves nothing behind.
 */
uint64_t bpfuse_cache_epoch(struct bpfuse *b);
int bpfuse_entry_get(struct bpfuse *b, uint64_t parent, const char *name, struct bpfuse_entry *e,
		     struct stat *st);
int bpfuse_entry_put(struct bpfuse *b, uint64_t epoch, uint64_t parent, const char *name,
		     const struct bpfuse_entry *e, uint64_t lifetime_ns);
int bpfuse_attr_get(struct bpfuse *b, uint64_t nodeid, struct stat *st);
int bpfuse_attr_put(struct bpfuse *b, uint64_t epoch, uint64_t nodeid, const struct stat *st,
		    uint64_t lifetime_ns);
ssize_t bpfuse_xattr_get(struct bpfuse *b, uint64_t nodeid, const char *name, void *buf,
			 size_t size);
int bpfuse_xattr_put(struct bpfuse *b, uint64_t epoch, uint64_t nodeid, const char *name,
		     const void *value, ssize_t size, uint64_t lifetime_ns);
void bpfuse_attr_from_stat(struct bpfuse_attr *a, const struct stat *st);
void bpfuse_attr_to_stat(struct stat *st, const struct bpfuse_attr *a);
uint64_t bpfuse_lookup_peek(struct bpfuse *b, uint64_t parent, const char *name, bool *found);
void bpfuse_xattrs_inval(struct bpfuse *b, uint64_t nodeid, enum bpfuse_cause cause);

#endif
