#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A fault-injecting HTTP proxy for the network-backend tests, on 127.0.0.1.

    faultproxy.py LISTEN_PORT UPSTREAM_PORT CONTROL_FILE

Forwards every request to 127.0.0.1:UPSTREAM_PORT unless CONTROL_FILE (read
at each request; missing or empty means "pass") says otherwise, one word
and an optional method filter:

    pass                 forward as it is
    latency=MS           forward after MS milliseconds
    500 [METHOD]         answer 500 InternalError (to METHOD only, e.g. PUT)
    503 [METHOD]         answer 503 SlowDown
    close [METHOD]       close the connection without an answer
    stall [METHOD]       hold the request until the control file changes

It counts what it forwarded and refused, one line per request on stdout
("METHOD PATH -> STATUS"), for the tests to count requests by."""
import http.client
import http.server
import os
import socketserver
import sys
import time

UPSTREAM = ("127.0.0.1", int(sys.argv[2]))
CONTROL = sys.argv[3]

S3_ERRORS = {
    500: b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code>"
         b"<Message>injected</Message></Error>",
    503: b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>"
         b"<Message>injected</Message></Error>",
}


def control():
    try:
        with open(CONTROL) as f:
            words = f.read().split()
    except OSError:
        words = []
    return (words + ["pass"])[0], (words[1].upper() if len(words) > 1 else None)


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def note(self, status):
        print(f"{self.command} {self.path} -> {status}", flush=True)

    def relay(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        mode, method = control()
        applies = method is None or method == self.command
        if applies and mode.startswith("latency="):
            time.sleep(int(mode.split("=", 1)[1]) / 1000)
        elif applies and mode == "stall":
            while control() == (mode, method):
                time.sleep(0.05)
        elif applies and mode == "close":
            self.note("closed")
            self.close_connection = True
            self.connection.shutdown(2)
            return
        elif applies and mode in ("500", "503"):
            code = int(mode)
            self.note(code)
            self.send_response(code)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(S3_ERRORS[code])))
            self.end_headers()
            self.wfile.write(S3_ERRORS[code])
            return
        conn = http.client.HTTPConnection(*UPSTREAM, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.note(resp.status)
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), Proxy).serve_forever()
