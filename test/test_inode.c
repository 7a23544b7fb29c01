// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The inode table: lookup counts, FORGET that never underflows, handles
 * that tell a reused inode number from the old object, and an empty table
 * once every reference is given back.
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
