#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The main job: build, mount bpfused over a generated tree, run a metadata
# workload natively and through the mount (caching off, then the defaults),
# and print what happened side by side.
set -euo pipefail
cd "$(dirname "$0")/.."

DIRS=${DIRS:-20}
FILES=${FILES:-100}
ROUNDS=${ROUNDS:-3}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: must run as root (bpfused mounts with allow_other and acts as its callers)" >&2
	exit 1
fi
scripts/build.sh

work=$(mktemp -d /tmp/bpfuse-demo.XXXXXX)
pid=
cleanup() {
	mountpoint -q "$work/mnt" && umount -l "$work/mnt"
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	mountpoint -q "$work/back" && umount -l "$work/back"
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/back" "$work/mnt"
mount -t tmpfs bpfuse-demo "$work/back"
bench/mdbench create "$work/back" "$DIRS" "$FILES"
echo "tree: $DIRS directories x $FILES files on tmpfs; $ROUNDS warm rounds per figure"

# run LABEL DIR: one cold pass, then the warm figures into $work/LABEL
run() {
	bench/mdbench run "$2" 1 > "$work/$1.cold"
	bench/mdbench run "$2" "$ROUNDS" > "$work/$1"
}

run native "$work/back"
for label in cache=never default; do
	opts=()
	[ "$label" = default ] || opts=(-o "$label")
	./bpfused -f "${opts[@]}" "$work/back" "$work/mnt" 2> "$work/$label.log" &
	pid=$!
	for _ in $(seq 100); do mountpoint -q "$work/mnt" && break; sleep 0.05; done
	mountpoint -q "$work/mnt" || { cat "$work/$label.log" >&2; exit 1; }
	run "$label" "$work/mnt"
	ls -lR "$work/mnt" > /dev/null
	umount "$work/mnt"
	wait "$pid"
	pid=
done

echo
printf '%-16s %10s %22s %22s\n' operation "native us" "cache=never us (x)" "default us (x)"
join <(tail -n +2 "$work/native" | awk '{print $1, $3}' | sort) \
	<(tail -n +2 "$work/cache=never" | awk '{print $1, $3}' | sort) |
	join - <(tail -n +2 "$work/default" | awk '{print $1, $3}' | sort) |
	awk '{ printf "%-16s %10.2f %14.2f (%5.1fx) %14.2f (%5.1fx)\n",
		$1, $2, $3, $3 / $2, $4, $4 / $2 }'
echo
for label in cache=never default; do
	calls=$(sed -n 's/.* \([0-9]*\) backend calls$/\1/p' "$work/$label.log")
	held=$(sed -n 's/.*: \([0-9]*\) nodes still held.*/\1/p' "$work/$label.log")
	printf 'bpfused %-12s %8s backend calls for the whole run, %s nodes held at unmount\n' \
		"$label:" "$calls" "$held"
done
echo "(backend calls: requests that reached the daemon and went to the backing directory)"
