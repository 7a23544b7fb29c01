#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs what is missing, then configures (once) and builds in the tree.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh "$@"
[ -x configure ] || ./autogen.sh >/dev/null 2>&1
[ -f Makefile ] || ./configure -q
make -s -j"$(nproc)"
