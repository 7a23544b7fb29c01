// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The per-mount maps, and the programs that count the FUSE requests that
 * reach the daemon, by opcode, with their latency.
 *
 * One copy of this object is loaded per mount; cfg_dev names the mount's
 * FUSE connection, so requests of other FUSE mounts are ignored. The
 * library loads one set of programs, the first the kernel accepts: the
 * tracepoints fuse_request_send/fuse_request_end (Linux 6.6 on), or kprobes
 * (6.1): fuse_request_end, which every request that reached the daemon
 * passes and a request answered by the kernel extension never does, timed
 * from the entry of the function synchronous requests go through
 * (fuse_simple_request in 6.1, __fuse_simple_request with an idmap first
 * in later kernels: cfg_idmap_arg).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "maps.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 cfg_dev = 0;
const volatile bool cfg_idmap_arg = false;

struct inflight {
	__u64 start_ns;
	__u32 opcode;
	__u32 pad;
};

/*
 * Requests sent to the daemon and not yet answered: by the request's
 * address with the tracepoints (6.12 numbers a request only after its send
 * tracepoint has fired), by unique id with the kprobes.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BPFUSE_INFLIGHT_ENTRIES);
	__type(key, __u64);
	__type(value, struct inflight);
} inflight SEC(".maps");

static __always_inline bool ours(struct fuse_req *req)
{
	return BPF_CORE_READ(req, fm, fc, dev) == cfg_dev;
}

SEC("raw_tp/fuse_request_send")
int BPF_PROG(fuse_request_send, struct fuse_req *req)
{
	struct inflight f = {};
	__u64 key;

	if (!ours(req))
		return 0;
	key = (__u64)req;
	f.opcode = BPF_CORE_READ(req, in.h.opcode);
	f.start_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&inflight, &key, &f, BPF_ANY);
	return 0;
}

static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 slot = 0;

	/* bounded, as the verifier wants */
	for (int i = 0; i < BPFUSE_HIST_SLOTS - 1 && v > 1; i++) {
		v >>= 1;
		slot++;
	}
	return slot;
}

/*
 * One upcall of opcode that ended with error (0 or -errno) and took ns
 * nanoseconds (not timed if !timed: the histogram counts the timed ones).
 * "No such name", "no such attribute" and "not implemented" (how a daemon
 * turns off OPEN or FLUSH) are answers, counted apart from failures.
 */
#define BPFUSE_ENOENT 2
#define BPFUSE_ENOSYS 38
#define BPFUSE_ENODATA 61

static __always_inline void count_upcall(__u32 opcode, bool timed, __u64 ns, int error)
{
	struct bpfuse_op_stats *op;
	struct bpfuse_stats *st;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&stats, &zero);
	if (!st || opcode >= BPFUSE_OPCODE_MAX)
		return;
	op = &st->ops[opcode];
	__sync_fetch_and_add(&op->upcalls, 1);
	if (timed) {
		__sync_fetch_and_add(&op->latency_ns, ns);
		__sync_fetch_and_add(&op->hist[log2_slot(ns / 1000)], 1);
	}
	if (error == -BPFUSE_ENOENT || error == -BPFUSE_ENODATA || error == -BPFUSE_ENOSYS)
		__sync_fetch_and_add(&op->negatives, 1);
	else if (error)
		__sync_fetch_and_add(&op->errors, 1);
}

SEC("raw_tp/fuse_request_end")
int BPF_PROG(fuse_request_end, struct fuse_req *req)
{
	struct inflight *f;
	__u64 key = (__u64)req;

	if (!ours(req))
		return 0;
	f = bpf_map_lookup_elem(&inflight, &key);
	if (!f)
		return 0; /* sent before we were attached */
	count_upcall(f->opcode, true, bpf_ktime_get_ns() - f->start_ns,
		     BPF_CORE_READ(req, out.h.error));
	bpf_map_delete_elem(&inflight, &key);
	return 0;
}

/*
 * kprobes: a synchronous request blocks its caller from entry to return,
 * so its start is kept by thread; the kernel writes that thread's id into
 * the request header (in the connection's pid namespace: the init one here).
 */
SEC("kprobe")
int BPF_KPROBE(simple_request_enter, void *a0, void *a1, void *a2)
{
	struct fuse_mount *fm = cfg_idmap_arg ? a1 : a0;
	struct fuse_args *args = cfg_idmap_arg ? a2 : a1;
	struct inflight f = {};
	__u64 tid = (__u32)bpf_get_current_pid_tgid();

	if (BPF_CORE_READ(fm, fc, dev) != cfg_dev)
		return 0;
	f.opcode = BPF_CORE_READ(args, opcode);
	f.start_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&inflight, &tid, &f, BPF_ANY);
	return 0;
}

/* Every request the daemon answered (or that was aborted): the count. */
SEC("kprobe")
int BPF_KPROBE(request_end, struct fuse_req *req)
{
	struct inflight *f;
	__u32 opcode;
	int error;
	__u64 tid;

	if (!ours(req))
		return 0; /* every FUSE mount's requests pass here */
	opcode = BPF_CORE_READ(req, in.h.opcode);
	tid = BPF_CORE_READ(req, in.h.pid);
	error = BPF_CORE_READ(req, out.h.error);
	f = bpf_map_lookup_elem(&inflight, &tid);
	if (f && f->opcode == opcode) {
		count_upcall(opcode, true, bpf_ktime_get_ns() - f->start_ns, error);
		bpf_map_delete_elem(&inflight, &tid);
	} else {
		count_upcall(opcode, false, 0, error); /* a background request */
	}
	return 0;
}

/* A request the extension answered, or that never left: not an upcall. */
SEC("kretprobe")
int BPF_KRETPROBE(simple_request_exit)
{
	__u64 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&inflight, &tid);
	return 0;
}
