"""The shop journey the bundled locustfile plays, as plain data (no Locust import).

    >>> [t.name for t in TASKS][:3]
    ['home', 'categories', 'browse_category']
    >>> round(requests_per_task(), 2)
    1.22
    >>> paths = EndpointPaths.from_mapping({"search": "/v2/search"})
    >>> paths.search, paths.home
    ('/v2/search', '/')

The locustfile takes its task weights from :data:`TASKS`, so the throughput bound that
:mod:`pytest_prodcheck.load.thresholds` computes (``users × requests_per_task / think``) always
matches what the user class really does. Paths are configurable (``[load.paths]`` in
``prodcheck.toml``) for deployments whose routes differ from the reference shop's; ``{id}`` is
replaced by a product or cart-item id.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

from pytest_prodcheck.core.errors import ConfigError


@dataclass(frozen=True)
class Task:
    name: str
    weight: int
    requests: int  # HTTP requests one execution makes
    what: str


# Weights: browsing dominates, buying is rare (roughly a 40:4:1 look-to-cart-to-checkout funnel).
TASKS: tuple[Task, ...] = (
    Task("home", 10, 1, "GET / (home page)"),
    Task("categories", 5, 1, "GET /api/categories"),
    Task("browse_category", 8, 1, "GET /api/products?category=…&page=…"),
    Task("search", 6, 1, "GET /api/search?q=…"),
    Task("product_detail", 8, 1, "GET /api/products/[id]"),
    Task("ai_recommendations", 3, 1, "GET /api/ai/recommendations?product_id=…"),
    Task("add_to_cart", 3, 2, "GET product, POST /api/cart/items"),
    Task("manage_cart", 2, 3, "GET /api/cart, PATCH then DELETE /api/cart/items/[id]"),
    Task(
        "checkout", 1, 4, "POST cart item, GET cart, POST /api/ai/fraud-check, POST /api/checkout"
    ),
)

ON_START_REQUESTS = 3

WEIGHTS: dict[str, int] = {t.name: t.weight for t in TASKS}

# Requests each user makes once when it starts: categories, products, and (lazily, at its first
# cart task) register or login unless it still has a session; the throughput bound counts 3.
# Share of users that are returning customers with a seeded account ([load] returning), and of
# those, the share still logged in from an earlier visit ([load] remembered).
DEFAULT_RETURNING = 0.9
DEFAULT_REMEMBERED = 0.9

# Think time between tasks (seconds), uniform in [min, max]; [load] wait_min / wait_max.
DEFAULT_WAIT_MIN = 0.5
DEFAULT_WAIT_MAX = 1.5


def requests_per_task() -> float:
    """Mean HTTP requests per task execution, weighted like the locustfile picks tasks."""
    total = sum(t.weight for t in TASKS)
    return sum(t.weight * t.requests for t in TASKS) / total


@dataclass(frozen=True)
class EndpointPaths:
    """Routes of the target; defaults are the reference shop's routes."""

    home: str = "/"
    register: str = "/api/auth/register"
    login: str = "/api/auth/login"
    categories: str = "/api/categories"
    products: str = "/api/products"
    product: str = "/api/products/{id}"
    search: str = "/api/search"
    recommendations: str = "/api/ai/recommendations"
    cart: str = "/api/cart"
    cart_items: str = "/api/cart/items"
    cart_item: str = "/api/cart/items/{id}"
    fraud_check: str = "/api/ai/fraud-check"
    checkout: str = "/api/checkout"

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> EndpointPaths:
        """Build from ``[load] paths``; unknown keys or non-paths are a :class:`ConfigError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"[load] paths: unknown key(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        for key, value in data.items():
            if not isinstance(value, str) or not value.startswith("/"):
                raise ConfigError(
                    f"[load.paths] {key} = {value!r}: expected a path starting with '/'"
                )
            if key in ("product", "cart_item") and "{id}" not in value:
                raise ConfigError(f"[load.paths] {key} = {value!r}: must contain '{{id}}'")
        return cls(**{k: str(v) for k, v in data.items()})

    def to_dict(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def group_name(self, key: str) -> str:
        """Stats name of a parameterised path: ``/api/products/{id}`` → ``/api/products/[id]``."""
        return str(getattr(self, key)).replace("{id}", "[id]")


def account_number(seq: int, worker_index: int, workers: int, count: int) -> int | None:
    """Seeded account (1..count) of the ``seq``-th user of a process; ``None``: none left.

    >>> [account_number(s, 1, 2, 1000) for s in range(3)]
    [2, 4, 6]
    >>> account_number(500, 0, 1, 500) is None
    True
    """
    n = seq * max(workers, 1) + worker_index
    return n + 1 if n < count else None


def is_returning(seq: int, share: float) -> bool:
    """Is the ``seq``-th user (or account) among a ``share``, spread evenly (deterministic)?

    >>> "".join("r" if is_returning(s, 0.9) else "N" for s in range(20))
    'rrrrrrrrrNrrrrrrrrrN'
    """
    new = 1.0 - share
    return int((seq + 1) * new + 1e-9) == int(seq * new + 1e-9)


def remembered_accounts(
    users: int, workers: int, count: int, returning: float, remembered: float
) -> list[int]:
    """Account numbers whose returning customer arrives still logged in (a superset, by at most
    one account per worker, of what the users of a run of ``users`` use).

    >>> remembered_accounts(20, 1, 1000, 0.9, 0.9)[:9]
    [1, 2, 3, 4, 5, 6, 7, 8, 9]
    >>> len(remembered_accounts(500, 1, 1000, 0.9, 0.9)), len(remembered_accounts(5, 1, 3, 1, 1))
    (406, 3)
    """
    top = min(count, math.ceil(users * returning) + max(workers, 1))
    return [n for n in range(1, top + 1) if is_returning(n - 1, remembered)]
