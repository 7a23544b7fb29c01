#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A smoke run of the benchmark suite: bench/run.sh --quick (tiny sizes) into
# a temp dir. Fails if a workload breaks, a configuration gives no number,
# the report or its charts are missing, or anything is left mounted or
# running; never judges the numbers. The ext workload boots the 6.12 guest
# (minutes under TCG): included with BPFUSE_BENCH_VM=1.
# BPFUSE_BENCH_WORKLOADS="miss ..." runs those only (while working on one).
# Speaks TAP.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

workloads=${BPFUSE_BENCH_WORKLOADS:-meta scale build fio net miss}
[ "${BPFUSE_BENCH_VM:-}" = 1 ] && workloads="$workloads ext"
missing=
for tool in fio sshfs /usr/sbin/sshd gnuplot jq; do
	command -v "$tool" > /dev/null || missing="$missing ${tool##*/}"
done
if [ -n "$missing" ]; then
	echo "1..0 # SKIP missing:$missing (scripts/deps.sh bench installs them)"
	exit 0
fi

# check, and the exit trap that removes $work with whatever is mounted there
source "$top/test/lib.sh"
# bb_configs and bb_config: the configurations each workload runs
# shellcheck source=bench/lib.sh
source "$top/bench/lib.sh"
work=$(mktemp -d /tmp/bpfuse-bench.XXXXXX)
trap bf_cleanup EXIT
out=$work/results

# shellcheck disable=SC2086
"$top/bench/run.sh" --quick --out "$out" $workloads > "$work/log" 2>&1
rc=$?
check "bench/run.sh --quick $workloads exits 0 (got $rc)" [ "$rc" = 0 ]
[ "$rc" = 0 ] || tail -20 "$work/log" | sed 's/^/# /'

# numbers WORKLOAD CONFIG METRIC COUNT: at least COUNT rows of METRIC (a
# regular expression) with a number > 0 ("req" rows may be 0)
numbers() {
	local got
	got=$(awk -F '\t' -v w="$1" -v c="$2" -v m="^($3)\$" \
		'$6 == w && $7 == c && $9 ~ m && $10 ~ /^[0-9.]+$/ && ($10 > 0 || $9 == "req")' \
		"$out/results.tsv" 2> /dev/null | wc -l)
	[ "$got" -ge "$4" ]
}
# both W C M1 N1 M2 N2: numbers for two metrics
both() { numbers "$1" "$2" "$3" "$4" && numbers "$1" "$2" "$5" "$6"; }
# every row carries commit, kernel, CPU, cores and RAM
described() {
	awk -F '\t' 'NR > 1 && (NF != 11 || $1 == "" || $1 == "-" || $2 == "" || $3 == "" ||
		$4 !~ /^[0-9]+$/ || $5 !~ /GiB$/) { bad = 1 } END { exit bad || NR < 2 }' \
		"$out/results.tsv"
}
sections() {
	local wl
	for wl in $workloads; do
		case $wl in
		meta) grep -q '^## Metadata' "$out/results.md" ;;
		scale) grep -q '^## A large tree' "$out/results.md" ;;
		build) grep -q '^## Kernel build' "$out/results.md" ;;
		fio) grep -q '^## fio' "$out/results.md" ;;
		net) grep -q '^## Network' "$out/results.md" ;;
		ext) grep -q '^## Ext mode' "$out/results.md" ;;
		miss) grep -q '^## Misses' "$out/results.md" ;;
		esac || return 1
	done
}
pngs() {
	local f any=
	for f in "$out"/*.png; do
		[ -f "$f" ] && [ "$(head -c 4 "$f" | tail -c 3)" = PNG ] || return 1
		any=1
	done
	[ -n "$any" ]
}
# each WORKLOAD SET WHAT METRIC COUNT [WHAT2 METRIC2 COUNT2]: for every
# configuration in SET (bench/configs.tsv), COUNT numbers of METRIC; where
# bpfused serves it (its requests are counted), COUNT2 of METRIC2 too
each() {
	local wl=$1 set=$2 cfg
	for cfg in $(bb_configs "$set"); do
		if [ $# -gt 5 ] && [ "$(bb_config "$cfg" daemon)" = bpfused ]; then
			check "$wl, $cfg: $3 and $6" both "$wl" "$cfg" "$4" "$5" "$7" "$8"
		else
			check "$wl, $cfg: $3" numbers "$wl" "$cfg" "$4" "$5"
		fi
	done
}
# served WORKLOAD CONFIG WANT: the row saying how the mount was served says WANT
served() {
	awk -F '\t' -v w="$1" -v c="$2" -v t="$3" '$6 == w && $7 == c && $9 == "transport" &&
		$10 == t { ok = 1 } END { exit !ok }' "$out/results.tsv"
}
check "every row names its commit, kernel and machine" described

for wl in $workloads; do
	case $wl in
	meta) each meta host "12 timings" us 12 "request counts" req 12 ;;
	scale) each scale scale "2 timings" us 2 "request counts" req 2 ;;
	build) each build host "a wall time" wall 1 "requests per opcode" op:lookup 1 ;;
	fio) each fio host "sequential, random read and write, creation" 'read|write|create' 4 ;;
	net) each net net "12 timings" us 12 ;;
	miss)
		each miss miss "6 timings" us 6 "request counts" req 6
		# what bb_mount checked: the ring configurations ride the ring
		for cfg in $(bb_configs miss); do
			want=$(bb_config "$cfg" transport)
			[ "$want" = - ] ||
				check "miss, $cfg: served over $want" served miss "$cfg" "$want"
		done
		;;
	ext)
		for cfg in $(bb_configs guest); do
			check "ext (6.12 guest), $cfg: 12 timings, 2 fio bandwidths" \
				both ext "$cfg" us 12 bw 2
		done
		check "ext mode answered requests in the kernel" numbers ext ext-t0 khit 1
		;;
	esac
done

check "results.md has a section per workload" sections
check "charts are PNG images" pngs
check "nothing left mounted under /tmp/bpfuse-bench.*" \
	bash -c "! grep -q ' /tmp/bpfuse-bench\.' /proc/mounts"
check "no daemon or sshd of the run left" \
	bash -c "! pgrep -f 'bpfuse-bench\.[A-Za-z0-9]{6}/' > /dev/null"
echo "1..$n"
