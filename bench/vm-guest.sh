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
# bf_setup, check, and the exit trap that leaves nothing behind
source "$top/test/lib.sh"
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
bf_setup bench
chmod 755 "$work/back"
mkdir "$work/back/meta"
check "a $shape tree" "$top/bench/mdbench" create "$work/back/meta" "${shape%x*}" "${shape#*x}"
for cfg in native stock ext; do
	bb_want_mode=${cfg#native}
	check "$cfg: metadata benchmark" bb_meta ext "$cfg" "$work/back/meta" "$shape" "$rounds"
done
