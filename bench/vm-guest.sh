#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# In the Linux 6.12 guest (bench/run.sh ext runs `test/vm/run.sh
# bench/vm-guest.sh`), in one boot: the metadata benchmark and fio's
# sequential read and random 4 KiB read+write natively on tmpfs, in stock
# mode (every kernel timeout 0, -o no_ext), in ext mode with the defaults,
# the same without the statistics programs (ext-nostats), and in ext mode
# with every kernel timeout 0 (ext-t0). Each warm figure is
# the median of bb_passes passes. Prints result rows prefixed
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
configs="native stock ext ext-nostats ext-t0"

# fio_guest CONFIG: each job bb_passes times, the median bandwidth
# (read+write for randrw), the requests of all passes
fio_guest() {
	local cfg=$1 dir=$work/back/fio job i rc=0
	mkdir "$work/back/fio"
	if [ "$cfg" != native ]; then
		bb_mount "$cfg" "$work/back" "$work/mnt" || return 1
		dir=$work/mnt/fio
	fi
	for job in seqread randrw; do
		: > "$work/fio.bw"
		bb_snap a
		for ((i = 0; i < bb_passes; i++)); do
			"${bb_pin[@]}" fio --output-format=json --output="$work/fio.json" \
				--directory="$dir" "$top/bench/fio/$job.fio" > "$work/fio.log" 2>&1 &&
				sed -n '/^{/,$p' "$work/fio.json" | # fio may print notes before the JSON
				jq '[.jobs[0].read.bw_bytes, .jobs[0].write.bw_bytes] | add / 1048576' \
					>> "$work/fio.bw" ||
				{ bb_fail ext "$cfg" "fio $job: $(tail -1 "$work/fio.log")"; rc=1; break; }
		done
		[ "$rc" = 0 ] || break
		bb_snap b
		bb_row ext "$cfg" "$job" bw "$(bb_median < "$work/fio.bw")" MiB/s
		bb_requests ext "$cfg" "$job" 0
	done
	[ "$cfg" = native ] || bb_umount "$work/mnt"
	rm -rf "$work/back/fio"
	return "$rc"
}

echo "1..9"
bf_setup bench
chmod 755 "$work/back"
mkdir "$work/back/meta"
check "a $shape tree" "$top/bench/mdbench" create "$work/back/meta" "${shape%x*}" "${shape#*x}"
for cfg in $configs; do
	bb_want_mode=${cfg#native}
	bb_want_mode=${bb_want_mode%-*}
	check "$cfg: metadata benchmark" bb_meta ext "$cfg" "$work/back/meta" "$shape" "$rounds"
done
rm -rf "$work/back/meta"
for cfg in $configs; do
	bb_want_mode=${cfg#native}
	bb_want_mode=${bb_want_mode%-*}
	check "$cfg: fio" fio_guest "$cfg"
done
