/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The only types the kernel extensions (kext/) and user space (lib/) share:
 * keys and values of the per-mount maps, their sizes (bpfuse_entries.h)
 * and the invalidation rules (bpfuse_rules.h). The includer provides __u32 and friends (vmlinux.h
 * in BPF, <linux/types.h> in user space). Fixed-size fields only;
 * test/test_maps.c checks the sizes. Daemons never see these: the public
 * header (lib/include/bpfuse.h) has no map types.
 */
#ifndef BPFUSE_MAPS_H
#define BPFUSE_MAPS_H

#include "bpfuse_entries.h"
#include "bpfuse_rules.h"

#define BPFUSE_NAME_MAX	      255	/* a file name, as NAME_MAX */
#define BPFUSE_XATTR_SIZE_MAX 256	/* larger xattr values are not cached */

/*
 * Capacities: LRU maps, so a full cache evicts instead of failing. The
 * lookup, attr and xattr maps as loaded unless the mount sizes them
 * (bpfuse_entries.h).
 */
#define BPFUSE_LOOKUP_ENTRIES BPFUSE_ENTRIES_DEFAULT
#define BPFUSE_ATTR_ENTRIES   BPFUSE_ENTRIES_DEFAULT
#define BPFUSE_XATTR_ENTRIES  BPFUSE_XATTR_ENTRIES_OF(BPFUSE_ENTRIES_DEFAULT)
#define BPFUSE_INFLIGHT_ENTRIES 16384
#define BPFUSE_KREF_ENTRIES   131072	/* nodes whose lookups the kernel may answer */

#define BPFUSE_OPCODE_MAX 64	/* FUSE opcodes index the statistics below this */
#define BPFUSE_HIST_SLOTS 32	/* log2 buckets of microseconds */

/* Same layout as the kernel's struct fuse_attr, so ext mode copies it whole. */
struct bpfuse_attr {
	__u64 ino;
	__u64 size;
	__u64 blocks;
	__u64 atime;
	__u64 mtime;
	__u64 ctime;
	__u32 atimensec;
	__u32 mtimensec;
	__u32 ctimensec;
	__u32 mode;
	__u32 nlink;
	__u32 uid;
	__u32 gid;
	__u32 rdev;
	__u32 blksize;
	__u32 flags;
};

/*
 * Names (of entries, of xattrs) are keyed by a hash of the name and its
 * length, small enough for the BPF stack; the value holds the whole name,
 * zero-padded, and a hit compares it. Two names with the same hash and
 * length share one slot (the later fill replaces the earlier): a miss,
 * never a wrong answer. Dropping a key drops whichever name holds the slot,
 * which errs on the safe side.
 *
 * The hash runs over the name as 8-byte words, zero-padded: name is the
 * start of such a buffer, of at least len bytes rounded up to 8.
 */
#define BPFUSE_NAME_WORDS ((BPFUSE_NAME_MAX + 1) / 8)

static inline __attribute__((always_inline)) __u32 bpfuse_name_hash(const __u64 *name, __u32 len)
{
	__u64 h = 0x9e3779b97f4a7c15ULL ^ len;

	for (__u32 i = 0; i < BPFUSE_NAME_WORDS && i * 8 < len; i++) {
		h ^= name[i];
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return (__u32)h;
}

/* Whether two zero-padded names of len bytes are the same (word by word). */
static inline __attribute__((always_inline)) int bpfuse_name_same(const __u64 *a, const __u64 *b,
								__u32 len)
{
	for (__u32 i = 0; i < BPFUSE_NAME_WORDS && i * 8 < len; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

struct bpfuse_lookup_key {
	__u64 parent;
	__u32 hash;		/* bpfuse_name_hash() */
	__u32 len;
};

/* The node's attributes live in the attr map only, so one update serves both. */
struct bpfuse_lookup_val {
	__u64 nodeid;		/* 0: a negative entry, "no such name" */
	__u64 generation;	/* the node's, as the daemon replies it */
	__u64 expires_ns;	/* CLOCK_MONOTONIC_COARSE; 0: until invalidated */
	__u32 kref;		/* the node's slot in "krefs", or BPFUSE_KREF_NONE */
	__u32 kref_gen;		/* the slot's generation when this entry was made */
	__u64 name[BPFUSE_NAME_WORDS];	/* the key's name, zero-padded */
};

/*
 * Ext mode: lookup references the kernel extension hands out. One word per
 * slot of the mmapable "krefs" array: ALIVE while the daemon holds the node,
 * the slot's generation (moved on each reuse, so an old lookup entry never
 * matches a new owner), and the references taken in the kernel since the
 * daemon last collected them. The extension adds one with a compare-and-swap
 * that requires ALIVE and the entry's generation; the daemon collects with
 * an exchange that clears ALIVE (docs/ARCHITECTURE.md, "lookup counts").
 */
#define BPFUSE_KREF_NONE      0xffffffffu
#define BPFUSE_KREF_ALIVE     (1ULL << 63)
#define BPFUSE_KREF_GEN_SHIFT 40
#define BPFUSE_KREF_GEN_MASK  ((1ULL << 23) - 1)
#define BPFUSE_KREF_REFS_MASK ((1ULL << BPFUSE_KREF_GEN_SHIFT) - 1)

/*
 * Ext mode with kernel passthrough: the backing file the daemon registered
 * with the kernel for a node (FUSE_DEV_IOC_BACKING_OPEN). The extension
 * answers read-only opens of the node with it and file handle
 * BPFUSE_FH_KERNEL, and the RELEASE and FLUSH of those opens.
 */
struct bpfuse_backing_val {
	__s32 backing_id;
	__u32 flags;		/* BPFUSE_BACKING_* */
};

/* The next read moves the atime: the attributes go at the open, once. */
#define BPFUSE_BACKING_ATIME (1u << 0)
/* No backing file: opens answered keeping the page cache (FOPEN_KEEP_CACHE). */
#define BPFUSE_BACKING_PAGES (1u << 1)
/* Open for writing through passthrough: the extension caches no attributes. */
#define BPFUSE_BACKING_WRITING (1u << 2)

#define BPFUSE_FH_KERNEL 0xffffffffffffffffULL

struct bpfuse_attr_val {
	__u64 expires_ns;
	struct bpfuse_attr attr;
};

/* As the lookup key: the xattr name's hash and length; the name in the value. */
struct bpfuse_xattr_key {
	__u64 nodeid;
	__u32 hash;
	__u32 len;
};

struct bpfuse_xattr_val {
	__u64 expires_ns;
	__s32 err;		/* 0, ENODATA ("no such attribute") or EOPNOTSUPP */
	__u32 size;
	__u8 value[BPFUSE_XATTR_SIZE_MAX];
	__u64 name[BPFUSE_NAME_WORDS];	/* the key's name, zero-padded */
};

enum bpfuse_cache {
	BPFUSE_CACHE_LOOKUP,
	BPFUSE_CACHE_ATTR,
	BPFUSE_CACHE_XATTR,
	BPFUSE_CACHE_MAX,
};

/* Per FUSE opcode: who answered, and how the daemon's answers took. */
struct bpfuse_op_stats {
	__u64 kernel_hits;	/* answered by the kernel extension (from "khits") */
	__u64 daemon_hits;	/* answered by the daemon from the maps */
	__u64 upcalls;		/* requests that reached the daemon: less the daemon's
				   hits, those its backend answered */
	__u64 negatives;	/* of those, answered ENOENT, ENODATA or ENOSYS: answers, not failures */
	__u64 errors;		/* of those, answered with any other error */
	__u64 latency_ns;	/* summed over upcalls */
	__u64 hist[BPFUSE_HIST_SLOTS];	/* upcalls by log2(microseconds) */
};

enum bpfuse_mode {
	BPFUSE_MODE_STOCK = 1,	/* no FUSE BPF hook: the daemon serves hits */
	BPFUSE_MODE_EXT = 2,	/* the kernel extension serves hits */
	BPFUSE_MODE_COUNT = 3,	/* a FUSE mount no bpfuse daemon serves: requests counted only */
};

/* The single value of the "mount_cfg" array map: how the mount is set up. */
struct bpfuse_config {
	__u64 entry_timeout_ns;	/* what the kernel may cache, as told in replies */
	__u64 attr_timeout_ns;
	__u64 negative_timeout_ns;
	__u64 map_timeout_ns;	/* how long a map entry may be served; 0: until invalidated */
	__u64 map_negative_timeout_ns;	/* the same for "no such name" and "no such
					   attribute"; 0: until invalidated */
	__u32 flags;		/* BPFUSE_CFG_* */
	__u32 pad;
	/* The three kernel timeouts as replies carry them: no division per answer. */
	struct bpfuse_valid {
		__u64 sec;
		__u32 nsec;
		__u32 pad;
	} entry_valid, attr_valid, negative_valid;
};

#define BPFUSE_CFG_CACHING  (1u << 0)	/* the maps serve requests */
#define BPFUSE_CFG_WATCHING (1u << 1)	/* outside changes are watched */
#define BPFUSE_CFG_ATIME    (1u << 2)	/* reads move atime: the ACCESS rule applies */
#define BPFUSE_CFG_KFILL    (1u << 3)	/* the extension fills from the daemon's replies */

/* How the requests that reach the daemon are counted. */
enum bpfuse_probe {
	BPFUSE_PROBE_NONE,	/* not counted: see upcall_err */
	BPFUSE_PROBE_TRACEPOINT, /* fuse_request_send/end: every request */
	BPFUSE_PROBE_KPROBE,	/* (__)fuse_simple_request: synchronous requests only */
};

/* The single value of the mmapable "stats" array map. */
/*
 * Ext mode: the requests the extension answered, per FUSE opcode, one copy
 * per CPU (a hit touches no line another CPU writes). Readers add them to
 * struct bpfuse_op_stats.kernel_hits.
 */
struct bpfuse_khits {
	__u64 ops[BPFUSE_OPCODE_MAX];
};

struct bpfuse_stats {
	__u32 mode;		/* enum bpfuse_mode */
	__s32 upcall_err;	/* 0, or why upcalls are not counted (-errno) */
	__u32 upcall_probe;	/* enum bpfuse_probe */
	__u32 kfills;		/* ext mode: the extension's fills under way */
	__u32 daemon_pid;	/* or, in COUNT mode, the counting process's */
	__u32 dev;		/* the mount's st_dev, as the kernel encodes it */
	/*
	 * Moved before every invalidation, by anyone (daemon, bpfusectl): a
	 * fill that saw it move since its backend call began is undone.
	 */
	__u64 epoch;
	__u64 inserts[BPFUSE_CACHE_MAX];
	__u64 deletes[BPFUSE_CACHE_MAX];
	__u64 invalidations[BPFUSE_CAUSE_MAX];
	struct bpfuse_op_stats ops[BPFUSE_OPCODE_MAX];
	__u32 transport;	/* enum bpfuse_transport (bpfuse.h) */
	__u32 __pad;
};

#endif
