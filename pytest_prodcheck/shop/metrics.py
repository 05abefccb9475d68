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
  :meth:`Metrics.render` by the app.

:class:`MetricsMiddleware` is a plain ASGI middleware (cheaper than Starlette's
``BaseHTTPMiddleware``) that records every HTTP request.
"""

from __future__ import annotations

import bisect
import functools
import re
import time
from collections.abc import Mapping
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

    def render(self, pools: Mapping[str, Mapping[str, int]] | None = None) -> str:
        """The exposition text; ``pools`` maps db name to ``psycopg_pool`` ``get_stats()``."""
        out = [
            "# HELP shop_http_requests_total HTTP requests by method, route and status.",
            "# TYPE shop_http_requests_total counter",
        ]
        for (method, route, status), count in sorted(self.requests.items()):
            out.append(
                f'shop_http_requests_total{{method="{_escape(method)}",route="{_escape(route)}",'
                f'status="{status}"}} {count}'
            )
        out += [
            "# HELP shop_http_request_duration_seconds HTTP request latency by route.",
            "# TYPE shop_http_request_duration_seconds histogram",
        ]
        for route, hist in sorted(self.latency.items()):
            label = f'route="{_escape(route)}"'
            bucket = "shop_http_request_duration_seconds_bucket"
            cumulative = 0
            for bound, count in zip(BUCKETS, hist.counts, strict=True):
                cumulative += count
                out.append(f'{bucket}{{{label},le="{bound}"}} {cumulative}')
            out.append(f'{bucket}{{{label},le="+Inf"}} {hist.count}')
            out.append(f"shop_http_request_duration_seconds_sum{{{label}}} {hist.total:.6f}")
            out.append(f"shop_http_request_duration_seconds_count{{{label}}} {hist.count}")
        for key, (suffix, kind, help_text) in _POOL_SERIES.items():
            name = f"shop_db_pool_{suffix}"
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            for db, stats in sorted((pools or {}).items()):
                out.append(f'{name}{{db="{_escape(db)}"}} {_fmt(stats.get(key, 0))}')
        return "\n".join(out) + "\n"


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
