"""AI views, backed by the ``ai`` database: recommendations and fraud scoring.

    GET  /api/ai/recommendations?product_id=42&limit=8
         -> {"product_id": 42, "items": [{id, name, price, score, reason}, …]}
    POST /api/ai/fraud-check {"cart_id": 7} or {"total": 129.90}
         -> {"id", "score": 0.0..1.0, "decision": "approve"|"review"|"reject", "total_cents"}

Recommendations blend "bought together" pairs (``co_purchases``) with the most popular products of
the same category (``product_features``), then look the names up in the main database (cached per product: ``shop.cache``). The fraud
score is a transparent heuristic (order size, the user's recent checks, cart size); every check
is written to ``fraud_checks``.
"""

from __future__ import annotations

from typing import Any, LiteralString

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pytest_prodcheck.shop.auth import current_user
from pytest_prodcheck.shop.validate import ApiError, json_object, query_int, require_int
from pytest_prodcheck.shop.views._common import cached_json, money, pools
from pytest_prodcheck.shop.views.cart import open_cart_id

MAX_TOTAL_CENTS = 10**9
REVIEW_AT = 0.5
REJECT_AT = 0.8
SQL_RECENT_CHECKS: LiteralString = (
    "SELECT count(*) AS n FROM fraud_checks"
    " WHERE user_id = %s AND created_at > now() - interval '10 minutes'"
)

SQL_RECOMMEND: LiteralString = """
WITH target AS (
    SELECT product_id, category_id FROM product_features WHERE product_id = %(id)s
), bought_together AS (
    SELECT cp.other_id AS product_id, 1.0 + cp.weight / 100.0 AS score,
           'bought-together' AS reason
    FROM co_purchases cp
    WHERE cp.product_id = %(id)s
    ORDER BY cp.weight DESC
    LIMIT %(limit)s
), same_category AS (
    SELECT f.product_id, f.popularity / 1000.0 AS score, 'same-category' AS reason
    FROM product_features f JOIN target t ON f.category_id = t.category_id
    WHERE f.product_id <> t.product_id
    ORDER BY f.popularity DESC
    LIMIT %(limit)s
)
SELECT r.product_id, r.score, r.reason
FROM (
    SELECT DISTINCT ON (product_id) product_id, score, reason
    FROM (SELECT * FROM bought_together UNION ALL SELECT * FROM same_category) u
    ORDER BY product_id, score DESC
) r
ORDER BY r.score DESC, r.product_id
LIMIT %(limit)s
"""


async def recommendations(request: Request) -> Response:
    product_id = query_int(request, "product_id", None, low=1, high=2**31 - 1)
    limit = query_int(request, "limit", 8, low=1, high=50)

    async def build() -> dict[str, Any]:
        shop = pools(request)
        async with shop.ai.connection() as conn:
            cur = await conn.execute(SQL_RECOMMEND, {"id": product_id, "limit": limit})
            recs = await cur.fetchall()
        if not recs:
            raise ApiError(404, f"product {product_id} not found")
        async with shop.main.connection() as conn:
            cur = await conn.execute(
                "SELECT id, name, price_cents FROM products WHERE id = ANY(%s)",
                [[r["product_id"] for r in recs]],
            )
            names = {row["id"]: row for row in await cur.fetchall()}
        items = [
            {
                "id": r["product_id"],
                "name": names[r["product_id"]]["name"],
                "price": money(names[r["product_id"]]["price_cents"]),
                "score": round(float(r["score"]), 3),
                "reason": r["reason"],
            }
            for r in recs
            if r["product_id"] in names
        ]
        return {"product_id": product_id, "items": items}

    return await cached_json(request, ("recommendations", product_id, limit), build)


def fraud_score(total_cents: int, recent_checks: int, item_count: int) -> float:
    """0..1: big orders, bursts of checks and bulk carts are riskier.

    >>> fraud_score(5_000, 0, 1), fraud_score(400_000, 0, 1), fraud_score(5_000, 20, 60)
    (0.061, 0.651, 0.42)
    """
    score = 0.05 + min(total_cents / 500_000, 0.6)
    score += min(recent_checks * 0.02, 0.3) + min(item_count / 1000, 0.1)
    return round(min(score, 0.99), 3)


def decision(score: float) -> str:
    return "reject" if score >= REJECT_AT else "review" if score >= REVIEW_AT else "approve"


async def _cart_total(request: Request, user_id: int, cart_id: int) -> tuple[int, int]:
    async with pools(request).main.connection() as conn:
        cur = await conn.execute(
            "SELECT c.user_id, c.status, coalesce(sum(ci.quantity * p.price_cents), 0) AS total,"
            " coalesce(sum(ci.quantity), 0) AS items"
            " FROM carts c LEFT JOIN cart_items ci ON ci.cart_id = c.id"
            " LEFT JOIN products p ON p.id = ci.product_id"
            " WHERE c.id = %s GROUP BY c.id",
            [cart_id],
        )
        row = await cur.fetchone()
        if row is None or row["user_id"] != user_id:
            raise ApiError(404, f"cart {cart_id} not found")
    return int(row["total"]), int(row["items"])


async def fraud_check(request: Request) -> JSONResponse:
    shop = pools(request)
    user_id = await current_user(request, shop.main)
    data = await json_object(request, allow_empty=True)
    cart_id: int | None = None
    if data.get("cart_id") is not None:
        cart_id = require_int(data, "cart_id")
        total_cents, item_count = await _cart_total(request, user_id, cart_id)
    elif data.get("total") is not None:
        total = data["total"]
        if isinstance(total, bool) or not isinstance(total, int | float):
            raise ApiError(400, "total must be a number")
        if not 0 <= total <= MAX_TOTAL_CENTS / 100:
            raise ApiError(400, f"total must be between 0 and {MAX_TOTAL_CENTS // 100}")
        total_cents, item_count = round(total * 100), 1
    else:
        async with shop.main.connection() as conn:
            cart_id = await open_cart_id(conn, user_id, create=False)
        if cart_id is None:
            raise ApiError(400, "send cart_id or total (your cart is empty)")
        total_cents, item_count = await _cart_total(request, user_id, cart_id)
    async with shop.ai.connection() as conn, conn.transaction():
        cur = await conn.execute(SQL_RECENT_CHECKS, [user_id])
        recent: Any = await cur.fetchone()
        score = fraud_score(total_cents, int(recent["n"]), item_count)
        verdict = decision(score)
        cur = await conn.execute(
            "INSERT INTO fraud_checks (user_id, cart_id, total_cents, score, decision)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id",
            [user_id, cart_id, total_cents, score, verdict],
        )
        row: Any = await cur.fetchone()
    return JSONResponse(
        {
            "id": row["id"],
            "cart_id": cart_id,
            "total_cents": total_cents,
            "score": score,
            "decision": verdict,
        }
    )


ROUTES = [
    Route("/api/ai/recommendations", recommendations, methods=["GET"]),
    Route("/api/ai/fraud-check", fraud_check, methods=["POST"]),
]
