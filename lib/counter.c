// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libbpfuse: request statistics for a FUSE mount that no bpfuse daemon
 * serves (sshfs, s3fs, libfuse's examples, unmodified). The counting
 * programs are the daemon's (kext/bpfuse.bpf.c), loaded for that mount's
 * connection by a small process of their own, which holds them, pins
 * their statistics where bpfusectl looks, and removes it all when the
 * mount goes or when asked to stop. Root only, as every pin here.
 */
#include "config.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bpfuse_i.h"
#include "bpfuse.skel.h"

#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif

/* What the counting process tells the caller once it counts, or why it cannot. */
struct counter_status {
	int err;
	int why; /* -EOPNOTSUPP: why no way of counting loaded */
};

/* Load, pin and fill in the statistics of the mount at mountpoint. */
static int counter_load(struct bpfuse *b, const char *mountpoint)
{
	int err;

	b->counter = true;
	b->entries = 64;
	err = bpfuse_mount_ids(mountpoint, &b->mnt_id, &b->kdev);
	if (!err)
		err = bpfuse_pin_dir(b->mnt_id, b->pin_dir, sizeof(b->pin_dir));
	if (!err)
		err = bpfuse_load(b);
	if (err)
		return err;
	if (b->probe == BPFUSE_PROBE_NONE)
		return -EOPNOTSUPP;
	err = bpfuse_map_stats(b, bpf_map__fd(b->skel->maps.stats));
	if (err)
		return err;
	b->mode = BPFUSE_MODE_COUNT;
	b->stats->mode = BPFUSE_MODE_COUNT;
	b->stats->upcall_probe = b->probe;
	b->stats->daemon_pid = getpid();
	b->stats->dev = b->kdev;
	return bpfuse_pin(b, false);
}

/* Until the mount is gone or one of the (blocked) signals in set asks to stop. */
static void counter_wait(const char *id, const sigset_t *set)
{
	struct pollfd pfd[2];
	int mi;

	pfd[1].fd = signalfd(-1, set, SFD_CLOEXEC);
	pfd[1].events = POLLIN;
	/* the mount table signals every change as POLLPRI on this file */
	mi = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	pfd[0].fd = mi;
	pfd[0].events = POLLPRI;
	while (bpfuse_mount_exists(id)) {
		if (poll(pfd, 2, mi < 0 ? 1000 : -1) == -1 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
	}
	if (mi >= 0)
		close(mi);
}

static void counter_main(const char *mountpoint, int report)
{
	struct counter_status st = { 0 };
	struct bpfuse *b = bpfuse_alloc();
	char id[24];
	sigset_t set;
	int null;

	/* off the caller's terminal and pipes, out of its way */
	setsid();
	if (chdir("/") == -1)
		_exit(1);
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	st.err = b ? counter_load(b, mountpoint) : -ENOMEM;
	if (st.err == -EOPNOTSUPP)
		st.why = b->upcall_err;
	if (write(report, &st, sizeof(st)) != sizeof(st) || st.err) {
		bpfuse_mount_close(b);
		_exit(1);
	}
	close(report);
	snprintf(id, sizeof(id), "%llu", (unsigned long long)b->mnt_id);
	counter_wait(id, &set);
	/* a bpfuse daemon that came after us took the directory: it is its own */
	b->owner = bpfuse_pinned_counter(b->pin_dir) == getpid();
	bpfuse_mount_close(b);
	_exit(0);
}

int bpfuse_counter_start(const char *mountpoint, pid_t *pid, int *why)
{
	struct counter_status st = { .err = -EIO };
	char dir[64];
	struct statx stx;
	struct statfs sfs;
	int fds[2], wstatus;
	ssize_t n;

	*why = 0;
	if (statx(AT_FDCWD, mountpoint, AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) == -1)
		return -errno;
	if (!(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		return -EINVAL;
	if (statfs(mountpoint, &sfs) == -1)
		return -errno;
	if (sfs.f_type != FUSE_SUPER_MAGIC)
		return -EMEDIUMTYPE;
	if (statfs("/sys/fs/bpf", &sfs) == -1 || sfs.f_type != BPF_FS_MAGIC)
		return -ENOMEDIUM;
	bpfuse_mount_sweep();
	bpfuse_pin_dir(stx.stx_mnt_id, dir, sizeof(dir));
	if (access(dir, F_OK) == 0)
		return -EEXIST;
	if (errno == EACCES)
		return -EACCES;
	if (pipe2(fds, O_CLOEXEC) == -1)
		return -errno;
	*pid = fork();
	if (*pid == -1) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (*pid == 0) {
		close(fds[0]);
		counter_main(mountpoint, fds[1]);
	}
	close(fds[1]);
	n = read(fds[0], &st, sizeof(st));
	close(fds[0]);
	if (n != sizeof(st)) {
		/* it died before it could say */
		waitpid(*pid, &wstatus, 0);
		return -EIO;
	}
	if (st.err) {
		waitpid(*pid, &wstatus, 0);
		*why = st.why;
		return st.err;
	}
	return 0;
}

/* End the counting of a mount that bpfuse_counter_start() counts. */
int bpfuse_counter_stop(const char *mountpoint, pid_t *pid)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	struct bpfuse *b;
	char dir[64];
	int err, i;

	err = bpfuse_view_open(mountpoint, &b);
	if (err)
		return err;
	*pid = b->stats->daemon_pid;
	if (b->mode != BPFUSE_MODE_COUNT) {
		bpfuse_mount_close(b);
		return -EEXIST;
	}
	snprintf(dir, sizeof(dir), "%s", b->pin_dir);
	bpfuse_mount_close(b);
	if (kill(*pid, SIGTERM) == -1)
		return -errno;
	for (i = 0; i < 300 && access(dir, F_OK) == 0; i++)
		nanosleep(&tick, NULL);
	return access(dir, F_OK) == 0 ? -ETIMEDOUT : 0;
}
