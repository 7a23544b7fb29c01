#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The benchmark suite's one entry point (`make bench` calls it):
#
#   bench/run.sh [--quick] [--out DIR] [WORKLOAD...]
#
#   meta    metadata micro-benchmark (bench/mdbench), cold and warm, with
#           the requests each operation sends to the daemon
#   scale   stat of every file of a 100,000-file tree, cold and warm
#   build   make tinyconfig && make -j4 of linux-source-6.1 on the mount
#   fio     sequential read, random 4 KiB read/write, file creation
#   net     the metadata benchmark over a 1 ms backend, and over sshfs to
#           an sshd of our own on 127.0.0.1; one more pass after a few
#           seconds idle
#   ext     the metadata benchmark and fio in the Linux 6.12 guest
#           (test/vm/run.sh, bench/vm-guest.sh): the guest's configurations
#           in one boot
#   miss    every kernel timeout 0 and the maps off, so that every access
#           reaches the daemon: stat, stat of a missing name, getxattr,
#           open-close, readdir, create-unlink, bpfused over io_uring and
#           over /dev/fuse beside libfuse's examples over each, all mounted
#           at once and measured side by side
#
# Default: all of them (about 30 minutes on 2 cores), each over the
# configurations bench/configs.tsv puts in its set (--help lists them;
# BENCH_CONFIGS, BENCH_NET_CONFIGS, BENCH_SCALE_CONFIGS and
# BENCH_MISS_CONFIGS choose others).
# --quick runs tiny sizes (the smoke test's mode). Results, with the
# commit, kernel and machine on every row, go to DIR (default
# bench/results/<date>-<commit>, with -quick appended in quick mode):
# results.tsv, results.md, *.png.
# Exits 1 if a measurement failed; the report still shows the others.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
linux_src=/usr/src/linux-source-6.1.tar.xz
all_workloads="meta scale build fio net ext miss"
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
host_configs=${BENCH_CONFIGS:-$(bb_configs host)}
net_configs=${BENCH_NET_CONFIGS:-$(bb_configs net)}
scale_configs=${BENCH_SCALE_CONFIGS:-$(bb_configs scale)}
miss_configs=${BENCH_MISS_CONFIGS:-$(bb_configs miss)}

die() {
	echo "bench: $*" >&2
	exit 1
}

quick=
out=
workloads=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--out) [ $# -ge 2 ] || die "--out needs a directory"; out=$2; shift ;;
	--out=*) out=${1#--out=} ;;
	-h | --help)
		echo "usage: bench/run.sh [--quick] [--out DIR] [${all_workloads// /|}]..."
		echo "configurations (bench/configs.tsv):"
		echo "  meta, build, fio: $host_configs"
		echo "  scale: $scale_configs"
		echo "  net: $net_configs"
		echo "  ext: $(bb_configs guest) (in the guest)"
		echo "  miss: $miss_configs"
		exit 0
		;;
	meta | scale | build | fio | net | ext | miss)
		case " $workloads " in *" $1 "*) ;; *) workloads="$workloads $1" ;; esac
		;;
	*) die "unknown argument '$1' (usage: bench/run.sh [--quick] [--out DIR] [WORKLOAD...]," \
		"workloads: $all_workloads)" ;;
	esac
	shift
done
workloads=${workloads:-$all_workloads}
[ -n "$out" ] && [ -e "$out" ] && [ -n "$(ls -A "$out" 2> /dev/null)" ] &&
	die "$out exists and is not empty"
[ "$(id -u)" -eq 0 ] || die "must run as root (mounts, drop_caches, an sshd)"
[ -c /dev/fuse ] || die "/dev/fuse is missing: load the fuse module (modprobe fuse)"

cd "$top" || exit 1
scripts/deps.sh bench || die "failed to install the benchmark's packages"
scripts/build.sh > /dev/null || die "failed to build"

# ---- sizes -----------------------------------------------------------------
if [ -n "$quick" ]; then
	meta_shape=4x25 meta_rounds=1
	scale_shape=4x25
	build_targets=lib/ctype.o	# kconfig, prepare and one object
	fio_size=8M fio_loops=2 fio_runtime=1 fio_files=200
	net_shape=2x10 net_rounds=1 net_gap=1.5
	vm_shape=4x25 vm_rounds=1 vm_passes=1 vm_fio=8M:1:1
	miss_shape=4x25 miss_rounds=1 miss_passes=1
else
	meta_shape=50x100 meta_rounds=3
	scale_shape=100x1000
	build_targets=
	fio_size=256M fio_loops=20 fio_runtime=10 fio_files=20000
	# spaced: more than the old 1 s lifetimes, less than sshfs's own 20 s
	net_shape=10x100 net_rounds=1 net_gap=3
	# as meta; one warm pass each, five of them: single TCG passes swing.
	# A sequential read pass of 1 GiB (16 loops over 64 MiB): at 128 MiB
	# (80 ms) stalls of the host moved every FUSE configuration's figure
	# from 0.9x native to 0.7x between two runs of the same build
	vm_shape=50x100 vm_rounds=1 vm_passes=5 vm_fio=64M:16:5
	# as ext: the median of five passes, each the median directory's
	miss_shape=50x100 miss_rounds=1 miss_passes=5
fi
commit=$(git -C "$top" rev-parse --short=12 HEAD 2> /dev/null || echo unknown)
[ -n "$(git -C "$top" status --porcelain --untracked-files=no 2> /dev/null)" ] &&
	commit="$commit-dirty"
if [ -z "$out" ]; then
	out=$top/bench/results/$(date -u +%Y%m%d-%H%M%S)-${commit%-dirty}${quick:+-quick}
fi
mkdir -p "$out/raw" || die "failed to create $out"
out=$(cd "$out" && pwd)

# ---- temp dir, and everything goes on exit -----------------------------------
# bf_cleanup: whatever is mounted under $work, every background job, $work
source "$top/test/lib.sh"
work=$(mktemp -d /tmp/bpfuse-bench.XXXXXX)
chmod 755 "$work"
made_run_sshd=
uring_param=/sys/module/fuse/parameters/enable_uring
uring_was=
cleanup() {
	trap - EXIT INT TERM
	bf_cleanup
	[ -n "$made_run_sshd" ] && rmdir /run/sshd 2> /dev/null
	# after the mounts are gone: the switch is read at mount time
	[ -z "$uring_was" ] || echo "$uring_was" > "$uring_param"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$work/back" "$work/mnt" "$work/ssh-mnt" "$work/src" "$work/ssh"
mount -t tmpfs -o mode=755 bpfuse-bench "$work/back" || die "failed to mount a tmpfs"

bb_commit=$commit
printf 'commit\tkernel\tcpu\tcores\tram\tworkload\tconfig\tcase\tmetric\tvalue\tunit\n' \
	> "$out/results.tsv"
bb_emit() { printf '%s\n' "$1" >> "$out/results.tsv"; }
info() { printf '%s\t%s\n' "$1" "$2" >> "$out/info.tsv"; }
info date "$(date -u '+%Y-%m-%d %H:%M UTC')"
info commit "$commit"
info mode "$([ -n "$quick" ] && echo quick || echo full)"
info workloads "${workloads# }"
info machine "$bb_machine"
info size_meta "${meta_shape/x/ directories × } files, $meta_rounds warm pass(es)"
info size_scale "${scale_shape/x/ directories × } files, 2 warm passes"
info size_build "make -j4 ${build_targets:-(everything)}"
info size_fio "a $fio_size file read $fio_loops times; random I/O for $fio_runtime s;\
 $fio_files files created"
info size_net "${net_shape/x/ directories × } files, $net_rounds warm pass(es), one more\
 after $net_gap s idle"
info size_miss "${miss_shape/x/ directories × } files for each configuration, one untimed\
 pass, then $miss_passes timed pass(es) of $miss_rounds round(s), each pass's figure the median\
 directory's, the median of the passes"
info size_ext "${vm_shape/x/ directories × } files, $vm_rounds warm pass(es), every\
 configuration in one run a directory at a time, each pass's figure the median directory's,\
 the median of $vm_passes passes; fio (size:loops:seconds) $vm_fio, the median of $vm_passes"

# ---- FUSE over io_uring, on for the run ---------------------------------------
# The kernel's switch is machine-wide and read at mount time: on, the ring
# configurations ride the ring and bpfused's defaults are what they are on
# such a machine (io_uring for a local backend); put back by cleanup.
# Without it (a kernel before 6.14) the ring configurations fail, each
# saying so (bb_mount).
if [ -w "$uring_param" ]; then
	uring_was=$(cat "$uring_param")
	echo Y > "$uring_param" || die "failed to turn FUSE over io_uring on ($uring_param)"
	info uring "on for the run (enable_uring was $uring_was)"
else
	info uring "not in this kernel (no $uring_param)"
fi

# ---- libfuse 3.18.3's passthrough_ll and passthrough_hp, built for the run -----
# From the source scripts/libfuse.sh fetches, the libfuse bpfused runs on:
# each over /dev/fuse and over io_uring, the same library as ours. A release
# build, as libfuse's own: meson's default (-O0) would handicap them.
bb_ptll=$work/libfuse/example/passthrough_ll
bb_pthp=$work/libfuse/example/passthrough_hp
build_peers() {
	local src
	src=$(scripts/libfuse.sh --source) || return 1
	meson setup "$work/libfuse" "$src" --buildtype=release -Dexamples=true -Dutils=false \
		-Dtests=false > "$work/libfuse.log" 2>&1 &&
		ninja -C "$work/libfuse" example/passthrough_ll example/passthrough_hp \
			>> "$work/libfuse.log" 2>&1 ||
		{ tail -20 "$work/libfuse.log" >&2; return 1; }
	# in the foreground, as every daemon here; the rest are its defaults
	printf '#!/bin/sh\nexec %s --foreground "$@"\n' "$bb_pthp" > "$work/pthp-fg"
	chmod +x "$work/pthp-fg"
	bb_pthp=$work/pthp-fg
}
# only when the run mounts one of them: the build takes a while
peers=
for wl in $workloads; do
	case $wl in
	meta | build | fio) peers="$peers $host_configs" ;;
	scale) peers="$peers $scale_configs" ;;
	net) peers="$peers $net_configs" ;;
	miss) peers="$peers $miss_configs" ;;
	esac
done
for cfg in $peers; do
	case $(bb_config "$cfg" daemon 2> /dev/null) in
	passthrough_*) build_peers || die "failed to build libfuse's examples"; break ;;
	esac
done

# ---- the sshd the sshfs configurations talk to ------------------------------
sshd_port=
sshd_start() {
	local k=$work/ssh _
	ssh-keygen -q -t ed25519 -N '' -C bpfuse-bench-host -f "$k/host_key" &&
		ssh-keygen -q -t ed25519 -N '' -C bpfuse-bench -f "$k/id" || return 1
	cp "$k/id.pub" "$k/authorized_keys"
	sshd_port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
	cat > "$k/sshd_config" <<-EOF
		ListenAddress 127.0.0.1
		Port $sshd_port
		HostKey $k/host_key
		PidFile none
		PermitRootLogin prohibit-password
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		StrictModes no
		AuthorizedKeysFile $k/authorized_keys
		Subsystem sftp internal-sftp
	EOF
	# privilege separation needs it; the system's sshd would make it too
	if [ ! -d /run/sshd ]; then
		mkdir -m 755 /run/sshd && made_run_sshd=1
	fi
	/usr/sbin/sshd -t -f "$k/sshd_config" 2> "$k/sshd.log" || { cat "$k/sshd.log" >&2; return 1; }
	/usr/sbin/sshd -D -e -f "$k/sshd_config" 2> "$k/sshd.log" &
	sshd_pid=$!
	for _ in $(seq 100); do
		ssh -F /dev/null -p "$sshd_port" -i "$k/id" -o BatchMode=yes -o LogLevel=ERROR \
			-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1 true \
			2> /dev/null && return 0
		sleep 0.1
	done
	cat "$k/sshd.log" >&2
	return 1
}
sshd_stop() {
	[ -n "${sshd_pid:-}" ] || return 0
	kill "$sshd_pid" 2> /dev/null
	wait "$sshd_pid" 2> /dev/null
	sshd_pid=
}
# bb_sshfs BACK MNT: run by bb_mount in the background, as the mount's daemon
bb_sshfs() {
	exec sshfs -f -F /dev/null -p "$sshd_port" -o "IdentityFile=$work/ssh/id" \
		-o BatchMode=yes,LogLevel=ERROR,StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null "root@127.0.0.1:$1" "$2"
}

# ---- workloads -----------------------------------------------------------------
wl_meta() {
	local cfg
	mkdir "$work/back/meta"
	bench/mdbench create "$work/back/meta" "${meta_shape%x*}" "${meta_shape#*x}" || return 1
	for cfg in $host_configs; do
		bb_meta meta "$cfg" "$work/back/meta" "$meta_shape" "$meta_rounds"
	done
	rm -rf "$work/back/meta"
}

wl_scale() {
	local cfg dir rc=0
	mkdir "$work/back/scale"
	bench/mdbench create "$work/back/scale" "${scale_shape%x*}" "${scale_shape#*x}" || return 1
	for cfg in $scale_configs; do
		dir=$work/back/scale
		if [ "$cfg" != native ]; then
			dir=$work/mnt
			bb_mount "$cfg" "$work/back/scale" "$dir" ||
				{ bb_fail scale "$cfg" "mount: $(tail -1 "$work/daemon.log")"; continue; }
		fi
		bb_drop_caches
		bb_md_pass scale "$cfg" stat cold "$dir" "$scale_shape" 1 &&
			bb_md_pass scale "$cfg" stat warm "$dir" "$scale_shape" 2 || rc=1
		[ "$cfg" = native ] || bb_umount "$dir"
	done
	rm -rf "$work/back/scale"
	return "$rc"
}

wl_build() {
	local cfg tree dir t0 rc wall
	[ -r "$linux_src" ] || { bb_fail build all "$linux_src is missing"; return 1; }
	if ! mount -t tmpfs bpfuse-bench-src "$work/src" || ! tar -xf "$linux_src" -C "$work/src"; then
		bb_fail build all "failed to unpack $linux_src"
		return 1
	fi
	tree=$(cd "$work/src" && echo linux-source-*)
	# untimed: brings the toolchain into the page cache, so that the first
	# configuration timed (native) does not pay for it
	make -s -C "$work/src/$tree" O="$work/warm" tinyconfig > /dev/null 2>&1
	rm -rf "$work/warm"
	export KBUILD_BUILD_TIMESTAMP="Thu Jan  1 00:00:00 UTC 2026" KBUILD_BUILD_USER=bpfuse \
		KBUILD_BUILD_HOST=bpfuse KBUILD_BUILD_VERSION=1
	for cfg in $host_configs; do
		cp -a "$work/src/$tree" "$work/back/linux"
		dir=$work/back
		if [ "$cfg" != native ]; then
			dir=$work/mnt
			if ! bb_mount "$cfg" "$work/back" "$dir"; then
				bb_fail build "$cfg" "mount: $(tail -1 "$work/daemon.log")"
				rm -rf "$work/back/linux"
				continue
			fi
		fi
		bb_snap a
		t0=$(date +%s.%N)
		# shellcheck disable=SC2086
		(cd "$dir/linux" && make -s tinyconfig && make -s -j4 $build_targets) \
			> "$work/build.log" 2>&1
		rc=$?
		wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
		bb_snap b
		if [ "$rc" = 0 ]; then
			bb_row build "$cfg" - wall "$wall" s
			bb_requests build "$cfg" - 0
		else
			cp "$work/build.log" "$out/raw/build-$cfg.log"
			bb_fail build "$cfg" "make: $(grep -m1 -iE 'error|too many' "$work/build.log" ||
				tail -1 "$work/build.log")"
		fi
		[ "$cfg" = native ] || bb_umount "$dir"
		rm -rf "$work/back/linux"
	done
	umount "$work/src"
}

wl_fio() {
	local cfg job dir
	export BENCH_FIO_SIZE=$fio_size BENCH_FIO_LOOPS=$fio_loops \
		BENCH_FIO_RUNTIME=$fio_runtime BENCH_FIO_FILES=$fio_files
	for cfg in $host_configs; do
		mkdir "$work/back/fio"
		dir=$work/back/fio
		if [ "$cfg" != native ]; then
			if ! bb_mount "$cfg" "$work/back" "$work/mnt"; then
				bb_fail fio "$cfg" "mount: $(tail -1 "$work/daemon.log")"
				rm -rf "$work/back/fio"
				continue
			fi
			dir=$work/mnt/fio
		fi
		for job in seqread randrw filecreate; do
			bb_snap a
			if fio --output-format=json --output="$out/raw/fio-$job-$cfg.json" \
				--directory="$dir" "$top/bench/fio/$job.fio" > "$work/fio.log" 2>&1 &&
				python3 bench/report.py fio "$out/raw/fio-$job-$cfg.json" > "$work/fio.rows"; then
				bb_snap b
				while read -r metric value unit; do
					bb_row fio "$cfg" "$job" "$metric" "$value" "$unit"
				done < "$work/fio.rows"
				bb_requests fio "$cfg" "$job" 0
			else
				bb_fail fio "$cfg" "$job: $(tail -1 "$work/fio.log")"
			fi
		done
		[ "$cfg" = native ] || bb_umount "$work/mnt"
		rm -rf "$work/back/fio"
	done
}

wl_net() {
	local cfg
	mkdir "$work/back/net"
	bench/mdbench create "$work/back/net" "${net_shape%x*}" "${net_shape#*x}" || return 1
	sshd_start || bb_fail net sshd "failed to start an sshd on 127.0.0.1"
	for cfg in $net_configs; do
		if [ -z "$sshd_port" ] && [ "${cfg#sshfs}" != "$cfg" ]; then
			bb_fail net "$cfg" "no sshd"
			continue
		fi
		bb_meta net "$cfg" "$work/back/net" "$net_shape" "$net_rounds" "$net_gap"
	done
	sshd_stop
	rm -rf "$work/back/net"
}

wl_ext() {
	local rows
	# about 5 minutes at full size; run.sh's default limit (900 s) is near
	BPFUSE_VM_TIMEOUT=${BPFUSE_VM_TIMEOUT:-3600} \
		BPFUSE_VM_CMDLINE="bpfuse_bench_shape=$vm_shape bpfuse_bench_rounds=$vm_rounds \
bpfuse_bench_passes=$vm_passes bpfuse_bench_fio=$vm_fio" \
		test/vm/run.sh bench/vm-guest.sh > "$out/raw/vm.out" 2>&1
	rows=$(grep -a "^bpfuse-bench:$(printf '\t')" "$out/raw/vm.out" | cut -f2- |
		awk -F '\t' -v OFS='\t' -v c="$commit" '{ $1 = c; print }')
	[ -n "$rows" ] && printf '%s\n' "$rows" >> "$out/results.tsv"
	# the guest's failures are rows already; a guest that never ran is one here
	if ! grep -q '^[0-9]* passed, 0 failed$' "$out/raw/vm.out"; then
		bb_fail ext vm "the guest run failed: $(grep -a -m1 -E '^not ok|^vm: ' "$out/raw/vm.out")"
	fi
}

# miss: every access reaches the daemon (bpfused's configurations in the
# set turn the caches off in their options, libfuse's examples get their
# timeouts at 0: bb_no_cache). Each configuration over a tree of its own on
# a tmpfs of its own: a daemon's watcher hears every change to its backing
# file system, and one configuration's create-unlink must not wake
# another's. All mounted at once; each pass one mdbench run that takes them
# all a directory at a time (-a) and gives each the median directory's time
# per call (-m): what slows the machine for a while falls on every
# configuration alike, and a stall counts for none.
miss_ops="stat stat-missing getxattr open-close readdir create-unlink"
wl_miss() {
	local cfg op i dir name calls us why rc=0 cfgs='' first='' also=()
	local -A stats_of pid_of
	bb_no_cache=1
	for cfg in $miss_configs; do
		dir=$work/miss/$cfg
		mkdir -p "$dir/back" "$dir/mnt"
		if ! mount -t tmpfs -o mode=755 "bpfuse-bench-$cfg" "$dir/back" ||
			! bench/mdbench create "$dir/back" "${miss_shape%x*}" "${miss_shape#*x}"; then
			bb_fail miss "$cfg" "failed to make its tree"
			continue
		fi
		if [ "$cfg" = native ]; then
			dir=$dir/back
		else
			# its own daemon.log and snapshots, as bb_mount and bb_snap keep them in $work
			if ! work=$dir bb_mount "$cfg" "$dir/back" "$dir/mnt"; then
				bb_fail miss "$cfg" "mount: $(tail -1 "$dir/daemon.log")"
				continue
			fi
			pid_of[$cfg]=$bb_pid
			stats_of[$cfg]=$bb_stats_mnt
			# a peer's requests too: bpfusectl counts any FUSE mount's from
			# its first stats on, with the programs bpfused's own mounts
			# load, so each pays the same for being counted
			if [ -z "$bb_stats_mnt" ] &&
				"$top/bpfusectl" stats "$dir/mnt" > /dev/null 2>&1; then
				stats_of[$cfg]=$dir/mnt
			fi
			# where configs.tsv names one, what bb_mount checked
			[ -n "$bb_transport" ] && bb_row miss "$cfg" - transport "$bb_transport" -
			dir=$dir/mnt
		fi
		cfgs="$cfgs $cfg"
		# mdbench's first tree is its DIR argument, the others -a
		if [ -z "$first" ]; then
			first=$dir
		else
			also+=(-a "$dir")
		fi
	done
	for op in $miss_ops; do
		[ -n "$cfgs" ] || { rc=1; break; }
		# untimed: the daemons' tables and the backend's caches as the
		# timed passes find them
		if ! bench/mdbench run -o "$op" -s "$miss_shape" "${also[@]}" "$first" 1 > /dev/null \
			2> "$work/md.err"; then
			bb_fail miss all "$op: $(tail -1 "$work/md.err")"
			rc=1
			continue
		fi
		for cfg in $cfgs; do
			: > "$work/miss/$cfg/md.times"
			bb_stats_mnt=${stats_of[$cfg]:-} work=$work/miss/$cfg bb_snap a
		done
		why=
		for ((i = 0; i < miss_passes; i++)); do
			if ! bench/mdbench run -m -o "$op" -s "$miss_shape" "${also[@]}" "$first" \
				"$miss_rounds" > "$work/md.out" 2> "$work/md.err"; then
				why=$(tail -1 "$work/md.err" | grep . || echo "mdbench failed")
				break
			fi
			for cfg in $cfgs; do
				dir=$work/miss/$cfg/mnt
				[ "$cfg" = native ] && dir=$work/miss/$cfg/back
				# one tree: no tree at the end of the line
				read -r name calls us < <(awk -v op="$op" -v t="$dir" \
					'$1 == op && (NF == 3 || $4 == t) { print $1, $2, $3 }' "$work/md.out")
				if [ "${name:-}" != "$op" ] || [ -z "${us:-}" ]; then
					why="mdbench printed no figure for $cfg"
					break 2
				fi
				echo "$us" >> "$work/miss/$cfg/md.times"
			done
		done
		if [ -n "$why" ]; then
			bb_fail miss all "$op: $why"
			rc=1
			continue
		fi
		for cfg in $cfgs; do
			bb_stats_mnt=${stats_of[$cfg]:-} work=$work/miss/$cfg bb_snap b
			bb_row miss "$cfg" "$op/warm" us "$(bb_median < "$work/miss/$cfg/md.times")" us/op
			bb_stats_mnt=${stats_of[$cfg]:-} work=$work/miss/$cfg \
				bb_requests miss "$cfg" "$op/warm" "$((calls * miss_passes))" || rc=1
		done
	done
	for cfg in $cfgs; do
		[ "$cfg" = native ] && continue
		bb_pid=${pid_of[$cfg]}
		bb_umount "$work/miss/$cfg/mnt"
	done
	for cfg in $miss_configs; do
		umount "$work/miss/$cfg/back" 2> /dev/null
	done
	rm -rf "$work/miss"
	bb_no_cache=
	return "$rc"
}

start=$SECONDS
for wl in $workloads; do
	t0=$SECONDS
	echo "bench: $wl ..." >&2
	"wl_$wl" || bb_fail "$wl" all "the workload could not run"
	info "seconds_$wl" "$((SECONDS - t0))"
done
info seconds "$((SECONDS - start))"

python3 bench/report.py render "$out" || die "failed to write the report in $out"
failed=$(awk -F '\t' '$9 == "status" && $10 == "failed"' "$out/results.tsv" | wc -l)
echo "bench: results in $out ($((SECONDS - start)) s)"
[ "$failed" -eq 0 ] || die "$failed measurement(s) failed: see $out/results.md"
