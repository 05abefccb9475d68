"""Are the shop's hot queries served by indexes? EXPLAIN them and look for sequential scans.

    >>> results = check_hot_paths(dsn, ai_dsn)                # doctest: +SKIP
    >>> [(r.id, r.status) for r in results][:2]               # doctest: +SKIP
    [('db-index.products-page', 'pass'), ('db-index.products-by-category', 'pass')]

Each :class:`HotPath` is the exact SQL a view runs (imported from the view), with representative
parameters and the tables it must not scan sequentially. Tables that are large in the seed
(products, users, co-purchases) are judged on the planner's real choice. Tables that start empty
and grow under load (sessions, carts, cart items, fraud checks) are judged with
``enable_seqscan = off``: if a sequential scan remains, no index can serve the query.
Feeds checklist item ``performance.db-indexes``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, LiteralString

import psycopg
from psycopg import sql

from pytest_prodcheck.core.errors import TargetUnreachable
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.core.secrets import mask_dsn
from pytest_prodcheck.shop.auth import SQL_SESSION_USER
from pytest_prodcheck.shop.views.account import SQL_LOGIN
from pytest_prodcheck.shop.views.ai import SQL_RECENT_CHECKS, SQL_RECOMMEND
from pytest_prodcheck.shop.views.cart import SQL_CART_ITEMS, SQL_OPEN_CART
from pytest_prodcheck.shop.views.catalog import (
    SQL_PRODUCT,
    SQL_PRODUCTS,
    SQL_PRODUCTS_BY_CATEGORY,
    SQL_SEARCH,
)


@dataclass(frozen=True)
class HotPath:
    name: str
    database: Literal["main", "ai"]
    sql: LiteralString
    params: Sequence[Any] | Mapping[str, Any]
    tables: tuple[str, ...]  # must not be sequentially scanned
    growing: bool = False  # small in the seed, grows under load: judge with enable_seqscan=off


HOT_PATHS: tuple[HotPath, ...] = (
    HotPath("products-page", "main", SQL_PRODUCTS, (21, 100), ("products",)),
    HotPath("products-by-category", "main", SQL_PRODUCTS_BY_CATEGORY, (7, 21, 20), ("products",)),
    HotPath("search", "main", SQL_SEARCH, ("wireless:* & lamp:*", 21, 0), ("products",)),
    HotPath("product-detail", "main", SQL_PRODUCT, (42,), ("products",)),
    HotPath("login", "main", SQL_LOGIN, ("user7@shop.test",), ("users",)),
    HotPath("session", "main", SQL_SESSION_USER, (b"\0" * 32,), ("sessions",), growing=True),
    HotPath("open-cart", "main", SQL_OPEN_CART, (7,), ("carts",), growing=True),
    HotPath("cart-items", "main", SQL_CART_ITEMS, (1,), ("cart_items", "products"), growing=True),
    HotPath(
        "recommendations",
        "ai",
        SQL_RECOMMEND,
        {"id": 42, "limit": 8},
        ("co_purchases", "product_features"),
    ),
    HotPath("recent-fraud-checks", "ai", SQL_RECENT_CHECKS, (7,), ("fraud_checks",), growing=True),
)


def _nodes(plan: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def full_scans(conn: psycopg.Connection[Any], path: HotPath) -> list[str]:
    """How the plan of ``path`` reads any of ``path.tables`` in full, e.g. ``["Seq Scan on users"]``.

    A full read is a ``Seq Scan``, or an index scan with no ``Index Cond`` that filters rows
    (walking a whole index in order: what the planner does for ``ORDER BY id LIMIT n`` when
    the index for the ``WHERE`` is missing).
    """
    with conn.transaction(force_rollback=True):
        if path.growing:
            conn.execute("SET LOCAL enable_seqscan = off")
        query = sql.SQL("EXPLAIN (FORMAT JSON) ") + sql.SQL(path.sql)
        row = conn.execute(query, path.params).fetchone()
    assert row is not None
    doc = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    found: list[str] = []
    for node in _nodes(doc[0]["Plan"]):
        table, kind = node.get("Relation Name"), node.get("Node Type", "")
        if table not in path.tables:
            continue
        if kind == "Seq Scan":
            found.append(f"Seq Scan on {table}")
        elif kind.startswith("Index") and "Index Cond" not in node and "Filter" in node:
            found.append(f"full {kind} of {node.get('Index Name')} filtering {table}")
    return sorted(set(found))


def check_hot_path(conn: psycopg.Connection[Any], path: HotPath) -> CheckResult:
    """``pass`` when no table of ``path.tables`` is read in full."""
    bad = full_scans(conn, path)
    expected = f"index access to {', '.join(path.tables)}"
    if bad:
        return CheckResult.failed(
            f"db-index.{path.name}",
            observed="; ".join(bad),
            expected=expected,
            message=f"query {path.name!r} reads whole tables ({'; '.join(bad)}): add an index",
        )
    return CheckResult.passed(f"db-index.{path.name}", observed="index scans", expected=expected)


def check_hot_paths(dsn: str, ai_dsn: str) -> list[CheckResult]:
    """Check every :data:`HOT_PATHS` entry against the main (``dsn``) and AI (``ai_dsn``) db."""
    results: list[CheckResult] = []
    for database, url in (("main", dsn), ("ai", ai_dsn)):
        try:
            conn = psycopg.connect(url, prepare_threshold=None, connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise TargetUnreachable(f"cannot connect to {mask_dsn(url)}: {exc}") from None
        with conn:
            for path in HOT_PATHS:
                if path.database != database:
                    continue
                try:
                    results.append(check_hot_path(conn, path))
                except psycopg.Error as exc:
                    results.append(
                        CheckResult.errored(f"db-index.{path.name}", f"EXPLAIN failed: {exc}")
                    )
    return results
