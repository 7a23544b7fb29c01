#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# libfuse's own test suite against bpfused: the fuse3 source of Debian's
# development suite (scripts/libfuse.sh --dev-source), built outside this
# tree with its tests, examples and utilities, and its runner
# (test/run-tests.py) given one case per mode, each the suite's passthrough
# body (readdir of 500 entries, open/read/write/create/append/seek,
# mkdir/rmdir/unlink, symlink, chown, utimens, link, truncate, open-unlink,
# then test_syscalls against the backing directory).
#
# test_syscalls creates a file in the backing directory and opens it
# through the mount at once. Where the kernel keeps "no such name"
# (default options, -o passthrough: until the watcher's invalidation, 0.1
# to 0.6 ms after the change), that open may still fail with ENOENT: the
# staleness bound docs/ARCHITECTURE.md states. Those cases alone, named by
# STALE below, are counted and printed, not failed; any other failure
# fails (an EEXIST from a create, an O_EXCL create that opens an existing
# file). Speaks TAP.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
# NAME:ARGS, + for a space; the first three ride io_uring where the
# kernel allows it (scripts/test.sh turns it on)
modes="default: nocache:-o+cache=never passthrough:-o+passthrough devfuse:-o+no_io_uring"
STALE='^ *[0-9]+ \[open\(\+, O_(RDONLY|RDWR|WRONLY), 0000\)\] do_test_open\(\) - open: No such file or directory$'

echo "1..$(echo $modes | wc -w)"
skip_all() {
	local m
	for m in $modes; do echo "ok - libfuse suite, ${m%%:*} # SKIP $1"; done
	exit 0
}

tree=$("$top/scripts/libfuse.sh" --dev-source) || skip_all "no fuse3 source from the development suite"
build=$(dirname "$(dirname "$tree")")/build
if [ ! -x "$build/test/test_syscalls" ] || [ ! -x "$build/util/fusermount3" ]; then
	rm -rf "$build"
	{ meson setup "$build" "$tree" --buildtype=release -Dexamples=true -Dutils=true \
		-Dtests=true && ninja -C "$build"; } > "$build.log" 2>&1 ||
		{ tail -5 "$build.log" | sed 's/^/# /'; skip_all "libfuse's build failed: see $build.log"; }
fi
ln -sf "$top/bpfused" "$build/example/bpfused"

# The suite's test programs, test_syscalls as the cases call it: the real
# one, with only the staleness cases let through (printed as "stale: ...").
wrap=$(mktemp -d /tmp/bpfuse-libfuse.XXXXXX)
trap 'rm -rf "$wrap"; rm -rf "$tree/test/cases/bpfused"' EXIT
for f in "$build"/test/*; do
	[ -x "$f" ] && [ -f "$f" ] && ln -s "$f" "$wrap/"
done
rm -f "$wrap/test_syscalls"
cat > "$wrap/test_syscalls" <<EOF
#!/bin/bash
out=\$("$build/test/test_syscalls" "\$@" 2>&1)
rc=\$?
echo "\$out"
[ \$rc -eq 0 ] && exit 0
failed=\$(echo "\$out" | grep -E '^ *[0-9]+ \[' | grep -v ' OK\$')
other=\$(echo "\$failed" | grep -Ev '$STALE')
echo "\$failed" | grep -E '$STALE' | sed 's/^/stale: /'
[ -n "\$failed" ] && [ -z "\$other" ]
EOF
chmod +x "$wrap/test_syscalls"

mkdir -p "$tree/test/cases/bpfused"
for m in $modes; do
	name=${m%%:*}
	args=${m#*:}
	cat > "$tree/test/cases/bpfused/$name.sh" <<EOF
#!/usr/bin/env bash
# GROUP: bpfused
# TIMEOUT: 300
FS_NAME=bpfused
FS_ARGS="-f ${args//+/ }"
PT_POSITIONAL="\$TEST_SRC"
INODE_CHECK=exact
PT_MIRROR=0
PT_SRC_VISIBLE=1
SYSCALL_ARGS=-u
FUSE_TEST_BIN_DIR=$wrap
. "\$TEST_LIB/passthrough.sh"
EOF
	chmod +x "$tree/test/cases/bpfused/$name.sh"
done

runs=$(mktemp -d /var/tmp/bpfuse-libfuse-runs.XXXXXX)
python3 "$tree/test/run-tests.py" --build-dir "$build" -t 'bpfused/*' -j1 \
	--run-dir "$runs" --keep-logs > "$wrap/out" 2>&1
sed 's/^/# /' "$wrap/out" | grep -E 'PASS|FAIL|SKIP|tests:' | head -20
for m in $modes; do
	name=${m%%:*}
	args=${m#*:}
	args=${args//+/ }
	log=$(find "$runs" -path "*bpfused/$name/logs/script.out" | head -1)
	stale=$(grep -c '^stale: ' "$log" 2> /dev/null)
	grep '^stale: ' "$log" 2> /dev/null | sed "s/^/# $name: /"
	if grep -qE "PASS +bpfused/$name( |$)" "$wrap/out"; then
		echo "ok - libfuse suite, $name (${args:-default options}): passed," \
			"${stale:-0} staleness cases of test_syscalls"
	else
		grep -v ' OK$\|START$\|^check: ' "$log" 2> /dev/null | tail -8 | sed 's/^/# /'
		echo "not ok - libfuse suite, $name"
	fi
done
[ -n "${BPFUSE_KEEP:-}" ] || rm -rf "$runs"
exit 0
