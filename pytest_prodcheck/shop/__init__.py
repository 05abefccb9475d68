"""The reference e-commerce shop that the embedded stack serves behind nginx and PgBouncer.

    $ python -m pytest_prodcheck.shop migrate --dsn postgresql://app:pw@127.0.0.1:5432/ecommerce \\
          --ai-dsn postgresql://app:pw@127.0.0.1:5432/ai
    $ PRODCHECK_SHOP_DSN=postgresql://app:pw@127.0.0.1:6432/ecommerce \\
      PRODCHECK_SHOP_AI_DSN=postgresql://app:pw@127.0.0.1:6432/ai \\
          python -m pytest_prodcheck.shop serve --host 127.0.0.1 --port 8000

Public pieces: :func:`create_app` (Starlette app), :func:`migrate` / :func:`fingerprint`
(schema + seed, and the cache key of a seeded template), :class:`ShopServer` (run it as a
subprocess), :func:`static_dir` (what nginx serves under ``/static/``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ShopServer", "create_app", "fingerprint", "migrate", "static_dir"]

if TYPE_CHECKING:
    from pytest_prodcheck.shop.app import create_app, static_dir
    from pytest_prodcheck.shop.migrate import fingerprint, migrate
    from pytest_prodcheck.shop.process import ShopServer

_LAZY = {
    "create_app": "pytest_prodcheck.shop.app",
    "static_dir": "pytest_prodcheck.shop.app",
    "fingerprint": "pytest_prodcheck.shop.migrate",
    "migrate": "pytest_prodcheck.shop.migrate",
    "ShopServer": "pytest_prodcheck.shop.process",
}


def __getattr__(name: str) -> Any:  # lazy: importing the package must not pull in starlette
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
