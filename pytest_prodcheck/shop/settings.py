"""How the shop is configured: environment variables only (the stack sets them).

    >>> s = ShopSettings.from_env({"PRODCHECK_SHOP_DSN": "postgresql://app:pw@h:6432/ecommerce",
    ...                            "PRODCHECK_SHOP_AI_DSN": "postgresql://app:pw@h:6432/ai"})
    >>> s.pool_max, s.ai_pool_max, s.session_ttl_s
    (20, 10, 86400)

``PRODCHECK_SHOP_DSN`` (main db ``ecommerce``) and ``PRODCHECK_SHOP_AI_DSN`` (db ``ai``) are
required; ``PRODCHECK_SHOP_POOL_MAX``, ``PRODCHECK_SHOP_AI_POOL_MAX`` and
``PRODCHECK_SHOP_POOL_TIMEOUT`` (seconds a request waits for a connection) and
``PRODCHECK_SHOP_CACHE_TTL`` (seconds the catalogue and sessions stay cached, 0: off; see
:mod:`pytest_prodcheck.shop.cache`) are optional.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pytest_prodcheck.core.errors import ConfigError

DSN_ENV = "PRODCHECK_SHOP_DSN"
AI_DSN_ENV = "PRODCHECK_SHOP_AI_DSN"


def _int(env: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key}={raw!r}: expected a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{key}={value}: expected a number from {low} to {high}")
    return value


@dataclass(frozen=True)
class ShopSettings:
    dsn: str
    ai_dsn: str
    pool_min: int = 2
    pool_max: int = 20
    ai_pool_min: int = 1
    ai_pool_max: int = 10
    pool_timeout_s: int = 10
    session_ttl_s: int = 86400
    cache_ttl_s: int = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ShopSettings:
        """Read the settings; a missing/invalid variable raises ``ConfigError`` naming it."""
        dsns = []
        for key in (DSN_ENV, AI_DSN_ENV):
            value = env.get(key, "").strip()
            if not value:
                raise ConfigError(
                    f"{key} is not set: export it as a postgresql:// URL of the "
                    f"{'main' if key == DSN_ENV else 'AI'} database (through PgBouncer)"
                )
            dsns.append(value)
        return cls(
            dsn=dsns[0],
            ai_dsn=dsns[1],
            pool_max=_int(env, "PRODCHECK_SHOP_POOL_MAX", 20, 1, 500),
            ai_pool_max=_int(env, "PRODCHECK_SHOP_AI_POOL_MAX", 10, 1, 500),
            pool_timeout_s=_int(env, "PRODCHECK_SHOP_POOL_TIMEOUT", 10, 1, 300),
            cache_ttl_s=_int(env, "PRODCHECK_SHOP_CACHE_TTL", 10, 0, 3600),
        )
