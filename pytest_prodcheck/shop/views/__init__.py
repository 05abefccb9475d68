"""The shop's HTTP routes, one module per part of the user journey.

>>> [r.path for r in routes()][:3]
['/', '/health', '/metrics']
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from pytest_prodcheck.shop.views import account, ai, cart, catalog, site


def routes() -> list[BaseRoute]:
    return [*site.ROUTES, *account.ROUTES, *catalog.ROUTES, *cart.ROUTES, *ai.ROUTES]
