// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Coherence with changes made behind the daemon's back.
 *
 * A fanotify filesystem mark on the backing directory's file system reports
 * each change with the directory's file handle and the entry's name, and
 * the object's own handle. A dedicated thread turns those into
 * invalidations: the map entries go, and the kernel is told
 * (fuse_lowlevel_notify_inval_entry/_inode). The kernel notifications are
 * sent by a few notifier threads, in order per node: an entry's
 * invalidation waits for its directory's lock, which a request the backend
 * is slow to answer may hold for long, and one such directory must not
 * hold up the invalidations of every other (a revoked permission
 * elsewhere). The watcher never waits for a request handler, and handlers
 * never wait for it, so it cannot deadlock with them.
 *
 * Changes the daemon made itself were invalidated when it made them; their
 * events (same pid) are skipped.
 *
 * Every write through a passthrough file, and every write behind the
 * daemon's back, is a FAN_MODIFY on the backing file: one event for the
 * kernel to build and one wakeup, handle lookup and notification here,
 * per write. So after a file's first FAN_MODIFY the watcher hushes that
 * file's writes for BF_HUSH_MS (an ignore mask on its inode, which the
 * kernel checks before building an event) and then invalidates it once
 * more. (Comparing its ctime would save that, but not on file systems
 * whose clock ticks coarser than a burst of writes.) A change after a
 * quiet spell shows at once; one inside a burst of writes to the same file
 * within BF_HUSH_MS.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "bpfuse.h"
#include "bpfused.h"

#define BF_WATCH_MASK                                                                              \
	(FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_MODIFY | FAN_ATTRIB |       \
	 FAN_ONDIR)
#define BF_DIRENT_EVENTS (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO)
#define BF_HUSH_MS 10
#define BF_HUSH_MAX 64 /* files hushed at once; beyond, every write is an event */
#define BF_WATCH_FS_MAX 64 /* file systems watched: the backing one and those mounted in it */
#define BF_NOTIFIERS 4 /* threads sending kernel notifications: directories stuck at once */

/* A kernel notification to send: an entry's (name), or an inode's. */
struct bf_notice {
	uint64_t node; /* the directory of name, or the inode */
	char *name; /* NULL: the inode's attributes, and its pages unless off < 0 */
	off_t off;
};

/*
 * A file whose writes are not reported until `until` (CLOCK_MONOTONIC, ms).
 * By inode, not node: the kernel may forget the node meanwhile and look the
 * file up again as a new one.
 */
struct bf_hush {
	int fd; /* O_PATH, holds the inode */
	dev_t dev;
	ino_t ino;
	uint64_t until;
};

/* A watched file system: where its events' handles are opened. */
struct bf_watched_fs {
	dev_t dev;
	__kernel_fsid_t fsid;
	int fd; /* its root as the daemon first crossed into it (not O_PATH) */
};

struct bf_watch {
	struct bf_fs *fs;
	struct fuse_session *se;
	int fan_fd;
	int stop_fd; /* eventfd: ends the thread */
	pid_t self;
	/*
	 * watched[0] is the backing directory's file system; the others were
	 * marked as the daemon first crossed into them. Appended under
	 * fs_lock, never removed: readers take nfs (acquire) and read below it.
	 */
	pthread_mutex_t fs_lock;
	unsigned int nfs;
	struct bf_watched_fs watched[BF_WATCH_FS_MAX];
	/* kernel notifications: protected by notice_lock */
	pthread_mutex_t notice_lock;
	pthread_cond_t notice_cond;
	GQueue notices; /* waiting, oldest first */
	GHashTable *sending; /* nodes a notifier is sending for: their next ones wait */
	bool stopping;
	unsigned int nnotifiers;
	pthread_t notifiers[BF_NOTIFIERS];
	pthread_t thread;
	bool running;
	unsigned int nhush;
	struct bf_hush hush[BF_HUSH_MAX];
};

/* What one event says: where (directory + name) and what (the object). */
struct bf_event {
	uint64_t mask;
	const __kernel_fsid_t *fsid;
	struct file_handle *dir;
	const char *name;
	struct file_handle *obj;
};

static void bf_event_parse(const struct fanotify_event_metadata *md, struct bf_event *ev)
{
	const char *p = (const char *)(md + 1), *end = (const char *)md + md->event_len;

	memset(ev, 0, sizeof(*ev));
	ev->mask = md->mask;
	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_header *hdr = (const void *)p;
		const struct fanotify_event_info_fid *fid = (const void *)p;
		struct file_handle *fh = (struct file_handle *)fid->handle;

		if (!hdr->len || p + hdr->len > end)
			break;
		ev->fsid = &fid->fsid; /* one file system per event */
		if (hdr->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
			ev->dir = fh;
			ev->name = (const char *)fh->f_handle + fh->handle_bytes;
		} else if (hdr->info_type == FAN_EVENT_INFO_TYPE_FID) {
			ev->obj = fh;
		}
		p += hdr->len;
	}
}

static uint64_t bf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Hush (add) or hear again the writes to the file open as O_PATH `fd`
 * (fanotify_mark() takes no O_PATH descriptor, but its /proc link).
 */
static int bf_watch_hush(struct bf_watch *w, int fd, unsigned int how)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return fanotify_mark(w->fan_fd, how | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY,
			     FAN_MODIFY, AT_FDCWD, path);
}

/*
 * The node behind a handle from the event, or 0 if the kernel knows none;
 * a modified regular file's writes are hushed for a while (its fd kept).
 */
static int bf_watch_fs_fd(struct bf_watch *w, const __kernel_fsid_t *fsid)
{
	unsigned int i, n = __atomic_load_n(&w->nfs, __ATOMIC_ACQUIRE);

	for (i = 0; fsid && i < n; i++)
		if (!memcmp(&w->watched[i].fsid, fsid, sizeof(*fsid)))
			return w->watched[i].fd;
	return -1;
}

static uint64_t bf_watch_node(struct bf_watch *w, const __kernel_fsid_t *fsid,
			      struct file_handle *fh, bool modified)
{
	struct stat st;
	uint64_t node;
	unsigned int i;
	int fd, mount_fd = bf_watch_fs_fd(w, fsid);

	if (!fh || mount_fd < 0)
		return 0;
	fd = open_by_handle_at(mount_fd, fh, O_PATH | O_CLOEXEC);
	if (fd == -1)
		return 0; /* gone already: found through its name instead */
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1) {
		close(fd);
		return 0;
	}
	node = bf_table_node_of(&w->fs->table, st.st_dev, st.st_ino);
	for (i = 0; modified && i < w->nhush; i++)
		if (w->hush[i].dev == st.st_dev && w->hush[i].ino == st.st_ino)
			modified = false; /* an event queued before the hush */
	if (!node || !modified || !S_ISREG(st.st_mode) || w->nhush == BF_HUSH_MAX ||
	    bf_watch_hush(w, fd, FAN_MARK_ADD) == -1) {
		close(fd);
		return node;
	}
	w->hush[w->nhush++] = (struct bf_hush){
		.fd = fd, .dev = st.st_dev, .ino = st.st_ino, .until = bf_now_ms() + BF_HUSH_MS
	};
	return node;
}

static bool bf_notice_same(const struct bf_notice *a, const struct bf_notice *b)
{
	return a->node == b->node && a->off == b->off &&
	       (a->name ? b->name && !strcmp(a->name, b->name) : !b->name);
}

/* Queue a kernel notification, unless the same one waits already. */
static void bf_notify(struct bf_watch *w, uint64_t node, const char *name, off_t off)
{
	struct bf_notice n = { .node = node, .name = (char *)name, .off = off }, *q;
	GList *l;

	pthread_mutex_lock(&w->notice_lock);
	for (l = w->notices.head; l; l = l->next)
		if (bf_notice_same(l->data, &n))
			goto out_unlock;
	q = malloc(sizeof(*q));
	n.name = name ? strdup(name) : NULL;
	if (!q || (name && !n.name)) {
		free(q);
		free(n.name);
		goto out_unlock; /* out of memory: the lifetimes bound it */
	}
	*q = n;
	g_queue_push_tail(&w->notices, q);
	pthread_cond_signal(&w->notice_cond);
out_unlock:
	pthread_mutex_unlock(&w->notice_lock);
}

/* The oldest notice whose node no notifier is sending for. Under notice_lock. */
static struct bf_notice *bf_notice_next(struct bf_watch *w)
{
	struct bf_notice *n;
	GList *l;

	for (l = w->notices.head; l; l = l->next) {
		n = l->data;
		if (!g_hash_table_contains(w->sending, &n->node)) {
			g_queue_delete_link(&w->notices, l);
			return n;
		}
	}
	return NULL;
}

static void *bf_notifier_main(void *arg)
{
	struct bf_watch *w = arg;
	struct bf_notice *n;

	pthread_mutex_lock(&w->notice_lock);
	while (!w->stopping) {
		n = bf_notice_next(w);
		if (!n) {
			pthread_cond_wait(&w->notice_cond, &w->notice_lock);
			continue;
		}
		g_hash_table_add(w->sending, &n->node);
		pthread_mutex_unlock(&w->notice_lock);
		if (n->name)
			fuse_lowlevel_notify_inval_entry(w->se, n->node, n->name, strlen(n->name));
		else
			fuse_lowlevel_notify_inval_inode(w->se, n->node, n->off, 0);
		pthread_mutex_lock(&w->notice_lock);
		g_hash_table_remove(w->sending, &n->node);
		/* the node's next notice may go now */
		pthread_cond_broadcast(&w->notice_cond);
		free(n->name);
		free(n);
	}
	pthread_mutex_unlock(&w->notice_lock);
	return NULL;
}

static void bf_notice_free(gpointer p)
{
	struct bf_notice *n = p;

	free(n->name);
	free(n);
}

/*
 * The file's content changed: its attributes and pages go (node 0: none
 * known), and its file capabilities, which a write drops without an event
 * of their own (security_inode_killpriv() notifies no one).
 */
static void bf_watch_modified(struct bf_watch *w, uint64_t node)
{
	struct bpfuse *cache = __atomic_load_n(&w->fs->cache, __ATOMIC_ACQUIRE);

	if (!node)
		return;
	bpfuse_attr_inval(cache, node, BPFUSE_CAUSE_EXTERNAL);
	bpfuse_xattr_inval(cache, node, BPFUSE_XATTR_CAPS, BPFUSE_CAUSE_EXTERNAL);
	bf_notify(w, node, NULL, 0);
}

/*
 * Hear the writes of files hushed until `now` or earlier (all with `now` 0)
 * again, and invalidate them for the writes not heard. Returns how many ms
 * until the next one is due, or -1 if none is hushed.
 */
static int bf_watch_unhush(struct bf_watch *w, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	struct bf_hush *h;
	unsigned int i;

	for (i = 0; i < w->nhush;) {
		h = &w->hush[i];
		if (now && h->until > now) {
			next = h->until < next ? h->until : next;
			i++;
			continue;
		}
		/* heard again first: a write after this is an event of its own */
		bf_watch_hush(w, h->fd, FAN_MARK_REMOVE);
		if (now)
			bf_watch_modified(w, bf_table_node_of(&w->fs->table, h->dev, h->ino));
		close(h->fd);
		*h = w->hush[--w->nhush];
	}
	return next == UINT64_MAX ? -1 : (int)(next - now);
}

static void bf_watch_apply(struct bf_watch *w, const struct bf_event *ev)
{
	struct bpfuse *cache = __atomic_load_n(&w->fs->cache, __ATOMIC_ACQUIRE);
	uint64_t dir = bf_watch_node(w, ev->fsid, ev->dir, false);
	uint64_t obj = bf_watch_node(w, ev->fsid, ev->obj, ev->mask & FAN_MODIFY), cached;
	bool dirent = ev->mask & BF_DIRENT_EVENTS;

	/* a directory's own change names the directory itself, as "." */
	if (!obj && ev->name && !strcmp(ev->name, ".")) {
		obj = dir;
		dir = 0;
	}
	if (dirent && dir && ev->name) {
		cached = bpfuse_entry_inval(cache, dir, ev->name, BPFUSE_CAUSE_EXTERNAL);
		/* a deleted or moved-away object is found by its old name */
		if (!obj)
			obj = cached;
		bpfuse_attr_inval(cache, dir, BPFUSE_CAUSE_EXTERNAL);
		bf_notify(w, dir, ev->name, 0);
		/* its attributes, and the listing the kernel may have cached */
		bf_notify(w, dir, NULL, 0);
	}
	if (obj) {
		bpfuse_attr_inval(cache, obj, BPFUSE_CAUSE_EXTERNAL);
		if (ev->mask & FAN_ATTRIB)
			bpfuse_xattr_inval(cache, obj, NULL, BPFUSE_CAUSE_EXTERNAL);
		else if (ev->mask & FAN_MODIFY) /* a write dropped them, unannounced */
			bpfuse_xattr_inval(cache, obj, BPFUSE_XATTR_CAPS, BPFUSE_CAUSE_EXTERNAL);
		/* data too when the content changed */
		bf_notify(w, obj, NULL, ev->mask & FAN_MODIFY ? 0 : -1);
	}
}

static void *bf_watch_main(void *arg)
{
	struct bf_watch *w = arg;
	struct pollfd pfd[2] = { { .fd = w->fan_fd, .events = POLLIN },
				 { .fd = w->stop_fd, .events = POLLIN } };
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct fanotify_event_metadata))));
	const struct fanotify_event_metadata *md;
	struct bf_event ev;
	ssize_t len;
	int wait = -1;

	for (;;) {
		if (poll(pfd, 2, wait) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		/* woken by events, or by the end of a hush (len -1, EAGAIN) */
		len = read(w->fan_fd, buf, sizeof(buf));
		for (md = (const void *)buf; len > 0 && FAN_EVENT_OK(md, len);
		     md = FAN_EVENT_NEXT(md, len)) {
			if (md->vers != FANOTIFY_METADATA_VERSION)
				break;
			if (md->pid == w->self || (md->mask & FAN_Q_OVERFLOW))
				continue;
			bf_event_parse(md, &ev);
			bf_watch_apply(w, &ev);
		}
		wait = bf_watch_unhush(w, bf_now_ms());
	}
	bf_watch_unhush(w, 0);
	return NULL;
}

/*
 * Set up the watch on the file system of backing_fd, a directory opened for
 * reading, which the watcher keeps (and closes, even on failure). Done
 * before the daemon forks into the background; the thread starts after,
 * in bf_watch_run(). Fails where the kernel or the file system cannot
 * report file handles.
 */
int bf_watch_open(struct bf_fs *fs, struct fuse_session *se, int backing_fd, struct bf_watch **out)
{
	struct bf_watch *w;
	struct statfs sfs;
	struct stat st;
	int err;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w) {
		close(backing_fd);
		return -ENOMEM;
	}
	w->fs = fs;
	w->se = se;
	w->stop_fd = -1;
	pthread_mutex_init(&w->fs_lock, NULL);
	pthread_mutex_init(&w->notice_lock, NULL);
	pthread_cond_init(&w->notice_cond, NULL);
	g_queue_init(&w->notices);
	w->sending = g_hash_table_new(g_int64_hash, g_int64_equal);
	w->watched[0].fd = backing_fd;
	if (fstat(backing_fd, &st) == -1 || fstatfs(backing_fd, &sfs) == -1) {
		err = -errno;
		goto out_free;
	}
	w->watched[0].dev = st.st_dev;
	memcpy(&w->watched[0].fsid, &sfs.f_fsid, sizeof(w->watched[0].fsid));
	w->nfs = 1;
	w->fan_fd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME_TARGET |
					  FAN_UNLIMITED_QUEUE | FAN_CLOEXEC | FAN_NONBLOCK,
				  O_RDONLY | O_LARGEFILE);
	if (w->fan_fd == -1) {
		err = -errno;
		goto out_free;
	}
	if (fanotify_mark(w->fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, BF_WATCH_MASK, backing_fd,
			  NULL) == -1) {
		err = -errno;
		goto out_close;
	}
	w->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (w->stop_fd == -1) {
		err = -errno;
		goto out_close;
	}
	*out = w;
	return 0;

out_close:
	close(w->fan_fd);
out_free:
	close(backing_fd);
	g_hash_table_destroy(w->sending);
	free(w);
	return err;
}

/* Start the thread, in the process that will serve the mount. */
int bf_watch_run(struct bf_watch *w)
{
	sigset_t all, old;

	/* libfuse's signal handlers belong to the main thread, as for its workers */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	w->self = getpid();
	while (w->nnotifiers < BF_NOTIFIERS &&
	       !pthread_create(&w->notifiers[w->nnotifiers], NULL, bf_notifier_main, w))
		pthread_setname_np(w->notifiers[w->nnotifiers++], "bpfused-notify");
	w->running = w->nnotifiers &&
		     pthread_create(&w->thread, NULL, bf_watch_main, w) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* for ps -L and top -H, and for the tests to find it (test/lib.sh) */
	if (w->running)
		pthread_setname_np(w->thread, "bpfused-watch");
	return w->running ? 0 : -EAGAIN;
}

void bf_watch_stop(struct bf_watch *w)
{
	uint64_t one = 1;
	unsigned int i;

	if (!w)
		return;
	if (w->running && write(w->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(w->thread, NULL);
	/* after the unmount: a notifier waiting in the kernel is let go */
	pthread_mutex_lock(&w->notice_lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->notice_cond);
	pthread_mutex_unlock(&w->notice_lock);
	for (i = 0; i < w->nnotifiers; i++)
		pthread_join(w->notifiers[i], NULL);
	g_queue_clear_full(&w->notices, bf_notice_free);
	g_hash_table_destroy(w->sending);
	pthread_cond_destroy(&w->notice_cond);
	pthread_mutex_destroy(&w->notice_lock);
	close(w->stop_fd);
	close(w->fan_fd);
	for (i = 0; i < w->nfs; i++)
		close(w->watched[i].fd);
	pthread_mutex_destroy(&w->fs_lock);
	free(w);
}

/* Whether the file system dev is watched. */
bool bf_watch_has(struct bf_watch *w, dev_t dev)
{
	unsigned int i, n = w ? __atomic_load_n(&w->nfs, __ATOMIC_ACQUIRE) : 0;

	for (i = 0; i < n; i++)
		if (w->watched[i].dev == dev)
			return true;
	return false;
}

/*
 * The daemon found dirfd/name on file system dev, which it does not watch
 * yet: a file system mounted inside the backing directory. Mark it too, as
 * the lookup that crosses into it is answered, so that every change there
 * after that lookup is seen as on the backing one. Only a directory (a
 * mount's root) is marked: its fd opens the events' handles. Returns 0 if
 * dev is watched now, else -errno: that file system's nodes then get the
 * unwatched lifetimes (bf_lookup_at()).
 */
int bf_watch_cross(struct bf_watch *w, int dirfd, const char *name, dev_t dev)
{
	struct bf_watched_fs *f;
	char path[BF_PROC_FD_MAX];
	struct statfs sfs;
	struct stat st;
	int fd, err = 0;

	if (!w)
		return -ENOENT;
	if (bf_watch_has(w, dev))
		return 0;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	if (fstat(fd, &st) == -1 || fstatfs(fd, &sfs) == -1) {
		err = -errno;
		goto out_close;
	}
	if (st.st_dev != dev) {
		err = -ESTALE; /* swapped since the lookup saw it */
		goto out_close;
	}
	pthread_mutex_lock(&w->fs_lock);
	if (bf_watch_has(w, dev))
		goto out_unlock;
	err = -ENOSPC;
	if (w->nfs == BF_WATCH_FS_MAX)
		goto out_unlock;
	bf_proc_fd_path(path, fd);
	err = fanotify_mark(w->fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, BF_WATCH_MASK,
			    AT_FDCWD, path) == -1 ? -errno : 0;
	if (err)
		goto out_unlock;
	f = &w->watched[w->nfs];
	*f = (struct bf_watched_fs){ .dev = dev, .fd = fd };
	memcpy(&f->fsid, &sfs.f_fsid, sizeof(f->fsid));
	__atomic_store_n(&w->nfs, w->nfs + 1, __ATOMIC_RELEASE);
	fd = -1; /* kept */
out_unlock:
	pthread_mutex_unlock(&w->fs_lock);
out_close:
	if (fd >= 0)
		close(fd);
	return err;
}
