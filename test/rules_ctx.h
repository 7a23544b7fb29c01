/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What test/test_rules.c hands test/rules.bpf.c: a struct bpfuse_change
 * with its names as keys. No includes: the includer provides the map types
 * (bpfuse_maps.h) and __u32 and friends.
 */
#ifndef RULES_CTX_H
#define RULES_CTX_H

struct rules_ctx {
	__u32 cause;
	__u32 atime;
	__u64 node, parent, newparent, victim;
	__u32 has_entry, has_newentry, has_xattr, pad;
	struct bpfuse_lookup_key entry, newentry;
	struct bpfuse_xattr_key xattr;
};

#endif
