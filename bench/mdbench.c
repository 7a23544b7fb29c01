// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mdbench: a metadata workload over a generated tree, timed per operation.
 *
 *   mdbench create DIR DIRS FILES   make DIRS directories of FILES files,
 *                                   each with a user.tag xattr
 *                                   (MDBENCH_XATTR=trusted.tag, say, for
 *                                   file systems without user xattrs)
 *   mdbench run [-o OP] [-s DIRSxFILES] [-a DIR]... [-m] DIR [ROUNDS]
 *                                   stat, stat of missing names, getxattr
 *                                   (present and absent), open/close and
 *                                   readdir over that tree; create/close/
 *                                   unlink of a name beside each file
 *                                   (create-unlink) only with -o, since
 *                                   it changes the directories
 *
 * run prints one line per operation: name, calls, microseconds per call.
 * It runs in one process so that the figures measure the file system, not
 * process start-up. -o runs one operation only (repeat it for more), so
 * that a caller can count the requests each kind of operation sends to a
 * FUSE daemon; -s gives the tree's shape instead of probing it, so that
 * nothing but the operations touches the tree.
 *
 * -a DIR runs each operation over the same tree in DIR as well (the same
 * tree mounted another way, say), interleaved one directory of the tree at
 * a time, the first tree moving on at each directory; each line then ends
 * with its tree. What slows the whole machine down for a while (a
 * neighbour on a shared host) then falls on every tree alike instead of
 * on the one that happened to run then. -m gives, instead of the mean,
 * the median directory's time per call: a directory during which the
 * machine stalled counts no more than any other, so that the figure is
 * the cost of the calls, not of the stalls.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

struct tree {
	const char *root;
	int dirs;
	int files;
};

/* The attribute create sets and getxattr reads. */
static const char *xattr_name = "user.tag";

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int die(const char *what, const char *path)
{
	fprintf(stderr, "mdbench: failed to %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static int create_tree(const struct tree *t)
{
	char path[4096];
	int d, f, fd;

	for (d = 0; d < t->dirs; d++) {
		snprintf(path, sizeof(path), "%s/d%03d", t->root, d);
		if (mkdir(path, 0755) == -1 && errno != EEXIST)
			die("create", path);
		for (f = 0; f < t->files; f++) {
			snprintf(path, sizeof(path), "%s/d%03d/f%04d", t->root, d, f);
			fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
			if (fd == -1)
				die("create", path);
			if (write(fd, path, strlen(path)) < 0)
				die("write", path);
			close(fd);
			/* tmpfs before 6.6 has no user xattrs: then none are made */
			if (setxattr(path, xattr_name, "bpfuse", 6, 0) == -1 && errno != ENOTSUP)
				die("set xattr on", path);
		}
	}
	return 0;
}

/* The tree's shape, read back from the directory itself. */
static void measure_tree(struct tree *t)
{
	char path[4096];
	struct stat st;

	for (t->dirs = 0;; t->dirs++) {
		snprintf(path, sizeof(path), "%s/d%03d", t->root, t->dirs);
		if (stat(path, &st) == -1)
			break;
	}
	for (t->files = 0; t->dirs; t->files++) {
		snprintf(path, sizeof(path), "%s/d000/f%04d", t->root, t->files);
		if (stat(path, &st) == -1)
			break;
	}
	if (!t->dirs || !t->files) {
		fprintf(stderr, "mdbench: no tree in %s (run 'mdbench create' first)\n", t->root);
		exit(1);
	}
}

enum op { OP_STAT, OP_MISSING, OP_XATTR, OP_NOXATTR, OP_OPEN, OP_READDIR, OP_CREATE, OP_MAX };

static const char *const op_names[OP_MAX] = {
	[OP_STAT] = "stat",	  [OP_MISSING] = "stat-missing",
	[OP_XATTR] = "getxattr",  [OP_NOXATTR] = "getxattr-absent",
	[OP_OPEN] = "open-close", [OP_READDIR] = "readdir",
	[OP_CREATE] = "create-unlink",
};

/* One call of op on file f of directory d; returns 0 when it behaved. */
static int do_op(const struct tree *t, enum op op, int d, int f)
{
	char path[4096], buf[64];
	struct dirent *de;
	struct stat st;
	DIR *dp;
	int fd;

	snprintf(path, sizeof(path), "%s/d%03d/f%04d", t->root, d, f);
	switch (op) {
	case OP_STAT:
		return stat(path, &st);
	case OP_MISSING:
		strcat(path, ".missing");
		return stat(path, &st) == -1 && errno == ENOENT ? 0 : -1;
	case OP_XATTR:
		return getxattr(path, xattr_name, buf, sizeof(buf)) >= 0 || errno == ENOTSUP ||
				       errno == ENODATA
			       ? 0
			       : -1;
	case OP_NOXATTR:
		return getxattr(path, "user.absent", buf, sizeof(buf)) == -1 &&
				       (errno == ENODATA || errno == ENOTSUP)
			       ? 0
			       : -1;
	case OP_OPEN:
		fd = open(path, O_RDONLY);
		if (fd == -1)
			return -1;
		return close(fd);
	case OP_READDIR:
		snprintf(path, sizeof(path), "%s/d%03d", t->root, d);
		dp = opendir(path);
		if (!dp)
			return -1;
		while ((de = readdir(dp)))
			;
		return closedir(dp);
	case OP_CREATE:
		/*
		 * A name the tree does not have (O_EXCL: a leftover of a broken
		 * run is an error, not a silent open), gone again at once: the
		 * tree is the same after every call, so that the other trees
		 * and the next pass find what they expect.
		 */
		strcat(path, ".new");
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd == -1)
			return -1;
		if (close(fd) == -1)
			return -1;
		return unlink(path);
	default:
		return -1;
	}
}

static int op_by_name(const char *name)
{
	int op;

	for (op = 0; op < OP_MAX; op++)
		if (!strcmp(name, op_names[op]))
			return op;
	return -1;
}

#define MAX_TREES 8

/* op over every file of directory d of t (its first file for readdir) */
static int do_dir(const struct tree *t, enum op op, int d)
{
	for (int f = 0; f < (op == OP_READDIR ? 1 : t->files); f++) {
		if (do_op(t, op, d, f) == 0)
			continue;
		fprintf(stderr, "mdbench: %s failed on %s/d%03d/f%04d: %s\n", op_names[op],
			t->root, d, f, strerror(errno));
		return -1;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* the mean of n times (us, per directory), or their median */
static double per_dir(double *us, int n, bool median)
{
	double sum = 0;

	if (median) {
		qsort(us, n, sizeof(*us), cmp_double);
		return n % 2 ? us[n / 2] : (us[n / 2 - 1] + us[n / 2]) / 2;
	}
	for (int i = 0; i < n; i++)
		sum += us[i];
	return sum / n;
}

/*
 * ntrees trees of one shape (trees[0]'s), interleaved a directory at a
 * time; each tree's time per directory in us[tree][round * dirs + dir]
 */
static int run(const struct tree *trees, int ntrees, int rounds, bool median,
	       const bool *selected)
{
	const struct tree *t = &trees[0];
	int r, d, i, k, op, ndirs = rounds * t->dirs, per;
	double *us[MAX_TREES] = { NULL }, t0;
	int rc = 1;

	for (i = 0; i < ntrees; i++) {
		us[i] = calloc(ndirs, sizeof(double));
		if (!us[i]) {
			fprintf(stderr, "mdbench: out of memory\n");
			goto out;
		}
	}
	printf("%-16s %10s %12s\n", "operation", "calls", "us/call");
	for (op = 0; op < OP_MAX; op++) {
		if (!selected[op])
			continue;
		for (r = 0; r < rounds; r++) {
			for (d = 0; d < t->dirs; d++) {
				for (k = 0; k < ntrees; k++) {
					i = (r * t->dirs + d + k) % ntrees;
					t0 = now_us();
					if (do_dir(&trees[i], op, d))
						goto out;
					us[i][r * t->dirs + d] = now_us() - t0;
				}
			}
		}
		per = op == OP_READDIR ? 1 : t->files;
		for (i = 0; i < ntrees; i++) {
			printf("%-16s %10d %12.2f", op_names[op], ndirs * per,
			       per_dir(us[i], ndirs, median) / per);
			printf(ntrees > 1 ? " %s\n" : "\n", trees[i].root);
		}
	}
	rc = 0;
out:
	for (i = 0; i < ntrees; i++)
		free(us[i]);
	return rc;
}

static int usage(void)
{
	fprintf(stderr, "usage: mdbench create DIR DIRS FILES | "
			"mdbench run [-o OP] [-s DIRSxFILES] [-a DIR]... [-m] DIR [ROUNDS]\n"
			"operations:");
	for (int op = 0; op < OP_MAX; op++)
		fprintf(stderr, " %s", op_names[op]);
	fputc('\n', stderr);
	return 1;
}

static bool valid_shape(const struct tree *t)
{
	if (t->dirs > 0 && t->files > 0 && t->dirs <= 1000 && t->files <= 10000)
		return true;
	fprintf(stderr, "mdbench: DIRS must be 1-1000 and FILES 1-10000\n");
	return false;
}

static int cmd_run(int argc, char **argv)
{
	bool selected[OP_MAX] = { false }, any = false, median = false;
	struct tree trees[MAX_TREES] = { 0 }, t = { 0 };
	int rounds = 1, ntrees = 1, opt, op, i;
	char end;

	while ((opt = getopt(argc, argv, "a:mo:s:")) != -1) {
		switch (opt) {
		case 'a':
			if (ntrees == MAX_TREES) {
				fprintf(stderr, "mdbench: at most %d trees\n", MAX_TREES);
				return 1;
			}
			trees[ntrees++].root = optarg;
			break;
		case 'm':
			median = true;
			break;
		case 'o':
			op = op_by_name(optarg);
			if (op < 0) {
				fprintf(stderr, "mdbench: unknown operation '%s'\n", optarg);
				return 1;
			}
			selected[op] = any = true;
			break;
		case 's':
			if (sscanf(optarg, "%dx%d%c", &t.dirs, &t.files, &end) != 2) {
				fprintf(stderr, "mdbench: bad shape '%s' (expected DIRSxFILES)\n",
					optarg);
				return 1;
			}
			if (!valid_shape(&t))
				return 1;
			break;
		default:
			return usage();
		}
	}
	if (optind >= argc || argc - optind > 2)
		return usage();
	t.root = argv[optind];
	if (argc - optind == 2 && sscanf(argv[optind + 1], "%d%c", &rounds, &end) != 1)
		rounds = 0;
	if (rounds <= 0) {
		fprintf(stderr, "mdbench: ROUNDS must be a positive number\n");
		return 1;
	}
	/* unasked, every operation that leaves the tree as it was */
	if (!any)
		for (op = 0; op < OP_MAX; op++)
			selected[op] = op != OP_CREATE;
	if (!t.dirs)
		measure_tree(&t);
	/* each directory's time is kept, for -m */
	if ((long)rounds * t.dirs > 10000000) {
		fprintf(stderr, "mdbench: ROUNDS times DIRS must be at most 10000000\n");
		return 1;
	}
	trees[0] = t;
	for (i = 1; i < ntrees; i++) {
		trees[i].dirs = t.dirs;
		trees[i].files = t.files;
	}
	return run(trees, ntrees, rounds, median, selected);
}

int main(int argc, char **argv)
{
	struct tree t = { 0 };

	if (getenv("MDBENCH_XATTR"))
		xattr_name = getenv("MDBENCH_XATTR");
	if (argc == 5 && !strcmp(argv[1], "create")) {
		t.root = argv[2];
		t.dirs = atoi(argv[3]);
		t.files = atoi(argv[4]);
		if (!valid_shape(&t))
			return 1;
		return create_tree(&t);
	}
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	return usage();
}
