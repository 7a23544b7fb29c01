/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The per-mount maps, as every BPF object of a mount declares them. The
 * first object loaded creates them; libbpfuse hands their fds to the others
 * (bpf_map__reuse_fd), so all see the same entries.
 */
#ifndef BPFUSE_MAPS_BPF_H
#define BPFUSE_MAPS_BPF_H

#include "bpfuse_maps.h"

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

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpfuse_config);
} mount_cfg SEC(".maps");

/* One value, mapped into the daemon, which bumps its counters in place. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpfuse_stats);
} stats SEC(".maps");

/* Ext mode: kernel-taken lookup references, mapped into the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, BPFUSE_KREF_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} krefs SEC(".maps");

#endif
