/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The FUSE BPF hook (kernel/0001-*.patch) as programs see it. Declared
 * here with preserve_access_index rather than taken from vmlinux.h, so
 * that objects build on kernels without the hook and relocate against the
 * one they load on.
 */
#ifndef BPFUSE_HOOK_BPF_H
#define BPFUSE_HOOK_BPF_H

struct bpfuse_req {
	__u64 nodeid;
	__u32 opcode;
	__s32 error;	/* in reply(): the daemon's answer, 0 or -errno */
	__u32 flags;	/* BPFUSE_REQ_* (kernels whose hook has them) */
	__u64 cookie;	/* the program's own, from request() to reply() */
} __attribute__((preserve_access_index));

/*
 * A LOOKUP from an RCU path walk (a revalidation that must not sleep): the
 * kernel counts its answer as no lookup reference, so the answer takes none.
 */
#define BPFUSE_REQ_NOREF (1U << 0)

struct bpfuse_ops {
	int (*request)(struct bpfuse_req *req);
	void (*reply)(struct bpfuse_req *req);
} __attribute__((preserve_access_index));

extern int bpfuse_in_arg(struct bpfuse_req *req, __u32 i, void *buf, __u32 buf__sz) __ksym;
extern int bpfuse_out_arg(struct bpfuse_req *req, __u32 i, const void *buf, __u32 buf__sz) __ksym;
extern int bpfuse_set_error(struct bpfuse_req *req, int err) __ksym;
extern int bpfuse_reply_arg(struct bpfuse_req *req, __u32 i, void *buf, __u32 buf__sz) __ksym;

/* What request() returns. */
enum bpfuse_verdict {
	BPFUSE_CONTINUE = 0,
	BPFUSE_ANSWERED = 1,
	BPFUSE_WATCH = 2,
};

#endif
