"""The shop's two connection pools (main ``ecommerce`` and ``ai``), made for PgBouncer.

    >>> pools = Pools.create(settings)          # doctest: +SKIP
    >>> await pools.open()                      # doctest: +SKIP
    >>> async with pools.main.connection() as conn:
    ...     await conn.execute("SELECT 1")      # doctest: +SKIP

Connections are autocommit (each read is its own transaction, which is what PgBouncer's
transaction pooling wants) and never use server-side prepared statements
(``prepare_threshold=None``: PgBouncer 1.18 cannot route them). Writes open an explicit
``conn.transaction()``. The pools open without waiting, so the app starts even while the
database is still coming up; ``/health`` says 503 until it answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from pytest_prodcheck.shop.settings import ShopSettings

ShopConn = AsyncConnection[dict[str, Any]]
ShopPool = AsyncConnectionPool[ShopConn]


def _pool(dsn: str, name: str, min_size: int, max_size: int, timeout: int) -> ShopPool:
    return AsyncConnectionPool(
        dsn,
        min_size=min(min_size, max_size),
        max_size=max_size,
        name=name,
        timeout=timeout,
        open=False,
        kwargs={
            "autocommit": True,
            "prepare_threshold": None,
            "row_factory": dict_row,
            "connect_timeout": 10,
            "application_name": f"prodcheck-shop-{name}",
        },
        reconnect_timeout=30,
    )


@dataclass
class Pools:
    main: ShopPool
    ai: ShopPool

    @classmethod
    def create(cls, settings: ShopSettings) -> Pools:
        return cls(
            main=_pool(
                settings.dsn, "main", settings.pool_min, settings.pool_max, settings.pool_timeout_s
            ),
            ai=_pool(
                settings.ai_dsn,
                "ai",
                settings.ai_pool_min,
                settings.ai_pool_max,
                settings.pool_timeout_s,
            ),
        )

    async def open(self) -> None:
        await self.main.open(wait=False)
        await self.ai.open(wait=False)

    async def close(self) -> None:
        await self.main.close(timeout=5)
        await self.ai.close(timeout=5)

    def stats(self) -> dict[str, dict[str, int]]:
        """``{"main": {"pool_size": …, "pool_available": …, "requests_waiting": …}, "ai": …}``."""
        return {"main": self.main.get_stats(), "ai": self.ai.get_stats()}
