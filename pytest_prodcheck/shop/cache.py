"""A small in-process TTL cache for the shop's read-mostly answers (one event loop: no locks).

    >>> c = TTLCache(ttl_s=10, maxsize=2)
    >>> c.get("a") is None
    True
    >>> c.put("a", 1); c.put("b", 2); c.put("c", 3)
    >>> c.get("a"), c.get("c")
    (None, 3)

What the shop caches (the guide's "query caching"; per worker process, ``ttl_s`` from
``PRODCHECK_SHOP_CACHE_TTL``, 0 switches caching off):

* the category list and the rendered home page;
* product listing and search pages (id, name, category, price: nothing a request of the shop
  changes; stock is only in the product detail, which is never cached) and recommendations;
* sessions: token digest -> user id, at most ``ttl_s`` and never past the session's expiry.

Entries expire ``ttl_s`` after they were stored; when full, the oldest entry is dropped.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class TTLCache:
    __slots__ = ("_data", "maxsize", "ttl_s")

    def __init__(self, ttl_s: float, maxsize: int = 1024) -> None:
        self.ttl_s = ttl_s
        self.maxsize = maxsize
        self._data: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any) -> Any:
        """The value stored under ``key``, or ``None`` (absent or expired)."""
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._data[key]
            return None
        return entry[1]

    def put(self, key: Any, value: Any, ttl_s: float | None = None) -> None:
        """Store ``value`` for ``ttl_s`` (default the cache's; capped at it); no-op if off."""
        ttl = self.ttl_s if ttl_s is None else min(ttl_s, self.ttl_s)
        if ttl <= 0:
            return
        if key not in self._data and len(self._data) >= self.maxsize:
            del self._data[next(iter(self._data))]
        self._data[key] = (time.monotonic() + ttl, value)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


@dataclass(frozen=True)
class Caches:
    """The app's caches (:mod:`pytest_prodcheck.shop.cache`), on ``app.state.caches``."""

    pages: TTLCache  # rendered bodies of catalogue answers, keyed by route and query
    sessions: TTLCache  # token digest -> user id

    @classmethod
    def create(cls, ttl_s: float) -> Caches:
        return cls(TTLCache(ttl_s, maxsize=8192), TTLCache(ttl_s, maxsize=50_000))


_OFF = Caches.create(0)


def caches(request: Request) -> Caches:
    result: Caches = getattr(request.app.state, "caches", _OFF)
    return result


async def cached_json(request: Request, key: Any, build: Callable[[], Awaitable[Any]]) -> Response:
    """The JSON answer ``build()`` makes, rendered once per cache lifetime of ``key``."""
    cache = caches(request).pages
    body = cache.get(key)
    if body is None:
        body = JSONResponse(await build()).body
        cache.put(key, body)
    return Response(body, media_type="application/json")
