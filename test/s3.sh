#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Close-to-open over a real object store: bpfused (default options) over
# s3fs over an s3rver bucket on 127.0.0.1, through test/faultproxy.py.
# Data written through bpfused is on the server when close(2) returns;
# the operations of everyday tools leave the bucket as s3fs alone leaves
# it; a flush the server refuses fails close(2) through bpfused as it does
# on s3fs alone. Speaks TAP; servers are started and stopped here.
set -u
. "$(dirname "$0")/lib.sh"

s3rver_dir=/var/cache/bpfuse/s3rver
s3rver=$s3rver_dir/node_modules/.bin/s3rver
files=${BPFUSE_S3_FILES:-300}

echo "1..9"
need() { skip_rest 9 "close-to-open over s3fs" "$1"; }
command -v s3fs > /dev/null || need "s3fs is not installed (scripts/deps.sh test)"
if [ ! -x "$s3rver" ]; then
	command -v npm > /dev/null || need "npm is missing: no S3 server to test against"
	mkdir -p "$s3rver_dir"
	(cd "$s3rver_dir" && npm install --no-audit --no-fund --silent s3rver@3.7.1) > /dev/null 2>&1 ||
		need "npm could not install s3rver"
fi

work=$(mktemp -d /tmp/bpfuse-s3.XXXXXX)
chmod 755 "$work"
trap bf_cleanup EXIT
mkdir -p "$work/data" "$work/s3" "$work/mnt"
free_port() { $py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
s3_port=$(free_port)
proxy_port=$(free_port)
"$s3rver" -d "$work/data" -a 127.0.0.1 -p "$s3_port" --configure-bucket bt --silent > /dev/null &
$py "$bf_top/test/faultproxy.py" "$proxy_port" "$s3_port" "$work/fault" > "$work/requests" &
echo "S3RVER:S3RVER" > "$work/passwd"
chmod 600 "$work/passwd"
for _ in $(seq 100); do
	$py -c "import socket; socket.create_connection(('127.0.0.1', $s3_port)).close()" 2> /dev/null &&
		$py -c "import socket; socket.create_connection(('127.0.0.1', $proxy_port)).close()" \
			2> /dev/null && break
	sleep 0.1
done
s3fs bt "$work/s3" -o "url=http://127.0.0.1:$proxy_port,use_path_request_style" \
	-o "passwd_file=$work/passwd,allow_other,retries=1" || need "s3fs did not mount"
"$bpfused" -f "$work/s3" "$work/mnt" 2> "$work/log" &
pid=$!
for _ in $(seq 100); do mountpoint -q "$work/mnt" && break; sleep 0.05; done

# The server's copy of KEY, as s3rver stores it.
object() { cat "$work/data/bt/$1._S3rver_object" 2> /dev/null; }
# Every object under PREFIX/ with its content's checksum, keys relative to it.
objects() {
	(cd "$work/data/bt/$1" 2> /dev/null && find . -name '*._S3rver_object' | sort |
		while read -r f; do echo "${f%._S3rver_object} $(md5sum < "$f" | cut -c1-32)"; done)
}

check "bpfused over s3fs chose close_to_open" grep -q close_to_open "$work/log"

echo hello > "$work/mnt/echoed"
check "echo: the object holds the data when the shell's close returns" \
	test "$(object echoed)" = hello

mkdir "$work/mnt/many"
missing=$($py "$bf_top/test/closecheck.py" "$work/mnt/many" "$work/data/bt/many" "$files" \
	._S3rver_object)
check "$files files written through bpfused: $missing missing or different on the server after close" \
	test "$missing" = 0

# The same everyday operations through s3fs alone (a/) and through bpfused (b/).
tar -C "$bf_top" -cf "$work/tree.tar" man docs/examples
for side in "s3/a" "mnt/b"; do
	d=$work/$side
	mkdir "$d"
	echo one > "$d/echoed"
	touch "$d/touched"
	cp "$bf_top/README.md" "$d/copied"
	tar -C "$d" -xf "$work/tree.tar"
	mv "$d/copied" "$d/moved"
	echo two >> "$d/echoed"
	rm "$d/touched"
done
check "echo, touch, cp, tar x, mv, rm: the bucket as through s3fs alone" \
	diff <(objects a) <(objects b)
check "the tree is all there" test "$(objects b | wc -l)" -ge 5

# A flush the server refuses: close(2) fails, through bpfused as on s3fs alone.
close_fails() {
	$py - "$1" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
os.write(fd, b"lost?\n")
try:
    os.close(fd)
except OSError as e:
    print(f"close: {e.strerror}")
    sys.exit(0)
sys.exit(1)
EOF
}
echo "500 PUT" > "$work/fault"
alone=$(close_fails "$work/s3/refused-alone")
through=$(close_fails "$work/mnt/refused")
echo pass > "$work/fault"
echo "# s3fs alone: ${alone:-close succeeded}; through bpfused: ${through:-close succeeded}"
check "uploads answered 500: close(2) fails on s3fs alone" test -n "$alone"
check "uploads answered 500: close(2) fails through bpfused too" test -n "$through"
echo "503 PUT" > "$work/fault"
through=$(close_fails "$work/mnt/slowdown")
echo pass > "$work/fault"
check "uploads answered 503 SlowDown: close(2) fails through bpfused" test -n "$through"

echo again > "$work/mnt/after"
check "the server back to health: the next file reaches it" test "$(object after)" = again

umount "$work/mnt"
wait "$pid"
umount "$work/s3"
exit 0
