#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Makes libfuse >= 3.18.3 available to the build: kernel passthrough
# (3.17), FUSE over io_uring and fuse_file_info::kill_suidgid for
# FUSE_HANDLE_KILLPRIV_V2 (3.18.3). A system libfuse that new is used as it
# is. Otherwise the fuse3 source package of Debian's development suite
# (3.18.3-1 on 2026-12-07) is fetched with an apt configuration of our own
# (its own sources, lists and cache under $work: the system's sources and
# packages stay untouched, no binary package of another release is
# installed) and built with io_uring (liburing-dev, libnuma-dev) into
# $prefix, which configure finds by itself. Prints nothing when there is
# nothing to do.
#   scripts/libfuse.sh            ensure it is there
#   scripts/libfuse.sh --prefix   print the private prefix
#   scripts/libfuse.sh --source   also keep the unpacked source tree and print
#                                 its path (the benchmarks build its
#                                 examples, test/libfuse.sh its test suite)
set -eu

prefix=/opt/bpfuse/libfuse3
work=/var/cache/bpfuse/libfuse-sid
suite=sid
want=3.18.3

case ${1:-} in
--prefix)
	echo "$prefix"
	exit 0
	;;
--source | --dev-source | '') ;;
*)
	echo "libfuse: unknown argument '$1'" >&2
	exit 1
	;;
esac

# The Debian archive the system already uses: the first deb source serving main.
archive_uri() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		awk '/^URIs:/ { u = $2 } /^Suites:/ { s = $0 }
		     /^$/ { if (u != "" && s !~ /security/) { print u; exit } u = ""; s = "" }
		     END { if (u != "" && s !~ /security/) print u }' "$f"
	done | head -n 1
	if [ -e /etc/apt/sources.list ]; then
		awk '$1 == "deb" && $3 !~ /security/ { print $2; exit }' /etc/apt/sources.list
	fi
}

fetch_source() {
	uri=$(archive_uri | head -n 1)
	if [ -z "$uri" ]; then
		echo "libfuse: no Debian archive in the apt sources: cannot fetch fuse3 from $suite" >&2
		return 1
	fi
	mkdir -p "$work/apt/parts" "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/src"
	cat >"$work/apt/parts/$suite.sources" <<EOF
Types: deb-src
URIs: $uri
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	set -- -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$work/apt/parts" \
		-o Dir::State::Lists="$work/apt/lists" -o Dir::Cache="$work/apt/cache" -o APT::Sandbox::User=root -qq
	apt-get "$@" update
	(cd "$work/src" && apt-get "$@" source --download-only fuse3)
}

# The unpacked upstream tree of the newest fetched orig tarball, fetched if need be.
source_tree() {
	orig=$(ls "$work"/src/fuse3_3.*.orig.tar.* 2>/dev/null | grep -v '\.asc$' | sort -V | tail -n 1)
	if [ -z "$orig" ]; then
		fetch_source >&2 || return 1
		orig=$(ls "$work"/src/fuse3_3.*.orig.tar.* 2>/dev/null | grep -v '\.asc$' | sort -V | tail -n 1)
	fi
	[ -n "$orig" ] || { echo "libfuse: no fuse3 source package found in $suite" >&2; return 1; }
	ver=${orig##*/fuse3_}
	ver=${ver%%.orig.tar.*}
	tree=$work/src/fuse-$ver
	if [ ! -f "$tree/meson.build" ]; then
		rm -rf "$tree" "$tree.tmp"
		mkdir -p "$tree.tmp"
		tar -xf "$orig" -C "$tree.tmp" --strip-components=1
		mv "$tree.tmp" "$tree"
	fi
	echo "$tree"
}

if [ -n "${1:-}" ]; then
	source_tree
	exit
fi

pkg-config --atleast-version=$want fuse3 2>/dev/null && exit 0
PKG_CONFIG_PATH=$(echo "$prefix"/lib/*/pkgconfig) pkg-config --atleast-version=$want fuse3 \
	2>/dev/null && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "libfuse: libfuse >= $want is missing (run as root to build it into $prefix)" >&2
	exit 1
fi
tree=$(source_tree)
echo "libfuse: building $(basename "$tree") into $prefix"
rm -rf "$tree/build"
# the old version's files go only once the new one is built
meson setup "$tree/build" "$tree" --prefix="$prefix" --buildtype=release -Dexamples=false \
	-Dutils=false -Dtests=false -Denable-io-uring=true >"$work/build.log" 2>&1 &&
	ninja -C "$tree/build" >>"$work/build.log" 2>&1 && rm -rf "$prefix" &&
	ninja -C "$tree/build" install >>"$work/build.log" 2>&1 || {
	tail -n 20 "$work/build.log" >&2
	echo "libfuse: build failed: see $work/build.log" >&2
	exit 1
}
nm -D "$prefix"/lib/*/libfuse3.so.4 2>/dev/null | grep -q io_uring_submit ||
	echo "libfuse: built without FUSE over io_uring (liburing-dev or libnuma-dev missing?)" >&2
