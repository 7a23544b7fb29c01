// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A bpfuse_ops program that writes a field of its request other than the
 * cookie: the kernel must refuse to load it (test/vm/hook_smoke.c).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "hook.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/request")
int BPF_PROG(scribble_request, struct bpfuse_req *req)
{
	req->nodeid = 1;
	return BPFUSE_CONTINUE;
}

SEC(".struct_ops")
struct bpfuse_ops scribble = {
	.request = (void *)scribble_request,
};
