#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The node table's lock rule (daemon/bpfused.h): no system call with the
# lock held. test/bpfused-lockcheck aborts on one (test/lockcheck.c); here
# it serves a cold tree to many parallel walkers and readers, with few
# I/O fds (evictions), the kernel's caches dropped between passes
# (FORGETs), and in every mode that moves nodes or backing files through
# the table: default options, cache=never, -o passthrough. Speaks TAP.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
bpfused=${BPFUSED:-$bf_top/test/bpfused-lockcheck}

bf_setup lockcheck
modes="default cache=never passthrough"
plan=$((3 * 3))
echo "1..$plan"

# 16 directories of 64 small files and a symlink each
for d in $(seq 16); do
	mkdir "$work/back/d$d"
	for f in $(seq 64); do echo "$d/$f" > "$work/back/d$d/f$f"; done
	ln -s f1 "$work/back/d$d/link"
done

# One walker: stat, read and list everything, write some, in its own order.
walk() {
	local i=$1 d f
	for d in $(seq 16 | shuf --random-source=<(yes "$i")); do
		ls -l "$work/mnt/d$d" > /dev/null || return 1
		for f in $(seq 64); do
			cat "$work/mnt/d$d/f$f" > /dev/null || return 1
		done
		echo "$i" >> "$work/mnt/d$d/f$i" || return 1
		stat -L "$work/mnt/d$d/link" > /dev/null || return 1
	done
}

no_violation() { ! grep -q "with the table lock held" "$work/log"; }

for mode in $modes; do
	opts=io_fds=16
	[ "$mode" = default ] || opts=$opts,$mode
	if ! bf_start -o "$opts"; then
		skip_rest "$plan" "mount with $opts" "bpfused-lockcheck did not start"
	fi
	bad=0
	for pass in 1 2 3; do
		pids=
		for i in $(seq 8); do
			walk "$i" & pids="$pids $!"
		done
		for p in $pids; do wait "$p" || bad=$((bad + 1)); done
		# the kernel forgets what it cached: FORGETs race the next pass
		echo 2 > /proc/sys/vm/drop_caches
	done
	check "$mode: 8 walkers, 3 passes over a cold tree, every call answered" [ "$bad" = 0 ]
	bf_stop
	check "$mode: the daemon exits cleanly" [ $? = 0 ]
	grep -h "bpfused-lockcheck" "$work/log" | sed 's/^/# /'
	check "$mode: no system call with the table lock held" no_violation
done
exit $((failed > 0))
