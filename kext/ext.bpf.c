// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The ext-mode extension: a struct bpfuse_ops (kernel/0001-*.patch) that
 * answers GETATTR and GETXATTR from the maps the daemon fills, and drops
 * the entries a change makes stale before the change leaves for the
 * daemon. The maps are the daemon's (libbpfuse reuses their fds here).
 * Lookups are not answered yet: see "lookup counts in ext mode" in
 * docs/ARCHITECTURE.md.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "hook.bpf.h"
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Per CPU, because the keys and values are too big for the BPF stack. */
struct scratch {
	struct bpfuse_xattr_key key;
	struct fuse_attr_out attr_out;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

static __always_inline bool expired(__u64 expires_ns)
{
	return expires_ns && bpf_ktime_get_ns() >= expires_ns;
}

static __always_inline void count_hit(__u32 opcode)
{
	__u32 zero = 0;
	struct bpfuse_stats *st = bpf_map_lookup_elem(&stats, &zero);

	if (st && opcode < BPFUSE_OPCODE_MAX)
		__sync_fetch_and_add(&st->ops[opcode].kernel_hits, 1);
}

static __always_inline int answer_getattr(struct bpfuse_req *req, __u64 node, struct scratch *s)
{
	struct bpfuse_config *cfg;
	struct bpfuse_attr_val *v;
	__u32 zero = 0;

	v = bpf_map_lookup_elem(&attr, &node);
	cfg = bpf_map_lookup_elem(&mount_cfg, &zero);
	if (!v || !cfg || expired(v->expires_ns))
		return BPFUSE_CONTINUE;
	s->attr_out.attr_valid = cfg->attr_timeout_ns / 1000000000;
	s->attr_out.attr_valid_nsec = cfg->attr_timeout_ns % 1000000000;
	s->attr_out.dummy = 0;
	__builtin_memcpy(&s->attr_out.attr, &v->attr, sizeof(v->attr));
	if (bpfuse_out_arg(req, 0, &s->attr_out, sizeof(s->attr_out)))
		return BPFUSE_CONTINUE;
	return BPFUSE_ANSWERED;
}

/* Fill s->key for node and the name in in-arg i; false if it does not fit. */
static __always_inline bool xattr_key(struct bpfuse_req *req, __u32 i, __u64 node,
				      struct scratch *s)
{
	int len;

	__builtin_memset(&s->key, 0, sizeof(s->key));
	len = bpfuse_in_arg(req, i, s->key.name, sizeof(s->key.name));
	/* the name arrives with its NUL; the key holds the bytes before it */
	if (len < 2 || len > BPFUSE_XATTR_NAME_MAX + 1)
		return false;
	s->key.name[len - 1] = 0;
	s->key.nodeid = node;
	s->key.len = len - 1;
	return true;
}

static __always_inline int answer_getxattr(struct bpfuse_req *req, __u64 node, struct scratch *s)
{
	struct bpfuse_xattr_val *v;
	__u32 in[2] = {}, out[2] = {};
	__u32 size;

	if (bpfuse_in_arg(req, 0, in, sizeof(in)) != sizeof(in) || !xattr_key(req, 1, node, s))
		return BPFUSE_CONTINUE;
	v = bpf_map_lookup_elem(&xattr, &s->key);
	if (!v || expired(v->expires_ns))
		return BPFUSE_CONTINUE;
	if (v->err) {
		bpfuse_set_error(req, -v->err);
		return BPFUSE_ANSWERED;
	}
	size = v->size;
	if (!in[0]) {
		out[0] = size;
		return bpfuse_out_arg(req, 0, out, sizeof(out)) ? BPFUSE_CONTINUE : BPFUSE_ANSWERED;
	}
	if (in[0] < size) {
		bpfuse_set_error(req, -34 /* ERANGE */);
		return BPFUSE_ANSWERED;
	}
	if (size > BPFUSE_XATTR_SIZE_MAX)
		return BPFUSE_CONTINUE;
	return bpfuse_out_arg(req, 0, v->value, size) ? BPFUSE_CONTINUE : BPFUSE_ANSWERED;
}

SEC("struct_ops/request")
int BPF_PROG(ext_request, struct bpfuse_req *req)
{
	__u64 node = req->nodeid;
	__u32 opcode = req->opcode, zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	int verdict = BPFUSE_CONTINUE;

	if (!s)
		return BPFUSE_CONTINUE;
	switch (opcode) {
	case FUSE_GETATTR:
		verdict = answer_getattr(req, node, s);
		break;
	case FUSE_GETXATTR:
		verdict = answer_getxattr(req, node, s);
		break;
	case FUSE_SETXATTR:
	case FUSE_REMOVEXATTR:
		/* the value, before the change leaves for the daemon */
		if (xattr_key(req, opcode == FUSE_SETXATTR ? 1 : 0, node, s))
			bpf_map_delete_elem(&xattr, &s->key);
		bpf_map_delete_elem(&attr, &node);
		break;
	case FUSE_SETATTR:
	case FUSE_WRITE:
	case FUSE_FALLOCATE:
	case FUSE_COPY_FILE_RANGE:
	case FUSE_CREATE:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
	case FUSE_LINK:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_RENAME:
	case FUSE_RENAME2:
		/* the node, or for a name change the parent; the daemon drops the rest */
		bpf_map_delete_elem(&attr, &node);
		break;
	}
	if (verdict == BPFUSE_ANSWERED)
		count_hit(opcode);
	return verdict;
}

SEC(".struct_ops")
struct bpfuse_ops bpfuse_ext = {
	.request = (void *)ext_request,
};
