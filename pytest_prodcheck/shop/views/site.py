"""Site views: the home page, ``/health`` and Prometheus ``/metrics``.

GET /         -> HTML: categories and featured products (assets under /static/; cached)
GET /health   -> 200 {"status": "ok", "databases": {"main": "ok", "ai": "ok"}}, else 503
GET /metrics  -> text/plain; version=0.0.4 (see :mod:`pytest_prodcheck.shop.metrics`)
"""

from __future__ import annotations

import asyncio
import html
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.routing import Route

from pytest_prodcheck.shop.db import ShopPool
from pytest_prodcheck.shop.views._common import caches, money, pools
from pytest_prodcheck.shop.views.catalog import category_rows

log = logging.getLogger("prodcheck.shop")
HEALTH_TIMEOUT_S = 2.0

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Prodcheck Shop</title>
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<header><img src="/static/logo.svg" alt="" width="32" height="32"><h1>Prodcheck Shop</h1>
<form action="/api/search" method="get"><input name="q" placeholder="Search products">
<button>Search</button></form></header>
<nav><ul>{categories}</ul></nav>
<main><h2>Featured</h2><ul class="products">{products}</ul></main>
<footer>The reference shop of pytest-prodcheck.</footer>
</body>
</html>
"""


async def home(request: Request) -> HTMLResponse:
    cache = caches(request).pages
    page = cache.get("home")
    if page is None:
        page = await _render_home(request)
        cache.put("home", page)
    return HTMLResponse(page)


async def _render_home(request: Request) -> str:
    cats = await category_rows(request)
    async with pools(request).main.connection() as conn:
        cur = await conn.execute("SELECT id, name, price_cents FROM products ORDER BY id LIMIT 12")
        featured = await cur.fetchall()
    categories = "".join(
        f'<li><a href="/api/products?category={html.escape(c["slug"])}">'
        f"{html.escape(c['name'])}</a></li>"
        for c in cats
    )
    products = "".join(
        f'<li data-id="{p["id"]}"><a href="/api/products/{p["id"]}">{html.escape(p["name"])}</a>'
        f' <span class="price">{money(p["price_cents"]):.2f}</span></li>'
        for p in featured
    )
    return _PAGE.format(categories=categories, products=products)


async def _ping(pool: ShopPool) -> str:
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_S):
            async with pool.connection(timeout=HEALTH_TIMEOUT_S) as conn:
                await conn.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any failure means "not healthy"; say which kind, no details
        log.warning("health: %s pool failed: %s", pool.name, type(exc).__name__)
        return "unavailable"


async def health(request: Request) -> JSONResponse:
    shop = pools(request)
    main, ai = await asyncio.gather(_ping(shop.main), _ping(shop.ai))
    ok = main == ai == "ok"
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "databases": {"main": main, "ai": ai}},
        status_code=200 if ok else 503,
    )


async def metrics(request: Request) -> PlainTextResponse:
    share = request.app.state.metrics_share
    peers = share.peers() if share is not None else ()
    text = request.app.state.metrics.render(pools(request).stats(), peers)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
