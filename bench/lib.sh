# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2154
# Shared by bench/run.sh (the host) and bench/vm-guest.sh (the 6.12 guest):
# the configurations (declared in bench/configs.tsv) and how to mount them,
# the metadata workload with the requests each operation sends to the
# daemon, and result rows. Sourced; the caller sets top (the build tree)
# and work (its temp dir), and defines bb_emit ROW, which stores or prints
# one tab-separated result row.

BB_OPS="stat stat-missing getxattr getxattr-absent open-close readdir"
bb_configs_tsv=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/configs.tsv

bb_pid=		# the daemon serving the current mount
bb_transport=	# how it is served, where configs.tsv says (bb_mount)
bb_why=		# why bb_mount failed, when the daemon does not say
bb_stats_mnt=	# where bpfusectl reads the current mount's statistics, if anywhere
bb_commit=-	# the host fills it in for the guest's rows
bb_pin=()	# a prefix for the daemons and mdbench (the guest pins them to one CPU)
bb_passes=1	# warm passes timed apart; their median is the figure
bb_no_cache=	# set: libfuse's examples with every timeout 0 (bpfused's
		# configurations say their own, in their options)

# What every row carries beside its result: kernel, CPU model, cores, RAM.
bb_machine=$(printf '%s\t%s\t%s\t%s' "$(uname -r)" \
	"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" "$(nproc)" \
	"$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)")

# bb_row WORKLOAD CONFIG CASE METRIC VALUE UNIT
bb_row() {
	bb_emit "$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$bb_commit" "$bb_machine" "$@")"
}

# bb_fail WORKLOAD CONFIG WHY: a failed measurement is a result too
bb_fail() {
	echo "bench: $1/$2 failed: $3" >&2
	bb_row "$1" "$2" - status failed "$(printf '%s' "$3" | tr '\t\n' '  ' | cut -c1-120)"
}

# bb_config CONFIG COLUMN: that column of CONFIG's line in configs.tsv
# (daemon, options, sets, label, what); fails for an unknown CONFIG
bb_config() {
	awk -F '\t' -v cfg="$1" -v col="$2" '
		/^#/ { next }
		!head++ { for (i = 1; i <= NF; i++) at[$i] = i; next }
		$1 == cfg && at[col] { print $at[col]; found = 1 }
		END { exit !found }' "$bb_configs_tsv"
}

# bb_configs SET: the configurations a run of SET measures by default
# (host, scale, net or guest), in the order declared; net's own first, then
# its NAME+1ms and sshfs+NAME
bb_configs() {
	awk -F '\t' -v set="$1" '
		/^#/ { next }
		!head++ { for (i = 1; i <= NF; i++) if ($i == "sets") col = i; next }
		{
			n = split($col, s, " ")
			for (i = 1; i <= n; i++) {
				if (s[i] == set)
					own = own " " $1
				else if (set == "net" && s[i] == "+1ms")
					lat = lat " " $1 "+1ms"
				else if (set == "net" && s[i] == "sshfs+")
					ssh = ssh " sshfs+" $1
			}
		}
		END { all = own lat ssh; sub(/^ /, "", all); print all; exit all == "" }' \
		"$bb_configs_tsv"
}

# bb_opts CONFIG: bpfused's options for a configuration; fails for one
# that bpfused does not serve
bb_opts() {
	local opts
	[ "$(bb_config "$1" daemon)" = bpfused ] || return 1
	opts=$(bb_config "$1" options) || return 1
	[ "$opts" = - ] || echo "$opts"
}

# bb_wait_mount MNT: until MNT is mounted, while bb_pid lives
bb_wait_mount() {
	local _
	for _ in $(seq 200); do
		mountpoint -q "$1" && return 0
		kill -0 "$bb_pid" 2> /dev/null || return 1
		sleep 0.05
	done
	return 1
}

# bb_mount CONFIG BACK MNT: serve BACK on MNT as CONFIG, one of
#   those configs.tsv gives bpfused as daemon (bb_opts)
#   passthrough_ll              libfuse's example ($bb_ptll), -o source=BACK
#                               and CONFIG's options (bb_no_cache: and
#                               timeout=0)
#   passthrough_hp              libfuse's example ($bb_pthp) with -o
#                               CONFIG's options (kernel passthrough where
#                               it can; bb_no_cache: --nocache, timeouts 0)
#   sshfs                       sshfs of BACK over ssh to 127.0.0.1 (bb_sshfs)
#   X+1ms                       bpfused X with backend_latency=1ms
#   sshfs+X                     bpfused X over an sshfs of BACK
# A configuration whose transport configs.tsv names must be served over it
# (bb_transport_is); one composed of it is not held to it: bpfused over an
# sshfs or a slow backend uses /dev/fuse by design.
# Fails with the daemon's last words, or why its transport is wrong, on
# stderr and last in $work/daemon.log.
bb_mount() {
	local cfg=$1 back=$2 mnt=$3 opts daemon want
	bb_stats_mnt=
	bb_transport=
	daemon=$(bb_config "$cfg" daemon 2> /dev/null)
	case $cfg in
	sshfs)
		bb_sshfs "$back" "$mnt" 2> "$work/daemon.log" &
		;;
	sshfs+*)
		bb_mount sshfs "$back" "$work/ssh-mnt" || return 1
		bb_sshfs_pid=$bb_pid
		local bb_composed=1
		bb_mount "${cfg#sshfs+}" "$work/ssh-mnt" "$mnt"
		return
		;;
	*+1ms)
		opts=$(bb_opts "${cfg%+1ms}")
		opts=${opts:+$opts,}backend_latency=1ms
		"${bb_pin[@]}" "$top/bpfused" -f -o "$opts" "$back" "$mnt" 2> "$work/daemon.log" &
		bb_stats_mnt=$mnt
		;;
	*)
		opts=$(bb_config "$cfg" options 2> /dev/null)
		[ "$opts" = - ] && opts=
		case $daemon in
		passthrough_ll)
			"${bb_pin[@]}" "$bb_ptll" -f \
				-o "source=$back${opts:+,$opts}${bb_no_cache:+,timeout=0}" "$mnt" \
				2> "$work/daemon.log" &
			;;
		passthrough_hp)
			"${bb_pin[@]}" "$bb_pthp" ${bb_no_cache:+--nocache} ${opts:+-o "$opts"} \
				"$back" "$mnt" 2> "$work/daemon.log" &
			;;
		bpfused)
			env BPFUSE_UPCALL_PROBE="$([ "$cfg" = ext-nostats ] && echo none)" \
				"${bb_pin[@]}" "$top/bpfused" -f ${opts:+-o "$opts"} "$back" "$mnt" \
				2> "$work/daemon.log" &
			bb_stats_mnt=$mnt
			;;
		*)
			echo "bench: unknown configuration $cfg" | tee "$work/daemon.log" >&2
			return 1
			;;
		esac
		;;
	esac
	bb_pid=$!
	bb_why=
	if bb_wait_mount "$mnt" && bb_wait_stats; then
		want=$(bb_config "$cfg" transport 2> /dev/null)
		[ -n "${bb_composed:-}" ] || [ -z "$want" ] || [ "$want" = - ] && return 0
		bb_transport_is "$want" "$mnt" && return 0
	fi
	echo "bench: failed to mount $cfg on $mnt:" \
		"${bb_why:-$(tail -3 "$work/daemon.log" | tr '\n' ' ')}" >&2
	bb_umount "$mnt"
	# last, after what the daemon says as it exits: callers quote the last line
	[ -z "$bb_why" ] || echo "bench: $cfg: $bb_why" >> "$work/daemon.log"
	return 1
}

# bb_wait_stats: until bpfusectl reads the current mount's statistics, if it
# has any (in the foreground, bpfused pins its maps just after the mount
# appears)
bb_wait_stats() {
	local _
	[ -z "$bb_stats_mnt" ] && return 0
	for _ in $(seq 100); do
		"$top/bpfusectl" stats "$bb_stats_mnt" > /dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# bb_transport_is WANT MNT: whether the daemon bb_pid serves MNT over WANT
# (io_uring or /dev/fuse): what it is into bb_transport, why not into
# bb_why. libfuse runs a ring over threads it names fuse-ring-N, started
# before it answers INIT (and ended again if the kernel refuses the ring):
# once a request has been answered, their number is final. bpfused says
# which it uses, which must agree.
bb_transport_is() {
	local want=$1 mnt=$2 rings said
	stat "$mnt" > /dev/null || { bb_why="stat of $mnt failed"; return 1; }
	rings=$(ps -L -o comm= -p "$bb_pid" | grep -c '^fuse-ring-')
	bb_transport=/dev/fuse
	[ "$rings" -gt 0 ] && bb_transport=io_uring
	if [ -n "$bb_stats_mnt" ]; then
		said=$("$top/bpfusectl" stats -j "$bb_stats_mnt" | jq -r .transport)
		if [ "$said" != "$bb_transport" ]; then
			bb_why="$rings fuse-ring threads, but bpfused says ${said:-nothing}"
			return 1
		fi
	fi
	[ "$bb_transport" = "$want" ] && return 0
	bb_why="served over $bb_transport ($rings fuse-ring threads), not over $want"
	return 1
}

# bb_umount MNT: unmount what bb_mount mounted there, wait for its daemons
bb_umount() {
	umount "$1" 2> /dev/null || umount -l "$1" 2> /dev/null
	[ -n "$bb_pid" ] && wait "$bb_pid" 2> /dev/null
	bb_pid=
	bb_stats_mnt=
	if [ -n "${bb_sshfs_pid:-}" ]; then
		umount "$work/ssh-mnt" 2> /dev/null || umount -l "$work/ssh-mnt" 2> /dev/null
		wait "$bb_sshfs_pid" 2> /dev/null
		bb_sshfs_pid=
	fi
	return 0
}

bb_drop_caches() {
	sync
	echo 3 > /proc/sys/vm/drop_caches
}

# bb_snap NAME: the current mount's statistics into $work/NAME.json
bb_snap() {
	[ -z "$bb_stats_mnt" ] || "$top/bpfusectl" stats -j "$bb_stats_mnt" > "$work/$1.json"
}

# bb_delta A.json B.json: the requests between two `bpfusectl stats -j`
# snapshots: "REACHED KERNEL_HITS BACKEND_CALLS", then OPCODE=REACHED for
# each opcode that reached the daemon. Upcalls are counted where a request
# ends, which one the extension answers never reaches: they are what reached
# the daemon. jq, not python: python takes seconds to start under TCG.
bb_delta() {
	jq -rn --slurpfile a "$1" --slurpfile b "$2" '$a[0] as $A | $b[0] as $B |
	if ($B.upcalls_counted | not) then "- 0 0" else
		[$B.ops | to_entries[] | .key as $op | $A.ops[$op] as $p | .value |
			{ op: $op, r: (.upcalls - $p.upcalls), kh: (.kernel_hits - $p.kernel_hits),
			  bc: (.backend_calls - $p.backend_calls) }] as $d |
		"\($d | map(.r) | add) \($d | map(.kh) | add) \($d | map(.bc) | add)",
		($d[] | select(.r > 0) | "\(.op)=\(.r)")
	end'
}

# bb_requests WORKLOAD CONFIG CASE CALLS: rows for the requests between the
# snapshots a and b, per call (CALLS > 0) or in all with one row per opcode
# (CALLS = 0). Nothing when the configuration has no statistics.
bb_requests() {
	local wl=$1 cfg=$2 case=$3 calls=$4 total khit back op n
	[ -n "$bb_stats_mnt" ] || return 0
	bb_delta "$work/a.json" "$work/b.json" > "$work/delta" || return 1
	read -r total khit back < "$work/delta"
	if [ "$calls" -gt 0 ]; then
		bb_row "$wl" "$cfg" "$case" req "$(bb_div "$total" "$calls")" req/op
		bb_row "$wl" "$cfg" "$case" khit "$(bb_div "$khit" "$calls")" hits/op
		bb_row "$wl" "$cfg" "$case" backend "$(bb_div "$back" "$calls")" calls/op
	else
		bb_row "$wl" "$cfg" "$case" req "$total" requests
		bb_row "$wl" "$cfg" "$case" khit "$khit" hits
		bb_row "$wl" "$cfg" "$case" backend "$back" calls
	fi
	# one row per opcode that reached the daemon: op=N pairs after the totals
	tail -n +2 "$work/delta" | while IFS='=' read -r op n; do
		bb_row "$wl" "$cfg" "$case" "op:$op" "$n" requests
	done
}

bb_div() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-") print "-"; else printf "%.3f\n", a / b }'
}

# bb_median: the median of the numbers on stdin, one per line
bb_median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# bb_md_run WORKLOAD CONFIG OP DIR SHAPE ROUNDS TIMES: one timed mdbench run
# of OP, its µs per call appended to TIMES, its calls in bb_md_calls
bb_md_calls=0
bb_md_run() {
	local name us
	"${bb_pin[@]}" "$top/bench/mdbench" run -o "$3" -s "$5" "$4" "$6" > "$work/md.out" \
		2> "$work/md.err" || { bb_fail "$1" "$2" "$3: $(tail -1 "$work/md.err")"; return 1; }
	read -r name bb_md_calls us < <(tail -1 "$work/md.out")
	if [ "$name" != "$3" ] || [ -z "$us" ]; then
		bb_fail "$1" "$2" "$3: mdbench printed no figure"
		return 1
	fi
	echo "$us" >> "$7"
}

# bb_md_pass WORKLOAD CONFIG OP STATE DIR SHAPE ROUNDS [PASSES]: PASSES (1)
# timed mdbench runs of OP, the median of their times, the request counts
# around them all
bb_md_pass() {
	local wl=$1 cfg=$2 op=$3 state=$4 passes=${8:-1} i
	bb_snap a
	: > "$work/md.times"
	for ((i = 0; i < passes; i++)); do
		bb_md_run "$wl" "$cfg" "$op" "$5" "$6" "$7" "$work/md.times" || return 1
	done
	bb_snap b
	bb_row "$wl" "$cfg" "$op/$state" us "$(bb_median < "$work/md.times")" us/op
	bb_requests "$wl" "$cfg" "$op/$state" "$((bb_md_calls * passes))"
}

# bb_meta WORKLOAD CONFIG BACK SHAPE ROUNDS [GAP]: the metadata workload over
# the mdbench tree in BACK. For each kind of operation: a fresh mount (none
# for native), dropped caches, one cold pass, then ROUNDS warm passes (timed
# as one, bb_passes times: the median counts); with
# GAP, one more pass after GAP seconds idle ("spaced": what caches with
# short lifetimes still hold when accesses come that far apart).
bb_meta() {
	local wl=$1 cfg=$2 back=$3 shape=$4 rounds=$5 gap=${6:-} op dir rc=0
	for op in $BB_OPS; do
		dir=$back
		if [ "$cfg" != native ]; then
			dir=$work/mnt
			bb_mount "$cfg" "$back" "$dir" ||
				{ bb_fail "$wl" "$cfg" "mount: $(tail -1 "$work/daemon.log")"; return 1; }
		fi
		bb_drop_caches
		bb_md_pass "$wl" "$cfg" "$op" cold "$dir" "$shape" 1 &&
			bb_md_pass "$wl" "$cfg" "$op" warm "$dir" "$shape" "$rounds" "$bb_passes" || rc=1
		if [ "$rc" = 0 ] && [ -n "$gap" ]; then
			sleep "$gap"
			bb_md_pass "$wl" "$cfg" "$op" spaced "$dir" "$shape" 1 || rc=1
		fi
		[ "$cfg" = native ] || bb_umount "$dir"
		[ "$rc" = 0 ] || return 1
	done
}
