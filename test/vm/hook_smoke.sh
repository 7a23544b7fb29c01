#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# In the guest: mount bpfused with caching off, attach the smoke program to
# its connection, check it (TAP), clean up.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
bf_setup hook
echo data > "$work/back/f"
bf_start -o cache=never,no_ext || exit 1
"$bf_top/test/vm/hook_smoke" "$pid" "$work/mnt"
