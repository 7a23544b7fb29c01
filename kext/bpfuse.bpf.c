// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The per-mount maps, and the programs that count the FUSE requests that
 * reach the daemon, by opcode, with their latency.
 *
 * One copy of this object is loaded per mount; cfg_dev names the mount's
 * FUSE connection, so requests of other FUSE mounts are ignored. The
 * tracepoints fuse_request_send/fuse_request_end exist from Linux 6.6 on;
 * the library leaves these programs out where the kernel lacks them.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpfuse_maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 cfg_dev = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BPFUSE_LOOKUP_ENTRIES);
	__type(key, struct bpfuse_lookup_key);
	__type(value, struct bpfuse_lookup_val);
} lookup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BPFUSE_ATTR_ENTRIES);
	__type(key, __u64);
	__type(value, struct bpfuse_attr_val);
} attr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, BPFUSE_XATTR_ENTRIES);
	__type(key, struct bpfuse_xattr_key);
	__type(value, struct bpfuse_xattr_val);
} xattr SEC(".maps");

/* One value, mapped into the daemon, which bumps its counters in place. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpfuse_stats);
} stats SEC(".maps");

struct inflight {
	__u64 start_ns;
	__u32 opcode;
	__u32 pad;
};

/* Requests sent to the daemon and not yet answered, by unique id. */
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
	__u64 unique;

	if (!ours(req))
		return 0;
	unique = BPF_CORE_READ(req, in.h.unique);
	f.opcode = BPF_CORE_READ(req, in.h.opcode);
	f.start_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&inflight, &unique, &f, BPF_ANY);
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

SEC("raw_tp/fuse_request_end")
int BPF_PROG(fuse_request_end, struct fuse_req *req)
{
	struct bpfuse_op_stats *op;
	struct bpfuse_stats *st;
	struct inflight *f;
	__u64 unique, ns;
	__u32 zero = 0;
	__s32 error;

	if (!ours(req))
		return 0;
	unique = BPF_CORE_READ(req, in.h.unique);
	f = bpf_map_lookup_elem(&inflight, &unique);
	if (!f)
		return 0;	/* sent before we were attached */
	ns = bpf_ktime_get_ns() - f->start_ns;
	st = bpf_map_lookup_elem(&stats, &zero);
	if (st && f->opcode < BPFUSE_OPCODE_MAX) {
		op = &st->ops[f->opcode];
		__sync_fetch_and_add(&op->upcalls, 1);
		__sync_fetch_and_add(&op->latency_ns, ns);
		__sync_fetch_and_add(&op->hist[log2_slot(ns / 1000)], 1);
		error = BPF_CORE_READ(req, out.h.error);
		if (error)
			__sync_fetch_and_add(&op->errors, 1);
	}
	bpf_map_delete_elem(&inflight, &unique);
	return 0;
}
