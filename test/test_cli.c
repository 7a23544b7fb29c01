// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bpfused's command line: bad input fails with one clear line, exit code 1
 * and nothing mounted; a good mount shuts down cleanly and leaves its inode
 * table empty once the kernel has forgotten everything.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib.h>

#include "mount_helpers.h"

static char dir[] = "/tmp/bpfuse-cli.XXXXXX";
static char back[64], mnt[64], file[64], inner[80];

static void setup(void)
{
	bf_require_root();
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0755), 0);
	snprintf(back, sizeof(back), "%s/back", dir);
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	snprintf(file, sizeof(file), "%s/file", dir);
	snprintf(inner, sizeof(inner), "%s/back/inner", dir);
	cr_assert_eq(mkdir(back, 0755), 0);
	cr_assert_eq(mkdir(mnt, 0755), 0);
	cr_assert_eq(mkdir(inner, 0755), 0);
	bf_write_file(file, "x", 0644);
}

static void teardown(void)
{
	char cmd[128];

	umount2(mnt, MNT_DETACH);
	umount2(back, MNT_DETACH); /* mount_over_backing_dir, had it failed */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Exit code 1, exactly one line naming what, and nothing mounted. */
static void expect_failure(const char *const argv[], uid_t uid, const char *what)
{
	char out[4096];
	int status = bf_spawn(argv, uid, out, sizeof(out));
	char *nl = strchr(out, '\n');

	cr_assert_eq(status, 1, "exit status %d, output: %s", status, out);
	cr_assert_not_null(nl, "no message");
	cr_assert_eq(nl[1], '\0', "more than one line: %s", out);
	cr_assert(!strncmp(out, "bpfused: ", 9), "not in bpfused's words: %s", out);
	cr_assert_not_null(strstr(out, what), "'%s' does not mention '%s'", out, what);
	cr_assert_not(bf_is_mountpoint(mnt), "left a mount behind");
}

#define BPFUSED(...) ((const char *const[]){ BPFUSED_PATH, __VA_ARGS__, NULL })

TestSuite(cli, .init = setup, .fini = teardown, .timeout = 30);

Test(cli, missing_backing_dir)
{
	expect_failure(BPFUSED("/nonexistent/backing", mnt), 0, "/nonexistent/backing");
}

Test(cli, backing_not_a_directory)
{
	expect_failure(BPFUSED(file, mnt), 0, "Not a directory");
}

Test(cli, missing_mountpoint)
{
	expect_failure(BPFUSED(back, "/nonexistent/mnt"), 0, "/nonexistent/mnt");
}

Test(cli, mountpoint_busy)
{
	char out[256];
	const char *const argv[] = { BPFUSED_PATH, back, mnt, NULL };

	cr_assert_eq(mount("busy", mnt, "tmpfs", 0, NULL), 0);
	cr_assert_eq(bf_spawn(argv, 0, out, sizeof(out)), 1);
	cr_assert_not_null(strstr(out, "already a mount point"), "%s", out);
	cr_assert_eq(umount(mnt), 0, "our tmpfs must still be the top mount");
}

Test(cli, mountpoint_inside_backing)
{
	expect_failure(BPFUSED(back, inner), 0, "inside backing directory");
}

Test(cli, unknown_option)
{
	expect_failure(BPFUSED("-o", "bogus_option", back, mnt), 0, "bogus_option");
}

Test(cli, malformed_options)
{
	expect_failure(BPFUSED("-o", "entry_timeout=soon", back, mnt), 0, "entry_timeout");
	expect_failure(BPFUSED("-o", "attr_timeout=-1", back, mnt), 0, "attr_timeout");
	expect_failure(BPFUSED("-o", "backend_latency=1parsec", back, mnt), 0, "backend_latency");
	expect_failure(BPFUSED("-o", "cache=maybe", back, mnt), 0, "cache");
}

Test(cli, wrong_argument_count)
{
	expect_failure(BPFUSED(back), 0, "usage");
	expect_failure(BPFUSED(back, mnt, file), 0, file);
}

Test(cli, not_root)
{
	expect_failure(BPFUSED(back, mnt), 65534, "root");
}

Test(cli, no_dev_fuse)
{
	char cmd[512];
	int status;

	/* Hide /dev/fuse in a private mount namespace. */
	snprintf(cmd, sizeof(cmd),
		 "unshare --mount sh -c 'mount -t tmpfs none /dev && "
		 "%s %s %s 2>%s/err; echo $? > %s/rc'",
		 BPFUSED_PATH, back, mnt, dir, dir);
	status = system(cmd);
	cr_assert_eq(WEXITSTATUS(status), 0);
	cr_assert_str_eq(bf_read_file(bf_path(dir, "rc")), "1\n");
	cr_assert_not_null(strstr(bf_read_file(bf_path(dir, "err")), "/dev/fuse"));
	cr_assert_not(bf_is_mountpoint(mnt));
}

/*
 * A successful mount in the background prints nothing (scripts compare
 * the output of commands that mount): the mode, and whatever else is worth
 * saying once mounted, goes to syslog.
 */
Test(cli, background_mount_is_silent)
{
	const char *const *argvs[] = { BPFUSED(back, mnt), BPFUSED("-o", "no_ext", back, mnt) };
	char out[4096];
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(argvs); i++) {
		cr_assert_eq(bf_spawn(argvs[i], 0, out, sizeof(out)), 0, "output: %s", out);
		cr_assert_str_eq(out, "", "a successful mount printed something");
		cr_assert(bf_is_mountpoint(mnt));
		cr_assert_eq(umount(mnt), 0);
	}
}

/*
 * Right after bpfused returns, the mount is there and bpfusectl sees its
 * daemon alive: the parent returns only once the daemon has said who it is.
 * Everything runs on one CPU, where the woken parent tends to run before
 * its child goes on, and the test before either.
 */
Test(cli, stats_right_after_mount, .timeout = 180)
{
	const char *const ctl[] = { BPFUSECTL_PATH, "stats", mnt, NULL };
	char out[8192];
	cpu_set_t cpu;
	int i, status = 0;

	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	cr_assert_eq(sched_setaffinity(0, sizeof(cpu), &cpu), 0);
	for (i = 0; i < 10 && !status; i++) {
		cr_assert_eq(bf_spawn(BPFUSED(back, mnt), 0, out, sizeof(out)), 0, "%s", out);
		status = bf_spawn(ctl, 0, out, sizeof(out));
		cr_assert_eq(umount(mnt), 0);
	}
	cr_assert_eq(status, 0, "try %d: %s", i, out);
}

/*
 * Wrapping a directory in place (BACKING_DIR = MOUNTPOINT, as over an
 * sshfs mount): the daemon sets everything up from what it opened before
 * mounting, never through its own mount, so the mount serves at once.
 */
Test(cli, mount_over_backing_dir)
{
	pid_t pid = fork();
	int i, status;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(BPFUSED_PATH, "bpfused", "-f", back, back, NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && !bf_is_mountpoint(back); i++)
		usleep(10000);
	/* a daemon stuck on its own mount never answers: give it 15 s (TCG is slow) */
	status = bf_system("timeout -s KILL 15 ls '%s' | grep -qx inner", back);
	kill(pid, status ? SIGKILL : SIGTERM);
	if (status)
		umount2(back, MNT_DETACH);
	waitpid(pid, NULL, 0);
	cr_assert_eq(status, 0, "the mount over its own backing directory did not serve");
	cr_assert_not(bf_is_mountpoint(back));
}

Test(cli, help_documents_every_option)
{
	static const char *const opts[] = {
		"entry_timeout=",
		"attr_timeout=",
		"negative_timeout=",
		"cache=",
		"writeback",
		"allow_other",
		"backend_latency=",
		"noatime",
		"nodiratime",
		"max_threads=",
		"-s",
		"-f",
		"-d",
	};
	char out[16384];
	size_t i;

	char *first;

	cr_assert_eq(bf_spawn(BPFUSED("--help"), 0, out, sizeof(out)), 0);
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		cr_assert_not_null(strstr(out, opts[i]), "--help lacks %s", opts[i]);
	/* each once: libfuse's own help used to repeat some */
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		char line[64];

		snprintf(line, sizeof(line), "    %s%s", opts[i][0] == '-' ? "" : "-o ", opts[i]);
		first = strstr(out, line);
		cr_assert_not_null(first, "--help lacks a line for %s", opts[i]);
		cr_assert_null(strstr(first + 1, line), "--help lists %s twice", opts[i]);
	}
}

/* ---- lifecycle ----------------------------------------------------------- */

static struct bf_mount M;

static void lifecycle_teardown(void)
{
	bf_mount_stop(&M);
}

TestSuite(lifecycle, .fini = lifecycle_teardown, .timeout = 60);

Test(lifecycle, sigterm_unmounts_cleanly)
{
	int status;

	bf_mount_start(&M, "");
	bf_write_file(bf_path(M.mnt, "f"), "x", 0644);
	cr_assert_eq(kill(M.pid, SIGTERM), 0);
	cr_assert_eq(waitpid(M.pid, &status, 0), M.pid);
	M.pid = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	cr_assert_not(bf_is_mountpoint(M.mnt));
	cr_assert_str_eq(bf_read_file(bf_path(M.back, "f")), "x");
}

/*
 * Drop the kernel's caches and stop the daemon: its table must end empty,
 * with no FORGET having asked for more than it was given. The mount runs
 * one worker thread over /dev/fuse, so that a reply after the FORGETs
 * proves they were handled: names never seen miss every cache, so each
 * stat is a round trip. (FORGETs always travel over /dev/fuse; over
 * io_uring the stats' replies would come from the rings and prove
 * nothing.)
 */
static void assert_all_forgotten(void)
{
	struct stat st;
	char *log;
	int i, status;

	sync();
	cr_assert_eq(system("echo 2 > /proc/sys/vm/drop_caches"), 0);
	for (i = 0; i < 20; i++)
		cr_assert_eq(stat(bf_path(M.mnt, "flush-%d", i), &st), -1);
	cr_assert_eq(kill(M.pid, SIGTERM), 0);
	cr_assert_eq(waitpid(M.pid, &status, 0), M.pid);
	M.pid = 0;
	log = bf_read_file(M.log);
	cr_assert_not_null(strstr(log, " 0 nodes still held by the kernel, 0 forget underflows"),
			   "daemon said: %s", log);
}

/* Every node the kernel looked up is forgotten again once its caches are dropped. */
Test(lifecycle, inode_table_empty_after_forget)
{
	struct stat st;
	int i;

	bf_mount_start(&M, "max_threads=1,no_io_uring");
	for (i = 0; i < 200; i++) {
		bf_write_file(bf_path(M.mnt, "f%d", i), "x", 0644);
		cr_assert_eq(stat(bf_path(M.mnt, "f%d", i), &st), 0);
		cr_assert_eq(link(bf_path(M.mnt, "f%d", i), bf_path(M.mnt, "h%d", i)), 0);
	}
	cr_assert_eq(mkdir(bf_path(M.mnt, "d"), 0755), 0);
	cr_assert_eq(bf_system("ls -lR '%s' > /dev/null", M.mnt), 0);
	for (i = 0; i < 100; i++)
		cr_assert_eq(unlink(bf_path(M.mnt, "f%d", i)), 0);
	assert_all_forgotten();
}

/*
 * The same with every kernel timeout 0: each stat revalidates by LOOKUP,
 * which the maps answer (the daemon in stock mode, the kernel extension in
 * ext mode, whose references the daemon collects at FORGET). The counts
 * must still balance.
 */
Test(lifecycle, inode_table_empty_after_forget_revalidated)
{
	struct stat st;
	int i, r;

	bf_mount_start(&M, "max_threads=1,no_io_uring,entry_timeout=0,attr_timeout=0,"
			   "negative_timeout=0");
	cr_assert_eq(mkdir(bf_path(M.mnt, "d"), 0755), 0);
	for (i = 0; i < 100; i++)
		bf_write_file(bf_path(M.mnt, "d/f%d", i), "x", 0644);
	for (r = 0; r < 5; r++)
		for (i = 0; i < 100; i++)
			cr_assert_eq(stat(bf_path(M.mnt, "d/f%d", i), &st), 0);
	for (i = 0; i < 50; i++)
		cr_assert_eq(rename(bf_path(M.mnt, "d/f%d", i), bf_path(M.mnt, "d/g%d", i)), 0);
	for (i = 50; i < 100; i++)
		cr_assert_eq(unlink(bf_path(M.mnt, "d/f%d", i)), 0);
	for (r = 0; r < 3; r++)
		for (i = 0; i < 50; i++)
			cr_assert_eq(stat(bf_path(M.mnt, "d/g%d", i), &st), 0);
	assert_all_forgotten();
}

/*
 * With -o writeback the kernel caches writes and opens write-only files for
 * reading too: data written, appended and synced must reach the backing
 * file intact.
 */
Test(lifecycle, writeback_data_reaches_backing)
{
	char buf[64] = { 0 };
	int fd, bfd;

	bf_mount_start(&M, "writeback");
	fd = open(bf_path(M.mnt, "f"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "hello ", 6), 6);
	cr_assert_eq(pwrite(fd, "H", 1, 0), 1);
	cr_assert_eq(fsync(fd), 0);
	bfd = open(bf_path(M.back, "f"), O_RDONLY);
	cr_assert_eq(pread(bfd, buf, sizeof(buf), 0), 6);
	cr_assert_str_eq(buf, "Hello ");
	close(fd);
	fd = open(bf_path(M.mnt, "f"), O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "world", 5), 5);
	cr_assert_eq(close(fd), 0);
	cr_assert_str_eq(bf_read_file(bf_path(M.mnt, "f")), "Hello world");
	cr_assert_eq(bf_mount_stop(&M), 0, "clean unmount");
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(pread(bfd, buf, sizeof(buf), 0), 11);
	cr_assert_str_eq(buf, "Hello world");
	close(bfd);
}
