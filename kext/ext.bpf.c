// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The ext-mode extension: a struct bpfuse_ops (kernel/0001-*.patch) that
 * answers LOOKUP (positive and negative), GETATTR and GETXATTR from the maps
 * the daemon fills, read-only OPENs of nodes with a backing file (kernel
 * passthrough) and their FLUSH and RELEASE, and drops the entries a change
 * makes stale before the change leaves for the daemon, by the rules of
 * bpfuse_rules.h. Where the daemon asked (BPFUSE_CFG_KFILL), it fills the
 * maps from the daemon's LOOKUP, GETATTR and GETXATTR replies itself. The
 * maps are the daemon's (libbpfuse reuses their fds here). A lookup it
 * answers takes a reference the daemon collects at FORGET: see "lookup
 * counts in ext mode" in docs/ARCHITECTURE.md.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "hook.bpf.h"
#include "maps.bpf.h"
#include "rules.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * Answers work on the BPF stack (nothing per CPU that a preempted call
 * could share): one name buffer, which ext_request() lends to whichever
 * step reads a name, and the keys, which hold only its hash. Only an
 * xattr fill needs more than the stack holds: a per-CPU buffer it takes
 * by compare-and-swap and skips the fill if it is taken.
 */

#define ENOENT 2
#define ENODATA 61
#define EOPNOTSUPP 95
#define ERANGE 34
#define O_ACCMODE 3
#define O_TRUNC 01000
#define FOPEN_KEEP_CACHE (1 << 1)
#define FOPEN_NOFLUSH (1 << 5)
#define FOPEN_PASSTHROUGH (1 << 7)

/*
 * Lifetimes are kept in the coarse clock, the time of the last tick, which
 * needs no clock read; so an entry may be served up to one tick past its
 * lifetime, as the kernel's own FUSE timeouts, counted in jiffies, may be.
 * Even so, the helper that reads it costs a call and a seqcount read, on
 * nearly every answer (entries expire after map_timeout, 60 s, even when
 * watched). The clock moves only at a tick, so each CPU keeps the last
 * value it read with the jiffies it read it at, and reads the clock again
 * when jiffies moved (bpf_jiffies64() is inlined: one load). jiffies moves
 * a moment before the coarse clock in the same tick, so a value read in
 * between stands for the whole tick: an entry may then be served up to two
 * ticks past its lifetime. (The hook runs programs with preemption off, so
 * no other request on this CPU sees the pair half written.)
 */
struct coarse_clock {
	__u64 jiffies;
	__u64 ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct coarse_clock);
} coarse_clock SEC(".maps");

static __always_inline __u64 coarse_now(void)
{
	__u32 zero = 0;
	struct coarse_clock *c = bpf_map_lookup_elem(&coarse_clock, &zero);
	__u64 j = bpf_jiffies64();

	if (!c)
		return bpf_ktime_get_coarse_ns();
	if (c->jiffies != j) {
		c->ns = bpf_ktime_get_coarse_ns();
		c->jiffies = j;
	}
	return c->ns;
}

/* It is read once per request, at the first entry that can expire. */
static __always_inline bool expired(__u64 expires_ns, __u64 *now)
{
	if (!expires_ns)
		return false;
	if (!*now)
		*now = coarse_now();
	return *now >= expires_ns;
}

/*
 * opcode: a constant, so that the index needs no bound the verifier could
 * lose. A plain increment, no atomic: the hook runs programs with
 * preemption off and never from an interrupt, so nothing else on this CPU
 * touches the counter midway.
 */
static __always_inline void count_hit(const __u32 opcode)
{
	__u32 zero = 0;
	struct bpfuse_khits *h = bpf_map_lookup_elem(&khits, &zero);

	if (h)
		h->ops[opcode]++;
}

/*
 * Copy the name in in-arg i into words and hash it: the name arrives with
 * its NUL, the length is the bytes before it. False if it does not fit
 * (the kfunc refuses it with -E2BIG): a longer name goes to the daemon
 * (ENAMETOOLONG), never to the entry of its first 255 bytes. The hash and
 * the comparisons read the name's words only, so only its last word is
 * zero-padded here, as the maps hold names (a 256-byte memset per answer
 * costs more than the rest of a lookup's name handling); the words after
 * it keep what they held, and a caller that stores words clears them
 * first.
 */
static __always_inline bool name_arg(struct bpfuse_req *req, __u32 i, __u64 *words, __u32 *hash,
				     __u32 *len)
{
	__u32 last, tail;
	int n;

	n = bpfuse_in_arg(req, i, words, BPFUSE_NAME_MAX + 1);
	if (n < 2 || n > BPFUSE_NAME_MAX + 1 || ((char *)words)[n - 1])
		return false;
	*len = n - 1;
	last = (*len - 1) / 8;
	tail = *len - last * 8;	/* the name's bytes in its last word, 1-8 */
	if (tail < 8)
		words[last & (BPFUSE_NAME_WORDS - 1)] &= (1ULL << (tail * 8)) - 1;
	*hash = bpfuse_name_hash(words, *len);
	return true;
}

static __always_inline bool lookup_key(struct bpfuse_req *req, __u32 i, __u64 parent,
				       struct bpfuse_lookup_key *k, __u64 *words)
{
	k->parent = parent;
	return name_arg(req, i, words, &k->hash, &k->len);
}

static __always_inline bool xattr_key(struct bpfuse_req *req, __u32 i, __u64 node,
				      struct bpfuse_xattr_key *k, __u64 *words)
{
	k->nodeid = node;
	return name_arg(req, i, words, &k->hash, &k->len);
}

/* A timeout as the library split it (a division per answer costs) */
static __always_inline void valid(const struct bpfuse_valid *v, __u64 *sec, __u32 *nsec)
{
	*sec = v->sec;
	*nsec = v->nsec;
}

/*
 * Take one lookup reference on the node of a lookup entry, counted in its
 * slot for the daemon's FORGET accounting. Fails while the daemon is
 * collecting or has freed the node, or when the slot has a new owner.
 */
static __always_inline bool kref_get(__u32 slot, __u32 gen)
{
	__u64 want = BPFUSE_KREF_ALIVE | ((__u64)gen << BPFUSE_KREF_GEN_SHIFT);
	__u64 *word, old;

	word = bpf_map_lookup_elem(&krefs, &slot);
	if (!word)
		return false;
	for (int i = 0; i < 4; i++) {
		old = *(volatile __u64 *)word;
		if ((old & ~BPFUSE_KREF_REFS_MASK) != want ||
		    (old & BPFUSE_KREF_REFS_MASK) == BPFUSE_KREF_REFS_MASK)
			return false;
		if (__sync_val_compare_and_swap(word, old, old + 1) == old)
			return true;
	}
	return false;
}

static __always_inline int answer_lookup(struct bpfuse_req *req, __u64 parent, __u64 *words,
					 struct fuse_entry_out *e)
{
	struct bpfuse_lookup_key key;
	struct bpfuse_lookup_val *v;
	struct bpfuse_config *cfg;
	struct bpfuse_attr_val *a;
	__u32 zero = 0, kref, gen;
	__u64 node, *owner, now = 0;

	cfg = bpf_map_lookup_elem(&mount_cfg, &zero);
	if (!cfg || !lookup_key(req, 0, parent, &key, words))
		return BPFUSE_CONTINUE;
	v = bpf_map_lookup_elem(&lookup, &key);
	if (!v || expired(v->expires_ns, &now) || !bpfuse_name_same(v->name, words, key.len))
		return BPFUSE_CONTINUE;
	node = v->nodeid;
	kref = v->kref;
	gen = v->kref_gen;
	if (!node) {
		/* "no such name", as the daemon says it */
		if (!cfg->negative_timeout_ns) {
			bpfuse_set_error(req, -ENOENT);
			return BPFUSE_ANSWERED;
		}
		__builtin_memset(e, 0, sizeof(*e));
		valid(&cfg->negative_valid, &e->entry_valid, &e->entry_valid_nsec);
		return bpfuse_out_arg(req, 0, e, sizeof(*e)) ? BPFUSE_CONTINUE : BPFUSE_ANSWERED;
	}
	a = bpf_map_lookup_elem(&attr, &node);
	if (!a || expired(a->expires_ns, &now))
		return BPFUSE_CONTINUE;
	e->nodeid = node;
	e->generation = v->generation;
	valid(&cfg->entry_valid, &e->entry_valid, &e->entry_valid_nsec);
	valid(&cfg->attr_valid, &e->attr_valid, &e->attr_valid_nsec);
	__builtin_memcpy(&e->attr, &a->attr, sizeof(a->attr));
	if (bpfuse_out_arg(req, 0, e, sizeof(*e)))
		return BPFUSE_CONTINUE;
	/*
	 * The reference last: a lookup that goes to the daemon after all
	 * leaves the reply it overwrites, and no reference taken. The slot
	 * must be the answered node's: the LRU may have reused v under us.
	 * A revalidation from an RCU path walk takes none (BPFUSE_REQ_NOREF).
	 */
	owner = kref < BPFUSE_KREF_ENTRIES ? bpf_map_lookup_elem(&kowner, &kref) : NULL;
	if (!owner || *(volatile __u64 *)owner != node)
		return BPFUSE_CONTINUE;
	if (bpf_core_field_exists(req->flags) && (req->flags & BPFUSE_REQ_NOREF))
		return BPFUSE_ANSWERED;
	return kref_get(kref, gen) ? BPFUSE_ANSWERED : BPFUSE_CONTINUE;
}

static __always_inline int answer_getattr(struct bpfuse_req *req, __u64 node,
					  struct fuse_attr_out *out)
{
	struct bpfuse_config *cfg;
	struct bpfuse_attr_val *v;
	__u32 zero = 0;
	__u64 now = 0;

	v = bpf_map_lookup_elem(&attr, &node);
	cfg = bpf_map_lookup_elem(&mount_cfg, &zero);
	if (!v || !cfg || expired(v->expires_ns, &now))
		return BPFUSE_CONTINUE;
	valid(&cfg->attr_valid, &out->attr_valid, &out->attr_valid_nsec);
	out->dummy = 0;
	__builtin_memcpy(&out->attr, &v->attr, sizeof(v->attr));
	if (bpfuse_out_arg(req, 0, out, sizeof(*out)))
		return BPFUSE_CONTINUE;
	return BPFUSE_ANSWERED;
}

static __always_inline int answer_getxattr(struct bpfuse_req *req, __u64 node, __u64 *words)
{
	__u32 in[2] = {}, out[2] = {};
	struct bpfuse_xattr_val *v;
	struct bpfuse_xattr_key key;
	__u64 now = 0;
	__u32 size;

	if (bpfuse_in_arg(req, 0, in, sizeof(in)) != sizeof(in) ||
	    !xattr_key(req, 1, node, &key, words))
		return BPFUSE_CONTINUE;
	v = bpf_map_lookup_elem(&xattr, &key);
	if (!v || expired(v->expires_ns, &now) || !bpfuse_name_same(v->name, words, key.len))
		return BPFUSE_CONTINUE;
	if (v->err) {
		bpfuse_set_error(req, -v->err);
		return BPFUSE_ANSWERED;
	}
	size = v->size;
	if (!in[0]) {
		out[0] = size;
		return bpfuse_out_arg(req, 0, out, sizeof(out)) ? BPFUSE_CONTINUE : BPFUSE_ANSWERED;
	}
	if (in[0] < size) {
		bpfuse_set_error(req, -ERANGE);
		return BPFUSE_ANSWERED;
	}
	if (size > BPFUSE_XATTR_SIZE_MAX)
		return BPFUSE_CONTINUE;
	return bpfuse_out_arg(req, 0, v->value, size) ? BPFUSE_CONTINUE : BPFUSE_ANSWERED;
}

/*
 * Reads of an open answered here go to the backing file, past the daemon:
 * where the next read moves the node's atime (the daemon says so in the
 * backing entry), its cached attributes go, once, at the release, as the
 * daemon drops them after a read it serves.
 */
static __always_inline void access_node(__u64 node, struct bpfuse_backing_val *b)
{
	struct bpfuse_change_keys c = { .node = node };

	if (!(b->flags & BPFUSE_BACKING_ATIME))
		return;
	__sync_fetch_and_and(&b->flags, ~BPFUSE_BACKING_ATIME);
	rules_apply(BPFUSE_CAUSE_ACCESS, &c, true);
}

/*
 * A read-only open that truncates nothing, of a node whose backing file
 * the daemon registered: answered with that file (kernel passthrough), so
 * that reads and mmap go to it without the daemon; or, for a node the
 * daemon marked BPFUSE_BACKING_PAGES (a small file), keeping its pages, so
 * that the open costs no second open of the backing file. Opens for
 * writing go to the daemon, which keeps a writer's node out of the
 * attribute cache.
 */
static __always_inline int answer_open(struct bpfuse_req *req, __u64 node)
{
	struct fuse_open_out out = { .fh = BPFUSE_FH_KERNEL,
				     .open_flags = FOPEN_PASSTHROUGH | FOPEN_NOFLUSH };
	struct bpfuse_backing_val *b;
	struct fuse_open_in in;

	if (bpfuse_in_arg(req, 0, &in, sizeof(in)) != sizeof(in) ||
	    (in.flags & (O_ACCMODE | O_TRUNC)))
		return BPFUSE_CONTINUE;
	b = bpf_map_lookup_elem(&backing, &node);
	if (!b)
		return BPFUSE_CONTINUE;
	if (b->flags & BPFUSE_BACKING_PAGES)
		out.open_flags = FOPEN_KEEP_CACHE | FOPEN_NOFLUSH;
	else
		out.backing_id = b->backing_id;
	return bpfuse_out_arg(req, 0, &out, sizeof(out)) ? BPFUSE_CONTINUE : BPFUSE_ANSWERED;
}

/* FLUSH and RELEASE of an open answered here: nothing of the daemon's to close. */
static __always_inline int answer_close(struct bpfuse_req *req, __u32 opcode, __u64 node)
{
	struct bpfuse_backing_val *b;
	__u64 in[3];	/* fuse_release_in or fuse_flush_in: fh first */

	if (bpfuse_in_arg(req, 0, in, sizeof(in)) != sizeof(in) || in[0] != BPFUSE_FH_KERNEL)
		return BPFUSE_CONTINUE;
	b = opcode == FUSE_RELEASE ? bpf_map_lookup_elem(&backing, &node) : NULL;
	if (b)
		access_node(node, b);
	return BPFUSE_ANSWERED;
}

/* ---- invalidation, before a change leaves for the daemon ------------------ */

/*
 * What the request changes, in the terms of bpfuse_rules.h, with its names
 * hashed into keys, one by one through words; the table decides what goes.
 * The daemon applies the same table after the change (lib/rules.c), with
 * what a request does not carry (a rename's victim that was never looked
 * up, say).
 */
static __always_inline void invalidate(struct bpfuse_req *req, __u32 opcode, __u64 node,
				       __u64 *words)
{
	struct bpfuse_change_keys c = { .node = node };
	struct bpfuse_lookup_key entry, newentry;
	struct bpfuse_xattr_key xkey;
	struct fuse_copy_file_range_in copy;
	struct fuse_rename2_in rename_in;
	struct fuse_open_in open_in;
	struct bpfuse_config *cfg;
	__u32 cause, zero = 0;
	__u64 other = 0;
	bool atime;

	cfg = bpf_map_lookup_elem(&mount_cfg, &zero);
	atime = cfg && (cfg->flags & BPFUSE_CFG_ATIME);
	switch (opcode) {
	case FUSE_SETATTR:
		cause = BPFUSE_CAUSE_SETATTR;
		break;
	case FUSE_OPEN:
		if (bpfuse_in_arg(req, 0, &open_in, sizeof(open_in)) != sizeof(open_in) ||
		    !(open_in.flags & O_TRUNC))
			return;
		cause = BPFUSE_CAUSE_SETATTR;
		break;
	case FUSE_WRITE:
	case FUSE_FALLOCATE:
		cause = BPFUSE_CAUSE_WRITE;
		break;
	case FUSE_COPY_FILE_RANGE:
		/* the source is read, the destination written */
		rules_apply(BPFUSE_CAUSE_ACCESS, &c, atime);
		if (bpfuse_in_arg(req, 0, &copy, sizeof(copy)) != sizeof(copy))
			return;
		c.node = copy.nodeid_out;
		cause = BPFUSE_CAUSE_WRITE;
		break;
	case FUSE_READ:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
	case FUSE_READLINK:
		cause = BPFUSE_CAUSE_ACCESS;
		break;
	case FUSE_SETXATTR:
	case FUSE_REMOVEXATTR:
		if (xattr_key(req, opcode == FUSE_SETXATTR ? 1 : 0, node, &xkey, words))
			c.xattr = &xkey;
		cause = BPFUSE_CAUSE_XATTR;
		break;
	case FUSE_CREATE:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
		c.node = 0;
		c.parent = node;
		if (lookup_key(req, opcode == FUSE_SYMLINK ? 0 : 1, node, &entry, words))
			c.entry = &entry;
		cause = BPFUSE_CAUSE_CREATE;
		break;
	case FUSE_LINK:
		/* the link's target gains a link; node is the new parent */
		c.node = bpfuse_in_arg(req, 0, &other, sizeof(other)) == sizeof(other) ? other : 0;
		c.parent = node;
		if (lookup_key(req, 1, node, &entry, words))
			c.entry = &entry;
		cause = BPFUSE_CAUSE_LINK;
		break;
	case FUSE_UNLINK:
	case FUSE_RMDIR:
		c.node = 0;
		c.parent = node;
		if (lookup_key(req, 0, node, &entry, words))
			c.entry = &entry;
		cause = BPFUSE_CAUSE_UNLINK;
		break;
	case FUSE_RENAME:
	case FUSE_RENAME2:
		/* both start with the new parent; the names name the moved and the replaced */
		other = bpfuse_in_arg(req, 0, &rename_in, sizeof(rename_in)) >= (int)sizeof(other) ?
				rename_in.newdir : node;
		c.node = 0;
		c.parent = node;
		c.newparent = other;
		if (lookup_key(req, 1, node, &entry, words))
			c.entry = &entry;
		if (lookup_key(req, 2, other, &newentry, words))
			c.newentry = &newentry;
		cause = BPFUSE_CAUSE_RENAME;
		break;
	default:
		return;
	}
	rules_apply(cause, &c, atime);
}

/* ---- fills from the daemon's replies (BPFUSE_CFG_KFILL) ------------------- */

/* A GETXATTR with a buffer (not a size query): its reply carries the value. */
static __always_inline bool xattr_sized(struct bpfuse_req *req)
{
	__u32 in[2] = {};

	return bpfuse_in_arg(req, 0, in, sizeof(in)) == sizeof(in) && in[0];
}

/*
 * request() lets a LOOKUP, GETATTR or GETXATTR (with a buffer) it cannot
 * answer go to the daemon with BPFUSE_WATCH and notes the epoch, plus one,
 * in the request's cookie; reply() fills what the answer says. The epoch
 * rule is the library's (lib/cache.c): an invalidation moves the epoch
 * before it deletes, so a fill checks it before and after its insert and
 * undoes an insert that an invalidation passed; and since the library's
 * lock is out of reach here, its invalidations wait for the fills under
 * way (kfills) before they return.
 */
static __always_inline bool fill_watch(struct bpfuse_req *req)
{
	struct bpfuse_config *cfg;
	struct bpfuse_stats *st;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&mount_cfg, &zero);
	st = bpf_map_lookup_elem(&stats, &zero);
	if (!cfg || !st || !(cfg->flags & BPFUSE_CFG_KFILL) || !(cfg->flags & BPFUSE_CFG_CACHING))
		return false;
	req->cookie = *(volatile __u64 *)&st->epoch + 1;
	return true;
}

static __always_inline __u64 fill_expiry(__u64 lifetime_ns, __u64 now)
{
	return lifetime_ns ? now + lifetime_ns : 0;
}

/* cache: a constant, for the statistics' index */
static __always_inline void fill(void *map, const void *key, const void *val, __u64 epoch,
				 const __u32 cache)
{
	struct bpfuse_stats *st;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&stats, &zero);
	if (!st)
		return;
	/* under way: the library's invalidations wait for it (bpfuse_fills_drain()) */
	__sync_fetch_and_add(&st->kfills, 1);
	if (*(volatile __u64 *)&st->epoch != epoch)
		goto out;
	/* only new keys count, as the library's: evictions = inserts - deletes - entries */
	if (!bpf_map_update_elem(map, key, val, BPF_NOEXIST))
		__sync_fetch_and_add(&st->inserts[cache], 1);
	else if (bpf_map_update_elem(map, key, val, BPF_EXIST))
		goto out;
	if (*(volatile __u64 *)&st->epoch != epoch && !bpf_map_delete_elem(map, key))
		__sync_fetch_and_add(&st->deletes[cache], 1);
out:
	__sync_fetch_and_sub(&st->kfills, 1);
}

/* A passthrough writer's writes never reach the daemon: its attributes stay out. */
static __always_inline bool attr_fillable(__u64 node)
{
	struct bpfuse_backing_val *b = bpf_map_lookup_elem(&backing, &node);

	return !b || !(b->flags & BPFUSE_BACKING_WRITING);
}

static __always_inline void fill_attr(__u64 node, const struct fuse_attr *from, __u64 epoch,
				      struct bpfuse_config *cfg, __u64 now)
{
	struct bpfuse_attr_val a;

	if (!attr_fillable(node))
		return;
	a.expires_ns = fill_expiry(cfg->map_timeout_ns, now);
	__builtin_memcpy(&a.attr, from, sizeof(a.attr));
	fill(&attr, &node, &a, epoch, BPFUSE_CACHE_ATTR);
}

/*
 * A positive entry needs the node's reference slot (the daemon's "kslot"
 * entry, made with the node) and the slot's generation now: the reply's
 * reference keeps the node, and so its slot, until a FORGET. No slot, no
 * entry: the extension could not count the references it hands out.
 */
static __always_inline void fill_lookup(struct bpfuse_req *req, __u64 epoch,
					struct bpfuse_config *cfg)
{
	union {
		struct fuse_entry_out e;
		struct bpfuse_lookup_val v;
	} u;
	__u32 kref = BPFUSE_KREF_NONE, kgen = 0, *slot;
	__u64 node = 0, gen = 0, now = bpf_ktime_get_coarse_ns(), *word;
	struct bpfuse_lookup_key key;

	if (req->error && req->error != -ENOENT)
		return;
	if (!req->error) {
		if (bpfuse_reply_arg(req, 0, &u.e, sizeof(u.e)) != sizeof(u.e))
			return;
		node = u.e.nodeid;
		gen = u.e.generation;
	}
	if (node) {
		slot = bpf_map_lookup_elem(&kslot, &node);
		if (!slot)
			return;
		kref = *slot;
		word = bpf_map_lookup_elem(&krefs, &kref);
		if (!word)
			return;
		kgen = (*(volatile __u64 *)word >> BPFUSE_KREF_GEN_SHIFT) & BPFUSE_KREF_GEN_MASK;
		fill_attr(node, &u.e.attr, epoch, cfg, now);
	}
	__builtin_memset(&u.v, 0, sizeof(u.v));
	key.parent = req->nodeid;
	if (!name_arg(req, 0, u.v.name, &key.hash, &key.len))
		return;
	u.v.nodeid = node;
	u.v.generation = gen;
	u.v.kref = kref;
	u.v.kref_gen = kgen;
	u.v.expires_ns =
		fill_expiry(node ? cfg->map_timeout_ns : cfg->map_negative_timeout_ns, now);
	fill(&lookup, &key, &u.v, epoch, BPFUSE_CACHE_LOOKUP);
}

static __always_inline void fill_getattr(struct bpfuse_req *req, __u64 epoch,
					 struct bpfuse_config *cfg)
{
	struct fuse_attr_out out;

	if (req->error || bpfuse_reply_arg(req, 0, &out, sizeof(out)) != sizeof(out))
		return;
	fill_attr(req->nodeid, &out.attr, epoch, cfg, bpf_ktime_get_coarse_ns());
}

/*
 * An xattr entry (528 bytes) does not fit the BPF stack: it is built in a
 * per-CPU buffer that a fill takes with a compare-and-swap and gives back
 * after its insert. A fill that finds it taken (another one preempted on
 * this CPU midway) is skipped: a miss, never a mixed entry.
 */
struct xattr_buf {
	__u64 busy;
	struct bpfuse_xattr_val v;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xattr_buf);
} xattr_bufs SEC(".maps");

/* "No such attribute" (or namespace), or a value that fits. */
static __always_inline void fill_getxattr(struct bpfuse_req *req, __u64 epoch,
					  struct bpfuse_config *cfg)
{
	int err = req->error, n = 0;
	struct bpfuse_xattr_key key;
	struct xattr_buf *buf;
	__u32 zero = 0;

	if (err && err != -ENODATA && err != -EOPNOTSUPP)
		return;
	buf = bpf_map_lookup_elem(&xattr_bufs, &zero);
	if (!buf || __sync_val_compare_and_swap(&buf->busy, 0, 1))
		return;
	__builtin_memset(&buf->v, 0, sizeof(buf->v));
	if (!err) {
		n = bpfuse_reply_arg(req, 0, buf->v.value, sizeof(buf->v.value));
		if (n < 0)
			goto out;
	}
	key.nodeid = req->nodeid;
	if (!name_arg(req, 1, buf->v.name, &key.hash, &key.len))
		goto out;
	buf->v.err = -err;
	buf->v.size = n;
	buf->v.expires_ns = fill_expiry(err == -ENODATA ? cfg->map_negative_timeout_ns
							: cfg->map_timeout_ns,
					bpf_ktime_get_coarse_ns());
	fill(&xattr, &key, &buf->v, epoch, BPFUSE_CACHE_XATTR);
out:
	__sync_lock_test_and_set(&buf->busy, 0);
}

SEC("struct_ops/reply")
void BPF_PROG(ext_reply, struct bpfuse_req *req)
{
	__u64 epoch = req->cookie - 1;
	struct bpfuse_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&mount_cfg, &zero);
	if (!req->cookie || !cfg)
		return;
	switch (req->opcode) {
	case FUSE_LOOKUP:
		fill_lookup(req, epoch, cfg);
		break;
	case FUSE_GETATTR:
		fill_getattr(req, epoch, cfg);
		break;
	case FUSE_GETXATTR:
		fill_getxattr(req, epoch, cfg);
		break;
	}
}

SEC("struct_ops/request")
int BPF_PROG(ext_request, struct bpfuse_req *req)
{
	__u64 node = req->nodeid;
	__u32 opcode = req->opcode;
	__u64 words[BPFUSE_NAME_WORDS];
	int verdict = BPFUSE_CONTINUE;
	union {
		struct fuse_entry_out entry;
		struct fuse_attr_out attr;
	} out;

	switch (opcode) {
	case FUSE_LOOKUP:
		verdict = answer_lookup(req, node, words, &out.entry);
		if (verdict == BPFUSE_ANSWERED)
			count_hit(FUSE_LOOKUP);
		else if (fill_watch(req))
			verdict = BPFUSE_WATCH;
		break;
	case FUSE_GETATTR:
		verdict = answer_getattr(req, node, &out.attr);
		if (verdict == BPFUSE_ANSWERED)
			count_hit(FUSE_GETATTR);
		else if (fill_watch(req))
			verdict = BPFUSE_WATCH;
		break;
	case FUSE_GETXATTR:
		verdict = answer_getxattr(req, node, words);
		if (verdict == BPFUSE_ANSWERED)
			count_hit(FUSE_GETXATTR);
		else if (xattr_sized(req) && fill_watch(req))
			verdict = BPFUSE_WATCH;
		break;
	case FUSE_OPEN:
		verdict = answer_open(req, node);
		if (verdict == BPFUSE_ANSWERED)
			count_hit(FUSE_OPEN);
		else
			invalidate(req, opcode, node, words);
		break;
	case FUSE_FLUSH:
		verdict = answer_close(req, FUSE_FLUSH, node);
		if (verdict == BPFUSE_ANSWERED)
			count_hit(FUSE_FLUSH);
		break;
	case FUSE_RELEASE:
		verdict = answer_close(req, FUSE_RELEASE, node);
		if (verdict == BPFUSE_ANSWERED)
			count_hit(FUSE_RELEASE);
		break;
	default:
		invalidate(req, opcode, node, words);
		break;
	}
	return verdict;
}

SEC(".struct_ops")
struct bpfuse_ops bpfuse_ext = {
	.request = (void *)ext_request,
	.reply = (void *)ext_reply,
};
