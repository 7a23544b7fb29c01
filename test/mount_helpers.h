/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by the mount and CLI tests: a bpfused mount over a private tmpfs. */
#ifndef MOUNT_HELPERS_H
#define MOUNT_HELPERS_H

#include <stdbool.h>
#include <sys/types.h>

struct bf_mount {
	char base[64]; /* /tmp/bpfuse-test.XXXXXX */
	char back[96]; /* base/back: a tmpfs, the backing directory */
	char mnt[96]; /* base/mnt: the bpfused mount */
	char log[96]; /* base/log: the daemon's stderr */
	pid_t pid;
};

void bf_require_root(void);
void bf_mount_start(struct bf_mount *m, const char *opts);
int bf_mount_stop(struct bf_mount *m);
bool bf_is_mountpoint(const char *path);
const char *bf_path(const char *root, const char *fmt, ...);
int bf_as_user(uid_t uid, gid_t gid, mode_t umask, int (*fn)(void *), void *arg);
int bf_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int bf_spawn(const char *const argv[], uid_t uid, char *out, size_t outsz);
void bf_write_file(const char *path, const char *data, mode_t mode);
char *bf_read_file(const char *path);

#endif
