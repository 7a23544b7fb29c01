#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# libbpfuse.so as other daemons link it: its soname, exactly the functions
# the installed headers declare exported (a helper leaking out, or a new
# call missing from lib/libbpfuse.map, fails here), each under the map's
# version, objfs linked to it and run from the tree (test/objfs.sh runs
# that binary), and bpfused and bpfusectl needing no libbpfuse.so. Speaks
# TAP.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
so=$bf_top/lib/.libs/libbpfuse.so.0
objfs=$bf_top/examples/objfs/objfs

plan=6
echo "1..$plan"
work=$(mktemp -d /tmp/bpfuse-abi.XXXXXX)
trap bf_cleanup EXIT
if "$bf_top/libtool" --config 2> /dev/null | grep -q '^build_libtool_libs=no'; then
	skip_rest $plan "libbpfuse.so" "configured with --disable-shared"
fi
for need in nm readelf ldd cc; do
	command -v $need > /dev/null || skip_rest $plan "libbpfuse.so" "$need is missing"
done

check "lib/.libs/libbpfuse.so.0 is built, with soname libbpfuse.so.0" \
	bash -c "readelf -d '$so' | grep -q 'SONAME.*\[libbpfuse\.so\.0\]'"

# The functions bpfuse.h and the headers of ours it includes declare (what
# is installed: they build without the tree), from the preprocessed text (no
# comments, no macros), bodies of types dropped: in each top-level
# declaration but typedefs and static (inline) ones, the name before the
# first parenthesis.
declared() {
	cc -E -I"$bf_top/maps" "$bf_top/lib/include/bpfuse.h" | "$py" -c '
import re, sys
keep, text = False, []
for line in sys.stdin:
    m = re.match(r"# \d+ \"(.*)\"", line)
    if m:
        keep = m.group(1).startswith(sys.argv[1] + "/")
    elif keep:
        text.append(line)
text = "".join(text)
text = re.sub(r"__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)", "", text)
body = re.compile(r"\{[^{}]*\}")
while body.search(text):
    text = body.sub(";", text)
for decl in text.split(";"):
    m = re.search(r"([A-Za-z_]\w*)\s*\(", decl)
    if m and not re.match(r"\s*(typedef|static)\b", decl):
        print(m.group(1))' "$bf_top" | sort -u
}
exported() {
	nm -D --defined-only "$so" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u
}
declared > "$work/declared" 2> /dev/null
exported > "$work/exported" 2> /dev/null
echo "# $(wc -l < "$work/declared") functions declared, $(wc -l < "$work/exported") exported"
diff "$work/declared" "$work/exported" | sed -n 's/^< /# declared, not exported (add it to lib\/libbpfuse.map): /p;
	s/^> /# exported, not declared: /p'
check "it exports exactly the functions bpfuse.h declares" \
	bash -c "[ -s '$work/declared' ] && cmp -s '$work/declared' '$work/exported'"
check "each under a LIBBPFUSE_ version node" \
	bash -c "nm -D --defined-only '$so' | awk '\$2 != \"A\"' | grep -v '@@LIBBPFUSE_' | sed 's/^/# unversioned: /' |
		(! grep .)"

check "examples/objfs needs libbpfuse.so.0" \
	bash -c "readelf -d '$objfs' | grep -q 'NEEDED.*\[libbpfuse\.so\.0\]'"
check "... and runs with the tree's, without a wrapper script" \
	bash -c "[ \"\$(ldd '$objfs' | awk '\$1 == \"libbpfuse.so.0\" { print \$3 }' | xargs readlink -f)\" = \
		\"\$(readlink -f '$so')\" ] && '$objfs' --help > /dev/null 2>&1"
need_none() {
	local b
	for b in "$bf_top/bpfused" "$bf_top/bpfusectl"; do
		readelf -d "$b" | grep -q 'NEEDED.*libbpfuse' && { echo "# $b needs libbpfuse.so"; return 1; }
	done
	return 0
}
check "bpfused and bpfusectl link the library in: they need no libbpfuse.so" need_none

[ "$n" = "$plan" ] || echo "Bail out! planned $plan checks, ran $n"
exit 0
