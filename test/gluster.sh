#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Close-to-open over GlusterFS: bpfused (default options) over Gluster's own
# FUSE client, over a single-brick volume served on 127.0.0.1 by a glusterd
# this test starts (and stops, with its volumes, unless one ran already).
# Data written through bpfused is on the brick when close(2) returns; a
# brick that fills up fails the writer through bpfused as on Gluster alone.
# Speaks TAP.
set -u
. "$(dirname "$0")/lib.sh"

files=${BPFUSE_GLUSTER_FILES:-200}
echo "1..5"
need() { skip_rest 5 "close-to-open over GlusterFS" "$1"; }
command -v glusterd > /dev/null && command -v gluster > /dev/null ||
	need "glusterfs-server is not installed (scripts/deps.sh test)"
host=$(hostname)
case $(getent hosts "$host" | cut -d' ' -f1) in
127.*) ;;
*) need "$host does not resolve to a loopback address: Gluster would serve beyond it" ;;
esac

work=$(mktemp -d /tmp/bpfuse-gluster.XXXXXX)
chmod 755 "$work"
tag=bpfuse${work##*.}
started=
volumes=
gluster_cleanup() {
	local v
	for m in $(awk -v w="$work/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r); do
		umount -l "$m" 2> /dev/null
	done
	for v in $volumes; do
		gluster --mode=script volume stop "$v" force > /dev/null 2>&1
		gluster --mode=script volume delete "$v" > /dev/null 2>&1
	done
	[ -n "$started" ] && kill "$(cat "$work/glusterd.pid")" 2> /dev/null
	bf_cleanup
}
trap gluster_cleanup EXIT
if ! pgrep -x glusterd > /dev/null; then
	glusterd -p "$work/glusterd.pid" -l "$work/glusterd.log" || need "glusterd did not start"
	started=1
fi
for _ in $(seq 100); do gluster --mode=script volume list > /dev/null 2>&1 && break; sleep 0.1; done

# volume NAME BRICK_DIR MOUNTPOINT: a started volume, mounted by Gluster's client
volume() {
	gluster --mode=script volume create "$1" "$host:$2" force > /dev/null &&
		volumes="$volumes $1" &&
		gluster --mode=script volume start "$1" > /dev/null &&
		mkdir -p "$3" && mount -t glusterfs "$host:/$1" "$3"
}
mkdir -p "$work/brick"
volume "${tag}m" "$work/brick" "$work/g" || need "the Gluster volume did not start"
mkdir -p "$work/mnt"
"$bpfused" -f "$work/g" "$work/mnt" 2> "$work/log" &
pid=$!
for _ in $(seq 100); do mountpoint -q "$work/mnt" && break; sleep 0.05; done

check "bpfused over GlusterFS chose close_to_open" grep -q close_to_open "$work/log"

bad=$($py "$bf_top/test/closecheck.py" "$work/mnt" "$work/brick" "$files")
check "$files files written through bpfused: $bad missing or different on the brick after close" \
	test "$bad" = 0

head -c 1048576 /dev/urandom > "$work/one-mib"
cp "$work/one-mib" "$work/mnt/copied"
check "a 1 MiB cp through bpfused is whole on the brick when cp returns" \
	cmp -s "$work/one-mib" "$work/brick/copied"

# A brick that fills up: 8 MiB into 4 MiB fails the writer (at a write, or
# at close where Gluster's write-behind reports it), alone and through bpfused.
fill() {
	$py - "$1" <<'EOF'
import os, sys
where = ""
try:
    fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
except OSError as e:
    print(f"open: {e.strerror}")
    sys.exit(0)
try:
    for _ in range(64):
        os.write(fd, b"x" * 131072)
except OSError as e:
    where = f"write: {e.strerror}"
try:
    os.close(fd)
except OSError as e:
    where = where or f"close: {e.strerror}"
print(where)
EOF
}
for side in alone through; do
	mkdir -p "$work/small-$side"
	mount -t tmpfs -o size=4m "bpfuse-gluster" "$work/small-$side"
	mkdir "$work/small-$side/brick"
	volume "${tag}${side:0:1}" "$work/small-$side/brick" "$work/g-$side" ||
		echo "# the small volume for $side did not start"
done
mkdir -p "$work/mnt-full"
"$bpfused" -f "$work/g-through" "$work/mnt-full" 2> "$work/log-full" &
pid_full=$!
for _ in $(seq 100); do mountpoint -q "$work/mnt-full" && break; sleep 0.05; done
alone=$(fill "$work/g-alone/big")
through=$(fill "$work/mnt-full/big")
echo "# a full brick: Gluster alone: ${alone:-no error}; through bpfused: ${through:-no error}"
check "a full brick fails the writer on Gluster alone" test -n "$alone"
check "and through bpfused too" test -n "$through"

umount "$work/mnt-full" && wait "$pid_full"
umount "$work/mnt" && wait "$pid"
exit 0
