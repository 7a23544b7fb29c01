// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hook_smoke DAEMON_PID MOUNTPOINT: attach hook_smoke.bpf.c to the FUSE
 * connection of a running bpfused (through a copy of its /dev/fuse fd,
 * pidfd_getfd) and check, through real syscalls, that the kernel answers
 * what the program answers and passes the rest on. Speaks TAP. Needs a
 * kernel with kernel/0001-*.patch.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "hook_smoke.skel.h"

#define FUSE_DEV_IOC_BPFUSE_ATTACH _IOW(229, 100, uint32_t)

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

int main(int argc, char **argv)
{
	char path[512], buf[64];
	struct hook_smoke_bpf *skel;
	struct bpf_link *link = NULL;
	uint32_t map_fd;
	struct stat st;
	int fuse_fd, i;
	ssize_t len;

	if (argc != 3) {
		fprintf(stderr, "usage: hook_smoke DAEMON_PID MOUNTPOINT\n");
		return 2;
	}
	printf("1..7\n");
	skel = hook_smoke_bpf__open_and_load();
	check(skel != NULL, "the struct_ops program loads (the hook's types are in BTF)");
	if (!skel)
		return 1;
	link = bpf_map__attach_struct_ops(skel->maps.smoke);
	check(link != NULL, "registered");
	fuse_fd = daemon_fuse_fd(atoi(argv[1]));
	map_fd = bpf_map__fd(skel->maps.smoke);
	check(fuse_fd >= 0 && ioctl(fuse_fd, FUSE_DEV_IOC_BPFUSE_ATTACH, &map_fd) == 0,
	      "attached to the daemon's connection");
	check(ioctl(fuse_fd, FUSE_DEV_IOC_BPFUSE_ATTACH, &map_fd) == -1 && errno == EBUSY,
	      "a second attach is refused");

	snprintf(path, sizeof(path), "%s/f", argv[2]);
	len = getxattr(path, "user.bpfuse", buf, sizeof(buf));
	check(len == 4 && !memcmp(buf, "hook", 4) && getxattr(path, "user.bpfuse", NULL, 0) == 4 &&
		      skel->bss->answered == 2,
	      "getxattr answered in the kernel, value and size query");
	check(getxattr(path, "user.other", buf, sizeof(buf)) == -1 && skel->bss->answered == 2,
	      "other requests go to the daemon");
	for (i = 0; i < 5; i++)
		stat(path, &st);
	check(skel->bss->lookups_seen >= 5, "LOOKUP replies watched");
	printf("# answered %llu, watched %llu, lookups %llu\n",
	       (unsigned long long)skel->bss->answered, (unsigned long long)skel->bss->watched,
	       (unsigned long long)skel->bss->lookups_seen);
	bpf_link__destroy(link);
	hook_smoke_bpf__destroy(skel);
	return failed ? 1 : 0;
}
