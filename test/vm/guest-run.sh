#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs test programs (Criterion binaries, TAP scripts), prints their TAP
# output and one closing line, "N passed, N failed", counted from it.
passed=0
failed=0
for t in "$@"; do
	echo "# --- $t"
	case $t in
	*.sh) out=$(bash "$t" 2>&1) ;;
	*.py) out=$(/usr/bin/python3 "$t" 2>&1) ;;
	*) out=$("$t" --tap=/dev/stdout 2>&1) ;;
	esac
	rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep -c '^not ok \|^Bail out!')
	# a crash or a missing plan is a failure too
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "$passed passed, $failed failed"
