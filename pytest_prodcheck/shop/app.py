"""The Starlette application of the reference shop.

    >>> app = create_app(ShopSettings(dsn="postgresql://app:pw@127.0.0.1:6432/ecommerce",
    ...                               ai_dsn="postgresql://app:pw@127.0.0.1:6432/ai"))
    >>> type(app).__name__
    'Starlette'

``create_app()`` without arguments reads :class:`ShopSettings` from the environment; that is
what ``python -m pytest_prodcheck.shop serve`` hands to uvicorn (as a factory, so ``--workers``
works). Every error leaves as JSON ``{"error": "..."}``: 4xx for bad input, 503 when the
database is unavailable, and a 500 only for a bug (logged with its traceback).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import psycopg
import psycopg_pool
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from pytest_prodcheck.shop.cache import Caches
from pytest_prodcheck.shop.db import Pools
from pytest_prodcheck.shop.metrics import (
    METRICS_DIR_ENV,
    Metrics,
    MetricsMiddleware,
    SharedMetrics,
)
from pytest_prodcheck.shop.settings import ShopSettings
from pytest_prodcheck.shop.validate import ApiError
from pytest_prodcheck.shop.views import routes

log = logging.getLogger("prodcheck.shop")


def static_dir() -> Path:
    """Directory of the shop's static assets (what nginx serves under ``/static/``)."""
    return Path(str(resources.files("pytest_prodcheck.shop").joinpath("static")))


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error(exc.status, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "not found", 405: "method not allowed"}
    return _error(exc.status_code, messages.get(exc.status_code, str(exc.detail)), exc.headers)


async def _pool_timeout(request: Request, exc: Exception) -> Response:
    log.warning("%s %s: no database connection free in time", request.method, request.url.path)
    return _error(503, "database busy: try again", {"Retry-After": "1"})


async def _db_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, psycopg.errors.DataError):
        return _error(400, "invalid value in request")
    if isinstance(exc, psycopg.errors.IntegrityError):
        return _error(409, "conflict with the current state: try again")
    if isinstance(exc, psycopg.errors.OperationalError):
        log.warning("%s %s: database unavailable: %s", request.method, request.url.path, exc)
        return _error(503, "database unavailable: try again", {"Retry-After": "1"})
    log.exception("%s %s: database error", request.method, request.url.path, exc_info=exc)
    return _error(500, "internal server error")


async def _bug(request: Request, exc: Exception) -> Response:
    log.exception("%s %s: unhandled error", request.method, request.url.path, exc_info=exc)
    return _error(500, "internal server error")


async def _publish(share: SharedMetrics, metrics: Metrics, pools: Pools) -> None:
    """Publish this worker's metrics snapshot once a second (several workers: see metrics)."""
    while True:
        try:
            share.publish(metrics.snapshot(pools.stats()))
        except OSError as exc:
            log.warning("cannot publish metrics to %s: %s", share.directory, exc)
        await asyncio.sleep(1.0)


def create_app(settings: ShopSettings | None = None) -> Starlette:
    """Build the app; ``settings`` default to :meth:`ShopSettings.from_env`."""
    settings = settings or ShopSettings.from_env(os.environ)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pools = Pools.create(settings)
        app.state.pools = pools
        await pools.open()
        log.info(
            "shop ready (pools: main max %d, ai max %d)", settings.pool_max, settings.ai_pool_max
        )
        publisher = None
        if app.state.metrics_share is not None:
            publisher = asyncio.create_task(_publish(app.state.metrics_share, metrics, pools))
        try:
            yield
        finally:
            if publisher is not None:
                publisher.cancel()
            await pools.close()

    app = Starlette(
        routes=[*routes(), Mount("/static", StaticFiles(directory=static_dir()), name="static")],
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            psycopg_pool.PoolTimeout: _pool_timeout,
            psycopg.Error: _db_error,
            Exception: _bug,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.caches = Caches.create(settings.cache_ttl_s)
    share_dir = os.environ.get(METRICS_DIR_ENV)
    app.state.metrics_share = SharedMetrics(Path(share_dir)) if share_dir else None
    return app
