#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# In the guest, to compare two builds of the kernel hook or the extension:
# warm stat and getxattr over a 50x100 tree, native tmpfs against bpfused
# in ext mode with every kernel timeout 0, in one mdbench run per operation
# (-a, -m). Unlike the bench's ext-t0, the maps keep their default lifetime
# (60 s), so that each answer checks an expiry, as by default. Meant for
#   BPFUSE_VM_ICOUNT=1 test/vm/run.sh bench/vm-icount.sh
# where the guest's clock counts instructions: each "us/call" figure is
# then thousands of instructions per call, the same from one boot to the
# next whatever the host does, and blind to what TCG makes dear (calls,
# atomics). Without it, TCG's times. Speaks TAP; the figures are comments.
set -uo pipefail
source "$(dirname "$0")/../test/lib.sh"
md=$bf_top/bench/mdbench
shape=50x100

# run OP ROUNDS: one mdbench run of OP over both trees
run() { "$md" run -m -o "$1" -s "$shape" -a "$work/mnt" "$work/back" "$2"; }

echo "1..4"
bf_setup icount
check "a $shape tree" "$md" create "$work/back" "${shape%x*}" "${shape#*x}"
bf_start -o entry_timeout=0,attr_timeout=0,negative_timeout=0,ext || exit 1
check "bpfused says ext mode" grep -q "ext mode" "$work/log"
for op in stat getxattr; do
	# a round to warm the caches and the maps, then two timed
	if run "$op" 1 > /dev/null && run "$op" 2 > "$work/out"; then
		sed 's/^/# /' "$work/out"
		ok "$op: native and ext mode, timeouts 0, timed"
	else
		not_ok "$op: mdbench failed"
	fi
done
bf_stop
