#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bpfusectl against a hostile mount path: every -j output (list, stats,
# stats --hist, interval reports, -z) parses and gives the path back
# exactly; tables and messages print it \ooo-escaped, one line per entry.
# And bpfusectl's subcommand table against its man page. Speaks TAP.
#
# The mountpoint holds a double quote, a backslash, a newline, a tab, \x01,
# DEL, spaces, a literal "\040" (what mountinfo writes for a space) and
# UTF-8. The kernel takes any byte in a name but '/' and NUL, and libfuse
# passes the path to mount(2) as it is; /proc/self/mountinfo writes space,
# tab, newline and backslash as \ooo, which the library decodes. Only NUL
# is left out: no path can hold it. Bytes that are not UTF-8 are checked
# through a symlink to the mount: json.h writes them as \u00XX (lossy, so
# they cannot round-trip exactly), and the unit test test/test_json.c
# covers every byte value.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
man=$bf_top/man/bpfusectl.8

# The names --help gives, which come from the table cmds[]; the usage
# lines are "usage: bpfusectl NAME ..." and "       bpfusectl NAME ...".
cmds=$("$ctl" --help | awk '/^$/ { exit } { i = $1 == "usage:" ? 2 : 1 }
	$i == "bpfusectl" && $(i + 1) !~ /^-/ { print $(i + 1) }')
ncmds=$(echo $cmds | wc -w)
plan=$((ncmds + 16))
echo "1..$plan"

# -- one table: --help, dispatch and the man page ----------------------------
for c in $cmds; do
	check "$c: dispatched, with a synopsis line and a section in bpfusectl.8" bash -c '
		! "$1" "$2" --no-such-option 2>&1 | grep -q "unknown command" &&
		grep -qx ".B bpfusectl $2" "$3" && grep -qx ".SS $2" "$3"' _ "$ctl" "$c" "$man"
done
sections=$(sed -n 's/^\.SS //p' "$man" | sort)
check "bpfusectl.8 documents no command --help lacks ($(echo $sections))" \
	[ "$sections" = "$(printf '%s\n' $cmds | sort)" ]

# -- a mount at a hostile path -------------------------------------------------
bf_setup ctl_json
hostile=$work/$'m "q\\b\nn\tt\x01x\x7f caf\xc3\xa9 \\040'
name=$'f "q\\b\nn\tt\x01x\x7f'
link=$work/$'link\xff\xe2\x82'
mkdir "$hostile"
ln -s "$hostile" "$link"
echo data > "$work/back/$name"
# bf_cleanup finds mounts by their escaped /proc/mounts names, which umount
# does not take: this one goes first, by its own name
trap 'umount -l "$hostile" 2>/dev/null; bf_cleanup' EXIT

"$bpfused" -f "$work/back" "$hostile" 2> "$work/log" &
pid=$!
for _ in $(seq 200); do
	"$ctl" stats "$hostile" > /dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
mounted() { "$ctl" stats "$hostile" > /dev/null; }
if ! check "bpfused mounts at a path with \" \\ newline tab \\x01 DEL" mounted; then
	cat "$work/log" >&2
	echo "Bail out! no mount at the hostile path"
	exit 1
fi
stat "$hostile/$name" > /dev/null	# its name and attributes in the maps

# json KIND FILE MOUNTPOINT: FILE is JSON documents, one per line, and
# MOUNTPOINT comes back from each as json.h promises: exactly, but for bytes
# that are not UTF-8, which read as Latin-1 (\u00XX). KIND stats: each is
# a report of MOUNTPOINT; list: a list in which our daemon's mount is it.
json() {
	$py -c 'import json, os, sys
kind, path, pid = sys.argv[1], sys.argv[3], int(sys.argv[4])
want = "".join(chr(ord(c) - 0xdc00) if 0xdc80 <= ord(c) <= 0xdcff else c
	       for c in os.fsencode(path).decode("utf-8", "surrogateescape"))
lines = open(sys.argv[2], "rb").read().split(b"\n")
if len(lines) < 2 or lines[-1]:
	sys.exit("not whole lines")
for line in lines[:-1]:
	d = json.loads(line)
	if kind == "list":
		d = [m for m in d if m["daemon_pid"] == pid][0]
	if d["mountpoint"] != want:
		sys.exit("%r is not %r" % (d["mountpoint"], want))' "$1" "$2" "$3" "$pid"
}

"$ctl" list -j > "$work/list.json"
check "list -j parses and gives the path back" json list "$work/list.json" "$hostile"
"$ctl" stats -j "$hostile" > "$work/stats.json"
check "stats -j parses and gives the path back" json stats "$work/stats.json" "$hostile"
"$ctl" stats -j --hist "$hostile" > "$work/hist.json"
check "stats -j --hist parses and gives the path back" json stats "$work/hist.json" "$hostile"
"$ctl" stats -j "$hostile" 1 2 > "$work/lines.json"
two() { [ "$(wc -l < "$work/lines.json")" = 2 ] && json stats "$work/lines.json" "$hostile"; }
check "stats -j 1 2: two reports, each parses and gives the path back" two
XDG_RUNTIME_DIR=$work "$ctl" stats -z -j "$hostile" > /dev/null
XDG_RUNTIME_DIR=$work "$ctl" stats -z -j "$hostile" > "$work/z.json"
check "stats -z -j parses and gives the path back" json stats "$work/z.json" "$hostile"
"$ctl" stats -j "$link" > "$work/link.json"
check "stats -j of a path that is not UTF-8 parses: such bytes as \\u00XX" \
	json stats "$work/link.json" "$link"

# -- tables and messages: \ooo, one line per entry ------------------------------
# esc S: S as bpfusectl's tables print it
esc() { $py -c 'import os, sys
sys.stdout.buffer.write(b"".join(b"\\%03o" % c if c < 0x20 or c == 0x7f or c == 0x5c
				  else bytes([c]) for c in os.fsencode(sys.argv[1])))' "$1"; }
ehostile=$(esc "$hostile")
ename=$(esc "$name")
"$ctl" list > "$work/list.out"
check "list: one line per mount, ours ends in the path \\ooo-escaped" $py -c 'import json, os, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
ours = [l for l in lines[1:-1] if l.split()[1] == sys.argv[3].encode()]
sys.exit(not (len(lines) - 2 == len(json.load(open(sys.argv[2]))) and len(ours) == 1 and
	      ours[0].endswith(b" " + os.fsencode(sys.argv[4]))))' \
	"$work/list.out" "$work/list.json" "$pid" "$ehostile"
"$ctl" stats "$hostile" > "$work/stats.out"
check "stats: the first line names the path \\ooo-escaped" \
	bash -c '[[ $(head -n 1 "$1") == "$2: mount "* ]]' _ "$work/stats.out" "$ehostile"
"$ctl" dump "$hostile" > "$work/dump.out"
check "dump: the file's name and attributes, escaped, and no line forged" bash -c '
	grep -qF -- "/$2 -> " "$1" && grep -qF -- "/$2 (" "$1" && ! grep -qv "^[/#]" "$1"' \
	_ "$work/dump.out" "$ename"
check "invalidate: one line, the name escaped" bash -c '
	out=$("$1" invalidate "$2" "$3") && [[ $out == "$4: "[1-9]" entries invalidated" ]]' \
	_ "$ctl" "$hostile" "$name" "$ename"
mkdir "$work/back/d"
check "an error about a hostile path: one line, escaped" bash -c '
	out=$("$1" stats "$2" 2>&1); [ $? = 1 ] &&
	[ "$out" = "bpfusectl: $3 is not a mount point" ]' \
	_ "$ctl" "$hostile/d" "$ehostile/d"
unmount() { umount "$hostile" && wait "$pid"; }
check "the daemon stops at the unmount" unmount
"$ctl" list -j > "$work/gone.json"
check "list -j parses without it" $py -c 'import json, sys; json.load(open(sys.argv[1]))' \
	"$work/gone.json"
check "the unmount left no pins" $py -c 'import json, sys
sys.exit(any(m["daemon_pid"] == int(sys.argv[2]) for m in json.load(open(sys.argv[1]))))' \
	"$work/gone.json" "$pid"

[ "$n" = "$plan" ] || echo "Bail out! planned $plan checks, ran $n"
exit 0
