// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The ext-mode extension: a struct bpfuse_ops (kernel/0001-*.patch) that
 * answers LOOKUP (positive and negative), GETATTR and GETXATTR from the maps
 * the daemon fills, and drops the entries a change makes stale before the
 * change leaves for the daemon, by the rules of bpfuse_rules.h. The maps are the daemon's (libbpfuse
 * reuses their fds here). A lookup it answers takes a reference the daemon
 * collects at FORGET: see "lookup counts in ext mode" in
 * docs/ARCHITECTURE.md.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "hook.bpf.h"
#include "maps.bpf.h"
#include "rules.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Per CPU, because the keys and values are too big for the BPF stack. */
struct scratch {
	struct bpfuse_lookup_key lkey, lkey2;
	struct bpfuse_xattr_key xkey, xkey2;
	struct fuse_attr_out attr_out;
	struct fuse_entry_out entry_out;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

#define ENOENT 2
#define ERANGE 34
#define O_TRUNC 01000

static __always_inline bool expired(__u64 expires_ns)
{
	return expires_ns && bpf_ktime_get_ns() >= expires_ns;
}

/* opcode: a constant, so that the index needs no bound the verifier could lose */
static __always_inline void count_hit(const __u32 opcode)
{
	__u32 zero = 0;
	struct bpfuse_stats *st = bpf_map_lookup_elem(&stats, &zero);

	if (st)
		__sync_fetch_and_add(&st->ops[opcode].kernel_hits, 1);
}

/*
 * Copy the name in in-arg i into a zeroed key field (name, *len): the name
 * arrives with its NUL, the key holds the bytes before it. False if it
 * does not fit. The kfunc copies at most the buffer's size and says how
 * much it copied, so a longer name arrives cut, without its NUL: that one
 * goes to the daemon (ENAMETOOLONG), never to the entry of its first 255
 * bytes.
 */
static __always_inline bool name_arg(struct bpfuse_req *req, __u32 i, char *name, __u32 *len)
{
	int n = bpfuse_in_arg(req, i, name, BPFUSE_NAME_MAX + 1);

	if (n < 2 || n > BPFUSE_NAME_MAX + 1 || name[n - 1])
		return false;
	*len = n - 1;
	return true;
}

static __always_inline bool lookup_key(struct bpfuse_req *req, __u32 i, __u64 parent,
				       struct bpfuse_lookup_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->parent = parent;
	return name_arg(req, i, k->name, &k->len);
}

static __always_inline bool xattr_key(struct bpfuse_req *req, __u32 i, __u64 node,
				      struct scratch *s)
{
	__builtin_memset(&s->xkey, 0, sizeof(s->xkey));
	s->xkey.nodeid = node;
	return name_arg(req, i, s->xkey.name, &s->xkey.len);
}

static __always_inline void split_ns(__u64 ns, __u64 *sec, __u32 *nsec)
{
	*sec = ns / 1000000000;
	*nsec = ns % 1000000000;
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

static __always_inline int answer_lookup(struct bpfuse_req *req, __u64 parent, struct scratch *s)
{
	struct fuse_entry_out *e = &s->entry_out;
	struct bpfuse_lookup_val *v;
	struct bpfuse_config *cfg;
	struct bpfuse_attr_val *a;
	__u32 zero = 0, kref, gen;
	__u64 node;

	cfg = bpf_map_lookup_elem(&mount_cfg, &zero);
	if (!cfg || !lookup_key(req, 0, parent, &s->lkey))
		return BPFUSE_CONTINUE;
	v = bpf_map_lookup_elem(&lookup, &s->lkey);
	if (!v || expired(v->expires_ns))
		return BPFUSE_CONTINUE;
	node = v->nodeid;
	kref = v->kref;
	gen = v->kref_gen;
	__builtin_memset(e, 0, sizeof(*e));
	if (!node) {
		/* "no such name", as the daemon says it */
		if (!cfg->negative_timeout_ns) {
			bpfuse_set_error(req, -ENOENT);
			return BPFUSE_ANSWERED;
		}
		split_ns(cfg->negative_timeout_ns, &e->entry_valid, &e->entry_valid_nsec);
		return bpfuse_out_arg(req, 0, e, sizeof(*e)) ? BPFUSE_CONTINUE : BPFUSE_ANSWERED;
	}
	a = bpf_map_lookup_elem(&attr, &node);
	if (!a || expired(a->expires_ns))
		return BPFUSE_CONTINUE;
	e->nodeid = node;
	e->generation = v->generation;
	split_ns(cfg->entry_timeout_ns, &e->entry_valid, &e->entry_valid_nsec);
	split_ns(cfg->attr_timeout_ns, &e->attr_valid, &e->attr_valid_nsec);
	__builtin_memcpy(&e->attr, &a->attr, sizeof(a->attr));
	if (bpfuse_out_arg(req, 0, e, sizeof(*e)))
		return BPFUSE_CONTINUE;
	/*
	 * The reference last: a lookup that goes to the daemon after all
	 * leaves the reply it overwrites, and no reference taken.
	 */
	if (kref >= BPFUSE_KREF_ENTRIES || !kref_get(kref, gen))
		return BPFUSE_CONTINUE;
	return BPFUSE_ANSWERED;
}

static __always_inline int answer_getattr(struct bpfuse_req *req, __u64 node, struct scratch *s)
{
	struct bpfuse_config *cfg;
	struct bpfuse_attr_val *v;
	__u32 zero = 0;

	v = bpf_map_lookup_elem(&attr, &node);
	cfg = bpf_map_lookup_elem(&mount_cfg, &zero);
	if (!v || !cfg || expired(v->expires_ns))
		return BPFUSE_CONTINUE;
	split_ns(cfg->attr_timeout_ns, &s->attr_out.attr_valid, &s->attr_out.attr_valid_nsec);
	s->attr_out.dummy = 0;
	__builtin_memcpy(&s->attr_out.attr, &v->attr, sizeof(v->attr));
	if (bpfuse_out_arg(req, 0, &s->attr_out, sizeof(s->attr_out)))
		return BPFUSE_CONTINUE;
	return BPFUSE_ANSWERED;
}

static __always_inline int answer_getxattr(struct bpfuse_req *req, __u64 node, struct scratch *s)
{
	struct bpfuse_xattr_val *v;
	__u32 in[2] = {}, out[2] = {};
	__u32 size;

	if (bpfuse_in_arg(req, 0, in, sizeof(in)) != sizeof(in) || !xattr_key(req, 1, node, s))
		return BPFUSE_CONTINUE;
	v = bpf_map_lookup_elem(&xattr, &s->xkey);
	if (!v || expired(v->expires_ns))
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

/* ---- invalidation, before a change leaves for the daemon ------------------ */

/*
 * What the request changes, in the terms of bpfuse_rules.h, with its names
 * copied into the scratch keys; the table decides what goes. The daemon
 * applies the same table after the change (lib/rules.c), with what a
 * request does not carry (a rename's victim that was never looked up, say).
 */
static __always_inline void invalidate(struct bpfuse_req *req, __u32 opcode, __u64 node,
				       struct scratch *s)
{
	struct bpfuse_change_keys c = { .node = node };
	struct fuse_copy_file_range_in copy;
	struct bpfuse_config *cfg;
	__u32 cause, flags = 0, zero = 0;
	__u64 other = 0;
	bool atime;

	cfg = bpf_map_lookup_elem(&mount_cfg, &zero);
	atime = cfg && (cfg->flags & BPFUSE_CFG_ATIME);
	switch (opcode) {
	case FUSE_SETATTR:
		cause = BPFUSE_CAUSE_SETATTR;
		break;
	case FUSE_OPEN:
		if (bpfuse_in_arg(req, 0, &flags, sizeof(flags)) != sizeof(flags) ||
		    !(flags & O_TRUNC))
			return;
		cause = BPFUSE_CAUSE_SETATTR;
		break;
	case FUSE_WRITE:
	case FUSE_FALLOCATE:
		cause = BPFUSE_CAUSE_WRITE;
		break;
	case FUSE_COPY_FILE_RANGE:
		/* the source is read, the destination written */
		rules_apply(BPFUSE_CAUSE_ACCESS, &c, atime, &s->xkey2);
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
		if (xattr_key(req, opcode == FUSE_SETXATTR ? 1 : 0, node, s))
			c.xattr = &s->xkey;
		cause = BPFUSE_CAUSE_XATTR;
		break;
	case FUSE_CREATE:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
		c.node = 0;
		c.parent = node;
		if (lookup_key(req, opcode == FUSE_SYMLINK ? 0 : 1, node, &s->lkey))
			c.entry = &s->lkey;
		cause = BPFUSE_CAUSE_CREATE;
		break;
	case FUSE_LINK:
		/* the link's target gains a link; node is the new parent */
		c.node = bpfuse_in_arg(req, 0, &other, sizeof(other)) == sizeof(other) ? other : 0;
		c.parent = node;
		if (lookup_key(req, 1, node, &s->lkey))
			c.entry = &s->lkey;
		cause = BPFUSE_CAUSE_LINK;
		break;
	case FUSE_UNLINK:
	case FUSE_RMDIR:
		c.node = 0;
		c.parent = node;
		if (lookup_key(req, 0, node, &s->lkey))
			c.entry = &s->lkey;
		cause = BPFUSE_CAUSE_UNLINK;
		break;
	case FUSE_RENAME:
	case FUSE_RENAME2:
		/* both start with the new parent; the names name the moved and the replaced */
		if (bpfuse_in_arg(req, 0, &other, sizeof(other)) != sizeof(other))
			other = node;
		c.node = 0;
		c.parent = node;
		c.newparent = other;
		if (lookup_key(req, 1, node, &s->lkey))
			c.entry = &s->lkey;
		if (lookup_key(req, 2, other, &s->lkey2))
			c.newentry = &s->lkey2;
		cause = BPFUSE_CAUSE_RENAME;
		break;
	default:
		return;
	}
	rules_apply(cause, &c, atime, &s->xkey2);
}

SEC("struct_ops/request")
int BPF_PROG(ext_request, struct bpfuse_req *req)
{
	__u64 node = req->nodeid;
	__u32 opcode = req->opcode, zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	int verdict = BPFUSE_CONTINUE;

	if (!s)
		return BPFUSE_CONTINUE;
	switch (opcode) {
	case FUSE_LOOKUP:
		verdict = answer_lookup(req, node, s);
		if (verdict == BPFUSE_ANSWERED)
			count_hit(FUSE_LOOKUP);
		break;
	case FUSE_GETATTR:
		verdict = answer_getattr(req, node, s);
		if (verdict == BPFUSE_ANSWERED)
			count_hit(FUSE_GETATTR);
		break;
	case FUSE_GETXATTR:
		verdict = answer_getxattr(req, node, s);
		if (verdict == BPFUSE_ANSWERED)
			count_hit(FUSE_GETXATTR);
		break;
	default:
		invalidate(req, opcode, node, s);
		break;
	}
	return verdict;
}

SEC(".struct_ops")
struct bpfuse_ops bpfuse_ext = {
	.request = (void *)ext_request,
};
