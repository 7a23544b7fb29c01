// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bpfusectl: what the caches of bpfuse mounts are doing.
 *
 *   bpfusectl list [-j]
 *   bpfusectl stats MOUNTPOINT [-j|--json] [-v] [-z] [--hist] [INTERVAL [COUNT]]
 *   bpfusectl dump MOUNTPOINT
 *   bpfusectl invalidate MOUNTPOINT PATH
 *   bpfusectl prune
 *
 * A thin client: it reads the maps the daemon pinned under
 * /sys/fs/bpf/bpfuse/<mount id>/ and maps the statistics value, as the
 * daemon does.
 */
#include "config.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bpfuse.h"

#define FUSE_ROOT_NODE 1

/* FUSE opcodes by wire value, for the tables (Linux include/uapi/linux/fuse.h). */
static const char *const op_names[BPFUSE_OPCODE_MAX] = {
	[1] = "lookup",	       [2] = "forget",	   [3] = "getattr",
	[4] = "setattr",       [5] = "readlink",   [6] = "symlink",
	[8] = "mknod",	       [9] = "mkdir",	   [10] = "unlink",
	[11] = "rmdir",	       [12] = "rename",	   [13] = "link",
	[14] = "open",	       [15] = "read",	   [16] = "write",
	[17] = "statfs",       [18] = "release",   [20] = "fsync",
	[21] = "setxattr",     [22] = "getxattr",  [23] = "listxattr",
	[24] = "removexattr",  [25] = "flush",	   [26] = "init",
	[27] = "opendir",      [28] = "readdir",   [29] = "releasedir",
	[30] = "fsyncdir",     [31] = "getlk",	   [32] = "setlk",
	[33] = "setlkw",       [34] = "access",	   [35] = "create",
	[36] = "interrupt",    [37] = "bmap",	   [38] = "destroy",
	[39] = "ioctl",	       [40] = "poll",	   [41] = "notify_reply",
	[42] = "batch_forget", [43] = "fallocate", [44] = "readdirplus",
	[45] = "rename2",      [46] = "lseek",	   [47] = "copy_file_range",
	[50] = "syncfs",       [51] = "tmpfile",   [52] = "statx",
};

static const char *const cache_names[BPFUSE_CACHE_MAX] = {
	[BPFUSE_CACHE_LOOKUP] = "lookup",
	[BPFUSE_CACHE_ATTR] = "attr",
	[BPFUSE_CACHE_XATTR] = "xattr",
};

static const char *const cause_names[BPFUSE_CAUSE_MAX] = {
	[BPFUSE_CAUSE_SETATTR] = "setattr", [BPFUSE_CAUSE_WRITE] = "write",
	[BPFUSE_CAUSE_ACCESS] = "access",   [BPFUSE_CAUSE_CREATE] = "create",
	[BPFUSE_CAUSE_LINK] = "link",	    [BPFUSE_CAUSE_UNLINK] = "unlink",
	[BPFUSE_CAUSE_RENAME] = "rename",   [BPFUSE_CAUSE_XATTR] = "xattr",
	[BPFUSE_CAUSE_FORGET] = "forget",   [BPFUSE_CAUSE_EXTERNAL] = "external",
	[BPFUSE_CAUSE_USER] = "user",
};

/* One mount, as the CLI sees it. */
struct ctl {
	const char *mountpoint;
	uint64_t mnt_id;
	char dir[64];
	struct bpfuse_stats *stats; /* mapped from the pinned "stats" map */
	size_t stats_len;
	int fds[BPFUSE_CACHE_MAX]; /* lookup, attr, xattr */
	struct bpfuse_config cfg;
};

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static int die(const char *fmt, ...)
{
	va_list ap;

	fputs("bpfusectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static bool alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

static int map_open(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return bpf_obj_get(path);
}

/* Open the pinned maps of the mount at path, or say in one line why not. */
static void ctl_open(struct ctl *c, const char *path)
{
	static const char *const names[BPFUSE_CACHE_MAX] = { "lookup", "attr", "xattr" };
	struct statx stx;
	void *mem;
	int fd, i;

	memset(c, 0, sizeof(*c));
	c->mountpoint = path;
	if (statx(AT_FDCWD, path, AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) == -1) {
		if (errno == ENOTCONN)
			die("%s: the daemon is gone (transport endpoint is not connected)", path);
		die("%s: %s", path, strerror(errno));
	}
	if (!(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		die("%s is not a mount point", path);
	c->mnt_id = stx.stx_mnt_id;
	bpfuse_pin_dir(c->mnt_id, c->dir, sizeof(c->dir));
	if (access(c->dir, F_OK) == -1) {
		if (errno == EACCES)
			die("%s: %s (run as root)", BPFUSE_PIN_ROOT, strerror(errno));
		die("%s is not a bpfuse mount (no maps pinned at %s)", path, c->dir);
	}
	fd = map_open(c->dir, "stats");
	if (fd < 0)
		die("failed to open %s/stats: %s", c->dir, strerror(errno));
	c->stats_len = (sizeof(struct bpfuse_stats) + 4095) & ~4095UL;
	mem = mmap(NULL, c->stats_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (mem == MAP_FAILED)
		die("failed to map %s/stats: %s", c->dir, strerror(errno));
	c->stats = mem;
	if (!alive(c->stats->daemon_pid))
		die("%s: its daemon (pid %u) is gone", path, c->stats->daemon_pid);
	fd = map_open(c->dir, "mount_cfg");
	if (fd < 0 || bpf_map_lookup_elem(fd, &(__u32){ 0 }, &c->cfg))
		die("failed to read %s/mount_cfg: %s", c->dir, strerror(errno));
	close(fd);
	for (i = 0; i < BPFUSE_CACHE_MAX; i++) {
		c->fds[i] = map_open(c->dir, names[i]);
		if (c->fds[i] < 0)
			die("failed to open %s/%s: %s", c->dir, names[i], strerror(errno));
	}
}

static unsigned long map_entries(int fd, size_t key_size)
{
	char key[512], next[512];
	unsigned long n = 0;
	void *prev = NULL;

	if (key_size > sizeof(key))
		return 0;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	return n;
}

/* The map's capacity, as the daemon sized it (-o map_entries). */
static unsigned int map_capacity(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

/* Bytes the kernel charges for the map: LRU maps are allocated whole. */
static unsigned long long map_memory(int fd)
{
	char path[64], line[128];
	unsigned long long bytes = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &bytes) == 1)
			break;
	fclose(f);
	return bytes;
}

static const size_t key_sizes[BPFUSE_CACHE_MAX] = {
	sizeof(struct bpfuse_lookup_key),
	sizeof(__u64),
	sizeof(struct bpfuse_xattr_key),
};

/* ---- stats --------------------------------------------------------------- */

/* LRU evictions are not reported by the kernel: what went in and is gone. */
static __u64 evictions(const struct bpfuse_stats *s, int cache, unsigned long entries)
{
	__u64 gone = s->inserts[cache] - s->deletes[cache];

	return gone > entries ? gone - entries : 0;
}

static const char *const probe_names[] = {
	[BPFUSE_PROBE_NONE] = NULL,
	[BPFUSE_PROBE_TRACEPOINT] = "tracepoint",
	[BPFUSE_PROBE_KPROBE] = "kprobe",
};

static const char *probe_name(__u32 probe)
{
	return probe < sizeof(probe_names) / sizeof(probe_names[0]) ? probe_names[probe] : NULL;
}

static const char *mode_name(__u32 mode)
{
	return mode == BPFUSE_MODE_EXT ? "ext" : "stock";
}

static double hit_pct(const struct bpfuse_op_stats *o)
{
	__u64 hits = o->kernel_hits + o->daemon_hits, all = hits + o->backend_calls;

	return all ? 100.0 * hits / all : 0;
}

/* Over the timed upcalls: the kprobes cannot time background requests. */
static double avg_us(const struct bpfuse_op_stats *o)
{
	__u64 timed = 0;

	for (int i = 0; i < BPFUSE_HIST_SLOTS; i++)
		timed += o->hist[i];
	return timed ? o->latency_ns / 1e3 / timed : 0;
}

static bool op_used(const struct bpfuse_op_stats *o)
{
	return o->kernel_hits || o->daemon_hits || o->backend_calls || o->upcalls;
}

/* d = a - b, counter by counter (the header fields are copied from a). */
static void stats_delta(struct bpfuse_stats *d, const struct bpfuse_stats *a,
			const struct bpfuse_stats *b)
{
	const __u64 *pa = (const __u64 *)&a->inserts, *pb = (const __u64 *)&b->inserts;
	__u64 *pd = (__u64 *)&d->inserts;
	size_t i, n = (sizeof(*a) - offsetof(struct bpfuse_stats, inserts)) / sizeof(__u64);

	memcpy(d, a, offsetof(struct bpfuse_stats, inserts));
	for (i = 0; i < n; i++)
		pd[i] = pa[i] - pb[i];
}

static const char *map_life(const struct bpfuse_config *cfg)
{
	static char buf[32];

	if (!cfg->map_timeout_ns)
		return "until invalidated";
	snprintf(buf, sizeof(buf), "%gs", cfg->map_timeout_ns / 1e9);
	return buf;
}

/* What a report covers: from `since` to `until` (seconds since the epoch). */
struct period {
	double since, until;
	bool from_mount; /* since the mount (no baseline, no interval) */
	bool baseline; /* since this reader's last -z */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *clock_of(double t, bool date)
{
	static char buf[2][32];
	static int i;
	time_t sec = (time_t)t;
	struct tm tm;

	i ^= 1;
	localtime_r(&sec, &tm);
	strftime(buf[i], sizeof(buf[i]), date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm);
	return buf[i];
}

static const char *span_of(double s)
{
	static char buf[32];
	unsigned long t = (unsigned long)(s + 0.5);

	if (t >= 3600)
		snprintf(buf, sizeof(buf), "%luh%02lum", t / 3600, t / 60 % 60);
	else if (t >= 60)
		snprintf(buf, sizeof(buf), "%lum%02lus", t / 60, t % 60);
	else
		snprintf(buf, sizeof(buf), "%.3gs", s);
	return buf;
}

static void print_period(const struct period *p)
{
	printf("period: %s %s, %s\n",
	       p->from_mount ? "since the mount at"
	       : p->baseline ? "since your last -z at"
			     : "from",
	       clock_of(p->since, true), span_of(p->until - p->since));
}

static const char legend[] =
	"(kernel: answered by the kernel extension; daemon: by the daemon from its maps;\n"
	" backend: the daemon asked the backing file system; hit%: share of kernel + daemon;\n"
	" upcalls: requests that reached the daemon, of which no-such were answered\n"
	" ENOENT, ENODATA or ENOSYS (answers, not failures) and errors failed; avg us: per\n"
	" upcall)\n";

static void print_table(const struct ctl *c, const struct bpfuse_stats *s, const struct period *p)
{
	unsigned long entries;
	__u64 evict;
	int i, j;

	printf("%s: mount %llu, daemon pid %u, %s mode\n", c->mountpoint,
	       (unsigned long long)c->mnt_id, s->daemon_pid, mode_name(s->mode));
	print_period(p);
	printf("timeouts: entry %gs attr %gs negative %gs; maps %s%s\n",
	       c->cfg.entry_timeout_ns / 1e9, c->cfg.attr_timeout_ns / 1e9,
	       c->cfg.negative_timeout_ns / 1e9,
	       c->cfg.flags & BPFUSE_CFG_CACHING ? "on, entries live " : "off",
	       c->cfg.flags & BPFUSE_CFG_CACHING ? map_life(&c->cfg) : "");
	printf("outside changes: %s\n", c->cfg.flags & BPFUSE_CFG_WATCHING
						? "watched"
						: "not watched (timeouts bound staleness)");
	if (!probe_name(s->upcall_probe))
		printf("upcalls are not counted: the statistics programs did not load (%s)\n",
		       strerror(-s->upcall_err));
	else
		printf("upcalls counted by: %s%s\n", probe_name(s->upcall_probe),
		       s->upcall_probe == BPFUSE_PROBE_KPROBE
			       ? " (latency of synchronous requests only)"
			       : "");
	printf("\n%-16s %10s %10s %10s %6s %10s %8s %8s %9s\n", "operation", "kernel", "daemon",
	       "backend", "hit%", "upcalls", "no-such", "errors", "avg us");
	for (i = 0; i < BPFUSE_OPCODE_MAX; i++) {
		const struct bpfuse_op_stats *o = &s->ops[i];

		if (!op_used(o))
			continue;
		printf("%-16s %10llu %10llu %10llu %6.1f %10llu %8llu %8llu %9.1f\n",
		       op_names[i] ? op_names[i] : "?", (unsigned long long)o->kernel_hits,
		       (unsigned long long)o->daemon_hits, (unsigned long long)o->backend_calls,
		       hit_pct(o), (unsigned long long)o->upcalls, (unsigned long long)o->negatives,
		       (unsigned long long)o->errors, avg_us(o));
	}
	fputs(legend, stdout);
	printf("\n%-8s %10s %10s %10s %10s %10s %10s\n", "cache", "entries", "capacity", "inserts",
	       "deletes", "evictions", "MiB");
	for (j = 0; j < BPFUSE_CACHE_MAX; j++) {
		entries = map_entries(c->fds[j], key_sizes[j]);
		evict = evictions(s, j, entries);
		printf("%-8s %10lu %10u %10llu %10llu %10llu %10.1f\n", cache_names[j], entries,
		       map_capacity(c->fds[j]), (unsigned long long)s->inserts[j],
		       (unsigned long long)s->deletes[j], (unsigned long long)evict,
		       map_memory(c->fds[j]) / 1048576.0);
	}
	printf("\ninvalidations:");
	for (j = 0; j < BPFUSE_CAUSE_MAX; j++)
		printf(" %s %llu", cause_names[j], (unsigned long long)s->invalidations[j]);
	printf("\n");
}

/* All operations together, for one line per interval. */
static void stats_sum(struct bpfuse_op_stats *t, const struct bpfuse_stats *s)
{
	int i, j;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < BPFUSE_OPCODE_MAX; i++) {
		const struct bpfuse_op_stats *o = &s->ops[i];

		t->kernel_hits += o->kernel_hits;
		t->daemon_hits += o->daemon_hits;
		t->backend_calls += o->backend_calls;
		t->upcalls += o->upcalls;
		t->negatives += o->negatives;
		t->errors += o->errors;
		t->latency_ns += o->latency_ns;
		for (j = 0; j < BPFUSE_HIST_SLOTS; j++)
			t->hist[j] += o->hist[j];
	}
}

static void print_line_header(void)
{
	printf("%-8s %10s %10s %10s %6s %10s %8s %8s %9s\n", "time", "kernel", "daemon", "backend",
	       "hit%", "upcalls", "no-such", "errors", "avg us");
}

/* One line: the interval ending at p->until, all operations together. */
static void print_line(const struct bpfuse_stats *s, const struct period *p)
{
	struct bpfuse_op_stats t;

	stats_sum(&t, s);
	printf("%-8s %10llu %10llu %10llu %6.1f %10llu %8llu %8llu %9.1f\n",
	       clock_of(p->until, false), (unsigned long long)t.kernel_hits,
	       (unsigned long long)t.daemon_hits, (unsigned long long)t.backend_calls, hit_pct(&t),
	       (unsigned long long)t.upcalls, (unsigned long long)t.negatives,
	       (unsigned long long)t.errors, avg_us(&t));
}

/*
 * Stable JSON: every named operation, cache and cause is always present; an
 * operation's latency histogram only when it has upcalls timed, unless
 * hist.
 */
static void print_json(const struct ctl *c, const struct bpfuse_stats *s, const struct period *p,
		       bool hist)
{
	unsigned long entries;
	__u64 evict;
	bool first = true;
	int i, j;

	printf("{\"mountpoint\":\"%s\",\"mount_id\":%llu,\"daemon_pid\":%u,\"mode\":\"%s\","
	       "\"time\":%.3f,\"since\":%.3f,\"interval_s\":%.3f,\"period\":\"%s\","
	       "\"upcalls_counted\":%s,",
	       c->mountpoint, (unsigned long long)c->mnt_id, s->daemon_pid, mode_name(s->mode),
	       p->until, p->since, p->until - p->since,
	       p->from_mount ? "mount"
	       : p->baseline ? "baseline"
			     : "interval",
	       probe_name(s->upcall_probe) ? "true" : "false");
	if (probe_name(s->upcall_probe))
		printf("\"upcall_probe\":\"%s\",", probe_name(s->upcall_probe));
	else
		printf("\"upcall_probe\":null,");
	if (!probe_name(s->upcall_probe))
		printf("\"upcall_error\":\"%s\",", strerror(-s->upcall_err));
	else
		printf("\"upcall_error\":null,");
	printf("\"config\":{\"entry_timeout_s\":%g,\"attr_timeout_s\":%g,"
	       "\"negative_timeout_s\":%g,\"caching\":%s,\"map_timeout_s\":%g,\"watching\":%s},",
	       c->cfg.entry_timeout_ns / 1e9, c->cfg.attr_timeout_ns / 1e9,
	       c->cfg.negative_timeout_ns / 1e9,
	       c->cfg.flags & BPFUSE_CFG_CACHING ? "true" : "false", c->cfg.map_timeout_ns / 1e9,
	       c->cfg.flags & BPFUSE_CFG_WATCHING ? "true" : "false");
	printf("\"ops\":{");
	for (i = 0; i < BPFUSE_OPCODE_MAX; i++) {
		const struct bpfuse_op_stats *o = &s->ops[i];
		__u64 timed = 0;

		if (!op_names[i])
			continue;
		printf("%s\"%s\":{\"kernel_hits\":%llu,\"daemon_hits\":%llu,\"backend_calls\":%llu,"
		       "\"hit_pct\":%.2f,\"upcalls\":%llu,\"negatives\":%llu,\"errors\":%llu,"
		       "\"latency_avg_us\":%.2f",
		       first ? "" : ",", op_names[i], (unsigned long long)o->kernel_hits,
		       (unsigned long long)o->daemon_hits, (unsigned long long)o->backend_calls,
		       hit_pct(o), (unsigned long long)o->upcalls, (unsigned long long)o->negatives,
		       (unsigned long long)o->errors, avg_us(o));
		for (j = 0; j < BPFUSE_HIST_SLOTS; j++)
			timed += o->hist[j];
		if (timed || hist) {
			printf(",\"latency_hist_us\":[");
			for (j = 0; j < BPFUSE_HIST_SLOTS; j++)
				printf("%s%llu", j ? "," : "", (unsigned long long)o->hist[j]);
			printf("]");
		}
		printf("}");
		first = false;
	}
	printf("},\"caches\":{");
	for (j = 0; j < BPFUSE_CACHE_MAX; j++) {
		entries = map_entries(c->fds[j], key_sizes[j]);
		evict = evictions(s, j, entries);
		printf("%s\"%s\":{\"entries\":%lu,\"capacity\":%u,\"inserts\":%llu,\"deletes\":%"
		       "llu,"
		       "\"evictions\":%llu,\"memory_bytes\":%llu}",
		       j ? "," : "", cache_names[j], entries, map_capacity(c->fds[j]),
		       (unsigned long long)s->inserts[j], (unsigned long long)s->deletes[j],
		       (unsigned long long)evict, map_memory(c->fds[j]));
	}
	printf("},\"invalidations\":{");
	for (j = 0; j < BPFUSE_CAUSE_MAX; j++)
		printf("%s\"%s\":%llu", j ? "," : "", cause_names[j],
		       (unsigned long long)s->invalidations[j]);
	printf("}}\n");
}

/*
 * -z: this reader's baseline, so that its next -z report covers only what
 * happened since, while the mount's counters (what every other reader
 * sees) stay as they are. Kept per user in $XDG_RUNTIME_DIR, else in
 * /run/bpfusectl/<uid>, named by mount id and daemon pid, so that a later
 * mount with the same id never uses it.
 */
struct baseline {
	double time;
	struct bpfuse_stats stats;
};

static void baseline_path(const struct ctl *c, char *buf, size_t size, bool create)
{
	const char *run = getenv("XDG_RUNTIME_DIR");
	char dir[PATH_MAX - 64]; /* room for the name */

	if (run && *run)
		snprintf(dir, sizeof(dir), "%s/bpfusectl", run);
	else
		snprintf(dir, sizeof(dir), "/run/bpfusectl/%u", (unsigned int)getuid());
	if (create) {
		if (!run || !*run)
			mkdir("/run/bpfusectl", 0755);
		mkdir(dir, 0700);
	}
	snprintf(buf, size, "%s/%llu-%u", dir, (unsigned long long)c->mnt_id, c->stats->daemon_pid);
}

static bool baseline_load(const struct ctl *c, struct baseline *b)
{
	char path[PATH_MAX];
	bool ok;
	FILE *f;

	baseline_path(c, path, sizeof(path), false);
	f = fopen(path, "re");
	if (!f)
		return false;
	ok = fread(b, sizeof(*b), 1, f) == 1;
	fclose(f);
	return ok;
}

static void baseline_save(const struct ctl *c, const struct baseline *b)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;

	baseline_path(c, path, sizeof(path), true);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f || fwrite(b, sizeof(*b), 1, f) != 1 || fclose(f) || rename(tmp, path))
		die("failed to save the -z baseline in %s: %s", path, strerror(errno));
}

/* When the mount's maps were pinned: the start of "since the mount". */
static double mount_time(const struct ctl *c)
{
	struct stat st;

	if (stat(c->dir, &st) == -1)
		return now_s();
	return st.st_ctim.tv_sec + st.st_ctim.tv_nsec / 1e9;
}

static void report(const struct ctl *c, const struct bpfuse_stats *s, const struct period *p,
		   bool json, bool hist)
{
	if (json)
		print_json(c, s, p, hist);
	else
		print_table(c, s, p);
	fflush(stdout);
}

static int cmd_stats(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "zero", no_argument, NULL, 'z' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "hist", no_argument, NULL, 'H' },
		{ 0 },
	};
	static const char usage_line[] =
		"usage: bpfusectl stats MOUNTPOINT [-j|--json] [-v] [-z] [--hist] "
		"[INTERVAL [COUNT]]";
	struct bpfuse_stats *prev, *cur, *shown;
	bool json = false, zero = false, verbose = false, hist = false;
	long interval = 0, count = 1, i;
	struct baseline *base;
	struct period p = { 0 };
	struct ctl c;
	char *end;
	int opt;

	while ((opt = getopt_long(argc, argv, "jzv", longopts, NULL)) != -1) {
		if (opt == 'j')
			json = true;
		else if (opt == 'z')
			zero = true;
		else if (opt == 'v')
			verbose = true;
		else if (opt == 'H')
			hist = true;
		else
			die("%s", usage_line);
	}
	if (optind >= argc)
		die("%s", usage_line);
	if (optind + 1 < argc) {
		interval = strtol(argv[optind + 1], &end, 10);
		if (*end || interval <= 0)
			die("invalid interval '%s': expected whole seconds > 0", argv[optind + 1]);
		count = -1;
	}
	if (optind + 2 < argc) {
		count = strtol(argv[optind + 2], &end, 10);
		if (*end || count <= 0)
			die("invalid count '%s': expected a number > 0", argv[optind + 2]);
	}
	if (optind + 3 < argc || (zero && interval))
		die("%s (-z: one report, since your last -z)", usage_line);
	ctl_open(&c, argv[optind]);
	cur = malloc(sizeof(*cur));
	shown = malloc(sizeof(*shown));
	prev = calloc(1, sizeof(*prev));
	base = calloc(1, sizeof(*base));
	if (!cur || !shown || !prev || !base)
		die("out of memory");
	memcpy(cur, c.stats, sizeof(*cur));
	p.until = now_s();

	if (!interval) {
		/* one report: since the mount, or since this reader's last -z */
		p.from_mount = !zero || !baseline_load(&c, base);
		p.baseline = !p.from_mount;
		p.since = p.from_mount ? mount_time(&c) : base->time;
		stats_delta(shown, cur, p.from_mount ? prev : &base->stats);
		report(&c, shown, &p, json, hist);
		if (zero) {
			base->time = p.until;
			memcpy(&base->stats, cur, sizeof(*cur));
			baseline_save(&c, base);
		}
		return 0;
	}
	/* every INTERVAL seconds, what happened in it: the first one too */
	for (i = 0; count < 0 || i < count; i++) {
		memcpy(prev, cur, sizeof(*prev));
		p.since = p.until;
		sleep(interval);
		memcpy(cur, c.stats, sizeof(*cur));
		p.until = now_s();
		stats_delta(shown, cur, prev);
		if (json || verbose) {
			report(&c, shown, &p, json, hist);
			if (!json && (count < 0 || i + 1 < count))
				printf("\n");
		} else {
			if (i % 20 == 0)
				print_line_header();
			print_line(shown, &p);
		}
		fflush(stdout);
	}
	return 0;
}

/* ---- list ---------------------------------------------------------------- */

/* The mountpoint of a mount id, from /proc/self/mountinfo. */
static bool mount_path(const char *id, char *buf, size_t size)
{
	char line[4096], path[4096];
	size_t n = strlen(id);
	FILE *f = fopen("/proc/self/mountinfo", "re");
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, id, n) || line[n] != ' ')
			continue;
		found = sscanf(line, "%*s %*s %*s %*s %4095s", path) == 1;
	}
	fclose(f);
	if (found)
		snprintf(buf, size, "%s", path);
	return found;
}

/* What the kernel charges for a mount's maps, all of them. */
static unsigned long long mount_memory(const char *dir)
{
	static const char *const names[] = { "lookup", "attr", "xattr", "stats", "mount_cfg" };
	unsigned long long sum = 0;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		fd = map_open(dir, names[i]);
		if (fd < 0)
			continue;
		sum += map_memory(fd);
		close(fd);
	}
	return sum;
}

static int cmd_list(int argc, char **argv)
{
	char dir[64], path[4096];
	unsigned long long memory;
	struct bpfuse_stats st;
	bool json = argc > 1 && (!strcmp(argv[1], "-j") || !strcmp(argv[1], "--json"));
	struct dirent *de;
	bool first = true;
	__u32 zero = 0;
	int fd;
	DIR *dp;

	dp = opendir(BPFUSE_PIN_ROOT);
	if (!dp && errno == EACCES)
		die("%s: %s (run as root)", BPFUSE_PIN_ROOT, strerror(errno));
	if (json)
		printf("[");
	else
		printf("%-10s %-8s %-6s %-6s %8s %s\n", "mount id", "pid", "mode", "daemon", "MiB",
		       "mountpoint");
	while (dp && (de = readdir(dp))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) > 20)
			continue;
		snprintf(dir, sizeof(dir), "%s/%.20s", BPFUSE_PIN_ROOT, de->d_name);
		fd = map_open(dir, "stats");
		if (fd < 0)
			continue;
		if (bpf_map_lookup_elem(fd, &zero, &st)) {
			close(fd);
			continue;
		}
		close(fd);
		if (!mount_path(de->d_name, path, sizeof(path)))
			snprintf(path, sizeof(path), "(not mounted)");
		memory = mount_memory(dir);
		if (json)
			printf("%s{\"mount_id\":%s,\"daemon_pid\":%u,\"mode\":\"%s\",\"alive\":%s,"
			       "\"memory_bytes\":%llu,\"mountpoint\":\"%s\"}",
			       first ? "" : ",", de->d_name, st.daemon_pid, mode_name(st.mode),
			       alive(st.daemon_pid) ? "true" : "false", memory, path);
		else
			printf("%-10s %-8u %-6s %-6s %8.1f %s\n", de->d_name, st.daemon_pid,
			       mode_name(st.mode), alive(st.daemon_pid) ? "alive" : "gone",
			       memory / 1048576.0, path);
		first = false;
	}
	if (json)
		printf("]\n");
	if (dp)
		closedir(dp);
	return 0;
}

/*
 * prune: remove the pins of mounts whose daemon is gone (killed, crashed)
 * and which are unmounted; a mount still there keeps them, for `stats` to
 * say the daemon is gone. The next bpfused does the same on its own.
 */
static int cmd_prune(int argc, char **argv)
{
	int n;

	(void)argv;
	if (argc != 1)
		die("usage: bpfusectl prune");
	if (access(BPFUSE_PIN_ROOT, R_OK | W_OK | X_OK) == -1 && errno == EACCES)
		die("%s: %s (run as root)", BPFUSE_PIN_ROOT, strerror(errno));
	n = bpfuse_sweep_stale();
	printf("removed the maps of %d dead mount%s\n", n, n == 1 ? "" : "s");
	return 0;
}

/* ---- dump ---------------------------------------------------------------- */

static void print_escaped(const unsigned char *v, size_t n)
{
	size_t i;

	putchar('"');
	for (i = 0; i < n; i++) {
		if (v[i] >= 0x20 && v[i] < 0x7f && v[i] != '"' && v[i] != '\\')
			putchar(v[i]);
		else
			printf("\\x%02x", v[i]);
	}
	putchar('"');
}

/* A cached name: which node it names, in which directory. */
struct name_ent {
	__u64 node, parent;
	char name[BPFUSE_NAME_MAX + 1];
};

static int name_cmp(const void *a, const void *b)
{
	const struct name_ent *x = a, *y = b;

	return x->node < y->node ? -1 : x->node > y->node;
}

/* node's path from the mount's root, through the cached names; "?" where one is missing. */
static void node_path(const struct name_ent *names, size_t n, __u64 node, char *buf, size_t size,
		      int depth)
{
	struct name_ent key = { .node = node };
	const struct name_ent *e;
	char parent[PATH_MAX];

	if (node == FUSE_ROOT_NODE) {
		snprintf(buf, size, "/");
		return;
	}
	e = depth < 64 ? bsearch(&key, names, n, sizeof(*names), name_cmp) : NULL;
	if (!e) {
		snprintf(buf, size, "?/node %llu", (unsigned long long)node);
		return;
	}
	node_path(names, n, e->parent, parent, sizeof(parent), depth + 1);
	if (snprintf(buf, size, "%s%s%s", parent, strcmp(parent, "/") ? "/" : "", e->name) >=
	    (int)size)
		memcpy(buf + size - 4, "...", 4); /* too deep to show whole */
}

static const char *mode_string(__u32 mode)
{
	static const char types[] = "?pc?d?b?-?l?s???";
	static char buf[11];
	int i;

	buf[0] = types[(mode >> 12) & 15];
	for (i = 0; i < 9; i++)
		buf[1 + i] = mode & (0400 >> i) ? "rwxrwxrwx"[i] : '-';
	if (mode & S_ISUID)
		buf[3] = buf[3] == 'x' ? 's' : 'S';
	if (mode & S_ISGID)
		buf[6] = buf[6] == 'x' ? 's' : 'S';
	if (mode & S_ISVTX)
		buf[9] = buf[9] == 'x' ? 't' : 'T';
	buf[10] = '\0';
	return buf;
}

/* How long an entry may still be served. */
static const char *expiry_of(__u64 expires_ns)
{
	static char buf[32];
	struct timespec ts;
	__u64 now;

	if (!expires_ns)
		return "until invalidated";
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	if (now >= expires_ns)
		return "expired";
	snprintf(buf, sizeof(buf), "%.1fs left", (expires_ns - now) / 1e9);
	return buf;
}

/*
 * dump: the three maps, by path where the cached names lead there from the
 * root (a node none leads to shows as "?/node N").
 */
static int cmd_dump(int argc, char **argv)
{
	struct bpfuse_lookup_key lk, *lprev = NULL;
	struct bpfuse_xattr_key xk, *xprev = NULL;
	struct bpfuse_lookup_val lv;
	struct bpfuse_xattr_val xv;
	struct bpfuse_attr_val av;
	__u64 node, *nprev = NULL;
	struct name_ent *names = NULL, *grown;
	size_t n = 0, cap = 0;
	char path[PATH_MAX];
	struct ctl c;

	if (argc != 2)
		die("usage: bpfusectl dump MOUNTPOINT");
	ctl_open(&c, argv[1]);
	printf("# names: path -> node (0: no such name), lifetime left\n");
	while (bpf_map_get_next_key(c.fds[BPFUSE_CACHE_LOOKUP], lprev, &lk) == 0) {
		lprev = &lk;
		if (bpf_map_lookup_elem(c.fds[BPFUSE_CACHE_LOOKUP], &lk, &lv) || !lv.nodeid)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			grown = realloc(names, cap * sizeof(*names));
			if (!grown)
				die("out of memory");
			names = grown;
		}
		names[n].node = lv.nodeid;
		names[n].parent = lk.parent;
		snprintf(names[n].name, sizeof(names[n].name), "%.*s", (int)lk.len, lk.name);
		n++;
	}
	qsort(names, n, sizeof(*names), name_cmp);
	lprev = NULL;
	while (bpf_map_get_next_key(c.fds[BPFUSE_CACHE_LOOKUP], lprev, &lk) == 0) {
		lprev = &lk;
		if (bpf_map_lookup_elem(c.fds[BPFUSE_CACHE_LOOKUP], &lk, &lv))
			continue;
		node_path(names, n, lk.parent, path, sizeof(path), 0);
		printf("%s%s%.*s -> %llu, %s\n", path, strcmp(path, "/") ? "/" : "", (int)lk.len,
		       lk.name, (unsigned long long)lv.nodeid, expiry_of(lv.expires_ns));
	}
	printf("# attributes: path (node) -> mode nlink uid gid size mtime, lifetime left\n");
	while (bpf_map_get_next_key(c.fds[BPFUSE_CACHE_ATTR], nprev, &node) == 0) {
		nprev = &node;
		if (bpf_map_lookup_elem(c.fds[BPFUSE_CACHE_ATTR], &node, &av))
			continue;
		node_path(names, n, node, path, sizeof(path), 0);
		printf("%s (%llu) -> %s %u %u %u %llu %s.%09u, %s\n", path,
		       (unsigned long long)node, mode_string(av.attr.mode), av.attr.nlink,
		       av.attr.uid, av.attr.gid, (unsigned long long)av.attr.size,
		       clock_of(av.attr.mtime, true), av.attr.mtimensec, expiry_of(av.expires_ns));
	}
	printf("# xattrs: path name -> value (or an error), lifetime left\n");
	while (bpf_map_get_next_key(c.fds[BPFUSE_CACHE_XATTR], xprev, &xk) == 0) {
		xprev = &xk;
		if (bpf_map_lookup_elem(c.fds[BPFUSE_CACHE_XATTR], &xk, &xv))
			continue;
		node_path(names, n, xk.nodeid, path, sizeof(path), 0);
		printf("%s %.*s -> ", path, (int)xk.len, xk.name);
		if (xv.err)
			printf("%s", strerror(xv.err));
		else
			print_escaped(xv.value, xv.size);
		printf(", %s\n", expiry_of(xv.expires_ns));
	}
	free(names);
	return 0;
}

/* ---- invalidate ---------------------------------------------------------- */

/*
 * Drop what the maps hold for PATH: its lookup entry, its attributes and
 * its xattrs. Node ids are found by walking the cached lookup entries from
 * the root; a path whose walk leaves the cache has nothing cached.
 */
static int cmd_invalidate(int argc, char **argv)
{
	struct bpfuse_lookup_key key;
	struct bpfuse_lookup_val val;
	struct bpfuse_xattr_key xk, next;
	__u64 node = FUSE_ROOT_NODE;
	unsigned long n = 0;
	const char *p, *end;
	size_t mlen;
	struct ctl c;

	if (argc != 3)
		die("usage: bpfusectl invalidate MOUNTPOINT PATH");
	ctl_open(&c, argv[1]);
	p = argv[2];
	mlen = strlen(argv[1]);
	if (p[0] == '/') {
		if (strncmp(p, argv[1], mlen) || (p[mlen] && p[mlen] != '/'))
			die("%s is not inside %s", argv[2], argv[1]);
		p += mlen;
	}
	for (;;) {
		p += strspn(p, "/");
		if (!*p)
			break;
		end = strchrnul(p, '/');
		memset(&key, 0, sizeof(key));
		key.parent = node;
		key.len = end - p;
		if (key.len > BPFUSE_NAME_MAX)
			die("%s: a name is longer than %d bytes", argv[2], BPFUSE_NAME_MAX);
		memcpy(key.name, p, key.len);
		if (bpf_map_lookup_elem(c.fds[BPFUSE_CACHE_LOOKUP], &key, &val)) {
			printf("%s: not cached\n", argv[2]);
			return 0;
		}
		node = val.nodeid;
		p = end;
		if (!p[strspn(p, "/")])
			n += bpf_map_delete_elem(c.fds[BPFUSE_CACHE_LOOKUP], &key) == 0;
	}
	if (node) {
		n += bpf_map_delete_elem(c.fds[BPFUSE_CACHE_ATTR], &node) == 0;
		/* xattrs of that node, wherever the map keeps them */
		memset(&xk, 0, sizeof(xk));
		while (bpf_map_get_next_key(c.fds[BPFUSE_CACHE_XATTR], &xk, &next) == 0) {
			xk = next;
			if (xk.nodeid == node)
				n += bpf_map_delete_elem(c.fds[BPFUSE_CACHE_XATTR], &xk) == 0;
		}
	}
	__atomic_fetch_add(&c.stats->invalidations[BPFUSE_CAUSE_USER], n, __ATOMIC_RELAXED);
	printf("%s: %lu entries invalidated\n", argv[2], n);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bpfusectl list [-j]\n"
		   "       bpfusectl stats MOUNTPOINT [-j|--json] [-v] [-z] [--hist] "
		   "[INTERVAL [COUNT]]\n"
		   "       bpfusectl dump MOUNTPOINT\n"
		   "       bpfusectl invalidate MOUNTPOINT PATH\n"
		   "       bpfusectl prune\n"
		   "       bpfusectl --version\n"
		   "\n"
		   "list: bpfuse mounts, their daemon and the memory their maps take.\n"
		   "stats: per operation, requests answered by the kernel extension, by the\n"
		   "daemon from its maps, and by the backend; upcalls, answers such as ENOENT,\n"
		   "errors and latency; the caches' entries, capacity and evictions;\n"
		   "invalidations by cause; since the mount. -z: since your own last -z\n"
		   "instead (nobody else's view changes). With INTERVAL, one line every\n"
		   "INTERVAL seconds (COUNT times) of what happened in it (-v: the whole\n"
		   "report; -j: one JSON object per line).\n"
		   "prune: remove the maps of mounts whose daemon died.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("bpfusectl %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "list"))
		return cmd_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stats"))
		return cmd_stats(argc - 1, argv + 1);
	if (!strcmp(argv[1], "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(argv[1], "invalidate"))
		return cmd_invalidate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "prune"))
		return cmd_prune(argc - 1, argv + 1);
	die("unknown command '%s' (see bpfusectl --help)", argv[1]);
}
