// SPDX-License-Identifier: GPL-2.0-or-later
/* Option parsing: values, units, defaults by cache mode, and bad input. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>

#include "bpfused.h"

static int parse(struct bf_opts *o, struct fuse_args *args, const char *const *argv, int argc)
{
	int i;

	*args = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
	for (i = 0; i < argc; i++)
		cr_assert_eq(fuse_opt_add_arg(args, argv[i]), 0);
	return bf_opts_parse(args, o);
}

#define PARSE(o, args, ...)                                                                        \
	parse(o, args, (const char *const[]){ "bpfused", __VA_ARGS__ },                            \
	      sizeof((const char *const[]){ "bpfused", __VA_ARGS__ }) / sizeof(char *))

Test(opts, seconds_accept_fractions)
{
	double v;

	cr_assert_eq(bf_parse_seconds("0.25", &v), 0);
	cr_assert_float_eq(v, 0.25, 1e-12);
	cr_assert_eq(bf_parse_seconds("0", &v), 0);
	cr_assert_float_eq(v, 0.0, 1e-12);
	cr_assert_eq(bf_parse_seconds("86400", &v), 0);
}

Test(opts, seconds_reject_garbage)
{
	double v;

	cr_assert_eq(bf_parse_seconds("", &v), -EINVAL);
	cr_assert_eq(bf_parse_seconds("abc", &v), -EINVAL);
	cr_assert_eq(bf_parse_seconds("1s", &v), -EINVAL);
	cr_assert_eq(bf_parse_seconds("-1", &v), -EINVAL);
	cr_assert_eq(bf_parse_seconds("nan", &v), -EINVAL);
	cr_assert_eq(bf_parse_seconds("inf", &v), -EINVAL);
}

Test(opts, duration_units)
{
	uint64_t ns;

	cr_assert_eq(bf_parse_duration("1ms", &ns), 0);
	cr_assert_eq(ns, 1000000);
	cr_assert_eq(bf_parse_duration("250us", &ns), 0);
	cr_assert_eq(ns, 250000);
	cr_assert_eq(bf_parse_duration("7ns", &ns), 0);
	cr_assert_eq(ns, 7);
	cr_assert_eq(bf_parse_duration("0.5", &ns), 0);
	cr_assert_eq(ns, 500000000);
	cr_assert_eq(bf_parse_duration("2s", &ns), 0);
	cr_assert_eq(ns, 2000000000ULL);
}

Test(opts, duration_rejects)
{
	uint64_t ns;

	cr_assert_eq(bf_parse_duration("1 ms", &ns), -EINVAL);
	cr_assert_eq(bf_parse_duration("1m", &ns), -EINVAL);
	cr_assert_eq(bf_parse_duration("ms", &ns), -EINVAL);
	cr_assert_eq(bf_parse_duration("-1ms", &ns), -EINVAL);
	cr_assert_eq(bf_parse_duration("11s", &ns), -ERANGE);
}

Test(opts, defaults_follow_cache_mode)
{
	struct fuse_args args;
	struct bf_opts o;

	cr_assert_eq(PARSE(&o, &args, "back", "mnt"), 0);
	cr_assert_eq(bf_opts_finish(&o, true), 0);
	cr_assert_eq(o.cache, BF_CACHE_AUTO);
	cr_assert_lt(o.entry_timeout, 0, "auto waits to know whether the backing dir is watched");
	bf_opts_timeouts(&o, false);
	bf_opts_map_timeouts(&o, false);
	/* unwatched: 20 s, but a name that did not exist only 1 s, in the maps too */
	cr_assert_float_eq(o.entry_timeout, 20.0, 1e-12);
	cr_assert_float_eq(o.attr_timeout, 20.0, 1e-12);
	cr_assert_float_eq(o.negative_timeout, 1.0, 1e-12);
	cr_assert_float_eq(o.map_timeout, 20.0, 1e-12);
	cr_assert_float_eq(o.map_negative_timeout, 1.0, 1e-12);
	cr_assert_lt(o.passthrough, 0, "passthrough: on in ext mode (where the kernel has it), else off");
	cr_assert_eq(o.io_fds, 0, "io_fds: sized from RLIMIT_NOFILE at start");
	cr_assert_eq(o.allow_other, 1);
	cr_assert_eq(o.writeback, 0);
	cr_assert_eq(o.backend_latency_ns, 0);
	cr_assert_str_eq(o.backing, "back");
	/* the mountpoint stays for fuse_parse_cmdline() */
	cr_assert_eq(args.argc, 2);
	cr_assert_str_eq(args.argv[1], "mnt");
	bf_opts_free(&o);
	fuse_opt_free_args(&args);

	cr_assert_eq(PARSE(&o, &args, "-o", "cache=never", "back", "mnt"), 0);
	cr_assert_eq(bf_opts_finish(&o, false), 0);
	cr_assert_eq(o.cache, BF_CACHE_NEVER);
	cr_assert_float_eq(o.entry_timeout, 0.0, 1e-12);
	cr_assert_eq(o.allow_other, 0, "not root: no allow_other by default");
	bf_opts_free(&o);
	fuse_opt_free_args(&args);
}

/* Watched, the kernel's caches live until the watcher invalidates them. */
Test(opts, watched_auto_trusts_the_kernel_long)
{
	struct fuse_args args;
	struct bf_opts o;

	cr_assert_eq(PARSE(&o, &args, "-o", "attr_timeout=2,passthrough,io_fds=64", "b", "m"), 0);
	cr_assert_eq(bf_opts_finish(&o, true), 0);
	bf_opts_timeouts(&o, true);
	bf_opts_map_timeouts(&o, true);
	cr_assert_float_eq(o.entry_timeout, 86400.0, 1e-12);
	cr_assert_float_eq(o.negative_timeout, 86400.0, 1e-12);
	cr_assert_float_eq(o.attr_timeout, 2.0, 1e-12, "an explicit timeout wins");
	cr_assert_float_eq(o.map_timeout, 60.0, 1e-12, "the watcher invalidates the maps");
	cr_assert_float_eq(o.map_negative_timeout, 60.0, 1e-12);
	cr_assert_eq(o.passthrough, 1);
	cr_assert_eq(o.io_fds, 64);
	bf_opts_free(&o);
	fuse_opt_free_args(&args);

	cr_assert_eq(PARSE(&o, &args, "-o", "passthrough,writeback", "b", "m"), 0);
	cr_assert_eq(bf_opts_finish(&o, true), -EINVAL, "passthrough excludes writeback");
	bf_opts_free(&o);
	fuse_opt_free_args(&args);
	cr_assert_eq(PARSE(&o, &args, "-o", "io_fds=8", "b", "m"), -EINVAL);
	bf_opts_free(&o);
	fuse_opt_free_args(&args);
}

Test(opts, explicit_timeouts_win)
{
	struct fuse_args args;
	struct bf_opts o;

	cr_assert_eq(PARSE(&o, &args, "-o",
			   "cache=always,entry_timeout=0.5,attr_timeout=2,negative_timeout=0", "-o",
			   "backend_latency=1ms,writeback,no_allow_other", "b", "m"),
		     0);
	cr_assert_eq(bf_opts_finish(&o, true), 0);
	cr_assert_eq(o.cache, BF_CACHE_ALWAYS);
	cr_assert_float_eq(o.entry_timeout, 0.5, 1e-12);
	cr_assert_float_eq(o.attr_timeout, 2.0, 1e-12);
	cr_assert_float_eq(o.negative_timeout, 0.0, 1e-12);
	bf_opts_map_timeouts(&o, false);
	cr_assert_float_eq(o.map_timeout, 2.0, 1e-12, "unwatched: the kernel's longest");
	cr_assert_float_eq(o.map_negative_timeout, 0.001, 1e-12,
			   "no negative entries in the kernel: hardly any in the maps");
	cr_assert_eq(o.backend_latency_ns, 1000000);
	cr_assert_eq(o.writeback, 1);
	cr_assert_eq(o.allow_other, 0);
	bf_opts_free(&o);
	fuse_opt_free_args(&args);
}

Test(opts, libfuse_options_pass_through)
{
	struct fuse_args args;
	struct bf_opts o;
	int i;
	bool seen = false;

	cr_assert_eq(PARSE(&o, &args, "-f", "-o", "max_threads=4,entry_timeout=3", "b", "m"), 0);
	for (i = 1; i < args.argc; i++)
		seen |= !strcmp(args.argv[i], "max_threads=4") && !strcmp(args.argv[i - 1], "-o");
	cr_assert(seen, "max_threads must be left for libfuse");
	bf_opts_free(&o);
	fuse_opt_free_args(&args);
}

Test(opts, malformed_values_fail)
{
	struct fuse_args args;
	struct bf_opts o;

	cr_assert_eq(PARSE(&o, &args, "-o", "entry_timeout=abc", "b", "m"), -EINVAL);
	bf_opts_free(&o);
	fuse_opt_free_args(&args);
	cr_assert_eq(PARSE(&o, &args, "-o", "attr_timeout=-2", "b", "m"), -EINVAL);
	bf_opts_free(&o);
	fuse_opt_free_args(&args);
	cr_assert_eq(PARSE(&o, &args, "-o", "backend_latency=fast", "b", "m"), -EINVAL);
	bf_opts_free(&o);
	fuse_opt_free_args(&args);
	cr_assert_eq(PARSE(&o, &args, "-o", "cache=sometimes", "b", "m"), 0);
	cr_assert_eq(bf_opts_finish(&o, true), -EINVAL);
	bf_opts_free(&o);
	fuse_opt_free_args(&args);
}
