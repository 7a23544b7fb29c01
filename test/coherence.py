#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Changes made directly in the backing directory, behind bpfused's back,
must show through the mount. With every timeout at 60 s, or with the
default options (watched: the kernel's caches live a day, pages and
listings are kept), only the watcher can make them visible within the 2 s
this test allows; the measured window is printed as a TAP comment, never
asserted. Without a watch, the map and kernel timeouts bound staleness
instead. Speaks TAP."""
import os
import subprocess
import sys
import tempfile
import time

from bfmount import Mount

BOUND_S = 2.0

results = []


def report(ok, what):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {what}", flush=True)


def wait_for(cond):
    """Milliseconds until cond() holds, or None after BOUND_S."""
    start = time.monotonic()
    while True:
        try:
            if cond():
                return (time.monotonic() - start) * 1000
        except OSError:
            pass
        if time.monotonic() - start > BOUND_S:
            return None
        time.sleep(0.0002)


class PathsOnly:
    """Enough of a Mount to count the changes."""
    back = mnt = ""


PATHS_ONLY = PathsOnly()


def write_twice(back, mnt):
    """Write back in place after a quiet spell (an event the watcher sees),
    wait until the mount shows it and a little more (the watcher has taken
    the event and hushed the file), read it again (pages cached) and write
    again at once: that write is hushed, shown by the invalidation that
    ends the hush, 10 ms on. (Where the watcher is slower than the wait,
    the second write is an event of its own and shows at once.)"""
    time.sleep(0.1)
    fd = os.open(back, os.O_WRONLY)
    try:
        os.pwrite(fd, b"tw1\n", 0)  # the same size as before
        wait_for(lambda: open(mnt).read() == "tw1\n")
        time.sleep(0.003)
        open(mnt).read()
        os.pwrite(fd, b"tw2\n", 0)
    finally:
        os.close(fd)


def changes(m):
    """(what, change the backing dir, is it visible through the mount)"""
    b, t = m.back + "/", m.mnt + "/"

    def xattr_is(v):
        return lambda: os.getxattr(t + "f", "trusted.k") == v

    return [
        ("chmod", lambda: os.chmod(b + "f", 0o600),
         lambda: os.stat(t + "f").st_mode & 0o777 == 0o600),
        ("create", lambda: open(b + "new", "w").close(), lambda: os.path.exists(t + "new")),
        ("unlink", lambda: os.unlink(b + "new"), lambda: not os.path.exists(t + "new")),
        ("write", lambda: open(b + "f", "w").write("two\n"),
         lambda: open(t + "f").read() == "two\n"),
        # the watcher hushes a file's writes for a while after one it has
        # seen: a write in that while shows by the invalidation that ends it
        ("a write right after one seen", lambda: write_twice(b + "f", t + "f"),
         lambda: open(t + "f").read() == "tw2\n"),
        ("size", lambda: os.truncate(b + "f", 2), lambda: os.stat(t + "f").st_size == 2),
        ("listing gains a name", lambda: open(b + "listed", "w").close(),
         lambda: "listed" in os.listdir(t)),
        ("listing loses a name", lambda: os.unlink(b + "listed"),
         lambda: "listed" not in os.listdir(t)),
        ("setxattr", lambda: os.setxattr(b + "f", "trusted.k", b"w"), xattr_is(b"w")),
        ("mkdir", lambda: os.mkdir(b + "d"), lambda: os.path.isdir(t + "d")),
        # a directory's own change names the directory itself ("."), not a child
        ("chmod of a directory", lambda: os.chmod(b + "d", 0o700),
         lambda: os.stat(t + "d").st_mode & 0o777 == 0o700),
        ("rename", lambda: os.rename(b + "f", b + "d/g"),
         lambda: os.path.exists(t + "d/g") and not os.path.exists(t + "f")),
    ]


def warm(m):
    """Fill the kernel and map caches with the old state."""
    b, t = m.back + "/", m.mnt + "/"
    with open(b + "f", "w") as f:
        f.write("one\n")
    os.setxattr(b + "f", "trusted.k", b"v")
    os.stat(t + "f")
    os.path.exists(t + "new")
    os.path.exists(t + "d")
    open(t + "f").read()
    os.getxattr(t + "f", "trusted.k")
    os.listdir(t)
    os.listdir(t)


def run(label, opts):
    with tempfile.TemporaryDirectory(prefix="bpfuse-coherence.") as work:
        os.chmod(work, 0o755)
        m = Mount(work, opts)
        try:
            warm(m)
            for what, change, visible in changes(m):
                change()
                ms = wait_for(visible)
                report(ms is not None, f"{label}: {what} shows through the mount"
                       + (f" ({ms:.2f} ms)" if ms is not None else f" (not within {BOUND_S} s)"))
                if ms is not None:
                    print(f"# coherence window {label} {what}: {ms:.2f} ms")
        finally:
            m.close()


RUNS = [
    ("default options", ""),
    ("passthrough", "passthrough"),
    ("watched", "entry_timeout=60,attr_timeout=60,negative_timeout=60,map_timeout=60"),
    ("unwatched, 0.3 s expiry",
     "no_watch,entry_timeout=0.3,attr_timeout=0.3,negative_timeout=0.3,map_timeout=0.3"),
]


def negative_lifetime():
    """Unwatched, with map entries kept a minute: a name created on the
    server still shows once the kernel's "no such name" expires, since the
    maps keep negative entries no longer than the kernel does."""
    with tempfile.TemporaryDirectory(prefix="bpfuse-coherence.") as work:
        os.chmod(work, 0o755)
        m = Mount(work, "no_watch,entry_timeout=0.3,attr_timeout=0.3,"
                  "negative_timeout=0.3,map_timeout=60")
        try:
            late = m.mnt + "/late"
            for _ in range(3):   # cached as missing, in the kernel and the maps
                os.path.exists(late)
            open(m.back + "/late", "w").close()
            ms = wait_for(lambda: os.path.exists(late))
            report(ms is not None, "unwatched, maps 60 s: a name created behind the mount "
                   "shows once the negative lifetime ends"
                   + (f" ({ms:.0f} ms)" if ms is not None else f" (not within {BOUND_S} s)"))
        finally:
            m.close()


def stuck_directory():
    """One directory whose lock a slow request holds must not hold up the
    invalidations of everything else. Every backend call takes 1 s here: a
    lookup of a missing name in d holds d's lock that long, and the
    invalidation of a name created in d behind the mount waits for it. A
    chmod of f elsewhere, made just after, must still reach the kernel at
    once: 0.2 s on, a stat of f asks the daemon (slow) and sees the new
    mode, where a kernel never told would answer the old one at once."""
    with tempfile.TemporaryDirectory(prefix="bpfuse-coherence.") as work:
        os.chmod(work, 0o755)
        m = Mount(work, "backend_latency=1s")
        try:
            os.mkdir(m.back + "/d")
            with open(m.back + "/f", "w") as f:
                f.write("x")
            os.chmod(m.back + "/f", 0o644)
            os.stat(m.mnt + "/f")
            os.stat(m.mnt + "/d")
            os.path.exists(m.mnt + "/d/new")    # "no such name", cached
            pid = os.fork()
            if pid == 0:
                try:
                    os.stat(m.mnt + "/d/missing")
                except OSError:
                    pass
                os._exit(0)
            time.sleep(0.2)             # the lookup holds d's lock now
            open(m.back + "/d/new", "w").close()
            os.chmod(m.back + "/f", 0o600)
            time.sleep(0.2)
            mode = os.stat(m.mnt + "/f").st_mode & 0o777
            os.waitpid(pid, 0)
            report(mode == 0o600, "a directory held by a slow request holds up no other "
                   f"invalidation (mode {oct(mode)} 0.2 s after the chmod)")
        finally:
            m.close()


def main():
    print(f"1..{len(RUNS) * len(changes(PATHS_ONLY)) + 2}")
    for label, opts in RUNS:
        run(label, opts)
    negative_lifetime()
    stuck_directory()
    return 0


sys.exit(main())
