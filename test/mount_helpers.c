// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Test helpers: start bpfused over a private tmpfs, stop it whatever
 * happened (lazy unmount, then kill), and run code as another user.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mount_helpers.h"

void bf_require_root(void)
{
	cr_assert_eq(geteuid(), 0, "these tests mount file systems: run them as root");
	cr_assert_eq(access("/dev/fuse", R_OK | W_OK), 0, "these tests need /dev/fuse: %s",
		     strerror(errno));
}

bool bf_is_mountpoint(const char *path)
{
	struct statx stx;

	/* cached attributes only: a mount whose daemon hangs must not hang the test */
	if (statx(AT_FDCWD, path, AT_NO_AUTOMOUNT | AT_STATX_DONT_SYNC, STATX_TYPE, &stx) == -1)
		return false;
	return stx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
}

static void bf_sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

void bf_mount_start(struct bf_mount *m, const char *opts)
{
	int i, logfd;

	bf_require_root();
	memset(m, 0, sizeof(*m));
	snprintf(m->base, sizeof(m->base), "/tmp/bpfuse-test.XXXXXX");
	cr_assert_not_null(mkdtemp(m->base));
	cr_assert_eq(chmod(m->base, 0755), 0, "other users must reach the mount");
	snprintf(m->back, sizeof(m->back), "%s/back", m->base);
	snprintf(m->mnt, sizeof(m->mnt), "%s/mnt", m->base);
	snprintf(m->log, sizeof(m->log), "%s/log", m->base);
	cr_assert_eq(mkdir(m->back, 0755), 0);
	cr_assert_eq(mkdir(m->mnt, 0755), 0);
	cr_assert_eq(mount("bpfuse-test", m->back, "tmpfs", 0, "mode=0755"), 0, "mount tmpfs: %s",
		     strerror(errno));

	m->pid = fork();
	cr_assert_geq(m->pid, 0);
	if (m->pid == 0) {
		/* If the test dies, the daemon unmounts and exits with it. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		logfd = open(m->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(logfd, 2);
		if (opts && *opts)
			execl(BPFUSED_PATH, "bpfused", "-f", "-o", opts, m->back, m->mnt, NULL);
		else
			execl(BPFUSED_PATH, "bpfused", "-f", m->back, m->mnt, NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && !bf_is_mountpoint(m->mnt); i++) {
		if (waitpid(m->pid, NULL, WNOHANG) == m->pid) {
			m->pid = 0;
			cr_assert_fail("bpfused exited before mounting; see %s", m->log);
		}
		bf_sleep_ms(10);
	}
	cr_assert(bf_is_mountpoint(m->mnt), "bpfused did not mount %s within 5 s", m->mnt);
}

/* Unmount, reap the daemon and remove everything; returns its exit status. */
int bf_mount_stop(struct bf_mount *m)
{
	char cmd[128];
	int i, status = -1;

	if (!m->base[0])
		return -1;
	/* unconditionally: a dead daemon's mount cannot even be stat'ed */
	umount2(m->mnt, MNT_DETACH);
	for (i = 0; m->pid > 0 && i < 500; i++) {
		if (waitpid(m->pid, &status, WNOHANG) == m->pid) {
			m->pid = 0;
			break;
		}
		bf_sleep_ms(10);
	}
	if (m->pid > 0) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, &status, 0);
		m->pid = 0;
	}
	umount2(m->back, MNT_DETACH);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", m->base);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", m->base);
	m->base[0] = '\0';
	return status;
}

/* root/fmt..., in one of a few rotating buffers so calls can be nested. */
const char *bf_path(const char *root, const char *fmt, ...)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];
	size_t n;
	va_list ap;

	n = snprintf(b, 512, "%s/", root);
	va_start(ap, fmt);
	vsnprintf(b + n, 512 - n, fmt, ap);
	va_end(ap);
	return b;
}

/* Run fn in a child with the given ids and umask; returns fn's result. */
int bf_as_user(uid_t uid, gid_t gid, mode_t mask, int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(gid) || setuid(uid))
			_exit(126);
		umask(mask);
		_exit(fn(arg) & 0xff);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "child killed by signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

/* system() on a formatted command line; returns its exit status. */
int bf_system(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	int n, status;

	va_start(ap, fmt);
	n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	cr_assert_geq(n, 0);
	status = system(cmd);
	free(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/*
 * Run argv (as uid, when not 0) with stderr and stdout captured in out.
 * Returns the exit status.
 */
int bf_spawn(const char *const argv[], uid_t uid, char *out, size_t outsz)
{
	int p[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]); /* a daemon that forks keeps only what it was given */
		if (uid && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	while (got + 1 < outsz && (n = read(p[0], out + got, outsz - 1 - got)) > 0)
		got += n;
	out[got] = '\0';
	close(p[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void bf_write_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	cr_assert_eq(close(fd), 0);
}

/* Reads without moving atime, so checking the backing side changes nothing. */
char *bf_read_file(const char *path)
{
	static char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOATIME | O_CLOEXEC);

	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	cr_assert_geq(n, 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}
