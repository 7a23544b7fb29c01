// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libbpfuse: node handles, the slots of lookup references the kernel
 * extension hands out in ext mode. One word per slot of the mmapable
 * "krefs" array (bpfuse_maps.h): ALIVE while the daemon holds the node,
 * the slot's generation, and the references taken in the kernel since the
 * daemon last collected them (docs/ARCHITECTURE.md, "lookup counts").
 */
#include "config.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "bpfuse_i.h"

int bpfuse_kref_init(struct bpfuse *b, int fd, int owner_fd, int slot_fd)
{
	void *mem, *owner = MAP_FAILED;
	uint32_t i;

	b->krefs_len = BPFUSE_KREF_ENTRIES * sizeof(uint64_t);
	mem = mmap(NULL, b->krefs_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem != MAP_FAILED)
		owner = mmap(NULL, b->krefs_len, PROT_READ | PROT_WRITE, MAP_SHARED, owner_fd, 0);
	if (owner == MAP_FAILED) {
		if (mem != MAP_FAILED)
			munmap(mem, b->krefs_len);
		return -errno;
	}
	b->kref_free = malloc(BPFUSE_KREF_ENTRIES * sizeof(uint32_t));
	if (!b->kref_free) {
		munmap(mem, b->krefs_len);
		munmap(owner, b->krefs_len);
		return -ENOMEM;
	}
	for (i = 0; i < BPFUSE_KREF_ENTRIES; i++)
		b->kref_free[i] = i;
	b->kref_count = BPFUSE_KREF_ENTRIES;
	b->krefs = mem;
	b->kowner = owner;
	b->kslot_fd = slot_fd;
	return 0;
}

/* The slot's generation now: an entry made with it matches this owner only. */
uint32_t bpfuse_kref_gen(struct bpfuse *b, uint32_t slot)
{
	return (__atomic_load_n(&b->krefs[slot], __ATOMIC_ACQUIRE) >> BPFUSE_KREF_GEN_SHIFT) &
	       BPFUSE_KREF_GEN_MASK;
}

/*
 * The "kslot" map (node id -> slot, for the extension's fills) changes by
 * bpf() calls, which must not run under the daemon's node-table lock
 * where bpfuse_node_create() and _forget() are called: they queue the
 * change, and bpfuse_node_sync() makes it once the lock is dropped. Both
 * kinds are keyed by node ids, never reused, so only the order per node
 * matters, which the FIFO keeps. Until a creation is synced the
 * extension's fills leave the node's lookups to the daemon; a removal not
 * yet synced names a slot whose owner check (kowner) fails. A full queue
 * is drained, in order, where it fills up: a daemon that never syncs
 * still works.
 */
static void bpfuse_kslot_apply(struct bpfuse *b, const struct bpfuse_kslot_op *op)
{
	if (op->slot == BPFUSE_NODE_NONE)
		bpf_map_delete_elem(b->kslot_fd, &op->nodeid);
	else
		bpf_map_update_elem(b->kslot_fd, &op->nodeid, &op->slot, BPF_ANY);
}

/* Apply what is queued, in order; called with kslot_sync_lock held. */
static void bpfuse_kslot_drain(struct bpfuse *b)
{
	struct bpfuse_kslot_op op;

	for (;;) {
		pthread_mutex_lock(&b->kref_lock);
		if (!b->kslot_count) {
			pthread_mutex_unlock(&b->kref_lock);
			return;
		}
		op = b->kslot_ops[b->kslot_head];
		b->kslot_head = (b->kslot_head + 1) % BPFUSE_KSLOT_QUEUE;
		b->kslot_count--;
		pthread_mutex_unlock(&b->kref_lock);
		bpfuse_kslot_apply(b, &op);
	}
}

static void bpfuse_kslot_queue(struct bpfuse *b, uint64_t nodeid, uint32_t slot)
{
	struct bpfuse_kslot_op op = { .nodeid = nodeid, .slot = slot };
	bool full;

	if (!(b->cfg.flags & BPFUSE_CFG_KFILL))
		return;
	pthread_mutex_lock(&b->kref_lock);
	full = b->kslot_count == BPFUSE_KSLOT_QUEUE;
	if (!full) {
		b->kslot_ops[(b->kslot_head + b->kslot_count) % BPFUSE_KSLOT_QUEUE] = op;
		b->kslot_count++;
	}
	pthread_mutex_unlock(&b->kref_lock);
	if (!full)
		return;
	/* after what is queued, so that the order per node holds */
	pthread_mutex_lock(&b->kslot_sync_lock);
	bpfuse_kslot_drain(b);
	bpfuse_kslot_apply(b, &op);
	pthread_mutex_unlock(&b->kslot_sync_lock);
}

void bpfuse_node_sync(struct bpfuse *b)
{
	if (!b || !b->krefs || !__atomic_load_n(&b->kslot_count, __ATOMIC_RELAXED))
		return;
	/* one thread at a time, so that the order per node holds across threads */
	pthread_mutex_lock(&b->kslot_sync_lock);
	bpfuse_kslot_drain(b);
	pthread_mutex_unlock(&b->kslot_sync_lock);
}

/* The node lives on: let the kernel take references again. */
static void bpfuse_kref_resume(struct bpfuse *b, uint32_t slot)
{
	__atomic_fetch_or(&b->krefs[slot], BPFUSE_KREF_ALIVE, __ATOMIC_RELEASE);
}

/*
 * A handle for node nodeid, about to be handed to the kernel, so that the
 * extension may answer its lookups; BPFUSE_NODE_NONE outside ext mode or
 * when every slot is taken (its lookups then all go to the daemon).
 */
uint32_t bpfuse_node_create(struct bpfuse *b, uint64_t nodeid)
{
	uint32_t slot;

	if (!b || !b->krefs)
		return BPFUSE_NODE_NONE;
	pthread_mutex_lock(&b->kref_lock);
	if (!b->kref_count) {
		pthread_mutex_unlock(&b->kref_lock);
		return BPFUSE_NODE_NONE;
	}
	slot = b->kref_free[b->kref_head];
	b->kref_head = (b->kref_head + 1) % BPFUSE_KREF_ENTRIES;
	b->kref_count--;
	pthread_mutex_unlock(&b->kref_lock);
	/* the owner before ALIVE: the extension checks it once ALIVE is seen */
	__atomic_store_n(&b->kowner[slot], nodeid, __ATOMIC_RELEASE);
	/* a free slot holds its generation only (see bpfuse_kref_free()) */
	bpfuse_kref_resume(b, slot);
	/* the extension's fills find the slot by node: at bpfuse_node_sync() */
	bpfuse_kslot_queue(b, nodeid, slot);
	return slot;
}

/*
 * The node is gone: move the slot's generation, so that lookup entries
 * still naming it never match again, and queue it.
 */
static void bpfuse_kref_free(struct bpfuse *b, uint32_t slot)
{
	uint64_t gen, nodeid = b->kowner[slot];

	bpfuse_kslot_queue(b, nodeid, BPFUSE_NODE_NONE);
	__atomic_store_n(&b->kowner[slot], 0, __ATOMIC_RELAXED);
	gen = (__atomic_load_n(&b->krefs[slot], __ATOMIC_RELAXED) >> BPFUSE_KREF_GEN_SHIFT) + 1;
	__atomic_store_n(&b->krefs[slot], (gen & BPFUSE_KREF_GEN_MASK) << BPFUSE_KREF_GEN_SHIFT,
			 __ATOMIC_RELEASE);
	pthread_mutex_lock(&b->kref_lock);
	b->kref_free[(b->kref_head + b->kref_count) % BPFUSE_KREF_ENTRIES] = slot;
	b->kref_count++;
	pthread_mutex_unlock(&b->kref_lock);
}

/*
 * FORGET of n lookup references on a node the daemon counts *nlookup of:
 * collects the references the kernel took on its handle (stopping it from
 * taking more meanwhile), adds them, subtracts n, and then lets the kernel
 * go on, or frees the handle (*node becomes BPFUSE_NODE_NONE) once
 * *nlookup is 0. Returns by how much n exceeded the count (the kernel
 * forgot more than it was given: 0 unless something is wrong).
 */
uint64_t bpfuse_node_forget(struct bpfuse *b, uint32_t *node, uint64_t *nlookup, uint64_t n)
{
	bool slot = b && b->krefs && *node < BPFUSE_KREF_ENTRIES;
	uint64_t over = 0;

	if (slot)
		/* one atomic step: ALIVE and the references go, the generation stays */
		*nlookup += __atomic_fetch_and(&b->krefs[*node],
					       ~(BPFUSE_KREF_ALIVE | BPFUSE_KREF_REFS_MASK),
					       __ATOMIC_ACQ_REL) &
			    BPFUSE_KREF_REFS_MASK;
	if (n > *nlookup) {
		over = n - *nlookup;
		n = *nlookup;
	}
	*nlookup -= n;
	if (!slot)
		return over;
	if (*nlookup) {
		bpfuse_kref_resume(b, *node);
	} else {
		bpfuse_kref_free(b, *node);
		*node = BPFUSE_NODE_NONE;
	}
	return over;
}

/*
 * Ext mode with kernel passthrough: from now until bpfuse_backing_del(),
 * the extension answers read-only, non-truncating opens of nodeid itself,
 * with the backing file the daemon registered as backing_id; flags:
 * BPFUSE_BACKING_ATIME or 0. Or, with backing_id 0 and BPFUSE_BACKING_PAGES,
 * keeping the page cache. -EOPNOTSUPP outside ext mode.
 */
int bpfuse_backing_put(struct bpfuse *b, uint64_t nodeid, int backing_id, unsigned int flags)
{
	struct bpfuse_backing_val v = { .backing_id = backing_id, .flags = flags };

	if (!b || !b->ext)
		return -EOPNOTSUPP;
	if (backing_id < 0 || !backing_id != !!(flags & BPFUSE_BACKING_PAGES) ||
	    (flags & ~(BPFUSE_BACKING_ATIME | BPFUSE_BACKING_PAGES | BPFUSE_BACKING_WRITING)))
		return -EINVAL;
	return bpf_map_update_elem(b->backing_fd, &nodeid, &v, BPF_ANY) ? -errno : 0;
}

/*
 * No more opens of nodeid answered in the kernel: call before the backing
 * id is closed. Opens answered before keep their own backing files.
 */
void bpfuse_backing_del(struct bpfuse *b, uint64_t nodeid)
{
	if (b && b->ext)
		bpf_map_delete_elem(b->backing_fd, &nodeid);
}
