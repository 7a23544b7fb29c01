// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A struct_ops program of another type (a TCP congestion control) that
 * calls a bpfuse kfunc: the kernel must refuse to load it, since the
 * kfuncs are for bpfuse_ops programs only (test/vm/hook_smoke.c).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "hook.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/foreign_ssthresh")
__u32 BPF_PROG(foreign_ssthresh, struct sock *sk)
{
	return bpfuse_set_error((struct bpfuse_req *)sk, -1) ? 2 : 3;
}

SEC("struct_ops/foreign_cong_avoid")
void BPF_PROG(foreign_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC("struct_ops/foreign_undo_cwnd")
__u32 BPF_PROG(foreign_undo_cwnd, struct sock *sk)
{
	return 2;
}

SEC(".struct_ops")
struct tcp_congestion_ops foreign = {
	.ssthresh = (void *)foreign_ssthresh,
	.cong_avoid = (void *)foreign_cong_avoid,
	.undo_cwnd = (void *)foreign_undo_cwnd,
	.name = "bpfuse_foreign",
};
