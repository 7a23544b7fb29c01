#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/mdbench run over several trees at once (-a) and with the median
# directory's figure (-m), as the guest benchmark runs it: a line per tree
# with its calls, the old three columns for one tree, create-unlink
# leaving each tree as it was, a broken tree named in the error, and one slow directory (through a bpfused mount that
# delays every backend call by 1 ms) that moves the mean but not the
# median. Speaks TAP.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
md=$bf_top/bench/mdbench
plan=9
echo "1..$plan"
bf_setup mdbench
a=$work/back/a b=$work/back/b c=$work/c
mkdir "$a" "$b" "$c"
check "three trees of 3 directories of 4 files" \
	eval '"$md" create "$a" 3 4 && "$md" create "$b" 3 4 && "$md" create "$c" 3 4'

# lines OUT OP TREE: the calls on OP's line for TREE (4 fields), or nothing
calls() { awk -v op="$2" -v t="$3" '$1 == op && NF == 4 && $4 == t { print $2 }' "$1"; }
"$md" run -o stat -o readdir -s 3x4 -a "$b" "$a" 2 > "$work/two.out" 2> "$work/two.err"
check "-a: exit 0 ($(tail -1 "$work/two.err"))" [ $? = 0 ]
check "-a: stat, 24 calls in each tree" \
	[ "$(calls "$work/two.out" stat "$a")" = 24 -a "$(calls "$work/two.out" stat "$b")" = 24 ]
check "-a: readdir, 6 calls in each tree" \
	[ "$(calls "$work/two.out" readdir "$a")" = 6 -a "$(calls "$work/two.out" readdir "$b")" = 6 ]
check "one tree: operation, calls, us/call" \
	eval '"$md" run -m -o stat "$a" | awk '"'"'NR == 2 && NF == 3 && $2 == 12 { ok = 1 } END { exit !ok }'"'"
# every name it creates goes again: the next pass, and the other trees, find
# the tree they expect
"$md" run -o create-unlink -a "$b" "$a" > "$work/cu.out" 2> "$work/cu.err"
check "create-unlink: 12 calls in each tree, no name left ($(tail -1 "$work/cu.err"))" \
	eval '[ "$(calls "$work/cu.out" create-unlink "$a")" = 12 ] &&
		[ "$(calls "$work/cu.out" create-unlink "$b")" = 12 ] &&
		[ -z "$(find "$a" "$b" -name "*.new")" ]'
rm "$b/d002/f0003"
"$md" run -o stat -s 3x4 -a "$b" "$a" > /dev/null 2> "$work/err"
rc=$?
check "a broken tree: exit 1 (got $rc) and the file named ($(cat "$work/err"))" \
	eval '[ $rc = 1 ] && grep -q "stat failed on $b/d002/f0003" "$work/err"'

# c's d000 through a mount that makes each stat there take milliseconds
bf_start -o entry_timeout=0,attr_timeout=0,negative_timeout=0,backend_latency=1ms
rm -r "$c/d000" && ln -s "$work/mnt/a/d000" "$c/d000"
us_of() { "$md" run "$@" -o stat -s 3x4 "$c" 1 | awk 'NR == 2 { print $3 }'; }
mean=$(us_of) median=$(us_of -m)
check "a slow directory: the mean over 600 us per call (got $mean)" \
	awk -v v="$mean" 'BEGIN { exit !(v > 600) }'
check "a slow directory: the median directory under 300 us per call (got $median)" \
	awk -v v="$median" 'BEGIN { exit !(v > 0 && v < 300) }'
bf_stop

[ "$n" = "$plan" ] || echo "# ran $n checks, planned $plan"
exit $((failed > 0))
