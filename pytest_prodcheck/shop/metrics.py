"""Prometheus metrics of the shop, hand-rolled (text exposition format 0.0.4).

    >>> m = Metrics()
    >>> m.observe("GET", "/api/products/{id}", 200, 0.012)
    >>> print(m.render().splitlines()[2])
    shop_http_requests_total{method="GET",route="/api/products/{id}",status="200"} 1

Exposed series:

- ``shop_http_requests_total{method,route,status}``: counter; ``route`` is the route template
  (``/api/products/{id}``), never the raw path, so cardinality stays bounded;
- ``shop_http_request_duration_seconds{route}``: histogram (:data:`BUCKETS`);
- ``shop_db_pool_*{db}``: connection-pool gauges/counters from psycopg_pool, passed to
  :meth:`Metrics.render` by the app;
- ``process_resident_memory_bytes``: resident memory of the shop's worker processes (summed),
  ``shop_workers``: how many worker processes answered.

With several uvicorn workers each process counts its own requests; every worker publishes a
snapshot once a second into ``$PRODCHECK_SHOP_METRICS_DIR`` (:class:`SharedMetrics`) and
``/metrics``, whichever worker answers it, sums its live registry with the others' snapshots.
So counters stay monotonic across scrapes, whichever worker Prometheus reaches.

:class:`MetricsMiddleware` is a plain ASGI middleware (cheaper than Starlette's
``BaseHTTPMiddleware``) that records every HTTP request.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import json
import os
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
UNMATCHED = "unmatched"

# psycopg_pool.get_stats() key -> (metric suffix, type, help)
_POOL_SERIES: dict[str, tuple[str, str, str]] = {
    "pool_size": ("size", "gauge", "Connections currently managed by the pool."),
    "pool_available": ("available", "gauge", "Idle connections ready for use."),
    "requests_waiting": ("requests_waiting", "gauge", "Requests waiting for a connection."),
    "pool_max": ("max", "gauge", "Maximum size of the pool."),
    "requests_num": ("requests_total", "counter", "Connections requested from the pool."),
    "requests_errors": ("request_errors_total", "counter", "Requests that failed or timed out."),
    "connections_errors": ("connection_errors_total", "counter", "Failed connection attempts."),
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


@functools.lru_cache(maxsize=256)
def _strip_convertors(path: str) -> str:
    return re.sub(r":\w+}", "}", path)


def route_template(route: Any) -> str:
    """``/api/products/{id}`` for a route declared as ``/api/products/{id:int}``."""
    path = getattr(route, "path", None)
    return _strip_convertors(path) if path else UNMATCHED


class _Histogram:
    __slots__ = ("count", "counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.count = 0
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        index = bisect.bisect_left(BUCKETS, seconds)
        if index < len(BUCKETS):
            self.counts[index] += 1
        self.count += 1
        self.total += seconds


class Metrics:
    """In-process registry: counters and histograms keyed by route (one event loop: no locks)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[str, _Histogram] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        hist = self.latency.get(route)
        if hist is None:
            hist = self.latency[route] = _Histogram()
        hist.observe(seconds)

    def snapshot(self, pools: Mapping[str, Mapping[str, int]] | None = None) -> dict[str, Any]:
        """This process's counters as plain data (what :class:`SharedMetrics` publishes)."""
        return {
            "pid": os.getpid(),
            "requests": [[m, r, s, c] for (m, r, s), c in self.requests.items()],
            "latency": {r: [h.counts, h.count, h.total] for r, h in self.latency.items()},
            "pools": {db: dict(stats) for db, stats in (pools or {}).items()},
            "rss": resident_memory(),
        }

    def render(
        self,
        pools: Mapping[str, Mapping[str, int]] | None = None,
        peers: Iterable[Mapping[str, Any]] = (),
    ) -> str:
        """The exposition text; ``pools`` maps db name to ``psycopg_pool`` ``get_stats()``;
        ``peers`` are other workers' snapshots, summed in."""
        requests = dict(self.requests)
        latency = {r: (list(h.counts), h.count, h.total) for r, h in self.latency.items()}
        pool_sum = {db: dict(stats) for db, stats in (pools or {}).items()}
        rss, workers = resident_memory(), 1
        for peer in peers:
            workers += 1
            rss += int(peer.get("rss") or 0)
            for m, r, st, c in peer.get("requests", ()):
                requests[(m, r, int(st))] = requests.get((m, r, int(st)), 0) + int(c)
            for r, (counts, count, total) in peer.get("latency", {}).items():
                mine = latency.get(r) or ([0] * len(BUCKETS), 0, 0.0)
                merged = [a + b for a, b in zip(mine[0], counts, strict=False)]
                latency[r] = (merged, mine[1] + int(count), mine[2] + float(total))
            for db, stats in peer.get("pools", {}).items():
                acc = pool_sum.setdefault(db, {})
                for key, value in stats.items():
                    acc[key] = acc.get(key, 0) + value
        out = [
            "# HELP shop_http_requests_total HTTP requests by method, route and status.",
            "# TYPE shop_http_requests_total counter",
        ]
        for (method, route, status), count in sorted(requests.items()):
            out.append(
                f'shop_http_requests_total{{method="{_escape(method)}",route="{_escape(route)}",'
                f'status="{status}"}} {count}'
            )
        out += [
            "# HELP shop_http_request_duration_seconds HTTP request latency by route.",
            "# TYPE shop_http_request_duration_seconds histogram",
        ]
        for route, (counts, n, total) in sorted(latency.items()):
            label = f'route="{_escape(route)}"'
            bucket = "shop_http_request_duration_seconds_bucket"
            cumulative = 0
            for bound, count in zip(BUCKETS, counts, strict=True):
                cumulative += count
                out.append(f'{bucket}{{{label},le="{bound}"}} {cumulative}')
            out.append(f'{bucket}{{{label},le="+Inf"}} {n}')
            out.append(f"shop_http_request_duration_seconds_sum{{{label}}} {total:.6f}")
            out.append(f"shop_http_request_duration_seconds_count{{{label}}} {n}")
        for key, (suffix, kind, help_text) in _POOL_SERIES.items():
            name = f"shop_db_pool_{suffix}"
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            for db, stats in sorted(pool_sum.items()):
                out.append(f'{name}{{db="{_escape(db)}"}} {_fmt(stats.get(key, 0))}')
        out += [
            "# HELP process_resident_memory_bytes Resident memory of the shop's workers.",
            "# TYPE process_resident_memory_bytes gauge",
            f"process_resident_memory_bytes {rss}",
            "# HELP shop_workers Worker processes whose counters are included.",
            "# TYPE shop_workers gauge",
            f"shop_workers {workers}",
        ]
        return "\n".join(out) + "\n"


def resident_memory() -> int:
    """Resident set size of this process in bytes (0 where ``/proc`` is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


METRICS_DIR_ENV = "PRODCHECK_SHOP_METRICS_DIR"


class SharedMetrics:
    """Worker snapshots in a directory: ``publish()`` ours, ``peers()`` the other workers'.

    >>> share = SharedMetrics(Path("/tmp/m"))          # doctest: +SKIP
    >>> share.publish(metrics.snapshot(pools.stats())) # doctest: +SKIP
    >>> metrics.render(pools.stats(), share.peers())   # doctest: +SKIP

    A snapshot of a worker that is gone keeps counting (counters never go back) but drops its
    pool gauges and memory.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / f"worker-{os.getpid()}.json"

    def publish(self, snapshot: Mapping[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(snapshot), encoding="utf-8")
        os.replace(tmp, self.path)

    def peers(self) -> list[dict[str, Any]]:
        out = []
        for path in self.directory.glob("worker-*.json"):
            if path == self.path:
                continue
            with contextlib.suppress(OSError, ValueError):
                snap = json.loads(path.read_text(encoding="utf-8"))
                if not _alive(int(snap.get("pid", 0))):
                    snap = {**snap, "pools": {}, "rss": 0}
                out.append(snap)
        return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid > 0


class MetricsMiddleware:
    """ASGI middleware: time each HTTP request and record it under its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            template = route_template(scope.get("route"))
            self.metrics.observe(
                scope.get("method", "GET"), template, status, time.perf_counter() - started
            )
