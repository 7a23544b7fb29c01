// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libbpfuse against real maps: the shared types' layout, round trips
 * through each cache, lifetimes (the mount's and a fill's own), the epoch
 * that keeps slow fills out (moved by a tool's invalidation too), the hits
 * the gets count, node handles, and each invalidation rule (what it
 * removes, and what it leaves alone).
 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bpfuse_attach.h"
#include "bpfuse_i.h"
#include "mount_helpers.h"

_Static_assert(sizeof(struct bpfuse_attr) == sizeof(struct fuse_attr), "fuse_attr layout");
_Static_assert(offsetof(struct bpfuse_attr, mode) == offsetof(struct fuse_attr, mode), "mode");
_Static_assert(offsetof(struct bpfuse_attr, blksize) == offsetof(struct fuse_attr, blksize),
	       "blksize");
_Static_assert(sizeof(struct bpfuse_lookup_key) == 16, "lookup key");
_Static_assert(sizeof(struct bpfuse_xattr_key) == 16, "xattr key");
_Static_assert(sizeof(struct bpfuse_lookup_val) == 32 + BPFUSE_NAME_MAX + 1, "lookup value");
_Static_assert(sizeof(struct bpfuse_xattr_val) == 16 + BPFUSE_XATTR_SIZE_MAX + BPFUSE_NAME_MAX + 1,
	       "xattr value");
_Static_assert(sizeof(struct fuse_bpfuse_attach) == 8, "the attach ioctl's argument");

static char dir[] = "/tmp/bpfuse-maps.XXXXXX";
static struct bpfuse *b;

/* Any mount will do for the maps: a private tmpfs. */
static void setup(void)
{
	bf_require_root();
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(mount("bpfuse-maps", dir, "tmpfs", 0, NULL), 0);
	cr_assert_eq(bpfuse_mount_open(dir, NULL, &b), 0);
}

static void reopen(const struct bpfuse_opts *o)
{
	bpfuse_mount_close(b);
	b = NULL;
	cr_assert_eq(bpfuse_mount_open(dir, o, &b), 0);
}

static void teardown(void)
{
	bpfuse_mount_close(b);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

TestSuite(maps, .init = setup, .fini = teardown);

static struct stat some_stat(ino_t ino)
{
	struct stat st = { 0 };

	st.st_ino = ino;
	st.st_mode = S_IFREG | 0640;
	st.st_nlink = 3;
	st.st_uid = 1000;
	st.st_gid = 100;
	st.st_size = 1LL << 33;
	st.st_blocks = 17;
	st.st_blksize = 4096;
	st.st_rdev = 0;
	st.st_atim = (struct timespec){ 1, 2 };
	st.st_mtim = (struct timespec){ 3, 4 };
	st.st_ctim = (struct timespec){ 5, 999999999 };
	return st;
}

static bool has_attr(uint64_t node)
{
	struct stat st;

	return bpfuse_attr_get(b, node, &st) == 0;
}

static bool has_entry(uint64_t parent, const char *name)
{
	struct bpfuse_entry e;
	struct stat st;

	return bpfuse_entry_get(b, parent, name, &e, &st) == 0;
}

static bool has_xattr(uint64_t node, const char *name)
{
	return bpfuse_xattr_get(b, node, name, NULL, 0) != -ENOENT;
}

static void put_attr(uint64_t node)
{
	struct stat st = some_stat(node);

	cr_assert_eq(bpfuse_attr_put(b, bpfuse_cache_epoch(b), node, &st, BPFUSE_LIFETIME_DEFAULT),
		     0);
}

/* A name, and (a positive one) the attributes an entry needs to be a hit. */
static void put_entry(uint64_t parent, const char *name, uint64_t node)
{
	struct bpfuse_entry e = { .nodeid = node, .node = BPFUSE_NODE_NONE };

	cr_assert_eq(bpfuse_entry_put(b, bpfuse_cache_epoch(b), parent, name, &e, 0), 0);
	if (node && !has_attr(node))
		put_attr(node);
}

static void put_xattr(uint64_t node, const char *name)
{
	cr_assert_eq(bpfuse_xattr_put(b, bpfuse_cache_epoch(b), node, name, "v", 1,
				      BPFUSE_LIFETIME_DEFAULT),
		     0);
}

#define changed(cause, ...) \
	bpfuse_cache_invalidate(b, BPFUSE_CAUSE_##cause, &(struct bpfuse_change){ __VA_ARGS__ })

Test(maps, pinned_root_only_and_removed_on_close)
{
	char pin[64], path[96];
	struct stat st;

	cr_assert_eq(bpfuse_pin_dir(b->mnt_id, pin, sizeof(pin)), 0);
	cr_assert_eq(stat(pin, &st), 0, "%s: %s", pin, strerror(errno));
	cr_assert_eq(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/lookup", pin);
	cr_assert_eq(access(path, F_OK), 0);
	bpfuse_mount_close(b);
	b = NULL;
	cr_assert_eq(access(pin, F_OK), -1, "pins must go with the mount");
}

Test(maps, attr_round_trip_keeps_every_field)
{
	struct stat in = some_stat(42), out;

	put_attr(42);
	cr_assert_eq(bpfuse_attr_get(b, 42, &out), 0);
	cr_assert_eq(out.st_ino, in.st_ino);
	cr_assert_eq(out.st_mode, in.st_mode);
	cr_assert_eq(out.st_nlink, in.st_nlink);
	cr_assert_eq(out.st_uid, in.st_uid);
	cr_assert_eq(out.st_gid, in.st_gid);
	cr_assert_eq(out.st_size, in.st_size);
	cr_assert_eq(out.st_blocks, in.st_blocks);
	cr_assert_eq(out.st_blksize, in.st_blksize);
	cr_assert_eq(out.st_ctim.tv_nsec, 999999999);
	cr_assert_eq(out.st_mtim.tv_sec, 3);
	cr_assert_eq(bpfuse_attr_get(b, 43, &out), -ENOENT);
}

Test(maps, lookup_positive_negative_and_exact_names)
{
	struct bpfuse_entry e = { .nodeid = 5 };
	char longname[300];
	struct stat st;

	put_entry(1, "abc", 7);
	put_entry(1, "gone", 0);
	cr_assert_eq(bpfuse_entry_get(b, 1, "abc", &e, &st), 0);
	cr_assert_eq(e.nodeid, 7);
	cr_assert_eq(st.st_ino, 7, "the node's attributes come with it");
	cr_assert_eq(bpfuse_entry_get(b, 1, "gone", &e, &st), 0);
	cr_assert_eq(e.nodeid, 0, "a negative entry");
	/* no prefix, suffix or other parent may match */
	cr_assert_eq(bpfuse_entry_get(b, 1, "ab", &e, &st), -ENOENT);
	cr_assert_eq(bpfuse_entry_get(b, 1, "abcd", &e, &st), -ENOENT);
	cr_assert_eq(bpfuse_entry_get(b, 2, "abc", &e, &st), -ENOENT);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	e = (struct bpfuse_entry){ .nodeid = 5 };
	cr_assert_eq(bpfuse_entry_put(b, bpfuse_cache_epoch(b), 1, longname, &e, 0), -ENAMETOOLONG);
	/* a name without its node's attributes is no answer */
	e = (struct bpfuse_entry){ .nodeid = 8, .node = BPFUSE_NODE_NONE };
	cr_assert_eq(bpfuse_entry_put(b, bpfuse_cache_epoch(b), 1, "bare", &e, 0), 0);
	cr_assert_eq(bpfuse_entry_get(b, 1, "bare", &e, &st), -ENOENT);
}

struct hashed {
	__u32 hash;
	__u32 i;
};

static int cmp_hashed(const void *x, const void *y)
{
	const struct hashed *a = x, *b2 = y;

	return a->hash < b2->hash ? -1 : a->hash > b2->hash;
}

/* Two different 7-character names with the same hash, found by birthday search. */
static void colliding_names(char a[8], char b2[8])
{
	enum { N = 1 << 19 };
	struct hashed *h = calloc(N, sizeof(*h));
	__u64 words[BPFUSE_NAME_WORDS] = { 0 };
	__u32 i;

	cr_assert_not_null(h);
	for (i = 0; i < N; i++) {
		snprintf((char *)words, 8, "%07x", i);
		h[i] = (struct hashed){ bpfuse_name_hash(words, 7), i };
	}
	qsort(h, N, sizeof(*h), cmp_hashed);
	for (i = 1; i < N && h[i].hash != h[i - 1].hash; i++)
		;
	cr_assert_lt(i, N, "no two names share a hash");
	snprintf(a, 8, "%07x", h[i - 1].i);
	snprintf(b2, 8, "%07x", h[i].i);
	free(h);
}

/* Keys hold a hash of the name: names that share it share a slot, never an answer. */
Test(maps, names_sharing_a_hash_are_told_apart)
{
	struct bpfuse_entry e;
	char a[8], b2[8];
	struct stat st;

	colliding_names(a, b2);
	put_entry(1, a, 7);
	put_entry(1, b2, 8);
	cr_assert_eq(bpfuse_entry_get(b, 1, a, &e, &st), -ENOENT, "%s answered from %s's slot", a,
		     b2);
	cr_assert_eq(bpfuse_entry_get(b, 1, b2, &e, &st), 0);
	cr_assert_eq(e.nodeid, 8);
	cr_assert_eq(bpfuse_entry_inval(b, 1, a, BPFUSE_CAUSE_USER), 0, "not a's node");
	cr_assert(!has_entry(1, b2), "the slot goes with either name");
	put_xattr(5, b2);
	cr_assert(!has_xattr(5, a));
	cr_assert(has_xattr(5, b2));
}

Test(maps, xattr_values_sizes_and_absence)
{
	char buf[BPFUSE_XATTR_VALUE_MAX + 1] = { 0 };

	cr_assert_eq(bpfuse_xattr_put(b, bpfuse_cache_epoch(b), 5, "user.a", "hello", 5, 0), 0);
	cr_assert_eq(bpfuse_xattr_put(b, bpfuse_cache_epoch(b), 5, "user.none", NULL, -ENODATA, 0), 0);
	cr_assert_eq(bpfuse_xattr_get(b, 5, "user.a", NULL, 0), 5, "size query");
	cr_assert_eq(bpfuse_xattr_get(b, 5, "user.a", buf, 3), -ERANGE);
	cr_assert_eq(bpfuse_xattr_get(b, 5, "user.a", buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "hello");
	cr_assert_eq(bpfuse_xattr_get(b, 5, "user.none", buf, sizeof(buf)), -ENODATA);
	cr_assert_eq(bpfuse_xattr_put(b, bpfuse_cache_epoch(b), 5, "x.y", NULL, -EOPNOTSUPP, 0), 0);
	cr_assert_eq(bpfuse_xattr_get(b, 5, "x.y", NULL, 0), -EOPNOTSUPP);
	cr_assert_eq(bpfuse_xattr_put(b, bpfuse_cache_epoch(b), 5, "x.z", NULL, -EIO, 0), -EINVAL,
		     "only the errors that cannot change are cached");
	cr_assert_eq(bpfuse_xattr_get(b, 6, "user.a", buf, sizeof(buf)), -ENOENT);
	cr_assert_eq(bpfuse_xattr_put(b, bpfuse_cache_epoch(b), 5, "user.big", buf, sizeof(buf), 0),
		     -E2BIG);
	cr_assert_eq(bpfuse_xattr_get(b, 5, "user.big", buf, sizeof(buf)), -ENOENT);
}

Test(maps, fill_older_than_an_invalidation_is_dropped)
{
	struct stat st = some_stat(8);
	uint64_t epoch = bpfuse_cache_epoch(b);

	changed(WRITE, .node = 8); /* an invalidation lands while the fill is under way */
	cr_assert_eq(bpfuse_attr_put(b, epoch, 8, &st, 0), -ESTALE);
	cr_assert_not(has_attr(8));
	cr_assert_eq(bpfuse_attr_put(b, bpfuse_cache_epoch(b), 8, &st, 0), 0);
	cr_assert(has_attr(8));
}

/* bpfusectl's invalidation goes through a view: it moves the daemon's epoch too. */
Test(maps, a_tools_invalidation_moves_the_epoch)
{
	struct stat st = some_stat(5);
	struct bpfuse *view;
	uint64_t epoch;

	put_entry(1, "f", 5);
	put_xattr(5, "user.x");
	epoch = bpfuse_cache_epoch(b);
	cr_assert_eq(bpfuse_view_open(dir, &view), 0);
	cr_assert_eq(bpfuse_view_invalidate(view, "/f"), 3, "name, attributes, xattr");
	cr_assert_eq(bpfuse_view_stats(view)->invalidations[BPFUSE_CAUSE_USER], 3);
	bpfuse_mount_close(view);
	cr_assert_not(has_entry(1, "f"));
	cr_assert_not(has_xattr(5, "user.x"));
	cr_assert_eq(bpfuse_attr_put(b, epoch, 5, &st, 0), -ESTALE, "a fill from before it");
	cr_assert_not(has_attr(5));
}

/* Hits are counted by the gets themselves, per opcode; misses are not. */
Test(maps, gets_count_their_hits)
{
	const struct bpfuse_stats *s;
	struct bpfuse_entry e;
	struct bpfuse *view;
	struct stat st;
	char buf[8];

	put_entry(1, "f", 5);
	put_xattr(5, "user.x");
	cr_assert_eq(bpfuse_entry_get(b, 1, "f", &e, &st), 0);
	cr_assert_eq(bpfuse_entry_get(b, 1, "missing", &e, &st), -ENOENT);
	cr_assert_eq(bpfuse_attr_get(b, 5, &st), 0);
	cr_assert_eq(bpfuse_attr_get(b, 5, &st), 0);
	cr_assert_eq(bpfuse_xattr_get(b, 5, "user.x", buf, sizeof(buf)), 1);
	cr_assert_eq(bpfuse_view_open(dir, &view), 0);
	s = bpfuse_view_stats(view);
	cr_assert_eq(s->ops[FUSE_LOOKUP].daemon_hits, 1);
	cr_assert_eq(s->ops[FUSE_GETATTR].daemon_hits, 2);
	cr_assert_eq(s->ops[FUSE_GETXATTR].daemon_hits, 1);
	bpfuse_mount_close(view);
}

Test(maps, generation_round_trip)
{
	struct bpfuse_entry e = { .nodeid = 12, .generation = 77, .node = BPFUSE_NODE_NONE };
	struct stat st = some_stat(12);

	cr_assert_eq(bpfuse_attr_put(b, bpfuse_cache_epoch(b), 12, &st, 0), 0);
	cr_assert_eq(bpfuse_entry_put(b, bpfuse_cache_epoch(b), 1, "g", &e, 0), 0);
	memset(&e, 0, sizeof(e));
	cr_assert_eq(bpfuse_entry_get(b, 1, "g", &e, &st), 0);
	cr_assert_eq(e.generation, 77);
}

/*
 * Forget adds what the kernel took on the node's handle, subtracts, and
 * frees the handle at 0. Where the kernel has the hook (the guest), the
 * test takes references as the extension would; elsewhere there is no
 * handle and forget is the daemon's count alone.
 */
Test(maps, node_forget_counts)
{
	uint32_t node = bpfuse_node_create(b, 42);
	uint64_t nlookup = 3;

	cr_assert_eq(node == BPFUSE_NODE_NONE, b->krefs == NULL, "a handle exactly in ext mode");
	if (b->krefs)
		__atomic_fetch_add(&b->krefs[node], 2, __ATOMIC_RELAXED); /* two kernel lookups */
	cr_assert_eq(bpfuse_node_forget(b, &node, &nlookup, 2), 0);
	cr_assert_eq(nlookup, b->krefs ? 3 : 1);
	cr_assert_eq(bpfuse_node_forget(b, &node, &nlookup, nlookup + 4), 4,
		     "forgot 4 more than given");
	cr_assert_eq(nlookup, 0);
	cr_assert_eq(node, BPFUSE_NODE_NONE, "the handle goes with the last reference");
	cr_assert_eq(bpfuse_node_forget(NULL, &node, &nlookup, 0), 0);
}

Test(maps, entries_expire)
{
	const struct timespec pause = { .tv_nsec = 80 * 1000 * 1000 };

	struct bpfuse_opts o = { .sz = sizeof(o), .lifetime_ns = 50 * 1000 * 1000 };
	struct stat st = some_stat(3);

	reopen(&o);
	put_attr(1);
	put_entry(1, "x", 2);
	cr_assert_eq(bpfuse_attr_put(b, bpfuse_cache_epoch(b), 3, &st, BPFUSE_LIFETIME_FOREVER), 0);
	cr_assert(has_attr(1));
	nanosleep(&pause, NULL);
	cr_assert_not(has_attr(1), "expired after 50 ms");
	cr_assert_not(has_entry(1, "x"));
	cr_assert(has_attr(3), "a fill's own lifetime wins over the mount's");
}

/* An object store gives each answer its own lifetime, whatever the mount's. */
Test(maps, a_fill_lifetime_of_its_own)
{
	const struct timespec pause = { .tv_nsec = 80 * 1000 * 1000 };
	struct stat st = some_stat(4);

	cr_assert_eq(bpfuse_attr_put(b, bpfuse_cache_epoch(b), 4, &st, 50 * 1000 * 1000), 0);
	put_attr(5); /* the mount's default here: until invalidated */
	nanosleep(&pause, NULL);
	cr_assert_not(has_attr(4));
	cr_assert(has_attr(5));
}

Test(maps, statistics_only_never_caches)
{
	struct bpfuse_opts o = { .sz = sizeof(o), .no_cache = true };

	reopen(&o);
	cr_assert_eq(bpfuse_attr_put(b, bpfuse_cache_epoch(b), 1, &(struct stat){ 0 }, 0),
		     -ENODEV);
	cr_assert_not(has_attr(1));
}

/* ---- the invalidation rules ---------------------------------------------- */

Test(maps, rule_setattr)
{
	put_attr(10);
	put_attr(11);
	put_xattr(10, "security.capability");
	put_xattr(10, "system.posix_acl_access");
	put_xattr(10, "user.keep");
	changed(SETATTR, .node = 10);
	cr_assert_not(has_attr(10));
	cr_assert_not(has_xattr(10, "security.capability"));
	cr_assert_not(has_xattr(10, "system.posix_acl_access"));
	cr_assert(has_xattr(10, "user.keep"));
	cr_assert(has_attr(11));
}

Test(maps, rule_write_and_access)
{
	put_attr(10);
	put_attr(11);
	changed(WRITE, .node = 10);
	cr_assert_not(has_attr(10));
	cr_assert(has_attr(11));
	changed(ACCESS, .node = 11);
	cr_assert(has_attr(11), "reads move no atime on this mount");
	reopen(&(struct bpfuse_opts){ .sz = sizeof(struct bpfuse_opts), .atime = true });
	put_attr(11);
	changed(ACCESS, .node = 11);
	cr_assert_not(has_attr(11));
}

Test(maps, rule_create)
{
	put_entry(1, "new", 0);
	put_entry(1, "other", 0);
	put_attr(1);
	put_attr(5);
	changed(CREATE, .parent = 1, .name = "new");
	cr_assert_not(has_entry(1, "new"), "the negative entry goes");
	cr_assert_not(has_attr(1), "the parent's mtime changed");
	cr_assert(has_entry(1, "other"));
	cr_assert(has_attr(5));
}

Test(maps, rule_link)
{
	put_entry(2, "alias", 0);
	put_attr(2);
	put_attr(7);
	put_attr(8);
	changed(LINK, .node = 7, .parent = 2, .name = "alias");
	cr_assert_not(has_entry(2, "alias"));
	cr_assert_not(has_attr(2));
	cr_assert_not(has_attr(7), "nlink changed");
	cr_assert(has_attr(8));
}

Test(maps, rule_unlink)
{
	put_entry(1, "victim", 9);
	put_entry(1, "sibling", 10);
	put_attr(1);
	put_attr(9);
	put_attr(10);
	changed(UNLINK, .parent = 1, .name = "victim", .victim = 9);
	cr_assert_not(has_entry(1, "victim"));
	cr_assert_not(has_attr(1));
	cr_assert_not(has_attr(9), "nlink changed");
	cr_assert(has_entry(1, "sibling"));
	cr_assert(has_attr(10));
}

Test(maps, rule_rename)
{
	put_entry(1, "a", 20);
	put_entry(3, "b", 21);
	put_entry(3, "c", 22);
	put_attr(1);
	put_attr(3);
	put_attr(20);
	put_attr(21);
	put_attr(22);
	changed(RENAME, .node = 20, .parent = 1, .name = "a", .newparent = 3, .newname = "b",
		.victim = 21);
	cr_assert_not(has_entry(1, "a"));
	cr_assert_not(has_entry(3, "b"));
	cr_assert_not(has_attr(1));
	cr_assert_not(has_attr(3));
	cr_assert_not(has_attr(20), "the moved node's ctime");
	cr_assert_not(has_attr(21), "the replaced node's nlink");
	cr_assert(has_entry(3, "c"));
	cr_assert(has_attr(22));
}

Test(maps, rule_xattr)
{
	put_xattr(30, "user.a");
	put_xattr(30, "user.b");
	put_attr(30);
	changed(XATTR, .node = 30, .xattr = "user.a");
	cr_assert_not(has_xattr(30, "user.a"));
	cr_assert_not(has_attr(30), "ctime, and the mode for an ACL");
	cr_assert(has_xattr(30, "user.b"));
}

Test(maps, rule_forget)
{
	put_attr(40);
	put_attr(41);
	changed(FORGET, .node = 40);
	cr_assert_not(has_attr(40));
	cr_assert(has_attr(41));
}

Test(maps, sweep_removes_a_dead_daemons_pins)
{
	char pin[64];

	cr_assert_eq(bpfuse_pin_dir(b->mnt_id, pin, sizeof(pin)), 0);
	bpfuse_mount_sweep();
	cr_assert_eq(access(pin, F_OK), 0, "a live daemon's pins stay");
}

/* ---- find and fill: the calls a daemon's handlers make ------------------- */

Test(maps, find_misses_then_fill_makes_a_hit)
{
	struct bpfuse_entry e, node = { .nodeid = 7, .node = BPFUSE_NODE_NONE };
	struct stat st = some_stat(7), got;
	struct bpfuse_miss m;
	char v[8];

	cr_assert_eq(bpfuse_entry_find(b, 1, "f", &e, &got, &m), -ENOENT);
	bpfuse_entry_fill(b, &m, 1, "f", &node, &st);
	cr_assert_eq(bpfuse_entry_find(b, 1, "f", &e, &got, &m), 0);
	cr_assert_eq(e.nodeid, 7);
	cr_assert_eq(got.st_size, st.st_size);
	cr_assert_eq(bpfuse_attr_find(b, 7, &got, &m), 0);

	cr_assert_eq(bpfuse_entry_find(b, 1, "gone", &e, &got, &m), -ENOENT);
	bpfuse_entry_fill(b, &m, 1, "gone", &(struct bpfuse_entry){ .node = BPFUSE_NODE_NONE },
			  NULL);
	cr_assert_eq(bpfuse_entry_find(b, 1, "gone", &e, &got, &m), 0);
	cr_assert_eq(e.nodeid, 0, "a cached \"no such name\"");

	cr_assert_eq(bpfuse_xattr_find(b, 7, "user.a", v, sizeof(v), &m), -ENOENT);
	bpfuse_xattr_fill(b, &m, 7, "user.a", "val", 3);
	cr_assert_eq(bpfuse_xattr_find(b, 7, "user.a", v, sizeof(v), &m), 3);
	cr_assert_eq(memcmp(v, "val", 3), 0);
	cr_assert_eq(bpfuse_xattr_find(b, 7, "user.a", NULL, 0, &m), 3, "a size query");
}

/* The race every handler would otherwise have to get right itself. */
Test(maps, fill_after_an_invalidation_is_dropped)
{
	struct stat st = some_stat(9), got;
	struct bpfuse_entry e = { .nodeid = 9, .node = BPFUSE_NODE_NONE };
	struct bpfuse_miss m;

	cr_assert_eq(bpfuse_entry_find(b, 1, "n", &e, &got, &m), -ENOENT);
	changed(UNLINK, .parent = 1, .name = "n", .victim = 9);
	bpfuse_entry_fill(b, &m, 1, "n", &e, &st);
	cr_assert_not(has_entry(1, "n"));
	cr_assert_not(has_attr(9));

	cr_assert_eq(bpfuse_attr_find(b, 9, &got, &m), -ENOENT);
	changed(SETATTR, .node = 9);
	bpfuse_attr_fill(b, &m, 9, &st);
	cr_assert_not(has_attr(9));

	cr_assert_eq(bpfuse_xattr_find(b, 9, "user.x", NULL, 0, &m), -ENOENT);
	changed(XATTR, .node = 9, .xattr = "user.x");
	bpfuse_xattr_fill(b, &m, 9, "user.x", "v", 1);
	cr_assert_not(has_xattr(9, "user.x"));
}

Test(maps, fill_keeps_what_it_should_not_cache_out)
{
	struct stat got;
	struct bpfuse_entry e = { .nodeid = 4, .node = BPFUSE_NODE_NONE };
	char big[BPFUSE_XATTR_VALUE_MAX + 1] = { 0 };
	struct bpfuse_miss m;

	/* a name without its node's attributes: the attributes stay a miss */
	cr_assert_eq(bpfuse_entry_find(b, 1, "w", &e, &got, &m), -ENOENT);
	bpfuse_entry_fill(b, &m, 1, "w", &e, NULL);
	cr_assert_not(has_attr(4));
	/* errors other than "no such attribute" and values too big */
	cr_assert_eq(bpfuse_xattr_find(b, 4, "user.e", NULL, 0, &m), -ENOENT);
	bpfuse_xattr_fill(b, &m, 4, "user.e", NULL, -EIO);
	cr_assert_not(has_xattr(4, "user.e"));
	bpfuse_xattr_fill(b, &m, 4, "user.e", big, sizeof(big));
	cr_assert_not(has_xattr(4, "user.e"));
	bpfuse_xattr_fill(b, &m, 4, "user.e", NULL, -ENODATA);
	cr_assert_eq(bpfuse_xattr_find(b, 4, "user.e", NULL, 0, &m), -ENODATA);
}

/* Without maps, or with statistics only, every find misses and fills are no-ops. */
Test(maps, find_and_fill_without_caches)
{
	struct bpfuse_opts o = { .sz = sizeof(o), .no_cache = true };
	struct bpfuse_entry e = { .nodeid = 5, .node = BPFUSE_NODE_NONE };
	struct stat st = some_stat(5), got;
	struct bpfuse_miss m;

	cr_assert_eq(bpfuse_attr_find(NULL, 5, &got, &m), -ENOENT);
	bpfuse_attr_fill(NULL, &m, 5, &st);
	bpfuse_entry_fill(NULL, &m, 1, "x", &e, &st);
	reopen(&o);
	cr_assert_eq(bpfuse_entry_find(b, 1, "x", &e, &got, &m), -ENOENT);
	bpfuse_entry_fill(b, &m, 1, "x", &e, &st);
	cr_assert_eq(bpfuse_entry_find(b, 1, "x", &e, &got, &m), -ENOENT);
	cr_assert_eq(bpfuse_attr_find(b, 5, &got, &m), -ENOENT);
}
