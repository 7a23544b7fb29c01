// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libbpfuse: the three caches (names, attributes, xattrs). Gets count the
 * hits they give; fills are undone when an invalidation moved the shared
 * epoch meanwhile; invalidations move it first. The epoch lives in the
 * mapped statistics value, so that bpfusectl's invalidations count too.
 */
#include "config.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpfuse_i.h"

/* FUSE opcodes whose hits the gets count (Linux include/uapi/linux/fuse.h). */
#define BPFUSE_OP_LOOKUP   1
#define BPFUSE_OP_GETATTR  3
#define BPFUSE_OP_GETXATTR 22

_Static_assert(BPFUSE_XATTR_VALUE_MAX == BPFUSE_XATTR_SIZE_MAX, "the public xattr size limit");

/* The extension's clock: the last tick's time (kext/ext.bpf.c, expired()) */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* When an entry filled now stops being served (0: never). */
static uint64_t expiry(const struct bpfuse *b, uint64_t lifetime_ns, bool negative)
{
	if (lifetime_ns == BPFUSE_LIFETIME_FOREVER)
		return 0;
	if (lifetime_ns == BPFUSE_LIFETIME_DEFAULT)
		lifetime_ns = negative ? b->negative_lifetime_ns : b->lifetime_ns;
	return lifetime_ns ? now_ns() + lifetime_ns : 0;
}

static bool expired(uint64_t expires_ns)
{
	return expires_ns && now_ns() >= expires_ns;
}

static void bpfuse_hit(struct bpfuse *b, unsigned int opcode)
{
	__atomic_fetch_add(&b->stats->ops[opcode].daemon_hits, 1, __ATOMIC_RELAXED);
}

/* ---- attributes ---------------------------------------------------------- */

void bpfuse_attr_from_stat(struct bpfuse_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = st->st_size;
	a->blocks = st->st_blocks;
	a->atime = st->st_atim.tv_sec;
	a->mtime = st->st_mtim.tv_sec;
	a->ctime = st->st_ctim.tv_sec;
	a->atimensec = st->st_atim.tv_nsec;
	a->mtimensec = st->st_mtim.tv_nsec;
	a->ctimensec = st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = st->st_rdev;
	a->blksize = st->st_blksize;
}

void bpfuse_attr_to_stat(struct stat *st, const struct bpfuse_attr *a)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_size = a->size;
	st->st_blocks = a->blocks;
	st->st_atim.tv_sec = a->atime;
	st->st_mtim.tv_sec = a->mtime;
	st->st_ctim.tv_sec = a->ctime;
	st->st_atim.tv_nsec = a->atimensec;
	st->st_mtim.tv_nsec = a->mtimensec;
	st->st_ctim.tv_nsec = a->ctimensec;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_blksize = a->blksize;
}

/* ---- fills and drops ----------------------------------------------------- */

uint64_t bpfuse_cache_epoch(struct bpfuse *b)
{
	return b ? __atomic_load_n(&b->stats->epoch, __ATOMIC_SEQ_CST) : 0;
}

/*
 * Insert, unless an invalidation came since epoch. The daemon's own
 * invalidations take the same lock, so none can slip between the check and
 * the insert. Another process's (bpfusectl) cannot be locked out: those
 * move the epoch before they delete, so either they delete what this
 * inserted, or the second check sees the move and undoes the insert.
 */
static int bpfuse_put(struct bpfuse *b, uint64_t epoch, enum bpfuse_cache cache, const void *key,
		      const void *val)
{
	int fd = b->fds[cache], err = -ESTALE;

	if (!b->caching)
		return -ENODEV;
	pthread_mutex_lock(&b->lock);
	if (bpfuse_cache_epoch(b) == epoch) {
		/* only new keys count, so evictions = inserts - deletes - entries */
		err = bpf_map_update_elem(fd, key, val, BPF_NOEXIST) ? -errno : 0;
		if (!err)
			__atomic_fetch_add(&b->stats->inserts[cache], 1, __ATOMIC_RELAXED);
		else if (err == -EEXIST)
			err = bpf_map_update_elem(fd, key, val, BPF_EXIST) ? -errno : 0;
	}
	pthread_mutex_unlock(&b->lock);
	if (err || bpfuse_cache_epoch(b) == epoch)
		return err;
	if (bpf_map_delete_elem(fd, key) == 0)
		__atomic_fetch_add(&b->stats->deletes[cache], 1, __ATOMIC_RELAXED);
	return -ESTALE;
}

/* Move the epoch: fills under way since before now will not stay. */
static void bpfuse_epoch_move(struct bpfuse *b)
{
	__atomic_fetch_add(&b->stats->epoch, 1, __ATOMIC_SEQ_CST);
}

/*
 * After an epoch move and a delete: wait for the extension's fills under
 * way (ext mode) to end. Each counts itself in kfills around its checks
 * and insert, and undoes an insert the move passed, so once none is under
 * way, none put back what this invalidation dropped; without the wait, a
 * reader could see such an insert in the microseconds before its undo,
 * after the change was replied to. Fills take microseconds.
 */
static void bpfuse_fills_drain(struct bpfuse *b)
{
	while (__atomic_load_n(&b->stats->kfills, __ATOMIC_SEQ_CST))
		sched_yield();
}

static bool bpfuse_delete(struct bpfuse *b, enum bpfuse_cache cache, const void *key,
			  enum bpfuse_cause cause)
{
	bool gone;

	if (!b->caching)
		return false;
	pthread_mutex_lock(&b->lock);
	bpfuse_epoch_move(b);
	gone = bpf_map_delete_elem(b->fds[cache], key) == 0;
	pthread_mutex_unlock(&b->lock);
	bpfuse_fills_drain(b);
	if (!gone)
		return false;
	__atomic_fetch_add(&b->stats->deletes[cache], 1, __ATOMIC_RELAXED);
	if (cause < BPFUSE_CAUSE_MAX)
		__atomic_fetch_add(&b->stats->invalidations[cause], 1, __ATOMIC_RELAXED);
	return true;
}

/* An expired entry is dropped where it is found. */
static void bpfuse_expire(struct bpfuse *b, enum bpfuse_cache cache, const void *key)
{
	if (bpf_map_delete_elem(b->fds[cache], key) == 0)
		__atomic_fetch_add(&b->stats->deletes[cache], 1, __ATOMIC_RELAXED);
}

/* ---- names --------------------------------------------------------------- */

/* A name as the maps hold it: zero-padded words, hashed into the key. */
static int bpfuse_key_name(__u64 words[BPFUSE_NAME_WORDS], __u32 *hash, __u32 *len,
			   const char *name)
{
	size_t n = strlen(name);

	if (n > BPFUSE_NAME_MAX)
		return -ENAMETOOLONG;
	memset(words, 0, BPFUSE_NAME_WORDS * sizeof(*words));
	memcpy(words, name, n);
	*len = n;
	*hash = bpfuse_name_hash(words, n);
	return 0;
}

static int bpfuse_lookup_key(struct bpfuse_lookup_key *key, __u64 words[BPFUSE_NAME_WORDS],
			     uint64_t parent, const char *name)
{
	key->parent = parent;
	return bpfuse_key_name(words, &key->hash, &key->len, name);
}

/* The live entry of (parent, name), uncounted: false if none. */
static bool bpfuse_lookup_find(struct bpfuse *b, uint64_t parent, const char *name,
			       struct bpfuse_lookup_val *val)
{
	__u64 words[BPFUSE_NAME_WORDS];
	struct bpfuse_lookup_key key;

	if (!b || !b->caching || bpfuse_lookup_key(&key, words, parent, name) ||
	    bpf_map_lookup_elem(b->fds[BPFUSE_CACHE_LOOKUP], &key, val) ||
	    !bpfuse_name_same(val->name, words, key.len))
		return false;
	if (expired(val->expires_ns)) {
		bpfuse_expire(b, BPFUSE_CACHE_LOOKUP, &key);
		return false;
	}
	return true;
}

/* For tools: what (parent, name) names, without counting a hit. */
uint64_t bpfuse_lookup_peek(struct bpfuse *b, uint64_t parent, const char *name, bool *found)
{
	struct bpfuse_lookup_val val;

	*found = bpfuse_lookup_find(b, parent, name, &val);
	return *found ? val.nodeid : 0;
}

/*
 * A lookup's whole answer: the entry, and for a node its attributes in st.
 * 0 on a hit (e->nodeid 0: "no such name"), -ENOENT on a miss.
 */
int bpfuse_entry_get(struct bpfuse *b, uint64_t parent, const char *name, struct bpfuse_entry *e,
		     struct stat *st)
{
	struct bpfuse_lookup_val val;
	struct bpfuse_attr_val attr;

	if (!bpfuse_lookup_find(b, parent, name, &val))
		return -ENOENT;
	if (val.nodeid) {
		if (bpf_map_lookup_elem(b->fds[BPFUSE_CACHE_ATTR], &val.nodeid, &attr))
			return -ENOENT;
		if (expired(attr.expires_ns)) {
			bpfuse_expire(b, BPFUSE_CACHE_ATTR, &val.nodeid);
			return -ENOENT;
		}
		bpfuse_attr_to_stat(st, &attr.attr);
	}
	memset(e, 0, sizeof(*e));
	e->nodeid = val.nodeid;
	e->generation = val.generation;
	e->node = val.kref;
	bpfuse_hit(b, BPFUSE_OP_LOOKUP);
	return 0;
}

int bpfuse_entry_put(struct bpfuse *b, uint64_t epoch, uint64_t parent, const char *name,
		     const struct bpfuse_entry *e, uint64_t lifetime_ns)
{
	struct bpfuse_lookup_key key;
	struct bpfuse_lookup_val val = { .nodeid = e->nodeid, .generation = e->generation,
					 .kref = BPFUSE_KREF_NONE };
	int err;

	if (!b)
		return -ENODEV;
	if (e->nodeid && e->node < BPFUSE_KREF_ENTRIES && b->krefs) {
		/* the caller holds a reference on the node: the slot is still its own */
		val.kref = e->node;
		val.kref_gen = bpfuse_kref_gen(b, e->node);
	}
	err = bpfuse_lookup_key(&key, val.name, parent, name);
	if (err)
		return err;
	val.expires_ns = expiry(b, lifetime_ns, !e->nodeid);
	return bpfuse_put(b, epoch, BPFUSE_CACHE_LOOKUP, &key, &val);
}

/* Drop (parent, name); returns the node it named, 0 if none or negative. */
uint64_t bpfuse_entry_inval(struct bpfuse *b, uint64_t parent, const char *name,
			    enum bpfuse_cause cause)
{
	__u64 words[BPFUSE_NAME_WORDS];
	struct bpfuse_lookup_key key;
	struct bpfuse_lookup_val val;

	if (!b || !b->caching || bpfuse_lookup_key(&key, words, parent, name))
		return 0;
	/* the slot goes whichever name holds it; its node only if it is this name's */
	if (bpf_map_lookup_elem(b->fds[BPFUSE_CACHE_LOOKUP], &key, &val) ||
	    !bpfuse_name_same(val.name, words, key.len))
		val.nodeid = 0;
	bpfuse_delete(b, BPFUSE_CACHE_LOOKUP, &key, cause);
	return val.nodeid;
}

/* ---- attributes ---------------------------------------------------------- */

int bpfuse_attr_get(struct bpfuse *b, uint64_t nodeid, struct stat *st)
{
	struct bpfuse_attr_val val;

	if (!b || !b->caching || bpf_map_lookup_elem(b->fds[BPFUSE_CACHE_ATTR], &nodeid, &val))
		return -ENOENT;
	if (expired(val.expires_ns)) {
		bpfuse_expire(b, BPFUSE_CACHE_ATTR, &nodeid);
		return -ENOENT;
	}
	bpfuse_attr_to_stat(st, &val.attr);
	bpfuse_hit(b, BPFUSE_OP_GETATTR);
	return 0;
}

int bpfuse_attr_put(struct bpfuse *b, uint64_t epoch, uint64_t nodeid, const struct stat *st,
		    uint64_t lifetime_ns)
{
	struct bpfuse_attr_val val;

	if (!b)
		return -ENODEV;
	val.expires_ns = expiry(b, lifetime_ns, false);
	bpfuse_attr_from_stat(&val.attr, st);
	return bpfuse_put(b, epoch, BPFUSE_CACHE_ATTR, &nodeid, &val);
}

void bpfuse_attr_inval(struct bpfuse *b, uint64_t nodeid, enum bpfuse_cause cause)
{
	if (b && nodeid)
		bpfuse_delete(b, BPFUSE_CACHE_ATTR, &nodeid, cause);
}

/* ---- extended attributes ------------------------------------------------- */

static int bpfuse_xattr_key(struct bpfuse_xattr_key *key, __u64 words[BPFUSE_NAME_WORDS],
			    uint64_t nodeid, const char *name)
{
	key->nodeid = nodeid;
	return bpfuse_key_name(words, &key->hash, &key->len, name);
}

/*
 * Returns the value's size (a size query when size is 0), the cached error
 * (-ENODATA, -EOPNOTSUPP, -ENOSYS), -ERANGE when buf is too small, and
 * -ENOENT on a miss. Everything but a miss counts as a hit.
 */
ssize_t bpfuse_xattr_get(struct bpfuse *b, uint64_t nodeid, const char *name, void *buf,
			 size_t size)
{
	__u64 words[BPFUSE_NAME_WORDS];
	struct bpfuse_xattr_key key;
	struct bpfuse_xattr_val val;

	if (!b || !b->caching || bpfuse_xattr_key(&key, words, nodeid, name))
		return -ENOENT;
	if (bpf_map_lookup_elem(b->fds[BPFUSE_CACHE_XATTR], &key, &val) ||
	    !bpfuse_name_same(val.name, words, key.len))
		return -ENOENT;
	if (expired(val.expires_ns)) {
		bpfuse_expire(b, BPFUSE_CACHE_XATTR, &key);
		return -ENOENT;
	}
	bpfuse_hit(b, BPFUSE_OP_GETXATTR);
	if (val.err)
		return -val.err;
	if (!size)
		return val.size;
	if (size < val.size)
		return -ERANGE;
	memcpy(buf, val.value, val.size);
	return val.size;
}

/*
 * size < 0 caches that error: -ENODATA ("no such attribute"), -EOPNOTSUPP
 * (no such namespace here, which does not change while mounted). Values
 * too big are not cached.
 */
int bpfuse_xattr_put(struct bpfuse *b, uint64_t epoch, uint64_t nodeid, const char *name,
		     const void *value, ssize_t size, uint64_t lifetime_ns)
{
	struct bpfuse_xattr_key key;
	struct bpfuse_xattr_val val;
	int err;

	if (!b)
		return -ENODEV;
	if (size > BPFUSE_XATTR_VALUE_MAX)
		return -E2BIG;
	if (size < 0 && size != -ENODATA && size != -EOPNOTSUPP)
		return -EINVAL;
	memset(&val, 0, sizeof(val));
	err = bpfuse_xattr_key(&key, val.name, nodeid, name);
	if (err)
		return err;
	val.expires_ns = expiry(b, lifetime_ns, size == -ENODATA);
	if (size < 0) {
		val.err = -size;
	} else {
		val.size = size;
		memcpy(val.value, value, size);
	}
	return bpfuse_put(b, epoch, BPFUSE_CACHE_XATTR, &key, &val);
}

/*
 * Every cached xattr of a node (an attribute changed behind the daemon's
 * back, name unknown). Walks the map: for rare events only.
 */
void bpfuse_xattrs_inval(struct bpfuse *b, uint64_t nodeid, enum bpfuse_cause cause)
{
	struct bpfuse_xattr_key key, next, *doomed = NULL;
	int fd = b->fds[BPFUSE_CACHE_XATTR];
	size_t n = 0, cap = 0, i;
	bool first = true;
	void *grown;

	if (!b->caching)
		return;
	/* the epoch moves even if nothing is cached yet: a fill may be under way */
	bpfuse_epoch_move(b);
	/* collect first: deleting while walking restarts the walk */
	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (key.nodeid != nodeid)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			grown = realloc(doomed, cap * sizeof(*doomed));
			if (!grown)
				break;
			doomed = grown;
		}
		doomed[n++] = key;
	}
	for (i = 0; i < n; i++)
		bpfuse_delete(b, BPFUSE_CACHE_XATTR, &doomed[i], cause);
	free(doomed);
	bpfuse_fills_drain(b);
}

/* Drop one cached xattr of a node, or (name NULL) all of them. */
void bpfuse_xattr_inval(struct bpfuse *b, uint64_t nodeid, const char *name,
			enum bpfuse_cause cause)
{
	__u64 words[BPFUSE_NAME_WORDS];
	struct bpfuse_xattr_key key;

	if (!b)
		return;
	if (!name)
		bpfuse_xattrs_inval(b, nodeid, cause);
	else if (!bpfuse_xattr_key(&key, words, nodeid, name))
		bpfuse_delete(b, BPFUSE_CACHE_XATTR, &key, cause);
}

/* ---- a miss and its fill ------------------------------------------------- */

/*
 * The epoch is read before the cache is: an invalidation between the two
 * then undoes the fill, which is what a reader of a stale answer needs.
 * Where the extension fills from the reply (kernel fills), it also looked
 * before the request reached the daemon: a miss costs no bpf() call here.
 */
static bool bpfuse_miss_ready(struct bpfuse *b, struct bpfuse_miss *m, bool kernel_fills)
{
	memset(m, 0, sizeof(*m));
	m->epoch = bpfuse_cache_epoch(b);
	m->fill = b && b->caching && !kernel_fills;
	return m->fill;
}

int bpfuse_entry_find(struct bpfuse *b, uint64_t parent, const char *name, struct bpfuse_entry *e,
		      struct stat *st, struct bpfuse_miss *m)
{
	if (!bpfuse_miss_ready(b, m, bpfuse_mount_kernel_fills(b)))
		return -ENOENT;
	return bpfuse_entry_get(b, parent, name, e, st);
}

void bpfuse_entry_fill(struct bpfuse *b, const struct bpfuse_miss *m, uint64_t parent,
		       const char *name, const struct bpfuse_entry *e, const struct stat *st)
{
	if (!m->fill)
		return;
	if (e->nodeid && st)
		bpfuse_attr_put(b, m->epoch, e->nodeid, st, m->lifetime_ns);
	bpfuse_entry_put(b, m->epoch, parent, name, e, m->lifetime_ns);
}

/* A listing fills names no find missed; the extension never fills from one. */
void bpfuse_miss_start(struct bpfuse *b, struct bpfuse_miss *m)
{
	bpfuse_miss_ready(b, m, false);
}

int bpfuse_attr_find(struct bpfuse *b, uint64_t nodeid, struct stat *st, struct bpfuse_miss *m)
{
	if (!bpfuse_miss_ready(b, m, bpfuse_mount_kernel_fills(b)))
		return -ENOENT;
	return bpfuse_attr_get(b, nodeid, st);
}

void bpfuse_attr_fill(struct bpfuse *b, const struct bpfuse_miss *m, uint64_t nodeid,
		      const struct stat *st)
{
	if (m->fill)
		bpfuse_attr_put(b, m->epoch, nodeid, st, m->lifetime_ns);
}

/* The extension fills only from replies that carry a value: not size queries. */
ssize_t bpfuse_xattr_find(struct bpfuse *b, uint64_t nodeid, const char *name, void *buf,
			  size_t size, struct bpfuse_miss *m)
{
	bool kernel_fills = bpfuse_mount_kernel_fills(b);

	if (!bpfuse_miss_ready(b, m, kernel_fills && size) || kernel_fills)
		return -ENOENT;
	return bpfuse_xattr_get(b, nodeid, name, buf, size);
}

void bpfuse_xattr_fill(struct bpfuse *b, const struct bpfuse_miss *m, uint64_t nodeid,
		       const char *name, const void *value, ssize_t size)
{
	if (!m->fill || size > BPFUSE_XATTR_VALUE_MAX ||
	    (size < 0 && size != -ENODATA && size != -EOPNOTSUPP))
		return;
	bpfuse_xattr_put(b, m->epoch, nodeid, name, value, size, m->lifetime_ns);
}
