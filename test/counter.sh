#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bpfusectl on a FUSE mount no bpfuse daemon serves: libfuse's own
# passthrough_ll, unmodified (Debian's libfuse3-dev example). The first
# stats starts counting and says so; exact request counts for a scripted
# workload; list, intervals, histograms, the JSON schema; stop, and removal
# at unmount; one-line errors for what cannot be counted. Speaks TAP.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
schema=$bf_top/docs/stats.schema.json

bf_setup counter
echo data > "$work/back/f"

plan=24
echo "1..$plan"

# libfuse's example, as Debian ships it
ex=/usr/share/doc/libfuse3-dev/examples
for f in passthrough_ll.c passthrough_helpers.h; do
	if [ -r "$ex/$f" ]; then cp "$ex/$f" "$work/$f"; else gzip -dc "$ex/$f.gz" > "$work/$f"; fi
done
# shellcheck disable=SC2046
if ! gcc -O2 -o "$work/ptll" "$work/passthrough_ll.c" $(pkg-config --cflags --libs fuse3) \
	2> "$work/ptll.log"; then
	cat "$work/ptll.log" >&2
	echo "Bail out! failed to build libfuse's passthrough_ll"
	exit 1
fi

# ptll_start: passthrough_ll over $work/back, every answer uncached
ptll_start() {
	"$work/ptll" -f -o source="$work/back",cache=never "$work/mnt" 2> "$work/ptll.err" &
	pid=$!
	for _ in $(seq 100); do
		mountpoint -q "$work/mnt" && return 0
		sleep 0.05
	done
	cat "$work/ptll.err" >&2
	return 1
}
pin_of() { echo "/sys/fs/bpf/bpfuse/$(awk -v m="$1" '$5 == m {print $1}' /proc/self/mountinfo | tail -1)"; }
counter_pid() { "$ctl" list -j | $py -c 'import json, sys
for m in json.load(sys.stdin):
    if m["mountpoint"] == sys.argv[1]: print(m["daemon_pid"])' "$1"; }
field() { $py -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(d["ops"][sys.argv[2]][sys.argv[3]])' "$work/$1.json" "$2" "$3"; }

check "passthrough_ll mounts" ptll_start
pin=$(pin_of "$work/mnt")

# -- the first stats starts counting, and says so
"$ctl" stats "$work/mnt" > "$work/first.out" 2> "$work/first.err"
check "the first stats succeeds" [ $? = 0 ]
check "and says it started counting" grep -q "counting its requests from now on" "$work/first.err"
check "statistics pinned under the mount's id" test -d "$pin"
"$ctl" stats "$work/mnt" > /dev/null 2> "$work/second.err"
check "the second says nothing more" [ ! -s "$work/second.err" ]
cpid=$(counter_pid "$work/mnt")
listed() { "$ctl" list -j | $py -c 'import json, sys
m = [m for m in json.load(sys.stdin) if m["mountpoint"] == sys.argv[1]]
sys.exit(not (m and m[0]["mode"] == "count" and m[0]["alive"]))' "$1"; }
check "list shows the mount counted, its counter alive" listed "$work/mnt"

# -- exact counts: every open, read and missing name reaches passthrough_ll
"$ctl" stats -j "$work/mnt" > "$work/a.json"
for _ in $(seq 50); do cat "$work/mnt/f" > /dev/null; done
for _ in $(seq 20); do stat "$work/mnt/missing" > /dev/null 2>&1; done
"$ctl" stats -j "$work/mnt" > "$work/b.json"
check "open: 50 requests (got $(delta open upcalls))" [ "$(delta open upcalls)" = 50 ]
check "release: 50 requests (got $(delta release upcalls))" [ "$(delta release upcalls)" = 50 ]
check "lookup: 20 answered no-such (got $(delta lookup negatives))" \
	[ "$(delta lookup negatives)" = 20 ]
check "lookup: no errors (got $(delta lookup errors))" [ "$(delta lookup errors)" = 0 ]
check "latency measured" $py -c 'import json, sys
sys.exit(not json.load(open(sys.argv[1]))["ops"]["open"]["latency_avg_us"] > 0)' "$work/b.json"
check "no hits: nothing answers but the daemon" [ "$(field b lookup daemon_hits)" = 0 ]
check "stats JSON matches docs/stats.schema.json" $py -c 'import json, sys, jsonschema
jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))' \
	"$work/b.json" "$schema"
check "the table names the mode" grep -q "not served by bpfuse" <("$ctl" stats "$work/mnt")
check "--hist draws the latency" grep -q "usecs.*distribution" <("$ctl" stats --hist "$work/mnt")
check "intervals: a header and two lines" \
	[ "$("$ctl" stats "$work/mnt" 1 2 | grep -c .)" = 3 ]

# -- what has no caches says so
one_line_failure() {
	local what=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	[ "$rc" = 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && [[ $out == *"$what"* ]]
}
check "dump: no caches" one_line_failure "no caches" "$ctl" dump "$work/mnt"

# -- stop, then start again and unmount: both remove everything
quietly() { "$@" > /dev/null; }
check "stop" quietly "$ctl" stop "$work/mnt"
# (a counter that exited may linger briefly as a zombie of init's)
gone() {
	for _ in $(seq 100); do
		! test -d "$1" && ! grep -qs '^State:.*[RSD]' "/proc/$2/status" && return 0
		sleep 0.05
	done
	return 1
}
check "stop removed the pins and the counter" gone "$pin" "$cpid"
"$ctl" stats "$work/mnt" > /dev/null 2>&1
cpid=$(counter_pid "$work/mnt")
umount "$work/mnt"
wait "$pid"
check "unmount removes the pins and ends the counter" gone "$pin" "$cpid"

# -- what cannot be counted: one line, non-zero, nothing pinned
ptll_start > /dev/null
pin=$(pin_of "$work/mnt")
check "not root" one_line_failure "run as root" setpriv --reuid=65534 --regid=65534 \
	--clear-groups "$ctl" stats "$work/mnt"
# one of the two ways of counting is refused here (kprobes under lockdown,
# tracepoints before Linux 6.6): restricted to it, counting is impossible
refused=
for probe in tracepoint kprobe; do
	if ! BPFUSE_UPCALL_PROBE=$probe "$ctl" stats "$work/mnt" > /dev/null 2>&1; then
		refused=$probe
		break
	fi
	"$ctl" stop "$work/mnt" > /dev/null
done
if [ -n "$refused" ]; then
	check "no way to count ($refused only): one line" one_line_failure \
		"offers no way to count" env BPFUSE_UPCALL_PROBE=$refused "$ctl" stats "$work/mnt"
else
	skip "no way to count: one line" "this kernel allows both tracepoints and kprobes"
fi
check "nothing left pinned" [ ! -d "$pin" ]
umount "$work/mnt"
wait "$pid"

# -- a bpfused mount is the daemon's own: stop refuses it
bf_start
check "stop refuses a bpfused mount" one_line_failure "served by a bpfuse daemon" \
	"$ctl" stop "$work/mnt"
bf_stop

[ "$n" = "$plan" ] || echo "# ran $n checks, planned $plan"
exit $((failed > 0))
