// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libbpfuse: the invalidation rules of bpfuse_rules.h, applied after a
 * change reached the backend. The kernel extension applies the same table
 * before the change leaves for the daemon (kext/rules.bpf.h); the daemon's
 * side also knows what a request does not carry (a rename's victim that
 * was never looked up, say).
 */
#include "config.h"

#include "bpfuse_i.h"

static const uint32_t bpfuse_rules[BPFUSE_CAUSE_MAX] = BPFUSE_RULES_INIT;

/* A name and the attributes of what it named. */
static void bpfuse_drop_entry(struct bpfuse *b, uint64_t parent, const char *name,
			      enum bpfuse_cause cause)
{
	if (name)
		bpfuse_attr_inval(b, bpfuse_entry_inval(b, parent, name, cause), cause);
}

void bpfuse_cache_invalidate(struct bpfuse *b, enum bpfuse_cause cause,
			     const struct bpfuse_change *c)
{
	uint32_t rules;

	if (!b || !b->caching || cause >= BPFUSE_CAUSE_MAX)
		return;
	rules = bpfuse_rules[cause];
	if (cause == BPFUSE_CAUSE_ACCESS && !(b->cfg.flags & BPFUSE_CFG_ATIME))
		return;
	if (rules & BPFUSE_T(ENTRY))
		bpfuse_drop_entry(b, c->parent, c->name, cause);
	if (rules & BPFUSE_T(NEWENTRY))
		bpfuse_drop_entry(b, c->newparent, c->newname, cause);
	if (rules & BPFUSE_T(NODE_ATTR))
		bpfuse_attr_inval(b, c->node, cause);
	if ((rules & BPFUSE_T(NODE_XATTR)) && c->xattr)
		bpfuse_xattr_inval(b, c->node, c->xattr, cause);
	if (rules & BPFUSE_T(NODE_ACL))
		bpfuse_xattr_inval(b, c->node, BPFUSE_XATTR_ACL, cause);
	if (rules & BPFUSE_T(NODE_CAPS))
		bpfuse_xattr_inval(b, c->node, BPFUSE_XATTR_CAPS, cause);
	if (rules & BPFUSE_T(PARENT_ATTR))
		bpfuse_attr_inval(b, c->parent, cause);
	if (rules & BPFUSE_T(NEWPARENT_ATTR))
		bpfuse_attr_inval(b, c->newparent, cause);
	if (rules & BPFUSE_T(VICTIM_ATTR))
		bpfuse_attr_inval(b, c->victim, cause);
}
