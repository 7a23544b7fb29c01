# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the shell tests and the benchmarks: a work directory with a
# tmpfs to serve, bpfused started and stopped on it, TAP lines, and
# statistics snapshots. Whatever happens, the exit trap (bf_cleanup)
# unmounts everything under the work directory, kills every background job
# of the shell (daemons, an sshd) and removes the directory.
#
#   bf_setup NAME        $work, a tmpfs at $work/back, an empty $work/mnt
#   bf_start ARGS...     bpfused -f ARGS $work/back $work/mnt, log in $work/log;
#                        returns once the mount serves and its maps are pinned
#   bf_stop              unmount, wait for the daemon (its log is complete)
#   bf_watch_idle        wait until the daemon's watcher has handled every
#                        change made behind the mount so far
#   check WHAT CMD...    "ok N - WHAT" if CMD succeeds, else "not ok N - WHAT"
#   skip WHAT WHY        "ok N - WHAT # SKIP WHY": not run here, and why
#   skip_rest PLAN WHAT WHY  the same for every check left, then exit 0
#   snap NAME            bpfusectl stats -j into $work/NAME.json
#   delta OP FIELD       how much FIELD of OP grew from snap a to snap b

bf_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bpfused=${BPFUSED:-$bf_top/bpfused}
ctl=$bf_top/bpfusectl
py=/usr/bin/python3	# Debian's, with python3-jsonschema
work=
pid=
n=0
failed=0

bf_cleanup() {
	local m
	[ -n "$work" ] || return
	# deepest first: the FUSE mount before the tmpfs it serves
	for m in $(awk -v w="$work/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	for m in $(jobs -p); do
		kill -9 "$m" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$work"
}

bf_setup() {
	work=$(mktemp -d "/tmp/bpfuse-$1.XXXXXX")
	chmod 755 "$work"
	trap bf_cleanup EXIT
	mkdir -p "$work/back" "$work/mnt"
	mount -t tmpfs "bpfuse-$1" "$work/back"
}

bf_start() {
	"$bpfused" -f "$@" "$work/back" "$work/mnt" 2> "$work/log" &
	pid=$!
	# in the foreground, the maps are pinned just after the mount appears
	for _ in $(seq 200); do
		"$ctl" stats "$work/mnt" > /dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$work/log" >&2
	return 1
}

bf_stop() {
	umount "$work/mnt" && wait "$pid"
	pid=
}

# The watcher thread's wait channel and context switches, then its
# notifiers' ("idle" for one waiting for work, "busy" for one sending).
bf_watch_state() {
	local t comm found=1
	for t in /proc/"$pid"/task/*; do
		comm=$(cat "$t/comm" 2> /dev/null)
		case $comm in
		bpfused-watch)
			echo "$(cat "$t/wchan")" "$(awk '/ctxt_switches/ { print $2 }' "$t/status")"
			found=0
			;;
		bpfused-notify)
			case $(cat "$t/wchan") in
			*futex*) echo idle "$(awk '/ctxt_switches/ { print $2 }' "$t/status")" ;;
			*) echo busy ;;
			esac
			;;
		esac
	done
	return $found
}

# A change's fanotify event is queued, and the watcher woken, before the
# change's system call returns. So a watcher found asleep in poll() and not
# woken for 100 ms (longer than it hushes a file's writes, BF_HUSH_MS) has
# read every event queued before and done with it, hushed writes included;
# and once its notifiers wait for work too, every notification is sent.
bf_watch_idle() {
	local a b
	for _ in $(seq 100); do
		a=$(bf_watch_state) || break
		sleep 0.1
		b=$(bf_watch_state) || break
		[[ $a = *poll* && $a != *busy* && $a = "$b" ]] && return 0
	done
	echo "# bf_watch_idle: bpfused's watcher (${a:-no such thread}) did not settle" >&2
	return 1
}

ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# skip_rest PLAN WHAT WHY: every check left of PLAN skipped, and exit
skip_rest() { while [ "$n" -lt "$1" ]; do skip "$2" "$3"; done; exit 0; }

snap() { "$ctl" stats -j "$work/mnt" > "$work/$1.json"; }
delta() {
	$py -c 'import json, sys
a = json.load(open(sys.argv[1]))["ops"][sys.argv[3]][sys.argv[4]]
b = json.load(open(sys.argv[2]))["ops"][sys.argv[3]][sys.argv[4]]
print(b - a)' "$work/a.json" "$work/b.json" "$1" "$2"
}
