#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds Linux (tinyconfig) from Debian's linux-source-6.1 natively on tmpfs
# and on a bpfused mount over tmpfs, with default options. Both builds must
# succeed and give a bzImage of the same size. Speaks TAP; timings are
# comments, never assertions.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
src=/usr/src/linux-source-6.1.tar.xz

echo "1..3"
if [ ! -r "$src" ]; then
	echo "Bail out! $src is missing: run scripts/deps.sh test"
	exit 1
fi

work=$(mktemp -d /tmp/bpfuse-kbuild.XXXXXX)
pid=
cleanup() {
	mountpoint -q "$work/mnt" && umount -l "$work/mnt"
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	for d in native back; do mountpoint -q "$work/$d" && umount -l "$work/$d"; done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/native" "$work/back" "$work/mnt"
mount -t tmpfs kbuild-native "$work/native"
mount -t tmpfs kbuild-back "$work/back"
tar -xf "$src" -C "$work/native"
tree=$(basename "$(ls -d "$work"/native/linux-source-*)")
cp -a "$work/native/$tree" "$work/back/"

# The same stamps in both builds, so the images may differ only by accident.
export KBUILD_BUILD_TIMESTAMP="Thu Jan  1 00:00:00 UTC 2026" KBUILD_BUILD_USER=bpfuse \
	KBUILD_BUILD_HOST=bpfuse KBUILD_BUILD_VERSION=1

# build N NAME DIR: make tinyconfig && make -j4 in DIR; TAP line N
build() {
	local t0=$SECONDS
	if (cd "$3" && make -s tinyconfig > build.log 2>&1 && make -s -j4 >> build.log 2>&1); then
		echo "ok $1 - tinyconfig build $2 ($((SECONDS - t0)) s)"
		eval "secs_$2=$((SECONDS - t0))"
	else
		echo "not ok $1 - tinyconfig build $2"
		tail -20 "$3/build.log" | sed 's/^/# /'
	fi
}

build 1 native "$work/native/$tree"

"$top/bpfused" -f "$work/back" "$work/mnt" 2> "$work/bpfused.log" &
pid=$!
for _ in $(seq 100); do mountpoint -q "$work/mnt" && break; sleep 0.05; done
build 2 bpfused "$work/mnt/$tree"

a=$(stat -c %s "$work/native/$tree/arch/x86/boot/bzImage" 2>/dev/null)
b=$(stat -c %s "$work/mnt/$tree/arch/x86/boot/bzImage" 2>/dev/null)
if [ -n "$a" ] && [ "$a" = "$b" ]; then
	echo "ok 3 - same bzImage size ($a bytes)"
else
	echo "not ok 3 - bzImage sizes differ: native ${a:-none}, bpfused ${b:-none}"
fi
umount "$work/mnt"
wait "$pid"
pid=
sed 's/^/# /' "$work/bpfused.log"
if [ -n "${secs_native:-}" ] && [ -n "${secs_bpfused:-}" ]; then
	echo "# wall time: native ${secs_native} s, bpfused ${secs_bpfused} s"
fi
