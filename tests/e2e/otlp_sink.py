#!/usr/bin/env python3
"""otlp_sink.py PORT OUTFILE [HOST]: a tiny OTLP/HTTP trace receiver for tests.

Accepts POST /v1/traces (JSON or protobuf bodies, up to 16 MiB) and appends
each body to OUTFILE as one line (JSON bodies re-serialised compactly;
other bodies as a JSON string holding their base64), answering 200 with an
empty ExportTraceServiceResponse. GET /healthz answers ok. Listens on HOST
(default 127.0.0.1). For the kit's tests and the apps' trace tests alike.
"""
import base64
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 16 << 20
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body, ctype="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/healthz":
            self.reply(200, "ok\n", "text/plain")
        else:
            self.reply(404, '{"error":"not found"}')

    def do_POST(self):
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            self.reply(413, '{"error":"bad or too large body"}')
            self.close_connection = True
            return
        body = self.rfile.read(n)
        if self.path != "/v1/traces":
            self.reply(404, '{"error":"not found"}')
            return
        try:
            line = json.dumps(json.loads(body), separators=(",", ":"))
        except ValueError:
            line = json.dumps(base64.b64encode(body).decode())
        with lock:
            with open(sys.argv[2], "a") as f:
                f.write(line + "\n")
        self.reply(200, "{}")


def main():
    if len(sys.argv) < 3:
        sys.stderr.write("usage: otlp_sink.py PORT OUTFILE [HOST]\n")
        sys.exit(2)
    host = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    srv = ThreadingHTTPServer((host, int(sys.argv[1])), Handler)
    srv.daemon_threads = True
    srv.serve_forever()


if __name__ == "__main__":
    main()
