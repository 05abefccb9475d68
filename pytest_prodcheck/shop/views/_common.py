"""Helpers shared by the views: the pools on ``app.state`` and money formatting.

>>> money(1999)
19.99
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from pytest_prodcheck.shop.cache import Caches, cached_json, caches
from pytest_prodcheck.shop.db import Pools

__all__ = ["Caches", "cached_json", "caches", "money", "pools", "product_json"]


def pools(request: Request) -> Pools:
    """The app's :class:`Pools` (set up by the lifespan in :mod:`pytest_prodcheck.shop.app`)."""
    result: Pools = request.app.state.pools
    return result


def money(cents: int) -> float:
    """Cents as a currency amount with two decimals (for display; totals stay in cents)."""
    return round(cents / 100, 2)


def product_json(row: dict[str, Any]) -> dict[str, Any]:
    out = {
        "id": row["id"],
        "sku": row["sku"],
        "name": row["name"],
        "category_id": row["category_id"],
        "price_cents": row["price_cents"],
        "price": money(row["price_cents"]),
    }
    for key in ("description", "stock", "category"):
        if key in row:
            out[key] = row[key]
    return out
