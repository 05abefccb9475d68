"""A tiny real HTTP target for the load tests (stdlib threaded server, run as a subprocess).

    python tests/_load_target.py --port 0 --delay /api/ai/=1200 --fail /api/checkout=1.0
    # prints "PORT <n>" once listening

Routes: ``/fast``, ``/slow?ms=N``, ``/fail`` (HTTP 500) and the shop journey's routes with
canned JSON. ``--delay PREFIX=MS`` delays every route starting with PREFIX; ``--jitter PREFIX=MS``
adds a uniformly random delay of 0..MS; ``--fail PREFIX=P`` answers HTTP 500 with probability P.
``--serial MS`` serves one request at a time, each taking MS (a site with a fixed capacity);
``--degrade MS`` slows every answer by MS per second since start; ``--leak KB`` keeps KB of
memory per request, and ``/metrics`` shows ``process_resident_memory_bytes``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DELAYS: list[tuple[str, float]] = []
JITTERS: list[tuple[str, float]] = []
OPTS: dict[str, float] = {"serial": 0.0, "degrade": 0.0, "leak": 0.0}
STARTED = time.monotonic()
_serial = threading.Lock()
_leaked: list[bytes] = []
FAILS: list[tuple[str, float]] = []
_ids = iter(range(1, 10**9))
_lock = threading.Lock()


def _next_id() -> int:
    with _lock:
        return next(_ids)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: object, ctype: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        for prefix, ms in DELAYS:
            if path.startswith(prefix):
                time.sleep(ms / 1000)
        for prefix, ms in JITTERS:
            if path.startswith(prefix):
                time.sleep(random.uniform(0, ms) / 1000)
        if OPTS["serial"]:
            with _serial:
                time.sleep(OPTS["serial"] / 1000)
        if OPTS["degrade"]:
            time.sleep(OPTS["degrade"] * (time.monotonic() - STARTED) / 1000)
        if OPTS["leak"]:
            _leaked.append(b"x" * int(OPTS["leak"] * 1024))
        if path == "/metrics":
            with open("/proc/self/statm") as fh:
                rss = int(fh.read().split()[1]) * 4096
            return self._send(200, f"process_resident_memory_bytes {rss}\n".encode(), "text/plain")
        for prefix, p in FAILS:
            if path.startswith(prefix) and random.random() < p:
                return self._send(500, {"error": "injected failure"})
        if path == "/fast":
            return self._send(200, {"ok": True})
        if path == "/slow":
            time.sleep(float(query.get("ms", ["500"])[0]) / 1000)
            return self._send(200, {"ok": True})
        if path == "/fail":
            return self._send(500, {"error": "always fails"})
        if path == "/":
            return self._send(200, b"<html><body>shop</body></html>", "text/html")
        if path in ("/api/auth/register", "/api/auth/login") and method == "POST":
            return self._send(201 if "register" in path else 200, {"id": _next_id(), "token": "t"})
        if path == "/api/categories":
            return self._send(200, [{"id": i, "name": f"c{i}"} for i in range(1, 11)])
        if path == "/api/products" or path == "/api/search":
            return self._send(200, {"items": [{"id": i, "price": 9.5} for i in range(1, 21)]})
        if re.fullmatch(r"/api/products/\d+", path):
            return self._send(200, {"id": int(path.rsplit("/", 1)[1]), "price": 9.5})
        if path == "/api/ai/recommendations":
            return self._send(200, {"items": [{"id": 3}, {"id": 4}]})
        if path == "/api/cart":
            return self._send(200, {"id": 1, "total": 19.0, "items": []})
        if path == "/api/cart/items" and method == "POST":
            return self._send(201, {"id": _next_id()})
        if re.fullmatch(r"/api/cart/items/\d+", path) and method in ("PATCH", "DELETE"):
            return self._send(200, {"ok": True})
        if path == "/api/ai/fraud-check" and method == "POST":
            return self._send(200, {"score": 0.1, "decision": "approve"})
        if path == "/api/checkout" and method == "POST":
            return self._send(201, {"id": _next_id()})
        return self._send(404, {"error": "not found"})

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--delay", action="append", default=[])
    ap.add_argument("--fail", action="append", default=[])
    ap.add_argument("--jitter", action="append", default=[])
    for opt in OPTS:
        ap.add_argument(f"--{opt}", type=float, default=0.0)
    args = ap.parse_args()
    for opt in OPTS:
        OPTS[opt] = getattr(args, opt)
    for spec in args.jitter:
        prefix, ms = spec.split("=")
        JITTERS.append((prefix, float(ms)))
    for spec in args.delay:
        prefix, ms = spec.split("=")
        DELAYS.append((prefix, float(ms)))
    for spec in args.fail:
        prefix, p = spec.split("=")
        FAILS.append((prefix, float(p)))
    ThreadingHTTPServer.request_queue_size = 512  # default 5 drops SYNs -> 1 s retransmits
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    sys.exit(0)


class Target:
    """Start the target in a subprocess; ``with Target("--delay", "/api/=1100") as t: t.url``."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> Target:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--port", "0", *self.args],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"load target did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()


if __name__ == "__main__":
    main()


NGINX_CONF = """daemon off; master_process on; worker_processes 1;
pid {p}/nginx.pid; error_log {p}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {p}/tmp/body; proxy_temp_path {p}/tmp/proxy;
  fastcgi_temp_path {p}/tmp/fastcgi; uwsgi_temp_path {p}/tmp/uwsgi; scgi_temp_path {p}/tmp/scgi;
  keepalive_requests 10000000;
  upstream app {{ server {upstream}; keepalive 32; }}
  server {{
    listen 127.0.0.1:{http_port};
    location = /json {{ default_type application/json; return 200 '{{"ok":true,"items":[1,2,3]}}'; }}
  }}
  server {{
    listen 127.0.0.1:{https_port} ssl; server_name shop.test;
    ssl_certificate {cert}; ssl_certificate_key {key};
    location = /json {{ default_type application/json; return 200 '{{"ok":true}}'; }}
    location / {{
      proxy_pass http://app; proxy_http_version 1.1;
      proxy_set_header Connection ""; proxy_set_header Host $host;
    }}
  }}
}}
"""


def tls_nginx(upstream: str) -> tuple[Any, str, str, str]:
    """Start nginx: TLS ``shop.test`` proxying to ``upstream`` + plain ``/json``.

    Returns ``(server, https_url_by_address, http_json_url, ca_pem_path)``; ``server.stop()``.
    """
    from pytest_prodcheck.core.ports import free_port
    from pytest_prodcheck.core.proc import make_tempdir
    from pytest_prodcheck.stack.certs import issue_leaf, make_ca, write_pem
    from pytest_prodcheck.stack.nginx import NginxServer

    work = make_tempdir("load-nginx-")
    paths = write_pem(issue_leaf(make_ca("load test CA"), ["shop.test"]), work / "certs")
    http_port, https_port = free_port(), free_port()
    text = NGINX_CONF.format(p=work, upstream=upstream, http_port=http_port,
                             https_port=https_port, cert=paths.fullchain, key=paths.privkey)  # fmt: skip
    server = NginxServer.from_config_text(work, text).start()
    return (
        server,
        f"https://127.0.0.1:{https_port}",
        f"http://127.0.0.1:{http_port}/json",
        str(paths.ca),
    )
