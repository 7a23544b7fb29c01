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
	calls=$(sed -n 's/.*; \([0-9]*\) calls into .*/\1/p' "$work/$label.log")
	held=$(sed -n 's/.* \([0-9]*\) nodes still held.*/\1/p' "$work/$label.log")
	printf 'bpfused %-12s %8s backend calls for the whole run, %s nodes held at unmount\n' \
		"$label:" "$calls" "$held"
done
echo "(backend calls: requests that reached the daemon and went to the backing directory)"

# A slow backend (1 ms per metadata call, like a network file system) with
# the kernel's caches off: the BPF maps answer once warm.
echo
echo "== a 1 ms backend, kernel timeouts 0: BPF maps off, then on (us per call, warm)"
small="$work/back/small"
mkdir "$small"
bench/mdbench create "$small" 4 50
for maps in no_maps maps; do
	./bpfused -f -o "entry_timeout=0,attr_timeout=0,negative_timeout=0,backend_latency=1ms,$maps" \
		"$work/back" "$work/mnt" 2> "$work/$maps.log" &
	pid=$!
	for _ in $(seq 100); do mountpoint -q "$work/mnt" && break; sleep 0.05; done
	bench/mdbench run "$work/mnt/small" 1 > /dev/null
	bench/mdbench run "$work/mnt/small" 1 > "$work/$maps"
	[ "$maps" = maps ] && ./bpfusectl stats "$work/mnt" > "$work/stats.txt"
	umount "$work/mnt"
	wait "$pid"
	pid=
done
printf '%-16s %12s %12s\n' operation no_maps maps
join <(tail -n +2 "$work/no_maps" | awk '{print $1, $3}' | sort) \
	<(tail -n +2 "$work/maps" | awk '{print $1, $3}' | sort) |
	awk '{ printf "%-16s %12.1f %12.1f\n", $1, $2, $3 }'
echo
echo "== bpfusectl stats, maps on, after both passes"
cat "$work/stats.txt"
