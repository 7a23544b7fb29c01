// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hook_smoke DAEMON_PID MOUNTPOINT BACKING_DIR: attach hook_smoke.bpf.c to
 * the FUSE connection of a running bpfused (through a copy of its /dev/fuse
 * fd, pidfd_getfd) and check, through real syscalls, that the kernel
 * answers what the program answers, passes the rest on, and refuses what
 * the hook must refuse; last, it aborts the connection. Speaks TAP. Needs
 * a kernel with kernel/0001-*.patch.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/types.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "bpfuse_attach.h"
#include "hook_foreign.skel.h"
#include "hook_scribble.skel.h"
#include "hook_smoke.skel.h"

static int n, failed;

static void check(int ok, const char *what)
{
	printf("%sok %d - %s\n", ok ? "" : "not ", ++n, what);
	failed += !ok;
}

/* A copy of the daemon's /dev/fuse descriptor. */
static int daemon_fuse_fd(pid_t pid)
{
	char dir[64], link[PATH_MAX], target[64];
	struct dirent *de;
	int pidfd, fd = -1;
	ssize_t len;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	dp = opendir(dir);
	if (!dp)
		return -1;
	while (fd < 0 && (de = readdir(dp))) {
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (strcmp(target, "/dev/fuse"))
			continue;
		pidfd = syscall(SYS_pidfd_open, pid, 0);
		if (pidfd >= 0) {
			fd = syscall(SYS_pidfd_getfd, pidfd, atoi(de->d_name), 0);
			close(pidfd);
		}
	}
	closedir(dp);
	return fd;
}

/* libbpf's messages, kept to find the verifier's reason in */
static char log_buf[16384];
static size_t log_len;

static int keep_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	int len;

	(void)level;
	if (log_len < sizeof(log_buf) - 1) {
		len = vsnprintf(log_buf + log_len, sizeof(log_buf) - log_len, fmt, ap);
		if (len > 0)
			log_len += (size_t)len < sizeof(log_buf) - log_len ? (size_t)len
									   : sizeof(log_buf) - 1 - log_len;
	}
	return 0;
}

/* Load the smoke program with its map made a link map, as libbpfuse does. */
static struct hook_smoke_bpf *smoke_load(struct bpf_link **link)
{
	struct hook_smoke_bpf *skel = hook_smoke_bpf__open();

	*link = NULL;
	if (!skel)
		return NULL;
	if (bpf_map__set_map_flags(skel->maps.smoke, BPFUSE_MAP_F_LINK) ||
	    hook_smoke_bpf__load(skel)) {
		hook_smoke_bpf__destroy(skel);
		return NULL;
	}
	*link = bpf_map__attach_struct_ops(skel->maps.smoke);
	return skel;
}

static int attach_flags(int fuse_fd, struct hook_smoke_bpf *skel, uint32_t flags)
{
	struct fuse_bpfuse_attach a = { .map_fd = bpf_map__fd(skel->maps.smoke), .flags = flags };

	return ioctl(fuse_fd, FUSE_DEV_IOC_BPFUSE_ATTACH, &a);
}

static int attach(int fuse_fd, struct hook_smoke_bpf *skel)
{
	return attach_flags(fuse_fd, skel, 0);
}

int main(int argc, char **argv)
{
	char path[512], back[512], buf[64], conn[128];
	struct hook_smoke_bpf *skel, *other;
	struct hook_foreign_bpf *foreign;
	struct hook_scribble_bpf *scribble;
	struct bpf_link *link, *other_link;
	struct stat st;
	int fuse_fd, fd, i;
	ssize_t len;
	FILE *f;

	if (argc != 4) {
		fprintf(stderr, "usage: hook_smoke DAEMON_PID MOUNTPOINT BACKING_DIR\n");
		return 2;
	}
	printf("1..17\n");
	skel = smoke_load(&link);
	check(skel != NULL && link != NULL,
	      "the struct_ops program loads (the hook's types are in BTF) and its value is set");
	if (!skel)
		return 1;
	fuse_fd = daemon_fuse_fd(atoi(argv[1]));
	check(fuse_fd >= 0 && attach_flags(fuse_fd, skel, 1U << 31) == -1 && errno == EINVAL,
	      "an attach with a flag the kernel does not know is refused (EINVAL)");
	check(fuse_fd >= 0 && attach(fuse_fd, skel) == 0, "attached to the daemon's connection");
	other = smoke_load(&other_link);
	check(other && attach(fuse_fd, other) == -1 && errno == EBUSY,
	      "a second attach is refused");

	snprintf(path, sizeof(path), "%s/f", argv[2]);
	len = getxattr(path, "user.bpfuse", buf, sizeof(buf));
	check(len == 4 && !memcmp(buf, "hook", 4) && getxattr(path, "user.bpfuse", NULL, 0) == 4 &&
		      skel->bss->answered == 2,
	      "getxattr answered in the kernel, value and size query");
	check(getxattr(path, "user.other", buf, sizeof(buf)) == -1 && skel->bss->answered == 2,
	      "other requests go to the daemon");
	check(skel->data->small_buf == -E2BIG, "an argument larger than the buffer: -E2BIG");
	for (i = 0; i < 5; i++)
		stat(path, &st);
	check(skel->bss->lookups_seen >= 5, "LOOKUP replies watched");
	check(skel->bss->cookies_kept == skel->bss->lookups_seen,
	      "reply() sees the cookie its request() left");

	/* arguments in pages: refused, and the daemon answers */
	fd = open(path, O_RDWR);
	len = fd >= 0 ? pread(fd, buf, sizeof(buf), 0) : -1;
	check(len == 5 && !memcmp(buf, "data\n", 5) && skel->data->read_out == -EINVAL,
	      "READ's out argument is in pages: refused, the daemon reads");
	check(fd >= 0 && pwrite(fd, "DATA\n", 5, 0) == 5 && skel->data->write_in == -EINVAL,
	      "WRITE's payload is in pages: refused");
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/l", argv[2]);
	len = symlink("target", path) == 0 ? readlink(path, buf, sizeof(buf)) : -1;
	check(len == 6 && !memcmp(buf, "target", 6) && skel->data->readlink_out == -EINVAL,
	      "READLINK's out argument is in pages: refused, the daemon answers");

	/* "answered" without out arguments: only FLUSH and RELEASE may be */
	snprintf(path, sizeof(path), "%s/f", argv[2]);
	snprintf(back, sizeof(back), "%s/f", argv[3]);
	check(unlink(path) == 0 && access(back, F_OK) == -1 && errno == ENOENT,
	      "an UNLINK \"answered\" without the daemon still reaches it");

	/* another type's struct_ops may not call the kfuncs */
	libbpf_set_print(keep_log);
	foreign = hook_foreign_bpf__open_and_load();
	libbpf_set_print(NULL);
	check(!foreign && strstr(log_buf, "bpfuse_set_error is not allowed"),
	      "a tcp_congestion_ops program calling a bpfuse kfunc does not load");
	if (!foreign && !strstr(log_buf, "is not allowed"))
		printf("# %.*s\n", 400, log_buf);
	log_len = 0;
	log_buf[0] = '\0';
	libbpf_set_print(keep_log);
	scribble = hook_scribble_bpf__open_and_load();
	libbpf_set_print(NULL);
	check(!scribble && strstr(log_buf, "writes only bpfuse_req.cookie"),
	      "a program writing a request's field other than the cookie does not load");
	if (scribble)
		hook_scribble_bpf__destroy(scribble);

	/* an aborted connection: nothing answered in the kernel any more */
	conn[0] = '\0';
	if (stat(argv[2], &st) == 0)
		snprintf(conn, sizeof(conn), "/sys/fs/fuse/connections/%u/abort", minor(st.st_dev));
	f = fopen(conn, "w");
	check(f && fputs("1", f) >= 0 && fclose(f) == 0, "the connection is aborted");
	errno = 0;
	check(getxattr(argv[2], "user.bpfuse", buf, sizeof(buf)) == -1 && errno == ENOTCONN,
	      "after the abort, getxattr fails ENOTCONN instead of being answered");
	printf("# answered %llu, watched %llu, lookups %llu\n",
	       (unsigned long long)skel->bss->answered, (unsigned long long)skel->bss->watched,
	       (unsigned long long)skel->bss->lookups_seen);
	bpf_link__destroy(other_link);
	hook_smoke_bpf__destroy(other);
	bpf_link__destroy(link);
	hook_smoke_bpf__destroy(skel);
	return failed ? 1 : 0;
}
