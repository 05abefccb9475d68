"""An Alertmanager webhook receiver that appends every notification to a JSON-lines file.

    python -m pytest_prodcheck.monitoring.webhook --port 9099 --out alerts.jsonl

The embedded stack's Alertmanager delivers to it, so a test can see an alert arrive end to end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_lock = threading.Lock()


def serve(host: str, port: int, out: Path) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0") or 0)
            body = self.rfile.read(min(length, 1 << 20))
            try:
                record = json.loads(body)
            except ValueError:
                self.send_error(400, "expected a JSON body")
                return
            with _lock, out.open("a") as fh:
                fh.write(json.dumps(record, separators=(",", ":")) + "\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    ThreadingHTTPServer((host, port), Handler).serve_forever()


def received_alerts(out: Path) -> list[dict[str, object]]:
    """Every alert delivered so far (flattened from the notifications)."""
    if not out.exists():
        return []
    alerts: list[dict[str, object]] = []
    for line in out.read_text().splitlines():
        if line.strip():
            alerts.extend(json.loads(line).get("alerts", []))
    return alerts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_prodcheck.monitoring.webhook")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.host, args.port, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
