#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The attach ioctl exists twice: as the hook patch adds it to
# <linux/fuse.h> (kernel/0001-*.patch) and as user space builds against it
# (maps/bpfuse_attach.h, which says why the patch keeps its own copy).
# Compares the two, field by field and value by value: every struct
# fuse_bpfuse_* and every FUSE_*BPFUSE* constant either declares, with
# comments, whitespace, integer suffixes and the uapi's uintN_t spelling
# of __uN left out. Runs no kernel: reads the patch's text. Speaks TAP.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
patch=$(echo "$bf_top"/kernel/0001-*.patch)
header=$bf_top/maps/bpfuse_attach.h

# decls: on stdin C text; out "struct NAME: TYPE FIELD" per field and
# "define NAME VALUE" per macro, for the names the ioctl's ABI is made of.
# FUSE_DEV_IOC_MAGIC, defined in the same text, is replaced by its value.
decls() {
	awk '
	{ text = text $0 "\n" }
	END {
		# comments, then line continuations
		while (match(text, /\/\*([^*]|\*+[^*\/])*\*+\//))
			text = substr(text, 1, RSTART - 1) " " substr(text, RSTART + RLENGTH)
		gsub(/\\\n/, " ", text)
		n = split(text, line, "\n")
		for (i = 1; i <= n; i++) {
			l = line[i]
			gsub(/[ \t]+/, " ", l)
			sub(/^ /, "", l)
			sub(/ $/, "", l)
			if (l ~ /^#define FUSE_DEV_IOC_MAGIC /)
				magic = substr(l, length("#define FUSE_DEV_IOC_MAGIC ") + 1)
			if (l ~ /^struct fuse_bpfuse_[a-z_]* \{$/) {
				st = l
				sub(/ \{$/, "", st)
				continue
			}
			if (st != "" && l ~ /^\};$/) {
				st = ""
				continue
			}
			if (st != "") {
				sub(/;$/, "", l)
				if (l != "")
					out[++m] = st ": " l
				continue
			}
			if (l ~ /^#define FUSE_[A-Z_]*BPFUSE[A-Z_]* /) {
				sub(/^#define /, "", l)
				name = l
				sub(/ .*/, "", name)
				val = substr(l, length(name) + 2)
				# a space counts only between two words
				while (match(val, /[^A-Za-z0-9_] | [^A-Za-z0-9_]/)) {
					s = substr(val, RSTART, RLENGTH)
					sub(/ /, "", s)
					val = substr(val, 1, RSTART - 1) s substr(val, RSTART + RLENGTH)
				}
				out[++m] = "define " name " " val
			}
		}
		for (i = 1; i <= m; i++) {
			d = out[i]
			# uapi spells __u32 uint32_t; integer suffixes change no value here
			while (match(d, /(^|[^_a-z])u?int(8|16|32|64)_t/)) {
				pre = substr(d, 1, RSTART - 1)
				t = substr(d, RSTART, RLENGTH)
				c = substr(t, 1, 1)
				if (c !~ /[ui]/) {
					pre = pre c
					t = substr(t, 2)
				}
				bits = t
				gsub(/[^0-9]/, "", bits)
				d = pre (t ~ /^u/ ? "__u" : "__s") bits substr(d, RSTART + RLENGTH)
			}
			gsub(/[0-9][uU][lL]*/, "&@", d)
			gsub(/[uU][lL]*@/, "", d)
			if (magic != "")
				gsub(/FUSE_DEV_IOC_MAGIC/, magic, d)
			print d
		}
	}'
}

# the new <linux/fuse.h> as far as the patch shows it: its hunks' added
# and context lines
from_patch() {
	awk '/^diff --git / { on = $3 == "a/include/uapi/linux/fuse.h"; next }
		on && /^(\+\+\+|---) / { next }
		on && /^[+ ]/ { print substr($0, 2) }' "$patch"
}

echo "1..2"
if [ ! -f "$patch" ] || [ ! -f "$header" ]; then
	echo "Bail out! no kernel/0001-*.patch or maps/bpfuse_attach.h"
	exit 1
fi
kernel=$(from_patch | decls)
user=$(decls < "$header")
echo "# the patch: ${kernel//$'\n'/; }"
echo "# the header: ${user//$'\n'/; }"

# found: whether the patch has them all, so that an empty parse cannot pass
found() {
	grep -q '^struct fuse_bpfuse_attach: ' <<< "$kernel" &&
		grep -q '^define FUSE_DEV_IOC_BPFUSE_ATTACH _IOW([0-9]' <<< "$kernel" &&
		grep -q '^define FUSE_BPFUSE_' <<< "$kernel"
}
check "the patch declares the attach ioctl, its struct and its flags" found
check "maps/bpfuse_attach.h declares the same, in the same order" [ "$kernel" = "$user" ]
[ "$kernel" = "$user" ] || diff <(echo "$kernel") <(echo "$user") | sed 's/^/# /'

[ "$failed" = 0 ]
