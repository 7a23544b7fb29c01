#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# In the Linux 6.12 guest (bench/run.sh ext runs `test/vm/run.sh
# bench/vm-guest.sh`), in one boot: the metadata benchmark and fio's
# sequential read and random 4 KiB read+write over each configuration of
# bench/configs.tsv's guest set. Each warm figure is the median of
# bb_passes passes. Prints result rows prefixed
# "bpfuse-bench:<TAB>", which bench/run.sh takes from the console, and TAP,
# which test/vm/run.sh counts. Sizes come from the kernel command line:
# bpfuse_bench_shape=DIRSxFILES, bpfuse_bench_rounds=N, bpfuse_bench_passes=N,
# bpfuse_bench_fio=SIZE:LOOPS:SECONDS (default 4x25, 1, 5, 16M:2:2).
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
bb_passes=${bpfuse_bench_passes:-5}
fio=${bpfuse_bench_fio:-16M:2:2}
export BENCH_FIO_SIZE=${fio%%:*} BENCH_FIO_RUNTIME=${fio##*:}
BENCH_FIO_LOOPS=${fio#*:}
export BENCH_FIO_LOOPS=${BENCH_FIO_LOOPS%:*}
export MDBENCH_XATTR=trusted.tag
# Under TCG, waking a thread on the other, idle vCPU costs milliseconds and
# varies from run to run; on one vCPU each upcall is a plain context switch.
bb_pin=(taskset -c 0)
configs=$(bb_configs guest)

# Every configuration is measured in the same minutes: for each operation
# (and for fio) all the FUSE configurations are mounted at once, each on
# its own mount point (over the same tree; for fio each over a tmpfs of
# its own), and pass i of each runs before pass i+1 of any. TCG's speed
# drifts by half over minutes; run one configuration after another, ext-t0
# came out 2.79x native in one boot and 7.19x in the next, with ext slower
# without statistics than with them. The metadata passes go further: one
# mdbench run takes every configuration a directory (100 calls) at a time
# and gives each the median directory's time: the host stalls the guest
# for milliseconds at a time, and a stall timed into a configuration's
# mean moved the same build's ext-t0 stat ratio by a quarter from one pass
# to the next (and to the low side: a stall adds about as much to native's
# few microseconds as to ext-t0's more).
# The cost: ext-nostats loads no statistics programs of its own, but those
# of the other mounts see its upcalls too (and return at their first test).

# in CFG's state directory: its daemon's log, snapshots, times
in_cfg() { local cfg=$1; shift; work=$work/c-$cfg "$@"; }
mnt_of() { [ "$1" = native ] && echo "$2" || echo "$work/m-$1"; }

# mount_all BACK: every configuration but native over BACK (own: each over
# $work/fb-CONFIG), each in the mode it asks for (bpfused says it once it
# is final)
declare -A pid_of
mount_all() {
	local back=$1 cfg want _
	for cfg in $configs; do
		[ "$cfg" = native ] && continue
		mkdir -p "$work/m-$cfg"
		[ "$1" = own ] && back=$work/fb-$cfg
		in_cfg "$cfg" bb_mount "$cfg" "$back" "$work/m-$cfg" || return 1
		pid_of[$cfg]=$bb_pid
		want=${cfg%-*}
		for _ in $(seq 600); do
			grep -q '\(ext\|stock\) mode' "$work/c-$cfg/daemon.log" && break
			sleep 0.05
		done
		grep -q "$want mode" "$work/c-$cfg/daemon.log" || {
			bb_fail ext "$cfg" "not in $want mode: $(grep -m1 mode "$work/c-$cfg/daemon.log")"
			return 1
		}
	done
}

umount_all() {
	local cfg
	for cfg in $configs; do
		[ "$cfg" = native ] && continue
		bb_pid=${pid_of[$cfg]:-}
		bb_umount "$work/m-$cfg"
	done
}

# snap_all NAME: bb_snap of each mount, into its state directory
snap_all() {
	local cfg
	for cfg in $configs; do
		[ "$cfg" = native ] || bb_stats_mnt=$work/m-$cfg in_cfg "$cfg" bb_snap "$1"
	done
}

# requests CFG CASE CALLS: bb_requests for CFG's mount between snaps a and b
requests() {
	local stats=$work/m-$1
	[ "$1" = native ] && stats=
	bb_stats_mnt=$stats in_cfg "$1" bb_requests ext "$1" "$2" "$3"
}

# md_passes OP STATE ROUNDS PASSES BACK: PASSES timed mdbench runs of OP,
# each over every configuration at once (-a), interleaved a directory of
# the tree at a time, its figure the median directory's time per call
# (-m); a row per configuration: the median of its passes
md_passes() {
	local op=$1 state=$2 rounds=$3 passes=$4 back=$5 cfg i name calls=0 us trees=()
	for cfg in $configs; do
		: > "$work/c-$cfg/md.times"
		[ "$cfg" = native ] || trees+=(-a "$(mnt_of "$cfg" "$back")")
	done
	snap_all a
	for ((i = 0; i < passes; i++)); do
		"${bb_pin[@]}" "$top/bench/mdbench" run -m -o "$op" -s "$shape" "${trees[@]}" \
			"$back" "$rounds" > "$work/md.out" 2> "$work/md.err" ||
			{ bb_fail ext "${configs// /+}" "$op: $(tail -1 "$work/md.err")"; return 1; }
		for cfg in $configs; do
			read -r name calls us < <(awk -v t="$(mnt_of "$cfg" "$back")" \
				'$4 == t { print $1, $2, $3 }' "$work/md.out")
			if [ "$name" != "$op" ] || [ -z "$us" ]; then
				bb_fail ext "$cfg" "$op: mdbench printed no figure"
				return 1
			fi
			echo "$us" >> "$work/c-$cfg/md.times"
		done
	done
	snap_all b
	for cfg in $configs; do
		bb_row ext "$cfg" "$op/$state" us "$(bb_median < "$work/c-$cfg/md.times")" us/op
		requests "$cfg" "$op/$state" "$((calls * passes))" || return 1
	done
}

# meta BACK: for each operation, fresh mounts, dropped caches, one cold
# pass, then bb_passes warm passes of ROUNDS rounds each
meta() {
	local back=$1 op rc=0
	for op in $BB_OPS; do
		mount_all "$back" &&
			bb_drop_caches &&
			md_passes "$op" cold 1 1 "$back" &&
			md_passes "$op" warm "$rounds" "$bb_passes" "$back" || rc=1
		umount_all
		[ "$rc" = 0 ] || return 1
	done
}

# fio_all: each job bb_passes times on every configuration, interleaved,
# each over a tmpfs of its own (a daemon's watcher hears every write to
# its backing file system: one configuration's writes must not wake the
# others'); the median bandwidth (read+write for randrw), the requests of
# all passes
fio_all() {
	local job cfg i rc=0
	for cfg in $configs; do
		mkdir "$work/fb-$cfg" && mount -t tmpfs "bpfuse-fio-$cfg" "$work/fb-$cfg" || return 1
	done
	mount_all own || { umount_all; return 1; }
	for job in seqread randrw; do
		for cfg in $configs; do : > "$work/c-$cfg/fio.bw"; done
		snap_all a
		for ((i = 0; i < bb_passes && rc == 0; i++)); do
			for cfg in $configs; do
				"${bb_pin[@]}" fio --output-format=json --output="$work/fio.json" \
					--directory="$(mnt_of "$cfg" "$work/fb-native")" \
					"$top/bench/fio/$job.fio" > "$work/fio.log" 2>&1 &&
					sed -n '/^{/,$p' "$work/fio.json" | # fio may print notes before the JSON
					jq '[.jobs[0].read.bw_bytes, .jobs[0].write.bw_bytes] | add / 1048576' \
						>> "$work/c-$cfg/fio.bw" ||
					{ bb_fail ext "$cfg" "fio $job: $(tail -1 "$work/fio.log")"; rc=1; break; }
			done
		done
		[ "$rc" = 0 ] || break
		snap_all b
		for cfg in $configs; do
			bb_row ext "$cfg" "$job" bw "$(bb_median < "$work/c-$cfg/fio.bw")" MiB/s
			requests "$cfg" "$job" 0
		done
		# the next job's files fit beside this one's no longer
		for cfg in $configs; do rm -f "$work/fb-$cfg"/*; done
	done
	umount_all
	for cfg in $configs; do umount "$work/fb-$cfg"; done
	return "$rc"
}

echo "1..3"
bf_setup bench
chmod 755 "$work/back"
for cfg in $configs; do mkdir "$work/c-$cfg"; done
mkdir "$work/back/meta"
check "a $shape tree" "$top/bench/mdbench" create "$work/back/meta" "${shape%x*}" "${shape#*x}"
check "$configs: metadata benchmark, interleaved" meta "$work/back/meta"
rm -rf "$work/back/meta"
check "$configs: fio, interleaved" fio_all
