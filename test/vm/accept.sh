#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# In the guest: ext mode's acceptance. A warm metadata workload over 5,000
# files in 50 directories (stat, stat of missing names, getxattr of present
# and absent attributes), every kernel timeout 0, run on the tmpfs itself
# and through bpfused two ways:
#   stock  the maps, served by the daemon (no_ext): with timeouts 0 every
#          request of the workload reaches the daemon, so its upcalls per
#          call are the requests per call. Under TCG each upcall costs
#          milliseconds, so stock mode runs over 5 of the 50 directories.
#   ext    the same maps, served by the kernel extension
# Upcalls are counted by the statistics programs, on fuse_request_end,
# independently of the extension; kernel hits by the extension. At least
# 99% of the workload's requests (kernel hits + upcalls, which must match
# stock mode's requests per call) must be answered without an upcall in ext
# mode; lookup counts must balance. Microseconds per call are reported,
# never asserted. Speaks TAP.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
mdbench=$bf_top/bench/mdbench
shape=50x100
ops="stat stat-missing getxattr getxattr-absent"
# map entries live until invalidated (the watcher keeps them coherent): under
# TCG a cold pass over 5,000 files outlasts the default 60 s lifetime
zero=entry_timeout=0,attr_timeout=0,negative_timeout=0,map_timeout=0
export MDBENCH_XATTR=trusted.tag	# as the benchmark in the guest

# FIELD summed over every opcode, between snapshots a and b
total() {
	$py -c 'import json, sys
a, b = (json.load(open(f))["ops"] for f in sys.argv[1:3])
print(sum(b[op][sys.argv[3]] - a.get(op, {}).get(sys.argv[3], 0) for op in b))' \
		"$work/a.json" "$work/b.json" "$1"
}

# measure CONFIG DIR [SHAPE]: a warm-up pass, then each operation timed and counted
measure() {
	local cfg=$1 dir=$2 shape=${3:-$shape} op us up hits all=0 kernel=0
	for op in $ops; do
		"$mdbench" run -s "$shape" -o "$op" "$dir" 1 > /dev/null || return 1
	done
	for op in $ops; do
		[ "$cfg" = native ] || snap a
		us=$("$mdbench" run -s "$shape" -o "$op" "$dir" 1 | awk 'NR == 2 {print $3}')
		[ -n "$us" ] || return 1
		up=0 hits=0
		[ "$cfg" = native ] || { snap b; up=$(total upcalls); hits=$(total kernel_hits); }
		all=$((all + up)) kernel=$((kernel + hits))
		eval "us_${cfg}_${op//-/_}=$us up_${cfg}_${op//-/_}=$up hit_${cfg}_${op//-/_}=$hits"
	done
	eval "upcalls_$cfg=$all kernel_hits_$cfg=$kernel calls_$cfg=$((${shape%x*} * ${shape#*x}))"
}

echo "1..8"
# One vCPU for the workload and the daemon: under TCG, waking a thread on
# the other, idle vCPU costs milliseconds and varies run to run.
taskset -cp 0 $$ > /dev/null
bf_setup accept
check "5,000 files with an xattr each" "$mdbench" create "$work/back" 50 100

check "native tmpfs" measure native "$work/back"
bf_start -o $zero,no_ext && check "bpfused, stock mode" measure stock "$work/mnt" 5x100
bf_stop
bf_start -o $zero
check "bpfused, ext mode" measure ext "$work/mnt"
check "ext mode attached" grep -q '"mode":"ext"' "$work/b.json"

echo "# warm, every kernel timeout 0: us per call (upcalls per call)"
printf '# %-16s %15s %15s %15s\n' operation native stock ext
same=yes
for op in $ops; do
	v=${op//-/_}
	line=$(printf '# %-16s' "$op")
	for cfg in native stock ext; do
		eval "us=\${us_${cfg}_$v:-?} up=\${up_${cfg}_$v:-0} calls=\${calls_$cfg:-1}"
		line+=$(printf ' %7s (%5s)' "$us" "$($py -c "print('%.2f' % ($up / $calls))")")
	done
	echo "$line"
	# requests per call: stock mode's upcalls, ext mode's hits + upcalls
	eval "a=\$((\${up_stock_$v:-0} * \${calls_ext:-0})) b=\$(((\${hit_ext_$v:-0} + \${up_ext_$v:-0}) * \${calls_stock:-0}))"
	[ "$a" = "$b" ] || same="no: $op"
done
check "ext mode sees the requests stock mode sends ($same)" [ "$same" = yes ]
all=$((${kernel_hits_ext:-0} + ${upcalls_ext:-0})) up=${upcalls_ext:-0}
pct=$($py -c "print('%.2f' % (100 * (1 - $up / max($all, 1))))")
echo "# ext mode, ${calls_ext:-?} calls of each operation: $all requests, $up upcalls:" \
	"$pct% answered without an upcall"
check "ext mode: at least 99% answered without an upcall ($pct%)" \
	$py -c "import sys; sys.exit(not ($all > 0 and $up <= $all / 100))"

sync
echo 2 > /proc/sys/vm/drop_caches
for i in $(seq 20); do stat "$work/mnt/flush-$i" > /dev/null 2>&1; done
bf_stop
check "lookup counts balance at unmount" grep -q " 0 forget underflows" "$work/log"
