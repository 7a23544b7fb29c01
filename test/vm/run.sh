#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Boots the test kernel under qemu (TCG) with the host's root shared
# read-only over 9p, runs suites from this build tree in the guest, and
# exits 0 only if the guest printed "N passed, 0 failed". A panic, a hang
# (timeout) or a missing summary is a failure, with the console shown.
#   test/vm/run.sh [TEST...]     (default: the ext-mode tests, then the unit,
#                                maps, rules, mount, CLI, statistics, counting,
#                                coherence and attacker suites, all with the
#                                extension attached; the attacker suite with
#                                default options alone, where it attaches)
# BPFUSE_VM_CMDLINE adds words to the guest kernel's command line; name=value
# words reach the guest's init, and so the tests, as environment variables.
# BPFUSE_VM_ICOUNT=1 runs the guest with -icount shift=0: its clock moves
# one nanosecond per instruction, so a timing in the guest counts the
# instructions run, the same from one boot to the next whatever the host
# does (for comparing builds: it counts none of TCG's own costs, a call
# or an atomic no dearer than an add).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
timeout=${BPFUSE_VM_TIMEOUT:-1500}
tests=${*:-test/vm/hook_smoke.sh test/vm/ext.sh test/vm/accept.sh test/test_opts \
test/test_inode test/test_path test/test_maps test/test_rules test/test_mount \
test/test_mount_nocache test/test_cli test/stats.sh test/counter.sh test/objfs.sh \
test/fastpath.sh \
test/coherence.py test/attack.py}

kernel=$("$top/test/vm/build-kernel.sh") || exit 1
log=$(mktemp /tmp/bpfuse-vm.XXXXXX.log)
trap 'rm -f "$log"' EXIT
[ -n "${BPFUSE_VM_KEEP_LOG:-}" ] && trap - EXIT && echo "vm: console log in $log"

# thread=single: one host thread runs both vCPUs in turn. With a thread
# each, a vCPU could run code another had just patched (enabling a
# tracepoint) from a stale translation and die on an int3 that is no
# longer there (seen as an Oops in fuse_send_one on 6.12).
icount=()
[ "${BPFUSE_VM_ICOUNT:-}" = 1 ] && icount=(-icount shift=0)
timeout --foreground "$timeout" qemu-system-x86_64 -accel tcg,thread=single "${icount[@]}" \
	-m 2048 -smp 2 \
	-nographic -no-reboot \
	-kernel "$kernel" \
	-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=root,mount_tag=root \
	-append "console=ttyS0 panic=-1 quiet root=root rootfstype=9p \
rootflags=trans=virtio,version=9p2000.L,msize=262144 ro init=$top/test/vm/guest-init.sh \
bpfuse_tree=$top bpfuse_tests=${tests// /,} BPFUSE_ATTACK_MODES=default ${BPFUSE_VM_CMDLINE:-}" > "$log" 2>&1 < /dev/null
rc=$?
tr -d '\r' < "$log" | sed -n '/guest: /,$p' | sed 's/^.*guest: /guest: /' | grep -v '^$'
summary=$(tr -d '\r' < "$log" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
if [ "$rc" -eq 124 ]; then
	echo "vm: the guest did not finish within $timeout s; console:"
	tail -40 "$log"
	exit 1
fi
if [ -z "$summary" ]; then
	echo "vm: the guest printed no summary (panic?); console:"
	tail -40 "$log"
	exit 1
fi
[ "${summary#* passed, }" = "0 failed" ]
