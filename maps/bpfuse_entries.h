/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * How many entries the lookup, attr and xattr caches hold, written once:
 * the kernel extensions declare their maps at this size (bpfuse_maps.h),
 * libbpfuse resizes them at load (struct bpfuse_opts.entries), bpfused
 * bounds -o map_entries= by it and prints what it chose (--help). No
 * includes, no types: daemons see this header too (bpfuse.h includes it).
 */
#ifndef BPFUSE_ENTRIES_H
#define BPFUSE_ENTRIES_H

/* The lookup and attr maps where the mount names no size (entries = 0). */
#define BPFUSE_ENTRIES_DEFAULT 65536

/* The fewest entries bpfused accepts for a map, and the xattr map's floor. */
#define BPFUSE_ENTRIES_MIN 1024

/*
 * The xattr map holds a quarter as many entries as the lookup map, and no
 * fewer than BPFUSE_ENTRIES_MIN: its entries cost the most memory (608
 * bytes against the lookup map's 368, docs/ARCHITECTURE.md).
 */
#define BPFUSE_XATTR_ENTRIES_DIV 4
#define BPFUSE_XATTR_ENTRIES_OF(n)                                                                 \
	((n) / BPFUSE_XATTR_ENTRIES_DIV > BPFUSE_ENTRIES_MIN ? (n) / BPFUSE_XATTR_ENTRIES_DIV      \
							     : BPFUSE_ENTRIES_MIN)

#endif
