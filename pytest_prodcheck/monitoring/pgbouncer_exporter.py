"""A Prometheus exporter for PgBouncer's admin console (``SHOW POOLS`` / ``SHOW STATS``).

    PRODCHECK_PGBOUNCER_DSN=postgresql://pgb_stats:…@127.0.0.1:6432/pgbouncer \\
        python -m pytest_prodcheck.monitoring.pgbouncer_exporter --port 9127

Debian 12's ``prometheus-pgbouncer-exporter`` 1.7 crashes on PgBouncer 1.18 (``KeyError:
'total_requests'``), so the embedded stack uses this one. The DSN comes from the environment, never
the command line. Series (one fresh admin-console query per scrape):

- ``pgbouncer_up``: 1 when the console answered;
- ``pgbouncer_pools_{client_active,client_waiting,server_active,server_idle,server_used}_connections``
  and ``pgbouncer_pools_client_maxwait_seconds``, by ``database`` and ``user``;
- ``pgbouncer_stats_{transactions,queries}_total`` and ``…_duration_seconds_total`` by ``database``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pytest_prodcheck.core.errors import ProdcheckError
from pytest_prodcheck.core.pgbouncer_admin import AdminConsole, Table

DSN_ENV = "PRODCHECK_PGBOUNCER_DSN"

POOL_GAUGES: tuple[tuple[str, str, str], ...] = (
    ("cl_active", "client_active_connections", "Clients linked to a server connection."),
    ("cl_waiting", "client_waiting_connections", "Clients waiting for a server connection."),
    ("sv_active", "server_active_connections", "Server connections linked to a client."),
    ("sv_idle", "server_idle_connections", "Idle server connections."),
    (
        "sv_used",
        "server_used_connections",
        "Server connections idle longer than server_check_delay.",
    ),
)
STATS_COUNTERS: tuple[tuple[str, str, float, str], ...] = (
    ("total_xact_count", "transactions_total", 1.0, "Transactions pooled."),
    ("total_query_count", "queries_total", 1.0, "Queries pooled."),
    ("total_xact_time", "transaction_duration_seconds_total", 1e-6, "Time in transactions."),
    ("total_wait_time", "client_wait_seconds_total", 1e-6, "Time clients waited for a server."),
)


def _label(value: str | None) -> str:
    return (value or "").replace("\\", "\\\\").replace('"', '\\"')


def render(pools: Table | None, stats: Table | None) -> str:
    """The exposition text; ``None`` tables mean the console did not answer."""
    lines = ["# HELP pgbouncer_up Whether the admin console answered.", "# TYPE pgbouncer_up gauge"]
    lines.append(f"pgbouncer_up {0 if pools is None else 1}")
    pool_rows = [r for r in (pools.dicts() if pools else []) if r.get("database") != "pgbouncer"]
    for column, name, help_text in POOL_GAUGES:
        lines += [
            f"# HELP pgbouncer_pools_{name} {help_text}",
            f"# TYPE pgbouncer_pools_{name} gauge",
        ]
        for row in pool_rows:
            labels = f'database="{_label(row.get("database"))}",user="{_label(row.get("user"))}"'
            lines.append(f"pgbouncer_pools_{name}{{{labels}}} {int(float(row.get(column) or 0))}")
    lines += [
        "# HELP pgbouncer_pools_client_maxwait_seconds Longest wait of a queued client.",
        "# TYPE pgbouncer_pools_client_maxwait_seconds gauge",
    ]
    for row in pool_rows:
        labels = f'database="{_label(row.get("database"))}",user="{_label(row.get("user"))}"'
        wait = float(row.get("maxwait") or 0) + float(row.get("maxwait_us") or 0) / 1e6
        lines.append(f"pgbouncer_pools_client_maxwait_seconds{{{labels}}} {wait:g}")
    stat_rows = [r for r in (stats.dicts() if stats else []) if r.get("database") != "pgbouncer"]
    for column, name, scale, help_text in STATS_COUNTERS:
        lines += [
            f"# HELP pgbouncer_stats_{name} {help_text}",
            f"# TYPE pgbouncer_stats_{name} counter",
        ]
        for row in stat_rows:
            value = float(row.get(column) or 0) * scale
            lines.append(
                f'pgbouncer_stats_{name}{{database="{_label(row.get("database"))}"}} {value:g}'
            )
    return "\n".join(lines) + "\n"


def scrape(dsn: str) -> str:
    try:
        with AdminConsole(dsn, connect_timeout=2) as console:
            return render(console.show("POOLS"), console.show("STATS"))
    except ProdcheckError:
        return render(None, None)


def serve(host: str, port: int, dsn: str) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404)
                return
            body = scrape(dsn).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    ThreadingHTTPServer((host, port), Handler).serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_prodcheck.monitoring.pgbouncer_exporter"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    dsn = os.environ.get(DSN_ENV)
    if not dsn:
        parser.error(f"set {DSN_ENV} to the PgBouncer admin/stats DSN (database 'pgbouncer')")
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.host, args.port, dsn)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
