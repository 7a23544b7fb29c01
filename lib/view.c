// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libbpfuse for tools: a mount's pinned maps, opened by path. A view is a
 * struct bpfuse like the daemon's, so its invalidations go through the
 * daemon's code and move the same epoch.
 */
#include "config.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpfuse_i.h"

#define FUSE_ROOT_NODE 1

static const char *const cache_maps[BPFUSE_CACHE_MAX] = { "lookup", "attr", "xattr" };

static int bpfuse_map_open(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int bpfuse_view_open(const char *mountpoint, struct bpfuse **out)
{
	struct statx stx;
	struct bpfuse *b;
	__u32 zero = 0;
	int err, fd, i;

	*out = NULL;
	if (statx(AT_FDCWD, mountpoint, AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) == -1)
		return -errno;
	if (!(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		return -EINVAL;
	b = bpfuse_alloc();
	if (!b)
		return -ENOMEM;
	b->mnt_id = stx.stx_mnt_id;
	bpfuse_pin_dir(b->mnt_id, b->pin_dir, sizeof(b->pin_dir));
	/* ENXIO: nothing pinned for this mount (ENOENT would be the path's) */
	err = access(b->pin_dir, F_OK) == -1 ? (errno == ENOENT ? -ENXIO : -errno) : 0;
	if (err)
		goto out_close;
	fd = bpfuse_map_open(b->pin_dir, "stats");
	err = fd < 0 ? fd : bpfuse_map_stats(b, fd);
	if (fd >= 0)
		close(fd);
	if (err)
		goto out_close;
	err = -ESRCH;
	if (!bpfuse_alive(b->stats->daemon_pid))
		goto out_close;
	b->mode = b->stats->mode;
	b->khits_fd = bpfuse_map_open(b->pin_dir, "khits");
	b->cfg_fd = bpfuse_map_open(b->pin_dir, "mount_cfg");
	err = b->cfg_fd < 0 ? b->cfg_fd : 0;
	if (!err && bpf_map_lookup_elem(b->cfg_fd, &zero, &b->cfg))
		err = -errno;
	if (err)
		goto out_close;
	b->caching = b->cfg.flags & BPFUSE_CFG_CACHING;
	/* a counted mount has no caches */
	for (i = 0; b->mode != BPFUSE_MODE_COUNT && i < BPFUSE_CACHE_MAX; i++) {
		b->fds[i] = bpfuse_map_open(b->pin_dir, cache_maps[i]);
		if (b->fds[i] < 0) {
			err = b->fds[i];
			goto out_close;
		}
	}
	*out = b;
	return 0;

out_close:
	bpfuse_mount_close(b);
	return err;
}

/*
 * The statistics now: the shared value with the extension's per-CPU hits
 * added in. Valid until the next call.
 */
const struct bpfuse_stats *bpfuse_view_stats(struct bpfuse *b)
{
	int i, cpu, ncpus = libbpf_num_possible_cpus();
	struct bpfuse_khits *per_cpu;
	__u32 zero = 0;

	if (!b->snap)
		b->snap = malloc(sizeof(*b->snap));
	if (!b->snap)
		return b->stats;
	memcpy(b->snap, b->stats, sizeof(*b->snap));
	per_cpu = ncpus > 0 && b->khits_fd >= 0 ? calloc(ncpus, sizeof(*per_cpu)) : NULL;
	if (per_cpu && bpf_map_lookup_elem(b->khits_fd, &zero, per_cpu) == 0)
		for (cpu = 0; cpu < ncpus; cpu++)
			for (i = 0; i < BPFUSE_OPCODE_MAX; i++)
				b->snap->ops[i].kernel_hits += per_cpu[cpu].ops[i];
	free(per_cpu);
	return b->snap;
}

const struct bpfuse_config *bpfuse_view_config(const struct bpfuse *b)
{
	return &b->cfg;
}

uint64_t bpfuse_view_mount_id(const struct bpfuse *b)
{
	return b->mnt_id;
}

/* When the maps were pinned (seconds since the epoch): the start of "since the mount". */
double bpfuse_view_since(const struct bpfuse *b)
{
	struct stat st;

	if (stat(b->pin_dir, &st) == -1)
		return 0;
	return st.st_ctim.tv_sec + st.st_ctim.tv_nsec / 1e9;
}

/* Bytes the kernel charges for the map behind fd. */
static unsigned long long bpfuse_map_memory(int fd)
{
	char path[64], line[128];
	unsigned long long bytes = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &bytes) == 1)
			break;
	fclose(f);
	return bytes;
}

static const size_t key_sizes[BPFUSE_CACHE_MAX] = {
	sizeof(struct bpfuse_lookup_key),
	sizeof(__u64),
	sizeof(struct bpfuse_xattr_key),
};

int bpfuse_view_cache_info(const struct bpfuse *b, enum bpfuse_cache cache,
			   struct bpfuse_cache_info *info)
{
	struct bpf_map_info mi = { 0 };
	char key[sizeof(struct bpfuse_lookup_key)], next[sizeof(key)];
	__u32 len = sizeof(mi);
	int fd = b->fds[cache];
	void *prev = NULL;

	memset(info, 0, sizeof(*info));
	if (fd < 0)
		return -ENOENT;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, key_sizes[cache]);
		prev = key;
		info->entries++;
	}
	if (bpf_obj_get_info_by_fd(fd, &mi, &len) == 0)
		info->capacity = mi.max_entries;
	info->memory_bytes = bpfuse_map_memory(fd);
	return 0;
}

/* ---- walking ------------------------------------------------------------- */

/* Call cb(key, value, ctx) for each entry of the map behind fd. */
static int bpfuse_walk(int fd, size_t key_size, void *key, void *next, void *val,
		       int (*cb)(const void *, const void *, void *), void *ctx)
{
	void *prev = NULL;
	int ret;

	if (fd < 0)
		return 0;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, val))
			continue;
		ret = cb(key, val, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

int bpfuse_view_walk_names(const struct bpfuse *b,
			   int (*cb)(const struct bpfuse_lookup_key *, const struct bpfuse_lookup_val *,
				     void *),
			   void *ctx)
{
	struct bpfuse_lookup_key key, next;
	struct bpfuse_lookup_val val;

	return bpfuse_walk(b->fds[BPFUSE_CACHE_LOOKUP], sizeof(key), &key, &next, &val,
			   (int (*)(const void *, const void *, void *))cb, ctx);
}

int bpfuse_view_walk_attrs(const struct bpfuse *b,
			   int (*cb)(const __u64 *, const struct bpfuse_attr_val *, void *),
			   void *ctx)
{
	struct bpfuse_attr_val val;
	__u64 key, next;

	return bpfuse_walk(b->fds[BPFUSE_CACHE_ATTR], sizeof(key), &key, &next, &val,
			   (int (*)(const void *, const void *, void *))cb, ctx);
}

int bpfuse_view_walk_xattrs(const struct bpfuse *b,
			    int (*cb)(const struct bpfuse_xattr_key *, const struct bpfuse_xattr_val *,
				      void *),
			    void *ctx)
{
	struct bpfuse_xattr_key key, next;
	struct bpfuse_xattr_val val;

	return bpfuse_walk(b->fds[BPFUSE_CACHE_XATTR], sizeof(key), &key, &next, &val,
			   (int (*)(const void *, const void *, void *))cb, ctx);
}

/* ---- invalidation by path ------------------------------------------------ */

/*
 * Drop what the caches hold for path: its name, its attributes and its
 * xattrs. Node ids are found by walking the cached names from the root;
 * a path whose walk leaves the cache has nothing cached (0).
 */
long bpfuse_view_invalidate(struct bpfuse *b, const char *path)
{
	const struct bpfuse_stats *s = b->stats;
	char name[BPFUSE_NAME_MAX + 1];
	uint64_t parent = 0, node = FUSE_ROOT_NODE;
	const char *p = path, *end;
	__u64 before;
	bool found;
	size_t len;

	if (b->mode == BPFUSE_MODE_COUNT)
		return -EOPNOTSUPP;
	before = s->invalidations[BPFUSE_CAUSE_USER];
	name[0] = '\0';
	for (;;) {
		p += strspn(p, "/");
		if (!*p)
			break;
		end = strchrnul(p, '/');
		len = end - p;
		if (len > BPFUSE_NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, p, len);
		name[len] = '\0';
		parent = node;
		node = bpfuse_lookup_peek(b, parent, name, &found);
		if (!found)
			return 0;
		p = end;
		if (p[strspn(p, "/")] && !node)
			return 0; /* a negative entry on the way: nothing below it */
	}
	if (parent)
		bpfuse_entry_inval(b, parent, name, BPFUSE_CAUSE_USER);
	if (node) {
		bpfuse_attr_inval(b, node, BPFUSE_CAUSE_USER);
		bpfuse_xattr_inval(b, node, NULL, BPFUSE_CAUSE_USER);
	}
	return s->invalidations[BPFUSE_CAUSE_USER] - before;
}

/* ---- listing ------------------------------------------------------------- */

/*
 * The mountpoint of a mount id, from /proc/self/mountinfo. The kernel
 * writes a space, tab, newline and backslash in it as \ooo (mangle() in
 * fs/proc_namespace.c): decoded here, so that callers get the path itself
 * and not a string that merely looks like one. getline(): an escaped path
 * can be four times PATH_MAX.
 */
static bool bpfuse_mount_path(const char *id, char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	size_t cap = 0, n = strlen(id), o = 0;
	bool found = false;
	char *line = NULL, *p;
	int field;

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0)
		found = !strncmp(line, id, n) && line[n] == ' ';
	fclose(f);
	/* id parent major:minor root mountpoint ... */
	for (p = line, field = 0; found && field < 4; field++) {
		p = strchr(p, ' ');
		found = p && *++p;
	}
	for (; found && *p && *p != ' ' && *p != '\n'; p++) {
		if (o + 1 == size) {
			found = false;
			break;
		}
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			buf[o++] = (p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0');
			p += 3;
		} else {
			buf[o++] = *p;
		}
	}
	if (found)
		buf[o] = '\0';
	free(line);
	return found;
}

/* Every pinned mount, dead ones included. -EACCES: not root. */
int bpfuse_view_list(int (*cb)(const struct bpfuse_mount_info *, void *), void *ctx)
{
	static const char *const maps[] = { "lookup", "attr", "xattr", "stats", "mount_cfg" };
	struct bpfuse_mount_info mi;
	struct bpfuse_stats st;
	char dir[64];
	struct dirent *de;
	__u32 zero = 0;
	int fd, ret = 0;
	size_t i;
	DIR *dp;

	dp = opendir(BPFUSE_PIN_ROOT);
	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	while (!ret && (de = readdir(dp))) {
		if (strspn(de->d_name, "0123456789") != strlen(de->d_name) ||
		    strlen(de->d_name) > 20)
			continue;
		snprintf(dir, sizeof(dir), "%s/%.20s", BPFUSE_PIN_ROOT, de->d_name);
		fd = bpfuse_map_open(dir, "stats");
		if (fd < 0)
			continue;
		if (bpf_map_lookup_elem(fd, &zero, &st)) {
			close(fd);
			continue;
		}
		close(fd);
		memset(&mi, 0, sizeof(mi));
		mi.mnt_id = strtoull(de->d_name, NULL, 10);
		mi.pid = st.daemon_pid;
		mi.mode = st.mode;
		mi.alive = bpfuse_alive(st.daemon_pid);
		if (!bpfuse_mount_path(de->d_name, mi.mountpoint, sizeof(mi.mountpoint)))
			snprintf(mi.mountpoint, sizeof(mi.mountpoint), "(not mounted)");
		for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
			fd = bpfuse_map_open(dir, maps[i]);
			if (fd < 0)
				continue;
			mi.memory_bytes += bpfuse_map_memory(fd);
			close(fd);
		}
		ret = cb(&mi, ctx);
	}
	closedir(dp);
	return ret;
}
