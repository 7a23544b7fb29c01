// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The inode table: lookup counts, FORGET that never underflows, handles
 * that tell a reused inode number from the old object, an empty table once
 * every reference is given back, and the I/O fds kept per node within
 * their LRU.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpfused.h"

static char dir[] = "/tmp/bpfuse-inode.XXXXXX";
static struct bf_table tbl;
static int dfd = -1;

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(dfd, 0);
	cr_assert_eq(bf_table_init(&tbl, dfd), 0);
}

static void teardown(void)
{
	char cmd[96];

	bf_table_destroy(&tbl);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static void touch(const char *name)
{
	int fd = openat(dfd, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

	cr_assert_geq(fd, 0, "create %s: %s", name, strerror(errno));
	close(fd);
}

static struct bf_inode *ref(const char *name)
{
	struct bf_inode proto, *in;
	struct stat st;

	cr_assert_eq(bf_inode_probe(&tbl, dfd, name, &proto, &st), 0);
	in = bf_table_ref(&tbl, &proto);
	cr_assert_not_null(in);
	cr_assert_eq(in->ino, st.st_ino);
	return in;
}

TestSuite(inode, .init = setup, .fini = teardown);

Test(inode, root_is_node_one)
{
	struct bf_inode *root = bf_table_find(&tbl, FUSE_ROOT_ID);

	cr_assert_not_null(root);
	cr_assert(root->pinned);
	cr_assert_eq(bf_table_count(&tbl), 0);
}

Test(inode, lookups_count_and_forget_frees)
{
	struct bf_inode *a, *b;
	uint64_t id;

	touch("f");
	a = ref("f");
	b = ref("f");
	cr_assert_eq(a, b, "one node per backing object");
	cr_assert_eq(a->nlookup, 2);
	cr_assert_eq(bf_table_count(&tbl), 1);
	id = a->nodeid;
	bf_table_forget(&tbl, id, 1);
	cr_assert_not_null(bf_table_find(&tbl, id));
	bf_table_forget(&tbl, id, 1);
	cr_assert_null(bf_table_find(&tbl, id));
	cr_assert_eq(bf_table_count(&tbl), 0);
	cr_assert_eq(tbl.underflows, 0);
}

Test(inode, node_ids_are_not_reused)
{
	struct bf_inode *a;
	uint64_t first;

	touch("f");
	a = ref("f");
	first = a->nodeid;
	bf_table_forget(&tbl, first, 1);
	a = ref("f");
	cr_assert_neq(a->nodeid, first);
	cr_assert_gt(a->nodeid, FUSE_ROOT_ID);
}

Test(inode, forget_never_underflows)
{
	struct bf_inode *a;
	uint64_t id;

	touch("f");
	a = ref("f");
	id = a->nodeid;
	bf_table_forget(&tbl, id, 5);
	cr_assert_null(bf_table_find(&tbl, id));
	cr_assert_eq(tbl.underflows, 1);
	bf_table_forget(&tbl, id, 1); /* already gone */
	cr_assert_eq(tbl.underflows, 2);
	bf_table_forget(&tbl, FUSE_ROOT_ID, 3); /* root is pinned */
	cr_assert_not_null(bf_table_find(&tbl, FUSE_ROOT_ID));
}

Test(inode, reused_inode_number_is_a_new_node)
{
	struct bf_inode *old, *new, proto;
	struct stat st;

	touch("f");
	old = ref("f");
	/* Same (dev, ino) with another handle: what a reused number looks like. */
	cr_assert_eq(bf_inode_probe(&tbl, dfd, "f", &proto, &st), 0);
	cr_assert_not_null(proto.fh, "tmp must support file handles");
	proto.fh->f_handle[proto.fh->handle_bytes - 1] ^= 0xff;
	new = bf_table_ref(&tbl, &proto);
	cr_assert_neq(new, old);
	cr_assert_eq(bf_table_count(&tbl), 2);
	cr_assert_not(old->hashed);
	/* the old node still answers to its id until the kernel forgets it */
	cr_assert_eq(bf_table_find(&tbl, old->nodeid), old);
	bf_table_forget(&tbl, old->nodeid, 1);
	bf_table_forget(&tbl, new->nodeid, 1);
	cr_assert_eq(bf_table_count(&tbl), 0);
}

Test(inode, open_by_handle_reaches_the_object)
{
	struct bf_inode *in;
	char buf[8] = { 0 };
	int fd;

	fd = openat(dfd, "data", O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "hello", 5), 5);
	close(fd);
	in = ref("data");
	cr_assert_not_null(in->fh, "tmp must support file handles");
	fd = bf_inode_open(in, O_RDONLY);
	cr_assert_geq(fd, 0, "open by handle: %s", strerror(-fd));
	cr_assert_eq(read(fd, buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "hello");
	close(fd);
	/* still reachable after its last name is gone, like an open file */
	cr_assert_eq(bf_table_node_at(&tbl, dfd, "data", true), in->nodeid);
	cr_assert_eq(unlinkat(dfd, "data", 0), 0);
	fd = bf_inode_open(in, O_RDONLY);
	cr_assert_geq(fd, 0, "open unlinked by handle: %s", strerror(-fd));
	close(fd);
}

Test(inode, many_nodes_use_no_fds)
{
	char name[32];
	int i, before, after, fd;

	before = fcntl(0, F_DUPFD, 0);
	close(before);
	for (i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		touch(name);
		ref(name);
	}
	cr_assert_eq(bf_table_count(&tbl), 3000);
	fd = fcntl(0, F_DUPFD, 0);
	after = fd;
	close(fd);
	cr_assert_eq(after, before, "table must hold no fd per node");
	cr_assert_eq(bf_table_lookups(&tbl), 3000);
}

/*
 * I/O by node: at most io_max nodes keep fds, the least recently used go
 * first, a node in use is never closed under its request, and a written
 * node's read-write fd serves its reads too.
 */
Test(inode, io_fds_stay_within_the_lru)
{
	struct bf_inode *in[40], *held, *busy;
	char name[16];
	int fd, wfd, i;

	tbl.io_max = 16;
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		touch(name);
		in[i] = ref(name);
	}
	cr_assert_geq(bf_table_io_get(&tbl, in[0]->nodeid, false, &busy), 0);
	for (i = 1; i < 40; i++) {
		fd = bf_table_io_get(&tbl, in[i]->nodeid, false, &held);
		cr_assert_geq(fd, 0, "f%d: %s", i, strerror(-fd));
		bf_table_io_put(&tbl, held);
		cr_assert_leq(bf_table_io_count(&tbl), 17, "at most io_max, plus one in use");
	}
	cr_assert_geq(in[0]->rfd, 0, "in use: kept past its turn");
	cr_assert_lt(in[1]->rfd, 0, "least recently used: closed");
	cr_assert_geq(in[39]->rfd, 0, "most recent: kept");
	bf_table_io_put(&tbl, busy);

	wfd = bf_table_io_get(&tbl, in[39]->nodeid, true, &held);
	cr_assert_geq(wfd, 0);
	bf_table_io_put(&tbl, held);
	cr_assert_eq(write(wfd, "x", 1), 1, "the write fd writes");
	cr_assert_eq(bf_table_io_get(&tbl, in[39]->nodeid, false, &held), wfd,
		     "reads use the write fd once there is one");
	bf_table_io_put(&tbl, held);
	cr_assert_eq(bf_table_io_get(&tbl, 999999, false, &held), -EIO, "unknown node");
	for (i = 0; i < 40; i++)
		bf_table_forget(&tbl, in[i]->nodeid, 1);
	cr_assert_eq(bf_table_io_count(&tbl), 0, "forgotten nodes close their fds");
}
