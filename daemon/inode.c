// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The inode table: node id <-> backing object, with the kernel's lookup
 * counts.
 *
 * Objects are held by file handle (name_to_handle_at), not by an open fd as
 * libfuse's passthrough examples do: a kernel build touches more inodes than
 * RLIMIT_NOFILE allows here, and a handle costs no descriptor. A handle also
 * carries the inode generation, so an inode number the backing file system
 * reuses after a delete is never mistaken for the old object. File systems
 * without handle support fall back to one O_PATH fd per inode.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "bpfused.h"

/* Linux 6.9 <linux/fuse.h>: backing files registered for passthrough */
struct bf_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

#ifndef FUSE_DEV_IOC_BACKING_OPEN
#define FUSE_DEV_IOC_BACKING_OPEN _IOW(229, 1, struct bf_backing_map)
#endif
#ifndef FUSE_DEV_IOC_BACKING_CLOSE
#define FUSE_DEV_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)
#endif

/*
 * How many table locks this thread holds, and how contended they are: the
 * lock check reads them (test/lockcheck.c). Counting costs an uncontended
 * lock nothing.
 */
__thread int bf_table_locked;
uint64_t bf_table_contended, bf_table_wait_ns;

static uint64_t bf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void bf_table_lock(struct bf_table *t)
{
	uint64_t start;

	if (pthread_mutex_trylock(&t->lock)) {
		start = bf_now_ns();
		pthread_mutex_lock(&t->lock);
		__atomic_fetch_add(&bf_table_contended, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&bf_table_wait_ns, bf_now_ns() - start, __ATOMIC_RELAXED);
	}
	bf_table_locked++;
}

static void bf_table_unlock(struct bf_table *t)
{
	bf_table_locked--;
	pthread_mutex_unlock(&t->lock);
}

/*
 * What a change under t->lock leaves to close or free once it is dropped:
 * no system call runs with the lock held (bpfused.h). A trim that finds
 * the reap full leaves the rest of the LRU for the next one.
 */
struct bf_reap {
	int fds[8];
	unsigned int nfds;
	struct bf_dir *dirs[4];
	unsigned int ndirs;
	struct bf_inode *node; /* freed by FORGET */
};

static bool bf_reap_room(const struct bf_reap *r)
{
	return r->nfds + 2 <= sizeof(r->fds) / sizeof(r->fds[0]) &&
	       r->ndirs < sizeof(r->dirs) / sizeof(r->dirs[0]);
}

static void bf_reap_fd(struct bf_reap *r, int fd)
{
	if (fd >= 0)
		r->fds[r->nfds++] = fd;
}

static void bf_inode_free(gpointer p);

/* Called with t->lock dropped. */
static void bf_reap_run(struct bf_reap *r)
{
	unsigned int i;

	for (i = 0; i < r->nfds; i++)
		close(r->fds[i]);
	for (i = 0; i < r->ndirs; i++)
		bf_dir_free(r->dirs[i]);
	if (r->node)
		bf_inode_free(r->node);
}

struct bf_key {
	dev_t dev;
	ino_t ino;
};

static guint bf_key_hash(gconstpointer p)
{
	const struct bf_inode *in = p;

	return (guint)(in->ino ^ (in->ino >> 32) ^ (in->dev * 0x9e3779b1u));
}

static gboolean bf_key_equal(gconstpointer a, gconstpointer b)
{
	const struct bf_inode *x = a, *y = b;

	return x->dev == y->dev && x->ino == y->ino;
}

static bool bf_handle_equal(const struct file_handle *a, const struct file_handle *b)
{
	if (!a || !b)
		return a == b;
	return a->handle_type == b->handle_type && a->handle_bytes == b->handle_bytes &&
	       !memcmp(a->f_handle, b->f_handle, a->handle_bytes);
}

/* Directory nodes keeping their O_PATH fd now, in every table of the process. */
static _Atomic unsigned int bf_dir_fds;

void bf_inode_release(struct bf_inode *in)
{
	if (in->fd_kept)
		atomic_fetch_sub_explicit(&bf_dir_fds, 1, memory_order_relaxed);
	in->fd_kept = false;
	if (in->fd >= 0)
		close(in->fd);
	free(in->fh);
	in->fd = -1;
	in->fh = NULL;
}

static int bf_handle_of(struct bf_table *t, int fd, mode_t type, struct bf_inode *proto);

void bf_dir_free(struct bf_dir *d)
{
	if (!d)
		return;
	if (d->dp)
		closedir(d->dp);
	free(d);
}

static void bf_inode_init_io(struct bf_inode *in)
{
	in->rfd = -1;
	in->wfd = -1;
	in->dir = NULL;
	in->dir_busy = false;
	in->io_users = 0;
	in->io_link = (GList){ .data = in };
	in->backing_id = 0;
	in->nopen = 0;
	in->nwrite = 0;
	in->atime_moves = true; /* until its attributes say otherwise */
}

/* Whether the node holds fds for I/O, and so is on the LRU. */
static bool bf_io_held(const struct bf_inode *in)
{
	return in->rfd >= 0 || in->wfd >= 0 || in->dir;
}

/* Put a node that now holds fds for I/O at the head of the LRU. Called with t->lock held. */
static void bf_io_touch(struct bf_table *t, struct bf_inode *in, bool held_before)
{
	if (held_before)
		g_queue_unlink(&t->io_lru, &in->io_link);
	g_queue_push_head_link(&t->io_lru, &in->io_link);
}

/* Take a node's I/O fds off it and it off the LRU, into r. Called with t->lock held. */
static void bf_io_drop(struct bf_table *t, struct bf_inode *in, struct bf_reap *r)
{
	if (!bf_io_held(in))
		return;
	bf_reap_fd(r, in->rfd);
	bf_reap_fd(r, in->wfd);
	if (in->dir)
		r->dirs[r->ndirs++] = in->dir;
	in->rfd = in->wfd = -1;
	in->dir = NULL;
	g_queue_unlink(&t->io_lru, &in->io_link);
}

/*
 * Keep at most io_max nodes with open I/O fds, closing the least recently
 * used ones that no request is using. Called with t->lock held.
 */
static void bf_io_trim(struct bf_table *t, struct bf_reap *r)
{
	GList *l = t->io_lru.tail, *prev;

	while (t->io_lru.length > t->io_max && l && bf_reap_room(r)) {
		prev = l->prev;
		if (!((struct bf_inode *)l->data)->io_users)
			bf_io_drop(t, l->data, r);
		l = prev;
	}
}

static void bf_inode_free(gpointer p)
{
	struct bf_inode *in = p;

	bf_inode_release(in);
	free(in);
}

/* Takes over root_fd, an O_PATH fd on the backing directory, on success. */
int bf_table_init(struct bf_table *t, int root_fd)
{
	struct bf_inode probe = { .fd = -1 };
	struct stat st;
	int err;

	memset(t, 0, sizeof(*t));
	if (fstat(root_fd, &st) == -1)
		return -errno;
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->backing_lock, NULL);
	t->dev_fd = -1;
	t->by_id = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, bf_inode_free);
	t->by_key = g_hash_table_new(bf_key_hash, bf_key_equal);
	t->mounts = g_hash_table_new(g_direct_hash, g_direct_equal);
	t->next_id = FUSE_ROOT_ID + 1;
	g_queue_init(&t->io_lru);
	t->io_max = BF_IO_FDS_DEFAULT;

	err = -ENOMEM;
	t->root = calloc(1, sizeof(*t->root));
	if (!t->root)
		goto out_destroy;
	t->root->nodeid = FUSE_ROOT_ID;
	t->root->dev = st.st_dev;
	t->root->ino = st.st_ino;
	t->root->type = S_IFDIR;
	t->root->pinned = true;
	t->root->hashed = true;
	t->root->fd = root_fd;
	t->root->mount_fd = -1;
	t->root->kref = BPFUSE_NODE_NONE; /* the kernel never looks the root up */
	bf_inode_init_io(t->root);
	g_hash_table_insert(t->by_id, &t->root->nodeid, t->root);
	g_hash_table_add(t->by_key, t->root);

	/* The root stays open by fd; its handle only registers its mount. */
	err = bf_handle_of(t, root_fd, S_IFDIR, &probe);
	if (err && err != -EOPNOTSUPP)
		goto out_destroy;
	free(probe.fh);
	return 0;

out_destroy:
	if (t->root)
		t->root->fd = -1; /* on failure, root_fd stays the caller's */
	bf_table_destroy(t);
	return err;
}

static void bf_close_mount(gpointer key, gpointer value, gpointer data)
{
	(void)key;
	(void)data;
	close(GPOINTER_TO_INT(value));
}

/*
 * Frees every entry. Returns how many non-root nodes were still held: the
 * kernel sends no FORGET for inodes it still caches at unmount.
 */
size_t bf_table_destroy(struct bf_table *t)
{
	struct bf_reap r;
	size_t left = 0;

	while (t->io_lru.head) {
		r = (struct bf_reap){ 0 };
		bf_io_drop(t, t->io_lru.head->data, &r);
		bf_reap_run(&r);
	}
	if (t->by_id)
		left = g_hash_table_size(t->by_id) - (t->root ? 1 : 0);
	if (t->by_key)
		g_hash_table_destroy(t->by_key);
	if (t->by_id)
		g_hash_table_destroy(t->by_id);
	if (t->mounts) {
		g_hash_table_foreach(t->mounts, bf_close_mount, NULL);
		g_hash_table_destroy(t->mounts);
	}
	pthread_mutex_destroy(&t->lock);
	pthread_mutex_destroy(&t->backing_lock);
	memset(t, 0, sizeof(*t));
	return left;
}

struct bf_inode *bf_table_find(struct bf_table *t, uint64_t nodeid)
{
	struct bf_inode *in;

	bf_table_lock(t);
	in = g_hash_table_lookup(t->by_id, &nodeid);
	bf_table_unlock(t);
	return in;
}

/*
 * Take one lookup reference on the object described by proto (filled by
 * bf_inode_probe(); its atime_moves, set by the caller from the attributes
 * it serves, goes to the entry). Returns the table's entry; proto's fd and
 * handle are moved into a new entry or released. NULL only when out of
 * memory.
 */
struct bf_inode *bf_table_ref(struct bf_table *t, struct bf_inode *proto)
{
	struct bf_inode *in;

	bf_table_lock(t);
	in = g_hash_table_lookup(t->by_key, proto);
	if (in && (in->pinned || bf_handle_equal(in->fh, proto->fh))) {
		in->nlookup++;
		in->atime_moves = proto->atime_moves;
		bf_table_unlock(t);
		bf_inode_release(proto);
		return in;
	}
	if (in) {
		/*
		 * Same (dev, ino), other handle: the old object was deleted and
		 * its number reused. The old node lives on for the kernel's
		 * outstanding FORGETs but is no longer found by key.
		 */
		g_hash_table_remove(t->by_key, in);
		in->hashed = false;
	}
	in = malloc(sizeof(*in));
	if (!in) {
		bf_table_unlock(t);
		bf_inode_release(proto);
		return NULL;
	}
	*in = *proto;
	in->nodeid = t->next_id++;
	in->nlookup = 1;
	in->pinned = false;
	in->hashed = true;
	in->kref = bpfuse_node_create(t->ext, in->nodeid);
	bf_inode_init_io(in);
	in->atime_moves = proto->atime_moves;
	g_hash_table_insert(t->by_id, &in->nodeid, in);
	g_hash_table_add(t->by_key, in);
	bf_table_unlock(t);
	bpfuse_node_sync(t->ext); /* before the kernel learns the node */
	proto->fd = -1;
	proto->fd_kept = false;
	proto->fh = NULL;
	return in;
}

/*
 * The node of (dev, ino), or 0. Used for invalidation only, so a reused
 * inode number costs at most an extra invalidation of the old node.
 */
uint64_t bf_table_node_of(struct bf_table *t, dev_t dev, ino_t ino)
{
	struct bf_inode key = { .dev = dev, .ino = ino }, *in;
	uint64_t nodeid;

	bf_table_lock(t);
	in = g_hash_table_lookup(t->by_key, &key);
	nodeid = in ? in->nodeid : 0;
	bf_table_unlock(t);
	return nodeid;
}

/*
 * Take one more lookup reference on a node the kernel may have forgotten
 * meanwhile (a cached lookup). NULL if it is gone or was superseded.
 */
struct bf_inode *bf_table_ref_id(struct bf_table *t, uint64_t nodeid)
{
	struct bf_inode *in;

	bf_table_lock(t);
	in = g_hash_table_lookup(t->by_id, &nodeid);
	if (in && in->hashed && in->nlookup)
		in->nlookup++;
	else
		in = NULL;
	bf_table_unlock(t);
	return in;
}

/*
 * Drop n lookup references; the kernel never asks for more than it took,
 * counting those the extension handed out in ext mode (collected here,
 * under the lock). Returns true when that freed the node.
 */
bool bf_table_forget(struct bf_table *t, uint64_t nodeid, uint64_t n)
{
	struct bf_reap r = { 0 };
	struct bf_inode *in;
	bool freed = false;
	int backing_id = 0;

	bf_table_lock(t);
	in = g_hash_table_lookup(t->by_id, &nodeid);
	if (!in) {
		t->underflows++;
		goto out;
	}
	if (bpfuse_node_forget(t->ext, &in->kref, &in->nlookup, n))
		t->underflows++;
	if (in->nlookup || in->pinned)
		goto out;
	bf_io_drop(t, in, &r);
	freed = true;
	/* ext mode: its backing file stays registered until now (bf_table_backing_open()) */
	if (t->ext && (in->backing_id || in->page_opens))
		backing_id = in->backing_id ? in->backing_id : -1;
	if (in->hashed)
		g_hash_table_remove(t->by_key, in);
	g_hash_table_steal(t->by_id, &in->nodeid);
	r.node = in;
out:
	bf_table_unlock(t);
	bpfuse_node_sync(t->ext);
	if (backing_id) {
		/* no open of a forgotten node comes: only a registry update may race */
		pthread_mutex_lock(&t->backing_lock);
		bpfuse_backing_del(t->ext, nodeid);
		pthread_mutex_unlock(&t->backing_lock);
	}
	if (backing_id > 0)
		ioctl(t->dev_fd, FUSE_DEV_IOC_BACKING_CLOSE, &backing_id);
	bf_reap_run(&r);
	return freed;
}

/*
 * A backing fd for I/O on node nodeid, for zero-message opens: the kernel
 * sends no OPEN, so there is no per-open fd, and requests arrive by node.
 * Each node keeps one fd for reading and, once written, one for writing
 * (O_RDWR, which serves reads too), in an LRU of io_max nodes. The fd stays
 * valid until bf_table_io_put(*held); -errno on failure.
 */
int bf_table_io_get(struct bf_table *t, uint64_t nodeid, bool write, struct bf_inode **held)
{
	struct bf_reap r = { 0 };
	struct bf_inode *in;
	int fd, *slot;

	bf_table_lock(t);
	in = g_hash_table_lookup(t->by_id, &nodeid);
	if (!in) {
		bf_table_unlock(t);
		return -EIO;
	}
	in->io_users++; /* from here on, nothing closes its fds */
	fd = in->wfd >= 0 ? in->wfd : write ? -1 : in->rfd;
	if (fd >= 0) {
		bf_io_touch(t, in, true);
		bf_table_unlock(t);
		*held = in;
		return fd;
	}
	bf_table_unlock(t);

	fd = bf_table_open(t, in, write ? O_RDWR : O_RDONLY);

	bf_table_lock(t);
	if (fd < 0) {
		in->io_users--;
		bf_table_unlock(t);
		return fd;
	}
	slot = write ? &in->wfd : &in->rfd;
	if (*slot >= 0) {
		bf_reap_fd(&r, fd); /* another request opened it meanwhile */
		fd = *slot;
	} else {
		bf_io_touch(t, in, bf_io_held(in));
		*slot = fd;
		bf_io_trim(t, &r);
	}
	bf_table_unlock(t);
	bf_reap_run(&r);
	*held = in;
	return fd;
}

void bf_table_io_put(struct bf_table *t, struct bf_inode *held)
{
	bf_table_lock(t);
	held->io_users--;
	bf_table_unlock(t);
}

/*
 * The listing stream kept on directory nodeid, for one READDIR, or NULL if
 * there is none or another request has it: the caller then opens one and
 * offers it back in bf_table_dir_put(). Keeping the stream lets a listing
 * go on where the last READDIR left it: backends such as sshfs cannot start
 * a fresh stream at a later offset. *held is NULL for an unknown node.
 */
struct bf_dir *bf_table_dir_get(struct bf_table *t, uint64_t nodeid, struct bf_inode **held)
{
	struct bf_dir *d = NULL;
	struct bf_inode *in;

	bf_table_lock(t);
	in = g_hash_table_lookup(t->by_id, &nodeid);
	if (in) {
		in->io_users++;
		if (in->dir && !in->dir_busy) {
			d = in->dir;
			in->dir_busy = true;
			bf_io_touch(t, in, true);
		}
	}
	bf_table_unlock(t);
	*held = in;
	return d;
}

/* Give back the stream from bf_table_dir_get(), or keep the one opened instead. */
void bf_table_dir_put(struct bf_table *t, struct bf_inode *held, struct bf_dir *d)
{
	struct bf_reap r = { 0 };

	bf_table_lock(t);
	if (held->dir == d) {
		held->dir_busy = false;
	} else if (!held->dir && d) {
		bf_io_touch(t, held, bf_io_held(held));
		held->dir = d;
	} else if (d) {
		r.dirs[r.ndirs++] = d;
	}
	held->io_users--;
	bf_io_trim(t, &r);
	bf_table_unlock(t);
	bf_reap_run(&r);
}

/* Nodes holding I/O fds now. */
size_t bf_table_io_count(struct bf_table *t)
{
	size_t n;

	bf_table_lock(t);
	n = t->io_lru.length;
	bf_table_unlock(t);
	return n;
}

/*
 * True while node nodeid is open for writing through kernel passthrough:
 * its writes never reach the daemon, so its attributes must not be cached.
 */
bool bf_table_writing(struct bf_table *t, uint64_t nodeid)
{
	struct bf_inode *in;
	bool writing;

	bf_table_lock(t);
	in = g_hash_table_lookup(t->by_id, &nodeid);
	writing = in && in->nwrite;
	bf_table_unlock(t);
	return writing;
}

/* ---- the passthrough registry ------------------------------------------- */

/*
 * Ext mode: what the extension's "backing" map must say of node nodeid,
 * from the node's state now: its backing file with the atime flag and,
 * while open for writing, BPFUSE_BACKING_WRITING (so that the extension's
 * fills leave its attributes out); or its opens keeping pages. Every
 * change of that state is followed by a publish, and publishes are
 * serialised by t->backing_lock across the read and the bpf() call, so
 * the last one leaves the map as the state is.
 */
static void bf_backing_publish(struct bf_table *t, uint64_t nodeid)
{
	unsigned int flags = 0;
	struct bf_inode *in;
	int id = 0;
	bool put;

	if (!t->ext)
		return;
	pthread_mutex_lock(&t->backing_lock);
	bf_table_lock(t);
	in = g_hash_table_lookup(t->by_id, &nodeid);
	put = in && (in->backing_id || in->page_opens);
	if (put && in->backing_id) {
		id = in->backing_id;
		flags = (in->atime_moves ? BPFUSE_BACKING_ATIME : 0) |
			(in->nwrite ? BPFUSE_BACKING_WRITING : 0);
	} else if (put) {
		flags = BPFUSE_BACKING_PAGES;
	}
	bf_table_unlock(t);
	if (put)
		bpfuse_backing_put(t->ext, nodeid, id, flags);
	pthread_mutex_unlock(&t->backing_lock);
}

/*
 * An open of node nodeid with backing fd, for kernel passthrough: returns
 * the backing id it shares with the node's other opens (registering fd
 * with the kernel on the first), 0 where it must not pass through (ext
 * mode: the node's opens keep pages, as pages says for a first open), or
 * -errno where the kernel refused. The node lives while the open lasts.
 */
int bf_table_backing_open(struct bf_table *t, uint64_t nodeid, int fd, bool write, bool pages)
{
	struct bf_backing_map map = { .fd = fd };
	bool publish = false, first;
	int id = 0, spare = 0;
	struct bf_inode *in;

	bf_table_lock(t);
	in = g_hash_table_lookup(t->by_id, &nodeid);
	first = in && !in->backing_id && !in->page_opens;
	if (first && pages && t->ext) {
		/* until its FORGET: the kernel refuses to mix the two on one inode */
		in->page_opens = true;
		publish = true;
	}
	bf_table_unlock(t);
	if (first && !publish) {
		/* the kernel keeps the caller's credentials for the file's I/O */
		id = bf_creds_enter_backing();
		if (!id && (id = ioctl(t->dev_fd, FUSE_DEV_IOC_BACKING_OPEN, &map)) == -1)
			id = -errno;
		bf_creds_leave();
		if (id <= 0)
			return id < 0 ? id : -EPROTO;
	}
	bf_table_lock(t);
	if (id > 0 && (in->backing_id || in->page_opens)) {
		spare = id; /* another open decided meanwhile */
	} else if (id > 0) {
		in->backing_id = id;
		publish = true; /* ext mode: the extension opens it from now on */
	}
	id = in ? in->backing_id : 0;
	if (id) {
		in->nopen++;
		in->nwrite += write;
		/* the first writer: its flag goes before its attributes do */
		publish |= write && in->nwrite == 1;
	}
	bf_table_unlock(t);
	if (spare)
		ioctl(t->dev_fd, FUSE_DEV_IOC_BACKING_CLOSE, &spare);
	if (publish)
		bf_backing_publish(t, nodeid);
	return id;
}

/*
 * An open that used backing id is over. Outside ext mode the last one
 * gives the backing file up; in ext mode it stays registered until the
 * node's FORGET, for the extension's opens.
 */
void bf_table_backing_release(struct bf_table *t, uint64_t nodeid, bool write)
{
	bool publish = false;
	struct bf_inode *in;
	int close_id = 0;

	bf_table_lock(t);
	in = g_hash_table_lookup(t->by_id, &nodeid);
	if (in && in->nopen) {
		in->nopen--;
		in->nwrite -= write && in->nwrite;
		/* the last writer: its attributes may be cached again */
		publish = write && !in->nwrite && in->backing_id;
		if (!in->nopen && !t->ext) {
			close_id = in->backing_id;
			in->backing_id = 0;
		}
	}
	bf_table_unlock(t);
	if (close_id)
		ioctl(t->dev_fd, FUSE_DEV_IOC_BACKING_CLOSE, &close_id);
	if (publish)
		bf_backing_publish(t, nodeid);
}

/*
 * Ext mode: node nodeid's backing file is no longer for passthrough opens
 * (the file carries set-ID bits now, and its writes must reach the
 * daemon): the extension's "backing" entry goes, and the registration
 * with the kernel (opens that use it keep it). The kernel refuses a
 * cached open of an inode while a passthrough open of it lasts: such an
 * open fails until then.
 */
void bf_table_backing_forget(struct bf_table *t, uint64_t nodeid)
{
	struct bf_inode *in;
	int id = 0;

	if (!t->ext)
		return;
	pthread_mutex_lock(&t->backing_lock);
	bf_table_lock(t);
	in = g_hash_table_lookup(t->by_id, &nodeid);
	if (in) {
		id = in->backing_id;
		in->backing_id = 0;
	}
	bf_table_unlock(t);
	if (id)
		bpfuse_backing_del(t->ext, nodeid);
	pthread_mutex_unlock(&t->backing_lock);
	if (id)
		ioctl(t->dev_fd, FUSE_DEV_IOC_BACKING_CLOSE, &id);
}

/* Whether the next read of nodeid moves its backing atime, as its attributes say. */
void bf_table_set_atime_moves(struct bf_table *t, uint64_t nodeid, bool moves)
{
	struct bf_inode *in;
	bool publish;

	bf_table_lock(t);
	in = g_hash_table_lookup(t->by_id, &nodeid);
	if (in)
		in->atime_moves = moves;
	/* ext mode: the extension's opens drop the attributes once more */
	publish = in && moves && in->backing_id && t->ext;
	bf_table_unlock(t);
	if (publish)
		bf_backing_publish(t, nodeid);
}

/* After a read: true if it moved the atime; the next one will not, until told again. */
bool bf_table_take_atime_moves(struct bf_table *t, uint64_t nodeid)
{
	struct bf_inode *in;
	bool moved = false, publish;

	bf_table_lock(t);
	in = g_hash_table_lookup(t->by_id, &nodeid);
	if (in) {
		moved = in->atime_moves;
		in->atime_moves = false;
	}
	/* ext mode: nor will the extension's next release drop them again */
	publish = moved && in->backing_id && t->ext;
	bf_table_unlock(t);
	if (publish)
		bf_backing_publish(t, nodeid);
	return moved;
}

size_t bf_table_count(struct bf_table *t)
{
	size_t n;

	bf_table_lock(t);
	n = g_hash_table_size(t->by_id) - 1;
	bf_table_unlock(t);
	return n;
}

uint64_t bf_table_lookups(struct bf_table *t)
{
	GHashTableIter it;
	gpointer v;
	uint64_t sum = 0;

	bf_table_lock(t);
	g_hash_table_iter_init(&it, t->by_id);
	while (g_hash_table_iter_next(&it, NULL, &v))
		sum += ((struct bf_inode *)v)->nlookup;
	bf_table_unlock(t);
	return sum;
}

/*
 * An fd on the file system behind mount_id, kept for open_by_handle_at().
 * It must be a real open file, not O_PATH (6.1 refuses those), so only a
 * directory can introduce a mount; the first object seen on a mount is
 * normally its root, a directory.
 */
static int bf_table_mount_fd(struct bf_table *t, int mount_id, int fd, mode_t type)
{
	char path[BF_PROC_FD_MAX];
	gpointer key = GINT_TO_POINTER(mount_id), val;
	int mfd, spare = -1;

	bf_table_lock(t);
	if (g_hash_table_lookup_extended(t->mounts, key, NULL, &val)) {
		bf_table_unlock(t);
		return GPOINTER_TO_INT(val);
	}
	bf_table_unlock(t);
	if (!S_ISDIR(type))
		return -EOPNOTSUPP;
	bf_proc_fd_path(path, fd);
	mfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	bf_table_lock(t);
	if (g_hash_table_lookup_extended(t->mounts, key, NULL, &val)) {
		spare = mfd; /* another lookup got there first */
		mfd = GPOINTER_TO_INT(val);
	} else {
		g_hash_table_insert(t->mounts, key, GINT_TO_POINTER(mfd));
	}
	bf_table_unlock(t);
	if (spare >= 0)
		close(spare);
	return mfd;
}

/* The handle of the object behind fd, or -EOPNOTSUPP to hold it by fd. */
static int bf_handle_of(struct bf_table *t, int fd, mode_t type, struct bf_inode *proto)
{
	struct file_handle *fh;
	int mount_id, err;

	fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	if (!fh)
		return -ENOMEM;
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", fh, &mount_id, AT_EMPTY_PATH) == -1) {
		err = -errno;
		goto out_free;
	}
	err = bf_table_mount_fd(t, mount_id, fd, type);
	if (err < 0)
		goto out_free;
	proto->mount_fd = err;
	proto->fh = fh;
	return 0;

out_free:
	free(fh);
	return err;
}

/*
 * Describe dirfd/name in proto without taking a reference: stat it and
 * take its file handle. The O_PATH fd used for that is kept only when the
 * file system cannot give handles.
 */
static int bf_inode_describe(struct bf_table *t, int fd, bool pin, struct bf_inode *proto,
			     struct stat *st)
{
	int err;

	memset(proto, 0, sizeof(*proto));
	proto->fd = -1;
	proto->mount_fd = -1;
	bf_inode_init_io(proto);
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1) {
		err = -errno;
		goto out_close;
	}
	proto->dev = st->st_dev;
	proto->ino = st->st_ino;
	proto->type = st->st_mode & S_IFMT;

	err = bf_handle_of(t, fd, proto->type, proto);
	if (err == -EOPNOTSUPP || (!err && pin)) {
		proto->fd = fd; /* hold it by fd */
		return 0;
	}
	/*
	 * A directory keeps the fd too, up to dir_fds_max: every LOOKUP in it
	 * and every GETATTR of it would otherwise open it by handle again
	 * (open_by_handle_at() and close(), the dearest calls of a miss). The
	 * handle stays its identity; the fd follows it through renames and,
	 * removed, pins it as bf_table_node_at() would.
	 */
	if (!err && S_ISDIR(proto->type) &&
	    atomic_fetch_add_explicit(&bf_dir_fds, 1, memory_order_relaxed) < t->dir_fds_max) {
		proto->fd = fd;
		proto->fd_kept = true;
		return 0;
	}
	if (!err && S_ISDIR(proto->type))
		atomic_fetch_sub_explicit(&bf_dir_fds, 1, memory_order_relaxed);
out_close:
	close(fd);
	return err;
}

int bf_inode_probe(struct bf_table *t, int dirfd, const char *name, struct bf_inode *proto,
		   struct stat *st)
{
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	return fd == -1 ? -errno : bf_inode_describe(t, fd, false, proto, st);
}

/*
 * The same for an open object that has no name (O_TMPFILE): it is held by
 * an O_PATH fd, like an unlinked file (see bf_table_node_at()), and by its
 * handle too, so that the lookup after a link finds the same node.
 */
int bf_inode_probe_fd(struct bf_table *t, int fd, struct bf_inode *proto, struct stat *st)
{
	char path[BF_PROC_FD_MAX];
	int pin;

	bf_proc_fd_path(path, fd);
	pin = open(path, O_PATH | O_CLOEXEC);
	return pin == -1 ? -errno : bf_inode_describe(t, pin, true, proto, st);
}

/*
 * The node of dirfd/name, or 0 if the kernel does not know it. With going,
 * that name is about to be unlinked, removed or replaced: if it is the
 * object's last link, the node from here on holds an O_PATH fd until its
 * last FORGET, since many file systems (ext4, xfs, tmpfs) refuse to open an
 * unlinked inode by handle, yet the kernel may go on using it through an
 * open file, or an open directory (a shell's cwd, an openat() base).
 */
uint64_t bf_table_node_at(struct bf_table *t, int dirfd, const char *name, bool going)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;
	struct bf_inode key, *in;
	uint64_t nodeid = 0;
	bool have_handle;
	struct stat st;
	int fd, mount_id;

	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return 0;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1)
		goto out_close;
	/* a directory has one name: removed or replaced, it is gone */
	going = going && (S_ISDIR(st.st_mode) || st.st_nlink == 1);
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	have_handle = name_to_handle_at(fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) == 0;
	key.dev = st.st_dev;
	key.ino = st.st_ino;
	bf_table_lock(t);
	in = g_hash_table_lookup(t->by_key, &key);
	/* the same number may be another object now: the handle tells */
	if (in && in->fh && (!have_handle || !bf_handle_equal(in->fh, &h.fh)))
		in = NULL;
	if (in) {
		nodeid = in->nodeid;
		if (going && __atomic_load_n(&in->fd, __ATOMIC_ACQUIRE) < 0) {
			__atomic_store_n(&in->fd, fd, __ATOMIC_RELEASE);
			fd = -1;
		}
	}
	bf_table_unlock(t);
out_close:
	if (fd >= 0)
		close(fd);
	return nodeid;
}

/* A new fd on the object with the given open flags; the caller closes it. */
int bf_inode_open(const struct bf_inode *in, int flags)
{
	char path[BF_PROC_FD_MAX];
	int fd, held = __atomic_load_n(&in->fd, __ATOMIC_ACQUIRE);

	flags |= O_CLOEXEC;
	if (held < 0) {
		fd = open_by_handle_at(in->mount_fd, in->fh, flags);
	} else if (flags & O_PATH) {
		fd = fcntl(held, F_DUPFD_CLOEXEC, 0);
	} else {
		bf_proc_fd_path(path, held);
		fd = open(path, flags & ~O_NOFOLLOW);
	}
	return fd == -1 ? -errno : fd;
}

/*
 * bf_inode_open() under the mount's atime options: with noatime (and for
 * directories nodiratime) the daemon's own reads must not move the backing
 * atime either. O_NOATIME needs the owner or CAP_FOWNER, which a backend
 * may refuse root (root_squash): then the fd is opened without it.
 */
int bf_table_open(struct bf_table *t, const struct bf_inode *in, int flags)
{
	bool dir = (flags & O_DIRECTORY) || in->type == S_IFDIR;
	int fd;

	if (!(flags & O_PATH) && (t->noatime || (dir && t->nodiratime))) {
		fd = bf_inode_open(in, flags | O_NOATIME);
		if (fd != -EPERM)
			return fd;
	}
	return bf_inode_open(in, flags);
}
