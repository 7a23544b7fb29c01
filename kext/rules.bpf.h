/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The invalidation rules of bpfuse_rules.h, BPF side: the same table the
 * library applies (lib/rules.c), on a change whose names the caller has
 * already hashed into keys. Included by the extension and by the test
 * program that checks both sides agree (test/rules.bpf.c).
 */
#ifndef BPFUSE_RULES_BPF_H
#define BPFUSE_RULES_BPF_H

#include "maps.bpf.h"

static const __u32 bpfuse_rules[BPFUSE_CAUSE_MAX] = BPFUSE_RULES_INIT;

/* A change, as struct bpfuse_change, with its names in keys (NULL: none). */
struct bpfuse_change_keys {
	__u64 node;
	__u64 parent;
	__u64 newparent;
	__u64 victim;
	struct bpfuse_lookup_key *entry;	/* (parent, name) */
	struct bpfuse_lookup_key *newentry;	/* (newparent, newname) */
	struct bpfuse_xattr_key *xattr;		/* (node, xattr name) */
};

static __always_inline void rules_drop_attr(__u64 node)
{
	if (node)
		bpf_map_delete_elem(&attr, &node);
}

/*
 * The entry and the attributes of what it names. Another name may hold the
 * key's slot (the same hash): it goes too, which costs a miss, nothing more.
 */
static __always_inline void rules_drop_entry(struct bpfuse_lookup_key *key)
{
	struct bpfuse_lookup_val *v;

	if (!key)
		return;
	v = bpf_map_lookup_elem(&lookup, key);
	if (!v)
		return;
	rules_drop_attr(v->nodeid);
	bpf_map_delete_elem(&lookup, key);
}

/* An xattr of node named by a constant string (the compiler folds the hash). */
#define RULES_DROP_XATTR_NAMED(id, str)                                             \
	do {                                                                        \
		__u64 w_[(sizeof(str) + 7) / 8] = {};                               \
		struct bpfuse_xattr_key k_ = { .nodeid = (id), .len = sizeof(str) - 1 }; \
		__builtin_memcpy(w_, str, sizeof(str) - 1);                         \
		k_.hash = bpfuse_name_hash(w_, k_.len);                             \
		bpf_map_delete_elem(&xattr, &k_);                                   \
	} while (0)

/*
 * Apply cause's rules to c. atime: whether reads move atime on this mount
 * (the ACCESS rule applies). The epoch moves first, as at the library's
 * invalidations, so that a fill under way (from the daemon or from a
 * reply) cannot put back what this drops: a change the daemon never hears
 * of, such as the atime a read through passthrough moved, would otherwise
 * stay stale until the entry expires.
 */
static __always_inline void rules_apply(__u32 cause, struct bpfuse_change_keys *c, bool atime)
{
	struct bpfuse_stats *st;
	__u32 rules, zero = 0;

	if (cause >= BPFUSE_CAUSE_MAX || (cause == BPFUSE_CAUSE_ACCESS && !atime))
		return;
	rules = bpfuse_rules[cause];
	if (!rules)
		return;
	st = bpf_map_lookup_elem(&stats, &zero);
	if (st)
		__sync_fetch_and_add(&st->epoch, 1);
	if (rules & BPFUSE_T(ENTRY))
		rules_drop_entry(c->entry);
	if (rules & BPFUSE_T(NEWENTRY))
		rules_drop_entry(c->newentry);
	if (rules & BPFUSE_T(NODE_ATTR))
		rules_drop_attr(c->node);
	if ((rules & BPFUSE_T(NODE_XATTR)) && c->xattr)
		bpf_map_delete_elem(&xattr, c->xattr);
	if (rules & BPFUSE_T(NODE_ACL))
		RULES_DROP_XATTR_NAMED(c->node, BPFUSE_XATTR_ACL);
	if (rules & BPFUSE_T(NODE_CAPS))
		RULES_DROP_XATTR_NAMED(c->node, BPFUSE_XATTR_CAPS);
	if (rules & BPFUSE_T(PARENT_ATTR))
		rules_drop_attr(c->parent);
	if (rules & BPFUSE_T(NEWPARENT_ATTR))
		rules_drop_attr(c->newparent);
	if (rules & BPFUSE_T(VICTIM_ATTR))
		rules_drop_attr(c->victim);
}

#endif
