"""Catalogue views: categories, paged product listing, search, product detail.

GET /api/categories                                  -> {"items": [{id, slug, name}, …]}
GET /api/products?category=3&page=2&page_size=20     -> {"items", "page", "page_size", "has_more"}
GET /api/search?q=wireless+lamp&page=1               -> same shape, full-text (GIN index)
GET /api/products/42                                 -> {id, sku, name, description, price, …}

Categories, listing and search pages are cached (``shop.cache``); the product detail, which
carries the stock, is always read from the database.
"""

from __future__ import annotations

import re
from typing import Any, LiteralString

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pytest_prodcheck.shop.validate import ApiError, path_id, query_int
from pytest_prodcheck.shop.views._common import cached_json, caches, pools, product_json

MAX_PAGE = 1000
MAX_PAGE_SIZE = 100
_COLUMNS: LiteralString = "id, sku, name, category_id, price_cents"
_WORD = re.compile(r"[^\W_]+")

SQL_PRODUCTS: LiteralString = f"SELECT {_COLUMNS} FROM products ORDER BY id LIMIT %s OFFSET %s"
SQL_PRODUCTS_BY_CATEGORY: LiteralString = (
    f"SELECT {_COLUMNS} FROM products WHERE category_id = %s ORDER BY id LIMIT %s OFFSET %s"
)
SQL_SEARCH: LiteralString = (
    f"SELECT {_COLUMNS} FROM products WHERE search @@ to_tsquery('simple', %s)"
    " ORDER BY id LIMIT %s OFFSET %s"
)
SQL_PRODUCT: LiteralString = (
    "SELECT p.id, p.sku, p.name, p.description, p.category_id, p.price_cents, p.stock,"
    " c.name AS category FROM products p JOIN categories c ON c.id = p.category_id"
    " WHERE p.id = %s"
)


def _paging(request: Request) -> tuple[int, int]:
    page = query_int(request, "page", 1, low=1, high=MAX_PAGE)
    size = query_int(request, "page_size", 20, low=1, high=MAX_PAGE_SIZE)
    return page, size


def _page(rows: list[dict[str, Any]], page: int, size: int) -> dict[str, Any]:
    return {
        "items": [product_json(r) for r in rows[:size]],
        "page": page,
        "page_size": size,
        "has_more": len(rows) > size,
    }


async def category_rows(request: Request) -> list[dict[str, Any]]:
    """Every category (``id, slug, name``), cached."""
    cache = caches(request).pages
    rows: list[dict[str, Any]] | None = cache.get("categories-rows")
    if rows is None:
        async with pools(request).main.connection() as conn:
            cur = await conn.execute("SELECT id, slug, name FROM categories ORDER BY id")
            rows = await cur.fetchall()
        cache.put("categories-rows", rows)
    return rows


async def categories(request: Request) -> Response:
    async def build() -> dict[str, Any]:
        return {"items": await category_rows(request)}

    return await cached_json(request, "categories", build)


async def _category_id(request: Request, raw: str) -> int:
    if raw.isdigit():
        if len(raw) > 9:
            raise ApiError(404, f"category {raw} not found")
        wanted: Any = int(raw)
        key = "id"
    elif len(raw) <= 100:
        wanted, key = raw.lower(), "slug"
    else:
        raise ApiError(400, "query parameter category is too long")
    for row in await category_rows(request):
        if row[key] == wanted:
            return int(row["id"])
    raise ApiError(404, f"category {raw!r} not found: see /api/categories")


async def products(request: Request) -> Response:
    page, size = _paging(request)
    category = request.query_params.get("category", "").strip()
    cat_id = await _category_id(request, category) if category else None

    async def build() -> dict[str, Any]:
        async with pools(request).main.connection() as conn:
            if cat_id is not None:
                cur = await conn.execute(
                    SQL_PRODUCTS_BY_CATEGORY, [cat_id, size + 1, (page - 1) * size]
                )
            else:
                cur = await conn.execute(SQL_PRODUCTS, [size + 1, (page - 1) * size])
            rows = await cur.fetchall()
        return _page(rows, page, size)

    return await cached_json(request, ("products", cat_id, page, size), build)


def tsquery(q: str) -> str:
    """``"Wireless  lamp!"`` -> ``"wireless:* & lamp:*"`` (prefix match on every word)."""
    words = _WORD.findall(q.lower())[:8]
    if not words:
        raise ApiError(400, "query parameter q must contain a letter or digit")
    return " & ".join(f"{w}:*" for w in words)


async def search(request: Request) -> Response:
    q = request.query_params.get("q", "").strip()
    if not q:
        raise ApiError(400, "missing query parameter: q")
    if len(q) > 200:
        raise ApiError(400, "query parameter q must be at most 200 characters")
    query = tsquery(q)
    page, size = _paging(request)

    async def build() -> dict[str, Any]:
        async with pools(request).main.connection() as conn:
            cur = await conn.execute(SQL_SEARCH, [query, size + 1, (page - 1) * size])
            rows = await cur.fetchall()
        return _page(rows, page, size)

    return await cached_json(request, ("search", query, page, size), build)


async def product_detail(request: Request) -> JSONResponse:
    product_id = path_id(request, "id")
    async with pools(request).main.connection() as conn:
        cur = await conn.execute(SQL_PRODUCT, [product_id])
        row = await cur.fetchone()
    if row is None:
        raise ApiError(404, f"product {product_id} not found")
    return JSONResponse(product_json(row))


ROUTES = [
    Route("/api/categories", categories, methods=["GET"]),
    Route("/api/products", products, methods=["GET"]),
    Route("/api/search", search, methods=["GET"]),
    Route("/api/products/{id:int}", product_detail, methods=["GET"]),
]
