// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One rule table, two sides: for every kind of change a request can make,
 * the library (lib/rules.c) and the extension's code (kext/rules.bpf.h,
 * loaded as test/rules.bpf.c) start from the same cache contents and must
 * leave exactly the same entries behind.
 */
#include "config.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "bpfuse_i.h"
#include "mount_helpers.h"
#include "rules.skel.h"
#include "rules_ctx.h"

static char dir[] = "/tmp/bpfuse-rules.XXXXXX";
static struct bpfuse *b;
static struct rules_bpf *skel;

static void setup(void)
{
	struct bpfuse_opts o = { .sz = sizeof(o), .atime = true };

	bf_require_root();
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(mount("bpfuse-rules", dir, "tmpfs", 0, NULL), 0);
	cr_assert_eq(bpfuse_mount_open(dir, &o, &b), 0);
	skel = rules_bpf__open();
	cr_assert_not_null(skel);
	cr_assert_eq(bpf_map__reuse_fd(skel->maps.lookup, b->fds[BPFUSE_CACHE_LOOKUP]), 0);
	cr_assert_eq(bpf_map__reuse_fd(skel->maps.attr, b->fds[BPFUSE_CACHE_ATTR]), 0);
	cr_assert_eq(bpf_map__reuse_fd(skel->maps.xattr, b->fds[BPFUSE_CACHE_XATTR]), 0);
	cr_assert_eq(rules_bpf__load(skel), 0);
}

static void teardown(void)
{
	rules_bpf__destroy(skel);
	bpfuse_mount_close(b);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

TestSuite(rules, .init = setup, .fini = teardown);

/* The change every case applies: each kind uses what it names. */
static const struct bpfuse_change change = {
	.node = 20,
	.parent = 1,
	.name = "a",
	.newparent = 3,
	.newname = "b",
	.victim = 21,
	.xattr = "user.a",
};

static void clear(int fd, size_t key_size)
{
	char key[512];

	while (bpf_map_get_next_key(fd, NULL, key) == 0)
		cr_assert_eq(bpf_map_delete_elem(fd, key), 0);
	(void)key_size;
}

/* The same entries before every run: names, attributes and xattrs around the change. */
static void populate(void)
{
	static const struct {
		uint64_t parent;
		const char *name;
		uint64_t node;
	} names[] = { { 1, "a", 20 }, { 3, "b", 21 }, { 3, "c", 22 }, { 1, "n", 0 }, { 2, "a", 23 } };
	static const uint64_t nodes[] = { 1, 2, 3, 20, 21, 22, 23, 30 };
	static const char *const xattrs[] = { "user.a", "user.b", BPFUSE_XATTR_ACL,
					      BPFUSE_XATTR_CAPS };
	struct bpfuse_entry e = { .node = BPFUSE_NODE_NONE };
	struct stat st = { .st_mode = S_IFREG | 0644 };
	size_t i, j;

	clear(b->fds[BPFUSE_CACHE_LOOKUP], sizeof(struct bpfuse_lookup_key));
	clear(b->fds[BPFUSE_CACHE_ATTR], sizeof(__u64));
	clear(b->fds[BPFUSE_CACHE_XATTR], sizeof(struct bpfuse_xattr_key));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		e.nodeid = names[i].node;
		cr_assert_eq(bpfuse_entry_put(b, bpfuse_cache_epoch(b), names[i].parent,
					      names[i].name, &e, 0),
			     0);
	}
	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		st.st_ino = nodes[i];
		cr_assert_eq(bpfuse_attr_put(b, bpfuse_cache_epoch(b), nodes[i], &st, 0), 0);
		for (j = 0; j < sizeof(xattrs) / sizeof(xattrs[0]); j++)
			cr_assert_eq(bpfuse_xattr_put(b, bpfuse_cache_epoch(b), nodes[i], xattrs[j],
						      "v", 1, 0),
				     0);
	}
}

static int cmp_str(const void *a, const void *b2)
{
	return strcmp(*(char *const *)a, *(char *const *)b2);
}

/* What the caches hold, one sorted line per entry. */
static char *snapshot(void)
{
	struct bpfuse_lookup_key lk, *lp = NULL;
	struct bpfuse_xattr_key xk, *xp = NULL;
	struct bpfuse_lookup_val lv;
	struct bpfuse_xattr_val xv;
	__u64 node, *np = NULL;
	char *lines[256], *out;
	size_t n = 0, len = 1, i;

	while (n < 256 && bpf_map_get_next_key(b->fds[BPFUSE_CACHE_LOOKUP], lp, &lk) == 0) {
		lp = &lk;
		cr_assert_eq(bpf_map_lookup_elem(b->fds[BPFUSE_CACHE_LOOKUP], &lk, &lv), 0);
		cr_assert_neq(asprintf(&lines[n++], "name %llu/%.*s", (unsigned long long)lk.parent,
				       (int)lk.len, (const char *)lv.name),
			      -1);
	}
	while (n < 256 && bpf_map_get_next_key(b->fds[BPFUSE_CACHE_ATTR], np, &node) == 0) {
		np = &node;
		cr_assert_neq(asprintf(&lines[n++], "attr %llu", (unsigned long long)node), -1);
	}
	while (n < 256 && bpf_map_get_next_key(b->fds[BPFUSE_CACHE_XATTR], xp, &xk) == 0) {
		xp = &xk;
		cr_assert_eq(bpf_map_lookup_elem(b->fds[BPFUSE_CACHE_XATTR], &xk, &xv), 0);
		cr_assert_neq(asprintf(&lines[n++], "xattr %llu %.*s",
				       (unsigned long long)xk.nodeid, (int)xk.len,
				       (const char *)xv.name),
			      -1);
	}
	qsort(lines, n, sizeof(lines[0]), cmp_str);
	for (i = 0; i < n; i++)
		len += strlen(lines[i]) + 1;
	out = calloc(1, len);
	cr_assert_not_null(out);
	for (i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
		free(lines[i]);
	}
	return out;
}

/* A name's hash and length, as the maps key it. */
static void name_hash(const char *name, __u32 *hash, __u32 *len)
{
	__u64 words[BPFUSE_NAME_WORDS] = { 0 };

	*len = strlen(name);
	memcpy(words, name, *len);
	*hash = bpfuse_name_hash(words, *len);
}

static void name_key(struct bpfuse_lookup_key *k, uint64_t parent, const char *name)
{
	k->parent = parent;
	name_hash(name, &k->hash, &k->len);
}

/* The extension's rules on c, through the test program. */
static void apply_bpf(enum bpfuse_cause cause, const struct bpfuse_change *c, bool atime)
{
	struct rules_ctx ctx = {
		.cause = cause,
		.atime = atime,
		.node = c->node,
		.parent = c->parent,
		.newparent = c->newparent,
		.victim = c->victim,
		.has_entry = c->name != NULL,
		.has_newentry = c->newname != NULL,
		.has_xattr = c->xattr != NULL,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));

	if (c->name)
		name_key(&ctx.entry, c->parent, c->name);
	if (c->newname)
		name_key(&ctx.newentry, c->newparent, c->newname);
	if (c->xattr) {
		ctx.xattr.nodeid = c->node;
		name_hash(c->xattr, &ctx.xattr.hash, &ctx.xattr.len);
	}
	cr_assert_eq(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.apply_rules), &opts), 0,
		     "test run: %s", strerror(errno));
}

/* Both sides of one cause must leave the same entries, and remove some. */
static void agree(enum bpfuse_cause cause)
{
	char *full, *lib, *ext;

	populate();
	full = snapshot();
	bpfuse_cache_invalidate(b, cause, &change);
	lib = snapshot();
	populate();
	apply_bpf(cause, &change, true);
	ext = snapshot();
	cr_assert_str_eq(lib, ext, "cause %d: the library left\n%s\nthe extension left\n%s",
			 cause, lib, ext);
	cr_assert_str_neq(full, lib, "cause %d removed nothing", cause);
	free(full);
	free(lib);
	free(ext);
}

Test(rules, setattr)
{
	agree(BPFUSE_CAUSE_SETATTR);
}

Test(rules, write)
{
	agree(BPFUSE_CAUSE_WRITE);
}

Test(rules, access)
{
	agree(BPFUSE_CAUSE_ACCESS);
}

Test(rules, create)
{
	agree(BPFUSE_CAUSE_CREATE);
}

Test(rules, link)
{
	agree(BPFUSE_CAUSE_LINK);
}

Test(rules, unlink)
{
	agree(BPFUSE_CAUSE_UNLINK);
}

Test(rules, rename)
{
	agree(BPFUSE_CAUSE_RENAME);
}

Test(rules, xattr)
{
	agree(BPFUSE_CAUSE_XATTR);
}

Test(rules, forget)
{
	agree(BPFUSE_CAUSE_FORGET);
}

/* Where reads move no atime, neither side drops anything for them. */
Test(rules, access_without_atime)
{
	char *full, *ext;

	populate();
	full = snapshot();
	apply_bpf(BPFUSE_CAUSE_ACCESS, &change, false);
	ext = snapshot();
	cr_assert_str_eq(full, ext);
	free(full);
	free(ext);
}
