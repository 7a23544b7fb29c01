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

/* Ext mode: the extension's answers, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpfuse_khits);
} khits SEC(".maps");

/* Ext mode with passthrough: node -> its backing file's id (the daemon's). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPFUSE_KREF_ENTRIES);
	__type(key, __u64);
	__type(value, struct bpfuse_backing_val);
} backing SEC(".maps");

/* Ext mode: kernel-taken lookup references, mapped into the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, BPFUSE_KREF_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} krefs SEC(".maps");

/*
 * Ext mode: the node id each "krefs" slot belongs to now (0: free),
 * mapped into the daemon; checked before a reference is taken, so that a
 * lookup value read while its LRU element was being reused never charges
 * another node's slot.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, BPFUSE_KREF_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} kowner SEC(".maps");
/*
 * Ext mode: the other way round, each owned slot by its node id, for the
 * extension's fills from lookup replies; the owner is checked in "kowner"
 * before a reference is taken, as for every entry.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, BPFUSE_KREF_ENTRIES);
	__type(key, __u64);
	__type(value, __u32);
} kslot SEC(".maps");

#endif
