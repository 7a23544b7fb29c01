// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bpfused's own -o options. Everything libfuse already parses (-f, -d, -s,
 * max_threads, allow_other's friends, fsname, ...) is left in the argument
 * list for fuse_parse_cmdline() and fuse_session_new(); only what libfuse
 * does not know is taken out here.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpfused.h"

enum {
	KEY_ENTRY_TIMEOUT,
	KEY_ATTR_TIMEOUT,
	KEY_NEGATIVE_TIMEOUT,
	KEY_BACKEND_LATENCY,
	KEY_ALLOW_OTHER,
	KEY_NO_ALLOW_OTHER,
	KEY_MAP_TIMEOUT,
	KEY_MAP_NEGATIVE_TIMEOUT,
	KEY_IO_FDS,
	KEY_MAP_ENTRIES,
	KEY_NOATIME,
	KEY_NODIRATIME,
};

#define BF_OPT(t, p, v)                                                                            \
	{                                                                                          \
		t, offsetof(struct bf_opts, p), v                                                  \
	}

static const struct fuse_opt bf_opt_spec[] = {
	FUSE_OPT_KEY("entry_timeout=", KEY_ENTRY_TIMEOUT),
	FUSE_OPT_KEY("attr_timeout=", KEY_ATTR_TIMEOUT),
	FUSE_OPT_KEY("negative_timeout=", KEY_NEGATIVE_TIMEOUT),
	FUSE_OPT_KEY("backend_latency=", KEY_BACKEND_LATENCY),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_KEY("no_allow_other", KEY_NO_ALLOW_OTHER),
	FUSE_OPT_KEY("map_timeout=", KEY_MAP_TIMEOUT),
	FUSE_OPT_KEY("map_negative_timeout=", KEY_MAP_NEGATIVE_TIMEOUT),
	FUSE_OPT_KEY("io_fds=", KEY_IO_FDS),
	FUSE_OPT_KEY("map_entries=", KEY_MAP_ENTRIES),
	FUSE_OPT_KEY("noatime", KEY_NOATIME),
	FUSE_OPT_KEY("nodiratime", KEY_NODIRATIME),
	BF_OPT("maps", maps, 1),
	BF_OPT("no_maps", maps, 0),
	BF_OPT("watch", watch, 1),
	BF_OPT("no_watch", watch, 0),
	BF_OPT("ext", ext, 1),
	BF_OPT("no_ext", ext, 0),
	BF_OPT("cache=%s", cache_str, 0),
	BF_OPT("passthrough", passthrough, 1),
	BF_OPT("no_passthrough", passthrough, 0),
	BF_OPT("io_uring", io_uring, 1),
	BF_OPT("no_io_uring", io_uring, 0),
	BF_OPT("close_to_open", close_to_open, 1),
	BF_OPT("no_close_to_open", close_to_open, 0),
	BF_OPT("writeback", writeback, 1),
	BF_OPT("no_writeback", writeback, 0),
	FUSE_OPT_END
};

/* How long the kernel may trust names and attributes when a watcher tells it of changes. */
#define BF_WATCHED_TIMEOUT 86400
/*
 * Unwatched (sshfs, NFS): how long a change made behind the mount may go
 * unseen, on top of the backend's own caching: as long as sshfs keeps its
 * attributes by default, within NFS's attribute cache range, so that
 * bpfused in front of such a backend is not slower than the backend alone
 * where that one answers from its cache. A name that did not exist is
 * trusted for 1 s only: a file created on the server shows within 1 s.
 */
#define BF_UNWATCHED_TIMEOUT 20
#define BF_UNWATCHED_NEGATIVE 1

/* Bounds of io_fds=: each node keeps up to two fds. */
#define BF_IO_FDS_MIN 16
#define BF_IO_FDS_MAX (1U << 20)

/*
 * map_entries=: the lookup and attr caches each hold this many, from
 * BPFUSE_ENTRIES_MIN to BF_MAP_ENTRIES_MAX. Unset, as many as fit in a
 * BF_MAP_MEMORY_SHARE-th of the machine's memory at BF_MAP_ENTRY_BYTES
 * each (lookup + attributes + a quarter of an xattr, docs/ARCHITECTURE.md),
 * as a power of two from the library's built-in size up to
 * BF_MAP_ENTRIES_AUTO_MAX: 24 GiB gives 131,072 entries, about 90 MB, the
 * working set of a Linux source tree. --help prints them all.
 */
#define BF_MAP_ENTRIES_MAX	(1U << 24)
#define BF_MAP_ENTRIES_AUTO_MAX (1U << 20)
#define BF_MAP_ENTRY_BYTES	700
#define BF_MAP_MEMORY_SHARE	256

/* Longest delay backend_latency= accepts: anything larger is a typo. */
#define BF_LATENCY_MAX_NS (10ULL * 1000 * 1000 * 1000)

int bf_parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0)
		return -EINVAL;
	*out = v;
	return 0;
}

int bf_parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *suffix;
		double scale;
	} units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "", 1e9 },
	};
	char *end;
	double v;
	size_t i;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix))
			continue;
		v *= units[i].scale;
		if (v > BF_LATENCY_MAX_NS)
			return -ERANGE;
		*ns = (uint64_t)llround(v);
		return 0;
	}
	return -EINVAL;
}

static int bf_opt_seconds(const char *arg, const char *name, double *out)
{
	const char *val = arg + strlen(name) + 1;

	if (bf_parse_seconds(val, out) == 0)
		return 0;
	fprintf(stderr, "bpfused: invalid %s '%s': expected seconds >= 0\n", name, val);
	return -1;
}

static int bf_opt_count(const char *arg, const char *name, unsigned int min, unsigned int max,
			unsigned int *out)
{
	const char *val = arg + strlen(name) + 1;
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(val, &end, 10);
	if (!errno && end != val && !*end && *val != '-' && n >= min && n <= max) {
		*out = n;
		return 0;
	}
	fprintf(stderr, "bpfused: invalid %s '%s': expected a number from %u to %u\n", name, val,
		min, max);
	return -1;
}

static int bf_opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct bf_opts *opts = data;
	const char *val;
	int err;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		/* The first bare word is ours; the mountpoint goes on to libfuse. */
		if (opts->backing)
			return 1;
		opts->backing = strdup(arg);
		return opts->backing ? 0 : -1;
	case KEY_ENTRY_TIMEOUT:
		return bf_opt_seconds(arg, "entry_timeout", &opts->entry_timeout);
	case KEY_ATTR_TIMEOUT:
		return bf_opt_seconds(arg, "attr_timeout", &opts->attr_timeout);
	case KEY_NEGATIVE_TIMEOUT:
		return bf_opt_seconds(arg, "negative_timeout", &opts->negative_timeout);
	case KEY_MAP_TIMEOUT:
		return bf_opt_seconds(arg, "map_timeout", &opts->map_timeout);
	case KEY_MAP_NEGATIVE_TIMEOUT:
		return bf_opt_seconds(arg, "map_negative_timeout", &opts->map_negative_timeout);
	case KEY_IO_FDS:
		return bf_opt_count(arg, "io_fds", BF_IO_FDS_MIN, BF_IO_FDS_MAX, &opts->io_fds);
	case KEY_MAP_ENTRIES:
		return bf_opt_count(arg, "map_entries", BPFUSE_ENTRIES_MIN, BF_MAP_ENTRIES_MAX,
				    &opts->map_entries);
	case KEY_BACKEND_LATENCY:
		val = arg + strlen("backend_latency=");
		err = bf_parse_duration(val, &opts->backend_latency_ns);
		if (!err)
			return 0;
		fprintf(stderr, "bpfused: invalid backend_latency '%s': %s\n", val,
			err == -ERANGE ? "more than 10 s" : "expected a duration such as 1ms");
		return -1;
	case KEY_ALLOW_OTHER:
		opts->allow_other = 1;
		return 0;
	case KEY_NO_ALLOW_OTHER:
		opts->allow_other = 0;
		return 0;
	case KEY_NOATIME:
		opts->noatime = true;
		return 1; /* libfuse makes it a mount flag */
	case KEY_NODIRATIME:
		opts->nodiratime = true;
		return 1;
	default:
		return 1;
	}
}

int bf_opts_parse(struct fuse_args *args, struct bf_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->entry_timeout = -1;
	opts->attr_timeout = -1;
	opts->negative_timeout = -1;
	opts->allow_other = -1;
	opts->maps = -1;
	opts->passthrough = -1;
	opts->close_to_open = -1;
	opts->io_uring = -1;
	opts->watch = 1;
	opts->ext = 1;
	opts->map_timeout = -1;
	opts->map_negative_timeout = -1;
	if (fuse_opt_parse(args, opts, bf_opt_spec, bf_opt_proc) == -1)
		return -EINVAL;
	return 0;
}

/*
 * Fill in what the user left unset, but the timeouts of cache=auto: those
 * wait for bf_opts_timeouts(), once it is known whether the backing file
 * system is watched.
 */
static unsigned int bf_map_entries_auto(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	uint64_t budget =
		pages > 0 && psize > 0 ? (uint64_t)pages * psize / BF_MAP_MEMORY_SHARE : 0;
	unsigned int n = BPFUSE_ENTRIES_DEFAULT;

	while (n < BF_MAP_ENTRIES_AUTO_MAX && (uint64_t)n * 2 * BF_MAP_ENTRY_BYTES <= budget)
		n *= 2;
	return n;
}

int bf_opts_finish(struct bf_opts *opts, bool is_root)
{
	const char *c = opts->cache_str;

	if (!c || !strcmp(c, "auto"))
		opts->cache = BF_CACHE_AUTO;
	else if (!strcmp(c, "never"))
		opts->cache = BF_CACHE_NEVER;
	else if (!strcmp(c, "always"))
		opts->cache = BF_CACHE_ALWAYS;
	else {
		fprintf(stderr, "bpfused: invalid cache '%s': expected never, auto or always\n", c);
		return -EINVAL;
	}
	if (opts->passthrough > 0 && opts->writeback) {
		fprintf(stderr, "bpfused: passthrough and writeback exclude each other: "
				"the kernel's writeback cache would hide the backing file\n");
		return -EINVAL;
	}
	if (opts->cache != BF_CACHE_AUTO)
		bf_opts_timeouts(opts, false);
	if (opts->allow_other < 0)
		opts->allow_other = is_root;
	if (opts->maps < 0)
		opts->maps = opts->cache != BF_CACHE_NEVER;
	if (!opts->map_entries)
		opts->map_entries = bf_map_entries_auto();
	return 0;
}

/*
 * The kernel's timeouts the user left unset. The cache mode picks them, and
 * an explicit timeout always wins. cache=auto trusts the kernel's caches
 * until the watcher invalidates them when the backing file system is
 * watched (its reports arrive within milliseconds); otherwise the timeouts
 * alone bound how long an outside change goes unseen (BF_UNWATCHED_*).
 */
void bf_opts_timeouts(struct bf_opts *opts, bool watched)
{
	static const double defaults[] = {
		[BF_CACHE_NEVER] = 0,
		[BF_CACHE_AUTO] = BF_UNWATCHED_TIMEOUT,
		[BF_CACHE_ALWAYS] = 86400,
	};
	double d = defaults[opts->cache], neg = d;

	if (opts->cache == BF_CACHE_AUTO)
		d = neg = watched ? BF_WATCHED_TIMEOUT : BF_UNWATCHED_TIMEOUT;
	if (opts->cache == BF_CACHE_AUTO && !watched)
		neg = BF_UNWATCHED_NEGATIVE;
	if (opts->entry_timeout < 0)
		opts->entry_timeout = d;
	if (opts->attr_timeout < 0)
		opts->attr_timeout = d;
	if (opts->negative_timeout < 0)
		opts->negative_timeout = neg;
}

/*
 * How long map entries may be served, where the user left it unset (after
 * bf_opts_timeouts()). Watched: 60 s, "no such name" too; the watcher
 * invalidates, and the lifetime only bounds staleness in submounts of
 * other file systems, which it does not watch. Unwatched: as long as the
 * kernel keeps the same answers (1 s where its timeouts are 0), and "no
 * such name" or "no such attribute" as long as the kernel keeps negative
 * entries (1 ms where it keeps none): a map entry must not keep alive what
 * the kernel already let go.
 */
void bf_opts_map_timeouts(struct bf_opts *opts, bool watched)
{
	double t = fmax(opts->entry_timeout, opts->attr_timeout);

	if (opts->map_timeout < 0)
		opts->map_timeout = watched ? 60 : t > 0 ? t : 1;
	if (opts->map_negative_timeout >= 0)
		return;
	t = opts->negative_timeout > 0 ? opts->negative_timeout : 0.001;
	if (watched || (opts->map_timeout > 0 && opts->map_timeout < t))
		t = opts->map_timeout;
	opts->map_negative_timeout = t;
}

void bf_opts_free(struct bf_opts *opts)
{
	free(opts->backing);
	free(opts->cache_str);
	opts->backing = NULL;
	opts->cache_str = NULL;
}

void bf_opts_help(void)
{
	printf("usage: bpfused [options] BACKING_DIR MOUNTPOINT\n"
	       "\n"
	       "Mounts BACKING_DIR at MOUNTPOINT through FUSE. Must run as root.\n"
	       "\n"
	       "bpfused options:\n"
	       "    -o entry_timeout=SECS  how long the kernel may trust a name (default:\n"
	       "                           by cache mode: never 0, always 86400, auto\n"
	       "                           86400 while the watcher invalidates, else 20:\n"
	       "                           an unwatched backend's changes show within it)\n"
	       "    -o attr_timeout=SECS   how long the kernel may trust attributes (same)\n"
	       "    -o negative_timeout=SECS  how long the kernel may trust \"no such\n"
	       "                           name\" (same, but 1 when unwatched; 0 disables\n"
	       "                           negative entries)\n"
	       "    -o cache=MODE          never: every access asks the daemon and file\n"
	       "                           data is re-read at every open; auto: files\n"
	       "                           and directories open without a message,\n"
	       "                           cached data and listings are kept while the\n"
	       "                           mtime holds or until the watcher drops them;\n"
	       "                           always: cached data is kept across opens\n"
	       "                           (only for backing dirs nobody else changes)\n"
	       "                           (default: auto)\n"
	       "    -o passthrough         file data read and written by the kernel\n"
	       "                           straight from the backing file (Linux 6.9 on;\n"
	       "                           costs an OPEN and a RELEASE per open, except\n"
	       "                           in ext mode, whose extension answers read-only\n"
	       "                           opens; default: on in ext mode without\n"
	       "                           noatime, else off)\n"
	       "    -o close_to_open       every open reaches the daemon, and a close of\n"
	       "                           a file opened for writing flushes it to\n"
	       "                           BACKING_DIR before close(2) returns, with\n"
	       "                           the backend's error (default: on when\n"
	       "                           BACKING_DIR is a FUSE or network file system)\n"
	       "    -o no_close_to_open    zero-message opens even there: a backend that\n"
	       "                           stores data at close (s3fs) may never see it\n"
	       "    -o io_uring            requests travel over io_uring rings, one per CPU,\n"
	       "                           each served by one thread (default: on where the\n"
	       "                           kernel allows it, unless BACKING_DIR is a FUSE or\n"
	       "                           network file system or backend_latency= is set,\n"
	       "                           where a request may block its ring)\n"
	       "    -o no_io_uring         requests travel over /dev/fuse\n"
	       "    -o io_uring_q_depth=N  requests in flight per ring (libfuse's; default: 8)\n"
	       "    -o io_fds=N            with zero-message opens, at most N files keep\n"
	       "                           backing fds open for I/O (default: 4096, or\n"
	       "                           what RLIMIT_NOFILE allows)\n"
	       "    -o writeback           kernel writeback cache (default: off)\n"
	       "    -o no_writeback        no writeback cache\n"
	       "    -o allow_other         let every user use the mount as its permission\n"
	       "                           bits allow (default: on when run as root)\n"
	       "    -o no_allow_other      only the mounting user may use the mount\n"
	       "    -o maps                cache lookups, attributes and xattrs in BPF\n"
	       "                           maps (default: on unless cache=never)\n"
	       "    -o no_maps             the maps serve no request: every request asks\n"
	       "                           the backend (statistics are still kept)\n");
	printf("    -o map_entries=N       the lookup and attribute maps hold N entries\n"
	       "                           each (%u to %u), the xattr map N/%u\n"
	       "                           (at least %u); allocated at mount, about\n"
	       "                           %u bytes per entry (default: a %uth of\n"
	       "                           memory, %u up to %u; %u on this\n"
	       "                           machine)\n",
	       BPFUSE_ENTRIES_MIN, BF_MAP_ENTRIES_MAX, BPFUSE_XATTR_ENTRIES_DIV, BPFUSE_ENTRIES_MIN,
	       BF_MAP_ENTRY_BYTES, BF_MAP_MEMORY_SHARE, BPFUSE_ENTRIES_DEFAULT,
	       BF_MAP_ENTRIES_AUTO_MAX, bf_map_entries_auto());
	printf("    -o map_timeout=SECS    how long a map entry may be served (default: 60\n"
	       "                           when the backing file system is watched, else\n"
	       "                           as long as the kernel's entries)\n"
	       "    -o map_negative_timeout=SECS  the same for \"no such name\" and \"no such\n"
	       "                           attribute\" (default: map_timeout when watched,\n"
	       "                           else negative_timeout)\n"
	       "    -o watch               watch the backing file system, so changes made\n"
	       "                           behind the daemon's back show at once (default)\n"
	       "    -o no_watch            do not: timeouts alone bound staleness\n"
	       "    -o ext                 where the kernel has the bpfuse hook, attach the\n"
	       "                           extension that answers hits in the kernel (default)\n"
	       "    -o no_ext              stock mode even there\n"
	       "    -o backend_latency=T   delay every metadata call into BACKING_DIR by\n"
	       "                           T (e.g. 1ms, 250us; a bare number is seconds)\n"
	       "                           to emulate a network file system (default: 0)\n"
	       "    -o noatime             reads move no atime, not even the daemon's own\n"
	       "                           reads of BACKING_DIR (but with passthrough, whose\n"
	       "                           file reads follow BACKING_DIR's mount)\n"
	       "    -o nodiratime          the same for directory listings only\n"
	       "    -o max_threads=N       at most N worker threads (default: 10)\n"
	       "    -o max_idle_threads=N  at most N of them idle (default: no limit)\n"
	       "    -o clone_fd            a /dev/fuse fd per worker thread\n"
	       "    -s                     one worker thread\n"
	       "    -f                     stay in the foreground, log to stderr\n"
	       "    -d                     debug: log every request (implies -f)\n"
	       "    -h, --help             this help\n"
	       "    -V, --version          bpfused's and libfuse's versions\n"
	       "\n"
	       "Other -o options (ro, nosuid, fsname=, ...) are libfuse's and the kernel's\n"
	       "mount options. See bpfused(8).\n");
}
