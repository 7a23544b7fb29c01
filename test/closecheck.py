#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Close-to-open, file by file: writes N files into DIR, each with its own
content, and right after each close(2) reads the server's copy of it,
STORE/fI plus SUFFIX (a Gluster brick's file, an s3rver object). Prints
how many were missing or different, and names each on stderr.

    closecheck.py DIR STORE N [SUFFIX]"""
import os
import sys


def main(d, store, n, suffix=""):
    bad = 0
    for i in range(int(n)):
        data = f"file {i}\n".encode() * (i % 50 + 1)
        fd = os.open(f"{d}/f{i}", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        os.write(fd, data)
        os.close(fd)
        try:
            with open(f"{store}/f{i}{suffix}", "rb") as f:
                got = f.read()
        except OSError as e:
            got = e.strerror
        if got != data:
            bad += 1
            print(f"{d}/f{i}: {len(data)} bytes written, the server's copy: "
                  f"{len(got) if isinstance(got, bytes) else got}", file=sys.stderr)
    print(bad)


main(*sys.argv[1:])
