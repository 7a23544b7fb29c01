/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The invalidation rules, written once: what each kind of change makes
 * stale. libbpfuse applies them after a change reached the backend
 * (lib/rules.c), the kernel extension before a change leaves for the
 * daemon (kext/rules.bpf.h); test/test_rules.c runs both on the same maps
 * and fails when they remove different entries. No includes, no types of
 * the includer: daemons see this header too (bpfuse.h includes it).
 */
#ifndef BPFUSE_RULES_H
#define BPFUSE_RULES_H

/* A kind of change, and why entries were invalidated. */
enum bpfuse_cause {
	BPFUSE_CAUSE_SETATTR,	/* setattr, and open with O_TRUNC */
	BPFUSE_CAUSE_WRITE,	/* write, fallocate, copy_file_range */
	BPFUSE_CAUSE_ACCESS,	/* read, readdir, readlink where atime moves */
	BPFUSE_CAUSE_CREATE,	/* create, mknod, mkdir, symlink */
	BPFUSE_CAUSE_LINK,
	BPFUSE_CAUSE_UNLINK,	/* unlink, rmdir */
	BPFUSE_CAUSE_RENAME,
	BPFUSE_CAUSE_XATTR,	/* setxattr, removexattr */
	BPFUSE_CAUSE_FORGET,	/* the kernel forgot the node */
	BPFUSE_CAUSE_EXTERNAL,	/* a change made behind the daemon's back */
	BPFUSE_CAUSE_USER,	/* bpfusectl invalidate */
	BPFUSE_CAUSE_MAX,
};

/* What a change names (struct bpfuse_change); each rule drops one of them. */
enum bpfuse_target {
	BPFUSE_TARGET_NODE_ATTR,	/* the changed node's attributes */
	BPFUSE_TARGET_NODE_XATTR,	/* the xattr the change names, of that node */
	BPFUSE_TARGET_NODE_ACL,		/* its access ACL: a mode change rewrites it */
	BPFUSE_TARGET_NODE_CAPS,	/* its file capabilities: owner changes,
					   truncations and writes drop them */
	BPFUSE_TARGET_ENTRY,		/* (parent, name), and the attributes of what it names */
	BPFUSE_TARGET_NEWENTRY,		/* the same for (newparent, newname) */
	BPFUSE_TARGET_PARENT_ATTR,	/* the parent's times (and nlink) */
	BPFUSE_TARGET_NEWPARENT_ATTR,
	BPFUSE_TARGET_VICTIM_ATTR,	/* the node that lost a name, where known */
	BPFUSE_TARGET_MAX,
};

#define BPFUSE_T(t) (1u << BPFUSE_TARGET_##t)

/*
 * The rules: the targets each cause makes stale, as an initializer of
 * __u32 rules[BPFUSE_CAUSE_MAX]. EXTERNAL and USER have none here: the
 * watcher and bpfusectl name exactly what they drop.
 */
#define BPFUSE_RULES_INIT {							\
	[BPFUSE_CAUSE_SETATTR] = BPFUSE_T(NODE_ATTR) | BPFUSE_T(NODE_ACL) |	\
				 BPFUSE_T(NODE_CAPS),				\
	[BPFUSE_CAUSE_WRITE] = BPFUSE_T(NODE_ATTR) | BPFUSE_T(NODE_CAPS),	\
	[BPFUSE_CAUSE_ACCESS] = BPFUSE_T(NODE_ATTR),				\
	[BPFUSE_CAUSE_CREATE] = BPFUSE_T(ENTRY) | BPFUSE_T(PARENT_ATTR),	\
	[BPFUSE_CAUSE_LINK] = BPFUSE_T(ENTRY) | BPFUSE_T(PARENT_ATTR) |		\
			      BPFUSE_T(NODE_ATTR),				\
	[BPFUSE_CAUSE_UNLINK] = BPFUSE_T(ENTRY) | BPFUSE_T(PARENT_ATTR) |	\
				BPFUSE_T(VICTIM_ATTR),				\
	[BPFUSE_CAUSE_RENAME] = BPFUSE_T(ENTRY) | BPFUSE_T(NEWENTRY) |		\
				BPFUSE_T(PARENT_ATTR) | BPFUSE_T(NEWPARENT_ATTR) | \
				BPFUSE_T(NODE_ATTR) | BPFUSE_T(VICTIM_ATTR),	\
	[BPFUSE_CAUSE_XATTR] = BPFUSE_T(NODE_XATTR) | BPFUSE_T(NODE_ATTR),	\
	[BPFUSE_CAUSE_FORGET] = BPFUSE_T(NODE_ATTR),				\
}

/* The xattrs NODE_ACL and NODE_CAPS name. */
#define BPFUSE_XATTR_ACL  "system.posix_acl_access"
#define BPFUSE_XATTR_CAPS "security.capability"

#endif
