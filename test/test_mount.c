// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Integration: every operation through a real bpfused mount, checked
 * against the backing directory with the same syscalls. Built three times:
 * with the default options (zero-message opens), with cache=never (real
 * opens) and with passthrough (BF_TEST_OPTS).
 */
#include "config.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "mount_helpers.h"

#define NOBODY 65534

static struct bf_mount M;

#define MNT(...)  bf_path(M.mnt, __VA_ARGS__)
#define BACK(...) bf_path(M.back, __VA_ARGS__)

static void setup(void)
{
	bf_mount_start(&M, BF_TEST_OPTS);
}

static void teardown(void)
{
	bf_mount_stop(&M);
}

TestSuite(mount, .init = setup, .fini = teardown, .timeout = 120);

/* The mount shows exactly what the backing directory holds. */
static void same_stat(const char *rel)
{
	struct stat a, b;

	cr_assert_eq(lstat(MNT("%s", rel), &a), 0, "lstat mnt/%s: %s", rel, strerror(errno));
	cr_assert_eq(lstat(BACK("%s", rel), &b), 0, "lstat back/%s: %s", rel, strerror(errno));
	cr_assert_eq(a.st_ino, b.st_ino, "%s: ino", rel);
	cr_assert_eq(a.st_mode, b.st_mode, "%s: mode %o vs %o", rel, a.st_mode, b.st_mode);
	cr_assert_eq(a.st_nlink, b.st_nlink, "%s: nlink %lu vs %lu", rel, a.st_nlink, b.st_nlink);
	cr_assert_eq(a.st_uid, b.st_uid, "%s: uid", rel);
	cr_assert_eq(a.st_gid, b.st_gid, "%s: gid", rel);
	cr_assert_eq(a.st_size, b.st_size, "%s: size %ld vs %ld", rel, a.st_size, b.st_size);
	cr_assert_eq(a.st_rdev, b.st_rdev, "%s: rdev", rel);
	cr_assert_eq(a.st_blocks, b.st_blocks, "%s: blocks", rel);
	cr_assert_eq(a.st_mtim.tv_sec, b.st_mtim.tv_sec, "%s: mtime", rel);
	cr_assert_eq(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec, "%s: mtime ns", rel);
	cr_assert_eq(a.st_ctim.tv_sec, b.st_ctim.tv_sec, "%s: ctime", rel);
	cr_assert_eq(a.st_ctim.tv_nsec, b.st_ctim.tv_nsec, "%s: ctime ns", rel);
	cr_assert_eq(a.st_atim.tv_sec, b.st_atim.tv_sec, "%s: atime", rel);
	cr_assert_eq(a.st_atim.tv_nsec, b.st_atim.tv_nsec, "%s: atime ns", rel);
}

static int errno_of(int res)
{
	return res == -1 ? errno : 0;
}

/* ---- lookup, getattr, readlink ------------------------------------------ */

Test(mount, lookup_and_getattr_match_backing)
{
	bf_write_file(BACK("f"), "0123456789", 0640);
	cr_assert_eq(mkdir(BACK("d"), 0750), 0);
	same_stat("f");
	same_stat("d");
}

Test(mount, missing_names_are_enoent)
{
	struct stat st;

	cr_assert_eq(errno_of(stat(MNT("nope"), &st)), ENOENT);
	cr_assert_eq(errno_of(stat(MNT("nope"), &st)), ENOENT, "negative entry");
	cr_assert_eq(errno_of(stat(MNT("nope/deeper"), &st)), ENOENT);
	bf_write_file(MNT("nope"), "x", 0644);
	cr_assert_eq(stat(MNT("nope"), &st), 0, "created after a negative lookup");
}

Test(mount, symlink_and_readlink)
{
	char a[256] = { 0 }, b[256] = { 0 };

	cr_assert_eq(symlink("some/where/../target", MNT("l")), 0);
	cr_assert_gt(readlink(MNT("l"), a, sizeof(a)), 0);
	cr_assert_gt(readlink(BACK("l"), b, sizeof(b)), 0);
	cr_assert_str_eq(a, "some/where/../target");
	cr_assert_str_eq(a, b);
	same_stat("l");
	bf_write_file(MNT("t"), "via link", 0644);
	cr_assert_eq(symlink("t", MNT("l2")), 0);
	cr_assert_str_eq(bf_read_file(MNT("l2")), "via link");
}

/* ---- setattr ------------------------------------------------------------- */

Test(mount, chmod_chown_truncate)
{
	bf_write_file(MNT("f"), "hello world", 0644);
	cr_assert_eq(chmod(MNT("f"), 04751), 0);
	same_stat("f");
	cr_assert_eq(chown(MNT("f"), 1234, 5678), 0);
	same_stat("f");
	cr_assert_eq(lchown(MNT("f"), -1, 42), 0);
	same_stat("f");
	cr_assert_eq(truncate(MNT("f"), 5), 0);
	cr_assert_str_eq(bf_read_file(BACK("f")), "hello");
	cr_assert_eq(truncate(MNT("f"), 100000), 0);
	same_stat("f");
}

Test(mount, chown_clears_setuid_like_backing)
{
	struct stat st;

	bf_write_file(MNT("f"), "x", 0755);
	cr_assert_eq(chmod(MNT("f"), 06755), 0);
	cr_assert_eq(chown(MNT("f"), 1, 1), 0);
	cr_assert_eq(stat(BACK("f"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755, "mode %o", st.st_mode & 07777);
	same_stat("f");
}

Test(mount, utimens_explicit_now_and_omit)
{
	struct timespec ts[2] = { { 1000, 111 }, { 2000, 222 } };
	struct timespec omit[2] = { { 0, UTIME_OMIT }, { 3000, 333 } };
	struct timespec now[2] = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } };
	struct stat st;

	bf_write_file(MNT("f"), "x", 0644);
	cr_assert_eq(utimensat(AT_FDCWD, MNT("f"), ts, 0), 0);
	cr_assert_eq(stat(BACK("f"), &st), 0);
	cr_assert_eq(st.st_atim.tv_sec, 1000);
	cr_assert_eq(st.st_atim.tv_nsec, 111);
	cr_assert_eq(st.st_mtim.tv_sec, 2000);
	cr_assert_eq(st.st_mtim.tv_nsec, 222);
	same_stat("f");
	cr_assert_eq(utimensat(AT_FDCWD, MNT("f"), omit, 0), 0);
	cr_assert_eq(stat(BACK("f"), &st), 0);
	cr_assert_eq(st.st_atim.tv_sec, 1000, "atime omitted");
	cr_assert_eq(st.st_mtim.tv_sec, 3000);
	cr_assert_eq(utimensat(AT_FDCWD, MNT("f"), now, 0), 0);
	cr_assert_eq(stat(BACK("f"), &st), 0);
	cr_assert_gt(st.st_atim.tv_sec, 1000000000, "atime now");
	cr_assert_eq(st.st_mtim.tv_sec, 3000, "mtime omitted");
	same_stat("f");
	/* a symlink's own times */
	cr_assert_eq(symlink("f", MNT("l")), 0);
	cr_assert_eq(utimensat(AT_FDCWD, MNT("l"), ts, AT_SYMLINK_NOFOLLOW), 0);
	cr_assert_eq(lstat(BACK("l"), &st), 0);
	cr_assert_eq(st.st_mtim.tv_sec, 2000);
	same_stat("l");
}

Test(mount, ftruncate_and_fchmod_through_fd)
{
	int fd = open(MNT("f"), O_CREAT | O_RDWR, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "abcdef", 6), 6);
	cr_assert_eq(ftruncate(fd, 3), 0);
	cr_assert_eq(fchmod(fd, 0640), 0);
	cr_assert_eq(close(fd), 0);
	same_stat("f");
	cr_assert_str_eq(bf_read_file(BACK("f")), "abc");
}

/* ---- names --------------------------------------------------------------- */

Test(mount, mknod_fifo_and_device)
{
	struct stat st;

	cr_assert_eq(mkfifo(MNT("fifo"), 0640), 0);
	cr_assert_eq(mknod(MNT("null"), S_IFCHR | 0666, makedev(1, 3)), 0);
	cr_assert_eq(mknod(MNT("reg"), S_IFREG | 0600, 0), 0);
	cr_assert_eq(stat(BACK("fifo"), &st), 0);
	cr_assert(S_ISFIFO(st.st_mode));
	cr_assert_eq(stat(BACK("null"), &st), 0);
	cr_assert(S_ISCHR(st.st_mode));
	cr_assert_eq(st.st_rdev, makedev(1, 3));
	same_stat("fifo");
	same_stat("null");
	same_stat("reg");
	/* like libfuse, bpfused mounts nodev unless given -o dev */
	cr_assert_eq(errno_of(open(MNT("null"), O_WRONLY)), EACCES);
}

Test(mount, fifo_carries_data)
{
	char buf[8] = { 0 };
	pid_t pid;
	int fd, status;

	cr_assert_eq(mkfifo(MNT("p"), 0600), 0);
	pid = fork();
	if (pid == 0) {
		fd = open(MNT("p"), O_WRONLY);
		_exit(fd >= 0 && write(fd, "ping", 4) == 4 ? 0 : 1);
	}
	fd = open(MNT("p"), O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(read(fd, buf, sizeof(buf)), 4);
	cr_assert_str_eq(buf, "ping");
	close(fd);
	waitpid(pid, &status, 0);
	cr_assert_eq(WEXITSTATUS(status), 0);
}

Test(mount, mkdir_rmdir)
{
	struct stat st;

	cr_assert_eq(mkdir(MNT("d"), 0751), 0);
	same_stat("d");
	same_stat("");
	bf_write_file(MNT("d/f"), "x", 0644);
	cr_assert_eq(errno_of(rmdir(MNT("d"))), ENOTEMPTY);
	cr_assert_eq(errno_of(mkdir(MNT("d"), 0755)), EEXIST);
	cr_assert_eq(unlink(MNT("d/f")), 0);
	cr_assert_eq(rmdir(MNT("d")), 0);
	cr_assert_eq(errno_of(stat(BACK("d"), &st)), ENOENT);
	cr_assert_eq(errno_of(stat(MNT("d"), &st)), ENOENT);
	same_stat("");
}

Test(mount, unlink_updates_parent_and_links)
{
	struct stat st;

	cr_assert_eq(mkdir(MNT("d"), 0755), 0);
	bf_write_file(MNT("d/f"), "x", 0644);
	cr_assert_eq(link(MNT("d/f"), MNT("d/g")), 0);
	same_stat("d/f");
	cr_assert_eq(unlink(MNT("d/f")), 0);
	cr_assert_eq(errno_of(lstat(MNT("d/f"), &st)), ENOENT);
	same_stat("d");
	same_stat("d/g");
	cr_assert_eq(stat(MNT("d/g"), &st), 0);
	cr_assert_eq(st.st_nlink, 1);
}

Test(mount, open_then_unlink)
{
	char buf[16] = { 0 };
	struct stat st;
	int fd = open(MNT("f"), O_CREAT | O_RDWR, 0644);

	cr_assert_geq(fd, 0);
	cr_assert_eq(unlink(MNT("f")), 0);
	cr_assert_eq(pwrite(fd, "still here", 10, 0), 10);
	cr_assert_eq(pread(fd, buf, sizeof(buf), 0), 10);
	cr_assert_str_eq(buf, "still here");
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_nlink, 0);
	cr_assert_eq(st.st_size, 10);
	cr_assert_eq(fchmod(fd, 0600), 0);
	cr_assert_eq(close(fd), 0);
	cr_assert_eq(errno_of(stat(BACK("f"), &st)), ENOENT);
}

Test(mount, hard_links_count)
{
	struct stat st;

	bf_write_file(MNT("a"), "shared", 0644);
	cr_assert_eq(link(MNT("a"), MNT("b")), 0);
	cr_assert_eq(link(MNT("b"), MNT("c")), 0);
	cr_assert_eq(stat(MNT("a"), &st), 0);
	cr_assert_eq(st.st_nlink, 3);
	same_stat("a");
	same_stat("c");
	cr_assert_eq(errno_of(link(MNT("a"), MNT("b"))), EEXIST);
	cr_assert_eq(mkdir(MNT("d"), 0755), 0);
	cr_assert_eq(errno_of(link(MNT("d"), MNT("e"))), EPERM);
	cr_assert_eq(unlink(MNT("b")), 0);
	same_stat("a");
	cr_assert_eq(stat(MNT("c"), &st), 0);
	cr_assert_eq(st.st_nlink, 2);
}

Test(mount, rename_plain_and_over_target)
{
	struct stat st, victim;

	bf_write_file(MNT("a"), "A", 0644);
	bf_write_file(MNT("b"), "B", 0644);
	cr_assert_eq(link(MNT("b"), MNT("b2")), 0);
	cr_assert_eq(stat(MNT("b"), &victim), 0);
	cr_assert_eq(rename(MNT("a"), MNT("b")), 0);
	cr_assert_eq(errno_of(stat(MNT("a"), &st)), ENOENT);
	cr_assert_str_eq(bf_read_file(MNT("b")), "A");
	cr_assert_str_eq(bf_read_file(BACK("b")), "A");
	cr_assert_eq(stat(MNT("b2"), &st), 0);
	cr_assert_eq(st.st_nlink, 1, "the replaced target lost a link");
	same_stat("b");
	same_stat("b2");
	/* across directories */
	cr_assert_eq(mkdir(MNT("d1"), 0755), 0);
	cr_assert_eq(mkdir(MNT("d2"), 0755), 0);
	cr_assert_eq(rename(MNT("b"), MNT("d1/x")), 0);
	cr_assert_eq(rename(MNT("d1"), MNT("d2/sub")), 0);
	cr_assert_str_eq(bf_read_file(MNT("d2/sub/x")), "A");
	same_stat("d2");
	same_stat("d2/sub");
	/* a directory over an empty one, not over a full one */
	cr_assert_eq(mkdir(MNT("e"), 0755), 0);
	cr_assert_eq(errno_of(rename(MNT("e"), MNT("d2"))), ENOTEMPTY);
	cr_assert_eq(rename(MNT("d2/sub"), MNT("e")), 0);
	cr_assert_str_eq(bf_read_file(MNT("e/x")), "A");
}

Test(mount, rename_noreplace_and_exchange)
{
	bf_write_file(MNT("a"), "A", 0644);
	bf_write_file(MNT("b"), "B", 0644);
	cr_assert_eq(errno_of(renameat2(AT_FDCWD, MNT("a"), AT_FDCWD, MNT("b"), RENAME_NOREPLACE)),
		     EEXIST);
	cr_assert_eq(renameat2(AT_FDCWD, MNT("a"), AT_FDCWD, MNT("c"), RENAME_NOREPLACE), 0);
	cr_assert_eq(renameat2(AT_FDCWD, MNT("b"), AT_FDCWD, MNT("c"), RENAME_EXCHANGE), 0);
	cr_assert_str_eq(bf_read_file(MNT("b")), "A");
	cr_assert_str_eq(bf_read_file(MNT("c")), "B");
	cr_assert_str_eq(bf_read_file(BACK("c")), "B");
	same_stat("b");
	same_stat("c");
	cr_assert_eq(errno_of(renameat2(AT_FDCWD, MNT("b"), AT_FDCWD, MNT("zz"), RENAME_EXCHANGE)),
		     ENOENT);
}

/* ---- file data ----------------------------------------------------------- */

Test(mount, write_read_trunc_append)
{
	char buf[64] = { 0 };
	int fd;

	bf_write_file(MNT("f"), "first version", 0644);
	cr_assert_str_eq(bf_read_file(BACK("f")), "first version");
	fd = open(MNT("f"), O_WRONLY | O_TRUNC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "2nd", 3), 3);
	close(fd);
	cr_assert_str_eq(bf_read_file(MNT("f")), "2nd");
	fd = open(MNT("f"), O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, "+a", 2, 0), 2, "O_APPEND ignores the offset");
	cr_assert_eq(write(fd, "+b", 2), 2);
	close(fd);
	cr_assert_str_eq(bf_read_file(BACK("f")), "2nd+a+b");
	fd = open(MNT("f"), O_RDONLY);
	cr_assert_eq(pread(fd, buf, 3, 3), 3);
	cr_assert_str_eq(buf, "+a+");
	close(fd);
	same_stat("f");
}

Test(mount, create_exclusive)
{
	int fd = open(MNT("f"), O_CREAT | O_EXCL | O_WRONLY, 0600);

	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(errno_of(open(MNT("f"), O_CREAT | O_EXCL | O_WRONLY, 0600)), EEXIST);
	/* a file created read-only can still be written through the new fd */
	fd = open(MNT("ro"), O_CREAT | O_RDWR, 0444);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "x", 1), 1);
	close(fd);
	same_stat("ro");
}

Test(mount, sparse_file_beyond_4g)
{
	const off_t far = 5LL << 30;
	char buf[4] = { 0 };
	struct stat st;
	int fd = open(MNT("sparse"), O_CREAT | O_RDWR, 0644);

	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, "end", 3, far), 3);
	cr_assert_eq(pwrite(fd, "beg", 3, 0), 3);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, far + 3);
	cr_assert_lt(st.st_blocks, 1024, "holes must stay holes");
	cr_assert_eq(pread(fd, buf, 3, far), 3);
	cr_assert_str_eq(buf, "end");
	cr_assert_eq(pread(fd, buf, 3, 1LL << 32), 3);
	cr_assert_eq(memcmp(buf, "\0\0\0", 3), 0);
	cr_assert_eq(lseek(fd, 4096, SEEK_DATA), far & ~4095LL);
	cr_assert_eq(lseek(fd, 0, SEEK_HOLE), 4096);
	close(fd);
	same_stat("sparse");
}

Test(mount, fallocate_and_punch)
{
	struct stat st;
	int fd = open(MNT("f"), O_CREAT | O_RDWR, 0644);

	cr_assert_geq(fd, 0);
	cr_assert_eq(fallocate(fd, 0, 0, 1 << 20), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_size, 1 << 20);
	cr_assert_geq(st.st_blocks, (1 << 20) / 512);
	cr_assert_eq(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1 << 19), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_lt(st.st_blocks, (1 << 20) / 512);
	cr_assert_eq(errno_of(fallocate(fd, 0x4000, 0, 1)), EOPNOTSUPP);
	close(fd);
	same_stat("f");
}

Test(mount, copy_file_range_between_files)
{
	int in, out;
	off_t oi = 2, oo = 0;

	bf_write_file(MNT("src"), "0123456789", 0644);
	in = open(MNT("src"), O_RDONLY);
	out = open(MNT("dst"), O_CREAT | O_WRONLY, 0644);
	cr_assert_geq(in, 0);
	cr_assert_geq(out, 0);
	cr_assert_eq(copy_file_range(in, &oi, out, &oo, 5, 0), 5);
	close(in);
	close(out);
	cr_assert_str_eq(bf_read_file(BACK("dst")), "23456");
	same_stat("dst");
}

Test(mount, fsync_file_and_dir)
{
	int fd = open(MNT("f"), O_CREAT | O_WRONLY, 0644);
	int dfd = open(M.mnt, O_RDONLY | O_DIRECTORY);

	cr_assert_geq(fd, 0);
	cr_assert_geq(dfd, 0);
	cr_assert_eq(write(fd, "x", 1), 1);
	cr_assert_eq(fsync(fd), 0);
	cr_assert_eq(fdatasync(fd), 0);
	cr_assert_eq(fsync(dfd), 0);
	close(fd);
	close(dfd);
}

Test(mount, mtime_ctime_follow_changes)
{
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	struct stat a, b;

	bf_write_file(MNT("f"), "x", 0644);
	cr_assert_eq(mkdir(MNT("d"), 0755), 0);
	cr_assert_eq(utimensat(AT_FDCWD, MNT("f"), old, 0), 0);
	cr_assert_eq(utimensat(AT_FDCWD, MNT("d"), old, 0), 0);
	cr_assert_eq(stat(MNT("f"), &a), 0);
	bf_write_file(MNT("f"), "changed", 0644);
	cr_assert_eq(stat(MNT("f"), &b), 0);
	cr_assert_gt(b.st_mtim.tv_sec, a.st_mtim.tv_sec, "write moves mtime");
	same_stat("f");
	bf_write_file(MNT("d/new"), "x", 0644);
	cr_assert_eq(stat(MNT("d"), &b), 0);
	cr_assert_gt(b.st_mtim.tv_sec, 1000, "create moves the parent's mtime");
	same_stat("d");
	cr_assert_eq(utimensat(AT_FDCWD, MNT("d"), old, 0), 0);
	cr_assert_eq(unlink(MNT("d/new")), 0);
	same_stat("d");
	cr_assert_eq(stat(MNT("d"), &b), 0);
	cr_assert_gt(b.st_mtim.tv_sec, 1000, "unlink moves the parent's mtime");
}

/* ---- directories --------------------------------------------------------- */

static GHashTable *list_dir(const char *path)
{
	GHashTable *names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	struct dirent *de;
	DIR *dp = opendir(path);

	cr_assert_not_null(dp, "opendir %s: %s", path, strerror(errno));
	while ((de = readdir(dp)))
		cr_assert(g_hash_table_add(names, g_strdup(de->d_name)), "duplicate %s",
			  de->d_name);
	closedir(dp);
	return names;
}

Test(mount, readdir_lists_every_entry_once)
{
	GHashTable *a, *b;
	GHashTableIter it;
	gpointer k;
	int i;

	for (i = 0; i < 700; i++)
		bf_write_file(BACK("entry-with-a-long-name-%04d", i), "", 0644);
	cr_assert_eq(mkdir(BACK("sub"), 0755), 0);
	a = list_dir(M.mnt);
	b = list_dir(M.back);
	cr_assert_eq(g_hash_table_size(a), 703);
	cr_assert_eq(g_hash_table_size(a), g_hash_table_size(b));
	g_hash_table_iter_init(&it, b);
	while (g_hash_table_iter_next(&it, &k, NULL))
		cr_assert(g_hash_table_contains(a, k), "%s missing", (char *)k);
	/* attributes that readdirplus handed out are right */
	same_stat("entry-with-a-long-name-0042");
	same_stat("sub");
	g_hash_table_destroy(a);
	g_hash_table_destroy(b);
}

Test(mount, seekdir_resumes)
{
	struct dirent *de;
	long pos;
	char name[256];
	DIR *dp;
	int i;

	for (i = 0; i < 50; i++)
		bf_write_file(BACK("f%02d", i), "", 0644);
	dp = opendir(M.mnt);
	cr_assert_not_null(dp);
	for (i = 0; i < 10; i++)
		cr_assert_not_null(readdir(dp));
	pos = telldir(dp);
	de = readdir(dp);
	cr_assert_not_null(de);
	snprintf(name, sizeof(name), "%s", de->d_name);
	for (i = 0; i < 5; i++)
		readdir(dp);
	seekdir(dp, pos);
	de = readdir(dp);
	cr_assert_not_null(de);
	cr_assert_str_eq(de->d_name, name);
	closedir(dp);
}

Test(mount, statfs_matches)
{
	struct statvfs a, b;

	cr_assert_eq(statvfs(M.mnt, &a), 0);
	cr_assert_eq(statvfs(M.back, &b), 0);
	cr_assert_eq(a.f_blocks, b.f_blocks);
	cr_assert_eq(a.f_bsize, b.f_bsize);
	cr_assert_eq(a.f_files, b.f_files);
	cr_assert_eq(a.f_namemax, b.f_namemax);
}

/* ---- extended attributes ------------------------------------------------- */

/* The xattr calls through the mount, in namespace ns ("user", "trusted"). */
static void check_xattrs(const char *ns)
{
	char buf[64] = { 0 }, color[32], none[32], shape[32], k[32];
	ssize_t n;

	snprintf(color, sizeof(color), "%s.color", ns);
	snprintf(none, sizeof(none), "%s.none", ns);
	snprintf(shape, sizeof(shape), "%s.shape", ns);
	snprintf(k, sizeof(k), "%s.k", ns);

	bf_write_file(MNT("f"), "x", 0644);
	cr_assert_eq(setxattr(MNT("f"), color, "blue", 4, 0), 0);
	cr_assert_eq(getxattr(BACK("f"), color, buf, sizeof(buf)), 4);
	cr_assert_str_eq(buf, "blue");
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(getxattr(MNT("f"), color, NULL, 0), 4, "size query");
	cr_assert_eq(getxattr(MNT("f"), color, buf, sizeof(buf)), 4);
	cr_assert_str_eq(buf, "blue");
	cr_assert_eq(errno_of(getxattr(MNT("f"), color, buf, 2)), ERANGE);
	cr_assert_eq(errno_of(setxattr(MNT("f"), color, "red", 3, XATTR_CREATE)), EEXIST);
	cr_assert_eq(errno_of(setxattr(MNT("f"), none, "x", 1, XATTR_REPLACE)), ENODATA);
	cr_assert_eq(setxattr(MNT("f"), shape, "", 0, 0), 0);
	n = listxattr(MNT("f"), buf, sizeof(buf));
	cr_assert_eq(n, listxattr(BACK("f"), NULL, 0));
	cr_assert_eq(n, (ssize_t)(strlen(color) + 1 + strlen(shape) + 1));
	cr_assert_eq(errno_of(getxattr(MNT("f"), none, buf, sizeof(buf))), ENODATA);
	cr_assert_eq(removexattr(MNT("f"), color), 0);
	cr_assert_eq(errno_of(getxattr(BACK("f"), color, buf, sizeof(buf))), ENODATA);
	cr_assert_eq(errno_of(removexattr(MNT("f"), color)), ENODATA);
	/* directories too */
	cr_assert_eq(mkdir(MNT("d"), 0755), 0);
	cr_assert_eq(setxattr(MNT("d"), k, "v", 1, 0), 0);
	cr_assert_eq(getxattr(BACK("d"), k, buf, sizeof(buf)), 1);
}

Test(mount, trusted_xattrs)
{
	check_xattrs("trusted");
}

Test(mount, user_xattrs)
{
	bf_write_file(BACK("probe"), "", 0644);
	if (setxattr(BACK("probe"), "user.probe", "1", 1, 0) == -1 && errno == EOPNOTSUPP) {
		/* tmpfs before Linux 6.6: the mount must refuse them the same way */
		cr_log_info("the backing file system has no user xattrs: checking the mount "
			    "refuses them too");
		bf_write_file(MNT("f"), "x", 0644);
		cr_assert_eq(errno_of(setxattr(MNT("f"), "user.color", "blue", 4, 0)), EOPNOTSUPP);
		cr_assert_eq(errno_of(getxattr(MNT("f"), "user.color", NULL, 0)), EOPNOTSUPP);
		return;
	}
	check_xattrs("user");
}

Test(mount, xattr_on_symlink_and_fifo)
{
	char a[64], b[64];

	cr_assert_eq(symlink("target", MNT("l")), 0);
	cr_assert_eq(errno_of(lsetxattr(MNT("l"), "user.x", "1", 1, 0)),
		     errno_of(lsetxattr(BACK("l"), "user.x", "1", 1, 0)));
	cr_assert_eq(llistxattr(MNT("l"), a, sizeof(a)), llistxattr(BACK("l"), b, sizeof(b)));
	cr_assert_eq(mkfifo(MNT("p"), 0644), 0);
	cr_assert_eq(errno_of(setxattr(MNT("p"), "user.x", "1", 1, 0)),
		     errno_of(setxattr(BACK("p"), "user.x", "1", 1, 0)));
}

static int read_as_nobody(void *path)
{
	int fd = open(path, O_RDONLY);

	if (fd == -1)
		return errno;
	close(fd);
	return 0;
}

Test(mount, acl_grants_and_denies)
{
	bf_write_file(MNT("f"), "secret", 0600);
	cr_assert_eq(bf_as_user(NOBODY, NOBODY, 022, read_as_nobody, (void *)MNT("f")), EACCES);
	cr_assert_eq(bf_system("setfacl -m u:%d:r '%s'", NOBODY, MNT("f")), 0);
	same_stat("f");
	cr_assert_eq(bf_as_user(NOBODY, NOBODY, 022, read_as_nobody, (void *)MNT("f")), 0,
		     "an ACL entry lets nobody read");
	cr_assert_eq(bf_system("setfacl -b '%s'", MNT("f")), 0);
	cr_assert_eq(bf_as_user(NOBODY, NOBODY, 022, read_as_nobody, (void *)MNT("f")), EACCES);
}

/*
 * Truncating a file drops its file capabilities on the backing side; a
 * capability value cached before must not survive it.
 */
Test(mount, truncate_drops_capability)
{
	/* VFS_CAP_REVISION_2 | effective, CAP_NET_RAW permitted */
	const unsigned char cap[20] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x20 };
	char buf[32];
	int fd;

	bf_write_file(MNT("f"), "data", 0755);
	cr_assert_eq(setxattr(MNT("f"), "security.capability", cap, sizeof(cap), 0), 0, "%s",
		     strerror(errno));
	/* now cached, as the kernel's killpriv check before a write would do */
	cr_assert_eq(getxattr(MNT("f"), "security.capability", buf, sizeof(buf)), sizeof(cap));
	fd = open(MNT("f"), O_WRONLY | O_TRUNC);
	cr_assert_geq(fd, 0, "open O_TRUNC: %s", strerror(errno));
	close(fd);
	cr_assert_eq(errno_of(getxattr(BACK("f"), "security.capability", buf, sizeof(buf))),
		     ENODATA);
	cr_assert_eq(errno_of(getxattr(MNT("f"), "security.capability", buf, sizeof(buf))), ENODATA,
		     "the cached capability must be gone");
}

/* Make path's atime two days old on the backing side, so relatime would move it. */
static void age_atime(const char *path)
{
	struct timespec ts[2] = { { .tv_sec = time(NULL) - 2 * 86400 }, { .tv_nsec = UTIME_OMIT } };

	cr_assert_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static time_t atime_of(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0);
	return st.st_atime;
}

/* Read a file and list a directory of m that the kernel has not cached yet. */
static void read_and_list(struct bf_mount *m)
{
	bf_write_file(bf_path(m->back, "f"), "data", 0755);
	cr_assert_eq(mkdir(bf_path(m->back, "d"), 0755), 0);
	age_atime(bf_path(m->back, "f"));
	age_atime(bf_path(m->back, "d"));
	/* not bf_read_file(): its O_NOATIME would hide what the mount does */
	cr_assert_eq(bf_system("cat '%s' > /dev/null", bf_path(m->mnt, "f")), 0);
	cr_assert_eq(bf_system("ls '%s' > /dev/null", bf_path(m->mnt, "d")), 0);
}

/*
 * A mount with -o noatime: reading a file or listing a directory leaves
 * their atime alone, although the daemon reads the backing objects (whose
 * own mount is relatime). The same reads on this suite's mount move them.
 */
Test(mount, noatime_mount_leaves_atime)
{
	time_t old = time(NULL) - 2 * 86400 + 60;
	struct bf_mount na;

	read_and_list(&M);
	cr_assert_gt(atime_of(BACK("f")), old, "relatime: a read moves an old atime");
	cr_assert_gt(atime_of(BACK("d")), old, "relatime: a listing moves an old atime");

	bf_mount_start(&na, *BF_TEST_OPTS ? BF_TEST_OPTS ",noatime" : "noatime");
	read_and_list(&na);
	/* with passthrough the kernel reads the file, under the backing mount's rule */
	if (!strstr(BF_TEST_OPTS, "passthrough")) {
		cr_assert_leq(atime_of(bf_path(na.back, "f")), old,
			      "noatime: the read moved atime");
		cr_assert_leq(atime_of(bf_path(na.mnt, "f")), old);
	}
	cr_assert_leq(atime_of(bf_path(na.back, "d")), old, "noatime: the listing moved atime");
	bf_mount_stop(&na);
}

#ifndef AT_HANDLE_FID
#define AT_HANDLE_FID 0x200 /* Linux 6.5; Debian 12's headers are 6.1's */
#endif

/* Whether this kernel is at least major.minor. */
static bool kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	cr_assert_eq(uname(&u), 0);
	sscanf(u.release, "%d.%d", &ma, &mi);
	return ma > major || (ma == major && mi >= minor);
}

/*
 * File handles: node ids do not outlive the kernel's references or the
 * daemon, so a handle would go stale (ESTALE on a live file after a cache
 * drop or a remount). Where the kernel lets a daemon say so (6.9 on), no
 * handle is handed out for export; fanotify's kind (AT_HANDLE_FID) still
 * is.
 */
Test(mount, file_handles_refused_for_export)
{
	char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	struct file_handle *fh = (struct file_handle *)buf;
	int mount_id;

	if (!kernel_at_least(6, 9))
		cr_skip_test("the kernel has no FUSE_NO_EXPORT_SUPPORT: handles go stale");
	bf_write_file(MNT("f"), "x", 0644);
	cr_assert_eq(mkdir(MNT("d"), 0755), 0);
	fh->handle_bytes = MAX_HANDLE_SZ;
	cr_assert_eq(errno_of(name_to_handle_at(AT_FDCWD, MNT("f"), fh, &mount_id, 0)), EOPNOTSUPP);
	fh->handle_bytes = MAX_HANDLE_SZ;
	cr_assert_eq(errno_of(name_to_handle_at(AT_FDCWD, MNT("d"), fh, &mount_id, 0)), EOPNOTSUPP);
	fh->handle_bytes = MAX_HANDLE_SZ;
	cr_assert_eq(name_to_handle_at(AT_FDCWD, MNT("f"), fh, &mount_id, AT_HANDLE_FID), 0,
		     "fanotify's handles: %s", strerror(errno));
}

/* ---- several users ------------------------------------------------------- */

static int create_as_caller(void *path)
{
	int fd = open(path, O_CREAT | O_WRONLY, 0666);

	if (fd == -1)
		return errno;
	close(fd);
	return 0;
}

static int mkdir_as_caller(void *path)
{
	return mkdir(path, 0777) == -1 ? errno : 0;
}

Test(mount, files_belong_to_their_creator)
{
	struct stat st;

	cr_assert_eq(mkdir(MNT("pub"), 0777), 0);
	cr_assert_eq(chmod(MNT("pub"), 01777), 0);
	cr_assert_eq(bf_as_user(NOBODY, NOBODY, 027, create_as_caller, (void *)MNT("pub/f")), 0);
	cr_assert_eq(stat(BACK("pub/f"), &st), 0);
	cr_assert_eq(st.st_uid, NOBODY);
	cr_assert_eq(st.st_gid, NOBODY);
	cr_assert_eq(st.st_mode & 0777, 0640, "umask 027 applied: %o", st.st_mode & 0777);
	cr_assert_eq(bf_as_user(NOBODY, NOBODY, 0, mkdir_as_caller, (void *)MNT("pub/d")), 0);
	cr_assert_eq(stat(BACK("pub/d"), &st), 0);
	cr_assert_eq(st.st_uid, NOBODY);
	cr_assert_eq(st.st_mode & 0777, 0777);
	same_stat("pub/f");
	same_stat("pub/d");
}

static int unlink_as_caller(void *path)
{
	return unlink(path) == -1 ? errno : 0;
}

Test(mount, permission_bits_are_enforced)
{
	cr_assert_eq(mkdir(MNT("pub"), 01777), 0);
	cr_assert_eq(chmod(MNT("pub"), 01777), 0);
	bf_write_file(MNT("pub/roots"), "x", 0644);
	bf_write_file(MNT("private"), "x", 0600);
	cr_assert_eq(bf_as_user(NOBODY, NOBODY, 022, read_as_nobody, (void *)MNT("private")),
		     EACCES);
	cr_assert_eq(bf_as_user(NOBODY, NOBODY, 022, read_as_nobody, (void *)MNT("pub/roots")), 0);
	cr_assert_eq(bf_as_user(NOBODY, NOBODY, 022, create_as_caller, (void *)MNT("nope")), EACCES,
		     "root dir is 0755");
	cr_assert_eq(bf_as_user(NOBODY, NOBODY, 022, unlink_as_caller, (void *)MNT("pub/roots")),
		     EPERM, "sticky directory");
}

Test(mount, setgid_directory_inheritance)
{
	struct stat st;

	cr_assert_eq(mkdir(MNT("sg"), 0777), 0);
	cr_assert_eq(chown(MNT("sg"), 0, 4242), 0);
	cr_assert_eq(chmod(MNT("sg"), 02777), 0);
	cr_assert_eq(bf_as_user(NOBODY, NOBODY, 0, create_as_caller, (void *)MNT("sg/f")), 0);
	cr_assert_eq(stat(BACK("sg/f"), &st), 0);
	cr_assert_eq(st.st_uid, NOBODY);
	cr_assert_eq(st.st_gid, 4242, "group comes from the setgid directory");
	cr_assert_eq(bf_as_user(NOBODY, NOBODY, 0, mkdir_as_caller, (void *)MNT("sg/d")), 0);
	cr_assert_eq(stat(BACK("sg/d"), &st), 0);
	cr_assert_eq(st.st_gid, 4242);
	cr_assert(st.st_mode & S_ISGID, "subdirectories inherit setgid");
	same_stat("sg/d");
}

static int chmod_setgid_as_caller(void *path)
{
	return chmod(path, 02755) == -1 ? errno : 0;
}

Test(mount, setgid_dropped_for_non_members)
{
	struct stat st;

	cr_assert_eq(mkdir(MNT("pub"), 0777), 0);
	cr_assert_eq(chmod(MNT("pub"), 0777), 0);
	cr_assert_eq(bf_as_user(NOBODY, NOBODY, 0, create_as_caller, (void *)MNT("pub/f")), 0);
	cr_assert_eq(chown(MNT("pub/f"), NOBODY, 4242), 0);
	cr_assert_eq(bf_as_user(NOBODY, NOBODY, 0, chmod_setgid_as_caller, (void *)MNT("pub/f")),
		     0);
	cr_assert_eq(stat(BACK("pub/f"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755, "not in group 4242: no setgid (%o)",
		     st.st_mode & 07777);
}

/*
 * Setting an access ACL clears setgid as chmod would when the caller, here
 * the owner, is not in the file's group (the backing file system, called
 * as root, would keep it).
 */
Test(mount, acl_change_drops_setgid_for_non_members)
{
	struct stat st;

	bf_write_file(MNT("f"), "x", 0644);
	cr_assert_eq(chown(MNT("f"), NOBODY, 4242), 0);
	cr_assert_eq(chmod(MNT("f"), 02777), 0);
	cr_assert_eq(
		bf_system("setpriv --reuid=%d --regid=%d --clear-groups setfacl -m u:%d:rwx '%s'",
			  NOBODY, NOBODY, NOBODY, MNT("f")),
		0);
	cr_assert_eq(stat(MNT("f"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0777, "not in group 4242: no setgid (%o)",
		     st.st_mode & 07777);
	same_stat("f");
	/* a member keeps it, as root does */
	cr_assert_eq(chmod(MNT("f"), 02777), 0);
	cr_assert_eq(
		bf_system("setpriv --reuid=%d --regid=4242 --clear-groups setfacl -m u:%d:rx '%s'",
			  NOBODY, NOBODY, MNT("f")),
		0);
	cr_assert_eq(stat(MNT("f"), &st), 0);
	cr_assert(st.st_mode & S_ISGID, "a member of the group keeps setgid (%o)",
		  st.st_mode & 07777);
	same_stat("f");
}

/* O_TMPFILE in pub, written, then named pub/t as the caller would: 0 or an errno. */
static int tmpfile_link_as_caller(void *dir)
{
	char proc[64];
	int fd = open(dir, O_TMPFILE | O_RDWR, 0666), err = 0;

	if (fd == -1)
		return errno;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (write(fd, "unnamed", 7) != 7 ||
	    linkat(AT_FDCWD, proc, AT_FDCWD, bf_path(dir, "t"), AT_SYMLINK_FOLLOW) == -1)
		err = errno;
	close(fd);
	return err;
}

/*
 * An unnamed file (O_TMPFILE) made through the mount belongs to its
 * caller, with the caller's umask, holds what was written, and takes a
 * name with linkat(); with O_EXCL it never can; unnamed, it leaves nothing.
 */
Test(mount, tmpfile_then_link)
{
	struct stat st;
	char proc[64];
	int fd;

	cr_assert_eq(mkdir(MNT("pub"), 0777), 0);
	cr_assert_eq(chmod(MNT("pub"), 0777), 0);
	cr_assert_eq(bf_as_user(NOBODY, NOBODY, 027, tmpfile_link_as_caller, (void *)MNT("pub")),
		     0);
	cr_assert_eq(stat(BACK("pub/t"), &st), 0);
	cr_assert_eq(st.st_uid, NOBODY);
	cr_assert_eq(st.st_gid, NOBODY);
	cr_assert_eq(st.st_mode & 07777, 0640, "mode %o", st.st_mode & 07777);
	cr_assert_eq(st.st_nlink, 1);
	cr_assert_str_eq(bf_read_file(BACK("pub/t")), "unnamed");
	cr_assert_str_eq(bf_read_file(MNT("pub/t")), "unnamed");
	same_stat("pub/t");

	fd = open(MNT("pub"), O_TMPFILE | O_EXCL | O_WRONLY, 0600);
	cr_assert_geq(fd, 0, "%s", strerror(errno));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	cr_assert_eq(errno_of(linkat(AT_FDCWD, proc, AT_FDCWD, MNT("pub/x"), AT_SYMLINK_FOLLOW)),
		     ENOENT, "O_EXCL: never linkable");
	close(fd);
	fd = open(MNT("pub"), O_TMPFILE | O_RDWR, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(bf_system("test $(ls -A '%s' | wc -l) = 1", BACK("pub")), 0,
		     "only the linked file is left");
}

/* ---- locks --------------------------------------------------------------- */

/*
 * With real opens (cache=never) flock locks the backing file, so other
 * users of the backing directory see the lock; with zero-message opens
 * (the default) and passthrough the kernel keeps flock locks itself, and
 * they hold between the mount's own users; so too over io_uring (uring.sh).
 */
Test(mount, flock_between_opens)
{
	/* over io_uring, which relays no interrupt, the kernel keeps them */
	bool real_opens = strstr(BF_TEST_OPTS, "cache=never") != NULL &&
			  bf_system("%s stats -j %s | grep -Eq '\"transport\": *\"/dev/fuse\"'",
				    BPFUSECTL_PATH, M.mnt) == 0;
	int fd, other;

	bf_write_file(MNT("f"), "x", 0644);
	fd = open(MNT("f"), O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(flock(fd, LOCK_EX), 0);
	other = open(real_opens ? BACK("f") : MNT("f"), O_RDWR);
	cr_assert_eq(errno_of(flock(other, LOCK_EX | LOCK_NB)), EWOULDBLOCK);
	cr_assert_eq(flock(fd, LOCK_UN), 0);
	cr_assert_eq(flock(other, LOCK_EX | LOCK_NB), 0);
	cr_assert_eq(errno_of(flock(fd, LOCK_SH | LOCK_NB)), EWOULDBLOCK);
	close(other);
	cr_assert_eq(flock(fd, LOCK_SH), 0, "blocking lock once the other is gone");
	close(fd);
}

Test(mount, posix_locks_between_processes)
{
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
	int fd, status;
	pid_t pid;

	bf_write_file(MNT("f"), "0123456789", 0644);
	fd = open(MNT("f"), O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fcntl(fd, F_SETLK, &lk), 0);
	pid = fork();
	if (pid == 0) {
		struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 5 };
		int cfd = open(MNT("f"), O_RDWR);

		if (fcntl(cfd, F_GETLK, &q) || q.l_type != F_WRLCK || q.l_pid != getppid())
			_exit(1);
		q.l_type = F_WRLCK;
		_exit(fcntl(cfd, F_SETLK, &q) == -1 && (errno == EAGAIN || errno == EACCES) ? 0
											    : 2);
	}
	waitpid(pid, &status, 0);
	cr_assert_eq(WEXITSTATUS(status), 0, "child saw status %d", WEXITSTATUS(status));
	close(fd);
}

/* ---- scale --------------------------------------------------------------- */

Test(mount, more_inodes_than_the_fd_limit, .timeout = 300)
{
	struct rlimit rl;
	struct stat st;
	unsigned long i, n;
	char name[32];
	int fd;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	n = rl.rlim_cur + 2000;
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "d%lu", i % 50);
		if (i < 50)
			cr_assert_eq(mkdir(BACK("%s", name), 0755), 0);
		fd = open(BACK("%s/f%lu", name, i), O_CREAT | O_WRONLY, 0644);
		cr_assert_geq(fd, 0);
		close(fd);
	}
	/* every file looked up, and held by the kernel's dentry cache */
	for (i = 0; i < n; i++)
		cr_assert_eq(stat(MNT("d%lu/f%lu", i % 50, i), &st), 0, "stat #%lu: %s", i,
			     strerror(errno));
	bf_write_file(MNT("after"), "still works", 0644);
	cr_assert_str_eq(bf_read_file(MNT("after")), "still works");
}

/* ---- asynchronous direct writes against buffered readers ---------------- */

/* as a regression suite's test of the same: one 640 KiB request, several FUSE WRITEs */
#define DIO_SIZE  655360
#define DIO_CHUNK DIO_SIZE
#define DIO_DEPTH 1

struct dio_reader {
	const char *path;
	atomic_bool stop;
};

/* Reads the whole file through the page cache until told to stop. */
static void *dio_read_loop(void *arg)
{
	struct dio_reader *r = arg;
	char *buf = malloc(DIO_CHUNK);
	int fd = open(r->path, O_RDONLY);
	off_t off;

	while (fd >= 0 && buf && !atomic_load(&r->stop))
		for (off = 0; off < DIO_SIZE; off += DIO_CHUNK)
			if (pread(fd, buf, DIO_CHUNK, off) != DIO_CHUNK)
				break;
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* Writes the whole file with O_DIRECT through io_submit, DIO_DEPTH requests at a time. */
static void dio_write_async(int fd, aio_context_t ctx, char *buf, int pattern)
{
	struct iocb cbs[DIO_DEPTH], *cbp[DIO_DEPTH];
	struct io_event ev[DIO_DEPTH];
	off_t off = 0;
	int i, k, n, got;

	memset(buf, pattern, DIO_CHUNK);
	while (off < DIO_SIZE) {
		for (i = 0; i < DIO_DEPTH && off < DIO_SIZE; i++, off += DIO_CHUNK) {
			cbs[i] = (struct iocb){ .aio_fildes = fd,
						.aio_lio_opcode = IOCB_CMD_PWRITE,
						.aio_buf = (uintptr_t)buf,
						.aio_nbytes = DIO_CHUNK,
						.aio_offset = off };
			cbp[i] = &cbs[i];
		}
		cr_assert_eq(syscall(SYS_io_submit, ctx, i, cbp), i);
		for (got = 0; got < i; got += n) {
			n = syscall(SYS_io_getevents, ctx, 1, i - got, ev, NULL);
			cr_assert_gt(n, 0);
			for (k = 0; k < n; k++)
				cr_assert_eq(ev[k].res, DIO_CHUNK, "direct write: %lld",
					     (long long)ev[k].res);
		}
	}
}

/*
 * Asynchronous O_DIRECT writes while other openers read the same file
 * through the page cache: once the writes complete, a buffered read sees
 * what they wrote, not pages a reader cached while they were in flight.
 */
Test(mount, async_direct_writes_leave_no_stale_pages)
{
	struct dio_reader r = { .path = MNT("f") };
	aio_context_t ctx = 0;
	char *buf, *got = malloc(DIO_SIZE);
	pthread_t th[2];
	int fd, round, i;
	off_t off;

	/* real opens pass O_DIRECT on: tmpfs takes it from Linux 6.6 on */
	fd = open(MNT("probe"), O_CREAT | O_RDWR | O_DIRECT, 0644);
	if (fd == -1 && errno == EINVAL)
		cr_skip_test("the backing file system refuses O_DIRECT");
	close(fd);
	cr_assert_eq(posix_memalign((void **)&buf, 4096, DIO_CHUNK), 0);
	memset(got, 0xaa, DIO_SIZE);
	fd = open(MNT("f"), O_CREAT | O_WRONLY, 0644);
	cr_assert_eq(write(fd, got, DIO_SIZE), DIO_SIZE);
	close(fd);
	fd = open(MNT("f"), O_RDWR | O_DIRECT);
	cr_assert_geq(fd, 0);
	if (syscall(SYS_io_setup, DIO_DEPTH, &ctx) == -1 && errno == ENOSYS)
		cr_skip_test("this kernel has no AIO (CONFIG_AIO)");
	cr_assert_eq(ctx != 0, 1, "io_setup: %s", strerror(errno));
	for (round = 0; round < 20; round++) {
		int pattern = round % 2 ? 0xaa : 0x55;

		atomic_store(&r.stop, false);
		for (i = 0; i < 2; i++)
			cr_assert_eq(pthread_create(&th[i], NULL, dio_read_loop, &r), 0);
		dio_write_async(fd, ctx, buf, pattern);
		atomic_store(&r.stop, true);
		for (i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		i = open(MNT("f"), O_RDONLY);
		cr_assert_eq(read(i, got, DIO_SIZE), DIO_SIZE);
		close(i);
		for (off = 0; off < DIO_SIZE; off++)
			if ((unsigned char)got[off] != pattern)
				break;
		cr_assert_eq(off, DIO_SIZE, "round %d: 0x%02x at 0x%llx, 0x%02x was written", round,
			     (unsigned char)got[off], (unsigned long long)off, pattern);
	}
	syscall(SYS_io_destroy, ctx);
	close(fd);
	free(buf);
	free(got);
}
