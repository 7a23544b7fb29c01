#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What an operator meets: make install and uninstall (with DESTDIR), what
# they put where, the library as another daemon would use it (pkg-config,
# header, link), the man pages, mount -t fuse.bpfused from a private fstab
# after a real install, and the daemon's log in syslog once it is in the
# background. The last two run in private mount namespaces (a scratch
# /usr/local; a scratch /dev with its own /dev/log), so the machine's own
# are never touched. Speaks TAP.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
top=$bf_top

bf_setup operator
dest=$work/dest
plan=18
echo "1..$plan"

make -s -C "$top" install DESTDIR="$dest" > "$work/install.log" 2>&1
check "make install DESTDIR= succeeds" [ $? = 0 ]
prefix=$dest/usr/local
want="sbin/bpfused sbin/bpfusectl share/man/man8/bpfused.8 share/man/man8/bpfusectl.8
include/bpfuse.h include/bpfuse_entries.h include/bpfuse_rules.h lib/libbpfuse.so
lib/libbpfuse.so.0 lib/libbpfuse.a lib/pkgconfig/bpfuse.pc
share/doc/bpfuse/examples/mnt-data.mount"
missing=
for f in $want; do [ -e "$prefix/$f" ] || missing="$missing $f"; done
check "it installs binaries, man pages, header, library, pkg-config file, example unit${missing:+ (missing:$missing)}" [ -z "$missing" ]
echo "# installed: $(cd "$prefix" && find . -type f | sort | tr '\n' ' ')"

for page in bpfused bpfusectl; do
	check "man page $page(8) renders without warnings" bash -c \
		"groff -man -ww -z '$prefix/share/man/man8/$page.8' 2>&1 | (! grep -q .)"
done
check "bpfused(8) documents every bpfused option --help lists" bash -c "
	'$prefix/sbin/bpfused' --help | sed -n '/^bpfused options:/,/^\$/p' |
	grep -o -- '-o [a-z_]*' | sort -u | while read -r _ o; do
		grep -q -- \"\$o\" '$prefix/share/man/man8/bpfused.8' || { echo \"# missing: \$o\"; exit 1; }
	done"
# The numbers of map_entries= live in maps/bpfuse_entries.h and
# daemon/opts.c; --help prints them, and the man page must state the same
# (all but the default --help computed for this machine)
man_map_entries() {
	local man v
	man=$(sed -n '/map_entries=/,/^\.TP/p' "$prefix/share/man/man8/bpfused.8")
	for v in $("$prefix/sbin/bpfused" --help | tr -s ' \n' ' ' |
		sed -n 's/.*-o map_entries=N \(.*\); [0-9]* on this machine.*/\1/p' |
		grep -o '[0-9][0-9]*'); do
		grep -qE "(^|[^0-9])$v([^0-9]|\$)" <<< "$man" ||
			{ echo "# bpfused(8) lacks $v for map_entries="; return 1; }
	done
	[ -n "$v" ]
}
check "bpfused(8) states the numbers --help prints for map_entries=" man_map_entries

# another daemon's build: the installed header and library through pkg-config
cat > "$work/user.c" <<'EOF'
#include <bpfuse.h>
#include <errno.h>
#include <stdio.h>

int main(void)
{
	struct bpfuse_entry e = { .node = bpfuse_node_create(NULL, 1) };
	struct bpfuse_miss m;

	/* no maps (NULL): every call misses and does nothing */
	printf("%d\n", bpfuse_mount_sweep() >= 0 && e.node == BPFUSE_NODE_NONE &&
			       bpfuse_entry_find(NULL, 1, "x", &e, NULL, &m) == -ENOENT);
	return 0;
}
EOF
pc="env PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --define-variable=prefix=$prefix"
needs_so() { readelf -d "$1" | grep -q 'NEEDED.*\[libbpfuse\.so\.0\]'; }
cc -Werror=implicit-function-declaration -o "$work/user" "$work/user.c" $($pc --cflags --libs bpfuse) 2> "$work/cc.log"
check "a program builds against the installed library with pkg-config, links libbpfuse.so.0 and runs" \
	bash -c "$(declare -f needs_so); needs_so '$work/user' &&
		[ \"\$(LD_LIBRARY_PATH='$prefix/lib' '$work/user' 2>/dev/null)\" = 1 ]"
# the archive: named before pkg-config's flags, it defines every call, so
# that --as-needed leaves out the shared library the -lbpfuse there names
cc -Werror=implicit-function-declaration -o "$work/user-static" "$work/user.c" $($pc --cflags bpfuse) -Wl,--as-needed \
	"$prefix/lib/libbpfuse.a" $($pc --static --libs bpfuse) 2>> "$work/cc.log"
check "and statically, with the archive and pkg-config --static: no libbpfuse.so needed" \
	bash -c "$(declare -f needs_so); ! needs_so '$work/user-static' &&
		[ \"\$('$work/user-static' 2>/dev/null)\" = 1 ]"
sed 's/^/# cc: /' "$work/cc.log"
check "the installed headers carry no map types" \
	bash -c "! grep -l 'struct bpfuse_lookup_key\|struct bpfuse_stats' '$prefix'/include/bpfuse*.h"

make -s -C "$top" uninstall DESTDIR="$dest" > /dev/null 2>&1
left=$(find "$dest" -type f -o -type l | wc -l)
check "make uninstall removes every file it installed ($left left)" [ "$left" = 0 ]

# mount -t fuse.bpfused after a real install: mount(8) runs libfuse's
# mount.fuse3, which runs bpfused from mount's own PATH (/usr/local/sbin).
echo data > "$work/back/f"
cat > "$work/fstab" <<EOF
$work/back $work/mnt fuse.bpfused cache=auto,nofail 0 0
EOF
unshare --mount --propagation private bash -c "
	mount -t tmpfs bpfuse-usr-local /usr/local &&
	make -s -C '$top' install > /dev/null 2>&1 &&
	mount -T '$work/fstab' '$work/mnt' 2> '$work/mount.err' &&
	cat '$work/mnt/f' > '$work/read' &&
	/usr/local/sbin/bpfusectl stats '$work/mnt' > '$work/stats' &&
	umount '$work/mnt'" > /dev/null 2>&1
check "mount -T with an fstab line of type fuse.bpfused mounts and serves" \
	[ "$(cat "$work/read" 2>/dev/null)" = data ]
check "and bpfusectl sees that mount" grep -q "stock mode\|ext mode" "$work/stats"
check "a successful mount through mount(8) prints nothing" [ ! -s "$work/mount.err" ]
check "nothing is left mounted" bash -c "! grep -q ' $work/mnt ' /proc/mounts"

# syslog: a daemon in the background logs its mode and, at unmount, its
# summary there, under its name and pid
cat > "$work/listen.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
open(sys.argv[1] + ".ready", "w").close()
s.settimeout(5)
with open(sys.argv[1], "w") as out:
    while True:
        try:
            out.write(s.recv(8192).decode(errors="replace") + "\n")
            out.flush()
        except socket.timeout:
            break
EOF
unshare --mount --propagation private bash -c "
	mount -t tmpfs bpfuse-dev /dev && mknod -m 666 /dev/fuse c 10 229 &&
	mknod -m 666 /dev/null c 1 3 &&
	{ $py '$work/listen.py' '$work/syslog' & } &&
	for _ in \$(seq 100); do [ -e '$work/syslog.ready' ] && break; sleep 0.05; done &&
	'$top/bpfused' '$work/back' '$work/mnt' > '$work/bg.out' 2>&1 &&
	cat '$work/mnt/f' > /dev/null && umount '$work/mnt' && wait" > /dev/null 2>&1
check "in the background, nothing on the terminal" [ ! -s "$work/bg.out" ]
check "the mode goes to syslog as bpfused[PID]" grep -q "bpfused\[[0-9]*\]: .* mode" "$work/syslog"
check "and the summary at unmount" grep -q "bpfused\[[0-9]*\]: unmounted $work/mnt after " \
	"$work/syslog"
sed 's/^/# syslog: /' "$work/syslog"

# xfstests generic/604: an unmount in the background, a mount at once
fails=0
for _ in $(seq 10); do
	"$top/bpfused" "$work/back" "$work/mnt" || break
	for i in $(seq 0 100); do head -c 4096 /dev/zero > "$work/mnt/$i"; done
	umount "$work/mnt" &
	"$top/bpfused" "$work/back" "$work/mnt" 2> "$work/remount.err" || fails=$((fails + 1))
	wait
	while mountpoint -q "$work/mnt"; do umount "$work/mnt"; done
done
check "a mount racing an unmount of the same mountpoint succeeds ($fails of 10 failed)" \
	[ "$fails" = 0 ]

[ "$n" = "$plan" ] || echo "Bail out! planned $plan checks, ran $n"
exit 0
