// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bpfused: mounts BACKING_DIR at MOUNTPOINT through FUSE.
 *
 * Every check that can fail on bad input runs before the mount, so a bad
 * command line leaves nothing mounted and says what was wrong in one line.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <linux/magic.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "bpfuse.h"
#include "bpfused.h"

/* Mount options every bpfused mount needs, plus the user's choices. */
static int bf_mount_opts(struct fuse_args *args, const struct bf_opts *opts, const char *backing)
{
	char *o = NULL, *fsname;
	int err;

	err = asprintf(&fsname, "fsname=%s", backing) == -1 ? -1 : 0;
	if (err)
		return -ENOMEM;
	/* The kernel checks permissions: the daemon acts as root. */
	err = fuse_opt_add_opt(&o, "default_permissions");
	if (!err && opts->allow_other)
		err = fuse_opt_add_opt(&o, "allow_other");
	if (!err)
		err = fuse_opt_add_opt(&o, "subtype=bpfused");
	if (!err)
		err = fuse_opt_add_opt_escaped(&o, fsname);
	if (!err)
		err = fuse_opt_add_arg(args, "-o");
	if (!err)
		err = fuse_opt_add_arg(args, o);
	free(o);
	free(fsname);
	return err ? -ENOMEM : 0;
}

/*
 * Where the daemon speaks once mounted: stderr in the foreground (-f, -d),
 * else syslog, so that a successful mount prints nothing and a script that
 * compares a mount's output sees none. libfuse's own messages (fuse_log)
 * take the same way. Errors before the mount always go to stderr.
 */
static void bf_syslog(enum fuse_log_level level, const char *fmt, va_list ap)
{
	static const char prefix[] = "bpfused: ";
	char *msg;
	size_t n;

	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	n = strlen(msg);
	if (n && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	/* syslog's ident names the daemon already */
	n = strncmp(msg, prefix, sizeof(prefix) - 1) ? 0 : sizeof(prefix) - 1;
	/* fuse_log_level numbers are syslog's priorities */
	syslog((int)level, "%s", msg + n);
	free(msg);
}

/*
 * Until then, stderr: libfuse's own messages ("fuse: unknown option...")
 * speak as bpfused, as every other one-line error does.
 */
static void bf_stderr(enum fuse_log_level level, const char *fmt, va_list ap)
{
	static const char theirs[] = "fuse: ";
	char *msg;

	(void)level;
	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	if (!strncmp(msg, theirs, sizeof(theirs) - 1))
		fprintf(stderr, "bpfused: %s", msg + sizeof(theirs) - 1);
	else
		fputs(msg, stderr);
	free(msg);
}

static void bf_log_to_syslog(void)
{
	openlog("bpfused", LOG_PID, LOG_DAEMON);
	fuse_set_log_func(bf_syslog);
}

/* The maps are pinned on the BPF file system: mount it where nobody has. */
static int bf_mount_bpffs(void)
{
	struct statfs sfs;

	if (statfs("/sys/fs/bpf", &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") == -1)
		return -errno;
	return 0;
}

/*
 * The watcher, the maps and the statistics, set up before the daemon forks
 * into the background, so that they are there when bpfused returns. The
 * maps are loaded even without caching (no_maps), for the statistics. All
 * of this is an optimisation: whatever fails here, the mount goes on
 * serving from the backend, and says why once. Nothing here may go through
 * the mount, which nobody serves yet: the watcher gets watch_fd (or why it
 * could not be opened), opened before mounting, since BACKING_DIR may be
 * the mountpoint itself.
 */
static void bf_caches_open(struct bf_fs *fs, struct fuse_session *se, const char *backing,
			   int watch_fd, const char *mnt)
{
	struct bpfuse_opts o = { .sz = sizeof(o) };
	struct bf_opts unwatched;
	struct bpfuse *cache;
	int err;

	if (fs->opts.watch) {
		err = watch_fd < 0 ? watch_fd : bf_watch_open(fs, se, watch_fd, &fs->watch);
		if (err)
			fuse_log(FUSE_LOG_WARNING,
				 "bpfused: not watching %s (%s): changes made there "
				 "directly show after the timeouts\n",
				 backing, strerror(-err));
	}
	/*
	 * Watched, the caches may live long; unwatched, their lifetimes bound
	 * staleness. The unwatched kernel timeouts also serve nodes on file
	 * systems mounted inside the backing one that cannot be watched.
	 */
	unwatched = fs->opts;
	bf_opts_timeouts(&unwatched, false);
	fs->unwatched_entry_timeout = unwatched.entry_timeout;
	fs->unwatched_attr_timeout = unwatched.attr_timeout;
	bf_opts_timeouts(&fs->opts, fs->watch != NULL);
	bf_opts_map_timeouts(&fs->opts, fs->watch != NULL);
	o.no_cache = !fs->opts.maps;
	o.watched = fs->watch != NULL;
	/* the daemon tells which reads moved atime; the extension drops at each */
	o.atime = true;
	/* ext mode: a miss costs the daemon no bpf() call */
	o.kernel_fills = true;
	o.entries = fs->opts.map_entries;
	o.lifetime_ns = fs->opts.map_timeout * 1e9;
	o.negative_lifetime_ns = fs->opts.map_negative_timeout * 1e9;
	o.entry_timeout_ns = fs->opts.entry_timeout * 1e9;
	o.attr_timeout_ns = fs->opts.attr_timeout * 1e9;
	o.negative_timeout_ns = fs->opts.negative_timeout * 1e9;
	err = bf_mount_bpffs();
	if (!err) {
		bpfuse_mount_sweep();
		err = bpfuse_mount_open(mnt, &o, &cache);
	}
	if (err) {
		fuse_log(FUSE_LOG_WARNING,
			 "bpfused: BPF maps unavailable (%s): serving without them\n",
			 strerror(-err));
		return;
	}
	/* the watcher thread may read it from now on */
	__atomic_store_n(&fs->cache, cache, __ATOMIC_RELEASE);
	err = fs->opts.ext ? bpfuse_mount_attach(fs->cache, fuse_session_fd(se)) : -EOPNOTSUPP;
	if (!fs->opts.ext)
		fuse_log(FUSE_LOG_INFO, "bpfused: no_ext: stock mode\n");
	else if (err == -EOPNOTSUPP)
		fuse_log(FUSE_LOG_INFO, "bpfused: no FUSE BPF hook in this kernel: stock mode\n");
	else if (err)
		fuse_log(FUSE_LOG_WARNING,
			 "bpfused: the FUSE BPF hook is there but the extension did not "
			 "attach (%s): stock mode\n",
			 strerror(-err));
	else {
		/* single-threaded still: the table's readers start after this */
		fs->table.ext = fs->cache;
		fuse_log(FUSE_LOG_INFO, "bpfused: ext mode: the kernel answers cache hits\n");
	}
	err = bpfuse_mount_upcall_status(fs->cache);
	if (err)
		fuse_log(FUSE_LOG_WARNING, "bpfused: request statistics unavailable: %s\n",
			 strerror(-err));
}

/*
 * Zero-message opens keep up to two backing fds per recently used file:
 * take the hard RLIMIT_NOFILE, and size the LRU well under it (a quarter
 * of the fds stay for everything else), or check the user's io_fds=.
 */
static int bf_io_limit(struct bf_opts *opts, unsigned int *io_max, unsigned int *dir_max)
{
	struct rlimit rl;
	rlim_t spare;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		rl.rlim_cur = 1024;
	spare = rl.rlim_cur - rl.rlim_cur / 4;
	if (opts->io_fds) {
		if (2 * (rlim_t)opts->io_fds > spare) {
			fprintf(stderr,
				"bpfused: io_fds=%u needs %llu file descriptors, more than three "
				"quarters of RLIMIT_NOFILE (%llu)\n",
				opts->io_fds, 2ULL * opts->io_fds, (unsigned long long)rl.rlim_cur);
			return -EINVAL;
		}
		*io_max = opts->io_fds;
	} else {
		*io_max = spare / 2 < BF_IO_FDS_DEFAULT ? spare / 2 : BF_IO_FDS_DEFAULT;
	}
	/* directories' O_PATH fds: as many again, within the three quarters */
	spare -= 2 * (rlim_t)*io_max;
	*dir_max = spare < *io_max ? spare : *io_max;
	return 0;
}

/*
 * Whether the backing file system has no extended attributes at all: every
 * namespace refused and nothing listed (sshfs, ramfs). Probed on the root,
 * before mounting (BACKING_DIR may be the mountpoint). A FUSE backend whose
 * daemon has no getxattr reports "no ACL" rather than "no ACLs here"; any
 * other file system must refuse ACLs outright.
 */
static bool bf_no_xattrs(int root_fd)
{
	static const char *const probes[] = { "user.bpfuse", "trusted.bpfuse", "security.bpfuse" };
	char path[BF_PROC_FD_MAX];
	struct statfs sfs;
	ssize_t n;
	size_t i;

	bf_proc_fd_path(path, root_fd);
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		if (getxattr(path, probes[i], NULL, 0) != -1 || errno != EOPNOTSUPP)
			return false;
	if (getxattr(path, "system.posix_acl_access", NULL, 0) != -1 ||
	    (errno != EOPNOTSUPP &&
	     !(errno == ENODATA && statfs(path, &sfs) == 0 && sfs.f_type == FUSE_SUPER_MAGIC)))
		return false;
	n = listxattr(path, NULL, 0);
	return n == 0 || (n == -1 && errno == EOPNOTSUPP);
}

/*
 * Whether BACKING_DIR is a FUSE or network file system: one that may make a
 * file real, or report a write's failure, only when the file is flushed or
 * closed (s3fs stores an object at close; Gluster's write-behind, NFS's
 * close-to-open report errors there). Over those, opens reach the daemon
 * and a writer's close flushes the backing file (close_to_open). A local
 * file system shares the kernel's page cache with the mount: nothing waits
 * to be flushed, and opens need no message.
 */
static bool bf_remote_fs(int root_fd)
{
	static const unsigned long remote[] = {
		FUSE_SUPER_MAGIC, NFS_SUPER_MAGIC, SMB_SUPER_MAGIC, 0xff534d42 /* CIFS */,
		0xfe534d42 /* SMB2 */, V9FS_MAGIC, CEPH_SUPER_MAGIC, AFS_FS_MAGIC, CODA_SUPER_MAGIC,
		0x01161970 /* GFS2 */, 0x7461636f /* OCFS2 */,
	};
	struct statfs sfs;
	size_t i;

	if (fstatfs(root_fd, &sfs) == -1)
		return false;
	for (i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		if ((unsigned long)sfs.f_type == remote[i])
			return true;
	return false;
}

/*
 * FUSE over io_uring (libfuse 3.18): a ring per CPU, each served by one
 * thread that answers its requests in turn, with no /dev/fuse read or
 * write per request. A request that blocks holds up its whole ring, and
 * libfuse 3.18 relays no interrupt over it, so by default only a local
 * backend rides it: over a FUSE or network backend (or backend_latency=)
 * a miss may wait for the network, and /dev/fuse's worker threads serve
 * those side by side. The kernel's switch is machine-wide and the
 * operator's (README, "Build by hand"): bpfused only reads it, and says once
 * how to turn it on.
 */
static int bf_uring_choose(struct bf_fs *fs, struct fuse_args *args, bool remote)
{
	const char *param = "/sys/module/fuse/parameters/enable_uring";
	int want = fs->opts.io_uring;
	int on = EOF;
	FILE *f;

	if (want < 0)
		want = !remote && !fs->opts.backend_latency_ns;
	if (!want)
		return 0;
	/* said once the mount serves (bf_init()): a mount prints nothing */
#ifndef HAVE_FUSE_URING
	(void)param, (void)on, (void)f, (void)args;
	if (fs->opts.io_uring > 0)
		snprintf(fs->uring_note, sizeof(fs->uring_note),
			 "built with a libfuse older than 3.18.3, without io_uring");
	return 0;
#else
	f = fopen(param, "re");
	if (f) {
		on = fgetc(f);
		fclose(f);
	}
	if (on != 'Y') {
		snprintf(fs->uring_note, sizeof(fs->uring_note),
			 f ? "FUSE over io_uring is off in this kernel (as root: echo Y > %s, "
			     "or fuse.enable_uring=1 on the kernel command line)"
			   : "this kernel has no FUSE over io_uring (%s: Linux 6.14 on)",
			 param);
		return 0;
	}
	fs->uring = true;
	return fuse_opt_add_arg(args, "-oio_uring");
#endif
}

/* How reads move atime on the backing file system, from its mount flags. */
static enum bf_atime_rule bf_atime_rule_of(const char *backing)
{
	struct statvfs sv;

	if (statvfs(backing, &sv) == -1 || (sv.f_flag & ST_RELATIME))
		return BF_ATIME_RELATIME;
	return sv.f_flag & ST_NOATIME ? BF_ATIME_NEVER : BF_ATIME_STRICT;
}

/*
 * fuse_daemonize(), except that the parent (bpfused as its caller sees it)
 * returns only once the daemon has recorded its pid for bpfusectl: a
 * `bpfusectl stats` right after bpfused returns finds the daemon alive.
 * The parent exits 1 if the daemon died before that.
 */
static int bf_daemonize(struct bf_fs *fs, bool foreground)
{
	int ready[2], nullfd;
	char ok = 0;
	pid_t pid;

	if (foreground) {
		bpfuse_mount_set_pid(fs->cache, getpid());
		return chdir("/") == -1 ? -errno : 0;
	}
	if (pipe2(ready, O_CLOEXEC) == -1)
		return -errno;
	pid = fork();
	if (pid == -1) {
		close(ready[0]);
		close(ready[1]);
		return -errno;
	}
	if (pid > 0) {
		close(ready[1]);
		_exit(read(ready[0], &ok, 1) == 1 ? 0 : 1);
	}
	close(ready[0]);
	if (setsid() == -1 || chdir("/") == -1)
		return -errno;
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nullfd == -1)
		return -errno;
	dup2(nullfd, 0);
	dup2(nullfd, 1);
	dup2(nullfd, 2);
	if (nullfd > 2)
		close(nullfd);
	bpfuse_mount_set_pid(fs->cache, getpid());
	if (write(ready[1], &ok, 1) != 1)
		return -errno;
	close(ready[1]);
	return 0;
}

/* How long the mount served, for the summary at unmount: "2h05m", "3m07s", "12s". */
static const char *bf_uptime(time_t since)
{
	static char buf[32];
	long s = (long)(time(NULL) - since);

	if (s >= 3600)
		snprintf(buf, sizeof(buf), "%ldh%02ldm", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(buf, sizeof(buf), "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(buf, sizeof(buf), "%lds", s);
	return buf;
}

static int bf_loop(struct fuse_session *se, const struct fuse_cmdline_opts *cmd)
{
	struct fuse_loop_config *cfg;
	int ret;

	if (cmd->singlethread)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, cmd->clone_fd);
	/* UINT_MAX means "not given"; libfuse 3.14 warns if it is passed on. */
	if (cmd->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, cmd->max_idle_threads);
	fuse_loop_cfg_set_max_threads(cfg, cmd->max_threads);
	ret = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return ret;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = { 0 };
	struct fuse_session *se = NULL;
	struct bf_fs *fs;
	char *backing = NULL, *mnt = NULL;
	bool have_table = false, mounted = false;
	uint64_t underflows;
	size_t left;
	unsigned int io_max, dir_max;
	int root_fd, watch_fd, ret = 1;
	time_t mounted_at = 0;

	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		fprintf(stderr, "bpfused: out of memory\n");
		return 1;
	}
	fuse_set_log_func(bf_stderr);
	if (bf_opts_parse(&args, &fs->opts))
		goto out;
	if (fuse_parse_cmdline(&args, &cmd) != 0)
		goto out;
	if (cmd.show_help) {
		/* libfuse's own help would list -d, -f, -s, max_threads, allow_other again */
		bf_opts_help();
		ret = 0;
		goto out;
	}
	if (cmd.show_version) {
		/* not fuse_lowlevel_version(): it runs fusermount3, whose output came first */
		printf("bpfused %s (libfuse %s)\n", PACKAGE_VERSION, fuse_pkgversion());
		ret = 0;
		goto out;
	}
	if (!fs->opts.backing || !cmd.mountpoint) {
		fprintf(stderr, "bpfused: usage: bpfused [options] BACKING_DIR MOUNTPOINT "
				"(see --help)\n");
		goto out;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bpfused: must run as root: it opens files by handle and "
				"creates them as their callers\n");
		goto out;
	}
	if (access("/dev/fuse", R_OK | W_OK) == -1) {
		fprintf(stderr, "bpfused: /dev/fuse: %s (is the fuse module loaded?)\n",
			strerror(errno));
		goto out;
	}
	if (bf_opts_finish(&fs->opts, true))
		goto out;
	if (bf_io_limit(&fs->opts, &io_max, &dir_max))
		goto out;
	if (bf_check_backing(fs->opts.backing, &backing))
		goto out;
	if (bf_check_mountpoint(cmd.mountpoint, &mnt))
		goto out;
	if (strcmp(backing, mnt) && bf_path_within(backing, mnt)) {
		fprintf(stderr,
			"bpfused: mountpoint %s is inside backing directory %s: "
			"the mount would serve itself\n",
			mnt, backing);
		goto out;
	}
	root_fd = open(backing, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd == -1) {
		fprintf(stderr, "bpfused: failed to open %s: %s\n", backing, strerror(errno));
		goto out;
	}
	if (bf_table_init(&fs->table, root_fd)) {
		fprintf(stderr, "bpfused: failed to set up the inode table for %s\n", backing);
		close(root_fd);
		goto out;
	}
	have_table = true;
	fs->table.io_max = io_max;
	fs->table.dir_fds_max = dir_max;
	/* the daemon's reads honour the mount's noatime; otherwise the backing rule holds */
	fs->table.noatime = fs->opts.noatime;
	fs->table.nodiratime = fs->opts.nodiratime;
	fs->atime_rule = fs->opts.noatime ? BF_ATIME_NEVER : bf_atime_rule_of(backing);
	fs->no_xattr = bf_no_xattrs(root_fd);
	fs->remote = bf_remote_fs(root_fd);
	fs->close_to_open = fs->opts.close_to_open >= 0 ? fs->opts.close_to_open : fs->remote;
	if (bf_uring_choose(fs, &args, fs->remote) ||
	    bf_mount_opts(&args, &fs->opts, backing)) {
		fprintf(stderr, "bpfused: out of memory\n");
		goto out;
	}
	umask(0); /* each creation sets its caller's umask itself */

	se = fuse_session_new(&args, &bf_ops, sizeof(bf_ops), fs);
	if (!se)
		goto out; /* libfuse said why, e.g. an unknown option */
	fs->se = se;
	if (fuse_set_signal_handlers(se))
		goto out_destroy;
	watch_fd = -EBADF; /* not watching */
	if (fs->opts.watch && (watch_fd = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		watch_fd = -errno;
	if (fuse_session_mount(se, mnt)) {
		if (watch_fd >= 0)
			close(watch_fd);
		goto out_signals;
	}
	mounted = true;
	mounted_at = time(NULL);
	fs->table.dev_fd = fuse_session_fd(se); /* for passthrough registrations */
	if (!cmd.foreground)
		bf_log_to_syslog();
	bf_caches_open(fs, se, backing, watch_fd, mnt);
	if (bf_daemonize(fs, cmd.foreground))
		goto out_unmount;
	if (fs->watch && bf_watch_run(fs->watch)) {
		fuse_log(FUSE_LOG_WARNING, "bpfused: failed to start the watcher thread\n");
		bf_watch_stop(fs->watch);
		fs->watch = NULL;
	}
	/* A positive result is the signal that asked for the unmount. */
	ret = bf_loop(se, &cmd) < 0 ? 1 : 0;

out_unmount:
	/*
	 * Unmount first: that aborts requests no worker will answer now, which
	 * a notification in the watcher may be waiting behind.
	 */
	fuse_session_unmount(se);
	bf_watch_stop(fs->watch);
	fs->watch = NULL;
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
out:
	bpfuse_mount_close(fs->cache);
	if (have_table) {
		underflows = fs->table.underflows;
		left = bf_table_destroy(&fs->table);
		/* The kernel sends no FORGET at unmount: left is what it held. */
		if (mounted)
			fuse_log(underflows ? FUSE_LOG_WARNING : FUSE_LOG_INFO,
				 "bpfused: unmounted %s after %s; %llu calls into %s; %zu nodes "
				 "still held by the kernel, %llu forget underflows (nodes held "
				 "at unmount are normal; an underflow is a bug)\n",
				 mnt, bf_uptime(mounted_at), (unsigned long long)fs->backend_calls,
				 backing, left, (unsigned long long)underflows);
	}
	bf_opts_free(&fs->opts);
	free(cmd.mountpoint);
	free(backing);
	free(mnt);
	fuse_opt_free_args(&args);
	free(fs);
	return ret;
}
