#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every test: installs what is missing, builds, runs `make check` (unit,
# mount, command-line and kernel-build suites) on this kernel, then the
# ext-mode tests and the integration suites in the Linux 6.12 guest
# (test/vm/run.sh: builds the patched kernel once, boots it under qemu),
# and ends with one line, "N passed, N failed", over both.
#   BPFUSE_TEST_VM=0 scripts/test.sh    skips the guest (a developer's
#                                       shortcut; CI runs everything)
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "test: must run as root: the suites mount file systems and switch users" >&2
	exit 1
fi
if [ ! -c /dev/fuse ]; then
	echo "test: /dev/fuse is missing: load the fuse module (modprobe fuse)" >&2
	exit 1
fi
scripts/build.sh test || { echo "test: build failed" >&2; exit 1; }

# FUSE over io_uring, where this kernel has it: on for the run, so that
# the suites' default mounts ride it (the *_devfuse suites and
# test/uring.sh check /dev/fuse), and back as it was afterwards.
uring=/sys/module/fuse/parameters/enable_uring
uring_was=
if [ -w "$uring" ]; then
	uring_was=$(cat "$uring")
	echo Y > "$uring"
fi

# Whatever a crashed test left mounted goes, whatever happened.
cleanup() {
	local m
	for m in $(awk '$2 ~ "^/tmp/bpfuse-[a-z]+\\." {print $2}' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null
	done
	[ -z "$uring_was" ] || echo "$uring_was" > "$uring"
}
trap cleanup EXIT

rm -f test/*.trs test/*.log test-suite.log
# the benchmarks' smoke run boots the guest too, unless the guest is skipped
[ "${BPFUSE_TEST_VM:-1}" != 0 ] && export BPFUSE_BENCH_VM=1
make -s check
rc=$?

count() { cat test/*.trs 2>/dev/null | grep -c "^:test-result: \($1\)"; }
passed=$(count 'PASS\|XFAIL')
failed=$(count 'FAIL\|XPASS\|ERROR')
skipped=$(count 'SKIP')
[ "$rc" -ne 0 ] && [ -f test-suite.log ] && cat test-suite.log
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	failed=1	# make check itself failed: never report a clean run
fi
echo "host ($(uname -r)): $passed passed, $failed failed"

if [ "${BPFUSE_TEST_VM:-1}" != 0 ]; then
	vm_out=$(mktemp /tmp/bpfuse-vm-out.XXXXXX)
	test/vm/run.sh | tee "$vm_out"
	vm_rc=${PIPESTATUS[0]}
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$vm_out" | tail -1)
	rm -f "$vm_out"
	vm_passed=0 vm_failed=0
	if [ -n "$summary" ]; then
		vm_passed=${summary%% *}
		vm_failed=${summary#* passed, }
		vm_failed=${vm_failed%% *}
	fi
	if [ "$vm_rc" -ne 0 ] && [ "$vm_failed" -eq 0 ]; then
		vm_failed=1	# no summary: a panic, a hang or a failed kernel build
	fi
	echo "guest (Linux 6.12 + kernel/*.patch, ext mode): $vm_passed passed, $vm_failed failed"
	passed=$((passed + vm_passed))
	failed=$((failed + vm_failed))
	[ "$vm_rc" -eq 0 ] || rc=1
fi

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
