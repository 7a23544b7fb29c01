#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# objfs (examples/objfs) over objstore.py with 2 ms of latency: a tree made
# on the store reads the same through the mount, changes made through the
# mount reach the store, changes made behind it show within the timeout,
# bad input fails in one line and mounts nothing, and unmounting ends the
# daemon. With libbpfuse's maps and every kernel timeout 0, a warm pass
# costs the store nothing and changes through the mount still show at once
# (stock mode on the host, ext mode in the guest). Speaks TAP.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
objfs=$bf_top/examples/objfs/objfs
objstore=$bf_top/examples/objfs/objstore.py

plan=34
echo "1..$plan"
skip_all() {
	for _ in $(seq $plan); do skip "objfs" "$1"; done
	exit 0
}
[ "$(id -u)" = 0 ] || skip_all "needs root (mount, umount)"
for need in /dev/fuse "$objfs" /usr/bin/getfattr /usr/bin/setfattr; do
	[ -e "$need" ] || skip_all "$need is missing"
done

# bf_cleanup lazily unmounts what is under $work and kills our jobs; a
# daemonized objfs is no job of ours, so it is killed by its pid here
bgpid=
cleanup() {
	[ -n "$bgpid" ] && kill "$bgpid" 2>/dev/null
	bf_cleanup
}
work=$(mktemp -d /tmp/bpfuse-objfs.XXXXXX)
trap cleanup EXIT
s=$work/store
m=$work/mnt
mkdir "$s" "$m" "$work/mnt2"

"$py" "$objstore" --root "$s" --latency 2 --port 0 --port-file "$work/port" &
for _ in $(seq 100); do
	[ -s "$work/port" ] && break
	sleep 0.05
done
url=http://127.0.0.1:$(cat "$work/port")

mounted() { awk -v m="$1" '$2 == m && $3 == "fuse.objfs" { f = 1 } END { exit !f }' /proc/mounts; }

# objfs -f ARGS URL $m; returns once the mount is there
dpid=
mount_objfs() {
	"$objfs" -f "$@" "$url" "$m" 2> "$work/objfs.log" &
	dpid=$!
	for _ in $(seq 200); do
		mounted "$m" && return 0
		kill -0 "$dpid" 2>/dev/null || break
		sleep 0.05
	done
	cat "$work/objfs.log" >&2
	return 1
}

# fails_with ERRNO EXPR PATH: the Python expression EXPR, on path p, raises
# OSError ERRNO
fails_with() {
	"$py" -c 'import errno, os, sys
p = sys.argv[3]
try:
    eval(sys.argv[2])
except OSError as e:
    print(f"# got {errno.errorcode.get(e.errno)}")
    sys.exit(e.errno != getattr(errno, sys.argv[1]))
print("# no error")
sys.exit(1)' "$@"
}

# one_line_failure CMD...: non-zero exit, exactly one line on stderr, nothing on stdout
one_line_failure() {
	local rc
	"$@" > "$work/out" 2> "$work/err"
	rc=$?
	echo "# exit $rc: $(head -c 200 "$work/err")"
	[ "$rc" != 0 ] && [ "$(wc -l < "$work/err")" = 1 ] && [ ! -s "$work/out" ]
}

# -- a tree made on the store -------------------------------------------------
mkdir -p "$s/tree/sub/deeper" "$s/tree/empty"
echo one > "$s/tree/a.txt"
printf 'two\nlines\n' > "$s/tree/sub/b.txt"
head -c 1000000 /dev/urandom > "$s/tree/sub/deeper/big.bin"
: > "$s/tree/zero"
echo quoted > "$s/tree/name with space+plus%&?.txt"
chmod 600 "$s/tree/a.txt"
chmod 750 "$s/tree/sub"
# the store keeps user.* xattrs where its file system does (tmpfs: Linux 6.6 on)
if setfattr -n user.color -v blue "$s/tree/a.txt" 2> /dev/null; then
	setfattr -n user.raw -v 0x00ff10 "$s/tree/a.txt"
	xcheck() { check "$@"; }
else
	xcheck() { skip "$1" "the store's file system has no user xattrs"; }
fi

if ! mount_objfs -o timeout=1; then
	echo "Bail out! objfs did not mount"
	exit 1
fi

listing() { (cd "$1" && find . -printf '%p %y %s %m\n' | sort); }
check "the store's tree lists the same through the mount (names, types, sizes, modes)" \
	diff <(listing "$s/tree") <(listing "$m/tree")
same_bytes() {
	local f
	for f in a.txt sub/b.txt sub/deeper/big.bin zero "name with space+plus%&?.txt"; do
		cmp "$s/tree/$f" "$m/tree/$f" || return 1
	done
}
check "every file reads back byte for byte (1 MB in ranged reads)" same_bytes
parallel_reads() {
	local pids=() p rc=0
	for _ in 1 2 3 4; do
		cmp -s "$s/tree/sub/deeper/big.bin" "$m/tree/sub/deeper/big.bin" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	return $rc
}
check "four parallel readers, one connection each, read the right bytes" parallel_reads
check "stat of a directory and of a file give their types" \
	bash -c "[ -d '$m/tree/empty' ] && [ -f '$m/tree/zero' ] && [ ! -s '$m/tree/zero' ]"

# -- changes through the mount --------------------------------------------------
head -c 300000 /dev/urandom > "$work/w.bin"
cp "$work/w.bin" "$m/tree/w.bin"
check "a file created and written through the mount is on the store at close" \
	cmp "$work/w.bin" "$s/tree/w.bin"
check "... and reads back through the mount" cmp "$work/w.bin" "$m/tree/w.bin"
echo tail >> "$m/tree/a.txt"
check "append: open for write loads the object, close uploads it" \
	cmp <(printf 'one\ntail\n') "$s/tree/a.txt"
xcheck "appending kept the object's user.* xattrs" \
	[ "$(getfattr --absolute-names --only-values -n user.color "$s/tree/a.txt")" = blue ]
printf XY | dd of="$m/tree/sub/b.txt" bs=1 seek=1 conv=notrunc status=none
check "overwrite in place without truncation" cmp <(printf 'tXY\nlines\n') "$s/tree/sub/b.txt"
echo short > "$m/tree/w.bin"
check "open(O_TRUNC) replaces the whole object" cmp <(echo short) "$s/tree/w.bin"
truncate -s 2 "$m/tree/sub/b.txt" && truncate -s 5 "$m/tree/sub/b.txt"
check "truncate shrinks, then grows with zeros" cmp <(printf 'tX\0\0\0') "$s/tree/sub/b.txt"
check "a reader sees an open writer's bytes before close, the store after" "$py" -c '
import os, sys
m, s = sys.argv[1], sys.argv[2]
w = os.open(m, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(w, b"pending")
r = os.open(m, os.O_RDONLY)
early = os.read(r, 100)
stored = open(s, "rb").read()
os.close(r)
os.close(w)
sys.exit(not (early == b"pending" and stored == b"" and open(s, "rb").read() == b"pending"))
' "$m/tree/pending" "$s/tree/pending"
mkdir "$m/tree/newdir"
check "mkdir through the mount makes a directory on the store" [ -d "$s/tree/newdir" ]
rmdir "$m/tree/newdir"
check "rmdir through the mount removes it" [ ! -e "$s/tree/newdir" ]
check "rmdir of a directory with entries: ENOTEMPTY" fails_with ENOTEMPTY 'os.rmdir(p)' "$m/tree/sub"
rm "$m/tree/zero"
check "unlink removes the object; its name is then ENOENT" \
	bash -c "[ ! -e '$s/tree/zero' ] && [ ! -e '$m/tree/zero' ]"
mv "$m/tree/w.bin" "$m/tree/sub/renamed"
check "rename a file across directories" \
	bash -c "[ ! -e '$s/tree/w.bin' ] && cmp -s <(echo short) '$s/tree/sub/renamed' &&
		cmp -s <(echo short) '$m/tree/sub/renamed'"
mv "$m/tree/sub" "$m/tree/moved"
check "rename a directory: the nodes below it follow" \
	bash -c "[ ! -e '$s/tree/sub' ] && cmp -s '$s/tree/moved/deeper/big.bin' '$m/tree/moved/deeper/big.bin'"

# -- xattrs, errors -------------------------------------------------------------
xcheck "user.* xattrs read with getfattr" \
	bash -c "[ \"\$(getfattr --absolute-names --only-values -n user.color '$m/tree/a.txt')\" = blue ] &&
		getfattr --absolute-names -e hex -n user.raw '$m/tree/a.txt' | grep -qx 'user.raw=0x00ff10'"
xcheck "listxattr lists them" \
	bash -c "[ \"\$(getfattr --absolute-names -d -m '^user\.' '$m/tree/a.txt' | grep -c '^user\.')\" = 2 ]"
check "a missing name is ENOENT, a missing xattr ENODATA" \
	bash -c "$(declare -f fails_with); py=$py
		fails_with ENOENT 'os.stat(p)' '$m/tree/missing' &&
		fails_with ENODATA 'os.getxattr(p, \"user.nope\")' '$m/tree/a.txt'"
check "chmod is EPERM and setxattr ENOTSUP: nothing is dropped silently" \
	bash -c "$(declare -f fails_with); py=$py
		fails_with EPERM 'os.chmod(p, 0o644)' '$m/tree/a.txt' &&
		fails_with ENOTSUP 'os.setxattr(p, \"user.x\", b\"1\")' '$m/tree/a.txt'"

# -- changes behind the mount: visible within timeout=1 --------------------------
cat "$m/tree/a.txt" > /dev/null
stat "$m/tree/later" > /dev/null 2>&1	# a missing name, now cached as missing
printf 'changed behind the mount\n' > "$s/tree/a.txt"
echo later > "$s/tree/later"
sleep 1.5
check "a change and a new object made on the store show within the timeout" \
	bash -c "cmp -s '$s/tree/a.txt' '$m/tree/a.txt' && cmp -s <(echo later) '$m/tree/later'"

# -- unmount ---------------------------------------------------------------------
umount "$m"
wait "$dpid"
rc=$?
check "unmount: the daemon exits 0 (got $rc)" [ "$rc" = 0 ]

# -- libbpfuse's caches -------------------------------------------------------
# Every kernel timeout 0, so each stat reaches the daemon (stock mode) or
# the extension (ext mode); the maps keep answers 30 s. Warm, the store
# hears nothing; changes made through the mount show at once all the same.
ctl=$bf_top/bpfusectl
store_requests() { "$py" -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1] + "/requests/").read().decode().strip())' "$url"; }
sum() { # sum FIELD OP...: FIELD of the ops, summed over snap b less snap a
	local f=$1 t=0 d
	shift
	for op in "$@"; do d=$(delta "$op" "$f"); t=$((t + d)); done
	echo "$t"
}
warm() { "$py" -c 'import os, sys
for _ in range(200):
    os.stat(sys.argv[1] + "/c/f")
    try:
        os.getxattr(sys.argv[1] + "/c/f", "user.color")
    except OSError:
        pass  # ENODATA where the store keeps no xattrs: an answer all the same
    try:
        os.stat(sys.argv[1] + "/c/none")
    except FileNotFoundError:
        pass' "$m"; }
mkdir "$s/c"
echo cached > "$s/c/f"
setfattr -n user.color -v blue "$s/c/f" 2> /dev/null
# objfs, unlike bpfused, leaves mounting the BPF file system to its user
mountpoint -q /sys/fs/bpf || mount -t bpf -o mode=0700 bpf /sys/fs/bpf
mount_objfs -o timeout=0,cache_timeout=30
# the maps are pinned just after the mount appears and read stock until the
# extension attaches; objfs says the mode once it is final
for _ in $(seq 600); do
	grep -q 'objfs: \(ext\|stock\) mode' "$work/objfs.log" && break
	sleep 0.05
done
mode=$("$ctl" stats -j "$m" | "$py" -c 'import json, sys; print(json.load(sys.stdin)["mode"])')
check "bpfusectl stats reads objfs's maps (mode $mode), the mode objfs says" \
	grep -q "objfs: $mode mode" "$work/objfs.log"
warm
snap a
before=$(store_requests)
warm
snap b
after=$(store_requests)
echo "# warm: lookup/getattr/getxattr upcalls $(sum upcalls lookup getattr getxattr)," \
	"daemon hits $(sum daemon_hits lookup getattr getxattr)," \
	"kernel hits $(sum kernel_hits lookup getattr getxattr); store requests $((after - before))"
check "warm: the store hears nothing" [ "$((after - before))" = 0 ]
check "warm: nothing answered by the backend" \
	[ "$(( $(sum upcalls lookup getattr getxattr) - $(sum daemon_hits lookup getattr getxattr) ))" = 0 ]
if [ "$mode" = ext ]; then
	check "ext mode: the kernel answers them all (no upcall)" \
		[ "$(sum upcalls lookup getattr getxattr)" = 0 ]
else
	check "stock mode: the daemon answers them from its maps" \
		[ "$(sum daemon_hits lookup getattr getxattr)" -ge 1000 ]
fi
check "changes through the mount show at once, whatever the maps hold" "$py" -c '
import errno, os, sys
m = sys.argv[1]
with open(m + "/c/f", "w") as f:
    f.write("a longer content than before\n")
assert os.stat(m + "/c/f").st_size == 29, "write"
os.truncate(m + "/c/f", 3)
assert os.stat(m + "/c/f").st_size == 3, "truncate"
open(m + "/c/none", "w").close()
assert os.path.exists(m + "/c/none"), "create over a cached missing name"
os.rename(m + "/c/none", m + "/c/some")
assert not os.path.exists(m + "/c/none") and os.path.exists(m + "/c/some"), "rename"
os.unlink(m + "/c/some")
assert not os.path.exists(m + "/c/some"), "unlink"
os.mkdir(m + "/c/none")
assert os.path.isdir(m + "/c/none"), "mkdir"
os.rmdir(m + "/c/none")
' "$m"
umount "$m"
wait "$dpid"
rc=$?
check "unmount exits 0, and no node was forgotten more than looked up" \
	bash -c "[ $rc = 0 ] && ! grep -q 'forgotten more' '$work/objfs.log'"

# -- bad input -------------------------------------------------------------------
check "bad URL: one line on stderr, non-zero exit, no mount" \
	bash -c "$(declare -f one_line_failure mounted); work=$work
		one_line_failure '$objfs' -f ftp://127.0.0.1 '$work/mnt2' && ! mounted '$work/mnt2'"
closed=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
check "unreachable store (daemon mode): one line, non-zero exit, no mount" \
	bash -c "$(declare -f one_line_failure mounted); work=$work
		one_line_failure '$objfs' http://127.0.0.1:$closed '$work/mnt2' && ! mounted '$work/mnt2'"
check "missing mount point: one line, non-zero exit" \
	bash -c "$(declare -f one_line_failure); work=$work
		one_line_failure '$objfs' '$url' '$work/nonexistent'"

# daemon mode, a URL with a /prefix: serves that directory once the command
# returns, and goes away at unmount
"$objfs" -o timeout=1 "$url/tree/" "$work/mnt2" 2> "$work/daemon.log"
bgpid=$(pgrep -f -- "^$objfs .*$work/mnt2\$")
cmp -s "$s/tree/a.txt" "$work/mnt2/a.txt" && [ -d "$work/mnt2/moved/deeper" ]
served=$?
umount "$work/mnt2"
for _ in $(seq 100); do
	pgrep -f -- "^$objfs .*$work/" > /dev/null || break
	sleep 0.05
done
check "daemon mode serves URL/prefix, and after unmount no objfs process remains" \
	bash -c "[ $served = 0 ] && [ -n '$bgpid' ] && ! pgrep -f -- '^$objfs .*$work/' > /dev/null"
bgpid=

[ "$n" = "$plan" ] || echo "Bail out! planned $plan checks, ran $n"
exit 0
