#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# In the guest: mount bpfused with caching off, attach the smoke program to
# its connection, check it (TAP), clean up.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/bpfuse-hook.XXXXXX)
pid=
cleanup() {
	umount -l "$work/mnt" 2> /dev/null
	[ -n "$pid" ] && kill "$pid" 2> /dev/null
	umount -l "$work/back" 2> /dev/null
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/back" "$work/mnt"
mount -t tmpfs hook "$work/back"
echo data > "$work/back/f"
"$top/bpfused" -f -o cache=never,no_ext "$work/back" "$work/mnt" 2> "$work/log" &
pid=$!
for _ in $(seq 100); do mountpoint -q "$work/mnt" && break; sleep 0.05; done
"$top/test/vm/hook_smoke" "$pid" "$work/mnt"
