#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every test: installs what is missing, builds, runs `make check` (unit,
# mount, command-line and kernel-build suites) and ends with one line,
# "N passed, N failed".
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

# Whatever a crashed test left mounted goes, whatever happened.
cleanup() {
	local m
	for m in $(awk '$2 ~ "^/tmp/bpfuse-(test|cli|kbuild|bench)\\." {print $2}' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null
	done
}
trap cleanup EXIT

rm -f test/*.trs test/*.log test-suite.log
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
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
