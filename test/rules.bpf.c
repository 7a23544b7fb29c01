// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The extension's side of the invalidation rules (kext/rules.bpf.h), as a
 * program test/test_rules.c can run on any kernel: it applies one change,
 * given whole in its context, to the maps of a mount.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "rules.bpf.h"
#include "rules_ctx.h"

char LICENSE[] SEC("license") = "GPL";

/* Map-value copies of the keys: helpers take keys from memory they can check. */
struct bpfuse_lookup_key entry, newentry;
struct bpfuse_xattr_key xkey;

SEC("syscall")
int apply_rules(struct rules_ctx *ctx)
{
	struct bpfuse_change_keys c = {
		.node = ctx->node,
		.parent = ctx->parent,
		.newparent = ctx->newparent,
		.victim = ctx->victim,
	};

	__builtin_memcpy(&entry, &ctx->entry, sizeof(entry));
	__builtin_memcpy(&newentry, &ctx->newentry, sizeof(newentry));
	__builtin_memcpy(&xkey, &ctx->xattr, sizeof(xkey));
	if (ctx->has_entry)
		c.entry = &entry;
	if (ctx->has_newentry)
		c.newentry = &newentry;
	if (ctx->has_xattr)
		c.xattr = &xkey;
	rules_apply(ctx->cause, &c, ctx->atime);
	return 0;
}
