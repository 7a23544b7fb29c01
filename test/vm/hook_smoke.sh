#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# In the guest: mount bpfused with caching off, attach the smoke program to
# its connection, check it (TAP), clean up (the checks end by aborting the
# connection; the exit trap unmounts).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
bf_setup hook
echo data > "$work/back/f"
bf_start -o cache=never,no_ext || exit 1
# the last checks abort the connection through the FUSE control file system
mountpoint -q /sys/fs/fuse/connections || mount -t fusectl none /sys/fs/fuse/connections
"$bf_top/test/vm/hook_smoke" "$pid" "$work/mnt" "$work/back"
