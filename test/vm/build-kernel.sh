#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the guest kernel: Debian's linux-source-6.12, our patches (kernel/,
# if any) and test/vm/kconfig.fragment over tinyconfig. The result is cached
# by a hash of the source package version, the patches and the fragment,
# so a second run does not rebuild. Prints the bzImage path.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
src=/usr/src/linux-source-6.12.tar.xz
cache=${BPFUSE_VM_CACHE:-/var/cache/bpfuse/vm}

if [ ! -r "$src" ]; then
	echo "build-kernel: $src is missing: run scripts/deps.sh vm" >&2
	exit 1
fi
version=$(dpkg-query -W -f '${Version}' linux-source-6.12)
patches=$(ls "$top"/kernel/*.patch 2>/dev/null || true)
key=$({ echo "$version"; cat "$top/test/vm/kconfig.fragment"; [ -z "$patches" ] || cat $patches; } |
	sha256sum | cut -c1-16)
out=$cache/$key
if [ -f "$out/bzImage" ]; then
	echo "$out/bzImage"
	exit 0
fi

build=$(mktemp -d /tmp/bpfuse-kernel.XXXXXX)
trap 'rm -rf "$build"' EXIT
echo "build-kernel: building $key in $build (a few minutes)" >&2
tar -xf "$src" -C "$build"
tree=$(ls -d "$build"/linux-source-*)
for p in $patches; do
	patch -d "$tree" -p1 --quiet < "$p"
done
make -C "$tree" -s tinyconfig > /dev/null
"$tree/scripts/kconfig/merge_config.sh" -m -O "$tree" "$tree/.config" \
	"$top/test/vm/kconfig.fragment" > /dev/null
make -C "$tree" -s olddefconfig > /dev/null
# every line of the fragment must have survived olddefconfig
missing=$(grep '^CONFIG_' "$top/test/vm/kconfig.fragment" | while read -r opt; do
	grep -qx "$opt" "$tree/.config" || echo "$opt"; done)
if [ -n "$missing" ]; then
	echo "build-kernel: options the kernel did not take: $missing" >&2
	exit 1
fi
make -C "$tree" -s -j"$(nproc)" bzImage > "$build/make.log" 2>&1 || {
	tail -30 "$build/make.log" >&2
	exit 1
}
mkdir -p "$out"
cp "$tree/arch/x86/boot/bzImage" "$tree/.config" "$out/"
echo "$out/bzImage"
