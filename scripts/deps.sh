#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs the Debian 12 packages bpfuse needs, only those that are missing,
# then libfuse >= 3.18.3 (scripts/libfuse.sh: the development suite's source, built into a
# private prefix where the system's libfuse is older).
#   scripts/deps.sh          build and run
#   scripts/deps.sh test     also what the tests and the benchmarks need
#                            (the 6.1 source the kernel-build benchmark and
#                            test build, the 6.12 source and qemu for the
#                            guest, fio,
#                            sshfs, an sshd to run, gnuplot, s3fs and npm
#                            for the S3 server test/s3.sh installs, GlusterFS)
#   scripts/deps.sh vm       the same (test/vm/run.sh)
#   scripts/deps.sh bench    the same (bench/run.sh)
set -eu

pkgs="build-essential autoconf automake libtool pkg-config libfuse3-dev fuse3
	libbpf-dev bpftool clang llvm libglib2.0-dev libcriterion-dev acl attr
	util-linux kmod meson ninja-build liburing-dev libnuma-dev"
case ${1:-} in
'') ;;
test | vm | bench)
	pkgs="$pkgs linux-source-6.1 linux-source-6.12 flex bison bc libelf-dev libssl-dev xz-utils
		dwarves python3 python3-jsonschema qemu-system-x86"
	# the test suite runs a smoke run of every benchmark
	pkgs="$pkgs fio sshfs openssh-server openssh-client gnuplot-nox jq procps"
	# the network backends: s3fs over s3rver (npm, installed by test/s3.sh),
	# GlusterFS (test/gluster.sh starts its own glusterd)
	pkgs="$pkgs s3fs glusterfs-server glusterfs-client"
	command -v npm > /dev/null || pkgs="$pkgs nodejs npm"
	;;
*)
	echo "deps: unknown set '$1' (expected test, vm or bench)" >&2
	exit 1
	;;
esac

missing=
for p in $pkgs; do
	dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing packages:$missing (run as root to install them)" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
exec "$(dirname "$0")/libfuse.sh"
