"""A tiny Prometheus exporter for what the app does not know: backup age and certificate lifetime.

    python -m pytest_prodcheck.monitoring.exporter --port 9187 \
        --backup-dir backups/databases --cert /etc/letsencrypt/live/shop.test/fullchain.pem

Series (scraped fresh on every request):

- ``prodcheck_backup_last_success_timestamp_seconds{database="main"|"ai"}``: mtime of the newest
  complete backup named like the guide (``main_db_YYYYMMDD_HHMMSS.sql.gz``); absent when none;
- ``prodcheck_certificate_not_before_timestamp_seconds{path}`` and ``…_not_after_…``: the served
  leaf certificate's validity.
"""

from __future__ import annotations

import argparse
import contextlib
import re
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509

_BACKUP_NAME = re.compile(r"^(?P<db>main|ai)_db_\d{8}_\d{6}\.sql\.gz$")


def backup_timestamps(backup_dir: Path) -> dict[str, float]:
    """``{"main": mtime, "ai": mtime}`` of the newest complete backup per database."""
    newest: dict[str, float] = {}
    if not backup_dir.is_dir():
        return newest
    for path in backup_dir.iterdir():
        match = _BACKUP_NAME.match(path.name)
        if match is None or not path.is_file() or path.stat().st_size == 0:
            continue
        db, mtime = match["db"], path.stat().st_mtime
        newest[db] = max(newest.get(db, 0.0), mtime)
    return newest


def certificate_validity(path: Path) -> tuple[float, float] | None:
    """``(not_before, not_after)`` as Unix timestamps of the first certificate in ``path``."""
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None
    return cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp()


def render(backup_dir: Path | None, certs: Sequence[Path]) -> str:
    lines = [
        "# HELP prodcheck_backup_last_success_timestamp_seconds Newest complete backup (mtime).",
        "# TYPE prodcheck_backup_last_success_timestamp_seconds gauge",
    ]
    if backup_dir is not None:
        for db, ts in sorted(backup_timestamps(backup_dir).items()):
            lines.append(
                f'prodcheck_backup_last_success_timestamp_seconds{{database="{db}"}} {ts:.3f}'
            )
    for bound in ("not_before", "not_after"):
        lines += [
            f"# HELP prodcheck_certificate_{bound}_timestamp_seconds Leaf certificate {bound}.",
            f"# TYPE prodcheck_certificate_{bound}_timestamp_seconds gauge",
        ]
        for cert in certs:
            validity = certificate_validity(cert)
            if validity is not None:
                value = validity[0] if bound == "not_before" else validity[1]
                lines.append(
                    f'prodcheck_certificate_{bound}_timestamp_seconds{{path="{cert}"}} {value:.0f}'
                )
    return "\n".join(lines) + "\n"


def serve(host: str, port: int, backup_dir: Path | None, certs: Sequence[Path]) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404)
                return
            body = render(backup_dir, certs).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

    ThreadingHTTPServer((host, port), Handler).serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_prodcheck.monitoring.exporter")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backup-dir", type=Path)
    parser.add_argument("--cert", type=Path, action="append", default=[])
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.host, args.port, args.backup_dir, args.cert)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
