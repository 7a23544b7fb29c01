#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# In the Linux 6.1 guest (bench/run.sh ext runs `test/vm/run.sh
# bench/vm-guest.sh`): the metadata benchmark natively on tmpfs, in stock
# mode (-o no_ext) and in ext mode, every kernel timeout 0, in one boot.
# Prints result rows prefixed "bpfuse-bench:<TAB>", which bench/run.sh
# takes from the console, and TAP, which test/vm/run.sh counts. The tree's
# shape and the warm passes come from the kernel command line:
# bpfuse_bench_shape=DIRSxFILES, bpfuse_bench_rounds=N (default 4x25, 1).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/bpfuse-bench.XXXXXX)
chmod 755 "$work"
cleanup() {
	umount -l "$work/mnt" 2> /dev/null
	[ -n "${bb_pid:-}" ] && kill "$bb_pid" 2> /dev/null
	umount -l "$work/back" 2> /dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
bb_emit() { printf 'bpfuse-bench:\t%s\n' "$1"; }

# from the kernel command line (bench/run.sh sets them)
shape=${bpfuse_bench_shape:-4x25}
rounds=${bpfuse_bench_rounds:-1}
# tmpfs on 6.1 has no user.* xattrs; trusted.* it has (we are root)
export MDBENCH_XATTR=trusted.tag
# Under TCG, waking a thread on the other, idle vCPU costs milliseconds and
# varies from run to run; on one vCPU each upcall is a plain context switch.
bb_pin=(taskset -c 0)

echo "1..4"
mkdir -p "$work/back" "$work/mnt"
mount -t tmpfs -o mode=755 bpfuse-bench "$work/back"
mkdir "$work/back/meta"
if "$top/bench/mdbench" create "$work/back/meta" "${shape%x*}" "${shape#*x}"; then
	echo "ok 1 - a $shape tree"
else
	echo "not ok 1 - a $shape tree"
fi

n=1
for cfg in native stock ext; do
	n=$((n + 1))
	bb_want_mode=${cfg#native}
	if bb_meta ext "$cfg" "$work/back/meta" "$shape" "$rounds"; then
		echo "ok $n - $cfg: metadata benchmark"
	else
		echo "not ok $n - $cfg: metadata benchmark"
	fi
done
