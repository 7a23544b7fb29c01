#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# PID 1 of the test guest. The root is the host's, shared read-only over
# 9p; everything writable is a tmpfs. Copies the host's build tree
# (bpfuse_tree= on the kernel command line) to /tmp, runs the suites named
# by bpfuse_tests=, prints their TAP and a closing "N passed, N failed",
# then powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/shm /dev/pts
mount -t tmpfs shm /dev/shm
mount -t devpts devpts /dev/pts
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t tmpfs run /run
# A build tree under the host's /tmp (a CI clone, say) would vanish under
# the guest's own /tmp: keep it reachable at the same path, read-only, as
# the test programs have it compiled in (BPFUSED_PATH).
case $bpfuse_tree in
/tmp/*)
	mkdir -p /run/host-tmp
	mount --bind /tmp /run/host-tmp
	mount -t tmpfs tmp /tmp
	mkdir -p "$bpfuse_tree"
	mount --bind "/run/host-tmp/${bpfuse_tree#/tmp/}" "$bpfuse_tree"
	;;
*)
	mount -t tmpfs tmp /tmp
	;;
esac
mount -t tmpfs varcache /var/cache
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing 2> /dev/null
chmod 1777 /tmp
# loopback, for the tests that serve on 127.0.0.1 (objfs's store)
ip link set lo up
echo "guest: $(uname -r), $(nproc) cpus"

cp -a "$bpfuse_tree" /tmp/tree
cd /tmp/tree || { echo "guest: no tree at $bpfuse_tree"; reboot -f; }
sh test/vm/guest-run.sh $(echo "$bpfuse_tests" | tr , " ")
echo "guest: done"
reboot -f
