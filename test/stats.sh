#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Statistics and bpfusectl against real mounts: exact upcall and backend
# counts for scripted workloads, the JSON schema, interval reports, -z,
# invalidate, one-line errors, and recovery from a daemon killed with -9.
# Speaks TAP.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
top=$bf_top
schema=$top/docs/stats.schema.json

bf_setup stats
echo data > "$work/back/f"
setfattr -n trusted.tag -v v "$work/back/f"

# expect OP FIELD VALUE
expect() {
	local got
	got=$(delta "$1" "$2")
	check "$1 $2: $3 (got $got)" [ "$got" = "$3" ]
}
repeat() { $py -c "import os, sys
for _ in range($1): $2" "$work/mnt"; }

plan=45
echo "1..$plan"

# -- caching off: every stat of /f is one LOOKUP and two GETATTR upcalls:
# default_permissions wants fresh attributes of the root (search permission)
# and of f itself.
bf_start -o cache=never
snap a
repeat 200 'os.stat(sys.argv[1] + "/f")'
snap b
expect lookup upcalls 200
expect getattr upcalls 400
expect lookup backend_calls 200
expect getattr daemon_hits 0
check "stats JSON matches docs/stats.schema.json" $py -c 'import json, sys, jsonschema
jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))' \
	"$work/b.json" "$schema"
bf_stop

# -- the kprobe fallback (what Linux 6.1 offers): the same counts where this
# kernel has kprobes; where it has none, the mount works and the CLI says why
BPFUSE_UPCALL_PROBE=kprobe bf_start -o cache=never
snap a
repeat 200 'os.stat(sys.argv[1] + "/f")'
snap b
if [ -e /sys/bus/event_source/devices/kprobe ]; then
	expect lookup upcalls 200
	expect getattr upcalls 400
	check "kprobe fallback reported" grep -q '"upcall_probe":"kprobe"' "$work/b.json"
else
	echo "# this kernel has no kprobes: checking that their absence is reported"
	check "the mount works without statistics" cmp -s "$work/mnt/f" "$work/back/f"
	check "stats JSON says upcalls are not counted, and why" $py -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(not (d["upcalls_counted"] is False and d["upcall_probe"] is None and d["upcall_error"]))' \
		"$work/b.json"
	check "the table says so" bash -c "'$ctl' stats '$work/mnt' | grep -q 'upcalls are not counted'"
fi
bf_stop

# -- none: the statistics programs left out, as bench's ext-nostats measures
BPFUSE_UPCALL_PROBE=none bf_start
check "none: the mount works" cmp -s "$work/mnt/f" "$work/back/f"
check "none: the table says the programs were not loaded, and why" \
	bash -c "'$ctl' stats '$work/mnt' | grep -q 'were not loaded (BPFUSE_UPCALL_PROBE=none)'"
bf_stop

# -- kernel caches off, maps on: the maps answer all but the first ---------
bf_start -o entry_timeout=0,attr_timeout=0,negative_timeout=0,map_timeout=600
stat "$work/mnt" > /dev/null	# the root's attributes, cached before we count
snap a
repeat 200 'os.stat(sys.argv[1] + "/f")'
repeat 100 'os.path.exists(sys.argv[1] + "/missing")'
repeat 150 'os.getxattr(sys.argv[1] + "/f", "trusted.tag")'
snap b
# f once and missing once reach the backend. GETATTRs: 2 per stat of f (the
# root's search permission, then f), 1 per stat of missing (the root), 1 per
# getxattr (the root: trusted.* needs CAP_SYS_ADMIN, not f's mode bits).
# Stock mode sends every request up and the daemon answers from the maps;
# ext mode (the 6.1 guest) answers them in the kernel instead.
mode=$($py -c 'import json, sys; print(json.load(open(sys.argv[1]))["mode"])' "$work/b.json")
# requests OP N: N requests of OP, upcalls plus the extension's answers
requests() {
	local up hit
	up=$(delta "$1" upcalls) hit=$(delta "$1" kernel_hits)
	check "$1: $2 requests ($mode mode: $up upcalls, $hit kernel hits)" [ "$((up + hit))" = "$2" ]
}
requests lookup 450
expect lookup backend_calls 2
# the 100 missing names are answers, not errors
expect lookup errors 0
if [ "$mode" = ext ]; then expect lookup negatives 1; else expect lookup negatives 100; fi
maps_hits=$(($(delta lookup daemon_hits) + $(delta lookup kernel_hits)))
check "lookup: 448 answered from the maps (got $maps_hits)" [ "$maps_hits" = 448 ]
requests getattr 650
expect getattr backend_calls 0
requests getxattr 150
expect getxattr backend_calls 1
if [ "$mode" = ext ]; then
	# only what the backend had to answer went up
	got="$(delta lookup upcalls) $(delta getattr upcalls) $(delta getxattr upcalls)"
	check "ext mode: only backend misses reach the daemon (got $got)" [ "$got" = "2 0 1" ]
else
	got=$(($(delta lookup kernel_hits) + $(delta getattr kernel_hits) + $(delta getxattr kernel_hits)))
	check "stock mode: nothing answered in the kernel (got $got)" [ "$got" = 0 ]
fi
check "lookup hit rate reported" [ "$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["ops"]["lookup"]["hit_pct"] > 99)' "$work/b.json")" = True ]

# dump: by path, with a symbolic mode and the lifetime left
"$ctl" dump "$work/mnt" > "$work/dump.out"
check "dump shows f by path, its mode and lifetime" \
	grep -q '^/f ([0-9]*) -> -rw-r--r-- 1 .*s left$' "$work/dump.out"
check "dump shows the missing name as such" grep -q '^/missing -> 0, ' "$work/dump.out"

# invalidate drops the entry: the next stat goes to the backend once
"$ctl" invalidate "$work/mnt" f > "$work/inv.out"
snap a
repeat 3 'os.stat(sys.argv[1] + "/f")'
snap b
expect lookup backend_calls 1
check "invalidate counted as a user invalidation" grep -q '"user":[1-9]' "$work/b.json"

# interval reports: one JSON object per line, or one line each under a
# header; each covers its own interval only (the mount is idle meanwhile)
lines=$("$ctl" stats -j "$work/mnt" 1 2 | wc -l)
check "INTERVAL COUNT gives COUNT JSON reports ($lines)" [ "$lines" = 2 ]
"$ctl" stats "$work/mnt" 1 2 > "$work/lines.out"
check "INTERVAL COUNT gives a header and COUNT timestamped lines" awk '
	NR == 1 && $1 == "time" { h = 1 }
	NR > 1 && $1 ~ /^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]$/ { n++ }
	END { exit !(h && n == 2 && NR == 3) }' "$work/lines.out"
check "an interval line counts that interval only (idle: no upcall)" \
	awk 'NR == 2 { exit !($6 == 0) }' "$work/lines.out"
check "the one-shot report says what period it covers" \
	bash -c "'$ctl' stats '$work/mnt' | grep -q '^period: since the mount at '"

# -z: a reader's own baseline; everybody else still sees the totals
XDG_RUNTIME_DIR=$work "$ctl" stats -z -j "$work/mnt" > /dev/null
repeat 5 'os.stat(sys.argv[1] + "/f")'
XDG_RUNTIME_DIR=$work "$ctl" stats -z -j "$work/mnt" > "$work/z.json"
snap a
lookups() { $py -c 'import json, sys
o = json.load(open(sys.argv[1]))["ops"]["lookup"]
print(o["kernel_hits"] + o["upcalls"])' "$1"; }
got=$(lookups "$work/z.json")
check "-z reports since the reader's own last -z (5 lookups, got $got)" [ "$got" = 5 ]
got=$(lookups "$work/a.json")
check "-z leaves the mount's counters alone (got $got lookups)" [ "$got" -gt 450 ]

bf_stop

# -- a slow backend: once warm, the maps answer; the backend is not asked -----
# (no passthrough: in ext mode the opens of files never read would drop
# their attributes at each release, docs/ARCHITECTURE.md "Opens in ext mode")
bf_start -o entry_timeout=0,attr_timeout=0,negative_timeout=0,backend_latency=1ms,no_passthrough
"$top/bench/mdbench" create "$work/mnt" 4 50
"$top/bench/mdbench" run "$work/mnt" 1 > "$work/cold.txt"
snap a
"$top/bench/mdbench" run "$work/mnt" 1 > "$work/warm.txt"
snap b
# The previous pass's readdir may have moved the 4 directories' atime, so
# their attributes are fetched again, once each; nothing else is.
expect lookup backend_calls 4
expect getattr backend_calls 0
expect getxattr backend_calls 0
paste "$work/cold.txt" "$work/warm.txt" | awk 'NR > 1 {
	printf "# backend_latency=1ms, us per call: %-16s cold %9s warm %9s\n", $1, $3, $6 }'

# -- one-line errors ---------------------------------------------------------
one_line_failure() {	# WHAT CMD...: exit 1, one line mentioning WHAT
	local what=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	[ "$rc" = 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && [[ $out == *"$what"* ]]
}
check "not a bpfuse mount" one_line_failure "not a bpfuse mount" "$ctl" dump /proc
check "stats: not a FUSE mount" one_line_failure "not a FUSE mount" "$ctl" stats /proc
check "missing path" one_line_failure "No such file" "$ctl" stats /nonexistent/bpfuse
check "not root" one_line_failure "run as root" setpriv --reuid=65534 --regid=65534 \
	--clear-groups "$ctl" stats "$work/mnt"

bf_stop

# -- crash recovery ------------------------------------------------------------
# pins_of PID: the pin directories whose daemon was PID (other bpfuse mounts
# may exist on this machine, and mount ids are reused)
pins_of() {
	"$ctl" list -j | $py -c 'import json, sys
print(" ".join(str(m["mount_id"]) for m in json.load(sys.stdin) if m["daemon_pid"] == int(sys.argv[1])))' "$1"
}
bf_start
killed=$pid
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=
check "a killed daemon is reported gone" one_line_failure "gone" "$ctl" stats "$work/mnt"
check "list shows it gone" bash -c "'$ctl' list | awk '\$2 == $killed { exit !(\$4 == \"gone\") }'"
umount -l "$work/mnt"
"$ctl" prune > "$work/prune.out"
check "prune removes a dead mount's maps ($(cat "$work/prune.out"))" [ -z "$(pins_of "$killed")" ]
bf_start
check "list shows a live mount's memory" bash -c "'$ctl' list -j | $py -c 'import json, sys
sys.exit(not any(m[\"daemon_pid\"] == $pid and m[\"memory_bytes\"] > 0 for m in json.load(sys.stdin)))'"
killed=$pid
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=
umount -l "$work/mnt"
bf_start
check "restart mounts and serves" cmp -s "$work/mnt/f" "$work/back/f"
check "the dead daemon's pins were swept" [ -z "$(pins_of "$killed")" ]
restarted=$pid
bf_stop
check "a clean unmount leaves no pins" [ -z "$(pins_of "$restarted")" ]

[ "$n" = "$plan" ] || echo "Bail out! planned $plan checks, ran $n"
exit 0
