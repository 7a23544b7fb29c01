#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# FUSE over io_uring: which transport a mount uses, as the log and
# bpfusectl stats say it, the statistics counting requests that travel
# over the ring, the fallback to /dev/fuse where the kernel's switch is off
# or the backend may block, and what the ring cannot do: a flock() wait
# ends on a signal, and a slow backend's misses run side by side. Sets the
# kernel's switch (machine-wide) for its own checks and puts the old value
# back. Speaks TAP.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

plan=19
param=/sys/module/fuse/parameters/enable_uring
bf_setup uring
echo "1..$plan"
[ -w "$param" ] || skip_rest $plan "FUSE over io_uring" "this kernel has no $param"
"$bpfused" --version | grep -qE 'libfuse 3\.(1[89]|[2-9][0-9])' ||
	skip_rest $plan "FUSE over io_uring" "libfuse older than 3.18"
old=$(cat "$param")
trap 'echo "$old" > "$param"; bf_cleanup' EXIT

transport() { $py -c 'import json, sys; print(json.load(sys.stdin)["transport"])' \
	< <("$ctl" stats -j "$work/mnt"); }
rings() { ps -L -o comm= -p "$pid" | grep -c '^fuse-ring-'; }
# misses N PREFIX: stat N names that do not exist, each once
misses() { $py -c 'import os, sys
for i in range(int(sys.argv[1])):
    try: os.stat(f"{sys.argv[2]}/{sys.argv[3]}{i}")
    except FileNotFoundError: pass' "$1" "$work/mnt" "$2"; }
counted() {
	local got
	snap a
	misses "$2" "$3"
	snap b
	got=$(delta lookup upcalls)
	check "$1: $2 misses, $got lookups counted" [ "$got" = "$2" ]
}
echo data > "$work/back/f"

# -- on: a local backend rides the ring ---------------------------------------
echo Y > "$param"
bf_start
check "default options: the log says io_uring" grep -q "requests travel over io_uring" "$work/log"
check "default options: bpfusectl stats says io_uring" [ "$(transport)" = io_uring ]
counted "default options over io_uring" 200 a
check "default options: served by the ring threads ($(rings))" [ "$(rings)" -ge 1 ]
check "default options: content through the ring" grep -qx data "$work/mnt/f"
bf_stop

bf_start -o no_io_uring
check "no_io_uring: /dev/fuse, as the log and stats say" \
	eval 'grep -q "requests travel over /dev/fuse" "$work/log" && [ "$(transport)" = /dev/fuse ]'
counted "no_io_uring" 200 b
check "no_io_uring: no ring threads" [ "$(rings)" = 0 ]
bf_stop

# -- a flock() wait ends on a signal, and holds nothing else up ---------------
# cache=never takes flock() to the daemon over /dev/fuse; over the ring,
# which relays no interrupt, the kernel keeps flock locks itself.
for o in cache=never cache=never,no_io_uring; do
	bf_start -o "$o"
	: > "$work/back/lock"
	exec {lockfd}> "$work/mnt/lock"
	flock -x "$lockfd"
	timeout -s KILL 20 flock -x "$work/mnt/lock" true &
	waiter=$!
	sleep 0.3
	check "$o ($(transport)): other requests go on while a flock() waits" \
		timeout 10 $py -c 'import os, sys
for i in range(50):
    os.stat(sys.argv[1] + "/f")
    try: os.stat(sys.argv[1] + "/nx%d" % i)
    except FileNotFoundError: pass' "$work/mnt"
	kill -INT "$waiter" 2> /dev/null
	# flock(1) dies of SIGINT; timeout's SIGKILL would say 137
	wait "$waiter"
	rc=$?
	check "$o: a signal ends the flock() wait (status $rc)" [ "$rc" -ne 137 ] && [ "$rc" -ne 0 ]
	exec {lockfd}>&-
	check "$o: the lock is free once released" timeout 10 flock -x -n "$work/mnt/lock" true
	bf_stop
done

# -- where requests may block, /dev/fuse ---------------------------------------
# backend_latency= stands for a network backend: 8 parallel misses in one
# directory, 300 ms each, take 2.4 s one after the other (in one ring's
# thread, or without PARALLEL_DIROPS), about 0.3 s on /dev/fuse's workers
# (bounded at 1.5 s: the point is that they overlap)
bf_start -o cache=never,backend_latency=300ms
check "backend_latency=: /dev/fuse by default" [ "$(transport)" = /dev/fuse ]
start=$(date +%s%N)
for i in $(seq 8); do stat "$work/mnt/slow$i" > /dev/null 2>&1 & done
wait_jobs() { local j; for j in $(jobs -p); do [ "$j" = "$pid" ] || wait "$j"; done; }
wait_jobs
ms=$((($(date +%s%N) - start) / 1000000))
check "backend_latency=300ms: 8 parallel misses overlap (${ms} ms < 1500)" [ "$ms" -lt 1500 ]
bf_stop

# a FUSE backend (bpfused over bpfused) is a network one to the upper daemon
mkdir "$work/upper"
"$bpfused" -f -o no_io_uring "$work/back" "$work/mnt" 2> "$work/lower.log" &
lower=$!
for _ in $(seq 100); do mountpoint -q "$work/mnt" && break; sleep 0.05; done
"$bpfused" -f "$work/mnt" "$work/upper" 2> "$work/upper.log" &
upper=$!
for _ in $(seq 100); do "$ctl" stats "$work/upper" > /dev/null 2>&1 && break; sleep 0.05; done
check "over a FUSE backend: /dev/fuse by default" \
	grep -q "requests travel over /dev/fuse" "$work/upper.log"
umount "$work/upper"; wait "$upper"
umount "$work/mnt"; wait "$lower"

# -- the switch off: /dev/fuse, and the log says how to turn it on ------------
echo N > "$param"
bf_start
check "switch off: the mount serves over /dev/fuse" \
	eval '[ "$(transport)" = /dev/fuse ] && grep -qx data "$work/mnt/f"'
check "switch off: one line says how to turn it on" \
	[ "$(grep -c "echo Y > $param" "$work/log")" = 1 ]
bf_stop
exit $((failed > 0))
