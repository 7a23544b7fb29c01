/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ioctl that attaches a kernel extension to a FUSE connection, as the
 * hook patch adds it to <linux/fuse.h> (kernel/0001-*.patch), for user
 * space: libbpfuse (lib/mount.c) and the guest's hook test
 * (test/vm/hook_smoke.c). No installed kernel header has it, so user space
 * needs a copy, and this is the only one.
 *
 * The patch keeps its own copy: a uapi header must build in a kernel tree
 * that has none of this repository, and a patch generated from this file
 * would change with every edit here, and the guest kernel with it
 * (test/vm/build-kernel.sh caches it by a hash of the patch: a 20-minute
 * build). Instead test/hook_abi.sh compares the two field by field and
 * fails when they differ: declare here what the patch declares, in its
 * order.
 *
 * The includer provides __u32 (<linux/types.h>) and _IOW (<sys/ioctl.h>).
 */
#ifndef BPFUSE_ATTACH_H
#define BPFUSE_ATTACH_H

/*
 * The daemon reports every change made to a file behind the kernel's back
 * (reverse invalidation): writes may skip the privilege check of a file
 * found to have no suid/sgid bits or security.capability (SB_NOSEC).
 */
#define FUSE_BPFUSE_NOSEC (1 << 0)

struct fuse_bpfuse_attach {
	__u32 map_fd; /* a struct_ops map of struct bpfuse_ops */
	__u32 flags;  /* FUSE_BPFUSE_* */
};

/* Attach the struct bpfuse_ops of a struct_ops map to the connection; 229: FUSE_DEV_IOC_MAGIC */
#define FUSE_DEV_IOC_BPFUSE_ATTACH _IOW(229, 100, struct fuse_bpfuse_attach)

/*
 * BPF_F_LINK (Linux 6.4 <linux/bpf.h>, newer than Debian 12's headers): the
 * struct_ops map attached must be one whose value registers nothing.
 */
#define BPFUSE_MAP_F_LINK (1U << 13)

#endif
