#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""objstore: a small HTTP/1.1 object store over a directory, for objfs.

Objects are the regular files and directories under --root. Every request
waits --latency milliseconds before it is answered, to model a remote store.
Paths are URL-quoted and relative to the root ("" is the root itself):

  GET    /stat/PATH            "MODE SIZE MTIME_NS CTIME_NS NLINK ETAG"
  GET    /list/PATH            "NAME<tab>MODE SIZE ..." per entry
  GET    /data/PATH            the bytes; "Range: bytes=A-B" gives 206
  PUT    /data/PATH            the whole object; "If-None-Match: *" only
                               creates (412 if it exists)
  DELETE /data/PATH            unlink, or rmdir (409 if not empty)
  POST   /mkdir/PATH
  POST   /rename/PATH?to=NEW
  GET    /xattr/PATH           "NAME<tab>HEXVALUE" per user.* xattr
  GET    /requests/            how many requests it answered (for tests)

MODE is octal with the type bits; ETAG is hex and changes with the content.
A failure's body names the errno ("ENOENT\\n"), so a client can report the
exact error. Names holding a tab or a newline are not listed.
"""
import argparse
import errno
import hashlib
import os
import re
import stat
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATUS = {
    errno.ENOENT: 404,
    errno.EINVAL: 400,
    errno.ENOTDIR: 400,
    errno.EACCES: 403,
    errno.EPERM: 403,
    errno.EEXIST: 409,
    errno.ENOTEMPTY: 409,
    errno.EISDIR: 409,
}


def fail(err):
    raise OSError(err, os.strerror(err))


def lstat_object(path):
    st = os.lstat(path)
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        fail(errno.ENOENT)
    return st


def attrs(st):
    key = b"%d:%d:%d" % (st.st_ino, st.st_size, st.st_mtime_ns)
    etag = hashlib.blake2b(key, digest_size=8).hexdigest().encode()
    return b"%o %d %d %d %d %s" % (st.st_mode, st.st_size, st.st_mtime_ns,
                                   st.st_ctime_ns, st.st_nlink, etag)


def listable(name):
    return b"\t" not in name and b"\n" not in name


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def local(self, quoted, root_ok=True):
        parts = [p for p in urllib.parse.unquote_to_bytes(quoted).split(b"/") if p]
        if any(p in (b".", b"..") for p in parts) or (not parts and not root_ok):
            fail(errno.EINVAL)
        return os.path.join(self.server.root, *parts)

    def dispatch(self, method):
        # read the body first: the connection stays usable whatever happens
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(self.server.latency)
        target, _, query = self.path.partition("?")
        endpoint, _, path = target.lstrip("/").partition("/")
        handler = getattr(self, f"{method}_{endpoint}", None)
        if endpoint != "requests":
            with self.server.lock:
                self.server.requests += 1
        try:
            if handler is None:
                fail(errno.EINVAL)
            handler(path, query, body)
        except OSError as e:
            name = errno.errorcode.get(e.errno, "EIO")
            self.reply(STATUS.get(e.errno, 500), name.encode() + b"\n")

    def do_GET(self):
        self.dispatch("GET")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def GET_requests(self, path, query, body):
        """How many requests the store has answered (this one aside): for tests."""
        self.reply(200, b"%d\n" % self.server.requests)

    def GET_stat(self, path, query, body):
        self.reply(200, attrs(lstat_object(self.local(path))) + b"\n")

    def GET_list(self, path, query, body):
        lines = []
        with os.scandir(self.local(path)) as entries:
            for ent in entries:
                try:
                    st = ent.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                kind = stat.S_IFMT(st.st_mode)
                if listable(ent.name) and kind in (stat.S_IFREG, stat.S_IFDIR):
                    lines.append(ent.name + b"\t" + attrs(st) + b"\n")
        self.reply(200, b"".join(lines))

    def GET_data(self, path, query, body):
        path = self.local(path)
        if stat.S_ISDIR(lstat_object(path).st_mode):
            fail(errno.EISDIR)
        with open(path, "rb") as f:
            rng = self.headers.get("Range")
            if not rng:
                self.reply(200, f.read())
                return
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            if not m:
                fail(errno.EINVAL)
            size = os.fstat(f.fileno()).st_size
            start = int(m[1])
            end = min(int(m[2]) if m[2] else size - 1, size - 1)
            if start >= size or end < start:
                self.reply(416, b"", [("Content-Range", f"bytes */{size}")])
                return
            f.seek(start)
            data = f.read(end - start + 1)
            last = start + len(data) - 1
            self.reply(206, data, [("Content-Range", f"bytes {start}-{last}/{size}")])

    def PUT_data(self, path, query, body):
        path = self.local(path, root_ok=False)
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW
        if self.headers.get("If-None-Match") == "*":
            created = True
            try:
                fd = os.open(path, flags | os.O_EXCL, 0o666)
            except FileExistsError:
                self.reply(412, b"EEXIST\n")
                return
        else:
            created = not os.path.lexists(path)
            # in place, not renamed over: the object keeps its inode and xattrs
            fd = os.open(path, flags | os.O_TRUNC, 0o666)
        with os.fdopen(fd, "wb") as f:
            f.write(body)
        self.reply(201 if created else 204)

    def DELETE_data(self, path, query, body):
        path = self.local(path, root_ok=False)
        if stat.S_ISDIR(os.lstat(path).st_mode):
            os.rmdir(path)
        else:
            os.unlink(path)
        self.reply(204)

    def POST_mkdir(self, path, query, body):
        os.mkdir(self.local(path, root_ok=False))
        self.reply(201)

    def POST_rename(self, path, query, body):
        to = [v for k, _, v in (kv.partition("=") for kv in query.split("&")) if k == "to"]
        if len(to) != 1:
            fail(errno.EINVAL)
        os.rename(self.local(path, root_ok=False), self.local(to[0], root_ok=False))
        self.reply(204)

    def GET_xattr(self, path, query, body):
        path = self.local(path)
        lstat_object(path)
        try:
            names = os.listxattr(path, follow_symlinks=False)
        except OSError as e:
            if e.errno != errno.ENOTSUP:
                raise
            names = []
        lines = []
        for name in names:
            raw = name.encode()
            if name.startswith("user.") and listable(raw):
                value = os.getxattr(path, name, follow_symlinks=False)
                lines.append(raw + b"\t" + value.hex().encode() + b"\n")
        self.reply(200, b"".join(lines))


def main():
    ap = argparse.ArgumentParser(description="A small HTTP/1.1 object store for objfs.")
    ap.add_argument("--root", required=True, help="directory holding the objects")
    ap.add_argument("--latency", type=float, default=0.0,
                    help="milliseconds to wait before answering each request")
    ap.add_argument("--bind", default="127.0.0.1", help="address to listen on")
    ap.add_argument("--port", type=int, default=0, help="port to listen on (0: any)")
    ap.add_argument("--port-file", help="write the port here once listening")
    args = ap.parse_args()

    if not os.path.isdir(args.root):
        sys.exit(f"objstore: failed to open root {args.root}: not a directory")
    try:
        server = ThreadingHTTPServer((args.bind, args.port), Handler)
    except OSError as e:
        sys.exit(f"objstore: failed to listen on {args.bind}:{args.port}: {e.strerror}")
    server.root = os.fsencode(os.path.abspath(args.root))
    server.latency = args.latency / 1000
    server.requests = 0
    server.lock = threading.Lock()
    if args.port_file:
        # renamed into place: a reader never sees half a number
        with open(args.port_file + ".tmp", "w") as f:
            f.write(f"{server.server_address[1]}\n")
        os.replace(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
