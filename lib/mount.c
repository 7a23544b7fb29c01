// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libbpfuse: a mount's maps and programs. Loads them, pins the maps under
 * BPFUSE_PIN_ROOT/<mount id>/ so that tools (and, in ext mode, the kernel
 * extension) see the same entries, attaches the extension where the
 * kernel has the hook, and removes it all at close.
 */
#include "config.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/types.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "bpfuse_attach.h"
#include "bpfuse_i.h"
#include "bpfuse.skel.h"
#include "ext.skel.h"

/* The struct_ops type the FUSE BPF hook patch adds (kernel/, issue 4). */
#define BPFUSE_HOOK_BTF_TYPE "bpfuse_ops"

int bpfuse_pin_dir(uint64_t mnt_id, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%llu", BPFUSE_PIN_ROOT, (unsigned long long)mnt_id);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The mount's id and its st_dev as the kernel encodes it (MKDEV). */
int bpfuse_mount_ids(const char *mountpoint, uint64_t *mnt_id, uint32_t *kdev)
{
	struct statx stx;

	/* DONT_SYNC: the daemon may not serve yet; ask the VFS only */
	if (statx(AT_FDCWD, mountpoint, AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) == -1)
		return -errno;
	if (!(stx.stx_mask & STATX_MNT_ID))
		return -EOPNOTSUPP;
	*mnt_id = stx.stx_mnt_id;
	*kdev = (stx.stx_dev_major << 20) | stx.stx_dev_minor;
	return 0;
}

struct bpfuse *bpfuse_alloc(void)
{
	struct bpfuse *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->kref_lock, NULL);
	pthread_mutex_init(&b->kslot_sync_lock, NULL);
	for (int i = 0; i < BPFUSE_CACHE_MAX; i++)
		b->fds[i] = -1;
	b->cfg_fd = -1;
	b->khits_fd = -1;
	b->backing_fd = -1;
	return b;
}

/* Remove a pin directory and what it holds. */
int bpfuse_unpin_dir(const char *dir)
{
	struct dirent *de;
	DIR *dp = opendir(dir);

	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dp)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(dp), de->d_name, 0);
	closedir(dp);
	return rmdir(dir) == -1 ? -errno : 0;
}

/* The pid of the live process pinned in dir as the counter of its mount, or 0. */
pid_t bpfuse_pinned_counter(const char *dir)
{
	struct bpfuse_stats st;
	char path[128];
	__u32 zero = 0;
	int fd, err;

	snprintf(path, sizeof(path), "%s/stats", dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	err = bpf_map_lookup_elem(fd, &zero, &st);
	close(fd);
	return !err && st.mode == BPFUSE_MODE_COUNT && bpfuse_alive(st.daemon_pid)
		       ? (pid_t)st.daemon_pid
		       : 0;
}

static void bpfuse_stop_counter(const char *dir)
{
	pid_t pid = bpfuse_pinned_counter(dir);

	if (pid)
		kill(pid, SIGTERM);
}

/* Pin the statistics, the configuration and, with_caches, the three caches. */
int bpfuse_pin(struct bpfuse *b, bool with_caches)
{
	struct bpf_map *maps[] = { b->skel->maps.stats, b->skel->maps.khits,
				   b->skel->maps.mount_cfg, b->skel->maps.lookup,
				   b->skel->maps.attr, b->skel->maps.xattr };
	size_t i, n = with_caches ? sizeof(maps) / sizeof(maps[0]) : 3;
	char path[128];
	int err;

	if (mkdir(BPFUSE_PIN_ROOT, 0700) == -1 && errno != EEXIST)
		return -errno;
	/*
	 * A directory for a fresh mount id can only be a crashed daemon's, or
	 * a counter's that bpfusectl started before this daemon pinned: that
	 * one stops (and leaves what is pinned here alone, bpfuse_counter_*).
	 */
	if (!b->counter) {
		bpfuse_stop_counter(b->pin_dir);
		bpfuse_unpin_dir(b->pin_dir);
	}
	/* a counter never takes a directory: EEXIST, the daemon's */
	if (mkdir(b->pin_dir, 0700) == -1)
		return -errno;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", b->pin_dir, bpf_map__name(maps[i]));
		err = bpf_map__pin(maps[i], path);
		if (err) {
			bpfuse_unpin_dir(b->pin_dir);
			return err;
		}
	}
	b->owner = true;
	return 0;
}

static bool bpfuse_hook_present(void)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	bool found;

	if (!vmlinux)
		return false;
	found = btf__find_by_name_kind(vmlinux, BPFUSE_HOOK_BTF_TYPE, BTF_KIND_STRUCT) > 0;
	btf__free(vmlinux);
	return found;
}

/*
 * Load the ext-mode extension on the maps of this mount and attach it to
 * the connection of fuse_dev_fd. Its struct_ops map is a link map: setting
 * its value registers nothing; the connection holds it until it ends.
 */
static int bpfuse_load_ext(struct bpfuse *b, int fuse_dev_fd)
{
	struct ext_bpf *ext = ext_bpf__open();
	struct bpf_map *map, *ours;
	struct fuse_bpfuse_attach attach;
	__u32 zero = 0;
	int err;

	if (!ext)
		return -errno;
	err = bpf_map__set_map_flags(ext->maps.bpfuse_ext, BPFUSE_MAP_F_LINK);
	/* the mount's maps (maps.bpf.h), by name; the extension's own scratch stays its own */
	bpf_object__for_each_map(map, ext->obj) {
		ours = bpf_map__is_internal(map) ? NULL
			: bpf_object__find_map_by_name(b->skel->obj, bpf_map__name(map));
		if (!err && ours)
			err = bpf_map__reuse_fd(map, bpf_map__fd(ours));
	}
	if (!err)
		err = ext_bpf__load(ext);
	if (!err && b->kernel_fills) {
		/* before the first node: each gets its "kslot" entry */
		b->cfg.flags |= BPFUSE_CFG_KFILL;
		err = bpf_map_update_elem(b->cfg_fd, &zero, &b->cfg, BPF_ANY) ? -errno : 0;
	}
	if (!err)
		err = bpfuse_kref_init(b, bpf_map__fd(b->skel->maps.krefs),
				       bpf_map__fd(b->skel->maps.kowner),
				       bpf_map__fd(b->skel->maps.kslot));
	if (err)
		goto out_destroy;
	/* libbpf sets the map's value (the programs), then the connection takes it */
	b->ext_link = bpf_map__attach_struct_ops(ext->maps.bpfuse_ext);
	if (!b->ext_link) {
		err = -errno;
		goto out_destroy;
	}
	attach.map_fd = bpf_map__fd(ext->maps.bpfuse_ext);
	attach.flags = b->cfg.flags & BPFUSE_CFG_WATCHING ? FUSE_BPFUSE_NOSEC : 0;
	if (ioctl(fuse_dev_fd, FUSE_DEV_IOC_BPFUSE_ATTACH, &attach) == -1) {
		err = -errno;
		bpf_link__destroy(b->ext_link);
		b->ext_link = NULL;
		goto out_destroy;
	}
	b->ext = ext;
	b->backing_fd = bpf_map__fd(b->skel->maps.backing);
	return 0;

out_destroy:
	if (b->cfg.flags & BPFUSE_CFG_KFILL) {
		b->cfg.flags &= ~BPFUSE_CFG_KFILL;
		bpf_map_update_elem(b->cfg_fd, &zero, &b->cfg, BPF_ANY);
	}
	ext_bpf__destroy(ext);
	return err;
}

/*
 * Attach the extension to the daemon's connection (fuse_dev_fd: its
 * /dev/fuse fd, e.g. fuse_session_fd()). From then on the kernel answers
 * hits itself: ext mode. -EOPNOTSUPP where the kernel has no hook.
 */
int bpfuse_mount_attach(struct bpfuse *b, int fuse_dev_fd)
{
	int err;

	if (!b || !b->hook || b->ext)
		return b && b->ext ? -EBUSY : -EOPNOTSUPP;
	err = bpfuse_load_ext(b, fuse_dev_fd);
	if (err)
		return err;
	b->mode = BPFUSE_MODE_EXT;
	b->stats->mode = BPFUSE_MODE_EXT;
	return 0;
}

/*
 * Whether the extension fills the caches from the daemon's replies (asked
 * for with opts.kernel_fills, in ext mode): then the daemon's own fills
 * after a LOOKUP, a GETATTR and a GETXATTR with a buffer are redundant.
 */
bool bpfuse_mount_kernel_fills(const struct bpfuse *b)
{
	return b && b->ext && (b->cfg.flags & BPFUSE_CFG_KFILL);
}

void bpfuse_detach(struct bpfuse *b)
{
	for (size_t i = 0; i < sizeof(b->links) / sizeof(b->links[0]); i++) {
		bpf_link__destroy(b->links[i]);
		b->links[i] = NULL;
	}
}

/* Attach prog at a kprobe (or kretprobe) on func, keeping the link. */
static int bpfuse_attach_kprobe(struct bpfuse *b, int slot, struct bpf_program *prog, bool ret,
				const char *func)
{
	b->links[slot] = bpf_program__attach_kprobe(prog, ret, func);
	return b->links[slot] ? 0 : -errno;
}

/*
 * Open and load the object with one way of counting upcalls (or none),
 * and attach it. The other programs are left out of the load.
 */
static int bpfuse_try_load(struct bpfuse *b, enum bpfuse_probe probe, const char *func)
{
	struct bpfuse_bpf *skel;
	int err;

	skel = bpfuse_bpf__open();
	if (!skel)
		return -errno;
	b->skel = skel;
	skel->rodata->cfg_dev = b->kdev;
	skel->rodata->cfg_idmap_arg = func && func[0] == '_';
	bpf_program__set_autoload(skel->progs.fuse_request_send, probe == BPFUSE_PROBE_TRACEPOINT);
	bpf_program__set_autoload(skel->progs.fuse_request_end, probe == BPFUSE_PROBE_TRACEPOINT);
	bpf_program__set_autoload(skel->progs.simple_request_enter, probe == BPFUSE_PROBE_KPROBE);
	bpf_program__set_autoload(skel->progs.request_end, probe == BPFUSE_PROBE_KPROBE);
	bpf_program__set_autoload(skel->progs.simple_request_exit, probe == BPFUSE_PROBE_KPROBE);
	if (b->counter) {
		/* the caches stay empty: as small as the kernel allows */
		bpf_map__set_max_entries(skel->maps.krefs, 1);
		bpf_map__set_max_entries(skel->maps.kowner, 1);
		bpf_map__set_max_entries(skel->maps.kslot, 1);
		bpf_map__set_max_entries(skel->maps.backing, 1);
	}
	if (b->entries) {
		bpf_map__set_max_entries(skel->maps.lookup, b->entries);
		bpf_map__set_max_entries(skel->maps.attr, b->entries);
		bpf_map__set_max_entries(skel->maps.xattr, BPFUSE_XATTR_ENTRIES_OF(b->entries));
	}
	err = bpfuse_bpf__load(skel);
	if (!err && probe == BPFUSE_PROBE_TRACEPOINT) {
		b->links[0] = bpf_program__attach(skel->progs.fuse_request_send);
		b->links[1] =
			b->links[0] ? bpf_program__attach(skel->progs.fuse_request_end) : NULL;
		err = b->links[1] ? 0 : -errno;
	} else if (!err && probe == BPFUSE_PROBE_KPROBE) {
		err = bpfuse_attach_kprobe(b, 0, skel->progs.simple_request_enter, false, func);
		if (!err)
			err = bpfuse_attach_kprobe(b, 1, skel->progs.simple_request_exit, true,
						   func);
		if (!err)
			err = bpfuse_attach_kprobe(b, 2, skel->progs.request_end, false,
						   "fuse_request_end");
	}
	if (err) {
		bpfuse_detach(b);
		bpfuse_bpf__destroy(skel);
		b->skel = NULL;
	}
	return err;
}

static int bpfuse_silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

/*
 * Load the object, counting upcalls the best way this kernel allows, probed
 * here rather than assumed from its version: the FUSE tracepoints, else
 * kprobes on fuse_request_end and whichever request function exists (for
 * the latency of synchronous requests), else not at all (the maps still
 * load; upcall_err says why). BPFUSE_UPCALL_PROBE=tracepoint or kprobe
 * restricts the choice, for tests; =none loads none of them, to measure
 * what they cost (upcall_err ECANCELED). libbpf's complaints about the probes
 * that fail are expected: its print callback is silenced meanwhile.
 */
int bpfuse_load(struct bpfuse *b)
{
	static const char *const funcs[] = { "__fuse_simple_request", "fuse_simple_request" };
	const char *only = getenv("BPFUSE_UPCALL_PROBE");
	libbpf_print_fn_t old = libbpf_set_print(bpfuse_silent);
	int err = -ENOENT;
	size_t i;

	if (only && !*only)
		only = NULL;
	if (only && !strcmp(only, "none")) {
		err = -ECANCELED;
		goto none;
	}
	if (!only || strcmp(only, "kprobe")) {
		err = bpfuse_try_load(b, BPFUSE_PROBE_TRACEPOINT, NULL);
		if (!err) {
			b->probe = BPFUSE_PROBE_TRACEPOINT;
			goto out;
		}
	}
	for (i = 0; (!only || strcmp(only, "tracepoint")) && i < 2; i++) {
		err = bpfuse_try_load(b, BPFUSE_PROBE_KPROBE, funcs[i]);
		if (!err) {
			b->probe = BPFUSE_PROBE_KPROBE;
			goto out;
		}
	}
none:
	b->upcall_err = err;
	err = bpfuse_try_load(b, BPFUSE_PROBE_NONE, NULL);
out:
	libbpf_set_print(old);
	return err;
}

/* Map the "stats" value (fd: the map) into b. */
int bpfuse_map_stats(struct bpfuse *b, int fd)
{
	void *mem;

	b->stats_len = (sizeof(struct bpfuse_stats) + 4095) & ~4095UL;
	mem = mmap(NULL, b->stats_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return -errno;
	b->stats = mem;
	return 0;
}

static struct bpfuse_valid bpfuse_valid(uint64_t ns)
{
	return (struct bpfuse_valid){ .sec = ns / 1000000000, .nsec = ns % 1000000000 };
}

/* What the mount is set up with, for the kernel extension and tools. */
static int bpfuse_write_config(struct bpfuse *b, const struct bpfuse_opts *o)
{
	__u32 zero = 0;

	b->cfg = (struct bpfuse_config){
		.entry_timeout_ns = o->entry_timeout_ns,
		.attr_timeout_ns = o->attr_timeout_ns,
		.negative_timeout_ns = o->negative_timeout_ns,
		.map_timeout_ns = b->lifetime_ns,
		.map_negative_timeout_ns = b->negative_lifetime_ns,
		.flags = (b->caching ? BPFUSE_CFG_CACHING : 0) |
			 (o->watched ? BPFUSE_CFG_WATCHING : 0) | (o->atime ? BPFUSE_CFG_ATIME : 0),
		.entry_valid = bpfuse_valid(o->entry_timeout_ns),
		.attr_valid = bpfuse_valid(o->attr_timeout_ns),
		.negative_valid = bpfuse_valid(o->negative_timeout_ns),
	};
	return bpf_map_update_elem(b->cfg_fd, &zero, &b->cfg, BPF_ANY) ? -errno : 0;
}

/*
 * After mounting: create the mount's maps, load the statistics programs
 * (and the extension where the kernel has the hook: bpfuse_mount_attach()
 * starts ext mode) and pin the maps, root only. The BPF file system must
 * be mounted at /sys/fs/bpf. opts may be NULL: defaults.
 */
int bpfuse_mount_open(const char *mountpoint, const struct bpfuse_opts *opts,
		      struct bpfuse **out)
{
	struct bpfuse_opts o = { 0 };
	struct statfs sfs;
	struct bpfuse *b;
	int err;

	*out = NULL;
	if (opts)
		memcpy(&o, opts, opts->sz < sizeof(o) ? opts->sz : sizeof(o));
	if (statfs("/sys/fs/bpf", &sfs) == -1 || sfs.f_type != BPF_FS_MAGIC)
		return -ENOMEDIUM;
	b = bpfuse_alloc();
	if (!b)
		return -ENOMEM;
	err = bpfuse_mount_ids(mountpoint, &b->mnt_id, &b->kdev);
	if (err)
		goto out_free;
	b->caching = !o.no_cache;
	b->lifetime_ns = o.lifetime_ns;
	b->negative_lifetime_ns = o.negative_lifetime_ns ? o.negative_lifetime_ns : o.lifetime_ns;
	b->entries = o.entries;
	b->kernel_fills = o.kernel_fills && b->caching;
	err = bpfuse_pin_dir(b->mnt_id, b->pin_dir, sizeof(b->pin_dir));
	if (err)
		goto out_free;
	err = bpfuse_load(b);
	if (err)
		goto out_free;
	err = bpfuse_map_stats(b, bpf_map__fd(b->skel->maps.stats));
	if (err)
		goto out_free;
	/* ext mode starts when bpfuse_mount_attach() succeeds */
	b->mode = BPFUSE_MODE_STOCK;
	b->hook = bpfuse_hook_present();
	b->stats->mode = b->mode;
	b->stats->upcall_err = b->upcall_err;
	b->stats->upcall_probe = b->probe;
	b->stats->daemon_pid = getpid();
	b->stats->dev = b->kdev;
	b->fds[BPFUSE_CACHE_LOOKUP] = bpf_map__fd(b->skel->maps.lookup);
	b->fds[BPFUSE_CACHE_ATTR] = bpf_map__fd(b->skel->maps.attr);
	b->fds[BPFUSE_CACHE_XATTR] = bpf_map__fd(b->skel->maps.xattr);
	b->cfg_fd = bpf_map__fd(b->skel->maps.mount_cfg);
	err = bpfuse_write_config(b, &o);
	if (!err)
		err = bpfuse_pin(b, true);
	if (err)
		goto out_free;
	*out = b;
	return 0;

out_free:
	bpfuse_mount_close(b);
	return err;
}

void bpfuse_mount_close(struct bpfuse *b)
{
	if (!b)
		return;
	if (b->owner)
		bpfuse_unpin_dir(b->pin_dir);
	if (b->stats)
		munmap(b->stats, b->stats_len);
	free(b->snap);
	if (b->krefs)
		munmap(b->krefs, b->krefs_len);
	if (b->kowner)
		munmap(b->kowner, b->krefs_len);
	free(b->kref_free);
	bpfuse_detach(b);
	/* unregisters; a connection it is attached to keeps it until freed */
	bpf_link__destroy(b->ext_link);
	ext_bpf__destroy(b->ext);
	if (b->skel) {
		bpfuse_bpf__destroy(b->skel);
	} else {
		/* a view: the fds are its own */
		for (int i = 0; i < BPFUSE_CACHE_MAX; i++)
			if (b->fds[i] >= 0)
				close(b->fds[i]);
		if (b->cfg_fd >= 0)
			close(b->cfg_fd);
		if (b->khits_fd >= 0)
			close(b->khits_fd);
	}
	pthread_mutex_destroy(&b->kref_lock);
	pthread_mutex_destroy(&b->kslot_sync_lock);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* The daemon's pid, once it has forked into the background. */
void bpfuse_mount_set_pid(struct bpfuse *b, pid_t pid)
{
	if (b)
		b->stats->daemon_pid = pid;
}

void bpfuse_mount_set_transport(struct bpfuse *b, enum bpfuse_transport transport)
{
	if (b)
		__atomic_store_n(&b->stats->transport, transport, __ATOMIC_RELAXED);
}

bool bpfuse_mount_is_ext(const struct bpfuse *b)
{
	return b && b->mode == BPFUSE_MODE_EXT;
}

/* 0, or why requests reaching the daemon are not counted. */
int bpfuse_mount_upcall_status(const struct bpfuse *b)
{
	return b ? b->upcall_err : -ENODEV;
}

/* ---- stale pins ---------------------------------------------------------- */

/* Is pid alive? (EPERM: alive, someone else's) */
bool bpfuse_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* Does a mount with this id still exist? */
bool bpfuse_mount_exists(const char *id)
{
	char line[4096];
	size_t n = strlen(id);
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return true; /* cannot tell: keep it */
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, id, n) && line[n] == ' ';
	fclose(f);
	return found;
}

/*
 * Remove the pin directories of daemons (and counters) that are gone:
 * their maps would otherwise outlive them. Returns how many went.
 */
int bpfuse_mount_sweep(void)
{
	struct bpfuse_stats st;
	char dir[64], path[128];
	struct dirent *de;
	int fd, n = 0;
	__u32 zero = 0;
	bool stale;
	DIR *dp;

	dp = opendir(BPFUSE_PIN_ROOT);
	if (!dp)
		return 0;
	while ((de = readdir(dp))) {
		/* mount ids are numbers: anything else is not ours */
		if (strspn(de->d_name, "0123456789") != strlen(de->d_name) ||
		    strlen(de->d_name) > 20)
			continue;
		snprintf(dir, sizeof(dir), "%s/%.20s", BPFUSE_PIN_ROOT, de->d_name);
		snprintf(path, sizeof(path), "%s/stats", dir);
		fd = bpf_obj_get(path);
		stale = fd < 0 || bpf_map_lookup_elem(fd, &zero, &st) ||
			/* both: a daemon between its fork and set_pid() looks dead */
			(!bpfuse_alive(st.daemon_pid) &&
			 /* a counter's programs died with it */
			 (st.mode == BPFUSE_MODE_COUNT || !bpfuse_mount_exists(de->d_name)));
		if (fd >= 0)
			close(fd);
		if (stale && bpfuse_unpin_dir(dir) == 0)
			n++;
	}
	closedir(dp);
	return n;
}
