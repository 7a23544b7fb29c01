// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libbpfuse: per-mount BPF maps as a FUSE daemon's cache, pinned so that
 * bpfusectl (and, in ext mode, the kernel extension) see the same entries.
 */
#include "config.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "bpfuse.h"
#include "bpfuse.skel.h"
#include "ext.skel.h"

/* kernel/0001-*.patch: attach a struct_ops map (its fd) to a connection */
#define FUSE_DEV_IOC_BPFUSE_ATTACH _IOW(229, 100, uint32_t)

/* The struct_ops type the FUSE BPF hook patch adds (kernel/, issue 4). */
#define BPFUSE_HOOK_BTF_TYPE "bpfuse_ops"

struct bpfuse {
	struct bpfuse_bpf *skel;
	struct bpfuse_stats *stats; /* the "stats" map, mapped */
	size_t stats_len;
	int lookup_fd, attr_fd, xattr_fd;
	uint64_t mnt_id;
	uint64_t timeout_ns; /* entry lifetime; 0: until invalidated */
	uint64_t negative_timeout_ns; /* a negative entry's, once configured; else timeout_ns */
	bool caching; /* false: statistics only */
	uint32_t entries; /* lookup and attr capacity; 0: the built-in sizes */
	enum bpfuse_mode mode;
	enum bpfuse_probe probe; /* how upcalls are counted */
	struct bpf_link *links[3]; /* the counting programs, attached */
	struct ext_bpf *ext; /* the ext-mode extension, registered; NULL in stock mode */
	struct bpf_link *ext_link;
	int ext_err; /* why the extension did not load, where the hook exists */
	int upcall_err;
	/*
	 * Puts and invalidations are serialised, and every invalidation
	 * moves the epoch, so a fill that started before an invalidation
	 * cannot land after it.
	 */
	pthread_mutex_t lock;
	uint64_t epoch; /* protected by lock */
	char pin_dir[64];
	/*
	 * Ext mode: the "krefs" words, mapped, and the free slots, a FIFO
	 * so that a slot is reused as late as possible.
	 */
	uint64_t *krefs;
	size_t krefs_len;
	pthread_mutex_t kref_lock;
	uint32_t *kref_free; /* ring of free slots; protected by kref_lock */
	uint32_t kref_head, kref_count; /* protected by kref_lock */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* When an entry filled now stops being served; negative: "no such name/attribute". */
static uint64_t expiry(const struct bpfuse *b, bool negative)
{
	uint64_t t = negative ? b->negative_timeout_ns : b->timeout_ns;

	return t ? now_ns() + t : 0;
}

static bool expired(uint64_t expires_ns)
{
	return expires_ns && now_ns() >= expires_ns;
}

int bpfuse_pin_dir(uint64_t mnt_id, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%llu", BPFUSE_PIN_ROOT, (unsigned long long)mnt_id);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* ---- attributes ---------------------------------------------------------- */

void bpfuse_attr_from_stat(struct bpfuse_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = st->st_size;
	a->blocks = st->st_blocks;
	a->atime = st->st_atim.tv_sec;
	a->mtime = st->st_mtim.tv_sec;
	a->ctime = st->st_ctim.tv_sec;
	a->atimensec = st->st_atim.tv_nsec;
	a->mtimensec = st->st_mtim.tv_nsec;
	a->ctimensec = st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = st->st_rdev;
	a->blksize = st->st_blksize;
}

void bpfuse_attr_to_stat(struct stat *st, const struct bpfuse_attr *a)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_size = a->size;
	st->st_blocks = a->blocks;
	st->st_atim.tv_sec = a->atime;
	st->st_mtim.tv_sec = a->mtime;
	st->st_ctim.tv_sec = a->ctime;
	st->st_atim.tv_nsec = a->atimensec;
	st->st_mtim.tv_nsec = a->mtimensec;
	st->st_ctim.tv_nsec = a->ctimensec;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_blksize = a->blksize;
}

/* ---- set-up -------------------------------------------------------------- */

static int bpfuse_mount_bpffs(void)
{
	struct statfs sfs;

	if (statfs("/sys/fs/bpf", &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") == -1)
		return -errno;
	return 0;
}

/* Remove a pin directory and what it holds. */
static int bpfuse_unpin_dir(const char *dir)
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

static int bpfuse_pin(struct bpfuse *b)
{
	struct bpf_map *maps[] = { b->skel->maps.lookup, b->skel->maps.attr, b->skel->maps.xattr,
				   b->skel->maps.stats, b->skel->maps.mount_cfg };
	char path[128];
	size_t i;
	int err;

	if (mkdir(BPFUSE_PIN_ROOT, 0700) == -1 && errno != EEXIST)
		return -errno;
	/* A directory for a fresh mount id can only be a crashed daemon's. */
	bpfuse_unpin_dir(b->pin_dir);
	if (mkdir(b->pin_dir, 0700) == -1)
		return -errno;
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", b->pin_dir, bpf_map__name(maps[i]));
		err = bpf_map__pin(maps[i], path);
		if (err) {
			bpfuse_unpin_dir(b->pin_dir);
			return err;
		}
	}
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

static int bpfuse_kref_init(struct bpfuse *b);

/*
 * Load the ext-mode extension on the maps of this mount and register it.
 * Only where the kernel has the hook.
 */
static int bpfuse_load_ext(struct bpfuse *b)
{
	struct ext_bpf *ext = ext_bpf__open();
	int err;

	if (!ext)
		return -errno;
	err = bpf_map__reuse_fd(ext->maps.lookup, bpf_map__fd(b->skel->maps.lookup));
	if (!err)
		err = bpf_map__reuse_fd(ext->maps.attr, bpf_map__fd(b->skel->maps.attr));
	if (!err)
		err = bpf_map__reuse_fd(ext->maps.xattr, bpf_map__fd(b->skel->maps.xattr));
	if (!err)
		err = bpf_map__reuse_fd(ext->maps.stats, bpf_map__fd(b->skel->maps.stats));
	if (!err)
		err = bpf_map__reuse_fd(ext->maps.mount_cfg, bpf_map__fd(b->skel->maps.mount_cfg));
	if (!err)
		err = bpf_map__reuse_fd(ext->maps.krefs, bpf_map__fd(b->skel->maps.krefs));
	if (!err)
		err = ext_bpf__load(ext);
	if (!err)
		err = bpfuse_kref_init(b);
	if (err)
		goto out_destroy;
	b->ext_link = bpf_map__attach_struct_ops(ext->maps.bpfuse_ext);
	if (!b->ext_link) {
		err = -errno;
		goto out_destroy;
	}
	b->ext = ext;
	return 0;

out_destroy:
	ext_bpf__destroy(ext);
	return err;
}

/*
 * Attach the extension to the daemon's connection (fuse_dev_fd: its
 * /dev/fuse fd, e.g. fuse_session_fd()). From then on the kernel answers
 * hits itself: ext mode. -EOPNOTSUPP where the kernel has no hook.
 */
int bpfuse_attach(struct bpfuse *b, int fuse_dev_fd)
{
	uint32_t fd;

	if (!b || !b->ext)
		return b && b->ext_err ? b->ext_err : -EOPNOTSUPP;
	fd = bpf_map__fd(b->ext->maps.bpfuse_ext);
	if (ioctl(fuse_dev_fd, FUSE_DEV_IOC_BPFUSE_ATTACH, &fd) == -1)
		return -errno;
	b->mode = BPFUSE_MODE_EXT;
	b->stats->mode = BPFUSE_MODE_EXT;
	return 0;
}

static void bpfuse_detach(struct bpfuse *b)
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
static int bpfuse_try_load(struct bpfuse *b, uint32_t kdev, enum bpfuse_probe probe,
			   const char *func)
{
	struct bpfuse_bpf *skel;
	int err;

	skel = bpfuse_bpf__open();
	if (!skel)
		return -errno;
	b->skel = skel;
	skel->rodata->cfg_dev = kdev;
	skel->rodata->cfg_idmap_arg = func && func[0] == '_';
	bpf_program__set_autoload(skel->progs.fuse_request_send, probe == BPFUSE_PROBE_TRACEPOINT);
	bpf_program__set_autoload(skel->progs.fuse_request_end, probe == BPFUSE_PROBE_TRACEPOINT);
	bpf_program__set_autoload(skel->progs.simple_request_enter, probe == BPFUSE_PROBE_KPROBE);
	bpf_program__set_autoload(skel->progs.request_end, probe == BPFUSE_PROBE_KPROBE);
	bpf_program__set_autoload(skel->progs.simple_request_exit, probe == BPFUSE_PROBE_KPROBE);
	if (b->entries) {
		/* xattrs: a quarter as many, as the built-in sizes have it */
		bpf_map__set_max_entries(skel->maps.lookup, b->entries);
		bpf_map__set_max_entries(skel->maps.attr, b->entries);
		bpf_map__set_max_entries(skel->maps.xattr,
					 b->entries / 4 > 1024 ? b->entries / 4 : 1024);
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

/*
 * Load the object, counting upcalls the best way this kernel allows, probed
 * here rather than assumed from its version: the FUSE tracepoints, else
 * kprobes on fuse_request_end and whichever request function exists (for
 * the latency of synchronous requests), else not at all (the
 * maps still load; upcall_err says why). BPFUSE_UPCALL_PROBE=tracepoint or
 * kprobe restricts the choice, for tests.
 */
static int bpfuse_load(struct bpfuse *b, uint32_t kdev)
{
	static const char *const funcs[] = { "__fuse_simple_request", "fuse_simple_request" };
	const char *only = getenv("BPFUSE_UPCALL_PROBE");
	int err = -ENOENT;
	size_t i;

	if (!only || strcmp(only, "kprobe")) {
		err = bpfuse_try_load(b, kdev, BPFUSE_PROBE_TRACEPOINT, NULL);
		if (!err) {
			b->probe = BPFUSE_PROBE_TRACEPOINT;
			return 0;
		}
	}
	for (i = 0; (!only || strcmp(only, "tracepoint")) && i < 2; i++) {
		err = bpfuse_try_load(b, kdev, BPFUSE_PROBE_KPROBE, funcs[i]);
		if (!err) {
			b->probe = BPFUSE_PROBE_KPROBE;
			return 0;
		}
	}
	b->upcall_err = err;
	return bpfuse_try_load(b, kdev, BPFUSE_PROBE_NONE, NULL);
}

static int bpfuse_silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

int bpfuse_open(const char *mountpoint, double timeout, uint32_t entries, struct bpfuse **out)
{
	struct statx stx;
	struct bpfuse *b;
	uint32_t kdev;
	void *mem;
	int err;

	*out = NULL;
	/* DONT_SYNC: the daemon may not serve yet; ask the VFS only */
	if (statx(AT_FDCWD, mountpoint, AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) == -1)
		return -errno;
	if (!(stx.stx_mask & STATX_MNT_ID))
		return -EOPNOTSUPP;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->kref_lock, NULL);
	b->mnt_id = stx.stx_mnt_id;
	b->caching = timeout >= 0;
	b->timeout_ns = timeout > 0 ? (uint64_t)(timeout * 1e9) : 0;
	b->negative_timeout_ns = b->timeout_ns;
	b->entries = entries;
	/* the kernel's dev_t encoding: MKDEV(major, minor) */
	kdev = (stx.stx_dev_major << 20) | stx.stx_dev_minor;
	err = bpfuse_pin_dir(b->mnt_id, b->pin_dir, sizeof(b->pin_dir));
	if (err)
		goto out_free;
	err = bpfuse_mount_bpffs();
	if (err)
		goto out_free;

	libbpf_set_print(bpfuse_silent);
	err = bpfuse_load(b, kdev);
	if (err)
		goto out_free;
	b->stats_len = (sizeof(struct bpfuse_stats) + 4095) & ~4095UL;
	mem = mmap(NULL, b->stats_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		   bpf_map__fd(b->skel->maps.stats), 0);
	if (mem == MAP_FAILED) {
		err = -errno;
		goto out_free;
	}
	b->stats = mem;
	/* ext mode starts when bpfuse_attach() succeeds */
	b->mode = BPFUSE_MODE_STOCK;
	if (bpfuse_hook_present())
		b->ext_err = bpfuse_load_ext(b);
	b->stats->mode = b->mode;
	b->stats->upcall_err = b->upcall_err;
	b->stats->upcall_probe = b->probe;
	b->stats->daemon_pid = getpid();
	b->stats->dev = kdev;
	b->lookup_fd = bpf_map__fd(b->skel->maps.lookup);
	b->attr_fd = bpf_map__fd(b->skel->maps.attr);
	b->xattr_fd = bpf_map__fd(b->skel->maps.xattr);
	err = bpfuse_pin(b);
	if (err)
		goto out_free;
	*out = b;
	return 0;

out_free:
	bpfuse_close(b);
	return err;
}

void bpfuse_close(struct bpfuse *b)
{
	if (!b)
		return;
	if (b->pin_dir[0] && b->stats)
		bpfuse_unpin_dir(b->pin_dir);
	if (b->stats)
		munmap(b->stats, b->stats_len);
	if (b->krefs)
		munmap(b->krefs, b->krefs_len);
	free(b->kref_free);
	bpfuse_detach(b);
	/* unregisters; a connection it is attached to keeps it until freed */
	bpf_link__destroy(b->ext_link);
	ext_bpf__destroy(b->ext);
	bpfuse_bpf__destroy(b->skel);
	pthread_mutex_destroy(&b->kref_lock);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* What the mount was set up with, for the kernel extension and bpfusectl. */
int bpfuse_configure(struct bpfuse *b, const struct bpfuse_config *cfg)
{
	__u32 zero = 0;

	if (!b)
		return -ENODEV;
	b->negative_timeout_ns = cfg->map_negative_timeout_ns;
	return bpf_map_update_elem(bpf_map__fd(b->skel->maps.mount_cfg), &zero, cfg, BPF_ANY)
		       ? -errno
		       : 0;
}

/* The daemon's pid, once it has forked into the background. */
void bpfuse_set_pid(struct bpfuse *b, pid_t pid)
{
	if (b)
		b->stats->daemon_pid = pid;
}

enum bpfuse_mode bpfuse_mode(const struct bpfuse *b)
{
	return b ? b->mode : BPFUSE_MODE_STOCK;
}

int bpfuse_upcall_status(const struct bpfuse *b)
{
	return b ? b->upcall_err : -ENODEV;
}

uint64_t bpfuse_mount_id(const struct bpfuse *b)
{
	return b ? b->mnt_id : 0;
}

void bpfuse_count(struct bpfuse *b, unsigned int opcode, enum bpfuse_source src)
{
	struct bpfuse_op_stats *op;

	if (!b || opcode >= BPFUSE_OPCODE_MAX)
		return;
	op = &b->stats->ops[opcode];
	__atomic_fetch_add(src == BPFUSE_HIT ? &op->daemon_hits : &op->backend_calls, 1,
			   __ATOMIC_RELAXED);
}

/* ---- ext mode: lookup references taken in the kernel --------------------- */

static int bpfuse_kref_init(struct bpfuse *b)
{
	uint32_t i;
	void *mem;

	b->krefs_len = BPFUSE_KREF_ENTRIES * sizeof(uint64_t);
	mem = mmap(NULL, b->krefs_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		   bpf_map__fd(b->skel->maps.krefs), 0);
	if (mem == MAP_FAILED)
		return -errno;
	b->kref_free = malloc(BPFUSE_KREF_ENTRIES * sizeof(uint32_t));
	if (!b->kref_free) {
		munmap(mem, b->krefs_len);
		return -ENOMEM;
	}
	for (i = 0; i < BPFUSE_KREF_ENTRIES; i++)
		b->kref_free[i] = i;
	b->kref_count = BPFUSE_KREF_ENTRIES;
	b->krefs = mem;
	return 0;
}

/* The node lives on: let the kernel take references again. */
void bpfuse_kref_resume(struct bpfuse *b, uint32_t slot)
{
	if (!b || !b->krefs || slot >= BPFUSE_KREF_ENTRIES)
		return;
	__atomic_fetch_or(&b->krefs[slot], BPFUSE_KREF_ALIVE, __ATOMIC_RELEASE);
}

/*
 * A slot for a node the daemon has just handed to the kernel, so that the
 * extension may answer its lookups; BPFUSE_KREF_NONE outside ext mode or
 * when every slot is taken (its lookups then all go to the daemon).
 */
uint32_t bpfuse_kref_alloc(struct bpfuse *b)
{
	uint32_t slot;

	if (!b || !b->krefs)
		return BPFUSE_KREF_NONE;
	pthread_mutex_lock(&b->kref_lock);
	if (!b->kref_count) {
		pthread_mutex_unlock(&b->kref_lock);
		return BPFUSE_KREF_NONE;
	}
	slot = b->kref_free[b->kref_head];
	b->kref_head = (b->kref_head + 1) % BPFUSE_KREF_ENTRIES;
	b->kref_count--;
	pthread_mutex_unlock(&b->kref_lock);
	/* a free slot holds its generation only (see _free()) */
	bpfuse_kref_resume(b, slot);
	return slot;
}

/*
 * Collect the references the kernel took on the slot's node and stop it
 * taking more: from here until bpfuse_kref_resume() or _free(), the
 * extension sends that node's lookups to the daemon.
 */
uint64_t bpfuse_kref_take(struct bpfuse *b, uint32_t slot)
{
	if (!b || !b->krefs || slot >= BPFUSE_KREF_ENTRIES)
		return 0;
	/* one atomic step: ALIVE and the references go, the generation stays */
	return __atomic_fetch_and(&b->krefs[slot], ~(BPFUSE_KREF_ALIVE | BPFUSE_KREF_REFS_MASK),
				  __ATOMIC_ACQ_REL) &
	       BPFUSE_KREF_REFS_MASK;
}

/*
 * The node is gone (after bpfuse_kref_take()): move the slot's generation,
 * so that lookup entries still naming it never match again, and queue it.
 */
void bpfuse_kref_free(struct bpfuse *b, uint32_t slot)
{
	uint64_t gen;

	if (!b || !b->krefs || slot >= BPFUSE_KREF_ENTRIES)
		return;
	gen = (__atomic_load_n(&b->krefs[slot], __ATOMIC_RELAXED) >> BPFUSE_KREF_GEN_SHIFT) + 1;
	__atomic_store_n(&b->krefs[slot], (gen & BPFUSE_KREF_GEN_MASK) << BPFUSE_KREF_GEN_SHIFT,
			 __ATOMIC_RELEASE);
	pthread_mutex_lock(&b->kref_lock);
	b->kref_free[(b->kref_head + b->kref_count) % BPFUSE_KREF_ENTRIES] = slot;
	b->kref_count++;
	pthread_mutex_unlock(&b->kref_lock);
}

/* ---- caches -------------------------------------------------------------- */

static int bpfuse_name_key(char *dst, __u32 *len, const char *name)
{
	size_t n = strlen(name);

	if (n > BPFUSE_NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(dst, name, n);
	*len = n;
	return 0;
}

uint64_t bpfuse_epoch(struct bpfuse *b)
{
	uint64_t e;

	if (!b)
		return 0;
	pthread_mutex_lock(&b->lock);
	e = b->epoch;
	pthread_mutex_unlock(&b->lock);
	return e;
}

/* Insert under the lock, unless an invalidation came since epoch. */
static int bpfuse_put(struct bpfuse *b, uint64_t epoch, enum bpfuse_cache cache, int fd,
		      const void *key, const void *val)
{
	int err = -ESTALE;

	if (!b->caching)
		return -ENODEV;
	pthread_mutex_lock(&b->lock);
	if (b->epoch == epoch) {
		/* only new keys count, so evictions = inserts - deletes - entries */
		err = bpf_map_update_elem(fd, key, val, BPF_NOEXIST) ? -errno : 0;
		if (!err)
			__atomic_fetch_add(&b->stats->inserts[cache], 1, __ATOMIC_RELAXED);
		else if (err == -EEXIST)
			err = bpf_map_update_elem(fd, key, val, BPF_EXIST) ? -errno : 0;
	}
	pthread_mutex_unlock(&b->lock);
	return err;
}

static void bpfuse_delete(struct bpfuse *b, enum bpfuse_cache cache, int fd, const void *key,
			  enum bpfuse_cause cause)
{
	if (!b->caching)
		return;
	pthread_mutex_lock(&b->lock);
	b->epoch++;
	if (bpf_map_delete_elem(fd, key) == 0) {
		__atomic_fetch_add(&b->stats->deletes[cache], 1, __ATOMIC_RELAXED);
		if (cause < BPFUSE_CAUSE_MAX)
			__atomic_fetch_add(&b->stats->invalidations[cause], 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&b->lock);
}

/* An expired entry is dropped where it is found. */
static void bpfuse_expire(struct bpfuse *b, enum bpfuse_cache cache, int fd, const void *key)
{
	if (bpf_map_delete_elem(fd, key) == 0)
		__atomic_fetch_add(&b->stats->deletes[cache], 1, __ATOMIC_RELAXED);
}

int bpfuse_lookup_get(struct bpfuse *b, uint64_t parent, const char *name, uint64_t *nodeid)
{
	struct bpfuse_lookup_key key = { .parent = parent };
	struct bpfuse_lookup_val val;

	if (!b || !b->caching || bpfuse_name_key(key.name, &key.len, name))
		return -ENOENT;
	if (bpf_map_lookup_elem(b->lookup_fd, &key, &val))
		return -ENOENT;
	if (expired(val.expires_ns)) {
		bpfuse_expire(b, BPFUSE_CACHE_LOOKUP, b->lookup_fd, &key);
		return -ENOENT;
	}
	*nodeid = val.nodeid;
	return 0;
}

int bpfuse_lookup_put(struct bpfuse *b, uint64_t epoch, uint64_t parent, const char *name,
		      uint64_t nodeid, uint32_t kref)
{
	struct bpfuse_lookup_key key = { .parent = parent };
	struct bpfuse_lookup_val val = { .nodeid = nodeid, .kref = BPFUSE_KREF_NONE };
	int err;

	if (!b)
		return -ENODEV;
	if (nodeid && kref < BPFUSE_KREF_ENTRIES && b->krefs) {
		/* the caller holds a reference on nodeid: the slot is still its own */
		val.kref = kref;
		val.kref_gen = (__atomic_load_n(&b->krefs[kref], __ATOMIC_ACQUIRE) >>
				BPFUSE_KREF_GEN_SHIFT) & BPFUSE_KREF_GEN_MASK;
	}
	err = bpfuse_name_key(key.name, &key.len, name);
	if (err)
		return err;
	val.expires_ns = expiry(b, !nodeid);
	return bpfuse_put(b, epoch, BPFUSE_CACHE_LOOKUP, b->lookup_fd, &key, &val);
}

int bpfuse_attr_get(struct bpfuse *b, uint64_t nodeid, struct stat *st)
{
	struct bpfuse_attr_val val;

	if (!b || !b->caching || bpf_map_lookup_elem(b->attr_fd, &nodeid, &val))
		return -ENOENT;
	if (expired(val.expires_ns)) {
		bpfuse_expire(b, BPFUSE_CACHE_ATTR, b->attr_fd, &nodeid);
		return -ENOENT;
	}
	bpfuse_attr_to_stat(st, &val.attr);
	return 0;
}

int bpfuse_attr_put(struct bpfuse *b, uint64_t epoch, uint64_t nodeid, const struct stat *st)
{
	struct bpfuse_attr_val val;

	if (!b)
		return -ENODEV;
	val.expires_ns = expiry(b, false);
	bpfuse_attr_from_stat(&val.attr, st);
	return bpfuse_put(b, epoch, BPFUSE_CACHE_ATTR, b->attr_fd, &nodeid, &val);
}

static int bpfuse_xattr_key(struct bpfuse_xattr_key *key, uint64_t nodeid, const char *name)
{
	size_t n = strlen(name);

	memset(key, 0, sizeof(*key));
	if (n > BPFUSE_XATTR_NAME_MAX)
		return -ENAMETOOLONG;
	key->nodeid = nodeid;
	key->len = n;
	memcpy(key->name, name, n);
	return 0;
}

/*
 * Returns the value's size (a size query when size is 0), the cached error
 * (-ENODATA, -EOPNOTSUPP), -ERANGE when buf is too small, and -ENOENT on a
 * miss.
 */
ssize_t bpfuse_xattr_get(struct bpfuse *b, uint64_t nodeid, const char *name, void *buf,
			 size_t size)
{
	struct bpfuse_xattr_key key;
	struct bpfuse_xattr_val val;

	if (!b || !b->caching || bpfuse_xattr_key(&key, nodeid, name))
		return -ENOENT;
	if (bpf_map_lookup_elem(b->xattr_fd, &key, &val))
		return -ENOENT;
	if (expired(val.expires_ns)) {
		bpfuse_expire(b, BPFUSE_CACHE_XATTR, b->xattr_fd, &key);
		return -ENOENT;
	}
	if (val.err)
		return -val.err;
	if (!size)
		return val.size;
	if (size < val.size)
		return -ERANGE;
	memcpy(buf, val.value, val.size);
	return val.size;
}

/*
 * size < 0 caches that error: -ENODATA ("no such attribute") or
 * -EOPNOTSUPP (no such namespace here, which does not change while
 * mounted). Values too big are not cached.
 */
int bpfuse_xattr_put(struct bpfuse *b, uint64_t epoch, uint64_t nodeid, const char *name,
		     const void *value, ssize_t size)
{
	struct bpfuse_xattr_key key;
	struct bpfuse_xattr_val val;
	int err;

	if (!b)
		return -ENODEV;
	if (size > BPFUSE_XATTR_SIZE_MAX)
		return -E2BIG;
	if (size < 0 && size != -ENODATA && size != -EOPNOTSUPP)
		return -EINVAL;
	err = bpfuse_xattr_key(&key, nodeid, name);
	if (err)
		return err;
	memset(&val, 0, sizeof(val));
	val.expires_ns = expiry(b, size == -ENODATA);
	if (size < 0) {
		val.err = -size;
	} else {
		val.size = size;
		memcpy(val.value, value, size);
	}
	return bpfuse_put(b, epoch, BPFUSE_CACHE_XATTR, b->xattr_fd, &key, &val);
}

/* ---- invalidation -------------------------------------------------------- */

void bpfuse_inval_entry(struct bpfuse *b, uint64_t parent, const char *name,
			enum bpfuse_cause cause)
{
	struct bpfuse_lookup_key key = { .parent = parent };

	if (b && !bpfuse_name_key(key.name, &key.len, name))
		bpfuse_delete(b, BPFUSE_CACHE_LOOKUP, b->lookup_fd, &key, cause);
}

void bpfuse_inval_attr(struct bpfuse *b, uint64_t nodeid, enum bpfuse_cause cause)
{
	if (b)
		bpfuse_delete(b, BPFUSE_CACHE_ATTR, b->attr_fd, &nodeid, cause);
}

void bpfuse_inval_xattr(struct bpfuse *b, uint64_t nodeid, const char *name,
			enum bpfuse_cause cause)
{
	struct bpfuse_xattr_key key;

	if (b && !bpfuse_xattr_key(&key, nodeid, name))
		bpfuse_delete(b, BPFUSE_CACHE_XATTR, b->xattr_fd, &key, cause);
}

/*
 * Every cached xattr of a node (an attribute changed behind the daemon's
 * back, name unknown). Walks the map: for rare events only.
 */
void bpfuse_inval_xattrs(struct bpfuse *b, uint64_t nodeid, enum bpfuse_cause cause)
{
	struct bpfuse_xattr_key key, next, *doomed = NULL;
	size_t n = 0, cap = 0, i;
	bool first = true;
	void *grown;

	if (!b || !b->caching)
		return;
	/* the epoch moves even if nothing is cached yet: a fill may be under way */
	pthread_mutex_lock(&b->lock);
	b->epoch++;
	pthread_mutex_unlock(&b->lock);
	/* collect first: deleting while walking restarts the walk */
	while (bpf_map_get_next_key(b->xattr_fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (key.nodeid != nodeid)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			grown = realloc(doomed, cap * sizeof(*doomed));
			if (!grown)
				break;
			doomed = grown;
		}
		doomed[n++] = key;
	}
	for (i = 0; i < n; i++)
		bpfuse_delete(b, BPFUSE_CACHE_XATTR, b->xattr_fd, &doomed[i], cause);
	free(doomed);
}

/* ---- stale pins ---------------------------------------------------------- */

/* Is pid alive? (EPERM: alive, someone else's) */
static bool bpfuse_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* Does a mount with this id still exist? */
static bool bpfuse_mount_exists(const char *id)
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
 * Remove the pin directories of daemons that are gone (killed, crashed):
 * their maps would otherwise outlive them. Returns how many went.
 */
int bpfuse_sweep_stale(void)
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
			/* both: a daemon between its fork and bpfuse_set_pid() looks dead */
			(!bpfuse_alive(st.daemon_pid) && !bpfuse_mount_exists(de->d_name));
		if (fd >= 0)
			close(fd);
		if (stale && bpfuse_unpin_dir(dir) == 0)
			n++;
	}
	closedir(dp);
	return n;
}

/* ---- invalidation rules -------------------------------------------------- */
/*
 * What each change makes stale. The daemon applies these after the change
 * reached the backend and before it replies; the kernel extension applies
 * the same ones before a change leaves for the daemon.
 */

/* Mode and owner changes also rewrite the access ACL and drop capabilities. */
static const char *const bpfuse_setattr_xattrs[] = {
	"system.posix_acl_access",
	"security.capability",
};

void bpfuse_on_setattr(struct bpfuse *b, uint64_t ino)
{
	size_t i;

	bpfuse_inval_attr(b, ino, BPFUSE_CAUSE_SETATTR);
	for (i = 0; i < sizeof(bpfuse_setattr_xattrs) / sizeof(bpfuse_setattr_xattrs[0]); i++)
		bpfuse_inval_xattr(b, ino, bpfuse_setattr_xattrs[i], BPFUSE_CAUSE_SETATTR);
}

void bpfuse_on_write(struct bpfuse *b, uint64_t ino)
{
	bpfuse_inval_attr(b, ino, BPFUSE_CAUSE_WRITE);
}

void bpfuse_on_access(struct bpfuse *b, uint64_t ino)
{
	bpfuse_inval_attr(b, ino, BPFUSE_CAUSE_ACCESS);
}

/* create, mknod, mkdir, symlink: the negative entry and the parent's times. */
void bpfuse_on_create(struct bpfuse *b, uint64_t parent, const char *name)
{
	bpfuse_inval_entry(b, parent, name, BPFUSE_CAUSE_CREATE);
	bpfuse_inval_attr(b, parent, BPFUSE_CAUSE_CREATE);
}

void bpfuse_on_link(struct bpfuse *b, uint64_t ino, uint64_t parent, const char *name)
{
	bpfuse_inval_entry(b, parent, name, BPFUSE_CAUSE_LINK);
	bpfuse_inval_attr(b, parent, BPFUSE_CAUSE_LINK);
	bpfuse_inval_attr(b, ino, BPFUSE_CAUSE_LINK);
}

/* unlink, rmdir: victim (0 if unknown) loses a link. */
void bpfuse_on_unlink(struct bpfuse *b, uint64_t parent, const char *name, uint64_t victim)
{
	bpfuse_inval_entry(b, parent, name, BPFUSE_CAUSE_UNLINK);
	bpfuse_inval_attr(b, parent, BPFUSE_CAUSE_UNLINK);
	if (victim)
		bpfuse_inval_attr(b, victim, BPFUSE_CAUSE_UNLINK);
}

/*
 * rename: both names, both parents, the moved node (ctime) and the node it
 * replaced or was exchanged with (0 if none or unknown).
 */
void bpfuse_on_rename(struct bpfuse *b, uint64_t parent, const char *name, uint64_t newparent,
		      const char *newname, uint64_t moved, uint64_t victim)
{
	bpfuse_inval_entry(b, parent, name, BPFUSE_CAUSE_RENAME);
	bpfuse_inval_entry(b, newparent, newname, BPFUSE_CAUSE_RENAME);
	bpfuse_inval_attr(b, parent, BPFUSE_CAUSE_RENAME);
	if (newparent != parent)
		bpfuse_inval_attr(b, newparent, BPFUSE_CAUSE_RENAME);
	if (moved)
		bpfuse_inval_attr(b, moved, BPFUSE_CAUSE_RENAME);
	if (victim)
		bpfuse_inval_attr(b, victim, BPFUSE_CAUSE_RENAME);
}

/* setxattr, removexattr: the value, and ctime (and mode, for an ACL). */
void bpfuse_on_xattr(struct bpfuse *b, uint64_t ino, const char *name)
{
	bpfuse_inval_xattr(b, ino, name, BPFUSE_CAUSE_XATTR);
	bpfuse_inval_attr(b, ino, BPFUSE_CAUSE_XATTR);
}

/* The last FORGET: node ids are never reused, so only the attrs need to go. */
void bpfuse_on_forget(struct bpfuse *b, uint64_t ino)
{
	bpfuse_inval_attr(b, ino, BPFUSE_CAUSE_FORGET);
}
