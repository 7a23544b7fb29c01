// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Smoke test of the kernel hook (kernel/0001-*.patch): answers getxattr of
 * "user.bpfuse" in the kernel, lets everything else go to the daemon,
 * counts the LOOKUP replies it watches (and whether each still carries the
 * cookie its request() left), and records what the kfuncs say to what they
 * must refuse: an argument larger than the buffer, arguments carried in
 * pages, an answer without out arguments to a request that needs the
 * daemon. The hook's types are declared with preserve_access_index, so
 * they relocate against the guest kernel.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "hook.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define FUSE_READLINK_OP 5
#define FUSE_UNLINK_OP 10
#define FUSE_READ_OP 15
#define FUSE_WRITE_OP 16
#define FUSE_LOOKUP_OP 1
#define FUSE_GETXATTR_OP 22

__u64 answered, watched, lookups_seen, cookies_kept;
/* what the kfuncs returned (1: not tried yet) */
int small_buf = 1, read_out = 1, write_in = 1, readlink_out = 1;

SEC("struct_ops/request")
int BPF_PROG(smoke_request, struct bpfuse_req *req)
{
	static const char want[12] = "user.bpfuse";
	char name[16] = {}, tiny[4], page[16] = {};
	char value[4] = { 'h', 'o', 'o', 'k' };
	__u32 in[2] = {}, size_out[2] = { sizeof(value), 0 };
	int err;

	switch (req->opcode) {
	case FUSE_LOOKUP_OP:
		req->cookie = req->nodeid ^ 0xc00c1e;
		return BPFUSE_WATCH;
	case FUSE_READ_OP:
		read_out = bpfuse_out_arg(req, 0, page, sizeof(page));
		return read_out ? BPFUSE_CONTINUE : BPFUSE_ANSWERED;
	case FUSE_WRITE_OP:
		write_in = bpfuse_in_arg(req, 1, page, sizeof(page));
		return BPFUSE_CONTINUE;
	case FUSE_READLINK_OP:
		readlink_out = bpfuse_out_arg(req, 0, page, 1);
		return readlink_out ? BPFUSE_CONTINUE : BPFUSE_ANSWERED;
	case FUSE_UNLINK_OP:
		/* "done", without the daemon: the kernel must not believe it */
		return BPFUSE_ANSWERED;
	case FUSE_GETXATTR_OP:
		break;
	default:
		return BPFUSE_CONTINUE;
	}
	/* in args: struct fuse_getxattr_in, then the name */
	small_buf = bpfuse_in_arg(req, 1, tiny, sizeof(tiny));
	if (bpfuse_in_arg(req, 1, name, sizeof(name)) != sizeof(want))
		return 0;
	for (int i = 0; i < sizeof(want); i++)
		if (name[i] != want[i])
			return 0;
	/* in arg 0 is struct fuse_getxattr_in: a size of 0 asks for the size */
	if (bpfuse_in_arg(req, 0, in, sizeof(in)) != sizeof(in))
		return 0;
	if (in[0] == 0)
		err = bpfuse_out_arg(req, 0, size_out, sizeof(size_out));
	else
		err = bpfuse_out_arg(req, 0, value, sizeof(value));
	if (err)
		return 0;	/* e.g. too small a buffer: the daemon answers */
	__sync_fetch_and_add(&answered, 1);
	return BPFUSE_ANSWERED;
}

SEC("struct_ops/reply")
void BPF_PROG(smoke_reply, struct bpfuse_req *req)
{
	__sync_fetch_and_add(&watched, 1);
	if (req->opcode != FUSE_LOOKUP_OP)
		return;
	__sync_fetch_and_add(&lookups_seen, 1);
	if (req->cookie == (req->nodeid ^ 0xc00c1e))
		__sync_fetch_and_add(&cookies_kept, 1);
}

SEC(".struct_ops")
struct bpfuse_ops smoke = {
	.request = (void *)smoke_request,
	.reply = (void *)smoke_reply,
};
