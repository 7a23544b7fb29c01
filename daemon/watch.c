// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Coherence with changes made behind the daemon's back.
 *
 * A fanotify filesystem mark on the backing directory's file system reports
 * each change with the directory's file handle and the entry's name, and
 * the object's own handle. A dedicated thread turns those into
 * invalidations: the map entries go, and the kernel is told
 * (fuse_lowlevel_notify_inval_entry/_inode). It never waits for a request
 * handler, and handlers never wait for it, so it cannot deadlock with them
 * even though the kernel takes directory locks for these notifications.
 *
 * Changes the daemon made itself were invalidated when it made them; their
 * events (same pid) are skipped.
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
#include <unistd.h>

#include "bpfuse.h"
#include "bpfused.h"

#define BF_WATCH_MASK                                                                              \
	(FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_MODIFY | FAN_ATTRIB |       \
	 FAN_ONDIR)
#define BF_DIRENT_EVENTS (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO)

struct bf_watch {
	struct bf_fs *fs;
	struct fuse_session *se;
	int fan_fd;
	int stop_fd; /* eventfd: ends the thread */
	int mount_fd; /* the backing root (not O_PATH), to open handles on */
	pid_t self;
	pthread_t thread;
	bool running;
};

/* What one event says: where (directory + name) and what (the object). */
struct bf_event {
	uint64_t mask;
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
		if (hdr->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
			ev->dir = fh;
			ev->name = (const char *)fh->f_handle + fh->handle_bytes;
		} else if (hdr->info_type == FAN_EVENT_INFO_TYPE_FID) {
			ev->obj = fh;
		}
		p += hdr->len;
	}
}

/* The node behind a handle from the event, or 0 if the kernel knows none. */
static uint64_t bf_watch_node(struct bf_watch *w, struct file_handle *fh)
{
	struct stat st;
	int fd;

	if (!fh)
		return 0;
	fd = open_by_handle_at(w->mount_fd, fh, O_PATH | O_CLOEXEC);
	if (fd == -1)
		return 0; /* gone already: found through its name instead */
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == -1) {
		close(fd);
		return 0;
	}
	close(fd);
	return bf_table_node_of(&w->fs->table, st.st_dev, st.st_ino);
}

static void bf_watch_apply(struct bf_watch *w, const struct bf_event *ev)
{
	struct bpfuse *cache = __atomic_load_n(&w->fs->cache, __ATOMIC_ACQUIRE);
	uint64_t dir = bf_watch_node(w, ev->dir), obj = bf_watch_node(w, ev->obj), cached;
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
		fuse_lowlevel_notify_inval_entry(w->se, dir, ev->name, strlen(ev->name));
		/* its attributes, and the listing the kernel may have cached */
		fuse_lowlevel_notify_inval_inode(w->se, dir, 0, 0);
	}
	if (obj) {
		bpfuse_attr_inval(cache, obj, BPFUSE_CAUSE_EXTERNAL);
		if (ev->mask & FAN_ATTRIB)
			bpfuse_xattr_inval(cache, obj, NULL, BPFUSE_CAUSE_EXTERNAL);
		/* data too when the content changed */
		fuse_lowlevel_notify_inval_inode(w->se, obj, ev->mask & FAN_MODIFY ? 0 : -1, 0);
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

	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		len = read(w->fan_fd, buf, sizeof(buf));
		if (len <= 0)
			continue;
		for (md = (const void *)buf; FAN_EVENT_OK(md, len); md = FAN_EVENT_NEXT(md, len)) {
			if (md->vers != FANOTIFY_METADATA_VERSION)
				break;
			if (md->pid == w->self || (md->mask & FAN_Q_OVERFLOW))
				continue;
			bf_event_parse(md, &ev);
			bf_watch_apply(w, &ev);
		}
	}
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
	int err;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w) {
		close(backing_fd);
		return -ENOMEM;
	}
	w->fs = fs;
	w->se = se;
	w->mount_fd = backing_fd;
	w->stop_fd = -1;
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
	w->running = pthread_create(&w->thread, NULL, bf_watch_main, w) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return w->running ? 0 : -EAGAIN;
}

void bf_watch_stop(struct bf_watch *w)
{
	uint64_t one = 1;

	if (!w)
		return;
	if (w->running && write(w->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(w->thread, NULL);
	close(w->stop_fd);
	close(w->fan_fd);
	close(w->mount_fd);
	free(w);
}
