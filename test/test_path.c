// SPDX-License-Identifier: GPL-2.0-or-later
/* Path helpers: containment, the /proc fd path, and command-line checks. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bpfused.h"

Test(path, within)
{
	cr_assert(bf_path_within("/a/b", "/a/b"));
	cr_assert(bf_path_within("/a/b", "/a/b/c"));
	cr_assert_not(bf_path_within("/a/b", "/a/bc"));
	cr_assert_not(bf_path_within("/a/b", "/a"));
	cr_assert(bf_path_within("/", "/anything"));
	cr_assert(bf_path_within("/", "/"));
}

Test(path, proc_fd)
{
	char buf[BF_PROC_FD_MAX];

	bf_proc_fd_path(buf, 7);
	cr_assert_str_eq(buf, "/proc/self/fd/7");
	bf_proc_fd_path(buf, 2147483647);
	cr_assert_str_eq(buf, "/proc/self/fd/2147483647");
}

Test(path, backing_checks)
{
	char tmpl[] = "/tmp/bpfuse-path.XXXXXX", file[64], *real = NULL;

	cr_assert_not_null(mkdtemp(tmpl));
	snprintf(file, sizeof(file), "%s/f", tmpl);
	close(creat(file, 0600));
	cr_assert_eq(bf_check_backing(tmpl, &real), 0);
	cr_assert_str_eq(real, tmpl);
	free(real);
	cr_assert_eq(bf_check_backing(file, &real), -ENOTDIR);
	cr_assert_eq(bf_check_backing("/nonexistent/bpfuse", &real), -ENOENT);
	cr_assert_eq(bf_check_mountpoint(file, &real), -ENOTDIR);
	cr_assert_eq(bf_check_mountpoint("/nonexistent/bpfuse", &real), -ENOENT);
	/* /proc is a mount root: busy */
	cr_assert_eq(bf_check_mountpoint("/proc", &real), -EBUSY);
	unlink(file);
	rmdir(tmpl);
}
