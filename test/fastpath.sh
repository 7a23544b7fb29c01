#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Requests the kernel no longer sends, counted on real mounts: with the
# default options, warm open/read/close and warm directory listings reach
# the daemon not at all (zero-message opens, kept pages and listings, no
# FLUSH), while file content stays right (O_APPEND, O_TRUNC, mmap,
# open-then-unlink, more files than the daemon keeps fds for); with
# -o passthrough, reads and writes go to the backing file in the kernel and
# stat never shows a stale size. Bad options fail in one line, with nothing
# mounted. Speaks TAP.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

bf_setup fastpath
echo "1..30"

# upcalls OP: requests of OP that reached the daemon from snap a to snap b
upcalls() { delta "$1" upcalls; }
# at_most WHAT OP LIMIT
at_most() {
	local got
	got=$(upcalls "$2")
	check "$1: $2 upcalls $got <= $3" [ "$got" -le "$3" ]
}
# none_of WHAT OP...: each of OP reached the daemon 0 times
none_of() {
	local what=$1 op got all=
	shift
	for op; do
		got=$(upcalls "$op")
		all="$all $op=$got"
		[ "$got" = 0 ] || { not_ok "$what: no upcalls ($all ...)"; return; }
	done
	ok "$what: no upcalls ($all )"
}
rounds() { $py -c "import os, sys
m = sys.argv[1]
for _ in range($1): $2" "$work/mnt"; }

mkdir "$work/back/d"
for i in $(seq 100); do echo "file $i" > "$work/back/d/f$i"; done
head -c 1M /dev/urandom > "$work/back/data"

# -- default options: zero-message opens, kept pages and listings ----------
bf_start
# warm: read once (the daemon's read may move atime, which the kernel then
# asks for once more), list once
rounds 1 'open(m + "/data", "rb").read(); os.stat(m + "/data"); os.listdir(m + "/d"); os.stat(m + "/d")'
snap a
rounds 100 'open(m + "/data", "rb").read()'
rounds 100 'os.listdir(m + "/d")'
snap b
none_of "warm open/read/close and listings" open flush release read opendir readdir readdirplus releasedir getattr lookup
check "the data read through the mount is the backing file's" cmp -s "$work/mnt/data" "$work/back/data"

# content through the node's shared fds: append, truncate, overwrite, mmap
$py - "$work/mnt" <<'EOF' > "$work/py.log" 2>&1
import mmap, os, sys
m = sys.argv[1]
with open(m + "/a", "w") as f:
    f.write("one\n")
with open(m + "/a", "a") as f:           # O_APPEND: at the end, whatever the offset
    f.write("two\n")
fd = os.open(m + "/a", os.O_WRONLY | os.O_APPEND)
os.pwrite(fd, b"three\n", 0)             # pwrite on O_APPEND appends on Linux
os.close(fd)
assert open(m + "/a").read() == "one\ntwo\nthree\n", open(m + "/a").read()
with open(m + "/a", "w") as f:           # O_TRUNC
    f.write("x")
assert open(m + "/a").read() == "x"
with open(m + "/b", "wb") as f:
    f.write(b"\0" * 8192)
with open(m + "/b", "r+b") as f:
    mm = mmap.mmap(f.fileno(), 8192)
    mm[4096:4101] = b"hello"
    mm.flush()
    mm.close()
fd = os.open(m + "/gone", os.O_CREAT | os.O_RDWR, 0o600)
os.unlink(m + "/gone")
os.write(fd, b"still here")
os.lseek(fd, 0, 0)
assert os.read(fd, 100) == b"still here"
os.fsync(fd)
os.close(fd)
EOF
check "append, truncate, mmap and open-then-unlink through shared fds" bash -c "[ -s '$work/py.log' ] && cat '$work/py.log' >&2; [ ! -s '$work/py.log' ]"
check "append and truncate land in the backing file" [ "$(cat "$work/back/a")" = x ]
check "an mmap write lands in the backing file" \
	bash -c "[ \"\$(dd if='$work/back/b' bs=1 skip=4096 count=5 2>/dev/null)\" = hello ]"
# a read that reaches the daemon moves the backing atime (relatime): the
# kernel, which trusts its attributes for a day, must be told
echo old > "$work/back/aged"
touch -a -d '2 days ago' "$work/back/aged"
stat "$work/mnt/aged" > /dev/null
cat "$work/mnt/aged" > /dev/null
check "a read's new atime shows through the mount at once" \
	[ "$(stat -c %x "$work/mnt/aged")" = "$(stat -c %x "$work/back/aged")" ]
check "an O_EXCL create of an existing name fails" \
	$py -c "import os, sys
try:
    os.open(sys.argv[1] + '/a', os.O_CREAT | os.O_EXCL | os.O_WRONLY)
except FileExistsError:
    sys.exit(0)
sys.exit(1)" "$work/mnt"
bf_stop
check "the daemon's files and nodes are all given back at unmount" \
	grep -q "unmounted .*, 0 forget underflows" "$work/log"

# more files written than the daemon keeps fds for: the LRU closes and reopens
bf_start -o io_fds=16
$py - "$work/mnt" <<'EOF' > "$work/py.log" 2>&1
import sys
m = sys.argv[1]
for i in range(200):
    with open(m + "/many%d" % i, "w") as f:
        f.write("n%d" % i)
for i in range(200):
    assert open(m + "/many%d" % i).read() == "n%d" % i
EOF
check "200 files through 16 cached fds read back" [ ! -s "$work/py.log" ]
check "their content is in the backing files" $py -c 'import sys
sys.exit(any(open("%s/many%d" % (sys.argv[1], i)).read() != "n%d" % i for i in range(200)))' \
	"$work/back"
check "the daemon holds at most 32 backing fds for them" \
	bash -c "[ \$(ls /proc/$pid/fd | wc -l) -lt 64 ]"
bf_stop

# -- -o passthrough: data in the kernel, attributes never stale -------------
bf_start -o passthrough
if grep -q "passthrough" "$work/log"; then
	echo "# this kernel or build has no passthrough: $(grep passthrough "$work/log")"
fi
snap a
rounds 1 'open(m + "/data", "rb").read()'
$py - "$work/mnt" <<'EOF' > "$work/py.log" 2>&1
import os, sys
m = sys.argv[1]
with open(m + "/w", "wb") as f:
    for i in range(64):
        f.write(b"y" * 4096)
        f.flush()
        assert os.stat(m + "/w").st_size == 4096 * (i + 1), os.stat(m + "/w").st_size
EOF
snap b
if grep -q "passthrough" "$work/log"; then
	why=$(grep -o 'this kernel.*\|built with.*' "$work/log")
	skip "passthrough reads" "$why"
	skip "passthrough writes" "$why"
	skip "passthrough closes" "$why"
else
	at_most "passthrough reads" read 0
	at_most "passthrough writes" write 0
	at_most "passthrough closes" flush 0
fi
check "stat follows every passthrough write at once" [ ! -s "$work/py.log" ]
check "passthrough data matches the backing file" cmp -s "$work/mnt/data" "$work/back/data"
check "passthrough writes are in the backing file" [ "$(stat -c %s "$work/back/w")" = 262144 ]
same_mtime() { [ -n "$(stat -c %y "$2")" ] && [ "$(stat -c %y "$1")" = "$(stat -c %y "$2")" ]; }
check "mtime through the mount is the backing file's" same_mtime "$work/mnt/w" "$work/back/w"
bf_stop

# -- a backend that cannot start a listing at a later offset (sshfs): the
# listing goes on in the stream the last READDIR left, and is complete
sftp=/usr/lib/openssh/sftp-server
if command -v sshfs > /dev/null && [ -x "$sftp" ]; then
	mkdir "$work/sftp" "$work/back/big"
	for i in $(seq 400); do : > "$work/back/big/a-rather-long-file-name-to-fill-pages-$i"; done
	printf '#!/bin/sh\nexec %s\n' "$sftp" > "$work/fakessh"
	chmod +x "$work/fakessh"
	sshfs -o "ssh_command=$work/fakessh" "localhost:$work/back" "$work/sftp" 2> "$work/sshfs.log"
	"$bpfused" -f "$work/sftp" "$work/mnt" 2> "$work/log" &
	pid=$!
	for _ in $(seq 100); do mountpoint -q "$work/mnt" && break; sleep 0.05; done
	check "a 400-name listing over sshfs is complete" \
		[ "$(ls "$work/mnt/big" 2> /dev/null | wc -l)" = 400 ]
	check "sshfs survived the listing" mountpoint -q "$work/sftp"
	umount "$work/mnt"; wait "$pid"; pid=
	umount "$work/sftp"
else
	skip "a 400-name listing over sshfs" "no sshfs or $sftp"
	skip "sshfs survived the listing" "no sshfs or $sftp"
fi

# -- map sizes: the working set, evictions and memory shown -----------------
# cache FIELD: that field of the lookup cache's entry in snap b
cache() { $py -c 'import json, sys
print(json.load(open(sys.argv[1]))["caches"][sys.argv[2]][sys.argv[3]])' "$work/b.json" "$@"; }
# the sizes as bpfused --help gives them (maps/bpfuse_entries.h, daemon/opts.c):
# the xattr map's share and floor, and this machine's default
help=$("$bpfused" --help | tr -s ' \n' ' ')
xattr_div=$(sed -n 's|.* the xattr map N/\([0-9]*\) .*|\1|p' <<< "$help")
xattr_min=$(sed -n 's|.* the xattr map N/[0-9]* (at least \([0-9]*\)).*|\1|p' <<< "$help")
auto_entries=$(sed -n 's|.*; \([0-9]*\) on this machine.*|\1|p' <<< "$help")
xattr_2048=$(awk -v d="${xattr_div:-0}" -v m="${xattr_min:-0}" \
	'BEGIN { print d ? (2048 / d > m ? int(2048 / d) : m) : "unknown" }')
mkdir "$work/back/walk"
for i in $(seq 3000); do : > "$work/back/walk/$i"; done
bf_start -o map_entries=2048,entry_timeout=0,attr_timeout=0,negative_timeout=0
rounds 1 '[os.stat(m + "/walk/%d" % i) for i in range(1, 3001)]'
snap b
check "map_entries=2048: capacities 2048, 2048, $xattr_2048" \
	[ "$(cache lookup capacity) $(cache attr capacity) $(cache xattr capacity)" = \
	"2048 2048 $xattr_2048" ]
check "a 3000-name walk through 2048 entries shows evictions ($(cache lookup evictions))" \
	[ "$(cache lookup evictions)" -gt 0 ]
bf_stop
bf_start
snap b
check "default capacity $(cache lookup capacity), as --help says (${auto_entries:-nothing}), \
its memory shown ($(cache lookup memory_bytes) bytes)" \
	bash -c "[ '$(cache lookup capacity)' = '${auto_entries:-none}' ] &&
		[ $(cache lookup memory_bytes) -gt 0 ]"
bf_stop

# -- a backing file system with no xattrs at all (ramfs; sshfs is the same):
# the kernel is told once and answers EOPNOTSUPP itself, as on ramfs alone
umount "$work/back" && mount -t ramfs bpfuse-ramfs "$work/back"
echo x > "$work/back/f"
bf_start
snap a
for _ in $(seq 20); do getfattr -n user.k "$work/mnt/f" > /dev/null 2>&1; done
snap b
$py -c 'import os, sys
try:
    os.getxattr(sys.argv[1], "user.k")
except OSError as e:
    sys.exit(e.errno != 95)
sys.exit(1)' "$work/mnt/f"
check "no xattrs in the backing: EOPNOTSUPP through the mount, as on ramfs" [ $? = 0 ]
got=$(delta getxattr upcalls)
check "no xattrs in the backing: 20 getxattr, at most one reaches the daemon (got $got)" \
	[ "$got" -le 1 ]
bf_stop

# -- bad input: one line, exit 1, nothing mounted ---------------------------
for bad in io_fds=0 io_fds=abc io_fds=100000000 map_entries=5 passthrough,writeback; do
	"$bpfused" -f -o "$bad" "$work/back" "$work/mnt" > "$work/out" 2>&1
	rc=$?
	check "-o $bad: exit 1, one line, nothing mounted ($(head -c 100 "$work/out"))" \
		bash -c "[ $rc = 1 ] && [ \$(wc -l < '$work/out') = 1 ] && ! mountpoint -q '$work/mnt'"
done

[ "$n" = 30 ] || { echo "# ran $n checks, planned 30"; failed=$((failed + 1)); }
[ "$failed" = 0 ]
