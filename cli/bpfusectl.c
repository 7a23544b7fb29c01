// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bpfusectl: what the caches of bpfuse mounts are doing. Its subcommands
 * are the table cmds[] at the end, from which --help is written and
 * against which test/ctl_json.sh checks the man page.
 *
 * A thin client of libbpfuse (bpfuse_ctl.h): it reads and invalidates the
 * maps a daemon pinned through the library's own code, and has the
 * library count the requests of FUSE mounts no bpfuse daemon serves.
 *
 * Paths and names are bytes from whoever named them: -j output goes
 * through the JSON writer (json.h), which escapes every string, and tables
 * print them through esc(), so that neither can be forged or broken.
 */
#include "config.h"

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

#include "bpfuse_ctl.h"
#include "json.h"

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
	struct bpfuse *b;
	const struct bpfuse_stats *stats; /* as at opening: for mode and pid */
	struct bpfuse_config cfg;
};

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static const char *synopsis(const char *name);

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

/*
 * s as tables and messages print it: control characters, DEL and the
 * backslash as \ooo, the way /proc/self/mountinfo writes them, so that a
 * newline in a path cannot forge a line and each line stays one entry.
 * Other bytes go as they are (UTF-8 names read as such). Two buffers: two
 * calls can share one printf.
 */
static const char *esc_n(const char *s, size_t n)
{
	static char buf[2][4 * PATH_MAX + 1];
	static int k;
	size_t i, o = 0;
	unsigned char ch;

	k ^= 1;
	for (i = 0; i < n && s[i] && o + 4 < sizeof(buf[k]); i++) {
		ch = s[i];
		if (ch < 0x20 || ch == 0x7f || ch == '\\')
			o += sprintf(buf[k] + o, "\\%03o", ch);
		else
			buf[k][o++] = ch;
	}
	buf[k][o] = '\0';
	return buf[k];
}

static const char *esc(const char *s)
{
	return esc_n(s, strlen(s));
}

/* Say in one line why path cannot be opened (or counted), and exit. */
static void die_open(const char *path, int err, int why)
{
	path = esc(path);
	if (err == -EINVAL)
		die("%s is not a mount point", path);
	if (err == -EMEDIUMTYPE)
		die("%s is not a FUSE mount", path);
	if (err == -ENOTCONN)
		die("%s: the daemon is gone (transport endpoint is not connected)", path);
	if (err == -EACCES || err == -EPERM)
		die("%s: %s (run as root)", BPFUSE_PIN_ROOT, strerror(-err));
	if (err == -ENOMEDIUM)
		die("no BPF file system at /sys/fs/bpf (mount -t bpf bpf /sys/fs/bpf)");
	if (err == -EOPNOTSUPP)
		die("%s: this kernel offers no way to count FUSE requests (%s)", path,
		    strerror(-why));
	if (err == -ENXIO)
		die("%s is not a bpfuse mount (nothing pinned for it)", path);
	if (err == -ESRCH)
		die("%s: its daemon is gone", path);
	die("%s: %s", path, strerror(-err));
}

/*
 * Open the mount at path through the library, or say in one line why not.
 * count: a FUSE mount that nothing counts yet starts being counted.
 */
static void ctl_open(struct ctl *c, const char *path, bool count)
{
	int err, why = 0;
	pid_t pid;

	memset(c, 0, sizeof(*c));
	c->mountpoint = path;
	err = bpfuse_view_open(path, &c->b);
	if (err == -ENXIO && count) {
		err = bpfuse_counter_start(path, &pid, &why);
		if (err == -EEXIST)
			/* its bpfuse daemon pinned meanwhile: a daemon starting up */
			err = bpfuse_view_open(path, &c->b);
		else if (!err) {
			fprintf(stderr,
				"bpfusectl: %s is not served by bpfuse: counting its requests from "
				"now on (pid %d) until it is unmounted or `bpfusectl stop %s`\n",
				esc(path), (int)pid, esc(path));
			err = bpfuse_view_open(path, &c->b);
		}
	}
	if (err)
		die_open(path, err, why);
	c->mnt_id = bpfuse_view_mount_id(c->b);
	c->stats = bpfuse_view_stats(c->b);
	c->cfg = *bpfuse_view_config(c->b);
}

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
	return mode == BPFUSE_MODE_EXT ? "ext" : mode == BPFUSE_MODE_COUNT ? "count" : "stock";
}

/* NULL where no daemon said (a counted mount, or before INIT). */
static const char *transport_name(__u32 transport)
{
	return transport == BPFUSE_TRANSPORT_URING ? "io_uring"
	       : transport == BPFUSE_TRANSPORT_DEV ? "/dev/fuse"
						   : NULL;
}

/* Upcalls the daemon's maps did not answer: its backend did. */
static __u64 backend(const struct bpfuse_op_stats *o)
{
	return o->upcalls > o->daemon_hits ? o->upcalls - o->daemon_hits : 0;
}

static double hit_pct(const struct bpfuse_op_stats *o)
{
	__u64 hits = o->kernel_hits + o->daemon_hits, all = hits + backend(o);

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
	return o->kernel_hits || o->daemon_hits || o->upcalls;
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

/* Latency of one operation's upcalls, as bcc's biolatency draws it. */
static void print_hist(const char *op, const __u64 *hist)
{
	__u64 max = 0;
	int i, last = -1, stars;

	for (i = 0; i < BPFUSE_HIST_SLOTS; i++) {
		if (hist[i])
			last = i;
		if (hist[i] > max)
			max = hist[i];
	}
	if (last < 0)
		return;
	printf("\n%s:\n%20s : %-10s distribution\n", op, "usecs", "count");
	for (i = 0; i <= last; i++) {
		stars = max ? (int)(hist[i] * 40 / max) : 0;
		printf("%9llu -> %-7llu : %-10llu |%-40.*s|\n", i ? 1ULL << i : 0ULL,
		       (2ULL << i) - 1, (unsigned long long)hist[i], stars,
		       "****************************************");
	}
}

static void print_hists(const struct bpfuse_stats *s)
{
	for (int i = 0; i < BPFUSE_OPCODE_MAX; i++)
		print_hist(op_names[i] ? op_names[i] : "?", s->ops[i].hist);
}

/*
 * A mount no bpfuse daemon serves: its requests only (every one reaches
 * its daemon), as bcc's tools count them.
 */
static void print_count_table(const struct ctl *c, const struct bpfuse_stats *s,
			      const struct period *p)
{
	int i;

	printf("%s: mount %llu, not served by bpfuse: requests counted by pid %u\n",
	       esc(c->mountpoint), (unsigned long long)c->mnt_id, s->daemon_pid);
	print_period(p);
	printf("requests counted by: %s%s\n", probe_name(s->upcall_probe),
	       s->upcall_probe == BPFUSE_PROBE_KPROBE ? " (latency of synchronous requests only)"
						      : "");
	printf("\n%-16s %10s %8s %8s %9s\n", "operation", "requests", "no-such", "errors",
	       "avg us");
	for (i = 0; i < BPFUSE_OPCODE_MAX; i++) {
		const struct bpfuse_op_stats *o = &s->ops[i];

		if (!o->upcalls)
			continue;
		printf("%-16s %10llu %8llu %8llu %9.1f\n", op_names[i] ? op_names[i] : "?",
		       (unsigned long long)o->upcalls, (unsigned long long)o->negatives,
		       (unsigned long long)o->errors, avg_us(o));
	}
	fputs("(requests: sent to the daemon and answered; no-such: answered ENOENT, ENODATA\n"
	      " or ENOSYS; errors: any other error; avg us: per request)\n",
	      stdout);
}

static void print_table(const struct ctl *c, const struct bpfuse_stats *s, const struct period *p)
{
	struct bpfuse_cache_info ci;
	__u64 evict;
	int i, j;

	if (s->mode == BPFUSE_MODE_COUNT) {
		print_count_table(c, s, p);
		return;
	}
	printf("%s: mount %llu, daemon pid %u, %s mode\n", esc(c->mountpoint),
	       (unsigned long long)c->mnt_id, s->daemon_pid, mode_name(s->mode));
	print_period(p);
	printf("timeouts: entry %gs attr %gs negative %gs; maps %s%s\n",
	       c->cfg.entry_timeout_ns / 1e9, c->cfg.attr_timeout_ns / 1e9,
	       c->cfg.negative_timeout_ns / 1e9,
	       c->cfg.flags & BPFUSE_CFG_CACHING ? "on, entries live " : "off",
	       c->cfg.flags & BPFUSE_CFG_CACHING ? map_life(&c->cfg) : "");
	if (transport_name(s->transport))
		printf("transport: %s\n", transport_name(s->transport));
	printf("outside changes: %s\n", c->cfg.flags & BPFUSE_CFG_WATCHING
						? "watched"
						: "not watched (timeouts bound staleness)");
	if (!probe_name(s->upcall_probe) && s->upcall_err == -ECANCELED)
		printf("upcalls are not counted: the statistics programs were not loaded "
		       "(BPFUSE_UPCALL_PROBE=none)\n");
	else if (!probe_name(s->upcall_probe))
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
		       (unsigned long long)o->daemon_hits, (unsigned long long)backend(o),
		       hit_pct(o), (unsigned long long)o->upcalls, (unsigned long long)o->negatives,
		       (unsigned long long)o->errors, avg_us(o));
	}
	fputs(legend, stdout);
	printf("\n%-8s %10s %10s %10s %10s %10s %10s\n", "cache", "entries", "capacity", "inserts",
	       "deletes", "evictions", "MiB");
	for (j = 0; j < BPFUSE_CACHE_MAX; j++) {
		bpfuse_view_cache_info(c->b, j, &ci);
		evict = evictions(s, j, ci.entries);
		printf("%-8s %10lu %10u %10llu %10llu %10llu %10.1f\n", cache_names[j], ci.entries,
		       ci.capacity, (unsigned long long)s->inserts[j],
		       (unsigned long long)s->deletes[j], (unsigned long long)evict,
		       ci.memory_bytes / 1048576.0);
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
		t->upcalls += o->upcalls;
		t->negatives += o->negatives;
		t->errors += o->errors;
		t->latency_ns += o->latency_ns;
		for (j = 0; j < BPFUSE_HIST_SLOTS; j++)
			t->hist[j] += o->hist[j];
	}
}

static void print_line_header(__u32 mode)
{
	if (mode == BPFUSE_MODE_COUNT)
		printf("%-8s %10s %8s %8s %9s\n", "time", "requests", "no-such", "errors",
		       "avg us");
	else
		printf("%-8s %10s %10s %10s %6s %10s %8s %8s %9s\n", "time", "kernel", "daemon",
		       "backend", "hit%", "upcalls", "no-such", "errors", "avg us");
}

/* One line: the interval ending at p->until, all operations together. */
static void print_line(const struct bpfuse_stats *s, const struct period *p)
{
	struct bpfuse_op_stats t;

	stats_sum(&t, s);
	if (s->mode == BPFUSE_MODE_COUNT) {
		printf("%-8s %10llu %8llu %8llu %9.1f\n", clock_of(p->until, false),
		       (unsigned long long)t.upcalls, (unsigned long long)t.negatives,
		       (unsigned long long)t.errors, avg_us(&t));
		return;
	}
	printf("%-8s %10llu %10llu %10llu %6.1f %10llu %8llu %8llu %9.1f\n",
	       clock_of(p->until, false), (unsigned long long)t.kernel_hits,
	       (unsigned long long)t.daemon_hits, (unsigned long long)backend(&t), hit_pct(&t),
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
	const char *probe = probe_name(s->upcall_probe);
	struct bpfuse_cache_info ci;
	struct jw w;
	int i, j;

	jw_init(&w, stdout);
	jw_object_start(&w);
	jw_string_field(&w, "mountpoint", c->mountpoint);
	jw_uint_field(&w, "mount_id", c->mnt_id);
	jw_uint_field(&w, "daemon_pid", s->daemon_pid);
	jw_string_field(&w, "mode", mode_name(s->mode));
	jw_string_field(&w, "transport", transport_name(s->transport));
	jw_number_field(&w, "time", "%.3f", p->until);
	jw_number_field(&w, "since", "%.3f", p->since);
	jw_number_field(&w, "interval_s", "%.3f", p->until - p->since);
	jw_string_field(&w, "period",
			p->from_mount ? "mount"
			: p->baseline ? "baseline"
				      : "interval");
	jw_bool_field(&w, "upcalls_counted", probe);
	jw_string_field(&w, "upcall_probe", probe);
	jw_string_field(&w, "upcall_error", probe ? NULL : strerror(-s->upcall_err));

	jw_key(&w, "config");
	jw_object_start(&w);
	jw_number_field(&w, "entry_timeout_s", "%g", c->cfg.entry_timeout_ns / 1e9);
	jw_number_field(&w, "attr_timeout_s", "%g", c->cfg.attr_timeout_ns / 1e9);
	jw_number_field(&w, "negative_timeout_s", "%g", c->cfg.negative_timeout_ns / 1e9);
	jw_bool_field(&w, "caching", c->cfg.flags & BPFUSE_CFG_CACHING);
	jw_number_field(&w, "map_timeout_s", "%g", c->cfg.map_timeout_ns / 1e9);
	jw_bool_field(&w, "watching", c->cfg.flags & BPFUSE_CFG_WATCHING);
	jw_object_end(&w);

	jw_key(&w, "ops");
	jw_object_start(&w);
	for (i = 0; i < BPFUSE_OPCODE_MAX; i++) {
		const struct bpfuse_op_stats *o = &s->ops[i];
		__u64 timed = 0;

		if (!op_names[i])
			continue;
		jw_key(&w, op_names[i]);
		jw_object_start(&w);
		jw_uint_field(&w, "kernel_hits", o->kernel_hits);
		jw_uint_field(&w, "daemon_hits", o->daemon_hits);
		jw_uint_field(&w, "backend_calls", backend(o));
		jw_number_field(&w, "hit_pct", "%.2f", hit_pct(o));
		jw_uint_field(&w, "upcalls", o->upcalls);
		jw_uint_field(&w, "negatives", o->negatives);
		jw_uint_field(&w, "errors", o->errors);
		jw_number_field(&w, "latency_avg_us", "%.2f", avg_us(o));
		for (j = 0; j < BPFUSE_HIST_SLOTS; j++)
			timed += o->hist[j];
		if (timed || hist) {
			jw_key(&w, "latency_hist_us");
			jw_array_start(&w);
			for (j = 0; j < BPFUSE_HIST_SLOTS; j++)
				jw_uint(&w, o->hist[j]);
			jw_array_end(&w);
		}
		jw_object_end(&w);
	}
	jw_object_end(&w);

	jw_key(&w, "caches");
	jw_object_start(&w);
	for (j = 0; j < BPFUSE_CACHE_MAX; j++) {
		bpfuse_view_cache_info(c->b, j, &ci);
		jw_key(&w, cache_names[j]);
		jw_object_start(&w);
		jw_uint_field(&w, "entries", ci.entries);
		jw_uint_field(&w, "capacity", ci.capacity);
		jw_uint_field(&w, "inserts", s->inserts[j]);
		jw_uint_field(&w, "deletes", s->deletes[j]);
		jw_uint_field(&w, "evictions", evictions(s, j, ci.entries));
		jw_uint_field(&w, "memory_bytes", ci.memory_bytes);
		jw_object_end(&w);
	}
	jw_object_end(&w);

	jw_key(&w, "invalidations");
	jw_object_start(&w);
	for (j = 0; j < BPFUSE_CAUSE_MAX; j++)
		jw_uint_field(&w, cause_names[j], s->invalidations[j]);
	jw_object_end(&w);
	jw_object_end(&w);
	putchar('\n');
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

static void report(const struct ctl *c, const struct bpfuse_stats *s, const struct period *p,
		   bool json, bool hist)
{
	if (json)
		print_json(c, s, p, hist);
	else
		print_table(c, s, p);
	if (hist && !json)
		print_hists(s);
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
			die("usage: %s", synopsis("stats"));
	}
	if (optind >= argc)
		die("usage: %s", synopsis("stats"));
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
		die("usage: %s (-z: one report, since your last -z)", synopsis("stats"));
	ctl_open(&c, argv[optind], true);
	cur = malloc(sizeof(*cur));
	shown = malloc(sizeof(*shown));
	prev = calloc(1, sizeof(*prev));
	base = calloc(1, sizeof(*base));
	if (!cur || !shown || !prev || !base)
		die("out of memory");
	memcpy(cur, bpfuse_view_stats(c.b), sizeof(*cur));
	p.until = now_s();

	if (!interval) {
		/* one report: since the mount, or since this reader's last -z */
		p.from_mount = !zero || !baseline_load(&c, base);
		p.baseline = !p.from_mount;
		p.since = p.from_mount ? bpfuse_view_since(c.b) : base->time;
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
		memcpy(cur, bpfuse_view_stats(c.b), sizeof(*cur));
		p.until = now_s();
		stats_delta(shown, cur, prev);
		if (json || verbose) {
			report(&c, shown, &p, json, hist);
			if (!json && (count < 0 || i + 1 < count))
				printf("\n");
		} else {
			if (i % 20 == 0)
				print_line_header(shown->mode);
			print_line(shown, &p);
		}
		fflush(stdout);
	}
	return 0;
}

/* ---- list ---------------------------------------------------------------- */

struct list {
	bool json;
	struct jw w;
};

static int list_one(const struct bpfuse_mount_info *mi, void *ctx)
{
	struct list *l = ctx;

	if (!l->json) {
		printf("%-10llu %-8u %-6s %-6s %8.1f %s\n", (unsigned long long)mi->mnt_id, mi->pid,
		       mode_name(mi->mode), mi->alive ? "alive" : "gone",
		       mi->memory_bytes / 1048576.0, esc(mi->mountpoint));
		return 0;
	}
	jw_object_start(&l->w);
	jw_uint_field(&l->w, "mount_id", mi->mnt_id);
	jw_uint_field(&l->w, "daemon_pid", mi->pid);
	jw_string_field(&l->w, "mode", mode_name(mi->mode));
	jw_bool_field(&l->w, "alive", mi->alive);
	jw_uint_field(&l->w, "memory_bytes", mi->memory_bytes);
	jw_string_field(&l->w, "mountpoint", mi->mountpoint);
	jw_object_end(&l->w);
	return 0;
}

static int cmd_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ 0 },
	};
	struct list l = { 0 };
	int err, opt;

	while ((opt = getopt_long(argc, argv, "j", longopts, NULL)) != -1) {
		if (opt != 'j')
			die("usage: %s", synopsis("list"));
		l.json = true;
	}
	if (optind != argc)
		die("usage: %s", synopsis("list"));
	jw_init(&l.w, stdout);
	if (l.json)
		jw_array_start(&l.w);
	else
		printf("%-10s %-8s %-6s %-6s %8s %s\n", "mount id", "pid", "mode", "daemon", "MiB",
		       "mountpoint");
	err = bpfuse_view_list(list_one, &l);
	if (err == -EACCES || err == -EPERM)
		die("%s: %s (run as root)", BPFUSE_PIN_ROOT, strerror(-err));
	if (err)
		die("failed to list %s: %s", BPFUSE_PIN_ROOT, strerror(-err));
	if (l.json) {
		jw_array_end(&l.w);
		putchar('\n');
	}
	return 0;
}

/*
 * prune: remove the pins of mounts whose daemon is gone (killed, crashed)
 * and which are unmounted, and of counters that died; a mount still there
 * keeps its daemon's pins, for `stats` to say the daemon is gone. The next
 * bpfused does the same on its own.
 */
static int cmd_prune(int argc, char **argv)
{
	int n;

	(void)argv;
	if (argc != 1)
		die("usage: %s", synopsis("prune"));
	if (access(BPFUSE_PIN_ROOT, R_OK | W_OK | X_OK) == -1 && errno == EACCES)
		die("%s: %s (run as root)", BPFUSE_PIN_ROOT, strerror(errno));
	n = bpfuse_mount_sweep();
	printf("removed the maps of %d dead mount%s\n", n, n == 1 ? "" : "s");
	return 0;
}

/* stop: end the counting that `stats` started on a mount bpfuse does not serve. */
static int cmd_stop(int argc, char **argv)
{
	pid_t pid = 0;
	int err;

	if (argc != 2)
		die("usage: %s", synopsis("stop"));
	err = bpfuse_counter_stop(argv[1], &pid);
	if (err == -EEXIST)
		die("%s is served by a bpfuse daemon (pid %d): its statistics end with the mount",
		    esc(argv[1]), (int)pid);
	if (err == -ENXIO)
		die("%s is not counted (nothing pinned for it)", esc(argv[1]));
	if (err == -ETIMEDOUT)
		die("%s: the counting process %d did not stop", esc(argv[1]), (int)pid);
	if (err)
		die_open(argv[1], err, 0);
	printf("%s: stopped counting (pid %d)\n", esc(argv[1]), (int)pid);
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
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	if (now >= expires_ns)
		return "expired";
	snprintf(buf, sizeof(buf), "%.1fs left", (expires_ns - now) / 1e9);
	return buf;
}

/* What dump collects and prints with. */
struct dump {
	struct name_ent *names; /* sorted by node once collected */
	size_t n, cap;
};

static int dump_collect(const struct bpfuse_lookup_key *k, const struct bpfuse_lookup_val *v,
			void *ctx)
{
	struct dump *d = ctx;
	struct name_ent *grown;

	if (!v->nodeid)
		return 0;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 1024;
		grown = realloc(d->names, d->cap * sizeof(*d->names));
		if (!grown)
			die("out of memory");
		d->names = grown;
	}
	d->names[d->n].node = v->nodeid;
	d->names[d->n].parent = k->parent;
	snprintf(d->names[d->n].name, sizeof(d->names[d->n].name), "%.*s", (int)k->len,
		 (const char *)v->name);
	d->n++;
	return 0;
}

static int dump_name(const struct bpfuse_lookup_key *k, const struct bpfuse_lookup_val *v,
		     void *ctx)
{
	struct dump *d = ctx;
	char path[PATH_MAX];

	node_path(d->names, d->n, k->parent, path, sizeof(path), 0);
	printf("%s%s%s -> %llu, %s\n", esc(path), strcmp(path, "/") ? "/" : "",
	       esc_n((const char *)v->name, k->len), (unsigned long long)v->nodeid,
	       expiry_of(v->expires_ns));
	return 0;
}

static int dump_attr(const __u64 *node, const struct bpfuse_attr_val *av, void *ctx)
{
	struct dump *d = ctx;
	char path[PATH_MAX];

	node_path(d->names, d->n, *node, path, sizeof(path), 0);
	printf("%s (%llu) -> %s %u %u %u %llu %s.%09u, %s\n", esc(path), (unsigned long long)*node,
	       mode_string(av->attr.mode), av->attr.nlink, av->attr.uid, av->attr.gid,
	       (unsigned long long)av->attr.size, clock_of(av->attr.mtime, true),
	       av->attr.mtimensec, expiry_of(av->expires_ns));
	return 0;
}

static int dump_xattr(const struct bpfuse_xattr_key *k, const struct bpfuse_xattr_val *v,
		      void *ctx)
{
	struct dump *d = ctx;
	char path[PATH_MAX];

	node_path(d->names, d->n, k->nodeid, path, sizeof(path), 0);
	printf("%s %s -> ", esc(path), esc_n((const char *)v->name, k->len));
	if (v->err)
		printf("%s", strerror(v->err));
	else
		print_escaped(v->value, v->size);
	printf(", %s\n", expiry_of(v->expires_ns));
	return 0;
}

/*
 * dump: the three maps, by path where the cached names lead there from the
 * root (a node none leads to shows as "?/node N").
 */
static int cmd_dump(int argc, char **argv)
{
	struct dump d = { 0 };
	struct ctl c;

	if (argc != 2)
		die("usage: %s", synopsis("dump"));
	ctl_open(&c, argv[1], false);
	if (c.stats->mode == BPFUSE_MODE_COUNT)
		die("%s is not served by bpfuse: it has no caches to dump", esc(argv[1]));
	bpfuse_view_walk_names(c.b, dump_collect, &d);
	qsort(d.names, d.n, sizeof(*d.names), name_cmp);
	printf("# names: path -> node (0: no such name), lifetime left\n");
	bpfuse_view_walk_names(c.b, dump_name, &d);
	printf("# attributes: path (node) -> mode nlink uid gid size mtime, lifetime left\n");
	bpfuse_view_walk_attrs(c.b, dump_attr, &d);
	printf("# xattrs: path name -> value (or an error), lifetime left\n");
	bpfuse_view_walk_xattrs(c.b, dump_xattr, &d);
	free(d.names);
	bpfuse_mount_close(c.b);
	return 0;
}

/* ---- invalidate ---------------------------------------------------------- */

/*
 * Drop what the maps hold for PATH: its name, its attributes and its
 * xattrs, through the library, which moves the epoch so that a fill under
 * way in the daemon does not bring them back.
 */
static int cmd_invalidate(int argc, char **argv)
{
	const char *p;
	size_t mlen;
	struct ctl c;
	long n;

	if (argc != 3)
		die("usage: %s", synopsis("invalidate"));
	ctl_open(&c, argv[1], false);
	if (c.stats->mode == BPFUSE_MODE_COUNT)
		die("%s is not served by bpfuse: it has no caches to invalidate", esc(argv[1]));
	p = argv[2];
	mlen = strlen(argv[1]);
	if (p[0] == '/') {
		if (strncmp(p, argv[1], mlen) || (p[mlen] && p[mlen] != '/'))
			die("%s is not inside %s", esc(argv[2]), esc(argv[1]));
		p += mlen;
	}
	n = bpfuse_view_invalidate(c.b, p);
	if (n == -ENAMETOOLONG)
		die("%s: a name is longer than %d bytes", esc(argv[2]), BPFUSE_NAME_MAX);
	if (n < 0)
		die("failed to invalidate %s: %s", esc(argv[2]), strerror((int)-n));
	if (n == 0)
		printf("%s: not cached\n", esc(argv[2]));
	else
		printf("%s: %ld entries invalidated\n", esc(argv[2]), n);
	bpfuse_mount_close(c.b);
	return 0;
}

/* ---- subcommands --------------------------------------------------------- */

/*
 * Every subcommand, once: dispatch, --help and each one's usage line come
 * from this table, and test/ctl_json.sh checks that man/bpfusectl.8 has a
 * synopsis line and a section for each name in --help.
 */
static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv); /* argv[0] is the name */
	const char *args; /* its synopsis after the name */
	const char *help; /* for --help, wrapped at 76 columns */
} cmds[] = {
	{ "list", cmd_list, "[-j|--json]",
	  "bpfuse mounts and counted mounts, their daemon (or counter) and the\n"
	  "memory their maps take." },
	{ "stats", cmd_stats, "MOUNTPOINT [-j|--json] [-v] [-z] [--hist] [INTERVAL [COUNT]]",
	  "per operation, requests answered by the kernel extension, by the\n"
	  "daemon from its maps, and by the backend; upcalls, answers such as ENOENT,\n"
	  "errors and latency; the caches' entries, capacity and evictions;\n"
	  "invalidations by cause; since the mount. -z: since your own last -z\n"
	  "instead (nobody else's view changes). With INTERVAL, one line every\n"
	  "INTERVAL seconds (COUNT times) of what happened in it (-v: the whole\n"
	  "report; -j: one JSON object per line). --hist: latency histograms.\n"
	  "On a FUSE mount no bpfuse daemon serves (sshfs, say), the first stats\n"
	  "starts counting its requests, until it is unmounted or stopped." },
	{ "dump", cmd_dump, "MOUNTPOINT",
	  "the entries of the three maps, by path, with the lifetime they have left." },
	{ "invalidate", cmd_invalidate, "MOUNTPOINT PATH",
	  "drop the map entries of PATH (relative to the mount, or under it)." },
	{ "stop", cmd_stop, "MOUNTPOINT",
	  "end the counting stats started on a mount no bpfuse daemon serves." },
	{ "prune", cmd_prune, "", "remove the maps of mounts whose daemon died." },
};

#define NR_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static const struct cmd *cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < NR_CMDS; i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

/* "bpfusectl NAME ARGS", for usage lines */
static const char *synopsis(const char *name)
{
	static char buf[128];
	const struct cmd *cmd = cmd_find(name);

	snprintf(buf, sizeof(buf), "bpfusectl %s%s%s", name, *cmd->args ? " " : "", cmd->args);
	return buf;
}

static void usage(FILE *f)
{
	size_t i;

	for (i = 0; i < NR_CMDS; i++)
		fprintf(f, "%s %s\n", i ? "      " : "usage:", synopsis(cmds[i].name));
	fprintf(f, "       bpfusectl --version\n\n");
	for (i = 0; i < NR_CMDS; i++)
		fprintf(f, "%s: %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
	const struct cmd *cmd;
	int ret;

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
	cmd = cmd_find(argv[1]);
	if (!cmd)
		die("unknown command '%s' (see bpfusectl --help)", esc(argv[1]));
	ret = cmd->fn(argc - 1, argv + 1);
	/* a full disk or a closed pipe must not pass for a complete report */
	if (fflush(stdout) || ferror(stdout))
		die("failed to write the output: %s", strerror(errno));
	return ret;
}
